//! Tests: compile profiles, run the programs in the interpreter and compare with the expected
//! actions, and with a direct evaluation of the documented rules (`reference`).

use crate::prelude::*;

use super::arch::known_anywhere;
use super::interp::{self, Data, Run};
use super::*;
use crate::spec::{Config, Seccomp};

const ENOSYS: u32 = RET_ERRNO | 38;
const EPERM: u32 = RET_ERRNO | 1;

fn errno(e: u32) -> u32 {
    RET_ERRNO | e
}

/// Parse a config.json for the rest of the test run.
fn load(json: &str) -> &'static Config<'static> {
    let input: &'static [u8] = Box::leak(json.as_bytes().to_vec().into_boxed_slice());
    let arena: &'static mut [u8] = Box::leak(vec![0u8; input.len()].into_boxed_slice());
    match crate::spec::parse_config(input, arena) {
        Ok(c) => Box::leak(c),
        Err(e) => panic!("bad test config: {e:?}\n{}", json.get(..300).unwrap_or(json)),
    }
}

/// A config with this `linux.seccomp`.
fn with_seccomp(seccomp: &str) -> &'static Config<'static> {
    load(&format!(r#"{{"ociVersion":"1.2.0","linux":{{"seccomp":{seccomp}}}}}"#))
}

fn fixture(name: &str) -> &'static Config<'static> {
    let path = format!("{}/tests/fixtures/configs/{name}", env!("CARGO_MANIFEST_DIR"));
    load(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn seccomp(cfg: &'static Config<'static>) -> &'static Seccomp<'static> {
    cfg.spec
        .linux
        .as_ref()
        .and_then(|l| l.seccomp.as_ref())
        .expect("linux.seccomp")
}

/// Compile; returns the program and the warnings.
fn try_build(cfg: &'static Config<'static>, native: Arch) -> Result<(Program, Vec<String>), crate::error::Error> {
    let mut warnings = Vec::new();
    let p = compile(cfg, seccomp(cfg), native, &mut |a| warnings.push(a.to_string()))?;
    if let Err(e) = interp::check(p.insns()) {
        panic!(
            "the kernel would refuse the program: {e}\n{}",
            interp::disasm(p.insns())
        );
    }
    Ok((p, warnings))
}

fn build(cfg: &'static Config<'static>, native: Arch) -> (Program, Vec<String>) {
    try_build(cfg, native).unwrap_or_else(|e| panic!("compile: {e}"))
}

fn exec(p: &Program, d: &Data) -> Run {
    interp::run(p.insns(), d).unwrap_or_else(|e| panic!("run: {e}\n{}", interp::disasm(p.insns())))
}

fn nr(arch: Arch, name: &str) -> u32 {
    arch.lookup(name).unwrap_or_else(|| panic!("{name} on {arch:?}"))
}

/// The action for `name(args)` called as `arch`.
fn call(p: &Program, arch: Arch, name: &str, args: [u64; 6]) -> u32 {
    exec(p, &Data::new(arch.audit(), nr(arch, name), args)).ret
}

fn call0(p: &Program, arch: Arch, name: &str) -> u32 {
    call(p, arch, name, [0; 6])
}

fn a1(x: u64) -> [u64; 6] {
    [x, 0, 0, 0, 0, 0]
}

// ---------------------------------------------------------------------------------------------
// The reference: the documented rules, evaluated directly on a seccomp_data.

fn act(name: &str, errno: Option<u32>) -> u32 {
    let e = errno.unwrap_or(1);
    match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => RET_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS" => RET_KILL_PROCESS,
        "SCMP_ACT_TRAP" => RET_TRAP,
        "SCMP_ACT_ERRNO" => RET_ERRNO | e,
        "SCMP_ACT_TRACE" => RET_TRACE | e,
        "SCMP_ACT_ALLOW" => RET_ALLOW,
        "SCMP_ACT_LOG" => RET_LOG,
        "SCMP_ACT_NOTIFY" => RET_USER_NOTIF,
        _ => panic!("action {name}"),
    }
}

fn holds(op: &str, x: u64, v: u64, v2: u64) -> bool {
    match op {
        "SCMP_CMP_NE" => x != v,
        "SCMP_CMP_LT" => x < v,
        "SCMP_CMP_LE" => x <= v,
        "SCMP_CMP_EQ" => x == v,
        "SCMP_CMP_GE" => x >= v,
        "SCMP_CMP_GT" => x > v,
        "SCMP_CMP_MASKED_EQ" => x & v == v2 & v,
        _ => panic!("op {op}"),
    }
}

fn reference(cfg: &Config, sc: &Seccomp, native: Arch, d: &Data) -> u32 {
    let mut abis = vec![native];
    abis.extend(cfg.strs(sc.architectures).iter().filter_map(|a| Arch::from_scmp(a)));
    let abi = if d.arch == AUDIT_ARCH_X86_64 {
        if d.nr >= X32_SYSCALL_BIT {
            Arch::X32
        } else {
            Arch::X86_64
        }
    } else {
        match Arch::ALL.into_iter().find(|a| a.audit() == d.arch) {
            Some(a) => a,
            None => return RET_BAD_ARCH,
        }
    };
    if !abis.contains(&abi) {
        return RET_BAD_ARCH;
    }
    let default = act(&sc.default_action, sc.default_errno_ret);
    let unknown = match default {
        RET_ALLOW | RET_LOG => default,
        x if x & RET_ACTION_FULL == RET_TRACE => default,
        _ => ENOSYS,
    };
    if !abi.table().iter().any(|e| e.1 == d.nr) {
        return unknown;
    }
    // Above the highest number the profile's rules name on this ABI (rules with the default's
    // action are no rules): newer than the profile, ENOSYS as runc answers.
    let newest = cfg
        .items(sc.syscalls)
        .iter()
        .filter(|r| act(&r.action, r.errno_ret) != default)
        .flat_map(|r| cfg.strs(r.names).iter().filter_map(|n| abi.lookup(n)))
        .max();
    if newest.is_some_and(|m| d.nr > m) {
        return unknown;
    }
    // Rules naming this number, expanded as runc does.
    let mut rules: Vec<(u32, Vec<(u32, &str, u64, u64)>)> = Vec::new();
    for r in cfg.items(sc.syscalls) {
        let a = act(&r.action, r.errno_ret);
        if a == default || !cfg.strs(r.names).iter().any(|n| abi.lookup(n) == Some(d.nr)) {
            continue;
        }
        let conds: Vec<_> = cfg
            .args(r.args)
            .iter()
            .map(|c| (c.index, c.op.as_str(), c.value, c.value_two))
            .collect();
        let mut idx: Vec<u32> = conds.iter().map(|c| c.0).collect();
        idx.sort();
        idx.dedup();
        if idx.len() < conds.len() {
            rules.extend(conds.into_iter().map(|c| (a, vec![c])));
        } else {
            rules.push((a, conds));
        }
    }
    if let Some((a, _)) = rules.iter().find(|r| r.1.is_empty()) {
        return *a;
    }
    let narrow = |x: u64| if abi.wide_args() { x } else { x & 0xffff_ffff };
    for (a, conds) in &rules {
        let all = conds
            .iter()
            .all(|&(i, op, v, v2)| holds(op, narrow(d.args[i as usize]), narrow(v), narrow(v2)));
        if all {
            return *a;
        }
    }
    default
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'t, T>(&mut self, v: &'t [T]) -> &'t T {
        &v[self.below(v.len())]
    }
}

/// Argument values worth trying against `sc`: the rules' constants, their neighbours, the same
/// with high bits set, and extremes.
fn interesting_values(cfg: &Config, sc: &Seccomp) -> Vec<u64> {
    let mut v = vec![0, 1, u64::from(u32::MAX), 1 << 32, u64::MAX, 0x8000_0000_0000_0000];
    for r in cfg.items(sc.syscalls) {
        for c in cfg.args(r.args) {
            for x in [c.value, c.value_two, c.value & c.value_two, c.value | c.value_two] {
                v.extend([
                    x,
                    x.wrapping_add(1),
                    x.wrapping_sub(1),
                    x ^ (1 << 32),
                    x | 0xffff_ffff_0000_0000,
                ]);
                v.extend([x & 0xffff_ffff, (x & 0xffff_ffff).wrapping_add(1 << 32)]);
            }
        }
    }
    v.sort();
    v.dedup();
    v
}

/// Compare the program with the reference on every number of every listed ABI (and their
/// neighbours and extremes), with argument values from `interesting_values`.
fn check_against_reference(cfg: &'static Config<'static>, native: Arch, p: &Program, seed: u64, per_nr: usize) {
    let sc = seccomp(cfg);
    let values = interesting_values(cfg, sc);
    let mut rng = Rng(seed | 1);
    let audits = [
        AUDIT_ARCH_X86_64,
        AUDIT_ARCH_I386,
        AUDIT_ARCH_AARCH64,
        AUDIT_ARCH_ARM,
        0xdead_beef,
    ];
    for &audit in &audits {
        let mut nrs: Vec<u32> = vec![
            0,
            1,
            u32::MAX,
            X32_SYSCALL_BIT - 1,
            X32_SYSCALL_BIT,
            0x8000_0000,
            0xf0000,
        ];
        for a in Arch::ALL.into_iter().filter(|a| a.audit() == audit) {
            for &(_, n) in a.table() {
                nrs.extend([n, n.wrapping_add(1), n.wrapping_sub(1)]);
            }
            nrs.extend([a.max_nr() + 1, a.max_nr() + 100]);
        }
        nrs.sort();
        nrs.dedup();
        for &n in &nrs {
            for _ in 0..per_nr {
                let mut args = [0u64; 6];
                for a in &mut args {
                    *a = if rng.below(8) == 0 {
                        rng.next()
                    } else {
                        *rng.pick(&values)
                    };
                }
                let d = Data::new(audit, n, args);
                let want = reference(cfg, sc, native, &d);
                let got = exec(p, &d).ret;
                assert_eq!(
                    got,
                    want,
                    "arch {audit:#x} nr {n:#x} args {args:x?}: got {got:#x}, want {want:#x}\n{}",
                    interp::disasm(p.insns())
                );
            }
        }
    }
}

/// The average number of instructions run for these calls (each with zero arguments).
fn average_steps(p: &Program, arch: Arch, names: &[&str]) -> f64 {
    let total: usize = names
        .iter()
        .map(|n| exec(p, &Data::new(arch.audit(), nr(arch, n), [0; 6])).steps)
        .sum();
    total as f64 / names.len() as f64
}

// ---------------------------------------------------------------------------------------------
// Tables

#[test]
fn tables_are_sorted_and_agree_with_the_kernel_headers() {
    for a in Arch::ALL {
        let t = a.table();
        assert!(t.len() > 300, "{a:?}");
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "{a:?} not sorted by name");
        assert_eq!(t.iter().map(|e| e.1).max(), Some(a.max_nr()), "{a:?}");
        for (n, x) in t {
            assert_eq!(a.lookup(n), Some(*x));
            assert!(*x >= a.base(), "{a:?} {n}");
        }
        assert!(a.numbers().eq(t.iter().map(|e| e.1)), "{a:?}: packed numbers");
        assert_eq!(a.lookup("no_such_call"), None);
        assert_eq!(a.lookup("zzzz"), None);
        assert_eq!(a.lookup("_"), None);
        assert_eq!(a.lookup(""), None);
        assert_eq!(Arch::from_scmp(a.scmp_name()), Some(a));
    }
    assert_eq!(nr(Arch::X86_64, "read"), 0);
    assert_eq!(nr(Arch::X86_64, "openat"), 257);
    assert_eq!(nr(Arch::X86, "read"), 3);
    assert_eq!(nr(Arch::X86, "socketcall"), 102);
    assert_eq!(nr(Arch::X32, "read"), X32_SYSCALL_BIT);
    assert_eq!(nr(Arch::X32, "rt_sigaction"), X32_SYSCALL_BIT + 512);
    assert_eq!(nr(Arch::Aarch64, "read"), 63);
    assert_eq!(nr(Arch::Aarch64, "fstat"), 80);
    assert_eq!(Arch::Aarch64.lookup("open"), None);
    assert_eq!(nr(Arch::Arm, "read"), 3);
    assert_eq!(nr(Arch::Arm, "breakpoint"), 0xf0001);
    assert_eq!(nr(Arch::Arm, "cacheflush"), 0xf0002);
    assert_eq!(nr(Arch::Arm, "usr26"), 0xf0003);
    assert_eq!(nr(Arch::Arm, "usr32"), 0xf0004);
    assert_eq!(nr(Arch::Arm, "set_tls"), 0xf0005);
    assert_eq!(nr(Arch::Arm, "arm_fadvise64_64"), 270);
    assert_eq!(Arch::X86_64.max_nr(), 450);
    assert!(known_anywhere("open") && known_anywhere("cacheflush") && !known_anywhere("swapcontext"));
    assert_eq!(tables::LINUX, "6.1");
}

