/* tls.c: TLS records of one direction's stream prefix to handshake facts. */
#include <stddef.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "capture.h"
#include "rd.h"

enum { TLS_EXT_SERVER_NAME = 0, TLS_EXT_SUPPORTED_VERSIONS = 43 };
/* RFC 5246 6.2.3: a record's payload is at most 2^14 + 2048 bytes. */
#define TLS_RECORD_MAX (16384u + 2048u)

/* RFC 8446 4.1.3: a HelloRetryRequest is a ServerHello whose random is
 * SHA-256("HelloRetryRequest").  */
static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02,
    0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
    0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* Handshake messages concatenated across records (RFC 8446 5.1: a message
 * may span records).  Only the message being assembled is kept: complete
 * messages are parsed and dropped at once.  */
struct hs_state {
    uint8_t buf[LIM_TLS_STREAM_BYTES];
    size_t len;
    uint32_t msg_offset;            /* record offset of buf[0] */
    bool stopped;                   /* encrypted from here, or unparseable */
};

/* True for a version that can appear in a hello (0x03xx); rules out GREASE
 * values (RFC 8701) and drafts.  */
static bool tls_version_plausible(uint16_t v)
{
    return (v >> 8) == 3;
}

/* RFC 6066 3: server_name extension: a list of (name_type, HostName). */
static bool parse_sni(struct rd *e, struct cap_tls_dir *out)
{
    struct rd list = rd_sub(e, rd_be16(e));
    if (e->bad || rd_left(e) != 0)
        return false;
    while (rd_left(&list) > 0) {
        uint8_t name_type = rd_u8(&list);
        uint16_t n = rd_be16(&list);
        const uint8_t *name = rd_bytes(&list, n);
        if (name == NULL || n == 0)
            return false;           /* HostName<1..2^16-1> overruns the list */
        if (name_type == 0 && !out->sni_present) {  /* host_name */
            cap_safe_copy(out->sni, sizeof out->sni, name, n);
            out->sni_present = true;
        }
    }
    return true;
}

/* The extensions block that ends a hello (RFC 8446 4.1.2, 4.1.3), in *exts;
 * a TLS 1.2 hello may end without one, which leaves *exts empty.  False when
 * the hello or the block's length overruns.  */
static bool hello_exts(struct rd *m, struct rd *exts)
{
    *exts = rd_make(NULL, 0);
    if (m->bad)
        return false;
    if (rd_left(m) == 0)
        return true;
    *exts = rd_sub(m, rd_be16(m));
    return !m->bad;
}

/* The next extension of a block: its type and a reader over its data.
 * False at the end of the block, or when a length overruns (exts->bad).  */
static bool next_ext(struct rd *exts, uint16_t *type, struct rd *data)
{
    if (rd_left(exts) == 0)
        return false;
    *type = rd_be16(exts);
    *data = rd_sub(exts, rd_be16(exts));
    return !exts->bad;
}

/* RFC 8446 4.2.1: in a ClientHello, versions<2..254>; keep the highest real
 * TLS version offered.  */
static bool parse_ch_versions(struct rd *e, struct cap_tls_dir *out)
{
    uint8_t n = rd_u8(e);
    struct rd list = rd_sub(e, n);
    if (e->bad || rd_left(e) != 0 || n % 2 != 0)
        return false;
    while (rd_left(&list) > 0) {
        uint16_t v = rd_be16(&list);
        if (tls_version_plausible(v) && v > out->ch_max_supported)
            out->ch_max_supported = v;
    }
    return true;
}

/* Returns false when a length overruns its container. */
static bool parse_client_hello(struct rd *m, struct cap_tls_dir *out)
{
    /* RFC 8446 4.1.2 (and RFC 5246 7.4.1.2). */
    out->ch_version = rd_be16(m);
    const uint8_t *random = rd_bytes(m, 32);
    if (random)
        memcpy(out->random, random, 32);
    rd_skip(m, rd_u8(m));                   /* legacy_session_id */
    rd_skip(m, rd_be16(m));                 /* cipher_suites */
    rd_skip(m, rd_u8(m));                   /* legacy_compression_methods */
    struct rd exts, e;
    uint16_t type;
    if (!hello_exts(m, &exts))
        return false;
    while (next_ext(&exts, &type, &e)) {
        if (type == TLS_EXT_SERVER_NAME && !parse_sni(&e, out))
            return false;
        if (type == TLS_EXT_SUPPORTED_VERSIONS && !parse_ch_versions(&e, out))
            return false;
    }
    return !exts.bad;
}

