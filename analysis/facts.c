/* facts.c: probe facts (connect errno, TLS verification, HTTP answer, DNS
 * as c-ares saw it) turned into endpoint verdicts and evidence, on top of
 * what the engine decided from the packets (verdicts.md principle 3).  */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine.h"

#define FACT_VAL 256

static bool plain_byte(unsigned char c)
{
    return isalnum(c) || strchr("._:/@,+*[]-", c) != NULL;
}

void an_fact_escape(char *dst, size_t dstlen, const char *src)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (dstlen == 0)
        return;
    for (const unsigned char *s = (const unsigned char *)src; *s; s++) {
        size_t need = plain_byte(*s) ? 1 : 3;
        if (o + need >= dstlen)
            break;
        if (need == 1) {
            dst[o++] = (char)*s;
        } else {
            dst[o++] = '%';
            dst[o++] = hex[*s >> 4];
            dst[o++] = hex[*s & 15];
        }
    }
    dst[o] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool an_fact_get(const char *fact, const char *key, char *out, size_t outlen)
{
    size_t pl = strlen(AN_FACT_PREFIX), kl = strlen(key);
    if (outlen == 0 || strncmp(fact, AN_FACT_PREFIX, pl) != 0)
        return false;
    const char *p = fact + pl;
    /* Bounded by the line: each turn moves past one token. */
    while (*p) {
        while (*p == ' ')
            p++;
        const char *tok = p;
        while (*p && *p != ' ')
            p++;
        if ((size_t)(p - tok) > kl && strncmp(tok, key, kl) == 0 && tok[kl] == '=') {
            size_t o = 0;
            for (const char *v = tok + kl + 1; v < p && o + 1 < outlen; v++) {
                int hi, lo;
                if (*v == '%' && v + 2 < p + 1 && (hi = hexval(v[1])) >= 0 && (lo = hexval(v[2])) >= 0) {
                    unsigned char c = (unsigned char)(hi << 4 | lo);
                    out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
                    v += 2;
                } else {
                    out[o++] = *v;
                }
            }
            out[o] = '\0';
            return true;
        }
    }
    return false;
}

static bool fact_is(const char *fact, const char *kind)
{
    char v[32];
    return an_fact_get(fact, "fact", v, sizeof(v)) && strcmp(v, kind) == 0;
}

static bool fact_eq(const char *fact, const char *key, const char *want)
{
    char v[FACT_VAL];
    return an_fact_get(fact, key, v, sizeof(v)) && strcmp(v, want) == 0;
}

/* The value of key, or "" when the fact has none. */
static void fact_str(const char *fact, const char *key, char *out, size_t outlen)
{
    if (!an_fact_get(fact, key, out, outlen))
        out[0] = '\0';
}

static long fact_num(const char *fact, const char *key, long dflt)
{
    char v[32];
    if (!an_fact_get(fact, key, v, sizeof(v)))
        return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    return *end || end == v ? dflt : n;
}

/* ---- building endpoints --------------------------------------------------- */

static void add_ev(struct an_endpoint *ep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_ev(struct an_endpoint *ep, const char *fmt, ...)
{
    if (ep->n_evidence >= AN_MAX_EVIDENCE)
        return;
    struct an_evidence *ev = &ep->evidence[ep->n_evidence++];
    ev->frame = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->what, sizeof(ev->what), fmt, ap);
    va_end(ap);
}

static void set_detail(struct an_endpoint *ep, const char *key, const char *value)
{
    for (unsigned i = 0; i < ep->n_detail; i++) {
        if (strcmp(ep->detail[i].key, key) == 0) {
            snprintf(ep->detail[i].value, sizeof(ep->detail[i].value), "%s", value);
            return;
        }
    }
    if (ep->n_detail >= AN_MAX_DETAIL)
        return;
    snprintf(ep->detail[ep->n_detail].key, sizeof(ep->detail[0].key), "%s", key);
    snprintf(ep->detail[ep->n_detail].value, sizeof(ep->detail[0].value), "%s", value);
    ep->n_detail++;
}

