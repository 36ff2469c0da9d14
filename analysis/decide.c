/* decide.c: per-endpoint verdicts from flow outcomes and cross-flow facts. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine.h"

/* ---- wording -------------------------------------------------------------- */

static const char *alert_name(uint8_t d)
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

static const char *icmp_meaning(const struct cap_icmp_ref *r)
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

static bool icmp_is_admin(const struct cap_icmp_ref *r)
{
    return r->v6 ? (r->code == 1 || r->code == 5 || r->code == 6)
                 : (r->code == 9 || r->code == 10 || r->code == 13);
}

static const char *tls_version_name(uint16_t v)
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

static double ms_between(int64_t from, int64_t to)
{
    return (double)(to - from) / 1e6;
}

/* ---- building an endpoint ------------------------------------------------- */

/* Evidence and contradictions name their kind (docs/verdicts.md "Evidence
 * kinds"), a static snake_case string that tests and machines match.  */

static void add_ev(struct an_endpoint *ep, const char *kind, uint64_t frame, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_ev(struct an_endpoint *ep, const char *kind, uint64_t frame, const char *fmt, ...)
{
    assert(kind && *kind);
    if (ep->n_evidence >= AN_MAX_EVIDENCE)
        return;
    struct an_evidence *ev = &ep->evidence[ep->n_evidence++];
    ev->frame = frame;
    ev->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->what, sizeof(ev->what), fmt, ap);
    va_end(ap);
}

