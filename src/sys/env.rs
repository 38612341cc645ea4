//! The process's arguments, environment, clock, standard streams and exit: what std's `env`,
//! `io`, `time`, `thread::sleep` and `process` gave before mote became `no_std`.
//!
//! argv and the environment are the C runtime's own arrays, read in place (no copies): the
//! binary's entry point (src/main.rs) hands argv to [`init`] before anything else runs.

use core::ffi::{c_char, c_int, CStr};
use core::fmt;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use core::time::Duration;

static ARGC: AtomicUsize = AtomicUsize::new(0);
static ARGV: AtomicPtr<*const c_char> = AtomicPtr::new(core::ptr::null_mut());

extern "C" {
    static environ: *const *const c_char;
}

/// Record argv.
///
/// # Safety
/// `argv` must point to `argc` valid NUL-terminated strings followed by a null pointer, alive
/// until the process ends: what the C runtime passes to `main`.
pub unsafe fn init(argc: c_int, argv: *const *const c_char) {
    ARGV.store(argv.cast_mut(), Ordering::Relaxed);
    ARGC.store(usize::try_from(argc).unwrap_or(0), Ordering::Relaxed);
}

/// argv as recorded by [`init`] (empty in a unit test binary).
pub fn args() -> impl Iterator<Item = &'static CStr> {
    let argv = ARGV.load(Ordering::Relaxed).cast_const();
    let n = if argv.is_null() {
        0
    } else {
        ARGC.load(Ordering::Relaxed)
    };
    (0..n).filter_map(move |i| {
        // SAFETY: init's contract: argv holds argc valid pointers to C strings that live as
        // long as the process.
        let p = unsafe { *argv.add(i) };
        // SAFETY: as above; a null entry (argv changed by the program) is skipped.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
    })
}

/// The environment, each entry `NAME=value`.
pub fn vars() -> impl Iterator<Item = &'static CStr> {
    // SAFETY: environ is the C runtime's environment array; mote never calls setenv, so it and
    // its strings stay as the kernel placed them.
    let env = unsafe { environ };
    let mut i = 0;
    core::iter::from_fn(move || {
        if env.is_null() {
            return None;
        }
        // SAFETY: environ is a null-terminated array of C strings; `i` stops at the null.
        let p = unsafe { *env.add(i) };
        if p.is_null() {
            return None;
        }
        i += 1;
        // SAFETY: a non-null entry of environ is a NUL-terminated string.
        Some(unsafe { CStr::from_ptr(p) })
    })
}

/// The value of one environment variable, if set and valid UTF-8.
pub fn var(name: &str) -> Option<&'static str> {
    vars().find_map(|kv| {
        let kv = kv.to_bytes();
        let v = kv.strip_prefix(name.as_bytes())?.strip_prefix(b"=")?;
        core::str::from_utf8(v).ok()
    })
}

/// Is the variable set (whatever its value)?
pub fn var_set(name: &str) -> bool {
    vars().any(|kv| {
        kv.to_bytes()
            .strip_prefix(name.as_bytes())
            .is_some_and(|v| v.first() == Some(&b'='))
    })
}

/// clock_gettime(2) through musl, whose vDSO lookup the binary has anyway (rustix's own costs
/// 2 KB more).
fn clock(id: libc::clockid_t) -> Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid out pointer; the clocks used here always exist, and on failure
    // `t` stays zero.
    unsafe { libc::clock_gettime(id, &mut t) };
    Duration::new(u64::try_from(t.tv_sec).unwrap_or(0), t.tv_nsec as u32)
}

/// CLOCK_MONOTONIC.
pub fn monotonic() -> Duration {
    clock(libc::CLOCK_MONOTONIC)
}

/// CLOCK_REALTIME, since the Unix epoch.
pub fn realtime() -> Duration {
    clock(libc::CLOCK_REALTIME)
}

/// Sleep for `d` (restarted after signals).
pub fn sleep(d: Duration) {
    let mut req = rustix::thread::Timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as _,
        tv_nsec: d.subsec_nanos() as _,
    };
    while let rustix::thread::NanosleepRelativeResult::Interrupted(rest) = rustix::thread::nanosleep(&req) {
        req = rest;
    }
}

