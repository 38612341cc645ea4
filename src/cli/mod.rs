//! argv to operations, and output formatting. Every command is a thin call into the library.

use crate::prelude::*;

/// `print!` without its panic: standard output through [`write_out`].
macro_rules! out {
    ($($a:tt)*) => { $crate::cli::write_out(format_args!($($a)*)) };
}
/// `println!` without its panic.
macro_rules! outln {
    ($($a:tt)*) => { $crate::cli::write_out(format_args!("{}\n", format_args!($($a)*))) };
}
/// `eprintln!` without its panic: a message that cannot be written is dropped.
macro_rules! errln {
    ($($a:tt)*) => { $crate::cli::write_err(format_args!("{}\n", format_args!($($a)*))) };
}

pub mod args;
pub mod check;
pub mod demo;
#[cfg(feature = "deploy")]
pub mod deploy;
pub mod log;
pub mod normalize;
pub mod spec_cmd;
#[cfg(feature = "supervise")]
pub mod supervise;

use crate::container::{self, state, state::StateRoot, Handle};
use crate::error::{Error, Kind, Result, Step};
use argh::FromArgs;
use args::{Cmd, Top};
use core::fmt::Write as _;
use log::Log;

/// What this build has, for `--version` (mote has no optional cargo features: every build has
/// all of it).
const FEATURES: &str = "runtime seccomp-bpf cgroup-v1 cgroup-v2 ebpf-devices userns idmap";
/// The cargo features' part of --version's list.
#[cfg(feature = "deploy")]
const MORE_FEATURES: &str = " supervise watchdog deploy gzip zstd ed25519";
#[cfg(all(feature = "supervise", not(feature = "deploy")))]
const MORE_FEATURES: &str = " supervise watchdog";
#[cfg(not(feature = "supervise"))]
const MORE_FEATURES: &str = "";

/// Write to standard output. When the reader has gone (`mote list | head -1`; SIGPIPE is
/// ignored, see `sys::env::init_process`) mote ends quietly with 141, the status a shell shows
/// for a tool that SIGPIPE ended, and on any other write error says so and exits with 1.

pub fn write_out(args: core::fmt::Arguments) {
    let mut o = crate::sys::env::FdWriter::stdout();
    let _ = o.write_fmt(args);
    if let Err(e) = o.flush() {
        if e != libc::EPIPE {
            write_err(format_args!(
                "mote: writing to standard output: {} ({})\n",
                crate::error::errno_name(e),
                crate::error::errno_text(e)
            ));
            crate::sys::env::exit(1);
        }
        crate::sys::env::exit(141);
    }
}

/// Write to standard error, dropping what cannot be written.
pub fn write_err(args: core::fmt::Arguments) {
    let _ = crate::sys::env::FdWriter::stderr().write_fmt(args);
}

