/* gen.c: writes a large deterministic synthetic pcap (Ethernet, IPv4) of registry traffic for `make bench`.
 *
 * Usage: gen [-n PACKETS] [-c CERT.der] OUT.pcap
 *
 * Sessions are started (about PACKETS packets in all, 2 million by default)
 * and interleaved: LIVE sessions are open at once and each packet comes from
 * one of them chosen at random.  Kinds, with the servers each kind talks to:
 *   healthy TLS 1.3   SYN, SYN-ACK, ACK, ClientHello with SNI, ServerHello +
 *                     CCS + encrypted flight, client Finished, two
 *                     application-data records each way, FINs     (13 packets)
 *   TLS 1.2           the same with ServerHello + Certificate (CERT, a DER
 *                     file) + ServerHelloDone in clear            (14 packets)
 *   silent drop       a SYN retransmitted 3 times                  (4 packets)
 *   RST at SYN        SYN, RST-ACK                                 (2 packets)
 *   reset after hello SYN, SYN-ACK, ACK, ClientHello, RST with another TTL (5)
 *   ICMP unreachable  SYN, ICMP 3/13 from a router quoting it      (2 packets)
 *   DNS               UDP query for <name>.azurecr.io, answer with two CNAMEs
 *                     and an A record                              (2 packets)
 * IP and TCP lengths are valid; IP and ICMP checksums are right, TCP and
 * UDP checksums are zero.  The random generator
 * has a fixed seed: the same arguments give the same file.  */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIVE 512u               /* sessions open at once */
#define N_CLIENTS 4096u
#define PORT_FIRST 32768u
#define MAX_PKT 1514u
#define MSS 1460u

enum kind { K_TLS13, K_TLS12, K_SILENT, K_RST_SYN, K_RST_HELLO, K_ICMP, K_DNS, K_COUNT };

/* Share of new sessions (out of 100) and servers of each kind. */
static const unsigned kind_weight[K_COUNT] = { 40, 8, 12, 12, 10, 8, 10 };
static const unsigned kind_servers[K_COUNT] = { 24, 4, 4, 4, 4, 4, 0 };
#define N_SERVERS 44u
/* Addresses from 198.18.0.0/15 only (the project's test range): clients in
 * 198.18.0.0/16, servers, the resolver and the router in 198.19.0.0/16. */
#define RESOLVER 0xc6130035u    /* 198.19.0.53 */
#define ROUTER 0xc613ff01u      /* 198.19.255.1 */

struct session {
    enum kind kind;
    unsigned step;
    unsigned server;            /* index into the server table */
    uint32_t cip;
    uint16_t cport;
    uint32_t cseq, sseq;        /* next sequence number each side sends */
    uint16_t dns_id;
};

struct gen {
    FILE *out;
    uint64_t rng;
    uint64_t ts_us;
    uint64_t packets;
    uint64_t tcp_flows;
    uint16_t next_port[N_CLIENTS];
    uint16_t ip_id;
    uint8_t *cert;
    size_t cert_len;
    uint8_t pool[4096];         /* random bytes for key shares and ciphertext */
    uint8_t pkt[MAX_PKT];
};

static uint64_t rnd(struct gen *g)
{
    /* xorshift64* (Vigna): small, fast, deterministic.  */
    g->rng ^= g->rng >> 12;
    g->rng ^= g->rng << 25;
    g->rng ^= g->rng >> 27;
    return g->rng * 0x2545f4914f6cdd1dull;
}

static unsigned rnd_below(struct gen *g, unsigned n)
{
    return (unsigned)(rnd(g) % n);
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put24(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffffu);
}

static void put32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t server_ip(unsigned s)
{
    return 0xc6130000u | (s + 1) << 8 | 10u;    /* 198.19.<s+1>.10 */
}

