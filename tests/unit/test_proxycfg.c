/* test_proxycfg.c: explicit proxy settings (probe/proxycfg.c, proxysrc.c):
 * proxy URLs with masked credentials and bad ones, Go's NO_PROXY matching
 * (as golang.org/x/net/http/httpproxy's tests have it), systemd drop-ins,
 * daemon.json and the client's config.json (good, garbage, wrong types),
 * files bounded, and which source applies to a name; then the report: the
 * probe's facts through a proxy become verdicts and the differing-settings
 * finding (analysis/proxyfacts.c).  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/analysis.h"
#include "check.h"
#include "probe/proxy.h"

static void url_parsed(void)
{
    struct proxy_url u;
    CHECK(proxy_url_parse("http://alice:s%3Acret@Proxy.Corp:3128/", &u));
    CHECK(u.usable);
    CHECK_EQ_STR(u.host, "proxy.corp");
    CHECK_EQ_INT(u.port, 3128);
    CHECK(u.has_credentials);
    CHECK_EQ_STR(u.credentials, "alice:s:cret");
    CHECK_EQ_STR(u.shown, "http://***@proxy.corp:3128");
    CHECK(strstr(u.shown, "alice") == NULL && strstr(u.shown, "cret") == NULL);
    /* No scheme: http, as httpproxy retries it; no port: the scheme's. */
    CHECK(proxy_url_parse("proxy.corp", &u));
    CHECK_EQ_STR(u.shown, "http://proxy.corp:80");
    CHECK(proxy_url_parse("  198.18.5.1:8080  ", &u));
    CHECK_EQ_STR(u.host, "198.18.5.1");
    CHECK_EQ_INT(u.port, 8080);
    CHECK(proxy_url_parse("http://[2001:db8::5]:3128", &u));
    CHECK_EQ_STR(u.host, "2001:db8::5");
    CHECK_EQ_STR(u.shown, "http://[2001:db8::5]:3128");
    /* The last @ separates the credentials, as url.Parse takes it. */
    CHECK(proxy_url_parse("http://u@x:p@w@host:1", &u));
    CHECK_EQ_STR(u.credentials, "u@x:p@w");
    CHECK_EQ_STR(u.host, "host");
    /* Known schemes the probe cannot speak: parsed, not usable, said. */
    CHECK(proxy_url_parse("https://proxy:443", &u));
    CHECK(!u.usable);
    CHECK(strstr(u.problem, "https") != NULL);
    CHECK(proxy_url_parse("socks5://proxy", &u));
    CHECK(!u.usable);
    CHECK_EQ_INT(u.port, 1080);
}

