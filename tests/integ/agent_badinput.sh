#!/bin/bash
# agent_badinput.sh - bad input gets a clear error and changes nothing.
#
#  - hostile RPCs (undecodable bytes, path in a module name, bad hooks,
#    prefixes and ports, dead pids, taken labels, unknown leases, ...) each
#    get their status code and message; the agent keeps answering;
#  - `itmctl module load` with a bad parameter prints the reason and leaves
#    the rules and the module list exactly as they were;
#  - malformed packets crossing r are passed on untouched, counted and
#    logged (rate-limited), and traffic keeps flowing.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init agent_badinput
itm_topo_line
itm_agent_start r r --load "qosmod threshold=20"
sock=$(itm_agent_sock r)

snapshot() {
	itm_exec r iptables-nft-save -t mangle | grep -v '^#'
	itm_ctl r r module list -o json
}
before=$(snapshot)

# --- RPCs --------------------------------------------------------------
out=$(itm_exec r "$ITM_BUILD/tests/tools/agent_probe" "unix:$sock") ||
	itm_fail "agent_probe failed"
echo "$out" >"$ITM_TMP/probe.out"
expect() {	# CASE CODE [MESSAGE-SUBSTRING]
	local line
	line=$(grep "^$1 " <<<"$out") || itm_fail "case $1: no answer"
	itm_assert_match "$line" "^$1 $2( |$)" "status of $1"
	[ -z "${3:-}" ] || itm_assert_match "$line" "$3" "message of $1"
}
expect wrong-wire-type INVALID_ARGUMENT
expect path-in-name INVALID_ARGUMENT "'../../etc/passwd' is not a module name"
expect unknown-module NOT_FOUND "unknown module 'nosuchmod'"
expect bad-param INVALID_ARGUMENT "threshold|unknown parameter 'threshold'"
expect bad-hook INVALID_ARGUMENT "hook: 9 is not a hook"
expect long-label INVALID_ARGUMENT "label: longer than 31"
expect bad-prefix INVALID_ARGUMENT "interest.saddr\[0\]: .*10.0.0.0/33"
expect icmp-ports INVALID_ARGUMENT "port"
expect reversed-ports INVALID_ARGUMENT "interest.dst_ports\[0\]: 90-80"
expect dead-pid NOT_FOUND "pid 4000000: no such process"
expect taken-label ALREADY_EXISTS "label 'qos_ctrl' is already registered"
expect table-other-node INVALID_ARGUMENT "table is for node 'someone-else'"
expect settle-unknown-lease NOT_FOUND "lease 424242: unknown"
expect settle-class-0 INVALID_ARGUMENT
expect stats-unknown-module NOT_FOUND "no module named 'nosuchmod'"
expect heartbeat-too-many INVALID_ARGUMENT "leases: more than 64"
expect unknown-method UNIMPLEMENTED
expect watch-interval INVALID_ARGUMENT "interval_ms: 5 outside"
expect settle-undeclared PERMISSION_DENIED "probe_nosettle: did not declare ITM_MAY_SETTLE"
expect publish-caps OK
expect publish-kept "tunnels=8" "peer=63"
expect detach-nosettle OK
expect alive OK

# --- a bad parameter through itmctl -------------------------------------
if err=$(itm_ctl r r module load fig13 tos=0x155 2>&1); then
	itm_fail "load with tos=0x155 succeeded"
fi
itm_assert_match "$err" "INVALID_ARGUMENT: tos: 341 is outside 0..255" \
	"itmctl error text"
if err=$(itm_ctl r r module load fig13 proto=icmp 2>&1); then
	itm_fail "load with proto=icmp succeeded"
fi
itm_assert_match "$err" "load failed: proto: 'icmp': use tcp, udp or any" \
	"load function's own error"
after=$(snapshot)
[ "$before" = "$after" ] || {
	diff <(echo "$before") <(echo "$after") >&2
	itm_fail "rules or module list changed after refused requests"
}

# --- malformed packets through r ----------------------------------------
itm_exec h1 python3 - "$ITM_H1_IP" "$ITM_H2_IP" <<'PY' ||
import socket, struct, sys
src, dst = (socket.inet_aton(a) for a in sys.argv[1:3])
def ip(payload, proto=6):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64,
                    proto, 0, src, dst)
    s = sum(struct.unpack("!10H", h))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return h[:10] + struct.pack("!H", ~s & 0xffff) + h[12:] + payload
tcp = lambda doff, n: struct.pack("!HHIIBBHHH", 1234, 80, 1, 0, doff << 4,
                                  0x02, 1024, 0, 0)[:n]
bad = [ip(tcp(5, 10)),           # TCP header cut at 10 bytes
       ip(tcp(15, 20)),          # data offset 60, only 20 bytes
       ip(tcp(3, 20)),           # data offset below 5
       ip(b"")] * 10             # TCP with no header at all
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for p in bad:
    s.sendto(p, (sys.argv[2], 0))
PY
	itm_fail "could not send crafted packets"
sleep 0.5
status=$(itm_ctl r r status -o json) || itm_fail "agent gone after bad packets"
malformed=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["malformed_packets"])' <<<"$status")
itm_assert_ge "$malformed" 30 "malformed packets counted"
grep -q "malformed packet" "$ITM_TMP/agent-r.log" ||
	itm_fail "malformed packets not logged"
lines=$(grep -c "malformed packet" "$ITM_TMP/agent-r.log")
itm_assert_le "$lines" 10 "malformed-packet log lines (rate-limited)"
itm_iperf h2 "$ITM_H2_IP" h1 1 >/dev/null || itm_fail "traffic stopped"
itm_log "ok"
