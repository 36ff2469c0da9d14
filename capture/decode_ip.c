/* decode_ip.c: the network and transport layers of a packet summary: IPv4
 * and IPv6 (extension headers, fragments), TCP with its options, UDP, and
 * ICMP/ICMPv6 errors with the packet they quote, every byte through
 * struct rd.
 *
 * Each layer narrows the window it hands on: the IP layer clips to its total
 * (or payload) length so Ethernet padding never counts as payload, and an
 * ICMP error's quote is clipped again to the quoted packet.  */
#include <string.h>

#include "decode_int.h"

/* IPv6 extension headers walked (the transport numbers are in capture.h). */
#define IPPROTO_NUM_HOPOPTS 0u
#define IPPROTO_NUM_ROUTING 43u
#define IPPROTO_NUM_FRAGMENT 44u
#define IPPROTO_NUM_AH 51u
#define IPPROTO_NUM_DSTOPTS 60u

/* What one IP header (outer or quoted) said. */
struct ip_view {
    enum cap_status status;
    bool have_hdr;              /* fixed header with both addresses was read */
    uint8_t ver;
    /* The addresses inside the header's checked bytes (4 or 16 each), set
     * with have_hdr: copied once, into the summary that keeps them (a copy
     * through this view stalled on its own just-stored bytes).  */
    const uint8_t *src, *dst;
    uint8_t ttl;
    uint16_t id;
    bool df;
    uint8_t proto;
    bool later_fragment;        /* no transport header in this fragment */
    bool short_of_len;          /* fewer bytes present than the IP length says */
    uint32_t anomalies;
    struct rd payload;          /* upper-layer bytes present, within the IP length */
    uint32_t payload_wire;      /* upper-layer bytes the IP header claims */
};

/* A view's address into a summary's zeroed cap_addr. */
static void set_addr(struct cap_addr *a, uint8_t ver, const uint8_t *at)
{
    a->family = ver;
    memcpy(a->a, at, ver == 4 ? 4 : 16);
}

/* A zeroed view, copied rather than cleared: a memset of this size is a
 * `rep stos`, slow to start, once per packet.  */
static const struct ip_view blank_view;

/* Window of `claimed` bytes from r, or what is present when fewer are. */
static struct rd clip(struct rd *r, uint32_t claimed, bool *short_of_len)
{
    size_t left = rd_left(r);
    *short_of_len = claimed > left;
    return rd_sub(r, claimed > left ? left : claimed);
}

/* The end of either IP version's fixed header: a wrong version number is
 * INVALID, a header the capture cut short TRUNCATED (false for both);
 * otherwise the header counts and its addresses, TTL (hop limit) and
 * protocol (next header) are kept.  */
static bool take_fixed_hdr(struct ip_view *v, bool bad_version, bool cut, uint8_t ver,
                           const uint8_t *src, const uint8_t *dst, uint8_t ttl, uint8_t proto)
{
    if (bad_version) {
        set_status(&v->status, CAP_INVALID);
        return false;
    }
    if (cut) {
        set_status(&v->status, CAP_TRUNCATED);
        return false;
    }
    v->have_hdr = true;
    v->ver = ver;
    v->src = src;
    v->dst = dst;
    v->ttl = ttl;
    v->proto = proto;
    return true;
}

/* ---- IPv4 (RFC 791 3.1) ----------------------------------------------------- */

/* `quoted`: the header sits inside an ICMP error, where a zero total length
 * is taken at face value rather than as a segmentation-offload capture.  */
