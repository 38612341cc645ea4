//! The JSON layer under every input mote reads.
//!
//! Two passes over one input buffer:
//!
//! 1. [`validate`]: a strict RFC 8259 scanner, iterative (no recursion), that checks syntax,
//!    UTF-8, string contents (no NUL, no raw control characters, valid escapes), string length
//!    and nesting depth. Its errors carry line, column and the JSON path. After it, no input can
//!    make the second pass recurse deeply or meet malformed text.
//! 2. serde-json-core deserializes into mote's bounded types through [`Json`] seeds that carry a
//!    [`ReadContext`]: the path being read (serde-json-core's errors carry no position), the arena where
//!    escaped strings are unescaped, and the pools that hold the list elements. Strings without
//!    escapes are borrowed from the input; escaped ones are unescaped into the arena, which is
//!    never larger than the input because unescaping only shrinks text.

use crate::prelude::*;

use core::cell::{Cell, RefCell};
use core::fmt;

use core::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::limits;

/// A string borrowed from the input (or from the unescape arena).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Str<'a>(pub &'a str);

impl<'a> Str<'a> {
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl core::ops::Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl fmt::Debug for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl fmt::Display for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As a str: width and alignment apply (the status tables).
        fmt::Display::fmt(self.0, f)
    }
}

// ---------------------------------------------------------------------------------------------
// Paths

/// One step of a JSON path.
#[derive(Clone, Copy, Debug)]
pub enum Seg<'a> {
    Field(&'static str),
    Key(&'a str),
    Index(usize),
}

/// The JSON path to the value being read, bounded by the depth limit.
#[derive(Clone, Default, Debug)]
pub struct Path<'a> {
    segs: heapless::Vec<Seg<'a>, { limits::MAX_DEPTH + 1 }>,
    /// Steps dropped because the path was deeper than the capacity.
    overflow: usize,
}

impl<'a> Path<'a> {
    pub fn push(&mut self, s: Seg<'a>) {
        if self.segs.push(s).is_err() {
            self.overflow += 1;
        }
    }
    pub fn pop(&mut self) {
        if self.overflow > 0 {
            self.overflow -= 1;
        } else {
            self.segs.pop();
        }
    }
    pub fn set_last(&mut self, s: Seg<'a>) {
        if self.overflow == 0 {
            if let Some(last) = self.segs.last_mut() {
                *last = s;
            }
        }
    }
    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// Write the path as `linux.seccomp.syscalls[3].names[7]`; with `pattern`, indices are
    /// written `[]` (the form used by the limits table).
    pub fn write(&self, out: &mut dyn fmt::Write, pattern: bool) -> fmt::Result {
        let mut first = true;
        for s in &self.segs {
            match s {
                Seg::Field(n) => {
                    if !first {
                        out.write_char('.')?;
                    }
                    out.write_str(n)?;
                }
                Seg::Key(k) => {
                    if !first {
                        out.write_char('.')?;
                    }
                    // Keys may hold dots or anything else: quote what is not a plain word.
                    if k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') && !k.is_empty() {
                        out.write_str(k)?;
                    } else {
                        write!(out, "{:?}", Bounded(k, 64))?;
                    }
                }
                Seg::Index(i) => {
                    if pattern {
                        out.write_str("[]")?;
                    } else {
                        write!(out, "[{i}]")?;
                    }
                }
            }
            first = false;
        }
        if self.overflow > 0 {
            out.write_str("...")?;
        }
        if first {
            out.write_str("(top level)")?;
        }
        Ok(())
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, false)
    }
}

/// A string shown at most `n` bytes long (cut at a char boundary), for error messages.
pub struct Bounded<'s>(pub &'s str, pub usize);

