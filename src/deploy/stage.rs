//! `mote deploy stage`: a source becomes a revision in the store, in this order:
//!
//! 1. lock the store, clear what a killed command left in `tmp/`;
//! 2. identify the source and compute its digest (reading only manifests and configs for an
//!    image; hashing the files of a bundle);
//! 3. check its signature when keys are configured: before anything is written;
//! 4. check every blob's size and digest against its descriptor;
//! 5. build the revision in `tmp/`: layers unpacked in order (each one's uncompressed digest
//!    checked against the config's diff_ids), files stored as objects, config.json made;
//! 6. write its listing and revision.json, syncfs, rename it into `revisions/`, fsync;
//! 7. record it in the status as staged; drop revisions beyond `keep` and unused objects.
//!
//! Any failure removes the half-built revision and the objects only it used: the store is as
//! it was. A revision is visible only once whole.

use crate::prelude::*;

use super::digest::Digest;
use super::fault;
use super::image::{self, Source};
use super::store::{Phase, Store};
use super::stream::{self, Hashing, Read, Region};
use super::tar::Tar;
use super::tree::{self, Builder, Digests, Objects};
use crate::error::{Error, Result, Step};
use crate::spec::out::JsonStr;
use crate::spec::workload::ImageOverrides;
use crate::sys::fs;
use core::fmt::Write as _;
use core::time::Duration;
use rustix::fd::{AsRawFd, OwnedFd};

/// What to stage and how.
pub struct StageOpts<'a> {
    pub store: &'a str,
    pub name: &'a str,
    pub source: &'a str,
    /// The directory of public keys; when it holds any, the source must be signed.
    pub keys: &'a str,
    /// The signature file (default: SOURCE.sig).
    pub signature: Option<&'a str>,
    /// The platform to choose from an image index (default: this machine's).
    pub platform: Option<(&'a str, Option<&'a str>)>,
    /// From the workload file: how to make config.json from an image.
    pub overrides: ImageOverrides,
    pub allow_devices: bool,
    /// Revisions to keep.
    pub keep: usize,
}

/// What `stage` did.
pub struct Staged {
    pub revision: String,
    pub digest: Digest,
    pub kind: &'static str,
    /// It was in the store already.
    pub already: bool,
    /// The key that signed it.
    pub signed_by: Option<String>,
    pub new_objects: usize,
    pub removed: Vec<String>,
}

/// The digest that identifies a source (and that its signature signs).
pub fn source_digest(src: &Source, platform: (&str, Option<&str>)) -> Result<Digest> {
    match src {
        Source::Oci(b) => Ok(image::read_oci(b, platform)?.digest),
        Source::Docker(b) => Ok(image::read_docker(b, platform)?.digest),
        Source::BundleDir(fd) => tree::listing(fd.as_raw_fd(), &Digests::Read, &mut |_| Ok(())),
        Source::BundleTar { fd, .. } => {
            let size = fs::fstat(fd.as_raw_fd()).step("stat the source")?.st_size as u64;
            Ok(Hashing::new(Region::new(fd.as_raw_fd(), 0, size)).finish()?.0)
        }
    }
}

fn full_disk(e: Error) -> Error {
    if e.errno == Some(libc::ENOSPC) || e.errno == Some(libc::EDQUOT) {
        e.ctx(format_args!(
            " (the store's filesystem is full: free space, or lower deploy.keep so older revisions go)"
        ))
    } else {
        e
    }
}

