#!/usr/bin/env python3
"""Render bench/report.sh's measurements as a markdown report with SVG bar charts.

  bench/report.py DIR      (reads DIR/runtime.json, clients.json, supervisor.txt, sizes.json,
                            machine.json; writes DIR/report.md and DIR/*.svg)

Each bar is a median; the thin line through it spans the smallest and largest sample (the
min-max spread) where there are samples. No plotting library: the SVG is written here.
"""
import json
import math
import os
import sys

COLORS = {"mote": "#2b8a3e", "crun": "#1c7ed6", "runc": "#e8590c",
          "mote supervise": "#2b8a3e", "podman + conmon": "#1c7ed6", "containerd + shims": "#e8590c"}


def med(xs):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def num(v, unit):
    if v != v:
        return "n/a"
    if unit == "B":
        return f"{v / 1000:.0f} KB" if v < 10e6 else f"{v / 1e6:.1f} MB"
    if unit == "KiB":
        return f"{v:.0f} KiB" if v < 10240 else f"{v / 1024:.1f} MiB"
    return f"{v:.1f} {unit}" if v < 100 else f"{v:.0f} {unit}"


def chart(path, title, unit, groups, log=False, note=""):
    """groups: [(group label, [(series, median, lo, hi)])]; lo/hi None without samples."""
    series = []
    for _, bars in groups:
        for s, *_ in bars:
            if s not in series:
                series.append(s)
    bw, gap, left, top, h = 26, 40, 90, 40, 220
    legend = sum(20 + 7 * len(s) for s in series)
    width = max(left + sum(len(b) * bw + gap for _, b in groups) + 20, left + 8 * len(title), left + legend + 20)
    height = top + h + 80
    vals = [v for _, b in groups for _, m, lo, hi in b for v in (m, hi) if v is not None and v == v and v > 0]
    vmax = max(vals) if vals else 1
    vmin = min(vals) if vals else 1
    if log:
        lo_e = math.floor(math.log10(vmin)) if vmin > 0 else 0
        if vmin < 3 * 10 ** lo_e:  # a decade more below, so the smallest bar has a height
            lo_e -= 1
        hi_e = math.ceil(math.log10(vmax)) or 1
        if hi_e == lo_e:
            hi_e += 1

        def y(v):
            v = max(v, 10 ** lo_e)
            return top + h - (math.log10(v) - lo_e) / (hi_e - lo_e) * h
        ticks = [10 ** e for e in range(lo_e, hi_e + 1)]
    else:
        step = 10 ** math.floor(math.log10(vmax))
        for m in (1, 2, 5, 10):
            if vmax / (step * m) <= 5:
                step *= m
                break
        ymax = step * math.ceil(vmax / step)

        def y(v):
            return top + h - v / ymax * h
        ticks = [step * i for i in range(int(round(ymax / step)) + 1)]
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'font-family="sans-serif" font-size="11">',
         f'<rect width="{width}" height="{height}" fill="white"/>',
         f'<text x="{left}" y="18" font-size="13" font-weight="bold">{esc(title)}</text>']
    for tv in ticks:
        ty = y(tv)
        o.append(f'<line x1="{left - 4}" x2="{width - 10}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#ddd"/>')
        tl = f"{tv:,.0f} {unit}" if log else num(tv, unit)
        o.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{esc(tl)}</text>')
    x = left + gap / 2
    for label, bars in groups:
        gx = x
        for s, m, lo, hi in bars:
            if m is None or m != m:
                x += bw
                continue
            c = COLORS.get(s, "#868e96")
            o.append(f'<rect x="{x:.1f}" y="{y(m):.1f}" width="{bw - 4}" height="{top + h - y(m):.1f}" fill="{c}">'
                     f'<title>{esc(s)}: {esc(num(m, unit))}</title></rect>')
            if lo is not None and hi is not None:
                cx = x + (bw - 4) / 2
                o.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(hi):.1f}" y2="{y(lo):.1f}" stroke="black"/>')
                for v in (lo, hi):
                    o.append(f'<line x1="{cx - 4:.1f}" x2="{cx + 4:.1f}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="black"/>')
            x += bw
        # A label "a: b" on two lines, so neighbours do not overlap.
        parts = label.split(": ", 1)
        for k, part in enumerate(parts):
            o.append(f'<text x="{(gx + x - 4) / 2:.1f}" y="{top + h + 14 + 12 * k}" text-anchor="middle">{esc(part)}</text>')
        x += gap
    lx = left
    for s in series:
        o.append(f'<rect x="{lx}" y="{top + h + 42}" width="10" height="10" fill="{COLORS.get(s, "#868e96")}"/>')
        o.append(f'<text x="{lx + 14}" y="{top + h + 51}">{esc(s)}</text>')
        lx += 20 + 7 * len(s)
    if note:
        o.append(f'<text x="{left}" y="{top + h + 70}" fill="#555">{esc(note)}</text>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def spread(xs):
    return (med(xs), min(xs), max(xs)) if xs else (float("nan"), None, None)


def main():
    d = sys.argv[1]
    md = []
    machine = json.load(open(f"{d}/machine.json"))
    md.append(f"# mote side by side with crun and runc\n")
    md.append(f"Measured {machine['date']} on {machine['host']}: {machine['cpu']}, {machine['cpus']} CPUs, "
              f"{machine['mem']}, kernel {machine['kernel']}, cgroup {machine['cgroup']}; mote "
              f"{machine['mote']}, {machine['crun']}, {machine['runc']}, {machine['podman']}, "
              f"{machine['containerd']}. Made by `bench/report.sh` in one run; each chart's bar is the "
              f"median, the line through it the smallest to the largest sample.\n")

    rt = json.load(open(f"{d}/runtime.json"))
    s = rt["samples"]
    names = ["mote", "crun", "runc"]
    chart(f"{d}/runtime.svg", f"`run` of busybox true, and create+start+delete (n={rt['n']} each)", "ms",
          [("run: CPU", [(k, *spread(s[k]["run_cpu_ms"])) for k in names]),
           ("run: wall", [(k, *spread(s[k]["run_wall_ms"])) for k in names]),
           ("create+start+delete: CPU", [(k, *spread(s[k]["lifecycle_cpu_ms"])) for k in names]),
           ("create+start+delete: wall", [(k, *spread(s[k]["lifecycle_wall_ms"])) for k in names])])
    chart(f"{d}/rss.svg", "peak RSS of `run`", "KiB",
          [("runtime alone (tiny payload)", [(k, *spread(s[k]["tiny_rss_kib"])) for k in names]),
           ("with busybox", [(k, *spread(s[k]["run_rss_kib"])) for k in names])])
    md.append("## The runtime\n")
    md.append("![run](runtime.svg)\n\n![rss](rss.svg)\n")
    md.append("| figure | mote | crun | runc | mote/crun | mote/runc |\n|---|---:|---:|---:|---:|---:|")
    for f in rt["figures"]:
        v = f["values"]
        r = lambda a, b: f"{a / b:.2f}x" if a and b and a == a and b == b else "n/a"
        md.append(f"| {f['label']} | {num(v['mote'], f['unit'])} | {num(v['crun'], f['unit'])} | "
                  f"{num(v['runc'], f['unit'])} | {r(v['mote'], v['crun'])} | {r(v['mote'], v['runc'])} |")
    md.append("\nCPU is user+system time of the runtime's processes (and what they left for the bench to "
              "reap), from wait4's rusage; wall from fork to exit; peak RSS is the largest resident set "
              "of the process tree (%M); syscalls are `strace -f -c` of one `run`. bench/README.md "
              "says more about each.\n")

    if os.path.exists(f"{d}/runtime-only.json"):
        ro = json.load(open(f"{d}/runtime-only.json"))
        full = {f["label"]: f["values"] for f in rt["figures"]}
        md.append("### The runtime-only build\n")
        md.append("`cargo build --release --no-default-features`: the OCI runtime without the supervisor "
                  "and `mote deploy` (README \"Building\"), measured by a second bench.sh run right after "
                  "the first, with crun beside it again.\n")
        md.append("| figure | mote (default build) | mote (runtime only) | crun | runtime only/crun |\n"
                  "|---|---:|---:|---:|---:|")
        for f in ro["figures"]:
            if not any(f["label"].startswith(p) for p in ("run: CPU", "run: wall", "run: peak RSS, runtime",
                                                          "run: syscalls", "create+start+delete+init", "binary size")):
                continue
            v = f["values"]
            r = f"{v['mote'] / v['crun']:.2f}x" if v.get("mote") and v.get("crun") else "n/a"
            md.append(f"| {f['label']} | {num(full.get(f['label'], {}).get('mote', float('nan')), f['unit'])} | "
                      f"{num(v['mote'], f['unit'])} | {num(v['crun'], f['unit'])} | {r} |")
        md.append("")

    if os.path.exists(f"{d}/clients.json"):
        c = json.load(open(f"{d}/clients.json"))
        chart(f"{d}/clients.svg", f"through the clients (n={c['n']}; 100 containers: 3 batches)", "ms",
              [("podman run --rm", [(k, *spread(c["podman_run_rm_ms"][k])) for k in names]),
               ("ctr run --rm", [(k, *spread(c["ctr_run_rm_ms"][k])) for k in names]),
               ("100 created, then deleted", [(k, *spread(c["hundred_ms"][k])) for k in names])], log=True)
        md.append("## Through podman and containerd\n\n![clients](clients.svg)\n")
        md.append("| wall time, median | mote | crun | runc | mote/crun | mote/runc |\n|---|---:|---:|---:|---:|---:|")
        for key, label in (("podman_run_rm_ms", "`podman run --rm IMAGE true` (conmon, podman's runtime)"),
                           ("ctr_run_rm_ms", "`ctr run --rm` (containerd's runc shim, --runc-binary)"),
                           ("hundred_ms", "100 containers created, then deleted (the runtime's CLI)")):
            m = {k: med(c[key][k]) for k in names}
            f = lambda v: "n/a" if v != v else f"{v:.0f} ms"
            r = lambda a, b: "n/a" if a != a or b != b else f"{a / b:.2f}x"
            md.append(f"| {label} | {f(m['mote'])} | {f(m['crun'])} | {f(m['runc'])} | "
                      f"{r(m['mote'], m['crun'])} | {r(m['mote'], m['runc'])} |")
        for k, e in c.get("errors", {}).items():
            md.append(f"\nn/a: {k.replace('_run_rm_ms', ' run --rm').replace('hundred_ms', '100 containers').replace('/', ' with ')}: {e}")
        md.append("\ncrun 1.8.1 refuses this machine's hybrid cgroup layout; as in bench.sh it runs in a mount "
                  "namespace where cgroup2 is hidden, entered with nsenter (one exec more per crun command, "
                  "counted in its time): its own commands (the 100 containers) directly, podman and containerd "
                  "through a wrapper script. That namespace is a slave of the benchmark's directory, made a "
                  "shared mount, so podman's and containerd's rootfs mounts reach it; podman runs with "
                  "overlay.skip_mount_home for every runtime, for the same reason.")
        md.append("\nMost of a client's wall time is the client's own (podman's image and network setup, "
                  "containerd's shim start); the runtime's share is what differs between the bars.\n")

    if os.path.exists(f"{d}/supervisor.txt"):
        rows = {}
        counts = []
        for line in open(f"{d}/supervisor.txt"):
            if line.startswith("monitor"):
                counts = [x for x in line.split()[1:] if x.startswith("N=")]
            for key, label in (("mote supervise", "mote supervise"), ("podman:", "podman + conmon"),
                               ("containerd +", "containerd + shims")):
                if line.startswith(key):
                    nums = [int(x) for x in line.split() if x.isdigit()]
                    rows[label] = nums[:len(counts)]
        if rows and counts:
            chart(f"{d}/supervisor.svg", "RSS of what keeps N containers running (log scale)", "KiB",
                  [(n, [(k, float(v[i]), None, None) for k, v in rows.items() if i < len(v)])
                   for i, n in enumerate(counts)], log=True)
            md.append("## Keeping containers running\n\n![supervisor](supervisor.svg)\n")
            md.append("| KiB | " + " | ".join(counts) + " |\n|---|" + "---:|" * len(counts))
            for k, v in rows.items():
                md.append(f"| {k} | " + " | ".join(str(x) for x in v) + " |")
            md.append("\nThe resident memory of the monitors only (mote supervise; conmon per container, "
                      "podman itself exits; containerd and a shim per container), with mote as the runtime "
                      "under all three; busybox `sleep` containers (bench/supervisor.sh rss).\n")

    if os.path.exists(f"{d}/sizes.json"):
        z = json.load(open(f"{d}/sizes.json"))
        archs = ["amd64", "arm64", "armhf"]
        chart(f"{d}/sizes.svg", "installed size of the packages (Debian's crun and runc; mote's own .deb)", "B",
              [(a, [(k, float(z[k][a]) if z.get(k, {}).get(a) else None, None, None) for k in names])
               for a in archs])
        md.append("## Size\n\n![sizes](sizes.svg)\n")
        md.append("| installed size | " + " | ".join(archs) + " |\n|---|---:|---:|---:|")
        for k in names:
            md.append(f"| {k} ({z.get(k, {}).get('what', '')}) | "
                      + " | ".join(num(float(z[k][a]), "B") if z.get(k, {}).get(a) else "n/a" for a in archs) + " |")
        md.append("\nmote's is one static binary with the supervisor and `mote deploy` in it; crun's and "
                  "runc's are Debian bookworm's packages (Installed-Size), which also need the shared "
                  "libraries they link (libseccomp, libyajl, libcap, systemd's for crun).\n")
    with open(f"{d}/report.md", "w") as f:
        f.write("\n".join(md) + "\n")
    print(f"{d}/report.md")


if __name__ == "__main__":
    main()
