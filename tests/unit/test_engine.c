/* test_engine.c: verdicts from packet summaries fed to the engine: a
 * path-MTU report from a router and a completed connection that got one
 * (PMTUD worked), and the causal order of events (who acted first) for
 * the classes that once misled the engine.  */
#include <string.h>

#include "analysis/analysis.h"
#include "check.h"
#include "packet.h"

static uint64_t frame;
static uint16_t client_port = 40000;     /* of the segments built next */

static const struct cap_addr client = { .family = 4, .a = { 198, 18, 1, 2 } };
static const struct cap_addr server = { .family = 4, .a = { 198, 19, 10, 10 } };
static const struct cap_addr router = { .family = 4, .a = { 198, 18, 2, 2 } };

/* A TCP segment between client:40000 and server:443 with this TTL and payload. */
static struct cap_pkt segment(bool from_client, uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *payload,
                              uint32_t len, uint8_t ttl)
{
    return test_tcp_segment(++frame, 100000000, from_client, client_port, flags, seq, ack, payload, len, ttl);
}

/* Zero payload, client at TTL 64, server at 126 (the lab's hop distance 2). */
static struct cap_pkt tcp(bool from_client, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len)
{
    static const uint8_t zeros[1448];
    return segment(from_client, flags, seq, ack, zeros, len, from_client ? 64 : 126);
}

/* ICMP fragmentation needed (RFC 1191) from the router, quoting the client's
 * segment that starts at seq.  */
static struct cap_pkt frag_needed(uint32_t seq, uint16_t mtu)
{
    struct cap_pkt p;
    memset(&p, 0, sizeof(p));
    p.frame = ++frame;
    p.ts_ns = (int64_t)frame * 100000000;
    p.ipver = 4;
    p.proto = 1;
    p.src = router;
    p.dst = client;
    p.ttl = 63;
    p.icmp_type = 3;
    p.icmp_code = 4;
    p.icmp_err = (struct cap_icmp_err){
        .present = true, .type = 3, .code = 4, .next_mtu = mtu, .q_proto = 6,
        .q_src = client, .q_dst = server, .q_sport = 40000, .q_dport = 443,
        .q_ports_valid = true, .q_seq = seq, .q_seq_valid = true,
    };
    return p;
}

/* ICMP host unreachable from the router quoting the client's SYN. */
static struct cap_pkt host_unreachable(uint32_t seq)
{
    struct cap_pkt p = frag_needed(seq, 0);
    p.icmp_code = 1;
    p.icmp_err.code = 1;
    return p;
}

static void feed(struct an_engine *e, struct cap_pkt p)
{
    an_engine_packet(e, &p, CAP_LT_RAW);
}

static struct an_engine *handshake(void)
{
    static const struct an_options opt = { .port = 443 };
    frame = 0;
    struct an_engine *e = an_engine_new(&opt);
    feed(e, tcp(true, CAP_TH_SYN, 1000, 0, 0));
    feed(e, tcp(false, CAP_TH_SYN | CAP_TH_ACK, 5000, 1001, 0));
    feed(e, tcp(true, CAP_TH_ACK, 1001, 5001, 0));
    return e;
}

/* Evidence of that kind (docs/verdicts.md "Evidence kinds"), not its words. */
static bool has_kind(const struct an_endpoint *ep, const char *kind)
{
    for (unsigned i = 0; i < ep->n_evidence; i++)
        if (ep->evidence[i].kind && strcmp(ep->evidence[i].kind, kind) == 0)
            return true;
    return false;
}

static void frag_needed_and_stall_is_mtu_blackhole(void)
{
    struct an_engine *e = handshake();
    feed(e, tcp(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, 1448));
    feed(e, frag_needed(1001, 1280));
    feed(e, tcp(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, 1448));
    struct an_report r;
    an_engine_finish(e, "analyze", &r);
    an_engine_free(e);
    CHECK_EQ_INT(r.n_endpoints, 1);
    CHECK_EQ_STR(an_verdict_name(r.verdict), "mtu_blackhole");
    if (r.n_endpoints) {
        CHECK_EQ_INT(r.endpoints[0].confidence, AN_CONF_HIGH);
        CHECK(has_kind(&r.endpoints[0], "icmp_frag_needed"));
    }
    an_report_free(&r);
}