impl fmt::Debug for Bounded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut end = self.0.len().min(self.1);
        while !self.0.is_char_boundary(end) {
            end -= 1;
        }
        if end < self.0.len() {
            write!(f, "{:?}...", &self.0[..end])
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

impl fmt::Display for Bounded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut end = self.0.len().min(self.1);
        while !self.0.is_char_boundary(end) {
            end -= 1;
        }
        f.write_str(&self.0[..end])?;
        if end < self.0.len() {
            f.write_str("...")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// What went wrong, without the where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The input is larger than MAX_INPUT_BYTES.
    TooLarge(usize),
    /// The input is empty or only whitespace.
    Empty,
    /// Not valid UTF-8.
    BadUtf8,
    /// A syntax error; the text says what was expected.
    Syntax(&'static str),
    /// Nesting deeper than MAX_DEPTH.
    TooDeep,
    /// A string longer than MAX_STRING_BYTES.
    StringTooLong,
    /// A NUL character (`\u0000`) in a string: it cannot reach a system call.
    Nul,
    /// A raw control character inside a string.
    ControlChar,
    /// A bad escape sequence or a lone UTF-16 surrogate.
    BadEscape,
    /// The value has the wrong type; the text names the expected one.
    Expected(&'static str),
    /// A list is longer than its limit.
    TooMany { limit: usize, name: &'static str },
    /// A value that parsed but is not allowed; the text says why.
    Invalid(&'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::TooLarge(n) => write!(
                f,
                "file is {n} bytes, more than the limit of {} (MAX_INPUT_BYTES in src/spec/limits.rs)",
                limits::MAX_INPUT_BYTES
            ),
            Problem::Empty => f.write_str("file is empty: expected a JSON object"),
            Problem::BadUtf8 => f.write_str("not valid UTF-8: JSON text must be UTF-8"),
            Problem::Syntax(s) => write!(f, "invalid JSON: {s}"),
            Problem::TooDeep => write!(
                f,
                "nested deeper than {} levels (MAX_DEPTH in src/spec/limits.rs)",
                limits::MAX_DEPTH
            ),
            Problem::StringTooLong => write!(
                f,
                "string longer than {} bytes (MAX_STRING_BYTES in src/spec/limits.rs)",
                limits::MAX_STRING_BYTES
            ),
            Problem::Nul => {
                f.write_str("string contains a NUL character (\\u0000), which no path, argument or name may hold")
            }
            Problem::ControlChar => {
                f.write_str("raw control character inside a string: escape it (for example \\n)")
            }
            Problem::BadEscape => f.write_str("invalid escape sequence or lone UTF-16 surrogate"),
            Problem::Expected(what) => write!(f, "expected {what}"),
            Problem::TooMany { limit, name } => write!(
                f,
                "more than {limit} entries ({name} in src/spec/limits.rs): shorten the list or raise the limit and rebuild"
            ),
            Problem::Invalid(why) => f.write_str(why),
        }
    }
}

/// A JSON error: the problem, the JSON path and, for syntax errors, the line and column.
#[derive(Clone, Debug)]
pub struct JsonError {
    pub problem: Problem,
    /// The JSON path, rendered (bounded).
    pub path: heapless::String<256>,
    /// 1-based line and column of the error, when known (syntax errors).
    pub line_col: Option<(usize, usize)>,
}

impl JsonError {
    fn new(problem: Problem, path: &Path<'_>, line_col: Option<(usize, usize)>) -> Self {
        let mut s = heapless::String::new();
        let _ = path.write(&mut TruncWriter(&mut s), false);
        JsonError {
            problem,
            path: s,
            line_col,
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        if let Some((l, c)) = self.line_col {
            write!(f, " (line {l}, column {c})")?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// Writes into a bounded string, silently dropping what does not fit.
pub struct TruncWriter<'s, const N: usize>(pub &'s mut heapless::String<N>);

impl<const N: usize> fmt::Write for TruncWriter<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.0.push(c).is_err() {
                break;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 1: the validator

fn line_col(input: &[u8], at: usize) -> (usize, usize) {
    let at = at.min(input.len());
    let before = &input[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = at - before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
    (line, col)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    Obj,
    Arr,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// A value starts here.
    Value,
    /// Just after `{`: a key or `}`.
    KeyOrEnd,
    /// Just after `[`: a value or `]`.
    ValueOrEnd,
    /// After a complete value: `,` or the closing bracket of the enclosing container.
    AfterValue,
}

/// Pass 1: check that `input` is one strict JSON object within mote's limits.
pub fn validate(input: &[u8]) -> Result<(), JsonError> {
    if input.len() > limits::MAX_INPUT_BYTES {
        let p = Problem::TooLarge(input.len());
        return Err(JsonError::new(p, &Path::default(), None));
    }
    let text = match core::str::from_utf8(input) {
        Ok(t) => t,
        Err(e) => {
            let at = Some(line_col(input, e.valid_up_to()));
            return Err(JsonError::new(Problem::BadUtf8, &Path::default(), at));
        }
    };
    let b = text.as_bytes();
    let mut stack: heapless::Vec<Frame, { limits::MAX_DEPTH }> = heapless::Vec::new();
    let mut path = Path::default();
    let fail = |p: Problem, at: usize, path: &Path<'_>| -> Result<(), JsonError> {
        Err(JsonError::new(p, path, Some(line_col(b, at))))
    };
    let mut i = skip_ws(b, 0);
    if i == b.len() {
        return Err(JsonError::new(Problem::Empty, &path, None));
    }
    if b[i] != b'{' {
        return fail(Problem::Syntax("the document must be a JSON object ('{')"), i, &path);
    }
    let mut state = State::Value;
    loop {
        i = skip_ws(b, i);
        let c = b.get(i).copied();
        match state {
            State::Value => match c {
                Some(open @ (b'{' | b'[')) => {
                    let (f, st) = if open == b'{' {
                        (Frame::Obj, State::KeyOrEnd)
                    } else {
                        (Frame::Arr, State::ValueOrEnd)
                    };
                    if stack.push(f).is_err() {
                        return fail(Problem::TooDeep, i, &path);
                    }
                    if f == Frame::Arr {
                        path.push(Seg::Index(0));
                    }
                    i += 1;
                    state = st;
                }
                Some(b'"') => {
                    i = scan_string(b, i, &path)?;
                    state = State::AfterValue;
                }
                Some(l @ (b't' | b'f' | b'n')) => {
                    let lit: &[u8] = match l {
                        b't' => b"true",
                        b'f' => b"false",
                        _ => b"null",
                    };
                    if b.get(i..i + lit.len()) != Some(lit) {
                        return fail(Problem::Syntax("expected true, false or null"), i, &path);
                    }
                    i += lit.len();
                    state = State::AfterValue;
                }
                Some(b'-' | b'0'..=b'9') => match scan_number(b, i) {
                    Some(end) => {
                        i = end;
                        state = State::AfterValue;
                    }
                    None => return fail(Problem::Syntax("malformed number"), i, &path),
                },
                None => return fail(Problem::Syntax("unexpected end of input, expected a value"), i, &path),
                Some(_) => return fail(Problem::Syntax("expected a value"), i, &path),
            },
            State::KeyOrEnd => {
                if c == Some(b'}') {
                    i += 1;
                    stack.pop();
                    state = State::AfterValue;
                } else {
                    i = scan_key(text, i, &mut path, "expected a key in double quotes or '}'")?;
                    state = State::Value;
                }
            }
            State::ValueOrEnd => {
                if c == Some(b']') {
                    i += 1;
                    stack.pop();
                    path.pop();
                    state = State::AfterValue;
                } else {
                    state = State::Value;
                }
            }
            State::AfterValue => match stack.last() {
                None => {
                    if i != b.len() {
                        return fail(Problem::Syntax("trailing characters after the JSON object"), i, &path);
                    }
                    return Ok(());
                }
                Some(Frame::Obj) => {
                    path.pop(); // the key whose value just ended
                    match c {
                        Some(b',') => {
                            i = skip_ws(b, i + 1);
                            i = scan_key(text, i, &mut path, "expected a key in double quotes after ','")?;
                            state = State::Value;
                        }
                        Some(b'}') => {
                            i += 1;
                            stack.pop();
                        }
                        None => {
                            return fail(
                                Problem::Syntax("unexpected end of input, expected ',' or '}'"),
                                i,
                                &path,
                            )
                        }
                        _ => return fail(Problem::Syntax("expected ',' or '}'"), i, &path),
                    }
                }
                Some(Frame::Arr) => match c {
                    Some(b',') => {
                        i += 1;
                        if let Some(Seg::Index(n)) = path.segs.last().copied() {
                            path.set_last(Seg::Index(n + 1));
                        }
                        state = State::Value;
                    }
                    Some(b']') => {
                        i += 1;
                        stack.pop();
                        path.pop();
                    }
                    None => {
                        return fail(
                            Problem::Syntax("unexpected end of input, expected ',' or ']'"),
                            i,
                            &path,
                        )
                    }
                    _ => return fail(Problem::Syntax("expected ',' or ']'"), i, &path),
                },
            },
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// Scan `"key" :` at `i` and push the key on the path; return the index after the colon.
fn scan_key<'t>(text: &'t str, i: usize, path: &mut Path<'t>, expected: &'static str) -> Result<usize, JsonError> {
    let b = text.as_bytes();
    if i >= b.len() {
        return Err(JsonError::new(
            Problem::Syntax("unexpected end of input, expected a key"),
            path,
            Some(line_col(b, i)),
        ));
    }
    if b.get(i) != Some(&b'"') {
        return Err(JsonError::new(Problem::Syntax(expected), path, Some(line_col(b, i))));
    }
    let end = scan_string(b, i, path)?;
    path.push(Seg::Key(&text[i + 1..end - 1]));
    let j = skip_ws(b, end);
    if b.get(j) != Some(&b':') {
        return Err(JsonError::new(
            Problem::Syntax("expected ':' after the key"),
            path,
            Some(line_col(b, j)),
        ));
    }
    Ok(j + 1)
}

/// Scan the string starting at the `"` at `start`; return the index after its closing quote.
fn scan_string(b: &[u8], start: usize, path: &Path<'_>) -> Result<usize, JsonError> {
    let err = |p: Problem, at: usize| Err(JsonError::new(p, path, Some(line_col(b, at))));
    let mut i = start + 1;
    loop {
        if i >= b.len() {
            return err(Problem::Syntax("unterminated string"), start);
        }
        if i - start > limits::MAX_STRING_BYTES + 1 {
            return err(Problem::StringTooLong, start);
        }
        match b[i] {
            b'"' => return Ok(i + 1),
            b'\\' => {
                let Some(&e) = b.get(i + 1) else {
                    return err(Problem::Syntax("unterminated string"), start);
                };
                match e {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    b'u' => {
                        let Some(cp) = hex4(b, i + 2) else {
                            return err(Problem::BadEscape, i);
                        };
                        if cp == 0 {
                            return err(Problem::Nul, i);
                        }
                        if (0xD800..0xDC00).contains(&cp) {
                            // A high surrogate must be followed by a low one.
                            let lo = if b.get(i + 6) == Some(&b'\\') && b.get(i + 7) == Some(&b'u') {
                                hex4(b, i + 8)
                            } else {
                                None
                            };
                            match lo {
                                Some(lo) if (0xDC00..0xE000).contains(&lo) => i += 12,
                                _ => return err(Problem::BadEscape, i),
                            }
                        } else if (0xDC00..0xE000).contains(&cp) {
                            return err(Problem::BadEscape, i);
                        } else {
                            i += 6;
                        }
                    }
                    _ => return err(Problem::BadEscape, i),
                }
            }
            0 => return err(Problem::Nul, i),
            c if c < 0x20 => return err(Problem::ControlChar, i),
            _ => i += 1,
        }
    }
}

fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let h = b.get(at..at + 4)?;
    let mut v = 0u32;
    for &c in h {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

/// Scan a JSON number at `start`; return the index after it.
fn scan_number(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > s
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    // A number must end at a delimiter.
    match b.get(i) {
        None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') => Some(i),
        _ => None,
    }
}

/// Unescape the body of a JSON string (already validated by [`validate`]) into `out`.
/// Returns the number of bytes written, or None on a malformed escape.
pub fn unescape(s: &str, out: &mut [u8]) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut o = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            // Copy the run up to the next backslash.
            let end = b[i..].iter().position(|&c| c == b'\\').map_or(b.len(), |p| i + p);
            out.get_mut(o..o + (end - i))?.copy_from_slice(&b[i..end]);
            o += end - i;
            i = end;
            continue;
        }
        let c = match *b.get(i + 1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(b, i + 2)?;
                i += 4;
                let cp = if (0xD800..0xDC00).contains(&hi) {
                    if b.get(i + 2) != Some(&b'\\') || b.get(i + 3) != Some(&b'u') {
                        return None;
                    }
                    let lo = hex4(b, i + 4)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                if cp == 0 {
                    return None;
                }
                char::from_u32(cp)?
            }
            _ => return None,
        };
        i += 2;
        let mut tmp = [0u8; 4];
        let enc = c.encode_utf8(&mut tmp);
        out.get_mut(o..o + enc.len())?.copy_from_slice(enc.as_bytes());
        o += enc.len();
    }
    Some(o)
}

// ---------------------------------------------------------------------------------------------
// Pass 2: typed reading through seeds

/// The elements of every list of one document, one pool per element type. Each pool is a
/// `Vec` reserved once, at its capacity, when its first element arrives, and never grown:
/// the model tree holds only (start, len) ranges, so it stays small and moves cheaply, and
/// the bulk lives in a few heap blocks whose untouched pages cost nothing.
#[derive(Default)]
pub struct Pools<'a> {
    pub strs: Vec<Str<'a>>,
    pub kvs: Vec<(Str<'a>, Str<'a>)>,
    pub args: Vec<super::types::SeccompArg<'a>>,
    pub rules: Vec<super::types::SyscallRule<'a>>,
    pub mounts: Vec<super::types::Mount<'a>>,
    pub idmaps: Vec<super::types::IdMapping<'a>>,
    pub rlimits: Vec<super::types::Rlimit<'a>>,
    pub hooks: Vec<super::types::Hook<'a>>,
    pub namespaces: Vec<super::types::Namespace<'a>>,
    pub devices: Vec<super::types::Device<'a>>,
    pub device_rules: Vec<super::types::DeviceRule<'a>>,
    pub weight_devices: Vec<super::types::WeightDevice<'a>>,
    pub throttle_devices: Vec<super::types::ThrottleDevice<'a>>,
    pub hugepages: Vec<super::types::HugepageLimit<'a>>,
    pub net_prios: Vec<super::types::NetPriority<'a>>,
}

/// The reading context: path, arena, pools, and the first error's detail.
pub struct ReadContext<'a, 'p> {
    arena: RefCell<&'a mut [u8]>,
    pools: RefCell<&'p mut Pools<'a>>,
    path: RefCell<Path<'a>>,
    problem: Cell<Option<Problem>>,
    /// The path at the moment the first problem was recorded.
    err_path: RefCell<Option<Path<'a>>>,
}

impl<'a, 'p> ReadContext<'a, 'p> {
    pub fn new(arena: &'a mut [u8], pools: &'p mut Pools<'a>) -> Self {
        ReadContext {
            arena: RefCell::new(arena),
            pools: RefCell::new(pools),
            path: RefCell::new(Path::default()),
            problem: Cell::new(None),
            err_path: RefCell::new(None),
        }
    }

    /// Record `p` as the problem if none is recorded yet, and return a serde error.
    pub fn fail<E: serde::de::Error>(&self, p: Problem) -> E {
        if self.problem.get().is_none() {
            self.problem.set(Some(p));
            *self.err_path.borrow_mut() = Some(self.path.borrow().clone());
        }
        E::custom("")
    }

    /// Map a serde error from a primitive read to "expected WHAT" if nothing better is known.
    fn expect<T, E: serde::de::Error>(&self, r: Result<T, E>, what: &'static str) -> Result<T, E> {
        r.map_err(|e| {
            if self.problem.get().is_none() {
                let _: E = self.fail(Problem::Expected(what));
            }
            e
        })
    }

    fn push(&self, s: Seg<'a>) {
        self.path.borrow_mut().push(s);
    }
    fn pop(&self) {
        self.path.borrow_mut().pop();
    }
    fn set_last(&self, s: Seg<'a>) {
        self.path.borrow_mut().set_last(s);
    }

    /// Read the value of field `name` of an object. Not inlined: one copy per field type,
    /// not one per field (this keeps the readers of big objects small).
    #[inline(never)]
    pub fn field<T: Json<'a>, M: MapAccess<'a>>(&self, name: &'static str, m: &mut M) -> Result<T, M::Error> {
        self.push(Seg::Field(name));
        let v = m.next_value_seed(Seed::<T>::new(self))?;
        self.pop();
        Ok(v)
    }

    /// An error between the fields of an object. The validator has checked the syntax, so
    /// it means serde-json-core stopped inside the previous value: a number with a fraction
    /// or exponent where an integer belongs.
    pub fn after_field<E: serde::de::Error>(&self, last: Option<&'static str>, e: E) -> E {
        if self.problem.get().is_none() {
            if let Some(f) = last {
                self.push(Seg::Field(f));
                let _: E = self.fail(Problem::Expected("an integer (no fraction or exponent)"));
                self.pop();
            }
        }
        e
    }

    /// Copy `s` (unescaping it) into the arena, returning the arena copy.
    fn unescape_into_arena(&self, s: &str) -> Option<&'a str> {
        let mut arena = self.arena.borrow_mut();
        let buf: &'a mut [u8] = core::mem::take(&mut *arena);
        let n = match unescape(s, buf) {
            Some(n) => n,
            None => {
                *arena = buf;
                return None;
            }
        };
        let (used, rest) = buf.split_at_mut(n);
        *arena = rest;
        core::str::from_utf8(used).ok()
    }

    /// The error to report once reading has failed.
    pub fn error(&self) -> JsonError {
        let problem = self.problem.get().unwrap_or(Problem::Expected("a valid value"));
        let ep = self.err_path.borrow();
        let path = ep.as_ref().cloned().unwrap_or_else(|| self.path.borrow().clone());
        JsonError::new(problem, &path, None)
    }

    /// The list limit that applies at the current path, by its pattern.
    fn limit_here(&self, cap: usize) -> Problem {
        let mut pat: heapless::String<256> = heapless::String::new();
        let p = self.path.borrow();
        // The current path ends with the index being pushed: drop it for the pattern.
        let mut q = p.clone();
        q.pop();
        let _ = q.write(&mut TruncWriter(&mut pat), true);
        let name = limits::for_path(&pat).map_or("a list limit", |(n, _)| n);
        Problem::TooMany { limit: cap, name }
    }
}

/// A type mote can read from JSON, with the context.
pub trait Json<'a>: Sized {
    fn read<D: Deserializer<'a>>(cx: &ReadContext<'a, '_>, d: D) -> Result<Self, D::Error>;
}

/// A field whose value mote does not read: only that it is there (to refuse it by name).
#[derive(Clone, Copy, Debug, Default)]
pub struct Present;

impl<'a> Json<'a> for Present {
    fn read<D: Deserializer<'a>>(_cx: &ReadContext<'a, '_>, d: D) -> Result<Self, D::Error> {
        serde::de::Deserialize::deserialize(d).map(|_: IgnoredAny| Present)
    }
}

/// The serde seed that reads a `T` with a context.
pub struct Seed<'c, 'a, 'p, T>(&'c ReadContext<'a, 'p>, PhantomData<T>);

impl<'c, 'a, 'p, T> Seed<'c, 'a, 'p, T> {
    pub fn new(cx: &'c ReadContext<'a, 'p>) -> Self {
        Seed(cx, PhantomData)
    }
}

impl<'a, T: Json<'a>> DeserializeSeed<'a> for Seed<'_, 'a, '_, T> {
    type Value = T;
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<T, D::Error> {
        T::read(self.0, d)
    }
}

/// Read a whole document into `T`.
pub fn read_document<'a, T: Json<'a>>(input: &'a [u8], cx: &ReadContext<'a, '_>) -> Result<T, JsonError> {
    validate(input)?;
    let mut de = serde_json_core::de::Deserializer::new(input, None);
    let r = T::read(cx, &mut de);
    match r {
        Ok(v) => Ok(v),
        Err(_) => Err(cx.error()),
    }
}

macro_rules! prim {
    ($t:ty, $what:literal) => {
        impl<'a> Json<'a> for $t {
            fn read<D: Deserializer<'a>>(cx: &ReadContext<'a, '_>, d: D) -> Result<Self, D::Error> {
                cx.expect(<$t as serde::Deserialize>::deserialize(d), $what)
            }
        }
    };
}
prim!(bool, "true or false");
prim!(u8, "an integer from 0 to 255");
prim!(u16, "an integer from 0 to 65535");
prim!(u32, "an integer from 0 to 4294967295");
prim!(u64, "a non-negative integer below 2^64");
prim!(i32, "an integer from -2147483648 to 2147483647");
prim!(i64, "an integer between -2^63 and 2^63-1");