/* Internet checksum (RFC 1071) of n bytes. */
static uint16_t inet_sum(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

/* ---- the pcap file ------------------------------------------------------- */

static void write_header(struct gen *g)
{
    uint8_t h[24] = { 0 };
    put32le(h, 0xa1b2c3d4u);
    h[4] = 2;                   /* version 2.4, little-endian */
    h[6] = 4;
    put32le(h + 16, 65535);
    put32le(h + 20, 1);         /* LINKTYPE_ETHERNET */
    fwrite(h, 1, sizeof h, g->out);
}

static void write_record(struct gen *g, size_t len)
{
    uint8_t h[16];
    g->ts_us += 1 + rnd_below(g, 200);
    put32le(h, (uint32_t)(1700000000u + g->ts_us / 1000000u));
    put32le(h + 4, (uint32_t)(g->ts_us % 1000000u));
    put32le(h + 8, (uint32_t)len);
    put32le(h + 12, (uint32_t)len);
    fwrite(h, 1, sizeof h, g->out);
    fwrite(g->pkt, 1, len, g->out);
    g->packets++;
}

/* Ethernet and IPv4 headers for an upper-layer part of l4_len bytes;
 * returns the offset of the upper layer.  */
static size_t put_eth_ip(struct gen *g, uint8_t *p, uint32_t src, uint32_t dst, uint8_t ttl,
                         uint8_t proto, size_t l4_len)
{
    static const uint8_t macs[12] = { 0x00, 0x0d, 0x3a, 0x00, 0x00, 0x01,
                                      0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc };
    memcpy(p, macs, sizeof macs);
    put16(p + 12, 0x0800);
    uint8_t *ip = p + 14;
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, (unsigned)(20 + l4_len));
    put16(ip + 4, g->ip_id++);
    put16(ip + 6, 0x4000);      /* DF */
    ip[8] = ttl;
    ip[9] = proto;
    put16(ip + 10, 0);
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(ip + 10, inet_sum(ip, 20));
    return 34;
}

/* A TCP header (with MSS, SACK-permitted and window-scale options on SYNs);
 * returns its length.  */
static size_t put_tcp(uint8_t *t, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack, uint8_t flags)
{
    size_t hl = (flags & 0x02) ? 32 : 20;
    put16(t, sp);
    put16(t + 2, dp);
    put32(t + 4, seq);
    put32(t + 8, ack);
    t[12] = (uint8_t)((hl / 4) << 4);
    t[13] = flags;
    put16(t + 14, 64240);
    put32(t + 16, 0);           /* checksum, urgent pointer */
    if (hl == 32) {
        static const uint8_t opts[12] = { 2, 4, MSS >> 8, MSS & 0xff, 1, 1, 4, 2, 1, 3, 3, 7 };
        memcpy(t + 20, opts, sizeof opts);
    }
    return hl;
}

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10 };

/* One TCP segment of session s; c2s chooses the direction.  */
static void tcp_pkt(struct gen *g, struct session *s, bool c2s, uint8_t ttl, uint8_t flags,
                    const uint8_t *payload, size_t len)
{
    uint32_t sip = server_ip(s->server);
    size_t hl = (flags & SYN) ? 32 : 20;
    size_t off = put_eth_ip(g, g->pkt, c2s ? s->cip : sip, c2s ? sip : s->cip, ttl, 6, hl + len);
    uint32_t seq = c2s ? s->cseq : s->sseq, ack = c2s ? s->sseq : s->cseq;
    put_tcp(g->pkt + off, c2s ? s->cport : 443, c2s ? 443 : s->cport, seq, (flags & ACK) ? ack : 0, flags);
    if (len)
        memcpy(g->pkt + off + hl, payload, len);
    write_record(g, off + hl + len);
    uint32_t adv = (uint32_t)len + ((flags & (SYN | FIN)) ? 1u : 0u);
    if (c2s)
        s->cseq += adv;
    else
        s->sseq += adv;
}

/* ---- names and TLS messages ----------------------------------------------- */

static size_t put_name(uint8_t *p, const char *name)
{
    size_t n = 0;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        p[n++] = (uint8_t)l;
        memcpy(p + n, name, l);
        n += l;
        name += l + (dot ? 1 : 0);
    }
    p[n++] = 0;
    return n;
}

static void server_name(unsigned s, char *buf, size_t len)
{
    snprintf(buf, len, "reg%u.azurecr.io", s);
}

static size_t put_random(struct gen *g, uint8_t *p, size_t n)
{
    size_t at = rnd_below(g, (unsigned)(sizeof g->pool - n));
    memcpy(p, g->pool + at, n);
    return n;
}

