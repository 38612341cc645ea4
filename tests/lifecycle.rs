//! Lifecycle integration tests: one test per config feature, each observing the effect from
//! inside a real container on the host kernel. Run as root.

mod common;

use common::{assert_no_leftovers, require_root, set, Env};
use serde_json::json;

macro_rules! root_only {
    () => {
        if !require_root() {
            return;
        }
    };
}

#[test]
fn exit_codes_are_returned() {
    root_only!();
    let env = Env::new("exit");
    // (PID 1 of a namespace ignores signals it has no handler for, even KILL from inside:
    // the signal cases kill a child shell, whose status the init then returns.)
    for (script, want) in [
        ("true", 0),
        ("exit 3", 3),
        ("sh -c 'kill -KILL $$'; exit $?", 137),
        ("sh -c 'kill -TERM $$'; exit $?", 143),
    ] {
        let id = format!("exit{want}");
        let b = env.bundle(&id, |c| c["process"]["args"] = json!(["sh", "-c", script]));
        let (code, _, err) = env.run(&b, &id);
        assert_eq!(code, want, "{script}: {err}");
        assert_no_leftovers(&env, &id, &b);
    }
}

#[test]
fn hostname_domainname_and_pid_namespace() {
    root_only!();
    let env = Env::new("uts");
    let out = env.sh(
        "uts",
        "hostname; cat /proc/sys/kernel/domainname; echo pid=$$; ls /proc | grep -c '^[0-9]'",
        |c| {
            c["hostname"] = json!("box-one");
            c["domainname"] = json!("example.org");
        },
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "box-one");
    assert_eq!(lines[1], "example.org");
    assert_eq!(lines[2], "pid=1");
    // Only the shell and ls (and grep) are visible: the host's processes are not.
    assert!(lines[3].parse::<u32>().unwrap() <= 3, "{out}");
}

/// A new network namespace has its loopback up (as runc brings it up): IFF_UP in lo's flags.
#[test]
fn loopback_is_up_in_a_new_network_namespace() {
    root_only!();
    let env = Env::new("lo");
    let out = env.sh("lo", "cat /sys/class/net/lo/flags", |_| {});
    let flags = u32::from_str_radix(out.trim().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "lo is down: flags {out}");
}

