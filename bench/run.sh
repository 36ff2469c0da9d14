#!/bin/bash
# run.sh: `make bench`: times a bare libpcap read, `acrdiag analyze --json` and tshark on one synthetic capture.
#
# Prints a table (wall time, packets/s, ratio to the bare read, peak RSS from
# GNU time) and the issue's three targets as PASS/MISS lines.  Informational
# only: exits 0 however slow the machine is.
#   BENCH_FILE     capture to use, generated when missing (default
#                  /tmp/acrdiag-bench.pcap; never commit it)
#   BENCH_PACKETS  packets to generate (default 2000000)
#   BENCH_TSHARK   packets tshark reads, its rate extrapolated (default 200000;
#                  0 reads the whole file)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/rel}
FILE=${BENCH_FILE:-/tmp/acrdiag-bench.pcap}
PACKETS=${BENCH_PACKETS:-2000000}
TSHARK_MAX=${BENCH_TSHARK:-200000}
TIME=/usr/bin/time

if [ ! -x "$TIME" ]; then
    echo "bench: GNU time is missing (tests/deps.sh test installs it)"
    exit 0
fi
if [ ! -s "$FILE" ]; then
    echo "bench: generating $FILE ($PACKETS packets)"
    "$BUILD/bench/gen" -n "$PACKETS" "$FILE.tmp" && mv "$FILE.tmp" "$FILE" || { rm -f "$FILE.tmp"; exit 0; }
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/acrdiag-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Every tool reads the file from the page cache, not the disk.
cat "$FILE" >/dev/null

# measure NAME CMD...: runs CMD under GNU time; leaves "wall_s rss_kb" in $tmp/NAME.
measure() {
    local name=$1; shift
    "$TIME" -v -o "$tmp/$name.time" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    local rc=$?
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
        /Maximum resident set size/ { rss = $2 }
        END { printf "%.3f %d\n", s, rss }' "$tmp/$name.time" >"$tmp/$name"
    return $rc
}

measure readloop "$BUILD/bench/readloop" "$FILE"
total=$(awk '{ print $2 }' "$tmp/readloop.out")
if [ -z "$total" ] || [ "$total" -eq 0 ]; then
    echo "bench: readloop could not read $FILE"; cat "$tmp/readloop.err"
    exit 0
fi
measure analyze "$BUILD/acrdiag" analyze --json "$FILE"
[ $? -ge 2 ] && { echo "bench: acrdiag analyze failed:"; head -n 3 "$tmp/analyze.err"; }

tshark_pkts=$total
tshark_note=""
tshark_args=()
if [ "$TSHARK_MAX" -gt 0 ] && [ "$total" -gt "$TSHARK_MAX" ]; then
    tshark_pkts=$TSHARK_MAX
    tshark_args=(-c "$TSHARK_MAX")
    tshark_note=" (first $TSHARK_MAX packets, rate extrapolated)"
fi
have_tshark=0
if command -v tshark >/dev/null; then
    have_tshark=1
    measure tshark tshark -r "$FILE" "${tshark_args[@]}" -T fields -e tcp.stream -e tcp.flags \
        -e ip.ttl -e tls.handshake.extensions_server_name -e tls.alert_message.desc
fi

size_mb=$(du -m "$FILE" | cut -f1)
flows=$(python3 -c 'import json, sys; print(sum(e.get("flow_count", 0) for e in json.load(sys.stdin)["endpoints"]))' \
        <"$tmp/analyze.out" 2>/dev/null || echo "?")
echo
echo "capture: $FILE, $total packets, $size_mb MB; analyze folded $flows TCP flows; $(nproc) CPUs"
echo
printf '| %-58s | %7s | %10s | %19s | %11s |\n' "tool" "wall s" "packets/s" "ratio to read limit" "peak RSS MB"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..60})" "---------" "------------" "---------------------" "-------------"
row() {     # row LABEL NAME PACKETS
    read -r wall rss <"$tmp/$2"
    read -r rwall _ <"$tmp/readloop"
    awk -v l="$1" -v w="$wall" -v r="$rss" -v p="$3" -v rw="$rwall" -v t="$total" 'BEGIN {
        pps = w > 0 ? p / w : 0; lim = rw > 0 ? t / rw : 0
        printf "| %-58s | %7.2f | %10.0f | %19.2f | %11.1f |\n", l, w, pps, (lim > 0 ? pps / lim : 0), r / 1024 }'
}
row "readloop (pcap_next_ex, read limit)" readloop "$total"
row "acrdiag analyze --json" analyze "$total"
[ "$have_tshark" = 1 ] && row "tshark -T fields$tshark_note" tshark "$tshark_pkts"
echo

pps() { read -r w _ <"$tmp/$1"; awk -v w="$w" -v p="$2" 'BEGIN { printf "%.0f", (w > 0 ? p / w : 0) }'; }
read_pps=$(pps readloop "$total")
an_pps=$(pps analyze "$total")
read -r _ an_rss <"$tmp/analyze"
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo MISS; fi; }
echo "$(verdict "$an_pps >= 0.5 * $read_pps") analyze >= 0.5x the bare read rate ($an_pps vs $read_pps packets/s)"
if [ "$have_tshark" = 1 ]; then
    ts_pps=$(pps tshark "$tshark_pkts")
    echo "$(verdict "$an_pps >= 20 * $ts_pps") analyze >= 20x tshark ($an_pps vs $ts_pps packets/s)"
else
    echo "MISS analyze >= 20x tshark (tshark is not installed: tests/deps.sh test)"
fi
echo "$(verdict "$an_rss <= 128 * 1024") analyze peak RSS <= 128 MB ($((an_rss / 1024)) MB)"
exit 0