static void frag_needed_then_completed_is_ok(void)
{
    struct an_engine *e = handshake();
    feed(e, tcp(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, 1448));
    feed(e, frag_needed(1001, 1280));
    /* PMTUD worked: smaller segments, acknowledged, data both ways. */
    feed(e, tcp(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, 1228));
    feed(e, tcp(false, CAP_TH_ACK | CAP_TH_PSH, 5001, 1001 + 1228, 100));
    feed(e, tcp(true, CAP_TH_ACK | CAP_TH_FIN, 1001 + 1228, 5101, 0));
    feed(e, tcp(false, CAP_TH_ACK | CAP_TH_FIN, 5101, 1001 + 1229, 0));
    struct an_report r;
    an_engine_finish(e, "analyze", &r);
    an_engine_free(e);
    /* Not TLS here: plain data both ways is as far as this layer goes. */
    CHECK(r.verdict != AN_MTU_BLACKHOLE);
    an_report_free(&r);
}

static void lone_syn_counts_after_the_deadline(void)
{
    static const struct an_options opt = { .port = 443 };
    frame = 0;
    struct an_engine *e = an_engine_new(&opt);
    struct cap_pkt syn = tcp(true, CAP_TH_SYN, 1000, 0, 0);
    feed(e, syn);
    /* watch stopped 4 s later with nothing more on the wire */
    an_engine_set_end(e, syn.ts_ns + 4000000000LL);
    struct an_report r;
    an_engine_finish(e, "watch", &r);
    an_engine_free(e);
    CHECK_EQ_STR(an_verdict_name(r.verdict), "silent_drop");
    an_report_free(&r);
}

/* ---- causal order: the first abnormal event decides --------------------- */

/* A TLS 1.2-style ClientHello naming labreg.azurecr.io (78 bytes). */
static const uint8_t client_hello[] = {
    0x16, 0x03, 0x01, 0x00, 0x49,               /* record: handshake, 73 bytes */
    0x01, 0x00, 0x00, 0x45,                     /* ClientHello, 69 bytes */
    0x03, 0x03,                                 /* legacy_version TLS 1.2 */
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,  /* random */
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
    0x00,                                       /* session id: none */
    0x00, 0x02, 0x13, 0x01,                     /* cipher suites: TLS_AES_128_GCM_SHA256 */
    0x01, 0x00,                                 /* compression: null */
    0x00, 0x1a,                                 /* extensions, 26 bytes */
    0x00, 0x00, 0x00, 0x16,                     /* server_name, 22 bytes */
    0x00, 0x14, 0x00, 0x00, 0x11,               /* list 20, host_name, 17 bytes */
    'l', 'a', 'b', 'r', 'e', 'g', '.', 'a', 'z', 'u', 'r', 'e', 'c', 'r', '.', 'i', 'o',
};
#define CH_LEN ((uint32_t)sizeof(client_hello))

/* Every evidence and contradiction names its kind, in snake_case. */
static void check_kinds(const struct an_report *r)
{
    for (unsigned i = 0; i < r->n_endpoints; i++) {
        const struct an_endpoint *ep = &r->endpoints[i];
        for (unsigned j = 0; j < ep->n_evidence + ep->n_contradictions; j++) {
            const char *k = j < ep->n_evidence ? ep->evidence[j].kind : ep->contradictions[j - ep->n_evidence].kind;
            CHECK(k && k[0] >= 'a' && k[0] <= 'z' && strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(k));
        }
    }
}

static struct an_report finish(struct an_engine *e)
{
    struct an_report r;
    an_engine_finish(e, "analyze", &r);
    an_engine_free(e);
    check_kinds(&r);
    return r;
}

static const char *rule_of(const struct an_report *r)
{
    return r->n_endpoints && r->endpoints[0].rule ? r->endpoints[0].rule : "";
}

/* The SNI firewall's pattern, for contrast: the server side closes 1 ms
 * after the ClientHello from another hop distance.  */
