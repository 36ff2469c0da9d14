#!/bin/bash
# test_proxy.sh: `acrdiag probe` through an explicit proxy (squid) in two
# namespaces of its own, acrd_xc (client) and acrd_xp (squid and a registry
# stand-in), on 198.18.242.0/24.  Squid listens on one port per case:
#   3128 allows every CONNECT          -> ok (the registry's 401 through the tunnel)
#   3129 denies the registry           -> proxy_refused, 403
#   3130 requires basic authentication -> proxy_refused, 407; with user:pass in the URL, ok
#   3131 bumps TLS with its own CA     -> proxy_interception, issuer Fabrikam
# Each case runs live with --proxy, with HTTPS_PROXY, and is analysed again
# from the probe's -w capture; a Docker-daemon-style setting in a fake config
# root (--config-root, never the real /etc/docker) that differs from the
# shell's is followed and reported as proxy_settings_differ.  Needs root and
# squid-openssl; makes its own PKI in the lab's shape (Lab Root -> "Microsoft
# Azure RSA TLS Issuing CA 03" -> *.azurecr.io, and squid's Fabrikam CA).
# Holds run/lab.lock (unless LAB_LOCK_HELD says the caller does); nothing
# touches the root namespace; both namespaces go on every exit.
# Prints "ok ..."/"FAIL ..." per check, then "N passed, N failed".
set -u
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$LAB_DIR/../.." && pwd)
ACRDIAG=${ACRDIAG:-$ROOT/build/rel/acrdiag}
C=acrd_xc P=acrd_xp
PXY=198.18.242.1 CLI=198.18.242.2 REGADDR=198.18.242.10
REG=labreg.azurecr.io
pass=0; fail=0
ok()  { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }

[ "$(id -u)" = 0 ] || { bad setup "must run as root (network namespaces)"; finish; }
for tool in jq python3 squid openssl; do
    command -v $tool >/dev/null || { bad setup "$tool not installed (tests/deps.sh test)"; finish; }
done
[ -x /usr/lib/squid/basic_ncsa_auth ] && [ -x /usr/lib/squid/security_file_certgen ] ||
    { bad setup "squid-openssl helpers missing (tests/deps.sh test)"; finish; }
[ -x "$ACRDIAG" ] || { bad setup "no binary $ACRDIAG"; finish; }

W=$(mktemp -d /tmp/acrdiag-proxy.XXXXXX)
chmod 755 "$W"
PKI=$W/pki
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    [ -s "$W/squid/squid.pid" ] && kill "$(cat "$W/squid/squid.pid")" 2>/dev/null
    sleep 0.2
    ip netns del $C 2>/dev/null
    ip netns del $P 2>/dev/null
    # KEEP=DIR keeps the reports and captures for a look.
    [ -n "${KEEP:-}" ] && cp -r "$W" "$KEEP"
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
if [ -z "${LAB_LOCK_HELD:-}" ]; then
    mkdir -p "$LAB_DIR/run"
    exec 9>>"$LAB_DIR/run/lab.lock"
    flock -w 900 9 || { bad setup "the lab is busy ($LAB_DIR/run/lab.lock)"; finish; }
fi

