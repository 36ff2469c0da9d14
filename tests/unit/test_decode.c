/* test_decode.c: cap_decode() on annotated packets, one layer stack or hostile field per test. */
#include <stdint.h>

#include "capture/capture.h"
#include "tests/unit/check.h"

/* Decodes n bytes as a record of the given link type; wirelen 0 means n. */
static enum cap_status dec(uint32_t linktype, const uint8_t *b, size_t n, uint32_t wirelen,
                           struct cap_pkt *p)
{
    struct cap_record rec = { 7, 1500000000123456789ll, linktype, (uint32_t)n,
                              wirelen ? wirelen : (uint32_t)n, b };
    return cap_decode(&rec, p);
}

static void addr_is(const struct cap_addr *a, const char *want)
{
    char buf[64];
    cap_addr_str(a, buf, sizeof buf);
    CHECK_EQ_STR(buf, want);
}

static void test_eth_ipv4_tcp_syn_options(void)
{
    static const uint8_t b[] = {
        /* Ethernet: dst, src, type IPv4 */
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00,
        /* IPv4: version 4 IHL 5, TOS, total 60, id 0x1234, DF, TTL 64, proto 6, checksum */
        0x45, 0x00, 0x00, 0x3c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
        /* src 198.18.0.1, dst 198.19.0.2 */
        198, 18, 0, 1, 198, 19, 0, 2,
        /* TCP: sport 50000, dport 443, seq 0x01020304, ack 0 */
        0xc3, 0x50, 0x01, 0xbb, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00,
        /* data offset 10 words, flags SYN, window 64240, checksum, urgent */
        0xa0, 0x02, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00,
        /* options: MSS 1460 */
        0x02, 0x04, 0x05, 0xb4,
        /* SACK permitted */
        0x04, 0x02,
        /* timestamps TSval 1, TSecr 0 */
        0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        /* NOP, window scale 7 */
        0x01, 0x03, 0x03, 0x07,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_ETHERNET, b, sizeof b, 0, &p), CAP_OK);
    CHECK_EQ_INT(p.frame, 7);
    CHECK_EQ_INT(p.ipver, 4);
    addr_is(&p.src, "198.18.0.1");
    addr_is(&p.dst, "198.19.0.2");
    CHECK_EQ_INT(p.ttl, 64);
    CHECK_EQ_INT(p.ip_id, 0x1234);
    CHECK(p.df);
    CHECK_EQ_INT(p.proto, 6);
    CHECK_EQ_INT(p.sport, 50000);
    CHECK_EQ_INT(p.dport, 443);
    CHECK_EQ_INT(p.seq, 0x01020304);
    CHECK_EQ_INT(p.tcp_flags, CAP_TH_SYN);
    CHECK_EQ_INT(p.window, 64240);
    CHECK_EQ_INT(p.mss, 1460);
    CHECK_EQ_INT(p.wscale, 7);
    CHECK(p.sack_ok);
    CHECK(p.has_ts);
    CHECK_EQ_INT(p.payload_len, 0);
    CHECK_EQ_INT(p.payload_wire_len, 0);
    CHECK_EQ_INT(p.anomalies, 0);
    CHECK(!p.snapped);
}

/* IPv4 + UDP with 4 payload bytes, appended after each link header below. */
#define IPV4_UDP_4                                                               \
    /* IPv4: IHL 5, total 32, id 1, no flags, TTL 60, proto 17 */                \
    0x45, 0x00, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x3c, 0x11, 0x00, 0x00,      \
    /* src 198.18.0.1, dst 198.19.0.2 */                                         \
    198, 18, 0, 1, 198, 19, 0, 2,                                                \
    /* UDP: sport 5353, dport 53, length 12, checksum */                         \
    0x14, 0xe9, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00,                              \
    /* payload */                                                                \
    'a', 'b', 'c', 'd'

static void check_udp4(const struct cap_pkt *p)
{
    CHECK_EQ_INT(p->ipver, 4);
    CHECK_EQ_INT(p->proto, 17);
    CHECK_EQ_INT(p->sport, 5353);
    CHECK_EQ_INT(p->dport, 53);
    CHECK_EQ_INT(p->payload_len, 4);
    CHECK_EQ_INT(p->payload_wire_len, 4);
    CHECK(p->payload && p->payload[0] == 'a' && p->payload[3] == 'd');
}

