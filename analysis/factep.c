/* factep.c: the endpoint edits a probe fact makes, shared by every file
 * that applies facts (factapply.h), and the verdict an HTTP answer proves,
 * which the wire's decrypted answers (explain_tls.c) share too.  */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/factapply.h"
#include "analysis/rules.h"

void an_fact_ev(struct an_endpoint *ep, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    an_ev_vadd(ep, kind, fmt, ap);          /* a probe step: no frame */
    va_end(ap);
}

void an_fact_detail(struct an_endpoint *ep, const char *key, const char *value, bool replace)
{
    for (unsigned i = 0; i < ep->n_detail; i++) {
        if (strcmp(ep->detail[i].key, key) == 0) {
            if (replace)
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

void an_fact_verdict(struct an_endpoint *ep, enum an_verdict v, enum an_confidence c, uint32_t candidates,
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

struct an_endpoint *an_fact_new_endpoint(struct an_report *r)
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

struct an_endpoint *an_fact_find_endpoint(struct an_report *r, const struct cap_addr *a, uint16_t port)
{
    for (unsigned i = 0; i < r->n_endpoints; i++)
        if (r->endpoints[i].has_ip && r->endpoints[i].port == port && cap_addr_eq(&r->endpoints[i].ip, a))
            return &r->endpoints[i];
    return NULL;
}

bool an_fact_endpoint_parse(const char *s, struct cap_addr *a, uint16_t *port)
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

bool an_fact_microsoft_issuer(const char *cn, const char *o)
{
    return strcmp(o, "Microsoft Corporation") == 0 || strncmp(cn, "Microsoft ", 10) == 0;
}

/* 401 + Bearer + registry headers is the healthy answer (acr-network-facts.md 3.2). */
void an_http_answer_read(const struct an_fact *f, struct an_http_answer *a)
{
    a->status = an_fact_num(f, AN_K_STATUS, 0);
    a->registry_headers = an_fact_flag(f, AN_K_REGISTRY_HEADERS);
    a->bearer = an_fact_flag(f, AN_K_BEARER);
    an_fact_copy(f, AN_K_REASON, a->reason, sizeof(a->reason));
    an_fact_copy(f, AN_K_CODE, a->code, sizeof(a->code));
    an_fact_copy(f, AN_K_MESSAGE, a->message, sizeof(a->message));
    an_fact_copy(f, AN_K_CLIENT_IP, a->client_ip, sizeof(a->client_ip));
}

void an_http_answer_apply(struct an_endpoint *ep, const struct an_http_answer *a)
{
    char evb[224];
    snprintf(evb, sizeof(evb), "%s answered %ld %s%s%s%s", a->request, a->status, a->reason, a->code[0] ? ", code " : "",
             a->code, a->registry_headers ? ", with registry headers" : ", WITHOUT registry headers");
    an_ev_at(ep, "http_answer", AN_AT(*a), "%s", evb);
    if (ep->verdict != AN_OK && ep->verdict != AN_INCOMPLETE)
        return;
    long status = a->status;
    const char *code = a->code;
    char st[16];
    snprintf(st, sizeof(st), "%ld", status);
    if (!a->registry_headers) {
        an_fact_detail(ep, "http_status", st, true);
        an_fact_verdict(ep, AN_PROXY_INTERCEPTION, AN_CONF_LOW, 0,
                    "%s was answered %ld without the registry's headers (Docker-Distribution-Api-Version, X-Ms-Correlation-Request-Id): something other than the registry answered",
                    a->request, status);
    } else if (status == 403 && strcasecmp(code, "DENIED") == 0) {
        an_fact_detail(ep, "http_status", st, true);
        an_fact_detail(ep, "code", code, true);
        if (a->client_ip[0])
            an_fact_detail(ep, "client_ip", a->client_ip, true);
        an_fact_verdict(ep, AN_REGISTRY_DENIED, AN_CONF_HIGH, 0,
                    "the registry answered 403 DENIED%s%s%s: its IP firewall does not allow the client's egress address, or public network access is disabled",
                    a->client_ip[0] ? " for the client IP " : "", a->client_ip,
                    a->client_ip[0] ? " (the address the registry saw)" : "");
    } else if (strcasecmp(code, "REGISTRY_DISALLOWED_OPERATION") == 0 || strcasestr(a->message, "operation is disallowed")) {
        /* The seed's error 1 (acr-network-facts.md 3.4), whatever the code. */
        an_fact_detail(ep, "http_status", st, true);
        if (code[0])
            an_fact_detail(ep, "code", code, true);
        an_fact_verdict(ep, AN_REGISTRY_WRITE_DISABLED, AN_CONF_HIGH, 0,
                    "the registry answered %s with %ld %s%s%s: \"The operation is disallowed on this registry, repository or image\" (a locked repository or image, or the storage limit)",
                    a->request, status, a->reason, code[0] ? ", code " : "", code);
    } else if (status == 429 || status >= 500 || (status != 401 && status >= 400)) {
        an_fact_detail(ep, "http_status", st, true);
        if (code[0])
            an_fact_detail(ep, "code", code, true);
        an_fact_verdict(ep, AN_REGISTRY_ERROR, AN_CONF_HIGH, 0, "the registry answered %s with %ld %s%s%s", a->request, status,
                    a->reason, code[0] ? ", code " : "", code);
    } else if (status == 401 && a->bearer) {
        if (ep->verdict == AN_INCOMPLETE)
            an_fact_verdict(ep, AN_OK, AN_CONF_MEDIUM, 0,
                        "%s got the registry's 401 Bearer challenge: DNS, TCP 443, TLS and the registry front end work (no capture to show the packets)",
                        a->request);
        else
            snprintf(ep->reason + strlen(ep->reason), sizeof(ep->reason) - strlen(ep->reason),
                     "; %s got the registry's 401 Bearer challenge", a->request);
    }
}
