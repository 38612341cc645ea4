//! Building a revision's tree from tar streams (image layers, bundle tarballs) or from a
//! bundle directory, and listing a tree.
//!
//! Every regular file becomes an *object*: `objects/sha256/<digest>`, where the digest covers
//! the file's mode, owner and content (so that a hard link to it carries the right metadata),
//! and the revision holds a hard link to it: a file that two revisions share costs its space
//! once. Directories, symlinks and fifos are made in the revision itself.
//!
//! Nothing in a layer can reach outside the revision: paths with `..` are refused, every lookup
//! of a parent directory is resolved inside the revision's root (RESOLVE_IN_ROOT: a symlink
//! `lib -> /usr/lib` from a lower layer leads to the revision's own /usr/lib), hard links
//! must name a file already in the revision, and device nodes are refused unless allowed.
//!
//! The *listing* of a tree is one line per entry, in sorted path order:
//! `<type> <mode> <uid> <gid> <path> [<object digest> | <link target> | <major>,<minor>]`, with
//! bytes outside `!`..`~` and `%` written `%XX`. Its sha256 is the tree's digest: what a
//! bundle's signature signs and what `fsck` checks a revision against.

use crate::prelude::*;

use super::digest::{Digest, Hex, Sha256};
use super::stream::Read;
use super::tar::{self, Kind, Tar};
use crate::error::{Error, Result, Step};
use crate::rootfs::resolve;
use crate::spec::limits::{MAX_REVISION_ENTRIES, MAX_TREE_DEPTH};
use crate::sys::fs;
use core::fmt::Write as _;
use rustix::fd::{AsRawFd, OwnedFd, RawFd};

/// The digest of an object: its mode, owner and content.
pub fn object_hasher(mode: u32, uid: u32, gid: u32) -> Sha256 {
    let mut h = Sha256::new();
    let mut head: heapless::String<64> = heapless::String::new();
    let _ = write!(head, "mote-object\0{:o} {uid} {gid}\0", mode & 0o7777);
    h.update(head.as_bytes());
    h
}

/// Where objects go: the store's `objects/sha256` and its temp directory.
pub struct Objects {
    pub dir: OwnedFd,
    pub tmp: OwnedFd,
    /// Objects this operation created (removed again if it fails).
    pub created: Vec<Digest>,
    /// Every file linked into the tree being built: inode -> object (for its listing).
    pub inos: Vec<(u64, Digest)>,
    seq: u32,
}

impl Objects {
    pub fn new(dir: OwnedFd, tmp: OwnedFd) -> Objects {
        Objects {
            dir,
            tmp,
            created: Vec::new(),
            inos: Vec::new(),
            seq: 0,
        }
    }

    /// Write `size` bytes from `r` as an object with this metadata; its digest.
    pub fn put(&mut self, r: &mut dyn Read, size: u64, mode: u32, uid: u32, gid: u32, what: &str) -> Result<Digest> {
        self.seq += 1;
        let mut name: heapless::String<32> = heapless::String::new();
        let _ = write!(name, "{}.{}", crate::sys::env::pid(), self.seq);
        let f = fs::openat(
            self.tmp.as_raw_fd(),
            &name,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            0o600,
        )
        .step_ctx("create an object", format_args!("{what}"))?;
        let r = (|| {
            let mut h = object_hasher(mode, uid, gid);
            let mut buf = vec![0u8; 64 * 1024];
            let mut left = size;
            while left > 0 {
                let k = left.min(buf.len() as u64) as usize;
                r.read_exact(&mut buf[..k], "a file's data")?;
                h.update(&buf[..k]);
                fs::write_all(f.as_raw_fd(), &buf[..k]).step_ctx("write an object", format_args!("{what}"))?;
                left -= k as u64;
            }
            fs::fchown(f.as_raw_fd(), uid, gid).step_ctx("chown an object", format_args!("{what}"))?;
            fs::fchmod(f.as_raw_fd(), mode & 0o7777).step_ctx("chmod an object", format_args!("{what}"))?;
            let d = h.finish();
            let mut hex: heapless::String<64> = heapless::String::new();
            let _ = write!(hex, "{}", d.hex());
            match fs::linkat(self.tmp.as_raw_fd(), &name, self.dir.as_raw_fd(), &hex) {
                Ok(()) => self.created.push(d),
                Err(libc::EEXIST) => {}
                Err(e) => return Err(Error::sys("store an object", e).ctx(format_args!("{what}"))),
            }
            Ok(d)
        })();
        drop(f);
        let _ = fs::unlinkat(self.tmp.as_raw_fd(), &name, 0);
        r
    }

