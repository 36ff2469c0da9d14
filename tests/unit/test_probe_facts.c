/* test_probe_facts.c: probe facts (the table's text form both ways,
 * applying them to a report) and registry name normalisation, without any
 * network.  */
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"
#include "check.h"
#include "probe/probe_int.h"

/* A line as the prober has always written it reads back field by field. */
static void test_parse(void)
{
    struct an_fact f;
    CHECK(an_fact_parse(AN_FACT_PREFIX "fact=tls step=registry endpoint=[2001:db8::1]:443 sni=a%20b%3Dc%01%FF "
                                       "result=ok verify= issuer_cn=x result=second version",
                        &f));
    CHECK_EQ_INT(f.kind, AN_FK_TLS);
    /* Control and high bytes come back as '?': a fact never carries them. */
    CHECK_EQ_STR(an_fact_str(&f, AN_K_SNI), "a b=c??");
    CHECK_EQ_STR(an_fact_str(&f, AN_K_ENDPOINT), "[2001:db8::1]:443");
    /* The first of a key given twice; an empty value is there, and empty. */
    CHECK_EQ_STR(an_fact_str(&f, AN_K_RESULT), "ok");
    CHECK(an_fact_has(&f, AN_K_VERIFY));
    CHECK_EQ_STR(an_fact_str(&f, AN_K_VERIFY), "");
    /* A token without '=' names no key; a missing key is "". */
    CHECK(!an_fact_has(&f, AN_K_VERSION));
    CHECK_EQ_STR(an_fact_str(&f, AN_K_DETAIL), "");
    /* A key the kind does not have is ignored. */
    CHECK(an_fact_parse(AN_FACT_PREFIX "fact=http status=403 sni=x bearer=1 registry_headers=01x", &f));
    CHECK_EQ_INT(an_fact_num(&f, AN_K_STATUS, 0), 403);
    CHECK(!an_fact_has(&f, AN_K_SNI));
    CHECK(an_fact_flag(&f, AN_K_BEARER));
    /* A number is all of the value, else the reader's default. */
    CHECK_EQ_INT(an_fact_num(&f, AN_K_REGISTRY_HEADERS, -1), -1);
    CHECK(!an_fact_flag(&f, AN_K_REGISTRY_HEADERS));
    /* A prefix of a key is not the key. */
    CHECK(an_fact_parse(AN_FACT_PREFIX "fact=http statusx=1", &f));
    CHECK(!an_fact_has(&f, AN_K_STATUS));
    /* No prefix: no fact.  An unknown kind: a fact that says nothing. */
    CHECK(!an_fact_parse("not a fact fact=http status=1", &f));
    CHECK(an_fact_parse(AN_FACT_PREFIX "fact=tomorrow status=1", &f));
    CHECK_EQ_INT(f.kind, AN_FK_UNKNOWN);
    CHECK(!an_fact_has(&f, AN_K_STATUS));
    CHECK(an_fact_parse(AN_FACT_PREFIX "status=1", &f));
    CHECK_EQ_INT(f.kind, AN_FK_UNKNOWN);
    /* The first fact= decides, wherever it is, even when empty. */
    CHECK(an_fact_parse(AN_FACT_PREFIX "status=7 fact=http fact=tls", &f));
    CHECK_EQ_INT(f.kind, AN_FK_HTTP);
    CHECK_EQ_INT(an_fact_num(&f, AN_K_STATUS, 0), 7);
    CHECK(an_fact_parse(AN_FACT_PREFIX "fact= fact=http", &f));
    CHECK_EQ_INT(f.kind, AN_FK_UNKNOWN);
    /* A value is cut at what the analysis reads (issuer_cn: 127). */
    char line[400];
    int n = snprintf(line, sizeof(line), AN_FACT_PREFIX "fact=tls issuer_cn=");
    memset(line + n, 'x', 200);
    line[n + 200] = '\0';
    CHECK(an_fact_parse(line, &f));
    CHECK_EQ_INT((long)strlen(an_fact_str(&f, AN_K_ISSUER_CN)), 127);
}

