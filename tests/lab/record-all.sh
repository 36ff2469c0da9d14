#!/bin/bash
# record-all.sh [--out DIR] [SELECT...]: record every lab scenario with each client that
# makes sense into DIR/<scenario>.<client>[.<variant>].pcap (default DIR: pcaps/ of the repo).
# tcpdump runs in acrd_client on its uplink eth0 (or, for @edge/@mbox/@server captures, on
# a router or the server); scenarios run one after the other, with the lab torn down
# between them.  Client output goes to tests/lab/run/record-logs/.
# SELECT: a scenario, a plan entry (fw_reset_sni@mbox255) or one capture (entry:client,
# e.g. healthy:curl@server); without SELECT everything is recorded afresh.
# --plan FILE: record FILE's plan (lines as in plan() below) instead of the built-in one,
# e.g. unseen combinations (fw_reset_sni@reg255@mbox128@nosack curl@mbox) as a held-out set.
set -u
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$LAB_DIR/../.." && pwd)
LAB=$LAB_DIR/lab.sh
RUN=$LAB_DIR/run
OUT=$REPO/pcaps
PLANFILE=""
only=()
while [ $# -gt 0 ]; do
    case $1 in
        --out) OUT=$2; shift 2 ;;
        --plan) PLANFILE=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) only+=("$1"); shift ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "record-all: must run as root" >&2; exit 1; }
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
LOGS=$RUN/record-logs
mkdir -p "$RUN"
# The lock, unless the caller holds it already (tests/run.sh's lab phase does).
if [ -z "${LAB_LOCK_HELD:-}" ]; then
    exec 9>>"$RUN/lab.lock"
    flock -w 900 9 || { echo "record-all: the lab is busy ($RUN/lab.lock)" >&2; exit 1; }
    export LAB_LOCK_HELD=1
fi

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