/* A TLS record header for a body of len bytes at p + 5. */
static size_t put_record_hdr(uint8_t *p, uint8_t type, unsigned version, size_t len)
{
    p[0] = type;
    put16(p + 1, version);
    put16(p + 3, (unsigned)len);
    return 5;
}

/* A ClientHello as a current browser or Docker client sends it. */
static size_t client_hello(struct gen *g, const char *sni, uint8_t *out)
{
    static const uint8_t suites[] = { 0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2b, 0xc0, 0x2f,
                                      0xc0, 0x2c, 0xc0, 0x30, 0xcc, 0xa9, 0xcc, 0xa8 };
    static const uint8_t fixed_ext[] = {
        0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18,  /* groups */
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,                                      /* ec points */
        0x00, 0x0d, 0x00, 0x0e, 0x00, 0x0c, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01,  /* sig algs */
        0x05, 0x03, 0x08, 0x05, 0x05, 0x01,
        0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 'h', '2', 0x08, 'h', 't', 't', 'p', '/', '1', '.', '1',
        0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03,                    /* versions */
        0x00, 0x2d, 0x00, 0x02, 0x01, 0x01,                                      /* psk modes */
    };
    uint8_t *h = out + 5, *b = h + 4;
    size_t n = 0;
    put16(b, 0x0303);
    n += 2;
    n += put_random(g, b + n, 32);
    b[n++] = 32;
    n += put_random(g, b + n, 32);
    put16(b + n, sizeof suites);
    memcpy(b + n + 2, suites, sizeof suites);
    n += 2 + sizeof suites;
    b[n++] = 1;
    b[n++] = 0;
    size_t ext_at = n;
    n += 2;
    size_t sl = strlen(sni);
    put16(b + n, 0x0000);       /* server_name */
    put16(b + n + 2, (unsigned)(sl + 5));
    put16(b + n + 4, (unsigned)(sl + 3));
    b[n + 6] = 0;
    put16(b + n + 7, (unsigned)sl);
    memcpy(b + n + 9, sni, sl);
    n += 9 + sl;
    memcpy(b + n, fixed_ext, sizeof fixed_ext);
    n += sizeof fixed_ext;
    static const uint8_t ks[] = { 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20 };
    memcpy(b + n, ks, sizeof ks);
    n += sizeof ks;
    n += put_random(g, b + n, 32);
    put16(b + ext_at, (unsigned)(n - ext_at - 2));
    h[0] = 1;
    put24(h + 1, (unsigned)n);
    put_record_hdr(out, 22, 0x0301, n + 4);
    return 5 + 4 + n;
}

/* ServerHello body; tls13 adds supported_versions and key_share. */
static size_t server_hello(struct gen *g, bool tls13, uint8_t *out)
{
    uint8_t *b = out + 4;
    size_t n = 0;
    put16(b, 0x0303);
    n += 2;
    n += put_random(g, b + n, 32);
    b[n++] = 32;
    n += put_random(g, b + n, 32);
    put16(b + n, tls13 ? 0x1301 : 0xc02f);
    n += 2;
    b[n++] = 0;
    if (tls13) {
        static const uint8_t ext[] = { 0x00, 0x2e, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04,
                                       0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20 };
        memcpy(b + n, ext, sizeof ext);
        n += sizeof ext;
        n += put_random(g, b + n, 32);
    } else {
        static const uint8_t ext[] = { 0x00, 0x0b, 0xff, 0x01, 0x00, 0x01, 0x00,
                                       0x00, 0x0b, 0x00, 0x02, 0x01, 0x00 };
        memcpy(b + n, ext, sizeof ext);
        n += sizeof ext;
    }
    out[0] = 2;
    put24(out + 1, (unsigned)n);
    return 4 + n;
}

/* TLS 1.3 server flight: ServerHello, CCS, encrypted extensions..finished. */
static size_t tls13_server_flight(struct gen *g, uint8_t *out)
{
    size_t sh = server_hello(g, true, out + 5);
    size_t n = put_record_hdr(out, 22, 0x0303, sh) + sh;
    static const uint8_t ccs[] = { 20, 0x03, 0x03, 0x00, 0x01, 0x01 };
    memcpy(out + n, ccs, sizeof ccs);
    n += sizeof ccs;
    size_t enc = 1100 + rnd_below(g, 200);
    n += put_record_hdr(out + n, 23, 0x0303, enc);
    n += put_random(g, out + n, enc);
    return n;
}

