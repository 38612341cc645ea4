//! The supervisor's verbs: `supervise` runs it; `status`, `start`, `stop`, `restart`,
//! `reload` and `logs` talk to it over its control socket; `notify` is systemd-notify for
//! workloads; `worker` holds the demo's small workload behaviours.

use crate::prelude::*;

use super::args;
use crate::error::{Error, Kind, Result, Step};
use crate::json_object;
use crate::spec::json::{List, Str};
use crate::spec::limits;
use crate::supervisor;
use core::fmt::Write as _;
use rustix::fd::{AsRawFd, OwnedFd};

json_object! {
    /// supervisor.json: the supervisor's own settings.
    pub struct SupervisorFile<'a> {
        "watchdog" => watchdog: Option<WatchdogJson<'a>>,
        "cgroupParent" => cgroup_parent: Option<Str<'a>>,
    }
}

json_object! {
    pub struct WatchdogJson<'a> {
        "device" => device: Option<Str<'a>>,
        "timeout" => timeout: Option<Str<'a>>,
        "standIn" => stand_in: bool,
    }
}

/// The default directory of workload files.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/mote/workloads";
/// The default supervisor settings file (read when it exists).
pub const DEFAULT_CONFIG: &str = "/etc/mote/supervisor.json";

fn duration_secs(flag: &'static str, s: &str) -> Result<u32> {
    let d = crate::spec::units::parse_duration(s)
        .ok_or_else(|| Error::usage(flag).ctx(format_args!("{s:?}: {}", crate::spec::units::DURATION_HINT)))?;
    Ok(d.as_secs().clamp(1, 3600) as u32)
}

/// `mote supervise`.
pub fn supervise(root: &str, a: &args::Supervise, say: &mut dyn FnMut(core::fmt::Arguments<'_>)) -> Result<i32> {
    // supervisor.json, when there is one (or when named).
    let file_path = a.config.as_deref().unwrap_or(DEFAULT_CONFIG);
    let input = match crate::spec::read_input(file_path) {
        Ok(b) => b,
        Err(libc::ENOENT) if a.config.is_none() => Vec::new(),
        Err(e) => return Err(Error::sys("read the supervisor's settings", e).ctx(format_args!("{file_path}"))),
    };
    let mut arena = vec![0u8; input.len()];
    let mut pools = Default::default();
    let file = if input.is_empty() {
        SupervisorFile::default()
    } else {
        crate::spec::parse_doc::<SupervisorFile<'_>>(&input, &mut arena, &mut pools)
            .map_err(|e| Error::input("supervisor settings").ctx(format_args!("{file_path}: {e}")))?
    };
    let mut watchdog = None;
    let mut stand_in = a.watchdog_stand_in;
    if let Some(w) = &file.watchdog {
        let t = match w.timeout {
            Some(t) => duration_secs("watchdog.timeout", &t).map_err(|e| {
                Error::input("supervisor settings").ctx(format_args!("{file_path}: watchdog.timeout: {}", e.context))
            })?,
            None => 15,
        };
        watchdog = Some((w.device.map_or("/dev/watchdog", |d| d.0), t));
        stand_in |= w.stand_in;
    }
    if let Some(dev) = a.watchdog.as_deref() {
        watchdog = Some((dev, watchdog.map_or(15, |(_, t)| t)));
    }
    if let Some(t) = a.watchdog_timeout.as_deref() {
        let t = duration_secs("--watchdog-timeout", t)?;
        watchdog = Some((watchdog.map_or("/dev/watchdog", |(d, _)| d), t));
    }
    let parent = a.cgroup_parent.as_deref().or(file.cgroup_parent.map(|p| p.0));
    if let Some(parent) = parent {
        if !parent.starts_with('/') || parent.split('/').any(|c| c == "..") {
            return Err(Error::usage("--cgroup-parent").ctx(format_args!("{parent:?}: give an absolute cgroup path")));
        }
    }
    let o = supervisor::Options {
        root,
        config_dir: a.config_dir.as_deref().unwrap_or(DEFAULT_CONFIG_DIR),
        watchdog,
        watchdog_stand_in: stand_in,
        cgroup_parent: parent,
        print_status: a.print_status,
        run_for: None,
    };
    supervisor::supervise(&o, say)
}

json_object! {
    /// A reply of the supervisor (its first line).
    pub struct Reply<'a> {
        "ok" => ok: bool,
        "kind" => kind: Option<Str<'a>>,
        "error" => error: Option<Str<'a>>,
        "watchdog" => watchdog: Option<WatchdogStatus<'a>>,
        "firstWorkloadMs" => first_ms: Option<i64>,
    }
}

