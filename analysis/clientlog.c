/* clientlog.c: the client's own words: the lines a push client printed that
 * name a known failure, and whether each agrees with the wire's verdict
 * (acr-network-facts.md section 3 for the registry's messages).  */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "analysis/clientlog.h"

#define V(x) (1u << (x))

/* The wire verdicts that show a timeout's cause: nothing answered. */
#define SILENT (V(AN_SILENT_DROP) | V(AN_NSG_DROP) | V(AN_ROUTE_BLACKHOLE) | V(AN_MTU_BLACKHOLE))
#define RESETS (V(AN_CONNECTION_RESET) | V(AN_FIREWALL_RESET) | V(AN_SERVER_RESET))

struct pattern {
    const char *needle;
    bool exact_case;        /* EOF: the word, as Go prints it */
    bool word;              /* not inside a longer word */
};

struct kind_def {
    const char *name;
    struct pattern pat[4];
    uint32_t agree;         /* wire verdicts that show the same cause */
    bool inside_tls;        /* an answer of the registry: the wire sees a working path */
    enum an_verdict decides;    /* when the wire shows no fault; AN_VERDICT_COUNT: none */
    const char *saw;        /* "the client saw ..." */
};

/* The table of known messages, in the order tried (the most specific first:
 * "proxyconnect tcp: dial tcp ...: i/o timeout" is the proxy's).  */
static const struct kind_def kinds[CL_KIND_COUNT] = {
    [CL_OPERATION_DISALLOWED] = {
        "operation_disallowed",
        { { "operation is disallowed on this registry", false, false },
          { "REGISTRY_DISALLOWED_OPERATION", false, false } },
        V(AN_REGISTRY_WRITE_DISABLED) | V(AN_REGISTRY_ERROR), true, AN_REGISTRY_WRITE_DISABLED,
        "the registry refuse the write (operation disallowed: a locked repository or image, or the storage limit)" },
    [CL_REGISTRY_IP_DENIED] = {
        "registry_ip_denied",
        { { "client with IP", false, false } },
        V(AN_REGISTRY_DENIED), true, AN_REGISTRY_DENIED,
        "the registry's own firewall deny its IP (403 DENIED)" },
    [CL_REGISTRY_ACCESS_DENIED] = {
        "registry_access_denied",
        { { "requested access to the resource is denied", false, false },
          { "insufficient_scope", false, false },
          /* skopeo and podman print a 403 DENIED's code alone: "...: denied" */
          { ": denied", false, false } },
        V(AN_REGISTRY_PUSH_FORBIDDEN), true, AN_REGISTRY_PUSH_FORBIDDEN,
        "the registry refuse the push to its identity (no push right: AcrPush missing)" },
    [CL_REGISTRY_FORBIDDEN] = {
        "registry_forbidden",
        { { "status code from registry 403", false, false }, { "403 (Forbidden)", false, false } },
        V(AN_REGISTRY_DENIED), true, AN_REGISTRY_DENIED,
        "the registry answer 403 Forbidden without saying why (skopeo and podman print no more: the registry's firewall, or a missing role)" },
    [CL_INVALID_CREDENTIALS] = {
        "invalid_credentials",
        { { "invalid username/password", false, false }, { "incorrect username or password", false, false } },
        V(AN_REGISTRY_AUTH_FAILED), true, AN_REGISTRY_AUTH_FAILED,
        "the token endpoint refuse its user name and password (401)" },
    [CL_UNAUTHORIZED] = {
        "unauthorized",
        { { "unauthorized: authentication required", false, false } },
        V(AN_REGISTRY_AUTH_FAILED) | V(AN_REGISTRY_PUSH_FORBIDDEN), true, AN_REGISTRY_AUTH_FAILED,
        "the registry refuse its credentials (401)" },
    [CL_TOO_MANY_REQUESTS] = {
        "too_many_requests",
        { { "toomanyrequests", false, false } },
        V(AN_REGISTRY_ERROR), true, AN_REGISTRY_ERROR,
        "the registry throttle it (429 TOOMANYREQUESTS)" },
    [CL_BLOB_UPLOAD_UNKNOWN] = {
        "blob_upload_unknown",
        { { "blob upload unknown", false, false }, { "BLOB_UPLOAD_UNKNOWN", false, false } },
        V(AN_REGISTRY_ERROR), true, AN_VERDICT_COUNT,
        "the registry lose its upload session (BLOB_UPLOAD_UNKNOWN)" },
    [CL_CERTIFICATE_UNKNOWN_AUTHORITY] = {
        "certificate_unknown_authority",
        { { "certificate signed by unknown authority", false, false } },
        V(AN_PROXY_INTERCEPTION) | V(AN_TLS_FAILURE), false, AN_VERDICT_COUNT,
        "a certificate it does not trust" },
    [CL_PROXY_CONNECT] = {
        "proxy_connect",
        { { "proxyconnect tcp", false, false } },
        V(AN_PROXY_REFUSED) | V(AN_PROXY_INTERCEPTION) | V(AN_DNS_FAILURE) | V(AN_ICMP_UNREACHABLE) | SILENT | RESETS,
        false, AN_VERDICT_COUNT,
        "its proxy fail to connect" },
    [CL_NO_SUCH_HOST] = {
        "no_such_host",
        { { "no such host", false, false } },
        V(AN_DNS_FAILURE), false, AN_VERDICT_COUNT,
        "a name not resolve" },
    [CL_TLS_HANDSHAKE_TIMEOUT] = {
        "tls_handshake_timeout",
        { { "TLS handshake timeout", false, false } },
        SILENT | V(AN_TLS_FAILURE) | V(AN_PROXY_REFUSED), false, AN_VERDICT_COUNT,
        "the TLS handshake time out" },
    [CL_TIMEOUT] = {
        "timeout",
        { { "Client.Timeout exceeded", false, false },
          { "request canceled while waiting for connection", false, false },
          { "i/o timeout", false, false },
          { "context deadline exceeded", false, false } },
        SILENT | V(AN_PROXY_REFUSED), false, AN_VERDICT_COUNT,
        "a timeout" },
    [CL_CONNECTION_RESET] = {
        "connection_reset",
        { { "connection reset by peer", false, false } },
        RESETS, false, AN_VERDICT_COUNT,
        "the connection reset" },
    [CL_EOF] = {
        "eof",
        { { "EOF", true, true } },
        RESETS | V(AN_TLS_FAILURE) | V(AN_PROXY_REFUSED) | V(AN_PROXY_INTERCEPTION), false, AN_VERDICT_COUNT,
        "the connection end early (EOF)" },
};