/* The writer makes the line the prober always wrote, and it reads back as
 * the same struct: the probe's engine and analyze of its -w file see one
 * fact.  */
static void test_write(void)
{
    struct an_fact f, back;
    char line[AN_FACT_LINE];
    an_fact_init(&f, AN_FK_HTTP);
    an_fact_set(&f, AN_K_ENDPOINT, "198.19.10.10:443");
    an_fact_set_num(&f, AN_K_STATUS, 403);
    an_fact_set(&f, AN_K_REASON, "Forbidden");
    an_fact_set_num(&f, AN_K_REGISTRY_HEADERS, 1);
    an_fact_set_num(&f, AN_K_BEARER, 0);
    an_fact_set(&f, AN_K_CODE, "DENIED");
    an_fact_set(&f, AN_K_CLIENT_IP, "198.18.1.2");
    an_fact_set(&f, AN_K_MESSAGE, "client with IP '198.18.1.2' is not allowed\x01");
    CHECK(an_fact_format(&f, line, sizeof(line)) > 0);
    CHECK_EQ_STR(line, AN_FACT_PREFIX "fact=http endpoint=198.19.10.10:443 status=403 reason=Forbidden "
                       "registry_headers=1 bearer=0 code=DENIED client_ip=198.18.1.2 "
                       "message=client%20with%20IP%20%27198.18.1.2%27%20is%20not%20allowed%3F");
    CHECK(an_fact_parse(line, &back));
    CHECK(memcmp(back.order, f.order, f.n_order) == 0 && back.n_order == f.n_order);
    CHECK_EQ_STR(an_fact_str(&back, AN_K_MESSAGE), an_fact_str(&f, AN_K_MESSAGE));
    CHECK_EQ_INT(an_fact_num(&back, AN_K_STATUS, 0), 403);
    CHECK(!an_fact_format(&f, line, 20));

    /* Cut as the prober's escape buffer always cut it (message: 129 bytes
     * escaped), and at the reader's bound (reason: 63).  */
    char sp[200], big[300];
    memset(sp, ' ', 100);
    sp[100] = '\0';
    memset(big, 'r', 299);
    big[299] = '\0';
    an_fact_init(&f, AN_FK_HTTP);
    an_fact_set(&f, AN_K_REASON, big);
    an_fact_set(&f, AN_K_MESSAGE, sp);
    CHECK_EQ_INT((long)strlen(an_fact_str(&f, AN_K_REASON)), 63);
    CHECK_EQ_INT((long)strlen(an_fact_str(&f, AN_K_MESSAGE)), 43);

    /* The line never passes AN_FACT_LINE: the value that would is cut, the
     * keys after it that do not fit are left out.  */
    memset(big, 'a', 299);
    an_fact_init(&f, AN_FK_PROXY_SETTING);
    an_fact_set(&f, AN_K_SOURCE, "env");
    an_fact_set(&f, AN_K_ORIGIN, big);
    an_fact_set(&f, AN_K_PROXY, big);
    an_fact_set(&f, AN_K_PROBLEM, big);
    an_fact_set(&f, AN_K_NO_PROXY, big);
    an_fact_set(&f, AN_K_NOTE, big);
    CHECK_EQ_INT((long)an_fact_format(&f, line, sizeof(line)), AN_FACT_LINE - 1);
    CHECK_EQ_INT((long)strlen(an_fact_str(&f, AN_K_NO_PROXY)), 289);
    CHECK(!an_fact_has(&f, AN_K_NOTE));
    CHECK(an_fact_parse(line, &back));
    CHECK_EQ_STR(an_fact_str(&back, AN_K_NO_PROXY), an_fact_str(&f, AN_K_NO_PROXY));
    CHECK(!an_fact_has(&back, AN_K_NOTE));
}
static void test_normalize(void)
{
    char out[LIM_DNS_NAME];
    bool upper;
    CHECK(probe_name_normalize("myreg", out, sizeof(out), &upper));
    CHECK_EQ_STR(out, "myreg.azurecr.io");
    CHECK(!upper);
    CHECK(probe_name_normalize("MyReg.AzureCR.io.", out, sizeof(out), &upper));
    CHECK_EQ_STR(out, "myreg.azurecr.io");
    CHECK(upper);
    CHECK(probe_name_normalize("registry.contoso.com", out, sizeof(out), &upper));
    CHECK_EQ_STR(out, "registry.contoso.com");
    CHECK(!probe_name_normalize("", out, sizeof(out), &upper));
    CHECK(!probe_name_normalize("a..b", out, sizeof(out), &upper));
    CHECK(!probe_name_normalize("a b", out, sizeof(out), &upper));
    CHECK(!probe_name_normalize("-rf;x", out, sizeof(out), &upper));
    CHECK(!probe_name_normalize("myreg", out, 8, &upper));
}