impl<'a> Json<'a> for Str<'a> {
    fn read<D: Deserializer<'a>>(cx: &ReadContext<'a, '_>, d: D) -> Result<Self, D::Error> {
        struct V<'c, 'a, 'p>(&'c ReadContext<'a, 'p>);
        impl<'a> Visitor<'a> for V<'_, 'a, '_> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, s: &'a str) -> Result<Str<'a>, E> {
                if !s.as_bytes().contains(&b'\\') {
                    return Ok(Str(s));
                }
                match self.0.unescape_into_arena(s) {
                    Some(u) => Ok(Str(u)),
                    None => Err(self.0.fail(Problem::BadEscape)),
                }
            }
        }
        cx.expect(d.deserialize_str(V(cx)), "a string")
    }
}

impl<'a, T: Json<'a>> Json<'a> for Option<T> {
    fn read<D: Deserializer<'a>>(cx: &ReadContext<'a, '_>, d: D) -> Result<Self, D::Error> {
        struct V<'c, 'a, 'p, T>(&'c ReadContext<'a, 'p>, PhantomData<T>);
        impl<'a, T: Json<'a>> Visitor<'a> for V<'_, 'a, '_, T> {
            type Value = Option<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or null")
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Option<T>, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'a>>(self, d: D) -> Result<Option<T>, D::Error> {
                T::read(self.0, d).map(Some)
            }
        }
        d.deserialize_option(V(cx, PhantomData))
    }
}

