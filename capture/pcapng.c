/* pcapng.c: pcapng (draft-ietf-opsawg-pcapng) blocks to packet records:
 * any number of sections in either byte order, interfaces of different
 * link types, if_tsresol and if_tsoffset, the EPB, SPB and obsolete PB
 * packet blocks, section comments and Decryption Secrets Blocks.  */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapfile_int.h"

#define NG_IDB 1u
#define NG_PB 2u                      /* obsolete Packet Block */
#define NG_SPB 3u
#define NG_EPB 6u
#define NG_DSB 10u                    /* Decryption Secrets Block */
#define NG_DSB_TLS_KEYLOG 0x544c534bu /* 'TLSK': an NSS key log */
#define NG_BOM 0x1A2B3C4Du
#define NG_BLOCK_MIN 12u              /* type, length, trailing length */
#define NG_OPT_ENDOFOPT 0u
#define NG_OPT_COMMENT 1u
#define NG_OPT_IF_TSRESOL 9u
#define NG_OPT_IF_TSOFFSET 14u

/* ---- timestamps ----------------------------------------------------------- */

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* Converts a pcapng timestamp in units of the interface's if_tsresol to
 * nanoseconds, saturating: the high bit chooses 2^-n, else 10^-n
 * (pcapng section 4.2, if_tsresol).  */
static int64_t ng_ts_to_ns(uint64_t ts, uint8_t tsresol)
{
    unsigned n = tsresol & 0x7f;
    if (tsresol & 0x80) {
        if (n > 32) {   /* keep 32 fraction bits: frac * 1e9 stays below 2^62 */
            ts = n - 32 >= 64 ? 0 : ts >> (n - 32);
            n = 32;
        }
        uint64_t sec = ts >> n;
        uint64_t frac = ts & ((UINT64_C(1) << n) - 1);
        if (sec > (uint64_t)(INT64_MAX / NS_PER_SEC) - 1)
            return INT64_MAX;
        return (int64_t)(sec * NS_PER_SEC + ((frac * NS_PER_SEC) >> n));
    }
    if (n <= 9) {
        uint64_t mul = 1;
        for (unsigned i = n; i < 9; i++)
            mul *= 10;
        if (ts > (uint64_t)INT64_MAX / mul)
            return INT64_MAX;
        return (int64_t)(ts * mul);
    }
    if (n - 9 > 19)     /* 10^20 exceeds any 64-bit count */
        return 0;
    uint64_t div = 1;
    for (unsigned i = 9; i < n; i++)
        div *= 10;
    return (int64_t)(ts / div);
}

/* Next option of a block's option list: code, length, value padded to 32
 * bits (pcapng 3.5).  False at opt_endofopt, at the end of the list, or
 * when the list is damaged: the caller keeps what it had.  */
static bool ng_next_option(const struct cap_file *f, struct rd *body, uint16_t *code, struct rd *val)
{
    if (rd_left(body) < 4)
        return false;
    *code = get16(body, f->be);
    uint16_t len = get16(body, f->be);
    *val = rd_sub(body, len);
    rd_skip(body, (4 - (len & 3)) & 3);
    return !body->bad && *code != NG_OPT_ENDOFOPT;
}

/* Parses a Section Header Block body (after the byte-order magic). */
static int ng_shb(struct cap_file *f, struct rd *body, char *msg, size_t msglen)
{
    uint16_t major = get16(body, f->be);
    if (body->bad) {
        snprintf(msg, msglen, "section header at offset %" PRIu64 " is too short", f->buf.offset);
        return -1;
    }
    if (major != 1) {
        snprintf(msg, msglen, "pcapng version %u is not supported", major);
        return -1;
    }
    f->n_ifaces = 0;    /* interfaces are numbered per section (pcapng 4.2) */
    rd_skip(body, 2 + 8);   /* minor version, section length */
    /* opt_comment values are kept (the prober's facts travel there). */
    uint16_t code;
    struct rd val;
    while (ng_next_option(f, body, &code, &val)) {
        size_t len = rd_left(&val);
        if (code != NG_OPT_COMMENT || f->n_comments >= LIM_FILE_COMMENTS)
            continue;
        size_t n = len < LIM_FILE_COMMENT ? len : LIM_FILE_COMMENT;
        char *c = strndup((const char *)val.p, n);
        if (c)
            f->comments[f->n_comments++] = c;
    }
    return 0;
}

