//! The command line: the argv forms podman (through conmon) and containerd send
//! (../shared/anchors.md, tests/fixtures/configs/argv.md), output formats as runc prints them,
//! `spec`, `features`, `--version`, and the commands that are not implemented yet.

mod common;

use common::{assert_no_leftovers, mote, require_root, Env};
use serde_json::{json, Value};
use std::process::Command;

macro_rules! root_only {
    () => {
        if !require_root() {
            return;
        }
    };
}

fn mote_plain(args: &[&str]) -> std::process::Output {
    Command::new(mote()).args(args).output().unwrap()
}

#[test]
fn version() {
    let out = mote_plain(&["--version"]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.starts_with("mote version "), "{s}");
    assert!(s.contains("\ncommit: ") && s.contains("\nspec: 1.2.0"), "{s}");
    assert!(
        s.contains("\nfeatures: ") && s.contains(" supervise ") && s.contains(" deploy "),
        "{s}"
    );
    assert!(mote_plain(&["-v"]).status.success());
}

/// Every flag runc's --help lists for a verb is in mote's --help of that verb (runc is the
/// reference the clients were written against; checkpoint and restore are refused, exit 4).
#[test]
fn every_runc_flag_is_in_motes_help() {
    let Ok(v) = Command::new("runc").arg("--version").output() else {
        println!("SKIP: runc is not installed (scripts/install-deps.sh installs it)");
        return;
    };
    assert!(v.status.success());
    let flags = |out: &[u8]| -> std::collections::BTreeSet<String> {
        String::from_utf8_lossy(out)
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w.len() > 2 && w.as_bytes()[2].is_ascii_lowercase())
            .map(str::to_string)
            .collect()
    };
    let verbs = [
        "create", "delete", "events", "exec", "kill", "list", "pause", "ps", "resume", "run", "spec", "start", "state",
        "update", "features",
    ];
    for verb in verbs {
        let r = Command::new("runc").args([verb, "--help"]).output().unwrap();
        let m = mote_plain(&[verb, "--help"]);
        assert!(m.status.success(), "mote {verb} --help: {m:?}");
        let (theirs, ours) = (flags(&r.stdout), flags(&m.stdout));
        // runc names the global --root in list's help.
        let missing: Vec<_> = theirs.difference(&ours).filter(|f| *f != "--root").collect();
        assert!(missing.is_empty(), "mote {verb} --help lacks runc's {missing:?}");
    }
}