static void set_verdict(struct an_endpoint *ep, enum an_verdict v, enum an_confidence c, uint32_t candidates,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void set_verdict(struct an_endpoint *ep, enum an_verdict v, enum an_confidence c, uint32_t candidates,
                        const char *fmt, ...)
{
    ep->verdict = v;
    ep->confidence = c;
    ep->candidates = candidates;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ep->reason, sizeof(ep->reason), fmt, ap);
    va_end(ap);
}

/* "198.19.10.10:443" or "[2001:db8::1]:443". */
static bool parse_endpoint(const char *s, struct cap_addr *a, uint16_t *port)
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
    if (n == 0 || n >= sizeof(host))
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535)
        return false;
    *port = (uint16_t)p;
    return cap_addr_parse(host, a);
}

static struct an_endpoint *find_ep(struct an_report *r, const struct cap_addr *a, uint16_t port)
{
    for (unsigned i = 0; i < r->n_endpoints; i++)
        if (r->endpoints[i].has_ip && r->endpoints[i].port == port && cap_addr_eq(&r->endpoints[i].ip, a))
            return &r->endpoints[i];
    return NULL;
}

static struct an_endpoint *add_ep(struct an_report *r)
{
    struct an_endpoint *n = realloc(r->endpoints, (r->n_endpoints + 1) * sizeof(*n));
    if (!n)
        return NULL;
    r->endpoints = n;
    struct an_endpoint *ep = &n[r->n_endpoints++];
    memset(ep, 0, sizeof(*ep));
    ep->verdict = AN_INCOMPLETE;
    return ep;
}

/* The registry's certificates come from Microsoft CAs (facts section 4). */
static bool microsoft_issuer(const char *cn, const char *o)
{
    return strcmp(o, "Microsoft Corporation") == 0 || strncmp(cn, "Microsoft ", 10) == 0;
}

/* The fact of `kind` for this endpoint and probe step, or NULL. */
static const char *find_fact(const char *const *facts, size_t n, const char *kind, const char *endpoint,
                             const char *step)
{
    for (size_t i = 0; i < n; i++)
        if (fact_is(facts[i], kind) && fact_eq(facts[i], "endpoint", endpoint) &&
            (!step || fact_eq(facts[i], "step", step)))
            return facts[i];
    return NULL;
}

/* An endpoint that no packet decided (no capture): the connect outcome. */
static void decide_from_connect(struct an_endpoint *ep, const char *conn, const char *ip)
{
    char res[64];
    fact_str(conn, "result", res, sizeof(res));
    if (strcmp(res, "ETIMEDOUT") == 0)
        set_verdict(ep, AN_SILENT_DROP, AN_CONF_LOW, 1u << AN_NSG_DROP | 1u << AN_ROUTE_BLACKHOLE,
                    "connect() to %s:%u timed out; without a capture the probe cannot tell an NSG rule from a route with next hop None",
                    ip, ep->port);
    else if (strcmp(res, "ECONNREFUSED") == 0)
        set_verdict(ep, AN_CONNECTION_RESET, AN_CONF_LOW, 1u << AN_FIREWALL_RESET | 1u << AN_SERVER_RESET,
                    "connect() to %s:%u was refused (a RST answered the SYN); without a capture its origin is unknown",
                    ip, ep->port);
    else if (strcmp(res, "EHOSTUNREACH") == 0 || strcmp(res, "ENETUNREACH") == 0 || strcmp(res, "EACCES") == 0)
        set_verdict(ep, AN_ICMP_UNREACHABLE, AN_CONF_MEDIUM, 0,
                    "connect() to %s:%u failed with %s after the SYN left: an ICMP destination unreachable answered it",
                    ip, ep->port, res);
    add_ev(ep, "connect() to %s:%u: %s", ip, ep->port, res);
}