static void add_detail(struct an_endpoint *ep, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_detail(struct an_endpoint *ep, const char *key, const char *fmt, ...)
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

static void set_reason(struct an_endpoint *ep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_reason(struct an_endpoint *ep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ep->reason, sizeof(ep->reason), fmt, ap);
    va_end(ap);
}

static void add_contra(struct an_endpoint *ep, const char *kind, uint64_t frame, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_contra(struct an_endpoint *ep, const char *kind, uint64_t frame, const char *fmt, ...)
{
    assert(kind && *kind);
    if (ep->n_contradictions >= AN_MAX_CONTRADICTIONS)
        return;
    struct an_evidence *ev = &ep->contradictions[ep->n_contradictions++];
    ev->frame = frame;
    ev->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->what, sizeof(ev->what), fmt, ap);
    va_end(ap);
}

static void ev_syns(struct an_endpoint *ep, const struct an_flow_digest *d)
{
    char ip[64];
    cap_addr_str(&d->server, ip, sizeof(ip));
    add_ev(ep, "syn", d->syn_first.frame, "SYN to %s:%u ttl=%u", ip, d->server_port, d->syn_first.ttl);
    if (d->n_syn > 1)
        add_ev(ep, "syn_retransmitted", d->syn_last.frame, "SYN retransmitted, %u SYNs in all over %.1f s", d->n_syn,
               ms_between(d->syn_first.ts_ns, d->syn_last.ts_ns) / 1000.0);
}

static void ev_synack(struct an_endpoint *ep, const struct an_flow_digest *d)
{
    if (!d->has_synack)
        return;
    add_ev(ep, "syn_ack", d->synack.frame, "SYN-ACK ttl=%u (hop distance %u), mss=%u, %.2f ms after the SYN",
           d->synack.ttl, cap_hop_distance(d->synack.ttl), d->synack.mss,
           ms_between(d->syn_last.ts_ns, d->synack.ts_ns));
}

static void ev_client_hello(struct an_endpoint *ep, const struct an_flow_digest *d)
{
    if (!d->has_ch)
        return;
    if (d->sni[0])
        add_ev(ep, "client_hello", d->client_hello.frame, "ClientHello SNI %s", d->sni);
    else
        add_ev(ep, "client_hello_no_sni", d->client_hello.frame, "ClientHello without SNI");
}

/* The hop distance of the real server as its SYN-ACKs on any port show it. */
static bool server_hops(const struct an_host *h, unsigned *hops, const struct an_answer **from)
{
    if (!h || h->n_synack_ports == 0)
        return false;
    *from = &h->synack_ports[0];
    *hops = cap_hop_distance(h->synack_ports[0].ttl);
    return true;
}

/* Another port or ping of this host answered: the path to it works. */
static const struct an_answer *other_answer(const struct an_host *h, uint16_t port)
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
static const struct an_host *control_answered(const struct an_engine *e, const struct cap_addr *server)
{
    for (size_t b = 0; b < AN_HOST_BUCKETS; b++)
        for (const struct an_host *h = e->hosts[b]; h; h = h->next)
            if ((h->control || !same_prefix(&h->addr, server)) && !cap_addr_eq(&h->addr, server) &&
                (h->synack.frame || h->echo_reply_frame || h->rst.frame))
                return h;
    return NULL;
}


static void explain_silent(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    const struct an_host *h = an_host_find(e, &d->server);
    char ip[64];
    cap_addr_str(&d->server, ip, sizeof(ip));
    ev_syns(ep, d);
    if (e->icmp_cut) {
        /* An ICMP error may have answered these SYNs: truncation is not evidence. */
        ep->verdict = AN_INCOMPLETE;
        ep->confidence = AN_CONF_LOW;
        set_reason(ep, "%u SYN%s to %s:%u got no SYN-ACK, but %llu ICMP error%s in the capture were cut by the snap length before the packet they quote: capture again with -s 0",
                   d->n_syn, d->n_syn == 1 ? "" : "s", ip, d->server_port, (unsigned long long)e->icmp_cut,
                   e->icmp_cut == 1 ? "" : "s");
        return;
    }
    const struct an_answer *other = other_answer(h, d->server_port);
    if (other || (h && h->echo_reply_frame)) {
        ep->verdict = AN_NSG_DROP;
        /* A SYN-ACK or an echo reply can only come from the host; a RST on
         * another port may be a firewall's reject in front of it.  */
        ep->confidence = (other && other != &h->rst) || h->echo_reply_frame ? AN_CONF_HIGH : AN_CONF_MEDIUM;
        if (other) {
            add_ev(ep, "other_port_answered", other->frame, "%s from %s port %u ttl=%u: the host is reachable",
                   other == &h->rst ? "RST" : "SYN-ACK", ip, other->port, other->ttl);
            set_reason(ep, "%u SYN%s to port %u got no answer while %s answered on port %u: the drop is scoped to the port, as an NSG or ACL rule does",
                       d->n_syn, d->n_syn == 1 ? "" : "s", d->server_port, ip, other->port);
        } else {
            add_ev(ep, "icmp_echo_reply", h->echo_reply_frame, "ICMP echo reply from %s ttl=%u: the host is reachable", ip,
                   h->echo_reply_ttl);
            set_reason(ep, "%u SYN%s to port %u got no answer while %s answered ping: the drop is scoped to the port, as an NSG or ACL rule does",
                       d->n_syn, d->n_syn == 1 ? "" : "s", d->server_port, ip);
        }
        return;
    }
    /* verdicts.md: ping and another TCP port silent too. */
    bool other_silent = h && (h->echo_requests && !h->echo_reply_frame) &&
                        (h->other_port_syns && !h->synack.frame && !h->rst.frame);
    const struct an_host *ctl = control_answered(e, &d->server);
    if (other_silent && ctl) {
        char cip[64];
        cap_addr_str(&ctl->addr, cip, sizeof(cip));
        ep->verdict = AN_ROUTE_BLACKHOLE;
        ep->confidence = AN_CONF_MEDIUM;
        if (h->echo_requests && !h->echo_reply_frame)
            add_ev(ep, "icmp_echo_unanswered", h->echo_request_frame, "ICMP echo to %s unanswered (%u requests)", ip, h->echo_requests);
        if (h->other_port_syns)
            add_ev(ep, "other_port_unanswered", h->other_port_syn_frame, "SYN to %s port %u unanswered (%u SYNs)", ip, h->other_port,
                   h->other_port_syns);
        uint64_t cf = ctl->synack.frame ? ctl->synack.frame : ctl->echo_reply_frame ? ctl->echo_reply_frame : ctl->rst.frame;
        add_ev(ep, "control_answered", cf, "control destination %s answered: the network path itself works", cip);
        set_reason(ep, "nothing sent to %s is answered (TCP %u, %s) while %s%s answers: the drop is scoped to the destination, as a route with next hop None does. From the wire alone an NSG rule denying every protocol to it looks the same: check the next hop and effective routes in Network Watcher",
                   ip, d->server_port, h->echo_requests ? "ping" : "another port", cip,
                   ctl->control ? ", a --control destination," : " outside its prefix");
        return;
    }
    ep->verdict = AN_SILENT_DROP;
    ep->confidence = AN_CONF_MEDIUM;
    ep->candidates = 1u << AN_NSG_DROP | 1u << AN_ROUTE_BLACKHOLE;
    set_reason(ep, "%u SYN%s to %s:%u got no SYN-ACK, RST or ICMP answer; the capture holds no other traffic to that address that would tell an NSG rule from a route with next hop None",
               d->n_syn, d->n_syn == 1 ? "" : "s", ip, d->server_port);
}

static void explain_reset_at_syn(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    const struct an_host *h = an_host_find(e, &d->server);
    unsigned rst_hops = cap_hop_distance(d->trigger.ttl), srv_hops;
    const struct an_answer *ref;
    ev_syns(ep, d);
    add_ev(ep, "rst_answers_syn", d->trigger.frame, "RST ttl=%u (hop distance %u), %.2f ms after the SYN", d->trigger.ttl, rst_hops,
           ms_between(d->syn_last.ts_ns, d->trigger.ts_ns));
    if (server_hops(h, &srv_hops, &ref)) {
        add_ev(ep, "server_syn_ack_other_port", ref->frame, "SYN-ACK from the same address on port %u ttl=%u (hop distance %u)", ref->port,
               ref->ttl, srv_hops);
        ep->confidence = AN_CONF_HIGH;
        if (srv_hops == rst_hops) {
            /* The same distance fits the server; a device beside it, or one
             * copying its TTL, would fit too.  */
            ep->confidence = AN_CONF_MEDIUM;
            ep->verdict = AN_SERVER_RESET;
            set_reason(ep, "the SYN was answered by a RST at hop distance %u, the same distance as the server's own SYN-ACKs: the endpoint refused the port",
                       rst_hops);
        } else {
            ep->verdict = AN_FIREWALL_RESET;
            set_reason(ep, "the SYN was answered by a RST at hop distance %u while the server's own packets come from hop distance %u: a device on the path rejected the connection",
                       rst_hops, srv_hops);
        }
        return;
    }
    ep->verdict = AN_CONNECTION_RESET;
    ep->confidence = AN_CONF_MEDIUM;
    ep->candidates = 1u << AN_FIREWALL_RESET | 1u << AN_SERVER_RESET;
    set_reason(ep, "the SYN was answered by a RST (ttl=%u, hop distance %u); the capture holds no packet of the server itself to tell a firewall's reject from a closed port",
               d->trigger.ttl, rst_hops);
}

static void explain_closed_after_hello(const struct an_engine *e, const struct an_flow_digest *d,
                                       struct an_endpoint *ep)
{
    const struct an_host *h = an_host_find(e, &d->server);
    bool rst = d->has_rst && d->rst.frame == d->trigger.frame;
    unsigned hops = cap_hop_distance(d->trigger.ttl);
    unsigned sa_hops = d->has_synack ? cap_hop_distance(d->synack.ttl) : hops;
    double delay = ms_between(d->client_hello.ts_ns, d->trigger.ts_ns);
    ev_synack(ep, d);
    ev_client_hello(ep, d);
    add_ev(ep, "close_after_client_hello", d->trigger.frame, "%s ttl=%u (hop distance %u), %.2f ms after frame %llu, no ServerHello",
           rst ? "RST" : "FIN", d->trigger.ttl, hops, delay, (unsigned long long)d->client_hello.frame);
    if (hops == 0 && sa_hops == 0) {
        /* Captured on the host that answered: its packets leave with an
         * undecremented TTL.  That host may be the registry or a
         * transparent proxy or firewall that took the connection over.  */
        ep->verdict = AN_CONNECTION_RESET;
        ep->confidence = AN_CONF_MEDIUM;
        ep->candidates = 1u << AN_FIREWALL_RESET | 1u << AN_SERVER_RESET;
        set_reason(ep, "this capture was taken on the host that answered (its SYN-ACK and the %s left with an initial TTL), and that host ended the connection %.2f ms after the ClientHello: the server itself if this is the registry's host, a firewall if it took the connection over with a transparent redirect",
                   rst ? "RST" : "FIN", delay);
        return;
    }
    unsigned srv_hops;
    const struct an_answer *ref;
    bool other_far = server_hops(h, &srv_hops, &ref) && srv_hops != hops;
    /* The close came from where the server's own answers come from: the
     * SYN-ACK at its distance and another port of the address at the same
     * one.  That is the server's doing as much as a firewall's.  */
    const struct an_answer *other = other_answer(h, d->server_port);
    bool fast = d->findings & (1u << AN_F_RST_FASTER_THAN_RTT);
    if (!d->trigger_forged && hops == sa_hops && other && cap_hop_distance(other->ttl) == hops && !fast) {
        char ip[64];
        cap_addr_str(&d->server, ip, sizeof(ip));
        add_contra(ep, "close_same_hops_as_server", other->frame, "%s from %s port %u ttl=%u: the close came from the same hop distance (%u) as the server's own answers",
                   other == &h->rst ? "RST" : "SYN-ACK", ip, other->port, other->ttl, hops);
        ep->verdict = AN_CONNECTION_RESET;
        ep->confidence = AN_CONF_MEDIUM;
        ep->candidates = 1u << AN_FIREWALL_RESET | 1u << AN_SERVER_RESET;
        set_reason(ep, "the connection was %s %.2f ms after the ClientHello with no ServerHello, as an SNI firewall does, but from the hop distance of the server's own answers on other ports: the capture cannot tell the registry's front end from a firewall beside it",
                   rst ? "reset" : "closed", delay);
        return;
    }
    ep->verdict = AN_FIREWALL_RESET;
    if (hops != sa_hops || other_far || fast || d->trigger_forged)
        ep->confidence = AN_CONF_HIGH;
    else
        ep->confidence = AN_CONF_MEDIUM;
    if (hops != sa_hops)
        set_reason(ep, "the connection was %s %.2f ms after the ClientHello from hop distance %u, while the SYN-ACK came from hop distance %u: a middlebox decided on the TLS ClientHello",
                   rst ? "reset" : "closed", delay, hops, sa_hops);
    else
        set_reason(ep, "the connection was %s %.2f ms after the ClientHello%s%s, with no ServerHello and no TLS alert from the server: a firewall deciding on the SNI does this (Azure Firewall application rules close, others reset)",
                   rst ? "reset" : "closed", delay, d->sni[0] ? " naming " : "", d->sni);
}

static void explain_foreign_cert(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    ev_synack(ep, d);
    ev_client_hello(ep, d);
    add_ev(ep, "certificate_issuer", d->certificate.frame, "Certificate CN=%s issued by CN=%s, O=%s", d->cert_subject, d->cert_issuer_cn,
           d->cert_issuer_o[0] ? d->cert_issuer_o : "(none)");
    if (d->alert_ref.frame)
        add_ev(ep, "tls_alert", d->alert_ref.frame, "TLS alert fatal %s (%u) from the %s", alert_name(d->alert_desc),
               d->alert_desc, d->alert_from_server ? "server" : "client");
    ep->verdict = AN_PROXY_INTERCEPTION;
    ep->confidence = AN_CONF_HIGH;
    add_detail(ep, "issuer", "CN=%s, O=%s", d->cert_issuer_cn, d->cert_issuer_o);
    set_reason(ep, "the certificate presented for %s was issued by \"%s\"%s%s%s, not by the registry's Microsoft CAs: something between the client and the registry terminates TLS",
               d->sni[0] ? d->sni : "the registry", d->cert_issuer_cn, d->cert_issuer_o[0] ? " (" : "",
               d->cert_issuer_o, d->cert_issuer_o[0] ? ")" : "");
}

/* Alerts a client sends when it does not accept the server's certificate. */
static bool certificate_alert(uint8_t d)
{
    return d == 42 || d == 43 || d == 44 || d == 45 || d == 46 || d == 48;
}

static void explain_alert(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    ev_synack(ep, d);
    ev_client_hello(ep, d);
    const char *who = d->alert_from_server ? "server" : "client";
    add_ev(ep, "tls_alert", d->alert_ref.frame, "TLS alert fatal %s (%u) from the %s", alert_name(d->alert_desc), d->alert_desc, who);
    ep->verdict = AN_TLS_FAILURE;
    ep->confidence = AN_CONF_HIGH;
    add_detail(ep, "alert", "%s", alert_name(d->alert_desc));
    add_detail(ep, "alert_from", "%s", who);
    /* The client rejected the certificate; a handshake answered from nearer
     * than the address's other answers is a second signal that something on
     * the path presented it.  */
    const struct an_answer *other = other_answer(an_host_find(e, &d->server), d->server_port);
    if (!d->alert_from_server && certificate_alert(d->alert_desc) && d->has_synack && other &&
        cap_hop_distance(other->ttl) > cap_hop_distance(d->synack.ttl)) {
        add_ev(ep, "other_port_farther", other->frame, "port %u of the same address answered ttl=%u (hop distance %u), farther than this handshake's SYN-ACK",
               other->port, other->ttl, cap_hop_distance(other->ttl));
        ep->verdict = AN_PROXY_INTERCEPTION;
        ep->confidence = AN_CONF_MEDIUM;
        set_reason(ep, "the client rejected the certificate (%s) of a handshake answered from hop distance %u while the address answers other ports from hop distance %u: something nearer than the registry terminated TLS",
                   alert_name(d->alert_desc), cap_hop_distance(d->synack.ttl), cap_hop_distance(other->ttl));
        return;
    }
    if (!d->alert_from_server && certificate_alert(d->alert_desc))
        set_reason(ep, "the client rejected the certificate it was shown (fatal alert %s): TLS inspection by a proxy, or a trust store without the registry's CAs. Run `acrdiag probe` to see the issuer",
                   alert_name(d->alert_desc));
    else
        set_reason(ep, "the %s ended the handshake with the fatal alert %s (%u)", who, alert_name(d->alert_desc),
                   d->alert_desc);
}

static void explain_mtu(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    ev_synack(ep, d);
    ep->verdict = AN_MTU_BLACKHOLE;
    ep->confidence = AN_CONF_MEDIUM;
    if (d->full_retransmits) {
        add_ev(ep, "full_size_retransmitted", d->trigger.frame, "the %s's full-size segment of %u bytes retransmitted, %u full-size retransmissions never acknowledged",
               d->lost_from_client ? "client" : "server", d->trigger.len, d->full_retransmits);
        set_reason(ep, "the handshake and small segments were acknowledged but %u retransmissions of full-size segments (%u bytes) never were: packets near the MSS vanish on the path",
                   d->full_retransmits, d->trigger.len);
    } else if (d->frag_needed) {
        char rep[64];
        cap_addr_str(&d->icmp.reporter, rep, sizeof(rep));
        ep->confidence = AN_CONF_HIGH;
        add_ev(ep, "icmp_frag_needed", d->icmp.frame, "ICMP%s %s from %s: next-hop MTU %u", d->icmp.v6 ? "v6" : "",
               d->icmp.v6 ? "packet too big" : "fragmentation needed", rep, d->icmp.next_mtu);
        add_detail(ep, "next_hop_mtu", "%u", d->icmp.next_mtu);
        set_reason(ep, "%s reported a next-hop MTU of %u and the connection never completed: full-size packets do not fit the path",
                   rep, d->icmp.next_mtu);
    } else {
        const char *who = d->lost_from_client ? "client" : "server";
        add_ev(ep, "data_gap", d->trigger.frame, "%s data arrived after a gap of %u bytes that was never filled", who, d->hole_len);
        set_reason(ep, "the %s's data arrived with a gap of %u bytes that never came, while its smaller segments did: full-size packets from the %s vanish on the path",
                   who, d->hole_len, who);
    }
    if (d->server_mss)
        add_detail(ep, "server_mss", "%u", d->server_mss);
}

static void explain_icmp(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    char rep[64];
    cap_addr_str(&d->icmp.reporter, rep, sizeof(rep));
    if (d->n_syn)
        ev_syns(ep, d);
    add_ev(ep, "icmp_unreachable", d->icmp.frame, "ICMP%s destination unreachable code %u (%s) from %s", d->icmp.v6 ? "v6" : "",
           d->icmp.code, icmp_meaning(&d->icmp), rep);
    ep->verdict = AN_ICMP_UNREACHABLE;
    ep->confidence = AN_CONF_HIGH;
    add_detail(ep, "icmp_code", "%u", d->icmp.code);
    add_detail(ep, "icmp_meaning", "%s", icmp_meaning(&d->icmp));
    add_detail(ep, "reported_by", "%s", rep);
    bool from_host = cap_addr_eq(&d->icmp.reporter, &d->server);
    bool port = d->icmp.v6 ? d->icmp.code == 4 : (d->icmp.code == 2 || d->icmp.code == 3);
    set_reason(ep, "%s answered with ICMP destination unreachable (%s): %s", rep, icmp_meaning(&d->icmp),
               icmp_is_admin(&d->icmp) ? "a firewall rejected the traffic"
               : port || from_host    ? "the destination itself refused it (nothing listens there, or a host firewall)"
                                      : "a router has no route to the destination");
}

static void explain_stall(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    ev_synack(ep, d);
    ev_client_hello(ep, d);
    ep->verdict = AN_TLS_FAILURE;
    ep->confidence = AN_CONF_LOW;
    set_reason(ep, "TCP connected but no ServerHello ever came back after the ClientHello, which was retransmitted; a middlebox swallowing the handshake or a path MTU black hole toward the client look like this");
}

static void explain_hello_dropped(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    ev_synack(ep, d);
    add_ev(ep, "client_hello_unacked", d->client_hello.frame, "ClientHello SNI %s, %u bytes, retransmitted %u time%s, never acknowledged",
           d->sni[0] ? d->sni : "(none)", d->client_hello.len, d->ch_retransmits, d->ch_retransmits == 1 ? "" : "s");
    ep->verdict = AN_SILENT_DROP;
    ep->confidence = AN_CONF_MEDIUM;
    if (d->client_hello.len >= 1200)
        set_reason(ep, "TCP connected, then the client's ClientHello (%u bytes) vanished: retransmitted and never acknowledged, nothing came back. Something on the path drops it: a filter deciding on the SNI, or a path MTU black hole toward the registry (the ClientHello is near full size)",
                   d->client_hello.len);
    else
        set_reason(ep, "TCP connected, then the client's ClientHello (%u bytes, far below any path MTU) vanished: retransmitted and never acknowledged, nothing came back. Something on the path drops it by its content, as a firewall filtering on the SNI silently does",
                   d->client_hello.len);
}

static void explain_tls13_abort(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    ev_synack(ep, d);
    ev_client_hello(ep, d);
    add_ev(ep, "server_hello", d->server_hello.frame, "ServerHello %s", tls_version_name(d->sh_version));
    add_ev(ep, "client_closed_after_server_hello", d->trigger.frame, "client %s %.2f ms after the ServerHello, before any application data",
           (d->trigger.flags & CAP_TH_RST) ? "reset" : "closed", ms_between(d->server_hello.ts_ns, d->trigger.ts_ns));
    ep->verdict = AN_TLS_FAILURE;
    ep->confidence = AN_CONF_LOW;
    set_reason(ep, "the client gave up right after the server's TLS 1.3 handshake, whose certificate is encrypted on the wire; a rejected certificate (TLS inspection or an outdated trust store) is the usual cause. Run `acrdiag probe` or capture a TLS 1.2 handshake to see the issuer");
}

static void explain_rst_later(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    unsigned hops = cap_hop_distance(d->trigger.ttl);
    (void)e;
    ev_synack(ep, d);
    add_ev(ep, "rst_after_handshake", d->trigger.frame, "RST ttl=%u (hop distance %u)%s after the handshake", d->trigger.ttl, hops,
           d->trigger.tcp_ts ? " with TCP timestamps" : "");
    if (d->trigger_forged) {
        ep->verdict = AN_FIREWALL_RESET;
        ep->confidence = AN_CONF_HIGH;
        set_reason(ep, "an established connection was reset by a RST in the server's name that does not fit the server's own packets (hop distance %u against %u%s): a device on the path injected it",
                   hops, d->has_synack ? cap_hop_distance(d->synack.ttl) : hops,
                   d->server_uses_ts && !d->trigger.tcp_ts ? ", and without the timestamps the server puts on every packet" : "");
    } else if (d->server_uses_ts && d->trigger.tcp_ts) {
        /* A stack puts its timestamps on the RSTs it sends for a
         * connection it still has; an injector would have to copy them.  */
        ep->verdict = AN_SERVER_RESET;
        ep->confidence = AN_CONF_MEDIUM;
        set_reason(ep, "the server reset an established connection: the RST comes from its distance and carries its TCP timestamps");
    } else {
        ep->verdict = AN_CONNECTION_RESET;
        ep->confidence = AN_CONF_MEDIUM;
        ep->candidates = 1u << AN_FIREWALL_RESET | 1u << AN_SERVER_RESET;
        set_reason(ep, "an established connection was reset from the server's hop distance; nothing in the RST tells the server's own from one forged in its name with the same TTL");
    }
}

static void explain_forged_to_server(const struct an_engine *e, const struct an_flow_digest *d,
                                     struct an_endpoint *ep)
{
    (void)e;
    unsigned hops = cap_hop_distance(d->trigger.ttl);
    ev_synack(ep, d);
    ev_client_hello(ep, d);
    if (d->trigger_ttl_fits)
        add_ev(ep, "rst_forged_no_timestamps", d->trigger.frame, "RST in the client's name ttl=%u without the TCP timestamps all the client's packets carry",
               d->trigger.ttl);
    else
        add_ev(ep, "rst_forged_ttl", d->trigger.frame, "RST in the client's name ttl=%u (hop distance %u), unlike the client's own packets",
               d->trigger.ttl, hops);
    if (d->client_went_on)
        add_ev(ep, "client_went_on", d->client_went_on_frame, "the client went on with the connection after that RST: it never reset it");
    if (d->reaction.frame)
        add_ev(ep, "server_answered_forged_rst", d->reaction.frame, "%s from the server: its answer to the forged reset",
               (d->reaction.flags & CAP_TH_RST) ? "RST" : "FIN");
    ep->verdict = AN_FIREWALL_RESET;
    /* The TTL alone, or the missing timestamps with the client going on. */
    ep->confidence = d->client_went_on ? AN_CONF_HIGH : AN_CONF_MEDIUM;
    if (d->trigger_ttl_fits)
        set_reason(ep, "a RST that claims to come from the client reached the server without the TCP timestamps every packet of the client carries, and the client went on with the connection after it: a device on the path forged it, and the server's resets that follow only answer it");
    else
        set_reason(ep, "a RST that claims to come from the client reached the server with ttl=%u, which the client's own packets do not have%s: a device on the path forged it, and the server's resets that follow only answer it",
                   d->trigger.ttl, d->client_went_on ? ", and the client went on with the connection" : "");
}

static void explain_forged_synack(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    ev_synack(ep, d);
    add_ev(ep, "ack_of_unknown_synack", d->trigger.frame, "the client's handshake ACK acknowledges a sequence number no captured SYN-ACK used");
    if (d->reaction.frame)
        add_ev(ep, "server_answered_ack", d->reaction.frame, "%s from the server: its answer to that ACK",
               (d->reaction.flags & CAP_TH_RST) ? "RST" : "FIN");
    ep->verdict = AN_FIREWALL_RESET;
    ep->confidence = AN_CONF_MEDIUM;
    set_reason(ep, "the client acknowledged a SYN-ACK that the server never sent: a device on the path answered the client's SYN itself, and the server's reset only answers the client's unexpected ACK");
}

static void explain_client_gave_up(const struct an_engine *e, const struct an_flow_digest *d,
                                   struct an_endpoint *ep)
{
    (void)e;
    double waited = ms_between(d->client_hello.ts_ns, d->trigger.ts_ns) / 1000.0;
    ev_synack(ep, d);
    ev_client_hello(ep, d);
    add_ev(ep, "client_gave_up", d->trigger.frame, "the client %s %.1f s after its ClientHello, no ServerHello came",
           (d->trigger.flags & CAP_TH_RST) ? "reset" : "closed", waited);
    if (d->reaction.frame) {
        add_ev(ep, "server_closed_after_client", d->reaction.frame, "%s from the server side after the client's close: a reaction, not the cause",
               (d->reaction.flags & CAP_TH_RST) ? "RST" : "FIN");
        add_contra(ep, "server_closed_late", d->reaction.frame, "the server side closed too, but only after the client had given up");
    }
    ep->verdict = AN_TLS_FAILURE;
    ep->confidence = AN_CONF_LOW;
    set_reason(ep, "the client gave up %.1f s after its ClientHello (its own timeout, e.g. docker's Client.Timeout) because no ServerHello came; %s",
               waited, d->ch_acked ? "the server side acknowledged the ClientHello but its answer never arrived: a path MTU black hole toward the client (a full-size ServerHello flight lost), a middlebox holding the handshake, or a stalled server"
                                   : "the ClientHello was never acknowledged: it did not reach the server (a filter dropping it, or a path MTU black hole toward the server)");
}

static void explain_ok(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    ev_synack(ep, d);
    ev_client_hello(ep, d);
    if (d->has_sh)
        add_ev(ep, "server_hello", d->server_hello.frame, "ServerHello %s", tls_version_name(d->sh_version));
    if (d->has_cert)
        add_ev(ep, "certificate", d->certificate.frame, "Certificate CN=%s issued by CN=%s", d->cert_subject, d->cert_issuer_cn);
    ep->verdict = AN_OK;
    ep->confidence = AN_CONF_HIGH;
    set_reason(ep, "TCP connected and the TLS handshake completed%s; application data flowed both ways",
               d->has_sh ? "" : " (or plain data)");
}

static void explain_incomplete(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    ep->verdict = AN_INCOMPLETE;
    ep->confidence = AN_CONF_LOW;
    if (d->findings & (1u << AN_F_CAPTURE_TRUNCATED)) {
        add_ev(ep, "snap_length_cut", d->first_frame, "packets of this connection were cut by the snap length");
        set_reason(ep, "packets were cut by the capture's snap length, and truncation is not evidence: capture again with -s 0");
    } else if (d->tls_unknown) {
        add_ev(ep, "tls_facts_dropped", d->first_frame, "no TLS facts were kept for this connection (too many at once)");
        set_reason(ep, "too many handshakes were in progress at once for their TLS facts to be kept (flow_table_full), so this connection cannot be judged");
    } else if (d->one_sided) {
        add_ev(ep, "one_direction", d->first_frame, "only one direction of this connection is in the capture");
        set_reason(ep, "the capture holds only one direction of the connection (the other was not captured, e.g. asymmetric routing or a filtered capture), which is not evidence of a drop");
    } else if (d->outcome == AN_FO_MIDSTREAM) {
        add_ev(ep, "midstream_start", d->first_frame, "first packet of the connection is not a SYN or SYN-ACK");
        set_reason(ep, "the capture starts in the middle of the connection, so its handshake is missing");
    } else {
        if (d->n_syn)
            ev_syns(ep, d);
        set_reason(ep, "the capture ends before the connection's outcome is visible");
    }
}

/* The CONNECT through an explicit proxy and the proxy's reply, with the
 * proxy's address in detail (server and server_port are the proxy's).  */
static void ev_tunnel(struct an_endpoint *ep, const struct an_flow_digest *d)
{
    const struct cap_tunnel *tn = &d->tunnel;
    char ip[64];
    cap_addr_str(&d->server, ip, sizeof(ip));
    add_ev(ep, "proxy_connect", tn->connect.frame, "CONNECT %s:%u sent to the explicit proxy %s port %u", tn->target, tn->target_port,
           ip, d->server_port);
    if (tn->replied)
        add_ev(ep, "proxy_reply", tn->reply.frame, "the proxy answered %d %s%s%s%s%s%s%s", tn->status, tn->reason,
               tn->proxy_authenticate[0] ? ", Proxy-Authenticate: " : "", tn->proxy_authenticate,
               tn->server[0] ? ", Server: " : "", tn->server, tn->via[0] ? ", Via: " : "", tn->via);
    if (d->server_port != 0 && ip[0])
        add_detail(ep, "proxy", d->server.family == 6 ? "[%s]:%u" : "%s:%u", ip, d->server_port);
}

static void explain_proxy_refused(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    const struct cap_tunnel *tn = &d->tunnel;
    char ip[64];
    cap_addr_str(&d->server, ip, sizeof(ip));
    ev_tunnel(ep, d);
    ep->verdict = AN_PROXY_REFUSED;
    if (tn->replied) {
        ep->confidence = AN_CONF_HIGH;
        add_detail(ep, "http_status", "%d", tn->status);
        if (tn->proxy_authenticate[0])
            add_detail(ep, "proxy_authenticate", "%s", tn->proxy_authenticate);
        const char *why = tn->status == 407 ? "it requires proxy authentication and the client sent none it accepts"
                        : tn->status == 403 ? "its policy forbids a tunnel to this name"
                        : tn->status >= 500 ? "it could not open the connection to the registry itself"
                                            : "it refused the request";
        set_reason(ep, "the explicit proxy %s port %u answered the CONNECT to %s:%u with %d %s: %s", ip, d->server_port,
                   tn->target, tn->target_port, tn->status, tn->reason, why);
        return;
    }
    double waited = (double)d->proxy_waited_ns / 1e9;
    add_detail(ep, "http_status", "none");
    ep->confidence = AN_CONF_MEDIUM;
    const char *how = (d->trigger.flags & CAP_TH_RST) ? "reset" : "closed";
    if (d->proxy_closed) {
        add_ev(ep, "proxy_closed_connect", d->trigger.frame, "the proxy %s the connection %.2f s after the CONNECT without answering it", how,
               waited);
        set_reason(ep, "the explicit proxy %s port %u %s the connection %.2f s after the CONNECT to %s:%u without answering it: it refused the tunnel, or could not reach the registry",
                   ip, d->server_port, how, waited, tn->target, tn->target_port);
        return;
    }
    if (d->trigger.frame)
        add_ev(ep, "client_gave_up_on_connect", d->trigger.frame, "the client %s the connection %.1f s after the CONNECT, no answer came", how, waited);
    else
        add_ev(ep, "proxy_connect_unanswered", tn->connect.frame, "no answer to the CONNECT in the %.1f s the capture ran after it", waited);
    set_reason(ep, "the explicit proxy %s port %u never answered the CONNECT to %s:%u (%.1f s): it could not reach the registry itself, or holds the request",
               ip, d->server_port, tn->target, tn->target_port, waited);
}

/* The registry's answer read with a key log: the verdict it proves on a
 * connection the wire left ok (an_http_answer_apply, as the prober's), or
 * one line saying the keys did not open it.  */
static void explain_decrypted(const struct an_flow_digest *d, struct an_endpoint *ep)
{
    if (d->dec_ok == 0) {
        add_ev(ep, "keylog_wrong", d->dec_failed_ref.frame, "the key log holds secrets for this connection, but its records do not authenticate with them (%u tried): a wrong key log, nothing decrypted",
               d->dec_failed);
        return;
    }
    if (!d->dec_http) {
        add_ev(ep, "decrypted_no_http", 0, "%u records decrypted with the key log, no HTTP/1.x or HTTP/2 response among them",
               d->dec_ok);
        return;
    }
    add_ev(ep, "decrypted_records", 0, "%u records of the server decrypted with the key log (%s)", d->dec_ok,
           d->sh_version >= CAP_TLS_1_3 ? "TLS 1.3" : "TLS 1.2");
    /* A verdict the answer proves has no wire rule: rule null, as for the
     * prober's facts (verdicts.md).  */
    struct an_http_answer a = d->http;
    a.request = d->http_request[0] ? d->http_request : "the first request on the connection";
    an_http_answer_apply(ep, &a);
}

/* ---- the rules ------------------------------------------------------------ */

/* One row per flow outcome, in rank order: the most specific failure first,
 * ok before incomplete.  `name` is the JSON "rule"; `explain` sets the
 * verdict, confidence, reason, evidence and what contradicts it.  */
typedef void (*explain_fn)(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);

static const struct rule {
    enum an_flow_outcome outcome;
    const char *name;
    explain_fn explain;
} rules[] = {
    { AN_FO_ICMP, "icmp_error_quotes_flow", explain_icmp },
    { AN_FO_PROXY_REFUSED, "proxy_refused_connect", explain_proxy_refused },
    { AN_FO_RST_AT_SYN, "reset_answers_syn", explain_reset_at_syn },
    { AN_FO_FORGED_TO_SERVER, "reset_forged_in_client_name", explain_forged_to_server },
    { AN_FO_FORGED_SYNACK, "client_acked_unknown_synack", explain_forged_synack },
    { AN_FO_CLOSED_AFTER_CH, "closed_after_client_hello", explain_closed_after_hello },
    { AN_FO_FOREIGN_CERT, "foreign_certificate", explain_foreign_cert },
    { AN_FO_TLS_ALERT, "fatal_alert", explain_alert },
    { AN_FO_MTU, "full_size_segments_lost", explain_mtu },
    { AN_FO_SILENT, "syn_unanswered", explain_silent },
    { AN_FO_HELLO_DROPPED, "client_hello_dropped", explain_hello_dropped },
    { AN_FO_STALL, "client_hello_unanswered", explain_stall },
    { AN_FO_CLIENT_GAVE_UP, "client_gave_up", explain_client_gave_up },
    { AN_FO_TLS13_ABORT, "client_ended_tls13_handshake", explain_tls13_abort },
    { AN_FO_RST_LATER, "reset_after_handshake", explain_rst_later },
    { AN_FO_OK, "handshake_completed", explain_ok },
    { AN_FO_INCOMPLETE, "not_enough_evidence", explain_incomplete },
    { AN_FO_MIDSTREAM, "started_midstream", explain_incomplete },
};
_Static_assert(sizeof(rules) / sizeof(rules[0]) == AN_FO_COUNT, "one rule per flow outcome");

/* ---- endpoints ------------------------------------------------------------ */

static bool is_private(const struct an_engine *e, const struct cap_addr *a)
{
    for (unsigned i = 0; i < e->opt.n_private_nets; i++)
        if (an_prefix_contains(&e->opt.private_nets[i], a))
            return true;
    return false;
}

static void name_endpoint(const struct an_engine *e, const struct an_ep_acc *acc, struct an_endpoint *ep)
{
    const struct an_dns_name *dn = an_dns_name_for(e, &acc->ip);
    if (acc->via_target[0]) {
        /* Through a proxy: the name the client asked it for. */
        snprintf(ep->name, sizeof(ep->name), "%s", acc->via_target);
    } else if (dn) {
        snprintf(ep->name, sizeof(ep->name), "%s", dn->name);
        if (dn->chain_privatelink && !is_private(e, &acc->ip)) {
            ep->findings |= 1u << AN_F_PRIVATELINK_RESOLVES_PUBLIC;
            char ip[64];
            cap_addr_str(&acc->ip, ip, sizeof(ip));
            add_ev(ep, "dns_privatelink_public", dn->addr_frame, "DNS: %s resolves through a privatelink CNAME to the public address %s",
                   dn->name, ip);
        }
    } else if (acc->sni[0]) {
        snprintf(ep->name, sizeof(ep->name), "%s", acc->sni);
    }
    ep->is_data_endpoint = strstr(ep->name, ".data.") != NULL;
}

/* Evidence in frame order, as it happened; steps without a frame last. */
static void sort_evidence(struct an_endpoint *ep)
{
    for (unsigned i = 1; i < ep->n_evidence; i++) {
        struct an_evidence cur = ep->evidence[i];
        uint64_t key = cur.frame ? cur.frame : UINT64_MAX;
        unsigned j = i;
        while (j > 0 && (ep->evidence[j - 1].frame ? ep->evidence[j - 1].frame : UINT64_MAX) > key) {
            ep->evidence[j] = ep->evidence[j - 1];
            j--;
        }
        ep->evidence[j] = cur;
    }
}

static void build_endpoint(const struct an_engine *e, const struct an_ep_acc *acc, struct an_endpoint *ep)
{
    memset(ep, 0, sizeof(*ep));
    ep->has_ip = true;
    ep->ip = acc->ip;
    ep->port = acc->port;
    ep->n_flows = acc->n_flows;
    memcpy(ep->flows, acc->lines, sizeof(ep->flows));
    ep->n_flows_listed = acc->n_lines;
    name_endpoint(e, acc, ep);

    /* The first rule (in rank order) with a flow of its outcome speaks for
     * the endpoint.  */
    const struct an_flow_digest *d = NULL;
    const struct rule *rule = NULL;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]) && !d; i++) {
        rule = &rules[i];
        d = acc->first[rule->outcome];
    }
    if (!d) {
        ep->verdict = AN_INCOMPLETE;
        set_reason(ep, "no flow of this endpoint could be analysed");
        return;
    }
    ep->findings |= d->findings;
    ep->rule = rule->name;
    rule->explain(e, d, ep);
    /* An SNI filter closes every handshake naming the registry; one that
     * completed with the same name on this address, begun before the
     * failure showed, says the close was about something else (a TLS
     * version or cipher the other end refuses, a flaky device).  */
    const struct an_flow_digest *ok = acc->first[AN_FO_OK];
    if (ep->verdict == AN_FIREWALL_RESET && d->outcome == AN_FO_CLOSED_AFTER_CH && !d->trigger_forged && ok &&
        d->sni[0] && strcasecmp(ok->sni, d->sni) == 0 && ok->first_frame < d->trigger.frame) {
        add_contra(ep, "same_name_handshake_completed", ok->client_hello.frame, "a handshake naming %s to this address completed (connection of frame %llu)",
                   d->sni, (unsigned long long)ok->first_frame);
        ep->verdict = AN_CONNECTION_RESET;
        ep->confidence = AN_CONF_MEDIUM;
        ep->candidates = 1u << AN_FIREWALL_RESET | 1u << AN_SERVER_RESET;
        snprintf(ep->reason + strlen(ep->reason), sizeof(ep->reason) - strlen(ep->reason),
                 "; but another handshake with the same name completed, so a filter on the name alone does not explain it");
    }
    if (d->via_proxy && d->outcome != AN_FO_PROXY_REFUSED)
        ev_tunnel(ep, d);
    if (d->decrypted)
        explain_decrypted(d, ep);
    if (d->data_after_rst && d->outcome != AN_FO_FORGED_TO_SERVER)
        add_ev(ep, "data_after_rst", d->data_after_rst_ref.frame, "data arrived after the RST of frame %llu",
               (unsigned long long)d->first_rst_frame);
    /* Retried: a connection that worked began after this failure showed
     * (parallel attempts, as a prober makes, are not retries).  */
    if (ep->verdict != AN_OK && acc->first[AN_FO_OK] && acc->last_ok_frame > d->trigger.frame &&
        acc->last_ok_frame > d->syn_last.frame)
        ep->findings |= 1u << AN_F_CLIENT_RETRIED_AND_SUCCEEDED;
    /* The handshake answered by something nearer than the server's other
     * answers: the SYN-ACK came from a middlebox.  */
    const struct an_host *h = an_host_find(e, &acc->ip);
    if (d->has_synack && h) {
        for (unsigned i = 0; i < h->n_synack_ports; i++)
            if (cap_hop_distance(h->synack_ports[i].ttl) > cap_hop_distance(d->synack.ttl))
                ep->findings |= 1u << AN_F_SYN_ACK_HOP_DISTANCE_SHORT;
    }
    if (ep->verdict != AN_OK && ep->n_flows > 1)
        add_detail(ep, "flows_failed", "%u of %u", ep->n_flows - acc->outcome_count[AN_FO_OK], ep->n_flows);
    sort_evidence(ep);
}

