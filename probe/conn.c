/* conn.c: one probe step on one non-blocking socket: TCP connect, TLS
 * through OpenSSL, GET /v2/; and ICMP echo requests.  Every step ends by
 * its deadline; the verdicts come from the capture and the facts kept.  */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/icmp6.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe_int.h"

/* A GREASE extension type (RFC 8701 section 3): servers must ignore it, so
 * it can pad the ClientHello past the path MTU without changing meaning. */
#define PAD_EXT_TYPE 0x2a2a
#define PAD_EXT_LEN 1500

/* How long a completed TLS 1.3 handshake waits for the server's session
 * tickets, so the capture shows the handshake finished from both sides. */
#define TICKET_WAIT_NS (200LL * 1000000LL)

static const unsigned char alpn_http11[] = "\x08http/1.1";

static int pad_add(SSL *s, unsigned int ext_type, unsigned int context, const unsigned char **out,
                   size_t *outlen, X509 *x, size_t chainidx, int *al, void *add_arg)
{
    (void)s, (void)ext_type, (void)context, (void)x, (void)chainidx, (void)al, (void)add_arg;
    static const unsigned char zeros[PAD_EXT_LEN];
    *out = zeros;
    *outlen = sizeof(zeros);
    return 1;
}

static SSL_CTX *new_ctx(const char *cacert, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "TLS: cannot create a context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* The handshake must complete whatever the chain, so the report can
     * say who answered; the verification result is read afterwards.  */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_alpn_protos(ctx, alpn_http11, sizeof(alpn_http11) - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* A server that closes without close_notify ends the answer; OpenSSL 3
     * would otherwise answer the EOF with a fatal decode_error alert, which
     * the -w file (decrypted with its keys) shows as the probe's fault.  */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (SSL_CTX_set_default_verify_paths(ctx) != 1)
        ERR_clear_error();
    if (cacert && SSL_CTX_load_verify_locations(ctx, cacert, NULL) != 1) {
        snprintf(err, errlen, "--cacert %s: not a readable PEM certificate file", cacert);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

bool probe_tls_open(struct probe_ctx *p, char *err, size_t errlen)
{
    p->tls = new_ctx(p->cfg.cacert, err, errlen);
    if (!p->tls)
        return false;
    p->tls_pad = new_ctx(p->cfg.cacert, err, errlen);
    if (!p->tls_pad)
        return false;
    if (SSL_CTX_add_custom_ext(p->tls_pad, PAD_EXT_TYPE, SSL_EXT_CLIENT_HELLO, pad_add, NULL, NULL, NULL,
                               NULL) != 1) {
        snprintf(err, errlen, "TLS: cannot add the padding extension");
        return false;
    }
    return true;
}

void probe_tls_close(struct probe_ctx *p)
{
    SSL_CTX_free(p->tls);
    SSL_CTX_free(p->tls_pad);
    p->tls = p->tls_pad = NULL;
}

const char *probe_kind_name(enum probe_kind k)
{
    switch (k) {
    case PK_REGISTRY: return "registry";
    case PK_TLS12: return "tls12";
    case PK_CONTROL_SNI: return "control_sni";
    case PK_TCP: return "tcp";
    case PK_MTU: return "mtu";
    case PK_TTL: return "ttl";
    }
    return "?";
}

static socklen_t to_sockaddr(const struct cap_addr *a, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        memcpy(&s4->sin_addr, a->a, 4);
        return sizeof(*s4);
    }
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    memcpy(&s6->sin6_addr, a->a, 16);
    return sizeof(*s6);
}

static void set_done(struct probe_conn *c)
{
    c->state = PS_DONE;
}

void probe_conn_start(struct probe_ctx *p, struct probe_conn *c, int64_t now)
{
    c->started_ns = now;
    c->fd = -1;
    c->verify = -1;
    int fam = c->addr.family == 4 ? AF_INET : AF_INET6;
    c->fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->err = errno;
        c->local_err = true;
        set_done(c);
        return;
    }
    if (c->kind == PK_TTL) {
        int ttl = c->ttl;
        if (fam == AF_INET)
            setsockopt(c->fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
        else
            setsockopt(c->fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl));
    }
    if (c->kind == PK_MTU) {
        /* DF on every segment, and no falling back to smaller ones: a path
         * that drops full-size packets must show it (RFC 1191).  */
        int v = IP_PMTUDISC_DO;
        if (fam == AF_INET)
            setsockopt(c->fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v));
        else {
            v = IPV6_PMTUDISC_DO;
            setsockopt(c->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof(v));
        }
    }
    if (c->kind == PK_REGISTRY || c->kind == PK_TLS12 || c->kind == PK_CONTROL_SNI || c->kind == PK_MTU) {
        c->ssl = SSL_new(c->kind == PK_MTU ? p->tls_pad : p->tls);
        if (!c->ssl) {
            c->tls_end = PT_ERROR;
            snprintf(c->tls_detail, sizeof(c->tls_detail), "SSL_new failed");
            set_done(c);
            return;
        }
        /* SSL_set_tlsext_host_name casts its argument to void * (clang's
         * -Wcast-qual stops a const one): the same call, with a copy.  */
        char sni[LIM_DNS_NAME];
        snprintf(sni, sizeof(sni), "%s", c->sni);
        SSL_set_tlsext_host_name(c->ssl, sni);
        SSL_set1_host(c->ssl, c->sni);
        if (c->kind == PK_TLS12)
            SSL_set_max_proto_version(c->ssl, TLS1_2_VERSION);
        SSL_set_fd(c->ssl, c->fd);
    }
    struct sockaddr_storage ss;
    socklen_t sl = to_sockaddr(&c->addr, c->port, &ss);
    if (connect(c->fd, (struct sockaddr *)&ss, sl) == 0 || errno == EINPROGRESS) {
        c->state = PS_CONNECTING;
        return;
    }
    /* Refused before anything left this host: no route, or a local
     * firewall (EPERM).  */
    c->err = errno;
    c->local_err = true;
    set_done(c);
}

