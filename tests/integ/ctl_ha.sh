#!/bin/bash
# ctl_ha.sh - two itm-controllers on one 3-member etcd cluster (issue 12).
#
# Namespace c runs etcd members m1..m3 (loopback ports 2379/2479/2579) and
# controllers A (port 7790) and B (7792); n1, n2 each run an itm-agent
# given both controllers (--controller A,B), over a veth c -- ni.
#  - A leads, B stands by: B refuses an apply naming A, serves history;
#  - kill -9 A while its apply's transaction is paused: B takes over
#    within a few seconds, the killed generation is absent (not half
#    there), agents rejoin B, a new apply through B reaches both;
#  - one etcd member of three killed: applies go on;
#  - two killed: an apply fails with a clear error, the agents keep their
#    tables; the members back: applies work again.
# itmctl controllers names the leader, from the standby, and the store's
# health.  Prints the failover time: kill -9 of the leader to the first successful
# apply through the standby.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init ctl_ha
itm__need etcd etcdctl

X=$ITM_NETX
APORT=7791
CTL_BIN=$ITM_BUILD/controller/itm-controller
CLIENT=$ITM_BUILD/tests/tools/ctl_client
ITMCTL=$(itm_ctl_bin)
[ -x "$CTL_BIN" ] || itm_fail "itm-controller is not built"
[ -x "$CLIENT" ] || itm_fail "ctl_client is not built"
STORE=etcd://127.0.0.1:2379,127.0.0.1:2479,127.0.0.1:2579/itm
CLUSTER=m1=http://127.0.0.1:2380,m2=http://127.0.0.1:2480,m3=http://127.0.0.1:2580
PAUSE=$ITM_TMP/pause

itm_ns c
for i in 1 2; do
	itm_ns "n$i"
	itm_link c "n$i" "10.$X.$i.1/24" "10.$X.$i.2/24"
done

declare -A MEMBER_PID
member_start() {	# N: etcd member mN (client port 2279 + 100 N)
	local cp=$((2279 + 100 * $1)) pp=$((2280 + 100 * $1))
	itm_bg c --name "etcd-m$1" etcd --name "m$1" --data-dir "$ITM_TMP/m$1" \
		--listen-client-urls "http://127.0.0.1:$cp" \
		--advertise-client-urls "http://127.0.0.1:$cp" \
		--listen-peer-urls "http://127.0.0.1:$pp" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pp" \
		--initial-cluster "$CLUSTER" --initial-cluster-token "$ITM_PFX" \
		--logger zap --log-level warn
	MEMBER_PID[$1]=$ITM_LAST_PID
}
# ctl_start NAME PORT: a controller named NAME (127.0.0.1:PORT).
declare -A CTL_PID
ctl_start() {
	itm_bg c --name "ctl$1" env ITM_STORE_PAUSE_IN_APPLY="$PAUSE" \
		"$CTL_BIN" --store "$STORE" --listen "0.0.0.0:$2" --insecure-plaintext \
		--advertise "127.0.0.1:$2" --heartbeat-ms 300 --push-timeout-ms 1000
	CTL_PID[$1]=$ITM_LAST_PID
	itm_wait_for 10 cli "$2" history || itm_fail "controller $1 does not answer"
}
cli() { local p=$1; shift; itm_exec c "$CLIENT" "127.0.0.1:$p" "$@"; }
table_gen() { itm_exec c "$CLIENT" "10.$X.$1.2:$APORT" table | awk '/^table/ { print $4 }'; }
# apply PORT FILE: an apply through the controller at PORT, its pause
# (every apply of these controllers stops in its transaction) released.
apply() {
	rm -f "$PAUSE"
	itm_bg c --name apply "$CLIENT" "127.0.0.1:$1" apply "$2"
	local pid=$ITM_LAST_PID log=$ITM_LAST_LOG
	itm_wait_for 10 eval "test -e $PAUSE || ! kill -0 $pid" ; rm -f "$PAUSE"
	wait "$pid"; local rc=$?
	cat "$log"
	return $rc
}
topo() {	# COST
	cat <<EOF
comment: ctl_ha cost $1
nodes:
  - {name: n1, mgmt: "10.$X.1.2:$APORT", overlay: 10.200.0.1}
  - {name: n2, mgmt: "10.$X.2.2:$APORT", overlay: 10.200.0.2}
links:
  - {between: [n1, n2], cost: $1}
EOF
}
for c in 10 20 30 40 50; do topo $c >"$ITM_TMP/t$c.yaml"; done

for m in 1 2 3; do member_start $m; done
itm_wait_for 20 itm_exec c etcdctl --endpoints 127.0.0.1:2379,127.0.0.1:2479,127.0.0.1:2579 \
	endpoint health || itm_fail "etcd cluster did not come up"

# --- A leads, B stands by -------------------------------------------------
ctl_start A 7790
ctl_start B 7792
itm_assert_match "$(cat "$ITM_TMP/ctlA.log")" "leading: 127.0.0.1:7790" "A leads"
itm_assert_match "$(cat "$ITM_TMP/ctlB.log")" "standing by: 127.0.0.1:7790 .* leads" "B stands by"
for i in 1 2; do
	itm_agent_start "n$i" "n$i" --listen "10.$X.$i.2:$APORT" --insecure-plaintext \
		--controller "10.$X.$i.1:7790,10.$X.$i.1:7792"