# The PKI: P-256 keys (quick), names as the lab's (lab.sh mk_pki).
mk_pki() (
    set -e
    mkdir -p "$PKI" && cd "$PKI"
    q() { "$@" >/dev/null 2>&1; }
    key() { q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
    printf '%s\n' '[ica]' 'basicConstraints=critical,CA:TRUE,pathlen:0' 'keyUsage=critical,keyCertSign,cRLSign' \
        '[leaf]' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
        'extendedKeyUsage=serverAuth' 'subjectAltName=DNS:*.azurecr.io,DNS:labreg.westeurope.data.azurecr.io' >ext.cnf
    key root.key; key ica.key; key leaf.key; key fabrikam.key
    q openssl req -x509 -key root.key -out root.crt -days 30 -subj "/CN=Lab Root" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    q openssl req -new -key ica.key -out ica.csr \
        -subj "/C=US/O=Microsoft Corporation/CN=Microsoft Azure RSA TLS Issuing CA 03"
    q openssl x509 -req -in ica.csr -CA root.crt -CAkey root.key -CAcreateserial -days 30 -extfile ext.cnf \
        -extensions ica -out ica.crt
    q openssl req -new -key leaf.key -out leaf.csr -subj "/C=US/O=Microsoft Corporation/CN=*.azurecr.io"
    q openssl x509 -req -in leaf.csr -CA ica.crt -CAkey ica.key -CAcreateserial -days 30 -extfile ext.cnf \
        -extensions leaf -out leaf.crt
    cat leaf.crt ica.crt >chain.crt
    q openssl req -x509 -key fabrikam.key -out fabrikam.crt -days 30 \
        -subj "/C=US/O=Fabrikam Inc/CN=Fabrikam Secure Web Gateway CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    cat fabrikam.crt fabrikam.key >fabrikam.pem
    chmod 644 ./*
    openssl verify -CAfile root.crt -untrusted ica.crt leaf.crt >/dev/null
)
mk_pki || { bad setup "PKI generation failed"; finish; }

ip netns add $C && ip netns add $P || { bad setup "cannot create the namespaces"; finish; }
ip -n $C link add veth0 type veth peer name veth0 netns $P
ip -n $C addr add $CLI/24 dev veth0
ip -n $P addr add $PXY/24 dev veth0
ip -n $P addr add $REGADDR/32 dev lo
for n in $C $P; do ip -n $n link set lo up; ip -n $n link set veth0 up; done

# The registry stand-in: its 401 Bearer challenge with the registry's headers.
ip netns exec $P python3 "$LAB_DIR/registry-answer.py" $REGADDR 443 "$PKI/chain.crt" "$PKI/leaf.key" challenge \
    >/dev/null 2>&1 &
pids="$pids $!"

# Squid: one port per case; labreg.azurecr.io is the stand-in (hosts_file).
S=$W/squid
mkdir -p "$S"
echo "$REGADDR $REG labreg.westeurope.data.azurecr.io" >"$S/hosts"
printf 'lab:%s\n' "$(openssl passwd -apr1 labpw)" >"$S/htpasswd"
/usr/lib/squid/security_file_certgen -c -s "$S/ssl_db" -M 4MB >/dev/null || { bad setup "certgen"; finish; }
cat >"$S/squid.conf" <<EOF
http_port $PXY:3128
http_port $PXY:3129
http_port $PXY:3130
http_port $PXY:3131 ssl-bump tls-cert=$PKI/fabrikam.pem generate-host-certificates=on dynamic_cert_mem_cache_size=4MB
sslcrtd_program /usr/lib/squid/security_file_certgen -s $S/ssl_db -M 4MB
sslcrtd_children 2 startup=1 idle=1
tls_outgoing_options cafile=$PKI/root.crt
auth_param basic program /usr/lib/squid/basic_ncsa_auth $S/htpasswd
auth_param basic realm acrdiag-lab
acl allow_port myportname $PXY:3128
acl deny_port myportname $PXY:3129
acl auth_port myportname $PXY:3130
acl bump_port myportname $PXY:3131
acl authed proxy_auth REQUIRED
acl registry dstdomain .azurecr.io
http_access deny deny_port registry
http_access allow auth_port authed
http_access deny auth_port
http_access allow allow_port
http_access allow bump_port
http_access deny all
ssl_bump bump bump_port
ssl_bump splice all
hosts_file $S/hosts
dns_nameservers 127.0.0.1
cache deny all
cache_mem 8 MB
pid_filename $S/squid.pid
cache_log $S/cache.log
access_log stdio:$S/access.log
coredump_dir $S
cache_effective_user proxy
visible_hostname acrd-proxy
shutdown_lifetime 1 seconds
EOF
chown -R proxy "$S"
ip netns exec $P squid -N -f "$S/squid.conf" >"$W/squid.out" 2>&1 &
pids="$pids $!"
for _ in $(seq 50); do
    ip netns exec $P ss -ltn | grep -q ":3131 " && ip netns exec $P ss -ltn | grep -q "$REGADDR:443 " && break
    sleep 0.2
done
ip netns exec $P ss -ltn | grep -q ":3131 " || { bad setup "squid did not start: $(tail -3 "$W/squid.out" "$S/cache.log" 2>/dev/null)"; finish; }

EMPTY=$W/emptyroot
mkdir -p "$EMPTY"
# probe CASE [env assignments...] -- [probe options...]: runs it, writes $W/CASE.json and
# the capture $W/CASE.pcapng, then analyses the capture into $W/CASE.an.json.
probe() {
    local name=$1; shift
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    ip netns exec $C env -u HTTPS_PROXY -u https_proxy -u ALL_PROXY -u all_proxy -u NO_PROXY -u no_proxy \
        DOCKER_CONFIG="$EMPTY" "${envs[@]}" \
        "$ACRDIAG" probe $REG --cacert "$PKI/root.crt" --timeout 3 --json -w "$W/$name.pcapng" "$@" \
        >"$W/$name.json" 2>"$W/$name.err"
    "$ACRDIAG" analyze "$W/$name.pcapng" --json >"$W/$name.an.json" 2>>"$W/$name.err"
}
# expect CASE VERDICT [jq condition on the endpoint through the proxy]
expect() {
    local name=$1 want=$2 cond=${3:-true} got
    got=$(jq -r '.verdict' "$W/$name.json" 2>/dev/null)
    if [ "$got" = "$want" ] && jq -e ".endpoints[] | select(.name == \"$REG\") | $cond" "$W/$name.json" >/dev/null; then
        ok "$name live: $got"
    else
        bad "$name live" "verdict $got, wanted $want with $cond: $(jq -c '[.endpoints[] | {name, verdict, reason, detail}]' "$W/$name.json" 2>/dev/null | cut -c1-600) $(head -c 300 "$W/$name.err")"
    fi
    got=$(jq -r '.verdict' "$W/$name.an.json" 2>/dev/null)
    if [ "$got" = "$want" ] && jq -e ".endpoints[] | select(.name == \"$REG\") | $cond" "$W/$name.an.json" >/dev/null; then
        ok "$name from the capture: $got"
    else
        bad "$name from the capture" "verdict $got, wanted $want: $(jq -c '[.endpoints[] | {name, verdict, reason}]' "$W/$name.an.json" 2>/dev/null | cut -c1-600)"
    fi
    if out=$(python3 "$ROOT/tests/schema.py" "$W/$name.json" "$W/$name.an.json" 2>&1); then
        ok "$name: both reports fit the schema"
    else
        bad "$name schema" "$(echo "$out" | head -3)"
    fi
}

probe allow -- --proxy "http://$PXY:3128"
expect allow ok '.detail.proxy == "'$PXY':3128"'
# A data endpoint goes through the proxy too (its own CONNECT); with NO_PROXY
# naming it, the plan sends it direct while the login server stays proxied.
probe data -- --proxy "http://$PXY:3128" --region westeurope
if jq -e '[.endpoints[] | select(.detail.proxy == "'$PXY':3128")] | length == 2' "$W/data.json" >/dev/null &&
    [ "$(jq -r .verdict "$W/data.json")" = ok ] && [ "$(jq -r .verdict "$W/data.an.json")" = ok ] &&
    jq -e '[.endpoints[].findings[]] | index("midstream_start") == null' "$W/data.an.json" >/dev/null; then
    ok "data: login server and data endpoint both through the proxy, ok live and from the capture"
else
    bad data "$(jq -c '[.endpoints[] | {name, verdict, detail}]' "$W/data.json" | cut -c1-500)"
fi
plan=$(ip netns exec $C env HTTPS_PROXY="http://$PXY:3128" NO_PROXY=".data.azurecr.io" \
    "$ACRDIAG" probe $REG --region westeurope --config-root "$EMPTY" --dry-run 2>&1)
if echo "$plan" | grep -q "^$REG: through the proxy" &&
    echo "$plan" | grep -q "^labreg.westeurope.data.azurecr.io: direct (NO_PROXY entry .data.azurecr.io matches)"; then
    ok "data: NO_PROXY sends the data endpoint direct, the login server through the proxy"
else
    bad data "$(echo "$plan" | head -4)"
fi

# The -w file carries the probe's TLS secrets (a Decryption Secrets Block):
# tshark and analyze read the registry's answer inside the tunnel.
if tshark -r "$W/allow.pcapng" -Y http 2>/dev/null | grep -q "GET /v2/ HTTP/1.1"; then
    ok "allow: tshark decrypts the request with the embedded keys"
else
    bad allow "tshark shows no decrypted request: $(tshark -r "$W/allow.pcapng" -Y http 2>&1 | head -3)"
fi
# The decrypted HTTP answer (kind http_answer) and its status, 401.
if jq -e '.endpoints[] | select(.name == "'$REG'") | .evidence[] | select(.frame > 0 and .kind == "http_answer" and (.what | test(" 401 ")))' \
    "$W/allow.an.json" >/dev/null; then
    ok "allow: analyze reads the 401 from the capture's own keys"
else
    bad allow "no decrypted 401 in the analysis: $(jq -c '.endpoints[0].evidence' "$W/allow.an.json" | cut -c1-500)"
fi
probe nokeys -- --proxy "http://$PXY:3128" --no-keys
if tshark -r "$W/nokeys.pcapng" -Y http 2>/dev/null | grep -q "GET /v2/"; then
    bad nokeys "--no-keys left secrets in the file"
else
    ok "nokeys: nothing decrypts without the keys"
fi
probe deny -- --proxy "http://$PXY:3129"
expect deny proxy_refused '.detail.http_status == "403"'
probe auth -- --proxy "http://$PXY:3130"
expect auth proxy_refused '.detail.http_status == "407" and (.detail.proxy_authenticate | test("Basic"))'
probe auth_pw -- --proxy "http://lab:labpw@$PXY:3130"
expect auth_pw ok
if grep -q labpw "$W/auth_pw.json" "$W/auth_pw.err" || "$ACRDIAG" analyze "$W/auth_pw.pcapng" 2>&1 | grep -q labpw; then
    bad auth_pw "the proxy password appears in the output"
else
    ok "auth_pw: the password never appears in the report"
fi
probe bump -- --proxy "http://$PXY:3131"
expect bump proxy_interception '.detail.issuer | test("Fabrikam")'

# A proxy that resets the CONNECT, one that never answers it, and one that
# answers with bytes split one per segment (connect-proxy.py; the probe's
# facts decide when the wire could not, within its 3 s).
ip netns exec $P python3 "$LAB_DIR/connect-proxy.py" $PXY 3140 reset >/dev/null 2>&1 &
pids="$pids $!"
ip netns exec $P python3 "$LAB_DIR/connect-proxy.py" $PXY 3141 hang >/dev/null 2>&1 &
pids="$pids $!"
ip netns exec $P env SPLIT=1 python3 "$LAB_DIR/connect-proxy.py" $PXY 3142 badgw >/dev/null 2>&1 &
pids="$pids $!"
# Python starts slowly on a loaded machine: wait until all three listen (bounded).
for _ in $(seq 150); do
    l=$(ip netns exec $P ss -ltnH)
    case $l in *":3140 "*) case $l in *":3141 "*) case $l in *":3142 "*) break ;; esac ;; esac ;; esac
    sleep 0.1
done
probe reset -- --proxy "http://$PXY:3140"
expect reset proxy_refused '.detail.http_status == "none"'
probe hang -- --proxy "http://$PXY:3141"
expect hang proxy_refused '.reason | test("never answered")'
probe badgw -- --proxy "http://$PXY:3142"
expect badgw proxy_refused '.detail.http_status == "502"'
# Nothing listens on the proxy's port: the proxy setting is the fault.
probe closed -- --proxy "http://$PXY:3199"
expect closed connection_reset '.reason | test("proxy")'

# The shell's setting, with no Docker daemon configured.
probe env_deny HTTPS_PROXY="http://$PXY:3129" -- --config-root "$EMPTY"
expect env_deny proxy_refused '.detail.http_status == "403"'
probe env_auth https_proxy="http://$PXY:3130" -- --config-root "$EMPTY"
expect env_auth proxy_refused '.detail.http_status == "407"'
probe env_bump HTTPS_PROXY="http://$PXY:3131" -- --config-root "$EMPTY"
expect env_bump proxy_interception

# The daemon's setting (a fake daemon.json) denies; the shell's allows:
# the probe follows the daemon, as docker push does, and says they differ.
DR=$W/daemonroot
mkdir -p "$DR/etc/docker"
echo "{\"proxies\": {\"https-proxy\": \"http://$PXY:3129\", \"no-proxy\": \"localhost\"}}" >"$DR/etc/docker/daemon.json"
probe differ HTTPS_PROXY="http://$PXY:3128" -- --config-root "$DR"
expect differ proxy_refused '(.findings | index("proxy_settings_differ")) != null'
if jq -e '.findings | index("proxy_settings_differ")' "$W/differ.json" >/dev/null; then
    ok "differ: proxy_settings_differ in the report's findings"
else
    bad differ "no proxy_settings_differ finding: $(jq -c .findings "$W/differ.json")"
fi
# A systemd drop-in that agrees with the shell: no finding.
mkdir -p "$DR/etc/systemd/system/docker.service.d"
rm "$DR/etc/docker/daemon.json"
printf '[Service]\nEnvironment="HTTPS_PROXY=http://%s:3128"\n' "$PXY" >"$DR/etc/systemd/system/docker.service.d/http-proxy.conf"
probe agree HTTPS_PROXY="http://$PXY:3128" -- --config-root "$DR"
expect agree ok '(.findings | index("proxy_settings_differ")) == null'

# A daemon.json that is no JSON: one line in the report, no quote of it; the
# daemon then has no proxy, the shell's differs (dockerd would not start).
GR=$W/garbageroot
mkdir -p "$GR/etc/docker"
printf '{"proxies": {"https-proxy": "http://u:hunter22@x:1" oops' >"$GR/etc/docker/daemon.json"
ip netns exec $C env HTTPS_PROXY="http://$PXY:3128" "$ACRDIAG" probe $REG --config-root "$GR" --dry-run >"$W/garbage.plan" 2>&1
ip netns exec $C env HTTPS_PROXY="http://$PXY:3128" "$ACRDIAG" probe $REG --proxy "http://$PXY:3128" --config-root "$GR" \
    --cacert "$PKI/root.crt" --json >"$W/garbage.json" 2>&1
if grep -q "^$REG: direct (no HTTPS proxy is set)" "$W/garbage.plan" &&
    jq -e '.endpoints[0].evidence[] | select(.kind == "proxy_settings_note" and (.what | test("daemon.json: not a JSON object \\(line 1")))' "$W/garbage.json" >/dev/null &&
    ! grep -q hunter22 "$W/garbage.json" "$W/garbage.plan"; then
    ok "garbage daemon.json: one report line, direct route, no password"
else
    bad garbage "$(head -3 "$W/garbage.plan") $(jq -c '.endpoints[0].evidence' "$W/garbage.json" | cut -c1-400)"
fi

# NO_PROXY exempts the registry: the plan says direct; --no-proxy too.
plan=$(ip netns exec $C env HTTPS_PROXY="http://$PXY:3129" NO_PROXY=".azurecr.io" \
    "$ACRDIAG" probe $REG --config-root "$EMPTY" --dry-run 2>&1)
if echo "$plan" | grep -q "^$REG: direct (NO_PROXY entry .azurecr.io matches)"; then
    ok "no_proxy: the plan goes direct"
else
    bad no_proxy "$(echo "$plan" | head -5)"
fi
plan=$(ip netns exec $C env HTTPS_PROXY="http://$PXY:3129" "$ACRDIAG" probe $REG --no-proxy --dry-run 2>&1)
echo "$plan" | grep -q "^$REG: direct (--no-proxy)" && ok "--no-proxy: direct" || bad "--no-proxy" "$(echo "$plan" | head -5)"
# A bad --proxy: one line, exit 2, the password not echoed.
out=$("$ACRDIAG" probe $REG --proxy "ftp://u:secretpw@" --dry-run 2>&1); rc=$?
if [ $rc = 2 ] && ! echo "$out" | grep -q secretpw; then ok "bad --proxy: exit 2"; else bad "bad --proxy" "rc $rc: $out"; fi

# watch -w -- COMMAND: the command's SSLKEYLOGFILE (curl honours it) lands in the file.
ip netns exec $C "$ACRDIAG" watch --duration 20 -w "$W/watch.pcapng" --json -- curl -sS -o /dev/null \
    --cacert "$PKI/root.crt" --resolve "$REG:443:$REGADDR" "https://$REG/v2/" >"$W/watch.json" 2>"$W/watch.err"
if tshark -r "$W/watch.pcapng" -Y http 2>/dev/null | grep -q "GET /v2/ HTTP"; then
    ok "watch: tshark decrypts curl's request with the command's key log"
else
    bad watch "no decrypted request: $(tshark -r "$W/watch.pcapng" 2>&1 | head -5) $(head -c 300 "$W/watch.err")"
fi
"$ACRDIAG" analyze "$W/watch.pcapng" --json >"$W/watch.an.json" 2>/dev/null
if jq -e '.endpoints[].evidence[] | select(.frame > 0 and .kind == "http_answer" and (.what | test(" 401 ")))' "$W/watch.an.json" >/dev/null; then
    ok "watch: analyze reads curl's 401 from the file's keys"
else
    bad watch "no decrypted 401: $(jq -c '.endpoints[0].evidence' "$W/watch.an.json" | cut -c1-400)"
fi
# Under sudo the command runs as the invoking user (here nobody): its key
# log directory is that user's, and still read back.
cp "$PKI/root.crt" "$W/root.crt"
ip netns exec $C env SUDO_UID=65534 SUDO_GID=65534 "$ACRDIAG" watch --duration 20 -w "$W/watchsu.pcapng" -- \
    curl -sS -o /dev/null --cacert "$W/root.crt" --resolve "$REG:443:$REGADDR" "https://$REG/v2/" >/dev/null 2>"$W/watchsu.err"
if tshark -r "$W/watchsu.pcapng" -Y http 2>/dev/null | grep -q "GET /v2/ HTTP"; then
    ok "watch as the invoking user: its key log is in the file"
else
    bad watchsu "no decrypted request: $(head -c 300 "$W/watchsu.err")"
fi
ls /tmp/acrdiag-keys.* >/dev/null 2>&1 && bad watch "the key log directory was left behind" || ok "watch: no key log left in /tmp"
ip netns exec $C "$ACRDIAG" watch --no-keys --duration 20 -w "$W/watchnk.pcapng" -- curl -sS -o /dev/null \
    --cacert "$PKI/root.crt" --resolve "$REG:443:$REGADDR" "https://$REG/v2/" >/dev/null 2>&1
tshark -r "$W/watchnk.pcapng" -Y http 2>/dev/null | grep -q "GET /v2/" && bad watch "--no-keys left secrets" ||
    ok "watch --no-keys: nothing decrypts"

# watch captures the proxy's port the shell names: curl through the denying
# proxy is proxy_refused from the watch itself.
ip netns exec $C env HTTPS_PROXY="http://$PXY:3129" "$ACRDIAG" watch --duration 20 -w "$W/watchpx.pcapng" --json -- \
    curl -sS -o /dev/null --cacert "$PKI/root.crt" "https://$REG/v2/" >"$W/watchpx.json" 2>"$W/watchpx.err"
got=$(jq -r .verdict "$W/watchpx.json" 2>/dev/null)
[ "$got" = proxy_refused ] && ok "watch through the proxy: $got" ||
    bad watchpx "verdict $got: $(head -c 300 "$W/watchpx.err")"

# Wall time: a refused CONNECT answers at once; the run ends within its timeout + 1 s.
start=$(date +%s%N)
probe timing -- --proxy "http://$PXY:3129"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -le 4000 ] && ok "timing: $ms ms" || bad timing "$ms ms"
finish
