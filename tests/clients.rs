//! Real clients driving mote as their runtime: podman 4.3 (through conmon) and containerd 1.6
//! (through its runc shim, `ctr run --runc-binary`). Each keeps its state in a private
//! directory; everything it starts is ended by PID and everything it mounts is unmounted.

mod common;

use common::{qemu_user_skip, require_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the clients are here; in CI they must be (scripts/install-deps.sh installs them).
fn clients_present(tools: &[&str]) -> bool {
    let missing: Vec<&&str> = tools.iter().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{missing:?} missing: CI must install them (scripts/install-deps.sh)");
    }
    eprintln!("SKIP: {missing:?} not installed");
    false
}

/// A private directory for a client's state; on drop, every mount under it is unmounted and
/// the files the clients create outside it (if they did not exist before) are removed.
struct Scratch {
    dir: PathBuf,
    outside: Vec<(&'static str, bool)>,
    /// Cgroup parents the clients make (podman's cgroupfs manager, containerd's namespace),
    /// with whether each existed before: the ones we caused are removed once empty.
    cgroups: Vec<(PathBuf, bool)>,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        common::init();
        let dir = PathBuf::from(format!("/tmp/mote-clients/{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let outside = [
            "/dev/shm/libpod_lock",
            "/run/containers",
            "/run/containerd",
            "/var/lib/containers",
        ]
        .into_iter()
        .map(|p| (p, Path::new(p).exists()))
        .collect();
        let mut cgroups = Vec::new();
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in rd.flatten() {
                for p in ["libpod_parent/conmon", "libpod_parent", "default"] {
                    let p = h.path().join(p);
                    let existed = p.exists();
                    cgroups.push((p, existed));
                }
            }
        }
        Scratch { dir, outside, cgroups }
    }

    /// A busybox rootfs tarball.
    fn rootfs_tar(&self) -> PathBuf {
        let r = self.dir.join("rootfs");
        std::fs::create_dir_all(r.join("bin")).unwrap();
        std::fs::copy(common::busybox(), r.join("bin/busybox")).unwrap();
        for a in [
            "sh", "echo", "cat", "id", "hostname", "ls", "true", "sleep", "grep", "tty", "test",
        ] {
            let _ = std::os::unix::fs::symlink("busybox", r.join("bin").join(a));
        }
        let tar = self.dir.join("rootfs.tar");
        let ok = Command::new("tar")
            .arg("-C")
            .arg(&r)
            .args(["-cf"])
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap()
            .success();
        assert!(ok);
        tar
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let d = self.dir.to_string_lossy().into_owned();
        // Unmount what lives under the directory, deepest first.
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut mps: Vec<String> = mi
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&d))
            .map(|s| s.to_string())
            .collect();
        mps.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mps {
            let c = std::ffi::CString::new(m).unwrap();
            // SAFETY: umount2 of a NUL-terminated path.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        for (p, existed) in &self.outside {
            if !existed {
                let _ = std::fs::remove_dir_all(p);
                let _ = std::fs::remove_file(p);
            }
        }
        common::reap_children();
        for (p, existed) in &self.cgroups {
            if !existed {
                let _ = std::fs::remove_dir(p);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Podman<'s> {
    s: &'s Scratch,
}

impl Podman<'_> {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        let d = &self.s.dir;
        Command::new("podman")
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .arg("--volumepath")
            .arg(d.join("vol"))
            .args([
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
                "--runtime",
                common::mote(),
            ])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
    fn run(&self, extra: &[&str], cmd: &[&str]) -> (i32, String, String) {
        let mut a = vec![
            "run",
            "--rm",
            "--network",
            "none",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=4096:4096",
        ];
        a.extend_from_slice(extra);
        a.push("localhost/bb:latest");
        a.extend_from_slice(cmd);
        let o = self.cmd(&a);
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }
}

