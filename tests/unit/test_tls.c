/* test_tls.c: cap_tls_parse on annotated records, real DER certificates and hostile lengths. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "check.h"

/* 32 bytes of ServerHello/ClientHello random that is not the HRR value. */
#define RANDOM32                                                             \
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,                          \
    0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,                          \
    0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,                          \
    0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44, 0x44

/* Test certificates, made once with openssl (see tests/data/README). */
static size_t load_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s (run from the repository root)\n", path);
        exit(1);
    }
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

/* Appends one TLS record (type, version 0x0303, length) around body. */
static size_t put_record(uint8_t *dst, uint8_t type, const uint8_t *body, size_t n)
{
    dst[0] = type;
    dst[1] = 0x03;
    dst[2] = 0x03;
    dst[3] = (uint8_t)(n >> 8);
    dst[4] = (uint8_t)n;
    memcpy(dst + 5, body, n);
    return 5 + n;
}

/* A ClientHello whose SNI host name is cut across two records. */
static void test_client_hello_sni_split(void)
{
    static const uint8_t s[] = {
        /* record 1 @0 */
        0x16, 0x03, 0x01, 0x00, 0x3c,       /* handshake, TLS 1.0 record, 60 */
        0x01, 0x00, 0x00, 0x50,             /* ClientHello, 80 */
        0x03, 0x03,                         /* legacy_version TLS 1.2 */
        RANDOM32,
        0x00,                               /* session_id: empty */
        0x00, 0x02, 0x13, 0x01,             /* cipher_suites: TLS_AES_128_GCM_SHA256 */
        0x01, 0x00,                         /* compression: null */
        0x00, 0x25,                         /* extensions: 37 */
        0x00, 0x00, 0x00, 0x16,             /* server_name, 22 */
        0x00, 0x14,                         /* server_name_list: 20 */
        0x00, 0x00, 0x11,                   /* host_name, 17 */
        'l', 'a', 'b', 'r',                 /* ... first 4 bytes of the name */
        /* record 2 @65 */
        0x16, 0x03, 0x01, 0x00, 0x18,       /* handshake, 24 */
        'e', 'g', '.', 'a', 'z', 'u', 'r', 'e', 'c', 'r', '.', 'i', 'o',
        0x00, 0x2b, 0x00, 0x07,             /* supported_versions, 7 */
        0x06, 0x7a, 0x7a, 0x03, 0x04, 0x03, 0x03, /* GREASE, 1.3, 1.2 */
    };
    struct cap_tls_dir d;
    cap_tls_parse(s, sizeof s, &d);
    CHECK(d.is_tls);
    CHECK(!d.not_tls);
    CHECK(!d.malformed);
    CHECK(d.client_hello);
    CHECK_EQ_INT(d.client_hello_offset, 0);
    CHECK(d.sni_present);
    CHECK_EQ_STR(d.sni, "labreg.azurecr.io");
    CHECK_EQ_INT(d.ch_version, 0x0303);
    CHECK_EQ_INT(d.ch_max_supported, 0x0304);
    CHECK_EQ_INT(d.bytes_parsed, sizeof s);

    /* Every prefix parses without reading past it; the name only appears
     * once the second record's bytes are there.  */
    for (size_t n = 0; n < sizeof s; n++) {
        cap_tls_parse(s, n, &d);
        CHECK(!d.sni_present || n >= 65 + 5 + 24);
    }
}

/* TLS 1.3 ServerHello, decoy CCS, encrypted records. */
static const uint8_t sh13[] = {
    0x16, 0x03, 0x03, 0x00, 0x38,           /* handshake, 56 */
    0x02, 0x00, 0x00, 0x34,                 /* ServerHello, 52 */
    0x03, 0x03,                             /* legacy_version 1.2 */
    RANDOM32,
    0x00,                                   /* session_id_echo: empty */
    0x13, 0x01,                             /* cipher_suite */
    0x00,                                   /* compression */
    0x00, 0x0c,                             /* extensions: 12 */
    0x00, 0x2b, 0x00, 0x02, 0x03, 0x04,     /* supported_versions: TLS 1.3 */
    0x00, 0x33, 0x00, 0x02, 0x00, 0x1d,     /* key_share (shortened) */
    /* @61 */
    0x14, 0x03, 0x03, 0x00, 0x01, 0x01,     /* ChangeCipherSpec (decoy) */
    /* @67 */
    0x16, 0x03, 0x03, 0x00, 0x08,           /* "handshake" after a 1.3 SH ... */
    0x0b, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, /* ... must not count */
    /* @80 */
    0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5, /* application data */
};

