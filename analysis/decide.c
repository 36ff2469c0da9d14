/* decide.c: the report: endpoints from flows (rules.c) and from DNS, probe
 * facts on top, then the endpoints in report order and the summary.  */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"

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
    ep->port = (uint16_t)e->opt.port;
    ep->verdict = AN_DNS_FAILURE;
    ep->rule = "dns_lookup_failed";
    ep->is_data_endpoint = strstr(ep->name, ".data.") != NULL;
    char srv[64];
    cap_addr_str(&n->server, srv, sizeof(srv));
    an_ev_at(ep, "dns_query", AN_AT(n->first_query), "DNS query for %s to %s", n->name, srv);
    if (n->worst_rcode) {
        ep->confidence = AN_CONF_HIGH;
        an_ev_at(ep, "dns_rcode", AN_AT(n->rcode), "DNS answer %s for %s", rcode_name(n->worst_rcode), n->name);
        an_detail_add(ep, "dns", "%s", rcode_name(n->worst_rcode));
        an_reason_set(ep, "the resolver %s answered %s for %s", srv, rcode_name(n->worst_rcode), n->name);
    } else if (n->cut_responses || (!n->responses && e->dns_cut_unnamed)) {
        /* The answer may hold the address: the capture cut it. */
        ep->verdict = AN_INCOMPLETE;
        ep->rule = "dns_answer_cut";
        ep->confidence = AN_CONF_LOW;
        if (n->cut.frame)
            an_ev_at(ep, "dns_answer_cut", AN_AT(n->cut), "DNS answer for %s cut by the snap length", n->name);
        an_reason_set(ep, "the DNS answers for %s were cut by the capture's snap length, and truncation is not evidence: capture again with -s 0",
                      n->name);
    } else if (n->responses) {
        ep->confidence = AN_CONF_HIGH;
        an_ev_at(ep, "dns_no_address", AN_AT(n->response), "DNS answer without any A or AAAA record for %s", n->name);
        an_detail_add(ep, "dns", "no_address");
        an_reason_set(ep, "the resolver %s answered without any address for %s", srv, n->name);
    } else {
        ep->confidence = AN_CONF_MEDIUM;
        an_ev_at(ep, "dns_unanswered", AN_AT(n->last_query), "%u DNS queries for %s, none answered", n->queries, n->name);
        an_detail_add(ep, "dns", "no_answer");
        an_reason_set(ep, "%u queries for %s to %s got no answer: the resolver is unreachable or does not answer",
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

/* The verdict in one sentence; port: the TCP port the packets went to. */
static const char *verdict_sentence(enum an_verdict v, unsigned port, char *buf, size_t n)
{
    switch (v) {
    case AN_OK: return "the registry endpoint works: TCP connected and TLS completed";
    case AN_DNS_FAILURE: return "the name did not resolve";
    case AN_SILENT_DROP:
        snprintf(buf, n, "packets to TCP %u vanish on the path: nothing answers them, no RST or ICMP comes back", port);
        return buf;
    case AN_NSG_DROP:
        snprintf(buf, n, "TCP %u is dropped silently while the same address answers otherwise, as an NSG or ACL rule does",
                 port);
        return buf;
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
                 r->n_endpoints, r->n_endpoints == 1 ? "" : "s", verdict_sentence(AN_INCOMPLETE, 0, NULL, 0));
        return;
    }
    if (r->n_endpoints) {
        const struct an_endpoint *top = &r->endpoints[0];
        char ip[64] = "", sentence[160];
        if (top->has_ip)
            cap_addr_str(&top->ip, ip, sizeof(ip));
        const char *name = top->name[0] ? top->name : ip;
        if (top->has_ip && top->name[0])
            snprintf(r->summary, sizeof(r->summary), "%s (%s port %u): %s.", name, ip, top->port,
                     verdict_sentence(top->verdict, top->port, sentence, sizeof(sentence)));
        else if (top->has_ip)
            snprintf(r->summary, sizeof(r->summary), "%s port %u: %s.", ip, top->port,
                     verdict_sentence(top->verdict, top->port, sentence, sizeof(sentence)));
        else
            snprintf(r->summary, sizeof(r->summary), "%s: %s.", name, verdict_sentence(top->verdict, top->port, sentence, sizeof(sentence)));
    } else {
        snprintf(r->summary, sizeof(r->summary), "The capture holds no traffic to TCP port %d%s%s: %s.", opt->port,
                 opt->host ? " of " : "", opt->host ? opt->host : "", verdict_sentence(AN_INCOMPLETE, 0, NULL, 0));
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
            an_build_endpoint(e, e->eps[i], ep);
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