static void url_refused(void)
{
    static const char *const bad[] = {
        "", "   ", "http://", "http://:3128", "http://host:0", "http://host:65536", "http://host:12a",
        "http://[2001:db8::1", "http://[notv6]:80", "http://ho st:80", "http://u:p%zz@host", "http://u:p%0a@host",
        "1http://host", "http://[2001:db8::1]x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct proxy_url u;
        bool ok = proxy_url_parse(bad[i], &u);
        CHECK(!ok);
        CHECK(!u.usable);
        CHECK(u.problem[0] != '\0');
        /* the problem never repeats the input (it may hold a password) */
        CHECK(bad[i][0] == '\0' || strstr(u.problem, bad[i]) == NULL);
        if (ok)
            fprintf(stderr, "  accepted: '%s'\n", bad[i]);
    }
    char huge[PROXY_URL_MAX + 10];
    memset(huge, 'a', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    struct proxy_url u;
    CHECK(!proxy_url_parse(huge, &u));
}

static bool use(const char *no_proxy, const char *host, uint16_t port)
{
    char entry[300];
    return proxy_use_for(no_proxy, host, port, entry, sizeof(entry));
}

/* The cases of httpproxy's proxy_test.go, for an https request to port 443
 * unless a port is named.  */
static void no_proxy_matching(void)
{
    const char *np = "foobar.com, .barbaz.net, *.qux.com, 192.168.1.1, 198.18.0.0/16, 2001:db8::/32, "
                     "[2001:db8::77]:8443, portonly.com:8443, Bad-Case.ORG";
    CHECK(!use(np, "foobar.com", 443));
    CHECK(!use(np, "www.foobar.com", 443));     /* a name covers its subdomains */
    CHECK(use(np, "xfoobar.com", 443));          /* ... not a longer name */
    CHECK(use(np, "barbaz.net", 443));           /* a leading dot: subdomains only */
    CHECK(!use(np, "www.barbaz.net", 443));
    CHECK(use(np, "qux.com", 443));              /* *. the same */
    CHECK(!use(np, "a.b.qux.com", 443));
    CHECK(!use(np, "192.168.1.1", 443));
    CHECK(use(np, "192.168.1.2", 443));
    CHECK(!use(np, "198.18.200.3", 443));        /* CIDR */
    CHECK(use(np, "198.19.0.1", 443));
    CHECK(!use(np, "2001:db8:1::9", 443));
    CHECK(use(np, "2001:db9::1", 443));
    CHECK(!use(np, "2001:db8::77", 8443));
    CHECK(!use(np, "portonly.com", 8443));
    CHECK(use(np, "portonly.com", 443));         /* the port must match */
    CHECK(!use(np, "BAD-case.org", 443));        /* case does not matter */
    CHECK(!use(np, "foobar.com.", 443));         /* nor a trailing dot */
    CHECK(use("", "myreg.azurecr.io", 443));
    CHECK(!use("*", "myreg.azurecr.io", 443));
    CHECK(!use(" ,, *.azurecr.io ,", "myreg.azurecr.io", 443));
    CHECK(!use(".azurecr.io", "myreg.westeurope.data.azurecr.io", 443));
    CHECK(use(".privatelink.azurecr.io", "myreg.azurecr.io", 443));
    /* Loopback never goes through a proxy, whatever NO_PROXY says. */
    CHECK(!use("", "localhost", 443));
    CHECK(!use("", "127.0.0.2", 443));
    CHECK(!use("", "::1", 443));
    /* Malformed entries match nothing (and never crash). */
    CHECK(use("host:, :443, /8, 198.18.0.0/99, [::1, a.b:x", "a.b", 443));
    char entry[64];
    CHECK(!proxy_use_for("x.com, .azurecr.io", "r.azurecr.io", 443, entry, sizeof(entry)));
    CHECK_EQ_STR(entry, ".azurecr.io");
}

static void dropin_parsed(void)
{
    struct proxy_setting s = { 0 };
    static const char text[] =
        "# a comment\n"
        "[Unit]\nEnvironment=HTTPS_PROXY=http://unit.section:1\n"
        "[Service]\n"
        "Environment=\"HTTP_PROXY=http://p:3128\" \"HTTPS_PROXY=http://user:pw@proxy.corp:3128\"\n"
        "Environment = 'NO_PROXY=localhost,.corp, *.azurecr.io'\n";
    proxy_parse_dropin(text, sizeof(text) - 1, "http-proxy.conf", &s);
    CHECK(s.present && s.has_proxy && s.url.usable);
    CHECK_EQ_STR(s.url.host, "proxy.corp");
    CHECK_EQ_STR(s.origin, "http-proxy.conf");
    CHECK_EQ_STR(s.no_proxy, "localhost,.corp, *.azurecr.io");
    /* Unquoted, continued over two lines, a later assignment wins. */
    struct proxy_setting t = { 0 };
    static const char text2[] =
        "[Service]\r\nEnvironment=HTTPS_PROXY=http://first:1 \\\n  NO_PROXY=a.b\n"
        "Environment=https_proxy=http://lower:2\nEnvironment=HTTPS_PROXY=http://second:2\n";
    proxy_parse_dropin(text2, sizeof(text2) - 1, "x.conf", &t);
    CHECK_EQ_STR(t.url.host, "second");
    CHECK_EQ_STR(t.no_proxy, "a.b");
    /* An empty Environment= resets what came before. */
    static const char text3[] = "[Service]\nEnvironment=HTTPS_PROXY=http://gone:1\nEnvironment=\n";
    struct proxy_setting r = { 0 };
    proxy_parse_dropin(text3, sizeof(text3) - 1, "y.conf", &r);
    CHECK(!r.has_proxy);
    /* Garbage: binary, an unterminated quote, no newline at the end. */
    static const char junk[] = "[Service]\nEnvironment=\"HTTPS_PROXY=http://q:1\n\x01\x02[Serv\xff";
    struct proxy_setting j = { 0 };
    proxy_parse_dropin(junk, sizeof(junk) - 1, "z.conf", &j);
    CHECK_EQ_STR(j.url.host, "q");
}

static void json_parsed(void)
{
    struct proxy_setting s = { 0 };
    static const char daemon[] =
        "{ \"log-level\": \"info\", \"proxies\": { \"http-proxy\": \"http://h:1\", "
        "\"https-proxy\": \"http://198.18.5.1:3128\", \"no-proxy\": \"*.test.example\" } }";
    proxy_parse_daemon_json(daemon, strlen(daemon), "/etc/docker/daemon.json", &s);
    CHECK(s.has_proxy && s.url.usable);
    CHECK_EQ_STR(s.url.host, "198.18.5.1");
    CHECK_EQ_STR(s.no_proxy, "*.test.example");
    struct proxy_setting c = { 0 };
    static const char client[] =
        "{\"auths\":{},\"proxies\":{\"default\":{\"httpsProxy\":\"http://client:8080\",\"noProxy\":\"x\"}}}";
    proxy_parse_client_json(client, strlen(client), "config.json", &c);
    CHECK_EQ_STR(c.url.host, "client");
    CHECK_EQ_STR(c.no_proxy, "x");
    /* Garbage, a wrong type, no proxies: a note or nothing, never a proxy. */
    static const char *const bad[] = { "not json", "[1,2]", "{\"proxies\": 7}",
                                       "{\"proxies\": {\"https-proxy\": 7}}", "{\"a\":1,\"a\":2}", "{", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct proxy_setting b = { 0 };
        proxy_parse_daemon_json(bad[i], strlen(bad[i]), "/etc/docker/daemon.json", &b);
        CHECK(!b.has_proxy);
        CHECK(b.note[0] != '\0');
        CHECK(strstr(b.note, "daemon.json") != NULL);
    }
    /* A broken file that holds a password: the note never quotes it. */
    static const char leak[] = "{\"proxies\": {\"https-proxy\": \"http://u:hunter22@p:1\" hunter22 }";
    struct proxy_setting l = { 0 };
    proxy_parse_daemon_json(leak, strlen(leak), "/etc/docker/daemon.json", &l);
    CHECK(l.note[0] != '\0');
    CHECK(strstr(l.note, "hunter22") == NULL);
    struct proxy_setting none = { 0 };
    proxy_parse_daemon_json("{}", 2, "d", &none);
    CHECK(!none.present && !none.note[0]);
}

static void write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fwrite(text, 1, n, f);
    fclose(f);
}

