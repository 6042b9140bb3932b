#!/bin/bash
# libitm_install.sh - libitm as an installed library, used out of the tree.
#
# `cmake --install --prefix` into a temporary directory (nothing may land
# outside it); the module of libitm/README.md's
# guide (tosmark.c, taken from the README as it stands) and the fig13
# example's sources are compiled with nothing but the installed header and
# `pkg-config itm`, linked against the shared and against the static
# library.  Each tosmark registers with a real agent on r and rewrites the
# TOS of TCP to port 80 (0x28): a capture on h2 shows it; SIGINT ends it
# with status 0 and its registration goes.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init libinst
itm__need cmake cc pkg-config
# DESTDIR keeps anything installed to an absolute path inside $ITM_TMP
# too, where the check below finds it.
ROOT=$ITM_TMP/root
PREFIX=$ITM_TMP/prefix
SRC=$ITM_TMP/src
mkdir -p "$SRC"

DESTDIR=$ROOT cmake --install "$ITM_BUILD" --prefix "$PREFIX" \
	>"$ITM_TMP/install.log" 2>&1 ||
	itm_fail "cmake --install failed: $(tail -5 "$ITM_TMP/install.log")"
outside=$(cd "$ROOT" && find . ! -type d | grep -v "^\.$PREFIX/")
[ -z "$outside" ] || itm_fail "installed outside --prefix: $outside"
mv "$ROOT$PREFIX" "$PREFIX"	# and it works from where it is moved to
PC=$(find "$PREFIX" -name itm.pc -path '*/pkgconfig/*')
[ -n "$PC" ] || itm_fail "no itm.pc installed under $PREFIX"
export PKG_CONFIG_PATH=${PC%/itm.pc}
itm_log "installed; pkg-config: $(pkg-config --cflags --libs itm)"
LIBDIR=$(pkg-config --variable=libdir itm)
[ -f "$LIBDIR/libitm.a" ] || itm_fail "no libitm.a in the pc file's libdir $LIBDIR"
[ -f "$(pkg-config --variable=includedir itm)/itm.h" ] ||
	itm_fail "no itm.h in the pc file's includedir"

# The guide's program, exactly as the README shows it.
awk '/^```c$/ && !n { f = 1; n = 1; next } /^```$/ { f = 0 } f' \
	"$ITM_SRC/libitm/README.md" >"$SRC/tosmark.c"
grep -q 'libitm_run' "$SRC/tosmark.c" ||
	itm_fail "no process module found in libitm/README.md's first C block"
cp "$ITM_SRC"/modules/examples/fig13/{fig13.c,fig13.h,fig13_main.c} "$SRC/"

# Nothing of the source or build tree may be needed: compile in $SRC.  The
# prefix is not a system directory: shared programs carry an rpath.
build() {	# build OUT SOURCES... -- shared or static link
	local out=$1 kind=$2
	shift 2
	if [ "$kind" = shared ]; then
		# shellcheck disable=SC2046
		(cd "$SRC" && cc -o "$out" "$@" $(pkg-config --cflags --libs itm) \
			-Wl,-rpath,"$LIBDIR") \
			>"$ITM_TMP/cc-$out.log" 2>&1
	else
		# shellcheck disable=SC2046
		# As libitm/README.md says: the archive first, then
		# libitm's dependencies (its -litm then is not needed).
		(cd "$SRC" && cc -o "$out" "$@" $(pkg-config --cflags itm) \
			-Wl,--as-needed "$LIBDIR/libitm.a" \
			$(pkg-config --static --libs itm)) \
			>"$ITM_TMP/cc-$out.log" 2>&1
	fi || itm_fail "compiling $out ($kind) failed: $(head -c 1500 "$ITM_TMP/cc-$out.log")"
}
build tosmark-shared shared tosmark.c
build tosmark-static static tosmark.c
build fig13-shared shared fig13.c fig13_main.c
build fig13-static static fig13.c fig13_main.c
env -u LD_LIBRARY_PATH ldd "$SRC/tosmark-shared" | grep -q "libitm.so.* => $LIBDIR/" ||
	itm_fail "tosmark-shared does not load the installed libitm.so: $(ldd "$SRC/tosmark-shared")"
