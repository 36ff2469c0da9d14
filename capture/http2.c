/* http2.c: HTTP/2 (RFC 9113) as the decrypted start of a connection
 * shows it: the server's first response (HPACK through nghttp2's inflater)
 * and the client's first request's :method and :path.  */
#include <stdio.h>
#include <stdlib.h>

#include <nghttp2/nghttp2.h>

#include "http_int.h"

enum { H2_DATA = 0, H2_HEADERS = 1, H2_SETTINGS = 4, H2_CONTINUATION = 9 };
enum { H2_END_HEADERS = 0x4, H2_PADDED = 0x8, H2_PRIORITY = 0x20 };

bool cap_http2_server_start(const uint8_t *buf, size_t len)
{
    /* RFC 9113 3.4: the server's preface is a SETTINGS frame on stream 0. */
    return len >= 9 && buf[3] == H2_SETTINGS && (buf[4] & 0xfe) == 0 &&
           (buf[5] | buf[6] | buf[7] | buf[8]) == 0 && ((size_t)buf[0] << 16 | (size_t)buf[1] << 8 | buf[2]) % 6 == 0;
}

/* The payload of a HEADERS or DATA frame without its padding and priority
 * fields (RFC 9113 6.1, 6.2); false when they overrun it.  */
static bool h2_fragment(uint8_t type, uint8_t flags, struct rd *pl)
{
    size_t pad = 0;
    if (flags & H2_PADDED)
        pad = rd_u8(pl);
    if (type == H2_HEADERS && (flags & H2_PRIORITY))
        rd_skip(pl, 5);
    if (pl->bad || pad > rd_left(pl))
        return false;
    pl->end -= pad;
    return true;
}

/* Feeds one header block fragment to the inflater; each field to
 * header_field, :status to out->status.  False on an HPACK error.  */
static bool h2_inflate(nghttp2_hd_inflater *inf, const uint8_t *in, size_t n, bool final, struct cap_http_resp *out,
                       bool *chunked)
{
    for (;;) {
        nghttp2_nv nv;
        int flags = 0;
        ssize_t used = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, n, final);
        if (used < 0)
            return false;
        in += used;
        n -= (size_t)used;
        if (flags & NGHTTP2_HD_INFLATE_EMIT) {
            if (nv.namelen == 7 && memcmp(nv.name, ":status", 7) == 0) {
                int st = 0;
                for (size_t i = 0; i < nv.valuelen && i < 3; i++)
                    st = st * 10 + (nv.value[i] >= '0' && nv.value[i] <= '9' ? nv.value[i] - '0' : 0);
                out->status = nv.valuelen == 3 ? st : 0;
            } else if (nv.namelen > 0 && nv.name[0] != ':') {
                http_header_field(nv.name, nv.namelen, rd_make(nv.value, nv.valuelen), out, chunked);
            }
        }
        if (flags & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(inf);
            return true;
        }
        if (n == 0 && !(flags & NGHTTP2_HD_INFLATE_EMIT))
            return true;
    }
}

