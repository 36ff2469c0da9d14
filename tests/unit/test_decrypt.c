/* test_decrypt.c: key logs and record decryption against OpenSSL itself:
 * a client and a server shake hands in memory (TLS 1.3 with each of its
 * three suites, TLS 1.2 with AES-GCM and ChaCha20-Poly1305), the client's
 * key log callback writes NSS lines, the server sends a registry's 403; the
 * server's records are then opened with cap_keylog_* and cap_tls_* alone.
 * Also: garbage key log lines, a wrong key (the tag fails, nothing comes
 * out).  */
#include <string.h>

#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "analysis/analysis.h"
#include "capture/capture.h"
#include "check.h"

static char keylog_text[8192];

static void keylog_cb(const SSL *ssl, const char *line)
{
    (void)ssl;
    size_t n = strlen(keylog_text);
    snprintf(keylog_text + n, sizeof(keylog_text) - n, "%s\n", line);
}

static EVP_PKEY *pkey;
static X509 *cert;

static void make_cert(void)
{
    if (cert)
        return;
    pkey = EVP_EC_gen("P-256");
    cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, pkey);
    X509_NAME *n = X509_get_subject_name(cert);
    /* Microsoft's organisation, so the TLS 1.2 certificate in clear is the registry's as far as the wire shows. */
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Microsoft Corporation", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"labreg.azurecr.io", -1, -1, 0);
    X509_set_issuer_name(cert, n);
    X509_sign(cert, pkey, EVP_sha256());
}

/* What the server sent, in order; and both directions as the segments
 * they would travel in (each pump one segment per direction).  */
static uint8_t s2c[65536];
static size_t s2c_len;
static struct chunk {
    bool from_server;
    size_t len;
    uint8_t data[16384];
} chunks[32];
static unsigned n_chunks;

static void pump(BIO *from, BIO *to, bool record)
{
    uint8_t buf[16384];
    int n;
    while ((n = BIO_read(from, buf, sizeof(buf))) > 0) {
        BIO_write(to, buf, n);
        if (record && s2c_len + (size_t)n <= sizeof(s2c)) {
            memcpy(s2c + s2c_len, buf, (size_t)n);
            s2c_len += (size_t)n;
        }
        if (n_chunks < 32) {
            chunks[n_chunks].from_server = record;
            chunks[n_chunks].len = (size_t)n;
            memcpy(chunks[n_chunks].data, buf, (size_t)n);
            n_chunks++;
        }
    }
}

static const char answer[] =
    "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json; charset=utf-8\r\n"
    "Docker-Distribution-Api-Version: registry/2.0\r\n\r\n"
    "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"client with IP '198.18.1.2' is not allowed access\"}]}";

/* What the server sends after the handshake: the HTTP/1.1 answer, or the
 * same as HTTP/2 frames.  */
static const uint8_t *ans = (const uint8_t *)answer;
static size_t ans_len = sizeof(answer) - 1;

struct session {
    uint8_t client_random[32], server_random[32];
    uint16_t suite;
};

/* A handshake at `version` with `ciphers`, then the server's answer. */
static bool run_session(int version, const char *ciphers, struct session *out)
{
    make_cert();
    keylog_text[0] = '\0';
    s2c_len = 0;
    n_chunks = 0;
    SSL_CTX *sc = SSL_CTX_new(TLS_server_method()), *cc = SSL_CTX_new(TLS_client_method());
    SSL_CTX_use_certificate(sc, cert);
    SSL_CTX_use_PrivateKey(sc, pkey);
    SSL_CTX_set_min_proto_version(sc, version);
    SSL_CTX_set_max_proto_version(sc, version);
    if (version == TLS1_3_VERSION)
        SSL_CTX_set_ciphersuites(cc, ciphers);
    else
        SSL_CTX_set_cipher_list(cc, ciphers);
    SSL_CTX_set_keylog_callback(cc, keylog_cb);
    SSL *s = SSL_new(sc), *c = SSL_new(cc);
    BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
    BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
    SSL_set_bio(c, c_in, c_out);
    SSL_set_bio(s, s_in, s_out);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    static char sni[] = "labreg.azurecr.io";     /* the macro casts away const */
    SSL_set_tlsext_host_name(c, sni);
    bool done = false;
    for (int i = 0; i < 20 && !done; i++) {
        int rc = SSL_do_handshake(c);
        pump(c_out, s_in, false);
        int rs = SSL_do_handshake(s);
        pump(s_out, c_in, true);
        done = rc == 1 && rs == 1;
    }
    uint8_t buf[1024];
    bool ok = done && SSL_write(s, ans, (int)ans_len) > 0;
    pump(s_out, c_in, true);
    ok = ok && SSL_read(c, buf, sizeof(buf)) == (int)ans_len;
    SSL_get_client_random(c, out->client_random, 32);
    SSL_get_server_random(c, out->server_random, 32);
    out->suite = (uint16_t)SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(c));
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cc);
    SSL_CTX_free(sc);
    return ok;
}

