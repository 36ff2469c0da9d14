/* test_push.c: the push check without a network: its parsers (repository
 * names, WWW-Authenticate, URLs, the hosts it follows, a JWT's push right)
 * and its facts turned into verdicts (analysis/pushfacts.c).  */
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"
#include "check.h"
#include "probe/push.h"

static void test_repo_names(void)
{
    CHECK(push_repo_valid("hello"));
    CHECK(push_repo_valid("team/app-1"));
    CHECK(push_repo_valid("a.b_c__d/e--f"));
    CHECK(!push_repo_valid(""));
    CHECK(!push_repo_valid("Hello"));
    CHECK(!push_repo_valid("/hello"));
    CHECK(!push_repo_valid("hello/"));
    CHECK(!push_repo_valid("a//b"));
    CHECK(!push_repo_valid("a..b"));
    CHECK(!push_repo_valid("-a"));
    CHECK(!push_repo_valid("a b"));
    CHECK(!push_repo_valid("a:push"));
    char big[PUSH_REPO_MAX + 8];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(!push_repo_valid(big));
}

static void test_challenge(void)
{
    struct challenge c;
    CHECK(push_parse_challenge("Bearer realm=\"https://r.azurecr.io/oauth2/token\",service=\"r.azurecr.io\"", &c));
    CHECK(c.bearer);
    CHECK_EQ_STR(c.realm, "https://r.azurecr.io/oauth2/token");
    CHECK_EQ_STR(c.service, "r.azurecr.io");
    /* Order, spaces, a scope with commas inside quotes, token values. */
    CHECK(push_parse_challenge("Bearer scope=\"repository:a:push,pull\", service=svc ,realm=\"https://x/t\"", &c));
    CHECK_EQ_STR(c.realm, "https://x/t");
    CHECK_EQ_STR(c.service, "svc");
    /* An escaped quote inside a quoted string. */
    CHECK(push_parse_challenge("Bearer realm=\"https://x/\\\"q\",service=\"s\"", &c));
    CHECK_EQ_STR(c.realm, "https://x/\"q");
    /* Basic is parsed but not Bearer. */
    CHECK(push_parse_challenge("Basic realm=\"x\"", &c));
    CHECK(!c.bearer);
    /* Malformed: no realm, an unterminated string, junk, empty. */
    CHECK(!push_parse_challenge("Bearer service=\"s\"", &c));
    CHECK(!push_parse_challenge("Bearer realm=\"https://x/t,service=s", &c));
    CHECK(!push_parse_challenge("Bearer ===", &c));
    CHECK(!push_parse_challenge("", &c));
    char big[1200];
    snprintf(big, sizeof(big), "Bearer realm=\"%01000d\",service=s", 7);
    CHECK(!push_parse_challenge(big, &c));
}

static void test_urls(void)
{
    struct url u;
    CHECK(push_parse_url("/v2/hello/blobs/uploads/u?_state=x", "r.azurecr.io", &u) == NULL);
    CHECK_EQ_STR(u.host, "r.azurecr.io");
    CHECK_EQ_STR(u.path, "/v2/hello/blobs/uploads/u?_state=x");
    CHECK_EQ_INT(u.port, 443);
    CHECK(push_parse_url("https://R.WestEurope.Data.AzureCR.io/v2/x", "r.azurecr.io", &u) == NULL);
    CHECK_EQ_STR(u.host, "r.westeurope.data.azurecr.io");
    CHECK_EQ_STR(u.path, "/v2/x");
    CHECK(push_parse_url("https://h:8443?q=1", "b", &u) == NULL);
    CHECK_EQ_INT(u.port, 8443);
    CHECK_EQ_STR(u.path, "/?q=1");
    CHECK(push_parse_url("http://r.azurecr.io/v2/", "b", &u) != NULL);
    CHECK(push_parse_url("ftp://r.azurecr.io/", "b", &u) != NULL);
    CHECK(push_parse_url("//evil.example/v2/", "b", &u) != NULL);
    CHECK(push_parse_url("https://user@evil.example/", "b", &u) != NULL);
    CHECK(push_parse_url("https://h:99999/", "b", &u) != NULL);
    CHECK(push_parse_url("https:///x", "b", &u) != NULL);
    const char names[2][LIM_DNS_NAME] = { "r.azurecr.io", "registry.contoso.com" };
    CHECK(push_host_allowed(names, 2, "registry.contoso.com"));
    CHECK(push_host_allowed(names, 2, "r.westeurope.data.azurecr.io"));
    CHECK(push_host_allowed(names, 2, "acct.blob.core.windows.net"));
    CHECK(!push_host_allowed(names, 2, "azurecr.io.evil.example"));
    CHECK(!push_host_allowed(names, 2, "evilazurecr.io"));
    CHECK(!push_host_allowed(names, 2, "azurecr.io"));
}