json_object! {
    /// The second line of a status reply.
    pub struct Workloads<'a> {
        "workloads" => workloads: List<StatusEntry<'a>, { limits::MAX_WORKLOADS * 2 }>,
    }
}

json_object! {
    pub struct StatusEntry<'a> {
        "name" => name: Str<'a>,
        "revision" => revision: Option<Str<'a>>,
        "candidate" => candidate: bool,
        "state" => state: Str<'a>,
        "pid" => pid: i32,
        "restarts" => restarts: u32,
        "health" => health: Str<'a>,
        "uptime" => uptime: u64,
        "lastExit" => last_exit: Option<Str<'a>>,
        "memory" => memory: i64,
        "ready" => ready: bool,
        "critical" => critical: bool,
        "statusText" => status_text: Str<'a>,
        "healthOutput" => health_output: Str<'a>,
        "error" => error: Str<'a>,
    }
}

json_object! {
    pub struct WatchdogStatus<'a> {
        "device" => device: Str<'a>,
        "timeout" => timeout: u32,
        "petting" => petting: bool,
        "lastResetByWatchdog" => last_reset: bool,
    }
}

/// Read the first line of a reply (bounded) and the rest.
fn read_reply(fd: &OwnedFd) -> Result<(Vec<u8>, Vec<u8>)> {
    let all = crate::sys::fs::read_fd_to_end(fd.as_raw_fd(), 8 << 20).step("read the supervisor's reply")?;
    let n = all.iter().position(|b| *b == b'\n').unwrap_or(all.len());
    Ok((all[..n].to_vec(), all[(n + 1).min(all.len())..].to_vec()))
}

/// A reply's error as the CLI's error (its kind keeps the exit code).
fn reply_error(r: &Reply<'_>) -> Error {
    let kind = match r.kind.map(|k| k.0) {
        Some("usage") => Kind::Usage,
        Some("input") => Kind::Input,
        Some("not-implemented") => Kind::NotImplemented,
        _ => Kind::Failed,
    };
    Error::new(kind, "supervisor:").ctx(format_args!("{}", r.error.map_or("failed", |e| e.0)))
}

fn parse_reply<'a>(line: &'a [u8], arena: &'a mut [u8]) -> Result<Reply<'a>> {
    let mut pools = Default::default();
    crate::spec::parse_doc::<Reply<'a>>(line, arena, &mut pools)
        .map_err(|e| Error::failed("supervisor").ctx(format_args!("an unreadable reply: {e}")))
}

/// A simple request: ok, or the supervisor's error.
pub fn simple(root: &str, op: &str, name: Option<&str>) -> Result<i32> {
    let mut line = format!("{{\"op\":\"{op}\"");
    if let Some(n) = name {
        let _ = write!(line, ",\"name\":{}", crate::spec::out::JsonStr(n));
    }
    line.push('}');
    let fd = supervisor::request(root, &line)?;
    let (first, _) = read_reply(&fd)?;
    let mut arena = vec![0u8; first.len()];
    let r = parse_reply(&first, &mut arena)?;
    if r.ok {
        Ok(0)
    } else {
        Err(reply_error(&r))
    }
}

