//! Workload files: one JSON file per workload the supervisor runs (README "Workload files").
//!
//! Read as config.json is (bounded, borrowed from the one input buffer, every limit in
//! `limits.rs`, errors naming the file and the JSON path), then turned into a [`Workload`]:
//! a small owned value with every default filled in and every duration parsed, which is all
//! the supervisor keeps. The file's buffers are freed once it is read.

use crate::prelude::*;

use super::json::{JsonError, List, Pools, Str};
use super::limits::{MAX_DEPENDS, MAX_HEALTH_ARGS, MAX_KEEP, MAX_OVERRIDE_ARGS, MAX_VOLUMES, MAX_WORKLOAD_ENV};
use super::units;
use crate::error::{Error, Kind, Result};
use crate::json_object;
use core::fmt;
use core::time::Duration;

json_object! {
    /// The file as written.
    pub struct WorkloadFile<'a> {
        "name" => name: Option<Str<'a>>,
        "bundle" => bundle: Option<Str<'a>>,
        "restart" => restart: Option<RestartJson<'a>>,
        "startLimit" => start_limit: Option<StartLimitJson<'a>>,
        "dependsOn" => depends_on: List<DependJson<'a>, MAX_DEPENDS>,
        "stop" => stop: Option<StopJson<'a>>,
        "critical" => critical: bool,
        "readiness" => readiness: Option<ReadinessJson<'a>>,
        "health" => health: Option<HealthJson<'a>>,
        "logs" => logs: Option<LogsJson<'a>>,
        "env" => env: List<Str<'a>, MAX_WORKLOAD_ENV>,
        "store" => store: Option<Str<'a>>,
        "image" => image: Option<ImageJson<'a>>,
        "deploy" => deploy: Option<DeployJson<'a>>,
    }
}

json_object! {
    /// How a config.json is made from an image, over what the image says.
    pub struct ImageJson<'a> {
        "entrypoint" => entrypoint: Option<List<Str<'a>, MAX_OVERRIDE_ARGS>>,
        "cmd" => cmd: Option<List<Str<'a>, MAX_OVERRIDE_ARGS>>,
        "user" => user: Option<Str<'a>>,
        "workingDir" => working_dir: Option<Str<'a>>,
        "volumes" => volumes: List<Str<'a>, MAX_VOLUMES>,
        "network" => network: Option<Str<'a>>,
    }
}

json_object! {
    pub struct DeployJson<'a> {
        "strategy" => strategy: Option<Str<'a>>,
        "commitAfter" => commit_after: Option<Str<'a>>,
        "timeout" => timeout: Option<Str<'a>>,
        "keep" => keep: Option<u32>,
        "allowDevices" => allow_devices: bool,
    }
}

json_object! {
    pub struct RestartJson<'a> {
        "policy" => policy: Option<Str<'a>>,
        "maxRetries" => max_retries: Option<u32>,
        "backoff" => backoff: Option<BackoffJson<'a>>,
    }
}

json_object! {
    pub struct BackoffJson<'a> {
        "initial" => initial: Option<Str<'a>>,
        "max" => max: Option<Str<'a>>,
        "resetAfter" => reset_after: Option<Str<'a>>,
    }
}

json_object! {
    pub struct StartLimitJson<'a> {
        "burst" => burst: Option<u32>,
        "interval" => interval: Option<Str<'a>>,
        "action" => action: Option<Str<'a>>,
    }
}

json_object! {
    pub struct DependJson<'a> {
        "name" => name: Str<'a>,
        "condition" => condition: Option<Str<'a>>,
    }
}

json_object! {
    pub struct StopJson<'a> {
        "signal" => signal: Option<Str<'a>>,
        "timeout" => timeout: Option<Str<'a>>,
    }
}

json_object! {
    pub struct ReadinessJson<'a> {
        "type" => kind: Option<Str<'a>>,
        "fd" => fd: Option<u32>,
        "watchdog" => watchdog: Option<Str<'a>>,
        "timeout" => timeout: Option<Str<'a>>,
    }
}

