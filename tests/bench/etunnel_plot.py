#!/usr/bin/python3
"""Analysis and plot of tests/bench/etunnel_experiment.sh.

    etunnel_plot.py TMPDIR T0 TARGET_MBIT RATE_MBIT OUTDIR [CC]

Reads TMPDIR/rx.log (time, the bytes h2's TCP received on the
tunnelled and on the plain flow), user.json (iperf3 -J -i 0.5 of the
tunnelled flow, a cross-check), pool.log (time, the entry's `itmctl -o
json stats`) and steps (time, k); writes OUTDIR/etunnel_experiment.csv (the samples),
.txt (the table per step) and .png (the time series)."""
import json
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def flow(path, t0):
    """[(t, mbit/s, s)] at each interval's end (t from T0), its length."""
    with open(path) as f:
        text = f.read()
    data = json.loads(text[text.index("{"):])
    # The receiver's intervals (--get-server-output): what arrived.
    data = data.get("server_output_json", data)
    return [(iv["sum"]["end"], iv["sum"]["bits_per_second"] / 1e6,
             iv["sum"]["seconds"]) for iv in data.get("intervals", [])]


def received(path, t0, step=0.5):
    """Two [(t, mbit/s)], the user's and the plain flow's, in step-s bins:
    h2's bytes_received (rx.log: time, user bytes, plain bytes), made
    monotone (a socket that closes drops out of the sum) and
    interpolated at the bin edges."""
    rows = []
    with open(path) as f:
        for line in f:
            v = line.split()
            if len(v) == 3:
                rows.append((float(v[0]) - t0, int(v[1]), int(v[2])))
    out = []
    for col in (1, 2):
        cum, last, total = [], None, 0
        for r in rows:
            if last is not None:
                total += max(0, r[col] - last)
            last = r[col]
            cum.append((r[0], total))
        out.append(binned(cum, step))
    return out


def binned(cum, step):
    def at(t):
        for (ta, a), (tb, b) in zip(cum, cum[1:]):
            if ta <= t <= tb:
                return a + (b - a) * (t - ta) / (tb - ta) if tb > ta else b
        return None
    series, t = [], step
    while cum and t <= cum[-1][0]:
        a, b = at(t - step), at(t)
        if a is not None and b is not None:
            series.append((t, (b - a) * 8 / step / 1e6))
        t += step
    return series


def pool(path, t0):
    """[(t, conns, wanted, state, goodput mbit/s, entry drops, % of the
    pool's connection-time in timeout recovery, last interval)]."""
    out = []
    with open(path) as f:
        for line in f:
            ts, _, js = line.partition(" ")
            try:
                mods = json.loads(js)["modules"]
            except (ValueError, KeyError):
                continue
            c = {}
            for m in mods:
                for k in m.get("counters", []):
                    c[k["name"]] = k["value"]
            out.append((float(ts) - t0, c.get("conns", 0),
                        c.get("conns_wanted", 0), c.get("state", 0),
                        c.get("goodput_kbps", 0) / 1000,
                        c.get("entry_drops", 0), c.get("rto_pct", 0)))
    return out


def steps(path, t0, end):
    with open(path) as f:
        rows = [line.split() for line in f if line.strip()]
    st = [(float(ts) - t0, int(k)) for ts, k in rows]
    return [(t, k, st[i + 1][0] if i + 1 < len(st) else end)
            for i, (t, k) in enumerate(st)]


def mean_err(s, start, reach, span, target):
    """The median absolute error (%) of the span-s means of the samples
    @s, sliding by a sample, from @reach on (None: never reached)."""
    means = [(t, statistics.mean(r for u, r in s if t - span < u <= t))
             for t, _ in s if t - span >= start]
    after = [r for t, r in means if reach is not None and t >= reach]
    return statistics.median(abs(r - target) / target * 100
                             for r in after) if after else None


def step_row(start, k, end, user, plain, app, pl, target, rate):
    s = [(t, r) for t, r in user if start < t <= end]
    reach = next((t for t, r in s if abs(r - target) <= 0.1 * target),
                 None)
    after = [r for t, r in s if reach is not None and t >= reach]
    err = statistics.median(abs(r - target) / target * 100
                            for r in after) if after else None
    over = max([0.0] + [(r - target) / target * 100 for r in after])
    conns = [p[1] for p in pl if start < p[0] <= end]
    entry = [p[4] for p in pl if start < p[0] <= end]
    err1 = mean_err(s, start, reach, 1, target)
    err2 = mean_err(s, start, reach, 2, target)
    pr = [r for t, r in plain if start < t <= end]
    ar = [(r * d, d) for t, r, d in app if start < t <= end]
    return {
        "k": k, "start": start,
        "reach": None if reach is None else reach - start,
        "err": err, "over": over if after else None,
        "pool": statistics.median(conns) if conns else 0,
        "pool_max": max(conns) if conns else 0,
        "user": statistics.median(r for _, r in s) if s else 0,
        "err1": err1, "err2": err2,
        "entry": statistics.median(entry) if entry else 0,
        "plain": statistics.median(pr) if pr else 0,
        "app": sum(b for b, _ in ar) / sum(d for _, d in ar) if ar else 0,
        "alone": rate / (k + 1),
    }


