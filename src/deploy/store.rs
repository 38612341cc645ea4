//! The revision store (README "The revision store"):
//!
//! ```text
//! <store>/                          default /var/lib/mote, or --store DIR
//!   lock                            flock: one staging, gc or fsck at a time
//!   objects/sha256/<hex>            every file of every revision, once (hard links)
//!   objects/tmp/                    objects being written
//!   tmp/                            revisions being built (invisible until renamed)
//!   workloads/<name>/
//!     lock                          flock: status and pointer changes
//!     revisions/<rev>/bundle/       a complete OCI bundle (config.json, rootfs/)
//!     revisions/<rev>/revision.json what it was made from, its tree digest
//!     revisions/<rev>/tree          its listing (see tree.rs)
//!     current -> revisions/<rev>    what runs (the one under test while testing)
//!     previous -> revisions/<rev>   what ran before (what a rollback goes back to)
//!     status.a, status.b            the status, A/B, each with a generation and a checksum
//!     status.json                   the newest status, for OTA agents
//! ```
//!
//! The status is the truth; the `current` and `previous` links follow it (and are repaired
//! to match it after a power cut). A status is written to the older of its two slots with
//! write-temp, fsync, rename, fsync dir, so a torn write leaves the other slot, which the
//! reader then takes (its checksum tells which one is whole).

use crate::prelude::*;

use super::digest::Digest;
use super::fault;
use crate::error::{Error, Result, Step};
use crate::json_object;
use crate::spec::json::{List, Pools, Str};
use crate::spec::limits::STORE_LOCK_TIMEOUT_SECS;
use crate::spec::out::JsonStr;
use crate::sys::fs;
use core::fmt::Write as _;
use core::time::Duration;
use rustix::fd::{AsRawFd, OwnedFd, RawFd};

pub const DEFAULT_STORE: &str = "/var/lib/mote";

/// What a workload's deployment is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Phase {
    /// Nothing staged or deployed yet.
    #[default]
    None,
    /// A revision is staged, not yet activated.
    Staged,
    /// A new revision runs under test.
    Testing,
    /// The current revision is committed.
    Committed,
    /// The last revision tested failed (or a rollback was asked for); the previous one runs.
    RolledBack,
    /// A revision failed with nothing to go back to.
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::None => "none",
            Phase::Staged => "staged",
            Phase::Testing => "testing",
            Phase::Committed => "committed",
            Phase::RolledBack => "rolled-back",
            Phase::Failed => "failed",
        }
    }
    fn parse(s: &str) -> Option<Phase> {
        [
            Phase::None,
            Phase::Staged,
            Phase::Testing,
            Phase::Committed,
            Phase::RolledBack,
            Phase::Failed,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// A workload's deployment status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub generation: u64,
    pub name: String,
    pub phase: Phase,
    /// The revision known good (runs when nothing is under test).
    pub committed: Option<String>,
    /// The one committed before it.
    pub previous: Option<String>,
    /// The revision under test.
    pub testing: Option<String>,
    /// The newest revision staged.
    pub staged: Option<String>,
    /// The last revision that failed its test.
    pub failed: Option<String>,
    pub reason: String,
    /// Seconds since the epoch of the last change.
    pub since: u64,
    /// The boot the test began in (a test does not survive a reboot).
    pub boot: String,
    /// Under test: ready and healthy (the hand-over is done).
    pub healthy: bool,
    /// The revisions in the store, oldest first.
    pub revisions: Vec<String>,
}

impl Status {
    /// The revision that runs: the one under test, else the committed one.
    pub fn current(&self) -> Option<&str> {
        self.testing.as_deref().or(self.committed.as_deref())
    }

    /// What the `previous` link names: the rollback target (while testing, the committed
    /// revision).
    pub fn previous_link(&self) -> Option<&str> {
        if self.testing.is_some() {
            self.committed.as_deref()
        } else {
            self.previous.as_deref()
        }
    }

    /// The status as one JSON line.
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(512);
        let opt = |v: &Option<String>| v.as_deref().map_or(String::from("null"), |s| format!("{}", JsonStr(s)));
        let _ = write!(
            o,
            "{{\"generation\":{},\"name\":{},\"phase\":\"{}\",\"current\":{},\"committed\":{},\"previous\":{},\"testing\":{},\"staged\":{},\"failed\":{},\"healthy\":{},\"reason\":{},\"since\":{},\"boot\":{},\"revisions\":[",
            self.generation,
            JsonStr(&self.name),
            self.phase.as_str(),
            opt(&self.current().map(String::from)),
            opt(&self.committed),
            opt(&self.previous),
            opt(&self.testing),
            opt(&self.staged),
            opt(&self.failed),
            self.healthy,
            JsonStr(&self.reason),
            self.since,
            JsonStr(&self.boot),
        );
        for (i, r) in self.revisions.iter().enumerate() {
            let _ = write!(o, "{}{}", if i > 0 { "," } else { "" }, JsonStr(r));
        }
        o.push_str("]}");
        o
    }

    fn parse(line: &[u8]) -> Option<Status> {
        let mut arena = vec![0u8; line.len()];
        let mut pools = Pools::default();
        let j: StatusJson<'_> = crate::spec::parse_doc(line, &mut arena, &mut pools).ok()?;
        let s = |v: Option<Str<'_>>| v.map(|s| String::from(s.0));
        Some(Status {
            generation: j.generation,
            name: j.name.map_or(String::new(), |n| n.0.into()),
            phase: Phase::parse(j.phase.map_or("none", |p| p.0))?,
            committed: s(j.committed),
            previous: s(j.previous),
            testing: s(j.testing),
            staged: s(j.staged),
            failed: s(j.failed),
            reason: j.reason.map_or(String::new(), |r| r.0.into()),
            since: j.since,
            boot: j.boot.map_or(String::new(), |b| b.0.into()),
            healthy: j.healthy,
            revisions: j.revisions.iter().map(|r| String::from(r.0)).collect(),
        })
    }

    /// Revisions a garbage collection must keep.
    pub fn in_use(&self) -> Vec<&str> {
        [&self.committed, &self.previous, &self.testing, &self.staged]
            .into_iter()
            .filter_map(|r| r.as_deref())
            .collect()
    }
}

