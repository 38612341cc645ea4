#!/usr/bin/env python3
"""The clients' view, side by side in one run (run as root; a benchmark, not a test):

  bench/clients.py [-n N] [--json FILE] MOTE CRUN RUNC

- `podman run --rm IMAGE true` wall time with each runtime as podman's --runtime (conmon in
  between, as users run it; with --ulimit nofile and nproc that this machine's hard limits
  allow: podman's defaults exceed them and every runtime's setrlimit fails);
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import progress, progress_done  # noqa: E402


# The cgroups podman and containerd make for their containers' parents (podman's cgroupfs
# manager: libpod_parent, with conmon's; containerd: its namespace, "bench"), left when empty.
CLIENT_CGROUPS = ("libpod_parent", "bench")


def client_cgroups():
    found = set()
    for h in os.listdir("/sys/fs/cgroup"):
        for top in CLIENT_CGROUPS:
            for d, _, _ in os.walk(f"/sys/fs/cgroup/{h}/{top}"):
                found.add(d)
    return found


def sh(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def detached(cmd):
    """Run a runtime verb whose container outlives it (create): its stdout and stderr are no
    pipes, or the container's process would hold them open and the wait for EOF never end."""
    with tempfile.TemporaryFile(mode="w+") as err:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, text=True)
        err.seek(0)
        p.stdout = err.read()
    return p


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
    cgroups_before = client_cgroups()
    t = tempfile.mkdtemp(prefix="mote-bench-clients.")
    ctrd = None
    made = []  # (runtime, root, id) for cleanup
    out = {"n": a.n, "podman_run_rm_ms": {}, "ctr_run_rm_ms": {}, "hundred_ms": {}}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    holder = None
    own = {k: [v] for k, v in rts.items()}
    # overlay.skip_mount_home: podman's storage would make its directory a private mount, and
    # its rootfs mounts could not reach crun's namespace (below); the same for every runtime.
    P = ["podman", "--root", f"{t}/pm", "--runroot", f"{t}/pmrun", "--tmpdir", f"{t}/pmtmp",
         "--cgroup-manager", "cgroupfs", "--events-backend", "file",
         "--storage-opt", "overlay.skip_mount_home=true"]
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
        cfg["ociVersion"] = "1.0.2"  # crun 1.8.1 knows no later one
        cfg["root"]["path"] = rootfs
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = ["sleep", "1000"]
        json.dump(cfg, open(f"{bundle}/config.json", "w"))

        # crun 1.8.1 refuses a hybrid host (controllers in cgroup2): as bench.sh does, it runs in
        # a mount namespace where /sys/fs/cgroup/unified is an empty tmpfs. That namespace is a
        # slave of this directory, made a shared mount first, so the rootfs mounts podman and
        # containerd make here later reach it; podman and containerd call crun through a
        # wrapper that enters it (nsenter: one exec more per crun command, in crun's figures).
        holder = None
        if os.path.isdir("/sys/fs/cgroup/unified") and os.path.isdir("/sys/fs/cgroup/memory"):
            subprocess.run(["mount", "--bind", t, t], check=True)
            subprocess.run(["mount", "--make-shared", t], check=True)
            holder = subprocess.Popen(["unshare", "-m", "--propagation", "slave", "sh", "-c",
                                       "umount /sys/fs/cgroup/unified 2>/dev/null; "
                                       "mount -t tmpfs none /sys/fs/cgroup/unified && echo ready && exec sleep infinity"],
                                      stdout=subprocess.PIPE, text=True)
            holder.stdout.readline()
        own = {k: [v] for k, v in rts.items()}
        if holder:
            own["crun"] = ["nsenter", f"--mount=/proc/{holder.pid}/ns/mnt", rts["crun"]]
            wrapper = f"{t}/crun-in-its-namespace"
            with open(wrapper, "w") as f:
                f.write(f'#!/bin/sh\nexec nsenter --mount=/proc/{holder.pid}/ns/mnt {rts["crun"]} "$@"\n')
            os.chmod(wrapper, 0o755)
            rts["crun"] = wrapper
        names = list(rts)
        for name in names:
            out["podman_run_rm_ms"][name] = []
            out["ctr_run_rm_ms"][name] = []
            out["hundred_ms"][name] = []
        print(f"clients: podman run --rm and ctr run --rm, x{a.n} per runtime ...", flush=True)
        # A runtime a client cannot use on this host (crun refuses a hybrid cgroup layout with
        # controllers in cgroup2) is measured as n/a with the reason, and not tried again.
        out["errors"] = {}
        for i in range(a.n):
            progress(f"clients: round {i + 1}/{a.n}")
            order = names[i % 3:] + names[:i % 3]
            for name in order:
                for key, cmd in (
                    ("podman_run_rm_ms", P + ["--runtime", rts[name], "run", "--rm", "--network", "none",
                                              "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",
                                              "localhost/bb:latest", "true"]),
                    ("ctr_run_rm_ms", C + ["run", "--rm", "--runc-binary", rts[name], img, f"c{name}{i}", "true"]),
                ):
                    if f"{key}/{name}" in out["errors"]:
                        continue
                    try:
                        out[key][name].append(timed(cmd))
                    except RuntimeError as e:
                        msg = str(e).split(": exit ", 1)[-1].strip().splitlines()[-1][-300:]
                        out["errors"][f"{key}/{name}"] = msg
                        out[key][name] = []
                        print(f"clients: {key} with {name}: failed, left out: {msg}", flush=True)
                        if name == "mote":
                            raise
        progress_done()
        print("clients: 100 containers created and deleted, x3 per runtime ...", flush=True)
        for rnd in range(3):
            order = names[rnd % 3:] + names[:rnd % 3]
            for name in order:
                progress(f"clients: 100 containers, round {rnd + 1}/3, {name}")
                if f"hundred_ms/{name}" in out["errors"]:
                    continue
                root = f"{t}/root-{name}"
                ids = [f"mb{os.getpid():x}{name}{rnd}x{j}" for j in range(100)]
                start = time.monotonic()
                for cid in ids:
                    made.append((name, root, cid))
                    p = detached(own[name] + ["--root", root, "create", "--bundle", bundle, cid])
                    if p.returncode != 0:
                        if name == "mote":
                            raise RuntimeError(f"{name} create {cid}: {p.stdout[-800:]}")
                        made.remove((name, root, cid))
                        out["errors"][f"hundred_ms/{name}"] = p.stdout.strip().splitlines()[-1][-300:]
                        print(f"clients: 100 containers with {name}: failed, left out: "
                              f"{out['errors'][f'hundred_ms/{name}']}", flush=True)
                        break
                if f"hundred_ms/{name}" in out["errors"]:
                    out["hundred_ms"][name] = []
                    for cid in [c for r, _, c in made if r == name]:
                        detached(own[name] + ["--root", root, "delete", "--force", cid])
                    made[:] = [m for m in made if m[0] != name]
                    continue
                for cid in ids:
                    p = detached(own[name] + ["--root", root, "delete", "--force", cid])
                    if p.returncode != 0:
                        raise RuntimeError(f"{name} delete {cid}: {p.stdout[-800:]}")
                    made.remove((name, root, cid))
                out["hundred_ms"][name].append((time.monotonic() - start) * 1e3)
    finally:
        progress_done()
        for name, root, cid in made:
            detached(own[name] + ["--root", root, "delete", "--force", cid])
        if holder:
            holder.kill()
            holder.wait()
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
        # The cgroup parents the clients made during this run, deepest first, when empty.
        for d in sorted(client_cgroups() - cgroups_before, key=len, reverse=True):
            try:
                os.rmdir(d)
            except OSError as e:
                print(f"clients: cgroup {d} left: {e.strerror}", flush=True)
    for k in ("podman_run_rm_ms", "ctr_run_rm_ms", "hundred_ms"):
        print(f"{k}: " + ", ".join(f"{n} {sorted(v)[len(v) // 2]:.0f}" if v else f"{n} n/a" for n, v in out[k].items()))
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
