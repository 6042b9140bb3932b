#!/bin/bash
# procmod_order.sh - an in-agent module and a process module at the same
# hook (IP_FORWARD on r) run in priority order, both ways round, and the
# later one sees the packet as the earlier one left it.
#
# h1 connects to port 5611 of h2.  The first stage matches port 5611 and
# rewrites it to 5612; the second stage matches port 5612 only, so it acts
# only if it runs after the first and sees its change.  Both write a TOS:
# the plugin (fig13.so) 0x55, the process (fig13) 0x28; the later stage's
# TOS is the one on the wire at h2.  Wrong order: the port-5612 stage never
# matches and the wire shows the first stage's TOS.  A stage whose turn has
# passed does not get the packet back when a later stage's change would
# now match it.
#
# h2 serves on 5612 and rewrites its replies' source port back to 5611
# (nftables), so a TCP transfer through both stages completes; its bytes
# and their SHA-256 are compared end to end.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init porder
itm__need nft python3
itm_topo_line
itm_agent_start r r
export ITM_AGENT_SOCKET
ITM_AGENT_SOCKET=$(itm_agent_sock r)
FIG13=$ITM_BUILD/modules/examples/fig13/fig13
PA=5611			# the port h1 connects to
PB=5612			# the port the first stage writes
PLUGIN_TOS=0x55
PROC_TOS=0x28

itm_exec h2 nft -f - <<EOF || itm_fail "nftables in h2"
table ip porder {
	chain out {
		type filter hook output priority 0; policy accept;
		tcp sport $PB tcp sport set $PA
	}
}
EOF

cat >"$ITM_TMP/server.py" <<'EOF'
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
c.sendall(("%d %s\n" % (n, h.hexdigest())).encode())
c.close()
EOF
cat >"$ITM_TMP/client.py" <<'EOF'
import hashlib, socket, sys
data = bytes(range(256)) * (int(sys.argv[3]) // 256)
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
c.sendall(data)
c.shutdown(socket.SHUT_WR)
print("%d %s" % (len(data), hashlib.sha256(data).hexdigest()))
print(c.makefile().readline().strip())
EOF

reg_label() {	# true when label $1 is in `module list`
	itm_ctl r r module list -o json | python3 -c '
import json, sys
sys.exit(not any(r["label"] == sys.argv[1]
                 for m in json.load(sys.stdin)["modules"]
                 for r in m["registrations"]))' "$1"
}

# transfer NAME: 8 MiB from h1 to h2:$PA through r, captured on h2; sets
# WIRE (the distinct "TOS DPORT" of h1's packets at h2).
transfer() {
	local out srv
	itm_capture h2 "$ITM_H2_DEV" "tcp and src host $ITM_H1_IP" 100
	itm_bg h2 --name "server-$1" timeout 30 python3 "$ITM_TMP/server.py" \
		"$ITM_H2_IP" "$PB"
	srv=$ITM_LAST_PID
	itm_wait_for 5 itm__listening h2 "$PB" || itm_fail "no server on h2"
	out=$(itm_exec h1 timeout 30 python3 "$ITM_TMP/client.py" \
		"$ITM_H2_IP" "$PA" 8388608) || itm_fail "$1: transfer failed"
	wait "$srv" || itm_fail "$1: server failed"
	itm_log "$1: sent and received: $(tr '\n' '|' <<<"$out")"
	itm_assert_eq "$(sed -n 2p <<<"$out")" "$(sed -n 1p <<<"$out")" \
		"$1: bytes and SHA-256 received"
	itm_capture_wait 10 || itm_fail "$1: fewer than 100 packets captured"
	WIRE=$(itm_pcap_tos_dport "$ITM_PCAP" | sort -u | tr '\n' ' ')
	WIRE=${WIRE% }
}

# Process first (priority -5), then the plugin (priority 5).
itm_bg r --name proc-first "$FIG13" --label po-proc --priority -5 \
	--proto tcp --dport "$PA" --new-dport "$PB" --tos "$PROC_TOS"
P1=$ITM_LAST_PID
itm_wait_for 5 reg_label po-proc || itm_fail "process module did not register"
itm_ctl r r module load fig13 tos="$PLUGIN_TOS" new_dport=0 dport="$PB" \
	priority=5 >/dev/null || itm_fail "load fig13 plugin"
itm_ctl r r module list
transfer "process then plugin"
itm_assert_eq "$WIRE" "$PLUGIN_TOS $PB" "process then plugin: TOS and port at h2"

# The process again, now after the plugin (priority 10): the plugin had
# its turn before the port became 5612 and must not get the packet back.
itm_stop "$P1" || itm_fail "process module exited with $?"
itm_bg r --name proc-last "$FIG13" --label po-proc --priority 10 \
	--proto tcp --dport "$PA" --new-dport "$PB" --tos "$PROC_TOS"
P1=$ITM_LAST_PID
itm_wait_for 5 reg_label po-proc || itm_fail "process module did not register"
transfer "plugin passed, then process"
itm_assert_eq "$WIRE" "$PROC_TOS $PB" "plugin passed, then process: TOS and port at h2"

# Plugin first (priority -5), then the process (priority 5).
itm_stop "$P1" || itm_fail "process module exited with $?"
itm_ctl r r module unload fig13 >/dev/null || itm_fail "unload fig13"
itm_ctl r r module load fig13 tos="$PLUGIN_TOS" new_dport="$PB" dport="$PA" \
	priority=-5 >/dev/null || itm_fail "load fig13 plugin"
itm_bg r --name proc-second "$FIG13" --label po-proc --priority 5 \
	--proto tcp --dport "$PB" --new-dport 0 --tos "$PROC_TOS"
P2=$ITM_LAST_PID
itm_wait_for 5 reg_label po-proc || itm_fail "process module did not register"
itm_ctl r r module list
transfer "plugin then process"
itm_assert_eq "$WIRE" "$PROC_TOS $PB" "plugin then process: TOS and port at h2"

# Both leave: no queue rule stays behind.
itm_stop "$P2" || itm_fail "process module exited with $?"
itm_ctl r r module unload fig13 >/dev/null || itm_fail "unload fig13"
itm_assert_eq "$(itm_exec r iptables-nft-save -t mangle | grep -c NFQUEUE)" 0 \
	"queue rules after both modules left"
itm_log "ok"