static void test_vlan(void)
{
    static const uint8_t b[] = {
        /* Ethernet: dst, src, type 802.1Q */
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00,
        /* tag: PCP 0, VLAN 100; inner type IPv4 */
        0x00, 0x64, 0x08, 0x00,
        IPV4_UDP_4,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_ETHERNET, b, sizeof b, 0, &p), CAP_OK);
    check_udp4(&p);
}

static void test_qinq(void)
{
    static const uint8_t b[] = {
        /* Ethernet: dst, src, type 802.1ad S-tag */
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0xa8,
        /* S-tag VLAN 10, next 802.1Q */
        0x00, 0x0a, 0x81, 0x00,
        /* C-tag VLAN 20, next IPv4 */
        0x00, 0x14, 0x08, 0x00,
        IPV4_UDP_4,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_ETHERNET, b, sizeof b, 0, &p), CAP_OK);
    check_udp4(&p);
}

static void test_too_many_vlan_tags(void)
{
    uint8_t b[14 + 4 * 20];
    /* Ethernet: dst, src (zero) then 20 stacked 802.1Q tags: over LIM_MAX_LAYERS */
    memset(b, 0, sizeof b);
    for (size_t i = 12; i + 1 < sizeof b; i += 4) {
        b[i] = 0x81;
        b[i + 1] = 0x00;
    }
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_ETHERNET, b, sizeof b, 0, &p), CAP_INVALID);
    CHECK(p.anomalies & CAP_ANOM_TOO_MANY_LAYERS);
    CHECK_EQ_INT(p.ipver, 0);
}

static void test_sll(void)
{
    static const uint8_t b[] = {
        /* Linux cooked v1: packet type 0 (to us), ARPHRD_ETHER 1, address length 6 */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x06,
        /* address, padded to 8 */
        1, 2, 3, 4, 5, 6, 0, 0,
        /* protocol IPv4 */
        0x08, 0x00,
        IPV4_UDP_4,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_LINUX_SLL, b, sizeof b, 0, &p), CAP_OK);
    check_udp4(&p);
}

static void test_sll2_ipv6_tcp(void)
{
    static const uint8_t b[] = {
        /* Linux cooked v2: protocol IPv6, reserved, ifindex 2 */
        0x86, 0xdd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
        /* ARPHRD_ETHER, packet type 4 (outgoing), address length 6, address */
        0x00, 0x01, 0x04, 0x06, 1, 2, 3, 4, 5, 6, 0, 0,
        /* IPv6: version 6, payload length 22, next TCP, hop limit 57 */
        0x60, 0x00, 0x00, 0x00, 0x00, 0x16, 0x06, 0x39,
        /* src 2001:db8::1 */
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        /* dst 2001:db8::2 */
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
        /* TCP: sport 443, dport 40000, seq 5, ack 6 */
        0x01, 0xbb, 0x9c, 0x40, 0, 0, 0, 5, 0, 0, 0, 6,
        /* data offset 5, flags PSH|ACK, window 512, checksum, urgent */
        0x50, 0x18, 0x02, 0x00, 0, 0, 0, 0,
        /* payload */
        'h', 'i',
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_LINUX_SLL2, b, sizeof b, 0, &p), CAP_OK);
    CHECK_EQ_INT(p.ipver, 6);
    addr_is(&p.src, "2001:db8::1");
    addr_is(&p.dst, "2001:db8::2");
    CHECK_EQ_INT(p.ttl, 57);
    CHECK_EQ_INT(p.sport, 443);
    CHECK_EQ_INT(p.dport, 40000);
    CHECK_EQ_INT(p.ack, 6);
    CHECK_EQ_INT(p.tcp_flags, CAP_TH_PSH | CAP_TH_ACK);
    CHECK_EQ_INT(p.payload_len, 2);
    CHECK_EQ_INT(p.wscale, -1);
    CHECK_EQ_INT(p.mss, 0);
}

