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

use crate::prelude::*;

use crate::error::{Error, Result, Step};
use crate::spec::json::PoolList;
use crate::spec::{Config, Hook};
use crate::sys::{self, fs, proc};
use rustix::fd::AsRawFd;

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

    fn list<'a>(self, cfg: &Config<'a>) -> Option<PoolList<Hook<'a>>> {
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

/// The longest the hooks of `kind` may take together, in seconds (each its `timeout`, or
/// DEFAULT_HOOK_TIMEOUT_SECS).
pub fn time_bound(cfg: &Config<'_>, kind: Kind) -> u64 {
    kind.list(cfg)
        .map_or(0, |l| cfg.items(l).iter().map(|h| timeout_secs(h).0).sum())
}

/// A hook's timeout in seconds, and whether it is the default (the hook gives none).
fn timeout_secs(h: &Hook<'_>) -> (u64, bool) {
    match h.timeout.filter(|t| *t > 0) {
        Some(t) => (t as u64, false),
        None => (crate::spec::limits::DEFAULT_HOOK_TIMEOUT_SECS as u64, true),
    }
}

/// Does the config have hooks of this kind?
pub fn any(cfg: &Config<'_>, kind: Kind) -> bool {
    kind.list(cfg).is_some_and(|l| !l.is_empty())
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
    use alloc::ffi::CString;
    let path = h.path.0;
    let cstr = |what: &'static str, v: &str| {
        CString::new(v).map_err(|_| Error::input(what).ctx(format_args!("{v:?} holds a NUL byte")))
    };
    // argv and envp, made before the fork.
    let c_path = cstr("hook path", path)?;
    let mut args = Vec::new();
    for a in cfg.strs(h.args) {
        args.push(cstr("hook args", a)?);
    }
    if args.is_empty() {
        args.push(c_path.clone());
    }
    let mut env = Vec::new();
    for e in cfg.strs(h.env) {
        env.push(cstr("hook env", e)?);
    }
    let (argv, envp) = (proc::CArray::new(args), proc::CArray::new(env));
    let ns = if host_ns { proc::host_mount_ns() } else { None };
    let (in_r, in_w) = sys::pipe().step("pipe for a hook")?;
    let (err_r, err_w) = sys::pipe().step("pipe for a hook")?;

    let pid = match proc::fork().step("fork a hook")? {
        proc::Fork::Child => {
            // The host's mount namespace for the runtime's hooks (mote create runs in a
            // private one: the CVE-2019-5736 defense); the state on stdin, stdout to
            // /dev/null, stderr to the pipe.
            // A process group of its own: a timeout kills the hook and what it started. No
            // signal blocked (a caller waiting for signals may have blocked some).
            let _ = proc::setpgid(0, 0);
            let _ = proc::sigprocmask(libc::SIG_SETMASK, &proc::SigSet::empty());
            if let Some(fd) = ns {
                // Under QEMU user-mode (a multithreaded emulator) setns into a mount namespace
                // fails: the hook then runs in mote's, which it says on its stderr.
                if let Err(e) = sys::setns(fd, libc::CLONE_NEWNS) {
                    let msg = format!(
                        "mote: hook left in mote's mount namespace: setns: {}\n",
                        crate::error::errno_name(e)
                    );
                    let _ = fs::write_all(err_w.as_raw_fd(), msg.as_bytes());
                }
                sys::close_raw(fd);
            }
            let null = fs::open("/dev/null", libc::O_WRONLY, 0);
            let ok = sys::dup2(in_r.as_raw_fd(), 0).is_ok()
                && null.is_ok_and(|n| sys::dup2(n.as_raw_fd(), 1).is_ok())
                && sys::dup2(err_w.as_raw_fd(), 2).is_ok();
            if !ok {
                proc::exit_now(126);
            }
            let e = proc::execve(&c_path, &argv, &envp);
            let msg = format!("exec {path}: {}\n", crate::error::errno_text(e));
            let _ = fs::write_all(2, msg.as_bytes());
            proc::exit_now(127)
        }
        proc::Fork::Parent(pid) => pid,
    };
    drop(in_r);
    drop(err_w);
    // The state on stdin (a hook that does not read it closes the pipe: EPIPE is fine).
    let _ = fs::write_all(in_w.as_raw_fd(), state.as_bytes());
    drop(in_w);
    // Wait, reading stderr meanwhile (a hook that writes more than a pipe holds must not
    // block) and keeping its first 512 bytes for the error; kill it at its timeout. Asleep in
    // poll until the hook exits (its pidfd), writes, or the time is up; without pidfds
    // (Linux < 5.3) the exit is checked every 20 ms.
    let (secs, default) = timeout_secs(h);
    let deadline = crate::sys::env::monotonic() + core::time::Duration::from_secs(secs);
    let pidfd = proc::pidfd_open(pid).ok();
    let mut kept: heapless::Vec<u8, 512> = heapless::Vec::new();
    let mut err_open = true;
    let mut buf = [0u8; 4096];
    let status = loop {
        if pidfd.is_none() {
            if let Ok((p, st)) = proc::waitpid(pid, libc::WNOHANG) {
                if p == pid {
                    break st;
                }
            }
        }
        let now = crate::sys::env::monotonic();
        if now >= deadline {
            // Its process group, and the hook itself: a child stopped before its setpgid has
            // no group yet, and waitpid would wait for it forever.
            let _ = proc::kill(-pid, libc::SIGKILL);
            let _ = proc::kill(pid, libc::SIGKILL);
            let _ = proc::waitpid(pid, 0);
            return Err(Error::failed("hook").ctx(format_args!(
                "{path} timed out after {secs} s ({})",
                if default {
                    "it has no timeout: DEFAULT_HOOK_TIMEOUT_SECS in src/spec/limits.rs; give the hook a \"timeout\""
                } else {
                    "its timeout"
                }
            )));
        }
        let left = (deadline - now).as_millis().min(i32::MAX as u128) as i32;
        let mut fds = [
            libc::pollfd {
                fd: pidfd.as_ref().map_or(-1, |p| p.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if err_open { err_r.as_raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let _ = sys::poll(&mut fds, if pidfd.is_some() { left } else { left.min(20) });
        if fds[1].revents != 0 {
            match fs::read(err_r.as_raw_fd(), &mut buf) {
                Ok(0) | Err(_) => err_open = false,
                Ok(n) => {
                    let room = kept.capacity() - kept.len();
                    let _ = kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        if fds[0].revents != 0 {
            match proc::waitpid(pid, 0) {
                Ok((_, st)) => break st,
                Err(e) => return Err(Error::sys("wait for a hook", e).ctx(format_args!("{path}"))),
            }
        }
    };
    // What it wrote last.
    while err_open && sys::poll1(err_r.as_raw_fd(), libc::POLLIN, 0).unwrap_or(0) != 0 {
        match fs::read(err_r.as_raw_fd(), &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = kept.capacity() - kept.len();
                let _ = kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        return Ok(());
    }
    let how = if libc::WIFSIGNALED(status) {
        format!("was killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("exited with status {}", libc::WEXITSTATUS(status))
    };
    let text = String::from_utf8_lossy(&kept);
    let text = text.trim();
    Err(Error::failed("hook").ctx(format_args!(
        "{path} {how}{}{text}",
        if text.is_empty() { "" } else { ": " }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(hooks: &str) -> crate::spec::ConfigDoc {
        let json = format!("{{\"ociVersion\":\"1.2.0\",\"hooks\":{hooks}}}");
        let buf = json.into_bytes();
        let n = buf.len();
        crate::spec::ConfigDoc::parse(buf, n, |i, a| crate::spec::parse_config(i, a)).unwrap()
    }

    /// A hook gets the state on stdin, its own args (args[0] as argv[0]) and env only.
    #[test]
    fn a_hook_reads_the_state_and_gets_its_args_and_env() {
        let out = std::env::temp_dir().join(format!("mote-hook-test-{}", std::process::id()));
        let doc = config(&format!(
            r#"{{"poststop":[{{"path":"/bin/sh","args":["name-of-hook","-c","cat > {0}; head -c 12 /proc/$$/cmdline >> {0}; echo \" $0 $1 $X $HOME\" >> {0}","zero","one"],"env":["X=y"]}}]}}"#,
            out.display()
        ));
        run(doc.config(), Kind::Poststop, "{\"id\":\"c\"}").unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(text, "{\"id\":\"c\"}name-of-hook zero one y \n");
        let _ = std::fs::remove_file(&out);
    }

    /// A failing hook's error names the hook, how it ended and its stderr.
    #[test]
    fn a_failing_hook_says_why() {
        let doc = config(
            r#"{"prestart":[{"path":"/bin/true"},{"path":"/bin/sh","args":["sh","-c","echo broken >&2; exit 3"]}]}"#,
        );
        let e = run(doc.config(), Kind::Prestart, "{}").unwrap_err();
        let text = format!("{e}");
        assert!(
            text.contains("exited with status 3") && text.contains("broken") && text.contains("hooks.prestart[1]"),
            "{text}"
        );
        let doc = config(r#"{"prestart":[{"path":"/no/such/hook"}]}"#);
        let text = format!("{}", run(doc.config(), Kind::Prestart, "{}").unwrap_err());
        assert!(text.contains("status 127"), "{text}");
    }

    /// A hook past its timeout is killed with what it started (its process group).
    #[test]
    fn a_hook_past_its_timeout_is_killed() {
        let doc = config(r#"{"poststart":[{"path":"/bin/sh","args":["sh","-c","sleep 30 & sleep 30"],"timeout":1}]}"#);
        let t = crate::sys::env::monotonic();
        let text = format!("{}", run(doc.config(), Kind::Poststart, "{}").unwrap_err());
        assert!(text.contains("timed out after 1 s (its timeout)"), "{text}");
        assert!(crate::sys::env::monotonic() - t < core::time::Duration::from_secs(5));
        assert_eq!(time_bound(doc.config(), Kind::Poststart), 1);
        let doc = config(r#"{"poststart":[{"path":"/bin/true"},{"path":"/bin/true","timeout":7}]}"#);
        assert_eq!(
            time_bound(doc.config(), Kind::Poststart),
            crate::spec::limits::DEFAULT_HOOK_TIMEOUT_SECS as u64 + 7
        );
    }
}
