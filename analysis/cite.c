/* cite.c: what the rules share to cite and word facts: adding evidence,
 * contradictions, detail and the reason to an endpoint, the packets every
 * rule cites (SYNs, SYN-ACK, ClientHello), the names of TLS alerts, ICMP
 * codes and TLS versions, and what a host's other answers show.  */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"

/* ---- wording -------------------------------------------------------------- */

const char *an_alert_name(uint8_t d)
{
    switch (d) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    }
    return "unknown";
}

const char *an_icmp_meaning(const struct cap_icmp_ref *r)
{
    if (r->v6) {
        switch (r->code) {
        case 0: return "no route to destination";
        case 1: return "communication administratively prohibited";
        case 3: return "address unreachable";
        case 4: return "port unreachable";
        case 5: return "source address failed ingress/egress policy";
        case 6: return "reject route to destination";
        }
        return "unreachable";
    }
    switch (r->code) {
    case 0: return "network unreachable";
    case 1: return "host unreachable";
    case 2: return "protocol unreachable";
    case 3: return "port unreachable";
    case 6: return "destination network unknown";
    case 7: return "destination host unknown";
    case 9: return "network administratively prohibited";
    case 10: return "host administratively prohibited";
    case 13: return "communication administratively prohibited";
    }
    return "unreachable";
}

bool an_icmp_is_admin(const struct cap_icmp_ref *r)
{
    return r->v6 ? (r->code == 1 || r->code == 5 || r->code == 6)
                 : (r->code == 9 || r->code == 10 || r->code == 13);
}

const char *an_tls_version_name(uint16_t v)
{
    switch (v) {
    case CAP_SSL_3_0: return "SSL 3.0";
    case CAP_TLS_1_0: return "TLS 1.0";
    case CAP_TLS_1_1: return "TLS 1.1";
    case CAP_TLS_1_2: return "TLS 1.2";
    case CAP_TLS_1_3: return "TLS 1.3";
    }
    return "an unknown TLS version";
}

double an_ms_between(int64_t from, int64_t to)
{
    return (double)(to - from) / 1e6;
}

/* ---- building an endpoint ------------------------------------------------- */

/* Evidence and contradictions name their kind (docs/verdicts.md "Evidence
 * kinds"), a static snake_case string that tests and machines match.  */

/* has_ts: ts_ns is the frame's capture time (the packet was at hand). */
__attribute__((format(printf, 6, 0)))
static void evidence_put(struct an_evidence *ev, const char *kind, uint64_t frame, bool has_ts, int64_t ts_ns,
                         const char *fmt, va_list ap)
{
    memset(ev, 0, sizeof(*ev));
    ev->frame = frame;
    ev->has_ts = has_ts && frame;
    ev->ts_ns = ev->has_ts ? ts_ns : 0;
    ev->kind = kind;
    vsnprintf(ev->what, sizeof(ev->what), fmt, ap);
}

__attribute__((format(printf, 6, 0)))
static void ev_vput(struct an_endpoint *ep, const char *kind, uint64_t frame, bool has_ts, int64_t ts_ns,
                    const char *fmt, va_list ap)
{
    assert(kind && *kind);
    if (ep->n_evidence < AN_MAX_EVIDENCE)
        evidence_put(&ep->evidence[ep->n_evidence++], kind, frame, has_ts, ts_ns, fmt, ap);
}

void an_ev_vadd(struct an_endpoint *ep, const char *kind, const char *fmt, va_list ap)
{
    ev_vput(ep, kind, 0, false, 0, fmt, ap);
}

void an_ev_add(struct an_endpoint *ep, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ev_vput(ep, kind, 0, false, 0, fmt, ap);
    va_end(ap);
}

void an_ev_at(struct an_endpoint *ep, const char *kind, uint64_t frame, int64_t ts_ns, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ev_vput(ep, kind, frame, true, ts_ns, fmt, ap);
    va_end(ap);
}

void an_detail_add(struct an_endpoint *ep, const char *key, const char *fmt, ...)
{
    if (ep->n_detail >= AN_MAX_DETAIL)
        return;
    struct an_detail *d = &ep->detail[ep->n_detail++];
    snprintf(d->key, sizeof(d->key), "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->value, sizeof(d->value), fmt, ap);
    va_end(ap);
}

void an_reason_set(struct an_endpoint *ep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ep->reason, sizeof(ep->reason), fmt, ap);
    va_end(ap);
}

