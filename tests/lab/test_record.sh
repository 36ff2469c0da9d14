#!/bin/bash
# test_record.sh: records every lab scenario afresh (the lab must still make
# each fault), then checks the new captures twice: selfcheck.sh asserts the
# fault is on the wire, check_captures.py that analyze reaches each label.
# Needs root; record-all.sh tears the lab down on every exit path.
set -u
cd "$(dirname "$0")/../.."
out=$(mktemp -d /tmp/acrdiag-record.XXXXXX)
trap 'rm -rf "$out"' EXIT
if ! tests/lab/record-all.sh --out "$out" >"$out/record.log" 2>&1; then
    echo "FAIL record-all.sh: $(tail -n 5 "$out/record.log")"
fi
n=$(ls "$out"/*.pcap* 2>/dev/null | wc -l)
echo "recorded $n captures"
tests/lab/selfcheck.sh "$out" >"$out/selfcheck.log"
python3 tests/check_captures.py "$out" >"$out/analyze.log"
grep -hv '^ok' "$out/selfcheck.log" "$out/analyze.log"
# One closing line for both checks.
s=$(tail -n 1 "$out/selfcheck.log")
c=$(tail -n 1 "$out/analyze.log")
p=$(( ${s%% passed*} + ${c%% passed*} ))
f1=${s#*, }; f2=${c#*, }
f=$(( ${f1%% failed*} + ${f2%% failed*} ))
[ "$n" -ge 40 ] || { echo "FAIL only $n captures recorded"; f=$((f + 1)); }
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
