/* test_http2.c: cap_http2_parse_response on the server's side of HTTP/2
 * connections built frame by frame, the header blocks encoded with
 * nghttp2's HPACK deflater: the registry's 403 DENIED, a block continued in
 * CONTINUATION frames, padding and priority, a second response whose
 * fields refer to the first one's dynamic table entries, frames cut short,
 * broken HPACK, and bytes that are not HTTP/2.  */
#include <stdint.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "capture/capture.h"
#include "check.h"

static uint8_t conn[8192];
static size_t conn_len;

static void frame(uint8_t type, uint8_t flags, uint32_t stream, const uint8_t *p, size_t n)
{
    uint8_t h[9] = { (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, type, flags,
                     (uint8_t)(stream >> 24), (uint8_t)(stream >> 16), (uint8_t)(stream >> 8), (uint8_t)stream };
    memcpy(conn + conn_len, h, 9);
    memcpy(conn + conn_len + 9, p, n);
    conn_len += 9 + n;
}

static void preface(void)
{
    static const uint8_t settings[12] = { 0, 3, 0, 0, 0, 100, 0, 4, 0, 0, 0xff, 0xff };  /* 2 settings */
    conn_len = 0;
    frame(4, 0, 0, settings, 12);
}

/* nghttp2_nv takes non-const pointers; the deflater only reads them. */
static nghttp2_nv NV(const char *n, const char *v)
{
    nghttp2_nv nv = { (uint8_t *)(uintptr_t)n, (uint8_t *)(uintptr_t)v, strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE };
    return nv;
}

static nghttp2_nv denied_nv[4];

static void fill_denied(void)
{
    denied_nv[0] = NV(":status", "403");
    denied_nv[1] = NV("content-type", "application/json; charset=utf-8");
    denied_nv[2] = NV("docker-distribution-api-version", "registry/2.0");
    denied_nv[3] = NV("x-ms-correlation-request-id", "6f1b2a8e-1a2b-4c3d-9e8f-0123456789ab");
}

static const char denied_body[] =
    "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"client with IP '20.1.2.3' is not allowed access\"}]}";

static size_t deflate(nghttp2_hd_deflater *d, const nghttp2_nv *nv, size_t n, uint8_t *out, size_t cap)
{
    ssize_t r = nghttp2_hd_deflate_hd(d, out, cap, nv, n);
    return r < 0 ? 0 : (size_t)r;
}

static void denied(void)
{
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    uint8_t blk[512];
    size_t n = deflate(d, denied_nv, 4, blk, sizeof(blk));
    preface();
    frame(8, 0, 0, (const uint8_t *)"\0\0\0\1", 4);             /* WINDOW_UPDATE */
    frame(1, 0x4, 1, blk, n);                                   /* HEADERS, END_HEADERS */
    frame(0, 0x1, 1, (const uint8_t *)denied_body, sizeof(denied_body) - 1);
    struct cap_http_resp r;
    CHECK(cap_http2_server_start(conn, conn_len));
    CHECK_EQ_INT(cap_http2_parse_response(conn, conn_len, &r), CAP_OK);
    CHECK_EQ_INT(r.status, 403);
    CHECK(r.complete_head);
    CHECK(r.has_docker_api_version);
    CHECK(r.has_ms_correlation);
    CHECK_EQ_STR(r.content_type, "application/json; charset=utf-8");
    CHECK_EQ_STR(r.error_code, "DENIED");
    CHECK_EQ_STR(r.denied_client_ip, "20.1.2.3");
    /* Cut anywhere before the HEADERS ends: no status; a body cut short
     * keeps the head.  */
    for (size_t cut = 0; cut < conn_len; cut++) {
        enum cap_status st = cap_http2_parse_response(conn, cut, &r);
        CHECK(st != CAP_OK || r.status == 403);
        CHECK(st == CAP_OK || r.status == 0 || st == CAP_TRUNCATED);
    }
    nghttp2_hd_deflate_del(d);
}

/* The block split in three, with padding and a priority on the HEADERS. */
static void continuation_padding(void)
{
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    uint8_t blk[512], pl[600];
    size_t n = deflate(d, denied_nv, 4, blk, sizeof(blk));
    size_t a = n / 3, b = 2 * n / 3;
    preface();
    pl[0] = 5;                                                  /* pad length */
    memset(pl + 1, 0, 5);                                       /* priority */
    memcpy(pl + 6, blk, a);
    memset(pl + 6 + a, 0, 5);
    frame(1, 0x8 | 0x20, 1, pl, 6 + a + 5);                     /* PADDED, PRIORITY */
    frame(9, 0, 1, blk + a, b - a);
    frame(9, 0x4, 1, blk + b, n - b);
    struct cap_http_resp r;
    CHECK_EQ_INT(cap_http2_parse_response(conn, conn_len, &r), CAP_OK);
    CHECK_EQ_INT(r.status, 403);
    CHECK(r.has_docker_api_version);
    /* A DATA frame between HEADERS and its CONTINUATION breaks RFC 9113 6.10. */
    preface();
    frame(1, 0, 1, blk, a);
    frame(0, 0, 1, (const uint8_t *)"x", 1);
    frame(9, 0x4, 1, blk + a, n - a);
    CHECK_EQ_INT(cap_http2_parse_response(conn, conn_len, &r), CAP_INVALID);
    nghttp2_hd_deflate_del(d);
}

/* A push-free server answers stream 1 then stream 3; the second block
 * indexes the first's dynamic table entries, which only an inflater that
 * saw the first block can read.  Only the first response is reported.  */
static void dynamic_table_across_blocks(void)
{
    nghttp2_hd_deflater *d;
    nghttp2_hd_deflate_new(&d, 4096);
    uint8_t b1[512], b2[512];
    nghttp2_nv ok_nv[3];
    ok_nv[0] = NV(":status", "401");
    ok_nv[1] = NV("docker-distribution-api-version", "registry/2.0");
    ok_nv[2] = NV("www-authenticate", "Bearer realm=\"https://labreg.azurecr.io/oauth2/token\"");
    size_t n1 = deflate(d, ok_nv, 3, b1, sizeof(b1));
    size_t n2 = deflate(d, denied_nv, 4, b2, sizeof(b2));
    preface();
    frame(1, 0x5, 1, b1, n1);
    frame(1, 0x4, 3, b2, n2);
    struct cap_http_resp r;
    CHECK_EQ_INT(cap_http2_parse_response(conn, conn_len, &r), CAP_OK);
    CHECK_EQ_INT(r.status, 401);
    CHECK(r.bearer_challenge);
    CHECK_EQ_STR(r.realm, "https://labreg.azurecr.io/oauth2/token");
    nghttp2_hd_deflate_del(d);
}

static void not_http2_or_broken(void)
{
    struct cap_http_resp r;
    static const char h1[] = "HTTP/1.1 200 OK\r\n\r\n";
    CHECK(!cap_http2_server_start((const uint8_t *)h1, sizeof(h1) - 1));
    CHECK_EQ_INT(cap_http2_parse_response((const uint8_t *)h1, sizeof(h1) - 1, &r), CAP_INVALID);
    /* An HPACK index far beyond any table. */
    static const uint8_t bad[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
    preface();
    frame(1, 0x4, 1, bad, sizeof(bad));
    CHECK_EQ_INT(cap_http2_parse_response(conn, conn_len, &r), CAP_INVALID);
    CHECK_EQ_INT(r.status, 0);
    /* A frame claiming more than there is: truncated, not read past. */
    preface();
    frame(1, 0x4, 1, bad, sizeof(bad));
    conn[21 + 1] = 0xff;                                        /* the HEADERS length */
    CHECK_EQ_INT(cap_http2_parse_response(conn, conn_len, &r), CAP_TRUNCATED);
}

int main(void)
{
    fill_denied();
    RUN(denied);
    RUN(continuation_padding);
    RUN(dynamic_table_across_blocks);
    RUN(not_http2_or_broken);
    return check_summary();
}