short probe_conn_events(const struct probe_conn *c)
{
    switch (c->state) {
    case PS_CONNECTING: return POLLOUT;
    case PS_PROXY_SEND: return POLLOUT;
    case PS_PROXY_READ: return POLLIN;
    case PS_TLS:
    case PS_HTTP_SEND:
    case PS_HTTP_READ:
        if (c->ssl && SSL_want_write(c->ssl))
            return POLLOUT;
        return POLLIN;
    case PS_DONE: break;
    }
    return 0;
}

static void x509_field(X509_NAME *n, int nid, char *out, size_t len)
{
    char raw[256];
    out[0] = '\0';
    int got = n ? X509_NAME_get_text_by_NID(n, nid, raw, sizeof(raw)) : -1;
    if (got > 0)
        cap_safe_copy(out, len, (const uint8_t *)raw, (size_t)got < sizeof(raw) ? (size_t)got : sizeof(raw) - 1);
}

static void take_certificate(struct probe_conn *c)
{
    X509 *leaf = SSL_get0_peer_certificate(c->ssl);
    if (!leaf)
        return;
    x509_field(X509_get_subject_name(leaf), NID_commonName, c->subject_cn, sizeof(c->subject_cn));
    x509_field(X509_get_issuer_name(leaf), NID_commonName, c->issuer_cn, sizeof(c->issuer_cn));
    x509_field(X509_get_issuer_name(leaf), NID_organizationName, c->issuer_o, sizeof(c->issuer_o));
    c->verify = SSL_get_verify_result(c->ssl);
}

static const char http_request_fmt[] =
    "GET /v2/ HTTP/1.1\r\nHost: %s\r\nUser-Agent: acrdiag/" ACRDIAG_VERSION
    "\r\nAccept: application/json\r\nConnection: close\r\n\r\n";

