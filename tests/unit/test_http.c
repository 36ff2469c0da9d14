/* test_http.c: cap_http_parse_response on registry, firewall and proxy responses. */
#include <string.h>

#include "capture/capture.h"
#include "check.h"

static enum cap_status parse(const char *s, struct cap_http_resp *r)
{
    return cap_http_parse_response((const uint8_t *)s, strlen(s), r);
}

/* GET /v2/ anonymously: the ACR challenge (facts sheet 3.2). */
static void test_acr_401_challenge(void)
{
    static const char s[] =
        "HTTP/1.1 401 Unauthorized\r\n"
        "Server: AzureContainerRegistry\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        "Content-Length: 149\r\n"
        "docker-distribution-api-version: registry/2.0\r\n"  /* any case */
        "Www-Authenticate: Bearer realm=\"https://labreg.azurecr.io/oauth2/token\","
        "service=\"labreg.azurecr.io\"\r\n"
        "X-Ms-Correlation-Request-Id: 6f1b2a8e-1a2b-4c3d-9e8f-0123456789ab\r\n"
        "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n"
        "\r\n"
        "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required, "
        "visit https://aka.ms/acr/authorization for more information.\",\"detail\":null}]}\n";
    struct cap_http_resp r;
    CHECK_EQ_INT(parse(s, &r), CAP_OK);
    CHECK(r.complete_head);
    CHECK_EQ_INT(r.status, 401);
    CHECK_EQ_STR(r.reason, "Unauthorized");
    CHECK(r.has_docker_api_version);
    CHECK(r.has_ms_correlation);
    CHECK(r.bearer_challenge);
    CHECK_EQ_STR(r.realm, "https://labreg.azurecr.io/oauth2/token");
    CHECK_EQ_STR(r.content_type, "application/json; charset=utf-8");
    CHECK_EQ_STR(r.error_code, "UNAUTHORIZED");
    CHECK_EQ_STR(r.error_message, "authentication required, visit "
                 "https://aka.ms/acr/authorization for more information.");
    CHECK_EQ_STR(r.denied_client_ip, "");
}

/* IP firewall / public access disabled (facts sheet 3.3), the apostrophes
 * JSON-escaped as \u0027, a member before "errors", a chunked body.  */
static void test_acr_403_denied(void)
{
    static const char s[] =
        "HTTP/1.1 403 Forbidden\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        "Docker-Distribution-Api-Version: registry/2.0\r\n"
        "X-Ms-Correlation-Request-Id: 0d3c\r\n"
        "Transfer-Encoding: chunked\r\n"
        "\r\n"
        "9f\r\n"                          /* 159-byte chunk */
        "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"client with IP "
        "\\u0027172.214.169.102\\u0027 is not allowed access. Refer "
        "https://aka.ms/acr/firewall to grant access.\"}]}\r\n";
    struct cap_http_resp r;
    CHECK_EQ_INT(parse(s, &r), CAP_OK);
    CHECK_EQ_INT(r.status, 403);
    CHECK_EQ_STR(r.error_code, "DENIED");
    CHECK_EQ_STR(r.error_message, "client with IP '172.214.169.102' is not allowed "
                 "access. Refer https://aka.ms/acr/firewall to grant access.");
    CHECK_EQ_STR(r.denied_client_ip, "172.214.169.102");

    /* IPv6, members in another order, escaped quote and a detail array. */
    static const char s6[] =
        "HTTP/1.1 403 Forbidden\r\n\r\n"
        "{ \"x\": [1, {\"a\": \"]}\"}], \"errors\" : [ { \"detail\": [{\"Type\":\"repo\"}],"
        " \"message\": \"client with IP \\u00272001:db8::7\\u0027 is not \\\"allowed\\\"\","
        " \"code\": \"DENIED\" } ] }";
    CHECK_EQ_INT(parse(s6, &r), CAP_OK);
    CHECK_EQ_STR(r.error_code, "DENIED");
    CHECK_EQ_STR(r.error_message, "client with IP '2001:db8::7' is not \"allowed\"");
    CHECK_EQ_STR(r.denied_client_ip, "2001:db8::7");

    /* Not an address: nothing is taken; hostile bytes come out escaped. */
    static const char bad[] =
        "HTTP/1.1 403 Forbidden\r\n\r\n"
        "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"client with IP "
        "\\u0027\\u001b[2J; rm -rf /\\u0027 is not allowed access.\"}]}";
    CHECK_EQ_INT(parse(bad, &r), CAP_OK);
    CHECK_EQ_STR(r.denied_client_ip, "");
    CHECK_EQ_STR(r.error_message, "client with IP '\\x1b[2J; rm -rf /' is not allowed access.");
}

static void test_acr_429(void)
{
    static const char s[] =
        "HTTP/1.1 429 Too Many Requests\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        "Docker-Distribution-Api-Version: registry/2.0\r\n"
        "Retry-After: 7\r\n"
        "\r\n"
        "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"too many requests\"}]}";
    struct cap_http_resp r;
    CHECK_EQ_INT(parse(s, &r), CAP_OK);
    CHECK_EQ_INT(r.status, 429);
    CHECK_EQ_STR(r.reason, "Too Many Requests");
    CHECK_EQ_STR(r.error_code, "TOOMANYREQUESTS");
    CHECK_EQ_STR(r.error_message, "too many requests");
    CHECK(!r.has_ms_correlation);
}

