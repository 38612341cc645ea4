//! The container's filesystem, set up by the container init (stage 2) in its new mount
//! namespace, in this order:
//!
//! 1. make `/` rslave (or `linux.rootfsPropagation`) so nothing leaks back to the host;
//! 2. bind-mount the rootfs onto itself and open it: every later path is resolved inside it;
//! 3. the `mounts`, in order, each onto an fd resolved inside the rootfs;
//! 4. default devices and `linux.devices` (mknod, or bind mounts where mknod is refused);
//! 5. maskedPaths, readonlyPaths, and `root.readonly`;
//! 6. pivot_root (or, when `/` is an initramfs or with --no-pivot, MS_MOVE + chroot).
//!
//! Steps 3-5 happen before pivot_root, through the host's /proc/self/fd, so they work whether
//! or not the container mounts its own /proc.

use crate::prelude::*;

pub mod cgroup_mount;
pub mod copy;
pub mod options;
pub mod resolve;
#[cfg(test)]
mod tests;

use crate::error::{Error, Result, Step};
use crate::spec::{Config, Mount};
use crate::sys::kernel::Kernel;
use crate::sys::{self, fd_path, fs, CBuf};
use resolve::{open_in_root, Create};
use rustix::fd::{AsRawFd, OwnedFd, RawFd};

pub use crate::sys::fs::PROC_SUPER_MAGIC;
pub const TMPFS_MAGIC: i64 = 0x0102_1994;
/// statvfs f_flag bit for relatime (musl lacks the constant).
const ST_RELATIME: u64 = 4096;

/// What the rootfs setup needs besides the config.
pub struct RootfsPlan<'p> {
    /// Absolute path of the rootfs on the host.
    pub rootfs: &'p str,
    /// Absolute path of the bundle (relative bind sources are relative to it).
    pub bundle: &'p str,
    /// Use MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// The container has its own user namespace (mknod is refused there).
    pub userns: bool,
    /// The container has its own cgroup namespace.
    pub cgroupns: bool,
    /// The container's cgroup, for `cgroup` mounts.
    pub cgroup: Option<&'p crate::cgroup::Cgroup>,
    /// Idmapped trees prepared by the parent: (mount index, detached mount fd).
    pub idmapped: &'p [(i32, OwnedFd)],
    /// Host paths the caller binds into the container after the config's mounts (source,
    /// destination): the supervisor's notify socket.
    pub binds: &'p [(&'p str, &'p str)],
    /// Run once the mounts and devices are made, before masking and pivot_root: the
    /// prestart/createRuntime (by the parent) and createContainer hooks.
    pub hooks: Option<&'p dyn Fn() -> Result<()>>,
}

fn mount_err(step: &'static str, e: i32, what: &str, dest: &str) -> Error {
    Error::sys(step, e).ctx(format_args!("{what} on {dest}"))
}

