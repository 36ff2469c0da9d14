#!/bin/bash
# test_push.sh: the push failures end to end (issue 11): for each lab case,
# `probe --push-check`, `watch -- skopeo copy` (a real push) and
# `analyze --client-log` (the skopeo output that watch passed through, with
# watch's capture) must reach the case's verdict; every push check must
# cancel its upload (the registry's storage keeps no new blob and no upload
# data); no secret may reach an output, a capture or a child's argv.  Also
# the credential sources (--token-stdin, the Docker config's auth,
# identitytoken and credHelpers run as the invoking user).
# Needs root; the lab is torn down on every exit path.
set -u
cd "$(dirname "$0")/../.."
LAB=tests/lab/lab.sh
ACRDIAG=${ACRDIAG:-$PWD/acrdiag}
RUN=$PWD/tests/lab/run
CA=$RUN/pki/root.crt
tmp=$(mktemp -d /tmp/acrdiag-push.XXXXXX)
chmod 755 "$tmp"
passed=0 failed=0
finish() { "$LAB" down >/dev/null 2>&1; rm -rf "$tmp"; }
trap finish EXIT
trap 'exit 130' INT TERM

ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# jq-free JSON reads: field PATH of FILE (dots, [n] for lists).
field() { python3 - "$1" "$2" <<'PY' 2>/dev/null
import json, re, sys
v = json.load(open(sys.argv[1]))
for part in re.findall(r"[^.\[\]]+|\[\d+\]", sys.argv[2]):
    v = v[int(part[1:-1])] if part.startswith("[") else v[part]
print(v if not isinstance(v, (dict, list)) else json.dumps(v))
PY
}

schema_ok() { python3 tests/schema.py "$1" >/dev/null 2>&1; }

# What the registry keeps of uploads and blobs (a check must add neither).
storage_state() {
    find "$RUN/regdata" \( -path '*/_uploads/*/data' -o -path '*/_uploads/*/startedat' -o -path '*/blobs/*/data' \) \
        -type f 2>/dev/null | sort
}

no_secrets() { # no_secrets WHAT FILE...: neither lab secret appears in the files
    local what=$1; shift
    if grep -aqE 'labpass|lab-refresh-token|wrongpass' "$@" 2>/dev/null; then bad "$what: a secret reached the output or capture"
    else ok "$what: no secret in the output or capture"; fi
}

# probe_case NAME WANT REASON_WORDS STDIN_SECRET ARGS...: one push check.
probe_case() {
    local name=$1 want=$2 words=$3 secret=$4; shift 4
    local out="$tmp/$name.probe.json" cap="$tmp/$name.probe.pcapng" before after t0=$SECONDS
    before=$(storage_state)
    printf '%s\n' "$secret" | ip netns exec acrd_client env $PROBE_ENV "$ACRDIAG" probe labreg \
        --cacert "$CA" --timeout 3 --json -w "$cap" --push-check hello "$@" >"$out" 2>"$tmp/$name.probe.err"
    local took=$((SECONDS - t0)) got reason
    got=$(field "$out" verdict)
    reason=$(python3 -c 'import json,sys; print(" ".join(e["reason"] for e in json.load(open(sys.argv[1]))["endpoints"]))' "$out" 2>/dev/null)
    if [ "$got" = "$want" ] && { [ -z "$words" ] || grep -q -- "$words" <<<"$reason"; }; then
        ok "probe --push-check $name: $got (${took} s)"
    else
        bad "probe --push-check $name: '$got', expected $want${words:+ naming '$words'}: $(head -c 300 "$tmp/$name.probe.err") $(head -c 300 <<<"$reason")"
    fi
    schema_ok "$out" && ok "probe $name: JSON fits the schema" || bad "probe $name: schema"
    after=$(storage_state)
    if [ "$before" = "$after" ]; then ok "probe $name: no new blob or upload data in the registry's storage"
    else bad "probe $name: the registry keeps new data: $(comm -13 <(echo "$before") <(echo "$after") | head -3)"; fi
    local cancelled
    cancelled=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(any(e["kind"] == "push_upload_cancelled" for ep in d["endpoints"] for e in ep["evidence"]))' "$out" 2>/dev/null)
    if [ "${CANCEL_EXPECTED:-0}" = 1 ]; then
        [ "$cancelled" = True ] && ok "probe $name: the report says the upload was cancelled" ||
            bad "probe $name: the report does not say the upload was cancelled"
    fi
    no_secrets "probe $name" "$out" "$tmp/$name.probe.err" "$cap"
    # -w embeds the probe's own TLS secrets; the push check's connections
    # (which carry the credentials) must stay out of them.
    if command -v tshark >/dev/null; then
        local auth
        auth=$(tshark -r "$cap" -Y 'http.authorization or http.request.uri contains "oauth2"' -T fields -e frame.number 2>/dev/null | head -3)
        [ -z "$auth" ] && ok "probe $name: the capture's keys open no credentialed request" ||
            bad "probe $name: tshark decrypts a credentialed request in frames $auth"
    fi
    # The same engine decides offline: analyze of the -w capture (its facts).
    "$ACRDIAG" analyze --json "$cap" >"$tmp/$name.again.json" 2>/dev/null
    local again; again=$(field "$tmp/$name.again.json" verdict)
    [ "$again" = "$got" ] && ok "analyze of the probe's capture ($name): $again" ||
        bad "analyze of the probe's capture ($name): '$again' vs probe '$got'"
}

