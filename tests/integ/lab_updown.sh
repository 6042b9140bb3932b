#!/bin/bash
# lab_updown.sh - deploy/lab/lab.sh: a bad spec is refused whole with every
# error and its line, and creates nothing; `up` builds a line lab that
# forwards and honours --rate; a second `up` is refused; `exec` and
# `status` work; `down` leaves no namespace, process or state behind.
. "$(dirname "$0")/lib.sh"
itm_init lab_updown
LAB_SH="$ITM_SRC/deploy/lab/lab.sh"
LAB="u$$"
export ITM_LAB_DIR="$ITM_TMP/labs"
itm_on_exit '"$LAB_SH" down -n "$LAB" >/dev/null 2>&1'

lab_ns() { ip netns list | awk '{ print $1 }' | grep "^itmlab-$LAB-"; }

# A spec with five faults, one per line 2-6.
cat >"$ITM_TMP/bad.spec" <<'SPEC'
node h1
node h1
node Bad!
link h1 zz 10.1.1.1/24 10.1.1.2/24
link h1 h1 10.1.1.300/24 10.1.1.2/24 rate=fast
route h1 default via nowhere
SPEC
out=$("$LAB_SH" up -n "$LAB" --spec "$ITM_TMP/bad.spec" 2>&1)
itm_assert_eq "$?" 2 "exit status for a bad spec"
for want in "bad.spec:2: node: duplicate name 'h1'" \
	    "bad.spec:3: node: name 'Bad!'" \
	    "bad.spec:4: link: unknown node 'zz'" \
	    "bad.spec:5: link: 'h1' to itself" \
	    "bad.spec:5: link h1 h1: bad address '10.1.1.300/24'" \
	    "bad.spec:5: link h1 h1: bad rate 'fast'" \
	    "bad.spec:6: route h1: bad gateway 'nowhere'" \
	    "nothing created"; do
	[[ $out == *"$want"* ]] || itm_fail "missing error '$want' in: $out"
done
itm_assert_eq "$(lab_ns)" "" "namespaces after a bad spec"

"$LAB_SH" up -n "$LAB" --rate 50mbit >"$ITM_TMP/up.out" 2>&1 ||
	itm_fail "lab up failed: $(cat "$ITM_TMP/up.out")"
itm_assert_eq "$(lab_ns | sort | tr '\n' ' ')" \
	"itmlab-$LAB-_net itmlab-$LAB-h1 itmlab-$LAB-h2 itmlab-$LAB-r " \
	"lab namespaces (the nodes and the network between them)"
out=$("$LAB_SH" up -n "$LAB" 2>&1) && itm_fail "second up accepted"
itm_assert_match "$out" "already up" "second up"

"$LAB_SH" exec -n "$LAB" h1 ping -n -q -c 2 -i 0.1 -W 2 10.$ITM_NETX.2.2 \
	>/dev/null || itm_fail "h1 cannot reach h2 in the lab"
out=$("$LAB_SH" status -n "$LAB")
itm_assert_match "$out" "r +itmlab-$LAB-r +to-h1:10\.$ITM_NETX\.1\.1/24" "status"
itm_assert_match "$("$LAB_SH" list)" "(^|
)$LAB($|
)" "list"

# --rate shaped every link: iperf3 through the lab stays under 50 Mbit/s.
"$LAB_SH" exec -n "$LAB" h2 iperf3 -s -1 -B 10.$ITM_NETX.2.2 >/dev/null 2>&1 &
itm_wait_for 5 "$LAB_SH" exec -n "$LAB" h2 sh -c "ss -Hltn | grep -q 5201" ||
	itm_fail "iperf3 server did not start in the lab"
g=$("$LAB_SH" exec -n "$LAB" h1 iperf3 -c 10.$ITM_NETX.2.2 -t 2 -J |
	python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))')
itm_log "lab with --rate 50mbit: $g Gbit/s"
itm_assert_le "$g" 0.053 "throughput with --rate 50mbit"
itm_assert_ge "$g" 0.035 "throughput with --rate 50mbit"

# A process left running in a node goes with `down`.
"$LAB_SH" exec -n "$LAB" r sleep 1000 &
sleeper=$!
itm_wait_for 3 sh -c "ip netns pids itmlab-$LAB-r | grep -q ." ||
	itm_fail "sleep did not start in r"
"$LAB_SH" down -n "$LAB" >/dev/null || itm_fail "lab down failed"
itm_assert_eq "$(lab_ns)" "" "namespaces after down"
itm_wait_for 3 itm__dead "$sleeper" || itm_fail "process in r survived down"
[ ! -e "$ITM_LAB_DIR/$LAB" ] || itm_fail "state dir left after down"
out=$("$LAB_SH" status -n "$LAB")
itm_assert_match "$out" "is not up" "status after down"

# --delay 20ms: 20 ms each way on each of the two links, by the one
# itm-delay of the lab's _net, between the nodes: ping sees all four, also
# between neighbours (a node's own packets to its neighbour are delayed
# both ways, and before the receiver timestamps them), and TCP is not
# throttled by its small-queue limit (no packet waits on its sender's
# egress: held there, a transfer crawled at 9 Mbit/s).
[ -n "$(itm_delay_bin)" ] || itm_fail "itm-delay is not built"
"$LAB_SH" up -n "$LAB" --delay 20ms >"$ITM_TMP/up2.out" 2>&1 ||
	itm_fail "lab up --delay failed: $(cat "$ITM_TMP/up2.out")"
rtt=$("$LAB_SH" exec -n "$LAB" h1 ping -n -q -c 5 -i 0.2 -W 2 \
	10.$ITM_NETX.2.2 | awk -F' = ' '/^rtt/ { split($2, v, "/"); print v[1] }')
itm_log "lab with --delay 20ms: h1 -> h2 rtt ${rtt:-lost} ms (min)"
itm_assert_ge "${rtt:-0}" 79.5 "RTT over two links with 20 ms each way"
itm_assert_le "$rtt" 100 "RTT over two links with 20 ms each way"
rtt=$("$LAB_SH" exec -n "$LAB" h1 ping -n -q -c 5 -i 0.2 -W 2 \
	10.$ITM_NETX.1.1 | awk -F' = ' '/^rtt/ { split($2, v, "/"); print v[1] }')
itm_log "lab with --delay 20ms: h1 -> r (its neighbour) rtt ${rtt:-lost} ms (min)"
itm_assert_ge "${rtt:-0}" 39.5 "RTT to the neighbour over one link with 20 ms each way"
itm_assert_le "$rtt" 60 "RTT to the neighbour over one link with 20 ms each way"
"$LAB_SH" exec -n "$LAB" h2 timeout 20 iperf3 -s -1 -p 5293 \
	>/dev/null 2>&1 &
srv=$!
sleep 0.5
mbps=$("$LAB_SH" exec -n "$LAB" h1 iperf3 -c 10.$ITM_NETX.2.2 -p 5293 -t 3 -J |
	python3 -c 'import json,sys
print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))')
wait "$srv"
itm_log "lab with --delay 20ms: h1 -> h2 TCP ${mbps:-0} Mbit/s"
itm_assert_ge "${mbps:-0}" 50 "TCP through delayed links (Mbit/s)"
"$LAB_SH" down -n "$LAB" >/dev/null || itm_fail "lab down failed"
itm_assert_eq "$(lab_ns)" "" "namespaces after down"
itm_log "PASS"
