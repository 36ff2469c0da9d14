#!/bin/bash
# tests/lab/lab.sh: the acrdiag network-namespace fault lab.
#
#   lab.sh up SCENARIO    build the lab with one fault (LAB_IPV6=1 also publishes AAAA records)
#   lab.sh down           tear the running lab down
#   lab.sh exec CMD...    run CMD inside acrd_client (the "VM") of the running lab
#   lab.sh cleanup        remove anything an earlier (crashed) run left behind
#   lab.sh list           print the scenario names
#   lab.sh status         print the running scenario, namespaces and lab processes
#
# Knobs (environment, read by up): LAB_IPV6=1 publish AAAA; LAB_REG_TTL (128) and
# LAB_MBOX_TTL (64) initial TTL / hop limit of the registry side and of the middlebox;
# LAB_CLIENT_TCP=plain turns SACK, timestamps and window scaling off in acrd_client.
#
# Everything lives in network namespaces named acrd_*; nothing is added to the root
# namespace.  Addresses come only from 198.18.0.0/15 and 2001:db8::/32.  See README.md.
set -u
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
RUN=$LAB_DIR/run
NETNS="acrd_client acrd_edge acrd_mbox acrd_reg"
SCENARIOS="healthy nsg_drop route_none fw_reset_syn fw_reset_sni fw_close_sni proxy_intercept
icmp_prohibited acr_ip_denied registry_throttled dns_nxdomain dns_timeout data_endpoint_blocked
privatelink_public mtu_blackhole mtu_blackhole_up
fw_drop_sni reg_stall mbox_stall fw_reset_srv healthy_hrr proxy_openssl proxy_squid
mtu_drop_in mtu_drop_out mtu_drop_in_up mtu_drop_out_up
push_auth push_locked push_quota push_pull_only push_data_endpoint_blocked push_bad_answers"

# Address plan (keep in sync with README.md and selfcheck.sh).
REG4=198.19.10.10   REG6=2001:db8:10::10     # login server labreg.azurecr.io
DATA4=198.19.10.11  DATA6=2001:db8:10::11    # data endpoint labreg.westeurope.data.azurecr.io
CTRL4=198.19.20.20  CTRL6=2001:db8:20::20    # control destination outside the registry prefix
DNS4=198.19.30.53   DNS6=2001:db8:30::53     # lab DNS (dnsmasq)
REGNAME=labreg.azurecr.io
DATANAME=labreg.westeurope.data.azurecr.io

