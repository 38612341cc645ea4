//! Workload files: one JSON file per workload the supervisor runs (README "Workload files").
//!
//! Read as config.json is (bounded, checked by the same validator, every limit in `limits.rs`,
//! errors naming the file and the JSON path), with the small documents' walker
//! ([`super::value`]), then turned into a [`Workload`]: a small owned value with every default
//! filled in and every duration parsed, which is all the supervisor keeps. The file's buffer
//! is freed once it is read.

use crate::prelude::*;

use super::limits::{MAX_DEPENDS, MAX_HEALTH_ARGS, MAX_WORKLOAD_ENV};
use super::units;
use super::value::{self, Obj, R};
use crate::error::{Error, Kind, Result};
use core::fmt;
use core::time::Duration;

/// When a workload that exited is started again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Never.
    No,
    /// When it failed: a non-zero exit, a signal, unhealthy, or silent past its watchdog.
    OnFailure,
    /// Whatever the exit.
    Always,
    /// As `Always`, but a workload stopped through the control socket stays stopped, also
    /// across a restart of the supervisor, until it is started again.
    UnlessStopped,
}

/// What happens when a workload starts more often than its start limit allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitAction {
    /// It stays stopped, in state `failed`.
    Stop,
    /// As `Stop`, and the supervisor stops petting the hardware watchdog: the board resets.
    Watchdog,
    /// The supervisor stops everything and reboots the machine.
    Reboot,
}

/// What another workload must have reached before this one starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    Started,
    Ready,
    Healthy,
}

/// How a workload tells it is ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Ready once started.
    None,
    /// systemd's sd_notify protocol on $NOTIFY_SOCKET: READY=1.
    Notify,
    /// s6's: a line written to this fd.
    Fd(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    pub exec: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logs {
    pub ring_bytes: usize,
    pub file: Option<String>,
    pub max_bytes: u64,
    pub keep: u32,
}

/// How a new revision takes over from the running one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// The old revision serves until the new one is ready and healthy.
    HandOver,
    /// The old revision is stopped first (a workload that cannot run twice).
    StopFirst,
}

/// The `image` overrides of a workload file (for configs made from an image).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ImageOverrides {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    /// `HOST:CONTAINER` (a bind mount) or `tmpfs:CONTAINER`.
    pub volumes: Vec<(String, String)>,
    /// Share the host's network (true, the default) or have none but loopback.
    pub host_network: bool,
}

/// The `deploy` settings of a workload file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeploySettings {
    pub strategy: Strategy,
    /// Healthy this long in testing: committed.
    pub commit_after: Duration,
    /// Not ready and healthy this long after starting: rolled back.
    pub timeout: Duration,
    /// Revisions kept (the current one included).
    pub keep: u32,
    pub allow_devices: bool,
}

impl Default for DeploySettings {
    fn default() -> Self {
        DeploySettings {
            strategy: Strategy::HandOver,
            commit_after: Duration::from_secs(60),
            timeout: Duration::from_secs(120),
            keep: 2,
            allow_devices: false,
        }
    }
}

/// A workload, read and checked: every default filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    pub name: String,
    /// The bundle directory (for a workload from a store: the revision's, set by the
    /// supervisor when it loads the workload).
    pub bundle: String,
    /// The revision store its revisions come from (`mote deploy`).
    pub store: Option<String>,
    /// Which revision `bundle` is (workloads from a store).
    pub revision: Option<String>,
    pub image: ImageOverrides,
    pub deploy: DeploySettings,
    pub policy: Policy,
    /// With `on-failure`: at most this many restarts in a row (None: no limit).
    pub max_retries: Option<u32>,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// A run this long resets the backoff and the retry count.
    pub reset_after: Duration,
    pub start_burst: u32,
    pub start_interval: Duration,
    pub limit_action: LimitAction,
    pub depends_on: Vec<(String, Condition)>,
    pub stop_signal: i32,
    pub stop_timeout: Duration,
    pub critical: bool,
    pub readiness: Readiness,
    /// sd_notify WATCHDOG=1 expected at least this often (the workload gets WATCHDOG_USEC).
    pub watchdog: Option<Duration>,
    /// Not ready this long after starting: a failed start.
    pub ready_timeout: Option<Duration>,
    pub health: Option<Health>,
    pub logs: Logs,
    /// KEY=VALUE set over the bundle's process.env.
    pub env: Vec<String>,
}

