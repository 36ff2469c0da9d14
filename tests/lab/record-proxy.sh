#!/bin/sh
# record-proxy.sh: records explicit-proxy captures (CONNECT refused with 403,
# 407, 502, reset, never answered; a tunnel to a registry-like TLS server; a
# bumping proxy) in two namespaces of its own, acrd_pc (client) and acrd_pp
# (proxy and upstream), on 198.18.240.0/24.  Nothing touches the root
# namespace; both namespaces are removed on exit.  The lab's `lab.sh down`
# deletes every acrd_* namespace: the lab's lock is held while recording
# (unless LAB_LOCK_HELD says the caller holds it).
#   tests/lab/record-proxy.sh OUTDIR [PKI_DIR]
# PKI_DIR holds the lab's leaf.key, chain.crt, fake.key, fakechain.crt and
# root.crt (tests/lab/run/pki once the lab was brought up).
set -eu
mkdir -p "$1"
out=$(realpath "$1")
pki=$(realpath "${2:-$(dirname "$0")/run/pki}")
here=$(realpath "$(dirname "$0")")
C=acrd_pc P=acrd_pp
PXY=198.18.240.1 CLI=198.18.240.2 PORT=3128
REG=labreg.azurecr.io
pids=""
ppid="" tpid=""

cleanup() {
    for p in $pids $ppid $tpid; do kill "$p" 2>/dev/null || true; done
    ip netns del $C 2>/dev/null || true
    ip netns del $P 2>/dev/null || true
}
trap cleanup EXIT INT TERM
if [ -z "${LAB_LOCK_HELD:-}" ]; then
    exec 9>>"$here/run/lab.lock"
    flock -w 900 9
fi

ip netns add $C
ip netns add $P
ip -n $C link add veth0 type veth peer name veth0 netns $P
ip -n $C addr add $CLI/24 dev veth0
ip -n $P addr add $PXY/24 dev veth0
for n in $C $P; do
    ip -n $n link set lo up
    ip -n $n link set veth0 up
done
# A path of a few hops, as a real one: the proxy's packets arrive with ttl 61.
ip netns exec $P sysctl -qw net.ipv4.ip_default_ttl=64

# The registry stand-in behind the proxy: TLS with the lab's Microsoft-like chain.
ip netns exec $P openssl s_server -quiet -accept 127.0.0.1:8443 -cert "$pki/leaf.crt" \
    -key "$pki/leaf.key" -cert_chain "$pki/chain.crt" -www >/dev/null 2>&1 &
pids="$pids $!"

record() {   # NAME MODE [ARGS...] -- CURL_ARGS...
    name=$1 mode=$2
    shift 2
    pargs=""
    while [ "$1" != "--" ]; do pargs="$pargs $1"; shift; done
    shift
    ip netns exec $P python3 "$here/connect-proxy.py" $PXY $PORT "$mode" $pargs &
    ppid=$!
    sleep 0.5
    ip netns exec $C tcpdump -i veth0 -s 0 -U -w "$out/$name.pcap" "tcp port $PORT" >/dev/null 2>&1 &
    tpid=$!
    sleep 0.5
    ip netns exec $C curl -sS -o /dev/null -x "http://$PXY:$PORT" --cacert "$pki/root.crt" "$@" \
        "https://$REG/v2/" || true
    sleep 0.5
    kill $tpid 2>/dev/null || true
    wait $tpid 2>/dev/null || true
    kill $ppid 2>/dev/null || true
    wait $ppid 2>/dev/null || true
    ppid="" tpid=""
}

record proxy_denied.curl deny -- -m 5
export SPLIT=1
record proxy_denied.curl.split deny -- -m 5
unset SPLIT
record proxy_auth.curl auth -- -m 5
record proxy_badgw.curl badgw -- -m 5
record proxy_reset.curl reset -- -m 5
record proxy_hang.curl hang -- -m 5
record proxy_tunnel.curl tunnel 127.0.0.1:8443 -- -m 5
record proxy_tunnel.curl12 tunnel 127.0.0.1:8443 -- -m 5 --tls-max 1.2
record proxy_bump.curl12 bump "$pki/fakechain.crt" "$pki/fake.key" -- -m 5 --tls-max 1.2
