//! `mote supervise`: the workload runner an init starts (or that is PID 1).
//!
//! One thread, one event loop (epoll) over: a signalfd (SIGCHLD: a workload or a health check
//! ended; SIGTERM/SIGINT/SIGUSR1/SIGUSR2: stop everything; SIGHUP: reload), each workload's
//! log pipe, notify socket and readiness fd, the control socket and its clients. Time is the
//! loop's timeout: it sleeps until the next thing due (a backoff ending, a health check, a stop
//! grace period, a watchdog pet) and is otherwise asleep.
//!
//! Workloads are containers made with the container library in-process (`container::create`
//! and friends: one fork each, nothing re-executed), in their own state root
//! (`<root>/supervisor/containers`) and cgroups under one parent. Each workload's restart policy
//! is a state machine (`policy.rs`); this file performs what it decides.
//!
//! Files under `<root>/supervisor/`: `control.sock` (the control socket, root only),
//! `state.json` (what runs, for adoption after a restart of the supervisor; written atomically),
//! `notify/NAME.sock` (the workloads' sd_notify sockets), `containers/` (their OCI state).

use crate::prelude::*;

#[cfg(feature = "deploy")]
pub mod deploy;
/// Without `mote deploy` (the cargo feature): no revision is ever under test, and a workload
/// from a store cannot run.
#[cfg(not(feature = "deploy"))]
pub mod deploy {
    use super::policy::Ms;
    use super::Sup;
    use crate::error::Kind;
    use crate::prelude::*;
    use crate::spec::workload::Workload;

    pub enum Test {}

    pub fn container_id(w: &Workload) -> String {
        w.name.clone()
    }

    pub fn resolve(w: &mut Workload, _: bool, _: &mut dyn FnMut(core::fmt::Arguments<'_>)) -> Result<(), String> {
        match w.store {
            Some(_) => Err("\"store\": this mote is built without `deploy` (cargo feature)".into()),
            None => Ok(()),
        }
    }

    impl Sup<'_> {
        pub(super) fn test_index(&self, _: &str) -> Option<usize> {
            None
        }
        pub(super) fn deploy_tick(&mut self, _: Ms) {}
        pub(super) fn deploy_deadline(&self) -> Option<Ms> {
            None
        }
        pub(super) fn deploy_request(&mut self) -> Result<String, (Kind, String)> {
            Err((
                Kind::NotImplemented,
                "this mote is built without `deploy` (cargo feature)".into(),
            ))
        }
    }
}
pub mod init;
pub mod logs;
pub mod notify;
pub mod policy;
pub mod watchdog;

use crate::container::{self, state::StateRoot};
use crate::error::{Error, Kind, Result, Step};
use crate::spec::limits;
use crate::spec::out::JsonStr;
use crate::spec::value::{self, Obj};
use crate::spec::workload::{Condition, LimitAction, Readiness, Workload};
use crate::sys::{self, fs, proc};
use core::fmt::Write as _;
use core::mem::MaybeUninit;
use init::End;
use policy::{ms, Action, Machine, Ms, Phase, Then};
use rustix::event::epoll;
use rustix::fd::{AsRawFd, OwnedFd};

/// What `mote supervise` is given.
pub struct Options<'o> {
    /// The state root (`--root`): the supervisor's files go under `<root>/supervisor`.
    pub root: &'o str,
    /// The directory of workload files.
    pub config_dir: &'o str,
    /// The hardware watchdog device and its timeout in seconds (none: no watchdog).
    pub watchdog: Option<(&'o str, u32)>,
    /// The watchdog device is a stand-in (a file or FIFO, for tests).
    pub watchdog_stand_in: bool,
    /// The parent cgroup of the workloads' cgroups (none: a delegated subtree under systemd,
    /// else DEFAULT_CGROUP_PARENT).
    pub cgroup_parent: Option<&'o str>,
    /// Print the workloads' states whenever they change (the demo).
    pub print_status: bool,
    /// Stop everything after this long (the demo).
    pub run_for: Option<core::time::Duration>,
}

/// The workloads' parent cgroup when nothing else is said.
pub const DEFAULT_CGROUP_PARENT: &str = "/mote-workloads";

/// Remove a container (forced, so one already gone is no error). A failure is logged, naming
/// the step and errno; what it left (a state directory, a cgroup) is for `mote delete`.
fn remove(containers: &StateRoot, id: &str, say: &mut dyn FnMut(core::fmt::Arguments<'_>)) {
    if let Err(e) = container::delete(containers, id, true, &mut |_| {}) {
        say(format_args!("{id}: its container was not removed: {e}"));
    }
}

/// Under systemd with `Delegate=yes` on cgroup v2 (INVOCATION_ID set, our own cgroup not the
/// root): the service's cgroup is ours to manage. We move into a leaf of it first (a cgroup
/// that enables controllers for its children may hold no process) and it becomes the
/// workloads' parent.
fn delegated_parent(say: &mut dyn FnMut(core::fmt::Arguments<'_>)) -> Option<String> {
    if crate::cgroup::mode() != Some(crate::cgroup::Mode::V2) || sys::env::var("INVOCATION_ID").is_none() {
        return None;
    }
    let mut buf = [0u8; 1024];
    let n = fs::read_path("/proc/self/cgroup", &mut buf).ok()?;
    let text = core::str::from_utf8(&buf[..n]).ok()?;
    let own = text.lines().find_map(|l| l.strip_prefix("0::"))?.trim();
    if own == "/" || own.is_empty() {
        return None;
    }
    let leaf = format!("{}{own}/supervisor", crate::cgroup::CGROUP_ROOT);
    let moved = match fs::mkdirat(fs::AT_FDCWD, &leaf, 0o755) {
        Ok(()) | Err(libc::EEXIST) => fs::write_at(fs::AT_FDCWD, &format!("{leaf}/cgroup.procs"), b"0"),
        Err(e) => Err(e),
    };
    match moved {
        Ok(()) => {
            say(format_args!(
                "delegated cgroup {own}: the supervisor moved to {own}/supervisor; workloads go under {own}"
            ));
            Some(own.to_string())
        }
        Err(e) => {
            say(format_args!(
                "cgroup {own} is not delegated to us ({}): workloads go under {DEFAULT_CGROUP_PARENT}",
                crate::error::errno_name(e)
            ));
            None
        }
    }
}

/// Where a workload's sd_notify socket appears inside its container.
pub const NOTIFY_PATH_IN_CONTAINER: &str = "/run/mote/notify.sock";

// epoll tokens: the kind in the top byte, then a generation (for slots and clients), then
// the index.
const T_SIGNAL: u64 = 1;
const T_LISTEN: u64 = 2;
const T_CLIENT: u64 = 3;
const T_LOG: u64 = 4;
const T_NOTIFY: u64 = 5;
const T_READY: u64 = 6;
const T_PIDFD: u64 = 7;

fn token(kind: u64, gen: u32, index: usize) -> u64 {
    (kind << 56) | (u64::from(gen) << 24) | (index as u64 & 0xff_ffff)
}

fn untoken(t: u64) -> (u64, u32, usize) {
    (t >> 56, ((t >> 24) & 0xffff_ffff) as u32, (t & 0xff_ffff) as usize)
}

fn now_ms() -> Ms {
    ms(sys::env::monotonic())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum HealthState {
    /// No health check configured.
    None,
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthState {
    fn as_str(self) -> &'static str {
        match self {
            HealthState::None => "none",
            HealthState::Starting => "starting",
            HealthState::Healthy => "healthy",
            HealthState::Unhealthy => "unhealthy",
        }
    }
}

/// A health check that runs: an exec'd process in the workload's container.
struct Check {
    slot: usize,
    gen: u32,
    pid: i32,
    deadline: Ms,
    out: OwnedFd,
    timed_out: bool,
}

/// One workload and everything the loop knows of it.
struct Slot {
    gen: u32,
    w: Workload,
    m: Machine,
    /// The container's id (the workload's name).
    id: String,
    /// The container exists (created, not yet deleted).
    exists: bool,
    pid: i32,
    start_ticks: u64,
    started_ms: Ms,
    /// Found running at start-up: not our child (its pidfd tells when it ends).
    pidfd: Option<OwnedFd>,
    ring: logs::Ring,
    file: Option<logs::LogFile>,
    log_fd: Option<OwnedFd>,
    notify_fd: Option<OwnedFd>,
    ready_fd: Option<OwnedFd>,
    ready: bool,
    status_text: String,
    /// sd_notify watchdog: its interval, and when the next WATCHDOG=1 is due.
    wd_ms: Option<u64>,
    wd_deadline: Option<Ms>,
    ready_deadline: Option<Ms>,
    health: HealthState,
    health_failures: u32,
    health_next: Ms,
    health_running: bool,
    health_output: String,
    last_exit: Option<String>,
    last_error: Option<String>,
    /// A reload changed the file: this config takes over once the workload is stopped.
    replace: Option<Workload>,
    /// A reload removed the file: the slot goes once the workload is stopped.
    remove: bool,
    /// A new revision under test (deploy.rs): not the workload (yet).
    candidate: bool,
    /// From a store that has no revision of it yet: not started.
    undeployed: bool,
}

impl Slot {
    fn new(w: Workload, gen: u32) -> Slot {
        Slot {
            gen,
            m: Machine::new(&w),
            id: deploy::container_id(&w),
            exists: false,
            pid: 0,
            start_ticks: 0,
            started_ms: 0,
            pidfd: None,
            ring: logs::Ring::new(w.logs.ring_bytes),
            file: w
                .logs
                .file
                .as_deref()
                .map(|f| logs::LogFile::new(f, w.logs.max_bytes, w.logs.keep)),
            log_fd: None,
            notify_fd: None,
            ready_fd: None,
            ready: false,
            status_text: String::new(),
            wd_ms: None,
            wd_deadline: None,
            ready_deadline: None,
            health: HealthState::None,
            health_failures: 0,
            health_next: 0,
            health_running: false,
            health_output: String::new(),
            last_exit: None,
            last_error: None,
            replace: None,
            remove: false,
            candidate: false,
            undeployed: w.store.is_some() && w.revision.is_none(),
            w,
        }
    }

    /// The state `mote status` shows.
    fn state(&self) -> &'static str {
        if self.undeployed && !self.exists {
            return "undeployed";
        }
        match self.m.phase {
            Phase::Stopped => "stopped",
            Phase::Waiting => "waiting",
            Phase::Stopping { .. } => "stopping",
            Phase::Backoff { .. } => "backoff",
            Phase::Failed => "failed",
            Phase::Running => match self.health {
                HealthState::Healthy => "healthy",
                HealthState::Unhealthy => "unhealthy",
                _ if self.ready => "ready",
                _ => "running",
            },
        }
    }

    /// Has it reached `c` (for the workloads that depend on it)?
    fn reached(&self, c: Condition) -> bool {
        if self.m.phase != Phase::Running {
            return false;
        }
        match c {
            Condition::Started => true,
            Condition::Ready => self.ready,
            Condition::Healthy => match self.health {
                HealthState::None => self.ready,
                h => h == HealthState::Healthy,
            },
        }
    }

    /// Well enough for the hardware watchdog: not past its start limit.
    fn well(&self) -> bool {
        !(self.w.critical && self.m.phase == Phase::Failed)
    }
}

/// What comes after a workload ended or failed to start, as its log line ends.
struct Next(Phase, Ms);

impl core::fmt::Display for Next {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Phase::Backoff { until } => write!(f, "; starting again in {} ms", until - self.1),
            Phase::Failed => f.write_str("; past its start limit: failed"),
            _ => Ok(()),
        }
    }
}