/* A report as the engine leaves it for one endpoint whose TLS completed. */
static void report_ok(struct an_report *r, const char *ip)
{
    memset(r, 0, sizeof(*r));
    r->mode = "probe";
    r->endpoints = calloc(1, sizeof(*r->endpoints));
    r->n_endpoints = 1;
    struct an_endpoint *ep = &r->endpoints[0];
    snprintf(ep->name, sizeof(ep->name), "labreg.azurecr.io");
    ep->has_ip = true;
    cap_addr_parse(ip, &ep->ip);
    ep->port = 443;
    ep->verdict = AN_OK;
    ep->confidence = AN_CONF_HIGH;
    r->verdict = AN_OK;
}

/* As an_engine_finish does: the facts (comment lines, as a capture holds
 * them), then the report concluded once.  */
static void apply(struct an_report *r, const struct an_options *opt, const char *const *lines, size_t n)
{
    static struct an_fact parsed[AN_MAX_FACTS];
    const struct an_fact *facts[AN_MAX_FACTS];
    size_t k = 0;
    for (size_t i = 0; i < n && k < AN_MAX_FACTS; i++)
        if (an_fact_parse(lines[i], &parsed[k]))
            facts[k] = &parsed[k], k++;
    an_facts_apply(r, opt, facts, k);
    an_report_conclude(r, opt);
}

static const char *detail(const struct an_endpoint *ep, const char *key)
{
    for (unsigned i = 0; i < ep->n_detail; i++)
        if (strcmp(ep->detail[i].key, key) == 0)
            return ep->detail[i].value;
    return "";
}

#define CONNECT_OK AN_FACT_PREFIX "fact=connect step=registry endpoint=198.19.10.10:443 name=labreg.azurecr.io result=ok local=0 ms=1"
#define TLS_OK AN_FACT_PREFIX "fact=tls step=registry endpoint=198.19.10.10:443 sni=labreg.azurecr.io result=ok version=TLSv1.3 verify=ok issuer_cn=Microsoft%20Azure%20RSA%20TLS%20Issuing%20CA%2003 issuer_o=Microsoft%20Corporation"

static void test_denied(void)
{
    struct an_report r;
    struct an_options opt = { .port = 443 };
    report_ok(&r, "198.19.10.10");
    const char *facts[] = {
        CONNECT_OK, TLS_OK,
        AN_FACT_PREFIX "fact=http endpoint=198.19.10.10:443 status=403 reason=Forbidden registry_headers=1 bearer=0 code=DENIED client_ip=198.18.1.2",
    };
    apply(&r, &opt, facts, 3);
    CHECK_EQ_INT(r.verdict, AN_REGISTRY_DENIED);
    CHECK_EQ_STR(detail(&r.endpoints[0], "client_ip"), "198.18.1.2");
    an_report_free(&r);
}