static void test_raw_ipv6_ext_headers(void)
{
    static const uint8_t b[] = {
        /* IPv6: payload length 39, next hop-by-hop, hop limit 64 */
        0x60, 0x00, 0x00, 0x00, 0x00, 0x27, 0x00, 0x40,
        /* src ::1, dst ::2 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
        /* hop-by-hop: next destination options, length 0 (8 bytes), PadN 4 */
        0x3c, 0x00, 0x01, 0x04, 0, 0, 0, 0,
        /* destination options: next TCP, length 0, PadN 4 */
        0x06, 0x00, 0x01, 0x04, 0, 0, 0, 0,
        /* TCP: sport 1234, dport 443, seq 1, ack 0, offset 5, SYN, window 1024 */
        0x04, 0xd2, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x04, 0x00, 0, 0, 0, 0,
        /* payload (data on a SYN) */
        'x', 'y', 'z',
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_RAW, b, sizeof b, 0, &p), CAP_OK);
    CHECK_EQ_INT(p.ipver, 6);
    CHECK_EQ_INT(p.proto, 6);
    CHECK_EQ_INT(p.sport, 1234);
    CHECK_EQ_INT(p.dport, 443);
    CHECK_EQ_INT(p.tcp_flags, CAP_TH_SYN);
    CHECK_EQ_INT(p.payload_len, 3);
    CHECK_EQ_INT(p.payload_wire_len, 3);
    /* The same bytes as LINKTYPE_IPV6. */
    CHECK_EQ_INT(dec(CAP_LT_IPV6, b, sizeof b, 0, &p), CAP_OK);
    CHECK_EQ_INT(p.dport, 443);
}

static void test_ipv6_ext_header_overruns_payload_length(void)
{
    static const uint8_t b[] = {
        /* IPv6: payload length 8, next destination options, hop limit 1 */
        0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x3c, 0x01,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
        /* destination options: next TCP, length 1 (16 bytes) > payload length 8 */
        0x06, 0x01, 0x01, 0x04, 0, 0, 0, 0,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_RAW, b, sizeof b, 0, &p), CAP_INVALID);
    CHECK(p.anomalies & CAP_ANOM_IP_BAD_LENGTH);
}

static void test_null_loopback_echo_reply(void)
{
    static const uint8_t b[] = {
        /* BSD loopback: family AF_INET (2), little-endian host */
        0x02, 0x00, 0x00, 0x00,
        /* IPv4: total 32, TTL 64, proto ICMP, 127.0.0.1 -> 127.0.0.1 */
        0x45, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00,
        127, 0, 0, 1, 127, 0, 0, 1,
        /* ICMP echo reply: type 0, code 0, checksum, id 0x4242, seq 7 */
        0x00, 0x00, 0x00, 0x00, 0x42, 0x42, 0x00, 0x07,
        /* data */
        1, 2, 3, 4,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_NULL, b, sizeof b, 0, &p), CAP_OK);
    CHECK_EQ_INT(p.proto, 1);
    CHECK_EQ_INT(p.icmp_type, 0);
    CHECK_EQ_INT(p.icmp_echo_id, 0x4242);
    CHECK_EQ_INT(p.icmp_echo_seq, 7);
    CHECK(!p.icmp_err.present);
    CHECK_EQ_INT(p.payload_len, 4);
}

static void test_null_big_endian_ipv6_and_loop(void)
{
    static const uint8_t b[] = {
        /* BSD loopback: family 30 (Darwin AF_INET6), big-endian host */
        0x00, 0x00, 0x00, 0x1e,
        /* IPv6: payload length 8, next UDP, hop limit 64, ::1 -> ::1 */
        0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x11, 0x40,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        /* UDP: sport 1, dport 2, length 8, checksum */
        0x00, 0x01, 0x00, 0x02, 0x00, 0x08, 0x00, 0x00,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_NULL, b, sizeof b, 0, &p), CAP_OK);
    CHECK_EQ_INT(p.ipver, 6);
    CHECK_EQ_INT(p.dport, 2);
    /* OpenBSD loop: always network order. */
    CHECK_EQ_INT(dec(CAP_LT_LOOP, b, sizeof b, 0, &p), CAP_OK);
    CHECK_EQ_INT(p.ipver, 6);
}

