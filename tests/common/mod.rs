//! Test support: bundles with a busybox rootfs, the mote binary with a private --root, and
//! leftover checks. The integration tests run as root against the host kernel.
#![allow(dead_code)]

pub mod sv;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Once;

/// The mote binary under test: `$MOTE_TEST_BIN` when set (scripts/test.sh runs the integration
/// tests a second time with the static release build, the binary that ships), else cargo's
/// debug build.
pub fn mote() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| match std::env::var("MOTE_TEST_BIN") {
        Ok(b) if !b.is_empty() => b,
        _ => env!("CARGO_BIN_EXE_mote").to_string(),
    })
}

static INIT: Once = Once::new();

/// Per-process setup: we become a child subreaper so the container inits that `mote create`
/// leaves behind come back to us (and are reaped by pid), as with conmon or containerd's shim.
pub fn init() {
    INIT.call_once(|| {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    });
}

/// Root is required. Outside CI a non-root run skips with a reason; in CI it fails.
pub fn require_root() -> bool {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("the integration tests need root, and CI must run them");
    }
    eprintln!("SKIP: not root: the integration tests create namespaces and mounts");
    false
}

/// Are the tests running under QEMU user-mode (set by scripts/qemu-user-tests.sh)? Some
/// kernel interfaces are not emulated there; those tests say so and skip (the qemu-system
/// guests run them on real ARM kernels).
pub fn qemu_user_skip(what: &str) -> bool {
    if std::env::var_os("MOTE_TEST_QEMU_USER").is_some() {
        eprintln!("SKIP under QEMU user-mode: {what} (tested in the qemu-system guests)");
        return true;
    }
    false
}

/// The busybox to put in test rootfs: MOTE_TEST_BUSYBOX (an ARM one under QEMU user-mode),
/// else Debian's busybox-static.
pub fn busybox() -> PathBuf {
    std::env::var_os("MOTE_TEST_BUSYBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/bin/busybox"))
}

pub const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "id", "hostname", "ls", "grep", "touch", "pwd", "env", "sleep", "true", "false", "uname",
    "head", "wc", "stat", "mkdir", "readlink", "dd", "kill", "ps", "tr", "cut", "test", "printf", "ln", "rm",
];

/// A test environment: a private state root and a directory for bundles.
pub struct Env {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub reap: std::cell::RefCell<Vec<i32>>,
}

