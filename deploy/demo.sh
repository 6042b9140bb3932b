#!/bin/bash
# demo.sh - the main job on one machine, from a clean clone: install what
# is missing, build (./build), then three parts, each torn down after it:
#
# 1. qosmod: the lab h1 -- r -- h2 (network namespaces) with a core-router
#    queue on r that serves TOS 0x10 first, and real traffic: one long TCP
#    transfer h1 -> h2 with short downloads beside it, first without ITM,
#    then with itm-agent on r running qosmod (which marks the short flows).
#    Shows the short flows' times, `itmctl stats` (per class: packets,
#    bytes, flows) and the core queue's counters.
# 2. The overlay: deploy/topo.yaml brought up by `lab.sh up --topo` (an
#    itm-controller, one itm-agent per node, the topology applied), then
#    `itmctl nodes`, qosmod placed on n2 by applying a new generation
#    that lists it there (`topology diff`, `apply`: the controller loads
#    it), real traffic n1 -> n3 (routed through n2), `itmctl stats` for
#    the whole overlay and `itmctl topology history`.
# 3. Overlay routing: deploy/topo-route.yaml (four nodes, every pair
#    linked by the lab's underlay, itmroute on every node) brought up with
#    `lab.sh up --topo --underlay`; `itmctl routes n1`, then 200 ms added
#    to the direct path n1 - n4 (itmroute moves to the detour through n2),
#    the path cut while n1 pings n4 every 10 ms (pings lost counted),
#    restored, and `itmctl paths` next to the declared latencies.
#
# 4. (optional, DEMO_PARTS=ha) the control plane without a single point
#    of failure: deploy/topo.yaml by `lab.sh up --topo --ha` (a 3-member
#    etcd cluster, two controllers, each in its own namespace, agents
#    given both), `itmctl controllers`, kill -9 of the leading
#    controller, `itmctl controllers` again (the standby leads), an apply
#    that works and `itmctl nodes` (every agent rejoined the new leader).
#    About 15 s.
#
#   deploy/demo.sh            (as root; DEMO_PARTS="qos overlay route" by default)
#   DEMO_PARTS="overlay ha" deploy/demo.sh
#
# DEMO_RATE (default 100mbit) is r's link to h2; DEMO_SECS (default 6)
# the long transfer; DEMO_THRESHOLD (default 20) qosmod's threshold.
set -u
cd "$(dirname "$0")/.." || exit 1
SRC=$PWD
export ITM_SRC=$SRC ITM_BUILD=${ITM_BUILD:-$SRC/build}
LAB="deploy/lab/lab.sh"
NAME=demo
OVL=demoovl
HA=demoha
TOPO=deploy/topo.yaml
PARTS=${DEMO_PARTS:-qos overlay route}
RTE=demoroute
RTE_TOPO=deploy/topo-route.yaml
RATE=${DEMO_RATE:-100mbit}
SECS=${DEMO_SECS:-6}
THRESHOLD=${DEMO_THRESHOLD:-20}
X=${ITM_NETX:-77}
H2=10.$X.2.2

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

build() {
	say "dependencies"
	deploy/install-deps.sh || die "deploy/install-deps.sh failed"
	say "build ($ITM_BUILD)"
	cmake -S . -B "$ITM_BUILD" >/dev/null || die "cmake configure failed"
	cmake --build "$ITM_BUILD" -j2 || die "build failed"
}

need_binaries() {
	[ -x "$ITM_BUILD/agent/itm-agent" ] ||
		die "itm-agent is not built ($ITM_BUILD/agent/itm-agent): the agent" \
		    "(agent/, issue 2) is not in this tree yet"
	[ -e "$ITM_BUILD/modules/qosmod/qosmod.so" ] ||
		die "qosmod is not built ($ITM_BUILD/modules/qosmod/qosmod.so)"
	[ -x "$ITM_BUILD/controller/itmctl/itmctl" ] ||
		die "itmctl is not built ($ITM_BUILD/controller/itmctl/itmctl): the" \
		    "operator CLI (controller/) is not in this tree yet"
	[ -x "$ITM_BUILD/controller/itm-controller" ] ||
		die "itm-controller is not built ($ITM_BUILD/controller/itm-controller)"
}

