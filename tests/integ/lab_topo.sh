#!/bin/bash
# lab_topo.sh - deploy/lab/lab.sh up --topo: an overlay of namespaces from
# a topo.yaml (tests/data/lab_topo/topo.yaml: the triangle lt1 - lt2 - lt3
# with a dear lt1 - lt3 side), with the real controller and agents.
#
#  - a file the lab cannot make (public address, two mgmt networks) is
#    refused with each fault's line and field, and creates nothing; so is
#    a file the controller refuses (its --dry-run), leaving nothing behind
#  - up: `itmctl nodes` shows every node up at the applied generation, and
#    each agent holds that generation (asked over its mgmt address); the
#    module the file places runs on lt2
#  - traffic between lt1 and lt2 goes over their veth (the bytes are on
#    the device's counters); lt1 -> lt3 goes through lt2 (TTL)
#  - a second up of the same lab is refused
#  - down leaves no namespace, no process of the lab and no state file
. "$(dirname "$0")/lib.sh"
itm_init lab_topo
itm__need python3 iperf3

LAB_SH="$ITM_SRC/deploy/lab/lab.sh"
DATA="$ITM_SRC/tests/data/lab_topo"
TOPO="$DATA/topo.yaml"
LAB="lt$$"
export ITM_LAB_DIR="$ITM_TMP/labs"
STATE=$ITM_LAB_DIR/$LAB
itm_on_exit '"$LAB_SH" down -n "$LAB" >/dev/null 2>&1'
for b in controller/itm-controller controller/itmctl/itmctl agent/itm-agent; do
	[ -x "$ITM_BUILD/$b" ] || itm_fail "$ITM_BUILD/$b is not built"
done

lab_ns() { ip netns list | awk '{ print $1 }' | grep "^itmlab-$LAB-"; }

# fail MSG: with the lab's own logs (they live in its state directory).
fail() {
	local f
	for f in "$STATE"/*.log; do
		[ -s "$f" ] && { echo "----- ${f##*/}"; tail -n 30 "$f"; } >&2
	done
	itm_fail "$@"
}

ctl() { "$LAB_SH" itmctl -n "$LAB" "$@"; }

# Commands that take -n right after the command word.
lab() { local c=$1; shift; "$LAB_SH" "$c" -n "$LAB" "$@"; }

# ---------------------------------------------------------------------
# 1. Files the lab cannot make, or the controller refuses: nothing made
# ---------------------------------------------------------------------
out=$(lab up --topo "$DATA/bad-lab.yaml" 2>&1)
itm_assert_eq "$?" 2 "exit status for bad-lab.yaml"
for want in "bad-lab.yaml:9: nodes\[1\]\.overlay: 192\.0\.2\.2 is not in 10\.0\.0\.0/8" \
	    "bad-lab.yaml:11: nodes\[2\]\.mgmt: 10\.62\.0\.3 is not in 10\.61\.0\.0/24" \
	    "nothing created"; do
	itm_assert_match "$out" "$want" "errors for bad-lab.yaml"
done
itm_assert_eq "$(lab_ns)" "" "namespaces after bad-lab.yaml"
[ ! -e "$STATE" ] || itm_fail "state dir made for bad-lab.yaml"

out=$(lab up --topo "$DATA/bad-schema.yaml" 2>&1)
itm_assert_eq "$?" 2 "exit status for bad-schema.yaml"
for want in "bad-schema.yaml:8: nodes\[1\]: unknown key 'colour'" \
	    "bad-schema.yaml:13: links\[0\]\.cost" "refused .*bad-schema.yaml"; do
	itm_assert_match "$out" "$want" "errors for bad-schema.yaml"
done
itm_assert_eq "$(lab_ns)" "" "namespaces after bad-schema.yaml"
[ ! -e "$STATE" ] || itm_fail "state dir left after bad-schema.yaml"
itm_log "bad files refused with line and field, nothing left"

# ---------------------------------------------------------------------
# 2. Up: every node up at the applied generation, agents agree
# ---------------------------------------------------------------------
lab up --topo "$TOPO" >"$ITM_TMP/up.out" 2>&1 ||
	fail "lab up --topo failed: $(cat "$ITM_TMP/up.out")"
itm_assert_eq "$(lab_ns | sort | tr '\n' ' ')" \
	"itmlab-$LAB-_ctl itmlab-$LAB-lt1 itmlab-$LAB-lt2 itmlab-$LAB-lt3 " \
	"namespaces of the lab"
