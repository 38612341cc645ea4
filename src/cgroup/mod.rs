//! cgroups on v1, hybrid and v2 hosts, behind one small interface:
//! [`Cgroup::create`], [`Cgroup::join`], [`Cgroup::destroy`], [`Cgroup::procs`].
//!
//! Layouts:
//! - v2: `/sys/fs/cgroup` is cgroup2; the container gets one directory there.
//! - v1: one hierarchy per controller under `/sys/fs/cgroup/<name>`; the container gets a
//!   directory in the hierarchies it needs (always `freezer`, for pause and for finding all
//!   its processes; `devices`, `memory`, `cpu`... when its config uses them).
//! - hybrid: v1 hierarchies plus a cgroup2 at `/sys/fs/cgroup/unified`; the container also
//!   gets a directory in the unified hierarchy (what systemd does).
//!
//! The container's cgroup path is `linux.cgroupsPath` when given (absolute, or relative to
//! the `mote` parent), else `/mote/<id>`.

use crate::prelude::*;

pub mod devices;
pub mod resources;
pub mod stats;

use crate::error::{Error, Result, Step};
use crate::sys::{self, fd_path, fs};
use rustix::fd::{AsRawFd, OwnedFd};

pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
pub const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
pub const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
pub const TMPFS_MAGIC: i64 = 0x0102_1994;

/// The parent of containers whose config gives no absolute cgroupsPath.
pub const DEFAULT_PARENT: &str = "/mote";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    V1,
    Hybrid,
    V2,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::V1 => "v1",
            Mode::Hybrid => "hybrid",
            Mode::V2 => "v2",
        }
    }
}

/// The host's cgroup layout (detected once per process).
pub fn mode() -> Option<Mode> {
    // 0: not detected yet; 1: none; 2, 3, 4: V1, Hybrid, V2. A race only detects twice.
    use core::sync::atomic::{AtomicU8, Ordering};
    static MODE: AtomicU8 = AtomicU8::new(0);
    let m = match MODE.load(Ordering::Relaxed) {
        0 => {
            let m = match detect_mode() {
                None => 1,
                Some(Mode::V1) => 2,
                Some(Mode::Hybrid) => 3,
                Some(Mode::V2) => 4,
            };
            MODE.store(m, Ordering::Relaxed);
            m
        }
        m => m,
    };
    match m {
        2 => Some(Mode::V1),
        3 => Some(Mode::Hybrid),
        4 => Some(Mode::V2),
        _ => None,
    }
}

fn detect_mode() -> Option<Mode> {
    let root = fs::statfs(CGROUP_ROOT).ok()?;
    if root.f_type as i64 == CGROUP2_SUPER_MAGIC {
        return Some(Mode::V2);
    }
    if root.f_type as i64 != TMPFS_MAGIC {
        return None;
    }
    match fs::statfs("/sys/fs/cgroup/unified") {
        Ok(u) if u.f_type as i64 == CGROUP2_SUPER_MAGIC => Some(Mode::Hybrid),
        _ => Some(Mode::V1),
    }
}

/// v1 controllers mote knows, by hierarchy directory name.
pub const V1_CONTROLLERS: &[&str] = &[
    "freezer", "devices", "memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "hugetlb", "net_cls", "net_prio",
    "rdma", "misc",
];

/// A container's cgroup: its path relative to each hierarchy's root, and where it exists.
#[derive(Clone, Debug)]
pub struct Cgroup {
    pub mode: Mode,
    /// Path relative to the hierarchy roots, starting with `/`.
    pub path: String,
    /// Absolute directories of the cgroup, one per hierarchy it was made in.
    pub dirs: Vec<String>,
}

/// The hierarchy mount point of a v1 controller (`cpu` may be mounted as `cpu,cpuacct`).
fn v1_mount(ctrl: &str) -> Option<String> {
    let p = format!("{CGROUP_ROOT}/{ctrl}");
    match fs::statfs(&p) {
        Ok(s) if s.f_type as i64 == CGROUP_SUPER_MAGIC => Some(p),
        _ => None,
    }
}