# Both labs go on any exit, also on Ctrl-C or a failure.
teardown() {
	"$LAB" down -n "$NAME" >/dev/null 2>&1
	"$LAB" down -n "$OVL" >/dev/null 2>&1
	"$LAB" down -n "$RTE" >/dev/null 2>&1
	"$LAB" down -n "$HA" >/dev/null 2>&1
}

lab_up() {
	say "lab '$NAME': h1 -- r -- h2"
	"$LAB" down -n "$NAME" >/dev/null 2>&1
	"$LAB" up -n "$NAME" || die "lab up failed"
	say "core queue on r towards h2: $RATE, TOS 0x10 first"
	deploy/lab/qos-core.sh "itmlab-$NAME-r" to-h2 "$RATE" || die "qos-core failed"
}

agent_up() {
	say "itm-agent on r with qosmod threshold=$THRESHOLD"
	"$LAB" agent -n "$NAME" r --load "qosmod threshold=$THRESHOLD" ||
		die "itm-agent did not start"
	"$LAB" ctl -n "$NAME" r module list
}

# Servers in h2: iperf3 for the long flow, a web server for short ones.
servers() {
	mkdir -p "/run/itm-lab/$NAME/www"
	head -c 20000 /dev/urandom >"/run/itm-lab/$NAME/www/small"
	"$LAB" exec -n "$NAME" h2 iperf3 -s -B "$H2" >/dev/null 2>&1 &
	"$LAB" exec -n "$NAME" h2 python3 -m http.server 8000 --bind "$H2" \
		--directory "/run/itm-lab/$NAME/www" >/dev/null 2>&1 &
	for _ in $(seq 50); do
		"$LAB" exec -n "$NAME" h2 ss -Hltn | grep -q ':8000' &&
		"$LAB" exec -n "$NAME" h2 ss -Hltn | grep -q ':5201' && return 0
		sleep 0.1
	done
	die "servers in h2 did not start"
}

short_flows() {
	local i t
	for i in $(seq 5); do
		t=$("$LAB" exec -n "$NAME" h1 curl -s -o /dev/null \
			-w '%{time_total}' "http://$H2:8000/small") || t=failed
		printf '  short flow %d (20 kB): %s s\n' "$i" "$t"
		sleep 0.5
	done
}

# traffic LABEL: the long transfer with short ones beside it.
traffic() {
	local long
	say "traffic, $1: one long TCP transfer h1 -> h2 (${SECS}s), short downloads beside it"
	"$LAB" exec -n "$NAME" h1 iperf3 -c "$H2" -t "$SECS" >"/run/itm-lab/$NAME/long.txt" 2>&1 &
	long=$!
	sleep 1
	short_flows
	wait "$long" || die "the long transfer failed: $(cat "/run/itm-lab/$NAME/long.txt")"
	grep -E 'receiver' "/run/itm-lab/$NAME/long.txt" | sed 's/^/  long flow: /'
}

report() {
	say "itmctl stats (r)"
	"$LAB" ctl -n "$NAME" r stats || die "itmctl stats failed"
	say "core queue on r (1:10 = short class, 1:20 = the rest)"
	deploy/lab/qos-core.sh "itmlab-$NAME-r" to-h2 show |
		awk '/^class htb 1:(10|20) / { c = $3 } c && /Sent/ { print "  " c ": " $0; c = "" }'
}

# ---------------------------------------------------------------------
# Part 2: the overlay of deploy/topo.yaml, run through the controller
# ---------------------------------------------------------------------

ovl() { "$LAB" itmctl -n "$OVL" "$@"; }

overlay_up() {
	say "overlay from $TOPO: lab.sh up --topo (itm-controller, an itm-agent per node, apply)"
	"$LAB" down -n "$OVL" >/dev/null 2>&1
	"$LAB" up -n "$OVL" --topo "$TOPO" || die "lab.sh up --topo $TOPO failed"
	say "itmctl nodes"
	ovl nodes || die "itmctl nodes failed"
}

