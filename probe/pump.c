/* pump.c: the probe's side of the live capture: which packets are its own
 * (they alone are evidence and go into the -w file), the echo replies among
 * them, and the pump every waiting loop of the probe (resolve, steps, HTTP,
 * push check) calls: the feed all modes share (analysis/feed.h).  */
#include <stdio.h>

#include "probe_int.h"

bool probe_is_target(const struct probe_ctx *p, const struct cap_addr *a)
{
    for (unsigned i = 0; i < p->n_targets; i++)
        if (cap_addr_eq(&p->targets[i].addr, a))
            return true;
    return false;
}

/* Only the probe's own traffic is evidence (and goes into the file):
 * DNS, packets to and from the probed addresses, ICMP about them.  */
static bool relevant(const struct probe_ctx *p, const struct cap_pkt *k)
{
    if (k->ipver == 0)
        return false;
    if ((k->proto == CAP_IPPROTO_TCP || k->proto == CAP_IPPROTO_UDP) && (k->sport == 53 || k->dport == 53))
        return true;
    if (probe_is_target(p, &k->src) || probe_is_target(p, &k->dst))
        return true;
    if ((k->proto == CAP_IPPROTO_ICMP || k->proto == CAP_IPPROTO_ICMPV6) && k->icmp_err.present)
        return probe_is_target(p, &k->icmp_err.q_dst);
    return false;
}

/* Echo replies are read from the capture (the ICMP sockets' queues are
 * kept empty): counted per target for the differential facts.  */
static void note_echo_reply(struct probe_ctx *p, const struct cap_pkt *k)
{
    bool reply = (k->proto == CAP_IPPROTO_ICMP && k->ipver == 4 && k->icmp_type == 0) ||
                 (k->proto == CAP_IPPROTO_ICMPV6 && k->ipver == 6 && k->icmp_type == 129);
    if (!reply)
        return;
    for (unsigned i = 0; i < p->n_targets; i++)
        if (cap_addr_eq(&p->targets[i].addr, &k->src) && p->targets[i].echo_requests)
            p->targets[i].echo_replies++;
}

/* The feed's filter: the probe's own packets, echo replies counted. */
static bool keep_packet(void *arg, const struct cap_pkt *k)
{
    struct probe_ctx *p = arg;
    if (!relevant(p, k))
        return false;
    note_echo_reply(p, k);
    return true;
}

void probe_feed_start(struct probe_ctx *p)
{
    p->feed = (struct an_feed){ .engine = p->engine, .writer = p->writer, .write_path = p->cfg.write_path,
                                .who = "acrdiag probe", .keep = keep_packet, .keep_arg = p };
    if (p->live) {
        p->live_src = cap_live_source(p->live);
        p->feed.src = &p->live_src;
    }
}

void probe_pump_capture(struct probe_ctx *p)
{
    /* Bounded per call; the next turn of the loop reads the rest.  A write
     * that fails was said by the feed and ends in exit 2; the probe's own
     * results still make the report.  */
    if (p->feed.src && an_feed_pump(&p->feed, 4096) == AN_FEED_ERROR) {
        fprintf(stderr, "acrdiag probe: warning: %s; the capture stopped there\n", p->feed.err);
        p->feed.src = NULL;
    }
}
