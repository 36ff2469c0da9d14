/* push.c: --push-check REPO: the push protocol up to, and never past, a
 * write that stays: GET /v2/ challenge, token for repository:REPO:push,pull,
 * POST an upload, follow its Location, one PATCH larger than any path MTU,
 * DELETE the upload (always, once one exists).  Never a manifest, never a
 * completed blob.  Each step is a `fact=push` line; analysis/pushfacts.c
 * turns them into the verdict.  Secrets never reach a fact.  */
#include <errno.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "push.h"

#define MS 1000000LL


/* ---- a new host: resolve it through the system resolver ------------------- */

struct lookup {
    bool done;
    int status;
    struct cap_addr addr;
};

static void on_lookup(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    struct lookup *l = arg;
    l->done = true;
    l->status = status;
    for (const struct ares_addrinfo_node *n = res ? res->nodes : NULL; n && !l->addr.family; n = n->ai_next) {
        if (n->ai_family == AF_INET && n->ai_addrlen >= sizeof(struct sockaddr_in)) {
            l->addr.family = 4;
            memcpy(l->addr.a, &((const struct sockaddr_in *)(const void *)n->ai_addr)->sin_addr, 4);
        } else if (n->ai_family == AF_INET6 && n->ai_addrlen >= sizeof(struct sockaddr_in6)) {
            l->addr.family = 6;
            memcpy(l->addr.a, &((const struct sockaddr_in6 *)(const void *)n->ai_addr)->sin6_addr, 16);
        }
    }
    if (res)
        ares_freeaddrinfo(res);
}

static bool resolve_host(struct probe_ctx *p, const char *host, int64_t deadline, struct cap_addr *out,
                         const char **status)
{
    struct lookup l = { 0 };
    struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC };
    ares_getaddrinfo(p->dns_sys, host, NULL, &hints, on_lookup, &l);
    for (unsigned turn = 0; turn < 100000 && !l.done; turn++) {
        int64_t now = probe_now_ns();
        if (now >= deadline)
            break;
        struct pollfd pf[ARES_GETSOCK_MAXNUM + 1];
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        uint32_t bits = (uint32_t)ares_getsock(p->dns_sys, socks, ARES_GETSOCK_MAXNUM);
        nfds_t n = 0;
        for (unsigned i = 0; i < ARES_GETSOCK_MAXNUM; i++)
            if (bits & (UINT32_C(1) << i))
                pf[n++] = (struct pollfd){ .fd = socks[i], .events = POLLIN };
        if (p->live)
            pf[n++] = (struct pollfd){ .fd = cap_live_fd(p->live), .events = POLLIN };
        poll(pf, n, 20);
        probe_pump_capture(p);
        for (nfds_t i = 0; i < n; i++)
            if (pf[i].revents && (!p->live || pf[i].fd != cap_live_fd(p->live)))
                ares_process_fd(p->dns_sys, pf[i].fd, ARES_SOCKET_BAD);
        ares_process_fd(p->dns_sys, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    }
    if (!l.done)
        ares_cancel(p->dns_sys);
    int st = l.done ? l.status : ARES_ETIMEOUT;
    if (st == ARES_ECANCELLED)
        st = ARES_ETIMEOUT;
    *status = probe_dns_status_name(st == ARES_SUCCESS && !l.addr.family ? ARES_ENODATA : st);
    *out = l.addr;
    return st == ARES_SUCCESS && l.addr.family;
}

/* ---- one step, one fact ---------------------------------------------------- */

struct walk {
    struct probe_ctx *p;
    const char *repo;
    const char *login;              /* the login server's name */
    struct cap_addr login_addr;     /* or the explicit proxy's */
    uint16_t port;                  /* 443, or the proxy's */
    const struct proxy_url *proxy;  /* the login server's route, or NULL */
    char auth[PUSH_SECRET_MAX + 64];    /* "Bearer <token>" once granted */
    const char *cancelled;          /* "none", "yes", "no" */
    char patched[40];               /* the PATCH's result, "none" before one */
    /* The last other host resolved (each is resolved once). */
    char other_host[LIM_DNS_NAME];
    struct cap_addr other_addr;
    bool other_ok;
};

static const char *transport_result(const struct push_http *h)
{
    if (h->answered)
        return "answered";
    if (h->proxy_status && (h->proxy_status < 200 || h->proxy_status > 299))
        return "proxy_refused";
    if (h->timed_out)
        return "timeout";
    if (!h->connected)
        return h->err ? strerrorname_np(h->err) : "error";
    if (!h->tls_ok)
        return "tls_failed";
    return h->err == ECONNRESET ? "reset" : h->err ? strerrorname_np(h->err) : "closed";
}

