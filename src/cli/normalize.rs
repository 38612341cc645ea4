//! Turn the argv that runc's clients send into what argh reads.
//!
//! - `--flag=value` becomes `--flag value` (go-runc and conmon send both forms);
//! - Go-style single-dash long flags (`-log-format json`, `-no-subreaper`) get two dashes;
//! - boolean flags written `--flag=true` keep the flag, `--flag=false` drop it;
//! - after `exec <id>`, nothing is touched: the rest is the command and its own arguments.

use crate::prelude::*;

/// Long flags that take no value.
const SWITCHES: &[&str] = &[
    "debug",
    "systemd-cgroup",
    "version",
    "no-pivot",
    "no-new-keyring",
    "all",
    "force",
    "detach",
    "keep",
    "no-subreaper",
    "tty",
    "no-new-privs",
    "ignore-paused",
    "quiet",
    "stats",
    "rootless-spec",
    "help",
];

/// Long flags that take a value.
const OPTIONS: &[&str] = &[
    "root",
    "log",
    "log-format",
    "criu",
    "rootless",
    "bundle",
    "console-socket",
    "pid-file",
    "preserve-fds",
    "cwd",
    "env",
    "user",
    "additional-gids",
    "process",
    "process-label",
    "apparmor",
    "cap",
    "cgroup",
    "pidfd-socket",
    "format",
    "resources",
    "blkio-weight",
    "cpu-period",
    "cpu-quota",
    "cpu-rt-period",
    "cpu-rt-runtime",
    "cpu-share",
    "cpuset-cpus",
    "cpuset-mems",
    "memory",
    "memory-reservation",
    "memory-swap",
    "kernel-memory",
    "kernel-memory-tcp",
    "pids-limit",
    "l3-cache-schema",
    "mem-bw-schema",
    "interval",
];

/// Short flags that take a value, per runc.
const SHORT_OPTIONS: &[&str] = &["-b", "-e", "-u", "-g", "-p", "-c", "-f", "-r"];

fn is_switch(name: &str) -> bool {
    SWITCHES.contains(&name)
}
fn is_option(name: &str) -> bool {
    OPTIONS.contains(&name)
}

/// Normalize `args` (without argv[0]).
pub fn normalize<S: AsRef<str>>(args: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(args.len() + 2);
    // For `exec`, everything after the container id is the command: count positionals.
    let mut command: Option<&str> = None;
    let mut positionals_after_cmd = 0usize;
    let mut expect_value = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_ref();
        i += 1;
        if expect_value {
            out.push(a.to_string());
            expect_value = false;
            continue;
        }
        if a == "--" {
            // Explicit end of options: copy the rest as is.
            out.push(a.to_string());
            out.extend(args[i..].iter().map(|s| s.as_ref().to_string()));
            break;
        }
        if let Some(body) = a.strip_prefix('-').filter(|b| !b.is_empty()) {
            // `--name[=v]` or Go-style `-name[=v]` (a long name is more than one letter).
            let long = body.strip_prefix('-').unwrap_or(body);
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            let is_long_form = body.starts_with('-') || name.len() > 1;
            if is_long_form && (is_switch(name) || is_option(name)) {
                let flag = format!("--{name}");
                match value {
                    Some(v) if is_switch(name) => {
                        // `--detach=true` / `--detach=false`
                        if v != "false" && v != "0" {
                            out.push(flag);
                        }
                    }
                    Some(v) => {
                        out.push(flag);
                        out.push(v.to_string());
                    }
                    None => {
                        out.push(flag);
                        expect_value = is_option(name);
                    }
                }
                continue;
            }
            // A short option with its value attached (`-b=dir`), or a plain short flag.
            if let Some((flag, v)) = a.split_once('=') {
                if SHORT_OPTIONS.contains(&flag) {
                    out.push(flag.to_string());
                    out.push(v.to_string());
                    continue;
                }
            }
            expect_value = SHORT_OPTIONS.contains(&a);
            out.push(a.to_string());
            continue;
        }
        // A positional argument.
        match command {
            None => command = Some(a),
            Some(c) => {
                positionals_after_cmd += 1;
                if (c == "exec" || c == "ps") && positionals_after_cmd == 1 {
                    // The container id: what follows is the command (exec) or ps(1)
                    // arguments (ps), untouched.
                    out.push(a.to_string());
                    if i < args.len() {
                        out.push("--".to_string());
                        out.extend(args[i..].iter().map(|s| s.as_ref().to_string()));
                    }
                    break;
                }
            }
        }
        out.push(a.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize;

    fn n(s: &str) -> String {
        normalize(&s.split(' ').collect::<Vec<_>>()).join(" ")
    }

    #[test]
    fn equals_forms_are_split() {
        assert_eq!(
            n("--log-format=json --log /x/oci-log create --bundle /b --pid-file=/p id"),
            "--log-format json --log /x/oci-log create --bundle /b --pid-file /p id"
        );
    }

    #[test]
    fn single_dash_long_flags() {
        assert_eq!(
            n("-root /r -log-format=json run -no-subreaper -d id"),
            "--root /r --log-format json run --no-subreaper -d id"
        );
    }

    #[test]
    fn boolean_values() {
        assert_eq!(n("run --detach=true --keep=false id"), "run --detach id");
        assert_eq!(n("--systemd-cgroup=true list"), "--systemd-cgroup list");
    }

    #[test]
    fn exec_command_is_untouched() {
        assert_eq!(
            n("exec --tty --env=A=1 id sh -c --x=y"),
            "exec --tty --env A=1 id -- sh -c --x=y"
        );
        assert_eq!(n("exec -e A=1 -u 0:0 id true"), "exec -e A=1 -u 0:0 id -- true");
    }

    #[test]
    fn options_after_the_id() {
        assert_eq!(n("create id --bundle=/b"), "create id --bundle /b");
    }

    #[test]
    fn values_looking_like_flags_are_values() {
        assert_eq!(n("exec --cwd -weird id ls"), "exec --cwd -weird id -- ls");
    }
}
