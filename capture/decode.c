/* decode.c: one capture record to a host-order packet summary: the link
 * layers (Ethernet with VLAN tags, Linux cooked SLL and SLL2, raw IP, BSD
 * loopback) here, IP and what it carries in decode_ip.c; and the address
 * helpers.
 *
 * A capture that ends early gives CAP_TRUNCATED with the summary filled as
 * far as the bytes went (rd reads past the end yield 0); fields that
 * contradict each other give CAP_INVALID.  */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "decode_int.h"

#define ETHERTYPE_IPV4 0x0800u
#define ETHERTYPE_IPV6 0x86DDu
#define ETHERTYPE_VLAN 0x8100u      /* IEEE 802.1Q C-tag */
#define ETHERTYPE_QINQ 0x88A8u      /* IEEE 802.1ad S-tag */
#define ETHERTYPE_QINQ_OLD 0x9100u  /* pre-standard S-tag */

/* Dispatches on an EtherType, first walking 802.1Q / 802.1ad tags. */
static void ethertype_decode(struct rd *r, uint16_t type, const struct cap_record *rec,
                             struct cap_pkt *pkt)
{
    for (unsigned n = 0; type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD;
         n++) {
        if (n >= LIM_MAX_LAYERS) {
            pkt->anomalies |= CAP_ANOM_TOO_MANY_LAYERS;
            set_status(&pkt->status, CAP_INVALID);
            return;
        }
        rd_skip(r, 2);                      /* PCP, DEI, VLAN ID */
        type = rd_be16(r);
    }
    if (r->bad) {
        set_status(&pkt->status, CAP_TRUNCATED);
        return;
    }
    if (type == ETHERTYPE_IPV4)
        decode_ip(r, 4, rec, pkt);
    else if (type == ETHERTYPE_IPV6)
        decode_ip(r, 6, rec, pkt);
    else
        set_status(&pkt->status, CAP_UNSUPPORTED);
}

/* Raw IP: the version nibble tells which. */
static void raw_decode(struct rd *r, const struct cap_record *rec, struct cap_pkt *pkt)
{
    struct rd peek = *r;
    uint8_t ver = rd_u8(&peek) >> 4;
    if (peek.bad)
        set_status(&pkt->status, CAP_TRUNCATED);
    else if (ver == 4 || ver == 6)
        decode_ip(r, ver, rec, pkt);
    else
        set_status(&pkt->status, CAP_INVALID);
}

/* BSD loopback address family: 2 is AF_INET everywhere; AF_INET6 is 24
 * (NetBSD, OpenBSD), 28 (FreeBSD) or 30 (Darwin).  */
static void loop_decode(struct rd *r, uint32_t family, const struct cap_record *rec,
                        struct cap_pkt *pkt)
{
    if (r->bad)
        set_status(&pkt->status, CAP_TRUNCATED);
    else if (family == 2)
        decode_ip(r, 4, rec, pkt);
    else if (family == 24 || family == 28 || family == 30)
        decode_ip(r, 6, rec, pkt);
    else
        set_status(&pkt->status, CAP_UNSUPPORTED);
}

/* Zeroes a summary in 64-byte pieces: one memset of its size compiles to
 * a `rep stos`, whose start-up cost was half of cap_decode's time, while
 * pieces this small become plain vector stores.  */
static void clear_pkt(struct cap_pkt *pkt)
{
    unsigned char *b = (unsigned char *)pkt;
    for (size_t at = 0; at < sizeof(*pkt); at += 64)
        memset(b + at, 0, sizeof(*pkt) - at < 64 ? sizeof(*pkt) - at : 64);
}

enum cap_status cap_decode(const struct cap_record *rec, struct cap_pkt *pkt)
{
    clear_pkt(pkt);
    pkt->wscale = -1;
    pkt->frame = rec->frame;
    pkt->ts_ns = rec->ts_ns;
    pkt->caplen = rec->caplen;
    pkt->wirelen = rec->wirelen;
    pkt->snapped = rec->caplen < rec->wirelen;
    struct rd r = rd_make(rec->data, rec->data ? rec->caplen : 0);
    uint16_t type;
    uint32_t family;

    switch (rec->linktype) {
    case CAP_LT_ETHERNET:
        rd_skip(&r, 12);                    /* destination, source MAC */
        type = rd_be16(&r);
        ethertype_decode(&r, type, rec, pkt);
        break;
    case CAP_LT_LINUX_SLL:
        rd_skip(&r, 14);                    /* packet type, ARPHRD, address length, address */
        type = rd_be16(&r);
        ethertype_decode(&r, type, rec, pkt);
        break;
    case CAP_LT_LINUX_SLL2:
        type = rd_be16(&r);
        rd_skip(&r, 18);                    /* reserved, ifindex, ARPHRD, type, length, address */
        ethertype_decode(&r, type, rec, pkt);
        break;
    case CAP_LT_RAW:
    case 12:                                /* DLT_RAW as some writers store it */
    case 14:                                /* DLT_RAW on OpenBSD */
        raw_decode(&r, rec, pkt);
        break;
    case CAP_LT_IPV4:
        decode_ip(&r, 4, rec, pkt);
        break;
    case CAP_LT_IPV6:
        decode_ip(&r, 6, rec, pkt);
        break;
    case CAP_LT_NULL:
        /* Host byte order of the writer: a family fits in 16 bits, so a
         * value above that was written big-endian.  */
        family = rd_le32(&r);
        if (family > 0xffffu)
            family = (family >> 24) | (family >> 8 & 0xff00u) | (family << 8 & 0xff0000u) | family << 24;
        loop_decode(&r, family, rec, pkt);
        break;
    case CAP_LT_LOOP:
        family = rd_be32(&r);
        loop_decode(&r, family, rec, pkt);
        break;
    default:
        set_status(&pkt->status, CAP_UNSUPPORTED);
        break;
    }
    return pkt->status;
}

/* ---- addresses -------------------------------------------------------------------- */

void cap_addr_str(const struct cap_addr *a, char *buf, size_t len)
{
    char tmp[INET6_ADDRSTRLEN];
    if (!len)
        return;
    if (a->family == 4 || a->family == 6) {
        if (inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->a, tmp, sizeof tmp)) {
            snprintf(buf, len, "%s", tmp);
            return;
        }
    }
    snprintf(buf, len, "-");
}

bool cap_addr_parse(const char *s, struct cap_addr *out)
{
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, s, out->a) == 1) {
        out->family = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, out->a) == 1) {
        out->family = 6;
        return true;
    }
    memset(out, 0, sizeof *out);
    return false;
}
