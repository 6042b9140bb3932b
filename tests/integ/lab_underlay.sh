#!/bin/bash
# lab_underlay.sh - deploy/lab/lab.sh up --topo --underlay: "the Internet"
# between the nodes of tests/data/lab_underlay/topo.yaml (a square with a
# slow diagonal; u3 and u4 have underlay addresses of their own), and
# lab.sh impair.  Every delay and loss is measured with ping between
# underlay addresses:
#
#  - each node's ul0 holds its underlay (and mgmt) address; the agents
#    joined the controller across the router
#  - every pair's RTT is twice the underlay's one-way delay between them
#    (a declared link's latency_ms, else the least total along links):
#    never less (the delay line does not release early), not much more
#    (a tolerance for a loaded 2-core machine); with --shape a declared
#    bandwidth limits its pair
#  - overlay addresses are not routed (the router answers "net
#    unreachable"), while IP-in-IP between underlay addresses gets through
#  - impair delay=200ms raises the pair's RTT by 400 ms; loss=30% (each
#    direction) loses about 51% of 200 pings, --oneway loss=30% about 30%
#    (within 5 standard deviations of the binomial); down loses every
#    ping, on that pair only; up brings it back with its delay; clear
#    restores the base RTT; status shows what is in force and what it
#    dropped; bad settings are refused and change nothing
#  - without --underlay, --shape delays the links so that a ping between
#    neighbours' overlay addresses takes 2 x latency_ms and one through a
#    third node 4 x (a node's own traffic was delayed one way only before)
#  - down leaves no namespace and no process
. "$(dirname "$0")/lib.sh"
itm_init lab_underlay
itm__need python3 ping tcpdump

LAB_SH="$ITM_SRC/deploy/lab/lab.sh"
TOPO="$ITM_SRC/tests/data/lab_underlay/topo.yaml"
LAB="lu$$"
export ITM_LAB_DIR="$ITM_TMP/labs"
STATE=$ITM_LAB_DIR/$LAB
itm_on_exit '"$LAB_SH" down -n "$LAB" >/dev/null 2>&1'
for b in controller/itm-controller controller/itmctl agent/itm-agent \
	 deploy/tools/itm-delay; do
	[ -x "$ITM_BUILD/$b" ] || itm_fail "$ITM_BUILD/$b is not built"
done

declare -A UL=([u1]=10.62.0.1 [u2]=10.62.0.2 [u3]=10.62.2.3 [u4]=10.62.2.4)
declare -A OVL=([u1]=10.62.1.1 [u2]=10.62.1.2 [u3]=10.62.1.3 [u4]=10.62.1.4)

lab_ns() { ip netns list | awk '{ print $1 }' | grep "^itmlab-$LAB-"; }
lab() { local c=$1; shift; "$LAB_SH" "$c" -n "$LAB" "$@"; }
in_node() { local n=$1; shift; ip netns exec "itmlab-$LAB-$n" "$@"; }

fail() {
	local f
	for f in "$STATE"/*.log; do
		[ -s "$f" ] && { echo "----- ${f##*/}"; tail -n 30 "$f"; } >&2
	done
	[ -d "$STATE" ] && lab status >&2
	itm_fail "$@"
}

