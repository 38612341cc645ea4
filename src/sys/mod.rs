//! Thin wrappers over the system calls mote makes: the one place with `unsafe`.
//!
//! Each wrapper returns `Result<T, Errno>` where `Errno` is the raw errno value; callers add
//! the step and context (see `crate::error`). Paths are passed as `&str` and turned into
//! NUL-terminated strings on the stack (at most PATH_MAX bytes), so no wrapper allocates.

#![allow(clippy::missing_safety_doc)]

use crate::prelude::*;

pub mod alloc;
pub mod doc;
pub mod env;
pub mod fs;
pub mod kernel;
pub mod proc;

use core::ffi::{c_char, c_int, c_ulong, c_void, CStr};
use rustix::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A raw errno value.
pub type Errno = i32;
pub type SysResult<T> = Result<T, Errno>;

/// The errno of the last failed libc call.
pub fn errno() -> Errno {
    // SAFETY: musl's __errno_location returns this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

/// Turn a libc return value (-1 on error) into a result.
fn cvt(r: c_int) -> SysResult<c_int> {
    if r == -1 {
        Err(errno())
    } else {
        Ok(r)
    }
}

fn cvt_long(r: libc::c_long) -> SysResult<libc::c_long> {
    if r == -1 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// Room on the stack for one path as a C string (at most PATH_MAX bytes with its NUL).
///
/// `uninit` reserves the room without writing it and `set` copies only the bytes the path
/// needs: the buffer is never zeroed nor moved (it used to be, costing 12 KiB of copies per
/// call and a measurable share of `mote run`'s CPU time).
pub struct CBuf {
    buf: [core::mem::MaybeUninit<u8>; libc::PATH_MAX as usize],
}

impl CBuf {
    #[inline(always)]
    pub fn uninit() -> CBuf {
        CBuf {
            buf: [core::mem::MaybeUninit::uninit(); libc::PATH_MAX as usize],
        }
    }

    /// Copy `s` with a NUL; EINVAL if it holds a NUL byte, ENAMETOOLONG if it does not fit.
    pub fn set(&mut self, s: &str) -> SysResult<&CStr> {
        let b = s.as_bytes();
        if b.len() >= self.buf.len() {
            return Err(libc::ENAMETOOLONG);
        }
        if b.contains(&0) {
            return Err(libc::EINVAL);
        }
        for (d, c) in self.buf.iter_mut().zip(b) {
            d.write(*c);
        }
        self.buf[b.len()].write(0);
        // SAFETY: the first b.len() + 1 bytes were written just above; the only NUL among them
        // is the last one (checked), so they form a valid C string borrowed from `self`.
        Ok(unsafe {
            CStr::from_bytes_with_nul_unchecked(core::slice::from_raw_parts(
                self.buf.as_ptr().cast::<u8>(),
                b.len() + 1,
            ))
        })
    }

    /// `set` for an optional string.
    pub fn set_opt(&mut self, s: Option<&str>) -> SysResult<Option<&CStr>> {
        s.map(|s| self.set(s)).transpose()
    }
}

/// `/proc/self/fd/N` as a C string: how mote names a file it has opened and verified, for
/// calls (mount) that only take paths.
pub struct FdPath {
    buf: [u8; 32],
}

impl FdPath {
    pub fn as_cstr(&self) -> &CStr {
        // The buffer always holds the NUL written by `fd_path`.
        CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"")
    }
}

pub fn fd_path(fd: RawFd) -> FdPath {
    const PREFIX: &[u8] = b"/proc/self/fd/";
    let mut buf = [0u8; 32];
    buf[..PREFIX.len()].copy_from_slice(PREFIX);
    // Digits of the fd (never negative for an fd mote holds; a negative one names nothing).
    let mut digits = [0u8; 10];
    let mut n = fd.max(0) as u32;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let d = &digits[i..];
    buf[PREFIX.len()..PREFIX.len() + d.len()].copy_from_slice(d);
    FdPath { buf }
}

fn opt_ptr(c: Option<&CStr>) -> *const c_char {
    c.map_or(core::ptr::null(), CStr::as_ptr)
}

// ---------------------------------------------------------------------------------------------
// Mounts

/// mount(2) with raw flags. `target` may be a `/proc/self/fd/N` path.
pub fn mount(
    src: Option<&str>,
    target: &CStr,
    fstype: Option<&str>,
    flags: c_ulong,
    data: Option<&str>,
) -> SysResult<()> {
    let (mut b1, mut b2, mut b3) = (CBuf::uninit(), CBuf::uninit(), CBuf::uninit());
    let src = b1.set_opt(src)?;
    let fstype = b2.set_opt(fstype)?;
    let data = b3.set_opt(data)?;
    // SAFETY: every pointer is null or a NUL-terminated buffer that outlives the call.
    cvt(unsafe {
        libc::mount(
            opt_ptr(src),
            target.as_ptr(),
            opt_ptr(fstype),
            flags,
            opt_ptr(data).cast::<c_void>(),
        )
    })
    .map(drop)
}

/// mount(2) with the source given as a C string (for `/proc/self/fd/N` sources).
pub fn mount_c(src: &CStr, target: &CStr, fstype: Option<&str>, flags: c_ulong, data: Option<&str>) -> SysResult<()> {
    let (mut b2, mut b3) = (CBuf::uninit(), CBuf::uninit());
    let fstype = b2.set_opt(fstype)?;
    let data = b3.set_opt(data)?;
    // SAFETY: every pointer is null or a NUL-terminated buffer that outlives the call.
    cvt(unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            opt_ptr(fstype),
            flags,
            opt_ptr(data).cast::<c_void>(),
        )
    })
    .map(drop)
}

