#!/bin/bash
# ctl_damaged.sh - a damaged database is caught, and never written to
# (issue 8, item 6):
#  - `itm-controller --check` on a sound file says "configuration OK";
#  - rows edited by hand with the sqlite3 shell (a link to a deleted node,
#    a cost of 0) and garbage in the middle of the file: --check exits 1
#    naming the fault and how to recover, and the controller refuses to
#    start on the file; the file is left byte for byte as it was.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init ctl_damaged
itm__need sqlite3 cmp

PORT=7796
DB=$ITM_TMP/ctl.db
CTL_BIN=$ITM_BUILD/controller/itm-controller
itm_ns c
itm_bg c --name controller "$CTL_BIN" --db "$DB" --listen "127.0.0.1:$PORT" \
	--push-timeout-ms 300
ctl_pid=$ITM_LAST_PID
ctlctl() { itm_exec c "$(itm_ctl_bin)" --controller "127.0.0.1:$PORT" "$@"; }
itm_wait_for 10 ctlctl topology history || itm_fail "controller does not answer"
cat >"$ITM_TMP/topo.yaml" <<'YAML'
nodes:
  - { name: n1, mgmt: "127.0.0.1:1", overlay: 10.200.0.1 }
  - { name: n2, mgmt: "127.0.0.1:2", overlay: 10.200.0.2 }
  - { name: n3, mgmt: "127.0.0.1:3", overlay: 10.200.0.3 }
links:
  - { between: [n1, n2], cost: 10 }
  - { between: [n2, n3], cost: 10 }
YAML
for i in $(seq 1 30); do	# no agents: nodes unreachable, exit 1
	ctlctl topology apply "$ITM_TMP/topo.yaml" >/dev/null 2>&1
done
itm_stop "$ctl_pid" || itm_fail "controller did not stop cleanly"
itm_assert_eq "$(sqlite3 "$DB" 'SELECT count(*) FROM generations')" 30 \
	"generations stored"
out=$("$CTL_BIN" --db "$DB" --check 2>&1) || itm_fail "check of a sound file: $out"
itm_assert_match "$out" "^configuration OK" "check of a sound file"
cp "$DB" "$ITM_TMP/sound.db"

damaged() {	# WHAT EXPECTED-FAULT: --check and start-up refuse $DB
	local out rc
	cp "$DB" "$ITM_TMP/before.db"
	out=$("$CTL_BIN" --db "$DB" --check 2>&1); rc=$?
	itm_assert_eq "$rc" 1 "--check exit status ($1)"
	itm_assert_match "$out" "is damaged: .*$2" "--check fault ($1)"
	itm_assert_match "$out" "sqlite3 DB .recover" "--check advice ($1)"
	out=$(itm_exec c timeout 10 "$CTL_BIN" --db "$DB" \
		--listen "127.0.0.1:$PORT" 2>&1); rc=$?
	itm_assert_eq "$rc" 1 "start-up exit status ($1)"
	itm_assert_match "$out" "is damaged: .*$2" "start-up fault ($1)"
	cmp -s "$DB" "$ITM_TMP/before.db" || itm_fail "the file changed ($1)"
}

sqlite3 "$DB" "DELETE FROM nodes WHERE gen = 30 AND name = 'n3'"
damaged "deleted node" "a row of links refers to a missing row of nodes"
cp "$ITM_TMP/sound.db" "$DB"
sqlite3 "$DB" "PRAGMA ignore_check_constraints = ON;
	UPDATE links SET cost = 0 WHERE gen = 30 AND a = 'n1'"
damaged "cost 0" "links with a cost, latency or bandwidth out of range"
cp "$ITM_TMP/sound.db" "$DB"
size=$(stat -c %s "$DB")
head -c 4096 /dev/urandom | dd of="$DB" bs=4096 seek=$((size / 8192)) \
	conv=notrunc status=none
damaged "garbage" "."
itm_log "PASS"
