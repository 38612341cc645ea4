//! The privileged system calls of the container's setup behind one trait, so that a recording
//! fake can stand in for the kernel in unit tests: the rootfs setup (mounts, device nodes,
//! pivot_root) and the credentials step (bounding set, ids, capabilities) take a `&K: Kernel`.
//! Everything unprivileged (opening, resolving and creating paths) is done for real either way.
//!
//! Production code uses [`Live`], which calls the kernel; the functions are generic over the
//! trait, so the binary holds them once, for `Live`, with no indirect calls.

use super::SysResult;
use core::ffi::{c_int, c_ulong, CStr};
use rustix::fd::RawFd;

pub trait Kernel {
    fn mount(
        &self,
        src: Option<&str>,
        target: &CStr,
        fstype: Option<&str>,
        flags: c_ulong,
        data: Option<&str>,
    ) -> SysResult<()>;
    fn mount_c(
        &self,
        src: &CStr,
        target: &CStr,
        fstype: Option<&str>,
        flags: c_ulong,
        data: Option<&str>,
    ) -> SysResult<()>;
    fn umount2(&self, target: &CStr, flags: c_int) -> SysResult<()>;
    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult<()>;
    fn chroot(&self, path: &CStr) -> SysResult<()>;
    fn chdir(&self, path: &CStr) -> SysResult<()>;
    fn fchdir(&self, fd: RawFd) -> SysResult<()>;
    fn mount_setattr(&self, dfd: RawFd, path: &CStr, flags: u32, set: u64, clr: u64, propagation: u64)
        -> SysResult<()>;
    fn move_mount_fd(&self, tree: RawFd, to: RawFd) -> SysResult<()>;
    fn mknodat(&self, dir: RawFd, path: &str, mode: u32, dev: u64) -> SysResult<()>;
    fn fchownat(&self, dir: RawFd, path: &str, uid: u32, gid: u32, flags: c_int) -> SysResult<()>;
    fn prctl(&self, op: c_int, a2: c_ulong, a3: c_ulong, a4: c_ulong, a5: c_ulong) -> SysResult<c_int>;
    fn setgroups(&self, gids: &[u32]) -> SysResult<()>;
    fn setresgid(&self, r: u32, e: u32, s: u32) -> SysResult<()>;
    fn setresuid(&self, r: u32, e: u32, s: u32) -> SysResult<()>;
    fn capset(&self, c: super::CapSets) -> SysResult<()>;
}

/// The real kernel.
pub struct Live;

impl Kernel for Live {
    fn mount(
        &self,
        src: Option<&str>,
        target: &CStr,
        fstype: Option<&str>,
        flags: c_ulong,
        data: Option<&str>,
    ) -> SysResult<()> {
        super::mount(src, target, fstype, flags, data)
    }
    fn mount_c(
        &self,
        src: &CStr,
        target: &CStr,
        fstype: Option<&str>,
        flags: c_ulong,
        data: Option<&str>,
    ) -> SysResult<()> {
        super::mount_c(src, target, fstype, flags, data)
    }
    fn umount2(&self, target: &CStr, flags: c_int) -> SysResult<()> {
        super::umount2(target, flags)
    }
    fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult<()> {
        super::pivot_root(new_root, put_old)
    }
    fn chroot(&self, path: &CStr) -> SysResult<()> {
        super::chroot(path)
    }
    fn chdir(&self, path: &CStr) -> SysResult<()> {
        super::chdir(path)
    }
    fn fchdir(&self, fd: RawFd) -> SysResult<()> {
        super::fchdir(fd)
    }
    fn mount_setattr(
        &self,
        dfd: RawFd,
        path: &CStr,
        flags: u32,
        set: u64,
        clr: u64,
        propagation: u64,
    ) -> SysResult<()> {
        super::mount_setattr(dfd, path, flags, set, clr, propagation)
    }
    fn move_mount_fd(&self, tree: RawFd, to: RawFd) -> SysResult<()> {
        super::move_mount_fd(tree, to)
    }
    fn mknodat(&self, dir: RawFd, path: &str, mode: u32, dev: u64) -> SysResult<()> {
        super::fs::mknodat(dir, path, mode, dev)
    }
    fn fchownat(&self, dir: RawFd, path: &str, uid: u32, gid: u32, flags: c_int) -> SysResult<()> {
        super::fs::fchownat(dir, path, uid, gid, flags)
    }
    fn prctl(&self, op: c_int, a2: c_ulong, a3: c_ulong, a4: c_ulong, a5: c_ulong) -> SysResult<c_int> {
        super::prctl(op, a2, a3, a4, a5)
    }
    fn setgroups(&self, gids: &[u32]) -> SysResult<()> {
        super::setgroups(gids)
    }
    fn setresgid(&self, r: u32, e: u32, s: u32) -> SysResult<()> {
        super::setresgid(r, e, s)
    }
    fn setresuid(&self, r: u32, e: u32, s: u32) -> SysResult<()> {
        super::setresuid(r, e, s)
    }
    fn capset(&self, c: super::CapSets) -> SysResult<()> {
        super::capset(c)
    }
}

