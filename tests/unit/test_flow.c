/* test_flow.c: the flow table from packet summaries: roles, Zeek
 * conn_state and history, retransmissions, holes, ICMP matching, and TLS
 * reassembly across out-of-order and overlapping segments.  */
#include <stdlib.h>

#include "capture/flow.h"
#include "check.h"
#include "packet.h"

static struct cap_flow last;        /* copy of the flow handed to done() */
static unsigned done_calls;
static uint64_t last_client_hello_frame;    /* the TLS facts die with the flow */

static void on_done(void *ctx, const struct cap_flow *f)
{
    (void)ctx;
    last = *f;
    done_calls++;
    const struct cap_tls_facts *tls = f->dir[CAP_C2S].tls;
    last_client_hello_frame = tls && tls->tls.client_hello ? tls->client_hello.frame : 0;
}

static uint64_t frame;

/* A TCP packet between the lab client 198.18.1.2:40000 and 198.19.10.10:443. */
static struct cap_pkt tcp(bool from_client, uint8_t flags, uint32_t seq, uint32_t ack,
                          const uint8_t *payload, uint32_t len, uint8_t ttl)
{
    return test_tcp_segment(++frame, 1000000, from_client, 40000, flags, seq, ack, payload, len, ttl);
}

static struct cap_flow_table *table(void)
{
    frame = 0;
    done_calls = 0;
    memset(&last, 0, sizeof(last));
    return cap_flows_new(on_done, NULL);
}

static void syn_unanswered_is_s0(void)
{
    struct cap_flow_table *t = table();
    struct cap_pkt p = tcp(true, CAP_TH_SYN, 1000, 0, NULL, 0, 64);
    cap_flows_tcp(t, &p);
    p = tcp(true, CAP_TH_SYN, 1000, 0, NULL, 0, 64);
    cap_flows_tcp(t, &p);
    cap_flows_free(t);
    CHECK_EQ_INT(done_calls, 1);
    CHECK_EQ_INT(last.n_syn, 2);
    CHECK_EQ_STR(cap_flow_conn_state(&last), "S0");
    CHECK_EQ_STR(last.history, "S");
    CHECK_EQ_INT(last.client_by, 's');
}

static void rst_to_syn_is_rej(void)
{
    struct cap_flow_table *t = table();
    struct cap_pkt p = tcp(true, CAP_TH_SYN, 1000, 0, NULL, 0, 64);
    cap_flows_tcp(t, &p);
    p = tcp(false, CAP_TH_RST | CAP_TH_ACK, 0, 1001, NULL, 0, 63);
    cap_flows_tcp(t, &p);
    cap_flows_free(t);
    CHECK_EQ_STR(cap_flow_conn_state(&last), "REJ");
    CHECK_EQ_STR(last.history, "Sr");
    CHECK_EQ_INT(last.rst_stage, CAP_STAGE_SYN_SENT);
    CHECK_EQ_INT(last.dir[CAP_S2C].rst[0].ttl, 63);
}

/* Full handshake, a ClientHello split in two segments delivered out of
 * order with an overlapping retransmission, then FINs both ways.  */
