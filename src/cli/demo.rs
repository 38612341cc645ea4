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
    for d in ["bin", "proc", "dev", "sys", "tmp"] {
        crate::sys::fs::mkdir_p(&format!("{rootfs}/{d}"), 0o755).step_ctx("mkdir", format_args!("{rootfs}/{d}"))?;
    }
    let exe = crate::sys::fs::read_file("/proc/self/exe").step("read /proc/self/exe")?;
    if !is_static_elf(&exe) {
        let _ = crate::sys::fs::remove_all(&dir);
        return Err(Error::failed("static build needed:").ctx(format_args!(
            "this mote is dynamically linked, so it cannot run alone in a rootfs: use the static build \
             (scripts/build.sh x86_64-unknown-linux-musl, or scripts/demo.sh)"
        )));
    }
    crate::sys::fs::write_file(&format!("{rootfs}/bin/mote"), &exe, 0o755)
        .step_ctx("copy mote into", format_args!("{rootfs}"))?;
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
