#!/bin/bash
# procmod_counter.sh - the itm-counter example: per-class rates printed by
# its libitm timer while traffic flows through r.
#
# Known traffic h1 -> h2 through r: UDP at 200 packets/s for 3 s, 10 pings
# (10 requests and 10 replies forwarded), one TCP SYN to a closed port (SYN
# and RST) and 5 raw IP packets of protocol 253 ("other").  itm-counter
# prints a line per second; the UDP rate of a second inside the flood is
# about 200 (150..250: on a busy machine the timer fires late), and the
# rates of all lines add up to exactly the packets sent of each class.
# Its counters reach `itmctl stats` too.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init pcount
itm_topo_line
itm_agent_start r r
export ITM_AGENT_SOCKET
ITM_AGENT_SOCKET=$(itm_agent_sock r)
COUNTER=$ITM_BUILD/modules/examples/counter/itm-counter
# h2 drops the UDP and protocol-253 packets silently: no ICMP errors back.
itm_exec h2 iptables -A INPUT -p udp --dport 5641 -j DROP &&
	itm_exec h2 iptables -A INPUT -p 253 -j DROP || itm_fail "iptables in h2"
LINE='^counter: tcp ([0-9.]+) pkt/s udp ([0-9.]+) pkt/s icmp ([0-9.]+) pkt/s other ([0-9.]+) pkt/s$'

registered() {
	itm_ctl r r module list -o json | python3 -c '
import json, sys
sys.exit(not any(r["label"] == "pc-count"
                 for m in json.load(sys.stdin)["modules"]
                 for r in m["registrations"]))'
}
lines() { grep -c '^counter:' "$LOG"; }

itm_bg r --name counter "$COUNTER" --label pc-count --interval 1
CPID=$ITM_LAST_PID
LOG=$ITM_LAST_LOG
itm_wait_for 5 registered || itm_fail "itm-counter did not register"
itm_wait_for 3 eval '[ "$(lines)" -ge 1 ]' || itm_fail "no rate line within 3 s"

itm_exec h1 python3 - "$ITM_H2_IP" <<'EOF' || itm_fail "UDP sender"
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.monotonic()
for i in range(600):			# 200 packets/s for 3 s
    d = t0 + i / 200 - time.monotonic()
    if d > 0:
        time.sleep(d)
    s.sendto(b"x" * 64, (sys.argv[1], 5641))
EOF
itm_exec h1 ping -n -q -c 10 -i 0.1 -W 2 "$ITM_H2_IP" >/dev/null ||
	itm_fail "ping through r"
itm_exec h1 bash -c "exec 3<>/dev/tcp/$ITM_H2_IP/5642" 2>/dev/null &&
	itm_fail "port 5642 of h2 answered"
itm_exec h1 python3 - "$ITM_H2_IP" <<'EOF' || itm_fail "raw IP sender"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 253)
for i in range(5):
    s.sendto(b"itm", (sys.argv[1], 0))
EOF
# Two more lines: every packet sent is in a printed interval.
n=$(lines)
itm_wait_for 5 eval '[ "$(lines)" -ge $((n + 2)) ]' || itm_fail "rate lines stopped"
sleep 0.3	# a heartbeat carries the counters to the agent
STATS=$(itm_ctl r r stats --module itm-counter -o json) || itm_fail "itmctl stats"
kill -INT "$CPID"
itm_wait_for 5 itm__dead "$CPID" || itm_fail "itm-counter ignored SIGINT"
wait "$CPID" || itm_fail "itm-counter exited with $?"

grep -v '^counter:' "$LOG" | grep . && itm_fail "itm-counter printed other lines"
bad=$(grep '^counter:' "$LOG" | grep -Ev "$LINE" | head -3)
[ -z "$bad" ] || itm_fail "malformed rate lines: $bad"
itm_log "$(lines) rate lines; the busiest: $(sort -t' ' -k6 -n -r "$LOG" | head -1)"
sums=$(sed -E "s#$LINE#\1 \2 \3 \4#" "$LOG" | awk '
	{ for (i = 1; i <= 4; i++) s[i] += $i; if ($2 > max) max = $2 }
	END { printf "%d %d %d %d %d", s[1], s[2], s[3], s[4], max }')
read -r tcp udp icmp other udpmax <<<"$sums"
itm_assert_eq "$udp" 600 "UDP packets over all lines"
itm_assert_eq "$icmp" 20 "ICMP packets over all lines"
itm_assert_eq "$tcp" 2 "TCP packets over all lines (SYN, RST)"
itm_assert_eq "$other" 5 "other packets over all lines"
itm_assert_ge "$udpmax" 150 "UDP rate of the busiest second"
itm_assert_le "$udpmax" 250 "UDP rate of the busiest second"

# The same counts reach the agent as the module's counters.
got=$(python3 -c '
import json, sys
c = {}
for m in json.load(sys.stdin)["modules"]:
    for k in m.get("counters", []):
        c[k["name"]] = k["value"]
print(" ".join(str(c.get(n, "-")) for n in
               ("tcp_packets", "udp_packets", "icmp_packets", "other_packets")))
' <<<"$STATS")
itm_assert_eq "$got" "2 600 20 5" "counters in itmctl stats (tcp udp icmp other)"
itm_log "ok"
