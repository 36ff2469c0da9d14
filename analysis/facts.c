/* facts.c: probe facts (connect errno, TLS verification, HTTP answer, DNS
 * as c-ares saw it, the differential probes and --control destinations)
 * turned into endpoint verdicts, evidence and the report's controls, on top
 * of what the engine decided from the packets (verdicts.md principle 3).
 * The caller concludes the report afterwards (an_report_conclude).  */
#include <ctype.h>
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine.h"
#include "pushfacts.h"

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

/* kind: the fact's stable name (docs/verdicts.md "Evidence kinds"). */
static void add_ev(struct an_endpoint *ep, const char *kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void add_ev(struct an_endpoint *ep, const char *kind, const char *fmt, ...)
{
    assert(kind && *kind);
    if (ep->n_evidence >= AN_MAX_EVIDENCE)
        return;
    struct an_evidence *ev = &ep->evidence[ep->n_evidence++];
    ev->frame = 0;
    ev->kind = kind;
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
    ep->rule = NULL;                /* the probe's facts decided, not a wire rule */
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
    add_ev(ep, "probe_connect", "connect() to %s:%u: %s", ip, ep->port, res);
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
        add_ev(ep, "probe_tls_ok", "TLS %s with SNI %s completed; chain verification %s%s%s; leaf issued by CN=%s%s%s", ver,
               sni, strcmp(vfy, "ok") == 0 ? "ok" : "FAILED", vmsg[0] ? ": " : "", vmsg, icn, io[0] ? ", O=" : "",
               io);
        /* The wire's low-confidence tls_failure (a client that closed right
         * after a TLS 1.3 handshake, guessed to have rejected the chain) is
         * refuted when the probe's own handshake verified the chain: in a
         * probe run that close is one of its steps ending after its
         * handshake by design.  The HTTP answer then decides.  */
        if (strcmp(vfy, "ok") == 0 && ep->verdict == AN_TLS_FAILURE && ep->confidence == AN_CONF_LOW) {
            add_ev(ep, "wire_tls_failure_overruled", "the wire alone said tls_failure (%.150s); the probe's handshake verified the chain", ep->reason);
            ep->verdict = AN_INCOMPLETE;
            ep->candidates = 0;
            snprintf(ep->reason, sizeof(ep->reason), "the probe's TLS handshake naming %.200s completed with a verified chain", sni);
            return;
        }
        /* A handshake that completed with a foreign, untrusted chain is
         * positive proof of interception; a reset or close the wire saw on
         * another of the probe's connections (e.g. its TLS 1.2 step refused
         * by a TLS 1.3-only proxy) does not outweigh it, and is named.  */
        bool foreign = !microsoft_issuer(icn, io);
        bool wire_reset = ep->verdict == AN_FIREWALL_RESET || ep->verdict == AN_CONNECTION_RESET ||
                          ep->verdict == AN_SERVER_RESET || ep->verdict == AN_TLS_FAILURE;
        if (strcmp(vfy, "ok") == 0 ||
            (ep->verdict != AN_OK && ep->verdict != AN_INCOMPLETE && !(foreign && wire_reset)))
            return;
        if (foreign && wire_reset)
            add_ev(ep, "wire_verdict_other_connection", "the wire alone said %s (%.150s), on another of the probe's connections", an_verdict_name(ep->verdict),
                   ep->reason);
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
    add_ev(ep, "probe_tls_failed", "TLS with SNI %s: %s%s%s", sni, res, det[0] ? ", " : "", det);
    char ctl_sni[256] = "a control name";
    if (ctl && an_fact_get(ctl, "sni", ctl_sni, sizeof(ctl_sni)))
        add_ev(ep, "probe_tls_control_sni", "TLS with the control SNI %s: %s", ctl_sni, ctl_ok ? "completed" : "failed too");
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
void an_http_answer_apply(struct an_endpoint *ep, const struct an_http_answer *a)
{
    char evb[224];
    snprintf(evb, sizeof(evb), "%s answered %ld %s%s%s%s", a->request, a->status, a->reason, a->code[0] ? ", code " : "",
             a->code, a->registry_headers ? ", with registry headers" : ", WITHOUT registry headers");
    if (ep->n_evidence < AN_MAX_EVIDENCE) {
        struct an_evidence *ev = &ep->evidence[ep->n_evidence++];
        memset(ev, 0, sizeof(*ev));
        ev->frame = a->frame;
        ev->kind = "http_answer";
        snprintf(ev->what, sizeof(ev->what), "%s", evb);
    }
    if (ep->verdict != AN_OK && ep->verdict != AN_INCOMPLETE)
        return;
    long status = a->status;
    const char *code = a->code;
    char st[16];
    snprintf(st, sizeof(st), "%ld", status);
    if (!a->registry_headers) {
        set_detail(ep, "http_status", st);
        set_verdict(ep, AN_PROXY_INTERCEPTION, AN_CONF_LOW, 0,
                    "%s was answered %ld without the registry's headers (Docker-Distribution-Api-Version, X-Ms-Correlation-Request-Id): something other than the registry answered",
                    a->request, status);
    } else if (status == 403 && strcasecmp(code, "DENIED") == 0) {
        set_detail(ep, "http_status", st);
        set_detail(ep, "code", code);
        if (a->client_ip[0])
            set_detail(ep, "client_ip", a->client_ip);
        set_verdict(ep, AN_REGISTRY_DENIED, AN_CONF_HIGH, 0,
                    "the registry answered 403 DENIED%s%s%s: its IP firewall does not allow the client's egress address, or public network access is disabled",
                    a->client_ip[0] ? " for the client IP " : "", a->client_ip,
                    a->client_ip[0] ? " (the address the registry saw)" : "");
    } else if (strcasecmp(code, "REGISTRY_DISALLOWED_OPERATION") == 0 || strcasestr(a->message, "operation is disallowed")) {
        /* The seed's error 1 (acr-network-facts.md 3.4), whatever the code. */
        set_detail(ep, "http_status", st);
        if (code[0])
            set_detail(ep, "code", code);
        set_verdict(ep, AN_REGISTRY_WRITE_DISABLED, AN_CONF_HIGH, 0,
                    "the registry answered %s with %ld %s%s%s: \"The operation is disallowed on this registry, repository or image\" (a locked repository or image, or the storage limit)",
                    a->request, status, a->reason, code[0] ? ", code " : "", code);
    } else if (status == 429 || status >= 500 || (status != 401 && status >= 400)) {
        set_detail(ep, "http_status", st);
        if (code[0])
            set_detail(ep, "code", code);
        set_verdict(ep, AN_REGISTRY_ERROR, AN_CONF_HIGH, 0, "the registry answered %s with %ld %s%s%s", a->request, status,
                    a->reason, code[0] ? ", code " : "", code);
    } else if (status == 401 && a->bearer) {
        if (ep->verdict == AN_INCOMPLETE)
            set_verdict(ep, AN_OK, AN_CONF_MEDIUM, 0,
                        "%s got the registry's 401 Bearer challenge: DNS, TCP 443, TLS and the registry front end work (no capture to show the packets)",
                        a->request);
        else
            snprintf(ep->reason + strlen(ep->reason), sizeof(ep->reason) - strlen(ep->reason),
                     "; %s got the registry's 401 Bearer challenge", a->request);
    }
}

static void apply_http(struct an_endpoint *ep, const char *http)
{
    struct an_http_answer a = { .request = "GET /v2/" };
    a.status = fact_num(http, "status", 0);
    a.registry_headers = fact_eq(http, "registry_headers", "1");
    a.bearer = fact_eq(http, "bearer", "1");
    fact_str(http, "reason", a.reason, sizeof(a.reason));
    fact_str(http, "code", a.code, sizeof(a.code));
    fact_str(http, "message", a.message, sizeof(a.message));
    fact_str(http, "client_ip", a.client_ip, sizeof(a.client_ip));
    if (a.status == 0) {
        add_ev(ep, "probe_http_no_answer", "GET /v2/ got no HTTP answer");
        return;
    }
    an_http_answer_apply(ep, &a);
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
                add_ev(ep, "probe_dns_lookup", "DNS lookup of %s via the %s resolver: %s", name, resolver, res);
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
                add_ev(ep, "probe_privatelink_public", "%s resolves through a privatelink CNAME (%s) to the public address %s", name,
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
                add_ev(&r->endpoints[k], "dns_answers_differ", "resolvers disagree on %s: %s answered %s, %s answered %s", ni, ri,
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
        add_ev(ep, "probe_ttl_syns_nearer", "TTL-limited SYNs: port 443 is answered (%s) from %ld hops away, port 80 of the same address (%s) from %ld: something nearer than the server answers for it",
               how, a, how80, b);
    else if (a && b)
        add_ev(ep, "probe_ttl_syns", "TTL-limited SYNs: port 443 answered (%s) at TTL %ld, port 80 (%s) at TTL %ld", how, a, how80, b);
    else if (a)
        add_ev(ep, "probe_ttl_syns", "TTL-limited SYNs: port 443 answered (%s) at TTL %ld", how, a);
}

/* ---- controls and the differential probes ------------------------------------ */

static void strcat_f(char *dst, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Appends to dst, cut (always terminated) when it does not fit. */
static void strcat_f(char *dst, size_t len, const char *fmt, ...)
{
    size_t o = strnlen(dst, len);
    if (o + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst + o, len - o, fmt, ap);
    va_end(ap);
}

/* The probe's --control destinations (fact=control), into r->controls. */
static void take_controls(struct an_report *r, const char *const *facts, size_t n)
{
    for (size_t i = 0; i < n && r->n_controls < AN_MAX_CONTROLS; i++) {
        if (!fact_is(facts[i], "control"))
            continue;
        struct an_control *c = &r->controls[r->n_controls];
        memset(c, 0, sizeof(*c));
        char addr[64], resolved[32], res[64];
        fact_str(facts[i], "given", c->given, sizeof(c->given));
        fact_str(facts[i], "addr", addr, sizeof(addr));
        fact_str(facts[i], "resolved", resolved, sizeof(resolved));
        fact_str(facts[i], "result", res, sizeof(res));
        c->has_ip = cap_addr_parse(addr, &c->ip);
        c->probed = c->has_ip && fact_eq(facts[i], "probed", "1");
        if (!c->has_ip && fact_eq(facts[i], "registry_address", "1")) {
            snprintf(c->result, sizeof(c->result), "resolves only to the registry's own addresses: not used as a control");
        } else if (!c->has_ip) {
            snprintf(c->result, sizeof(c->result), "the name did not resolve (%s): not used as a control",
                     resolved[0] ? resolved : "no answer");
        } else if (!c->probed) {
            snprintf(c->result, sizeof(c->result), "not probed: nothing failed that a control would explain");
        } else {
            bool tcp_answer = strcmp(res, "ok") == 0 || strcmp(res, "ECONNREFUSED") == 0;
            long req = fact_num(facts[i], "echo_requests", 0), rep = fact_num(facts[i], "echo_replies", 0);
            bool seen = fact_eq(facts[i], "capture", "1");
            c->answered = tcp_answer || (seen && rep > 0);
            if (strcmp(res, "ok") == 0)
                snprintf(c->result, sizeof(c->result), "TCP 443 answered with a SYN-ACK in %ld ms",
                         fact_num(facts[i], "ms", 0));
            else if (strcmp(res, "ECONNREFUSED") == 0)
                snprintf(c->result, sizeof(c->result), "TCP 443 answered with a RST (closed port, reachable)");
            else if (fact_eq(facts[i], "local", "1"))
                snprintf(c->result, sizeof(c->result), "TCP 443 could not be sent (%s)", res);
            else if (strcmp(res, "ETIMEDOUT") == 0)
                snprintf(c->result, sizeof(c->result), "TCP 443 got no answer");
            else
                snprintf(c->result, sizeof(c->result), "TCP 443 failed (%s)", res);
            if (!seen)
                strcat_f(c->result, sizeof(c->result), "; ping replies not observed (no capture)");
            else if (req)
                strcat_f(c->result, sizeof(c->result), "; ping: %ld of %ld answered", rep, req);
        }
        r->n_controls++;
    }
    /* A control's own connection, or the DNS lookup of its name, is no
     * endpoint of the registry (unless the name is also a registry name). */
    for (unsigned c = 0; c < r->n_controls; c++) {
        const struct an_control *x = &r->controls[c];
        bool registry_name = false;
        for (size_t i = 0; i < n && !registry_name; i++)
            registry_name = fact_is(facts[i], "dns") && fact_eq(facts[i], "name", x->given);
        for (unsigned i = 0; i < r->n_endpoints;) {
            const struct an_endpoint *ep = &r->endpoints[i];
            if ((x->has_ip && ep->has_ip && cap_addr_eq(&ep->ip, &x->ip)) ||
                (!ep->has_ip && x->given[0] && !registry_name && strcasecmp(ep->name, x->given) == 0)) {
                memmove(&r->endpoints[i], &r->endpoints[i + 1], (r->n_endpoints - i - 1) * sizeof(r->endpoints[0]));
                r->n_endpoints--;
            } else {
                i++;
            }
        }
    }
}

/* What one differential step to the silent address did. */
enum diff_result { DIFF_NOT_TRIED, DIFF_SILENT, DIFF_ANSWERED, DIFF_OTHER };

static enum diff_result port_result(const char *const *facts, size_t n, const char *ip, const struct cap_addr *a,
                                    uint16_t port, char *what, size_t len)
{
    char ep[80], res[64];
    if (a->family == 6)
        snprintf(ep, sizeof(ep), "[%s]:%u", ip, port);
    else
        snprintf(ep, sizeof(ep), "%s:%u", ip, port);
    const char *f = find_fact(facts, n, "connect", ep, "tcp");
    if (!f)
        return DIFF_NOT_TRIED;
    fact_str(f, "result", res, sizeof(res));
    if (fact_eq(f, "local", "1")) {
        snprintf(what, len, "could not be sent (%s)", res);
        return DIFF_OTHER;
    }
    if (strcmp(res, "ok") == 0) {
        snprintf(what, len, "answered with a SYN-ACK");
        return DIFF_ANSWERED;
    }
    if (strcmp(res, "ECONNREFUSED") == 0) {
        snprintf(what, len, "answered with a RST");
        return DIFF_ANSWERED;
    }
    if (strcmp(res, "ETIMEDOUT") == 0) {
        snprintf(what, len, "no SYN-ACK or RST within the wait");
        return DIFF_SILENT;
    }
    snprintf(what, len, "failed with %s", res);
    return DIFF_OTHER;
}

static enum diff_result echo_result(const char *const *facts, size_t n, const char *ip, char *what, size_t len)
{
    const char *f = find_fact(facts, n, "echo", ip, NULL);
    if (!f)
        return DIFF_NOT_TRIED;
    long req = fact_num(f, "requests", 0), rep = fact_num(f, "replies", 0);
    if (req == 0) {
        snprintf(what, len, "could not be sent");
        return DIFF_NOT_TRIED;
    }
    if (!fact_eq(f, "capture", "1")) {
        snprintf(what, len, "%ld requests, replies not observed (no capture)", req);
        return DIFF_OTHER;
    }
    if (rep > 0) {
        snprintf(what, len, "answered (%ld of %ld requests)", rep, req);
        return DIFF_ANSWERED;
    }
    snprintf(what, len, "no reply to %ld requests", req);
    return DIFF_SILENT;
}

/* Inside the /24 (IPv4) or /64 (IPv6) of the server. */
static bool near(const struct cap_addr *a, const struct cap_addr *b)
{
    return a->family == b->family && memcmp(a->a, b->a, a->family == 4 ? 3 : 8) == 0;
}

/* TCP 443 silent: the differential probes (port 80, port 8080, ping of the
 * same address) and the --control destinations decide between an NSG rule
 * and a route with next hop None (verdicts.md nsg_drop, route_blackhole);
 * when they cannot, the reason says what was tried.  */
static void apply_silent(struct an_report *r, struct an_endpoint *ep, const char *const *facts, size_t n)
{
    if (ep->verdict != AN_SILENT_DROP && ep->verdict != AN_ROUTE_BLACKHOLE && ep->verdict != AN_NSG_DROP)
        return;
    char ip[64], w80[96] = "", w8080[96] = "", wecho[96] = "";
    cap_addr_str(&ep->ip, ip, sizeof(ip));
    enum diff_result d80 = port_result(facts, n, ip, &ep->ip, 80, w80, sizeof(w80));
    enum diff_result d8080 = port_result(facts, n, ip, &ep->ip, 8080, w8080, sizeof(w8080));
    enum diff_result decho = echo_result(facts, n, ip, wecho, sizeof(wecho));
    static const char *const label[3] = { "TCP 80", "TCP 8080", "ping" };
    static const char *const kind[3] = { "probe_tcp_80", "probe_tcp_8080", "probe_ping" };
    const char *what[3] = { w80, w8080, wecho };
    enum diff_result res[3] = { d80, d8080, decho };
    for (unsigned k = 0; k < 3; k++)
        if (res[k] != DIFF_NOT_TRIED || what[k][0])
            add_ev(ep, kind[k], "%s to %s: %s", label[k], ip, what[k]);
    const struct an_control *ctl = NULL;
    unsigned n_probed = 0;
    for (unsigned c = 0; c < r->n_controls; c++) {
        const struct an_control *x = &r->controls[c];
        if (!x->probed)
            continue;
        n_probed++;
        char cip[64];
        cap_addr_str(&x->ip, cip, sizeof(cip));
        bool named = strcmp(x->given, cip) != 0, same = near(&x->ip, &ep->ip);
        add_ev(ep, "probe_control", "control %s%s%s%s%s: %s", x->given, named || same ? " (" : "", named ? cip : "",
               same ? (named ? ", same prefix" : "same prefix") : "", named || same ? ")" : "", x->result);
        if (x->answered && !ctl)
            ctl = x;
    }
    bool all_silent = d80 == DIFF_SILENT && d8080 == DIFF_SILENT && decho == DIFF_SILENT;
    /* The wire decided already; to its route_blackhole the probe's own
     * steps add the control as the user gave it.  */
    if (ep->verdict == AN_ROUTE_BLACKHOLE && all_silent && ctl) {
        char cip[64];
        cap_addr_str(&ctl->ip, cip, sizeof(cip));
        strcat_f(ep->reason, sizeof(ep->reason), "; the probe's control %s%s%s answered%s", ctl->given,
                 strcmp(ctl->given, cip) ? " at " : "", strcmp(ctl->given, cip) ? cip : "",
                 near(&ctl->ip, &ep->ip) ? " from the same prefix" : "");
    }
    if (ep->verdict != AN_SILENT_DROP)
        return;

    bool answered = d80 == DIFF_ANSWERED || d8080 == DIFF_ANSWERED || decho == DIFF_ANSWERED;
    if (answered) {
        const char *how = d80 == DIFF_ANSWERED ? w80 : d8080 == DIFF_ANSWERED ? w8080 : wecho;
        set_verdict(ep, AN_NSG_DROP, AN_CONF_HIGH, 0,
                    "TCP 443 to %s got no answer while the same address did (%s): the drop is scoped to the port, as an NSG or ACL rule does",
                    ip, how);
        return;
    }
    if (all_silent && ctl) {
        char cip[64];
        cap_addr_str(&ctl->ip, cip, sizeof(cip));
        set_verdict(ep, AN_ROUTE_BLACKHOLE, AN_CONF_MEDIUM, 0,
                    "nothing sent to %s is answered (TCP 443, TCP 80, TCP 8080, ping) while the control %s%s%s answered%s: the drop is scoped to the destination, as a route with next hop None does. An NSG rule denying every protocol to it looks the same: check the next hop and effective routes in Network Watcher",
                    ip, ctl->given, strcmp(ctl->given, cip) ? " at " : "", strcmp(ctl->given, cip) ? cip : "",
                    near(&ctl->ip, &ep->ip) ? " from the same prefix" : "");
        return;
    }
    /* Still a silent drop: say what was tried and what would settle it. */
    char tried[320] = "";
    for (unsigned k = 0; k < 3; k++) {
        const char *state = res[k] == DIFF_SILENT ? "silent" : res[k] == DIFF_NOT_TRIED ? "not tried" : "not decisive";
        strcat_f(tried, sizeof(tried), "%s%s %s", k ? ", " : "", label[k], state);
        if (res[k] == DIFF_OTHER)
            strcat_f(tried, sizeof(tried), " (%s)", what[k]);
    }
    const char *controls = n_probed ? "and no control destination answered"
                           : r->n_controls ? "and no control destination could be probed"
                                           : "and no --control destination was given";
    set_verdict(ep, AN_SILENT_DROP, ep->confidence, 1u << AN_NSG_DROP | 1u << AN_ROUTE_BLACKHOLE,
                "TCP 443 to %s got no SYN-ACK, RST or ICMP answer; also tried: %s, %s: an NSG rule and a route with next hop None both fit. Probe again with --control naming a host that should answer (in any prefix), or check next hop and NSG diagnostics in Network Watcher",
                ip, tried, controls);
}

static bool silent_verdict(enum an_verdict v)
{
    return v == AN_SILENT_DROP || v == AN_NSG_DROP || v == AN_ROUTE_BLACKHOLE;
}

/* The probe's registry step connected to this address and port, yet the
 * wire calls it silent: the unanswered SYNs were the probe's own TTL-limited
 * ones (they die on the path by design).  The wire's verdict is withdrawn so
 * the TLS and HTTP facts decide.  */
static void unsilence(struct an_endpoint *ep, const char *const *facts, size_t n, const char *endpoint)
{
    const char *ttl = find_fact(facts, n, "ttl", endpoint, NULL);
    ep->verdict = AN_INCOMPLETE;
    ep->candidates = 0;
    ep->confidence = AN_CONF_LOW;
    ep->n_evidence = 0;
    snprintf(ep->reason, sizeof(ep->reason), "the probe's connections decide this endpoint");
    add_ev(ep, "probe_connected_past_syns", "the probe's registry step connected to %s; its unanswered SYNs on the wire were %s", endpoint,
           ttl ? "TTL-limited ones (TTL 1 and up), not a silent drop" : "not the whole story");
}

/* ---- the report ------------------------------------------------------------- */

void an_facts_apply(struct an_report *r, const struct an_options *opt, const char *const *facts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fact_is(facts[i], "run") && fact_eq(facts[i], "uppercase", "1"))
            r->findings |= 1u << AN_F_UPPERCASE_REGISTRY_NAME;
    take_controls(r, facts, n);

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
        if (ep && fact_eq(facts[i], "result", "ok") && silent_verdict(ep->verdict))
            unsilence(ep, facts, n, endpoint);
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
            add_ev(ep, "probe_connect_local_failure", "connect() to %s:%u failed locally: %s", ipbuf, port, res);
            continue;
        }
        apply_ttl(ep, facts, n, endpoint);
        if (!fact_eq(facts[i], "result", "ok")) {
            if (!by_wire)
                decide_from_connect(ep, facts[i], ipbuf);
            apply_silent(r, ep, facts, n);
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
    an_push_facts_apply(r, facts, n);
    an_proxy_facts_apply(r, facts, n);
}
