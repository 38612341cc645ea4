//! runc's command line, as argh definitions. `normalize.rs` turns what go-runc and conmon send
//! (`--flag=value`, `-single-dash-long`) into what argh reads.

use crate::prelude::*;

use argh::FromArgs;

/// The code argh_derive generates names `std::option::Option`, `std::vec::Vec`...; mote has
/// no std, so those paths resolve to these re-exports of core and alloc.
#[allow(unused_imports)]
mod std {
    pub use alloc::{boxed, string, vec};
    pub use core::{default, fmt, iter, option, result, str};
}

#[derive(FromArgs, Debug)]
/// mote: a small OCI container runtime and workload supervisor for edge Linux boards.
pub struct Top {
    /// root directory for container state (default /run/mote)
    #[argh(option)]
    pub root: Option<String>,
    /// write log lines (and errors) to this file
    #[argh(option)]
    pub log: Option<String>,
    /// log format: text (default) or json
    #[argh(option, long = "log-format")]
    pub log_format: Option<String>,
    /// log debug messages
    #[argh(switch)]
    pub debug: bool,
    /// use systemd-style cgroup paths (slice:prefix:name)
    #[argh(switch, long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// accepted for runc compatibility; mote does not checkpoint
    #[argh(option)]
    pub criu: Option<String>,
    /// accepted for runc compatibility: true, false or auto
    #[argh(option)]
    pub rootless: Option<String>,
    /// print the version and exit
    #[argh(switch, short = 'v')]
    pub version: bool,
    #[argh(subcommand)]
    pub cmd: Option<Cmd>,
}

