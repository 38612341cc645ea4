//! Files: open, read, write, make, and the power-loss-safe atomic write.

use crate::prelude::*;

use super::{cvt, cvt_long, errno, owned, CBuf, SysResult};
use core::ffi::{c_int, CStr};
use rustix::fd::{AsRawFd, OwnedFd, RawFd};

pub const AT_FDCWD: RawFd = libc::AT_FDCWD;

pub fn openat(dir: RawFd, path: &str, flags: c_int, mode: u32) -> SysResult<OwnedFd> {
    let mut c_b = CBuf::uninit();
    let c = c_b.set(path)?;
    openat_c(dir, c, flags, mode)
}

pub fn openat_c(dir: RawFd, path: &CStr, flags: c_int, mode: u32) -> SysResult<OwnedFd> {
    loop {
        // SAFETY: path is NUL-terminated; O_CLOEXEC is always added.
        let r = unsafe { libc::openat(dir, path.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) };
        if r >= 0 {
            return Ok(owned(r));
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

pub fn open(path: &str, flags: c_int, mode: u32) -> SysResult<OwnedFd> {
    openat(AT_FDCWD, path, flags, mode)
}

/// openat2(2) with `resolve` flags (RESOLVE_IN_ROOT...). ENOSYS where the kernel or the
/// emulator lacks it.
pub fn openat2(dir: RawFd, path: &str, flags: u64, mode: u64, resolve: u64) -> SysResult<OwnedFd> {
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let mut c_b = CBuf::uninit();
    let c = c_b.set(path)?;
    let how = OpenHow {
        flags: flags | libc::O_CLOEXEC as u64,
        mode,
        resolve,
    };
    loop {
        // SAFETY: `how` is a valid open_how of the size passed; path is NUL-terminated.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir,
                c.as_ptr(),
                &how as *const OpenHow,
                core::mem::size_of::<OpenHow>(),
            )
        };
        if r >= 0 {
            return Ok(owned(r as c_int));
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

pub fn mkdirat(dir: RawFd, path: &str, mode: u32) -> SysResult<()> {
    let mut c_b = CBuf::uninit();
    let c = c_b.set(path)?;
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::mkdirat(dir, c.as_ptr(), mode as libc::mode_t) }).map(drop)
}

pub fn mknodat(dir: RawFd, path: &str, mode: u32, dev: u64) -> SysResult<()> {
    let mut c_b = CBuf::uninit();
    let c = c_b.set(path)?;
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::mknodat(dir, c.as_ptr(), mode as libc::mode_t, dev as libc::dev_t) }).map(drop)
}

pub fn mkfifoat(dir: RawFd, path: &str, mode: u32) -> SysResult<()> {
    mknodat(dir, path, libc::S_IFIFO | mode, 0)
}

pub fn symlinkat(target: &str, dir: RawFd, path: &str) -> SysResult<()> {
    let mut t_b = CBuf::uninit();
    let t = t_b.set(target)?;
    let mut c_b = CBuf::uninit();
    let c = c_b.set(path)?;
    // SAFETY: both strings are NUL-terminated.
    cvt(unsafe { libc::symlinkat(t.as_ptr(), dir, c.as_ptr()) }).map(drop)
}

pub fn unlinkat(dir: RawFd, path: &str, flags: c_int) -> SysResult<()> {
    let mut c_b = CBuf::uninit();
    let c = c_b.set(path)?;
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::unlinkat(dir, c.as_ptr(), flags) }).map(drop)
}

/// unlinkat(2) with a C string name (any bytes, as the directory listed it).
pub fn unlinkat_c(dir: RawFd, path: &CStr, flags: c_int) -> SysResult<()> {
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::unlinkat(dir, path.as_ptr(), flags) }).map(drop)
}

pub fn renameat(olddir: RawFd, old: &str, newdir: RawFd, new: &str) -> SysResult<()> {
    let mut o_b = CBuf::uninit();
    let o = o_b.set(old)?;
    let mut n_b = CBuf::uninit();
    let n = n_b.set(new)?;
    // SAFETY: both paths are NUL-terminated.
    cvt(unsafe { libc::renameat(olddir, o.as_ptr(), newdir, n.as_ptr()) }).map(drop)
}

