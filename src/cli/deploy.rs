//! `mote deploy`: the verbs over src/deploy (stage, status, fsck, sign) and, for activate,
//! commit and rollback, requests to the supervisor (it runs the containers), or the status
//! changed directly when none runs (the next supervisor follows it).
//!
//! Exit codes (README "mote deploy"): 0 done (also when there was nothing to do: every verb
//! can be run again, as OTA clients do after a power cut); 1 failed; 2 bad usage; 3 a bad
//! source or signature; 5 `activate --wait-*`: the revision was rolled back; 6 `activate
//! --wait-*`: still not healthy (or committed) when the wait ended.

use crate::prelude::*;

use super::args::{self, DeployCmd};
use super::log::Log;
use crate::deploy::{self, stage, store};
use crate::error::{Error, Result, Step};
use crate::spec::out::JsonStr;
use crate::spec::workload::Workload;
use core::fmt::Write as _;
use core::time::Duration;

/// `activate --wait-*` saw the revision rolled back.
pub const EXIT_ROLLED_BACK: i32 = 5;
/// `activate --wait-*` ran out of time.
pub const EXIT_TIMEOUT: i32 = 6;

fn store_of(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or(store::DEFAULT_STORE)
}

fn parse_platform(p: &str) -> Result<(&str, Option<&str>)> {
    let mut it = p.split('/');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some("linux"), Some(arch), variant, None) if !arch.is_empty() => Ok((arch, variant.filter(|v| !v.is_empty()))),
        _ => Err(Error::usage("--platform").ctx(format_args!("{p:?}: use linux/ARCH[/VARIANT], as linux/arm/v7"))),
    }
}

pub fn deploy(root: &str, cmd: &DeployCmd, log: &Log) -> Result<i32> {
    match cmd {
        DeployCmd::Stage(a) => stage_cmd(a, log),
        DeployCmd::Activate(a) => activate(root, a),
        DeployCmd::Commit(a) => change(root, "commit", &a.name, store_of(&a.store), a.revision.as_deref()),
        DeployCmd::Rollback(a) => change(root, "rollback", &a.name, store_of(&a.store), a.revision.as_deref()),
        DeployCmd::Status(a) => status(a),
        DeployCmd::Fsck(a) => fsck(a),
        DeployCmd::Sign(a) => sign(a),
    }
}

fn stage_cmd(a: &args::DeployStage, log: &Log) -> Result<i32> {
    let dir = a.config_dir.as_deref().unwrap_or(super::supervise::DEFAULT_CONFIG_DIR);
    let file = format!("{dir}/{}.json", a.name);
    // The workload file, when there is one: how to make config.json, what to keep.
    let w = match crate::spec::read_input(&file) {
        Ok(b) => Some(Workload::parse(&file, &b)?),
        Err(libc::ENOENT) => None,
        Err(e) => return Err(Error::sys("read the workload file", e).ctx(format_args!("{file}"))),
    };
    let platform = a.platform.as_deref().map(parse_platform).transpose()?;
    let o = stage::StageOpts {
        store: store_of(&a.store),
        name: &a.name,
        source: &a.source,
        keys: a.keys.as_deref().unwrap_or(deploy::DEFAULT_KEYS),
        signature: a.signature.as_deref(),
        platform,
        overrides: w.as_ref().map_or_else(
            || crate::spec::workload::ImageOverrides {
                host_network: true,
                ..Default::default()
            },
            |w| w.image.clone(),
        ),
        allow_devices: w.as_ref().is_some_and(|w| w.deploy.allow_devices),
        keep: w.as_ref().map_or(2, |w| w.deploy.keep as usize),
    };
    let mut say = |m: core::fmt::Arguments<'_>| log.info(&format!("{m}"));
    // Progress on a terminal only (not into logs, pipes or an OTA client's capture).
    if crate::sys::stderr_is_terminal() {
        crate::deploy::stream::progress::start();
    }
    let r = stage::stage(&o, &mut say);
    crate::deploy::stream::progress::stop();
    let r = r?;
    if a.format.as_deref() == Some("json") {
        outln!(
            "{{\"name\":{},\"revision\":{},\"digest\":\"{}\",\"source\":{},\"already\":{},\"signedBy\":{},\"newObjects\":{}}}",
            JsonStr(&a.name),
            JsonStr(&r.revision),
            r.digest,
            JsonStr(r.kind),
            r.already,
            r.signed_by.as_deref().map_or(String::from("null"), |k| format!("{}", JsonStr(k))),
            r.new_objects
        );
    } else {
        outln!(
            "{}: revision {} {} ({} from a {}{}; {} new objects{})",
            a.name,
            r.revision,
            if r.already { "was already staged" } else { "staged" },
            r.digest,
            r.kind,
            r.signed_by
                .as_deref()
                .map_or(String::new(), |k| format!(", signed by {k}")),
            r.new_objects,
            if r.removed.is_empty() {
                String::new()
            } else {
                format!("; removed old revisions {}", r.removed.join(", "))
            }
        );
    }
    Ok(0)
}