done
out=$(apply 7790 "$ITM_TMP/t10.yaml") || itm_fail "apply 1 through A: $out"
itm_assert_match "$out" "node n2 updated 1 " "apply 1"
out=$(cli 7792 apply "$ITM_TMP/t20.yaml" 2>&1) && itm_fail "the standby applied: $out"
itm_assert_match "$out" "FAILED_PRECONDITION.*standby: 127.0.0.1:7790 \\(pid ${CTL_PID[A]}.* leads" \
	"the standby's refusal names the leader"
itm_wait_for 5 eval 'cli 7792 history | grep -q "ctl_ha cost 10"' ||
	itm_fail "the standby does not serve the history: $(cli 7792 history)"
out=$(itm_exec c "$ITMCTL" --controller 127.0.0.1:7792 controllers) ||
	itm_fail "itmctl controllers on B: $out"
itm_assert_match "$out" "leader      127.0.0.1:7790 \(pid ${CTL_PID[A]}, since " "leader seen from B"
itm_assert_match "$out" "answered by 127.0.0.1:7792 .*, standing by" "B stands by"
itm_assert_match "$out" "health      ok: etcd 3\.[0-9.]*, member [0-9a-f]*, raft leader" "store health"
itm_log "A leads, B refuses writes naming A and serves reads"

# --- kill -9 the leader mid-apply ------------------------------------------
rm -f "$PAUSE"
itm_bg c --name apply-killed "$CLIENT" "127.0.0.1:7790" apply "$ITM_TMP/t20.yaml"
itm_wait_for 10 test -e "$PAUSE" || itm_fail "the apply never reached its transaction"
t0=${EPOCHREALTIME/./}
kill -9 "${CTL_PID[A]}"
rm -f "$PAUSE"
until out=$(apply 7792 "$ITM_TMP/t30.yaml" 2>&1); do
	[ $(( ${EPOCHREALTIME/./} - t0 )) -lt 15000000 ] ||
		itm_fail "no apply through B 15 s after A died: $out"
	sleep 0.2
done
ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
itm_assert_eq "$(grep '^generation' <<<"$out")" "generation 2" "the killed apply left no generation 2"
hist=$(cli 7792 history)
itm_assert_eq "$(grep -c 'ctl_ha cost 20' <<<"$hist")" 0 "the killed generation in the history"
itm_wait_for 10 eval '[ "$(table_gen 1) $(table_gen 2)" = "2 2" ]' ||
	itm_fail "agents did not converge to generation 2: $(table_gen 1) $(table_gen 2)"
itm_wait_for 10 eval '[ "$(cli 7792 nodes | grep -c " up acked 2")" = 2 ]' ||
	itm_fail "agents did not rejoin B: $(cli 7792 nodes)"
out=$(itm_exec c "$ITMCTL" --controller 127.0.0.1:7792 -o json controllers)
itm_assert_match "$out" '"leading": true' "B leads after the failover (json)"
itm_log "failover: A killed mid-apply, B applied generation 2 after $ms ms; agents on B"

# --- one etcd member of three down: applies go on --------------------------
kill -9 "${MEMBER_PID[1]}"
out=$(apply 7792 "$ITM_TMP/t40.yaml") || itm_fail "apply with 2 of 3 members: $out"
itm_assert_eq "$(grep '^generation' <<<"$out")" "generation 3" "apply with one member down"
itm_log "one etcd member down: apply of generation 3 went through"

# --- two down: a clear failure, tables kept; then recovery --------------
kill -9 "${MEMBER_PID[2]}"
out=$(apply 7792 "$ITM_TMP/t50.yaml" 2>&1) && itm_fail "apply without quorum: $out"
itm_assert_match "$out" "etcd .*(DEADLINE_EXCEEDED|UNAVAILABLE)|standby" "error without quorum"
itm_assert_eq "$(table_gen 1) $(table_gen 2)" "3 3" "agents' tables without quorum"
itm_log "two members down: apply refused ($(tr "\n" " " <<<"$out" | cut -c1-200)); tables kept"
member_start 1
member_start 2
t1=${EPOCHREALTIME/./}
until out=$(apply 7792 "$ITM_TMP/t50.yaml" 2>&1); do
	[ $(( ${EPOCHREALTIME/./} - t1 )) -lt 40000000 ] ||
		itm_fail "no apply 40 s after the members came back: $out"
	sleep 0.5
done
itm_assert_eq "$(grep '^generation' <<<"$out")" "generation 4" "apply after recovery"
itm_wait_for 10 eval '[ "$(table_gen 1) $(table_gen 2)" = "4 4" ]' ||
	itm_fail "agents after recovery: $(table_gen 1) $(table_gen 2)"
itm_log "members back: generation 4 applied and pushed"
itm_log "PASS (failover $ms ms)"
