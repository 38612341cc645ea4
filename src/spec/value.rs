//! The supervisor's small documents, read without serde: workload files, supervisor.json, the
//! kept state and the control protocol's requests and replies.
//!
//! They are checked exactly as config.json is: [`json::validate`] first (syntax, UTF-8,
//! string contents, nesting depth, string length, the input's size; errors with line, column
//! and path). What is left is finding a field's text in valid JSON, which one small walker
//! does for every document: [`Obj`] is an object's text and the JSON path to it, and each of
//! its readers finds one member (the last, if a key is repeated, as serde's reading does) and
//! checks its type, naming the path when it is wrong. config.json keeps its serde model (it
//! has hundreds of fields); here, a generated reader per object type would cost more than the
//! reading itself (issue 12's size target for the supervisor). Nothing here recurses, and
//! only the strings a caller keeps are copied (unescaped).

use crate::prelude::*;

use super::json::{self, JsonError, Problem};

/// The end of the value that starts at `i` in valid JSON text (one past its last byte).
fn value_end(b: &[u8], i: usize) -> usize {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut j = i;
    while j < b.len() {
        let c = b[j];
        if in_string {
            if c == b'\\' {
                j += 1;
            } else if c == b'"' {
                in_string = false;
                if depth == 0 {
                    return j + 1;
                }
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    if depth <= 1 {
                        return if depth == 0 { j } else { j + 1 };
                    }
                    depth -= 1;
                }
                b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => return j,
                _ => {}
            }
        }
        j += 1;
    }
    b.len()
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The members of an object (`keys`) or the elements of an array, in order: each key's raw
/// text (escapes left as written) and the value's text.
struct Members<'a> {
    b: &'a [u8],
    i: usize,
    keys: bool,
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let b = self.b;
        let mut i = skip_ws(b, self.i);
        if b.get(i) == Some(&b',') {
            i = skip_ws(b, i + 1);
        }
        let mut key: &[u8] = &[];
        if self.keys {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let end = value_end(b, i);
            key = b.get(i + 1..end.saturating_sub(1))?;
            i = skip_ws(b, end);
            i = skip_ws(b, i + 1); // the ':'
        }
        if matches!(b.get(i), None | Some(b']' | b'}')) {
            return None;
        }
        let end = value_end(b, i);
        self.i = end;
        Some((key, b.get(i..end)?))
    }
}

/// A JSON value's text in a validated document, and its path (for errors).
#[derive(Clone, Copy)]
pub struct Obj<'a, 'p> {
    text: &'a [u8],
    path: &'p str,
}

/// An error at `path` (and `key` under it): `path.key: problem`, as [`JsonError`] writes it.
pub fn error_at(path: &str, key: &str, problem: Problem) -> String {
    let dot = if path.is_empty() || key.is_empty() { "" } else { "." };
    format!("{path}{dot}{key}: {problem}")
}

/// An error: the JSON path and the problem, written out (small, so that `?` stays cheap).
pub type R<T> = Result<T, String>;

/// Check `input` (see [`json::validate`]) and return its top-level object.
pub fn document(input: &[u8]) -> R<Obj<'_, 'static>> {
    json::validate(input).map_err(|e: JsonError| format!("{e}"))?;
    let i = skip_ws(input, 0);
    let end = value_end(input, i);
    Ok(Obj {
        text: input.get(i..end).unwrap_or(b"{}"),
        path: "",
    })
}

impl<'a, 'p> Obj<'a, 'p> {
    /// An object's value text as an Obj at `path` (checked to be an object).
    pub fn at(text: &'a [u8], path: &'p str) -> R<Self> {
        if text.first() != Some(&b'{') {
            return Err(error_at(path, "", Problem::Expected("an object")));
        }
        Ok(Obj { text, path })
    }

    /// An empty object at `path` (an absent one: every default applies).
    pub fn empty(path: &'p str) -> Self {
        Obj { text: b"{}", path }
    }