/// Is a supervisor answering on this state root?
fn supervisor_runs(root: &str) -> bool {
    crate::process::connect_unix(&crate::supervisor::control_path(root), "connect to the supervisor").is_ok()
}

/// Send a deploy request to the supervisor; its message.
fn ask(root: &str, line: &str) -> Result<String> {
    let fd = crate::supervisor::request(root, line)?;
    Ok(super::supervise::reply(&fd)?.0.unwrap_or_default())
}

fn request_line(op: &str, name: &str, store: &str, rev: Option<&str>, timeout_ms: Option<u64>) -> String {
    let mut l = format!(
        "{{\"op\":\"{op}\",\"name\":{},\"store\":{}",
        JsonStr(name),
        JsonStr(store)
    );
    if let Some(r) = rev {
        let _ = write!(l, ",\"revision\":{}", JsonStr(r));
    }
    if let Some(t) = timeout_ms {
        let _ = write!(l, ",\"timeoutMs\":{t}");
    }
    l.push('}');
    l
}

fn activate(root: &str, a: &args::DeployActivate) -> Result<i32> {
    let store = store_of(&a.store);
    let timeout = a
        .timeout
        .as_deref()
        .map(|t| {
            crate::spec::units::parse_duration(t)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    Error::usage("--timeout").ctx(format_args!("{t:?}: {}", crate::spec::units::DURATION_HINT))
                })
        })
        .transpose()?;
    if !supervisor_runs(root) {
        return Err(Error::failed("activate").ctx(format_args!(
            "no supervisor runs with --root {root}: a revision is tested by `mote supervise` (start it, then activate)"
        )));
    }
    let msg = ask(
        root,
        &request_line(
            "activate",
            &a.name,
            store,
            a.revision.as_deref(),
            timeout.map(|t| t.as_millis() as u64),
        ),
    )?;
    outln!("{}: {msg}", a.name);
    if !(a.wait_healthy || a.wait_committed) {
        return Ok(0);
    }
    let first = deploy::status(store, &a.name)?;
    let Some(rev) = first.testing.clone() else {
        return Ok(0); // it already ran: nothing to wait for
    };
    // The supervisor ends every test (a rollback at its deadline); the wait is bounded anyway.
    let limit = timeout.map_or(Duration::from_secs(900), |t| t + Duration::from_secs(30));
    let end = crate::sys::env::monotonic() + limit;
    let mut polls = 0u32;
    loop {
        let st = deploy::status(store, &a.name)?;
        if st.failed.as_deref() == Some(rev.as_str()) && st.testing.as_deref() != Some(rev.as_str()) {
            errln!("{}: revision {rev} was rolled back: {}", a.name, st.reason);
            return Ok(EXIT_ROLLED_BACK);
        }
        let committed = st.committed.as_deref() == Some(rev.as_str()) && st.testing.is_none();
        if committed
            || (a.wait_healthy && !a.wait_committed && st.testing.as_deref() == Some(rev.as_str()) && st.healthy)
        {
            outln!(
                "{}: revision {rev} is {}",
                a.name,
                if committed {
                    "committed"
                } else {
                    "ready and healthy (under test until committed)"
                }
            );
            return Ok(0);
        }
        if st.testing.as_deref() != Some(rev.as_str()) && !committed {
            errln!(
                "{}: revision {rev} is no longer under test ({}: {})",
                a.name,
                st.phase.as_str(),
                st.reason
            );
            return Ok(EXIT_ROLLED_BACK);
        }
        // A supervisor that died ends no test: say so (its next start rolls the test back).
        polls += 1;
        if polls % 10 == 0 && !supervisor_runs(root) {
            errln!(
                "{}: the supervisor stopped during the test of revision {rev} (its next start rolls it back)",
                a.name
            );
            return Ok(1);
        }
        if crate::sys::env::monotonic() >= end {
            errln!(
                "{}: revision {rev} still under test after {} s",
                a.name,
                limit.as_secs()
            );
            return Ok(EXIT_TIMEOUT);
        }
        crate::sys::env::sleep(Duration::from_millis(100));
    }
}