/* RFC 8446 4.1.3: ServerHello; a supported_versions extension (RFC 8446
 * 4.2.1, selected_version) overrides legacy_version.  Sets *hrr when the
 * random marks a HelloRetryRequest.  */
static bool parse_server_hello(struct rd *m, uint16_t *version, bool *hrr, struct cap_tls_dir *out)
{
    *version = rd_be16(m);
    const uint8_t *random = rd_bytes(m, 32);
    rd_skip(m, rd_u8(m));                   /* legacy_session_id_echo */
    uint16_t suite = rd_be16(m);
    rd_skip(m, 1);                          /* compression */
    if (m->bad)
        return false;
    if (memcmp(random, hrr_random, sizeof hrr_random) != 0) {
        memcpy(out->random, random, 32);
        out->cipher_suite = suite;
    }
    *hrr = memcmp(random, hrr_random, sizeof hrr_random) == 0;
    struct rd exts, e;
    uint16_t type;
    if (!hello_exts(m, &exts))
        return false;
    while (next_ext(&exts, &type, &e)) {
        if (type == TLS_EXT_SUPPORTED_VERSIONS) {
            uint16_t v = rd_be16(&e);
            if (e.bad || rd_left(&e) != 0)
                return false;
            *version = v;
        }
    }
    return !exts.bad;
}

/* Copies the first entry of `nid` in `name` as safe ASCII. */
static void name_entry(X509_NAME *name, int nid, char *dst, size_t dstlen)
{
    dst[0] = '\0';
    int i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i < 0)
        return;
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    if (s == NULL)
        return;
    /* Raw content bytes whatever the ASN.1 string type: non-ASCII is
     * escaped, never interpreted.  */
    cap_safe_copy(dst, dstlen, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
}

/* Leaf certificate facts through OpenSSL; the X509 is freed here. */
static void decode_leaf(const uint8_t *der, size_t len, struct cap_cert_info *ci)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL)
        return;
    ci->parsed = true;
    X509_NAME *subj = X509_get_subject_name(x);
    X509_NAME *iss = X509_get_issuer_name(x);
    name_entry(subj, NID_commonName, ci->subject_cn, sizeof ci->subject_cn);
    name_entry(iss, NID_commonName, ci->issuer_cn, sizeof ci->issuer_cn);
    name_entry(iss, NID_organizationName, ci->issuer_o, sizeof ci->issuer_o);
    ci->self_signed = X509_NAME_cmp(subj, iss) == 0;

    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int n = gens ? sk_GENERAL_NAME_num(gens) : 0;
    for (int i = 0; i < n && ci->n_sans < LIM_CERT_SANS; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS)
            continue;
        const ASN1_IA5STRING *s = g->d.dNSName;
        cap_safe_copy(ci->sans[ci->n_sans], sizeof ci->sans[0],
                      ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
        ci->n_sans++;
    }
    GENERAL_NAMES_free(gens);
    X509_free(x);
}

/* The leaf certificates decoded last, by their exact DER bytes: a capture
 * shows the same server certificate in every connection, and d2i_X509
 * costs about a million instructions (OpenSSL 3 decodes the public key
 * through its provider decoders), 62% of `analyze` on a TLS 1.2 capture.
 * Certificates longer than CERT_CACHE_DER bytes are decoded every time.  */
#define CERT_CACHE 8u
#define CERT_CACHE_DER 4096u
static _Thread_local struct {
    size_t len;                     /* 0: empty */
    uint8_t der[CERT_CACHE_DER];
    struct cap_cert_info facts;
} cert_cache[CERT_CACHE];
static _Thread_local unsigned cert_cache_next;

/* decode_leaf through the cache.  ci is fresh (only `present` set), so the
 * facts depend on the DER bytes alone.  */
static void parse_leaf(const uint8_t *der, size_t len, struct cap_cert_info *ci)
{
    for (unsigned i = 0; i < CERT_CACHE; i++) {
        if (cert_cache[i].len == len && memcmp(cert_cache[i].der, der, len) == 0) {
            *ci = cert_cache[i].facts;
            return;
        }
    }
    decode_leaf(der, len, ci);
    if (len > CERT_CACHE_DER)
        return;
    unsigned slot = cert_cache_next++ % CERT_CACHE;
    cert_cache[slot].len = len;
    memcpy(cert_cache[slot].der, der, len);
    cert_cache[slot].facts = *ci;
}

/* RFC 5246 7.4.2: certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>,
 * leaf first.  TLS 1.3's form (RFC 8446 4.4.2) is encrypted and never
 * reaches here.  */