/// A config without a mount namespace runs, as runc runs it: in the namespace mote runs in,
/// chrooted into the rootfs, with no mount made; `exec` gets the same root. What would need a
/// mount is refused by name, and nothing is left (see failures.rs for each field).
#[test]
fn no_mount_namespace_runs_chrooted() {
    root_only!();
    let env = Env::new("nomnt");
    let b = env.bundle("nomnt", |c| {
        common::without_mount_namespace(c);
        c["process"]["args"] = json!(["sh", "-c", "ls /; pwd; readlink /proc/1/ns/mnt; true"]);
    });
    std::fs::write(b.join("rootfs/only-in-the-rootfs"), "").unwrap();
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let (code, out, err) = env.run(&b, "nomnt");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines().any(|l| l == "only-in-the-rootfs"),
        "not chrooted into the rootfs: {out}"
    );
    assert!(out.lines().any(|l| l == "/"), "{out}");
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().count(),
        host_mounts.lines().count(),
        "the run made or left a mount in the host's namespace"
    );
    assert_no_leftovers(&env, "nomnt", &b);

    if common::qemu_user_skip("exec: setns into the init's namespaces is not emulated") {
        return;
    }
    let b = env.bundle("nomnt2", |c| {
        common::without_mount_namespace(c);
        c["process"]["args"] = json!(["sleep", "60"]);
    });
    std::fs::write(b.join("rootfs/only-in-the-rootfs"), "").unwrap();
    assert!(env
        .mote(&["run", "-d", "--bundle", b.to_str().unwrap(), "nomnt2"])
        .status
        .success());
    let o = env.mote(&["exec", "nomnt2", "sh", "-c", "ls /; pwd"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{o:?}");
    assert!(
        out.lines().any(|l| l == "only-in-the-rootfs"),
        "exec not in the rootfs: {out}"
    );
    assert!(env.mote(&["delete", "-f", "nomnt2"]).status.success());
    assert_no_leftovers(&env, "nomnt2", &b);
}

/// `delete` without --force as runc's: a created container (never started) is killed and
/// deleted; one whose processes have all gone (its init killed from outside mote) is deleted.
#[test]
fn delete_created_and_gone_as_runc() {
    root_only!();
    let env = Env::new("delrunc");
    let b = env.bundle("delrunc", |c| {
        c["process"]["args"] = json!(["sleep", "60"]);
        c["process"]["terminal"] = json!(false);
    });
    let bs = b.to_str().unwrap();
    assert!(env.mote(&["create", "--bundle", bs, "created"]).status.success());
    assert_eq!(env.state("created")["status"], "created");
    let out = env.mote(&["delete", "created"]);
    assert!(out.status.success(), "{out:?}");
    assert_no_leftovers(&env, "created", &b);

    assert!(env.mote(&["run", "-d", "--bundle", bs, "gone"]).status.success());
    let pid = env.state("gone")["pid"].as_i64().unwrap() as i32;
    // SAFETY: kill(2) of the container's init, which this test's runtime started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    for _ in 0..200 {
        common::reap_children();
        if env.state("gone")["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(env.state("gone")["status"], "stopped");
    let out = env.mote(&["delete", "gone"]);
    assert!(out.status.success(), "{out:?}");
    assert_no_leftovers(&env, "gone", &b);
}

/// HOME, when process.env has none: from the user's /etc/passwd line, else "/"; a HOME given
/// stays. For the init and for `mote exec`.
#[test]
fn home_from_passwd_when_unset() {
    root_only!();
    let env = Env::new("home");
    let b = env.bundle("home", |c| {
        c["process"]["args"] = json!(["sleep", "60"]);
        c["process"]["env"] = json!(["PATH=/bin"]);
        c["process"]["terminal"] = json!(false);
    });
    std::fs::write(
        b.join("rootfs/etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
    )
    .unwrap();
    let (code, out, err) = {
        let b2 = env.bundle("home2", |c| {
            c["process"]["args"] = json!(["sh", "-c", "echo $HOME"]);
            c["process"]["env"] = json!(["PATH=/bin"]);
            c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        });
        std::fs::copy(b.join("rootfs/etc/passwd"), b2.join("rootfs/etc/passwd")).unwrap();
        env.run(&b2, "home2")
    };
    assert_eq!((code, out.trim()), (0, "/home/app"), "{err}");
    if common::qemu_user_skip("exec: setns into a mount namespace is not emulated") {
        return;
    }
    assert!(env
        .mote(&["create", "--bundle", b.to_str().unwrap(), "home"])
        .status
        .success());
    assert!(env.mote(&["start", "home"]).status.success());
    let o = env.mote(&["exec", "home", "sh", "-c", "echo $HOME"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "/root", "{:?}", o);
    let o = env.mote(&["exec", "--user", "4242", "home", "sh", "-c", "echo $HOME"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "/", "{:?}", o);
    let o = env.mote(&["exec", "--env", "HOME=/elsewhere", "home", "sh", "-c", "echo $HOME"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "/elsewhere", "{:?}", o);
    assert!(env.mote(&["delete", "-f", "home"]).status.success());
}

#[test]
fn capabilities_all_five_sets() {
    root_only!();
    let env = Env::new("caps");
    let status = |c: &str| {
        env.sh(
            c,
            "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status",
            |_| {},
        )
    };
    let out = status("capsdef");
    // The default spec: AUDIT_WRITE (29), KILL (5), NET_BIND_SERVICE (10).
    assert!(out.contains("CapEff:\t0000000020000420"), "{out}");
    assert!(out.contains("CapBnd:\t0000000020000420"), "{out}");
    assert!(out.contains("CapPrm:\t0000000020000420"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    // For a non-root user, exec keeps exactly the configured sets: permitted and effective
    // become the ambient set, inheritable stays, the bounding set is as configured.
    let out = env.sh("capsamb", "grep -E '^Cap' /proc/self/status", |c| {
        let set = json!(["CAP_CHOWN", "CAP_NET_RAW"]);
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_ADMIN"],
            "effective": set, "permitted": set, "inheritable": set, "ambient": ["CAP_NET_RAW"]
        });
        c["process"]["noNewPrivileges"] = json!(false);
    });
    assert!(out.contains("CapInh:\t0000000000002001"), "{out}");
    assert!(out.contains("CapPrm:\t0000000000002000"), "{out}");
    assert!(out.contains("CapEff:\t0000000000002000"), "{out}");
    assert!(out.contains("CapBnd:\t0000000000202001"), "{out}");
    assert!(out.contains("CapAmb:\t0000000000002000"), "{out}");
    // Root with no_new_privs keeps the configured sets across exec...
    let out = env.sh("capsroot", "grep -E '^Cap(Eff|Bnd)' /proc/self/status", |c| {
        c["process"]["capabilities"] = json!({"bounding": ["CAP_CHOWN", "CAP_SYS_ADMIN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]});
    });
    assert!(
        out.contains("CapEff:\t0000000000000001") && out.contains("CapBnd:\t0000000000200001"),
        "{out}"
    );
    // ...without it, exec gives root its whole bounding set (the kernel's rule, as with runc).
    let out = env.sh("capsroot2", "grep -E '^Cap(Eff|Bnd)' /proc/self/status", |c| {
        c["process"]["capabilities"] =
            json!({"bounding": ["CAP_CHOWN", "CAP_SYS_ADMIN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]});
        c["process"]["noNewPrivileges"] = json!(false);
    });
    assert!(out.contains("CapEff:\t0000000000200001"), "{out}");
}

#[test]
fn no_new_privileges_off() {
    root_only!();
    let env = Env::new("nnp");
    let out = env.sh("nnp", "grep NoNewPrivs /proc/self/status", |c| {
        c["process"]["noNewPrivileges"] = json!(false)
    });
    assert!(out.contains("NoNewPrivs:\t0"), "{out}");
}

#[test]
fn user_groups_and_umask() {
    root_only!();
    let env = Env::new("user");
    let out = env.sh(
        "user",
        "id -u; id -g; id -G; umask; grep -E '^(Uid|Gid|Groups)' /proc/self/status; stat -L -c 'stdout %u' /proc/self/fd/1",
        |c| {
            c["process"]["user"] = json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20], "umask": 23});
        },
    );
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "1000");
    assert_eq!(l[1], "1001");
    assert!(l[2].contains("10") && l[2].contains("20"), "{out}");
    assert_eq!(l[3], "0027");
    assert!(out.contains("Uid:\t1000\t1000\t1000\t1000"), "{out}");
    assert!(out.contains("Groups:\t10 20"), "{out}");
    // Its stdio (the test's pipe) was made the user's, as runc does.
    assert!(out.contains("stdout 1000"), "{out}");
    // Root with no additional groups gets none of mote's.
    let out = env.sh("user0", "grep Groups /proc/self/status", |_| {});
    assert_eq!(out.trim(), "Groups:");
}

#[test]
fn rlimits() {
    root_only!();
    let env = Env::new("rlim");
    let out = env.sh("rlim", "ulimit -n; ulimit -Hn; ulimit -c", |c| {
        c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
        ]);
    });
    assert_eq!(out.lines().collect::<Vec<_>>(), ["512", "1000", "0"]);
}

#[test]
fn mounts_are_the_configured_ones() {
    root_only!();
    let env = Env::new("mounts");
    let out = env.sh("mounts", "cat /proc/self/mountinfo", |_| {});
    let has = |dest: &str, fs: &str, opt: &str| {
        out.lines().any(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-").unwrap();
            f[4] == dest && f[sep + 1] == fs && f[5].split(',').any(|o| o == opt)
        })
    };
    assert!(
        has("/", "ext4", "ro") || out.lines().next().unwrap().contains(" / ro"),
        "root not ro:\n{out}"
    );
    assert!(has("/proc", "proc", "rw"), "{out}");
    assert!(has("/dev", "tmpfs", "nosuid"), "{out}");
    assert!(has("/dev/pts", "devpts", "noexec"), "{out}");
    assert!(has("/dev/shm", "tmpfs", "nodev"), "{out}");
    assert!(has("/dev/mqueue", "mqueue", "nosuid"), "{out}");
    assert!(has("/sys", "sysfs", "ro"), "{out}");
    assert!(
        has("/sys/fs/cgroup", "tmpfs", "ro") || has("/sys/fs/cgroup", "cgroup2", "ro"),
        "{out}"
    );
    // Nothing of the host's other mounts is visible.
    assert!(!out.contains("/work"), "{out}");
}

#[test]
fn bind_mounts_tmpfs_options_and_propagation() {
    root_only!();
    let env = Env::new("bind");
    let host_dir = env.dir.join("shared");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("hello"), "from host\n").unwrap();
    let host_file = env.dir.join("file.txt");
    std::fs::write(&host_file, "a file\n").unwrap();
    let out = env.sh(
        "bind",
        "cat /data/hello; echo new > /data/written; cat /mnt/deep/file; echo x > /ro/y 2>/dev/null && echo ro-writable; \
         grep ' /scratch ' /proc/self/mountinfo; echo ok",
        |c| {
            let m = c["mounts"].as_array_mut().unwrap();
            m.push(json!({"destination": "/data", "type": "bind", "source": host_dir, "options": ["rbind", "rw", "rprivate"]}));
            m.push(json!({"destination": "/mnt/deep/file", "type": "bind", "source": host_file, "options": ["bind", "ro"]}));
            m.push(json!({"destination": "/ro", "type": "bind", "source": host_dir, "options": ["rbind", "ro", "nosuid", "nodev"]}));
            m.push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["noexec", "size=1m", "mode=700"]}));
        },
    );
    assert!(out.contains("from host"), "{out}");
    assert!(out.contains("a file"), "{out}");
    assert!(!out.contains("ro-writable"), "{out}");
    assert!(
        out.contains("noexec") && out.contains("size=1024k") && out.contains("mode=700"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(host_dir.join("written")).unwrap(), "new\n");
}

#[test]
fn devices_default_and_configured() {
    root_only!();
    let env = Env::new("dev");
    let out = env.sh(
        "dev",
        "ls /dev | tr '\\n' ' '; echo; echo x > /dev/null && echo null-ok; head -c 8 /dev/urandom | wc -c; head -c 4 /dev/zero | wc -c; \
         stat -c '%t:%T %a %u:%g %F' /dev/mynull /dev/sub/blk; readlink /dev/fd; readlink /dev/ptmx",
        |c| {
            c["linux"]["devices"] = json!([
                {"type": "c", "path": "/dev/mynull", "major": 1, "minor": 3, "fileMode": 0o20600, "uid": 7, "gid": 8},
                {"type": "b", "path": "/dev/sub/blk/", "major": 7, "minor": 0, "fileMode": 0o640}
            ]);
            c["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]);
        },
    );
    for d in [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "fd", "stdin", "stdout", "stderr",
        "mynull", "sub",
    ] {
        assert!(
            out.lines().next().unwrap().split(' ').any(|x| x == d),
            "/dev/{d} missing: {out}"
        );
    }
    assert!(out.contains("null-ok"), "{out}");
    assert!(out.contains("\n8\n4\n"), "{out}");
    assert!(out.contains("1:3 600 7:8 character special file"), "{out}");
    // (its path was given with a trailing slash: cleaned, as runc does)
    assert!(out.contains("7:0 640 0:0 block special file"), "{out}");
    assert!(out.contains("/proc/self/fd\npts/ptmx"), "{out}");
}

#[test]
fn device_cgroup_denies_unlisted_devices() {
    root_only!();
    let env = Env::new("devcg");
    // /dev/mynull is a device node the cgroup rules do not allow: opening it must fail.
    let out = env.sh("devcg", "cat /dev/loopish 2>&1; echo rc=$?", |c| {
        c["linux"]["devices"] = json!([{"type": "b", "path": "/dev/loopish", "major": 7, "minor": 0}]);
        c["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwm"}]);
    });
    // Even configured devices are allowed (runc adds an allow rule per linux.devices entry);
    // what is denied is a device not in the list: check with mknod in the container.
    let _ = out;
    let out = env.sh("devcg2", "mknod /tmp/x c 1 3 && (cat /tmp/x; echo open=$?) 2>&1; mknod /tmp/y b 8 0 && (head -c1 /tmp/y; echo open=$?) 2>&1", |c| {
        c["process"]["capabilities"] = json!({"bounding": ["CAP_MKNOD"], "effective": ["CAP_MKNOD"], "permitted": ["CAP_MKNOD"]});
        c["root"]["readonly"] = json!(false);
        c["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwm"}]);
    });
    assert!(out.contains("open=0"), "c 1:3 is allowed by default: {out}");
    assert!(out.contains("Operation not permitted"), "b 8:0 must be denied: {out}");
}

