#!/bin/sh
# deps.sh: installs the Debian packages acrdiag needs, only those missing.
#   tests/deps.sh build   what `make` needs
#   tests/deps.sh test    what `make check` needs too (lab servers, clients, tshark, clang,
#                         and debhelper, lintian, bash-completion, man-db for the package suite)
#   tests/deps.sh bench   what `make bench-live` and `make bench-large` need (tcpreplay, zstd)
set -eu
build="make gcc pkg-config libpcap-dev libc-ares-dev libssl-dev libjansson-dev zlib1g-dev libzstd-dev liblzma-dev libnghttp2-dev"
test="$build clang libclang-rt-14-dev iproute2 nftables iptables dnsmasq nginx-light squid-openssl
      docker-registry skopeo curl openssl tcpdump tshark procps psmisc python3 iputils-ping ca-certificates ethtool time jq python3-jsonschema
      debhelper lintian bash-completion man-db"
case "${1:-build}" in
    build) want=$build ;;
    test) want=$test ;;
    bench) want="$build iproute2 ethtool time procps gzip zstd tcpreplay" ;;
    *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer for it.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
# Packages such as nginx and dnsmasq would start their services in the root
# namespace; the lab starts its own servers inside its namespaces instead.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