bool an_registry_name(const char *name)
{
    size_t n = strlen(name), s = strlen("azurecr.io");
    return n >= s && strcmp(name + n - s, "azurecr.io") == 0 && (n == s || name[n - s - 1] == '.');
}

static bool dns_relevant(const struct an_engine *e, const struct an_dns_name *n)
{
    if (e->opt.host)
        return strcasecmp(e->opt.host, n->name) == 0;
    return an_registry_name(n->name);
}

static const char *rcode_name(uint8_t r)
{
    switch (r) {
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 3: return "NXDOMAIN";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    }
    return "error";
}

static void build_dns_endpoint(const struct an_engine *e, const struct an_dns_name *n, struct an_endpoint *ep)
{
    memset(ep, 0, sizeof(*ep));
    snprintf(ep->name, sizeof(ep->name), "%s", n->name);
    ep->port = 443;
    ep->verdict = AN_DNS_FAILURE;
    ep->rule = "dns_lookup_failed";
    ep->is_data_endpoint = strstr(ep->name, ".data.") != NULL;
    char srv[64];
    cap_addr_str(&n->server, srv, sizeof(srv));
    add_ev(ep, "dns_query", n->first_query_frame, "DNS query for %s to %s", n->name, srv);
    if (n->worst_rcode) {
        ep->confidence = AN_CONF_HIGH;
        add_ev(ep, "dns_rcode", n->rcode_frame, "DNS answer %s for %s", rcode_name(n->worst_rcode), n->name);
        add_detail(ep, "dns", "%s", rcode_name(n->worst_rcode));
        set_reason(ep, "the resolver %s answered %s for %s", srv, rcode_name(n->worst_rcode), n->name);
    } else if (n->cut_responses || (!n->responses && e->dns_cut_unnamed)) {
        /* The answer may hold the address: the capture cut it. */
        ep->verdict = AN_INCOMPLETE;
        ep->rule = "dns_answer_cut";
        ep->confidence = AN_CONF_LOW;
        if (n->cut_frame)
            add_ev(ep, "dns_answer_cut", n->cut_frame, "DNS answer for %s cut by the snap length", n->name);
        set_reason(ep, "the DNS answers for %s were cut by the capture's snap length, and truncation is not evidence: capture again with -s 0",
                   n->name);
    } else if (n->responses) {
        ep->confidence = AN_CONF_HIGH;
        add_ev(ep, "dns_no_address", n->response_frame, "DNS answer without any A or AAAA record for %s", n->name);
        add_detail(ep, "dns", "no_address");
        set_reason(ep, "the resolver %s answered without any address for %s", srv, n->name);
    } else {
        ep->confidence = AN_CONF_MEDIUM;
        add_ev(ep, "dns_unanswered", n->last_query_frame, "%u DNS queries for %s, none answered", n->queries, n->name);
        add_detail(ep, "dns", "no_answer");
        set_reason(ep, "%u queries for %s to %s got no answer: the resolver is unreachable or does not answer",
                   n->queries, n->name, srv);
    }
    if (n->chain_privatelink)
        ep->findings |= 1u << AN_F_PRIVATELINK_RESOLVES_PUBLIC;
}

