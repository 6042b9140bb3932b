#!/bin/bash
# procmod_publish.sh - one API for both kinds of module: a process module's
# itm_register_tunnel and itm_register_routes_func (libitm sends them with
# its heartbeats).
#
#  - `itmctl tunnels -o json --agent` shows the process's tunnel under its
#    program name, with the fields it set, and its goodput moves;
#  - `itmctl routes -o json --agent` shows its route with both candidate
#    paths; `itmctl routes` (text) lists the destination;
#  - the process exits (SIGTERM): both are gone; a second one killed with
#    -9: gone once its lease expires.
. "$ITM_SRC/tests/integ/lib.sh"
itm__need /usr/bin/python3
itm_init procmod_publish
itm_ns n
itm_agent_start n n
export ITM_AGENT_SOCKET
ITM_AGENT_SOCKET=$(itm_agent_sock n)
MOD=$ITM_BUILD/tests/tools/procpub_mod

tunnels() { itm_ctl n n -o json tunnels; }
routes() { itm_ctl n n -o json routes; }
tunnel_field() {	# field $2 of tunnel $1, or fail
	tunnels | /usr/bin/python3 -c '
import json, sys
name, key = sys.argv[1], sys.argv[2]
for node in json.load(sys.stdin)["nodes"]:
  for t in node.get("tunnels", []):
    if t.get("name") == name:
      print(t.get(key, "")); sys.exit(0)
sys.exit(1)' "$1" "$2"
}
route_json() {	# the route to $1 as JSON, or fail
	routes | /usr/bin/python3 -c '
import json, sys
for r in json.load(sys.stdin).get("routes", []):
    if r.get("destination") == sys.argv[1]:
        print(json.dumps(r, sort_keys=True)); sys.exit(0)
sys.exit(1)' "$1"
}
has_tunnel() { tunnel_field "$1" name >/dev/null 2>&1; }
no_tunnel() { ! has_tunnel "$1"; }
has_route() { route_json "$1" >/dev/null 2>&1; }
no_route() { ! has_route "$1"; }

itm_bg n --name pub1 "$MOD" tun-a n7 n9 n5
P1=$ITM_LAST_PID
itm_wait_for 10 has_tunnel tun-a || itm_fail "tunnel of the process not shown"
itm_assert_eq "$(tunnel_field tun-a module)" procpub_mod "tunnel's module"
itm_assert_eq "$(tunnel_field tun-a peer)" n7 "tunnel's peer"
itm_assert_eq "$(tunnel_field tun-a side)" TUNNEL_ENTRY "tunnel's side"
itm_assert_eq "$(tunnel_field tun-a state_text)" holding "tunnel's state text"
itm_assert_eq "$(tunnel_field tun-a max_conns)" 8 "tunnel's max_conns"
g1=$(tunnel_field tun-a goodput_kbps)
sleep 1
g2=$(tunnel_field tun-a goodput_kbps)
[ "${g2:-0}" -gt "${g1:-0}" ] ||
	itm_fail "tunnel status not refreshed: goodput $g1 then $g2"

itm_wait_for 5 has_route n9 || itm_fail "route of the process not shown"
r=$(route_json n9)
itm_log "route: $r"
echo "$r" | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["module"] == "procpub_mod", r
assert r["via"] == "n5", r
assert r["overlay"] == "10.250.0.9", r
assert r["rtt_us"] == 1500 and r["switches"] == 2, r
paths = r.get("paths", [])
assert len(paths) == 2, r
assert paths[0].get("via") == "n5" and paths[0].get("alive") is True, r
assert paths[1]["via"] == "" and paths[1]["loss_permille"] == 120, r
' || itm_fail "route fields not as the process published them"
itm_ctl n n routes | grep -q "n9" || itm_fail "itmctl routes (text) has no n9"

itm_stop "$P1" 10 || true
itm_wait_for 5 no_tunnel tun-a || itm_fail "tunnel stays after the process exited"
itm_wait_for 5 no_route n9 || itm_fail "route stays after the process exited"

itm_bg n --name pub2 "$MOD" tun-b n7 n8 n5
P2=$ITM_LAST_PID
itm_wait_for 10 has_tunnel tun-b || itm_fail "second process's tunnel not shown"
kill -9 "$P2"
itm_wait_for 15 no_tunnel tun-b || itm_fail "tunnel stays after kill -9"
itm_wait_for 5 no_route n8 || itm_fail "route stays after kill -9"
itm_log "ok"
