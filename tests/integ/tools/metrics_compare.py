#!/usr/bin/python3
"""metrics_compare.py STATS_JSON METRICS_TEXT: the class counters an
agent's /metrics shows equal `itmctl -o json stats` (same registrations,
same classes, same packets, bytes, flows and settled counts), and the
verdict-latency histogram counts what the queues handed up.  Exit 1 with
what differs."""
import json
import re
import sys

stats = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
series = {}
for line in text.splitlines():
    if not line or line.startswith("#"):
        continue
    m = sample.match(line)
    if not m:
        sys.exit("metrics: unparsable line: %r" % line)
    labels = tuple(sorted(label.findall(m.group(3) or "")))
    series[(m.group(1), labels)] = float(m.group(4))

fields = ["packets", "bytes", "flows", "settled_packets", "settled_bytes"]
want = {}
for mod in stats["modules"]:
    for reg in mod.get("registrations", []):
        for c in reg.get("classes", []):
            hook = str(reg.get("hook", "HOOK_PRE_ROUTE")).replace("HOOK_", "")
            key = (("class", c["name"]), ("hook", hook),
                   ("module", mod["module"]), ("registration", reg["label"]))
            for f in fields:
                want[("itm_class_%s_total" % f, key)] = float(c.get(f, 0))
got = {k: v for k, v in series.items() if k[0].startswith("itm_class_")}
bad = [k for k in set(want) | set(got) if want.get(k) != got.get(k)]
for k in sorted(bad):
    print("differs: %s%s stats=%s metrics=%s" % (k[0], dict(k[1]),
          want.get(k), got.get(k)))
if bad or not want:
    sys.exit("class counters on /metrics differ from itmctl stats"
             if bad else "no classes in itmctl stats")

queued = sum(v for (n, _), v in series.items()
             if n == "itm_queue_packets_total")
hist = sum(v for (n, _), v in series.items()
           if n == "itm_verdict_latency_seconds_count")
if queued <= 0 or hist != queued:
    sys.exit("verdict latency counts %d packets, the queues %d"
             % (hist, queued))
print("metrics ok: %d series equal itmctl stats; %d packets queued, "
      "all in the latency histogram" % (len(want), queued))