static void close_after_hello_from_nearer_is_firewall_reset(void)
{
    struct an_engine *e = handshake();
    feed(e, segment(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, client_hello, CH_LEN, 64));
    feed(e, segment(false, CAP_TH_RST, 5001, 0, NULL, 0, 63));
    struct an_report r = finish(e);
    CHECK_EQ_STR(an_verdict_name(r.verdict), "firewall_reset");
    CHECK_EQ_STR(rule_of(&r), "closed_after_client_hello");
    an_report_free(&r);
}

/* curl --max-time: the client's FIN comes first, the server's FIN answers. */
static void client_gives_up_first_is_not_a_firewall(void)
{
    struct an_engine *e = handshake();
    feed(e, segment(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, client_hello, CH_LEN, 64));
    feed(e, tcp(false, CAP_TH_ACK, 5001, 1001 + CH_LEN, 0));
    feed(e, tcp(true, CAP_TH_ACK | CAP_TH_FIN, 1001 + CH_LEN, 5001, 0));
    feed(e, tcp(false, CAP_TH_ACK | CAP_TH_FIN, 5001, 1002 + CH_LEN, 0));
    struct an_report r = finish(e);
    CHECK_EQ_STR(an_verdict_name(r.verdict), "tls_failure");
    CHECK_EQ_STR(rule_of(&r), "client_gave_up");
    CHECK(r.n_endpoints && r.endpoints[0].n_contradictions == 1);
    an_report_free(&r);
}

/* A filter on the SNI drops the ClientHello: retransmitted, never
 * acknowledged, then the client gives up.  Nothing answered: silent_drop. */
static void dropped_client_hello_is_silent_drop(void)
{
    struct an_engine *e = handshake();
    feed(e, segment(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, client_hello, CH_LEN, 64));
    feed(e, segment(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, client_hello, CH_LEN, 64));
    feed(e, segment(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, client_hello, CH_LEN, 64));
    feed(e, tcp(true, CAP_TH_ACK | CAP_TH_FIN, 1001 + CH_LEN, 5001, 0));
    struct an_report r = finish(e);
    CHECK_EQ_STR(an_verdict_name(r.verdict), "silent_drop");
    CHECK_EQ_STR(rule_of(&r), "client_hello_dropped");
    an_report_free(&r);
}

/* The server's full-size flight died on the path: only its small last
 * segment arrived, beyond a gap the client's ACKs never passed; the FIN that
 * follows is not the cause.  */
static void gap_before_server_fin_is_mtu_blackhole(void)
{
    struct an_engine *e = handshake();
    feed(e, segment(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, client_hello, CH_LEN, 64));
    feed(e, tcp(false, CAP_TH_ACK | CAP_TH_PSH, 5001 + 2896, 1001 + CH_LEN, 300));
    feed(e, tcp(true, CAP_TH_ACK, 1001 + CH_LEN, 5001, 0));     /* duplicate ACK */
    feed(e, tcp(true, CAP_TH_ACK, 1001 + CH_LEN, 5001, 0));
    feed(e, tcp(false, CAP_TH_ACK | CAP_TH_FIN, 5001 + 3196, 1001 + CH_LEN, 0));
    struct an_report r = finish(e);
    CHECK_EQ_STR(an_verdict_name(r.verdict), "mtu_blackhole");
    an_report_free(&r);
}

/* The same gap, but the client's ACK passed it: only the capture missed
 * those bytes, and the connection went on.  */
static void gap_the_client_acknowledged_is_not_mtu(void)
{
    struct an_engine *e = handshake();
    feed(e, segment(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, client_hello, CH_LEN, 64));
    feed(e, tcp(false, CAP_TH_ACK | CAP_TH_PSH, 5001 + 2896, 1001 + CH_LEN, 300));
    feed(e, tcp(true, CAP_TH_ACK, 1001 + CH_LEN, 5001 + 3196, 0));
    struct an_report r = finish(e);
    CHECK(r.verdict != AN_MTU_BLACKHOLE);
    an_report_free(&r);
}

/* Captured on the server: a RST in the client's name at a TTL the client's
 * packets never have, the client's data after it, the server's RST last.  */