static void test_server_hello_13(void)
{
    struct cap_tls_dir d;
    cap_tls_parse(sh13, sizeof sh13, &d);
    CHECK(d.is_tls);
    CHECK(d.server_hello);
    CHECK(!d.hello_retry);
    CHECK_EQ_INT(d.server_hello_offset, 0);
    CHECK_EQ_INT(d.sh_version, 0x0304);
    CHECK(d.change_cipher_spec);
    CHECK(!d.certificate);
    CHECK_EQ_INT(d.n_appdata, 1);
    CHECK_EQ_INT(d.bytes_parsed, sizeof sh13);
    CHECK(!d.malformed);
}

/* RFC 8446 4.1.3: HelloRetryRequest, decoy CCS, then the real ServerHello
 * in the clear.  */
static void test_hello_retry_request(void)
{
    static const uint8_t s[] = {
        0x16, 0x03, 0x03, 0x00, 0x38,       /* handshake, 56 */
        0x02, 0x00, 0x00, 0x34,             /* ServerHello (HRR), 52 */
        0x03, 0x03,
        0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, /* SHA-256("HelloRetryRequest") */
        0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
        0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
        0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
        0x00, 0x13, 0x01, 0x00,             /* sid, suite, compression */
        0x00, 0x0c,
        0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, /* supported_versions: 1.3 */
        0x00, 0x33, 0x00, 0x02, 0x00, 0x17, /* key_share: ask for secp256r1 */
        /* @61 */
        0x14, 0x03, 0x03, 0x00, 0x01, 0x01, /* decoy ChangeCipherSpec */
        /* @67: the real ServerHello (same layout as sh13) */
        0x16, 0x03, 0x03, 0x00, 0x38,
        0x02, 0x00, 0x00, 0x34, 0x03, 0x03, RANDOM32,
        0x00, 0x13, 0x01, 0x00, 0x00, 0x0c,
        0x00, 0x2b, 0x00, 0x02, 0x03, 0x04,
        0x00, 0x33, 0x00, 0x02, 0x00, 0x17,
    };
    struct cap_tls_dir d;
    cap_tls_parse(s, sizeof s, &d);
    CHECK(d.hello_retry);
    CHECK_EQ_INT(d.hello_retry_offset, 0);
    CHECK(d.server_hello);
    CHECK_EQ_INT(d.server_hello_offset, 67);
    CHECK_EQ_INT(d.sh_version, 0x0304);
    CHECK(!d.malformed);

    /* Only the HRR and the decoy: no ServerHello yet. */
    cap_tls_parse(s, 67, &d);
    CHECK(d.hello_retry);
    CHECK(!d.server_hello);
}

/* TLS 1.2 ServerHello, no extensions. */
static const uint8_t sh12_msg[] = {
    0x02, 0x00, 0x00, 0x26,                 /* ServerHello, 38 */
    0x03, 0x03, RANDOM32,                   /* TLS 1.2, random */
    0x00,                                   /* session_id_echo: empty */
    0xc0, 0x2f,                             /* ECDHE_RSA_AES_128_GCM_SHA256 */
    0x00,                                   /* compression */
};

