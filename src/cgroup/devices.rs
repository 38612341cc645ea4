//! Device access rules: linux.resources.devices, applied with the v1 `devices` controller,
//! or on cgroup v2 with an eBPF program mote generates itself.
//!
//! The effective list is the config's rules in order, then the rules every container gets
//! (mknod of anything; the default devices, /dev/pts and /dev/ptmx), then an allow for each
//! linux.devices entry: what runc and crun do. On v1 the rules are written in that order to
//! devices.deny/devices.allow. On v2 they are first run through an emulation of the v1
//! controller's semantics (a default, allow or deny, and a list of exceptions that later
//! rules add to or remove from), and the resulting default plus exceptions becomes a
//! BPF_PROG_TYPE_CGROUP_DEVICE program: the same behaviour on both, as runc guarantees.

use crate::prelude::*;

use crate::error::{Error, Result, Step};
use crate::spec::Config;

pub const ACC_MKNOD: u8 = 1;
pub const ACC_READ: u8 = 2;
pub const ACC_WRITE: u8 = 4;
const ACC_ALL: u8 = 7;

/// One rule: type b, c or a (all); major/minor None for `*`; access bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub kind: u8,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
    pub allow: bool,
}

impl Rule {
    /// The line the v1 controller reads: `c 1:3 rwm`, `a`.
    pub fn v1_text(&self) -> String {
        if self.kind == b'a' {
            return "a".into();
        }
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        let mut acc = String::new();
        for (bit, c) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
            if self.access & bit != 0 {
                acc.push(c);
            }
        }
        format!("{} {}:{} {}", self.kind as char, n(self.major), n(self.minor), acc)
    }
}

const DEFAULT_ALLOWED: &[(u8, Option<u32>, Option<u32>)] = &[
    (b'c', None, None),
    (b'b', None, None),
    (b'c', Some(1), Some(3)),
    (b'c', Some(1), Some(5)),
    (b'c', Some(1), Some(7)),
    (b'c', Some(1), Some(8)),
    (b'c', Some(1), Some(9)),
    (b'c', Some(5), Some(0)),
    (b'c', Some(5), Some(1)),
    (b'c', Some(5), Some(2)),
    (b'c', Some(136), None),
];

fn parse_access(s: &str, i: usize) -> Result<u8> {
    let mut a = 0;
    for c in s.chars() {
        a |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => {
                return Err(crate::spec::validate::at(
                    format_args!("linux.resources.devices[{i}].access"),
                    format_args!("{s:?}: access is made of the letters r, w and m"),
                ))
            }
        };
    }
    Ok(if s.is_empty() { ACC_ALL } else { a })
}

/// The effective rule list of a config (see the module comment).
pub fn rules(cfg: &Config<'_>, r: &crate::spec::Resources<'_>) -> Result<Vec<Rule>> {
    let mut out = Vec::new();
    let num = |v: Option<i64>, what: &str, i: usize| -> Result<Option<u32>> {
        match v {
            None => Ok(None),
            Some(n) if n < 0 => Ok(None),
            Some(n) if n <= u32::MAX as i64 => Ok(Some(n as u32)),
            Some(n) => Err(crate::spec::validate::at(
                format_args!("linux.resources.devices[{i}].{what}"),
                format_args!("{n} is out of range"),
            )),
        }
    };
    {
        for (i, d) in cfg.items(r.devices).iter().enumerate() {
            let kind = match d.kind.map(|k| k.0).unwrap_or("a") {
                "a" => b'a',
                "b" => b'b',
                "c" => b'c',
                k => {
                    return Err(crate::spec::validate::at(
                        format_args!("linux.resources.devices[{i}].type"),
                        format_args!("{k:?} is not a device type (a, b or c)"),
                    ))
                }
            };
            out.push(Rule {
                kind,
                major: num(d.major, "major", i)?,
                minor: num(d.minor, "minor", i)?,
                access: parse_access(d.access.map(|a| a.0).unwrap_or("rwm"), i)?,
                allow: d.allow,
            });
        }
    }
    if out.is_empty() {
        // No device rules at all: nothing to restrict (runc leaves the cgroup's default).
        return Ok(out);
    }
    for &(kind, major, minor) in DEFAULT_ALLOWED {
        let access = if major.is_none() && minor.is_none() {
            ACC_MKNOD
        } else {
            ACC_ALL
        };
        out.push(Rule {
            kind,
            major,
            minor,
            access,
            allow: true,
        });
    }
    let devices = cfg.spec.linux.as_ref().map(|l| cfg.items(l.devices)).unwrap_or(&[]);
    for d in devices {
        let kind = match d.kind.0 {
            "b" => b'b',
            "p" => continue,
            _ => b'c',
        };
        out.push(Rule {
            kind,
            major: Some(d.major as u32),
            minor: Some(d.minor as u32),
            access: ACC_ALL,
            allow: true,
        });
    }
    Ok(out)
}

