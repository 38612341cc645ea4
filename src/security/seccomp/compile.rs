//! `linux.seccomp` to a classic BPF program: see the module documentation (`mod.rs`) for the
//! layout and the rules this follows.

use crate::prelude::*;

use super::arch::{known_anywhere, Arch};
use super::asm::{Asm, Label, JEQ_K, JGE_K, JGT_K};
use super::*;
use crate::error::Error;
use crate::spec::json::Str;
use crate::spec::validate::{at, SECCOMP_ARCHES};
use crate::spec::{Config, Seccomp};
use core::fmt;

/// `offsetof(struct seccomp_data, nr)`.
const OFF_NR: u32 = 0;
/// `offsetof(struct seccomp_data, arch)`.
const OFF_ARCH: u32 = 4;
/// `offsetof(struct seccomp_data, args)`: six u64 follow.
const OFF_ARGS: u32 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "SCMP_CMP_NE" => Op::Ne,
            "SCMP_CMP_LT" => Op::Lt,
            "SCMP_CMP_LE" => Op::Le,
            "SCMP_CMP_EQ" => Op::Eq,
            "SCMP_CMP_GE" => Op::Ge,
            "SCMP_CMP_GT" => Op::Gt,
            "SCMP_CMP_MASKED_EQ" => Op::MaskedEq,
            _ => return None,
        })
    }
}

/// One argument condition as config.json gives it.
#[derive(Clone, Copy, Debug)]
struct Cond {
    arg: u8,
    op: Op,
    value: u64,
    value_two: u64,
}

/// A rule after runc's expansion: an action and conditions that must all hold (none: the rule
/// applies to every call of its system calls).
struct Rule<'c> {
    names: &'c [Str<'c>],
    action: u32,
    conds: Vec<Cond>,
}

/// A condition compiled for one ABI: on 32-bit ABIs the constants are already cut to 32 bits;
/// for MASKED_EQ `value` is the mask and `datum` the expected value, already masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cmp {
    arg: u8,
    op: Op,
    value: u64,
    datum: u64,
}

enum Folded {
    Always,
    Never,
    Cmp(Cmp),
}

/// Cut a condition to the ABI's argument width and decide the ones that do not depend on the
/// argument (GE 0, LT 0, LE max, GT max, a zero MASKED_EQ mask).
fn fold(c: &Cond, wide: bool) -> Folded {
    let max = if wide { u64::MAX } else { u64::from(u32::MAX) };
    let (value, two) = (c.value & max, c.value_two & max);
    match c.op {
        // (x & 0) == (datum & 0): libseccomp compares the datum masked, so this always holds.
        Op::MaskedEq if value == 0 => Folded::Always,
        Op::MaskedEq => Folded::Cmp(Cmp {
            arg: c.arg,
            op: c.op,
            value,
            datum: two & value,
        }),
        Op::Ge if value == 0 => Folded::Always,
        Op::Le if value == max => Folded::Always,
        Op::Lt if value == 0 => Folded::Never,
        Op::Gt if value == max => Folded::Never,
        op => Folded::Cmp(Cmp {
            arg: c.arg,
            op,
            value,
            datum: 0,
        }),
    }
}

/// The argument checks of one system call on one ABI: rules tried in order, the first whose
/// comparisons all hold returns its action; none does: the default action.
#[derive(PartialEq)]
struct Block {
    wide: bool,
    rules: Vec<(Vec<Cmp>, u32)>,
}

/// What a system call number leads to.
enum Outcome {
    Ret(u32),
    Block(Block),
}

/// Which rule applies where the profile gives several for one system call (libseccomp's
/// behaviour where it has one): a rule without conditions wins, the first one if there are
/// several; otherwise the conditional rules are tried in profile order.
fn outcome(rules: &[&Rule], wide: bool, default: u32) -> Outcome {
    if let Some(r) = rules.iter().find(|r| r.conds.is_empty()) {
        return Outcome::Ret(r.action);
    }
    let mut chain = Vec::new();
    'rules: for r in rules {
        let mut cmps = Vec::new();
        for c in &r.conds {
            match fold(c, wide) {
                Folded::Always => {}
                Folded::Never => continue 'rules,
                Folded::Cmp(x) => cmps.push(x),
            }
        }
        if chain.iter().any(|(c, _)| *c == cmps) {
            continue; // the same conditions earlier in the chain: never reached
        }
        let always = cmps.is_empty();
        chain.push((cmps, r.action));
        if always {
            break; // later rules cannot be reached
        }
    }
    match chain.first() {
        None => Outcome::Ret(default),
        Some((c, action)) if c.is_empty() => Outcome::Ret(*action),
        Some(_) => Outcome::Block(Block { wide, rules: chain }),
    }
}