/* Opens the server's records in order: TLS 1.3 with the handshake keys
 * until one does not authenticate, then the application keys; TLS 1.2 from
 * the record after the ChangeCipherSpec (the Finished is seq 0).  Returns
 * the application data found; counts the records that failed.  */
static size_t open_server(const struct cap_keylog *kl, const struct session *ss, uint8_t *app, size_t cap,
                          unsigned *failed)
{
    struct cap_tls_keys hs, ap;
    uint8_t secret[CAP_SECRET_MAX], plain[16640];
    size_t sl, got = 0, pl;
    uint8_t type;
    bool tls13 = ss->suite >> 8 == 0x13, have_hs = false, have_ap = false, ccs = false;
    *failed = 0;
    if (tls13) {
        have_hs = cap_keylog_find(kl, ss->client_random, CAP_SECRET_SERVER_HS, secret, &sl) &&
                  cap_tls13_keys(ss->suite, secret, sl, &hs);
        have_ap = cap_keylog_find(kl, ss->client_random, CAP_SECRET_SERVER_APP, secret, &sl) &&
                  cap_tls13_keys(ss->suite, secret, sl, &ap);
    } else {
        have_ap = cap_keylog_find(kl, ss->client_random, CAP_SECRET_MASTER, secret, &sl) &&
                  cap_tls12_keys(ss->suite, secret, ss->client_random, ss->server_random, true, &ap);
    }
    for (size_t at = 0; at + 5 <= s2c_len;) {
        size_t rl = 5 + ((size_t)s2c[at + 3] << 8 | s2c[at + 4]);
        if (at + rl > s2c_len)
            break;
        const uint8_t *rec = s2c + at;
        at += rl;
        if (rec[0] == 20) {
            ccs = true;
            continue;
        }
        if (tls13 ? rec[0] != 23 : !ccs)
            continue;
        if (have_hs && cap_tls_decrypt(&hs, rec, rl, plain, sizeof(plain), &pl, &type) == CAP_DECRYPT_OK)
            continue;
        have_hs = false;
        if (!have_ap || cap_tls_decrypt(&ap, rec, rl, plain, sizeof(plain), &pl, &type) != CAP_DECRYPT_OK) {
            (*failed)++;
            continue;
        }
        if (type == 23 && got + pl <= cap) {
            memcpy(app + got, plain, pl);
            got += pl;
        }
    }
    return got;
}

static void check_session(int version, const char *ciphers, uint16_t want_suite)
{
    struct session ss;
    CHECK(run_session(version, ciphers, &ss));
    CHECK_EQ_INT(ss.suite, want_suite);
    CHECK(cap_tls_suite_supported(ss.suite));
    struct cap_keylog *kl = cap_keylog_new();
    CHECK(cap_keylog_add(kl, (const uint8_t *)keylog_text, strlen(keylog_text)) >= 1);
    uint8_t app[2048];
    unsigned failed;
    size_t n = open_server(kl, &ss, app, sizeof(app), &failed);
    CHECK_EQ_INT(failed, 0);
    CHECK_EQ_INT(n, strlen(answer));
    CHECK(n == strlen(answer) && memcmp(app, answer, n) == 0);
    struct cap_http_resp r;
    CHECK_EQ_INT(cap_http_parse_response(app, n, &r), CAP_OK);
    CHECK_EQ_INT(r.status, 403);
    CHECK_EQ_STR(r.error_code, "DENIED");
    CHECK_EQ_STR(r.denied_client_ip, "198.18.1.2");
    cap_keylog_free(kl);

    /* A key log for another session: nothing opens, nothing comes out. */
    kl = cap_keylog_new();
    char other[8192];
    snprintf(other, sizeof(other), "%s", keylog_text);
    for (char *p = other; (p = strchr(p, ' ')) != NULL; p += 3)
        p[1] = p[1] == 'f' ? '0' : 'f';     /* each line's client random differs */
    cap_keylog_add(kl, (const uint8_t *)other, strlen(other));
    CHECK_EQ_INT(open_server(kl, &ss, app, sizeof(app), &failed), 0);
    cap_keylog_free(kl);

    /* The right client random with a wrong secret: every record fails its tag. */
    kl = cap_keylog_new();
    snprintf(other, sizeof(other), "%s", keylog_text);
    for (char *line = other; *line;) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        char *last = memrchr(line, ' ', ll);
        if (last)
            last[1] = last[1] == '0' ? '1' : '0';
        line += ll + (nl ? 1 : 0);
    }
    cap_keylog_add(kl, (const uint8_t *)other, strlen(other));
    CHECK_EQ_INT(open_server(kl, &ss, app, sizeof(app), &failed), 0);
    CHECK(failed >= 1);
    cap_keylog_free(kl);
}