static void test_icmp_unreach_quoting_tcp_syn(void)
{
    static const uint8_t b[] = {
        /* IPv4: total 56, TTL 250, proto ICMP, router 198.19.255.9 -> 198.18.0.1 */
        0x45, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00, 0x00, 0xfa, 0x01, 0x00, 0x00,
        198, 19, 255, 9, 198, 18, 0, 1,
        /* ICMP: type 3 (unreachable), code 13 (administratively prohibited), checksum, unused */
        0x03, 0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* quoted IPv4: total 60, id 0x1234, DF, TTL 1, proto TCP, 198.18.0.1 -> 198.19.0.2 */
        0x45, 0x00, 0x00, 0x3c, 0x12, 0x34, 0x40, 0x00, 0x01, 0x06, 0x00, 0x00,
        198, 18, 0, 1, 198, 19, 0, 2,
        /* quoted TCP, first 8 bytes: sport 50000, dport 443, seq 0xdeadbeef */
        0xc3, 0x50, 0x01, 0xbb, 0xde, 0xad, 0xbe, 0xef,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_RAW, b, sizeof b, 0, &p), CAP_OK);
    CHECK_EQ_INT(p.icmp_type, 3);
    CHECK_EQ_INT(p.icmp_code, 13);
    CHECK(p.icmp_err.present);
    CHECK_EQ_INT(p.icmp_err.type, 3);
    CHECK_EQ_INT(p.icmp_err.code, 13);
    CHECK_EQ_INT(p.icmp_err.next_mtu, 0);
    CHECK_EQ_INT(p.icmp_err.q_proto, 6);
    addr_is(&p.icmp_err.q_src, "198.18.0.1");
    addr_is(&p.icmp_err.q_dst, "198.19.0.2");
    CHECK(p.icmp_err.q_ports_valid);
    CHECK_EQ_INT(p.icmp_err.q_sport, 50000);
    CHECK_EQ_INT(p.icmp_err.q_dport, 443);
    CHECK(p.icmp_err.q_seq_valid);
    CHECK_EQ_INT(p.icmp_err.q_seq, 0xdeadbeef);
    CHECK_EQ_INT(p.icmp_err.q_ttl, 1);
    CHECK_EQ_INT(p.anomalies, 0);
}

static void test_icmp_frag_needed_mtu(void)
{
    static const uint8_t b[] = {
        /* IPv4: total 52, TTL 254, proto ICMP */
        0x45, 0x00, 0x00, 0x34, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x01, 0x00, 0x00,
        198, 19, 255, 9, 198, 18, 0, 1,
        /* ICMP: type 3 code 4 (fragmentation needed), checksum, unused, next-hop MTU 1400 */
        0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x05, 0x78,
        /* quoted IPv4: total 1500, DF, TTL 3, proto UDP, 198.18.0.1 -> 198.19.0.2 */
        0x45, 0x00, 0x05, 0xdc, 0x00, 0x01, 0x40, 0x00, 0x03, 0x11, 0x00, 0x00,
        198, 18, 0, 1, 198, 19, 0, 2,
        /* quoted UDP, only 4 bytes: sport 4500, dport 4500 (quote short of 8) */
        0x11, 0x94, 0x11, 0x94,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_IPV4, b, sizeof b, 0, &p), CAP_OK);
    CHECK(p.icmp_err.present);
    CHECK_EQ_INT(p.icmp_err.next_mtu, 1400);
    CHECK_EQ_INT(p.icmp_err.q_proto, 17);
    CHECK(p.icmp_err.q_ports_valid);
    CHECK_EQ_INT(p.icmp_err.q_dport, 4500);
    CHECK(!p.icmp_err.q_seq_valid);
    CHECK(p.anomalies & CAP_ANOM_ICMP_QUOTE_SHORT);
    CHECK_EQ_INT(p.icmp_err.q_ttl, 3);
}

/* IPv6 header + TCP first 8 bytes as quoted by an ICMPv6 error. */
#define QUOTED_IPV6_TCP                                                          \
    /* quoted IPv6: payload length 40, next TCP, hop limit 2 */                  \
    0x60, 0x00, 0x00, 0x00, 0x00, 0x28, 0x06, 0x02,                              \
    /* src 2001:db8::1, dst 2001:db8::443 */                                     \
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,                  \
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x43,            \
    /* quoted TCP: sport 40000, dport 443, seq 0x11223344 */                     \
    0x9c, 0x40, 0x01, 0xbb, 0x11, 0x22, 0x33, 0x44