void an_reset_undecided(struct an_endpoint *ep)
{
    ep->verdict = AN_CONNECTION_RESET;
    ep->confidence = AN_CONF_MEDIUM;
    ep->candidates = 1u << AN_FIREWALL_RESET | 1u << AN_SERVER_RESET;
}

void an_contra_at(struct an_endpoint *ep, const char *kind, uint64_t frame, int64_t ts_ns, const char *fmt, ...)
{
    assert(kind && *kind);
    if (ep->n_contradictions >= AN_MAX_CONTRADICTIONS)
        return;
    va_list ap;
    va_start(ap, fmt);
    evidence_put(&ep->contradictions[ep->n_contradictions++], kind, frame, true, ts_ns, fmt, ap);
    va_end(ap);
}

void an_ev_syns(struct an_endpoint *ep, const struct an_flow_digest *d)
{
    char ip[64];
    cap_addr_str(&d->server, ip, sizeof(ip));
    an_ev_at(ep, "syn", AN_AT(d->syn_first), "SYN to %s:%u ttl=%u", ip, d->server_port, d->syn_first.ttl);
    if (d->n_syn > 1)
        an_ev_at(ep, "syn_retransmitted", AN_AT(d->syn_last), "SYN retransmitted, %u SYNs in all over %.1f s", d->n_syn,
                 an_ms_between(d->syn_first.ts_ns, d->syn_last.ts_ns) / 1000.0);
}

void an_ev_synack(struct an_endpoint *ep, const struct an_flow_digest *d)
{
    if (!d->has_synack)
        return;
    an_ev_at(ep, "syn_ack", AN_AT(d->synack), "SYN-ACK ttl=%u (hop distance %u), mss=%u, %.2f ms after the SYN",
             d->synack.ttl, cap_hop_distance(d->synack.ttl), d->synack.mss,
             an_ms_between(d->syn_last.ts_ns, d->synack.ts_ns));
}

void an_ev_client_hello(struct an_endpoint *ep, const struct an_flow_digest *d)
{
    if (!d->has_ch)
        return;
    if (d->sni[0])
        an_ev_at(ep, "client_hello", AN_AT(d->client_hello), "ClientHello SNI %s", d->sni);
    else
        an_ev_at(ep, "client_hello_no_sni", AN_AT(d->client_hello), "ClientHello without SNI");
}

/* The hop distance of the real server as its SYN-ACKs on any port show it. */
bool an_server_hops(const struct an_host *h, unsigned *hops, const struct an_answer **from)
{
    if (!h || h->n_synack_ports == 0)
        return false;
    *from = &h->synack_ports[0];
    *hops = cap_hop_distance(h->synack_ports[0].ttl);
    return true;
}

/* Another port or ping of this host answered: the path to it works. */
const struct an_answer *an_other_answer(const struct an_host *h, uint16_t port)
{
    if (!h)
        return NULL;
    for (unsigned i = 0; i < h->n_synack_ports; i++)
        if (h->synack_ports[i].port != port)
            return &h->synack_ports[i];
    if (h->rst.frame && h->rst.port != port)
        return &h->rst;
    return NULL;
}

static bool same_prefix(const struct cap_addr *a, const struct cap_addr *b)
{
    /* "Outside its prefix": /24 for IPv4, /64 for IPv6, the usual subnet sizes. */
    if (a->family != b->family)
        return false;
    return memcmp(a->a, b->a, a->family == 4 ? 3 : 8) == 0;
}

/* A control destination answered (SYN-ACK, RST or ping): one the user
 * named with --control, whatever its prefix, or any host outside the
 * server's prefix.  */
const struct an_host *an_control_answered(const struct an_engine *e, const struct cap_addr *server)
{
    for (size_t b = 0; b < AN_HOST_BUCKETS; b++)
        for (const struct an_host *h = e->hosts[b]; h; h = h->next)
            if ((h->control || !same_prefix(&h->addr, server)) && !cap_addr_eq(&h->addr, server) &&
                (h->synack.frame || h->echo_reply.frame || h->rst.frame))
                return h;
    return NULL;
}
