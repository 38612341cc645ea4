//! The state directory: `<root>/<id>/` holds `state.json` (written atomically), the exec fifo
//! while the container waits for `start`, and a copy of config.json for later commands.

use crate::prelude::*;

use crate::error::{Error, Kind, Result, Step};
use crate::json_object;
use crate::spec::json::{Map, Pools, Str};
use crate::spec::limits;
use crate::spec::out::JsonStr;
use crate::sys::{self, fs};
use core::fmt::Write as _;
use rustix::fd::{AsRawFd, OwnedFd};

pub const DEFAULT_ROOT: &str = "/run/mote";
pub const STATE_FILE: &str = "state.json";
pub const FIFO: &str = "exec.fifo";
pub const CONFIG_COPY: &str = "config.json";
/// The cgroup of a container being created, written before its processes exist: what
/// `delete --force` ends if the creator died before state.json.
pub const CREATING_CGROUP: &str = "creating.cgroup";

/// Check a container id before it touches the filesystem: non-empty, at most MAX_ID_BYTES,
/// no `/`, not `.` or `..`, and only characters runc allows (letters, digits, `_+-.`).
pub fn validate_id(id: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::new(Kind::Usage, "invalid container id")
            .ctx(format_args!("{:?}: {why}", crate::spec::json::Bounded(id, 64))))
    };
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.len() > limits::MAX_ID_BYTES {
        return bad("it is longer than 1024 bytes (MAX_ID_BYTES)");
    }
    if id == "." || id == ".." {
        return bad("it must not be . or ..");
    }
    if id.contains('/') {
        return bad("it must not contain '/'");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'))
    {
        return bad("use only letters, digits and _ + - .");
    }
    Ok(())
}

json_object! {
    /// What state.json holds.
    pub struct StateFile<'a> {
        "ociVersion" => oci_version: Str<'a>,
        "id" => id: Str<'a>,
        "status" => status: Str<'a>,
        "pid" => pid: i32,
        "bundle" => bundle: Str<'a>,
        "annotations" => annotations: Map,
        "rootfs" => rootfs: Str<'a>,
        "created" => created: Str<'a>,
        "owner" => owner: Str<'a>,
        "startTime" => start_time: u64,
        "cgroup" => cgroup: Option<Str<'a>>,
        "cgroupDirs" => cgroup_dirs: crate::spec::json::PoolList<Str<'a>>,
        "useSystemdCgroup" => systemd_cgroup: bool,
        "hooks" => hooks: bool,
    }
}

/// The runtime-spec status of a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// The state root (`--root`), opened.
pub struct StateRoot {
    pub path: String,
    pub fd: OwnedFd,
}

impl StateRoot {
    /// Open the root directory, creating it (mode 0700) if `create`.
    pub fn open(path: &str, create: bool) -> Result<StateRoot> {
        if create {
            fs::mkdir_p(path, 0o700).step_ctx("create state root", format_args!("{path}"))?;
        }
        let fd = fs::open(path, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .step_ctx("open state root", format_args!("{path}"))?;
        Ok(StateRoot {
            path: path.to_string(),
            fd,
        })
    }

    /// Make `<root>/<id>`; fails if it exists (a duplicate id).
    pub fn make_container_dir(&self, id: &str) -> Result<OwnedFd> {
        match fs::mkdirat(self.fd.as_raw_fd(), id, 0o700) {
            Ok(()) => {}
            Err(libc::EEXIST) => {
                return Err(Error::new(Kind::Failed, "create").ctx(format_args!(
                    "container {id:?}: a container with this id already exists"
                )))
            }
            Err(e) => return Err(Error::sys("create state directory", e).ctx(format_args!("{}/{id}", self.path))),
        }
        fs::openat(
            self.fd.as_raw_fd(),
            id,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )
        .step_ctx("open state directory", format_args!("{}/{id}", self.path))
    }

    pub fn container_dir(&self, id: &str) -> Result<OwnedFd> {
        match fs::openat(
            self.fd.as_raw_fd(),
            id,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        ) {
            Ok(fd) => Ok(fd),
            Err(libc::ENOENT) => Err(not_found(id)),
            Err(e) => Err(Error::sys("open state directory", e).ctx(format_args!("{}/{id}", self.path))),
        }
    }

    pub fn remove_container_dir(&self, id: &str) -> Result<()> {
        fs::remove_tree_at(self.fd.as_raw_fd(), id)
            .step_ctx("remove state directory", format_args!("{}/{id}", self.path))
    }

    pub fn dir_path(&self, id: &str) -> String {
        format!("{}/{id}", self.path)
    }

    /// The ids of all containers (directory names), sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let mut v = fs::list_dir(self.fd.as_raw_fd()).step_ctx("list state root", format_args!("{}", self.path))?;
        // Not the supervisor's own directory (`mote supervise` keeps it in the same root: its
        // control socket, its state and its containers' root), which is no container.
        v.retain(|n| {
            validate_id(n).is_ok()
                && !(n == "supervisor" && fs::exists_at(self.fd.as_raw_fd(), "supervisor/containers"))
        });
        v.sort_unstable();
        v.truncate(limits::MAX_CONTAINERS);
        Ok(v)
    }
}

