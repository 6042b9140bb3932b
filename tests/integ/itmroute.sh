#!/bin/bash
# itmroute.sh DATAPATH - overlay routing by the itmroute module
# (modules/itmroute) with datapath=DATAPATH (ebpf or queue), on four nodes
# joined by the lab's underlay (tests/data/itmroute/topo.yaml: every pair
# linked; r1 - r4 5 ms, the detour through r2 10 ms, through r3 20 ms).
# What a user relies on, seen on the wire:
#
#  - every node reaches every other node's overlay address (ping), and a
#    TCP transfer r1 -> r4 arrives intact (SHA-256 of the bytes)
#  - the path, from captures of the outer headers on the underlay: r1's
#    packets to r4 leave with outer destination r4's underlay address;
#    with 200 ms added to r1 - r4 they leave towards r2 (the faster
#    detour, not r3), and r2 sends them on to r4 from its own address;
#    after `clear` they go back direct, but not before the hold-down
#  - a cut of r1 - r4 with pings 10 ms apart: the pings resume through
#    r2; the number lost is logged and bounded (< 1 s of pings)
#  - IP-in-IP from a non-member (the router), and from a member to an
#    address that is not a member's: dropped and counted in stats,
#    nothing delivered
#  - the outer TOS is the inner one: qosmod's class (TOS 0x10 on a
#    short flow) is visible on the outer header
#  - queue: the underlay device's TSO, GSO, GRO are off while the module
#    runs and back as they were once it is unloaded, also after an agent
#    killed with them off and started again (ethtool -k)
#  - the controller killed: the routes keep working; the module unloaded
#    and loaded again (ebpf: routes and maps stay, no ping lost beyond
#    a few; queue: the gap is bounded) and the agent restarted
. "$(dirname "$0")/lib.sh"
DP=${1:-ebpf}
itm_init "itmroute_$DP"
itm__need python3 ping tcpdump mount umount ethtool

LAB_SH="$ITM_SRC/deploy/lab/lab.sh"
LAB="ir$$"
export ITM_LAB_DIR="$ITM_TMP/labs"
STATE=$ITM_LAB_DIR/$LAB
BPF="$ITM_TMP/bpf"
HOLD_MS=3000
itm_on_exit '"$LAB_SH" down -n "$LAB" >/dev/null 2>&1; umount "$BPF" 2>/dev/null'
[ -f "$ITM_BUILD/modules/itmroute/itmroute.so" ] ||
	itm_fail "itmroute is not built"

declare -A UL=([r1]=10.63.0.1 [r2]=10.63.0.2 [r3]=10.63.0.3 [r4]=10.63.0.4)
declare -A OVL=([r1]=10.63.1.1 [r2]=10.63.1.2 [r3]=10.63.1.3 [r4]=10.63.1.4)
declare -A NAME_OF=([10.63.0.1]=r1 [10.63.0.2]=r2 [10.63.0.3]=r3 [10.63.0.4]=r4)

lab() { local c=$1; shift; "$LAB_SH" "$c" -n "$LAB" "$@"; }
in_node() { local n=$1; shift; ip netns exec "itmlab-$LAB-$n" "$@"; }
fail() {
	local f
	for f in "$STATE"/agent-*.log; do
		[ -s "$f" ] && { echo "----- ${f##*/}"; grep -v ' debug' "$f" | tail -n 15; } >&2
	done
	itm_fail "$@"
}

# counter NODE NAME: itmroute's counter NAME in NODE's stats.
counter() {
	lab ctl "$1" stats | awk -v c="$2" '$1 == "itmroute" && $2 == c { print $3 }'
}

# switch_line NODE DEST FROM TO: the log line of NODE's switch DEST FROM -> TO.
switched() {
	grep -E "itmroute: route $2: $3 -> $4 " "$STATE/agent-$1.log" | tail -n 1
}

has_switched() { [ -n "$(switched "$@")" ]; }

# ms_of LINE: the log line's time of day in ms.
ms_of() {
	awk '{ split($1, t, /[:.]/); print ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4] }' <<<"$1"
}