static void test_icmpv6_unreach_and_too_big(void)
{
    static const uint8_t unreach[] = {
        /* IPv6: payload length 56, next ICMPv6, hop limit 60, 2001:db8::ff -> 2001:db8::1 */
        0x60, 0x00, 0x00, 0x00, 0x00, 0x38, 0x3a, 0x3c,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        /* ICMPv6: type 1 (unreachable), code 1 (administratively prohibited), checksum, unused */
        0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        QUOTED_IPV6_TCP,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_RAW, unreach, sizeof unreach, 0, &p), CAP_OK);
    CHECK_EQ_INT(p.proto, 58);
    CHECK(p.icmp_err.present);
    CHECK_EQ_INT(p.icmp_err.type, 1);
    CHECK_EQ_INT(p.icmp_err.code, 1);
    CHECK_EQ_INT(p.icmp_err.q_proto, 6);
    addr_is(&p.icmp_err.q_dst, "2001:db8::443");
    CHECK_EQ_INT(p.icmp_err.q_dport, 443);
    CHECK_EQ_INT(p.icmp_err.q_seq, 0x11223344);
    CHECK_EQ_INT(p.icmp_err.q_ttl, 2);
    CHECK_EQ_INT(p.anomalies, 0);

    static const uint8_t too_big[] = {
        /* IPv6: payload length 56, next ICMPv6 */
        0x60, 0x00, 0x00, 0x00, 0x00, 0x38, 0x3a, 0x3c,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        /* ICMPv6: type 2 (packet too big), code 0, checksum, MTU 1280 */
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00,
        QUOTED_IPV6_TCP,
    };
    CHECK_EQ_INT(dec(CAP_LT_RAW, too_big, sizeof too_big, 0, &p), CAP_OK);
    CHECK_EQ_INT(p.icmp_err.type, 2);
    CHECK_EQ_INT(p.icmp_err.next_mtu, 1280);
    CHECK(p.icmp_err.q_seq_valid);
}

static void test_ethernet_padding_not_payload(void)
{
    static const uint8_t b[] = {
        /* Ethernet: dst, src, type IPv4 */
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00,
        /* IPv4: total 30, TTL 64, proto UDP */
        0x45, 0x00, 0x00, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00,
        198, 18, 0, 1, 198, 18, 0, 2,
        /* UDP: sport 1000, dport 2000, length 10 */
        0x03, 0xe8, 0x07, 0xd0, 0x00, 0x0a, 0x00, 0x00,
        /* payload */
        'o', 'k',
        /* Ethernet padding to 60 bytes: not payload */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_ETHERNET, b, sizeof b, 0, &p), CAP_OK);
    CHECK_EQ_INT(p.payload_len, 2);
    CHECK_EQ_INT(p.payload_wire_len, 2);
    CHECK(!p.snapped);
    CHECK_EQ_INT(p.anomalies, 0);
}

static void test_truncated_tcp_header(void)
{
    static const uint8_t b[] = {
        /* IPv4: total 40, proto TCP, 198.18.0.1 -> 198.18.0.2 */
        0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00,
        198, 18, 0, 1, 198, 18, 0, 2,
        /* TCP, first 10 of 20 bytes: sport 80, dport 1024, seq 9, ack (cut) */
        0x00, 0x50, 0x04, 0x00, 0, 0, 0, 9, 0, 0,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_RAW, b, sizeof b, 54, &p), CAP_TRUNCATED);
    CHECK(p.snapped);
    CHECK_EQ_INT(p.ipver, 4);
    CHECK_EQ_INT(p.sport, 80);
    CHECK_EQ_INT(p.dport, 1024);
    CHECK_EQ_INT(p.seq, 9);
    CHECK_EQ_INT(p.anomalies, 0);
}

/* IPv4 + TCP SYN with a 4-byte option space given by the caller. */
static enum cap_status tcp_with_options(const uint8_t opt[4], struct cap_pkt *p)
{
    uint8_t b[] = {
        /* IPv4: total 44, proto TCP */
        0x45, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00,
        198, 18, 0, 1, 198, 18, 0, 2,
        /* TCP: ports, seq, ack, data offset 6, SYN, window, checksum, urgent */
        0x00, 0x50, 0x04, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0x10, 0x00, 0, 0, 0, 0,
        /* options (filled in) */
        0, 0, 0, 0,
    };
    memcpy(b + 40, opt, 4);
    return dec(CAP_LT_RAW, b, sizeof b, 0, p);
}

