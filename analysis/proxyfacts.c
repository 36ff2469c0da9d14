/* proxyfacts.c: the probe's explicit-proxy facts (probe/proxy.c) on the
 * report: the CONNECT through the proxy, the TLS and GET /v2/ through the
 * tunnel, and the settings that chose the route.  An endpoint through a
 * proxy is the CONNECT target at the proxy's address and port, as the wire
 * makes it (engine.c); what the packets decided stands, the facts decide
 * what they could not (no capture, a tunnel whose TLS looked fine).  */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "analysis/factapply.h"

/* The endpoint `name` through the proxy at a:port (the wire's, or a new one). */
static struct an_endpoint *tunnel_ep(struct an_report *r, const struct cap_addr *a, uint16_t port, const char *name)
{
    for (unsigned i = 0; i < r->n_endpoints; i++) {
        struct an_endpoint *ep = &r->endpoints[i];
        if (ep->has_ip && ep->port == port && cap_addr_eq(&ep->ip, a) && strcasecmp(ep->name, name) == 0)
            return ep;
    }
    struct an_endpoint *ep = an_fact_new_endpoint(r);
    if (!ep)
        return NULL;
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

/* The CONNECT and the proxy's answer. */
static void apply_connect(struct an_endpoint *ep, const struct an_fact *f, const char *ip, uint16_t port,
                          unsigned target)
{
    char name[LIM_DNS_NAME], res[32], proxy[200], reason[64], auth[64], via[96], server[64], pp[80];
    an_fact_copy(f, AN_K_NAME, name, sizeof(name));
    an_fact_copy(f, AN_K_RESULT, res, sizeof(res));
    an_fact_copy(f, AN_K_PROXY, proxy, sizeof(proxy));
    an_fact_copy(f, AN_K_REASON, reason, sizeof(reason));
    an_fact_copy(f, AN_K_PROXY_AUTHENTICATE, auth, sizeof(auth));
    an_fact_copy(f, AN_K_VIA, via, sizeof(via));
    an_fact_copy(f, AN_K_SERVER, server, sizeof(server));
    long status = an_fact_num(f, AN_K_STATUS, 0);
    long waited = an_fact_num(f, AN_K_WAITED_MS, 0);
    snprintf(pp, sizeof(pp), strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, port);
    /* The wire's evidence names the CONNECT and its reply already. */
    bool wire_saw = false;
    for (unsigned i = 0; i < ep->n_detail; i++)
        wire_saw = wire_saw || strcmp(ep->detail[i].key, "proxy") == 0;
    an_fact_detail(ep, "proxy", pp, false);
    bool decide = undecided(ep);
    if (strcmp(res, "replied") == 0) {
        if (!wire_saw)
                an_fact_ev(ep, "proxy_connect_answer", "probe: CONNECT %s:%u through the proxy %s answered %ld %s%s%s%s%s%s%s", name, target, proxy, status,
                   reason, auth[0] ? ", Proxy-Authenticate: " : "", auth, server[0] ? ", Server: " : "", server,
                   via[0] ? ", Via: " : "", via);
        if (status >= 200 && status < 300)
            return;
        if (!decide)
            return;
        char st[16];
        snprintf(st, sizeof(st), "%ld", status);
        an_fact_detail(ep, "http_status", st, false);
        if (auth[0])
            an_fact_detail(ep, "proxy_authenticate", auth, false);
        const char *why = status == 407 ? "it requires proxy authentication and the client sent none it accepts"
                        : status == 403 ? "its policy forbids a tunnel to this name"
                        : status >= 500 ? "it could not open the connection to the registry itself"
                                        : "it refused the request";
        an_fact_verdict(ep, AN_PROXY_REFUSED, AN_CONF_HIGH, 0,
                "the explicit proxy %s port %u answered the CONNECT to %s:%u with %ld %s: %s", ip, port, name, target, status,
                reason, why);
        return;
    }
    if (strcmp(res, "closed") == 0 || strcmp(res, "reset") == 0 || strcmp(res, "no_reply") == 0 ||
        strcmp(res, "not_http") == 0) {
        const char *what = strcmp(res, "no_reply") == 0 ? "never answered"
                           : strcmp(res, "not_http") == 0 ? "answered with bytes that are no HTTP reply to"
                           : strcmp(res, "reset") == 0 ? "reset the connection without answering"
                                                       : "closed the connection without answering";
        an_fact_ev(ep, "proxy_connect_no_answer", "probe: the proxy %s %s the CONNECT to %s:%u (%.1f s)", proxy, what, name, target, (double)waited / 1000);
        if (decide) {
            an_fact_detail(ep, "http_status", "none", false);
            an_fact_verdict(ep, AN_PROXY_REFUSED, AN_CONF_MEDIUM, 0,
                    "the explicit proxy %s port %u %s the CONNECT to %s:%u (%.1f s): it refused the tunnel, could not reach the registry itself, or holds the request",
                    ip, port, what, name, target, (double)waited / 1000);
        }
        return;
    }
    /* The proxy itself could not be reached. */
    an_fact_ev(ep, "proxy_tcp", "probe: TCP to the proxy %s: %s", proxy, res);
    if (!decide)
        return;
    if (an_fact_flag(f, AN_K_LOCAL))
        an_fact_verdict(ep, AN_LOCAL_NO_ROUTE, AN_CONF_HIGH, 0,
                "this host refused to send: connect() to the proxy %s port %u failed with %s before any packet left", ip,
                port, res);
    else if (strcmp(res, "ECONNREFUSED") == 0)
        an_fact_verdict(ep, AN_CONNECTION_RESET, AN_CONF_MEDIUM, 1u << AN_FIREWALL_RESET | 1u << AN_SERVER_RESET,
                "the proxy %s port %u refused the connection (a RST answered the SYN): nothing listens there, or a firewall resets it",
                ip, port);
    else if (strcmp(res, "ETIMEDOUT") == 0)
        an_fact_verdict(ep, AN_SILENT_DROP, AN_CONF_LOW, 1u << AN_NSG_DROP | 1u << AN_ROUTE_BLACKHOLE,
                "the proxy %s port %u never answered the TCP handshake: the proxy setting names an address this host cannot reach",
                ip, port);
    else
        an_fact_verdict(ep, AN_ICMP_UNREACHABLE, AN_CONF_MEDIUM, 0, "connect() to the proxy %s port %u failed with %s", ip, port,
                res);
}

/* TLS through the tunnel: a bumping proxy shows its own CA. */
static void apply_tls(struct an_endpoint *ep, const struct an_fact *f)
{
    char res[32], ver[16], vfy[32], vmsg[160], icn[128], io[128], det[160];
    an_fact_copy(f, AN_K_RESULT, res, sizeof(res));
    an_fact_copy(f, AN_K_VERSION, ver, sizeof(ver));
    an_fact_copy(f, AN_K_VERIFY, vfy, sizeof(vfy));
    an_fact_copy(f, AN_K_VERIFY_ERROR, vmsg, sizeof(vmsg));
    an_fact_copy(f, AN_K_ISSUER_CN, icn, sizeof(icn));
    an_fact_copy(f, AN_K_ISSUER_O, io, sizeof(io));
    an_fact_copy(f, AN_K_DETAIL, det, sizeof(det));
    if (strcmp(res, "ok") != 0) {
        an_fact_ev(ep, "proxy_tls_failed", "probe: TLS through the tunnel: %s%s%s", res, det[0] ? ", " : "", det);
        if (undecided(ep))
            an_fact_verdict(ep, AN_TLS_FAILURE, AN_CONF_LOW, 0,
                    "the proxy opened the tunnel, but the TLS handshake through it failed: %s%s%s", res,
                    det[0] ? ", " : "", det);
        return;
    }
    bool ok = strcmp(vfy, "ok") == 0;
    an_fact_ev(ep, "proxy_tls_ok", "probe: TLS %s through the tunnel completed; chain verification %s%s%s; leaf issued by CN=%s%s%s", ver,
           ok ? "ok" : "FAILED", vmsg[0] ? ": " : "", vmsg, icn, io[0] ? ", O=" : "", io);
    if (ok || !undecided(ep))
        return;
    char issuer[200];
    snprintf(issuer, sizeof(issuer), "CN=%.90s, O=%.90s", icn, io);
    an_fact_detail(ep, "issuer", issuer, false);
    if (an_fact_microsoft_issuer(icn, io))
        an_fact_verdict(ep, AN_TLS_FAILURE, AN_CONF_HIGH, 0,
                "the registry's Microsoft-issued certificate does not verify against the local trust store (%s): update the CA bundle",
                vmsg[0] ? vmsg : "untrusted");
    else
        an_fact_verdict(ep, AN_PROXY_INTERCEPTION, AN_CONF_HIGH, 0,
                "the explicit proxy opened the tunnel and then presented a certificate issued by \"%s\" that does not verify (%s): it inspects TLS (bumps) the registry's traffic",
                icn[0] ? icn : io, vmsg[0] ? vmsg : "untrusted");
}

static void apply_http(struct an_endpoint *ep, const struct an_fact *f)
{
    struct an_http_answer a = { .request = "GET /v2/ through the tunnel" };
    an_http_answer_read(f, &a);
    if (a.status == 0) {
        an_fact_ev(ep, "proxy_http_no_answer", "probe: GET /v2/ through the tunnel got no HTTP answer");
        return;
    }
    an_http_answer_apply(ep, &a);
}

/* A name the daemon and the shell send different ways. */
static void apply_differ(struct an_report *r, const struct an_fact *f)
{
    char name[LIM_DNS_NAME], dv[200], dw[200], sv[200], sw[200];
    an_fact_copy(f, AN_K_NAME, name, sizeof(name));
    an_fact_copy(f, AN_K_DAEMON, dv, sizeof(dv));
    an_fact_copy(f, AN_K_DAEMON_WHY, dw, sizeof(dw));
    an_fact_copy(f, AN_K_SHELL, sv, sizeof(sv));
    an_fact_copy(f, AN_K_SHELL_WHY, sw, sizeof(sw));
    r->findings |= 1u << AN_F_PROXY_SETTINGS_DIFFER;
    for (unsigned i = 0; i < r->n_endpoints; i++) {
        struct an_endpoint *ep = &r->endpoints[i];
        if (strcasecmp(ep->name, name) != 0)
            continue;
        ep->findings |= 1u << AN_F_PROXY_SETTINGS_DIFFER;
        an_fact_ev(ep, "proxy_settings_differ", "proxy settings differ: the Docker daemon goes %s%s (%s), the shell %s%s (%s): docker push and curl take different paths",
               strcmp(dv, "direct") ? "through " : "", dv, dw, strcmp(sv, "direct") ? "through " : "", sv, sw);
    }
}

/* Which setting sent the name which way (probe/proxycfg.c routes). */
static void apply_route(struct an_report *r, const struct an_fact *f)
{
    char name[LIM_DNS_NAME], via[200], why[200];
    an_fact_copy(f, AN_K_NAME, name, sizeof(name));
    an_fact_copy(f, AN_K_VIA, via, sizeof(via));
    an_fact_copy(f, AN_K_WHY, why, sizeof(why));
    for (unsigned i = 0; i < r->n_endpoints; i++)
        if (strcasecmp(r->endpoints[i].name, name) == 0)
            an_fact_ev(&r->endpoints[i], "proxy_route", "proxy route of %s: %s%s (%s)", name, strcmp(via, "direct") ? "through " : "", via,
                   why);
}

/* A proxy setting that could not be read or used: said on every endpoint. */
static void apply_setting_note(struct an_report *r, const struct an_fact *f)
{
    char note[200], problem[200], origin[160];
    an_fact_copy(f, AN_K_NOTE, note, sizeof(note));
    an_fact_copy(f, AN_K_PROBLEM, problem, sizeof(problem));
    an_fact_copy(f, AN_K_ORIGIN, origin, sizeof(origin));
    for (unsigned i = 0; i < r->n_endpoints; i++) {
        if (note[0])
            an_fact_ev(&r->endpoints[i], "proxy_settings_note", "proxy settings: %s", note);
        if (problem[0])
            an_fact_ev(&r->endpoints[i], "proxy_settings_unusable", "proxy settings: %s names a proxy the probe cannot use: %s", origin, problem);
    }
}

void an_proxy_facts_apply(struct an_report *r, const struct an_options *opt, const struct an_fact *const *facts,
                          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (facts[i]->kind != AN_FK_PROXY_CONNECT)
            continue;
        char epstr[80], name[LIM_DNS_NAME], ip[64];
        struct cap_addr a;
        uint16_t port;
        an_fact_copy(facts[i], AN_K_NAME, name, sizeof(name));
        an_fact_copy(facts[i], AN_K_ENDPOINT, epstr, sizeof(epstr));
        if (!an_fact_has(facts[i], AN_K_ENDPOINT) || !an_fact_endpoint_parse(epstr, &a, &port) || !name[0])
            continue;       /* the proxy's name did not resolve: said below */
        struct an_endpoint *ep = tunnel_ep(r, &a, port, name);
        if (!ep)
            continue;
        cap_addr_str(&a, ip, sizeof(ip));
        apply_connect(ep, facts[i], ip, port, opt->port);
        for (size_t j = 0; j < n; j++) {
            char en[LIM_DNS_NAME], ee[80];
            an_fact_copy(facts[j], AN_K_NAME, en, sizeof(en));
            an_fact_copy(facts[j], AN_K_ENDPOINT, ee, sizeof(ee));
            if (strcmp(en, name) != 0 || strcmp(ee, epstr) != 0)
                continue;
            if (facts[j]->kind == AN_FK_PROXY_TLS)
                apply_tls(ep, facts[j]);
            else if (facts[j]->kind == AN_FK_PROXY_HTTP)
                apply_http(ep, facts[j]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        char name[LIM_DNS_NAME], host[LIM_DNS_NAME], det[160];
        if (facts[i]->kind != AN_FK_PROXY_CONNECT || !an_fact_eq(facts[i], AN_K_RESULT, "unresolved"))
            continue;
        an_fact_copy(facts[i], AN_K_NAME, name, sizeof(name));
        an_fact_copy(facts[i], AN_K_PROXY_HOST, host, sizeof(host));
        an_fact_copy(facts[i], AN_K_DETAIL, det, sizeof(det));
        struct an_endpoint *ep = an_fact_new_endpoint(r);
        if (!ep)
            return;
        snprintf(ep->name, sizeof(ep->name), "%s", name);
        ep->port = opt->port;
        ep->is_data_endpoint = strstr(name, ".data.") != NULL;
        an_fact_detail(ep, "dns", "proxy", false);
        an_fact_verdict(ep, AN_DNS_FAILURE, AN_CONF_HIGH, 0,
                "the explicit proxy %s that %s goes through does not resolve (%s): nothing could be sent", host, name,
                det);
        an_fact_ev(ep, "proxy_dns_lookup", "probe: lookup of the proxy %s: %s", host, det);
    }
    /* Last: every endpoint the names have is made by now. */
    for (size_t i = 0; i < n; i++) {
        if (facts[i]->kind == AN_FK_PROXY_DIFFER)
            apply_differ(r, facts[i]);
        else if (facts[i]->kind == AN_FK_PROXY_ROUTE)
            apply_route(r, facts[i]);
        else if (facts[i]->kind == AN_FK_PROXY_SETTING)
            apply_setting_note(r, facts[i]);
    }
}