const char *cl_kind_name(enum cl_kind k)
{
    return (unsigned)k < CL_KIND_COUNT ? kinds[k].name : "unknown";
}

const char *cl_agreement_name(enum cl_agreement a)
{
    switch (a) {
    case CL_AGREES: return "agrees";
    case CL_ADDS: return "adds";
    case CL_DISAGREES: return "disagrees";
    case CL_UNDECIDED: return "undecided";
    }
    return "unknown";
}

void cl_init(struct an_client *c, const char *source, bool from_command)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->source, sizeof(c->source), "%s", source ? source : "");
    c->from_command = from_command;
    c->decided = AN_VERDICT_COUNT;
}

static bool is_word_byte(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}

static const char *find(const char *line, size_t n, const struct pattern *p)
{
    size_t k = strlen(p->needle);
    for (size_t i = 0; i + k <= n; i++) {
        if (p->exact_case ? memcmp(line + i, p->needle, k) != 0 : strncasecmp(line + i, p->needle, k) != 0)
            continue;
        if (p->word && ((i > 0 && is_word_byte(line[i - 1])) || (i + k < n && is_word_byte(line[i + k]))))
            continue;
        return line + i;
    }
    return NULL;
}

/* The IP between quotes after "client with IP", as ACR writes it. */
static void take_ip(const char *at, const char *end, char *out, size_t outlen)
{
    const char *p = at + strlen("client with IP");
    size_t n = 0;
    for (;;) {
        if (p < end && (*p == ' ' || *p == '\'' || *p == '"' || *p == '`'))
            p++;
        else if (end - p >= 6 && strncasecmp(p, "\\u0027", 6) == 0)     /* JSON's quote */
            p += 6;
        else
            break;
    }
    while (p < end && n + 1 < outlen && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                                         (*p >= 'A' && *p <= 'F') || *p == '.' || *p == ':'))
        out[n++] = *p++;
    out[n] = '\0';
}