/* Parses an Interface Description Block body. */
static int ng_idb(struct cap_file *f, struct rd *body, uint64_t at, char *msg, size_t msglen)
{
    if (f->n_ifaces >= LIM_MAX_INTERFACES) {
        snprintf(msg, msglen, "block at offset %" PRIu64 ": more than %u interfaces", at,
                 LIM_MAX_INTERFACES);
        return -1;
    }
    struct ng_iface ifc = { 0, 0, 6, 0 };
    ifc.linktype = get16(body, f->be);
    rd_skip(body, 2);
    ifc.snaplen = get32(body, f->be);
    if (body->bad) {
        snprintf(msg, msglen, "block at offset %" PRIu64 ": interface description too short", at);
        return -1;
    }
    /* A damaged option list keeps the defaults rather than failing the file. */
    uint16_t code;
    struct rd val;
    while (ng_next_option(f, body, &code, &val)) {
        size_t len = rd_left(&val);
        if (code == NG_OPT_IF_TSRESOL && len == 1)
            ifc.tsresol = rd_u8(&val);
        else if (code == NG_OPT_IF_TSOFFSET && len == 8) {
            uint64_t first = get32(&val, f->be);
            uint64_t second = get32(&val, f->be);
            ifc.tsoffset = (int64_t)(f->be ? first << 32 | second : second << 32 | first);
        }
    }
    f->ifaces[f->n_ifaces++] = ifc;
    return 0;
}

/* Fills rec from a packet block body; returns 1, or -1 with msg. */
static int ng_packet(struct cap_file *f, uint32_t type, struct rd *body, uint64_t recno,
                     struct cap_record *rec, char *msg, size_t msglen)
{
    uint32_t ifid = 0, caplen, wirelen;
    uint64_t ts = 0;
    bool has_ts = true;
    if (type == NG_SPB) {
        /* Simple Packet Block (pcapng 4.4): interface 0, no timestamp,
         * captured length implied by the block length and the snaplen. */
        wirelen = get32(body, f->be);
        caplen = (uint32_t)rd_left(body);
        if (caplen > wirelen)
            caplen = wirelen;
        if (f->n_ifaces && f->ifaces[0].snaplen && caplen > f->ifaces[0].snaplen)
            caplen = f->ifaces[0].snaplen;
        has_ts = false;
    } else {
        if (type == NG_PB) {
            ifid = get16(body, f->be);
            rd_skip(body, 2);   /* drops count */
        } else {
            ifid = get32(body, f->be);
        }
        uint32_t hi = get32(body, f->be);
        uint32_t lo = get32(body, f->be);
        ts = (uint64_t)hi << 32 | lo;
        caplen = get32(body, f->be);
        wirelen = get32(body, f->be);
    }
    if (body->bad) {
        snprintf(msg, msglen, "record %" PRIu64 ": packet block too short", recno);
        return -1;
    }
    if (ifid >= f->n_ifaces) {
        snprintf(msg, msglen, "record %" PRIu64 ": interface %" PRIu32 " was not described", recno, ifid);
        return -1;
    }
    if (caplen > LIM_MAX_RECORD) {
        snprintf(msg, msglen, "record %" PRIu64 ": length %" PRIu32 " exceeds %u", recno, caplen,
                 LIM_MAX_RECORD);
        return -1;
    }
    const uint8_t *data = rd_bytes(body, caplen);
    if (!data) {
        snprintf(msg, msglen, "record %" PRIu64 ": length %" PRIu32 " overruns its block", recno, caplen);
        return -1;
    }
    const struct ng_iface *ifc = &f->ifaces[ifid];
    rec->ts_ns = has_ts ? sat_add(ng_ts_to_ns(ts, ifc->tsresol),
                                  ifc->tsoffset > INT64_MAX / NS_PER_SEC ? INT64_MAX
                                  : ifc->tsoffset < INT64_MIN / NS_PER_SEC ? INT64_MIN
                                  : ifc->tsoffset * NS_PER_SEC)
                        : 0;
    rec->linktype = ifc->linktype;
    rec->caplen = caplen;
    rec->wirelen = wirelen < caplen ? caplen : wirelen;
    rec->data = data;
    return 1;
}

