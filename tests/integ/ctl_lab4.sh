#!/bin/bash
# ctl_lab4.sh - the control plane end to end, with real processes: an
# itm-controller on a SQLite file and one itm-agent in each of four
# namespaces (a square c4n1-c4n2-c4n3-c4n4), driven by itmctl.
#
#  - apply: every node "updated"; each agent's neighbour table, read back
#    from the agent itself (itmctl --agent MGMT table), matches topo.yaml:
#    the node's own overlay and underlay address (c4n3 gives one, the
#    others default to their mgmt address), every node of the overlay, the
#    neighbours with their addresses and links
#  - change one link: only its two ends get a new generation
#  - kill an agent, apply a change, restart it: it converges
#  - kill the controller: the agents keep their tables, ping across the
#    overlay still works; restart it from the same file: nodes, history and
#    tables are intact
#  - module load and stats NODE through the controller: per-class stats
#  - bad topo.yaml files: every fault with its line and field, and the
#    store is unchanged (the SQLite file and WAL byte for byte, or etcd's
#    revision)
#
# integ.ctl_lab4.etcd runs it all again on etcd (ITM_TEST_STORE=etcd).
#
# Management: c4ctl (controller) has a veth to each node, 10.X.10i.0/24.
# Overlay: 10.X.200.i on each node's lo, routed around the square.
. "$(dirname "$0")/lib.sh"
itm_init ctl_lab4
itm__need python3 iperf3 cmp

X=$ITM_NETX
CTL_BIN=$ITM_BUILD/controller/itm-controller
ITMCTL=$(itm_ctl_bin)
[ -x "$CTL_BIN" ] || itm_fail "itm-controller is not built: $CTL_BIN"
[ -x "$ITMCTL" ] || itm_fail "itmctl is not built: $ITMCTL"
DB=$ITM_TMP/topology.db
NODES=(c4n1 c4n2 c4n3 c4n4)
CTL_PID=""

# ---------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------

mgmt_ip() { echo "10.$X.10${1#c4n}.2"; }

# ctl ARGS...: itmctl to the controller, from its namespace.
ctl() {
	itm_exec c4ctl "$ITMCTL" --controller 127.0.0.1:7700 "$@"
}

# agent_table NODE: the table NODE's agent holds, as JSON, asked over the
# agent's management address (what the controller pushes to).
agent_table() {
	itm_exec c4ctl "$ITMCTL" --agent "$(mgmt_ip "$1"):7701" -o json table
}

agent_gen() {
	agent_table "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["generation"])'
}

# check_table NODE TOPO: NODE's table, from its agent, is what TOPO says.
check_table() {
	local out
	out=$(agent_table "$1" | python3 "$ITM_TMP/tablecheck.py" "$2" "$1" 2>&1) ||
		itm_fail "table of $1 does not match $2: $out"
}

# result_of NODE: NODE's result in the last apply's JSON ($ITM_TMP/apply.json):
# the name of itm.proto's Outcome value, OUTCOME_UPDATED...
result_of() {
	python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
print(" ".join("%s" % (n["result"]) for n in r["nodes"] if n["node"] == sys.argv[2]))' \
		"$ITM_TMP/apply.json" "$1"
}

apply() {
	ctl -o json topology apply "$1" >"$ITM_TMP/apply.json" 2>"$ITM_TMP/apply.err"
}

controller_start() {
	itm_bg c4ctl --name controller "$CTL_BIN" --store "$ITM_STORE" \
		--listen 0.0.0.0:7700 --insecure-plaintext --heartbeat-ms 500
	CTL_PID=$ITM_LAST_PID
	itm_wait_for 15 ctl nodes ||
		itm_fail "itm-controller does not answer: $(ctl nodes 2>&1)"
}

