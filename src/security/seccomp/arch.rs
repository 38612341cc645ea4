//! The architectures mote filters: their audit numbers, libseccomp names and system call tables.

use super::tables;

/// The packed form of `tables::$arch::SYSCALLS`, built at compile time.
macro_rules! packed {
    ($arch:ident) => {{
        const T: &[(&str, u32)] = tables::$arch::SYSCALLS;
        static P: Packed<{ names_len(T) }, { T.len() }> = pack(T);
        Table {
            names: &P.names,
            ends: &P.ends,
            nrs: &P.nrs,
        }
    }};
}

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

    fn packed(self) -> Table {
        match self {
            Arch::X86_64 => packed!(x86_64),
            Arch::X86 => packed!(x86),
            Arch::X32 => packed!(x32),
            Arch::Aarch64 => packed!(aarch64),
            Arch::Arm => packed!(arm),
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
        self.packed().lookup(name.as_bytes())
    }

    /// Every number the table knows (in name order, with aliases repeated).
    pub fn numbers(self) -> &'static [u32] {
        self.packed().nrs
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
// static-pie one relocation (24 more bytes) per name. [`pack`] turns each into three arrays
// without pointers (the names end to end, each name's end offset, each name's number) in a
// constant evaluation, so only those reach the binary: about a third of the size.

struct Packed<const B: usize, const N: usize> {
    names: [u8; B],
    ends: [u16; N],
    nrs: [u32; N],
}

/// The total length of a table's names.
const fn names_len(t: &[(&str, u32)]) -> usize {
    let (mut i, mut n) = (0, 0);
    while i < t.len() {
        n += t[i].0.len();
        i += 1;
    }
    n
}

const fn pack<const B: usize, const N: usize>(t: &[(&str, u32)]) -> Packed<B, N> {
    let mut p = Packed {
        names: [0; B],
        ends: [0; N],
        nrs: [0; N],
    };
    let (mut i, mut at) = (0, 0);
    while i < N {
        let name = t[i].0.as_bytes();
        let mut j = 0;
        while j < name.len() {
            p.names[at] = name[j];
            at += 1;
            j += 1;
        }
        assert!(at <= u16::MAX as usize, "names too long for u16 offsets");
        p.ends[i] = at as u16;
        p.nrs[i] = t[i].1;
        i += 1;
    }
    p
}

/// A packed table of any size.
#[derive(Clone, Copy)]
struct Table {
    names: &'static [u8],
    ends: &'static [u16],
    nrs: &'static [u32],
}

impl Table {
    fn name(&self, i: usize) -> &'static [u8] {
        let start = match i.checked_sub(1) {
            Some(p) => self.ends.get(p).map_or(0, |&e| e as usize),
            None => 0,
        };
        let end = self.ends.get(i).map_or(0, |&e| e as usize);
        self.names.get(start..end).unwrap_or(&[])
    }

    /// Binary search by name (the generator sorts the names bytewise).
    fn lookup(&self, name: &[u8]) -> Option<u32> {
        let (mut lo, mut hi) = (0, self.ends.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.name(mid).cmp(name) {
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return self.nrs.get(mid).copied(),
            }
        }
        None
    }
}