static void test_tcp_option_bad_lengths(void)
{
    struct cap_pkt p;
    /* MSS with length 0: cannot advance */
    static const uint8_t zero_len[4] = { 0x02, 0x00, 0x05, 0xb4 };
    CHECK_EQ_INT(tcp_with_options(zero_len, &p), CAP_OK);
    CHECK(p.anomalies & CAP_ANOM_TCP_OPT_INVALID_LEN);
    CHECK_EQ_INT(p.mss, 0);
    /* NOP, NOP, timestamps claiming 10 bytes in the 2 left */
    static const uint8_t overrun[4] = { 0x01, 0x01, 0x08, 0x0a };
    CHECK_EQ_INT(tcp_with_options(overrun, &p), CAP_OK);
    CHECK(p.anomalies & CAP_ANOM_TCP_OPT_INVALID_LEN);
    CHECK(!p.has_ts);
    /* MSS with length 3: wrong for the kind */
    static const uint8_t wrong[4] = { 0x02, 0x03, 0x05, 0x00 };
    CHECK_EQ_INT(tcp_with_options(wrong, &p), CAP_OK);
    CHECK(p.anomalies & CAP_ANOM_TCP_OPT_INVALID_LEN);
    /* well formed: MSS 1024 */
    static const uint8_t good[4] = { 0x02, 0x04, 0x04, 0x00 };
    CHECK_EQ_INT(tcp_with_options(good, &p), CAP_OK);
    CHECK_EQ_INT(p.anomalies, 0);
    CHECK_EQ_INT(p.mss, 1024);
}

static void test_tcp_data_offset_too_small(void)
{
    static const uint8_t b[] = {
        /* IPv4: total 40, proto TCP */
        0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00,
        198, 18, 0, 1, 198, 18, 0, 2,
        /* TCP with data offset 4 words (< 5) */
        0x00, 0x50, 0x04, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0x40, 0x02, 0x10, 0x00, 0, 0, 0, 0,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_RAW, b, sizeof b, 0, &p), CAP_INVALID);
}

static void test_ihl_below_five(void)
{
    static const uint8_t b[] = {
        /* IPv4 with IHL 4 (16 bytes): contradicts the 20-byte minimum */
        0x44, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00,
        198, 18, 0, 1, 198, 18, 0, 2,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_RAW, b, sizeof b, 0, &p), CAP_INVALID);
    CHECK(p.anomalies & CAP_ANOM_IP_BAD_LENGTH);
    CHECK_EQ_INT(p.sport, 0);
}

static void test_ipv6_length_beyond_capture(void)
{
    static const uint8_t b[] = {
        /* IPv6: payload length 100, next UDP, hop limit 64 */
        0x60, 0x00, 0x00, 0x00, 0x00, 0x64, 0x11, 0x40,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
        /* UDP: sport 53, dport 5353, length 100 */
        0x00, 0x35, 0x14, 0xe9, 0x00, 0x64, 0x00, 0x00,
        /* first 5 payload bytes of 92 */
        1, 2, 3, 4, 5,
    };
    struct cap_pkt p;
    /* The capture kept 53 of 140 bytes: snapped, not an anomaly. */
    CHECK_EQ_INT(dec(CAP_LT_RAW, b, sizeof b, 140, &p), CAP_OK);
    CHECK(p.snapped);
    CHECK_EQ_INT(p.anomalies, 0);
    CHECK_EQ_INT(p.payload_len, 5);
    CHECK_EQ_INT(p.payload_wire_len, 92);
    /* The frame itself was 53 bytes: the IP length lies. */
    CHECK_EQ_INT(dec(CAP_LT_RAW, b, sizeof b, 0, &p), CAP_OK);
    CHECK(p.snapped);
    CHECK(p.anomalies & CAP_ANOM_IP_BAD_LENGTH);
    CHECK_EQ_INT(p.payload_len, 5);
}