agent_start() {
	local i=${1#c4n}
	itm_agent_start "$1" "$1" --listen "$(mgmt_ip "$1"):7701" \
		--insecure-plaintext --controller "10.$X.10$i.1:7700"
}

# node_converged NODE GEN: the controller sees NODE up at generation GEN,
# and the agent holds GEN.
node_converged() {
	[ "$(agent_gen "$1")" = "$2" ] || return 1
	ctl -o json nodes | python3 -c 'import json,sys
n = [n for n in json.load(sys.stdin)["nodes"] if n["name"] == sys.argv[1]][0]
sys.exit(not (n["up"] and n["generation"] == int(sys.argv[2])))' "$1" "$2"
}

all_down() {
	ctl -o json nodes | python3 -c 'import json,sys
sys.exit(any(n["up"] for n in json.load(sys.stdin)["nodes"]))'
}

cat >"$ITM_TMP/tablecheck.py" <<'EOF'
# tablecheck.py TOPO NODE < table.json: the table matches TOPO's links.
import json, re, sys
import yaml

topo = yaml.safe_load(open(sys.argv[1]))
me = sys.argv[2]
got = json.load(sys.stdin)
nodes = {n["name"]: n for n in topo["nodes"]}

def underlay(n):
    return n.get("underlay", n["mgmt"].rsplit(":", 1)[0])

def kbps(s):
    if not s:
        return 0
    m = re.fullmatch(r"([0-9.]+)(k|m|g)bit", str(s))
    return int(float(m.group(1)) * {"k": 1, "m": 1000, "g": 1000000}[m.group(2)])

want = []
for l in topo.get("links", []):
    a, b = l["between"]
    if me not in (a, b):
        continue
    o = b if a == me else a
    want.append({"node": o, "mgmt_addr": nodes[o]["mgmt"],
                 "overlay_addr": nodes[o]["overlay"],
                 "underlay_addr": underlay(nodes[o]),
                 "cost": l.get("cost", 1), "latency_ms": l.get("latency_ms", 0),
                 "bandwidth_kbps": kbps(l.get("bandwidth"))})
want.sort(key=lambda n: n["node"])
have = sorted(got["neighbours"], key=lambda n: n["node"])
errs = []
if got["node"] != me:
    errs.append("node %r" % got["node"])
if got["overlay_addr"] != nodes[me]["overlay"]:
    errs.append("overlay_addr %r" % got["overlay_addr"])
if got["underlay_addr"] != underlay(nodes[me]):
    errs.append("underlay_addr %r" % got["underlay_addr"])
every = sorted(({"node": n["name"], "overlay_addr": n["overlay"],
                 "underlay_addr": underlay(n)} for n in topo["nodes"]),
               key=lambda n: n["node"])
if got.get("nodes") != every:
    errs.append("nodes %s, want %s" % (got.get("nodes"), every))
if have != want:
    errs.append("neighbours %s, want %s" % (have, want))
if errs:
    sys.exit("; ".join(errs))
EOF

# topo FILE COST34 LAT12: the square; the c4n3-c4n4 cost and the c4n1-c4n2
# latency vary between applies.
topo() {
	local i
	{
		echo "comment: ctl_lab4 square (cost34 $2, latency12 $3)"
		echo "nodes:"
		for i in 1 2 3 4; do
			echo "  - name: c4n$i"
			echo "    mgmt: 10.$X.10$i.2:7701"
			echo "    overlay: 10.$X.200.$i"
			[ "$i" = 3 ] && echo "    underlay: 10.$X.250.3"
			echo "    labels: { lab: ctl_lab4 }"
		done
		echo "links:"
		echo "  - between: [c4n1, c4n2]"
		echo "    cost: 10"
		echo "    latency_ms: $3"
		echo "    bandwidth: 100mbit"
		echo "  - between: [c4n2, c4n3]"
		echo "    cost: 10"
		echo "  - between: [c4n3, c4n4]"
		echo "    cost: $2"
		echo "    bandwidth: 1gbit"
		echo "  - between: [c4n4, c4n1]"
		echo "    cost: 20"
	} >"$1"
}

# ---------------------------------------------------------------------
# The lab
# ---------------------------------------------------------------------

itm_ns c4ctl
for n in "${NODES[@]}"; do
	i=${n#c4n}
	itm_ns "$n"
	itm_link c4ctl "$n" "10.$X.10$i.1/24" "10.$X.10$i.2/24"
	ip -n "$(itm_nsname "$n")" addr add "10.$X.200.$i/32" dev lo
	itm_forwarding "$n"
done
# The square, and routes to the other nodes' overlay addresses.
itm_link c4n1 c4n2 "10.$X.12.1/24" "10.$X.12.2/24"
itm_link c4n2 c4n3 "10.$X.23.2/24" "10.$X.23.3/24"
itm_link c4n3 c4n4 "10.$X.34.3/24" "10.$X.34.4/24"
itm_link c4n4 c4n1 "10.$X.41.4/24" "10.$X.41.1/24"
itm_route c4n1 "10.$X.200.2/32" "10.$X.12.2"
itm_route c4n1 "10.$X.200.3/32" "10.$X.12.2"
itm_route c4n1 "10.$X.200.4/32" "10.$X.41.4"
itm_route c4n2 "10.$X.200.1/32" "10.$X.12.1"
itm_route c4n2 "10.$X.200.3/32" "10.$X.23.3"
itm_route c4n2 "10.$X.200.4/32" "10.$X.23.3"
itm_route c4n3 "10.$X.200.1/32" "10.$X.23.2"
itm_route c4n3 "10.$X.200.2/32" "10.$X.23.2"
itm_route c4n3 "10.$X.200.4/32" "10.$X.34.4"
itm_route c4n4 "10.$X.200.1/32" "10.$X.41.1"
itm_route c4n4 "10.$X.200.2/32" "10.$X.41.1"
itm_route c4n4 "10.$X.200.3/32" "10.$X.34.3"

itm_store c4ctl "$DB"
controller_start
for n in "${NODES[@]}"; do
	agent_start "$n"
done

# ---------------------------------------------------------------------
# 1. Apply: every node updated, every agent's table as in the file.
# ---------------------------------------------------------------------
T1=$ITM_TMP/topo1.yaml T2=$ITM_TMP/topo2.yaml T3=$ITM_TMP/topo3.yaml
topo "$T1" 10 5
topo "$T2" 30 5			# c4n3 -- c4n4 cost 10 -> 30
topo "$T3" 30 7			# c4n1 -- c4n2 latency 5 -> 7

apply "$T1" || itm_fail "apply $T1: $(cat "$ITM_TMP/apply.err")"
G1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["generation"])' "$ITM_TMP/apply.json")
for n in "${NODES[@]}"; do
	itm_assert_eq "$(result_of "$n")" OUTCOME_UPDATED "apply 1: $n"
	check_table "$n" "$T1"
	itm_assert_eq "$(agent_gen "$n")" "$G1" "generation of $n after apply 1"
done
out=$(ctl topology apply "$T1") || itm_fail "re-apply of the same file failed"
itm_assert_match "$out" "4 unchanged" "re-apply of the same file"
itm_log "apply 1: generation $G1 on all four agents, tables match"

# ---------------------------------------------------------------------
# 2. One link changes: only its two ends change generation.
# ---------------------------------------------------------------------
out=$(ctl topology diff "$T2") || itm_fail "diff failed: $out"
itm_assert_match "$out" "c4n3.*c4n4.*10.*30" "diff of the cost change"
apply "$T2" || itm_fail "apply $T2: $(cat "$ITM_TMP/apply.err")"
G2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["generation"])' "$ITM_TMP/apply.json")
[ "$G2" -gt "$G1" ] || itm_fail "generation $G2 after $G1"
for n in c4n3 c4n4; do
	itm_assert_eq "$(result_of "$n")" OUTCOME_UPDATED "apply 2: $n"
	itm_assert_eq "$(agent_gen "$n")" "$G2" "generation of $n after apply 2"
