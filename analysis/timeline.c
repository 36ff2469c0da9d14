/* timeline.c: a flow's events in the order they happened, each with the side
 * that sent it, and the first abnormal one: the cause.  What follows the
 * cause (the server's FIN after the client gave up, the server's RSTs to
 * data sent after a forged reset) only reacts to it and never decides.  */
#include <string.h>

#include "engine.h"

/* Does a packet claiming to come from this side look like that side's own
 * packets?  An endpoint keeps its initial TTL and its path for a flow's
 * life, and its handshake packet (SYN, SYN-ACK) is its own; a device on the
 * path that forges a packet sends it with its own TTL from its own
 * distance.  One hop of slack covers a route change.  */
bool an_fits_sender(const struct cap_flow *f, int side, uint8_t ttl)
{
    const struct cap_flow_dir *d = &f->dir[side];
    unsigned n = side == CAP_C2S ? f->n_syn : f->n_synack;
    if (n) {
        uint8_t ref = side == CAP_C2S ? f->syn[0].ttl : f->synack[0].ttl;
        return ttl + 1 >= ref && ttl <= ref + 1;
    }
    if (!d->ttl_set)
        return true;                /* nothing to compare with */
    return ttl + 1 >= d->ttl_min && ttl <= d->ttl_max + 1;
}

static void add(struct an_timeline *t, enum an_event_kind kind, int side, const struct cap_ref *ref, bool abnormal)
{
    if (ref->frame == 0 || t->n >= AN_MAX_EVENTS)
        return;
    struct an_event *e = &t->ev[t->n++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->side = side;
    e->ref = *ref;
    e->abnormal = abnormal;
}

bool an_went_on_after(const struct cap_flow_dir *side, uint64_t frame, struct cap_ref *at)
{
    for (unsigned i = 0; i < side->n_payload && i < 4; i++) {
        if (side->payload[i].frame > frame) {
            *at = side->payload[i];
            return true;
        }
    }
    if (side->last_payload.frame > frame) {
        *at = side->last_payload;
        return true;
    }
    if (side->fin && side->fin_ref.frame > frame) {
        *at = side->fin_ref;
        return true;
    }
    return false;
}

/* A RST that did not come from the side it names: its TTL does not fit
 * that side, or it lacks the TCP timestamps every other packet of that side
 * carries (a stack puts them on its own RSTs of a connection) and that side
 * went on with the connection after it (FIN or data), which no stack does
 * after its own RST.  Either sign alone is not enough for the second: a
 * packet-crafting tool goes on after its kernel's RST too.  */
static bool rst_forged(const struct cap_flow *f, int side, const struct cap_ref *rst)
{
    const struct cap_flow_dir *d = &f->dir[side];
    if (!an_fits_sender(f, side, rst->ttl))
        return true;
    struct cap_ref at;
    bool always_ts = d->ts_pkts > 0 && d->ts_pkts == d->pkts - d->n_rst;
    return always_ts && !rst->tcp_ts && an_went_on_after(d, rst->frame, &at);
}

static void add_closes(struct an_timeline *t, const struct cap_flow *f, int side, bool completed)
{
    const struct cap_flow_dir *d = &f->dir[side], *c = &f->dir[CAP_C2S];
    for (unsigned i = 0; i < d->n_rst && i < LIM_FRAMES_PER_KIND; i++) {
        bool forged = rst_forged(f, side, &d->rst[i]);
        /* After a completed exchange a RST is a way to close, unless forged
         * before the client itself had finished (its FIN).  */
        bool after_close = c->fin && c->fin_ref.frame < d->rst[i].frame;
        add(t, AN_EV_RST, side, &d->rst[i], !completed || (forged && !after_close));
        t->ev[t->n - 1].forged = forged;
    }
    if (d->fin) {
        add(t, AN_EV_FIN, side, &d->fin_ref, !completed);
        t->ev[t->n - 1].forged = !an_fits_sender(f, side, d->fin_ref.ttl);
    }
}

/* Sorts by frame; equal frames keep insertion order (insertion sort). */
static void sort_events(struct an_timeline *t)
{
    for (unsigned i = 1; i < t->n; i++) {
        struct an_event cur = t->ev[i];
        unsigned j = i;
        while (j > 0 && t->ev[j - 1].ref.frame > cur.ref.frame) {
            t->ev[j] = t->ev[j - 1];
            j--;
        }
        t->ev[j] = cur;
    }
}

void an_timeline_build(const struct cap_flow *f, const struct an_flow_digest *d, bool completed, bool foreign_cert,
                       struct an_timeline *t)
{
    memset(t, 0, sizeof(*t));
    if (f->n_syn)
        add(t, AN_EV_SYN, CAP_C2S, &f->syn[0], false);
    if (f->n_synack)
        add(t, AN_EV_SYNACK, CAP_S2C, &f->synack[0], false);
    if (f->hs_ack && f->hs_ack_unknown)
        add(t, AN_EV_UNKNOWN_ACK, CAP_C2S, &f->hs_ack_ref, true);
    if (d->has_ch)
        add(t, AN_EV_CLIENT_HELLO, CAP_C2S, &d->client_hello, false);
    if (d->has_sh)
        add(t, AN_EV_SERVER_HELLO, CAP_S2C, &d->server_hello, false);
    if (d->has_cert)
        add(t, AN_EV_CERTIFICATE, CAP_S2C, &d->certificate, foreign_cert);
    if (d->alert_ref.frame)
        add(t, AN_EV_ALERT, d->alert_from_server ? CAP_S2C : CAP_C2S, &d->alert_ref, true);
    /* Each direction: data beyond a gap that was never filled and that the
     * receiver's ACKs never passed (the missing bytes never reached it;
     * when its ACKs did pass, only the capture missed them); full-size
     * segments retransmitted and never acknowledged.  Both sides, so a
     * capture on the server shows the black hole as well as one on the
     * client.  */
    for (int side = CAP_C2S; side <= CAP_S2C; side++) {
        const struct cap_flow_dir *snd = &f->dir[side], *rcv = &f->dir[!side];
        if (snd->hole && !snd->hole_filled && snd->hole_len >= 512 && (!rcv->ack_set || rcv->ack_high <= snd->hole_start))
            add(t, AN_EV_GAP, side, &snd->hole_after, true);
        if (snd->full_retransmits >= 2 && (!rcv->ack_set || rcv->ack_high < snd->full_retransmit_end))
            add(t, AN_EV_FULL_RETRANSMIT, side, &snd->first_full_retransmit, true);
    }
    add_closes(t, f, CAP_C2S, completed);
    add_closes(t, f, CAP_S2C, completed);
    sort_events(t);
}

const struct an_event *an_timeline_cause(const struct an_timeline *t)
{
    for (unsigned i = 0; i < t->n; i++)
        if (t->ev[i].abnormal)
            return &t->ev[i];
    return NULL;
}

/* The first close by the other side after the cause: its reaction. */
const struct an_event *an_timeline_reaction(const struct an_timeline *t, const struct an_event *cause)
{
    for (const struct an_event *e = cause + 1; e < t->ev + t->n; e++)
        if (e->side != cause->side && (e->kind == AN_EV_FIN || e->kind == AN_EV_RST))
            return e;
    return NULL;
}
