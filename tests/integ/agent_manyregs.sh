#!/bin/bash
# agent_manyregs.sh - an in-agent module with 600 registrations at one
# hook, one stage, past every table the agent once had a fixed size for:
#
#  - ListModules answers with all 600, each with its own interest: the
#    reply's interests once lived in a static array of 1024 pointers, two
#    per registration, and past 512 were freed before the reply was packed
#    (a use-after-free ASan reports); several replies at once too;
#  - the 600th registration sees its packets: a stage once gave its runner
#    only its first 64 registrations;
#  - unloading takes all 600 out and the agent lives on: the unload once
#    collected them in a stack array of 256.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init agent_manyregs
itm__need python3
N=600
PORT=20000

itm_ns n
export ITM_AGENT_MODDIRS="$ITM_BUILD/tests/modules"
itm_agent_start n n
itm_ctl n n module load manyregs count=$N port=$PORT hook=ip_out >/dev/null ||
	itm_fail "loading manyregs count=$N"

nfqueue_rules() {
	itm_exec n iptables-nft-save -t mangle | grep -c -- '-j NFQUEUE' || true
}
itm_assert_eq "$(nfqueue_rules)" $N "queue rules, one per registration"

# Every registration, with its own port, in one reply; four at once.
check_list() {	# FILE
	/usr/bin/python3 - "$1" $N $PORT <<'PY'
import json, sys
path, n, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mods = [m for m in json.load(open(path))["modules"] if m["name"] == "manyregs"]
assert len(mods) == 1, "manyregs listed %d times" % len(mods)
regs = mods[0]["registrations"]
assert len(regs) == n, "%d registrations listed, want %d" % (len(regs), n)
for i, r in enumerate(sorted(regs, key=lambda r: int(r["label"][4:]))):
    assert r["label"] == "many%d" % i, r["label"]
    want = [{"lo": port + i, "hi": port + i}]
    got = r["interest"].get("dst_ports", r["interest"].get("dstPorts"))
    assert got == want, "%s: dst_ports %r, want %r" % (r["label"], got, want)
PY
}
pids=()
for k in 1 2 3 4; do
	itm_ctl n n module list -o json >"$ITM_TMP/list$k.json" &
	pids+=($!)
done
for k in 1 2 3 4; do
	wait "${pids[$((k - 1))]}" || itm_fail "module list $k failed"
	check_list "$ITM_TMP/list$k.json" || itm_fail "module list $k is wrong"
done
itm_log "ListModules: $N registrations with their interests, 4 replies at once"

# A SYN to the last registration's port crosses OUTPUT: many599 counts it.
last=$((N - 1))
itm_exec n bash -c "echo > /dev/tcp/127.0.0.1/$((PORT + last))" 2>/dev/null
count_of() {	# LABEL
	itm_ctl n n stats --module manyregs -o json | /usr/bin/python3 -c '
import json, sys
label = sys.argv[1]
for m in json.load(sys.stdin)["modules"]:
    for r in m.get("registrations", []):
        if r["label"] == label:
            print(sum(int(c.get("packets", 0)) for c in r.get("classes", [])))
            sys.exit(0)
print(0)' "$1"
}
itm_assert_ge "$(count_of many$last)" 1 "packets counted by many$last"
itm_assert_eq "$(count_of many0)" 0 "packets counted by many0"

itm_ctl n n module unload manyregs >/dev/null || itm_fail "unload manyregs"
itm_assert_eq "$(nfqueue_rules)" 0 "queue rules after unload"
itm_ctl n n status >/dev/null || itm_fail "agent gone after unload"
itm_agent_stop n || itm_fail "agent exited with an error"
itm_log "ok"
