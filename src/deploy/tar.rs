//! A streaming tar reader: ustar headers, GNU long names and base-256 numbers, and PAX
//! extended headers (path, linkpath, size, uid, gid). No crate reads tar without std; this one
//! needs only [`Read`] and holds one 512-byte block and the current entry's names.
//!
//! Each header's checksum is verified; a short or corrupt archive is an error, never a guess.

use crate::prelude::*;

use super::stream::Read;
use crate::error::{Error, Result};
use crate::spec::limits::{MAX_PAX_HEADER, MAX_TAR_PATH};

/// What a tar entry is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    File,
    /// A hard link to `link` (a path in the same archive).
    Hardlink,
    Symlink,
    Char,
    Block,
    Dir,
    Fifo,
}

/// One entry's header.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    pub path: String,
    pub link: String,
    pub kind: Option<Kind>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub major: u32,
    pub minor: u32,
}

/// The reader: call [`Tar::next`] for each header, then read its data with [`Tar::read`]
/// (what is not read is skipped by the next `next`). It reads through `dyn Read`: one copy of
/// the code, whatever the stream below (a file, a decompressor, a hash).
pub struct Tar<'r> {
    r: &'r mut dyn Read,
    /// Bytes consumed from `r` (where the current entry's data starts, after `next`).
    pos: u64,
    /// Data bytes of the current entry not yet read, and the padding after them.
    left: u64,
    pad: u64,
    done: bool,
    what: &'static str,
}

fn octal(field: &[u8]) -> Option<u64> {
    // GNU base-256: the high bit of the first byte set.
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v: u64 = (field[0] & 0x7f) as u64;
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(b as u64)?;
        }
        return Some(v);
    }
    let mut v: u64 = 0;
    let mut seen = false;
    for &b in field {
        match b {
            b'0'..=b'7' => {
                v = v.checked_mul(8)?.checked_add((b - b'0') as u64)?;
                seen = true;
            }
            b' ' if !seen => {}
            0 | b' ' => break,
            _ => return None,
        }
    }
    Some(v)
}

fn cstr(field: &[u8]) -> &[u8] {
    let n = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..n]
}

