/* explain_tcp.c: the verdict, reason and evidence of the flow outcomes a
 * TCP or ICMP packet decides: unanswered SYNs, resets, forged packets,
 * ICMP errors and lost full-size segments (rules.c holds the table).  */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"

void an_explain_silent(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    const struct an_host *h = an_host_find(e, &d->server);
    char ip[64];
    cap_addr_str(&d->server, ip, sizeof(ip));
    an_ev_syns(ep, d);
    if (e->icmp_cut) {
        /* An ICMP error may have answered these SYNs: truncation is not evidence. */
        ep->verdict = AN_INCOMPLETE;
        ep->confidence = AN_CONF_LOW;
        an_reason_set(ep, "%u SYN%s to %s:%u got no SYN-ACK, but %llu ICMP error%s in the capture were cut by the snap length before the packet they quote: capture again with -s 0",
                      d->n_syn, d->n_syn == 1 ? "" : "s", ip, d->server_port, (unsigned long long)e->icmp_cut,
                      e->icmp_cut == 1 ? "" : "s");
        return;
    }
    const struct an_answer *other = an_other_answer(h, d->server_port);
    if (other || (h && h->echo_reply.frame)) {
        ep->verdict = AN_NSG_DROP;
        /* A SYN-ACK or an echo reply can only come from the host; a RST on
         * another port may be a firewall's reject in front of it.  */
        ep->confidence = (other && other != &h->rst) || h->echo_reply.frame ? AN_CONF_HIGH : AN_CONF_MEDIUM;
        if (other) {
            an_ev_at(ep, "other_port_answered", AN_AT(*other), "%s from %s port %u ttl=%u: the host is reachable",
                     other == &h->rst ? "RST" : "SYN-ACK", ip, other->port, other->ttl);
            an_reason_set(ep, "%u SYN%s to port %u got no answer while %s answered on port %u: the drop is scoped to the port, as an NSG or ACL rule does",
                          d->n_syn, d->n_syn == 1 ? "" : "s", d->server_port, ip, other->port);
        } else {
            an_ev_at(ep, "icmp_echo_reply", AN_AT(h->echo_reply), "ICMP echo reply from %s ttl=%u: the host is reachable", ip,
                     h->echo_reply_ttl);
            an_reason_set(ep, "%u SYN%s to port %u got no answer while %s answered ping: the drop is scoped to the port, as an NSG or ACL rule does",
                          d->n_syn, d->n_syn == 1 ? "" : "s", d->server_port, ip);
        }
        return;
    }
    /* verdicts.md: ping and another TCP port silent too. */
    bool other_silent = h && (h->echo_requests && !h->echo_reply.frame) &&
                        (h->other_port_syns && !h->synack.frame && !h->rst.frame);
    const struct an_host *ctl = an_control_answered(e, &d->server);
    if (other_silent && ctl) {
        char cip[64];
        cap_addr_str(&ctl->addr, cip, sizeof(cip));
        ep->verdict = AN_ROUTE_BLACKHOLE;
        ep->confidence = AN_CONF_MEDIUM;
        if (h->echo_requests && !h->echo_reply.frame)
            an_ev_at(ep, "icmp_echo_unanswered", AN_AT(h->echo_request), "ICMP echo to %s unanswered (%u requests)", ip, h->echo_requests);
        if (h->other_port_syns)
            an_ev_at(ep, "other_port_unanswered", AN_AT(h->other_port_syn), "SYN to %s port %u unanswered (%u SYNs)", ip, h->other_port,
                     h->other_port_syns);
        struct an_seen ca = { AN_AT(ctl->synack) };
        if (!ca.frame)
            ca = ctl->echo_reply.frame ? ctl->echo_reply : (struct an_seen){ AN_AT(ctl->rst) };
        an_ev_at(ep, "control_answered", AN_AT(ca), "control destination %s answered: the network path itself works", cip);
        an_reason_set(ep, "nothing sent to %s is answered (TCP %u, %s) while %s%s answers: the drop is scoped to the destination, as a route with next hop None does. From the wire alone an NSG rule denying every protocol to it looks the same: check the next hop and effective routes in Network Watcher",
                      ip, d->server_port, h->echo_requests ? "ping" : "another port", cip,
                      ctl->control ? ", a --control destination," : " outside its prefix");
        return;
    }
    ep->verdict = AN_SILENT_DROP;
    ep->confidence = AN_CONF_MEDIUM;
    ep->candidates = 1u << AN_NSG_DROP | 1u << AN_ROUTE_BLACKHOLE;
    an_reason_set(ep, "%u SYN%s to %s:%u got no SYN-ACK, RST or ICMP answer; the capture holds no other traffic to that address that would tell an NSG rule from a route with next hop None",
                  d->n_syn, d->n_syn == 1 ? "" : "s", ip, d->server_port);
}