/// Run steps 1-6. On return the process's root and cwd are the container's `/`.
pub fn setup<K: Kernel>(k: &K, cfg: &Config<'_>, plan: &RootfsPlan<'_>) -> Result<()> {
    let linux = cfg.spec.linux.as_ref();
    let root_c = c"/";

    // 1. Propagation of the whole tree.
    let prop = match linux.and_then(|l| l.rootfs_propagation).map(|p| p.0) {
        Some("private") => libc::MS_PRIVATE,
        Some("rprivate") => libc::MS_PRIVATE | libc::MS_REC,
        Some("shared") => libc::MS_SHARED,
        Some("rshared") => libc::MS_SHARED | libc::MS_REC,
        Some("slave") => libc::MS_SLAVE,
        Some("unbindable") => libc::MS_UNBINDABLE,
        Some("runbindable") => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => libc::MS_SLAVE | libc::MS_REC,
    };
    k.mount(None, root_c, None, prop, None)
        .map_err(|e| Error::sys("set mount propagation", e).ctx(format_args!("of /")))?;
    if prop & libc::MS_SHARED != 0 {
        // pivot_root refuses a shared parent mount: make the rootfs's parent mount private.
        make_parent_private(k, plan.rootfs)?;
    }

    // 2. The rootfs, bound onto itself so that it is a mount point (pivot_root needs one).
    let mut rootfs_b = CBuf::uninit();
    let rootfs_c = rootfs_b.set(plan.rootfs).map_err(|e| Error::sys("rootfs", e))?;
    k.mount(Some(plan.rootfs), rootfs_c, None, libc::MS_BIND | libc::MS_REC, None)
        .map_err(|e| mount_err("bind-mount rootfs", e, plan.rootfs, plan.rootfs))?;
    let root = fs::open(plan.rootfs, libc::O_PATH | libc::O_DIRECTORY, 0)
        .step_ctx("open rootfs", format_args!("{}", plan.rootfs))?;
    let rfd = root.as_raw_fd();

    // 3. Mounts, in order.
    for (i, m) in cfg.items(cfg.spec.mounts).iter().enumerate() {
        let tree = plan.idmapped.iter().find(|(j, _)| *j == i as i32).map(|(_, fd)| fd);
        mount_one(k, cfg, plan, rfd, m, tree).map_err(|e| e.ctx(format_args!(" (mounts[{i}])")))?;
    }
    for (src, dest) in plan.binds {
        let m = Mount {
            destination: crate::spec::json::Str(dest),
            source: Some(crate::spec::json::Str(src)),
            kind: Some(crate::spec::json::Str("bind")),
            ..Default::default()
        };
        mount_one(k, cfg, plan, rfd, &m, None).map_err(|e| e.ctx(format_args!(" (bind of {src})")))?;
    }

    // 4. Devices.
    create_devices(k, cfg, plan, rfd)?;

    // The working directory, created while the rootfs is still writable.
    if let Some(p) = &cfg.spec.process {
        if !p.cwd.is_empty() && p.cwd.0 != "/" {
            open_in_root(rfd, &p.cwd, Create::Dir).step_ctx("create cwd", format_args!("{}", p.cwd))?;
        }
    }

    // The hooks that see the container's mounts from the host's paths.
    if let Some(h) = plan.hooks {
        h()?;
    }

    // 5. Masked and read-only paths, then the root itself.
    if let Some(l) = linux {
        for p in cfg.strs(l.masked_paths) {
            mask_path(k, rfd, p)?;
        }
        for p in cfg.strs(l.readonly_paths) {
            readonly_path(k, rfd, p)?;
        }
    }
    if cfg.spec.root.as_ref().is_some_and(|r| r.readonly) {
        let top = open_in_root(rfd, "/", Create::No).step("open rootfs")?;
        remount(k, &top, libc::MS_RDONLY).map_err(|e| mount_err("remount read-only", e, "rootfs", "/"))?;
    }

    // 6. Enter it.
    enter(k, &root, plan.no_pivot)?;
    if prop & libc::MS_SHARED != 0 || linux.and_then(|l| l.rootfs_propagation).is_some() {
        k.mount(None, root_c, None, prop, None)
            .map_err(|e| Error::sys("set root propagation", e))?;
    }
    Ok(())
}

/// Make the mount that holds `path` private (needed before pivot_root under shared
/// propagation).
fn make_parent_private<K: Kernel>(k: &K, path: &str) -> Result<()> {
    // Walk up from the path's parent until a mount point: statx would tell directly; comparing
    // st_dev with the parent's is enough for the rootfs case.
    let mut p = path.trim_end_matches('/').to_string();
    loop {
        let parent = match p.rfind('/') {
            Some(0) | None => "/".to_string(),
            Some(i) => p[..i].to_string(),
        };
        let a = fs::fstatat(fs::AT_FDCWD, &p, 0).step_ctx("stat", format_args!("{p}"))?;
        let b = fs::fstatat(fs::AT_FDCWD, &parent, 0).step_ctx("stat", format_args!("{parent}"))?;
        if a.st_dev != b.st_dev || p == "/" {
            let mut b = CBuf::uninit();
            let c = b.set(&p).map_err(|e| Error::sys("mount", e))?;
            return k
                .mount(None, c, None, libc::MS_PRIVATE, None)
                .map_err(|e| Error::sys("make parent mount private", e).ctx(format_args!("{p}")));
        }
        if parent == "/" {
            p = parent;
            continue;
        }
        p = parent;
    }
}