/// The action value of a config.json action name (`rule`: the rule's index, None for the
/// default action), with runc's errno defaults.
fn action(name: &str, errno: Option<u32>, rule: Option<usize>) -> Result<u32, Error> {
    let data = |errno: Option<u32>| -> Result<u32, Error> {
        let e = errno.unwrap_or(libc::EPERM as u32);
        if e > RET_DATA {
            return Err(match rule {
                Some(i) => at(
                    format_args!("linux.seccomp.syscalls[{i}].errnoRet"),
                    format_args!("{e} does not fit the 16 bits seccomp returns"),
                ),
                None => at(
                    format_args!("linux.seccomp.defaultErrnoRet"),
                    format_args!("{e} does not fit the 16 bits seccomp returns"),
                ),
            });
        }
        Ok(e)
    };
    Ok(match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => RET_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS" => RET_KILL_PROCESS,
        "SCMP_ACT_TRAP" => RET_TRAP,
        "SCMP_ACT_ERRNO" => RET_ERRNO | data(errno)?,
        "SCMP_ACT_TRACE" => RET_TRACE | data(errno)?,
        "SCMP_ACT_ALLOW" => RET_ALLOW,
        "SCMP_ACT_LOG" => RET_LOG,
        "SCMP_ACT_NOTIFY" => RET_USER_NOTIF,
        _ => {
            let msg = format_args!("unknown action {:?}", name);
            return Err(match rule {
                Some(i) => at(format_args!("linux.seccomp.syscalls[{i}].action"), msg),
                None => at(format_args!("linux.seccomp.defaultAction"), msg),
            });
        }
    })
}

/// The filter flags config.json asks for.
fn requested_flags<'a>(cfg: &Config<'a>, sc: &Seccomp<'a>) -> Result<u32, Error> {
    let mut flags = 0;
    for (i, f) in cfg.strs(sc.flags).iter().enumerate() {
        flags |= match f.as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => FLAG_TSYNC,
            "SECCOMP_FILTER_FLAG_LOG" => FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => FLAG_SPEC_ALLOW,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => FLAG_WAIT_KILLABLE_RECV,
            other => {
                return Err(at(
                    format_args!("linux.seccomp.flags[{i}]"),
                    format_args!("unknown flag {other:?}"),
                ))
            }
        };
    }
    Ok(flags)
}

/// The ABIs the filter handles: the native one first, then the listed ones mote has tables for.
fn abis<'a>(
    cfg: &Config<'a>,
    sc: &Seccomp<'a>,
    native: Arch,
    warn: &mut dyn FnMut(fmt::Arguments),
) -> Result<Vec<Arch>, Error> {
    let mut out = vec![native];
    for (i, name) in cfg.strs(sc.architectures).iter().enumerate() {
        match Arch::from_scmp(name) {
            Some(a) if !out.contains(&a) => out.push(a),
            Some(_) => {}
            None if SECCOMP_ARCHES.contains(&name.as_str()) => warn(format_args!(
                "linux.seccomp.architectures[{i}]: mote has no system call table for {name}; \
                 its system calls get the bad-architecture action (KILL_PROCESS)"
            )),
            None => {
                return Err(at(
                    format_args!("linux.seccomp.architectures[{i}]"),
                    format_args!("unknown architecture {:?}", name.as_str()),
                ))
            }
        }
    }
    Ok(out)
}