/// A control socket client.
struct Client {
    gen: u32,
    fd: OwnedFd,
    buf: Vec<u8>,
    deadline: Ms,
    /// Following this workload's log (slot index, generation).
    follow: Option<(usize, u32)>,
}

/// The supervisor.
struct Sup<'o> {
    o: &'o Options<'o>,
    ep: OwnedFd,
    sigfd: OwnedFd,
    listener: OwnedFd,
    clients: Vec<Option<Client>>,
    slots: Vec<Option<Slot>>,
    checks: Vec<Check>,
    /// Files of the workload directory that could not be read, with why (name, error).
    broken: Vec<(String, String)>,
    next_gen: u32,
    containers: StateRoot,
    dir: String,
    null: OwnedFd,
    watchdog: Option<watchdog::Watchdog>,
    pet_at: Ms,
    /// Petting stopped for good: the board resets.
    pets_stopped: bool,
    sd_watchdog: Option<u64>,
    sd_pet_at: Ms,
    sd_ready: bool,
    end: Option<End>,
    /// The workloads' parent cgroup.
    parent: String,
    /// Revisions under test (deploy.rs).
    #[cfg_attr(not(feature = "deploy"), allow(dead_code))]
    tests: Vec<deploy::Test>,
    /// When to stop by itself (Options::run_for).
    end_at: Option<Ms>,
    /// When the supervisor started, and how long after that the first workload ran.
    born: Ms,
    first_start: Option<Ms>,
    pid1: bool,
    dirty: bool,
    status_changed: bool,
    say: &'o mut dyn FnMut(core::fmt::Arguments<'_>),
}

/// Run the supervisor until it is told to stop; returns the exit code (as PID 1 it does not
/// return: it reboots as asked).
pub fn supervise<'a>(o: &'a Options<'a>, say: &'a mut dyn FnMut(core::fmt::Arguments<'_>)) -> Result<i32> {
    let born = now_ms();
    let pid1 = proc::getpid() == 1;
    if pid1 {
        init::mount_basics(say);
    }
    // Orphans of the workloads come to us, not to PID 1 (which may reap lazily, or be us).
    // The loop lives as long as the process: no guard to restore.
    match proc::subreaper() {
        Ok(g) => core::mem::forget(g),
        // QEMU user-mode does not emulate it; PID 1 is one anyway.
        Err(e) => say(format_args!(
            "warning: not a child subreaper ({}): orphaned processes go to PID 1",
            crate::error::errno_name(e)
        )),
    }
    // Many workloads mean many fds (a log pipe, a notify socket, a pidfd each).
    if let Ok(l) = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .maximum
        .ok_or(())
    {
        let _ = sys::setrlimit(libc::RLIMIT_NOFILE as i32, l, l);
    }

    let parent = match o.cgroup_parent {
        Some(p) => p.to_string(),
        None => delegated_parent(say).unwrap_or_else(|| DEFAULT_CGROUP_PARENT.to_string()),
    };
    let dir = format!("{}/supervisor", o.root);
    fs::mkdir_p(&format!("{dir}/notify"), 0o700)
        .step_ctx("create the supervisor's directory", format_args!("{dir}"))?;
    let containers = StateRoot::open(&format!("{dir}/containers"), true)?;

    // Signals through a signalfd, blocked for the process's life (children unblock them:
    // container processes and hooks start with an empty mask).
    let mut set = proc::SigSet::empty();
    for s in [
        libc::SIGCHLD,
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        set.add(s);
    }
    core::mem::forget(proc::block_signals(&set).step("sigprocmask")?);
    let sigfd = sys::signalfd(&set).step("signalfd")?;
    rustix::io::ioctl_fionbio(&sigfd, true).step("signalfd")?;

    let listener = control_listen(&format!("{dir}/control.sock"))?;
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).step("epoll_create")?;
    epoll::add(
        &ep,
        &sigfd,
        epoll::EventData::new_u64(token(T_SIGNAL, 0, 0)),
        epoll::EventFlags::IN,
    )
    .step("epoll")?;
    epoll::add(
        &ep,
        &listener,
        epoll::EventData::new_u64(token(T_LISTEN, 0, 0)),
        epoll::EventFlags::IN,
    )
    .step("epoll")?;
    let null = fs::open("/dev/null", libc::O_RDWR | libc::O_CLOEXEC, 0).step("open /dev/null")?;

    let watchdog = match o.watchdog {
        Some((dev, t)) => {
            let w = watchdog::Watchdog::open(dev, t, o.watchdog_stand_in)?;
            if let Some(n) = &w.note {
                say(format_args!("{n}"));
            }
            say(format_args!(
                "watchdog {dev}: timeout {} s{}",
                w.timeout,
                if w.caused_last_reset {
                    "; the last reset was the watchdog's"
                } else {
                    ""
                }
            ));
            w.pet();
            Some(w)
        }
        None => None,
    };

    let mut s = Sup {
        o,
        ep,
        sigfd,
        listener,
        clients: Vec::new(),
        slots: Vec::new(),
        checks: Vec::new(),
        broken: Vec::new(),
        next_gen: 1,
        containers,
        dir,
        null,
        watchdog,
        pet_at: 0,
        pets_stopped: false,
        sd_watchdog: notify::manager_watchdog_ms(),
        sd_pet_at: 0,
        sd_ready: false,
        end: None,
        parent,
        tests: Vec::new(),
        end_at: o.run_for.map(|d| now_ms() + ms(d)),
        born,
        first_start: None,
        pid1,
        dirty: true,
        status_changed: true,
        say,
    };
    s.load_all();
    s.adopt();
    s.run()
}

/// The control socket: a unix stream socket only root may connect to (mode 0600, and each
/// client's credentials checked). A live socket means another supervisor runs.
fn control_listen(path: &str) -> Result<OwnedFd> {
    use rustix::net::listen;
    if let Ok(c) = crate::process::connect_unix(path, "connect") {
        drop(c);
        return Err(Error::failed("supervise").ctx(format_args!(
            "another supervisor answers on {path}: stop it first (or give another --root)"
        )));
    }
    // Created 0600: nobody but root can even connect.
    let fd = notify::bind_unix(path, rustix::net::SocketType::STREAM, 0o600)?;
    listen(&fd, 16).step("listen on the control socket")?;
    Ok(fd)
}

/// One workload in state.json: what the supervisor had running, for its next start to adopt.
struct KeptWorkload {
    name: String,
    pid: i32,
    start_time: u64,
    stopped: bool,
    restarts: u32,
}