enum cap_status cap_http2_parse_response(const uint8_t *buf, size_t len, struct cap_http_resp *out)
{
    memset(out, 0, sizeof *out);
    if (!cap_http2_server_start(buf, len))
        return CAP_INVALID;
    nghttp2_hd_inflater *inf;
    if (nghttp2_hd_inflate_new(&inf) != 0)
        return CAP_INVALID;
    uint8_t *body = malloc(LIM_HTTP_BODY);
    size_t body_len = 0;
    uint32_t stream = 0;            /* the first response's stream */
    bool in_block = false, chunked = false, ok = body != NULL;
    enum cap_status st = CAP_TRUNCATED;
    struct rd r = rd_make(buf, len);
    /* Every header block is inflated in order, as the dynamic table needs
     * (RFC 7541 2.3.2); only the first response's fields are kept.  */
    while (ok && rd_left(&r) >= 9) {
        uint32_t flen = rd_be24(&r);
        uint8_t type = rd_u8(&r), flags = rd_u8(&r);
        uint32_t sid = rd_be32(&r) & 0x7fffffffu;
        if (flen > rd_left(&r))
            break;                  /* cut: what came before stands */
        struct rd pl = rd_sub(&r, flen);
        if (in_block && type != H2_CONTINUATION) {
            st = CAP_INVALID;       /* RFC 9113 6.10: nothing may interleave */
            break;
        }
        if (type == H2_HEADERS || type == H2_CONTINUATION) {
            if ((type == H2_HEADERS && !h2_fragment(type, flags, &pl)) || (type == H2_CONTINUATION && !in_block)) {
                st = CAP_INVALID;
                break;
            }
            bool mine = stream == 0 || sid == stream;
            struct cap_http_resp scratch;
            struct cap_http_resp *dst = mine && !out->complete_head ? out : &scratch;
            bool end = flags & H2_END_HEADERS;
            if (!h2_inflate(inf, pl.p, rd_left(&pl), end, dst, &chunked)) {
                st = CAP_INVALID;
                break;
            }
            in_block = !end;
            if (end && dst == out && out->status) {
                out->complete_head = true;
                stream = sid;
                st = CAP_OK;
            }
        } else if (type == H2_DATA && stream && sid == stream) {
            if (!h2_fragment(type, flags, &pl))
                break;
            size_t take = rd_left(&pl) < LIM_HTTP_BODY - body_len ? rd_left(&pl) : LIM_HTTP_BODY - body_len;
            memcpy(body + body_len, pl.p, take);
            body_len += take;
        }
    }
    if (st == CAP_OK && body_len)
        http_parse_error_body(rd_make(body, body_len), out);
    free(body);
    nghttp2_hd_inflate_del(inf);
    return st;
}

bool http2_request_line(const uint8_t *buf, size_t len, size_t pre_len, char *out, size_t outlen)
{
    /* RFC 9113 3.4, 8.3.1: the preface, then frames; the first
     * HEADERS block's :method and :path.  */
    nghttp2_hd_inflater *inf;
    if (nghttp2_hd_inflate_new(&inf) != 0)
        return false;
    char method[16] = "", path[96] = "";
    struct rd r = rd_make(buf + pre_len, len - pre_len);
    bool done = false;
    while (!done && rd_left(&r) >= 9) {
        uint32_t flen = rd_be24(&r);
        uint8_t type = rd_u8(&r), flags = rd_u8(&r);
        rd_skip(&r, 4);
        if (flen > rd_left(&r))
            break;
        struct rd f = rd_sub(&r, flen);
        if (type != H2_HEADERS)
            continue;
        if (!h2_fragment(type, flags, &f))
            break;
        const uint8_t *in = f.p;
        size_t n = rd_left(&f);
        for (;;) {
            nghttp2_nv nv;
            int fl = 0;
            ssize_t used = nghttp2_hd_inflate_hd2(inf, &nv, &fl, in, n, 1);
            if (used < 0)
                break;
            in += used;
            n -= (size_t)used;
            if (fl & NGHTTP2_HD_INFLATE_EMIT) {
                if (nv.namelen == 7 && memcmp(nv.name, ":method", 7) == 0)
                    cap_safe_copy(method, sizeof method, nv.value, nv.valuelen);
                else if (nv.namelen == 5 && memcmp(nv.name, ":path", 5) == 0)
                    cap_safe_copy(path, sizeof path, nv.value, nv.valuelen);
            }
            if (fl & NGHTTP2_HD_INFLATE_FINAL) {
                nghttp2_hd_inflate_end_headers(inf);
                break;
            }
            if (n == 0 && !(fl & NGHTTP2_HD_INFLATE_EMIT))
                break;
        }
        done = true;            /* only the first block (a CONTINUATION is not awaited) */
    }
    nghttp2_hd_inflate_del(inf);
    if (!method[0] || !path[0])
        return false;
    snprintf(out, outlen, "%s %s", method, path);
    return true;
}