/// A list stored inline, at most N long.
pub type List<T, const N: usize> = heapless::Vec<T, N>;

impl<'a, T: Json<'a>, const N: usize> Json<'a> for heapless::Vec<T, N> {
    fn read<D: Deserializer<'a>>(cx: &ReadContext<'a, '_>, d: D) -> Result<Self, D::Error> {
        struct V<'c, 'a, 'p, T, const N: usize>(&'c ReadContext<'a, 'p>, PhantomData<T>);
        impl<'a, T: Json<'a>, const N: usize> Visitor<'a> for V<'_, 'a, '_, T, N> {
            type Value = heapless::Vec<T, N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<S: SeqAccess<'a>>(self, mut s: S) -> Result<Self::Value, S::Error> {
                let cx = self.0;
                let mut out = heapless::Vec::new();
                cx.push(Seg::Index(0));
                let mut i = 0;
                while let Some(v) = s.next_element_seed(Seed::<T>::new(cx))? {
                    if out.push(v).is_err() {
                        return Err(cx.fail(cx.limit_here(N)));
                    }
                    i += 1;
                    cx.set_last(Seg::Index(i));
                }
                cx.pop();
                Ok(out)
            }
        }
        cx.expect(d.deserialize_seq(V::<T, N>(cx, PhantomData)), "an array")
    }
}