static void ipv4_parse(struct rd *r, struct ip_view *v, bool quoted)
{
    struct rd first = *r, h = *r;
    size_t avail = rd_left(&h);
    uint8_t vihl = rd_u8(&first);
    /* The fixed header in one bounds check, its fields at their offsets
     * within it: version/IHL, type of service, total length, ID, flags and
     * fragment offset, TTL, protocol, checksum, source, destination.  */
    const uint8_t *b = rd_bytes(&h, 20);
    if (!take_fixed_hdr(v, avail >= 1 && vihl >> 4 != 4, !b, 4, b ? b + 12 : NULL, b ? b + 16 : NULL,
                        b ? b[8] : 0, b ? b[9] : 0))
        return;
    uint32_t total = be16_at(b + 2);
    uint16_t id = be16_at(b + 4);
    uint16_t frag = be16_at(b + 6);
    uint32_t ihl = (vihl & 0x0fu) * 4u;
    v->id = id;
    v->df = frag & 0x4000u;
    /* IHL counts 32-bit words and is at least 5 (RFC 791 3.1). */
    if (ihl < 20) {
        v->anomalies |= CAP_ANOM_IP_BAD_LENGTH;
        set_status(&v->status, CAP_INVALID);
        return;
    }
    if (total == 0 && !quoted) {
        /* Segmentation offload on the capturing host leaves 0 here. */
        v->anomalies |= CAP_ANOM_IP_BAD_LENGTH;
        total = avail > 0xffff ? 0xffff : (uint32_t)avail;
    }
    if (total < ihl) {
        v->anomalies |= CAP_ANOM_IP_BAD_LENGTH;
        set_status(&v->status, CAP_INVALID);
        return;
    }
    uint32_t offset = frag & 0x1fffu;
    if (offset || (frag & 0x2000u))          /* offset, or More Fragments */
        v->anomalies |= CAP_ANOM_IP_FRAGMENT;
    v->later_fragment = offset != 0;
    struct rd win = clip(r, total, &v->short_of_len);
    rd_skip(&win, ihl);
    if (win.bad) {                           /* options cut by the capture */
        set_status(&v->status, CAP_TRUNCATED);
        return;
    }
    v->payload = win;
    v->payload_wire = total - ihl;
}

/* ---- IPv6 (RFC 8200 3, 4) ----------------------------------------------------- */

static void ipv6_parse(struct rd *r, struct ip_view *v, bool quoted)
{
    struct rd h = *r;
    uint8_t first = rd_u8(&h);
    h = *r;
    /* The fixed header in one bounds check: version, traffic class, flow
     * label, payload length, next header, hop limit, source, destination. */
    const uint8_t *b = rd_bytes(&h, 40);
    if (!take_fixed_hdr(v, rd_left(r) >= 1 && first >> 4 != 6, !b, 6, b ? b + 8 : NULL, b ? b + 24 : NULL,
                        b ? b[7] : 0, b ? b[6] : 0))
        return;
    uint32_t plen = be16_at(b + 4);
    uint8_t nh = b[6];
    if (plen == 0 && !quoted) {
        /* A jumbogram (RFC 2675) or segmentation offload: use what is here. */
        v->anomalies |= CAP_ANOM_IP_BAD_LENGTH;
        size_t left = rd_left(&h);
        plen = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
    }
    struct rd win = clip(&h, plen, &v->short_of_len);
    uint32_t wire = plen;

    /* Extension headers (RFC 8200 4.1), at most LIM_MAX_LAYERS of them. */
    for (unsigned n = 0;; n++) {
        if (nh != IPPROTO_NUM_HOPOPTS && nh != IPPROTO_NUM_ROUTING && nh != IPPROTO_NUM_FRAGMENT &&
            nh != IPPROTO_NUM_DSTOPTS && nh != IPPROTO_NUM_AH)
            break;
        if (n >= LIM_MAX_LAYERS) {
            v->anomalies |= CAP_ANOM_TOO_MANY_LAYERS;
            set_status(&v->status, CAP_INVALID);
            return;
        }
        struct rd e = win;
        uint8_t next = rd_u8(&e);
        uint8_t len = rd_u8(&e);
        uint32_t hdrlen;
        if (nh == IPPROTO_NUM_FRAGMENT) {
            hdrlen = 8;                     /* RFC 8200 4.5 */
        } else if (nh == IPPROTO_NUM_AH) {
            hdrlen = (len + 2u) * 4u;       /* RFC 4302 2.2: 32-bit words minus 2 */
        } else {
            hdrlen = (len + 1u) * 8u;       /* RFC 8200 4.3, 4.4, 4.6: 8-octet units */
        }
        if (hdrlen > wire) {
            v->anomalies |= CAP_ANOM_IP_BAD_LENGTH;
            set_status(&v->status, CAP_INVALID);
            return;
        }
        if (e.bad || rd_left(&win) < hdrlen) {
            set_status(&v->status, CAP_TRUNCATED);
            return;
        }
        if (nh == IPPROTO_NUM_FRAGMENT) {
            uint16_t off_m = rd_be16(&e);   /* offset << 3 | res | M */
            if (off_m & 0xfff9u)
                v->anomalies |= CAP_ANOM_IP_FRAGMENT;
            v->later_fragment = (off_m >> 3) != 0;
        }
        rd_skip(&win, hdrlen);
        wire -= hdrlen;
        nh = next;
        v->proto = nh;
        if (v->later_fragment)
            break;
    }
    v->payload = win;
    v->payload_wire = wire;
}

