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

# command_case SCENARIO CLIENT EXPECTED KIND AGREEMENT: watch -- CLIENT (issue
# 11 item 3): acrdiag runs the client itself, stops when it exits, and puts
# the client's line (KIND, AGREEMENT) and its exit status beside the verdict.
command_case() {
    local scen=$1 client=$2 want=$3 kind=$4 agree=$5 out="$tmp/cmd-$1.json"
    if ! "$LAB" up "$scen" >"$tmp/up.log" 2>&1; then
        bad "$scen: lab did not come up: $(tail -n 3 "$tmp/up.log")"; return
    fi
    local t0=$SECONDS
    ip netns exec acrd_client "$ACRDIAG" watch -i eth0 --duration 90 --json \
        -- tests/lab/client.sh "$client" >"$out" 2>"$tmp/cmd-$scen.err"
    local rc=$? took=$((SECONDS - t0))
    "$LAB" down >/dev/null 2>&1
    local got; got=$(verdict_of "$out")
    if [ "$got" = "$want" ]; then ok "watch -- $client ($scen): $got"
    else bad "watch -- $client ($scen): verdict '$got', expected $want: $(tail -c 300 "$tmp/cmd-$scen.err")"; fi
    schema_check "watch -- $client ($scen)" "$out"
    local line
    line=$(python3 - "$out" "$kind" "$agree" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
c = doc.get("client") or {}
m = [x for x in c.get("matched", []) if x["kind"] == sys.argv[2]]
ok = m and m[0]["agreement"] == sys.argv[3] and c.get("from_command") and \
    isinstance(c.get("exit_status"), int) and c["exit_status"] != 0
print("ok" if ok else "client: %s" % json.dumps(c)[:400])
PY
)
    if [ "$line" = ok ]; then ok "watch -- $client ($scen): the client's $kind line $agree, exit status kept"
    else bad "watch -- $client ($scen): $line"; fi
    if [ "$rc" -eq "$(case $want in ok) echo 0 ;; incomplete) echo 3 ;; *) echo 1 ;; esac)" ]; then
        ok "watch -- $client ($scen): acrdiag's own exit status $rc"
    else bad "watch -- $client ($scen): exit status $rc"; fi
    # The client's output was passed through to the terminal (stderr).
    if grep -q "client: push" "$tmp/cmd-$scen.err"; then ok "watch -- $client ($scen): output passed through"
    else bad "watch -- $client ($scen): no client output on stderr"; fi
    [ "$took" -lt 80 ] || bad "watch -- $client ($scen): did not stop when the client exited (${took} s)"
}

# A command that does not exist: one line on stderr, exit 2, no report.
missing_command_case() {
    local out="$tmp/missing.out" err="$tmp/missing.err" rc
    "$ACRDIAG" watch -i lo --duration 5 -- /nonexistent/acrdiag-no-such-client push >"$out" 2>"$err"; rc=$?
    if [ "$rc" = 2 ] && [ "$(wc -l <"$err")" = 1 ] && [ ! -s "$out" ]; then ok "watch -- missing command: exit 2, one line"
    else bad "watch -- missing command: exit $rc, stderr $(head -c 200 "$err")"; fi
    # The command holds no descriptor of acrdiag's (the capture socket, -w's file).
    "$ACRDIAG" watch -i lo --duration 5 -w "$tmp/fd.pcapng" -- sh -c 'ls -l /proc/self/fd/' >"$out" 2>"$err"
    if grep -q ' 2 -> pipe' "$err" && ! grep -Eq 'socket:|fd\.pcapng' "$err"; then ok "watch -- COMMAND: no capture descriptor leaks to the command"
    else bad "watch -- COMMAND: descriptors: $(grep -E 'socket|pcapng' "$err" | head -c 200)"; fi
    # A command that never exits is bounded by --duration, and then ended.
    local t0=$SECONDS
    "$ACRDIAG" watch -i lo --duration 2 --json -- sleep 300 >"$out" 2>"$err"; rc=$?
    if [ $((SECONDS - t0)) -lt 15 ] && python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["client"]; sys.exit(0 if c["still_running"] and c["exit_status"] is None else 1)' "$out"; then
        ok "watch -- sleep 300: bounded by --duration, still_running"
    else bad "watch -- sleep 300: exit $rc, $(head -c 200 "$out")"; fi
}