pub fn umount2(target: &CStr, flags: c_int) -> SysResult<()> {
    // SAFETY: target is NUL-terminated.
    cvt(unsafe { libc::umount2(target.as_ptr(), flags) }).map(drop)
}

/// mount_setattr(2) (Linux 5.12) on the mount at `dfd`/`path`.
pub fn mount_setattr(dfd: RawFd, path: &CStr, flags: u32, set: u64, clr: u64, propagation: u64) -> SysResult<()> {
    mount_setattr_full(dfd, path, flags, set, clr, propagation, 0)
}

fn mount_setattr_full(
    dfd: RawFd,
    path: &CStr,
    flags: u32,
    set: u64,
    clr: u64,
    propagation: u64,
    userns: u64,
) -> SysResult<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation,
        userns_fd: userns,
    };
    // SAFETY: `attr` is a valid mount_attr of the size passed; path is NUL-terminated.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dfd,
            path.as_ptr(),
            flags,
            &attr as *const MountAttr,
            core::mem::size_of::<MountAttr>(),
        )
    };
    cvt_long(r).map(drop)
}

pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> SysResult<()> {
    // SAFETY: both paths are NUL-terminated.
    cvt_long(unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) }).map(drop)
}

pub fn chroot(path: &CStr) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::chroot(path.as_ptr()) }).map(drop)
}

pub fn chdir(path: &CStr) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
}

pub fn fchdir(fd: RawFd) -> SysResult<()> {
    // SAFETY: fchdir takes any fd; a bad one gives EBADF.
    cvt(unsafe { libc::fchdir(fd) }).map(drop)
}

// ---------------------------------------------------------------------------------------------
// Namespaces and identity

pub fn unshare(flags: c_int) -> SysResult<()> {
    // SAFETY: unshare takes only flags.
    cvt(unsafe { libc::unshare(flags) }).map(drop)
}

pub fn setns(fd: RawFd, nstype: c_int) -> SysResult<()> {
    // SAFETY: setns takes an fd and flags.
    cvt(unsafe { libc::setns(fd, nstype) }).map(drop)
}

/// Bring the loopback interface of this network namespace up (SIOCGIFFLAGS, then
/// SIOCSIFFLAGS with IFF_UP), as runc does for a new network namespace.
pub fn loopback_up() -> SysResult<()> {
    // struct ifreq: the name, then a union whose first 2 bytes are ifr_flags. 40 bytes is its
    // size on 64-bit targets and more than its 32 on 32-bit ones.
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        flags: i16,
        _rest: [u8; 22],
    }
    let mut r = IfReq {
        name: [0; 16],
        flags: 0,
        _rest: [0; 22],
    };
    r.name[..2].copy_from_slice(b"lo");
    // SAFETY: plain socket(2); the fd is owned below.
    let fd = owned(cvt(unsafe {
        libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
    })?);
    // SAFETY: `r` is a writable struct ifreq-sized buffer for the duration of the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut r as *mut IfReq) })?;
    r.flags |= libc::IFF_UP as i16;
    // SAFETY: as above; the kernel reads the name and flags.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCSIFFLAGS as _, &mut r as *mut IfReq) }).map(drop)
}

