//! Security: seccomp enforced by the real kernel (mote's own BPF compiler), the notify
//! listener, and the known container escapes, each tried and required to fail.

mod common;

use common::{assert_no_leftovers, qemu_user_skip, require_root, with_userns, Env};
use serde_json::{json, Value};

macro_rules! root_only {
    () => {
        if !require_root() {
            return;
        }
        if qemu_user_skip("seccomp(2) is not emulated") {
            return;
        }
    };
}

fn podman_seccomp() -> Value {
    let f = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/configs/podman-seccomp-default.json"
    );
    let mut sc = serde_json::from_slice::<Value>(&std::fs::read(f).unwrap()).unwrap()["linux"]["seccomp"].clone();
    // The fixture was made on x86_64; on an ARM host list the host's architectures.
    if cfg!(target_arch = "aarch64") {
        sc["architectures"] = json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    } else if cfg!(target_arch = "arm") {
        sc["architectures"] = json!(["SCMP_ARCH_ARM"]);
    }
    sc
}

#[test]
fn errno_rule_fails_the_call_with_that_errno() {
    root_only!();
    let env = Env::new("scerrno");
    for nnp in [true, false] {
        let id = format!("scerrno{nnp}");
        let out = env.sh(
            &id,
            "mkdir /dev/shm/x 2>&1; echo rc=$?; grep Seccomp: /proc/self/status",
            |c| {
                c["process"]["noNewPrivileges"] = json!(nnp);
                c["linux"]["seccomp"] = json!({
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]
                });
            },
        );
        // errno 42 is ENOMSG.
        assert!(out.contains("No message of desired type"), "nnp={nnp}: {out}");
        assert!(out.contains("rc=1"), "{out}");
        assert!(out.contains("Seccomp:\t2"), "{out}");
    }
}

#[test]
fn kill_rule_kills() {
    root_only!();
    let env = Env::new("sckill");
    // (Not uname: busybox's shell calls it itself at start.) A subshell makes the call in a
    // child, which dies of SIGSYS.
    let out = env.sh("sckill", "(mknod /dev/shm/p p); echo rc=$?", |c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mknod", "mknodat"], "action": "SCMP_ACT_KILL"}]
        });
    });
    // 128 + SIGSYS (31).
    assert!(out.contains("rc=159"), "{out}");
    // KILL_PROCESS as the default action kills the init itself.
    let b = env.bundle("sckill2", |c| {
        c["process"]["args"] = json!(["sh", "-c", "echo hi"]);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_KILL_PROCESS",
            "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_ALLOW"}]
        });
    });
    let (code, _, _) = env.run(&b, "sckill2");
    assert_eq!(code, 159);
    assert_no_leftovers(&env, "sckill2", &b);
}

