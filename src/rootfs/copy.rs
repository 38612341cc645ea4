//! `tmpcopyup`: a tmpfs mounted over a directory of the image starts with a copy of what the
//! directory held (runc's and crun's extension). The covered directory stays reachable through
//! an fd opened before the mount; the copy keeps modes, owners and symlinks.

use crate::prelude::*;

use crate::sys::{fs, SysResult};
use rustix::fd::{AsRawFd, RawFd};

const MAX_DEPTH: usize = 64;

/// Copy the contents of directory `from` into directory `to` (both real directory fds).
pub fn copy_tree(from: RawFd, to: RawFd) -> SysResult<()> {
    copy_dir(from, to, 0)
}

fn copy_dir(from: RawFd, to: RawFd, depth: usize) -> SysResult<()> {
    if depth > MAX_DEPTH {
        return Err(libc::ELOOP);
    }
    for name in fs::list_dir(from)? {
        let st = fs::fstatat(from, &name, libc::AT_SYMLINK_NOFOLLOW)?;
        let mode = st.st_mode & 0o7777;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                match fs::mkdirat(to, &name, mode) {
                    Ok(()) | Err(libc::EEXIST) => {}
                    Err(e) => return Err(e),
                }
                let src = fs::openat(from, &name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)?;
                let dst = fs::openat(to, &name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)?;
                copy_dir(src.as_raw_fd(), dst.as_raw_fd(), depth + 1)?;
                fs::fchmod(dst.as_raw_fd(), mode)?;
            }
            libc::S_IFREG => {
                let src = fs::openat(from, &name, libc::O_RDONLY | libc::O_NOFOLLOW, 0)?;
                let dst = fs::openat(
                    to,
                    &name,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                    mode,
                )?;
                let mut buf = [0u8; 16 * 1024];
                loop {
                    let n = fs::read(src.as_raw_fd(), &mut buf)?;
                    if n == 0 {
                        break;
                    }
                    fs::write_all(dst.as_raw_fd(), &buf[..n])?;
                }
                fs::fchmod(dst.as_raw_fd(), mode)?;
            }
            libc::S_IFLNK => {
                let mut t = [0u8; libc::PATH_MAX as usize];
                let target = fs::readlinkat(from, &name, &mut t)?.to_string();
                fs::symlinkat(&target, to, &name)?;
            }
            _ => fs::mknodat(to, &name, st.st_mode, st.st_rdev as u64)?,
        }
        fs::fchownat(to, &name, st.st_uid, st.st_gid, libc::AT_SYMLINK_NOFOLLOW)?;
    }
    Ok(())
}
