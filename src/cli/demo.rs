//! `mote demo`: run a container from a bundle mote builds from itself (no download), and
//! `mote introspect`: what a process sees of its container (the demo's payload).

use crate::prelude::*;

use crate::container::{self, state::StateRoot, CreateOpts};
use crate::error::{Error, Result, Step};
use core::fmt::Write as _;

/// Build a bundle whose rootfs holds only this static binary, run `mote introspect` in it
/// with the default config (every namespace but user and time, three capabilities, read-only
/// root, masked paths), print what it saw, and remove everything.
pub fn demo(keep: bool, warn: &mut dyn FnMut(core::fmt::Arguments<'_>)) -> Result<i32> {
    let dir = format!("/tmp/mote-demo-{}", crate::sys::env::pid());
    let rootfs = format!("{dir}/bundle/rootfs");
    rootfs_of_mote(&dir, &rootfs)?;
    let cfg = super::spec_cmd::DEFAULT_SPEC
        .replace("\t\t\t\"sh\"\n", "\t\t\t\"/bin/mote\",\n\t\t\t\"introspect\"\n")
        .replace("\"hostname\": \"mote\"", "\"hostname\": \"mote-demo\"");
    crate::sys::fs::write_file(&format!("{dir}/bundle/config.json"), cfg.as_bytes(), 0o644)
        .step("write config.json")?;
    outln!("mote demo: bundle {dir}/bundle (rootfs: just the static mote binary)");
    outln!("mote demo: mote run --bundle {dir}/bundle demo\n");
    let root = StateRoot::open(&format!("{dir}/state"), true)?;
    let bundle = format!("{dir}/bundle");
    let o = CreateOpts {
        id: "demo",
        bundle: Some(&bundle),
        ..Default::default()
    };
    let r = container::run(&root, &o, false, false, warn);
    if !keep {
        let _ = crate::sys::fs::remove_all(&dir);
    }
    let code = r?;
    outln!("\nmote demo: the container exited with status {code}; its state, cgroup and mounts are gone");
    Ok(code)
}

/// Make `rootfs` (under the demo's `dir`) a root filesystem holding only this binary, at
/// /bin/mote; it must be static. On failure `dir` is removed.
fn rootfs_of_mote(dir: &str, rootfs: &str) -> Result<()> {
    let r = (|| {
        for d in ["bin", "proc", "dev", "sys", "tmp", "run"] {
            crate::sys::fs::mkdir_p(&format!("{rootfs}/{d}"), 0o755).step_ctx("mkdir", format_args!("{rootfs}/{d}"))?;
        }
        let exe = crate::sys::fs::read_file("/proc/self/exe").step("read /proc/self/exe")?;
        if !is_static_elf(&exe) {
            return Err(Error::failed("static build needed:").ctx(format_args!(
                "this mote is dynamically linked, so it cannot run alone in a rootfs: use the static build \
                 (scripts/build.sh x86_64-unknown-linux-musl, or scripts/demo.sh)"
            )));
        }
        crate::sys::fs::write_file(&format!("{rootfs}/bin/mote"), &exe, 0o755)
            .step_ctx("copy mote into", format_args!("{rootfs}"))
    })();
    if r.is_err() {
        let _ = crate::sys::fs::remove_all(dir);
    }
    r
}

/// Does this ELF file have no program interpreter (PT_INTERP), i.e. is it static?
fn is_static_elf(b: &[u8]) -> bool {
    if b.len() < 64 || &b[..4] != b"\x7fELF" {
        return false;
    }
    let is64 = b[4] == 2;
    let le = b[5] == 1;
    let rd = |off: usize, n: usize| -> u64 {
        let mut v = 0u64;
        for i in 0..n {
            let byte = *b.get(off + i).unwrap_or(&0) as u64;
            v |= if le { byte << (8 * i) } else { byte << (8 * (n - 1 - i)) };
        }
        v
    };
    let (phoff, phentsize, phnum) = if is64 {
        (rd(0x20, 8), rd(0x36, 2), rd(0x38, 2))
    } else {
        (rd(0x1c, 4), rd(0x2a, 2), rd(0x2c, 2))
    };
    (0..phnum).all(|i| rd((phoff + i * phentsize) as usize, 4) != 3)
}

fn read(path: &str) -> String {
    crate::sys::fs::read_file(path)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default()
}

fn status_field<'s>(status: &'s str, key: &str) -> &'s str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim())
        .unwrap_or("?")
}