# path_of A B: the first hop r1's packets to B take, from a capture of the
# outer headers on A's underlay device: "direct" or the via node's name.
path_of() {
	local a=$1 b=$2 dst hop
	# the inner destination is at bytes 16..19 of the inner header
	capture "$a" \
		"ip proto 4 and src host ${UL[$a]} and ip[36:4] = $(ovl_hex "$b")" 3
	in_node "$a" ping -n -c 6 -i 0.05 -W 1 "${OVL[$b]}" >/dev/null 2>&1
	itm_capture_wait 5 || { echo none; return; }
	dst=$(tcpdump -r "$ITM_PCAP" -n 2>/dev/null | awk 'NR == 1 { sub(":", "", $5); print $5 }')
	hop=${NAME_OF[$dst]:-?}
	[ "$hop" = "$b" ] && hop=direct
	echo "$hop"
}

# capture NODE FILTER COUNT: tcpdump on NODE's ul0 until COUNT packets
# (itm_capture, for the lab's namespaces).  Sets ITM_PCAP, ITM_CAP_PID.
capture() {
	ITM_SEQ=$((ITM_SEQ + 1))
	ITM_PCAP="$ITM_TMP/cap-$1-$ITM_SEQ.pcap"
	itm_bg - --name "tcpdump-$1-$ITM_SEQ" ip netns exec "itmlab-$LAB-$1" \
		tcpdump -i ul0 -n -U -Z root -s 256 -c "$3" -w "$ITM_PCAP" "$2"
	ITM_CAP_PID=$ITM_LAST_PID
	itm_wait_for 10 grep -q "listening on" "$ITM_LAST_LOG" ||
		itm_fail "tcpdump on $1 did not start"
}

ovl_hex() { printf '0x%02x%02x%02x%02x' ${OVL[$1]//./ }; }

# ---------------------------------------------------------------------
# 1. Up: four agents with itmroute, every node reaches every other
# ---------------------------------------------------------------------
mkdir -p "$BPF" && mount -t bpf bpffs "$BPF" || itm_fail "cannot mount a bpffs on $BPF"
sed "s|@PARAMS@|datapath: $DP, pin_dir: $BPF, holddown_ms: $HOLD_MS|" \
	"$ITM_SRC/tests/data/itmroute/topo.yaml" >"$ITM_TMP/topo.yaml"
lab up --topo "$ITM_TMP/topo.yaml" --underlay >"$ITM_TMP/up.out" 2>&1 ||
	fail "lab up failed: $(tail -n 30 "$ITM_TMP/up.out")"

reach_all() {
	local a b
	for a in r1 r2 r3 r4; do
		for b in r1 r2 r3 r4; do
			[ "$a" = "$b" ] && continue
			in_node "$a" ping -n -c 1 -W 1 "${OVL[$b]}" >/dev/null || return 1
		done
	done
}
itm_wait_for 10 reach_all || fail "not every node reaches every other overlay address"
itm_log "every node reaches every other node's overlay address"
out=$(in_node r1 ip route show "${OVL[r4]}")
itm_assert_match "$out" "dev ul0 proto 73 src ${OVL[r1]} .*mtu 1480" "r1's overlay route to r4"

# TCP r1 -> r4 with a SHA-256 of the bytes on both ends.
head -c $((4 << 20)) /dev/urandom >"$ITM_TMP/data"
want=$(sha256sum <"$ITM_TMP/data" | cut -d' ' -f1)
itm_bg - --name sink ip netns exec "itmlab-$LAB-r4" python3 -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5301)); s.listen(1); print("listening", flush=True)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest(), flush=True)' "${OVL[r4]}"
SINK_LOG=$ITM_LAST_LOG
itm_wait_for 5 grep -q listening "$SINK_LOG" || fail "sink did not start"
in_node r1 python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 5301), timeout=20)
s.sendall(open(sys.argv[2], "rb").read()); s.close()' "${OVL[r4]}" "$ITM_TMP/data" ||
	fail "TCP r1 -> r4 failed"
itm_wait_for 20 grep -q "^$((4 << 20)) " "$SINK_LOG" || fail "sink: $(cat "$SINK_LOG")"
itm_assert_eq "$(awk 'NR == 2 { print $2 }' "$SINK_LOG")" "$want" "SHA-256 of 4 MiB r1 -> r4"
itm_log "4 MiB r1 -> r4 over TCP arrived intact"