static void test_throttled_and_healthy(void)
{
    struct an_report r;
    struct an_options opt = { .port = 443 };
    report_ok(&r, "198.19.10.10");
    const char *facts[] = {
        CONNECT_OK, TLS_OK,
        AN_FACT_PREFIX "fact=http endpoint=198.19.10.10:443 status=429 reason=Too%20Many%20Requests registry_headers=1 code=TOOMANYREQUESTS",
    };
    apply(&r, &opt, facts, 3);
    CHECK_EQ_INT(r.verdict, AN_REGISTRY_ERROR);
    an_report_free(&r);

    report_ok(&r, "198.19.10.10");
    facts[2] = AN_FACT_PREFIX "fact=http endpoint=198.19.10.10:443 status=401 registry_headers=1 bearer=1 code=UNAUTHORIZED";
    apply(&r, &opt, facts, 3);
    CHECK_EQ_INT(r.verdict, AN_OK);
    an_report_free(&r);

    /* A 401 without the registry's headers came from something else. */
    report_ok(&r, "198.19.10.10");
    facts[2] = AN_FACT_PREFIX "fact=http endpoint=198.19.10.10:443 status=401 registry_headers=0 bearer=0";
    apply(&r, &opt, facts, 3);
    CHECK_EQ_INT(r.verdict, AN_PROXY_INTERCEPTION);
    CHECK_EQ_INT(r.endpoints[0].confidence, AN_CONF_LOW);
    an_report_free(&r);
}

static void test_verify_failed(void)
{
    struct an_report r;
    struct an_options opt = { .port = 443 };
    report_ok(&r, "198.19.10.10");
    const char *facts[] = {
        CONNECT_OK,
        AN_FACT_PREFIX "fact=tls step=registry endpoint=198.19.10.10:443 sni=labreg.azurecr.io result=ok version=TLSv1.3 verify=19 verify_error=self-signed%20certificate%20in%20certificate%20chain issuer_cn=Contoso%20TLS%20Inspection%20CA issuer_o=Contoso%20Ltd",
    };
    apply(&r, &opt, facts, 2);
    CHECK_EQ_INT(r.verdict, AN_PROXY_INTERCEPTION);
    an_report_free(&r);

    /* Microsoft's own chain rejected by the local store is a TLS failure. */
    report_ok(&r, "198.19.10.10");
    facts[1] = AN_FACT_PREFIX "fact=tls step=registry endpoint=198.19.10.10:443 sni=labreg.azurecr.io result=ok verify=20 issuer_cn=Microsoft%20Azure%20RSA%20TLS%20Issuing%20CA%2003 issuer_o=Microsoft%20Corporation";
    apply(&r, &opt, facts, 2);
    CHECK_EQ_INT(r.verdict, AN_TLS_FAILURE);
    an_report_free(&r);
}

static void test_without_capture(void)
{
    struct an_report r;
    struct an_options opt = { .port = 443 };
    memset(&r, 0, sizeof(r));
    r.verdict = AN_INCOMPLETE;
    const char *facts[] = {
        AN_FACT_PREFIX "fact=connect step=registry endpoint=198.19.10.10:443 name=labreg.azurecr.io result=ENETUNREACH local=1",
    };
    apply(&r, &opt, facts, 1);
    CHECK_EQ_INT(r.n_endpoints, 1);
    CHECK_EQ_INT(r.verdict, AN_LOCAL_NO_ROUTE);
    an_report_free(&r);

    memset(&r, 0, sizeof(r));
    facts[0] = AN_FACT_PREFIX "fact=connect step=registry endpoint=198.19.10.10:443 name=labreg.azurecr.io result=ETIMEDOUT local=0";
    apply(&r, &opt, facts, 1);
    CHECK_EQ_INT(r.verdict, AN_SILENT_DROP);
    CHECK(r.endpoints[0].candidates & (1u << AN_NSG_DROP));
    an_report_free(&r);

    memset(&r, 0, sizeof(r));
    facts[0] = AN_FACT_PREFIX "fact=dns name=labreg.azurecr.io resolver=system result=NXDOMAIN chain= addrs=";
    apply(&r, &opt, facts, 1);
    CHECK_EQ_INT(r.verdict, AN_DNS_FAILURE);
    CHECK_EQ_STR(detail(&r.endpoints[0], "dns"), "NXDOMAIN");
    an_report_free(&r);
}