    /// Hard-link object `d` as `dir/name`.
    pub fn link(&mut self, d: &Digest, dir: RawFd, name: &str, what: &str) -> Result<()> {
        let mut hex: heapless::String<64> = heapless::String::new();
        let _ = write!(hex, "{}", d.hex());
        fs::linkat(self.dir.as_raw_fd(), &hex, dir, name)
            .step_ctx("link a file to its object", format_args!("{what}"))?;
        if let Ok(st) = fs::fstatat(dir, name, libc::AT_SYMLINK_NOFOLLOW) {
            self.inos.push((st.st_ino as u64, *d));
        }
        Ok(())
    }

    /// The object an inode of the tree is (after `link`).
    pub fn of_ino(&self, ino: u64) -> Option<Digest> {
        self.inos.iter().rev().find(|(i, _)| *i == ino).map(|(_, d)| *d)
    }

    /// Remove the objects this operation made that nothing links (after a failure).
    pub fn undo(&mut self) {
        for d in self.created.drain(..) {
            let mut hex: heapless::String<64> = heapless::String::new();
            let _ = write!(hex, "{}", d.hex());
            if fs::fstatat(self.dir.as_raw_fd(), &hex, libc::AT_SYMLINK_NOFOLLOW).is_ok_and(|s| s.st_nlink == 1) {
                let _ = fs::unlinkat(self.dir.as_raw_fd(), &hex, 0);
            }
        }
    }
}

/// A path from an archive, made relative and checked: no `..`, no empty result.
pub fn clean_path(p: &str) -> core::result::Result<String, &'static str> {
    let mut out = String::with_capacity(p.len());
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("it has a `..` component (a path traversal)"),
            c => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
    Ok(out)
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A tree being built under `root` (the revision's bundle directory, or its rootfs).
pub struct Builder<'o> {
    pub root: OwnedFd,
    pub objects: &'o mut Objects,
    pub allow_devices: bool,
    /// A directory prefix of the archive's paths to drop (`bundle/` of a bundle tarball);
    /// entries outside it are skipped.
    pub strip: String,
    /// Paths made by the layer being applied (hashes), for opaque directories.
    this_layer: Vec<u64>,
    entries: usize,
    /// The last parent directory opened (its path and fd): entries come grouped by directory.
    last: Option<(String, OwnedFd)>,
}

impl<'o> Builder<'o> {
    pub fn new(root: OwnedFd, objects: &'o mut Objects, allow_devices: bool) -> Builder<'o> {
        Builder {
            root,
            objects,
            allow_devices,
            strip: String::new(),
            this_layer: Vec::new(),
            entries: 0,
            last: None,
        }
    }

    fn bad(what: &str, path: &str, why: core::fmt::Arguments<'_>) -> Error {
        Error::input("unpack").ctx(format_args!("{what}: {path:?}: {why}"))
    }

    /// The directory `dir` (relative, clean) inside the root, made if missing.
    fn parent(&mut self, dir: &str) -> Result<RawFd> {
        if let Some((p, fd)) = &self.last {
            if p == dir {
                return Ok(fd.as_raw_fd());
            }
        }
        let fd = if dir.is_empty() {
            fs::openat(
                self.root.as_raw_fd(),
                ".",
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                0,
            )
        } else {
            match resolve::open_in_root(self.root.as_raw_fd(), dir, resolve::Create::No) {
                Ok(fd) => Ok(fd),
                Err(libc::ENOENT) => {
                    // Make the missing components one by one, each resolved inside the root.
                    let mut at = 0;
                    loop {
                        let end = dir[at..].find('/').map_or(dir.len(), |i| at + i);
                        let r = resolve::open_in_root(self.root.as_raw_fd(), &dir[..end], resolve::Create::Dir);
                        if end == dir.len() {
                            break r;
                        }
                        if let Err(e) = r {
                            break Err(e);
                        }
                        at = end + 1;
                    }
                }
                Err(e) => Err(e),
            }
        }
        .map_err(|e| Error::sys("open a directory in the revision", e).ctx(format_args!("{dir:?}")))?;
        // It must be a directory (a file or a device where a directory should be: refuse).
        let st = fs::fstat(fd.as_raw_fd()).step("stat a directory in the revision")?;
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(Error::input("unpack").ctx(format_args!("{dir:?} is not a directory in the revision")));
        }
        self.last = Some((dir.into(), fd));
        Ok(self.last.as_ref().map_or(-1, |(_, f)| f.as_raw_fd()))
    }

