//! A `cgroup` mount inside the container: the container's own cgroups, as the kernel would
//! show them to a process in a cgroup namespace.

use crate::cgroup::{Cgroup, Mode, CGROUP_ROOT};
use crate::error::{Error, Result, Step};
use crate::prelude::*;
use crate::sys::kernel::Kernel;
use crate::sys::{self, fd_path, fs};
use rustix::fd::{AsRawFd, OwnedFd};

/// A `cgroup` mount inside the container: on v2 a cgroup2 mount (the namespace root when the
/// container has a cgroup namespace, else its own cgroup bound); on v1 and hybrid a tmpfs
/// holding, under each hierarchy's name, a bind mount of the container's own cgroup there
/// (`unified` for the hybrid cgroup2). `rfd` is the rootfs, `dest` the destination in it.
pub fn mount<K: Kernel>(
    k: &K,
    rfd: rustix::fd::RawFd,
    dest: &str,
    flags: libc::c_ulong,
    cg: Option<&Cgroup>,
    cgroupns: bool,
) -> Result<()> {
    use super::resolve::{open_in_root, Create};
    let ro = flags & libc::MS_RDONLY;
    let base = flags & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RELATIME);
    let Some(cg) = cg else {
        return Err(Error::failed("cgroup mount").ctx(format_args!("{dest}: the container has no cgroup")));
    };
    let dfd = open_in_root(rfd, dest, Create::Dir).step_ctx("resolve mount destination", format_args!("{dest}"))?;
    let target = fd_path(dfd.as_raw_fd());
    if cg.mode == Mode::V2 {
        if cgroupns {
            return k
                .mount(Some("cgroup2"), target.as_cstr(), Some("cgroup2"), base | ro, None)
                .map_err(|e| Error::sys("mount cgroup2", e).ctx(format_args!("on {dest}")));
        }
        let src = cg.dirs.first().map(|s| s.as_str()).unwrap_or(CGROUP_ROOT);
        bind(k, src, &dfd, dest)?;
        let again = open_in_root(rfd, dest, Create::No).step_ctx("reopen", format_args!("{dest}"))?;
        return remount_bind(k, &again, dest, base | ro);
    }
    k.mount(Some("tmpfs"), target.as_cstr(), Some("tmpfs"), base, Some("mode=755"))
        .map_err(|e| Error::sys("mount tmpfs", e).ctx(format_args!("on {dest}")))?;
    // The tmpfs now covers `dfd`: reopen to reach its root.
    let top = open_in_root(rfd, dest, Create::No).step_ctx("reopen", format_args!("{dest}"))?;
    let top = fs::openat(top.as_raw_fd(), ".", libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .step_ctx("open", format_args!("{dest}"))?;
    let mut done: Vec<String> = Vec::new();
    for d in &cg.dirs {
        // /sys/fs/cgroup/<hierarchy>/<path>: the hierarchy's directory, its real one when the
        // first component is a symlink (`cpu` -> `cpu,cpuacct`), each once.
        let name = crate::cgroup::hierarchy_of(d);
        if name.is_empty() || done.contains(&name) {
            continue;
        }
        done.push(name.clone());
        let name = name.as_str();
        fs::mkdirat(top.as_raw_fd(), name, 0o755)
            .or_else(|e| if e == libc::EEXIST { Ok(()) } else { Err(e) })
            .step_ctx("mkdir", format_args!("{dest}/{name}"))?;
        let sub = fs::openat(
            top.as_raw_fd(),
            name,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )
        .step_ctx("open", format_args!("{dest}/{name}"))?;
        bind(k, d, &sub, dest)?;
        let again = fs::openat(
            top.as_raw_fd(),
            name,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )
        .step_ctx("reopen", format_args!("{dest}/{name}"))?;
        remount_bind(k, &again, dest, base | ro)?;
    }
    // The host's symlinks to co-mounted hierarchies (`cpu` -> `cpu,cpuacct`), for those shown.
    if let Ok(host) = fs::openat(fs::AT_FDCWD, CGROUP_ROOT, libc::O_RDONLY | libc::O_DIRECTORY, 0) {
        for n in fs::list_dir(host.as_raw_fd()).unwrap_or_default() {
            let mut buf = [0u8; 64];
            let Ok(target) = fs::readlinkat(host.as_raw_fd(), &n, &mut buf) else {
                continue;
            };
            if !target.contains('/') && done.iter().any(|d| d == target) {
                match fs::symlinkat(target, top.as_raw_fd(), &n) {
                    Ok(()) | Err(libc::EEXIST) => {}
                    Err(e) => return Err(Error::sys("symlink", e).ctx(format_args!("{dest}/{n} -> {target}"))),
                }
            }
        }
    }
    if ro != 0 {
        k.mount(
            None,
            fd_path(top.as_raw_fd()).as_cstr(),
            None,
            libc::MS_REMOUNT | base | ro,
            Some("mode=755"),
        )
        .map_err(|e| Error::sys("remount read-only", e).ctx(format_args!("{dest}")))?;
    }
    Ok(())
}

fn bind<K: Kernel>(k: &K, src: &str, dest: &OwnedFd, dest_name: &str) -> Result<()> {
    let target = fd_path(dest.as_raw_fd());
    let mut b = sys::CBuf::uninit();
    let s = b.set(src).map_err(|e| Error::sys("cgroup mount", e))?;
    k.mount_c(s, target.as_cstr(), None, libc::MS_BIND | libc::MS_REC, None)
        .map_err(|e| Error::sys("bind cgroup", e).ctx(format_args!("{src} on {dest_name}")))
}

/// Remount the bind mount whose root `fd` is with `flags`.
fn remount_bind<K: Kernel>(k: &K, fd: &OwnedFd, dest_name: &str, flags: libc::c_ulong) -> Result<()> {
    if flags == 0 {
        return Ok(());
    }
    k.mount(
        None,
        fd_path(fd.as_raw_fd()).as_cstr(),
        None,
        libc::MS_REMOUNT | libc::MS_BIND | flags,
        None,
    )
    .map_err(|e| Error::sys("remount cgroup bind", e).ctx(format_args!("{dest_name}")))
}
