#!/usr/bin/python3
"""Measurement driver for bench.sh: runs mote, crun and runc side by side and prints the table.

Not meant to be run by hand: bench.sh builds the bundles, the `spawn` launcher, the private mount
namespace crun needs, and cleans up after it. This process makes itself a child subreaper, so every
container process orphaned by a runtime (`create` exits and leaves the init behind) is reparented
here and reaped promptly; their rusage is recorded.
"""
import argparse
import json
import ctypes
import os
import signal
import statistics
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36
TIMEOUT = 60  # seconds, for any one runtime command


def progress(msg):
    """One line of progress, rewritten in place, only when stderr is a terminal; nothing in logs."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K" + msg)
        sys.stderr.flush()


def progress_done():
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def die(msg, code=1):
    print(f"bench: {msg}", file=sys.stderr)
    sys.exit(code)


class Meas:
    __slots__ = ("rc", "wall_ms", "user_ms", "sys_ms", "rss_kb", "orphan_ms", "orphans")

    @property
    def cpu_ms(self):
        return self.user_ms + self.sys_ms


class Runtime:
    def __init__(self, name, binary, root, ns):
        self.name, self.binary, self.root, self.ns = name, binary, root, ns
        self.cmd = [binary, "--root", root]
        self.log = None  # set by Bench
        self.tiny_ok = False


class Bench:
    def __init__(self, a):
        self.a = a
        self.reaped = {}  # pid -> (status, rusage) of orphans this process reaped
        self.orphan_cpu_pending = 0.0
        self.orphans_pending = 0
        self.rts = [
            Runtime("mote", a.mote, os.path.join(a.roots, "mote"), None),
            Runtime("crun", a.crun, os.path.join(a.roots, "crun"), a.ns),
            Runtime("runc", a.runc, os.path.join(a.roots, "runc"), None),
        ]
        for rt in self.rts:
            os.makedirs(rt.root, exist_ok=True)
            rt.log = os.path.join(a.scratch, f"{rt.name}.log")
        self.ids = []  # every container id used, for the final sweep
        self.left = {rt.name: 0 for rt in self.rts}  # `run`s that left state behind
        self.notes = []

    # ---- processes -------------------------------------------------------------------------
    def reap(self):
        """Reap every orphan that has exited (we are a subreaper); keep its status and rusage."""
        while True:
            try:
                pid, st, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.reaped[pid] = (st, ru)
            self.orphan_cpu_pending += (ru.ru_utime + ru.ru_stime) * 1000
            self.orphans_pending += 1

    def spawn(self, rt, args, log=None, wrap=()):
        """Run rt's command (optionally wrapped, e.g. by strace) through the spawn launcher."""
        log = log or rt.log
        argv = [self.a.spawn, "-t", str(TIMEOUT), "-l", log]
        if rt.ns:
            argv += ["-n", rt.ns]
        argv += ["--", *wrap, *rt.cmd, *args]
        with open(rt.log, "a") as f:
            f.write(f"$ {' '.join(list(wrap) + rt.cmd + list(args))}\n")
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0 or not p.stdout.strip():
            die(f"spawn launcher failed ({p.returncode}): {p.stderr.strip()}")
        if p.stderr.strip():
            with open(log, "a") as f:
                f.write(p.stderr)
        rc, wall, user, sys_, rss = (int(x) for x in p.stdout.split())
        m = Meas()
        m.rc, m.wall_ms, m.user_ms, m.sys_ms, m.rss_kb = rc, wall / 1e6, user / 1e3, sys_ / 1e3, rss
        self.orphan_cpu_pending, self.orphans_pending = 0.0, 0
        self.reap()
        m.orphan_ms, m.orphans = self.orphan_cpu_pending, self.orphans_pending
        return m

    def wait_exit(self, pid, timeout=TIMEOUT):
        """Wait for a container init to exit; return its rusage CPU ms if we reaped it, else None."""
        if pid in self.reaped:
            st, ru = self.reaped.pop(pid)
            return (ru.ru_utime + ru.ru_stime) * 1000
        try:
            # Our child (reparented to this subreaper): block until it exits.
            signal.alarm(timeout)  # SIGALRM handler raises TimeoutError
            try:
                _, st, ru = os.wait4(pid, 0)
            finally:
                signal.alarm(0)
            return (ru.ru_utime + ru.ru_stime) * 1000
        except ChildProcessError:
            pass
        # Not ours (a runtime kept a parent around): poll until it is gone or a zombie.
        import time

        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                        return None
            except FileNotFoundError:
                return None
            time.sleep(0.001)
        raise TimeoutError(f"container init {pid} did not exit within {timeout} s")

    def leftover(self, rt, cid):
        return os.path.exists(os.path.join(rt.root, cid))

    def force_delete(self, rt, cid):
        self.spawn(rt, ["delete", "--force", cid])

    def tail(self, rt, n=15):
        try:
            with open(rt.log) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def cgroup_dirs(self, needle):
        out = []
        for top, dirs, _ in os.walk("/sys/fs/cgroup"):
            for d in dirs:
                if needle in d:
                    out.append(os.path.join(top, d))
        return out

    def new_id(self, rt, tag):
        cid = f"{self.a.prefix}-{rt.name}-{tag}"
        self.ids.append((rt, cid))
        return cid

    # ---- phases ----------------------------------------------------------------------------
    def check(self):
        """Each runtime must run the bundle (exit 0) before anything is measured."""
        a = self.a
        for rt in self.rts:
            cid = self.new_id(rt, "check")
            clog = os.path.join(a.scratch, f"{rt.name}-check.log")
            m = self.spawn(rt, ["run", "--bundle", a.bundle, cid], log=clog)
            with open(clog) as f:
                out = f.read().strip()
            if m.rc != 0:
                print(f"bench: {rt.name} failed to run the bundle: exit code {m.rc}. Its output:")
                print("    " + (out or "(nothing)").replace("\n", "\n    "))
                print(f"bench: command: {' '.join(rt.cmd)} run --bundle {a.bundle} {cid}")
                return False
            if out:
                self.notes.append(f"{rt.name} printed this on a successful `run`:\n    "
                                  + out.replace("\n", "\n    "))
            if self.leftover(rt, cid):
                self.notes.append(f"{rt.name}: `run` left its state dir {cid} behind (deleted by bench)")
                self.force_delete(rt, cid)
            cg = self.cgroup_dirs(cid)
            if cg:
                self.notes.append(f"{rt.name}: `run` left cgroups behind: {' '.join(cg)}")
            # the process really ran: an exit code comes back
            cid = self.new_id(rt, "exit7")
            m = self.spawn(rt, ["run", "--bundle", a.bundle_exit7, cid])
            if m.rc != 7:
                self.notes.append(
                    f"{rt.name}: `run` of sh -c 'exit 7' returned {m.rc}, not 7 (exit code not passed on)"
                )
            if self.leftover(rt, cid):
                self.force_delete(rt, cid)
            # tiny payload (runtime-only RSS)
            cid = self.new_id(rt, "tiny")
            m = self.spawn(rt, ["run", "--bundle", a.bundle_tiny, cid])
            if m.rc != 0:
                self.notes.append(f"{rt.name}: run with the tiny payload failed (exit {m.rc}); see its log")
                rt.tiny_ok = False
            else:
                rt.tiny_ok = True
            if self.leftover(rt, cid):
                self.force_delete(rt, cid)
        return True

    def order(self, i):
        k = i % len(self.rts)
        return self.rts[k:] + self.rts[:k]

    def bench_run(self, bundle, tag, key):
        """`RT run ID`, interleaved: iteration i runs the three runtimes in rotated order."""
        res = {rt.name: [] for rt in self.rts}
        fails = {rt.name: 0 for rt in self.rts}
        for i in range(self.a.n):
            progress(f"bench: run ({key}) {i + 1}/{self.a.n}")
            for rt in self.order(i):
                if key == "tiny" and not rt.tiny_ok:
                    continue
                cid = self.new_id(rt, f"{tag}{i}")
                m = self.spawn(rt, ["run", "--bundle", bundle, cid])
                if self.leftover(rt, cid):
                    if not self.left[rt.name]:
                        self.notes.append(f"{rt.name}: `run` left state for {cid}; deleted it")
                    self.left[rt.name] += 1
                    self.force_delete(rt, cid)
                if m.rc != 0:
                    fails[rt.name] += 1
                    if fails[rt.name] == 1:
                        self.notes.append(
                            f"{rt.name}: `run` ({key}) failed with exit {m.rc}:\n    "
                            + self.tail(rt, 8).strip().replace("\n", "\n    ")
                        )
                    continue
                res[rt.name].append(m)
        progress_done()
        for name, k in fails.items():
            if k:
                self.notes.append(f"{name}: {k} of {self.a.n} `run`s ({key}) failed; left out of the figures")
        return res

    def bench_lifecycle(self):
        """create / start / (init exits, reaped here) / delete, interleaved the same way."""
        a = self.a
        res = {rt.name: [] for rt in self.rts}
        fails = {rt.name: 0 for rt in self.rts}
        for i in range(a.n):
            progress(f"bench: create/start/delete {i + 1}/{a.n}")
            for rt in self.order(i):
                cid = self.new_id(rt, f"l{i}")
                self.reaped.clear()  # no stale pid may be taken for this init
                pidfile = os.path.join(a.scratch, f"{cid}.pid")
                c = self.spawn(rt, ["create", "--bundle", a.bundle, "--pid-file", pidfile, cid])
                step = "create"
                ok = c.rc == 0
                if ok:
                    try:
                        with open(pidfile) as f:
                            pid = int(f.read().strip())
                    except (OSError, ValueError) as e:
                        ok, step = False, f"create (pid file: {e})"
                if ok:
                    s = self.spawn(rt, ["start", cid])
                    ok, step = s.rc == 0, "start"
                if ok:
                    init_ms = self.wait_exit(pid)
                    self.reap()
                    d = self.spawn(rt, ["delete", cid])
                    ok, step = d.rc == 0, "delete"
                if not ok:
                    fails[rt.name] += 1
                    if fails[rt.name] == 1:
                        self.notes.append(
                            f"{rt.name}: lifecycle failed at `{step}`:\n    "
                            + self.tail(rt, 8).strip().replace("\n", "\n    ")
                        )
                    if self.leftover(rt, cid):
                        self.force_delete(rt, cid)
                    continue
                if self.leftover(rt, cid):
                    self.notes.append(f"{rt.name}: `delete` left state for {cid}")
                    self.force_delete(rt, cid)
                res[rt.name].append((c, s, d, init_ms))
        progress_done()
        for name, k in fails.items():
            if k:
                self.notes.append(f"{name}: {k} of {a.n} create/start/delete cycles failed; left out")
        return res

    def strace(self):
        """One `run` per runtime under strace -f -c; returns {rt: {syscall: (calls, errors)}}."""
        out = {}
        for rt in self.rts:
            cid = self.new_id(rt, "strace")
            f = os.path.join(self.a.scratch, f"strace-{rt.name}.txt")
            m = self.spawn(
                rt,
                ["run", "--bundle", self.a.bundle, cid],
                wrap=[self.a.strace, "-f", "-c", "-S", "calls", "-o", f],
            )
            if self.leftover(rt, cid):
                self.force_delete(rt, cid)
            if m.rc != 0:
                self.notes.append(f"{rt.name}: `run` under strace failed (exit {m.rc})")
            out[rt.name] = parse_strace(f)
        return out

    def sweep(self):
        """Delete whatever container is still in our state roots, then reap."""
        for rt in self.rts:
            try:
                names = os.listdir(rt.root)
            except OSError:
                continue
            for cid in names:
                if os.path.isdir(os.path.join(rt.root, cid)):
                    self.force_delete(rt, cid)
        self.reap()


