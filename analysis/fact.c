/* fact.c: the table of fact kinds and keys, and a fact's text form (the
 * pcapng comment line).  The prober writes through it, analyze reads
 * through it; nothing here knows what a fact means (facts.c and the files
 * beside it apply them).  */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/fact.h"

/* ---- the table ------------------------------------------------------------------ */

const struct an_fact_keydef an_fact_keys[AN_K_COUNT] = {
    [AN_K_ADDR] = { "addr", AN_FT_STR },
    [AN_K_ADDRS] = { "addrs", AN_FT_STR },
    [AN_K_ANSWER] = { "answer", AN_FT_STR },
    [AN_K_API_VERSION] = { "api_version", AN_FT_STR },
    [AN_K_BEARER] = { "bearer", AN_FT_FLAG },
    [AN_K_BODY_BYTES] = { "body_bytes", AN_FT_INT },
    [AN_K_BODY_CUT] = { "body_cut", AN_FT_FLAG },
    [AN_K_CANCELLED] = { "cancelled", AN_FT_STR },
    [AN_K_CAPTURE] = { "capture", AN_FT_FLAG },
    [AN_K_CHAIN] = { "chain", AN_FT_STR },
    [AN_K_CODE] = { "code", AN_FT_STR },
    [AN_K_CONTENT_TYPE] = { "content_type", AN_FT_STR },
    [AN_K_CORRELATION] = { "correlation", AN_FT_STR },
    [AN_K_CREDS] = { "creds", AN_FT_STR },
    [AN_K_CLIENT_IP] = { "client_ip", AN_FT_STR },
    [AN_K_DAEMON] = { "daemon", AN_FT_STR },
    [AN_K_DAEMON_WHY] = { "daemon_why", AN_FT_STR },
    [AN_K_DETAIL] = { "detail", AN_FT_STR },
    [AN_K_ECHO_REPLIES] = { "echo_replies", AN_FT_INT },
    [AN_K_ECHO_REQUESTS] = { "echo_requests", AN_FT_INT },
    [AN_K_ENDPOINT] = { "endpoint", AN_FT_STR },
    [AN_K_FIRST_ANSWER_TTL] = { "first_answer_ttl", AN_FT_INT },
    [AN_K_GIVEN] = { "given", AN_FT_STR },
    [AN_K_GRANTS_PUSH] = { "grants_push", AN_FT_STR },
    [AN_K_HOST] = { "host", AN_FT_STR },
    [AN_K_ICMP] = { "icmp", AN_FT_STR },
    [AN_K_ISSUER_CN] = { "issuer_cn", AN_FT_STR },
    [AN_K_ISSUER_O] = { "issuer_o", AN_FT_STR },
    [AN_K_LOCAL] = { "local", AN_FT_FLAG },
    [AN_K_LOCATION] = { "location", AN_FT_STR },
    [AN_K_MAX_TTL] = { "max_ttl", AN_FT_INT },
    [AN_K_MESSAGE] = { "message", AN_FT_STR },
    [AN_K_METHOD] = { "method", AN_FT_STR },
    [AN_K_MS] = { "ms", AN_FT_INT },
    [AN_K_NAME] = { "name", AN_FT_STR },
    [AN_K_NOTE] = { "note", AN_FT_STR },
    [AN_K_NO_PROXY] = { "no_proxy", AN_FT_STR },
    [AN_K_ORIGIN] = { "origin", AN_FT_STR },
    [AN_K_PATCH] = { "patch", AN_FT_STR },
    [AN_K_PATCH_BYTES] = { "patch_bytes", AN_FT_INT },
    [AN_K_PATH] = { "path", AN_FT_STR },
    [AN_K_PORT] = { "port", AN_FT_INT },
    [AN_K_PROBED] = { "probed", AN_FT_FLAG },
    [AN_K_PROBLEM] = { "problem", AN_FT_STR },
    [AN_K_PROXY] = { "proxy", AN_FT_STR },
    [AN_K_PROXY_AUTHENTICATE] = { "proxy_authenticate", AN_FT_STR },
    [AN_K_PROXY_HOST] = { "proxy_host", AN_FT_STR },
    [AN_K_REALM] = { "realm", AN_FT_STR },
    [AN_K_REASON] = { "reason", AN_FT_STR },
    [AN_K_REGISTRY_ADDRESS] = { "registry_address", AN_FT_FLAG },
    [AN_K_REGISTRY_HEADERS] = { "registry_headers", AN_FT_FLAG },
    [AN_K_RELATIVE] = { "relative", AN_FT_FLAG },
    [AN_K_REPLIES] = { "replies", AN_FT_INT },
    [AN_K_REPO] = { "repo", AN_FT_STR },
    [AN_K_REQUESTS] = { "requests", AN_FT_INT },
    [AN_K_RESOLVED] = { "resolved", AN_FT_STR },
    [AN_K_RESOLVER] = { "resolver", AN_FT_STR },
    [AN_K_RESULT] = { "result", AN_FT_STR },
    [AN_K_SERVER] = { "server", AN_FT_STR },
    [AN_K_SHELL] = { "shell", AN_FT_STR },
    [AN_K_SHELL_WHY] = { "shell_why", AN_FT_STR },
    [AN_K_SNI] = { "sni", AN_FT_STR },
    [AN_K_SOURCE] = { "source", AN_FT_STR },
    [AN_K_STATUS] = { "status", AN_FT_INT },
    [AN_K_STEP] = { "step", AN_FT_STR },
    [AN_K_SUBJECT_CN] = { "subject_cn", AN_FT_STR },
    [AN_K_TIMEOUT_MS] = { "timeout_ms", AN_FT_INT },
    [AN_K_TLS] = { "tls", AN_FT_STR },
    [AN_K_UPPERCASE] = { "uppercase", AN_FT_FLAG },
    [AN_K_USABLE] = { "usable", AN_FT_FLAG },
    [AN_K_VALUE] = { "value", AN_FT_STR },
    [AN_K_VERIFY] = { "verify", AN_FT_STR },        /* "ok", "none" or OpenSSL's number */
    [AN_K_VERIFY_ERROR] = { "verify_error", AN_FT_STR },
    [AN_K_VERSION] = { "version", AN_FT_STR },
    [AN_K_VIA] = { "via", AN_FT_STR },
    [AN_K_WAITED_MS] = { "waited_ms", AN_FT_INT },
    [AN_K_WHY] = { "why", AN_FT_STR },
};

