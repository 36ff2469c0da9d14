/* http.c: an HTTP/1.x response head and the registry error in its body. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "capture.h"
#include "rd.h"

/* Byte at the cursor without consuming it; -1 at the end. */
static int peek(const struct rd *r)
{
    return rd_left(r) > 0 ? *r->p : -1;
}

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

static bool eq_nocase(const uint8_t *a, size_t n, const char *b)
{
    if (strlen(b) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower((uint8_t)b[i]))
            return false;
    return true;
}

static void skip_ows(struct rd *r)
{
    while (peek(r) == ' ' || peek(r) == '\t')
        rd_skip(r, 1);
}

/* Next line of r (without its LF and an optional CR) as a sub-reader.
 * False when no LF is left: the line is not complete.  */
static bool next_line(struct rd *r, struct rd *line)
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

/* RFC 9110 11.6.1 / RFC 6750 3: Bearer realm="...", service="..."; a
 * quoted-string may hold \-escapes (RFC 9110 5.6.4).  */
static void parse_www_authenticate(struct rd v, struct cap_http_resp *out)
{
    const uint8_t *scheme = v.p;
    while (peek(&v) > ' ' && peek(&v) != ',')
        rd_skip(&v, 1);
    if (!eq_nocase(scheme, (size_t)(v.p - scheme), "Bearer"))
        return;
    while (rd_left(&v) > 0) {
        skip_ows(&v);
        while (peek(&v) == ',' || peek(&v) == ' ')
            rd_skip(&v, 1);
        const uint8_t *name = v.p;
        while (peek(&v) > ' ' && peek(&v) != '=' && peek(&v) != ',')
            rd_skip(&v, 1);
        size_t name_len = (size_t)(v.p - name);
        skip_ows(&v);
        if (peek(&v) != '=')
            return;                 /* a new challenge, or junk */
        rd_skip(&v, 1);
        skip_ows(&v);
        uint8_t value[256];
        size_t n = 0;
        if (peek(&v) == '"') {
            rd_skip(&v, 1);
            while (rd_left(&v) > 0 && peek(&v) != '"') {
                uint8_t c = rd_u8(&v);
                if (c == '\\' && rd_left(&v) > 0)
                    c = rd_u8(&v);
                if (n < sizeof value)
                    value[n++] = c;
            }
            rd_skip(&v, 1);         /* closing quote, if any */
        } else {
            while (peek(&v) > ' ' && peek(&v) != ',') {
                uint8_t c = rd_u8(&v);
                if (n < sizeof value)
                    value[n++] = c;
            }
        }
        if (eq_nocase(name, name_len, "realm") && !out->bearer_challenge) {
            cap_safe_copy(out->realm, sizeof out->realm, value, n);
            out->bearer_challenge = true;
        }
    }
}

/* Reads a JSON string at r (opening quote next) into buf, decoding \-escapes
 * (RFC 8259 7); \uXXXX becomes UTF-8, non-ASCII is escaped again later by
 * cap_safe_copy.  Returns false when the string does not end in r.  */
static bool json_string(struct rd *r, uint8_t *buf, size_t cap, size_t *len)
{
    *len = 0;
    if (rd_u8(r) != '"')
        return false;
    for (;;) {
        if (rd_left(r) == 0)
            return false;
        uint8_t c = rd_u8(r);
        uint32_t cp = c;
        if (c == '"')
            return true;
        if (c == '\\') {
            uint8_t e = rd_u8(r);
            switch (e) {
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u': {
                cp = 0;
                for (int i = 0; i < 4; i++) {
                    uint8_t h = lower(rd_u8(r));
                    if (h >= '0' && h <= '9')
                        cp = cp << 4 | (uint32_t)(h - '0');
                    else if (h >= 'a' && h <= 'f')
                        cp = cp << 4 | (uint32_t)(h - 'a' + 10);
                    else
                        return false;
                }
                break;
            }
            default: cp = e; break;     /* \" \\ \/ and anything else */
            }
            if (r->bad)
                return false;
        }
        /* UTF-8 of one UTF-16 unit; surrogates stay unpaired, which only
         * matters for display and is escaped there.  */
        uint8_t u[3];
        size_t un;
        if (cp < 0x80) {
            u[0] = (uint8_t)cp;
            un = 1;
        } else if (cp < 0x800) {
            u[0] = (uint8_t)(0xc0 | cp >> 6);
            u[1] = (uint8_t)(0x80 | (cp & 0x3f));
            un = 2;
        } else {
            u[0] = (uint8_t)(0xe0 | cp >> 12);
            u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
            u[2] = (uint8_t)(0x80 | (cp & 0x3f));
            un = 3;
        }
        if (*len + un <= cap) {
            memcpy(buf + *len, u, un);
            *len += un;
        }
    }
}

