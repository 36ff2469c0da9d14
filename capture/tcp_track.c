/* tcp_track.c: what each TCP packet, or ICMP error quoting one, tells its
 * flow: handshake, resets, closes, retransmissions and holes, the frames
 * kept as evidence; the first payload bytes go on to reasm.c.  */
#include "flow_table.h"
#include "zeek.h"

unsigned cap_hop_distance(uint8_t ttl)
{
    /* Initial TTLs in use are 32, 64, 128 and 255 (p0f fp_tcp.c guess_dist). */
    if (ttl <= 32)
        return 32u - ttl;
    if (ttl <= 64)
        return 64u - ttl;
    if (ttl <= 128)
        return 128u - ttl;
    return 255u - ttl;
}

const char *cap_stage_name(enum cap_stage s)
{
    switch (s) {
    case CAP_STAGE_SYN_SENT: return "SYN_SENT";
    case CAP_STAGE_SYNACK_RCVD: return "SYNACK_RCVD";
    case CAP_STAGE_ESTABLISHED: return "ESTABLISHED";
    case CAP_STAGE_CLIENT_DATA: return "CLIENT_DATA";
    case CAP_STAGE_SERVER_DATA: return "SERVER_DATA";
    case CAP_STAGE_MIDSTREAM: return "MIDSTREAM";
    }
    return "?";
}

enum cap_stage cap_flow_stage(const struct cap_flow *f)
{
    if (f->n_syn == 0 && f->n_synack == 0)
        return CAP_STAGE_MIDSTREAM;
    if (f->dir[CAP_S2C].payload_bytes)
        return CAP_STAGE_SERVER_DATA;
    if (f->dir[CAP_C2S].payload_bytes)
        return CAP_STAGE_CLIENT_DATA;
    if (f->hs_ack)
        return CAP_STAGE_ESTABLISHED;
    if (f->n_synack)
        return CAP_STAGE_SYNACK_RCVD;
    return CAP_STAGE_SYN_SENT;
}

static struct cap_ref make_ref(const struct cap_pkt *p)
{
    struct cap_ref r = {
        .frame = p->frame, .ts_ns = p->ts_ns, .ttl = p->ttl, .ip_id = p->ip_id,
        .seq = p->seq, .len = p->payload_wire_len, .flags = p->tcp_flags,
        .tcp_ts = p->has_ts, .mss = p->mss,
    };
    return r;
}

static void push_ref(struct cap_ref *arr, unsigned *n, const struct cap_ref *r)
{
    arr[*n < LIM_FRAMES_PER_KIND ? *n : LIM_FRAMES_PER_KIND - 1] = *r;
    if (*n < UINT32_MAX)
        (*n)++;
}

static bool is_full_size(const struct cap_flow_dir *d, uint32_t len)
{
    return len >= 1000 && (uint64_t)len * 4 >= (uint64_t)d->max_payload * 3;
}