/// A remount of the mount whose root `fd` is, keeping the flags the kernel locks.
fn remount<K: Kernel>(k: &K, fd: &OwnedFd, flags: libc::c_ulong) -> sys::SysResult<()> {
    let path = fd_path(fd.as_raw_fd());
    let base = libc::MS_REMOUNT | libc::MS_BIND;
    match k.mount(None, path.as_cstr(), None, base | flags, None) {
        Err(libc::EPERM) => {
            // In a user namespace the source's nosuid/nodev/noexec/atime flags are locked:
            // keep them and try again.
            let f = fs::statvfs_flags(path.as_cstr())?;
            let mut locked = 0;
            for (st, ms) in [
                (libc::ST_NOSUID as u64, libc::MS_NOSUID),
                (libc::ST_NODEV as u64, libc::MS_NODEV),
                (libc::ST_NOEXEC as u64, libc::MS_NOEXEC),
                (libc::ST_NOATIME as u64, libc::MS_NOATIME),
                (libc::ST_NODIRATIME as u64, libc::MS_NODIRATIME),
                (ST_RELATIME, libc::MS_RELATIME),
            ] {
                if f & st != 0 {
                    locked |= ms;
                }
            }
            k.mount(None, path.as_cstr(), None, base | flags | locked, None)
        }
        r => r,
    }
}