pub fn sethostname(name: &str) -> SysResult<()> {
    // SAFETY: pointer and length describe `name`.
    cvt(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

pub fn setdomainname(name: &str) -> SysResult<()> {
    // SAFETY: pointer and length describe `name`.
    cvt(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// setresuid(2). Through libc, not the raw call: on 32-bit ARM and x86 the raw
/// `setresuid` takes 16-bit ids (the 32-bit call is `setresuid32`), which musl picks.
pub fn setresuid(r: u32, e: u32, s: u32) -> SysResult<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::setresuid(r, e, s) }).map(drop)
}

/// setresgid(2), through libc for the same reason as [`setresuid`].
pub fn setresgid(r: u32, e: u32, s: u32) -> SysResult<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::setresgid(r, e, s) }).map(drop)
}

/// setgroups(2), through libc (32-bit ARM and x86 have a 16-bit raw `setgroups`).
pub fn setgroups(gids: &[u32]) -> SysResult<()> {
    // SAFETY: pointer and length describe `gids`; gid_t is u32 on every Linux target.
    cvt(unsafe { libc::setgroups(gids.len(), gids.as_ptr()) }).map(drop)
}

pub fn umask(mask: u32) -> u32 {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

pub fn prctl(op: c_int, a2: c_ulong, a3: c_ulong, a4: c_ulong, a5: c_ulong) -> SysResult<c_int> {
    // SAFETY: every prctl mote uses takes integer arguments only.
    cvt(unsafe { libc::prctl(op, a2, a3, a4, a5) })
}

/// The five capability sets as 64-bit masks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

pub fn capget() -> SysResult<CapSets> {
    let mut hdr = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and a two-element data array, as capget with version 3 expects.
    cvt_long(unsafe { libc::syscall(libc::SYS_capget, &mut hdr as *mut CapHeader, data.as_mut_ptr()) })?;
    let j = |lo: u32, hi: u32| (lo as u64) | ((hi as u64) << 32);
    Ok(CapSets {
        effective: j(data[0].effective, data[1].effective),
        permitted: j(data[0].permitted, data[1].permitted),
        inheritable: j(data[0].inheritable, data[1].inheritable),
    })
}

pub fn capset(c: CapSets) -> SysResult<()> {
    let mut hdr = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: c.effective as u32,
            permitted: c.permitted as u32,
            inheritable: c.inheritable as u32,
        },
        CapData {
            effective: (c.effective >> 32) as u32,
            permitted: (c.permitted >> 32) as u32,
            inheritable: (c.inheritable >> 32) as u32,
        },
    ];
    // SAFETY: header and a two-element data array, as capset with version 3 expects.
    cvt_long(unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) }).map(drop)
}

pub fn setrlimit(resource: c_int, soft: u64, hard: u64) -> SysResult<()> {
    let lim = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: pid 0 is ourselves; `lim` is a valid rlimit64; old may be null.
    cvt(unsafe { libc::prlimit64(0, resource as _, &lim, core::ptr::null_mut()) }).map(drop)
}

pub fn personality(p: c_ulong) -> SysResult<()> {
    // SAFETY: integer argument only.
    cvt(unsafe { libc::personality(p) }).map(drop)
}

pub fn ioprio_set(which: c_int, who: c_int, prio: c_int) -> SysResult<()> {
    // SAFETY: integer arguments only.
    cvt_long(unsafe { libc::syscall(libc::SYS_ioprio_set, which, who, prio) }).map(drop)
}

/// sched_setattr(2) for the calling thread.
pub fn sched_setattr(
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
) -> SysResult<()> {
    #[repr(C)]
    struct SchedAttr {
        size: u32,
        sched_policy: u32,
        sched_flags: u64,
        sched_nice: i32,
        sched_priority: u32,
        sched_runtime: u64,
        sched_deadline: u64,
        sched_period: u64,
    }
    let attr = SchedAttr {
        size: core::mem::size_of::<SchedAttr>() as u32,
        sched_policy: policy,
        sched_flags: flags,
        sched_nice: nice,
        sched_priority: priority,
        sched_runtime: runtime,
        sched_deadline: deadline,
        sched_period: period,
    };
    // SAFETY: `attr` is a valid sched_attr (version 0 size); pid 0 is the calling thread.
    cvt_long(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) }).map(drop)
}

