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
use crate::sys::fs;
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

/// One `exec --cgroup` value: `controllers` (comma-separated, empty for all) and a path
/// relative to the container's cgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubCgroup<'a> {
    pub controllers: &'a str,
    pub path: &'a str,
}

impl<'a> SubCgroup<'a> {
    /// Parse `[controller[,controller...]:]path` as runc does: a path without a prefix only
    /// alone, no controller twice, no empty controller; the path stays below the container's
    /// cgroup (no `..`).
    pub fn parse_all(args: &'a [String]) -> Result<Vec<SubCgroup<'a>>> {
        let bad =
            |a: &str, why: core::fmt::Arguments<'_>| Error::usage("exec --cgroup").ctx(format_args!("{a:?}: {why}"));
        let mut out: Vec<SubCgroup<'a>> = Vec::new();
        for a in args {
            let (controllers, path) = a.split_once(':').unwrap_or(("", a.as_str()));
            if a.contains(':') && controllers.split(',').any(|c| c.is_empty()) {
                return Err(bad(a, format_args!("empty controller name before ':'")));
            }
            if controllers.is_empty() && args.len() > 1 {
                return Err(bad(
                    a,
                    format_args!("with several --cgroup, each needs a controller: prefix"),
                ));
            }
            let path = path.trim_matches('/');
            if path.is_empty() || path.split('/').any(|c| c == ".." || c == ".") {
                return Err(bad(
                    a,
                    format_args!("the path must name a sub-cgroup below the container's (no '.' or '..')"),
                ));
            }
            for (i, c) in controllers.split(',').enumerate().filter(|(_, c)| !c.is_empty()) {
                let twice_here = controllers.split(',').take(i).any(|x| x == c);
                if twice_here || out.iter().any(|s| s.controllers.split(',').any(|x| x == c)) {
                    return Err(bad(a, format_args!("controller {c:?} given more than once")));
                }
            }
            out.push(SubCgroup { controllers, path });
        }
        Ok(out)
    }
}

/// Every v1 hierarchy mounted in /sys/fs/cgroup, by the name of its directory: the
/// controllers', co-mounted ones once under their real directory (`cpu,cpuacct`, not the
/// `cpu` and `cpuacct` symlinks to it) and named ones (`systemd`); cgroup2's `unified` is
/// none of them. Sorted as the kernel lists them.
pub fn v1_hierarchies() -> Vec<String> {
    let Ok(root) = fs::openat(fs::AT_FDCWD, CGROUP_ROOT, libc::O_RDONLY | libc::O_DIRECTORY, 0) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for name in fs::list_dir(rustix::fd::AsRawFd::as_raw_fd(&root)).unwrap_or_default() {
        let is_link = fs::fstatat(rustix::fd::AsRawFd::as_raw_fd(&root), &name, libc::AT_SYMLINK_NOFOLLOW)
            .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK);
        if name == "unified" || name.starts_with('.') || is_link {
            continue;
        }
        if v1_mount(&name).is_some() {
            out.push(name);
        }
    }
    out
}