fn mount_one<K: Kernel>(
    k: &K,
    cfg: &Config<'_>,
    plan: &RootfsPlan<'_>,
    rfd: RawFd,
    m: &Mount<'_>,
    tree: Option<&OwnedFd>,
) -> Result<()> {
    let dest = m.destination.0;
    let opts = options::parse(cfg.strs(m.options).iter().map(|s| s.0)).map_err(|o| {
        crate::spec::validate::at(
            format_args!("mounts ({dest})"),
            format_args!("option {o:?} does not fit (too many options or data longer than 1024 bytes)"),
        )
    })?;
    let kind = m.kind.map(|k| k.0).unwrap_or("");
    let is_bind = opts.bind || kind == "bind";
    if let Some(tree) = tree {
        // An idmapped tree prepared by the parent: move it onto the destination.
        let st = fs::fstat(tree.as_raw_fd()).step_ctx("stat idmapped mount", format_args!("{dest}"))?;
        let create = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            Create::Dir
        } else {
            Create::File
        };
        let target = open_in_root(rfd, dest, create).step_ctx("resolve mount destination", format_args!("{dest}"))?;
        k.move_mount_fd(tree.as_raw_fd(), target.as_raw_fd())
            .map_err(|e| mount_err("move idmapped mount", e, "", dest))?;
        let dfd = open_in_root(rfd, dest, Create::No).step_ctx("reopen mount", format_args!("{dest}"))?;
        let extra = opts.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
        if extra != 0 {
            remount(k, &dfd, extra).map_err(|e| mount_err("remount idmapped mount", e, "", dest))?;
        }
        return Ok(());
    }
    if opts.idmap || !m.uid_mappings.is_empty() || !m.gid_mappings.is_empty() {
        return Err(Error::failed("mount").ctx(format_args!("{dest}: the idmapped mount was not prepared")));
    }
    if opts.tmpcopyup && kind != "tmpfs" {
        return Err(crate::spec::validate::at(
            format_args!("mounts ({dest})"),
            format_args!("tmpcopyup applies to tmpfs mounts only"),
        ));
    }

    if kind == "cgroup" || kind == "cgroup2" {
        return cgroup_mount::mount(k, rfd, dest, opts.flags, plan.cgroup, plan.cgroupns);
    }

    let dfd;
    if is_bind {
        let src = m.source.map(|s| s.0).unwrap_or("");
        if src.is_empty() {
            return Err(crate::spec::validate::at(
                format_args!("mounts ({dest}).source"),
                format_args!("a bind mount needs a source"),
            ));
        }
        let src_abs;
        let src = if src.starts_with('/') {
            src
        } else {
            src_abs = format!("{}/{}", plan.bundle, src);
            &src_abs
        };
        let sfd = fs::open(src, libc::O_PATH, 0).step_ctx("open bind mount source", format_args!("{src}"))?;
        let st = fs::fstat(sfd.as_raw_fd()).step_ctx("stat bind mount source", format_args!("{src}"))?;
        let create = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            Create::Dir
        } else {
            Create::File
        };
        let target = open_in_root(rfd, dest, create).step_ctx("resolve mount destination", format_args!("{dest}"))?;
        let tst = fs::fstat(target.as_raw_fd()).step_ctx("stat mount destination", format_args!("{dest}"))?;
        if (tst.st_mode & libc::S_IFMT == libc::S_IFDIR) != (create == Create::Dir) {
            return Err(Error::sys("bind mount", libc::ENOTDIR)
                .ctx(format_args!("{src} on {dest}: one is a directory and the other is not")));
        }
        k.mount_c(
            fd_path(sfd.as_raw_fd()).as_cstr(),
            fd_path(target.as_raw_fd()).as_cstr(),
            None,
            libc::MS_BIND | (opts.flags & libc::MS_REC),
            None,
        )
        .map_err(|e| mount_err("bind mount", e, src, dest))?;
        // Reopen: the new mount now covers `target`.
        dfd = open_in_root(rfd, dest, Create::No).step_ctx("reopen mount", format_args!("{dest}"))?;
        let extra = opts.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
        if extra != 0 {
            remount(k, &dfd, extra).map_err(|e| mount_err("remount bind mount", e, src, dest))?;
        }
    } else {
        let target =
            open_in_root(rfd, dest, Create::Dir).step_ctx("resolve mount destination", format_args!("{dest}"))?;
        let source = m.source.map(|s| s.0).unwrap_or(kind);
        // SELinux: the container's files on new filesystems get linux.mountLabel.
        let mut labelled: heapless::String<1100> = heapless::String::new();
        let data = match crate::security::lsm::mount_label(cfg) {
            Some(label) if !matches!(kind, "proc" | "sysfs" | "cgroup" | "cgroup2") => {
                let _ = core::fmt::write(
                    &mut labelled,
                    format_args!(
                        "{}{}context=\"{label}\"",
                        opts.data,
                        if opts.data.is_empty() { "" } else { "," }
                    ),
                );
                Some(labelled.as_str())
            }
            _ if opts.data.is_empty() => None,
            _ => Some(opts.data.as_str()),
        };
        // tmpcopyup: the directory being covered, to copy from once the tmpfs is on it.
        let covered = if opts.tmpcopyup {
            Some(
                fs::openat(target.as_raw_fd(), ".", libc::O_RDONLY | libc::O_DIRECTORY, 0)
                    .step_ctx("open", format_args!("{dest} (tmpcopyup)"))?,
            )
        } else {
            None
        };
        let tpath = fd_path(target.as_raw_fd());
        let fstype = if kind.is_empty() { None } else { Some(kind) };
        match k.mount(Some(source), tpath.as_cstr(), fstype, opts.flags, data) {
            Ok(()) => {}
            Err(libc::EPERM) | Err(libc::EINVAL) if kind == "sysfs" || kind == "mqueue" => {
                // Without its own network namespace (sysfs) or IPC namespace (mqueue) in a user
                // namespace, the kernel refuses a new instance: bind the host's, as runc does.
                let host = if kind == "sysfs" { "/sys" } else { "/dev/mqueue" };
                k.mount(Some(host), tpath.as_cstr(), None, libc::MS_BIND | libc::MS_REC, None)
                    .map_err(|e| mount_err("bind mount", e, host, dest))?;
                let again = open_in_root(rfd, dest, Create::No).step_ctx("reopen mount", format_args!("{dest}"))?;
                let extra = opts.flags & (libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC);
                if extra != 0 {
                    remount(k, &again, extra).map_err(|e| mount_err("remount", e, host, dest))?;
                }
            }
            Err(e) => return Err(mount_err("mount", e, source, dest).ctx(format_args!(" (type {kind})"))),
        }
        if let Some(old) = covered {
            let top = open_in_root(rfd, dest, Create::No).step_ctx("reopen mount", format_args!("{dest}"))?;
            let new = fs::openat(top.as_raw_fd(), ".", libc::O_RDONLY | libc::O_DIRECTORY, 0)
                .step_ctx("open", format_args!("{dest}"))?;
            copy::copy_tree(old.as_raw_fd(), new.as_raw_fd())
                .step_ctx("copy up (tmpcopyup)", format_args!("{dest}"))?;
        }
        if opts.propagation.is_empty() && opts.rec_set == 0 && opts.rec_clr == 0 {
            return Ok(());
        }
        dfd = open_in_root(rfd, dest, Create::No).step_ctx("reopen mount", format_args!("{dest}"))?;
    }

    let dpath = fd_path(dfd.as_raw_fd());
    for p in &opts.propagation {
        k.mount(None, dpath.as_cstr(), None, *p, None)
            .map_err(|e| Error::sys("set mount propagation", e).ctx(format_args!("of {dest}")))?;
    }
    if opts.rec_set != 0 || opts.rec_clr != 0 {
        const AT_RECURSIVE: u32 = 0x8000;
        k.mount_setattr(
            dfd.as_raw_fd(),
            c"",
            libc::AT_EMPTY_PATH as u32 | AT_RECURSIVE,
            opts.rec_set,
            opts.rec_clr,
            0,
        )
        .map_err(|e| {
            if e == libc::ENOSYS {
                Error::sys("mount_setattr", e).ctx(format_args!(
                    "on {dest}: recursive mount options (rro, rnosuid...) need Linux 5.12 or later"
                ))
            } else {
                Error::sys("mount_setattr", e).ctx(format_args!("on {dest}"))
            }
        })?;
    }
    Ok(())
}

