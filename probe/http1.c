/* http1.c: one HTTPS exchange of the push check on a fresh connection:
 * non-blocking connect, TLS, one HTTP/1.1 request with Connection: close,
 * the answer read within the deadline and PUSH_BODY_MAX bytes.  The
 * capture is pumped while it waits, so its packets are evidence too.  */
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "push.h"

#define MS 1000000LL

struct xfer {
    struct probe_ctx *p;
    int fd;
    SSL *ssl;
    int64_t deadline_ns;
};

/* Waits for `events` on the socket until the deadline; false at it. */
static bool wait_fd(struct xfer *x, short events)
{
    for (unsigned turn = 0; turn < 1000000; turn++) {
        int64_t now = probe_now_ns();
        if (now >= x->deadline_ns)
            return false;
        struct pollfd pf[2] = { { .fd = x->fd, .events = events } };
        nfds_t n = 1;
        if (x->p->live) {
            pf[1].fd = cap_live_fd(x->p->live);
            pf[1].events = POLLIN;
            n = 2;
        }
        int64_t left = (x->deadline_ns - now) / MS + 1;
        int rc = poll(pf, n, left < 20 ? (int)left : 20);
        probe_pump_capture(x->p);
        if (rc > 0 && pf[0].revents)
            return true;
    }
    return false;
}

/* What SSL_get_error asks for next, as poll events; 0: a real failure. */
static short ssl_wants(SSL *ssl, int ret)
{
    int e = SSL_get_error(ssl, ret);
    if (e == SSL_ERROR_WANT_READ)
        return POLLIN;
    if (e == SSL_ERROR_WANT_WRITE)
        return POLLOUT;
    return 0;
}

static bool do_connect(struct xfer *x, const struct push_request *rq, struct push_http *out)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    if (rq->addr->family == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(rq->port);
        memcpy(&s4->sin_addr, rq->addr->a, 4);
        sl = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(rq->port);
        memcpy(&s6->sin6_addr, rq->addr->a, 16);
        sl = sizeof(*s6);
    }
    x->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (x->fd < 0) {
        out->err = errno;
        return false;
    }
    if (connect(x->fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
        out->err = errno;
        return false;
    }
    if (!wait_fd(x, POLLOUT)) {
        out->err = ETIMEDOUT;
        out->timed_out = true;
        return false;
    }
    int soerr = 0;
    socklen_t el = sizeof(soerr);
    if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &soerr, &el) != 0)
        soerr = errno;
    if (soerr) {
        out->err = soerr;
        return false;
    }
    out->connected = true;
    return true;
}

/* Through an explicit proxy: CONNECT host:PROBE_PORT_TLS (with Proxy-Authorization
 * from the proxy URL, as Go's Transport sends it), and a 2xx reply head
 * within PROXY_REPLY_MAX bytes, read byte by byte so no TLS byte is eaten. */
static bool do_tunnel(struct xfer *x, const struct push_request *rq, struct push_http *out)
{
    char auth[400] = "", req[LIM_DNS_NAME * 2 + 600];
    const struct proxy_url *px = rq->proxy;
    size_t cl = strlen(px->credentials);
    if (px->has_credentials && 4 * ((cl + 2) / 3) < sizeof(auth))
        EVP_EncodeBlock((unsigned char *)auth, (const unsigned char *)px->credentials, (int)cl);
    int n = snprintf(req, sizeof(req), "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: acrdiag/" ACRDIAG_VERSION
                     "\r\n%s%s%s\r\n", rq->host, PROBE_PORT_TLS, rq->host, PROBE_PORT_TLS,
                     auth[0] ? "Proxy-Authorization: Basic " : "", auth, auth[0] ? "\r\n" : "");
    OPENSSL_cleanse(auth, sizeof(auth));
    bool sent = n > 0 && (size_t)n < sizeof(req);
    for (size_t off = 0; sent && off < (size_t)n;) {
        ssize_t w = send(x->fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        else if (!(w < 0 && (errno == EAGAIN || errno == EINTR)) || !wait_fd(x, POLLOUT))
            sent = false;
    }
    OPENSSL_cleanse(req, sizeof(req));
    if (!sent) {
        out->timed_out = probe_now_ns() >= x->deadline_ns;
        out->err = out->timed_out ? 0 : errno;
        return false;
    }
    uint8_t head[PROXY_REPLY_MAX];
    size_t have = 0;
    while (have < sizeof(head) && !(have >= 4 && memcmp(head + have - 4, "\r\n\r\n", 4) == 0)) {
        ssize_t r = recv(x->fd, head + have, 1, 0);
        if (r == 1) {
            have++;
        } else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(x, POLLIN)) {
                out->timed_out = true;
                return false;
            }
        } else {
            out->err = r == 0 ? ECONNRESET : errno;
            return false;
        }
    }
    struct cap_http_resp r;
    out->proxy_status = cap_http_parse_response(head, have, &r) == CAP_OK ? r.status : -1;
    return out->proxy_status >= 200 && out->proxy_status < 300;
}

