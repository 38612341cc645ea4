//! `run`: create and start a container, then (unless detached) wait for it, forwarding
//! signals, and remove it when it exits.

use super::create::{create, CreateOpts};
use super::delete::{destroy, poststop};
use super::start::{poststart, unblock_init};
use super::state::{StateRoot, Status};
use super::{bundle_path, console, FORWARDED};
use crate::error::{Result, Step};
use crate::process::hooks;
use crate::sys::proc;

/// `run`: create, start, and (unless detached) wait and return the exit code.
pub fn run(
    root: &StateRoot,
    o: &CreateOpts<'_>,
    detach: bool,
    keep: bool,
    warn: &mut dyn FnMut(core::fmt::Arguments<'_>),
) -> Result<i32> {
    // Signals arriving while we wait are forwarded to the container: block them now so none
    // is lost between `start` and the wait loop. The init unblocks all before exec.
    let mut set = proc::SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(libc::SIGCHLD);
    // Unblocked again when the guard drops, whichever way this returns.
    let _blocked = if detach {
        None
    } else {
        Some(proc::block_signals(&set).step("sigprocmask")?)
    };
    let o = &CreateOpts {
        relay_terminal: !detach && o.console_socket.is_none(),
        ..*o
    };
    let mut c = create(root, o, warn)?;
    // A terminal relayed by us: its master came over the pair before READY.
    let master = match c.console.take().map(|ours| console::receive_master(&ours)) {
        Some(Err(e)) => {
            let _ = destroy(root, o.id, Status::Created, c.pid, c.start_time, c.cgroup.as_ref());
            return Err(e);
        }
        Some(Ok(m)) => Some(m),
        None => None,
    };
    if let Err(e) = unblock_init(&c.dir) {
        let _ = destroy(root, o.id, Status::Created, c.pid, c.start_time, c.cgroup.as_ref());
        return Err(e);
    }
    if let Some(b) = c
        .cfg
        .config()
        .spec
        .hooks
        .as_ref()
        .map(|_| bundle_path(o.bundle))
        .transpose()?
    {
        if let Err(e) = poststart(c.cfg.config(), o.id, c.pid, &b) {
            // As runc: the init was killed; reap it, then nothing of the container is left.
            let _ = proc::waitpid(c.pid, 0);
            let _ = destroy(root, o.id, Status::Stopped, c.pid, c.start_time, c.cgroup.as_ref());
            if hooks::any(c.cfg.config(), hooks::Kind::Poststop) {
                poststop(c.cfg.config(), o.id, c.pid, &b, warn);
            }
            return Err(e);
        }
    }
    if detach {
        return Ok(0);
    }
    let code = match master {
        Some(m) => console::relay(m, c.pid, &set)?,
        None => wait_forwarding(c.pid, &set)?,
    };
    if !keep {
        // The init is reaped: only what it left in its cgroup, the cgroup and the state go.
        destroy(root, o.id, Status::Stopped, c.pid, c.start_time, c.cgroup.as_ref())?;
        if hooks::any(c.cfg.config(), hooks::Kind::Poststop) {
            poststop(c.cfg.config(), o.id, c.pid, &bundle_path(o.bundle)?, warn);
        }
    }
    Ok(code)
}

/// Wait for our child `pid` to end, forwarding the signals of `set` (blocked by the caller) but
/// SIGCHLD to it. Only `pid` is reaped: the exit status of any other child of the caller stays
/// for the caller. Returns its exit code (128+N for a signal).
pub(crate) fn wait_forwarding(pid: i32, set: &proc::SigSet) -> Result<i32> {
    loop {
        let sig = proc::sigwait(set).step("sigwaitinfo")?;
        if sig == libc::SIGCHLD {
            if let Ok((p, st)) = proc::waitpid(pid, libc::WNOHANG) {
                if p == pid {
                    return Ok(proc::exit_code(st));
                }
            }
        } else {
            let _ = proc::kill(pid, sig);
        }
    }
}