#[test]
fn completion_scripts() {
    for (shell, has) in [
        ("bash", "complete -F _mote mote"),
        ("zsh", "#compdef mote"),
        ("fish", "complete -c mote"),
    ] {
        let out = mote_plain(&["completion", shell]);
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && s.contains(has), "{shell}: {s}");
    }
    let out = mote_plain(&["completion", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bash, zsh, fish"));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["--bogus"][..],
        &["create"],
        &["frobnicate"],
        &["list", "--format", "xml"],
        &["kill", "x", "NOTASIG"],
        &[],
    ] {
        let out = mote_plain(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.starts_with("mote: "), "{args:?}: {e}");
        // The verb is said once: "mote: list: --format ...", not "mote: list: list --format".
        if let Some(v) = args.first().filter(|v| !v.starts_with('-')) {
            assert!(!e.contains(&format!("{v}: {v}")), "{args:?}: {e}");
        }
    }
    let out = mote_plain(&["list", "--format", "xml"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(e.trim_end(), r#"mote: list: --format "xml": use table or json"#);
    let out = mote_plain(&["--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("create"));
}

#[test]
fn not_implemented_commands_exit_4_and_say_so() {
    for args in [&["checkpoint", "x"][..], &["restore", "x"]] {
        let out = mote_plain(args);
        assert_eq!(out.status.code(), Some(4), "{args:?}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(
            e.contains("not implemented") || e.contains("does not checkpoint"),
            "{args:?}: {e}"
        );
    }
}

#[test]
fn check_reports_the_kernel() {
    let out = mote_plain(&["check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("mount namespace") && text.contains("cgroups"), "{text}");
    let out = mote_plain(&["check", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = v.as_array().unwrap();
    let get = |f: &str| {
        items
            .iter()
            .find(|i| i["feature"] == f)
            .unwrap_or_else(|| panic!("no {f}"))
            .clone()
    };
    assert_eq!(get("mount namespace")["status"], "ok");
    assert_eq!(get("mount namespace")["required"], true);
    assert_eq!(get("cgroups")["status"], "ok");
    // The exit code says whether a required feature is missing.
    let missing = items.iter().any(|i| i["required"] == true && i["status"] == "missing");
    assert_eq!(out.status.code(), Some(if missing { 1 } else { 0 }));
    // What this host is (platform.md): hybrid cgroups, no watchdog device.
    if std::path::Path::new("/sys/fs/cgroup/unified/cgroup.controllers").exists() {
        assert!(get("cgroups")["detail"].as_str().unwrap().starts_with("hybrid"));
    }
    assert!(mote_plain(&["check", "--format", "yaml"]).status.code() == Some(2));
}

#[test]
fn spec_writes_a_config_mote_accepts_and_refuses_to_overwrite() {
    let dir = std::env::temp_dir().join(format!("mote-cli-spec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = mote_plain(&["spec", "--bundle", dir.to_str().unwrap()]);
    assert!(out.status.success());
    let cfg: Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["ociVersion"], "1.2.0");
    assert_eq!(cfg["root"]["path"], "rootfs");
    assert!(cfg["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "mount"));
    // The same parser that create uses accepts it.
    let bytes = std::fs::read(dir.join("config.json")).unwrap();
    let mut arena = vec![0u8; bytes.len()];
    let c = mote::spec::parse_config(&bytes, &mut arena).unwrap();
    mote::spec::validate::validate(&c, &mut |w| panic!("warning {w}")).unwrap();
    let again = mote_plain(&["spec", "--bundle", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    std::fs::remove_file(dir.join("config.json")).unwrap();
    assert!(mote_plain(&["spec", "--rootless", "--bundle", dir.to_str().unwrap()])
        .status
        .success());
    let cfg: Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert!(cfg["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "user"));
    assert!(!cfg["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "network"));
    assert_eq!(cfg["linux"]["uidMappings"][0]["size"], 1);
    assert!(cfg["linux"].get("resources").is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn features_are_truthful() {
    let out = mote_plain(&["features"]);
    assert!(out.status.success());
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert_eq!(f["ociVersionMax"], "1.2.0");
    // Every mount option listed is one the mount code understands.
    for o in f["mountOptions"].as_array().unwrap() {
        let o = o.as_str().unwrap();
        let p = mote::rootfs::options::parse([o]).unwrap();
        assert!(
            p.data.is_empty(),
            "{o} is listed as a mount option but would be passed as filesystem data"
        );
    }
    assert_eq!(f["linux"]["capabilities"].as_array().unwrap().len(), 41);
    // What is not implemented is not claimed.
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    assert_eq!(f["linux"]["seccomp"]["actions"].as_array().unwrap().len(), 9);
    assert_eq!(f["linux"]["seccomp"]["operators"].as_array().unwrap().len(), 7);
    assert_eq!(f["linux"]["apparmor"]["enabled"], true);
    assert_eq!(f["linux"]["selinux"]["enabled"], true);
    assert_eq!(f["linux"]["mountExtensions"]["idmap"]["enabled"], true);
    assert!(f["linux"]["namespaces"].as_array().unwrap().contains(&json!("user")));
    assert_eq!(
        f["hooks"],
        json!([
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ])
    );
    // The same keys as runc's document.
    let runc: Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/configs/runc-features.json"
        ))
        .unwrap(),
    )
    .unwrap();
    for k in runc.as_object().unwrap().keys() {
        assert!(f.get(k).is_some(), "features lacks {k}");
    }
}

/// The argv podman 4.3 sends through conmon (anchors.md), on a real bundle.
#[test]
fn podman_conmon_argv() {
    root_only!();
    let env = Env::new("podman-argv");
    let b = env.bundle("podman", |c| c["process"]["args"] = json!(["sleep", "100"]));
    let (bs, ud) = (b.to_str().unwrap(), env.dir.to_str().unwrap());
    let (log, pidf) = (format!("{ud}/oci-log"), format!("{ud}/pidfile"));
    let out = env.mote(&[
        "--log-format=json",
        "--log",
        &log,
        "create",
        "--bundle",
        bs,
        "--pid-file",
        &pidf,
        "podman",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pid: i32 = std::fs::read_to_string(&pidf).unwrap().parse().unwrap();
    env.will_reap(pid);
    assert!(env.mote(&["start", "podman"]).status.success());
    assert!(env.mote(&["pause", "podman"]).status.success());
    assert!(env.mote(&["resume", "podman"]).status.success());
    assert!(env.mote(&["kill", "podman", "15"]).status.success());
    assert!(env.mote(&["kill", "podman", "9"]).status.success());
    assert!(env.mote(&["delete", "--force", "podman"]).status.success());
    // podman may send delete --force twice.
    assert!(env.mote(&["delete", "--force", "podman"]).status.success());
    assert_no_leftovers(&env, "podman", &b);
}

/// The argv containerd 1.6's runc shim (go-runc) sends, with `--flag=value` forms.
#[test]
fn containerd_shim_argv() {
    root_only!();
    let env = Env::new("ctrd-argv");
    let b = env.bundle("ctrd", |c| c["process"]["args"] = json!(["sleep", "100"]));
    let root = env.dir.join("runc-ns");
    let (bs, rs) = (b.to_str().unwrap(), root.to_str().unwrap());
    let (log, pidf) = (format!("{bs}/log.json"), format!("{bs}/init.pid"));
    let rt = |args: &[&str]| {
        let mut full = vec!["--root", rs];
        full.extend_from_slice(args);
        Command::new(mote())
            .args(&full)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .output()
            .unwrap()
    };
    // create keeps the caller's stdio open in the container: don't pipe it.
    let st = Command::new(mote())
        .args([
            "--root",
            rs,
            "--log",
            &log,
            "--log-format",
            "json",
            "create",
            "--bundle",
            bs,
            "--pid-file",
            &pidf,
            "ctrd",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let pid: i32 = std::fs::read_to_string(&pidf).unwrap().parse().unwrap();
    env.will_reap(pid);
    assert!(rt(&["start", "ctrd"]).status.success());
    let ps = rt(&["ps", "--format", "json", "ctrd"]);
    assert!(ps.status.success());
    let pids: Vec<i32> = serde_json::from_slice(&ps.stdout).unwrap();
    assert_eq!(pids, [pid]);
    let list = rt(&["list", "--format=json"]);
    let l: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(l[0]["id"], "ctrd");
    assert_eq!(l[0]["status"], "running");
    assert_eq!(l[0]["pid"], pid);
    let state = rt(&["state", "ctrd"]);
    let s: Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(s["status"], "running");
    assert!(rt(&["kill", "--all", "ctrd", "9"]).status.success());
    for _ in 0..200 {
        let s: Value = serde_json::from_slice(&rt(&["state", "ctrd"]).stdout).unwrap();
        if s["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(rt(&["delete", "ctrd"]).status.success());
    assert!(!root.join("ctrd").exists());
    assert_no_leftovers(&env, "ctrd", &b);
}

#[test]
fn options_after_the_id_and_go_style_flags() {
    root_only!();
    let env = Env::new("argforms");
    let b = env.bundle("argforms", |c| c["process"]["args"] = json!(["true"]));
    let bs = b.to_str().unwrap();
    let out = env.mote(&["-log-format=text", "run", "argforms", "--bundle", bs, "-no-subreaper"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = env.mote(&["run", "--detach=false", "--keep=false", "-b", bs, "argforms"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_no_leftovers(&env, "argforms", &b);
}

#[test]
fn state_and_list_match_runcs_output() {
    root_only!();
    let env = Env::new("fmt");
    let b = env.bundle("fmt", |c| {
        c["process"]["args"] = json!(["sleep", "100"]);
        c["annotations"] = json!({"org.example.b": "2", "org.example.a": "1\"quoted\""});
    });
    assert!(env
        .mote(&["run", "-d", "--bundle", b.to_str().unwrap(), "fmt"])
        .status
        .success());
    env.will_reap(env.state("fmt")["pid"].as_i64().unwrap() as i32);
    let out = env.mote(&["state", "fmt"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let runc_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/configs/runc-state.json"
    ))
    .unwrap();
    // The same keys in the same order, two-space indentation, no trailing newline.
    let keys = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("  \""))
            .map(|l| l.trim().split('"').nth(1).unwrap().to_string())
            .collect()
    };
    assert_eq!(keys(&text), keys(&runc_text), "{text}");
    assert!(!text.ends_with('\n'));
    let s: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(s["annotations"]["org.example.a"], "1\"quoted\"");
    assert_eq!(s["rootfs"], b.join("rootfs").to_str().unwrap());
    assert!(s["created"].as_str().unwrap().ends_with('Z'));
    // list: runc's tabwriter columns.
    let out = env.mote(&["list"]);
    let t = String::from_utf8_lossy(&out.stdout);
    let head = t.lines().next().unwrap();
    assert!(head.starts_with("ID          PID         STATUS      BUNDLE"), "{t}");
    assert!(t.lines().nth(1).unwrap().starts_with("fmt         "), "{t}");
    assert!(t.contains(" running "), "{t}");
    let q = env.mote(&["list", "-q"]);
    assert_eq!(String::from_utf8_lossy(&q.stdout), "fmt\n");
    assert!(env.mote(&["delete", "-f", "fmt"]).status.success());
    assert_no_leftovers(&env, "fmt", &b);
    let out = env.mote(&["list", "--format", "json"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "null",
        "runc prints null for no containers"
    );
}

#[test]
fn state_of_unknown_container_says_does_not_exist() {
    root_only!();
    let env = Env::new("unknown");
    for cmd in ["state", "start", "kill", "delete", "pause", "ps"] {
        let out = env.mote(&[cmd, "nope"]);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("does not exist"),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A reader that has gone (`mote features | head -1`): mote ends with 141, as a tool SIGPIPE
/// ended, and does not panic (std's print! would).
#[test]
fn closed_stdout_is_not_a_panic() {
    use std::os::fd::{FromRawFd, OwnedFd};
    for args in [&["features"][..], &["--version"], &["check"]] {
        let mut fds = [0; 2];
        // SAFETY: pipe(2) with a valid array of two ints.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both fds were just created and are owned here only.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(r);
        let out = Command::new(mote())
            .args(args)
            .stdout(std::process::Stdio::from(w))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(141), "{args:?}: {err}");
    }
}
