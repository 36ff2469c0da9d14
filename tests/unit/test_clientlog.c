/* test_clientlog.c: the client's own words: known lines in real docker,
 * skopeo and oras wording (acr-network-facts.md section 3 and section 9),
 * how each stands to the wire's verdict, when the client's words decide,
 * and the bounds (overlong lines, split feeds, NULs, carriage returns).  */
#include <stdlib.h>
#include <string.h>

#include "analysis/clientlog.h"
#include "check.h"

static struct an_client *from_text(const char *text)
{
    struct an_client *c = malloc(sizeof(*c));
    cl_init(c, "push.log", false);
    cl_feed(c, text, strlen(text));
    cl_end(c);
    return c;
}

/* A report as the engine leaves it: one login-server endpoint. */
static void report(struct an_report *r, struct an_endpoint *ep, enum an_verdict v)
{
    memset(r, 0, sizeof(*r));
    memset(ep, 0, sizeof(*ep));
    snprintf(ep->name, sizeof(ep->name), "myregistry.azurecr.io");
    ep->verdict = v;
    ep->confidence = AN_CONF_HIGH;
    r->verdict = v;
    r->endpoints = ep;
    r->n_endpoints = 1;
    snprintf(r->summary, sizeof(r->summary), "wire summary");
}

static const char denied[] =
    "Using default tag: latest\n"
    "The push refers to repository [myregistry.azurecr.io/hello-world]\n"
    "Get \"https://myregistry.azurecr.io/v2/\": denied: client with IP '203.0.113.7' is not allowed access. "
    "Refer https://aka.ms/acr/firewall to grant access.\n";

static void test_denied_adds_and_decides(void)
{
    struct an_client *c = from_text(denied);
    struct an_report r;
    struct an_endpoint ep;
    report(&r, &ep, AN_OK);
    CHECK_EQ_INT(c->lines_read, 3);
    CHECK_EQ_INT(c->n_lines, 1);
    CHECK_EQ_STR(cl_kind_name(c->lines[0].kind), "registry_ip_denied");
    CHECK_EQ_INT(c->lines[0].lineno, 3);
    CHECK_EQ_STR(c->lines[0].client_ip, "203.0.113.7");
    cl_apply(c, &r);
    CHECK(r.client == c);
    CHECK_EQ_INT(c->lines[0].agreement, CL_ADDS);
    CHECK(strstr(c->lines[0].explanation, "adds what the wire cannot see") != NULL);
    CHECK_EQ_INT(r.verdict, AN_REGISTRY_DENIED);
    CHECK_EQ_INT(c->decided, AN_REGISTRY_DENIED);
    CHECK_EQ_INT(ep.verdict, AN_REGISTRY_DENIED);
    CHECK_EQ_STR(ep.rule, "client_log");
    CHECK_EQ_INT(ep.n_evidence, 1);
    CHECK_EQ_INT(ep.evidence[0].frame, 0);
    CHECK_EQ_STR(ep.evidence[0].kind, "client_log_line");
    /* The words: which line of the log, for the person reading it. */
    CHECK(strncmp(ep.evidence[0].what, "client log line 3: ", 19) == 0);
    CHECK(ep.n_detail >= 1 && strcmp(ep.detail[0].key, "client_ip") == 0 &&
          strcmp(ep.detail[0].value, "203.0.113.7") == 0);
    CHECK(strstr(r.summary, "203.0.113.7") != NULL);
    CHECK(strstr(r.summary, "client's log") != NULL);
    free(c);
}

/* docker login prints the JSON body, with the quotes as \u0027. */
static void test_denied_json_body(void)
{
    struct an_client *c = from_text(
        "Error response from daemon: Get \"https://myregistry.azurecr.io/v2/\": denied: "
        "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"client with IP \\u0027172.214.169.102\\u0027 is not "
        "allowed access. Refer https://aka.ms/acr/firewall to grant access.\"}]}\n");
    CHECK_EQ_INT(c->n_lines, 1);
    CHECK_EQ_STR(c->lines[0].client_ip, "172.214.169.102");
    free(c);
}