static bool endpoint_wanted(const struct an_engine *e, const struct an_endpoint *ep)
{
    if (!e->opt.host)
        return true;
    if (e->host_addr.family)
        return ep->has_ip && cap_addr_eq(&ep->ip, &e->host_addr);
    return strcasecmp(ep->name, e->opt.host) == 0;
}

/* Login servers before data endpoints; failures before ok; ok before incomplete. */
static int rank(const struct an_endpoint *ep)
{
    int r = ep->is_data_endpoint ? 10 : 0;
    if (ep->verdict == AN_OK)
        r += 100;
    else if (ep->verdict == AN_INCOMPLETE)
        r += 200;
    return r;
}

/* Equal ranks keep the order of the capture (qsort is not stable). */
static int cmp_endpoints(const void *a, const void *b)
{
    const struct an_endpoint *x = a, *y = b;
    if (rank(x) != rank(y))
        return rank(x) - rank(y);
    uint64_t fx = x->n_flows_listed ? x->flows[0].first_frame : x->n_evidence ? x->evidence[0].frame : 0;
    uint64_t fy = y->n_flows_listed ? y->flows[0].first_frame : y->n_evidence ? y->evidence[0].frame : 0;
    return (fx > fy) - (fx < fy);
}

static const char *verdict_sentence(enum an_verdict v)
{
    switch (v) {
    case AN_OK: return "the registry endpoint works: TCP connected and TLS completed";
    case AN_DNS_FAILURE: return "the name did not resolve";
    case AN_SILENT_DROP: return "packets to TCP 443 vanish on the path: nothing answers them, no RST or ICMP comes back";
    case AN_NSG_DROP: return "TCP 443 is dropped silently while the same address answers otherwise, as an NSG or ACL rule does";
    case AN_ROUTE_BLACKHOLE: return "everything sent to this address vanishes while other destinations answer, as a route with next hop None does";
    case AN_CONNECTION_RESET: return "the connection was reset, and the capture cannot tell by whom";
    case AN_FIREWALL_RESET: return "a middlebox, not the registry, ended the connection";
    case AN_SERVER_RESET: return "the endpoint itself refused the connection";
    case AN_ICMP_UNREACHABLE: return "a router or firewall answered with ICMP destination unreachable";
    case AN_PROXY_INTERCEPTION: return "TLS was terminated by something other than the registry";
    case AN_PROXY_REFUSED: return "the explicit proxy did not open a tunnel to the registry";
    case AN_TLS_FAILURE: return "the TLS handshake failed";
    case AN_MTU_BLACKHOLE: return "small packets pass but full-size ones vanish (path MTU black hole)";
    case AN_REGISTRY_DENIED: return "the registry denied access to this client";
    case AN_REGISTRY_WRITE_DISABLED: return "the registry refused the write (operation disallowed)";
    case AN_REGISTRY_AUTH_FAILED: return "the registry refused the credentials (401)";
    case AN_REGISTRY_PUSH_FORBIDDEN: return "the registry accepted the credentials but refused the push (no push right)";
    case AN_REGISTRY_ERROR: return "the registry answered with an error";
    case AN_LOCAL_NO_ROUTE: return "this host refused to send the traffic";
    case AN_INCOMPLETE:
    case AN_VERDICT_COUNT: break;
    }
    return "the capture does not hold enough evidence to decide";
}

