/* dnsmap.c: DNS queries and answers seen in the capture, per name: what
 * failed, and which name each server address was resolved from.  */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static struct an_dns_name *name_get(struct an_engine *e, const char *qname)
{
    for (unsigned i = 0; i < e->n_dns; i++)
        if (strcmp(e->dns[i].name, qname) == 0)
            return &e->dns[i];
    if (!e->dns) {
        e->dns = calloc(LIM_DNS_NAMES, sizeof(*e->dns));
        if (!e->dns)
            return NULL;
    }
    if (e->n_dns >= LIM_DNS_NAMES)
        return NULL;
    struct an_dns_name *n = &e->dns[e->n_dns++];
    memset(n, 0, sizeof(*n));
    memcpy(n->name, qname, sizeof(n->name));
    n->name[sizeof(n->name) - 1] = '\0';
    return n;
}

/* Follows the CNAME chain of a response from the query name and keeps the
 * addresses at its end.  */
static void take_answers(struct an_dns_name *n, const struct cap_dns_msg *m, const struct cap_pkt *p)
{
    const char *cur = m->qname;
    for (unsigned hop = 0; hop < m->n_answers; hop++) {
        bool moved = false;
        for (unsigned i = 0; i < m->n_answers; i++) {
            const struct cap_dns_rr *rr = &m->answers[i];
            if (rr->type != CAP_DNS_CNAME || strcmp(rr->name, cur) != 0)
                continue;
            if (n->chain_len < 4 && (n->chain_len == 0 || strcmp(n->chain[n->chain_len - 1], rr->target) != 0))
                memcpy(n->chain[n->chain_len++], rr->target, sizeof(n->chain[0]));
            if (strstr(rr->target, ".privatelink."))
                n->chain_privatelink = true;
            cur = rr->target;
            moved = true;
            break;
        }
        if (!moved)
            break;
    }
    for (unsigned i = 0; i < m->n_answers; i++) {
        const struct cap_dns_rr *rr = &m->answers[i];
        if (rr->type != CAP_DNS_A && rr->type != CAP_DNS_AAAA)
            continue;
        n->got_address = true;
        an_seen_first(&n->addr, p);
        bool known = false;
        for (unsigned j = 0; j < n->n_addrs; j++)
            known = known || cap_addr_eq(&n->addrs[j], &rr->addr);
        if (!known && n->n_addrs < 4)
            n->addrs[n->n_addrs++] = rr->addr;
    }
}

void an_dns_packet(struct an_engine *e, const struct cap_pkt *p, bool over_tcp)
{
    const uint8_t *msg = p->payload;
    size_t len = p->payload_len;
    if (over_tcp) {
        /* RFC 1035 4.2.2: a two-byte length precedes each message. */
        if (len < 2)
            return;
        size_t mlen = (size_t)msg[0] << 8 | msg[1];
        msg += 2;
        len -= 2;
        if (mlen < len)
            len = mlen;
    }
    struct cap_dns_msg m;
    enum cap_status st = cap_dns_parse(msg, len, &m);
    /* A message the snap length cut is not evidence of a DNS failure: what
     * it would have said is unknown (verdicts.md principle 4).  */
    bool cut = p->snapped || st == CAP_TRUNCATED;
    if (cut && (!m.qname[0] || st == CAP_INVALID))
        e->dns_cut_unnamed++;
    if (st == CAP_INVALID || st == CAP_UNSUPPORTED || !m.qname[0])
        return;
    struct an_dns_name *n = name_get(e, m.qname);
    if (!n)
        return;
    if (!m.is_response) {
        n->queries++;
        if (!n->first_query.frame) {
            an_seen_first(&n->first_query, p);
            n->server = p->dst;
        }
        n->last_query = (struct an_seen){ p->frame, p->ts_ns };
        return;
    }
    n->responses++;
    if (cut) {
        n->cut_responses++;
        an_seen_first(&n->cut, p);
    }
    an_seen_first(&n->response, p);
    if (m.rcode != 0 && !n->worst_rcode) {
        n->worst_rcode = m.rcode;
        an_seen_first(&n->rcode, p);
    }
    take_answers(n, &m, p);
}

const struct an_dns_name *an_dns_name_for(const struct an_engine *e, const struct cap_addr *a)
{
    for (unsigned i = 0; i < e->n_dns; i++)
        for (unsigned j = 0; j < e->dns[i].n_addrs; j++)
            if (cap_addr_eq(&e->dns[i].addrs[j], a))
                return &e->dns[i];
    return NULL;
}