/* Bounds: `max` is what the analysis reads (a longer value was never
 * seen by it); `wire` is the percent-encoded length the prober gave the
 * value on its line.  A key nobody reads keeps what the prober wrote.
 * DNS names are at most 255 (LIM_DNS_NAME); an endpoint "[v6]:port" fits
 * 79.  */
#define F(k, m, w) { AN_K_##k, m, w }
#define N(k) { AN_K_##k, 0, 0 }          /* a number */

static const struct an_fact_field f_run[] = {
    F(NAME, 255, 0), N(UPPERCASE), N(CAPTURE), F(ICMP, 15, 0), N(TIMEOUT_MS),
};
static const struct an_fact_field f_dns[] = {
    F(NAME, 255, 0), F(RESOLVER, 63, 63), F(RESULT, 31, 0), F(CHAIN, 511, 699), F(ADDRS, 511, 699), N(MS),
};
static const struct an_fact_field f_ttl[] = {
    F(ENDPOINT, 79, 0), N(FIRST_ANSWER_TTL), F(ANSWER, 15, 0), N(MAX_TTL),
};
static const struct an_fact_field f_connect[] = {
    F(STEP, 31, 0), F(ENDPOINT, 79, 0), F(NAME, 255, 299), F(RESULT, 63, 0), N(LOCAL), N(MS),
};
static const struct an_fact_field f_tls[] = {
    F(STEP, 31, 0), F(ENDPOINT, 79, 0), F(SNI, 255, 299), F(RESULT, 31, 0), F(VERSION, 15, 0), F(VERIFY, 63, 0),
    F(VERIFY_ERROR, 159, 199), F(SUBJECT_CN, 299, 299), F(ISSUER_CN, 127, 299), F(ISSUER_O, 127, 299),
    F(DETAIL, 159, 299),
};
static const struct an_fact_field f_http[] = {
    F(ENDPOINT, 79, 0), N(STATUS), F(REASON, 63, 199), N(REGISTRY_HEADERS), N(BEARER), F(CODE, 63, 199),
    F(CLIENT_IP, 63, 199), F(MESSAGE, 199, 129),
};
static const struct an_fact_field f_echo[] = {
    F(ENDPOINT, 79, 0), N(REQUESTS), N(REPLIES), N(CAPTURE),
};
static const struct an_fact_field f_control[] = {
    F(GIVEN, 255, 299), F(RESOLVED, 31, 0), F(ADDR, 63, 0), N(PROBED), N(PORT), F(RESULT, 63, 0), N(LOCAL), N(MS),
    N(ECHO_REQUESTS), N(ECHO_REPLIES), N(CAPTURE), N(REGISTRY_ADDRESS),
};
static const struct an_fact_field f_local[] = {
    F(ADDRS, 399, 599),
};
static const struct an_fact_field f_push[] = {
    F(STEP, 31, 0), F(METHOD, 15, 0), F(HOST, 255, 299), F(ENDPOINT, 79, 0), F(PATH, 95, 199), F(RESULT, 31, 0),
    N(STATUS), F(REASON, 63, 199), F(CODE, 63, 199), F(CLIENT_IP, 63, 199), F(SERVER, 63, 199),
    F(API_VERSION, 39, 119), F(CORRELATION, 79, 199), F(CONTENT_TYPE, 319, 299), N(BODY_BYTES), N(BODY_CUT),
    F(VERIFY, 23, 0), N(MS), F(NOTE, 95, 399), F(TLS, 299, 299), F(MESSAGE, 319, 699), F(ADDR, 63, 0),
    F(GRANTS_PUSH, 15, 0), F(LOCATION, 319, 120), F(WHY, 119, 199), F(VALUE, 319, 300), F(REALM, 319, 300),
    N(RELATIVE),
};
static const struct an_fact_field f_pushcheck[] = {
    F(REPO, 599, 599), F(CREDS, 63, 0), F(RESULT, 39, 0), F(WHY, 31, 0), F(CANCELLED, 15, 0), N(PATCH_BYTES),
    F(PATCH, 39, 0), F(NOTE, 199, 299),
};
static const struct an_fact_field f_proxy_setting[] = {
    F(SOURCE, 31, 0), F(ORIGIN, 159, 239), F(PROXY, 575, 575), F(PROBLEM, 199, 239), F(NO_PROXY, 1023, 2047),
    F(NOTE, 199, 299),
};
static const struct an_fact_field f_proxy_route[] = {
    F(NAME, 255, 0), F(VIA, 199, 575), F(SOURCE, 31, 0), N(USABLE), F(WHY, 199, 299),
};
static const struct an_fact_field f_proxy_differ[] = {
    F(NAME, 255, 0), F(DAEMON, 199, 575), F(DAEMON_WHY, 199, 299), F(SHELL, 199, 575), F(SHELL_WHY, 199, 299),
};
static const struct an_fact_field f_proxy_connect[] = {
    F(ENDPOINT, 79, 0), F(NAME, 255, 0), F(PROXY, 199, 575), F(PROXY_HOST, 255, 299), F(RESULT, 31, 0), N(LOCAL),
    N(STATUS), F(REASON, 63, 199), F(PROXY_AUTHENTICATE, 63, 199), F(VIA, 95, 299), F(SERVER, 63, 199),
    N(WAITED_MS), F(DETAIL, 159, 239),
};
static const struct an_fact_field f_proxy_tls[] = {
    F(ENDPOINT, 79, 0), F(NAME, 255, 0), F(RESULT, 31, 0), F(VERSION, 15, 0), F(VERIFY, 31, 0),
    F(VERIFY_ERROR, 159, 199), F(SUBJECT_CN, 299, 299), F(ISSUER_CN, 127, 299), F(ISSUER_O, 127, 299),
    F(DETAIL, 159, 299),
};
static const struct an_fact_field f_proxy_http[] = {
    F(ENDPOINT, 79, 0), F(NAME, 255, 0), N(STATUS), F(REASON, 63, 199), N(REGISTRY_HEADERS), N(BEARER),
    F(CODE, 63, 199), F(CLIENT_IP, 63, 199), F(MESSAGE, 199, 129),
};
#undef F
#undef N

