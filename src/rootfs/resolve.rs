//! Resolving a path inside the container's root without leaving it.
//!
//! A mount destination such as `/etc/foo` must land inside the rootfs even when the rootfs
//! holds `etc -> /` or `etc -> ../../..`. mote opens the destination with openat2 and
//! RESOLVE_IN_ROOT where the kernel has it, and otherwise walks the path one component at a
//! time from the root fd with O_PATH|O_NOFOLLOW, resolving each symlink itself as if the rootfs
//! were `/` (absolute targets restart at the root, `..` stops at the root). Missing components
//! are created on the way (directories, and the final file for a file bind mount). The caller
//! then mounts onto `/proc/self/fd/N` of the returned fd, so a later swap of a path component
//! cannot redirect the mount.

use crate::sys::{fs, SysResult};
use rustix::fd::{AsRawFd, OwnedFd, RawFd};

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_IN_ROOT: u64 = 0x10;
const MAX_LINKS: usize = 40;
const MAX_COMPONENTS: usize = 128;
/// openat2 with RESOLVE_IN_ROOT fails with EAGAIN when a mount or rename anywhere on the system
/// raced with a `..` in the lookup (the kernel cannot prove it stayed inside). The kernel docs
/// say to retry; after this many tries mote takes the walk, which has no such race.
const EAGAIN_TRIES: usize = 16;

/// openat2 under `root` with RESOLVE_IN_ROOT, retried on EAGAIN (see [`EAGAIN_TRIES`]).
fn openat2_in_root(dir: RawFd, path: &str, flags: u64) -> SysResult<OwnedFd> {
    let how = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    let mut r = fs::openat2(dir, path, flags, 0, how);
    for _ in 1..EAGAIN_TRIES {
        if r.as_ref().err() != Some(&libc::EAGAIN) {
            break;
        }
        r = fs::openat2(dir, path, flags, 0, how);
    }
    r
}

/// What to create when the final component is missing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Create {
    /// Nothing: a missing path is ENOENT.
    No,
    /// A directory (mode 0755).
    Dir,
    /// An empty regular file (mode 0644), for bind-mounting a file.
    File,
}

/// Open `path` inside the root `root` as an O_PATH fd, creating what `create` says.
pub fn open_in_root(root: RawFd, path: &str, create: Create) -> SysResult<OwnedFd> {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() {
        return fs::openat(root, ".", libc::O_PATH | libc::O_DIRECTORY, 0);
    }
    match openat2_in_root(root, rel, libc::O_PATH as u64) {
        Ok(fd) => return Ok(fd),
        Err(libc::ENOENT) if create != Create::No => {
            // The common case: only the last component is missing (/dev/pts after the /dev
            // tmpfs). Make it in its parent, resolved the same way, and open it.
            let rel = rel.trim_end_matches('/');
            let (parent, name) = rel.rsplit_once('/').unwrap_or((".", rel));
            if !name.is_empty() && name != "." && name != ".." {
                let dir = (libc::O_RDONLY | libc::O_DIRECTORY) as u64;
                if let Ok(pfd) = openat2_in_root(root, parent, dir) {
                    let made = if create == Create::File {
                        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
                        fs::openat(pfd.as_raw_fd(), name, flags, 0o644).map(drop)
                    } else {
                        fs::mkdirat(pfd.as_raw_fd(), name, 0o755)
                    };
                    // One component, no symlink: what we just made (or what raced us to it,
                    // if that is no symlink). A symlink there (a dangling one made the first
                    // lookup fail) is resolved by the walk, against the container's root.
                    if made.is_ok() || made == Err(libc::EEXIST) {
                        if let Ok(fd) = fs::openat2(pfd.as_raw_fd(), name, libc::O_PATH as u64, 0, RESOLVE_NO_SYMLINKS)
                        {
                            return Ok(fd);
                        }
                    }
                }
            }
        }
        // No openat2 (old kernel, QEMU user-mode 7.2), or still racing after the retries: walk.
        Err(libc::ENOSYS) | Err(libc::EPERM) | Err(libc::EAGAIN) => {}
        Err(e) => return Err(e),
    }
    walk(root, rel, create)
}