ldd "$SRC/tosmark-static" | grep -q libitm &&
	itm_fail "tosmark-static loads a libitm.so"
for f in "$SRC/fig13-shared" "$SRC/fig13-static" "$PREFIX/bin/fig13"; do
	"$f" --help | grep -q "Figure 13" || itm_fail "$f --help does not run"
done

itm_topo_line
itm_agent_start r r
export ITM_AGENT_SOCKET
ITM_AGENT_SOCKET=$(itm_agent_sock r)

listed() {	# true when registration $1 is in `module list`
	itm_ctl r r module list -o json | python3 -c '
import json, sys
sys.exit(not any(r["label"] == sys.argv[1]
                 for m in json.load(sys.stdin)["modules"]
                 for r in m["registrations"]))' "$1"
}
gone() { ! listed "$1"; }

# run KIND: the README's module, linked KIND, rewrites a SYN to h2:80.
run() {
	local pid rc
	itm_bg r --name "tosmark-$1" "$SRC/tosmark-$1"
	pid=$ITM_LAST_PID
	itm_wait_for 5 listed tosmark || itm_fail "tosmark-$1 did not register"
	itm_capture h2 "$ITM_H2_DEV" "tcp and src host $ITM_H1_IP and dst port 80" 1
	itm_exec h1 bash -c "exec 3<>/dev/tcp/$ITM_H2_IP/80" 2>/dev/null || true
	itm_capture_wait 10 || itm_fail "$1: no packet captured"
	itm_assert_eq "$(itm_pcap_tos "$ITM_PCAP")" 0x28 "$1: TOS at h2"
	kill -INT "$pid"
	itm_wait_for 5 itm__dead "$pid" || itm_fail "tosmark-$1 ignored SIGINT"
	wait "$pid"
	rc=$?
	itm_assert_eq "$rc" 0 "tosmark-$1 exit status after SIGINT"
	gone tosmark || itm_fail "tosmark-$1 still registered"
	itm_log "$1: registered, TOS 0x28 on the wire, unregistered on SIGINT"
}
run shared
run static

# An in-agent module built out of the tree with itm-plugin.pc alone
# (-shared -fPIC, no -litm), and the installed agent run by hand: it finds
# the prefix's own modules (qosmod) by default, and --module-dir adds a
# directory instead of replacing them.
cat >"$SRC/oot.c" <<'C'
#include <itm_plugin.h>

static int
load(struct itm_module *m, const struct itm_params *p)
{
	(void)m, (void)p;
	return 0;
}
ITM_PLUGIN(.name = "oot", .description = "built out of tree", .load = load);
C
mkdir -p "$SRC/mods"
# shellcheck disable=SC2046
cc $(pkg-config --cflags itm-plugin) "$SRC/oot.c" \
	$(pkg-config --libs itm-plugin) -o "$SRC/mods/oot.so" \
	>"$ITM_TMP/cc-oot.log" 2>&1 ||
	itm_fail "compiling oot.so with itm-plugin.pc: $(head -c 1500 "$ITM_TMP/cc-oot.log")"
nm -D "$SRC/mods/oot.so" | grep -q ' U itm_\| T itm_plugin\| D itm_plugin' ||
	itm_fail "oot.so does not export itm_plugin"
ldd "$SRC/mods/oot.so" | grep -q libitm && itm_fail "oot.so links libitm"
[ -f "$(pkg-config --variable=plugindir itm-plugin)/qosmod.so" ] ||
	itm_fail "itm-plugin.pc's plugindir has no qosmod.so"
itm_ns a
itm_bg a --name installed-agent "$PREFIX/sbin/itm-agent" --node a \
	--socket "$ITM_TMP/installed.sock" --module-dir "$SRC/mods" \
	--load qosmod --load oot
inst_ctl() { itm_exec a "$(itm_ctl_bin)" --agent "unix:$ITM_TMP/installed.sock" "$@"; }
itm_wait_for 20 inst_ctl status || itm_fail "the installed agent did not start: $(cat "$ITM_LAST_LOG")"
mods=$(inst_ctl module list) || itm_fail "module list: $mods"
itm_assert_match "$mods" "qosmod" "the installed agent's default module dir"
itm_assert_match "$mods" "oot" "a module from --module-dir"
itm_log "ok"