done
for n in c4n1 c4n2; do
	itm_assert_eq "$(result_of "$n")" OUTCOME_UNCHANGED "apply 2: $n"
	itm_assert_eq "$(agent_gen "$n")" "$G1" "generation of $n after apply 2"
done
for n in "${NODES[@]}"; do check_table "$n" "$T2"; done
itm_log "apply 2: only c4n3 and c4n4 moved to generation $G2"

# ---------------------------------------------------------------------
# 3. An agent killed during an apply converges when it comes back.
# ---------------------------------------------------------------------
kill -KILL "${ITM_AGENT_PID[c4n2]}"
itm_wait_for 5 itm__dead "${ITM_AGENT_PID[c4n2]}" || itm_fail "c4n2 survived SIGKILL"
unset 'ITM_AGENT_PID[c4n2]'
apply "$T3"
rc=$?
itm_assert_eq "$rc" 3 "exit status of an apply with a node down"
G3=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["generation"])' "$ITM_TMP/apply.json")
itm_assert_eq "$(result_of c4n2)" OUTCOME_UNREACHABLE "apply 3: c4n2 (killed)"
itm_assert_eq "$(result_of c4n1)" OUTCOME_UPDATED "apply 3: c4n1"
agent_start c4n2
itm_wait_for 20 node_converged c4n2 "$G3" ||
	itm_fail "c4n2 did not converge to generation $G3: $(ctl nodes 2>&1)"
