#!/bin/bash
# live.sh: `make bench-live`: the highest replay rate at which `acrdiag watch` loses no packet.
#
# Two namespaces, acrd_bench_tx and acrd_bench_rx, joined by a veth pair
# (198.18.250.1/30 and .2; IPv6 off, so their kernels send nothing of their
# own).  tcpreplay sends a capture made by bench/gen from acrd_bench_tx while
# `acrdiag watch -i bench_rx` captures in acrd_bench_rx.  A trial passes when
# watch read every packet tcpreplay sent and the kernel dropped none
# (pcap_stats ps_drop, which watch prints when it is not 0, and the veth
# pair's tx_dropped and rx_dropped).  First --topspeed; when that loses packets, a bisection of
# --pps between 0 and the top speed.  That ladder runs with the veth's
# segmentation and receive offloads on, its default, and off, the figure
# reported; first for watch as it was before (immediate mode, 32 MiB,
# TPACKET_V2, whose frames libpcap sizes by the 64 KiB snap length with
# offloads on: 32 MiB hold about 500), through bench/pcapknobs.c, then for
# watch as it is (buffered: TPACKET_V3 blocks, 50 ms block timeout, 64 MiB
# or -B), the same binary.  The verdicts watch reached at the best rate are
# compared with `acrdiag analyze` of the same file.
#
# Needs root.  Holds the lab lock for the whole run (lab.sh cleanup deletes
# every acrd_* namespace; at most a few minutes), each trial is bounded by
# `timeout`, and the namespaces go on every exit path.  Informational:
# exits 0 whatever it measures.  Knobs:
#   BENCH_LIVE_PACKETS  packets in the replayed capture (default 500000)
#   BENCH_LIVE_STEPS    bisection steps after a lossy --topspeed (default 5)
#   BENCH_LIVE_RESULT   where the result line for `make bench` goes
#                       (default /tmp/acrdiag-bench-live.result)
#   BENCH_LIVE_BUFFER_KIB  watch -B KIB (default: none, watch's own 64 MiB)
#   BENCH_LIVE_BEFORE   0: leave out the ladders of watch as it was before
#   BENCH_LIVE_SENDER   blast (default: bench/blast.c, sendmmsg() in batches)
#                       or tcpreplay (-K, one send() a packet)
#   BENCH_LIVE_TIMEOUT_MS  another block timeout than live.c's 50 ms, through
#                       bench/pcapknobs.c (an LD_PRELOAD library)
set -u
cd "$(dirname "$0")/.." || exit 0
BUILD=${BUILD:-build/rel}
ACRDIAG=$BUILD/acrdiag
PACKETS=${BENCH_LIVE_PACKETS:-500000}
STEPS=${BENCH_LIVE_STEPS:-5}
RESULT=${BENCH_LIVE_RESULT:-/tmp/acrdiag-bench-live.result}
BUFFER_KIB=${BENCH_LIVE_BUFFER_KIB:-}
BEFORE=${BENCH_LIVE_BEFORE:-1}
SENDER=${BENCH_LIVE_SENDER:-blast}
TIMEOUT_MS=${BENCH_LIVE_TIMEOUT_MS:-}
TX=acrd_bench_tx
RX=acrd_bench_rx

if [ "$(id -u)" != 0 ]; then
    echo "bench-live: needs root (network namespaces, packet capture)"
    exit 0
fi
if ! command -v tcpreplay >/dev/null || ! command -v ethtool >/dev/null; then
    tests/deps.sh bench || { echo "bench-live: cannot install tcpreplay (tests/deps.sh bench)"; exit 0; }