/// A workload's name: what container ids allow, at most MAX_WORKLOAD_NAME bytes.
pub fn check_name(name: &str) -> core::result::Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > super::limits::MAX_WORKLOAD_NAME {
        return Err("it is longer than MAX_WORKLOAD_NAME (64) bytes");
    }
    if name == "."
        || name == ".."
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err("use only letters, digits and _ - .");
    }
    Ok(())
}

/// Reading one workload file. Every reader returns a value (the default when the field is
/// absent or wrong) and keeps the first error, so the reading is straight-line code with no
/// early return (each one would drop everything read so far: that code was most of the
/// reader's size); [`Workload::parse`] reports the error at the end.
#[derive(Default)]
struct Cx {
    /// The first error: `path: why`.
    err: core::cell::RefCell<Option<String>>,
}

impl Cx {
    /// An error at `path` (only the first is kept).
    fn bad(&self, path: &str, why: fmt::Arguments<'_>) {
        if self.err.borrow().is_none() {
            self.bad_text(format!("{path}: {why}"));
        }
    }
    fn json<T: Default>(&self, r: R<T>) -> T {
        r.unwrap_or_else(|e| {
            self.bad_text(e);
            T::default()
        })
    }
    fn bad_text(&self, e: String) {
        let mut slot = self.err.borrow_mut();
        if slot.is_none() {
            *slot = Some(e);
        }
    }
    /// A sub-object (absent or wrong: an empty one, so that every default applies).
    fn obj<'a, 'q>(&self, o: &Obj<'a, '_>, key: &str, path: &'q str) -> Obj<'a, 'q> {
        match o.obj(key, path) {
            Ok(Some(v)) => v,
            Ok(None) => Obj::empty(path),
            Err(e) => {
                self.bad_text(e);
                Obj::empty(path)
            }
        }
    }
    fn str(&self, o: &Obj<'_, '_>, key: &str) -> Option<String> {
        self.json(o.str(key))
    }
    fn u32(&self, o: &Obj<'_, '_>, key: &str) -> Option<u32> {
        self.json(o.u32(key))
    }
    fn strs(&self, o: &Obj<'_, '_>, key: &str, limit: usize, name: &'static str) -> Option<Vec<String>> {
        self.json(o.strs(key, limit, name))
    }
    /// A duration (`"100ms"`, `"10s"`, ...), more than zero; absent: None.
    fn opt_dur(&self, o: &Obj<'_, '_>, key: &str, path: &str) -> Option<Duration> {
        let s = self.str(o, key)?;
        let d = units::parse_duration(&s).filter(|d| !d.is_zero());
        if d.is_none() {
            self.bad(path, format_args!("{s:?}: {}", units::DURATION_HINT));
        }
        d
    }
    /// A duration; absent: `default`.
    fn dur(&self, o: &Obj<'_, '_>, key: &str, path: &str, default: Duration) -> Duration {
        self.opt_dur(o, key, path).unwrap_or(default)
    }
    /// One of `allowed` words, as its index; absent: `default`.
    fn one_of(&self, o: &Obj<'_, '_>, key: &str, path: &str, allowed: &[&str], default: usize) -> usize {
        let Some(s) = self.str(o, key) else { return default };
        allowed.iter().position(|a| *a == s).unwrap_or_else(|| {
            self.bad(
                path,
                format_args!("{s:?} is not allowed (expected one of: {})", allowed.join(", ")),
            );
            default
        })
    }
    /// An integer from `lo` to `hi`; the error names the limit.
    fn range(&self, path: &str, n: u64, lo: u64, hi: u64, limit: &str) {
        if n < lo || n > hi {
            self.bad(path, format_args!("{n}: use {lo} to {hi} ({limit})"));
        }
    }
    /// An absolute path, when given.
    fn absolute(&self, path: &str, v: &Option<String>) {
        if let Some(p) = v {
            if !p.starts_with('/') {
                self.bad(path, format_args!("{p:?} must be an absolute path"));
            }
        }
    }
}

impl Workload {
    /// Read a workload file's text. `file` names it in errors; its stem (`web` of `web.json`)
    /// is the name when the file gives none.
    pub fn parse(file: &str, input: &[u8]) -> Result<Workload> {
        let cx = Cx::default();
        let w = match value::document(input) {
            Ok(doc) => Self::read(&cx, file, &doc),
            Err(e) => {
                cx.bad_text(e);
                None
            }
        };
        match (cx.err.into_inner(), w) {
            (None, Some(w)) => Ok(w),
            (e, _) => Err(Error::new(Kind::Input, "workload")
                .ctx(format_args!("{file}: {}", e.as_deref().unwrap_or("unreadable")))),
        }
    }

