/* dns.c: one DNS message to its question, rcode and A/AAAA/CNAME answers. */
#include <stddef.h>
#include <string.h>

#include "capture.h"
#include "rd.h"

/* RFC 1035 2.3.4: a name is at most 255 octets on the wire, length octets
 * and the final root octet included.  */
#define DNS_NAME_WIRE_MAX 255u

/* A presentation-form name being built; full once a piece did not fit. */
struct name_buf {
    char *s;
    size_t cap, n;
    bool full;
};

static void nb_put(struct name_buf *nb, const char *piece, size_t len)
{
    if (nb->full || nb->n + len >= nb->cap) {
        nb->full = true;
        return;
    }
    memcpy(nb->s + nb->n, piece, len);
    nb->n += len;
    nb->s[nb->n] = '\0';
}

/* Appends one label byte: lower-cased, anything outside [a-z0-9-_*] as \DDD
 * (RFC 1035 5.1), so a name is safe to print and a dot is always a label
 * separator.  */
static void nb_put_label_byte(struct name_buf *nb, uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        c = (uint8_t)(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*') {
        char ch = (char)c;
        nb_put(nb, &ch, 1);
        return;
    }
    char esc[4] = { '\\', (char)('0' + c / 100), (char)('0' + c / 10 % 10), (char)('0' + c % 10) };
    nb_put(nb, esc, sizeof esc);
}

/* Reads a possibly compressed name at *r (which lies inside msg[0..len)).
 * *r advances past the name's bytes in place (up to and including the first
 * pointer); pointers are followed through msg.  RFC 1035 4.1.4: a pointer
 * refers to a prior occurrence, so it must land before the start of the run
 * of labels it ends: a pointer forward, past the end, to itself or into its
 * own run (a loop) is invalid, and each hop moves strictly backwards.
 * LIM_DNS_POINTER_HOPS bounds the chain on top of that.  Label types 01 and
 * 10 (first octet 64..191) are invalid: no label is longer than 63 octets
 * (RFC 1035 2.3.4) and extended labels are obsolete (RFC 6891 5).  */
static enum cap_status read_name(const uint8_t *msg, size_t len, struct rd *r,
                                 char *out, size_t outlen)
{
    struct name_buf nb = { out, outlen, 0, false };
    struct rd cur = *r;
    size_t run_start = (size_t)(cur.p - msg);
    bool jumped = false;
    unsigned hops = 0;
    size_t wire = 1;                    /* the root octet */

    out[0] = '\0';
    for (;;) {
        uint8_t c = rd_u8(&cur);
        if (cur.bad)
            break;
        if (c == 0) {
            if (nb.n == 0)
                nb_put(&nb, ".", 1);
            break;
        }
        if ((c & 0xc0) == 0xc0) {
            uint8_t lo = rd_u8(&cur);
            if (cur.bad)
                break;
            size_t target = (size_t)(c & 0x3f) << 8 | lo;
            if (!jumped) {
                *r = cur;
                jumped = true;
            }
            if (target >= run_start || ++hops > LIM_DNS_POINTER_HOPS)
                return CAP_INVALID;
            run_start = target;
            cur = rd_make(msg, len);
            rd_skip(&cur, target);
            continue;
        }
        if (c & 0xc0)
            return CAP_INVALID;         /* label type 01 / 10 */
        wire += 1u + c;
        if (wire > DNS_NAME_WIRE_MAX)
            return CAP_INVALID;
        const uint8_t *label = rd_bytes(&cur, c);
        if (label == NULL)
            break;
        if (nb.n > 0)
            nb_put(&nb, ".", 1);
        for (size_t i = 0; i < c; i++)
            nb_put_label_byte(&nb, label[i]);
    }
    if (cur.bad) {
        /* The message ended inside the name.  */
        r->bad = true;
        return CAP_TRUNCATED;
    }
    if (!jumped)
        *r = cur;
    return CAP_OK;
}

/* Reads one resource record into *rr (kept or not).  Returns whether the
 * record is one we keep through *keep.  */