/* A registry endpoint: named under azurecr.io, or the one --host names. */
static bool registry_endpoint(const struct an_endpoint *ep, const struct an_options *opt)
{
    if (an_registry_name(ep->name))
        return true;
    if (!opt->host)
        return false;
    struct cap_addr a;
    if (cap_addr_parse(opt->host, &a))
        return ep->has_ip && cap_addr_eq(&ep->ip, &a);
    return strcasecmp(ep->name, opt->host) == 0;
}

void an_report_conclude(struct an_report *r, const struct an_options *opt)
{
    qsort(r->endpoints, r->n_endpoints, sizeof(*r->endpoints), cmp_endpoints);
    r->verdict = r->n_endpoints ? r->endpoints[0].verdict : AN_INCOMPLETE;
    /* "The registry works" needs a registry among the endpoints that
     * worked: other hosts answering says nothing about it.  */
    bool registry_ok = false;
    for (unsigned i = 0; i < r->n_endpoints; i++)
        registry_ok = registry_ok || (r->endpoints[i].verdict == AN_OK && registry_endpoint(&r->endpoints[i], opt));
    if (r->verdict == AN_OK && !registry_ok) {
        r->verdict = AN_INCOMPLETE;
        snprintf(r->summary, sizeof(r->summary),
                 "No connection in the capture is known to be to a registry (no *.azurecr.io name in its DNS answers or SNI, no --host); %u other endpoint%s worked: %s.",
                 r->n_endpoints, r->n_endpoints == 1 ? "" : "s", verdict_sentence(AN_INCOMPLETE));
        return;
    }
    if (r->n_endpoints) {
        const struct an_endpoint *top = &r->endpoints[0];
        char ip[64] = "";
        if (top->has_ip)
            cap_addr_str(&top->ip, ip, sizeof(ip));
        const char *name = top->name[0] ? top->name : ip;
        if (top->has_ip && top->name[0])
            snprintf(r->summary, sizeof(r->summary), "%s (%s port %u): %s.", name, ip, top->port,
                     verdict_sentence(top->verdict));
        else if (top->has_ip)
            snprintf(r->summary, sizeof(r->summary), "%s port %u: %s.", ip, top->port,
                     verdict_sentence(top->verdict));
        else
            snprintf(r->summary, sizeof(r->summary), "%s: %s.", name, verdict_sentence(top->verdict));
    } else {
        snprintf(r->summary, sizeof(r->summary), "The capture holds no traffic to TCP port %d%s%s: %s.", opt->port,
                 opt->host ? " of " : "", opt->host ? opt->host : "", verdict_sentence(AN_INCOMPLETE));
    }
}