/* The handshake ended without success: which way, in the client's words. */
static void tls_failed(struct probe_conn *c, int ret)
{
    int e = SSL_get_error(c->ssl, ret);
    unsigned long q = ERR_peek_error();
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && q == 0 && (ret == 0 || errno == 0))) {
        c->tls_end = PT_EOF;
        snprintf(c->tls_detail, sizeof(c->tls_detail), "the peer closed the connection during the handshake");
    } else if (e == SSL_ERROR_SYSCALL && errno == ECONNRESET) {
        c->tls_end = PT_RESET;
        snprintf(c->tls_detail, sizeof(c->tls_detail), "connection reset during the handshake");
    } else if (e == SSL_ERROR_SYSCALL) {
        c->tls_end = PT_ERROR;
        c->err = errno;
        snprintf(c->tls_detail, sizeof(c->tls_detail), "%s", strerror(errno));
    } else {
        char buf[120];
        ERR_error_string_n(q, buf, sizeof(buf));
        c->tls_end = ERR_GET_REASON(q) >= SSL_AD_REASON_OFFSET ? PT_ALERT : PT_ERROR;
        cap_safe_copy(c->tls_detail, sizeof(c->tls_detail), (const uint8_t *)buf, strlen(buf));
    }
    ERR_clear_error();
    take_certificate(c);
    set_done(c);
}

static void after_handshake(struct probe_conn *c, int64_t now)
{
    c->tls_end = PT_OK;
    snprintf(c->tls_version, sizeof(c->tls_version), "%s", SSL_get_version(c->ssl));
    take_certificate(c);
    if (c->kind == PK_REGISTRY) {
        c->http = malloc(PROBE_HTTP_MAX);
        if (!c->http) {
            set_done(c);
            return;
        }
        int n = snprintf((char *)c->http, PROBE_HTTP_MAX, http_request_fmt, c->sni);
        c->http_len = n > 0 && (size_t)n < PROBE_HTTP_MAX ? (size_t)n : 0;
        c->http_sent = 0;
        c->state = PS_HTTP_SEND;
    } else if (SSL_version(c->ssl) >= TLS1_3_VERSION) {
        /* Wait briefly for the session tickets (see TICKET_WAIT_NS). */
        c->state = PS_HTTP_READ;
        if (c->deadline_ns > now + TICKET_WAIT_NS)
            c->deadline_ns = now + TICKET_WAIT_NS;
    } else {
        set_done(c);
    }
}

static void http_send(struct probe_conn *c)
{
    while (c->http_sent < c->http_len) {
        int n = SSL_write(c->ssl, c->http + c->http_sent, (int)(c->http_len - c->http_sent));
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            ERR_clear_error();
            set_done(c);
            return;
        }
        c->http_sent += (size_t)n;
    }
    c->http_len = 0;
    c->state = PS_HTTP_READ;
}

static void http_read(struct probe_conn *c)
{
    /* Bounded: the buffer fills, or 64 reads of dropped bytes per wakeup. */
    for (unsigned i = 0; i < 64; i++) {
        if (c->kind != PK_REGISTRY) {
            /* Only the session tickets were awaited: read and drop; once one
             * was processed the session is resumable and the server's side
             * of the handshake is on the wire.  */
            unsigned char sink[512];
            int n = SSL_read(c->ssl, sink, sizeof(sink));
            if (n > 0)
                continue;
            int e = SSL_get_error(c->ssl, n);
            ERR_clear_error();
            const SSL_SESSION *sess = SSL_get0_session(c->ssl);
            if (e != SSL_ERROR_WANT_READ || (sess && SSL_SESSION_is_resumable(sess)))
                set_done(c);
            return;
        }
        size_t room = PROBE_HTTP_MAX - c->http_len;
        if (room == 0) {
            set_done(c);
            return;
        }
        int n = SSL_read(c->ssl, c->http + c->http_len, (int)room);
        if (n > 0) {
            c->http_len += (size_t)n;
            c->http_answered = true;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        ERR_clear_error();
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return;
        set_done(c);        /* the server closed: the answer is whole */
        return;
    }
}

static void do_tls(struct probe_conn *c, int64_t now)
{
    if (c->state == PS_TLS) {
        ERR_clear_error();
        errno = 0;
        int rc = SSL_connect(c->ssl);
        if (rc == 1) {
            after_handshake(c, now);
        } else {
            int e = SSL_get_error(c->ssl, rc);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                tls_failed(c, rc);
            return;
        }
    }
    if (c->state == PS_HTTP_SEND)
        http_send(c);
    if (c->state == PS_HTTP_READ)
        http_read(c);
}

static void on_timeout(struct probe_conn *c)
{
    switch (c->state) {
    case PS_CONNECTING:
        c->err = ETIMEDOUT;
        break;
    case PS_TLS:
        c->tls_end = PT_TIMEOUT;
        snprintf(c->tls_detail, sizeof(c->tls_detail), "no handshake answer before the deadline");
        if (c->ssl)
            take_certificate(c);
        break;
    case PS_PROXY_SEND:
    case PS_PROXY_READ:
        probe_proxy_timeout(c, probe_now_ns());
        break;
    case PS_HTTP_SEND:
    case PS_HTTP_READ:
    case PS_DONE:
        break;
    }
    set_done(c);
}

void probe_conn_step(struct probe_conn *c, short revents, int64_t now)
{
    if (c->state == PS_DONE)
        return;
    if (c->state == PS_CONNECTING && revents) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            soerr = errno;
        if (soerr == EINPROGRESS || soerr == EALREADY)
            return;
        if (soerr) {
            c->err = soerr;
            set_done(c);
            return;
        }
        c->connected = true;
        c->connected_ns = now;
        if (!c->ssl) {
            set_done(c);
            return;
        }
        /* Through a proxy, the CONNECT comes first (proxy.c). */
        c->state = c->tunnel.via ? PS_PROXY_SEND : PS_TLS;
    }
    if ((c->state == PS_PROXY_SEND || c->state == PS_PROXY_READ) && revents)
        probe_proxy_step(c, now);
    if (c->state != PS_CONNECTING && c->state != PS_DONE && (revents || c->state == PS_TLS))
        do_tls(c, now);
    if (c->state != PS_DONE && now >= c->deadline_ns)
        on_timeout(c);
}

