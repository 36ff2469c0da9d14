/* classify.c: one finished flow to a flow outcome with its evidence. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "engine.h"

/* A silent drop needs two SYNs, or one SYN and this long a wait with the
 * capture still running (verdicts.md: "or one SYN and the wait deadline"). */
#define AN_SYN_DEADLINE_NS (3LL * 1000000000LL)

/* No stack starts a connection with a TTL this small (64, 128, 255 are the
 * usual initial values); the probe's TTL-limited connects use 1 to 8.  */
#define AN_TRACE_TTL 8

enum an_verdict an_outcome_verdict(enum an_flow_outcome o)
{
    switch (o) {
    case AN_FO_OK: return AN_OK;
    case AN_FO_ICMP: return AN_ICMP_UNREACHABLE;
    case AN_FO_RST_AT_SYN: return AN_CONNECTION_RESET;
    case AN_FO_CLOSED_AFTER_CH: return AN_FIREWALL_RESET;
    case AN_FO_FOREIGN_CERT: return AN_PROXY_INTERCEPTION;
    case AN_FO_TLS_ALERT: return AN_TLS_FAILURE;
    case AN_FO_MTU: return AN_MTU_BLACKHOLE;
    case AN_FO_SILENT: return AN_SILENT_DROP;
    case AN_FO_STALL: return AN_TLS_FAILURE;
    case AN_FO_TLS13_ABORT: return AN_TLS_FAILURE;
    case AN_FO_RST_LATER: return AN_CONNECTION_RESET;
    case AN_FO_FORGED_TO_SERVER: return AN_FIREWALL_RESET;
    case AN_FO_CLIENT_GAVE_UP: return AN_TLS_FAILURE;
    case AN_FO_FORGED_SYNACK: return AN_FIREWALL_RESET;
    case AN_FO_HELLO_DROPPED: return AN_SILENT_DROP;
    case AN_FO_PROXY_REFUSED: return AN_PROXY_REFUSED;
    case AN_FO_INCOMPLETE: return AN_INCOMPLETE;
    case AN_FO_MIDSTREAM: return AN_INCOMPLETE;
    case AN_FO_COUNT: break;
    }
    return AN_INCOMPLETE;
}

/* The registry's certificates are issued by Microsoft CAs (docs/acr-network-facts.md §4:
 * "Microsoft Azure RSA TLS Issuing CA 03", "Microsoft TLS G2 RSA CA OCSP
 * 02", O=Microsoft Corporation).  */
static bool microsoft_issuer(const struct cap_cert_info *c)
{
    return strcmp(c->issuer_o, "Microsoft Corporation") == 0 ||
           strncmp(c->issuer_cn, "Microsoft ", 10) == 0;
}

/* RFC 6125 6.4.3: a wildcard matches exactly one left-most label. */
static bool name_matches(const char *pattern, const char *name)
{
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(name, '.');
        return dot && dot != name && strcasecmp(dot + 1, pattern + 2) == 0;
    }
    return strcasecmp(pattern, name) == 0;
}

static bool cert_covers(const struct cap_cert_info *c, const char *name)
{
    for (unsigned i = 0; i < c->n_sans && i < LIM_CERT_SANS; i++)
        if (name_matches(c->sans[i], name))
            return true;
    return c->n_sans == 0 && name_matches(c->subject_cn, name);
}

static bool claims_registry(const struct cap_cert_info *c)
{
    if (an_registry_name(c->subject_cn))
        return true;
    for (unsigned i = 0; i < c->n_sans && i < LIM_CERT_SANS; i++)
        if (an_registry_name(c->sans[i]))
            return true;
    return false;
}

static bool has_upper(const char *s)
{
    for (; *s; s++)
        if (isupper((unsigned char)*s))
            return true;
    return false;
}