json_object! {
    pub struct HealthJson<'a> {
        "exec" => exec: List<Str<'a>, MAX_HEALTH_ARGS>,
        "interval" => interval: Option<Str<'a>>,
        "timeout" => timeout: Option<Str<'a>>,
        "retries" => retries: Option<u32>,
        "startPeriod" => start_period: Option<Str<'a>>,
    }
}

json_object! {
    pub struct LogsJson<'a> {
        "ringBytes" => ring_bytes: Option<u64>,
        "file" => file: Option<Str<'a>>,
        "maxBytes" => max_bytes: Option<u64>,
        "keep" => keep: Option<u32>,
    }
}

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

/// Where an error in a workload file is: the file and the JSON path.
fn bad(file: &str, path: &str, why: fmt::Arguments<'_>) -> Error {
    Error::new(Kind::Input, "workload").ctx(format_args!("{file}: {path}: {why}"))
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

impl Workload {
    /// Read a workload file's text. `file` names it in errors; its stem (`web` of `web.json`)
    /// is the name when the file gives none.
    pub fn parse(file: &str, input: &[u8]) -> Result<Workload> {
        let mut arena = vec![0u8; input.len()];
        let mut pools = Pools::default();
        let f = super::parse_doc::<WorkloadFile<'_>>(input, &mut arena, &mut pools)
            .map_err(|e: JsonError| Error::new(Kind::Input, "workload").ctx(format_args!("{file}: {e}")))?;
        Self::from_file(file, &f)
    }

    fn from_file(file: &str, f: &WorkloadFile<'_>) -> Result<Workload> {
        let stem = file.rsplit('/').next().unwrap_or(file);
        let stem = stem.strip_suffix(".json").unwrap_or(stem);
        let name = f.name.map_or(stem, |n| n.0);
        check_name(name).map_err(|why| bad(file, "name", format_args!("{name:?}: {why}")))?;
        let store = f.store.filter(|s| !s.is_empty()).map(|s| s.to_string());
        if let Some(s) = &store {
            if !s.starts_with('/') {
                return Err(bad(file, "store", format_args!("{s:?} must be an absolute path")));
            }
            if f.bundle.is_some() {
                return Err(bad(
                    file,
                    "bundle",
                    format_args!("a workload has a bundle or a store (its revisions), not both"),
                ));
            }
        }
        let bundle = match f.bundle.filter(|b| !b.is_empty()) {
            Some(b) => b.0,
            None if store.is_some() => "",
            None => {
                return Err(bad(
                    file,
                    "bundle",
                    format_args!("is required: the directory holding the workload's config.json (or give \"store\")"),
                ))
            }
        };

        let dur = |path: &str, v: Option<Str<'_>>, default: Duration| -> Result<Duration> {
            match v {
                None => Ok(default),
                Some(s) => units::parse_duration(&s)
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| bad(file, path, format_args!("{:?}: {}", s.0, units::DURATION_HINT))),
            }
        };
        let one_of = |path: &str, v: Option<Str<'_>>, allowed: &[&'static str], default: usize| -> Result<usize> {
            match v {
                None => Ok(default),
                Some(s) => allowed.iter().position(|a| *a == s.0).ok_or_else(|| {
                    bad(
                        file,
                        path,
                        format_args!("{:?} is not allowed (expected one of: {})", s.0, allowed.join(", ")),
                    )
                }),
            }
        };

        let image = image_overrides(file, f.image.as_ref())?;
        let deploy = deploy_settings(file, f.deploy.as_ref(), &dur)?;

        let r = f.restart.clone().unwrap_or_default();
        let policy = [Policy::No, Policy::OnFailure, Policy::Always, Policy::UnlessStopped][one_of(
            "restart.policy",
            r.policy,
            &["no", "on-failure", "always", "unless-stopped"],
            2,
        )?];
        if r.max_retries.is_some() && policy != Policy::OnFailure {
            return Err(bad(
                file,
                "restart.maxRetries",
                format_args!("applies to the on-failure policy only"),
            ));
        }
        let b = r.backoff.unwrap_or_default();
        let backoff_initial = dur("restart.backoff.initial", b.initial, Duration::from_millis(100))?;
        let backoff_max = dur("restart.backoff.max", b.max, Duration::from_secs(60))?;
        if backoff_max < backoff_initial {
            return Err(bad(
                file,
                "restart.backoff.max",
                format_args!("is shorter than restart.backoff.initial"),
            ));
        }
        let reset_after = dur("restart.backoff.resetAfter", b.reset_after, Duration::from_secs(10))?;

        let sl = f.start_limit.clone().unwrap_or_default();
        let start_burst = sl.burst.unwrap_or(5);
        if start_burst == 0 || start_burst as usize > super::limits::MAX_START_BURST {
            return Err(bad(
                file,
                "startLimit.burst",
                format_args!(
                    "{start_burst}: use 1 to {} (MAX_START_BURST)",
                    super::limits::MAX_START_BURST
                ),
            ));
        }
        let start_interval = dur("startLimit.interval", sl.interval, Duration::from_secs(10))?;
        let limit_action = [LimitAction::Stop, LimitAction::Watchdog, LimitAction::Reboot]
            [one_of("startLimit.action", sl.action, &["stop", "watchdog", "reboot"], 0)?];

        let mut depends_on = Vec::new();
        for (i, d) in f.depends_on.iter().enumerate() {
            let path = format!("dependsOn[{i}]");
            check_name(&d.name).map_err(|why| bad(file, &path, format_args!("name {:?}: {why}", d.name.0)))?;
            if d.name.0 == name {
                return Err(bad(file, &path, format_args!("a workload cannot depend on itself")));
            }
            let c = [Condition::Started, Condition::Ready, Condition::Healthy][one_of(
                &format!("{path}.condition"),
                d.condition,
                &["started", "ready", "healthy"],
                0,
            )?];
            depends_on.push((d.name.to_string(), c));
        }

        let st = f.stop.clone().unwrap_or_default();
        let stop_signal = match st.signal {
            None => libc::SIGTERM,
            Some(s) => units::parse_signal(&s)
                .ok_or_else(|| bad(file, "stop.signal", format_args!("{:?}: {}", s.0, units::SIGNAL_HINT)))?,
        };
        let stop_timeout = dur("stop.timeout", st.timeout, Duration::from_secs(10))?;

        let rd = f.readiness.clone().unwrap_or_default();
        let readiness = match one_of("readiness.type", rd.kind, &["none", "notify", "fd"], 0)? {
            0 => Readiness::None,
            1 => Readiness::Notify,
            _ => {
                let n = rd
                    .fd
                    .ok_or_else(|| bad(file, "readiness.fd", format_args!("is required with \"type\": \"fd\"")))?;
                if !(3..=super::limits::MAX_READY_FD as u32).contains(&n) {
                    return Err(bad(
                        file,
                        "readiness.fd",
                        format_args!(
                            "{n}: use 3 to {} (MAX_READY_FD; 0 to 2 are stdio)",
                            super::limits::MAX_READY_FD
                        ),
                    ));
                }
                Readiness::Fd(n)
            }
        };
        if rd.fd.is_some() && !matches!(readiness, Readiness::Fd(_)) {
            return Err(bad(
                file,
                "readiness.fd",
                format_args!("applies to \"type\": \"fd\" only"),
            ));
        }
        let watchdog = match rd.watchdog {
            None => None,
            Some(w) if readiness == Readiness::Notify => Some(dur("readiness.watchdog", Some(w), Duration::ZERO)?),
            Some(_) => {
                return Err(bad(
                    file,
                    "readiness.watchdog",
                    format_args!("needs \"type\": \"notify\" (WATCHDOG=1 is an sd_notify message)"),
                ))
            }
        };
        let ready_timeout = match rd.timeout {
            None => None,
            Some(t) => Some(dur("readiness.timeout", Some(t), Duration::ZERO)?),
        };

        let health = match &f.health {
            None => None,
            Some(h) => {
                if h.exec.is_empty() || h.exec[0].is_empty() {
                    return Err(bad(
                        file,
                        "health.exec",
                        format_args!("names the check to run in the container, as [\"/bin/check\", \"arg\"]"),
                    ));
                }
                let retries = h.retries.unwrap_or(3);
                if retries == 0 {
                    return Err(bad(
                        file,
                        "health.retries",
                        format_args!("0: use 1 or more (failures in a row that make it unhealthy)"),
                    ));
                }
                Some(Health {
                    exec: h.exec.iter().map(|s| s.to_string()).collect(),
                    interval: dur("health.interval", h.interval, Duration::from_secs(30))?,
                    timeout: dur("health.timeout", h.timeout, Duration::from_secs(30))?,
                    retries,
                    start_period: match h.start_period {
                        None => Duration::ZERO,
                        Some(s) => dur("health.startPeriod", Some(s), Duration::ZERO)?,
                    },
                })
            }
        };

        let l = f.logs.clone().unwrap_or_default();
        let ring_bytes = l.ring_bytes.unwrap_or(64 * 1024);
        if ring_bytes > super::limits::MAX_LOG_RING_BYTES as u64 {
            return Err(bad(
                file,
                "logs.ringBytes",
                format_args!(
                    "{ring_bytes}: at most {} (MAX_LOG_RING_BYTES)",
                    super::limits::MAX_LOG_RING_BYTES
                ),
            ));
        }
        let file_path = l.file.filter(|p| !p.is_empty()).map(|p| p.to_string());
        if let Some(p) = &file_path {
            if !p.starts_with('/') {
                return Err(bad(file, "logs.file", format_args!("{p:?} must be an absolute path")));
            }
        }
        let keep = l.keep.unwrap_or(3);
        if keep as usize > super::limits::MAX_LOG_FILES {
            return Err(bad(
                file,
                "logs.keep",
                format_args!("{keep}: at most {} (MAX_LOG_FILES)", super::limits::MAX_LOG_FILES),
            ));
        }

        let mut env = Vec::new();
        for (i, e) in f.env.iter().enumerate() {
            if !e.contains('=') || e.starts_with('=') {
                return Err(bad(
                    file,
                    &format!("env[{i}]"),
                    format_args!("{:?}: use KEY=VALUE", e.0),
                ));
            }
            env.push(e.to_string());
        }

        Ok(Workload {
            name: name.to_string(),
            bundle: bundle.to_string(),
            store,
            revision: None,
            image,
            deploy,
            policy,
            max_retries: r.max_retries,
            backoff_initial,
            backoff_max,
            reset_after,
            start_burst,
            start_interval,
            limit_action,
            depends_on,
            stop_signal,
            stop_timeout,
            critical: f.critical,
            readiness,
            watchdog,
            ready_timeout,
            health,
            logs: Logs {
                ring_bytes: ring_bytes as usize,
                file: file_path,
                max_bytes: l.max_bytes.unwrap_or(1 << 20).max(1),
                keep,
            },
            env,
        })
    }
}