pub fn stage(o: &StageOpts<'_>, say: &mut dyn FnMut(core::fmt::Arguments<'_>)) -> Result<Staged> {
    let platform = match o.platform {
        Some(p) => p,
        None => image::machine(),
    };
    let store = Store::open(o.store, true)?;
    let _lock = store.lock()?;
    store.clean_tmp();
    fault("stage-begin");

    let src = image::open_source(o.source)?;
    let digest = source_digest(&src, platform)?;
    let kind = src.kind();

    // The signature, before anything is written.
    let keys = super::sign::load_keys(o.keys)?;
    let sig_default = format!("{}.sig", o.source.trim_end_matches('/'));
    let signed_by = if keys.is_empty() {
        if let Some(s) = o.signature {
            return Err(Error::usage("verify the signature").ctx(format_args!(
                "--signature {s}: no public keys in {} to check it with",
                o.keys
            )));
        }
        None
    } else {
        Some(super::sign::verify(
            &keys,
            &digest,
            o.signature.unwrap_or(&sig_default),
        )?)
    };

    let mut rev = String::new();
    let _ = write!(rev, "{}", digest.hex());
    rev.truncate(12);
    // The workload's directory is made only for a revision that is whole: a failed first
    // stage leaves nothing.
    let existing = store.workload(o.name, false).ok();
    if let Some(w) = existing.as_ref().filter(|w| w.has_revision(&rev)) {
        let mut st = w.read_status();
        let _l = w.lock(Duration::from_secs(10))?;
        if st.current() != Some(rev.as_str()) && st.staged.as_deref() != Some(rev.as_str()) {
            st.staged = Some(rev.clone());
            if st.phase != Phase::Testing {
                st.phase = Phase::Staged;
                st.reason = format!("revision {rev} staged (it was in the store)");
            }
            w.write_status(&mut st)?;
        }
        return Ok(Staged {
            revision: rev,
            digest,
            kind,
            already: true,
            signed_by,
            new_objects: 0,
            removed: Vec::new(),
        });
    }

    let (odir, otmp) = store.objects()?;
    let mut objects = Objects::new(odir, otmp);
    let tmp_name = format!("{}.{rev}.{}", o.name, crate::sys::env::pid());
    let r = build(
        &store,
        &src,
        &tmp_name,
        &rev,
        &digest,
        kind,
        signed_by.as_deref(),
        o,
        platform,
        &mut objects,
        say,
    );
    if let Err(e) = r {
        let _ = fs::remove_tree_at(store.dir.as_raw_fd(), &format!("tmp/{tmp_name}"));
        objects.undo();
        return Err(full_disk(e));
    }
    let new_objects = objects.created.len();
    let w = store.workload(o.name, false)?;

    // Staged: the status says so; older revisions beyond `keep` go.
    let _l = w.lock(Duration::from_secs(10))?;
    let mut st = w.read_status();
    st.staged = Some(rev.clone());
    if !st.revisions.contains(&rev) {
        st.revisions.push(rev.clone());
    }
    if st.phase != Phase::Testing {
        st.phase = Phase::Staged;
    }
    st.reason = format!("revision {rev} staged from a {kind}");
    let removed = w.gc(&mut st, o.keep);
    w.write_status(&mut st)?;
    store.gc_objects();
    Ok(Staged {
        revision: rev,
        digest,
        kind,
        already: false,
        signed_by,
        new_objects,
        removed,
    })
}