static bool client_payload_after(const struct cap_flow_dir *c, uint64_t frame, uint64_t *at)
{
    for (unsigned i = 0; i < c->n_payload; i++) {
        if (c->payload[i].frame > frame) {
            *at = c->payload[i].frame;
            return true;
        }
    }
    if (c->last_payload.frame > frame) {
        *at = c->last_payload.frame;
        return true;
    }
    return false;
}

static bool is_unreachable(const struct cap_icmp_ref *r)
{
    /* Fragmentation needed (3/4) and packet-too-big are path-MTU signals,
     * not unreachability; time exceeded and redirects do not end a flow.  */
    return r->v6 ? r->type == 1 : (r->type == 3 && r->code != 4);
}

/* Clears all but the cold tail: most digests are read once and dropped,
 * and clearing all 2.9 KB of each (a `rep stos`) was a quarter of this
 * file's time.  */
static void fill_basics(const struct cap_flow *f, struct an_flow_digest *d)
{
    memset(d, 0, offsetof(struct an_flow_digest, cert_subject));
    d->first_frame = f->first_frame;
    d->first_ts = f->first_ts;
    d->client = f->client;
    d->server = f->server;
    d->client_port = f->client_port;
    d->server_port = f->server_port;
    d->n_syn = f->n_syn;
    if (f->n_syn) {
        d->syn_first = f->syn[0];
        d->syn_last = f->syn[(f->n_syn < LIM_FRAMES_PER_KIND ? f->n_syn : LIM_FRAMES_PER_KIND) - 1];
        d->client_mss = f->syn[0].mss;
    }
    if (f->n_synack) {
        d->has_synack = true;
        d->synack = f->synack[0];
        d->server_mss = f->synack[0].mss;
        if (f->n_syn && f->synack[0].ts_ns >= d->syn_last.ts_ns)
            d->rtt_ns = f->synack[0].ts_ns - d->syn_last.ts_ns;
    }
    const struct cap_flow_dir *s = &f->dir[CAP_S2C];
    if (s->n_rst) {
        d->has_rst = true;
        d->rst = s->rst[0];
        d->rst_from_server = true;
    } else if (f->dir[CAP_C2S].n_rst) {
        d->has_rst = true;
        d->rst = f->dir[CAP_C2S].rst[0];
    }
    d->data_after_rst = f->data_after_rst;
    d->first_rst_frame = f->first_rst.frame;
    d->data_after_rst_ref = f->data_after_rst_ref;
    if (f->data_after_rst)
        d->findings |= 1u << AN_F_DATA_AFTER_RESET;
    if (d->client_mss && d->server_mss && d->server_mss < d->client_mss && d->server_mss <= 1400)
        d->findings |= 1u << AN_F_MSS_CLAMPED;
}