# ---------------------------------------------------------------------
# 2. The path, from the outer headers
# ---------------------------------------------------------------------
itm_assert_eq "$(path_of r1 r4)" direct "r1 -> r4 with the direct path healthy"
itm_assert_eq "$(path_of r2 r4)" direct "r2 -> r4 (5 ms direct, detours 10 and 15)"

out=$(lab impair r1 r4 delay=200ms) || fail "impair: $out"
itm_wait_for 10 has_switched r1 r4 direct r2 ||
	fail "r1 did not move r4's traffic to r2 with 200 ms on r1 - r4"
line=$(switched r1 r4 direct r2)
out=$(lab impair r1 r4 clear) || fail "impair clear: $out"
itm_log "delay 200 ms: $line; cleared at once"
# Within the hold-down the packets still go through r2 ...
itm_assert_eq "$(path_of r1 r4)" r2 "r1 -> r4 just after clear (hold-down)"
# ... and r2 carries them on to r4 from its own underlay address.
capture r4 "ip proto 4 and src host ${UL[r2]} and ip[36:4] = $(ovl_hex r4)" 2
in_node r1 ping -n -c 4 -i 0.05 "${OVL[r4]}" >/dev/null 2>&1
itm_capture_wait 5 || fail "r4 saw no packet for it relayed by r2"
t_switch=$(ms_of "$line")
itm_wait_for $((HOLD_MS / 1000 + 8)) has_switched r1 r4 r2 direct ||
	fail "r1 did not go back direct after clear"
back=$(switched r1 r4 r2 direct)
held=$(( $(ms_of "$back") - t_switch ))
itm_log "clear: $back ($held ms after the switch, hold-down $HOLD_MS ms)"
itm_assert_ge "$held" "$HOLD_MS" "time between the two switches"
itm_assert_eq "$(path_of r1 r4)" direct "r1 -> r4 after clear and hold-down"

# ---------------------------------------------------------------------
# 3. Cut r1 - r4 with pings 10 ms apart
# ---------------------------------------------------------------------
in_node r1 ping -n -D -c 300 -i 0.01 -W 1 "${OVL[r4]}" >"$ITM_TMP/cut.ping" 2>&1 &
pp=$!
sleep 0.5
lab impair r1 r4 down >/dev/null || fail "impair down failed"
wait "$pp"
got=$(grep -c "bytes from" "$ITM_TMP/cut.ping")
lost=$((300 - got))
itm_log "cut r1 - r4: $lost of 300 pings (10 ms apart) lost; $(switched r1 r4 direct r2)"
itm_assert_le "$lost" 100 "pings lost over the cut"
itm_assert_eq "$(path_of r1 r4)" r2 "r1 -> r4 with the direct path cut"
# What the operator sees: r1's agent, the controller asking it, the matrix.
out=$(lab ctl r1 routes) || fail "itmctl routes (agent): $out"
itm_assert_match "$out" "r4 +${OVL[r4]} +r2 +[0-9.]+ +[0-9]+% .* direct dead" "itmctl routes on r1's agent"
lab itmctl -o json routes r1 >"$ITM_TMP/routes.json" || fail "itmctl routes r1"
python3 - "$ITM_TMP/routes.json" <<'PY' || fail "routes r1 (json): $(cat "$ITM_TMP/routes.json")"
import json, sys
rep = json.load(open(sys.argv[1]))
(node,) = rep["nodes"]
r = {x["destination"]: x for x in node["routes"]}["r4"]
paths = {p["via"]: p for p in r["paths"]}
assert node["node"] == "r1" and r["via"] == "r2" and r["switches"] >= 2, r
assert not paths[""]["alive"] and paths["r2"]["alive"], paths
PY
out=$(lab itmctl paths) || fail "itmctl paths: $out"
itm_log "itmctl paths with r1 - r4 cut:
$out"
itm_assert_match "$out" "r1 +r4 +10 +dead +[0-9]+% +r2 " "paths: r1 -> r4 declared 10, direct dead, via r2"
itm_assert_match "$out" "r2 +r3 +10 +[0-9.]+ +0% +direct " "paths: r2 -> r3"
lab impair r1 r4 up >/dev/null