pub fn not_found(id: &str) -> Error {
    // The words "does not exist" are what podman and containerd look for.
    Error::new(Kind::Failed, "container").ctx(format_args!("{id:?} does not exist"))
}

/// A loaded state.json that owns its buffers (freed when dropped).
pub struct Loaded(crate::sys::doc::Owned<StateFamily>);

/// The [`Family`](crate::sys::doc::Family) of a parsed state.json: the file and its pools.
pub struct StateFamily;

// SAFETY: (StateFile<'a>, Box<Pools<'a>>) is covariant in 'a; `_state_is_covariant` compiles
// only if so.
unsafe impl crate::sys::doc::Family for StateFamily {
    type Of<'a> = (StateFile<'a>, Box<Pools<'a>>);
}

#[allow(dead_code)]
fn _state_is_covariant<'a, 'b: 'a>(s: (StateFile<'b>, Box<Pools<'b>>)) -> (StateFile<'a>, Box<Pools<'a>>) {
    s
}

impl Loaded {
    /// The parsed state.json.
    pub fn st(&self) -> &StateFile<'_> {
        &self.0.get().0
    }
    pub fn cgroup_dirs(&self) -> &[Str<'_>] {
        let (st, pools) = self.0.get();
        pools.strs.get(st.cgroup_dirs.range()).unwrap_or(&[])
    }
    pub fn annotations(&self) -> &[(Str<'_>, Str<'_>)] {
        let (st, pools) = self.0.get();
        pools.kvs.get(st.annotations.range()).unwrap_or(&[])
    }
}

/// Read `<dir>/state.json`. `Ok(None)` when the container is still being created (no file).
pub fn read(dir: &OwnedFd, id: &str) -> Result<Option<Loaded>> {
    let fd = match fs::openat(dir.as_raw_fd(), STATE_FILE, libc::O_RDONLY, 0) {
        Ok(fd) => fd,
        Err(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(Error::sys("open state.json", e).ctx(format_args!("of {id:?}"))),
    };
    let buf = crate::sys::fs::read_fd_to_end(fd.as_raw_fd(), limits::MAX_INPUT_BYTES + 1)
        .step_ctx("read state.json", format_args!("of {id:?}"))?;
    let n = buf.len();
    let doc = crate::sys::doc::Owned::parse(buf, n, |input, arena| {
        let mut pools = Box::<Pools<'_>>::default();
        let st = crate::spec::parse_doc::<StateFile<'_>>(input, arena, &mut pools)?;
        Ok((st, pools))
    })
    .map_err(|e: crate::spec::json::JsonError| {
        Error::new(Kind::Failed, "state.json").ctx(format_args!("of {id:?} is corrupt: {e}"))
    })?;
    Ok(Some(Loaded(doc)))
}

/// A container's state as JSON: runtime-spec's state (what hooks read on stdin, what a seccomp
/// listener receives, `mote state`), and in state.json what mote keeps beside it. The one
/// writer of all of them.
#[derive(Default)]
pub struct Doc<'s> {
    pub id: &'s str,
    pub status: &'s str,
    pub pid: i32,
    pub bundle: &'s str,
    pub annotations: &'s [(Str<'s>, Str<'s>)],
    /// `mote state`, `mote list` and state.json also give the rootfs, when it was created and
    /// by whom (runc's fields).
    pub runc: Option<RuncFields<'s>>,
    /// state.json only: what later commands need.
    pub kept: Option<Kept<'s>>,
}

