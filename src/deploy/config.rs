//! The runtime config of a revision made from an image: what podman and containerd derive
//! from an image config (Entrypoint + Cmd, Env, WorkingDir, User through the image's
//! /etc/passwd and /etc/group, Labels as annotations, Volumes as tmpfs or host directories),
//! the workload file's `image` overrides on top, and `mote spec`'s defaults for the rest
//! (namespaces, capabilities, masked paths, a read-only root).

use crate::prelude::*;

use crate::cli::spec_cmd::DEFAULT_SPEC;
use crate::error::{Error, Result};
use crate::json_object;
use crate::rootfs::resolve;
use crate::spec::json::{Keys, Map, PoolList, Pools, Str};
use crate::spec::limits::MAX_VOLUMES;
use crate::spec::out::JsonStr;
use crate::spec::workload::ImageOverrides;
use crate::sys::fs;
use core::fmt::Write as _;
use rustix::fd::{AsRawFd, RawFd};

json_object! {
    pub struct ContainerConfig<'a> {
        "User" => user: Option<Str<'a>>,
        "Env" => env: Option<PoolList<Str<'a>>>,
        "Entrypoint" => entrypoint: Option<PoolList<Str<'a>>>,
        "Cmd" => cmd: Option<PoolList<Str<'a>>>,
        "WorkingDir" => working_dir: Option<Str<'a>>,
        "Labels" => labels: Option<Map>,
        "Volumes" => volumes: Option<Keys<'a, MAX_VOLUMES>>,
    }
}

/// The default PATH when the image sets none (podman's).
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn bad(why: core::fmt::Arguments<'_>) -> Error {
    Error::input("make config.json").ctx(why)
}

/// Replace `from` (which must be in the text exactly once) by `to`.
fn swap(s: &mut String, from: &str, to: &str) -> Result<()> {
    match s.find(from) {
        Some(i) if s[i + from.len()..].find(from).is_none() => {
            s.replace_range(i..i + from.len(), to);
            Ok(())
        }
        _ => Err(Error::failed("make config.json").ctx(format_args!("the default spec lacks {from:?}"))),
    }
}

fn json_list(items: &[&str], indent: &str) -> String {
    let mut o = String::from("[");
    for (i, it) in items.iter().enumerate() {
        let _ = write!(o, "{}\n{indent}\t{}", if i > 0 { "," } else { "" }, JsonStr(it));
    }
    let _ = write!(o, "\n{indent}]");
    o
}

