//! The hardware watchdog (/dev/watchdog): armed when the supervisor starts, petted from the loop
//! only while the workloads that matter are well, closed with the magic 'V' on an orderly
//! shutdown. If the supervisor hangs or decides to stop petting, the board resets.
//!
//! The timeout asked for is set with WDIOC_SETTIMEOUT and read back: a device refuses what it
//! cannot do (bcm2835-wdt, on every Raspberry Pi, takes at most 15 s), and mote then uses the
//! largest value it accepts. A plain file or a FIFO can stand in for a device in tests
//! (`standIn`): it is written a '.' per pet and the 'V'.

use crate::prelude::*;

use crate::error::{Error, Result};
use crate::sys::{fs, watchdog as wd};
use rustix::fd::{AsRawFd, OwnedFd};

pub struct Watchdog {
    fd: Option<OwnedFd>,
    pub device: String,
    /// The timeout in effect, in seconds.
    pub timeout: u32,
    /// The last reset was the watchdog's (WDIOC_GETBOOTSTATUS).
    pub caused_last_reset: bool,
    /// A stand-in file, written instead of ioctls.
    stand_in: bool,
    /// What the loop should know: the timeout asked for was lowered to this.
    pub note: Option<String>,
}

impl Watchdog {
    /// Open the device and set its timeout (seconds).
    pub fn open(device: &str, want: u32, stand_in: bool) -> Result<Watchdog> {
        let fd = match fs::open(device, libc::O_WRONLY | libc::O_CLOEXEC, 0) {
            Ok(fd) => fd,
            Err(libc::EBUSY) => {
                return Err(Error::sys("open the watchdog", libc::EBUSY).ctx(format_args!(
                    "{device}: another program holds it (systemd's RuntimeWatchdogSec=?); let one of them have it"
                )))
            }
            Err(e) => return Err(Error::sys("open the watchdog", e).ctx(format_args!("{device}"))),
        };
        let mut w = Watchdog {
            fd: Some(fd),
            device: device.to_string(),
            timeout: want,
            caused_last_reset: false,
            stand_in,
            note: None,
        };
        if stand_in {
            // A file or FIFO standing in for a device: written, never asked.
            return Ok(w);
        }
        let raw = w.fd.as_ref().map_or(-1, |f| f.as_raw_fd());
        let mut boot = 0;
        match wd::ioctl(raw, wd::GETBOOTSTATUS, &mut boot) {
            Ok(()) => w.caused_last_reset = boot & wd::CARDRESET != 0,
            Err(libc::ENOTTY) => {
                return Err(
                    Error::sys("watchdog ioctl", libc::ENOTTY).ctx(format_args!("{device} is not a watchdog device"))
                )
            }
            Err(_) => {}
        }
        // Ask for the timeout; on EINVAL find the largest the device takes, below it.
        let mut t = want as i32;
        if wd::ioctl(raw, wd::SETTIMEOUT, &mut t).is_err() {
            let (mut lo, mut hi) = (1, want as i32 - 1);
            let mut best = 0;
            while lo <= hi {
                let mid = lo + (hi - lo) / 2;
                let mut v = mid;
                if wd::ioctl(raw, wd::SETTIMEOUT, &mut v).is_ok() {
                    best = mid;
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            if best == 0 {
                return Err(Error::failed("watchdog").ctx(format_args!("{device} accepts no timeout up to {want} s")));
            }
            let mut v = best;
            let _ = wd::ioctl(raw, wd::SETTIMEOUT, &mut v);
            w.note = Some(format!(
                "watchdog {device}: a timeout of {want} s is refused; using {best} s, the largest it accepts"
            ));
        }
        let mut now = 0;
        if wd::ioctl(raw, wd::GETTIMEOUT, &mut now).is_ok() && now > 0 {
            w.timeout = now as u32;
        }
        Ok(w)
    }

    /// Tell the device all is well.
    pub fn pet(&self) {
        let Some(fd) = &self.fd else { return };
        if self.stand_in {
            let _ = fs::write(fd.as_raw_fd(), b".");
        } else {
            let mut dummy = 0;
            let _ = wd::ioctl(fd.as_raw_fd(), wd::KEEPALIVE, &mut dummy);
        }
    }

    /// Orderly shutdown: the magic close disarms the device.
    pub fn close(&mut self) {
        if let Some(fd) = self.fd.take() {
            let _ = fs::write(fd.as_raw_fd(), b"V");
        }
    }

    /// Petting interval in milliseconds: a third of the timeout.
    pub fn interval_ms(&self) -> u64 {
        (u64::from(self.timeout) * 1000 / 3).max(100)
    }
}
