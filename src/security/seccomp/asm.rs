//! A classic BPF assembler with labels and long jumps.
//!
//! Code is emitted as a list of instructions whose jump targets are labels. Classic BPF jumps
//! only forward, and a conditional jump reaches at most 255 instructions (`jt`/`jf` are 8-bit);
//! [`Asm::finish`] resolves the labels and, where a conditional target is farther, inserts a
//! `ja` trampoline (32-bit offset) right after the jump and points the jump at it. Inserting
//! shifts later code, so this repeats until every jump fits; it ends because a jump aimed at its
//! own trampoline (offset 0 or 1) never needs another.

use crate::prelude::*;

use crate::error::Error;

// Instruction classes and fields (linux/bpf_common.h).
pub const LD_W_ABS: u16 = 0x20; // BPF_LD 0x00 | BPF_W 0x00 | BPF_ABS 0x20
pub const ALU_AND_K: u16 = 0x54; // BPF_ALU 0x04 | BPF_AND 0x50 | BPF_K 0x00
pub const JA: u16 = 0x05; // BPF_JMP 0x05 | BPF_JA 0x00
pub const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ 0x10 | BPF_K
pub const JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT 0x20 | BPF_K
pub const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE 0x30 | BPF_K
pub const RET_K: u16 = 0x06; // BPF_RET 0x06 | BPF_K

/// The kernel's limit on a filter's length (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

/// One `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