/// The user and groups a `User` string names, looked up in the rootfs (`rootfs` an open fd).
pub fn resolve_user(rootfs: RawFd, user: &str) -> Result<(u32, u32, Vec<u32>)> {
    if user.is_empty() {
        return Ok((0, 0, Vec::new()));
    }
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd = read_in_root(rootfs, "/etc/passwd");
    let group = read_in_root(rootfs, "/etc/group");
    // name:x:uid:gid:...
    let pw = |pred: &dyn Fn(&str, u32) -> bool| -> Option<(String, u32, u32)> {
        let text = passwd.as_deref()?;
        text.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let (n, uid, gid) = (f.first()?, f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?);
            pred(n, uid).then(|| (String::from(*n), uid, gid))
        })
    };
    let (name, uid, mut gid) = match u.parse::<u32>() {
        Ok(n) => pw(&|_, id| id == n).map_or((None, n, 0), |(name, _, g)| (Some(name), n, g)),
        Err(_) => {
            let (name, uid, gid) = pw(&|n, _| n == u).ok_or_else(|| {
                bad(format_args!(
                    "the image's User {user:?}: no user {u:?} in the image's /etc/passwd{}: set image.user in the workload file to a uid (\"1000\" or \"1000:1000\")",
                    if passwd.is_none() { " (it has none)" } else { "" }
                ))
            })?;
            (Some(name), uid, gid)
        }
    };
    // name:x:gid:member,member
    let groups: Vec<(String, u32, Vec<String>)> = group
        .as_deref()
        .map(|t| {
            t.lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    Some((
                        String::from(*f.first()?),
                        f.get(2)?.parse().ok()?,
                        f.get(3).map_or(Vec::new(), |m| {
                            m.split(',').filter(|s| !s.is_empty()).map(String::from).collect()
                        }),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups.iter().find(|(n, _, _)| n == g).map(|(_, id, _)| *id).ok_or_else(|| {
                bad(format_args!(
                    "the image's User {user:?}: no group {g:?} in the image's /etc/group: set image.user in the workload file to \"uid:gid\""
                ))
            })?,
        };
    }
    let mut extra = Vec::new();
    if let (Some(name), None) = (&name, g) {
        for (_, id, members) in &groups {
            if members.iter().any(|m| m == name) && *id != gid && !extra.contains(id) {
                extra.push(*id);
            }
        }
    }
    Ok((uid, gid, extra))
}

/// A small file of the rootfs, resolved inside it (None when absent or unreadable).
fn read_in_root(rootfs: RawFd, path: &str) -> Option<String> {
    let fd = resolve::open_in_root(rootfs, path, resolve::Create::No).ok()?;
    // The O_PATH fd, opened for reading through its /proc/self/fd link.
    let via = crate::sys::fd_path(fd.as_raw_fd());
    let f = fs::open(via.as_cstr().to_str().ok()?, libc::O_RDONLY | libc::O_CLOEXEC, 0).ok()?;
    let v = fs::read_fd_to_end(f.as_raw_fd(), 1 << 20).ok()?;
    String::from_utf8(v).ok()
}

/// Make config.json for a revision: `image_config` the image's config document, `rootfs` the
/// unpacked root (for the user lookup), `name` the workload's.
pub fn make(image_config: &[u8], rootfs: RawFd, name: &str, o: &ImageOverrides) -> Result<String> {
    let mut arena = vec![0u8; image_config.len()];
    let mut pools = Pools::default();
    let ic: super::image::ImageConfig<'_> = crate::spec::parse_doc(image_config, &mut arena, &mut pools)
        .map_err(|e| bad(format_args!("the image config: {e}")))?;
    let c = ic.config.clone().unwrap_or_default();
    let strs = |l: Option<PoolList<Str<'_>>>| -> Vec<String> {
        l.map(|l| pools.strs[l.range()].iter().map(|s| String::from(s.0)).collect())
            .unwrap_or_default()
    };
    // Entrypoint + Cmd, as podman: an overridden entrypoint drops the image's Cmd.
    let (entry, cmd) = match (&o.entrypoint, &o.cmd) {
        (Some(e), Some(k)) => (e.clone(), k.clone()),
        (Some(e), None) => (e.clone(), Vec::new()),
        (None, Some(k)) => (strs(c.entrypoint), k.clone()),
        (None, None) => (strs(c.entrypoint), strs(c.cmd)),
    };
    let args: Vec<String> = entry.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(bad(format_args!(
            "the image has neither Entrypoint nor Cmd: set image.cmd in the workload file"
        )));
    }
    let mut env = strs(c.env);
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.into());
    }
    let cwd = o
        .working_dir
        .clone()
        .or_else(|| c.working_dir.filter(|w| !w.is_empty()).map(|w| String::from(w.0)))
        .unwrap_or_else(|| "/".into());
    if !cwd.starts_with('/') {
        return Err(bad(format_args!("the image's WorkingDir {cwd:?} is not absolute")));
    }
    let user = o
        .user
        .clone()
        .unwrap_or_else(|| c.user.map_or(String::new(), |u| String::from(u.0)));
    let (uid, gid, extra) = resolve_user(rootfs, &user)?;

    let mut s = String::from(DEFAULT_SPEC);
    let args_ref: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
    swap(
        &mut s,
        "\"args\": [\n\t\t\t\"sh\"\n\t\t]",
        &format!("\"args\": {}", json_list(&args_ref, "\t\t")),
    )?;
    let env_ref: Vec<&str> = env.iter().map(|a| a.as_str()).collect();
    swap(
        &mut s,
        "\"env\": [\n\t\t\t\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\n\t\t\t\"TERM=xterm\"\n\t\t]",
        &format!("\"env\": {}", json_list(&env_ref, "\t\t")),
    )?;
    swap(&mut s, "\"cwd\": \"/\"", &format!("\"cwd\": {}", JsonStr(&cwd)))?;
    let mut u = format!("\"uid\": {uid},\n\t\t\t\"gid\": {gid}");
    if !extra.is_empty() {
        let g: Vec<String> = extra.iter().map(|g| format!("{g}")).collect();
        let _ = write!(u, ",\n\t\t\t\"additionalGids\": [{}]", g.join(", "));
    }
    swap(&mut s, "\"uid\": 0,\n\t\t\t\"gid\": 0", &u)?;
    swap(
        &mut s,
        "\"hostname\": \"mote\"",
        &format!("\"hostname\": {}", JsonStr(name)),
    )?;
    if o.host_network {
        swap(&mut s, "\t\t\t{\n\t\t\t\t\"type\": \"network\"\n\t\t\t},\n", "")?;
    }
    // Volumes: the image's as tmpfs, the workload's as said.
    let mut mounts = String::new();
    let mut vols: Vec<(String, String)> = o.volumes.clone();
    if let Some(k) = &c.volumes {
        for v in k.0.iter() {
            if !vols.iter().any(|(_, d)| d == v.0) {
                vols.push(("tmpfs".into(), String::from(v.0)));
            }
        }
    }
    for (src, dst) in &vols {
        if src == "tmpfs" {
            let _ = write!(
                mounts,
                ",\n\t\t{{\n\t\t\t\"destination\": {},\n\t\t\t\"type\": \"tmpfs\",\n\t\t\t\"source\": \"tmpfs\",\n\t\t\t\"options\": [\"nosuid\", \"nodev\", \"mode=1777\"]\n\t\t}}",
                JsonStr(dst)
            );
        } else {
            let _ = write!(
                mounts,
                ",\n\t\t{{\n\t\t\t\"destination\": {},\n\t\t\t\"type\": \"bind\",\n\t\t\t\"source\": {},\n\t\t\t\"options\": [\"rbind\", \"rw\", \"nosuid\", \"nodev\"]\n\t\t}}",
                JsonStr(dst),
                JsonStr(src)
            );
        }
    }
    let mut tail = mounts;
    tail.push_str("\n\t],\n");
    // Labels become annotations.
    if let Some(m) = c.labels.filter(|m| !m.is_empty()) {
        tail.push_str("\t\"annotations\": {");
        for (i, (k, v)) in pools.kvs[m.range()].iter().enumerate() {
            let _ = write!(
                tail,
                "{}\n\t\t{}: {}",
                if i > 0 { "," } else { "" },
                JsonStr(k.0),
                JsonStr(v.0)
            );
        }
        tail.push_str("\n\t},\n");
    }
    swap(&mut s, "\n\t],\n\t\"linux\": {", &format!("{tail}\t\"linux\": {{"))?;
    Ok(s)
}