static void forged_reset_toward_server_is_firewall_reset(void)
{
    static const struct an_options opt = { .port = 443 };
    frame = 0;
    struct an_engine *e = an_engine_new(&opt);
    feed(e, segment(true, CAP_TH_SYN, 1000, 0, NULL, 0, 50));
    feed(e, segment(false, CAP_TH_SYN | CAP_TH_ACK, 5000, 1001, NULL, 0, 64));
    feed(e, segment(true, CAP_TH_ACK, 1001, 5001, NULL, 0, 50));
    feed(e, segment(true, CAP_TH_RST, 1001, 0, NULL, 0, 163));
    feed(e, segment(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, client_hello, CH_LEN, 50));
    feed(e, segment(false, CAP_TH_RST, 5001, 0, NULL, 0, 64));
    struct an_report r = finish(e);
    CHECK_EQ_STR(an_verdict_name(r.verdict), "firewall_reset");
    CHECK_EQ_STR(rule_of(&r), "reset_forged_in_client_name");
    CHECK(r.n_endpoints && r.endpoints[0].confidence == AN_CONF_HIGH);
    an_report_free(&r);
}

static struct cap_pkt with_ts(struct cap_pkt p)
{
    p.has_ts = true;
    return p;
}

/* The injector sends with the client's own TTL: its RST still lacks the
 * TCP timestamps all the client's packets carry, and the client goes on
 * (its FIN) after it.  Without that FIN the same RST stays the client's. */
static void forged_reset_with_the_clients_ttl(void)
{
    static const struct an_options opt = { .port = 443 };
    for (int went_on = 0; went_on < 2; went_on++) {
        frame = 0;
        struct an_engine *e = an_engine_new(&opt);
        feed(e, with_ts(segment(true, CAP_TH_SYN, 1000, 0, NULL, 0, 62)));
        feed(e, with_ts(segment(false, CAP_TH_SYN | CAP_TH_ACK, 5000, 1001, NULL, 0, 128)));
        feed(e, with_ts(segment(true, CAP_TH_ACK, 1001, 5001, NULL, 0, 62)));
        feed(e, with_ts(segment(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, client_hello, CH_LEN, 62)));
        feed(e, segment(true, CAP_TH_RST, 1001 + CH_LEN, 0, NULL, 0, 62));
        if (went_on)
            feed(e, with_ts(segment(true, CAP_TH_ACK | CAP_TH_FIN, 1001 + CH_LEN, 5001, NULL, 0, 62)));
        feed(e, segment(false, CAP_TH_RST, 5001, 0, NULL, 0, 128));
        struct an_report r = finish(e);
        if (went_on) {
            CHECK_EQ_STR(an_verdict_name(r.verdict), "firewall_reset");
            CHECK_EQ_STR(rule_of(&r), "reset_forged_in_client_name");
        } else {
            CHECK(r.verdict != AN_FIREWALL_RESET && r.verdict != AN_SERVER_RESET);
        }
        an_report_free(&r);
    }
}

/* The client's own RST (its TTL) after its ClientHello is the client's
 * doing, even when data follows from a crafting tool.  */
static void clients_own_reset_is_not_forged(void)
{
    struct an_engine *e = handshake();
    feed(e, segment(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, client_hello, CH_LEN, 64));
    feed(e, segment(true, CAP_TH_RST, 1001 + CH_LEN, 0, NULL, 0, 64));
    feed(e, segment(false, CAP_TH_RST, 5001, 0, NULL, 0, 126));
    struct an_report r = finish(e);
    CHECK(r.verdict != AN_FIREWALL_RESET && r.verdict != AN_SERVER_RESET);
    an_report_free(&r);
}

/* The client acknowledges a SYN-ACK the server never sent (one forged on
 * the path reached it first); the server's RST answers that ACK.  */
static void ack_of_unknown_synack_is_firewall_reset(void)
{
    static const struct an_options opt = { .port = 443 };
    frame = 0;
    struct an_engine *e = an_engine_new(&opt);
    feed(e, tcp(true, CAP_TH_SYN, 1000, 0, 0));
    feed(e, tcp(false, CAP_TH_SYN | CAP_TH_ACK, 5000, 1001, 0));
    feed(e, tcp(true, CAP_TH_ACK, 1001, 777777, 0));
    feed(e, tcp(false, CAP_TH_RST, 777777, 0, 0));
    struct an_report r = finish(e);
    CHECK_EQ_STR(an_verdict_name(r.verdict), "firewall_reset");
    CHECK_EQ_STR(rule_of(&r), "client_acked_unknown_synack");
    an_report_free(&r);
}

