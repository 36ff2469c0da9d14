/* proxycfg.c: proxy URLs, NO_PROXY, and which proxy setting applies to a
 * name.  The rules are Go's (golang.org/x/net/http/httpproxy), which
 * dockerd and the docker CLI use: an https request follows HTTPS_PROXY
 * (then https_proxy) only, NO_PROXY exempts hosts, localhost and loopback
 * addresses never go through a proxy.  The sources are read in proxysrc.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

static void copy_str(char *dst, size_t len, const char *src, size_t n)
{
    if (n >= len)
        n = len - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes user:pass (RFC 3986 3.2.1); false on a bad escape or a
 * control byte, which no header may carry.  */
static bool decode_userinfo(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return false;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || o + 1 >= outlen)
            return false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}

static bool host_byte(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_';
}

bool proxy_url_parse(const char *in, struct proxy_url *u)
{
    memset(u, 0, sizeof(*u));
    while (*in == ' ' || *in == '\t')
        in++;
    size_t n = strlen(in);
    while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= PROXY_URL_MAX) {
        snprintf(u->problem, sizeof(u->problem), n ? "longer than %u bytes" : "empty", PROXY_URL_MAX - 1);
        return false;
    }
    /* No scheme: http, as httpproxy's parseProxy retries "http://" + it. */
    const char *rest = in, *end = in + n;
    snprintf(u->scheme, sizeof(u->scheme), "http");
    const char *sep = strstr(in, "://");
    if (sep && sep < end) {
        size_t sl = (size_t)(sep - in);
        bool ok = sl > 0 && sl < sizeof(u->scheme) && isalpha((unsigned char)in[0]);
        for (size_t i = 0; ok && i < sl; i++)
            ok = isalnum((unsigned char)in[i]) || in[i] == '+' || in[i] == '-' || in[i] == '.';
        if (!ok) {
            snprintf(u->problem, sizeof(u->problem), "not a URL scheme before ://");
            return false;
        }
        for (size_t i = 0; i < sl; i++)
            u->scheme[i] = (char)tolower((unsigned char)in[i]);
        u->scheme[sl] = '\0';
        rest = sep + 3;
    }
    /* The authority ends at the path, query or fragment (all ignored). */
    const char *auth_end = rest;
    while (auth_end < end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
        auth_end++;
    const char *at = NULL;
    for (const char *q = rest; q < auth_end; q++)
        if (*q == '@')
            at = q;         /* the last one, as url.Parse takes it */
    const char *hp = rest;
    if (at) {
        if (!decode_userinfo(rest, (size_t)(at - rest), u->credentials, sizeof(u->credentials))) {
            snprintf(u->problem, sizeof(u->problem), "the user:password part is not percent-encoded text");
            return false;
        }
        u->has_credentials = true;
        hp = at + 1;
    }
    const char *host = hp, *host_end, *colon = NULL;
    if (hp < auth_end && *hp == '[') {
        const char *rb = memchr(hp, ']', (size_t)(auth_end - hp));
        if (!rb) {
            snprintf(u->problem, sizeof(u->problem), "an IPv6 address without its closing ]");
            return false;
        }
        host = hp + 1;
        host_end = rb;
        if (rb + 1 < auth_end) {
            if (rb[1] != ':') {
                snprintf(u->problem, sizeof(u->problem), "bytes after the IPv6 address");
                return false;
            }
            colon = rb + 1;
        }
    } else {
        colon = memchr(hp, ':', (size_t)(auth_end - hp));
        host_end = colon ? colon : auth_end;
    }
    size_t hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof(u->host)) {
        snprintf(u->problem, sizeof(u->problem), hl ? "a host name too long" : "no host");
        return false;
    }
    for (size_t i = 0; i < hl; i++) {
        unsigned char c = (unsigned char)host[i];
        if (!host_byte(c) && !(host != hp && (c == ':' || c == '%'))) {
            snprintf(u->problem, sizeof(u->problem), "a byte that no host name holds (0x%02x)", c);
            return false;
        }
        u->host[i] = (char)tolower(c);
    }
    u->host[hl] = '\0';
    if (host != hp) {
        struct cap_addr a;
        if (!cap_addr_parse(u->host, &a) || a.family != 6) {
            snprintf(u->problem, sizeof(u->problem), "not an IPv6 address inside [ ]");
            return false;
        }
    }
    long port = 0;
    if (colon && colon + 1 < auth_end) {
        port = 0;
        for (const char *q = colon + 1; q < auth_end; q++) {
            if (!isdigit((unsigned char)*q) || port > 65535) {
                snprintf(u->problem, sizeof(u->problem), "the port is not a number from 1 to 65535");
                return false;
            }
            port = port * 10 + (*q - '0');
        }
        if (port < 1 || port > 65535) {
            snprintf(u->problem, sizeof(u->problem), "the port is not a number from 1 to 65535");
            return false;
        }
    } else {
        /* net/http's defaults for the scheme. */
        port = strcmp(u->scheme, "https") == 0 ? 443 : strncmp(u->scheme, "socks5", 6) == 0 ? 1080 : 80;
    }
    u->port = (uint16_t)port;
    bool v6 = host != hp;
    snprintf(u->shown, sizeof(u->shown), "%s://%s%s%s%s:%u", u->scheme, u->has_credentials ? "***@" : "",
             v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
    if (strcmp(u->scheme, "http") == 0) {
        u->usable = true;
    } else if (strcmp(u->scheme, "https") == 0) {
        snprintf(u->problem, sizeof(u->problem), "an https:// proxy (TLS to the proxy itself): acrdiag probes http:// proxies only");
    } else if (strncmp(u->scheme, "socks", 5) == 0) {
        snprintf(u->problem, sizeof(u->problem), "a SOCKS proxy: acrdiag probes http:// proxies only");
    } else {
        snprintf(u->problem, sizeof(u->problem), "scheme %s is no proxy scheme (http, https, socks5)", u->scheme);
    }
    return true;
}