/* Certificate message (RFC 5246 7.4.2) around the given DERs. */
static size_t put_certificate(uint8_t *dst, const uint8_t *c1, size_t n1,
                              const uint8_t *c2, size_t n2)
{
    size_t list = 3 + n1 + (c2 ? 3 + n2 : 0);
    size_t body = 3 + list;
    size_t o = 0;
    dst[o++] = 0x0b;                                /* Certificate */
    dst[o++] = (uint8_t)(body >> 16);
    dst[o++] = (uint8_t)(body >> 8);
    dst[o++] = (uint8_t)body;
    dst[o++] = (uint8_t)(list >> 16);               /* certificate_list */
    dst[o++] = (uint8_t)(list >> 8);
    dst[o++] = (uint8_t)list;
    dst[o++] = 0;                                   /* ASN.1Cert length */
    dst[o++] = (uint8_t)(n1 >> 8);
    dst[o++] = (uint8_t)n1;
    memcpy(dst + o, c1, n1);
    o += n1;
    if (c2) {
        dst[o++] = 0;
        dst[o++] = (uint8_t)(n2 >> 8);
        dst[o++] = (uint8_t)n2;
        memcpy(dst + o, c2, n2);
        o += n2;
    }
    return o;
}

/* ServerHello + Certificate(leaf, CA) + ServerHelloDone, the Certificate
 * starting mid-record and ending in the next record.  */
static void test_server_hello_12_certificate(void)
{
    uint8_t leaf[2048], ca[2048], hs[8192], s[8192];
    size_t nl = load_file("tests/data/tls-leaf-ca-signed.der", leaf, sizeof leaf);
    size_t nc = load_file("tests/data/tls-ca.der", ca, sizeof ca);

    size_t h = 0;
    memcpy(hs, sh12_msg, sizeof sh12_msg);
    h += sizeof sh12_msg;
    h += put_certificate(hs + h, leaf, nl, ca, nc);
    static const uint8_t done[] = { 0x0e, 0x00, 0x00, 0x00 }; /* ServerHelloDone */
    memcpy(hs + h, done, sizeof done);
    h += sizeof done;

    size_t cut = sizeof sh12_msg + 100;
    size_t o = put_record(s, 0x16, hs, cut);
    o += put_record(s + o, 0x16, hs + cut, h - cut);

    struct cap_tls_dir d;
    cap_tls_parse(s, o, &d);
    CHECK(d.server_hello);
    CHECK_EQ_INT(d.sh_version, 0x0303);
    CHECK(d.certificate);
    CHECK_EQ_INT(d.certificate_offset, 0);  /* its first byte is in record 1 */
    CHECK(d.cert.present);
    CHECK(d.cert.parsed);
    CHECK_EQ_INT(d.cert.chain_len, 2);
    CHECK_EQ_STR(d.cert.subject_cn, "*.azurecr.io");
    CHECK_EQ_STR(d.cert.issuer_cn, "Acrdiag Test CA");
    CHECK_EQ_STR(d.cert.issuer_o, "Acrdiag Test");
    CHECK(!d.cert.self_signed);
    CHECK_EQ_INT(d.cert.n_sans, 3);         /* the IP SAN is not a DNS name */
    CHECK_EQ_STR(d.cert.sans[0], "*.azurecr.io");
    CHECK_EQ_STR(d.cert.sans[1], "azurecr.io");
    CHECK_EQ_STR(d.cert.sans[2], "labreg.westeurope.data.azurecr.io");
    CHECK(!d.malformed);
    CHECK_EQ_INT(d.bytes_parsed, o);

    /* A second Certificate starting in record 2: its offset is record 2's. */
    h = put_certificate(hs, leaf, nl, NULL, 0);
    o = put_record(s, 0x16, sh12_msg, sizeof sh12_msg);
    size_t second = o;
    o += put_record(s + o, 0x16, hs, h);
    cap_tls_parse(s, o, &d);
    CHECK(d.certificate);
    CHECK_EQ_INT(d.certificate_offset, second);
    CHECK_EQ_INT(d.cert.chain_len, 1);

    /* Cut inside the certificate: nothing about it is reported. */
    cap_tls_parse(s, o - 10, &d);
    CHECK(d.server_hello);
    CHECK(!d.certificate);
    CHECK_EQ_INT(d.bytes_parsed, second);
}

