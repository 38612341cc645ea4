//! OTA-delivered workloads: the revision store and what `mote deploy` does with it.
//!
//! - `stage` turns a source (bundle, bundle tarball, OCI layout, oci-archive, docker-archive)
//!   into a revision: [`stage`];
//! - `activate`, `commit` and `rollback` move a workload's deployment between revisions
//!   ([`store::Status`]'s transitions); with a supervisor running it performs them, since it
//!   runs the containers (src/supervisor/deploy.rs); without one they change the status,
//!   which the next supervisor follows;
//! - `status`, `fsck` and `sign` read.
//!
//! The crates doing the heavy lifting: sha2 (digests), miniz_oxide (gzip's deflate), ruzstd
//! (zstd), ed25519-compact (signatures). The tar reader and the rest are mote's.

use crate::prelude::*;

pub mod config;
pub mod digest;
pub mod image;
pub mod sign;
pub mod stage;
pub mod store;
pub mod stream;
pub mod tar;
pub mod tree;

use crate::error::{Error, Result, Step};
use crate::sys::fs;
use digest::Digest;
use rustix::fd::AsRawFd;
use store::{Store, WDir};

/// Where mote looks for the public keys that signatures must match.
pub const DEFAULT_KEYS: &str = "/etc/mote/keys";

/// Fault injection for the tests: when `MOTE_FAULT` names this point, the process kills itself
/// here with SIGKILL (what a power cut does to a process). The points are the `fault("...")`
/// calls in src/deploy and src/supervisor; tests/deploy.rs finds them there.
pub fn fault(point: &str) {
    if crate::sys::env::var("MOTE_FAULT") == Some(point) {
        let _ = crate::sys::proc::kill(crate::sys::proc::getpid(), libc::SIGKILL);
    }
}

/// Read a workload's status (its newest whole copy).
pub fn status(store_path: &str, name: &str) -> Result<store::Status> {
    let s = Store::open(store_path, false)?;
    Ok(s.workload(name, false)?.read_status())
}

/// The statuses of every workload of the store.
pub fn statuses(store_path: &str) -> Result<Vec<store::Status>> {
    let s = Store::open(store_path, false)?;
    let mut out = Vec::new();
    for n in s.workload_names() {
        if let Ok(w) = s.workload(&n, false) {
            out.push(w.read_status());
        }
    }
    Ok(out)
}

/// Apply a transition to a workload's status without a supervisor (it follows the status when
/// it starts). Returns whether anything changed, and the new status.
pub fn change(
    store_path: &str,
    name: &str,
    f: &mut dyn FnMut(&mut store::Status, &WDir) -> core::result::Result<bool, String>,
) -> Result<(bool, store::Status)> {
    let s = Store::open(store_path, false)?;
    let w = s.workload(name, false)?;
    let _l = w.lock(core::time::Duration::from_secs(10))?;
    let mut st = w.read_status();
    let changed = f(&mut st, &w).map_err(|why| Error::failed("deploy").ctx(format_args!("{name}: {why}")))?;
    if changed {
        w.write_status(&mut st)?;
    } else {
        // Idempotent, and the links are repaired if a power cut left them behind.
        w.sync_links(&st)?;
    }
    Ok((changed, st))
}

/// What `fsck` found.
#[derive(Default)]
pub struct Fsck {
    pub objects: usize,
    pub revisions: usize,
    /// Objects nothing links (a garbage collection removes them).
    pub unreferenced: usize,
    /// What a killed command left in tmp/ (the next command removes it).
    pub leftovers: usize,
    pub problems: Vec<String>,
}

/// Verify the store: every object's digest, every revision's tree against its listing, the
/// statuses and links.
pub fn fsck(store_path: &str) -> Result<Fsck> {
    let s = Store::open(store_path, false)?;
    let _lock = s.lock()?;
    let mut r = Fsck::default();
    let (odir, _) = s.objects()?;
    let mut inos: Vec<(u64, Digest)> = Vec::new();
    let mut names = fs::list_dir(odir.as_raw_fd()).step("list the objects")?;
    names.sort_unstable();
    for n in &names {
        r.objects += 1;
        let f = match fs::openat(
            odir.as_raw_fd(),
            n,
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0,
        ) {
            Ok(f) => f,
            Err(e) => {
                r.problems.push(format!("object {n}: {}", crate::error::errno_name(e)));
                continue;
            }
        };
        let st = fs::fstat(f.as_raw_fd()).step("stat an object")?;
        let got = tree::file_digest(f.as_raw_fd(), &st)?;
        match Digest::from_hex(n) {
            Some(d) if d == got => inos.push((st.st_ino as u64, d)),
            _ => r.problems.push(format!(
                "object {n}: its content or metadata does not match its name (it is {got})"
            )),
        }
        if st.st_nlink == 1 {
            r.unreferenced += 1;
        }
    }
    inos.sort_unstable_by_key(|(i, _)| *i);
    let of_ino = |ino: u64| inos.binary_search_by_key(&ino, |(i, _)| *i).ok().map(|k| inos[k].1);
    for name in s.workload_names() {
        let w = match s.workload(&name, false) {
            Ok(w) => w,
            Err(e) => {
                r.problems.push(format!("workload {name}: {e}"));
                continue;
            }
        };
        let revs = fs::openat(
            w.dir.as_raw_fd(),
            "revisions",
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        )
        .and_then(|d| fs::list_dir(d.as_raw_fd()))
        .unwrap_or_default();
        for rev in &revs {
            r.revisions += 1;
            if let Err(why) = check_revision(&w, rev, &of_ino) {
                r.problems.push(format!("{name}: revision {rev}: {why}"));
            }
        }
        let st = w.read_status();
        for (link, want) in [("current", st.current()), ("previous", st.previous_link())] {
            let mut b = [0u8; 256];
            let has = fs::readlinkat(w.dir.as_raw_fd(), link, &mut b).ok();
            let want = want.map(|r| format!("revisions/{r}"));
            if has != want.as_deref() {
                r.problems.push(format!(
                    "{name}: {link} is {} where the status says {} (the next deploy command or supervisor start repairs it)",
                    has.unwrap_or("absent"),
                    want.as_deref().unwrap_or("none")
                ));
            }
            if let Some(w) = &want {
                if !revs.iter().any(|x| w.ends_with(x.as_str())) {
                    r.problems
                        .push(format!("{name}: the status names {w}, which is not in the store"));
                }
            }
        }
    }
    for sub in ["tmp", "objects/tmp"] {
        r.leftovers += fs::openat(
            s.dir.as_raw_fd(),
            sub,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        )
        .and_then(|d| fs::list_dir(d.as_raw_fd()))
        .map_or(0, |v| v.len());
    }
    Ok(r)
}

