//! cgroups on this host (hybrid: v1 controllers plus a cgroup2 at /sys/fs/cgroup/unified):
//! resources seen in the cgroup files and by their effect, OOM kills reported by `events`,
//! `update`, `ps`, and the eBPF device program on a real cgroup2 directory. The v2 layout
//! with controllers is tested in the qemu-system guests (image/checks.sh).

mod common;

use common::{assert_no_leftovers, qemu_user_skip, require_root, Env};
use serde_json::{json, Value};
use std::path::Path;

macro_rules! root_only {
    () => {
        if !require_root() {
            return;
        }
    };
}

fn v1(ctrl: &str, id: &str, file: &str) -> String {
    std::fs::read_to_string(format!("/sys/fs/cgroup/{ctrl}/mote/{id}/{file}"))
        .unwrap_or_else(|e| panic!("{ctrl}/mote/{id}/{file}: {e}"))
        .trim()
        .to_string()
}

fn is_hybrid_or_v1() -> bool {
    Path::new("/sys/fs/cgroup/memory").exists()
}

/// Start a detached container running `script`, return its init pid.
fn start(env: &Env, id: &str, script: &str, f: impl FnOnce(&mut Value)) -> (i32, std::path::PathBuf) {
    let b = env.bundle(id, |c| {
        c["process"]["args"] = json!(["sh", "-c", script]);
        f(c);
    });
    let out = env.mote(&["run", "-d", "--bundle", b.to_str().unwrap(), id]);
    assert!(out.status.success(), "{id}: {}", String::from_utf8_lossy(&out.stderr));
    let pid = env.state(id)["pid"].as_i64().unwrap() as i32;
    env.will_reap(pid);
    (pid, b)
}