for n in "${NODES[@]}"; do check_table "$n" "$T3"; done
itm_log "apply 3: c4n2 was down, rejoined and holds generation $G3"
itm_log "itmctl nodes:
$(ctl nodes)"

# ---------------------------------------------------------------------
# 4. Module placement and stats through the controller.
# ---------------------------------------------------------------------
out=$(ctl module load c4n1 qosmod threshold=5 2>&1) ||
	itm_fail "module load through the controller: $out"
itm_assert_match "$out" "module qosmod loaded on c4n1" "module load c4n1"
out=$(ctl module list c4n1) || itm_fail "module list c4n1: $out"
itm_assert_match "$out" "qosmod +agent" "module list c4n1"
itm_iperf c4n3 "10.$X.200.3" c4n1 1 -B "10.$X.200.1" >/dev/null ||
	itm_fail "TCP from c4n1 to c4n3's overlay address failed"
ctl -o json stats c4n1 --module qosmod >"$ITM_TMP/stats.json" ||
	itm_fail "stats c4n1 through the controller failed"
python3 - "$ITM_TMP/stats.json" <<'EOF' || itm_fail "stats c4n1: $(cat "$ITM_TMP/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["node"] == "c4n1", s["node"]
cls = {c["name"]: c for m in s["modules"] if m["module"] == "qosmod"
       for r in m["registrations"] for c in r["classes"]}
assert cls["SHORT"]["packets"] > 0 and cls["LONG"]["packets"] > 0, cls
assert cls["SHORT"]["flows"] >= 1, cls
EOF
out=$(ctl stats) || itm_fail "stats of the overlay failed: $out"
for n in "${NODES[@]}"; do
	itm_assert_match "$out" "(^|
)$n " "overlay stats row of $n"
done
itm_log "stats c4n1 through the controller: per-class counters present:
$(ctl stats c4n1 --module qosmod)"

# ---------------------------------------------------------------------
# 5. Controller down: agents keep their tables and the overlay works.
# ---------------------------------------------------------------------
declare -A GEN_BEFORE=()
for n in "${NODES[@]}"; do GEN_BEFORE[$n]=$(agent_gen "$n"); done
kill -KILL "$CTL_PID"
itm_wait_for 5 itm__dead "$CTL_PID" || itm_fail "controller survived SIGKILL"
sleep 2				# past a few heartbeats
for n in "${NODES[@]}"; do
	check_table "$n" "$T3"
	itm_assert_eq "$(agent_gen "$n")" "${GEN_BEFORE[$n]}" "generation of $n, controller down"
done
itm_ping c4n1 "10.$X.200.3" 5 0.1 -I "10.$X.200.1" >/dev/null ||
	itm_fail "no ping across the overlay with the controller down"
itm_iperf c4n3 "10.$X.200.3" c4n1 1 -B "10.$X.200.1" >/dev/null ||
	itm_fail "TCP through qosmod with the controller down failed"
out=$(ctl nodes 2>&1) && itm_fail "nodes answered with the controller dead"
itm_assert_match "$out" "is itm-controller running at 127.0.0.1:7700" \
	"itmctl's error with the controller down"
itm_log "controller down: tables kept, ping and TCP across the overlay"

# ---------------------------------------------------------------------
# 6. Restart from the same file: nodes, history, topology, tables intact.
# ---------------------------------------------------------------------
controller_start
for n in "${NODES[@]}"; do
	itm_wait_for 15 node_converged "$n" "${GEN_BEFORE[$n]}" ||
		itm_fail "$n not up at generation ${GEN_BEFORE[$n]} after the controller restart: $(ctl nodes 2>&1)"
	check_table "$n" "$T3"