#define KIND(name, fields) { name, sizeof(fields) / sizeof(fields[0]), fields }
const struct an_fact_kinddef an_fact_kinds[AN_FK_COUNT] = {
    [AN_FK_UNKNOWN] = { "", 0, NULL },
    [AN_FK_RUN] = KIND("run", f_run),
    [AN_FK_DNS] = KIND("dns", f_dns),
    [AN_FK_TTL] = KIND("ttl", f_ttl),
    [AN_FK_CONNECT] = KIND("connect", f_connect),
    [AN_FK_TLS] = KIND("tls", f_tls),
    [AN_FK_HTTP] = KIND("http", f_http),
    [AN_FK_ECHO] = KIND("echo", f_echo),
    [AN_FK_CONTROL] = KIND("control", f_control),
    [AN_FK_LOCAL] = KIND("local", f_local),
    [AN_FK_PUSH] = KIND("push", f_push),
    [AN_FK_PUSHCHECK] = KIND("pushcheck", f_pushcheck),
    [AN_FK_PROXY_SETTING] = KIND("proxy_setting", f_proxy_setting),
    [AN_FK_PROXY_ROUTE] = KIND("proxy_route", f_proxy_route),
    [AN_FK_PROXY_DIFFER] = KIND("proxy_differ", f_proxy_differ),
    [AN_FK_PROXY_CONNECT] = KIND("proxy_connect", f_proxy_connect),
    [AN_FK_PROXY_TLS] = KIND("proxy_tls", f_proxy_tls),
    [AN_FK_PROXY_HTTP] = KIND("proxy_http", f_proxy_http),
};
#undef KIND

