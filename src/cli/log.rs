//! `--log FILE --log-format text|json`: log lines as runc writes them, which conmon and
//! containerd read (`{"level":"error","msg":"...","time":"..."}`). Errors also go to stderr.

use crate::prelude::*;

use crate::spec::out::{JsonStr, Rfc3339};
use rustix::fd::{AsRawFd, OwnedFd};

pub struct Log {
    file: Option<OwnedFd>,
    json: bool,
    debug: bool,
}

impl Log {
    pub fn new(path: Option<&str>, format: Option<&str>, debug: bool) -> Result<Log, String> {
        let json = match format {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => return Err(format!("--log-format {other:?} is not supported: use text or json")),
        };
        let file = match path {
            None | Some("") => None,
            Some(p) => Some(
                crate::sys::fs::open(
                    p,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC,
                    0o666,
                )
                .map_err(|e| format!("cannot open the log file {p}: {}", crate::error::errno_text(e)))?,
            ),
        };
        Ok(Log { file, json, debug })
    }

    pub fn none() -> Log {
        Log {
            file: None,
            json: false,
            debug: false,
        }
    }

    /// A line for the log file only (nothing on stderr).
    pub fn line_only(&self, level: &str, msg: &str) {
        self.line(level, msg);
    }

    fn line(&self, level: &str, msg: &str) {
        let Some(f) = self.file.as_ref() else {
            return;
        };
        let now = Rfc3339::now();
        let text = if self.json {
            format!(
                "{{\"level\":\"{level}\",\"msg\":{},\"time\":\"{now}\"}}\n",
                JsonStr(msg)
            )
        } else {
            format!("time=\"{now}\" level={level} msg={}\n", JsonStr(msg))
        };
        let _ = crate::sys::fs::write_all(f.as_raw_fd(), text.as_bytes());
    }

    pub fn error(&self, msg: &str) {
        self.line("error", msg);
        errln!("mote: {msg}");
    }

    /// A supervisor event: the log file, and stderr.
    pub fn info(&self, msg: &str) {
        self.line("info", msg);
        errln!("mote: {msg}");
    }

    pub fn warn(&self, msg: &str) {
        self.line("warning", msg);
        errln!("mote: warning: {msg}");
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.line("debug", msg);
        }
    }
}
