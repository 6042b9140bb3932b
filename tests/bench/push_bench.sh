#!/bin/bash
# push_bench.sh - time from Apply to every agent acknowledging the new
# generation, for 4, 16 and 64 agents (see tests/bench/README.md), on
# each store asked for (SQLite, etcd).
#
#   tests/bench/push_bench.sh [-r ROUNDS] [-n "4 16 64"] [-s "sqlite etcd"]
#
# On loopback, no root needed.  For each store and agent count N: an
# itm-controller on a fresh store (an SQLite file; or a new prefix in one
# etcd started here, data in a temporary directory), fake_agents simulating N agents (real Join,
# heartbeats and InstallTable), a ring topology of N nodes.  Each round
# changes every link's cost, so every node's table changes, and times
# Controller.Apply: its reply comes once every agent acknowledged (or the
# push deadline passed), so the call's duration is the figure.  A round in
# which a node is not "updated" is an error.
set -eu
ROUNDS=9
COUNTS="4 16 64"
STORES=sqlite
while getopts r:n:s: o; do
	case $o in
	r) ROUNDS=$OPTARG ;;
	n) COUNTS=$OPTARG ;;
	s) STORES=$OPTARG ;;
	*) echo "usage: push_bench.sh [-r ROUNDS] [-n COUNTS] [-s STORES]" >&2; exit 2 ;;
	esac
done
: "${ITM_BUILD:=$(cd "$(dirname "$0")/../.." && pwd)/build}"
CTL=$ITM_BUILD/controller/itm-controller
FAKE=$ITM_BUILD/tests/bench/fake_agents
CLIENT=$ITM_BUILD/tests/tools/ctl_client
for b in "$CTL" "$FAKE" "$CLIENT"; do
	[ -x "$b" ] || { echo "push_bench: $b is not built" >&2; exit 1; }
done
PORT=${PUSH_BENCH_PORT:-17900}
BASE=$((PORT + 1))
TMP=$(mktemp -d /tmp/push_bench.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}" ${ETCD_PID:-}; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

ring() {	# N COST
	local n=$1 i
	echo "comment: push_bench ring of $n, cost $2"
	echo "nodes:"
	for ((i = 1; i <= n; i++)); do
		printf '  - name: f%d\n    mgmt: 127.0.0.1:%d\n    overlay: 10.%d.%d.%d\n' \
			"$i" $((BASE + i - 1)) $((100 + i / 65536)) $((i / 256 % 256)) $((i % 256))
	done
	echo "links:"
	for ((i = 1; i <= n; i++)); do
		printf '  - between: [f%d, f%d]\n    cost: %d\n' "$i" $((i % n + 1)) "$2"
	done
}

ETCD_PORT=${PUSH_BENCH_ETCD_PORT:-17379}
etcd_start() {
	command -v etcd >/dev/null || { echo "push_bench: etcd is not installed (etcd-server)" >&2; exit 1; }
	etcd --name pb --data-dir "$TMP/etcd" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
		--initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
		--initial-cluster "pb=http://127.0.0.1:$((ETCD_PORT + 1))" \
		--logger zap --log-level error >"$TMP/etcd.log" 2>&1 &
	ETCD_PID=$!
	for _ in $(seq 100); do
		etcdctl --endpoints "127.0.0.1:$ETCD_PORT" endpoint health >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "push_bench: etcd did not start: $(tail -3 "$TMP/etcd.log")" >&2; exit 1
}
where() {	# STORE N: the controller's --store
	case $1 in
	sqlite) echo "$TMP/bench-$2.db" ;;
	etcd) echo "etcd://127.0.0.1:$ETCD_PORT/bench$2" ;;
	esac
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

one_count() {	# STORE N -> prints the median in ms
	local n=$2 db r out ctl fake up
	db=$(where "$1" "$n")
	"$CTL" --store "$db" --listen "127.0.0.1:$PORT" --push-timeout-ms 20000 >"$TMP/ctl-$n.log" 2>&1 &
	ctl=$!; PIDS+=("$ctl")
	for _ in $(seq 50); do "$CLIENT" "127.0.0.1:$PORT" history >/dev/null 2>&1 && break; sleep 0.1; done
	ring "$n" 1 >"$TMP/ring.yaml"
	"$CLIENT" "127.0.0.1:$PORT" apply "$TMP/ring.yaml" >/dev/null
	"$FAKE" "127.0.0.1:$PORT" "$n" "$BASE" f >"$TMP/fake-$n.log" 2>&1 &
	fake=$!; PIDS+=("$fake")
	for _ in $(seq 300); do
		up=$("$CLIENT" "127.0.0.1:$PORT" nodes | grep -c ' up acked 1 ' || true)
		[ "$up" = "$n" ] && break
		sleep 0.1
	done
	# one_count runs in $(...): its processes are its own to stop.
	OWN="$fake $ctl"
	trap 'kill -9 $OWN 2>/dev/null' EXIT
	[ "$up" = "$n" ] || { echo "push_bench: only $up of $n agents joined" >&2; exit 1; }
	for ((r = 1; r <= ROUNDS; r++)); do
		ring "$n" $((r + 1)) >"$TMP/ring.yaml"
		out=$("$CLIENT" "127.0.0.1:$PORT" apply "$TMP/ring.yaml")
		[ "$(grep -c ' updated ' <<<"$out")" = "$n" ] ||
			{ echo "push_bench: round $r: not every node updated:" >&2; echo "$out" >&2; exit 1; }
		awk '/^elapsed_ms/ { print $2 }' <<<"$out"
	done >"$TMP/times-$n"
	kill "$fake" "$ctl"; wait "$fake" "$ctl" 2>/dev/null || true
	PIDS=()
	median <"$TMP/times-$n"
}

case " $STORES " in *" etcd "*) etcd_start ;; esac
printf '%-8s %-8s %12s %12s %12s %10s\n' store agents "median ms" "min ms" "max ms" "x(first)"
for st in $STORES; do
	first=""
	for n in $COUNTS; do
		m=$(one_count "$st" "$n")
		lo=$(sort -n "$TMP/times-$n" | head -1)
		hi=$(sort -n "$TMP/times-$n" | tail -1)
		: "${first:=$m}"
		printf '%-8s %-8s %12.2f %12.2f %12.2f %10.2f\n' "$st" "$n" "$m" "$lo" "$hi" \
			"$(awk -v a="$m" -v b="$first" 'BEGIN { print a / b }')"
	done
done
echo "($ROUNDS rounds each; Apply = validate + one store transaction (SQLite, or one etcd Txn) + concurrent pushes + acks)"