static void step_fact(struct walk *w, const char *step, const char *method, const char *host,
                      const struct cap_addr *a, const char *path, const struct push_http *h, const char *note)
{
    char ep[80], ip[64];
    cap_addr_str(a, ip, sizeof(ip));
    snprintf(ep, sizeof(ep), a->family == 6 ? "[%s]:%u" : "%s:%u", ip, w->port);
    char path_cut[160], verify[24];
    /* The upload path carries the registry's state: its start suffices. */
    snprintf(path_cut, sizeof(path_cut), "%.*s", (int)strcspn(path, "?"), path);
    snprintf(verify, sizeof(verify), "%ld", h->verify);
    struct an_fact f;
    an_fact_init(&f, AN_FK_PUSH);
    an_fact_set(&f, AN_K_STEP, step);
    an_fact_set(&f, AN_K_METHOD, method);
    an_fact_set(&f, AN_K_HOST, host);
    an_fact_set(&f, AN_K_ENDPOINT, ep);
    an_fact_set(&f, AN_K_PATH, path_cut);
    an_fact_set(&f, AN_K_RESULT, transport_result(h));
    an_fact_set_num(&f, AN_K_STATUS, h->resp.status);
    an_fact_set(&f, AN_K_REASON, h->resp.reason);
    an_fact_set(&f, AN_K_CODE, h->resp.error_code);
    an_fact_set(&f, AN_K_CLIENT_IP, h->resp.denied_client_ip);
    an_fact_set(&f, AN_K_SERVER, h->resp.server);
    an_fact_set(&f, AN_K_API_VERSION, h->api_version);
    an_fact_set(&f, AN_K_CORRELATION, h->correlation);
    an_fact_set(&f, AN_K_CONTENT_TYPE, h->content_type);
    an_fact_set_num(&f, AN_K_BODY_BYTES, (long)h->body_total);
    an_fact_set_num(&f, AN_K_BODY_CUT, h->body_cut);
    an_fact_set(&f, AN_K_VERIFY, verify);
    an_fact_set_num(&f, AN_K_MS, (long)h->ms);
    an_fact_set(&f, AN_K_NOTE, note ? note : "");
    an_fact_set(&f, AN_K_TLS, h->tls_ok ? "" : h->tls_detail);
    an_fact_set(&f, AN_K_MESSAGE, h->resp.error_message);
    probe_fact_add(w->p, &f);
}

/* A host of the walk: the login server's probed address, or a new name
 * resolved now (with a fact) and made a target the capture keeps.  */
static bool host_addr(struct walk *w, const char *host, struct cap_addr *a)
{
    /* Through a proxy every host is the proxy's to resolve (the route of
     * the login server is taken for the hosts its Location names).  */
    if (strcmp(host, w->login) == 0 || w->proxy) {
        *a = w->login_addr;
        return true;
    }
    if (strcmp(host, w->other_host) == 0) {
        *a = w->other_addr;
        return w->other_ok;
    }
    const char *status;
    int64_t deadline = probe_now_ns() + (int64_t)(w->p->cfg.timeout_s * 1e9);
    bool ok = resolve_host(w->p, host, deadline, a, &status);
    char ip[64] = "";
    if (ok)
        cap_addr_str(a, ip, sizeof(ip));
    struct an_fact f;
    an_fact_init(&f, AN_FK_PUSH);
    an_fact_set(&f, AN_K_STEP, "resolve");
    an_fact_set(&f, AN_K_HOST, host);
    an_fact_set(&f, AN_K_RESULT, status);
    an_fact_set(&f, AN_K_ADDR, ip);
    probe_fact_add(w->p, &f);
    if (ok)
        probe_add_push_target(w->p, a, 0);
    snprintf(w->other_host, sizeof(w->other_host), "%s", host);
    w->other_addr = *a;
    w->other_ok = ok;
    return ok;
}

static bool exchange(struct walk *w, const char *step, const char *method, const struct url *u,
                     const char *authorization, const char *ctype, const uint8_t *body, size_t blen,
                     struct push_http *h, const char *note)
{
    struct cap_addr a;
    memset(h, 0, sizeof(*h));
    if (!host_addr(w, u->host, &a))
        return false;
    struct push_request rq = {
        .method = method, .host = u->host, .path_query = u->path, .addr = &a, .port = w->port, .proxy = w->proxy,
        .authorization = authorization,
        .content_type = ctype, .body = body, .body_len = blen,
        .deadline_ns = probe_now_ns() + (int64_t)(w->p->cfg.timeout_s * 1e9),
    };
    if (!push_http_do(w->p, &rq, h))
        return false;
    step_fact(w, step, method, u->host, &a, u->path, h, note);
    return h->answered;
}

