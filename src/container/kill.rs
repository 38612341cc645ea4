//! `kill`: signal a container's init, or every process in its cgroup.

use super::state::{self, Handle, StateRoot, Status};
use crate::error::{Error, Result, Step};
use crate::sys::proc;
use rustix::fd::AsRawFd;

/// `kill`: signal the init, or with `all` every process of the container.
pub fn kill(root: &StateRoot, id: &str, sig: i32, all: bool) -> Result<()> {
    let h = Handle::open(root, id)?;
    let status = h.status();
    if all {
        if let Some(cg) = h.cgroup() {
            let pids = cg.procs()?;
            if !pids.is_empty() {
                for p in pids {
                    let _ = proc::kill(p, sig);
                }
                return Ok(());
            }
        }
    }
    if matches!(status, Status::Stopped | Status::Creating) {
        return Err(Error::failed("kill").ctx(format_args!("container {id:?} is not running")));
    }
    let pid = h.pid();
    // A pidfd makes sure the signal reaches the init, not a process that reused its pid.
    match proc::pidfd_open(pid) {
        Ok(pfd) => {
            if !state::init_alive(pid, h.state.as_ref().map_or(0, |s| s.st().start_time)) {
                return Err(Error::failed("kill").ctx(format_args!("container {id:?} is not running")));
            }
            proc::pidfd_send_signal(pfd.as_raw_fd(), sig).step_ctx("kill", format_args!("pid {pid}"))
        }
        Err(libc::ENOSYS) => proc::kill(pid, sig).step_ctx("kill", format_args!("pid {pid}")),
        Err(e) => Err(Error::sys("pidfd_open", e).ctx(format_args!("pid {pid}"))),
    }
}