    fn read(cx: &Cx, file: &str, f: &Obj<'_, '_>) -> Option<Workload> {
        let stem = file.rsplit('/').next().unwrap_or(file);
        let stem = stem.strip_suffix(".json").unwrap_or(stem);
        let name = cx.str(f, "name").unwrap_or_else(|| stem.to_string());
        if let Err(why) = check_name(&name) {
            cx.bad("name", format_args!("{name:?}: {why}"));
        }

        #[cfg(feature = "deploy")]
        let (store, image, deploy) = (
            cx.str(f, "store").filter(|s| !s.is_empty()),
            deploy_parts::image_overrides(cx, f),
            deploy_parts::deploy_settings(cx, f),
        );
        #[cfg(not(feature = "deploy"))]
        let (store, image, deploy) = {
            for key in ["store", "image", "deploy"] {
                if f.has(key) {
                    cx.bad(
                        key,
                        format_args!(
                            "is for `mote deploy`, which this mote is built without (cargo feature \"deploy\")"
                        ),
                    );
                }
            }
            (
                None::<String>,
                ImageOverrides {
                    host_network: true,
                    ..Default::default()
                },
                DeploySettings::default(),
            )
        };
        let bundle = cx.str(f, "bundle").filter(|b| !b.is_empty());
        cx.absolute("store", &store);
        if store.is_some() && bundle.is_some() {
            cx.bad(
                "bundle",
                format_args!("a workload has a bundle or a store (its revisions), not both"),
            );
        }
        if store.is_none() && bundle.is_none() {
            cx.bad(
                "bundle",
                format_args!("is required: the directory holding the workload's config.json (or give \"store\")"),
            );
        }

        let rs = cx.obj(f, "restart", "restart");
        let policy = [Policy::No, Policy::OnFailure, Policy::Always, Policy::UnlessStopped][cx.one_of(
            &rs,
            "policy",
            "restart.policy",
            &["no", "on-failure", "always", "unless-stopped"],
            2,
        )];
        let max_retries = cx.u32(&rs, "maxRetries");
        if max_retries.is_some() && policy != Policy::OnFailure {
            cx.bad(
                "restart.maxRetries",
                format_args!("applies to the on-failure policy only"),
            );
        }
        let b = cx.obj(&rs, "backoff", "restart.backoff");
        let backoff_initial = cx.dur(&b, "initial", "restart.backoff.initial", Duration::from_millis(100));
        let backoff_max = cx.dur(&b, "max", "restart.backoff.max", Duration::from_secs(60));
        if backoff_max < backoff_initial {
            cx.bad(
                "restart.backoff.max",
                format_args!("is shorter than restart.backoff.initial"),
            );
        }

        let sl = cx.obj(f, "startLimit", "startLimit");
        let start_burst = cx.u32(&sl, "burst").unwrap_or(5);
        let max_burst = super::limits::MAX_START_BURST as u64;
        cx.range("startLimit.burst", start_burst as u64, 1, max_burst, "MAX_START_BURST");

        let mut depends_on = Vec::new();
        for (i, text) in cx
            .json(f.list("dependsOn", MAX_DEPENDS, "MAX_DEPENDS"))
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let path = format!("dependsOn[{i}]");
            let d = cx.json(Obj::at(text, &path).map(Some)).unwrap_or(Obj::empty(""));
            let dep = cx.str(&d, "name").unwrap_or_default();
            if let Err(why) = check_name(&dep) {
                cx.bad(&path, format_args!("name {dep:?}: {why}"));
            }
            if dep == name {
                cx.bad(&path, format_args!("a workload cannot depend on itself"));
            }
            let c = [Condition::Started, Condition::Ready, Condition::Healthy][cx.one_of(
                &d,
                "condition",
                &format!("{path}.condition"),
                &["started", "ready", "healthy"],
                0,
            )];
            depends_on.push((dep, c));
        }

        let st = cx.obj(f, "stop", "stop");
        let stop_signal = match cx.str(&st, "signal") {
            None => libc::SIGTERM,
            Some(s) => units::parse_signal(&s).unwrap_or_else(|| {
                cx.bad("stop.signal", format_args!("{s:?}: {}", units::SIGNAL_HINT));
                libc::SIGTERM
            }),
        };