/// One revision against its revision.json and listing.
fn check_revision(w: &WDir, rev: &str, of_ino: &dyn Fn(u64) -> Option<Digest>) -> core::result::Result<(), String> {
    let d = w.dir.as_raw_fd();
    let info = fs::openat(
        d,
        &format!("revisions/{rev}/revision.json"),
        libc::O_RDONLY | libc::O_CLOEXEC,
        0,
    )
    .and_then(|f| fs::read_fd_to_end(f.as_raw_fd(), 64 * 1024))
    .map_err(|e| format!("revision.json: {}", crate::error::errno_name(e)))?;
    let text = core::str::from_utf8(&info).map_err(|_| String::from("revision.json is not text"))?;
    let want = text
        .split("\"tree\":\"")
        .nth(1)
        .and_then(|t| Digest::parse(t.split('"').next()?))
        .ok_or_else(|| String::from("revision.json names no tree digest"))?;
    let listing = fs::openat(d, &format!("revisions/{rev}/tree"), libc::O_RDONLY | libc::O_CLOEXEC, 0)
        .map_err(|e| format!("tree: {}", crate::error::errno_name(e)))?;
    let (listed, _) = stream::Hashing::new(stream::Region::owned(listing, 0, u64::MAX))
        .finish()
        .map_err(|e| format!("tree: {e}"))?;
    if listed != want {
        return Err(format!(
            "its listing file is not the one revision.json names ({listed})"
        ));
    }
    let bundle = fs::openat(
        d,
        &format!("revisions/{rev}/bundle"),
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )
    .map_err(|e| format!("bundle: {}", crate::error::errno_name(e)))?;
    // The listing as staged, and the tree as it is now.
    let mut want_lines: Vec<u8> = Vec::new();
    let lf = fs::openat(d, &format!("revisions/{rev}/tree"), libc::O_RDONLY | libc::O_CLOEXEC, 0)
        .and_then(|f| fs::read_fd_to_end(f.as_raw_fd(), 256 << 20))
        .map_err(|e| format!("tree: {}", crate::error::errno_name(e)))?;
    want_lines.extend_from_slice(&lf);
    let mut wanted: Vec<&[u8]> = want_lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    wanted.sort_unstable();
    let mut seen = vec![false; wanted.len()];
    let mut extra: Vec<String> = Vec::new();
    tree::listing(bundle.as_raw_fd(), &tree::Digests::Inodes(of_ino), &mut |l| {
        let l = l.strip_suffix(b"\n").unwrap_or(l);
        match wanted.binary_search(&l) {
            Ok(k) => seen[k] = true,
            // Directories and empty files of their own, not listed: the mount points a
            // runtime makes in a rootfs (/proc, /run/mote/notify.sock). Nothing else.
            Err(_) if l.starts_with(b"d ") || l.ends_with(b" -") => {}
            Err(_) => {
                extra.push(String::from_utf8_lossy(l.splitn(6, |b| *b == b' ').nth(4).unwrap_or(b"?")).into_owned())
            }
        }
        Ok(())
    })
    .map_err(|e| format!("{e}"))?;
    let missing: Vec<String> = wanted
        .iter()
        .zip(&seen)
        .filter(|(_, s)| !**s)
        .map(|(l, _)| String::from_utf8_lossy(l.splitn(6, |b| *b == b' ').nth(4).unwrap_or(b"?")).into_owned())
        .collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Err(format!(
            "its files differ from its listing: {}{}{}",
            if missing.is_empty() {
                String::new()
            } else {
                format!("changed or missing: {}", first_few(&missing))
            },
            if missing.is_empty() || extra.is_empty() {
                ""
            } else {
                "; "
            },
            if extra.is_empty() {
                String::new()
            } else {
                format!("not in the revision: {}", first_few(&extra))
            },
        ));
    }
    Ok(())
}

fn first_few(v: &[String]) -> String {
    let mut s = v.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > 5 {
        s.push_str(&format!(" and {} more", v.len() - 5));
    }
    s
}

/// Sign a source for the build side: its digest and the signature (base64).
pub fn sign_source(source: &str, key: &str, platform: Option<(&str, Option<&str>)>) -> Result<(Digest, String)> {
    let src = image::open_source(source)?;
    let platform = match platform {
        Some(p) => p,
        None => image::machine(),
    };
    let d = stage::source_digest(&src, platform)?;
    let sig = sign::sign(key, &d)?;
    Ok((d, sig))
}