static void line_done(struct an_client *c, const char *line, size_t n)
{
    c->lines_read++;
    for (unsigned k = 0; k < CL_KIND_COUNT; k++) {
        const char *at = NULL;
        for (unsigned j = 0; j < 4 && kinds[k].pat[j].needle && !at; j++)
            at = find(line, n, &kinds[k].pat[j]);
        if (!at)
            continue;
        for (unsigned i = 0; i < c->n_lines; i++) {
            if (c->lines[i].kind == (enum cl_kind)k) {
                c->lines[i].repeats++;
                return;
            }
        }
        struct cl_line *l = &c->lines[c->n_lines++];
        memset(l, 0, sizeof(*l));
        l->kind = (enum cl_kind)k;
        l->lineno = c->lines_read;
        l->repeats = 1;
        /* Leading blanks and a trailing \r go; the rest stays as printed. */
        while (n && (*line == ' ' || *line == '\t')) {
            line++;
            n--;
        }
        size_t keep = n < LIM_CLIENT_TEXT ? n : LIM_CLIENT_TEXT;
        memcpy(l->text, line, keep);
        l->text[keep] = '\0';
        static const struct pattern connect_words[] = {
            { "dial tcp", false, false }, { "lookup ", false, false }, { "proxyconnect", false, false },
        };
        for (unsigned j = 0; j < 3 && !l->connecting; j++)
            l->connecting = find(line, n, &connect_words[j]) != NULL;
        if (k == CL_REGISTRY_IP_DENIED)
            take_ip(find(line, n, &kinds[k].pat[0]), line + n, l->client_ip, sizeof(l->client_ip));
        return;
    }
}

void cl_feed(struct an_client *c, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (c->bytes_read >= LIM_CLIENT_LOG_BYTES) {
            c->truncated = true;
            return;
        }
        c->bytes_read++;
        char ch = buf[i];
        if (ch == '\n' || ch == '\r') {
            line_done(c, c->pending, c->n_pending);
            c->n_pending = 0;
            c->skipping = false;
            continue;
        }
        if (c->skipping)
            continue;
        if (c->n_pending >= LIM_CLIENT_LINE) {
            c->skipping = true;
            continue;
        }
        /* A NUL would end the line early for the writers: kept as a byte
         * they escape.  */
        c->pending[c->n_pending++] = ch ? ch : '\x7f';
        c->pending[c->n_pending] = '\0';
    }
}

void cl_end(struct an_client *c)
{
    if (c->n_pending)
        line_done(c, c->pending, c->n_pending);
    c->n_pending = 0;
    c->skipping = false;
}

bool cl_read_file(struct an_client *c, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char buf[16384];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && !c->truncated)
        cl_feed(c, buf, n);
    int err = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (err) {
        errno = err;
        return false;
    }
    cl_end(c);
    return true;
}

/* The wire's verdict in words, for "the wire shows ..."; port: the
 * registry's.  */
static const char *wire_words(enum an_verdict v, unsigned port, char *buf, size_t n)
{
    switch (v) {
    case AN_OK: return "TCP and TLS to the registry working";
    case AN_DNS_FAILURE: return "the name not resolving";
    case AN_SILENT_DROP:
        snprintf(buf, n, "the SYNs to %u dropped silently", port);
        return buf;
    case AN_NSG_DROP:
        snprintf(buf, n, "the SYNs to %u dropped silently while the address answers otherwise (an NSG or ACL rule)", port);
        return buf;
    case AN_ROUTE_BLACKHOLE: return "everything to the registry's address dropped silently (a route with next hop None)";
    case AN_CONNECTION_RESET: return "the connection reset";
    case AN_FIREWALL_RESET: return "a middlebox resetting the connection";
    case AN_SERVER_RESET: return "the endpoint itself refusing the connection";
    case AN_ICMP_UNREACHABLE: return "an ICMP destination unreachable";
    case AN_PROXY_INTERCEPTION: return "TLS terminated by something other than the registry";
    case AN_PROXY_REFUSED: return "the explicit proxy not opening the tunnel";
    case AN_TLS_FAILURE: return "the TLS handshake failing";
    case AN_MTU_BLACKHOLE: return "full-size packets vanishing (a path MTU black hole)";
    case AN_REGISTRY_DENIED: return "the registry denying this client";
    case AN_REGISTRY_WRITE_DISABLED: return "the registry refusing the write";
    case AN_REGISTRY_AUTH_FAILED: return "the registry refusing the credentials";
    case AN_REGISTRY_PUSH_FORBIDDEN: return "the registry refusing the push to this identity";
    case AN_REGISTRY_ERROR: return "the registry answering with an error";
    case AN_LOCAL_NO_ROUTE: return "this host refusing to send";
    case AN_INCOMPLETE:
    case AN_VERDICT_COUNT: break;
    }
    return "not enough to decide";
}