static void test_sni_filter(void)
{
    struct an_report r;
    struct an_options opt = { .port = 443 };
    report_ok(&r, "198.19.10.10");
    r.endpoints[0].verdict = AN_CONNECTION_RESET;
    r.verdict = AN_CONNECTION_RESET;
    const char *facts[] = {
        CONNECT_OK,
        AN_FACT_PREFIX "fact=tls step=registry endpoint=198.19.10.10:443 sni=labreg.azurecr.io result=reset",
        AN_FACT_PREFIX "fact=tls step=control_sni endpoint=198.19.10.10:443 sni=control.invalid result=ok verify=62",
    };
    apply(&r, &opt, facts, 3);
    CHECK_EQ_INT(r.verdict, AN_FIREWALL_RESET);
    an_report_free(&r);
}

static void test_privatelink(void)
{
    struct an_report r;
    struct an_options opt = { .port = 443 };
    an_prefix_parse("198.18.0.0/16", &opt.private_nets[0]);
    opt.n_private_nets = 1;
    report_ok(&r, "198.19.10.10");
    const char *facts[] = {
        AN_FACT_PREFIX "fact=dns name=labreg.azurecr.io resolver=system result=ok chain=labreg.privatelink.azurecr.io,weu1.fe.azcr.io addrs=198.19.10.10",
    };
    apply(&r, &opt, facts, 1);
    CHECK(r.endpoints[0].findings & (1u << AN_F_PRIVATELINK_RESOLVES_PUBLIC));
    an_report_free(&r);

    /* Inside the private nets it is how a private endpoint should look. */
    an_prefix_parse("198.19.0.0/16", &opt.private_nets[0]);
    report_ok(&r, "198.19.10.10");
    apply(&r, &opt, facts, 1);
    CHECK(!(r.endpoints[0].findings & (1u << AN_F_PRIVATELINK_RESOLVES_PUBLIC)));
    an_report_free(&r);
}

static void test_resolvers_differ(void)
{
    struct an_report r;
    struct an_options opt = { .port = 443 };
    report_ok(&r, "198.19.10.10");
    const char *facts[] = {
        AN_FACT_PREFIX "fact=dns name=labreg.azurecr.io resolver=system result=ok chain= addrs=198.19.10.10",
        AN_FACT_PREFIX "fact=dns name=labreg.azurecr.io resolver=198.19.30.53 result=ok chain= addrs=198.18.5.5",
    };
    apply(&r, &opt, facts, 2);
    CHECK(r.findings & (1u << AN_F_DNS_ANSWERS_DIFFER));
    CHECK(r.endpoints[0].findings & (1u << AN_F_DNS_ANSWERS_DIFFER));
    an_report_free(&r);

    /* The same answer from both is no finding. */
    report_ok(&r, "198.19.10.10");
    facts[1] = AN_FACT_PREFIX "fact=dns name=labreg.azurecr.io resolver=198.19.30.53 result=ok chain= addrs=198.19.10.10";
    apply(&r, &opt, facts, 2);
    CHECK(!(r.findings & (1u << AN_F_DNS_ANSWERS_DIFFER)));
    an_report_free(&r);
}

/* Facts come from a capture file, so from anyone: a fact without the keys
 * the report needs must still give a clean report (no stale buffers).  */
static void test_facts_missing_keys(void)
{
    struct an_report r;
    struct an_options opt = { .port = 443 };
    report_ok(&r, "198.19.10.10");
    const char *facts[] = {
        AN_FACT_PREFIX "fact=dns name=labreg.azurecr.io addrs=198.19.10.10",
        AN_FACT_PREFIX "fact=dns name=labreg.azurecr.io addrs=198.18.5.5",
        AN_FACT_PREFIX "fact=connect step=registry endpoint=198.19.10.10:443",
        AN_FACT_PREFIX "fact=tls endpoint=198.19.10.10:443 step=registry",
    };
    apply(&r, &opt, facts, 4);
    CHECK(r.n_endpoints >= 1);
    for (unsigned k = 0; k < r.n_endpoints; k++)
        for (unsigned i = 0; i < r.endpoints[k].n_evidence; i++)
            for (const char *c = r.endpoints[k].evidence[i].what; *c; c++)
                CHECK(*c >= 0x20 && *c < 0x7f);
    an_report_free(&r);
}