/// The default devices every container gets (runtime-spec "Default Devices").
const DEFAULT_DEVICES: &[(&str, u32, u32)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

const DEFAULT_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

/// Make a device node at `dir`/`name`; where mknod is refused (user namespaces), bind-mount
/// the host's node over an empty file instead.
#[allow(clippy::too_many_arguments)]
fn make_device<K: Kernel>(
    k: &K,
    dir: RawFd,
    name: &str,
    kind: u32,
    major: u32,
    minor: u32,
    mode: u32,
    host_path: &str,
) -> Result<()> {
    match k.mknodat(dir, name, kind | (mode & 0o7777), libc::makedev(major, minor)) {
        Ok(()) => Ok(()),
        Err(libc::EEXIST) => {
            // Keep a node that is already the right device; anything else (a symlink to a
            // /proc file, a regular file: CVE-2025-31133) is replaced.
            let st = fs::fstatat(dir, name, libc::AT_SYMLINK_NOFOLLOW)
                .step_ctx("stat device", format_args!("{host_path}"))?;
            if st.st_mode & libc::S_IFMT == kind && st.st_rdev == libc::makedev(major, minor) {
                return Ok(());
            }
            let flags = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                libc::AT_REMOVEDIR
            } else {
                0
            };
            fs::unlinkat(dir, name, flags).step_ctx("replace device", format_args!("{host_path}"))?;
            make_device(k, dir, name, kind, major, minor, mode, host_path)
        }
        Err(libc::EPERM) => {
            match fs::openat(dir, name, libc::O_WRONLY | libc::O_CREAT | libc::O_NOFOLLOW, 0o600) {
                Ok(_) | Err(libc::EEXIST) => {}
                Err(e) => return Err(Error::sys("create device placeholder", e).ctx(format_args!("{host_path}"))),
            }
            let target = fs::openat(dir, name, libc::O_PATH | libc::O_NOFOLLOW, 0)
                .step_ctx("open device placeholder", format_args!("{host_path}"))?;
            let mut b = CBuf::uninit();
            let src = b.set(host_path).map_err(|e| Error::sys("device", e))?;
            k.mount_c(src, fd_path(target.as_raw_fd()).as_cstr(), None, libc::MS_BIND, None)
                .map_err(|e| mount_err("bind-mount device", e, host_path, host_path))?;
            // nosuid and noexec, as a node made on the container's /dev would be.
            let bound = fs::openat(dir, name, libc::O_PATH | libc::O_NOFOLLOW, 0)
                .step_ctx("open bound device", format_args!("{host_path}"))?;
            remount(k, &bound, libc::MS_NOSUID | libc::MS_NOEXEC)
                .map_err(|e| mount_err("remount device nosuid,noexec", e, host_path, host_path))
        }
        Err(e) => Err(Error::sys("mknod", e).ctx(format_args!("{host_path}"))),
    }
}