static void compare(struct cl_line *l, enum an_verdict wire, unsigned port)
{
    char words[128];
    const struct kind_def *d = &kinds[l->kind];
    const char *saw = d->saw;
    if (wire < AN_VERDICT_COUNT && (d->agree & V(wire))) {
        l->agreement = CL_AGREES;
        snprintf(l->explanation, sizeof(l->explanation), "the client saw %s; the wire shows %s", saw,
                 wire_words(wire, port, words, sizeof(words)));
    } else if (wire == AN_INCOMPLETE) {
        l->agreement = CL_UNDECIDED;
        snprintf(l->explanation, sizeof(l->explanation),
                 "the client saw %s; the capture holds too little to compare", saw);
    } else if (wire == AN_OK && l->kind == CL_TIMEOUT && !l->connecting) {
        /* Not a connect that timed out: a wait for an answer. */
        l->agreement = CL_ADDS;
        snprintf(l->explanation, sizeof(l->explanation),
                 "the client saw a timeout waiting for an answer; the wire shows TCP and TLS working, so the "
                 "wait was inside TLS (a slow or throttling registry, retries, or a large upload): the "
                 "client's line adds what the wire cannot see");
    } else if (wire == AN_OK && d->inside_tls) {
        l->agreement = CL_ADDS;
        snprintf(l->explanation, sizeof(l->explanation),
                 "the client saw %s; the wire shows TCP and TLS working, and this answer travels inside "
                 "TLS where the capture cannot read it: the client's line adds what the wire cannot see",
                 saw);
    } else {
        l->agreement = CL_DISAGREES;
        snprintf(l->explanation, sizeof(l->explanation), "the client saw %s, but the wire shows %s%s", saw,
                 wire_words(wire, port, words, sizeof(words)), wire == AN_OK ? " (was the capture taken on this host while this push ran?)" : "");
    }
}

/* The endpoint the client's words are about: an ok login server, the one
 * the line names when several.  */
static struct an_endpoint *target_endpoint(struct an_report *r, const struct cl_line *l)
{
    struct an_endpoint *first = NULL;
    for (unsigned i = 0; i < r->n_endpoints; i++) {
        struct an_endpoint *ep = &r->endpoints[i];
        if (ep->verdict != AN_OK && ep->verdict != AN_INCOMPLETE)
            continue;
        if (ep->name[0] && strstr(l->text, ep->name))
            return ep;
        if (!first && !ep->is_data_endpoint)
            first = ep;
    }
    return first;
}

static const char *decided_sentence(enum an_verdict v)
{
    switch (v) {
    case AN_REGISTRY_DENIED:
        return "the registry's own firewall denied this client";
    case AN_REGISTRY_WRITE_DISABLED:
        return "the registry refused the write: the operation is disallowed (a locked repository or "
               "image, or the registry's storage limit)";
    case AN_REGISTRY_AUTH_FAILED:
        return "the registry refused the client's credentials (401)";
    case AN_REGISTRY_PUSH_FORBIDDEN:
        return "the registry refused the push to the client's identity (no push right)";
    default:
        return "the registry throttled the client (429 TOOMANYREQUESTS)";
    }
}