fi
lib=$(realpath "$BUILD/bench/pcapknobs.so" 2>/dev/null)
[ -f "$lib" ] || { echo "bench-live: $BUILD/bench/pcapknobs.so is missing (make bench-live builds it)"; exit 0; }
# knobs: what runs watch in a trial, wopts: its -B (both set per ladder).
knobs=() wopts=()
now_knobs=() before_knobs=(env LD_PRELOAD="$lib" PCAPKNOBS_IMMEDIATE=1)
[ -n "$TIMEOUT_MS" ] && now_knobs=(env LD_PRELOAD="$lib" PCAPKNOBS_TIMEOUT_MS="$TIMEOUT_MS")
pcap_desc="watch as built: buffered (TPACKET_V3), ${TIMEOUT_MS:-50} ms block timeout, ${BUFFER_KIB:-65536} KiB buffer${BUFFER_KIB:+ (-B $BUFFER_KIB)}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/acrdiag-bench-live.XXXXXX")
watch_pid=""
made_ns=0
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    [ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null && wait "$watch_pid" 2>/dev/null
    if [ "$made_ns" = 1 ]; then
        ip netns del "$TX" 2>/dev/null
        ip netns del "$RX" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

FILE=$tmp/replay.pcap
echo "bench-live: generating $PACKETS packets with bench/gen"
"$BUILD/bench/gen" -n "$PACKETS" "$FILE" 2>"$tmp/gen.err" || { echo "bench-live: bench/gen failed"; exit 0; }
"$ACRDIAG" analyze --json "$FILE" >"$tmp/analyze.json" 2>/dev/null

if [ -z "${LAB_LOCK_HELD:-}" ]; then
    mkdir -p tests/lab/run
    exec 9>>tests/lab/run/lab.lock
    flock -w 900 9 || { echo "bench-live: the lab is busy (tests/lab/run/lab.lock)"; exit 0; }
fi
# Leftovers of a run that was killed outright (the lock is ours now).
made_ns=1
ip netns del "$TX" 2>/dev/null
ip netns del "$RX" 2>/dev/null
setup() {
    ip netns add "$TX" && ip netns add "$RX" &&
        ip netns exec "$TX" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 &&
        ip netns exec "$RX" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 &&
        ip link add bench_tx netns "$TX" type veth peer name bench_rx netns "$RX" &&
        ip -n "$TX" addr add 198.18.250.1/30 dev bench_tx &&
        ip -n "$RX" addr add 198.18.250.2/30 dev bench_rx &&
        ip -n "$TX" link set bench_tx up &&
        ip -n "$RX" link set bench_rx up
}
if ! setup; then
    echo "bench-live: cannot set up the namespaces and their veth pair"
    exit 0
fi

# offloads on|off: the veth's segmentation and receive offloads, both ends.
offloads() {
    ip netns exec "$TX" ethtool -K bench_tx tso "$1" gso "$1" gro "$1" >/dev/null 2>&1
    ip netns exec "$RX" ethtool -K bench_rx tso "$1" gso "$1" gro "$1" >/dev/null 2>&1
}

# veth_drops: packets the veth pair dropped so far: a full receive backlog
# counts on the sender's tx_dropped, the receiver's own on its rx_dropped.
veth_drops() {
    echo $(($(ip netns exec "$TX" cat /sys/class/net/bench_tx/statistics/tx_dropped) +
            $(ip netns exec "$RX" cat /sys/class/net/bench_rx/statistics/rx_dropped)))
}

# trial NAME TCPREPLAY-RATE-ARGS...: one replay of $FILE under watch; leaves
# "offered_pps sent read drops if_drops" in $tmp/NAME and watch's report in
# $tmp/NAME.json; returns 0 when nothing was lost.
trial() {
    local name=$1; shift
    local if_before if_after
    if_before=$(veth_drops)
    # timeout leads a process group: a TERM to it reaches watch too.
    timeout 120 ip netns exec "$RX" /usr/bin/time -f "%U %S" -o "$tmp/$name.cpu" \
        "${knobs[@]}" "$ACRDIAG" watch -i bench_rx "${wopts[@]}" --until-idle 2 --duration 90 --json \
        >"$tmp/$name.json" 2>"$tmp/$name.err" &
    watch_pid=$!
    # The capture is open once the namespace lists a packet socket.
    for _ in $(seq 50); do
        [ "$(ip netns exec "$RX" cat /proc/net/packet | wc -l)" -gt 1 ] && break
        sleep 0.1
    done
    if [ "$SENDER" = blast ]; then
        local rate=()
        [ "$1" != --topspeed ] && rate=(-p "${1#--pps=}")
        ip netns exec "$TX" timeout 120 "$BUILD/bench/blast" -i bench_tx "${rate[@]}" "$FILE" >"$tmp/$name.replay" 2>&1
    else
        ip netns exec "$TX" timeout 120 tcpreplay -i bench_tx -K "$@" "$FILE" >"$tmp/$name.replay" 2>&1
    fi
    wait "$watch_pid"
    watch_pid=""
    if_after=$(veth_drops)
    local offered sent read drops
    offered=$(awk '/^Rated:/ { for (i = 1; i <= NF; i++) if ($i == "pps") print int($(i - 1)) }' "$tmp/$name.replay")
    sent=$(awk '/Successful packets:/ { print $3 }' "$tmp/$name.replay")
    read=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["capture"]["packets"])' <"$tmp/$name.json" 2>/dev/null)
    drops=$(sed -n 's/^acrdiag: the kernel dropped \([0-9]*\) packets.*/\1/p' "$tmp/$name.err")
    echo "${offered:-0} ${sent:-0} ${read:-0} ${drops:-0} $((if_after - if_before))" >"$tmp/$name"
    [ -n "$sent" ] && [ "$sent" -gt 0 ] && [ "$sent" = "$read" ] && [ "${drops:-0}" = 0 ] && [ "$if_after" = "$if_before" ]
}

