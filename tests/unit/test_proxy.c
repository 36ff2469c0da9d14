/* test_proxy.c: explicit proxies: the CONNECT request parser on annotated
 * bytes, and verdicts from packet summaries of a client talking to a proxy
 * on port 3128 (not the analysed port): a 403 reply spread over one-byte
 * segments, 407 with its challenge, a reset without a reply, a CONNECT never
 * answered, and a 200 whose tunnel carries the ClientHello.  */
#include <string.h>

#include "analysis/analysis.h"
#include "check.h"

/* ---- the parser ------------------------------------------------------------ */

static enum cap_status connect_of(const char *s, struct cap_http_connect *c)
{
    return cap_http_parse_connect((const uint8_t *)s, strlen(s), c);
}

static void connect_request_parsed(void)
{
    struct cap_http_connect c;
    static const char req[] =
        "CONNECT LabReg.azurecr.io:443 HTTP/1.1\r\n"    /* request line, any case */
        "Host: labreg.azurecr.io:443\r\n"
        "User-Agent: curl/7.88.1\r\n"
        "Proxy-Connection: Keep-Alive\r\n"
        "\r\n"
        "\x16\x03\x01";                                 /* the tunnel's first bytes */
    CHECK_EQ_INT(connect_of(req, &c), CAP_OK);
    CHECK_EQ_STR(c.host, "labreg.azurecr.io");
    CHECK_EQ_INT(c.port, 443);
    CHECK_EQ_INT(c.head_len, strlen(req) - 3);
    /* An IPv6 literal target is bracketed (RFC 9112 3.2.3). */
    CHECK_EQ_INT(connect_of("CONNECT [2001:db8::1]:8443 HTTP/1.0\r\n\r\n", &c), CAP_OK);
    CHECK_EQ_STR(c.host, "2001:db8::1");
    CHECK_EQ_INT(c.port, 8443);
}

static void connect_request_cut_or_wrong(void)
{
    struct cap_http_connect c;
    /* Any prefix of a head is TRUNCATED: more bytes may complete it. */
    static const char req[] = "CONNECT a.azurecr.io:443 HTTP/1.1\r\nHost: a\r\n\r\n";
    for (size_t n = 1; n < sizeof(req) - 1; n++)
        CHECK_EQ_INT(cap_http_parse_connect((const uint8_t *)req, n, &c), CAP_TRUNCATED);
    CHECK(cap_http_is_connect((const uint8_t *)"CONN", 4));
    CHECK(!cap_http_is_connect((const uint8_t *)"GET / HTTP/1.1", 14));
    CHECK(!cap_http_is_connect((const uint8_t *)"\x16\x03\x01", 3));
    CHECK_EQ_INT(connect_of("GET / HTTP/1.1\r\n\r\n", &c), CAP_INVALID);
    CHECK_EQ_INT(connect_of("CONNECT a.azurecr.io HTTP/1.1\r\n\r\n", &c), CAP_INVALID);     /* no port */
    CHECK_EQ_INT(connect_of("CONNECT a.azurecr.io:0 HTTP/1.1\r\n\r\n", &c), CAP_INVALID);
    CHECK_EQ_INT(connect_of("CONNECT a.azurecr.io:99999 HTTP/1.1\r\n\r\n", &c), CAP_INVALID);
    CHECK_EQ_INT(connect_of("CONNECT a.azurecr.io:443 SIP/2.0\r\n\r\n", &c), CAP_INVALID);
    CHECK_EQ_INT(connect_of("CONNECT :443 HTTP/1.1\r\n\r\n", &c), CAP_INVALID);
    /* A head that does not end within LIM_HTTP_HEAD bytes is not waited for. */
    static uint8_t big[LIM_HTTP_HEAD + 64];
    memset(big, 'x', sizeof(big));
    memcpy(big, "CONNECT a.azurecr.io:443 HTTP/1.1\r\nX: ", 38);
    CHECK_EQ_INT(cap_http_parse_connect(big, sizeof(big), &c), CAP_INVALID);
    /* Unsafe bytes in the name are escaped, never copied raw. */
    CHECK_EQ_INT(connect_of("CONNECT a\xc3\xa9.io:443 HTTP/1.1\r\n\r\n", &c), CAP_OK);
    CHECK_EQ_STR(c.host, "a\\xc3\\xa9.io");
    /* A control byte ends the target: no request line. */
    CHECK_EQ_INT(connect_of("CONNECT a\x1b.io:443 HTTP/1.1\r\n\r\n", &c), CAP_INVALID);
}

