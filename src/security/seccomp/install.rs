//! Loading a compiled filter into the kernel.

use super::*;
use crate::error::Error;
use rustix::fd::OwnedFd;

/// The filter flags, their names and the Linux version that introduced each.
const FLAGS: [(u32, &str, (u32, u32)); 6] = [
    (FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC", (3, 17)),
    (FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG", (4, 14)),
    (FLAG_SPEC_ALLOW, "SECCOMP_FILTER_FLAG_SPEC_ALLOW", (4, 17)),
    (FLAG_NEW_LISTENER, "SECCOMP_FILTER_FLAG_NEW_LISTENER", (5, 0)),
    (FLAG_TSYNC_ESRCH, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH", (5, 7)),
    (
        FLAG_WAIT_KILLABLE_RECV,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        (5, 19),
    ),
];

/// Install `prog` on the calling thread with seccomp(SECCOMP_SET_MODE_FILTER).
///
/// The caller must have set no_new_privs (or hold CAP_SYS_ADMIN): this does not. Returns the
/// notification listener when the program has [`FLAG_NEW_LISTENER`] (a NOTIFY action), else
/// None. When the kernel refuses the flags (EINVAL), the error names the flags this kernel is
/// too old for.
pub fn install(prog: &Program) -> Result<Option<OwnedFd>, Error> {
    const STEP: &str = "install seccomp filter";
    let fd = match crate::sys::seccomp_set_filter(prog.flags, prog.insns()) {
        Ok(fd) => fd,
        Err(libc::EINVAL) if prog.flags != 0 => return Err(flags_error(prog.flags, kernel_version())),
        Err(libc::ENOSYS) => {
            return Err(Error::sys(STEP, libc::ENOSYS).ctx(format_args!("(seccomp(2) needs Linux 3.17)")));
        }
        Err(libc::EACCES) => {
            return Err(Error::sys(STEP, libc::EACCES).ctx(format_args!("(needs no_new_privs or CAP_SYS_ADMIN)")));
        }
        Err(e) => return Err(Error::sys(STEP, e)),
    };
    if prog.flags & FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    if fd < 0 {
        return Err(Error::failed(STEP).ctx(format_args!("(no listener returned)")));
    }
    Ok(Some(crate::sys::owned(fd)))
}

/// EINVAL with flags set: name the flags newer than the running kernel (`kernel`), or all of
/// them when none is or the version is unknown. Does not allocate.
pub(super) fn flags_error(flags: u32, kernel: Option<(u32, u32)>) -> Error {
    let mut e = Error::sys("install seccomp filter", libc::EINVAL);
    let set = || FLAGS.iter().filter(move |f| flags & f.0 != 0);
    if let Some(k) = kernel {
        let mut too_new = set().filter(|f| k < f.2).peekable();
        if too_new.peek().is_some() {
            for (i, (_, name, (maj, min))) in too_new.enumerate() {
                let sep = if i == 0 { "(" } else { ", " };
                e = e.ctx(format_args!("{sep}{name} needs Linux {maj}.{min}"));
            }
            return e.ctx(format_args!("; this kernel is {}.{})", k.0, k.1));
        }
    }
    e = e.ctx(format_args!("(the kernel refused the filter or one of its flags:"));
    for (_, name, (maj, min)) in set() {
        e = e.ctx(format_args!(" {name} (Linux {maj}.{min})"));
    }
    e.ctx(format_args!(")"))
}

/// The running kernel's major and minor version, from uname.
fn kernel_version() -> Option<(u32, u32)> {
    let u = rustix::system::uname();
    let release = u.release().to_str().ok()?;
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}
