//! The architectures mote filters: their audit numbers, libseccomp names and system call tables.

use super::tables;

/// A system call ABI the filter can tell apart. x32 shares `AUDIT_ARCH_X86_64` with x86_64;
/// its system call numbers carry [`X32_SYSCALL_BIT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    X86_64,
    X86,
    X32,
    Aarch64,
    Arm,
}

/// `AUDIT_ARCH_X86_64` (EM_X86_64 | 64-bit | little-endian), for x86_64 and x32.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386`.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_AARCH64`.
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// `AUDIT_ARCH_ARM` (little-endian EABI).
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// The bit x32 system call numbers carry (`__X32_SYSCALL_BIT`).
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

impl Arch {
    /// Every architecture mote has a table for.
    pub const ALL: [Arch; 5] = [Arch::X86_64, Arch::X86, Arch::X32, Arch::Aarch64, Arch::Arm];

    /// The architecture mote itself is built for (the one the container's init runs as).
    pub fn native() -> Option<Arch> {
        if cfg!(all(target_arch = "x86_64", target_pointer_width = "64")) {
            Some(Arch::X86_64)
        } else if cfg!(all(target_arch = "x86_64", target_pointer_width = "32")) {
            Some(Arch::X32)
        } else if cfg!(target_arch = "x86") {
            Some(Arch::X86)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else if cfg!(target_arch = "arm") {
            Some(Arch::Arm)
        } else {
            None
        }
    }

    /// The name in config.json (`linux.seccomp.architectures`).
    pub fn scmp_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "SCMP_ARCH_X86_64",
            Arch::X86 => "SCMP_ARCH_X86",
            Arch::X32 => "SCMP_ARCH_X32",
            Arch::Aarch64 => "SCMP_ARCH_AARCH64",
            Arch::Arm => "SCMP_ARCH_ARM",
        }
    }

    /// The architecture for a config.json name; None for the ones mote has no table for.
    pub fn from_scmp(name: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.scmp_name() == name)
    }

    /// `seccomp_data.arch` for this ABI.
    pub fn audit(self) -> u32 {
        match self {
            Arch::X86_64 | Arch::X32 => AUDIT_ARCH_X86_64,
            Arch::X86 => AUDIT_ARCH_I386,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
            Arch::Arm => AUDIT_ARCH_ARM,
        }
    }

    /// Whether arguments are compared as 64-bit values (two 32-bit words). On arm, x86 and
    /// x32 only the low word is compared, as libseccomp does (its 32-bit architectures).
    pub fn wide_args(self) -> bool {
        matches!(self, Arch::X86_64 | Arch::Aarch64)
    }

    /// The name → number table as generated, sorted by name. Only for tests: it is made of
    /// pointers (and, in a static-pie, relocations); the filter compiler uses the packed form.
    #[cfg(test)]
    pub fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Arch::X86_64 => tables::x86_64::SYSCALLS,
            Arch::X86 => tables::x86::SYSCALLS,
            Arch::X32 => tables::x32::SYSCALLS,
            Arch::Aarch64 => tables::aarch64::SYSCALLS,
            Arch::Arm => tables::arm::SYSCALLS,
        }
    }

    /// This architecture's row in the packed tables (the order of [`TABLES`]).
    fn row(self) -> usize {
        match self {
            Arch::X86_64 => 0,
            Arch::X86 => 1,
            Arch::X32 => 2,
            Arch::Aarch64 => 3,
            Arch::Arm => 4,
        }
    }

    /// The highest system call number the table knows.
    pub fn max_nr(self) -> u32 {
        match self {
            Arch::X86_64 => tables::x86_64::MAX,
            Arch::X86 => tables::x86::MAX,
            Arch::X32 => tables::x32::MAX,
            Arch::Aarch64 => tables::aarch64::MAX,
            Arch::Arm => tables::arm::MAX,
        }
    }

    /// The number of a system call on this architecture.
    pub fn lookup(self, name: &str) -> Option<u32> {
        let i = PACKED.find(name.as_bytes())?;
        let nr = *PACKED.nrs.get(self.row())?.get(i)?;
        (nr != NONE).then_some(nr)
    }

    /// Every number the table knows (in name order, with aliases repeated).
    pub fn numbers(self) -> impl Iterator<Item = u32> {
        let row: &'static [u32] = PACKED.nrs.get(self.row()).map_or(&[], |r| &r[..]);
        row.iter().copied().filter(|&n| n != NONE)
    }

    /// The lowest number of this ABI (x32 numbers start at the x32 bit).
    pub fn base(self) -> u32 {
        if self == Arch::X32 {
            X32_SYSCALL_BIT
        } else {
            0
        }
    }
}