    /// Remove `name` in `dir` whatever it is.
    fn remove(dir: RawFd, name: &str) -> Result<()> {
        fs::remove_tree_at(dir, name).step_ctx("remove a replaced entry", format_args!("{name}"))
    }

    /// Start a new layer (opaque directories apply to the layers below only).
    pub fn begin_layer(&mut self) {
        self.this_layer.clear();
    }

    /// Apply one tar stream; `whiteouts`: an image layer (`.wh.` entries delete).
    pub fn apply(&mut self, t: &mut Tar<'_>, whiteouts: bool, what: &str) -> Result<()> {
        while let Some(e) = t.next()? {
            self.entry(t, e, whiteouts, what)?;
        }
        Ok(())
    }

    fn entry(&mut self, t: &mut Tar<'_>, e: tar::Entry, whiteouts: bool, what: &str) -> Result<()> {
        let mut path = clean_path(&e.path).map_err(|why| Self::bad(what, &e.path, format_args!("{why}")))?;
        let mut e = e;
        if !self.strip.is_empty() {
            match path.strip_prefix(self.strip.as_str()) {
                Some(rest) => path = rest.into(),
                None => return Ok(()),
            }
            if e.kind == Some(Kind::Hardlink) {
                e.link = clean_path(&e.link)
                    .unwrap_or_default()
                    .strip_prefix(self.strip.as_str())
                    .unwrap_or("")
                    .into();
            }
        }
        if path.is_empty() {
            return Ok(()); // the root itself
        }
        self.entries += 1;
        if self.entries > MAX_REVISION_ENTRIES {
            return Err(Error::input("unpack").ctx(format_args!(
                "{what}: more than MAX_REVISION_ENTRIES ({MAX_REVISION_ENTRIES}) entries"
            )));
        }
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        let (dir, name) = (String::from(dir), String::from(name));
        if whiteouts && name.starts_with(".wh.") {
            let pfd = self.parent(&dir)?;
            if name == ".wh..wh..opq" {
                // Opaque: what lower layers put in this directory goes.
                let names = fs::list_dir(pfd_dir(pfd)?.as_raw_fd()).step("list an opaque directory")?;
                for n in names {
                    let full = if dir.is_empty() {
                        n.clone()
                    } else {
                        format!("{dir}/{n}")
                    };
                    if !self.this_layer.contains(&fnv(&full)) {
                        Self::remove(pfd, &n)?;
                    }
                }
            } else {
                let gone = &name[4..];
                if gone.is_empty() || gone == "." || gone == ".." {
                    return Err(Self::bad(what, &e.path, format_args!("a whiteout naming nothing")));
                }
                Self::remove(pfd, gone)?;
            }
            return Ok(());
        }
        self.this_layer.push(fnv(&path));
        let Some(kind) = e.kind else {
            return Ok(()); // an unknown entry type: skipped (its data too)
        };
        let pfd = self.parent(&dir)?;
        // What is there goes, unless a directory stays a directory.
        let existing = fs::fstatat(pfd, &name, libc::AT_SYMLINK_NOFOLLOW).ok();
        if let Some(st) = existing {
            let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
            if !(is_dir && kind == Kind::Dir) {
                Self::remove(pfd, &name)?;
            }
        }
        if self
            .last
            .as_ref()
            .is_some_and(|(p, _)| p == &path || p.starts_with(&format!("{path}/")))
        {
            self.last = None;
        }
        let p = path.as_str();
        let sys = |step: &'static str| move |err: i32| Error::sys(step, err).ctx(format_args!("{what}: {p}"));
        match kind {
            Kind::Dir => {
                match fs::mkdirat(pfd, &name, 0o700) {
                    Ok(()) | Err(libc::EEXIST) => {}
                    Err(err) => return Err(sys("mkdir")(err)),
                }
                fs::fchownat(pfd, &name, e.uid, e.gid, libc::AT_SYMLINK_NOFOLLOW).map_err(sys("chown"))?;
                fs::fchmodat(pfd, &name, e.mode).map_err(sys("chmod"))?;
            }
            Kind::File => {
                let d = self.objects.put(&mut TarData(t), e.size, e.mode, e.uid, e.gid, &path)?;
                self.objects.link(&d, pfd, &name, &path)?;
            }
            Kind::Hardlink => {
                let target = clean_path(&e.link)
                    .map_err(|why| Self::bad(what, &e.path, format_args!("its link target {:?}: {why}", e.link)))?;
                let (tdir, tname) = target.rsplit_once('/').unwrap_or(("", target.as_str()));
                let tfd = resolve::open_in_root(self.root.as_raw_fd(), tdir, resolve::Create::No).map_err(|err| {
                    Self::bad(
                        what,
                        &e.path,
                        format_args!("its link target {:?}: {}", e.link, crate::error::errno_name(err)),
                    )
                })?;
                let st = fs::fstatat(tfd.as_raw_fd(), tname, libc::AT_SYMLINK_NOFOLLOW).map_err(|_| {
                    Self::bad(
                        what,
                        &e.path,
                        format_args!("a hard link to {:?}, which is not in the revision", e.link),
                    )
                })?;
                if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                    return Err(Self::bad(
                        what,
                        &e.path,
                        format_args!("a hard link to {:?}, not a regular file", e.link),
                    ));
                }
                fs::linkat(tfd.as_raw_fd(), tname, pfd, &name).map_err(sys("link"))?;
            }
            Kind::Symlink => {
                fs::symlinkat(&e.link, pfd, &name).map_err(sys("symlink"))?;
                fs::fchownat(pfd, &name, e.uid, e.gid, libc::AT_SYMLINK_NOFOLLOW).map_err(sys("chown"))?;
            }
            Kind::Fifo => {
                fs::mknodat(pfd, &name, libc::S_IFIFO | e.mode, 0).map_err(sys("mkfifo"))?;
                fs::fchownat(pfd, &name, e.uid, e.gid, libc::AT_SYMLINK_NOFOLLOW).map_err(sys("chown"))?;
                fs::fchmodat(pfd, &name, e.mode).map_err(sys("chmod"))?;
            }
            Kind::Char | Kind::Block => {
                if !self.allow_devices {
                    return Err(Self::bad(
                        what,
                        &e.path,
                        format_args!(
                            "a device node: refused (a workload that needs device nodes in its image sets \"deploy\": {{\"allowDevices\": true}})"
                        ),
                    ));
                }
                let t = if kind == Kind::Char {
                    libc::S_IFCHR
                } else {
                    libc::S_IFBLK
                };
                let dev = libc::makedev(e.major, e.minor);
                fs::mknodat(pfd, &name, t | e.mode, dev).map_err(sys("mknod"))?;
                fs::fchownat(pfd, &name, e.uid, e.gid, libc::AT_SYMLINK_NOFOLLOW).map_err(sys("chown"))?;
                fs::fchmodat(pfd, &name, e.mode).map_err(sys("chmod"))?;
            }
        }
        Ok(())
    }
}