int pcapng_next(struct cap_file *f, struct cap_record *rec, char *errbuf, size_t errlen)
{
    char msg[160];
    for (;;) {
        uint8_t hdr[12];
        bool ioerr;
        uint64_t at = f->buf.offset;
        size_t got = fb_read_full(&f->buf, hdr, 8, &ioerr);
        if (got == 0 && !ioerr)
            return 0;
        if (got < 8) {
            snprintf(msg, sizeof msg, "block at offset %" PRIu64 ": %s", at,
                     ioerr ? f->buf.in_errmsg : "cut off (file ends inside a block header)");
            return pcapfile_fail(f, errbuf, errlen, msg);
        }
        struct rd r = rd_make(hdr, 12);
        uint32_t type = get32(&r, f->be);
        uint32_t len;
        size_t have = 8;
        if (type == NG_SHB) {
            /* The byte-order magic tells how to read this section,
             * including this block's own length (pcapng 4.1). */
            if (fb_read_full(&f->buf, hdr + 8, 4, &ioerr) < 4) {
                snprintf(msg, sizeof msg, "block at offset %" PRIu64 ": %s", at,
                         ioerr ? f->buf.in_errmsg : "cut off (file ends inside a section header)");
                return pcapfile_fail(f, errbuf, errlen, msg);
            }
            struct rd b = rd_make(hdr + 8, 4);
            uint32_t bom = rd_be32(&b);
            if (bom == NG_BOM)
                f->be = true;
            else if (bom == 0x4D3C2B1Au)
                f->be = false;
            else {
                snprintf(msg, sizeof msg, "block at offset %" PRIu64 ": bad byte-order magic in section header", at);
                return pcapfile_fail(f, errbuf, errlen, msg);
            }
            r = rd_make(hdr + 4, 4);
            have = 12;
        }
        len = get32(&r, f->be);
        bool is_pkt = type == NG_EPB || type == NG_SPB || type == NG_PB;
        uint64_t recno = f->records + 1;
        if (len < NG_BLOCK_MIN || len < have + 4 || len % 4 || len > LIM_MAX_BLOCK) {
            if (is_pkt)
                snprintf(msg, sizeof msg, "record %" PRIu64 ": block length %" PRIu32 " is invalid", recno, len);
            else
                snprintf(msg, sizeof msg, "block at offset %" PRIu64 ": length %" PRIu32 " is invalid", at, len);
            return pcapfile_fail(f, errbuf, errlen, msg);
        }
        size_t rest = len - have;      /* body and trailing length */
        const uint8_t *block;
        if (fb_take(&f->buf, rest, &block, &ioerr) < rest) {
            if (ioerr)
                snprintf(msg, sizeof msg, "block at offset %" PRIu64 ": %s", at, f->buf.in_errmsg);
            else if (is_pkt)
                snprintf(msg, sizeof msg, "record %" PRIu64 ": cut off (file ends inside a packet)", recno);
            else
                snprintf(msg, sizeof msg, "block at offset %" PRIu64 ": cut off (file ends inside a block)", at);
            return pcapfile_fail(f, errbuf, errlen, msg);
        }
        struct rd tail = rd_make(block + rest - 4, 4);
        if (get32(&tail, f->be) != len) {
            snprintf(msg, sizeof msg, "block at offset %" PRIu64 ": trailing length does not match", at);
            return pcapfile_fail(f, errbuf, errlen, msg);
        }
        struct rd body = rd_make(block, rest - 4);
        int rc = 0;
        switch (type) {
        case NG_SHB:
            rc = ng_shb(f, &body, msg, sizeof msg);
            break;
        case NG_IDB:
            rc = ng_idb(f, &body, at, msg, sizeof msg);
            break;
        case NG_EPB:
        case NG_SPB:
        case NG_PB:
            rc = ng_packet(f, type, &body, recno, rec, msg, sizeof msg);
            break;
        case NG_DSB: {
            /* pcapng 4.7: secrets type, length, data (padded); a TLS key
             * log is what editcap --inject-secrets writes.  */
            uint32_t stype = get32(&body, f->be), slen = get32(&body, f->be);
            const uint8_t *sdata = rd_bytes(&body, slen);
            if (f->secrets && sdata && stype == NG_DSB_TLS_KEYLOG)
                f->secrets(f->secrets_arg, sdata, slen);
            else if (f->keylog && sdata && stype == NG_DSB_TLS_KEYLOG)
                cap_keylog_add(f->keylog, sdata, slen);
            break;
        }
        default:    /* statistics, name resolution, custom: not needed */
            break;
        }
        if (rc < 0)
            return pcapfile_fail(f, errbuf, errlen, msg);
        if (rc == 1)
            return 1;
    }
}
