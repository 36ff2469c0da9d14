/* rules.c: the rules table (one explanation per flow outcome, in rank
 * order) and the fold of an endpoint's flows into its verdict: the first
 * rule with a flow speaks, cross-flow facts follow.  */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"

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
    { AN_FO_ICMP, "icmp_error_quotes_flow", an_explain_icmp },
    { AN_FO_PROXY_REFUSED, "proxy_refused_connect", an_explain_proxy_refused },
    { AN_FO_RST_AT_SYN, "reset_answers_syn", an_explain_reset_at_syn },
    { AN_FO_FORGED_TO_SERVER, "reset_forged_in_client_name", an_explain_forged_to_server },
    { AN_FO_FORGED_SYNACK, "client_acked_unknown_synack", an_explain_forged_synack },
    { AN_FO_CLOSED_AFTER_CH, "closed_after_client_hello", an_explain_closed_after_hello },
    { AN_FO_FOREIGN_CERT, "foreign_certificate", an_explain_foreign_cert },
    { AN_FO_TLS_ALERT, "fatal_alert", an_explain_alert },
    { AN_FO_MTU, "full_size_segments_lost", an_explain_mtu },
    { AN_FO_SILENT, "syn_unanswered", an_explain_silent },
    { AN_FO_HELLO_DROPPED, "client_hello_dropped", an_explain_hello_dropped },
    { AN_FO_STALL, "client_hello_unanswered", an_explain_stall },
    { AN_FO_CLIENT_GAVE_UP, "client_gave_up", an_explain_client_gave_up },
    { AN_FO_TLS13_ABORT, "client_ended_tls13_handshake", an_explain_tls13_abort },
    { AN_FO_RST_LATER, "reset_after_handshake", an_explain_rst_later },
    { AN_FO_OK, "handshake_completed", an_explain_ok },
    { AN_FO_INCOMPLETE, "not_enough_evidence", an_explain_incomplete },
    { AN_FO_MIDSTREAM, "started_midstream", an_explain_incomplete },
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
            an_ev_at(ep, "dns_privatelink_public", AN_AT(dn->addr), "DNS: %s resolves through a privatelink CNAME to the public address %s",
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

void an_build_endpoint(const struct an_engine *e, const struct an_ep_acc *acc, struct an_endpoint *ep)
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
        an_reason_set(ep, "no flow of this endpoint could be analysed");
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
        an_contra_at(ep, "same_name_handshake_completed", AN_AT(ok->client_hello), "a handshake naming %s to this address completed (connection of frame %llu)",
                     d->sni, (unsigned long long)ok->first_frame);
        an_reset_undecided(ep);
        snprintf(ep->reason + strlen(ep->reason), sizeof(ep->reason) - strlen(ep->reason),
                 "; but another handshake with the same name completed, so a filter on the name alone does not explain it");
    }
    if (d->via_proxy && d->outcome != AN_FO_PROXY_REFUSED)
        an_ev_tunnel(ep, d);
    if (d->decrypted)
        an_explain_decrypted(d, ep);
    if (d->data_after_rst && d->outcome != AN_FO_FORGED_TO_SERVER)
        an_ev_at(ep, "data_after_rst", AN_AT(d->data_after_rst_ref), "data arrived after the RST of frame %llu",
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
        an_detail_add(ep, "flows_failed", "%u of %u", ep->n_flows - acc->outcome_count[AN_FO_OK], ep->n_flows);
    sort_evidence(ep);
}