/// The entry: returns the process exit code.
pub fn main() -> i32 {
    crate::sys::env::init_process();
    let mut argv: Vec<&str> = Vec::new();
    for a in crate::sys::env::args() {
        match a.to_str() {
            Ok(s) => argv.push(s),
            Err(_) => {
                errln!("mote: argument {:?} is not valid UTF-8", a);
                return Kind::Usage.exit_code();
            }
        }
    }
    let norm = normalize::normalize(argv.get(1..).unwrap_or(&[]));
    let strs: Vec<&str> = norm.iter().map(|s| s.as_str()).collect();
    let top = match Top::from_args(&["mote"], &strs) {
        Ok(t) => t,
        Err(early) => {
            return match early.status {
                Ok(()) => {
                    out!("{}", early.output);
                    0
                }
                Err(()) => {
                    errln!("mote: {}", early.output.trim_end());
                    errln!("Run 'mote --help' or 'mote <command> --help' for usage.");
                    if verb_of(&strs) == Some("exec") {
                        return EXEC_FAILED;
                    }
                    Kind::Usage.exit_code()
                }
            };
        }
    };
    // One operation, then exit: what the library loads need not be freed. Not so for the
    // verbs that run for long (the supervisor, and the demo that runs one): they free all.
    if !top.cmd.as_ref().is_some_and(|c| c.runs_for_long()) {
        crate::sys::doc::exiting_soon();
    }
    // Commands that put a process into a container run from a copy of the binary no container
    // can write (CVE-2019-5736): decided once the verb is known, before anything is opened.
    if top.cmd.as_ref().is_some_and(|c| c.enters_a_container()) {
        container::protect_binary();
    }
    let log = match Log::new(top.log.as_deref(), top.log_format.as_deref(), top.debug) {
        Ok(l) => l,
        Err(msg) => {
            Log::none().error(&msg);
            return Kind::Usage.exit_code();
        }
    };
    if top.version {
        outln!(
            "mote version {}\ncommit: {}\nspec: {}\nfeatures: {}{}",
            crate::VERSION,
            crate::COMMIT,
            crate::SPEC_VERSION,
            FEATURES,
            MORE_FEATURES
        );
        return 0;
    }
    let Some(cmd) = top.cmd.as_ref() else {
        log.error("no command given: run 'mote --help' for the list");
        return Kind::Usage.exit_code();
    };
    log.debug(&format!("argv: {:?}", argv));
    let name = cmd.name();

    match dispatch(&top, cmd, &log) {
        Ok(code) => code,
        Err(mut e) => {
            // "mote: list: --format ...", not "mote: list: list --format ...": an error whose
            // step is the verb itself is said once.
            if e.step == name && !e.context.is_empty() {
                e.step = "";
            }
            log.error(&format!("{name}: {e}"));
            if matches!(cmd, Cmd::Exec(_)) {
                return EXEC_FAILED;
            }
            e.kind.exit_code()
        }
    }
}

/// `exec` exits with its process's exit code, so its own failures (bad flags, no such or no
/// running container, a program that cannot be run) exit 255, as runc's (since 1.1) and crun's
/// do: a caller can tell them from the process exiting 1..254.
const EXEC_FAILED: i32 = 255;

/// The verb of a command line that failed to parse: the first word that is not a global option
/// or a global option's value.
fn verb_of<'a>(args: &[&'a str]) -> Option<&'a str> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if matches!(*a, "--root" | "--log" | "--log-format" | "--criu" | "--rootless") {
            it.next();
        } else if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

/// `ps` as runc prints it: ps(1) run with `-ef`, or with the options given after the id,
/// and its lines kept where the PID column names a process of the container. Where the host has
/// no ps(1) (a minimal board image), mote's own table: PID and command line from /proc.
fn ps_table(pids: &[i32], ps_args: &[String]) -> Result<()> {
    let mut args = vec!["ps"];
    if ps_args.is_empty() {
        args.push("-ef");
    } else {
        args.extend(ps_args.iter().map(|a| a.as_str()));
    }
    let (code, out) = crate::sys::proc::run_capture(&args).step("ps: run ps(1)")?;
    if code == 127 {
        outln!("PID   CMD");
        for p in pids {
            let mut buf = [0u8; 4096];
            let n = crate::sys::fs::read_path(&format!("/proc/{p}/cmdline"), &mut buf).unwrap_or(0);
            let cmd: String = String::from_utf8_lossy(&buf[..n]).replace('\0', " ");
            outln!("{p:<5} {}", cmd.trim_end());
        }
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out);
    if code != 0 {
        // ps(1) said why on stderr, which is ours.
        return Err(Error::failed("ps(1)").ctx(format_args!("{} exited with status {code}", args[1..].join(" "))));
    }
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let Some(col) = header.split_whitespace().position(|f| f == "PID") else {
        return Err(Error::failed("ps(1)").ctx(format_args!(
            "{}: no PID column in its output: {header:?}",
            args[1..].join(" ")
        )));
    };
    outln!("{header}");
    for l in lines {
        let pid = l.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            outln!("{l}");
        }
    }
    Ok(())
}