/* A report as the engine leaves it when 443 of the registry was silent and
 * the control answered from inside its /24 (the wire does not count that),
 * with the control's own connection as an endpoint of its own.  */
static void report_silent(struct an_report *r)
{
    memset(r, 0, sizeof(*r));
    r->mode = "probe";
    r->endpoints = calloc(3, sizeof(*r->endpoints));
    r->n_endpoints = 3;
    struct an_endpoint *ep = &r->endpoints[0];
    snprintf(ep->name, sizeof(ep->name), "labreg.azurecr.io");
    ep->has_ip = true;
    cap_addr_parse("198.19.10.10", &ep->ip);
    ep->port = 443;
    ep->verdict = AN_SILENT_DROP;
    ep->confidence = AN_CONF_MEDIUM;
    ep->candidates = 1u << AN_NSG_DROP | 1u << AN_ROUTE_BLACKHOLE;
    ep = &r->endpoints[1];
    ep->has_ip = true;
    cap_addr_parse("198.19.10.11", &ep->ip);
    ep->port = 443;
    ep->verdict = AN_INCOMPLETE;
    /* the DNS lookup of an unresolvable control name, seen on the wire */
    ep = &r->endpoints[2];
    snprintf(ep->name, sizeof(ep->name), "nosuch.azurecr.io");
    ep->port = 443;
    ep->verdict = AN_DNS_FAILURE;
}

#define SILENT_443 AN_FACT_PREFIX "fact=connect step=registry endpoint=198.19.10.10:443 name=labreg.azurecr.io result=ETIMEDOUT local=0 ms=1400"
#define SILENT_80 AN_FACT_PREFIX "fact=connect step=tcp endpoint=198.19.10.10:80 name=labreg.azurecr.io result=ETIMEDOUT local=0 ms=1000"
#define SILENT_8080 AN_FACT_PREFIX "fact=connect step=tcp endpoint=198.19.10.10:8080 name=labreg.azurecr.io result=ETIMEDOUT local=0 ms=1000"
#define ECHO_SILENT AN_FACT_PREFIX "fact=echo endpoint=198.19.10.10 requests=2 replies=0 capture=1"
#define CTL_NAME_OK AN_FACT_PREFIX "fact=control given=ctl.example resolved=ok addr=198.19.10.11 probed=1 port=443 result=ok local=0 ms=2 echo_requests=2 echo_replies=2 capture=1"
#define CTL_UNRESOLVED AN_FACT_PREFIX "fact=control given=nosuch.azurecr.io resolved=NXDOMAIN addr= probed=0"

static void test_control_in_prefix(void)
{
    struct an_report r;
    struct an_options opt = { .port = 443 };
    report_silent(&r);
    const char *facts[] = { SILENT_443, SILENT_80, SILENT_8080, ECHO_SILENT, CTL_NAME_OK, CTL_UNRESOLVED };
    apply(&r, &opt, facts, 6);
    CHECK_EQ_INT(r.verdict, AN_ROUTE_BLACKHOLE);
    CHECK_EQ_INT(r.endpoints[0].confidence, AN_CONF_MEDIUM);
    CHECK_EQ_INT(r.endpoints[0].candidates, 0);
    CHECK(strstr(r.endpoints[0].reason, "ctl.example at 198.19.10.11 answered from the same prefix") != NULL);
    /* The controls are controls: listed apart, neither one an endpoint. */
    CHECK_EQ_INT(r.n_endpoints, 1);
    CHECK_EQ_INT(r.n_controls, 2);
    CHECK_EQ_STR(r.controls[0].given, "ctl.example");
    CHECK(r.controls[0].has_ip && r.controls[0].probed && r.controls[0].answered);
    CHECK_EQ_STR(r.controls[1].given, "nosuch.azurecr.io");
    CHECK(!r.controls[1].has_ip && !r.controls[1].answered);
    an_report_free(&r);
}

