/* test_dns.c: cap_dns_parse on annotated responses and hostile names. */
#include <string.h>

#include "capture/capture.h"
#include "check.h"

/* Response header: id 0x1234, QR RD RA, rcode in the low byte of flags. */
#define HDR(flags_lo, an) 0x12, 0x34, 0x81, (flags_lo), 0x00, 0x01, 0x00, (an), 0x00, 0x00, 0x00, 0x00

/* @12 question: LabReg.azurecr.io (mixed case on purpose) A IN; 23 bytes. */
#define Q_LABREG_A                                                           \
    0x06, 'L', 'a', 'b', 'R', 'e', 'g',     /* @12 */                        \
    0x07, 'a', 'z', 'u', 'r', 'e', 'c', 'r', /* @19 "azurecr.io" */          \
    0x02, 'i', 'o', 0x00,                                                    \
    0x00, 0x01, 0x00, 0x01                  /* A, IN */

static void test_a_answer(void)
{
    static const uint8_t m[] = {
        HDR(0x80, 1),
        Q_LABREG_A,
        /* @35 answer */
        0xc0, 0x0c,                         /* name: pointer to @12 */
        0x00, 0x01, 0x00, 0x01,             /* A, IN */
        0x00, 0x00, 0x00, 0x3c,             /* TTL 60 */
        0x00, 0x04, 20, 45, 122, 144,       /* 20.45.122.144 */
    };
    struct cap_dns_msg d;
    CHECK_EQ_INT(cap_dns_parse(m, sizeof m, &d), CAP_OK);
    CHECK_EQ_INT(d.id, 0x1234);
    CHECK(d.is_response);
    CHECK(!d.truncated_flag);
    CHECK_EQ_INT(d.rcode, 0);
    CHECK_EQ_STR(d.qname, "labreg.azurecr.io");
    CHECK_EQ_INT(d.qtype, CAP_DNS_A);
    CHECK_EQ_INT(d.n_answers_wire, 1);
    CHECK_EQ_INT(d.n_answers, 1);
    CHECK_EQ_STR(d.answers[0].name, "labreg.azurecr.io");
    CHECK_EQ_INT(d.answers[0].type, CAP_DNS_A);
    CHECK_EQ_INT(d.answers[0].ttl, 60);
    CHECK_EQ_INT(d.answers[0].addr.family, 4);
    CHECK(memcmp(d.answers[0].addr.a, "\x14\x2d\x7a\x90", 4) == 0);

    /* Truncated answers: every cut inside the answer keeps the question. */
    for (size_t n = 35; n < sizeof m; n++) {
        CHECK_EQ_INT(cap_dns_parse(m, n, &d), CAP_TRUNCATED);
        CHECK_EQ_STR(d.qname, "labreg.azurecr.io");
        CHECK_EQ_INT(d.n_answers, 0);
    }
    /* ... and inside the header or question. */
    for (size_t n = 0; n < 35; n++)
        CHECK_EQ_INT(cap_dns_parse(m, n, &d), CAP_TRUNCATED);
    CHECK_EQ_INT(cap_dns_parse(m, 12, &d), CAP_TRUNCATED);
    CHECK_EQ_INT(d.id, 0x1234);
    CHECK_EQ_INT(d.n_answers_wire, 1);
}

/* An ACR registry behind a private endpoint seen from outside the VNet
 * (facts sheet 2.2): four CNAMEs then an A, compressed as servers do.  */
