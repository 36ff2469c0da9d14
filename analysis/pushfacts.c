/* pushfacts.c: the probe's push check (`fact=push` and `fact=pushcheck`
 * lines, probe/push.c) turned into the login server's verdict and
 * evidence: every registry answer in the words of the troubleshooting
 * guide (status, errors[] code and message, the registry's headers, the
 * correlation id support asks for).  Also compares the IP a 403 DENIED
 * names with this host's own addresses (`fact=local`).  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/factapply.h"
#include "analysis/pushfacts.h"

#define VAL 320

/* A detail the answer names (none when it names nothing). */
static void detail(struct an_endpoint *ep, const char *key, const char *value)
{
    if (value[0])
        an_fact_detail(ep, key, value, true);
}

/* One step as evidence: "push check: POST /v2/hello/blobs/uploads/ answered
 * 405 Method Not Allowed, code ..., X-Ms-Correlation-Request-Id ...". */
static void step_evidence(struct an_endpoint *ep, const struct an_fact *f)
{
    char step[32], method[16], path[96], res[32], reason[64], code[64], srv[64], api[40], corr[80], note[96];
    an_fact_copy(f, AN_K_STEP, step, sizeof(step));
    an_fact_copy(f, AN_K_METHOD, method, sizeof(method));
    an_fact_copy(f, AN_K_PATH, path, sizeof(path));
    an_fact_copy(f, AN_K_RESULT, res, sizeof(res));
    an_fact_copy(f, AN_K_REASON, reason, sizeof(reason));
    an_fact_copy(f, AN_K_CODE, code, sizeof(code));
    an_fact_copy(f, AN_K_SERVER, srv, sizeof(srv));
    an_fact_copy(f, AN_K_API_VERSION, api, sizeof(api));
    an_fact_copy(f, AN_K_CORRELATION, corr, sizeof(corr));
    an_fact_copy(f, AN_K_NOTE, note, sizeof(note));
    if (strcmp(res, "answered") != 0) {
        an_fact_ev(ep, "push_step_no_answer", "push check %s: %s %.60s got no answer: %s (%ld ms)", step, method, path, res, an_fact_num(f, AN_K_MS, 0));
        return;
    }
    char hdr[264];  /* the longest header list fits: truncation would cut the correlation id */
    snprintf(hdr, sizeof(hdr), "%s%s%s%s%s%s", api[0] ? ", " : ", no Docker-Distribution-Api-Version", api,
             srv[0] ? ", Server " : "", srv, corr[0] ? ", X-Ms-Correlation-Request-Id " : "", corr);
    an_fact_ev(ep, "push_step_answer", "push check %s: %s %.48s answered %ld %s%s%s%s%s%s%s", step, method, path, an_fact_num(f, AN_K_STATUS, 0), reason,
       code[0] ? ", code " : "", code, hdr, note[0] ? "; credentials: " : "", note,
       an_fact_num(f, AN_K_BODY_CUT, 0) ? "; body cut (read no further)" : "");
}

static bool disallowed(const char *code, const char *msg)
{
    return strcasecmp(code, "REGISTRY_DISALLOWED_OPERATION") == 0 || strcasestr(msg, "operation is disallowed");
}

/* Which of the two causes of "operation is disallowed" the answer points at. */
static const char *disallowed_cause(const char *msg)
{
    if (strcasestr(msg, "quota") || strcasestr(msg, "size limit") || strcasestr(msg, "storage"))
        return "the answer speaks of the storage limit: the registry is full (compare az acr show-usage with the SKU's included storage; delete untagged manifests or move to a larger SKU)";
    return "the answer names no storage limit, so it points at a lock: the repository or image has writeEnabled false (az acr repository show --name <registry> --repository <repo>, changeableAttributes; az acr repository update ... --write-enabled true)";
}

/* The registry's answer to a push step decides the verdict (true), or the
 * step passed (false).  grants: the token's push right, "1", "0" or "unknown". */