static void test_disallowed_write_disabled(void)
{
    struct an_client *c = from_text(
        "5f70bf18a086: Layer already exists\n"
        "unknown: The operation is disallowed on this registry, repository or image. View troubleshooting "
        "steps at https://aka.ms/acr/faq/#why-does-my-pull-or-push-request-fail-with-disallowed-operation\n");
    struct an_report r;
    struct an_endpoint ep;
    report(&r, &ep, AN_OK);
    CHECK_EQ_STR(cl_kind_name(c->lines[0].kind), "operation_disallowed");
    cl_apply(c, &r);
    CHECK_EQ_INT(r.verdict, AN_REGISTRY_WRITE_DISABLED);
    CHECK_EQ_STR(an_verdict_name(r.verdict), "registry_write_disabled");
    CHECK(strstr(an_remedy(AN_REGISTRY_WRITE_DISABLED), "changeableAttributes") != NULL);
    CHECK(strstr(an_remedy(AN_REGISTRY_WRITE_DISABLED), "storage limit") != NULL);
    CHECK_EQ_INT(an_exit_status(AN_REGISTRY_WRITE_DISABLED), 1);
    free(c);
}

/* A network fault on the wire comes first: the client's words never
 * override it, and a denied line then disagrees.  */
static void test_network_fault_first(void)
{
    struct an_client *c = from_text(denied);
    struct an_report r;
    struct an_endpoint ep;
    report(&r, &ep, AN_SILENT_DROP);
    cl_apply(c, &r);
    CHECK_EQ_INT(r.verdict, AN_SILENT_DROP);
    CHECK_EQ_INT(c->decided, AN_VERDICT_COUNT);
    CHECK_EQ_INT(c->lines[0].agreement, CL_DISAGREES);
    CHECK_EQ_STR(r.summary, "wire summary");
    free(c);
}

static void test_timeout_agrees_with_drops(void)
{
    static const enum an_verdict drops[] = { AN_SILENT_DROP, AN_NSG_DROP, AN_ROUTE_BLACKHOLE, AN_MTU_BLACKHOLE };
    static const char *const logs[] = {
        "Get \"https://myregistry.azurecr.io/v2/\": net/http: request canceled while waiting for connection "
        "(Client.Timeout exceeded while awaiting headers)\n",
        "Error: failed to resolve: Head \"https://myregistry.azurecr.io/v2/app/manifests/1\": dial tcp "
        "20.62.128.38:443: i/o timeout\n",
        "Get \"https://myregistry.azurecr.io/v2/\": net/http: request canceled while waiting for connection\n",
    };
    for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
        for (size_t k = 0; k < sizeof(drops) / sizeof(drops[0]); k++) {
            struct an_client *c = from_text(logs[i]);
            struct an_report r;
            struct an_endpoint ep;
            report(&r, &ep, drops[k]);
            cl_apply(c, &r);
            CHECK_EQ_STR(cl_kind_name(c->lines[0].kind), "timeout");
            CHECK_EQ_INT(c->lines[0].agreement, CL_AGREES);
            CHECK_EQ_INT(r.verdict, drops[k]);
            free(c);
        }
    }
    struct an_client *c = from_text(logs[0]);
    struct an_report r;
    struct an_endpoint ep;
    report(&r, &ep, AN_SILENT_DROP);
    cl_apply(c, &r);
    CHECK_EQ_STR(c->lines[0].explanation,
                 "the client saw a timeout; the wire shows the SYNs to 443 dropped silently");
    free(c);
    /* A timeout while the wire shows a reset: they disagree. */
    c = from_text(logs[1]);
    report(&r, &ep, AN_FIREWALL_RESET);
    cl_apply(c, &r);
    CHECK_EQ_INT(c->lines[0].agreement, CL_DISAGREES);
    free(c);
}