static void test_silent_reason_lists_tries(void)
{
    struct an_report r;
    struct an_options opt = { .port = 443 };
    /* Nothing answered and no control was given: silent_drop, saying so. */
    report_silent(&r);
    const char *facts[] = { SILENT_443, SILENT_80, SILENT_8080, ECHO_SILENT, CTL_NAME_OK };
    apply(&r, &opt, facts, 4);
    CHECK_EQ_INT(r.verdict, AN_SILENT_DROP);
    const char *why = r.endpoints[0].reason;
    CHECK(strstr(why, "TCP 80 silent, TCP 8080 silent, ping silent") != NULL);
    CHECK(strstr(why, "no --control destination was given") != NULL);
    CHECK(r.endpoints[0].candidates == (1u << AN_NSG_DROP | 1u << AN_ROUTE_BLACKHOLE));
    an_report_free(&r);

    /* A control that did not answer proves nothing either. */
    report_silent(&r);
    facts[4] = AN_FACT_PREFIX "fact=control given=198.19.20.20 resolved=address addr=198.19.20.20 probed=1 port=443 result=ETIMEDOUT local=0 ms=1000 echo_requests=2 echo_replies=0 capture=1";
    apply(&r, &opt, facts, 5);
    CHECK_EQ_INT(r.verdict, AN_SILENT_DROP);
    CHECK(strstr(r.endpoints[0].reason, "no control destination answered") != NULL);
    CHECK_EQ_INT(r.n_controls, 1);
    CHECK(r.controls[0].probed && !r.controls[0].answered);
    an_report_free(&r);

    /* Without a capture ping replies are unknown: no route_blackhole. */
    report_silent(&r);
    facts[3] = AN_FACT_PREFIX "fact=echo endpoint=198.19.10.10 requests=2 replies=0 capture=0";
    facts[4] = CTL_NAME_OK;
    apply(&r, &opt, facts, 5);
    CHECK_EQ_INT(r.verdict, AN_SILENT_DROP);
    CHECK(strstr(r.endpoints[0].reason, "ping not decisive") != NULL);
    an_report_free(&r);

    /* Port 80 answered: the drop is scoped to the port. */
    report_silent(&r);
    facts[1] = AN_FACT_PREFIX "fact=connect step=tcp endpoint=198.19.10.10:80 name=labreg.azurecr.io result=ECONNREFUSED local=0 ms=1";
    facts[3] = ECHO_SILENT;
    apply(&r, &opt, facts, 5);
    CHECK_EQ_INT(r.verdict, AN_NSG_DROP);
    an_report_free(&r);
}

/* What the wire decided stays; the control is still listed apart. */
static void test_wire_route_blackhole_kept(void)
{
    struct an_report r;
    struct an_options opt = { .port = 443 };
    report_silent(&r);
    r.endpoints[0].verdict = AN_ROUTE_BLACKHOLE;
    r.endpoints[0].candidates = 0;
    snprintf(r.endpoints[0].reason, sizeof(r.endpoints[0].reason), "wire");
    const char *facts[] = { SILENT_443, SILENT_80, SILENT_8080, ECHO_SILENT, CTL_NAME_OK };
    apply(&r, &opt, facts, 5);
    CHECK_EQ_INT(r.verdict, AN_ROUTE_BLACKHOLE);
    CHECK(strncmp(r.endpoints[0].reason, "wire; the probe's control ", 26) == 0);
    CHECK_EQ_INT(r.n_controls, 1);
    an_report_free(&r);
}

/* The wire calls 443 silent from the probe's own TTL-limited SYNs while the
 * registry step connected and met a foreign certificate (lab proxy_openssl):
 * the facts decide, not the TTL probes.  */
