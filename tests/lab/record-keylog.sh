#!/bin/sh
# record-keylog.sh: records the registry's own refusals inside TLS with the
# client's key log embedded (pcapng Decryption Secrets Block, editcap
# --inject-secrets), in two namespaces of its own, acrd_pk (client) and
# acrd_pr (registry stand-in, tests/lab/registry-answer.py), on
# 198.18.241.0/24.  Nothing touches the root namespace; both namespaces are
# removed on exit.  The key log of each capture is kept beside it as
# NAME.keys, and the capture without it as NAME.raw.pcap (for --keylog).
# The lab's `lab.sh down` deletes every acrd_* namespace: the lab's lock is
# held while recording (unless LAB_LOCK_HELD says the caller holds it).
#   tests/lab/record-keylog.sh OUTDIR [PKI_DIR]
# PKI_DIR holds the lab's chain.crt (leaf and issuing CA), leaf.key and
# root.crt (tests/lab/run/pki once the lab was brought up).
set -eu
mkdir -p "$1"
out=$(realpath "$1")
pki=$(realpath "${2:-$(dirname "$0")/run/pki}")
here=$(realpath "$(dirname "$0")")
C=acrd_pk R=acrd_pr
REGIP=198.18.241.1 CLI=198.18.241.2
REG=labreg.azurecr.io
spid="" tpid=""

cleanup() {
    for p in $spid $tpid; do kill "$p" 2>/dev/null || true; done
    ip netns del $C 2>/dev/null || true
    ip netns del $R 2>/dev/null || true
}
trap cleanup EXIT INT TERM
if [ -z "${LAB_LOCK_HELD:-}" ]; then
    exec 9>>"$here/run/lab.lock"
    flock -w 900 9
fi

ip netns add $C
ip netns add $R
ip -n $C link add veth0 type veth peer name veth0 netns $R
ip -n $C addr add $CLI/24 dev veth0
ip -n $R addr add $REGIP/24 dev veth0
for n in $C $R; do
    ip -n $n link set lo up
    ip -n $n link set veth0 up
done

record() {   # NAME MODE CURL_ARGS...
    name=$1 mode=$2
    shift 2
    ip netns exec $R python3 "$here/registry-answer.py" $REGIP 443 "$pki/chain.crt" "$pki/leaf.key" "$mode" &
    spid=$!
    sleep 0.7
    rm -f "$out/$name.keys" "$out/$name.tmp.pcap"
    ip netns exec $C tcpdump -i veth0 -s 0 -U -w "$out/$name.tmp.pcap" "tcp port 443" >/dev/null 2>&1 &
    tpid=$!
    sleep 0.5
    ip netns exec $C env SSLKEYLOGFILE="$out/$name.keys" curl -sS -o /dev/null --http1.1 \
        --resolve "$REG:443:$REGIP" --cacert "$pki/root.crt" -m 5 "$@" "https://$REG/v2/" || true
    sleep 0.5
    kill $tpid 2>/dev/null || true
    wait $tpid 2>/dev/null || true
    kill $spid 2>/dev/null || true
    wait $spid 2>/dev/null || true
    spid="" tpid=""
    editcap --inject-secrets "tls,$out/$name.keys" "$out/$name.tmp.pcap" "$out/$name.pcapng"
    mv "$out/$name.tmp.pcap" "$out/$name.raw.pcap"
}

record registry_denied_keys.curl denied
record registry_denied_keys.curl12 denied --tls-max 1.2
record registry_throttled_keys.curl throttled
record registry_disallowed_keys.curl disallowed -X DELETE
record registry_challenge_keys.curl challenge
