#!/usr/bin/env python3
"""Generate mote's seccomp system call tables from the Linux UAPI headers.

    scripts/gen-syscall-tables.py            # rewrite src/security/seccomp/tables/*.rs
    scripts/gen-syscall-tables.py --check    # exit 1 if the committed files differ

Reads the headers Debian bookworm installs (apt-get install linux-libc-dev
linux-libc-dev-arm64-cross linux-libc-dev-armhf-cross; cpp from gcc):

  x86_64   /usr/include/x86_64-linux-gnu/asm/unistd_64.h
  x86      /usr/include/x86_64-linux-gnu/asm/unistd_32.h
  x32      /usr/include/x86_64-linux-gnu/asm/unistd_x32.h (numbers carry __X32_SYSCALL_BIT)
  aarch64  /usr/aarch64-linux-gnu/include/asm/unistd.h (includes asm-generic/unistd.h)
  arm      /usr/arm-linux-gnueabihf/include/asm/unistd.h (EABI: unistd-eabi.h, plus the
           ARM-private __ARM_NR_* calls at 0xf0000+, named as libseccomp names them)

Each header is run through the C preprocessor (`cpp -dM`, no predefined macros, only the
target's include directory) and every `__NR_<name>` macro is evaluated; `__NR3264_*`
helpers, `__NR_syscalls` and the arm OABI/base constants are not system calls. Each output
file records its headers, the Debian package version and the kernel version of the headers,
and holds a name-sorted `&[(&str, u32)]` table and the highest number.
"""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "src", "security", "seccomp", "tables")

X86_INC = "/usr/include/x86_64-linux-gnu"
ARM64_INC = "/usr/aarch64-linux-gnu/include"
ARMHF_INC = "/usr/arm-linux-gnueabihf/include"

# arch: (include dir, main header, extra -D flags, headers to record, package, version.h)
ARCHES = {
    "x86_64": (X86_INC, X86_INC + "/asm/unistd_64.h", [], [X86_INC + "/asm/unistd_64.h"],
               "linux-libc-dev", "/usr/include/linux/version.h"),
    "x86": (X86_INC, X86_INC + "/asm/unistd_32.h", [], [X86_INC + "/asm/unistd_32.h"],
            "linux-libc-dev", "/usr/include/linux/version.h"),
    # unistd_x32.h uses __X32_SYSCALL_BIT, which asm/unistd.h defines: include that with
    # __ILP32__ so it pulls in the x32 numbers.
    "x32": (X86_INC, X86_INC + "/asm/unistd.h", ["-D__x86_64__", "-D__ILP32__"],
            [X86_INC + "/asm/unistd.h", X86_INC + "/asm/unistd_x32.h"],
            "linux-libc-dev", "/usr/include/linux/version.h"),
    "aarch64": (ARM64_INC, ARM64_INC + "/asm/unistd.h", [],
                [ARM64_INC + "/asm/unistd.h", ARM64_INC + "/asm-generic/unistd.h"],
                "linux-libc-dev-arm64-cross", ARM64_INC + "/linux/version.h"),
    "arm": (ARMHF_INC, ARMHF_INC + "/asm/unistd.h", ["-D__ARM_EABI__"],
            [ARMHF_INC + "/asm/unistd.h", ARMHF_INC + "/asm/unistd-eabi.h"],
            "linux-libc-dev-armhf-cross", ARMHF_INC + "/linux/version.h"),
}

# Macros that look like system calls but are not (arch_specific_syscall is the generic
# table's base for arch-private numbers).
NOT_SYSCALLS = {
    "__NR_syscalls",
    "__NR_arch_specific_syscall",
    "__NR_OABI_SYSCALL_BASE",
    "__NR_SYSCALL_MASK",
    "__NR_SYSCALL_BASE",
}
# ARM-private calls (arch/arm/include/uapi/asm/unistd.h), under the names libseccomp uses.
ARM_PRIVATE = {
    "__ARM_NR_breakpoint": "breakpoint",
    "__ARM_NR_cacheflush": "cacheflush",
    "__ARM_NR_usr26": "usr26",
    "__ARM_NR_usr32": "usr32",
    "__ARM_NR_set_tls": "set_tls",
    "__ARM_NR_get_tls": "get_tls",
}

DEFINE = re.compile(r"^#define\s+([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$")
TOKEN = re.compile(r"\s*(0[xX][0-9a-fA-F]+|[0-9]+|[A-Za-z_][A-Za-z0-9_]*|[()+|])")


def macros(arch):
    inc, header, flags, _, _, _ = ARCHES[arch]
    out = subprocess.run(["cpp", "-undef", "-nostdinc", "-dM", "-I", inc] + flags + [header],
                         check=True, capture_output=True, text=True).stdout
    defs = {}
    for line in out.splitlines():
        m = DEFINE.match(line)
        if m:
            defs[m.group(1)] = m.group(2).strip()
    return defs


