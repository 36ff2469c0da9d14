/* http.c: an HTTP/1.x response head (its fields and error body read in
 * http_fields.c), an explicit proxy's CONNECT request, and the client's
 * first request line (HTTP/2's in http2.c).  */
#include <stdio.h>
#include <string.h>

#include "http_int.h"

/* Chunked transfer coding (RFC 9112 7.1): the first chunk's data. */
static struct rd first_chunk(struct rd body)
{
    struct rd line;
    if (!next_line(&body, &line))
        return rd_make(body.p, 0);
    size_t size = 0;
    while (rd_left(&line) > 0 && size < LIM_HTTP_BODY) {
        uint8_t h = lower(rd_u8(&line));
        if (h >= '0' && h <= '9')
            size = size * 16 + (size_t)(h - '0');
        else if (h >= 'a' && h <= 'f')
            size = size * 16 + (size_t)(h - 'a' + 10);
        else
            break;                  /* chunk extensions */
    }
    size_t left = rd_left(&body);
    return rd_sub(&body, size < left ? size : left);
}

enum cap_status cap_http_parse_response(const uint8_t *buf, size_t len, struct cap_http_resp *out)
{
    memset(out, 0, sizeof *out);
    /* The head is looked for only within LIM_HTTP_HEAD bytes. */
    size_t head_window = len < LIM_HTTP_HEAD ? len : LIM_HTTP_HEAD;
    struct rd r = rd_make(buf, head_window);
    struct rd line;

    /* RFC 9112 4: HTTP-version SP 3DIGIT SP [reason-phrase] CRLF. */
    static const char v10[] = "HTTP/1.0 ", v11[] = "HTTP/1.1 ";
    size_t vn = rd_left(&r) < 9 ? rd_left(&r) : 9;
    const uint8_t *ver = rd_bytes(&r, vn);
    if (vn == 0 || (memcmp(ver, v10, vn) != 0 && memcmp(ver, v11, vn) != 0))
        return CAP_INVALID;
    if (vn < 9)
        return CAP_TRUNCATED;
    if (!next_line(&r, &line))
        return len > head_window ? CAP_INVALID : CAP_TRUNCATED;
    int status = 0;
    for (int i = 0; i < 3; i++) {
        uint8_t d = rd_u8(&line);
        if (d < '0' || d > '9')
            return CAP_INVALID;
        status = status * 10 + (d - '0');
    }
    if (line.bad || (rd_left(&line) > 0 && rd_u8(&line) != ' '))
        return CAP_INVALID;
    out->status = status;
    cap_safe_copy(out->reason, sizeof out->reason, line.p, rd_left(&line));

    /* RFC 9112 5: field-name ":" OWS field-value OWS, up to an empty line. */
    bool chunked = false;
    for (;;) {
        if (!next_line(&r, &line))
            /* No end of head: cut by the capture, or longer than we read. */
            return len > head_window ? CAP_INVALID : CAP_TRUNCATED;
        if (rd_left(&line) == 0)
            break;
        const uint8_t *name = line.p;
        const uint8_t *colon = memchr(line.p, ':', rd_left(&line));
        if (colon == NULL || colon == name)
            continue;               /* obs-fold or junk: not needed */
        size_t name_len = (size_t)(colon - name);
        rd_skip(&line, name_len + 1);
        http_header_field(name, name_len, line, out, &chunked);
    }
    out->complete_head = true;

    size_t head_len = (size_t)(r.p - buf);
    out->head_len = (uint32_t)head_len;
    size_t body_len = len - head_len;
    struct rd body = rd_make(buf + head_len, body_len < LIM_HTTP_BODY ? body_len : LIM_HTTP_BODY);
    if (chunked)
        body = first_chunk(body);
    http_parse_error_body(body, out);
    return CAP_OK;
}

/* ---- CONNECT requests ------------------------------------------------------ */

static const char connect_method[] = "CONNECT ";

bool cap_http_is_connect(const uint8_t *buf, size_t len)
{
    size_t n = len < sizeof connect_method - 1 ? len : sizeof connect_method - 1;
    return n > 0 && memcmp(buf, connect_method, n) == 0;
}