/// Print what this process sees: identity, capabilities, namespaces, mounts, cgroup.
pub fn introspect() -> Result<i32> {
    let status = read("/proc/self/status");
    if status.is_empty() {
        return Err(Error::failed("introspect").ctx(format_args!("/proc is not mounted")));
    }
    let mut o = String::new();
    let host = read("/proc/sys/kernel/hostname");
    let _ = writeln!(o, "hostname      {}", host.trim());
    let _ = writeln!(
        o,
        "pid           {} (NSpid {})",
        crate::sys::env::pid(),
        status_field(&status, "NSpid:")
    );
    let first = |f: &str| f.split_whitespace().next().unwrap_or("?").to_string();
    let _ = writeln!(
        o,
        "uid / gid     {} / {}",
        first(status_field(&status, "Uid:")),
        first(status_field(&status, "Gid:"))
    );
    let eff = u64::from_str_radix(status_field(&status, "CapEff:"), 16).unwrap_or(0);
    let bnd = u64::from_str_radix(status_field(&status, "CapBnd:"), 16).unwrap_or(0);
    let names = |m: u64| -> String {
        let v: Vec<&str> = crate::security::caps::NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| m & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect();
        if v.is_empty() {
            "(none)".into()
        } else {
            v.join(" ")
        }
    };
    let _ = writeln!(o, "capabilities  effective: {}", names(eff));
    let _ = writeln!(o, "              bounding:  {}", names(bnd));
    let _ = writeln!(o, "no_new_privs  {}", status_field(&status, "NoNewPrivs:"));
    let _ = writeln!(o, "seccomp       {}", status_field(&status, "Seccomp:"));
    let mut ns = Vec::new();
    for n in crate::spec::namespaces::ALL {
        if let Ok(l) = crate::sys::fs::read_link(&format!("/proc/self/ns/{}", n.proc_name)) {
            ns.push(l);
        }
    }
    let _ = writeln!(o, "namespaces    {}", ns.join(" "));
    let procs = crate::sys::fs::open("/proc", libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
        .and_then(|d| crate::sys::fs::list_dir(rustix::fd::AsRawFd::as_raw_fd(&d)))
        .map(|names| names.iter().filter(|n| n.parse::<u32>().is_ok()).count())
        .unwrap_or(0);
    let _ = writeln!(o, "processes     {procs} visible");
    let mi = read("/proc/self/mountinfo");
    let mut mounts = Vec::new();
    for l in mi.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        if f.len() > 5 {
            let sep = f.iter().position(|x| *x == "-").unwrap_or(f.len() - 1);
            let ro = if f[5].split(',').any(|x| x == "ro") { " ro" } else { "" };
            mounts.push(format!("{} ({}{ro})", f[4], f.get(sep + 1).unwrap_or(&"?")));
        }
    }
    let _ = writeln!(o, "mounts        {}", mounts.join(", "));
    let root_ro = crate::sys::fs::open(
        "/.mote-write-test",
        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
        0o666,
    )
    .is_err();
    let _ = writeln!(o, "root          {}", if root_ro { "read-only" } else { "writable" });
    let _ = writeln!(
        o,
        "cgroup        {}",
        read("/proc/self/cgroup").lines().last().unwrap_or("?")
    );
    let host_visible = crate::sys::fs::fstatat(crate::sys::fs::AT_FDCWD, "/proc/1/root/work", 0).is_ok()
        || crate::sys::fs::fstatat(crate::sys::fs::AT_FDCWD, "/etc/hostname", 0).is_ok();
    let _ = writeln!(
        o,
        "host files    {}",
        if host_visible { "visible!" } else { "not visible" }
    );
    out!("{o}");
    Ok(0)
}