# A -w file that cannot be written (a file size limit stands in for a full
# disk; SIGXFSZ ignored, so the write fails with EFBIG): the failure said
# once, the report still printed, exit 2, and neither the file nor its
# temporary left (analysis/feed.h).
full_disk_case() {
    local out="$tmp/full.out" err="$tmp/full.err" dir="$tmp/full" rc
    mkdir -p "$dir" && chmod 755 "$dir"
    "$LAB" up healthy >/dev/null 2>&1 || { bad "full disk: lab did not come up"; return; }
    ( trap '' XFSZ; ulimit -f 2; exec ip netns exec acrd_client "$ACRDIAG" watch -i eth0 --duration 5 \
        -w "$dir/cap.pcapng" ) >"$out" 2>"$err" &
    local wpid=$!
    sleep 1
    "$LAB" exec tests/lab/client.sh curl >/dev/null 2>&1
    wait "$wpid"; rc=$?
    if [ "$rc" = 2 ] && [ "$(grep -c 'cap.pcapng: write failed' "$err")" = 1 ] && [ -z "$(ls -A "$dir")" ] &&
        head -n 1 "$out" | grep -q '^VERDICT '; then
        ok "watch -w on a full disk: said once, report kept, exit 2, no file left"
    else bad "watch -w on a full disk: exit $rc, left $(ls -A "$dir" | head -c 100), stderr $(head -c 300 "$err")"; fi
    "$LAB" down >/dev/null 2>&1
}

# The last packets (watch reads the kernel's buffer a block at a time: a
# block is handed over when full or 50 ms after its first packet, capture/
# live.c): 20 DNS-port datagrams on lo in a namespace of its own, SIGTERM
# at once after the last; every one must be in the report and the -w file,
# read by the final drain after the loop.  Then the same with --duration:
# watch stops on time.  -B 4096 on the way (a 4 MiB buffer).
last_packets_case() {
    local ns=acrd_wlast out="$tmp/last.json" err="$tmp/last.err" cap="$tmp/last.pcapng" rc
    ip netns del "$ns" 2>/dev/null
    if ! ip netns add "$ns" || ! ip -n "$ns" link set lo up; then bad "last packets: no namespace"; return; fi
    ip netns exec "$ns" "$ACRDIAG" watch -i lo -B 4096 --duration 60 --json -w "$cap" >"$out" 2>"$err" &
    local wpid=$!
    for _ in $(seq 50); do
        [ "$(ip netns exec "$ns" cat /proc/net/packet | wc -l)" -gt 1 ] && break
        sleep 0.1
    done
    # The signal follows the last datagram by microseconds: no block timeout passed.
    ip netns exec "$ns" python3 -c '
import os, signal, socket, sys
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", 53))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20):
    s.sendto(b"last-packet-%02d" % i, ("127.0.0.1", 53))
os.kill(int(sys.argv[1]), signal.SIGTERM)' "$wpid"
    wait "$wpid"; rc=$?
    local got; got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["capture"]["packets"])' "$out" 2>/dev/null)
    local inf; inf=$("$ACRDIAG" analyze --json "$cap" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["capture"]["packets"])' 2>/dev/null)
    if [ "$got" = 20 ] && [ "$inf" = 20 ]; then ok "watch: the last 20 packets before SIGTERM are in the report and the -w file"
    else bad "watch: last packets: report ${got:-none}, file ${inf:-none} of 20 (exit $rc): $(head -c 300 "$err")"; fi
    # --duration: a stop on time (and the drain after it), not at the next packet.
    local t0; t0=$(date +%s%N)
    ip netns exec "$ns" "$ACRDIAG" watch -i lo --duration 1 --json >"$out" 2>"$err"; rc=$?
    local ms=$((($(date +%s%N) - t0) / 1000000))
    if [ "$rc" -ne 2 ] && [ "$ms" -lt 5000 ]; then ok "watch --duration 1 on an idle interface stops (${ms} ms)"
    else bad "watch --duration 1: exit $rc after ${ms} ms: $(head -c 300 "$err")"; fi
    ip netns del "$ns" 2>/dev/null
}

if [ "${WATCH_ONLY:-}" = last ]; then
    last_packets_case
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

if [ "${WATCH_ONLY:-}" = full_disk ]; then
    full_disk_case
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

if [ "${WATCH_ONLY:-}" = command ]; then
    missing_command_case
    command_case acr_ip_denied skopeo registry_denied registry_forbidden adds
    command_case registry_throttled skopeo ok timeout adds
    command_case fw_reset_sni skopeo firewall_reset connection_reset agrees
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

full_disk_case
last_packets_case
watch_case healthy skopeo ok
watch_case nsg_drop skopeo silent_drop
watch_case fw_reset_sni skopeo firewall_reset
watch_case fw_close_sni skopeo firewall_reset
watch_case proxy_intercept skopeo tls_failure
watch_case mtu_blackhole skopeo mtu_blackhole
signal_case INT
signal_case TERM
missing_command_case
command_case acr_ip_denied skopeo registry_denied registry_forbidden adds
command_case registry_throttled skopeo ok timeout adds
command_case fw_reset_sni skopeo firewall_reset connection_reset agrees
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