static void test_form_and_token(void)
{
    char form[64] = "";
    CHECK(push_form_add(form, sizeof(form), "scope", "repository:a:push,pull"));
    CHECK(push_form_add(form, sizeof(form), "x", "a b&"));
    CHECK_EQ_STR(form, "scope=repository%3Aa%3Apush%2Cpull&x=a%20b%26");
    char tiny[8] = "";
    CHECK(!push_form_add(tiny, sizeof(tiny), "key", "longvalue"));
    /* {"access":[{"type":"repository","name":"hello","actions":["pull"]}]} */
    const char *pull = "e30.eyJhY2Nlc3MiOlt7InR5cGUiOiJyZXBvc2l0b3J5IiwibmFtZSI6ImhlbGxvIiwiYWN0aW9ucyI6WyJwdWxsIl19XX0.x";
    /* ... "actions":["pull","push"] */
    const char *push = "e30.eyJhY2Nlc3MiOlt7InR5cGUiOiJyZXBvc2l0b3J5IiwibmFtZSI6ImhlbGxvIiwiYWN0aW9ucyI6WyJwdWxsIiwicHVzaCJdfV19.x";
    CHECK_EQ_INT(push_token_grants_push(pull, "hello"), 0);
    CHECK_EQ_INT(push_token_grants_push(push, "hello"), 1);
    CHECK_EQ_INT(push_token_grants_push(push, "other"), 0);
    CHECK_EQ_INT(push_token_grants_push("opaque-token", "hello"), -1);
    CHECK_EQ_INT(push_token_grants_push("a.!!!.b", "hello"), -1);
}

/* ---- facts to verdicts ---------------------------------------------------- */

static void report_ok(struct an_report *r)
{
    memset(r, 0, sizeof(*r));
    r->mode = "probe";
    r->endpoints = calloc(1, sizeof(*r->endpoints));
    r->n_endpoints = 1;
    struct an_endpoint *ep = &r->endpoints[0];
    snprintf(ep->name, sizeof(ep->name), "labreg.azurecr.io");
    ep->has_ip = true;
    cap_addr_parse("198.19.10.10", &ep->ip);
    ep->port = 443;
    ep->verdict = AN_OK;
    ep->confidence = AN_CONF_HIGH;
    r->verdict = AN_OK;
}

static const char *detail(const struct an_endpoint *ep, const char *key)
{
    for (unsigned i = 0; i < ep->n_detail; i++)
        if (strcmp(ep->detail[i].key, key) == 0)
            return ep->detail[i].value;
    return "";
}

static bool has_kind(const struct an_endpoint *ep, const char *kind)
{
    for (unsigned i = 0; i < ep->n_evidence; i++)
        if (strcmp(ep->evidence[i].kind, kind) == 0)
            return true;
    return false;
}

/* For checks of what a sentence carries (an id, an address's wording). */
static bool has_evidence(const struct an_endpoint *ep, const char *words)
{
    for (unsigned i = 0; i < ep->n_evidence; i++)
        if (strstr(ep->evidence[i].what, words))
            return true;
    return false;
}

