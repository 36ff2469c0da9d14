/* test_tls_frames.c: the frame cited for a TLS handshake message is the one
 * Wireshark shows it in: the segment that completes the record in which the
 * message ends (issue 13: a Certificate spread over segments was cited where
 * it started).  */
#include <stdlib.h>

#include "capture/flow.h"
#include "check.h"
#include "packet.h"

static uint64_t ch_frame, sh_frame, cert_frame;
static bool have_cert;

static void on_done(void *ctx, const struct cap_flow *f)
{
    (void)ctx;
    const struct cap_tls_facts *c = f->dir[CAP_C2S].tls, *s = f->dir[CAP_S2C].tls;
    ch_frame = c && c->tls.client_hello ? c->client_hello.frame : 0;
    sh_frame = s && s->tls.server_hello ? s->server_hello.frame : 0;
    cert_frame = s && s->tls.certificate ? s->certificate.frame : 0;
    have_cert = s && s->tls.cert.parsed;
}

static uint64_t frame;

static struct cap_pkt tcp(bool from_client, uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *payload,
                          uint32_t len)
{
    return test_tcp_segment(++frame, 1000000, from_client, 40000, flags, seq, ack, payload, len, from_client ? 64 : 120);
}

static uint8_t der[4096];
static size_t der_len;

static void load_der(void)
{
    FILE *f = fopen("tests/data/tls-leaf-ca-signed.der", "rb");
    der_len = f ? fread(der, 1, sizeof der, f) : 0;
    if (f)
        fclose(f);
}

static size_t put24(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 16), p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)v;
    return 3;
}

/* ServerHello (TLS 1.2, no extensions), Certificate (the test leaf),
 * ServerHelloDone: handshake bytes without record headers.  */
static size_t server_flight(uint8_t *out)
{
    size_t n = 0;
    out[n++] = 2;
    n += put24(out + n, 38);
    out[n++] = 3, out[n++] = 3;
    memset(out + n, 0x42, 32), n += 32;
    out[n++] = 0;
    out[n++] = 0xc0, out[n++] = 0x2f, out[n++] = 0;
    out[n++] = 11;
    n += put24(out + n, 3 + 3 + der_len);
    n += put24(out + n, 3 + der_len);
    n += put24(out + n, der_len);
    memcpy(out + n, der, der_len), n += der_len;
    out[n++] = 14;
    n += put24(out + n, 0);
    return n;
}

/* Wraps handshake bytes hs[from, to) in one record at out. */
static size_t record(uint8_t *out, const uint8_t *hs, size_t from, size_t to)
{
    out[0] = 22, out[1] = 3, out[2] = 3;
    out[3] = (uint8_t)((to - from) >> 8), out[4] = (uint8_t)(to - from);
    memcpy(out + 5, hs + from, to - from);
    return 5 + to - from;
}

static const uint8_t client_hello[] = {
    0x16, 0x03, 0x01, 0x00, 0x2d, 0x01, 0x00, 0x00, 0x29, 0x03, 0x03, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 0x00, 0x00, 0x02, 0xc0,
    0x2f, 0x01, 0x00,
};

/* Handshake, the ClientHello in segments of ch_split bytes, then the server's
 * bytes in the segments given by cuts (offsets into `server`).  */
static void run(const uint8_t *server, size_t server_len, const size_t *cuts, unsigned n_cuts, size_t ch_split)
{
    frame = 0;
    ch_frame = sh_frame = cert_frame = 0;
    struct cap_flow_table *t = cap_flows_new(on_done, NULL);
    struct cap_pkt p = tcp(true, CAP_TH_SYN, 1000, 0, NULL, 0);
    cap_flows_tcp(t, &p);
    p = tcp(false, CAP_TH_SYN | CAP_TH_ACK, 5000, 1001, NULL, 0);
    cap_flows_tcp(t, &p);
    p = tcp(true, CAP_TH_ACK, 1001, 5001, NULL, 0);
    cap_flows_tcp(t, &p);
    for (size_t off = 0; off < sizeof client_hello; off += ch_split) {
        size_t len = sizeof client_hello - off < ch_split ? sizeof client_hello - off : ch_split;
        p = tcp(true, CAP_TH_ACK | CAP_TH_PSH, 1001 + (uint32_t)off, 5001, client_hello + off, (uint32_t)len);
        cap_flows_tcp(t, &p);
    }
    size_t from = 0;
    for (unsigned i = 0; i <= n_cuts; i++) {
        size_t to = i < n_cuts ? cuts[i] : server_len;
        p = tcp(false, CAP_TH_ACK, 5001 + (uint32_t)from, 1001 + sizeof client_hello, server + from,
                (uint32_t)(to - from));
        cap_flows_tcp(t, &p);
        from = to;
    }
    cap_flows_free(t);
}

/* One record holding ServerHello, Certificate and ServerHelloDone in three
 * segments, the last only the ServerHelloDone's 4 bytes (zeek's
 * missing-intermediate.pcap): Wireshark shows all three in the last one.  */
static void one_record_three_segments(void)
{
    uint8_t hs[8192], server[8192];
    size_t n = server_flight(hs);
    size_t len = record(server, hs, 0, n);
    size_t cuts[] = { 60, len - 4 };
    run(server, len, cuts, 2, sizeof client_hello);
    CHECK(have_cert);
    CHECK_EQ_INT(ch_frame, 4);
    CHECK_EQ_INT(sh_frame, 7);              /* frames 5, 6, 7: the server's segments */
    CHECK_EQ_INT(cert_frame, 7);
}

/* The Certificate spread over two records: the ServerHello is shown with the
 * first record, the Certificate with the segment that completes the second.  */
static void certificate_over_two_records(void)
{
    uint8_t hs[8192], server[8192];
    size_t n = server_flight(hs);
    size_t first = record(server, hs, 0, 42 + 200);
    size_t len = first + record(server + first, hs, 42 + 200, n);
    size_t cuts[] = { first, first + 300 };
    run(server, len, cuts, 2, sizeof client_hello);
    CHECK(have_cert);
    CHECK_EQ_INT(sh_frame, 5);
    CHECK_EQ_INT(cert_frame, 7);
}

/* A ClientHello in two segments is shown in the second. */
static void client_hello_two_segments(void)
{
    uint8_t hs[8192], server[8192];
    size_t n = server_flight(hs);
    size_t len = record(server, hs, 0, n);
    run(server, len, NULL, 0, 30);
    CHECK_EQ_INT(ch_frame, 5);
    CHECK_EQ_INT(sh_frame, 6);
    CHECK_EQ_INT(cert_frame, 6);
}

/* The capture ends inside the record: the message is cited where it
 * starts (there is no completing frame to cite).  */
static void record_never_completed(void)
{
    uint8_t hs[8192], server[8192];
    size_t n = server_flight(hs);
    record(server, hs, 0, n);
    size_t cuts[] = { 60 };
    run(server, n + 5 - 4, cuts, 1, sizeof client_hello);
    CHECK_EQ_INT(sh_frame, 5);
    CHECK_EQ_INT(cert_frame, 5);
}

int main(void)
{
    load_der();
    CHECK(der_len > 100);
    RUN(one_record_three_segments);
    RUN(certificate_over_two_records);
    RUN(client_hello_two_segments);
    RUN(record_never_completed);
    return check_summary();
}