void an_explain_reset_at_syn(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    const struct an_host *h = an_host_find(e, &d->server);
    unsigned rst_hops = cap_hop_distance(d->trigger.ttl), srv_hops;
    const struct an_answer *ref;
    an_ev_syns(ep, d);
    an_ev_at(ep, "rst_answers_syn", AN_AT(d->trigger), "RST ttl=%u (hop distance %u), %.2f ms after the SYN", d->trigger.ttl, rst_hops,
             an_ms_between(d->syn_last.ts_ns, d->trigger.ts_ns));
    if (an_server_hops(h, &srv_hops, &ref)) {
        an_ev_at(ep, "server_syn_ack_other_port", AN_AT(*ref), "SYN-ACK from the same address on port %u ttl=%u (hop distance %u)", ref->port,
                 ref->ttl, srv_hops);
        ep->confidence = AN_CONF_HIGH;
        if (srv_hops == rst_hops) {
            /* The same distance fits the server; a device beside it, or one
             * copying its TTL, would fit too.  */
            ep->confidence = AN_CONF_MEDIUM;
            ep->verdict = AN_SERVER_RESET;
            an_reason_set(ep, "the SYN was answered by a RST at hop distance %u, the same distance as the server's own SYN-ACKs: the endpoint refused the port",
                          rst_hops);
        } else {
            ep->verdict = AN_FIREWALL_RESET;
            an_reason_set(ep, "the SYN was answered by a RST at hop distance %u while the server's own packets come from hop distance %u: a device on the path rejected the connection",
                          rst_hops, srv_hops);
        }
        return;
    }
    an_reset_undecided(ep);
    an_reason_set(ep, "the SYN was answered by a RST (ttl=%u, hop distance %u); the capture holds no packet of the server itself to tell a firewall's reject from a closed port",
                  d->trigger.ttl, rst_hops);
}

void an_explain_closed_after_hello(const struct an_engine *e, const struct an_flow_digest *d,
                                       struct an_endpoint *ep)
{
    const struct an_host *h = an_host_find(e, &d->server);
    bool rst = d->has_rst && d->rst.frame == d->trigger.frame;
    unsigned hops = cap_hop_distance(d->trigger.ttl);
    unsigned sa_hops = d->has_synack ? cap_hop_distance(d->synack.ttl) : hops;
    double delay = an_ms_between(d->client_hello.ts_ns, d->trigger.ts_ns);
    an_ev_synack(ep, d);
    an_ev_client_hello(ep, d);
    an_ev_at(ep, "close_after_client_hello", AN_AT(d->trigger), "%s ttl=%u (hop distance %u), %.2f ms after frame %llu, no ServerHello",
             rst ? "RST" : "FIN", d->trigger.ttl, hops, delay, (unsigned long long)d->client_hello.frame);
    if (hops == 0 && sa_hops == 0) {
        /* Captured on the host that answered: its packets leave with an
         * undecremented TTL.  That host may be the registry or a
         * transparent proxy or firewall that took the connection over.  */
        an_reset_undecided(ep);
        an_reason_set(ep, "this capture was taken on the host that answered (its SYN-ACK and the %s left with an initial TTL), and that host ended the connection %.2f ms after the ClientHello: the server itself if this is the registry's host, a firewall if it took the connection over with a transparent redirect",
                      rst ? "RST" : "FIN", delay);
        return;
    }
    unsigned srv_hops;
    const struct an_answer *ref;
    bool other_far = an_server_hops(h, &srv_hops, &ref) && srv_hops != hops;
    /* The close came from where the server's own answers come from: the
     * SYN-ACK at its distance and another port of the address at the same
     * one.  That is the server's doing as much as a firewall's.  */
    const struct an_answer *other = an_other_answer(h, d->server_port);
    bool fast = d->findings & (1u << AN_F_RST_FASTER_THAN_RTT);
    if (!d->trigger_forged && hops == sa_hops && other && cap_hop_distance(other->ttl) == hops && !fast) {
        char ip[64];
        cap_addr_str(&d->server, ip, sizeof(ip));
        an_contra_at(ep, "close_same_hops_as_server", AN_AT(*other), "%s from %s port %u ttl=%u: the close came from the same hop distance (%u) as the server's own answers",
                     other == &h->rst ? "RST" : "SYN-ACK", ip, other->port, other->ttl, hops);
        an_reset_undecided(ep);
        an_reason_set(ep, "the connection was %s %.2f ms after the ClientHello with no ServerHello, as an SNI firewall does, but from the hop distance of the server's own answers on other ports: the capture cannot tell the registry's front end from a firewall beside it",
                      rst ? "reset" : "closed", delay);
        return;
    }
    ep->verdict = AN_FIREWALL_RESET;
    if (hops != sa_hops || other_far || fast || d->trigger_forged)
        ep->confidence = AN_CONF_HIGH;
    else
        ep->confidence = AN_CONF_MEDIUM;
    if (hops != sa_hops)
        an_reason_set(ep, "the connection was %s %.2f ms after the ClientHello from hop distance %u, while the SYN-ACK came from hop distance %u: a middlebox decided on the TLS ClientHello",
                      rst ? "reset" : "closed", delay, hops, sa_hops);
    else
        an_reason_set(ep, "the connection was %s %.2f ms after the ClientHello%s%s, with no ServerHello and no TLS alert from the server: a firewall deciding on the SNI does this (Azure Firewall application rules close, others reset)",
                      rst ? "reset" : "closed", delay, d->sni[0] ? " naming " : "", d->sni);
}

