/* http_fields.c: the response header fields acrdiag reads (a Bearer
 * challenge, a proxy's names, Content-Length, chunking) and the registry
 * error in a body, for HTTP/1.x and HTTP/2 alike.  */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "http_int.h"

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

void http_parse_error_body(struct rd r, struct cap_http_resp *out)
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

void http_header_field(const uint8_t *name, size_t name_len, struct rd line, struct cap_http_resp *out, bool *chunked)
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