impl Cgroup {
    /// The cgroup path for a container from `linux.cgroupsPath` (or the default).
    pub fn path_for(id: &str, cgroups_path: Option<&str>, systemd: bool) -> Result<String> {
        let p = match cgroups_path {
            None | Some("") => return Ok(format!("{DEFAULT_PARENT}/{id}")),
            Some(p) => p,
        };
        // The systemd form `slice:prefix:name`, mapped onto cgroupfs paths (no systemd here).
        let is_systemd_form = systemd || (p.matches(':').count() == 2 && !p.starts_with('/'));
        let out = if is_systemd_form {
            let mut parts = p.splitn(3, ':');
            let slice = parts.next().unwrap_or("");
            let prefix = parts.next().unwrap_or("");
            let name = parts.next().unwrap_or("");
            if name.is_empty() {
                return Err(crate::spec::validate::at(
                    format_args!("linux.cgroupsPath"),
                    format_args!("{p:?} is not of the systemd form slice:prefix:name"),
                ));
            }
            let mut out = String::new();
            let slice = if slice.is_empty() { "system.slice" } else { slice };
            // A slice name a-b-c.slice lives at /a.slice/a-b.slice/a-b-c.slice.
            let stem = slice.strip_suffix(".slice").unwrap_or(slice);
            let mut acc = String::new();
            for part in stem.split('-') {
                if !acc.is_empty() {
                    acc.push('-');
                }
                acc.push_str(part);
                if acc != "-" {
                    out.push('/');
                    out.push_str(&acc);
                    out.push_str(".slice");
                }
            }
            out.push('/');
            if prefix.is_empty() {
                out.push_str(name);
            } else {
                out.push_str(prefix);
                out.push('-');
                out.push_str(name);
            }
            if !name.ends_with(".scope") && !name.ends_with(".slice") {
                out.push_str(".scope");
            }
            out
        } else if p.starts_with('/') {
            p.to_string()
        } else {
            format!("{DEFAULT_PARENT}/{p}")
        };
        if out.split('/').any(|c| c == "..") {
            return Err(crate::spec::validate::at(
                format_args!("linux.cgroupsPath"),
                format_args!("{p:?} must not contain \"..\""),
            ));
        }
        Ok(out)
    }

    /// Make the cgroup in the hierarchies the container needs. `need` lists v1 controllers
    /// beyond `freezer`. On failure, what was made is removed.
    pub fn create(path: &str, need: &[&str]) -> Result<Cgroup> {
        let mode =
            mode().ok_or_else(|| Error::failed("cgroup").ctx(format_args!("no cgroup filesystem at {CGROUP_ROOT}")))?;
        let mut cg = Cgroup {
            mode,
            path: path.to_string(),
            dirs: Vec::new(),
        };
        let r = cg.make_dirs(need);
        if r.is_err() {
            let _ = cg.destroy();
        }
        r.map(|_| cg)
    }

    fn make_dirs(&mut self, need: &[&str]) -> Result<()> {
        match self.mode {
            Mode::V2 => {
                let d = format!("{CGROUP_ROOT}{}", self.path);
                mkdir_cgroup(&d)?;
                self.dirs.push(d);
                // Beyond what the config needs, the container gets every controller offered (as
                // with runc and crun), so that `events` and `update` find them.
                let v2: Vec<&str> = need.iter().filter_map(|c| resources::v2_name(c)).collect();
                enable_v2_controllers(&self.path, &v2, true)?;
            }
            Mode::V1 | Mode::Hybrid => {
                for ctrl in core::iter::once(&"freezer").chain(need.iter()) {
                    if self.dir_of(ctrl).is_some() {
                        continue;
                    }
                    let Some(mp) = v1_mount(ctrl) else {
                        if *ctrl == "freezer" {
                            continue;
                        }
                        return Err(Error::failed("cgroup").ctx(format_args!(
                            "the config needs the v1 {ctrl} controller, which is not mounted at {CGROUP_ROOT}/{ctrl}{}",
                            if *ctrl == "memory" {
                                " (Raspberry Pi kernels: add cgroup_enable=memory to cmdline.txt)"
                            } else {
                                ""
                            }
                        )));
                    };
                    let d = format!("{mp}{}", self.path);
                    if self.dirs.contains(&d) {
                        continue;
                    }
                    mkdir_cgroup(&d)?;
                    if *ctrl == "cpuset" {
                        copy_cpuset_from_parents(&mp, &self.path)?;
                    }
                    self.dirs.push(d);
                }
                let u = format!("{CGROUP_ROOT}/unified{}", self.path);
                if self.mode == Mode::Hybrid && !self.dirs.contains(&u) {
                    mkdir_cgroup(&u)?;
                    self.dirs.push(u);
                }
            }
        }
        Ok(())
    }

