#!/bin/bash
# run.sh - the whole test suite from a clean clone, as CI runs it
# (.ci/run calls exactly this): install missing Debian packages, configure
# a sanitizer build (ASan + UBSan), build, then ctest: unit tests first,
# then the namespace integration tests, then the rest (fuzz corpus
# replays); print a summary and exit non-zero on any failure.
#
#   tests/run.sh                  (as root; ITM_BUILD_DIR=dir, default ./build-ci)
#
# ITM_JOBS (default 2) build jobs; ITM_TEST_BUDGET (seconds, default 4800)
# bounds the whole run, well under CI's 90 minutes.
set -u
cd "$(dirname "$0")/.." || exit 1
SRC=$PWD
BUILD=${ITM_BUILD_DIR:-$SRC/build-ci}
JOBS=${ITM_JOBS:-2}
BUDGET=${ITM_TEST_BUDGET:-4800}
T0=$(date +%s)
PASSED=0 FAILED=0 STATUS=0
declare -a SUMMARY=()

step() { printf '\n==== %s (%ss)\n' "$*" $(($(date +%s) - T0)); }

die() {
	echo "tests/run.sh: $*" >&2
	echo "tests: $PASSED passed, $((FAILED + 1)) failed"
	exit 1
}

remaining() { echo $((BUDGET - ($(date +%s) - T0))); }

configure_and_build() {
	step "dependencies"
	deploy/install-deps.sh || die "deploy/install-deps.sh failed"
	step "configure $BUILD (ITM_SANITIZE=ON)"
	cmake -S "$SRC" -B "$BUILD" -DITM_SANITIZE=ON -DITM_TESTS=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo || die "cmake configure failed"
	step "build (-j$JOBS)"
	cmake --build "$BUILD" -j "$JOBS" || die "build failed"
}

# Namespaces of earlier test runs whose owner process is gone (a test
# killed by a timeout cannot clean up).  Only in CI, which has the machine
# to itself: elsewhere another user's tests may be running.
reap_stale_namespaces() {
	local ns pid
	[ "${CI:-}" = true ] || return 0
	for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' |
		    grep -E '^itm-[a-z0-9]+-[0-9]+-'); do
		pid=$(echo "$ns" | cut -d- -f3)
		kill -0 "$pid" 2>/dev/null && continue
		echo "removing stale namespace $ns"
		# shellcheck disable=SC2046
		kill -KILL $(ip netns pids "$ns") 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
}

# run_ctest NAME CTEST-ARGS...: one ctest pass within the time left.
run_ctest() {
	local name=$1 log left p f n
	shift
	left=$(remaining)
	[ "$left" -gt 60 ] || { SUMMARY+=("$name: not run, time budget spent"); STATUS=1; return; }
	step "ctest: $name"
	log="$BUILD/ctest-$name.log"
	timeout --signal=TERM --kill-after=30 "$left" \
		ctest --test-dir "$BUILD" --output-on-failure --no-tests=ignore \
		"$@" 2>&1 | tee "$log"
	case ${PIPESTATUS[0]} in
	0) ;;
	124|137) SUMMARY+=("$name: stopped: time budget spent"); STATUS=1 ;;
	*) STATUS=1 ;;
	esac
	if n=$(grep -Eo '[0-9]+ tests failed out of [0-9]+' "$log" | tail -1) &&
	   [ -n "$n" ]; then
		f=${n%% *}; n=${n##* }; p=$((n - f))
		PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
		SUMMARY+=("$name: $p passed, $f failed")
	else
		SUMMARY+=("$name: no tests")
	fi
}

main() {
	[ "$(id -u)" -eq 0 ] ||
		echo "tests/run.sh: not root: the integration tests will be skipped" >&2
	configure_and_build
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	reap_stale_namespaces
	run_ctest unit -L '^unit$' -j "$JOBS"
	run_ctest integ -L '^integ$'
	run_ctest other -LE '^(unit|integ)$' -j "$JOBS"
	step "summary"
	printf '  %s\n' "${SUMMARY[@]}"
	echo "  time: $(($(date +%s) - T0)) s"
	[ "$FAILED" -eq 0 ] || STATUS=1
	[ "$STATUS" -eq 0 ] && echo "  result: PASS" || echo "  result: FAIL"
	echo "tests: $PASSED passed, $FAILED failed"
	exit "$STATUS"
}

main "$@"