done
out=$(ctl topology history) || itm_fail "history after restart: $out"
for g in "$G1" "$G2" "$G3"; do
	itm_assert_match "$out" "(^|
) *$g  " "history row of generation $g"
done
ctl topology show | tail -n +2 >"$ITM_TMP/shown.yaml"
cmp -s "$ITM_TMP/shown.yaml" "$T3" ||
	itm_fail "topology show differs from what was applied: $(diff "$ITM_TMP/shown.yaml" "$T3")"
out=$(ctl topology diff "$T3") || itm_fail "diff after restart: $out"
itm_assert_eq "$out" "no changes" "diff of the applied file after restart"
itm_log "controller restarted from $ITM_STORE: 4 nodes up, history $G1 $G2 $G3 intact"

# ---------------------------------------------------------------------
# 7. Bad files: every fault with line and field, the database unchanged.
# ---------------------------------------------------------------------
# Quiet the database first: with every agent stopped and marked down the
# controller has nothing left to write (liveness is written on changes).
for n in "${NODES[@]}"; do itm_agent_stop "$n" >/dev/null; done
itm_wait_for 10 all_down || itm_fail "nodes not marked down: $(ctl nodes 2>&1)"
sleep 1
n_gens=$(ctl topology history | grep -c '^ *[0-9]')
stamp=$(itm_store_stamp)
cat >"$ITM_TMP/bad.yaml" <<EOF
comment: faults on lines 5, 6, 7, 11, 13, 14
nodes:
  - name: c4n1
    mgmt: 10.$X.101.2:7701
    overlay: 10.$X.200.300
    colour: blue
  - name: c4n1
    mgmt: 10.$X.102.2:7701
    overlay: 10.$X.200.2
links:
  - between: [c4n1, c4n9]
    cost: 10
  - between: [c4n1, c4n1]
    cost: -3
EOF
out=$(ctl topology apply "$ITM_TMP/bad.yaml" 2>&1)
itm_assert_eq "$?" 1 "exit status of a bad apply"
for want in "bad.yaml:5: nodes\[0\]\.overlay" "bad.yaml:6: nodes\[0\]: unknown key 'colour'" \
	    "bad.yaml:7: nodes\[1\]\.name: duplicate" "bad.yaml:11: links\[0\]\.between.*c4n9" \
	    "bad.yaml:13: links\[1\]" "bad.yaml:14: links\[1\]\.cost" "nothing was stored or pushed"; do
	itm_assert_match "$out" "$want" "errors of the bad apply"
done
out=$(ctl topology apply --dry-run "$ITM_TMP/bad.yaml" 2>&1) &&
	itm_fail "dry run of a bad file succeeded"
# More faults than a gRPC status message holds: every one still printed
# (the controller sends them all in the status detail).
{
	echo "nodes:"
	for i in $(seq 1 80); do
		echo "  - {name: m$i, mgmt: 10.$X.250.$i:7701, overlay: 10.$X.251.$((300 + i))}"
	done
} >"$ITM_TMP/many.yaml"
out=$(ctl topology apply "$ITM_TMP/many.yaml" 2>&1)
itm_assert_eq "$?" 1 "exit status of an apply with 80 faults"
itm_assert_eq "$(grep -c '^.*many\.yaml:[0-9]*: nodes\[[0-9]*\]\.overlay: ' <<<"$out")" 80 \
	"faults printed of 80"
itm_assert_match "$out" "many\.yaml:81: nodes\[79\]\.overlay: .*'10\.$X\.251\.380'" \
	"the last fault"
itm_assert_eq "$(itm_store_stamp)" "$stamp" \
	"the store (file and WAL, or etcd revision) after a refused apply"
out=$(ctl topology history)
itm_assert_eq "$(grep -c '^ *[0-9]' <<<"$out")" "$n_gens" "generations after the refused apply"
itm_log "bad topo.yaml refused with line and field; store unchanged ($stamp)"
itm_log "PASS"