# watch_case NAME WANT KIND CREDS: watch -- skopeo copy (a real push), then
# analyze --client-log with what skopeo printed and watch's capture.
watch_case() {
    local name=$1 want=$2 kind=$3 creds=$4 out="$tmp/$1.watch.json" cap="$tmp/$1.watch.pcapng" log="$tmp/$1.skopeo.log"
    local t0=$SECONDS
    ip netns exec acrd_client "$ACRDIAG" watch -i eth0 --duration 60 --json -w "$cap" -- \
        skopeo --command-timeout "${SKOPEO_TIMEOUT:-15}s" copy --insecure-policy --dest-cert-dir "$RUN/pki/certdir" \
        --dest-creds "$creds" oci:"$RUN/image":1 docker://labreg.azurecr.io/hello:1 >"$out" 2>"$log"
    local took=$((SECONDS - t0)) got
    got=$(field "$out" verdict)
    [ "$got" = "$want" ] && ok "watch -- skopeo copy $name: $got (${took} s)" ||
        bad "watch -- skopeo copy $name: '$got', expected $want: $(tail -c 300 "$log")"
    schema_ok "$out" && ok "watch $name: JSON fits the schema" || bad "watch $name: schema"
    if [ -n "$kind" ]; then
        python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["client"]; sys.exit(0 if any(m["kind"]==sys.argv[2] for m in c["matched"]) and c["exit_status"] else 1)' "$out" "$kind" 2>/dev/null &&
            ok "watch $name: skopeo's $kind line beside the verdict, its exit status kept" ||
            bad "watch $name: no $kind line: $(field "$out" client | head -c 300)"
    fi
    "$ACRDIAG" analyze --json --client-log "$log" "$cap" >"$tmp/$name.log.json" 2>/dev/null
    got=$(field "$tmp/$name.log.json" verdict)
    [ "$got" = "$want" ] && ok "analyze --client-log $name: $got" ||
        bad "analyze --client-log $name: '$got', expected $want"
}

PROBE_ENV=""     # NAME=VALUE words for probe_case (no spaces inside)
# PUSH_ONLY=SCENARIO runs one scenario's cases.
want() { [ -z "${PUSH_ONLY:-}" ] || [ "$PUSH_ONLY" = "$1" ]; }
up() { "$LAB" up "$1" >"$tmp/up.log" 2>&1 || { bad "$1: lab did not come up: $(tail -n 3 "$tmp/up.log")"; return 1; }; }