/* TLS 1.2 server flight: ServerHello, Certificate, ServerHelloDone. */
static size_t tls12_server_flight(struct gen *g, uint8_t *out)
{
    uint8_t *b = out + 5;
    size_t n = server_hello(g, false, b);
    b[n] = 11;
    put24(b + n + 1, (unsigned)(g->cert_len + 6));
    put24(b + n + 4, (unsigned)(g->cert_len + 3));
    put24(b + n + 7, (unsigned)g->cert_len);
    memcpy(b + n + 10, g->cert, g->cert_len);
    n += 10 + g->cert_len;
    static const uint8_t done[] = { 14, 0, 0, 0 };
    memcpy(b + n, done, sizeof done);
    n += sizeof done;
    put_record_hdr(out, 22, 0x0303, n);
    return 5 + n;
}

/* Change cipher spec then an encrypted Finished (TLS 1.2 handshake record,
 * TLS 1.3 application-data record); with_cke prepends a ClientKeyExchange. */
static size_t finished_flight(struct gen *g, bool tls13, bool with_cke, uint8_t *out)
{
    size_t n = 0;
    if (with_cke) {
        n += put_record_hdr(out, 22, 0x0303, 37);
        out[n] = 16;
        put24(out + n + 1, 33);
        out[n + 4] = 32;
        n += 5;
        n += put_random(g, out + n, 32);
    }
    static const uint8_t ccs[] = { 20, 0x03, 0x03, 0x00, 0x01, 0x01 };
    memcpy(out + n, ccs, sizeof ccs);
    n += sizeof ccs;
    size_t fin = tls13 ? 53 : 40;
    n += put_record_hdr(out + n, tls13 ? 23 : 22, 0x0303, fin);
    n += put_random(g, out + n, fin);
    return n;
}

static size_t appdata(struct gen *g, size_t len, uint8_t *out)
{
    size_t n = put_record_hdr(out, 23, 0x0303, len - 5);
    return n + put_random(g, out + n, len - 5);
}

/* ---- DNS ------------------------------------------------------------------ */

static size_t dns_message(struct session *s, bool response, uint8_t *out)
{
    char name[64], cname1[64], cname2[64];
    server_name(s->server, name, sizeof name);
    snprintf(cname1, sizeof cname1, "weu-acr-%u.trafficmanager.net", s->server);
    snprintf(cname2, sizeof cname2, "weu-%u.fe.azcr.io", s->server);
    put16(out, s->dns_id);
    put16(out + 2, response ? 0x8180 : 0x0100);
    put16(out + 4, 1);
    put16(out + 6, response ? 3 : 0);
    put32(out + 8, 0);
    size_t n = 12;
    n += put_name(out + n, name);
    put32(out + n, 0x00010001);     /* A, IN */
    n += 4;
    if (!response)
        return n;
    const char *owners[3] = { name, cname1, cname2 };
    for (int i = 0; i < 3; i++) {
        n += put_name(out + n, owners[i]);
        put16(out + n, i < 2 ? 5 : 1);
        put16(out + n + 2, 1);
        put32(out + n + 4, 60);
        n += 8;
        if (i < 2) {
            size_t l = put_name(out + n + 2, owners[i + 1]);
            put16(out + n, (unsigned)l);
            n += 2 + l;
        } else {
            put16(out + n, 4);
            put32(out + n + 2, server_ip(s->server));
            n += 6;
        }
    }
    return n;
}

static void dns_pkt(struct gen *g, struct session *s, bool response)
{
    uint8_t msg[512];
    size_t len = dns_message(s, response, msg);
    uint32_t src = response ? RESOLVER : s->cip, dst = response ? s->cip : RESOLVER;
    size_t off = put_eth_ip(g, g->pkt, src, dst, response ? 128 : 64, 17, 8 + len);
    uint8_t *u = g->pkt + off;
    put16(u, response ? 53 : s->cport);
    put16(u + 2, response ? s->cport : 53);
    put16(u + 4, (unsigned)(8 + len));
    put16(u + 6, 0);
    memcpy(u + 8, msg, len);
    write_record(g, off + 8 + len);
}

