#!/bin/bash
# lab_ha.sh - deploy/lab/lab.sh up --topo FILE --ha: the lab's control
# plane on a 3-member etcd cluster with two controllers (issue 12).
#
#  - up: one controller leads, the other stands by (itmctl controllers),
#    every node up at generation 1 with the agents given both controllers
#  - kill -9 the leading controller: the other leads within a few
#    seconds, the agents rejoin it, and `lab.sh itmctl topology apply`
#    (which finds the leader) stores and pushes generation 2
#  - down leaves no namespace of the lab
. "$(dirname "$0")/lib.sh"
itm_init lab_ha
itm__need python3 etcd etcdctl

LAB_SH="$ITM_SRC/deploy/lab/lab.sh"
TOPO="$ITM_SRC/tests/data/lab_topo/topo.yaml"
LAB="lh$$"
export ITM_LAB_DIR="$ITM_TMP/labs"
STATE=$ITM_LAB_DIR/$LAB
itm_on_exit '"$LAB_SH" down -n "$LAB" >/dev/null 2>&1'

fail() {
	local f
	for f in "$STATE"/*.log; do
		[ -s "$f" ] && { echo "----- ${f##*/}"; tail -n 20 "$f"; } >&2
	done
	itm_fail "$@"
}
ctl() { "$LAB_SH" itmctl -n "$LAB" "$@"; }
ctl_at() { local a=$1; shift; ip netns exec "itmlab-$LAB-_ctl" "$(itm_ctl_bin)" --controller "$a" "$@"; }
converged() {	# GEN: generation GEN current, every node up holding its table
	ctl -o json nodes | python3 -c 'import json, sys
r = json.load(sys.stdin)
n = r["nodes"]
sys.exit(int(r["generation"]) != int(sys.argv[1]) or not n or
         not all(x["up"] and x["generation"] == x["want_generation"] for x in n))' "$1"
}

out=$("$LAB_SH" up -n "$LAB" --topo "$TOPO" --ha 2>&1) || fail "up --ha: $out"
itm_assert_match "$out" "etcd: 3 members" "etcd cluster"
A=$(sed -n 's/^itm-controllers at \([^,]*\),\([^ ]*\) .*/\1/p' <<<"$out")
B=$(sed -n 's/^itm-controllers at \([^,]*\),\([^ ]*\) .*/\2/p' <<<"$out")
[ -n "$A" ] && [ -n "$B" ] || fail "no controller addresses in: $out"
itm_assert_match "$(ctl_at "$B" controllers)" "leader      $A .*standing by" "B stands by, A leads"
converged 1 || fail "nodes after up: $(ctl nodes)"
itm_log "up --ha: etcd x3, $A leads, $B stands by, every node at generation 1"

pid=$(awk '$2 == "controller.log" { print $1 }' "$STATE/pids")
[ -n "$pid" ] || fail "no pid of the leading controller"
kill -9 "$pid"
itm_wait_for 10 eval 'ctl_at "$B" controllers | grep -q ", leading$"' ||
	fail "$B does not lead after $A was killed: $(ctl_at "$B" controllers 2>&1)"
itm_wait_for 10 converged 1 || fail "agents did not rejoin $B: $(ctl nodes 2>&1)"
sed 's/cost: 10/cost: 11/' "$TOPO" >"$ITM_TMP/topo2.yaml"
cmp -s "$TOPO" "$ITM_TMP/topo2.yaml" && fail "the test topology has no 'cost: 10' to change"
out=$(ctl topology apply "$ITM_TMP/topo2.yaml" 2>&1) || fail "apply through $B: $out"
itm_wait_for 10 converged 2 || fail "nodes after the apply: $(ctl nodes 2>&1)"
itm_log "leader killed: $B leads, agents on it, generation 2 applied and pushed"

"$LAB_SH" down -n "$LAB" >/dev/null || fail "down failed"
itm_assert_eq "$(ip netns list | awk '{ print $1 }' | grep -c "^itmlab-$LAB-")" 0 "namespaces after down"
itm_log "PASS"
