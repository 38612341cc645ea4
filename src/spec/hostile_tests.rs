//! Hostile config.json inputs: each must be refused with an error that names the JSON path
//! and the problem, and none may panic.

use crate::prelude::*;

use super::limits;

fn parse_err(text: &[u8]) -> String {
    let mut arena = vec![0u8; text.len()];
    let out = match super::parse_config(text, &mut arena) {
        Ok(cfg) => match super::validate::validate(&cfg, &mut |_| {}) {
            Ok(()) => panic!("accepted: {}", String::from_utf8_lossy(&text[..text.len().min(200)])),
            Err(e) => e.to_string(),
        },
        Err(e) => e.to_string(),
    };
    out
}

/// BASE with a replacement, closed.
fn b(from: &str, to: &str) -> String {
    let mut s = BASE.replace(from, to);
    s.push('}');
    s
}

fn check(text: &str, want: &[&str]) {
    let e = parse_err(text.as_bytes());
    for w in want {
        assert!(
            e.contains(w),
            "input {:?}\nerror {e:?}\nmissing {w:?}",
            &text[..text.len().min(120)]
        );
    }
}

const BASE: &str = r#"{"ociVersion":"1.2.0","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"mount"}]}"#;

fn with(extra: &str) -> String {
    format!("{BASE},{extra}}}")
}