/// The profile's rules, checked, with runc's changes: rules whose action is the default action
/// are dropped, and a rule with two conditions on the same argument becomes one rule per
/// condition. Warns about unknown system call names and about 64-bit values that 32-bit ABIs cut.
fn rules<'c, 'a>(
    cfg: &'c Config<'a>,
    sc: &Seccomp<'a>,
    default: u32,
    narrow: Option<Arch>,
    warn: &mut dyn FnMut(fmt::Arguments),
) -> Result<Vec<Rule<'c>>, Error> {
    let mut out = Vec::new();
    for (i, r) in cfg.items(sc.syscalls).iter().enumerate() {
        let act = action(&r.action, r.errno_ret, Some(i))?;
        let mut conds = Vec::new();
        for (j, a) in cfg.args(r.args).iter().enumerate() {
            let op = Op::parse(&a.op).ok_or_else(|| {
                at(
                    format_args!("linux.seccomp.syscalls[{i}].args[{j}].op"),
                    format_args!("unknown operator {:?}", a.op.as_str()),
                )
            })?;
            let arg = match u8::try_from(a.index) {
                Ok(n) if n <= 5 => n,
                _ => {
                    return Err(at(
                        format_args!("linux.seccomp.syscalls[{i}].args[{j}].index"),
                        format_args!("{} is out of range (system calls have arguments 0 to 5)", a.index),
                    ))
                }
            };
            conds.push(Cond {
                arg,
                op,
                value: a.value,
                value_two: a.value_two,
            });
        }
        if act == default {
            continue;
        }
        let names = cfg.strs(r.names);
        for (j, n) in names.iter().enumerate() {
            if !known_anywhere(n) {
                warn(format_args!(
                    "linux.seccomp.syscalls[{i}].names[{j}]: unknown system call {:?} skipped \
                     (not in mote's tables, Linux {} headers, for any architecture)",
                    n.as_str(),
                    super::tables::LINUX
                ));
            }
        }
        if let Some(arch) = narrow {
            for (j, c) in conds.iter().enumerate() {
                let two = if c.op == Op::MaskedEq {
                    Some(("valueTwo", c.value_two))
                } else {
                    None
                };
                for (field, v) in [("value", c.value)].into_iter().chain(two) {
                    if v > u64::from(u32::MAX) {
                        warn(format_args!(
                            "linux.seccomp.syscalls[{i}].args[{j}].{field}: {v:#x} has bits above the low 32; \
                             {} compares arguments as 32 bits, so only {:#x} is compared there (as libseccomp does)",
                            arch.scmp_name(),
                            v & u64::from(u32::MAX)
                        ));
                    }
                }
            }
        }
        let mut seen = [false; 6];
        let repeated = conds
            .iter()
            .any(|c| core::mem::replace(&mut seen[c.arg as usize], true));
        if repeated {
            for c in conds {
                out.push(Rule {
                    names,
                    action: act,
                    conds: vec![c],
                });
            }
        } else {
            out.push(Rule {
                names,
                action: act,
                conds,
            });
        }
    }
    Ok(out)
}

/// Compile `sc` (the config's `linux.seccomp`) for a process running as `native`.
///
/// `warn` receives the problems that do not stop the container, each naming its JSON path:
/// unknown system call names, architectures mote has no table for, 64-bit values cut to 32
/// bits on 32-bit ABIs, and a WAIT_KILLABLE_RECV flag without a NOTIFY action.
pub fn compile<'a>(
    cfg: &Config<'a>,
    sc: &Seccomp<'a>,
    native: Arch,
    warn: &mut dyn FnMut(fmt::Arguments),
) -> Result<Program, Error> {
    let default = action(&sc.default_action, sc.default_errno_ret, None)?;
    let requested = requested_flags(cfg, sc)?;
    let abis = abis(cfg, sc, native, warn)?;
    let narrow = abis.iter().copied().find(|a| !a.wide_args());
    let rules = rules(cfg, sc, default, narrow, warn)?;
    let notify = default == RET_USER_NOTIF
        || cfg
            .items(sc.syscalls)
            .iter()
            .any(|r| r.action.as_str() == "SCMP_ACT_NOTIFY");
    let flags = final_flags(requested, notify, warn);

    // The action for numbers the tables do not have: ENOSYS, unless the default lets calls
    // through (runc's list: ALLOW, LOG, TRACE).
    let unknown = match default {
        RET_ALLOW | RET_LOG => default,
        d if d & RET_ACTION_FULL == RET_TRACE => default,
        _ => RET_ERRNO | libc::ENOSYS as u32,
    };

    // One section per audit architecture, in the order of `abis` (native first).
    let mut sections: Vec<(u32, Vec<Arch>)> = Vec::new();
    for &a in &abis {
        match sections.iter_mut().find(|(audit, _)| *audit == a.audit()) {
            Some((_, v)) => v.push(a),
            None => sections.push((a.audit(), vec![a])),
        }
    }

    let mut asm = Asm::new();
    let labels = dispatch(&mut asm, &sections);
    for ((audit, members), label) in sections.iter().zip(labels) {
        asm.bind(label);
        section(&mut asm, *audit, members, &rules, default, unknown);
    }
    let insns = asm.finish()?;
    Ok(Program { insns, flags })
}