static void fill_tls(const struct cap_flow *f, struct an_flow_digest *d)
{
    const struct cap_tls_facts *c = f->dir[CAP_C2S].tls, *s = f->dir[CAP_S2C].tls;
    if (c && c->tls.client_hello) {
        d->has_ch = true;
        d->client_hello = c->client_hello;
        if (c->tls.sni_present) {
            an_str_copy(d->sni, sizeof(d->sni), c->tls.sni);
            d->sni_uppercase = has_upper(d->sni);
        } else {
            d->sni_missing = true;
            d->findings |= 1u << AN_F_SNI_MISSING;
        }
        if (d->sni_uppercase)
            d->findings |= 1u << AN_F_UPPERCASE_REGISTRY_NAME;
    }
    if (s && s->tls.server_hello) {
        d->has_sh = true;
        d->server_hello = s->server_hello;
        d->sh_version = s->tls.sh_version;
    }
    if (s && s->tls.certificate && s->tls.cert.present) {
        d->has_cert = true;
        d->certificate = s->certificate;
        memset(d->cert_subject, 0, sizeof(d->cert_subject));
        memset(d->cert_issuer_cn, 0, sizeof(d->cert_issuer_cn));
        memset(d->cert_issuer_o, 0, sizeof(d->cert_issuer_o));
        an_str_copy(d->cert_subject, sizeof(d->cert_subject), s->tls.cert.subject_cn);
        an_str_copy(d->cert_issuer_cn, sizeof(d->cert_issuer_cn), s->tls.cert.issuer_cn);
        an_str_copy(d->cert_issuer_o, sizeof(d->cert_issuer_o), s->tls.cert.issuer_o);
        d->findings |= 1u << AN_F_TLS12_CERTIFICATE_VISIBLE;
        if (d->sni[0] && s->tls.cert.parsed && !cert_covers(&s->tls.cert, d->sni)) {
            d->cert_name_mismatch = true;
            d->findings |= 1u << AN_F_CERTIFICATE_NAME_MISMATCH;
        }
    }
    /* The first fatal alert in clear, from either side, by frame order. */
    for (int side = 0; side < 2; side++) {
        const struct cap_tls_facts *t = side ? s : c;
        if (!t)
            continue;
        for (unsigned i = 0; i < t->tls.n_alerts && i < LIM_TLS_ALERTS; i++) {
            const struct cap_tls_alert *a = &t->tls.alerts[i];
            if (a->level != 2)
                continue;
            if (d->alert_ref.frame == 0 || t->alerts[i].frame < d->alert_ref.frame) {
                d->alert_ref = t->alerts[i];
                d->alert_level = a->level;
                d->alert_desc = a->description;
                d->alert_from_server = side == CAP_S2C;
            }
            break;
        }
    }
}

/* A router's "fragmentation needed" / "packet too big" with a small
 * next-hop MTU (verdicts.md, mtu_blackhole).  */
static const struct cap_icmp_ref *too_big(const struct cap_flow *f)
{
    for (unsigned i = 0; i < f->n_icmp && i < LIM_FRAMES_PER_KIND; i++) {
        const struct cap_icmp_ref *r = &f->icmp[i];
        bool big = r->v6 ? r->type == 2 : (r->type == 3 && r->code == 4);
        if (big && r->next_mtu && r->next_mtu < 1500)
            return r;
    }
    return NULL;
}

/* The outcome a close decides, by who sent it and how far the handshake had
 * got when it came (`ev` is the timeline's cause).  */
static enum an_flow_outcome close_outcome(const struct cap_flow *f, const struct an_event *ev,
                                          struct an_flow_digest *d)
{
    bool rst = ev->kind == AN_EV_RST;
    bool before_sh = !d->has_sh || ev->ref.frame < d->server_hello.frame;
    bool after_ch = d->has_ch && ev->ref.frame > d->client_hello.frame;
    d->trigger = ev->ref;
    d->trigger_forged = ev->forged;
    if (ev->side == CAP_C2S) {
        /* A reset in the client's name that the client did not send: seen
         * where the capture is on the server side of the device.  */
        if (rst && ev->forged) {
            d->client_went_on = an_went_on_after(&f->dir[CAP_C2S], ev->ref.frame, &d->client_went_on_ref);
            d->trigger_ttl_fits = an_fits_sender(f, CAP_C2S, ev->ref.ttl);
            return AN_FO_FORGED_TO_SERVER;
        }
        if (after_ch && before_sh)
            return d->ch_retransmits && !d->ch_acked ? AN_FO_HELLO_DROPPED : AN_FO_CLIENT_GAVE_UP;
        if (d->has_sh && d->sh_version >= CAP_TLS_1_3)
            return AN_FO_TLS13_ABORT;
        return AN_FO_INCOMPLETE;
    }
    if (rst) {
        d->has_rst = true;
        d->rst = ev->ref;
        d->rst_from_server = true;
    } else {
        d->has_fin = true;
        d->fin = ev->ref;
    }
    if (!f->n_synack || ev->ref.frame < f->synack[0].frame)
        return rst ? AN_FO_RST_AT_SYN : AN_FO_INCOMPLETE;
    if (after_ch && before_sh) {
        if (d->rtt_ns > 0 && ev->ref.ts_ns - d->client_hello.ts_ns < d->rtt_ns / 2)
            d->findings |= 1u << AN_F_RST_FASTER_THAN_RTT;
        return AN_FO_CLOSED_AFTER_CH;
    }
    return rst ? AN_FO_RST_LATER : AN_FO_INCOMPLETE;
}