/// `mote status [NAME] [--format table|json]`.
pub fn status(root: &str, a: &args::Status) -> Result<i32> {
    let fd = supervisor::request(root, "{\"op\":\"status\"}")?;
    let (first, rest) = read_reply(&fd)?;
    let mut arena = vec![0u8; first.len()];
    let r = parse_reply(&first, &mut arena)?;
    if !r.ok {
        return Err(reply_error(&r));
    }
    // The second line: {"workloads":[...]}.
    let second = rest.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let mut arena2 = vec![0u8; second.len()];
    let mut pools = Default::default();
    let list = crate::spec::parse_doc::<Workloads<'_>>(second, &mut arena2, &mut pools)
        .map_err(|e| Error::failed("supervisor").ctx(format_args!("an unreadable status: {e}")))?;
    let array = match (
        second.iter().position(|b| *b == b'['),
        second.iter().rposition(|b| *b == b']'),
    ) {
        (Some(a), Some(b)) if a < b => &second[a..=b],
        _ => b"[]",
    };
    let shown: Vec<&StatusEntry<'_>> = list
        .workloads
        .iter()
        .filter(|w| a.name.as_deref().is_none_or(|n| n == w.name.0))
        .collect();
    if let Some(n) = a.name.as_deref() {
        if shown.is_empty() {
            return Err(Error::failed("status").ctx(format_args!("no workload {n:?}")));
        }
    }
    match a.format.as_deref() {
        Some("json") => {
            if a.name.is_none() {
                // The array of workloads, as the supervisor wrote it.
                outln!("{}", core::str::from_utf8(array).unwrap_or("[]"));
            } else {
                // One workload: rebuild its object from the parsed fields.
                let mut o = String::from("[");
                for (i, w) in shown.iter().enumerate() {
                    let _ = write!(o, "{}{}", if i > 0 { "," } else { "" }, entry_json(w));
                }
                o.push(']');
                outln!("{o}");
            }
        }
        None | Some("table") => {
            if let Some(ms) = r.first_ms.filter(|m| *m >= 0) {
                outln!("first workload running {ms} ms after the supervisor started");
            }
            if let Some(w) = &r.watchdog {
                outln!(
                    "watchdog {}: timeout {} s, {}{}",
                    w.device,
                    w.timeout,
                    if w.petting {
                        "petting"
                    } else {
                        "NOT petting (the board will reset)"
                    },
                    if w.last_reset {
                        "; the last reset was caused by the watchdog"
                    } else {
                        ""
                    }
                );
            }
            let mut t = String::new();
            let _ = writeln!(
                t,
                "{:<16} {:<10} {:>7} {:>8} {:<9} {:>8} {:>9}  LAST EXIT",
                "NAME", "STATE", "PID", "RESTARTS", "HEALTH", "UPTIME", "MEMORY"
            );
            for w in &shown {
                let mem = if w.memory < 0 {
                    "-".to_string()
                } else {
                    human(w.memory as u64)
                };
                // A workload from a store: its revision (a new one under test marked so).
                let name = match w.revision {
                    Some(r) => format!(
                        "{}@{}{}",
                        w.name,
                        r.0.get(..8).unwrap_or(r.0),
                        if w.candidate { "*" } else { "" }
                    ),
                    None => w.name.to_string(),
                };
                let _ = writeln!(
                    t,
                    "{:<16} {:<10} {:>7} {:>8} {:<9} {:>8} {:>9}  {}",
                    name,
                    w.state,
                    if w.pid > 0 { w.pid.to_string() } else { "-".into() },
                    w.restarts,
                    w.health,
                    if w.uptime > 0 || w.state.0 != "stopped" {
                        uptime(w.uptime)
                    } else {
                        "-".into()
                    },
                    mem,
                    w.last_exit.map_or("-", |e| e.0)
                );
                if !w.error.is_empty() {
                    let _ = writeln!(t, "  {}: {}", w.name, w.error);
                }
            }
            out!("{t}");
        }
        Some(f) => return Err(Error::usage("status").ctx(format_args!("--format {f:?}: use table or json"))),
    }
    Ok(0)
}

