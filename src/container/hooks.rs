//! OCI hooks (runtime-spec config.md, "POSIX-platform Hooks"): when each kind runs, and where.
//!
//! | kind            | run by                          | when                                        |
//! |-----------------|---------------------------------|---------------------------------------------|
//! | prestart        | `mote create`, host namespaces  | the init asks (HOOKS), after its mounts and devices, before masking and pivot_root |
//! | createRuntime   | `mote create`, host namespaces  | right after prestart                        |
//! | createContainer | the init, container namespaces  | after createRuntime, before pivot_root (paths resolve on the host) |
//! | startContainer  | the init, container namespaces  | after `start`, just before the program is executed (paths resolve in the container) |
//! | poststart       | `mote start` / `mote run`       | once the program has been let go; a failure kills the container (as runc) |
//! | poststop        | `mote delete`                   | once the container is gone; a failure is a warning |
//!
//! Each hook gets the container's state on stdin, only its own `env`, its `args` (args[0] as
//! its argv[0]), and is killed after `timeout` seconds. A failing hook's stderr (its first
//! 512 bytes) is part of the error.

use crate::error::{Error, Result};
use crate::spec::json::{PList, Str};
use crate::spec::out::Esc;
use crate::spec::{Config, Hook};
use core::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    /// Run in the runtime's namespaces (else in the container's, by the init).
    fn in_runtime_namespace(self) -> bool {
        !matches!(self, Kind::CreateContainer | Kind::StartContainer)
    }

    fn list<'a>(self, cfg: &Config<'a>) -> Option<PList<Hook<'a>>> {
        let h = cfg.spec.hooks.as_ref()?;
        Some(match self {
            Kind::Prestart => h.prestart,
            Kind::CreateRuntime => h.create_runtime,
            Kind::CreateContainer => h.create_container,
            Kind::StartContainer => h.start_container,
            Kind::Poststart => h.poststart,
            Kind::Poststop => h.poststop,
        })
    }
}

/// Does the config have hooks of this kind?
pub fn any(cfg: &Config<'_>, kind: Kind) -> bool {
    kind.list(cfg).is_some_and(|l| !l.is_empty())
}

/// The state document a hook reads on stdin.
pub fn state_json(id: &str, status: &str, pid: i32, bundle: &str, annotations: &[(Str<'_>, Str<'_>)]) -> String {
    let mut s = String::with_capacity(256);
    let _ = write!(
        s,
        "{{\"ociVersion\":\"{}\",\"id\":{},\"status\":\"{status}\",\"pid\":{pid},\"bundle\":{},\"annotations\":{{",
        crate::SPEC_VERSION,
        Esc(id),
        Esc(bundle)
    );
    for (i, (k, v)) in annotations.iter().enumerate() {
        let _ = write!(s, "{}{}:{}", if i > 0 { "," } else { "" }, Esc(k), Esc(v));
    }
    s.push_str("}}");
    s
}

/// Run the hooks of `kind` in order; the first failure is the error, naming `hooks.KIND[i]`.
pub fn run(cfg: &Config<'_>, kind: Kind, state: &str) -> Result<()> {
    let Some(list) = kind.list(cfg) else {
        return Ok(());
    };
    for (i, h) in cfg.items(list).iter().enumerate() {
        run_one(cfg, h, state, kind.in_runtime_namespace())
            .map_err(|e| e.ctx(format_args!(" (hooks.{}[{i}])", kind.name())))?;
    }
    Ok(())
}

fn run_one(cfg: &Config<'_>, h: &Hook<'_>, state: &str, host_ns: bool) -> Result<()> {
    use std::io::{Read, Write};
    use std::os::unix::process::CommandExt as _;
    use std::process::{Command, Stdio};
    let path = h.path.0;
    let args = cfg.strs(h.args);
    let mut cmd = Command::new(path);
    if let Some(a0) = args.first() {
        cmd.arg0(a0.0);
    }
    cmd.args(args.iter().skip(1).map(|a| a.0)).env_clear();
    for e in cfg.strs(h.env) {
        if let Some((k, v)) = e.0.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    // mote create/run run in a private mount namespace of their own (the CVE-2019-5736
    // defense): the hooks of the runtime's namespaces go back to the host's.
    if host_ns {
        if let Some(fd) = crate::sys::proc::host_mount_ns() {
            crate::sys::proc::spawn_in_mount_ns(&mut cmd, fd);
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::sys("run hook", e.raw_os_error().unwrap_or(libc::EIO)).ctx(format_args!("{path}")))?;
    // The state on stdin (a hook that does not read it closes the pipe: EPIPE is fine).
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(state.as_bytes());
    }
    // stderr drained meanwhile (a hook that writes more than a pipe holds must not block),
    // its first 512 bytes kept for the error.
    let drain = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = e.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = 512usize.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            kept
        })
    });
    let deadline = h
        .timeout
        .filter(|t| *t > 0)
        .map(|t| (t, std::time::Instant::now() + std::time::Duration::from_secs(t as u64)));
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => return Err(Error::sys("wait for hook", e.raw_os_error().unwrap_or(libc::EIO))),
        }
        if let Some((t, at)) = deadline {
            if std::time::Instant::now() >= at {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::failed("hook").ctx(format_args!("{path} timed out after {t} s (timeout)")));
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let err = drain.and_then(|d| d.join().ok()).unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let how = match (status.code(), std::os::unix::process::ExitStatusExt::signal(&status)) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => "failed".to_string(),
    };
    let text = String::from_utf8_lossy(&err);
    let text = text.trim();
    Err(Error::failed("hook").ctx(format_args!(
        "{path} {how}{}{text}",
        if text.is_empty() { "" } else { ": " }
    )))
}