t_all=$SECONDS
if want push_auth && up push_auth; then
    CANCEL_EXPECTED=1 probe_case push_auth ok "cancelled the upload" labpass --username labuser --password-stdin
    probe_case push_auth_wrong registry_auth_failed "refused the credentials" wrongpass --username labuser --password-stdin
    # --token-stdin: az acr login --expose-token's JSON
    CANCEL_EXPECTED=1 probe_case token_stdin ok "token_stdin" \
        '{"accessToken": "lab-refresh-token", "loginServer": "labreg.azurecr.io"}' --token-stdin
    # The Docker config: auths[host].auth, then identitytoken (POST refresh_token)
    mkdir -p "$tmp/dc1" "$tmp/dc2" "$tmp/dc3" "$tmp/dc4" "$tmp/bin"
    printf '{"auths":{"labreg.azurecr.io":{"auth":"%s"}}}\n' "$(printf labuser:labpass | base64)" >"$tmp/dc1/config.json"
    PROBE_ENV="DOCKER_CONFIG=$tmp/dc1" CANCEL_EXPECTED=1 probe_case docker_auth ok "docker_config_auth" ""
    printf '{"auths":{"https://labreg.azurecr.io":{"auth":"%s","identitytoken":"lab-refresh-token"}}}\n' \
        "$(printf 00000000-0000-0000-0000-000000000000: | base64)" >"$tmp/dc2/config.json"
    PROBE_ENV="DOCKER_CONFIG=$tmp/dc2" CANCEL_EXPECTED=1 probe_case docker_idtoken ok "docker_config_identitytoken" ""
    # credHelpers: run as the invoking user (SUDO_USER), never root; only "get" in argv
    cat >"$tmp/bin/docker-credential-labhelper" <<EOF
#!/bin/sh
read host
echo "\$(id -u) \$# \$*" >"$tmp/helper-ran"
printf '{"ServerURL":"%s","Username":"labuser","Secret":"labpass"}' "\$host"
EOF
    chmod 755 "$tmp/bin/docker-credential-labhelper"
    chmod 777 "$tmp"
    echo '{"credHelpers":{"labreg.azurecr.io":"labhelper"}}' >"$tmp/dc3/config.json"
    PROBE_ENV="DOCKER_CONFIG=$tmp/dc3 SUDO_USER=nobody PATH=$tmp/bin:$PATH" CANCEL_EXPECTED=1 \
        probe_case cred_helper ok "credential_helper" ""
    if [ -s "$tmp/helper-ran" ] && [ "$(cut -d' ' -f1 "$tmp/helper-ran")" = "$(id -u nobody)" ] &&
        [ "$(cut -d' ' -f2- "$tmp/helper-ran")" = "1 get" ]; then ok "credential helper ran as nobody with argv 'get' only"
    else bad "credential helper: $(cat "$tmp/helper-ran" 2>/dev/null || echo did not run)"; fi
    # No credentials anywhere: the token endpoint's 401, and the report says why
    echo '{}' >"$tmp/dc4/config.json"
    PROBE_ENV="DOCKER_CONFIG=$tmp/dc4" probe_case no_credentials registry_auth_failed "" ""
    grep -q "holds no credentials" "$tmp/no_credentials.probe.json" && ok "no credentials: the report says the config holds none" ||
        bad "no credentials: no note in the report"
    watch_case push_auth ok "" labuser:labpass
    watch_case push_auth_wrong registry_auth_failed invalid_credentials labuser:wrongpass
    "$LAB" down >/dev/null 2>&1
fi
if want push_locked && up push_locked; then
    probe_case push_locked registry_write_disabled "writeEnabled false" labpass --username labuser --password-stdin
    # Through an explicit proxy (a CONNECT tunnel on the edge): the push check tunnels too.
    ip netns exec acrd_edge python3 tests/lab/connect-proxy.py 198.18.1.1 3128 tunnel 198.19.10.10:443 \
        >"$tmp/connect-proxy.log" 2>&1 &
    cp_pid=$!
    for _ in $(seq 150); do # until it listens (Python starts slowly on a loaded machine)
        ip netns exec acrd_edge ss -ltnH | grep -q '198.18.1.1:3128 ' && break
        sleep 0.1
    done
    probe_case push_locked_proxy registry_write_disabled "writeEnabled false" labpass --username labuser \
        --password-stdin --proxy http://198.18.1.1:3128
    grep -q '"proxy": "198.18.1.1:3128"' "$tmp/push_locked_proxy.probe.json" &&
        grep -q 'push check upload: POST' "$tmp/push_locked_proxy.probe.json" &&
        ok "push_locked through the proxy: every push step went through the tunnel" ||
        bad "push_locked through the proxy: no proxy detail or no upload step"
    kill "$cp_pid" 2>/dev/null; wait "$cp_pid" 2>/dev/null
    watch_case push_locked registry_write_disabled operation_disallowed labuser:labpass
    "$LAB" down >/dev/null 2>&1