/// The component-by-component walk (see the module comment).
pub fn walk(root: RawFd, path: &str, create: Create) -> SysResult<OwnedFd> {
    // The directories walked so far: stack[0] is the root. `..` pops, never past the root.
    let mut stack: heapless::Vec<OwnedFd, MAX_COMPONENTS> = heapless::Vec::new();
    stack
        .push(fs::openat(root, ".", libc::O_PATH | libc::O_DIRECTORY, 0)?)
        .map_err(|_| libc::ENAMETOOLONG)?;
    // The path still to resolve; symlink targets are spliced in front of it.
    let mut rest: heapless::String<{ libc::PATH_MAX as usize }> = heapless::String::new();
    rest.push_str(path).map_err(|_| libc::ENAMETOOLONG)?;
    let mut links = 0;
    let mut linkbuf = [0u8; libc::PATH_MAX as usize];
    loop {
        let trimmed = rest.trim_start_matches('/');
        if trimmed.is_empty() {
            break;
        }
        let (comp, remaining) = match trimmed.find('/') {
            Some(i) => (&trimmed[..i], &trimmed[i..]),
            None => (trimmed, ""),
        };
        let last = remaining.trim_start_matches('/').is_empty();
        let comp: heapless::String<256> = heapless::String::try_from(comp).map_err(|_| libc::ENAMETOOLONG)?;
        let remaining: heapless::String<{ libc::PATH_MAX as usize }> =
            heapless::String::try_from(remaining).map_err(|_| libc::ENAMETOOLONG)?;
        rest = remaining;
        match comp.as_str() {
            "." => continue,
            ".." => {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            _ => {}
        }
        let dir = stack.last().map(|d| d.as_raw_fd()).ok_or(libc::EINVAL)?;
        let fd = match fs::openat(dir, &comp, libc::O_PATH | libc::O_NOFOLLOW, 0) {
            Ok(fd) => fd,
            Err(libc::ENOENT) if create != Create::No => {
                if last && create == Create::File {
                    match fs::openat(
                        dir,
                        &comp,
                        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                        0o644,
                    ) {
                        Ok(_) | Err(libc::EEXIST) => {}
                        Err(e) => return Err(e),
                    }
                } else {
                    match fs::mkdirat(dir, &comp, 0o755) {
                        Ok(()) | Err(libc::EEXIST) => {}
                        Err(e) => return Err(e),
                    }
                }
                fs::openat(dir, &comp, libc::O_PATH | libc::O_NOFOLLOW, 0)?
            }
            Err(e) => return Err(e),
        };
        let st = fs::fstat(fd.as_raw_fd())?;
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            links += 1;
            if links > MAX_LINKS {
                return Err(libc::ELOOP);
            }
            let target = fs::readlinkat(fd.as_raw_fd(), "", &mut linkbuf)?;
            // Resolve the target from the root (absolute) or from the current directory.
            if target.starts_with('/') {
                stack.truncate(1);
            }
            let mut spliced: heapless::String<{ libc::PATH_MAX as usize }> = heapless::String::new();
            spliced.push_str(target).map_err(|_| libc::ENAMETOOLONG)?;
            spliced.push('/').map_err(|_| libc::ENAMETOOLONG)?;
            spliced.push_str(&rest).map_err(|_| libc::ENAMETOOLONG)?;
            rest = spliced;
            continue;
        }
        if !last && st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(libc::ENOTDIR);
        }
        stack.push(fd).map_err(|_| libc::ENAMETOOLONG)?;
    }
    // The last fd on the stack is the result (the root itself for "/" or "a/..").
    let top = stack.pop().ok_or(libc::EINVAL)?;
    Ok(top)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmpdir(name: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("mote-resolve-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    fn real(fd: &OwnedFd) -> String {
        std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        let d = tmpdir("links");
        let root = d.join("root");
        std::fs::create_dir_all(root.join("real")).unwrap();
        symlink("/", root.join("abs")).unwrap();
        symlink("../../../..", root.join("up")).unwrap();
        symlink("/real", root.join("toreal")).unwrap();
        let rfd = fs::open(root.to_str().unwrap(), libc::O_PATH | libc::O_DIRECTORY, 0).unwrap();
        for (p, want) in [
            ("abs/real", "real"),
            ("up/real", "real"),
            ("toreal", "real"),
            ("/abs/up/abs/toreal", "real"),
            ("..", ""),
        ] {
            for walker in [true, false] {
                let fd = if walker {
                    walk(rfd.as_raw_fd(), p, Create::No).unwrap()
                } else {
                    open_in_root(rfd.as_raw_fd(), p, Create::No).unwrap()
                };
                let got = real(&fd);
                let expect = if want.is_empty() {
                    root.to_string_lossy().into_owned()
                } else {
                    root.join(want).to_string_lossy().into_owned()
                };
                assert_eq!(got, expect, "{p} (walker={walker})");
            }
        }
        // Creating through an escaping link creates inside the root.
        let fd = walk(rfd.as_raw_fd(), "abs/new/dir", Create::Dir).unwrap();
        assert_eq!(real(&fd), root.join("new/dir").to_string_lossy());
        let fd = walk(rfd.as_raw_fd(), "up/file", Create::File).unwrap();
        assert_eq!(real(&fd), root.join("file").to_string_lossy());
        assert!(root.join("file").is_file());
        // A dangling absolute symlink as the last component: made at its target, in the root.
        std::fs::create_dir_all(root.join("sub")).unwrap();
        symlink("/made/here", root.join("sub/dangling")).unwrap();
        let fd = open_in_root(rfd.as_raw_fd(), "sub/dangling", Create::Dir).unwrap();
        assert_eq!(real(&fd), root.join("made/here").to_string_lossy());
        // Loops end.
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(walk(rfd.as_raw_fd(), "loop/x", Create::No).unwrap_err(), libc::ELOOP);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn dotdot_lookups_survive_concurrent_renames() {
        // Every rename on the system bumps the kernel's rename_lock; a RESOLVE_IN_ROOT lookup
        // through `..` that sees it change fails with EAGAIN. open_in_root must retry or walk.
        let d = tmpdir("race");
        let root = d.join("root");
        std::fs::create_dir_all(root.join("real/sub")).unwrap();
        symlink("../../../..", root.join("up")).unwrap();
        let rfd = fs::open(root.to_str().unwrap(), libc::O_PATH | libc::O_DIRECTORY, 0).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (a, b) = (d.join("a"), d.join("b"));
        std::fs::create_dir(&a).unwrap();
        let renamer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (from, to) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
                    std::fs::rename(from, to).unwrap();
                    n += 1;
                }
                n
            })
        };
        let mut failed = None;
        for _ in 0..20000 {
            if let Err(e) = open_in_root(rfd.as_raw_fd(), "real/sub/../../up/real/sub/..", Create::No) {
                failed = Some(e);
                break;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let renames = renamer.join().unwrap();
        std::fs::remove_dir_all(&d).unwrap();
        assert_eq!(failed, None, "open_in_root failed while {renames} renames ran");
    }
}