#[test]
fn podmans_default_profile_runs_a_shell_and_denies_what_it_denies() {
    root_only!();
    let env = Env::new("scpodman");
    let caps = json!(["CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_KILL"]);
    for nnp in [true, false] {
        let id = format!("scpodman{nnp}");
        let out = env.sh(
            &id,
            "echo shell-ok; ls / >/dev/null && echo ls-ok; hostname other 2>&1; echo rc=$?; hostname",
            |c| {
                c["process"]["noNewPrivileges"] = json!(nnp);
                c["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
                c["linux"]["seccomp"] = podman_seccomp();
            },
        );
        assert!(out.contains("shell-ok") && out.contains("ls-ok"), "{out}");
        // sethostname is denied with EPERM by the profile, though CAP_SYS_ADMIN would allow it.
        assert!(
            out.contains("Operation not permitted") && out.contains("rc=1"),
            "nnp={nnp}: {out}"
        );
        assert!(out.trim_end().ends_with("mote"), "{out}");
    }
    // The same without seccomp: the kernel allows it.
    let out = env.sh("scnone", "hostname other && hostname", |c| {
        c["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    });
    assert_eq!(out.trim(), "other");
}

#[test]
fn bad_profiles_fail_create_cleanly() {
    root_only!();
    let env = Env::new("scbad");
    let b = env.bundle("scbad", |c| {
        c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]});
    });
    let out = env.mote(&["create", "--bundle", b.to_str().unwrap(), "scbad"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listenerPath"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_leftovers(&env, "scbad", &b);
}

/// SCMP_ACT_NOTIFY: the listener gets the fd and the container state over listenerPath, and
/// answers the container's call.
#[test]
fn notify_sends_the_listener_fd_and_state() {
    root_only!();
    let env = Env::new("scnotify");
    let sock_path = env.dir.join("listener.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    let b = env.bundle("scnotify", |c| {
        c["process"]["args"] = json!(["sh", "-c", "mkdir /dev/shm/n 2>&1; echo rc=$?"]);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock_path,
            "listenerMetadata": "meta-data",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        });
    });
    let root = env.root.clone();
    let bs = b.clone();
    let child = std::thread::spawn(move || {
        std::process::Command::new(common::mote())
            .arg("--root")
            .arg(&root)
            .args(["run", "--bundle", bs.to_str().unwrap(), "scnotify"])
            .output()
            .unwrap()
    });
    let (state, fd) = accept_listener_fd(&listener);
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "meta-data");
    assert_eq!(state["state"]["id"], "scnotify");
    assert!(state["pid"].as_i64().unwrap() > 1);
    answer_one_notification(rustix::fd::AsRawFd::as_raw_fd(&fd), -libc::EACCES);
    let out = child.join().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("Permission denied") && s.contains("rc=1"),
        "{s} / {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_leftovers(&env, "scnotify", &b);
}

/// Act as the seccomp agent's socket: accept one connection on listenerPath (waiting at most
/// 20 s, so a regression fails instead of hanging) and receive the state and the listener fd.
fn accept_listener_fd(l: &std::os::unix::net::UnixListener) -> (Value, rustix::fd::OwnedFd) {
    use std::os::fd::AsRawFd;
    let ready = mote::sys::poll1(l.as_raw_fd(), libc::POLLIN, 20_000).unwrap();
    assert_ne!(ready, 0, "nothing connected to listenerPath within 20 s");
    let (conn, _) = l.accept().unwrap();
    let mut buf = [0u8; 4096];
    let (n, fd) = mote::sys::recv_fd(conn.as_raw_fd(), &mut buf).unwrap();
    let state: Value = serde_json::from_slice(&buf[..n]).unwrap();
    (state, fd.expect("no fd in the message"))
}