/* The same bytes as TCP segments through the engine with the key log: the
 * handshake completes on the wire, and the decrypted 403 DENIED decides.  */
static struct cap_pkt seg(bool from_server, uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *p, size_t len,
                          uint64_t frame)
{
    static const struct cap_addr cli = { .family = 4, .a = { 198, 18, 1, 2 } };
    static const struct cap_addr srv = { .family = 4, .a = { 198, 19, 10, 10 } };
    struct cap_pkt k;
    memset(&k, 0, sizeof(k));
    k.frame = frame;
    k.ts_ns = (int64_t)frame * 1000000;
    k.ipver = 4;
    k.proto = 6;
    k.src = from_server ? srv : cli;
    k.dst = from_server ? cli : srv;
    k.sport = from_server ? 443 : 40000;
    k.dport = from_server ? 40000 : 443;
    k.tcp_flags = flags;
    k.seq = seq;
    k.ack = ack;
    k.ttl = from_server ? 126 : 64;
    k.payload = len ? p : NULL;
    k.payload_len = k.payload_wire_len = (uint32_t)len;
    return k;
}

static enum an_verdict engine_verdict(const struct cap_keylog *kl, char *client_ip, size_t iplen)
{
    struct an_options opt = { .port = 443, .keylog = kl };
    struct an_engine *e = an_engine_new(&opt);
    uint64_t fr = 0;
    uint32_t cs = 1001, ss = 5001;
    struct cap_pkt k = seg(false, CAP_TH_SYN, 1000, 0, NULL, 0, ++fr);
    an_engine_packet(e, &k, CAP_LT_RAW);
    k = seg(true, CAP_TH_SYN | CAP_TH_ACK, 5000, 1001, NULL, 0, ++fr);
    an_engine_packet(e, &k, CAP_LT_RAW);
    for (unsigned i = 0; i < n_chunks; i++) {
        const struct chunk *c = &chunks[i];
        k = seg(c->from_server, CAP_TH_ACK | CAP_TH_PSH, c->from_server ? ss : cs, c->from_server ? cs : ss, c->data,
                c->len, ++fr);
        an_engine_packet(e, &k, CAP_LT_RAW);
        if (c->from_server)
            ss += (uint32_t)c->len;
        else
            cs += (uint32_t)c->len;
    }
    k = seg(false, CAP_TH_ACK | CAP_TH_FIN, cs, ss, NULL, 0, ++fr);
    an_engine_packet(e, &k, CAP_LT_RAW);
    k = seg(true, CAP_TH_ACK | CAP_TH_FIN, ss, cs + 1, NULL, 0, ++fr);
    an_engine_packet(e, &k, CAP_LT_RAW);
    struct an_report r;
    an_engine_finish(e, "analyze", &r);
    an_engine_free(e);
    enum an_verdict v = r.n_endpoints ? r.endpoints[0].verdict : AN_VERDICT_COUNT;
    client_ip[0] = '\0';
    for (unsigned i = 0; r.n_endpoints && i < r.endpoints[0].n_detail; i++)
        if (strcmp(r.endpoints[0].detail[i].key, "client_ip") == 0)
            snprintf(client_ip, iplen, "%s", r.endpoints[0].detail[i].value);
    an_report_free(&r);
    return v;
}