rows=()
# row NAME LABEL: a table line from trial NAME's figures.
row() {
    local offered sent read drops ifd u s cpu_us
    read -r offered sent read drops ifd <"$tmp/$1"
    # GNU time puts "Command exited with non-zero status" first: watch's 1 is a fault found.
    read -r u s < <(tail -n 1 "$tmp/$1.cpu" 2>/dev/null)
    cpu_us=$(awk -v u="${u:-0}" -v s="${s:-0}" -v n="$read" 'BEGIN { printf "%.2f", (n > 0 ? (u + s) * 1e6 / n : 0) }')
    local ok=lost
    [ "$sent" -gt 0 ] && [ "$sent" = "$read" ] && [ "$drops" = 0 ] && [ "$ifd" = 0 ] && ok="none lost"
    rows+=("$(printf '| %-52s | %10s | %8s | %8s | %12s | %9s | %12s | %-9s |' \
        "$2" "$offered" "$sent" "$read" "$drops" "$ifd" "$cpu_us" "$ok")")
}

# ladder TAG LABEL: --topspeed, then when that lost packets a bisection of
# --pps below it; sets best (the highest offered rate that lost nothing, 0
# when none), best_name (its trial) and top_pps.
ladder() {
    local tag=$1 label=$2 lo hi mid step
    best=0 best_name=""
    echo "bench-live: $label --topspeed"
    if trial "${tag}top" --topspeed; then
        best=$(cut -d' ' -f1 "$tmp/${tag}top") best_name=${tag}top
    fi
    row "${tag}top" "$label --topspeed"
    top_pps=$(cut -d' ' -f1 "$tmp/${tag}top")
    [ "$best" = 0 ] && [ "$top_pps" -gt 0 ] || return 0
    lo=0 hi=$top_pps
    for step in $(seq "$STEPS"); do
        mid=$(((lo + hi) / 2))
        echo "bench-live: $label --pps $mid"
        if trial "${tag}pps$step" --pps="$mid" --pps-multi=16; then
            lo=$mid
            best=$(cut -d' ' -f1 "$tmp/${tag}pps$step") best_name=${tag}pps$step
        else
            hi=$mid
        fi
        row "${tag}pps$step" "$label --pps $mid"
    done
}