/// The flags to load with: NEW_LISTENER when NOTIFY is used (and TSYNC_ESRCH with TSYNC, which
/// the kernel requires for that pair, as libseccomp does); WAIT_KILLABLE_RECV only with a
/// listener (the kernel refuses it alone).
fn final_flags(mut flags: u32, notify: bool, warn: &mut dyn FnMut(fmt::Arguments)) -> u32 {
    if notify {
        flags |= FLAG_NEW_LISTENER;
        if flags & FLAG_TSYNC != 0 {
            flags |= FLAG_TSYNC_ESRCH;
        }
    } else if flags & FLAG_WAIT_KILLABLE_RECV != 0 {
        warn(format_args!(
            "linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored: no rule uses SCMP_ACT_NOTIFY"
        ));
        flags &= !FLAG_WAIT_KILLABLE_RECV;
    }
    flags
}

/// The dispatch on `seccomp_data.arch`: one `jeq` per section, then the bad-architecture `ret`.
/// Returns each section's label.
fn dispatch(asm: &mut Asm, sections: &[(u32, Vec<Arch>)]) -> Vec<Label> {
    asm.load(OFF_ARCH);
    let bad_arch = asm.label();
    let labels: Vec<Label> = sections.iter().map(|_| asm.label()).collect();
    for (i, ((audit, _), &to)) in sections.iter().zip(&labels).enumerate() {
        let last = i + 1 == sections.len();
        let next = if last { bad_arch } else { asm.label() };
        asm.jump(JEQ_K, *audit, to, next);
        if !last {
            asm.bind(next);
        }
    }
    asm.bind(bad_arch);
    asm.ret(RET_BAD_ARCH);
    labels
}

/// The code of one audit architecture: load the number, search its intervals, then the argument
/// blocks and the `ret`s.
fn section(asm: &mut Asm, audit: u32, members: &[Arch], rules: &[Rule], default: u32, unknown: u32) {
    let mut s = Section::default();
    let mut intervals = Vec::new();
    if audit == Arch::X86_64.audit() {
        // x86_64 below the x32 bit, x32 from it: one search over both.
        for a in [Arch::X86_64, Arch::X32] {
            if members.contains(&a) {
                s.intervals(asm, &mut intervals, a, rules, default, unknown);
            } else {
                let l = s.ret(asm, RET_BAD_ARCH);
                push(&mut intervals, a.base(), l);
            }
        }
    } else {
        for &a in members {
            s.intervals(asm, &mut intervals, a, rules, default, unknown);
        }
    }
    asm.load(OFF_NR);
    s.tree(asm, &intervals);
    s.finish(asm, default);
}

/// Add `[start, next start)` → `to` to a sorted list of intervals, merging with the last one when
/// it leads to the same place.
fn push(v: &mut Vec<(u32, Label)>, start: u32, to: Label) {
    if let Some(last) = v.last_mut() {
        if last.0 == start {
            last.1 = to;
            if v.len() >= 2 && v[v.len() - 2].1 == to {
                v.pop();
            }
            return;
        }
        if last.1 == to {
            return;
        }
    }
    v.push((start, to));
}

/// Insert into a sorted list without duplicates. (Sorting with the standard library would add
/// several kilobytes of code for lists this short.)
fn insert_sorted<T: Ord + Copy>(v: &mut Vec<T>, x: T) {
    let at = v.partition_point(|y| *y < x);
    if v.get(at) != Some(&x) {
        v.insert(at, x);
    }
}

/// The code of one audit architecture, apart from its search tree: the argument blocks and the
/// `ret` instructions the tree and blocks jump to (one per action value).
#[derive(Default)]
struct Section {
    rets: Vec<(u32, Label)>,
    blocks: Vec<(Block, Label)>,
}

