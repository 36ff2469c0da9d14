/* keylog.c: TLS secrets from an NSS key log (the SSLKEYLOGFILE format,
 * https://www.ietf.org/archive/id/draft-ietf-tls-keylogfile-02.html): one
 * "LABEL <client_random hex> <secret hex>" per line.  Lines that are not
 * one (comments, garbage, labels we do not use, lengths that do not fit)
 * are counted and skipped; at most LIM_KEYLOG_ENTRIES secrets are kept.
 * Secrets stay in this table and are wiped when it is freed: nothing here
 * prints them.  */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"

struct keylog_entry {
    uint8_t client_random[32];
    uint8_t kind;                   /* enum cap_secret */
    uint8_t len;
    uint8_t secret[CAP_SECRET_MAX];
    uint32_t next;                  /* the previous entry in its bucket, or NONE */
};

/* Entries are found by client random through a chained hash (a lookup per
 * flow against up to LIM_KEYLOG_ENTRIES lines must not be a scan).  */
#define BUCKETS 4096u
#define NONE UINT32_MAX

struct cap_keylog {
    struct keylog_entry *e;
    size_t n, cap;
    size_t skipped;
    uint32_t bucket[BUCKETS];       /* the latest entry of each bucket */
};

/* Client randoms are random (RFC 8446 4.1.2): their first bytes hash well,
 * and a crafted key log only slows its own lookups.  */
static uint32_t bucket_of(const uint8_t cr[32])
{
    return ((uint32_t)cr[0] << 8 | cr[1]) % BUCKETS;
}

static const struct {
    const char *label;
    enum cap_secret kind;
} labels[] = {
    { "CLIENT_RANDOM", CAP_SECRET_MASTER },
    { "CLIENT_TRAFFIC_SECRET_0", CAP_SECRET_CLIENT_APP },
    { "SERVER_TRAFFIC_SECRET_0", CAP_SECRET_SERVER_APP },
    { "CLIENT_HANDSHAKE_TRAFFIC_SECRET", CAP_SECRET_CLIENT_HS },
    { "SERVER_HANDSHAKE_TRAFFIC_SECRET", CAP_SECRET_SERVER_HS },
};

struct cap_keylog *cap_keylog_new(void)
{
    struct cap_keylog *k = calloc(1, sizeof(struct cap_keylog));
    if (k)
        for (unsigned i = 0; i < BUCKETS; i++)
            k->bucket[i] = NONE;
    return k;
}

void cap_keylog_free(struct cap_keylog *k)
{
    if (!k)
        return;
    if (k->e)
        OPENSSL_cleanse(k->e, k->cap * sizeof(*k->e));
    free(k->e);
    free(k);
}

size_t cap_keylog_count(const struct cap_keylog *k)
{
    return k ? k->n : 0;
}

size_t cap_keylog_skipped(const struct cap_keylog *k)
{
    return k ? k->skipped : 0;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes exactly 2*n hex digits at p into out; false otherwise. */
static bool unhex(const uint8_t *p, size_t digits, uint8_t *out, size_t max, size_t *n)
{
    if (digits == 0 || digits % 2 || digits / 2 > max)
        return false;
    for (size_t i = 0; i < digits / 2; i++) {
        int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *n = digits / 2;
    return true;
}

/* One line without its end; true when it gave a secret. */
static bool add_line(struct cap_keylog *k, const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    const uint8_t *f[3];
    size_t fl[3];
    unsigned nf = 0;
    while (p < end && nf < 3) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p == end)
            break;
        f[nf] = p;
        while (p < end && *p != ' ' && *p != '\t')
            p++;
        fl[nf] = (size_t)(p - f[nf]);
        nf++;
    }
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    if (nf != 3 || p != end)
        return false;
    if (fl[2] && f[2][fl[2] - 1] == '\r')
        fl[2]--;
    int kind = -1;
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
        if (strlen(labels[i].label) == fl[0] && memcmp(labels[i].label, f[0], fl[0]) == 0)
            kind = (int)labels[i].kind;
    struct keylog_entry ent;
    size_t n;
    if (kind < 0 || !unhex(f[1], fl[1], ent.client_random, 32, &n) || n != 32 ||
        !unhex(f[2], fl[2], ent.secret, sizeof(ent.secret), &n))
        return false;
    /* TLS 1.2's master secret is 48 bytes (RFC 5246 8.1); a TLS 1.3
     * secret is a hash's length: 32 or 48 (RFC 8446 7.1).  */
    if ((kind == CAP_SECRET_MASTER && n != 48) || (kind != CAP_SECRET_MASTER && n != 32 && n != 48))
        return false;
    ent.kind = (uint8_t)kind;
    ent.len = (uint8_t)n;
    if (k->n >= LIM_KEYLOG_ENTRIES)
        return false;
    if (k->n == k->cap) {
        size_t ncap = k->cap ? k->cap * 2 : 64;
        if (ncap > LIM_KEYLOG_ENTRIES)
            ncap = LIM_KEYLOG_ENTRIES;
        struct keylog_entry *ne = calloc(ncap, sizeof(*ne));
        if (!ne)
            return false;
        if (k->e) {
            memcpy(ne, k->e, k->n * sizeof(*ne));
            OPENSSL_cleanse(k->e, k->cap * sizeof(*k->e));
            free(k->e);
        }
        k->e = ne;
        k->cap = ncap;
    }
    uint32_t b = bucket_of(ent.client_random);
    ent.next = k->bucket[b];
    k->bucket[b] = (uint32_t)k->n;
    k->e[k->n++] = ent;
    OPENSSL_cleanse(&ent, sizeof(ent));
    return true;
}

size_t cap_keylog_add(struct cap_keylog *k, const uint8_t *text, size_t len)
{
    size_t added = 0;
    const uint8_t *p = text, *end = text + len;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *le = nl ? nl : end;
        size_t ll = (size_t)(le - p);
        bool blank = ll == 0 || (ll == 1 && p[0] == '\r');
        if (!blank && p[0] != '#') {
            if (ll <= LIM_KEYLOG_LINE && add_line(k, p, ll))
                added++;
            else
                k->skipped++;
        }
        p = nl ? nl + 1 : end;
    }
    return added;
}

bool cap_keylog_find(const struct cap_keylog *k, const uint8_t client_random[32], enum cap_secret kind,
                     uint8_t *out, size_t *outlen)
{
    if (!k)
        return false;
    /* The latest line wins: a key log appended to by several runs.  A
     * bucket's chain runs from its latest entry back.  */
    for (uint32_t i = k->bucket[bucket_of(client_random)]; i != NONE; i = k->e[i].next) {
        const struct keylog_entry *e = &k->e[i];
        if (e->kind == kind && memcmp(e->client_random, client_random, 32) == 0) {
            memcpy(out, e->secret, e->len);
            *outlen = e->len;
            return true;
        }
    }
    return false;
}