        let rd = cx.obj(f, "readiness", "readiness");
        let fd = cx.u32(&rd, "fd");
        let readiness = match cx.one_of(&rd, "type", "readiness.type", &["none", "notify", "fd"], 0) {
            0 => Readiness::None,
            1 => Readiness::Notify,
            _ => {
                if fd.is_none() {
                    cx.bad("readiness.fd", format_args!("is required with \"type\": \"fd\""));
                }
                let n = fd.unwrap_or(3);
                let max_fd = super::limits::MAX_READY_FD as u64;
                cx.range("readiness.fd", n as u64, 3, max_fd, "MAX_READY_FD; 0 to 2 are stdio");
                Readiness::Fd(n)
            }
        };
        if fd.is_some() && !matches!(readiness, Readiness::Fd(_)) {
            cx.bad("readiness.fd", format_args!("applies to \"type\": \"fd\" only"));
        }
        let watchdog = cx.opt_dur(&rd, "watchdog", "readiness.watchdog");
        if watchdog.is_some() && readiness != Readiness::Notify {
            cx.bad(
                "readiness.watchdog",
                format_args!("needs \"type\": \"notify\" (WATCHDOG=1 is an sd_notify message)"),
            );
        }

        let health = cx.json(f.obj("health", "health")).map(|h| {
            let exec = cx
                .strs(&h, "exec", MAX_HEALTH_ARGS, "MAX_HEALTH_ARGS")
                .unwrap_or_default();
            if exec.first().is_none_or(|a| a.is_empty()) {
                cx.bad(
                    "health.exec",
                    format_args!("names the check to run in the container, as [\"/bin/check\", \"arg\"]"),
                );
            }
            let retries = cx.u32(&h, "retries").unwrap_or(3);
            if retries == 0 {
                cx.bad(
                    "health.retries",
                    format_args!("0: use 1 or more (failures in a row that make it unhealthy)"),
                );
            }
            Health {
                exec,
                interval: cx.dur(&h, "interval", "health.interval", Duration::from_secs(30)),
                timeout: cx.dur(&h, "timeout", "health.timeout", Duration::from_secs(30)),
                retries,
                start_period: cx.opt_dur(&h, "startPeriod", "health.startPeriod").unwrap_or_default(),
            }
        });

        let l = cx.obj(f, "logs", "logs");
        let ring_bytes = cx.json(l.u64("ringBytes")).unwrap_or(64 * 1024);
        let max_ring = super::limits::MAX_LOG_RING_BYTES as u64;
        cx.range("logs.ringBytes", ring_bytes, 0, max_ring, "MAX_LOG_RING_BYTES");
        let log_file = cx.str(&l, "file").filter(|p| !p.is_empty());
        cx.absolute("logs.file", &log_file);
        let keep = cx.u32(&l, "keep").unwrap_or(3);
        cx.range(
            "logs.keep",
            keep as u64,
            0,
            super::limits::MAX_LOG_FILES as u64,
            "MAX_LOG_FILES",
        );

        let env = cx
            .strs(f, "env", MAX_WORKLOAD_ENV, "MAX_WORKLOAD_ENV")
            .unwrap_or_default();
        for (i, e) in env.iter().enumerate() {
            if !e.contains('=') || e.starts_with('=') {
                cx.bad(&format!("env[{i}]"), format_args!("{e:?}: use KEY=VALUE"));
            }
        }

        Some(Workload {
            bundle: bundle.unwrap_or_default(),
            store,
            revision: None,
            image,
            deploy,
            policy,
            max_retries,
            backoff_initial,
            backoff_max,
            reset_after: cx.dur(&b, "resetAfter", "restart.backoff.resetAfter", Duration::from_secs(10)),
            start_burst,
            start_interval: cx.dur(&sl, "interval", "startLimit.interval", Duration::from_secs(10)),
            limit_action: [LimitAction::Stop, LimitAction::Watchdog, LimitAction::Reboot]
                [cx.one_of(&sl, "action", "startLimit.action", &["stop", "watchdog", "reboot"], 0)],
            depends_on,
            stop_signal,
            stop_timeout: cx.dur(&st, "timeout", "stop.timeout", Duration::from_secs(10)),
            critical: cx.json(f.bool("critical")),
            readiness,
            watchdog,
            ready_timeout: cx.opt_dur(&rd, "timeout", "readiness.timeout"),
            health,
            logs: Logs {
                ring_bytes: ring_bytes as usize,
                file: log_file,
                max_bytes: cx.json(l.u64("maxBytes")).unwrap_or(1 << 20).max(1),
                keep,
            },
            env,
            name,
        })
    }
}