#[allow(clippy::too_many_arguments)]
fn build(
    store: &Store,
    src: &Source,
    tmp_name: &str,
    rev: &str,
    digest: &Digest,
    kind: &str,
    signed_by: Option<&str>,
    o: &StageOpts<'_>,
    platform: (&str, Option<&str>),
    objects: &mut Objects,
    say: &mut dyn FnMut(core::fmt::Arguments<'_>),
) -> Result<()> {
    let sd = store.dir.as_raw_fd();
    let top = format!("tmp/{tmp_name}");
    fs::mkdirat(sd, &top, 0o700).step_ctx("create a revision", format_args!("{}/{top}", store.path))?;
    let bundle_rel = format!("{top}/bundle");
    fs::mkdirat(sd, &bundle_rel, 0o755).step("create a revision's bundle")?;
    let bundle = open_dir(sd, &bundle_rel)?;

    match src {
        Source::Oci(blobs) | Source::Docker(blobs) => {
            let img = if matches!(src, Source::Oci(_)) {
                image::read_oci(blobs, platform)?
            } else {
                image::read_docker(blobs, platform)?
            };
            // Every blob whole and as its descriptor says, before unpacking any.
            for l in &img.layers {
                if let Some(d) = &l.digest {
                    let (r, size) = blobs.open(&l.name)?;
                    if let Some(s) = l.size {
                        if s != size {
                            return Err(Error::input("verify a blob")
                                .ctx(format_args!("{}: {size} bytes where its descriptor says {s}", l.name)));
                        }
                    }
                    let (got, _) = Hashing::new(r).finish()?;
                    if got != *d {
                        return Err(
                            Error::input("verify a blob").ctx(format_args!("{}: digest mismatch: it is {got}", l.name))
                        );
                    }
                }
            }
            fault("stage-verified");
            fs::mkdirat(bundle.as_raw_fd(), "rootfs", 0o755).step("create the rootfs")?;
            let rootfs = open_dir(bundle.as_raw_fd(), "rootfs")?;
            let mut b = Builder::new(rootfs, objects, o.allow_devices);
            for (i, l) in img.layers.iter().enumerate() {
                b.begin_layer();
                let (r, size) = blobs.open(&l.name)?;
                let dec = stream::decompress(r, stream::expansion_limit(size), "a layer")?;
                let mut h = Hashing::new(dec);
                b.apply(&mut Tar::new(&mut h, "a layer"), true, &l.name)?;
                let (diff, bytes) = h.finish()?;
                if diff != l.diff_id {
                    return Err(Error::input("verify a layer").ctx(format_args!(
                        "{} (layer {i}): its uncompressed digest is {diff}, the config's diff_ids[{i}] says {}",
                        l.name, l.diff_id
                    )));
                }
                say(format_args!("layer {i}: {} bytes unpacked", bytes));
                fault("stage-layer");
            }
            let rootfs = b.root;
            let cfg = super::config::make(&img.config, rootfs.as_raw_fd(), o.name, &o.overrides)?;
            let mut r = SliceRead(cfg.as_bytes());
            let d = objects.put(&mut r, cfg.len() as u64, 0o644, 0, 0, "config.json")?;
            objects.link(&d, bundle.as_raw_fd(), "config.json", "config.json")?;
        }
        Source::BundleDir(fd) => {
            let mut b = Builder::new(dup_dir(&bundle)?, objects, o.allow_devices);
            tree::copy_dir(&mut b, fd.as_raw_fd(), "", 0)?;
        }
        Source::BundleTar { fd, prefix } => {
            let size = fs::fstat(fd.as_raw_fd()).step("stat the source")?.st_size as u64;
            let mut dec = stream::decompress(
                Region::new(fd.as_raw_fd(), 0, size),
                stream::expansion_limit(size),
                "the bundle tarball",
            )?;
            let mut t = Tar::new(&mut *dec, "the bundle tarball");
            let mut b = Builder::new(dup_dir(&bundle)?, objects, o.allow_devices);
            b.strip = prefix.clone();
            b.apply(&mut t, false, "the bundle tarball")?;
        }
    }
    check_bundle_config(bundle.as_raw_fd())?;
    fault("stage-unpacked");

    // Its listing, and what it is.
    let tree_fd = fs::openat(
        sd,
        &format!("{top}/tree"),
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
        0o644,
    )
    .step("create the revision's listing")?;
    let mut out = Vec::with_capacity(64 * 1024);
    let of_ino = |ino: u64| objects.of_ino(ino);
    let tree_digest = tree::listing(bundle.as_raw_fd(), &Digests::Inodes(&of_ino), &mut |l| {
        out.extend_from_slice(l);
        if out.len() >= 60 * 1024 {
            fs::write_all(tree_fd.as_raw_fd(), &out).step("write the revision's listing")?;
            out.clear();
        }
        Ok(())
    })?;
    fs::write_all(tree_fd.as_raw_fd(), &out).step("write the revision's listing")?;
    drop(tree_fd);
    let info = format!(
        "{{\"revision\":{},\"workload\":{},\"source\":\"{digest}\",\"sourceKind\":{},\"tree\":\"{tree_digest}\",\"staged\":{},\"signedBy\":{}}}\n",
        JsonStr(rev),
        JsonStr(o.name),
        JsonStr(kind),
        super::store::now_secs(),
        signed_by.map_or(String::from("null"), |k| format!("{}", JsonStr(k)))
    );
    let topfd = open_dir(sd, &top)?;
    fs::write_atomic(topfd.as_raw_fd(), "revision.json", info.as_bytes(), 0o644).step("write revision.json")?;

    // Durable, then visible.
    fault("stage-before-sync");
    fs::syncfs(sd).step("syncfs the store")?;
    fault("stage-before-rename");
    let w = store.workload(o.name, true)?;
    fs::renameat(sd, &top, w.dir.as_raw_fd(), &format!("revisions/{rev}")).step_ctx(
        "move the revision into place",
        format_args!("{}/revisions/{rev}", w.path),
    )?;
    let revs = open_dir(w.dir.as_raw_fd(), "revisions")?;
    fs::fsync(revs.as_raw_fd()).step("fsync the revisions directory")?;
    fault("stage-renamed");
    Ok(())
}

/// A bundle's config.json must keep its root inside the revision and read-only (the files of
/// a revision are shared with other revisions: a write would change them all).
fn check_bundle_config(bundle: i32) -> Result<()> {
    let f = fs::openat(bundle, "config.json", libc::O_RDONLY | libc::O_CLOEXEC, 0)
        .map_err(|e| Error::sys("read the revision's config.json", e).ctx(format_args!("the bundle has none")))?;
    let input = fs::read_fd_to_end(f.as_raw_fd(), crate::spec::limits::MAX_INPUT_BYTES + 1).step("read config.json")?;
    let mut arena = vec![0u8; input.len()];
    let cfg = crate::spec::parse_config(&input, &mut arena)
        .map_err(|e| Error::input("read the revision's config.json").ctx(format_args!("{e}")))?;
    let root = cfg.spec.root.as_ref();
    let path = root.map_or("", |r| r.path.0);
    if path != "rootfs" && path != "./rootfs" {
        return Err(Error::input("read the revision's config.json").ctx(format_args!(
            "root.path {path:?}: a staged bundle's root must be its own \"rootfs\" directory"
        )));
    }
    if !root.is_some_and(|r| r.readonly) {
        return Err(Error::input("read the revision's config.json").ctx(format_args!(
            "root.readonly must be true: a revision's files are shared with other revisions (writable places belong in mounts: a tmpfs, or a volume)"
        )));
    }
    Ok(())
}

fn open_dir(at: i32, path: &str) -> Result<OwnedFd> {
    fs::openat(at, path, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
        .step_ctx("open", format_args!("{path}"))
}

fn dup_dir(d: &OwnedFd) -> Result<OwnedFd> {
    open_dir(d.as_raw_fd(), ".")
}

struct SliceRead<'a>(&'a [u8]);
impl Read for SliceRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = self.0.len().min(buf.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}
