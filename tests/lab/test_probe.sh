#!/bin/bash
# test_probe.sh: `acrdiag probe` against every lab scenario, inside the lab's client
# namespace (lab.sh up/exec/down).  Asserts the specific verdict of
#   acrdiag probe labreg.azurecr.io --dns-server 198.19.30.53 --cacert LAB_CA --json
# that the run ends within its default timeout (3 s) + 1 s, that `acrdiag analyze` on
# the -w capture agrees, and that the probing process really runs as nobody.  Cases
# named SCENARIO.VARIANT change the running lab first (variant_setup, inside the acrd_*
# namespaces only) and check more (variant_check): --control as a name and inside the
# registry's prefix, reported as controls and not as endpoints, and the reason of a
# silent drop listing what was tried.  Needs root; holds run/lab.lock for its whole run
# (unless LAB_LOCK_HELD says the caller does).
# Prints "ok ..."/"FAIL ..." per check, a table of verdicts and wall times, then
# "N passed, N failed".  ACRDIAG names the binary (default build/rel/acrdiag).
# Arguments, when given, name the cases to run (and "privdrop").
set -u
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$LAB_DIR/../.." && pwd)
ACRDIAG=${ACRDIAG:-$ROOT/build/rel/acrdiag}
LAB=$LAB_DIR/lab.sh
CA=$LAB_DIR/run/pki/root.crt
DNS=198.19.30.53
CLIENT_IP=198.18.1.2
TIMEOUT=3            # the probe's default --timeout (probe/cli.c); not passed
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
# One lab per machine: hold its lock from the first up to the last down.
if [ -z "${LAB_LOCK_HELD:-}" ]; then
    mkdir -p "$LAB_DIR/run"
    exec 9>>"$LAB_DIR/run/lab.lock"
    flock -w 900 9 || { bad setup "the lab is busy ($LAB_DIR/run/lab.lock)"; echo "$pass passed, $fail failed"; exit 1; }
    export LAB_LOCK_HELD=1
fi

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
        -w "$TMP/$sc.pcapng" "$@" >"$TMP/$sc.json" 2>"$TMP/$sc.err"
    echo $? >"$TMP/$sc.rc"
    t1=$(now)
    python3 -c "print(f'{$t1 - $t0:.2f}')" >"$TMP/$sc.wall"
}

# In a variant the lab differs from its scenario (inside the acrd_* namespaces only):
#   .host  the route with next hop None covers only the login server's address
#          (198.19.10.11/32 is routed again), so an address in its /24 still answers
#   .no53  the edge drops TCP 53 to the resolver, which then is no control (UDP works)
variant_setup() {
    local v
    for v in $(echo "$1" | tr . ' ' | cut -d' ' -f2-); do
        case $v in
        host) ip -n acrd_edge route add 198.19.10.11/32 via 198.18.2.2 || return 1 ;;
        no53) printf '%s\n' 'table inet acrd_test {' 'chain c_fwd {' \
                  'type filter hook forward priority 0;' "ip daddr $DNS tcp dport 53 drop" '}' '}' |
                  ip netns exec acrd_edge nft -f - || return 1 ;;
        *) ;;
        esac
    done
}

# jq_check CASE WHAT FILTER: FILTER (jq -e) must hold on the case's JSON.
jq_check() {
    if jq -e "$3" "$TMP/$1.json" >/dev/null 2>&1; then ok "$1 $2"
    else bad "$1 $2" "$(jq -c "$3" "$TMP/$1.json" 2>&1 | head -c 200)"; fi
}

# schema_check WHAT FILE: the JSON report must fit docs/verdicts.schema.json.
schema_check() {
    local why
    if why=$(python3 "$ROOT/tests/schema.py" "$2" 2>&1); then ok "$1 JSON fits the schema"
    else bad "$1 schema" "$(printf '%s\n' "$why" | head -n 1 | head -c 300)"; fi
}

# Controls are reported as controls, never as endpoints of their own.
controls_check() {
    local c=$1 ip=$2 given=$3 answered=$4
    jq_check "$c" "control $given listed (ip $ip, answered $answered)" \
        "any(.controls[]?; .given == \"$given\" and .ip == \"$ip\" and .answered == $answered)"
    jq_check "$c" "control $ip is no endpoint" "all(.endpoints[]; .ip != \"$ip\")"
}

