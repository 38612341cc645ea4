//! Resource statistics of a container's cgroup, in runc's `events` format.

use crate::prelude::*;

use super::{Cgroup, Mode};
use crate::spec::out::JsonStr;
use crate::sys::fs;
use core::fmt::Write as _;

fn read(dir: &str, file: &str) -> Option<String> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = fs::read_path(&format!("{dir}/{file}"), &mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn num(dir: &str, file: &str) -> Option<u64> {
    let s = read(dir, file)?;
    let t = s.trim();
    if t == "max" {
        return Some(u64::MAX);
    }
    t.parse().ok()
}

/// `key value` lines as pairs.
fn kv(text: &str) -> Vec<(&str, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?, it.next()?.parse().ok()?))
        })
        .collect()
}

fn get(pairs: &[(&str, u64)], k: &str) -> u64 {
    pairs.iter().find(|(n, _)| *n == k).map_or(0, |(_, v)| *v)
}

/// The number of OOM kills in the container's cgroup so far (for `events`).
pub fn oom_kills(cg: &Cgroup) -> u64 {
    let Some(d) = cg.dir_of("memory") else { return 0 };
    match cg.mode {
        Mode::V2 => read(d, "memory.events").map_or(0, |t| get(&kv(&t), "oom_kill")),
        _ => read(d, "memory.oom_control").map_or(0, |t| get(&kv(&t), "oom_kill")),
    }
}

/// `{"type":"stats","id":...,"data":{...}}`, as `runc events --stats` prints it.
pub fn stats_json(id: &str, cg: &Cgroup) -> String {
    let mut o = String::with_capacity(2048);
    let _ = write!(o, "{{\"type\":\"stats\",\"id\":{},\"data\":{{", JsonStr(id));
    let v2 = cg.mode == Mode::V2;
    // cpu
    let mut cpu_parts = Vec::new();
    if v2 {
        if let Some(d) = cg.dirs.first() {
            if let Some(t) = read(d, "cpu.stat") {
                let p = kv(&t);
                cpu_parts.push(format!(
                    "\"usage\":{{\"total\":{},\"kernel\":{},\"user\":{}}},\"throttling\":{{\"periods\":{},\"throttled_periods\":{},\"throttled_time\":{}}}",
                    get(&p, "usage_usec") * 1000,
                    get(&p, "system_usec") * 1000,
                    get(&p, "user_usec") * 1000,
                    get(&p, "nr_periods"),
                    get(&p, "nr_throttled"),
                    get(&p, "throttled_usec") * 1000
                ));
            }
        }
    } else if let Some(d) = cg.dir_of("cpuacct") {
        let total = num(d, "cpuacct.usage").unwrap_or(0);
        let percpu = read(d, "cpuacct.usage_percpu").unwrap_or_default();
        let st = read(d, "cpuacct.stat").unwrap_or_default();
        let p = kv(&st);
        // cpuacct.stat counts USER_HZ (100) ticks.
        let per: Vec<&str> = percpu.split_whitespace().collect();
        cpu_parts.push(format!(
            "\"usage\":{{\"total\":{total},\"percpu\":[{}],\"kernel\":{},\"user\":{}}}",
            per.join(","),
            get(&p, "system") * 10_000_000,
            get(&p, "user") * 10_000_000
        ));
    }
    let _ = write!(o, "\"cpu\":{{{}}}", cpu_parts.join(","));
    // memory
    if let Some(d) = cg.dir_of("memory") {
        let entry = |usage: Option<u64>, max: Option<u64>, limit: Option<u64>, failcnt: Option<u64>| {
            format!(
                "{{\"limit\":{},\"usage\":{},\"max\":{},\"failcnt\":{}}}",
                limit.unwrap_or(0),
                usage.unwrap_or(0),
                max.unwrap_or(0),
                failcnt.unwrap_or(0)
            )
        };
        let (usage, swap, raw) = if v2 {
            let ev = read(d, "memory.events").unwrap_or_default();
            (
                entry(
                    num(d, "memory.current"),
                    num(d, "memory.peak"),
                    num(d, "memory.max"),
                    Some(get(&kv(&ev), "max")),
                ),
                entry(
                    num(d, "memory.swap.current"),
                    num(d, "memory.swap.peak"),
                    num(d, "memory.swap.max"),
                    None,
                ),
                read(d, "memory.stat").unwrap_or_default(),
            )
        } else {
            (
                entry(
                    num(d, "memory.usage_in_bytes"),
                    num(d, "memory.max_usage_in_bytes"),
                    num(d, "memory.limit_in_bytes"),
                    num(d, "memory.failcnt"),
                ),
                entry(
                    num(d, "memory.memsw.usage_in_bytes"),
                    num(d, "memory.memsw.max_usage_in_bytes"),
                    num(d, "memory.memsw.limit_in_bytes"),
                    num(d, "memory.memsw.failcnt"),
                ),
                read(d, "memory.stat").unwrap_or_default(),
            )
        };
        let mut rawj = String::new();
        for (i, (k, v)) in kv(&raw).iter().enumerate() {
            let _ = write!(rawj, "{}{}:{v}", if i > 0 { "," } else { "" }, JsonStr(k));
        }
        let _ = write!(
            o,
            ",\"memory\":{{\"usage\":{usage},\"swap\":{swap},\"raw\":{{{rawj}}}}}"
        );
    }
    // pids
    if let Some(d) = cg.dir_of("pids") {
        let limit = num(d, "pids.max").filter(|l| *l != u64::MAX).unwrap_or(0);
        let _ = write!(
            o,
            ",\"pids\":{{\"current\":{},\"limit\":{limit}}}",
            num(d, "pids.current").unwrap_or(0)
        );
    }
    o.push_str("}}\n");
    o
}