def parse_strace(path):
    calls = {}
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return calls
    for ln in lines:
        p = ln.split()
        if len(p) < 5 or not p[0][0].isdigit() or p[-1] == "total":
            continue
        # % time, seconds, usecs/call, calls, [errors], syscall
        name = p[-1]
        try:
            n = int(p[3])
            err = int(p[4]) if len(p) == 6 else 0
        except ValueError:
            continue
        calls[name] = (n, err)
    return calls


def binary_info(path):
    real = os.path.realpath(path)
    size = os.path.getsize(real)
    libs = []
    try:
        p = subprocess.run(["ldd", real], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for ln in p.stdout.splitlines():
            ln = ln.strip()
            lib = None
            if "=>" in ln:
                rhs = ln.split("=>", 1)[1].strip().split(" (")[0].strip()
                if rhs.startswith("/"):
                    lib = rhs
            elif ln.startswith("/"):
                lib = ln.split(" (")[0]
            if lib:
                libs.append(os.path.realpath(lib))
    except OSError:
        pass
    libsize = sum(os.path.getsize(x) for x in set(libs) if os.path.exists(x))
    return real, size, len(set(libs)), libsize


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(v, unit):
    if v != v:  # nan
        return "n/a"
    if unit == "ms":
        return f"{v:.2f} ms"
    if unit == "KiB":
        return f"{v:.0f} KiB"
    if unit == "B":
        return human(v)
    return f"{v:.0f}"


def human(b):
    for u, k in (("MB", 1e6), ("KB", 1e3)):
        if b >= k:
            return f"{b / k:.2f} {u}" if u == "MB" else f"{b / k:.0f} {u}"
    return f"{b:.0f} B"


def ratio(a, b):
    if a != a or b != b or not b:
        return "n/a"
    return f"{a / b:.2f}"


def main():
    ap = argparse.ArgumentParser()
    for k in ("tmp", "scratch", "roots", "roots_fs", "prefix", "spawn", "ns", "mote", "mote_orig", "crun", "runc", "strace",
              "bundle", "bundle_tiny", "bundle_exit7", "bbtrue"):
        ap.add_argument("--" + k.replace("_", "-"), required=True)
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()

    signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_term(sig, frm):
        raise SystemExit(128 + sig)

    signal.signal(signal.SIGTERM, on_term)
    def on_alarm(sig, frm):
        raise TimeoutError("timed out waiting for a container init")

    signal.signal(signal.SIGALRM, on_alarm)

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        die("prctl(PR_SET_CHILD_SUBREAPER) failed")

    b = Bench(a)
    try:
        return run(b, a)
    except KeyboardInterrupt:
        print("bench: interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        b.sweep()
        # anything still parented to us is a leftover of ours
        left = []
        me = str(os.getpid())
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    st = open(f"/proc/{d}/status").read()
                except OSError:
                    continue
                if f"\nPPid:\t{me}\n" in st:
                    left.append(d)
        if left:
            print(f"bench: warning: processes still parented to the harness: {' '.join(left)}")


def run(b, a):
    n = a.n
    print(f"mote bench: {n} paired runs per figure; runtimes: "
          + ", ".join(f"{rt.name}={os.path.realpath(rt.binary) if rt.name != 'mote' else a.mote_orig}"
                      for rt in b.rts))
    vers = []
    for rt, flag in ((b.rts[1], "--version"), (b.rts[2], "--version")):
        p = subprocess.run([rt.binary, flag], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        vers.append(f"{rt.name} {p.stdout.splitlines()[0].split()[-1] if p.stdout else '?'}")
    print("versions: " + ", ".join(vers) + f"; kernel {os.uname().release}; {os.cpu_count()} cpus; "
          f"state roots on {a.roots_fs}")
    if not b.check():
        return 1
    print("check: all three runtimes ran the bundle (exit 0)")

    print(f"measuring `run` (busybox /bin/true) x{n} ...", flush=True)
    runs = b.bench_run(a.bundle, "r", "busybox")
    print(f"measuring `run` (tiny payload, for the runtime's own RSS) x{n} ...", flush=True)
    tiny = b.bench_run(a.bundle_tiny, "t", "tiny")
    print(f"measuring create / start / delete x{n} ...", flush=True)
    life = b.bench_lifecycle()
    print("strace -f -c of one `run` each ...", flush=True)
    st = b.strace()

    # floors: what the launcher itself costs, and busybox true's own peak RSS
    floor = []
    bbrss = []
    for _ in range(max(5, min(n, 15))):
        p = subprocess.run([a.spawn, "--", a.bbtrue, "true"], stdout=subprocess.PIPE, text=True)
        rc, wall, u, s, rss = (int(x) for x in p.stdout.split())
        floor.append((u + s) / 1e3)
        bbrss.append(rss)

    names = [rt.name for rt in b.rts]
    rows = []  # (label, {rt: value}, unit)

    def add(label, f, unit, src=None):
        src = runs if src is None else src
        rows.append((label, {k: f(src[k]) for k in names}, unit))

    add("run: CPU time user+sys (median)", lambda ms: med([m.cpu_ms + m.orphan_ms for m in ms]), "ms")
    add("run: user CPU (tick-sampled split)", lambda ms: med([m.user_ms for m in ms]), "ms")
    add("run: system CPU (tick-sampled split)", lambda ms: med([m.sys_ms for m in ms]), "ms")
    add("run: wall time (median)", lambda ms: med([m.wall_ms for m in ms]), "ms")
    add("run: peak RSS, tree incl. busybox (%M, median)", lambda ms: med([m.rss_kb for m in ms]), "KiB")
    add("run: peak RSS, runtime only (tiny payload)", lambda ms: med([m.rss_kb for m in ms]), "KiB", tiny)
    rows.append(("run: syscalls, one run (strace -f -c)",
                 {k: float(sum(c for c, _ in st[k].values())) if st[k] else float("nan") for k in names}, ""))
    rows.append(("run: distinct syscalls", {k: float(len(st[k])) if st[k] else float("nan") for k in names}, ""))
    rows.append(("run: failed syscalls (errors)",
                 {k: float(sum(e for _, e in st[k].values())) if st[k] else float("nan") for k in names}, ""))
    add("create: CPU (median)", lambda ls: med([c.cpu_ms for c, s, d, i in ls]), "ms", life)
    add("start: CPU (median)", lambda ls: med([s.cpu_ms for c, s, d, i in ls]), "ms", life)
    add("delete: CPU (median)", lambda ls: med([d.cpu_ms for c, s, d, i in ls]), "ms", life)
    add("container init, reaped by bench: CPU", lambda ls: med([i for c, s, d, i in ls if i is not None]),
        "ms", life)
    add("create+start+delete+init: CPU", lambda ls: med(
        [c.cpu_ms + s.cpu_ms + d.cpu_ms + (i or 0) + c.orphan_ms + s.orphan_ms + d.orphan_ms
         for c, s, d, i in ls]), "ms", life)
    add("create / start / delete: wall, summed", lambda ls: med(
        [c.wall_ms + s.wall_ms + d.wall_ms for c, s, d, i in ls]), "ms", life)
    sizes = {}
    for rt in b.rts:
        path = a.mote_orig if rt.name == "mote" else rt.binary
        sizes[rt.name] = binary_info(path)
    rows.append(("binary size", {k: float(sizes[k][1]) for k in names}, "B"))
    rows.append(("binary + shared libraries (ldd)", {k: float(sizes[k][1] + sizes[k][3]) for k in names}, "B"))

    # ---- table ----
    hdr = ["figure", "mote", "crun", "runc", "mote/crun", "mote/runc"]
    body = []
    for label, v, unit in rows:
        body.append([label, fmt(v["mote"], unit), fmt(v["crun"], unit), fmt(v["runc"], unit),
                     ratio(v["mote"], v["crun"]), ratio(v["mote"], v["runc"])])
    w = [max(len(r[i]) for r in [hdr] + body) for i in range(len(hdr))]
    line = lambda r: "| " + " | ".join(c.ljust(w[0]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)) + " |"
    print()
    print(line(hdr))
    print("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for r in body:
        print(line(r))

    cnt = {k: len(runs[k]) for k in names}
    print(f"\nsamples: run {cnt}; tiny {({k: len(tiny[k]) for k in names})}; "
          f"lifecycle {({k: len(life[k]) for k in names})}")
    for k in names:
        xs = sorted(m.cpu_ms + m.orphan_ms for m in runs[k])
        ws = sorted(m.wall_ms for m in runs[k])
        if xs:
            print(f"spread {k}: run CPU min {xs[0]:.2f} / max {xs[-1]:.2f} ms; "
                  f"wall min {ws[0]:.2f} / max {ws[-1]:.2f} ms; "
                  f"peak RSS max {max(m.rss_kb for m in runs[k])} KiB")
    print("`run` left its state behind (then deleted by the bench): "
          + ", ".join(f"{k} {b.left[k]} times" for k in names)
          + f" of {2 * n}; nothing is deleted explicitly otherwise")
    orph = {k: sum(m.orphans for m in runs[k]) for k in names}
    if any(orph.values()):
        print(f"orphans reaped by the bench during `run` (their CPU is counted above): {orph}")
    print(f"for scale: starting static busybox true (no runtime) costs {med(floor):.2f} ms CPU "
          f"and peaks at {med(bbrss):.0f} KiB RSS")
    for k in names:
        real, size, nlib, libsize = sizes[k]
        kind = "static" if nlib == 0 else f"dynamic, {nlib} shared libs = {human(libsize)}"
        print(f"binary {k}: {real}: {size} bytes ({kind})")

    if a.json:
        # Every figure, and the samples behind the medians (for min-max spreads in plots).
        samples = {k: {
            "run_cpu_ms": [m.cpu_ms + m.orphan_ms for m in runs[k]],
            "run_wall_ms": [m.wall_ms for m in runs[k]],
            "run_rss_kib": [m.rss_kb for m in runs[k]],
            "tiny_rss_kib": [m.rss_kb for m in tiny[k]],
            "lifecycle_cpu_ms": [c.cpu_ms + s.cpu_ms + d.cpu_ms + (i or 0) + c.orphan_ms + s.orphan_ms + d.orphan_ms
                                 for c, s, d, i in life[k]],
            "lifecycle_wall_ms": [c.wall_ms + s.wall_ms + d.wall_ms for c, s, d, i in life[k]],
        } for k in names}
        doc = {
            "n": n,
            "kernel": os.uname().release,
            "cpus": os.cpu_count(),
            "versions": vers,
            "figures": [{"label": label, "unit": unit, "values": v} for label, v, unit in rows],
            "samples": samples,
            "sizes": {k: {"path": sizes[k][0], "bytes": sizes[k][1], "libs": sizes[k][2], "lib_bytes": sizes[k][3]}
                      for k in names},
        }
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1, default=lambda x: None)

    # ---- targets ----
    def paired(key, x, y):
        rs = []
        for i in range(min(len(runs[x]), len(runs[y]))):
            a_, b_ = key(runs[x][i]), key(runs[y][i])
            if b_:
                rs.append(a_ / b_)
        return med(rs)

    R = {label: v for label, v, _ in rows}
    cpu = R["run: CPU time user+sys (median)"]
    pr = paired(lambda m: m.cpu_ms + m.orphan_ms, "mote", "crun")
    ok = cpu["mote"] <= 0.5 * cpu["crun"]
    print()
    print(f"{'PASS' if ok else 'FAIL'}  CPU time at most half of crun's: mote {cpu['mote']:.2f} ms vs crun "
          f"{cpu['crun']:.2f} ms = {cpu['mote'] / cpu['crun']:.2f}x (median of paired ratios {pr:.2f}x; "
          f"target <= 0.50)")
    rss_rt = R["run: peak RSS, runtime only (tiny payload)"]["mote"]
    rss_tree = R["run: peak RSS, tree incl. busybox (%M, median)"]["mote"]
    ok = rss_rt <= 1024
    print(f"{'PASS' if ok else 'FAIL'}  peak RSS at most 1 MiB: mote itself {rss_rt:.0f} KiB "
          f"(with the busybox payload the tree peaks at {rss_tree:.0f} KiB, busybox alone {med(bbrss):.0f} KiB)")
    sys_calls = R["run: syscalls, one run (strace -f -c)"]
    sc = sys_calls["mote"]
    ok = sc < 400
    print(f"{'PASS' if ok else 'FAIL'}  fewer than 400 syscalls per run: mote {sc:.0f} "
          f"(crun {sys_calls['crun']:.0f}, runc {sys_calls['runc']:.0f})")

    # ---- mote's syscalls ----
    top = sorted(st["mote"].items(), key=lambda kv: -kv[1][0])[:15]
    if top:
        print("\ntop 15 syscalls of mote `run` (strace -f -c; crun and runc counts for the same call):")
        print(f"  {'syscall':<18} {'mote':>6} {'errors':>6} {'crun':>6} {'runc':>6}")
        for name, (c, e) in top:
            print(f"  {name:<18} {c:>6} {e:>6} {st['crun'].get(name, (0, 0))[0]:>6} "
                  f"{st['runc'].get(name, (0, 0))[0]:>6}")
    cg = b.cgroup_dirs(a.prefix)
    if cg:
        b.notes.append(f"cgroups named after our containers were left behind (cleanup removes them): "
                       + " ".join(cg[:20]) + (" ..." if len(cg) > 20 else ""))
    if b.notes:
        print("\nnotes:")
        for x in b.notes:
            print(" - " + x)
    return 0


if __name__ == "__main__":
    sys.exit(main())