/// Install a classic BPF seccomp filter. `prog` is an array of `sock_filter` (8 bytes each).
pub fn seccomp_set_filter(flags: u32, insns: &[[u8; 8]]) -> SysResult<c_int> {
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const [u8; 8],
    }
    let prog = SockFprog {
        len: insns.len() as u16,
        filter: insns.as_ptr(),
    };
    // SAFETY: `prog` points at `insns`, which outlive the call; the kernel copies the program.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            1, /* SECCOMP_SET_MODE_FILTER */
            flags,
            &prog as *const SockFprog,
        )
    };
    cvt_long(r).map(|v| v as c_int)
}

// ---------------------------------------------------------------------------------------------
// File descriptors

/// Take ownership of a raw fd returned by a system call.
pub fn owned(fd: c_int) -> OwnedFd {
    // SAFETY: called only with fds just returned by a successful system call, owned by no one.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Does the kernel know system call `nr`? Called with arguments it rejects before acting
/// (bad fds, null pointers, zero sizes); only ENOSYS versus any other answer is looked at.
pub fn syscall_exists(nr: libc::c_long, a: [libc::c_long; 4]) -> bool {
    // SAFETY: the callers pass invalid arguments that every kernel refuses without acting.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3]) };
    r != -1 || errno() != libc::ENOSYS
}

/// close(2) of a raw fd that no OwnedFd owns (fds inherited across fork).
pub fn close_raw(fd: RawFd) {
    // SAFETY: the callers close only fds they inherited and never wrap in an OwnedFd.
    unsafe { libc::close(fd) };
}

/// faccessat(2) with AT_EACCESS: may the effective ids execute/read/write `path`?
pub fn access_effective(path: &CStr, mode: c_int) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::faccessat(libc::AT_FDCWD, path.as_ptr(), mode, libc::AT_EACCESS) }).map(drop)
}

/// close_range(2): close fds `first..=last` (ENOSYS on kernels before 5.9).
pub fn close_range(first: u32, last: u32) -> SysResult<()> {
    if first > last {
        return Ok(());
    }
    // SAFETY: integer arguments only; the caller owns no OwnedFd in the range (it closes
    // only fds it inherited and does not track).
    cvt_long(unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) }).map(drop)
}

/// The current working directory as the kernel names it: a path outside the process's root
/// comes back as "(unreachable)/..." (Linux 2.6.36+), which is how mote checks that the
/// container's cwd is inside it.
pub fn getcwd(buf: &mut [u8]) -> SysResult<&str> {
    // SAFETY: pointer and length describe `buf`; the kernel writes a NUL-terminated path.
    let r = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    let n = cvt_long(r)? as usize;
    let end = buf[..n.min(buf.len())]
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(n.min(buf.len()));
    core::str::from_utf8(&buf[..end]).map_err(|_| libc::EINVAL)
}

/// close_range(2) with CLOSE_RANGE_CLOEXEC: mark fds `first..` close-on-exec.
pub fn cloexec_from(first: u32) -> SysResult<()> {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: integer arguments only; marking fds close-on-exec does not close them.
    cvt_long(unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) }).map(drop)
}

pub fn set_cloexec(fd: RawFd, on: bool) -> SysResult<()> {
    // SAFETY: F_GETFD/F_SETFD on an fd; a bad fd gives EBADF.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    let new = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, new) }).map(drop)
}

/// A close-on-exec duplicate of `fd` numbered `min` or above.
pub fn dup_above(fd: RawFd, min: RawFd) -> SysResult<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on an fd; a bad fd gives EBADF.
    Ok(owned(cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) })?))
}

/// Make `fds[i]` this process's fd `i` (not close-on-exec), for every i from `from`: the open
/// files a caller chose for a container's process. The sources are first copied above every
/// source and target, so that a source numbered like a target is not lost.
pub fn install_fds(fds: &[RawFd], from: usize) -> SysResult<()> {
    let base = fds.iter().copied().max().unwrap_or(0).max(fds.len() as RawFd) + 1;
    let mut tmp: heapless::Vec<OwnedFd, 64> = heapless::Vec::new();
    for &src in fds.iter().skip(from) {
        tmp.push(dup_above(src, base)?).map_err(|_| libc::EMFILE)?;
    }
    for (i, t) in tmp.iter().enumerate() {
        dup2(t.as_raw_fd(), (from + i) as RawFd)?;
    }
    Ok(())
}