fn image_overrides(file: &str, j: Option<&ImageJson<'_>>) -> Result<ImageOverrides> {
    let Some(j) = j else {
        return Ok(ImageOverrides {
            host_network: true,
            ..Default::default()
        });
    };
    let list =
        |l: &Option<List<Str<'_>, MAX_OVERRIDE_ARGS>>| l.as_ref().map(|l| l.iter().map(|s| s.to_string()).collect());
    let mut volumes = Vec::new();
    for (i, v) in j.volumes.iter().enumerate() {
        let (host, ctr) = v.0.rsplit_once(':').unwrap_or(("", ""));
        if !ctr.starts_with('/') || !(host == "tmpfs" || host.starts_with('/')) {
            return Err(bad(
                file,
                &format!("image.volumes[{i}]"),
                format_args!(
                    "{:?}: use \"/host/dir:/path/in/container\" or \"tmpfs:/path/in/container\"",
                    v.0
                ),
            ));
        }
        volumes.push((host.to_string(), ctr.to_string()));
    }
    let host_network = match j.network.map(|n| n.0) {
        None | Some("host") => true,
        Some("none") => false,
        Some(o) => {
            return Err(bad(
                file,
                "image.network",
                format_args!("{o:?} is not allowed (expected one of: host, none)"),
            ))
        }
    };
    if let Some(w) = j.working_dir {
        if !w.starts_with('/') {
            return Err(bad(
                file,
                "image.workingDir",
                format_args!("{:?} must be an absolute path", w.0),
            ));
        }
    }
    Ok(ImageOverrides {
        entrypoint: list(&j.entrypoint),
        cmd: list(&j.cmd),
        user: j.user.filter(|u| !u.is_empty()).map(|u| u.to_string()),
        working_dir: j.working_dir.map(|w| w.to_string()),
        volumes,
        host_network,
    })
}