static bool parse_certificate(struct rd *m, struct cap_cert_info *ci)
{
    struct rd list = rd_sub(m, rd_be24(m));
    if (m->bad || rd_left(m) != 0)
        return false;
    while (rd_left(&list) > 0) {
        uint32_t n = rd_be24(&list);
        const uint8_t *der = rd_bytes(&list, n);
        if (der == NULL || n == 0)
            return false;
        if (ci->chain_len == 0) {
            memset(ci, 0, sizeof(*ci));
            ci->present = true;
            parse_leaf(der, n, ci);
        }
        ci->chain_len++;
    }
    return true;
}

/* Acts on one complete handshake message.  Returns false when its inner
 * lengths contradict it.  */
static bool handle_message(uint8_t type, const uint8_t *body, size_t len,
                           uint32_t offset, struct hs_state *hs, struct cap_tls_dir *out)
{
    struct rd m = rd_make(body, len);
    switch (type) {
    case CAP_TLS_HS_CLIENT_HELLO:
        /* After a HelloRetryRequest the client sends a second ClientHello
         * with the same name; the first one is the one reported.  */
        if (out->client_hello)
            return true;
        out->client_hello = true;
        out->client_hello_offset = offset;
        return parse_client_hello(&m, out);
    case CAP_TLS_HS_SERVER_HELLO: {
        uint16_t version;
        bool hrr;
        if (!parse_server_hello(&m, &version, &hrr, out))
            return false;
        if (hrr) {
            out->hello_retry = true;
            out->hello_retry_offset = offset;
            return true;
        }
        out->server_hello = true;
        out->server_hello_offset = offset;
        out->sh_version = version;
        /* RFC 8446 2: everything after the ServerHello is encrypted. */
        if (version == CAP_TLS_1_3)
            hs->stopped = true;
        return true;
    }
    case CAP_TLS_HS_CERTIFICATE:
        if (out->certificate)
            return true;
        out->certificate = true;
        out->certificate_offset = offset;
        return parse_certificate(&m, &out->cert);
    default:
        return true;
    }
}

/* Appends one record's handshake bytes and parses every message that is now
 * complete.  */
static void feed_handshake(struct hs_state *hs, const uint8_t *frag, size_t n,
                           uint32_t rec_offset, struct cap_tls_dir *out)
{
    struct rd f = rd_make(frag, n);
    while (!hs->stopped && rd_left(&f) > 0) {
        if (hs->len == 0)
            hs->msg_offset = rec_offset;
        size_t room = sizeof hs->buf - hs->len;
        size_t take = rd_left(&f) < room ? rd_left(&f) : room;
        memcpy(hs->buf + hs->len, rd_bytes(&f, take), take);
        hs->len += take;

        for (;;) {
            /* RFC 8446 4: msg_type(1), length(3), body. */
            struct rd h = rd_make(hs->buf, hs->len);
            uint8_t type = rd_u8(&h);
            uint32_t mlen = rd_be24(&h);
            if (h.bad)
                break;
            if (mlen > sizeof hs->buf - 4) {
                /* Can never be held; the stream prefix is no longer. */
                hs->stopped = true;
                break;
            }
            const uint8_t *body = rd_bytes(&h, mlen);
            if (body == NULL)
                break;
            if (!handle_message(type, body, mlen, hs->msg_offset, hs, out)) {
                out->malformed = true;
                hs->stopped = true;
                break;
            }
            /* What remains began in the record just appended: complete
             * messages are always consumed before the next append.  */
            size_t used = 4u + mlen;
            memmove(hs->buf, hs->buf + used, hs->len - used);
            hs->len -= used;
            hs->msg_offset = rec_offset;
            if (hs->stopped || hs->len == 0)
                break;
        }
    }
}

static void add_alert(struct cap_tls_dir *out, uint8_t level, uint8_t desc,
                      bool encrypted, uint32_t offset)
{
    if (out->n_alerts >= LIM_TLS_ALERTS)
        return;
    struct cap_tls_alert *a = &out->alerts[out->n_alerts++];
    a->level = level;
    a->description = desc;
    a->encrypted = encrypted;
    a->stream_offset = offset;
}

/* True when this direction's records are protected from here on.  In TLS
 * 1.2 that is after its ChangeCipherSpec.  In TLS 1.3 it is after the
 * ServerHello, and a ChangeCipherSpec is only a middlebox decoy (RFC 8446
 * D.4): a server sends one right after a HelloRetryRequest, and its real
 * ServerHello still follows in the clear.  */