/// Act as the seccomp agent for one notification: receive it on the listener fd and answer
/// with `error` (a negative errno). Returns the notifying pid.
fn answer_one_notification(fd: i32, error: i32) -> u32 {
    #[repr(C)]
    struct Notif {
        id: u64,
        pid: u32,
        flags: u32,
        data: [u8; 64],
    }
    #[repr(C)]
    struct Resp {
        id: u64,
        val: i64,
        error: i32,
        flags: u32,
    }
    let mut req = Notif {
        id: 0,
        pid: 0,
        flags: 0,
        data: [0; 64],
    };
    const RECV: libc::c_ulong = 0xc050_2100;
    const SEND: libc::c_ulong = 0xc018_2101;
    // A missing notification fails the test instead of hanging it.
    let ready = mote::sys::poll1(fd, libc::POLLIN, 20_000).unwrap();
    assert_ne!(ready, 0, "no seccomp notification within 20 s");
    // SAFETY: the SECCOMP_IOCTL_NOTIF_RECV/SEND ioctls with correctly sized structs.
    let r = unsafe { libc::ioctl(fd, RECV as _, &mut req as *mut Notif) };
    assert_eq!(r, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
    let mut resp = Resp {
        id: req.id,
        val: 0,
        error,
        flags: 0,
    };
    // SAFETY: as above.
    let r = unsafe { libc::ioctl(fd, SEND as _, &mut resp as *mut Resp) };
    assert_eq!(r, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
    req.pid
}

/// SCMP_ACT_NOTIFY and exec: the exec'd process's filter gets its own listener fd, sent to
/// listenerPath with its state (status "running", its host pid), and the agent answers its
/// calls. A listener that is gone fails the exec before anything runs.
#[test]
fn notify_reaches_the_listener_for_exec_too() {
    root_only!();
    let env = Env::new("scexec");
    let sock_path = env.dir.join("listener.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    let b = env.bundle("scexec", |c| {
        c["process"]["args"] = json!(["sleep", "30"]);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock_path,
            "listenerMetadata": "exec-meta",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        });
    });
    let out = env.mote(&["run", "-d", "--bundle", b.to_str().unwrap(), "scexec"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    env.will_reap(env.state("scexec")["pid"].as_i64().unwrap() as i32);
    // The init's, from create.
    let (state, _init_fd) = accept_listener_fd(&listener);
    assert_eq!(state["state"]["status"], "creating");

    let pf = env.dir.join("exec.pid");
    let root = env.root.clone();
    let pfs = pf.clone();
    let child = std::thread::spawn(move || {
        std::process::Command::new(common::mote())
            .arg("--root")
            .arg(&root)
            .args([
                "exec",
                "--pid-file",
                pfs.to_str().unwrap(),
                "scexec",
                "sh",
                "-c",
                "mkdir /dev/shm/e 2>&1; echo rc=$?",
            ])
            .output()
            .unwrap()
    });
    let (state, fd) = accept_listener_fd(&listener);
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "exec-meta");
    assert_eq!(state["state"]["id"], "scexec");
    assert_eq!(state["state"]["status"], "running");
    answer_one_notification(rustix::fd::AsRawFd::as_raw_fd(&fd), -libc::EACCES);
    let out = child.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Permission denied") && text.contains("rc=1"),
        "{text} / {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let epid: i64 = std::fs::read_to_string(&pf).unwrap().trim().parse().unwrap();
    assert_eq!(
        state["pid"].as_i64(),
        Some(epid),
        "the state's pid is the exec'd process's"
    );

    // Nobody listening any more: refused before the process runs.
    drop(listener);
    let _ = std::fs::remove_file(&sock_path);
    let out = env.mote(&["exec", "scexec", "touch", "/dev/shm/ran"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listenerPath"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(env.mote(&["delete", "-f", "scexec"]).status.success());
    assert_no_leftovers(&env, "scexec", &b);
}

/// A new user namespace: root inside is uid 100000 outside; mknod is refused there, so the
/// devices are bind mounts of the host's; /proc, /sys, the cgroup mount all work.
#[test]
fn user_namespace_maps_root() {
    if !require_root() || qemu_user_skip("unshare(CLONE_NEWUSER) is not emulated") {
        return;
    }
    let env = Env::new("userns");
    let out = env.sh(
        "userns",
        "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c; \
         ls /proc/1/ns >/dev/null && echo proc-ok; ls /sys/kernel >/dev/null && echo sys-ok; grep -E '^Cap(Eff|Bnd)' /proc/self/status; \
         grep ' /dev/null ' /proc/self/mountinfo | cut -d' ' -f6",
        with_userns,
    );
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(&l[..2], ["0", "0"], "{out}");
    assert!(l[2].split_whitespace().eq(["0", "100000", "65536"]), "{out}");
    assert!(l[3].split_whitespace().eq(["0", "100000", "65536"]), "{out}");
    for w in ["null-ok", "proc-ok", "sys-ok", "CapEff:\t0000000020000420"] {
        assert!(out.contains(w), "{w}: {out}");
    }
    assert!(out.contains("\n4\n"), "{out}");
    // The host's device nodes, bound in (mknod is refused in a user namespace): nosuid and
    // noexec, as made ones would be.
    let opts = out.lines().last().unwrap_or_default();
    assert!(
        opts.contains("nosuid") && opts.contains("noexec"),
        "the mount options of /dev/null: {out}"
    );
    // From the host, the container's root is uid 100000.
    let b = env.bundle("userns2", |c| {
        c["process"]["args"] = json!(["sleep", "100"]);
        with_userns(c);
    });
    assert!(env
        .mote(&["run", "-d", "--bundle", b.to_str().unwrap(), "userns2"])
        .status
        .success());
    let pid = env.state("userns2")["pid"].as_i64().unwrap() as i32;
    env.will_reap(pid);
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(st.contains("Uid:\t100000\t100000\t100000\t100000"), "{st}");
    // exec joins the container's user namespace first, then the others.
    let ex = env.mote(&[
        "exec",
        "userns2",
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user",
    ]);
    let ex_out = String::from_utf8_lossy(&ex.stdout);
    assert!(ex.status.success(), "{}", String::from_utf8_lossy(&ex.stderr));
    let l: Vec<&str> = ex_out.lines().collect();
    assert_eq!(l[0], "0", "{ex_out}");
    assert!(l[1].split_whitespace().eq(["0", "100000", "65536"]), "{ex_out}");
    assert_eq!(
        l[2],
        std::fs::read_link(format!("/proc/{pid}/ns/user"))
            .unwrap()
            .to_string_lossy()
    );
    // A second container joins that user namespace by path (and makes its other namespaces).
    let out = env.sh("userns3", "cat /proc/self/uid_map; readlink /proc/self/ns/user", |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user", "path": format!("/proc/{pid}/ns/user")}));
    });
    assert!(
        out.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .eq(["0", "100000", "65536"]),
        "{out}"
    );
    assert_eq!(
        out.lines().nth(1).unwrap(),
        std::fs::read_link(format!("/proc/{pid}/ns/user"))
            .unwrap()
            .to_string_lossy()
    );
    assert!(env.mote(&["delete", "-f", "userns2"]).status.success());
    assert_no_leftovers(&env, "userns2", &b);
}

#[test]
fn user_namespace_needs_mappings() {
    if !require_root() {
        return;
    }
    let env = Env::new("usernsbad");
    let b = env.bundle("usernsbad", |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}))
    });
    let out = env.mote(&["create", "--bundle", b.to_str().unwrap(), "usernsbad"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("linux.uidMappings"));
    assert_no_leftovers(&env, "usernsbad", &b);
}

