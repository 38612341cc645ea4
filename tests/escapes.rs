//! Known container escapes: each test tries one the way its exploit does, and must fail.
//! The README's "Known escapes" section says what defends against each.

mod common;

use common::{assert_no_leftovers, qemu_user_skip, require_root, Env};
use serde_json::json;

macro_rules! root_only {
    () => {
        if !require_root() {
            return;
        }
    };
}

fn sha(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// CVE-2019-5736: a handle to mote's binary taken through /proc/PID/exe of a container's
/// init (what a process in the container can reach, e.g. with `#!/proc/self/exe`) must not
/// become writable, not even after mote has exited (the exploit reopens an O_PATH handle).
#[test]
fn cve_2019_5736_binary_is_not_writable_through_proc_exe() {
    root_only!();
    if qemu_user_skip("/proc/PID/exe is the emulator's binary there") {
        return;
    }
    let env = Env::new("cve5736");
    let b = env.bundle("cve5736", |c| c["process"]["args"] = json!(["sleep", "100"]));
    let before = sha(common::mote());
    assert!(env
        .mote(&["create", "--bundle", b.to_str().unwrap(), "cve5736"])
        .status
        .success());
    let pid = env.state("cve5736")["pid"].as_i64().unwrap() as i32;
    env.will_reap(pid);
    // The init still runs mote: take an O_PATH handle to its executable.
    let exe = format!("/proc/{pid}/exe");
    let path = std::ffi::CString::new(exe.clone()).unwrap();
    // SAFETY: open(2) with a NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    assert!(fd >= 0, "open O_PATH {exe}: {}", std::io::Error::last_os_error());
    // Writing now fails...
    let w = std::fs::OpenOptions::new().write(true).open(&exe);
    assert!(w.is_err(), "{exe} opened for writing while mote runs");
    // ...and after the container is gone, reopening the handle for writing fails too.
    assert!(env.mote(&["delete", "-f", "cve5736"]).status.success());
    let reopen = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{fd}"));
    let err = reopen.expect_err("the O_PATH handle reopened for writing");
    assert!(
        matches!(
            err.raw_os_error(),
            Some(libc::EROFS) | Some(libc::EPERM) | Some(libc::ETXTBSY)
        ),
        "unexpected error {err}"
    );
    // SAFETY: closing the fd opened above.
    unsafe { libc::close(fd) };
    assert_eq!(sha(common::mote()), before, "mote's binary changed");
    assert_no_leftovers(&env, "cve5736", &b);
}

/// The same attack from inside: the container's program is a script whose interpreter is
/// /proc/self/exe, so the kernel runs mote's binary as the container's PID 1.
#[test]
fn cve_2019_5736_script_interpreter_proc_self_exe() {
    root_only!();
    if qemu_user_skip("/proc/PID/exe is the emulator's binary there") {
        return;
    }
    let env = Env::new("cve5736b");
    let b = env.bundle("cve5736b", |c| {
        c["process"]["args"] = json!(["/evil"]);
        c["root"]["readonly"] = json!(false);
    });
    std::fs::write(b.join("rootfs/evil"), "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(
        b.join("rootfs/evil"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let before = sha(common::mote());
    // PID 1 is mote's binary now (it prints a usage error and exits): that is the window the
    // exploit uses. Its executable must be read-only (or a sealed copy).
    let out = env.mote(&["create", "--bundle", b.to_str().unwrap(), "cve5736b"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pid = env.state("cve5736b")["pid"].as_i64().unwrap() as i32;
    env.will_reap(pid);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let ro = {
        let p = std::ffi::CString::new(format!("/proc/{pid}/exe")).unwrap();
        // SAFETY: a zeroed statvfs is a valid out buffer; the path is NUL-terminated.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let r = unsafe { libc::statvfs(p.as_ptr(), &mut st) };
        r == 0 && st.f_flag & libc::ST_RDONLY != 0
    };
    assert!(
        ro || exe.to_string_lossy().starts_with("/memfd:mote"),
        "the init runs a writable mote binary: {exe:?}"
    );
    assert!(env.mote(&["start", "cve5736b"]).status.success());
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(env.mote(&["delete", "-f", "cve5736b"]).status.success());
    assert_eq!(sha(common::mote()), before);
    assert_no_leftovers(&env, "cve5736b", &b);
}

/// CVE-2024-21626: a cwd of /proc/self/fd/N must not reach a directory of the host through
/// an fd the runtime leaked into the container's init.
#[test]
fn cve_2024_21626_cwd_through_leaked_fds() {
    root_only!();
    let env = Env::new("cve21626");
    for n in 3..=12 {
        let id = format!("cwd{n}");
        let b = env.bundle(&id, |c| {
            c["process"]["args"] = json!(["sh", "-c", "pwd; ls .. | head -20; ls /proc/self/fd"]);
            c["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        });
        let (code, out, err) = env.run(&b, &id);
        if code == 0 {
            assert!(
                !out.contains("state") && !out.contains("mote-it") && !out.contains("work"),
                "fd {n} leaked a host directory: {out}"
            );
        } else {
            assert!(err.contains("cwd") || err.contains("chdir"), "fd {n}: {err}");
        }
        assert_no_leftovers(&env, &id, &b);
    }
}

/// CVE-2021-30465: a mount destination swapped for a symlink to / while mote creates the
/// container must not put the mount on the host.
#[test]
fn cve_2021_30465_mount_destination_swap_race() {
    root_only!();
    let env = Env::new("cve30465");
    let shared = env.dir.join("shared");
    std::fs::create_dir_all(shared.join("m")).unwrap();
    let marker = format!("mote-race-{}", std::process::id());
    // The attacker: swaps shared/m between a directory and a symlink to / as fast as it can.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let sh = shared.clone();
    let swapper = std::thread::spawn(move || {
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = std::fs::remove_dir(sh.join("m"));
            let _ = std::os::unix::fs::symlink("/", sh.join("m"));
            let _ = std::fs::remove_file(sh.join("m"));
            let _ = std::fs::create_dir(sh.join("m"));
        }
    });
    for i in 0..25 {
        let id = format!("race{i}");
        let b = env.bundle(&id, |c| {
            c["process"]["args"] = json!(["true"]);
            let m = c["mounts"].as_array_mut().unwrap();
            m.push(json!({"destination": "/data", "type": "bind", "source": shared, "options": ["rbind"]}));
            m.push(json!({"destination": format!("/data/m/{marker}"), "type": "tmpfs", "source": "tmpfs"}));
        });
        let _ = env.run(&b, &id);
        assert!(
            !std::path::Path::new(&format!("/{marker}")).exists(),
            "a mount point was made on the host's /"
        );
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mi.contains(&marker), "a mount reached the host: {mi}");
        assert_no_leftovers(&env, &id, &b);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    swapper.join().unwrap();
    let _ = std::fs::remove_dir_all(format!("/{marker}"));
}

/// CVE-2025-31133 / CVE-2025-52565: the image's /dev/null replaced by a symlink to a /proc
/// file must not turn masking into a bind of that file, nor stay a symlink.
#[test]
fn cve_2025_31133_dev_null_replaced_by_a_symlink() {
    root_only!();
    let env = Env::new("cve31133");
    let b = env.bundle("cve31133", |c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "wc -c < /proc/keys; stat -c '%F %t:%T' /dev/null; echo x > /dev/null && echo null-ok"
        ]);
        // No /dev tmpfs: the image's own /dev is used.
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/dev" && !m["destination"].as_str().unwrap().starts_with("/dev/"));
        c["linux"]["resources"] = json!({});
    });
    std::fs::create_dir_all(b.join("rootfs/dev")).unwrap();
    std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", b.join("rootfs/dev/null")).unwrap();
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let (code, out, err) = env.run(&b, "cve31133");
    assert_eq!(code, 0, "{err}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(
        l[0].trim(),
        "0",
        "/proc/keys must be masked with the real null device: {out}"
    );
    assert_eq!(l[1], "character special file 1:3", "{out}");
    assert!(out.contains("null-ok"));
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        pattern
    );
    assert_no_leftovers(&env, "cve31133", &b);
}

/// CVE-2025-52881: writes meant for procfs (sysctl, oom_score_adj) go only through handles
/// that are on procfs.
#[test]
fn cve_2025_52881_proc_writes_need_procfs() {
    root_only!();
    let dir = std::env::temp_dir().join(format!("mote-52881-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("oom_score_adj");
    std::fs::write(&f, "0").unwrap();
    let e = mote::sys::fs::write_proc(f.to_str().unwrap(), b"500").unwrap_err();
    assert!(e.to_string().contains("not on procfs"), "{e}");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "0");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(mote::sys::fs::write_proc("/proc/self/oom_score_adj", b"0").is_ok());
}

/// A container process cannot see or signal host processes, load kernel modules, or make a
/// read-only root writable again.
#[test]
fn no_host_processes_modules_or_remount() {
    root_only!();
    let env = Env::new("confine");
    let host_pid = std::process::id();
    let out = env.sh(
        "confine",
        &format!(
            "kill -0 {host_pid} 2>&1; echo kill=$?; ls /proc | grep -c '^[0-9]'; insmod /bin/busybox 2>&1; echo insmod=$?; \
             mount -o remount,rw / 2>&1; echo remount=$?; touch /x 2>&1; echo touch=$?"
        ),
        |_| {},
    );
    assert!(out.contains("kill=1"), "{out}");
    // EPERM (no CAP_SYS_MODULE), or ENOSYS on kernels without module support.
    assert!(out.contains("insmod=") && !out.contains("insmod=0\n"), "{out}");
    assert!(out.contains("remount=") && !out.contains("remount=0"), "{out}");
    assert!(out.contains("touch=1"), "{out}");
}

/// A rootfs whose /dev is a symlink (relative, or absolute to a host path): the /dev mount
/// and the device nodes go where the link leads inside the rootfs, never outside it.
#[test]
fn dev_symlink_stays_inside_the_rootfs() {
    root_only!();
    let env = Env::new("devlink");
    let outside = env.dir.join("outside-dev");
    std::fs::create_dir_all(&outside).unwrap();
    for (id, target) in [
        ("devrel", "tmp/devdir".to_string()),
        ("devabs", outside.display().to_string()),
    ] {
        let b = env.bundle(id, |c| {
            c["process"]["args"] = json!([
                "sh",
                "-c",
                "echo x > /dev/null && echo null-ok; stat -L -c '%F %t:%T' /dev/zero; readlink /dev"
            ]);
        });
        let dev = b.join("rootfs/dev");
        let _ = std::fs::remove_dir_all(&dev);
        let _ = std::fs::remove_file(&dev);
        std::fs::create_dir_all(b.join("rootfs/tmp/devdir")).unwrap();
        std::os::unix::fs::symlink(&target, &dev).unwrap();
        let (code, out, err) = env.run(&b, id);
        assert_eq!(code, 0, "{id}: {err}");
        assert!(
            out.contains("null-ok") && out.contains("character special file 1:5"),
            "{id}: {out}"
        );
        let left: Vec<_> = std::fs::read_dir(&outside)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{id}: made outside the rootfs: {left:?}");
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounts.contains(outside.to_str().unwrap()),
            "{id}: a mount outside the rootfs"
        );
        assert_no_leftovers(&env, id, &b);
    }
}