/// A readable directory fd for an O_PATH one.
fn pfd_dir(pfd: RawFd) -> Result<OwnedFd> {
    fs::openat(pfd, ".", libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0).step("open a directory")
}

/// The current tar entry's data as a [`Read`].
struct TarData<'t, 'r>(&'t mut Tar<'r>);

impl Read for TarData<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.0.read(buf)
    }
}

// ---------------------------------------------------------------------------------------------
// Listing

/// How a listing learns each regular file's object digest.
pub enum Digests<'a> {
    /// From the inodes recorded while building (or found in the store).
    Inodes(&'a dyn Fn(u64) -> Option<Digest>),
    /// By reading the file (a source bundle directory, before anything is stored).
    Read,
}

fn escaped(out: &mut String, b: &[u8]) {
    for &c in b {
        if (b'!'..=b'~').contains(&c) && c != b'%' {
            out.push(c as char);
        } else {
            let _ = write!(out, "%{c:02X}");
        }
    }
}

/// List the tree under `dir` (an open directory), calling `line` for each entry's line in
/// sorted order; the sha256 of all lines is the tree's digest.
pub fn listing(dir: RawFd, digests: &Digests<'_>, line: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<Digest> {
    let mut h = Sha256::new();
    let mut count = 0usize;
    walk(dir, "", 0, digests, &mut |l: &[u8]| {
        h.update(l);
        count += 1;
        if count > MAX_REVISION_ENTRIES {
            return Err(Error::input("list a tree").ctx(format_args!(
                "more than MAX_REVISION_ENTRIES ({MAX_REVISION_ENTRIES}) entries"
            )));
        }
        line(l)
    })?;
    Ok(h.finish())
}