void an_explain_mtu(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    an_ev_synack(ep, d);
    ep->verdict = AN_MTU_BLACKHOLE;
    ep->confidence = AN_CONF_MEDIUM;
    if (d->full_retransmits) {
        an_ev_at(ep, "full_size_retransmitted", AN_AT(d->trigger), "the %s's full-size segment of %u bytes retransmitted, %u full-size retransmissions never acknowledged",
                 d->lost_from_client ? "client" : "server", d->trigger.len, d->full_retransmits);
        an_reason_set(ep, "the handshake and small segments were acknowledged but %u retransmissions of full-size segments (%u bytes) never were: packets near the MSS vanish on the path",
                      d->full_retransmits, d->trigger.len);
    } else if (d->frag_needed) {
        char rep[64];
        cap_addr_str(&d->icmp.reporter, rep, sizeof(rep));
        ep->confidence = AN_CONF_HIGH;
        an_ev_at(ep, "icmp_frag_needed", AN_AT(d->icmp), "ICMP%s %s from %s: next-hop MTU %u", d->icmp.v6 ? "v6" : "",
                 d->icmp.v6 ? "packet too big" : "fragmentation needed", rep, d->icmp.next_mtu);
        an_detail_add(ep, "next_hop_mtu", "%u", d->icmp.next_mtu);
        an_reason_set(ep, "%s reported a next-hop MTU of %u and the connection never completed: full-size packets do not fit the path",
                      rep, d->icmp.next_mtu);
    } else {
        const char *who = d->lost_from_client ? "client" : "server";
        an_ev_at(ep, "data_gap", AN_AT(d->trigger), "%s data arrived after a gap of %u bytes that was never filled", who, d->hole_len);
        an_reason_set(ep, "the %s's data arrived with a gap of %u bytes that never came, while its smaller segments did: full-size packets from the %s vanish on the path",
                      who, d->hole_len, who);
    }
    if (d->server_mss)
        an_detail_add(ep, "server_mss", "%u", d->server_mss);
}

void an_explain_icmp(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    char rep[64];
    cap_addr_str(&d->icmp.reporter, rep, sizeof(rep));
    if (d->n_syn)
        an_ev_syns(ep, d);
    an_ev_at(ep, "icmp_unreachable", AN_AT(d->icmp), "ICMP%s destination unreachable code %u (%s) from %s", d->icmp.v6 ? "v6" : "",
             d->icmp.code, an_icmp_meaning(&d->icmp), rep);
    ep->verdict = AN_ICMP_UNREACHABLE;
    ep->confidence = AN_CONF_HIGH;
    an_detail_add(ep, "icmp_code", "%u", d->icmp.code);
    an_detail_add(ep, "icmp_meaning", "%s", an_icmp_meaning(&d->icmp));
    an_detail_add(ep, "reported_by", "%s", rep);
    bool from_host = cap_addr_eq(&d->icmp.reporter, &d->server);
    bool port = d->icmp.v6 ? d->icmp.code == 4 : (d->icmp.code == 2 || d->icmp.code == 3);
    an_reason_set(ep, "%s answered with ICMP destination unreachable (%s): %s", rep, an_icmp_meaning(&d->icmp),
                  an_icmp_is_admin(&d->icmp) ? "a firewall rejected the traffic"
                  : port || from_host    ? "the destination itself refused it (nothing listens there, or a host firewall)"
                                      : "a router has no route to the destination");
}

