//! The container library driven in-process, as `mote supervise` drives it: one long-lived
//! process that creates, starts, waits for and deletes containers many times over.
//!
//! No test harness (Cargo.toml: `harness = false`): the library forks, and a harness would run
//! tests on several threads. Each check runs in turn from `main`; a failed one panics, and
//! the binary exits non-zero.
//!
//! - memory: thousands of container lifecycles and a hundred thousand state reads in one
//!   process leave its resident memory within 64 KiB of where it was after a warm-up (nothing
//!   the library loads is leaked);
//! - the process's own state is left as it was: signal mask, child-subreaper flag, pid and time
//!   namespaces for its children, also when `create` fails half-way;
//! - one reaper: waiting for a container's process never takes another child's exit status;
//! - the caller's chosen fds reach the process (stdio through pipes, an extra fd), and extra
//!   environment entries and bind mounts apply;
//! - a stage that does not answer ends in an error after a bounded time.

mod common;

use common::Env;
use mote::container::{self, state::StateRoot, CreateOpts};
use serde_json::json;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

fn warn() -> impl FnMut(core::fmt::Arguments<'_>) {
    |a| eprintln!("warning: {a}")
}

/// VmRSS of this process, in KiB.
fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A field of /proc/self/status.
fn status_field(name: &str) -> String {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

fn ns_inode(path: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

fn subreaper() -> i32 {
    let mut v: libc::c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes an int through a valid pointer.
    unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut v as *mut libc::c_int) };
    v
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two fds.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both fds were just made and are owned here.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn waitpid(pid: i32) -> i32 {
    let mut st = 0;
    // SAFETY: a valid out pointer.
    let r = unsafe { libc::waitpid(pid, &mut st, 0) };
    assert_eq!(r, pid, "waitpid({pid}): {}", std::io::Error::last_os_error());
    if libc::WIFEXITED(st) {
        libc::WEXITSTATUS(st)
    } else {
        128 + libc::WTERMSIG(st)
    }
}

/// One lifecycle: create (stdio on /dev/null), start, wait for the init, delete.
fn cycle(root: &StateRoot, bundle: &str, id: &str, null: i32) {
    let fds = [null, null, null];
    let o = CreateOpts {
        id,
        bundle: Some(bundle),
        fds: &fds,
        ..Default::default()
    };
    let c = container::create(root, &o, &mut warn()).unwrap_or_else(|e| panic!("create {id}: {e}"));
    let pid = c.pid;
    drop(c);
    container::start(root, id).unwrap_or_else(|e| panic!("start {id}: {e}"));
    assert_eq!(waitpid(pid), 0, "{id}: the container's true");
    container::delete(root, id, false, &mut warn()).unwrap_or_else(|e| panic!("delete {id}: {e}"));
}

fn memory_stays_flat(env: &Env) {
    let bundle = env.bundle("flat", |c| {
        c["process"]["args"] = json!(["true"]);
        c["process"]["terminal"] = json!(false);
    });
    let b = bundle.to_str().unwrap();
    let root = StateRoot::open(env.root.to_str().unwrap(), true).unwrap();
    let null = std::fs::File::open("/dev/null").unwrap();
    let cycles: usize = std::env::var("MOTE_LIBRARY_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    if cycles < 10_000 {
        eprintln!("memory: {cycles} cycles (MOTE_LIBRARY_CYCLES), not the 10000 of the native run");
    }
    // Warm-up: the allocator settles (glibc raises its mmap threshold after the first large
    // frees), the page cache and dentries are there.
    for i in 0..200 {
        cycle(&root, b, &format!("w{i}"), null.as_raw_fd());
    }
    let before = rss_kib();
    let t = Instant::now();
    for i in 0..cycles {
        cycle(&root, b, &format!("c{i}"), null.as_raw_fd());
    }
    let after = rss_kib();
    eprintln!(
        "memory: {cycles} create/start/wait/delete cycles in {:.1} s: RSS {before} KiB -> {after} KiB",
        t.elapsed().as_secs_f64()
    );
    // Under QEMU user-mode the RSS is the emulator's, whose translation cache grows as it
    // meets code: the cycles still run, the figure is not mote's.
    if std::env::var_os("MOTE_TEST_QEMU_USER").is_some() {
        eprintln!("SKIP under QEMU user-mode: the RSS check (the process is the emulator, its code cache grows; the native run checks it)");
        return;
    }
    assert!(
        after <= before + 64,
        "RSS grew by {} KiB over {cycles} container lifecycles (limit 64 KiB)",
        after as i64 - before as i64
    );

    // A state read many times over: every Handle frees its document.
    let fds = [null.as_raw_fd(); 3];
    let o = CreateOpts {
        id: "held",
        bundle: Some(b),
        fds: &fds,
        ..Default::default()
    };
    let c = container::create(&root, &o, &mut warn()).unwrap();
    for _ in 0..2000 {
        let h = container::Handle::open(&root, "held").unwrap();
        assert_eq!(h.pid(), c.pid);
    }
    let before = rss_kib();
    let t = Instant::now();
    for _ in 0..100_000 {
        let h = container::Handle::open(&root, "held").unwrap();
        assert_eq!(h.pid(), c.pid);
    }
    let after = rss_kib();
    eprintln!(
        "memory: 100000 state reads in {:.1} s: RSS {before} KiB -> {after} KiB",
        t.elapsed().as_secs_f64()
    );
    assert!(
        after <= before + 64,
        "RSS grew by {} KiB over 100000 state reads",
        after as i64 - before as i64
    );
    let pid = c.pid;
    drop(c);
    container::delete(&root, "held", true, &mut warn()).unwrap();
    let _ = waitpid(pid);
}

/// The caller's process-wide state after create/run/exec, and after a create that fails
/// half-way through entering the namespaces for its children.
fn callers_state_is_untouched(env: &Env) {
    let root = StateRoot::open(env.root.to_str().unwrap(), true).unwrap();
    let mask = status_field("SigBlk:");
    let pid_ns = ns_inode("/proc/self/ns/pid_for_children");
    let time_ns = ns_inode("/proc/self/ns/time_for_children");
    let reaper = subreaper();

    // pid namespace made, then the time namespace's path does not exist: create fails after
    // entering the first.
    let broken = env.bundle("broken-ns", |c| {
        c["process"]["terminal"] = json!(false);
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time", "path": "/nonexistent/time"}));
    });
    let o = CreateOpts {
        id: "broken",
        bundle: Some(broken.to_str().unwrap()),
        ..Default::default()
    };
    let e = container::create(&root, &o, &mut warn())
        .err()
        .expect("create must fail");
    assert!(format!("{e}").contains("/nonexistent/time"), "{e}");
    assert_eq!(
        ns_inode("/proc/self/ns/pid_for_children"),
        pid_ns,
        "pid_for_children after a failed create"
    );
    assert_eq!(
        ns_inode("/proc/self/ns/time_for_children"),
        time_ns,
        "time_for_children after a failed create"
    );
    assert!(
        !env.root.join("broken").exists(),
        "a failed create left its state directory"
    );

    // run in the foreground blocks signals while it waits: the mask comes back.
    let b = env.bundle("fg", |c| {
        c["process"]["args"] = json!(["sh", "-c", "exit 3"]);
        c["process"]["terminal"] = json!(false);
    });
    let o = CreateOpts {
        id: "fg",
        bundle: Some(b.to_str().unwrap()),
        ..Default::default()
    };
    assert_eq!(container::run(&root, &o, false, false, &mut warn()).unwrap(), 3);
    assert_eq!(status_field("SigBlk:"), mask, "signal mask after run");
    // A run that fails (the program does not exist) also gives the mask back.
    let missing = env.bundle("missing", |c| {
        c["process"]["args"] = json!(["/no/such/program"]);
        c["process"]["terminal"] = json!(false);
    });
    let o = CreateOpts {
        id: "missing",
        bundle: Some(missing.to_str().unwrap()),
        ..Default::default()
    };
    assert!(container::run(&root, &o, false, false, &mut warn()).is_err());
    assert_eq!(status_field("SigBlk:"), mask, "signal mask after a failed run");

    // exec (in the foreground, and detached) joins the container's pid namespace for its
    // child, and leaves it again.
    let b = env.bundle("long", |c| {
        c["process"]["args"] = json!(["sleep", "60"]);
        c["process"]["terminal"] = json!(false);
    });
    let o = CreateOpts {
        id: "long",
        bundle: Some(b.to_str().unwrap()),
        ..Default::default()
    };
    let c = container::create(&root, &o, &mut warn()).unwrap();
    container::start(&root, "long").unwrap();
    if !common::qemu_user_skip("library exec: setns into a mount namespace is not emulated") {
        let args = ["true".to_string()];
        let eo = container::exec::ExecOpts {
            id: "long",
            args: &args,
            ..Default::default()
        };
        assert_eq!(
            container::exec::exec(&root, &eo, &mut warn()).unwrap(),
            container::exec::Outcome::Exited(0)
        );
        assert_eq!(
            ns_inode("/proc/self/ns/pid_for_children"),
            pid_ns,
            "pid_for_children after exec"
        );
        assert_eq!(status_field("SigBlk:"), mask, "signal mask after exec");
        let eo = container::exec::ExecOpts { detach: true, ..eo };
        match container::exec::exec(&root, &eo, &mut warn()).unwrap() {
            container::exec::Outcome::Detached(pid) => assert_eq!(waitpid(pid), 0),
            o => panic!("detached exec: {o:?}"),
        }
        assert_eq!(
            ns_inode("/proc/self/ns/pid_for_children"),
            pid_ns,
            "pid_for_children after exec -d"
        );
    }
    assert_eq!(subreaper(), reaper, "child subreaper flag");
    let pid = c.pid;
    drop(c);
    container::delete(&root, "long", true, &mut warn()).unwrap();
    let _ = waitpid(pid);

    // A user namespace: create becomes a subreaper for as long as it needs, then is not.
    if common::qemu_user_skip("user namespaces") {
        return;
    }
    let b = env.bundle("userns", |c| {
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(["true"]);
        common::with_userns(c);
        c["root"]["readonly"] = json!(false);
    });
    let o = CreateOpts {
        id: "userns",
        bundle: Some(b.to_str().unwrap()),
        ..Default::default()
    };
    let c = container::create(&root, &o, &mut warn()).unwrap_or_else(|e| panic!("userns create: {e}"));
    assert_eq!(
        subreaper(),
        reaper,
        "child subreaper flag after a user-namespace create"
    );
    let pid = c.pid;
    drop(c);
    container::delete(&root, "userns", true, &mut warn()).unwrap();
    let _ = waitpid(pid);
}

/// Waiting for a container's process leaves every other child's exit status to the caller.
fn one_reaper(env: &Env) {
    let root = StateRoot::open(env.root.to_str().unwrap(), true).unwrap();
    // A child of ours that has exited before the wait starts, and one that exits during it.
    // SAFETY: the child only calls _exit.
    let early = unsafe { libc::fork() };
    if early == 0 {
        // SAFETY: _exit in the child.
        unsafe { libc::_exit(7) };
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    // SAFETY: as above, with a short sleep first.
    let late = unsafe { libc::fork() };
    if late == 0 {
        // SAFETY: usleep and _exit are async-signal-safe.
        unsafe {
            libc::usleep(300_000);
            libc::_exit(9)
        };
    }
    let b = env.bundle("reaper", |c| {
        c["process"]["args"] = json!(["sleep", "1"]);
        c["process"]["terminal"] = json!(false);
    });
    let o = CreateOpts {
        id: "reaper",
        bundle: Some(b.to_str().unwrap()),
        ..Default::default()
    };
    assert_eq!(container::run(&root, &o, false, false, &mut warn()).unwrap(), 0);
    assert_eq!(waitpid(early), 7, "the exit status of a child that ended before run");
    assert_eq!(waitpid(late), 9, "the exit status of a child that ended during run");
}

/// The fds, environment and bind mounts a caller gives the process.
fn fds_env_and_binds(env: &Env) {
    let root = StateRoot::open(env.root.to_str().unwrap(), true).unwrap();
    let host = env.dir.join("shared");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("hello"), "from the host\n").unwrap();
    let b = env.bundle("io", |c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "echo out:$GREETING; echo err:$HOME >&2; cat /shared/hello; echo ready >&4; read x; echo in:$x"
        ]);
        c["process"]["env"] = json!(["PATH=/bin", "GREETING=old", "HOME=/root"]);
        c["process"]["terminal"] = json!(false);
    });
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let (in_r, in_w) = pipe();
    let (ready_r, ready_w) = pipe();
    let null = std::fs::File::open("/dev/null").unwrap();
    let fds = [
        in_r.as_raw_fd(),
        out_w.as_raw_fd(),
        err_w.as_raw_fd(),
        null.as_raw_fd(),
        ready_w.as_raw_fd(),
    ];
    let binds = [(host.to_str().unwrap(), "/shared")];
    let o = CreateOpts {
        id: "io",
        bundle: Some(b.to_str().unwrap()),
        fds: &fds,
        env: &["GREETING=hello"],
        binds: &binds,
        ..Default::default()
    };
    let c = container::create(&root, &o, &mut warn()).unwrap_or_else(|e| panic!("create: {e}"));
    drop((out_w, err_w, in_r, ready_w));
    container::start(&root, "io").unwrap();
    // One line, as a supervisor reads a readiness fd (the process keeps it open).
    let mut ready = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(std::fs::File::from(ready_r)), &mut ready).unwrap();
    assert_eq!(ready, "ready\n", "the readiness fd (4)");
    std::io::Write::write_all(&mut std::fs::File::from(in_w), b"typed\n").unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(out_r), &mut out).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(err_r), &mut err).unwrap();
    assert_eq!(out, "out:hello\nfrom the host\nin:typed\n");
    assert_eq!(err, "err:/root\n");
    let pid = c.pid;
    drop(c);
    assert_eq!(waitpid(pid), 0);
    container::delete(&root, "io", false, &mut warn()).unwrap();
}