static void test_self_signed_and_escaped_cn(void)
{
    uint8_t der[2048], hs[4096], s[4096];
    size_t n = load_file("tests/data/tls-self-signed.der", der, sizeof der);
    size_t o = put_record(s, 0x16, hs, put_certificate(hs, der, n, NULL, 0));
    struct cap_tls_dir d;
    cap_tls_parse(s, o, &d);
    CHECK(d.cert.parsed);
    CHECK(d.cert.self_signed);
    CHECK_EQ_STR(d.cert.subject_cn, "selfsigned.example");
    CHECK_EQ_STR(d.cert.issuer_o, "");

    /* CN = "evil" ESC "[31mred" "\" "x" U+00E9: no escape sequence and no
     * raw byte >= 0x80 survives; the backslash itself is escaped.  */
    n = load_file("tests/data/tls-escape-cn.der", der, sizeof der);
    o = put_record(s, 0x16, hs, put_certificate(hs, der, n, NULL, 0));
    cap_tls_parse(s, o, &d);
    CHECK(d.cert.parsed);
    CHECK_EQ_STR(d.cert.subject_cn, "evil\\x1b[31mred\\x5cx\\xc3\\xa9");

    /* Not DER at all: present, not parsed. */
    static const uint8_t junk[] = {
        0x16, 0x03, 0x03, 0x00, 0x0d,
        0x0b, 0x00, 0x00, 0x09,             /* Certificate, 9 */
        0x00, 0x00, 0x06,                   /* list: 6 */
        0x00, 0x00, 0x03, 0x30, 0x82, 0xff, /* one "cert": 30 82 ff */
    };
    cap_tls_parse(junk, sizeof junk, &d);
    CHECK(d.cert.present);
    CHECK(!d.cert.parsed);
    CHECK(!d.malformed);
}

static void test_alerts(void)
{
    static const uint8_t fatal[] = {
        0x15, 0x03, 0x03, 0x00, 0x02,       /* alert, 2 */
        0x02, 0x28,                         /* fatal, handshake_failure */
    };
    struct cap_tls_dir d;
    cap_tls_parse(fatal, sizeof fatal, &d);
    CHECK(d.is_tls);
    CHECK_EQ_INT(d.n_alerts, 1);
    CHECK_EQ_INT(d.alerts[0].level, 2);
    CHECK_EQ_INT(d.alerts[0].description, 40);
    CHECK(!d.alerts[0].encrypted);
    CHECK_EQ_INT(d.alerts[0].stream_offset, 0);

    static const uint8_t after_ccs[] = {
        0x14, 0x03, 0x03, 0x00, 0x01, 0x01, /* ChangeCipherSpec */
        /* @6 */
        0x15, 0x03, 0x03, 0x00, 0x1a,       /* alert, 26: AEAD-protected */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* explicit nonce */
        0x02, 0x28, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, /* ciphertext, tag */
        0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad,
        0xbe, 0xef,
    };
    cap_tls_parse(after_ccs, sizeof after_ccs, &d);
    CHECK(d.change_cipher_spec);
    CHECK_EQ_INT(d.n_alerts, 1);
    CHECK(d.alerts[0].encrypted);
    CHECK_EQ_INT(d.alerts[0].level, 0);
    CHECK_EQ_INT(d.alerts[0].description, 0);
    CHECK_EQ_INT(d.alerts[0].stream_offset, 6);
    CHECK(!d.malformed);

    /* The same alert in a capture that began after the CCS: its length
     * alone says it is protected.  */
    cap_tls_parse(after_ccs + 6, sizeof after_ccs - 6, &d);
    CHECK(!d.change_cipher_spec);
    CHECK_EQ_INT(d.n_alerts, 1);
    CHECK(d.alerts[0].encrypted);
    CHECK_EQ_INT(d.alerts[0].stream_offset, 0);

    /* Many alerts: only LIM_TLS_ALERTS are kept. */
    uint8_t many[64];
    size_t o = 0;
    for (int i = 0; i < 6; i++)
        o += put_record(many + o, 0x15, fatal + 5, 2);
    cap_tls_parse(many, o, &d);
    CHECK_EQ_INT(d.n_alerts, LIM_TLS_ALERTS);
}

