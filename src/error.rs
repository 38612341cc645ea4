//! One error type for all of mote: the step that failed, the errno, and a bounded context.
//!
//! Displayed as `mount proc on /proc: EPERM (Operation not permitted)`; the CLI prefixes the
//! command (`create: ...`). The exit code follows the kind (see the README's "Exit codes").

use core::fmt::{self, Write as _};

/// What kind of failure, which decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The operation failed (a system call, a container in the wrong state...). Exit 1.
    Failed,
    /// Bad command line. Exit 2.
    Usage,
    /// A bad input file: config.json, process.json, a resources file, a workload file. Exit 3.
    Input,
    /// The request needs a feature mote does not have yet. Exit 4.
    NotImplemented,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Failed => 1,
            Kind::Usage => 2,
            Kind::Input => 3,
            Kind::NotImplemented => 4,
        }
    }
}

/// The error: kind, the step that failed, a context string (a path, a value), an errno.
#[derive(Clone)]
pub struct Error {
    pub kind: Kind,
    pub step: &'static str,
    pub context: heapless::String<512>,
    pub errno: Option<i32>,
}

pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, step: &'static str) -> Self {
        Error {
            kind,
            step,
            context: heapless::String::new(),
            errno: None,
        }
    }
    /// A failed system call at `step`.
    pub fn sys(step: &'static str, errno: i32) -> Self {
        let mut e = Error::new(Kind::Failed, step);
        e.errno = Some(errno);
        e
    }
    pub fn failed(step: &'static str) -> Self {
        Error::new(Kind::Failed, step)
    }
    pub fn usage(step: &'static str) -> Self {
        Error::new(Kind::Usage, step)
    }
    pub fn input(step: &'static str) -> Self {
        Error::new(Kind::Input, step)
    }
    pub fn not_implemented(step: &'static str) -> Self {
        Error::new(Kind::NotImplemented, step)
    }
    /// Add context (a path, a value, an explanation); what does not fit is cut with "...".
    pub fn ctx(mut self, args: fmt::Arguments<'_>) -> Self {
        let mut w = Bounded(&mut self.context, false);
        let _ = w.write_fmt(args);
        self
    }
    pub fn with_errno(mut self, errno: i32) -> Self {
        self.errno = Some(errno);
        self
    }
}

impl From<rustix::io::Errno> for Error {
    fn from(e: rustix::io::Errno) -> Self {
        Error::sys("system call", e.raw_os_error())
    }
}

struct Bounded<'s>(&'s mut heapless::String<512>, bool);

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.1 {
            return Ok(());
        }
        for c in s.chars() {
            if self.0.len() + c.len_utf8() > 508 {
                let _ = self.0.push_str("...");
                self.1 = true;
                return Ok(());
            }
            let _ = self.0.push(c);
        }
        Ok(())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.step)?;
        if !self.context.is_empty() {
            if !self.step.is_empty() {
                f.write_str(" ")?;
            }
            f.write_str(&self.context)?;
        }
        if let Some(e) = self.errno {
            write!(f, ": {} ({})", errno_name(e), errno_text(e))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} [{:?}]", self.kind)
    }
}

/// Build an error with context: `err!(Failed, "mount", "{} on {}", src, dst)`.
#[macro_export]
macro_rules! err {
    ($kind:ident, $step:expr) => {
        $crate::error::Error::new($crate::error::Kind::$kind, $step)
    };
    ($kind:ident, $step:expr, $($arg:tt)+) => {
        $crate::error::Error::new($crate::error::Kind::$kind, $step).ctx(format_args!($($arg)+))
    };
}

/// Extension to attach a step and context to rustix results.
pub trait Step<T> {
    fn step(self, step: &'static str) -> Result<T>;
    fn step_ctx(self, step: &'static str, args: fmt::Arguments<'_>) -> Result<T>;
}

impl<T> Step<T> for core::result::Result<T, rustix::io::Errno> {
    fn step(self, step: &'static str) -> Result<T> {
        self.map_err(|e| Error::sys(step, e.raw_os_error()))
    }
    fn step_ctx(self, step: &'static str, args: fmt::Arguments<'_>) -> Result<T> {
        self.map_err(|e| Error::sys(step, e.raw_os_error()).ctx(args))
    }
}

impl<T> Step<T> for core::result::Result<T, i32> {
    fn step(self, step: &'static str) -> Result<T> {
        self.map_err(|e| Error::sys(step, e))
    }
    fn step_ctx(self, step: &'static str, args: fmt::Arguments<'_>) -> Result<T> {
        self.map_err(|e| Error::sys(step, e).ctx(args))
    }
}

/// The symbolic name of an errno value.
pub fn errno_name(e: i32) -> &'static str {
    match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::EPIPE => "EPIPE",
        libc::ERANGE => "ERANGE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EPROTO => "EPROTO",
        libc::EDEADLK => "EDEADLK",
        _ => "errno",
    }
}

/// The text of an errno value, without allocation.
pub fn errno_text(e: i32) -> &'static str {
    match e {
        libc::EPERM => "Operation not permitted",
        libc::ENOENT => "No such file or directory",
        libc::ESRCH => "No such process",
        libc::EINTR => "Interrupted system call",
        libc::EIO => "I/O error",
        libc::ENXIO => "No such device or address",
        libc::E2BIG => "Argument list too long",
        libc::ENOEXEC => "Exec format error",
        libc::EBADF => "Bad file descriptor",
        libc::ECHILD => "No child process",
        libc::EAGAIN => "Resource temporarily unavailable",
        libc::ENOMEM => "Out of memory",
        libc::EACCES => "Permission denied",
        libc::EFAULT => "Bad address",
        libc::EBUSY => "Resource busy",
        libc::EEXIST => "File exists",
        libc::EXDEV => "Cross-device link",
        libc::ENODEV => "No such device",
        libc::ENOTDIR => "Not a directory",
        libc::EISDIR => "Is a directory",
        libc::EINVAL => "Invalid argument",
        libc::ENFILE => "Too many open files in system",
        libc::EMFILE => "No file descriptors available",
        libc::ENOTTY => "Not a tty",
        libc::ETXTBSY => "Text file busy",
        libc::EFBIG => "File too large",
        libc::ENOSPC => "No space left on device",
        libc::ESPIPE => "Invalid seek",
        libc::EROFS => "Read-only file system",
        libc::EMLINK => "Too many links",
        libc::EPIPE => "Broken pipe",
        libc::ERANGE => "Result not representable",
        libc::ENAMETOOLONG => "Filename too long",
        libc::ENOSYS => "Function not implemented",
        libc::ENOTEMPTY => "Directory not empty",
        libc::ELOOP => "Symbolic link loop",
        libc::EOPNOTSUPP => "Not supported",
        libc::ECONNREFUSED => "Connection refused",
        libc::ETIMEDOUT => "Operation timed out",
        libc::EOVERFLOW => "Value too large for data type",
        libc::ENOTSOCK => "Not a socket",
        libc::EPROTO => "Protocol error",
        libc::EDEADLK => "Resource deadlock would occur",
        _ => "unknown error",
    }
}