pub fn fchownat(dir: RawFd, path: &str, uid: u32, gid: u32, flags: c_int) -> SysResult<()> {
    let mut c_b = CBuf::uninit();
    let c = c_b.set(path)?;
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::fchownat(dir, c.as_ptr(), uid, gid, flags) }).map(drop)
}

pub fn fchmodat(dir: RawFd, path: &str, mode: u32) -> SysResult<()> {
    let mut c_b = CBuf::uninit();
    let c = c_b.set(path)?;
    // SAFETY: path is NUL-terminated.
    cvt(unsafe { libc::fchmodat(dir, c.as_ptr(), mode as libc::mode_t, 0) }).map(drop)
}

pub fn fchmod(fd: RawFd, mode: u32) -> SysResult<()> {
    // SAFETY: integer arguments.
    cvt(unsafe { libc::fchmod(fd, mode as libc::mode_t) }).map(drop)
}

pub fn fchown(fd: RawFd, uid: u32, gid: u32) -> SysResult<()> {
    // SAFETY: integer arguments.
    cvt(unsafe { libc::fchown(fd, uid, gid) }).map(drop)
}

pub fn fstat(fd: RawFd) -> SysResult<libc::stat> {
    // SAFETY: a zeroed stat is a valid out buffer.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: `st` is a valid out pointer.
    cvt(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st)
}

pub fn fstatat(dir: RawFd, path: &str, flags: c_int) -> SysResult<libc::stat> {
    let mut c_b = CBuf::uninit();
    let c = c_b.set(path)?;
    // SAFETY: a zeroed stat is a valid out buffer.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: path is NUL-terminated and `st` a valid out pointer.
    cvt(unsafe { libc::fstatat(dir, c.as_ptr(), &mut st, flags) })?;
    Ok(st)
}

pub fn fstatfs(fd: RawFd) -> SysResult<libc::statfs> {
    // SAFETY: a zeroed statfs is a valid out buffer.
    let mut st: libc::statfs = unsafe { core::mem::zeroed() };
    // SAFETY: `st` is a valid out pointer.
    cvt(unsafe { libc::fstatfs(fd, &mut st) })?;
    Ok(st)
}

pub fn statfs(path: &str) -> SysResult<libc::statfs> {
    let mut c_b = CBuf::uninit();
    let c = c_b.set(path)?;
    // SAFETY: a zeroed statfs is a valid out buffer.
    let mut st: libc::statfs = unsafe { core::mem::zeroed() };
    // SAFETY: path is NUL-terminated and `st` a valid out pointer.
    cvt(unsafe { libc::statfs(c.as_ptr(), &mut st) })?;
    Ok(st)
}

pub fn statvfs_flags(path: &CStr) -> SysResult<u64> {
    // SAFETY: a zeroed statvfs is a valid out buffer.
    let mut st: libc::statvfs = unsafe { core::mem::zeroed() };
    // SAFETY: path is NUL-terminated and `st` a valid out pointer.
    cvt(unsafe { libc::statvfs(path.as_ptr(), &mut st) })?;
    Ok(st.f_flag as u64)
}

/// readlinkat(2) into `buf`; returns the target.
pub fn readlinkat<'b>(dir: RawFd, path: &str, buf: &'b mut [u8]) -> SysResult<&'b str> {
    let mut c_b = CBuf::uninit();
    let c = c_b.set(path)?;
    // SAFETY: pointer and length describe `buf`; path is NUL-terminated.
    let n = unsafe { libc::readlinkat(dir, c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(errno());
    }
    let n = n as usize;
    if n == buf.len() {
        return Err(libc::ENAMETOOLONG);
    }
    core::str::from_utf8(&buf[..n]).map_err(|_| libc::EINVAL)
}