static void apply_tls(struct an_endpoint *ep, const char *tls, const char *ctl, bool decided_by_wire)
{
    char res[32], ver[16], vfy[64], vmsg[160], icn[128], io[128], sni[256], det[160];
    fact_str(tls, "result", res, sizeof(res));
    fact_str(tls, "version", ver, sizeof(ver));
    if (!an_fact_get(tls, "verify", vfy, sizeof(vfy)))
        snprintf(vfy, sizeof(vfy), "none");
    fact_str(tls, "verify_error", vmsg, sizeof(vmsg));
    fact_str(tls, "issuer_cn", icn, sizeof(icn));
    fact_str(tls, "issuer_o", io, sizeof(io));
    fact_str(tls, "sni", sni, sizeof(sni));
    fact_str(tls, "detail", det, sizeof(det));
    bool ctl_ok = ctl && fact_eq(ctl, "result", "ok");

    if (strcmp(res, "ok") == 0) {
        add_ev(ep, "TLS %s with SNI %s completed; chain verification %s%s%s; leaf issued by CN=%s%s%s", ver,
               sni, strcmp(vfy, "ok") == 0 ? "ok" : "FAILED", vmsg[0] ? ": " : "", vmsg, icn, io[0] ? ", O=" : "",
               io);
        if (strcmp(vfy, "ok") == 0 || (ep->verdict != AN_OK && ep->verdict != AN_INCOMPLETE))
            return;
        char issuer[200];
        snprintf(issuer, sizeof(issuer), "CN=%.90s, O=%.90s", icn, io);
        set_detail(ep, "issuer", issuer);
        if (!microsoft_issuer(icn, io))
            set_verdict(ep, AN_PROXY_INTERCEPTION, AN_CONF_HIGH, 0,
                        "the certificate presented for %s was issued by \"%s\" and does not verify (%s): something between the client and the registry terminates TLS",
                        sni, icn[0] ? icn : io, vmsg[0] ? vmsg : "untrusted");
        else
            set_verdict(ep, AN_TLS_FAILURE, AN_CONF_HIGH, 0,
                        "the registry's Microsoft-issued certificate does not verify against the local trust store (%s): update the CA bundle (DigiCert Global Root G2, Microsoft TLS RSA Root G2)",
                        vmsg[0] ? vmsg : "untrusted");
        return;
    }
    add_ev(ep, "TLS with SNI %s: %s%s%s", sni, res, det[0] ? ", " : "", det);
    char ctl_sni[256] = "a control name";
    if (ctl && an_fact_get(ctl, "sni", ctl_sni, sizeof(ctl_sni)))
        add_ev(ep, "TLS with the control SNI %s: %s", ctl_sni, ctl_ok ? "completed" : "failed too");
    bool ended = strcmp(res, "eof") == 0 || strcmp(res, "reset") == 0;
    if (ended && ctl_ok && (ep->verdict == AN_CONNECTION_RESET || !decided_by_wire)) {
        set_verdict(ep, AN_FIREWALL_RESET, AN_CONF_HIGH, 0,
                    "the handshake naming %s was %s while the same address completed one naming %s: a middlebox filters on the SNI",
                    sni, strcmp(res, "eof") == 0 ? "closed" : "reset", ctl_sni);
    } else if (ended && !decided_by_wire) {
        set_verdict(ep, AN_CONNECTION_RESET, AN_CONF_LOW, 1u << AN_FIREWALL_RESET | 1u << AN_SERVER_RESET,
                    "the TLS handshake naming %s was %s before it completed; without a capture its origin is unknown",
                    sni, strcmp(res, "eof") == 0 ? "closed" : "reset");
    } else if (!decided_by_wire) {
        set_verdict(ep, AN_TLS_FAILURE, AN_CONF_LOW, 0, "the TLS handshake naming %s failed: %s%s%s", sni, res,
                    det[0] ? ", " : "", det);
    }
}