/// The v1 devices controller's behaviour: a default and a list of exceptions.
#[derive(Clone, Debug, Default)]
pub struct Emulator {
    pub default_allow: bool,
    pub exceptions: Vec<Rule>,
}

impl Emulator {
    /// A new cgroup allows everything (its parent's list aside).
    pub fn new() -> Emulator {
        Emulator {
            default_allow: true,
            exceptions: Vec::new(),
        }
    }

    /// Apply one rule as writing it to devices.allow or devices.deny would.
    pub fn apply(&mut self, r: &Rule) {
        if r.kind == b'a' {
            // "a" resets: allow all, or deny all, with no exceptions.
            self.default_allow = r.allow;
            self.exceptions.clear();
            return;
        }
        let same = |e: &Rule| e.kind == r.kind && e.major == r.major && e.minor == r.minor;
        if r.allow != self.default_allow {
            // An exception to the default: add it, merging the access with an identical one.
            if let Some(e) = self.exceptions.iter_mut().find(|e| same(e)) {
                e.access |= r.access;
            } else {
                let mut e = *r;
                e.allow = !self.default_allow;
                self.exceptions.push(e);
            }
        } else {
            // The same as the default: take the access away from an identical exception.
            for e in self.exceptions.iter_mut().filter(|e| same(e)) {
                e.access &= !r.access;
            }
            self.exceptions.retain(|e| e.access != 0);
        }
    }

    pub fn from_rules(rules: &[Rule]) -> Emulator {
        let mut e = Emulator::new();
        for r in rules {
            e.apply(r);
        }
        e
    }

    /// Would the controller allow this access?
    pub fn allows(&self, kind: u8, major: u32, minor: u32, access: u8) -> bool {
        let hit = self.exceptions.iter().any(|e| {
            e.kind == kind
                && e.major.is_none_or(|m| m == major)
                && e.minor.is_none_or(|m| m == minor)
                && access & !e.access == 0
        });
        hit != self.default_allow
    }
}

// --- eBPF ------------------------------------------------------------------------------------

/// One eBPF instruction: opcode, dst/src registers, offset, immediate.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let o = off.to_le_bytes();
    let i = imm.to_le_bytes();
    // The register byte is dst in the low nibble, src in the high one (little endian hosts;
    // mote's targets are all little endian).
    [code, (src << 4) | (dst & 0xf), o[0], o[1], i[0], i[1], i[2], i[3]]
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const AND32_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const RSH32_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const MOV32_K: u8 = 0xb4; // BPF_ALU | BPF_MOV | BPF_K
const MOV32_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JNE_X: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

