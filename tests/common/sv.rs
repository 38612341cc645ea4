//! A supervisor under test (tests/supervisor.rs, tests/deploy.rs): its own --root, workload
//! directory, cgroup parent and log; helpers to wait for states and to check that nothing is
//! left.

use super::Env;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A supervisor under test: its own --root, workload directory, cgroup parent and log.
pub struct Sv {
    pub env: Env,
    pub name: String,
    pub wdir: PathBuf,
    pub child: Option<Child>,
    pub log: PathBuf,
    pub cgroup: String,
    pub extra: Vec<String>,
    /// Environment for the supervisor process only.
    pub envs: Vec<(String, String)>,
}

pub fn static_mote() -> PathBuf {
    match super::static_mote() {
        Some(p) => p,
        None => panic!(
            "these tests need a static mote for the containers: run scripts/build.sh first, or set MOTE_TEST_STATIC"
        ),
    }
}

impl Sv {
    pub fn new(name: &str) -> Sv {
        let env = Env::new(&format!("sup-{name}"));
        let wdir = env.dir.join("workloads");
        std::fs::create_dir_all(&wdir).unwrap();
        Sv {
            log: env.dir.join("supervisor.log"),
            cgroup: format!("/mote-test-sup-{name}-{}", std::process::id()),
            name: name.to_string(),
            env,
            wdir,
            child: None,
            extra: Vec::new(),
            envs: Vec::new(),
        }
    }

    /// A bundle running `sh -c script`, with mote at /bin/mote.
    pub fn bundle(&self, name: &str, script: &str, f: impl FnOnce(&mut Value)) -> PathBuf {
        let b = self.env.bundle(name, |c| {
            c["process"]["args"] = json!(["sh", "-c", script]);
            c["process"]["terminal"] = json!(false);
            f(c);
        });
        std::fs::copy(static_mote(), b.join("rootfs/bin/mote")).unwrap();
        b
    }

    /// A workload file `name.json` for a bundle running `script`, with `fields` merged in.
    pub fn workload(&self, name: &str, script: &str, fields: Value) {
        let b = self.bundle(name, script, |_| {});
        // PID 1 of its container ignores SIGTERM: a short stop timeout keeps tests quick.
        let mut w = json!({"name": name, "bundle": b, "stop": {"timeout": "500ms"}});
        if let (Some(m), Some(f)) = (w.as_object_mut(), fields.as_object()) {
            for (k, v) in f {
                m.insert(k.clone(), v.clone());
            }
        }
        std::fs::write(self.wdir.join(format!("{name}.json")), w.to_string()).unwrap();
    }

    pub fn start(&mut self) {
        let settings = self.env.dir.join("supervisor.json");
        if !settings.exists() {
            std::fs::write(&settings, "{}").unwrap();
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(super::mote())
            .arg("--root")
            .arg(&self.env.root)
            .args(["supervise", "--config-dir"])
            .arg(&self.wdir)
            .arg("--config")
            .arg(&settings)
            .args(["--cgroup-parent", &self.cgroup])
            .args(&self.extra)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        // Up once its control socket answers.
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if self.try_status().is_some() {
                return;
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("the supervisor exited at start-up: {st}\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the supervisor did not answer\n{}", self.log_text());
    }

    pub fn mote(&self, args: &[&str]) -> std::process::Output {
        self.env.mote(args)
    }

    pub fn try_status(&self) -> Option<Vec<Value>> {
        let out = self.mote(&["status", "--format", "json"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice::<Value>(&out.stdout).ok()?.as_array().cloned()
    }

    pub fn one(&self, name: &str) -> Value {
        let all = self
            .try_status()
            .unwrap_or_else(|| panic!("status failed\n{}", self.log_text()));
        all.into_iter()
            .find(|w| w["name"] == name)
            .unwrap_or_else(|| panic!("no workload {name} in the status\n{}", self.log_text()))
    }

    pub fn state(&self, name: &str) -> String {
        self.one(name)["state"].as_str().unwrap_or("").to_string()
    }

    /// Wait until `cond` holds (polling every 50 ms), or fail after `secs` naming `what`.
    pub fn wait(&self, what: &str, secs: u64, cond: impl Fn(&Sv) -> bool) {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(secs) {
            if cond(self) {
                return;
            }
            super::reap_children();
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{}: timed out after {secs} s waiting for: {what}\nstatus: {:#?}\nlog:\n{}",
            self.name,
            self.try_status(),
            self.log_text()
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill on the pid of the supervisor this test started.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// SIGTERM, and wait for the supervisor to end (at most `secs`).
    pub fn stop(&mut self, secs: u64) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        let mut c = self.child.take().unwrap();
        let t = Instant::now();
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st;
            }
            if t.elapsed() > Duration::from_secs(secs) {
                let _ = c.kill();
                let _ = c.wait();
                panic!("the supervisor did not stop within {secs} s\n{}", self.log_text());
            }
            // Workloads adopted after a SIGKILL of an earlier supervisor are our children
            // (the tests are a subreaper), as they would be init's: reap them as init does.
            super::reap_children();
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn containers_root(&self) -> PathBuf {
        self.env.root.join("supervisor/containers")
    }

    /// Nothing of the supervisor's workloads is left: containers, cgroups, mounts, processes.
    pub fn assert_nothing_left(&self) {
        super::reap_children();
        let left: Vec<_> = std::fs::read_dir(self.containers_root())
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "container state left: {left:?}");
        let cg = cgroups_under(&self.cgroup);
        assert!(cg.is_empty(), "cgroups left: {cg:?}");
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let dir = self.env.dir.to_string_lossy().to_string();
        assert!(!mi.contains(&dir), "mounts left under {dir}");
        let procs = super::processes_rooted_in(&self.env.dir);
        assert!(procs.is_empty(), "processes left: {procs:?}");
    }
}

impl Drop for Sv {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Whatever the supervisor left (a failed test): its containers, then its cgroups.
        if let Ok(d) = std::fs::read_dir(self.containers_root()) {
            for e in d.flatten() {
                let _ = Command::new(super::mote())
                    .arg("--root")
                    .arg(self.containers_root())
                    .args(["delete", "--force"])
                    .arg(e.file_name())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        super::reap_children();
        for d in cgroups_under(&self.cgroup).into_iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in rd.flatten() {
                let _ = std::fs::remove_dir(h.path().join(self.cgroup.trim_start_matches('/')));
            }
        }
        let _ = std::fs::remove_dir(format!("/sys/fs/cgroup{}", self.cgroup));
    }
}

/// Every cgroup directory at or below `parent`, in every hierarchy.
pub fn cgroups_under(parent: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut roots = vec![PathBuf::from(format!("/sys/fs/cgroup{parent}"))];
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for h in rd.flatten() {
            roots.push(h.path().join(parent.trim_start_matches('/')));
        }
    }
    pub fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        if p.is_dir() {
            out.push(p.to_path_buf());
            if let Ok(rd) = std::fs::read_dir(p) {
                for e in rd.flatten() {
                    if e.path().is_dir() {
                        walk(&e.path(), out);
                    }
                }
            }
        }
    }
    for r in roots {
        walk(&r, &mut out);
    }
    out
}

/// The lines of the supervisor's log that mention `name`.
pub fn lines_of(log: &str, name: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains(&format!("{name}:")))
        .map(|l| l.to_string())
        .collect()
}