#[test]
fn memory_pids_cpu_cpuset_applied_on_v1() {
    root_only!();
    if !is_hybrid_or_v1() {
        eprintln!("SKIP: this host has no v1 controllers (the qemu-system guests test v2)");
        return;
    }
    let env = Env::new("cgres");
    let (_, b) = start(&env, "cgres", "sleep 100", |c| {
        c["linux"]["resources"] = json!({
            "memory": {"limit": 67108864, "reservation": 33554432},
            "pids": {"limit": 32},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"}
        });
    });
    assert_eq!(v1("memory", "cgres", "memory.limit_in_bytes"), "67108864");
    assert_eq!(v1("memory", "cgres", "memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(v1("pids", "cgres", "pids.max"), "32");
    assert_eq!(v1("cpu", "cgres", "cpu.shares"), "512");
    assert_eq!(v1("cpu", "cgres", "cpu.cfs_quota_us"), "50000");
    assert_eq!(v1("cpu", "cgres", "cpu.cfs_period_us"), "100000");
    assert_eq!(v1("cpuset", "cgres", "cpuset.cpus"), "0");
    // The container's processes are in every hierarchy's cgroup.
    let pid = env.state("cgres")["pid"].as_i64().unwrap();
    for ctrl in ["memory", "pids", "cpu", "cpuset", "freezer"] {
        assert!(
            v1(ctrl, "cgres", "cgroup.procs").lines().any(|l| l == pid.to_string()),
            "{ctrl}"
        );
    }
    // events --stats reads them.
    let out = env.mote(&["events", "--stats", "cgres"]);
    let ev: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 67108864);
    assert!(ev["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
    assert_eq!(ev["data"]["pids"]["limit"], 32);
    // One task (QEMU user-mode runs two threads per emulated process).
    let tasks = if std::env::var_os("MOTE_TEST_QEMU_USER").is_some() {
        2
    } else {
        1
    };
    assert_eq!(ev["data"]["pids"]["current"], tasks);
    assert!(env.mote(&["delete", "-f", "cgres"]).status.success());
    assert_no_leftovers(&env, "cgres", &b);
}

/// On v1 and hybrid, a `cgroup` mount shows the container its own cgroup of every hierarchy
/// the host has (co-mounted ones with their symlinks, the named systemd one), so limits are
/// readable from inside, and `update` changes are seen there.
#[test]
fn every_v1_hierarchy_is_seen_from_inside() {
    root_only!();
    if !is_hybrid_or_v1() {
        eprintln!("SKIP: this host has no v1 controllers (the qemu-system guests test v2)");
        return;
    }
    if common::qemu_user_skip("exec: setns into a mount namespace is not emulated") {
        return;
    }
    let env = Env::new("cgin");
    let (_, b) = start(&env, "cgin", "sleep 100", |c| {
        c["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 50}, "cpu": {"shares": 512}});
    });
    let inside = |script: &str| {
        let o = env.mote(&["exec", "cgin", "sh", "-c", script]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    // Every hierarchy (and symlink) of the host's /sys/fs/cgroup, by name.
    let mut host: Vec<String> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    host.sort();
    let mut seen: Vec<String> = inside("ls /sys/fs/cgroup")
        .split_whitespace()
        .map(String::from)
        .collect();
    seen.sort();
    assert_eq!(seen, host, "the hierarchies inside");
    let vals = inside(
        "cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us",
    );
    assert_eq!(
        vals.split_whitespace().collect::<Vec<_>>(),
        ["512", "67108864", "50", "-1"],
        "{vals}"
    );
    // Read-only, as the mount says.
    let w = env.mote(&["exec", "cgin", "sh", "-c", "echo 1024 > /sys/fs/cgroup/cpu/cpu.shares"]);
    assert!(!w.status.success(), "a write to the read-only cgroup mount worked");
    // update is seen from inside.
    assert!(env
        .mote(&["update", "--memory", "134217728", "--cpu-quota", "20000", "cgin"])
        .status
        .success());
    let vals = inside("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us");
    assert_eq!(
        vals.split_whitespace().collect::<Vec<_>>(),
        ["134217728", "20000"],
        "{vals}"
    );
    assert!(env.mote(&["delete", "-f", "cgin"]).status.success());
    assert_no_leftovers(&env, "cgin", &b);
}

/// A realtime CPU budget on v1: mote's parent cgroup (made with none) gets its parent's, so
/// the container's write is not refused with EINVAL (it was: the parent had 0).
#[test]
fn realtime_runtime_on_v1() {
    root_only!();
    if !Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        eprintln!("SKIP: this kernel has no realtime group scheduling (CONFIG_RT_GROUP_SCHED)");
        return;
    }
    let env = Env::new("cgrt");
    let (_, b) = start(&env, "cgrt", "sleep 100", |c| {
        c["linux"]["resources"] = json!({"cpu": {"realtimeRuntime": 20000, "realtimePeriod": 1000000}});
    });
    assert_eq!(v1("cpu", "cgrt", "cpu.rt_runtime_us"), "20000");
    assert_eq!(v1("cpu", "cgrt", "cpu.rt_period_us"), "1000000");
    let parent = std::fs::read_to_string("/sys/fs/cgroup/cpu/mote/cpu.rt_runtime_us").unwrap();
    assert!(
        parent.trim().parse::<u64>().unwrap() >= 20000,
        "/mote's budget: {parent}"
    );
    assert!(env.mote(&["delete", "-f", "cgrt"]).status.success());
    assert_no_leftovers(&env, "cgrt", &b);
}

#[test]
fn pids_limit_stops_forks() {
    root_only!();
    let env = Env::new("cgpids");
    let b = env.bundle("cgpids", |c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; echo forked-all"
        ]);
        c["linux"]["resources"] = json!({"pids": {"limit": 4}});
    });
    let (code, out, err) = env.run(&b, "cgpids");
    let all = format!("{out}{err}");
    assert!(all.contains("can't fork"), "no fork failure: {all}");
    assert!(!all.contains("forked-all"));
    assert_ne!(code, 0);
    assert_no_leftovers(&env, "cgpids", &b);
}

#[test]
fn oom_kill_is_reported_by_events() {
    root_only!();
    if !is_hybrid_or_v1() && !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        return;
    }
    let env = Env::new("cgoom");
    let (_, b) = start(
        &env,
        "cgoom",
        "sleep 0.3; dd if=/dev/zero of=/dev/null bs=64M count=1; echo dd=$?; sleep 100",
        |c| {
            c["linux"]["resources"] = json!({"memory": {"limit": 16777216}});
        },
    );
    let mut ev = std::process::Command::new(common::mote())
        .arg("--root")
        .arg(&env.root)
        .args(["events", "--interval", "50ms", "cgoom"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut saw_oom = false;
    let reader = std::io::BufReader::new(ev.stdout.take().unwrap());
    for line in reader.lines().take(200) {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["type"] == "oom" {
            assert_eq!(v["id"], "cgoom");
            saw_oom = true;
            break;
        }
    }
    // SAFETY: signal our own child by pid.
    unsafe { libc::kill(ev.id() as i32, libc::SIGKILL) };
    let _ = ev.wait();
    assert!(saw_oom, "events printed no oom event");
    assert!(env.mote(&["delete", "-f", "cgoom"]).status.success());
    assert_no_leftovers(&env, "cgoom", &b);
}

#[test]
fn one_mib_container_runs_true() {
    root_only!();
    if qemu_user_skip("the emulator itself needs far more than 1 MiB") {
        return;
    }
    let env = Env::new("cg1m");
    // The whole container, mote's own setup inside it included, is charged to the cgroup.
    let out = env.sh("cg1m", "true", |c| {
        c["process"]["args"] = json!(["/bin/true"]);
        c["linux"]["resources"] = json!({"memory": {"limit": 1048576}});
    });
    assert!(out.is_empty());
}

#[test]
fn update_from_flags_and_file_adds_controllers() {
    root_only!();
    if !is_hybrid_or_v1() {
        return;
    }
    let env = Env::new("cgupd");
    let (_, b) = start(&env, "cgupd", "sleep 100", |_| {});
    // Created without memory or pids cgroups: update adds them and moves the processes in.
    let out = env.mote(&["update", "--memory", "48m", "--pids-limit=20", "cgupd"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(v1("memory", "cgupd", "memory.limit_in_bytes"), (48 << 20).to_string());
    assert_eq!(v1("pids", "cgupd", "pids.max"), "20");
    let pid = env.state("cgupd")["pid"].as_i64().unwrap().to_string();
    assert!(v1("memory", "cgupd", "cgroup.procs").lines().any(|l| l == pid));
    let f = env.dir.join("res.json");
    std::fs::write(&f, r#"{"cpu": {"shares": 256}, "pids": {"limit": 7}}"#).unwrap();
    let out = env.mote(&["update", "--resources", f.to_str().unwrap(), "cgupd"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(v1("cpu", "cgupd", "cpu.shares"), "256");
    assert_eq!(v1("pids", "cgupd", "pids.max"), "7");
    // A bad resources file names the path.
    std::fs::write(&f, r#"{"memory": {"limit": "lots"}}"#).unwrap();
    let out = env.mote(&["update", "--resources", f.to_str().unwrap(), "cgupd"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("memory.limit"));
    let out = env.mote(&["update", "--memory", "lots", "cgupd"]);
    assert_eq!(out.status.code(), Some(2));
    // delete removes the cgroups update added.
    assert!(env.mote(&["delete", "-f", "cgupd"]).status.success());
    assert_no_leftovers(&env, "cgupd", &b);
}

#[test]
fn what_the_host_cannot_apply_is_an_error() {
    root_only!();
    if !is_hybrid_or_v1() {
        return;
    }
    let env = Env::new("cgbad");
    for (id, res, want) in [
        ("nethost", json!({"network": {"classID": 1}}), "net_cls"),
        ("unifiedbad", json!({"unified": {"../x": "1"}}), "unified"),
        ("swappy", json!({"memory": {"swappiness": 200}}), "memory.swappiness"),
    ] {
        let b = env.bundle(id, |c| c["linux"]["resources"] = res);
        let out = env.mote(&["create", "--bundle", b.to_str().unwrap(), id]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{id} was accepted");
        assert!(err.contains(want), "{id}: {err}");
        assert_no_leftovers(&env, id, &b);
    }
}

/// memory.kernel and kernelTCP (configs of older tools): a warning, and the container runs, as
/// with runc.
#[test]
fn kernel_memory_limits_are_ignored_with_a_warning() {
    root_only!();
    let env = Env::new("cgkmem");
    let b = env.bundle("cgkmem", |c| {
        c["process"]["args"] = json!(["true"]);
        c["linux"]["resources"] = json!({"memory": {"kernel": 1000000, "kernelTCP": 1000000}});
    });
    let (code, _, err) = env.run(&b, "cgkmem");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning") && err.contains("memory.kernel"), "{err}");
    assert_no_leftovers(&env, "cgkmem", &b);
}

#[test]
fn systemd_style_cgroups_path() {
    root_only!();
    let env = Env::new("cgsysd");
    let out = env.sh("cgsysd", "cat /proc/self/cgroup", |c| {
        c["linux"]["cgroupsPath"] = json!("mote-test.slice:motetest:cgsysd");
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "cgroup");
    });
    assert!(out.contains("/mote-test.slice/motetest-cgsysd.scope"), "{out}");
    for h in ["freezer", "unified"] {
        let p = format!("/sys/fs/cgroup/{h}/mote.slice/mote-test.slice");
        assert!(!Path::new(&format!("{p}/motetest-cgsysd.scope")).exists());
    }
}

/// The generated eBPF program, loaded and attached to a real cgroup2 directory: a process in
/// it may read /dev/null and /dev/zero is denied.
#[test]
fn ebpf_device_filter_on_a_real_cgroup2() {
    root_only!();
    if qemu_user_skip("bpf(2) is not emulated") {
        return;
    }
    let base = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "/sys/fs/cgroup".to_string()
    } else if Path::new("/sys/fs/cgroup/unified/cgroup.controllers").exists() {
        "/sys/fs/cgroup/unified".to_string()
    } else {
        eprintln!("SKIP: no cgroup2 mount");
        return;
    };
    use mote::cgroup::devices::{attach, Emulator, Rule, ACC_MKNOD, ACC_READ, ACC_WRITE};
    let dir = format!("{base}/mote-bpf-test-{}", std::process::id());
    std::fs::create_dir(&dir).unwrap();
    // Removed whatever happens below (a failed assertion included), once its process is gone.
    struct RmDir(String);
    impl Drop for RmDir {
        fn drop(&mut self) {
            for _ in 0..100 {
                if std::fs::remove_dir(&self.0).is_ok() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            eprintln!("could not remove {}", self.0);
        }
    }
    let _rm = RmDir(dir.clone());
    let rules = [
        Rule {
            kind: b'a',
            major: None,
            minor: None,
            access: 7,
            allow: false,
        },
        Rule {
            kind: b'c',
            major: Some(1),
            minor: Some(3),
            access: ACC_READ | ACC_WRITE | ACC_MKNOD,
            allow: true,
        },
    ];
    attach(&dir, &Emulator::from_rules(&rules)).unwrap();
    let procs = format!("{dir}/cgroup.procs");
    let out = {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new("/bin/busybox");
        cmd.args([
            "sh",
            "-c",
            "cat /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null 2>&1 || echo zero-denied",
        ]);
        // SAFETY: in the child before exec: write our pid into the cgroup (async-signal-safe
        // enough: a plain open/write of a preformatted buffer).
        unsafe {
            cmd.pre_exec(move || {
                std::fs::write(&procs, b"0")?;
                Ok(())
            });
        }
        cmd.output().unwrap()
    };
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("null-ok"), "{s}");
    assert!(s.contains("zero-denied"), "{s}");
}

/// `exec --cgroup` (runc's `[controller[,controller...]:]path`): the process joins existing
/// sub-cgroups of the container's (one path for every hierarchy, or per controller); bad
/// values are refused before anything runs; `delete` removes the sub-cgroups too.
#[test]
fn exec_joins_sub_cgroups_and_delete_removes_them() {
    root_only!();
    if !is_hybrid_or_v1() {
        eprintln!("SKIP: this host has no v1 controllers (the qemu-system guests test v2: ck_exec_cgroup)");
        return;
    }
    if qemu_user_skip("exec: setns into a mount namespace is not emulated") {
        return;
    }
    let env = Env::new("cgsub");
    let (_, b) = start(&env, "cgsub", "sleep 100", |c| {
        c["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 32}});
        // Writable, so that a refused exec's `touch` would leave its mark.
        c["root"]["readonly"] = json!(false);
    });
    let dirs = common::cgroup_dirs_for("cgsub");
    assert!(dirs.len() >= 4, "memory, pids, freezer, unified: {dirs:?}");
    for d in &dirs {
        std::fs::create_dir(format!("{d}/sub")).unwrap();
    }
    std::fs::create_dir("/sys/fs/cgroup/memory/mote/cgsub/m/").unwrap();
    // The hierarchy name of a cgroup directory, as /proc/PID/cgroup names it ("" for cgroup2).
    let hier = |d: &str| {
        let h = d
            .trim_start_matches("/sys/fs/cgroup/")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        if h == "unified" || h == "mote" {
            String::new()
        } else if h == "systemd" {
            "name=systemd".to_string()
        } else {
            h
        }
    };
    let cgroup_of = |out: &str, h: &str| -> String {
        out.lines()
            .find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
                (ctrls == h).then(|| path.to_string())
            })
            .unwrap_or_else(|| panic!("no line for {h:?} in {out}"))
    };
    let exec = |args: &[&str]| {
        let mut a = vec!["exec"];
        a.extend_from_slice(args);
        env.mote(&a)
    };

    // One path for every hierarchy.
    let out = exec(&["--cgroup", "sub", "cgsub", "cat", "/proc/self/cgroup"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for d in &dirs {
        assert!(cgroup_of(&text, &hier(d)).ends_with("/sub"), "{d}: {text}");
    }
    // Per controller: memory to m, pids to sub, the rest (freezer here) stays in the
    // container's cgroup.
    let out = exec(&[
        "--cgroup",
        "memory:m",
        "--cgroup",
        "pids:sub",
        "cgsub",
        "cat",
        "/proc/self/cgroup",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(cgroup_of(&text, "memory").ends_with("/m"), "{text}");
    assert!(cgroup_of(&text, "pids").ends_with("/sub"), "{text}");
    let freezer = cgroup_of(&text, "freezer");
    assert!(!freezer.ends_with("/sub") && !freezer.ends_with("/m"), "{text}");

    // Refused before anything runs.
    for (args, code, says) in [
        // exec's own failures exit 255, as runc's and crun's.
        (&["--cgroup", "nosuch"][..], 255, "no such sub-cgroup"),
        (&["--cgroup", "nosuch:x"], 255, "no cgroup for controller"),
        (&["--cgroup", "sub", "--cgroup", "memory:m"], 255, "controller: prefix"),
        (&["--cgroup", "../.."], 255, "'..'"),
    ] {
        let mut a = args.to_vec();
        a.extend_from_slice(&["cgsub", "touch", "/tmp/ran"]);
        let out = exec(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says) && err.contains("--cgroup"), "{args:?}: {err}");
    }
    assert!(!b.join("rootfs/tmp/ran").exists(), "a refused exec ran its command");

    // A process in a sub-cgroup is one of the container's: ps lists it (runc's GetAllPids).
    let pf = env.dir.join("exec.pid");
    let out = exec(&[
        "-d",
        "--cgroup",
        "sub",
        "--pid-file",
        pf.to_str().unwrap(),
        "cgsub",
        "sleep",
        "30",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let epid: i64 = std::fs::read_to_string(&pf).unwrap().trim().parse().unwrap();
    env.will_reap(epid as i32);
    let out = env.mote(&["ps", "--format", "json", "cgsub"]);
    let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(pids.contains(&epid), "{epid} not in {pids:?}");

    // delete removes the sub-cgroups, also one whose name is not UTF-8, and nested ones.
    {
        use std::os::unix::ffi::OsStrExt;
        let odd =
            std::path::Path::new("/sys/fs/cgroup/memory/mote/cgsub/sub").join(std::ffi::OsStr::from_bytes(b"\xff\xfe"));
        std::fs::create_dir_all(odd.join("deeper")).unwrap();
    }
    // The exec'd process came back to us when `mote exec -d` left: reap it while deleting.
    assert!(
        env.delete_force_reaping("cgsub", std::process::Stdio::inherit()),
        "delete -f failed"
    );
    assert_no_leftovers(&env, "cgsub", &b);
}