/// A profile or label for an LSM the host does not run is ignored as runc does, with a
/// warning (never silently). The guests, whose kernels run AppArmor, apply it.
#[test]
fn lsm_labels_without_the_lsm_warn() {
    if !require_root() {
        return;
    }
    if std::path::Path::new("/sys/kernel/security/apparmor").exists() {
        eprintln!("SKIP: AppArmor is enabled here (the qemu-system guests test applying it)");
        return;
    }
    let env = Env::new("lsmwarn");
    let b = env.bundle("lsmwarn", |c| {
        c["process"]["args"] = json!(["true"]);
        c["process"]["apparmorProfile"] = json!("mote-test");
        c["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
    });
    let (code, _, err) = env.run(&b, "lsmwarn");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("apparmorProfile") && err.contains("not enabled"), "{err}");
    assert!(err.contains("selinuxLabel") && err.contains("not enabled"), "{err}");
    assert_no_leftovers(&env, "lsmwarn", &b);
}

/// Idmapped bind mounts: the mount's own mappings (no user namespace), and the container's
/// user namespace (the `idmap` option).
#[test]
fn idmapped_mounts() {
    if !require_root() || qemu_user_skip("the new mount API is not emulated") {
        return;
    }
    let env = Env::new("idmap");
    let host = env.dir.join("data");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("f1000"), "x").unwrap();
    std::fs::write(host.join("froot"), "x").unwrap();
    std::os::unix::fs::chown(host.join("f1000"), Some(1000), Some(1000)).unwrap();
    let out = env.sh("idmap1", "stat -c '%u:%g' /data/f1000 /plain/f1000", |c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(
            json!({"destination": "/data", "type": "bind", "source": host, "options": ["bind"],
            // On-disk id containerID is seen as hostID (the maps are written as given, as runc).
            "uidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}],
            "gidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}]}),
        );
        m.push(json!({"destination": "/plain", "type": "bind", "source": host, "options": ["bind"]}));
    });
    assert_eq!(out.lines().collect::<Vec<_>>(), ["0:0", "1000:1000"], "{out}");
    // In the container's user namespace (0 -> 100000), a file of the host's root is nobody's
    // through a plain bind and root's through an idmapped one. (The mount points are in the
    // image: the namespace's root cannot create them in a rootfs owned by the host's root.)
    for d in ["data", "plain"] {
        std::fs::create_dir_all(env.dir.join("idmap2/rootfs").join(d)).unwrap();
    }
    let out = env.sh("idmap2", "stat -c '%u' /data/froot /plain/froot", |c| {
        with_userns(c);
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/data", "type": "bind", "source": host, "options": ["bind", "idmap"]}));
        m.push(json!({"destination": "/plain", "type": "bind", "source": host, "options": ["bind"]}));
    });
    assert_eq!(out.lines().collect::<Vec<_>>(), ["0", "65534"], "{out}");
    // idmap without mappings or a user namespace is refused, naming the mount.
    let b = env.bundle("idmap3", |c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/data", "type": "bind", "source": host, "options": ["bind", "idmap"]}));
    });
    let out = env.mote(&["create", "--bundle", b.to_str().unwrap(), "idmap3"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs a user namespace"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_leftovers(&env, "idmap3", &b);
}

/// A profile older than the program (default ERRNO, nothing named above statx): the program's
/// newer calls answer ENOSYS, as under runc, so glibc's pthread_create falls back from clone3
/// to clone. Without that they fail with the default EPERM and the thread is never made.
#[test]
fn calls_newer_than_the_profile_get_enosys() {
    root_only!();
    let env = Env::new("scnewer");
    let src = env.dir.join("newer.c");
    std::fs::write(
        &src,
        r#"#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static void *thread(void *a) { return a; }
int main(void) {
    long r = syscall(SYS_clone3, 0, 0);
    printf("clone3 %d\n", r < 0 ? errno : 0);
    r = syscall(SYS_openat2, -100, "/", 0, 0);
    printf("openat2 %d\n", r < 0 ? errno : 0);
    pthread_t t;
    if (pthread_create(&t, 0, thread, 0) == 0 && pthread_join(t, 0) == 0) printf("thread ok\n");
    pid_t c = fork();
    if (c == 0) _exit(7);
    int st = 0;
    if (c > 0 && waitpid(c, &st, 0) == c) printf("child %d\n", WEXITSTATUS(st));
    return 0;
}
"#,
    )
    .unwrap();
    let bin = env.dir.join("newer");
    let cc = std::process::Command::new("gcc")
        .args(["-static", "-O1", "-pthread", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("gcc (scripts/install-deps.sh installs it)");
    assert!(cc.status.success(), "gcc: {}", String::from_utf8_lossy(&cc.stderr));
    let b = env.bundle("scnewer", |c| {
        c["process"]["args"] = json!(["/newer"]);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": [
                "read", "write", "close", "fstat", "newfstatat", "lseek", "mmap", "mprotect", "munmap",
                "brk", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "ioctl", "access", "madvise",
                "getpid", "gettid", "clone", "fork", "vfork", "execve", "exit", "exit_group", "wait4",
                "kill", "tgkill", "uname", "fcntl", "readlink", "getuid", "getgid", "geteuid",
                "getegid", "futex", "set_tid_address", "set_robust_list", "prlimit64", "getrandom",
                "arch_prctl", "sched_getaffinity", "sched_yield", "statx"
            ], "action": "SCMP_ACT_ALLOW"}]
        });
    });
    std::fs::copy(&bin, b.join("rootfs/newer")).unwrap();
    let (code, out, err) = env.run(&b, "scnewer");
    assert_eq!(code, 0, "{out}{err}");
    for want in ["clone3 38", "openat2 38", "thread ok", "child 7"] {
        assert!(out.lines().any(|l| l == want), "{want:?} (38 is ENOSYS): {out}");
    }
    assert_no_leftovers(&env, "scnewer", &b);
}