/* ---- the token ------------------------------------------------------------------ */

static bool get_token(struct walk *w, const struct push_creds *cr, const struct challenge *ch, const struct url *realm)
{
    char scope[PUSH_REPO_MAX + 32];
    snprintf(scope, sizeof(scope), "repository:%s:push,pull", w->repo);
    char *form = calloc(1, PUSH_URL_MAX + 3 * PUSH_SECRET_MAX);
    char *basic = calloc(1, 2 * PUSH_SECRET_MAX);
    if (!form || !basic) {
        free(form), free(basic);
        return false;
    }
    size_t flen = PUSH_URL_MAX + 3 * PUSH_SECRET_MAX;
    struct url u = *realm;
    struct push_http h;
    bool ok = push_form_add(form, flen, "service", ch->service) && push_form_add(form, flen, "scope", scope);
    const char *note = cr->source == PC_NONE ? "anonymous (no credentials found)" : push_cred_source_name(cr->source);
    if (ok && cr->refresh_token) {
        /* An identity or refresh token: POST grant_type=refresh_token. */
        ok = push_form_add(form, flen, "grant_type", "refresh_token") && push_form_add(form, flen, "refresh_token", cr->secret);
        ok = ok && exchange(w, "token", "POST", &u, NULL, "application/x-www-form-urlencoded", (const uint8_t *)form,
                            strlen(form), &h, note);
    } else if (ok) {
        size_t pl = strlen(u.path);
        ok = pl + strlen(form) + 2 < sizeof(u.path);
        if (ok)
            snprintf(u.path + pl, sizeof(u.path) - pl, "%s%s", strchr(u.path, '?') ? "&" : "?", form);
        if (ok && cr->source != PC_NONE) {
            char up[PUSH_USER_MAX + PUSH_SECRET_MAX + 2];
            int n = snprintf(up, sizeof(up), "%s:%s", cr->user, cr->secret);
            memcpy(basic, "Basic ", 6);
            EVP_EncodeBlock((unsigned char *)basic + 6, (const unsigned char *)up, n);
            OPENSSL_cleanse(up, sizeof(up));
        }
        ok = ok && exchange(w, "token", "GET", &u, basic[0] ? basic : NULL, NULL, NULL, 0, &h, note);
    } else {
        memset(&h, 0, sizeof(h));
    }
    OPENSSL_cleanse(form, flen);
    OPENSSL_cleanse(basic, 2 * PUSH_SECRET_MAX);
    free(form);
    free(basic);
    if (!ok || h.resp.status != 200) {
        push_http_free(&h);
        return false;
    }
    /* The token: JSON with "access_token" (or "token"); anything else, an
     * HTML page from a proxy or a login portal, is said as such.  */
    json_error_t je;
    json_t *root = h.body ? json_loadb((const char *)h.body, h.body_len, 0, &je) : NULL;
    const char *tok = json_string_value(json_object_get(root, "access_token"));
    if (!tok)
        tok = json_string_value(json_object_get(root, "token"));
    bool good = tok && *tok && strlen(tok) < PUSH_SECRET_MAX && strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=") == strlen(tok);
    struct an_fact f;
    an_fact_init(&f, AN_FK_PUSH);
    an_fact_set(&f, AN_K_STEP, "token_body");
    if (!good) {
        an_fact_set(&f, AN_K_RESULT, root ? "no_token" : "not_json");
        an_fact_set(&f, AN_K_CONTENT_TYPE, h.content_type);
    } else {
        snprintf(w->auth, sizeof(w->auth), "Bearer %s", tok);
        int push = push_token_grants_push(tok, w->repo);
        an_fact_set(&f, AN_K_RESULT, "ok");
        an_fact_set(&f, AN_K_GRANTS_PUSH, push < 0 ? "unknown" : push ? "1" : "0");
    }
    probe_fact_add(w->p, &f);
    json_decref(root);
    if (h.body)
        OPENSSL_cleanse(h.body, h.body_len);
    push_http_free(&h);
    return good;
}

/* ---- the upload ----------------------------------------------------------------- */

