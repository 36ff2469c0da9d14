#!/bin/bash
# run.sh: every test suite of acrdiag, one after the other; prints each
# suite's result and a closing "N passed, N failed" line.  Called by
# `make check` with BUILD set to the build directory to test.
#   LAB=0 skips the suites that need root and network namespaces.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/rel}
export ACRDIAG="$PWD/$BUILD/acrdiag"
# Sanitizer reports must not hide behind the verdict exit codes 1-3.
export ASAN_OPTIONS="exitcode=99:abort_on_error=0:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:exitcode=99:print_stacktrace=1"
passed=0 failed=0
log=$(mktemp -d "${TMPDIR:-/tmp}/acrdiag-tests.XXXXXX")
trap 'rm -rf "$log"' EXIT

# suite NAME CMD...: runs CMD, takes its closing "N passed, N failed" line.
suite() {
    local name=$1; shift
    local out="$log/$name.out"
    "$@" >"$out" 2>&1
    local rc=$?
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    local p=0 f=0
    if [ -n "$line" ]; then
        p=${line%% passed*}
        f=${line#*, }; f=${f%% failed*}
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -ne 0 ]; then
        echo "FAIL $name: $p passed, $f failed (exit $rc)"
        grep -E '^(FAIL|  )|runtime error|AddressSanitizer|LeakSanitizer' "$out" | head -n 40 | sed 's/^/    /'
    else
        echo "ok   $name: $p passed"
    fi
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] && suite "unit-$(basename "$t")" "$t"
done
for r in "$BUILD"/fuzz/*-replay; do
    [ -x "$r" ] && suite "fuzz-replay-$(basename "$r" -replay)" tests/fuzz/replay.sh "$r"
done
# Guards: every header compiles alone; no file over 600 lines (check_lines.sh).
suite headers make -s --no-print-directory headers
suite lines tests/check_lines.sh
suite captures python3 tests/check_captures.py
suite corpus python3 tests/check_corpus.py
suite cli python3 tests/check_cli.py
suite frames python3 tests/check_frames.py
suite package tests/check_package.sh
suite accuracy python3 tests/accuracy.py
suite lab-selfcheck tests/lab/selfcheck.sh pcaps
# Memory bounds are the release build's: sanitizers multiply memory use.
if [ "$BUILD" = build/rel ]; then
    suite bounds tests/bounds/run.sh
fi
if [ "${LAB:-1}" != 0 ] && [ "$(id -u)" = 0 ]; then
    # One lab per machine for the whole phase: lab.sh locks only up/down, and a
    # second user's `up` between them would tear this run's namespaces down.
    if [ -z "${LAB_LOCK_HELD:-}" ]; then
        mkdir -p tests/lab/run
        exec 9>>tests/lab/run/lab.lock
        flock -w 1800 9 || echo "lab: tests/lab/run/lab.lock stayed busy for 30 min; running anyway" >&2
        export LAB_LOCK_HELD=1
    fi
    for t in tests/lab/test_*.sh; do
        [ -x "$t" ] && suite "lab-$(basename "$t" .sh)" "$t"
    done
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
