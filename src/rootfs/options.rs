//! config.json mount options to mount(2) flags, propagation, mount_setattr attributes, and
//! the remaining filesystem data string.

use libc::c_ulong;

// mount_setattr attribute bits (linux/mount.h).
pub const MOUNT_ATTR_RDONLY: u64 = 0x0000_0001;
pub const MOUNT_ATTR_NOSUID: u64 = 0x0000_0002;
pub const MOUNT_ATTR_NODEV: u64 = 0x0000_0004;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x0000_0008;
pub const MOUNT_ATTR__ATIME: u64 = 0x0000_0070;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0000_0000;
pub const MOUNT_ATTR_NOATIME: u64 = 0x0000_0010;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x0000_0020;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x0000_0080;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;
pub const MS_NOSYMFOLLOW: c_ulong = 256;

/// What a mount's options mean.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Flags for the mount(2) call.
    pub flags: c_ulong,
    /// Propagation changes, applied after the mount, in order.
    pub propagation: heapless::Vec<c_ulong, 4>,
    /// Recursive attributes (the `r*` options) to set and clear with mount_setattr.
    pub rec_set: u64,
    pub rec_clr: u64,
    /// `bind` or `rbind` was given.
    pub bind: bool,
    /// `idmap` / `ridmap` was given.
    pub idmap: bool,
    /// `tmpcopyup` was given.
    pub tmpcopyup: bool,
    /// Everything else, comma-joined, for the filesystem (`mode=755,size=65536k`).
    pub data: heapless::String<1024>,
}

enum Opt {
    Set(c_ulong),
    Clear(c_ulong),
    Prop(c_ulong),
    RecSet(u64),
    RecClr(u64),
    /// Set an atime mode recursively (clears the other atime bits).
    RecAtime(u64),
    Bind(bool),
    Idmap,
    TmpCopyUp,
    Ignore,
}

