//! `mote supervise` against the host kernel, as root: real bundles (busybox, and the static mote
//! binary inside for `mote notify`), a real supervisor process, its control socket and its
//! log. Intervals are short so that each test takes seconds.

mod common;

use common::sv::{lines_of, Sv};
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn restart_policies_differ() {
    if !common::require_root() {
        return;
    }
    let mut s = Sv::new("policies");
    let fast = json!({"initial": "50ms", "max": "50ms"});
    s.workload(
        "always",
        "sleep 0.2; exit 0",
        json!({"restart": {"policy": "always", "backoff": fast}, "startLimit": {"burst": 100}}),
    );
    s.workload(
        "onfail0",
        "sleep 0.2; exit 0",
        json!({"restart": {"policy": "on-failure", "backoff": fast}}),
    );
    s.workload(
        "onfail1",
        "sleep 0.2; exit 3",
        json!({"restart": {"policy": "on-failure", "backoff": fast}, "startLimit": {"burst": 100}}),
    );
    s.workload("never", "sleep 0.2; exit 3", json!({"restart": {"policy": "no"}}));
    s.start();
    s.wait("always and onfail1 restarted twice", 15, |s| {
        s.one("always")["restarts"].as_u64() >= Some(2) && s.one("onfail1")["restarts"].as_u64() >= Some(2)
    });
    let w = s.one("onfail0");
    assert_eq!(
        (w["state"].as_str(), w["restarts"].as_u64()),
        (Some("stopped"), Some(0)),
        "exit 0 under on-failure stays stopped: {w}"
    );
    assert_eq!(w["lastExit"], "exited with status 0");
    let w = s.one("never");
    assert_eq!(
        (w["state"].as_str(), w["restarts"].as_u64()),
        (Some("stopped"), Some(0)),
        "{w}"
    );
    assert_eq!(w["lastExit"], "exited with status 3");
    assert_eq!(s.one("onfail1")["lastExit"], "exited with status 3");
    assert!(s.stop(30).success());
    s.assert_nothing_left();
}

/// The backoff grows from its initial delay, doubling to its cap; the start limit then
/// applies its action (here: stop petting the watchdog, a FIFO standing in for the device).
#[test]
fn backoff_start_limit_and_watchdog() {
    if !common::require_root() {
        return;
    }
    let mut s = Sv::new("backoff");
    s.workload(
        "crash",
        "exit 1",
        json!({"restart": {"backoff": {"initial": "100ms", "max": "400ms"}}, "startLimit": {"burst": 5, "interval": "30s", "action": "watchdog"}, "critical": true}),
    );
    s.workload("steady", "sleep 1000", json!({}));
    let fifo = s.env.dir.join("watchdog");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    // The reader first, so the supervisor's open does not block.
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblock()
        .open(&fifo)
        .unwrap();
    s.extra = vec![
        "--watchdog".into(),
        fifo.to_str().unwrap().into(),
        "--watchdog-timeout".into(),
        "1s".into(),
        "--watchdog-stand-in".into(),
    ];
    s.start();
    s.wait("crash to fail at its start limit", 20, |s| s.state("crash") == "failed");
    let delays: Vec<u64> = lines_of(&s.log_text(), "crash")
        .iter()
        .filter_map(|l| l.split("starting again in ").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(delays, [100, 200, 400, 400], "{}", s.log_text());
    assert!(s.log_text().contains("no more watchdog pets"), "{}", s.log_text());
    // Pets came while all was well; none after the failure.
    let drain = |r: &std::fs::File| {
        let mut v = Vec::new();
        let mut b = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut &*r, &mut b) {
            if n == 0 {
                break;
            }
            v.extend_from_slice(&b[..n]);
        }
        v
    };
    let before = drain(&reader);
    assert!(before.iter().any(|b| *b == b'.'), "pets: {before:?}");
    std::thread::sleep(Duration::from_millis(1200));
    assert!(drain(&reader).is_empty(), "a pet after the critical workload failed");
    let st = s.mote(&["status"]);
    let text = String::from_utf8_lossy(&st.stdout);
    assert!(text.contains("NOT petting"), "{text}");
    // A start by request: it runs again.
    assert!(s.mote(&["start", "crash"]).status.success());
    s.wait("crash started again", 10, |s| {
        s.one("crash")["restarts"].as_u64() == Some(0) || s.state("crash") != "failed"
    });
    assert!(s.stop(30).success());
    // The orderly shutdown ends with the magic close.
    assert!(drain(&reader).ends_with(b"V"), "no magic close");
    s.assert_nothing_left();
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NONBLOCK)
    }
}