/// A list whose elements live in one of the document's [`Pools`].
#[derive(Debug, PartialEq, Eq)]
pub struct PoolList<T> {
    pub start: u16,
    pub len: u16,
    _t: PhantomData<T>,
}

impl<T> Clone for PoolList<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for PoolList<T> {}
impl<T> Default for PoolList<T> {
    fn default() -> Self {
        PoolList {
            start: 0,
            len: 0,
            _t: PhantomData,
        }
    }
}

impl<T> PoolList<T> {
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn len(&self) -> usize {
        self.len as usize
    }
    pub fn range(&self) -> core::ops::Range<usize> {
        self.start as usize..self.start as usize + self.len as usize
    }
}

/// Element types that have a pool.
pub trait Pooled<'a>: Json<'a> + Clone {
    /// The pool's capacity (a limit of `limits`), and its name for errors.
    const CAP: usize;
    const NAME: &'static str;
    fn pool<'p>(p: &'p Pools<'a>) -> &'p Vec<Self>;
    fn pool_mut<'p>(p: &'p mut Pools<'a>) -> &'p mut Vec<Self>;
}

macro_rules! pooled {
    ($($t:ty => $field:ident, $cap:ident;)*) => {$(
        impl<'a> Pooled<'a> for $t {
            const CAP: usize = limits::$cap;
            const NAME: &'static str = stringify!($cap);
            fn pool<'p>(p: &'p Pools<'a>) -> &'p Vec<Self> {
                &p.$field
            }
            fn pool_mut<'p>(p: &'p mut Pools<'a>) -> &'p mut Vec<Self> {
                &mut p.$field
            }
        }
    )*};
}

