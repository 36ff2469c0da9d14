/* fuzz_flow.c: fuzz harness: a sequence of synthetic TCP packet summaries
 * (and ICMP errors quoting them) fed to the engine, to exercise flow
 * tracking, stream reassembly, holes, retransmissions and the TLS facts.
 *
 * The input is a list of packets, each a 12-byte header then its payload:
 *   0      bit 0 direction (1: server to client), bits 1-2 flow (client
 *          port), bit 3 send an ICMP error quoting this segment instead,
 *          bits 4-7 time step in milliseconds and TTL variation
 *   1      TCP flags (for an ICMP error: bits 0-3 the unreachable code)
 *   2-5    sequence number, relative to the direction's ISN
 *   6-9    acknowledgment number, relative to the peer's ISN
 *   10-11  payload length (cut to what is left of the input); when the
 *          top bit is set the wire carried 1000 bytes more than captured
 * The ISNs sit just below 2^32 so sequence space wraps early.  */
#include <stdint.h>
#include <string.h>

#include "analysis/analysis.h"
#include "capture/capture.h"
#include "fuzz_report.h"
#include "capture/rd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR_LEN 12u

static const uint32_t isn[2] = { 0xfffffc00u, 0x7ffffff0u };

static void set_v4(struct cap_addr *a, uint8_t last)
{
    memset(a, 0, sizeof(*a));
    a->family = 4;
    a->a[0] = 10;
    a->a[3] = last;
}

/* The summary the decoder would give for one TCP segment. */
static void make_tcp(struct cap_pkt *p, uint8_t ctl, uint8_t flags, uint32_t seq_rel, uint32_t ack_rel)
{
    int dir = ctl & 1;
    struct cap_addr client, server;
    set_v4(&client, 2);
    set_v4(&server, 1);
    uint16_t cport = (uint16_t)(50000 + ((ctl >> 1) & 3));
    p->ipver = 4;
    p->proto = 6;
    p->src = dir ? server : client;
    p->dst = dir ? client : server;
    p->sport = dir ? 443 : cport;
    p->dport = dir ? cport : 443;
    p->seq = isn[dir] + seq_rel;
    p->ack = isn[!dir] + ack_rel;
    p->tcp_flags = flags;
    p->ttl = (uint8_t)((dir ? 50 : 64) - (ctl >> 6));
    p->window = 65535;
    p->wscale = -1;
    if (flags & CAP_TH_SYN) {
        p->mss = (ctl & 0x80) ? 1360 : 1460;
        p->wscale = 7;
        p->sack_ok = true;
    }
}

/* An ICMP destination-unreachable from a router, quoting the segment. */
static void make_icmp(struct cap_pkt *p, const struct cap_pkt *quoted, uint8_t code)
{
    struct cap_addr router;
    set_v4(&router, 254);
    p->ipver = 4;
    p->proto = 1;
    p->src = router;
    p->dst = quoted->src;
    p->ttl = 250;
    p->icmp_type = 3;
    p->icmp_code = code;
    struct cap_icmp_err *e = &p->icmp_err;
    e->present = true;
    e->type = 3;
    e->code = code;
    e->next_mtu = code == 4 ? 1400 : 0;
    e->q_proto = 6;
    e->q_src = quoted->src;
    e->q_dst = quoted->dst;
    e->q_sport = quoted->sport;
    e->q_dport = quoted->dport;
    e->q_ports_valid = true;
    e->q_seq = quoted->seq;
    e->q_seq_valid = true;
    e->q_ttl = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct an_options opt = { .port = 443 };
    struct an_engine *e = an_engine_new(&opt);
    FUZZ_CHECK(e != NULL);
    struct rd r = rd_make(data, size);
    int64_t ts = 1700000000000000000ll;
    uint64_t frame = 0;
    while (rd_left(&r) >= HDR_LEN) {
        uint8_t ctl = rd_u8(&r);
        uint8_t flags = rd_u8(&r);
        uint32_t seq_rel = rd_be32(&r);
        uint32_t ack_rel = rd_be32(&r);
        uint16_t len_field = rd_be16(&r);
        uint32_t len = len_field & 0x7fffu;
        if (len > rd_left(&r))
            len = (uint32_t)rd_left(&r);
        const uint8_t *payload = rd_bytes(&r, len);

        struct cap_pkt seg, pkt;
        memset(&seg, 0, sizeof(seg));
        make_tcp(&seg, ctl, flags, seq_rel, ack_rel);
        seg.payload = len ? payload : NULL;
        seg.payload_len = len;
        seg.payload_wire_len = len + ((len_field & 0x8000u) ? 1000u : 0u);
        seg.snapped = seg.payload_wire_len > len;
        seg.caplen = 54 + len;
        seg.wirelen = 54 + seg.payload_wire_len;
        if (ctl & 8) {
            memset(&pkt, 0, sizeof(pkt));
            make_icmp(&pkt, &seg, flags & 15);
            pkt.caplen = pkt.wirelen = 70;
        } else {
            pkt = seg;
        }
        ts += (int64_t)((ctl >> 4) + 1) * 1000000;
        pkt.ts_ns = ts;
        pkt.frame = ++frame;
        an_engine_packet(e, &pkt, CAP_LT_RAW);
    }
    fuzz_finish_and_write(e);
    return 0;
}