/// dup2 without O_CLOEXEC on the new fd.
pub fn dup2(old: RawFd, new: RawFd) -> SysResult<()> {
    // SAFETY: dup2 on two fds; errors are reported.
    cvt(unsafe { libc::dup2(old, new) }).map(drop)
}

/// A connected SOCK_SEQPACKET pair, close-on-exec.
pub fn seqpacket_pair() -> SysResult<(OwnedFd, OwnedFd)> {
    socket_pair(libc::SOCK_SEQPACKET)
}

/// socketpair(2) of unix sockets of `kind`, close-on-exec.
fn socket_pair(kind: c_int) -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` has room for the two fds.
    cvt(unsafe { libc::socketpair(libc::AF_UNIX, kind | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) })?;
    Ok((owned(fds[0]), owned(fds[1])))
}

pub fn send(fd: &OwnedFd, buf: &[u8]) -> SysResult<usize> {
    loop {
        // SAFETY: pointer and length describe `buf`.
        let r = unsafe { libc::send(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

pub fn recv(fd: &OwnedFd, buf: &mut [u8]) -> SysResult<usize> {
    loop {
        // SAFETY: pointer and length describe `buf`.
        let r = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// SO_RCVTIMEO: a recv on `fd` fails with EAGAIN once it has waited `t`.
pub fn set_recv_timeout(fd: &OwnedFd, t: core::time::Duration) -> SysResult<()> {
    rustix::net::sockopt::set_socket_timeout(fd, rustix::net::sockopt::Timeout::Recv, Some(t))
        .map_err(|e| e.raw_os_error())
}

/// A new pseudo-terminal from the /dev/ptmx of the current root: (master, slave), both
/// close-on-exec, the slave unlocked and opened without becoming a controlling terminal.
pub fn open_pty() -> SysResult<(OwnedFd, OwnedFd)> {
    let master = fs::open("/dev/ptmx", libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC, 0)?;
    let unlock: c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int through the pointer, which is valid for the call.
    cvt(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK as _, &unlock) })?;
    // The slave straight from the master (Linux 4.13), which cannot be fooled by another
    // /dev/pts mount; else by its number.
    // SAFETY: TIOCGPTPEER takes open flags as an integer argument and returns a new fd.
    let r = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER as _,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    let slave = if r >= 0 {
        // SAFETY: the ioctl returned a new fd that nothing else owns.
        unsafe { OwnedFd::from_raw_fd(r) }
    } else {
        let mut n: c_int = 0;
        // SAFETY: TIOCGPTN writes one int through the pointer, valid for the call.
        cvt(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN as _, &mut n) })?;
        let path = format!("/dev/pts/{n}");
        fs::open(&path, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC, 0)?
    };
    Ok((master, slave))
}

/// Set a terminal's size (TIOCSWINSZ).
pub fn set_winsize(fd: RawFd, rows: u16, cols: u16) -> SysResult<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize through the pointer, valid for the call.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ as _, &ws) }).map(drop)
}

/// Send one fd over a unix socket with SCM_RIGHTS, with `data` as the message body.
pub fn send_fd(sock: RawFd, data: &[u8], fd: RawFd) -> SysResult<()> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut c_void,
        iov_len: data.len(),
    };
    // Control buffer for one fd, aligned for cmsghdr.
    #[repr(C, align(8))]
    struct Ctl([u8; 64]);
    let mut ctl = Ctl([0; 64]);
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(core::mem::size_of::<c_int>() as u32) } as usize;
    // SAFETY: a zeroed msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.0.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: msg_control points at `ctl`, which is large enough for one cmsghdr with one fd;
    // CMSG_FIRSTHDR/CMSG_DATA stay within it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return Err(libc::EINVAL);
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(core::mem::size_of::<c_int>() as u32) as _;
        core::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>(), fd);
    }
    loop {
        // SAFETY: `msg` describes valid buffers that outlive the call.
        let r = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
        if r >= 0 {
            return Ok(());
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// Receive one message with at most one fd (SCM_RIGHTS). Returns the body length and the fd.
pub fn recv_fd(sock: RawFd, buf: &mut [u8]) -> SysResult<(usize, Option<OwnedFd>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    #[repr(C, align(8))]
    struct Ctl([u8; 64]);
    let mut ctl = Ctl([0; 64]);
    // SAFETY: a zeroed msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.0.as_mut_ptr().cast();
    msg.msg_controllen = ctl.0.len() as _;
    let n = loop {
        // SAFETY: `msg` describes valid buffers that outlive the call.
        let r = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if r >= 0 {
            break r as usize;
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    };
    let mut fd = None;
    // SAFETY: the kernel filled msg_control with at most msg_controllen bytes of cmsghdrs;
    // CMSG_FIRSTHDR/CMSG_NXTHDR walk them within that length.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let raw = core::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>());
                fd = Some(owned(raw));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n, fd))
}

/// poll(2) on one fd for `events`; returns the revents, or 0 on timeout.
pub fn poll1(fd: RawFd, events: i16, timeout_ms: c_int) -> SysResult<i16> {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    loop {
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if r >= 0 {
            return Ok(if r == 0 { 0 } else { p.revents });
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// poll(2) on several fds; returns how many have events (0 on timeout).
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: c_int) -> SysResult<usize> {
    loop {
        // SAFETY: `fds` is a valid array of pollfd of the given length.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// A signalfd for the signals of `set` (which the caller keeps blocked), close-on-exec.
pub fn signalfd(set: &proc::SigSet) -> SysResult<OwnedFd> {
    // SAFETY: a valid, initialized sigset; -1 asks for a new fd.
    let fd = cvt(unsafe { libc::signalfd(-1, set.as_ptr(), libc::SFD_CLOEXEC) })?;
    Ok(owned(fd))
}

/// Read one signal number from a signalfd.
pub fn read_signal(fd: RawFd) -> SysResult<c_int> {
    // SAFETY: signalfd_siginfo is plain data; a zeroed one is valid.
    let mut si: libc::signalfd_siginfo = unsafe { core::mem::zeroed() };
    let want = core::mem::size_of::<libc::signalfd_siginfo>();
    loop {
        // SAFETY: reading at most `want` bytes into `si`.
        let r = unsafe { libc::read(fd, (&mut si as *mut libc::signalfd_siginfo).cast(), want) };
        if r == want as isize {
            return Ok(si.ssi_signo as c_int);
        }
        if r >= 0 {
            return Err(libc::EIO);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// A terminal's size (TIOCGWINSZ): (rows, columns).
pub fn get_winsize(fd: RawFd) -> SysResult<(u16, u16)> {
    // SAFETY: winsize is plain data; a zeroed one is valid.
    let mut ws: libc::winsize = unsafe { core::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize through the pointer, valid for the call.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCGWINSZ as _, &mut ws) })?;
    Ok((ws.ws_row, ws.ws_col))
}

/// A terminal put in raw mode, restored when dropped.
pub struct RawTty {
    fd: rustix::fd::BorrowedFd<'static>,
    saved: rustix::termios::Termios,
}

/// Is stderr a terminal (a person watching, not a log or a pipe)?
pub fn stderr_is_terminal() -> bool {
    // SAFETY: fd 2 is never closed by mote (init_process keeps 0-2 open), so the borrow lives
    // as long as the process.
    let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(2) };
    rustix::termios::isatty(fd)
}

impl RawTty {
    /// Raw mode for stdin if it is a terminal (None if it is not).
    pub fn stdin() -> Option<RawTty> {
        // SAFETY: fd 0 is never closed by mote, so the borrow lives as long as the process.
        let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(0) };
        if !rustix::termios::isatty(fd) {
            return None;
        }
        let saved = rustix::termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(fd, rustix::termios::OptionalActions::Now, &raw).ok()?;
        Some(RawTty { fd, saved })
    }
}

impl Drop for RawTty {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(self.fd, rustix::termios::OptionalActions::Now, &self.saved);
    }
}

/// A pipe, both ends close-on-exec: (read, write).
pub fn pipe() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` has room for the two fds.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    Ok((owned(fds[0]), owned(fds[1])))
}