impl Env {
    pub fn new(name: &str) -> Env {
        init();
        let dir = PathBuf::from(format!("/tmp/mote-it/{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let root = dir.join("state");
        Env {
            dir,
            root,
            reap: Default::default(),
        }
    }

    /// A bundle named `name` with a busybox rootfs and the default config (from `mote spec`),
    /// changed by `f`.
    pub fn bundle(&self, name: &str, f: impl FnOnce(&mut Value)) -> PathBuf {
        let b = self.dir.join(name);
        let rootfs = b.join("rootfs");
        for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "root"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy(busybox(), rootfs.join("bin/busybox")).unwrap();
        for a in APPLETS {
            let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a));
        }
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\n").unwrap();
        let out = Command::new(mote())
            .args(["spec", "--bundle"])
            .arg(&b)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mote spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut cfg: Value = serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
        f(&mut cfg);
        std::fs::write(b.join("config.json"), serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
        b
    }

    /// Run mote with this environment's --root. Output goes through files, not pipes: a
    /// created container keeps the caller's stdio open (as with runc), so waiting for EOF on
    /// a pipe would wait for the container.
    pub fn mote(&self, args: &[&str]) -> Output {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let o = self.dir.join(format!(".out{n}"));
        let e = self.dir.join(format!(".err{n}"));
        let status = Command::new(mote())
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .status()
            .unwrap();
        let out = Output {
            status,
            stdout: std::fs::read(&o).unwrap_or_default(),
            stderr: std::fs::read(&e).unwrap_or_default(),
        };
        let _ = std::fs::remove_file(o);
        let _ = std::fs::remove_file(e);
        out
    }

    /// `run` a bundle and return (exit code, stdout, stderr).
    pub fn run(&self, bundle: &Path, id: &str) -> (i32, String, String) {
        let out = self.mote(&["run", "--bundle", bundle.to_str().unwrap(), id]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Run `sh -c script` in a container made from the default config changed by `f`;
    /// returns stdout, failing the test on a non-zero exit.
    pub fn sh(&self, id: &str, script: &str, f: impl FnOnce(&mut Value)) -> String {
        let b = self.bundle(id, |c| {
            c["process"]["args"] = serde_json::json!(["sh", "-c", script]);
            f(c);
        });
        let (code, out, err) = self.run(&b, id);
        assert_eq!(code, 0, "{id}: exit {code}\nstdout: {out}\nstderr: {err}");
        assert_no_leftovers(self, id, &b);
        out
    }

    pub fn state(&self, id: &str) -> Value {
        let out = self.mote(&["state", id]);
        assert!(
            out.status.success(),
            "state {id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `mote delete --force ID`, reaping our children meanwhile: a container process that came
    /// back to us (an exec'd process whose `mote exec -d` has gone) must be reaped while mote
    /// deletes, since a dying pid-namespace init waits until every process of its namespace
    /// has been reaped. Returns whether delete succeeded.
    pub fn delete_force_reaping(&self, id: &str, stderr: Stdio) -> bool {
        let Ok(mut del) = Command::new(mote())
            .arg("--root")
            .arg(&self.root)
            .args(["delete", "--force", id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
        else {
            return false;
        };
        loop {
            match del.try_wait() {
                Ok(Some(st)) => return st.success(),
                Ok(None) => {
                    reap_children();
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(_) => return false,
            }
        }
    }

    /// Remember a pid to reap (a container init that came back to us).
    pub fn will_reap(&self, pid: i32) {
        self.reap.borrow_mut().push(pid);
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Remove whatever a failed test left, then reap the inits that came back to us.
        // Container processes that came back to us (an init, an exec'd process whose `mote
        // exec` has gone) must be reaped while mote deletes: a dying pid-namespace init waits
        // until every process of its namespace has been reaped.
        if let Ok(rd) = std::fs::read_dir(&self.root) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let _ = self.delete_force_reaping(&id, Stdio::null());
            }
        }
        for pid in self.reap.borrow().iter() {
            for _ in 0..1000 {
                reap_children();
                let mut st = 0;
                // SAFETY: waitpid on a specific child pid with a valid status pointer.
                if unsafe { libc::waitpid(*pid, &mut st, libc::WNOHANG) } != 0 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        reap_children();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        remove_empty_cgroup_parents();
    }
}

/// The parents the tests' containers were created under (mote's default /mote, and the ones
/// tests name), removed when empty. rmdir of a parent still in use by another test fails with
/// EBUSY and changes nothing; mote's create tries again if a parent vanishes under it.
pub fn remove_empty_cgroup_parents() {
    let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for h in rd.flatten() {
        for p in ["mote", "mote-test", "mote.slice/mote-test.slice", "mote.slice"] {
            let _ = std::fs::remove_dir(h.path().join(p));
        }
    }
    let _ = std::fs::remove_dir("/sys/fs/cgroup/mote");
}

/// Reap exited children that are container processes (never a child std::process is waiting
/// for: only pids whose /proc/PID/stat says zombie, whose parent is us, in a pid namespace
/// below ours).
pub fn reap_children() {
    let me = std::process::id() as i32;
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        if fields.first() == Some(&"Z") && fields.get(1).and_then(|p| p.parse::<i32>().ok()) == Some(me) {
            // Only container processes reparented to us, which are in another pid namespace
            // (two NSpid entries): never one of the children std::process waits for from
            // another test's thread (`sh`, `tar`, `mote`...: taking their status made std's
            // wait fail with ECHILD). A pid namespace's init cannot finish exiting until its
            // reparented processes are reaped.
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let nested = status
                .lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .is_some_and(|l| l.split_whitespace().count() > 1);
            if nested {
                let mut st = 0;
                // SAFETY: waitpid on a specific zombie child.
                unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
            }
        }
    }
}

/// Assert that nothing of container `id` remains: state dir, cgroups, mounts of the bundle,
/// processes rooted in the bundle.
pub fn assert_no_leftovers(env: &Env, id: &str, bundle: &Path) {
    reap_children();
    let state = env.root.join(id);
    assert!(!state.exists(), "{id}: state directory {} left behind", state.display());
    let cgroups = cgroup_dirs_for(id);
    assert!(cgroups.is_empty(), "{id}: cgroups left behind: {cgroups:?}");
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let b = bundle.to_string_lossy();
    for l in mi.lines() {
        assert!(!l.contains(&*b), "{id}: mount left behind: {l}");
    }
    let pids = processes_rooted_in(&bundle.join("rootfs"));
    assert!(pids.is_empty(), "{id}: processes left behind: {pids:?}");
}

/// Cgroup directories named after the container, in every hierarchy.
pub fn cgroup_dirs_for(id: &str) -> Vec<String> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for h in rd.flatten() {
            let p = h.path().join("mote").join(id);
            if p.exists() {
                v.push(p.display().to_string());
            }
        }
    }
    let p = Path::new("/sys/fs/cgroup/mote").join(id);
    if p.exists() {
        v.push(p.display().to_string());
    }
    v
}

/// Live (non-zombie) processes whose root directory is `rootfs`.
pub fn processes_rooted_in(rootfs: &Path) -> Vec<i32> {
    let mut v = Vec::new();
    let want = std::fs::canonicalize(rootfs).unwrap_or_else(|_| rootfs.to_path_buf());
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if let Ok(r) = std::fs::read_link(format!("/proc/{pid}/root")) {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let zombie = stat.rfind(')').map_or(false, |c| stat[c + 2..].starts_with('Z'));
                if r == want && !zombie {
                    v.push(pid);
                }
            }
        }
    }
    v
}

/// The default config without a mount namespace and without what would need one (mounts,
/// a read-only root, masked and read-only paths, a terminal): what runc runs with chroot.
pub fn without_mount_namespace(c: &mut Value) {
    c["mounts"] = serde_json::json!([]);
    c["root"]["readonly"] = Value::Bool(false);
    c["process"]["terminal"] = Value::Bool(false);
    let l = c["linux"].as_object_mut().unwrap();
    l.remove("maskedPaths");
    l.remove("readonlyPaths");
    if let Some(ns) = l.get_mut("namespaces").and_then(|n| n.as_array_mut()) {
        ns.retain(|n| n["type"] != "mount");
    }
}

/// A new user namespace, container root mapped to host uid/gid 100000 (65536 ids).
pub fn with_userns(c: &mut Value) {
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "user"}));
    c["linux"]["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    c["linux"]["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
}

/// Set a JSON value at a path of keys, creating objects on the way.
pub fn set(v: &mut Value, path: &[&str], x: Value) {
    let mut cur = v;
    for k in &path[..path.len() - 1] {
        if !cur.get(*k).is_some_and(|c| c.is_object()) {
            cur[*k] = serde_json::json!({});
        }
        cur = cur.get_mut(*k).unwrap();
    }
    cur[path[path.len() - 1]] = x;
}

/// A --console-socket, as conmon and containerd's shim provide one: a listening unix socket
/// that receives the terminal's master fd.
pub struct ConsoleSocket {
    pub path: PathBuf,
    listener: std::os::unix::net::UnixListener,
}

impl ConsoleSocket {
    pub fn new(path: PathBuf) -> ConsoleSocket {
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        ConsoleSocket { path, listener }
    }

