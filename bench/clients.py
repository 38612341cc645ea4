#!/usr/bin/env python3
"""The clients' view, side by side in one run (run as root; a benchmark, not a test):

  bench/clients.py [-n N] [--json FILE] MOTE CRUN RUNC

- `podman run --rm IMAGE true` wall time with each runtime as podman's --runtime (conmon in
  between, as users run it);
- `ctr run --rm --runc-binary RUNTIME IMAGE ID true` wall time through containerd's runc shim;
- 100 containers created, then deleted, by each runtime's own command line (one bundle, ids
  0..99): the wall time of the whole batch, three times.

Rounds are interleaved (mote, crun, runc, then crun, runc, mote...) so that drift in the
machine's state hits all three alike. Everything lives in a temporary directory (podman's and
containerd's roots too) and is removed at the end, with every container made.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def sh(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def timed(cmd):
    t = time.monotonic()
    p = sh(cmd)
    ms = (time.monotonic() - t) * 1e3
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stdout[-800:]}")
    return ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10)
    ap.add_argument("--json", default=None)
    ap.add_argument("mote")
    ap.add_argument("crun")
    ap.add_argument("runc")
    a = ap.parse_args()
    if os.getuid() != 0:
        sys.exit("bench/clients.py: run as root")
    rts = {"mote": os.path.abspath(a.mote), "crun": a.crun, "runc": a.runc}
    for name, b in rts.items():
        if not shutil.which(b) and not os.access(b, os.X_OK):
            sys.exit(f"bench/clients.py: no {name} at {b}")
    t = tempfile.mkdtemp(prefix="mote-bench-clients.")
    ctrd = None
    made = []  # (runtime, root, id) for cleanup
    out = {"n": a.n, "podman_run_rm_ms": {}, "ctr_run_rm_ms": {}, "hundred_ms": {}}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    P = ["podman", "--root", f"{t}/pm", "--runroot", f"{t}/pmrun", "--tmpdir", f"{t}/pmtmp",
         "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    try:
        # A busybox rootfs, an image of it for podman and containerd, a bundle for the runtimes.
        rootfs = f"{t}/rootfs"
        for d in ("bin", "proc", "dev", "sys", "tmp", "etc"):
            os.makedirs(f"{rootfs}/{d}")
        shutil.copy("/bin/busybox", f"{rootfs}/bin/busybox")
        for x in ("sh", "true", "sleep"):
            os.symlink("busybox", f"{rootfs}/bin/{x}")
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(P + ["import", "-", "localhost/bb:latest"], stdin=tar.stdout, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tar.wait()
        subprocess.run(P + ["save", "--format", "oci-archive", "-o", f"{t}/bb.tar", "localhost/bb:latest"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(f"{t}/containerd.toml", "w") as f:
            f.write(f'''version = 2
root = "{t}/ctr-root"
state = "{t}/ctr-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{t}/containerd.sock"
[ttrpc]
  address = "{t}/containerd.sock.ttrpc"
[debug]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{t}/ctr-opt"
''')
        ctrd = subprocess.Popen(["containerd", "--config", f"{t}/containerd.toml"],
                                stdout=open(f"{t}/containerd.log", "w"), stderr=subprocess.STDOUT)
        C = ["ctr", "-a", f"{t}/containerd.sock", "-n", "bench"]
        for _ in range(100):
            if sh(C + ["version"]).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run(C + ["images", "import", "--base-name", "localhost/bb", f"{t}/bb.tar"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        img = [l for l in sh(C + ["images", "ls", "-q"]).stdout.split() if "localhost/bb" in l][0]
        bundle = f"{t}/bundle"
        os.makedirs(bundle)
        sh([rts["mote"], "spec", "--bundle", bundle])
        cfg = json.load(open(f"{bundle}/config.json"))
        cfg["root"]["path"] = rootfs
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = ["sleep", "1000"]
        json.dump(cfg, open(f"{bundle}/config.json", "w"))

        names = list(rts)
        for name in names:
            out["podman_run_rm_ms"][name] = []
            out["ctr_run_rm_ms"][name] = []
            out["hundred_ms"][name] = []
        print(f"clients: podman run --rm and ctr run --rm, x{a.n} per runtime ...", flush=True)
        for i in range(a.n):
            order = names[i % 3:] + names[:i % 3]
            for name in order:
                out["podman_run_rm_ms"][name].append(timed(
                    P + ["--runtime", rts[name], "run", "--rm", "--network", "none", "localhost/bb:latest", "true"]))
                out["ctr_run_rm_ms"][name].append(timed(
                    C + ["run", "--rm", "--runc-binary", rts[name], img, f"c{name}{i}", "true"]))
        print("clients: 100 containers created and deleted, x3 per runtime ...", flush=True)
        for rnd in range(3):
            order = names[rnd % 3:] + names[:rnd % 3]
            for name in order:
                root = f"{t}/root-{name}"
                ids = [f"mb{os.getpid():x}{name}{rnd}x{j}" for j in range(100)]
                start = time.monotonic()
                for cid in ids:
                    made.append((name, root, cid))
                    p = sh([rts[name], "--root", root, "create", "--bundle", bundle, cid])
                    if p.returncode != 0:
                        raise RuntimeError(f"{name} create {cid}: {p.stdout[-800:]}")
                for cid in ids:
                    p = sh([rts[name], "--root", root, "delete", "--force", cid])
                    if p.returncode != 0:
                        raise RuntimeError(f"{name} delete {cid}: {p.stdout[-800:]}")
                    made.remove((name, root, cid))
                out["hundred_ms"][name].append((time.monotonic() - start) * 1e3)
    finally:
        for name, root, cid in made:
            sh([rts[name], "--root", root, "delete", "--force", cid])
        if os.path.isdir(f"{t}/pm"):
            sh(P + ["rm", "-a", "-f", "-t", "0"])
            sh(P + ["rmi", "-a", "-f"])
        if ctrd:
            ctrd.terminate()
            ctrd.wait()
        # Mounts podman or containerd left under the directory, deepest first, then the files.
        for line in sorted((l.split()[4] for l in open("/proc/self/mountinfo") if l.split()[4].startswith(t)),
                           key=len, reverse=True):
            sh(["umount", "-l", line])
        shutil.rmtree(t, ignore_errors=True)
    for k in ("podman_run_rm_ms", "ctr_run_rm_ms", "hundred_ms"):
        print(f"{k}: " + ", ".join(f"{n} {sorted(v)[len(v) // 2]:.0f}" for n, v in out[k].items()))
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
