#!/bin/bash
# test_probe.sh: `acrdiag probe` against every lab scenario, inside the lab's client
# namespace (lab.sh up/exec/down).  Asserts the specific verdict of
#   acrdiag probe labreg.azurecr.io --dns-server 198.19.30.53 --cacert LAB_CA --json
# that the run ends within its timeout + 1 s, that `acrdiag analyze` on the -w capture
# agrees, and that the probing process really runs as nobody.  Needs root.
# Prints "ok ..."/"FAIL ..." per check, a table of verdicts and wall times, then
# "N passed, N failed".  ACRDIAG names the binary (default build/rel/acrdiag).
# Arguments, when given, name the scenarios to run (and "privdrop").
set -u
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$LAB_DIR/../.." && pwd)
ACRDIAG=${ACRDIAG:-$ROOT/build/rel/acrdiag}
LAB=$LAB_DIR/lab.sh
CA=$LAB_DIR/run/pki/root.crt
DNS=198.19.30.53
CLIENT_IP=198.18.1.2
TIMEOUT=3
pass=0; fail=0
ok()  { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

if [ "$(id -u)" != 0 ]; then
    bad setup "must run as root (network namespaces)"; echo "$pass passed, $fail failed"; exit 1
fi
for tool in jq python3; do
    command -v $tool >/dev/null || { bad setup "$tool not installed"; echo "$pass passed, $fail failed"; exit 1; }
done
[ -x "$ACRDIAG" ] || { bad setup "no binary $ACRDIAG"; echo "$pass passed, $fail failed"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/acrdiag-probe-test.XXXXXX")
cleanup() { "$LAB" down >/dev/null 2>&1; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
TABLE=$TMP/table

now() { date +%s.%N; }

# probe SCENARIO [extra args]: runs the probe, leaves $TMP/SC.json, .err, .pcapng, .wall
probe() {
    local sc=$1; shift
    local t0 t1
    t0=$(now)
    "$LAB" exec "$ACRDIAG" probe labreg.azurecr.io --dns-server "$DNS" --cacert "$CA" --json \
        --timeout "$TIMEOUT" -w "$TMP/$sc.pcapng" "$@" >"$TMP/$sc.json" 2>"$TMP/$sc.err"
    echo $? >"$TMP/$sc.rc"
    t1=$(now)
    python3 -c "print(f'{$t1 - $t0:.2f}')" >"$TMP/$sc.wall"
}

# case SCENARIO VERDICT [extra probe args]
case_() {
    local sc=$1 want=$2; shift 2
    if ! "$LAB" up "$sc" >"$TMP/$sc.up" 2>&1; then
        bad "$sc" "lab.sh up failed: $(tail -n 1 "$TMP/$sc.up")"
        return
    fi
    probe "$sc" "$@"
    local got wall rc
    got=$(jq -r .verdict "$TMP/$sc.json" 2>/dev/null)
    wall=$(cat "$TMP/$sc.wall"); rc=$(cat "$TMP/$sc.rc")
    printf '%-20s %-20s %6s s\n' "$sc" "${got:-none}" "$wall" >>"$TABLE"
    if [ "$got" = "$want" ]; then ok "$sc verdict $got"
    else bad "$sc verdict" "got '${got:-none}' (exit $rc), want $want; $(head -c 300 "$TMP/$sc.err")"; fi
    if python3 -c "import sys; sys.exit(0 if $wall <= $TIMEOUT + 1 else 1)"; then ok "$sc ends within ${TIMEOUT}+1 s ($wall s)"
    else bad "$sc time" "$wall s > $TIMEOUT + 1 s"; fi
    case $sc in
    acr_ip_denied)
        local ip
        ip=$(jq -r '[.endpoints[] | select(.verdict == "registry_denied") | .detail.client_ip][0]' "$TMP/$sc.json")
        if [ "$ip" = "$CLIENT_IP" ]; then ok "$sc detail.client_ip $ip"
        else bad "$sc client_ip" "got '$ip', want $CLIENT_IP"; fi ;;
    privatelink_public)
        if jq -e '[.findings[]?, .endpoints[].findings[]?] | index("privatelink_resolves_public")' \
            "$TMP/$sc.json" >/dev/null; then ok "$sc finding privatelink_resolves_public"
        else bad "$sc finding" "no privatelink_resolves_public"; fi ;;
    esac
    # The written capture must lead analyze to the same verdict.
    if [ -s "$TMP/$sc.pcapng" ]; then
        local again
        again=$("$ACRDIAG" analyze --json "$TMP/$sc.pcapng" 2>/dev/null | jq -r .verdict)
        if [ "$again" = "$got" ]; then ok "$sc analyze agrees ($again)"
        else bad "$sc analyze" "analyze says '${again:-none}', probe said '$got'"; fi
    else
        bad "$sc capture" "no -w file written"
    fi
}

# The process that probes must have dropped root for good (runs as nobody).
case_privdrop() {
    if ! "$LAB" up healthy >"$TMP/privdrop.up" 2>&1; then bad privdrop "lab.sh up failed"; return; fi
    ACRDIAG_PROBE_HOLD_MS=1500 "$LAB" exec "$ACRDIAG" probe labreg.azurecr.io --dns-server "$DNS" \
        --cacert "$CA" --json >/dev/null 2>&1 &
    local parent=$! child="" i uid=""
    # The child drops root right after the fork, then holds 1.5 s: read it mid-hold.
    # $! becomes acrdiag once lab.sh and ip netns exec have exec'd into it.
    for i in $(seq 1 40); do
        if grep -q '^acrdiag' "/proc/$parent/comm" 2>/dev/null; then
            child=$(cat "/proc/$parent/task/$parent/children" 2>/dev/null | awk '{print $1}')
            [ -n "$child" ] && break
        fi
        sleep 0.05
    done
    sleep 0.5
    [ -n "$child" ] && uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$child/status" 2>/dev/null)
    wait "$parent"
    local nobody
    nobody=$(id -u nobody)
    if [ "$uid" = "$nobody $nobody $nobody $nobody" ]; then ok "privileges dropped (Uid $uid)"
    else bad privdrop "probing process Uid '$uid', want $nobody x4"; fi
}

# The dry run sends nothing and needs no lab.
if "$ACRDIAG" probe labreg.azurecr.io --dry-run --control 198.19.20.20 | grep -q "nothing is sent"; then
    ok "dry run prints the plan"
else bad "dry run" "no plan printed"; fi

wanted() { [ ${#ONLY[@]} -eq 0 ] || printf '%s\n' "${ONLY[@]}" | grep -qx "$1"; }
ONLY=("$@")
while read -r sc want extra; do
    [ -n "$sc" ] && wanted "$sc" && case_ "$sc" "$want" $extra
done <<'CASES'
healthy ok
nsg_drop nsg_drop
route_none route_blackhole
fw_reset_syn firewall_reset
fw_reset_sni firewall_reset
fw_close_sni firewall_reset
proxy_intercept proxy_interception
icmp_prohibited icmp_unreachable
acr_ip_denied registry_denied
registry_throttled registry_error
dns_nxdomain dns_failure
dns_timeout dns_failure
mtu_blackhole mtu_blackhole
privatelink_public registry_denied --private-net 198.18.0.0/16
CASES
wanted privdrop && case_privdrop

echo "scenario             verdict              wall"
cat "$TABLE" 2>/dev/null
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