/// A signal from the command line (`kill`).
fn parse_signal(s: &str) -> Result<i32> {
    crate::spec::units::parse_signal(s).ok_or_else(|| {
        Error::usage("kill").ctx(format_args!(
            "{s:?} is not a signal: {}",
            crate::spec::units::SIGNAL_HINT
        ))
    })
}

/// A duration from the command line.
fn parse_duration(flag: &'static str, s: &str) -> Result<core::time::Duration> {
    crate::spec::units::parse_duration(s)
        .ok_or_else(|| Error::usage(flag).ctx(format_args!("{s:?}: {}", crate::spec::units::DURATION_HINT)))
}

/// A byte size from the command line (`update`).
fn parse_bytes(s: &str) -> Result<i64> {
    crate::spec::units::parse_bytes(s)
        .ok_or_else(|| Error::usage("size").ctx(format_args!("{s:?}: {}", crate::spec::units::BYTES_HINT)))
}

fn root_path(top: &Top) -> &str {
    top.root.as_deref().unwrap_or(state::DEFAULT_ROOT)
}

fn open_root(top: &Top, create: bool) -> Result<StateRoot> {
    StateRoot::open(root_path(top), create)
}

fn dispatch(top: &Top, cmd: &Cmd, log: &Log) -> Result<i32> {
    let mut warn = |a: core::fmt::Arguments<'_>| log.warn(&a.to_string());
    match cmd {
        Cmd::Create(c) => {
            let root = open_root(top, true)?;
            container::create(&root, &c.opts(top.systemd_cgroup), &mut warn)?;
            Ok(0)
        }
        Cmd::Run(c) => {
            let root = open_root(top, true)?;
            container::run(&root, &c.opts(top.systemd_cgroup), c.detach, c.keep, &mut warn)
        }
        Cmd::Start(c) => {
            // A container created with `mote create` (what runc's clients mean); else, when a
            // supervisor runs with this root, its workload of that name.
            let root = open_root(top, false);
            #[cfg(feature = "supervise")]
            if !root.as_ref().is_ok_and(|r| r.container_dir(&c.id).is_ok())
                && crate::sys::fs::exists_at(
                    crate::sys::fs::AT_FDCWD,
                    &crate::supervisor::control_path(root_path(top)),
                )
            {
                return supervise::simple(root_path(top), "start", Some(&c.id));
            }
            container::start(&root.map_err(|_| state::not_found(&c.id))?, &c.id)?;
            Ok(0)
        }
        Cmd::State(c) => {
            let root = open_root(top, false).map_err(|_| state::not_found(&c.id))?;
            let h = Handle::open(&root, &c.id)?;
            out!("{}", h.to_json(true));
            Ok(0)
        }
        Cmd::Kill(c) => {
            let sig = parse_signal(c.signal.as_deref().unwrap_or("SIGTERM"))?;
            container::kill(
                &open_root(top, false).map_err(|_| state::not_found(&c.id))?,
                &c.id,
                sig,
                c.all,
            )?;
            Ok(0)
        }
        Cmd::Delete(c) => {
            state::validate_id(&c.id)?;
            let root = match open_root(top, false) {
                Ok(r) => r,
                Err(_) if c.force => return Ok(0),
                Err(_) => return Err(state::not_found(&c.id)),
            };
            container::delete(&root, &c.id, c.force, &mut warn)?;
            Ok(0)
        }
        Cmd::List(c) => {
            list(top, c)?;
            Ok(0)
        }
        Cmd::Ps(c) => {
            let root = open_root(top, false).map_err(|_| state::not_found(&c.id))?;
            let h = Handle::open(&root, &c.id)?;
            let pids = match h.cgroup() {
                Some(cg) => cg.procs()?,
                None => Vec::new(),
            };
            match c.format.as_deref() {
                Some("json") => {
                    let mut o = String::from("[");
                    for (i, p) in pids.iter().enumerate() {
                        let _ = write!(o, "{}{p}", if i > 0 { "," } else { "" });
                    }
                    o.push_str("]\n");
                    out!("{o}");
                }
                None | Some("table") => ps_table(&pids, &c.ps_args)?,
                Some(f) => return Err(Error::usage("ps").ctx(format_args!("--format {f:?}: use table or json"))),
            }
            Ok(0)
        }
        Cmd::Pause(c) => {
            container::pause(
                &open_root(top, false).map_err(|_| state::not_found(&c.id))?,
                &c.id,
                true,
            )?;
            Ok(0)
        }
        Cmd::Resume(c) => {
            container::pause(
                &open_root(top, false).map_err(|_| state::not_found(&c.id))?,
                &c.id,
                false,
            )?;
            Ok(0)
        }
        Cmd::Exec(c) => {
            let root = open_root(top, false).map_err(|_| state::not_found(&c.id))?;
            let o = container::exec::ExecOpts {
                id: &c.id,
                process: c.process.as_deref(),
                args: &c.command,
                env: &c.env,
                cwd: c.cwd.as_deref(),
                user: c.user.as_deref(),
                additional_gids: &c.additional_gids,
                caps: &c.cap,
                no_new_privs: c.no_new_privs,
                apparmor: c.apparmor.as_deref(),
                process_label: c.process_label.as_deref(),
                detach: c.detach,
                pid_file: c.pid_file.as_deref(),
                preserve_fds: c.preserve_fds,
                ignore_paused: c.ignore_paused,
                tty: c.tty,
                console_socket: c.console_socket.as_deref(),
                cgroup: &c.cgroup,
                pidfd_socket: c.pidfd_socket.as_deref(),
                fds: &[],
            };
            Ok(match container::exec::exec(&root, &o, &mut warn)? {
                container::exec::Outcome::Exited(code) => code,
                container::exec::Outcome::Detached(_) => 0,
            })
        }
        Cmd::Update(u) => {
            let root = open_root(top, false).map_err(|_| state::not_found(&u.id))?;
            // The --resources file, parsed into a config's pools.
            let file = match u.resources.as_deref() {
                Some("-") => Some(
                    // Bounded like a file: one byte past the limit is enough to refuse it.
                    crate::sys::fs::read_fd_to_end(0, crate::spec::limits::MAX_INPUT_BYTES + 1)
                        .step("read resources from stdin")?,
                ),
                Some(f) => Some(crate::spec::read_input(f).step_ctx("read resources file", format_args!("{f}"))?),
                None => None,
            };
            let mut arena = vec![0u8; file.as_ref().map_or(0, |f| f.len())];
            let mut fcfg = crate::spec::Config::default();
            let fres = match &file {
                Some(input) => Some(
                    crate::spec::parse_doc::<crate::spec::Resources<'_>>(input, &mut arena, &mut fcfg.pools)
                        .map_err(|e| Error::input("resources:").ctx(format_args!("--resources: {e}")))?,
                ),
                None => None,
            };
            let flags = update_flags(u)?;
            let none = crate::spec::Config::default();
            let mut inputs = Vec::new();
            if let Some(r) = &fres {
                inputs.push((&fcfg, r));
            }
            if let Some(r) = &flags {
                inputs.push((&none, r));
            }
            if inputs.is_empty() {
                return Err(Error::usage("update").ctx(format_args!(
                    "nothing to update: give --resources FILE or resource flags"
                )));
            }
            container::update(&root, &u.id, &inputs)?;
            Ok(0)
        }
        Cmd::Events(e) => {
            let root = open_root(top, false).map_err(|_| state::not_found(&e.id))?;
            let interval = parse_duration("events --interval", e.interval.as_deref().unwrap_or("5s"))?;
            container::events(
                &root,
                &e.id,
                interval,
                e.stats,
                &mut crate::sys::env::FdWriter::stdout(),
            )?;
            Ok(0)
        }
        Cmd::Check(c) => check::check(c.format.as_deref()),
        Cmd::Checkpoint(_) | Cmd::Restore(_) => Err(Error::not_implemented("checkpoint/restore:")
            .ctx(format_args!("mote does not checkpoint or restore containers (no CRIU)"))),
        #[cfg(feature = "supervise")]
        Cmd::Demo(d) if !d.runtime => demo::supervisor_demo(d, log),
        Cmd::Demo(d) => demo::demo(d.keep, &mut warn),
        #[cfg(feature = "supervise")]
        Cmd::Supervise(s) => {
            let mut say = |a: core::fmt::Arguments<'_>| log.info(&a.to_string());
            supervise::supervise(root_path(top), s, &mut say)
        }
        #[cfg(feature = "supervise")]
        Cmd::Status(s) => supervise::status(root_path(top), s),
        #[cfg(feature = "supervise")]
        Cmd::Stop(s) => supervise::simple(root_path(top), "stop", Some(&s.name)),
        #[cfg(feature = "supervise")]
        Cmd::Restart(s) => supervise::simple(root_path(top), "restart", Some(&s.name)),
        #[cfg(feature = "supervise")]
        Cmd::Reload(_) => supervise::simple(root_path(top), "reload", None),
        #[cfg(feature = "supervise")]
        Cmd::Logs(l) => supervise::logs(root_path(top), l),
        #[cfg(feature = "supervise")]
        Cmd::Notify(n) => supervise::notify(n),
        #[cfg(feature = "supervise")]
        Cmd::Worker(w) => demo::worker(&w.args),
        #[cfg(feature = "deploy")]
        Cmd::Deploy(d) => deploy::deploy(root_path(top), &d.cmd, log),
        Cmd::Completion(c) => {
            let script = match c.shell.as_str() {
                "bash" => include_str!("completions/mote.bash"),
                "zsh" => include_str!("completions/mote.zsh"),
                "fish" => include_str!("completions/mote.fish"),
                other => return Err(Error::usage("shell").ctx(format_args!("{other:?} is not one of bash, zsh, fish"))),
            };
            out!("{script}");
            Ok(0)
        }
        Cmd::Introspect(_) => demo::introspect(),
        Cmd::Features(_) => {
            out!("{}", spec_cmd::features_json());
            Ok(0)
        }
        Cmd::Spec(c) => {
            let dir = c.bundle.as_deref().unwrap_or(".");
            let text = if c.rootless {
                spec_cmd::rootless_spec(rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw())
            } else {
                spec_cmd::DEFAULT_SPEC.to_string()
            };
            let path = format!("{dir}/config.json");
            if crate::sys::fs::fstatat(crate::sys::fs::AT_FDCWD, &path, 0).is_ok() {
                return Err(Error::failed("spec").ctx(format_args!("{path} already exists: remove it first")));
            }
            let dfd = crate::sys::fs::open(dir, libc::O_RDONLY | libc::O_DIRECTORY, 0)
                .step_ctx("open bundle", format_args!("{dir}"))?;
            crate::sys::fs::write_atomic(
                rustix::fd::AsRawFd::as_raw_fd(&dfd),
                "config.json",
                text.as_bytes(),
                0o644,
            )
            .step_ctx("write", format_args!("{path}"))?;
            Ok(0)
        }
    }
}