/* ---- NO_PROXY ------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* One NO_PROXY entry (lower-cased, trimmed) against host:port. */
static bool entry_matches(const char *entry, const char *host, const struct cap_addr *hip, uint16_t port)
{
    if (strcmp(entry, "*") == 0)
        return true;
    /* A CIDR matches addresses only. */
    const char *slash = strchr(entry, '/');
    if (slash) {
        char net[64];
        size_t nl = (size_t)(slash - entry);
        char *endp;
        long bits = strtol(slash + 1, &endp, 10);
        struct cap_addr a;
        if (nl == 0 || nl >= sizeof(net) || *endp || endp == slash + 1 || !hip)
            return false;
        memcpy(net, entry, nl);
        net[nl] = '\0';
        if (!cap_addr_parse(net, &a) || a.family != hip->family || bits < 0 || bits > (a.family == 4 ? 32 : 128))
            return false;
        for (long b = 0; b < bits; b++) {
            unsigned mask = 0x80u >> (b % 8);
            if ((a.a[b / 8] & mask) != (hip->a[b / 8] & mask))
                return false;
        }
        return true;
    }
    /* host, host:port, [v6]:port */
    char eh[LIM_DNS_NAME];
    long eport = 0;
    const char *colon = strrchr(entry, ':');
    size_t el = strlen(entry);
    if (entry[0] == '[') {
        const char *rb = strchr(entry, ']');
        if (!rb)
            return false;
        copy_str(eh, sizeof(eh), entry + 1, (size_t)(rb - entry - 1));
        if (rb[1] == ':')
            eport = strtol(rb + 2, NULL, 10);
    } else if (colon && strchr(entry, ':') == colon) {
        copy_str(eh, sizeof(eh), entry, (size_t)(colon - entry));
        eport = strtol(colon + 1, NULL, 10);
        if (eport <= 0)
            return false;   /* "host:" or "host:x": malformed, as SplitHostPort has it */
    } else {
        copy_str(eh, sizeof(eh), entry, el);
    }
    if (!eh[0])
        return false;
    if (eport && eport != port)
        return false;
    struct cap_addr ea;
    if (cap_addr_parse(eh, &ea))
        return hip && cap_addr_eq(&ea, hip);
    /* "*.x" and ".x": subdomains only; "x": x and its subdomains. */
    const char *d = eh;
    if (d[0] == '*' && d[1] == '.')
        d++;
    if (d[0] == '.')
        return ends_with(host, d);
    char dotted[LIM_DNS_NAME + 1];
    snprintf(dotted, sizeof(dotted), ".%s", d);
    return strcmp(host, d) == 0 || ends_with(host, dotted);
}

