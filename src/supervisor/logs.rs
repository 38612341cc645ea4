//! A workload's logs: what it writes to stdout and stderr goes through one pipe into a bounded
//! in-memory ring (the last `ringBytes`, memory taken only as it is written), and optionally
//! into a file rotated at `maxBytes`, keeping `keep` old ones (`web.log.1` the newest).

use crate::prelude::*;

use crate::sys::{fs, SysResult};
use rustix::fd::{AsRawFd, OwnedFd};

/// The last `cap` bytes written.
pub struct Ring {
    buf: Vec<u8>,
    cap: usize,
    /// Where the next byte goes once the buffer has reached `cap` (it then wraps).
    head: usize,
    /// Bytes ever written.
    pub total: u64,
}

impl Ring {
    pub fn new(cap: usize) -> Ring {
        Ring {
            buf: Vec::new(),
            cap,
            head: 0,
            total: 0,
        }
    }

    pub fn push(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if self.cap == 0 {
            return;
        }
        if data.len() >= self.cap {
            data = &data[data.len() - self.cap..];
        }
        // Still growing: append up to the capacity.
        if self.buf.len() < self.cap {
            let n = data.len().min(self.cap - self.buf.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == self.cap {
                self.head = 0;
            }
        }
        // Full: overwrite the oldest bytes.
        while !data.is_empty() {
            let n = data.len().min(self.cap - self.head);
            self.buf[self.head..self.head + n].copy_from_slice(&data[..n]);
            self.head = (self.head + n) % self.cap;
            data = &data[n..];
        }
    }

    /// The contents, oldest first, as two slices.
    pub fn contents(&self) -> (&[u8], &[u8]) {
        if self.buf.len() < self.cap {
            (&self.buf, &[])
        } else {
            (&self.buf[self.head..], &self.buf[..self.head])
        }
    }

    /// The last `lines` lines (a last line without its newline counts), as two slices.
    pub fn tail(&self, lines: usize) -> (&[u8], &[u8]) {
        let (a, b) = self.contents();
        let len = a.len() + b.len();
        let at = |i: usize| if i < a.len() { a[i] } else { b[i - a.len()] };
        let mut seen = 0;
        let mut start = 0;
        let mut i = len;
        // A final newline ends the last line; it does not start another.
        if i > 0 && at(i - 1) == b'\n' {
            i -= 1;
        }
        while i > 0 {
            if at(i - 1) == b'\n' {
                seen += 1;
                if seen == lines {
                    start = i;
                    break;
                }
            }
            i -= 1;
        }
        if lines == 0 {
            start = len;
        }
        if start >= a.len() {
            (&b[start - a.len()..], &[])
        } else {
            (&a[start..], b)
        }
    }
}

/// A log file, rotated by size.
pub struct LogFile {
    pub path: String,
    fd: Option<OwnedFd>,
    size: u64,
    max: u64,
    keep: u32,
}

impl LogFile {
    pub fn new(path: &str, max: u64, keep: u32) -> LogFile {
        LogFile {
            path: path.to_string(),
            fd: None,
            size: 0,
            max,
            keep,
        }
    }

    fn open(&mut self) -> SysResult<()> {
        if let Some(dir) = self.path.rsplit_once('/').map(|(d, _)| d).filter(|d| !d.is_empty()) {
            fs::mkdir_p(dir, 0o755)?;
        }
        let fd = fs::open(
            &self.path,
            libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC,
            0o640,
        )?;
        self.size = fs::fstat(fd.as_raw_fd())?.st_size as u64;
        self.fd = Some(fd);
        Ok(())
    }

    /// Append; a file never grows past its size: what does not fit goes into a new one (cut
    /// after the last whole line that fits, when there is one).
    pub fn write(&mut self, mut data: &[u8]) -> SysResult<()> {
        if self.fd.is_none() {
            self.open()?;
        }
        while !data.is_empty() {
            let room = self.max.saturating_sub(self.size) as usize;
            if room == 0 {
                self.rotate()?;
                continue;
            }
            let n = if data.len() <= room {
                data.len()
            } else {
                match data[..room].iter().rposition(|b| *b == b'\n') {
                    Some(i) => i + 1,
                    // No whole line fits: a fresh file takes it, cut at its size if need be.
                    None if self.size > 0 => {
                        self.rotate()?;
                        continue;
                    }
                    None => room,
                }
            };
            if let Some(fd) = &self.fd {
                fs::write_all(fd.as_raw_fd(), &data[..n])?;
                self.size += n as u64;
            }
            data = &data[n..];
        }
        Ok(())
    }

    /// path.(keep-1) -> path.keep, ..., path -> path.1; a new empty path. With keep 0 the file
    /// starts again empty.
    fn rotate(&mut self) -> SysResult<()> {
        self.fd = None;
        if self.keep == 0 {
            fs::unlinkat(fs::AT_FDCWD, &self.path, 0)?;
        } else {
            for i in (1..self.keep).rev() {
                let from = format!("{}.{i}", self.path);
                let to = format!("{}.{}", self.path, i + 1);
                match fs::renameat(fs::AT_FDCWD, &from, fs::AT_FDCWD, &to) {
                    Ok(()) | Err(libc::ENOENT) => {}
                    Err(e) => return Err(e),
                }
            }
            fs::renameat(fs::AT_FDCWD, &self.path, fs::AT_FDCWD, &format!("{}.1", self.path))?;
        }
        self.open()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: (&[u8], &[u8])) -> String {
        let mut v = r.0.to_vec();
        v.extend_from_slice(r.1);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn the_ring_keeps_the_last_bytes() {
        let mut r = Ring::new(10);
        r.push(b"abc");
        assert_eq!(text(r.contents()), "abc");
        r.push(b"defghij");
        assert_eq!(text(r.contents()), "abcdefghij");
        r.push(b"kl");
        assert_eq!(text(r.contents()), "cdefghijkl");
        r.push(b"0123456789ABC");
        assert_eq!(text(r.contents()), "3456789ABC");
        assert_eq!(r.total, 25);
        for _ in 0..1000 {
            r.push(b"xyz");
        }
        assert_eq!(text(r.contents()).len(), 10, "never more than its size");
        let mut none = Ring::new(0);
        none.push(b"abc");
        assert_eq!(text(none.contents()), "");
    }

    #[test]
    fn tail_counts_lines() {
        let mut r = Ring::new(20);
        r.push(b"one\ntwo\nthree\nfour\n");
        assert_eq!(text(r.tail(2)), "three\nfour\n");
        assert_eq!(text(r.tail(9)), "one\ntwo\nthree\nfour\n");
        assert_eq!(text(r.tail(0)), "");
        r.push(b"five");
        // Wrapped: "wo\nthree\nfour\nfive" is what is left.
        assert_eq!(text(r.tail(2)), "four\nfive");
        assert_eq!(text(r.tail(1)), "five");
    }

    #[test]
    fn files_rotate_at_their_size() {
        let dir = std::env::temp_dir().join(format!("mote-logs-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("sub/web.log");
        let mut f = LogFile::new(path.to_str().unwrap(), 10, 2);
        for line in ["aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n", "ffff\n", "gggg\n"] {
            f.write(line.as_bytes()).unwrap();
        }
        let read = |s: &str| std::fs::read_to_string(dir.join(s)).unwrap_or_default();
        assert_eq!(read("sub/web.log"), "gggg\n");
        assert_eq!(read("sub/web.log.1"), "eeee\nffff\n");
        assert_eq!(read("sub/web.log.2"), "cccc\ndddd\n");
        assert!(!dir.join("sub/web.log.3").exists(), "keep 2");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