def fmt(v, f):
    return "-" if v is None else f % v


def table(rows, target, cc):
    lines = ["target %.0f Mbit/s, every flow %s; per step, medians over 0.5 s samples "
             "of what h2's TCP received (err 1s, 2s: of 1 s and 2 s means; entry: the "
             "pool's goodput as its controller measures it; iperf3: the "
             "rate over the iperf3 server's own intervals)" % (target, cc),
             "%4s %7s %9s %10s %8s %8s %10s %6s %9s %9s %9s %9s %9s" %
             ("k", "start s", "reach s", "med err %", "err 1s %", "err 2s %",
              "overshoot%", "pool", "tunnel", "entry", "iperf3", "plain",
              "C/(k+1)")]
    for r in rows:
        lines.append(
            "%4d %7.1f %9s %10s %8s %8s %10s %6s %9.1f %9.1f %9.1f %9.1f "
            "%9.1f" % (
                r["k"], r["start"], fmt(r["reach"], "%.1f"),
                fmt(r["err"], "%.1f"), fmt(r["err1"], "%.1f"),
                fmt(r["err2"], "%.1f"),
                fmt(r["over"], "%.1f"),
                "%g-%d" % (r["pool"], r["pool_max"]), r["user"],
                r["entry"], r["app"], r["plain"], r["alone"]))
    return "\n".join(lines) + "\n"


def plot(path, user, plain, pl, st, target, cc):
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.plot([t for t, _ in user], [r for _, r in user],
            label="through the tunnel (0.5 s)", color="tab:blue", alpha=0.5)
    mean2 = [(t, statistics.mean(r for u, r in user if t - 2 < u <= t))
             for t, _ in user if t >= 2]
    ax.plot([t for t, _ in mean2], [r for _, r in mean2],
            label="through the tunnel (2 s mean)", color="tab:blue",
            linewidth=2)
    ax.plot([t for t, _ in plain], [r for _, r in plain],
            label="without the tunnel", color="tab:gray", alpha=0.7)
    ax.plot([p[0] for p in pl], [p[4] for p in pl], color="tab:purple",
            linestyle=":", label="pool goodput (entry)")
    ax.axhline(target, color="tab:red", linestyle="--", label="target")
    ax.set_xlabel("time, s")
    ax.set_ylabel("Mbit/s")
    ax2 = ax.twinx()
    ax2.step([p[0] for p in pl], [p[1] for p in pl], where="post",
             color="tab:green", label="pool size")
    xs, ks = [], []
    for t, k, end in st:
        xs += [t, end]
        ks += [k, k]
    ax2.plot(xs, ks, color="tab:orange", label="k competing flows")
    ax2.set_ylabel("connections / flows")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize="small")
    ax.set_title("elastic tunnel: target %.0f Mbit/s at a shared bottleneck"
                 " (%s)" % (target, cc))
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    tmp, t0, target, rate, out = sys.argv[1:6]
    cc = sys.argv[6] if len(sys.argv) > 6 else "the system's TCP"
    t0, target, rate = float(t0), float(target), float(rate)
    app = flow(os.path.join(tmp, "user.json"), t0)
    user, plain = received(os.path.join(tmp, "rx.log"), t0)
    pl = pool(os.path.join(tmp, "pool.log"), t0)
    end = user[-1][0] if user else 0
    st = steps(os.path.join(tmp, "steps"), t0, end)
    rows = [step_row(s, k, e, user, plain, app, pl, target, rate)
            for s, k, e in st]
    base = os.path.join(out, "etunnel_experiment")
    with open(base + ".txt", "w") as f:
        f.write(table(rows, target, cc))
    with open(base + ".csv", "w") as f:
        f.write("t,tunnel_mbit,plain_mbit,pool,wanted,state,entry_drops,"
                "entry_goodput_mbit,rto_pct\n")
        for i, (t, r) in enumerate(user):
            p = min(pl, key=lambda p: abs(p[0] - t)) if pl else (0,) * 7
            pr = plain[i][1] if i < len(plain) else ""
            f.write("%.2f,%.2f,%s,%d,%d,%d,%d,%.2f,%d\n" % (
                t, r, pr if pr == "" else "%.2f" % pr, p[1], p[2], p[3],
                p[5], p[4], p[6]))
    plot(base + ".png", user, plain, pl, st, target, cc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