void an_engine_finish(struct an_engine *e, const char *mode, struct an_report *r)
{
    memset(r, 0, sizeof(*r));
    r->mode = mode;
    /* Flush every flow still open into its endpoint. */
    uint64_t evicted = cap_flows_evicted(e->flows);
    uint64_t denied = cap_flows_streams_denied(e->flows);
    cap_flows_free(e->flows);
    e->flows = NULL;

    size_t cap = e->n_eps + e->n_dns;
    r->endpoints = calloc(cap ? cap : 1, sizeof(*r->endpoints));
    if (r->endpoints) {
        for (unsigned i = 0; i < e->n_eps; i++) {
            struct an_endpoint *ep = &r->endpoints[r->n_endpoints];
            build_endpoint(e, e->eps[i], ep);
            if (endpoint_wanted(e, ep))
                r->n_endpoints++;
        }
        for (unsigned i = 0; i < e->n_dns; i++) {
            const struct an_dns_name *n = &e->dns[i];
            if (n->got_address || !n->queries || !dns_relevant(e, n))
                continue;
            build_dns_endpoint(e, n, &r->endpoints[r->n_endpoints++]);
        }
    }
    if (evicted || e->endpoints_dropped || denied)
        r->findings |= 1u << AN_F_FLOW_TABLE_FULL;
    if (e->info.packets_snapped)
        r->findings |= 1u << AN_F_CAPTURE_TRUNCATED;

    r->capture = e->info;
    /* Facts first (they may add, remove or decide endpoints), then the
     * report is ordered and summed up once.  */
    if (e->n_facts)
        an_facts_apply(r, &e->opt, (const struct an_fact *const *)e->facts, e->n_facts);
    an_report_conclude(r, &e->opt);
}
