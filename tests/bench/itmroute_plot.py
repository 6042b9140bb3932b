#!/usr/bin/python3
"""itmroute_plot.py T0 PINGS ROUTES EVENTS OUT.png - the figure of
itmroute_bench.sh's time series: r1's candidate paths to r4 (smoothed RTT
as itmroute measures them), the path it chose, and the pings r1 sent every
10 ms with their RTT when answered, while the lab impaired r1 - r4.

PINGS is `ping -D` output, ROUTES lines of "UNIXTIME {itmctl -o json
routes}", EVENTS lines of "UNIXTIME what"."""
import json
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    t0, ping_f, routes_f, events_f, out = sys.argv[1:6]
    t0 = float(t0)
    rx = []
    for line in open(ping_f):
        m = re.search(r"^\[([0-9.]+)\].*icmp_seq=([0-9]+).*time=([0-9.]+)", line)
        if m:
            rx.append((float(m.group(1)) - t0, int(m.group(2)),
                       float(m.group(3))))
    cand, chosen = {}, []
    for line in open(routes_f):
        ts, _, js = line.partition(" ")
        try:
            rep = json.loads(js)
        except ValueError:
            continue
        t = float(ts) - t0
        for r in rep.get("routes", []):
            if r["destination"] != "r4":
                continue
            for p in r["paths"]:
                name = "via " + p["via"] if p["via"] else "direct"
                cand.setdefault(name, []).append(
                    (t, p["rtt_us"] / 1000 if p["alive"] else None))
            chosen.append((t, "via " + r["via"] if r["via"] else "direct"))
    events = [(float(a) - t0, b) for a, _, b in
              (l.strip().partition(" ") for l in open(events_f)) if a]

    fig, ax = plt.subplots(3, 1, figsize=(10, 8), sharex=True,
                           gridspec_kw={"height_ratios": [3, 1, 2]})
    for name, pts in sorted(cand.items()):
        ax[0].plot([t for t, v in pts], [v for t, v in pts], label=name)
    ax[0].set_ylabel("candidate RTT (ms)\n(itmroute's srtt)")
    ax[0].set_yscale("log")
    ax[0].legend(loc="upper right")
    names = sorted(set(c for _, c in chosen))
    ax[1].step([t for t, _ in chosen], [names.index(c) for _, c in chosen],
               where="post")
    ax[1].set_yticks(range(len(names)))
    ax[1].set_yticklabels(names)
    ax[1].set_ylabel("path in use")
    ax[2].plot([t for t, _, _ in rx], [v for _, _, v in rx], ".", ms=2)
    ax[2].set_ylabel("ping r1 -> r4\nRTT (ms), delivered")
    ax[2].set_yscale("log")
    ax[2].set_xlabel("seconds")
    for a in ax:
        for t, what in events:
            a.axvline(t, color="grey", ls="--", lw=0.8)
    for t, what in events:
        ax[0].annotate(what, (t, 1), xycoords=("data", "axes fraction"),
                       xytext=(3, -12), textcoords="offset points",
                       fontsize=8)
    fig.suptitle("itmroute: r1 -> r4, 200 ms added, cleared, cut, restored")
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main()
