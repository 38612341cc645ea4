//! A classic BPF interpreter for the tests: runs a filter on a `struct seccomp_data` the way the
//! kernel does, counting the instructions executed, after the kernel's load-time checks.

use crate::prelude::*;

use super::asm::{Insn, MAX_INSNS};

/// `struct seccomp_data`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Data {
    pub nr: u32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl Data {
    pub fn new(arch: u32, nr: u32, args: [u64; 6]) -> Data {
        Data {
            nr,
            arch,
            instruction_pointer: 0x1000,
            args,
        }
    }
    /// The struct's 64 bytes, in the machine's byte order.
    fn bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0..4].copy_from_slice(&self.nr.to_ne_bytes());
        b[4..8].copy_from_slice(&self.arch.to_ne_bytes());
        b[8..16].copy_from_slice(&self.instruction_pointer.to_ne_bytes());
        for (i, a) in self.args.iter().enumerate() {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        b
    }
}

/// The result of a run: the filter's return value and how many instructions ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub ret: u32,
    pub steps: usize,
}

/// The kernel's checks at load time (bpf_check_classic + seccomp_check_filter), for the subset
/// seccomp allows: length, jumps in range, loads of aligned words of seccomp_data, a final ret.
pub fn check(prog: &[[u8; 8]]) -> Result<(), String> {
    if prog.is_empty() || prog.len() > MAX_INSNS {
        return Err(format!("length {}", prog.len()));
    }
    for (pc, b) in prog.iter().enumerate() {
        let i = Insn::from_bytes(*b);
        let rest = prog.len() - pc - 1;
        match i.code {
            0x20 => {
                if i.k % 4 != 0 || i.k >= 64 {
                    return Err(format!("{pc}: load of seccomp_data offset {}", i.k));
                }
            }
            0x05 => {
                if i.k as usize >= rest {
                    return Err(format!("{pc}: ja out of range"));
                }
            }
            0x15 | 0x25 | 0x35 | 0x45 | 0x1d | 0x2d | 0x3d | 0x4d => {
                if i.jt as usize >= rest || i.jf as usize >= rest {
                    return Err(format!("{pc}: jump out of range"));
                }
            }
            0x06 | 0x16 | 0x00 | 0x01 | 0x02 | 0x03 | 0x60 | 0x61 | 0x80 | 0x81 | 0x07 | 0x87 => {}
            c if c & 0x07 == 0x04 => {} // ALU
            c => return Err(format!("{pc}: opcode {c:#x} not allowed in seccomp")),
        }
    }
    match Insn::from_bytes(prog[prog.len() - 1]).code {
        0x06 | 0x16 => Ok(()),
        _ => Err("the last instruction is not ret".into()),
    }
}

/// Run `prog` on `d`. Errors for what the kernel would refuse or cannot happen in a checked
/// program (division by zero returns 0, as in the kernel).
pub fn run(prog: &[[u8; 8]], d: &Data) -> Result<Run, String> {
    check(prog)?;
    let data = d.bytes();
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    let mut steps = 0;
    loop {
        let i = Insn::from_bytes(*prog.get(pc).ok_or("ran off the end")?);
        steps += 1;
        pc += 1;
        let src = if i.code & 0x08 != 0 { x } else { i.k };
        match i.code & 0x07 {
            0x00 => match i.code {
                0x20 => {
                    let o = i.k as usize;
                    a = u32::from_ne_bytes(data[o..o + 4].try_into().map_err(|_| "load")?);
                }
                0x00 => a = i.k,                      // ld #k
                0x60 => a = mem[(i.k & 15) as usize], // ld M[k]
                0x80 => a = 64,                       // ld #len
                c => return Err(format!("ld {c:#x}")),
            },
            0x01 => match i.code {
                0x01 => x = i.k,
                0x61 => x = mem[(i.k & 15) as usize],
                0x81 => x = 64,
                c => return Err(format!("ldx {c:#x}")),
            },
            0x02 => mem[(i.k & 15) as usize] = a,
            0x03 => mem[(i.k & 15) as usize] = x,
            0x04 => {
                a = match i.code & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    0x30 => a.checked_div(src).unwrap_or(0),
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a.checked_shl(src).unwrap_or(0),
                    0x70 => a.checked_shr(src).unwrap_or(0),
                    0x80 => a.wrapping_neg(),
                    0x90 => a.checked_rem(src).unwrap_or(0),
                    0xa0 => a ^ src,
                    c => return Err(format!("alu {c:#x}")),
                }
            }
            0x05 => {
                if i.code == 0x05 {
                    pc = pc.checked_add(i.k as usize).ok_or("ja out of range")?;
                } else {
                    let taken = match i.code & 0xf0 {
                        0x10 => a == src,
                        0x20 => a > src,
                        0x30 => a >= src,
                        0x40 => a & src != 0,
                        c => return Err(format!("jmp {c:#x}")),
                    };
                    pc += if taken { i.jt } else { i.jf } as usize;
                }
            }
            0x06 => {
                let ret = if i.code & 0x18 == 0x10 { a } else { i.k };
                return Ok(Run { ret, steps });
            }
            0x07 => {
                if i.code & 0xf8 == 0x80 {
                    a = x; // txa
                } else {
                    x = a; // tax
                }
            }
            c => return Err(format!("class {c:#x}")),
        }
    }
}

/// A readable listing, for test failure messages.
pub fn disasm(prog: &[[u8; 8]]) -> String {
    let mut s = String::new();
    for (pc, b) in prog.iter().enumerate() {
        let i = Insn::from_bytes(*b);
        let t = |off: u8| pc + 1 + off as usize;
        let line = match i.code {
            0x20 => format!("ld [{}]", i.k),
            0x54 => format!("and #{:#x}", i.k),
            0x05 => format!("ja {}", pc + 1 + i.k as usize),
            0x15 => format!("jeq #{:#x}, {}, {}", i.k, t(i.jt), t(i.jf)),
            0x25 => format!("jgt #{:#x}, {}, {}", i.k, t(i.jt), t(i.jf)),
            0x35 => format!("jge #{:#x}, {}, {}", i.k, t(i.jt), t(i.jf)),
            0x45 => format!("jset #{:#x}, {}, {}", i.k, t(i.jt), t(i.jf)),
            0x06 => format!("ret #{:#x}", i.k),
            c => format!("op {c:#x} {} {} {:#x}", i.jt, i.jf, i.k),
        };
        s.push_str(&format!("{pc:4}: {line}\n"));
    }
    s
}