fn walk(
    dir: RawFd,
    prefix: &str,
    depth: usize,
    digests: &Digests<'_>,
    line: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    if depth > MAX_TREE_DEPTH {
        return Err(
            Error::input("list a tree").ctx(format_args!("{prefix}: deeper than MAX_TREE_DEPTH ({MAX_TREE_DEPTH})"))
        );
    }
    let mut names = fs::list_dir_raw(dir).step_ctx("list a directory", format_args!("{prefix}"))?;
    names.sort_unstable();
    let mut l = String::new();
    for n in names {
        let name = n
            .to_str()
            .map_err(|_| Error::input("list a tree").ctx(format_args!("{prefix}: a name that is not UTF-8")))?;
        let path = if prefix.is_empty() {
            String::from(name)
        } else {
            format!("{prefix}/{name}")
        };
        let st = fs::fstatat(dir, name, libc::AT_SYMLINK_NOFOLLOW).step_ctx("stat", format_args!("{path}"))?;
        let fmt = st.st_mode & libc::S_IFMT;
        let t = match fmt {
            libc::S_IFREG => 'f',
            libc::S_IFDIR => 'd',
            libc::S_IFLNK => 'l',
            libc::S_IFIFO => 'p',
            libc::S_IFCHR => 'c',
            libc::S_IFBLK => 'b',
            _ => '?',
        };
        l.clear();
        let _ = write!(l, "{t} {:o} {} {} ", st.st_mode & 0o7777, st.st_uid, st.st_gid);
        escaped(&mut l, path.as_bytes());
        match fmt {
            libc::S_IFREG => {
                let d = match digests {
                    // An empty file of its own (no object): a mount point the runtime made.
                    Digests::Inodes(f) if st.st_size == 0 && st.st_nlink == 1 && f(st.st_ino as u64).is_none() => {
                        l.push_str(" -\n");
                        line(l.as_bytes())?;
                        continue;
                    }
                    Digests::Inodes(f) => f(st.st_ino as u64).ok_or_else(|| {
                        Error::input("list a tree")
                            .ctx(format_args!("{path}: a file that is not an object of the store"))
                    })?,
                    Digests::Read => {
                        let f = fs::openat(dir, name, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0)
                            .step_ctx("open", format_args!("{path}"))?;
                        file_digest(f.as_raw_fd(), &st)?
                    }
                };
                let _ = write!(l, " {}", Hex(&d.0));
            }
            libc::S_IFLNK => {
                let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
                let target = fs::readlinkat(dir, name, &mut buf).step_ctx("readlink", format_args!("{path}"))?;
                l.push(' ');
                escaped(&mut l, target.as_bytes());
            }
            libc::S_IFCHR | libc::S_IFBLK => {
                let _ = write!(l, " {},{}", libc::major(st.st_rdev), libc::minor(st.st_rdev));
            }
            _ => {}
        }
        l.push('\n');
        line(l.as_bytes())?;
        if fmt == libc::S_IFDIR {
            let sub = fs::openat(
                dir,
                name,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0,
            )
            .step_ctx("open", format_args!("{path}"))?;
            walk(sub.as_raw_fd(), &path, depth + 1, digests, line)?;
        }
    }
    Ok(())
}