pooled! {
    Str<'a> => strs, MAX_STRINGS;
    super::types::SeccompArg<'a> => args, MAX_SECCOMP_ARGS;
    super::types::SyscallRule<'a> => rules, MAX_SECCOMP_RULES;
    super::types::Mount<'a> => mounts, MAX_MOUNTS;
    super::types::IdMapping<'a> => idmaps, MAX_ID_MAPPINGS;
    super::types::Rlimit<'a> => rlimits, MAX_RLIMITS;
    super::types::Hook<'a> => hooks, MAX_HOOKS;
    super::types::Namespace<'a> => namespaces, MAX_NAMESPACES;
    super::types::Device<'a> => devices, MAX_DEVICES;
    super::types::DeviceRule<'a> => device_rules, MAX_DEVICE_RULES;
    super::types::WeightDevice<'a> => weight_devices, MAX_BLKIO_DEVICES;
    super::types::ThrottleDevice<'a> => throttle_devices, MAX_BLKIO_DEVICES;
    super::types::HugepageLimit<'a> => hugepages, MAX_HUGEPAGE_LIMITS;
    super::types::NetPriority<'a> => net_prios, MAX_NET_PRIORITIES;
}

/// Push into a pool, reserving its whole capacity on first use; Err when full.
fn pool_push<'a, T: Pooled<'a>>(p: &mut Pools<'a>, v: T) -> Result<(), ()> {
    let pool = T::pool_mut(p);
    if pool.len() >= T::CAP {
        return Err(());
    }
    if pool.capacity() == 0 {
        pool.reserve_exact(T::CAP);
    }
    pool.push(v);
    Ok(())
}

impl<'a, T: Pooled<'a>> Json<'a> for PoolList<T> {
    fn read<D: Deserializer<'a>>(cx: &ReadContext<'a, '_>, d: D) -> Result<Self, D::Error> {
        struct V<'c, 'a, 'p, T>(&'c ReadContext<'a, 'p>, PhantomData<T>);
        impl<'a, T: Pooled<'a>> Visitor<'a> for V<'_, 'a, '_, T> {
            type Value = PoolList<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<S: SeqAccess<'a>>(self, mut s: S) -> Result<Self::Value, S::Error> {
                let cx = self.0;
                let start = T::pool(&cx.pools.borrow()).len();
                cx.push(Seg::Index(0));
                let mut i = 0;
                while let Some(v) = s.next_element_seed(Seed::<T>::new(cx))? {
                    if pool_push(&mut cx.pools.borrow_mut(), v).is_err() {
                        return Err(cx.fail(Problem::TooMany {
                            limit: T::CAP,
                            name: T::NAME,
                        }));
                    }
                    i += 1;
                    cx.set_last(Seg::Index(i));
                }
                cx.pop();
                // Elements of one list are contiguous: nested lists of the same pool never
                // interleave (no pooled element type contains a list of its own type).
                Ok(PoolList {
                    start: start as u16,
                    len: i as u16,
                    _t: PhantomData,
                })
            }
        }
        cx.expect(d.deserialize_seq(V::<T>(cx, PhantomData)), "an array")
    }
}

/// A string-to-string map whose entries live in the pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Map {
    pub start: u16,
    pub len: u16,
}

impl Map {
    pub fn range(&self) -> core::ops::Range<usize> {
        self.start as usize..self.start as usize + self.len as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<'a> Json<'a> for Map {
    fn read<D: Deserializer<'a>>(cx: &ReadContext<'a, '_>, d: D) -> Result<Self, D::Error> {
        struct V<'c, 'a, 'p>(&'c ReadContext<'a, 'p>);
        impl<'a> Visitor<'a> for V<'_, 'a, '_> {
            type Value = Map;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<M: MapAccess<'a>>(self, mut m: M) -> Result<Map, M::Error> {
                let cx = self.0;
                let start = cx.pools.borrow().kvs.len();
                while let Some(k) = m.next_key_seed(Seed::<Str<'a>>::new(cx))? {
                    cx.push(Seg::Key(k.0));
                    let v = m.next_value_seed(Seed::<Str<'a>>::new(cx))?;
                    let mut pools = cx.pools.borrow_mut();
                    if pools.kvs.len() >= limits::MAX_MAP_ENTRIES {
                        return Err(cx.fail(Problem::TooMany {
                            limit: limits::MAX_MAP_ENTRIES,
                            name: "MAX_MAP_ENTRIES",
                        }));
                    }
                    if pools.kvs.capacity() == 0 {
                        pools.kvs.reserve_exact(limits::MAX_MAP_ENTRIES);
                    }
                    pools.kvs.push((k, v));
                    drop(pools);
                    cx.pop();
                }
                let end = cx.pools.borrow().kvs.len();
                Ok(Map {
                    start: start as u16,
                    len: (end - start) as u16,
                })
            }
        }
        cx.expect(d.deserialize_map(V(cx)), "an object")
    }
}

/// The keys of an object whose values do not matter (an image config's `Volumes`, whose
/// values are `{}`), at most N.
#[derive(Clone, Debug, Default)]
pub struct Keys<'a, const N: usize>(pub heapless::Vec<Str<'a>, N>);

