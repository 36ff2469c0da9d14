#!/bin/bash
# client.sh CLIENT: one lab client, run inside acrd_client, e.g.
#   tests/lab/lab.sh exec tests/lab/client.sh curl
# CLIENT: curl curl12 curl6 curl3 curlup openssl skopeo skopeo3 diff. Every step is bounded in time.
# Exit status is the client's own (non-zero is expected in fault scenarios).
set -u
LAB_DIR=${LAB_DIR:-$(cd "$(dirname "$0")" && pwd)}
RUN=${LAB_RUN:-$LAB_DIR/run}
CA=${LAB_CA:-$RUN/pki/root.crt}
CERTDIR=${LAB_CERTDIR:-$RUN/pki/certdir}
REG=labreg.azurecr.io
URL=https://$REG/v2/
step() { echo "client: $*" >&2; }

case ${1:-} in
    curl)   exec curl -4 -sv --cacert "$CA" --connect-timeout 4 -m 8 "$URL" ;;
    curl12) exec curl -4 -sv --cacert "$CA" --tls-max 1.2 --connect-timeout 4 -m 8 "$URL" ;;
    curl6)  exec curl -6 -sv --cacert "$CA" --connect-timeout 4 -m 8 "$URL" ;;
    curl3)  # a client that gives up first: 3 s for everything (like docker's Client.Timeout)
            exec curl -4 -sv --cacert "$CA" -m 3 "$URL" ;;
    curlup) # a blob upload as a push does it: POST starts the upload (small), then one PUT
            # carries a 10 KB blob, which the registry reads whole: seven full-size segments
            # and a smaller tail, all inside the first congestion window, so when the
            # full-size ones vanish the tail still arrives and the server's SACKs show the hole
            f=$RUN/upload10k.bin
            [ -s "$f" ] || head -c 10000 /dev/urandom >"$f"
            d=$(sha256sum "$f" | cut -d' ' -f1)
            auth='Authorization: Bearer lab-anonymous-token'
            loc=$(curl -4 -sv --cacert "$CA" --connect-timeout 4 -m 6 -X POST -H "$auth" -o /dev/null \
                -D - "https://$REG/v2/upload/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
            [ -n "$loc" ] || { step "no upload location"; exit 1; }
            case $loc in /*) loc=https://$REG$loc ;; esac
            exec curl -4 -sv --cacert "$CA" --connect-timeout 4 -m 8 -H 'Expect:' -H "$auth" \
                -H 'Content-Type: application/octet-stream' -X PUT --data-binary @"$f" -o /dev/null \
                "$loc&digest=sha256:$d" ;;
    skopeo3) # docker-like client with a 3 s overall deadline (Go http.Client.Timeout): push only
        exec timeout 10 skopeo --command-timeout 3s copy --insecure-policy --dest-cert-dir "$CERTDIR" \
            oci:"$RUN/image":1 docker://$REG/hello:1 ;;
    openssl)
        exec timeout 8 openssl s_client -4 -connect $REG:443 -servername $REG -tls1_2 \
            -CAfile "$CA" </dev/null ;;
    skopeo)
        rc=0
        step "push"
        timeout 25 skopeo --command-timeout 20s copy --insecure-policy --dest-cert-dir "$CERTDIR" \
            oci:"$RUN/image":1 docker://$REG/hello:1 || rc=$?
        step "pull (blobs are redirected to the data endpoint)"
        rm -rf "$RUN/pulled"
        timeout 25 skopeo --command-timeout 20s copy --insecure-policy --src-cert-dir "$CERTDIR" \
            docker://$REG/hello:1 oci:"$RUN/pulled":1 || rc=$?
        exit $rc ;;
    diff)
        # port/protocol differential: tells an NSG-like port drop from a blackhole route
        step "1. https://$REG/v2/ (443)"
        curl -4 -sv --cacert "$CA" --connect-timeout 4 -m 8 "$URL"; echo "rc=$?" >&2
        step "2. another port of the registry IP: http://198.19.10.10:80/"
        curl -sv --connect-timeout 3 -m 5 http://198.19.10.10:80/; echo "rc=$?" >&2
        step "3. ping the registry IP"
        ping -n -c 2 -W 1 198.19.10.10; echo "rc=$?" >&2
        step "4. control destination outside the registry prefix: 198.19.20.20 tcp/443 + ping"
        curl -sk -o /dev/null -w '%{http_code}\n' --connect-timeout 3 -m 5 https://198.19.20.20/; echo "rc=$?" >&2
        ping -n -c 1 -W 1 198.19.20.20; echo "rc=$?" >&2
        exit 0 ;;
    *) echo "usage: client.sh curl|curl12|curl6|curl3|curlup|openssl|skopeo|skopeo3|diff" >&2; exit 2 ;;
esac
