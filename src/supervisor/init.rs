//! What the supervisor does when it is PID 1 (an initramfs's /init, or `init=` on the kernel
//! command line): mount what the kernel did not (proc, sys, dev, dev/pts, run, the cgroup
//! filesystem), and at the end sync and reboot(2) as asked.
//!
//! The signals that ask, as busybox's init reads them (its `poweroff`, `reboot` and `halt`
//! send them): SIGUSR2 powers off, SIGTERM reboots, SIGUSR1 halts; SIGINT (Ctrl-Alt-Del, which
//! the kernel sends to PID 1) reboots. Under another init, SIGTERM and SIGINT only stop the
//! workloads and end the supervisor.

use crate::sys::{self, fs};

/// What the machine does once the workloads are stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The supervisor exits (not PID 1).
    Exit,
    Reboot,
    PowerOff,
    Halt,
}

impl End {
    /// The end a signal asks for.
    pub fn for_signal(sig: i32, pid1: bool) -> End {
        if !pid1 {
            return End::Exit;
        }
        match sig {
            libc::SIGUSR2 => End::PowerOff,
            libc::SIGUSR1 => End::Halt,
            _ => End::Reboot,
        }
    }
}

/// Mount what an init needs and the kernel did not mount, each only where nothing is mounted
/// yet. Failures are reported through `say` and otherwise ignored: a missing /sys must not stop
/// the machine from running its workloads.
pub fn mount_basics(say: &mut dyn FnMut(core::fmt::Arguments<'_>)) {
    const NOSUID: libc::c_ulong = libc::MS_NOSUID;
    let table: [(&str, &str, &str, libc::c_ulong, Option<&str>); 6] = [
        ("proc", "/proc", "proc", NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, None),
        (
            "sysfs",
            "/sys",
            "sysfs",
            NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            None,
        ),
        ("devtmpfs", "/dev", "devtmpfs", NOSUID, Some("mode=0755")),
        (
            "devpts",
            "/dev/pts",
            "devpts",
            NOSUID | libc::MS_NOEXEC,
            Some("mode=0620,ptmxmode=0666"),
        ),
        ("tmpfs", "/run", "tmpfs", NOSUID | libc::MS_NODEV, Some("mode=0755")),
        (
            "cgroup2",
            "/sys/fs/cgroup",
            "cgroup2",
            NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            None,
        ),
    ];
    for (src, target, fstype, flags, data) in table {
        let _ = fs::mkdir_p(target, 0o755);
        if is_mount_point(target) {
            continue;
        }
        let mut b = sys::CBuf::uninit();
        let Ok(t) = b.set(target) else { continue };
        if let Err(e) = sys::mount(Some(src), t, Some(fstype), flags, data) {
            say(format_args!(
                "init: mount {fstype} on {target}: {}",
                crate::error::errno_name(e)
            ));
        }
    }
    // The console's ctrl-alt-del reaches us as SIGINT rather than rebooting at once.
    let _ = rustix::system::reboot(rustix::system::RebootCommand::CadOff);
}

/// Is something mounted at `path` (its device differs from its parent's, or it is /)?
fn is_mount_point(path: &str) -> bool {
    let parent = match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => return false,
    };
    match (fs::fstatat(fs::AT_FDCWD, path, 0), fs::fstatat(fs::AT_FDCWD, parent, 0)) {
        (Ok(a), Ok(b)) => a.st_dev != b.st_dev,
        _ => false,
    }
}

/// Sync the filesystems and end the machine as asked; returns only if reboot(2) fails.
pub fn finish(end: End) -> i32 {
    use rustix::system::{reboot, RebootCommand};
    rustix::fs::sync();
    let cmd = match end {
        End::Exit => return 0,
        End::Reboot => RebootCommand::Restart,
        End::PowerOff => RebootCommand::PowerOff,
        End::Halt => RebootCommand::Halt,
    };
    match reboot(cmd) {
        Ok(()) => 0,
        Err(e) => e.raw_os_error(),
    }
}
