#!/bin/bash
# large.sh: `make bench-large`: `acrdiag analyze` on a 10 GB synthetic capture: peak RSS and the progress line.
#
# bench/gen writes the capture (never commit it; it is deleted on every exit
# path), then analyze reads it with standard error on a pseudo-terminal (the
# progress line shows only there) under GNU time; then the same packets
# again straight from gen through a pipe.  Both are one pass (the evidence
# carries its packets' times).  The target is a peak RSS of 128 MB at most.
# Checks the free space first and makes a smaller file, saying so, when
# there is not room for the file and 2 GB more.  Informational: exits 0.
#   BENCH_LARGE_GB      size of the capture in GB (default 10)
#   BENCH_LARGE_FILE    where it goes (default /tmp/acrdiag-large.pcap)
#   BENCH_LARGE_RESULT  where the result line for `make bench` goes
#                       (default /tmp/acrdiag-bench-large.result)
set -u
cd "$(dirname "$0")/.." || exit 0
BUILD=${BUILD:-build/rel}
ACRDIAG=$BUILD/acrdiag
GB=${BENCH_LARGE_GB:-10}
FILE=${BENCH_LARGE_FILE:-/tmp/acrdiag-large.pcap}
RESULT=${BENCH_LARGE_RESULT:-/tmp/acrdiag-bench-large.result}
TIME=/usr/bin/time
# bench/gen's mix averages 344 bytes a packet (pcap record header included).
BYTES_PER_PACKET=344

for tool in "$TIME" script; do
    command -v "$tool" >/dev/null || { echo "bench-large: $tool is missing (tests/deps.sh bench)"; exit 0; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/acrdiag-bench-large.XXXXXX")
made_file=0
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    [ "$made_file" = 1 ] && rm -f "$FILE"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

[ -e "$FILE" ] && { echo "bench-large: $FILE exists; remove it or set BENCH_LARGE_FILE"; exit 0; }
avail_gb=$(df -Pk "$(dirname "$FILE")" | awk 'NR == 2 { printf "%d", $4 / 1e6 * 1024 / 1000 }')
note=""
if [ "$avail_gb" -lt $((GB + 2)) ]; then
    note=" (asked for $GB GB; $avail_gb GB free)"
    GB=$((avail_gb - 2))
    [ "$GB" -lt 1 ] && { echo "bench-large: $avail_gb GB free in $(dirname "$FILE"): too little"; exit 0; }
fi
packets=$((GB * 1000000000 / BYTES_PER_PACKET))

echo "bench-large: writing $FILE ($GB GB$note, $packets packets)"
made_file=1
gen_start=$(date +%s.%N)
"$BUILD/bench/gen" -n "$packets" "$FILE" 2>"$tmp/gen.err" || { echo "bench-large: bench/gen failed"; exit 0; }
gen_end=$(date +%s.%N)
size=$(stat -c %s "$FILE")

# measure NAME SHELL-COMMAND: runs it under GNU time inside a pseudo-terminal
# (its stdout to $tmp/NAME.out, the terminal's bytes to $tmp/NAME.tty);
# leaves "wall_s rss_kb" in $tmp/NAME.
measure() {
    script -qec "$TIME -v -o $tmp/$1.time $2 >$tmp/$1.out" "$tmp/$1.tty" >/dev/null </dev/null
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
        /Maximum resident set size/ { rss = $2 }
        END { printf "%.3f %d\n", s, rss }' "$tmp/$1.time" >"$tmp/$1"
}
echo "bench-large: acrdiag analyze --json $FILE"
measure file "$ACRDIAG analyze --json $FILE"
rm -f "$FILE"
made_file=0
echo "bench-large: bench/gen | acrdiag analyze --json -"
measure pipe "sh -c '$BUILD/bench/gen -n $packets /dev/stdout 2>/dev/null | $ACRDIAG analyze --json -'"

verdict() {
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["verdict"], d["capture"]["packets"])' \
        <"$tmp/$1.out" 2>/dev/null || echo "? ?"
}
# progress NAME: how often the progress line was drawn, and its last state.
progress() {
    local lines
    lines=$(tr '\r' '\n' <"$tmp/$1.tty" | sed 's/\x1b\[K//g' | grep '^acrdiag: reading')
    echo "$(printf '%s\n' "$lines" | grep -c .) times, last: \"$(printf '%s\n' "$lines" | tail -n 1)\""
}
echo
awk -v s="$size" -v g0="$gen_start" -v g1="$gen_end" -v n="$packets" 'BEGIN {
    printf "capture: %.2f GB, about %d packets, written by bench/gen in %.1f s\n", s / 1e9, n, g1 - g0 }'
echo
printf '| %-44s | %7s | %10s | %11s | %-26s |\n' "run" "wall s" "packets/s" "peak RSS MB" "verdict, packets"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "---------" "------------" "-------------" "----------------------------"
for run in file pipe; do
    read -r wall rss <"$tmp/$run"
    read -r v pk < <(verdict "$run")
    label="analyze FILE"
    [ "$run" = pipe ] && label="gen | analyze -"
    awk -v l="$label" -v w="$wall" -v r="$rss" -v p="$pk" -v v="$v" 'BEGIN {
        printf "| %-44s | %7.1f | %10.0f | %11.1f | %-26s |\n", l, w, (w > 0 ? p / w : 0), r / 1024, v ", " p }'
done
echo
echo "progress line (file): $(progress file)"
read -r _ rss_file <"$tmp/file"
read -r _ rss_pipe <"$tmp/pipe"
peak=$((rss_file > rss_pipe ? rss_file : rss_pipe))
status=MISS
[ "$peak" -gt 0 ] && [ "$peak" -le $((128 * 1024)) ] && status=PASS
echo "$status analyze of $(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e9 }') GB in peak RSS <= 128 MB ($((peak / 1024)) MB)"
read -r wall _ <"$tmp/file"
read -r _ pk < <(verdict file)
awk -v s="$size" -v w="$wall" -v p="$pk" -v r="$peak" -v d="$(date -u +%Y-%m-%d)" 'BEGIN {
    printf "large %.1f GB: %.0f packets/s, peak RSS %.0f MB (make bench-large, %s)\n", s / 1e9, (w > 0 ? p / w : 0), r / 1024, d }' >"$RESULT"
exit 0