#define P AN_FACT_PREFIX "fact=push host=labreg.azurecr.io endpoint=198.19.10.10:443 "
#define CHALLENGE P "step=challenge method=GET path=/v2/ result=answered status=401 reason=Unauthorized api_version=registry/2.0"
#define TOKEN_OK P "step=token method=GET path=/oauth2/token result=answered status=200 reason=OK"
#define GRANTS(x) AN_FACT_PREFIX "fact=push step=token_body result=ok grants_push=" x
#define SUMMARY(res, c, patch) AN_FACT_PREFIX "fact=pushcheck repo=hello creds=password_stdin result=" res " cancelled=" c " patch_bytes=65536 patch=" patch " note="

static enum an_verdict run(const char *const *lines, size_t n, struct an_report *r)
{
    struct an_options opt = { .port = 443 };
    static struct an_fact parsed[AN_MAX_FACTS];
    const struct an_fact *facts[AN_MAX_FACTS];
    size_t k = 0;
    for (size_t i = 0; i < n && k < AN_MAX_FACTS; i++)
        if (an_fact_parse(lines[i], &parsed[k]))
            facts[k] = &parsed[k], k++;
    report_ok(r);
    an_facts_apply(r, &opt, facts, k);
    an_report_conclude(r, &opt);
    return r->verdict;
}

static void test_locked_and_quota(void)
{
    struct an_report r;
    const char *locked[] = {
        CHALLENGE, TOKEN_OK, GRANTS("1"),
        P "step=upload method=POST path=/v2/hello/blobs/uploads/ result=answered status=405 reason=Method%20Not%20Allowed code=REGISTRY_DISALLOWED_OPERATION correlation=6f1b2a8e-1a2b server=openresty message=The%20operation%20is%20disallowed%20on%20this%20registry,%20repository%20or%20image.",
        SUMMARY("walked", "none", "none"),
    };
    CHECK_EQ_INT(run(locked, 5, &r), AN_REGISTRY_WRITE_DISABLED);
    CHECK(strstr(r.endpoints[0].reason, "writeEnabled false") != NULL);
    CHECK_EQ_STR(detail(&r.endpoints[0], "correlation_id"), "6f1b2a8e-1a2b");
    CHECK_EQ_STR(detail(&r.endpoints[0], "code"), "REGISTRY_DISALLOWED_OPERATION");
    CHECK(has_evidence(&r.endpoints[0], "X-Ms-Correlation-Request-Id 6f1b2a8e-1a2b"));
    CHECK(has_evidence(&r.endpoints[0], "Server openresty"));
    an_report_free(&r);
    const char *quota[] = {
        CHALLENGE, TOKEN_OK, GRANTS("1"),
        P "step=upload method=POST path=/v2/hello/blobs/uploads/ result=answered status=405 code=REGISTRY_DISALLOWED_OPERATION message=The%20operation%20is%20disallowed.%20The%20registry%20has%20reached%20its%20storage%20quota.",
        SUMMARY("walked", "none", "none"),
    };
    CHECK_EQ_INT(run(quota, 5, &r), AN_REGISTRY_WRITE_DISABLED);
    CHECK(strstr(r.endpoints[0].reason, "storage limit") != NULL);
    CHECK(strstr(r.endpoints[0].reason, "writeEnabled") == NULL);
    an_report_free(&r);
}

static void test_credentials(void)
{
    struct an_report r;
    const char *bad[] = {
        CHALLENGE,
        P "step=token method=GET path=/oauth2/token result=answered status=401 reason=Unauthorized code=UNAUTHORIZED",
        SUMMARY("no_token", "none", "none"),
    };
    CHECK_EQ_INT(run(bad, 3, &r), AN_REGISTRY_AUTH_FAILED);
    CHECK_EQ_INT(r.endpoints[0].confidence, AN_CONF_HIGH);
    CHECK(strstr(r.endpoints[0].reason, "password_stdin") != NULL);
    an_report_free(&r);
    /* A token without push, then the upload refused: no push right. */
    const char *pull_only[] = {
        CHALLENGE, TOKEN_OK, GRANTS("0"),
        P "step=upload method=POST path=/v2/hello/blobs/uploads/ result=answered status=401 code=UNAUTHORIZED",
        SUMMARY("walked", "none", "none"),
    };
    CHECK_EQ_INT(run(pull_only, 5, &r), AN_REGISTRY_PUSH_FORBIDDEN);
    CHECK_EQ_INT(r.endpoints[0].confidence, AN_CONF_HIGH);
    an_report_free(&r);
    /* 403 without the firewall's words, push granted or not said. */
    const char *forbidden[] = {
        CHALLENGE, TOKEN_OK, GRANTS("unknown"),
        P "step=upload method=POST path=/v2/hello/blobs/uploads/ result=answered status=403 code=DENIED message=requested%20access%20to%20the%20resource%20is%20denied",
        SUMMARY("walked", "none", "none"),
    };
    CHECK_EQ_INT(run(forbidden, 5, &r), AN_REGISTRY_PUSH_FORBIDDEN);
    CHECK_EQ_INT(r.endpoints[0].confidence, AN_CONF_MEDIUM);
    an_report_free(&r);
}

