/* test_engine.c: verdicts from packet summaries fed to the engine, for the
 * cases the lab cannot make: a path-MTU report from a router, and a
 * completed connection that got the same report (PMTUD worked).  */
#include <string.h>

#include "analysis/analysis.h"
#include "check.h"

static uint64_t frame;

static const struct cap_addr client = { .family = 4, .a = { 198, 18, 1, 2 } };
static const struct cap_addr server = { .family = 4, .a = { 198, 19, 10, 10 } };
static const struct cap_addr router = { .family = 4, .a = { 198, 18, 2, 2 } };

static struct cap_pkt tcp(bool from_client, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len)
{
    static const uint8_t zeros[1448];
    struct cap_pkt p;
    memset(&p, 0, sizeof(p));
    p.frame = ++frame;
    p.ts_ns = (int64_t)frame * 100000000;   /* 100 ms apart */
    p.ipver = 4;
    p.proto = 6;
    p.src = from_client ? client : server;
    p.dst = from_client ? server : client;
    p.sport = from_client ? 40000 : 443;
    p.dport = from_client ? 443 : 40000;
    p.tcp_flags = flags;
    p.seq = seq;
    p.ack = ack;
    p.ttl = from_client ? 64 : 126;
    p.payload = len ? zeros : NULL;
    p.payload_len = len;
    p.payload_wire_len = len;
    return p;
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

static bool has_evidence(const struct an_endpoint *ep, const char *text)
{
    for (unsigned i = 0; i < ep->n_evidence; i++)
        if (strstr(ep->evidence[i].what, text))
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
        CHECK(has_evidence(&r.endpoints[0], "next-hop MTU 1280"));
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

int main(void)
{
    RUN(frag_needed_and_stall_is_mtu_blackhole);
    RUN(frag_needed_then_completed_is_ok);
    RUN(lone_syn_counts_after_the_deadline);
    return check_summary();
}
