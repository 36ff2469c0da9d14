/* fuzz_proxycfg.c: fuzz harness for the proxy settings readers
 * (probe/proxycfg.c, proxysrc.c): byte 0 picks the reader, the rest is its
 * input: a proxy URL; a NO_PROXY list, a newline, then a host name to match;
 * a systemd drop-in; daemon.json; the client's config.json.  Checks: a
 * usable URL has a host and a port, its printed form is exactly
 * scheme://[***@]host:port (never the credentials), every string is
 * terminated, a route comes from the source asked or is direct.  */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_report.h"
#include "probe/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_url(const struct proxy_url *u)
{
    FUZZ_CHECK(fuzz_terminated(u->shown, sizeof(u->shown)));
    FUZZ_CHECK(fuzz_terminated(u->host, sizeof(u->host)));
    FUZZ_CHECK(fuzz_terminated(u->problem, sizeof(u->problem)));
    FUZZ_CHECK(fuzz_terminated(u->credentials, sizeof(u->credentials)));
    if (u->usable)
        FUZZ_CHECK(u->host[0] && u->port > 0 && strcmp(u->scheme, "http") == 0);
    /* The printed form is exactly scheme://[***@]host:port: the
     * credentials can never show in it.  */
    if (u->shown[0]) {
        char want[PROXY_URL_MAX + 16];
        bool v6 = strchr(u->host, ':') != NULL;
        snprintf(want, sizeof(want), "%s://%s%s%s%s:%u", u->scheme, u->has_credentials ? "***@" : "", v6 ? "[" : "",
                 u->host, v6 ? "]" : "", u->port);
        FUZZ_CHECK(strcmp(want, u->shown) == 0);
    }
}

static void check_setting(const struct proxy_setting *s)
{
    FUZZ_CHECK(fuzz_terminated(s->origin, sizeof(s->origin)));
    FUZZ_CHECK(fuzz_terminated(s->no_proxy, sizeof(s->no_proxy)));
    FUZZ_CHECK(fuzz_terminated(s->note, sizeof(s->note)));
    FUZZ_CHECK(!s->has_proxy || s->present);
    if (s->has_proxy)
        check_url(&s->url);
    struct proxy_cfg c;
    memset(&c, 0, sizeof(c));
    c.src[PXS_ENV] = *s;
    struct proxy_route r;
    proxy_route_by(&c, PXS_ENV, "labreg.azurecr.io", 443, &r);
    FUZZ_CHECK(r.source == -1 || r.source == PXS_ENV);
    FUZZ_CHECK(fuzz_terminated(r.why, sizeof(r.why)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > PROXY_FILE_MAX)
        return 0;
    unsigned pick = data[0] % 5;
    /* The readers take text: a NUL-terminated copy. */
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    struct proxy_setting s;
    memset(&s, 0, sizeof(s));
    switch (pick) {
    case 0: {
        struct proxy_url u;
        bool ok = proxy_url_parse(text, &u);
        check_url(&u);
        FUZZ_CHECK(ok || (!u.usable && u.problem[0]));
        break;
    }
    case 1: {
        char *nl = strchr(text, '\n'), entry[300];
        const char *host = "labreg.azurecr.io";
        if (nl) {
            *nl = '\0';
            host = nl + 1;
        }
        bool use = proxy_use_for(text, host, (uint16_t)(size * 7), entry, sizeof(entry));
        FUZZ_CHECK(fuzz_terminated(entry, sizeof(entry)));
        FUZZ_CHECK(use || entry[0]);
        break;
    }
    case 2: proxy_parse_dropin(text, size - 1, "fuzz.conf", &s); check_setting(&s); break;
    case 3: proxy_parse_daemon_json(text, size - 1, "/etc/docker/daemon.json", &s); check_setting(&s); break;
    default: proxy_parse_client_json(text, size - 1, "config.json", &s); check_setting(&s); break;
    }
    free(text);
    return 0;
}
