#!/bin/bash
# table_view.sh - modules see the overlay table the controller pushed
# (itm_get_table, itm_register_table_func), both kinds through the same
# API: the example module tableview in u1's agent and itm-tableview, a
# process module, in u2; lab.sh up --topo --underlay with
# tests/data/lab_underlay/topo.yaml.
#
#  - the process module prints the table it got from its agent: this
#    node, every node with its overlay and underlay address (u1, u2 by
#    default their mgmt address, u3 and u4 their own), the neighbours with
#    their links' attributes: exactly what topo.yaml says, and what
#    `itmctl table` reads from the agent
#  - the in-agent module's counters: the same generation, 4 nodes, 3
#    neighbours
#  - a new generation (u4 moves to another underlay address, a link
#    u2 - u4 appears): both modules are called with it, the process module
#    prints the new table within seconds
. "$(dirname "$0")/lib.sh"
itm_init table_view
itm__need python3

LAB_SH="$ITM_SRC/deploy/lab/lab.sh"
TOPO="$ITM_SRC/tests/data/lab_underlay/topo.yaml"
LAB="tv$$"
export ITM_LAB_DIR="$ITM_TMP/labs"
STATE=$ITM_LAB_DIR/$LAB
TV=$ITM_BUILD/modules/examples/tableview/itm-tableview
itm_on_exit '"$LAB_SH" down -n "$LAB" >/dev/null 2>&1'
[ -x "$TV" ] || itm_fail "itm-tableview is not built: $TV"

lab() { local c=$1; shift; "$LAB_SH" "$c" -n "$LAB" "$@"; }
fail() {
	local f
	for f in "$STATE"/*.log "$ITM_TMP"/*.log; do
		[ -s "$f" ] && { echo "----- ${f##*/}"; tail -n 20 "$f"; } >&2
	done
	itm_fail "$@"
}

# want_table TOPO NODE: the table NODE should get from TOPO, as
# itm-tableview prints it (generation left out).
cat >"$ITM_TMP/want.py" <<'EOF'
import json, re, sys
import yaml

topo = yaml.safe_load(open(sys.argv[1]))
me = sys.argv[2]

def kbps(s):
    if not s:
        return 0
    m = re.fullmatch(r"([0-9.]+)(k|m|g)bit", str(s))
    return int(float(m.group(1)) * {"k": 1, "m": 1000, "g": 1000000}[m.group(2)])

def node(n):
    return {"name": n["name"], "overlay": n["overlay"],
            "underlay": n.get("underlay", n["mgmt"].rsplit(":", 1)[0])}

nodes = {n["name"]: n for n in topo["nodes"]}
nb = []
for l in topo.get("links", []):
    if me in l["between"]:
        o = [e for e in l["between"] if e != me][0]
        nb.append({"name": o, "mgmt": nodes[o]["mgmt"], "cost": l.get("cost", 1),
                   "latency_ms": l.get("latency_ms", 0),
                   "bandwidth_kbps": kbps(l.get("bandwidth"))})
print(json.dumps({"self": node(nodes[me]),
                  "nodes": sorted((node(n) for n in topo["nodes"]),
                                  key=lambda n: n["name"]),
                  "neighbours": sorted(nb, key=lambda n: n["name"])},
                 sort_keys=True))
EOF

# last_table GEN: the last line itm-tableview printed, if of generation
# GEN, without it.
last_table() {
	tail -n 1 "$TV_OUT" 2>/dev/null | python3 -c 'import json, sys
t = json.loads(sys.stdin.read())
if t.pop("generation") != int(sys.argv[1]):
    sys.exit(1)
print(json.dumps(t, sort_keys=True))' "$1"
}

counter() {	# counter NAME of tableview in u1
	lab itmctl -o json stats u1 --module tableview | python3 -c 'import json, sys
s = json.load(sys.stdin)
for n in s.get("nodes", [s]):
    for m in n.get("modules", []):
        for c in m.get("counters", []):
            if m["module"] == "tableview" and c["name"] == sys.argv[1]:
                print(c["value"]); sys.exit(0)
sys.exit(1)' "$1"
}

counter_is() { [ "$(counter "$1")" = "$2" ]; }

agent_gen() {	# the generation u2's agent holds
	lab ctl u2 -o json table | python3 -c 'import json, sys
print(json.load(sys.stdin)["generation"])'
}