def evaluate(expr, defs, depth=0):
    """Evaluate a system call number: integers, macro names, parentheses, + and |."""
    if depth > 20:
        raise ValueError("macro recursion: " + expr)
    pos, tokens = 0, []
    expr = expr.strip()
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError("cannot parse: " + expr)
        tokens.append(m.group(1))
        pos = m.end()
    py = []
    for t in tokens:
        if t[0].isdigit():
            py.append(str(int(t, 0)))
        elif t[0].isalpha() or t[0] == "_":
            if t not in defs:
                raise ValueError("undefined macro %s in %s" % (t, expr))
            py.append(str(evaluate(defs[t], defs, depth + 1)))
        else:
            py.append(t)
    return int(eval(" ".join(py), {"__builtins__": {}}))  # only digits and ( ) + | remain


def table(arch):
    defs = macros(arch)
    entries = {}
    for name, expr in defs.items():
        if name in NOT_SYSCALLS or name.startswith("__NR3264_"):
            continue
        if name.startswith("__NR_"):
            entries[name[len("__NR_"):]] = evaluate(expr, defs)
        elif arch == "arm" and name in ARM_PRIVATE:
            entries[ARM_PRIVATE[name]] = evaluate(expr, defs)
        elif arch == "arm" and name.startswith("__ARM_NR_") and name != "__ARM_NR_BASE":
            raise SystemExit("unknown ARM-private call %s: add it to ARM_PRIVATE" % name)
    if not entries:
        raise SystemExit("no system calls found for %s" % arch)
    for name, nr in entries.items():
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or not 0 <= nr < 2**32:
            raise SystemExit("odd entry for %s: %s = %s" % (arch, name, nr))
    return entries


def package_version(pkg):
    return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg],
                          check=True, capture_output=True, text=True).stdout.strip()


def kernel_version(version_h):
    v = {}
    with open(version_h) as f:
        for line in f:
            m = re.match(r"#define LINUX_VERSION_(MAJOR|PATCHLEVEL|SUBLEVEL) (\d+)", line)
            if m:
                v[m.group(1)] = m.group(2)
    return "%s.%s.%s" % (v.get("MAJOR", "?"), v.get("PATCHLEVEL", "?"), v.get("SUBLEVEL", "?"))


def render(arch):
    _, _, _, headers, pkg, version_h = ARCHES[arch]
    entries = table(arch)
    names = sorted(entries)  # byte order: what the Rust binary search expects
    lines = [
        "//! System call numbers for %s: GENERATED by scripts/gen-syscall-tables.py, do not edit." % arch,
        "//!",
    ]
    for h in headers:
        lines.append("//! Source: %s" % h)
    lines += [
        "//! Package: %s %s (Linux %s UAPI headers)" % (pkg, package_version(pkg), kernel_version(version_h)),
        "",
        "/// System call name to number, sorted by name.",
        "pub const SYSCALLS: &[(&str, u32)] = &[",
    ]
    for n in names:
        nr = entries[n]
        lines.append('    ("%s", %s),' % (n, ("0x%x" % nr) if nr >= 0x10000 else str(nr)))
    top = max(entries.values())
    lines += [
        "];",
        "",
        "/// The highest number in [`SYSCALLS`].",
        "pub const MAX: u32 = %s;" % (("0x%x" % top) if top >= 0x10000 else str(top)),
        "",
    ]
    return "\n".join(lines), len(entries), top


MOD_RS = """//! System call tables, one module per architecture: GENERATED by
//! scripts/gen-syscall-tables.py from the Linux UAPI headers, do not edit (each file names its
//! headers and their version).

%s

/// The Linux version of the headers the tables come from.
pub const LINUX: &str = "%s";
"""


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    os.makedirs(OUT_DIR, exist_ok=True)
    outputs = [(arch,) + render(arch) for arch in ARCHES]
    versions = {".".join(kernel_version(a[5]).split(".")[:2]) for a in ARCHES.values()}
    if len(versions) != 1:
        raise SystemExit("the headers come from different Linux versions: %s" % sorted(versions))
    mods = "\n".join("pub mod %s;" % a for a in sorted(ARCHES))
    outputs.append(("mod", MOD_RS % (mods, versions.pop()), None, None))
    for arch, text, count, top in outputs:
        path = os.path.join(OUT_DIR, arch + ".rs")
        if check:
            old = open(path).read() if os.path.exists(path) else ""
            if old != text:
                stale.append(path)
        else:
            with open(path, "w") as f:
                f.write(text)
        if count is not None:
            print("%-8s %4d system calls, highest %#x" % (arch, count, top))
    if stale:
        print("out of date (rerun scripts/gen-syscall-tables.py):", *stale, sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()
