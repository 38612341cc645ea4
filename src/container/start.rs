//! `start`: let a created container's init execute its program, then run the poststart hooks.

use super::load_config;
use super::state::{self, Handle, StateRoot, Status};
use crate::error::{Error, Result, Step};
use crate::process::hooks;
use crate::spec::Config;
use crate::sys::{fs, proc};
use rustix::fd::{AsRawFd, OwnedFd};

/// `start`: let the created container's init execute its process.
pub fn start(root: &StateRoot, id: &str) -> Result<()> {
    let h = Handle::open(root, id)?;
    match h.status() {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::failed("start").ctx(format_args!("cannot start a container that has stopped")))
        }
        Status::Creating => {
            return Err(Error::failed("start").ctx(format_args!("container {id:?} is still being created")))
        }
        s => return Err(Error::failed("start").ctx(format_args!("cannot start an already {} container", s.as_str()))),
    }
    unblock_init(&h.dir)?;
    if let Some(st) = h.state.as_ref().map(|s| s.st()).filter(|s| s.hooks) {
        let doc = load_config(&st.bundle)?;
        poststart(doc.config(), id, h.pid(), &st.bundle)?;
    }
    Ok(())
}

/// The poststart hooks, once the program has been let go; a failure kills the container
/// (as runc) and is the error.
pub(crate) fn poststart(cfg: &Config<'_>, id: &str, pid: i32, bundle: &str) -> Result<()> {
    if !hooks::any(cfg, hooks::Kind::Poststart) {
        return Ok(());
    }
    let st = state::spec_state(id, "running", pid, bundle, cfg.map(cfg.spec.annotations));
    hooks::run(cfg, hooks::Kind::Poststart, &st).inspect_err(|_| {
        let _ = proc::kill(pid, libc::SIGKILL);
    })
}

/// Let a created init go: write the exec fifo it waits on, then remove the fifo.
pub(crate) fn unblock_init(dir: &OwnedFd) -> Result<()> {
    let fifo = match fs::openat(dir.as_raw_fd(), state::FIFO, libc::O_WRONLY | libc::O_NONBLOCK, 0) {
        Ok(f) => f,
        Err(libc::ENXIO) => {
            return Err(Error::failed("start").ctx(format_args!(
                "the container's init is no longer waiting (it has exited)"
            )))
        }
        Err(libc::ENOENT) => {
            return Err(Error::failed("start").ctx(format_args!("cannot start an already running container")))
        }
        Err(e) => return Err(Error::sys("open exec fifo", e)),
    };
    fs::write_all(fifo.as_raw_fd(), b"0").step("write exec fifo")?;
    drop(fifo);
    fs::unlinkat(dir.as_raw_fd(), state::FIFO, 0).step("remove exec fifo")?;
    Ok(())
}