/// A connected pair of unix stream sockets, close-on-exec.
pub fn stream_pair() -> SysResult<(OwnedFd, OwnedFd)> {
    socket_pair(libc::SOCK_STREAM)
}

// ---------------------------------------------------------------------------------------------
// eBPF (cgroup v2 device filters)

/// bpf(BPF_PROG_LOAD) of a BPF_PROG_TYPE_CGROUP_DEVICE program (`insns`: 8-byte eBPF
/// instructions). On failure, the verifier's log (if any) is written into `log`.
pub fn bpf_load_cgroup_device(insns: &[[u8; 8]], license: &CStr, log: &mut [u8]) -> SysResult<OwnedFd> {
    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
    // union bpf_attr, the BPF_PROG_LOAD member, laid out by hand (all fields naturally aligned).
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&BPF_PROG_TYPE_CGROUP_DEVICE.to_ne_bytes());
    attr[4..8].copy_from_slice(&(insns.len() as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    if !log.is_empty() {
        attr[24..28].copy_from_slice(&1u32.to_ne_bytes()); // log_level
        attr[28..32].copy_from_slice(&(log.len() as u32).to_ne_bytes());
        attr[32..40].copy_from_slice(&(log.as_mut_ptr() as u64).to_ne_bytes());
    }
    // SAFETY: `attr` is a valid bpf_attr for BPF_PROG_LOAD whose pointers (instructions,
    // license, log buffer) refer to memory that outlives the call; the kernel copies them.
    let r = unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_LOAD, attr.as_mut_ptr(), attr.len() as u32) };
    Ok(owned(cvt_long(r)? as c_int))
}