impl Section {
    fn ret(&mut self, asm: &mut Asm, action: u32) -> Label {
        if let Some(&(_, l)) = self.rets.iter().find(|(a, _)| *a == action) {
            return l;
        }
        let l = asm.label();
        self.rets.push((action, l));
        l
    }

    fn block(&mut self, asm: &mut Asm, b: Block) -> Label {
        if let Some((_, l)) = self.blocks.iter().find(|(x, _)| *x == b) {
            return *l;
        }
        let l = asm.label();
        self.blocks.push((b, l));
        l
    }

    /// The intervals of one ABI's numbers: each number of its table leads to its rule's
    /// outcome (or the default action), numbers the table does not have to `unknown`.
    fn intervals(
        &mut self,
        asm: &mut Asm,
        out: &mut Vec<(u32, Label)>,
        arch: Arch,
        rules: &[Rule],
        default: u32,
        unknown: u32,
    ) {
        // (number, rule index) for each name of each rule; sorted, so each number's rules
        // stay in profile order.
        let mut named: Vec<(u32, usize)> = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            for nr in r.names.iter().filter_map(|n| arch.lookup(n)) {
                insert_sorted(&mut named, (nr, i));
            }
        }
        // As runc: numbers above the highest one the profile names on this ABI are newer than
        // the profile, and get `unknown` (ENOSYS) rather than the default action, so that a
        // program falls back to an older call (glibc's clone3 -> clone). No name, no cut.
        let newest = named.last().map(|&(n, _)| n);
        let mut nums = Vec::new();
        for nr in arch.numbers() {
            insert_sorted(&mut nums, nr);
        }
        let unknown_action = unknown;
        let unknown = self.ret(asm, unknown);
        push(out, arch.base(), unknown);
        let mut rest = &named[..];
        for nr in nums {
            let here = rest.iter().take_while(|(n, _)| *n <= nr).count();
            let (mine, tail) = rest.split_at(here);
            rest = tail;
            let mine: Vec<&Rule> = mine
                .iter()
                .filter(|(n, _)| *n == nr)
                .filter_map(|&(_, i)| rules.get(i))
                .collect();
            let to = if mine.is_empty() {
                self.ret(
                    asm,
                    if newest.is_some_and(|n| nr > n) {
                        unknown_action
                    } else {
                        default
                    },
                )
            } else {
                match outcome(&mine, arch.wide_args(), default) {
                    Outcome::Ret(a) => self.ret(asm, a),
                    Outcome::Block(b) => self.block(asm, b),
                }
            };
            push(out, nr, to);
            if let Some(next) = nr.checked_add(1) {
                push(out, next, unknown);
            }
        }
    }

    /// A balanced binary search over the interval starts: `jge start` nodes, the leaves are
    /// the labels of the intervals' code. Emitted in pre-order, so every jump goes forward.
    fn tree(&mut self, asm: &mut Asm, iv: &[(u32, Label)]) {
        if iv.len() <= 1 {
            let to = iv.first().map(|x| x.1).unwrap_or_else(|| self.ret(asm, RET_BAD_ARCH));
            asm.ja(to);
            return;
        }
        self.node(asm, iv);
    }

    fn node(&mut self, asm: &mut Asm, iv: &[(u32, Label)]) {
        let mid = iv.len() / 2;
        let (lo, hi) = iv.split_at(mid);
        let target = |asm: &mut Asm, part: &[(u32, Label)]| match part {
            [(_, l)] => *l,
            _ => asm.label(),
        };
        let Some(&(split, _)) = hi.first() else {
            return; // not reached: callers pass at least two intervals
        };
        let (lt, ht) = (target(asm, lo), target(asm, hi));
        asm.jump(JGE_K, split, ht, lt);
        if lo.len() > 1 {
            asm.bind(lt);
            self.node(asm, lo);
        }
        if hi.len() > 1 {
            asm.bind(ht);
            self.node(asm, hi);
        }
    }

    /// Emit the argument blocks, then the `ret`s.
    fn finish(mut self, asm: &mut Asm, default: u32) {
        for (b, label) in core::mem::take(&mut self.blocks) {
            asm.bind(label);
            let n = b.rules.len();
            for (k, (cmps, action)) in b.rules.iter().enumerate() {
                let last = k + 1 == n;
                let fail = if last { self.ret(asm, default) } else { asm.label() };
                let pass = self.ret(asm, *action);
                if cmps.is_empty() {
                    asm.ja(pass);
                }
                for (ci, c) in cmps.iter().enumerate() {
                    if ci + 1 == cmps.len() {
                        cmp(asm, c, b.wide, pass, fail);
                    } else {
                        let next = asm.label();
                        cmp(asm, c, b.wide, next, fail);
                        asm.bind(next);
                    }
                }
                if !last {
                    asm.bind(fail);
                }
            }
        }
        for (action, label) in self.rets {
            asm.bind(label);
            asm.ret(action);
        }
    }
}