static void handshake_and_reassembly(void)
{
    /* A minimal ClientHello in one TLS record (RFC 8446 4.1.2). */
    uint8_t ch[52] = {
        0x16, 0x03, 0x01, 0x00, 0x2f,           /* record: handshake, TLS 1.0, length 47 */
        0x01, 0x00, 0x00, 0x2b,                 /* ClientHello, length 43 */
        0x03, 0x03,                             /* legacy_version TLS 1.2 */
        /* bytes 11..42: random, all zero */
    };
    ch[43] = 0x00;                              /* session id: empty */
    ch[44] = 0x00; ch[45] = 0x02;               /* cipher suites: 2 bytes */
    ch[46] = 0x13; ch[47] = 0x01;               /* TLS_AES_128_GCM_SHA256 */
    ch[48] = 0x01; ch[49] = 0x00;               /* compression: null */
    ch[50] = 0x00; ch[51] = 0x00;               /* extensions: none */
    const uint32_t len = 52;

    struct cap_flow_table *t = table();
    struct cap_pkt p = tcp(true, CAP_TH_SYN, 1000, 0, NULL, 0, 64);
    cap_flows_tcp(t, &p);
    p = tcp(false, CAP_TH_SYN | CAP_TH_ACK, 5000, 1001, NULL, 0, 126);
    cap_flows_tcp(t, &p);
    p = tcp(true, CAP_TH_ACK, 1001, 5001, NULL, 0, 64);
    cap_flows_tcp(t, &p);
    /* second half first (bytes 20..51), then the first half (0..29, overlapping) */
    p = tcp(true, CAP_TH_ACK | CAP_TH_PSH, 1001 + 20, 5001, ch + 20, len - 20, 64);
    cap_flows_tcp(t, &p);
    p = tcp(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, ch, 30, 64);
    cap_flows_tcp(t, &p);
    p = tcp(true, CAP_TH_FIN | CAP_TH_ACK, 1001 + len, 5001, NULL, 0, 64);
    cap_flows_tcp(t, &p);
    p = tcp(false, CAP_TH_FIN | CAP_TH_ACK, 5001, 1001 + len + 1, NULL, 0, 126);
    cap_flows_tcp(t, &p);
    cap_flows_free(t);
    CHECK_EQ_STR(cap_flow_conn_state(&last), "SF");
    CHECK_EQ_STR(last.history, "ShADTFf");
    CHECK(last.hs_ack);
    CHECK(last.dir[CAP_C2S].hole);          /* the second half came first */
    CHECK(last.dir[CAP_C2S].hole_filled);
    CHECK_EQ_INT(last.dir[CAP_C2S].retransmits, 1);
    /* The message starts at offset 0, which the later (first-half) segment carried. */
    CHECK_EQ_INT(last_client_hello_frame, 5);
}

static void server_hole_never_filled(void)
{
    static uint8_t data[1400];
    struct cap_flow_table *t = table();
    struct cap_pkt p = tcp(true, CAP_TH_SYN, 1000, 0, NULL, 0, 64);
    cap_flows_tcp(t, &p);
    p = tcp(false, CAP_TH_SYN | CAP_TH_ACK, 5000, 1001, NULL, 0, 126);
    cap_flows_tcp(t, &p);
    p = tcp(false, CAP_TH_ACK, 5001 + 2800, 1001, data, 300, 126);  /* two full segments lost */
    cap_flows_tcp(t, &p);
    p = tcp(false, CAP_TH_ACK, 5001 + 2800, 1001, data, 300, 126);  /* the tail again */
    cap_flows_tcp(t, &p);
    cap_flows_free(t);
    CHECK(last.dir[CAP_S2C].hole);
    CHECK(!last.dir[CAP_S2C].hole_filled);
    CHECK_EQ_INT(last.dir[CAP_S2C].hole_len, 2800);
}

static void full_size_retransmissions(void)
{
    static uint8_t data[1448];
    struct cap_flow_table *t = table();
    struct cap_pkt p = tcp(true, CAP_TH_SYN, 1000, 0, NULL, 0, 64);
    cap_flows_tcp(t, &p);
    p = tcp(false, CAP_TH_SYN | CAP_TH_ACK, 5000, 1001, NULL, 0, 126);
    cap_flows_tcp(t, &p);
    for (int i = 0; i < 3; i++) {
        p = tcp(true, CAP_TH_ACK, 1001, 5001, data, sizeof(data), 64);
        cap_flows_tcp(t, &p);
    }
    cap_flows_free(t);
    CHECK_EQ_INT(last.dir[CAP_C2S].full_retransmits, 2);
    CHECK_EQ_INT(last.dir[CAP_C2S].full_retransmit_end, 1448);
    CHECK(!last.dir[CAP_S2C].ack_set || last.dir[CAP_S2C].ack_high < 1448);
}