    /// Make the cgroup in more controllers after processes joined it (`update` asking for a
    /// resource the container was created without): on v1 the new hierarchies' directories are
    /// made and the container's processes moved in; on v2 the controllers are enabled. Returns
    /// true when directories were added (the state must record them).
    pub fn add_controllers(&mut self, need: &[&str]) -> Result<bool> {
        match self.mode {
            Mode::V2 => {
                let v2: Vec<&str> = need.iter().filter_map(|c| resources::v2_name(c)).collect();
                enable_v2_controllers(&self.path, &v2, false)?;
                Ok(false)
            }
            _ => {
                let before = self.dirs.len();
                let pids = self.procs()?;
                let missing: Vec<&str> = need.iter().copied().filter(|c| self.dir_of(c).is_none()).collect();
                if missing.is_empty() {
                    return Ok(false);
                }
                self.make_dirs(&missing)?;
                let mut s: heapless::String<16> = heapless::String::new();
                for d in self.dirs[before..].to_vec() {
                    for p in &pids {
                        s.clear();
                        let _ = core::fmt::write(&mut s, format_args!("{p}"));
                        let f = format!("{d}/cgroup.procs");
                        match fs::write_at(fs::AT_FDCWD, &f, s.as_bytes()) {
                            Ok(()) | Err(libc::ESRCH) => {}
                            Err(e) => return Err(Error::sys("join cgroup", e).ctx(format_args!("{f}"))),
                        }
                    }
                }
                Ok(self.dirs.len() != before)
            }
        }
    }

    /// Move a process into the cgroup (every hierarchy).
    pub fn join(&self, pid: i32) -> Result<()> {
        let mut s: heapless::String<16> = heapless::String::new();
        let _ = core::fmt::write(&mut s, format_args!("{pid}"));
        for d in &self.dirs {
            let f = format!("{d}/cgroup.procs");
            fs::write_at(fs::AT_FDCWD, &f, s.as_bytes()).step_ctx("join cgroup", format_args!("{f}"))?;
        }
        Ok(())
    }

    /// The pids in the cgroup (from the first hierarchy; all hold the same processes).
    pub fn procs(&self) -> Result<Vec<i32>> {
        let Some(d) = self.dirs.first() else {
            return Ok(Vec::new());
        };
        read_procs(d)
    }

    /// Kill every process of the cgroup at once where the kernel can (cgroup.kill, cgroup v2
    /// since Linux 5.14); returns false where it cannot.
    pub fn kill_all(&self) -> bool {
        let Some(d) = self
            .dirs
            .iter()
            .find(|d| fs::exists_at(fs::AT_FDCWD, &format!("{d}/cgroup.kill")))
        else {
            return false;
        };
        fs::write_at(fs::AT_FDCWD, &format!("{d}/cgroup.kill"), b"1").is_ok()
    }