/* 401 + Bearer + registry headers is the healthy answer (facts 3.2). */
static void apply_http(struct an_endpoint *ep, const char *http)
{
    char reason[64], code[64], ip[64], msg[200];
    long status = fact_num(http, "status", 0);
    bool reg = fact_eq(http, "registry_headers", "1");
    bool bearer = fact_eq(http, "bearer", "1");
    fact_str(http, "reason", reason, sizeof(reason));
    fact_str(http, "code", code, sizeof(code));
    fact_str(http, "message", msg, sizeof(msg));
    bool client_ip = an_fact_get(http, "client_ip", ip, sizeof(ip));
    if (status == 0) {
        add_ev(ep, "GET /v2/ got no HTTP answer");
        return;
    }
    add_ev(ep, "GET /v2/ answered %ld %s%s%s%s", status, reason, code[0] ? ", code " : "", code,
           reg ? ", with registry headers" : ", WITHOUT registry headers");
    if (ep->verdict != AN_OK && ep->verdict != AN_INCOMPLETE)
        return;
    char st[16];
    snprintf(st, sizeof(st), "%ld", status);
    if (!reg) {
        set_detail(ep, "http_status", st);
        set_verdict(ep, AN_PROXY_INTERCEPTION, AN_CONF_LOW, 0,
                    "GET /v2/ was answered %ld without the registry's headers (Docker-Distribution-Api-Version, X-Ms-Correlation-Request-Id): something other than the registry answered",
                    status);
    } else if (status == 403 && strcasecmp(code, "DENIED") == 0) {
        set_detail(ep, "http_status", st);
        set_detail(ep, "code", code);
        if (client_ip)
            set_detail(ep, "client_ip", ip);
        set_verdict(ep, AN_REGISTRY_DENIED, AN_CONF_HIGH, 0,
                    "the registry answered 403 DENIED%s%s%s: its IP firewall does not allow the client's egress address, or public network access is disabled",
                    client_ip ? " for the client IP " : "", client_ip ? ip : "", client_ip ? " (the address the registry saw)" : "");
    } else if (status == 429 || status >= 500 || strcasecmp(code, "REGISTRY_DISALLOWED_OPERATION") == 0 ||
               strstr(msg, "operation is disallowed") || (status != 401 && status >= 400)) {
        set_detail(ep, "http_status", st);
        if (code[0])
            set_detail(ep, "code", code);
        set_verdict(ep, AN_REGISTRY_ERROR, AN_CONF_HIGH, 0, "the registry answered GET /v2/ with %ld %s%s%s", status,
                    reason, code[0] ? ", code " : "", code);
    } else if (status == 401 && bearer) {
        if (ep->verdict == AN_INCOMPLETE)
            set_verdict(ep, AN_OK, AN_CONF_MEDIUM, 0,
                        "GET /v2/ got the registry's 401 Bearer challenge: DNS, TCP 443, TLS and the registry front end work (no capture to show the packets)");
        else
            snprintf(ep->reason + strlen(ep->reason), sizeof(ep->reason) - strlen(ep->reason),
                     "; GET /v2/ got the registry's 401 Bearer challenge");
    }
}

static bool is_private(const struct an_options *opt, const struct cap_addr *a)
{
    for (unsigned i = 0; i < opt->n_private_nets; i++)
        if (an_prefix_contains(&opt->private_nets[i], a))
            return true;
    return false;
}

/* A privatelink chain ending in a public address (facts 2.4), and DNS
 * failures the capture did not show (no capture, or DNS over another path). */