#[cfg(feature = "supervise")]
/// The demo's workloads: (name, worker arguments, workload file fields, config change).
const DEMO: &[(&str, &str, &str)] = &[
    (
        "web",
        r#""/bin/mote", "worker", "serve""#,
        r#""readiness":{"type":"notify"},"health":{"exec":["/bin/mote","worker","check"],"interval":"2s","timeout":"2s"},"critical":true"#,
    ),
    (
        "crasher",
        r#""/bin/mote", "worker", "crash", "1s""#,
        r#""restart":{"policy":"always","backoff":{"initial":"250ms","max":"8s"}},"startLimit":{"burst":100,"interval":"60s"},"dependsOn":[{"name":"web","condition":"ready"}]"#,
    ),
    (
        "hog",
        r#""/bin/mote", "worker", "hog""#,
        r#""restart":{"policy":"on-failure","backoff":{"initial":"2s","max":"2s"}},"startLimit":{"burst":100,"interval":"60s"}"#,
    ),
    (
        "flaky",
        r#""/bin/mote", "worker", "serve""#,
        r#""health":{"exec":["/bin/mote","worker","check","6","12"],"interval":"1s","timeout":"1s","retries":3},"restart":{"policy":"always"},"startLimit":{"burst":100,"interval":"60s"}"#,
    ),
];

#[cfg(feature = "supervise")]
/// `mote demo`: supervise the demo's workloads for a while (30 s by default), printing what
/// happens, then stop everything and remove every file.
pub fn supervisor_demo(d: &super::args::Demo, log: &super::log::Log) -> Result<i32> {
    let run_for = match d.duration.as_deref() {
        Some(s) => crate::spec::units::parse_duration(s).ok_or_else(|| {
            Error::usage("demo --duration").ctx(format_args!("{s:?}: {}", crate::spec::units::DURATION_HINT))
        })?,
        None => core::time::Duration::from_secs(30),
    };
    let dir = format!("/tmp/mote-demo-{}", crate::sys::env::pid());
    let rootfs = format!("{dir}/rootfs");
    rootfs_of_mote(&dir, &rootfs)?;
    crate::sys::fs::mkdir_p(&format!("{dir}/workloads"), 0o755).step_ctx("mkdir", format_args!("{dir}/workloads"))?;
    for (name, args, fields) in DEMO {
        let b = format!("{dir}/bundles/{name}");
        crate::sys::fs::mkdir_p(&b, 0o755).step_ctx("mkdir", format_args!("{b}"))?;
        let mut cfg = super::spec_cmd::DEFAULT_SPEC
            .replace("\t\t\t\"sh\"\n", &format!("\t\t\t{args}\n"))
            .replace("\"terminal\": true", "\"terminal\": false")
            .replace("\"hostname\": \"mote\"", &format!("\"hostname\": \"{name}\""))
            .replace("\"path\": \"rootfs\"", &format!("\"path\": \"{rootfs}\""));
        if *name == "hog" {
            // A 24 MiB memory limit, which the hog soon reaches.
            cfg = cfg.replace(
                "\t\t\"resources\": {",
                "\t\t\"resources\": {\n\t\t\t\"memory\": {\"limit\": 25165824},",
            );
        }
        crate::sys::fs::write_file(&format!("{b}/config.json"), cfg.as_bytes(), 0o644).step("write config.json")?;
        let wl = format!("{{\"name\":\"{name}\",\"bundle\":\"{b}\",{fields}}}");
        crate::sys::fs::write_file(&format!("{dir}/workloads/{name}.json"), wl.as_bytes(), 0o644)
            .step("write a workload file")?;
    }
    outln!(
        "mote demo: {} workloads from {dir}/workloads (each rootfs holds only the static mote binary)",
        DEMO.len()
    );
    outln!(
        "  web      a service that tells it is ready (sd_notify READY=1) and passes its health check
  crasher  exits 1 a second after it starts: restarted with a growing backoff
  hog      eats memory past its 24 MiB cgroup limit: killed by the kernel, restarted
  flaky    its health check fails from 6 s to 12 s after a start: unhealthy, restarted, healthy again"
    );
    outln!(
        "mote demo: supervising for {} s (mote supervise --config-dir {dir}/workloads)\n",
        run_for.as_secs()
    );
    let root = format!("{dir}/state");
    let o = crate::supervisor::Options {
        root: &root,
        config_dir: &format!("{dir}/workloads"),
        watchdog: None,
        watchdog_stand_in: false,
        cgroup_parent: Some("/mote-demo"),
        print_status: true,
        run_for: Some(run_for),
    };
    let start = crate::sys::env::monotonic();
    let mut say = |a: core::fmt::Arguments<'_>| {
        let t = crate::sys::env::monotonic() - start;
        let text = a.to_string();
        log.line_only("info", &text);
        outln!("[{:>2}.{} s] {text}", t.as_secs(), t.subsec_millis() / 100);
    };
    let r = crate::supervisor::supervise(&o, &mut say);
    if !d.keep {
        let _ = crate::sys::fs::remove_all(&dir);
    }
    let code = r?;
    outln!("\nmote demo: every workload stopped; its containers, cgroups, mounts and files are gone");
    Ok(code)
}