/// b starts once a is ready; c once b is healthy; on SIGTERM they stop in reverse order.
#[test]
fn dependencies_start_and_stop_in_order() {
    if !common::require_root()
        || common::qemu_user_skip("health checks exec into the container: setns into a mount namespace is not emulated")
    {
        return;
    }
    let mut s = Sv::new("deps");
    s.workload(
        "a",
        "sleep 1; mote notify --ready; exec sleep 1000",
        json!({"readiness": {"type": "notify"}}),
    );
    s.workload(
        "b",
        "sleep 1000",
        json!({"dependsOn": [{"name": "a", "condition": "ready"}], "health": {"exec": ["true"], "interval": "300ms"}}),
    );
    s.workload(
        "c",
        "echo ready >&3; exec sleep 1000",
        json!({"dependsOn": [{"name": "b", "condition": "healthy"}], "readiness": {"type": "fd", "fd": 3}}),
    );
    s.start();
    assert_eq!(s.state("b"), "waiting");
    s.wait("c to be ready", 15, |s| s.state("c") == "ready");
    assert_eq!(s.state("a"), "ready");
    assert_eq!(s.state("b"), "healthy");
    let log = s.log_text();
    let at = |pat: &str| log.find(pat).unwrap_or_else(|| panic!("{pat:?} not in\n{log}"));
    assert!(
        at("a: started") < at("b: started")
            && at("b: started") < at("b: healthy")
            && at("b: healthy") < at("c: started")
    );
    assert!(s.stop(30).success());
    let log = s.log_text();
    // Where each one ended (exited on its stop signal, or killed after its stop timeout).
    let at = |n: &str| {
        log.lines()
            .position(|l| l.contains(&format!("{n}: exited")) || l.contains(&format!("{n}: killed")))
            .unwrap_or_else(|| panic!("{n} never ended:\n{log}"))
    };
    assert!(at("c") < at("b") && at("b") < at("a"), "{log}");
    s.assert_nothing_left();
}

/// Health checks: failing past their retries makes the workload unhealthy and restarts it.
#[test]
fn health_goes_unhealthy_and_restarts() {
    if !common::require_root()
        || common::qemu_user_skip("health checks exec into the container: setns into a mount namespace is not emulated")
    {
        return;
    }
    let mut s = Sv::new("health");
    // Healthy while /tmp/ok exists (the container's own /tmp, a tmpfs written by itself).
    let b = s.bundle("w", "touch /tmp/ok; sleep 1.5; rm /tmp/ok; exec sleep 1000", |c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    });
    std::fs::write(
        s.wdir.join("w.json"),
        json!({"name": "w", "bundle": b, "stop": {"timeout": "500ms"},
               "health": {"exec": ["test", "-e", "/tmp/ok"], "interval": "200ms", "retries": 2},
               "restart": {"backoff": {"initial": "100ms"}}})
        .to_string(),
    )
    .unwrap();
    s.start();
    s.wait("healthy", 10, |s| s.state("w") == "healthy");
    s.wait("restarted after going unhealthy", 15, |s| {
        s.one("w")["restarts"].as_u64() >= Some(1)
    });
    assert!(s.log_text().contains("w: unhealthy: exit 1"), "{}", s.log_text());
    s.wait("healthy again", 10, |s| s.state("w") == "healthy");
    assert!(s.stop(30).success());
    s.assert_nothing_left();
}