static void test_hostile_lengths(void)
{
    struct cap_tls_dir d;

    static const uint8_t hs_len_max[] = {
        0x16, 0x03, 0x01, 0x00, 0x06,       /* handshake, 6 */
        0x01, 0xff, 0xff, 0xff,             /* ClientHello, 16 MiB - 1 */
        0x03, 0x03,
    };
    cap_tls_parse(hs_len_max, sizeof hs_len_max, &d);
    CHECK(d.is_tls);
    CHECK(!d.client_hello);
    CHECK_EQ_INT(d.bytes_parsed, sizeof hs_len_max);

    static const uint8_t rec_len_max[] = {
        0x16, 0x03, 0x01, 0xff, 0xff,       /* handshake, 65535 > 2^14+2048 */
        0x01, 0x00, 0x00, 0x00,
    };
    cap_tls_parse(rec_len_max, sizeof rec_len_max, &d);
    CHECK(d.not_tls);
    CHECK(!d.is_tls);

    static const uint8_t rec_len_max_later[] = {
        0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00, /* warning close_notify */
        0x17, 0x03, 0x03, 0xff, 0xff,       /* appdata, 65535 */
    };
    cap_tls_parse(rec_len_max_later, sizeof rec_len_max_later, &d);
    CHECK(d.is_tls);
    CHECK(d.malformed);
    CHECK_EQ_INT(d.n_alerts, 1);
    CHECK_EQ_INT(d.n_appdata, 0);
    CHECK_EQ_INT(d.bytes_parsed, 7);

    static const uint8_t ext_overrun[] = {
        0x16, 0x03, 0x01, 0x00, 0x37,       /* handshake, 55 */
        0x01, 0x00, 0x00, 0x33,             /* ClientHello, 51 */
        0x03, 0x03, RANDOM32,
        0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00,
        0x00, 0x08,                         /* extensions: 8 */
        0x00, 0x00, 0x00, 0x40,             /* server_name, 64: overruns */
        0x00, 0x02, 0x00, 0x00,
    };
    cap_tls_parse(ext_overrun, sizeof ext_overrun, &d);
    CHECK(d.client_hello);
    CHECK(!d.sni_present);
    CHECK(d.malformed);

    static const uint8_t sni_overrun[] = {
        0x16, 0x03, 0x01, 0x00, 0x3b,       /* handshake, 59 */
        0x01, 0x00, 0x00, 0x37,             /* ClientHello, 55 */
        0x03, 0x03, RANDOM32,
        0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00,
        0x00, 0x0c,                         /* extensions: 12 */
        0x00, 0x00, 0x00, 0x08,             /* server_name, 8 */
        0x00, 0xff,                         /* server_name_list: 255, overruns */
        0x00, 0x00, 0x03, 'a', 'b', 'c',
    };
    cap_tls_parse(sni_overrun, sizeof sni_overrun, &d);
    CHECK(d.client_hello);
    CHECK(!d.sni_present);
    CHECK(d.malformed);

    static const uint8_t name_overrun[] = {
        0x16, 0x03, 0x01, 0x00, 0x3b,
        0x01, 0x00, 0x00, 0x37,
        0x03, 0x03, RANDOM32,
        0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00,
        0x00, 0x0c,
        0x00, 0x00, 0x00, 0x08,             /* server_name, 8 */
        0x00, 0x06,                         /* list: 6 */
        0x00, 0x00, 0x10, 'a', 'b', 'c',    /* host_name, 16: overruns list */
    };
    cap_tls_parse(name_overrun, sizeof name_overrun, &d);
    CHECK(!d.sni_present);
    CHECK(d.malformed);

    static const uint8_t cert_overrun[] = {
        0x16, 0x03, 0x03, 0x00, 0x0e,
        0x0b, 0x00, 0x00, 0x0a,             /* Certificate, 10 */
        0x00, 0x00, 0x07,                   /* list: 7 */
        0x00, 0x10, 0x00,                   /* ASN.1Cert: 4096, overruns */
        0x30, 0x82, 0x10, 0x00,
    };
    cap_tls_parse(cert_overrun, sizeof cert_overrun, &d);
    CHECK(d.certificate);
    CHECK(!d.cert.present);
    CHECK(d.malformed);

    static const uint8_t list_overrun[] = {
        0x16, 0x03, 0x03, 0x00, 0x0a,
        0x0b, 0x00, 0x00, 0x06,             /* Certificate, 6 */
        0xff, 0xff, 0xff,                   /* list: 16 MiB - 1 */
        0x00, 0x00, 0x00,
    };
    cap_tls_parse(list_overrun, sizeof list_overrun, &d);
    CHECK(d.malformed);
    CHECK_EQ_INT(d.cert.chain_len, 0);

    /* An alert record too short to hold an alert. */
    static const uint8_t short_alert[] = { 0x15, 0x03, 0x03, 0x00, 0x01, 0x02 };
    cap_tls_parse(short_alert, sizeof short_alert, &d);
    CHECK(d.malformed);
    CHECK_EQ_INT(d.n_alerts, 0);
}

