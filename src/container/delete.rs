//! `delete`: remove a stopped container (or, with force, any): kill what still runs, remove its
//! cgroup and state directory, then run the poststop hooks.

use super::load_config;
use super::state::{self, Handle, StateRoot, Status};
use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::process::hooks;
use crate::spec::Config;
use crate::sys::{self, proc};
use rustix::fd::AsRawFd;

/// Wait until `pid` has exited (not reaped: it may not be our child). Returns false on timeout.
fn wait_gone(pid: i32, start_time: u64, timeout_ms: i32) -> bool {
    if let Ok(pfd) = proc::pidfd_open(pid) {
        if !state::init_alive(pid, start_time) {
            return true;
        }
        return matches!(sys::poll1(pfd.as_raw_fd(), libc::POLLIN, timeout_ms), Ok(r) if r != 0);
    }
    let mut waited = 0;
    while state::init_alive(pid, start_time) {
        if waited >= timeout_ms {
            return false;
        }
        crate::sys::env::sleep(core::time::Duration::from_millis(2));
        waited += 2;
    }
    true
}

/// `delete`: remove a stopped (or created) container; with `force`, kill it first.
pub fn delete(root: &StateRoot, id: &str, force: bool, warn: &mut dyn FnMut(core::fmt::Arguments<'_>)) -> Result<()> {
    let h = match Handle::open(root, id) {
        Ok(h) => h,
        Err(e) if force && e.context.contains("does not exist") => return Ok(()),
        Err(e) => return Err(e),
    };
    let status = h.status();
    match status {
        Status::Stopped | Status::Created | Status::Creating => {}
        Status::Running | Status::Paused if force => {}
        s => {
            return Err(Error::failed("delete").ctx(format_args!(
                "cannot delete container {id:?} that is not stopped: {} (use --force)",
                s.as_str()
            )))
        }
    }
    let pid = h.pid();
    let start_time = h.state.as_ref().map_or(0, |s| s.st().start_time);
    destroy(root, id, status, pid, start_time, h.cgroup().as_ref())?;
    // The poststop hooks, once the container is gone.
    if let Some(st) = h.state.as_ref().map(|s| s.st()).filter(|s| s.hooks) {
        match load_config(&st.bundle) {
            Ok(doc) => poststop(doc.config(), id, pid, &st.bundle, warn),
            Err(e) => warn(format_args!("poststop hooks not run: {e}")),
        }
    }
    Ok(())
}

/// The poststop hooks (by `delete`, and by `run` once its container is gone): a failure is a
/// warning, as the spec says.
pub(crate) fn poststop(
    cfg: &Config<'_>,
    id: &str,
    pid: i32,
    bundle: &str,
    warn: &mut dyn FnMut(core::fmt::Arguments<'_>),
) {
    let st = state::spec_state(id, "stopped", pid, bundle, cfg.map(cfg.spec.annotations));
    if let Err(e) = hooks::run(cfg, hooks::Kind::Poststop, &st) {
        warn(format_args!("{e}"));
    }
}

/// Remove a container: kill what runs (init and everything in its cgroup), wait for the init
/// to exit, remove the cgroup and the state directory.
pub(crate) fn destroy(
    root: &StateRoot,
    id: &str,
    status: Status,
    pid: i32,
    start_time: u64,
    cg: Option<&Cgroup>,
) -> Result<()> {
    if status == Status::Paused {
        if let Some(cg) = cg {
            let _ = crate::cgroup::resources::freeze(cg, false);
        }
    }
    let alive = !matches!(status, Status::Stopped | Status::Creating);
    if alive {
        let _ = proc::kill(pid, libc::SIGKILL);
    }
    if let Some(cg) = cg {
        // cgroup v2: one write kills them all; the loop below then only confirms.
        let _ = cg.kill_all();
        for _ in 0..50 {
            let pids = cg.procs().unwrap_or_default();
            if pids.is_empty() {
                break;
            }
            for p in pids {
                let _ = proc::kill(p, libc::SIGKILL);
            }
            crate::sys::env::sleep(core::time::Duration::from_millis(2));
        }
    }
    if alive && !wait_gone(pid, start_time, 5000) {
        return Err(Error::failed("delete").ctx(format_args!(
            "container {id:?}: the init (pid {pid}) did not exit after SIGKILL"
        )));
    }
    if let Some(cg) = cg {
        cg.destroy()?;
    }
    root.remove_container_dir(id)
}