static bool judge_answer(struct an_endpoint *ep, const struct an_fact *f, const char *grants, const char *creds)
{
    char step[32], method[16], path[96], code[64], msg[VAL], ip[64], reason[64];
    an_fact_copy(f, AN_K_STEP, step, sizeof(step));
    an_fact_copy(f, AN_K_METHOD, method, sizeof(method));
    an_fact_copy(f, AN_K_PATH, path, sizeof(path));
    an_fact_copy(f, AN_K_CODE, code, sizeof(code));
    an_fact_copy(f, AN_K_MESSAGE, msg, sizeof(msg));
    an_fact_copy(f, AN_K_CLIENT_IP, ip, sizeof(ip));
    an_fact_copy(f, AN_K_REASON, reason, sizeof(reason));
    long st = an_fact_num(f, AN_K_STATUS, 0);
    bool token = strcmp(step, "token") == 0;
    char what[256]; /* method, path, status, reason and code at their longest */
    snprintf(what, sizeof(what), "%s %.60s answered %ld %s%s%s", method, path, st, reason, code[0] ? ", code " : "",
             code);
    char sts[16];
    snprintf(sts, sizeof(sts), "%ld", st);
    if ((st >= 200 && st < 300) || (token && st == 200))
        return false;
    detail(ep, "http_status", sts);
    detail(ep, "code", code);
    char corr[80];
    an_fact_copy(f, AN_K_CORRELATION, corr, sizeof(corr));
    detail(ep, "correlation_id", corr);
    if (disallowed(code, msg)) {
        an_fact_verdict(ep, AN_REGISTRY_WRITE_DISABLED, AN_CONF_HIGH, 0,
                "the push check's %s: \"The operation is disallowed on this registry, repository or image\"; %s", what,
                disallowed_cause(msg));
    } else if (st == 403 && ip[0]) {
        detail(ep, "client_ip", ip);
        an_fact_verdict(ep, AN_REGISTRY_DENIED, AN_CONF_HIGH, 0,
                "the push check's %s for the client IP %s: the registry's IP firewall does not allow this client's egress address, or public network access is disabled",
                what, ip);
    } else if (st == 401 && token) {
        an_fact_verdict(ep, AN_REGISTRY_AUTH_FAILED, AN_CONF_HIGH, 0,
                "the token endpoint refused the credentials (%s): %s; a wrong or expired password, token or refresh token",
                creds, what);
    } else if ((st == 401 || st == 403) && strcmp(grants, "0") == 0) {
        an_fact_verdict(ep, AN_REGISTRY_PUSH_FORBIDDEN, AN_CONF_HIGH, 0,
                "the token endpoint accepted the credentials (%s) but its token grants no push on the repository, and %s: the identity lacks push rights (AcrPush)",
                creds, what);
    } else if (st == 403) {
        an_fact_verdict(ep, AN_REGISTRY_PUSH_FORBIDDEN, AN_CONF_MEDIUM, 0,
                "the push check's %s without the firewall's client-IP words: the credentials (%s) were accepted but the identity may not push (AcrPush or the token's scope map)",
                what, creds);
    } else if (st == 401) {
        an_fact_verdict(ep, AN_REGISTRY_AUTH_FAILED, AN_CONF_MEDIUM, 0,
                "the push check's %s with the token the registry had just issued: the credentials (%s) are not valid for this repository, or the token expired",
                what, creds);
    } else if (st == 404 && token) {
        an_fact_verdict(ep, AN_REGISTRY_ERROR, AN_CONF_MEDIUM, 0,
                "the token endpoint (the challenge's realm) answered 404: the realm is not a token endpoint (a proxy rewriting the challenge, or a wrong registry name)");
    } else if (st == 429) {
        an_fact_verdict(ep, AN_REGISTRY_ERROR, AN_CONF_HIGH, 0,
                "the push check's %s: the registry throttles this client or identity; wait and retry with fewer concurrent requests", what);
    } else if (st >= 500) {
        an_fact_verdict(ep, AN_REGISTRY_ERROR, AN_CONF_HIGH, 0, "the push check's %s: a server error of the registry; retry later and check Azure status (keep the correlation id for support)",
                what);
    } else {
        an_fact_verdict(ep, AN_REGISTRY_ERROR, AN_CONF_MEDIUM, 0, "the push check's %s", what);
    }
    return true;
}