static enum cap_status read_rr(const uint8_t *msg, size_t len, struct rd *r,
                               struct cap_dns_rr *rr, bool *keep)
{
    /* Every field set here, not the whole 0.5 KB record zeroed: a kept
     * record's names end at their NUL and nothing reads past it.  */
    *keep = false;
    rr->target[0] = '\0';
    rr->type = 0;
    rr->ttl = 0;
    memset(&rr->addr, 0, sizeof rr->addr);
    enum cap_status st = read_name(msg, len, r, rr->name, sizeof rr->name);
    if (st != CAP_OK)
        return st;
    rr->type = rd_be16(r);
    rd_skip(r, 2);                      /* class */
    rr->ttl = rd_be32(r);
    uint16_t rdlen = rd_be16(r);
    if (r->bad)
        return CAP_TRUNCATED;
    struct rd rdata = rd_sub(r, rdlen);
    if (r->bad)
        return CAP_TRUNCATED;

    switch (rr->type) {
    case CAP_DNS_A:
    case CAP_DNS_AAAA: {
        size_t alen = rr->type == CAP_DNS_A ? 4 : 16;
        if (rdlen != alen)
            return CAP_INVALID;
        const uint8_t *a = rd_bytes(&rdata, alen);
        if (a == NULL)
            return CAP_INVALID;
        rr->addr.family = rr->type == CAP_DNS_A ? 4 : 6;
        memcpy(rr->addr.a, a, alen);
        *keep = true;
        return CAP_OK;
    }
    case CAP_DNS_CNAME:
        /* The target may point anywhere earlier in the message, but its
         * in-place bytes must end inside RDATA.  */
        st = read_name(msg, len, &rdata, rr->target, sizeof rr->target);
        if (st == CAP_TRUNCATED)
            return CAP_INVALID;         /* RDATA is whole; the name overran it */
        if (st != CAP_OK)
            return st;
        *keep = true;
        return CAP_OK;
    default:
        return CAP_OK;                  /* skipped by RDLENGTH */
    }
}

enum cap_status cap_dns_parse(const uint8_t *msg, size_t len, struct cap_dns_msg *out)
{
    /* The header part only: answers[] (8 KB) is read up to n_answers, and
     * each kept record is written whole where it is read (read_rr).  */
    memset(out, 0, offsetof(struct cap_dns_msg, answers));
    struct rd r = rd_make(msg, len);

    /* RFC 1035 4.1.1 header. */
    out->id = rd_be16(&r);
    uint16_t flags = rd_be16(&r);
    uint16_t qdcount = rd_be16(&r);
    out->n_answers_wire = rd_be16(&r);
    rd_skip(&r, 4);                     /* NSCOUNT, ARCOUNT */
    /* A field the message ended before reads as 0. */
    out->is_response = (flags & 0x8000) != 0;
    out->truncated_flag = (flags & 0x0200) != 0;
    out->rcode = (uint8_t)(flags & 0x000f);
    if (r.bad)
        return CAP_TRUNCATED;

    /* RFC 1035 4.1.2 questions: the first is kept, the rest skipped. */
    for (unsigned i = 0; i < qdcount; i++) {
        char scratch[LIM_DNS_NAME];
        char *name = i == 0 ? out->qname : scratch;
        enum cap_status st = read_name(msg, len, &r, name, LIM_DNS_NAME);
        if (st != CAP_OK)
            return st;
        uint16_t qtype = rd_be16(&r);
        rd_skip(&r, 2);                 /* QCLASS */
        if (r.bad)
            return CAP_TRUNCATED;
        if (i == 0)
            out->qtype = qtype;
    }

    /* RFC 1035 4.1.3 answers. */
    for (unsigned i = 0; i < out->n_answers_wire; i++) {
        struct cap_dns_rr scratch;
        struct cap_dns_rr *rr = out->n_answers < LIM_DNS_ANSWERS ? &out->answers[out->n_answers] : &scratch;
        bool keep;
        enum cap_status st = read_rr(msg, len, &r, rr, &keep);
        if (st != CAP_OK)
            return st;
        if (keep && rr != &scratch)
            out->n_answers++;
    }
    return CAP_OK;
}