# pings A DST COUNT INTERVAL: "SENT RECEIVED MIN MEDIAN" of COUNT pings
# from A's underlay address (MIN and MEDIAN "-" when none came back).
pings() {
	local a=$1 dst=$2 c=$3 i=$4
	in_node "$a" ping -n -c "$c" -i "$i" -W 3 -I "${UL[$a]}" "$dst" 2>&1 |
		python3 -c 'import re, sys
t = sorted(float(m.group(1)) for m in
           (re.search(r"time=([0-9.]+)", l) for l in sys.stdin) if m)
n = int(sys.argv[1])
if t:
    print(n, len(t), t[0], t[len(t) // 2])
else:
    print(n, 0, "-", "-")' "$c"
}

# rtt_is A B MS: the RTT from A to B's underlay address is MS: the least
# of 10 pings at least MS - 1.1 (the delay line releases a packet up to
# half a millisecond before it is due, once each way), their median at
# most MS + 5 + MS/5.
rtt_is() {
	local a=$1 b=$2 want=$3 sent got min med
	read -r sent got min med < <(pings "$a" "${UL[$b]}" 10 0.05)
	itm_log "$a -> $b: RTT min $min median $med ms ($got/$sent), want $want"
	[ "$got" -ge 8 ] || fail "$a -> $b: only $got of $sent pings answered"
	itm_assert_ge "$min" "$(awk -v w="$want" 'BEGIN { print w - 1.1 }')" \
		"least RTT $a -> $b"
	itm_assert_le "$med" "$(awk -v w="$want" 'BEGIN { print w + 5 + w / 5 }')" \
		"median RTT $a -> $b"
}

# lost_about A B N P: of N pings A -> B, the share lost is P (0..1)
# within 5 standard deviations of the binomial (and at least one away
# from 0 and N).
lost_about() {
	local a=$1 b=$2 n=$3 p=$4 sent got lost lo hi
	read -r sent got _ _ < <(pings "$a" "${UL[$b]}" "$n" 0.01)
	lost=$((sent - got))
	read -r lo hi < <(awk -v n="$n" -v p="$p" 'BEGIN {
		sd = sqrt(n * p * (1 - p)); lo = n * p - 5 * sd; hi = n * p + 5 * sd
		if (lo < 1) lo = 1; if (hi > n - 1) hi = n - 1
		printf "%d %d\n", lo, hi + 0.999 }')
	itm_log "$a -> $b: $lost of $sent pings lost, expected $lo..$hi (p = $p)"
	itm_assert_ge "$lost" "$lo" "pings lost $a -> $b"
	itm_assert_le "$lost" "$hi" "pings lost $a -> $b"
}

# ---------------------------------------------------------------------
# 1. Up with the Internet between the nodes
# ---------------------------------------------------------------------
lab up --topo "$TOPO" --underlay --shape >"$ITM_TMP/up.out" 2>&1 ||
	fail "lab up --topo --underlay failed: $(cat "$ITM_TMP/up.out")"
itm_assert_eq "$(lab_ns | sort | tr '\n' ' ')" \
	"itmlab-$LAB-_ctl itmlab-$LAB-_net itmlab-$LAB-u1 itmlab-$LAB-u2 itmlab-$LAB-u3 itmlab-$LAB-u4 " \
	"namespaces of the lab"
for n in u1 u2 u3 u4; do
	addrs=$(in_node "$n" ip -4 -o addr show dev ul0 | awk '{ print $4 }' | sort | tr '\n' ' ')
	want="${UL[$n]}/32 "
	[ "${UL[$n]}" = "10.62.0.${n#u}" ] || want="10.62.0.${n#u}/32 $want"
	itm_assert_eq "$addrs" "$want" "addresses on $n's ul0 (mgmt and underlay)"
done
out=$(lab itmctl nodes) || fail "itmctl nodes: $out"
itm_assert_eq "$(grep -Ec '^u[1-4] +up ' <<<"$out")" 4 \
	"agents up, joined across the router: $out"

# ---------------------------------------------------------------------
# 2. Every pair's RTT is twice the underlay's delay
# ---------------------------------------------------------------------
rtt_is u1 u2 10
rtt_is u1 u3 40
rtt_is u1 u4 10
rtt_is u2 u3 10
rtt_is u2 u4 20
rtt_is u4 u3 10

# The diagonal's bandwidth (--shape): 20 Mbit/s u1 -> u3, by HTB on the
# router's port towards u3.
lab exec u3 iperf3 -s -1 -B "${UL[u3]}" -p 5262 >"$ITM_TMP/iperf-s.log" 2>&1 &
itm_wait_for 5 lab exec u3 sh -c "ss -Hltn | grep -q ':5262 '" ||
	fail "iperf3 server did not start in u3"
mbps=$(lab exec u1 iperf3 -c "${UL[u3]}" -p 5262 -t 2 -J | python3 -c 'import json, sys
print("%.1f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))') ||
	fail "iperf3 u1 -> u3 failed"
itm_log "u1 -> u3 (20mbit declared): TCP $mbps Mbit/s"
itm_assert_le "$mbps" 21 "TCP over the 20mbit diagonal"
itm_assert_ge "$mbps" 10 "TCP over the 20mbit diagonal"

# ---------------------------------------------------------------------
# 3. Overlay addresses are not routed; IP-in-IP between underlays is
# ---------------------------------------------------------------------
out=$(in_node u1 ping -n -c 1 -W 2 "${OVL[u2]}" 2>&1) &&
	fail "u1 reached u2's overlay address without encapsulation: $out"
itm_assert_match "$out" "Net Unreachable" "plain packet to an overlay address"
[ -z "$(in_node u1 ip route show "${OVL[u2]}")" ] &&
[ -z "$(lab exec _net ip route show "${OVL[u2]}")" ] ||
	fail "an overlay route exists in u1 or the router"

pcap=$ITM_TMP/ipip.pcap
itm_bg - --name tcpdump-u2 ip netns exec "itmlab-$LAB-u2" tcpdump -i ul0 -n \
	-U -c 1 -w "$pcap" "ip proto 4 and src ${UL[u1]} and dst ${UL[u2]}"
cap=$ITM_LAST_PID
itm_wait_for 10 grep -q "listening on" "$ITM_LAST_LOG" ||
	fail "tcpdump on u2 did not start"
in_node u1 python3 - "${UL[u2]}" "${OVL[u1]}" "${OVL[u2]}" <<'EOF' ||
import socket, struct, sys
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
icmp = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"lab_underlay"
icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 1, 0, 64, 1, 0,
                  socket.inet_aton(sys.argv[2]), socket.inet_aton(sys.argv[3]))
hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)
s.sendto(hdr + icmp, (sys.argv[1], 0))
EOF
	fail "cannot send IP-in-IP from u1"
itm_capture_wait 10 "$cap" ||
	fail "the IP-in-IP packet u1 -> u2 did not arrive at u2"
itm_log "overlay addresses unreachable in the underlay; IP-in-IP u1 -> u2 arrived ($(itm_pcap_count "$pcap") packet)"

# ---------------------------------------------------------------------
# 4. impair: delay, loss, down / up, clear; status
# ---------------------------------------------------------------------
out=$(lab impair u1 u2 delay=200ms) || fail "impair delay: $out"
itm_assert_match "$out" "u1 > u2: base 5ms, impairment: \+200ms" "impair's answer"
rtt_is u1 u2 410
rtt_is u2 u1 410
rtt_is u1 u4 10

out=$(lab impair u1 u2 clear loss=30%) || fail "impair loss: $out"
lost_about u1 u2 200 0.51
out=$(lab impair u1 u2 clear) && out=$(lab impair u1 u2 --oneway loss=30%) ||
	fail "impair --oneway loss: $out"
itm_assert_eq "$(wc -l <<<"$out")" 1 "--oneway changes one direction"
lost_about u1 u2 200 0.30

out=$(lab impair u1 u2 clear delay=50ms down) || fail "impair down: $out"
read -r sent got _ _ < <(pings u1 "${UL[u2]}" 20 0.01)
itm_assert_eq "$got" 0 "pings answered on a cut path (of $sent)"
read -r sent got _ _ < <(pings u2 "${UL[u1]}" 20 0.01)
itm_assert_eq "$got" 0 "pings answered on a cut path, the other way (of $sent)"
rtt_is u1 u3 40
out=$(lab status) || fail "status: $out"
itm_log "status with u1 - u2 cut:
$(sed -n '/^underlay/,/^  u4 > u3/p' <<<"$out")"
itm_assert_match "$out" "underlay: router in itmlab-$LAB-_net" "status: the underlay"
itm_assert_match "$out" "u1 > u2 +5ms +- +\+50ms down +[0-9]+ +[1-9][0-9]*" \
	"status: the cut, with its drops"
itm_assert_match "$out" "u1 > u3 +20ms +20mbit +- " "status: a path as it was made"
lab impair u1 u2 up >/dev/null || fail "impair up failed"
rtt_is u1 u2 110
lab impair u1 u2 clear >/dev/null || fail "impair clear failed"
rtt_is u1 u2 10

before=$(lab status | grep 'u1 > u2')
for bad in "u1 u9 down" "u1 u1 down" "u1 u2 delay=fast" "u1 u2 loss=130%" \
	   "u1 u2 wobble" "u1 u2"; do
	# shellcheck disable=SC2086
	out=$(lab impair $bad 2>&1) && fail "impair $bad accepted: $out"
	itm_log "impair $bad: $out"
done
itm_assert_eq "$(lab status | grep 'u1 > u2' | awk '{ NF -= 2; print }')" \
	"$(awk '{ NF -= 2; print }' <<<"$before")" "u1 > u2 after refused settings"

# ---------------------------------------------------------------------
# 5. Down, then the links mode with --shape: neighbours at 2 x latency
# ---------------------------------------------------------------------
mapfile -t PIDS < <(for ns in $(lab_ns); do ip netns pids "$ns"; done)
lab down >/dev/null || fail "lab down failed"
itm_assert_eq "$(lab_ns)" "" "namespaces after down"
for p in "${PIDS[@]}"; do
	itm_wait_for 3 itm__dead "$p" || itm_fail "pid $p of the lab survived down"
done

lab up --topo "$TOPO" --shape >"$ITM_TMP/up2.out" 2>&1 ||
	fail "lab up --topo --shape failed: $(cat "$ITM_TMP/up2.out")"
UL[u1]=${OVL[u1]}	# pings from u1's overlay address, along the links
UL[u2]=${OVL[u2]} UL[u3]=${OVL[u3]} UL[u4]=${OVL[u4]}
rtt_is u1 u2 10		# neighbours: 5 ms each way
rtt_is u1 u3 20		# through u2 (cost 20 < 30): 2 x 5 ms each way
rtt_is u2 u4 20		# through u1
out=$(in_node u3 ip addr show dev mgmt0) || fail "u3 has no mgmt0"
itm_assert_match "$out" "10\.62\.2\.3/32" "u3's underlay address on the management bridge"
lab down >/dev/null || fail "lab down failed"
itm_assert_eq "$(lab_ns)" "" "namespaces after down"
[ ! -e "$STATE" ] || itm_fail "state dir left after down"
itm_log "PASS"
