//! The supervisor's verbs: `supervise` runs it; `status`, `start`, `stop`, `restart`,
//! `reload` and `logs` talk to it over its control socket; `notify` is systemd-notify for
//! workloads; `worker` holds the demo's small workload behaviours.

use crate::prelude::*;

use super::args;
use crate::error::{Error, Kind, Result, Step};
use crate::spec::value;
use crate::supervisor;
use core::fmt::Write as _;
use rustix::fd::{AsRawFd, OwnedFd};

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
    let bad = |e: String| Error::input("supervisor settings").ctx(format_args!("{file_path}: {e}"));
    // supervisor.json: {"watchdog":{"device","timeout","standIn"},"cgroupParent"}.
    let doc = if input.is_empty() { b"{}" } else { &input[..] };
    let file = value::document(doc).map_err(bad)?;
    let file_parent = file.str("cgroupParent").map_err(bad)?;
    let mut watchdog: Option<(String, u32)> = None;
    let mut stand_in = a.watchdog_stand_in;
    if let Some(w) = file.obj("watchdog", "watchdog").map_err(bad)? {
        let t = match w.str("timeout").map_err(bad)? {
            Some(t) => duration_secs("watchdog.timeout", &t).map_err(|e| {
                Error::input("supervisor settings").ctx(format_args!("{file_path}: watchdog.timeout: {}", e.context))
            })?,
            None => 15,
        };
        let device = w.str("device").map_err(bad)?;
        watchdog = Some((device.unwrap_or_else(|| "/dev/watchdog".into()), t));
        stand_in |= w.bool("standIn").map_err(bad)?;
    }
    if let Some(dev) = a.watchdog.as_deref() {
        watchdog = Some((dev.into(), watchdog.as_ref().map_or(15, |(_, t)| *t)));
    }
    if let Some(t) = a.watchdog_timeout.as_deref() {
        let t = duration_secs("--watchdog-timeout", t)?;
        watchdog = Some((watchdog.map_or_else(|| "/dev/watchdog".into(), |(d, _)| d), t));
    }
    let parent = a.cgroup_parent.as_deref().or(file_parent.as_deref());
    if let Some(parent) = parent {
        if !parent.starts_with('/') || parent.split('/').any(|c| c == "..") {
            return Err(Error::usage("--cgroup-parent").ctx(format_args!("{parent:?}: give an absolute cgroup path")));
        }
    }
    let o = supervisor::Options {
        root,
        config_dir: a.config_dir.as_deref().unwrap_or(DEFAULT_CONFIG_DIR),
        watchdog: watchdog.as_ref().map(|(d, t)| (d.as_str(), *t)),
        watchdog_stand_in: stand_in,
        cgroup_parent: parent,
        print_status: a.print_status,
        run_for: None,
    };
    supervisor::supervise(&o, say)
}

/// Read the first line of the supervisor's reply: `{"ok":true}` (with a "message" for some
/// requests), or its error as the CLI's error (its kind keeps the exit code). Returns the
/// message and what was read past the line (the start of a status or a log).
pub fn reply(fd: &OwnedFd) -> Result<(Option<String>, Vec<u8>)> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    // A reload's error line lists every broken file's error: up to MAX_WORKLOADS of them.
    while !all.contains(&b'\n') && all.len() < 8 << 20 {
        match crate::sys::fs::read(fd.as_raw_fd(), &mut buf) {
            Ok(0) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) => return Err(Error::sys("read the supervisor's reply", e)),
        }
    }
    let n = all.iter().position(|b| *b == b'\n').unwrap_or(all.len());
    let rest = all.get(n + 1..).unwrap_or_default().to_vec();
    let unreadable = |e: String| Error::failed("supervisor").ctx(format_args!("an unreadable reply: {e}"));
    let r = value::document(&all[..n]).map_err(unreadable)?;
    if r.bool("ok").map_err(unreadable)? {
        return Ok((r.str("message").map_err(unreadable)?, rest));
    }
    let kind = match r.str("kind").map_err(unreadable)?.as_deref() {
        Some("usage") => Kind::Usage,
        Some("input") => Kind::Input,
        Some("not-implemented") => Kind::NotImplemented,
        _ => Kind::Failed,
    };
    let error = r.str("error").map_err(unreadable)?;
    Err(Error::new(kind, "supervisor:").ctx(format_args!("{}", error.as_deref().unwrap_or("failed"))))
}

/// Copy the rest of a reply to stdout (`first`, what [`reply`] read past its line, then the
/// connection until the supervisor closes it).
fn copy_out(fd: &OwnedFd, first: &[u8]) {
    if crate::sys::fs::write_all(1, first).is_err() {
        return;
    }
    let mut buf = [0u8; 8192];
    while let Ok(n @ 1..) = crate::sys::fs::read(fd.as_raw_fd(), &mut buf) {
        if crate::sys::fs::write_all(1, &buf[..n]).is_err() {
            break;
        }
    }
}

/// A request line: `{"op":OP` with `name` when given, then `more` (`,"key":value` pairs).
fn request_line(op: &str, name: Option<&str>, more: &str) -> String {
    let mut line = format!("{{\"op\":\"{op}\"");
    if let Some(n) = name {
        let _ = write!(line, ",\"name\":{}", crate::spec::out::JsonStr(n));
    }
    line.push_str(more);
    line.push('}');
    line
}

/// A simple request: ok, or the supervisor's error.
pub fn simple(root: &str, op: &str, name: Option<&str>) -> Result<i32> {
    let fd = supervisor::request(root, &request_line(op, name, ""))?;
    reply(&fd)?;
    Ok(0)
}

/// `mote status [NAME] [--format table|json]`: the supervisor writes it.
pub fn status(root: &str, a: &args::Status) -> Result<i32> {
    let format = match a.format.as_deref() {
        None | Some("table") => ",\"format\":\"table\"",
        Some("json") => ",\"format\":\"json\"",
        Some(f) => return Err(Error::usage("status").ctx(format_args!("--format {f:?}: use table or json"))),
    };
    let fd = supervisor::request(root, &request_line("status", a.name.as_deref(), format))?;
    let (_, first) = reply(&fd)?;
    copy_out(&fd, &first);
    Ok(0)
}

/// `mote logs NAME [--follow] [--tail N]`.
pub fn logs(root: &str, a: &args::Logs) -> Result<i32> {
    let mut more = String::new();
    if let Some(n) = a.tail {
        let _ = write!(more, ",\"tail\":{n}");
    }
    if a.follow {
        more.push_str(",\"follow\":true");
    }
    let fd = supervisor::request(root, &request_line("logs", Some(&a.name), &more))?;
    // The first line is the reply; what follows is the log, until the supervisor closes.
    let (_, first) = reply(&fd)?;
    copy_out(&fd, &first);
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
