#!/bin/bash
# run.sh: resource-bound tests: acrdiag analyses hostile-sized captures in
# bounded memory.  Each capture is streamed from gen_capture.py through a
# FIFO (nothing large touches the disk) into `acrdiag analyze --json` run
# under /usr/bin/time -v; peak RSS must stay within BOUNDS_RSS_MB.  Times are
# printed, never checked.  Prints a closing "N passed, N failed" line.
#   ACRDIAG=path           binary to test (default build/rel/acrdiag)
#   BOUNDS_FLOWS=N         SYN-only flows in the first capture (1000000)
#   BOUNDS_TLS_BYTES=N     application bytes of the TLS flow (1000000000;
#                          the whole script takes ~15 s, the generator most)
#   BOUNDS_RSS_MB=N        peak RSS allowed (256)
set -u
cd "$(dirname "$0")/../.."
acrdiag=${ACRDIAG:-build/rel/acrdiag}
flows=${BOUNDS_FLOWS:-1000000}
tls_bytes=${BOUNDS_TLS_BYTES:-1000000000}
rss_mb=${BOUNDS_RSS_MB:-256}
passed=0 failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/acrdiag-bounds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }

# analyse NAME KIND N: streams the capture into acrdiag; leaves the report in
# $tmp/NAME.json, the time -v output in $tmp/NAME.time, the status in $status.
analyse() {
    local name=$1 kind=$2 n=$3
    local fifo="$tmp/$name.pcap"
    mkfifo "$fifo"
    python3 tests/bounds/gen_capture.py "$kind" "$n" "$fifo" &
    local gen=$!
    /usr/bin/time -v -o "$tmp/$name.time" "$acrdiag" analyze --json "$fifo" \
        >"$tmp/$name.json" 2>"$tmp/$name.err"
    status=$?
    wait "$gen" || echo "  generator for $name failed"
    local rss cpu_u cpu_s wall
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/$name.time")
    cpu_u=$(awk -F': ' '/User time/ {print $2}' "$tmp/$name.time")
    cpu_s=$(awk -F': ' '/System time/ {print $2}' "$tmp/$name.time")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/$name.time")
    echo "  $name: exit $status, peak RSS $((rss / 1024)) MB, CPU ${cpu_u}s user ${cpu_s}s sys, wall $wall"
    peak_kb=$rss
}

# check_rss NAME: the peak stayed within the bound.
check_rss() {
    if [ "$peak_kb" -le $((rss_mb * 1024)) ]; then
        ok "$1: peak RSS $((peak_kb / 1024)) MB <= $rss_mb MB"
    else
        fail "$1: peak RSS $((peak_kb / 1024)) MB > $rss_mb MB"
    fi
}

# json_check NAME PYTHON-EXPR: EXPR over the report `r` must be true.
json_check() {
    if python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" \
        "$tmp/$1.json" 2>/dev/null; then
        ok "$1: $2"
    else
        fail "$1: $2"
    fi
}

echo "$flows SYN-only flows to port 443"
analyse syn-flows syn-flows "$flows"
if [ "$status" -le 3 ]; then ok "syn-flows: exit $status (a verdict)"; else fail "syn-flows: exit $status"; head -n 5 "$tmp/syn-flows.err"; fi
check_rss syn-flows
json_check syn-flows "sum(e['flow_count'] for e in r['endpoints']) == $flows"
if [ "$flows" -gt 65536 ]; then
    json_check syn-flows "'flow_table_full' in r['findings']"
fi

echo "one TLS flow carrying $tls_bytes bytes of application data"
analyse tls-bytes tls-bytes "$tls_bytes"
if [ "$status" -eq 0 ]; then ok "tls-bytes: exit 0"; else fail "tls-bytes: exit $status"; head -n 5 "$tmp/tls-bytes.err"; fi
check_rss tls-bytes
json_check tls-bytes "r['verdict'] == 'ok' and 'flow_table_full' not in r['findings']"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