static struct an_endpoint *find_endpoint(struct an_report *r, const char *endpoint)
{
    for (unsigned i = 0; i < r->n_endpoints; i++) {
        struct an_endpoint *ep = &r->endpoints[i];
        char s[80], ip[64];
        if (!ep->has_ip)
            continue;
        cap_addr_str(&ep->ip, ip, sizeof(ip));
        snprintf(s, sizeof(s), ep->ip.family == 6 ? "[%s]:%u" : "%s:%u", ip, ep->port);
        if (strcmp(s, endpoint) == 0)
            return ep;
    }
    return NULL;
}

/* An endpoint for a host only the push check reached (the upload's
 * Location), when no packet made one: no capture, or a name that did not
 * resolve.  Returns its index, or -1.  */
static int add_endpoint(struct an_report *r, const char *endpoint, const char *host, uint16_t port)
{
    struct an_endpoint *ep = an_fact_new_endpoint(r);
    if (!ep)
        return -1;
    snprintf(ep->name, sizeof(ep->name), "%s", host);
    ep->port = port;
    ep->is_data_endpoint = strstr(host, ".data.") != NULL || strstr(host, ".blob.") != NULL;
    char ip[64];
    const char *colon = strrchr(endpoint, ':');
    size_t l = colon ? (size_t)(colon - endpoint) : 0;
    if (l && endpoint[0] == '[' && l >= 2) {
        snprintf(ip, sizeof(ip), "%.*s", (int)(l - 2), endpoint + 1);
    } else {
        snprintf(ip, sizeof(ip), "%.*s", (int)l, endpoint);
    }
    ep->has_ip = l && cap_addr_parse(ip, &ep->ip);
    return (int)(ep - r->endpoints);
}

/* A step to another host that got no answer, without the wire's verdict. */
static void other_host_failed(struct an_endpoint *ep, const struct an_fact *f)
{
    char step[32], res[32], host[256];
    an_fact_copy(f, AN_K_STEP, step, sizeof(step));
    an_fact_copy(f, AN_K_RESULT, res, sizeof(res));
    an_fact_copy(f, AN_K_HOST, host, sizeof(host));
    if (strcmp(step, "resolve") == 0) {
        an_fact_verdict(ep, AN_DNS_FAILURE, AN_CONF_MEDIUM, 0, "the upload's Location names %s, which did not resolve (%s)", host,
                res);
        an_fact_ev(ep, "push_dns_failure", "push check: %s did not resolve: %s", host, res);
    } else if (strcmp(res, "ETIMEDOUT") == 0 || strcmp(res, "timeout") == 0) {
        an_fact_verdict(ep, AN_SILENT_DROP, AN_CONF_LOW, 0,
                "the upload's Location sent the push to %s, and its TCP %u did not answer while the login server's did: without a capture the probe cannot tell an NSG rule from a route",
                host, ep->port);
        ep->candidates = 1u << AN_NSG_DROP | 1u << AN_ROUTE_BLACKHOLE;
    } else {
        an_fact_verdict(ep, strcmp(res, "tls_failed") == 0 ? AN_TLS_FAILURE : AN_CONNECTION_RESET, AN_CONF_LOW, 0,
                "the upload's Location sent the push to %s, which failed: %s", host, res);
    }
}