static bool do_tls(struct xfer *x, const struct push_request *rq, struct push_http *out)
{
    x->ssl = SSL_new(x->p->cfg.creds->tls);
    if (!x->ssl) {
        snprintf(out->tls_detail, sizeof(out->tls_detail), "SSL_new failed");
        return false;
    }
    char sni[LIM_DNS_NAME];
    snprintf(sni, sizeof(sni), "%s", rq->host);
    SSL_set_tlsext_host_name(x->ssl, sni);
    SSL_set1_host(x->ssl, rq->host);
    SSL_set_fd(x->ssl, x->fd);
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int rc = SSL_connect(x->ssl);
        if (rc == 1)
            break;
        short ev = ssl_wants(x->ssl, rc);
        if (!ev) {
            unsigned long q = ERR_peek_error();
            if (q) {
                char buf[120];
                ERR_error_string_n(q, buf, sizeof(buf));
                cap_safe_copy(out->tls_detail, sizeof(out->tls_detail), (const uint8_t *)buf, strlen(buf));
            } else {
                snprintf(out->tls_detail, sizeof(out->tls_detail), "%s",
                         errno ? strerror(errno) : "the peer closed the connection during the handshake");
            }
            ERR_clear_error();
            return false;
        }
        if (!wait_fd(x, ev)) {
            out->timed_out = true;
            snprintf(out->tls_detail, sizeof(out->tls_detail), "no handshake answer before the deadline");
            return false;
        }
    }
    out->verify = SSL_get_verify_result(x->ssl);
    out->tls_ok = true;
    return true;
}

static bool send_all(struct xfer *x, const uint8_t *b, size_t n, struct push_http *out)
{
    size_t sent = 0;
    while (sent < n) {
        ERR_clear_error();
        size_t chunk = n - sent < 16384 ? n - sent : 16384;
        int w = SSL_write(x->ssl, b + sent, (int)chunk);
        if (w > 0) {
            sent += (size_t)w;
            continue;
        }
        short ev = ssl_wants(x->ssl, w);
        ERR_clear_error();
        if (!ev) {
            out->err = errno ? errno : ECONNRESET;
            return false;
        }
        if (!wait_fd(x, ev)) {
            out->timed_out = true;
            return false;
        }
    }
    return true;
}

/* A header's value from a complete head (name without the colon), trimmed;
 * bytes outside printable ASCII make it unusable: "" is stored.  */
static void header_value(const uint8_t *head, size_t len, const char *name, char *out, size_t outlen)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    const uint8_t *p = head, *end = head + len;
    /* Skip the status line; then one field per line. */
    const uint8_t *eol = memchr(p, '\n', len);
    while (eol && eol + 1 < end) {
        p = eol + 1;
        eol = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *le = eol ? eol : end;
        if ((size_t)(le - p) > nl && p[nl] == ':' && strncasecmp((const char *)p, name, nl) == 0) {
            const uint8_t *v = p + nl + 1, *ve = le;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            size_t n = (size_t)(ve - v);
            if (n + 1 > outlen)
                return;
            for (size_t i = 0; i < n; i++)
                if (v[i] < 0x20 || v[i] > 0x7e)
                    return;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
    }
}

static const uint8_t *head_end(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++)
        if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n')
            return b + i + 4;
    return NULL;
}

/* Reads the answer: the head whole, PUSH_BODY_KEEP bytes of body kept, the
 * rest counted until the end of the body, the close, PUSH_BODY_MAX or the
 * deadline.  */