#[test]
fn masked_and_readonly_paths() {
    root_only!();
    let env = Env::new("mask");
    let out = env.sh(
        "mask",
        "wc -c < /proc/keys; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid 2>&1 || echo ro-denied; \
         touch /proc/sysrq-trigger 2>/dev/null || echo trigger-ro; touch /rootfile 2>/dev/null || echo root-ro; echo w > /tmp/f 2>/dev/null || echo tmp-ro",
        |_| {},
    );
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0].trim(), "0", "/proc/keys must read as /dev/null: {out}");
    assert_eq!(l[1].trim(), "0", "/sys/firmware must be an empty tmpfs: {out}");
    assert!(
        out.contains("Read-only file system") || out.contains("ro-denied"),
        "{out}"
    );
    assert!(out.contains("trigger-ro"), "{out}");
    assert!(out.contains("root-ro"), "{out}");
    assert!(out.contains("tmp-ro"), "/tmp is part of the read-only root: {out}");
    // With root.readonly false, the root is writable.
    let out = env.sh("rw", "touch /rootfile && echo writable", |c| {
        c["root"]["readonly"] = json!(false)
    });
    assert!(out.contains("writable"));
}

#[test]
fn env_cwd_and_path_lookup() {
    root_only!();
    let env = Env::new("envcwd");
    let out = env.sh("envcwd", "pwd; echo $FOO; env | grep -c MOTE_SECRET; echo $PATH", |c| {
        c["process"]["cwd"] = json!("/work/dir");
        c["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
    });
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "/work/dir", "cwd is created inside the rootfs: {out}");
    assert_eq!(l[1], "bar baz");
    assert_eq!(l[2], "0", "mote's environment must not leak");
    assert_eq!(l[3], "/bin");
}

#[test]
fn cwd_cannot_be_a_host_directory() {
    root_only!();
    let env = Env::new("cwdesc");
    let out = env.sh("cwdesc", "pwd; ls / | grep -c state; true", |c| {
        c["process"]["cwd"] = json!("/../../..");
        c["root"]["readonly"] = json!(false);
    });
    assert_eq!(out.lines().next().unwrap(), "/");
}

#[test]
fn sysctl_oom_score_and_personality() {
    root_only!();
    let env = Env::new("sysctl");
    let out = env.sh(
        "sysctl",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni /proc/self/oom_score_adj; uname -m",
        |c| {
            c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"});
            c["process"]["oomScoreAdj"] = json!(500);
            c["linux"]["personality"] = json!({"domain": "LINUX32"});
        },
    );
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(&l[..3], ["1", "1234", "500"], "{out}");
    let m = l[3];
    // QEMU user-mode answers uname itself, whatever the personality.
    if !common::qemu_user_skip("uname under a LINUX32 personality") {
        assert!(
            ["i686", "i386", "armv8l", "armv7l", "armv8b"].contains(&m),
            "LINUX32 personality: uname -m = {m}"
        );
    }
    // The host's values are untouched.
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap().trim() == "1234",
        false
    );
}

