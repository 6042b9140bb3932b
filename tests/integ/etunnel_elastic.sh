#!/bin/bash
# etunnel_elastic: the pool follows the competition.  r's port towards n3
# is a 40 Mbit/s HTB bottleneck (pfifo of 100 packets); x sends k
# competing TCP flows to h2 through it.
#  - 4 competitors: the pool grew (h1's flow through the tunnel, target
#    20 Mbit/s, and x's one plain flow beside it are logged)
#  - the user's flow ends while the competitors go on: the pool shrinks
#    ("demand below target": towards what the demand needs)
#  - the competition gone: the pool shrinks
#  - a target above what max_conns connections can take (a UDP flow
#    offering more than it): the state says "target unreachable at
#    max_conns", the pool stops at max_conns
#  - short downloads through a busy tunnel finish faster with qosmod
#    (TOS 0x10: the entry's short class goes first) than without
# Before r is shaped (the path carries far more than 20 Mbit/s), no
# competition: with the cap (cap=yes, the default) h1's upload through a
# tunnel with target 20 Mbit/s arrives at 20 +- 10 %, split TCP and the
# packet path; with cap=no it gets more.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etun_lib.sh"
itm__need python3 curl iperf3 tc iptables ping
itm_init etunnel_elastic
etun_topo
itm_agent_start n1 n1
itm_agent_start n3 n3

# mbit FILE: the receiver's rate of an iperf3 -J run.
mbit() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(round(d["end"]["sum_received"]["bits_per_second"] / 1e6, 1))' "$1"
}

# capped TCP PARAMS...: the tunnel reloaded (target 20 Mbit/s, tcp=TCP),
# h1's 4 s upload to h2 through it: the receiver's Mbit/s, and the median
# round trip of pings beside it (ICMP rides the entry queue), ms.
capped() {
	local tcp=$1
	shift
	itm_ctl n1 n1 module unload etunnel >/dev/null 2>&1
	itm_ctl n3 n3 module unload etunnel >/dev/null 2>&1
	etun_exit "tcp=$tcp" >/dev/null
	etun_entry "tcp=$tcp" target=20000 min_conns=2 max_conns=2 "$@" >/dev/null
	itm_wait_for 10 eval '[ "$(etun_counter n1 conns)" = 2 ]' ||
		itm_fail "the pool did not come up ($tcp $*)"
	sleep 0.5 # the split rules follow the pool
	(sleep 1 && itm_exec h1 ping -n -c 20 -i 0.1 "$ETUN_H2") >"$ITM_TMP/ping" &
	itm_exec h1 iperf3 -c "$ETUN_H2" -p 5300 -t 4 -J >"$ITM_TMP/cap.json" ||
		itm_fail "iperf3 through the tunnel ($tcp $*)"
	wait
	echo "$(mbit "$ITM_TMP/cap.json") $(sed -n 's/.*time=\([0-9.]*\) ms/\1/p' \
		"$ITM_TMP/ping" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] + 0 }')"
}
itm_bg h2 --name srvcap iperf3 -s -p 5300
itm_wait_for 5 eval 'itm_exec h2 ss -Hltn | grep -q ":5300 "' ||
	itm_fail "iperf3 server did not start"
read -r split split_rtt <<<"$(capped split)"
read -r packet packet_rtt <<<"$(capped packet)"
read -r uncapped _ <<<"$(capped split cap=no)"
waits=$(etun_counter n1 cap_waits)
itm_log "target 20 Mbit/s, no competition: split $split, packet $packet, cap=no $uncapped Mbit/s"
itm_log "median ping beside the capped upload: split ${split_rtt} ms, packet ${packet_rtt} ms"
# pct MBIT: per cent of the target, a whole number.
pct() { awk -v m="$1" 'BEGIN { printf "%d", m / 20 * 100 + 0.5 }'; }
itm_assert_ge "$(pct "$split")" 90 "per cent of the target through the capped split tunnel"
itm_assert_le "$(pct "$split")" 110 "per cent of the target through the capped split tunnel"
itm_assert_ge "$(pct "$packet")" 90 "per cent of the target through the capped packet tunnel"
itm_assert_le "$(pct "$packet")" 110 "per cent of the target through the capped packet tunnel"
itm_assert_ge "$(pct "$uncapped")" 150 "per cent of the target through the split tunnel with cap=no"
itm_assert_eq "$waits" 0 "cap_waits with cap=no"
itm_ctl n1 n1 module unload etunnel >/dev/null || itm_fail "unload entry"
itm_ctl n3 n3 module unload etunnel >/dev/null || itm_fail "unload exit"

