#!/bin/bash
# qos_core.sh - deploy/lab/qos-core.sh gives the qosmod class priority:
# with r's link to h2 saturated by an unmarked UDP flood, pings with TOS
# 0x10 cross it at once while unmarked pings wait behind the flood, and the
# high class counts exactly the marked packets.  A bad rate is refused.
. "$(dirname "$0")/lib.sh"
itm_init qos_core
QOS="$ITM_SRC/deploy/lab/qos-core.sh"

itm_topo_line
R=$(itm_nsname r)

out=$("$QOS" "$R" "$ITM_R_DEV2" 20mbps 2>&1) && itm_fail "bad rate accepted"
itm_assert_match "$out" "bad rate '20mbps'" "error for a bad rate"
itm_assert_eq "$(tc -n "$R" qdisc show dev "$ITM_R_DEV2" | grep -c htb)" 0 \
	"nothing installed after the error"

"$QOS" "$R" "$ITM_R_DEV2" 20mbit >/dev/null || itm_fail "qos-core.sh failed"

# Class counters before: nothing in 1:10.
hi_pkts() {
	tc -n "$R" -s class show dev "$ITM_R_DEV2" |
		awk '/^class htb 1:10 / { f = 1 } f && /Sent/ { print $4; exit }'
}
itm_assert_eq "$(hi_pkts)" 0 "high class packets before"
itm_exec h1 ping -n -q -c 5 -i 0.05 -Q 0x10 "$ITM_H2_IP" >/dev/null ||
	itm_fail "marked ping failed"
itm_assert_eq "$(hi_pkts)" 5 "high class packets = marked echo requests"

# Flood at twice the link rate, unmarked.
itm_iperf h2 "$ITM_H2_IP" h1 4 -u -b 40M -l 1400 >"$ITM_TMP/flood.out" &
flood=$!
sleep 1.5
marked=$(itm_ping h1 "$ITM_H2_IP" 10 0.05 -Q 0x10)
plain=$(itm_exec h1 ping -n -q -c 10 -i 0.05 -W 3 "$ITM_H2_IP" 2>&1)
wait "$flood"
itm_log "under load: marked rtt ${marked:-lost} ms"
itm_log "under load: unmarked: $(echo "$plain" | tail -2 | tr '\n' ' ')"

[ -n "$marked" ] || itm_fail "every marked ping was lost under load"
itm_assert_le "$marked" 20 "marked RTT under load (ms)"
unmarked=$(awk -F/ '/^rtt/ { print $5 }' <<<"$plain")
# Lost entirely counts as waiting forever.
itm_assert_ge "${unmarked:-100000}" 100 "unmarked RTT under load (ms)"
itm_assert_ge "$(hi_pkts)" 15 "high class packets after the marked pings"
itm_log "PASS"