    /// Remove the cgroup directories (the processes must be gone). Retries while the kernel
    /// still counts exiting tasks.
    pub fn destroy(&self) -> Result<()> {
        let mut first_err = None;
        for d in self.dirs.iter().rev() {
            let mut tries = 0;
            loop {
                match fs::unlinkat(fs::AT_FDCWD, d, libc::AT_REMOVEDIR) {
                    Ok(()) | Err(libc::ENOENT) => break,
                    Err(libc::EBUSY) if tries < 100 => {
                        tries += 1;
                        crate::sys::env::sleep(core::time::Duration::from_millis(5));
                    }
                    Err(e) => {
                        first_err.get_or_insert(Error::sys("remove cgroup", e).ctx(format_args!("{d}")));
                        break;
                    }
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Rebuild from a saved path (state.json), finding where it exists.
    pub fn load(path: &str) -> Option<Cgroup> {
        let mode = mode()?;
        let mut dirs = Vec::new();
        match mode {
            Mode::V2 => dirs.push(format!("{CGROUP_ROOT}{path}")),
            _ => {
                for ctrl in V1_CONTROLLERS {
                    if let Some(mp) = v1_mount(ctrl) {
                        let d = format!("{mp}{path}");
                        if !dirs.contains(&d) && fs::exists_at(fs::AT_FDCWD, &d) {
                            dirs.push(d);
                        }
                    }
                }
                if mode == Mode::Hybrid {
                    let d = format!("{CGROUP_ROOT}/unified{path}");
                    if fs::exists_at(fs::AT_FDCWD, &d) {
                        dirs.push(d);
                    }
                }
            }
        }
        dirs.retain(|d| fs::exists_at(fs::AT_FDCWD, d));
        Some(Cgroup {
            mode,
            path: path.to_string(),
            dirs,
        })
    }

    /// The directory of a v1 controller (or the v2 directory).
    pub fn dir_of(&self, ctrl: &str) -> Option<&str> {
        match self.mode {
            Mode::V2 => self.dirs.first().map(|s| s.as_str()),
            _ => {
                let prefix = format!("{CGROUP_ROOT}/{ctrl}/");
                self.dirs.iter().find(|d| d.starts_with(&prefix)).map(|s| s.as_str())
            }
        }
    }
}

/// On v2, a controller works in a cgroup only when every ancestor enables it for its
/// children (cgroup.subtree_control): enable controllers from the root down to the
/// container's parent. `required` ones the kernel or a parent does not offer are an error
/// naming them; with `all`, every other offered controller is enabled too, best effort.
fn enable_v2_controllers(path: &str, required: &[&str], all: bool) -> Result<()> {
    let mut cur = CGROUP_ROOT.to_string();
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let mut buf = [0u8; 512];
    for comp in &comps {
        let avail_path = format!("{cur}/cgroup.controllers");
        let n = fs::read_path(&avail_path, &mut buf).step_ctx("read", format_args!("{avail_path}"))?;
        let avail = String::from_utf8_lossy(&buf[..n]).into_owned();
        let ctl = format!("{cur}/cgroup.subtree_control");
        let n = fs::read_path(&ctl, &mut buf).unwrap_or(0);
        let enabled = String::from_utf8_lossy(&buf[..n]).into_owned();
        let is_on = |c: &str| enabled.split_whitespace().any(|e| e == c);
        for c in required {
            if !avail.split_whitespace().any(|a| a == *c) {
                return Err(Error::failed("cgroup").ctx(format_args!(
                    "the {c} controller is not available in {cur} (it is not in cgroup.controllers: the kernel lacks it, \
                     or a parent does not delegate it{})",
                    if *c == "memory" { "; Raspberry Pi kernels need cgroup_enable=memory" } else { "" }
                )));
            }
        }
        let mut want: String = String::new();
        for c in avail.split_whitespace() {
            if !is_on(c) && (all || required.contains(&c)) {
                want.push('+');
                want.push_str(c);
                want.push(' ');
            }
        }
        if !want.is_empty() {
            // All at once; if the kernel refuses the batch, required ones one by one.
            if fs::write_at(fs::AT_FDCWD, &ctl, want.trim_end().as_bytes()).is_err() {
                for c in required.iter().filter(|c| !is_on(c)) {
                    fs::write_at(fs::AT_FDCWD, &ctl, format!("+{c}").as_bytes())
                        .step_ctx("enable controller", format_args!("+{c} in {ctl}"))?;
                }
            }
        }
        cur.push('/');
        cur.push_str(comp);
    }
    Ok(())
}

fn mkdir_cgroup(d: &str) -> Result<()> {
    // A parent such as /mote may be removed by someone else between our mkdir of it and of
    // its child (an empty parent is fair game for cleanup tools): try the chain again.
    let mut tries = 0;
    loop {
        match fs::mkdir_p(d, 0o755) {
            Err(libc::ENOENT) if tries < 3 => tries += 1,
            r => return r.step_ctx("create cgroup", format_args!("{d}")),
        }
    }
}

/// A new v1 cpuset cgroup starts with empty cpus/mems: copy them down from the parents.
fn copy_cpuset_from_parents(mount: &str, path: &str) -> Result<()> {
    let mut cur = mount.to_string();
    for comp in path.split('/').filter(|c| !c.is_empty()) {
        let parent = cur.clone();
        cur.push('/');
        cur.push_str(comp);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let mut buf = [0u8; 4096];
            let mine = format!("{cur}/{f}");
            let n = fs::read_path(&mine, &mut buf).step_ctx("read", format_args!("{mine}"))?;
            if buf[..n].iter().all(|b| b.is_ascii_whitespace()) {
                let theirs = format!("{parent}/{f}");
                let m = fs::read_path(&theirs, &mut buf).step_ctx("read", format_args!("{theirs}"))?;
                fs::write_at(fs::AT_FDCWD, &mine, &buf[..m]).step_ctx("write", format_args!("{mine}"))?;
            }
        }
    }
    Ok(())
}

fn read_procs(dir: &str) -> Result<Vec<i32>> {
    let f = format!("{dir}/cgroup.procs");
    let mut buf = vec![0u8; 1 << 20];
    let n = match fs::read_path(&f, &mut buf) {
        Ok(n) => n,
        Err(libc::ENOENT) => return Ok(Vec::new()),
        Err(e) => return Err(Error::sys("read cgroup.procs", e).ctx(format_args!("{f}"))),
    };
    Ok(core::str::from_utf8(&buf[..n])
        .unwrap_or("")
        .split_ascii_whitespace()
        .filter_map(|l| l.parse().ok())
        .collect())
}

/// Is the container's cgroup frozen (paused)?
pub fn is_frozen(path: Option<&str>) -> bool {
    let Some(path) = path else { return false };
    let mut buf = [0u8; 64];
    match mode() {
        Some(Mode::V2) => {
            let f = format!("{CGROUP_ROOT}{path}/cgroup.freeze");
            matches!(fs::read_path(&f, &mut buf), Ok(n) if buf[..n].starts_with(b"1"))
        }
        Some(_) => {
            let f = format!("{CGROUP_ROOT}/freezer{path}/freezer.state");
            matches!(fs::read_path(&f, &mut buf), Ok(n) if buf[..n].starts_with(b"FROZEN"))
        }
        None => false,
    }
}

/// A `cgroup` mount inside the container: on v2 a cgroup2 mount (the namespace root when the
/// container has a cgroup namespace, else its own cgroup bound); on v1 and hybrid a tmpfs
/// holding, under each hierarchy's name, a bind mount of the container's own cgroup there
/// (`unified` for the hybrid cgroup2). `rfd` is the rootfs, `dest` the destination in it.
pub fn mount_in_container(
    rfd: rustix::fd::RawFd,
    dest: &str,
    flags: libc::c_ulong,
    cg: Option<&Cgroup>,
    cgroupns: bool,
) -> Result<()> {
    use crate::rootfs::resolve::{open_in_root, Create};
    let ro = flags & libc::MS_RDONLY;
    let base = flags & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RELATIME);
    let Some(cg) = cg else {
        return Err(Error::failed("cgroup mount").ctx(format_args!("{dest}: the container has no cgroup")));
    };
    let dfd = open_in_root(rfd, dest, Create::Dir).step_ctx("resolve mount destination", format_args!("{dest}"))?;
    let target = fd_path(dfd.as_raw_fd());
    if cg.mode == Mode::V2 {
        if cgroupns {
            return sys::mount(Some("cgroup2"), target.as_cstr(), Some("cgroup2"), base | ro, None)
                .map_err(|e| Error::sys("mount cgroup2", e).ctx(format_args!("on {dest}")));
        }
        let src = cg.dirs.first().map(|s| s.as_str()).unwrap_or(CGROUP_ROOT);
        bind(src, &dfd, dest)?;
        let again = open_in_root(rfd, dest, Create::No).step_ctx("reopen", format_args!("{dest}"))?;
        return remount_bind(&again, dest, base | ro);
    }
    sys::mount(Some("tmpfs"), target.as_cstr(), Some("tmpfs"), base, Some("mode=755"))
        .map_err(|e| Error::sys("mount tmpfs", e).ctx(format_args!("on {dest}")))?;
    // The tmpfs now covers `dfd`: reopen to reach its root.
    let top = open_in_root(rfd, dest, Create::No).step_ctx("reopen", format_args!("{dest}"))?;
    let top = fs::openat(top.as_raw_fd(), ".", libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .step_ctx("open", format_args!("{dest}"))?;
    for d in &cg.dirs {
        // /sys/fs/cgroup/<hierarchy>/<path>: the hierarchy's name is the first component.
        let rest = d.strip_prefix(CGROUP_ROOT).unwrap_or(d).trim_start_matches('/');
        let name = rest.split('/').next().unwrap_or("");
        let name = if cg.mode == Mode::Hybrid && name == "unified" {
            "unified"
        } else {
            name
        };
        if name.is_empty() {
            continue;
        }
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
        bind(d, &sub, dest)?;
        let again = fs::openat(
            top.as_raw_fd(),
            name,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )
        .step_ctx("reopen", format_args!("{dest}/{name}"))?;
        remount_bind(&again, dest, base | ro)?;
    }
    if ro != 0 {
        sys::mount(
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

fn bind(src: &str, dest: &OwnedFd, dest_name: &str) -> Result<()> {
    let target = fd_path(dest.as_raw_fd());
    let mut b = sys::CBuf::uninit();
    let s = b.set(src).map_err(|e| Error::sys("cgroup mount", e))?;
    sys::mount_c(s, target.as_cstr(), None, libc::MS_BIND | libc::MS_REC, None)
        .map_err(|e| Error::sys("bind cgroup", e).ctx(format_args!("{src} on {dest_name}")))
}

/// Remount the bind mount whose root `fd` is with `flags`.
fn remount_bind(fd: &OwnedFd, dest_name: &str, flags: libc::c_ulong) -> Result<()> {
    if flags == 0 {
        return Ok(());
    }
    sys::mount(
        None,
        fd_path(fd.as_raw_fd()).as_cstr(),
        None,
        libc::MS_REMOUNT | libc::MS_BIND | flags,
        None,
    )
    .map_err(|e| Error::sys("remount cgroup bind", e).ctx(format_args!("{dest_name}")))
}

#[cfg(test)]
mod tests {
    use super::Cgroup;

    #[test]
    fn cgroup_paths() {
        assert_eq!(Cgroup::path_for("c1", None, false).unwrap(), "/mote/c1");
        assert_eq!(Cgroup::path_for("c1", Some("/a/b"), false).unwrap(), "/a/b");
        assert_eq!(Cgroup::path_for("c1", Some("a/b"), false).unwrap(), "/mote/a/b");
        assert_eq!(
            Cgroup::path_for("c1", Some("machine-x.slice:libpod:abc"), false).unwrap(),
            "/machine.slice/machine-x.slice/libpod-abc.scope"
        );
        assert_eq!(
            Cgroup::path_for("c1", Some(":mote:c1"), true).unwrap(),
            "/system.slice/mote-c1.scope"
        );
        assert!(Cgroup::path_for("c1", Some("/a/../b"), false).is_err());
    }
}