/// The offsets of an argument's low and high 32-bit words in `struct seccomp_data`.
fn arg_words(arg: u8) -> (u32, u32) {
    let base = OFF_ARGS + 8 * u32::from(arg);
    if cfg!(target_endian = "little") {
        (base, base + 4)
    } else {
        (base + 4, base)
    }
}

/// One comparison: jump to `pass` if it holds, to `fail` if not.
///
/// 64-bit values are compared as two words, the high one first, as libseccomp does:
/// EQ/NE/MASKED_EQ need both words equal; GT/GE/LT/LE decide on the high word unless it is
/// equal, then on the low one. On 32-bit ABIs only the low word is loaded.
fn cmp(asm: &mut Asm, c: &Cmp, wide: bool, pass: Label, fail: Label) {
    let (lo_off, hi_off) = arg_words(c.arg);
    let (v_lo, v_hi) = (c.value as u32, (c.value >> 32) as u32);
    let (d_lo, d_hi) = (c.datum as u32, (c.datum >> 32) as u32);
    // The low-word test, reached when the high word did not decide.
    let low = |asm: &mut Asm| {
        asm.load(lo_off);
        match c.op {
            Op::Eq => asm.jump(JEQ_K, v_lo, pass, fail),
            Op::Ne => asm.jump(JEQ_K, v_lo, fail, pass),
            Op::Gt => asm.jump(JGT_K, v_lo, pass, fail),
            Op::Ge => asm.jump(JGE_K, v_lo, pass, fail),
            Op::Lt => asm.jump(JGE_K, v_lo, fail, pass),
            Op::Le => asm.jump(JGT_K, v_lo, fail, pass),
            Op::MaskedEq => {
                if v_lo != u32::MAX {
                    asm.and(v_lo);
                }
                asm.jump(JEQ_K, d_lo, pass, fail);
            }
        }
    };
    if !wide {
        low(asm);
        return;
    }
    let lo = asm.label();
    match c.op {
        Op::Eq => {
            asm.load(hi_off);
            asm.jump(JEQ_K, v_hi, lo, fail);
        }
        Op::Ne => {
            asm.load(hi_off);
            asm.jump(JEQ_K, v_hi, lo, pass);
        }
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            // Above the value's high word: GT/GE hold, LT/LE fail; below: the reverse.
            let (above, below) = if matches!(c.op, Op::Gt | Op::Ge) {
                (pass, fail)
            } else {
                (fail, pass)
            };
            asm.load(hi_off);
            if v_hi == 0 {
                asm.jump(JGT_K, 0, above, lo); // nothing is below 0
            } else if v_hi == u32::MAX {
                asm.jump(JEQ_K, u32::MAX, lo, below); // nothing is above
            } else {
                let eq = asm.label();
                asm.jump(JGT_K, v_hi, above, eq);
                asm.bind(eq);
                asm.jump(JEQ_K, v_hi, lo, below);
            }
        }
        Op::MaskedEq => {
            if v_lo == 0 {
                // The low word is masked out entirely: the high word decides.
                asm.load(hi_off);
                if v_hi != u32::MAX {
                    asm.and(v_hi);
                }
                asm.jump(JEQ_K, d_hi, pass, fail);
                return;
            }
            if v_hi != 0 {
                asm.load(hi_off);
                if v_hi != u32::MAX {
                    asm.and(v_hi);
                }
                asm.jump(JEQ_K, d_hi, lo, fail);
            }
        }
    }
    asm.bind(lo);
    low(asm);
}
