//! `mote deploy` against the host kernel, as root: real sources (bundles, tarballs made by tar,
//! gzip and zstd, OCI layouts written here, oci-archives and docker-archives made by podman),
//! a real supervisor running the revisions, real signatures made by OpenSSL, and SIGKILL at
//! every fault point of stage, activate, commit and rollback.

mod common;

use common::sv::Sv;
use mote::deploy::digest::Digest;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A test's world: a supervisor harness (its --root, workload directory, log), a store and a
/// keys directory of its own.
struct D {
    sv: Sv,
    store: PathBuf,
    keys: PathBuf,
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn sh(script: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn sh_ok(script: &str) -> Vec<u8> {
    let o = sh(script);
    assert!(o.status.success(), "{script}: {}", text(&o));
    o.stdout
}

impl D {
    fn new(name: &str) -> D {
        let sv = Sv::new(&format!("dep-{name}"));
        let store = sv.env.dir.join("store");
        let keys = sv.env.dir.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        D { sv, store, keys }
    }

    fn dir(&self) -> &Path {
        &self.sv.env.dir
    }

    /// `mote deploy VERB --store S ARGS...` (stage also gets --keys and --config-dir).
    fn deploy(&self, verb: &str, args: &[&str]) -> Output {
        self.deploy_env(verb, args, &[])
    }

    fn deploy_env(&self, verb: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut a: Vec<String> = vec![
            "--root".into(),
            self.sv.env.root.to_string_lossy().into(),
            "deploy".into(),
            verb.into(),
        ];
        if verb != "sign" {
            a.push("--store".into());
            a.push(self.store.to_string_lossy().into());
        }
        if verb == "stage" {
            a.extend(["--keys".into(), self.keys.to_string_lossy().into()]);
            a.extend(["--config-dir".into(), self.sv.wdir.to_string_lossy().into()]);
        }
        a.extend(args.iter().map(|s| s.to_string()));
        Command::new(common::mote())
            .args(&a)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn stage(&self, name: &str, src: &Path) -> Output {
        self.deploy("stage", &[name, src.to_str().unwrap()])
    }

    fn stage_ok(&self, name: &str, src: &Path) -> String {
        let o = self.deploy("stage", &["--format", "json", name, src.to_str().unwrap()]);
        assert!(o.status.success(), "stage {name} {}: {}", src.display(), text(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["revision"].as_str().unwrap().to_string()
    }

    fn status(&self, name: &str) -> Value {
        let o = self.deploy("status", &["--format", "json", name]);
        assert!(o.status.success(), "deploy status: {}", text(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v[0].clone()
    }

    fn fsck_ok(&self) -> Value {
        let o = self.deploy("fsck", &["--format", "json"]);
        assert!(o.status.success(), "fsck: {}", text(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    fn revision_dir(&self, name: &str, rev: &str) -> PathBuf {
        self.store.join("workloads").join(name).join("revisions").join(rev)
    }

    /// A workload file taking its revisions from the store.
    fn workload(&self, name: &str, fields: Value) {
        let mut w = json!({"name": name, "store": self.store, "stop": {"timeout": "500ms"}});
        for (k, v) in fields.as_object().unwrap() {
            w[k] = v.clone();
        }
        std::fs::write(self.sv.wdir.join(format!("{name}.json")), w.to_string()).unwrap();
    }

    /// A bundle running `sh -c script` (busybox and mote inside).
    fn bundle(&self, name: &str, script: &str) -> PathBuf {
        self.sv.bundle(name, script, |_| {})
    }

    /// What a supervisor runs of a workload: (revision, state, candidate) of each slot.
    fn slots(&self, name: &str) -> Vec<(String, String, bool)> {
        self.sv
            .try_status()
            .unwrap_or_default()
            .into_iter()
            .filter(|w| w["name"] == name)
            .map(|w| {
                (
                    w["revision"].as_str().unwrap_or("").to_string(),
                    w["state"].as_str().unwrap_or("").to_string(),
                    w["candidate"].as_bool().unwrap_or(false),
                )
            })
            .collect()
    }

    fn wait_status(&self, name: &str, what: &str, secs: u64, cond: impl Fn(&Value) -> bool) -> Value {
        let t = Instant::now();
        loop {
            let s = self.status(name);
            if cond(&s) {
                return s;
            }
            if t.elapsed() > Duration::from_secs(secs) {
                panic!(
                    "timed out after {secs} s waiting for {what}: {s}\nslots: {:?}\nlog:\n{}",
                    self.slots(name),
                    self.sv.log_text()
                );
            }
            common::reap_children();
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The only slot of `name` runs `rev` and is in state `state`.
    fn wait_running(&self, name: &str, rev: &str, state: &str, secs: u64) {
        self.sv.wait(&format!("{name} runs {rev} ({state})"), secs, |_| {
            let s = self.slots(name);
            s.len() == 1 && s[0].0 == rev && s[0].1 == state
        });
    }

    /// Nothing but finished revisions in the store: no staging leftovers, fsck clean.
    fn store_clean(&self) {
        let f = self.fsck_ok();
        assert_eq!(f["problems"], json!([]), "{f}");
        assert_eq!(f["leftovers"], 0, "{f}");
    }
}

// ---------------------------------------------------------------------------------------------
// Images written by hand: layers made by tar, gzip and zstd.

/// A layer: the tar of `dir` (numeric owners), compressed as `how` ("", "gzip", "zstd").
fn layer(dir: &Path, how: &str) -> (Vec<u8>, Digest, &'static str) {
    let tar = sh_ok(&format!(
        "tar --numeric-owner --sort=name --mtime=@0 -C {} -cf - .",
        dir.display()
    ));
    let diff = Digest::of(&tar);
    let (blob, mt) = match how {
        "gzip" => (pipe("gzip -n -c", &tar), "application/vnd.oci.image.layer.v1.tar+gzip"),
        "zstd" => (pipe("zstd -q -c", &tar), "application/vnd.oci.image.layer.v1.tar+zstd"),
        _ => (tar, "application/vnd.oci.image.layer.v1.tar"),
    };
    (blob, diff, mt)
}

fn pipe(cmd: &str, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut c = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut i = c.stdin.take().unwrap();
    let data = input.to_vec();
    let w = std::thread::spawn(move || {
        let _ = i.write_all(&data);
    });
    let o = c.wait_with_output().unwrap();
    w.join().unwrap();
    assert!(o.status.success(), "{cmd}");
    o.stdout
}

fn put_blob(layout: &Path, data: &[u8]) -> Digest {
    let d = Digest::of(data);
    let p = layout.join("blobs/sha256");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join(d.hex().to_string()), data).unwrap();
    d
}

/// An OCI image layout at `layout`: these layers (blob, diff_id, media type) and this config
/// (its rootfs filled in), listed by an index with a platform.
fn oci_layout(layout: &Path, layers: &[(Vec<u8>, Digest, &str)], mut config: Value) -> Digest {
    std::fs::create_dir_all(layout).unwrap();
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    config["rootfs"] =
        json!({"type": "layers", "diff_ids": layers.iter().map(|l| l.1.to_string()).collect::<Vec<_>>()});
    config["architecture"] = json!(arch());
    config["os"] = json!("linux");
    let cb = serde_json::to_vec(&config).unwrap();
    let cd = put_blob(layout, &cb);
    let mut descs = Vec::new();
    for (blob, _, mt) in layers {
        let d = put_blob(layout, blob);
        descs.push(json!({"mediaType": mt, "digest": d.to_string(), "size": blob.len()}));
    }
    let m = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": cb.len()},
        "layers": descs,
    }))
    .unwrap();
    let md = put_blob(layout, &m);
    // An index with another platform first, then ours: the choice is by platform.
    let idx = json!({
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md.to_string(), "size": m.len(),
             "platform": {"architecture": "s390x", "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md.to_string(), "size": m.len(),
             "platform": {"architecture": arch(), "os": "linux"}},
        ]
    });
    std::fs::write(layout.join("index.json"), idx.to_string()).unwrap();
    md
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        a => panic!("no OCI name for {a}"),
    }
}

/// A busybox root filesystem directory (with an `app` user in group `extra`).
fn rootfs_dir(at: &Path) -> PathBuf {
    let r = at.to_path_buf();
    for d in ["bin", "etc", "tmp", "data", "opq", "keep"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::copy(common::busybox(), r.join("bin/busybox")).unwrap();
    for a in common::APPLETS {
        let _ = std::os::unix::fs::symlink("busybox", r.join("bin").join(a));
    }
    std::fs::write(
        r.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/data:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(r.join("etc/group"), "root:x:0:\napp:x:1000:\nextra:x:2000:app\n").unwrap();
    std::fs::write(r.join("data/old.txt"), "old").unwrap();
    std::fs::write(r.join("opq/x.txt"), "x").unwrap();
    std::fs::write(r.join("keep/a.txt"), "a").unwrap();
    r
}

fn base_config(cmd: &str) -> Value {
    json!({"config": {
        "Entrypoint": ["sh", "-c"],
        "Cmd": [cmd],
        "Env": ["FOO=bar"],
        "WorkingDir": "/data",
        "User": "app",
        "Labels": {"org.example.version": "1.2"},
        "Volumes": {"/cache": {}},
    }})
}

/// A two-layer image: busybox etc. (gzip), then whiteouts, an opaque directory and a new file
/// (zstd).
fn two_layer_image(d: &D, name: &str, cmd: &str) -> PathBuf {
    let base = rootfs_dir(&d.dir().join(format!("{name}-l1")));
    let l2 = d.dir().join(format!("{name}-l2"));
    std::fs::create_dir_all(l2.join("data")).unwrap();
    std::fs::create_dir_all(l2.join("opq")).unwrap();
    std::fs::write(l2.join("data/.wh.old.txt"), "").unwrap();
    std::fs::write(l2.join("opq/.wh..wh..opq"), "").unwrap();
    std::fs::write(l2.join("opq/y.txt"), "y").unwrap();
    std::fs::write(l2.join("new.txt"), name).unwrap();
    let layout = d.dir().join(format!("{name}-oci"));
    oci_layout(&layout, &[layer(&base, "gzip"), layer(&l2, "zstd")], base_config(cmd));
    layout
}

// ---------------------------------------------------------------------------------------------

#[test]
fn stages_images_with_layers_whiteouts_and_a_config_made_from_the_image() {
    if !common::require_root() {
        return;
    }
    let d = D::new("image");
    let layout = two_layer_image(&d, "img", "echo hi; sleep 1000");
    let rev = d.stage_ok("web", &layout);
    let rd = d.revision_dir("web", &rev).join("bundle");
    let root = rd.join("rootfs");
    assert!(!root.join("data/old.txt").exists(), "the whiteout removed data/old.txt");
    assert!(!root.join("opq/x.txt").exists(), "the opaque directory hid opq/x.txt");
    assert_eq!(std::fs::read_to_string(root.join("opq/y.txt")).unwrap(), "y");
    assert_eq!(std::fs::read_to_string(root.join("new.txt")).unwrap(), "img");
    assert_eq!(std::fs::read_to_string(root.join("keep/a.txt")).unwrap(), "a");
    let cfg: Value = serde_json::from_slice(&std::fs::read(rd.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["process"]["args"], json!(["sh", "-c", "echo hi; sleep 1000"]));
    assert_eq!(cfg["process"]["cwd"], "/data");
    assert_eq!(cfg["process"]["user"]["uid"], 1000);
    assert_eq!(cfg["process"]["user"]["gid"], 1000);
    assert_eq!(cfg["process"]["user"]["additionalGids"], json!([2000]));
    let env = cfg["process"]["env"].as_array().unwrap();
    assert!(
        env.contains(&json!("FOO=bar")) && env.iter().any(|e| e.as_str().unwrap().starts_with("PATH=")),
        "{env:?}"
    );
    assert_eq!(cfg["annotations"]["org.example.version"], "1.2");
    assert_eq!(cfg["root"]["readonly"], true);
    assert!(
        cfg["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["destination"] == "/cache" && m["type"] == "tmpfs"),
        "the image's volume is a tmpfs"
    );
    assert!(
        !cfg["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "network"),
        "host network by default"
    );
    // The listing and fsck agree; staging it again changes nothing.
    d.store_clean();
    let o = d.stage(&"web".to_string(), &layout);
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("already"),
        "{}",
        text(&o)
    );
    // Unchanged files of another revision are the same objects (hard links).
    let layout2 = two_layer_image(&d, "img2", "echo v2; sleep 1000");
    let rev2 = d.stage_ok("web", &layout2);
    assert_ne!(rev, rev2);
    let a = std::fs::metadata(root.join("bin/busybox")).unwrap();
    let b = std::fs::metadata(d.revision_dir("web", &rev2).join("bundle/rootfs/bin/busybox")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(a.ino(), b.ino(), "busybox is stored once");
    d.store_clean();
}

#[test]
fn workload_overrides_and_user_lookup() {
    if !common::require_root() {
        return;
    }
    let d = D::new("overrides");
    let layout = two_layer_image(&d, "img", "sleep 1000");
    d.workload(
        "web",
        json!({"image": {"cmd": ["exec sleep 2000"], "user": "1000:2000", "workingDir": "/tmp",
                          "volumes": ["/srv/web:/srv", "tmpfs:/scratch"], "network": "none"}}),
    );
    let rev = d.stage_ok("web", &layout);
    let cfg: Value =
        serde_json::from_slice(&std::fs::read(d.revision_dir("web", &rev).join("bundle/config.json")).unwrap())
            .unwrap();
    assert_eq!(
        cfg["process"]["args"],
        json!(["sh", "-c", "exec sleep 2000"]),
        "the image's Entrypoint stays"
    );
    assert_eq!(
        (
            cfg["process"]["user"]["uid"].clone(),
            cfg["process"]["user"]["gid"].clone()
        ),
        (json!(1000), json!(2000))
    );
    assert_eq!(cfg["process"]["cwd"], "/tmp");
    let m = cfg["mounts"].as_array().unwrap();
    assert!(m
        .iter()
        .any(|m| m["destination"] == "/srv" && m["source"] == "/srv/web" && m["type"] == "bind"));
    assert!(m.iter().any(|m| m["destination"] == "/scratch" && m["type"] == "tmpfs"));
    assert!(cfg["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "network"));
    // A user the image does not have: a clear error naming the field and the fix.
    d.workload("bad", json!({"image": {"user": "nobody-here"}}));
    let o = d.stage("bad", &layout);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        e.contains("nobody-here") && e.contains("/etc/passwd") && e.contains("image.user"),
        "{e}"
    );
    d.store_clean();
}

/// Staging shows its progress on a terminal (stderr a pty, made by script(1)), and nothing of
/// it when stderr is a pipe, as under an OTA client or in a log.
#[test]
fn progress_on_a_terminal_only() {
    if !common::require_root() {
        return;
    }
    let d = D::new("progress");
    let b = rev_bundle(&d, "big", true);
    // 48 MB that do not compress: long enough to read that a progress line is due (every 250 ms).
    sh_ok(&format!("head -c 48000000 /dev/urandom > {}/rootfs/blob", b.display()));
    let tarball = d.dir().join("big.tar");
    sh_ok(&format!("tar -C {} -cf {} .", b.display(), tarball.display()));
    let cmd = format!(
        "{} --root {} deploy stage --store {} --keys {} --config-dir {} big {}",
        common::mote(),
        d.sv.env.root.display(),
        d.store.display(),
        d.keys.display(),
        d.sv.wdir.display(),
        tarball.display()
    );
    let o = sh(&format!("script -qec {cmd:?} /dev/null"));
    let tty = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{tty}");
    assert!(
        tty.contains("staging: ") && tty.contains(" MB read"),
        "no progress on a terminal: {tty:?}"
    );
    assert!(tty.contains("\x1b[K"), "the progress line is not cleared: {tty:?}");
    // Through pipes: none.
    let o = d.stage("big2", &tarball);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("staging: "),
        "progress into a pipe: {}",
        text(&o)
    );
}

#[test]
fn stages_bundles_and_tarballs() {
    if !common::require_root() {
        return;
    }
    let d = D::new("bundles");
    let b = d.bundle("b", "exec sleep 1000");
    let r1 = d.stage_ok("web", &b);
    // The same bundle as a tarball (one directory down), gzip and zstd: each its own revision
    // (a tarball is identified by its bytes), with the same files.
    let parent = b.parent().unwrap();
    sh_ok(&format!(
        "tar -C {} -czf {}/b.tar.gz b",
        parent.display(),
        d.dir().display()
    ));
    sh_ok(&format!(
        "tar -C {} -cf - b | zstd -q -o {}/b.tar.zst",
        parent.display(),
        d.dir().display()
    ));
    sh_ok(&format!("tar -C {} -cf {}/flat.tar .", b.display(), d.dir().display()));
    for (i, t) in ["b.tar.gz", "b.tar.zst", "flat.tar"].iter().enumerate() {
        let r = d.stage_ok(&format!("t{i}"), &d.dir().join(t));
        let cfg = d.revision_dir(&format!("t{i}"), &r).join("bundle/config.json");
        assert!(cfg.exists(), "{t}: no config.json in the revision");
    }
    assert!(d.revision_dir("web", &r1).join("bundle/rootfs/bin/busybox").exists());
    // A bundle whose root is writable is refused: revisions share their files.
    let w = d.sv.bundle("w", "true", |c| c["root"]["readonly"] = json!(false));
    let o = d.stage("w", &w);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("root.readonly"),
        "{}",
        text(&o)
    );
    d.store_clean();
}

/// podman's own archives: oci-archive and docker-archive of an imported busybox image.
#[test]
fn stages_podman_archives() {
    if !common::require_root() {
        return;
    }
    if common::qemu_user_skip("podman is an x86_64 program") {
        return;
    }
    if Command::new("podman").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "podman is missing in CI");
        eprintln!("SKIP: podman is not installed");
        return;
    }
    let d = D::new("podman");
    let root = rootfs_dir(&d.dir().join("pmroot"));
    let tar = d.dir().join("rootfs.tar");
    sh_ok(&format!("tar -C {} -cf {} .", root.display(), tar.display()));
    let pm = format!(
        "podman --root {0}/pm --runroot {0}/pmrun --tmpdir {0}/pmtmp --storage-driver vfs",
        d.dir().display()
    );
    sh_ok(&format!(
        "{pm} import --change 'CMD [\"sleep\", \"1000\"]' --change 'USER app' {} localhost/bb:1",
        tar.display()
    ));
    sh_ok(&format!(
        "{pm} save --format oci-archive -o {}/bb-oci.tar localhost/bb:1",
        d.dir().display()
    ));
    sh_ok(&format!(
        "{pm} save --format docker-archive -o {}/bb-docker.tar localhost/bb:1",
        d.dir().display()
    ));
    sh_ok(&format!("{pm} rmi -a -f"));
    for (name, f) in [("oci", "bb-oci.tar"), ("docker", "bb-docker.tar")] {
        let rev = d.stage_ok(name, &d.dir().join(f));
        let rd = d.revision_dir(name, &rev).join("bundle");
        let cfg: Value = serde_json::from_slice(&std::fs::read(rd.join("config.json")).unwrap()).unwrap();
        assert_eq!(cfg["process"]["args"], json!(["sleep", "1000"]), "{name}");
        assert_eq!(cfg["process"]["user"]["uid"], 1000, "{name}");
        assert!(rd.join("rootfs/bin/busybox").exists(), "{name}");
    }
    d.store_clean();
}

// ---------------------------------------------------------------------------------------------
// Bad sources: each a clear error, the store as it was.

/// A Python-made tar with one crafted entry (paths tar(1) will not write).
fn crafted_tar(path: &Path, script: &str) {
    let py = format!(
        "import tarfile, io\nt = tarfile.open({:?}, 'w')\ndef add(name, kind=tarfile.REGTYPE, data=b'', link=''):\n    i = tarfile.TarInfo(name); i.type = kind; i.size = len(data); i.linkname = link; i.mode = 0o644\n    t.addfile(i, io.BytesIO(data))\n{script}\nt.close()\n",
        path.to_str().unwrap()
    );
    let o = Command::new("python3").arg("-c").arg(&py).output().unwrap();
    assert!(o.status.success(), "python: {}", text(&o));
}

#[test]
fn bad_sources_are_refused_and_leave_the_store_clean() {
    if !common::require_root() {
        return;
    }
    let d = D::new("bad");
    // A good revision first: it must stay current and whole through everything below.
    let good = two_layer_image(&d, "good", "sleep 1000");
    let rev = d.stage_ok("web", &good);
    let before = d.status("web");
    let objects = || std::fs::read_dir(d.store.join("objects/sha256")).unwrap().count();
    let n_objects = objects();
    let check = |what: &str, src: &Path, code: i32, words: &[&str]| {
        let o = d.stage("bad", src);
        let e = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(code), "{what}: {}", text(&o));
        for w in words {
            assert!(e.contains(w), "{what}: the error lacks {w:?}: {e}");
        }
        let after = d.status("web");
        assert_eq!(after["staged"], before["staged"], "{what}: the status changed: {after}");
        assert_eq!(objects(), n_objects, "{what}: objects left behind");
        assert!(
            !d.store.join("workloads/bad").exists(),
            "{what}: a workload directory left behind"
        );
        d.store_clean();
        assert!(d.revision_dir("web", &rev).join("bundle/config.json").exists());
    };

    // A corrupt layer (one byte flipped in its middle): its digest no longer matches.
    let bad = d.dir().join("corrupt");
    sh_ok(&format!("cp -a {} {}", good.display(), bad.display()));
    let blob = std::fs::read_dir(bad.join("blobs/sha256"))
        .unwrap()
        .flatten()
        .max_by_key(|e| e.metadata().unwrap().len())
        .unwrap()
        .path();
    let mut data = std::fs::read(&blob).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x55;
    std::fs::write(&blob, &data).unwrap();
    check("corrupt layer", &bad, 3, &["digest mismatch"]);
    // Truncated: the size no longer matches.
    data[mid] ^= 0x55;
    std::fs::write(&blob, &data[..data.len() - 100]).unwrap();
    check("truncated layer", &bad, 3, &["bytes where its descriptor says"]);

    // A layer whose digest is right but whose content is not the config's diff_id.
    let l1 = rootfs_dir(&d.dir().join("diff-l1"));
    let (blob1, _, mt) = layer(&l1, "gzip");
    let lay = d.dir().join("diffid");
    oci_layout(&lay, &[(blob1, Digest::of(b"something else"), mt)], base_config("true"));
    check("diff_id mismatch", &lay, 3, &["diff_ids[0]"]);

    // A gzip bomb: a tar of 512 MiB of zeros, about 500 KiB gzipped (made by the host's tar
    // and gzip from a sparse file: the test never holds it). Refused once it expands past
    // MAX_EXPANSION_RATIO times its size, long before the diff_id (a dummy) would be checked.
    let bomb_dir = d.dir().join("bomb-src");
    std::fs::create_dir_all(&bomb_dir).unwrap();
    let bomb = sh_ok(&format!(
        "truncate -s 512M {0}/zeros && tar --numeric-owner -C {0} -cf - . | gzip -n -c",
        bomb_dir.display()
    ));
    std::fs::remove_dir_all(&bomb_dir).unwrap();
    let lay = d.dir().join("bomb");
    oci_layout(
        &lay,
        &[(
            bomb,
            Digest::of(b"never reached"),
            "application/vnd.oci.image.layer.v1.tar+gzip",
        )],
        base_config("true"),
    );
    check("gzip bomb", &lay, 3, &["MAX_EXPANSION_RATIO"]);

    // Path traversal, a hard link out, a device node: refused, nothing written outside.
    for (what, script, words) in [
        ("dotdot", "add('../../../tmp/mote-escape-dotdot', data=b'x')", &["path traversal"][..]),
        ("hardlink", "add('etc', tarfile.DIRTYPE)\nadd('etc/x', tarfile.LNKTYPE, link='../../../../etc/hostname')", &["path traversal"][..]),
        ("device", "add('dev', tarfile.DIRTYPE)\ni = tarfile.TarInfo('dev/sda'); i.type = tarfile.BLKTYPE; i.devmajor = 8; i.devminor = 0\nt.addfile(i)", &["device node", "allowDevices"][..]),
    ] {
        let tarp = d.dir().join(format!("{what}.tar"));
        crafted_tar(&tarp, script);
        let raw = std::fs::read(&tarp).unwrap();
        let lay = d.dir().join(format!("{what}-oci"));
        oci_layout(&lay, &[(raw.clone(), Digest::of(&raw), "application/vnd.oci.image.layer.v1.tar")], base_config("true"));
        check(what, &lay, 3, words);
        assert!(!Path::new("/tmp/mote-escape-dotdot").exists());
    }
    // An absolute symlink in a lower layer does not lead a later file out of the revision.
    let tarp = d.dir().join("symlink.tar");
    let outside = d.dir().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    crafted_tar(
        &tarp,
        &format!(
            "add('esc', tarfile.SYMTYPE, link={:?})\nadd('esc/planted', data=b'x')\nadd('cfg.txt', data=b'y')",
            outside.to_str().unwrap()
        ),
    );
    let raw = std::fs::read(&tarp).unwrap();
    let lay = d.dir().join("symlink-oci");
    oci_layout(
        &lay,
        &[(raw.clone(), Digest::of(&raw), "application/vnd.oci.image.layer.v1.tar")],
        base_config("true"),
    );
    let o = d.stage("esc", &lay);
    assert!(
        !outside.join("planted").exists(),
        "a layer wrote through a symlink out of the revision: {}",
        text(&o)
    );

    // Signatures: with a key configured, unsigned and badly signed sources are refused
    // before anything is unpacked.
    sh_ok(&format!(
        "openssl genpkey -algorithm ed25519 -out {0}/k.pem && openssl pkey -in {0}/k.pem -pubout -out {1}/k.pub && openssl genpkey -algorithm ed25519 -out {0}/other.pem",
        d.dir().display(),
        d.keys.display()
    ));
    let src = two_layer_image(&d, "signed", "sleep 1000");
    check("unsigned", &src, 1, &["signature", "mote deploy sign"]);
    let o = d.deploy(
        "sign",
        &[
            "--key",
            d.dir().join("other.pem").to_str().unwrap(),
            src.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    check("bad signature", &src, 3, &["bad signature"]);
    std::fs::remove_dir_all(&d.keys).unwrap();
    std::fs::create_dir_all(&d.keys).unwrap();
    assert_eq!(before["staged"], d.status("web")["staged"]);
}

#[test]
fn signatures_from_openssl_and_from_mote_sign() {
    if !common::require_root() {
        return;
    }
    let d = D::new("sign");
    sh_ok(&format!(
        "openssl genpkey -algorithm ed25519 -out {0}/k.pem && openssl pkey -in {0}/k.pem -pubout -out {1}/k.pub",
        d.dir().display(),
        d.keys.display()
    ));
    // mote deploy sign (the build side), then stage checks it.
    let a = two_layer_image(&d, "a", "sleep 1000");
    let o = d.deploy(
        "sign",
        &["--key", d.dir().join("k.pem").to_str().unwrap(), a.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = d.deploy("stage", &["web", a.to_str().unwrap()]);
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("signed by k.pub"),
        "{}",
        text(&o)
    );
    // OpenSSL's own signature of the same message (the source digest as text) is as good.
    let b = d.bundle("b", "exec sleep 1000");
    let o = d.deploy(
        "sign",
        &[
            "--key",
            d.dir().join("k.pem").to_str().unwrap(),
            "-o",
            "-",
            b.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let digest = {
        let st = d.deploy("stage", &["x", b.to_str().unwrap(), "--signature", "/nonexistent"]);
        // Refused (no such signature), but the error is about the signature, not the source.
        assert_eq!(st.status.code(), Some(1), "{}", text(&st));
        let sig_dir = d.dir().join("digest");
        std::fs::create_dir_all(&sig_dir).unwrap();
        // The digest the signature signs: what `sign` printed on its first run to a file.
        let o = d.deploy(
            "sign",
            &[
                "--key",
                d.dir().join("k.pem").to_str().unwrap(),
                "-o",
                sig_dir.join("s").to_str().unwrap(),
                b.to_str().unwrap(),
            ],
        );
        String::from_utf8_lossy(&o.stdout)
            .split(':')
            .take(2)
            .collect::<Vec<_>>()
            .join(":")
    };
    assert!(digest.starts_with("sha256:"), "{digest}");
    std::fs::write(d.dir().join("msg"), &digest).unwrap();
    sh_ok(&format!(
        "openssl pkeyutl -sign -inkey {0}/k.pem -rawin -in {0}/msg -out {0}/b.sig",
        d.dir().display()
    ));
    let o = d.deploy(
        "stage",
        &[
            "web2",
            b.to_str().unwrap(),
            "--signature",
            d.dir().join("b.sig").to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "OpenSSL's raw signature: {}", text(&o));
    d.store_clean();
}

// ---------------------------------------------------------------------------------------------
// Activation under a supervisor.

/// A workload healthy once /tmp/ok exists in it (its command makes it, or not).
fn health() -> Value {
    json!({"exec": ["test", "-e", "/tmp/ok"], "interval": "200ms", "timeout": "2s", "retries": 2})
}

fn rev_bundle(d: &D, name: &str, healthy: bool) -> PathBuf {
    let script = if healthy {
        "touch /tmp/ok; exec sleep 1000"
    } else {
        "exec sleep 1000"
    };
    let b = d.sv.bundle(name, script, |c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    });
    // Each revision differs in a file of its own.
    std::fs::write(b.join("rootfs/etc/revision"), name).unwrap();
    b
}

/// The same as an image (two layers), healthy: its /tmp a volume (a tmpfs).
fn image_rev(d: &D, name: &str) -> PathBuf {
    let base = rootfs_dir(&d.dir().join(format!("{name}-l1")));
    let l2 = d.dir().join(format!("{name}-l2"));
    std::fs::create_dir_all(l2.join("etc")).unwrap();
    std::fs::write(l2.join("etc/revision"), name).unwrap();
    let layout = d.dir().join(format!("{name}-oci"));
    let mut c = base_config("touch /tmp/ok; exec sleep 1000");
    c["config"]["Volumes"] = json!({"/tmp": {}});
    oci_layout(&layout, &[layer(&base, "gzip"), layer(&l2, "zstd")], c);
    layout
}

#[test]
fn hand_over_commit_and_automatic_rollback() {
    if !common::require_root() {
        return;
    }
    if common::qemu_user_skip("health checks exec into the container: setns into a mount namespace is not emulated") {
        return;
    }
    let mut d = D::new("handover");
    d.workload(
        "web",
        json!({"health": health(), "deploy": {"commitAfter": "1s", "timeout": "5s"}}),
    );
    let v1 = d.stage_ok("web", &rev_bundle(&d, "v1", true));
    d.sv.start();
    assert_eq!(d.slots("web")[0].1, "undeployed");
    let o = d.deploy("activate", &["--wait-committed", "web"]);
    assert!(o.status.success(), "{}", text(&o));
    d.wait_running("web", &v1, "healthy", 10);
    let pid1 = d.sv.one("web")["pid"].as_i64().unwrap();

    // v2: both run until v2 is healthy, then v1 stops; committed after commitAfter.
    let v2 = d.stage_ok("web", &rev_bundle(&d, "v2", true));
    let o = d.deploy("activate", &["--wait-healthy", "web"]);
    assert!(o.status.success(), "{}", text(&o));
    let log = d.sv.log_text();
    let started = log.find(&format!("testing revision {v2}")).unwrap();
    assert!(
        log[started..].contains("the new revision is ready and healthy"),
        "{log}"
    );
    let s = d.wait_status("web", "v2 committed", 10, |s| {
        s["phase"] == "committed" && s["current"] == v2.as_str()
    });
    assert_eq!(s["previous"], v1.as_str());
    d.wait_running("web", &v2, "healthy", 10);
    let pid2 = d.sv.one("web")["pid"].as_i64().unwrap();
    assert_ne!(pid1, pid2);

    // v3 never becomes healthy: rolled back, v2 serving throughout (same pid).
    let v3 = d.stage_ok("web", &rev_bundle(&d, "v3", false));
    let o = d.deploy("activate", &["--wait-healthy", "web"]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let s = d.status("web");
    assert_eq!(
        (s["phase"].as_str(), s["current"].as_str(), s["failed"].as_str()),
        (Some("rolled-back"), Some(v2.as_str()), Some(v3.as_str())),
        "{s}"
    );
    d.wait_running("web", &v2, "healthy", 10);
    assert_eq!(d.sv.one("web")["pid"].as_i64().unwrap(), pid2, "v2 kept serving");
    let link = std::fs::read_link(d.store.join("workloads/web/current")).unwrap();
    assert_eq!(link, PathBuf::from(format!("revisions/{v2}")));

    // A rollback by request after the commit: back to v1. Idempotent.
    let o = d.deploy("rollback", &["web"]);
    assert!(o.status.success(), "{}", text(&o));
    d.wait_running("web", &v1, "healthy", 10);
    let o = d.deploy("rollback", &["--revision", &v2, "web"]);
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("nothing"),
        "{}",
        text(&o)
    );
    d.store_clean();
    assert!(d.sv.stop(30).success());
    d.sv.assert_nothing_left();
}

#[test]
fn stop_first_crash_and_commit_by_request() {
    if !common::require_root() {
        return;
    }
    if common::qemu_user_skip("health checks exec into the container: setns into a mount namespace is not emulated") {
        return;
    }
    let mut d = D::new("stopfirst");
    d.workload(
        "ser",
        json!({"health": health(), "deploy": {"strategy": "stop-first", "commitAfter": "1h", "timeout": "5s"}}),
    );
    let v1 = d.stage_ok("ser", &rev_bundle(&d, "v1", true));
    d.sv.start();
    assert!(d.deploy("activate", &["ser"]).status.success());
    d.wait_status("ser", "v1 healthy", 10, |s| s["healthy"] == true);
    assert!(d.deploy("commit", &["ser"]).status.success());
    d.wait_status("ser", "v1 committed", 5, |s| s["phase"] == "committed");
    // v2 crashes at once: stop-first stopped v1 before it started; the rollback starts v1
    // again.
    let b = d.sv.bundle("v2", "exit 7", |_| {});
    let v2 = d.stage_ok("ser", &b);
    let o = d.deploy("activate", &["--wait-healthy", "ser"]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let log = d.sv.log_text();
    let t = log.find(&format!("testing revision {v2}")).unwrap();
    let stop = log[t..]
        .find("ser: killed by")
        .or_else(|| log[t..].find("ser: exited"))
        .unwrap();
    let start = log[t..].find(&format!("ser: started")).unwrap();
    assert!(stop < start, "stop-first: v1 stopped before v2 started:\n{}", &log[t..]);
    assert!(
        d.status("ser")["reason"]
            .as_str()
            .unwrap()
            .contains("exited with status 7"),
        "{}",
        d.status("ser")
    );
    d.wait_running("ser", &v1, "healthy", 10);
    d.store_clean();
    assert!(d.sv.stop(30).success());
    d.sv.assert_nothing_left();
}

#[test]
fn a_supervisor_restart_during_a_test_rolls_it_back() {
    if !common::require_root() {
        return;
    }
    if common::qemu_user_skip("health checks exec into the container: setns into a mount namespace is not emulated") {
        return;
    }
    let mut d = D::new("restart");
    d.workload(
        "web",
        json!({"health": health(), "deploy": {"commitAfter": "1h", "timeout": "1h"}}),
    );
    let v1 = d.stage_ok("web", &rev_bundle(&d, "v1", true));
    d.sv.start();
    assert!(d.deploy("activate", &["--wait-healthy", "web"]).status.success());
    assert!(d.deploy("commit", &["web"]).status.success());
    d.wait_status("web", "v1 committed", 10, |s| s["phase"] == "committed");
    let v2 = d.stage_ok("web", &rev_bundle(&d, "v2", false));
    assert!(d.deploy("activate", &["web"]).status.success());
    d.wait_status("web", "v2 testing", 5, |s| s["phase"] == "testing");
    // SIGKILL: no chance to clean up; the next start rolls the test back first.
    d.sv.signal(libc::SIGKILL);
    let _ = d.sv.child.take().unwrap().wait();
    d.sv.start();
    let s = d.wait_status("web", "rolled back", 10, |s| s["phase"] == "rolled-back");
    assert!(s["reason"].as_str().unwrap().contains("supervisor restarted"), "{s}");
    assert_eq!(s["failed"], v2.as_str());
    d.wait_running("web", &v1, "healthy", 10);
    d.store_clean();
    assert!(d.sv.stop(30).success());
    d.sv.assert_nothing_left();
}

#[test]
fn keeps_n_revisions_and_collects_the_rest() {
    if !common::require_root() {
        return;
    }
    let d = D::new("gc");
    d.workload("w", json!({"deploy": {"keep": 2}}));
    let mut revs = Vec::new();
    for i in 0..4 {
        let b = d.bundle(&format!("b{i}"), "exec sleep 1000");
        std::fs::write(b.join("rootfs/etc/only-in"), format!("{i}").repeat(1000)).unwrap();
        revs.push(d.stage_ok("w", &b));
    }
    let left: Vec<String> = std::fs::read_dir(d.store.join("workloads/w/revisions"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.contains(&revs[3]) && left.contains(&revs[2]),
        "{left:?} of {revs:?}"
    );
    let f = d.fsck_ok();
    assert_eq!(f["unreferenced"], 0, "the objects only old revisions used went: {f}");
}

// ---------------------------------------------------------------------------------------------
// Faults: SIGKILL at every fault point.

/// The fault points, as the sources name them.
fn fault_points() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["src/deploy", "src/supervisor"] {
        for e in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
            .unwrap()
            .flatten()
        {
            let t = std::fs::read_to_string(e.path()).unwrap();
            for part in t.split("fault(\"").skip(1) {
                let name = part.split('"').next().unwrap().to_string();
                let real = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
                if real && !out.contains(&name) {
                    out.push(name);
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn sigkill_at_every_fault_point_leaves_one_whole_revision_running() {
    if !common::require_root() {
        return;
    }
    if common::qemu_user_skip("health checks exec into the container: setns into a mount namespace is not emulated") {
        return;
    }
    let points = fault_points();
    assert!(points.len() >= 15, "fault points: {points:?}");
    let mut hit = Vec::new();
    for p in &points {
        let mut d = D::new(&format!("fault-{p}"));
        d.workload(
            "web",
            json!({"health": health(), "deploy": {"commitAfter": "500ms", "timeout": "4s", "keep": 2}}),
        );
        let v1 = d.stage_ok("web", &rev_bundle(&d, "v1", true));
        d.sv.start();
        assert!(
            d.deploy("activate", &["--wait-committed", "web"]).status.success(),
            "{p}: v1"
        );
        d.wait_running("web", &v1, "healthy", 10);
        d.sv.stop(30);
        // The supervisor with the fault armed, then: stage (killed there?), activate and let
        // the test commit (good v2), stage and activate a bad v3 (rolled back), stage v4 and
        // roll it back by request.
        d.sv.envs = vec![("MOTE_FAULT".into(), p.clone())];
        d.sv.start();
        let envs = [("MOTE_FAULT", p.as_str())];
        let v2b = image_rev(&d, "v2");
        let v3b = rev_bundle(&d, "v3", false);
        let v4b = rev_bundle(&d, "v4", true);
        let mut killed = false;
        let mut step = |args: &[&str]| -> bool {
            let o = d.deploy_env(args[0], &args[1..], &envs);
            if o.status.code().is_none() {
                killed = true; // the CLI died at the fault point
                return false;
            }
            let sup_dead = matches!(d.sv.child.as_mut().map(|c| c.try_wait()), Some(Ok(Some(_))));
            if sup_dead {
                killed = true;
                return false;
            }
            true
        };
        let _ = step(&["stage", "web", v2b.to_str().unwrap()])
            && step(&["activate", "--wait-committed", "web"])
            && step(&["stage", "web", v3b.to_str().unwrap()])
            && step(&["activate", "--wait-healthy", "web"])
            && step(&["stage", "web", v4b.to_str().unwrap()])
            && step(&["activate", "web"])
            && step(&["rollback", "web"])
            && step(&["rollback", "web"]);
        // Wait a moment for a supervisor-side fault to fire (the commit timer).
        std::thread::sleep(Duration::from_millis(300));
        if matches!(d.sv.child.as_mut().map(|c| c.try_wait()), Some(Ok(Some(_)))) {
            killed = true;
        }
        if killed {
            hit.push(p.clone());
        }
        // Whatever happened: stop (or reap) the supervisor, start it clean, and check.
        if let Some(mut c) = d.sv.child.take() {
            // SAFETY: kill on the pid of the supervisor this test started.
            unsafe { libc::kill(c.id() as i32, libc::SIGKILL) };
            let _ = c.wait();
        }
        d.sv.envs.clear();
        d.sv.start();
        let s = d.wait_status("web", "no test under way", 15, |s| s["phase"] != "testing");
        let cur = s["current"]
            .as_str()
            .unwrap_or_else(|| panic!("{p}: nothing current: {s}"))
            .to_string();
        d.wait_running("web", &cur, "healthy", 15);
        let bundle = d.revision_dir("web", &cur).join("bundle/config.json");
        assert!(bundle.exists(), "{p}: the current revision is not whole");
        let f = d.fsck_ok();
        assert_eq!(f["problems"], json!([]), "{p}: {f}");
        let tmp: Vec<_> = std::fs::read_dir(d.store.join("workloads/web/revisions"))
            .unwrap()
            .flatten()
            .filter(|e| !e.path().join("revision.json").exists())
            .collect();
        assert!(tmp.is_empty(), "{p}: a half-made revision is visible: {tmp:?}");
        assert!(d.sv.stop(30).success(), "{p}");
        d.sv.assert_nothing_left();
    }
    eprintln!("fault points hit: {} of {}: {hit:?}", hit.len(), points.len());
    let missed: Vec<_> = points.iter().filter(|p| !hit.contains(p)).collect();
    assert!(missed.is_empty(), "fault points the scenario never reached: {missed:?}");
}

#[test]
fn a_full_disk_is_a_clear_error() {
    if !common::require_root() {
        return;
    }
    let d = D::new("full");
    std::fs::create_dir_all(&d.store).unwrap();
    sh_ok(&format!("mount -t tmpfs -o size=3m tmpfs {}", d.store.display()));
    let b = d.bundle("b", "exec sleep 1000");
    std::fs::write(b.join("rootfs/big"), vec![7u8; 4 << 20]).unwrap();
    let o = d.stage("w", &b);
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    let used = sh_ok(&format!("du -s {} | cut -f1", d.store.join("objects").display()));
    let f = d.fsck_ok();
    sh_ok(&format!("umount {}", d.store.display()));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(e.contains("ENOSPC") && e.contains("full"), "{e}");
    assert_eq!(f["problems"], json!([]), "{f}");
    assert_eq!(f["objects"], 0, "{f}");
    assert!(
        String::from_utf8_lossy(&used).trim().parse::<u64>().unwrap() < 64,
        "space left used"
    );
}

// ---------------------------------------------------------------------------------------------
// A real OTA client: Debian's mender-client in standalone mode, with image/mender/mote-workload.

/// System files the Mender test needs, made only if absent and removed after.
struct Placed(Vec<PathBuf>);

impl Placed {
    fn put(&mut self, path: &str, data: &[u8], mode: u32) {
        let p = PathBuf::from(path);
        if p.exists() {
            return;
        }
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        self.0.push(p);
    }
}

impl Drop for Placed {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[test]
fn mender_installs_commits_and_rolls_back() {
    if !common::require_root() {
        return;
    }
    if common::qemu_user_skip("mender-client is an x86_64 program") {
        return;
    }
    let have = |p: &str| {
        Command::new(p)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if !have("mender") || !have("mender-artifact") {
        assert!(
            std::env::var_os("CI").is_none(),
            "mender-client and mender-artifact are missing in CI"
        );
        eprintln!(
            "SKIP: mender-client or mender-artifact is not installed (apt install mender-client mender-artifact)"
        );
        return;
    }
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut placed = Placed(Vec::new());
    // Mender runs update modules from this fixed place only, and needs an artifact_info.
    placed.put(
        "/usr/share/mender/modules/v3/mote-workload",
        &std::fs::read(top.join("image/mender/mote-workload")).unwrap(),
        0o755,
    );
    placed.put("/etc/mender/artifact_info", b"artifact_name=mote-test-base\n", 0o644);

    let mut d = D::new("mender");
    d.workload(
        "web",
        json!({"health": health(), "deploy": {"commitAfter": "1h", "timeout": "10s"}}),
    );
    d.sv.start();
    let data = d.dir().join("mender");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("device_type"), "device_type=mote-test\n").unwrap();
    let conf = d.dir().join("mender.conf");
    std::fs::write(&conf, json!({"DeviceTypeFile": data.join("device_type")}).to_string()).unwrap();
    let mender = |args: &[&str]| -> Output {
        Command::new("mender")
            .args(["--no-syslog", "--config"])
            .arg(&conf)
            .arg("--fallback-config")
            .arg(d.dir().join("none.conf"))
            .arg("--data")
            .arg(&data)
            .args(args)
            .env("MOTE", common::mote())
            .env("MOTE_ROOT", &d.sv.env.root)
            .env("MOTE_STORE", &d.store)
            .env("MOTE_KEYS", &d.keys)
            .env("MOTE_CONFIG_DIR", &d.sv.wdir)
            .env("MOTE_MENDER_CONF", "/nonexistent")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // An artifact holding an oci-archive of the image.
    let artifact = |name: &str, layout: &Path| -> PathBuf {
        let archive = d.dir().join(format!("{name}.tar"));
        sh_ok(&format!("tar -C {} -cf {} .", layout.display(), archive.display()));
        let out = d.dir().join(format!("{name}.mender"));
        sh_ok(&format!(
            "{} web {} {name} mote-test {}",
            top.join("image/mender/make-artifact").display(),
            archive.display(),
            out.display()
        ));
        out
    };

    // 1. The first revision: installed (tested until healthy), then committed.
    let a1 = artifact("release-1", &image_rev(&d, "r1"));
    let o = mender(&["install", a1.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "mender install release-1: {}\n{}",
        text(&o),
        d.sv.log_text()
    );
    let s = d.status("web");
    assert_eq!(
        (s["phase"].as_str(), s["healthy"].as_bool()),
        (Some("testing"), Some(true)),
        "{s}"
    );
    let o = mender(&["commit"]);
    assert!(o.status.success(), "mender commit: {}", text(&o));
    let s = d.wait_status("web", "committed", 5, |s| s["phase"] == "committed");
    let r1 = s["current"].as_str().unwrap().to_string();
    d.wait_running("web", &r1, "healthy", 10);
    let pid = d.sv.one("web")["pid"].as_i64().unwrap();
    let o = mender(&["show-artifact"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "release-1", "{}", text(&o));

    // 2. A revision that never becomes healthy: the install fails, Mender rolls back, and the
    // first revision served throughout.
    let bad = {
        let base = rootfs_dir(&d.dir().join("r2-l1"));
        let layout = d.dir().join("r2-oci");
        let mut c = base_config("exec sleep 1000");
        c["config"]["Volumes"] = json!({"/tmp": {}});
        oci_layout(&layout, &[layer(&base, "gzip")], c);
        layout
    };
    let a2 = artifact("release-2", &bad);
    let o = mender(&["install", a2.to_str().unwrap()]);
    assert!(
        !o.status.success(),
        "mender install of an unhealthy revision succeeded: {}",
        text(&o)
    );
    let s = d.status("web");
    assert_eq!(
        (s["phase"].as_str(), s["current"].as_str()),
        (Some("rolled-back"), Some(r1.as_str())),
        "{s}"
    );
    d.wait_running("web", &r1, "healthy", 10);
    assert_eq!(
        d.sv.one("web")["pid"].as_i64().unwrap(),
        pid,
        "the first revision kept serving"
    );
    let o = mender(&["show-artifact"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "release-1", "{}", text(&o));
    d.store_clean();
    assert!(d.sv.stop(30).success());
    d.sv.assert_nothing_left();
    drop(placed);
}