/// bpf(BPF_PROG_ATTACH) of a cgroup device program to a cgroup directory fd.
pub fn bpf_attach_cgroup_device(cgroup: RawFd, prog: RawFd, replace: Option<RawFd>) -> SysResult<()> {
    const BPF_PROG_ATTACH: libc::c_long = 8;
    const BPF_CGROUP_DEVICE: u32 = 6;
    const BPF_F_ALLOW_MULTI: u32 = 2;
    const BPF_F_REPLACE: u32 = 4;
    let mut attr = [0u8; 32];
    attr[0..4].copy_from_slice(&(cgroup as u32).to_ne_bytes());
    attr[4..8].copy_from_slice(&(prog as u32).to_ne_bytes());
    attr[8..12].copy_from_slice(&BPF_CGROUP_DEVICE.to_ne_bytes());
    let mut flags = BPF_F_ALLOW_MULTI;
    if let Some(old) = replace {
        flags |= BPF_F_REPLACE;
        attr[16..20].copy_from_slice(&(old as u32).to_ne_bytes());
    }
    attr[12..16].copy_from_slice(&flags.to_ne_bytes());
    // SAFETY: `attr` is a valid bpf_attr for BPF_PROG_ATTACH (integers only).
    let r = unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_ATTACH, attr.as_mut_ptr(), attr.len() as u32) };
    cvt_long(r).map(drop)
}

/// bpf(BPF_PROG_QUERY): the ids of the device programs attached to a cgroup (at most 16).
pub fn bpf_query_cgroup_device(cgroup: RawFd) -> SysResult<heapless::Vec<u32, 16>> {
    const BPF_PROG_QUERY: libc::c_long = 16;
    const BPF_CGROUP_DEVICE: u32 = 6;
    let mut ids = [0u32; 16];
    let mut attr = [0u8; 40];
    attr[0..4].copy_from_slice(&(cgroup as u32).to_ne_bytes());
    attr[4..8].copy_from_slice(&BPF_CGROUP_DEVICE.to_ne_bytes());
    attr[16..24].copy_from_slice(&(ids.as_mut_ptr() as u64).to_ne_bytes());
    attr[24..28].copy_from_slice(&(ids.len() as u32).to_ne_bytes());
    // SAFETY: `attr` is a valid bpf_attr for BPF_PROG_QUERY; prog_ids points at `ids`, whose
    // length is prog_cnt.
    let r = unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_QUERY, attr.as_mut_ptr(), attr.len() as u32) };
    cvt_long(r)?;
    let n = u32::from_ne_bytes([attr[24], attr[25], attr[26], attr[27]]) as usize;
    Ok(ids[..n.min(16)].iter().copied().collect())
}