/* ICMP destination unreachable (administratively prohibited) from a router,
 * quoting the client's SYN as it arrived there (IP header + 20 TCP bytes). */
static void icmp_pkt(struct gen *g, struct session *s)
{
    size_t off = put_eth_ip(g, g->pkt, ROUTER, s->cip, 254, 1, 8 + 20 + 32);
    uint8_t *ic = g->pkt + off;
    ic[0] = 3;
    ic[1] = 13;
    put16(ic + 2, 0);
    put32(ic + 4, 0);
    uint8_t *q = ic + 8;
    q[0] = 0x45;
    q[1] = 0;
    put16(q + 2, 20 + 32);
    put16(q + 4, 0);
    put16(q + 6, 0x4000);
    q[8] = 61;
    q[9] = 6;
    put32(q + 12, s->cip);
    put32(q + 16, server_ip(s->server));
    put16(q + 10, 0);
    put16(q + 10, inet_sum(q, 20));
    put_tcp(q + 20, s->cport, 443, s->cseq - 1, 0, SYN);
    put16(ic + 2, inet_sum(ic, 8 + 20 + 32));
    write_record(g, off + 8 + 20 + 32);
}

/* ---- sessions ------------------------------------------------------------- */

static void session_start(struct gen *g, struct session *s)
{
    unsigned w = rnd_below(g, 100), k = 0;
    while (k + 1 < K_COUNT && w >= kind_weight[k])
        w -= kind_weight[k++];
    memset(s, 0, sizeof *s);
    s->kind = (enum kind)k;
    unsigned first = 0;
    for (unsigned i = 0; i < k; i++)
        first += kind_servers[i];
    s->server = s->kind == K_DNS ? rnd_below(g, N_SERVERS) : first + rnd_below(g, kind_servers[k]);
    unsigned c = rnd_below(g, N_CLIENTS);
    s->cip = 0xc6120000u | (c + 1);     /* 198.18.x.y */
    s->cport = (uint16_t)(PORT_FIRST + g->next_port[c]++ % 28000u);
    s->cseq = (uint32_t)rnd(g);
    s->sseq = (uint32_t)rnd(g);
    s->dns_id = (uint16_t)rnd(g);
    if (s->kind != K_DNS)
        g->tcp_flows++;
}