/* ---- transport ------------------------------------------------------------------ */

static void set_payload(struct cap_pkt *pkt, struct rd *r, uint32_t wire)
{
    size_t left = rd_left(r);
    uint32_t n = left < wire ? (uint32_t)left : wire;
    pkt->payload = n ? r->p : NULL;
    pkt->payload_len = n;
    pkt->payload_wire_len = wire;
}

/* TCP options (RFC 9293 3.2; MSS 3.7.1, window scale and timestamps RFC
 * 7323 2.2 and 3.2, SACK-permitted RFC 2018 2).  `cut`: the capture ended
 * inside the option space, so running out there is truncation, not a bad
 * length.  */
static void tcp_options(struct rd *o, bool cut, struct cap_pkt *pkt)
{
    /* Most segments carry exactly NOP, NOP, timestamps (RFC 7323 3.2). */
    struct rd whole = *o;
    const uint8_t *b = rd_left(o) == 12 ? rd_bytes(&whole, 12) : NULL;
    if (b && b[0] == 1 && b[1] == 1 && b[2] == 8 && b[3] == 10) {
        *o = whole;
        pkt->has_ts = true;
        return;
    }
    while (rd_left(o) > 0) {
        uint8_t kind = rd_u8(o);
        if (kind == 0)                      /* end of option list */
            return;
        if (kind == 1)                      /* no-operation */
            continue;
        if (rd_left(o) == 0) {
            if (!cut)
                pkt->anomalies |= CAP_ANOM_TCP_OPT_INVALID_LEN;
            return;
        }
        uint8_t len = rd_u8(o);
        if (len < 2 || len - 2u > rd_left(o)) {
            if (len < 2 || !cut)
                pkt->anomalies |= CAP_ANOM_TCP_OPT_INVALID_LEN;
            return;
        }
        struct rd val = rd_sub(o, len - 2u);
        uint8_t want = kind == 2 ? 4 : kind == 3 ? 3 : kind == 4 ? 2 : kind == 8 ? 10 : len;
        if (len != want) {
            pkt->anomalies |= CAP_ANOM_TCP_OPT_INVALID_LEN;
            return;
        }
        if (kind == 2) {
            pkt->mss = rd_be16(&val);
        } else if (kind == 3) {
            uint8_t shift = rd_u8(&val);
            pkt->wscale = (int8_t)(shift > 14 ? 14 : shift);   /* RFC 7323 2.3 */
        } else if (kind == 4) {
            pkt->sack_ok = true;
        } else if (kind == 8) {
            pkt->has_ts = true;
        }
    }
}

/* A TCP header the capture cut inside its fixed 20 bytes: the fields that
 * arrived whole still count (the rest read as 0).  */
static void tcp_decode_cut(struct rd *r, uint32_t wire, struct cap_pkt *pkt)
{
    pkt->sport = rd_be16(r);
    pkt->dport = rd_be16(r);
    pkt->seq = rd_be32(r);
    pkt->ack = rd_be32(r);
    rd_skip(r, 2);                          /* data offset, flags */
    pkt->window = rd_be16(r);
    if (wire < 20)
        pkt->anomalies |= CAP_ANOM_IP_BAD_LENGTH;
    set_status(&pkt->status, wire < 20 ? CAP_INVALID : CAP_TRUNCATED);
}