/* A config root with a daemon.json and a drop-in, the shell's environment
 * different: the daemon's wins, the shell's is the other route.  */
static void sources_and_routes(void)
{
    char root[] = "/tmp/acrdiag-proxycfg-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char path[512];
    snprintf(path, sizeof(path), "%s/etc", root);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/etc/docker", root);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/etc/systemd", root);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/etc/systemd/system", root);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/etc/systemd/system/docker.service.d", root);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/etc/systemd/system/docker.service.d/10-proxy.conf", root);
    static const char dropin[] = "[Service]\nEnvironment=\"HTTPS_PROXY=http://u:pw@198.18.5.9:3128\" \"NO_PROXY=.data.azurecr.io\"\n";
    write_file(path, dropin, sizeof(dropin) - 1);
    setenv("HTTPS_PROXY", "http://198.18.5.1:3128", 1);
    unsetenv("https_proxy");
    unsetenv("NO_PROXY");
    unsetenv("no_proxy");
    setenv("DOCKER_CONFIG", root, 1);

    struct proxy_cfg c;
    memset(&c, 0, sizeof(c));
    proxy_cfg_read(&c, root);
    CHECK(c.daemon_installed);
    CHECK(c.src[PXS_SYSTEMD].has_proxy);
    CHECK_EQ_STR(c.src[PXS_SYSTEMD].origin, "/etc/systemd/system/docker.service.d/10-proxy.conf");
    CHECK_EQ_STR(c.src[PXS_ENV].url.host, "198.18.5.1");
    struct proxy_route r;
    proxy_route_for(&c, "labreg.azurecr.io", 443, &r);
    CHECK_EQ_INT(r.source, PXS_SYSTEMD);
    proxy_route_for(&c, "labreg.westeurope.data.azurecr.io", 443, &r);
    CHECK_EQ_INT(r.source, -1);
    CHECK(strstr(r.why, ".data.azurecr.io") != NULL);
    proxy_route_by(&c, PXS_ENV, "labreg.westeurope.data.azurecr.io", 443, &r);
    CHECK_EQ_INT(r.source, PXS_ENV);

    /* daemon.json overrides the drop-in's HTTPS_PROXY, field by field. */
    snprintf(path, sizeof(path), "%s/etc/docker/daemon.json", root);
    static const char dj[] = "{\"proxies\": {\"https-proxy\": \"http://198.18.5.7:8080\"}}";
    write_file(path, dj, sizeof(dj) - 1);
    memset(&c, 0, sizeof(c));
    proxy_cfg_read(&c, root);
    proxy_route_for(&c, "labreg.azurecr.io", 443, &r);
    CHECK_EQ_INT(r.source, PXS_DAEMON_JSON);
    CHECK_EQ_STR(c.src[r.source].url.host, "198.18.5.7");
    proxy_route_for(&c, "labreg.westeurope.data.azurecr.io", 443, &r);
    CHECK_EQ_INT(r.source, -1);         /* the drop-in's NO_PROXY still holds */

    /* --no-proxy and --proxy override everything. */
    c.no_proxy_option = true;
    proxy_route_for(&c, "labreg.azurecr.io", 443, &r);
    CHECK_EQ_INT(r.source, -1);

    /* A huge daemon.json is not read (bounded), and says so. */
    size_t big = PROXY_FILE_MAX + 1;
    char *junk = malloc(big);
    CHECK(junk != NULL);
    if (junk) {
        memset(junk, ' ', big);
        write_file(path, junk, big);
        free(junk);
    }
    memset(&c, 0, sizeof(c));
    proxy_cfg_read(&c, root);
    CHECK(strstr(c.src[PXS_DAEMON_JSON].note, "larger than") != NULL);
    CHECK(!c.src[PXS_DAEMON_JSON].has_proxy);

    /* No Docker daemon configured: the shell's setting applies. */
    unlink(path);
    snprintf(path, sizeof(path), "%s/etc/systemd/system/docker.service.d/10-proxy.conf", root);
    unlink(path);
    snprintf(path, sizeof(path), "%s/etc/systemd/system/docker.service.d", root);
    rmdir(path);
    memset(&c, 0, sizeof(c));
    proxy_cfg_read(&c, root);
    CHECK(!c.daemon_installed);
    proxy_route_for(&c, "labreg.azurecr.io", 443, &r);
    CHECK_EQ_INT(r.source, PXS_ENV);
    /* The client's config: read, never a route. */
    snprintf(path, sizeof(path), "%s/config.json", root);
    static const char cj[] = "{\"proxies\":{\"default\":{\"httpsProxy\":\"http://198.18.5.8:3128\"}}}";
    write_file(path, cj, sizeof(cj) - 1);
    memset(&c, 0, sizeof(c));
    proxy_cfg_read(&c, root);
    CHECK_EQ_STR(c.src[PXS_CLIENT].url.host, "198.18.5.8");
    proxy_route_for(&c, "labreg.azurecr.io", 443, &r);
    CHECK_EQ_INT(r.source, PXS_ENV);
    unlink(path);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
    unsetenv("HTTPS_PROXY");
    unsetenv("DOCKER_CONFIG");
}