/* The kind's field index of k, or -1. */
static int field_of(enum an_fact_kind kind, enum an_fact_key k)
{
    const struct an_fact_kinddef *d = &an_fact_kinds[kind];
    for (unsigned i = 0; i < d->n_fields; i++)
        if (d->fields[i].key == k)
            return (int)i;
    return -1;
}

/* ---- the text form -------------------------------------------------------------- */

static bool plain_byte(unsigned char c)
{
    return isalnum(c) || strchr("._:/@,+*[]-", c) != NULL;
}

static bool printable(unsigned char c)
{
    return c >= 0x20 && c < 0x7f;
}

static size_t escaped_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += plain_byte((unsigned char)*s) ? 1 : 3;
    return n;
}

static size_t num_len(long v)
{
    char b[32];
    int n = snprintf(b, sizeof(b), "%ld", v);
    return n > 0 ? (size_t)n : 0;
}

void an_fact_init(struct an_fact *f, enum an_fact_kind kind)
{
    f->kind = kind;
    f->has = 0;
    f->num_ok = 0;
    f->used = 0;
    f->n_order = 0;
    f->line_len = (uint16_t)(strlen(AN_FACT_PREFIX) + strlen("fact=") + strlen(an_fact_kinds[kind].name));
}

/* Field i of a fact being written, checked against the table. */
static int write_field(const struct an_fact *f, enum an_fact_key k, enum an_fact_type t)
{
    int i = f->kind > AN_FK_UNKNOWN && f->kind < AN_FK_COUNT ? field_of(f->kind, k) : -1;
    if (i < 0 || (f->has & (1u << i)) || (an_fact_keys[k].type == AN_FT_STR) != (t == AN_FT_STR)) {
        fprintf(stderr, "acrdiag: fact %s: key %s not in the table, set twice or of another type\n",
                an_fact_kinds[f->kind].name, an_fact_keys[k].name);
        abort();
    }
    return i;
}