/* Skips one JSON value of any kind without recursion: brackets are counted,
 * strings stepped over.  Returns false when it does not end in r.  */
static bool json_skip_value(struct rd *r)
{
    uint8_t scratch[1];
    size_t n;
    unsigned depth = 0;
    do {
        skip_ows(r);
        int c = peek(r);
        if (c < 0)
            return false;
        if (c == '"') {
            if (!json_string(r, scratch, 0, &n))
                return false;
        } else if (c == '{' || c == '[') {
            depth++;
            rd_skip(r, 1);
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return true;        /* the end of the enclosing container */
            depth--;
            rd_skip(r, 1);
        } else if (c == ',' && depth == 0) {
            return true;
        } else {
            rd_skip(r, 1);
        }
    } while (depth > 0 || (peek(r) != ',' && peek(r) != '}' && peek(r) != ']'));
    return true;
}

static void skip_ws(struct rd *r)
{
    while (peek(r) == ' ' || peek(r) == '\t' || peek(r) == '\r' || peek(r) == '\n')
        rd_skip(r, 1);
}

/* An object member's name and the colon after it (RFC 8259 4), with the
 * whitespace around them; r is left at the value.  False when the object
 * does not go on with a member.  */
static bool json_member_name(struct rd *r, uint8_t *key, size_t cap, size_t *len)
{
    skip_ws(r);
    if (!json_string(r, key, cap, len))
        return false;
    skip_ws(r);
    if (rd_u8(r) != ':')
        return false;
    skip_ws(r);
    return true;
}

/* From "client with IP '<ip>' is not allowed access", the numeric IP. */
static void denied_ip(const uint8_t *msg, size_t n, struct cap_http_resp *out)
{
    static const char lead[] = "client with IP '";
    size_t ll = sizeof lead - 1;
    for (size_t i = 0; i + ll <= n; i++) {
        if (memcmp(msg + i, lead, ll) != 0)
            continue;
        const uint8_t *ip = msg + i + ll;
        const uint8_t *q = memchr(ip, '\'', n - i - ll);
        size_t iplen = q ? (size_t)(q - ip) : 0;
        char s[INET6_ADDRSTRLEN];
        if (iplen == 0 || iplen >= sizeof s)
            return;
        memcpy(s, ip, iplen);
        s[iplen] = '\0';
        uint8_t a[16];
        if (inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1)
            memcpy(out->denied_client_ip, s, iplen + 1);
        return;
    }
}

/* The registry error body (distribution spec): {"errors":[{"code":"X",
 * "message":"Y",...},...]}.  Only the first error is read; other members are
 * skipped at any position.  A body cut short keeps what was complete.  */
static void parse_error_body(struct rd r, struct cap_http_resp *out)
{
    skip_ws(&r);
    if (rd_u8(&r) != '{')
        return;
    for (;;) {
        uint8_t key[16];
        size_t kn;
        if (!json_member_name(&r, key, sizeof key, &kn))
            return;
        if (kn == 6 && memcmp(key, "errors", 6) == 0)
            break;
        if (!json_skip_value(&r))
            return;
        skip_ws(&r);
        if (rd_u8(&r) != ',')
            return;
    }
    if (rd_u8(&r) != '[')
        return;
    skip_ws(&r);
    if (rd_u8(&r) != '{')
        return;
    for (;;) {
        uint8_t key[16], val[512];
        size_t kn, vn;
        if (!json_member_name(&r, key, sizeof key, &kn))
            return;
        bool is_code = kn == 4 && memcmp(key, "code", 4) == 0;
        bool is_msg = kn == 7 && memcmp(key, "message", 7) == 0;
        if ((is_code || is_msg) && peek(&r) == '"') {
            if (!json_string(&r, val, sizeof val, &vn))
                return;
            if (is_code) {
                cap_safe_copy(out->error_code, sizeof out->error_code, val, vn);
            } else {
                cap_safe_copy(out->error_message, sizeof out->error_message, val, vn);
                denied_ip(val, vn, out);
            }
        } else if (!json_skip_value(&r)) {
            return;
        }
        skip_ws(&r);
        if (rd_u8(&r) != ',')
            return;
    }
}

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