/// The transitions (each idempotent: `Ok(false)` when there was nothing to change).
impl Status {
    /// Begin testing `rev`.
    pub fn begin_test(&mut self, rev: &str, boot: &str) -> core::result::Result<bool, String> {
        if self.testing.as_deref() == Some(rev) || (self.testing.is_none() && self.committed.as_deref() == Some(rev)) {
            return Ok(false);
        }
        if let Some(t) = &self.testing {
            return Err(format!(
                "revision {t} is under test: commit it or roll it back before activating {rev}"
            ));
        }
        self.testing = Some(rev.into());
        if self.staged.as_deref() == Some(rev) {
            self.staged = None;
        }
        self.phase = Phase::Testing;
        self.healthy = false;
        self.reason = format!("testing revision {rev}");
        self.boot = boot.into();
        Ok(true)
    }

    /// Commit the revision under test.
    pub fn commit(&mut self, why: &str) -> core::result::Result<bool, String> {
        match self.testing.take() {
            Some(t) => {
                if self.committed.as_deref() != Some(t.as_str()) {
                    self.previous = self.committed.take();
                }
                self.committed = Some(t);
                self.phase = Phase::Committed;
                self.healthy = false;
                self.reason = why.into();
                Ok(true)
            }
            None if self.phase == Phase::Committed => Ok(false),
            None => Err(format!(
                "nothing under test to commit (the deployment is {})",
                self.phase.as_str()
            )),
        }
    }

    /// Roll back: the revision under test (or staged) is dropped; with nothing under test the
    /// committed revision gives way to the previous one. `only`: act only if that revision is
    /// the one under test, staged or committed (what OTA clients say, so that a rollback after
    /// a failed stage does not undo the good revision).
    pub fn rollback(&mut self, why: &str, only: Option<&str>) -> core::result::Result<bool, String> {
        let is = |r: &Option<String>| only.is_none() || r.as_deref() == only;
        if self.testing.is_some() {
            if !is(&self.testing) {
                return Ok(false);
            }
            self.failed = self.testing.take();
            self.phase = if self.committed.is_some() {
                Phase::RolledBack
            } else {
                Phase::Failed
            };
            self.healthy = false;
            self.reason = why.into();
            return Ok(true);
        }
        if self.phase == Phase::Staged && is(&self.staged) {
            self.staged = None;
            self.phase = if self.committed.is_some() {
                Phase::Committed
            } else {
                Phase::None
            };
            self.reason = format!("staged revision dropped: {why}");
            return Ok(true);
        }
        if only.is_some() && !is(&self.committed) {
            return Ok(false);
        }
        match self.phase {
            // Just rolled back by request (what it left is the previous one): done already.
            Phase::RolledBack if self.previous.is_some() && self.previous == self.failed => Ok(false),
            Phase::Committed | Phase::RolledBack if self.previous.is_some() => {
                // The two swap (previous names what was left, and a rollback of that goes
                // forward again).
                let was = self.committed.take();
                self.committed = self.previous.take();
                self.previous = was.clone();
                self.failed = was;
                self.phase = Phase::RolledBack;
                self.reason = why.into();
                Ok(true)
            }
            Phase::RolledBack | Phase::Failed | Phase::None => Ok(false),
            _ => Err(format!(
                "nothing to roll back to: no revision under test and no previous one (the deployment is {})",
                self.phase.as_str()
            )),
        }
    }
}