impl<'a, const N: usize> Json<'a> for Keys<'a, N> {
    fn read<D: Deserializer<'a>>(cx: &ReadContext<'a, '_>, d: D) -> Result<Self, D::Error> {
        struct V<'c, 'a, 'p, const N: usize>(&'c ReadContext<'a, 'p>);
        impl<'a, const N: usize> Visitor<'a> for V<'_, 'a, '_, N> {
            type Value = Keys<'a, N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'a>>(self, mut m: M) -> Result<Keys<'a, N>, M::Error> {
                let cx = self.0;
                let mut out = heapless::Vec::new();
                while let Some(k) = m.next_key_seed(Seed::<Str<'a>>::new(cx))? {
                    m.next_value::<IgnoredAny>()?;
                    if out.push(k).is_err() {
                        return Err(cx.fail(Problem::TooMany {
                            limit: N,
                            name: "MAX_VOLUMES",
                        }));
                    }
                }
                Ok(Keys(out))
            }
        }
        cx.expect(d.deserialize_map(V::<N>(cx)), "an object")
    }
}

#[cfg(test)]
impl<'a> ToValue<'a> for Present {
    /// Its value is not kept: it reads back as null.
    fn to_value(&self, _p: &Pools<'a>) -> serde_json::Value {
        serde_json::Value::Null
    }
}

#[cfg(test)]
impl<'a, const N: usize> ToValue<'a> for Keys<'a, N> {
    fn to_value(&self, _p: &Pools<'a>) -> serde_json::Value {
        serde_json::Value::Array(self.0.iter().map(|k| serde_json::Value::String(k.0.into())).collect())
    }
}

/// A map from names to objects, stored inline (linux.resources.rdma, linux.timeOffsets).
pub type NamedList<'a, T, const N: usize> = heapless::Vec<(Str<'a>, T), N>;

/// Read an object whose keys are names and whose values are `T`s.
pub fn read_named<'a, T: Json<'a>, const N: usize, D: Deserializer<'a>>(
    cx: &ReadContext<'a, '_>,
    d: D,
) -> Result<heapless::Vec<(Str<'a>, T), N>, D::Error> {
    struct V<'c, 'a, 'p, T, const N: usize>(&'c ReadContext<'a, 'p>, PhantomData<T>);
    impl<'a, T: Json<'a>, const N: usize> Visitor<'a> for V<'_, 'a, '_, T, N> {
        type Value = heapless::Vec<(Str<'a>, T), N>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<M: MapAccess<'a>>(self, mut m: M) -> Result<Self::Value, M::Error> {
            let cx = self.0;
            let mut out = heapless::Vec::new();
            while let Some(k) = m.next_key_seed(Seed::<Str<'a>>::new(cx))? {
                cx.push(Seg::Key(k.0));
                let v = m.next_value_seed(Seed::<T>::new(cx))?;
                if out.push((k, v)).is_err() {
                    return Err(cx.fail(Problem::TooMany {
                        limit: N,
                        name: "a list limit",
                    }));
                }
                cx.pop();
            }
            Ok(out)
        }
    }
    cx.expect(d.deserialize_map(V::<T, N>(cx, PhantomData)), "an object")
}

/// Skip a value of an unknown field.
pub fn skip<'a, M: MapAccess<'a>>(m: &mut M) -> Result<(), M::Error> {
    m.next_value::<IgnoredAny>().map(|_| ())
}

/// Define a struct read from a JSON object: unknown fields are skipped, absent fields keep
/// their default, each field's JSON name is given explicitly.
#[macro_export]
macro_rules! json_object {
    (
        $(#[$m:meta])*
        pub struct $name:ident<'a> {
            $( $(#[$fm:meta])* $json:literal => $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Default, Clone)]
        pub struct $name<'a> {
            $( $(#[$fm])* pub $field: $ty, )*
            #[doc(hidden)]
            pub _l: core::marker::PhantomData<&'a ()>,
        }
        impl<'a> $crate::spec::json::Json<'a> for $name<'a> {
            #[inline(never)]
            fn read<D: serde::de::Deserializer<'a>>(
                cx: &$crate::spec::json::ReadContext<'a, '_>,
                d: D,
            ) -> Result<Self, D::Error> {
                struct V<'c, 'a, 'p>(&'c $crate::spec::json::ReadContext<'a, 'p>);
                impl<'a> serde::de::Visitor<'a> for V<'_, 'a, '_> {
                    type Value = $name<'a>;
                    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<M: serde::de::MapAccess<'a>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                        let mut out = $name::default();
                        let mut last: Option<&'static str> = None;
                        loop {
                            let k = match m.next_key::<&'a str>() {
                                Ok(Some(k)) => k,
                                Ok(None) => break,
                                Err(e) => return Err(self.0.after_field(last, e)),
                            };
                            match k {
                                $( $json => { out.$field = self.0.field($json, &mut m)?; last = Some($json); } )*
                                _ => { $crate::spec::json::skip(&mut m)?; last = None; }
                            }
                        }
                        Ok(out)
                    }
                }
                $crate::spec::json::expect_object(cx, d.deserialize_struct("", &[], V(cx)))
            }
        }
        #[cfg(test)]
        impl<'a> $crate::spec::json::ToValue<'a> for $name<'a> {
            fn to_value(&self, p: &$crate::spec::json::Pools<'a>) -> serde_json::Value {
                let mut m = serde_json::Map::new();
                $( m.insert($json.to_string(), self.$field.to_value(p)); )*
                serde_json::Value::Object(m)
            }
        }
    };
}

/// The parsed model as a JSON value (tests: cross-checking against other parsers).
#[cfg(test)]
pub trait ToValue<'a> {
    fn to_value(&self, p: &Pools<'a>) -> serde_json::Value;
}