/* The IP a 403 DENIED names, beside this host's own addresses. */
static void compare_client_ip(struct an_report *r, const struct an_fact *const *facts, size_t n)
{
    const struct an_fact *local = NULL;
    for (size_t i = 0; i < n && !local; i++)
        if (facts[i]->kind == AN_FK_LOCAL)
            local = facts[i];
    if (!local)
        return;
    char addrs[400];
    an_fact_copy(local, AN_K_ADDRS, addrs, sizeof(addrs));
    for (unsigned i = 0; i < r->n_endpoints; i++) {
        struct an_endpoint *ep = &r->endpoints[i];
        const char *ip = NULL;
        for (unsigned d = 0; d < ep->n_detail; d++)
            if (strcmp(ep->detail[d].key, "client_ip") == 0)
                ip = ep->detail[d].value;
        if (ep->verdict != AN_REGISTRY_DENIED || !ip)
            continue;
        bool own = false;
        for (char *save = NULL, *tok = strtok_r(addrs, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            own = own || strcmp(tok, ip) == 0;
        if (own)
            an_fact_ev(ep, "registry_saw_own_address", "the registry saw %s, one of this host's own addresses: add %s to the registry's firewall rules (or use the private endpoint)",
               ip, ip);
        else
            an_fact_ev(ep, "registry_saw_other_address", "the registry saw %s, not one of this host's addresses: the traffic leaves through NAT, a proxy or a firewall with that public address; allow %s, not this host's",
               ip, ip);
        return;
    }
}

void an_push_facts_apply(struct an_report *r, const struct an_options *opt, const struct an_fact *const *facts,
                         size_t n)
{
    const struct an_fact *summary = NULL;
    for (size_t i = 0; i < n; i++)
        if (facts[i]->kind == AN_FK_PUSHCHECK)
            summary = facts[i];
    if (!summary) {
        compare_client_ip(r, facts, n);
        return;
    }
    char creds[64], result[40], cancelled[16], note[200], grants[16] = "unknown";
    an_fact_copy(summary, AN_K_CREDS, creds, sizeof(creds));
    an_fact_copy(summary, AN_K_RESULT, result, sizeof(result));
    an_fact_copy(summary, AN_K_CANCELLED, cancelled, sizeof(cancelled));
    an_fact_copy(summary, AN_K_NOTE, note, sizeof(note));
    if (strcmp(result, "skipped") == 0) {
        /* why=no_tls: the wire's verdict of the login server says why. */
        for (unsigned i = 0; i < r->n_endpoints; i++)
            if (!r->endpoints[i].is_data_endpoint) {
                an_fact_ev(&r->endpoints[i], "push_not_run", "push check not run: no TLS connection to the login server completed");
                break;
            }
        compare_client_ip(r, facts, n);
        return;
    }
    int login_i = -1;
    bool decided = false;
    for (size_t i = 0; i < n; i++) {
        const struct an_fact *f = facts[i];
        if (f->kind != AN_FK_PUSH)
            continue;
        char step[32], res[32], endpoint[80], host[256];
        an_fact_copy(f, AN_K_STEP, step, sizeof(step));
        an_fact_copy(f, AN_K_RESULT, res, sizeof(res));
        an_fact_copy(f, AN_K_ENDPOINT, endpoint, sizeof(endpoint));
        an_fact_copy(f, AN_K_HOST, host, sizeof(host));
        if (strcmp(step, "token_body") == 0)
            an_fact_copy(f, AN_K_GRANTS_PUSH, grants, sizeof(grants));
        struct an_endpoint *ep = endpoint[0] ? find_endpoint(r, endpoint) : login_i >= 0 ? &r->endpoints[login_i] : NULL;
        bool other_failed = login_i >= 0 && strcmp(res, "answered") != 0 && strcmp(res, "ok") != 0 &&
                            (strcmp(step, "resolve") == 0 || strcmp(step, "patch") == 0);
        if (!ep && other_failed && host[0]) {
            int k = add_endpoint(r, endpoint, host, opt->port);
            if (k >= 0) {
                other_host_failed(&r->endpoints[k], f);
                continue;
            }
        }
        if (!ep)
            continue;
        if (strcmp(step, "challenge") == 0 && login_i < 0)
            login_i = (int)(ep - r->endpoints);
        struct an_endpoint *login = login_i >= 0 ? &r->endpoints[login_i] : NULL;
        bool open = ep->verdict == AN_OK || ep->verdict == AN_INCOMPLETE;
        if (endpoint[0])
            step_evidence(ep, f);
        if (!open || decided || (ep != login && strcmp(res, "answered") != 0))
            continue;               /* the wire decided that endpoint, or a step before this one */
        char val[VAL];
        if (strcmp(step, "challenge_parse") == 0) {
            an_fact_copy(f, AN_K_VALUE, val, sizeof(val));
            an_fact_verdict(ep, AN_REGISTRY_ERROR, AN_CONF_MEDIUM, 0,
                    "the 401 challenge of GET /v2/ cannot be parsed (WWW-Authenticate: %.160s): a client cannot find the token endpoint; something between rewrote it, or it is not the registry",
                    val);
            decided = true;
        } else if (strcmp(step, "realm") == 0 || strcmp(step, "location") == 0) {
            if (strcmp(res, "not_followed") != 0)
                continue;
            an_fact_copy(f, step[0] == 'r' ? AN_K_REALM : AN_K_LOCATION, val, sizeof(val));
            char why[120];
            an_fact_copy(f, AN_K_WHY, why, sizeof(why));
            an_fact_verdict(ep, AN_REGISTRY_ERROR, AN_CONF_LOW, 0,
                    "the registry's %s points to %.160s%s%s: not followed (only https on 443 to *.azurecr.io, *.blob.core.windows.net or the probed names is); a proxy or a wrong configuration rewrote it",
                    step[0] == 'r' ? "challenge realm" : "upload Location", val, why[0] ? ", " : "", why);
            decided = true;
        } else if (strcmp(step, "token_body") == 0 && strcmp(res, "ok") != 0) {
            an_fact_copy(f, AN_K_CONTENT_TYPE, val, sizeof(val));
            an_fact_verdict(ep, AN_REGISTRY_ERROR, AN_CONF_MEDIUM, 0,
                    "the token endpoint answered 200 without a token (%s%s): %s",
                    strcmp(res, "not_json") == 0 ? "not JSON, Content-Type " : "JSON without access_token", val,
                    strcmp(res, "not_json") == 0 ? "an HTML page from a proxy or a login portal answered, not the registry" : "not the registry's token endpoint");
            decided = true;
        } else if (strcmp(res, "answered") == 0 && strcmp(step, "challenge") != 0) {
            /* The challenge is GET /v2/: the prober's own fact judged it. */
            decided = judge_answer(ep, f, grants, creds);
        } else if (strcmp(step, "patch") == 0 && ep == login) {
            an_fact_verdict(ep, AN_SILENT_DROP, AN_CONF_LOW, 0,
                    "the push check's %u-byte PATCH got no answer (%s) while the small requests before it passed on the same address: full-size segments vanish (an MTU black hole) or a proxy holds large bodies",
                    (unsigned)an_fact_num(summary, AN_K_PATCH_BYTES, 0), res);
            ep->candidates = 1u << AN_MTU_BLACKHOLE;
            decided = true;
        }
    }
    struct an_endpoint *login = login_i >= 0 ? &r->endpoints[login_i] : NULL;
    if (!login)
        return;
    if (strcmp(cancelled, "yes") == 0)
        an_fact_ev(login, "push_upload_cancelled", "push check: the upload was cancelled (DELETE answered 2xx); nothing stays in the registry");
    else if (strcmp(cancelled, "no") == 0)
        an_fact_ev(login, "push_upload_not_cancelled", "push check: the upload could NOT be cancelled; the registry drops it when it expires");
    if (note[0])
        an_fact_ev(login, "push_credentials", "push check credentials: %s (%s)", creds, note);
    char patch[40];
    an_fact_copy(summary, AN_K_PATCH, patch, sizeof(patch));
    if (login->verdict == AN_OK && strcmp(result, "walked") == 0 && !decided) {
        size_t l = strlen(login->reason);
        if (strcmp(patch, "answered") == 0)
            snprintf(login->reason + l, sizeof(login->reason) - l,
                     "; the push check got a token (%s), started an upload, sent a %ld-byte PATCH and %s the upload",
                     creds, an_fact_num(summary, AN_K_PATCH_BYTES, 0), strcmp(cancelled, "yes") == 0 ? "cancelled" : "tried to cancel");
        else
            snprintf(login->reason + l, sizeof(login->reason) - l,
                     "; the push check got a token (%s) and started an upload, but its %ld-byte PATCH to the upload's Location failed (%s); the upload was %scancelled",
                     creds, an_fact_num(summary, AN_K_PATCH_BYTES, 0), patch, strcmp(cancelled, "yes") == 0 ? "" : "NOT ");
    }
    compare_client_ip(r, facts, n);
}