#[test]
fn wrong_types_name_the_path() {
    check(r#"{"process":{"args":"sh"}}"#, &["process.args", "expected an array"]);
    check(
        r#"{"process":{"user":{"uid":"0"}}}"#,
        &["process.user.uid", "expected an integer from 0 to 4294967295"],
    );
    check(
        r#"{"process":{"user":{"uid":-1}}}"#,
        &["process.user.uid", "0 to 4294967295"],
    );
    check(
        r#"{"process":{"terminal":1}}"#,
        &["process.terminal", "expected true or false"],
    );
    check(r#"{"mounts":{}}"#, &["mounts", "expected an array"]);
    check(r#"{"linux":[]}"#, &["linux", "expected an object"]);
    check(
        r#"{"linux":{"seccomp":{"syscalls":[{},{},{},{"names":["a","b","c","d","e","f","g",7]}]}}}"#,
        &["linux.seccomp.syscalls[3].names[7]", "expected a string"],
    );
    check(
        r#"{"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":1e400,"soft":1}]}}"#,
        &[
            "process.rlimits[0].hard",
            "expected an integer (no fraction or exponent)",
        ],
    );
    check(
        r#"{"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":99999999999999999999999,"soft":1}]}}"#,
        &["process.rlimits[0].hard"],
    );
    check(r#"{"annotations":{"a":1}}"#, &["annotations.a", "expected a string"]);
    check(
        r#"{"annotations":{"a.b/c":1}}"#,
        &["annotations.\"a.b/c\"", "expected a string"],
    );
}

#[test]
fn over_limit_lists_name_the_limit() {
    let mounts: Vec<String> = (0..=limits::MAX_MOUNTS)
        .map(|i| format!(r#"{{"destination":"/m{i}"}}"#))
        .collect();
    check(
        &format!(r#"{{"mounts":[{}]}}"#, mounts.join(",")),
        &[
            &format!("mounts[{}]", limits::MAX_MOUNTS),
            "MAX_MOUNTS",
            &format!("more than {}", limits::MAX_MOUNTS),
        ],
    );
    let rules: Vec<String> = (0..=limits::MAX_SECCOMP_RULES)
        .map(|_| r#"{"names":["read"],"action":"SCMP_ACT_ALLOW"}"#.to_string())
        .collect();
    check(
        &format!(
            r#"{{"linux":{{"seccomp":{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{}]}}}}}}"#,
            rules.join(",")
        ),
        &[
            &format!("linux.seccomp.syscalls[{}]", limits::MAX_SECCOMP_RULES),
            "MAX_SECCOMP_RULES",
        ],
    );
    let names: Vec<String> = (0..=limits::MAX_STRINGS).map(|i| format!("\"s{i}\"")).collect();
    check(
        &format!(r#"{{"process":{{"env":[{}]}}}}"#, names.join(",")),
        &[&format!("process.env[{}]", limits::MAX_STRINGS), "MAX_STRINGS"],
    );
    let gids: Vec<String> = (0..=limits::MAX_ADDITIONAL_GIDS).map(|i| i.to_string()).collect();
    check(
        &format!(r#"{{"process":{{"user":{{"additionalGids":[{}]}}}}}}"#, gids.join(",")),
        &["process.user.additionalGids[64]", "MAX_ADDITIONAL_GIDS"],
    );
    let kv: Vec<String> = (0..=limits::MAX_MAP_ENTRIES)
        .map(|i| format!(r#""k{i}":"v""#))
        .collect();
    check(
        &format!(r#"{{"annotations":{{{}}}}}"#, kv.join(",")),
        &["annotations.k512", "MAX_MAP_ENTRIES"],
    );
}

#[test]
fn strings_depth_and_bytes() {
    let long = "x".repeat(limits::MAX_STRING_BYTES + 1);
    check(
        &format!(r#"{{"process":{{"args":["{long}"]}}}}"#),
        &["process.args[0]", "MAX_STRING_BYTES"],
    );
    let deep = format!(r#"{{"unknownField":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    check(&deep, &["unknownField[0][0]", "nested deeper than 32"]);
    let deep_obj = format!(r#"{{"x":{}1{}}}"#, "{\"a\":".repeat(50_000), "}".repeat(50_000));
    check(&deep_obj, &["x.a.a", "nested deeper"]);
    check(r#"{"hostname":"a\u0000b"}"#, &["hostname", "NUL"]);
    check("{\"hostname\":\"a\0b\"}", &["hostname", "NUL"]);
    check("{\"hostname\":\"a\nb\"}", &["hostname", "control character"]);
    check(r#"{"hostname":"\ud800"}"#, &["hostname", "surrogate"]);
    let e = parse_err(b"{\"hostname\":\"\xff\xfe\"}");
    assert!(e.contains("UTF-8") && e.contains("line 1, column 14"), "{e}");
    check("", &["empty"]);
    check("   \n ", &["empty"]);
    check("[1,2]", &["must be a JSON object"]);
    check(r#"{"a":1}{"b":2}"#, &["trailing characters"]);
}

#[test]
fn truncations_of_a_real_config_never_panic() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs/podman-seccomp-default.json");
    let full = std::fs::read(path).unwrap();
    let mut cut = 0;
    while cut < full.len() - 1 {
        let e = parse_err(&full[..cut]);
        assert!(e.contains("line") || e.contains("empty"), "cut at {cut}: {e}");
        cut += 37;
    }
}

#[test]
fn byte_flips_never_panic() {
    // A deterministic mutation run over a real config; the cargo-fuzz target does more.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs/podman-default.json");
    let full = std::fs::read(path).unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..3000 {
        let mut m = full.clone();
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % m.len();
            m[i] = (x >> 32) as u8;
        }
        let mut arena = vec![0u8; m.len()];
        if let Ok(cfg) = super::parse_config(&m, &mut arena) {
            let _ = super::validate::validate(&cfg, &mut |_| {});
        };
    }
}

#[test]
fn enumerations_and_semantics() {
    check(
        &with(r#""hostname":"h""#).replace(r#""ociVersion":"1.2.0""#, r#""ociVersion":"2.0.0""#),
        &["ociVersion", "\"2.0.0\" is not supported"],
    );
    check(
        &with(r#""mounts":[{"destination":""}]"#),
        &["mounts[0].destination", "must not be empty"],
    );
    check(
        &b(r#"[{"type":"mount"}]"#, r#"[{"type":"mount"},{"type":"pidd"}]"#),
        &[
            "linux.namespaces[1].type",
            "\"pidd\" is not allowed",
            // The allowed names, in the namespace table's order (spec/namespaces.rs).
            "expected one of: user, pid, time, ipc, uts, network, cgroup, mount",
        ],
    );
    check(
        &b(r#"[{"type":"mount"}]"#, r#"[{"type":"mount"},{"type":"mount"}]"#),
        &["linux.namespaces[1].type", "given twice"],
    );
    check(&b(r#""cwd":"/""#, r#""cwd":"rel""#), &["process.cwd", "absolute"]);
    check(
        &b(r#""args":["sh"]"#, r#""args":["sh"],"env":["NOEQUALS"]"#),
        &["process.env[0]", "KEY=value"],
    );
    check(
        &b(
            r#""args":["sh"]"#,
            r#""args":["sh"],"rlimits":[{"type":"RLIMIT_NOPE","hard":1,"soft":1}]"#,
        ),
        &["process.rlimits[0].type", "RLIMIT_NOPE"],
    );
    check(
        &b(
            r#""args":["sh"]"#,
            r#""args":["sh"],"rlimits":[{"type":"RLIMIT_NOFILE","hard":1,"soft":2}]"#,
        ),
        &["process.rlimits[0]", "above the hard limit"],
    );
    check(
        &b(
            r#""namespaces""#,
            r#""seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]},"namespaces""#,
        ),
        &["linux.seccomp.syscalls[0].args[0].index", "0 to 5"],
    );
    check(
        &b(
            r#""namespaces""#,
            r#""seccomp":{"defaultAction":"SCMP_ACT_NOPE"},"namespaces""#,
        ),
        &["linux.seccomp.defaultAction", "SCMP_ACT_NOPE"],
    );
    check(
        &b(
            r#""namespaces""#,
            r#""uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"namespaces""#,
        ),
        &["linux.uidMappings", "no \"user\" namespace"],
    );
    check(
        &b(
            r#""namespaces""#,
            r#""devices":[{"type":"x","path":"/dev/x","major":1,"minor":1}],"namespaces""#,
        ),
        &["linux.devices[0].type", "\"x\" is not allowed"],
    );
}

#[test]
fn only_namespaced_sysctls() {
    let ns = |list: &str| BASE.replace(r#"[{"type":"mount"}]"#, list);
    let with_sysctl = |list: &str, k: &str| {
        let mut s = ns(list).replace(r#""namespaces""#, &format!(r#""sysctl":{{"{k}":"1"}},"namespaces""#));
        s.push('}');
        s
    };
    check(
        &with_sysctl(r#"[{"type":"mount"}]"#, "kernel.panic"),
        &["linux.sysctl.kernel.panic", "not in a kernel namespace"],
    );
    check(
        &with_sysctl(r#"[{"type":"mount"}]"#, "vm.swappiness"),
        &["linux.sysctl.vm.swappiness", "would change the host"],
    );
    check(
        &with_sysctl(r#"[{"type":"mount"}]"#, "net.ipv4.ip_forward"),
        &["needs the container's own network namespace"],
    );
    check(
        &with_sysctl(r#"[{"type":"mount"}]"#, "kernel.shmmax"),
        &["needs the container's own ipc namespace"],
    );
    for (list, k) in [
        (r#"[{"type":"mount"},{"type":"network"}]"#, "net.ipv4.ip_forward"),
        (r#"[{"type":"mount"},{"type":"network"}]"#, "net/ipv4/ping_group_range"),
        (r#"[{"type":"mount"},{"type":"ipc"}]"#, "kernel.shmmax"),
        (r#"[{"type":"mount"},{"type":"ipc"}]"#, "fs.mqueue.msg_max"),
        (r#"[{"type":"mount"},{"type":"uts"}]"#, "kernel.domainname"),
    ] {
        let text = with_sysctl(list, k);
        let mut arena = vec![0u8; text.len()];
        let cfg = super::parse_config(text.as_bytes(), &mut arena).unwrap();
        super::validate::validate(&cfg, &mut |_| {}).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
}

#[test]
fn escapes_are_decoded_and_unknown_fields_skipped() {
    let text = r#"{"ociVersion":"1.0.2-dev","x-future":{"a":[1,{"b":null}],"c":true},"process":{"args":["sh","-c","echo \"hi\" \\ \u00e9 \ud83d\ude00 \u003c\/"],"cwd":"/"},"annotations":{"k\"":"v\n"}}"#;
    let mut arena = vec![0u8; text.len()];
    let cfg = super::parse_config(text.as_bytes(), &mut arena).unwrap();
    let p = cfg.spec.process.as_ref().unwrap();
    let args: Vec<&str> = cfg.strs(p.args).iter().map(|s| s.0).collect();
    assert_eq!(args, ["sh", "-c", "echo \"hi\" \\ é 😀 </"]);
    assert_eq!(cfg.map(cfg.spec.annotations)[0].0 .0, "k\"");
    assert_eq!(cfg.map(cfg.spec.annotations)[0].1 .0, "v\n");
}

#[test]
fn model_is_small_enough_for_a_small_stack() {
    // The boxed config (model plus pools) is allocated once; the model alone moves through
    // the parser's stack frames.
    let model = core::mem::size_of::<super::Spec<'static>>();
    let whole = core::mem::size_of::<super::Config<'static>>();
    assert!(model < 64 * 1024, "Spec is {model} bytes");
    assert!(whole < 256 * 1024, "Config is {whole} bytes");
}

#[test]
fn print_model_sizes() {
    eprintln!(
        "Spec {} Process {} Linux {} Mount {} Seccomp {} Resources {} Pools {} Config {}",
        core::mem::size_of::<super::Spec<'static>>(),
        core::mem::size_of::<super::Process<'static>>(),
        core::mem::size_of::<super::Linux<'static>>(),
        core::mem::size_of::<super::Mount<'static>>(),
        core::mem::size_of::<super::Seccomp<'static>>(),
        core::mem::size_of::<super::Resources<'static>>(),
        core::mem::size_of::<super::json::Pools<'static>>(),
        core::mem::size_of::<super::Config<'static>>()
    );
}