/// runc's fields of `state` and `list`.
pub struct RuncFields<'s> {
    pub rootfs: &'s str,
    pub created: &'s str,
    pub owner: &'s str,
}

/// What state.json keeps for later commands.
pub struct Kept<'s> {
    pub start_time: u64,
    pub cgroup: Option<&'s str>,
    pub cgroup_dirs: &'s [String],
    pub systemd_cgroup: bool,
    /// The config has poststart or poststop hooks (start and delete then read it).
    pub hooks: bool,
}

impl Doc<'_> {
    /// The document, compact or (as `runc state` prints it) indented. Annotations are in the
    /// config's order, and left out when there are none.
    pub fn write(&self, pretty: bool) -> String {
        let mut o = String::with_capacity(512);
        let (nl, ind, sp) = if pretty { ("\n", "  ", " ") } else { ("", "", "") };
        let field = |o: &mut String, first: bool, key: &str, v: core::fmt::Arguments<'_>| {
            let _ = write!(o, "{}{nl}{ind}\"{key}\":{sp}{v}", if first { "" } else { "," });
        };
        o.push('{');
        field(&mut o, true, "ociVersion", format_args!("\"{}\"", crate::SPEC_VERSION));
        field(&mut o, false, "id", format_args!("{}", JsonStr(self.id)));
        field(&mut o, false, "pid", format_args!("{}", self.pid));
        field(&mut o, false, "status", format_args!("{}", JsonStr(self.status)));
        field(&mut o, false, "bundle", format_args!("{}", JsonStr(self.bundle)));
        if let Some(r) = &self.runc {
            field(&mut o, false, "rootfs", format_args!("{}", JsonStr(r.rootfs)));
            field(&mut o, false, "created", format_args!("{}", JsonStr(r.created)));
        }
        if !self.annotations.is_empty() {
            field(&mut o, false, "annotations", format_args!("{{"));
            for (i, (k, v)) in self.annotations.iter().enumerate() {
                let _ = write!(
                    o,
                    "{}{nl}{ind}{ind}{}:{sp}{}",
                    if i > 0 { "," } else { "" },
                    JsonStr(k),
                    JsonStr(v)
                );
            }
            let _ = write!(o, "{nl}{ind}}}");
        }
        if let Some(r) = &self.runc {
            field(&mut o, false, "owner", format_args!("{}", JsonStr(r.owner)));
        }
        if let Some(k) = &self.kept {
            field(&mut o, false, "startTime", format_args!("{}", k.start_time));
            field(&mut o, false, "useSystemdCgroup", format_args!("{}", k.systemd_cgroup));
            if let Some(c) = k.cgroup {
                field(&mut o, false, "cgroup", format_args!("{}", JsonStr(c)));
            }
            if k.hooks {
                field(&mut o, false, "hooks", format_args!("true"));
            }
            field(&mut o, false, "cgroupDirs", format_args!("["));
            for (i, d) in k.cgroup_dirs.iter().enumerate() {
                let _ = write!(o, "{}{}", if i > 0 { "," } else { "" }, JsonStr(d));
            }
            o.push(']');
        }
        let _ = write!(o, "{nl}}}");
        o
    }
}

/// runtime-spec's state of a container, compact: what hooks read on stdin and what a seccomp
/// listener receives.
pub fn spec_state(id: &str, status: &str, pid: i32, bundle: &str, annotations: &[(Str<'_>, Str<'_>)]) -> String {
    Doc {
        id,
        status,
        pid,
        bundle,
        annotations,
        ..Default::default()
    }
    .write(false)
}

