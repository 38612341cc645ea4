//! The text forms of durations, byte sizes and signals, as the command line and the workload
//! files write them. Each parser returns `None` on bad text; the caller names the flag or the
//! JSON path in its error.

/// A decimal number `123` or `1.25`, times `unit`, in integers (no floating point: the float
/// parser and its tables cost 15 KB of binary). The fraction is truncated to whole units.
/// None when the text is not such a number or the result exceeds `max`.
fn scaled_decimal(num: &str, unit: u128, max: u128) -> Option<u128> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) || frac.len() > 18 {
        return None;
    }
    let mut v: u128 = 0;
    for b in int.bytes() {
        v = v.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
        if v > max {
            return None;
        }
    }
    v = v.checked_mul(unit)?;
    let (mut f, mut scale) = (0u128, 1u128);
    for b in frac.bytes() {
        f = f * 10 + u128::from(b - b'0');
        scale *= 10;
    }
    v = v.checked_add(f * unit / scale)?;
    (v <= max).then_some(v)
}

/// What a duration looks like, for error messages.
pub const DURATION_HINT: &str = "use a number with a unit, as 5s, 250ms or 1m";
/// What a byte size looks like, for error messages.
pub const BYTES_HINT: &str = "use bytes or a number with k, m, g or t (-1: unlimited)";
/// What a signal looks like, for error messages.
pub const SIGNAL_HINT: &str = "give a name (TERM, SIGKILL) or a number from 1 to 64";

/// A Go-style duration: `5s`, `100ms`, `1m30s`, `1.5s`, or a whole number of seconds; more
/// than zero and at most 10^9 seconds.
pub fn parse_duration(s: &str) -> Option<core::time::Duration> {
    if let Ok(n) = s.parse::<u64>() {
        return (n <= 1_000_000_000).then(|| core::time::Duration::from_secs(n));
    }
    // At most 10^9 seconds, in nanoseconds.
    const MAX_NS: u128 = 1_000_000_000 * 1_000_000_000;
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let num = &rest[..n_end];
        rest = &rest[n_end..];
        let u_end = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit_ns: u128 = match &rest[..u_end] {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        total += scaled_decimal(num, unit_ns, MAX_NS)?;
        rest = &rest[u_end..];
    }
    if total == 0 || total > MAX_NS {
        return None;
    }
    Some(core::time::Duration::from_nanos(total as u64))
}

/// A byte size as runc's `update` reads it: `1024`, `512k`, `1.5g` (binary units), or -1.
pub fn parse_bytes(s: &str) -> Option<i64> {
    if s == "-1" {
        return Some(-1);
    }
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u128 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    Some(scaled_decimal(num, mul, i64::MAX as u128)? as i64)
}

/// Signal names and numbers (Linux, every architecture mote targets).
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// A signal given as a name (`KILL`, `SIGKILL`, `RTMIN+3`) or a number (`9`), 1 to 64.
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let name = s.strip_prefix("SIG").unwrap_or(s).to_ascii_uppercase();
    if let Some(&(_, n)) = SIGNALS.iter().find(|(k, _)| *k == name) {
        return Some(n);
    }
    let n = match name.as_str() {
        "RTMIN" => 34,
        "RTMAX" => 64,
        _ => 34 + name.strip_prefix("RTMIN+")?.parse::<i32>().ok()?,
    };
    (34..=64).contains(&n).then_some(n)
}

/// The name of a signal (`SIGTERM`), or its number for the real-time ones.
pub fn signal_name(n: i32) -> heapless::String<12> {
    let mut s = heapless::String::new();
    match SIGNALS.iter().find(|(_, v)| *v == n) {
        Some((k, _)) => {
            let _ = s.push_str("SIG");
            let _ = s.push_str(k);
        }
        None => {
            let _ = core::fmt::write(&mut s, format_args!("{n}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{parse_bytes, parse_duration, parse_signal, signal_name};
    use core::time::Duration;

    #[test]
    fn durations() {
        let d = |s| parse_duration(s);
        assert_eq!(d("5"), Some(Duration::from_secs(5)));
        assert_eq!(d("5s"), Some(Duration::from_secs(5)));
        assert_eq!(d("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(d("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(d("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(d(".5h"), Some(Duration::from_secs(1800)));
        assert_eq!(d("2h3m4s5ms6us7ns"), Some(Duration::new(7384, 5_006_007)));
        assert_eq!(d("10µs"), Some(Duration::from_micros(10)));
        for bad in [
            "",
            "s",
            "0s",
            "-1s",
            "1x",
            "1..2s",
            "1.s5",
            ".s",
            "1e3s",
            "1000000001s",
            "99999999999999999999999h",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn byte_sizes() {
        let b = |s| parse_bytes(s);
        assert_eq!(b("-1"), Some(-1));
        assert_eq!(b("1024"), Some(1024));
        assert_eq!(b("512k"), Some(512 << 10));
        assert_eq!(b("64M"), Some(64 << 20));
        assert_eq!(b("64mb"), Some(64 << 20));
        assert_eq!(b("1.5g"), Some(3 << 29));
        assert_eq!(b("2t"), Some(2 << 40));
        assert_eq!(b("8388607t"), Some(8388607 << 40));
        for bad in ["", "k", "-2", "1.2.3m", "12x", "8388608t", "99999999999999999999"] {
            assert_eq!(b(bad), None, "{bad}");
        }
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("KILL"), Some(9));
        assert_eq!(parse_signal("SIGterm"), Some(15));
        assert_eq!(parse_signal("RTMIN"), Some(34));
        assert_eq!(parse_signal("RTMIN+30"), Some(64));
        assert_eq!(parse_signal("IOT"), Some(6));
        for bad in ["", "0", "65", "SIG", "RTMIN+31", "RTMIN+-1", "FOO"] {
            assert_eq!(parse_signal(bad), None, "{bad}");
        }
        assert_eq!(signal_name(15).as_str(), "SIGTERM");
        assert_eq!(signal_name(40).as_str(), "40");
    }
}
