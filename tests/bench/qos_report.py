#!/usr/bin/python3
"""qos_report.py - the table and figures of tests/bench/qos_experiment.sh.

    qos_report.py [--scale S] [--rate R] [--seed N] [--figures DIR]
                  [--check] CSVDIR

CSVDIR holds load<L>-<config>.csv (id,size,start_s,fct_us per flow, from
flowgen run).  Prints, per load, mean and 99th-percentile FCT per size
bucket (small <= 100 KB * S, medium <= 10 MB * S, large above: PIAS's
buckets scaled like the sizes) and the large flows' mean throughput, with
ratios to the configuration "none".  With --figures: fct_cdf_small.png
(CDF of the small flows' FCT, first load) and fct_normalised.png (mean and
p99 FCT per bucket over "none", every load), and qos_experiment.txt (the
table).  --check: exit 1 unless qosmod-t20 has at most half of none's
small-flow mean and p99 FCT at the first load.
"""
import argparse
import csv
import glob
import os
import re
import sys

BUCKETS = ("small", "medium", "large")


def load_runs(d):
    runs = {}
    for path in sorted(glob.glob(os.path.join(d, "load*-*.csv"))):
        m = re.match(r"load([0-9.]+)-(.+)\.csv$", os.path.basename(path))
        if not m:
            continue
        with open(path) as f:
            rows = [(int(r["size"]), float(r["fct_us"]) / 1e3)
                    for r in csv.DictReader(f)]
        runs.setdefault(m.group(1), {})[m.group(2)] = rows
    return runs


def bucket(size, scale):
    if size <= 100e3 * scale:
        return "small"
    return "medium" if size <= 10e6 * scale else "large"


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))] if v else float("nan")


def stats(rows, scale):
    out = {}
    for b in BUCKETS:
        fct = [ms for s, ms in rows if bucket(s, scale) == b]
        tput = [s * 8 / (ms * 1e3) for s, ms in rows
                if bucket(s, scale) == b and ms > 0]
        out[b] = {"n": len(fct),
                  "mean": sum(fct) / len(fct) if fct else float("nan"),
                  "p99": pct(fct, 99),
                  "mbps": sum(tput) / len(tput) if tput else float("nan"),
                  "fct": fct}
    return out


def order(names):
    def key(n):
        m = re.match(r"qosmod-t(\d+)$", n)
        return (0, 0) if n == "none" else (1, int(m.group(1))) if m else (2, 0)
    return sorted(names, key=key)


def ratio(a, b):
    return a / b if b and b == b else float("nan")


def table(runs, scale):
    lines = []
    for load in sorted(runs, key=float):
        st = {c: stats(r, scale) for c, r in runs[load].items()}
        base = st.get("none")
        lines.append("load %s: FCT in ms (x none); large flows' mean Mbit/s"
                     % load)
        lines.append("%-12s %6s %16s %16s %16s %16s %16s %16s %14s" % (
            "config", "flows", "small mean", "small p99", "medium mean",
            "medium p99", "large mean", "large p99", "large Mbit/s"))
        for c in order(st):
            s, cells = st[c], []
            for b in BUCKETS:
                for k in ("mean", "p99"):
                    r = ratio(s[b][k], base[b][k]) if base else float("nan")
                    cells.append("%8.1f (x%4.2f)" % (s[b][k], r))
            r = ratio(s["large"]["mbps"], base["large"]["mbps"]) if base \
                else float("nan")
            cells.append("%6.1f (%+3.0f%%)" % (s["large"]["mbps"],
                                                (r - 1) * 100))
            n = sum(s[b]["n"] for b in BUCKETS)
            lines.append("%-12s %6d %s" % (c, n, " ".join(cells)))
        lines.append("buckets (bytes): small <= %d, medium <= %d, large above;"
                     " flows per bucket %s" % (
                         100e3 * scale, 10e6 * scale, "/".join(
                             str(base[b]["n"]) if base else "?"
                             for b in BUCKETS)))
        lines.append("")
    return "\n".join(lines)


def figures(runs, scale, d, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(d, exist_ok=True)
    loads = sorted(runs, key=float)
    first = runs[loads[0]]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for c in order(first):
        v = sorted(stats(first[c], scale)["small"]["fct"])
        ax.step(v, [(i + 1) / len(v) for i in range(len(v))], where="post",
                label=c)
    ax.set_xscale("log")
    ax.set_xlabel("flow completion time (ms, log)")
    ax.set_ylabel("fraction of small flows")
    ax.set_title("Small flows (<= %d KB), load %s, %s" % (
        100 * scale, loads[0], title))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(d, "fct_cdf_small.png"), dpi=110)
    plt.close(fig)
    norm_figure(plt, runs, scale, d, title)


def norm_figure(plt, runs, scale, d, title):
    loads = sorted(runs, key=float)
    fig, axes = plt.subplots(1, len(loads), figsize=(6.5 * len(loads), 4.5),
                             squeeze=False)
    for ax, load in zip(axes[0], loads):
        st = {c: stats(r, scale) for c, r in runs[load].items()}
        cs = [c for c in order(st) if c != "none"]
        w = 0.8 / max(1, len(cs))
        for i, c in enumerate(cs):
            for j, k in enumerate(("mean", "p99")):
                xs = [x * 2 + j + i * w for x in range(len(BUCKETS))]
                ys = [ratio(st[c][b][k], st["none"][b][k]) for b in BUCKETS]
                ax.bar(xs, ys, w, label=c if j == 0 else None,
                       color="C%d" % i, alpha=1.0 if k == "mean" else 0.55)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xticks([x * 2 + j + 0.4 - w / 2 for x in range(len(BUCKETS))
                       for j in (0, 1)])
        ax.set_xticklabels(["%s\n%s" % (b, k) for b in BUCKETS
                            for k in ("mean", "p99")], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("FCT / FCT without ITM (log)")
        ax.set_title("load %s, %s" % (load, title))
        ax.legend(fontsize=8)
        ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "fct_normalised.png"), dpi=110)
    plt.close(fig)


def check(runs, scale):
    load = sorted(runs, key=float)[0]
    st = {c: stats(r, scale) for c, r in runs[load].items()}
    if "none" not in st or "qosmod-t20" not in st:
        print("check: none and qosmod-t20 are needed")
        return 1
    m = ratio(st["qosmod-t20"]["small"]["mean"], st["none"]["small"]["mean"])
    p = ratio(st["qosmod-t20"]["small"]["p99"], st["none"]["small"]["p99"])
    ok = m <= 0.5 and p <= 0.5
    print("check: small flows with qosmod-t20: mean x%.2f, p99 x%.2f of none:"
          " %s (need both <= 0.5)" % (m, p, "PASS" if ok else "FAIL"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--rate", default="100mbit")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--figures")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("csvdir")
    a = ap.parse_args()
    runs = load_runs(a.csvdir)
    if not runs:
        sys.exit("qos_report: no load*-*.csv in %s" % a.csvdir)
    text = table(runs, a.scale)
    print(text)
    if a.figures:
        title = "%s core, seed %s" % (a.rate, a.seed)
        figures(runs, a.scale, a.figures, title)
        with open(os.path.join(a.figures, "qos_experiment.txt"), "w") as f:
            f.write(text + "\n")
        print("figures: %s/fct_cdf_small.png, fct_normalised.png" % a.figures)
    return check(runs, a.scale) if a.check else 0


if __name__ == "__main__":
    sys.exit(main())