#[test]
fn podman_runs_containers_with_mote() {
    if !require_root()
        || qemu_user_skip("podman and conmon are x86_64 programs")
        || !clients_present(&["podman", "conmon"])
    {
        return;
    }
    let s = Scratch::new("podman");
    let p = Podman { s: &s };
    let tar = s.rootfs_tar();
    let imp = p.cmd(&["import", tar.to_str().unwrap(), "localhost/bb:latest"]);
    assert!(imp.status.success(), "import: {}", String::from_utf8_lossy(&imp.stderr));

    // Output, identity, podman's seccomp profile and capabilities in force.
    let (code, out, err) = p.run(
        &[],
        &[
            "sh",
            "-c",
            "echo hello; id -u; grep -E '^(Seccomp|CapEff):' /proc/self/status",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("hello\n0\n"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "podman's seccomp profile: {out}");
    // Exit codes come back through conmon.
    let (code, _, _) = p.run(&[], &["sh", "-c", "exit 7"]);
    assert_eq!(code, 7);
    // Resource flags reach the cgroup.
    let (code, out, err) = p.run(
        &["--memory", "64m", "--pids-limit", "50"],
        &[
            "sh",
            "-c",
            "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "50");
    // Detached, paused, resumed, stopped, removed.
    let o = p.cmd(&[
        "run",
        "-d",
        "--network",
        "none",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=4096:4096",
        "localhost/bb:latest",
        "sleep",
        "100",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    // podman exec: conmon runs `mote exec --process FILE --detach --pid-file P ID`.
    let ex = p.cmd(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo exec-ok; cat /proc/1/cmdline | tr '\\0' ' '; exit 5",
    ]);
    let ex_out = String::from_utf8_lossy(&ex.stdout);
    assert_eq!(
        ex.status.code(),
        Some(5),
        "{ex_out} {}",
        String::from_utf8_lossy(&ex.stderr)
    );
    assert!(ex_out.contains("exec-ok\nsleep 100"), "{ex_out}");
    // A terminal: conmon passes --console-socket and relays the pty (podman -t, exec -t).
    let ex = p.cmd(&["exec", "-t", &id, "tty"]);
    let ex_out = String::from_utf8_lossy(&ex.stdout);
    assert!(ex.status.success(), "{}", String::from_utf8_lossy(&ex.stderr));
    assert!(ex_out.contains("/dev/pts/"), "{ex_out:?}");
    let (code, out, err) = p.run(&["-t"], &["sh", "-c", "tty; test -t 0 && echo stdin-tty"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("/dev/pts/0") && out.contains("stdin-tty"), "{out:?}");
    assert!(p.cmd(&["pause", &id]).status.success());
    let st = p.cmd(&["inspect", "--format", "{{.State.Status}}", &id]);
    assert_eq!(String::from_utf8_lossy(&st.stdout).trim(), "paused");
    assert!(p.cmd(&["unpause", &id]).status.success());
    assert!(p.cmd(&["stop", "-t", "1", &id]).status.success());
    let st = p.cmd(&["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", &id]);
    assert_eq!(String::from_utf8_lossy(&st.stdout).trim(), "exited 137");
    assert!(p.cmd(&["rm", &id]).status.success());
    // mote kept nothing of podman's containers.
    let left = std::fs::read_dir("/run/mote")
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().len() == 64)
                .count()
        })
        .unwrap_or(0);
    assert_eq!(left, 0, "state of podman containers left in /run/mote");
    let _ = p.cmd(&["rm", "-a", "-f"]);
    let _ = p.cmd(&["rmi", "-a", "-f"]);
}

/// containerd with its CRI plugin off, its own root, state and socket; ctr runs containers
/// through the runc shim with mote as the runc binary.
#[test]
fn containerd_runs_containers_with_mote() {
    if !require_root()
        || qemu_user_skip("containerd is an x86_64 program")
        || !clients_present(&["containerd", "ctr", "podman"])
    {
        return;
    }
    let s = Scratch::new("containerd");
    let d = s.dir.clone();
    let sock = d.join("containerd.sock");
    std::fs::write(
        d.join("config.toml"),
        format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{1}\"\n[ttrpc]\n  address = \"{1}.ttrpc\"\n[debug]\n  address = \"\"\n[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{0}/opt\"\n",
            d.display(),
            sock.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(d.join("containerd.log")).unwrap();
    let mut daemon = Command::new("containerd")
        .arg("--config")
        .arg(d.join("config.toml"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let ctr = |args: &[&str]| {
        Command::new("ctr")
            .arg("-a")
            .arg(&sock)
            .args(["-n", "default"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let mut up = false;
    for _ in 0..100 {
        if sock.exists() && ctr(&["version"]).status.success() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert!(
            up,
            "containerd did not start: {}",
            std::fs::read_to_string(d.join("containerd.log")).unwrap_or_default()
        );
        // An OCI archive of the busybox image, through podman.
        let tar = s.rootfs_tar();
        let pm = |a: &str| {
            Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "podman --root {0}/pm --runroot {0}/pmrun --tmpdir {0}/tmp {a}",
                    d.display()
                ))
                .output()
                .unwrap()
        };
        assert!(pm(&format!("import {} localhost/bb:latest", tar.display()))
            .status
            .success());
        assert!(pm(&format!(
            "save --format oci-archive -o {}/bb.tar localhost/bb:latest",
            d.display()
        ))
        .status
        .success());
        let _ = pm("rmi -a -f");
        let imp = ctr(&[
            "images",
            "import",
            "--base-name",
            "localhost/bb",
            d.join("bb.tar").to_str().unwrap(),
        ]);
        assert!(imp.status.success(), "{}", String::from_utf8_lossy(&imp.stderr));
        let img = String::from_utf8_lossy(&ctr(&["images", "ls", "-q"]).stdout)
            .lines()
            .find(|l| l.contains("localhost/bb"))
            .unwrap()
            .to_string();
        let o = ctr(&[
            "run",
            "--rm",
            "--runc-binary",
            common::mote(),
            &img,
            "ctr-a",
            "sh",
            "-c",
            "echo from-containerd; exit 5",
        ]);
        assert_eq!(o.status.code(), Some(5), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).contains("from-containerd"));
        // A detached task: ps, kill, delete.
        let o = ctr(&[
            "run",
            "-d",
            "--runc-binary",
            common::mote(),
            &img,
            "ctr-b",
            "sleep",
            "100",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let ps = ctr(&["task", "ps", "ctr-b"]);
        assert!(
            String::from_utf8_lossy(&ps.stdout).lines().count() >= 2,
            "{}",
            String::from_utf8_lossy(&ps.stdout)
        );
        // ctr task exec: the shim runs `mote exec --process FILE --detach --pid-file P ID`.
        let ex = ctr(&[
            "task",
            "exec",
            "--exec-id",
            "ex1",
            "ctr-b",
            "sh",
            "-c",
            "echo exec-ok; exit 6",
        ]);
        assert_eq!(ex.status.code(), Some(6), "{}", String::from_utf8_lossy(&ex.stderr));
        assert!(String::from_utf8_lossy(&ex.stdout).contains("exec-ok"));
        assert!(ctr(&["task", "kill", "-s", "KILL", "ctr-b"]).status.success());
        for _ in 0..50 {
            if String::from_utf8_lossy(&ctr(&["task", "ls"]).stdout).contains("STOPPED") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(ctr(&["task", "delete", "ctr-b"]).status.success());
        assert!(ctr(&["containers", "delete", "ctr-b"]).status.success());
    }));
    // End what we started, by PID: containerd, and the shims it spawned for our socket.
    let me = d.to_string_lossy().into_owned();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmd).contains(&me)
                && pid != daemon.id() as i32
                && String::from_utf8_lossy(&cmd).contains("containerd-shim")
            {
                // SAFETY: signal a shim of our containerd, by pid.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
