/* proxyfacts.c: the probe's explicit-proxy facts (probe/proxy.c) on the
 * report: the CONNECT through the proxy, the TLS and GET /v2/ through the
 * tunnel, and the settings that chose the route.  An endpoint through a
 * proxy is the CONNECT target at the proxy's address and port, as the wire
 * makes it (decide.c); what the packets decided stands, the facts decide
 * what they could not (no capture, a tunnel whose TLS looked fine).  */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine.h"

static void get(const char *fact, const char *key, char *out, size_t len)
{
    if (!an_fact_get(fact, key, out, len))
        out[0] = '\0';
}

static bool is_kind(const char *fact, const char *kind)
{
    char v[32];
    return an_fact_get(fact, "fact", v, sizeof(v)) && strcmp(v, kind) == 0;
}

/* kind: the fact's stable name (docs/verdicts.md "Evidence kinds"). */
static void add_ev(struct an_endpoint *ep, const char *kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void add_ev(struct an_endpoint *ep, const char *kind, const char *fmt, ...)
{
    assert(kind && *kind);
    if (ep->n_evidence >= AN_MAX_EVIDENCE)
        return;
    struct an_evidence *ev = &ep->evidence[ep->n_evidence++];
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->what, sizeof(ev->what), fmt, ap);
    va_end(ap);
}

static void detail(struct an_endpoint *ep, const char *key, const char *value)
{
    for (unsigned i = 0; i < ep->n_detail; i++)
        if (strcmp(ep->detail[i].key, key) == 0)
            return;         /* the wire's stands */
    if (ep->n_detail >= AN_MAX_DETAIL)
        return;
    snprintf(ep->detail[ep->n_detail].key, sizeof(ep->detail[0].key), "%s", key);
    snprintf(ep->detail[ep->n_detail].value, sizeof(ep->detail[0].value), "%s", value);
    ep->n_detail++;
}

static void verdict(struct an_endpoint *ep, enum an_verdict v, enum an_confidence c, uint32_t candidates,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void verdict(struct an_endpoint *ep, enum an_verdict v, enum an_confidence c, uint32_t candidates,
                    const char *fmt, ...)
{
    ep->verdict = v;
    ep->confidence = c;
    ep->candidates = candidates;
    ep->rule = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ep->reason, sizeof(ep->reason), fmt, ap);
    va_end(ap);
}

/* The endpoint `name` through the proxy at a:port (the wire's, or a new one). */
static struct an_endpoint *tunnel_ep(struct an_report *r, const struct cap_addr *a, uint16_t port, const char *name)
{
    for (unsigned i = 0; i < r->n_endpoints; i++) {
        struct an_endpoint *ep = &r->endpoints[i];
        if (ep->has_ip && ep->port == port && cap_addr_eq(&ep->ip, a) && strcasecmp(ep->name, name) == 0)
            return ep;
    }
    struct an_endpoint *n = realloc(r->endpoints, (r->n_endpoints + 1) * sizeof(*n));
    if (!n)
        return NULL;
    r->endpoints = n;
    struct an_endpoint *ep = &n[r->n_endpoints++];
    memset(ep, 0, sizeof(*ep));
    ep->verdict = AN_INCOMPLETE;
    ep->has_ip = true;
    ep->ip = *a;
    ep->port = port;
    snprintf(ep->name, sizeof(ep->name), "%s", name);
    ep->is_data_endpoint = strstr(name, ".data.") != NULL;
    snprintf(ep->reason, sizeof(ep->reason), "the probe's steps through the proxy decide this endpoint");
    return ep;
}

static bool undecided(const struct an_endpoint *ep)
{
    return ep->verdict == AN_OK || ep->verdict == AN_INCOMPLETE;
}

static bool parse_ep(const char *s, struct cap_addr *a, uint16_t *port)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon)
        return false;
    const char *h = s;
    size_t n = (size_t)(colon - s);
    if (s[0] == '[' && n >= 2 && s[n - 1] == ']') {
        h = s + 1;
        n -= 2;
    }
    long p = strtol(colon + 1, NULL, 10);
    if (n == 0 || n >= sizeof(host) || p < 1 || p > 65535)
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = (uint16_t)p;
    return cap_addr_parse(host, a);
}