static void proxy_reply_headers(void)
{
    static const char s[] =
        "HTTP/1.1 407 Proxy Authentication Required\r\n"
        "Server: squid/5.7\r\n"
        "Proxy-Authenticate: Basic realm=\"Corp proxy\"\r\n"
        "Via: 1.1 proxy (squid/5.7)\r\n"
        "Content-Length: 0\r\n"
        "\r\n";
    struct cap_http_resp r;
    CHECK_EQ_INT(cap_http_parse_response((const uint8_t *)s, strlen(s), &r), CAP_OK);
    CHECK_EQ_INT(r.status, 407);
    CHECK_EQ_STR(r.proxy_authenticate, "Basic realm=\"Corp proxy\"");
    CHECK_EQ_STR(r.server, "squid/5.7");
    CHECK_EQ_STR(r.via, "1.1 proxy (squid/5.7)");
    CHECK_EQ_INT(r.head_len, strlen(s));
}

/* ---- the engine ------------------------------------------------------------ */

static uint64_t frame;
static const struct cap_addr client = { .family = 4, .a = { 198, 18, 240, 2 } };
static const struct cap_addr proxy = { .family = 4, .a = { 198, 18, 240, 1 } };

static struct cap_pkt seg(bool from_client, uint8_t flags, uint32_t seq, uint32_t ack, const void *payload,
                          uint32_t len)
{
    struct cap_pkt p;
    memset(&p, 0, sizeof(p));
    p.frame = ++frame;
    p.ts_ns = (int64_t)frame * 10000000;    /* 10 ms apart */
    p.ipver = 4;
    p.proto = 6;
    p.src = from_client ? client : proxy;
    p.dst = from_client ? proxy : client;
    p.sport = from_client ? 48310 : 3128;
    p.dport = from_client ? 3128 : 48310;
    p.tcp_flags = flags;
    p.seq = seq;
    p.ack = ack;
    p.ttl = 64;
    p.payload = len ? payload : NULL;
    p.payload_len = len;
    p.payload_wire_len = len;
    return p;
}

static void feed(struct an_engine *e, struct cap_pkt p)
{
    an_engine_packet(e, &p, CAP_LT_RAW);
}

static const char connect_req[] = "CONNECT labreg.azurecr.io:443 HTTP/1.1\r\nHost: labreg.azurecr.io:443\r\n\r\n";
#define REQ_LEN ((uint32_t)sizeof(connect_req) - 1)

/* Handshake with the proxy on 3128 and the CONNECT, as frames 1 to 4;
 * other traffic to port 3128 is no business of the analysed port 443 until
 * the CONNECT shows it is a proxy.  */
static struct an_engine *connected(void)
{
    static const struct an_options opt = { .port = 443 };
    frame = 0;
    struct an_engine *e = an_engine_new(&opt);
    feed(e, seg(true, CAP_TH_SYN, 1000, 0, NULL, 0));
    feed(e, seg(false, CAP_TH_SYN | CAP_TH_ACK, 5000, 1001, NULL, 0));
    feed(e, seg(true, CAP_TH_ACK, 1001, 5001, NULL, 0));
    feed(e, seg(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, connect_req, REQ_LEN));
    return e;
}

static struct an_report finish(struct an_engine *e)
{
    struct an_report r;
    an_engine_finish(e, "analyze", &r);
    an_engine_free(e);
    return r;
}