/// The cgroup device program for an emulated rule set. It reads struct bpf_cgroup_dev_ctx
/// (access_type: type in the low 16 bits, access in the high 16; major; minor) into R2-R5,
/// then tests each exception in turn (a block that jumps to the next on any mismatch and
/// returns the exception's verdict), and ends with the default verdict.
pub fn program(e: &Emulator) -> Vec<[u8; 8]> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND32_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH32_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for r in &e.exceptions {
        let mut block: Vec<[u8; 8]> = Vec::new();
        // Offsets are patched once the block's length is known: each mismatch jumps past it.
        let ty = if r.kind == b'b' { DEV_BLOCK } else { DEV_CHAR };
        block.push(insn(JNE_K, 2, 0, 0, ty));
        if r.access != ACC_ALL {
            // Every requested access bit must be in the rule: (R3 & access) == R3.
            block.push(insn(MOV32_X, 1, 3, 0, 0));
            block.push(insn(AND32_K, 1, 0, 0, r.access as i32));
            block.push(insn(JNE_X, 1, 3, 0, 0));
        }
        if let Some(m) = r.major {
            block.push(insn(JNE_K, 4, 0, 0, m as i32));
        }
        if let Some(m) = r.minor {
            block.push(insn(JNE_K, 5, 0, 0, m as i32));
        }
        block.push(insn(MOV32_K, 0, 0, 0, r.allow as i32));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let n = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins[0] == JNE_K || ins[0] == JNE_X {
                // Jump to the first instruction after the block: offset from the next one.
                let off = (n - i - 1) as i16;
                ins[2..4].copy_from_slice(&off.to_le_bytes());
            }
        }
        p.extend(block);
    }
    p.push(insn(MOV32_K, 0, 0, 0, e.default_allow as i32));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