ctl -o json topology history >"$ITM_TMP/history.json" || fail "history failed"
GEN=$(python3 -c 'import json, sys
h = json.load(open(sys.argv[1]))["generations"]
assert len(h) == 1, h
print(h[0]["generation"])' "$ITM_TMP/history.json") ||
	fail "history is not one generation: $(cat "$ITM_TMP/history.json")"
ctl -o json nodes >"$ITM_TMP/nodes.json" || fail "itmctl nodes failed"
python3 - "$ITM_TMP/nodes.json" "$GEN" <<'EOF' || fail "nodes: $(ctl nodes)"
import json, sys
nodes = {n["name"]: n for n in json.load(open(sys.argv[1]))["nodes"]}
assert sorted(nodes) == ["lt1", "lt2", "lt3"], sorted(nodes)
for name, n in nodes.items():
    assert n["up"], name
    assert n["generation"] == int(sys.argv[2]), (name, n["generation"])
EOF
for i in 1 2 3; do
	g=$(ip netns exec "itmlab-$LAB-_ctl" "$(itm_ctl_bin)" --agent "10.61.0.$i:7701" \
		-o json table | python3 -c 'import json, sys; print(json.load(sys.stdin)["generation"])') ||
		fail "table of lt$i over 10.61.0.$i:7701"
	itm_assert_eq "$g" "$GEN" "generation held by lt$i's agent"
done
itm_log "itmctl nodes:
$(ctl nodes)"
out=$(ctl module list lt2) || fail "module list lt2: $out"
itm_assert_match "$out" "qosmod +agent" "module placed on lt2 by the file"

# ---------------------------------------------------------------------
# 3. Traffic over the lt1 - lt2 link, and lt1 -> lt3 through lt2
# ---------------------------------------------------------------------
tx_bytes() {
	lab exec lt1 cat /sys/class/net/to-lt2/statistics/tx_bytes
}
before=$(tx_bytes) || fail "lt1 has no device to-lt2"
lab exec lt2 iperf3 -s -1 -B 10.61.1.2 -p 5261 >"$ITM_TMP/iperf-s.log" 2>&1 &
itm_wait_for 5 lab exec lt2 sh -c "ss -Hltn | grep -q ':5261 '" ||
	fail "iperf3 server did not start in lt2"
lab exec lt1 iperf3 -c 10.61.1.2 -p 5261 -t 1 -J >"$ITM_TMP/iperf.json" ||
	fail "iperf3 lt1 -> lt2 failed: $(cat "$ITM_TMP/iperf.json")"
sent=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"])' "$ITM_TMP/iperf.json")
after=$(tx_bytes)
itm_log "lt1 -> lt2: $sent bytes received by iperf3; to-lt2 sent $((after - before)) bytes"
itm_assert_ge "$sent" 100000 "bytes lt1 -> lt2"
itm_assert_ge "$((after - before))" "$sent" "bytes on lt1's veth to lt2"
src=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["start"]["connected"][0]["local_host"])' "$ITM_TMP/iperf.json")
itm_assert_eq "$src" 10.61.1.1 "source address of lt1's traffic (its overlay address)"

out=$(lab exec lt1 ping -n -c 2 -i 0.2 -W 2 10.61.1.3) ||
	fail "lt1 cannot reach lt3's overlay address: $out"
itm_assert_match "$out" "ttl=63" "lt1 -> lt3 takes one hop (lt2)"
out=$(ctl stats lt2 --module qosmod) || fail "stats lt2: $out"
itm_assert_match "$out" "SHORT +[1-9]" "qosmod on lt2 saw packets"

# ---------------------------------------------------------------------
# 4. A second up is refused; status names the processes
# ---------------------------------------------------------------------
out=$(lab up --topo "$TOPO" 2>&1) && fail "second up accepted"
itm_assert_match "$out" "already up" "second up"
out=$(lab status) || fail "status: $out"
itm_assert_match "$out" "itm-controller --db" "status: the controller"
itm_assert_eq "$(grep -c 'itm-agent --node' <<<"$out")" 3 "status: agents"

# ---------------------------------------------------------------------
# 5. Down: no namespace, no process, no file
# ---------------------------------------------------------------------
mapfile -t PIDS < <(for ns in $(lab_ns); do ip netns pids "$ns"; done)
itm_assert_ge "${#PIDS[@]}" 4 "processes in the lab (controller, 3 agents)"
lab down >/dev/null || fail "lab down failed"
itm_assert_eq "$(lab_ns)" "" "namespaces after down"
for p in "${PIDS[@]}"; do
	itm_wait_for 3 itm__dead "$p" || itm_fail "pid $p of the lab survived down"
done
[ ! -e "$STATE" ] || itm_fail "state dir left after down: $(ls -R "$STATE")"
itm_log "down: ${#PIDS[@]} processes, 4 namespaces and $STATE gone"