/* The CONNECT and the proxy's answer. */
static void apply_connect(struct an_endpoint *ep, const char *f, const char *ip, uint16_t port)
{
    char name[LIM_DNS_NAME], res[32], proxy[200], reason[64], auth[64], via[96], server[64], pp[80];
    get(f, "name", name, sizeof(name));
    get(f, "result", res, sizeof(res));
    get(f, "proxy", proxy, sizeof(proxy));
    get(f, "reason", reason, sizeof(reason));
    get(f, "proxy_authenticate", auth, sizeof(auth));
    get(f, "via", via, sizeof(via));
    get(f, "server", server, sizeof(server));
    long status = an_fact_get(f, "status", pp, sizeof(pp)) ? strtol(pp, NULL, 10) : 0;
    long waited = an_fact_get(f, "waited_ms", pp, sizeof(pp)) ? strtol(pp, NULL, 10) : 0;
    snprintf(pp, sizeof(pp), strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, port);
    /* The wire's evidence names the CONNECT and its reply already. */
    bool wire_saw = false;
    for (unsigned i = 0; i < ep->n_detail; i++)
        wire_saw = wire_saw || strcmp(ep->detail[i].key, "proxy") == 0;
    detail(ep, "proxy", pp);
    bool decide = undecided(ep);
    if (strcmp(res, "replied") == 0) {
        if (!wire_saw)
                add_ev(ep, "proxy_connect_answer", "probe: CONNECT %s:443 through the proxy %s answered %ld %s%s%s%s%s%s%s", name, proxy, status,
                   reason, auth[0] ? ", Proxy-Authenticate: " : "", auth, server[0] ? ", Server: " : "", server,
                   via[0] ? ", Via: " : "", via);
        if (status >= 200 && status < 300)
            return;
        if (!decide)
            return;
        char st[16];
        snprintf(st, sizeof(st), "%ld", status);
        detail(ep, "http_status", st);
        if (auth[0])
            detail(ep, "proxy_authenticate", auth);
        const char *why = status == 407 ? "it requires proxy authentication and the client sent none it accepts"
                        : status == 403 ? "its policy forbids a tunnel to this name"
                        : status >= 500 ? "it could not open the connection to the registry itself"
                                        : "it refused the request";
        verdict(ep, AN_PROXY_REFUSED, AN_CONF_HIGH, 0,
                "the explicit proxy %s port %u answered the CONNECT to %s:443 with %ld %s: %s", ip, port, name, status,
                reason, why);
        return;
    }
    if (strcmp(res, "closed") == 0 || strcmp(res, "reset") == 0 || strcmp(res, "no_reply") == 0 ||
        strcmp(res, "not_http") == 0) {
        const char *what = strcmp(res, "no_reply") == 0 ? "never answered"
                           : strcmp(res, "not_http") == 0 ? "answered with bytes that are no HTTP reply to"
                           : strcmp(res, "reset") == 0 ? "reset the connection without answering"
                                                       : "closed the connection without answering";
        add_ev(ep, "proxy_connect_no_answer", "probe: the proxy %s %s the CONNECT to %s:443 (%.1f s)", proxy, what, name, (double)waited / 1000);
        if (decide) {
            detail(ep, "http_status", "none");
            verdict(ep, AN_PROXY_REFUSED, AN_CONF_MEDIUM, 0,
                    "the explicit proxy %s port %u %s the CONNECT to %s:443 (%.1f s): it refused the tunnel, could not reach the registry itself, or holds the request",
                    ip, port, what, name, (double)waited / 1000);
        }
        return;
    }
    /* The proxy itself could not be reached. */
    add_ev(ep, "proxy_tcp", "probe: TCP to the proxy %s: %s", proxy, res);
    if (!decide)
        return;
    if (an_fact_get(f, "local", pp, sizeof(pp)) && strcmp(pp, "1") == 0)
        verdict(ep, AN_LOCAL_NO_ROUTE, AN_CONF_HIGH, 0,
                "this host refused to send: connect() to the proxy %s port %u failed with %s before any packet left", ip,
                port, res);
    else if (strcmp(res, "ECONNREFUSED") == 0)
        verdict(ep, AN_CONNECTION_RESET, AN_CONF_MEDIUM, 1u << AN_FIREWALL_RESET | 1u << AN_SERVER_RESET,
                "the proxy %s port %u refused the connection (a RST answered the SYN): nothing listens there, or a firewall resets it",
                ip, port);
    else if (strcmp(res, "ETIMEDOUT") == 0)
        verdict(ep, AN_SILENT_DROP, AN_CONF_LOW, 1u << AN_NSG_DROP | 1u << AN_ROUTE_BLACKHOLE,
                "the proxy %s port %u never answered the TCP handshake: the proxy setting names an address this host cannot reach",
                ip, port);
    else
        verdict(ep, AN_ICMP_UNREACHABLE, AN_CONF_MEDIUM, 0, "connect() to the proxy %s port %u failed with %s", ip, port,
                res);
}

