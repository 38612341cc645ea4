//! The protocol between `mote create` (or `mote exec`) and the processes it forks.
//!
//! One SOCK_SEQPACKET socketpair; every message is one fixed-size record of [`MSG_SIZE`]
//! bytes: a tag, an integer (a pid, an errno or an index), the error kind, and two bounded
//! strings (the failed step and its context). Every wait of the parent is bounded
//! ([`bound_waits`]).
//!
//! Without a user namespace (one fork: the parent entered the pid and time namespaces for its
//! child):
//!
//! ```text
//! parent                                          init
//!   fork ------------------------------------------->
//!   cgroup.procs <- init pid
//!   [MOUNT_FD index + fd ...] ---------------------->  (idmapped mounts, prepared by the parent)
//!   SET_UP(init's host pid) ------------------------>  namespaces, rootfs and mounts, devices
//!   <------------------------------------------------  [HOOKS]
//!   [prestart, createRuntime hooks
//!    HOOKS_DONE ------------------------------------>] createContainer hooks, pivot_root,
//!                                                      process setup
//!   <------------------------------------------------  [WARNING ...] READY (or ERROR)
//! ```
//!
//! With a user namespace (two forks):
//!
//! ```text
//! parent                          stage 1                         init
//!   fork ------------------------->
//!   cgroup.procs <- stage 1 pid
//!   IN_CGROUP -------------------->
//!                                   [unshare(USER)
//!   <------------------------------- MAPS]
//!   [write uid_map/gid_map
//!   MAPS_DONE -------------------->]
//!                                   unshare(rest), setns(joined)
//!                                   fork -------------------------->
//!   <------------------------------- PID(init); exit
//!   [MOUNT_FD ...], SET_UP(init) ------------------------------------> as above: HOOKS,
//!                                                                      WARNING, READY or ERROR
//! ```
//!
//! `mote exec`: the parent forks once; the child joins the init's namespaces and sets the
//! process up, then [PID(its host pid) from the parent when a seccomp listener needs it],
//! [WARNING ...] READY (or ERROR); the parent puts it into the cgroup and sends IN_CGROUP; the
//! child executes the program.
//!
//! Any process may send ERROR instead of its next message; the parent then undoes what it made.

use crate::prelude::*;

use crate::error::{Error, Kind};
use crate::sys;
use rustix::fd::OwnedFd;

pub const MSG_SIZE: usize = 512;
const STEP_MAX: usize = 96;
const CTX_MAX: usize = MSG_SIZE - 16 - STEP_MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Tag {
    /// To the init: set the container up now; the value is its pid as the host sees it.
    /// (Prepared mounts, MOUNT_FD, come before it.)
    SetUp = 1,
    Maps = 2,
    MapsDone = 3,
    Pid = 4,
    Ready = 5,
    Error = 6,
    /// Stage 2 asks the parent to run the createRuntime/prestart hooks now.
    Hooks = 7,
    HooksDone = 8,
    /// A warning for the parent to log; the sender goes on.
    Warning = 9,
    /// A prepared (idmapped) mount for mount index `value`, the fd attached.
    MountFd = 10,
    /// To stage 1 or an exec'd process: you are in the container's cgroup now, go on.
    InCgroup = 11,
}

impl Tag {
    fn from_u32(v: u32) -> Option<Tag> {
        Some(match v {
            1 => Tag::SetUp,
            2 => Tag::Maps,
            3 => Tag::MapsDone,
            4 => Tag::Pid,
            5 => Tag::Ready,
            6 => Tag::Error,
            7 => Tag::Hooks,
            8 => Tag::HooksDone,
            9 => Tag::Warning,
            10 => Tag::MountFd,
            11 => Tag::InCgroup,
            _ => return None,
        })
    }
}

/// One decoded message.
pub struct Msg {
    pub tag: Tag,
    pub value: i32,
    pub kind: Kind,
    pub step: heapless::String<STEP_MAX>,
    pub ctx: heapless::String<CTX_MAX>,
}

fn kind_code(k: Kind) -> u32 {
    match k {
        Kind::Failed => 0,
        Kind::Usage => 1,
        Kind::Input => 2,
        Kind::NotImplemented => 3,
    }
}

fn kind_of(c: u32) -> Kind {
    match c {
        1 => Kind::Usage,
        2 => Kind::Input,
        3 => Kind::NotImplemented,
        _ => Kind::Failed,
    }
}