bool proxy_use_for(const char *no_proxy, const char *host_in, uint16_t port, char *entry, size_t entrylen)
{
    char host[LIM_DNS_NAME];
    size_t hl = strlen(host_in);
    if (hl >= sizeof(host))
        hl = sizeof(host) - 1;
    for (size_t i = 0; i < hl; i++)
        host[i] = (char)tolower((unsigned char)host_in[i]);
    host[hl] = '\0';
    if (hl && host[hl - 1] == '.')
        host[--hl] = '\0';
    struct cap_addr hip;
    bool is_ip = cap_addr_parse(host, &hip);
    bool loopback = strcmp(host, "localhost") == 0 ||
                    (is_ip && ((hip.family == 4 && hip.a[0] == 127) ||
                               (hip.family == 6 && memcmp(hip.a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0)));
    if (loopback) {
        copy_str(entry, entrylen, "(loopback)", 10);
        return false;
    }
    /* Bounded by the list: each turn consumes one comma-separated entry. */
    for (const char *p = no_proxy; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char e[LIM_DNS_NAME + 8];
        const char *s = p;
        while (n && isspace((unsigned char)*s))
            s++, n--;
        while (n && isspace((unsigned char)s[n - 1]))
            n--;
        p = comma ? comma + 1 : p + strlen(p);
        if (n == 0 || n >= sizeof(e))
            continue;
        for (size_t i = 0; i < n; i++)
            e[i] = (char)tolower((unsigned char)s[i]);
        e[n] = '\0';
        if (entry_matches(e, host, is_ip ? &hip : NULL, port)) {
            copy_str(entry, entrylen, e, n);
            return false;
        }
    }
    if (entrylen)
        entry[0] = '\0';
    return true;
}

/* ---- routes ------------------------------------------------------------------- */

const char *proxy_source_name(int source)
{
    switch (source) {
    case PXS_OPTION: return "option";
    case PXS_ENV: return "env";
    case PXS_DAEMON_JSON: return "daemon_json";
    case PXS_SYSTEMD: return "systemd";
    case PXS_CLIENT: return "client";
    }
    return "direct";
}

void proxy_route_by(const struct proxy_cfg *c, int source, const char *host, uint16_t port, struct proxy_route *r)
{
    const struct proxy_setting *s = &c->src[source];
    const char *no_proxy = s->no_proxy;
    if (source == PXS_DAEMON_JSON) {
        /* dockerd: each daemon.json field overrides its environment's. */
        const struct proxy_setting *sd = &c->src[PXS_SYSTEMD];
        if (!s->has_proxy) {
            s = sd;
            source = PXS_SYSTEMD;
        }
        if (!c->src[PXS_DAEMON_JSON].no_proxy[0])
            no_proxy = sd->no_proxy;
    }
    r->source = -1;
    char entry[LIM_DNS_NAME + 8];
    if (!s->has_proxy) {
        snprintf(r->why, sizeof(r->why), "no HTTPS proxy is set");
    } else if (!proxy_use_for(no_proxy, host, port, entry, sizeof(entry))) {
        snprintf(r->why, sizeof(r->why), "NO_PROXY entry %.150s matches", entry);
    } else {
        r->source = source;
        snprintf(r->why, sizeof(r->why), "%s", s->origin);
    }
}

void proxy_route_for(const struct proxy_cfg *c, const char *host, uint16_t port, struct proxy_route *r)
{
    if (c->no_proxy_option) {
        r->source = -1;
        snprintf(r->why, sizeof(r->why), "--no-proxy");
    } else if (c->src[PXS_OPTION].has_proxy) {
        r->source = PXS_OPTION;
        snprintf(r->why, sizeof(r->why), "--proxy");
    } else {
        proxy_route_by(c, c->daemon_installed ? PXS_DAEMON_JSON : PXS_ENV, host, port, r);
    }
}