/* TLS through the tunnel: a bumping proxy shows its own CA. */
static void apply_tls(struct an_endpoint *ep, const char *f)
{
    char res[32], ver[16], vfy[32], vmsg[160], icn[128], io[128], det[160];
    get(f, "result", res, sizeof(res));
    get(f, "version", ver, sizeof(ver));
    get(f, "verify", vfy, sizeof(vfy));
    get(f, "verify_error", vmsg, sizeof(vmsg));
    get(f, "issuer_cn", icn, sizeof(icn));
    get(f, "issuer_o", io, sizeof(io));
    get(f, "detail", det, sizeof(det));
    if (strcmp(res, "ok") != 0) {
        add_ev(ep, "proxy_tls_failed", "probe: TLS through the tunnel: %s%s%s", res, det[0] ? ", " : "", det);
        if (undecided(ep))
            verdict(ep, AN_TLS_FAILURE, AN_CONF_LOW, 0,
                    "the proxy opened the tunnel, but the TLS handshake through it failed: %s%s%s", res,
                    det[0] ? ", " : "", det);
        return;
    }
    bool ok = strcmp(vfy, "ok") == 0;
    add_ev(ep, "proxy_tls_ok", "probe: TLS %s through the tunnel completed; chain verification %s%s%s; leaf issued by CN=%s%s%s", ver,
           ok ? "ok" : "FAILED", vmsg[0] ? ": " : "", vmsg, icn, io[0] ? ", O=" : "", io);
    if (ok || !undecided(ep))
        return;
    char issuer[200];
    snprintf(issuer, sizeof(issuer), "CN=%.90s, O=%.90s", icn, io);
    detail(ep, "issuer", issuer);
    bool microsoft = strcmp(io, "Microsoft Corporation") == 0 || strncmp(icn, "Microsoft ", 10) == 0;
    if (microsoft)
        verdict(ep, AN_TLS_FAILURE, AN_CONF_HIGH, 0,
                "the registry's Microsoft-issued certificate does not verify against the local trust store (%s): update the CA bundle",
                vmsg[0] ? vmsg : "untrusted");
    else
        verdict(ep, AN_PROXY_INTERCEPTION, AN_CONF_HIGH, 0,
                "the explicit proxy opened the tunnel and then presented a certificate issued by \"%s\" that does not verify (%s): it inspects TLS (bumps) the registry's traffic",
                icn[0] ? icn : io, vmsg[0] ? vmsg : "untrusted");
}

static void apply_http(struct an_endpoint *ep, const char *f)
{
    struct an_http_answer a = { .request = "GET /v2/ through the tunnel" };
    char v[32];
    a.status = an_fact_get(f, "status", v, sizeof(v)) ? strtol(v, NULL, 10) : 0;
    a.registry_headers = an_fact_get(f, "registry_headers", v, sizeof(v)) && strcmp(v, "1") == 0;
    a.bearer = an_fact_get(f, "bearer", v, sizeof(v)) && strcmp(v, "1") == 0;
    get(f, "reason", a.reason, sizeof(a.reason));
    get(f, "code", a.code, sizeof(a.code));
    get(f, "message", a.message, sizeof(a.message));
    get(f, "client_ip", a.client_ip, sizeof(a.client_ip));
    if (a.status == 0) {
        add_ev(ep, "proxy_http_no_answer", "probe: GET /v2/ through the tunnel got no HTTP answer");
        return;
    }
    an_http_answer_apply(ep, &a);
}

/* A name the daemon and the shell send different ways. */
static void apply_differ(struct an_report *r, const char *f)
{
    char name[LIM_DNS_NAME], dv[200], dw[200], sv[200], sw[200];
    get(f, "name", name, sizeof(name));
    get(f, "daemon", dv, sizeof(dv));
    get(f, "daemon_why", dw, sizeof(dw));
    get(f, "shell", sv, sizeof(sv));
    get(f, "shell_why", sw, sizeof(sw));
    r->findings |= 1u << AN_F_PROXY_SETTINGS_DIFFER;
    for (unsigned i = 0; i < r->n_endpoints; i++) {
        struct an_endpoint *ep = &r->endpoints[i];
        if (strcasecmp(ep->name, name) != 0)
            continue;
        ep->findings |= 1u << AN_F_PROXY_SETTINGS_DIFFER;
        add_ev(ep, "proxy_settings_differ", "proxy settings differ: the Docker daemon goes %s%s (%s), the shell %s%s (%s): docker push and curl take different paths",
               strcmp(dv, "direct") ? "through " : "", dv, dw, strcmp(sv, "direct") ? "through " : "", sv, sw);
    }
}