fn create_devices<K: Kernel>(k: &K, cfg: &Config<'_>, plan: &RootfsPlan<'_>, rfd: RawFd) -> Result<()> {
    let devices = cfg.spec.linux.as_ref().map(|l| cfg.items(l.devices)).unwrap_or(&[]);
    let dev = open_in_root(rfd, "/dev", Create::Dir).step("resolve /dev in the rootfs")?;
    // mknodat and friends need a real directory fd, not O_PATH.
    let dev =
        fs::openat(dev.as_raw_fd(), ".", libc::O_RDONLY | libc::O_DIRECTORY, 0).step("open /dev in the rootfs")?;
    let _ = plan.userns;
    for (name, major, minor) in DEFAULT_DEVICES {
        let mut host: heapless::String<32> = heapless::String::new();
        let _ = core::fmt::write(&mut host, format_args!("/dev/{name}"));
        if devices.iter().any(|d| device_path(d.path.0) == host.as_str()) {
            continue;
        }
        make_device(k, dev.as_raw_fd(), name, libc::S_IFCHR, *major, *minor, 0o666, &host)?;
    }
    for (name, target) in DEFAULT_LINKS {
        match fs::symlinkat(target, dev.as_raw_fd(), name) {
            Ok(()) | Err(libc::EEXIST) => {}
            Err(e) => return Err(Error::sys("symlink", e).ctx(format_args!("/dev/{name} -> {target}"))),
        }
    }
    if fs::exists_at(fs::AT_FDCWD, "/proc/kcore") {
        let _ = fs::symlinkat("/proc/kcore", dev.as_raw_fd(), "core");
    }
    for (i, d) in devices.iter().enumerate() {
        // "/dev/foo/" is /dev/foo, as runc (a cleaned path) makes it.
        let path = device_path(d.path.0);
        let (parent, name) = match path.rfind('/') {
            Some(p) => (&path[..p], &path[p + 1..]),
            None => ("/", path),
        };
        if name.is_empty() || name == "." || name == ".." {
            return Err(crate::spec::validate::at(
                format_args!("linux.devices[{i}].path"),
                format_args!("{path:?} does not name a file"),
            ));
        }
        let pfd = open_in_root(rfd, if parent.is_empty() { "/" } else { parent }, Create::Dir)
            .step_ctx("resolve device directory", format_args!("{parent}"))?;
        let pfd = fs::openat(pfd.as_raw_fd(), ".", libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .step_ctx("open device directory", format_args!("{parent}"))?;
        let kind = match d.kind.0 {
            "b" => libc::S_IFBLK,
            "p" => libc::S_IFIFO,
            _ => libc::S_IFCHR,
        };
        let mode = d.file_mode.unwrap_or(0o666);
        // A node that exists (from a bind mount or the image) is replaced.
        let _ = fs::unlinkat(pfd.as_raw_fd(), name, 0);
        make_device(
            k,
            pfd.as_raw_fd(),
            name,
            kind,
            d.major as u32,
            d.minor as u32,
            mode,
            path,
        )?;
        let uid = d.uid.unwrap_or(0);
        let gid = d.gid.unwrap_or(0);
        match k.fchownat(pfd.as_raw_fd(), name, uid, gid, libc::AT_SYMLINK_NOFOLLOW) {
            Ok(()) | Err(libc::EINVAL) => {}
            Err(e) => return Err(Error::sys("chown device", e).ctx(format_args!("{path}"))),
        }
    }
    Ok(())
}

/// A device's path without trailing slashes ("/" stays "/", and is then refused).
fn device_path(p: &str) -> &str {
    match p.trim_end_matches('/') {
        "" => p,
        t => t,
    }
}

/// Open the host's /dev/null and check it is the null device (a replaced /dev/null must not
/// become a bind source: CVE-2025-31133).
fn verified_null() -> Result<OwnedFd> {
    let fd = fs::open("/dev/null", libc::O_PATH, 0).step("open /dev/null")?;
    let st = fs::fstat(fd.as_raw_fd()).step("stat /dev/null")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != libc::makedev(1, 3) {
        return Err(Error::failed("verify /dev/null").ctx(format_args!(
            "it is not the character device 1:3: refusing to use it for masking"
        )));
    }
    Ok(fd)
}

fn mask_path<K: Kernel>(k: &K, rfd: RawFd, p: &str) -> Result<()> {
    let target = match open_in_root(rfd, p, Create::No) {
        Ok(fd) => fd,
        Err(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(Error::sys("resolve masked path", e).ctx(format_args!("{p}"))),
    };
    let st = fs::fstat(target.as_raw_fd()).step_ctx("stat masked path", format_args!("{p}"))?;
    let tpath = fd_path(target.as_raw_fd());
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        k.mount(
            Some("tmpfs"),
            tpath.as_cstr(),
            Some("tmpfs"),
            libc::MS_RDONLY,
            Some("size=0,mode=0755"),
        )
        .map_err(|e| mount_err("mask directory", e, "tmpfs", p))
    } else {
        let null = verified_null()?;
        k.mount_c(
            fd_path(null.as_raw_fd()).as_cstr(),
            tpath.as_cstr(),
            None,
            libc::MS_BIND,
            None,
        )
        .map_err(|e| mount_err("mask file", e, "/dev/null", p))
    }
}

fn readonly_path<K: Kernel>(k: &K, rfd: RawFd, p: &str) -> Result<()> {
    let target = match open_in_root(rfd, p, Create::No) {
        Ok(fd) => fd,
        Err(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(Error::sys("resolve read-only path", e).ctx(format_args!("{p}"))),
    };
    let tpath = fd_path(target.as_raw_fd());
    k.mount_c(
        tpath.as_cstr(),
        tpath.as_cstr(),
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .map_err(|e| mount_err("bind read-only path", e, p, p))?;
    let again = open_in_root(rfd, p, Create::No).step_ctx("reopen read-only path", format_args!("{p}"))?;
    remount(k, &again, libc::MS_RDONLY).map_err(|e| mount_err("remount read-only", e, p, p))
}

/// A container without a mount namespace of its own (runc runs those with chroot): no mount
/// is made, since every one would change the namespace mote runs in (validation refused the
/// configs that need mounts); the hooks run, then the rootfs becomes the root by chroot.
pub fn enter_without_mounts<K: Kernel>(k: &K, plan: &RootfsPlan<'_>) -> Result<()> {
    if let Some((_, dest)) = plan.binds.first() {
        return Err(Error::failed("bind into the rootfs").ctx(format_args!(
            "{dest}: the container has no mount namespace to bind it in"
        )));
    }
    if let Some(h) = plan.hooks {
        h()?;
    }
    let root = fs::open(plan.rootfs, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
        .step_ctx("open rootfs", format_args!("{}", plan.rootfs))?;
    k.fchdir(root.as_raw_fd()).step("chdir into rootfs")?;
    k.chroot(c".").map_err(|e| Error::sys("chroot", e))?;
    k.chdir(c"/").map_err(|e| Error::sys("chdir /", e))
}

/// Make the rootfs the process's root: pivot_root, or MS_MOVE + chroot.
fn enter<K: Kernel>(k: &K, root: &OwnedFd, no_pivot: bool) -> Result<()> {
    k.fchdir(root.as_raw_fd()).step("chdir into rootfs")?;
    let dot = c".";
    let slash = c"/";
    if !no_pivot {
        match k.pivot_root(dot, dot) {
            Ok(()) => {
                // The old root is now stacked on "."; detach it (after making it a slave so
                // the unmount does not propagate to the host).
                k.mount(None, dot, None, libc::MS_SLAVE | libc::MS_REC, None)
                    .map_err(|e| Error::sys("make old root a slave", e))?;
                k.umount2(dot, libc::MNT_DETACH)
                    .map_err(|e| Error::sys("detach old root", e))?;
                return k.chdir(slash).map_err(|e| Error::sys("chdir /", e));
            }
            // EINVAL: the current root is the initramfs (rootfs), which cannot be pivoted.
            Err(libc::EINVAL) => {}
            Err(e) => return Err(Error::sys("pivot_root", e)),
        }
    }
    k.mount(Some("."), slash, None, libc::MS_MOVE, None)
        .map_err(|e| Error::sys("move rootfs onto /", e))?;
    k.chroot(dot).map_err(|e| Error::sys("chroot", e))?;
    k.chdir(slash).map_err(|e| Error::sys("chdir /", e))
}
