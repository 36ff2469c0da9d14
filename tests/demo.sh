#!/bin/sh
# demo.sh: the main job on the bundled captures: analyze every capture in
# pcaps/ and print its verdict line; `acrdiag analyze FILE` shows the rest.
set -u
cd "$(dirname "$0")/.."
tool=${ACRDIAG:-./acrdiag}
n=0
for f in pcaps/*.pcap pcaps/*.pcapng; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    # The lab's VNet is 198.18.0.0/16: its private endpoints live there.
    line=$("$tool" analyze --private-net 198.18.0.0/16 "$f" | head -n 1)
    printf '%-40s %s\n' "$(basename "$f")" "$line"
done
[ "$n" -gt 0 ] || { echo "demo: no captures in pcaps/" >&2; exit 1; }
echo
echo "For the evidence: ./acrdiag analyze pcaps/<capture>  (--json, --markdown)"
