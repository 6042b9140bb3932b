#!/bin/bash
# failover_bench.sh - time from kill -9 of the leading itm-controller to
# the next successful apply through a standby (issue 12).
#
#   tests/bench/failover_bench.sh [-k KILLS]
#
# On loopback, no root needed: one etcd, two controllers A and B on one
# prefix.  KILLS times (default 10): find the leader (itmctl controllers),
# kill -9 it, apply through the other one until an apply succeeds, note the
# time, start the killed one again (it stands by).  The topology's two
# nodes have no agents (pushes fail at once: "unreachable"), so the figure
# is the store's failover alone: the dead leader's lease running out
# (CTL_LEAD_TTL_S), the standby's next campaign (CTL_LEAD_TICK_MS).
set -eu
KILLS=10
while getopts k: o; do
	case $o in
	k) KILLS=$OPTARG ;;
	*) echo "usage: failover_bench.sh [-k KILLS]" >&2; exit 2 ;;
	esac
done
: "${ITM_BUILD:=$(cd "$(dirname "$0")/../.." && pwd)/build}"
CTL=$ITM_BUILD/controller/itm-controller
CLIENT=$ITM_BUILD/tests/tools/ctl_client
ITMCTL=$ITM_BUILD/controller/itmctl/itmctl
for b in "$CTL" "$CLIENT" "$ITMCTL"; do
	[ -x "$b" ] || { echo "failover_bench: $b is not built" >&2; exit 1; }
done
command -v etcd >/dev/null || { echo "failover_bench: etcd is not installed (etcd-server)" >&2; exit 1; }
P=${FAILOVER_BENCH_PORT:-17500}
TMP=$(mktemp -d /tmp/failover_bench.XXXXXX)
declare -A PID
ETCD_PID=""
cleanup() {
	local p
	for p in "${PID[@]}" $ETCD_PID; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

etcd --name fb --data-dir "$TMP/etcd" \
	--listen-client-urls "http://127.0.0.1:$P" --advertise-client-urls "http://127.0.0.1:$P" \
	--listen-peer-urls "http://127.0.0.1:$((P + 1))" \
	--initial-advertise-peer-urls "http://127.0.0.1:$((P + 1))" \
	--initial-cluster "fb=http://127.0.0.1:$((P + 1))" \
	--logger zap --log-level error >"$TMP/etcd.log" 2>&1 &
ETCD_PID=$!
STORE=etcd://127.0.0.1:$P/failover
start() {	# A|B: its port is P+2 or P+3
	local port=$((P + 2)); [ "$1" = B ] && port=$((P + 3))
	"$CTL" --store "$STORE" --listen "127.0.0.1:$port" --push-timeout-ms 500 \
		>>"$TMP/ctl$1.log" 2>&1 &
	PID[$1]=$!
	for _ in $(seq 100); do "$CLIENT" "127.0.0.1:$port" history >/dev/null 2>&1 && return 0; sleep 0.05; done
	echo "failover_bench: controller $1 does not answer" >&2; exit 1
}
port_of() { [ "$1" = A ] && echo $((P + 2)) || echo $((P + 3)); }
cat >"$TMP/t.yaml" <<EOF
nodes:
  - {name: x1, mgmt: "127.0.0.1:$((P + 8))", overlay: 10.254.0.1}
  - {name: x2, mgmt: "127.0.0.1:$((P + 9))", overlay: 10.254.0.2}
links:
  - {between: [x1, x2], cost: 1}
EOF
for _ in $(seq 100); do
	etcdctl --endpoints "127.0.0.1:$P" endpoint health >/dev/null 2>&1 && break; sleep 0.1
done
start A
start B
for ((k = 1; k <= KILLS; k++)); do
	if "$ITMCTL" --controller "127.0.0.1:$(port_of A)" controllers | grep -q ', leading'; then
		lead=A other=B
	else
		lead=B other=A
	fi
	t0=${EPOCHREALTIME/./}
	kill -9 "${PID[$lead]}"; wait "${PID[$lead]}" 2>/dev/null || true
	until "$CLIENT" "127.0.0.1:$(port_of $other)" apply "$TMP/t.yaml" >/dev/null 2>&1; do
		[ $(( ${EPOCHREALTIME/./} - t0 )) -lt 30000000 ] ||
			{ echo "failover_bench: no apply 30 s after the kill" >&2; exit 1; }
		sleep 0.05
	done
	echo $(( (${EPOCHREALTIME/./} - t0) / 1000 ))
	start "$lead"
done >"$TMP/times"
sort -n "$TMP/times" | awk '{ v[NR] = $1 } END {
	printf "kills %d  failover median %d ms  min %d ms  max %d ms\n", NR,
		(NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR] }'
echo "(kill -9 of the leader to the first successful apply through the standby; lease ${CTL_LEAD_TTL_S:-3} s, campaign every 1 s)"