/// The parts of a workload file for `mote deploy`.
#[cfg(feature = "deploy")]
mod deploy_parts {
    use super::*;
    use crate::spec::limits::{MAX_KEEP, MAX_OVERRIDE_ARGS, MAX_VOLUMES};

    pub(super) fn image_overrides(cx: &Cx, f: &Obj<'_, '_>) -> ImageOverrides {
        let Some(j) = cx.json(f.obj("image", "image")) else {
            return ImageOverrides {
                host_network: true,
                ..Default::default()
            };
        };
        let mut volumes = Vec::new();
        let vs = cx.strs(&j, "volumes", MAX_VOLUMES, "MAX_VOLUMES").unwrap_or_default();
        for (i, v) in vs.iter().enumerate() {
            let (host, ctr) = v.rsplit_once(':').unwrap_or(("", ""));
            if !ctr.starts_with('/') || !(host == "tmpfs" || host.starts_with('/')) {
                cx.bad(
                    &format!("image.volumes[{i}]"),
                    format_args!("{v:?}: use \"/host/dir:/path/in/container\" or \"tmpfs:/path/in/container\""),
                );
            }
            volumes.push((host.to_string(), ctr.to_string()));
        }
        let working_dir = cx.str(&j, "workingDir");
        cx.absolute("image.workingDir", &working_dir);
        ImageOverrides {
            entrypoint: cx.strs(&j, "entrypoint", MAX_OVERRIDE_ARGS, "MAX_OVERRIDE_ARGS"),
            cmd: cx.strs(&j, "cmd", MAX_OVERRIDE_ARGS, "MAX_OVERRIDE_ARGS"),
            user: cx.str(&j, "user").filter(|u| !u.is_empty()),
            working_dir,
            volumes,
            host_network: cx.one_of(&j, "network", "image.network", &["host", "none"], 0) == 0,
        }
    }

    pub(super) fn deploy_settings(cx: &Cx, f: &Obj<'_, '_>) -> DeploySettings {
        let d = DeploySettings::default();
        let Some(j) = cx.json(f.obj("deploy", "deploy")) else {
            return d;
        };
        let keep = cx.u32(&j, "keep").unwrap_or(d.keep);
        cx.range(
            "deploy.keep",
            keep as u64,
            1,
            MAX_KEEP as u64,
            "MAX_KEEP; the current revision counts",
        );
        DeploySettings {
            strategy: [Strategy::HandOver, Strategy::StopFirst]
                [cx.one_of(&j, "strategy", "deploy.strategy", &["hand-over", "stop-first"], 0)],
            commit_after: cx.dur(&j, "commitAfter", "deploy.commitAfter", d.commit_after),
            timeout: cx.dur(&j, "timeout", "deploy.timeout", d.timeout),
            keep,
            allow_devices: cx.json(j.bool("allowDevices")),
        }
    }
}