json_object! {
    pub struct StatusJson<'a> {
        "generation" => generation: u64,
        "name" => name: Option<Str<'a>>,
        "phase" => phase: Option<Str<'a>>,
        "committed" => committed: Option<Str<'a>>,
        "previous" => previous: Option<Str<'a>>,
        "testing" => testing: Option<Str<'a>>,
        "staged" => staged: Option<Str<'a>>,
        "failed" => failed: Option<Str<'a>>,
        "reason" => reason: Option<Str<'a>>,
        "since" => since: u64,
        "boot" => boot: Option<Str<'a>>,
        "healthy" => healthy: bool,
        "revisions" => revisions: List<Str<'a>, 64>,
    }
}

/// This boot's id (a test begun in another boot is over).
pub fn boot_id() -> String {
    let mut b = [0u8; 64];
    let n = fs::read_path("/proc/sys/kernel/random/boot_id", &mut b).unwrap_or(0);
    String::from(core::str::from_utf8(&b[..n]).unwrap_or("").trim())
}

pub fn now_secs() -> u64 {
    crate::sys::env::realtime().as_secs()
}

/// An flock held until dropped.
pub struct Lock(#[allow(dead_code)] OwnedFd);

/// Take the lock file `name` in `dir`, waiting at most `wait`.
fn lock_at(dir: RawFd, name: &str, wait: Duration, what: &str) -> Result<Lock> {
    let f = fs::openat(dir, name, libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC, 0o600)
        .step_ctx("open a lock", format_args!("{what}"))?;
    let end = crate::sys::env::monotonic() + wait;
    loop {
        match fs::flock(f.as_raw_fd(), true, true) {
            Ok(()) => return Ok(Lock(f)),
            Err(libc::EWOULDBLOCK) if crate::sys::env::monotonic() < end => {
                crate::sys::env::sleep(Duration::from_millis(20));
            }
            Err(libc::EWOULDBLOCK) => {
                return Err(Error::failed("lock the store").ctx(format_args!(
                    "{what} is busy (another mote deploy command holds it) for over {} s",
                    wait.as_secs()
                )))
            }
            Err(e) => return Err(Error::sys("lock the store", e).ctx(format_args!("{what}"))),
        }
    }
}

fn open_dir(at: RawFd, path: &str) -> core::result::Result<OwnedFd, i32> {
    fs::openat(at, path, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
}

/// An open store.
pub struct Store {
    pub path: String,
    pub dir: OwnedFd,
}

impl Store {
    /// Open the store at `path`, making its layout when `create`.
    pub fn open(path: &str, create: bool) -> Result<Store> {
        if create {
            for sub in ["", "/objects/sha256", "/objects/tmp", "/tmp", "/workloads"] {
                fs::mkdir_p(&format!("{path}{sub}"), 0o700)
                    .step_ctx("create the store", format_args!("{path}{sub}"))?;
            }
        }
        let dir = open_dir(fs::AT_FDCWD, path).map_err(|e| {
            Error::sys("open the store", e).ctx(format_args!(
                "{path}{}",
                if e == libc::ENOENT {
                    " (nothing was staged there yet; or give --store)"
                } else {
                    ""
                }
            ))
        })?;
        Ok(Store { path: path.into(), dir })
    }

    /// The store-wide lock (staging, gc, fsck).
    pub fn lock(&self) -> Result<Lock> {
        lock_at(
            self.dir.as_raw_fd(),
            "lock",
            Duration::from_secs(STORE_LOCK_TIMEOUT_SECS as u64),
            &self.path,
        )
    }

    pub fn objects(&self) -> Result<(OwnedFd, OwnedFd)> {
        let o = open_dir(self.dir.as_raw_fd(), "objects/sha256")
            .step_ctx("open the objects", format_args!("{}", self.path))?;
        let t = open_dir(self.dir.as_raw_fd(), "objects/tmp")
            .step_ctx("open the objects", format_args!("{}", self.path))?;
        Ok((o, t))
    }

    /// Remove what a command that died left half-made (under the store lock).
    pub fn clean_tmp(&self) {
        for sub in ["tmp", "objects/tmp"] {
            if let Ok(d) = open_dir(self.dir.as_raw_fd(), sub) {
                for n in fs::list_dir(d.as_raw_fd()).unwrap_or_default() {
                    let _ = fs::remove_tree_at(d.as_raw_fd(), &n);
                }
            }
        }
    }

    /// Remove objects no revision links (a link count of one: only the store's own name).
    pub fn gc_objects(&self) -> usize {
        let Ok((o, _)) = self.objects() else { return 0 };
        let mut removed = 0;
        for n in fs::list_dir(o.as_raw_fd()).unwrap_or_default() {
            if fs::fstatat(o.as_raw_fd(), &n, libc::AT_SYMLINK_NOFOLLOW).is_ok_and(|s| s.st_nlink == 1)
                && fs::unlinkat(o.as_raw_fd(), &n, 0).is_ok()
            {
                removed += 1;
            }
        }
        removed
    }

    /// The names of the workloads in the store.
    pub fn workload_names(&self) -> Vec<String> {
        let mut v = open_dir(self.dir.as_raw_fd(), "workloads")
            .and_then(|d| fs::list_dir(d.as_raw_fd()))
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    /// A workload's directory (made when `create`).
    pub fn workload(&self, name: &str, create: bool) -> Result<WDir> {
        crate::spec::workload::check_name(name)
            .map_err(|why| Error::usage("workload name").ctx(format_args!("{name:?}: {why}")))?;
        let path = format!("{}/workloads/{name}", self.path);
        if create {
            fs::mkdir_p(&format!("{path}/revisions"), 0o700)
                .step_ctx("create a workload's directory", format_args!("{path}"))?;
        }
        let dir = open_dir(fs::AT_FDCWD, &path).map_err(|e| {
            Error::sys("open a workload's directory", e).ctx(format_args!(
                "{path}{}",
                if e == libc::ENOENT {
                    " (nothing was staged for it)"
                } else {
                    ""
                }
            ))
        })?;
        Ok(WDir {
            name: name.into(),
            path,
            dir,
        })
    }
}

/// A workload's directory in the store.
pub struct WDir {
    pub name: String,
    pub path: String,
    pub dir: OwnedFd,
}

impl WDir {
    /// The status lock, held for a status change (brief). `wait` bounds the wait.
    pub fn lock(&self, wait: Duration) -> Result<Lock> {
        lock_at(self.dir.as_raw_fd(), "lock", wait, &self.path)
    }

    /// The bundle directory of a revision.
    pub fn bundle(&self, rev: &str) -> String {
        format!("{}/revisions/{rev}/bundle", self.path)
    }

    pub fn has_revision(&self, rev: &str) -> bool {
        fs::exists_at(self.dir.as_raw_fd(), &format!("revisions/{rev}/revision.json"))
    }

    /// The newest whole status (the default when there is none).
    pub fn read_status(&self) -> Status {
        let mut best: Option<Status> = None;
        for slot in ["status.a", "status.b"] {
            let Ok(f) = fs::openat(self.dir.as_raw_fd(), slot, libc::O_RDONLY | libc::O_CLOEXEC, 0) else {
                continue;
            };
            let Ok(v) = fs::read_fd_to_end(f.as_raw_fd(), 64 * 1024) else {
                continue;
            };
            // Line 1 the status, line 2 its sha256.
            let text = core::str::from_utf8(&v).unwrap_or("");
            let Some((line, sum)) = text.trim_end().split_once('\n') else {
                continue;
            };
            if Digest::parse(sum.trim()) != Some(Digest::of(line.as_bytes())) {
                continue; // torn or damaged: the other slot
            }
            if let Some(s) = Status::parse(line.as_bytes()) {
                if best.as_ref().is_none_or(|b| s.generation > b.generation) {
                    best = Some(s);
                }
            }
        }
        best.unwrap_or_else(|| Status {
            name: self.name.clone(),
            ..Default::default()
        })
    }

    /// Write `st` as the next generation, then make the links follow it.
    pub fn write_status(&self, st: &mut Status) -> Result<()> {
        let on_disk = self.read_status();
        st.generation = on_disk.generation.max(st.generation) + 1;
        st.name = self.name.clone();
        st.since = now_secs();
        let line = st.to_json();
        let text = format!("{line}\n{}\n", Digest::of(line.as_bytes()));
        let slot = if st.generation % 2 == 0 { "status.a" } else { "status.b" };
        fault("status-write");
        fs::write_atomic(self.dir.as_raw_fd(), slot, text.as_bytes(), 0o644)
            .step_ctx("write the deploy status", format_args!("{}/{slot}", self.path))?;
        fault("status-written");
        let _ = fs::write_atomic(
            self.dir.as_raw_fd(),
            "status.json",
            format!("{line}\n").as_bytes(),
            0o644,
        );
        self.sync_links(st)
    }

    /// Make `current` and `previous` name what the status says (atomically, each).
    pub fn sync_links(&self, st: &Status) -> Result<()> {
        let d = self.dir.as_raw_fd();
        let want = |r: Option<&str>| r.map(|r| format!("revisions/{r}"));
        let (cur, prev) = (want(st.current()), want(st.previous_link()));
        let read = |n: &str| {
            let mut b = [0u8; 256];
            fs::readlinkat(d, n, &mut b).ok().map(String::from)
        };
        let (has_cur, has_prev) = (read("current"), read("previous"));
        if has_cur == cur && has_prev == prev {
            return Ok(());
        }
        // A swap of the two: one atomic exchange.
        if cur.is_some() && prev.is_some() && has_cur == prev && has_prev == cur {
            fault("links-exchange");
            fs::exchange(d, "current", "previous")
                .step_ctx("swap current and previous", format_args!("{}", self.path))?;
        } else {
            for (name, target, has) in [("previous", &prev, &has_prev), ("current", &cur, &has_cur)] {
                if target == has {
                    continue;
                }
                match target {
                    None => {
                        let _ = fs::unlinkat(d, name, 0);
                    }
                    Some(t) => {
                        let tmp = format!(".{name}.tmp");
                        let _ = fs::unlinkat(d, &tmp, 0);
                        fs::symlinkat(t, d, &tmp).step_ctx("make a link", format_args!("{}/{tmp}", self.path))?;
                        fault("link-swap");
                        fs::renameat(d, &tmp, d, name)
                            .step_ctx("switch a link", format_args!("{}/{name}", self.path))?;
                    }
                }
            }
        }
        fs::fsync(d).step("fsync a workload's directory")
    }

    /// Remove revisions beyond `keep` that the status does not use; returns their names.
    pub fn gc(&self, st: &mut Status, keep: usize) -> Vec<String> {
        // What is there, in status order (oldest first), then any the status does not know.
        let on_disk = open_dir(self.dir.as_raw_fd(), "revisions")
            .and_then(|d| fs::list_dir(d.as_raw_fd()))
            .unwrap_or_default();
        st.revisions.retain(|r| on_disk.contains(r));
        for r in &on_disk {
            if !st.revisions.contains(r) {
                st.revisions.insert(0, r.clone());
            }
        }
        let mut in_use: Vec<String> = st.in_use().into_iter().map(String::from).collect();
        // With keep 1 the previous revision is not kept for a rollback.
        if keep < 2 {
            if let Some(p) = &st.previous {
                if Some(p.as_str()) != st.current() && st.staged.as_ref() != Some(p) {
                    in_use.retain(|r| r != p);
                }
            }
        }
        let mut removed = Vec::new();
        let mut kept = 0;
        // Newest first: keep what is used, and the newest others while under `keep`.
        let order: Vec<String> = st.revisions.iter().rev().cloned().collect();
        for r in order {
            if in_use.contains(&r) || kept < keep.saturating_sub(in_use.len()) {
                if !in_use.contains(&r) {
                    kept += 1;
                }
                continue;
            }
            fault("gc-remove");
            if fs::remove_tree_at(self.dir.as_raw_fd(), &format!("revisions/{r}")).is_ok() {
                removed.push(r);
            }
        }
        st.revisions.retain(|r| !removed.contains(r));
        if st.previous.as_ref().is_some_and(|p| removed.contains(p)) {
            st.previous = None;
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_json() {
        let s = Status {
            generation: 7,
            name: "web".into(),
            phase: Phase::Testing,
            committed: Some("a1".into()),
            previous: None,
            testing: Some("b2".into()),
            staged: Some("b2".into()),
            failed: None,
            reason: "say \"hi\"".into(),
            since: 5,
            boot: "x".into(),
            healthy: true,
            revisions: vec!["a1".into(), "b2".into()],
        };
        assert_eq!(Status::parse(s.to_json().as_bytes()), Some(s.clone()));
        assert_eq!(s.current(), Some("b2"));
    }
}