/// The object digest of an open file with metadata `st`.
pub fn file_digest(fd: RawFd, st: &libc::stat) -> Result<Digest> {
    let mut h = object_hasher(st.st_mode, st.st_uid, st.st_gid);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = fs::read(fd, &mut buf).step("read a file")?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

/// Copy a bundle directory (`src`) into the tree (`b.root`), file by file, as objects.
pub fn copy_dir(b: &mut Builder<'_>, src: RawFd, rel: &str, depth: usize) -> Result<()> {
    if depth > MAX_TREE_DEPTH {
        return Err(Error::input("copy a bundle").ctx(format_args!("{rel}: deeper than MAX_TREE_DEPTH")));
    }
    let mut names = fs::list_dir(src).step_ctx("list a directory", format_args!("{rel}"))?;
    names.sort_unstable();
    for name in names {
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let st = fs::fstatat(src, &name, libc::AT_SYMLINK_NOFOLLOW).step_ctx("stat", format_args!("{path}"))?;
        let mut e = tar::Entry {
            path: path.clone(),
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            size: st.st_size as u64,
            major: libc::major(st.st_rdev),
            minor: libc::minor(st.st_rdev),
            ..Default::default()
        };
        e.kind = Some(match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => Kind::File,
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => {
                let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
                e.link = fs::readlinkat(src, &name, &mut buf)
                    .step_ctx("readlink", format_args!("{path}"))?
                    .into();
                Kind::Symlink
            }
            libc::S_IFIFO => Kind::Fifo,
            libc::S_IFCHR => Kind::Char,
            libc::S_IFBLK => Kind::Block,
            _ => continue, // sockets: nothing to copy
        });
        if e.kind == Some(Kind::File) {
            let f = fs::openat(src, &name, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0)
                .step_ctx("open", format_args!("{path}"))?;
            let mut r = super::stream::Region::new(f.as_raw_fd(), 0, e.size);
            let (dir, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            let d = b.objects.put(&mut r, e.size, e.mode, e.uid, e.gid, &path)?;
            let pfd = b.parent(dir)?;
            if fs::fstatat(pfd, base, libc::AT_SYMLINK_NOFOLLOW).is_ok() {
                Builder::remove(pfd, base)?;
            }
            b.objects.link(&d, pfd, base, &path)?;
            continue;
        }
        let is_dir = e.kind == Some(Kind::Dir);
        b.entry_from(e, "bundle")?;
        if is_dir {
            let sub = fs::openat(
                src,
                &name,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0,
            )
            .step_ctx("open", format_args!("{path}"))?;
            copy_dir(b, sub.as_raw_fd(), &path, depth + 1)?;
        }
    }
    Ok(())
}

impl Builder<'_> {
    /// An entry without data (directories, links, nodes) from a directory walk.
    fn entry_from(&mut self, e: tar::Entry, what: &str) -> Result<()> {
        let mut empty = Empty;
        let mut t = Tar::new(&mut empty, "bundle");
        self.entry(&mut t, e, false, what)
    }
}

struct Empty;
impl Read for Empty {
    fn read(&mut self, _: &mut [u8]) -> Result<usize> {
        Ok(0)
    }
}