/// The flags of `update` as linux.resources (None when no flag is given).
fn update_flags(u: &args::Update) -> Result<Option<crate::spec::Resources<'_>>> {
    use crate::spec::{json::Str, BlockIo, Cpu, Memory, Pids, Resources};
    if u.l3_cache_schema.is_some() || u.mem_bw_schema.is_some() {
        return Err(Error::not_implemented("update:").ctx(format_args!(
            "Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported"
        )));
    }
    let bytes = |v: &Option<String>| v.as_deref().map(parse_bytes).transpose();
    let mem = Memory {
        limit: bytes(&u.memory)?,
        reservation: bytes(&u.memory_reservation)?,
        swap: bytes(&u.memory_swap)?,
        kernel: bytes(&u.kernel_memory)?,
        kernel_tcp: bytes(&u.kernel_memory_tcp)?,
        ..Default::default()
    };
    let cpu = Cpu {
        shares: u.cpu_share,
        quota: u.cpu_quota,
        period: u.cpu_period,
        realtime_runtime: u.cpu_rt_runtime,
        realtime_period: u.cpu_rt_period,
        cpus: u.cpuset_cpus.as_deref().map(Str),
        mems: u.cpuset_mems.as_deref().map(Str),
        ..Default::default()
    };
    let any_mem = mem.limit.is_some()
        || mem.reservation.is_some()
        || mem.swap.is_some()
        || mem.kernel.is_some()
        || mem.kernel_tcp.is_some();
    let any_cpu = cpu.shares.is_some()
        || cpu.quota.is_some()
        || cpu.period.is_some()
        || cpu.realtime_runtime.is_some()
        || cpu.realtime_period.is_some()
        || cpu.cpus.is_some()
        || cpu.mems.is_some();
    let r = Resources {
        memory: any_mem.then_some(mem),
        cpu: any_cpu.then_some(cpu),
        pids: u.pids_limit.map(|limit| Pids {
            limit,
            ..Default::default()
        }),
        block_io: u.blkio_weight.map(|w| BlockIo {
            weight: Some(w),
            ..Default::default()
        }),
        ..Default::default()
    };
    let any = r.memory.is_some() || r.cpu.is_some() || r.pids.is_some() || r.block_io.is_some();
    Ok(any.then_some(r))
}

