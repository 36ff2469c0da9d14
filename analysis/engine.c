/* engine.c: packet summaries to per-endpoint verdicts (verdicts.md).
 *
 * Flows are classified when they leave the flow table into a flow outcome
 * with its evidence; each endpoint keeps the first flow of every outcome.
 * Verdicts are decided at the end, when facts from other flows (the same
 * server on other ports, ICMP echo, control destinations, DNS) are known.  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "engine.h"

/* ---- tables --------------------------------------------------------------- */

static uint64_t addr_hash(const struct cap_addr *a, uint16_t port)
{
    uint64_t h = 0xcbf29ce484222325ull ^ a->family;
    for (int i = 0; i < 16; i++) {
        h ^= a->a[i];
        h *= 0x100000001b3ull;
    }
    h ^= port;
    h *= 0x100000001b3ull;
    return h;
}

struct an_host *an_host_get(struct an_engine *e, const struct cap_addr *a)
{
    size_t b = addr_hash(a, 0) % AN_HOST_BUCKETS;
    for (struct an_host *h = e->hosts[b]; h; h = h->next)
        if (cap_addr_eq(&h->addr, a))
            return h;
    if (e->n_hosts >= LIM_HOSTS)
        return NULL;
    struct an_host *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->addr = *a;
    h->next = e->hosts[b];
    e->hosts[b] = h;
    e->n_hosts++;
    return h;
}

struct an_host *an_host_find(const struct an_engine *e, const struct cap_addr *a)
{
    size_t b = addr_hash(a, 0) % AN_HOST_BUCKETS;
    for (struct an_host *h = e->hosts[b]; h; h = h->next)
        if (cap_addr_eq(&h->addr, a))
            return h;
    return NULL;
}

struct an_ep_acc *an_ep_get(struct an_engine *e, const struct cap_addr *a, uint16_t port)
{
    return an_ep_get_via(e, a, port, "");
}

struct an_ep_acc *an_ep_get_via(struct an_engine *e, const struct cap_addr *a, uint16_t port, const char *via)
{
    size_t b = addr_hash(a, port) % AN_EP_BUCKETS;
    for (struct an_ep_acc *ep = e->ep_buckets[b]; ep; ep = ep->hash_next)
        if (ep->port == port && cap_addr_eq(&ep->ip, a) && ep->via_target[0] == via[0] &&
            (!via[0] || strcmp(ep->via_target, via) == 0))
            return ep;
    if (e->n_eps >= LIM_ENDPOINTS) {
        e->endpoints_dropped++;
        return NULL;
    }
    struct an_ep_acc *ep = calloc(1, sizeof(*ep));
    if (!ep)
        return NULL;
    ep->ip = *a;
    ep->port = port;
    snprintf(ep->via_target, sizeof(ep->via_target), "%s", via);
    ep->hash_next = e->ep_buckets[b];
    e->ep_buckets[b] = ep;
    e->eps[e->n_eps++] = ep;
    return ep;
}

/* ---- engine life ---------------------------------------------------------- */

static void flow_done(void *ctx, const struct cap_flow *f);