void an_fact_set(struct an_fact *f, enum an_fact_key k, const char *value)
{
    int i = write_field(f, k, AN_FT_STR);
    const struct an_fact_field *fd = &an_fact_kinds[f->kind].fields[i];
    size_t head = 1 + strlen(an_fact_keys[k].name) + 1;     /* " key=" */
    if ((size_t)f->line_len + head >= AN_FACT_LINE)
        return;                     /* no room for the key itself: left out */
    size_t room = AN_FACT_LINE - 1 - f->line_len - head;
    if (fd->wire && fd->wire < room)
        room = fd->wire;
    char *out = f->text + f->used;
    size_t o = 0, wire = 0;
    for (const unsigned char *s = (const unsigned char *)(value ? value : ""); *s && o < fd->max; s++) {
        unsigned char c = printable(*s) ? *s : '?';
        size_t need = plain_byte(c) ? 1 : 3;
        if (wire + need > room)
            break;
        wire += need;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    f->at[i] = f->used;
    f->used = (uint16_t)(f->used + o + 1);
    f->line_len = (uint16_t)(f->line_len + head + wire);
    f->has |= 1u << i;
    f->order[f->n_order++] = (uint8_t)i;
}

void an_fact_set_num(struct an_fact *f, enum an_fact_key k, long v)
{
    int i = write_field(f, k, AN_FT_INT);
    size_t len = 1 + strlen(an_fact_keys[k].name) + 1 + num_len(v);
    if ((size_t)f->line_len + len >= AN_FACT_LINE)
        return;
    f->num[i] = v;
    f->line_len = (uint16_t)(f->line_len + len);
    f->has |= 1u << i;
    f->num_ok |= 1u << i;
    f->order[f->n_order++] = (uint8_t)i;
}

size_t an_fact_format(const struct an_fact *f, char *out, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const struct an_fact_kinddef *d = &an_fact_kinds[f->kind];
    int n = snprintf(out, len, "%sfact=%s", AN_FACT_PREFIX, d->name);
    if (n < 0 || (size_t)n >= len)
        return 0;
    size_t o = (size_t)n;
    for (unsigned j = 0; j < f->n_order; j++) {
        unsigned i = f->order[j];
        enum an_fact_key k = d->fields[i].key;
        if (an_fact_keys[k].type != AN_FT_STR) {
            if (f->num_ok & (1u << i))
                n = snprintf(out + o, len - o, " %s=%ld", an_fact_keys[k].name, f->num[i]);
            else                    /* read, but not a number: present and empty */
                n = snprintf(out + o, len - o, " %s=", an_fact_keys[k].name);
            if (n < 0 || (size_t)n >= len - o)
                return 0;
            o += (size_t)n;
            continue;
        }
        const char *v = f->text + f->at[i];
        n = snprintf(out + o, len - o, " %s=", an_fact_keys[k].name);
        if (n < 0 || (size_t)n >= len - o || o + (size_t)n + escaped_len(v) >= len)
            return 0;
        o += (size_t)n;
        for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
            if (plain_byte(*s)) {
                out[o++] = (char)*s;
            } else {
                out[o++] = '%';
                out[o++] = hex[*s >> 4];
                out[o++] = hex[*s & 15];
            }
        }
        out[o] = '\0';
    }
    return o;
}

/* ---- reading -------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The value v..end decoded into out (at most max characters): an escape
 * of a non-printable byte reads '?', a broken escape reads as itself.  */
static size_t decode(const char *v, const char *end, char *out, size_t max)
{
    size_t o = 0;
    for (; v < end && o < max; v++) {
        int hi, lo;
        if (*v == '%' && v + 2 < end + 1 && (hi = hexval(v[1])) >= 0 && (lo = hexval(v[2])) >= 0) {
            unsigned char c = (unsigned char)(hi << 4 | lo);
            out[o++] = printable(c) ? (char)c : '?';
            v += 2;
        } else {
            out[o++] = *v;
        }
    }
    out[o] = '\0';
    return o;
}

/* A decimal number, all of the value (what the analysis always took). */
static bool parse_num(const char *v, const char *end, long *out)
{
    char b[32];
    decode(v, end, b, sizeof(b) - 1);
    char *e;
    long n = strtol(b, &e, 10);
    if (*e || e == b)
        return false;
    *out = n;
    return true;
}

