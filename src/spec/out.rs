//! Writing JSON: string escaping and timestamps. mote writes its few JSON documents
//! (state.json, log lines, `features`, `list`) with `write!` and these helpers.

use core::fmt::{self, Write as _};

/// A string written as a JSON string literal (with the quotes).
pub struct JsonStr<'s>(pub &'s str);

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        let mut start = 0;
        let b = self.0.as_bytes();
        for (i, &c) in b.iter().enumerate() {
            let rep: Option<&str> = match c {
                b'"' => Some("\\\""),
                b'\\' => Some("\\\\"),
                b'\n' => Some("\\n"),
                b'\r' => Some("\\r"),
                b'\t' => Some("\\t"),
                0..=0x1f | 0x7f => None,
                _ => continue,
            };
            f.write_str(&self.0[start..i])?;
            match rep {
                Some(r) => f.write_str(r)?,
                None => write!(f, "\\u{:04x}", c)?,
            }
            start = i + 1;
        }
        f.write_str(&self.0[start..])?;
        f.write_char('"')
    }
}

/// Seconds and nanoseconds since the epoch, written as RFC 3339 UTC
/// (`2026-11-27T21:49:16.123456789Z`).
pub struct Rfc3339 {
    pub secs: i64,
    pub nanos: u32,
}

impl Rfc3339 {
    pub fn now() -> Rfc3339 {
        let d = crate::sys::env::realtime();
        Rfc3339 {
            secs: d.as_secs() as i64,
            nanos: d.subsec_nanos(),
        }
    }
}

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400);
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
            sod / 3600,
            sod / 60 % 60,
            sod % 60,
            self.nanos
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(JsonStr("a\"b\\c\nd\u{1}é").to_string(), "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }

    #[test]
    fn dates() {
        assert_eq!(
            Rfc3339 { secs: 0, nanos: 0 }.to_string(),
            "1970-01-01T00:00:00.000000000Z"
        );
        assert_eq!(
            Rfc3339 {
                secs: 1_795_816_156,
                nanos: 5
            }
            .to_string(),
            "2026-11-27T21:49:16.000000005Z"
        );
        assert_eq!(
            Rfc3339 {
                secs: 951_782_400,
                nanos: 0
            }
            .to_string(),
            "2000-02-29T00:00:00.000000000Z"
        );
    }
}