static void header_field(const uint8_t *name, size_t name_len, struct rd line, struct cap_http_resp *out, bool *chunked);

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
        header_field(name, name_len, line, out, &chunked);
    }
    out->complete_head = true;

    size_t head_len = (size_t)(r.p - buf);
    out->head_len = (uint32_t)head_len;
    size_t body_len = len - head_len;
    struct rd body = rd_make(buf + head_len, body_len < LIM_HTTP_BODY ? body_len : LIM_HTTP_BODY);
    if (chunked)
        body = first_chunk(body);
    parse_error_body(body, out);
    return CAP_OK;
}

/* One header field of a response (HTTP/1.x or HTTP/2): the value with its
 * surrounding whitespace trimmed (RFC 9110 5.5).  */
static void header_field(const uint8_t *name, size_t name_len, struct rd line, struct cap_http_resp *out, bool *chunked)
{
        skip_ows(&line);
        while (line.end > line.p && (line.end[-1] == ' ' || line.end[-1] == '\t'))
            line.end--;
        if (eq_nocase(name, name_len, "Docker-Distribution-Api-Version"))
            out->has_docker_api_version = true;
        else if (eq_nocase(name, name_len, "X-Ms-Correlation-Request-Id"))
            out->has_ms_correlation = true;
        else if (eq_nocase(name, name_len, "WWW-Authenticate"))
            parse_www_authenticate(line, out);
        else if (eq_nocase(name, name_len, "Content-Type"))
            cap_safe_copy(out->content_type, sizeof out->content_type, line.p, rd_left(&line));
        else if (eq_nocase(name, name_len, "Proxy-Authenticate") && !out->proxy_authenticate[0])
            cap_safe_copy(out->proxy_authenticate, sizeof out->proxy_authenticate, line.p, rd_left(&line));
        else if (eq_nocase(name, name_len, "Via") && !out->via[0])
            cap_safe_copy(out->via, sizeof out->via, line.p, rd_left(&line));
        else if (eq_nocase(name, name_len, "Server") && !out->server[0])
            cap_safe_copy(out->server, sizeof out->server, line.p, rd_left(&line));
        else if (eq_nocase(name, name_len, "Content-Length") && !out->has_content_length) {
            uint64_t v = 0;
            size_t digits = 0;
            while (rd_left(&line) > 0 && peek(&line) >= '0' && peek(&line) <= '9' && digits < 15) {
                v = v * 10 + (uint64_t)(rd_u8(&line) - '0');
                digits++;
            }
            out->has_content_length = digits > 0 && rd_left(&line) == 0;
            out->content_length = out->has_content_length ? v : 0;
        } else if (eq_nocase(name, name_len, "Transfer-Encoding"))
            *chunked = rd_left(&line) >= 7 &&
                      eq_nocase(line.end - 7, 7, "chunked");
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

/* ---- HTTP/2 responses (RFC 9113) ------------------------------------------- */

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
                header_field(nv.name, nv.namelen, rd_make(nv.value, nv.valuelen), out, chunked);
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
        parse_error_body(rd_make(body, body_len), out);
    free(body);
    nghttp2_hd_inflate_del(inf);
    return st;
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
    if (len >= pl && memcmp(buf, h2_preface, pl) == 0) {
        /* RFC 9113 3.4, 8.3.1: the preface, then frames; the first
         * HEADERS block's :method and :path.  */
        nghttp2_hd_inflater *inf;
        if (nghttp2_hd_inflate_new(&inf) != 0)
            return false;
        char method[16] = "", path[96] = "";
        struct rd r = rd_make(buf + pl, len - pl);
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