/* TCP header (RFC 9293 3.1).  `wire`: segment length per the IP header. */
static void tcp_decode(struct rd *r, uint32_t wire, struct cap_pkt *pkt)
{
    if (rd_left(r) < 20) {
        tcp_decode_cut(r, wire, pkt);
        return;
    }
    /* The fixed header in one bounds check: ports, sequence and
     * acknowledgment numbers, data offset and flags, window, checksum,
     * urgent pointer.  */
    const uint8_t *b = rd_bytes(r, 20);
    pkt->sport = be16_at(b);
    pkt->dport = be16_at(b + 2);
    pkt->seq = be32_at(b + 4);
    pkt->ack = be32_at(b + 8);
    uint16_t off_flags = be16_at(b + 12);
    pkt->window = be16_at(b + 14);
    pkt->tcp_flags = (uint8_t)(off_flags & 0xffu);
    uint32_t doff = (uint32_t)(off_flags >> 12) * 4u;
    if (doff < 20 || doff > wire) {         /* Data Offset is at least 5 words */
        set_status(&pkt->status, CAP_INVALID);
        return;
    }
    struct rd opts = rd_sub(r, doff - 20);
    bool cut = r->bad;
    tcp_options(&opts, cut, pkt);
    if (cut) {
        set_status(&pkt->status, CAP_TRUNCATED);
        return;
    }
    set_payload(pkt, r, wire - doff);
    /* RFC 9293 3.5.3 allows diagnostic data on a RST; middleboxes use it. */
    if ((pkt->tcp_flags & CAP_TH_RST) && pkt->payload_wire_len)
        pkt->anomalies |= CAP_ANOM_TCP_RST_WITH_DATA;
}

/* UDP header (RFC 768).  `whole`: the IP payload is the whole datagram (not
 * a first fragment), so the UDP length can be checked against it.  */
static void udp_decode(struct rd *r, uint32_t wire, bool whole, struct cap_pkt *pkt)
{
    pkt->sport = rd_be16(r);
    pkt->dport = rd_be16(r);
    uint32_t ulen = rd_be16(r);
    rd_skip(r, 2);                          /* checksum */
    if (r->bad) {
        if (wire < 8)
            pkt->anomalies |= CAP_ANOM_IP_BAD_LENGTH;
        set_status(&pkt->status, wire < 8 ? CAP_INVALID : CAP_TRUNCATED);
        return;
    }
    if (whole && ulen != 0) {               /* 0: IPv6 jumbogram (RFC 2675 4) */
        if (ulen < 8 || ulen > wire) {
            pkt->anomalies |= CAP_ANOM_IP_BAD_LENGTH;
            set_status(&pkt->status, CAP_INVALID);
            return;
        }
        wire = ulen;                        /* bytes after the datagram are not payload */
    }
    set_payload(pkt, r, wire - 8);
}

/* The packet quoted by an ICMP error: IP header plus at least 8 octets
 * (RFC 792; RFC 4443 3.1 quotes as much as fits).  */
static void icmp_quote(struct rd *q, uint8_t ver, struct cap_pkt *pkt)
{
    struct cap_icmp_err *e = &pkt->icmp_err;
    struct ip_view v = blank_view;
    if (ver == 4)
        ipv4_parse(q, &v, true);
    else
        ipv6_parse(q, &v, true);
    if (v.have_hdr) {
        set_addr(&e->q_src, v.ver, v.src);
        set_addr(&e->q_dst, v.ver, v.dst);
        e->q_proto = v.proto;
        e->q_ttl = v.ttl;
    }
    if (v.status == CAP_TRUNCATED)
        pkt->anomalies |= CAP_ANOM_ICMP_QUOTE_SHORT;
    if (v.status != CAP_OK || v.later_fragment)
        return;
    if (rd_left(&v.payload) < 8)
        pkt->anomalies |= CAP_ANOM_ICMP_QUOTE_SHORT;
    if (v.proto != CAP_IPPROTO_TCP && v.proto != CAP_IPPROTO_UDP)
        return;
    uint16_t sport = rd_be16(&v.payload);
    uint16_t dport = rd_be16(&v.payload);
    if (v.payload.bad)
        return;
    e->q_sport = sport;
    e->q_dport = dport;
    e->q_ports_valid = true;
    if (v.proto == CAP_IPPROTO_TCP) {
        e->q_seq = rd_be32(&v.payload);
        e->q_seq_valid = !v.payload.bad;
    }
}

/* Clips an ICMP error body to the original datagram when an RFC 4884 length
 * (in `unit`-octet words) is given, so extension objects are not quoted.
 * With extensions the datagram field is at least 128 octets (RFC 4884 4.1,
 * 4.2); a smaller value is a pre-4884 sender's junk and is ignored.  */
static struct rd quote_window(struct rd *body, uint8_t len_words, uint32_t unit)
{
    size_t left = rd_left(body);
    size_t n = (size_t)len_words * unit;
    return rd_make(body->p, n >= 128 && n < left ? n : left);
}

/* ICMP (RFC 792) or ICMPv6 (RFC 4443 2.1): both start type, code, checksum
 * and a 4-octet field whose meaning depends on the type.  */