static void read_answer(struct xfer *x, struct push_http *out)
{
    size_t cap = LIM_HTTP_HEAD + PUSH_BODY_KEEP;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return;
    size_t have = 0, head_len = 0;
    uint64_t dropped = 0;
    bool have_cl = false;
    uint64_t cl = 0;
    for (;;) {
        uint8_t sink[16384];
        bool into_buf = have < cap;
        uint8_t *dst = into_buf ? buf + have : sink;
        size_t room = into_buf ? cap - have : sizeof(sink);
        ERR_clear_error();
        int n = SSL_read(x->ssl, dst, (int)(room < 16384 ? room : 16384));
        if (n > 0) {
            out->answered = true;
            if (into_buf)
                have += (size_t)n;
            else
                dropped += (uint64_t)n;
            if (!head_len) {
                const uint8_t *he = head_end(buf, have < LIM_HTTP_HEAD ? have : LIM_HTTP_HEAD);
                if (he) {
                    head_len = (size_t)(he - buf);
                    struct cap_http_resp r;
                    if (cap_http_parse_response(buf, head_len, &r) == CAP_OK && r.has_content_length) {
                        have_cl = true;
                        cl = r.content_length;
                    }
                } else if (have >= LIM_HTTP_HEAD) {
                    break;          /* a head longer than any registry's */
                }
            }
            uint64_t body = head_len ? (uint64_t)(have - head_len) + dropped : 0;
            if (head_len && have_cl && body >= cl)
                break;
            if (body > PUSH_BODY_MAX) {
                out->body_cut = true;
                break;
            }
            continue;
        }
        short ev = ssl_wants(x->ssl, n);
        ERR_clear_error();
        if (!ev)
            break;                  /* closed: the answer is whole */
        if (!wait_fd(x, ev)) {
            if (out->answered)
                out->body_cut = true;
            else
                out->timed_out = true;
            break;
        }
    }
    if (out->answered) {
        cap_http_parse_response(buf, have, &out->resp);
        size_t hl = head_len ? head_len : have;
        header_value(buf, hl, "Location", out->location, sizeof(out->location));
        header_value(buf, hl, "WWW-Authenticate", out->www_authenticate, sizeof(out->www_authenticate));
        header_value(buf, hl, "X-Ms-Correlation-Request-Id", out->correlation, sizeof(out->correlation));
        header_value(buf, hl, "Docker-Distribution-Api-Version", out->api_version, sizeof(out->api_version));
        header_value(buf, hl, "Content-Type", out->content_type, sizeof(out->content_type));
        if (head_len) {
            out->body_len = have - head_len;
            out->body_total = out->body_len + dropped;
            out->body = malloc(out->body_len + 1);
            if (out->body) {
                memcpy(out->body, buf + head_len, out->body_len);
                out->body[out->body_len] = 0;
            }
        }
    }
    free(buf);
}

bool push_http_do(struct probe_ctx *p, const struct push_request *rq, struct push_http *out)
{
    memset(out, 0, sizeof(*out));
    out->verify = -1;
    int64_t started = probe_now_ns();
    struct xfer x = { .p = p, .fd = -1, .deadline_ns = rq->deadline_ns };
    /* Room for the longest Authorization: Basic of a user and an 8 KiB
     * password is 4/3 of them; twice the secret covers it.  */
    size_t hcap = PUSH_URL_MAX + 2 * PUSH_SECRET_MAX + 1024;
    char *head = malloc(hcap);
    if (!head)
        return false;
    if (do_connect(&x, rq, out) && (!rq->proxy || do_tunnel(&x, rq, out)) && do_tls(&x, rq, out)) {
        int n = snprintf(head, hcap,
                         "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: acrdiag/" ACRDIAG_VERSION
                         "\r\nAccept: application/json\r\nConnection: close\r\n%s%s%s%s%s%sContent-Length: %zu\r\n\r\n",
                         rq->method, rq->path_query, rq->host, rq->authorization ? "Authorization: " : "",
                         rq->authorization ? rq->authorization : "", rq->authorization ? "\r\n" : "",
                         rq->content_type ? "Content-Type: " : "", rq->content_type ? rq->content_type : "",
                         rq->content_type ? "\r\n" : "", rq->body_len);
        bool ok = n > 0 && (size_t)n < hcap && send_all(&x, (const uint8_t *)head, (size_t)n, out) &&
                  (rq->body_len == 0 || send_all(&x, rq->body, rq->body_len, out));
        /* The request held the credentials: gone before anything else runs. */
        OPENSSL_cleanse(head, hcap);
        if (ok)
            read_answer(&x, out);
    }
    OPENSSL_cleanse(head, hcap);
    free(head);
    if (x.ssl) {
        if (out->tls_ok)
            SSL_shutdown(x.ssl);
        SSL_free(x.ssl);
    }
    if (x.fd >= 0)
        close(x.fd);
    out->ms = (probe_now_ns() - started) / MS;
    return true;
}

void push_http_free(struct push_http *h)
{
    free(h->body);
    h->body = NULL;
}