/// Load the program for `e` and attach it to the cgroup v2 directory `dir`, replacing a
/// device program mote attached before (update).
pub fn attach(dir: &str, e: &Emulator) -> Result<()> {
    use rustix::fd::AsRawFd;
    let prog = program(e);
    let mut log = vec![0u8; 4096];
    let fd = crate::sys::bpf_load_cgroup_device(&prog, c"Apache", &mut log).map_err(|errno| {
        let end = log.iter().position(|&b| b == 0).unwrap_or(0);
        let text = String::from_utf8_lossy(&log[..end.min(300)]).replace('\n', " ");
        Error::sys("load the eBPF device filter", errno).ctx(format_args!("({} instructions) {text}", prog.len()))
    })?;
    let cg = crate::sys::fs::open(dir, libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .step_ctx("open cgroup", format_args!("{dir}"))?;
    // A previous program of ours (there is at most one: the cgroup is mote's) is replaced.
    let old = crate::sys::bpf_query_cgroup_device(cg.as_raw_fd())
        .ok()
        .and_then(|ids| ids.first().copied())
        .and_then(|id| crate::sys::bpf_prog_fd_by_id(id).ok());
    crate::sys::bpf_attach_cgroup_device(cg.as_raw_fd(), fd.as_raw_fd(), old.as_ref().map(|o| o.as_raw_fd()))
        .step_ctx("attach the eBPF device filter", format_args!("to {dir}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal eBPF interpreter for the instructions `program` emits.
    fn run(p: &[[u8; 8]], kind: u8, access: u8, major: u32, minor: u32) -> u32 {
        let ty = if kind == b'b' { 1u32 } else { 2 };
        let ctx = [ty | ((access as u32) << 16), major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i[1] & 0xf) as usize, (i[1] >> 4) as usize);
            let off = i16::from_le_bytes([i[2], i[3]]) as isize;
            let imm = i32::from_le_bytes([i[4], i[5], i[6], i[7]]);
            pc += 1;
            match i[0] {
                LDX_W => r[dst] = ctx[off as usize / 4] as u64,
                AND32_K => r[dst] = (r[dst] as u32 & imm as u32) as u64,
                RSH32_K => r[dst] = ((r[dst] as u32) >> imm) as u64,
                MOV32_K => r[dst] = imm as u32 as u64,
                MOV32_X => r[dst] = r[src] as u32 as u64,
                JNE_K => {
                    if r[dst] != imm as u32 as u64 {
                        pc = (pc as isize + off) as usize
                    }
                }
                JNE_X => {
                    if r[dst] != r[src] {
                        pc = (pc as isize + off) as usize
                    }
                }
                EXIT => return r[0] as u32,
                op => panic!("unexpected opcode {op:#x}"),
            }
        }
    }

    fn rule(kind: u8, major: Option<u32>, minor: Option<u32>, access: u8, allow: bool) -> Rule {
        Rule {
            kind,
            major,
            minor,
            access,
            allow,
        }
    }

    /// The program and the emulator agree on a grid of accesses.
    fn agree(e: &Emulator) {
        let p = program(e);
        for kind in [b'c', b'b'] {
            for (ma, mi) in [(1, 3), (1, 5), (5, 2), (136, 4), (7, 0), (8, 0), (10, 200), (1, 9)] {
                for acc in 1..=7u8 {
                    assert_eq!(
                        run(&p, kind, acc, ma, mi) == 1,
                        e.allows(kind, ma, mi, acc),
                        "{} {ma}:{mi} acc {acc} {e:?}",
                        kind as char
                    );
                }
            }
        }
    }

    #[test]
    fn deny_all_then_defaults() {
        let mut rules = vec![rule(b'a', None, None, ACC_ALL, false)];
        for &(kind, major, minor) in DEFAULT_ALLOWED {
            let access = if major.is_none() && minor.is_none() {
                ACC_MKNOD
            } else {
                ACC_ALL
            };
            rules.push(rule(kind, major, minor, access, true));
        }
        let e = Emulator::from_rules(&rules);
        assert!(!e.default_allow);
        assert!(e.allows(b'c', 1, 3, ACC_READ | ACC_WRITE));
        assert!(e.allows(b'b', 8, 0, ACC_MKNOD), "mknod of anything");
        assert!(!e.allows(b'b', 8, 0, ACC_READ), "reading a disk");
        assert!(!e.allows(b'c', 10, 200, ACC_READ), "/dev/net/tun is not a default");
        assert!(e.allows(b'c', 136, 4, ACC_READ), "ptys");
        agree(&e);
    }

    #[test]
    fn later_rules_revoke_and_partial_access() {
        let rules = [
            rule(b'a', None, None, ACC_ALL, false),
            rule(b'c', Some(1), Some(3), ACC_ALL, true),
            rule(b'c', Some(1), Some(3), ACC_WRITE, false),
            rule(b'c', Some(1), None, ACC_READ, true),
        ];
        let e = Emulator::from_rules(&rules);
        assert!(e.allows(b'c', 1, 3, ACC_READ));
        assert!(!e.allows(b'c', 1, 3, ACC_WRITE));
        assert!(e.allows(b'c', 1, 9, ACC_READ));
        assert!(!e.allows(b'c', 1, 9, ACC_READ | ACC_WRITE));
        agree(&e);
    }

    #[test]
    fn allow_all_with_denials() {
        let rules = [
            rule(b'a', None, None, ACC_ALL, true),
            rule(b'b', Some(8), None, ACC_READ | ACC_WRITE, false),
        ];
        let e = Emulator::from_rules(&rules);
        assert!(e.default_allow);
        assert!(!e.allows(b'b', 8, 0, ACC_READ));
        assert!(e.allows(b'b', 8, 0, ACC_MKNOD));
        assert!(e.allows(b'c', 1, 3, ACC_ALL));
        agree(&e);
        // An allow that equals the default removes the exception.
        let mut e2 = e.clone();
        e2.apply(&rule(b'b', Some(8), None, ACC_ALL, true));
        assert!(e2.exceptions.is_empty());
        agree(&e2);
    }

    #[test]
    fn v1_lines() {
        assert_eq!(rule(b'c', Some(1), Some(3), ACC_ALL, true).v1_text(), "c 1:3 rwm");
        assert_eq!(rule(b'b', None, Some(0), ACC_READ, true).v1_text(), "b *:0 r");
        assert_eq!(rule(b'a', None, None, ACC_ALL, false).v1_text(), "a");
    }
}