static const char *detail_of(const struct an_endpoint *ep, const char *key)
{
    for (unsigned i = 0; i < ep->n_detail; i++)
        if (strcmp(ep->detail[i].key, key) == 0)
            return ep->detail[i].value;
    return "";
}

/* Evidence of that kind (docs/verdicts.md "Evidence kinds") citing frame fr. */
static bool has_evidence(const struct an_endpoint *ep, uint64_t fr, const char *kind)
{
    for (unsigned i = 0; i < ep->n_evidence; i++)
        if (ep->evidence[i].frame == fr && ep->evidence[i].kind && strcmp(ep->evidence[i].kind, kind) == 0)
            return true;
    return false;
}

/* squid's 403 reply head arrives one byte per segment: the reply is read
 * once its empty line is in, and cited in the frame that completed it.  */
static void denied_reply_in_one_byte_segments(void)
{
    static const char reply[] =
        "HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\nContent-Length: 0\r\nVia: 1.1 proxy (squid/5.7)\r\n\r\n";
    struct an_engine *e = connected();
    uint32_t n = (uint32_t)sizeof(reply) - 1;
    for (uint32_t i = 0; i < n; i++)
        feed(e, seg(false, CAP_TH_ACK | CAP_TH_PSH, 5001 + i, 1001 + REQ_LEN, reply + i, 1));
    uint64_t last = frame;
    feed(e, seg(false, CAP_TH_ACK | CAP_TH_FIN, 5001 + n, 1001 + REQ_LEN, NULL, 0));
    feed(e, seg(true, CAP_TH_ACK | CAP_TH_FIN, 1001 + REQ_LEN, 5002 + n, NULL, 0));
    struct an_report r = finish(e);
    CHECK_EQ_INT(r.n_endpoints, 1);
    if (r.n_endpoints) {
        const struct an_endpoint *ep = &r.endpoints[0];
        CHECK_EQ_INT(ep->verdict, AN_PROXY_REFUSED);
        CHECK_EQ_INT(ep->confidence, AN_CONF_HIGH);
        CHECK_EQ_STR(ep->name, "labreg.azurecr.io");
        CHECK_EQ_INT(ep->port, 3128);
        CHECK_EQ_STR(ep->rule, "proxy_refused_connect");
        CHECK_EQ_STR(detail_of(ep, "http_status"), "403");
        CHECK_EQ_STR(detail_of(ep, "proxy"), "198.18.240.1:3128");
        CHECK(has_evidence(ep, 4, "proxy_connect"));
        CHECK(has_evidence(ep, last, "proxy_reply"));
    }
    CHECK_EQ_INT(r.verdict, AN_PROXY_REFUSED);
    an_report_free(&r);
}

static void auth_required(void)
{
    static const char reply[] = "HTTP/1.1 407 Proxy Authentication Required\r\n"
                                "Proxy-Authenticate: Basic realm=\"Corp\"\r\n\r\n";
    struct an_engine *e = connected();
    feed(e, seg(false, CAP_TH_ACK | CAP_TH_PSH, 5001, 1001 + REQ_LEN, reply, (uint32_t)sizeof(reply) - 1));
    struct an_report r = finish(e);
    CHECK_EQ_INT(r.n_endpoints, 1);
    if (r.n_endpoints) {
        CHECK_EQ_INT(r.endpoints[0].verdict, AN_PROXY_REFUSED);
        CHECK_EQ_STR(detail_of(&r.endpoints[0], "http_status"), "407");
        CHECK_EQ_STR(detail_of(&r.endpoints[0], "proxy_authenticate"), "Basic realm=\"Corp\"");
    }
    an_report_free(&r);
}