/// One status entry as JSON again.
fn entry_json(w: &StatusEntry<'_>) -> String {
    use crate::spec::out::JsonStr;
    format!(
        "{{\"name\":{},\"revision\":{},\"candidate\":{},\"state\":{},\"pid\":{},\"restarts\":{},\"health\":{},\"uptime\":{},\"lastExit\":{},\"memory\":{},\"ready\":{},\"critical\":{},\"statusText\":{},\"healthOutput\":{},\"error\":{}}}",
        JsonStr(&w.name),
        w.revision.map_or("null".to_string(), |r| format!("{}", JsonStr(&r))),
        w.candidate,
        JsonStr(&w.state),
        w.pid,
        w.restarts,
        JsonStr(&w.health),
        w.uptime,
        w.last_exit.map_or("null".to_string(), |e| format!("{}", JsonStr(&e))),
        w.memory,
        w.ready,
        w.critical,
        JsonStr(&w.status_text),
        JsonStr(&w.health_output),
        JsonStr(&w.error)
    )
}

fn uptime(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86400, s % 86400 / 3600),
    }
}

fn human(b: u64) -> String {
    match b {
        0..=1023 => format!("{b}B"),
        1024..=1_048_575 => format!("{}K", b / 1024),
        _ => format!("{}.{}M", b >> 20, (b & 0xfffff) * 10 >> 20),
    }
}

/// `mote logs NAME [--follow] [--tail N]`.
pub fn logs(root: &str, a: &args::Logs) -> Result<i32> {
    let mut line = format!("{{\"op\":\"logs\",\"name\":{}", crate::spec::out::JsonStr(&a.name));
    if let Some(n) = a.tail {
        let _ = write!(line, ",\"tail\":{n}");
    }
    if a.follow {
        line.push_str(",\"follow\":true");
    }
    line.push('}');
    let fd = supervisor::request(root, &line)?;
    // The first line is the reply; what follows is the log, until the supervisor closes.
    let mut first = Vec::new();
    let mut b = [0u8; 1];
    while first.len() < 64 * 1024 {
        match crate::sys::fs::read(fd.as_raw_fd(), &mut b) {
            Ok(1) if b[0] == b'\n' => break,
            Ok(1) => first.push(b[0]),
            _ => break,
        }
    }
    let mut arena = vec![0u8; first.len()];
    let r = parse_reply(&first, &mut arena)?;
    if !r.ok {
        return Err(reply_error(&r));
    }
    let mut buf = [0u8; 8192];
    loop {
        match crate::sys::fs::read(fd.as_raw_fd(), &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if crate::sys::fs::write_all(1, &buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    Ok(0)
}

/// `mote notify`: systemd-notify for workloads (sd_notify on $NOTIFY_SOCKET).
pub fn notify(a: &args::Notify) -> Result<i32> {
    let mut msg = String::new();
    if a.ready {
        msg.push_str("READY=1\n");
    }
    if a.stopping {
        msg.push_str("STOPPING=1\n");
    }
    if a.watchdog {
        msg.push_str("WATCHDOG=1\n");
    }
    if let Some(s) = &a.status {
        let _ = writeln!(msg, "STATUS={s}");
    }
    for v in &a.vars {
        if !v.contains('=') {
            return Err(Error::usage("notify").ctx(format_args!("{v:?}: use VARIABLE=VALUE")));
        }
        let _ = writeln!(msg, "{v}");
    }
    if msg.is_empty() {
        return Err(Error::usage("notify").ctx(format_args!("nothing to send: --ready, --status TEXT, or VAR=VALUE")));
    }
    if crate::sys::env::var("NOTIFY_SOCKET").is_none_or(|p| p.is_empty()) {
        return Err(Error::failed("notify").ctx(format_args!("NOTIFY_SOCKET is not set: not run by a supervisor")));
    }
    supervisor::notify::send_to_manager(&msg).step("notify: send to $NOTIFY_SOCKET")?;
    Ok(0)
}