void an_explain_rst_later(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    unsigned hops = cap_hop_distance(d->trigger.ttl);
    (void)e;
    an_ev_synack(ep, d);
    an_ev_at(ep, "rst_after_handshake", AN_AT(d->trigger), "RST ttl=%u (hop distance %u)%s after the handshake", d->trigger.ttl, hops,
             d->trigger.tcp_ts ? " with TCP timestamps" : "");
    if (d->trigger_forged) {
        ep->verdict = AN_FIREWALL_RESET;
        ep->confidence = AN_CONF_HIGH;
        an_reason_set(ep, "an established connection was reset by a RST in the server's name that does not fit the server's own packets (hop distance %u against %u%s): a device on the path injected it",
                      hops, d->has_synack ? cap_hop_distance(d->synack.ttl) : hops,
                      d->server_uses_ts && !d->trigger.tcp_ts ? ", and without the timestamps the server puts on every packet" : "");
    } else if (d->server_uses_ts && d->trigger.tcp_ts) {
        /* A stack puts its timestamps on the RSTs it sends for a
         * connection it still has; an injector would have to copy them.  */
        ep->verdict = AN_SERVER_RESET;
        ep->confidence = AN_CONF_MEDIUM;
        an_reason_set(ep, "the server reset an established connection: the RST comes from its distance and carries its TCP timestamps");
    } else {
        an_reset_undecided(ep);
        an_reason_set(ep, "an established connection was reset from the server's hop distance; nothing in the RST tells the server's own from one forged in its name with the same TTL");
    }
}

void an_explain_forged_to_server(const struct an_engine *e, const struct an_flow_digest *d,
                                     struct an_endpoint *ep)
{
    (void)e;
    unsigned hops = cap_hop_distance(d->trigger.ttl);
    an_ev_synack(ep, d);
    an_ev_client_hello(ep, d);
    if (d->trigger_ttl_fits)
        an_ev_at(ep, "rst_forged_no_timestamps", AN_AT(d->trigger), "RST in the client's name ttl=%u without the TCP timestamps all the client's packets carry",
                 d->trigger.ttl);
    else
        an_ev_at(ep, "rst_forged_ttl", AN_AT(d->trigger), "RST in the client's name ttl=%u (hop distance %u), unlike the client's own packets",
                 d->trigger.ttl, hops);
    if (d->client_went_on)
        an_ev_at(ep, "client_went_on", AN_AT(d->client_went_on_ref), "the client went on with the connection after that RST: it never reset it");
    if (d->reaction.frame)
        an_ev_at(ep, "server_answered_forged_rst", AN_AT(d->reaction), "%s from the server: its answer to the forged reset",
                 (d->reaction.flags & CAP_TH_RST) ? "RST" : "FIN");
    ep->verdict = AN_FIREWALL_RESET;
    /* The TTL alone, or the missing timestamps with the client going on. */
    ep->confidence = d->client_went_on ? AN_CONF_HIGH : AN_CONF_MEDIUM;
    if (d->trigger_ttl_fits)
        an_reason_set(ep, "a RST that claims to come from the client reached the server without the TCP timestamps every packet of the client carries, and the client went on with the connection after it: a device on the path forged it, and the server's resets that follow only answer it");
    else
        an_reason_set(ep, "a RST that claims to come from the client reached the server with ttl=%u, which the client's own packets do not have%s: a device on the path forged it, and the server's resets that follow only answer it",
                      d->trigger.ttl, d->client_went_on ? ", and the client went on with the connection" : "");
}

void an_explain_forged_synack(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    an_ev_synack(ep, d);
    an_ev_at(ep, "ack_of_unknown_synack", AN_AT(d->trigger), "the client's handshake ACK acknowledges a sequence number no captured SYN-ACK used");
    if (d->reaction.frame)
        an_ev_at(ep, "server_answered_ack", AN_AT(d->reaction), "%s from the server: its answer to that ACK",
                 (d->reaction.flags & CAP_TH_RST) ? "RST" : "FIN");
    ep->verdict = AN_FIREWALL_RESET;
    ep->confidence = AN_CONF_MEDIUM;
    an_reason_set(ep, "the client acknowledged a SYN-ACK that the server never sent: a device on the path answered the client's SYN itself, and the server's reset only answers the client's unexpected ACK");
}