/* ---- the report ------------------------------------------------------------------ */

static struct an_report report_of(const char *const *facts, size_t n)
{
    struct an_options opt = { .port = 443 };
    struct an_engine *e = an_engine_new(&opt);
    for (size_t i = 0; i < n; i++)
        an_engine_fact(e, facts[i]);
    struct an_report r;
    an_engine_finish(e, "probe", &r);
    an_engine_free(e);
    return r;
}

static const struct an_endpoint *named(const struct an_report *r, const char *name)
{
    for (unsigned i = 0; i < r->n_endpoints; i++)
        if (strcmp(r->endpoints[i].name, name) == 0)
            return &r->endpoints[i];
    return NULL;
}

static void report_refused_407(void)
{
    const char *f[] = {
        "acrdiag-fact: fact=proxy_route name=labreg.azurecr.io via=http://198.18.5.1:3128 source=env usable=1 why=HTTPS_PROXY",
        "acrdiag-fact: fact=proxy_connect endpoint=198.18.5.1:3128 name=labreg.azurecr.io proxy=http://198.18.5.1:3128 result=replied local=0 status=407 reason=Proxy%20Authentication%20Required proxy_authenticate=Basic via=1.1%20squid server=squid waited_ms=3",
    };
    struct an_report r = report_of(f, 2);
    const struct an_endpoint *ep = named(&r, "labreg.azurecr.io");
    CHECK(ep != NULL);
    if (ep) {
        CHECK_EQ_STR(an_verdict_name(ep->verdict), "proxy_refused");
        CHECK(strstr(ep->reason, "407") != NULL);
        CHECK(ep->port == 3128);
    }
    CHECK_EQ_STR(an_verdict_name(r.verdict), "proxy_refused");
    an_report_free(&r);
}