# ---------------------------------------------------------------------
# 4. No open relay: spoofed and not-served IP-in-IP dropped and counted
# ---------------------------------------------------------------------
cat >"$ITM_TMP/ipip.py" <<'PY'
import socket, struct, sys
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
def ip(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64,
                    proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload
osrc, odst, isrc, idst, n = sys.argv[1:6]
icmp = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"itmroute spoof"
icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for _ in range(int(n)):
    s.sendto(ip(osrc, odst, 4, ip(isrc, idst, 1, icmp)), (odst, 0))
PY
lab ctl r4 stats >/dev/null
peer0=$(counter r4 dropped_unknown_peer) dest0=$(counter r4 dropped_not_served)
echo0=$(in_node r4 awk '/^Icmp:/ { getline; print $9 }' /proc/net/snmp)
# from the router, a non-member, to r4 for r4
lab exec _net python3 "$ITM_TMP/ipip.py" 169.254.0.1 "${UL[r4]}" "${OVL[r1]}" "${OVL[r4]}" 5 ||
	fail "cannot send IP-in-IP from the router"
# from r1, a member, to r4 for an address no member has
in_node r1 python3 "$ITM_TMP/ipip.py" "${UL[r1]}" "${UL[r4]}" "${OVL[r1]}" 10.63.7.7 5 ||
	fail "cannot send IP-in-IP from r1"
sleep 1.2	# the module reads the data path's counters every second
itm_assert_eq "$(( $(counter r4 dropped_unknown_peer) - peer0 ))" 5 "IP-in-IP from a non-member dropped"
itm_assert_eq "$(( $(counter r4 dropped_not_served) - dest0 ))" 5 "IP-in-IP for a non-member address dropped"
echo1=$(in_node r4 awk '/^Icmp:/ { getline; print $9 }' /proc/net/snmp)
itm_assert_eq "$echo1" "$echo0" "echo requests delivered in r4 from the spoofed packets"
itm_log "spoofed IP-in-IP: 5 from a non-member, 5 for a non-member address: dropped and counted"

# ---------------------------------------------------------------------
# 5. The outer TOS is the inner one (qosmod's short class)
# ---------------------------------------------------------------------
qhook=post_route
[ "$DP" = queue ] && qhook=ip_out	# before the encapsulation at IP_OUT
lab ctl r1 module load qosmod threshold=20 hook=$qhook >/dev/null || fail "cannot load qosmod on r1"
capture r1 "ip proto 4 and src host ${UL[r1]} and ip[36:4] = $(ovl_hex r4) and ip[29:1] = 6" 1
# A SYN sent while r1 switches r4's path or commits qosmod's rules may
# be lost and a refused connect is not retried: connect again until one
# is captured.
for _ in 1 2 3 4 5; do
	in_node r1 timeout 1 bash -c "exec 3<>/dev/tcp/${OVL[r4]}/5399" 2>/dev/null || true
	itm__dead "$ITM_CAP_PID" && break
	sleep 0.3
done
itm_capture_wait 3 || fail "no TCP packet r1 -> r4 captured"
itm_assert_eq "$(itm_pcap_tos "$ITM_PCAP" | head -n 1)" 0x10 "outer TOS of a short flow's SYN"
lab ctl r1 module unload qosmod >/dev/null
itm_log "qosmod's TOS 0x10 on the outer header"

# ---------------------------------------------------------------------
# 5b. queue: the underlay's offloads off while it runs, then as they were
# ---------------------------------------------------------------------
# offloads NODE: "tso gso gro" of NODE's ul0, each on or off.
offloads() {
	in_node "$1" ethtool -k ul0 | awk '
		/^tcp-segmentation-offload:/ { t = $2 }
		/^generic-segmentation-offload:/ { g = $2 }
		/^generic-receive-offload:/ { r = $2 }
		END { print t, g, r }'
}
load_r2() {
	lab ctl r2 module load itmroute datapath=$DP pin_dir=$BPF holddown_ms=$HOLD_MS
}
if [ "$DP" = queue ]; then
	itm_assert_eq "$(offloads r2)" "off off off" "r2's ul0 offloads with itmroute (queue)"
	lab ctl r2 module unload itmroute >/dev/null || fail "cannot unload itmroute on r2"
	# a state of its own, unlike the veth's defaults (tso on, gro off)
	in_node r2 ethtool -K ul0 tso off gso on gro on 2>/dev/null
	before=$(offloads r2)
	itm_assert_eq "$before" "off on on" "r2's ul0 offloads set by hand"
	load_r2 >/dev/null || fail "cannot load itmroute on r2"
	itm_assert_eq "$(offloads r2)" "off off off" "r2's ul0 offloads with itmroute loaded"
	lab ctl r2 module unload itmroute >/dev/null
	itm_assert_eq "$(offloads r2)" "$before" "r2's ul0 offloads after unload"
	# an agent killed with them off: the next instance puts them back
	load_r2 >/dev/null || fail "cannot load itmroute on r2"
	pid=$(awk '$2 == "agent-r2.log" { p = $1 } END { print p }' "$STATE/pids")
	kill -KILL "$pid" && itm_wait_for 5 itm__dead "$pid" || fail "cannot kill r2's agent"
	itm_assert_eq "$(offloads r2)" "off off off" "r2's ul0 offloads after the agent was killed"
	lab agent r2 --listen "${UL[r2]}:7701" --insecure-plaintext \
		--controller 10.63.0.254:7700 >/dev/null 2>&1 || fail "cannot start r2's agent"
	itm_wait_for 15 bash -c "\"$LAB_SH\" ctl -n $LAB r2 module list 2>/dev/null | grep -q itmroute" ||
		fail "the controller did not place itmroute on the restarted agent r2"
	lab ctl r2 module unload itmroute >/dev/null
	itm_assert_eq "$(offloads r2)" "$before" "r2's ul0 offloads after a killed agent's successor is unloaded"
	load_r2 >/dev/null || fail "cannot load itmroute on r2"
	itm_wait_for 5 reach_all || fail "not every node reaches every other after r2's restarts"
	itm_log "queue: r2's offloads off while loaded, back to '$before' after unload, also after a killed agent"
fi

# ---------------------------------------------------------------------
# 6. Restarts: module, agent; the controller gone
# ---------------------------------------------------------------------
# pings_during CMD...: pings r1 -> r4 10 ms apart around CMD; echoes lost.
pings_during() {
	in_node r1 ping -n -c 300 -i 0.01 -W 1 "${OVL[r4]}" >"$ITM_TMP/gap.ping" 2>&1 &
	local pp=$!
	sleep 0.3
	"$@" >/dev/null 2>&1
	wait "$pp"
	echo $((300 - $(grep -c "bytes from" "$ITM_TMP/gap.ping")))
}
reload() {
	lab ctl r1 module unload itmroute
	lab ctl r1 module load itmroute datapath=$DP pin_dir=$BPF holddown_ms=$HOLD_MS
}
lost=$(pings_during reload)
itm_log "module r1 unloaded and loaded: $lost of 300 pings lost"
[ "$DP" = ebpf ] && itm_assert_le "$lost" 5 "pings lost over a module restart (ebpf)"
itm_assert_le "$lost" 100 "pings lost over a module restart"

restart_agent() {
	local pid
	pid=$(awk '$2 == "agent-r1.log" { p = $1 } END { print p }' "$STATE/pids")
	kill -TERM "$pid"
	itm_wait_for 5 itm__dead "$pid"
	lab agent r1 --listen "${UL[r1]}:7701" --insecure-plaintext \
		--controller 10.63.0.254:7700
}
lost=$(pings_during restart_agent)
itm_log "agent r1 restarted: $lost of 300 pings lost"
itm_wait_for 15 bash -c "\"$LAB_SH\" ctl -n $LAB r1 module list | grep -q itmroute" ||
	fail "the controller did not place itmroute on the restarted agent"
itm_wait_for 5 reach_all || fail "not every node reaches every other after the agent restart"

pid=$(awk '$2 == "controller.log" { print $1 }' "$STATE/pids")
kill -KILL "$pid" && itm_wait_for 5 itm__dead "$pid" || fail "cannot kill the controller"
sleep 1
reach_all || fail "with the controller gone, not every node reaches every other"
lost=$(pings_during lab impair r1 r4 down)
itm_log "controller gone: all pairs reach each other; a cut loses $lost of 300 pings"
itm_assert_le "$lost" 100 "pings lost over a cut with the controller gone"
itm_log "PASS"