fn deploy_settings(
    file: &str,
    j: Option<&DeployJson<'_>>,
    dur: &dyn Fn(&str, Option<Str<'_>>, Duration) -> Result<Duration>,
) -> Result<DeploySettings> {
    let d = DeploySettings::default();
    let Some(j) = j else { return Ok(d) };
    let strategy = match j.strategy.map(|s| s.0) {
        None | Some("hand-over") => Strategy::HandOver,
        Some("stop-first") => Strategy::StopFirst,
        Some(o) => {
            return Err(bad(
                file,
                "deploy.strategy",
                format_args!("{o:?} is not allowed (expected one of: hand-over, stop-first)"),
            ))
        }
    };
    let keep = j.keep.unwrap_or(d.keep);
    if keep == 0 || keep as usize > MAX_KEEP {
        return Err(bad(
            file,
            "deploy.keep",
            format_args!("{keep}: use 1 to {MAX_KEEP} (MAX_KEEP; the current revision counts)"),
        ));
    }
    Ok(DeploySettings {
        strategy,
        commit_after: dur("deploy.commitAfter", j.commit_after, d.commit_after)?,
        timeout: dur("deploy.timeout", j.timeout, d.timeout)?,
        keep,
        allow_devices: j.allow_devices,
    })
}

/// Check a set of workloads together: unique names, dependencies that exist, no cycle.
/// Returns the indices in an order each one's dependencies come before it, or the index of
/// a workload that is in the way and why.
pub fn start_order(ws: &[&Workload]) -> core::result::Result<Vec<usize>, (usize, String)> {
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
        ws: &[&Workload],
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
            (r#"{"bundle":"/b","logs":{"ringBytes":99999999999}}"#, "logs.ringBytes: 99999999999: at most"),
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

    #[test]
    fn dependency_order_and_cycles() {
        let mk = |name: &str, deps: &[&str]| Workload {
            depends_on: deps.iter().map(|d| (d.to_string(), Condition::Started)).collect(),
            name: name.to_string(),
            ..parse(r#"{"bundle":"/b"}"#).unwrap()
        };
        let (a, b, c) = (mk("a", &["b"]), mk("b", &["c"]), mk("c", &[]));
        let order = start_order(&[&a, &b, &c]).unwrap();
        assert_eq!(order, [2, 1, 0]);
        let (x, y) = (mk("x", &["y"]), mk("y", &["x"]));
        assert!(start_order(&[&x, &y]).unwrap_err().1.contains("cycle"));
        assert_eq!(
            start_order(&[&a, &c]).unwrap_err(),
            (0, "\"a\" depends on \"b\", which no workload file names".to_string())
        );
        assert_eq!(start_order(&[&c, &c]).unwrap_err().0, 1);
    }
}