/// The v1 hierarchy a cgroup directory is in, by its mount's name: `memory`, `cpu,cpuacct`
/// (also for `/sys/fs/cgroup/cpu` when that is a symlink to it, as on Raspberry Pi OS).
pub fn hierarchy_of(d: &str) -> String {
    let h = d
        .strip_prefix(CGROUP_ROOT)
        .and_then(|r| r.trim_start_matches('/').split('/').next())
        .unwrap_or("");
    match fs::read_link(&format!("{CGROUP_ROOT}/{h}")) {
        Ok(target) => target.rsplit('/').next().unwrap_or(h).to_string(),
        Err(_) => h.to_string(),
    }
}

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

    /// The cgroup's directory, open, for a child to be forked straight into (clone3's
    /// CLONE_INTO_CGROUP): only on a v2-only host, where that directory is all the cgroup is.
    pub fn v2_dir(&self) -> Option<OwnedFd> {
        match (self.mode, self.dirs.as_slice()) {
            (Mode::V2, [d]) => fs::open(d, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).ok(),
            _ => None,
        }
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

    /// The directory a process joins in hierarchy `d` given `exec --cgroup` values (runc's
    /// `[controller[,controller...]:]path`): the path of an entry naming one of the
    /// hierarchy's controllers, else the entry without controllers, else `d` itself.
    fn sub_dir(&self, d: &str, subs: &[SubCgroup<'_>]) -> String {
        let hier = match self.mode {
            Mode::V2 => String::new(),
            _ => hierarchy_of(d),
        };
        let named = subs.iter().find(|s| {
            s.controllers
                .split(',')
                .any(|c| !c.is_empty() && hier.split(',').any(|h| h == c))
        });
        match named.or_else(|| subs.iter().find(|s| s.controllers.is_empty())) {
            Some(s) => format!("{d}/{}", s.path),
            None => d.to_string(),
        }
    }

    /// Check `exec --cgroup` values before anything runs: a controller prefix only where
    /// controllers have their own hierarchies (v1, hybrid), every named controller one of
    /// the container's, every sub-cgroup existing (runc joins existing ones only).
    pub fn check_subs(&self, subs: &[SubCgroup<'_>]) -> Result<()> {
        for s in subs {
            let arg = format_args!("{}:{}", s.controllers, s.path);
            if !s.controllers.is_empty() && self.mode == Mode::V2 {
                return Err(Error::usage("exec --cgroup").ctx(format_args!(
                    "{arg}: cgroup v2 has one hierarchy; give the sub-cgroup path without a controller prefix"
                )));
            }
            for c in s.controllers.split(',').filter(|c| !c.is_empty()) {
                if !self.dirs.iter().any(|d| hierarchy_of(d).split(',').any(|h| h == c)) {
                    return Err(Error::usage("exec --cgroup")
                        .ctx(format_args!("{arg}: the container has no cgroup for controller {c:?}")));
                }
            }
        }
        // Two entries for one hierarchy (cpu:x and cpuacct:y where cpu and cpuacct share one).
        for (i, a) in subs.iter().enumerate() {
            for b in &subs[i + 1..] {
                let share = a.controllers.split(',').filter(|c| !c.is_empty()).any(|ca| {
                    self.dirs.iter().map(|d| hierarchy_of(d)).any(|h| {
                        let hs = || h.split(',');
                        hs().any(|x| x == ca) && b.controllers.split(',').any(|cb| hs().any(|x| x == cb))
                    })
                });
                if share {
                    return Err(Error::usage("exec --cgroup").ctx(format_args!(
                        "{}:{} and {}:{} name controllers of one hierarchy; give one of them",
                        a.controllers, a.path, b.controllers, b.path
                    )));
                }
            }
        }
        for d in &self.dirs {
            let t = self.sub_dir(d, subs);
            if !fs::is_dir(&t) {
                return Err(Error::sys("exec --cgroup", libc::ENOENT).ctx(format_args!(
                    "{t}: no such sub-cgroup (make it first; mote joins existing ones)"
                )));
            }
        }
        Ok(())
    }

    /// Move a process into sub-cgroups of the container's cgroup (`exec --cgroup`, checked
    /// with [`Cgroup::check_subs`]).
    pub fn join_sub(&self, pid: i32, subs: &[SubCgroup<'_>]) -> Result<()> {
        let mut s: heapless::String<16> = heapless::String::new();
        let _ = core::fmt::write(&mut s, format_args!("{pid}"));
        for d in &self.dirs {
            let sub = self.sub_dir(d, subs);
            // A v1 cpuset sub-cgroup starts with no cpus and no mems, and nothing can join
            // it (ENOSPC): fill it from its parents, as the container's own was.
            if sub.len() > d.len() && self.mode != Mode::V2 && hierarchy_of(d).split(',').any(|h| h == "cpuset") {
                copy_cpuset_from_parents(d, &sub[d.len()..])?;
            }
            let f = format!("{sub}/cgroup.procs");
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

    /// Remove the cgroup directories (the processes must be gone), and the sub-cgroups made
    /// below them (by a program in the container, or for `exec --cgroup`), deepest first.
    /// Retries while the kernel still counts exiting tasks.
    pub fn destroy(&self) -> Result<()> {
        let mut first_err = None;
        for d in self.dirs.iter().rev() {
            if let Err((e, at)) = rmdir_tree(d) {
                first_err.get_or_insert(Error::sys("remove cgroup", e).ctx(format_args!("{at}")));
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Rebuild from a saved path (state.json), finding where it exists.
    pub fn load(path: &str) -> Option<Cgroup> {
        // Never a hierarchy's root (an empty or damaged record): what is done to the cgroup
        // loaded (kill what is in it, remove it) must stay within one container's cgroup.
        if !path.starts_with('/') || path.trim_matches('/').is_empty() || path.split('/').any(|c| c == "..") {
            return None;
        }
        let mode = mode()?;
        let mut dirs = Vec::new();
        match mode {
            Mode::V2 => dirs.push(format!("{CGROUP_ROOT}{path}")),
            _ => {
                // The controllers' hierarchies, and any other one (named, or co-mounted under
                // its own name) a container with a `cgroup` mount was made in.
                let others = v1_hierarchies();
                for ctrl in V1_CONTROLLERS.iter().copied().chain(others.iter().map(|s| s.as_str())) {
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

/// rmdir a cgroup directory; when the kernel says it is busy, remove its sub-cgroups first
/// (cgroupfs holds only directories that can be removed; its files go with them), then keep
/// trying while the kernel still counts exiting tasks. The common case (no sub-cgroups) is
/// one rmdir. On failure: the errno and the directory.
fn rmdir_tree(d: &str) -> core::result::Result<(), (crate::sys::Errno, String)> {
    let c = alloc::ffi::CString::new(d).map_err(|_| (libc::EINVAL, d.to_string()))?;
    rmdir_tree_at(fs::AT_FDCWD, &c, d, 0)
}

/// [`rmdir_tree`] of `name` in the directory `parent`; names are used as the kernel lists
/// them (a sub-cgroup named with bytes that are not UTF-8 goes too). `shown` names it in
/// errors.
fn rmdir_tree_at(
    parent: rustix::fd::RawFd,
    name: &core::ffi::CStr,
    shown: &str,
    depth: usize,
) -> core::result::Result<(), (crate::sys::Errno, String)> {
    use crate::spec::limits::MAX_SUB_CGROUP_DEPTH;
    let mut tries = 0;
    let mut listed = false;
    loop {
        match fs::unlinkat_c(parent, name, libc::AT_REMOVEDIR) {
            Ok(()) | Err(libc::ENOENT) => return Ok(()),
            Err(libc::EBUSY) | Err(libc::ENOTEMPTY) if !listed && depth < MAX_SUB_CGROUP_DEPTH => {
                listed = true;
                let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
                if let Ok(fd) = fs::openat_c(parent, name, flags, 0) {
                    for n in fs::list_dir_raw(fd.as_raw_fd()).unwrap_or_default() {
                        // Only directories open with O_DIRECTORY: the files are skipped.
                        if fs::openat_c(fd.as_raw_fd(), &n, libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0).is_ok() {
                            let sub = format!("{shown}/{}", n.to_string_lossy());
                            rmdir_tree_at(fd.as_raw_fd(), &n, &sub, depth + 1)?;
                        }
                    }
                }
            }
            Err(libc::EBUSY) | Err(libc::ENOTEMPTY) if depth >= MAX_SUB_CGROUP_DEPTH => {
                return Err((
                    libc::EBUSY,
                    format!(
                        "{shown}: sub-cgroups nested deeper than MAX_SUB_CGROUP_DEPTH ({MAX_SUB_CGROUP_DEPTH}, src/spec/limits.rs); remove them by hand"
                    ),
                ))
            }
            Err(libc::EBUSY) if tries < 100 => {
                tries += 1;
                crate::sys::env::sleep(core::time::Duration::from_millis(5));
            }
            Err(e) => return Err((e, shown.to_string())),
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
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    read_procs_into(dir, 0, &mut buf, &mut out)?;
    Ok(out)
}

/// The pids of `dir` and of its sub-cgroups (made by the container, or `exec --cgroup`), as
/// runc's GetAllPids. A cgroup directory's link count is 2 + its subdirectories, so the
/// common case (none) costs one stat, not a listing.
fn read_procs_into(dir: &str, depth: usize, buf: &mut [u8], out: &mut Vec<i32>) -> Result<()> {
    let f = format!("{dir}/cgroup.procs");
    let n = match fs::read_path(&f, buf) {
        Ok(n) => n,
        Err(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(Error::sys("read cgroup.procs", e).ctx(format_args!("{f}"))),
    };
    parse_pids(&buf[..n], out);
    let has_subdirs = fs::fstatat(fs::AT_FDCWD, dir, 0).is_ok_and(|st| st.st_nlink > 2);
    if has_subdirs {
        if let Ok(fd) = fs::open(dir, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0) {
            sub_procs(&fd, depth, buf, out);
        }
    }
    Ok(())
}

/// The pids of the sub-cgroups below the directory `fd`, by fd and raw names (names that are
/// not UTF-8 count too), at most MAX_SUB_CGROUP_DEPTH levels down. Best effort: a
/// sub-cgroup that vanishes while listed is skipped.
fn sub_procs(fd: &OwnedFd, depth: usize, buf: &mut [u8], out: &mut Vec<i32>) {
    if depth >= crate::spec::limits::MAX_SUB_CGROUP_DEPTH {
        return;
    }
    for n in fs::list_dir_raw(fd.as_raw_fd()).unwrap_or_default() {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        let Ok(sub) = fs::openat_c(fd.as_raw_fd(), &n, flags, 0) else {
            continue; // a file
        };
        if let Ok(p) = fs::openat(sub.as_raw_fd(), "cgroup.procs", libc::O_RDONLY, 0) {
            if let Ok(k) = fs::read_fd_all(p.as_raw_fd(), buf) {
                parse_pids(&buf[..k], out);
            }
        }
        sub_procs(&sub, depth + 1, buf, out);
    }
}

fn parse_pids(text: &[u8], out: &mut Vec<i32>) {
    out.extend(
        core::str::from_utf8(text)
            .unwrap_or("")
            .split_ascii_whitespace()
            .filter_map(|l| l.parse::<i32>().ok()),
    );
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

/// Remove a parent cgroup (and its ancestors up to the root) in every hierarchy where it is
/// empty; one still in use stays (rmdir says EBUSY or ENOTEMPTY).
pub fn remove_parent(path: &str) {
    let mut dirs: Vec<String> = vec![CGROUP_ROOT.to_string()];
    if let Ok(d) = fs::open(CGROUP_ROOT, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0) {
        for n in fs::list_dir(rustix::fd::AsRawFd::as_raw_fd(&d)).unwrap_or_default() {
            dirs.push(format!("{CGROUP_ROOT}/{n}"));
        }
    }
    for base in dirs {
        let mut p = path.trim_end_matches('/');
        while !p.is_empty() && p != "/" {
            if fs::unlinkat(fs::AT_FDCWD, &format!("{base}{p}"), libc::AT_REMOVEDIR).is_err() {
                break;
            }
            p = p.rsplit_once('/').map_or("", |(a, _)| a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Cgroup, Mode, SubCgroup};

    #[test]
    fn exec_sub_cgroups() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = |v: &[&str]| {
            SubCgroup::parse_all(&args(v)).map(|x| {
                x.iter()
                    .map(|s| (s.controllers.to_string(), s.path.to_string()))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(ok(&["sub"]).unwrap(), [("".into(), "sub".into())]);
        assert_eq!(ok(&["/a/b/"]).unwrap(), [("".into(), "a/b".into())]);
        assert_eq!(
            ok(&["memory:m", "cpu,cpuacct:c"]).unwrap(),
            [("memory".into(), "m".into()), ("cpu,cpuacct".into(), "c".into())]
        );
        for bad in [
            &["a", "memory:m"][..],
            &[":x"],
            &["memory,:x"],
            &["memory:m", "memory:n"],
            &["memory,memory:x"],
            &["../up"],
            &["a/../b"],
            &["memory:"],
            &[""],
        ] {
            let e = SubCgroup::parse_all(&args(bad)).unwrap_err().to_string();
            assert!(e.contains("--cgroup"), "{bad:?}: {e}");
        }
        // Which directory each hierarchy joins.
        let cg = Cgroup {
            mode: Mode::Hybrid,
            path: "/mote/c".into(),
            dirs: vec![
                "/sys/fs/cgroup/memory/mote/c".into(),
                "/sys/fs/cgroup/cpu,cpuacct/mote/c".into(),
                "/sys/fs/cgroup/pids/mote/c".into(),
                "/sys/fs/cgroup/unified/mote/c".into(),
            ],
        };
        let subs = [
            SubCgroup {
                controllers: "memory",
                path: "m",
            },
            SubCgroup {
                controllers: "cpuacct",
                path: "c/d",
            },
        ];
        let got: Vec<String> = cg.dirs.iter().map(|d| cg.sub_dir(d, &subs)).collect();
        assert_eq!(
            got,
            [
                "/sys/fs/cgroup/memory/mote/c/m",
                "/sys/fs/cgroup/cpu,cpuacct/mote/c/c/d",
                "/sys/fs/cgroup/pids/mote/c",
                "/sys/fs/cgroup/unified/mote/c"
            ]
        );
        let all = [SubCgroup {
            controllers: "",
            path: "s",
        }];
        assert!(cg.dirs.iter().all(|d| cg.sub_dir(d, &all) == format!("{d}/s")));
        let v2 = Cgroup {
            mode: Mode::V2,
            path: "/mote/c".into(),
            dirs: vec!["/sys/fs/cgroup/mote/c".into()],
        };
        assert_eq!(v2.sub_dir(&v2.dirs[0], &all), "/sys/fs/cgroup/mote/c/s");
        let e = v2.check_subs(&subs).unwrap_err().to_string();
        assert!(e.contains("without a controller prefix"), "{e}");
        // cpu and cpuacct share the cpu,cpuacct hierarchy: one path for it, not two.
        let two = [
            SubCgroup {
                controllers: "cpu",
                path: "x",
            },
            SubCgroup {
                controllers: "cpuacct",
                path: "y",
            },
        ];
        let e = cg.check_subs(&two).unwrap_err().to_string();
        assert!(e.contains("one hierarchy"), "{e}");
    }

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