log() { echo "lab: $*" >&2; }
die() { log "error: $*"; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"

# One lab per machine: up/down/cleanup are serialised with a lock, and record-all.sh
# holds it for its whole run (exporting LAB_LOCK_HELD=1 to its own lab.sh calls).
# Note the lock does not span an up ... down session of another user.
lab_lock() {
    [ -n "${LAB_LOCK_HELD:-}" ] && return 0
    mkdir -p "$RUN"
    exec 9>>"$RUN/lab.lock"
    flock -w 900 9 || die "the lab is busy (another lab.sh or record-all.sh holds $RUN/lab.lock)"
}

# ---------------------------------------------------------------- cleanup
kill_pid() { # kill one pid we started, TERM then KILL, bounded
    local pid=$1 i
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in 1 2 3 4 5 6 7 8 9 10; do [ -d "/proc/$pid" ] || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
}

do_cleanup() {
    local f ns pid i pids="" left
    # 1. processes recorded in our pid files and anything living inside one of our
    #    namespaces (started by the lab): TERM them all at once, wait at most 1 s, KILL
    if [ -d "$RUN/pids" ]; then
        for f in "$RUN"/pids/*.pid; do
            [ -e "$f" ] || continue
            pid=$(cat "$f" 2>/dev/null); rm -f "$f"
            case $pid in ''|*[!0-9]*) ;; *) pids="$pids $pid" ;; esac
        done
    fi
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^acrd_'); do
        pids="$pids $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
    done
    for pid in $pids; do [ -d "/proc/$pid" ] && kill -TERM "$pid" 2>/dev/null; done
    for i in 1 2 3 4 5 6 7 8 9 10; do
        left=""; for pid in $pids; do [ -d "/proc/$pid" ] && left="$left $pid"; done
        [ -z "$left" ] && break; pids=$left; sleep 0.1
    done
    for pid in $left; do kill -KILL "$pid" 2>/dev/null; done
    # 2. stragglers (children started meanwhile), then the namespaces themselves
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^acrd_'); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill_pid "$pid"; done
        ip netns delete "$ns" 2>/dev/null || log "could not delete netns $ns"
    done
    # 3. the client's resolv.conf (and /etc/netns if we created it)
    rm -rf /etc/netns/acrd_client
    if [ -e "$RUN/created-etc-netns" ]; then rmdir /etc/netns 2>/dev/null; rm -f "$RUN/created-etc-netns"; fi
    # 4. per-run state (keep the PKI and the image, they are expensive to rebuild)
    rm -rf "$RUN/regdata" "$RUN/pulled" "$RUN/nginx-reg" "$RUN/nginx-mbox" "$RUN/scenario" "$RUN/squid" \
           "$RUN"/*.log "$RUN/registry.yml" "$RUN/tmp"
}

# ---------------------------------------------------------------- PKI
mk_pki() {
    local d=$RUN/pki
    [ -s "$d/done" ] && return 0
    rm -rf "$d"; mkdir -p "$d"
    log "making the lab PKI in $d"
    (
        set -e
        cd "$d"
        cat >ext.cnf <<'EOF'
[ca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
[ica]
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,digitalSignature,keyCertSign,cRLSign
extendedKeyUsage=serverAuth,clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
[leaf]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:*.azurecr.io,DNS:labreg.westeurope.data.azurecr.io
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
        q() { "$@" >/dev/null 2>&1; }
        # Lab Root -> "Microsoft Azure RSA TLS Issuing CA 03" -> *.azurecr.io
        q openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.crt -days 3650 \
            -subj "/CN=Lab Root" -config /dev/null -extensions ca -extfile ext.cnf 2>/dev/null ||
        openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.crt -days 3650 \
            -subj "/CN=Lab Root" -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1
        q openssl req -new -newkey rsa:2048 -nodes -keyout ica.key -out ica.csr \
            -subj "/C=US/O=Microsoft Corporation/CN=Microsoft Azure RSA TLS Issuing CA 03"
        q openssl x509 -req -in ica.csr -CA root.crt -CAkey root.key -CAcreateserial -days 1825 \
            -extfile ext.cnf -extensions ica -out ica.crt
        q openssl req -new -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr \
            -subj "/C=US/ST=WA/L=Redmond/O=Microsoft Corporation/CN=*.azurecr.io"
        q openssl x509 -req -in leaf.csr -CA ica.crt -CAkey ica.key -CAcreateserial -days 180 \
            -extfile ext.cnf -extensions leaf -out leaf.crt
        cat leaf.crt ica.crt >chain.crt
        # the TLS-inspection proxy's own CA and its forged leaf
        q openssl req -x509 -newkey rsa:2048 -nodes -keyout contoso.key -out contoso.crt -days 3650 \
            -subj "/C=US/O=Contoso Ltd/CN=Contoso TLS Inspection CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
        q openssl req -new -newkey rsa:2048 -nodes -keyout fake.key -out fake.csr \
            -subj "/C=US/ST=WA/L=Redmond/O=Microsoft Corporation/CN=*.azurecr.io"
        q openssl x509 -req -in fake.csr -CA contoso.crt -CAkey contoso.key -CAcreateserial -days 30 \
            -extfile ext.cnf -extensions leaf -out fake.crt
        cat fake.crt contoso.crt >fakechain.crt
        mkdir -p certdir && cp root.crt certdir/ca.crt   # for skopeo --*-cert-dir
        openssl verify -CAfile root.crt -untrusted ica.crt leaf.crt >/dev/null
        echo ok >done
    ) || die "PKI generation failed"
}

mk_pki_squid() { # the second inspection product's CA (squid ssl-bump mints leaves from it)
    local d=$RUN/pki
    [ -s "$d/fabrikam.pem" ] && return 0
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/fabrikam.key" -out "$d/fabrikam.crt" \
        -days 3650 -subj "/C=US/O=Fabrikam Inc/CN=Fabrikam Secure Web Gateway CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        >/dev/null 2>&1 || return 1
    cat "$d/fabrikam.crt" "$d/fabrikam.key" >"$d/fabrikam.pem.tmp" && mv "$d/fabrikam.pem.tmp" "$d/fabrikam.pem"
}

# ---------------------------------------------------------------- topology
link() { # link NS_A IF_A ADDR4_A ADDR6_A NS_B IF_B ADDR4_B ADDR6_B
    ip -n "$1" link add "$2" type veth peer name "$6" netns "$5" || return 1
    ip -n "$1" addr add "$3" dev "$2"; ip -n "$1" -6 addr add "$4" dev "$2" nodad
    ip -n "$5" addr add "$7" dev "$6"; ip -n "$5" -6 addr add "$8" dev "$6" nodad
    ip -n "$1" link set "$2" up; ip -n "$5" link set "$6" up
}

build_topology() {
    local ns
    for ns in $NETNS; do
        ip netns add "$ns" || return 1
        ip -n "$ns" link set lo up
        nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
    done
    # the registry side starts packets at TTL/hop limit 128 (LAB_REG_TTL), routers and
    # the client at 64
    local rt=${LAB_REG_TTL:-128}
    nsx acrd_reg sysctl -qw net.ipv4.ip_default_ttl="$rt" net.ipv6.conf.all.hop_limit="$rt" \
        net.ipv6.conf.default.hop_limit="$rt" net.ipv6.conf.lo.hop_limit="$rt"
    for ns in acrd_edge acrd_mbox; do
        nsx "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    done
    # the middlebox's own packets (its RSTs, ICMP errors, proxy SYN-ACKs) start at
    # LAB_MBOX_TTL (64 like any Linux router)
    local mt=${LAB_MBOX_TTL:-64}
    nsx acrd_mbox sysctl -qw net.ipv4.ip_default_ttl="$mt" net.ipv6.conf.all.hop_limit="$mt" \
        net.ipv6.conf.default.hop_limit="$mt" net.ipv6.conf.lo.hop_limit="$mt"
    # a client TCP stack without SACK, timestamps and window scaling (old or tuned stacks)
    case ${LAB_CLIENT_TCP:-} in
        ""|default) ;;
        plain) nsx acrd_client sysctl -qw net.ipv4.tcp_sack=0 net.ipv4.tcp_timestamps=0 \
                   net.ipv4.tcp_window_scaling=0 || return 1 ;;
        *) log "unknown LAB_CLIENT_TCP=$LAB_CLIENT_TCP"; return 1 ;;
    esac
    link acrd_client eth0 198.18.1.2/24 2001:db8:1::2/64 acrd_edge c0 198.18.1.1/24 2001:db8:1::1/64 || return 1
    link acrd_edge   m0   198.18.2.1/24 2001:db8:2::1/64 acrd_mbox e0 198.18.2.2/24 2001:db8:2::2/64 || return 1
    link acrd_mbox   r0   198.18.3.1/24 2001:db8:3::1/64 acrd_reg eth0 198.18.3.2/24 2001:db8:3::2/64 || return 1
    nsx acrd_reg sysctl -qw net.ipv6.conf.eth0.hop_limit="$rt"
    nsx acrd_mbox sysctl -qw net.ipv6.conf.e0.hop_limit="$mt" net.ipv6.conf.r0.hop_limit="$mt"
    # real segments on the wire: no TSO/GSO/GRO super-packets, real checksums
    for pair in acrd_client:eth0 acrd_edge:c0 acrd_edge:m0 acrd_mbox:e0 acrd_mbox:r0 acrd_reg:eth0; do
        nsx "${pair%%:*}" ethtool -K "${pair#*:}" tx off tso off gso off gro off >/dev/null 2>&1 ||
            log "ethtool -K failed on $pair (captures may hold offload super-packets)"
    done
    # "public" service addresses live on the registry namespace's loopback
    for a in $REG4 $DATA4 $CTRL4 $DNS4; do ip -n acrd_reg addr add "$a/32" dev lo; done
    for a in $REG6 $DATA6 $CTRL6 $DNS6; do ip -n acrd_reg -6 addr add "$a/128" dev lo nodad; done
    # routes
    ip -n acrd_client route add default via 198.18.1.1
    ip -n acrd_client -6 route add default via 2001:db8:1::1
    ip -n acrd_edge route add default via 198.18.2.2
    ip -n acrd_edge -6 route add default via 2001:db8:2::2
    ip -n acrd_mbox route add 198.18.1.0/24 via 198.18.2.1
    ip -n acrd_mbox -6 route add 2001:db8:1::/64 via 2001:db8:2::1
    ip -n acrd_mbox route add default via 198.18.3.2
    ip -n acrd_mbox -6 route add default via 2001:db8:3::2
    ip -n acrd_reg route add default via 198.18.3.1
    ip -n acrd_reg -6 route add default via 2001:db8:3::1
    # the client's resolver: only the lab DNS
    [ -d /etc/netns ] || { mkdir -p /etc/netns && touch "$RUN/created-etc-netns"; }
    mkdir -p /etc/netns/acrd_client
    printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$DNS4" >/etc/netns/acrd_client/resolv.conf
}

# ---------------------------------------------------------------- servers
start_bg() { # start_bg NAME NS CMD... : background process with a pid file
    local name=$1 ns=$2; shift 2
    ip netns exec "$ns" "$@" >"$RUN/$name.log" 2>&1 </dev/null 9>&- &
    echo $! >"$RUN/pids/$name.pid"
}

wait_for() { # wait_for WHAT CMD... : poll up to ~15 s (a bound for loaded machines, not a delay)
    local what=$1 i; shift
    for i in $(seq 1 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    log "$what did not come up"; return 1
}

start_dns() {
    local sc=$1 v6="" chain
    [ "${LAB_IPV6:-0}" = 1 ] && v6=",$REG6"
    local args=(--no-resolv --no-hosts --conf-file=/dev/null --bind-interfaces --user=root
        --listen-address=$DNS4 --listen-address=$DNS6 --pid-file="$RUN/pids/dnsmasq.pid"
        --log-facility="$RUN/dnsmasq.log" --log-queries --local-ttl=60 --keep-in-foreground
        --local=/azurecr.io/ --local=/azcr.io/ --local=/trafficmanager.net/ --local=/azure.com/
        --host-record=r0101weu-az.westeurope.cloudapp.azure.com,$REG4$v6
        --cname=weu-acr-reg.trafficmanager.net,r0101weu-az.westeurope.cloudapp.azure.com
        --cname=weu1.fe.azcr.io,weu-acr-reg.trafficmanager.net)
    local dv6=""; [ "${LAB_IPV6:-0}" = 1 ] && dv6=",$DATA6"
    args+=(--host-record=r0101weu-data.westeurope.cloudapp.azure.com,$DATA4$dv6
        --cname=$DATANAME,r0101weu-data.westeurope.cloudapp.azure.com)
    case $sc in
        dns_nxdomain) ;;   # no record for the login server at all: NXDOMAIN
        privatelink_public)
            args+=(--cname=$REGNAME,labreg.privatelink.azurecr.io
                   --cname=labreg.privatelink.azurecr.io,weu1.fe.azcr.io) ;;
        *) args+=(--cname=$REGNAME,weu1.fe.azcr.io) ;;
    esac
    ip netns exec acrd_reg dnsmasq "${args[@]}" >"$RUN/dnsmasq.out" 2>&1 </dev/null 9>&- &
    echo $! >"$RUN/pids/dnsmasq-fg.pid"
    wait_for dnsmasq nsx acrd_reg sh -c "ss -lun | grep -q '$DNS4:53'"
}

# The lab's nginx instances: NAME's files live in $RUN/nginx-NAME.
nginx_conf_head() { # nginx_conf_head NAME: the start of NAME's nginx.conf, up to inside http {
    local d=$RUN/nginx-$1
    cat <<EOF
user root;
worker_processes 1;
pid $RUN/pids/nginx-$1.pid;
error_log $d/error.log warn;
events { worker_connections 256; }
http {
    access_log $d/access.log;
    client_body_temp_path $d/tmp/body; proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fcgi; uwsgi_temp_path $d/tmp/uwsgi; scgi_temp_path $d/tmp/scgi;
EOF
}

run_nginx() { # run_nginx NAME NS: start NAME's nginx inside NS and wait for its pid file
    local d=$RUN/nginx-$1
    nsx "$2" nginx -c "$d/nginx.conf" -p "$d" -g 'daemon on; master_process on;' 2>"$RUN/nginx-$1.log" 9>&- ||
        { cat "$RUN/nginx-$1.log" >&2; return 1; }
    wait_for "nginx-$1" test -s "$RUN/pids/nginx-$1.pid"
}

acr_headers() {
    cat <<'EOF'
        add_header Docker-Distribution-Api-Version registry/2.0 always;
        add_header X-Ms-Correlation-Request-Id $acr_corr always;
        add_header X-Ms-Request-Id $acr_corr always;
        add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
        add_header X-Content-Type-Options nosniff always;
        add_header Access-Control-Expose-Headers "Docker-Content-Digest, WWW-Authenticate, Link, X-Ms-Correlation-Request-Id" always;
        add_header Www-Authenticate $acr_challenge always;
EOF
}

# The push scenarios (push_*): the login server checks credentials as ACR
# does: /oauth2/token is registry-answer.py's token endpoint (the lab user
# labuser / labpass), every /v2/ path but the challenge wants a Bearer token.
# push_locked and push_quota refuse the upload POST and the manifest PUT with
# 405 REGISTRY_DISALLOWED_OPERATION (push_quota's message adds storage-quota
# words: acr-network-facts.md 3.4 records no wording of its own for the
# storage limit, so the lab's is made up); push_pull_only's tokens grant pull
# only and every write is 403 DENIED; push_data_endpoint_blocked sends the
# upload (its Location) to the data endpoint, which the network drops;
# push_bad_answers sends repositories bigbody and elsewhere to registry-answer.py
# (a 10 MB error body, a Location outside Azure; htmltoken's token is HTML).
push_login() {
    local sc=$1 unauth disallowed deny="" post="" put="" redirect="" odd=""
    unauth='{"errors":[{"code":"UNAUTHORIZED","message":"authentication required, visit https://aka.ms/acr/authorization for more information.","detail":null}]}\n'
    disallowed='{"errors":[{"code":"REGISTRY_DISALLOWED_OPERATION","message":"The operation is disallowed on this registry, repository or image. View troubleshooting steps at https://aka.ms/acr/faq/#why-does-my-pull-or-push-request-fail-with-disallowed-operation","detail":{}}]}\n'
    [ "$sc" = push_quota ] && disallowed='{"errors":[{"code":"REGISTRY_DISALLOWED_OPERATION","message":"The operation is disallowed on this registry, repository or image. The registry has reached its storage quota (the size limit of its SKU).","detail":{}}]}\n'
    case $sc in
        push_locked|push_quota)
            post="if (\$request_method = POST) { return 405 '$disallowed'; }"
            put="if (\$request_method = PUT) { return 405 '$disallowed'; }" ;;
        push_pull_only)
            deny="if (\$request_method !~ ^(GET|HEAD)\$) { return 403 '{\"errors\":[{\"code\":\"DENIED\",\"message\":\"requested access to the resource is denied\",\"detail\":null}]}\\n'; }" ;;
        push_data_endpoint_blocked)
            redirect="proxy_redirect https://$REGNAME/v2/ https://$DATANAME/v2/;" ;;
        push_bad_answers)
            odd="location ~ ^/v2/(bigbody|elsewhere)/ { proxy_pass http://127.0.0.1:5001; proxy_redirect off; proxy_buffering off; }" ;;
    esac
    cat <<EOF
        location = /v2/ {
            if (\$http_authorization = "") { return 401 '$unauth'; }
            proxy_pass http://127.0.0.1:5000;
        }
        location /oauth2/ {
            proxy_pass http://127.0.0.1:5001;
        }
        $odd
        location ~ ^/v2/.+/blobs/uploads/\$ {
            if (\$http_authorization !~ "^Bearer ") { return 401 '$unauth'; }
            $deny
            $post
            $redirect
            proxy_pass http://127.0.0.1:5000;
        }
        location ~ ^/v2/.+/manifests/ {
            if (\$http_authorization !~ "^Bearer ") { return 401 '$unauth'; }
            $deny
            $put
            proxy_pass http://127.0.0.1:5000;
        }
        location /v2/ {
            if (\$http_authorization !~ "^Bearer ") { return 401 '$unauth'; }
            $deny
            proxy_pass http://127.0.0.1:5000;
        }
        location / {
            return 404 '404 page not found\n';
        }
EOF
}

start_token() { # the push scenarios' token endpoint (registry-answer.py token)
    local grant=push
    [ "$1" = push_pull_only ] && grant=pull
    start_bg token acrd_reg python3 "$LAB_DIR/registry-answer.py" token 5001 "$grant"
    wait_for token-endpoint nsx acrd_reg sh -c "ss -ltn | grep -q '127.0.0.1:5001'"
}

start_nginx_reg() {
    local sc=$1 d=$RUN/nginx-reg pki=$RUN/pki login
    mkdir -p "$d/tmp"
    case $sc in
        acr_ip_denied|privatelink_public) login=$(cat <<'EOF'
        location / {
            return 403 '{"errors":[{"code":"DENIED","message":"client with IP \\u0027$remote_addr\\u0027 is not allowed access. Refer https://aka.ms/acr/firewall to grant access."}]}\n';
        }
EOF
) ;;
        registry_throttled) login=$(cat <<'EOF'
        location / {
            add_header Retry-After 12 always;
            add_header Docker-Distribution-Api-Version registry/2.0 always;
            add_header X-Ms-Correlation-Request-Id $acr_corr always;
            add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
            return 429 '{"errors":[{"code":"TOOMANYREQUESTS","message":"too many requests","detail":"Please visit https://aka.ms/acr/skus#sku-feature-matrix to view limits of all service tiers."}]}\n';
        }
EOF
) ;;
        push_*) login=$(push_login "$sc") ;;
        *) login=$(cat <<'EOF'
        location = /v2/ {
            if ($http_authorization = "") {
                return 401 '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required, visit https://aka.ms/acr/authorization for more information.","detail":null}]}\n';
            }
            proxy_pass http://127.0.0.1:5000;
        }
        location /oauth2/ {
            add_header x-ms-ratelimit-remaining-calls-per-second 166.65 always;
            return 200 '{"access_token":"lab-anonymous-token","refresh_token":"lab-refresh-token","token":"lab-anonymous-token","expires_in":3600}\n';
        }
        location /v2/ {
            proxy_pass http://127.0.0.1:5000;
        }
        location / {
            return 404 '404 page not found\n';
        }
EOF
) ;;
    esac
    cat >"$d/nginx.conf" <<EOF
$(nginx_conf_head reg)
    server_tokens off;
    default_type "application/json; charset=utf-8";
    client_max_body_size 0;
    proxy_http_version 1.1;
    proxy_request_buffering off;
    proxy_set_header Host \$host;
    proxy_set_header X-Forwarded-Proto https;
    proxy_set_header X-Forwarded-For \$remote_addr;
    proxy_hide_header Docker-Distribution-Api-Version;
    ssl_certificate $pki/chain.crt;
    ssl_certificate_key $pki/leaf.key;
    ssl_protocols TLSv1.2 TLSv1.3;
$([ "$sc" = healthy_hrr ] && echo '    ssl_ecdh_curve secp384r1;   # clients offering an x25519 key share get a HelloRetryRequest')
    map \$request_id \$acr_corr {
        "~^(?<a>.{8})(?<b>.{4})(?<c>.{4})(?<d>.{4})(?<e>.{12})\$" "\$a-\$b-\$c-\$d-\$e";
    }
    map \$status \$acr_challenge {
        401 'Bearer realm="https://$REGNAME/oauth2/token",service="$REGNAME"';
        default "";
    }
    server {   # login server $REGNAME
        listen $REG4:443 ssl; listen [$REG6]:443 ssl;
        server_name $REGNAME;
$(acr_headers)
$login
    }
    server {   # data endpoint $DATANAME: the registry redirects blob GETs here (307)
$([ "$sc" = push_data_endpoint_blocked ] && echo '        location /v2/ { proxy_pass http://127.0.0.1:5000; }')
        listen $DATA4:443 ssl; listen [$DATA6]:443 ssl;
        server_name $DATANAME;
        add_header X-Ms-Request-Id \$acr_corr always;
        location /docker/registry/v2/blobs/ {
            root $RUN/regdata;
            default_type application/octet-stream;
        }
        location / { return 404; }
    }
    server {   # another port of the login server IP (port-differential checks)
        listen $REG4:80; listen [$REG6]:80;
        location / { return 404 '404 page not found\n'; }
    }
    server {   # control destination outside the registry prefix
        listen $CTRL4:443 ssl; listen [$CTRL6]:443 ssl;
        location / { default_type text/plain; return 200 'control\n'; }
    }
}
EOF
    run_nginx reg acrd_reg
}

start_registry() {
    mkdir -p "$RUN/regdata"
    cat >"$RUN/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $RUN/regdata
  delete:
    enabled: true
  redirect:
    disable: false
middleware:
  storage:
    - name: redirect
      options:
        baseurl: https://$DATANAME
http:
  addr: 127.0.0.1:5000
  secret: acrdiag-lab-secret
EOF
    start_bg registry acrd_reg docker-registry serve "$RUN/registry.yml"
    wait_for docker-registry nsx acrd_reg curl -sf -o /dev/null http://127.0.0.1:5000/v2/
}

start_mbox_proxy() { # TLS-terminating transparent proxy with the Contoso CA
    local d=$RUN/nginx-mbox pki=$RUN/pki
    mkdir -p "$d/tmp"
    cat >"$d/nginx.conf" <<EOF
$(nginx_conf_head mbox)
    client_max_body_size 0;
    map \$ssl_server_name \$upstream_ip {
        $DATANAME $DATA4;
        default $REG4;
    }
    server {
        listen 8444 ssl; listen [::]:8444 ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $pki/fakechain.crt;
        ssl_certificate_key $pki/fake.key;
        location / {
            proxy_pass https://\$upstream_ip;
            proxy_ssl_server_name on;
            proxy_ssl_name \$ssl_server_name;
            proxy_set_header Host \$host;
            proxy_http_version 1.1;
            proxy_request_buffering off;
            proxy_buffering off;
        }
    }
}
EOF
    run_nginx mbox acrd_mbox
}

start_mbox_sserver() { # openssl s_server as the inspection box: Contoso chain, P-384 only
    # (a client's x25519 key share gets a HelloRetryRequest), answers GET with a status page
    local pki=$RUN/pki
    start_bg sserver acrd_mbox openssl s_server -accept 8446 -cert "$pki/fake.crt" \
        -key "$pki/fake.key" -cert_chain "$pki/contoso.crt" -groups P-384 -www -quiet &&
    wait_for s_server nsx acrd_mbox sh -c "ss -ltn | grep -q ':8446 '"
}

start_mbox_squid() { # squid ssl-bump (Debian squid-openssl), intercepting, Fabrikam CA
    local d=$RUN/squid pki=$RUN/pki
    command -v squid >/dev/null && [ -x /usr/lib/squid/security_file_certgen ] ||
        { log "squid-openssl is not installed (tests/deps.sh test)"; return 1; }
    mk_pki_squid || return 1
    rm -rf "$d"; mkdir -p "$d"
    /usr/lib/squid/security_file_certgen -c -s "$d/ssl_db" -M 4MB >/dev/null || return 1
    cat >"$d/squid.conf" <<EOF
http_port 127.0.0.1:3128
https_port 8447 intercept ssl-bump tls-cert=$pki/fabrikam.pem generate-host-certificates=on dynamic_cert_mem_cache_size=4MB
sslcrtd_program /usr/lib/squid/security_file_certgen -s $d/ssl_db -M 4MB
sslcrtd_children 2 startup=1 idle=1
acl step1 at_step SslBump1
ssl_bump peek step1
ssl_bump bump all
tls_outgoing_options cafile=$pki/root.crt
http_access allow all
dns_nameservers $DNS4
cache deny all
cache_mem 8 MB
pid_filename $d/squid.pid
cache_log $d/cache.log
access_log stdio:$d/access.log
coredump_dir $d
cache_effective_user proxy
visible_hostname acrd-mbox
shutdown_lifetime 1 seconds
EOF
    chown -R proxy "$d"
    start_bg squid acrd_mbox squid -N -f "$d/squid.conf" &&
    wait_for squid nsx acrd_mbox sh -c "ss -ltn | grep -q ':8447 '"
}

# ---------------------------------------------------------------- faults
nft_in() { local ns=$1; shift; printf '%s\n' "$@" | sed 's/ } }$/\n}\n}/' | ip netns exec "$ns" nft -f - ; }

apply_fault() {
    local sc=$1
    case $sc in
        healthy|healthy_hrr|acr_ip_denied|registry_throttled|dns_nxdomain|privatelink_public) ;;
        push_auth|push_locked|push_quota|push_pull_only|push_bad_answers) ;;
        nsg_drop)      # NSG-like: silent drop of TCP 443 to the login server only
            nft_in acrd_edge 'table inet nsg { chain c_fwd { type filter hook forward priority 0;
                ip daddr '$REG4' tcp dport 443 drop
                ip6 daddr '$REG6' tcp dport 443 drop } }' ;;
        route_none)    # UDR next hop None: blackhole the registry prefix, every protocol
            ip -n acrd_edge route add blackhole 198.19.10.0/24
            ip -n acrd_edge -6 route add blackhole 2001:db8:10::/48 ;;
        fw_reset_syn)  # middlebox rejects the SYN with a TCP RST
            nft_in acrd_mbox 'table inet fw { chain c_fwd { type filter hook forward priority 0;
                ip daddr '$REG4' tcp dport 443 tcp flags & (syn|ack) == syn reject with tcp reset
                ip6 daddr '$REG6' tcp dport 443 tcp flags & (syn|ack) == syn reject with tcp reset } }' ;;
        fw_reset_sni)  # middlebox resets after a ClientHello naming the registry
            nsx acrd_mbox iptables -A FORWARD -p tcp --dport 443 -m string --algo bm \
                --string "$REGNAME" -j REJECT --reject-with tcp-reset &&
            nsx acrd_mbox ip6tables -A FORWARD -p tcp --dport 443 -m string --algo bm \
                --string "$REGNAME" -j REJECT --reject-with tcp-reset ;;
        fw_close_sni)  # middlebox completes the handshake itself, closes after the ClientHello
            start_bg closer acrd_mbox python3 "$LAB_DIR/sni-closer.py" 8443 &&
            wait_for sni-closer nsx acrd_mbox sh -c "ss -ltn | grep -q ':8443 '" &&
            nft_in acrd_mbox 'table inet fw { chain c_pre { type nat hook prerouting priority -100;
                ip daddr { '$REG4', '$DATA4' } tcp dport 443 redirect to :8443
                ip6 daddr { '$REG6', '$DATA6' } tcp dport 443 redirect to :8443 } }' ;;
        proxy_intercept) # transparent TLS-terminating proxy with its own CA
            start_mbox_proxy &&
            nft_in acrd_mbox 'table inet fw { chain c_pre { type nat hook prerouting priority -100;
                ip daddr { '$REG4', '$DATA4' } tcp dport 443 redirect to :8444
                ip6 daddr { '$REG6', '$DATA6' } tcp dport 443 redirect to :8444 } }' ;;
        proxy_openssl|proxy_squid) # other inspection products, IPv4 only
            local port=8446
            if [ "$sc" = proxy_squid ]; then start_mbox_squid || return 1; port=8447
            else start_mbox_sserver || return 1; fi
            nft_in acrd_mbox 'table inet fw { chain c_pre { type nat hook prerouting priority -100;
                ip daddr { '$REG4', '$DATA4' } tcp dport 443 redirect to :'$port' } }' ;;
        fw_drop_sni)   # middlebox silently drops packets naming the registry (the ClientHello)
            nsx acrd_mbox iptables -A FORWARD -p tcp --dport 443 -m string --algo bm \
                --string "$REGNAME" -j DROP &&
            nsx acrd_mbox ip6tables -A FORWARD -p tcp --dport 443 -m string --algo bm \
                --string "$REGNAME" -j DROP ;;
        reg_stall)     # the login server accepts, acknowledges the ClientHello, never answers
            start_bg stall acrd_reg python3 "$LAB_DIR/stall-server.py" 8445 &&
            wait_for stall-server nsx acrd_reg sh -c "ss -ltn | grep -q ':8445 '" &&
            nft_in acrd_reg 'table inet slow { chain c_pre { type nat hook prerouting priority -100;
                ip daddr '$REG4' tcp dport 443 redirect to :8445
                ip6 daddr '$REG6' tcp dport 443 redirect to :8445 } }' ;;
        mbox_stall)    # the middlebox accepts for the registry and never answers (a proxy
                       # that cannot reach its upstream), closing only after the client
            start_bg stall acrd_mbox python3 "$LAB_DIR/stall-server.py" 8448 &&
            wait_for stall-server nsx acrd_mbox sh -c "ss -ltn | grep -q ':8448 '" &&
            nft_in acrd_mbox 'table inet fw { chain c_pre { type nat hook prerouting priority -100;
                ip daddr { '$REG4', '$DATA4' } tcp dport 443 redirect to :8448
                ip6 daddr { '$REG6', '$DATA6' } tcp dport 443 redirect to :8448 } }' ;;
        fw_reset_srv)  # an IPS that resets toward the server: the server's first full data
                       # segment (its TLS flight) is dropped and answered with a RST to the
                       # server, forged as the client's (made by the middlebox, TTL 64)
            nsx acrd_mbox iptables -A FORWARD -p tcp -s "$REG4" --sport 443 -m length --length 1000:65535 \
                -j REJECT --reject-with tcp-reset ;;
        mtu_drop_in|mtu_drop_in_up|mtu_drop_out|mtu_drop_out_up)
            # no small link: a router drops every IP packet longer than 1280 bytes, silently
            # (no ICMP ever), either where packets enter it (mbox, prerouting, both
            # directions) or where they leave it (edge, postrouting, both directions)
            if [ "${sc#mtu_drop_in}" != "$sc" ]; then
                nft_in acrd_mbox 'table inet mtu { chain c_in { type filter hook prerouting priority -300;
                    meta length > 1280 drop } }' || return 1
            else
                nft_in acrd_edge 'table inet mtu { chain c_out { type filter hook postrouting priority 300;
                    meta length > 1280 drop } }' || return 1
            fi
            if [ "${sc%_up}" != "$sc" ]; then  # upload: the server's segments fit (one-sided clamp)
                nft_in acrd_edge 'table inet clamp { chain c_fwd { type filter hook forward priority -150;
                    iifname "c0" tcp flags & (syn|ack) == syn tcp option maxseg size set 1200 } }' || return 1
            fi ;;
        icmp_prohibited) # middlebox rejects with ICMP administratively prohibited
            nft_in acrd_mbox 'table inet fw { chain c_fwd { type filter hook forward priority 0;
                ip daddr '$REG4' tcp dport 443 reject with icmp type admin-prohibited
                ip6 daddr '$REG6' tcp dport 443 reject with icmpv6 type admin-prohibited } }' ;;
        dns_timeout)   # the DNS server is unreachable: drop udp/tcp 53 at the edge
            nft_in acrd_edge 'table inet nsg { chain c_fwd { type filter hook forward priority 0;
                ip daddr '$DNS4' meta l4proto { tcp, udp } th dport 53 drop
                ip6 daddr '$DNS6' meta l4proto { tcp, udp } th dport 53 drop } }' ;;
        data_endpoint_blocked|push_data_endpoint_blocked) # login server fine, data endpoint silently dropped
            nft_in acrd_edge 'table inet nsg { chain c_fwd { type filter hook forward priority 0;
                ip daddr '$DATA4' tcp dport 443 drop
                ip6 daddr '$DATA6' tcp dport 443 drop } }' ;;
        mtu_blackhole|mtu_blackhole_up)
            # edge-mbox link MTU 1280 (the endpoints keep 1500) and the routers'
            # fragmentation-needed / packet-too-big messages suppressed
            ip -n acrd_edge link set m0 mtu 1280 && ip -n acrd_mbox link set e0 mtu 1280 || return 1
            local r
            for r in acrd_edge acrd_mbox; do
                nft_in "$r" 'table inet pmtud { chain c_out { type filter hook output priority 0;
                    icmp type destination-unreachable icmp code frag-needed drop
                    icmpv6 type packet-too-big drop } }' || return 1
            done
            if [ "$sc" = mtu_blackhole_up ]; then
                # a one-sided MSS clamp (only the client's SYN): the server sends small
                # segments, so TLS completes; the client's full-size uploads vanish
                nft_in acrd_edge 'table inet clamp { chain c_fwd { type filter hook forward priority -150;
                    iifname "c0" tcp flags & (syn|ack) == syn tcp option maxseg size set 1200 } }' || return 1
            fi ;;
        *) die "unknown scenario $sc" ;;
    esac
}

# ---------------------------------------------------------------- image
mk_image() {
    [ -s "$RUN/image/index.json" ] && return 0
    python3 "$LAB_DIR/mkimage.py" "$RUN/image" || die "image build failed"
}

# ---------------------------------------------------------------- commands
cmd_up() {
    local sc=${1:-}
    [ -n "$sc" ] || die "usage: lab.sh up SCENARIO"
    echo " $SCENARIOS " | tr '\n' ' ' | grep -q " $sc " || die "unknown scenario '$sc' (lab.sh list)"
    do_cleanup
    mkdir -p "$RUN/pids"
    UP_OK=0
    trap '[ "${UP_OK:-0}" = 1 ] || { log "up failed, cleaning up"; do_cleanup; }' EXIT
    trap 'exit 130' INT TERM
    mk_pki
    mk_image
    build_topology || die "topology"
    start_dns "$sc" || die "dnsmasq"
    start_registry || die "registry"
    case $sc in push_*) start_token "$sc" || die "token endpoint" ;; esac
    start_nginx_reg "$sc" || die "nginx (registry side)"
    apply_fault "$sc" || die "fault $sc"
    echo "$sc" >"$RUN/scenario"
    UP_OK=1
    log "up: $sc${LAB_IPV6:+ (LAB_IPV6=$LAB_IPV6)}"
}

cmd_exec() {
    [ -s "$RUN/scenario" ] && ip netns list | grep -q '^acrd_client' || die "no lab running (lab.sh up SCENARIO)"
    [ $# -gt 0 ] || die "usage: lab.sh exec CMD..."
    export LAB_DIR LAB_RUN=$RUN LAB_CA=$RUN/pki/root.crt LAB_CERTDIR=$RUN/pki/certdir
    exec ip netns exec acrd_client "$@"
}

cmd=${1:-}; [ $# -gt 0 ] && shift
case $cmd in
    up) lab_lock; cmd_up "$@" ;;
    down|cleanup) lab_lock; do_cleanup; log "$cmd: done" ;;
    exec) cmd_exec "$@" ;;
    list) echo $SCENARIOS ;;
    status)
        echo "scenario: $(cat "$RUN/scenario" 2>/dev/null || echo none)"
        ip netns list | grep '^acrd_' || true
        for ns in $(ip netns list | awk '{print $1}' | grep '^acrd_'); do
            for p in $(ip netns pids "$ns"); do echo "$ns $p $(tr '\0' ' ' </proc/$p/cmdline | cut -c1-80)"; done
        done ;;
    *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