fn change(root: &str, op: &str, name: &str, store: &str, rev: Option<&str>) -> Result<i32> {
    if supervisor_runs(root) {
        let msg = ask(root, &request_line(op, name, store, rev, None))?;
        outln!("{name}: {msg}");
        return Ok(0);
    }
    // No supervisor: the status changes; the next supervisor runs what it says.
    let (changed, st) = deploy::change(store, name, &mut |st, _| {
        if op == "commit" {
            st.commit("committed by request")
        } else {
            st.rollback("rolled back by request", rev)
        }
    })?;
    outln!(
        "{name}: {} (the deployment is {}; current revision {})",
        if changed {
            format!("{op} done")
        } else {
            format!("nothing to {op}")
        },
        st.phase.as_str(),
        st.current().unwrap_or("none")
    );
    Ok(0)
}

fn status(a: &args::DeployStatus) -> Result<i32> {
    let store = store_of(&a.store);
    let list = match &a.name {
        Some(n) => vec![deploy::status(store, n)?],
        None => deploy::statuses(store)?,
    };
    if a.format.as_deref() == Some("json") {
        let mut o = String::from("[");
        for (i, s) in list.iter().enumerate() {
            let _ = write!(o, "{}{}", if i > 0 { "," } else { "" }, s.to_json());
        }
        o.push(']');
        outln!("{o}");
        return Ok(0);
    }
    outln!(
        "{:<16} {:<12} {:<13} {:<13} {:<13} {:<8} REASON",
        "NAME",
        "PHASE",
        "CURRENT",
        "PREVIOUS",
        "STAGED",
        "HEALTHY"
    );
    for s in &list {
        outln!(
            "{:<16} {:<12} {:<13} {:<13} {:<13} {:<8} {}",
            s.name,
            s.phase.as_str(),
            s.current().unwrap_or("-"),
            s.previous.as_deref().unwrap_or("-"),
            s.staged.as_deref().unwrap_or("-"),
            if s.testing.is_some() {
                if s.healthy {
                    "yes"
                } else {
                    "not yet"
                }
            } else {
                "-"
            },
            s.reason
        );
    }
    Ok(0)
}

fn fsck(a: &args::DeployFsck) -> Result<i32> {
    let r = deploy::fsck(store_of(&a.store))?;
    if a.format.as_deref() == Some("json") {
        let mut o = format!(
            "{{\"objects\":{},\"revisions\":{},\"unreferenced\":{},\"leftovers\":{},\"problems\":[",
            r.objects, r.revisions, r.unreferenced, r.leftovers
        );
        for (i, p) in r.problems.iter().enumerate() {
            let _ = write!(o, "{}{}", if i > 0 { "," } else { "" }, JsonStr(p));
        }
        o.push_str("]}");
        outln!("{o}");
    } else {
        outln!(
            "{} objects, {} revisions checked: {}{}{}",
            r.objects,
            r.revisions,
            if r.problems.is_empty() { "ok" } else { "PROBLEMS" },
            if r.unreferenced > 0 {
                format!("; {} unreferenced objects (gc removes them)", r.unreferenced)
            } else {
                String::new()
            },
            if r.leftovers > 0 {
                format!(
                    "; {} leftovers of an interrupted stage (the next stage removes them)",
                    r.leftovers
                )
            } else {
                String::new()
            },
        );
        for p in &r.problems {
            outln!("  {p}");
        }
    }
    Ok(if r.problems.is_empty() { 0 } else { 1 })
}

fn sign(a: &args::DeploySign) -> Result<i32> {
    let platform = a.platform.as_deref().map(parse_platform).transpose()?;
    let (d, sig) = deploy::sign_source(&a.source, &a.key, platform)?;
    let out = a
        .output
        .clone()
        .unwrap_or_else(|| format!("{}.sig", a.source.trim_end_matches('/')));
    if out == "-" {
        outln!("{sig}");
    } else {
        crate::sys::fs::write_file(&out, format!("{sig}\n").as_bytes(), 0o644)
            .step_ctx("write the signature", format_args!("{out}"))?;
        outln!("{d}: signature written to {out}");
    }
    Ok(0)
}
