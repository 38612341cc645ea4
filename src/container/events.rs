//! `events`: a container's resource statistics, and OOM events, until it stops.

use crate::prelude::*;

use super::state::{Handle, StateRoot, Status};
use crate::error::{Error, Result};

/// `events`: with `once`, print the container's resource statistics and return; else print
/// them every `interval`, and an `oom` event whenever the OOM killer acts, until the
/// container stops.
pub fn events(
    root: &StateRoot,
    id: &str,
    interval: core::time::Duration,
    once: bool,
    out: &mut crate::sys::env::FdWriter,
) -> Result<()> {
    let h = Handle::open(root, id)?;
    let cg = h
        .cgroup()
        .ok_or_else(|| Error::failed("events").ctx(format_args!("container {id:?} has no cgroup")))?;
    let io = |e| Error::sys("events: write", e);
    if once {
        out.write_bytes(crate::cgroup::stats::stats_json(id, &cg).as_bytes());
        return out.flush().map_err(io);
    }
    let mut ooms = crate::cgroup::stats::oom_kills(&cg);
    // Asleep between statistics, but awake at once when the init exits (its pidfd).
    let pidfd = crate::sys::proc::pidfd_open(h.pid()).ok();
    loop {
        if h.status() == Status::Stopped {
            return Ok(());
        }
        let now = crate::cgroup::stats::oom_kills(&cg);
        if now > ooms {
            ooms = now;
            let line = format!("{{\"type\":\"oom\",\"id\":{}}}\n", crate::spec::out::JsonStr(id));
            out.write_bytes(line.as_bytes());
        }
        out.write_bytes(crate::cgroup::stats::stats_json(id, &cg).as_bytes());
        out.flush().map_err(io)?;
        match &pidfd {
            Some(p) => {
                let ms = interval.as_millis().min(i32::MAX as u128) as i32;
                let _ = crate::sys::poll1(rustix::fd::AsRawFd::as_raw_fd(p), libc::POLLIN, ms);
            }
            None => crate::sys::env::sleep(interval),
        }
    }
}