/// A wait on the sync socket is bounded: nobody answers, and the receive ends in an error
/// naming what it waited for.
fn bounded_sync_wait() {
    use mote::process::sync;
    let (a, _b) = mote::sys::seqpacket_pair().unwrap();
    sync::bound_waits(&a, 1).unwrap();
    let t = Instant::now();
    let e = sync::recv(&a, "the container to be ready")
        .err()
        .expect("recv must time out");
    let took = t.elapsed();
    assert!(took.as_millis() >= 900 && took.as_secs() < 5, "waited {took:?}");
    let text = format!("{e}");
    assert!(
        text.contains("did not answer in time") && text.contains("SETUP_TIMEOUT_SECS"),
        "{text}"
    );
}

fn main() {
    if !common::require_root() {
        return;
    }
    let env = Env::new("library");
    let checks: &[(&str, fn(&Env))] = &[
        ("callers_state_is_untouched", callers_state_is_untouched),
        ("one_reaper", one_reaper),
        ("fds_env_and_binds", fds_env_and_binds),
        ("bounded_sync_wait", |_| bounded_sync_wait()),
        ("memory_stays_flat", memory_stays_flat),
    ];
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    for (name, f) in checks {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let t = Instant::now();
        eprintln!("library: {name} ...");
        f(&env);
        eprintln!("library: {name} ok ({:.1} s)", t.elapsed().as_secs_f64());
    }
}