static void cancel(struct walk *w, const struct url *up, bool host_failed)
{
    struct push_http h;
    struct url login_path = *up;
    /* The upload's path on the login server too, when its own host could
     * not be reached: the registry must not keep a half upload.  */
    snprintf(login_path.host, sizeof(login_path.host), "%s", w->login);
    const struct url *first = host_failed ? &login_path : up;
    bool answered = exchange(w, "cancel", "DELETE", first, w->auth, NULL, NULL, 0, &h, NULL);
    int st = h.resp.status;
    push_http_free(&h);
    if (!answered && !host_failed && strcmp(up->host, w->login) != 0) {
        answered = exchange(w, "cancel", "DELETE", &login_path, w->auth, NULL, NULL, 0, &h, "again on the login server");
        st = h.resp.status;
        push_http_free(&h);
    }
    w->cancelled = answered && st >= 200 && st < 300 ? "yes" : "no";
}

static void upload(struct walk *w)
{
    struct url u = { .port = 443 };
    snprintf(u.host, sizeof(u.host), "%s", w->login);
    snprintf(u.path, sizeof(u.path), "/v2/%s/blobs/uploads/", w->repo);
    struct push_http h;
    bool answered = exchange(w, "upload", "POST", &u, w->auth, NULL, NULL, 0, &h, NULL);
    char loc[PUSH_URL_MAX];
    snprintf(loc, sizeof(loc), "%s", h.location);
    int st = h.resp.status;
    push_http_free(&h);
    if (!answered || st != 202)
        return;
    struct url up;
    const char *bad = loc[0] ? push_parse_url(loc, w->login, &up) : "missing";
    if (!bad && !push_host_allowed(w->p->cfg.names, w->p->cfg.n_names, up.host))
        bad = "a host outside *.azurecr.io, *.blob.core.windows.net and the probed names";
    if (!bad && up.port != 443)
        bad = "a port other than 443";
    if (bad) {
        struct an_fact f;
        an_fact_init(&f, AN_FK_PUSH);
        an_fact_set(&f, AN_K_STEP, "location");
        an_fact_set(&f, AN_K_RESULT, "not_followed");
        an_fact_set(&f, AN_K_LOCATION, loc[0] ? loc : "-");
        an_fact_set(&f, AN_K_WHY, bad);
        probe_fact_add(w->p, &f);
        /* The upload exists all the same: cancel it on the login server,
         * by the path the Location names (or not at all without one).  */
        const char *v2 = strstr(loc, "/v2/");
        w->cancelled = "no";
        if (v2 && strlen(v2) < sizeof(up.path)) {
            memset(&up, 0, sizeof(up));
            up.port = 443;
            snprintf(up.host, sizeof(up.host), "%s", w->login);
            snprintf(up.path, sizeof(up.path), "%s", v2);
            cancel(w, &up, false);
        }
        return;
    }
    struct an_fact f;
    an_fact_init(&f, AN_FK_PUSH);
    an_fact_set(&f, AN_K_STEP, "location");
    an_fact_set(&f, AN_K_RESULT, "followed");
    an_fact_set(&f, AN_K_HOST, up.host);
    an_fact_set_num(&f, AN_K_RELATIVE, loc[0] == '/');
    probe_fact_add(w->p, &f);
    uint8_t *body = calloc(1, PUSH_PATCH_BYTES);
    if (!body)
        return;
    struct cap_addr a;
    bool host_ok = host_addr(w, up.host, &a);
    memset(&h, 0, sizeof(h));
    bool patched = host_ok && exchange(w, "patch", "PATCH", &up, w->auth, "application/octet-stream", body,
                                       PUSH_PATCH_BYTES, &h, NULL);
    free(body);
    struct url next = up;
    if (patched && h.resp.status == 202 && h.location[0]) {
        struct url moved;
        if (!push_parse_url(h.location, up.host, &moved) && strcmp(moved.host, up.host) == 0)
            next = moved;
    }
    snprintf(w->patched, sizeof(w->patched), "%s", !host_ok ? "unresolved" : transport_result(&h));
    if (patched && h.resp.status != 202)
        snprintf(w->patched, sizeof(w->patched), "status_%d", h.resp.status);
    bool host_failed = !host_ok || (!patched && !h.connected);
    push_http_free(&h);
    cancel(w, &next, host_failed);
}

