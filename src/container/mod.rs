//! Container lifecycle operations: the library the CLI and the supervisor call.
//!
//! One file per verb, as crun lays out libcrun: each holds the verb's one public function.
//! `create` and `exec` fork; `create` owns the rule that a failure leaves nothing behind (see
//! `create::Undo`). `state` holds the state directory and its one serializer.

use crate::prelude::*;

pub mod console;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod idmap;
pub mod kill;
pub mod pause;
pub mod run;
pub mod start;
pub mod state;
pub mod update;

pub use create::{create, CreateOpts, Created};
pub use delete::delete;
pub use events::events;
pub use kill::kill;
pub use pause::pause;
pub use run::run;
pub use start::start;
pub use state::Handle;
pub use update::update;

use crate::error::{Error, Kind, Result, Step};
use crate::spec;
use crate::sys::{self, fs, proc};
use rustix::fd::{AsRawFd, OwnedFd};

/// The defense against CVE-2019-5736 for a process that is about to put processes into
/// containers (the CLI's create, run, exec; the supervisor at start-up): make sure this process
/// runs from a binary no container can write. It executes this program again, with the same
/// argv and environment, from a read-only bind mount of its binary in a mount namespace of its
/// own (cheap; crun's approach), or where mounts are refused from a sealed memfd copy; it
/// returns only when there is nothing to do (already re-executed or running from such a copy,
/// or MOTE_NO_SEALED_COPY=1, set to measure its cost) or when neither works (then mote goes
/// on from its own binary, as before this defense existed).
pub fn protect_binary() {
    if sys::env::var_set("MOTE_NO_SEALED_COPY") || proc::reexecuted() || proc::running_sealed() {
        return;
    }
    let _ = proc::reexec_read_only();
    let _ = proc::reexec_sealed();
}

/// Load config.json from a bundle directory, with the error a user can act on.
pub fn load_config(bundle: &str) -> Result<spec::ConfigDoc> {
    let path = format!("{bundle}/config.json");
    spec::load_config(&path).map_err(|e| match e {
        spec::LoadError::Io(errno) => Error::sys("open config.json", errno).ctx(format_args!("in bundle {bundle}")),
        spec::LoadError::Json(j) => Error::new(Kind::Input, "config.json:").ctx(format_args!("{j}")),
    })
}

/// The bundle's absolute path.
pub fn bundle_path(b: Option<&str>) -> Result<String> {
    let b = b.unwrap_or(".");
    fs::realpath(b).step_ctx("bundle", format_args!("{b}"))
}

/// Write a pid file atomically.
pub fn write_pid_file(path: &str, pid: i32) -> Result<()> {
    let abs = if path.starts_with('/') {
        path.to_string()
    } else {
        let mut buf = [0u8; libc::PATH_MAX as usize];
        let cwd = crate::sys::getcwd(&mut buf).map_err(|e| Error::sys("getcwd", e))?;
        format!("{cwd}/{path}")
    };
    let (dir, name) = abs.rsplit_once('/').unwrap_or(("/", &abs));
    let dir = if dir.is_empty() { "/" } else { dir };
    let dfd = fs::open(dir, libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .step_ctx("open pid file directory", format_args!("{dir}"))?;
    let mut s: heapless::String<16> = heapless::String::new();
    let _ = core::fmt::write(&mut s, format_args!("{pid}"));
    fs::write_atomic(dfd.as_raw_fd(), name, s.as_bytes(), 0o644).step_ctx("write pid file", format_args!("{abs}"))
}

/// Send a pidfd of `pid` over a connected --pidfd-socket (SCM_RIGHTS, with `msg` as the body:
/// "standard" for an init, "setns" for an exec'd process, as runc sends them).
pub(crate) fn send_pidfd(sock: &OwnedFd, pid: i32, msg: &[u8], path: &str) -> Result<()> {
    let pfd = proc::pidfd_open(pid).map_err(|e| {
        let why = if e == libc::ENOSYS {
            ": pidfds need Linux 5.3; drop --pidfd-socket"
        } else {
            ""
        };
        Error::sys("pidfd_open for --pidfd-socket", e).ctx(format_args!("pid {pid}{why}"))
    })?;
    sys::send_fd(sock.as_raw_fd(), msg, pfd.as_raw_fd())
        .step_ctx("send the pidfd to --pidfd-socket", format_args!("{path}"))
}

/// Signals `run` and `exec` forward to the container's process.
pub(crate) const FORWARDED: &[i32] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
    libc::SIGALRM,
    libc::SIGPIPE,
];
