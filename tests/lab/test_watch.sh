#!/bin/bash
# test_watch.sh: `acrdiag watch` in the lab's client namespace while a real
# client pushes; asserts the verdict per scenario, that analyze on the kept
# capture agrees, and that Ctrl-C and SIGTERM still give report and capture.
# Needs root; the lab is torn down on every exit path.
set -u
cd "$(dirname "$0")/../.."
LAB=tests/lab/lab.sh
ACRDIAG=${ACRDIAG:-$PWD/acrdiag}
tmp=$(mktemp -d /tmp/acrdiag-watch.XXXXXX)
chmod 755 "$tmp"
passed=0 failed=0
finish() { "$LAB" down >/dev/null 2>&1; rm -rf "$tmp"; }
trap finish EXIT
trap 'exit 130' INT TERM

ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# verdict_of FILE: the top-level verdict of a JSON report.
verdict_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' "$1" 2>/dev/null; }

# schema_check WHAT FILE: the JSON report must fit docs/verdicts.schema.json.
schema_check() {
    local why
    if why=$(python3 tests/schema.py "$2" 2>&1); then ok "$1: JSON fits the schema"
    else bad "$1: schema: $(printf '%s\n' "$why" | head -n 1 | head -c 300)"; fi
}

# watch_case SCENARIO CLIENT EXPECTED: watch while CLIENT runs, stop when idle.
watch_case() {
    local scen=$1 client=$2 want=$3 out="$tmp/$1.json" cap="$tmp/$1.pcapng"
    if ! "$LAB" up "$scen" >"$tmp/up.log" 2>&1; then
        bad "$scen: lab did not come up: $(tail -n 3 "$tmp/up.log")"; return
    fi
    ip netns exec acrd_client "$ACRDIAG" watch -i eth0 --until-idle 3 --duration 60 --json \
        -w "$cap" >"$out" 2>"$tmp/$scen.err" &
    local wpid=$!
    sleep 1     # the capture handle is open well before this
    "$LAB" exec tests/lab/client.sh "$client" >"$tmp/$scen.client.log" 2>&1
    wait "$wpid"
    local got; got=$(verdict_of "$out")
    if [ "$got" = "$want" ]; then ok "watch $scen ($client): $got"
    else bad "watch $scen ($client): verdict '$got', expected $want: $(head -c 300 "$tmp/$scen.err")"; fi
    schema_check "watch $scen" "$out"
    if [ -s "$cap" ] && [ "$(stat -c %a "$cap")" = 600 ]; then
        local again; "$ACRDIAG" analyze --json "$cap" >"$tmp/$scen.again.json" 2>/dev/null
        again=$(verdict_of "$tmp/$scen.again.json")
        schema_check "analyze of the watch capture ($scen)" "$tmp/$scen.again.json"
        if [ "$again" = "$got" ]; then ok "analyze of the watch capture ($scen) agrees: $again"
        else bad "analyze of the watch capture ($scen): '$again' vs watch '$got'"; fi
    else
        bad "watch $scen: capture $cap missing or not mode 0600"
    fi
    "$LAB" down >/dev/null 2>&1
}

# signal_case SIG: start a long watch, make traffic, send SIG, expect report + capture.
signal_case() {
    local sig=$1 out="$tmp/sig-$1.txt" cap="$tmp/sig-$1.pcapng"
    "$LAB" up healthy >/dev/null 2>&1 || { bad "signal $sig: lab did not come up"; return; }
    setsid ip netns exec acrd_client "$ACRDIAG" watch -i eth0 --duration 60 -w "$cap" >"$out" 2>&1 &
    local wpid=$!
    sleep 1
    "$LAB" exec tests/lab/client.sh curl >/dev/null 2>&1
    if [ "$sig" = INT ]; then kill -INT -- "-$wpid"; else kill -TERM "$wpid"; fi
    local i; for i in $(seq 1 50); do [ -d "/proc/$wpid" ] || break; sleep 0.1; done
    if [ -d "/proc/$wpid" ]; then kill -KILL -- "-$wpid"; bad "SIG$sig: watch did not stop within 5 s"; fi
    wait "$wpid" 2>/dev/null
    if head -n 1 "$out" | grep -q '^VERDICT ok' && [ -s "$cap" ]; then ok "SIG$sig: report and capture kept"
    else bad "SIG$sig: report '$(head -n 1 "$out")', capture $(ls -l "$cap" 2>&1)"; fi
    "$LAB" down >/dev/null 2>&1
}

watch_case healthy skopeo ok
watch_case nsg_drop skopeo silent_drop
watch_case fw_reset_sni skopeo firewall_reset
watch_case fw_close_sni skopeo firewall_reset
watch_case proxy_intercept skopeo tls_failure
watch_case mtu_blackhole skopeo mtu_blackhole
signal_case INT
signal_case TERM
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