static void test_reset_x509_and_others(void)
{
    static const struct {
        const char *line;
        const char *kind;
        enum an_verdict wire;
        enum cl_agreement want;
    } cases[] = {
        { "time=\"2026-11-30T10:12:03Z\" level=fatal msg=\"pinging container registry myregistry.azurecr.io: "
          "Get \\\"https://myregistry.azurecr.io/v2/\\\": read tcp 10.0.0.4:51712->20.62.128.38:443: read: "
          "connection reset by peer\"", "connection_reset", AN_FIREWALL_RESET, CL_AGREES },
        { "read: connection reset by peer", "connection_reset", AN_SERVER_RESET, CL_AGREES },
        { "read: connection reset by peer", "connection_reset", AN_CONNECTION_RESET, CL_AGREES },
        { "read: connection reset by peer", "connection_reset", AN_OK, CL_DISAGREES },
        { "Get \"https://myregistry.azurecr.io/v2/\": tls: failed to verify certificate: x509: certificate "
          "signed by unknown authority", "certificate_unknown_authority", AN_PROXY_INTERCEPTION, CL_AGREES },
        { "x509: certificate signed by unknown authority", "certificate_unknown_authority", AN_TLS_FAILURE, CL_AGREES },
        { "Get \"https://myregistry.azurecr.io/v2/\": proxyconnect tcp: dial tcp 10.1.1.1:3128: i/o timeout",
          "proxy_connect", AN_PROXY_REFUSED, CL_AGREES },
        { "dial tcp: lookup myregistry.azurecr.io on 127.0.0.53:53: no such host", "no_such_host",
          AN_DNS_FAILURE, CL_AGREES },
        { "Get \"https://myregistry.azurecr.io/v2/\": net/http: TLS handshake timeout", "tls_handshake_timeout",
          AN_SILENT_DROP, CL_AGREES },
        { "unauthorized: authentication required", "unauthorized", AN_OK, CL_ADDS },
        { "toomanyrequests: Too many requests. Please visit https://aka.ms/acr/skus#sku-feature-matrix",
          "too_many_requests", AN_REGISTRY_ERROR, CL_AGREES },
        { "blob upload unknown to registry", "blob_upload_unknown", AN_OK, CL_ADDS },
        { "Error: writing blob: Patch \"https://myregistry.azurecr.io/v2/app/blobs/uploads/x\": EOF", "eof",
          AN_FIREWALL_RESET, CL_AGREES },
        { "Error: writing blob: unexpected EOF", "eof", AN_INCOMPLETE, CL_UNDECIDED },
        /* skopeo's own words in the lab (registry_throttled: it retried the 429s until its deadline) */
        { "time=\"2026-12-01T07:40:57Z\" level=fatal msg=\"copying layer: context deadline exceeded\"", "timeout",
          AN_OK, CL_ADDS },
        { "dial tcp 20.62.128.38:443: i/o timeout", "timeout", AN_OK, CL_DISAGREES },
        { "time=\"2026-12-01T07:40:34Z\" level=fatal msg=\"initializing source docker://labreg.azurecr.io/hello:1: "
          "pinging container registry labreg.azurecr.io: invalid status code from registry 403 (Forbidden)\"",
          "registry_forbidden", AN_OK, CL_ADDS },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct an_client *c = from_text(cases[i].line);
        struct an_report r;
        struct an_endpoint ep;
        report(&r, &ep, cases[i].wire);
        cl_apply(c, &r);
        CHECK_EQ_INT(c->n_lines, 1);
        CHECK_EQ_STR(cl_kind_name(c->lines[0].kind), cases[i].kind);
        if (c->lines[0].agreement != cases[i].want)
            fprintf(stderr, "  case %zu: agreement %s\n", i, cl_agreement_name(c->lines[0].agreement));
        CHECK_EQ_INT(c->lines[0].agreement, cases[i].want);
        free(c);
    }
}

/* skopeo's bare 403 on the ping decides registry_denied, with low confidence
 * and no client_ip.  */
static void test_bare_403(void)
{
    struct an_client *c = from_text("pinging container registry labreg.azurecr.io: invalid status code from "
                                    "registry 403 (Forbidden)\n");
    struct an_report r;
    struct an_endpoint ep;
    report(&r, &ep, AN_OK);
    cl_apply(c, &r);
    CHECK_EQ_INT(r.verdict, AN_REGISTRY_DENIED);
    CHECK_EQ_INT(ep.confidence, AN_CONF_LOW);
    CHECK(strstr(r.summary, "403 Forbidden") != NULL);
    CHECK(ep.n_detail == 1 && strcmp(ep.detail[0].key, "source") == 0);
    free(c);
}

/* The endpoint the line names moves first, and the summary names it. */
static void test_named_endpoint_first(void)
{
    struct an_client *c = from_text(denied);
    struct an_endpoint eps[2];
    memset(eps, 0, sizeof(eps));
    snprintf(eps[0].name, sizeof(eps[0].name), "myregistry.westeurope.data.azurecr.io");
    eps[0].is_data_endpoint = true;
    snprintf(eps[1].name, sizeof(eps[1].name), "myregistry.azurecr.io");
    struct an_report r;
    memset(&r, 0, sizeof(r));
    r.endpoints = eps;
    r.n_endpoints = 2;
    r.verdict = AN_OK;
    cl_apply(c, &r);
    CHECK_EQ_STR(eps[0].name, "myregistry.azurecr.io");
    CHECK_EQ_INT(eps[0].verdict, AN_REGISTRY_DENIED);
    CHECK_EQ_INT(eps[1].verdict, AN_OK);
    CHECK(strncmp(r.summary, "myregistry.azurecr.io: ", 23) == 0);
    free(c);
}