void probe_conn_finish(struct probe_conn *c)
{
    if (c->http && c->kind == PK_REGISTRY && c->http_answered)
        cap_http_parse_response(c->http, c->http_len, &c->resp);
    free(c->http);
    c->http = NULL;
    probe_proxy_finish(c);
    if (c->ssl) {
        if (c->tls_end == PT_OK)
            SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* ---- ICMP echo ----------------------------------------------------------- */

void probe_icmp_open(struct probe_ctx *p)
{
    /* Raw sockets need CAP_NET_RAW; "ping" datagram sockets work without
     * it where net.ipv4.ping_group_range allows.  */
    p->icmp4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    p->icmp6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
    p->icmp_raw = p->icmp4 >= 0;
    if (p->icmp4 < 0)
        p->icmp4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (p->icmp6 < 0)
        p->icmp6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMPV6);
    /* Replies are read from the capture; keep the sockets' queues empty. */
    int zero = 0;
    if (p->icmp6 >= 0) {
        struct icmp6_filter f;
        ICMP6_FILTER_SETBLOCKALL(&f);
        setsockopt(p->icmp6, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f));
    }
    if (p->icmp4 >= 0 && p->icmp_raw)
        setsockopt(p->icmp4, SOL_SOCKET, SO_RCVBUF, &zero, sizeof(zero));
}

static uint16_t inet_csum(const uint8_t *b, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)b[i] << 8 | b[i + 1];
    if (n & 1)
        s += (uint32_t)b[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

bool probe_icmp_echo(struct probe_ctx *p, const struct cap_addr *a, uint16_t id, uint16_t seq)
{
    int fd = a->family == 4 ? p->icmp4 : p->icmp6;
    if (fd < 0)
        return false;
    uint8_t pkt[8 + 16] = { 0 };
    pkt[0] = a->family == 4 ? 8 : 128;     /* echo request (RFC 792, RFC 4443 4.1) */
    pkt[4] = (uint8_t)(id >> 8);
    pkt[5] = (uint8_t)id;
    pkt[6] = (uint8_t)(seq >> 8);
    pkt[7] = (uint8_t)seq;
    memcpy(pkt + 8, "acrdiag probe   ", 16);
    if (a->family == 4) {
        uint16_t c = inet_csum(pkt, sizeof(pkt));
        pkt[2] = (uint8_t)(c >> 8);
        pkt[3] = (uint8_t)c;
    }
    struct sockaddr_storage ss;
    socklen_t sl = to_sockaddr(a, 0, &ss);
    return sendto(fd, pkt, sizeof(pkt), MSG_DONTWAIT, (struct sockaddr *)&ss, sl) == (ssize_t)sizeof(pkt);
}