impl Insn {
    /// The 8 bytes the kernel reads (`struct sock_filter` in the machine's byte order).
    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0..2].copy_from_slice(&self.code.to_ne_bytes());
        b[2] = self.jt;
        b[3] = self.jf;
        b[4..8].copy_from_slice(&self.k.to_ne_bytes());
        b
    }
    pub fn from_bytes(b: [u8; 8]) -> Insn {
        Insn {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// A jump target, bound to a position with [`Asm::bind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label(u32);

#[derive(Clone, Copy, Debug)]
enum Item {
    /// An instruction without a target (ld, alu, ret).
    Op { code: u16, k: u32 },
    /// A conditional jump: `k` compared with the accumulator, then `jt` or `jf`.
    Jmp { code: u16, k: u32, jt: Label, jf: Label },
    /// An unconditional jump (32-bit offset).
    Ja(Label),
    /// The label of the next instruction.
    Bind(Label),
}

#[derive(Default)]
pub struct Asm {
    items: Vec<Item>,
    labels: u32,
}

/// Why assembling failed.
#[derive(Debug)]
pub enum AsmError {
    /// The program needs this many instructions, over [`MAX_INSNS`].
    TooLong(usize),
    /// A bug in the compiler: a label never bound, bound twice, or behind its jump.
    Internal(&'static str),
}

impl From<AsmError> for Error {
    fn from(e: AsmError) -> Error {
        match e {
            AsmError::TooLong(n) => crate::spec::validate::at(
                format_args!("linux.seccomp"),
                format_args!(
                    "the filter needs {n} BPF instructions, over the kernel's limit of {MAX_INSNS}: \
                     list fewer architectures or fewer rules with arguments"
                ),
            ),
            AsmError::Internal(what) => Error::failed("seccomp:").ctx(format_args!("internal error: {what}")),
        }
    }
}

impl Asm {
    pub fn new() -> Asm {
        Asm::default()
    }
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }
    /// Bind `l` to the next instruction emitted.
    pub fn bind(&mut self, l: Label) {
        self.items.push(Item::Bind(l));
    }
    /// `ld [off]`: load a 32-bit word of `struct seccomp_data`.
    pub fn load(&mut self, off: u32) {
        self.items.push(Item::Op { code: LD_W_ABS, k: off });
    }
    /// `and #k`.
    pub fn and(&mut self, k: u32) {
        self.items.push(Item::Op { code: ALU_AND_K, k });
    }
    /// `ret #k`.
    pub fn ret(&mut self, k: u32) {
        self.items.push(Item::Op { code: RET_K, k });
    }
    /// A conditional jump (`JEQ_K`, `JGT_K`, `JGE_K`).
    pub fn jump(&mut self, code: u16, k: u32, jt: Label, jf: Label) {
        self.items.push(Item::Jmp { code, k, jt, jf });
    }
    pub fn ja(&mut self, to: Label) {
        self.items.push(Item::Ja(to));
    }
    /// Instructions emitted so far (before any trampolines).
    pub fn len(&self) -> usize {
        self.items.iter().filter(|i| !matches!(i, Item::Bind(_))).count()
    }

    /// Each label's position (instruction index); None for unbound labels.
    fn positions(&self) -> Result<Vec<Option<usize>>, AsmError> {
        let mut pos = vec![None; self.labels as usize];
        let mut n = 0;
        for it in &self.items {
            match it {
                Item::Bind(l) => {
                    let slot = pos.get_mut(l.0 as usize).ok_or(AsmError::Internal("unknown label"))?;
                    if slot.is_some() {
                        return Err(AsmError::Internal("label bound twice"));
                    }
                    *slot = Some(n);
                }
                _ => n += 1,
            }
        }
        Ok(pos)
    }

    /// Resolve labels, add trampolines for far jumps, and encode.
    pub fn finish(mut self) -> Result<Vec<[u8; 8]>, AsmError> {
        loop {
            let n = self.len();
            if n > MAX_INSNS {
                return Err(AsmError::TooLong(n));
            }
            let pos = self.positions()?;
            let dist = |at: usize, l: Label| jump_distance(&pos, at, l);
            // Find the conditional jumps with a target out of reach.
            let mut far = Vec::new();
            let mut at = 0;
            for (i, it) in self.items.iter().enumerate() {
                match *it {
                    Item::Bind(_) => continue,
                    Item::Jmp { jt, jf, .. } => {
                        let (t, f) = (dist(at, jt)? > 255, dist(at, jf)? > 255);
                        if t || f {
                            far.push((i, t, f));
                        }
                    }
                    Item::Ja(l) => {
                        dist(at, l)?;
                    }
                    Item::Op { .. } => {}
                }
                at += 1;
            }
            if far.is_empty() {
                break;
            }
            // Rebuild with trampolines right after each far jump.
            let old = core::mem::take(&mut self.items);
            let mut far = far.into_iter().peekable();
            for (i, mut it) in old.into_iter().enumerate() {
                let Some(&(fi, t, f)) = far.peek() else {
                    self.items.push(it);
                    continue;
                };
                if fi != i {
                    self.items.push(it);
                    continue;
                }
                far.next();
                let mut tramps = Vec::new();
                if let Item::Jmp { jt, jf, .. } = &mut it {
                    if t {
                        let l = Label(self.labels);
                        self.labels += 1;
                        tramps.push((l, *jt));
                        *jt = l;
                    }
                    if f {
                        let l = Label(self.labels);
                        self.labels += 1;
                        tramps.push((l, *jf));
                        *jf = l;
                    }
                }
                self.items.push(it);
                for (l, to) in tramps {
                    self.items.push(Item::Bind(l));
                    self.items.push(Item::Ja(to));
                }
            }
        }
        self.encode()
    }

    fn encode(&self) -> Result<Vec<[u8; 8]>, AsmError> {
        let pos = self.positions()?;
        let target = |at: usize, l: Label| jump_distance(&pos, at, l);
        let mut out = Vec::with_capacity(self.len());
        for it in &self.items {
            let at = out.len();
            let insn = match *it {
                Item::Bind(_) => continue,
                Item::Op { code, k } => Insn { code, jt: 0, jf: 0, k },
                Item::Jmp { code, k, jt, jf } => Insn {
                    code,
                    jt: u8::try_from(target(at, jt)?).map_err(|_| AsmError::Internal("jump too far"))?,
                    jf: u8::try_from(target(at, jf)?).map_err(|_| AsmError::Internal("jump too far"))?,
                    k,
                },
                Item::Ja(l) => Insn {
                    code: JA,
                    jt: 0,
                    jf: 0,
                    k: u32::try_from(target(at, l)?).map_err(|_| AsmError::Internal("jump too far"))?,
                },
            };
            out.push(insn.to_bytes());
        }
        if out.len() > MAX_INSNS {
            return Err(AsmError::TooLong(out.len()));
        }
        match out.last().map(|b| Insn::from_bytes(*b).code) {
            Some(RET_K) => Ok(out),
            _ => Err(AsmError::Internal("the program does not end with ret")),
        }
    }
}

/// How far a jump at instruction `at` goes to reach label `l` (BPF jumps count from the next
/// instruction and only go forward), given the labels' positions.
fn jump_distance(pos: &[Option<usize>], at: usize, l: Label) -> Result<usize, AsmError> {
    let to = pos
        .get(l.0 as usize)
        .copied()
        .flatten()
        .ok_or(AsmError::Internal("unbound label"))?;
    to.checked_sub(at + 1).ok_or(AsmError::Internal("backward jump"))
}