fn list(top: &Top, c: &args::List) -> Result<()> {
    let root = match open_root(top, false) {
        Ok(r) => Some(r),
        Err(e) if e.errno == Some(libc::ENOENT) => None,
        Err(e) => return Err(e),
    };
    let ids = match &root {
        Some(r) => r.ids()?,
        None => Vec::new(),
    };
    let handles: Vec<Handle> = ids
        .iter()
        .filter_map(|id| Handle::open(root.as_ref()?, id).ok())
        .collect();
    if c.quiet {
        for h in &handles {
            outln!("{}", h.id);
        }
        return Ok(());
    }
    match c.format.as_deref() {
        Some("json") => {
            if handles.is_empty() {
                outln!("null");
                return Ok(());
            }
            let mut o = String::from("[");
            for (i, h) in handles.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                o.push_str(&h.to_json(false));
            }
            o.push_str("]\n");
            out!("{o}");
        }
        None | Some("table") => {
            let rows: Vec<[String; 6]> = handles
                .iter()
                .map(|h| {
                    let status = h.status();
                    let (pid, bundle, created) = match &h.state {
                        Some(s) => (
                            if status == state::Status::Stopped {
                                0
                            } else {
                                s.st().pid
                            },
                            s.st().bundle.to_string(),
                            s.st().created.to_string(),
                        ),
                        None => (0, String::new(), String::new()),
                    };
                    [
                        h.id.clone(),
                        pid.to_string(),
                        status.as_str().to_string(),
                        bundle,
                        created,
                        "root".to_string(),
                    ]
                })
                .collect();
            let head = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
            // runc's tabwriter: minimum width 12, padding 3.
            let mut w = [0usize; 6];
            for (i, h) in head.iter().enumerate() {
                w[i] = (h.len() + 3).max(12);
            }
            for r in &rows {
                for (i, f) in r.iter().enumerate() {
                    w[i] = w[i].max(f.len() + 3);
                }
            }
            let mut out = String::new();
            let line = |out: &mut String, cells: &[&str]| {
                for (i, f) in cells.iter().enumerate() {
                    if i + 1 == cells.len() {
                        out.push_str(f);
                    } else {
                        let _ = write!(out, "{f:<width$}", width = w[i]);
                    }
                }
                out.push('\n');
            };
            line(&mut out, &head);
            for r in &rows {
                let cells: Vec<&str> = r.iter().map(|s| s.as_str()).collect();
                line(&mut out, &cells);
            }
            out!("{out}");
        }
        Some(f) => return Err(Error::usage("list").ctx(format_args!("--format {f:?}: use table or json"))),
    }
    Ok(())
}
