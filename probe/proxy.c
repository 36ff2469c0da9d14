/* proxy.c: the probe through an explicit proxy, as docker push goes: TCP to
 * the proxy, `CONNECT name:443` (with Proxy-Authorization when the URL has
 * credentials, as Go's Transport sends it), the proxy's reply, then TLS and
 * GET /v2/ through the tunnel (conn.c, the certificate checked as for a
 * direct step).  The facts say where each setting came from, which one
 * applies to each name, and what the proxy answered; the URL's credentials
 * never appear in them.  */
#include <errno.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "probe_int.h"

#define MS (1000000LL)
/* The proxy's address: at most this share of the run's budget. */
#define RESOLVE_SHARE 0.3

static const char connect_fmt[] = "CONNECT %s:%u HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: acrdiag/" ACRDIAG_VERSION
                                   "\r\n%s%s%s\r\n";

/* The proxy the probe uses (every routed name has the same source). */
static const struct proxy_url *probe_proxy(const struct probe_cfg *cfg)
{
    for (unsigned i = 0; i < cfg->n_names; i++)
        if (cfg->routes[i].source >= 0)
            return &cfg->proxy.src[cfg->routes[i].source].url;
    return NULL;
}

bool probe_proxy_routed(const struct probe_cfg *cfg, unsigned i)
{
    return i < cfg->n_names && cfg->routes[i].source >= 0 && cfg->proxy.src[cfg->routes[i].source].url.usable;
}

bool probe_proxy_setup(struct probe_cfg *cfg, char *err, size_t errlen)
{
    struct proxy_setting *opt = &cfg->proxy.src[PXS_OPTION];
    if (opt->has_proxy && !opt->url.usable) {
        snprintf(err, errlen, "--proxy wants http://[user:password@]host[:port]: %s", opt->url.problem);
        return false;
    }
    proxy_cfg_read(&cfg->proxy, cfg->config_root);
    for (unsigned i = 0; i < cfg->n_names; i++)
        proxy_route_for(&cfg->proxy, cfg->names[i], PROBE_PORT_TLS, &cfg->routes[i]);
    return true;
}

void probe_proxy_plan_print(const struct probe_cfg *cfg)
{
    for (unsigned i = 0; i < cfg->n_names; i++) {
        const struct proxy_route *r = &cfg->routes[i];
        if (r->source < 0) {
            printf("%s: direct (%s)\n", cfg->names[i], r->why);
            continue;
        }
        const struct proxy_url *u = &cfg->proxy.src[r->source].url;
        if (u->usable)
            printf("%s: through the proxy %s (%s): TCP to it, CONNECT %s:%d, then TLS and GET /v2/ through the tunnel\n",
                   cfg->names[i], u->shown, r->why, cfg->names[i], PROBE_PORT_TLS);
        else
            printf("%s: the proxy setting of %s is not usable (%s): probed direct\n", cfg->names[i], r->why,
                   u->problem);
    }
}

/* ---- facts ------------------------------------------------------------------ */

/* The route's proxy as printed, or "direct". */
static const char *route_shown(const struct proxy_cfg *c, const struct proxy_route *r)
{
    return r->source < 0 ? "direct" : c->src[r->source].url.shown[0] ? c->src[r->source].url.shown : "unusable";
}

static bool same_route(const struct proxy_cfg *c, const struct proxy_route *a, const struct proxy_route *b)
{
    if (a->source < 0 || b->source < 0)
        return a->source == b->source;
    const struct proxy_url *x = &c->src[a->source].url, *y = &c->src[b->source].url;
    return strcmp(x->host, y->host) == 0 && x->port == y->port && strcmp(x->scheme, y->scheme) == 0;
}

