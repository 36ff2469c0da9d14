#!/bin/bash
# selfcheck.sh [DIR]: assert with tshark that every lab capture in DIR (default pcaps/)
# shows the fault its name claims (<scenario>.<client>[.<variant>].pcap|pcapng).
# Needs no root and no running lab.  Prints "ok <name>" / "FAIL <name>: why" per check,
# then "N passed, N failed"; exits 1 on any failure.
# Lab facts used (see README.md): login server 198.19.10.10 / 2001:db8:10::10 (TTL 128,
# seen at the client as 126), middlebox-made packets seen with TTL 63, the edge's with 64.
# Variants (record-all.sh) shift these: .ttl64/.reg64/.reg255 the registry's initial TTL,
# .mbox128/.mbox255 the middlebox's, and the capture point .at-edge (edge c0), .at-mbox
# (middlebox e0: one router fewer) or .at-server (registry eth0: none).
set -u
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-$LAB_DIR/../../pcaps}
command -v tshark >/dev/null || { echo "FAIL setup: tshark not installed"; echo "0 passed, 1 failed"; exit 1; }
[ -d "$DIR" ] || { echo "FAIL setup: no directory $DIR"; echo "0 passed, 1 failed"; exit 1; }
pass=0; fail=0
ok()  { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# ---- filters (no commas: tshark's io,stat separates filters with commas)
REGSRC='(ip.src==198.19.10.10 || ipv6.src==2001:db8:10::10)'
REGDST='(ip.dst==198.19.10.10 || ipv6.dst==2001:db8:10::10)'
DATSRC='(ip.src==198.19.10.11 || ipv6.src==2001:db8:10::11)'
DATDST='(ip.dst==198.19.10.11 || ipv6.dst==2001:db8:10::11)'
SRV='(ip.ttl==126 || ipv6.hlim==126)'          # the registry's own packets
MBX='(ip.ttl==63 || ipv6.hlim==63)'            # packets made by the middlebox
SYN443="tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.dstport==443 && $REGDST"
SYNACK443="tcp.flags.syn==1 && tcp.flags.ack==1 && tcp.srcport==443 && $REGSRC"
RST443="tcp.flags.reset==1 && tcp.srcport==443 && $REGSRC"
FIN443="tcp.flags.fin==1 && tcp.flags.reset==0 && tcp.srcport==443 && $REGSRC"
ICMPERR='(icmp.type==3 || icmpv6.type==1)'
SH='tls.handshake.type==2'
CH_SNI='tls.handshake.type==1 && tls.handshake.extensions_server_name == "labreg.azurecr.io"'
MSCA='frame contains "Microsoft Azure RSA TLS Issuing CA 03"'
CONTOSO='frame contains "Contoso TLS Inspection CA"'
FABRIKAM='frame contains "Fabrikam Secure Web Gateway CA"'
HRR='tls.handshake.type==2 && tls.handshake.extensions_key_share_selected_group'   # HelloRetryRequest
CLIENTSACK='tcp.dstport==443 && tcp.options.sack_le'
SERVERSACK='tcp.srcport==443 && tcp.options.sack_le'
BIGCLI="tcp.dstport==443 && $REGDST && tcp.len>1228"    # client segments that cannot cross
HOLECLI="tcp.dstport==443 && $REGDST && tcp.analysis.lost_segment"   # client data after a hole
HOLESRV="tcp.srcport==443 && $REGSRC && tcp.analysis.lost_segment"   # server data after a hole
NOICMPPTB='(icmp.type==3 && icmp.code==4) || icmpv6.type==2'
DNSOK='dns.flags.response==1 && dns.flags.rcode==0 && dns.a'
UPLOAD="tcp.dstport==443 && $REGDST && tcp.len>=1400"
BIGSRV="tcp.srcport==443 && $REGSRC && tcp.len>1228"     # cannot cross the 1280-MTU link

# checks SCENARIO CLIENT VARIANT: print "description @@ op @@ filter" lines
checks() {
    local sc=$1 cl=$2 var=$3 t reg=128 mbox=64 at=client nosack=0
    # the variant's initial TTLs and capture point (record-all.sh modifiers)
    for t in ${var//./ }; do
        case $t in
            ttl64) reg=64 ;;
            reg[0-9]*) reg=${t#reg} ;;
            mbox[0-9]*) mbox=${t#mbox} ;;
            at-*) at=${t#at-} ;;
            nosack) nosack=1 ;;
        esac
    done
    # hops between the sender and the capture point: registry -> client 2, -> mbox e0 1,
    # -> edge c0 2 (captured leaving the edge), -> server 0; middlebox -> client or edge 1
    local rh=2 mh=1
    case $at in mbox) rh=1; mh=0 ;; server) rh=0; mh=0 ;; esac   # mbox and reg are adjacent
    local SRV="(ip.ttl==$((reg - rh)) || ipv6.hlim==$((reg - rh)))"
    local MBX="(ip.ttl==$((mbox - mh)) || ipv6.hlim==$((mbox - mh)))"
    echo "not truncated @@ ==0 @@ frame.len > frame.cap_len"
    case $var in
        vlan) echo "802.1Q tag VID 100 @@ >=1 @@ vlan.id==100" ;;
        any)  echo "Linux cooked capture @@ >=1 @@ sll" ;;
    esac
    if [ "$nosack" = 1 ]; then
        echo "client SYN without SACK, timestamps, window scale @@ ==0 @@ tcp.flags.syn==1 && tcp.flags.ack==0 && ip.src==198.18.1.2 && (tcp.options.sack_perm || tcp.options.timestamp.tsval || tcp.options.wscale.shift)"
        echo "client SYN seen @@ >=1 @@ tcp.flags.syn==1 && tcp.flags.ack==0 && ip.src==198.18.1.2"
    fi
    if [ "$at" = server ]; then
        # on the server: TTLs undecremented, the client's packets arrive with 62
        echo "client packets arrive with TTL 62 (2 routers) @@ >=1 @@ ip.src==198.18.1.2 && ip.ttl==62"
        case $sc in
        nsg_drop|fw_reset_syn)   # the fault sits before the server: 443 never reaches it
            echo "name resolved @@ >=1 @@ $DNSOK"
            echo "no SYN to 443 reaches the server @@ ==0 @@ $SYN443"
            echo "port 80 answers with the server's own TTL @@ >=1 @@ tcp.flags.syn==1 && tcp.flags.ack==1 && tcp.srcport==80 && ip.src==198.19.10.10 && $SRV"
            echo "registry IP answers ping @@ >=1 @@ icmp.type==0 && ip.src==198.19.10.10"
            return 0 ;;
        fw_close_sni)            # redirected to the middlebox's closer: nothing arrives
            echo "name resolved @@ >=1 @@ $DNSOK"
            echo "no packet to 443 reaches the server @@ ==0 @@ tcp.dstport==443"
            return 0 ;;
        fw_reset_sni)            # handshake only: the ClientHello died at the middlebox
            echo "SYN-ACK with the server's own TTL @@ >=1 @@ $SYNACK443 && $SRV"
            echo "the client's ACK arrives @@ >=1 @@ tcp.dstport==443 && $REGDST && tcp.flags.syn==0 && tcp.flags.ack==1 && tcp.len==0"
            echo "no ClientHello reaches the server @@ ==0 @@ tls.handshake.type==1"
            echo "no RST at the server @@ ==0 @@ tcp.flags.reset==1"
            return 0 ;;
        esac
    fi
    case $sc in
    healthy)
        echo "SYN-ACK from the registry with server TTL @@ >=1 @@ $SYNACK443 && $SRV"
        echo "no SYN-ACK with another TTL @@ ==0 @@ $SYNACK443 && !$SRV"
        echo "ServerHello @@ >=1 @@ $SH"
        echo "no ICMP error @@ ==0 @@ $ICMPERR"
        echo "ACR-shaped CNAME chain @@ >=1 @@ dns.cname == \"weu1.fe.azcr.io\""
        case $cl in
            curl|curl6) echo "TLS 1.3 chosen @@ >=1 @@ $SH && tls.handshake.extensions.supported_version==0x0304"
                        echo "certificate not in clear @@ ==0 @@ $MSCA"
                        echo "no RST from the registry @@ ==0 @@ $RST443" ;;
            curl12|openssl) echo "Microsoft issuer in clear @@ >=1 @@ $MSCA"
                        echo "no RST from the registry @@ ==0 @@ $RST443" ;;
            curlup) echo "full-size upload segments @@ >=5 @@ $UPLOAD"
                    echo "no retransmission @@ ==0 @@ tcp.analysis.retransmission" ;;
            skopeo) echo "full-size upload segments @@ >=10 @@ $UPLOAD"
                    echo "pull followed the 307 to the data endpoint @@ >=1 @@ tcp.flags.syn==1 && tcp.flags.ack==1 && $DATSRC && $SRV"
                    echo "data endpoint resolved @@ >=1 @@ $DNSOK && dns.qry.name == \"labreg.westeurope.data.azurecr.io\"" ;;
            diff) echo "port 80 answers @@ >=1 @@ tcp.flags.syn==1 && tcp.flags.ack==1 && tcp.srcport==80 && ip.src==198.19.10.10"
                  echo "registry IP answers ping @@ >=1 @@ icmp.type==0 && ip.src==198.19.10.10"
                  echo "control answers @@ >=1 @@ tcp.flags.syn==1 && tcp.flags.ack==1 && ip.src==198.19.20.20" ;;
        esac
        [ "$cl" = curl6 ] && echo "IPv6 SYN-ACK hop limit 126 @@ >=1 @@ $SYNACK443 && ipv6.hlim==126"
        ;;
    healthy_hrr)
        echo "SYN-ACK from the registry with server TTL @@ >=1 @@ $SYNACK443 && $SRV"
        [ "$cl" = skopeo ] || echo "no RST from the registry @@ ==0 @@ $RST443"
        echo "the server answers (ServerHello) @@ >=1 @@ $SH && !($HRR) && $SRV"
        if [ "$cl" = curl12 ]; then
            echo "TLS 1.2 ECDHE on secp384r1 @@ >=1 @@ tls.handshake.server_named_curve==0x0018"
            echo "Microsoft issuer in clear @@ >=1 @@ $MSCA"
        else
            echo "HelloRetryRequest for secp384r1 from the server @@ >=1 @@ $HRR==24 && $SRV"
            echo "a second ClientHello follows @@ >=2 @@ tls.handshake.type==1"
            echo "TLS 1.3 completes @@ >=1 @@ $SH && !($HRR) && tls.handshake.extensions.supported_version==0x0304"
            echo "server application data @@ >=3 @@ tls.app_data && tcp.srcport==443"
        fi ;;
    nsg_drop|route_none)
        echo "name resolved @@ >=1 @@ $DNSOK"
        echo "SYN to 443 retransmitted @@ >=2 @@ $SYN443"
        echo "no SYN-ACK from 443 @@ ==0 @@ $SYNACK443"
        echo "no RST from 443 @@ ==0 @@ $RST443"
        echo "no ICMP error @@ ==0 @@ $ICMPERR"
        if [ "$cl" = diff ]; then
            echo "control answers TCP @@ >=1 @@ tcp.flags.syn==1 && tcp.flags.ack==1 && ip.src==198.19.20.20"
            echo "control answers ping @@ >=1 @@ icmp.type==0 && ip.src==198.19.20.20"
            echo "port 80 was tried @@ >=1 @@ tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.dstport==80 && ip.dst==198.19.10.10"
            echo "registry IP was pinged @@ >=2 @@ icmp.type==8 && ip.dst==198.19.10.10"
            if [ "$sc" = nsg_drop ]; then
                echo "port 80 of the registry IP answers (server TTL) @@ >=1 @@ tcp.flags.syn==1 && tcp.flags.ack==1 && tcp.srcport==80 && ip.src==198.19.10.10 && $SRV"
                echo "registry IP answers ping @@ >=1 @@ icmp.type==0 && ip.src==198.19.10.10"
            else
                echo "nothing at all from the registry IP @@ ==0 @@ ip.src==198.19.10.10"
            fi
        fi ;;
    fw_reset_syn)
        echo "SYN to 443 @@ >=1 @@ $SYN443"
        echo "no SYN-ACK from 443 @@ ==0 @@ $SYNACK443"
        echo "RST with the middlebox TTL @@ >=1 @@ $RST443 && $MBX"
        echo "no RST with the server TTL @@ ==0 @@ $RST443 && $SRV"
        [ "$cl" = diff ] && echo "port 80 SYN-ACK with server TTL @@ >=1 @@ tcp.flags.syn==1 && tcp.flags.ack==1 && tcp.srcport==80 && ip.src==198.19.10.10 && $SRV"
        ;;
    fw_reset_sni)
        echo "SYN-ACK from the real server (server TTL) @@ >=1 @@ $SYNACK443 && $SRV"
        echo "ClientHello naming the registry @@ >=1 @@ $CH_SNI"
        echo "RST with the middlebox TTL @@ >=1 @@ $RST443 && $MBX"
        echo "no ServerHello @@ ==0 @@ $SH" ;;
    fw_close_sni)
        echo "SYN-ACK made by the middlebox @@ >=1 @@ $SYNACK443 && $MBX"
        echo "no SYN-ACK with server TTL @@ ==0 @@ $SYNACK443 && $SRV"
        echo "ClientHello naming the registry @@ >=1 @@ $CH_SNI"
        echo "FIN from the middlebox @@ >=1 @@ $FIN443 && $MBX"
        echo "no ServerHello @@ ==0 @@ $SH"
        echo "no TLS alert from the middlebox @@ ==0 @@ tls.alert_message && tcp.srcport==443" ;;
    proxy_intercept|proxy_openssl|proxy_squid)   # nginx, openssl s_server, squid ssl-bump
        local ISSUER=$CONTOSO; [ "$sc" = proxy_squid ] && ISSUER=$FABRIKAM
        echo "SYN-ACK made by the middlebox @@ >=1 @@ $SYNACK443 && $MBX"
        echo "no SYN-ACK with server TTL @@ ==0 @@ $SYNACK443 && $SRV"
        echo "ServerHello (from the proxy) @@ >=1 @@ $SH && $MBX"
        case $cl in
            curl12|openssl) echo "foreign issuer in clear @@ >=1 @@ $ISSUER"
                            echo "no Microsoft issuer @@ ==0 @@ $MSCA" ;;
            curl|skopeo|diff) echo "certificate not in clear (TLS 1.3) @@ ==0 @@ $ISSUER"
                            echo "TLS 1.3 chosen @@ >=1 @@ $SH && tls.handshake.extensions.supported_version==0x0304" ;;
        esac
        case $cl in curl|curl12|diff) echo "client alert unknown_ca in clear @@ >=1 @@ tls.alert_message.desc==48 && tcp.dstport==443" ;; esac
        if [ "$sc" = proxy_openssl ]; then case $cl in curl|diff)
            echo "HelloRetryRequest (P-384) from the proxy @@ >=1 @@ $HRR==24 && $MBX" ;; esac
        fi
        if [ "$cl" = diff ]; then   # the same address answers other ports and ping from farther
            echo "port 80 of the registry IP answers with the server TTL @@ >=1 @@ tcp.flags.syn==1 && tcp.flags.ack==1 && tcp.srcport==80 && ip.src==198.19.10.10 && $SRV"
            echo "the registry IP answers ping with the server TTL @@ >=1 @@ icmp.type==0 && ip.src==198.19.10.10 && $SRV"
        fi ;;
    fw_drop_sni)
        echo "SYN-ACK from the real server (server TTL) @@ >=1 @@ $SYNACK443 && $SRV"
        echo "ClientHello naming the registry @@ >=1 @@ $CH_SNI"
        if [ "$cl" = curl6 ]; then   # SYN retransmitted first, so the data RTO is 3 s: once, after the FIN
            echo "ClientHello sent again @@ >=1 @@ tcp.dstport==443 && (tcp.analysis.retransmission || tcp.analysis.out_of_order) && tcp.len>=300"
        else
            echo "ClientHello retransmitted @@ >=3 @@ tcp.dstport==443 && tcp.analysis.retransmission && tcp.len>=300"
        fi
        echo "the ClientHello is never acknowledged @@ ==0 @@ tcp.srcport==443 && $REGSRC && tcp.ack>1"
        echo "no RST, FIN or ServerHello from 443 @@ ==0 @@ ($RST443) || ($FIN443) || $SH" ;;
    reg_stall)
        echo "SYN-ACK with server TTL @@ >=1 @@ $SYNACK443 && $SRV"
        echo "ClientHello naming the registry @@ >=1 @@ $CH_SNI"
        echo "the server acknowledges the ClientHello @@ >=1 @@ tcp.srcport==443 && $REGSRC && $SRV && tcp.len==0 && tcp.ack>=200 && tcp.flags.fin==0"
        echo "the server never sends data @@ ==0 @@ tcp.srcport==443 && $REGSRC && tcp.len>0"
        echo "the client closes first, after its 3 s timeout @@ >=1 @@ tcp.dstport==443 && tcp.flags.fin==1 && frame.time_relative>=2.5"
        echo "the server's FIN comes after the client's deadline and acknowledges its FIN @@ >=1 @@ $FIN443 && $SRV && frame.time_relative>=2.5 && tcp.analysis.acks_frame"
        echo "no RST @@ ==0 @@ tcp.flags.reset==1" ;;
    mbox_stall)
        echo "SYN-ACK made by the middlebox @@ >=1 @@ $SYNACK443 && $MBX"
        echo "no SYN-ACK with server TTL @@ ==0 @@ $SYNACK443 && $SRV"
        echo "ClientHello naming the registry @@ >=1 @@ $CH_SNI"
        echo "the middlebox acknowledges the ClientHello @@ >=1 @@ tcp.srcport==443 && $REGSRC && $MBX && tcp.len==0 && tcp.ack>=200 && tcp.flags.fin==0"
        echo "nothing ever answers it @@ ==0 @@ tcp.srcport==443 && $REGSRC && tcp.len>0"
        echo "the client closes first, after its 3 s timeout @@ >=1 @@ tcp.dstport==443 && tcp.flags.fin==1 && frame.time_relative>=2.5"
        echo "the middlebox's FIN comes after and acknowledges the client's FIN @@ >=1 @@ $FIN443 && $MBX && frame.time_relative>=2.5 && tcp.analysis.acks_frame"
        echo "no RST @@ ==0 @@ tcp.flags.reset==1" ;;
    fw_reset_srv)
        echo "SYN-ACK with the server's TTL @@ >=1 @@ $SYNACK443 && $SRV"
        echo "ClientHello naming the registry @@ >=1 @@ $CH_SNI"
        echo "the server acknowledges the ClientHello @@ >=1 @@ tcp.srcport==443 && $REGSRC && $SRV && tcp.len==0 && tcp.ack>=200 && tcp.flags.reset==0"
        echo "the client closes first, after its 3 s timeout @@ >=1 @@ tcp.dstport==443 && tcp.flags.fin==1 && frame.time_relative>=2.5"
        echo "the server's own RST answers that FIN @@ >=1 @@ $RST443 && $SRV && frame.time_relative>=2.5"
        echo "no RST from 443 before it @@ ==0 @@ $RST443 && frame.time_relative<2.5"
        if [ "$at" = server ]; then
            echo "the server sent its TLS flight @@ >=1 @@ tcp.srcport==443 && $REGSRC && tcp.len>=1000"
            echo "RST forged as the client's, with the middlebox's TTL @@ >=1 @@ tcp.flags.reset==1 && ip.src==198.18.1.2 && $MBX && frame.time_relative<2.5"
        else
            echo "the server's flight never reaches the client @@ ==0 @@ tcp.srcport==443 && $REGSRC && tcp.len>0"
        fi ;;
    icmp_prohibited)
        echo "no SYN-ACK from 443 @@ ==0 @@ $SYNACK443"
        if [ "$cl" = curl6 ]; then
            echo "ICMPv6 admin-prohibited from the middlebox (hlim 63) @@ >=1 @@ icmpv6.type==1 && icmpv6.code==1 && ipv6.hlim==63"
        else
            echo "ICMP type 3 code 13 from the middlebox (TTL 63) @@ >=1 @@ icmp.type==3 && icmp.code==13 && ip.ttl==63"
            echo "ICMP quotes our SYN to 443 @@ >=1 @@ icmp.type==3 && icmp.code==13 && tcp.dstport==443"
        fi ;;
    acr_ip_denied|registry_throttled|privatelink_public)
        echo "SYN-ACK from the registry with server TTL @@ >=1 @@ $SYNACK443 && $SRV"
        echo "ServerHello from the server @@ >=1 @@ $SH && $SRV"
        echo "server sent application data @@ >=1 @@ (tls.record.content_type==23 || tls.record.opaque_type==23) && tcp.srcport==443 && $SRV"
        [ "$cl" = curl12 ] && echo "Microsoft issuer in clear @@ >=1 @@ $MSCA"
        if [ "$sc" = privatelink_public ]; then
            echo "CNAME through privatelink @@ >=1 @@ dns.cname == \"labreg.privatelink.azurecr.io\""
            echo "resolves to the public address @@ >=1 @@ dns.a == 198.19.10.10"
        fi ;;
    dns_nxdomain)
        echo "query for the registry @@ >=1 @@ dns.flags.response==0 && dns.qry.name == \"labreg.azurecr.io\""
        echo "NXDOMAIN answer @@ >=1 @@ dns.flags.response==1 && dns.flags.rcode==3"
        echo "no connection attempted @@ ==0 @@ tcp.flags.syn==1" ;;
    dns_timeout)
        echo "query retried @@ >=2 @@ dns.flags.response==0 && dns.qry.name == \"labreg.azurecr.io\""
        echo "no DNS response @@ ==0 @@ dns.flags.response==1"
        echo "no connection attempted @@ ==0 @@ tcp.flags.syn==1" ;;
    data_endpoint_blocked)
        echo "login server SYN-ACK with server TTL @@ >=1 @@ $SYNACK443 && $SRV"
        echo "ServerHello @@ >=1 @@ $SH"
        if [ "$cl" = skopeo ]; then
            echo "push uploaded full-size segments @@ >=10 @@ $UPLOAD"
            echo "data endpoint resolved @@ >=1 @@ $DNSOK && dns.qry.name == \"labreg.westeurope.data.azurecr.io\""
            echo "SYN to the data endpoint retransmitted @@ >=2 @@ tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.dstport==443 && $DATDST"
            echo "no SYN-ACK from the data endpoint @@ ==0 @@ tcp.flags.syn==1 && tcp.flags.ack==1 && $DATSRC"
            echo "no RST/ICMP for the data endpoint @@ ==0 @@ (tcp.flags.reset==1 && $DATSRC) || $ICMPERR"
        fi ;;
    mtu_blackhole|mtu_drop_in|mtu_drop_out)   # download: the server's full-size segments vanish
        # where they die: mtu_blackhole inside the middlebox (e0 has MTU 1280), mtu_drop_in at
        # the middlebox's prerouting, mtu_drop_out at the edge's postrouting; a capture point
        # before that (tcpdump sees ingress before netfilter, egress after it) still sees them
        local seen=0
        [ "$at" = server ] && seen=1
        [ "$sc" = mtu_drop_out ] && [ "$at" = mbox ] && seen=1
        echo "SYN-ACK from the registry with server TTL @@ >=1 @@ $SYNACK443 && $SRV"
        echo "ClientHello @@ >=1 @@ $CH_SNI"
        echo "no ICMP fragmentation-needed / packet-too-big @@ ==0 @@ $NOICMPPTB"
        if [ "$seen" = 1 ]; then
            echo "server's full-size segments retransmitted @@ >=3 @@ $BIGSRV && tcp.analysis.retransmission"
        else
            echo "no server segment above the path MTU arrives @@ ==0 @@ $BIGSRV"
            echo "no ServerHello (its full-size segment vanished) @@ ==0 @@ $SH"
            echo "a later smaller server segment arrives after the hole @@ >=1 @@ $HOLESRV"
        fi
        if [ "$nosack" = 1 ]; then
            echo "client reports the hole (duplicate ACK, no SACK) @@ >=1 @@ tcp.dstport==443 && tcp.analysis.duplicate_ack"
            echo "no SACK blocks @@ ==0 @@ tcp.options.sack_le"
        else
            echo "client reports a hole (SACK) @@ >=1 @@ $CLIENTSACK"
        fi ;;
    mtu_blackhole_up|mtu_drop_in_up|mtu_drop_out_up)   # upload: the client's full-size segments vanish
        # mtu_blackhole_up: the edge cannot send them on m0 (MTU 1280); mtu_drop_out_up: the
        # edge's postrouting; mtu_drop_in_up: the middlebox's prerouting
        local seen=1
        [ "$at" = server ] && seen=0
        [ "$at" = mbox ] && [ "$sc" != mtu_drop_in_up ] && seen=0
        echo "SYN-ACK from the registry with server TTL @@ >=1 @@ $SYNACK443 && $SRV"
        echo "TLS completes (ServerHello) @@ >=1 @@ $SH"
        echo "no ICMP fragmentation-needed / packet-too-big @@ ==0 @@ $NOICMPPTB"
        case $cl in skopeo|curlup) ;; *) return 0 ;; esac   # small exchanges only: nothing lost
        if [ "$seen" = 1 ]; then
            echo "client's full-size segments retransmitted @@ >=2 @@ $BIGCLI && tcp.analysis.retransmission"
            echo "small server segments still arrive @@ >=1 @@ tcp.srcport==443 && $REGSRC && tcp.len>0"
        else
            echo "no client segment above 1280 bytes arrives @@ ==0 @@ $BIGCLI"
            echo "a later smaller client segment arrives after the hole @@ >=1 @@ $HOLECLI"
        fi
        if [ "$nosack" = 1 ]; then
            # tshark flags these ACKs as duplicates only when nothing else in
            # them changed (a window update hides it), so ask for the ACKs
            [ "$seen" = 1 ] || echo "the server acknowledges while the hole is open (pure ACKs, no SACK) @@ >=1 @@ tcp.srcport==443 && tcp.len==0 && tcp.flags.ack==1 && tcp.flags.syn==0 && tcp.flags.fin==0"
            echo "no SACK blocks @@ ==0 @@ tcp.options.sack_le"
        else
            echo "the server reports the hole (SACK) @@ >=1 @@ $SERVERSACK"
        fi ;;
    proxy_denied|proxy_auth|proxy_badgw|proxy_reset|proxy_hang|proxy_tunnel|proxy_bump)
        # tests/lab/record-proxy.sh: an explicit proxy on 198.18.240.1:3128
        echo "CONNECT to the registry name sent to the proxy @@ >=1 @@ tcp.dstport==3128 && frame contains \"CONNECT labreg.azurecr.io:443 HTTP/1.1\""
        echo "nothing to port 443 @@ ==0 @@ tcp.port==443"
        case $sc in
        proxy_denied) if [ "$var" = split ]; then
                          echo "the reply in 7-byte segments @@ >=20 @@ tcp.srcport==3128 && tcp.len==7"
                      else
                          echo "403 from the proxy @@ >=1 @@ tcp.srcport==3128 && frame contains \"HTTP/1.1 403 Forbidden\""
                      fi ;;
        proxy_auth)   echo "407 with a Basic challenge @@ >=1 @@ tcp.srcport==3128 && frame contains \"Proxy-Authenticate: Basic\"" ;;
        proxy_badgw)  echo "502 from the proxy @@ >=1 @@ tcp.srcport==3128 && frame contains \"HTTP/1.1 502 Bad Gateway\"" ;;
        proxy_reset)  echo "RST from the proxy @@ >=1 @@ tcp.srcport==3128 && tcp.flags.reset==1"
                      echo "no reply bytes @@ ==0 @@ tcp.srcport==3128 && tcp.len>0" ;;
        proxy_hang)   echo "no reply bytes @@ ==0 @@ tcp.srcport==3128 && tcp.len>0"
                      echo "the client's FIN @@ >=1 @@ tcp.dstport==3128 && tcp.flags.fin==1" ;;
        proxy_tunnel) echo "200 from the proxy @@ >=1 @@ tcp.srcport==3128 && frame contains \"200 Connection established\""
                      echo "ServerHello in the tunnel @@ >=1 @@ $SH && tcp.srcport==3128"
                      [ "$cl" = curl12 ] && echo "Microsoft issuer in clear @@ >=1 @@ $MSCA" ;;
        proxy_bump)   echo "200 from the proxy @@ >=1 @@ tcp.srcport==3128 && frame contains \"200 Connection established\""
                      echo "foreign issuer in clear @@ >=1 @@ $CONTOSO"
                      echo "client alert unknown_ca in clear @@ >=1 @@ tls.alert_message.desc==48 && tcp.dstport==3128" ;;
        esac ;;
    registry_denied_keys|registry_throttled_keys|registry_disallowed_keys|registry_challenge_keys)
        # tests/lab/record-keylog.sh: the registry stand-in on 198.18.241.1, the client's
        # key log in a Decryption Secrets Block (none in the .raw variant)
        local CODE
        case $sc in
            registry_denied_keys) CODE=403 ;; registry_throttled_keys) CODE=429 ;;
            registry_disallowed_keys) CODE=405 ;; registry_challenge_keys) CODE=401 ;;
        esac
        echo "TLS completes (ServerHello) @@ >=1 @@ $SH && ip.src==198.18.241.1"
        if [ "$var" = raw ]; then
            echo "no HTTP without the key log @@ ==0 @@ http.response"
        else
            echo "the key log opens the answer: HTTP $CODE @@ >=1 @@ http.response.code==$CODE && ip.src==198.18.241.1"
            [ "$sc" = registry_denied_keys ] && echo "the DENIED body names the client @@ >=1 @@ http.file_data contains \"client with IP '198.18.241.2'\""
            [ "$sc" = registry_disallowed_keys ] && echo "the request was a DELETE @@ >=1 @@ http.request.method==\"DELETE\""
        fi ;;
    *) return 1 ;;
    esac
    return 0
}