# qosmod placed on n2 through the topology: a copy of topo.yaml with qosmod
# under n2, diffed and applied as a new generation; the controller loads
# it on n2's agent (the apply's DETAIL column says so).
overlay_place() {
	local v2="/run/itm-lab/$OVL/topo-v2.yaml"
	awk -v t="$THRESHOLD" '/^comment:/ { print $0 ", qosmod placed on n2"; next }
		{ print }
		/overlay: 10\.200\.0\.2$/ { n2 = 1 }
		n2 && /labels:/ { print "    modules:\n      - name: qosmod\n        params: { threshold: " t " }"; n2 = 0 }' \
		"$TOPO" >"$v2"
	say "place qosmod threshold=$THRESHOLD on n2: itmctl topology diff / apply (topo.yaml with qosmod under n2)"
	ovl topology diff "$v2"
	ovl topology apply "$v2" || die "apply of $v2 failed"
	say "itmctl module list n2 (read back from n2's agent)"
	ovl module list n2 || die "module list n2 failed"
}

# A long transfer n1 -> n3 with short downloads beside it, between the
# overlay addresses; the lab routes n1 -> n3 through n2 (cost 20 < 30).
overlay_traffic() {
	local n3=10.200.0.3 dir="/run/itm-lab/$OVL/www" i t
	say "traffic across the overlay: n1 -> n3 ($n3, via n2), 3 s of iperf3, short downloads beside it"
	mkdir -p "$dir" && head -c 20000 /dev/urandom >"$dir/small"
	"$LAB" exec -n "$OVL" n3 iperf3 -s -1 -B "$n3" >/dev/null 2>&1 &
	"$LAB" exec -n "$OVL" n3 python3 -m http.server 8000 --bind "$n3" \
		--directory "$dir" >/dev/null 2>&1 &
	for _ in $(seq 50); do
		"$LAB" exec -n "$OVL" n3 ss -Hltn | grep -q ':8000' &&
		"$LAB" exec -n "$OVL" n3 ss -Hltn | grep -q ':5201' && break
		sleep 0.1
	done
	"$LAB" exec -n "$OVL" n1 iperf3 -c "$n3" -t 3 >"$dir/long.txt" 2>&1 &
	sleep 0.5
	for i in 1 2 3; do
		t=$("$LAB" exec -n "$OVL" n1 curl -s -o /dev/null -w '%{time_total}' \
			"http://$n3:8000/small") || t=failed
		printf '  short flow %d (20 kB): %s s\n' "$i" "$t"
		sleep 0.5
	done
	wait $! || die "the transfer across the overlay failed: $(cat "$dir/long.txt")"
	grep -E 'receiver' "$dir/long.txt" | sed 's/^/  long flow: /'
}

overlay_report() {
	say "itmctl stats (the whole overlay)"
	ovl stats || die "itmctl stats failed"
	say "itmctl topology history"
	ovl topology history || die "itmctl topology history failed"
}

# ---------------------------------------------------------------------
# Part 3: overlay routing by itmroute over the lab's underlay
# ---------------------------------------------------------------------

rte() { "$LAB" "$1" -n "$RTE" "${@:2}"; }

route_up() {
	say "itmRoute from $RTE_TOPO: lab.sh up --topo --underlay (itmroute on every node)"
	rte down >/dev/null 2>&1
	rte up --topo "$RTE_TOPO" --underlay || die "lab.sh up --topo $RTE_TOPO --underlay failed"
	sleep 2 # a few probe rounds
	say "itmctl routes n1 (direct to n4: 5 ms one way, 10 ms RTT)"
	rte itmctl routes n1 || die "itmctl routes failed"
}

# route_to_n4: n1's path to n4 now ("direct" or the via node).
route_to_n4() {
	rte itmctl -o json routes n1 | /usr/bin/python3 -c '
import json, sys
for n in json.load(sys.stdin).get("nodes", []):
    for r in n.get("routes", []):
        if r.get("destination") == "n4":
            print(r.get("via") or "direct")'
}