static void setting_facts(struct probe_ctx *p)
{
    const struct proxy_cfg *c = &p->cfg.proxy;
    for (int s = 0; s < PXS_COUNT; s++) {
        const struct proxy_setting *st = &c->src[s];
        if (!st->present && !st->note[0])
            continue;
        struct an_fact f;
        an_fact_init(&f, AN_FK_PROXY_SETTING);
        an_fact_set(&f, AN_K_SOURCE, proxy_source_name(s));
        an_fact_set(&f, AN_K_ORIGIN, st->origin);
        an_fact_set(&f, AN_K_PROXY, st->has_proxy ? (st->url.shown[0] ? st->url.shown : "unusable") : "none");
        an_fact_set(&f, AN_K_PROBLEM, st->has_proxy ? st->url.problem : "");
        an_fact_set(&f, AN_K_NO_PROXY, st->no_proxy);
        an_fact_set(&f, AN_K_NOTE, st->note);
        probe_fact_add(p, &f);
    }
    bool configured = c->no_proxy_option;
    for (int s = 0; s < PXS_COUNT; s++)
        configured = configured || c->src[s].present;
    for (unsigned i = 0; i < p->cfg.n_names && configured; i++) {
        const struct proxy_route *r = &p->cfg.routes[i];
        struct an_fact f;
        an_fact_init(&f, AN_FK_PROXY_ROUTE);
        an_fact_set(&f, AN_K_NAME, p->cfg.names[i]);
        an_fact_set(&f, AN_K_VIA, route_shown(c, r));
        an_fact_set(&f, AN_K_SOURCE, proxy_source_name(r->source));
        an_fact_set_num(&f, AN_K_USABLE, probe_proxy_routed(&p->cfg, i));
        an_fact_set(&f, AN_K_WHY, r->why);
        probe_fact_add(p, &f);
        /* docker push follows the daemon's setting, curl the shell's. */
        if (!c->daemon_installed || c->no_proxy_option || c->src[PXS_OPTION].has_proxy)
            continue;
        struct proxy_route d, sh;
        proxy_route_by(c, PXS_DAEMON_JSON, p->cfg.names[i], PROBE_PORT_TLS, &d);
        proxy_route_by(c, PXS_ENV, p->cfg.names[i], PROBE_PORT_TLS, &sh);
        if (same_route(c, &d, &sh))
            continue;
        an_fact_init(&f, AN_FK_PROXY_DIFFER);
        an_fact_set(&f, AN_K_NAME, p->cfg.names[i]);
        an_fact_set(&f, AN_K_DAEMON, route_shown(c, &d));
        an_fact_set(&f, AN_K_DAEMON_WHY, d.why);
        an_fact_set(&f, AN_K_SHELL, route_shown(c, &sh));
        an_fact_set(&f, AN_K_SHELL_WHY, sh.why);
        probe_fact_add(p, &f);
    }
}

/* ---- the proxy's address ------------------------------------------------------ */

/* getaddrinfo_a bounded by the run: a resolver that hangs cannot hold the
 * probe.  The request is static: a lookup still running when we give up
 * may write into it later.  */
static bool resolve_proxy(const char *host, int64_t wait_ns, struct cap_addr *out, char *err, size_t errlen)
{
    if (cap_addr_parse(host, out))
        return true;
    static struct addrinfo hints;
    static struct gaicb req;
    static struct gaicb *list[1];
    hints.ai_socktype = SOCK_STREAM;
    req.ar_name = host;
    req.ar_request = &hints;
    list[0] = &req;
    if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
        snprintf(err, errlen, "the lookup could not start");
        return false;
    }
    struct timespec ts = { .tv_sec = wait_ns / 1000000000LL, .tv_nsec = wait_ns % 1000000000LL };
    gai_suspend((const struct gaicb *const *)list, 1, &ts);
    int rc = gai_error(&req);
    if (rc == EAI_INPROGRESS) {
        gai_cancel(&req);
        snprintf(err, errlen, "no answer within %lld ms", (long long)(wait_ns / MS));
        return false;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s", gai_strerror(rc));
        return false;
    }
    bool ok = false;
    for (struct addrinfo *ai = req.ar_result; ai && !ok; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            out->family = 4;
            memcpy(out->a, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, 4);
            ok = true;
        } else if (ai->ai_family == AF_INET6) {
            out->family = 6;
            memcpy(out->a, &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr, 16);
            ok = true;
        }
    }
    freeaddrinfo(req.ar_result);
    if (!ok)
        snprintf(err, errlen, "no address");
    return ok;
}

/* ---- the steps ------------------------------------------------------------------ */

