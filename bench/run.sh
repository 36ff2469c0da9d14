#!/bin/bash
# run.sh: `make bench`: times a bare libpcap read, `acrdiag analyze --json` and tshark on one synthetic capture.
#
# Prints a table (wall time, packets/s, ratio to the bare read, peak RSS from
# GNU time) and the targets as PASS/MISS lines.  The same capture compressed
# with gzip and zstd (made once beside it) is analysed too and timed against
# zcat and zstdcat alone.  The last results of `make bench-live` and `make
# bench-large` (which need root, or 12 GB of disk and a minute) follow the
# table.  Informational only: exits 0 however slow the machine is.
#   BENCH_FILE     capture to use, generated when missing (default
#                  /tmp/acrdiag-bench.pcap; never commit it)
#   BENCH_PACKETS  packets to generate (default 2000000)
#   BENCH_TSHARK   packets tshark reads, its rate extrapolated (default 200000;
#                  0 reads the whole file)
#   BENCH_REPEAT   runs of each tool but tshark, the fastest counted (default 3);
#                  the tools take turns, one run of each per round, so a busy
#                  minute on a shared machine slows all of them alike
set -u
cd "$(dirname "$0")/.." || exit 0
BUILD=${BUILD:-build/rel}
FILE=${BENCH_FILE:-/tmp/acrdiag-bench.pcap}
PACKETS=${BENCH_PACKETS:-2000000}
TSHARK_MAX=${BENCH_TSHARK:-200000}
REPEAT=${BENCH_REPEAT:-3}
TIME=/usr/bin/time

if [ ! -x "$TIME" ]; then
    echo "bench: GNU time is missing (tests/deps.sh test installs it)"
    exit 0
fi
if [ ! -s "$FILE" ]; then
    echo "bench: generating $FILE ($PACKETS packets)"
    if ! "$BUILD/bench/gen" -n "$PACKETS" "$FILE.tmp" || ! mv "$FILE.tmp" "$FILE"; then
        rm -f "$FILE.tmp"
        exit 0
    fi
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/acrdiag-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Every tool reads the file from the page cache, not the disk.
cat "$FILE" >/dev/null

# measure NAME CMD...: runs CMD once under GNU time, appending to
# $tmp/NAME.time; CMD's output goes to $tmp/NAME.out, or to $MEASURE_OUT
# when set.  summarize NAME leaves the shortest wall time and the largest
# peak RSS, "wall_s rss_kb", in $tmp/NAME (other work on a shared machine
# only ever slows a run down).
measure() {
    local name=$1; shift
    "$TIME" -v -a -o "$tmp/$name.time" "$@" >"${MEASURE_OUT:-$tmp/$name.out}" 2>"$tmp/$name.err"
}
summarize() {
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]
                                    if (best == "" || s < best) best = s }
        /Maximum resident set size/ { if ($2 > rss) rss = $2 }
        END { printf "%.3f %d\n", best, rss }' "$tmp/$1.time" >"$tmp/$1"
}

# compress EXT CMD...: $FILE.EXT made by CMD (stdin to stdout) unless it is newer than $FILE.
compress() {
    local ext=$1; shift
    [ -s "$FILE.$ext" ] && [ "$FILE.$ext" -nt "$FILE" ] && return 0
    command -v "$1" >/dev/null || return 1
    echo "bench: compressing $FILE with $1"
    if "$@" <"$FILE" >"$FILE.$ext.tmp"; then
        mv "$FILE.$ext.tmp" "$FILE.$ext"
    else
        rm -f "$FILE.$ext.tmp"
        return 1
    fi
}
packed=()
compress gz gzip -c && packed+=(gz)
compress zst zstd -q -c && packed+=(zst)
declare -A unpack=([gz]=zcat [zst]=zstdcat)
for ext in "${packed[@]}"; do cat "$FILE.$ext" >/dev/null; done

echo "bench: $REPEAT rounds; load before: $(uptime | sed 's/.*load average/load average/')"
names=(readloop analyze1 analyze2)
for ext in "${packed[@]}"; do names+=("cat_$ext" "analyze1_$ext" "analyze2_$ext"); done
for _ in $(seq "$REPEAT"); do
    measure readloop "$BUILD/bench/readloop" "$FILE"
    for t in 1 2; do
        measure "analyze$t" "$BUILD/acrdiag" analyze --json --threads "$t" "$FILE"
        [ $? -ge 2 ] && { echo "bench: acrdiag analyze --threads $t failed:"; head -n 3 "$tmp/analyze$t.err"; }
    done
    for ext in "${packed[@]}"; do
        MEASURE_OUT=/dev/null measure "cat_$ext" "${unpack[$ext]}" "$FILE.$ext"
        for t in 1 2; do
            measure "analyze${t}_$ext" "$BUILD/acrdiag" analyze --json --threads "$t" "$FILE.$ext"
        done
    done
