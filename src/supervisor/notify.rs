//! systemd's sd_notify protocol (sd_notify(3)): datagrams of newline-separated KEY=VALUE lines
//! on an AF_UNIX socket named by $NOTIFY_SOCKET. mote speaks it both ways: it gives each
//! `notify` workload a socket of its own (so daemons written for systemd work unchanged), and
//! when systemd runs mote it tells systemd it is ready, how it is and that it is alive.

use crate::prelude::*;

use crate::error::{Result, Step};
use crate::sys::fs;
use rustix::fd::OwnedFd;
use rustix::net::{bind, sendto, socket_with, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

/// What a workload said in one datagram.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub ready: bool,
    pub stopping: bool,
    pub watchdog: bool,
    /// WATCHDOG=trigger: the workload asks to be treated as failed.
    pub trigger: bool,
    /// WATCHDOG_USEC=: a new watchdog interval.
    pub watchdog_usec: Option<u64>,
    pub status: Option<String>,
}

/// Parse a datagram (unknown keys are ignored, as systemd does).
pub fn parse(data: &[u8]) -> Message {
    let mut m = Message::default();
    for line in data.split(|b| *b == b'\n') {
        let Ok(line) = core::str::from_utf8(line) else { continue };
        let Some((k, v)) = line.split_once('=') else { continue };
        match (k, v) {
            ("READY", "1") => m.ready = true,
            ("STOPPING", "1") => m.stopping = true,
            ("WATCHDOG", "1") => m.watchdog = true,
            ("WATCHDOG", "trigger") => m.trigger = true,
            ("WATCHDOG_USEC", v) => m.watchdog_usec = v.parse().ok().filter(|u| *u > 0),
            ("STATUS", v) => m.status = Some(v.chars().take(120).collect()),
            _ => {}
        }
    }
    m
}

/// A datagram socket bound at `path` (an old one there is replaced), non-blocking, for a
/// workload to notify on; mode 0777: the workload may run as any user.
pub fn listen(path: &str) -> Result<OwnedFd> {
    bind_unix(path, SocketType::DGRAM, 0o777)
}

/// A non-blocking unix socket of type `ty` bound at `path` (an old one there is replaced), the
/// file created with `mode` (under the matching umask: it is never more open than that).
pub fn bind_unix(path: &str, ty: SocketType, mode: u32) -> Result<OwnedFd> {
    let _ = fs::unlinkat(fs::AT_FDCWD, path, 0);
    let fd = socket_with(
        AddressFamily::UNIX,
        ty,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .step("socket")?;
    let addr = SocketAddrUnix::new(path).step_ctx("socket", format_args!("{path}"))?;
    let old = crate::sys::umask(!mode & 0o777);
    let r = bind(&fd, &addr);
    crate::sys::umask(old);
    r.step_ctx("bind", format_args!("{path}"))?;
    Ok(fd)
}

/// Send one message to $NOTIFY_SOCKET (a path, or @name in the abstract namespace). Nothing
/// when it is unset: being supervised is optional. Never blocks: a manager that does not read
/// its socket must not stop the supervisor's loop (the message is then lost, EAGAIN).
pub fn send_to_manager(msg: &str) -> crate::sys::SysResult<()> {
    let Some(path) = crate::sys::env::var("NOTIFY_SOCKET").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let addr = match path.strip_prefix('@') {
        Some(abs) => SocketAddrUnix::new_abstract_name(abs.as_bytes()),
        None => SocketAddrUnix::new(path),
    }
    .map_err(|e| e.raw_os_error())?;
    let fd = socket_with(AddressFamily::UNIX, SocketType::DGRAM, SocketFlags::CLOEXEC, None)
        .map_err(|e| e.raw_os_error())?;
    sendto(
        &fd,
        msg.as_bytes(),
        rustix::net::SendFlags::NOSIGNAL | rustix::net::SendFlags::DONTWAIT,
        &addr,
    )
    .map_err(|e| e.raw_os_error())?;
    Ok(())
}

/// systemd's watchdog for this process, if it asked for one: WATCHDOG_USEC (and WATCHDOG_PID
/// unset or ours), in milliseconds.
pub fn manager_watchdog_ms() -> Option<u64> {
    let usec: u64 = crate::sys::env::var("WATCHDOG_USEC")?.parse().ok()?;
    if let Some(pid) = crate::sys::env::var("WATCHDOG_PID") {
        if pid.parse::<i32>().ok() != Some(crate::sys::proc::getpid()) {
            return None;
        }
    }
    (usec > 0).then_some(usec / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let m = parse(b"READY=1\nSTATUS=serving 3 clients\nMAINPID=7\nWATCHDOG=1");
        assert!(m.ready && m.watchdog && !m.stopping);
        assert_eq!(m.status.as_deref(), Some("serving 3 clients"));
        assert_eq!(parse(b"WATCHDOG_USEC=5000000").watchdog_usec, Some(5_000_000));
        assert!(parse(b"WATCHDOG=trigger").trigger);
        assert_eq!(parse(b"READY=0\ngarbage\n\xff\xfe=1"), Message::default());
    }

    /// A datagram sent to the socket's path arrives.
    #[test]
    fn a_workload_can_notify() {
        let path = std::env::temp_dir().join(format!("mote-notify-test-{}.sock", std::process::id()));
        let p = path.to_str().unwrap();
        let sock = listen(p).unwrap();
        let client = socket_with(AddressFamily::UNIX, SocketType::DGRAM, SocketFlags::CLOEXEC, None).unwrap();
        sendto(
            &client,
            b"READY=1",
            rustix::net::SendFlags::empty(),
            &SocketAddrUnix::new(p).unwrap(),
        )
        .unwrap();
        let mut buf = [0u8; 64];
        let (n, _, _) = rustix::net::recvfrom(&sock, &mut buf, rustix::net::RecvFlags::empty()).unwrap();
        assert!(parse(&buf[..n]).ready);
        let _ = std::fs::remove_file(&path);
    }
}