static const uint8_t chain[] = {
    HDR(0x80, 5),
    Q_LABREG_A,
    /* @35 */
    0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01,     /* labreg.azurecr.io CNAME IN */
    0x00, 0x00, 0x0e, 0x10, 0x00, 0x15,     /* TTL 3600, rdlength 21 */
    0x06, 'l', 'a', 'b', 'r', 'e', 'g',     /* @47 */
    0x0b, 'p', 'r', 'i', 'v', 'a', 't', 'e', 'l', 'i', 'n', 'k',
    0xc0, 0x13,                             /* -> "azurecr.io" @19 */
    /* @68 */
    0xc0, 0x2f, 0x00, 0x05, 0x00, 0x01,     /* labreg.privatelink.azurecr.io CNAME */
    0x00, 0x00, 0x00, 0x3c, 0x00, 0x11,     /* TTL 60, rdlength 17 */
    0x04, 'w', 'e', 'u', '1', 0x02, 'f', 'e', /* @80 weu1.fe.azcr.io */
    0x04, 'a', 'z', 'c', 'r', 0x02, 'i', 'o', 0x00,
    /* @97 */
    0xc0, 0x50, 0x00, 0x05, 0x00, 0x01,     /* weu1.fe.azcr.io CNAME */
    0x00, 0x00, 0x00, 0x3c, 0x00, 0x20,     /* rdlength 32 */
    0x0b, 'w', 'e', 'u', '-', 'a', 'c', 'r', '-', 'r', 'e', 'g', /* @109 */
    0x0e, 't', 'r', 'a', 'f', 'f', 'i', 'c', 'm', 'a', 'n', 'a', 'g', 'e', 'r',
    0x03, 'n', 'e', 't', 0x00,
    /* @141 */
    0xc0, 0x6d, 0x00, 0x05, 0x00, 0x01,     /* weu-acr-reg.trafficmanager.net CNAME */
    0x00, 0x00, 0x00, 0x3c, 0x00, 0x2b,     /* rdlength 43 */
    0x0b, 'r', '0', '9', '1', '0', 'w', 'e', 'u', '-', 'a', 'z', /* @153 */
    0x0a, 'w', 'e', 's', 't', 'e', 'u', 'r', 'o', 'p', 'e',
    0x08, 'c', 'l', 'o', 'u', 'd', 'a', 'p', 'p',
    0x05, 'a', 'z', 'u', 'r', 'e', 0x03, 'c', 'o', 'm', 0x00,
    /* @196 */
    0xc0, 0x99, 0x00, 0x01, 0x00, 0x01,     /* r0910weu-az... A IN */
    0x00, 0x00, 0x00, 0x0a, 0x00, 0x04,     /* TTL 10, rdlength 4 */
    20, 45, 122, 144,
};

static void test_cname_chain(void)
{
    struct cap_dns_msg d;
    CHECK_EQ_INT(cap_dns_parse(chain, sizeof chain, &d), CAP_OK);
    CHECK_EQ_INT(d.n_answers, 5);
    CHECK_EQ_STR(d.answers[0].name, "labreg.azurecr.io");
    CHECK_EQ_STR(d.answers[0].target, "labreg.privatelink.azurecr.io");
    CHECK_EQ_INT(d.answers[0].ttl, 3600);
    CHECK_EQ_STR(d.answers[1].name, "labreg.privatelink.azurecr.io");
    CHECK_EQ_STR(d.answers[1].target, "weu1.fe.azcr.io");
    CHECK_EQ_STR(d.answers[2].target, "weu-acr-reg.trafficmanager.net");
    CHECK_EQ_STR(d.answers[3].target, "r0910weu-az.westeurope.cloudapp.azure.com");
    CHECK_EQ_STR(d.answers[4].name, "r0910weu-az.westeurope.cloudapp.azure.com");
    CHECK_EQ_INT(d.answers[4].type, CAP_DNS_A);
    CHECK_EQ_INT(d.answers[4].addr.a[0], 20);
    CHECK_EQ_INT(d.answers[4].addr.a[3], 144);

    /* ANCOUNT larger than present: what came is kept. */
    uint8_t more[sizeof chain];
    memcpy(more, chain, sizeof chain);
    more[7] = 9;                            /* ANCOUNT 9, 5 present */
    CHECK_EQ_INT(cap_dns_parse(more, sizeof more, &d), CAP_TRUNCATED);
    CHECK_EQ_INT(d.n_answers_wire, 9);
    CHECK_EQ_INT(d.n_answers, 5);

    /* Cut inside the fourth CNAME's RDATA: three answers. */
    CHECK_EQ_INT(cap_dns_parse(chain, 160, &d), CAP_TRUNCATED);
    CHECK_EQ_INT(d.n_answers, 3);
}

static void test_aaaa_and_other_types(void)
{
    static const uint8_t m[] = {
        HDR(0x80, 2),
        0x01, 'x', 0x00, 0x00, 0x1c, 0x00, 0x01, /* @12 "x" AAAA IN */
        /* @19 */
        0xc0, 0x0c, 0x00, 0x10, 0x00, 0x01,     /* TXT: skipped by rdlength */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x03, 0x02, 'h', 'i',
        /* @34 */
        0xc0, 0x0c, 0x00, 0x1c, 0x00, 0x01,     /* AAAA IN */
        0x00, 0x00, 0x00, 0x1e, 0x00, 0x10,     /* TTL 30, rdlength 16 */
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
    };
    struct cap_dns_msg d;
    CHECK_EQ_INT(cap_dns_parse(m, sizeof m, &d), CAP_OK);
    CHECK_EQ_INT(d.qtype, CAP_DNS_AAAA);
    CHECK_EQ_INT(d.n_answers_wire, 2);
    CHECK_EQ_INT(d.n_answers, 1);
    CHECK_EQ_INT(d.answers[0].type, CAP_DNS_AAAA);
    CHECK_EQ_INT(d.answers[0].addr.family, 6);
    CHECK_EQ_INT(d.answers[0].addr.a[1], 0x01);
    CHECK_EQ_INT(d.answers[0].addr.a[15], 0x01);

    /* An A record whose rdlength is not 4 contradicts itself. */
    static const uint8_t bad_a[] = {
        HDR(0x80, 1),
        0x01, 'x', 0x00, 0x00, 0x01, 0x00, 0x01,
        0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x05, 1, 2, 3, 4, 5,          /* rdlength 5 */
    };
    CHECK_EQ_INT(cap_dns_parse(bad_a, sizeof bad_a, &d), CAP_INVALID);
}