/* This host's own addresses, to compare with the IP a 403 DENIED names. */
static void local_fact(struct probe_ctx *p)
{
    struct ifaddrs *ifa = NULL;
    char list[400] = "";
    size_t o = 0;
    if (getifaddrs(&ifa) == 0) {
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
            if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
                continue;
            struct cap_addr a = { 0 };
            if (i->ifa_addr->sa_family == AF_INET) {
                a.family = 4;
                memcpy(a.a, &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr, 4);
            } else {
                a.family = 6;
                memcpy(a.a, &((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr, 16);
            }
            char ip[64];
            cap_addr_str(&a, ip, sizeof(ip));
            int n = snprintf(list + o, sizeof(list) - o, "%s%s", o ? "," : "", ip);
            if (n < 0 || (size_t)n >= sizeof(list) - o)
                break;
            o += (size_t)n;
        }
        freeifaddrs(ifa);
    }
    struct an_fact f;
    an_fact_init(&f, AN_FK_LOCAL);
    an_fact_set(&f, AN_K_ADDRS, list);
    probe_fact_add(p, &f);
}

void probe_push_check(struct probe_ctx *p)
{
    struct walk w = { .p = p, .repo = p->cfg.push_repo, .login = p->cfg.names[0], .cancelled = "none",
                      .patched = "none", .port = PROBE_PORT_TLS };
    const struct push_creds *cr = p->cfg.creds;
    local_fact(p);
    /* The login server's first address whose TLS completed. */
    bool found = false;
    for (unsigned i = 0; i < p->n_conns && !found; i++) {
        const struct probe_conn *c = &p->conns[i];
        if (c->kind == PK_REGISTRY && !c->no_http && c->tls_end == PT_OK) {
            w.login_addr = c->addr;
            if (c->tunnel.via) {
                w.port = c->port;
                w.proxy = c->tunnel.proxy;
            }
            found = true;
        }
    }
    struct an_fact f;
    an_fact_init(&f, AN_FK_PUSHCHECK);
    an_fact_set(&f, AN_K_REPO, w.repo);
    an_fact_set(&f, AN_K_CREDS, push_cred_source_name(cr->source));
    if (!found) {
        an_fact_set(&f, AN_K_RESULT, "skipped");
        an_fact_set(&f, AN_K_WHY, "no_tls");
        an_fact_set(&f, AN_K_CANCELLED, "none");
        an_fact_set(&f, AN_K_NOTE, cr->note);
        probe_fact_add(p, &f);
        return;
    }
    struct url v2 = { .port = 443, .path = "/v2/" };
    snprintf(v2.host, sizeof(v2.host), "%s", w.login);
    struct push_http h;
    bool answered = exchange(&w, "challenge", "GET", &v2, NULL, NULL, NULL, 0, &h, NULL);
    struct challenge ch;
    const char *stop = NULL;
    bool parsed = answered && push_parse_challenge(h.www_authenticate, &ch);
    struct url realm;
    const char *realm_bad = NULL;
    if (!answered)
        stop = "challenge_unanswered";
    else if (h.resp.status == 200)
        stop = NULL;                /* no authentication asked: straight to the upload */
    else if (h.resp.status != 401)
        stop = "challenge_refused";
    else if (!h.www_authenticate[0] || !parsed || !ch.bearer)
        stop = "challenge_malformed";
    else if ((realm_bad = push_parse_url(ch.realm, w.login, &realm)) != NULL || !push_host_allowed(p->cfg.names, p->cfg.n_names, realm.host) || realm.port != 443)
        stop = "realm_not_followed";
    if (stop && (strcmp(stop, "challenge_malformed") == 0 || strcmp(stop, "realm_not_followed") == 0)) {
        bool malformed = strcmp(stop, "challenge_malformed") == 0;
        struct an_fact sf;
        an_fact_init(&sf, AN_FK_PUSH);
        an_fact_set(&sf, AN_K_STEP, malformed ? "challenge_parse" : "realm");
        an_fact_set(&sf, AN_K_RESULT, malformed ? "malformed" : "not_followed");
        if (malformed)
            an_fact_set(&sf, AN_K_VALUE, h.www_authenticate[0] ? h.www_authenticate : "(none)");
        else
            an_fact_set(&sf, AN_K_REALM, ch.realm);
        probe_fact_add(p, &sf);
    }
    int status = h.resp.status;
    push_http_free(&h);
    if (!stop && status == 401 && !get_token(&w, cr, &ch, &realm))
        stop = "no_token";
    if (!stop)
        upload(&w);
    OPENSSL_cleanse(w.auth, sizeof(w.auth));
    an_fact_set(&f, AN_K_RESULT, stop ? stop : "walked");
    an_fact_set(&f, AN_K_CANCELLED, w.cancelled);
    an_fact_set_num(&f, AN_K_PATCH_BYTES, PUSH_PATCH_BYTES);
    an_fact_set(&f, AN_K_PATCH, w.patched);
    an_fact_set(&f, AN_K_NOTE, cr->note);
    probe_fact_add(p, &f);
}