fn lookup(o: &str) -> Option<Opt> {
    use libc::*;
    Some(match o {
        "defaults" => Opt::Ignore,
        "ro" => Opt::Set(MS_RDONLY),
        "rw" => Opt::Clear(MS_RDONLY),
        "suid" => Opt::Clear(MS_NOSUID),
        "nosuid" => Opt::Set(MS_NOSUID),
        "dev" => Opt::Clear(MS_NODEV),
        "nodev" => Opt::Set(MS_NODEV),
        "exec" => Opt::Clear(MS_NOEXEC),
        "noexec" => Opt::Set(MS_NOEXEC),
        "sync" => Opt::Set(MS_SYNCHRONOUS),
        "async" => Opt::Clear(MS_SYNCHRONOUS),
        "dirsync" => Opt::Set(MS_DIRSYNC),
        "remount" => Opt::Set(MS_REMOUNT),
        "mand" => Opt::Set(MS_MANDLOCK),
        "nomand" => Opt::Clear(MS_MANDLOCK),
        "atime" => Opt::Clear(MS_NOATIME),
        "noatime" => Opt::Set(MS_NOATIME),
        "diratime" => Opt::Clear(MS_NODIRATIME),
        "nodiratime" => Opt::Set(MS_NODIRATIME),
        "relatime" => Opt::Set(MS_RELATIME),
        "norelatime" => Opt::Clear(MS_RELATIME),
        "strictatime" => Opt::Set(MS_STRICTATIME),
        "nostrictatime" => Opt::Clear(MS_STRICTATIME),
        "lazytime" => Opt::Set(MS_LAZYTIME),
        "nolazytime" => Opt::Clear(MS_LAZYTIME),
        "silent" => Opt::Set(MS_SILENT),
        "loud" => Opt::Clear(MS_SILENT),
        "nosymfollow" => Opt::Set(MS_NOSYMFOLLOW),
        "symfollow" => Opt::Clear(MS_NOSYMFOLLOW),
        "bind" => Opt::Bind(false),
        "rbind" => Opt::Bind(true),
        "private" => Opt::Prop(MS_PRIVATE),
        "rprivate" => Opt::Prop(MS_PRIVATE | MS_REC),
        "shared" => Opt::Prop(MS_SHARED),
        "rshared" => Opt::Prop(MS_SHARED | MS_REC),
        "slave" => Opt::Prop(MS_SLAVE),
        "rslave" => Opt::Prop(MS_SLAVE | MS_REC),
        "unbindable" => Opt::Prop(MS_UNBINDABLE),
        "runbindable" => Opt::Prop(MS_UNBINDABLE | MS_REC),
        "rro" => Opt::RecSet(MOUNT_ATTR_RDONLY),
        "rrw" => Opt::RecClr(MOUNT_ATTR_RDONLY),
        "rnosuid" => Opt::RecSet(MOUNT_ATTR_NOSUID),
        "rsuid" => Opt::RecClr(MOUNT_ATTR_NOSUID),
        "rnodev" => Opt::RecSet(MOUNT_ATTR_NODEV),
        "rdev" => Opt::RecClr(MOUNT_ATTR_NODEV),
        "rnoexec" => Opt::RecSet(MOUNT_ATTR_NOEXEC),
        "rexec" => Opt::RecClr(MOUNT_ATTR_NOEXEC),
        "rnodiratime" => Opt::RecSet(MOUNT_ATTR_NODIRATIME),
        "rdiratime" => Opt::RecClr(MOUNT_ATTR_NODIRATIME),
        "rrelatime" => Opt::RecAtime(MOUNT_ATTR_RELATIME),
        "rnorelatime" => Opt::RecAtime(MOUNT_ATTR_STRICTATIME),
        "rnoatime" => Opt::RecAtime(MOUNT_ATTR_NOATIME),
        "ratime" => Opt::RecAtime(MOUNT_ATTR_RELATIME),
        "rstrictatime" => Opt::RecAtime(MOUNT_ATTR_STRICTATIME),
        "rnostrictatime" => Opt::RecAtime(MOUNT_ATTR_RELATIME),
        "rnosymfollow" => Opt::RecSet(MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => Opt::RecClr(MOUNT_ATTR_NOSYMFOLLOW),
        "idmap" | "ridmap" => Opt::Idmap,
        "tmpcopyup" => Opt::TmpCopyUp,
        _ => return None,
    })
}

/// Parse a mount's options. Errors name the option that does not fit.
pub fn parse<'o>(opts: impl IntoIterator<Item = &'o str>) -> Result<Parsed, &'o str> {
    let mut p = Parsed::default();
    for o in opts {
        match lookup(o) {
            Some(Opt::Set(f)) => p.flags |= f,
            Some(Opt::Clear(f)) => p.flags &= !f,
            Some(Opt::Prop(f)) => p.propagation.push(f).map_err(|_| o)?,
            Some(Opt::RecSet(a)) => {
                p.rec_set |= a;
                p.rec_clr &= !a;
            }
            Some(Opt::RecClr(a)) => {
                p.rec_clr |= a;
                p.rec_set &= !a;
            }
            Some(Opt::RecAtime(a)) => {
                p.rec_clr |= MOUNT_ATTR__ATIME;
                p.rec_set = (p.rec_set & !MOUNT_ATTR__ATIME) | a;
            }
            Some(Opt::Bind(rec)) => {
                p.bind = true;
                p.flags |= libc::MS_BIND;
                if rec {
                    p.flags |= libc::MS_REC;
                }
            }
            Some(Opt::Idmap) => p.idmap = true,
            Some(Opt::TmpCopyUp) => p.tmpcopyup = true,
            Some(Opt::Ignore) => {}
            None => {
                if !p.data.is_empty() {
                    p.data.push(',').map_err(|_| o)?;
                }
                p.data.push_str(o).map_err(|_| o)?;
            }
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_dev_mount() {
        let p = parse(["nosuid", "strictatime", "mode=755", "size=65536k"]).unwrap();
        assert_eq!(p.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(p.data.as_str(), "mode=755,size=65536k");
        assert!(!p.bind);
    }

    #[test]
    fn bind_ro_and_propagation() {
        let p = parse(["rbind", "ro", "rprivate", "nosuid", "nodev"]).unwrap();
        assert!(p.bind);
        assert_eq!(
            p.flags,
            libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV
        );
        assert_eq!(p.propagation.as_slice(), &[libc::MS_PRIVATE | libc::MS_REC]);
        assert!(p.data.is_empty());
    }

    #[test]
    fn later_options_win() {
        let p = parse(["ro", "rw", "noexec", "exec"]).unwrap();
        assert_eq!(p.flags, 0);
        let p = parse(["rro", "rrw", "rnoatime"]).unwrap();
        assert_eq!(p.rec_set, MOUNT_ATTR_NOATIME);
        assert_eq!(p.rec_clr, MOUNT_ATTR_RDONLY | MOUNT_ATTR__ATIME);
    }
}