static void check_engine(int version, const char *ciphers)
{
    struct session ss;
    CHECK(run_session(version, ciphers, &ss));
    char ip[64];
    /* Without keys the wire alone: the handshake completed. */
    CHECK_EQ_INT(engine_verdict(NULL, ip, sizeof(ip)), AN_OK);
    struct cap_keylog *kl = cap_keylog_new();
    cap_keylog_add(kl, (const uint8_t *)keylog_text, strlen(keylog_text));
    CHECK_EQ_INT(engine_verdict(kl, ip, sizeof(ip)), AN_REGISTRY_DENIED);
    CHECK_EQ_STR(ip, "198.18.1.2");
    cap_keylog_free(kl);
}

static void engine_tls13_denied(void) { check_engine(TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256"); }

/* The same answer over HTTP/2: SETTINGS, HEADERS (HPACK), DATA. */
static void engine_tls13_denied_http2(void)
{
    static uint8_t h2[1024];
    size_t n = 0;
    static const uint8_t settings[] = { 0, 0, 0, 4, 0, 0, 0, 0, 0 };
    memcpy(h2, settings, 9);
    n = 9;
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    nghttp2_nv nv[3] = {
        { (uint8_t *)(uintptr_t)":status", (uint8_t *)(uintptr_t)"403", 7, 3, 0 },
        { (uint8_t *)(uintptr_t)"docker-distribution-api-version", (uint8_t *)(uintptr_t)"registry/2.0", 31, 12, 0 },
        { (uint8_t *)(uintptr_t)"content-type", (uint8_t *)(uintptr_t)"application/json", 12, 16, 0 },
    };
    ssize_t bl = nghttp2_hd_deflate_hd(d, h2 + n + 9, 256, nv, 3);
    nghttp2_hd_deflate_del(d);
    CHECK(bl > 0);
    const uint8_t hh[9] = { 0, 0, (uint8_t)bl, 1, 0x4, 0, 0, 0, 1 };
    memcpy(h2 + n, hh, 9);
    n += 9 + (size_t)bl;
    const char *body = strstr(answer, "{\"errors\"");
    size_t bn = strlen(body);
    const uint8_t dh[9] = { 0, 0, (uint8_t)bn, 0, 0x1, 0, 0, 0, 1 };
    memcpy(h2 + n, dh, 9);
    memcpy(h2 + n + 9, body, bn);
    n += 9 + bn;
    ans = h2;
    ans_len = n;
    check_engine(TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256");
    ans = (const uint8_t *)answer;
    ans_len = sizeof(answer) - 1;
}
static void engine_tls12_denied(void) { check_engine(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256"); }

static void tls13_aes128_gcm(void) { check_session(TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", 0x1301); }
static void tls13_aes256_gcm(void) { check_session(TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", 0x1302); }
static void tls13_chacha20(void) { check_session(TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", 0x1303); }
static void tls12_aes128_gcm(void) { check_session(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", 0xC02B); }
static void tls12_aes256_gcm(void) { check_session(TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", 0xC02C); }
static void tls12_chacha20(void) { check_session(TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", 0xCCA9); }

static void keylog_garbage(void)
{
    static const char text[] =
        "# SSL/TLS secrets log file, generated by NSS\n"
        "\n"
        "CLIENT_RANDOM 00\n"                                    /* short random */
        "CLIENT_RANDOM zz000000000000000000000000000000000000000000000000000000000000000 00\n"
        "UNKNOWN_LABEL 0000000000000000000000000000000000000000000000000000000000000000 00\n"
        "garbage without spaces\n"
        "CLIENT_RANDOM 0101010101010101010101010101010101010101010101010101010101010101 "
        "020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202\r\n"
        "SERVER_TRAFFIC_SECRET_0 0101010101010101010101010101010101010101010101010101010101010101 "
        "03030303030303030303030303030303030303030303030303030303030303";   /* 31 bytes: wrong */
    struct cap_keylog *kl = cap_keylog_new();
    CHECK_EQ_INT(cap_keylog_add(kl, (const uint8_t *)text, sizeof(text) - 1), 1);
    CHECK_EQ_INT(cap_keylog_count(kl), 1);
    CHECK_EQ_INT(cap_keylog_skipped(kl), 5);
    uint8_t cr[32], secret[CAP_SECRET_MAX];
    size_t n;
    memset(cr, 1, sizeof(cr));
    CHECK(cap_keylog_find(kl, cr, CAP_SECRET_MASTER, secret, &n));
    CHECK_EQ_INT(n, 48);
    CHECK_EQ_INT(secret[47], 2);
    CHECK(!cap_keylog_find(kl, cr, CAP_SECRET_SERVER_APP, secret, &n));
    /* The same connection logged again: the latest line wins. */
    char again[256];
    snprintf(again, sizeof(again), "CLIENT_RANDOM %064d %096d\n", 0, 7);
    memset(again + 14, '0', 62);
    memcpy(again + 14, "01010101", 8);
    for (int i = 0; i < 64; i += 2)
        memcpy(again + 14 + i, "01", 2);
    CHECK_EQ_INT(cap_keylog_add(kl, (const uint8_t *)again, strlen(again)), 1);
    CHECK(cap_keylog_find(kl, cr, CAP_SECRET_MASTER, secret, &n));
    CHECK_EQ_INT(secret[47], 7);
    cap_keylog_free(kl);

    /* More lines than LIM_KEYLOG_ENTRIES: the rest is skipped, lookups stay exact. */
    kl = cap_keylog_new();
    static char big[(LIM_KEYLOG_ENTRIES + 8) * 180];
    size_t at = 0;
    for (unsigned i = 0; i < LIM_KEYLOG_ENTRIES + 8; i++)
        at += (size_t)snprintf(big + at, sizeof(big) - at, "CLIENT_RANDOM %064x %096x\n", i, i + 1);
    CHECK_EQ_INT(cap_keylog_add(kl, (const uint8_t *)big, at), LIM_KEYLOG_ENTRIES);
    CHECK_EQ_INT(cap_keylog_skipped(kl), 8);
    memset(cr, 0, sizeof(cr));
    cr[30] = 0x12, cr[31] = 0x34;
    CHECK(cap_keylog_find(kl, cr, CAP_SECRET_MASTER, secret, &n));
    CHECK_EQ_INT(secret[46] << 8 | secret[47], 0x1235);
    cap_keylog_free(kl);
}

static void record_damaged_or_cut(void)
{
    struct cap_tls_keys k;
    uint8_t secret[32] = { 7 }, out[64];
    size_t n;
    uint8_t type;
    CHECK(cap_tls13_keys(0x1301, secret, 32, &k));
    CHECK(!cap_tls13_keys(0x1301, secret, 48, &k));        /* SHA-256 suite, 48-byte secret */
    CHECK(!cap_tls13_keys(0x002F, secret, 32, &k));        /* a CBC suite */
    CHECK(cap_tls13_keys(0x1301, secret, 32, &k));
    static const uint8_t shorty[] = { 23, 3, 3, 0, 4, 1, 2, 3, 4 };
    CHECK_EQ_INT(cap_tls_decrypt(&k, shorty, sizeof(shorty), out, sizeof(out), &n, &type), CAP_DECRYPT_INVALID);
    static const uint8_t lying[] = { 23, 3, 3, 0, 40, 1, 2, 3 };  /* claims more than it has */
    CHECK_EQ_INT(cap_tls_decrypt(&k, lying, sizeof(lying), out, sizeof(out), &n, &type), CAP_DECRYPT_INVALID);
    uint8_t rec[5 + 32];
    memset(rec, 0xaa, sizeof(rec));
    rec[0] = 23, rec[1] = 3, rec[2] = 3, rec[3] = 0, rec[4] = 32;
    CHECK_EQ_INT(cap_tls_decrypt(&k, rec, sizeof(rec), out, sizeof(out), &n, &type), CAP_DECRYPT_BAD_TAG);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(k.seq, 0);                                 /* a failure does not advance */
    cap_tls_keys_wipe(&k);
}

int main(void)
{
    RUN(tls13_aes128_gcm);
    RUN(tls13_aes256_gcm);
    RUN(tls13_chacha20);
    RUN(tls12_aes128_gcm);
    RUN(tls12_aes256_gcm);
    RUN(tls12_chacha20);
    RUN(engine_tls13_denied);
    RUN(engine_tls12_denied);
    RUN(engine_tls13_denied_http2);
    RUN(keylog_garbage);
    RUN(record_damaged_or_cut);
    X509_free(cert);
    EVP_PKEY_free(pkey);
    return check_summary();
}