static void apply_dns(struct an_report *r, const struct an_options *opt, const char *const *facts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!fact_is(facts[i], "dns"))
            continue;
        char name[256], res[32], chain[512], addrs[512], resolver[64];
        fact_str(facts[i], "name", name, sizeof(name));
        fact_str(facts[i], "result", res, sizeof(res));
        if (!an_fact_get(facts[i], "resolver", resolver, sizeof(resolver)))
            snprintf(resolver, sizeof(resolver), "system");
        fact_str(facts[i], "chain", chain, sizeof(chain));
        fact_str(facts[i], "addrs", addrs, sizeof(addrs));
        if (strcmp(res, "ok") != 0) {
            bool have = false;
            for (unsigned j = 0; j < r->n_endpoints; j++)
                have = have || strcasecmp(r->endpoints[j].name, name) == 0;
            struct an_endpoint *ep = NULL;
            for (unsigned j = 0; j < r->n_endpoints && !ep; j++)
                if (r->endpoints[j].verdict == AN_DNS_FAILURE && strcasecmp(r->endpoints[j].name, name) == 0)
                    ep = &r->endpoints[j];
            if (!ep && !have && (ep = add_ep(r)) != NULL) {
                snprintf(ep->name, sizeof(ep->name), "%s", name);
                ep->port = 443;
                ep->is_data_endpoint = strstr(name, ".data.") != NULL;
                set_detail(ep, "dns", res);
                set_verdict(ep, AN_DNS_FAILURE, strcmp(res, "timeout") == 0 ? AN_CONF_MEDIUM : AN_CONF_HIGH, 0,
                            "the %s resolver answered %s for %s", resolver, res, name);
            }
            if (ep)
                add_ev(ep, "DNS lookup of %s via the %s resolver: %s", name, resolver, res);
            continue;
        }
        /* Each address of the answer, comma-separated. */
        bool privatelink = strstr(chain, ".privatelink.") != NULL;
        for (const char *tok = addrs; *tok;) {
            const char *comma = strchr(tok, ',');
            size_t len = comma ? (size_t)(comma - tok) : strlen(tok);
            char one[64];
            struct cap_addr a;
            bool ok = len > 0 && len < sizeof(one);
            if (ok) {
                memcpy(one, tok, len);
                one[len] = '\0';
                ok = cap_addr_parse(one, &a);
            }
            tok += comma ? len + 1 : len;
            if (!ok || !privatelink || is_private(opt, &a))
                continue;
            r->findings |= 1u << AN_F_PRIVATELINK_RESOLVES_PUBLIC;
            struct an_endpoint *ep = find_ep(r, &a, 443);
            if (ep && !(ep->findings & (1u << AN_F_PRIVATELINK_RESOLVES_PUBLIC))) {
                ep->findings |= 1u << AN_F_PRIVATELINK_RESOLVES_PUBLIC;
                add_ev(ep, "%s resolves through a privatelink CNAME (%s) to the public address %s", name,
                       chain, one);
            }
        }
    }
    /* The system resolver and --dns-server disagreeing is a DNS problem
     * in itself (a custom DNS server without the private zone).  */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            char ni[256], nj[256], ai[512], aj[512], ri[64], rj[64];
            if (!fact_is(facts[i], "dns") || !fact_is(facts[j], "dns") ||
                !an_fact_get(facts[i], "name", ni, sizeof(ni)) || !an_fact_get(facts[j], "name", nj, sizeof(nj)) ||
                strcmp(ni, nj) != 0)
                continue;
            fact_str(facts[i], "addrs", ai, sizeof(ai));
            fact_str(facts[j], "addrs", aj, sizeof(aj));
            if (strcmp(ai, aj) == 0)
                continue;
            fact_str(facts[i], "resolver", ri, sizeof(ri));
            fact_str(facts[j], "resolver", rj, sizeof(rj));
            r->findings |= 1u << AN_F_DNS_ANSWERS_DIFFER;
            for (unsigned k = 0; k < r->n_endpoints; k++) {
                if (strcasecmp(r->endpoints[k].name, ni) != 0)
                    continue;
                r->endpoints[k].findings |= 1u << AN_F_DNS_ANSWERS_DIFFER;
                add_ev(&r->endpoints[k], "resolvers disagree on %s: %s answered %s, %s answered %s", ni, ri,
                       ai[0] ? ai : "nothing", rj, aj[0] ? aj : "nothing");
            }
        }
    }
}

/* TTL-limited SYNs (probe): the hop distance of whatever answers on 443
 * against the server's own on another port.  */
