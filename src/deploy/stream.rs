//! Streams: a blob is read from its file through a chain of small readers (hash it, inflate
//! it, hash again, read the tar), each holding a fixed buffer, so that unpacking a layer of
//! any size costs the same memory: 64 KiB of buffers, the inflater's ~43 KiB (gzip) or the
//! zstd window (at most MAX_ZSTD_WINDOW).

use crate::prelude::*;

use super::digest::{Digest, Sha256};
use crate::error::{Error, Result};
use crate::spec::limits;
use crate::sys::fs;
use rustix::fd::RawFd;

/// What every stage reads with. `Ok(0)` is the end.
pub trait Read {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize>;

    /// Fill `buf` completely; an early end is an error naming `what`.
    fn read_exact(&mut self, mut buf: &mut [u8], what: &'static str) -> Result<()> {
        while !buf.is_empty() {
            let n = self.read(buf)?;
            if n == 0 {
                return Err(Error::input("read").ctx(format_args!("{what}: truncated (it ends early)")));
            }
            buf = &mut buf[n..];
        }
        Ok(())
    }

    /// Read and drop `n` bytes.
    fn skip(&mut self, mut n: u64, what: &'static str) -> Result<()> {
        let mut b = [0u8; 4096];
        while n > 0 {
            let k = n.min(b.len() as u64) as usize;
            self.read_exact(&mut b[..k], what)?;
            n -= k as u64;
        }
        Ok(())
    }
}

impl<R: Read + ?Sized> Read for &mut R {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        (**self).read(buf)
    }
}

impl<R: Read + ?Sized> Read for Box<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        (**self).read(buf)
    }
}

/// `len` bytes of a file from `offset` (a blob in an archive, or a whole file), by pread:
/// the fd's own offset is not used, so several regions of one archive can be read at once.
pub struct Region {
    fd: RawFd,
    pos: u64,
    end: u64,
    _own: Option<rustix::fd::OwnedFd>,
}

impl Region {
    pub fn new(fd: RawFd, offset: u64, len: u64) -> Region {
        Region {
            fd,
            pos: offset,
            end: offset.saturating_add(len),
            _own: None,
        }
    }
    /// A region of a file it keeps open.
    pub fn owned(fd: rustix::fd::OwnedFd, offset: u64, len: u64) -> Region {
        use rustix::fd::AsRawFd;
        let mut r = Region::new(fd.as_raw_fd(), offset, len);
        r._own = Some(fd);
        r
    }
}

impl Read for Region {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = fs::pread(self.fd, &mut buf[..want], self.pos).map_err(|e| Error::sys("read", e))?;
        self.pos += n as u64;
        progress::read(n);
        Ok(n)
    }
}

/// The progress of `mote deploy stage` on a terminal: the bytes read from the source, on one
/// line of stderr rewritten at most four times a second. Off unless the CLI turns it on (it does
/// when stderr is a terminal), so nothing is printed to logs or pipes, and never by the
/// supervisor.
pub mod progress {
    use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
    static ON: AtomicBool = AtomicBool::new(false);
    static BYTES: AtomicU64 = AtomicU64::new(0);
    static SHOWN_MS: AtomicU64 = AtomicU64::new(0);
    static START_MS: AtomicU64 = AtomicU64::new(0);

    fn now_ms() -> u64 {
        crate::sys::env::monotonic().as_millis() as u64
    }

    /// Show progress from here on (`mote deploy stage` with stderr on a terminal).
    pub fn start() {
        BYTES.store(0, Relaxed);
        START_MS.store(now_ms(), Relaxed);
        // The first read shows a line at once; then every 250 ms.
        SHOWN_MS.store(0, Relaxed);
        ON.store(true, Relaxed);
    }

    /// `n` more bytes read from the source.
    pub fn read(n: usize) {
        if !ON.load(Relaxed) {
            return;
        }
        let b = BYTES.fetch_add(n as u64, Relaxed) + n as u64;
        let now = now_ms();
        if now.saturating_sub(SHOWN_MS.load(Relaxed)) < 250 {
            return;
        }
        SHOWN_MS.store(now, Relaxed);
        let secs = now.saturating_sub(START_MS.load(Relaxed)).max(1);
        let line = alloc::format!(
            "\r  staging: {}.{} MB read, {} MB/s ",
            b / 1_000_000,
            b / 100_000 % 10,
            b / 1000 / secs
        );
        let _ = crate::sys::fs::write_all(2, line.as_bytes());
    }

    /// Clear the line (before the result is printed).
    pub fn stop() {
        if ON.swap(false, Relaxed) {
            let _ = crate::sys::fs::write_all(2, b"\r\x1b[K");
        }
    }
}