# route_wait VIA SECS: until n1's path to n4 is VIA.
route_wait() {
	local i
	for i in $(seq $(($2 * 10))); do
		[ "$(route_to_n4)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# route_pings SECS: n1 pings n4 every 10 ms; prints sent/received.
route_pings() {
	rte exec n1 ping -n -q -i 0.01 -w "$1" 10.202.0.4 |
		awk '/packets transmitted/ { print "  " $0 }'
}

route_steps() {
	say "200 ms added to n1 - n4: itmroute takes the faster detour (through n2, not n3)"
	rte impair n1 n4 delay=200ms >/dev/null || die "lab.sh impair failed"
	route_wait n2 5 && echo "  n1 -> n4 now via $(route_to_n4)" ||
		echo "  n1 -> n4 still $(route_to_n4) after 5 s"
	rte exec n1 ping -n -c 3 -i 0.2 10.202.0.4 | grep -E 'rtt|packets'
	say "delay cleared; n1 - n4 cut while n1 pings n4 every 10 ms for 3 s"
	rte impair n1 n4 clear >/dev/null
	route_wait direct 10 || echo "  (not back direct after the hold-down)"
	route_pings 3 &
	sleep 1
	rte impair n1 n4 down >/dev/null || die "lab.sh impair down failed"
	wait
	echo "  n1 -> n4 via $(route_to_n4) (10 ms pings: each lost one is 10 ms without a path)"
	rte impair n1 n4 up >/dev/null
	say "itmctl paths: measured RTT and loss next to topo.yaml's latency_ms"
	rte itmctl paths || die "itmctl paths failed"
}

# ---------------------------------------------------------------------
# Part 4 (DEMO_PARTS=ha): two controllers on etcd, the leader killed
# ---------------------------------------------------------------------

ha() { "$LAB" itmctl -n "$HA" "$@"; }

# The leader line of `itmctl controllers`: "leader  ADDR (pid N, since T)".
ha_kill_leader() {
	local leader pid
	leader=$(ha controllers | sed -n 's/^leader *\([^ ]*\) (pid \([0-9]*\),.*/\1 \2/p')
	pid=${leader#* }
	leader=${leader%% *}
	[ -n "$pid" ] || die "no leading controller"
	say "kill -9 the leading controller $leader (pid $pid)"
	kill -9 "$pid"
	for _ in $(seq 50); do
		ha controllers 2>/dev/null | grep -q ', leading$' &&
			! ha controllers | grep -q "^leader *$leader " && return 0
		sleep 0.2
	done
	die "no other controller leads 10 s after the leader was killed"
}

# Agents move to the next --controller address when a heartbeat fails,
# so they rejoin the new leader within a few seconds of the kill: wait
# (at most 20 s) until the leader sees every node up.
ha_wait_all_up() {
	for _ in $(seq 100); do
		ha nodes 2>/dev/null | awk 'NR > 3 && NF { n++ } NR > 3 && NF && $2 != "up" { bad = 1 }
			END { exit bad || !n }' && return 0
		sleep 0.2
	done
	echo "not every agent rejoined within 20 s:" >&2
}

ha_part() {
	local v2="/run/itm-lab/$HA/topo-v2.yaml" # removed by lab.sh down
	say "HA control plane: lab.sh up --topo $TOPO --ha (etcd x3, two controllers)"
	"$LAB" down -n "$HA" >/dev/null 2>&1
	"$LAB" up -n "$HA" --topo "$TOPO" --ha || die "lab.sh up --ha failed"
	say "itmctl controllers (before)"
	ha controllers || die "itmctl controllers failed"
	ha_kill_leader
	say "itmctl controllers (after)"
	ha controllers || die "itmctl controllers failed"
	sed 's/^comment: .*/&, applied after the leader died/' "$TOPO" >"$v2"
	say "itmctl topology apply (through the new leader)"
	ha topology apply "$v2" || die "apply after the failover failed"
	say "itmctl nodes (every agent rejoined the new leader)"
	ha_wait_all_up
	ha nodes || die "itmctl nodes failed"
	say "tearing down '$HA'"
	"$LAB" down -n "$HA"
}

main() {
	[ "$(id -u)" -eq 0 ] || die "run as root (network namespaces, netfilter)"
	build
	need_binaries
	trap teardown EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	if [[ " $PARTS " == *" qos "* ]]; then
		lab_up
		servers
		traffic "without ITM"
		agent_up
		traffic "qosmod on r"
		report
		say "tearing down the lab '$NAME'"
		"$LAB" down -n "$NAME"
	fi
	if [[ " $PARTS " == *" overlay "* ]]; then
		overlay_up
		overlay_place
		overlay_traffic
		overlay_report
		say "tearing down the overlay '$OVL'"
		"$LAB" down -n "$OVL"
	fi
	if [[ " $PARTS " == *" route "* ]]; then
		route_up
		route_steps
		say "tearing down the overlay '$RTE'"
		rte down
	fi
	if [[ " $PARTS " == *" ha "* ]]; then
		ha_part
	fi
}

main "$@"
