/* push_parse.c: the push check's parsers, free of I/O (unit-tested in
 * tests/unit/test_push.c): repository names, the WWW-Authenticate
 * challenge, URLs of the realm and the upload's Location, which hosts are
 * followed, form encoding, and the push right a token's JWT grants.  */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "push.h"

bool push_repo_valid(const char *repo)
{
    /* distribution-spec: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+(...)*)* */
    size_t n = strlen(repo);
    if (n == 0 || n >= PUSH_REPO_MAX)
        return false;
    char prev = '/';
    for (size_t i = 0; i < n; i++) {
        char ch = repo[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        bool sep = ch == '.' || ch == '_' || ch == '-' || ch == '/';
        if (!alnum && !sep)
            return false;
        /* A component starts and ends with a letter or digit; '.' and '/'
         * never repeat ('_' twice and runs of '-' are allowed).  */
        if (sep && (prev == '/' || ((prev == '.' || prev == '/') && ch != '-') ||
                    (ch == '/' && (prev == '.' || prev == '_' || prev == '-'))))
            return false;
        prev = ch;
    }
    return prev != '.' && prev != '_' && prev != '-' && prev != '/';
}

/* ---- the challenge ------------------------------------------------------------ */

/* RFC 9110 11.6.1: scheme, then auth-params `key=token` or
 * `key="quoted string"` separated by commas.  False when malformed. */
bool push_parse_challenge(const char *v, struct challenge *c)
{
    memset(c, 0, sizeof(*c));
    const char *s = v;
    size_t n = strcspn(s, " ");
    if (n == 0 || n >= sizeof(c->scheme))
        return false;
    memcpy(c->scheme, s, n);
    c->bearer = strcasecmp(c->scheme, "Bearer") == 0;
    s += n;
    /* Bounded by the value: every turn consumes at least one byte. */
    while (*s) {
        while (*s == ' ' || *s == ',')
            s++;
        if (!*s)
            break;
        const char *k = s;
        while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' || *s == '-')
            s++;
        size_t kl = (size_t)(s - k);
        if (kl == 0 || *s != '=')
            return false;
        s++;
        char val[512];
        size_t o = 0;
        if (*s == '"') {
            s++;
            while (*s && *s != '"') {
                if (*s == '\\' && s[1])
                    s++;
                if (o + 1 >= sizeof(val))
                    return false;
                val[o++] = *s++;
            }
            if (*s != '"')
                return false;       /* an unterminated quoted string */
            s++;
        } else {
            while (*s && *s != ',' && *s != ' ') {
                if (o + 1 >= sizeof(val))
                    return false;
                val[o++] = *s++;
            }
        }
        val[o] = '\0';
        if (kl == 5 && strncasecmp(k, "realm", 5) == 0)
            memcpy(c->realm, val, o + 1);
        else if (kl == 7 && strncasecmp(k, "service", 7) == 0 && o < sizeof(c->service))
            memcpy(c->service, val, o + 1);
        else if (kl == 7 && strncasecmp(k, "service", 7) == 0)
            return false;
    }
    return !c->bearer || (c->realm[0] && c->service[0]);
}

/* ---- URLs ------------------------------------------------------------------------ */

/* "https://host[:port]/path?query", or "/path" relative to `base_host`.
 * Returns NULL when usable, else what is wrong with it.  */
const char *push_parse_url(const char *s, const char *base_host, struct url *u)
{
    memset(u, 0, sizeof(*u));
    u->port = 443;
    if (s[0] == '/' && s[1] != '/') {
        snprintf(u->host, sizeof(u->host), "%s", base_host);
        if (strlen(s) >= sizeof(u->path))
            return "too long";
        snprintf(u->path, sizeof(u->path), "%s", s);
        return NULL;
    }
    if (strncasecmp(s, "https://", 8) != 0)
        return strncasecmp(s, "http://", 7) == 0 ? "plain http (not TLS)" : "not an https URL";
    s += 8;
    size_t hl = strcspn(s, ":/?#");
    if (hl == 0 || hl >= sizeof(u->host))
        return "no host name";
    for (size_t i = 0; i < hl; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
            return "a host that is not a DNS name";
        u->host[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    s += hl;
    if (*s == ':') {
        char *end;
        long port = strtol(s + 1, &end, 10);
        if (end == s + 1 || port < 1 || port > 65535)
            return "a bad port";
        u->port = (unsigned)port;
        s = end;
    }
    if (*s && *s != '/' && *s != '?')
        return "a malformed URL";
    if (strlen(s) + 2 >= sizeof(u->path))
        return "too long";
    snprintf(u->path, sizeof(u->path), "%s%s", *s == '/' ? "" : "/", s);
    return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Hosts the check follows: the probed names, and the registry's and blob
 * storage's domains; anything else is reported, not followed.  */
bool push_host_allowed(const char (*names)[LIM_DNS_NAME], unsigned n_names, const char *host)
{
    for (unsigned i = 0; i < n_names; i++)
        if (strcmp(host, names[i]) == 0)
            return true;
    return ends_with(host, ".azurecr.io") || ends_with(host, ".blob.core.windows.net");
}

/* Appends s percent-encoded as a form value (RFC 3986 unreserved kept). */
bool push_form_add(char *dst, size_t len, const char *key, const char *s)
{
    size_t o = strlen(dst);
    int n = snprintf(dst + o, len - o, "%s%s=", o ? "&" : "", key);
    if (n < 0 || (size_t)n >= len - o)
        return false;
    o += (size_t)n;
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                     strchr("-._~", *c);
        if (o + 4 >= len)
            return false;
        if (plain) {
            dst[o++] = (char)*c;
        } else {
            dst[o++] = '%';
            dst[o++] = hex[*c >> 4];
            dst[o++] = hex[*c & 15];
        }
    }
    dst[o] = '\0';
    return true;
}

/* Whether the token's JWT payload grants push on the repository: 1, 0, or
 * -1 when it is not a JWT that says (ACR's tokens carry an "access" claim). */
int push_token_grants_push(const char *token, const char *repo)
{
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2 || d2 - d1 - 1 <= 0 || d2 - d1 > 8192)
        return -1;
    size_t n = (size_t)(d2 - d1 - 1);
    char b64[8200], raw[6200];
    for (size_t i = 0; i < n; i++)
        b64[i] = d1[1 + i] == '-' ? '+' : d1[1 + i] == '_' ? '/' : d1[1 + i];
    while (n % 4)
        b64[n++] = '=';
    int got = EVP_DecodeBlock((unsigned char *)raw, (const unsigned char *)b64, (int)n);
    if (got <= 0)
        return -1;
    json_error_t je;
    json_t *root = json_loadb(raw, strnlen(raw, (size_t)got), 0, &je);
    json_t *access = json_object_get(root, "access");
    int grants = json_is_array(access) ? 0 : -1;
    size_t i;
    json_t *e;
    json_array_foreach(access, i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        if (!name || strcmp(name, repo) != 0)
            continue;
        size_t j;
        json_t *act;
        json_array_foreach(json_object_get(e, "actions"), j, act) {
            const char *s = json_string_value(act);
            if (s && (strcmp(s, "push") == 0 || strcmp(s, "*") == 0))
                grants = 1;
        }
    }
    json_decref(root);
    return grants;
}