    /// Accept one connection and receive the fd it sends (with the message text).
    pub fn recv(&self) -> (std::os::fd::OwnedFd, String) {
        use std::os::fd::{AsRawFd, FromRawFd};
        let (conn, _) = self.listener.accept().unwrap();
        let mut data = [0u8; 256];
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        #[repr(C, align(8))]
        struct Ctl([u8; 64]);
        let mut ctl = Ctl([0; 64]);
        // SAFETY: a zeroed msghdr is a valid empty message; the pointers set below stay valid
        // for the recvmsg call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = ctl.0.as_mut_ptr().cast();
        msg.msg_controllen = ctl.0.len() as _;
        // SAFETY: recvmsg into the buffers described by `msg`.
        let n = unsafe { libc::recvmsg(conn.as_raw_fd(), &mut msg, 0) };
        assert!(n >= 0, "recvmsg: {}", std::io::Error::last_os_error());
        // SAFETY: the control buffer was filled by the kernel; CMSG_FIRSTHDR/CMSG_DATA stay
        // within it, and an SCM_RIGHTS message carries at least one int.
        let fd = unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            assert!(!c.is_null() && (*c).cmsg_type == libc::SCM_RIGHTS, "no fd received");
            std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const i32)
        };
        // SAFETY: the fd was just received and is owned by nobody else.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        (fd, String::from_utf8_lossy(&data[..n as usize]).into_owned())
    }

    /// Receive the master in a thread and read it until the terminal's last holder closes
    /// it (EIO); returns what was read and the message text.
    pub fn read_all_in_thread(self) -> std::thread::JoinHandle<(String, String)> {
        std::thread::spawn(move || {
            use std::io::Read;
            let (fd, name) = self.recv();
            let mut f = std::fs::File::from(fd);
            let mut out = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match f.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                }
            }
            (String::from_utf8_lossy(&out).into_owned(), name)
        })
    }
}

/// A static mote for inside containers (`mote notify` in a busybox rootfs): MOTE_TEST_STATIC,
/// else MOTE_TEST_BIN (the static release build the second pass tests), else this checkout's
/// x86_64 release build if there is one.
pub fn static_mote() -> Option<PathBuf> {
    for v in ["MOTE_TEST_STATIC", "MOTE_TEST_BIN"] {
        if let Some(p) = std::env::var_os(v).filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/x86_64-unknown-linux-musl/release/mote");
    p.exists().then_some(p)
}