/// Read state.json (`{"workloads":[...]}`).
fn read_kept(input: &[u8]) -> value::R<Vec<KeptWorkload>> {
    let d = value::document(input)?;
    let mut out = Vec::new();
    for t in d
        .list("workloads", limits::MAX_WORKLOADS, "MAX_WORKLOADS")?
        .unwrap_or_default()
    {
        let k = Obj::at(t, "workloads[]")?;
        out.push(KeptWorkload {
            name: k.str("name")?.unwrap_or_default(),
            pid: k.uint("pid", i32::MAX as u64, "a process id")?.unwrap_or(0) as i32,
            start_time: k.u64("startTime")?.unwrap_or(0),
            stopped: k.bool("stopped")?,
            restarts: k.u32("restarts")?.unwrap_or(0),
        });
    }
    Ok(out)
}

/// One line of the status: a workload, or a broken workload file.
#[derive(Default)]
struct Row<'s> {
    name: &'s str,
    revision: Option<&'s str>,
    candidate: bool,
    state: &'s str,
    pid: i32,
    restarts: u32,
    health: &'s str,
    uptime: u64,
    last_exit: Option<&'s str>,
    memory: Option<u64>,
    ready: bool,
    critical: bool,
    status_text: &'s str,
    health_output: &'s str,
    error: &'s str,
}

impl Row<'_> {
    /// As an object of `mote status --format json`.
    fn json(&self, o: &mut String) {
        enum V<'s> {
            S(&'s str),
            O(Option<&'s str>),
            N(i64),
            B(bool),
        }
        let fields = [
            ("name", V::S(self.name)),
            ("revision", V::O(self.revision)),
            ("candidate", V::B(self.candidate)),
            ("state", V::S(self.state)),
            ("pid", V::N(self.pid as i64)),
            ("restarts", V::N(self.restarts as i64)),
            ("health", V::S(self.health)),
            ("uptime", V::N(self.uptime as i64)),
            ("lastExit", V::O(self.last_exit)),
            ("memory", V::N(self.memory.map_or(-1, |m| m as i64))),
            ("ready", V::B(self.ready)),
            ("critical", V::B(self.critical)),
            ("statusText", V::S(self.status_text)),
            ("healthOutput", V::S(self.health_output)),
            ("error", V::S(self.error)),
        ];
        let mut sep = '{';
        for (k, v) in fields {
            let _ = write!(o, "{sep}\"{k}\":");
            sep = ',';
            let _ = match v {
                V::S(s) | V::O(Some(s)) => write!(o, "{}", JsonStr(s)),
                V::O(None) => write!(o, "null"),
                V::N(n) => write!(o, "{n}"),
                V::B(b) => write!(o, "{b}"),
            };
        }
        o.push('}');
    }

    /// As a line of the table (and the error under it).
    fn line(&self, o: &mut String) {
        // A workload from a store: its revision (a new one under test marked so).
        let name = match self.revision {
            Some(r) => format!(
                "{}@{}{}",
                self.name,
                r.get(..8).unwrap_or(r),
                if self.candidate { "*" } else { "" }
            ),
            None => self.name.to_string(),
        };
        let s = self.uptime;
        let uptime = match s {
            _ if s == 0 && self.state == "stopped" => "-".into(),
            0..=59 => format!("{s}s"),
            60..=3599 => format!("{}m{}s", s / 60, s % 60),
            3600..=86399 => format!("{}h{}m", s / 3600, s % 3600 / 60),
            _ => format!("{}d{}h", s / 86400, s % 86400 / 3600),
        };
        let memory = match self.memory {
            None => "-".into(),
            Some(b @ 0..=1023) => format!("{b}B"),
            Some(b @ 1024..=1_048_575) => format!("{}K", b / 1024),
            Some(b) => format!("{}.{}M", b >> 20, (b & 0xfffff) * 10 >> 20),
        };
        let pid = if self.pid > 0 { self.pid.to_string() } else { "-".into() };
        let _ = writeln!(
            o,
            "{name:<16} {:<10} {pid:>7} {:>8} {:<9} {uptime:>8} {memory:>9}  {}",
            self.state,
            self.restarts,
            self.health,
            self.last_exit.unwrap_or("-")
        );
        if !self.error.is_empty() {
            let _ = writeln!(o, "  {}: {}", self.name, self.error);
        }
    }
}