/// A recording fake of the kernel for unit tests: each privileged call is written down as a
/// line of text (paths under /proc/self/fd named by what they point to, relative to the test's
/// rootfs) and succeeds without doing anything, but for `mknodat`, which makes an empty file so
/// that later steps find one, and for the calls `fail` names, which fail with their errno.
#[cfg(test)]
pub mod recorder {
    use super::*;
    use crate::prelude::*;
    use core::cell::RefCell;

    pub struct Recorder {
        pub calls: RefCell<Vec<String>>,
        /// The test's rootfs: a prefix left out of recorded paths.
        pub root: String,
        /// (a word the call's line contains, errno): calls whose line contains it fail.
        pub fail: Vec<(String, i32)>,
    }

    impl Recorder {
        pub fn new(root: &str) -> Recorder {
            Recorder {
                calls: RefCell::new(Vec::new()),
                root: root.to_string(),
                fail: Vec::new(),
            }
        }

        /// A path as the test reads it: /proc/self/fd/N resolved, the rootfs prefix shown as
        /// `<rootfs>` when it is the rootfs itself and left out below it.
        fn name(&self, p: &str) -> String {
            let real = if p.starts_with("/proc/self/fd/") {
                std::fs::read_link(p)
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or(p.to_string())
            } else {
                p.to_string()
            };
            if real == self.root {
                return "<rootfs>".to_string();
            }
            match real.strip_prefix(&self.root) {
                Some(rest) if rest.starts_with('/') => rest.to_string(),
                _ => real,
            }
        }

        fn fd_name(&self, fd: RawFd) -> String {
            self.name(&format!("/proc/self/fd/{fd}"))
        }

        fn record(&self, line: String) -> SysResult<()> {
            let failed = self
                .fail
                .iter()
                .find(|(w, _)| line.contains(w.as_str()))
                .map(|(_, e)| *e);
            self.calls.borrow_mut().push(match failed {
                Some(e) => format!("{line} = {}", crate::error::errno_name(e)),
                None => line,
            });
            failed.map_or(Ok(()), Err)
        }

        pub fn lines(&self) -> Vec<String> {
            self.calls.borrow().clone()
        }
    }

    /// mount(2) flags by name, as the recorded lines show them.
    pub fn flag_names(flags: c_ulong) -> String {
        let names = [
            (libc::MS_RDONLY, "RDONLY"),
            (libc::MS_NOSUID, "NOSUID"),
            (libc::MS_NODEV, "NODEV"),
            (libc::MS_NOEXEC, "NOEXEC"),
            (libc::MS_REMOUNT, "REMOUNT"),
            (libc::MS_BIND, "BIND"),
            (libc::MS_MOVE, "MOVE"),
            (libc::MS_REC, "REC"),
            (libc::MS_PRIVATE, "PRIVATE"),
            (libc::MS_SLAVE, "SLAVE"),
            (libc::MS_SHARED, "SHARED"),
            (libc::MS_UNBINDABLE, "UNBINDABLE"),
            (libc::MS_RELATIME, "RELATIME"),
            (libc::MS_STRICTATIME, "STRICTATIME"),
            (libc::MS_NOATIME, "NOATIME"),
        ];
        let mut v: Vec<&str> = names.iter().filter(|(f, _)| flags & f != 0).map(|(_, n)| *n).collect();
        if v.is_empty() {
            v.push("0");
        }
        v.join("|")
    }

