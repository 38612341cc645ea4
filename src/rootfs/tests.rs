//! The rootfs setup against a recording fake of the kernel (`sys::kernel::recorder`): the
//! order and arguments of every mount, device node and pivot_root for a config, without root.
//! Paths are opened and mountpoints made for real, in a temporary directory.

use crate::prelude::*;

use super::{setup, RootfsPlan};
use crate::spec::ConfigDoc;
use crate::sys::kernel::recorder::Recorder;

fn doc(json: &str) -> ConfigDoc {
    let buf = json.as_bytes().to_vec();
    let n = buf.len();
    ConfigDoc::parse(buf, n, |i, a| crate::spec::parse_config(i, a)).unwrap()
}

/// `mote spec`'s config, changed by `f`.
fn spec(f: impl FnOnce(&mut serde_json::Value)) -> ConfigDoc {
    let mut v: serde_json::Value = serde_json::from_str(crate::cli::spec_cmd::DEFAULT_SPEC).unwrap();
    f(&mut v);
    doc(&v.to_string())
}

/// A rootfs with a few of the files masking and read-only paths apply to.
fn rootfs(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("mote-rootfs-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["proc/sys", "dev", "sys", "tmp", "etc"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("proc/kcore"), "").unwrap();
    dir.to_str().unwrap().to_string()
}

fn run(doc: &ConfigDoc, root: &str, no_pivot: bool, rec: &Recorder) -> crate::error::Result<()> {
    // A cgroup v2 container, for the `cgroup` mount.
    let cg = crate::cgroup::Cgroup {
        mode: crate::cgroup::Mode::V2,
        path: "/mote/test".to_string(),
        dirs: vec!["/sys/fs/cgroup/mote/test".to_string()],
    };
    let plan = RootfsPlan {
        rootfs: root,
        bundle: root,
        no_pivot,
        userns: false,
        cgroupns: false,
        cgroup: Some(&cg),
        idmapped: &[],
        binds: &[],
        hooks: None,
    };
    setup(rec, doc.config(), &plan)
}

/// The default config: propagation first, the rootfs bound onto itself, the mounts in the
/// config's order, the devices, masked and read-only paths, the read-only root, then
/// pivot_root and the old root detached.
#[test]
fn default_config_mounts_in_order() {
    let root = rootfs("default");
    let rec = Recorder::new(&root);
    run(&spec(|_| {}), &root, false, &rec).unwrap();
    assert_eq!(
        rec.lines(),
        [
            "mount - on / type - REC|SLAVE",
            "mount <rootfs> on <rootfs> type - BIND|REC",
            "mount proc on /proc type proc 0",
            "mount tmpfs on /dev type tmpfs NOSUID|STRICTATIME mode=755,size=65536k",
            "mount devpts on /dev/pts type devpts NOSUID|NOEXEC newinstance,ptmxmode=0666,mode=0620,gid=5",
            "mount shm on /dev/shm type tmpfs NOSUID|NODEV|NOEXEC mode=1777,size=65536k",
            "mount mqueue on /dev/mqueue type mqueue NOSUID|NODEV|NOEXEC",
            "mount sysfs on /sys type sysfs RDONLY|NOSUID|NODEV|NOEXEC",
            "mount /sys/fs/cgroup/mote/test on /sys/fs/cgroup type - BIND|REC",
            "mount - on /sys/fs/cgroup type - RDONLY|NOSUID|NODEV|NOEXEC|REMOUNT|BIND|RELATIME",
            "mknod /dev/null 20666 1:3",
            "mknod /dev/zero 20666 1:5",
            "mknod /dev/full 20666 1:7",
            "mknod /dev/random 20666 1:8",
            "mknod /dev/urandom 20666 1:9",
            "mknod /dev/tty 20666 5:0",
            "mount /dev/null on /proc/kcore type - BIND",
            "mount /proc/sys on /proc/sys type - BIND|REC",
            "mount - on /proc/sys type - RDONLY|REMOUNT|BIND",
            "mount - on <rootfs> type - RDONLY|REMOUNT|BIND",
            "fchdir <rootfs>",
            "pivot_root . .",
            "mount - on . type - REC|SLAVE",
            "umount2 . 0x2",
            "chdir /",
        ]
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// The last lines of a run.
fn tail(rec: &Recorder, n: usize) -> Vec<String> {
    let l = rec.lines();
    l[l.len().saturating_sub(n)..].to_vec()
}

/// --no-pivot, and a root pivot_root refuses (an initramfs: EINVAL): MS_MOVE and chroot.
#[test]
fn no_pivot_and_initramfs_move_and_chroot() {
    let root = rootfs("nopivot");
    let rec = Recorder::new(&root);
    run(&spec(|_| {}), &root, true, &rec).unwrap();
    assert_eq!(
        tail(&rec, 4),
        ["fchdir <rootfs>", "mount . on / type - MOVE", "chroot .", "chdir /"]
    );

    let mut rec = Recorder::new(&root);
    rec.fail.push(("pivot_root".into(), libc::EINVAL));
    run(&spec(|_| {}), &root, false, &rec).unwrap();
    assert_eq!(
        tail(&rec, 5),
        [
            "fchdir <rootfs>",
            "pivot_root . . = EINVAL",
            "mount . on / type - MOVE",
            "chroot .",
            "chdir /"
        ]
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// Where mknod is refused (a user namespace), the host's device nodes are bound over empty
/// files instead.
#[test]
fn devices_are_bound_where_mknod_is_refused() {
    let root = rootfs("userns");
    let mut rec = Recorder::new(&root);
    rec.fail.push(("mknod".into(), libc::EPERM));
    run(&spec(|_| {}), &root, false, &rec).unwrap();
    let l = rec.lines();
    let i = l.iter().position(|x| x.starts_with("mknod /dev/null")).unwrap();
    assert_eq!(
        l[i..i + 6],
        [
            "mknod /dev/null 20666 1:3 = EPERM",
            "mount /dev/null on /dev/null type - BIND",
            "mount - on /dev/null type - NOSUID|NOEXEC|REMOUNT|BIND",
            "mknod /dev/zero 20666 1:5 = EPERM",
            "mount /dev/zero on /dev/zero type - BIND",
            "mount - on /dev/zero type - NOSUID|NOEXEC|REMOUNT|BIND",
        ]
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// A mount that fails stops the setup there, with an error naming the mount, the step and
/// the errno.
#[test]
fn a_failing_mount_stops_the_setup() {
    let root = rootfs("fail");
    let mut rec = Recorder::new(&root);
    rec.fail.push(("on /dev/shm".into(), libc::EACCES));
    let e = run(&spec(|_| {}), &root, false, &rec).unwrap_err();
    let text = format!("{e}");
    assert!(
        text.contains("mounts[3]") && text.contains("/dev/shm") && text.contains("EACCES"),
        "{text}"
    );
    assert!(rec.lines().last().unwrap().ends_with("= EACCES"), "{:#?}", rec.lines());
    let _ = std::fs::remove_dir_all(&root);
}

/// Shared root propagation: the rootfs's parent mount made private for pivot_root, and the
/// propagation applied again to the new root.
#[test]
fn shared_propagation() {
    let root = rootfs("shared");
    let rec = Recorder::new(&root);
    run(
        &spec(|v| v["linux"]["rootfsPropagation"] = "rshared".into()),
        &root,
        false,
        &rec,
    )
    .unwrap();
    let l = rec.lines();
    assert_eq!(l[0], "mount - on / type - REC|SHARED");
    assert!(
        l[1].starts_with("mount - on /") && l[1].ends_with("type - PRIVATE"),
        "{l:#?}"
    );
    assert_eq!(l.last().unwrap(), "mount - on / type - REC|SHARED");
    let _ = std::fs::remove_dir_all(&root);
}

/// A caller's extra bind mounts come after the config's.
#[test]
fn extra_binds_after_the_configs_mounts() {
    let root = rootfs("binds");
    let rec = Recorder::new(&root);
    let d = spec(|_| {});
    let cg = crate::cgroup::Cgroup {
        mode: crate::cgroup::Mode::V2,
        path: "/mote/test".to_string(),
        dirs: vec!["/sys/fs/cgroup/mote/test".to_string()],
    };
    let binds = [("/dev/null", "/run/notify.sock")];
    let plan = RootfsPlan {
        rootfs: &root,
        bundle: &root,
        no_pivot: false,
        userns: false,
        cgroupns: false,
        cgroup: Some(&cg),
        idmapped: &[],
        binds: &binds,
        hooks: None,
    };
    setup(&rec, d.config(), &plan).unwrap();
    let l = rec.lines();
    let i = l.iter().position(|x| x.contains("on /run/notify.sock")).unwrap();
    assert_eq!(l[i], "mount /dev/null on /run/notify.sock type - BIND");
    assert!(l[i - 1].contains("on /sys/fs/cgroup"), "{l:#?}");
    assert!(l[i + 1].starts_with("mknod /dev/null"), "{l:#?}");
    let _ = std::fs::remove_dir_all(&root);
}