impl Sup<'_> {
    fn say(&mut self, a: core::fmt::Arguments<'_>) {
        (self.say)(a);
    }

    fn gen(&mut self) -> u32 {
        self.next_gen = self.next_gen.wrapping_add(1).max(1) & 0xffff_ffff;
        self.next_gen
    }

    fn slot_index(&self, name: &str) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.w.name == name && !s.candidate))
    }

    /// Read the workload directory: every `*.json`, in name order.
    fn read_dir(&mut self, startup: bool) -> (Vec<Workload>, Vec<(String, String)>) {
        let mut ok = Vec::new();
        let mut broken = Vec::new();
        let dir = self.o.config_dir;
        let names = match fs::open(dir, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
            .and_then(|d| fs::list_dir(d.as_raw_fd()))
        {
            Ok(mut v) => {
                v.retain(|n| n.ends_with(".json") && !n.starts_with('.'));
                v.sort_unstable();
                v
            }
            Err(e) => {
                self.say(format_args!(
                    "workload directory {dir}: {} (no workloads)",
                    crate::error::errno_name(e)
                ));
                Vec::new()
            }
        };
        for n in names.iter().take(limits::MAX_WORKLOADS) {
            let path = format!("{dir}/{n}");
            let r = crate::spec::read_input(&path)
                .map_err(|e| Error::sys("workload", e).ctx(format_args!("{path}")))
                .and_then(|b| Workload::parse(&path, &b));
            match r {
                Ok(mut w) => {
                    // From a store: the revision its status names (a test under way is left
                    // as the loop runs it).
                    if self.test_index(&w.name).is_none() {
                        if let Err(why) = deploy::resolve(&mut w, startup, &mut *self.say) {
                            (self.say)(format_args!("{}: {why}", w.name));
                        }
                    }
                    ok.push(w)
                }
                Err(e) => broken.push((n.strip_suffix(".json").unwrap_or(n).to_string(), format!("{e}"))),
            }
        }
        if names.len() > limits::MAX_WORKLOADS {
            broken.push((
                String::from("(directory)"),
                format!(
                    "{dir}: more than {} workload files (MAX_WORKLOADS); the rest are ignored",
                    limits::MAX_WORKLOADS
                ),
            ));
        }
        // Dependencies that exist and make no cycle; the offending workloads are refused.
        loop {
            match crate::spec::workload::start_order(&ok) {
                Ok(_) => break,
                Err((bad, why)) => {
                    let w = ok.remove(bad);
                    let msg = format!("workload {:?}: {why}", w.name);
                    broken.push((w.name, msg));
                }
            }
        }
        (ok, broken)
    }

    /// Start-up: every workload file becomes a slot.
    fn load_all(&mut self) {
        let (ok, broken) = self.read_dir(true);
        for (n, e) in &broken {
            (self.say)(format_args!("{n}: not loaded: {e}"));
        }
        self.broken = broken;
        for w in ok {
            let g = self.gen();
            self.slots.push(Some(Slot::new(w, g)));
        }
    }

    /// SIGHUP or `mote reload`: start what is new, stop what is gone, restart what changed; a
    /// broken file leaves its workload as it was.
    fn reload(&mut self) {
        let now = now_ms();
        let (ok, broken) = self.read_dir(false);
        for (n, e) in &broken {
            (self.say)(format_args!("reload: {n}: {e} (left as it was)"));
        }
        self.broken = broken;
        // Gone: neither read nor broken.
        for i in 0..self.slots.len() {
            let Some(s) = self.slots[i].as_mut() else { continue };
            let name = &s.w.name;
            if ok.iter().any(|w| w.name == *name) || self.broken.iter().any(|(n, _)| n == name) {
                continue;
            }
            (self.say)(format_args!("{name}: removed; stopping it"));
            s.remove = true;
            let a = s.m.stop(now, Then::Stay);
            self.act(i, a);
            self.finish_stopped(i);
        }
        for w in ok {
            match self.slot_index(&w.name) {
                None => {
                    (self.say)(format_args!("{}: added", w.name));
                    let g = self.gen();
                    self.slots.push(Some(Slot::new(w, g)));
                }
                Some(i) => {
                    if self.test_index(&w.name).is_some() {
                        continue; // under test: deploy.rs decides
                    }
                    let Some(s) = self.slots[i].as_mut() else { continue };
                    if s.w == w {
                        continue;
                    }
                    (self.say)(format_args!("{}: changed; restarting it", w.name));
                    s.replace = Some(w);
                    s.remove = false;
                    let a = s.m.stop(now, Then::Stay);
                    self.act(i, a);
                    self.finish_stopped(i);
                }
            }
        }
        self.dirty = true;
        self.status_changed = true;
    }

    /// Start-up: containers that state.json says were running and still run (same pid, same
    /// start time) are supervised from here, not started again; others are removed.
    fn adopt(&mut self) {
        let path = format!("{}/state.json", self.dir);
        let input = crate::spec::read_input(&path).unwrap_or_default();
        let kept = if input.is_empty() {
            Vec::new()
        } else {
            read_kept(&input).unwrap_or_else(|e| {
                (self.say)(format_args!("{path}: {e}: nothing adopted"));
                Vec::new()
            })
        };
        let now = now_ms();
        for k in &kept {
            let Some(i) = self.slot_index(&k.name) else { continue };
            let Some(s) = self.slots[i].as_mut() else { continue };
            s.m.restarts = k.restarts;
            if k.stopped && s.w.policy == crate::spec::workload::Policy::UnlessStopped {
                s.m.user_stopped = true;
                s.m.phase = Phase::Stopped;
            }
            let alive = container::state::init_alive(k.pid, k.start_time)
                && container::Handle::open(&self.containers, &s.id).is_ok_and(|h| h.pid() == k.pid);
            if !alive {
                continue;
            }
            let pidfd = proc::pidfd_open(k.pid).ok();
            s.pid = k.pid;
            s.start_ticks = k.start_time;
            s.exists = true;
            s.ready = true;
            s.m.adopted(now);
            s.started_ms = now;
            if s.w.health.is_some() {
                s.health = HealthState::Starting;
                s.health_next = now;
            }
            if let Some(p) = &pidfd {
                let _ = epoll::add(
                    &self.ep,
                    p,
                    epoll::EventData::new_u64(token(T_PIDFD, s.gen, i)),
                    epoll::EventFlags::IN,
                );
            }
            s.pidfd = pidfd;
            s.last_error = Some("adopted after a restart of the supervisor: its output is not captured".into());
            (self.say)(format_args!("{}: adopted (pid {})", s.w.name, s.pid));
        }
        // Containers nothing adopted: leftovers of a supervisor that died, or of removed
        // workloads.
        for id in self.containers.ids().unwrap_or_default() {
            let adopted = self.slots.iter().flatten().any(|s| s.id == id && s.exists);
            if !adopted {
                remove(&self.containers, &id, self.say);
            }
        }
    }

    /// Write state.json (temp, fsync, rename, fsync dir).
    fn persist(&mut self) {
        let mut o = String::from("{\"workloads\":[");
        let mut first = true;
        for s in self.slots.iter().flatten().filter(|s| !s.candidate) {
            let _ = write!(
                o,
                "{}{{\"name\":{},\"pid\":{},\"startTime\":{},\"stopped\":{},\"restarts\":{}}}",
                if first { "" } else { "," },
                JsonStr(&s.w.name),
                if s.exists { s.pid } else { 0 },
                s.start_ticks,
                s.m.user_stopped,
                s.m.restarts
            );
            first = false;
        }
        o.push_str("]}\n");
        if let Ok(d) = fs::open(&self.dir, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0) {
            if let Err(e) = fs::write_atomic(d.as_raw_fd(), "state.json", o.as_bytes(), 0o600) {
                let dir = self.dir.clone();
                (self.say)(format_args!("{dir}/state.json: {}", crate::error::errno_name(e)));
            }
        }
        self.dirty = false;
    }

    /// The loop.
    fn run(&mut self) -> Result<i32> {
        let mut events = [MaybeUninit::<epoll::Event>::uninit(); 32];
        loop {
            let now = now_ms();
            self.timers(now);
            if self.end.is_none() {
                self.deploy_tick(now);
            }
            self.start_waiting(now);
            if let Some(end) = self.end {
                self.stop_in_order(now);
                if self.all_stopped() {
                    return Ok(self.finish(end));
                }
            }
            self.watchdogs(now);
            if self.dirty {
                self.persist();
            }
            if self.status_changed && self.o.print_status {
                self.print_status();
            }
            self.status_changed = false;
            let timeout = self.next_deadline().map(|d| {
                let ms = d.saturating_sub(now_ms());
                rustix::event::Timespec {
                    tv_sec: (ms / 1000) as _,
                    tv_nsec: ((ms % 1000) * 1_000_000) as _,
                }
            });
            let (ready, _) = match epoll::wait(&self.ep, &mut events, timeout.as_ref()) {
                Ok(r) => r,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(Error::sys("epoll_wait", e.raw_os_error())),
            };
            // The events are packed (x86_64's epoll_event): copy each out before reading it.
            let tokens: heapless::Vec<(u64, bool), 32> = ready
                .iter()
                .map(|e| {
                    let (data, flags) = (e.data, e.flags);
                    (
                        data.u64(),
                        flags.intersects(epoll::EventFlags::HUP | epoll::EventFlags::ERR),
                    )
                })
                .collect();
            for (t, hup) in tokens {
                self.event(t, hup);
            }
        }
    }

    fn event(&mut self, t: u64, hup: bool) {
        let (kind, gen, i) = untoken(t);
        match kind {
            T_SIGNAL => self.signals(),
            T_LISTEN => self.accept(),
            T_CLIENT => self.client_readable(i, gen, hup),
            T_LOG | T_NOTIFY | T_READY | T_PIDFD => {
                if !self.slots.get(i).and_then(|s| s.as_ref()).is_some_and(|s| s.gen == gen) {
                    return;
                }
                match kind {
                    T_LOG => self.read_log(i),
                    T_NOTIFY => self.read_notify(i),
                    T_READY => self.read_ready(i),
                    _ => self.adopted_ended(i),
                }
            }
            _ => {}
        }
    }

    fn signals(&mut self) {
        while let Ok(sig) = sys::read_signal(self.sigfd.as_raw_fd()) {
            match sig {
                libc::SIGCHLD => self.reap(),
                libc::SIGHUP => {
                    (self.say)(format_args!("SIGHUP: reloading {}", self.o.config_dir));
                    self.reload();
                }
                _ => {
                    if self.end.is_none() {
                        let end = End::for_signal(sig, self.pid1);
                        (self.say)(format_args!(
                            "{}: stopping the workloads{}",
                            crate::spec::units::signal_name(sig),
                            match end {
                                End::Exit => "",
                                End::Reboot => ", then rebooting",
                                End::PowerOff => ", then powering off",
                                End::Halt => ", then halting",
                            }
                        ));
                        let _ = notify::send_to_manager("STOPPING=1\nSTATUS=stopping the workloads");
                        self.end = Some(end);
                        self.status_changed = true;
                    }
                }
            }
        }
    }

    /// Reap every child that ended: a workload's init, a health check, or an orphan.
    fn reap(&mut self) {
        loop {
            let (pid, st) = match proc::waitpid(-1, libc::WNOHANG) {
                Ok((0, _)) | Err(_) => return,
                Ok(x) => x,
            };
            if let Some(k) = self.checks.iter().position(|c| c.pid == pid) {
                let c = self.checks.swap_remove(k);
                self.check_done(c, st);
                continue;
            }
            let Some(i) = self.slots.iter().position(|s| {
                s.as_ref()
                    .is_some_and(|s| s.exists && s.pid == pid && s.pidfd.is_none())
            }) else {
                continue;
            };
            let how = if libc::WIFEXITED(st) {
                format!("exited with status {}", libc::WEXITSTATUS(st))
            } else if libc::WTERMSIG(st) == libc::SIGKILL && self.oom_killed(i) {
                "killed by the kernel: out of memory (its cgroup's limit)".to_string()
            } else {
                format!("killed by {}", crate::spec::units::signal_name(libc::WTERMSIG(st)))
            };
            let failure = !(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0);
            self.ended(i, how, failure);
        }
    }

    /// Did the kernel's OOM killer act in the workload's cgroup?
    fn oom_killed(&self, i: usize) -> bool {
        let Some(s) = self.slots[i].as_ref() else { return false };
        container::Handle::open(&self.containers, &s.id)
            .ok()
            .and_then(|h| h.cgroup())
            .is_some_and(|cg| crate::cgroup::stats::oom_kills(&cg) > 0)
    }

    /// An adopted workload's pidfd: it ended (its status went to its old parent).
    fn adopted_ended(&mut self, i: usize) {
        let Some(s) = self.slots[i].as_mut() else { return };
        if let Some(p) = s.pidfd.take() {
            let _ = epoll::delete(&self.ep, &p);
        }
        self.ended(i, "ended (adopted: status unknown)".into(), true);
    }

    /// A workload's process ended: remove its container, then let the policy decide.
    fn ended(&mut self, i: usize, how: String, failure: bool) {
        let now = now_ms();
        let containers = &self.containers;
        let Some(s) = self.slots[i].as_mut() else { return };
        remove(containers, &s.id, self.say);
        s.exists = false;
        s.ready = false;
        s.wd_deadline = None;
        s.ready_deadline = None;
        if let Some(fd) = s.notify_fd.take() {
            let _ = epoll::delete(&self.ep, &fd);
        }
        if let Some(fd) = s.ready_fd.take() {
            let _ = epoll::delete(&self.ep, &fd);
        }
        let ran = now.saturating_sub(s.started_ms);
        let a = s.m.exited(now, failure);
        let next = Next(s.m.phase, now);
        (self.say)(format_args!("{}: {how} after {ran} ms{next}", s.w.name));
        s.last_exit = Some(how);
        self.act(i, a);
        self.finish_stopped(i);
        self.dirty = true;
        self.status_changed = true;
    }

    /// A stopped slot with a replacement config or a removal pending: apply it.
    fn finish_stopped(&mut self, i: usize) {
        let Some(s) = self.slots[i].as_mut() else { return };
        if s.exists
            || !matches!(
                s.m.phase,
                Phase::Stopped | Phase::Failed | Phase::Waiting | Phase::Backoff { .. }
            )
        {
            return;
        }
        if s.remove {
            self.slots[i] = None;
            self.dirty = true;
            return;
        }
        if let Some(w) = s.replace.take() {
            let g = self.gen();
            self.slots[i] = Some(Slot::new(w, g));
            self.dirty = true;
        }
    }

    /// Perform what a policy decided.
    fn act(&mut self, i: usize, a: Option<Action>) {
        let Some(a) = a else { return };
        // Stopping everything: nothing starts again.
        if a == Action::Start && self.end.is_some() {
            if let Some(s) = self.slots[i].as_mut() {
                let _ = s.m.stop(now_ms(), Then::Stay);
            }
            return;
        }
        match a {
            Action::Start => self.start(i),
            Action::Signal(sig) => {
                let Some(s) = self.slots[i].as_ref() else { return };
                if s.exists {
                    if let Err(e) = container::kill(&self.containers, &s.id, sig, false) {
                        (self.say)(format_args!("{}: stop: {e}", s.w.name));
                    }
                }
            }
            Action::Kill => {
                let Some(s) = self.slots[i].as_ref() else { return };
                if s.exists {
                    (self.say)(format_args!(
                        "{}: still running after its stop timeout: SIGKILL",
                        s.w.name
                    ));
                    let _ = container::kill(&self.containers, &s.id, libc::SIGKILL, true);
                }
            }
            Action::Limit(action) => {
                let Some(s) = self.slots[i].as_ref() else { return };
                let name = &s.w.name;
                match action {
                    LimitAction::Stop => {}
                    LimitAction::Watchdog => {
                        (self.say)(format_args!(
                            "{name}: start limit: no more watchdog pets; the board resets"
                        ));
                        self.pets_stopped = true;
                    }
                    LimitAction::Reboot => {
                        (self.say)(format_args!("{name}: start limit: stopping everything and rebooting"));
                        if self.end.is_none() {
                            self.end = Some(End::Reboot);
                        }
                    }
                }
            }
        }
        self.status_changed = true;
    }

    /// Create and start a workload's container.
    fn start(&mut self, i: usize) {
        let now = now_ms();
        if let Some(s) = self.slots[i].as_mut().filter(|s| s.undeployed) {
            s.m.phase = Phase::Stopped;
            s.last_error = Some("no revision deployed yet (mote deploy stage, then activate)".into());
            return;
        }
        let r = self.try_start(i, now);
        let Some(s) = self.slots[i].as_mut() else { return };
        match r {
            Ok(()) => {
                s.last_error = None;
                s.m.started(now);
                (self.say)(format_args!("{}: started (pid {})", s.w.name, s.pid));
                if self.first_start.is_none() {
                    let ms = now_ms() - self.born;
                    self.first_start = Some(ms);
                    (self.say)(format_args!(
                        "first workload running {ms} ms after the supervisor started"
                    ));
                }
            }
            Err(e) => {
                s.last_error = Some(format!("{e}"));
                // A failed start counts as a failed run.
                s.m.started(now);
                let a = s.m.exited(now, true);
                let next = Next(s.m.phase, now);
                (self.say)(format_args!("{}: start failed: {e}{next}", s.w.name));
                self.act(i, a);
            }
        }
        self.dirty = true;
        self.status_changed = true;
    }

    fn try_start(&mut self, i: usize, now: Ms) -> Result<()> {
        let containers = &self.containers;
        let ep = &self.ep;
        let null = self.null.as_raw_fd();
        let dir = &self.dir;
        let parent = self.parent.as_str();
        let Some(s) = self.slots[i].as_mut() else { return Ok(()) };
        // A container left from an earlier run goes first.
        remove(containers, &s.id, self.say);
        let w = &s.w;
        let (log_r, log_w) = sys::pipe().step("pipe for the logs")?;
        rustix::io::ioctl_fionbio(&log_r, true).step("pipe for the logs")?;
        let mut env: Vec<String> = w.env.clone();
        let mut binds: Vec<(String, &str)> = Vec::new();
        let notify_fd = match w.readiness {
            Readiness::Notify => {
                let path = format!("{dir}/notify/{}.sock", s.id);
                let fd = notify::listen(&path)?;
                env.push(format!("NOTIFY_SOCKET={NOTIFY_PATH_IN_CONTAINER}"));
                if let Some(wd) = w.watchdog {
                    env.push(format!("WATCHDOG_USEC={}", wd.as_micros() as u64));
                }
                binds.push((path, NOTIFY_PATH_IN_CONTAINER));
                Some(fd)
            }
            _ => None,
        };
        let mut fds: Vec<i32> = vec![null, log_w.as_raw_fd(), log_w.as_raw_fd()];
        let ready_pipe = match w.readiness {
            Readiness::Fd(n) => {
                let (r, wr) = sys::pipe().step("pipe for readiness")?;
                rustix::io::ioctl_fionbio(&r, true).step("pipe for readiness")?;
                while fds.len() < n as usize {
                    fds.push(null);
                }
                fds.push(wr.as_raw_fd());
                Some((r, wr))
            }
            _ => None,
        };
        let env_refs: Vec<&str> = env.iter().map(|e| e.as_str()).collect();
        let bind_refs: Vec<(&str, &str)> = binds.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        let cg = format!("{parent}/{}", s.id);
        let o = container::CreateOpts {
            id: &s.id,
            bundle: Some(&w.bundle),
            fds: &fds,
            env: &env_refs,
            binds: &bind_refs,
            cgroup_path: Some(&cg),
            relay_terminal: true,
            ..Default::default()
        };
        let mut warnings = String::new();
        let mut c = container::create(containers, &o, &mut |a| {
            let _ = write!(warnings, "{a}; ");
        })?;
        // A terminal (process.terminal): its master is the log source.
        let log_src = match c.console.take() {
            Some(ours) => container::console::receive_master(&ours)?,
            None => log_r,
        };
        drop(log_w);
        s.pid = c.pid;
        s.start_ticks = c.start_time;
        s.exists = true;
        drop(c);
        if let Err(e) = container::start(containers, &s.id) {
            remove(containers, &s.id, self.say);
            s.exists = false;
            return Err(e);
        }
        rustix::io::ioctl_fionbio(&log_src, true).step("log source")?;
        epoll::add(
            ep,
            &log_src,
            epoll::EventData::new_u64(token(T_LOG, s.gen, i)),
            epoll::EventFlags::IN,
        )
        .step("epoll")?;
        s.log_fd = Some(log_src);
        if let Some(fd) = notify_fd {
            epoll::add(
                ep,
                &fd,
                epoll::EventData::new_u64(token(T_NOTIFY, s.gen, i)),
                epoll::EventFlags::IN,
            )
            .step("epoll")?;
            s.notify_fd = Some(fd);
        }
        if let Some((r, wr)) = ready_pipe {
            drop(wr);
            epoll::add(
                ep,
                &r,
                epoll::EventData::new_u64(token(T_READY, s.gen, i)),
                epoll::EventFlags::IN,
            )
            .step("epoll")?;
            s.ready_fd = Some(r);
        }
        s.started_ms = now;
        s.ready = s.w.readiness == Readiness::None;
        s.status_text.clear();
        s.wd_ms = s.w.watchdog.map(ms);
        s.wd_deadline = s.wd_ms.map(|m| now + m);
        s.ready_deadline = s.w.ready_timeout.map(|d| now + ms(d));
        if let Some(h) = &s.w.health {
            s.health = HealthState::Starting;
            s.health_failures = 0;
            // The first check one interval after the start, as docker does.
            s.health_next = now + ms(h.interval);
        } else {
            s.health = HealthState::None;
        }
        if !warnings.is_empty() {
            s.last_error = Some(format!("warnings: {warnings}"));
        }
        Ok(())
    }

    fn read_log(&mut self, i: usize) {
        let mut buf = [0u8; 4096];
        let mut followers: Vec<usize> = Vec::new();
        for (k, c) in self.clients.iter().enumerate() {
            if let Some(c) = c {
                if c.follow
                    .is_some_and(|(si, g)| si == i && self.slots[i].as_ref().is_some_and(|s| s.gen == g))
                {
                    followers.push(k);
                }
            }
        }
        let Some(s) = self.slots[i].as_mut() else { return };
        let Some(fd) = s.log_fd.as_ref().map(|f| f.as_raw_fd()) else {
            return;
        };
        loop {
            match fs::read(fd, &mut buf) {
                Ok(0) | Err(libc::EIO) => {
                    // The writers are gone (the workload ended; EIO: its terminal closed).
                    if let Some(f) = s.log_fd.take() {
                        let _ = epoll::delete(&self.ep, &f);
                    }
                    return;
                }
                Ok(n) => {
                    s.ring.push(&buf[..n]);
                    if let Some(f) = &mut s.file {
                        let _ = f.write(&buf[..n]);
                    }
                    for &k in &followers {
                        if let Some(c) = &self.clients[k] {
                            if fs::write(c.fd.as_raw_fd(), &buf[..n]).is_err() {
                                // A follower that cannot keep up (or has gone) is dropped.
                                self.clients[k] = None;
                            }
                        }
                    }
                    if n < buf.len() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    }

    fn read_notify(&mut self, i: usize) {
        let now = now_ms();
        let mut buf = [0u8; 1024];
        let mut failed = false;
        {
            let Some(s) = self.slots[i].as_mut() else { return };
            let Some(fd) = &s.notify_fd else { return };
            // One datagram a read (the socket is non-blocking).
            while let Ok(n) = fs::read(fd.as_raw_fd(), &mut buf) {
                let m = notify::parse(&buf[..n]);
                if m.ready && !s.ready {
                    s.ready = true;
                    s.ready_deadline = None;
                    self.status_changed = true;
                    (self.say)(format_args!("{}: ready", s.w.name));
                }
                if let Some(t) = m.status {
                    s.status_text = t;
                }
                if let Some(u) = m.watchdog_usec {
                    s.wd_ms = Some(u / 1000);
                }
                if m.watchdog || m.watchdog_usec.is_some() {
                    s.wd_deadline = s.wd_ms.map(|ms| now + ms);
                }
                if m.trigger {
                    failed = true;
                }
            }
        }
        if failed {
            self.fail(i, now, "it asked to be restarted (WATCHDOG=trigger)");
        }
    }

    fn read_ready(&mut self, i: usize) {
        let Some(s) = self.slots[i].as_mut() else { return };
        let Some(fd) = s.ready_fd.as_ref().map(|f| f.as_raw_fd()) else {
            return;
        };
        let mut buf = [0u8; 256];
        match fs::read(fd, &mut buf) {
            Ok(0) | Err(_) => {
                if let Some(f) = s.ready_fd.take() {
                    let _ = epoll::delete(&self.ep, &f);
                }
            }
            Ok(n) => {
                if buf[..n].contains(&b'\n') {
                    s.ready = true;
                    s.ready_deadline = None;
                    self.status_changed = true;
                    (self.say)(format_args!("{}: ready", s.w.name));
                    // One line is all s6 expects; the fd is not read again.
                    if let Some(f) = s.ready_fd.take() {
                        let _ = epoll::delete(&self.ep, &f);
                    }
                }
            }
        }
    }

    /// A running workload failed (unhealthy, watchdog silent, not ready in time): its policy
    /// decides.
    fn fail(&mut self, i: usize, now: Ms, why: &str) {
        let Some(s) = self.slots[i].as_mut() else { return };
        s.last_error = Some(why.to_string());
        let a = s.m.failed(now);
        (self.say)(format_args!(
            "{}: {why}{}",
            s.w.name,
            if a.is_some() { "; stopping it" } else { "" }
        ));
        self.act(i, a);
    }

    /// What time brings: policy timers, health checks, sd_notify watchdogs, readiness
    /// timeouts, slow control clients.
    fn timers(&mut self, now: Ms) {
        if self.end.is_none() && self.end_at.is_some_and(|t| now >= t) {
            (self.say)(format_args!("time is up: stopping the workloads"));
            self.end = Some(End::Exit);
        }
        for i in 0..self.slots.len() {
            let (a, wd_missed, not_ready, check_due) = {
                let Some(s) = self.slots[i].as_mut() else { continue };
                let a = s.m.tick(now);
                let running = s.m.phase == Phase::Running;
                let wd = running && s.wd_deadline.is_some_and(|d| now >= d);
                let nr = running && s.ready_deadline.is_some_and(|d| now >= d);
                let due = running && s.w.health.is_some() && !s.health_running && now >= s.health_next;
                if wd {
                    s.wd_deadline = None;
                }
                if nr {
                    s.ready_deadline = None;
                }
                (a, wd, nr, due)
            };
            self.act(i, a);
            if wd_missed {
                self.fail(i, now, "silent past its watchdog interval (no WATCHDOG=1)");
            }
            if not_ready {
                self.fail(i, now, "not ready within readiness.timeout");
            }
            if check_due {
                self.run_check(i, now);
            }
        }
        // Health checks past their timeout are killed; their exit counts as a failure.
        for c in &mut self.checks {
            if !c.timed_out && now >= c.deadline {
                c.timed_out = true;
                let _ = proc::kill(c.pid, libc::SIGKILL);
            }
        }
        for c in &mut self.clients {
            if c.as_ref().is_some_and(|c| c.follow.is_none() && now >= c.deadline) {
                *c = None;
            }
        }
    }

    fn run_check(&mut self, i: usize, now: Ms) {
        let Some(s) = self.slots[i].as_mut() else { return };
        let Some(h) = &s.w.health else { return };
        s.health_next = now + ms(h.interval);
        let Ok((r, w)) = sys::pipe() else { return };
        let _ = rustix::io::ioctl_fionbio(&r, true);
        let fds = [self.null.as_raw_fd(), w.as_raw_fd(), w.as_raw_fd()];
        let o = container::exec::ExecOpts {
            id: &s.id,
            args: &h.exec,
            detach: true,
            fds: &fds,
            ..Default::default()
        };
        match container::exec::exec(&self.containers, &o, &mut |_| {}) {
            Ok(container::exec::Outcome::Detached(pid)) => {
                s.health_running = true;
                self.checks.push(Check {
                    slot: i,
                    gen: s.gen,
                    pid,
                    deadline: now + ms(h.timeout),
                    out: r,
                    timed_out: false,
                });
            }
            Ok(_) => {}
            Err(e) => {
                let msg = format!("{e}");
                self.health_result(i, false, msg);
            }
        }
    }

    fn check_done(&mut self, c: Check, st: i32) {
        let mut buf = [0u8; 256];
        let n = fs::read(c.out.as_raw_fd(), &mut buf).unwrap_or(0);
        let out = String::from_utf8_lossy(&buf[..n]).trim().to_string();
        if !self
            .slots
            .get(c.slot)
            .and_then(|s| s.as_ref())
            .is_some_and(|s| s.gen == c.gen)
        {
            return;
        }
        if let Some(s) = self.slots[c.slot].as_mut() {
            s.health_running = false;
        }
        let ok = !c.timed_out && libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0;
        let why = if c.timed_out {
            "timed out".to_string()
        } else if libc::WIFEXITED(st) {
            format!(
                "exit {}{}{}",
                libc::WEXITSTATUS(st),
                if out.is_empty() { "" } else { ": " },
                out
            )
        } else {
            format!("killed by {}", crate::spec::units::signal_name(libc::WTERMSIG(st)))
        };
        self.health_result(c.slot, ok, why);
    }

    fn health_result(&mut self, i: usize, ok: bool, why: String) {
        let now = now_ms();
        let Some(s) = self.slots[i].as_mut() else { return };
        s.health_running = false;
        let Some((start_period, retries)) = s.w.health.as_ref().map(|h| (h.start_period, h.retries)) else {
            return;
        };
        if s.m.phase != Phase::Running {
            return;
        }
        let before = s.health;
        if ok {
            s.health = HealthState::Healthy;
            s.health_failures = 0;
            s.health_output.clear();
        } else {
            s.health_output = why;
            // During the start period, failures do not count until it has once been healthy.
            let in_start = now.saturating_sub(s.started_ms) < ms(start_period);
            if !(in_start && before == HealthState::Starting) {
                s.health_failures += 1;
            }
            if s.health_failures >= retries {
                s.health = HealthState::Unhealthy;
            }
        }
        if s.health != before {
            self.status_changed = true;
            let out = &s.health_output;
            if s.health == HealthState::Unhealthy {
                let msg = format!("unhealthy: {out}");
                self.fail(i, now, &msg);
            } else {
                (self.say)(format_args!(
                    "{}: {}{}{out}",
                    s.w.name,
                    s.health.as_str(),
                    if out.is_empty() { "" } else { ": " }
                ));
            }
        }
    }

    /// Workloads waiting for their dependencies start once those are met (not while stopping
    /// everything).
    fn start_waiting(&mut self, _now: Ms) {
        if self.end.is_some() {
            return;
        }
        for i in 0..self.slots.len() {
            let ready = {
                let Some(s) = self.slots[i].as_ref() else { continue };
                if s.m.phase != Phase::Waiting || s.undeployed || s.candidate {
                    continue;
                }
                s.w.depends_on
                    .iter()
                    .all(|(d, c)| self.slots.iter().flatten().any(|o| &o.w.name == d && o.reached(*c)))
            };
            if ready {
                let a = self.slots[i].as_mut().and_then(|s| s.m.start());
                self.act(i, a);
            }
        }
    }

    /// Stopping everything: a workload is stopped once nothing that depends on it runs.
    fn stop_in_order(&mut self, now: Ms) {
        for i in 0..self.slots.len() {
            let Some(s) = self.slots[i].as_ref() else { continue };
            if matches!(s.m.phase, Phase::Stopped | Phase::Stopping { .. } | Phase::Failed) && !s.exists {
                continue;
            }
            if matches!(s.m.phase, Phase::Stopping { .. }) {
                continue;
            }
            let name = s.w.name.clone();
            let dependents_up = self
                .slots
                .iter()
                .flatten()
                .any(|o| o.exists && o.w.depends_on.iter().any(|(d, _)| *d == name));
            if dependents_up {
                continue;
            }
            let a = self.slots[i].as_mut().and_then(|s| s.m.stop(now, Then::Stay));
            self.act(i, a);
        }
    }

    fn all_stopped(&self) -> bool {
        self.slots.iter().flatten().all(|s| !s.exists) && self.checks.is_empty()
    }

    /// Everything is stopped: close up, and end as asked.
    fn finish(&mut self, end: End) -> i32 {
        for id in self.containers.ids().unwrap_or_default() {
            remove(&self.containers, &id, self.say);
        }
        // The parent goes too, unless it is systemd's (delegated) cgroup of this service.
        if self.o.cgroup_parent.is_some() || self.parent == DEFAULT_CGROUP_PARENT {
            crate::cgroup::remove_parent(&self.parent);
        }
        if let Some(w) = &mut self.watchdog {
            w.close();
        }
        self.persist();
        let _ = fs::unlinkat(fs::AT_FDCWD, &format!("{}/control.sock", self.dir), 0);
        let _ = fs::remove_all(&format!("{}/notify", self.dir));
        (self.say)(format_args!("all workloads stopped"));
        if self.pid1 {
            return init::finish(end);
        }
        if end == End::Reboot {
            // Not the init: ask the one there is, with its own tool (systemctl behind
            // /sbin/reboot under systemd; a signal to init under busybox).
            (self.say)(format_args!("running reboot(8)"));
            rustix::fs::sync();
            return match proc::run_capture(&["reboot"]) {
                Ok((code, _)) => code,
                Err(e) => {
                    (self.say)(format_args!("reboot(8): {}", crate::error::errno_name(e)));
                    1
                }
            };
        }
        0
    }

    /// The hardware watchdog and systemd's, petted after the health evaluation above, and only
    /// while the critical workloads are well.
    fn watchdogs(&mut self, now: Ms) {
        let well = self.slots.iter().flatten().all(|s| s.well());
        if !well && !self.pets_stopped {
            (self.say)(format_args!(
                "a critical workload is past its start limit: no more watchdog pets"
            ));
            self.pets_stopped = true;
        }
        if let Some(w) = &self.watchdog {
            if !self.pets_stopped && now >= self.pet_at {
                w.pet();
                self.pet_at = now + w.interval_ms();
            }
        }
        if !self.sd_ready && self.end.is_none() && self.slots.iter().flatten().all(|s| s.m.phase != Phase::Waiting) {
            self.sd_ready = true;
            let _ = notify::send_to_manager("READY=1\nSTATUS=workloads started");
        }
        if let Some(ms) = self.sd_watchdog {
            if well && now >= self.sd_pet_at {
                let _ = notify::send_to_manager("WATCHDOG=1");
                self.sd_pet_at = now + ms / 2;
            }
        }
    }

    fn next_deadline(&self) -> Option<Ms> {
        let mut d: Option<Ms> = None;
        let mut at = |t: Ms| d = Some(d.map_or(t, |x| x.min(t)));
        for s in self.slots.iter().flatten() {
            if let Some(t) = s.m.deadline() {
                at(t);
            }
            if s.m.phase == Phase::Running {
                for t in [s.wd_deadline, s.ready_deadline].into_iter().flatten() {
                    at(t);
                }
                if s.w.health.is_some() && !s.health_running {
                    at(s.health_next);
                }
            }
        }
        for c in &self.checks {
            if !c.timed_out {
                at(c.deadline);
            }
        }
        for c in self.clients.iter().flatten() {
            if c.follow.is_none() {
                at(c.deadline);
            }
        }
        if let Some(w) = &self.watchdog {
            if !self.pets_stopped {
                at(self.pet_at.max(1));
                let _ = w;
            }
        }
        if self.sd_watchdog.is_some() {
            at(self.sd_pet_at);
        }
        if let Some(t) = self.deploy_deadline() {
            at(t);
        }
        if let (None, Some(t)) = (self.end, self.end_at) {
            at(t);
        }
        // While stopping everything: look again soon (a stop timeout may be long, but the
        // order of stops moves on as workloads end).
        if self.end.is_some() {
            at(now_ms() + 1000);
        }
        d
    }

    // ---- the control socket -------------------------------------------------------------

    fn accept(&mut self) {
        while let Ok(fd) = rustix::net::accept_with(
            &self.listener,
            rustix::net::SocketFlags::CLOEXEC | rustix::net::SocketFlags::NONBLOCK,
        ) {
            // Root (or our own user) only.
            let allowed = rustix::net::sockopt::socket_peercred(&fd)
                .is_ok_and(|c| c.uid.is_root() || c.uid == rustix::process::geteuid());
            if !allowed {
                let _ = fs::write(
                    fd.as_raw_fd(),
                    b"{\"ok\":false,\"kind\":\"failed\",\"error\":\"only root may use the control socket\"}\n",
                );
                continue;
            }
            let Some(slot) = self.clients.iter().position(|c| c.is_none()).or_else(|| {
                (self.clients.len() < limits::MAX_CONTROL_CLIENTS).then(|| {
                    self.clients.push(None);
                    self.clients.len() - 1
                })
            }) else {
                let _ = fs::write(
                    fd.as_raw_fd(),
                    b"{\"ok\":false,\"kind\":\"failed\",\"error\":\"too many control clients (MAX_CONTROL_CLIENTS)\"}\n",
                );
                continue;
            };
            // Replies are written blocking (request): bounded by a send timeout.
            let timeout = core::time::Duration::from_millis(limits::CONTROL_TIMEOUT_MS as u64);
            let _ = rustix::net::sockopt::set_socket_timeout(&fd, rustix::net::sockopt::Timeout::Send, Some(timeout));
            let gen = self.gen();
            if epoll::add(
                &self.ep,
                &fd,
                epoll::EventData::new_u64(token(T_CLIENT, gen, slot)),
                epoll::EventFlags::IN,
            )
            .is_err()
            {
                continue;
            }
            self.clients[slot] = Some(Client {
                gen,
                fd,
                buf: Vec::new(),
                deadline: now_ms() + limits::CONTROL_TIMEOUT_MS as u64,
                follow: None,
            });
        }
    }

    fn client_readable(&mut self, k: usize, gen: u32, hup: bool) {
        let Some(Some(c)) = self.clients.get_mut(k) else { return };
        if c.gen != gen {
            return;
        }
        if c.follow.is_some() {
            // A follower is watched for hanging up only.
            if hup || fs::read(c.fd.as_raw_fd(), &mut [0u8; 64]).is_ok_and(|n| n == 0) {
                self.clients[k] = None;
            }
            return;
        }
        let mut buf = [0u8; 1024];
        loop {
            match fs::read(c.fd.as_raw_fd(), &mut buf) {
                Ok(0) => {
                    // Hung up before a whole request.
                    self.clients[k] = None;
                    return;
                }
                Ok(n) => {
                    c.buf.extend_from_slice(&buf[..n]);
                    if c.buf.len() > limits::MAX_CONTROL_REQUEST {
                        let _ = fs::write(
                            c.fd.as_raw_fd(),
                            b"{\"ok\":false,\"kind\":\"usage\",\"error\":\"request too long (MAX_CONTROL_REQUEST)\"}\n",
                        );
                        self.clients[k] = None;
                        return;
                    }
                    if c.buf.contains(&b'\n') {
                        break;
                    }
                }
                Err(_) => return,
            }
        }
        let Some(c) = self.clients[k].take() else { return };
        let line = c.buf.split(|b| *b == b'\n').next().unwrap_or(&[]).to_vec();
        let keep = self.request(&c, &line);
        if keep.is_some() {
            // From now on only its hanging up matters (EPOLLHUP is always reported).
            let _ = epoll::modify(
                &self.ep,
                &c.fd,
                epoll::EventData::new_u64(token(T_CLIENT, c.gen, k)),
                epoll::EventFlags::empty(),
            );
            let mut c = c;
            c.follow = keep;
            self.clients[k] = Some(c);
        }
    }

    /// Answer one request; returns the log to follow if the client stays connected for it.
    fn request(&mut self, c: &Client, line: &[u8]) -> Option<(usize, u32)> {
        let mut follow = None;
        let mut log = None;
        let text = match self.answer(line, &mut follow, &mut log) {
            Ok(t) => t,
            Err((kind, msg)) => {
                let k = match kind {
                    Kind::Usage => "usage",
                    Kind::Input => "input",
                    Kind::NotImplemented => "not-implemented",
                    Kind::Failed => "failed",
                };
                format!("{{\"ok\":false,\"kind\":\"{k}\",\"error\":{}}}\n", JsonStr(&msg)).into_bytes()
            }
        };
        // The reply (and a log ring) is written blocking, but a client that stops reading for
        // CONTROL_TIMEOUT_MS is cut off (its send timeout, set in accept): nothing stalls the
        // loop (its health checks, restarts and watchdog pets) for longer.
        let fd = &c.fd;
        let _ = rustix::io::ioctl_fionbio(fd, false);
        let mut sent = fs::write_all(fd.as_raw_fd(), &text);
        if let (Ok(()), Some((i, tail))) = (sent, log) {
            if let Some(s) = self.slots.get(i).and_then(|s| s.as_ref()) {
                let (a, b) = match tail {
                    Some(n) => s.ring.tail(n as usize),
                    None => s.ring.contents(),
                };
                sent = fs::write_all(fd.as_raw_fd(), a).and_then(|_| fs::write_all(fd.as_raw_fd(), b));
            }
        }
        let _ = rustix::io::ioctl_fionbio(fd, true);
        // A follower that could not take the ring is not followed.
        follow.filter(|_| sent.is_ok())
    }

    /// The reply to a request: `{"ok":true...}` and what follows it, or the error. For `logs`,
    /// `log` says which ring (and how much of it) follows the reply.
    fn answer(
        &mut self,
        line: &[u8],
        follow: &mut Option<(usize, u32)>,
        log: &mut Option<(usize, Option<u32>)>,
    ) -> Result<Vec<u8>, (Kind, String)> {
        let req = read_request(line).map_err(|e| (Kind::Usage, format!("bad request: {e}")))?;
        let op = req.op.as_str();
        let name = req.name.as_deref().unwrap_or("");
        let mut text = b"{\"ok\":true}\n".to_vec();
        let i = match op {
            "start" | "stop" | "restart" | "logs" => self.slot_index(name).ok_or_else(|| {
                let why = if self.broken.iter().any(|(n, _)| n == name) {
                    ": its file is broken (see mote status)"
                } else {
                    ""
                };
                (Kind::Failed, format!("no workload {name:?} is loaded{why}"))
            })?,
            _ => 0,
        };
        match op {
            "status" => {
                let t = self.status(req.name.as_deref(), req.format.as_deref() == Some("json"), true);
                text.extend_from_slice(t.map_err(|m| (Kind::Failed, m))?.as_bytes());
            }
            "start" | "stop" | "restart" => {
                let now = now_ms();
                let a = self.slots[i].as_mut().and_then(|s| match op {
                    "start" => s.m.start(),
                    "stop" => {
                        s.m.user_stopped = true;
                        s.m.stop(now, Then::Stay)
                    }
                    _ => s.m.stop(now, Then::Start),
                });
                (self.say)(format_args!("{name}: {op} requested"));
                self.act(i, a);
                self.dirty = true;
            }
            "reload" => {
                self.reload();
                if !self.broken.is_empty() {
                    let list: Vec<&str> = self.broken.iter().map(|(_, e)| e.as_str()).collect();
                    return Err((Kind::Input, list.join("; ")));
                }
            }
            "logs" => {
                let Some(s) = self.slots[i].as_ref() else {
                    return Ok(text);
                };
                *log = Some((i, req.tail));
                if req.follow {
                    *follow = Some((i, s.gen));
                }
            }
            "activate" | "commit" | "rollback" => {
                #[cfg(feature = "deploy")]
                let r = {
                    let store = req.store.as_deref().unwrap_or(crate::deploy::store::DEFAULT_STORE);
                    let rev = req.revision.as_deref();
                    if op == "activate" {
                        self.activate(name, store, rev, req.timeout_ms)
                    } else {
                        self.deploy_request(op, name, store, rev)
                    }
                };
                #[cfg(not(feature = "deploy"))]
                let r = self.deploy_request();
                let m = r.map_err(|(k, m)| (k, format!("{name}: {m}")))?;
                text = format!("{{\"ok\":true,\"message\":{}}}\n", JsonStr(&m)).into_bytes();
            }
            _ => {
                return Err((
                    Kind::Usage,
                    format!(
                        "unknown op {op:?} (status, start, stop, restart, reload, logs, activate, commit, rollback)"
                    ),
                ))
            }
        }
        Ok(text)
    }

    /// The status as `mote status` prints it: a table (the watchdog and the first start above
    /// it), or with `json` the JSON array of workloads (README "mote status"). Only workload
    /// `name` when given.
    fn status(&self, name: Option<&str>, json: bool, head: bool) -> core::result::Result<String, String> {
        let now = now_ms();
        let mut rows = Vec::new();
        let wanted = |n: &str| name.is_none_or(|want| want == n);
        for s in self.slots.iter().flatten().filter(|s| wanted(&s.w.name)) {
            rows.push(Row {
                name: &s.w.name,
                revision: s.w.revision.as_deref(),
                candidate: s.candidate,
                state: s.state(),
                pid: if s.exists { s.pid } else { 0 },
                restarts: s.m.restarts,
                health: s.health.as_str(),
                uptime: if s.m.phase == Phase::Running {
                    now.saturating_sub(s.started_ms) / 1000
                } else {
                    0
                },
                last_exit: s.last_exit.as_deref(),
                memory: if s.exists { self.memory_of(&s.id) } else { None },
                ready: s.ready,
                critical: s.w.critical,
                status_text: &s.status_text,
                health_output: &s.health_output,
                error: s.last_error.as_deref().unwrap_or(""),
            });
        }
        for (n, e) in self.broken.iter().filter(|(n, _)| wanted(n)) {
            rows.push(Row {
                name: n,
                state: "failed",
                health: "none",
                error: e,
                ..Row::default()
            });
        }
        if let (Some(n), true) = (name, rows.is_empty()) {
            return Err(format!("no workload {n:?}"));
        }
        let mut o = String::new();
        if json {
            o.push('[');
            for (i, r) in rows.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                r.json(&mut o);
            }
            o.push_str("]\n");
            return Ok(o);
        }
        if let (true, Some(ms)) = (head, self.first_start) {
            let _ = writeln!(o, "first workload running {ms} ms after the supervisor started");
        }
        if let (true, Some(w)) = (head, &self.watchdog) {
            let _ = writeln!(
                o,
                "watchdog {}: timeout {} s, {}{}",
                w.device,
                w.timeout,
                if self.pets_stopped {
                    "NOT petting (the board will reset)"
                } else {
                    "petting"
                },
                if w.caused_last_reset {
                    "; the last reset was caused by the watchdog"
                } else {
                    ""
                }
            );
        }
        let _ = writeln!(
            o,
            "{:<16} {:<10} {:>7} {:>8} {:<9} {:>8} {:>9}  LAST EXIT",
            "NAME", "STATE", "PID", "RESTARTS", "HEALTH", "UPTIME", "MEMORY"
        );
        for r in &rows {
            r.line(&mut o);
        }
        Ok(o)
    }

    /// A container's memory use (cgroup v2 memory.current, v1 memory.usage_in_bytes).
    fn memory_of(&self, id: &str) -> Option<u64> {
        let h = container::Handle::open(&self.containers, id).ok()?;
        let cg = h.cgroup()?;
        let d = cg.dir_of("memory")?;
        let mut buf = [0u8; 32];
        for f in ["memory.current", "memory.usage_in_bytes"] {
            if let Ok(n) = fs::read_path(&format!("{d}/{f}"), &mut buf) {
                return core::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok();
            }
        }
        None
    }

    /// The status table when something changed (`mote demo`, `supervise --print-status`).
    fn print_status(&mut self) {
        // The table only: the first start and the watchdog are said when they happen.
        if let Ok(t) = self.status(None, false, false) {
            (self.say)(format_args!("status:\n{}", t.trim_end()));
        }
    }
}

/// A control request: one JSON line.
struct Request {
    op: String,
    name: Option<String>,
    tail: Option<u32>,
    follow: bool,
    format: Option<String>,
    #[cfg_attr(not(feature = "deploy"), allow(dead_code))]
    store: Option<String>,
    #[cfg_attr(not(feature = "deploy"), allow(dead_code))]
    revision: Option<String>,
    #[cfg_attr(not(feature = "deploy"), allow(dead_code))]
    timeout_ms: Option<u64>,
}

fn read_request(line: &[u8]) -> value::R<Request> {
    let d = value::document(line)?;
    Ok(Request {
        op: d.str("op")?.unwrap_or_default(),
        name: d.str("name")?,
        tail: d.u32("tail")?,
        follow: d.bool("follow")?,
        format: d.str("format")?,
        store: d.str("store")?,
        revision: d.str("revision")?,
        timeout_ms: d.u64("timeoutMs")?,
    })
}

/// The path of the supervisor's control socket for a state root.
pub fn control_path(root: &str) -> String {
    format!("{root}/supervisor/control.sock")
}

/// Send one request to a running supervisor; returns the connection, positioned after the
/// request (the reply follows).
pub fn request(root: &str, line: &str) -> Result<OwnedFd> {
    let path = control_path(root);
    let fd = crate::process::connect_unix(&path, "connect to the supervisor").map_err(|e| {
        if matches!(e.errno, Some(libc::ENOENT) | Some(libc::ECONNREFUSED)) {
            Error::failed("supervisor").ctx(format_args!(
                "none runs with this --root ({path} does not answer): start `mote supervise`"
            ))
        } else {
            e
        }
    })?;
    fs::write_all(fd.as_raw_fd(), line.as_bytes()).step("send the request")?;
    fs::write_all(fd.as_raw_fd(), b"\n").step("send the request")?;
    Ok(fd)
}