# capture NAME CLIENT [IFACE [NETNS]]: one client run under tcpdump
capture() {
    local name=$1 client=$2 iface=${3:-eth0} ns=${4:-acrd_client} i
    local file=$OUT/$name.pcap
    rm -f "$file"
    ip netns exec "$ns" tcpdump -i "$iface" -s 0 -U --immediate-mode -Z root -w "$file" \
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

# plan: SCENARIO[@MOD...] CLIENT[@VANTAGE],...
#   @6 publishes AAAA records (LAB_IPV6=1);
#   @ttl64 starts the registry side at TTL 64 like the routers, so verdicts must
#   rest on hop distance, not on TTL values (captures get a .ttl64 suffix);
#   @reg64 / @reg255 (registry side) and @mbox128 / @mbox255 / @mbox62 (the middlebox's own
#   packets; 62 makes its forged RSTs reach the server with the client's TTL) set initial TTLs (suffix .reg64, .mbox255, ...; LAB_REG_TTL, LAB_MBOX_TTL);
#   @nosack: the client's TCP without SACK, timestamps, window scaling (suffix .nosack).
#   CLIENT@edge / @mbox / @server: tcpdump on acrd_edge c0 (the edge's client side),
#   acrd_mbox e0 (the middlebox's client side) or acrd_reg eth0 (the server) instead of
#   the client (suffix .at-edge, .at-mbox, .at-server); curl.any: tcpdump -i any.
plan() {
    if [ -n "$PLANFILE" ]; then grep -v '^[[:space:]]*\(#\|$\)' "$PLANFILE"; return; fi
    cat <<'EOF2'
healthy curl,curl12,openssl,skopeo,diff,curl.any,curl@mbox,curl@server,curlup
healthy@6 curl6
healthy@nosack curl
healthy_hrr curl,curl12,skopeo
nsg_drop curl,curl12,openssl,skopeo,diff,curl.any,diff@edge,diff@server
route_none curl,diff
fw_reset_syn curl,openssl,diff,diff@mbox,diff@server
fw_reset_syn@reg255 diff
fw_reset_syn@reg64@mbox128 diff
fw_reset_syn@mbox255 diff
fw_reset_sni curl,curl12,openssl,skopeo,curl@mbox,curl@server
fw_reset_sni@6 curl6
fw_reset_sni@6@mbox255 curl6
fw_reset_sni@reg255 curl
fw_reset_sni@reg64@mbox128 curl
fw_reset_sni@mbox255 curl
fw_reset_sni@nosack curl
fw_drop_sni curl3,curl3@mbox
fw_drop_sni@6 curl6
fw_close_sni curl,curl12,openssl,skopeo,curl@mbox,curl@server
reg_stall curl3,curl3@server,skopeo3
reg_stall@6 curl6
mbox_stall curl3,skopeo3
fw_reset_srv curl3,curl3@server
fw_reset_srv@mbox62 curl3@server
proxy_intercept curl,curl12,openssl,skopeo,diff
proxy_intercept@mbox128 curl,curl12
proxy_intercept@reg64@mbox255 curl,curl12
proxy_openssl curl,curl12,openssl,diff
proxy_squid curl,curl12,openssl,diff
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
mtu_blackhole curl,curl12,openssl,skopeo,curl@mbox,curl@server
mtu_blackhole@nosack curl
mtu_blackhole_up curl,skopeo,curlup,curlup@server
mtu_drop_in curl,curl@server
mtu_drop_in@6 curl6
mtu_drop_out curl,curl@mbox
mtu_drop_in_up curlup,curlup@server
mtu_drop_in_up@nosack curlup,curlup@server
mtu_drop_out_up curlup,curlup@mbox
EOF2
}

"$LAB" cleanup >/dev/null 2>&1
rm -rf "$LOGS"; mkdir -p "$LOGS"
[ ${#only[@]} -eq 0 ] && [ -z "$PLANFILE" ] && rm -f "$OUT"/*.pcap "$OUT"/*.pcapng
start=$(date +%s)
# selected ENTRY CLIENT: is this capture wanted (no SELECT: all)?
selected() {
    [ ${#only[@]} -eq 0 ] && return 0
    printf '%s\n' "${only[@]}" | grep -qx -e "${1%%@*}" -e "$1" -e "$1:$2"
}
while read -r entry clients; do
    sc=${entry%%@*}; v6=0; regttl=128; mboxttl=64; ctcp=""; suffix=""
    for m in $(echo "$entry" | tr '@' ' ' | cut -d' ' -f2-); do
        [ "$m" = "$sc" ] && continue
        case $m in
            6) v6=1 ;;
            ttl64) regttl=64; suffix+=.ttl64 ;;
            reg*) regttl=${m#reg}; suffix+=.$m ;;
            mbox*) mboxttl=${m#mbox}; suffix+=.$m ;;
            nosack) ctcp=plain; suffix+=.nosack ;;
            *) echo "record-all: unknown modifier @$m" >&2; exit 1 ;;
        esac
    done
    want=()
    for c in ${clients//,/ }; do selected "$entry" "$c" && want+=("$c"); done
    [ ${#want[@]} -gt 0 ] || continue
    echo "record-all: $entry" >&2
    if ! LAB_IPV6=$v6 LAB_REG_TTL=$regttl LAB_MBOX_TTL=$mboxttl LAB_CLIENT_TCP=$ctcp \
            "$LAB" up "$sc" >"$LOGS/$entry.up" 2>&1; then
        cat "$LOGS/$entry.up" >&2; echo "record-all: up $entry failed" >&2; exit 1
    fi
    for c in "${want[@]}"; do
        case $c in
            curl.any) capture "$sc.curl.any" curl any ;;
            *@edge) capture "$sc.${c%@*}$suffix.at-edge" "${c%@*}" c0 acrd_edge ;;
            *@mbox) capture "$sc.${c%@*}$suffix.at-mbox" "${c%@*}" e0 acrd_mbox ;;
            *@server) capture "$sc.${c%@*}$suffix.at-server" "${c%@*}" eth0 acrd_reg ;;
            *) capture "$sc.$c$suffix" "$c" ;;
        esac
    done
    "$LAB" down >/dev/null 2>&1
done < <(plan)

# format variants: the same healthy exchange as pcapng, and with an 802.1Q tag
# (this kernel has no 8021q module, so the tag is added afterwards by vlan-tag.py)
if [ -z "$PLANFILE" ] && [ -s "$OUT/healthy.curl.pcap" ] && selected healthy curl; then
    editcap -F pcapng "$OUT/healthy.curl.pcap" "$OUT/healthy.curl.pcapng" && echo "  healthy.curl.pcapng (editcap)"
fi
if [ -z "$PLANFILE" ] && [ -s "$OUT/healthy.curl12.pcap" ] && selected healthy curl12; then
    python3 "$LAB_DIR/vlan-tag.py" 100 "$OUT/healthy.curl12.pcap" "$OUT/healthy.curl12.vlan.pcap" &&
        echo "  healthy.curl12.vlan.pcap (vlan-tag.py, VID 100)"
fi
if [ "$OUT" != "$REPO/pcaps" ] && [ -s "$REPO/pcaps/LABELS.tsv" ]; then cp "$REPO/pcaps/LABELS.tsv" "$OUT/"; fi
echo "record-all: done in $(( $(date +%s) - start )) s, captures in $OUT" >&2