/// bpf(BPF_PROG_GET_FD_BY_ID).
pub fn bpf_prog_fd_by_id(id: u32) -> SysResult<OwnedFd> {
    const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
    let mut attr = [0u8; 16];
    attr[0..4].copy_from_slice(&id.to_ne_bytes());
    // SAFETY: `attr` is a valid bpf_attr for BPF_PROG_GET_FD_BY_ID (integers only).
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_GET_FD_BY_ID,
            attr.as_mut_ptr(),
            attr.len() as u32,
        )
    };
    Ok(owned(cvt_long(r)? as c_int))
}

// ---------------------------------------------------------------------------------------------
// The new mount API (idmapped mounts)

pub const OPEN_TREE_CLONE: u32 = 1;
pub const AT_RECURSIVE: u32 = 0x8000;
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// open_tree(2): a detached copy (OPEN_TREE_CLONE) of the mount tree at `path`.
pub fn open_tree(path: &str, flags: u32) -> SysResult<OwnedFd> {
    let mut b = CBuf::uninit();
    let c = b.set(path)?;
    // SAFETY: path is NUL-terminated; flags are integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            flags | libc::O_CLOEXEC as u32,
        )
    };
    Ok(owned(cvt_long(r)? as c_int))
}

/// mount_setattr(2) with a user namespace fd (MOUNT_ATTR_IDMAP) on a detached tree.
pub fn mount_setattr_idmap(tree: RawFd, flags: u32, set: u64, userns: RawFd) -> SysResult<()> {
    mount_setattr_full(tree, c"", flags | libc::AT_EMPTY_PATH as u32, set, 0, 0, userns as u64)
}

/// move_mount(2) of a detached tree onto the directory or file `to` (an fd, O_PATH is fine).
pub fn move_mount_fd(tree: RawFd, to: RawFd) -> SysResult<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x04;
    const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
    // SAFETY: both paths are the empty string; fds and flags are integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree,
            c"".as_ptr(),
            to,
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    cvt_long(r).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbuf_copies_the_path_with_one_nul() {
        let mut b = CBuf::uninit();
        assert_eq!(b.set("/proc/self/fd/7").unwrap().to_bytes(), b"/proc/self/fd/7");
        // a shorter path after a longer one ends at its own NUL
        assert_eq!(b.set("/a").unwrap().to_bytes(), b"/a");
        assert_eq!(b.set("").unwrap().to_bytes(), b"");
        let max = "x".repeat(libc::PATH_MAX as usize - 1);
        assert_eq!(b.set(&max).unwrap().to_bytes().len(), max.len());
    }

    #[test]
    fn cbuf_refuses_nul_and_overlong_paths() {
        let mut b = CBuf::uninit();
        assert_eq!(b.set("a\0b").unwrap_err(), libc::EINVAL);
        let long = "x".repeat(libc::PATH_MAX as usize);
        assert_eq!(b.set(&long).unwrap_err(), libc::ENAMETOOLONG);
        assert_eq!(b.set_opt(None).unwrap(), None);
    }

    #[test]
    fn fd_path_names_the_fd() {
        assert_eq!(fd_path(0).as_cstr().to_bytes(), b"/proc/self/fd/0");
        assert_eq!(fd_path(42).as_cstr().to_bytes(), b"/proc/self/fd/42");
        assert_eq!(fd_path(i32::MAX).as_cstr().to_bytes(), b"/proc/self/fd/2147483647");
    }
}

/// The Linux watchdog ioctls (linux/watchdog.h; the same numbers on every architecture mote
/// targets).
pub mod watchdog {
    use super::{cvt, SysResult};
    use core::ffi::{c_int, c_ulong};
    use rustix::fd::RawFd;

    pub const GETBOOTSTATUS: c_ulong = 0x8004_5702;
    pub const KEEPALIVE: c_ulong = 0x8004_5705;
    pub const SETTIMEOUT: c_ulong = 0xc004_5706;
    pub const GETTIMEOUT: c_ulong = 0x8004_5707;
    /// In the boot status: the last reboot was caused by the watchdog.
    pub const CARDRESET: c_int = 0x0020;

    /// One watchdog ioctl with an int argument (in and out).
    pub fn ioctl(fd: RawFd, req: c_ulong, val: &mut c_int) -> SysResult<()> {
        // SAFETY: every watchdog request above reads or writes one int through the pointer,
        // which is valid for the call.
        cvt(unsafe { libc::ioctl(fd, req as _, val as *mut c_int) }).map(drop)
    }
}