/* Emits the session's next packet; returns false once it has ended. */
static bool session_step(struct gen *g, struct session *s)
{
    uint8_t buf[MAX_PKT];
    char sni[64];
    const uint8_t cttl = 64, sttl = 50;
    bool tls13 = s->kind == K_TLS13;
    unsigned st = s->step++;
    /* The kinds share their opening: SYN, and for those answered, SYN-ACK,
     * ACK and the ClientHello. */
    if (st == 0) {
        if (s->kind == K_DNS) {
            dns_pkt(g, s, false);
            return true;
        }
        tcp_pkt(g, s, true, cttl, SYN, NULL, 0);
        return true;
    }
    switch (s->kind) {
    case K_DNS:
        dns_pkt(g, s, true);
        return false;
    case K_SILENT:
        s->cseq--;              /* the same SYN again */
        tcp_pkt(g, s, true, cttl, SYN, NULL, 0);
        return st < 3;
    case K_RST_SYN:
        tcp_pkt(g, s, false, sttl, RST | ACK, NULL, 0);
        return false;
    case K_ICMP:
        icmp_pkt(g, s);
        return false;
    case K_TLS13:
    case K_TLS12:
    case K_RST_HELLO:
    case K_COUNT:
        break;
    }
    switch (st) {
    case 1:
        tcp_pkt(g, s, false, sttl, SYN | ACK, NULL, 0);
        return true;
    case 2:
        tcp_pkt(g, s, true, cttl, ACK, NULL, 0);
        return true;
    case 3:
        server_name(s->server, sni, sizeof sni);
        tcp_pkt(g, s, true, cttl, PSH | ACK, buf, client_hello(g, sni, buf));
        return true;
    case 4:
        if (s->kind == K_RST_HELLO) {
            tcp_pkt(g, s, false, 62, RST | ACK, NULL, 0);
            return false;
        }
        tcp_pkt(g, s, false, sttl, PSH | ACK, buf,
                tls13 ? tls13_server_flight(g, buf) : tls12_server_flight(g, buf));
        return true;
    case 5:
        tcp_pkt(g, s, true, cttl, PSH | ACK, buf, finished_flight(g, tls13, !tls13, buf));
        return true;
    default:
        break;
    }
    /* TLS 1.2 has the server's CCS + Finished before the data. */
    if (!tls13 && st == 6) {
        tcp_pkt(g, s, false, sttl, PSH | ACK, buf, finished_flight(g, false, false, buf));
        return true;
    }
    unsigned d = tls13 ? st - 6 : st - 7;
    switch (d) {
    case 0:
    case 2:
        tcp_pkt(g, s, true, cttl, PSH | ACK, buf, appdata(g, 200 + rnd_below(g, 600), buf));
        return true;
    case 1:
    case 3:
        tcp_pkt(g, s, false, sttl, PSH | ACK, buf, appdata(g, 400 + rnd_below(g, MSS - 12 - 400), buf));
        return true;
    case 4:
        tcp_pkt(g, s, true, cttl, FIN | ACK, NULL, 0);
        return true;
    case 5:
        tcp_pkt(g, s, false, sttl, FIN | ACK, NULL, 0);
        return true;
    default:
        tcp_pkt(g, s, true, cttl, ACK, NULL, 0);
        return false;
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: gen [-n PACKETS] [-c CERT.der] OUT.pcap\n");
    return 2;
}

static uint8_t *read_cert(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *b = malloc(4096);
    *len = b ? fread(b, 1, 4096, f) : 0;
    fclose(f);
    if (b && (*len == 0 || *len >= 4096)) {
        free(b);
        return NULL;
    }
    return b;
}

int main(int argc, char **argv)
{
    unsigned long long want = 2000000;
    const char *cert_path = "tests/data/tls-leaf-ca-signed.der";
    int c;
    while ((c = getopt(argc, argv, "n:c:")) != -1) {
        if (c == 'n') {
            char *end;
            want = strtoull(optarg, &end, 10);
            if (*end || want == 0)
                return usage();
        } else if (c == 'c') {
            cert_path = optarg;
        } else {
            return usage();
        }
    }
    if (optind + 1 != argc)
        return usage();
    static struct gen g;
    g.rng = 0x9e3779b97f4a7c15ull;
    g.cert = read_cert(cert_path, &g.cert_len);
    if (!g.cert) {
        fprintf(stderr, "gen: %s: cannot read a DER certificate under 4 KB\n", cert_path);
        return 1;
    }
    for (size_t i = 0; i < sizeof g.pool; i++)
        g.pool[i] = (uint8_t)rnd(&g);
    g.out = fopen(argv[optind], "wb");
    if (!g.out) {
        fprintf(stderr, "gen: %s: %s\n", argv[optind], strerror(errno));
        return 1;
    }
    static char obuf[1 << 20];
    setvbuf(g.out, obuf, _IOFBF, sizeof obuf);
    write_header(&g);

    static struct session live[LIVE];
    bool open[LIVE];
    unsigned n_open = LIVE;
    for (unsigned i = 0; i < LIVE; i++) {
        session_start(&g, &live[i]);
        open[i] = true;
    }
    /* New sessions start while the budget lasts; then the open ones end. */
    while (n_open) {
        unsigned i = rnd_below(&g, LIVE);
        if (!open[i])
            continue;
        if (session_step(&g, &live[i]))
            continue;
        if (g.packets < want)
            session_start(&g, &live[i]);
        else {
            open[i] = false;
            n_open--;
        }
    }
    int rc = 0;
    if (fclose(g.out) != 0) {
        fprintf(stderr, "gen: %s: %s\n", argv[optind], strerror(errno));
        rc = 1;
    }
    free(g.cert);
    fprintf(stderr, "gen: %s: %llu packets, %llu TCP flows\n", argv[optind],
            (unsigned long long)g.packets, (unsigned long long)g.tcp_flows);
    return rc;
}