static void test_rcodes(void)
{
    static const uint8_t nx[] = {
        0x12, 0x34, 0x81, 0x83,             /* QR RD RA, rcode 3 NXDOMAIN */
        0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, /* QD 1, NS 1 */
        0x01, 'x', 0x00, 0x00, 0x01, 0x00, 0x01,
        /* authority SOA, not read */
        0xc0, 0x0c, 0x00, 0x06, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x00,
    };
    struct cap_dns_msg d;
    CHECK_EQ_INT(cap_dns_parse(nx, sizeof nx, &d), CAP_OK);
    CHECK_EQ_INT(d.rcode, 3);
    CHECK_EQ_INT(d.n_answers, 0);
    CHECK_EQ_STR(d.qname, "x");

    static const uint8_t servfail[] = {
        0x12, 0x34, 0x83, 0x82,             /* QR TC RD RA, rcode 2 SERVFAIL */
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x02, 0x00, 0x01,       /* root, NS IN */
    };
    CHECK_EQ_INT(cap_dns_parse(servfail, sizeof servfail, &d), CAP_OK);
    CHECK_EQ_INT(d.rcode, 2);
    CHECK(d.truncated_flag);
    CHECK_EQ_STR(d.qname, ".");
    CHECK_EQ_INT(d.qtype, 2);

    /* A query: not a response. */
    static const uint8_t q[] = {
        0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
        0x01, 'x', 0x00, 0x00, 0x01, 0x00, 0x01,
    };
    CHECK_EQ_INT(cap_dns_parse(q, sizeof q, &d), CAP_OK);
    CHECK(!d.is_response);
}

static void test_bad_pointers(void)
{
    struct cap_dns_msg d;
    static const uint8_t self_loop[] = {
        HDR(0x80, 1),
        0x01, 'x', 0x00, 0x00, 0x01, 0x00, 0x01,
        0xc0, 0x13,                         /* @19 pointer to itself */
        0x00, 0x01, 0x00, 0x01, 0, 0, 0, 1, 0x00, 0x04, 1, 2, 3, 4,
    };
    CHECK_EQ_INT(cap_dns_parse(self_loop, sizeof self_loop, &d), CAP_INVALID);
    CHECK_EQ_STR(d.qname, "x");

    static const uint8_t label_loop[] = {
        HDR(0x80, 1),
        0x01, 'x', 0x00, 0x00, 0x01, 0x00, 0x01,
        0x01, 'a', 0xc0, 0x13,              /* @19 "a" then back to @19 */
        0x00, 0x01, 0x00, 0x01, 0, 0, 0, 1, 0x00, 0x04, 1, 2, 3, 4,
    };
    CHECK_EQ_INT(cap_dns_parse(label_loop, sizeof label_loop, &d), CAP_INVALID);

    static const uint8_t two_loop[] = {
        HDR(0x80, 1),
        0x01, 'x', 0xc0, 0x15,              /* @12 "x" -> @21 (forward) */
        0x00, 0x01, 0x00, 0x01,
        0x01, 'y', 0xc0, 0x0c,              /* @21 "y" -> @12 */
    };
    CHECK_EQ_INT(cap_dns_parse(two_loop, sizeof two_loop, &d), CAP_INVALID);

    static const uint8_t past_end[] = {
        HDR(0x80, 1),
        0x01, 'x', 0x00, 0x00, 0x01, 0x00, 0x01,
        0xff, 0xff,                         /* pointer to 16383 */
        0x00, 0x01, 0x00, 0x01, 0, 0, 0, 1, 0x00, 0x04, 1, 2, 3, 4,
    };
    CHECK_EQ_INT(cap_dns_parse(past_end, sizeof past_end, &d), CAP_INVALID);

    /* The pointer's second byte is not there: truncated, not invalid. */
    CHECK_EQ_INT(cap_dns_parse(past_end, 20, &d), CAP_TRUNCATED);

    /* A CNAME target whose labels run past its rdlength. */
    static const uint8_t cname_overrun[] = {
        HDR(0x80, 1),
        0x01, 'x', 0x00, 0x00, 0x05, 0x00, 0x01,
        0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0, 0, 0, 1,
        0x00, 0x03,                         /* rdlength 3 ... */
        0x05, 'a', 'b', 'c', 'd', 'e', 0x00, /* ... for a 7-byte name */
    };
    CHECK_EQ_INT(cap_dns_parse(cname_overrun, sizeof cname_overrun, &d), CAP_INVALID);
}