struct an_engine *an_engine_new(const struct an_options *opt)
{
    struct an_engine *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->opt = *opt;
    if (e->opt.port <= 0)
        e->opt.port = 443;
    if (e->opt.n_private_nets == 0) {
        static const char *defaults[] = { "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                          "100.64.0.0/10", "fc00::/7" };
        for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
            if (an_prefix_parse(defaults[i], &e->opt.private_nets[e->opt.n_private_nets]))
                e->opt.n_private_nets++;
    }
    if (opt->host && !cap_addr_parse(opt->host, &e->host_addr))
        e->host_addr.family = 0;
    e->flows = cap_flows_new(flow_done, e);
    if (!e->flows) {
        free(e);
        return NULL;
    }
    cap_flows_set_keylog(e->flows, opt->keylog);
    cap_flows_set_server_port(e->flows, (uint16_t)e->opt.port);
    e->info.first_ts_ns = -1;
    return e;
}

void an_engine_free(struct an_engine *e)
{
    if (!e)
        return;
    cap_flows_free(e->flows);
    for (size_t b = 0; b < AN_HOST_BUCKETS; b++) {
        struct an_host *h = e->hosts[b];
        while (h) {
            struct an_host *n = h->next;
            free(h);
            h = n;
        }
    }
    for (unsigned i = 0; i < e->n_eps; i++) {
        for (int o = 0; o < AN_FO_COUNT; o++)
            free(e->eps[i]->first[o]);
        free(e->eps[i]);
    }
    free(e->dns);
    for (unsigned i = 0; i < e->n_facts; i++)
        free(e->facts[i]);
    free(e);
}

void an_engine_set_end(struct an_engine *e, int64_t ts_ns)
{
    if (ts_ns > e->last_ts_ns)
        e->last_ts_ns = ts_ns;
}

void an_engine_fact(struct an_engine *e, const char *line)
{
    struct an_fact f;
    if (e->n_facts < AN_MAX_FACTS && an_fact_parse(line, &f))
        an_engine_add_fact(e, &f);
}

void an_engine_add_fact(struct an_engine *e, const struct an_fact *f)
{
    if (e->n_facts >= AN_MAX_FACTS)
        return;
    struct an_fact *copy = malloc(sizeof(*copy));
    if (copy) {
        *copy = *f;
        e->facts[e->n_facts++] = copy;
    }
    /* A destination the user named as a control counts as one whatever
     * its prefix (route_blackhole).  */
    struct cap_addr a;
    struct an_host *h;
    if (f->kind == AN_FK_CONTROL && cap_addr_parse(an_fact_str(f, AN_K_ADDR), &a) && (h = an_host_get(e, &a)))
        h->control = true;
}

void an_engine_damaged(struct an_engine *e, const char *why)
{
    e->info.damaged = true;
    snprintf(e->info.damage, sizeof(e->info.damage), "%s", why);
}

/* ---- packets -------------------------------------------------------------- */

static bool port_wanted(const struct an_engine *e, uint16_t port)
{
    return port == (uint16_t)e->opt.port;
}

static void note_linktype(struct an_capture_info *ci, uint32_t lt)
{
    for (unsigned i = 0; i < ci->n_linktypes; i++)
        if (ci->linktypes[i] == lt)
            return;
    if (ci->n_linktypes < sizeof(ci->linktypes) / sizeof(ci->linktypes[0]))
        ci->linktypes[ci->n_linktypes++] = lt;
}

/* Facts about a server host that later decide nsg_drop, route_blackhole
 * and whose RST it was: what answered, from how far away.  */
static void note_tcp_answer(struct an_engine *e, const struct cap_pkt *p)
{
    bool synack = (p->tcp_flags & (CAP_TH_SYN | CAP_TH_ACK)) == (CAP_TH_SYN | CAP_TH_ACK);
    bool rst = p->tcp_flags & CAP_TH_RST;
    if (!synack && !rst)
        return;
    struct an_host *h = an_host_get(e, &p->src);
    if (!h)
        return;
    struct an_answer *a = synack ? &h->synack : &h->rst;
    if (!a->frame) {
        a->frame = p->frame;
        a->ts_ns = p->ts_ns;
        a->port = p->sport;
        a->ttl = p->ttl;
    }
    if (synack) {
        /* The hop distance of the real server, per port, for comparing RSTs. */
        for (unsigned i = 0; i < h->n_synack_ports; i++)
            if (h->synack_ports[i].port == p->sport)
                return;
        if (h->n_synack_ports < AN_PORTS_PER_HOST) {
            struct an_answer *s = &h->synack_ports[h->n_synack_ports++];
            s->frame = p->frame;
            s->ts_ns = p->ts_ns;
            s->port = p->sport;
            s->ttl = p->ttl;
        }
    }
}

/* TCP to ports other than the analysed one: SYNs that get no answer tell
 * whether the destination is reachable at all (nsg_drop vs route_blackhole). */
static void note_other_tcp(struct an_engine *e, const struct cap_pkt *p)
{
    if ((p->tcp_flags & (CAP_TH_SYN | CAP_TH_ACK)) != CAP_TH_SYN)
        return;
    struct an_host *h = an_host_get(e, &p->dst);
    if (!h)
        return;
    if (!h->other_port_syn.frame) {
        an_seen_first(&h->other_port_syn, p);
        h->other_port = p->dport;
    }
    h->other_port_syns++;
}

static void note_icmp_echo(struct an_engine *e, const struct cap_pkt *p)
{
    bool v6 = p->ipver == 6;
    bool request = v6 ? p->icmp_type == 128 : p->icmp_type == 8;
    bool reply = v6 ? p->icmp_type == 129 : p->icmp_type == 0;
    if (!request && !reply)
        return;
    struct an_host *h = an_host_get(e, request ? &p->dst : &p->src);
    if (!h)
        return;
    if (request) {
        an_seen_first(&h->echo_request, p);
        h->echo_requests++;
    } else if (!h->echo_reply.frame) {
        an_seen_first(&h->echo_reply, p);
        h->echo_reply_ttl = p->ttl;
    }
}

/* A TCP packet on another port than the analysed one belongs to an explicit
 * proxy's flow: its address and port are a proxy's already, or it is the
 * client's first bytes and they are a CONNECT (RFC 9110 9.3.6), which makes
 * its destination a proxy.  The cost per packet is a compare against the
 * few proxies known and, for a packet with payload, of 8 bytes.  */
static bool proxy_packet(struct an_engine *e, const struct cap_pkt *p)
{
    for (unsigned i = 0; i < e->n_proxies; i++) {
        const struct an_proxy *x = &e->proxies[i];
        if ((x->port == p->dport && cap_addr_eq(&x->addr, &p->dst)) ||
            (x->port == p->sport && cap_addr_eq(&x->addr, &p->src)))
            return true;
    }
    if (p->payload_len >= 8 && cap_http_is_connect(p->payload, p->payload_len)) {
        if (e->n_proxies >= AN_MAX_PROXIES)
            return false;
        e->proxies[e->n_proxies].addr = p->dst;
        e->proxies[e->n_proxies].port = p->dport;
        e->n_proxies++;
        /* The handshakes of the flows to this proxy, seen before it was
         * known to matter: this one's, and those of connections opened at
         * the same time whose CONNECT comes later (a prober's, a client's
         * login server and data endpoint).  */
        for (unsigned k = 0; k < AN_SYN_RING; k++) {
            const struct cap_pkt *q = &e->syn_ring[(e->syn_ring_next + k) % AN_SYN_RING];
            bool fwd = q->dport == p->dport && cap_addr_eq(&q->dst, &p->dst);
            bool rev = q->sport == p->dport && cap_addr_eq(&q->src, &p->dst);
            if (q->ipver && q->frame < p->frame && (fwd || rev))
                cap_flows_tcp(e->flows, q);
        }
        return true;
    }
    if (p->tcp_flags & CAP_TH_SYN) {
        struct cap_pkt *q = &e->syn_ring[e->syn_ring_next];
        *q = *p;
        q->payload = NULL;
        q->payload_len = q->payload_wire_len = 0;
        e->syn_ring_next = (e->syn_ring_next + 1) % AN_SYN_RING;
    }
    return false;
}

void an_engine_packet(struct an_engine *e, const struct cap_pkt *p, uint32_t linktype)
{
    struct an_capture_info *ci = &e->info;
    ci->packets++;
    note_linktype(ci, linktype);
    if (ci->first_ts_ns < 0 || p->ts_ns < ci->first_ts_ns)
        ci->first_ts_ns = p->ts_ns;
    if (p->ts_ns > ci->last_ts_ns)
        ci->last_ts_ns = p->ts_ns;
    if (p->snapped)
        ci->packets_snapped++;
    if (p->ipver == 0 || p->status == CAP_INVALID || p->status == CAP_UNSUPPORTED) {
        ci->packets_undecoded++;
        return;
    }
    e->last_ts_ns = p->ts_ns > e->last_ts_ns ? p->ts_ns : e->last_ts_ns;

    if (p->proto == CAP_IPPROTO_TCP) {
        note_tcp_answer(e, p);
        if (port_wanted(e, p->sport) || port_wanted(e, p->dport) || proxy_packet(e, p))
            cap_flows_tcp(e->flows, p);
        else
            note_other_tcp(e, p);
        if (p->payload_len && (p->sport == 53 || p->dport == 53))
            an_dns_packet(e, p, true);
    } else if (p->proto == CAP_IPPROTO_UDP) {
        if (p->sport == 53 || p->dport == 53)
            an_dns_packet(e, p, false);
    } else if (p->proto == CAP_IPPROTO_ICMP || p->proto == CAP_IPPROTO_ICMPV6) {
        if (p->icmp_err.present) {
            /* An error whose quote the snap length cut cannot be matched:
             * the flow it answered must not pass for unanswered.  */
            if (!cap_flows_icmp(e->flows, p) && p->snapped)
                e->icmp_cut++;
        }
        else
            note_icmp_echo(e, p);
    }
}

/* ---- flows to outcomes ---------------------------------------------------- */

static void flow_done(void *ctx, const struct cap_flow *f)
{
    struct an_engine *e = ctx;
    struct an_flow_digest dg;
    /* Other flows to a proxy's port (plain HTTP through it) are not the
     * registry's.  */
    if (!f->tunnel && !port_wanted(e, f->server_port) && !port_wanted(e, f->client_port))
        return;
    an_classify_flow(e, f, &dg);
    struct an_ep_acc *ep = an_ep_get_via(e, &f->server, f->server_port, f->tunnel ? f->tunnel->target : "");
    if (!ep)
        return;
    ep->n_flows++;
    ep->outcome_count[dg.outcome]++;
    if (dg.sni[0] && !ep->sni[0])
        an_str_copy(ep->sni, sizeof(ep->sni), dg.sni);
    if (!ep->first[dg.outcome]) {
        ep->first[dg.outcome] = malloc(sizeof(dg));
        an_digest_settle(&dg);
        if (ep->first[dg.outcome])
            *ep->first[dg.outcome] = dg;
    }
    if (dg.outcome == AN_FO_OK && ep->last_ok_frame < dg.first_frame)
        ep->last_ok_frame = dg.first_frame;
    if (ep->n_lines < AN_MAX_FLOWS_LISTED) {
        struct an_flow_line *l = &ep->lines[ep->n_lines++];
        l->first_frame = f->first_frame;
        l->client = f->client;
        l->client_port = f->client_port;
        an_str_copy(l->conn_state, sizeof(l->conn_state), cap_flow_conn_state(f));
        an_str_copy(l->history, sizeof(l->history), f->history);
        l->outcome = an_outcome_verdict(dg.outcome);
    }
}