/// Whether any table knows `name` (names no table knows are warned about).
pub fn known_anywhere(name: &str) -> bool {
    Arch::ALL.into_iter().any(|a| a.lookup(name).is_some())
}

// ---------------------------------------------------------------------------------------------
// The tables, packed at build time.
//
// The generated tables are `&[(&str, u32)]`: 24 bytes of pointer and length per entry, and in a
// static-pie one relocation (24 more bytes) per name. [`pack`] merges the five into arrays
// without pointers in a constant evaluation: every name once (most names exist on several
// architectures), end to end, each name's end offset, and per architecture each name's number
// or [`NONE`]. Only those reach the binary: 17 KB where five separate packed tables took 28.

/// The generated tables, in the order of [`Arch::row`].
const TABLES: [&[(&str, u32)]; 5] = [
    tables::x86_64::SYSCALLS,
    tables::x86::SYSCALLS,
    tables::x32::SYSCALLS,
    tables::aarch64::SYSCALLS,
    tables::arm::SYSCALLS,
];

/// "No such system call on this architecture" in [`Packed::nrs`].
const NONE: u32 = u32::MAX;

struct Packed<const B: usize, const N: usize> {
    names: [u8; B],
    ends: [u16; N],
    nrs: [[u32; N]; 5],
}

static PACKED: Packed<{ union_names_len() }, { union_len() }> = pack();

/// Bytewise order of two names, in a constant evaluation.
const fn cmp(a: &[u8], b: &[u8]) -> i32 {
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return if a[i] < b[i] { -1 } else { 1 };
        }
        i += 1;
    }
    if a.len() == b.len() {
        0
    } else if a.len() < b.len() {
        -1
    } else {
        1
    }
}

/// Merges the sorted tables (one cursor each, advanced past the smallest name), filling a
/// `Packed` as far as its capacity goes; returns it with the number of distinct names and
/// their total length, which a first call with zero capacity computes.
const fn merge<const B: usize, const N: usize>() -> (Packed<B, N>, usize, usize) {
    let mut p = Packed {
        names: [0; B],
        ends: [0; N],
        nrs: [[NONE; N]; 5],
    };
    let mut cursor = [0usize; 5];
    let (mut count, mut at) = (0, 0);
    loop {
        // The smallest name under the cursors.
        let mut min: Option<&[u8]> = None;
        let mut t = 0;
        while t < TABLES.len() {
            if cursor[t] < TABLES[t].len() {
                let n = TABLES[t][cursor[t]].0.as_bytes();
                min = match min {
                    Some(m) if cmp(m, n) <= 0 => Some(m),
                    _ => Some(n),
                };
            }
            t += 1;
        }
        let Some(name) = min else { break };
        if count < N {
            let mut j = 0;
            while j < name.len() {
                p.names[at + j] = name[j];
                j += 1;
            }
            assert!(at + name.len() <= u16::MAX as usize, "names too long for u16 offsets");
            p.ends[count] = (at + name.len()) as u16;
        }
        // Every table holding this name gives its number and moves on.
        let mut t = 0;
        while t < TABLES.len() {
            if cursor[t] < TABLES[t].len() && cmp(TABLES[t][cursor[t]].0.as_bytes(), name) == 0 {
                let nr = TABLES[t][cursor[t]].1;
                assert!(nr != NONE, "a system call number collides with NONE");
                if count < N {
                    p.nrs[t][count] = nr;
                }
                cursor[t] += 1;
            }
            t += 1;
        }
        count += 1;
        at += name.len();
    }
    (p, count, at)
}

/// The number of distinct names.
const fn union_len() -> usize {
    merge::<0, 0>().1
}

/// The total length of the distinct names.
const fn union_names_len() -> usize {
    merge::<0, 0>().2
}

const fn pack<const B: usize, const N: usize>() -> Packed<B, N> {
    let (p, count, at) = merge::<B, N>();
    assert!(count == N && at == B);
    p
}

impl<const B: usize, const N: usize> Packed<B, N> {
    fn name(&self, i: usize) -> &[u8] {
        let start = match i.checked_sub(1) {
            Some(p) => self.ends.get(p).map_or(0, |&e| e as usize),
            None => 0,
        };
        let end = self.ends.get(i).map_or(0, |&e| e as usize);
        self.names.get(start..end).unwrap_or(&[])
    }

    /// Binary search by name (the names are sorted bytewise).
    fn find(&self, name: &[u8]) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.ends.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.name(mid).cmp(name) {
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }
}