LABELS=$DIR/LABELS.tsv
shopt -s nullglob
files=("$DIR"/*.pcap "$DIR"/*.pcapng)
[ ${#files[@]} -gt 0 ] || bad setup "no captures in $DIR"
for f in "${files[@]}"; do
    base=$(basename "$f"); cap=${base%.pcapng}; cap=${cap%.pcap}
    sc=${cap%%.*}; rest=${cap#*.}; cl=${rest%%.*}; var=""; [ "$rest" != "$cl" ] && var=${rest#*.}
    [ "${base##*.}" = pcapng ] && var=${var:-pcapng}
    if ! lines=$(checks "$sc" "$cl" "$var"); then bad "$base" "no checks known for scenario '$sc'"; continue; fi
    if [ -s "$LABELS" ]; then
        if awk -F'\t' -v c="$base" '$1==c {f=1} END {exit !f}' "$LABELS"; then ok "$base: has a LABELS.tsv row"
        else bad "$base: has a LABELS.tsv row" "missing in $LABELS"; fi
    fi
    descs=(); ops=(); zargs="io,stat,0"
    while IFS= read -r l; do
        descs+=("${l%% @@ *}"); r=${l#* @@ }; ops+=("${r%% @@ *}"); zargs+=",${r#* @@ }"
    done <<<"$lines"
    out=$(tshark -r "$f" -q -z "$zargs" 2>&1)
    row=$(printf '%s\n' "$out" | grep '<>' | tail -1)
    if [ -z "$row" ]; then bad "$base" "tshark failed: $(printf '%s' "$out" | grep -v 'Running as user' | head -2 | tr '\n' ' ')"; continue; fi
    IFS='|' read -r -a cols <<<"$row"
    for i in "${!descs[@]}"; do
        n=$(echo "${cols[$((2 + 2 * i))]}" | tr -d ' ')
        op=${ops[$i]}; want=${op#??}
        case $op in
            ">="*) [ "$n" -ge "$want" ] && ok "$base: ${descs[$i]}" || bad "$base: ${descs[$i]}" "$n frames, want >= $want" ;;
            "=="*) [ "$n" -eq "$want" ] && ok "$base: ${descs[$i]}" || bad "$base: ${descs[$i]}" "$n frames, want $want" ;;
        esac
    done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