enum cap_status cap_http_parse_connect(const uint8_t *buf, size_t len, struct cap_http_connect *out)
{
    memset(out, 0, sizeof *out);
    size_t window = len < LIM_HTTP_HEAD ? len : LIM_HTTP_HEAD;
    if (!cap_http_is_connect(buf, window))
        return CAP_INVALID;
    if (window < sizeof connect_method - 1)
        return CAP_TRUNCATED;
    struct rd r = rd_make(buf, window);
    struct rd line;
    /* The head ends at the first empty line (RFC 9112 2.1). */
    if (!next_line(&r, &line))
        return len > window ? CAP_INVALID : CAP_TRUNCATED;
    struct rd more = r, hl;
    for (;;) {
        if (!next_line(&more, &hl))
            return len > window ? CAP_INVALID : CAP_TRUNCATED;
        if (rd_left(&hl) == 0)
            break;
    }
    /* RFC 9112 3.2.3: request-target is the authority-form host:port;
     * an IPv6 literal is bracketed.  */
    rd_skip(&line, sizeof connect_method - 1);
    const uint8_t *target = line.p;
    while (peek(&line) > ' ')
        rd_skip(&line, 1);
    size_t tn = (size_t)(line.p - target);
    if (rd_u8(&line) != ' ' || rd_left(&line) < 8 || memcmp(line.p, "HTTP/1.", 7) != 0)
        return CAP_INVALID;
    const uint8_t *colon = NULL;
    for (size_t i = tn; i > 0; i--)
        if (target[i - 1] == ':') {
            colon = target + i - 1;
            break;
        }
    if (colon == NULL || colon == target || (size_t)(target + tn - colon) < 2 ||
        (size_t)(target + tn - colon) > 6)
        return CAP_INVALID;
    unsigned port = 0;
    for (const uint8_t *d = colon + 1; d < target + tn; d++) {
        if (*d < '0' || *d > '9')
            return CAP_INVALID;
        port = port * 10 + (unsigned)(*d - '0');
    }
    if (port == 0 || port > 65535)
        return CAP_INVALID;
    const uint8_t *h = target;
    size_t hn = (size_t)(colon - target);
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    uint8_t low[LIM_DNS_NAME];
    if (hn == 0 || hn >= sizeof low)
        return CAP_INVALID;
    for (size_t i = 0; i < hn; i++)
        low[i] = lower(h[i]);
    cap_safe_copy(out->host, sizeof out->host, low, hn);
    out->port = (uint16_t)port;
    out->head_len = (uint32_t)(more.p - buf);
    return CAP_OK;
}


/* ---- the client's first request ----------------------------------------------- */

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* Appends n bytes of a method or path to out as safe ASCII. */
static void request_part(char *out, size_t outlen, const uint8_t *p, size_t n)
{
    size_t at = strlen(out);
    if (at + 1 < outlen)
        cap_safe_copy(out + at, outlen - at, p, n);
}

bool cap_http_request_line(const uint8_t *buf, size_t len, char *out, size_t outlen)
{
    if (outlen == 0)
        return false;
    out[0] = '\0';
    size_t pl = sizeof h2_preface - 1;
    if (len >= pl && memcmp(buf, h2_preface, pl) == 0)
        return http2_request_line(buf, len, pl, out, outlen);
    /* RFC 9112 3: method SP request-target SP HTTP-version CRLF. */
    struct rd r = rd_make(buf, len < LIM_HTTP_HEAD ? len : LIM_HTTP_HEAD), line;
    if (!next_line(&r, &line))
        return false;
    const uint8_t *m = line.p;
    while (peek(&line) > ' ')
        rd_skip(&line, 1);
    size_t mn = (size_t)(line.p - m);
    if (mn == 0 || mn > 16 || rd_u8(&line) != ' ')
        return false;
    const uint8_t *t = line.p;
    while (peek(&line) > ' ')
        rd_skip(&line, 1);
    size_t tn = (size_t)(line.p - t);
    if (tn == 0 || rd_u8(&line) != ' ' || rd_left(&line) < 6 || memcmp(line.p, "HTTP/", 5) != 0)
        return false;
    request_part(out, outlen, m, mn);
    request_part(out, outlen, (const uint8_t *)" ", 1);
    request_part(out, outlen, t, tn < 96 ? tn : 96);
    return true;
}