#[cfg(feature = "supervise")]
/// SIGTERM and SIGINT blocked, to be waited for.
fn stop_signals() -> crate::sys::proc::SigSet {
    let mut set = crate::sys::proc::SigSet::empty();
    set.add(libc::SIGTERM);
    set.add(libc::SIGINT);
    let _ = crate::sys::proc::sigprocmask(libc::SIG_BLOCK, &set);
    set
}

#[cfg(feature = "supervise")]
/// Wait up to `ms` for a signal of `set`: true when one came.
fn stopped(set: &crate::sys::proc::SigSet, ms: u64) -> bool {
    let Ok(fd) = crate::sys::signalfd(set) else {
        crate::sys::env::sleep(core::time::Duration::from_millis(ms));
        return false;
    };
    crate::sys::poll1(rustix::fd::AsRawFd::as_raw_fd(&fd), libc::POLLIN, ms as i32).unwrap_or(0) != 0
}

#[cfg(feature = "supervise")]
/// `mote worker BEHAVIOUR [ARGS]`: what the demo's workloads do, from the static binary alone.
///
/// - `serve`: tells its supervisor it is ready (sd_notify), updates its STATUS every second,
///   ends with 0 on SIGTERM;
/// - `crash DURATION`: exits 1 after DURATION;
/// - `hog`: allocates and touches 1 MiB every 50 ms until the kernel kills it;
/// - `check [FROM TO]`: a health check: fails (exit 1) from FROM to TO seconds after the
///   container's init started, succeeds otherwise.
pub fn worker(args: &[String]) -> Result<i32> {
    let arg = |i: usize| args.get(i).map(|s| s.as_str());
    let secs = |s: Option<&str>| {
        s.and_then(crate::spec::units::parse_duration)
            .unwrap_or(core::time::Duration::from_secs(1))
    };
    match arg(0) {
        Some("serve") => {
            // PID 1 of its container: SIGTERM does nothing unless handled.
            let stop = stop_signals();
            let _ = crate::supervisor::notify::send_to_manager("READY=1\nSTATUS=serving");
            let mut n = 0u64;
            loop {
                if stopped(&stop, 1000) {
                    outln!("serve: stopping after {n} requests");
                    let _ = crate::supervisor::notify::send_to_manager("STOPPING=1");
                    return Ok(0);
                }
                n += 1;
                let _ = crate::supervisor::notify::send_to_manager(&format!("STATUS=served {n} requests"));
                if n % 5 == 0 {
                    outln!("served {n} requests");
                }
            }
        }
        Some("crash") => {
            outln!("crasher: up; failing in {} ms", secs(arg(1)).as_millis() as u64);
            crate::sys::env::sleep(secs(arg(1)));
            errln!("crasher: giving up");
            Ok(1)
        }
        Some("hog") => {
            let stop = stop_signals();
            let mut kept: Vec<Vec<u8>> = Vec::new();
            loop {
                kept.push(vec![1u8; 1 << 20]);
                if kept.len() % 8 == 0 {
                    outln!("hog: holding {} MiB", kept.len());
                }
                if stopped(&stop, 50) {
                    return Ok(0);
                }
            }
        }
        Some("check") => {
            // Seconds since the container's init (pid 1 here) started.
            let up = read("/proc/uptime");
            let up: u64 = up.split('.').next().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
            let stat = read("/proc/1/stat");
            let start = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(19))
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(0)
                / 100;
            let age = up.saturating_sub(start);
            let from = arg(1).and_then(|s| s.parse::<u64>().ok());
            let to = arg(2).and_then(|s| s.parse::<u64>().ok());
            match (from, to) {
                (Some(f), Some(t)) if (f..t).contains(&age) => {
                    outln!("failing ({age} s after start)");
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
        _ => Err(Error::usage("worker").ctx(format_args!("use serve, crash DURATION, hog, or check [FROM TO]"))),
    }
}