variant_check() {
    local c=$1
    case $c in
    route_none.ctl)
        controls_check "$c" 198.19.20.20 198.19.20.20 true ;;
    route_none.no53)
        # The fallback reason lists what was tried.
        jq_check "$c" "reason lists ping, TCP 80, TCP 8080 and the missing control" \
            '.endpoints[0].reason | test("ping silent") and test("TCP 80 silent") and test("TCP 8080 silent") and test("no --control")'
        jq_check "$c" "candidates nsg_drop route_blackhole" '.endpoints[0].candidates == ["nsg_drop","route_blackhole"]' ;;
    route_none.no53.ctl)
        controls_check "$c" 198.19.20.20 198.19.20.20 true ;;
    route_none.host.no53.ctlname)
        controls_check "$c" 198.19.10.11 labreg.westeurope.data.azurecr.io true
        jq_check "$c" "reason names the control from the same prefix" \
            '.endpoints[0].reason | test("labreg.westeurope.data.azurecr.io at 198.19.10.11 answered from the same prefix")' ;;
    route_none.host.no53.ctlin)
        controls_check "$c" 198.19.10.11 198.19.10.11 true ;;
    nsg_drop.ctlbad)
        jq_check "$c" "unresolvable control listed, not used" \
            'any(.controls[]?; .given == "nosuch.azurecr.io" and .ip == null and .answered == false)' ;;
    esac
}

# case CASE VERDICT [extra probe args]; CASE is SCENARIO or SCENARIO.VARIANT...
case_() {
    local c=$1 want=$2; shift 2
    local sc=${c%%.*}
    if ! "$LAB" up "$sc" >"$TMP/$c.up" 2>&1; then
        bad "$c" "lab.sh up failed: $(tail -n 1 "$TMP/$c.up")"
        return
    fi
    if [ "$c" != "$sc" ] && ! variant_setup "$c" >>"$TMP/$c.up" 2>&1; then
        bad "$c" "variant setup failed: $(tail -n 1 "$TMP/$c.up")"
        return
    fi
    case_run "$c" "$want" "$@"
}

case_run() {
    local sc=$1 want=$2; shift 2
    probe "$sc" "$@"
    local got wall rc
    got=$(jq -r .verdict "$TMP/$sc.json" 2>/dev/null)
    wall=$(cat "$TMP/$sc.wall"); rc=$(cat "$TMP/$sc.rc")
    printf '%-30s %-20s %6s s\n' "$sc" "${got:-none}" "$wall" >>"$TABLE"
    if [ "$got" = "$want" ]; then ok "$sc verdict $got"
    else bad "$sc verdict" "got '${got:-none}' (exit $rc), want $want; $(head -c 300 "$TMP/$sc.err")"; fi
    schema_check "$sc" "$TMP/$sc.json"
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
    *.*) variant_check "$sc" ;;
    esac
    # The written capture must lead analyze to the same verdict.
    if [ -s "$TMP/$sc.pcapng" ]; then
        local again
        "$ACRDIAG" analyze --json "$TMP/$sc.pcapng" >"$TMP/$sc.analyze.json" 2>/dev/null
        again=$(jq -r .verdict "$TMP/$sc.analyze.json")
        schema_check "$sc analyze" "$TMP/$sc.analyze.json"
        if [ "$again" = "$got" ]; then ok "$sc analyze agrees ($again)"
        else bad "$sc analyze" "analyze says '${again:-none}', probe said '$got'"; fi
        # ... and lists the same controls, none of them as an endpoint.
        if [ "$(jq -c '[.controls[]? | [.given, .ip, .answered]]' "$TMP/$sc.analyze.json")" != \
             "$(jq -c '[.controls[]? | [.given, .ip, .answered]]' "$TMP/$sc.json")" ]; then
            bad "$sc analyze controls" "analyze lists other controls than the probe"
        fi
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
healthy_hrr ok
proxy_openssl proxy_interception
proxy_squid proxy_interception
mtu_drop_in mtu_blackhole
mtu_drop_out mtu_blackhole
mtu_blackhole_up mtu_blackhole
mtu_drop_in_up mtu_blackhole
mtu_drop_out_up mtu_blackhole
route_none.ctl route_blackhole --control 198.19.20.20
route_none.no53 silent_drop
route_none.no53.ctl route_blackhole --control 198.19.20.20
route_none.host.no53.ctlname route_blackhole --control labreg.westeurope.data.azurecr.io
route_none.host.no53.ctlin route_blackhole --control 198.19.10.11
nsg_drop.ctlbad nsg_drop --control nosuch.azurecr.io
CASES
wanted privdrop && case_privdrop

echo "case                           verdict              wall"
cat "$TABLE" 2>/dev/null
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