/* Through an explicit proxy (RFC 9110 9.3.6): a reply other than 2xx, or
 * none before the proxy closed or the client waited AN_SYN_DEADLINE_NS, is
 * the outcome; AN_FO_COUNT when the tunnel opened (its TLS is judged as any
 * other) or the capture does not show the answer.  */
static enum an_flow_outcome tunnel_outcome(const struct an_engine *e, const struct cap_flow *f,
                                           struct an_flow_digest *d)
{
    const struct cap_tunnel *tn = f->tunnel;
    const struct cap_flow_dir *c = &f->dir[CAP_C2S], *s = &f->dir[CAP_S2C];
    d->via_proxy = true;
    d->tunnel = *tn;        /* the whole cold part: no clearing needed */
    if (tn->replied) {
        if (tn->status >= 200 && tn->status < 300)
            return AN_FO_COUNT;
        d->trigger = tn->reply;
        return AN_FO_PROXY_REFUSED;
    }
    /* Bytes came back that are no reply head (cut, or not HTTP): the
     * capture does not show what the proxy said.  */
    if (s->payload_bytes > 0)
        return AN_FO_INCOMPLETE;
    const struct cap_ref *srv = s->n_rst ? &s->rst[0] : s->fin ? &s->fin_ref : NULL;
    const struct cap_ref *cli = c->n_rst ? &c->rst[0] : c->fin ? &c->fin_ref : NULL;
    if (srv && srv->frame > tn->connect.frame && (!cli || srv->frame < cli->frame)) {
        d->trigger = *srv;
        d->proxy_silent = true;
        d->proxy_closed = true;
        d->proxy_waited_ns = srv->ts_ns - tn->connect.ts_ns;
        return AN_FO_PROXY_REFUSED;
    }
    int64_t end = cli && cli->frame > tn->connect.frame ? cli->ts_ns : e->last_ts_ns;
    if (end - tn->connect.ts_ns >= AN_SYN_DEADLINE_NS) {
        if (cli)
            d->trigger = *cli;
        d->proxy_silent = true;
        d->proxy_waited_ns = end - tn->connect.ts_ns;
        return AN_FO_PROXY_REFUSED;
    }
    return AN_FO_INCOMPLETE;
}

static enum an_flow_outcome decide_outcome(const struct an_engine *e, const struct cap_flow *f,
                                           struct an_flow_digest *d)
{
    const struct cap_flow_dir *c = &f->dir[CAP_C2S], *s = &f->dir[CAP_S2C];