impl<'r> Tar<'r> {
    pub fn new(r: &'r mut dyn Read, what: &'static str) -> Tar<'r> {
        Tar {
            r,
            pos: 0,
            left: 0,
            pad: 0,
            done: false,
            what,
        }
    }

    /// Bytes read from the stream so far: after `next`, where the entry's data starts.
    pub fn position(&self) -> u64 {
        self.pos
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        let w = self.what;
        self.r.read_exact(buf, w)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn skip_n(&mut self, n: u64) -> Result<()> {
        let w = self.what;
        self.r.skip(n, w)?;
        self.pos += n;
        Ok(())
    }

    fn bad(&self, why: core::fmt::Arguments<'_>) -> Error {
        Error::input("tar").ctx(format_args!("{}: {why}", self.what))
    }

    /// Read the current entry's data.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let want = self.left.min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(self.bad(format_args!("truncated inside an entry's data")));
        }
        self.left -= n as u64;
        self.pos += n as u64;
        Ok(n)
    }

    /// The rest of a small entry (a PAX header, a long name), at most `max` bytes.
    fn small(&mut self, size: u64, max: usize, what: &str) -> Result<Vec<u8>> {
        if size > max as u64 {
            return Err(self.bad(format_args!("a {what} of {size} bytes (the limit is {max})")));
        }
        let mut v = vec![0u8; size as usize];
        self.fill(&mut v)?;
        self.skip_n((512 - size % 512) % 512)?;
        Ok(v)
    }

    /// The next entry, or None at the end of the archive.
    pub fn next(&mut self) -> Result<Option<Entry>> {
        if self.done {
            return Ok(None);
        }
        self.skip_n(self.left + self.pad)?;
        self.left = 0;
        self.pad = 0;
        let mut long_path: Option<String> = None;
        let mut long_link: Option<String> = None;
        let mut pax_size: Option<u64> = None;
        let mut pax_uid: Option<u32> = None;
        let mut pax_gid: Option<u32> = None;
        loop {
            let mut h = [0u8; 512];
            // The end: two zero blocks, or (as some writers do) a clean end of the stream.
            let n = self.r.read(&mut h)?;
            if n == 0 {
                self.done = true;
                return Ok(None);
            }
            self.pos += n as u64;
            if n < 512 {
                self.fill(&mut h[n..])?;
            }
            if h.iter().all(|&b| b == 0) {
                self.done = true;
                return Ok(None);
            }
            let sum =
                octal(&h[148..156]).ok_or_else(|| self.bad(format_args!("a header with a bad checksum field")))?;
            let mut calc: u64 = 0;
            for (i, &b) in h.iter().enumerate() {
                calc += if (148..156).contains(&i) { b' ' as u64 } else { b as u64 };
            }
            if sum != calc {
                return Err(self.bad(format_args!(
                    "a header's checksum does not match: the archive is corrupt (or not a tar)"
                )));
            }
            let num = |r: core::ops::Range<usize>, name: &str| {
                octal(&h[r]).ok_or_else(|| self.bad(format_args!("a header with a bad {name} field")))
            };
            let size = pax_size.map_or_else(|| num(124..136, "size"), Ok)?;
            let typ = h[156];
            match typ {
                b'x' | b'g' => {
                    let data = self.small(size, MAX_PAX_HEADER, "PAX header")?;
                    if typ == b'g' {
                        continue;
                    }
                    for (k, v) in pax_records(&data).ok_or_else(|| self.bad(format_args!("a malformed PAX header")))? {
                        let text = || core::str::from_utf8(v).ok();
                        match k {
                            b"path" => long_path = text().map(String::from),
                            b"linkpath" => long_link = text().map(String::from),
                            b"size" => pax_size = text().and_then(|t| t.parse().ok()),
                            b"uid" => pax_uid = text().and_then(|t| t.parse().ok()),
                            b"gid" => pax_gid = text().and_then(|t| t.parse().ok()),
                            _ => {}
                        }
                    }
                    continue;
                }
                b'L' | b'K' => {
                    let data = self.small(size, MAX_TAR_PATH, "long name")?;
                    let s = core::str::from_utf8(cstr(&data))
                        .map_err(|_| self.bad(format_args!("a long name that is not UTF-8")))?;
                    if typ == b'L' {
                        long_path = Some(s.into());
                    } else {
                        long_link = Some(s.into());
                    }
                    continue;
                }
                _ => {}
            }
            let kind = match typ {
                b'0' | 0 | b'7' => Some(Kind::File),
                b'1' => Some(Kind::Hardlink),
                b'2' => Some(Kind::Symlink),
                b'3' => Some(Kind::Char),
                b'4' => Some(Kind::Block),
                b'5' => Some(Kind::Dir),
                b'6' => Some(Kind::Fifo),
                _ => None,
            };
            let path = match long_path.take() {
                Some(p) => p,
                None => {
                    let name = cstr(&h[0..100]);
                    let prefix = if &h[257..262] == b"ustar" {
                        cstr(&h[345..500])
                    } else {
                        &[]
                    };
                    let mut p = Vec::with_capacity(prefix.len() + 1 + name.len());
                    if !prefix.is_empty() {
                        p.extend_from_slice(prefix);
                        p.push(b'/');
                    }
                    p.extend_from_slice(name);
                    String::from_utf8(p).map_err(|_| self.bad(format_args!("a path that is not UTF-8")))?
                }
            };
            let link = match long_link.take() {
                Some(l) => l,
                None => core::str::from_utf8(cstr(&h[157..257]))
                    .map_err(|_| self.bad(format_args!("{path:?}: a link target that is not UTF-8")))?
                    .into(),
            };
            if path.len() > MAX_TAR_PATH || link.len() > MAX_TAR_PATH {
                return Err(self.bad(format_args!("a path longer than MAX_TAR_PATH ({MAX_TAR_PATH})")));
            }
            let e = Entry {
                mode: num(100..108, "mode")? as u32 & 0o7777,
                uid: pax_uid.map_or_else(|| num(108..116, "uid").map(|v| v as u32), Ok)?,
                gid: pax_gid.map_or_else(|| num(116..124, "gid").map(|v| v as u32), Ok)?,
                major: num(329..337, "devmajor").unwrap_or(0) as u32,
                minor: num(337..345, "devminor").unwrap_or(0) as u32,
                size: if matches!(kind, Some(Kind::File)) || kind.is_none() {
                    size
                } else {
                    0
                },
                kind,
                path,
                link,
            };
            // Data follows regular files (and unknown types, which are skipped).
            self.left = e.size;
            self.pad = (512 - e.size % 512) % 512;
            return Ok(Some(e));
        }
    }
}