#[test]
fn only_stdio_and_preserved_fds_reach_the_container() {
    root_only!();
    let env = Env::new("fds");
    let b = env.bundle("fds", |c| {
        c["process"]["args"] = json!(["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '"])
    });
    let (code, out, err) = env.run(&b, "fds");
    assert_eq!(code, 0, "{err}");
    // ls itself opens one fd (3) for the directory listing.
    assert_eq!(out.trim(), "0 1 2 3", "leaked fds: {out}");
    // --preserve-fds 1: fd 3 of the caller reaches the container.
    let f = std::fs::File::open(b.join("config.json")).unwrap();
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    let script = format!("cat /proc/self/fd/3 >/dev/null && echo got3; readlink /proc/self/fd/3");
    let b2 = env.bundle("fds2", |c| c["process"]["args"] = json!(["sh", "-c", script]));
    let mut cmd = std::process::Command::new(common::mote());
    cmd.arg("--root")
        .arg(&env.root)
        .args(["run", "--preserve-fds", "1", "--bundle"])
        .arg(&b2)
        .arg("fds2");
    use std::os::unix::process::CommandExt;
    // SAFETY: dup2 in the child before exec, on fds that exist.
    unsafe {
        cmd.pre_exec(move || {
            // dup2(3, 3) would keep O_CLOEXEC: clear it explicitly.
            if libc::dup2(fd, 3) < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(s.contains("got3"), "{s}");
}

#[test]
fn io_priority_and_scheduler() {
    root_only!();
    let env = Env::new("sched");
    let b = env.bundle("sched", |c| {
        c["process"]["args"] = json!(["sleep", "30"]);
        c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
        c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    });
    let out = env.mote(&["create", "--bundle", b.to_str().unwrap(), "sched"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pid = env.state("sched")["pid"].as_i64().unwrap() as i32;
    env.will_reap(pid);
    // SAFETY: ioprio_get with IOPRIO_WHO_PROCESS and a pid.
    let prio = unsafe { libc::syscall(libc::SYS_ioprio_get, 1, pid) };
    assert_eq!(prio, (2 << 13) | 6);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    assert_eq!(f[16], "7", "nice");
    assert_eq!(f[38], "3", "policy SCHED_BATCH");
    assert!(env.mote(&["delete", "--force", "sched"]).status.success());
    assert_no_leftovers(&env, "sched", &b);
}

#[test]
fn create_start_state_kill_delete() {
    root_only!();
    let env = Env::new("life");
    let b = env.bundle("life", |c| c["process"]["args"] = json!(["sleep", "100"]));
    let pidfile = env.dir.join("init.pid");
    let out = env.mote(&[
        "create",
        "--bundle",
        b.to_str().unwrap(),
        "--pid-file",
        pidfile.to_str().unwrap(),
        "life",
    ]);
    assert!(out.status.success(), "create: {}", String::from_utf8_lossy(&out.stderr));
    let st = env.state("life");
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], "life");
    assert_eq!(st["bundle"], b.to_str().unwrap());
    let pid = st["pid"].as_i64().unwrap();
    env.will_reap(pid as i32);
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    // The init waits before exec: its command is still mote's.
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap().trim(),
        "mote"
    );
    // A created container cannot be deleted by a second create with the same id.
    let dup = env.mote(&["create", "--bundle", b.to_str().unwrap(), "life"]);
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    assert!(env.mote(&["start", "life"]).status.success());
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(env.state("life")["status"], "running");
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap().trim(),
        "sleep"
    );
    // Starting twice fails.
    let again = env.mote(&["start", "life"]);
    assert!(!again.status.success());
    // Delete without --force refuses a running container.
    let del = env.mote(&["delete", "life"]);
    assert!(!del.status.success());
    assert!(
        String::from_utf8_lossy(&del.stderr).contains("not stopped"),
        "{}",
        String::from_utf8_lossy(&del.stderr)
    );
    // kill by name: SIGTERM to a pid-1 sleep is ignored (no handler); KILL works.
    assert!(env.mote(&["kill", "life", "KILL"]).status.success());
    for _ in 0..100 {
        if env.state("life")["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let st = env.state("life");
    assert_eq!(st["status"], "stopped");
    assert_eq!(st["pid"], 0);
    let k = env.mote(&["kill", "life", "9"]);
    assert!(!k.status.success(), "kill of a stopped container must fail");
    assert!(env.mote(&["delete", "life"]).status.success());
    assert!(!env.mote(&["state", "life"]).status.success());
    assert_no_leftovers(&env, "life", &b);
}

#[test]
fn kill_all_pause_resume_and_force_delete() {
    root_only!();
    let env = Env::new("pause");
    let b = env.bundle("pause", |c| {
        c["process"]["args"] = json!(["sh", "-c", "sleep 100 & sleep 100 & wait"])
    });
    let out = env.mote(&["run", "-d", "--bundle", b.to_str().unwrap(), "pause"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pid = env.state("pause")["pid"].as_i64().unwrap() as i32;
    env.will_reap(pid);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let ps = env.mote(&["ps", "--format", "json", "pause"]);
    let pids: Vec<i64> = serde_json::from_slice(&ps.stdout).unwrap();
    assert_eq!(pids.len(), 3, "{pids:?}");
    // The table is ps(1)'s, as runc prints it: `ps -ef`, or the options after the id, with only
    // the container's lines.
    for (args, header) in [
        (&["ps", "pause"][..], "CMD"),
        (&["ps", "pause", "-o", "pid,comm"][..], "COMMAND"),
    ] {
        let t = env.mote(args);
        let text = String::from_utf8_lossy(&t.stdout);
        assert!(
            t.status.success(),
            "{args:?}: {text} {}",
            String::from_utf8_lossy(&t.stderr)
        );
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
        assert!(head.contains(&header), "{args:?}: {text}");
        let col = head.iter().position(|f| *f == "PID").expect("a PID column");
        let mut listed: Vec<i64> = lines
            .map(|l| l.split_whitespace().nth(col).unwrap().parse().unwrap())
            .collect();
        listed.sort();
        let mut want = pids.clone();
        want.sort();
        assert_eq!(listed, want, "{args:?}: {text}");
    }
    assert!(env.mote(&["pause", "pause"]).status.success());
    assert_eq!(env.state("pause")["status"], "paused");
    let st = std::fs::read_to_string(format!("/proc/{}/status", pids[1])).unwrap();
    assert!(
        st.contains("State:\tD") || st.contains("State:\tS"),
        "frozen task state: {st}"
    );
    assert!(env.mote(&["resume", "pause"]).status.success());
    assert_eq!(env.state("pause")["status"], "running");
    assert!(env.mote(&["kill", "--all", "pause", "KILL"]).status.success());
    std::thread::sleep(std::time::Duration::from_millis(100));
    for p in &pids[1..] {
        let s = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        assert!(
            s.is_empty() || s[s.rfind(')').unwrap() + 2..].starts_with('Z'),
            "pid {p} survived kill --all"
        );
    }
    assert!(env.mote(&["delete", "--force", "pause"]).status.success());
    assert_no_leftovers(&env, "pause", &b);

    // delete --force of a running container.
    let b = env.bundle("force", |c| c["process"]["args"] = json!(["sleep", "100"]));
    assert!(env
        .mote(&["run", "-d", "--bundle", b.to_str().unwrap(), "force"])
        .status
        .success());
    env.will_reap(env.state("force")["pid"].as_i64().unwrap() as i32);
    assert!(env.mote(&["delete", "--force", "force"]).status.success());
    assert_no_leftovers(&env, "force", &b);
    // delete --force of a container that does not exist succeeds (podman sends it twice).
    assert!(env.mote(&["delete", "--force", "force"]).status.success());
    assert!(!env.mote(&["delete", "force"]).status.success());
}

#[test]
fn signals_reach_the_container_under_run() {
    root_only!();
    let env = Env::new("sigs");
    let b = env.bundle("sigs", |c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.05; done"
        ])
    });
    let mut child = std::process::Command::new(common::mote())
        .arg("--root")
        .arg(&env.root)
        .args(["run", "--bundle", b.to_str().unwrap(), "sigs"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Read;
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    stdout.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    // SAFETY: signal our own child by pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("got-term"), "{rest}");
    assert_eq!(status.code(), Some(7));
    assert_no_leftovers(&env, "sigs", &b);

    // An init killed from outside: `run` returns 128+9.
    let b = env.bundle("sigkill", |c| c["process"]["args"] = json!(["sleep", "100"]));
    let mut child = std::process::Command::new(common::mote())
        .arg("--root")
        .arg(&env.root)
        .args(["run", "--bundle", b.to_str().unwrap(), "sigkill"])
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if env.mote(&["state", "sigkill"]).status.success() && env.state("sigkill")["status"] == "running" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(env.mote(&["kill", "sigkill", "SIGKILL"]).status.success());
    assert_eq!(child.wait().unwrap().code(), Some(137));
    assert_no_leftovers(&env, "sigkill", &b);
}

#[test]
fn no_pivot_and_namespace_join() {
    root_only!();
    let env = Env::new("nopivot");
    let b = env.bundle("nopivot", |c| {
        c["process"]["args"] = json!(["sh", "-c", "cat /proc/self/mountinfo | head -1; hostname"])
    });
    let out = env.mote(&["run", "--no-pivot", "--bundle", b.to_str().unwrap(), "nopivot"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("mote"));
    assert_no_leftovers(&env, "nopivot", &b);
    // Join the network and UTS namespaces of a running container by path.
    let a = env.bundle("nsa", |c| {
        c["process"]["args"] = json!(["sleep", "100"]);
        c["hostname"] = json!("first");
    });
    assert!(env
        .mote(&["run", "-d", "--bundle", a.to_str().unwrap(), "nsa"])
        .status
        .success());
    let pid = env.state("nsa")["pid"].as_i64().unwrap();
    env.will_reap(pid as i32);
    let out = env.sh("nsb", "hostname; readlink /proc/self/ns/net", |c| {
        c["hostname"] = serde_json::Value::Null;
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        for n in ns.iter_mut() {
            if n["type"] == "uts" || n["type"] == "network" {
                let name = if n["type"] == "uts" { "uts" } else { "net" };
                n["path"] = json!(format!("/proc/{pid}/ns/{name}"));
            }
        }
    });
    let host_net = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_eq!(out.lines().next().unwrap(), "first");
    assert_eq!(out.lines().nth(1).unwrap(), host_net.to_string_lossy());
    assert!(env.mote(&["delete", "--force", "nsa"]).status.success());
    assert_no_leftovers(&env, "nsa", &a);
}

#[test]
fn cgroup_is_joined_before_exec() {
    root_only!();
    let env = Env::new("cgjoin");
    let out = env.sh("cgjoin", "cat /proc/self/cgroup", |c| {
        set(c, &["linux", "cgroupsPath"], json!("/mote-test/cgjoin"));
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "cgroup");
    });
    assert!(
        out.lines()
            .any(|l| l.contains(":freezer:/mote-test/cgjoin") || l == "0::/mote-test/cgjoin"),
        "{out}"
    );
    // With a cgroup namespace, the container sees its cgroup as the root.
    let out = env.sh("cgns", "cat /proc/self/cgroup", |_| {});
    assert!(out.lines().any(|l| l.ends_with(":freezer:/") || l == "0::/"), "{out}");
    assert!(!std::path::Path::new("/sys/fs/cgroup/freezer/mote-test/cgjoin").exists());
    let _ = std::fs::remove_dir("/sys/fs/cgroup/freezer/mote-test");
    let _ = std::fs::remove_dir("/sys/fs/cgroup/unified/mote-test");
    let _ = std::fs::remove_dir("/sys/fs/cgroup/devices/mote-test");
}

#[test]
fn recursive_read_only_and_root_propagation() {
    root_only!();
    let env = Env::new("rro");
    let rro = !common::qemu_user_skip("rro: mount_setattr(2) is not emulated");
    // A host directory with a mount inside it.
    let host = env.dir.join("tree");
    std::fs::create_dir_all(host.join("sub")).unwrap();
    let sub = std::ffi::CString::new(host.join("sub").to_str().unwrap()).unwrap();
    if rro {
        // SAFETY: mount(2) with NUL-terminated strings.
        let r = unsafe { libc::mount(c"tmpfs".as_ptr(), sub.as_ptr(), c"tmpfs".as_ptr(), 0, std::ptr::null()) };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        // Unmounted whatever happens below (a failed assertion included).
        struct Unmount(std::ffi::CString);
        impl Drop for Unmount {
            fn drop(&mut self) {
                // SAFETY: umount(2) of the tmpfs this test mounted.
                unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
            }
        }
        let _guard = Unmount(sub.clone());
        let script = "touch /a/sub/x 2>/dev/null && echo a-sub-rw; touch /r/sub/x 2>/dev/null && echo r-sub-rw; touch /r/y 2>/dev/null && echo r-rw; echo done";
        let out = env.sh("rro", script, |c| {
            let m = c["mounts"].as_array_mut().unwrap();
            m.push(json!({"destination": "/a", "type": "bind", "source": host, "options": ["rbind", "ro"]}));
            m.push(json!({"destination": "/r", "type": "bind", "source": host, "options": ["rbind", "rro"]}));
        });
        // "ro" makes only the top mount read-only; "rro" (mount_setattr AT_RECURSIVE) every one.
        assert!(out.contains("a-sub-rw"), "{out}");
        assert!(
            !out.contains("r-sub-rw") && !out.contains("r-rw") && out.contains("done"),
            "{out}"
        );
    }
    // linux.rootfsPropagation: the container's / is private (no shared or master tag).
    let out = env.sh("prop", "awk '$5 == \"/\"' /proc/self/mountinfo", |c| {
        c["linux"]["rootfsPropagation"] = json!("rprivate")
    });
    assert!(!out.contains("shared:") && !out.contains("master:"), "{out}");
    let out = env.sh("prop2", "awk '$5 == \"/\"' /proc/self/mountinfo", |c| {
        c["linux"]["rootfsPropagation"] = json!("rshared")
    });
    assert!(out.contains("shared:"), "{out}");
}

#[test]
fn tmpcopyup_starts_the_tmpfs_with_the_image_contents() {
    root_only!();
    let env = Env::new("tmpcopy");
    let b = env.bundle("tmpcopy", |c| {
        c["process"]["args"] = json!(["sh", "-c", "cat /etc/app/a /etc/app/sub/b; readlink /etc/app/link; stat -c %a /etc/app/a; echo new > /etc/app/c && cat /etc/app/c; grep ' /etc/app ' /proc/self/mountinfo | grep -c tmpfs"]);
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/etc/app", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "mode=755"]}));
    });
    let app = b.join("rootfs/etc/app");
    std::fs::create_dir_all(app.join("sub")).unwrap();
    std::fs::write(app.join("a"), "alpha\n").unwrap();
    std::fs::write(app.join("sub/b"), "beta\n").unwrap();
    std::fs::set_permissions(app.join("a"), std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("sub/b", app.join("link")).unwrap();
    let (code, out, err) = env.run(&b, "tmpcopy");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["alpha", "beta", "sub/b", "640", "new", "1"],
        "{out}"
    );
    // The image is untouched.
    assert!(!app.join("c").exists());
    assert_no_leftovers(&env, "tmpcopy", &b);
}

/// `exec` into a running container: the process is in the container's namespaces, cgroup
/// and seccomp filter, with the config's process settings and the command line's overrides;
/// exit codes and signals come back; paused, stopped and terminal cases are refused.
#[test]
fn exec_runs_a_process_in_the_container() {
    root_only!();
    if common::qemu_user_skip("exec: setns into a mount namespace is not emulated") {
        return;
    }
    let env = Env::new("exec");
    let b = env.bundle("exec", |c| {
        c["process"]["args"] = json!(["sleep", "60"]);
        c["process"]["terminal"] = json!(false);
        c["process"]["env"] = json!(["PATH=/bin", "A=1"]);
        c["hostname"] = json!("exechost");
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    });
    let bs = b.to_str().unwrap();
    let out = env.mote(&["run", "-d", "--bundle", bs, "exec"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let init = env.state("exec")["pid"].as_i64().unwrap() as i32;
    env.will_reap(init);
    let text = |o: &std::process::Output| {
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };

    // The container's view, the config's process settings, the overrides.
    let (code, out, err) = text(&env.mote(&[
        "exec",
        "--env",
        "B=2",
        "--cwd",
        "/dev",
        "exec",
        "sh",
        "-c",
        "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $A$B; pwd; id -u; \
         grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; hostname other 2>/dev/null || echo sethostname-denied",
    ]));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "exechost", "{out}");
    assert_eq!(lines[1].trim(), "sleep 60", "pid 1 is the container's init: {out}");
    assert_eq!(lines[2], "12", "{out}");
    assert_eq!(lines[3], "/dev", "{out}");
    assert_eq!(lines[4], "0", "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "the container's seccomp filter: {out}");
    assert!(out.contains("sethostname-denied"), "{out}");

    // The exec'd process leads a session and process group of its own (as under runc), not
    // group 0 (the caller's, outside the pid namespace).
    let (code, out, err) = text(&env.mote(&[
        "exec",
        "exec",
        "sh",
        "-c",
        "read pid comm state ppid pgrp sid rest < /proc/self/stat; echo $$ $pgrp $sid",
    ]));
    assert_eq!(code, 0, "{err}");
    let ids: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(ids.len(), 3, "{out}");
    assert!(
        ids[0] != "0" && ids[1] == ids[0] && ids[2] == ids[0],
        "pid, pgrp, session: {out}"
    );

    // Exit codes, user and groups.
    assert_eq!(env.mote(&["exec", "exec", "sh", "-c", "exit 7"]).status.code(), Some(7));
    let (code, out, err) = text(&env.mote(&["exec", "-u", "1000:100", "-g", "5", "exec", "id"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "uid=1000 gid=100 groups=5");

    // A process.json replaces the config's process.
    let pj = env.dir.join("process.json");
    std::fs::write(
        &pj,
        r#"{"user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "echo pj $X; pwd"], "env": ["PATH=/bin", "X=42"], "cwd": "/proc"}"#,
    )
    .unwrap();
    let (code, out, err) = text(&env.mote(&["exec", "--process", pj.to_str().unwrap(), "exec"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "pj 42\n/proc\n");
    std::fs::write(&pj, r#"{"args": 5}"#).unwrap();
    let (code, _, err) = text(&env.mote(&["exec", "--process", pj.to_str().unwrap(), "exec"]));
    assert_ne!(code, 0);
    assert!(err.contains("args: expected an array"), "{err}");

    // --detach and --pid-file: the process is in the container's cgroup and pid namespace.
    let pf = env.dir.join("exec.pid");
    let out = env.mote(&["exec", "-d", "--pid-file", pf.to_str().unwrap(), "exec", "sleep", "30"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pid: i32 = std::fs::read_to_string(&pf).unwrap().trim().parse().unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let init_cg = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    assert_eq!(cg, init_cg, "the exec'd process shares the init's cgroups");
    let ns = |p: i32, n: &str| std::fs::read_link(format!("/proc/{p}/ns/{n}")).unwrap();
    for n in ["pid", "mnt", "uts", "ipc", "net"] {
        assert_eq!(ns(pid, n), ns(init, n), "{n} namespace");
    }
    let ps = env.mote(&["ps", "--format", "json", "exec"]);
    let pids: Vec<i32> = serde_json::from_slice(&ps.stdout).unwrap();
    assert!(pids.contains(&pid) && pids.contains(&init), "{pids:?}");
    // SAFETY: kill(2) of the detached process, then reaping it (it came back to us).
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }

    // Signals reach the process; mote exits as it did.
    let mut child = std::process::Command::new(common::mote())
        .arg("--root")
        .arg(&env.root)
        .args(["exec", "exec", "sleep", "30"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(128 + libc::SIGTERM));

    // Refused: a missing program, a terminal, a paused container (unless --ignore-paused:
    // then the process starts frozen and runs on resume).
    // exec's own failures exit 255 (runc, crun), apart from the process's exit codes.
    let (code, _, err) = text(&env.mote(&["exec", "exec", "nosuch"]));
    assert_eq!(code, 255, "{err}");
    assert!(err.contains("executable file not found"), "{err}");
    assert_eq!(
        env.mote(&["exec", "-t", "-d", "exec", "sh"]).status.code(),
        Some(255),
        "a detached terminal needs --console-socket"
    );
    let (code, _, err) = text(&env.mote(&["exec", "--no-such-flag", "exec", "true"]));
    assert_eq!(code, 255, "{err}");
    let (code, _, err) = text(&env.mote(&["exec", "no-such-container", "true"]));
    assert_eq!(code, 255, "{err}");
    assert_eq!(
        env.mote(&["exec", "exec", "sh", "-c", "exit 254"]).status.code(),
        Some(254)
    );
    assert!(env.mote(&["pause", "exec"]).status.success());
    let (code, _, err) = text(&env.mote(&["exec", "exec", "true"]));
    assert_eq!(code, 255, "{err}");
    assert!(err.contains("paused"), "{err}");
    let out = env.mote(&[
        "exec",
        "--ignore-paused",
        "-d",
        "exec",
        "sh",
        "-c",
        "echo resumed > /dev/shm/r",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(env.mote(&["resume", "exec"]).status.success());
    let mut seen = String::new();
    for _ in 0..50 {
        seen = text(&env.mote(&["exec", "exec", "cat", "/dev/shm/r"])).1;
        if seen == "resumed\n" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(seen, "resumed\n");

    // A stopped container.
    assert!(env.mote(&["kill", "exec", "KILL"]).status.success());
    for _ in 0..100 {
        if env.state("exec")["status"] == "stopped" {
            break;
        }
        common::reap_children();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (code, _, err) = text(&env.mote(&["exec", "exec", "true"]));
    assert_eq!(code, 255, "{err}");
    assert!(err.contains("stopped") || err.contains("not running"), "{err}");
    assert!(env.mote(&["delete", "exec"]).status.success());
    assert_no_leftovers(&env, "exec", &b);
}

/// process.terminal with --console-socket: the master reaches the socket (as conmon and the
/// containerd shim receive it), the process has the slave as its controlling terminal and
/// stdio, sized by consoleSize; `exec -t` gets one too. Without a socket: refused, nothing left.
#[test]
fn terminal_through_the_console_socket() {
    root_only!();
    let env = Env::new("tty");
    let b = env.bundle("tty", |c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["consoleSize"] = json!({"height": 24, "width": 100});
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "tty; stty size; test -t 0 && echo stdin-tty; touch /dev/done; sleep 30"
        ]);
    });
    for a in ["tty", "stty"] {
        let _ = std::os::unix::fs::symlink("busybox", b.join("rootfs/bin").join(a));
    }
    let bs = b.to_str().unwrap();
    // No socket: refused before anything is made.
    let out = env.mote(&["create", "--bundle", bs, "tty"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--console-socket"));
    assert_no_leftovers(&env, "tty", &b);

    let cs = common::ConsoleSocket::new(env.dir.join("console.sock"));
    let sock = cs.path.to_str().unwrap().to_string();
    let reader = cs.read_all_in_thread();
    let out = env.mote(&["run", "-d", "--console-socket", &sock, "--bundle", bs, "tty"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    env.will_reap(env.state("tty")["pid"].as_i64().unwrap() as i32);

    // exec -t into it: a second terminal (exec needs setns into a mount namespace, which
    // QEMU user-mode does not emulate).
    if !common::qemu_user_skip("exec -t: setns into a mount namespace is not emulated") {
        let cs2 = common::ConsoleSocket::new(env.dir.join("console2.sock"));
        let sock2 = cs2.path.to_str().unwrap().to_string();
        let reader2 = cs2.read_all_in_thread();
        let out = env.mote(&[
            "exec",
            "-t",
            "--console-socket",
            &sock2,
            "tty",
            "sh",
            "-c",
            "tty; echo exec-tty",
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (text2, _) = reader2.join().unwrap();
        assert!(text2.contains("/dev/pts/1") && text2.contains("exec-tty"), "{text2:?}");
        // exec -t in the foreground without a socket: mote relays the terminal.
        let out = env.mote(&["exec", "-t", "tty", "sh", "-c", "tty; exit 4"]);
        assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("/dev/pts/"), "{out:?}");
        // Detached without a socket: refused.
        assert_eq!(env.mote(&["exec", "-t", "-d", "tty", "true"]).status.code(), Some(255));
    }

    // The shell has printed everything once it made /dev/done (under QEMU user-mode that can
    // take a while): only then kill it.
    let init = env.state("tty")["pid"].as_i64().unwrap();
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_secs(20)
        && !std::path::Path::new(&format!("/proc/{init}/root/dev/done")).exists()
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(env.mote(&["kill", "tty", "KILL"]).status.success());
    let (text, name) = reader.join().unwrap();
    assert_eq!(name, "/dev/ptmx");
    assert!(text.contains("/dev/pts/0"), "{text:?}");
    assert!(text.contains("24 100"), "{text:?}");
    assert!(text.contains("stdin-tty"), "{text:?}");
    assert!(env.mote(&["delete", "-f", "tty"]).status.success());
    assert_no_leftovers(&env, "tty", &b);

    // `run` in the foreground without a socket relays the terminal: our stdin to the
    // process, its output to our stdout, its exit code back.
    let b = env.bundle("ttyrun", |c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "read -r line; echo \"got $line\"; test -t 1 && echo stdout-tty; exit 6"
        ]);
    });
    let mut child = std::process::Command::new(common::mote())
        .arg("--root")
        .arg(&env.root)
        .args(["run", "--bundle", b.to_str().unwrap(), "ttyrun"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        i.write_all(b"hello\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(6),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("got hello\r\n") && text.contains("stdout-tty"),
        "{text:?}"
    );
    assert_no_leftovers(&env, "ttyrun", &b);
}

/// OCI hooks: each kind runs at its point of the lifecycle, in the right namespaces, with the
/// state on stdin, its args and env; a failing or hanging hook fails the step and leaves
/// nothing behind; a failing poststop hook is only a warning.
#[test]
fn hooks_run_where_and_when_the_spec_says() {
    root_only!();
    let env = Env::new("hooks");
    let log = env.dir.join("hooks.log");
    let l = log.to_str().unwrap().to_string();
    let hook = |kind: &str| {
        json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("read -r s; echo \"{kind} $HOOKVAR $(readlink /proc/self/ns/mnt) $s\" >> {l}")],
            "env": [format!("HOOKVAR=v-{kind}"), "PATH=/usr/bin:/bin".to_string()],
            "timeout": 10
        })
    };
    let b = env.bundle("hooks", |c| {
        c["process"]["args"] = json!(["sleep", "30"]);
        c["root"]["readonly"] = json!(false);
        c["annotations"] = json!({"org.example": "yes"});
        c["hooks"] = json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            "createContainer": [hook("createContainer")],
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "read -r s; echo \"startContainer $s\" > /tmp/sc"]}],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")],
        });
    });
    let bs = b.to_str().unwrap();
    let out = env.mote(&["create", "--bundle", bs, "hooks"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let init = env.state("hooks")["pid"].as_i64().unwrap() as i32;
    env.will_reap(init);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt")
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let init_mnt = std::fs::read_link(format!("/proc/{init}/ns/mnt"))
        .unwrap()
        .to_string_lossy()
        .into_owned();
    for (line, kind, mnt) in [
        (lines[0], "prestart", &host_mnt),
        (lines[1], "createRuntime", &host_mnt),
        (lines[2], "createContainer", &init_mnt),
    ] {
        // Under QEMU user-mode the emulator cannot setns into a mount namespace: the
        // runtime's hooks stay in mote's own (the guests check where they run).
        if kind != "createContainer"
            && common::qemu_user_skip("host-namespace hooks: setns(CLONE_NEWNS) is not emulated")
        {
            assert!(line.starts_with(&format!("{kind} v-{kind} mnt:[")), "{kind}: {line}");
        } else {
            assert!(line.starts_with(&format!("{kind} v-{kind} {mnt} {{")), "{kind}: {line}");
        }
        assert!(line.contains("\"status\":\"creating\""), "{line}");
        assert!(line.contains(&format!("\"pid\":{init}")), "{line}");
        assert!(
            line.contains("\"id\":\"hooks\"") && line.contains("\"org.example\":\"yes\""),
            "{line}"
        );
    }
    // start: startContainer in the container (its /tmp), then poststart on the host.
    let out = env.mote(&["start", "hooks"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .nth(3)
            .is_some_and(|l| l.starts_with("poststart v-poststart") && l.contains("\"status\":\"running\"")),
        "{text}"
    );
    let mut sc = String::new();
    for _ in 0..100 {
        sc = std::fs::read_to_string(b.join("rootfs/tmp/sc")).unwrap_or_default();
        if !sc.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        sc.starts_with("startContainer {") && sc.contains("\"id\":\"hooks\""),
        "{sc:?}"
    );
    // delete: poststop after the container is gone.
    let out = env.mote(&["delete", "-f", "hooks"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .nth(4)
            .is_some_and(|l| l.starts_with("poststop v-poststop") && l.contains("\"status\":\"stopped\"")),
        "{text}"
    );
    assert_no_leftovers(&env, "hooks", &b);

    // `run` runs poststart once the program is let go and poststop once the container is gone.
    std::fs::remove_file(&log).unwrap();
    let b = env.bundle("hookrun", |c| {
        c["process"]["args"] = json!(["true"]);
        c["hooks"] = json!({"poststart": [hook("poststart")], "poststop": [hook("poststop")]});
    });
    let (code, _, err) = env.run(&b, "hookrun");
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&log).unwrap();
    let kinds: Vec<&str> = text.lines().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(kinds, ["poststart", "poststop"], "{text}");
    assert_no_leftovers(&env, "hookrun", &b);

    // A failing poststart hook under `run` (attached and detached): the hook's error, and the
    // container killed and deleted (state, cgroups, process), its poststop hooks run.
    for (id, detach) in [("hookpsf", false), ("hookpsfd", true)] {
        std::fs::remove_file(&log).unwrap_or(());
        let b = env.bundle(id, |c| {
            c["process"]["args"] = json!(["sleep", "1000"]);
            c["hooks"] = json!({"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 1"]}], "poststop": [hook("poststop")]});
        });
        let mut args = vec!["run", "--bundle", b.to_str().unwrap()];
        if detach {
            args.push("-d");
        }
        args.push(id);
        let out = env.mote(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{id}: {err}");
        assert!(err.contains("hooks.poststart[0]"), "{id}: {err}");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(text.starts_with("poststop"), "{id}: poststop did not run: {text}");
        assert_no_leftovers(&env, id, &b);
    }

    // A failing createRuntime hook fails create, with its stderr; a hanging one times out.
    for (id, h, want) in [
        (
            "hookfail",
            json!({"path": "/bin/sh", "args": ["sh", "-c", "echo boom >&2; exit 3"]}),
            "exited with status 3:",
        ),
        (
            "hooktmo",
            json!({"path": "/bin/sh", "args": ["sh", "-c", "sleep 20"], "timeout": 1}),
            "timed out after 1 s",
        ),
    ] {
        let b = env.bundle(id, |c| c["hooks"] = json!({"createRuntime": [h]}));
        let out = env.mote(&["create", "--bundle", b.to_str().unwrap(), id]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("hooks.createRuntime[0]") && err.contains(want), "{err}");
        if id == "hookfail" {
            assert!(err.contains("boom"), "the hook's stderr: {err}");
        }
        assert_no_leftovers(&env, id, &b);
    }
    // The timed-out hook's whole process group is gone (its `sleep 20` too).
    let left: Vec<_> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == b"sleep\x0020\x00"))
        .collect();
    assert!(left.is_empty(), "a timed-out hook left {} process(es)", left.len());
    // A failing poststop hook: delete succeeds, with a warning.
    let b = env.bundle("hookpost", |c| {
        c["hooks"] = json!({"poststop": [{"path": "/bin/false"}]});
    });
    assert!(env
        .mote(&["create", "--bundle", b.to_str().unwrap(), "hookpost"])
        .status
        .success());
    env.will_reap(env.state("hookpost")["pid"].as_i64().unwrap() as i32);
    let out = env.mote(&["delete", "-f", "hookpost"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("warning") && err.contains("hooks.poststop[0]"), "{err}");
    assert_no_leftovers(&env, "hookpost", &b);
}

/// The pid in a pidfd's /proc/self/fdinfo entry ("Pid:").
fn pidfd_pid(fd: &std::os::fd::OwnedFd) -> i32 {
    use std::os::fd::AsRawFd;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    let line = info
        .lines()
        .find(|l| l.starts_with("Pid:"))
        .unwrap_or_else(|| panic!("not a pidfd: {info}"));
    line[4..].trim().parse().unwrap()
}

/// --pidfd-socket (runc 1.2): create/run send a pidfd of the init, exec one of the exec'd
/// process, over SCM_RIGHTS; the receiver can signal the process through it. A path that is
/// not a listening socket fails before anything is made.
#[test]
fn pidfd_socket_receives_the_process() {
    root_only!();
    let env = Env::new("pidfd");
    let b = env.bundle("pidfd", |c| {
        c["process"]["args"] = json!(["sleep", "30"]);
    });
    let bs = b.to_str().unwrap();

    // Nobody listening: refused, nothing left.
    let missing = env.dir.join("nobody.sock");
    let out = env.mote(&[
        "create",
        "--pidfd-socket",
        missing.to_str().unwrap(),
        "--bundle",
        bs,
        "pidfd",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--pidfd-socket") && err.contains("ENOENT"), "{err}");
    assert_no_leftovers(&env, "pidfd", &b);

    // create: the init's pidfd, with runc's message "standard".
    let sock = common::ConsoleSocket::new(env.dir.join("pidfd.sock"));
    let sp = sock.path.to_str().unwrap().to_string();
    let out = env.mote(&["create", "--pidfd-socket", &sp, "--bundle", bs, "pidfd"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let init = env.state("pidfd")["pid"].as_i64().unwrap() as i32;
    env.will_reap(init);
    let (pfd, msg) = sock.recv();
    assert_eq!(msg, "standard");
    assert_eq!(pidfd_pid(&pfd), init);
    assert!(env.mote(&["start", "pidfd"]).status.success());

    // exec -d: the exec'd process's pidfd ("setns"), the same pid as --pid-file's.
    if !common::qemu_user_skip("exec --pidfd-socket: setns into a mount namespace is not emulated") {
        let pf = env.dir.join("exec.pid");
        let out = env.mote(&[
            "exec",
            "-d",
            "--pidfd-socket",
            &sp,
            "--pid-file",
            pf.to_str().unwrap(),
            "pidfd",
            "sleep",
            "30",
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (efd, msg) = sock.recv();
        assert_eq!(msg, "setns");
        let epid: i32 = std::fs::read_to_string(&pf).unwrap().trim().parse().unwrap();
        env.will_reap(epid);
        assert_eq!(pidfd_pid(&efd), epid);
        use std::os::fd::AsRawFd;
        mote::sys::proc::pidfd_send_signal(efd.as_raw_fd(), libc::SIGKILL).unwrap();
    }

    // Killing the init through its pidfd stops the container.
    use std::os::fd::AsRawFd;
    mote::sys::proc::pidfd_send_signal(pfd.as_raw_fd(), libc::SIGKILL).unwrap();
    let mut status = String::new();
    for _ in 0..400 {
        common::reap_children();
        status = env.state("pidfd")["status"].as_str().unwrap().to_string();
        if status == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(status, "stopped");
    assert!(env.mote(&["delete", "pidfd"]).status.success());
    assert_no_leftovers(&env, "pidfd", &b);
}