static bool build_connect(struct probe_tunnel *t, const char *name)
{
    char auth[400] = "";
    if (t->proxy->has_credentials) {
        /* Basic (RFC 7617), as Go's Transport builds it from the URL. */
        unsigned char b64[sizeof(auth)];
        size_t n = strlen(t->proxy->credentials);
        if (4 * ((n + 2) / 3) + 1 > sizeof(b64))
            return false;
        EVP_EncodeBlock(b64, (const unsigned char *)t->proxy->credentials, (int)n);
        snprintf(auth, sizeof(auth), "%s", (const char *)b64);
    }
    int n = snprintf((char *)t->buf, PROXY_REPLY_MAX, connect_fmt, name, PROBE_PORT_TLS, name, PROBE_PORT_TLS,
                     auth[0] ? "Proxy-Authorization: Basic " : "", auth, auth[0] ? "\r\n" : "");
    if (n <= 0 || (size_t)n >= PROXY_REPLY_MAX)
        return false;
    t->len = (size_t)n;
    t->sent = 0;
    return true;
}

void probe_proxy_start(struct probe_ctx *p, int64_t now)
{
    setting_facts(p);
    const struct proxy_url *u = probe_proxy(&p->cfg);
    bool any = false;
    for (unsigned i = 0; i < p->cfg.n_names; i++)
        any = any || probe_proxy_routed(&p->cfg, i);
    if (!any || !u)
        return;
    struct cap_addr a;
    char err[160];
    int64_t wait = (int64_t)(p->cfg.timeout_s * RESOLVE_SHARE * 1e9);
    if (!resolve_proxy(u->host, wait, &a, err, sizeof(err))) {
        for (unsigned i = 0; i < p->cfg.n_names; i++) {
            if (!probe_proxy_routed(&p->cfg, i))
                continue;
            struct an_fact f;
            an_fact_init(&f, AN_FK_PROXY_CONNECT);
            an_fact_set(&f, AN_K_ENDPOINT, "");
            an_fact_set(&f, AN_K_NAME, p->cfg.names[i]);
            an_fact_set(&f, AN_K_PROXY_HOST, u->host);
            an_fact_set(&f, AN_K_RESULT, "unresolved");
            an_fact_set(&f, AN_K_DETAIL, err);
            probe_fact_add(p, &f);
        }
        return;
    }
    int t = probe_target_add(p, &a);
    if (t < 0)
        return;
    p->targets[t].is_proxy = true;
    now = probe_now_ns();
    for (unsigned i = 0; i < p->cfg.n_names; i++) {
        if (!probe_proxy_routed(&p->cfg, i))
            continue;
        struct probe_conn *c = probe_conn_new(p, (unsigned)t, &a, u->port, p->cfg.names[i], now);
        if (!c)
            return;
        c->tunnel.via = true;
        c->tunnel.proxy = u;
        /* Data endpoints serve blobs, not /v2/: their answer proves nothing. */
        c->no_http = i > 0;
        c->tunnel.buf = malloc(PROXY_REPLY_MAX);
        if (!c->tunnel.buf || !build_connect(&c->tunnel, c->sni)) {
            c->tls_end = PT_ERROR;
            snprintf(c->tls_detail, sizeof(c->tls_detail), "the CONNECT request could not be built");
            c->state = PS_DONE;
        }
    }
}

static void tunnel_send(struct probe_conn *c, int64_t now)
{
    struct probe_tunnel *t = &c->tunnel;
    while (t->sent < t->len) {
        ssize_t n = send(c->fd, t->buf + t->sent, t->len - t->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            t->closed = true;
            t->close_err = errno;
            t->end_ns = now;
            c->state = PS_DONE;
            return;
        }
        t->sent += (size_t)n;
    }
    t->connect_ns = now;
    t->len = 0;
    c->state = PS_PROXY_READ;
}

/* The end of the reply head within buf[0..len), or 0. */
static size_t head_end(const uint8_t *b, size_t len)
{
    for (size_t i = 3; i < len; i++)
        if (b[i - 3] == '\r' && b[i - 2] == '\n' && b[i - 1] == '\r' && b[i] == '\n')
            return i + 1;
    return 0;
}

/* Reads the reply head and no byte more: what follows a 200 is the
 * tunnel's (the server's TLS), read by OpenSSL.  */