static void test_denied_ip_compared(void)
{
    struct an_report r;
    const char *facts[] = {
        AN_FACT_PREFIX "fact=local addrs=127.0.0.1,198.18.1.2",
        CHALLENGE, TOKEN_OK, GRANTS("1"),
        P "step=upload method=POST path=/v2/hello/blobs/uploads/ result=answered status=403 code=DENIED client_ip=203.0.113.9",
        SUMMARY("walked", "none", "none"),
    };
    CHECK_EQ_INT(run(facts, 6, &r), AN_REGISTRY_DENIED);
    CHECK_EQ_STR(detail(&r.endpoints[0], "client_ip"), "203.0.113.9");
    CHECK(has_evidence(&r.endpoints[0], "not one of this host's addresses"));
    an_report_free(&r);
    facts[4] = P "step=upload method=POST path=/v2/hello/blobs/uploads/ result=answered status=403 code=DENIED client_ip=198.18.1.2";
    CHECK_EQ_INT(run(facts, 6, &r), AN_REGISTRY_DENIED);
    CHECK(has_evidence(&r.endpoints[0], "one of this host's own addresses"));
    an_report_free(&r);
}

static void test_other_answers(void)
{
    struct an_report r;
    const char *realm404[] = {
        CHALLENGE, P "step=token method=GET path=/oauth2/token result=answered status=404 reason=Not%20Found",
        SUMMARY("no_token", "none", "none"),
    };
    CHECK_EQ_INT(run(realm404, 3, &r), AN_REGISTRY_ERROR);
    CHECK(strstr(r.endpoints[0].reason, "404") != NULL);
    an_report_free(&r);
    const char *html[] = {
        CHALLENGE, TOKEN_OK, AN_FACT_PREFIX "fact=push step=token_body result=not_json content_type=text/html",
        SUMMARY("no_token", "none", "none"),
    };
    CHECK_EQ_INT(run(html, 4, &r), AN_REGISTRY_ERROR);
    CHECK(strstr(r.endpoints[0].reason, "HTML") != NULL);
    an_report_free(&r);
    const char *malformed[] = {
        CHALLENGE, AN_FACT_PREFIX "fact=push step=challenge_parse result=malformed value=Bearer%20realm%3D",
        SUMMARY("challenge_malformed", "none", "none"),
    };
    CHECK_EQ_INT(run(malformed, 3, &r), AN_REGISTRY_ERROR);
    CHECK(strstr(r.endpoints[0].reason, "cannot be parsed") != NULL);
    an_report_free(&r);
    const char *elsewhere[] = {
        CHALLENGE, TOKEN_OK, GRANTS("1"),
        P "step=upload method=POST path=/v2/hello/blobs/uploads/ result=answered status=202 reason=Accepted",
        AN_FACT_PREFIX "fact=push step=location result=not_followed location=http://evil.example/v2/x why=plain%20http",
        SUMMARY("walked", "yes", "none"),
    };
    CHECK_EQ_INT(run(elsewhere, 6, &r), AN_REGISTRY_ERROR);
    CHECK(strstr(r.endpoints[0].reason, "not followed") != NULL);
    CHECK(has_kind(&r.endpoints[0], "push_upload_cancelled"));
    an_report_free(&r);
    const char *throttled[] = {
        CHALLENGE, P "step=token method=GET path=/oauth2/token result=answered status=429 code=TOOMANYREQUESTS",
        SUMMARY("no_token", "none", "none"),
    };
    CHECK_EQ_INT(run(throttled, 3, &r), AN_REGISTRY_ERROR);
    an_report_free(&r);
}

