//! AppArmor and SELinux: the process label applied at exec, and SELinux's mount label.
//!
//! When the config asks for a profile or label and the LSM is enabled, mote applies it: the
//! init writes `exec PROFILE` (AppArmor) or the label (SELinux) to its
//! `/proc/self/attr/.../exec` before pivot_root, through a handle checked to be on procfs,
//! so the kernel switches at the container's exec; `linux.mountLabel` becomes a `context=`
//! option of the container's filesystem mounts. When the LSM is not enabled, mote behaves as
//! runc (which then ignores the field) but says so with a warning: nothing is dropped
//! silently.

use crate::prelude::*;

use crate::error::Result;
use crate::spec::{Config, Process};
use crate::sys::fs;

/// Is this LSM active?
pub fn enabled(name: &str) -> bool {
    let mut buf = [0u8; 256];
    match fs::read_path("/sys/kernel/security/lsm", &mut buf) {
        Ok(n) => core::str::from_utf8(&buf[..n])
            .unwrap_or("")
            .split(',')
            .any(|l| l.trim() == name),
        Err(_) => match name {
            "apparmor" => {
                matches!(fs::read_path("/sys/module/apparmor/parameters/enabled", &mut buf), Ok(n) if buf[..n].starts_with(b"Y"))
            }
            _ => fs::exists_at(fs::AT_FDCWD, "/sys/fs/selinux/enforce"),
        },
    }
}

/// Set the labels the process takes at exec (call before pivot_root).
pub fn set_exec_labels(p: &Process<'_>) -> Result<()> {
    set_exec_labels_to(p.apparmor_profile.map(|a| a.0), p.selinux_label.map(|a| a.0))
}

/// [`set_exec_labels`] from plain values (also used by `exec`).
pub fn set_exec_labels_to(apparmor: Option<&str>, selinux: Option<&str>) -> Result<()> {
    if let Some(prof) = apparmor.filter(|a| !a.is_empty()) {
        if enabled("apparmor") {
            let text = format!("exec {prof}");
            let path = if fs::exists_at(fs::AT_FDCWD, "/proc/self/attr/apparmor/exec") {
                "/proc/self/attr/apparmor/exec"
            } else {
                "/proc/self/attr/exec"
            };
            crate::sys::fs::write_proc(path, text.as_bytes())
                .map_err(|e| e.ctx(format_args!(" (process.apparmorProfile)")))?;
        }
    }
    if let Some(label) = selinux.filter(|a| !a.is_empty()) {
        if enabled("selinux") {
            crate::sys::fs::write_proc("/proc/self/attr/exec", label.as_bytes())
                .map_err(|e| e.ctx(format_args!(" (process.selinuxLabel)")))?;
        }
    }
    Ok(())
}

/// The SELinux mount label to add to filesystem mounts, when SELinux is enabled.
pub fn mount_label<'a>(cfg: &Config<'a>) -> Option<&'a str> {
    let l = cfg.spec.linux.as_ref()?.mount_label?.0;
    if l.is_empty() || !enabled("selinux") {
        return None;
    }
    Some(l)
}