static void track_payload(struct cap_flow_table *t, struct cap_flow *f, int dir,
                          const struct cap_pkt *p)
{
    struct cap_flow_dir *d = &f->dir[dir];
    uint32_t len = p->payload_wire_len;
    struct cap_ref ref = make_ref(p);

    if (!d->seq_set) {
        d->seq_set = true;
        /* The ISN + 1 when the SYN was seen, else this segment. */
        d->seq_base = p->seq;
        if (dir == CAP_C2S && f->n_syn)
            d->seq_base = f->syn[0].seq + 1;
        else if (dir == CAP_S2C && f->n_synack)
            d->seq_base = f->synack[0].seq + 1;
    }
    uint32_t rel = p->seq - d->seq_base;
    if (rel > 0x7fffffffu)      /* before the base: old data */
        rel = 0;
    uint32_t end = rel + len;

    if (len > d->max_payload)
        d->max_payload = len;
    if (d->n_payload < 4)
        d->payload[d->n_payload++] = ref;
    d->last_payload = ref;

    if (rel < d->seq_high) {
        d->retransmits++;
        zeek_history_add(f, dir, 'T');
        if (is_full_size(d, len)) {
            if (d->full_retransmits == 0)
                d->first_full_retransmit = ref;
            d->full_retransmits++;
            if (end > d->full_retransmit_end)
                d->full_retransmit_end = end;
        }
        if (d->hole && !d->hole_filled && rel <= d->hole_start && d->hole_start < end)
            d->hole_filled = true;
    } else if (rel > d->seq_high) {
        if (!d->hole) {
            d->hole = true;
            d->hole_start = d->seq_high;
            d->hole_len = rel - d->seq_high;
            d->hole_after = ref;
        } else if (!d->hole_filled) {
            d->small_after_hole++;
        }
    }
    if (end > d->seq_high && end - d->seq_high < 0x7fffffffu)
        d->seq_high = end;

    /* TLS facts only for the first bytes of each direction. */
    if (d->tls_done || rel >= LIM_TLS_STREAM_BYTES)
        return;
    if (p->payload_len < len)
        d->tls_cut = true;      /* the snap length cut handshake bytes */
    if (p->payload_len == 0)
        return;
    /* Closed flows hold TLS facts but need them no more than for their
     * verdict: fold the oldest to make room before reasm.c refuses.  */
    if (!d->tls)
        while (t->pool.live_tls >= LIM_LIVE_TLS && flow_table_release_oldest_closed(t, f))
            ;
    reasm_segment(&t->pool, f, dir, rel, p->payload, p->payload_len, &ref);
}

static void track_ack(struct cap_flow *f, int dir, const struct cap_pkt *p)
{
    struct cap_flow_dir *d = &f->dir[dir];
    const struct cap_flow_dir *peer = &f->dir[!dir];
    if (!(p->tcp_flags & CAP_TH_ACK) || !peer->seq_set)
        return;
    uint32_t rel = p->ack - peer->seq_base;
    if (rel > 0x7fffffffu)
        return;
    if (!d->ack_set || rel > d->ack_high) {
        d->ack_set = true;
        d->ack_high = rel;
    }
}