    fn c(s: &CStr) -> &str {
        s.to_str().unwrap_or("?")
    }

    impl Kernel for Recorder {
        fn mount(
            &self,
            src: Option<&str>,
            target: &CStr,
            fstype: Option<&str>,
            flags: c_ulong,
            data: Option<&str>,
        ) -> SysResult<()> {
            self.record(format!(
                "mount {} on {} type {} {}{}",
                src.map_or("-".to_string(), |s| self.name(s)),
                self.name(c(target)),
                fstype.unwrap_or("-"),
                flag_names(flags),
                data.map_or(String::new(), |d| format!(" {d}"))
            ))
        }
        fn mount_c(
            &self,
            src: &CStr,
            target: &CStr,
            fstype: Option<&str>,
            flags: c_ulong,
            data: Option<&str>,
        ) -> SysResult<()> {
            self.mount(Some(c(src)), target, fstype, flags, data)
        }
        fn umount2(&self, target: &CStr, flags: c_int) -> SysResult<()> {
            self.record(format!("umount2 {} {flags:#x}", self.name(c(target))))
        }
        fn pivot_root(&self, new_root: &CStr, put_old: &CStr) -> SysResult<()> {
            self.record(format!("pivot_root {} {}", c(new_root), c(put_old)))
        }
        fn chroot(&self, path: &CStr) -> SysResult<()> {
            self.record(format!("chroot {}", c(path)))
        }
        fn chdir(&self, path: &CStr) -> SysResult<()> {
            self.record(format!("chdir {}", c(path)))
        }
        fn fchdir(&self, fd: RawFd) -> SysResult<()> {
            self.record(format!("fchdir {}", self.fd_name(fd)))
        }
        fn mount_setattr(&self, dfd: RawFd, _path: &CStr, _flags: u32, set: u64, clr: u64, _p: u64) -> SysResult<()> {
            self.record(format!(
                "mount_setattr {} set {set:#x} clear {clr:#x}",
                self.fd_name(dfd)
            ))
        }
        fn move_mount_fd(&self, _tree: RawFd, to: RawFd) -> SysResult<()> {
            self.record(format!("move_mount onto {}", self.fd_name(to)))
        }
        fn mknodat(&self, dir: RawFd, path: &str, mode: u32, dev: u64) -> SysResult<()> {
            let line = format!(
                "mknod {}/{path} {:o} {}:{}",
                self.fd_name(dir),
                mode,
                libc::major(dev),
                libc::minor(dev)
            );
            self.record(line)?;
            match super::super::fs::openat(dir, path, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 0o600) {
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            }
        }
        fn fchownat(&self, dir: RawFd, path: &str, uid: u32, gid: u32, _flags: c_int) -> SysResult<()> {
            self.record(format!("chown {}/{path} {uid}:{gid}", self.fd_name(dir)))
        }
        fn prctl(&self, op: c_int, a2: c_ulong, a3: c_ulong, _a4: c_ulong, _a5: c_ulong) -> SysResult<c_int> {
            let name = match op {
                libc::PR_CAPBSET_DROP => "CAPBSET_DROP",
                libc::PR_SET_KEEPCAPS => "SET_KEEPCAPS",
                libc::PR_CAP_AMBIENT => "CAP_AMBIENT",
                _ => "other",
            };
            self.record(format!("prctl {name} {a2} {a3}")).map(|_| 0)
        }
        fn setgroups(&self, gids: &[u32]) -> SysResult<()> {
            self.record(format!("setgroups {gids:?}"))
        }
        fn setresgid(&self, r: u32, e: u32, s: u32) -> SysResult<()> {
            self.record(format!("setresgid {r} {e} {s}"))
        }
        fn setresuid(&self, r: u32, e: u32, s: u32) -> SysResult<()> {
            self.record(format!("setresuid {r} {e} {s}"))
        }
        fn capset(&self, c: super::super::CapSets) -> SysResult<()> {
            self.record(format!(
                "capset eff {:#x} perm {:#x} inh {:#x}",
                c.effective, c.permitted, c.inheritable
            ))
        }
    }
}