static bool dir_encrypted(const struct cap_tls_dir *out)
{
    if (out->server_hello && out->sh_version == CAP_TLS_1_3)
        return true;
    if (out->hello_retry && !out->server_hello)
        return false;
    return out->change_cipher_spec;
}

uint32_t cap_tls_record_len(const uint8_t *rec, size_t avail)
{
    if (avail < CAP_TLS_RECORD_HEADER)
        return CAP_TLS_RECORD_HEADER;
    return CAP_TLS_RECORD_HEADER + ((uint32_t)rec[3] << 8 | rec[4]);
}

/* The certificate must stay the last member for cap_tls_parse's clearing. */
_Static_assert(offsetof(struct cap_tls_dir, cert) + sizeof(struct cap_cert_info) == sizeof(struct cap_tls_dir),
               "cert is the last member of struct cap_tls_dir");

void cap_tls_parse(const uint8_t *stream, size_t len, struct cap_tls_dir *out)
{
    /* A handshake is parsed again as its records complete: zeroing the
     * certificate's 2.8 KB of names each time was half of this function.
     * parse_certificate zeroes them before filling them in.  */
    memset(out, 0, offsetof(struct cap_tls_dir, cert));
    struct cap_cert_info *ci = &out->cert;
    ci->present = ci->parsed = ci->self_signed = false;
    ci->subject_cn[0] = ci->issuer_cn[0] = ci->issuer_o[0] = '\0';
    ci->n_sans = 0;
    ci->chain_len = 0;
    /* The message buffer itself needs no clearing: only buf[0..len) is read. */
    struct hs_state state;
    struct hs_state *hs = &state;
    hs->len = 0;
    hs->msg_offset = 0;
    hs->stopped = false;

    struct rd r = rd_make(stream, len);
    while (rd_left(&r) > 0) {
        uint32_t rec_offset = (uint32_t)(len - rd_left(&r));
        /* RFC 8446 5.1 / RFC 5246 6.2.1: type(1) version(2) length(2). */
        struct rd h = r;
        uint8_t type = rd_u8(&h);
        uint8_t major = rd_u8(&h);
        rd_skip(&h, 1);                     /* legacy minor version */
        uint16_t rlen = rd_be16(&h);
        bool type_ok = type >= CAP_TLS_CT_CCS && type <= CAP_TLS_CT_APPDATA;
        /* What arrived of the header must already be plausible: legacy
         * version 0x03xx, length within RFC 5246 6.2.3's bound.  */
        size_t got = len - rec_offset;
        bool header_ok = type_ok && (got < 2 || major == 3) &&
                         (got < CAP_TLS_RECORD_HEADER || rlen <= TLS_RECORD_MAX);
        if (!header_ok) {
            if (rec_offset == 0)
                out->not_tls = true;
            else
                out->malformed = true;
            return;
        }
        out->is_tls = true;
        if (h.bad)
            return;                         /* header cut short */
        struct rd body = rd_sub(&h, rlen);
        bool whole = !h.bad;
        bool enc = dir_encrypted(out);

        switch (type) {
        case CAP_TLS_CT_HANDSHAKE:
            /* A cut-off last record still yields the messages it completes. */
            if (!enc)
                feed_handshake(hs, body.p, rd_left(&body), rec_offset, out);
            break;
        case CAP_TLS_CT_CCS:
            if (whole)
                out->change_cipher_spec = true;
            break;
        case CAP_TLS_CT_ALERT:
            if (!whole)
                break;
            /* RFC 8446 5.1, 6: an alert record holds exactly one alert,
             * level(1) description(1).  A longer one is protected even if
             * its ChangeCipherSpec was not seen (a capture that started
             * mid-connection); one of exactly 2 bytes is in clear even
             * after it (no real cipher fits an alert in 2 bytes, and a
             * TLS 1.3 client's ChangeCipherSpec is only a decoy).  */
            if (rlen < 2) {
                out->malformed = true;
            } else if (rlen > 2) {
                add_alert(out, 0, 0, true, rec_offset);
            } else {
                uint8_t level = rd_u8(&body);
                add_alert(out, level, rd_u8(&body), false, rec_offset);
            }
            break;
        case CAP_TLS_CT_APPDATA:
            if (whole)
                out->n_appdata++;
            break;
        }
        if (!whole || out->malformed)
            return;
        r = h;
        out->bytes_parsed = (uint32_t)(len - rd_left(&r));
    }
}