static void test_ipv4_later_fragment(void)
{
    static const uint8_t b[] = {
        /* IPv4: total 28, id 9, fragment offset 185 (1480 bytes), proto UDP */
        0x45, 0x00, 0x00, 0x1c, 0x00, 0x09, 0x00, 0xb9, 0x40, 0x11, 0x00, 0x00,
        198, 18, 0, 1, 198, 18, 0, 2,
        /* fragment data, not a UDP header */
        0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_RAW, b, sizeof b, 0, &p), CAP_OK);
    CHECK(p.anomalies & CAP_ANOM_IP_FRAGMENT);
    CHECK_EQ_INT(p.proto, 17);
    CHECK_EQ_INT(p.sport, 0);
    CHECK_EQ_INT(p.payload_len, 0);
}

static void test_rst_with_data(void)
{
    static const uint8_t b[] = {
        /* IPv4: total 43, proto TCP */
        0x45, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00,
        198, 18, 0, 1, 198, 18, 0, 2,
        /* TCP: offset 5, RST|ACK */
        0x01, 0xbb, 0x04, 0x00, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x14, 0x00, 0x00, 0, 0, 0, 0,
        /* diagnostic text */
        'b', 'y', 'e',
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_RAW, b, sizeof b, 0, &p), CAP_OK);
    CHECK(p.anomalies & CAP_ANOM_TCP_RST_WITH_DATA);
    CHECK_EQ_INT(p.payload_len, 3);
}

static void test_arp_and_unknown_linktype(void)
{
    static const uint8_t b[] = {
        /* Ethernet: broadcast dst, src, type ARP */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 0x08, 0x06,
        /* ARP request, Ethernet/IPv4 */
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
    };
    struct cap_pkt p;
    CHECK_EQ_INT(dec(CAP_LT_ETHERNET, b, sizeof b, 0, &p), CAP_UNSUPPORTED);
    CHECK_EQ_INT(p.ipver, 0);
    CHECK_EQ_INT(dec(147, b, sizeof b, 0, &p), CAP_UNSUPPORTED);
    /* An Ethernet header cut short. */
    CHECK_EQ_INT(dec(CAP_LT_ETHERNET, b, 10, 0, &p), CAP_TRUNCATED);
    CHECK_EQ_INT(dec(CAP_LT_ETHERNET, b, 0, 0, &p), CAP_TRUNCATED);
}

static void test_addr_helpers(void)
{
    struct cap_addr a, b;
    CHECK(cap_addr_parse("198.18.0.1", &a));
    CHECK_EQ_INT(a.family, 4);
    addr_is(&a, "198.18.0.1");
    CHECK(cap_addr_parse("2001:db8::1", &b));
    CHECK_EQ_INT(b.family, 6);
    addr_is(&b, "2001:db8::1");
    CHECK(!cap_addr_eq(&a, &b));
    struct cap_addr c;
    CHECK(cap_addr_parse("198.18.0.1", &c));
    CHECK(cap_addr_eq(&a, &c));
    CHECK(!cap_addr_parse("acr.example", &c));
    CHECK_EQ_INT(c.family, 0);
    addr_is(&c, "-");
    char small[4];
    cap_addr_str(&a, small, sizeof small);
    CHECK_EQ_STR(small, "198");
}

int main(void)
{
    RUN(test_eth_ipv4_tcp_syn_options);
    RUN(test_vlan);
    RUN(test_qinq);
    RUN(test_too_many_vlan_tags);
    RUN(test_sll);
    RUN(test_sll2_ipv6_tcp);
    RUN(test_raw_ipv6_ext_headers);
    RUN(test_ipv6_ext_header_overruns_payload_length);
    RUN(test_null_loopback_echo_reply);
    RUN(test_null_big_endian_ipv6_and_loop);
    RUN(test_icmp_unreach_quoting_tcp_syn);
    RUN(test_icmp_frag_needed_mtu);
    RUN(test_icmpv6_unreach_and_too_big);
    RUN(test_ethernet_padding_not_payload);
    RUN(test_truncated_tcp_header);
    RUN(test_tcp_option_bad_lengths);
    RUN(test_tcp_data_offset_too_small);
    RUN(test_ihl_below_five);
    RUN(test_ipv6_length_beyond_capture);
    RUN(test_ipv4_later_fragment);
    RUN(test_rst_with_data);
    RUN(test_arp_and_unknown_linktype);
    RUN(test_addr_helpers);
    return check_summary();
}