static void tunnel_read(struct probe_conn *c, int64_t now)
{
    struct probe_tunnel *t = &c->tunnel;
    size_t room = PROXY_REPLY_MAX - 1 - t->len;
    ssize_t n = recv(c->fd, t->buf + t->len, room, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        t->closed = true;
        t->close_err = n < 0 ? errno : 0;
        t->end_ns = now;
        c->state = PS_DONE;
        return;
    }
    size_t end = head_end(t->buf, t->len + (size_t)n);
    size_t take = end ? end - t->len : (size_t)n;
    ssize_t got = recv(c->fd, t->buf + t->len, take, 0);
    if (got != (ssize_t)take) {
        t->closed = true;
        t->close_err = got < 0 ? errno : 0;
        t->end_ns = now;
        c->state = PS_DONE;
        return;
    }
    t->len += take;
    bool http = t->len < 5 ? memcmp(t->buf, "HTTP/", t->len) == 0 : memcmp(t->buf, "HTTP/", 5) == 0;
    if (!http || (!end && t->len >= PROXY_REPLY_MAX - 1)) {
        t->reply_bad = true;
        t->end_ns = now;
        c->state = PS_DONE;
        return;
    }
    if (!end)
        return;
    t->replied = true;
    t->end_ns = now;
    cap_http_parse_response(t->buf, t->len, &t->resp);
    if (t->resp.status >= 200 && t->resp.status < 300)
        c->state = PS_TLS;
    else
        c->state = PS_DONE;
}

void probe_proxy_step(struct probe_conn *c, int64_t now)
{
    if (c->state == PS_PROXY_SEND)
        tunnel_send(c, now);
    if (c->state == PS_PROXY_READ)
        tunnel_read(c, now);
}

void probe_proxy_timeout(struct probe_conn *c, int64_t now)
{
    c->tunnel.timed_out = true;
    c->tunnel.end_ns = now;
}

void probe_proxy_finish(struct probe_conn *c)
{
    free(c->tunnel.buf);
    c->tunnel.buf = NULL;
}

static void tunnel_facts(struct probe_ctx *p, const struct probe_conn *c, const char *ep)
{
    const struct probe_tunnel *t = &c->tunnel;
    const char *res = !c->connected ? (c->err ? strerrorname_np(c->err) : "ETIMEDOUT")
                      : t->replied ? "replied"
                      : t->reply_bad ? "not_http"
                      : t->closed ? (t->close_err == ECONNRESET ? "reset" : "closed")
                      : t->connect_ns ? "no_reply" : "not_sent";
    int64_t end = t->end_ns ? t->end_ns : probe_now_ns();
    struct an_fact f;
    an_fact_init(&f, AN_FK_PROXY_CONNECT);
    an_fact_set(&f, AN_K_ENDPOINT, ep);
    an_fact_set(&f, AN_K_NAME, c->sni);
    an_fact_set(&f, AN_K_PROXY, t->proxy->shown);
    an_fact_set(&f, AN_K_RESULT, res ? res : "error");
    an_fact_set_num(&f, AN_K_LOCAL, c->local_err ? 1 : 0);
    an_fact_set_num(&f, AN_K_STATUS, t->replied ? t->resp.status : 0);
    an_fact_set(&f, AN_K_REASON, t->resp.reason);
    an_fact_set(&f, AN_K_PROXY_AUTHENTICATE, t->resp.proxy_authenticate);
    an_fact_set(&f, AN_K_VIA, t->resp.via);
    an_fact_set(&f, AN_K_SERVER, t->resp.server);
    an_fact_set_num(&f, AN_K_WAITED_MS, (long)(t->connect_ns ? (end - t->connect_ns) / MS : 0));
    probe_fact_add(p, &f);
    if (!t->replied || t->resp.status < 200 || t->resp.status >= 300)
        return;
    an_fact_init(&f, AN_FK_PROXY_TLS);
    an_fact_set(&f, AN_K_ENDPOINT, ep);
    an_fact_set(&f, AN_K_NAME, c->sni);
    probe_fact_tls_fields(&f, c);
    probe_fact_add(p, &f);
    if (c->no_http || c->tls_end != PT_OK)
        return;
    an_fact_init(&f, AN_FK_PROXY_HTTP);
    an_fact_set(&f, AN_K_ENDPOINT, ep);
    an_fact_set(&f, AN_K_NAME, c->sni);
    probe_fact_http_fields(&f, &c->resp, true);
    probe_fact_add(p, &f);
}

void probe_proxy_facts(struct probe_ctx *p)
{
    for (unsigned i = 0; i < p->n_conns; i++) {
        const struct probe_conn *c = &p->conns[i];
        if (!c->tunnel.via)
            continue;
        char ip[64], ep[80];
        cap_addr_str(&c->addr, ip, sizeof(ip));
        snprintf(ep, sizeof(ep), c->addr.family == 6 ? "[%s]:%u" : "%s:%u", ip, c->port);
        tunnel_facts(p, c, ep);
    }
}