static void test_not_tls(void)
{
    static const uint8_t http[] = "GET /v2/ HTTP/1.1\r\nHost: labreg.azurecr.io\r\n\r\n";
    struct cap_tls_dir d;
    cap_tls_parse(http, sizeof http - 1, &d);
    CHECK(d.not_tls);
    CHECK(!d.is_tls);

    /* SSLv2-style hello: just not TLS. */
    static const uint8_t sslv2[] = { 0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15 };
    cap_tls_parse(sslv2, sizeof sslv2, &d);
    CHECK(d.not_tls);

    /* Right type, wrong version major. */
    static const uint8_t badver[] = { 0x16, 0x04, 0x01, 0x00, 0x01, 0x00 };
    cap_tls_parse(badver, sizeof badver, &d);
    CHECK(d.not_tls);

    /* One byte that could start a record: TLS so far, nothing else. */
    cap_tls_parse(sh13, 1, &d);
    CHECK(d.is_tls);
    CHECK(!d.not_tls);

    cap_tls_parse(sh13, 0, &d);
    CHECK(!d.is_tls);
    CHECK(!d.not_tls);
}

/* Where a record ends, as reasm.c asks it: the header's length plus the
 * header, even past the bytes at hand; the header's 5 bytes before it is
 * whole.  */
static void test_record_len(void)
{
    static const uint8_t hdr[] = { CAP_TLS_CT_HANDSHAKE, 0x03, 0x01, 0x40, 0x05 };
    CHECK_EQ_INT(cap_tls_record_len(hdr, sizeof hdr), CAP_TLS_RECORD_HEADER + 0x4005);
    static const uint8_t empty_body[] = { CAP_TLS_CT_CCS, 0x03, 0x03, 0x00, 0x00 };
    CHECK_EQ_INT(cap_tls_record_len(empty_body, sizeof empty_body), CAP_TLS_RECORD_HEADER);
    static const uint8_t most[] = { CAP_TLS_CT_APPDATA, 0x03, 0x03, 0xff, 0xff };
    CHECK_EQ_INT(cap_tls_record_len(most, sizeof most), CAP_TLS_RECORD_HEADER + 0xffff);
    /* Four bytes: the length's low byte is not there yet. */
    CHECK_EQ_INT(cap_tls_record_len(hdr, 4), CAP_TLS_RECORD_HEADER);
    CHECK_EQ_INT(cap_tls_record_len(hdr, 0), CAP_TLS_RECORD_HEADER);
}

int main(void)
{
    RUN(test_client_hello_sni_split);
    RUN(test_server_hello_13);
    RUN(test_hello_retry_request);
    RUN(test_server_hello_12_certificate);
    RUN(test_self_signed_and_escaped_cn);
    RUN(test_alerts);
    RUN(test_hostile_lengths);
    RUN(test_not_tls);
    RUN(test_record_len);
    return check_summary();
}
