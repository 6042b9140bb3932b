#!/bin/bash
# ctl_place.sh - itm-controller owns module placement (topo.yaml modules:).
#
# An itm-controller (namespace cpctl) and two real agents (cpn1, cpn2),
# driven by itmctl; what runs is read back from the agents themselves
# (itmctl --agent MGMT -o json module list), never from the controller.
#  - apply placing qosmod threshold=20 on cpn1: loaded, detail says so,
#    a placement row in the database
#  - a module loaded by hand (itmctl module load NODE fig13) is left alone
#    by every later apply
#  - threshold changed: reloaded with the new value; threshold dropped:
#    reloaded with the default
#  - module removed from the file: unloaded
#  - a bad param (threshold=0) and an unknown module on cpn2: cpn2
#    "refused" with the agent's own error text, cpn1 "updated", itmctl
#    exits 3, the generation is stored
#  - rollback places the older generation's modules again
#  - an agent killed and restarted gets its declared modules back
#
# Management: cpctl has a veth to each node, 10.X.15i.0/24, port 7741.
. "$(dirname "$0")/lib.sh"
itm_init ctl_place
itm__need python3 sqlite3

X=$ITM_NETX
CTL_BIN=$ITM_BUILD/controller/itm-controller
ITMCTL=$(itm_ctl_bin)
[ -x "$CTL_BIN" ] || itm_fail "itm-controller is not built: $CTL_BIN"
[ -x "$ITMCTL" ] || itm_fail "itmctl is not built: $ITMCTL"
DB=$ITM_TMP/topology.db
CPORT=7740
APORT=7741

mgmt_ip() { echo "10.$X.15${1#cpn}.2"; }

# ctl ARGS...: itmctl to the controller, from its namespace.
ctl() { itm_exec cpctl "$ITMCTL" --controller "127.0.0.1:$CPORT" "$@"; }

# params NODE MODULE: "k=v k=v" the agent reports for MODULE, read from
# the agent over its mgmt address; "absent" when it does not run it.
params() {
	itm_exec cpctl "$ITMCTL" --agent "$(mgmt_ip "$1"):$APORT" -o json \
		module list | python3 -c 'import json, sys
mods = [m for m in json.load(sys.stdin).get("modules", [])
        if m["name"] == sys.argv[1]]
print(" ".join(mods[0].get("params", [])) if mods else "absent")' "$2"
}

has_param() { [[ " $(params "$1" "$2") " == *" $3 "* ]]; }

# sql QUERY: the store read with sqlite3 (an etcd store exported first).
sql() { sqlite3 -batch "file:$(itm_store_sqlite)?mode=ro" "$1"; }

# apply FILE: itmctl topology apply; its output in $OUT, status in $RC.
apply() {
	OUT=$(ctl topology apply "$1" 2>&1)
	RC=$?
	itm_log "apply $(basename "$1") (exit $RC): $(tr '\n' ';' <<<"$OUT")"
}

# row NODE: NODE's row of the last apply's table.
row() { grep -E "^$1 " <<<"$OUT"; }

# topo FILE [N1_MODULES [N2_MODULES [COST]]]: write a topology; the
# module arguments are YAML flow lists.
topo() {
	cat >"$1" <<EOF
comment: ctl_place test
nodes:
  - name: cpn1
    mgmt: $(mgmt_ip cpn1):$APORT
    overlay: 10.$X.250.1
    modules: ${2:-[]}
  - name: cpn2
    mgmt: $(mgmt_ip cpn2):$APORT
    overlay: 10.$X.250.2
    modules: ${3:-[]}
links:
  - between: [cpn1, cpn2]
    cost: ${4:-10}
EOF
}

agent_start() {
	itm_agent_start "$1" "$1" --listen "$(mgmt_ip "$1"):$APORT" \
		--insecure-plaintext --controller "10.$X.15${1#cpn}.1:$CPORT"
}

# ---------------------------------------------------------------------
# Controller and two agents
# ---------------------------------------------------------------------

itm_ns cpctl
for n in cpn1 cpn2; do
	itm_ns "$n"
	itm_link cpctl "$n" "10.$X.15${n#cpn}.1/24" "$(mgmt_ip "$n")/24"