    /// The text of member `key` (its last occurrence), None when absent or null.
    fn get(&self, key: &str) -> Option<&'a [u8]> {
        let m = Members {
            b: self.text,
            i: 1,
            keys: true,
        };
        m.filter(|(k, _)| *k == key.as_bytes())
            .last()
            .map(|(_, v)| v)
            .filter(|v| *v != b"null")
    }

    fn expected(&self, key: &str, what: &'static str) -> String {
        error_at(self.path, key, Problem::Expected(what))
    }

    /// Is member `key` there (and not null)?
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A string member.
    pub fn str(&self, key: &str) -> R<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => string(v).map(Some).ok_or_else(|| self.expected(key, "a string")),
        }
    }

    /// A boolean member (absent: false).
    pub fn bool(&self, key: &str) -> R<bool> {
        match self.get(key) {
            None => Ok(false),
            Some(b"true") => Ok(true),
            Some(b"false") => Ok(false),
            Some(_) => Err(self.expected(key, "true or false")),
        }
    }

    /// An integer member from 0 to `max`; `what` says so in the error.
    pub fn uint(&self, key: &str, max: u64, what: &'static str) -> R<Option<u64>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        digits(v)
            .filter(|n| *n <= max)
            .map(Some)
            .ok_or_else(|| self.expected(key, what))
    }

    /// A u32 member.
    pub fn u32(&self, key: &str) -> R<Option<u32>> {
        Ok(self
            .uint(key, u32::MAX as u64, "an integer from 0 to 4294967295")?
            .map(|n| n as u32))
    }

    /// A u64 member.
    pub fn u64(&self, key: &str) -> R<Option<u64>> {
        self.uint(key, u64::MAX, "a non-negative integer below 2^64")
    }

    /// A signed integer member (i64).
    pub fn i64(&self, key: &str) -> R<Option<i64>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        let n = match v.strip_prefix(b"-") {
            Some(d) => digits(d).filter(|n| *n <= 1 << 63).map(|n| (n as i64).wrapping_neg()),
            None => digits(v).filter(|n| *n <= i64::MAX as u64).map(|n| n as i64),
        };
        n.map(Some)
            .ok_or_else(|| self.expected(key, "an integer between -2^63 and 2^63-1"))
    }

    /// An object member, at `path` (the member's full path, for errors below it).
    pub fn obj<'q>(&self, key: &str, path: &'q str) -> R<Option<Obj<'a, 'q>>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => Obj::at(v, path).map(Some),
        }
    }

    /// An array member's elements (at most `limit`, the constant `name` in limits.rs); absent:
    /// None.
    pub fn list(&self, key: &str, limit: usize, name: &'static str) -> R<Option<Vec<&'a [u8]>>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        if v.first() != Some(&b'[') {
            return Err(self.expected(key, "an array"));
        }
        let mut out = Vec::new();
        for (_, e) in (Members {
            b: v,
            i: 1,
            keys: false,
        }) {
            if out.len() == limit {
                let at = format!("{key}[{limit}]");
                return Err(error_at(self.path, &at, Problem::TooMany { limit, name }));
            }
            out.push(e);
        }
        Ok(Some(out))
    }

    /// An array of strings (absent: None).
    pub fn strs(&self, key: &str, limit: usize, name: &'static str) -> R<Option<Vec<String>>> {
        let Some(items) = self.list(key, limit, name)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, e) in items.iter().enumerate() {
            match string(e) {
                Some(s) => out.push(s),
                None => {
                    return Err(error_at(
                        self.path,
                        &format!("{key}[{i}]"),
                        Problem::Expected("a string"),
                    ))
                }
            }
        }
        Ok(Some(out))
    }
}

/// A number written with digits only (no sign, fraction or exponent) that fits a u64.
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in v {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(d as u64)?;
    }
    Some(n)
}

/// A string value's contents, unescaped; None when the value is not a string.
pub fn string(v: &[u8]) -> Option<String> {
    let body = v.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let body = core::str::from_utf8(body).ok()?;
    if !body.contains('\\') {
        return Some(body.to_string());
    }
    let mut out = vec![0u8; body.len()];
    let n = json::unescape(body, &mut out)?;
    out.truncate(n);
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_types_and_paths() {
        let input = br#" {"a": "x\ty\u00e9", "n": 42, "neg": -7, "b": true, "o": {"k": [1, "two", {"z": null}]},
            "list": ["p", "q"], "a": "last", "nil": null, "e": [], "big": 99999999999999999999} "#;
        let d = document(input).unwrap();
        assert_eq!(
            d.str("a").unwrap().as_deref(),
            Some("last"),
            "the last of a repeated key"
        );
        assert_eq!(d.u32("n").unwrap(), Some(42));
        assert_eq!(d.i64("neg").unwrap(), Some(-7));
        let ints = document(br#"{"min": -9223372036854775808, "max": 9223372036854775807, "over": 9223372036854775808, "frac": 1.5, "exp": 1e3}"#).unwrap();
        assert_eq!(
            (ints.i64("min").unwrap(), ints.i64("max").unwrap()),
            (Some(i64::MIN), Some(i64::MAX))
        );
        assert!(ints.i64("over").is_err() && ints.u64("frac").is_err() && ints.u32("exp").is_err());
        assert!(d.bool("b").unwrap());
        assert!(!d.bool("missing").unwrap());
        assert_eq!(d.str("nil").unwrap(), None, "null is absent");
        assert_eq!(d.strs("list", 2, "L").unwrap().unwrap(), ["p", "q"]);
        assert_eq!(d.strs("e", 2, "L").unwrap().unwrap().len(), 0);
        let o = d.obj("o", "o").unwrap().unwrap();
        let k = o.list("k", 8, "L").unwrap().unwrap();
        assert_eq!(k, [&b"1"[..], b"\"two\"", br#"{"z": null}"#]);
        assert_eq!(
            d.strs("list", 1, "MAX_X").unwrap_err(),
            "list[1]: more than 1 entries (MAX_X in src/spec/limits.rs): shorten the list or raise the limit and rebuild"
        );
        assert_eq!(d.u32("a").unwrap_err(), "a: expected an integer from 0 to 4294967295");
        assert_eq!(
            d.u64("big").unwrap_err(),
            "big: expected a non-negative integer below 2^64"
        );
        assert_eq!(
            d.u32("neg").unwrap_err(),
            "neg: expected an integer from 0 to 4294967295"
        );
        assert_eq!(o.bool("k").unwrap_err(), "o.k: expected true or false");
        assert_eq!(d.obj("n", "n").map(|_| ()).unwrap_err(), "n: expected an object");
        assert_eq!(o.strs("k", 8, "L").unwrap_err(), "o.k[0]: expected a string");
        let s = document(br#"{"s": "a\"b\\c"}"#).unwrap();
        assert_eq!(s.str("s").unwrap().as_deref(), Some("a\"b\\c"));
        assert!(document(br#"{"a": }"#).map(|_| ()).is_err(), "validated first");
        assert!(document(b"[1]").map(|_| ()).is_err(), "an object at the top");
    }
}