    uint64_t client_after_sh = 0;
    bool completed = (d->has_sh && client_payload_after(c, d->server_hello.frame, &client_after_sh) &&
                      s->last_payload.frame > client_after_sh) ||
                     ((c->tls && c->tls->tls.not_tls) && s->payload_bytes > 0);
    /* An unreachable that quotes our packet ends the attempt, unless the
     * connection completed anyway (a transient route change).  */
    for (unsigned i = 0; i < f->n_icmp && i < LIM_FRAMES_PER_KIND && !completed; i++) {
        if (is_unreachable(&f->icmp[i])) {
            d->icmp = f->icmp[i];
            return AN_FO_ICMP;
        }
    }
    if (f->tunnel) {
        enum an_flow_outcome o = tunnel_outcome(e, f, d);
        if (o != AN_FO_COUNT)
            return o;
    }
    if (f->n_syn == 0 && f->n_synack == 0) {
        d->findings |= 1u << AN_F_MIDSTREAM_START;
        return AN_FO_MIDSTREAM;
    }
    /* One direction missing from the capture is not a drop: the client went
     * on as if answered, or only the server's packets were captured.  */
    if (c->pkts == 0 || (!f->n_synack && s->pkts == 0 && c->pkts > f->n_syn + c->n_rst)) {
        d->one_sided = true;
        return AN_FO_INCOMPLETE;
    }
    if (!f->n_synack) {
        if (s->n_rst) {
            d->trigger = s->rst[0];
            d->trigger_forged = !an_fits_sender(f, CAP_S2C, s->rst[0].ttl);
            return AN_FO_RST_AT_SYN;
        }
        if (s->pkts)        /* the server side spoke without a SYN-ACK: odd capture */
            return AN_FO_INCOMPLETE;
        /* SYNs sent with a TTL of a few hops are a traceroute's (the
         * probe's TTL-limited connects), not a connection attempt.  */
        if (f->n_syn && f->syn[0].ttl <= AN_TRACE_TTL && d->syn_last.ttl <= AN_TRACE_TTL)
            return AN_FO_INCOMPLETE;
        if (f->n_syn >= 2)
            return AN_FO_SILENT;
        if (f->n_syn == 1 && e->last_ts_ns - f->syn[0].ts_ns >= AN_SYN_DEADLINE_NS)
            return AN_FO_SILENT;
        return AN_FO_INCOMPLETE;
    }
    /* Without TLS facts (too many handshakes at once) only plain TCP
     * outcomes can be judged.  */
    if (c->tls_missing || s->tls_missing) {
        d->tls_unknown = true;
        return c->payload_bytes && s->payload_bytes ? AN_FO_OK : AN_FO_INCOMPLETE;
    }
    /* Only a connection to the registry is held to the registry's CAs: the
     * client asked for a registry name, or the certificate claims one.  */
    const struct cap_cert_info *cert = d->has_cert ? &f->dir[CAP_S2C].tls->tls.cert : NULL;
    bool registry = d->has_ch && ((d->sni[0] && an_registry_name(d->sni)) || (cert && claims_registry(cert)));
    bool foreign_cert = cert && registry && !microsoft_issuer(cert);

    d->server_uses_ts = s->ts_pkts > 0 && s->ts_pkts == s->pkts - s->n_rst;
    d->ch_acked = d->has_ch && s->ack_set && s->ack_high > 0;
    d->ch_retransmits = d->has_ch && !d->has_sh ? c->retransmits : 0;
    /* The first abnormal event is the cause; what the other side did after
     * it is a reaction.  */
    struct an_timeline t;
    an_timeline_build(f, d, completed, foreign_cert, &t);
    const struct an_event *cause = an_timeline_cause(&t);
    if (cause) {
        const struct an_event *reaction = an_timeline_reaction(&t, cause);
        if (reaction)
            d->reaction = reaction->ref;
        switch (cause->kind) {
        case AN_EV_UNKNOWN_ACK:
            d->trigger = cause->ref;
            return AN_FO_FORGED_SYNACK;
        case AN_EV_CERTIFICATE:
            d->trigger = d->certificate;
            return AN_FO_FOREIGN_CERT;
        case AN_EV_ALERT:
            d->trigger = d->alert_ref;
            return AN_FO_TLS_ALERT;
        case AN_EV_GAP:
            d->hole_len = f->dir[cause->side].hole_len;
            d->trigger = cause->ref;
            d->lost_from_client = cause->side == CAP_C2S;
            return AN_FO_MTU;
        case AN_EV_FULL_RETRANSMIT:
            d->full_retransmits = f->dir[cause->side].full_retransmits;
            d->trigger = cause->ref;
            d->lost_from_client = cause->side == CAP_C2S;
            return AN_FO_MTU;
        case AN_EV_FIN:
        case AN_EV_RST: {
            enum an_flow_outcome o = close_outcome(f, cause, d);
            if (o != AN_FO_INCOMPLETE)
                return o;
            break;
        }
        default:
            break;
        }
    }
    if (completed)
        return AN_FO_OK;
    const struct cap_icmp_ref *big = too_big(f);
    if (big) {
        d->icmp = *big;
        d->frag_needed = true;
        d->trigger.frame = big->frame;
        d->trigger.ts_ns = big->ts_ns;
        return AN_FO_MTU;
    }
    if (d->has_ch && !d->has_sh && s->payload_bytes == 0 && c->retransmits > 0) {
        d->trigger = d->client_hello;
        return d->ch_acked ? AN_FO_STALL : AN_FO_HELLO_DROPPED;
    }
    return AN_FO_INCOMPLETE;
}