/// End the process with `code` (after the C runtime's exit handlers; mote buffers nothing).
pub fn exit(code: i32) -> ! {
    // SAFETY: exit(3) is always safe to call; it does not return.
    unsafe { libc::exit(code) }
}

/// This process's PID.
pub fn pid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// A writer to a file descriptor with a small buffer, for `core::fmt`: flushed on drop and by
/// [`FdWriter::flush`]; the first write error is kept.
pub struct FdWriter {
    fd: c_int,
    buf: [u8; 1024],
    len: usize,
    pub error: Option<super::Errno>,
}

impl FdWriter {
    pub fn new(fd: c_int) -> FdWriter {
        FdWriter {
            fd,
            buf: [0; 1024],
            len: 0,
            error: None,
        }
    }
    pub fn stdout() -> FdWriter {
        FdWriter::new(1)
    }
    pub fn stderr() -> FdWriter {
        FdWriter::new(2)
    }
    /// Write out what is buffered; the first error, if any.
    pub fn flush(&mut self) -> Result<(), super::Errno> {
        if self.len > 0 && self.error.is_none() {
            if let Err(e) = super::fs::write_all(self.fd, &self.buf[..self.len]) {
                self.error = Some(e);
            }
        }
        self.len = 0;
        self.error.map_or(Ok(()), Err)
    }
    pub fn write_bytes(&mut self, b: &[u8]) {
        if self.len + b.len() > self.buf.len() {
            let _ = self.flush();
        }
        if b.len() > self.buf.len() {
            if self.error.is_none() {
                if let Err(e) = super::fs::write_all(self.fd, b) {
                    self.error = Some(e);
                }
            }
            return;
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }
}

impl fmt::Write for FdWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

impl Drop for FdWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// What std's runtime did before `main`: make sure fds 0, 1 and 2 are open (on /dev/null if
/// not), so that no file mote opens becomes its standard output by accident; and ignore
/// SIGPIPE, so that writing to a closed pipe is an EPIPE error mote reports, not death.
/// Ignore SIGPIPE: a write to a closed pipe is then an EPIPE error mote reports.
fn ignore_sigpipe() {
    // SAFETY: installing SIG_IGN is always valid.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

pub fn init_process() {
    let mut fds = [
        libc::pollfd {
            fd: 0,
            events: 0,
            revents: 0,
        },
        libc::pollfd {
            fd: 1,
            events: 0,
            revents: 0,
        },
        libc::pollfd {
            fd: 2,
            events: 0,
            revents: 0,
        },
    ];
    if super::poll(&mut fds, 0).is_ok() {
        for p in &fds {
            if p.revents & libc::POLLNVAL != 0 {
                // SAFETY: a NUL-terminated literal path; the lowest free fd is the closed one,
                // which stays open for the life of the process.
                unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
            }
        }
    }
    ignore_sigpipe();
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write as _;
    use rustix::fd::AsRawFd;

    #[test]
    fn environment_lookups_match_the_c_runtime() {
        let path = std::env::var("PATH").unwrap();
        assert_eq!(var("PATH"), Some(path.as_str()));
        assert!(var_set("PATH"));
        // A prefix of a name is not the name.
        assert_eq!(var("PAT"), None);
        assert!(!var_set("PAT"));
        assert_eq!(vars().count(), std::env::vars_os().count());
    }

    #[test]
    fn fd_writer_buffers_flushes_and_reports_epipe() {
        let (r, w) = crate::sys::pipe().unwrap();
        let mut out = FdWriter::new(w.as_raw_fd());
        let long = "x".repeat(3000);
        write!(out, "a{}b", long).unwrap();
        out.flush().unwrap();
        let mut buf = vec![0u8; 4096];
        let mut n = 0;
        while n < 3002 {
            n += crate::sys::fs::read(r.as_raw_fd(), &mut buf[n..]).unwrap();
        }
        assert_eq!(n, 3002);
        assert_eq!(&buf[..2], b"ax");
        assert_eq!(buf[3001], b'b');
        drop(r);
        ignore_sigpipe();
        write!(out, "lost").unwrap();
        assert_eq!(out.flush(), Err(libc::EPIPE));
    }

    #[test]
    fn clocks_move_forward() {
        let a = monotonic();
        sleep(Duration::from_millis(2));
        assert!(monotonic() >= a + Duration::from_millis(2));
        assert!(realtime().as_secs() > 1_700_000_000);
    }
}