/* 429 from the client decides registry_error when the wire is ok. */
static void test_throttled_decides(void)
{
    struct an_client *c = from_text("toomanyrequests: Too many requests.\n");
    struct an_report r;
    struct an_endpoint ep;
    report(&r, &ep, AN_OK);
    cl_apply(c, &r);
    CHECK_EQ_INT(r.verdict, AN_REGISTRY_ERROR);
    free(c);
}

/* Words that merely contain EOF, and lines that name nothing. */
static void test_no_false_matches(void)
{
    struct an_client *c = from_text("GEOFFREY pushed\nEOFs are fine\nlatest: digest: sha256:aa size: 525\n"
                                     "eof\n");
    CHECK_EQ_INT(c->lines_read, 4);
    CHECK_EQ_INT(c->n_lines, 0);
    struct an_report r;
    struct an_endpoint ep;
    report(&r, &ep, AN_OK);
    cl_apply(c, &r);
    CHECK_EQ_INT(r.verdict, AN_OK);
    CHECK_EQ_STR(r.summary, "wire summary");
    free(c);
}

/* Feeds split anywhere, progress bars' \r, a NUL, repeats, overlong lines. */
static void test_bounds(void)
{
    static const char text[] = "Copying blob\r 12 MiB / 40 MiB\rread: connection reset by peer\n"
                               "read: connection reset by peer\n";
    for (size_t cut = 0; cut <= sizeof(text) - 1; cut++) {
        struct an_client *c = malloc(sizeof(*c));
        cl_init(c, "x", false);
        cl_feed(c, text, cut);
        cl_feed(c, text + cut, sizeof(text) - 1 - cut);
        cl_end(c);
        CHECK_EQ_INT(c->lines_read, 4);
        CHECK_EQ_INT(c->n_lines, 1);
        CHECK_EQ_INT(c->lines[0].lineno, 3);
        CHECK_EQ_INT(c->lines[0].repeats, 2);
        free(c);
    }
    /* An overlong line: matched on its first LIM_CLIENT_LINE bytes, the
     * text kept cut to LIM_CLIENT_TEXT; a pattern beyond the limit is not
     * seen, and the next line is a line of its own.  */
    size_t n = LIM_CLIENT_LINE * 3;
    char *big = malloc(n + 64);
    memset(big, 'a', n);
    memcpy(big, "i/o timeout ", 12);
    big[40] = '\0';         /* a NUL inside a line */
    memcpy(big + n - 40, "connection reset by peer", 24);
    memcpy(big + n, "\nno such host\n", 15);
    struct an_client *c = malloc(sizeof(*c));
    cl_init(c, "x", false);
    cl_feed(c, big, n + 14);
    cl_end(c);
    CHECK_EQ_INT(c->lines_read, 2);
    CHECK_EQ_INT(c->n_lines, 2);
    CHECK_EQ_STR(cl_kind_name(c->lines[0].kind), "timeout");
    CHECK_EQ_INT(strlen(c->lines[0].text), LIM_CLIENT_TEXT);
    CHECK_EQ_STR(cl_kind_name(c->lines[1].kind), "no_such_host");
    CHECK_EQ_INT(c->lines[1].lineno, 2);
    free(c);
    free(big);
    /* Every kind at most once, however many lines. */
    c = malloc(sizeof(*c));
    cl_init(c, "x", false);
    for (int i = 0; i < 10000; i++)
        cl_feed(c, "EOF\ni/o timeout\n", 16);
    cl_end(c);
    CHECK_EQ_INT(c->n_lines, 2);
    CHECK_EQ_INT(c->lines[0].repeats, 10000);
    free(c);
}

/* The client's words about an endpoint the capture does not hold. */
static void test_no_endpoint(void)
{
    struct an_client *c = from_text(denied);
    struct an_report r;
    memset(&r, 0, sizeof(r));
    r.verdict = AN_INCOMPLETE;
    cl_apply(c, &r);
    CHECK_EQ_INT(r.verdict, AN_REGISTRY_DENIED);
    CHECK_EQ_INT(c->lines[0].agreement, CL_UNDECIDED);
    CHECK(strstr(r.summary, "203.0.113.7") != NULL);
    free(c);
}

int main(void)
{
    RUN(test_denied_adds_and_decides);
    RUN(test_denied_json_body);
    RUN(test_disallowed_write_disabled);
    RUN(test_network_fault_first);
    RUN(test_timeout_agrees_with_drops);
    RUN(test_reset_x509_and_others);
    RUN(test_throttled_decides);
    RUN(test_bare_403);
    RUN(test_named_endpoint_first);
    RUN(test_no_false_matches);
    RUN(test_bounds);
    RUN(test_no_endpoint);
    return check_summary();
}