fi
if want push_quota && up push_quota; then
    probe_case push_quota registry_write_disabled "storage limit" labpass --username labuser --password-stdin
    watch_case push_quota registry_write_disabled operation_disallowed labuser:labpass
    "$LAB" down >/dev/null 2>&1
fi
if want push_pull_only && up push_pull_only; then
    probe_case push_pull_only registry_push_forbidden "grants no push" labpass --username labuser --password-stdin
    watch_case push_pull_only registry_push_forbidden registry_access_denied labuser:labpass
    "$LAB" down >/dev/null 2>&1
fi
if want acr_ip_denied && up acr_ip_denied; then
    probe_case acr_ip_denied registry_denied "" labpass --username labuser --password-stdin
    grep -q "one of this host's own addresses" "$tmp/acr_ip_denied.probe.json" &&
        ok "acr_ip_denied: the IP the registry saw is compared with this host's own" ||
        bad "acr_ip_denied: no comparison of the client IP"
    watch_case acr_ip_denied registry_denied registry_forbidden labuser:labpass
    "$LAB" down >/dev/null 2>&1
fi
if want registry_throttled && up registry_throttled; then
    probe_case registry_throttled registry_error "" labpass --username labuser --password-stdin
    # skopeo retries a 429 until its own deadline and prints only the timeout:
    # the wire shows a working path, the client's timeout adds that it waited.
    SKOPEO_TIMEOUT=8 watch_case registry_throttled ok timeout labuser:labpass
    # docker prints the registry's code (acr-network-facts.md 3.5): its line decides.
    printf 'Error response from daemon: toomanyrequests: too many requests\n' >"$tmp/docker-429.log"
    "$ACRDIAG" analyze --json --client-log "$tmp/docker-429.log" "$tmp/registry_throttled.watch.pcapng" \
        >"$tmp/docker-429.json" 2>/dev/null
    [ "$(field "$tmp/docker-429.json" verdict)" = registry_error ] && ok "analyze --client-log (docker's 429 line): registry_error" ||
        bad "analyze --client-log (docker's 429 line): '$(field "$tmp/docker-429.json" verdict)'"
    "$LAB" down >/dev/null 2>&1
fi
if want push_data_endpoint_blocked && up push_data_endpoint_blocked; then
    CANCEL_EXPECTED=1 probe_case push_data_endpoint_blocked silent_drop "Location failed" labpass \
        --username labuser --password-stdin
    SKOPEO_TIMEOUT=10 watch_case push_data_endpoint_blocked silent_drop timeout labuser:labpass
    "$LAB" down >/dev/null 2>&1
fi
if want push_bad_answers && up push_bad_answers; then
    # Bad answers: each a clear line, every request bounded (--timeout 3).
    for c in "htmltoken:HTML" "bigbody:answered 500" "elsewhere:not followed"; do
        repo=${c%%:*} words=${c#*:} out="$tmp/bad-$repo.json" t0=$SECONDS
        echo labpass | ip netns exec acrd_client "$ACRDIAG" probe labreg --cacert "$CA" --timeout 3 --json \
            --push-check "$repo" --username labuser --password-stdin >"$out" 2>"$tmp/bad-$repo.err"
        took=$((SECONDS - t0))
        got=$(field "$out" verdict)
        if [ "$got" = registry_error ] && grep -q "$words" "$out" && [ "$took" -le 12 ]; then
            ok "probe --push-check, $repo: registry_error naming '$words' (${took} s)"
        else bad "probe --push-check, $repo: '$got' in ${took} s: $(head -c 300 "$tmp/bad-$repo.err")"; fi
    done
    grep -q "body cut" "$tmp/bad-bigbody.json" && ok "10 MB error body: read to its bound, then cut" ||
        bad "10 MB error body: no cut said"
    grep -q "could NOT be cancelled" "$tmp/bad-elsewhere.json" && ok "Location elsewhere: not followed, the cancel on the login server reported" ||
        bad "Location elsewhere: cancel not reported"
    "$LAB" down >/dev/null 2>&1
fi
echo "lab push cases took $((SECONDS - t_all)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
