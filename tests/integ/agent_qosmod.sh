#!/bin/bash
# agent_qosmod.sh - itm-agent with qosmod on r, a real TCP transfer h1 -> h2.
#
#  - on the wire at h2, the first `threshold` packets of the flow carry TOS
#    0x10 and the following ones 0x00;
#  - the LONG flow is settled: almost all its packets stay in the kernel;
#  - `itmctl stats` counts exactly the packets and bytes that a plain
#    iptables counter at the same hook saw, settled packets included.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init agent_qosmod
itm_topo_line

itm_tcp_counter r
itm_agent_start r r --load "qosmod threshold=20"

itm_capture h2 "$ITM_H2_DEV" "tcp and src host $ITM_H1_IP and src port 40000" 60
gbps=$(itm_iperf h2 "$ITM_H2_IP" h1 2 --cport 40000) ||
	itm_fail "transfer through r failed"
itm_log "transfer: $gbps Gbit/s"
itm_capture_wait 10 || itm_fail "capture did not see 60 packets"

want="$(printf '0x10 %.0s' $(seq 20))$(printf '0x00 %.0s' $(seq 40))"
got=$(itm_pcap_tos "$ITM_PCAP" | tr '\n' ' ')
itm_assert_eq "$got" "$want" "TOS of the flow's first 60 packets at h2"

itm_stats_match_counter r r qosmod "$ITM_TMP/stats.json"
python3 - "$ITM_TMP/stats.json" <<'PY' ||
import json, sys
s = json.load(open(sys.argv[1]))
cls = {c["name"]: c for m in s["modules"] for r in m["registrations"]
       for c in r["classes"]}
def fail(msg):
    sys.exit("stats: " + msg)
long = cls.get("LONG")
if long is None or long["flows"] < 1:
    fail("no LONG flow")
if long["settled_packets"] < 0.9 * long["packets"]:
    fail("LONG flow not settled in the kernel: %d of %d packets"
         % (long["settled_packets"], long["packets"]))
if cls["SHORT"]["settled_packets"] != 0:
    fail("SHORT packets settled")
print("LONG %.1f%% settled" % (100.0 * long["settled_packets"] / long["packets"]))
PY
	itm_fail "qosmod's classes are not as expected"
itm_log "ok"