/// A reader whose bytes are hashed (and counted) as they pass.
pub struct Hashing<R> {
    pub inner: R,
    h: Sha256,
    pub count: u64,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Hashing<R> {
        Hashing {
            inner,
            h: Sha256::new(),
            count: 0,
        }
    }
    /// Read to the end (what the consumer left), then the digest and the byte count.
    pub fn finish(mut self) -> Result<(Digest, u64)> {
        let mut b = [0u8; 8192];
        while self.read(&mut b)? > 0 {}
        Ok((self.h.finish(), self.count))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = self.inner.read(buf)?;
        self.h.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A buffered reader, for the decompressors' many small reads.
pub struct Buf<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

/// The read buffer of a [`Buf`].
const BUF_BYTES: usize = 32 * 1024;

impl<R: Read> Buf<R> {
    pub fn new(inner: R) -> Buf<R> {
        Buf {
            inner,
            buf: vec![0u8; BUF_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }
    /// The buffered bytes, reading more when none are left; empty at the end.
    pub fn fill(&mut self) -> Result<&[u8]> {
        if self.start == self.end {
            self.start = 0;
            self.end = self.inner.read(&mut self.buf)?;
        }
        Ok(&self.buf[self.start..self.end])
    }
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Buf<R> {
    fn read(&mut self, out: &mut [u8]) -> Result<usize> {
        let b = self.fill()?;
        let n = b.len().min(out.len());
        out[..n].copy_from_slice(&b[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// The compression of a blob, by its first bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Decompress what `r` holds (whatever its compression), refusing to produce more than
/// `limit` bytes (a decompression bomb). `what` names the blob in errors.
pub fn decompress<'r, R: Read + 'r>(r: R, limit: u64, what: &'static str) -> Result<Box<dyn Read + 'r>> {
    let mut b = Buf::new(r);
    let kind = Compression::sniff(b.fill()?);
    let inner: Box<dyn Read + 'r> = match kind {
        Compression::None => Box::new(b),
        Compression::Gzip => Box::new(Gzip::new(b, what)),
        Compression::Zstd => Box::new(Zstd::new(b, what)?),
    };
    Ok(Box::new(Limited {
        inner,
        left: limit,
        what,
    }))
}

/// At most `left` more bytes, else an error: what stops a gzip bomb.
struct Limited<R> {
    inner: R,
    left: u64,
    what: &'static str,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(Error::input("decompress").ctx(format_args!(
                "{}: expands to more than {} times its compressed size (MAX_EXPANSION_RATIO): a decompression bomb, or raise the limit",
                self.what,
                limits::MAX_EXPANSION_RATIO
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The most a blob of `compressed` bytes may expand to.
pub fn expansion_limit(compressed: u64) -> u64 {
    compressed
        .saturating_mul(limits::MAX_EXPANSION_RATIO as u64)
        .saturating_add(limits::MAX_EXPANSION_SLACK as u64)
}

// ---------------------------------------------------------------------------------------------
// gzip (RFC 1952): the header and trailer here, the deflate stream by miniz_oxide.

/// CRC-32 (IEEE), table-driven.
pub struct Crc32(u32);

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

impl Crc32 {
    pub fn new() -> Crc32 {
        Crc32(!0)
    }
    pub fn update(&mut self, b: &[u8]) {
        let mut c = self.0;
        for &x in b {
            c = CRC_TABLE[((c ^ x as u32) & 0xff) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }
    pub fn value(&self) -> u32 {
        !self.0
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

enum GzState {
    Header,
    Body,
    Done,
}

pub struct Gzip<R> {
    src: Buf<R>,
    st: Box<miniz_oxide::inflate::stream::InflateState>,
    state: GzState,
    crc: Crc32,
    size: u32,
    members: u32,
    what: &'static str,
}

impl<R: Read> Gzip<R> {
    pub fn new(src: Buf<R>, what: &'static str) -> Gzip<R> {
        Gzip {
            src,
            st: miniz_oxide::inflate::stream::InflateState::new_boxed(miniz_oxide::DataFormat::Raw),
            state: GzState::Header,
            crc: Crc32::new(),
            size: 0,
            members: 0,
            what,
        }
    }

    fn bad(&self, why: core::fmt::Arguments<'_>) -> Error {
        Error::input("gunzip").ctx(format_args!("{}: {why}", self.what))
    }

    fn byte(&mut self) -> Result<u8> {
        let mut b = [0u8; 1];
        let what = self.what;
        self.src.read_exact(&mut b, what)?;
        Ok(b[0])
    }

    /// The member header (RFC 1952 2.3.1); false at a clean end after a member.
    fn header(&mut self) -> Result<bool> {
        if self.members > 0 && self.src.fill()?.is_empty() {
            return Ok(false);
        }
        let mut h = [0u8; 10];
        let what = self.what;
        self.src.read_exact(&mut h, what)?;
        if h[0] != 0x1f || h[1] != 0x8b {
            return Err(self.bad(format_args!("not gzip (bad magic bytes)")));
        }
        if h[2] != 8 {
            return Err(self.bad(format_args!("compression method {} is not deflate", h[2])));
        }
        let flg = h[3];
        if flg & 0x04 != 0 {
            let xlen = self.byte()? as u64 | (self.byte()? as u64) << 8;
            self.src.skip(xlen, what)?;
        }
        for bit in [0x08, 0x10] {
            if flg & bit != 0 {
                while self.byte()? != 0 {}
            }
        }
        if flg & 0x02 != 0 {
            self.src.skip(2, what)?;
        }
        self.members += 1;
        self.crc = Crc32::new();
        self.size = 0;
        self.st.reset(miniz_oxide::DataFormat::Raw);
        Ok(true)
    }

    fn trailer(&mut self) -> Result<()> {
        let mut t = [0u8; 8];
        let what = self.what;
        self.src.read_exact(&mut t, what)?;
        let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
        if crc != self.crc.value() {
            return Err(self.bad(format_args!("CRC mismatch: the data is corrupt")));
        }
        if size != self.size {
            return Err(self.bad(format_args!("length mismatch: the data is corrupt")));
        }
        Ok(())
    }
}

impl<R: Read> Read for Gzip<R> {
    fn read(&mut self, out: &mut [u8]) -> Result<usize> {
        use miniz_oxide::inflate::stream::inflate;
        use miniz_oxide::{MZError, MZFlush, MZStatus};
        loop {
            match self.state {
                GzState::Done => return Ok(0),
                GzState::Header => {
                    self.state = if self.header()? { GzState::Body } else { GzState::Done };
                }
                GzState::Body => {
                    if out.is_empty() {
                        return Ok(0);
                    }
                    let input = self.src.fill()?;
                    let at_end = input.is_empty();
                    let r = inflate(&mut self.st, input, out, MZFlush::None);
                    self.src.consume(r.bytes_consumed);
                    let n = r.bytes_written;
                    self.crc.update(&out[..n]);
                    self.size = self.size.wrapping_add(n as u32);
                    match r.status {
                        Ok(MZStatus::StreamEnd) => {
                            self.trailer()?;
                            self.state = GzState::Header;
                        }
                        Ok(_) => {}
                        Err(MZError::Buf) if !at_end => {}
                        Err(MZError::Buf) => return Err(self.bad(format_args!("truncated (it ends early)"))),
                        Err(_) => return Err(self.bad(format_args!("corrupt deflate data"))),
                    }
                    if n > 0 {
                        return Ok(n);
                    }
                    if at_end && r.bytes_consumed == 0 && !matches!(self.state, GzState::Header) {
                        return Err(self.bad(format_args!("truncated (it ends early)")));
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// zstd (RFC 8878) by ruzstd: every frame of the stream (skippable frames skipped), each with
// its window at most MAX_ZSTD_WINDOW.

/// Our reader, as ruzstd's.
struct ZSrc<R>(Buf<R>, Option<Error>);

impl<R: Read> ruzstd::io::Read for ZSrc<R> {
    fn read(&mut self, buf: &mut [u8]) -> core::result::Result<usize, ruzstd::io::Error> {
        self.0.read(buf).map_err(|e| {
            self.1 = Some(e);
            ruzstd::io::Error::from(ruzstd::io::ErrorKind::Other)
        })
    }
}

pub struct Zstd<R> {
    src: ZSrc<R>,
    dec: Box<ruzstd::decoding::FrameDecoder>,
    in_frame: bool,
    what: &'static str,
}

impl<R: Read> Zstd<R> {
    pub fn new(src: Buf<R>, what: &'static str) -> Result<Zstd<R>> {
        let mut dec = Box::new(ruzstd::decoding::FrameDecoder::new());
        dec.set_max_window_size(limits::MAX_ZSTD_WINDOW as u64);
        Ok(Zstd {
            src: ZSrc(src, None),
            dec,
            in_frame: false,
            what,
        })
    }

    fn bad(&mut self, why: core::fmt::Arguments<'_>) -> Error {
        if let Some(e) = self.src.1.take() {
            return e;
        }
        Error::input("unzstd").ctx(format_args!("{}: {why}", self.what))
    }
}

impl<R: Read> Read for Zstd<R> {
    fn read(&mut self, out: &mut [u8]) -> Result<usize> {
        use ruzstd::decoding::errors::FrameDecoderError;
        use ruzstd::io::Read as _;
        loop {
            if !self.in_frame {
                if self.src.0.fill()?.is_empty() {
                    return Ok(0);
                }
                match self.dec.init(&mut self.src) {
                    Ok(()) => self.in_frame = true,
                    Err(FrameDecoderError::ReadFrameHeaderError(
                        ruzstd::decoding::errors::ReadFrameHeaderError::SkipFrame { length, .. },
                    )) => {
                        let what = self.what;
                        self.src.0.skip(length as u64, what)?;
                        continue;
                    }
                    Err(FrameDecoderError::WindowSizeTooBig { requested, .. }) => {
                        return Err(self.bad(format_args!(
                            "its window is {requested} bytes, over MAX_ZSTD_WINDOW ({}): compress with a smaller window (zstd --long=23 or less)",
                            limits::MAX_ZSTD_WINDOW
                        )))
                    }
                    Err(e) => return Err(self.bad(format_args!("bad frame header: {e}"))),
                }
            }
            if self.dec.can_collect() > 0 {
                return self.dec.read(out).map_err(|e| {
                    let m = format!("{e:?}");
                    self.bad(format_args!("{m}"))
                });
            }
            if self.dec.is_finished() {
                self.in_frame = false;
                continue;
            }
            if let Err(e) = self
                .dec
                .decode_blocks(&mut self.src, ruzstd::decoding::BlockDecodingStrategy::UptoBlocks(1))
            {
                return Err(self.bad(format_args!("corrupt or truncated: {e}")));
            }
        }
    }
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

    fn all(mut r: impl Read) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        let mut b = [0u8; 1000];
        loop {
            let n = r.read(&mut b)?;
            if n == 0 {
                return Ok(v);
            }
            v.extend_from_slice(&b[..n]);
        }
    }

    // `printf 'hello mote\n' | gzip -9n`, and the same twice (two members).
    const GZ: &[u8] = &[
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0xcd,
        0x2f, 0x49, 0xe5, 0x02, 0x00, 0x02, 0x15, 0x5f, 0x58, 0x0b, 0x00, 0x00, 0x00,
    ];
    // `printf 'hello mote\n' | zstd -q`
    const ZST: &[u8] = &[
        0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x59, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x6d, 0x6f, 0x74,
        0x65, 0x0a, 0x5c, 0x06, 0x03, 0x3a,
    ];

    #[test]
    fn crc32_check_value() {
        let mut c = Crc32::new();
        c.update(b"123456789");
        assert_eq!(c.value(), 0xcbf4_3926);
    }

    #[test]
    fn gzip_members_truncation_and_corruption() {
        assert_eq!(
            all(decompress(Slice(GZ), 1 << 20, "t").unwrap()).unwrap(),
            b"hello mote\n"
        );
        let two = [GZ, GZ].concat();
        assert_eq!(
            all(decompress(Slice(&two), 1 << 20, "t").unwrap()).unwrap(),
            b"hello mote\nhello mote\n"
        );
        for cut in [12, 20, GZ.len() - 3] {
            let e = all(decompress(Slice(&GZ[..cut]), 1 << 20, "t").unwrap()).unwrap_err();
            assert!(
                format!("{e}").contains("truncated") || format!("{e}").contains("ends early"),
                "{cut}: {e}"
            );
        }
        let mut bad = GZ.to_vec();
        let l = bad.len();
        bad[l - 6] ^= 1; // the CRC
        let e = all(decompress(Slice(&bad), 1 << 20, "t").unwrap()).unwrap_err();
        assert!(format!("{e}").contains("CRC"), "{e}");
        // The bomb limit.
        let e = all(decompress(Slice(GZ), 4, "t").unwrap()).unwrap_err();
        assert!(format!("{e}").contains("MAX_EXPANSION_RATIO"), "{e}");
    }

    #[test]
    fn zstd_frames() {
        assert_eq!(
            all(decompress(Slice(ZST), 1 << 20, "t").unwrap()).unwrap(),
            b"hello mote\n"
        );
        // A skippable frame, then two frames.
        let mut s = vec![0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3];
        s.extend_from_slice(ZST);
        s.extend_from_slice(ZST);
        // (the sniffing looks at the first frame's magic: put a real frame first)
        let mut t = ZST.to_vec();
        t.extend_from_slice(&s);
        assert_eq!(
            all(decompress(Slice(&t), 1 << 20, "t").unwrap()).unwrap(),
            b"hello mote\n".repeat(3)
        );
        let e = all(decompress(Slice(&ZST[..15]), 1 << 20, "t").unwrap()).unwrap_err();
        assert!(format!("{e}").contains("t:"), "{e}");
    }

    #[test]
    fn plain_passes_through() {
        assert_eq!(
            all(decompress(Slice(b"plain"), 1 << 20, "t").unwrap()).unwrap(),
            b"plain"
        );
    }
}