static void reset_without_reply(void)
{
    struct an_engine *e = connected();
    feed(e, seg(false, CAP_TH_RST | CAP_TH_ACK, 5001, 1001 + REQ_LEN, NULL, 0));
    struct an_report r = finish(e);
    CHECK_EQ_INT(r.n_endpoints, 1);
    if (r.n_endpoints) {
        CHECK_EQ_INT(r.endpoints[0].verdict, AN_PROXY_REFUSED);
        CHECK_EQ_INT(r.endpoints[0].confidence, AN_CONF_MEDIUM);
        CHECK_EQ_STR(detail_of(&r.endpoints[0], "http_status"), "none");
        CHECK(has_evidence(&r.endpoints[0], 5, "proxy_closed_connect"));
    }
    an_report_free(&r);
}

/* No answer: only a wait long enough decides; a capture that stops right
 * after the CONNECT does not.  */
static void unanswered_needs_a_wait(void)
{
    struct an_engine *e = connected();
    struct an_report r = finish(e);
    CHECK_EQ_INT(r.verdict, AN_INCOMPLETE);
    an_report_free(&r);

    e = connected();
    struct cap_pkt fin = seg(true, CAP_TH_ACK | CAP_TH_FIN, 1001 + REQ_LEN, 5001, NULL, 0);
    fin.ts_ns += 5000000000LL;          /* curl -m 5 */
    feed(e, fin);
    r = finish(e);
    CHECK_EQ_INT(r.verdict, AN_PROXY_REFUSED);
    if (r.n_endpoints)
        CHECK(has_evidence(&r.endpoints[0], 5, "client_gave_up_on_connect"));
    an_report_free(&r);
}

/* A 200 opens the tunnel: the ClientHello after it is read as the first
 * TLS bytes of the client's stream (the CONNECT head skipped).  */
static const uint8_t client_hello[] = {
    0x16, 0x03, 0x01, 0x00, 0x49, 0x01, 0x00, 0x00, 0x45, 0x03, 0x03,
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
    0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00, 0x00, 0x1a,
    0x00, 0x00, 0x00, 0x16, 0x00, 0x14, 0x00, 0x00, 0x11,
    'l', 'a', 'b', 'r', 'e', 'g', '.', 'a', 'z', 'u', 'r', 'e', 'c', 'r', '.', 'i', 'o',
};

static void tunnel_opened_then_reset_after_hello(void)
{
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    uint32_t okn = (uint32_t)sizeof(ok) - 1, chn = (uint32_t)sizeof(client_hello);
    struct an_engine *e = connected();
    feed(e, seg(false, CAP_TH_ACK | CAP_TH_PSH, 5001, 1001 + REQ_LEN, ok, okn));
    feed(e, seg(true, CAP_TH_ACK | CAP_TH_PSH, 1001 + REQ_LEN, 5001 + okn, client_hello, chn));
    feed(e, seg(false, CAP_TH_RST | CAP_TH_ACK, 5001 + okn, 1001 + REQ_LEN + chn, NULL, 0));
    struct an_report r = finish(e);
    CHECK_EQ_INT(r.n_endpoints, 1);
    if (r.n_endpoints) {
        const struct an_endpoint *ep = &r.endpoints[0];
        CHECK(ep->verdict != AN_PROXY_REFUSED);
        CHECK_EQ_STR(ep->rule, "closed_after_client_hello");
        CHECK(has_evidence(ep, 6, "client_hello"));
        CHECK(has_evidence(ep, 5, "proxy_reply"));
        CHECK_EQ_STR(detail_of(ep, "proxy"), "198.18.240.1:3128");
    }
    an_report_free(&r);
}

/* Plain HTTP through a known proxy is not a registry endpoint. */
static void plain_request_to_proxy_is_ignored(void)
{
    static const char get[] = "GET http://example.com/ HTTP/1.1\r\n\r\n";
    struct an_engine *e = connected();
    feed(e, seg(false, CAP_TH_RST | CAP_TH_ACK, 5001, 1001 + REQ_LEN, NULL, 0));
    struct cap_pkt p = seg(true, CAP_TH_SYN, 9000, 0, NULL, 0);
    p.sport = 48311;
    feed(e, p);
    p = seg(true, CAP_TH_ACK, 9001, 0, get, (uint32_t)sizeof(get) - 1);
    p.sport = 48311;
    feed(e, p);
    struct an_report r = finish(e);
    CHECK_EQ_INT(r.n_endpoints, 1);
    an_report_free(&r);
}