static void icmp_decode(struct rd *r, uint32_t wire, uint8_t ver, struct cap_pkt *pkt)
{
    pkt->icmp_type = rd_u8(r);
    pkt->icmp_code = rd_u8(r);
    rd_skip(r, 2);                          /* checksum */
    struct rd hdr = rd_sub(r, 4);
    if (r->bad) {
        if (wire < 8)
            pkt->anomalies |= CAP_ANOM_IP_BAD_LENGTH;
        set_status(&pkt->status, wire < 8 ? CAP_INVALID : CAP_TRUNCATED);
        return;
    }
    uint8_t t = pkt->icmp_type;
    set_payload(pkt, r, wire - 8);
    struct rd body = rd_make(r->p, pkt->payload_len);
    bool echo = ver == 4 ? (t == 0 || t == 8) : (t == 128 || t == 129);
    bool error = ver == 4 ? (t == 3 || t == 4 || t == 5 || t == 11 || t == 12) : (t >= 1 && t <= 4);
    if (echo) {
        pkt->icmp_echo_id = rd_be16(&hdr);
        pkt->icmp_echo_seq = rd_be16(&hdr);
        return;
    }
    if (!error)
        return;
    struct cap_icmp_err *e = &pkt->icmp_err;
    e->present = true;
    e->type = t;
    e->code = pkt->icmp_code;
    uint8_t b0 = rd_u8(&hdr);
    uint8_t b1 = rd_u8(&hdr);
    uint16_t lo16 = rd_be16(&hdr);
    struct rd q;
    if (ver == 4) {
        if (t == 3 && pkt->icmp_code == 4)  /* RFC 1191 4: Next-Hop MTU */
            e->next_mtu = lo16;
        /* RFC 4884 4.1: length in 32-bit words for types 3, 11, 12. */
        q = quote_window(&body, t == 3 || t == 11 || t == 12 ? b1 : 0, 4);
    } else {
        uint32_t mtu = (uint32_t)b0 << 24 | (uint32_t)b1 << 16 | lo16;
        if (t == 2)                         /* RFC 4443 3.2 */
            e->next_mtu = mtu > 0xffff ? 0xffff : (uint16_t)mtu;
        /* RFC 4884 4.2: length in 64-bit words for types 1 and 3. */
        q = quote_window(&body, t == 1 || t == 3 ? b0 : 0, 8);
    }
    icmp_quote(&q, ver, pkt);
}

/* ---- network layer ---------------------------------------------------------------- */

void decode_ip(struct rd *r, uint8_t ver, const struct cap_record *rec, struct cap_pkt *pkt)
{
    struct ip_view v = blank_view;
    if (ver == 4)
        ipv4_parse(r, &v, false);
    else
        ipv6_parse(r, &v, false);
    pkt->anomalies |= v.anomalies;
    set_status(&pkt->status, v.status);
    if (!v.have_hdr)
        return;
    pkt->ipver = v.ver;
    set_addr(&pkt->src, v.ver, v.src);
    set_addr(&pkt->dst, v.ver, v.dst);
    pkt->ttl = v.ttl;
    pkt->ip_id = v.id;
    pkt->df = v.df;
    pkt->proto = v.proto;
    if (v.short_of_len) {
        pkt->snapped = true;
        if (rec->caplen >= rec->wirelen)    /* not the capture's doing */
            pkt->anomalies |= CAP_ANOM_IP_BAD_LENGTH;
    }
    if (pkt->status != CAP_OK || v.later_fragment)
        return;
    bool whole = !(v.anomalies & CAP_ANOM_IP_FRAGMENT);
    switch (v.proto) {
    case CAP_IPPROTO_TCP:
        tcp_decode(&v.payload, v.payload_wire, pkt);
        break;
    case CAP_IPPROTO_UDP:
        udp_decode(&v.payload, v.payload_wire, whole, pkt);
        break;
    case CAP_IPPROTO_ICMP:
        if (ver == 4)
            icmp_decode(&v.payload, v.payload_wire, 4, pkt);
        else
            set_payload(pkt, &v.payload, v.payload_wire);
        break;
    case CAP_IPPROTO_ICMPV6:
        if (ver == 6)
            icmp_decode(&v.payload, v.payload_wire, 6, pkt);
        else
            set_payload(pkt, &v.payload, v.payload_wire);
        break;
    default:
        set_payload(pkt, &v.payload, v.payload_wire);
        break;
    }
}
