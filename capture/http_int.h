/* http_int.h: inside capture/ only: what HTTP/1.x (http.c) and HTTP/2
 * (http2.c) share: the line and byte helpers, and one response header
 * field or error body to facts (http_fields.c).  */
#ifndef ACRDIAG_HTTP_INT_H
#define ACRDIAG_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capture.h"
#include "rd.h"

/* Byte at the cursor without consuming it; -1 at the end. */
static inline int peek(const struct rd *r)
{
    return rd_left(r) > 0 ? *r->p : -1;
}

static inline uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

static inline bool eq_nocase(const uint8_t *a, size_t n, const char *b)
{
    if (strlen(b) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower((uint8_t)b[i]))
            return false;
    return true;
}

static inline void skip_ows(struct rd *r)
{
    while (peek(r) == ' ' || peek(r) == '\t')
        rd_skip(r, 1);
}

/* Next line of r (without its LF and an optional CR) as a sub-reader.
 * False when no LF is left: the line is not complete.  */
static inline bool next_line(struct rd *r, struct rd *line)
{
    size_t left = rd_left(r);
    const uint8_t *lf = left ? memchr(r->p, '\n', left) : NULL;
    if (lf == NULL)
        return false;
    size_t n = (size_t)(lf - r->p);
    *line = rd_sub(r, n);
    rd_skip(r, 1);
    if (n > 0 && line->end[-1] == '\r')
        line->end--;
    return true;
}

/* One header field of a response (HTTP/1.x or HTTP/2): the value with its
 * surrounding whitespace trimmed (RFC 9110 5.5).  */
void http_header_field(const uint8_t *name, size_t name_len, struct rd line, struct cap_http_resp *out,
                       bool *chunked);

/* The registry error body (distribution spec): {"errors":[{"code":"X",
 * "message":"Y",...},...]}.  Only the first error is read; other members are
 * skipped at any position.  A body cut short keeps what was complete.  */
void http_parse_error_body(struct rd r, struct cap_http_resp *out);

/* The first HEADERS block's :method and :path of an HTTP/2 client stream
 * whose connection preface (pre_len bytes) starts buf, as "METHOD path".  */
bool http2_request_line(const uint8_t *buf, size_t len, size_t pre_len, char *out, size_t outlen);

#endif