/* From the second of two connections opened before the first CONNECT (a
 * prober's login server and data endpoint): its segment, client port 48311. */
static struct cap_pkt seg2(bool from_client, uint8_t flags, uint32_t seq, uint32_t ack, const void *payload,
                           uint32_t len)
{
    struct cap_pkt p = seg(from_client, flags, seq, ack, payload, len);
    if (from_client)
        p.sport = 48311;
    else
        p.dport = 48311;
    return p;
}

/* Both handshakes come before either CONNECT: both flows keep them, neither
 * starts "midstream" when the proxy becomes known.  */
static void two_connections_before_the_first_connect(void)
{
    static const struct an_options opt = { .port = 443 };
    static const char req2[] = "CONNECT labreg.westeurope.data.azurecr.io:443 HTTP/1.1\r\n\r\n";
    static const char reply[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    uint32_t l2 = (uint32_t)sizeof(req2) - 1, lr = (uint32_t)sizeof(reply) - 1;
    frame = 0;
    struct an_engine *e = an_engine_new(&opt);
    feed(e, seg(true, CAP_TH_SYN, 1000, 0, NULL, 0));
    feed(e, seg2(true, CAP_TH_SYN, 7000, 0, NULL, 0));
    feed(e, seg(false, CAP_TH_SYN | CAP_TH_ACK, 5000, 1001, NULL, 0));
    feed(e, seg2(false, CAP_TH_SYN | CAP_TH_ACK, 9000, 7001, NULL, 0));
    feed(e, seg(true, CAP_TH_ACK, 1001, 5001, NULL, 0));
    feed(e, seg2(true, CAP_TH_ACK, 7001, 9001, NULL, 0));
    feed(e, seg(true, CAP_TH_ACK | CAP_TH_PSH, 1001, 5001, connect_req, REQ_LEN));
    feed(e, seg2(true, CAP_TH_ACK | CAP_TH_PSH, 7001, 9001, req2, l2));
    feed(e, seg(false, CAP_TH_ACK | CAP_TH_PSH, 5001, 1001 + REQ_LEN, reply, lr));
    feed(e, seg2(false, CAP_TH_ACK | CAP_TH_PSH, 9001, 7001 + l2, reply, lr));
    struct an_report r = finish(e);
    CHECK_EQ_INT(r.n_endpoints, 2);
    for (unsigned i = 0; i < r.n_endpoints; i++) {
        const struct an_endpoint *ep = &r.endpoints[i];
        CHECK_EQ_INT(ep->verdict, AN_PROXY_REFUSED);
        CHECK_EQ_INT(ep->confidence, AN_CONF_HIGH);
        CHECK(!(ep->findings & (1u << AN_F_MIDSTREAM_START)));
        for (unsigned k = 0; k < ep->n_evidence; k++)
            CHECK(strcmp(ep->evidence[k].kind, "midstream_start") != 0);
        CHECK_EQ_STR(ep->flows[0].history, "ShDd");   /* the pure ACK was in no ring */
    }
    CHECK(!(r.findings & (1u << AN_F_MIDSTREAM_START)));
    an_report_free(&r);
}

int main(void)
{
    RUN(connect_request_parsed);
    RUN(connect_request_cut_or_wrong);
    RUN(proxy_reply_headers);
    RUN(denied_reply_in_one_byte_segments);
    RUN(auth_required);
    RUN(reset_without_reply);
    RUN(unanswered_needs_a_wait);
    RUN(tunnel_opened_then_reset_after_hello);
    RUN(plain_request_to_proxy_is_ignored);
    RUN(two_connections_before_the_first_connect);
    return check_summary();
}