/* Which setting sent the name which way (probe/proxycfg.c routes). */
static void apply_route(struct an_report *r, const char *f)
{
    char name[LIM_DNS_NAME], via[200], why[200];
    get(f, "name", name, sizeof(name));
    get(f, "via", via, sizeof(via));
    get(f, "why", why, sizeof(why));
    for (unsigned i = 0; i < r->n_endpoints; i++)
        if (strcasecmp(r->endpoints[i].name, name) == 0)
            add_ev(&r->endpoints[i], "proxy_route", "proxy route of %s: %s%s (%s)", name, strcmp(via, "direct") ? "through " : "", via,
                   why);
}

/* A proxy setting that could not be read or used: said on every endpoint. */
static void apply_setting_note(struct an_report *r, const char *f)
{
    char note[200], problem[200], origin[160];
    get(f, "note", note, sizeof(note));
    get(f, "problem", problem, sizeof(problem));
    get(f, "origin", origin, sizeof(origin));
    for (unsigned i = 0; i < r->n_endpoints; i++) {
        if (note[0])
            add_ev(&r->endpoints[i], "proxy_settings_note", "proxy settings: %s", note);
        if (problem[0])
            add_ev(&r->endpoints[i], "proxy_settings_unusable", "proxy settings: %s names a proxy the probe cannot use: %s", origin, problem);
    }
}

void an_proxy_facts_apply(struct an_report *r, const char *const *facts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_kind(facts[i], "proxy_connect"))
            continue;
        char epstr[80], name[LIM_DNS_NAME], ip[64];
        struct cap_addr a;
        uint16_t port;
        get(facts[i], "name", name, sizeof(name));
        if (!an_fact_get(facts[i], "endpoint", epstr, sizeof(epstr)) || !parse_ep(epstr, &a, &port) || !name[0])
            continue;       /* the proxy's name did not resolve: said below */
        struct an_endpoint *ep = tunnel_ep(r, &a, port, name);
        if (!ep)
            continue;
        cap_addr_str(&a, ip, sizeof(ip));
        apply_connect(ep, facts[i], ip, port);
        for (size_t j = 0; j < n; j++) {
            char en[LIM_DNS_NAME], ee[80];
            get(facts[j], "name", en, sizeof(en));
            get(facts[j], "endpoint", ee, sizeof(ee));
            if (strcmp(en, name) != 0 || strcmp(ee, epstr) != 0)
                continue;
            if (is_kind(facts[j], "proxy_tls"))
                apply_tls(ep, facts[j]);
            else if (is_kind(facts[j], "proxy_http"))
                apply_http(ep, facts[j]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        char res[32], name[LIM_DNS_NAME], host[LIM_DNS_NAME], det[160];
        if (!is_kind(facts[i], "proxy_connect") || !an_fact_get(facts[i], "result", res, sizeof(res)) ||
            strcmp(res, "unresolved") != 0)
            continue;
        get(facts[i], "name", name, sizeof(name));
        get(facts[i], "proxy_host", host, sizeof(host));
        get(facts[i], "detail", det, sizeof(det));
        struct an_endpoint *n2 = realloc(r->endpoints, (r->n_endpoints + 1) * sizeof(*n2));
        if (!n2)
            return;
        r->endpoints = n2;
        struct an_endpoint *ep = &n2[r->n_endpoints++];
        memset(ep, 0, sizeof(*ep));
        snprintf(ep->name, sizeof(ep->name), "%s", name);
        ep->port = 443;
        ep->is_data_endpoint = strstr(name, ".data.") != NULL;
        detail(ep, "dns", "proxy");
        verdict(ep, AN_DNS_FAILURE, AN_CONF_HIGH, 0,
                "the explicit proxy %s that %s goes through does not resolve (%s): nothing could be sent", host, name,
                det);
        add_ev(ep, "proxy_dns_lookup", "probe: lookup of the proxy %s: %s", host, det);
    }
    /* Last: every endpoint the names have is made by now. */
    for (size_t i = 0; i < n; i++) {
        if (is_kind(facts[i], "proxy_differ"))
            apply_differ(r, facts[i]);
        else if (is_kind(facts[i], "proxy_route"))
            apply_route(r, facts[i]);
        else if (is_kind(facts[i], "proxy_setting"))
            apply_setting_note(r, facts[i]);
    }
}