static void icmp_matches_quoted_syn_only(void)
{
    struct cap_flow_table *t = table();
    struct cap_pkt p = tcp(true, CAP_TH_SYN, 1000, 0, NULL, 0, 64);
    cap_flows_tcp(t, &p);
    struct cap_pkt icmp;
    memset(&icmp, 0, sizeof(icmp));
    icmp.frame = ++frame;
    icmp.ipver = 4;
    icmp.proto = 1;
    icmp.src = (struct cap_addr){ .family = 4, .a = { 198, 18, 2, 2 } };
    icmp.icmp_err = (struct cap_icmp_err){
        .present = true, .type = 3, .code = 13, .q_proto = 6,
        .q_src = { .family = 4, .a = { 198, 18, 1, 2 } }, .q_dst = { .family = 4, .a = { 198, 19, 10, 10 } },
        .q_sport = 40000, .q_dport = 443, .q_ports_valid = true, .q_seq = 999, .q_seq_valid = true,
    };
    CHECK(cap_flows_icmp(t, &icmp) == NULL);        /* a sequence number we never sent */
    icmp.icmp_err.q_seq = 1000;
    CHECK(cap_flows_icmp(t, &icmp) != NULL);
    icmp.icmp_err.q_dport = 444;
    CHECK(cap_flows_icmp(t, &icmp) == NULL);        /* no such flow */
    cap_flows_free(t);
    CHECK_EQ_INT(last.n_icmp, 1);
    CHECK_EQ_INT(last.icmp[0].code, 13);
}

static void midstream_roles_by_port(void)
{
    struct cap_flow_table *t = table();
    struct cap_pkt p = tcp(false, CAP_TH_ACK, 5000, 1000, NULL, 0, 126);
    cap_flows_tcp(t, &p);
    cap_flows_free(t);
    CHECK_EQ_INT(last.client_by, 'p');
    CHECK_EQ_INT(last.server_port, 443);
    CHECK_EQ_STR(cap_flow_conn_state(&last), "OTH");
    CHECK_EQ_INT(cap_flow_stage(&last), CAP_STAGE_MIDSTREAM);
}

/* --port 50443: a flow first seen midstream from the registry's port to a
 * lower client port still has its server on 50443 (by the lower port alone,
 * the client's 40000 would have been taken for the server's).  */
static void midstream_roles_by_registry_port(void)
{
    struct cap_flow_table *t = table();
    cap_flows_set_server_port(t, 50443);
    struct cap_pkt p = tcp(false, CAP_TH_ACK, 5000, 1000, NULL, 0, 126);
    p.sport = 50443;
    cap_flows_tcp(t, &p);
    cap_flows_free(t);
    CHECK_EQ_INT(last.client_by, 'p');
    CHECK_EQ_INT(last.server_port, 50443);
    CHECK_EQ_INT(last.client_port, 40000);
}

static void hop_distance(void)
{
    CHECK_EQ_INT(cap_hop_distance(126), 2);
    CHECK_EQ_INT(cap_hop_distance(63), 1);
    CHECK_EQ_INT(cap_hop_distance(64), 0);
    CHECK_EQ_INT(cap_hop_distance(242), 13);
    CHECK_EQ_INT(cap_hop_distance(0), 32);
}

int main(void)
{
    RUN(syn_unanswered_is_s0);
    RUN(rst_to_syn_is_rej);
    RUN(handshake_and_reassembly);
    RUN(server_hole_never_filled);
    RUN(full_size_retransmissions);
    RUN(icmp_matches_quoted_syn_only);
    RUN(midstream_roles_by_port);
    RUN(midstream_roles_by_registry_port);
    RUN(hop_distance);
    return check_summary();
}