/// Check a set of workloads together: unique names, dependencies that exist, no cycle.
/// Returns the indices in an order each one's dependencies come before it, or the index of
/// a workload that is in the way and why.
pub fn start_order(ws: &[Workload]) -> core::result::Result<Vec<usize>, (usize, String)> {
    for (i, w) in ws.iter().enumerate() {
        if ws[..i].iter().any(|o| o.name == w.name) {
            return Err((i, format!("two workload files name {:?}", w.name)));
        }
        for (d, _) in &w.depends_on {
            if !ws.iter().any(|o| &o.name == d) {
                return Err((
                    i,
                    format!("{:?} depends on {d:?}, which no workload file names", w.name),
                ));
            }
        }
    }
    // Depth-first, with a mark for "on the current path": a dependency met again on the path
    // is a cycle.
    let mut order = Vec::new();
    let mut state = vec![0u8; ws.len()]; // 0 new, 1 on the path, 2 done
    fn visit(
        i: usize,
        ws: &[Workload],
        state: &mut [u8],
        order: &mut Vec<usize>,
    ) -> core::result::Result<(), (usize, String)> {
        match state[i] {
            2 => return Ok(()),
            1 => return Err((i, format!("a dependency cycle goes through {:?}", ws[i].name))),
            _ => {}
        }
        state[i] = 1;
        for (d, _) in &ws[i].depends_on {
            if let Some(j) = ws.iter().position(|o| &o.name == d) {
                visit(j, ws, state, order)?;
            }
        }
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    for i in 0..ws.len() {
        visit(i, ws, &mut state, &mut order)?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Workload> {
        Workload::parse("/etc/mote/workloads/web.json", json.as_bytes())
    }

    /// The contract's example, as the issue writes it.
    #[test]
    fn the_contract_example() {
        let w = parse(
            r#"{"name":"web","bundle":"/srv/web","restart":{"policy":"on-failure","maxRetries":5,"backoff":{"initial":"100ms","max":"60s","resetAfter":"10s"}},"startLimit":{"burst":5,"interval":"10s","action":"stop"},"dependsOn":[{"name":"db","condition":"healthy"}],"stop":{"signal":"SIGTERM","timeout":"10s"},"critical":true,"readiness":{"type":"notify"},"health":{"exec":["/bin/check"],"interval":"10s","timeout":"2s","retries":3,"startPeriod":"5s"},"logs":{"ringBytes":65536,"file":"/var/log/mote/web.log","maxBytes":1048576,"keep":3}}"#,
        )
        .unwrap();
        assert_eq!(w.name, "web");
        assert_eq!(w.policy, Policy::OnFailure);
        assert_eq!(w.max_retries, Some(5));
        assert_eq!(w.backoff_initial, Duration::from_millis(100));
        assert_eq!(w.depends_on, [("db".to_string(), Condition::Healthy)]);
        assert_eq!(w.stop_signal, libc::SIGTERM);
        assert!(w.critical);
        assert_eq!(w.readiness, Readiness::Notify);
        let h = w.health.unwrap();
        assert_eq!(
            (h.exec.as_slice(), h.retries, h.start_period),
            (&["/bin/check".to_string()][..], 3, Duration::from_secs(5))
        );
        assert_eq!(w.logs.file.as_deref(), Some("/var/log/mote/web.log"));
    }

    #[test]
    fn defaults() {
        let w = parse(r#"{"bundle":"/srv/web"}"#).unwrap();
        assert_eq!(w.name, "web", "the file's stem");
        assert_eq!(w.policy, Policy::Always);
        assert_eq!(
            (w.backoff_initial, w.backoff_max, w.reset_after),
            (
                Duration::from_millis(100),
                Duration::from_secs(60),
                Duration::from_secs(10)
            )
        );
        assert_eq!(
            (w.start_burst, w.start_interval, w.limit_action),
            (5, Duration::from_secs(10), LimitAction::Stop)
        );
        assert_eq!(
            (w.stop_signal, w.stop_timeout),
            (libc::SIGTERM, Duration::from_secs(10))
        );
        assert_eq!(w.readiness, Readiness::None);
        assert_eq!(w.logs.ring_bytes, 65536);
        assert!(w.health.is_none() && !w.critical);
    }

    /// Every bad value: an error naming the file, the JSON path and what is allowed.
    #[test]
    fn bad_files_name_the_path() {
        for (json, want) in [
            (r#"{}"#, "web.json: bundle: is required"),
            (r#"{"bundle":"/b","name":"a/b"}"#, "name: \"a/b\": use only"),
            (r#"{"bundle":"/b","restart":{"policy":"sometimes"}}"#, "restart.policy: \"sometimes\" is not allowed (expected one of: no, on-failure, always, unless-stopped)"),
            (r#"{"bundle":"/b","restart":{"policy":"always","maxRetries":3}}"#, "restart.maxRetries: applies to the on-failure policy only"),
            (r#"{"bundle":"/b","restart":{"backoff":{"initial":"fast"}}}"#, "restart.backoff.initial: \"fast\": use a number with a unit"),
            (r#"{"bundle":"/b","restart":{"backoff":{"initial":"2m","max":"1m"}}}"#, "restart.backoff.max: is shorter"),
            (r#"{"bundle":"/b","startLimit":{"burst":0}}"#, "startLimit.burst: 0: use 1 to"),
            (r#"{"bundle":"/b","startLimit":{"action":"explode"}}"#, "startLimit.action: \"explode\" is not allowed"),
            (r#"{"bundle":"/b","dependsOn":[{"name":"db","condition":"maybe"}]}"#, "dependsOn[0].condition: \"maybe\" is not allowed"),
            (r#"{"bundle":"/b","dependsOn":[{"name":"web"}]}"#, "dependsOn[0]: a workload cannot depend on itself"),
            (r#"{"bundle":"/b","stop":{"signal":"SIGNOPE"}}"#, "stop.signal: \"SIGNOPE\""),
            (r#"{"bundle":"/b","readiness":{"type":"fd"}}"#, "readiness.fd: is required"),
            (r#"{"bundle":"/b","readiness":{"type":"fd","fd":1}}"#, "readiness.fd: 1: use 3 to"),
            (r#"{"bundle":"/b","readiness":{"type":"none","watchdog":"5s"}}"#, "readiness.watchdog: needs \"type\": \"notify\""),
            (r#"{"bundle":"/b","health":{"exec":[]}}"#, "health.exec: names the check"),
            (r#"{"bundle":"/b","health":{"exec":["x"],"retries":0}}"#, "health.retries: 0"),
            (r#"{"bundle":"/b","logs":{"ringBytes":99999999999}}"#, "logs.ringBytes: 99999999999: use 0 to 16777216 (MAX_LOG_RING_BYTES)"),
            (r#"{"bundle":"/b","logs":{"file":"relative.log"}}"#, "logs.file: \"relative.log\" must be an absolute path"),
            (r#"{"bundle":"/b","env":["NOVALUE"]}"#, "env[0]: \"NOVALUE\": use KEY=VALUE"),
            (r#"{"bundle":"/b","critical":"yes"}"#, "web.json: critical: expected true or false"),
            (r#"{"bundle":"/b","health":{"exec":["a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a"]}}"#, "health.exec[32]: more than 32 entries (MAX_HEALTH_ARGS"),
            (r#"{"bundle":"/b""#, "web.json: "),
        ] {
            let e = parse(json).unwrap_err();
            let text = format!("{e}");
            assert!(text.contains(want), "{json}\n  gave {text}\n  want {want}");
            assert_eq!(e.kind, Kind::Input, "{json}");
        }
    }

    /// The fuzz seeds (tests/fixtures/workloads) are whole, valid workload files.
    #[test]
    fn the_fixtures_read() {
        let contract = include_bytes!("../../tests/fixtures/workloads/contract.json");
        assert_eq!(Workload::parse("contract.json", contract).unwrap().max_retries, Some(5));
        let notify = include_bytes!("../../tests/fixtures/workloads/notify.json");
        let w = Workload::parse("notify.json", notify).unwrap();
        assert_eq!((w.limit_action, w.stop_signal), (LimitAction::Reboot, libc::SIGINT));
        let deploy = include_bytes!("../../tests/fixtures/workloads/deploy.json");
        let r = Workload::parse("deploy.json", deploy);
        #[cfg(feature = "deploy")]
        {
            let w = r.unwrap();
            assert_eq!(w.env, ["A=1", "B=\u{e9}\n"]);
            assert_eq!(w.image.volumes[1], ("tmpfs".to_string(), "/tmp".to_string()));
            assert!(!w.image.host_network && w.deploy.keep == 3 && w.readiness == Readiness::Fd(3));
        }
        #[cfg(not(feature = "deploy"))]
        assert!(format!("{}", r.unwrap_err()).contains("store: is for `mote deploy`"));
    }

    #[test]
    fn dependency_order_and_cycles() {
        let mk = |name: &str, deps: &[&str]| Workload {
            depends_on: deps.iter().map(|d| (d.to_string(), Condition::Started)).collect(),
            name: name.to_string(),
            ..parse(r#"{"bundle":"/b"}"#).unwrap()
        };
        let (a, b, c) = (mk("a", &["b"]), mk("b", &["c"]), mk("c", &[]));
        let order = start_order(&[a.clone(), b.clone(), c.clone()]).unwrap();
        assert_eq!(order, [2, 1, 0]);
        let (x, y) = (mk("x", &["y"]), mk("y", &["x"]));
        assert!(start_order(&[x, y]).unwrap_err().1.contains("cycle"));
        assert_eq!(
            start_order(&[a, c.clone()]).unwrap_err(),
            (0, "\"a\" depends on \"b\", which no workload file names".to_string())
        );
        assert_eq!(start_order(&[c.clone(), c]).unwrap_err().0, 1);
    }
}