/// SIGHUP: an added file starts, a removed one stops, a changed one restarts, a broken one is
/// reported (file and JSON path) and leaves its workload as it was.
#[test]
fn sighup_reloads_what_changed() {
    if !common::require_root() {
        return;
    }
    let mut s = Sv::new("reload");
    s.workload("keep", "exec sleep 1000", json!({}));
    s.workload("gone", "exec sleep 1000", json!({}));
    s.workload("change", "exec sleep 1000", json!({}));
    s.workload("broken", "exec sleep 1000", json!({}));
    s.start();
    s.wait("all running", 10, |s| {
        ["keep", "gone", "change", "broken"]
            .iter()
            .all(|n| s.state(n) == "ready")
    });
    let pid = |s: &Sv, n: &str| s.one(n)["pid"].as_i64().unwrap();
    let (keep, change, broken) = (pid(&s, "keep"), pid(&s, "change"), pid(&s, "broken"));
    std::fs::remove_file(s.wdir.join("gone.json")).unwrap();
    s.workload("added", "exec sleep 1000", json!({}));
    // The same bundle (it is in use), another stop timeout.
    let b = s.env.dir.join("change");
    std::fs::write(
        s.wdir.join("change.json"),
        json!({"name": "change", "bundle": b, "stop": {"timeout": "600ms"}}).to_string(),
    )
    .unwrap();
    std::fs::write(
        s.wdir.join("broken.json"),
        r#"{"bundle":"/x","restart":{"policy":"sometimes"}}"#,
    )
    .unwrap();
    s.signal(libc::SIGHUP);
    s.wait("added running, gone gone, change restarted", 15, |s| {
        let all = s.try_status().unwrap_or_default();
        let names: Vec<&str> = all.iter().filter_map(|w| w["name"].as_str()).collect();
        !names.contains(&"gone")
            && s.state("added") == "ready"
            && s.state("change") == "ready"
            && pid(s, "change") != change
    });
    assert_eq!(pid(&s, "keep"), keep, "an unchanged workload keeps running");
    assert_eq!(pid(&s, "broken"), broken, "a broken file leaves its workload as it was");
    let log = s.log_text();
    assert!(
        log.contains("broken.json: restart.policy: \"sometimes\" is not allowed"),
        "{log}"
    );
    // `mote reload` says what is wrong, with the input exit code.
    let out = s.mote(&["reload"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("restart.policy"));
    assert!(s.stop(30).success());
    s.assert_nothing_left();
}

/// Killed with SIGKILL and started again, the supervisor adopts what runs (same pids, no
/// duplicates) and supervises it from there.
#[test]
fn adopts_after_sigkill() {
    if !common::require_root() {
        return;
    }
    let mut s = Sv::new("adopt");
    s.workload("a", "exec sleep 1000", json!({}));
    s.workload("b", "exec sleep 1000", json!({"restart": {"policy": "unless-stopped"}}));
    s.start();
    s.wait("both running", 10, |s| {
        s.state("a") == "ready" && s.state("b") == "ready"
    });
    assert!(s.mote(&["stop", "b"]).status.success());
    s.wait("b stopped", 15, |s| s.state("b") == "stopped");
    let pid_a = s.one("a")["pid"].as_i64().unwrap();
    s.signal(libc::SIGKILL);
    let _ = s.child.take().unwrap().wait();
    s.start();
    assert_eq!(s.one("a")["pid"].as_i64().unwrap(), pid_a, "adopted, not started again");
    assert_eq!(s.state("b"), "stopped", "unless-stopped stays stopped across a restart");
    assert_eq!(
        std::fs::read_dir(s.containers_root()).unwrap().count(),
        1,
        "one container, no duplicate"
    );
    // Supervised from here: killed, it is restarted.
    // SAFETY: kill on the workload's pid, a process this test's supervisor started.
    unsafe { libc::kill(pid_a as i32, libc::SIGKILL) };
    s.wait("a restarted", 15, |s| {
        s.state("a") == "ready" && s.one("a")["pid"].as_i64() != Some(pid_a)
    });
    assert!(s.stop(30).success());
    s.assert_nothing_left();
}

/// The log ring keeps the last bytes; `logs --tail`; the file rotates at its size.
#[test]
fn logs_ring_tail_and_rotation() {
    if !common::require_root() {
        return;
    }
    let mut s = Sv::new("logs");
    let file = s.env.dir.join("logs/w.log");
    s.workload(
        "w",
        "i=0; while [ $i -lt 40 ]; do echo line-$i; i=$((i+1)); done; echo to-stderr >&2; exec sleep 1000",
        json!({"logs": {"ringBytes": 100, "file": file, "maxBytes": 120, "keep": 2}}),
    );
    s.start();
    s.wait("its output", 10, |s| {
        String::from_utf8_lossy(&s.mote(&["logs", "w"]).stdout).contains("to-stderr")
    });
    let all = s.mote(&["logs", "w"]).stdout;
    assert!(all.len() <= 100, "the ring holds at most 100 bytes: {}", all.len());
    assert!(String::from_utf8_lossy(&all).ends_with("line-39\nto-stderr\n"));
    let tail = String::from_utf8_lossy(&s.mote(&["logs", "--tail", "2", "w"]).stdout).to_string();
    assert_eq!(tail, "line-39\nto-stderr\n");
    let cur = std::fs::read_to_string(&file).unwrap();
    assert!(cur.ends_with("to-stderr\n"), "{cur}");
    assert!(std::fs::metadata(&file).unwrap().len() <= 120);
    assert!(file.with_extension("log.1").exists() && file.with_extension("log.2").exists());
    assert!(!file.with_extension("log.3").exists(), "keep 2");
    // --follow: new output arrives on the open connection.
    let out = s.mote(&["logs", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no workload \"nosuch\""));
    assert!(s.stop(30).success());
    s.assert_nothing_left();
}

/// Every control command, and requests that must not harm the loop: garbage, a huge line,
/// half a request then a hang-up, a client that never finishes.
#[test]
fn control_socket_commands_and_bad_requests() {
    if !common::require_root() {
        return;
    }
    let mut s = Sv::new("control");
    s.workload("w", "exec sleep 1000", json!({"stop": {"timeout": "2s"}}));
    s.start();
    s.wait("running", 10, |s| s.state("w") == "ready");
    let sock = s.env.root.join("supervisor/control.sock");
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixStream;
    // Root only: made 0600 at bind, never more open.
    assert_eq!(std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777, 0o600);
    let ask = |req: &[u8]| -> String {
        let mut c = UnixStream::connect(&sock).unwrap();
        let _ = c.write_all(req);
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut out = String::new();
        let _ = c.read_to_string(&mut out);
        out
    };
    assert!(ask(b"garbage\n").contains("\"ok\":false"));
    assert!(ask(b"{\"op\":\"explode\"}\n").contains("unknown op"));
    let huge = vec![b'x'; 100_000];
    assert!(ask(&huge).contains("request too long"));
    // Half a request, then gone.
    drop({
        let mut c = UnixStream::connect(&sock).unwrap();
        c.write_all(b"{\"op\":\"sta").unwrap();
        c
    });
    // A client that never finishes its request is dropped after CONTROL_TIMEOUT_MS.
    let mut slow = UnixStream::connect(&sock).unwrap();
    slow.write_all(b"{\"op\":").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t = Instant::now();
    let mut b = [0u8; 16];
    assert_eq!(slow.read(&mut b).unwrap_or(0), 0, "the slow client is hung up on");
    assert!(t.elapsed() < Duration::from_secs(8));
    // The loop is fine: every command works.
    assert_eq!(s.state("w"), "ready");
    assert!(s.mote(&["stop", "w"]).status.success());
    s.wait("stopped", 10, |s| s.state("w") == "stopped");
    assert!(s.mote(&["start", "w"]).status.success());
    s.wait("started", 10, |s| s.state("w") == "ready");
    let pid = s.one("w")["pid"].as_i64();
    assert!(s.mote(&["restart", "w"]).status.success());
    s.wait("restarted", 10, |s| {
        s.state("w") == "ready" && s.one("w")["pid"].as_i64() != pid
    });
    assert!(s.mote(&["reload"]).status.success());
    let table = String::from_utf8_lossy(&s.mote(&["status"]).stdout).to_string();
    assert!(
        table.lines().any(|l| l.starts_with("NAME")) && table.contains("\nw "),
        "{table}"
    );
    let out = s.mote(&["stop", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    // Someone else's: a second supervisor on the same root is refused.
    let second = Command::new(common::mote())
        .arg("--root")
        .arg(&s.env.root)
        .args(["supervise", "--config-dir"])
        .arg(&s.wdir)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("another supervisor answers"));
    assert!(s.stop(30).success());
    s.assert_nothing_left();
}

/// A client that asks for a reply larger than the socket holds (a 3 MB log ring) and never
/// reads it does not hold up the loop: it is cut off after CONTROL_TIMEOUT_MS (2 s), and the
/// supervisor answers others meanwhile and after.
#[test]
fn a_client_that_does_not_read_does_not_hold_up_the_loop() {
    if !common::require_root() {
        return;
    }
    let mut s = Sv::new("noread");
    s.workload(
        "chatty",
        "yes 0123456789012345678901234567890123456789 | head -c 3000000; exec sleep 1000",
        json!({"logs": {"ringBytes": 4194304}}),
    );
    s.workload("w", "exec sleep 1000", json!({}));
    s.start();
    s.wait("both running", 10, |s| {
        s.state("chatty") == "ready" && s.state("w") == "ready"
    });
    s.wait("the ring filled", 20, |s| {
        s.mote(&["logs", "chatty"]).stdout.len() >= 3_000_000
    });
    use std::io::{Read, Write};
    let mut stuck = std::os::unix::net::UnixStream::connect(s.env.root.join("supervisor/control.sock")).unwrap();
    stuck.write_all(b"{\"op\":\"logs\",\"name\":\"chatty\"}\n").unwrap();
    // Not read: the supervisor's write blocks on a full socket. Others are answered, in at most
    // about CONTROL_TIMEOUT_MS (the status below would wait forever if the loop were stuck).
    let t = Instant::now();
    let mut status = Command::new(common::mote())
        .arg("--root")
        .arg(&s.env.root)
        .args(["status", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let done = loop {
        if let Some(st) = status.try_wait().unwrap() {
            break Some(st);
        }
        if t.elapsed() > Duration::from_secs(20) {
            let _ = status.kill();
            let _ = status.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        done.is_some_and(|st| st.success()),
        "status was not answered while a client did not read: {:?}\n{}",
        t.elapsed(),
        s.log_text()
    );
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    // The stuck client was cut off: it gets less than the ring, then the end.
    stuck.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let _ = stuck.read_to_end(&mut got);
    assert!(
        got.len() < 3_000_000,
        "the client that did not read got {} bytes",
        got.len()
    );
    assert_eq!(s.state("w"), "ready");
    assert!(s.stop(30).success());
    s.assert_nothing_left();
}

/// Orphans that come to the supervisor (a workload without a pid namespace leaves a child
/// behind) are reaped.
#[test]
fn orphans_are_reaped() {
    if !common::require_root() || common::qemu_user_skip("PR_SET_CHILD_SUBREAPER is not emulated") {
        return;
    }
    let mut s = Sv::new("orphans");
    let b = s.bundle("o", "(sleep 0.3 &) ; exit 0", |c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    });
    std::fs::write(
        s.wdir.join("o.json"),
        json!({"name": "o", "bundle": b, "restart": {"policy": "no"}}).to_string(),
    )
    .unwrap();
    s.start();
    s.wait("o stopped", 10, |s| s.state("o") == "stopped");
    std::thread::sleep(Duration::from_millis(800));
    // No zombie whose parent is the supervisor.
    let me = s.pid().to_string();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        if let Some(close) = stat.rfind(')') {
            let f: Vec<&str> = stat[close + 2..].split(' ').collect();
            assert!(!(f[0] == "Z" && f[1] == me), "a zombie child of the supervisor: {stat}");
        }
    }
    assert!(s.stop(30).success());
    s.assert_nothing_left();
}

/// A broken workload file is reported with its file and JSON path; the others run.
#[test]
fn a_broken_file_is_reported_and_the_others_run() {
    if !common::require_root() {
        return;
    }
    let mut s = Sv::new("broken");
    s.workload("good", "exec sleep 1000", json!({}));
    std::fs::write(
        s.wdir.join("bad.json"),
        r#"{"bundle":"/x","health":{"exec":"not a list"}}"#,
    )
    .unwrap();
    s.start();
    s.wait("good running", 10, |s| s.state("good") == "ready");
    let bad = s.one("bad");
    assert_eq!(bad["state"], "failed");
    let err = bad["error"].as_str().unwrap();
    assert!(err.contains("bad.json") && err.contains("health.exec"), "{err}");
    assert!(s.stop(30).success());
    s.assert_nothing_left();
}

/// sd_notify: READY=1 and STATUS=; a workload that asked for a watchdog and goes silent is
/// restarted; one not ready within readiness.timeout is restarted; WATCHDOG_USEC and
/// NOTIFY_SOCKET reach the workload.
#[test]
fn notify_readiness_watchdog_and_timeout() {
    if !common::require_root() {
        return;
    }
    let mut s = Sv::new("notify");
    s.workload(
        "ok",
        "echo usec=$WATCHDOG_USEC sock=$NOTIFY_SOCKET; mote notify --ready --status 'all good'; while true; do mote notify --watchdog; sleep 0.1; done",
        json!({"readiness": {"type": "notify", "watchdog": "1s"}}),
    );
    s.workload(
        "silent",
        "mote notify --ready WATCHDOG=1; exec sleep 1000",
        json!({"readiness": {"type": "notify", "watchdog": "300ms"}, "restart": {"backoff": {"initial": "100ms"}}, "startLimit": {"burst": 50}}),
    );
    s.workload(
        "late",
        "exec sleep 1000",
        json!({"readiness": {"type": "notify", "timeout": "400ms"}, "restart": {"backoff": {"initial": "100ms"}}, "startLimit": {"burst": 50}}),
    );
    s.start();
    s.wait("ok ready", 10, |s| s.state("ok") == "ready");
    let ok = s.one("ok");
    assert_eq!(ok["statusText"], "all good");
    // The workload may run as any user: its notify socket is made 0777 at bind.
    let nsock = s.env.root.join("supervisor/notify/ok.sock");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&nsock).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o777, "{}", nsock.display());
    let out = String::from_utf8_lossy(&s.mote(&["logs", "ok"]).stdout).to_string();
    assert!(out.starts_with("usec=1000000 sock=/run/mote/notify.sock"), "{out}");
    s.wait("silent restarted", 15, |s| {
        s.one("silent")["restarts"].as_u64() >= Some(2)
    });
    s.wait("late restarted", 15, |s| s.one("late")["restarts"].as_u64() >= Some(2));
    assert_eq!(
        s.one("ok")["restarts"],
        0,
        "a workload that keeps petting is not restarted"
    );
    let log = s.log_text();
    assert!(log.contains("silent: silent past its watchdog interval"), "{log}");
    assert!(log.contains("late: not ready within readiness.timeout"), "{log}");
    assert!(s.stop(30).success());
    s.assert_nothing_left();
}

/// `mote logs --follow` receives what the workload writes from then on.
#[test]
fn logs_follow() {
    if !common::require_root() {
        return;
    }
    let mut s = Sv::new("follow");
    s.workload(
        "w",
        "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.1; done",
        json!({}),
    );
    s.start();
    let out = s.env.dir.join("follow.out");
    let mut f = Command::new(common::mote())
        .arg("--root")
        .arg(&s.env.root)
        .args(["logs", "--follow", "w"])
        .stdout(std::fs::File::create(&out).unwrap())
        .spawn()
        .unwrap();
    let t = Instant::now();
    loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if text.matches("tick-").count() >= 15 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "follow got: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = f.kill();
    let _ = f.wait();
    // The supervisor dropped the follower and goes on.
    assert_eq!(s.state("w"), "ready");
    assert!(s.stop(30).success());
    s.assert_nothing_left();
}

/// The start limit's `reboot` action: everything is stopped, then (not being PID 1) the
/// machine's reboot(8) is run; here a stand-in that records it was called.
#[test]
fn start_limit_reboot_runs_reboot() {
    if !common::require_root() {
        return;
    }
    let mut s = Sv::new("reboot");
    s.workload("crash", "exit 1", json!({"restart": {"backoff": {"initial": "50ms", "max": "50ms"}}, "startLimit": {"burst": 2, "action": "reboot"}}));
    s.workload("other", "exec sleep 1000", json!({}));
    let bin = s.env.dir.join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let marker = s.env.dir.join("rebooted");
    std::fs::write(
        bin.join("reboot"),
        format!("#!/bin/sh\necho called > {}\n", marker.display()),
    )
    .unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(bin.join("reboot"))
        .status()
        .unwrap();
    // The supervisor's PATH starts with the stand-in.
    s.envs.push((
        "PATH".into(),
        format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()),
    ));
    s.start();
    let mut c = s.child.take().unwrap();
    let t = Instant::now();
    let st = loop {
        if let Some(st) = c.try_wait().unwrap() {
            break st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the supervisor did not end\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(st.success(), "{st}\n{}", s.log_text());
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap_or_default(),
        "called\n",
        "{}",
        s.log_text()
    );
    assert!(s
        .log_text()
        .contains("crash: start limit: stopping everything and rebooting"));
    s.assert_nothing_left();
}

/// A bundle with process.terminal: its terminal is the log source; the stop signal given in
/// the workload file is the one sent.
#[test]
fn terminal_workload_and_stop_signal() {
    if !common::require_root() {
        return;
    }
    let mut s = Sv::new("tty");
    let b = s.bundle(
        "t",
        "trap 'echo got-INT; exit 0' INT; tty; while true; do sleep 0.1; done",
        |c| {
            c["process"]["terminal"] = json!(true);
        },
    );
    std::fs::write(
        s.wdir.join("t.json"),
        json!({"name": "t", "bundle": b, "stop": {"signal": "SIGINT", "timeout": "5s"}}).to_string(),
    )
    .unwrap();
    s.start();
    s.wait("its tty in the log", 10, |s| {
        String::from_utf8_lossy(&s.mote(&["logs", "t"]).stdout).contains("/dev/pts/")
    });
    assert!(s.mote(&["stop", "t"]).status.success());
    s.wait("stopped", 10, |s| s.state("t") == "stopped");
    let t = s.one("t");
    assert_eq!(t["lastExit"], "exited with status 0", "SIGINT reached the trap: {t}");
    assert!(String::from_utf8_lossy(&s.mote(&["logs", "t"]).stdout).contains("got-INT"));
    assert!(s.stop(30).success());
    s.assert_nothing_left();
}

/// Under systemd: READY=1 once the workloads are up, WATCHDOG=1 at half of WATCHDOG_USEC,
/// STOPPING=1 at the end (a test socket stands in for systemd's).
#[test]
fn tells_systemd() {
    if !common::require_root() {
        return;
    }
    let mut s = Sv::new("systemd");
    s.workload("w", "exec sleep 1000", json!({}));
    let path = s.env.dir.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.envs.push(("NOTIFY_SOCKET".into(), path.to_str().unwrap().into()));
    s.envs.push(("WATCHDOG_USEC".into(), "400000".into()));
    s.start();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2) {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
    }
    assert!(got.iter().any(|m| m.starts_with("READY=1")), "{got:?}");
    let pets = got.iter().filter(|m| *m == "WATCHDOG=1").count();
    assert!(
        (6..=14).contains(&pets),
        "about 10 WATCHDOG=1 in 2 s at 200 ms: {got:?}"
    );
    assert!(s.stop(30).success());
    let mut rest = Vec::new();
    while let Ok(n) = sock.recv(&mut buf) {
        rest.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
    assert!(rest.iter().any(|m| m.starts_with("STOPPING=1")), "{rest:?}");
    // The workload did not get the supervisor's NOTIFY_SOCKET (its environment is its config's).
    s.assert_nothing_left();
}

/// A crash-looping workload restarted a thousand times: the supervisor frees what each
/// create loads (its RSS stays where it was after a warm-up), and no fd accumulates.
#[test]
fn memory_stays_flat_across_restarts() {
    if !common::require_root() {
        return;
    }
    if std::env::var_os("MOTE_TEST_QEMU_USER").is_some() {
        eprintln!(
            "SKIP under QEMU user-mode: the RSS is the emulator's (its code cache grows); the native run checks it"
        );
        return;
    }
    let mut s = Sv::new("churn");
    s.workload(
        "crash",
        "exit 1",
        json!({"restart": {"backoff": {"initial": "1ms", "max": "1ms"}}, "startLimit": {"burst": 100, "interval": "1ms"}}),
    );
    s.start();
    let restarts = |s: &Sv| s.one("crash")["restarts"].as_u64().unwrap_or(0);
    let rss = |pid: i32| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    // The fewest fds over 50 looks 2 ms apart: a restart in flight holds a few for a moment
    // (the log pipe, the pidfd, the sync socket, a status client); a leak of even one per
    // restart would be a thousand.
    let fds = |pid: i32| {
        (0..50)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(2));
                std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
            })
            .min()
            .unwrap()
    };
    s.wait("200 restarts", 60, |s| restarts(s) >= 200);
    let (r0, f0) = (rss(s.pid()), fds(s.pid()));
    s.wait("1200 restarts", 300, |s| restarts(s) >= 1200);
    let (r1, f1) = (rss(s.pid()), fds(s.pid()));
    eprintln!("supervisor over 1000 restarts: RSS {r0} -> {r1} KiB, fds {f0} -> {f1}");
    assert!(
        r1 <= r0 + 256,
        "RSS grew by {} KiB over 1000 restarts",
        r1 as i64 - r0 as i64
    );
    assert!(f1 <= f0 + 2, "fds {f0} -> {f1}");
    // The supervisor's directory in the state root is no container of `mote list`'s.
    let l = s.mote(&["list", "-q"]);
    assert!(
        l.status.success() && l.stdout.is_empty(),
        "mote list: {:?}",
        String::from_utf8_lossy(&l.stdout)
    );
    assert!(s.stop(30).success());
    s.assert_nothing_left();
}