// ---------------------------------------------------------------------------------------------
// Actions and errno values

#[test]
fn default_actions() {
    let cases: [(&str, &str, u32); 11] = [
        ("SCMP_ACT_ALLOW", "", RET_ALLOW),
        ("SCMP_ACT_ERRNO", "", EPERM),
        ("SCMP_ACT_ERRNO", r#","defaultErrnoRet":38"#, ENOSYS),
        ("SCMP_ACT_ERRNO", r#","defaultErrnoRet":0"#, RET_ERRNO),
        ("SCMP_ACT_KILL", "", RET_KILL_THREAD),
        ("SCMP_ACT_KILL_THREAD", "", RET_KILL_THREAD),
        ("SCMP_ACT_KILL_PROCESS", "", RET_KILL_PROCESS),
        ("SCMP_ACT_TRAP", "", RET_TRAP),
        ("SCMP_ACT_TRACE", "", RET_TRACE | 1),
        ("SCMP_ACT_TRACE", r#","defaultErrnoRet":7"#, RET_TRACE | 7),
        ("SCMP_ACT_LOG", "", RET_LOG),
    ];
    for (action, extra, want) in cases {
        let cfg = with_seccomp(&format!(r#"{{"defaultAction":"{action}"{extra}}}"#));
        for native in Arch::ALL {
            let (p, w) = build(cfg, native);
            assert!(w.is_empty(), "{w:?}");
            assert_eq!(call0(&p, native, "getpid"), want, "{action}{extra} on {native:?}");
            assert_eq!(call0(&p, native, "read"), want, "{action}{extra} on {native:?}");
            assert_eq!(p.flags, 0);
        }
    }
    let cfg = with_seccomp(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#);
    let (p, _) = build(cfg, Arch::X86_64);
    assert_eq!(call0(&p, Arch::X86_64, "getpid"), RET_USER_NOTIF);
    assert_eq!(p.flags, FLAG_NEW_LISTENER);
}

#[test]
fn rule_actions_and_errno_values() {
    let cfg = with_seccomp(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":13,"syscalls":[
        {"names":["read"],"action":"SCMP_ACT_ALLOW"},
        {"names":["write"],"action":"SCMP_ACT_ERRNO"},
        {"names":["close"],"action":"SCMP_ACT_ERRNO","errnoRet":4095},
        {"names":["getpid"],"action":"SCMP_ACT_KILL"},
        {"names":["getppid"],"action":"SCMP_ACT_KILL_THREAD"},
        {"names":["getuid"],"action":"SCMP_ACT_KILL_PROCESS"},
        {"names":["getgid"],"action":"SCMP_ACT_TRAP"},
        {"names":["geteuid"],"action":"SCMP_ACT_TRACE"},
        {"names":["getegid"],"action":"SCMP_ACT_TRACE","errnoRet":1234},
        {"names":["gettid"],"action":"SCMP_ACT_LOG"},
        {"names":["getcwd"],"action":"SCMP_ACT_NOTIFY"},
        {"names":["getrandom"],"action":"SCMP_ACT_ALLOW","errnoRet":5}]}"#,
    );
    for native in Arch::ALL {
        let (p, w) = build(cfg, native);
        assert!(w.is_empty(), "{w:?}");
        let want = [
            ("read", RET_ALLOW),
            ("write", EPERM),
            ("close", errno(4095)),
            ("getpid", RET_KILL_THREAD),
            ("getppid", RET_KILL_THREAD),
            ("getuid", RET_KILL_PROCESS),
            ("getgid", RET_TRAP),
            ("geteuid", RET_TRACE | 1),
            ("getegid", RET_TRACE | 1234),
            ("gettid", RET_LOG),
            ("getcwd", RET_USER_NOTIF),
            ("getrandom", RET_ALLOW),
            ("fsync", errno(13)),
        ];
        for (name, action) in want {
            assert_eq!(call0(&p, native, name), action, "{name} on {native:?}");
        }
        assert!(p.has_listener());
        check_against_reference(cfg, native, &p, 1, 1);
    }
}

#[test]
fn precedence_follows_runc_and_libseccomp() {
    let cfg = with_seccomp(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
        {"names":["setns"],"action":"SCMP_ACT_ALLOW"},
        {"names":["setns"],"action":"SCMP_ACT_ERRNO","errnoRet":5},
        {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
        {"names":["personality"],"action":"SCMP_ACT_TRAP"},
        {"names":["getpid"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},
        {"names":["getpid"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_GE"}]},
        {"names":["getppid"],"action":"SCMP_ACT_ALLOW","args":[
            {"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},
        {"names":["getuid"],"action":"SCMP_ACT_ALLOW","args":[
            {"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":1,"value":2,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    let (p, _) = build(cfg, Arch::X86_64);
    let x = Arch::X86_64;
    // The first unconditional rule wins over later ones (libseccomp keeps the first).
    assert_eq!(call0(&p, x, "setns"), RET_ALLOW);
    // An unconditional rule wins over conditional ones, whatever the order.
    assert_eq!(call(&p, x, "personality", a1(0)), RET_TRAP);
    // The default action's rule (ERRNO EPERM here) is dropped, as runc does: so getpid(1) is
    // allowed by the second rule.
    assert_eq!(call(&p, x, "getpid", a1(1)), RET_ALLOW);
    assert_eq!(call(&p, x, "getpid", a1(0)), EPERM);
    // Two conditions on one argument: one rule each (ORed), as runc does.
    assert_eq!(call(&p, x, "getppid", a1(1)), RET_ALLOW);
    assert_eq!(call(&p, x, "getppid", a1(2)), RET_ALLOW);
    assert_eq!(call(&p, x, "getppid", a1(3)), EPERM);
    // Conditions on different arguments: ANDed.
    assert_eq!(call(&p, x, "getuid", [1, 2, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(call(&p, x, "getuid", [1, 3, 0, 0, 0, 0]), EPERM);
    assert_eq!(call(&p, x, "getuid", [0, 2, 0, 0, 0, 0]), EPERM);
    check_against_reference(cfg, x, &p, 2, 2);
}

#[test]
fn conditional_rules_are_tried_in_profile_order() {
    let cfg = with_seccomp(
        r#"{"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[
        {"names":["close"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":5,"op":"SCMP_CMP_GT"}]},
        {"names":["close"],"action":"SCMP_ACT_TRAP","args":[{"index":0,"value":3,"op":"SCMP_CMP_LT"}]},
        {"names":["close"],"action":"SCMP_ACT_LOG","args":[{"index":0,"value":4,"op":"SCMP_CMP_EQ"}]},
        {"names":["close"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":0,"op":"SCMP_CMP_GE"}]}]}"#,
    );
    for native in Arch::ALL {
        let (p, _) = build(cfg, native);
        for (fd, want) in [
            (0, RET_TRAP),
            (2, RET_TRAP),
            (3, EPERM),
            (4, RET_LOG),
            (5, EPERM),
            (6, RET_ALLOW),
        ] {
            assert_eq!(call(&p, native, "close", a1(fd)), want, "close({fd}) on {native:?}");
        }
        check_against_reference(cfg, native, &p, 3, 2);
    }
}

// ---------------------------------------------------------------------------------------------
// Arguments

fn one_op(op: &str, value: u64, value_two: u64) -> &'static Config<'static> {
    with_seccomp(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32",
        "SCMP_ARCH_AARCH64","SCMP_ARCH_ARM"],"syscalls":[{{"names":["dup"],"action":"SCMP_ACT_ALLOW",
        "args":[{{"index":2,"value":{value},"valueTwo":{value_two},"op":"{op}"}}]}}]}}"#
    ))
}

fn dup_arg2(p: &Program, arch: Arch, x: u64) -> bool {
    call(p, arch, "dup", [0, 0, x, 0, 0, 0]) == RET_ALLOW
}

#[test]
fn every_operator_on_64_bit_values() {
    const HI: u64 = 0x1_0000_0000;
    let v = HI + 5; // 0x1_0000_0005: high word 1, low word 5
    let probes = [
        0,
        4,
        5,
        6,
        HI,
        HI + 4,
        v,
        HI + 6,
        2 * HI + 5,
        5 | 0xffff_ffff_0000_0000,
        u64::MAX,
    ];
    let cases: [(&str, fn(u64) -> bool); 6] = [
        ("SCMP_CMP_NE", |x| x != HI + 5),
        ("SCMP_CMP_LT", |x| x < HI + 5),
        ("SCMP_CMP_LE", |x| x <= HI + 5),
        ("SCMP_CMP_EQ", |x| x == HI + 5),
        ("SCMP_CMP_GE", |x| x >= HI + 5),
        ("SCMP_CMP_GT", |x| x > HI + 5),
    ];
    for (op, f) in cases {
        let cfg = one_op(op, v, 0);
        for native in [Arch::X86_64, Arch::Aarch64] {
            let (p, _) = build(cfg, native);
            for x in probes {
                assert_eq!(dup_arg2(&p, native, x), f(x), "{op} {v:#x} with {x:#x} on {native:?}");
            }
            check_against_reference(cfg, native, &p, 4, 2);
        }
    }
    // Values whose high word is 0 or all ones take the shorter comparisons.
    for v in [5, 0xffff_ffff_0000_0005, 0, u64::MAX, 0xffff_ffff] {
        for op in [
            "SCMP_CMP_NE",
            "SCMP_CMP_LT",
            "SCMP_CMP_LE",
            "SCMP_CMP_EQ",
            "SCMP_CMP_GE",
            "SCMP_CMP_GT",
        ] {
            let cfg = one_op(op, v, 0);
            let (p, _) = build(cfg, Arch::X86_64);
            for x in [
                0,
                4,
                5,
                6,
                v,
                v.wrapping_add(1),
                v.wrapping_sub(1),
                HI + 5,
                u64::MAX,
                0xffff_ffff,
            ] {
                let want = holds(op, x, v, 0);
                assert_eq!(dup_arg2(&p, Arch::X86_64, x), want, "{op} {v:#x} with {x:#x}");
            }
        }
    }
}

#[test]
fn masked_eq_on_64_bit_values() {
    // mask 0xff00_0000_0000_00f0, expect 0x1200_0000_0000_0030
    let (mask, want) = (0xff00_0000_0000_00f0u64, 0x1200_0000_0000_0030u64);
    let cfg = one_op("SCMP_CMP_MASKED_EQ", mask, want);
    for native in [Arch::X86_64, Arch::Aarch64] {
        let (p, _) = build(cfg, native);
        assert!(dup_arg2(&p, native, 0x1200_0000_0000_0030));
        assert!(dup_arg2(&p, native, 0x12ab_cdef_0000_ff3f));
        assert!(!dup_arg2(&p, native, 0x1300_0000_0000_0030));
        assert!(!dup_arg2(&p, native, 0x1200_0000_0000_0040));
        assert!(!dup_arg2(&p, native, 0x30));
        check_against_reference(cfg, native, &p, 5, 2);
    }
    // Only the low word masked; only the high word masked; the datum's bits outside the mask
    // are ignored, as libseccomp does.
    for (mask, two) in [
        (0xf0, 0x30),
        (0xf0_0000_0000, 0x30_0000_0000),
        (0xf0, 0x1_0000_0030),
        (0, 7),
    ] {
        let cfg = one_op("SCMP_CMP_MASKED_EQ", mask, two);
        let (p, _) = build(cfg, Arch::X86_64);
        for x in [0u64, 0x30, 0x3f, 0x40, 0x30_0000_0000, 0x31_0000_0030, u64::MAX] {
            assert_eq!(
                dup_arg2(&p, Arch::X86_64, x),
                x & mask == two & mask,
                "{mask:#x} {two:#x} {x:#x}"
            );
        }
    }
}

#[test]
fn arguments_are_32_bits_on_arm_x86_and_x32() {
    // On 32-bit ABIs only the low word is loaded, and the rule's value is cut to 32 bits.
    let cfg = one_op("SCMP_CMP_EQ", 0x1_0000_0005, 0);
    let mut warnings = Vec::new();
    let p = compile(cfg, seccomp(cfg), Arch::Aarch64, &mut |a| warnings.push(a.to_string())).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("linux.seccomp.syscalls[0].args[0].value") && warnings[0].contains("only 0x5 is compared"),
        "{warnings:?}"
    );
    for arch in [Arch::Arm, Arch::X86, Arch::X32] {
        assert!(dup_arg2(&p, arch, 5), "{arch:?}");
        assert!(
            dup_arg2(&p, arch, 0x7_0000_0005),
            "{arch:?}: the high word is not looked at"
        );
        assert!(!dup_arg2(&p, arch, 0x1_0000_0006), "{arch:?}");
    }
    assert!(dup_arg2(&p, Arch::Aarch64, 0x1_0000_0005));
    assert!(!dup_arg2(&p, Arch::Aarch64, 5));
    for native in Arch::ALL {
        let (p, _) = build(cfg, native);
        check_against_reference(cfg, native, &p, 6, 2);
    }
    // Without a 32-bit ABI in the filter there is nothing to warn about.
    let cfg64 = with_seccomp(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["dup"],"action":"SCMP_ACT_ALLOW",
        "args":[{"index":0,"value":4294967296,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    assert!(build(cfg64, Arch::X86_64).1.is_empty());
    // Every operator on arm, with values that fit.
    for op in [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
    ] {
        for v in [0u64, 5, 0xffff_ffff] {
            let cfg = one_op(op, v, 0);
            let (p, _) = build(cfg, Arch::Arm);
            for x in [0u64, 4, 5, 6, 0xffff_fffe, 0xffff_ffff] {
                assert_eq!(dup_arg2(&p, Arch::Arm, x), holds(op, x, v, 0), "{op} {v} with {x}");
            }
        }
    }
    let cfg = one_op("SCMP_CMP_MASKED_EQ", 0xf0, 0x30);
    let (p, _) = build(cfg, Arch::Arm);
    assert!(dup_arg2(&p, Arch::Arm, 0x3f) && !dup_arg2(&p, Arch::Arm, 0x40));
}

#[test]
fn arguments_at_every_index() {
    for i in 0..6 {
        let cfg = with_seccomp(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{{"names":["mmap"],"action":"SCMP_ACT_ALLOW",
            "args":[{{"index":{i},"value":77,"op":"SCMP_CMP_EQ"}}]}}]}}"#
        ));
        for native in [Arch::X86_64, Arch::Aarch64] {
            let (p, _) = build(cfg, native);
            let mut args = [0; 6];
            assert_eq!(call(&p, native, "mmap", args), EPERM);
            args[i] = 77;
            assert_eq!(call(&p, native, "mmap", args), RET_ALLOW, "index {i} on {native:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Architectures

#[test]
fn architectures_not_listed_get_kill_process() {
    let cfg = with_seccomp(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    let (p, _) = build(cfg, Arch::X86_64);
    assert_eq!(call0(&p, Arch::X86_64, "getpid"), EPERM);
    assert_eq!(call0(&p, Arch::X86_64, "read"), RET_ALLOW);
    for arch in [Arch::X86, Arch::X32, Arch::Aarch64, Arch::Arm] {
        assert_eq!(call0(&p, arch, "read"), RET_KILL_PROCESS, "{arch:?}");
    }
    assert_eq!(exec(&p, &Data::new(0xdead_beef, 0, [0; 6])).ret, RET_KILL_PROCESS);
    // The native architecture is always handled, even when not listed.
    let cfg = with_seccomp(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_ARM"],
        "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    let (p, _) = build(cfg, Arch::Aarch64);
    assert_eq!(call0(&p, Arch::Aarch64, "getpid"), EPERM);
    assert_eq!(call0(&p, Arch::Arm, "getpid"), EPERM);
    assert_eq!(call0(&p, Arch::X86_64, "getpid"), RET_KILL_PROCESS);
    // Listed architectures mote has no table for are warned about and left out.
    let cfg = with_seccomp(r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_PPC64LE"]}"#);
    let (p, w) = build(cfg, Arch::X86_64);
    assert!(
        w.len() == 1 && w[0].contains("architectures[0]") && w[0].contains("SCMP_ARCH_PPC64LE"),
        "{w:?}"
    );
    assert_eq!(call0(&p, Arch::X86_64, "read"), RET_ALLOW);
}

#[test]
fn x32_and_x86_64_are_told_apart() {
    let cfg = with_seccomp(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
        "syscalls":[
        {"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
        {"names":["rt_sigaction"],"action":"SCMP_ACT_ERRNO","errnoRet":5},
        {"names":["ioctl"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":21505,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    let (p, _) = build(cfg, Arch::X86_64);
    let (x64, x32, x86) = (Arch::X86_64, Arch::X32, Arch::X86);
    for a in [x64, x32, x86] {
        assert_eq!(call0(&p, a, "read"), RET_ALLOW, "{a:?}");
        assert_eq!(call0(&p, a, "rt_sigaction"), errno(5), "{a:?}");
        assert_eq!(call(&p, a, "ioctl", [0, 21505, 0, 0, 0, 0]), RET_ALLOW, "{a:?}");
        assert_eq!(call(&p, a, "ioctl", [0, 21506, 0, 0, 0, 0]), EPERM, "{a:?}");
        assert_eq!(call0(&p, a, "close"), EPERM, "{a:?}");
    }
    // getpid (39) is above x86_64's highest named number (ioctl, 16): newer than the profile.
    assert_eq!(call0(&p, x64, "getpid"), ENOSYS);
    assert_eq!(call0(&p, x86, "getpid"), EPERM);
    // x86_64's rt_sigaction is 13; with the x32 bit it is not an x32 call (x32 uses 512).
    assert_eq!(exec(&p, &Data::new(AUDIT_ARCH_X86_64, 13, [0; 6])).ret, errno(5));
    assert_eq!(
        exec(&p, &Data::new(AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 13, [0; 6])).ret,
        ENOSYS
    );
    // On x32, arguments are compared on their low word.
    assert_eq!(call(&p, x32, "ioctl", [0, (1 << 40) | 21505, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(call(&p, x64, "ioctl", [0, (1 << 40) | 21505, 0, 0, 0, 0]), EPERM);
    check_against_reference(cfg, x64, &p, 7, 2);

    // x86_64 alone: x32 numbers get the bad-architecture action; x32 alone: the reverse.
    for (list, ok, bad) in [("SCMP_ARCH_X86_64", x64, x32), ("SCMP_ARCH_X32", x32, x64)] {
        let cfg = with_seccomp(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ERRNO","architectures":["{list}"],
            "syscalls":[{{"names":["read"],"action":"SCMP_ACT_ALLOW"}}]}}"#
        ));
        let (p, _) = build(cfg, Arch::Aarch64);
        assert_eq!(call0(&p, ok, "read"), RET_ALLOW);
        assert_eq!(call0(&p, bad, "read"), RET_KILL_PROCESS);
        assert_eq!(call0(&p, Arch::Aarch64, "read"), RET_ALLOW);
        check_against_reference(cfg, Arch::Aarch64, &p, 8, 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Names

#[test]
fn unknown_names_are_warned_about_and_skipped() {
    let cfg = with_seccomp(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_AARCH64","SCMP_ARCH_ARM"],
        "syscalls":[{"names":["read","no_such_call","open","cacheflush","arch_prctl"],"action":"SCMP_ACT_ALLOW"},
        {"names":["also_unknown"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    let (p, w) = build(cfg, Arch::Aarch64);
    // Only the name no table knows; `open`, `cacheflush` and `arch_prctl` exist elsewhere. The
    // second rule has the default action, so it is dropped before its names are looked at.
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("linux.seccomp.syscalls[0].names[1]") && w[0].contains("no_such_call"),
        "{w:?}"
    );
    assert_eq!(call0(&p, Arch::Aarch64, "read"), RET_ALLOW);
    assert_eq!(call0(&p, Arch::Arm, "read"), RET_ALLOW);
    assert_eq!(call0(&p, Arch::Arm, "open"), RET_ALLOW);
    assert_eq!(call0(&p, Arch::Arm, "cacheflush"), RET_ALLOW);
    assert_eq!(call0(&p, Arch::Aarch64, "openat"), EPERM);
    check_against_reference(cfg, Arch::Aarch64, &p, 9, 1);
}

// ---------------------------------------------------------------------------------------------
// ENOSYS

#[test]
fn numbers_the_tables_do_not_know_return_enosys() {
    let cfg = with_seccomp(
        r#"{"defaultAction":"SCMP_ACT_KILL_PROCESS","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86",
        "SCMP_ARCH_X32","SCMP_ARCH_AARCH64","SCMP_ARCH_ARM"],
        "syscalls":[{"names":["read","set_mempolicy_home_node"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let (p, _) = build(cfg, Arch::X86_64);
    let run = |audit: u32, n: u32| exec(&p, &Data::new(audit, n, [0; 6])).ret;
    for a in Arch::ALL {
        // Known to the table, not in the profile: the default action.
        assert_eq!(call0(&p, a, "getpid"), RET_KILL_PROCESS, "{a:?}");
        // Newer than the tables: ENOSYS, so the C library falls back.
        assert_eq!(run(a.audit(), a.max_nr() + 1), ENOSYS, "{a:?}");
        assert_eq!(run(a.audit(), a.max_nr() + 2), ENOSYS, "{a:?}");
    }
    // fchmodat2 (452) and cachestat (451) came after Linux 6.1.
    assert_eq!(run(AUDIT_ARCH_X86_64, 452), ENOSYS);
    assert_eq!(run(AUDIT_ARCH_AARCH64, 451), ENOSYS);
    assert_eq!(run(AUDIT_ARCH_ARM, 452), ENOSYS);
    assert_eq!(run(AUDIT_ARCH_X86_64, X32_SYSCALL_BIT + 452), ENOSYS);
    // Numbers the kernel never assigned: x86_64 skipped 335..423, aarch64 294..402.
    assert_eq!(run(AUDIT_ARCH_X86_64, 335), ENOSYS);
    assert_eq!(run(AUDIT_ARCH_AARCH64, 300), ENOSYS);
    // arm's private calls are known, but above the highest number the profile names (450):
    // ENOSYS as for any call newer than the profile; the numbers after them are not known.
    assert_eq!(call0(&p, Arch::Arm, "set_tls"), ENOSYS);
    assert_eq!(run(AUDIT_ARCH_ARM, 0xf0007), ENOSYS);
    assert_eq!(run(AUDIT_ARCH_ARM, 0xefffff), ENOSYS);
    assert_eq!(run(AUDIT_ARCH_ARM, u32::MAX), ENOSYS);
    check_against_reference(cfg, Arch::X86_64, &p, 10, 1);

    // Not when the default action lets calls through.
    for default in ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"] {
        let cfg = with_seccomp(&format!(
            r#"{{"defaultAction":"{default}","syscalls":[{{"names":["read"],"action":"SCMP_ACT_KILL"}}]}}"#
        ));
        let (p, _) = build(cfg, Arch::X86_64);
        let want = act(default, None);
        assert_eq!(
            exec(&p, &Data::new(AUDIT_ARCH_X86_64, 452, [0; 6])).ret,
            want,
            "{default}"
        );
        assert_eq!(
            exec(&p, &Data::new(AUDIT_ARCH_X86_64, 335, [0; 6])).ret,
            want,
            "{default}"
        );
        assert_eq!(call0(&p, Arch::X86_64, "read"), RET_KILL_THREAD);
    }
    // For the other defaults, ENOSYS applies, also to ERRNO with another errno and NOTIFY.
    for default in ["SCMP_ACT_ERRNO", "SCMP_ACT_TRAP", "SCMP_ACT_KILL", "SCMP_ACT_NOTIFY"] {
        let cfg = with_seccomp(&format!(r#"{{"defaultAction":"{default}"}}"#));
        let (p, _) = build(cfg, Arch::Arm);
        assert_eq!(
            exec(&p, &Data::new(AUDIT_ARCH_ARM, 452, [0; 6])).ret,
            ENOSYS,
            "{default}"
        );
        assert_eq!(call0(&p, Arch::Arm, "read"), act(default, None), "{default}");
    }
}

// ---------------------------------------------------------------------------------------------
// Flags

/// A profile older than the program: numbers above the highest one its rules name (per ABI)
/// answer ENOSYS, not the default action, so glibc falls back from clone3 to clone (runc's rule).
#[test]
fn calls_newer_than_the_profile_return_enosys() {
    let cfg = with_seccomp(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86",
        "SCMP_ARCH_AARCH64","SCMP_ARCH_ARM"],
        "syscalls":[{"names":["read","write","clone","exit_group","statx"],"action":"SCMP_ACT_ALLOW"},
        {"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    let (p, _) = build(cfg, Arch::X86_64);
    for a in [Arch::X86_64, Arch::X86, Arch::Aarch64, Arch::Arm] {
        assert_eq!(call0(&p, a, "statx"), RET_ALLOW, "{a:?}");
        assert_eq!(call0(&p, a, "clone3"), ENOSYS, "{a:?}");
        assert_eq!(call0(&p, a, "openat2"), ENOSYS, "{a:?}");
        assert_eq!(call0(&p, a, "pidfd_open"), ENOSYS, "{a:?}");
        // Older than statx and not named: the default action.
        assert_eq!(call0(&p, a, "getpid"), EPERM, "{a:?}");
    }
    check_against_reference(cfg, Arch::X86_64, &p, 12, 1);
    // With a permissive default nothing changes: newer calls are allowed.
    let cfg = with_seccomp(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["statx"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    let (p, _) = build(cfg, Arch::X86_64);
    assert_eq!(call0(&p, Arch::X86_64, "clone3"), RET_ALLOW);
    assert_eq!(call0(&p, Arch::X86_64, "statx"), EPERM);
}
#[test]
fn flags() {
    let flags = |list: &str, rule_action: &str| {
        let cfg = with_seccomp(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","flags":[{list}],
            "syscalls":[{{"names":["getpid"],"action":"{rule_action}"}}]}}"#
        ));
        let (p, w) = build(cfg, Arch::X86_64);
        (p.flags, w)
    };
    assert_eq!(flags("", "SCMP_ACT_ERRNO"), (0, vec![]));
    assert_eq!(flags(r#""SECCOMP_FILTER_FLAG_TSYNC""#, "SCMP_ACT_ERRNO").0, FLAG_TSYNC);
    assert_eq!(flags(r#""SECCOMP_FILTER_FLAG_LOG""#, "SCMP_ACT_ERRNO").0, FLAG_LOG);
    assert_eq!(
        flags(r#""SECCOMP_FILTER_FLAG_SPEC_ALLOW""#, "SCMP_ACT_ERRNO").0,
        FLAG_SPEC_ALLOW
    );
    assert_eq!(
        flags(
            r#""SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW""#,
            "SCMP_ACT_ERRNO"
        )
        .0,
        FLAG_LOG | FLAG_SPEC_ALLOW
    );
    // NOTIFY adds the listener; TSYNC with it needs TSYNC_ESRCH.
    assert_eq!(flags("", "SCMP_ACT_NOTIFY").0, FLAG_NEW_LISTENER);
    assert_eq!(
        flags(r#""SECCOMP_FILTER_FLAG_TSYNC""#, "SCMP_ACT_NOTIFY").0,
        FLAG_TSYNC | FLAG_NEW_LISTENER | FLAG_TSYNC_ESRCH
    );
    assert_eq!(
        flags(r#""SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV""#, "SCMP_ACT_NOTIFY").0,
        FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV
    );
    // WAIT_KILLABLE_RECV without a listener: dropped, with a warning.
    let (f, w) = flags(r#""SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV""#, "SCMP_ACT_ERRNO");
    assert_eq!(f, 0);
    assert!(w.len() == 1 && w[0].contains("WAIT_KILLABLE_RECV"), "{w:?}");
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn bad_profiles_are_errors_naming_the_json_path() {
    let cases = [
        (r#"{"defaultAction":"SCMP_ACT_NOPE"}"#, "linux.seccomp.defaultAction"),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":65536}"#,
            "linux.seccomp.defaultErrnoRet",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_Z80"]}"#,
            "linux.seccomp.architectures[0]",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","flags":["SECCOMP_FILTER_FLAG_NOPE"]}"#,
            "linux.seccomp.flags[0]",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},
            {"names":["read"],"action":"SCMP_ACT_MAYBE"}]}"#,
            "linux.seccomp.syscalls[1].action",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":70000}]}"#,
            "linux.seccomp.syscalls[0].errnoRet",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW",
            "args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
            "linux.seccomp.syscalls[0].args[1].index",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO",
            "args":[{"index":0,"value":1,"op":"SCMP_CMP_SORTA"}]}]}"#,
            "linux.seccomp.syscalls[0].args[0].op",
        ),
    ];
    for (sc, path) in cases {
        let cfg = with_seccomp(sc);
        let e = try_build(cfg, Arch::X86_64).expect_err(sc);
        assert_eq!(e.kind, crate::error::Kind::Input, "{e}");
        assert!(e.to_string().contains(path), "{e} should name {path}");
    }
}

/// A profile with `n` system calls of `arch` that each have a rule with arguments, for the
/// architectures `arches`.
fn many_arg_rules(arch: Arch, arches: &[Arch], n: usize, args_per_rule: usize) -> String {
    let mut names: Vec<&str> = arch.table().iter().map(|e| e.0).collect();
    names.truncate(n);
    let rules: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let conds: Vec<String> = (0..args_per_rule)
                .map(|j| {
                    format!(
                        r#"{{"index":{j},"value":{},"valueTwo":{},"op":"{}"}}"#,
                        (i as u64 + 1) << (8 * j),
                        i,
                        [
                            "SCMP_CMP_EQ",
                            "SCMP_CMP_GE",
                            "SCMP_CMP_MASKED_EQ",
                            "SCMP_CMP_LT",
                            "SCMP_CMP_NE"
                        ][(i + j) % 5]
                    )
                })
                .collect();
            let action = ["SCMP_ACT_ALLOW", "SCMP_ACT_TRAP", "SCMP_ACT_LOG"][i % 3];
            format!(
                r#"{{"names":["{name}"],"action":"{action}","args":[{}]}}"#,
                conds.join(",")
            )
        })
        .collect();
    let arches: Vec<String> = arches.iter().map(|a| format!("{:?}", a.scmp_name())).collect();
    format!(
        r#"{{"defaultAction":"SCMP_ACT_ERRNO","architectures":[{}],"syscalls":[{}]}}"#,
        arches.join(","),
        rules.join(",")
    )
}

#[test]
fn long_jumps_go_through_trampolines() {
    for arch in [Arch::X86_64, Arch::Arm] {
        let cfg = with_seccomp(&many_arg_rules(arch, &[arch], 120, 2));
        let (p, _) = build(cfg, arch);
        let ja = (0..p.len())
            .filter(|&i| p.insn(i).is_some_and(|x| x.code == 0x05))
            .count();
        assert!(p.len() > 600, "{arch:?}: {} instructions", p.len());
        assert!(ja > 0, "{arch:?}: no trampoline in a program of {}", p.len());
        check_against_reference(cfg, arch, &p, 11, 3);
    }
}

#[test]
fn programs_over_4096_instructions_are_refused() {
    let x86 = [Arch::X86_64, Arch::X86, Arch::X32];
    let cfg = with_seccomp(&many_arg_rules(Arch::X86_64, &x86, 250, 4));
    let e = try_build(cfg, Arch::X86_64).expect_err("too long");
    let s = e.to_string();
    assert!(s.contains("linux.seccomp") && s.contains("4096"), "{s}");
    assert_eq!(e.kind, crate::error::Kind::Input);
}

// ---------------------------------------------------------------------------------------------
// Real profiles

/// The calls of a busy program, for the cost figures.
const MIX: [&str; 5] = ["read", "write", "openat", "futex", "epoll_pwait"];

#[test]
fn podman_default_profile() {
    let cfg = fixture("podman-seccomp-default.json");
    let sc = seccomp(cfg);
    assert_eq!(&*sc.default_action, "SCMP_ACT_ERRNO");
    assert_eq!(sc.default_errno_ret, Some(38));
    for native in [Arch::X86_64, Arch::Aarch64, Arch::Arm] {
        let (p, w) = build(cfg, native);
        // swapcontext (ppc), syscall (mips), timerfd (old): in podman's list, in no table.
        assert_eq!(w.len(), 3, "{w:?}");
        let abis: &[Arch] = match native {
            Arch::X86_64 => &[Arch::X86_64, Arch::X86, Arch::X32],
            _ => &[native],
        };
        for &a in abis {
            for name in [
                "read",
                "write",
                "exit_group",
                "futex",
                "clone",
                "ptrace",
                "chroot",
                "mount",
            ] {
                assert_eq!(call0(&p, a, name), RET_ALLOW, "{name} on {a:?}");
            }
            for name in [
                "kexec_load",
                "open_by_handle_at",
                "bpf",
                "perf_event_open",
                "init_module",
                "acct",
            ] {
                assert_eq!(call0(&p, a, name), EPERM, "{name} on {a:?}");
            }
            // setns is in podman's allow list and in an ERRNO rule: the first wins, as with runc.
            assert_eq!(call0(&p, a, "setns"), RET_ALLOW, "setns on {a:?}");
            // personality: the five allowed values, anything else gets the default ENOSYS.
            for v in [0u64, 8, 0x20000, 0x20008, 0xffff_ffff] {
                assert_eq!(
                    call(&p, a, "personality", a1(v)),
                    RET_ALLOW,
                    "personality({v:#x}) on {a:?}"
                );
            }
            assert_eq!(call(&p, a, "personality", a1(1)), ENOSYS, "{a:?}");
            // socket(AF_NETLINK, _, NETLINK_AUDIT) is EINVAL; other sockets are allowed.
            assert_eq!(call(&p, a, "socket", [16, 3, 9, 0, 0, 0]), errno(22), "{a:?}");
            assert_eq!(call(&p, a, "socket", [2, 1, 0, 0, 0, 0]), RET_ALLOW, "{a:?}");
            assert_eq!(call(&p, a, "socket", [16, 3, 0, 0, 0, 0]), RET_ALLOW, "{a:?}");
            // Not in the profile: the default; newer than the tables: ENOSYS (the same here).
            assert_eq!(exec(&p, &Data::new(a.audit(), a.max_nr() + 1, [0; 6])).ret, ENOSYS);
        }
        if native == Arch::X86_64 {
            for a in [Arch::X86_64, Arch::X32] {
                assert_eq!(call0(&p, a, "arch_prctl"), RET_ALLOW);
                assert_eq!(call0(&p, a, "modify_ldt"), RET_ALLOW);
            }
            assert_eq!(call0(&p, Arch::X86, "ioperm"), EPERM);
        } else {
            // Only the x86 architectures are listed: arm on aarch64 is not.
            let other = if native == Arch::Arm { Arch::Aarch64 } else { Arch::Arm };
            assert_eq!(call0(&p, other, "read"), RET_KILL_PROCESS);
            assert_eq!(call0(&p, Arch::X86_64, "read"), RET_ALLOW);
        }
        check_against_reference(cfg, native, &p, 12, 2);
        let mix: Vec<&str> = MIX.iter().copied().filter(|n| native.lookup(n).is_some()).collect();
        eprintln!(
            "podman profile, native {native:?}: {} instructions, {:.1} run per call of {mix:?}",
            p.len(),
            average_steps(&p, native, &mix)
        );
    }
}

/// podman's profile as an arm64 host renders it: the same rules, architectures aarch64 and arm.
fn podman_on_arm64() -> &'static Config<'static> {
    let path = format!(
        "{}/tests/fixtures/configs/podman-seccomp-default.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["linux"]["seccomp"]["architectures"] = serde_json::json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    load(&v.to_string())
}

#[test]
fn podman_profile_as_rendered_on_arm64() {
    let cfg = podman_on_arm64();
    for native in [Arch::Aarch64, Arch::Arm] {
        let (p, _) = build(cfg, native);
        for a in [Arch::Aarch64, Arch::Arm] {
            assert_eq!(call0(&p, a, "read"), RET_ALLOW);
            assert_eq!(call(&p, a, "personality", a1(8)), RET_ALLOW);
            assert_eq!(
                call(&p, a, "personality", a1(0x1_0000_0008)),
                if a == Arch::Arm { RET_ALLOW } else { ENOSYS }
            );
            assert_eq!(call0(&p, a, "kexec_load"), EPERM);
        }
        assert_eq!(call0(&p, Arch::X86_64, "read"), RET_KILL_PROCESS);
        check_against_reference(cfg, native, &p, 13, 2);
        let mix: Vec<&str> = MIX.iter().copied().filter(|n| native.lookup(n).is_some()).collect();
        eprintln!(
            "podman profile [aarch64, arm], native {native:?}: {} instructions, {:.1} run per call of {mix:?}",
            p.len(),
            average_steps(&p, native, &mix)
        );
    }
}

#[test]
fn containerd_profile_denies_new_namespaces_with_masked_eq() {
    let cfg = fixture("containerd-ctr-run-seccomp.json");
    const CLONE_NEWUSER: u64 = 0x1000_0000;
    const CLONE_NEWNS: u64 = 0x0002_0000;
    const SIGCHLD: u64 = 17;
    const THREAD: u64 = 0x3d0f00; // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
    for native in [Arch::X86_64, Arch::Aarch64, Arch::Arm] {
        let (p, _) = build(cfg, native);
        let abis: &[Arch] = if native == Arch::X86_64 {
            &[Arch::X86_64, Arch::X86, Arch::X32]
        } else {
            &[native]
        };
        for &a in abis {
            assert_eq!(call(&p, a, "clone", a1(SIGCHLD)), RET_ALLOW, "{a:?}");
            assert_eq!(call(&p, a, "clone", a1(THREAD)), RET_ALLOW, "{a:?}");
            assert_eq!(call(&p, a, "clone", a1(SIGCHLD | CLONE_NEWUSER)), EPERM, "{a:?}");
            assert_eq!(call(&p, a, "clone", a1(SIGCHLD | CLONE_NEWNS)), EPERM, "{a:?}");
            // Bits above 32 are outside the mask: allowed on 64-bit ABIs too.
            assert_eq!(call(&p, a, "clone", a1(SIGCHLD | 1 << 40)), RET_ALLOW, "{a:?}");
            assert_eq!(call0(&p, a, "clone3"), ENOSYS, "{a:?}");
            assert_eq!(call0(&p, a, "read"), RET_ALLOW);
            assert_eq!(call0(&p, a, "mount"), EPERM);
        }
        check_against_reference(cfg, native, &p, 14, 2);
        eprintln!("containerd profile, native {native:?}: {} instructions", p.len());
    }
}

#[test]
fn every_fixture_with_seccomp_compiles_for_every_native_arch() {
    let dir = format!("{}/tests/fixtures/configs", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_name().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        if !name.ends_with(".json") || !name.contains("seccomp") || name.starts_with("containers-common") {
            continue;
        }
        let cfg = fixture(&name);
        if cfg.spec.linux.as_ref().and_then(|l| l.seccomp.as_ref()).is_none() {
            continue;
        }
        for native in [Arch::X86_64, Arch::Aarch64, Arch::Arm] {
            let (p, _) = build(cfg, native);
            check_against_reference(cfg, native, &p, 15, 1);
        }
        n += 1;
    }
    assert!(n >= 3, "{n} fixtures");
}

// ---------------------------------------------------------------------------------------------
// Random profiles

/// A random `linux.seccomp` from names of the tables (and some unknown), every operator and
/// action, values near powers of two and with high bits.
fn random_profile(rng: &mut Rng) -> String {
    let actions = [
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
    ];
    let ops = [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ];
    let arches = [
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM",
    ];
    // A small pool of names so that rules overlap.
    let mut pool: Vec<&str> = Vec::new();
    for _ in 0..12 {
        let t = rng.pick(&Arch::ALL).table();
        pool.push(rng.pick(t).0);
    }
    pool.push("not_a_call");
    let value = |rng: &mut Rng| -> u64 {
        match rng.below(6) {
            0 => rng.below(8) as u64,
            1 => 1u64 << rng.below(64),
            2 => (1u64 << rng.below(64)).wrapping_sub(1),
            3 => u64::MAX - rng.below(3) as u64,
            4 => rng.next(),
            _ => (rng.below(4) as u64) << 32 | rng.below(4) as u64,
        }
    };
    let errno = |rng: &mut Rng| {
        if rng.below(3) == 0 {
            String::new()
        } else {
            format!(r#","errnoRet":{}"#, rng.below(4))
        }
    };
    let mut rules = Vec::new();
    for _ in 0..rng.below(10) {
        let names: Vec<String> = (0..1 + rng.below(3))
            .map(|_| format!("{:?}", rng.pick(&pool)))
            .collect();
        let args: Vec<String> = (0..rng.below(4))
            .map(|_| {
                format!(
                    r#"{{"index":{},"value":{},"valueTwo":{},"op":"{}"}}"#,
                    rng.below(3),
                    value(rng),
                    value(rng),
                    rng.pick(&ops)
                )
            })
            .collect();
        rules.push(format!(
            r#"{{"names":[{}],"action":"{}"{},"args":[{}]}}"#,
            names.join(","),
            rng.pick(&actions),
            errno(rng),
            args.join(",")
        ));
    }
    let listed: Vec<String> = (0..rng.below(4)).map(|_| format!("{:?}", rng.pick(&arches))).collect();
    format!(
        r#"{{"defaultAction":"{}"{},"architectures":[{}],"syscalls":[{}]}}"#,
        rng.pick(&actions),
        errno(rng),
        listed.join(","),
        rules.join(",")
    )
}

#[test]
fn random_profiles_match_the_reference() {
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    for round in 0..150 {
        let text = random_profile(&mut rng);
        let cfg = with_seccomp(&text);
        let native = *rng.pick(&Arch::ALL);
        let (p, _) = build(cfg, native);
        let sc = seccomp(cfg);
        let values = interesting_values(cfg, sc);
        // Numbers: every name of the profile on every ABI, and their neighbours.
        let mut probes = Vec::new();
        for r in cfg.items(sc.syscalls) {
            for n in cfg.strs(r.names) {
                for a in Arch::ALL {
                    if let Some(x) = a.lookup(n) {
                        probes.extend([(a.audit(), x), (a.audit(), x + 1), (a.audit(), x.wrapping_sub(1))]);
                    }
                }
            }
        }
        for a in Arch::ALL {
            probes.extend([(a.audit(), a.max_nr() + 1), (a.audit(), nr(a, "read"))]);
        }
        for (audit, n) in probes {
            for _ in 0..12 {
                let args = [0; 6].map(|_: u64| *rng.pick(&values));
                let d = Data::new(audit, n, args);
                let (got, want) = (exec(&p, &d).ret, reference(cfg, sc, native, &d));
                assert_eq!(
                    got,
                    want,
                    "round {round} native {native:?} arch {audit:#x} nr {n:#x} args {args:x?}\n{text}\n{}",
                    interp::disasm(p.insns())
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Installing for real (x86_64: the machine the tests run on)

#[cfg(target_arch = "x86_64")]
mod kernel {
    use super::*;
    use crate::sys::proc::{exit_code, exit_now, fork, waitpid, Fork};

    /// Run `child` in a forked process and return its exit code. The child must not allocate
    /// (other test threads may hold the allocator's lock at fork time) nor panic.
    fn in_child(child: impl FnOnce() -> i32) -> i32 {
        match fork().expect("fork") {
            Fork::Child => exit_now(child()),
            Fork::Parent(pid) => exit_code(waitpid(pid, 0).expect("waitpid").1),
        }
    }

    fn no_new_privs() -> bool {
        crate::sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).is_ok()
    }

    #[test]
    fn install_enforces_the_filter() {
        // getppid fails with errno 42; getpriority(PRIO_PROCESS, 0) fails with 43, other
        // getpriority calls pass; an x86 (int 0x80) call would be killed.
        let cfg = with_seccomp(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"syscalls":[
            {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":42},
            {"names":["getpriority"],"action":"SCMP_ACT_ERRNO","errnoRet":43,
             "args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":1,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        let (p, _) = build(cfg, Arch::X86_64);
        let code = in_child(|| {
            if !no_new_privs() {
                return 10;
            }
            match install(&p) {
                Ok(None) => {}
                Ok(Some(_)) => return 11,
                Err(_) => return 12,
            }
            // getppid cannot fail, so the C library hands back the raw -42 without errno.
            if std::os::unix::process::parent_id() != (-42i32) as u32 {
                return 13;
            }
            match rustix::process::getpriority_process(None) {
                Err(e) if e.raw_os_error() == 43 => {}
                _ => return 14,
            }
            if rustix::process::getpriority_pgrp(None).is_err() {
                return 15;
            }
            0
        });
        assert_eq!(code, 0, "the child's check {code} failed");
    }

    #[test]
    fn install_returns_the_listener_for_notify() {
        let cfg = with_seccomp(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["acct"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        let (p, _) = build(cfg, Arch::X86_64);
        assert!(p.has_listener());
        let code = in_child(|| {
            if !no_new_privs() {
                return 10;
            }
            let fd = match install(&p) {
                Ok(Some(fd)) => fd,
                Ok(None) => return 11,
                Err(_) => return 12,
            };
            // The listener is an open, close-on-exec descriptor.
            match rustix::io::fcntl_getfd(&fd) {
                Ok(f) if f.contains(rustix::io::FdFlags::CLOEXEC) => 0,
                Ok(_) => 13,
                Err(_) => 14,
            }
        });
        assert_eq!(code, 0, "the child's check {code} failed");
    }

    #[test]
    fn install_accepts_podmans_profile() {
        // The kernel's checker takes the largest program (x86_64, x86, x32: trampolines and all).
        let cfg = fixture("podman-seccomp-default.json");
        let (p, _) = build(cfg, Arch::X86_64);
        let code = in_child(|| {
            if !no_new_privs() {
                return 10;
            }
            if install(&p).is_err() {
                return 11;
            }
            // getppid is allowed; personality(1) gets the default, ENOSYS.
            if std::os::unix::process::parent_id() == u32::MAX {
                return 12;
            }
            0
        });
        assert_eq!(code, 0, "the child's check {code} failed");
    }

    #[test]
    fn refused_flags_are_named() {
        // WAIT_KILLABLE_RECV without NEW_LISTENER: the kernel says EINVAL.
        let cfg = with_seccomp(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
        let (mut p, _) = build(cfg, Arch::X86_64);
        p.flags = FLAG_WAIT_KILLABLE_RECV;
        let code = in_child(|| match install(&p) {
            Err(e) if e.errno == Some(libc::EINVAL) => 0,
            Err(_) => 1,
            Ok(_) => 2,
        });
        assert_eq!(code, 0);
        let e = super::super::install::flags_error(FLAG_WAIT_KILLABLE_RECV | FLAG_NEW_LISTENER, Some((5, 10)));
        let s = e.to_string();
        assert!(
            s.contains("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs Linux 5.19"),
            "{s}"
        );
        assert!(!s.contains("NEW_LISTENER"), "{s}");
        assert!(s.contains("EINVAL"), "{s}");
        let s = super::super::install::flags_error(FLAG_LOG, Some((6, 1))).to_string();
        assert!(s.contains("SECCOMP_FILTER_FLAG_LOG"), "{s}");
    }
}
