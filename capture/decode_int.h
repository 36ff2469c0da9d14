/* decode_int.h: inside capture/ only: the link layers (decode.c) hand
 * the network layer (decode_ip.c) its bytes.  */
#ifndef ACRDIAG_DECODE_INT_H
#define ACRDIAG_DECODE_INT_H

#include <stdint.h>

#include "capture.h"
#include "rd.h"

/* Worst status wins; UNSUPPORTED and INVALID end decoding where set. */
static inline void set_status(enum cap_status *st, enum cap_status s)
{
    if (s > *st)
        *st = s;
}

/* Big-endian fields of a block rd_bytes handed out, at offsets inside it:
 * one bounds check for a fixed header instead of one per field.  */
static inline uint16_t be16_at(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An IPv4 (ver 4) or IPv6 (ver 6) packet at r, and what it carries, into
 * pkt; rec tells whether the capture cut it.  */
void decode_ip(struct rd *r, uint8_t ver, const struct cap_record *rec, struct cap_pkt *pkt);

#endif