/// The README's first command: `mote demo` supervises its four workloads from bundles it makes
/// of the static binary, prints the status table as it changes, shows a notify-ready service,
/// a crash loop with a growing backoff, an OOM kill and a health check failing and recovering,
/// then stops everything and leaves nothing behind.
#[test]
fn the_demo_shows_each_behaviour_and_leaves_nothing() {
    if !common::require_root()
        || common::qemu_user_skip(
            "the demo's health checks exec into the container: setns into a mount namespace is not emulated",
        )
    {
        return;
    }
    let mote = common::sv::static_mote();
    let out = Command::new(&mote)
        .args(["demo", "--duration", "14s"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    for want in [
        "web: ready",
        "web: healthy",
        "crasher: exited with status 1",
        "hog: killed by the kernel: out of memory",
        "flaky: unhealthy",
        "all workloads stopped",
        "every workload stopped",
    ] {
        assert!(text.contains(want), "the demo's output lacks {want:?}:\n{text}");
    }
    assert!(
        text.find("flaky: unhealthy") < text.rfind("flaky: healthy"),
        "flaky recovers after it was unhealthy:\n{text}"
    );
    // The crash loop's backoff grows.
    let delays: Vec<u64> = text
        .lines()
        .filter(|l| l.contains("crasher: exited"))
        .filter_map(|l| l.split("starting again in ").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    assert!(
        delays.len() >= 3 && delays.windows(2).all(|w| w[1] > w[0]),
        "the backoff grows: {delays:?}\n{text}"
    );
    // The status table, as it changes.
    assert!(
        text.lines().any(|l| l.starts_with("NAME ") && l.contains("RESTARTS"))
            && text
                .lines()
                .any(|l| l.starts_with("crasher ") && l.contains(" backoff ")),
        "the status table with crasher in backoff:\n{text}"
    );
    // Nothing left: its directory (bundles, state, workload files), cgroups, mounts, processes.
    let dir = text
        .split_whitespace()
        .find(|w| w.starts_with("/tmp/mote-demo-") && w.ends_with("/workloads"))
        .map(|w| w.trim_end_matches("/workloads").to_string())
        .expect("the demo names its directory");
    assert!(!std::path::Path::new(&dir).exists(), "{dir} is left");
    let cg = common::sv::cgroups_under("/mote-demo");
    assert!(cg.is_empty(), "cgroups left: {cg:?}");
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mi.contains(&dir), "mounts left under {dir}");
    let procs = common::processes_rooted_in(std::path::Path::new(&format!("{dir}/rootfs")));
    assert!(procs.is_empty(), "processes left: {procs:?}");
}

/// `mote demo --runtime`: one container whose rootfs holds only the static mote, introspecting
/// itself (its own hostname, a read-only root, no host files), then nothing left.
#[test]
fn the_runtime_demo_introspects_one_container_and_leaves_nothing() {
    if !common::require_root()
        || common::qemu_user_skip("the runtime demo pivots into a new root and mounts /proc there, which need the real kernel's mount namespace setup")
    {
        return;
    }
    let mote = common::sv::static_mote();
    let out = Command::new(&mote).args(["demo", "--runtime"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    for want in [
        "hostname      mote-demo",
        "root          read-only",
        "host files    not visible",
        "the container exited with status 0",
    ] {
        assert!(text.contains(want), "the runtime demo's output lacks {want:?}:\n{text}");
    }
    let dir = text
        .split_whitespace()
        .find(|w| w.starts_with("/tmp/mote-demo-") && w.ends_with("/bundle"))
        .map(|w| w.trim_end_matches("/bundle").to_string())
        .expect("the demo names its bundle");
    assert!(!std::path::Path::new(&dir).exists(), "{dir} is left");
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mi.contains(&dir), "mounts left under {dir}");
}

/// Both demos need the static binary (it is all their rootfs holds): a dynamically linked mote
/// says so, fails, and leaves no directory behind.
#[test]
fn a_dynamic_mote_refuses_the_demos_and_leaves_nothing() {
    if !common::require_root() {
        return;
    }
    let dynamic = env!("CARGO_BIN_EXE_mote");
    let bytes = std::fs::read(dynamic).unwrap();
    if !bytes.windows(8).any(|w| w == b"ld-linux" || w == b"ld-musl-") {
        eprintln!("skipped: cargo's test build of mote is static here (no program interpreter), so there is no dynamic binary to refuse");
        return;
    }
    for args in [&["demo"][..], &["demo", "--runtime"][..]] {
        let child = Command::new(dynamic)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The demo's directory is named after mote's pid.
        let dir = format!("/tmp/mote-demo-{}", child.id());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("static build needed"), "{args:?}: {err}");
        assert!(!std::path::Path::new(&dir).exists(), "{args:?}: {dir} is left");
    }
}