pub fn read(fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    loop {
        // SAFETY: pointer and length describe `buf`.
        let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

pub fn write(fd: RawFd, buf: &[u8]) -> SysResult<usize> {
    loop {
        // SAFETY: pointer and length describe `buf`.
        let r = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// Read at `offset`, leaving the fd's own offset alone.
pub fn pread(fd: RawFd, buf: &mut [u8], offset: u64) -> SysResult<usize> {
    loop {
        // SAFETY: pointer and length describe `buf`.
        let r = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), offset as libc::off_t) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// A hard link `newdir/new` to `olddir/old` (never following a symlink `old`).
pub fn linkat(olddir: RawFd, old: &str, newdir: RawFd, new: &str) -> SysResult<()> {
    let (mut a, mut b) = (CBuf::uninit(), CBuf::uninit());
    let (o, n) = (a.set(old)?, b.set(new)?);
    // SAFETY: both paths are NUL-terminated and live across the call.
    cvt(unsafe { libc::linkat(olddir, o.as_ptr(), newdir, n.as_ptr(), 0) }).map(drop)
}

/// renameat2 with RENAME_EXCHANGE: swap two names atomically (both must exist).
pub fn exchange(dir: RawFd, a: &str, b: &str) -> SysResult<()> {
    let (mut x, mut y) = (CBuf::uninit(), CBuf::uninit());
    let (p, q) = (x.set(a)?, y.set(b)?);
    // SAFETY: both paths are NUL-terminated and live across the call.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            dir,
            p.as_ptr(),
            dir,
            q.as_ptr(),
            libc::RENAME_EXCHANGE,
        ) as c_int
    })
    .map(drop)
}

/// Flush the whole filesystem holding `fd` (one call for the thousands of files of a revision).
pub fn syncfs(fd: RawFd) -> SysResult<()> {
    // SAFETY: plain syscall on an fd.
    cvt(unsafe { libc::syncfs(fd) }).map(drop)
}

/// flock(2); `nonblock` makes a held lock EWOULDBLOCK.
pub fn flock(fd: RawFd, exclusive: bool, nonblock: bool) -> SysResult<()> {
    let mut op = if exclusive { libc::LOCK_EX } else { libc::LOCK_SH };
    if nonblock {
        op |= libc::LOCK_NB;
    }
    // SAFETY: plain syscall on an fd.
    cvt(unsafe { libc::flock(fd, op) }).map(drop)
}

pub fn write_all(fd: RawFd, mut buf: &[u8]) -> SysResult<()> {
    while !buf.is_empty() {
        let n = write(fd, buf)?;
        if n == 0 {
            return Err(libc::EIO);
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Read a whole small file into `buf`; returns the length (EFBIG if it does not fit).
pub fn read_path(path: &str, buf: &mut [u8]) -> SysResult<usize> {
    let fd = open(path, libc::O_RDONLY, 0)?;
    read_fd_all(fd.as_raw_fd(), buf)
}

pub fn read_fd_all(fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    let mut n = 0;
    loop {
        if n == buf.len() {
            // Full: is there more?
            let mut one = [0u8; 1];
            return if read(fd, &mut one)? == 0 {
                Ok(n)
            } else {
                Err(libc::EFBIG)
            };
        }
        let r = read(fd, &mut buf[n..])?;
        if r == 0 {
            return Ok(n);
        }
        n += r;
    }
}

/// Write `data` to an existing file (a /proc or /sys knob) at `dir`/`path`.
pub fn write_at(dir: RawFd, path: &str, data: &[u8]) -> SysResult<()> {
    let fd = openat(dir, path, libc::O_WRONLY, 0)?;
    write_all(fd.as_raw_fd(), data)
}

pub fn fsync(fd: RawFd) -> SysResult<()> {
    // SAFETY: integer argument.
    cvt(unsafe { libc::fsync(fd) }).map(drop)
}

/// Write a file so that after a power loss it holds either the old or the new contents:
/// write a temporary file, fsync it, rename it over the target, fsync the directory.
pub fn write_atomic(dir: RawFd, name: &str, data: &[u8], mode: u32) -> SysResult<()> {
    let mut tmp: heapless::String<300> = heapless::String::new();
    core::fmt::write(&mut tmp, format_args!(".{name}.tmp")).map_err(|_| libc::ENAMETOOLONG)?;
    let fd = openat(dir, &tmp, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, mode)?;
    let r = write_all(fd.as_raw_fd(), data)
        .and_then(|_| fsync(fd.as_raw_fd()))
        .and_then(|_| renameat(dir, &tmp, dir, name));
    drop(fd);
    if let Err(e) = r {
        let _ = unlinkat(dir, &tmp, 0);
        return Err(e);
    }
    fsync(dir)
}

/// Does the file exist (without following a final symlink)?
pub fn exists_at(dir: RawFd, path: &str) -> bool {
    fstatat(dir, path, libc::AT_SYMLINK_NOFOLLOW).is_ok()
}

/// Create a directory and its missing parents (host paths; used for the state root).
pub fn mkdir_p(path: &str, mode: u32) -> SysResult<()> {
    match mkdirat(AT_FDCWD, path, mode) {
        Ok(()) => return Ok(()),
        Err(libc::EEXIST) => return Ok(()),
        Err(libc::ENOENT) => {}
        Err(e) => return Err(e),
    }
    if let Some(pos) = path.trim_end_matches('/').rfind('/') {
        if pos > 0 {
            mkdir_p(&path[..pos], mode)?;
        }
    }
    match mkdirat(AT_FDCWD, path, mode) {
        Ok(()) | Err(libc::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Remove a directory tree below `dir`/`name` (state directories only: no symlink is
/// followed).
pub fn remove_tree_at(dir: RawFd, name: &str) -> SysResult<()> {
    match unlinkat(dir, name, libc::AT_REMOVEDIR) {
        Ok(()) | Err(libc::ENOENT) => return Ok(()),
        Err(libc::ENOTEMPTY) | Err(libc::EEXIST) => {}
        Err(libc::ENOTDIR) => return unlinkat(dir, name, 0),
        Err(e) => return Err(e),
    }
    let d = openat(dir, name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)?;
    let names = list_dir(d.as_raw_fd())?;
    for n in &names {
        match unlinkat(d.as_raw_fd(), n, 0) {
            Ok(()) | Err(libc::ENOENT) => {}
            Err(libc::EISDIR) => remove_tree_at(d.as_raw_fd(), n)?,
            Err(e) => return Err(e),
        }
    }
    drop(d);
    match unlinkat(dir, name, libc::AT_REMOVEDIR) {
        Ok(()) | Err(libc::ENOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The entry names of a directory (without `.` and `..`); names that are not UTF-8 are left
/// out (see [`list_dir_raw`]).
pub fn list_dir(fd: RawFd) -> SysResult<Vec<String>> {
    Ok(list_dir_raw(fd)?
        .into_iter()
        .filter_map(|c| c.into_string().ok())
        .collect())
}

/// The entry names of a directory (without `.` and `..`), as the bytes the kernel holds.
pub fn list_dir_raw(fd: RawFd) -> SysResult<Vec<alloc::ffi::CString>> {
    // SAFETY: dup gives fdopendir its own fd to own and close.
    let dup = cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })?;
    // SAFETY: `dup` is a fresh directory fd; fdopendir takes ownership of it.
    let dirp = unsafe { libc::fdopendir(dup) };
    if dirp.is_null() {
        let e = errno();
        // SAFETY: fdopendir failed and did not take `dup`.
        unsafe { libc::close(dup) };
        return Err(e);
    }
    // SAFETY: rewind the shared offset so every call lists from the start.
    unsafe { libc::rewinddir(dirp) };
    let mut out = Vec::new();
    loop {
        // SAFETY: `dirp` is a valid DIR*; readdir's result is valid until the next call.
        let ent = unsafe { libc::readdir(dirp) };
        if ent.is_null() {
            break;
        }
        // SAFETY: d_name is a NUL-terminated array inside the entry.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            out.push(name.into());
        }
    }
    // SAFETY: `dirp` is valid and closed once.
    unsafe { libc::closedir(dirp) };
    Ok(out)
}

/// The canonical absolute path of `path` (symlinks resolved): open it O_PATH and read the
/// kernel's name for the fd (three system calls, where realpath(3) makes one per component).
pub fn realpath(path: &str) -> SysResult<String> {
    let fd = open(path, libc::O_PATH, 0)?;
    let mut link: heapless::String<32> = heapless::String::new();
    let _ = core::fmt::write(&mut link, format_args!("/proc/self/fd/{}", fd.as_raw_fd()));
    let mut buf = [0u8; libc::PATH_MAX as usize];
    let p = readlinkat(AT_FDCWD, &link, &mut buf)?;
    if !p.starts_with('/') {
        // Not a reachable path (deleted, or outside our root).
        return Err(libc::ENOENT);
    }
    Ok(p.to_string())
}

/// Is `path` a directory?
pub fn is_dir(path: &str) -> bool {
    fstatat(AT_FDCWD, path, 0).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// memfd_create(2).
pub fn memfd_create(name: &CStr, flags: u32) -> SysResult<OwnedFd> {
    // SAFETY: name is NUL-terminated.
    let r = cvt_long(unsafe { libc::syscall(libc::SYS_memfd_create, name.as_ptr(), flags) })?;
    Ok(owned(r as c_int))
}

pub fn ftruncate(fd: RawFd, len: u64) -> SysResult<()> {
    // SAFETY: integer arguments.
    cvt(unsafe { libc::ftruncate(fd, len as libc::off_t) }).map(drop)
}

/// Read a whole file of any size.
pub fn read_file(path: &str) -> SysResult<Vec<u8>> {
    let fd = open(path, libc::O_RDONLY | libc::O_CLOEXEC, 0)?;
    read_fd_to_end(fd.as_raw_fd(), usize::MAX)
}

/// Create or truncate `path` and write `data` to it (not power-loss safe: see write_atomic).
pub fn write_file(path: &str, data: &[u8], mode: u32) -> SysResult<()> {
    let fd = open(
        path,
        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
        mode,
    )?;
    write_all(fd.as_raw_fd(), data)
}

/// The target of a symlink.
pub fn read_link(path: &str) -> SysResult<String> {
    let mut buf = [0u8; libc::PATH_MAX as usize];
    readlinkat(AT_FDCWD, path, &mut buf).map(|s| s.to_string())
}

/// Remove `path` and everything below it (no symlink is followed).
pub fn remove_all(path: &str) -> SysResult<()> {
    remove_tree_at(AT_FDCWD, path)
}

/// The filesystem type (statfs f_type) of procfs.
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Write to a /proc file after checking the handle really is on procfs (a mount over /proc
/// must not redirect the write: CVE-2025-52881).
pub fn write_proc(path: &str, data: &[u8]) -> crate::error::Result<()> {
    use crate::error::{Error, Step};
    let fd = open(path, libc::O_WRONLY | libc::O_NOFOLLOW, 0).step_ctx("open", format_args!("{path}"))?;
    let st = fstatfs(fd.as_raw_fd()).step_ctx("statfs", format_args!("{path}"))?;
    if st.f_type as i64 != PROC_SUPER_MAGIC {
        return Err(Error::failed("write").ctx(format_args!(
            "{path}: not on procfs (something is mounted over it); refusing to write"
        )));
    }
    write_all(fd.as_raw_fd(), data).step_ctx("write", format_args!("{path}"))
}

/// Read `fd` to its end, or until `max` bytes, into a growing buffer.
pub fn read_fd_to_end(fd: c_int, max: usize) -> Result<alloc::vec::Vec<u8>, super::Errno> {
    let mut v = alloc::vec::Vec::new();
    let mut chunk = [0u8; 4096];
    while v.len() < max {
        let want = chunk.len().min(max - v.len());
        let n = read(fd, &mut chunk[..want])?;
        if n == 0 {
            break;
        }
        v.extend_from_slice(&chunk[..n]);
    }
    Ok(v)
}