itm_exec r tc qdisc replace dev "$ETUN_R_DEV_N3" root handle 1: htb default 1 &&
itm_exec r tc class add dev "$ETUN_R_DEV_N3" parent 1: classid 1:1 htb \
	rate 40mbit ceil 40mbit quantum 1514 &&
itm_exec r tc qdisc add dev "$ETUN_R_DEV_N3" parent 1:1 pfifo limit 100 ||
	itm_fail "cannot shape r"
etun_exit tcp=packet max_conns=32
etun_entry tcp=packet target=20000 min_conns=1 max_conns=8
itm_wait_for 10 eval '[ "$(etun_counter n1 conns)" = 1 ]' ||
	itm_fail "the pool did not come up"
for p in 5301 5302 5400; do itm_bg h2 --name "srv$p" iperf3 -s -p "$p"; done
itm_wait_for 5 eval 'itm_exec h2 ss -Hltn | grep -q ":5400 "' ||
	itm_fail "iperf3 servers did not start"

tunnel_state() { itm_ctl n1 n1 -o json tunnels | python3 -c 'import json, sys
t = json.load(sys.stdin)["nodes"][0]["tunnels"][0]
print(t["conns_wanted"], t["state_text"])'; }

# pool_max_while PID: the largest pool the entry wanted while PID (the
# user's transfer) ran: read after the transfer, the pool is already
# shrinking, since its demand is gone.
pool_max_while() {
	local max=0 n
	while ! itm__dead "$1"; do
		read -r n _ <<<"$(tunnel_state)"
		[ "${n:-0}" -gt "$max" ] && max=$n
		sleep 0.5
	done
	echo "$max"
}

# 1. Four competitors; the tunnelled flow and a plain one side by side.
itm_bg x --name comp iperf3 -c "$ETUN_H2" -p 5400 -P 4 -t 20
COMP_PID=$ITM_LAST_PID
sleep 2
itm_exec x iperf3 -c "$ETUN_H2" -p 5302 -t 10 -J >"$ITM_TMP/plain.json" &
PLAIN=$!
itm_bg h1 --name user iperf3 -c "$ETUN_H2" -p 5301 -t 10 -J
grown=$(pool_max_while "$ITM_LAST_PID") user=$(mbit "$ITM_LAST_LOG")
wait "$PLAIN" || itm_fail "plain iperf3 failed"
plain=$(mbit "$ITM_TMP/plain.json")
itm_log "k=4: tunnelled $user Mbit/s, plain $plain Mbit/s, largest pool $grown"
itm_assert_ge "$grown" 2 "pool size under 4 competitors (min_conns 1)"
# The rates are logged, not asserted: on a shared 2-core machine the
# receivers are starved of CPU and the ratio swings from 0.6 to 4 between
# runs (modules/etunnel/README.md, "Limits").
itm_log "tunnelled / plain: $(awk -v u="$user" -v p="$plain" 'BEGIN { printf "%.2f", u / p }')"
itm_wait_for 10 itm__dead "$ITM_LAST_PID"
# The user's flow ended, the competitors go on: without demand the pool
# shrinks (once no backlog was seen for 2 s), to min_conns + 1 at most.
itm_wait_for 12 eval '[ "$(tunnel_state)" = "1 demand below target" ] ||
	[ "$(tunnel_state)" = "2 demand below target" ]'
read -r idle state <<<"$(tunnel_state)"
itm_log "user flow ended, competitors on: pool $idle ($state)"
itm_assert_eq "$state" "demand below target" "state without demand"
itm_assert_le "$idle" 2 "pool without demand (it was $grown)"
itm_wait_for 10 itm__dead "$COMP_PID"

# 2. Competition gone: the tunnel alone carries more than the target, the
# pool shrinks.
itm_exec h1 iperf3 -c "$ETUN_H2" -p 5301 -t 6 -J >"$ITM_TMP/alone.json" ||
	itm_fail "iperf3 alone failed"
read -r shrunk state <<<"$(tunnel_state)"
itm_log "alone: $(mbit "$ITM_TMP/alone.json") Mbit/s, pool $shrunk ($state)"
itm_assert_le "$shrunk" $((grown - 1)) "pool once the competitors left"
# The connections it let go were retired: no frames, then a FIN once the
# exit acknowledged theirs, closed on the exit's (not reset mid-flight).
itm_assert_ge "$(etun_counter n1 retired)" 1 \
	"connections retired after their frames' ACKs"

# 3. A target no pool of 4 reaches against 8 competitors.
itm_ctl n1 n1 module unload etunnel >/dev/null || itm_fail "unload entry"
etun_entry tcp=packet target=38000 min_conns=1 max_conns=4
itm_wait_for 10 eval '[ "$(etun_counter n1 conns)" -ge 1 ]' ||
	itm_fail "the pool did not come back"
itm_bg x --name comp2 iperf3 -c "$ETUN_H2" -p 5400 -P 8 -t 9
COMP2_PID=$ITM_LAST_PID
sleep 1
# The user's demand must stay above what the pool carries: 40 Mbit/s of
# UDP, which does not back off (a TCP flow striped over the pool may back
# off below it and rightly be called "demand below target":
# modules/etunnel/README.md, limits).  The state is read while it runs.
itm_bg h1 --name high iperf3 -c "$ETUN_H2" -p 5301 -u -b 40M -l 1200 -t 7
HIGH_PID=$ITM_LAST_PID
itm_wait_for 7 eval '[ "$(tunnel_state)" = "4 target unreachable at max_conns" ]'
read -r wanted state <<<"$(tunnel_state)"
itm_wait_for 10 itm__dead "$HIGH_PID" || itm_fail "iperf3 with the high target did not end"
itm_log "target 38 Mbit/s, 40 Mbit/s offered: pool $wanted ($state), entry drops $(etun_counter n1 entry_drops)"
itm_assert_eq "$wanted $state" "4 target unreachable at max_conns" "pool and state"
itm_wait_for 10 itm__dead "$COMP2_PID"

# 4. Short downloads through a busy tunnel (a pool of one, a long flow
# filling it), with qosmod marking short flows before the entry and
# without.  r is now a core router that serves TOS 0x10 first
# (deploy/lab/qos-core.sh); the entry serves its short class first and
# sends it over the connection of its own, whose packets carry TOS 0x10.
itm_exec r tc qdisc del dev "$ETUN_R_DEV_N3" root || itm_fail "cannot unshape r"
"$ITM_SRC/deploy/lab/qos-core.sh" "$(itm_nsname r)" "$ETUN_R_DEV_N3" 40mbit \
	>/dev/null || itm_fail "qos-core.sh on r"
itm_ctl n1 n1 module unload etunnel >/dev/null || itm_fail "unload entry"
etun_entry tcp=packet target=40000 min_conns=1 max_conns=1 queue_kb=1024 queue_pkts=4096
itm_wait_for 10 eval '[ "$(etun_counter n1 conns)" = 1 ]' ||
	itm_fail "the pool did not come back"
mkdir -p "$ITM_TMP/www"
head -c 20000 /dev/urandom >"$ITM_TMP/www/small"
itm_bg h1 --name http python3 -m http.server -b "$ETUN_H1" -d "$ITM_TMP/www" 8080
itm_wait_for 10 itm_exec h2 curl -sfo /dev/null "http://$ETUN_H1:8080/small" ||
	itm_fail "http server not reachable"

# shorts FILE: median seconds of 15 downloads of 20 kB beside a long
# flow, into FILE.
shorts() {
	itm_bg h1 --name long iperf3 -c "$ETUN_H2" -p 5301 -t 8
	sleep 2
	for i in $(seq 15); do
		itm_exec h2 curl -sfo /dev/null -w '%{time_total}\n' \
			"http://$ETUN_H1:8080/small" || echo 9
		sleep 0.1
	done | sort -n | sed -n 8p >"$1"
	itm_wait_for 10 itm__dead "$ITM_LAST_PID"
}
shorts "$ITM_TMP/without"
itm_ctl n1 n1 module load qosmod threshold=20 hook=forward priority=-10 \
	>/dev/null || itm_fail "cannot load qosmod"
shorts "$ITM_TMP/with"
without=$(cat "$ITM_TMP/without") with=$(cat "$ITM_TMP/with")
itm_log "20 kB downloads through the busy tunnel: median ${without}s without qosmod, ${with}s with"
itm_assert_le "$(awk -v a="$with" -v b="$without" 'BEGIN { print a / b }')" 0.8 \
	"short download time with qosmod / without"
out=$(itm_ctl n1 n1 stats --module etunnel)
itm_assert_match "$out" "SHORT +[1-9]" "the entry's SHORT class in itmctl stats"
itm_log "ok"