# Watch as it was (immediate mode, 32 MiB) first, then as it is; each
# with the veth default (TSO/GSO/GRO on, like most NICs' GRO) and
# offloads off, the figure reported.  The last ladder's best is the result.
before_on=0 before_off=0
if [ "$BEFORE" != 0 ]; then
    knobs=("${before_knobs[@]}") wopts=(-B 32768)
    offloads on
    ladder bon "before (immediate, 32 MiB), offloads on,"
    before_on=$best
    offloads off
    ladder boff "before (immediate, 32 MiB), offloads off,"
    before_off=$best
fi
knobs=("${now_knobs[@]}") wopts=()
[ -n "$BUFFER_KIB" ] && wopts=(-B "$BUFFER_KIB")
offloads on
ladder on "offloads on,"
on_best=$best on_top=$top_pps
offloads off
ladder off "offloads off,"
echo
echo "replayed: $(sed -n 's/^gen: [^:]*: //p' "$tmp/gen.err") made by bench/gen (the make bench mix), veth pair between two namespaces; $(nproc) CPUs"
echo "watch: $pcap_desc"
echo
printf '| %-52s | %10s | %8s | %8s | %12s | %9s | %12s | %-9s |\n' \
    "trial" "offered/s" "sent" "read" "kernel drops" "veth drop" "watch CPU us" "packets"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..54})" "------------" "----------" \
    "----------" "--------------" "-----------" "--------------" "-----------"
printf '%s\n' "${rows[@]}"
echo
# Endpoint verdicts of the report of trial NAME, in a stable order.
verdicts() {
    python3 -c 'import json, sys
d = json.load(sys.stdin)
print(d["verdict"], *sorted("%s:%s=%s" % (e.get("ip"), e.get("port"), e["verdict"]) for e in d["endpoints"]))' 2>/dev/null
}
summary() {
    python3 -c 'import collections, json, sys
d = json.load(sys.stdin)
c = collections.Counter(e["verdict"] for e in d["endpoints"])
print("%s (endpoints: %s)" % (d["verdict"], ", ".join("%d %s" % (n, v) for v, n in c.most_common())))' 2>/dev/null
}
if [ -n "$best_name" ]; then
    cpu=$(tail -n 1 "$tmp/$best_name.cpu" |
          awk -v n="$(cut -d' ' -f3 "$tmp/$best_name")" '{ printf "%.0f", (n > 0 && $1 + $2 > 0 ? n / ($1 + $2) : 0) }')
    same="differ from"
    [ "$(verdicts <"$tmp/$best_name.json")" = "$(verdicts <"$tmp/analyze.json")" ] && same="are those of"
    echo "drop-free: $best packets/s (every packet read, 0 kernel drops); watch's verdicts $same analyze of the file"
    echo "  watch:   $(summary <"$tmp/$best_name.json")"
    echo "  analyze: $(summary <"$tmp/analyze.json")"
    [ "$best_name" = offtop ] && echo "  the sender's top speed is the limit, not watch"
    echo "  watch's CPU time per packet bounds it at about $cpu packets/s on one core"
    echo "  with the veth's offloads on: drop-free up to $on_best packets/s (top speed $on_top)"
    [ "$BEFORE" != 0 ] &&
        echo "  before (immediate mode, 32 MiB): drop-free up to $before_off packets/s, offloads on $before_on"
    before=""
    [ "$BEFORE" != 0 ] && before="; before (immediate, 32 MiB): $before_off, offloads on $before_on"
    echo "live $best packets/s drop-free (make bench-live, $(date -u +%Y-%m-%d), top speed $top_pps; offloads on: $on_best$before)" >"$RESULT"
else
    echo "drop-free: none of the trials (every rate lost packets)"
    echo "live: every trial lost packets (make bench-live, $(date -u +%Y-%m-%d))" >"$RESULT"
fi
awk -v t="$best" 'BEGIN { printf "%s watch reads >= 1000000 packets/s with 0 drops (%d)\n", (t >= 1000000 ? "PASS" : "MISS"), t }'
exit 0
