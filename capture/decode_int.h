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

/* An IPv4 (ver 4) or IPv6 (ver 6) packet at r, and what it carries, into
 * pkt; rec tells whether the capture cut it.  */
void decode_ip(struct rd *r, uint8_t ver, const struct cap_record *rec, struct cap_pkt *pkt);

#endif