fn put_str(dst: &mut [u8], s: &str) {
    let mut n = s.len().min(dst.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    dst[..n].copy_from_slice(&s.as_bytes()[..n]);
}

fn get_str<const N: usize>(src: &[u8]) -> heapless::String<N> {
    let end = src.iter().position(|&b| b == 0).unwrap_or(src.len());
    let mut out = heapless::String::new();
    if let Ok(s) = core::str::from_utf8(&src[..end]) {
        let _ = out.push_str(&s[..s.len().min(N)]);
    }
    out
}

/// Send a message without strings.
pub fn send(sock: &OwnedFd, tag: Tag, value: i32) -> Result<(), Error> {
    let mut b = [0u8; MSG_SIZE];
    b[0..4].copy_from_slice(&(tag as u32).to_le_bytes());
    b[4..8].copy_from_slice(&value.to_le_bytes());
    sys::send(sock, &b).map_err(|e| Error::sys("sync: send", e)).map(drop)
}

/// Send a prepared mount (an fd) for mount index `index`.
pub fn send_mount_fd(sock: &OwnedFd, index: i32, fd: &OwnedFd) -> Result<(), Error> {
    use rustix::fd::AsRawFd;
    let mut b = [0u8; MSG_SIZE];
    b[0..4].copy_from_slice(&(Tag::MountFd as u32).to_le_bytes());
    b[4..8].copy_from_slice(&index.to_le_bytes());
    sys::send_fd(sock.as_raw_fd(), &b, fd.as_raw_fd()).map_err(|e| Error::sys("sync: send mount", e))
}

/// Wait for SET_UP, collecting the prepared mounts (MOUNT_FD) sent before it.
pub fn recv_setup(sock: &OwnedFd) -> Result<(Msg, Vec<(i32, OwnedFd)>), Error> {
    use rustix::fd::AsRawFd;
    let mut fds = Vec::new();
    loop {
        let mut b = [0u8; MSG_SIZE];
        let (n, fd) = sys::recv_fd(sock.as_raw_fd(), &mut b).map_err(|e| Error::sys("sync: receive", e))?;
        if n == 0 {
            return Err(Error::failed("sync").ctx(format_args!("mote create went away before the go-ahead")));
        }
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let tag = Tag::from_u32(word(0))
            .ok_or_else(|| Error::failed("sync").ctx(format_args!("unknown message {}", word(0))))?;
        match (tag, fd) {
            (Tag::MountFd, Some(fd)) => fds.push((word(4) as i32, fd)),
            (Tag::SetUp, _) => {
                let m = Msg {
                    tag,
                    value: word(4) as i32,
                    kind: kind_of(word(8)),
                    step: get_str(&b[16..16 + STEP_MAX]),
                    ctx: get_str(&b[16 + STEP_MAX..]),
                };
                return Ok((m, fds));
            }
            (t, _) => {
                return Err(Error::failed("sync").ctx(format_args!("unexpected message {t:?} before the go-ahead")))
            }
        }
    }
}

/// Send an error: the step, errno and context of `e`.
pub fn send_error(sock: &OwnedFd, e: &Error) {
    let mut b = [0u8; MSG_SIZE];
    b[0..4].copy_from_slice(&(Tag::Error as u32).to_le_bytes());
    b[4..8].copy_from_slice(&e.errno.unwrap_or(0).to_le_bytes());
    b[8..12].copy_from_slice(&kind_code(e.kind).to_le_bytes());
    put_str(&mut b[16..16 + STEP_MAX], e.step);
    put_str(&mut b[16 + STEP_MAX..], &e.context);
    let _ = sys::send(sock, &b);
}

/// Bound every wait of the parent on `sock` (the container process may be stuck in the
/// kernel): a receive that waits longer than `secs` fails with an error naming the step.
pub fn bound_waits(sock: &OwnedFd, secs: u64) -> Result<(), Error> {
    sys::set_recv_timeout(sock, core::time::Duration::from_secs(secs)).map_err(|e| Error::sys("sync: SO_RCVTIMEO", e))
}

/// Receive one message. EOF (every peer gone) is an error naming `waiting_for`; so is a wait
/// longer than the socket's bound ([`bound_waits`]).
pub fn recv(sock: &OwnedFd, waiting_for: &'static str) -> Result<Msg, Error> {
    let mut b = [0u8; MSG_SIZE];
    let n = sys::recv(sock, &mut b).map_err(|e| {
        if e == libc::EAGAIN {
            Error::failed("sync").ctx(format_args!(
                "the container process did not answer in time while mote was waiting for {waiting_for} \
                 (SETUP_TIMEOUT_SECS in src/spec/limits.rs, plus the createContainer hooks' timeouts)"
            ))
        } else {
            Error::sys("sync: receive", e).ctx(format_args!("waiting for {waiting_for}"))
        }
    })?;
    if n == 0 {
        return Err(Error::failed("sync").ctx(format_args!(
            "the container process exited while mote was waiting for {waiting_for}"
        )));
    }
    if n != MSG_SIZE {
        return Err(Error::failed("sync").ctx(format_args!(
            "short message ({n} bytes) while waiting for {waiting_for}"
        )));
    }
    let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let tag = Tag::from_u32(word(0)).ok_or_else(|| {
        Error::failed("sync").ctx(format_args!(
            "unknown message {} while waiting for {waiting_for}",
            word(0)
        ))
    })?;
    Ok(Msg {
        tag,
        value: word(4) as i32,
        kind: kind_of(word(8)),
        step: get_str(&b[16..16 + STEP_MAX]),
        ctx: get_str(&b[16 + STEP_MAX..]),
    })
}

/// Receive a message and require `want`; an ERROR message becomes the error it carries.
pub fn expect(sock: &OwnedFd, want: Tag, waiting_for: &'static str) -> Result<Msg, Error> {
    expect_warn(sock, want, waiting_for, &mut |_| {})
}

/// Like [`expect`], passing WARNING messages to `warn` on the way.
pub fn expect_warn(
    sock: &OwnedFd,
    want: Tag,
    waiting_for: &'static str,
    warn: &mut dyn FnMut(core::fmt::Arguments<'_>),
) -> Result<Msg, Error> {
    loop {
        let m = recv(sock, waiting_for)?;
        if m.tag == Tag::Warning {
            warn(format_args!("{}", m.ctx));
            continue;
        }
        if m.tag == want {
            return Ok(m);
        }
        return Err(into_error(m, waiting_for));
    }
}

/// Send a warning (bounded) to the parent.
pub fn send_warning(sock: &OwnedFd, args: core::fmt::Arguments<'_>) {
    let mut text: heapless::String<CTX_MAX> = heapless::String::new();
    let _ = core::fmt::write(&mut crate::spec::json::TruncWriter(&mut text), args);
    let mut b = [0u8; MSG_SIZE];
    b[0..4].copy_from_slice(&(Tag::Warning as u32).to_le_bytes());
    put_str(&mut b[16 + STEP_MAX..], &text);
    let _ = sys::send(sock, &b);
}

/// Turn a received message that is not the expected one into an error.
pub fn into_error(m: Msg, waiting_for: &'static str) -> Error {
    if m.tag == Tag::Error {
        // The step text crosses a process boundary: keep it as context; the step of the
        // resulting error is the generic "container setup".
        let mut e = Error::new(m.kind, "container setup:").ctx(format_args!("{}", m.step));
        if !m.ctx.is_empty() {
            e = e.ctx(format_args!(" {}", m.ctx));
        }
        if m.value != 0 {
            e.errno = Some(m.value);
        }
        return e;
    }
    Error::failed("sync").ctx(format_args!(
        "unexpected message {:?} while waiting for {waiting_for}",
        m.tag
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages cross the socket whole; an ERROR becomes the error it carries, with its step,
    /// context, kind and errno.
    #[test]
    fn messages_and_errors_round_trip() {
        let (a, b) = sys::seqpacket_pair().unwrap();
        send(&a, Tag::Pid, 4242).unwrap();
        let m = recv(&b, "a pid").unwrap();
        assert_eq!((m.tag, m.value), (Tag::Pid, 4242));
        send_warning(&a, format_args!("careful: {}", 1));
        send(&a, Tag::Ready, 0).unwrap();
        let mut warned = Vec::new();
        expect_warn(&b, Tag::Ready, "ready", &mut |w| warned.push(w.to_string())).unwrap();
        assert_eq!(warned, ["careful: 1"]);
        let e = Error::sys("mount proc", libc::EPERM).ctx(format_args!("on /proc"));
        send_error(&a, &e);
        let got = expect(&b, Tag::Ready, "ready").err().unwrap();
        assert_eq!(got.errno, Some(libc::EPERM));
        assert_eq!(
            format!("{got}"),
            "container setup: mount proc on /proc: EPERM (Operation not permitted)"
        );
        // The peer gone: an error naming what was awaited.
        drop(a);
        let e = recv(&b, "the container to be ready").err().unwrap();
        assert!(format!("{e}").contains("exited while mote was waiting for the container to be ready"));
    }
}