const struct cap_flow *cap_flows_tcp(struct cap_flow_table *t, const struct cap_pkt *p)
{
    if (p->ipver == 0 || p->proto != CAP_IPPROTO_TCP || p->status == CAP_INVALID)
        return NULL;
    int dir;
    struct cap_flow *f = flow_table_packet(t, p, &dir);
    struct cap_flow_dir *d = &f->dir[dir];
    uint8_t fl = p->tcp_flags;
    struct cap_ref ref = make_ref(p);

    f->last_frame = p->frame;
    f->pkts++;
    d->pkts++;
    if (p->snapped || p->status == CAP_TRUNCATED)
        f->snapped = true;
    if (!(fl & CAP_TH_RST)) {
        if (!d->ttl_set || p->ttl < d->ttl_min)
            d->ttl_min = p->ttl;
        if (!d->ttl_set || p->ttl > d->ttl_max)
            d->ttl_max = p->ttl;
        d->ttl_set = true;
        d->ts_pkts += p->has_ts;
    }

    if ((fl & CAP_TH_SYN) && !(fl & CAP_TH_ACK) && dir == CAP_C2S) {
        push_ref(f->syn, &f->n_syn, &ref);
        zeek_history_add(f, dir, 'S');
    } else if ((fl & CAP_TH_SYN) && (fl & CAP_TH_ACK) && dir == CAP_S2C) {
        push_ref(f->synack, &f->n_synack, &ref);
        zeek_history_add(f, dir, 'H');
    } else if (fl & CAP_TH_SYN) {
        /* A SYN against the roles we chose: simultaneous open or a SYN-ACK
         * from the client side.  Recorded in the history only.  */
        zeek_history_add(f, dir, dir == CAP_C2S ? 'H' : 'S');
    }

    if (fl & CAP_TH_RST) {
        if (!f->rst_seen) {
            f->rst_seen = true;
            f->first_rst = ref;
            f->rst_stage = cap_flow_stage(f);
        }
        push_ref(d->rst, &d->n_rst, &ref);
        zeek_history_add(f, dir, 'R');
    } else if (f->rst_seen && p->payload_wire_len > 0 && !f->data_after_rst) {
        f->data_after_rst = true;
        f->data_after_rst_ref = ref;
    }

    if (dir == CAP_C2S && !f->hs_ack && f->n_synack && (fl & CAP_TH_ACK) &&
        !(fl & (CAP_TH_SYN | CAP_TH_RST))) {
        f->hs_ack = true;
        f->hs_ack_ref = ref;
        /* An ACK of no SYN-ACK captured here answers one forged on the path. */
        f->hs_ack_unknown = true;
        for (unsigned i = 0; i < f->n_synack && i < LIM_FRAMES_PER_KIND; i++)
            if (p->ack == f->synack[i].seq + 1)
                f->hs_ack_unknown = false;
    }

    if (p->payload_wire_len > 0 && !(fl & CAP_TH_SYN)) {
        d->payload_bytes += p->payload_wire_len;
        zeek_history_add(f, dir, 'D');
        track_payload(t, f, dir, p);
    } else if ((fl & (CAP_TH_SYN | CAP_TH_FIN | CAP_TH_RST)) == 0 && (fl & CAP_TH_ACK)) {
        zeek_history_add(f, dir, 'A');
    }
    track_ack(f, dir, p);

    if ((fl & CAP_TH_FIN) && !d->fin) {
        d->fin = true;
        d->fin_ref = ref;
        zeek_history_add(f, dir, 'F');
    }
    if (!f->closed && (f->rst_seen || (f->dir[CAP_C2S].fin && f->dir[CAP_S2C].fin))) {
        /* The handshake is over for good: take its facts, free the buffers,
         * and let the flow linger on the closed list.  */
        for (int k = 0; k < 2; k++)
            reasm_finish(&t->pool, f, k);
        flow_table_close(t, f);
    }
    return f;
}

const struct cap_flow *cap_flows_icmp(struct cap_flow_table *t, const struct cap_pkt *p)
{
    const struct cap_icmp_err *e = &p->icmp_err;
    if (!e->present || e->q_proto != CAP_IPPROTO_TCP || !e->q_ports_valid)
        return NULL;
    int dir;
    struct cap_flow *f = flow_table_find(t, &e->q_src, e->q_sport, &e->q_dst, e->q_dport, &dir);
    if (!f)
        return NULL;
    /* Strict matching: the quoted sequence number must be one this side
     * really sent (tcptraceroute capture.c does the same).  */
    if (e->q_seq_valid && dir == CAP_C2S) {
        bool match = false;
        for (unsigned i = 0; i < f->n_syn && i < LIM_FRAMES_PER_KIND; i++)
            match = match || f->syn[i].seq == e->q_seq;
        const struct cap_flow_dir *d = &f->dir[CAP_C2S];
        if (d->seq_set) {
            uint32_t rel = e->q_seq - d->seq_base;
            match = match || rel <= d->seq_high;
        }
        if (!match && (f->n_syn || d->seq_set))
            return NULL;
    }
    struct cap_icmp_ref r = {
        .frame = p->frame, .ts_ns = p->ts_ns, .type = e->type, .code = e->code,
        .v6 = p->ipver == 6, .reporter = p->src, .ttl = p->ttl, .next_mtu = e->next_mtu,
    };
    if (f->n_icmp < LIM_FRAMES_PER_KIND)
        f->icmp[f->n_icmp] = r;
    if (f->n_icmp < UINT32_MAX)
        f->n_icmp++;
    f->last_frame = p->frame;
    flow_table_touch(t, f, p->ts_ns);
    return f;
}