bool an_fact_parse(const char *line, struct an_fact *f)
{
    size_t pl = strlen(AN_FACT_PREFIX);
    if (strncmp(line, AN_FACT_PREFIX, pl) != 0)
        return false;
    const char *start = line + pl, *stop = line + strnlen(line, AN_FACT_LINE - 1);
    f->kind = AN_FK_UNKNOWN;
    f->has = f->num_ok = 0;
    f->used = 0;
    f->n_order = 0;
    f->line_len = (uint16_t)(stop - line);
    /* The kind: the first fact= token. */
    for (const char *p = start; p < stop && f->kind == AN_FK_UNKNOWN;) {
        while (p < stop && *p == ' ')
            p++;
        const char *tok = p;
        while (p < stop && *p != ' ')
            p++;
        if (p - tok >= 5 && strncmp(tok, "fact=", 5) == 0) {
            char kind[32];
            decode(tok + 5, p, kind, sizeof(kind) - 1);
            for (int k = AN_FK_UNKNOWN + 1; k < AN_FK_COUNT; k++)
                if (strcmp(kind, an_fact_kinds[k].name) == 0)
                    f->kind = (enum an_fact_kind)k;
            break;
        }
    }
    if (f->kind == AN_FK_UNKNOWN)
        return true;
    const struct an_fact_kinddef *d = &an_fact_kinds[f->kind];
    for (const char *p = start; p < stop;) {
        while (p < stop && *p == ' ')
            p++;
        const char *tok = p;
        while (p < stop && *p != ' ')
            p++;
        const char *eq = memchr(tok, '=', (size_t)(p - tok));
        if (!eq)
            continue;               /* no key=: no key */
        for (unsigned i = 0; i < d->n_fields; i++) {
            const char *name = an_fact_keys[d->fields[i].key].name;
            if ((f->has & (1u << i)) || strlen(name) != (size_t)(eq - tok) || strncmp(tok, name, (size_t)(eq - tok)) != 0)
                continue;
            if (an_fact_keys[d->fields[i].key].type == AN_FT_STR) {
                f->at[i] = f->used;
                f->used = (uint16_t)(f->used + decode(eq + 1, p, f->text + f->used, d->fields[i].max) + 1);
            } else if (parse_num(eq + 1, p, &f->num[i])) {
                f->num_ok |= 1u << i;
            }
            f->has |= 1u << i;
            f->order[f->n_order++] = (uint8_t)i;
            break;
        }
    }
    return true;
}

bool an_fact_has(const struct an_fact *f, enum an_fact_key k)
{
    int i = field_of(f->kind, k);
    return i >= 0 && (f->has & (1u << i));
}

const char *an_fact_str(const struct an_fact *f, enum an_fact_key k)
{
    int i = field_of(f->kind, k);
    if (i < 0 || !(f->has & (1u << i)) || an_fact_keys[k].type != AN_FT_STR)
        return "";
    return f->text + f->at[i];
}

bool an_fact_copy(const struct an_fact *f, enum an_fact_key k, char *out, size_t len)
{
    snprintf(out, len, "%s", an_fact_str(f, k));
    return an_fact_has(f, k);
}

bool an_fact_eq(const struct an_fact *f, enum an_fact_key k, const char *s)
{
    return an_fact_has(f, k) && strcmp(an_fact_str(f, k), s) == 0;
}

long an_fact_num(const struct an_fact *f, enum an_fact_key k, long dflt)
{
    int i = field_of(f->kind, k);
    return i >= 0 && (f->num_ok & (1u << i)) ? f->num[i] : dflt;
}

bool an_fact_flag(const struct an_fact *f, enum an_fact_key k)
{
    return an_fact_num(f, k, 0) == 1;
}

const struct an_fact *an_fact_find(const struct an_fact *const *facts, size_t n, enum an_fact_kind kind,
                                   const char *endpoint, const char *step)
{
    for (size_t i = 0; i < n; i++)
        if (facts[i]->kind == kind && an_fact_eq(facts[i], AN_K_ENDPOINT, endpoint) &&
            (!step || an_fact_eq(facts[i], AN_K_STEP, step)))
            return facts[i];
    return NULL;
}