/// PAX records: `<len> <key>=<value>\n`, each `len` counting the whole record.
fn pax_records(mut d: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let mut out = Vec::new();
    while !d.is_empty() {
        let sp = d.iter().position(|&b| b == b' ')?;
        let len: usize = core::str::from_utf8(&d[..sp]).ok()?.parse().ok()?;
        if len <= sp + 1 || len > d.len() || d[len - 1] != b'\n' {
            return None;
        }
        let rec = &d[sp + 1..len - 1];
        let eq = rec.iter().position(|&b| b == b'=')?;
        out.push((&rec[..eq], &rec[eq + 1..]));
        d = &d[len..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Slice<'a>(&'a [u8]);
    impl Read for Slice<'_> {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn header(name: &str, typ: u8, size: u64, link: &str) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0001750");
        h[116..123].copy_from_slice(b"0000012");
        let s = format!("{size:011o}");
        h[124..135].copy_from_slice(s.as_bytes());
        h[156] = typ;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| b as u64).sum();
        let c = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(c.as_bytes());
        h
    }

    fn archive(parts: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
        let mut v = Vec::new();
        for (name, typ, data, link) in parts {
            v.extend_from_slice(&header(name, *typ, data.len() as u64, link));
            v.extend_from_slice(data);
            v.resize(v.len().div_ceil(512) * 512, 0);
        }
        v.resize(v.len() + 1024, 0);
        v
    }

    #[test]
    fn reads_entries_pax_and_long_names() {
        let long = "d/".repeat(80) + "file";
        let pax = format!("{} path={long}\n", long.len() + 7 + 3);
        let pax = if pax.len() != long.len() + 10 {
            format!("{} path={long}\n", long.len() + 7 + 4)
        } else {
            pax
        };
        let a = archive(&[
            ("dir/", b'5', b"", ""),
            ("dir/a", b'0', b"hello", ""),
            ("PaxHeader", b'x', pax.as_bytes(), ""),
            ("ignored", b'0', b"x", ""),
            ("././@LongLink", b'L', format!("{long}2\0").as_bytes(), ""),
            ("short", b'2', b"", "dir/a"),
            ("hl", b'1', b"", "dir/a"),
        ]);
        let mut sl = Slice(&a);
        let mut t = Tar::new(&mut sl, "test");
        let e = t.next().unwrap().unwrap();
        assert_eq!(
            (e.path.as_str(), e.kind, e.uid, e.gid, e.mode),
            ("dir/", Some(Kind::Dir), 1000, 10, 0o644)
        );
        let e = t.next().unwrap().unwrap();
        assert_eq!((e.path.as_str(), e.size), ("dir/a", 5));
        let mut b = [0u8; 16];
        assert_eq!(t.read(&mut b).unwrap(), 5);
        assert_eq!(&b[..5], b"hello");
        let e = t.next().unwrap().unwrap();
        assert_eq!(e.path, long);
        let e = t.next().unwrap().unwrap();
        assert_eq!(
            (e.path, e.kind, e.link.as_str()),
            (format!("{long}2"), Some(Kind::Symlink), "dir/a")
        );
        let e = t.next().unwrap().unwrap();
        assert_eq!((e.kind, e.link.as_str()), (Some(Kind::Hardlink), "dir/a"));
        assert!(t.next().unwrap().is_none());
    }

    #[test]
    fn corrupt_and_truncated_archives_are_errors() {
        let a = archive(&[("a", b'0', &[7u8; 600], "")]);
        let mut bad = a.clone();
        bad[10] ^= 1;
        let e = Tar::new(&mut Slice(&bad), "t").next().unwrap_err();
        assert!(format!("{e}").contains("checksum"), "{e}");
        let mut sl = Slice(&a[..700]);
        let mut t = Tar::new(&mut sl, "t");
        t.next().unwrap().unwrap();
        let e = t.next().unwrap_err();
        assert!(
            format!("{e}").contains("truncated") || format!("{e}").contains("ends early"),
            "{e}"
        );
    }

    #[test]
    fn base256_numbers() {
        assert_eq!(octal(&[0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]), Some(1 << 32));
        assert_eq!(octal(b"  755 \0"), Some(0o755));
        assert_eq!(octal(b"9"), None);
    }
}
