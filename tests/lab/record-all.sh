#!/bin/bash
# record-all.sh [--out DIR] [SCENARIO...]: record every lab scenario with each client that
# makes sense into DIR/<scenario>.<client>[.<variant>].pcap (default DIR: pcaps/ of the repo).
# tcpdump runs in acrd_client on its uplink eth0; scenarios run one after the other, with
# the lab torn down between them.  Client output goes to tests/lab/run/record-logs/.
set -u
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$LAB_DIR/../.." && pwd)
LAB=$LAB_DIR/lab.sh
RUN=$LAB_DIR/run
OUT=$REPO/pcaps
only=()
while [ $# -gt 0 ]; do
    case $1 in
        --out) OUT=$2; shift 2 ;;
        -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) only+=("$1"); shift ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "record-all: must run as root" >&2; exit 1; }
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
LOGS=$RUN/record-logs
mkdir -p "$RUN"
exec 9>>"$RUN/lab.lock"
flock -w 900 9 || { echo "record-all: the lab is busy ($RUN/lab.lock)" >&2; exit 1; }
export LAB_LOCK_HELD=1

TCPDUMP_PID=""
stop_tcpdump() {
    local i
    [ -n "$TCPDUMP_PID" ] || return 0
    kill -INT "$TCPDUMP_PID" 2>/dev/null
    for i in $(seq 1 30); do [ -d "/proc/$TCPDUMP_PID" ] || break; sleep 0.1; done
    [ -d "/proc/$TCPDUMP_PID" ] && kill -KILL "$TCPDUMP_PID" 2>/dev/null
    wait "$TCPDUMP_PID" 2>/dev/null
    TCPDUMP_PID=""
}
finish() { stop_tcpdump; "$LAB" cleanup >/dev/null 2>&1; }
trap finish EXIT
trap 'exit 130' INT TERM

# capture NAME CLIENT [IFACE]: one client run under tcpdump
capture() {
    local name=$1 client=$2 iface=${3:-eth0} i
    local file=$OUT/$name.pcap
    rm -f "$file"
    ip netns exec acrd_client tcpdump -i "$iface" -s 0 -U --immediate-mode -Z root -w "$file" \
        >"$LOGS/$name.tcpdump" 2>&1 9>&- &
    TCPDUMP_PID=$!
    for i in $(seq 1 50); do grep -qs 'listening on' "$LOGS/$name.tcpdump" && break; sleep 0.1; done
    sleep 0.2
    "$LAB" exec "$LAB_DIR/client.sh" "$client" >"$LOGS/$name.log" 2>&1
    echo "client rc=$?" >>"$LOGS/$name.log"
    sleep 0.5
    stop_tcpdump
    printf '  %-36s %s\n' "$name.pcap" "$(grep -o '[0-9]* packets captured' "$LOGS/$name.tcpdump")"
}

# plan: SCENARIO[@6|@ttl64] CLIENTS: @6 publishes AAAA records (LAB_IPV6=1);
# @ttl64 starts the registry side at TTL 64 like the routers, so verdicts must
# rest on hop distance, not on TTL values (captures get a .ttl64 suffix)
plan() {
    cat <<'EOF2'
healthy curl,curl12,openssl,skopeo,diff,curl.any
healthy@6 curl6
nsg_drop curl,curl12,openssl,skopeo,diff,curl.any
route_none curl,diff
fw_reset_syn curl,openssl,diff
fw_reset_sni curl,curl12,openssl,skopeo
fw_reset_sni@6 curl6
fw_close_sni curl,curl12,openssl,skopeo
proxy_intercept curl,curl12,openssl,skopeo
icmp_prohibited curl,openssl
icmp_prohibited@6 curl6
fw_reset_sni@ttl64 curl
fw_reset_syn@ttl64 diff
acr_ip_denied curl,curl12
registry_throttled curl,curl12
dns_nxdomain curl
dns_timeout curl
data_endpoint_blocked curl,skopeo
privatelink_public curl,curl12
mtu_blackhole curl,curl12,openssl,skopeo
mtu_blackhole_up curl,skopeo
EOF2
}

"$LAB" cleanup >/dev/null 2>&1
rm -rf "$LOGS"; mkdir -p "$LOGS"
[ ${#only[@]} -eq 0 ] && rm -f "$OUT"/*.pcap "$OUT"/*.pcapng
start=$(date +%s)
while read -r entry clients; do
    sc=${entry%@*}; v6=0; regttl=128; suffix=""
    case $entry in
        *@6) v6=1 ;;
        *@ttl64) regttl=64; suffix=.ttl64 ;;
    esac
    if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qx -e "$sc" -e "$entry"; then continue; fi
    echo "record-all: $entry" >&2
    if ! LAB_IPV6=$v6 LAB_REG_TTL=$regttl "$LAB" up "$sc" >"$LOGS/$entry.up" 2>&1; then
        cat "$LOGS/$entry.up" >&2; echo "record-all: up $entry failed" >&2; exit 1
    fi
    for c in ${clients//,/ }; do
        case $c in
            curl.any) capture "$sc.curl.any" curl any ;;
            *) capture "$sc.$c$suffix" "$c" ;;
        esac
    done
    "$LAB" down >/dev/null 2>&1
done < <(plan)

# format variants: the same healthy exchange as pcapng, and with an 802.1Q tag
# (this kernel has no 8021q module, so the tag is added afterwards by vlan-tag.py)
if [ -s "$OUT/healthy.curl.pcap" ]; then
    editcap -F pcapng "$OUT/healthy.curl.pcap" "$OUT/healthy.curl.pcapng" && echo "  healthy.curl.pcapng (editcap)"
fi
if [ -s "$OUT/healthy.curl12.pcap" ]; then
    python3 "$LAB_DIR/vlan-tag.py" 100 "$OUT/healthy.curl12.pcap" "$OUT/healthy.curl12.vlan.pcap" &&
        echo "  healthy.curl12.vlan.pcap (vlan-tag.py, VID 100)"
fi
if [ "$OUT" != "$REPO/pcaps" ] && [ -s "$REPO/pcaps/LABELS.tsv" ]; then cp "$REPO/pcaps/LABELS.tsv" "$OUT/"; fi
echo "record-all: done in $(( $(date +%s) - start )) s, captures in $OUT" >&2