/* Outcomes that rest on packet headers alone survive a short snap length;
 * the others need bytes it may have cut.  */
static bool header_only(enum an_flow_outcome o)
{
    return o == AN_FO_SILENT || o == AN_FO_RST_AT_SYN || o == AN_FO_ICMP;
}

/* What the key log opened: the first HTTP response's status, registry
 * headers and error, as the prober's fact would carry them.  */
static void fill_decrypted(const struct cap_flow *f, struct an_flow_digest *d)
{
    const struct cap_decrypted *x = f->decrypted;
    if (!x)
        return;
    d->decrypted = true;
    d->dec_ok = x->records_ok;
    d->dec_failed = x->records_failed;
    d->dec_failed_ref = x->failed;
    if (!x->http)
        return;
    const struct cap_http_resp *r = &x->resp;
    d->dec_http = true;
    memset(&d->http, 0, sizeof(d->http));
    memset(d->http_request, 0, sizeof(d->http_request));
    d->http.request = NULL;
    snprintf(d->http_request, sizeof(d->http_request), "%s", x->request);
    d->http.frame = x->http_ref.frame;
    d->http.ts_ns = x->http_ref.ts_ns;
    d->http.status = r->status;
    d->http.registry_headers = r->has_docker_api_version || r->has_ms_correlation;
    d->http.bearer = r->bearer_challenge;
    snprintf(d->http.reason, sizeof(d->http.reason), "%s", r->reason);
    snprintf(d->http.code, sizeof(d->http.code), "%s", r->error_code);
    snprintf(d->http.message, sizeof(d->http.message), "%.199s", r->error_message);
    snprintf(d->http.client_ip, sizeof(d->http.client_ip), "%s", r->denied_client_ip);
}

void an_digest_settle(struct an_flow_digest *d)
{
    if (!d->has_cert) {
        memset(d->cert_subject, 0, sizeof(d->cert_subject));
        memset(d->cert_issuer_cn, 0, sizeof(d->cert_issuer_cn));
        memset(d->cert_issuer_o, 0, sizeof(d->cert_issuer_o));
    }
    if (!d->via_proxy)
        memset(&d->tunnel, 0, sizeof(d->tunnel));
    if (!d->dec_http) {
        memset(&d->http, 0, sizeof(d->http));
        memset(d->http_request, 0, sizeof(d->http_request));
    }
}

void an_classify_flow(const struct an_engine *e, const struct cap_flow *f, struct an_flow_digest *d)
{
    fill_basics(f, d);
    fill_tls(f, d);
    fill_decrypted(f, d);
    d->outcome = decide_outcome(e, f, d);
    /* Truncation is not evidence (verdicts.md principle 4): an ok needs the
     * whole handshake, anything else all of the flow.  */
    bool tls_cut = f->dir[CAP_C2S].tls_cut || f->dir[CAP_S2C].tls_cut;
    if ((f->snapped && d->outcome != AN_FO_OK && !header_only(d->outcome)) || (tls_cut && d->outcome == AN_FO_OK)) {
        d->outcome = AN_FO_INCOMPLETE;
        d->findings |= 1u << AN_F_CAPTURE_TRUNCATED;
    }
}
