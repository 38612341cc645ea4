//! Idmapped bind mounts (the `idmap`/`ridmap` options, `mounts[].uidMappings/gidMappings`).
//!
//! Setting MOUNT_ATTR_IDMAP needs privilege in the initial user namespace, which the container
//! init does not have once it is in its own user namespace. So the parent prepares each tree:
//! open_tree(OPEN_TREE_CLONE) of the source, mount_setattr(MOUNT_ATTR_IDMAP) with a user
//! namespace fd (the mount's own mappings, through a short-lived helper process, or the
//! container's user namespace), and sends the detached mount to the init over the sync
//! socket; the init move_mounts it onto the destination it resolved inside the rootfs.

use crate::prelude::*;

use crate::error::{Error, Result, Step};
use crate::spec::{Config, IdMapping};
use crate::sys::{self, fs, proc};
use rustix::fd::{AsRawFd, OwnedFd};

/// Does mount `m` ask for an idmapped mount?
pub fn wanted(cfg: &Config<'_>, m: &crate::spec::Mount<'_>) -> bool {
    !m.uid_mappings.is_empty()
        || !m.gid_mappings.is_empty()
        || cfg.strs(m.options).iter().any(|o| o.0 == "idmap" || o.0 == "ridmap")
}

/// A user namespace with the given mappings, made by a helper process that exists only until
/// its namespace fd is open.
fn userns_with(uid: &[IdMapping<'_>], gid: &[IdMapping<'_>]) -> Result<OwnedFd> {
    let (a, b) = sys::seqpacket_pair().step("socketpair")?;
    match proc::fork().step("fork the user namespace helper")? {
        proc::Fork::Child => {
            drop(a);
            let ok = sys::unshare(libc::CLONE_NEWUSER).is_ok();
            let _ = sys::send(&b, &[ok as u8]);
            // Wait until the parent is done (it closes its end).
            let mut x = [0u8; 1];
            let _ = sys::recv(&b, &mut x);
            proc::exit_now(0)
        }
        proc::Fork::Parent(pid) => {
            drop(b);
            let mut x = [0u8; 1];
            let r = (|| {
                let n = sys::recv(&a, &mut x).step("user namespace helper")?;
                if n != 1 || x[0] != 1 {
                    return Err(
                        Error::failed("idmapped mount").ctx(format_args!("the helper could not make a user namespace"))
                    );
                }
                crate::sys::fs::write_proc(
                    &format!("/proc/{pid}/uid_map"),
                    crate::process::map_text(uid).as_bytes(),
                )?;
                crate::sys::fs::write_proc(
                    &format!("/proc/{pid}/gid_map"),
                    crate::process::map_text(gid).as_bytes(),
                )?;
                fs::open(&format!("/proc/{pid}/ns/user"), libc::O_RDONLY, 0).step("open the helper's user namespace")
            })();
            drop(a);
            let _ = proc::waitpid(pid, 0);
            r
        }
    }
}

/// Prepare the idmapped trees of `cfg`'s mounts: (mount index, detached mount fd).
/// `userns_of` is a pid in the container's user namespace (None: the container has none).
pub fn prepare(cfg: &Config<'_>, bundle: &str, userns_of: Option<i32>) -> Result<Vec<(i32, OwnedFd)>> {
    let mut out = Vec::new();
    for (i, m) in cfg.items(cfg.spec.mounts).iter().enumerate() {
        if !wanted(cfg, m) {
            continue;
        }
        let dest = m.destination.0;
        let opts: Vec<&str> = cfg.strs(m.options).iter().map(|s| s.0).collect();
        let is_bind = m.kind.is_some_and(|k| k.0 == "bind") || opts.iter().any(|o| *o == "bind" || *o == "rbind");
        if !is_bind {
            return Err(crate::spec::validate::at(
                format_args!("mounts[{i}]"),
                format_args!("{dest}: idmapped mounts must be bind mounts"),
            ));
        }
        let src = m.source.map(|s| s.0).unwrap_or("");
        let src_abs;
        let src = if src.starts_with('/') {
            src
        } else {
            src_abs = format!("{bundle}/{src}");
            &src_abs
        };
        let userns = if !m.uid_mappings.is_empty() || !m.gid_mappings.is_empty() {
            if m.uid_mappings.is_empty() || m.gid_mappings.is_empty() {
                return Err(crate::spec::validate::at(
                    format_args!("mounts[{i}].uidMappings"),
                    format_args!("an idmapped mount needs both uidMappings and gidMappings"),
                ));
            }
            userns_with(cfg.items(m.uid_mappings), cfg.items(m.gid_mappings))?
        } else if let Some(pid) = userns_of {
            fs::open(&format!("/proc/{pid}/ns/user"), libc::O_RDONLY, 0).step("open the container's user namespace")?
        } else {
            return Err(crate::spec::validate::at(
                format_args!("mounts[{i}]"),
                format_args!("{dest}: the idmap option needs a user namespace or the mount's uidMappings/gidMappings"),
            ));
        };
        let rec_tree = if opts.contains(&"rbind") { sys::AT_RECURSIVE } else { 0 };
        let tree = sys::open_tree(src, sys::OPEN_TREE_CLONE | rec_tree).map_err(|e| {
            let why = if e == libc::ENOSYS {
                " (the new mount API needs Linux 5.2)"
            } else {
                ""
            };
            Error::sys("open_tree", e).ctx(format_args!("{src}{why} (mounts[{i}])"))
        })?;
        let rec_attr = if opts.contains(&"ridmap") { sys::AT_RECURSIVE } else { 0 };
        sys::mount_setattr_idmap(tree.as_raw_fd(), rec_attr, sys::MOUNT_ATTR_IDMAP, userns.as_raw_fd()).map_err(
            |e| {
                let why = match e {
                    libc::ENOSYS => " (idmapped mounts need Linux 5.12)",
                    libc::EINVAL => " (this filesystem does not support idmapped mounts)",
                    _ => "",
                };
                Error::sys("idmap mount", e).ctx(format_args!("{src} for {dest}{why} (mounts[{i}])"))
            },
        )?;
        out.push((i as i32, tree));
    }
    Ok(out)
}