# ---------------------------------------------------------------------
# 1. The table as both modules see it
# ---------------------------------------------------------------------
lab up --topo "$TOPO" --underlay >"$ITM_TMP/up.out" 2>&1 ||
	fail "lab up failed: $(cat "$ITM_TMP/up.out")"
out=$(lab itmctl module load u1 tableview) || fail "module load: $out"
TV_OUT=$ITM_TMP/tableview.out
itm_bg - --name itm-tableview env ITM_AGENT_SOCKET="$STATE/agent-u2.sock" \
	ip netns exec "itmlab-$LAB-u2" sh -c "exec '$TV' >'$TV_OUT'"
GEN=$(agent_gen) || fail "itmctl table on u2"
itm_wait_for 10 last_table "$GEN" ||
	fail "itm-tableview printed no table of generation $GEN: $(cat "$TV_OUT")"
want=$(python3 "$ITM_TMP/want.py" "$TOPO" u2)
itm_assert_eq "$(last_table "$GEN")" "$want" "the table the process module sees"
itm_log "process module in u2, generation $GEN: $(last_table "$GEN")"
# The same as the agent holds (itmctl table reads it from the agent).
lab ctl u2 -o json table | python3 -c 'import json, sys
a, t = json.load(sys.stdin), json.loads(sys.argv[1])
assert a["underlay_addr"] == t["self"]["underlay"], a
assert [(n["node"], n["overlay_addr"], n["underlay_addr"]) for n in a["nodes"]] == \
       [(n["name"], n["overlay"], n["underlay"]) for n in t["nodes"]], a["nodes"]
assert [n["node"] for n in a["neighbours"]] == [n["name"] for n in t["neighbours"]]
' "$want" || fail "itmctl table on u2 differs from what the module sees"

itm_wait_for 5 counter_is generation "$GEN" ||
	fail "tableview in u1: generation $(counter generation), want $GEN"
itm_assert_eq "$(counter nodes)" 4 "nodes seen by the in-agent module"
itm_assert_eq "$(counter neighbours)" 3 "neighbours of u1 seen by the in-agent module"
itm_assert_eq "$(counter changes)" 0 "tables installed since it loaded"

# ---------------------------------------------------------------------
# 2. A new generation reaches both
# ---------------------------------------------------------------------
sed -e 's/underlay: 10.62.2.4$/underlay: 10.62.2.44/' \
    -e 's/^  - { between: \[u3, u4\], cost: 10, latency_ms: 5 }$/&\n  - { between: [u2, u4], cost: 15, latency_ms: 8, bandwidth: 50mbit }/' \
	"$TOPO" >"$ITM_TMP/topo2.yaml"
grep -q "between: \[u2, u4\]" "$ITM_TMP/topo2.yaml" || fail "topo2.yaml was not made"
out=$(lab itmctl topology apply "$ITM_TMP/topo2.yaml") || fail "apply: $out"
GEN2=$(agent_gen)
[ "$GEN2" -gt "$GEN" ] || fail "u2's agent holds generation $GEN2 after the apply"
itm_wait_for 10 last_table "$GEN2" ||
	fail "itm-tableview did not print generation $GEN2: $(tail -n 2 "$TV_OUT")"
itm_assert_eq "$(last_table "$GEN2")" "$(python3 "$ITM_TMP/want.py" "$ITM_TMP/topo2.yaml" u2)" \
	"the new table the process module sees"
itm_assert_match "$(last_table "$GEN2")" '"name": "u4", "overlay": "10.62.1.4", "underlay": "10.62.2.44"' \
	"u4's new underlay address"
itm_wait_for 5 counter_is changes 1 ||
	fail "tableview in u1: $(counter changes) tables seen since it loaded, want 1"
itm_assert_eq "$(counter generation)" "$(lab ctl u1 -o json table | python3 -c 'import json, sys; print(json.load(sys.stdin)["generation"])')" \
	"generation seen by the in-agent module"
grep -q "tableview: table generation" "$STATE/agent-u1.log" ||
	fail "no line of tableview in u1's agent log"
itm_log "both modules saw generation $GEN2 (u4 at 10.62.2.44, link u2 - u4)"

lab down >/dev/null || fail "lab down failed"
itm_log "PASS"