done
itm_store cpctl "$DB"
itm_bg cpctl --name controller "$CTL_BIN" --store "$ITM_STORE" \
	--listen "0.0.0.0:$CPORT" --insecure-plaintext --heartbeat-ms 300
CTL_PID=$ITM_LAST_PID
CTL_LOG=$ITM_LAST_LOG
itm_wait_for 15 ctl nodes || itm_fail "itm-controller does not answer"
agent_start cpn1
agent_start cpn2

Q20='[{name: qosmod, params: {threshold: 20}}]'
Q30='[{name: qosmod, params: {threshold: 30}}]'

# --- placed on apply ---------------------------------------------------
topo "$ITM_TMP/t1.yaml" "$Q20"
apply "$ITM_TMP/t1.yaml"
[ "$RC" = 0 ] || itm_fail "apply 1: $OUT"
itm_assert_match "$(row cpn1)" "^cpn1 +updated +1 +table gen 1; loaded qosmod threshold=20" \
	"apply 1: cpn1 result"
itm_assert_match "$(row cpn2)" "^cpn2 +updated +1" "apply 1: cpn2 result"
itm_assert_match " $(params cpn1 qosmod) " " threshold=20 " \
	"qosmod on cpn1's agent"
itm_assert_eq "$(params cpn2 qosmod)" absent "nothing on cpn2"
itm_assert_eq "$(sql 'SELECT node, module, params, gen FROM placements')" \
	"cpn1|qosmod|threshold=20|1" "placement row"

# The agents were refused before generation 1 existed and retry their
# join every 2 s; a join places modules too, so wait for both joins here
# or one would race a later apply (and that apply would find its work
# already done by the join).
for n in cpn1 cpn2; do
	itm_wait_for 10 grep -q "node $n joined" "$CTL_LOG" ||
		itm_fail "$n did not join the controller"
done

# --- a module loaded by hand, through the controller -------------------
out=$(ctl module load cpn1 fig13 dport=9 2>&1) ||
	itm_fail "module load cpn1 fig13: $out"
itm_assert_match " $(params cpn1 fig13) " " dport=9 " "fig13 by hand"

# --- params change: reloaded ------------------------------------------
topo "$ITM_TMP/t2.yaml" "$Q30"
apply "$ITM_TMP/t2.yaml"
[ "$RC" = 0 ] || itm_fail "apply 2: $OUT"
itm_assert_match "$(row cpn1)" "^cpn1 +updated +1 +table gen 1; reloaded qosmod threshold=30" \
	"apply 2: cpn1 reloaded, its table unchanged"
itm_assert_match "$(row cpn2)" "^cpn2 +unchanged +1" "apply 2: cpn2"
itm_assert_match " $(params cpn1 qosmod) " " threshold=30 " "threshold 30"
itm_assert_match " $(params cpn1 fig13) " " dport=9 " "fig13 kept (apply 2)"

# An apply that changes nothing does nothing.
apply "$ITM_TMP/t2.yaml"
itm_assert_match "$(row cpn1)" "^cpn1 +unchanged +1 +-$" "apply 2 again: cpn1"

# Dropping the key: back to the module's default, through a reload.
topo "$ITM_TMP/t3.yaml" '[{name: qosmod}]'
apply "$ITM_TMP/t3.yaml"
itm_assert_match "$(row cpn1)" "reloaded qosmod$" "apply 3: reloaded"
itm_assert_match " $(params cpn1 qosmod) " " threshold=20 " "default 20"

# --- removed from the file: unloaded; the hand-loaded one stays --------
topo "$ITM_TMP/t4.yaml"
apply "$ITM_TMP/t4.yaml"
[ "$RC" = 0 ] || itm_fail "apply 4: $OUT"
itm_assert_match "$(row cpn1)" "^cpn1 +updated +1 +table gen 1; unloaded qosmod$" \
	"apply 4: cpn1 unloaded"
itm_assert_eq "$(params cpn1 qosmod)" absent "qosmod gone from cpn1"
itm_assert_match " $(params cpn1 fig13) " " dport=9 " "fig13 kept (apply 4)"
itm_assert_eq "$(sql 'SELECT count(*) FROM placements')" 0 "no placement rows"

