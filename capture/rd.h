/* rd.h: the one bounded reader every wire byte goes through.
 *
 * A read past the end returns 0 and sets `bad`; callers check `bad` once per
 * layer before acting on what they read.  No struct is ever overlaid on
 * packet bytes.  All multi-byte reads are big-endian (network order) unless
 * named _le.  */
#ifndef ACRDIAG_RD_H
#define ACRDIAG_RD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rd {
    const uint8_t *p;
    const uint8_t *end;
    bool bad;
};

/* p may be NULL when len is 0 (the decoder's empty payload); NULL + 0 is
 * undefined in C, so that case is not computed.  */
static inline struct rd rd_make(const uint8_t *p, size_t len)
{
    struct rd r = { p, len ? p + len : p, false };
    return r;
}

static inline size_t rd_left(const struct rd *r)
{
    return r->bad ? 0 : (size_t)(r->end - r->p);
}

static inline bool rd_has(struct rd *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return false;
    }
    return true;
}

static inline uint8_t rd_u8(struct rd *r)
{
    if (!rd_has(r, 1))
        return 0;
    return *r->p++;
}

static inline uint16_t rd_be16(struct rd *r)
{
    if (!rd_has(r, 2))
        return 0;
    uint16_t v = (uint16_t)((uint16_t)r->p[0] << 8 | r->p[1]);
    r->p += 2;
    return v;
}

static inline uint32_t rd_be24(struct rd *r)
{
    if (!rd_has(r, 3))
        return 0;
    uint32_t v = (uint32_t)r->p[0] << 16 | (uint32_t)r->p[1] << 8 | r->p[2];
    r->p += 3;
    return v;
}

static inline uint32_t rd_be32(struct rd *r)
{
    if (!rd_has(r, 4))
        return 0;
    uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
                 (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    return v;
}

static inline uint16_t rd_le16(struct rd *r)
{
    if (!rd_has(r, 2))
        return 0;
    uint16_t v = (uint16_t)((uint16_t)r->p[1] << 8 | r->p[0]);
    r->p += 2;
    return v;
}

static inline uint32_t rd_le32(struct rd *r)
{
    if (!rd_has(r, 4))
        return 0;
    uint32_t v = (uint32_t)r->p[3] << 24 | (uint32_t)r->p[2] << 16 |
                 (uint32_t)r->p[1] << 8 | r->p[0];
    r->p += 4;
    return v;
}

static inline void rd_skip(struct rd *r, size_t n)
{
    if (rd_has(r, n))
        r->p += n;
}

/* Points *out at the next n bytes (no copy) and advances; NULL when short. */
static inline const uint8_t *rd_bytes(struct rd *r, size_t n)
{
    if (!rd_has(r, n))
        return NULL;
    const uint8_t *at = r->p;
    r->p += n;
    return at;
}

/* A sub-reader over the next n bytes; the parent advances past them.  When
 * fewer than n remain the sub-reader covers what is left and the parent is
 * marked bad, so truncation stays visible to the caller.  */
static inline struct rd rd_sub(struct rd *r, size_t n)
{
    struct rd s;
    size_t left = rd_left(r);
    if (n > left) {
        s = rd_make(r->p, left);
        r->p = r->end;
        r->bad = true;
        return s;
    }
    s = rd_make(r->p, n);
    r->p += n;
    return s;
}

#endif
