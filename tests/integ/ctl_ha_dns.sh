#!/bin/bash
# ctl_ha_dns.sh - an agent given one controller name that resolves to
# several addresses (issue 12).
#
# Namespace c runs one etcd member and controllers A (10.X.9.1:7700,
# leads) and B (10.X.9.2:7700, stands by) on its loopback; n1's hosts
# file (/etc/netns/NS/hosts, which `ip netns exec` mounts) gives the name
# ctl-ha-dns.itm both addresses, B's first.  The agent, given
# --controller ctl-ha-dns.itm:7700, must not stay on B (which refuses
# it): it joins A.  Then A is killed: B leads and the agent rejoins it.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init ctl_ha_dns
itm__need etcd getent

X=$ITM_NETX
NAME=ctl-ha-dns.itm
CTL_BIN=$ITM_BUILD/controller/itm-controller
CLIENT=$ITM_BUILD/tests/tools/ctl_client
[ -x "$CTL_BIN" ] || itm_fail "itm-controller is not built"
[ -x "$CLIENT" ] || itm_fail "ctl_client is not built"

itm_ns c
itm_ns n1
itm_link c n1 "10.$X.1.1/24" "10.$X.1.2/24"
itm_exec c ip addr add "10.$X.9.1/32" dev lo
itm_exec c ip addr add "10.$X.9.2/32" dev lo
itm_exec n1 ip route add "10.$X.9.0/24" via "10.$X.1.1"
HOSTS_DIR=/etc/netns/$(itm_nsname n1)
mkdir -p "$HOSTS_DIR"
itm_on_exit "rm -rf '$HOSTS_DIR'"
printf '127.0.0.1 localhost\n10.%s.9.2 %s\n10.%s.9.1 %s\n' "$X" "$NAME" "$X" "$NAME" \
	>"$HOSTS_DIR/hosts"
itm_assert_eq "$(itm_exec n1 getent ahostsv4 "$NAME" | awk '/STREAM/ { print $1 }' | tr '\n' ' ')" \
	"10.$X.9.2 10.$X.9.1 " "$NAME resolves in n1 to B, then A"

itm_bg c --name etcd etcd --name m1 --data-dir "$ITM_TMP/m1" \
	--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
	--listen-peer-urls http://127.0.0.1:2380 --logger zap --log-level warn
itm_wait_for 20 itm_exec c etcdctl --endpoints 127.0.0.1:2379 endpoint health ||
	itm_fail "etcd did not come up"
declare -A CTL_PID
ctl_start() {	# NAME IP
	itm_bg c --name "ctl$1" "$CTL_BIN" --store etcd://127.0.0.1:2379/itm \
		--listen "$2:7700" --insecure-plaintext --heartbeat-ms 300 --push-timeout-ms 1000
	CTL_PID[$1]=$ITM_LAST_PID
	itm_wait_for 10 cli "$2" history || itm_fail "controller $1 does not answer"
}
cli() { local ip=$1; shift; itm_exec c "$CLIENT" "$ip:7700" "$@"; }
ctl_start A "10.$X.9.1"
ctl_start B "10.$X.9.2"
itm_assert_match "$(cat "$ITM_TMP/ctlB.log")" "standing by: 10.$X.9.1:7700" "B stands by"
cat >"$ITM_TMP/t.yaml" <<EOT
nodes:
  - {name: n1, mgmt: "10.$X.1.2:7791", overlay: 10.200.0.1}
EOT
out=$(cli "10.$X.9.1" apply "$ITM_TMP/t.yaml") || itm_fail "apply through A: $out"

itm_agent_start n1 n1 --listen "10.$X.1.2:7791" --insecure-plaintext --controller "$NAME:7700"
alog=$ITM_LAST_LOG
itm_wait_for 10 eval 'grep -q "joined controller 10\.$X\.9\.1:7700 as n1" "$alog"' ||
	itm_fail "the agent did not join A through $NAME: $(tail -5 "$alog")"
itm_wait_for 10 eval 'cli "10.$X.9.1" nodes | grep -q "node n1 up acked 1 "' ||
	itm_fail "n1 not up on A: $(cli "10.$X.9.1" nodes)"
itm_assert_match "$(cat "$alog")" "controller $NAME: 10\.$X\.9\.2:7700" "the agent resolved B"
itm_assert_match "$(cat "$alog")" "controller $NAME: 10\.$X\.9\.1:7700" "and A"
itm_log "agent given $NAME (B, A) joined the leader A"

kill -9 "${CTL_PID[A]}"
itm_wait_for 15 eval 'grep -q "joined controller 10\.$X\.9\.2:7700 as n1" "$alog"' ||
	itm_fail "the agent did not rejoin B: $(tail -5 "$alog")"
itm_assert_match "$(cat "$ITM_TMP/ctlB.log")" "leading: 10.$X.9.2:7700" "B leads"
itm_assert_match "$(cat "$ITM_TMP/ctlB.log")" "node n1 joined from" "B took n1's join"
itm_log "A killed: B leads and the agent rejoined it through $NAME"
itm_log PASS