/* A transient unreachable quoting the first SYN, then the retransmitted
 * SYN connects and data flows both ways: the ICMP did not end anything. */
static void unreachable_then_completed_is_not_icmp(void)
{
    static const struct an_options opt = { .port = 443 };
    frame = 0;
    struct an_engine *e = an_engine_new(&opt);
    feed(e, tcp(true, CAP_TH_SYN, 1000, 0, 0));
    feed(e, host_unreachable(1000));
    feed(e, tcp(true, CAP_TH_SYN, 1000, 0, 0));
    feed(e, tcp(false, CAP_TH_SYN | CAP_TH_ACK, 5000, 1001, 0));
    feed(e, tcp(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, 100));
    feed(e, tcp(false, CAP_TH_ACK | CAP_TH_PSH, 5001, 1101, 100));
    struct an_report r = finish(e);
    CHECK(r.verdict != AN_ICMP_UNREACHABLE);
    an_report_free(&r);
    /* Without the SYN-ACK the same ICMP decides. */
    frame = 0;
    e = an_engine_new(&opt);
    feed(e, tcp(true, CAP_TH_SYN, 1000, 0, 0));
    feed(e, host_unreachable(1000));
    r = finish(e);
    CHECK_EQ_STR(an_verdict_name(r.verdict), "icmp_unreachable");
    an_report_free(&r);
}

/* The server side resets an established connection from the server's own
 * distance: with the server's TCP timestamps it is the server's RST,
 * without them nothing tells it from one forged with the same TTL. */
static void reset_after_handshake_needs_the_servers_timestamps(void)
{
    static const struct an_options opt = { .port = 443 };
    for (int ts = 0; ts < 2; ts++) {
        frame = 0;
        struct an_engine *e = an_engine_new(&opt);
        feed(e, with_ts(tcp(true, CAP_TH_SYN, 1000, 0, 0)));
        feed(e, with_ts(tcp(false, CAP_TH_SYN | CAP_TH_ACK, 5000, 1001, 0)));
        feed(e, with_ts(tcp(true, CAP_TH_ACK, 1001, 5001, 0)));
        struct cap_pkt rst = tcp(false, CAP_TH_RST, 5001, 0, 0);
        feed(e, ts ? with_ts(rst) : rst);
        struct an_report r = finish(e);
        CHECK_EQ_STR(rule_of(&r), "reset_after_handshake");
        CHECK_EQ_STR(an_verdict_name(r.verdict), ts ? "server_reset" : "connection_reset");
        an_report_free(&r);
    }
}

/* A TLS 1.2 ServerHello (49 bytes). */
static const uint8_t server_hello[] = {
    0x16, 0x03, 0x03, 0x00, 0x2c,               /* record: handshake, 44 bytes */
    0x02, 0x00, 0x00, 0x28,                     /* ServerHello, 40 bytes */
    0x03, 0x03,                                 /* TLS 1.2 */
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,  /* random */
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
    0x00,                                       /* session id: none */
    0xc0, 0x2f,                                 /* ECDHE-RSA-AES128-GCM-SHA256 */
    0x00,                                       /* compression: null */
    0x00, 0x00,                                 /* no extensions */
};

/* One connection with the same SNI completed before another was closed
 * right after its ClientHello from the server's distance: not an SNI
 * filter alone, so the honest parent.  */