static void test_ttl_syns_are_no_drop(void)
{
    struct an_report r;
    struct an_options opt = { .port = 443 };
    report_ok(&r, "198.19.10.10");
    r.endpoints[0].verdict = AN_NSG_DROP;
    r.verdict = AN_NSG_DROP;
    const char *facts[] = {
        CONNECT_OK,
        AN_FACT_PREFIX "fact=tls step=registry endpoint=198.19.10.10:443 sni=labreg.azurecr.io result=ok version=TLSv1.3 verify=19 issuer_cn=Contoso%20TLS%20Inspection%20CA issuer_o=Contoso%20Ltd",
        AN_FACT_PREFIX "fact=ttl endpoint=198.19.10.10:443 first_answer_ttl=2 answer=synack max_ttl=8",
    };
    apply(&r, &opt, facts, 3);
    CHECK_EQ_INT(r.verdict, AN_PROXY_INTERCEPTION);
    an_report_free(&r);
}

/* The wire guessed tls_failure (low) from a client close after a TLS 1.3
 * handshake, one of the probe's own steps; its registry handshake verified
 * the chain and got the registry's 401: ok, with the wire's guess named.  */
static void test_tls13_close_refuted(void)
{
    struct an_report r;
    struct an_options opt = { .port = 443 };
    report_ok(&r, "198.19.10.10");
    r.endpoints[0].verdict = AN_TLS_FAILURE;
    r.endpoints[0].confidence = AN_CONF_LOW;
    r.endpoints[0].n_flows = 4;
    const char *facts[] = {
        CONNECT_OK, TLS_OK,
        AN_FACT_PREFIX "fact=http endpoint=198.19.10.10:443 status=401 registry_headers=1 bearer=1 code=UNAUTHORIZED",
    };
    apply(&r, &opt, facts, 3);
    CHECK_EQ_INT(r.verdict, AN_OK);
    CHECK_EQ_INT(r.endpoints[0].confidence, AN_CONF_MEDIUM);
    bool named = false;
    for (unsigned i = 0; i < r.endpoints[0].n_evidence; i++)
        named = named || strcmp(r.endpoints[0].evidence[i].kind, "wire_tls_failure_overruled") == 0;
    CHECK(named);
    an_report_free(&r);

    /* A confident tls_failure (an alert on the wire) stays. */
    report_ok(&r, "198.19.10.10");
    r.endpoints[0].verdict = AN_TLS_FAILURE;
    r.endpoints[0].confidence = AN_CONF_HIGH;
    apply(&r, &opt, facts, 3);
    CHECK_EQ_INT(r.verdict, AN_TLS_FAILURE);
    an_report_free(&r);
}

static void test_control_parse(void)
{
    char out[LIM_DNS_NAME];
    bool name;
    CHECK(probe_control_parse("198.19.20.20", out, sizeof(out), &name));
    CHECK(!name);
    CHECK_EQ_STR(out, "198.19.20.20");
    CHECK(probe_control_parse("Ctl.Example.", out, sizeof(out), &name));
    CHECK(name);
    CHECK_EQ_STR(out, "ctl.example");
    CHECK(probe_control_parse("2001:db8:20::20", out, sizeof(out), &name));
    CHECK(!name);
    CHECK(!probe_control_parse("a b", out, sizeof(out), &name));
    CHECK(!probe_control_parse("", out, sizeof(out), &name));
    CHECK(!probe_control_parse("x;rm", out, sizeof(out), &name));
}

int main(void)
{
    RUN(test_parse);
    RUN(test_write);
    RUN(test_normalize);
    RUN(test_denied);
    RUN(test_throttled_and_healthy);
    RUN(test_verify_failed);
    RUN(test_without_capture);
    RUN(test_sni_filter);
    RUN(test_privatelink);
    RUN(test_resolvers_differ);
    RUN(test_facts_missing_keys);
    RUN(test_control_in_prefix);
    RUN(test_silent_reason_lists_tries);
    RUN(test_wire_route_blackhole_kept);
    RUN(test_control_parse);
    RUN(test_ttl_syns_are_no_drop);
    RUN(test_tls13_close_refuted);
    return check_summary();
}