static void report_bump_and_answer(void)
{
    const char *f[] = {
        "acrdiag-fact: fact=proxy_connect endpoint=198.18.5.1:3128 name=labreg.azurecr.io proxy=http://198.18.5.1:3128 result=replied local=0 status=200 reason=Connection%20established proxy_authenticate= via= server= waited_ms=2",
        "acrdiag-fact: fact=proxy_tls endpoint=198.18.5.1:3128 name=labreg.azurecr.io result=ok version=TLSv1.3 verify=20 verify_error=unable%20to%20get%20local%20issuer%20certificate subject_cn=*.azurecr.io issuer_cn=Fabrikam%20Secure%20Web%20Gateway%20CA issuer_o=Fabrikam%20Inc detail=",
        "acrdiag-fact: fact=proxy_http endpoint=198.18.5.1:3128 name=labreg.azurecr.io status=401 reason=Unauthorized registry_headers=1 bearer=1 code=UNAUTHORIZED client_ip= message=",
    };
    struct an_report r = report_of(f, 3);
    const struct an_endpoint *ep = named(&r, "labreg.azurecr.io");
    CHECK(ep != NULL);
    if (ep)
        CHECK_EQ_STR(an_verdict_name(ep->verdict), "proxy_interception");
    an_report_free(&r);
    /* The same with a verified chain: the registry's 401 through the tunnel is ok. */
    const char *g[] = { f[0],
        "acrdiag-fact: fact=proxy_tls endpoint=198.18.5.1:3128 name=labreg.azurecr.io result=ok version=TLSv1.3 verify=ok verify_error= subject_cn=*.azurecr.io issuer_cn=Microsoft%20Azure%20RSA%20TLS%20Issuing%20CA%2003 issuer_o=Microsoft%20Corporation detail=",
        f[2] };
    r = report_of(g, 3);
    ep = named(&r, "labreg.azurecr.io");
    CHECK(ep != NULL);
    if (ep)
        CHECK_EQ_STR(an_verdict_name(ep->verdict), "ok");
    an_report_free(&r);
}

static void report_settings_differ(void)
{
    const char *f[] = {
        "acrdiag-fact: fact=proxy_differ name=labreg.azurecr.io daemon=direct daemon_why=no%20HTTPS%20proxy%20is%20set shell=http://198.18.5.1:3128 shell_why=HTTPS_PROXY",
        "acrdiag-fact: fact=proxy_connect endpoint= name=labreg.azurecr.io proxy_host=proxy.invalid result=unresolved detail=Name%20or%20service%20not%20known",
    };
    struct an_report r = report_of(f, 2);
    CHECK(r.findings & (1u << AN_F_PROXY_SETTINGS_DIFFER));
    const struct an_endpoint *ep = named(&r, "labreg.azurecr.io");
    CHECK(ep != NULL);
    if (ep) {
        CHECK_EQ_STR(an_verdict_name(ep->verdict), "dns_failure");
        CHECK(strstr(ep->reason, "proxy.invalid") != NULL);
    }
    CHECK_EQ_STR(an_finding_name(AN_F_PROXY_SETTINGS_DIFFER), "proxy_settings_differ");
    an_report_free(&r);
}

int main(void)
{
    RUN(url_parsed);
    RUN(url_refused);
    RUN(no_proxy_matching);
    RUN(dropin_parsed);
    RUN(json_parsed);
    RUN(sources_and_routes);
    RUN(report_refused_407);
    RUN(report_bump_and_answer);
    RUN(report_settings_differ);
    return check_summary();
}