static void close_after_hello_contradicted_by_a_completed_one(void)
{
    struct an_engine *e = handshake();       /* client port 40000 */
    feed(e, segment(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, client_hello, CH_LEN, 64));
    feed(e, segment(false, CAP_TH_ACK | CAP_TH_PSH, 5001, 1001 + CH_LEN, server_hello, sizeof(server_hello), 126));
    feed(e, tcp(true, CAP_TH_ACK | CAP_TH_PSH, 1001 + CH_LEN, 5001 + sizeof(server_hello), 100));
    feed(e, tcp(false, CAP_TH_ACK | CAP_TH_PSH, 5001 + sizeof(server_hello), 1101 + CH_LEN, 100));
    client_port = 40001;
    feed(e, tcp(true, CAP_TH_SYN, 7000, 0, 0));
    feed(e, tcp(false, CAP_TH_SYN | CAP_TH_ACK, 9000, 7001, 0));
    feed(e, tcp(true, CAP_TH_ACK, 7001, 9001, 0));
    feed(e, segment(true, CAP_TH_ACK | CAP_TH_PSH, 7001, 9001, client_hello, CH_LEN, 64));
    feed(e, tcp(false, CAP_TH_RST, 9001, 0, 0));
    client_port = 40000;
    struct an_report r = finish(e);
    CHECK_EQ_STR(an_verdict_name(r.verdict), "connection_reset");
    CHECK(r.n_endpoints && r.endpoints[0].n_contradictions == 1);
    an_report_free(&r);
}

/* SYNs that left with TTL 3 are a traceroute's, not a connection: they
 * alone make no silent drop.  */
static void ttl_limited_syns_are_not_a_silent_drop(void)
{
    static const struct an_options opt = { .port = 443 };
    frame = 0;
    struct an_engine *e = an_engine_new(&opt);
    feed(e, segment(true, CAP_TH_SYN, 1000, 0, NULL, 0, 3));
    feed(e, segment(true, CAP_TH_SYN, 1000, 0, NULL, 0, 3));
    struct an_report r = finish(e);
    CHECK_EQ_STR(an_verdict_name(r.verdict), "incomplete");
    an_report_free(&r);
}

/* A DNS answer cut by the snap length is not a DNS failure. */
static void dns_answer_cut_by_snap_length_is_incomplete(void)
{
    static const struct an_options opt = { .port = 443 };
    static const uint8_t answer[] = {
        0x12, 0x34, 0x81, 0x80,                 /* id, response, no error */
        0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,   /* 1 question, 2 answers */
        6, 'l', 'a', 'b', 'r', 'e', 'g', 7, 'a', 'z', 'u', 'r', 'e', 'c', 'r', 2, 'i', 'o', 0,
        0x00, 0x01, 0x00, 0x01,                 /* A, IN; the answers were cut */
    };
    frame = 0;
    struct an_engine *e = an_engine_new(&opt);
    struct cap_pkt p;
    memset(&p, 0, sizeof(p));
    p.frame = ++frame;
    p.ipver = 4;
    p.proto = 17;
    p.src = server;
    p.dst = client;
    p.sport = 53;
    p.dport = 40001;
    p.payload = answer;
    p.payload_len = sizeof(answer);
    p.payload_wire_len = sizeof(answer) + 60;
    p.snapped = true;
    feed(e, p);
    struct an_report r = finish(e);
    CHECK_EQ_STR(an_verdict_name(r.verdict), "incomplete");
    an_report_free(&r);
}

int main(void)
{
    RUN(frag_needed_and_stall_is_mtu_blackhole);
    RUN(frag_needed_then_completed_is_ok);
    RUN(lone_syn_counts_after_the_deadline);
    RUN(close_after_hello_from_nearer_is_firewall_reset);
    RUN(client_gives_up_first_is_not_a_firewall);
    RUN(dropped_client_hello_is_silent_drop);
    RUN(gap_before_server_fin_is_mtu_blackhole);
    RUN(gap_the_client_acknowledged_is_not_mtu);
    RUN(forged_reset_toward_server_is_firewall_reset);
    RUN(clients_own_reset_is_not_forged);
    RUN(forged_reset_with_the_clients_ttl);
    RUN(ack_of_unknown_synack_is_firewall_reset);
    RUN(dns_answer_cut_by_snap_length_is_incomplete);
    RUN(unreachable_then_completed_is_not_icmp);
    RUN(reset_after_handshake_needs_the_servers_timestamps);
    RUN(close_after_hello_contradicted_by_a_completed_one);
    RUN(ttl_limited_syns_are_not_a_silent_drop);
    return check_summary();
}