done
load_after=$(uptime | sed 's/.*load average/load average/')
for n in "${names[@]}"; do summarize "$n"; done
total=$(awk '{ print $2 }' "$tmp/readloop.out")
if [ -z "$total" ] || [ "$total" -eq 0 ]; then
    echo "bench: readloop could not read $FILE"; cat "$tmp/readloop.err"
    exit 0
fi
# The two runs must agree: the second thread changes nothing in the report.
if ! cmp -s "$tmp/analyze1.out" "$tmp/analyze2.out"; then
    echo "bench: analyze --threads 1 and --threads 2 printed different reports"
fi

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
    summarize tshark
fi

size_mb=$(du -m "$FILE" | cut -f1)
flows=$(python3 -c 'import json, sys; print(sum(e.get("flow_count", 0) for e in json.load(sys.stdin)["endpoints"]))' \
        <"$tmp/analyze1.out" 2>/dev/null || echo "?")
echo
echo "capture: $FILE, $total packets, $size_mb MB; analyze folded $flows TCP flows; $(nproc) CPUs"
echo "load after: $load_after"
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
row "acrdiag analyze --json --threads 1" analyze1 "$total"
row "acrdiag analyze --json --threads 2" analyze2 "$total"
[ "$have_tshark" = 1 ] && row "tshark -T fields$tshark_note" tshark "$tshark_pkts"
for ext in "${packed[@]}"; do
    row "${unpack[$ext]} FILE.$ext (decompression alone, $(du -m "$FILE.$ext" | cut -f1) MB)" "cat_$ext" "$total"
    row "acrdiag analyze --json --threads 1 FILE.$ext" "analyze1_$ext" "$total"
    row "acrdiag analyze --json --threads 2 FILE.$ext" "analyze2_$ext" "$total"
done
echo
# The last runs of the benchmarks that need root or a large disk.
declare -A last_result=([live]=${BENCH_LIVE_RESULT:-/tmp/acrdiag-bench-live.result}
                        [large]=${BENCH_LARGE_RESULT:-/tmp/acrdiag-bench-large.result})
for last in live large; do
    if [ -s "${last_result[$last]}" ]; then
        echo "last make bench-$last: $(cat "${last_result[$last]}")"
    else
        echo "make bench-$last: not run on this machine yet"
    fi
done
echo

pps() { read -r w _ <"$tmp/$1"; awk -v w="$w" -v p="$2" 'BEGIN { printf "%.0f", (w > 0 ? p / w : 0) }'; }
read_pps=$(pps readloop "$total")
an1_pps=$(pps analyze1 "$total")
an_pps=$(pps analyze2 "$total")
read -r _ an_rss <"$tmp/analyze2"
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo MISS; fi; }
echo "$(verdict "$an1_pps >= 0.5 * $read_pps") analyze --threads 1 >= 0.5x the bare read rate ($an1_pps vs $read_pps packets/s)"
echo "$(verdict "$an_pps >= 0.8 * $read_pps") analyze --threads 2 >= 0.8x the bare read rate ($an_pps vs $read_pps packets/s)"
if [ "$have_tshark" = 1 ]; then
    ts_pps=$(pps tshark "$tshark_pkts")
    echo "$(verdict "$an_pps >= 100 * $ts_pps") analyze --threads 2 >= 100x tshark ($an_pps vs $ts_pps packets/s)"
else
    echo "MISS analyze >= 100x tshark (tshark is not installed: tests/deps.sh test)"
fi
echo "$(verdict "$an_rss <= 128 * 1024") analyze --threads 2 peak RSS <= 128 MB ($((an_rss / 1024)) MB)"
for ext in "${packed[@]}"; do
    read -r an_wall _ <"$tmp/analyze2_$ext"
    read -r cat_wall _ <"$tmp/cat_$ext"
    # Issue 15 asks this of zcat only: zstd decompresses faster than two CPUs
    # can decompress, decode and analyse, so that line is for comparison.
    tag=$(verdict "$an_wall <= $cat_wall")
    [ "$ext" = gz ] || tag=INFO
    echo "$tag analyze --threads 2 FILE.$ext at least as fast as ${unpack[$ext]} alone ($an_wall vs $cat_wall s)"
done
exit 0