static void test_bad_labels(void)
{
    struct cap_dns_msg d;
    /* 0x40: label type 01, i.e. "length 64". */
    uint8_t m[600] = { HDR(0x80, 0) };
    m[12] = 0x40;
    memset(m + 13, 'a', 64);
    m[77] = 0x00;
    CHECK_EQ_INT(cap_dns_parse(m, 82, &d), CAP_INVALID);

    /* 0x80: label type 10. */
    m[12] = 0x80;
    CHECK_EQ_INT(cap_dns_parse(m, 82, &d), CAP_INVALID);

    /* Exactly 255 octets: 3 x 63-octet labels, one of 61, the root. */
    size_t o = 12;
    for (int i = 0; i < 4; i++) {
        size_t n = i < 3 ? 63 : 61;
        m[o++] = (uint8_t)n;
        memset(m + o, 'a' + i, n);
        o += n;
    }
    m[o++] = 0x00;
    m[o++] = 0x00; m[o++] = 0x01; m[o++] = 0x00; m[o++] = 0x01;
    CHECK_EQ_INT(o - 12 - 4, 255);
    CHECK_EQ_INT(cap_dns_parse(m, o, &d), CAP_OK);
    CHECK_EQ_INT(strlen(d.qname), 253);

    /* 257 octets: the fourth label is 63 long. */
    m[12 + 3 * 64] = 63;
    memset(m + 12 + 3 * 64 + 1, 'd', 63);
    m[12 + 4 * 64] = 0x00;
    m[12 + 4 * 64 + 1] = 0x00; m[12 + 4 * 64 + 2] = 0x01;
    m[12 + 4 * 64 + 3] = 0x00; m[12 + 4 * 64 + 4] = 0x01;
    CHECK_EQ_INT(cap_dns_parse(m, 12 + 4 * 64 + 5, &d), CAP_INVALID);
}

/* Case folded, unsafe bytes as \DDD, a dot inside a label kept apart. */
static void test_escaping(void)
{
    static const uint8_t m[] = {
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
        0x06, 'A', '.', 0x1b, '[', ' ', '\\',   /* "a" "." ESC "[" SP "\" */
        0x03, 'W', '*', '_',
        0x00, 0x00, 0x01, 0x00, 0x01,
    };
    struct cap_dns_msg d;
    CHECK_EQ_INT(cap_dns_parse(m, sizeof m, &d), CAP_OK);
    CHECK_EQ_STR(d.qname, "a\\046\\027\\091\\032\\092.w*_");

    /* A 255-octet name of bytes needing escapes: cut at an escape boundary. */
    uint8_t big[300] = { 0x12, 0x34, 0x01, 0x00, 0x00, 0x01 };
    size_t o = 12;
    for (int i = 0; i < 4; i++) {
        size_t n = i < 3 ? 63 : 61;
        big[o++] = (uint8_t)n;
        memset(big + o, 0xff, n);
        o += n;
    }
    big[o++] = 0;
    o += 4;
    CHECK_EQ_INT(cap_dns_parse(big, o, &d), CAP_OK);
    size_t n = strlen(d.qname);
    CHECK(n >= LIM_DNS_NAME - 5);
    for (size_t i = 0; i < n; i++) {
        if (d.qname[i] == '\\') {
            CHECK(i + 3 < n);               /* never a cut escape */
            CHECK(memcmp(d.qname + i + 1, "255", 3) == 0);
        }
    }
}

int main(void)
{
    RUN(test_a_answer);
    RUN(test_cname_chain);
    RUN(test_aaaa_and_other_types);
    RUN(test_rcodes);
    RUN(test_bad_pointers);
    RUN(test_bad_labels);
    RUN(test_escaping);
    return check_summary();
}