/// Write state.json atomically (temp, fsync, rename, fsync dir).
pub fn write(dir: &OwnedFd, s: &Doc<'_>) -> Result<()> {
    let mut text = s.write(false);
    text.push('\n');
    fs::write_atomic(dir.as_raw_fd(), STATE_FILE, text.as_bytes(), 0o600).step("write state.json")
}

/// Is the recorded init still the same live process?
pub fn init_alive(pid: i32, start_time: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match sys::proc::stat(pid) {
        Ok((state, t)) => t == start_time && state != b'Z' && state != b'X',
        Err(_) => false,
    }
}

/// The status of a container from its state and the system.
pub fn status(dir: &OwnedFd, st: Option<&StateFile<'_>>) -> Status {
    let Some(st) = st else {
        return Status::Creating;
    };
    if !init_alive(st.pid, st.start_time) {
        return Status::Stopped;
    }
    if crate::cgroup::is_frozen(st.cgroup.map(|c| c.0)) {
        return Status::Paused;
    }
    if fs::exists_at(dir.as_raw_fd(), FIFO) {
        Status::Created
    } else {
        Status::Running
    }
}

/// A container's state directory and parsed state.
pub struct Handle {
    pub id: String,
    pub dir: OwnedFd,
    pub state: Option<Loaded>,
}

impl Handle {
    pub fn open(root: &StateRoot, id: &str) -> Result<Handle> {
        validate_id(id)?;
        let dir = root.container_dir(id)?;
        let state = read(&dir, id)?;
        Ok(Handle {
            id: id.to_string(),
            dir,
            state,
        })
    }
    pub fn status(&self) -> Status {
        status(&self.dir, self.state.as_ref().map(|s| s.st()))
    }
    pub fn pid(&self) -> i32 {
        self.state.as_ref().map_or(0, |s| s.st().pid)
    }
    /// The state as `mote state` (pretty, as runc prints it) or `mote list --format json`
    /// prints it: pid 0 once stopped; a container still being created has no state.json yet.
    pub fn to_json(&self, pretty: bool) -> String {
        let status = self.status();
        let owner = if pretty { "" } else { "root" };
        let Some(s) = self.state.as_ref() else {
            return Doc {
                id: &self.id,
                status: status.as_str(),
                runc: Some(RuncFields {
                    rootfs: "",
                    created: "",
                    owner,
                }),
                ..Default::default()
            }
            .write(pretty);
        };
        let st = s.st();
        Doc {
            id: &st.id,
            status: status.as_str(),
            pid: if status == Status::Stopped { 0 } else { st.pid },
            bundle: &st.bundle,
            annotations: s.annotations(),
            runc: Some(RuncFields {
                rootfs: &st.rootfs,
                created: &st.created,
                owner,
            }),
            kept: None,
        }
        .write(pretty)
    }

    pub fn cgroup(&self) -> Option<crate::cgroup::Cgroup> {
        let Some(s) = self.state.as_ref() else {
            // Still being created (or its creator died before state.json): the cgroup that
            // create recorded, so that `delete --force` can end what is in it.
            let mut b = [0u8; 4096];
            let n = fs::openat(
                self.dir.as_raw_fd(),
                CREATING_CGROUP,
                libc::O_RDONLY | libc::O_CLOEXEC,
                0,
            )
            .and_then(|f| fs::read(f.as_raw_fd(), &mut b))
            .ok()?;
            let path = core::str::from_utf8(&b[..n]).ok()?.trim();
            return crate::cgroup::Cgroup::load(path);
        };
        let path = s.st().cgroup?;
        let dirs = s.cgroup_dirs();
        if dirs.is_empty() {
            return crate::cgroup::Cgroup::load(&path);
        }
        Some(crate::cgroup::Cgroup {
            mode: crate::cgroup::mode()?,
            path: path.to_string(),
            dirs: dirs.iter().map(|d| d.to_string()).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::validate_id;

    #[test]
    fn ids() {
        for ok in ["a", "abc-123_x.y+z", &"x".repeat(1024)] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "a\0b", &"x".repeat(1025), "é"] {
            let e = validate_id(bad).unwrap_err();
            assert_eq!(e.kind, crate::error::Kind::Usage, "{bad:?}");
        }
    }
}
