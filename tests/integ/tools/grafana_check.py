#!/usr/bin/python3
"""grafana_check.py SRC: deploy/grafana/itm-overlay.json is a dashboard
Grafana can import and keyed on metrics the daemons serve.

 - every panel's expression is valid PromQL (`promtool check rules` on a
   rule file holding them as recording rules);
 - every itm_ metric it names, but for itm_module_* (what modules
   register, see metrics/modctr.h), is one agent/metrics*.c or
   controller/ctl_metrics.c exports (histograms by their _bucket);
 - panel ids are unique, every panel has a position.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

src = sys.argv[1]
dash = json.load(open(os.path.join(src, "deploy/grafana/itm-overlay.json")))
if shutil.which("promtool") is None:
    sys.exit("promtool is missing (run deploy/install-deps.sh)")

exported = set()
for f in glob.glob(os.path.join(src, "agent/metrics*.c")) + \
        [os.path.join(src, "controller/ctl_metrics.c")]:
    exported |= set(re.findall(r'"(itm_[a-z_]+)"', open(f).read()))

exprs, ids = [], set()
for p in dash["panels"]:
    if p["id"] in ids or "gridPos" not in p:
        sys.exit("panel %r: duplicate id or no gridPos" % p.get("title"))
    ids.add(p["id"])
    exprs += [(p["title"], t["expr"]) for t in p.get("targets", [])]
if not exprs:
    sys.exit("no expressions in the dashboard")

bad = []
for title, e in exprs:
    for name in re.findall(r'\b(itm_[a-z_]+)', e):
        if name.startswith("itm_module_"):
            continue
        base = re.sub(r'_bucket$', '', name)
        if base not in exported:
            bad.append("%s: %s is not exported" % (title, name))
if bad:
    sys.exit("\n".join(bad))

with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
    f.write("groups:\n- name: dashboard\n  rules:\n")
    for i, (title, e) in enumerate(exprs):
        f.write("  - record: itm:dashboard:%d\n    expr: %s\n"
                % (i, json.dumps(e)))
rc = subprocess.run(["promtool", "check", "rules", f.name]).returncode
os.unlink(f.name)
if rc != 0:
    sys.exit("promtool refused the dashboard's expressions")
print("dashboard ok: %d panels, %d expressions, names exported"
      % (len(dash["panels"]), len(exprs)))