static void test_walked_and_data_host(void)
{
    struct an_report r;
    const char *ok[] = {
        CHALLENGE, TOKEN_OK, GRANTS("1"),
        P "step=upload method=POST path=/v2/hello/blobs/uploads/ result=answered status=202",
        P "step=patch method=PATCH path=/v2/hello/blobs/uploads/u result=answered status=202",
        P "step=cancel method=DELETE path=/v2/hello/blobs/uploads/u result=answered status=204",
        SUMMARY("walked", "yes", "answered"),
    };
    CHECK_EQ_INT(run(ok, 7, &r), AN_OK);
    CHECK(strstr(r.endpoints[0].reason, "65536-byte PATCH and cancelled") != NULL);
    an_report_free(&r);
    /* The Location's host never answered and no packet made an endpoint. */
    const char *blocked[] = {
        CHALLENGE, TOKEN_OK, GRANTS("1"),
        P "step=upload method=POST path=/v2/hello/blobs/uploads/ result=answered status=202",
        AN_FACT_PREFIX "fact=push step=patch method=PATCH host=labreg.westeurope.data.azurecr.io endpoint=198.19.10.11:443 result=timeout status=0",
        P "step=cancel method=DELETE path=/v2/hello/blobs/uploads/u result=answered status=204",
        SUMMARY("walked", "yes", "timeout"),
    };
    CHECK_EQ_INT(run(blocked, 7, &r), AN_SILENT_DROP);
    CHECK_EQ_INT(r.n_endpoints, 2);
    const struct an_endpoint *data = NULL;
    for (unsigned i = 0; i < r.n_endpoints; i++)
        if (strcmp(r.endpoints[i].name, "labreg.westeurope.data.azurecr.io") == 0)
            data = &r.endpoints[i];
    CHECK(data && data->verdict == AN_SILENT_DROP && data->is_data_endpoint);
    for (unsigned i = 0; i < r.n_endpoints; i++)
        if (strcmp(r.endpoints[i].name, "labreg.azurecr.io") == 0)
            CHECK(strstr(r.endpoints[i].reason, "PATCH to the upload's Location failed (timeout)") != NULL);
    an_report_free(&r);
}

/* A 405 operation-disallowed answer to GET /v2/ (or decrypted): error 1. */
static void test_disallowed_on_v2(void)
{
    struct an_report r;
    const char *facts[] = {
        AN_FACT_PREFIX "fact=connect step=registry endpoint=198.19.10.10:443 name=labreg.azurecr.io result=ok local=0 ms=1",
        AN_FACT_PREFIX "fact=http endpoint=198.19.10.10:443 status=405 reason=Method%20Not%20Allowed registry_headers=1 bearer=0 code=UNSUPPORTED message=The%20operation%20is%20disallowed%20on%20this%20registry",
    };
    CHECK_EQ_INT(run(facts, 2, &r), AN_REGISTRY_WRITE_DISABLED);
    CHECK_EQ_INT(r.endpoints[0].candidates, 0);
    an_report_free(&r);
}

/* Not run (no TLS to the login server): said, and nothing else changes. */
static void test_skipped(void)
{
    struct an_report r;
    const char *facts[] = {
        AN_FACT_PREFIX "fact=pushcheck repo=hello creds=none result=skipped why=no_tls cancelled=none note=",
    };
    CHECK_EQ_INT(run(facts, 1, &r), AN_OK);
    CHECK(has_kind(&r.endpoints[0], "push_not_run"));
    an_report_free(&r);
}

int main(void)
{
    RUN(test_repo_names);
    RUN(test_challenge);
    RUN(test_urls);
    RUN(test_form_and_token);
    RUN(test_locked_and_quota);
    RUN(test_credentials);
    RUN(test_denied_ip_compared);
    RUN(test_other_answers);
    RUN(test_walked_and_data_host);
    RUN(test_disallowed_on_v2);
    RUN(test_skipped);
    return check_summary();
}