# --- a bad param and an unknown module: that node refused --------------
topo "$ITM_TMP/t5.yaml" "$Q30" \
	'[{name: qosmod, params: {threshold: 0}}, {name: nosuchmod}]' 20
apply "$ITM_TMP/t5.yaml"
itm_assert_eq "$RC" 3 "itmctl exit status with a node refused"
itm_assert_match "$(row cpn1)" "^cpn1 +updated +6 +table gen 6; loaded qosmod threshold=30" \
	"apply 5: cpn1 updated"
itm_assert_match "$(row cpn2)" "^cpn2 +refused +6 " "apply 5: cpn2 refused"
itm_assert_match "$(row cpn2)" "load qosmod threshold=0 refused: INVALID_ARGUMENT: threshold: 0 is outside 1\.\.1000000000" \
	"apply 5: the agent's error for threshold=0"
itm_assert_match "$(row cpn2)" "load nosuchmod refused: .*unknown module 'nosuchmod'" \
	"apply 5: the agent's error for an unknown module"
itm_assert_match "$OUT" "1 updated, 1 refused" "apply 5 summary"
itm_assert_eq "$(params cpn2 qosmod)" absent "no qosmod on cpn2"
itm_assert_eq "$(sql 'SELECT max(id) FROM generations')" 6 \
	"the refused placement's generation is stored"
itm_assert_match "$(ctl topology show)" "threshold: 0" "topology show"

# Fixed: cpn2 gets its module, cpn1 keeps its own.
topo "$ITM_TMP/t6.yaml" "$Q30" "$Q20" 20
apply "$ITM_TMP/t6.yaml"
[ "$RC" = 0 ] || itm_fail "apply 6: $OUT"
itm_assert_match "$(row cpn2)" "^cpn2 +updated +6 +table gen 6; loaded qosmod threshold=20" \
	"apply 6: cpn2 loaded"
itm_assert_match "$(row cpn1)" "^cpn1 +unchanged +6 +-$" "apply 6: cpn1"

# --- rollback places the older generation's modules --------------------
OUT=$(ctl topology rollback 1 2>&1) || itm_fail "rollback 1: $OUT"
itm_log "rollback 1: $(tr '\n' ';' <<<"$OUT")"
itm_assert_match "$(row cpn1)" "reloaded qosmod threshold=20" \
	"rollback: cpn1 reloaded"
itm_assert_match "$(row cpn2)" "unloaded qosmod" "rollback: cpn2 unloaded"
itm_assert_match " $(params cpn1 qosmod) " " threshold=20 " "rollback: cpn1"
itm_assert_eq "$(params cpn2 qosmod)" absent "rollback: cpn2"
itm_assert_match " $(params cpn1 fig13) " " dport=9 " "fig13 kept (rollback)"

# --- a restarted agent gets its modules back ---------------------------
apply "$ITM_TMP/t6.yaml"
[ "$RC" = 0 ] || itm_fail "apply 8: $OUT"
itm_agent_stop cpn1
agent_start cpn1
itm_wait_for 20 has_param cpn1 qosmod threshold=30 ||
	itm_fail "qosmod did not come back on the restarted cpn1: $(params cpn1 qosmod)"
itm_assert_eq "$(params cpn1 fig13)" absent \
	"fig13 (by hand) is not the controller's to bring back"
itm_assert_match " $(params cpn2 qosmod) " " threshold=20 " "cpn2 untouched"
itm_assert_match "$(cat "$CTL_LOG")" \
	"node cpn1: module qosmod loaded threshold=30 \(join\)" \
	"controller log: placed on join"

# A clean stop (sanitizers report at exit).
itm_stop "$CTL_PID" 10
rc=$?
itm_assert_eq "$rc" 0 "controller exit status"
if grep -Eq "runtime error|Sanitizer" "$CTL_LOG"; then
	itm_fail "sanitizer report in the controller's log: $(grep -E -A5 "runtime error|Sanitizer" "$CTL_LOG")"
fi

itm_log "PASS"