/// The verbs: the argh structure of each, and whether it puts a process into a container
/// (those run from a copy of the binary no container can write: `container::protect_binary`).
/// `Cmd`, its names and `enters_a_container` all come from this one list.
macro_rules! verbs {
    ($($(#[$m:meta])* $variant:ident($ty:ty) $(: $enters:ident)?,)*) => {
        #[derive(FromArgs, Debug)]
        #[argh(subcommand)]
        pub enum Cmd {
            $($(#[$m])* $variant($ty),)*
        }

        impl Cmd {
            /// The verb as typed.
            pub fn name(&self) -> &'static str {
                match self {
                    $($(#[$m])* Cmd::$variant(_) => <$ty as argh::SubCommand>::COMMAND.name,)*
                }
            }
            /// Does this verb run for long (the supervisor, and the demo that runs one)?
            pub fn runs_for_long(&self) -> bool {
                match self {
                    #[cfg(feature = "supervise")]
                    Cmd::Supervise(_) => true,
                    Cmd::Demo(_) => true,
                    _ => false,
                }
            }
            /// Does this verb put a process into a container?
            pub fn enters_a_container(&self) -> bool {
                match self {
                    $($(#[$m])* Cmd::$variant(_) => verbs!(@enters $($enters)?),)*
                }
            }
        }
    };
    (@enters enters) => { true };
    (@enters) => { false };
}

verbs! {
    Create(Create): enters,
    Start(Start),
    State(State),
    Kill(Kill),
    Delete(Delete),
    Run(Run): enters,
    Exec(Exec): enters,
    Ps(Ps),
    List(List),
    Pause(Pause),
    Resume(Resume),
    Update(Update),
    Events(Events),
    Features(Features),
    Spec(SpecCmd),
    Check(Check),
    Checkpoint(Checkpoint),
    Restore(Restore),
    Demo(Demo): enters,
    Introspect(Introspect),
    #[cfg(feature = "supervise")]
    Supervise(Supervise): enters,
    #[cfg(feature = "supervise")]
    Status(Status),
    #[cfg(feature = "supervise")]
    Stop(Stop),
    #[cfg(feature = "supervise")]
    Restart(Restart),
    #[cfg(feature = "supervise")]
    Reload(Reload),
    #[cfg(feature = "supervise")]
    Logs(Logs),
    #[cfg(feature = "supervise")]
    Notify(Notify),
    #[cfg(feature = "supervise")]
    Worker(Worker),
    #[cfg(feature = "deploy")]
    Deploy(Deploy),
    Completion(Completion),
}

#[derive(FromArgs, Debug)]
/// supervise demo workloads for about 30 s, from bundles mote builds from itself (no download)
#[argh(subcommand, name = "demo")]
pub struct Demo {
    /// keep the demo's files in /tmp
    #[argh(switch)]
    pub keep: bool,
    /// the runtime demo instead: one container that prints what it sees
    #[argh(switch)]
    pub runtime: bool,
    /// how long the supervisor demo runs (default 30s)
    #[argh(option)]
    pub duration: Option<String>,
}

#[derive(FromArgs, Debug)]
/// run the workloads of a directory, supervised: restart policies, readiness, health checks,
/// logs, a hardware watchdog and a control socket
#[argh(subcommand, name = "supervise")]
pub struct Supervise {
    /// directory of workload files (default /etc/mote/workloads)
    #[argh(option, long = "config-dir")]
    pub config_dir: Option<String>,
    /// the supervisor's settings (default /etc/mote/supervisor.json, when it exists)
    #[argh(option)]
    pub config: Option<String>,
    /// hardware watchdog device (default: supervisor.json's, else none)
    #[argh(option)]
    pub watchdog: Option<String>,
    /// watchdog timeout (default 15s)
    #[argh(option, long = "watchdog-timeout")]
    pub watchdog_timeout: Option<String>,
    /// the watchdog device is a stand-in file or FIFO (tests)
    #[argh(switch, long = "watchdog-stand-in")]
    pub watchdog_stand_in: bool,
    /// parent cgroup of the workloads' cgroups (default: the service's own under systemd with
    /// Delegate=yes on cgroup v2, else /mote-workloads)
    #[argh(option, long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// print the workloads' states on stderr whenever they change
    #[argh(switch, long = "print-status")]
    pub print_status: bool,
}

#[derive(FromArgs, Debug)]
/// show the supervised workloads: state, pid, restarts, health, uptime, memory, last exit
#[argh(subcommand, name = "status")]
pub struct Status {
    /// output format: table (default) or json
    #[argh(option, short = 'f')]
    pub format: Option<String>,
    /// only this workload
    #[argh(positional)]
    pub name: Option<String>,
}

#[derive(FromArgs, Debug)]
/// stop a supervised workload (it stays stopped until started)
#[argh(subcommand, name = "stop")]
pub struct Stop {
    /// workload name
    #[argh(positional)]
    pub name: String,
}

#[derive(FromArgs, Debug)]
/// restart a supervised workload
#[argh(subcommand, name = "restart")]
pub struct Restart {
    /// workload name
    #[argh(positional)]
    pub name: String,
}

#[derive(FromArgs, Debug)]
/// make the supervisor read its workload directory again
#[argh(subcommand, name = "reload")]
pub struct Reload {}

#[derive(FromArgs, Debug)]
/// print a supervised workload's output
#[argh(subcommand, name = "logs")]
pub struct Logs {
    /// keep printing what it writes
    #[argh(switch, short = 'f')]
    pub follow: bool,
    /// only the last N lines
    #[argh(option, short = 'n')]
    pub tail: Option<u32>,
    /// workload name
    #[argh(positional)]
    pub name: String,
}

#[derive(FromArgs, Debug)]
/// tell the supervisor about this workload (systemd-notify: sd_notify on $NOTIFY_SOCKET)
#[argh(subcommand, name = "notify")]
pub struct Notify {
    /// READY=1
    #[argh(switch)]
    pub ready: bool,
    /// STOPPING=1
    #[argh(switch)]
    pub stopping: bool,
    /// WATCHDOG=1
    #[argh(switch)]
    pub watchdog: bool,
    /// STATUS=TEXT
    #[argh(option)]
    pub status: Option<String>,
    /// more VARIABLE=VALUE lines
    #[argh(positional)]
    pub vars: Vec<String>,
}

#[derive(FromArgs, Debug)]
/// the demo's workload behaviours (serve, crash, hog, check)
#[argh(subcommand, name = "worker")]
pub struct Worker {
    /// behaviour and its arguments
    #[argh(positional, greedy)]
    pub args: Vec<String>,
}

#[derive(FromArgs, Debug)]
/// print a shell completion script: bash, zsh or fish
#[argh(subcommand, name = "completion")]
pub struct Completion {
    /// the shell: bash, zsh or fish
    #[argh(positional)]
    pub shell: String,
}

#[derive(FromArgs, Debug)]
/// OTA revisions of supervised workloads: stage, activate, commit, rollback, status, fsck, sign
#[argh(subcommand, name = "deploy")]
pub struct Deploy {
    #[argh(subcommand)]
    pub cmd: DeployCmd,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum DeployCmd {
    Stage(DeployStage),
    Activate(DeployActivate),
    Commit(DeployCommit),
    Rollback(DeployRollback),
    Status(DeployStatus),
    Fsck(DeployFsck),
    Sign(DeploySign),
}

#[derive(FromArgs, Debug)]
/// make a revision of a workload from a bundle (directory or tarball), an OCI image layout, an
/// oci-archive or a docker-archive
#[argh(subcommand, name = "stage")]
pub struct DeployStage {
    /// the revision store (default /var/lib/mote)
    #[argh(option)]
    pub store: Option<String>,
    /// directory of public keys (default /etc/mote/keys); with any key there, sources must be
    /// signed
    #[argh(option)]
    pub keys: Option<String>,
    /// the source's signature file (default SOURCE.sig)
    #[argh(option)]
    pub signature: Option<String>,
    /// image platform os/arch[/variant] (default: this machine's)
    #[argh(option)]
    pub platform: Option<String>,
    /// directory of workload files, for NAME.json's image and deploy settings (default
    /// /etc/mote/workloads)
    #[argh(option, long = "config-dir")]
    pub config_dir: Option<String>,
    /// output format: text (default) or json
    #[argh(option, short = 'f')]
    pub format: Option<String>,
    /// workload name
    #[argh(positional)]
    pub name: String,
    /// the source
    #[argh(positional)]
    pub source: String,
}

#[derive(FromArgs, Debug)]
/// run the staged revision under test (through the supervisor): committed once healthy,
/// rolled back if not
#[argh(subcommand, name = "activate")]
pub struct DeployActivate {
    /// the revision store (default /var/lib/mote)
    #[argh(option)]
    pub store: Option<String>,
    /// the revision (default: the one staged last)
    #[argh(option)]
    pub revision: Option<String>,
    /// wait until the revision is ready and healthy (exit 0), or rolled back (exit 5)
    #[argh(switch, long = "wait-healthy")]
    pub wait_healthy: bool,
    /// wait until the revision is committed (exit 0), or rolled back (exit 5)
    #[argh(switch, long = "wait-committed")]
    pub wait_committed: bool,
    /// how long the revision has to become ready and healthy (default: the workload's
    /// deploy.timeout); also the longest wait (then exit 6)
    #[argh(option)]
    pub timeout: Option<String>,
    /// workload name
    #[argh(positional)]
    pub name: String,
}

#[derive(FromArgs, Debug)]
/// keep the revision under test
#[argh(subcommand, name = "commit")]
pub struct DeployCommit {
    /// the revision store (default /var/lib/mote)
    #[argh(option)]
    pub store: Option<String>,
    /// only if this is the revision under test
    #[argh(option)]
    pub revision: Option<String>,
    /// workload name
    #[argh(positional)]
    pub name: String,
}

#[derive(FromArgs, Debug)]
/// go back: from the revision under test (or staged) to the committed one; with nothing under
/// test, from the committed revision to the previous one
#[argh(subcommand, name = "rollback")]
pub struct DeployRollback {
    /// the revision store (default /var/lib/mote)
    #[argh(option)]
    pub store: Option<String>,
    /// only if this revision is the one under test, staged or committed (else nothing to do)
    #[argh(option)]
    pub revision: Option<String>,
    /// workload name
    #[argh(positional)]
    pub name: String,
}

#[derive(FromArgs, Debug)]
/// the deployments: revision, phase and why
#[argh(subcommand, name = "status")]
pub struct DeployStatus {
    /// the revision store (default /var/lib/mote)
    #[argh(option)]
    pub store: Option<String>,
    /// output format: text (default) or json
    #[argh(option, short = 'f')]
    pub format: Option<String>,
    /// only this workload
    #[argh(positional)]
    pub name: Option<String>,
}

#[derive(FromArgs, Debug)]
/// verify the store: every object's digest, every revision's files, the statuses
#[argh(subcommand, name = "fsck")]
pub struct DeployFsck {
    /// the revision store (default /var/lib/mote)
    #[argh(option)]
    pub store: Option<String>,
    /// output format: text (default) or json
    #[argh(option, short = 'f')]
    pub format: Option<String>,
}

#[derive(FromArgs, Debug)]
/// sign a source for `stage` (writes SOURCE.sig)
#[argh(subcommand, name = "sign")]
pub struct DeploySign {
    /// the ed25519 private key (PEM from `openssl genpkey -algorithm ed25519`)
    #[argh(option)]
    pub key: String,
    /// where to write the signature (default SOURCE.sig; - for stdout)
    #[argh(option, short = 'o')]
    pub output: Option<String>,
    /// image platform os/arch[/variant] (default: this machine's)
    #[argh(option)]
    pub platform: Option<String>,
    /// accepted for symmetry with the other verbs; unused
    #[argh(option)]
    pub store: Option<String>,
    /// the source
    #[argh(positional)]
    pub source: String,
}

#[derive(FromArgs, Debug)]
/// print what this process sees of its container (namespaces, capabilities, mounts)
#[argh(subcommand, name = "introspect")]
pub struct Introspect {}

/// `create` and `run` share their flags: this writes them once, with each verb's own flags
/// (`$extra`) before the container id, and the one place that turns them into `CreateOpts`.
macro_rules! create_flags {
    ($(#[$m:meta])* pub struct $name:ident { $($extra:tt)* }) => {
        #[derive(FromArgs, Debug)]
        $(#[$m])*
        pub struct $name {
            /// path to the bundle directory (default: current directory)
            #[argh(option, short = 'b')]
            pub bundle: Option<String>,
            /// unix socket to send the pseudo-terminal master to
            #[argh(option, long = "console-socket")]
            pub console_socket: Option<String>,
            /// write the container init's pid to this file
            #[argh(option, long = "pid-file")]
            pub pid_file: Option<String>,
            /// unix socket to send a pidfd of the container's init to
            #[argh(option, long = "pidfd-socket")]
            pub pidfd_socket: Option<String>,
            /// do not use pivot_root (MS_MOVE + chroot instead)
            #[argh(switch, long = "no-pivot")]
            pub no_pivot: bool,
            /// do not create a new session keyring
            #[argh(switch, long = "no-new-keyring")]
            pub no_new_keyring: bool,
            /// pass N more file descriptors (3..3+N) to the container
            #[argh(option, long = "preserve-fds", default = "0")]
            pub preserve_fds: u32,
            $($extra)*
            /// container id
            #[argh(positional)]
            pub id: String,
        }

        impl $name {
            /// The library's options for these flags.
            pub fn opts(&self, systemd_cgroup: bool) -> crate::container::CreateOpts<'_> {
                crate::container::CreateOpts {
                    id: &self.id,
                    bundle: self.bundle.as_deref(),
                    pid_file: self.pid_file.as_deref(),
                    console_socket: self.console_socket.as_deref(),
                    pidfd_socket: self.pidfd_socket.as_deref(),
                    no_pivot: self.no_pivot,
                    preserve_fds: self.preserve_fds,
                    systemd_cgroup,
                    ..Default::default()
                }
            }
        }
    };
}

create_flags! {
    /// create a container from a bundle, leaving its process waiting for `start`
    #[argh(subcommand, name = "create")]
    pub struct Create {}
}

create_flags! {
    /// create and start a container, and wait for it unless --detach
    #[argh(subcommand, name = "run")]
    pub struct Run {
        /// return once the container has started
        #[argh(switch, short = 'd')]
        pub detach: bool,
        /// keep the container's state after it exits
        #[argh(switch)]
        pub keep: bool,
        /// accepted for runc compatibility (mote always reaps as a subreaper when it waits)
        #[argh(switch, long = "no-subreaper")]
        pub no_subreaper: bool,
    }
}

#[derive(FromArgs, Debug)]
/// start a created container
#[argh(subcommand, name = "start")]
pub struct Start {
    /// container id
    #[argh(positional)]
    pub id: String,
}

#[derive(FromArgs, Debug)]
/// print the state of a container as JSON
#[argh(subcommand, name = "state")]
pub struct State {
    /// container id
    #[argh(positional)]
    pub id: String,
}

#[derive(FromArgs, Debug)]
/// send a signal (default SIGTERM) to the container's init, or to all its processes
#[argh(subcommand, name = "kill")]
pub struct Kill {
    /// signal all processes of the container
    #[argh(switch, short = 'a')]
    pub all: bool,
    /// container id
    #[argh(positional)]
    pub id: String,
    /// signal name (TERM, SIGTERM) or number (15)
    #[argh(positional)]
    pub signal: Option<String>,
}

#[derive(FromArgs, Debug)]
/// delete a stopped container (or any container with --force)
#[argh(subcommand, name = "delete")]
pub struct Delete {
    /// kill the container first if it is running
    #[argh(switch, short = 'f')]
    pub force: bool,
    /// container id
    #[argh(positional)]
    pub id: String,
}

#[derive(FromArgs, Debug)]
/// run a new process inside a running container
#[argh(subcommand, name = "exec")]
pub struct Exec {
    /// unix socket to send the pseudo-terminal master to
    #[argh(option, long = "console-socket")]
    pub console_socket: Option<String>,
    /// working directory inside the container
    #[argh(option)]
    pub cwd: Option<String>,
    /// environment variable KEY=VALUE (repeatable)
    #[argh(option, short = 'e')]
    pub env: Vec<String>,
    /// allocate a pseudo-terminal
    #[argh(switch, short = 't')]
    pub tty: bool,
    /// user as UID[:GID]
    #[argh(option, short = 'u')]
    pub user: Option<String>,
    /// additional group id (repeatable)
    #[argh(option, short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// path to a process.json describing the process
    #[argh(option, short = 'p')]
    pub process: Option<String>,
    /// do not wait for the process
    #[argh(switch, short = 'd')]
    pub detach: bool,
    /// write the process's pid to this file
    #[argh(option, long = "pid-file")]
    pub pid_file: Option<String>,
    /// SELinux label for the process
    #[argh(option, long = "process-label")]
    pub process_label: Option<String>,
    /// apparmor profile for the process
    #[argh(option)]
    pub apparmor: Option<String>,
    /// set no_new_privs
    #[argh(switch, long = "no-new-privs")]
    pub no_new_privs: bool,
    /// add a capability (repeatable)
    #[argh(option, short = 'c')]
    pub cap: Vec<String>,
    /// pass N more file descriptors (3..3+N) to the process
    #[argh(option, long = "preserve-fds", default = "0")]
    pub preserve_fds: u32,
    /// run in an existing sub-cgroup of the container: [controller[,controller...]:]path
    /// (repeatable, one per controller set on cgroup v1)
    #[argh(option)]
    pub cgroup: Vec<String>,
    /// allow exec in a paused container
    #[argh(switch, long = "ignore-paused")]
    pub ignore_paused: bool,
    /// unix socket to send a pidfd of the process to
    #[argh(option, long = "pidfd-socket")]
    pub pidfd_socket: Option<String>,
    /// container id
    #[argh(positional)]
    pub id: String,
    /// command and arguments
    #[argh(positional, greedy)]
    pub command: Vec<String>,
}

#[derive(FromArgs, Debug)]
/// list the processes of a container
#[argh(subcommand, name = "ps")]
pub struct Ps {
    /// output format: table (default) or json
    #[argh(option, short = 'f')]
    pub format: Option<String>,
    /// container id
    #[argh(positional)]
    pub id: String,
    /// options passed to ps(1) (table format)
    #[argh(positional, greedy)]
    pub ps_args: Vec<String>,
}

#[derive(FromArgs, Debug)]
/// list containers
#[argh(subcommand, name = "list")]
pub struct List {
    /// output format: table (default) or json
    #[argh(option, short = 'f')]
    pub format: Option<String>,
    /// print only the container ids
    #[argh(switch, short = 'q')]
    pub quiet: bool,
}

#[derive(FromArgs, Debug)]
/// freeze all processes of a container
#[argh(subcommand, name = "pause")]
pub struct Pause {
    /// container id
    #[argh(positional)]
    pub id: String,
}

#[derive(FromArgs, Debug)]
/// thaw a paused container
#[argh(subcommand, name = "resume")]
pub struct Resume {
    /// container id
    #[argh(positional)]
    pub id: String,
}

#[derive(FromArgs, Debug)]
/// change the resource limits of a container
#[argh(subcommand, name = "update")]
pub struct Update {
    /// JSON file with linux.resources ("-" for stdin)
    #[argh(option, short = 'r')]
    pub resources: Option<String>,
    /// block IO weight (10-1000)
    #[argh(option, long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period in microseconds
    #[argh(option, long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds
    #[argh(option, long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// CPU realtime period in microseconds
    #[argh(option, long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds
    #[argh(option, long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[argh(option, long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// CPUs allowed (0-3, 0,1)
    #[argh(option, long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// memory nodes allowed
    #[argh(option, long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// memory limit (bytes, or with k/m/g suffix)
    #[argh(option)]
    pub memory: Option<String>,
    /// memory soft limit
    #[argh(option, long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// memory plus swap limit
    #[argh(option, long = "memory-swap")]
    pub memory_swap: Option<String>,
    /// kernel memory limit (deprecated, refused)
    #[argh(option, long = "kernel-memory")]
    pub kernel_memory: Option<String>,
    /// kernel TCP memory limit (deprecated, refused)
    #[argh(option, long = "kernel-memory-tcp")]
    pub kernel_memory_tcp: Option<String>,
    /// maximum number of processes
    #[argh(option, long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// intel RDT L3 cache schema
    #[argh(option, long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// intel RDT memory bandwidth schema
    #[argh(option, long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    /// container id
    #[argh(positional)]
    pub id: String,
}

#[derive(FromArgs, Debug)]
/// print container events and resource statistics
#[argh(subcommand, name = "events")]
pub struct Events {
    /// interval between statistics (default 5s)
    #[argh(option)]
    pub interval: Option<String>,
    /// print statistics once and exit
    #[argh(switch)]
    pub stats: bool,
    /// container id
    #[argh(positional)]
    pub id: String,
}

#[derive(FromArgs, Debug)]
/// print the features this runtime supports, as JSON
#[argh(subcommand, name = "features")]
pub struct Features {}

#[derive(FromArgs, Debug)]
/// write a default config.json
#[argh(subcommand, name = "spec")]
pub struct SpecCmd {
    /// bundle directory to write config.json into (default: current directory)
    #[argh(option, short = 'b')]
    pub bundle: Option<String>,
    /// write a config for running without root (user namespace)
    #[argh(switch)]
    pub rootless: bool,
}

#[derive(FromArgs, Debug)]
/// check what this kernel and system offer mote
#[argh(subcommand, name = "check")]
pub struct Check {
    /// output format: text (default) or json
    #[argh(option, short = 'f')]
    pub format: Option<String>,
}

#[derive(FromArgs, Debug)]
/// not supported: mote does not checkpoint containers
#[argh(subcommand, name = "checkpoint")]
pub struct Checkpoint {
    /// all other arguments
    #[argh(positional, greedy)]
    pub rest: Vec<String>,
}

#[derive(FromArgs, Debug)]
/// not supported: mote does not restore containers
#[argh(subcommand, name = "restore")]
pub struct Restore {
    /// all other arguments
    #[argh(positional, greedy)]
    pub rest: Vec<String>,
}