#[cfg(test)]
mod to_value_impls {
    use super::*;
    use serde_json::Value;
    macro_rules! num {
        ($($t:ty),*) => {$(
            impl<'a> ToValue<'a> for $t {
                fn to_value(&self, _: &Pools<'a>) -> Value { Value::from(*self) }
            }
        )*};
    }
    num!(bool, u8, u16, u32, u64, i32, i64);
    impl<'a> ToValue<'a> for Str<'a> {
        fn to_value(&self, _: &Pools<'a>) -> Value {
            Value::String(self.0.to_string())
        }
    }
    impl<'a, T: ToValue<'a>> ToValue<'a> for Option<T> {
        fn to_value(&self, p: &Pools<'a>) -> Value {
            self.as_ref().map_or(Value::Null, |v| v.to_value(p))
        }
    }
    impl<'a, T: ToValue<'a>, const N: usize> ToValue<'a> for heapless::Vec<T, N> {
        fn to_value(&self, p: &Pools<'a>) -> Value {
            Value::Array(self.iter().map(|v| v.to_value(p)).collect())
        }
    }
    impl<'a, T: ToValue<'a>, const N: usize> ToValue<'a> for heapless::Vec<(Str<'a>, T), N>
    where
        T: Clone,
    {
        fn to_value(&self, p: &Pools<'a>) -> Value {
            Value::Object(self.iter().map(|(k, v)| (k.0.to_string(), v.to_value(p))).collect())
        }
    }
    impl<'a, T: Pooled<'a> + ToValue<'a>> ToValue<'a> for PoolList<T> {
        fn to_value(&self, p: &Pools<'a>) -> Value {
            Value::Array(T::pool(p)[self.range()].iter().map(|v| v.to_value(p)).collect())
        }
    }
    impl<'a> ToValue<'a> for Map {
        fn to_value(&self, p: &Pools<'a>) -> Value {
            Value::Object(
                p.kvs[self.range()]
                    .iter()
                    .map(|(k, v)| (k.0.to_string(), Value::String(v.0.to_string())))
                    .collect(),
            )
        }
    }
}

/// Map a failed object read to "expected an object" if nothing more precise was recorded.
pub fn expect_object<T, E: serde::de::Error>(cx: &ReadContext<'_, '_>, r: Result<T, E>) -> Result<T, E> {
    cx.expect(r, "an object")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Result<(), String> {
        validate(s.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn validator_accepts_good_json() {
        for ok in [
            "{}",
            " { \"a\" : [ ] , \"b\": {} } ",
            "{\"a\":[1,-2.5e+3,true,false,null,\"x\\n\\u00e9\\ud83d\\ude00\"]}",
            "{\"a\":[[],[[]],{\"b\":[{}]}]}",
            "{\"a\":0}",
        ] {
            assert_eq!(v(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn validator_rejects_bad_json_with_path_and_position() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("[]", "must be a JSON object"),
            ("{", "end of input"),
            ("{\"a\":}", "a.*expected a value|expected a value"),
            ("{\"a\":1,}", "after ','"),
            ("{\"a\":[1,]}", "a\\[1\\]"),
            ("{\"a\":[1 2]}", "expected ',' or ']'"),
            ("{\"a\":01}", "malformed number"),
            ("{\"a\":tru}", "true, false or null"),
            ("{\"a\":\"x\\u0000\"}", "NUL"),
            ("{\"a\":\"x\ty\"}", "control character"),
            ("{\"a\":\"\\q\"}", "escape"),
            ("{\"a\":\"\\ud800\"}", "surrogate"),
            ("{} x", "trailing"),
            ("{\"a\":{\"b\":[0,{\"c\":nul}]}}", "a.b\\[1\\].c"),
        ];
        for (input, want) in cases {
            let e = v(input).expect_err(input);
            let re_ok = want.split('|').any(|w| {
                // A tiny pattern check: literal match after removing regex escapes.
                let lit = w.replace("\\[", "[").replace("\\]", "]").replace(".*", "");
                e.contains(&lit)
            });
            assert!(re_ok, "{input:?}: got {e:?}, want {want:?}");
        }
    }

    #[test]
    fn validator_limits_depth_without_recursion() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let e = v(&deep).unwrap_err();
        assert!(e.contains("nested deeper"), "{e}");
        let ok = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(limits::MAX_DEPTH - 1),
            "]".repeat(limits::MAX_DEPTH - 1)
        );
        assert_eq!(v(&ok), Ok(()));
    }

    #[test]
    fn validator_limits_strings_and_size() {
        let long = format!("{{\"a\":\"{}\"}}", "x".repeat(limits::MAX_STRING_BYTES + 1));
        assert!(v(&long).unwrap_err().contains("MAX_STRING_BYTES"));
        let big = vec![b' '; limits::MAX_INPUT_BYTES + 1];
        assert!(validate(&big).unwrap_err().to_string().contains("MAX_INPUT_BYTES"));
        let bad_utf8 = b"{\"a\":\"\xff\"}";
        assert!(validate(bad_utf8).unwrap_err().to_string().contains("UTF-8"));
    }

    #[test]
    fn unescape_handles_all_escapes() {
        let mut out = [0u8; 64];
        let n = unescape(r#"a\"b\\c\/d\n\t\u00e9\ud83d\ude00"#, &mut out).unwrap();
        assert_eq!(core::str::from_utf8(&out[..n]).unwrap(), "a\"b\\c/d\n\té😀");
        assert_eq!(unescape(r"\u0000", &mut out), None);
        assert_eq!(unescape(r"\ud800x", &mut out), None);
    }

    #[test]
    fn line_and_column() {
        let e = validate(b"{\n  \"a\": [1,\n   x]\n}").unwrap_err();
        assert_eq!(e.line_col, Some((3, 4)));
        assert_eq!(e.path.as_str(), "a[1]");
    }
}
