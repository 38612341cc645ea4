//! The terminal relay of `run` and `exec` in the foreground without --console-socket (as runc
//! does): mote receives the pseudo-terminal's master itself, puts its own stdin in raw mode
//! when it is a terminal, copies stdin to the master and the master to stdout, passes window
//! size changes on, forwards the other signals to the process and returns its exit code.

use crate::error::{Error, Result, Step};
use crate::sys::{self, fs, proc};
use rustix::fd::{AsRawFd, OwnedFd};

/// Receive the master the container's process sent over our end of the console pair.
pub fn receive_master(ours: &OwnedFd) -> Result<OwnedFd> {
    let mut name = [0u8; 64];
    let (_, fd) = sys::recv_fd(ours.as_raw_fd(), &mut name).step("receive the terminal")?;
    fd.ok_or_else(|| Error::failed("terminal").ctx(format_args!("no terminal came from the container")))
}

/// Relay between our stdio and `master` until our child `pid` ends; the signals of `set`
/// (blocked by the caller, SIGCHLD among them) arrive through a signalfd.
pub fn relay(master: OwnedFd, pid: i32, set: &proc::SigSet) -> Result<i32> {
    let sfd = sys::signalfd(set).step("signalfd")?;
    let raw = sys::RawTty::stdin();
    let copy_size = |m: &OwnedFd| {
        if let Ok((rows, cols)) = sys::get_winsize(0) {
            let _ = sys::set_winsize(m.as_raw_fd(), rows, cols);
        }
    };
    if raw.is_some() {
        copy_size(&master);
    }
    let (mut stdin_open, mut master_open) = (true, true);
    let mut code = None;
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: sfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if master_open { master.as_raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if stdin_open { 0 } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // Once the process has ended, only what is left in the master is read.
        let timeout = if code.is_some() { 0 } else { -1 };
        let n = sys::poll(&mut fds, timeout).step("poll")?;
        if n == 0 {
            break;
        }
        if fds[0].revents & libc::POLLIN != 0 {
            match sys::read_signal(sfd.as_raw_fd()).step("read signalfd")? {
                // Only our process: another child's status stays for the caller.
                libc::SIGCHLD => {
                    if let Ok((p, st)) = proc::waitpid(pid, libc::WNOHANG) {
                        if p == pid {
                            code = Some(proc::exit_code(st));
                        }
                    }
                }
                libc::SIGWINCH => copy_size(&master),
                sig => {
                    let _ = proc::kill(pid, sig);
                }
            }
        }
        if fds[1].revents != 0 {
            match fs::read(master.as_raw_fd(), &mut buf) {
                Ok(0) | Err(_) => master_open = false,
                Ok(k) => {
                    if fs::write_all(1, &buf[..k]).is_err() {
                        master_open = false;
                    }
                }
            }
        }
        if fds[2].revents != 0 {
            match fs::read(0, &mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(k) => {
                    let _ = fs::write_all(master.as_raw_fd(), &buf[..k]);
                }
            }
        }
        if code.is_some() && !master_open {
            break;
        }
    }
    drop(raw);
    code.ok_or_else(|| Error::failed("terminal").ctx(format_args!("the process's exit status was lost")))
}