static void apply_ttl(struct an_endpoint *ep, const char *const *facts, size_t n, const char *endpoint)
{
    char other[80];
    const char *colon = strrchr(endpoint, ':');
    if (!colon)
        return;
    snprintf(other, sizeof(other), "%.*s:80", (int)(colon - endpoint), endpoint);
    const char *t443 = find_fact(facts, n, "ttl", endpoint, NULL);
    const char *t80 = find_fact(facts, n, "ttl", other, NULL);
    if (!t443)
        return;
    long a = fact_num(t443, "first_answer_ttl", 0), b = t80 ? fact_num(t80, "first_answer_ttl", 0) : 0;
    char how[16] = "", how80[16] = "";
    fact_str(t443, "answer", how, sizeof(how));
    if (t80)
        fact_str(t80, "answer", how80, sizeof(how80));
    if (a && b && a < b)
        add_ev(ep, "TTL-limited SYNs: port 443 is answered (%s) from %ld hops away, port 80 of the same address (%s) from %ld: something nearer than the server answers for it",
               how, a, how80, b);
    else if (a && b)
        add_ev(ep, "TTL-limited SYNs: port 443 answered (%s) at TTL %ld, port 80 (%s) at TTL %ld", how, a, how80, b);
    else if (a)
        add_ev(ep, "TTL-limited SYNs: port 443 answered (%s) at TTL %ld", how, a);
}

/* ---- the report ------------------------------------------------------------- */

void an_facts_apply(struct an_report *r, const struct an_options *opt, const char *const *facts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fact_is(facts[i], "run") && fact_eq(facts[i], "uppercase", "1"))
            r->findings |= 1u << AN_F_UPPERCASE_REGISTRY_NAME;

    /* The registry step of every probed address speaks for its endpoint. */
    for (size_t i = 0; i < n; i++) {
        if (!fact_is(facts[i], "connect") || !fact_eq(facts[i], "step", "registry"))
            continue;
        char endpoint[80], name[256], ipbuf[64];
        struct cap_addr a;
        uint16_t port;
        if (!an_fact_get(facts[i], "endpoint", endpoint, sizeof(endpoint)) || !parse_endpoint(endpoint, &a, &port))
            continue;
        fact_str(facts[i], "name", name, sizeof(name));
        cap_addr_str(&a, ipbuf, sizeof(ipbuf));
        struct an_endpoint *ep = find_ep(r, &a, port);
        bool by_wire = ep && ep->verdict != AN_INCOMPLETE;
        if (!ep && (ep = add_ep(r)) == NULL)
            continue;
        ep->has_ip = true;
        ep->ip = a;
        ep->port = port;
        if (!ep->name[0])
            snprintf(ep->name, sizeof(ep->name), "%s", name);
        ep->is_data_endpoint = strstr(ep->name, ".data.") != NULL;
        if (fact_eq(facts[i], "local", "1")) {
            char res[64];
            fact_str(facts[i], "result", res, sizeof(res));
            set_detail(ep, "errno", res);
            set_verdict(ep, AN_LOCAL_NO_ROUTE, AN_CONF_HIGH, 0,
                        "this host refused to send: connect() to %s:%u failed with %s before any packet left (no route, or a local firewall)",
                        ipbuf, port, res);
            add_ev(ep, "connect() to %s:%u failed locally: %s", ipbuf, port, res);
            continue;
        }
        apply_ttl(ep, facts, n, endpoint);
        if (!fact_eq(facts[i], "result", "ok")) {
            if (!by_wire)
                decide_from_connect(ep, facts[i], ipbuf);
            continue;
        }
        const char *tls = find_fact(facts, n, "tls", endpoint, "registry");
        const char *ctl = find_fact(facts, n, "tls", endpoint, "control_sni");
        if (tls)
            apply_tls(ep, tls, ctl, by_wire);
        const char *http = find_fact(facts, n, "http", endpoint, NULL);
        if (http && (!tls || fact_eq(tls, "result", "ok")))
            apply_http(ep, http);
    }
    apply_dns(r, opt, facts, n);
    an_report_conclude(r, opt);
}