/* Azure Firewall application-rule deny (facts sheet 5.4). */
static void test_azure_firewall_470(void)
{
    static const char s[] =
        "HTTP/1.1 470 status code 470\r\n"
        "Date: Tue, 01 Oct 2024 10:00:00 GMT\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 70\r\n"
        "\r\n"
        "Action: Deny. Reason: No rule matched. Proceeding with default action.";
    struct cap_http_resp r;
    CHECK_EQ_INT(parse(s, &r), CAP_OK);
    CHECK_EQ_INT(r.status, 470);
    CHECK_EQ_STR(r.reason, "status code 470");
    CHECK_EQ_STR(r.content_type, "text/plain; charset=utf-8");
    CHECK(!r.has_docker_api_version);
    CHECK(!r.has_ms_correlation);
    CHECK(!r.bearer_challenge);
    CHECK_EQ_STR(r.error_code, "");
}

static void test_proxy_html_403(void)
{
    static const char s[] =
        "HTTP/1.0 403 Forbidden\n"                   /* bare LF line ends */
        "Server: squid\n"
        "Content-Type: text/html;charset=utf-8\n"
        "WWW-Authenticate: Basic realm=\"proxy\"\n"
        "\n"
        "<html><body>Access denied by policy</body></html>";
    struct cap_http_resp r;
    CHECK_EQ_INT(parse(s, &r), CAP_OK);
    CHECK_EQ_INT(r.status, 403);
    CHECK_EQ_STR(r.content_type, "text/html;charset=utf-8");
    CHECK(!r.has_docker_api_version);
    CHECK(!r.bearer_challenge);
    CHECK_EQ_STR(r.realm, "");
    CHECK_EQ_STR(r.error_code, "");
}

static void test_truncated_and_invalid(void)
{
    static const char s[] =
        "HTTP/1.1 401 Unauthorized\r\n"
        "Docker-Distribution-Api-Version: registry/2.0\r\n"
        "Www-Authenticate: Bearer realm=\"https://labreg.azurecr.io/oau";
    struct cap_http_resp r;
    CHECK_EQ_INT(parse(s, &r), CAP_TRUNCATED);
    CHECK(!r.complete_head);
    CHECK_EQ_INT(r.status, 401);
    CHECK(r.has_docker_api_version);
    CHECK(!r.bearer_challenge);              /* its line never ended */

    /* Every prefix: no crash, never OK before the blank line. */
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        CHECK(cap_http_parse_response((const uint8_t *)s, i, &r) != CAP_OK);
    CHECK_EQ_INT(cap_http_parse_response((const uint8_t *)s, 4, &r), CAP_TRUNCATED);

    CHECK_EQ_INT(parse("SSH-2.0-OpenSSH_9.6\r\n", &r), CAP_INVALID);
    CHECK_EQ_INT(parse("HTTP/1.1 4x1 Nope\r\n\r\n", &r), CAP_INVALID);
    CHECK_EQ_INT(parse("HTTP/1.1 2000\r\n\r\n", &r), CAP_INVALID);
    CHECK_EQ_INT(parse("", &r), CAP_INVALID);

    /* A JSON body cut mid-message keeps the code. */
    static const char cut[] =
        "HTTP/1.1 403 Forbidden\r\n\r\n"
        "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"client with IP \\u0027172.";
    CHECK_EQ_INT(parse(cut, &r), CAP_OK);
    CHECK_EQ_STR(r.error_code, "DENIED");
    CHECK_EQ_STR(r.error_message, "");
    CHECK_EQ_STR(r.denied_client_ip, "");
}

/* A header line longer than LIM_HTTP_HEAD, and long values cut safely. */
static void test_overlong(void)
{
    static char s[LIM_HTTP_HEAD + 4096];
    static const char start[] = "HTTP/1.1 200 OK\r\nX-Junk: ";
    memset(s, 'a', sizeof s);
    memcpy(s, start, sizeof start - 1);
    struct cap_http_resp r;
    CHECK_EQ_INT(cap_http_parse_response((const uint8_t *)s, sizeof s, &r), CAP_INVALID);
    CHECK_EQ_INT(r.status, 200);
    CHECK(!r.complete_head);
    /* The same bytes cut before the limit: only truncated. */
    CHECK_EQ_INT(cap_http_parse_response((const uint8_t *)s, LIM_HTTP_HEAD - 1, &r), CAP_TRUNCATED);

    /* Overlong Content-Type and realm inside the limit: cut, terminated. */
    static char t[4096];
    size_t o = 0;
    static const char a[] = "HTTP/1.1 401 \r\nContent-Type: ";
    memcpy(t + o, a, sizeof a - 1);
    o += sizeof a - 1;
    memset(t + o, 'c', 1000);
    o += 1000;
    static const char b[] = "\r\nWWW-Authenticate: bearer realm=";
    memcpy(t + o, b, sizeof b - 1);
    o += sizeof b - 1;
    memset(t + o, 'r', 1000);
    o += 1000;
    memcpy(t + o, "\r\n\r\n", 4);
    o += 4;
    CHECK_EQ_INT(cap_http_parse_response((const uint8_t *)t, o, &r), CAP_OK);
    CHECK_EQ_STR(r.reason, "");
    CHECK_EQ_INT(strlen(r.content_type), sizeof r.content_type - 1);
    CHECK(r.bearer_challenge);
    CHECK_EQ_INT(strlen(r.realm), sizeof r.realm - 1);
}

int main(void)
{
    RUN(test_acr_401_challenge);
    RUN(test_acr_403_denied);
    RUN(test_acr_429);
    RUN(test_azure_firewall_470);
    RUN(test_proxy_html_403);
    RUN(test_truncated_and_invalid);
    RUN(test_overlong);
    return check_summary();
}