void cl_apply(struct an_client *c, struct an_report *r)
{
    r->client = c;
    for (unsigned i = 0; i < c->n_lines; i++)
        compare(&c->lines[i], r->verdict, an_report_port(r));
    /* The client's words decide only when the wire shows no network fault. */
    if (r->verdict != AN_OK && r->verdict != AN_INCOMPLETE)
        return;
    const struct cl_line *dl = NULL;
    for (unsigned k = 0; k < CL_KIND_COUNT && !dl; k++) {
        if (kinds[k].decides == AN_VERDICT_COUNT)
            continue;
        for (unsigned i = 0; i < c->n_lines; i++)
            if (c->lines[i].kind == (enum cl_kind)k)
                dl = &c->lines[i];
    }
    if (!dl)
        return;
    enum an_verdict v = kinds[dl->kind].decides;
    c->decided = v;
    r->verdict = v;
    struct an_endpoint *ep = target_endpoint(r, dl);
    char ip[192] = "";
    if (dl->client_ip[0])
        snprintf(ip, sizeof(ip), ", IP %s (403 DENIED)", dl->client_ip);
    else if (dl->kind == CL_REGISTRY_FORBIDDEN)
        snprintf(ip, sizeof(ip), " (403 Forbidden; the client's line names no reason: the firewall's "
                 "DENIED or a missing role)");
    else if (v == AN_REGISTRY_DENIED)
        snprintf(ip, sizeof(ip), " (403 DENIED)");
    else if (v == AN_REGISTRY_WRITE_DISABLED)
        /* Which of the two causes the registry's words point at. */
        snprintf(ip, sizeof(ip), "%s",
                 strcasestr(dl->text, "quota") || strcasestr(dl->text, "size limit") ||
                         strcasestr(dl->text, "storage")
                     ? "; the line speaks of the storage limit"
                     : "; the line names no storage limit, so a lock (writeEnabled false) is likelier");
    if (ep) {
        ep->verdict = v;
        ep->candidates = 0;
        ep->confidence = dl->kind == CL_REGISTRY_FORBIDDEN ? AN_CONF_LOW : AN_CONF_MEDIUM;
        ep->rule = "client_log";
        snprintf(ep->reason, sizeof(ep->reason),
                 "the client's log says %s%.120s; the wire shows TCP and TLS working (the answer is inside TLS)",
                 decided_sentence(v), ip);
        if (ep->n_evidence < AN_MAX_EVIDENCE) {
            struct an_evidence *e = &ep->evidence[ep->n_evidence++];
            memset(e, 0, sizeof(*e));
            e->kind = "client_log_line";
            snprintf(e->what, sizeof(e->what), "client log line %lu: %.*s", dl->lineno, 180, dl->text);
        }
        if (dl->client_ip[0] && ep->n_detail < AN_MAX_DETAIL) {
            struct an_detail *d = &ep->detail[ep->n_detail++];
            snprintf(d->key, sizeof(d->key), "client_ip");
            snprintf(d->value, sizeof(d->value), "%s", dl->client_ip);
        }
        if (ep->n_detail < AN_MAX_DETAIL) {
            struct an_detail *d = &ep->detail[ep->n_detail++];
            snprintf(d->key, sizeof(d->key), "source");
            snprintf(d->value, sizeof(d->value), "client_log");
        }
        /* The endpoint the client's words are about comes first. */
        if (ep != &r->endpoints[0]) {
            struct an_endpoint tmp = *ep;
            memmove(&r->endpoints[1], &r->endpoints[0], (size_t)(ep - r->endpoints) * sizeof(*ep));
            r->endpoints[0] = tmp;
            ep = &r->endpoints[0];
        }
        snprintf(r->summary, sizeof(r->summary), "%.150s: %s%.120s; from the client's log, while the wire shows TCP and TLS working.",
                 ep->name[0] ? ep->name : "the registry", decided_sentence(v), ip);
    } else {
        snprintf(r->summary, sizeof(r->summary), "%s%.120s; from the client's log, the capture holds no registry endpoint.",
                 decided_sentence(v), ip);
    }
    /* Upper-case first letter when the summary starts with the sentence. */
    if (r->summary[0] >= 'a' && r->summary[0] <= 'z' && !ep)
        r->summary[0] = (char)(r->summary[0] - 'a' + 'A');
}
