/* test_pcapfile.c: the pcap/pcapng reader on small files written to a temporary directory. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "capture/capture.h"
#include "tests/unit/check.h"

static char tmpdir[64];
/* Files written, removed at the end. */
static char made[32][256];
static size_t n_made;

/* A file image built field by field; every put names the field it writes. */
struct img {
    uint8_t b[2048];
    size_t n;
    bool be;
};

static void put8(struct img *m, uint8_t v)
{
    if (m->n < sizeof m->b)
        m->b[m->n++] = v;
}

static void put16(struct img *m, uint16_t v)
{
    put8(m, (uint8_t)(m->be ? v >> 8 : v));
    put8(m, (uint8_t)(m->be ? v : v >> 8));
}

static void put32(struct img *m, uint32_t v)
{
    put16(m, (uint16_t)(m->be ? v >> 16 : v));
    put16(m, (uint16_t)(m->be ? v : v >> 16));
}

static void put_bytes(struct img *m, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put8(m, (uint8_t)s[i]);
}

/* Writes bytes to tmpdir/name; returns path, the caller's buffer. */
static const char *write_file(const char *name, const uint8_t *b, size_t n, char *path, size_t plen)
{
    snprintf(path, plen, "%s/%s", tmpdir, name);
    if (n_made < sizeof made / sizeof made[0])
        snprintf(made[n_made++], sizeof made[0], "%s", path);
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (fp) {
        CHECK_EQ_INT(fwrite(b, 1, n, fp), n);
        fclose(fp);
    }
    return path;
}

static void test_pcap_le_usec(void)
{
    static const uint8_t b[] = {
        /* file header: magic a1b2c3d4 little-endian, version 2.4 */
        0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00,
        /* thiszone 0, sigfigs 0 */
        0, 0, 0, 0, 0, 0, 0, 0,
        /* snaplen 65535, linktype 1 (Ethernet) */
        0xff, 0xff, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        /* record 1: ts 1 s + 2 us, caplen 4, wirelen 60 */
        0x01, 0, 0, 0, 0x02, 0, 0, 0, 0x04, 0, 0, 0, 0x3c, 0, 0, 0,
        /* data */
        0xde, 0xad, 0xbe, 0xef,
        /* record 2: ts 3 s + 999999 us, caplen 3, wirelen 2 (less than caplen) */
        0x03, 0, 0, 0, 0x3f, 0x42, 0x0f, 0, 0x03, 0, 0, 0, 0x02, 0, 0, 0,
        /* data */
        'a', 'b', 'c',
    };
    char path[256], err[160] = "";
    struct cap_file *f = cap_file_open(write_file("le.pcap", b, sizeof b, path, sizeof path), err, sizeof err);
    CHECK(f != NULL);
    if (!f)
        return;
    struct cap_record r;
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), 1);
    CHECK_EQ_INT(r.frame, 1);
    CHECK_EQ_INT(r.ts_ns, 1000002000ll);
    CHECK_EQ_INT(r.linktype, CAP_LT_ETHERNET);
    CHECK_EQ_INT(r.caplen, 4);
    CHECK_EQ_INT(r.wirelen, 60);
    CHECK(r.data[0] == 0xde && r.data[3] == 0xef);
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), 1);
    CHECK_EQ_INT(r.frame, 2);
    CHECK_EQ_INT(r.ts_ns, 3999999000ll);
    CHECK_EQ_INT(r.caplen, 3);
    CHECK_EQ_INT(r.wirelen, 3);     /* raised to caplen */
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), 0);
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), 0);
    cap_file_close(f);
}

static void test_pcap_be_nsec_and_frame_numbering(void)
{
    struct img m = { .be = true };
    put32(&m, 0xa1b23c4d);          /* magic: nanosecond, big-endian */
    put16(&m, 2);                   /* version major */
    put16(&m, 4);                   /* version minor */
    put32(&m, 0);                   /* thiszone */
    put32(&m, 0);                   /* sigfigs */
    put32(&m, 262144);              /* snaplen */
    put32(&m, 101);                 /* linktype raw IP */
    for (uint32_t i = 0; i < 2; i++) {
        put32(&m, 2);               /* ts seconds */
        put32(&m, 5 + i);           /* ts nanoseconds */
        put32(&m, 1);               /* caplen */
        put32(&m, 1);               /* wirelen */
        put8(&m, 0x45);             /* data */
    }
    char path[256], err[160] = "";
    struct cap_file *f = cap_file_open(write_file("be.pcap", m.b, m.n, path, sizeof path), err, sizeof err);
    CHECK(f != NULL);
    if (!f)
        return;
    cap_file_set_next_frame(f, 100);
    struct cap_record r;
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), 1);
    CHECK_EQ_INT(r.frame, 100);
    CHECK_EQ_INT(r.ts_ns, 2000000005ll);
    CHECK_EQ_INT(r.linktype, CAP_LT_RAW);
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), 1);
    CHECK_EQ_INT(r.frame, 101);
    CHECK_EQ_INT(r.ts_ns, 2000000006ll);
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), 0);
    cap_file_close(f);
}

/* pcapng pieces, in the image's byte order. */
static void ng_shb(struct img *m)
{
    put32(m, 0x0A0D0D0A);           /* block type: section header */
    put32(m, 28);                   /* block length */
    put32(m, 0x1A2B3C4D);           /* byte-order magic */
    put16(m, 1);                    /* major */
    put16(m, 0);                    /* minor */
    put32(m, 0xffffffff);           /* section length: unknown (-1) */
    put32(m, 0xffffffff);
    put32(m, 28);                   /* trailing block length */
}

static void ng_idb(struct img *m, uint16_t linktype, int tsresol)
{
    uint32_t len = tsresol >= 0 ? 32 : 20;
    put32(m, 1);                    /* block type: interface description */
    put32(m, len);                  /* block length */
    put16(m, linktype);             /* link type */
    put16(m, 0);                    /* reserved */
    put32(m, 0);                    /* snaplen: none */
    if (tsresol >= 0) {
        put16(m, 9);                /* option if_tsresol */
        put16(m, 1);                /* option length */
        put8(m, (uint8_t)tsresol);  /* value */
        put8(m, 0);                 /* padding to 32 bits */
        put16(m, 0);
        put16(m, 0);                /* opt_endofopt */
        put16(m, 0);
    }
    put32(m, len);                  /* trailing block length */
}

static void ng_epb(struct img *m, uint32_t ifid, uint64_t ts, const char *data, uint32_t n)
{
    uint32_t pad = (4 - n % 4) % 4;
    uint32_t len = 32 + n + pad;
    put32(m, 6);                    /* block type: enhanced packet */
    put32(m, len);                  /* block length */
    put32(m, ifid);                 /* interface id */
    put32(m, (uint32_t)(ts >> 32)); /* timestamp high */
    put32(m, (uint32_t)ts);         /* timestamp low */
    put32(m, n);                    /* captured length */
    put32(m, n + 100);              /* original length */
    put_bytes(m, data, n);          /* packet data */
    for (uint32_t i = 0; i < pad; i++)
        put8(m, 0);                 /* padding */
    put32(m, len);                  /* trailing block length */
}

static void test_pcapng_multi_interface_sections(void)
{
    struct img m = { .be = false };
    ng_shb(&m);                                     /* section 1, little-endian */
    ng_idb(&m, CAP_LT_ETHERNET, -1);                /* if 0: Ethernet, microseconds */
    ng_idb(&m, CAP_LT_RAW, 9);                      /* if 1: raw IP, nanoseconds */
    ng_epb(&m, 1, 1500000000000000007ull, "raw", 3);
    put32(&m, 0x00000BAD);                          /* unknown block type */
    put32(&m, 16);                                  /* block length */
    put32(&m, 0x12345678);                          /* body */
    put32(&m, 16);                                  /* trailing length */
    ng_epb(&m, 0, 1500000000000001ull, "ether", 5);
    put32(&m, 3);                                   /* simple packet block */
    put32(&m, 20);                                  /* block length */
    put32(&m, 4);                                   /* original length */
    put_bytes(&m, "spb!", 4);                       /* data */
    put32(&m, 20);                                  /* trailing length */
    m.be = true;
    ng_shb(&m);                                     /* section 2, big-endian */
    ng_idb(&m, CAP_LT_LINUX_SLL, 0x83);             /* if 0: SLL, 2^-3 s units */
    ng_epb(&m, 0, 20, "sll", 3);                    /* 20 / 8 s = 2.5 s */

    char path[256], err[160] = "";
    struct cap_file *f = cap_file_open(write_file("multi.pcapng", m.b, m.n, path, sizeof path), err, sizeof err);
    CHECK(f != NULL);
    if (!f)
        return;
    struct cap_record r;
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), 1);
    CHECK_EQ_INT(r.frame, 1);
    CHECK_EQ_INT(r.linktype, CAP_LT_RAW);
    CHECK_EQ_INT(r.ts_ns, 1500000000000000007ll);
    CHECK_EQ_INT(r.caplen, 3);
    CHECK_EQ_INT(r.wirelen, 103);
    CHECK(memcmp(r.data, "raw", 3) == 0);
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), 1);
    CHECK_EQ_INT(r.frame, 2);
    CHECK_EQ_INT(r.linktype, CAP_LT_ETHERNET);
    CHECK_EQ_INT(r.ts_ns, 1500000000000001000ll);
    CHECK(memcmp(r.data, "ether", 5) == 0);
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), 1);
    CHECK_EQ_INT(r.frame, 3);
    CHECK_EQ_INT(r.linktype, CAP_LT_ETHERNET);
    CHECK_EQ_INT(r.caplen, 4);
    CHECK_EQ_INT(r.ts_ns, 0);
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), 1);
    CHECK_EQ_INT(r.frame, 4);
    CHECK_EQ_INT(r.linktype, CAP_LT_LINUX_SLL);
    CHECK_EQ_INT(r.ts_ns, 2500000000ll);
    CHECK(memcmp(r.data, "sll", 3) == 0);
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), 0);
    cap_file_close(f);
}

static void expect_open_error(const char *name, const uint8_t *b, size_t n, const char *want)
{
    char path[256], err[160] = "";
    struct cap_file *f = cap_file_open(write_file(name, b, n, path, sizeof path), err, sizeof err);
    CHECK(f == NULL);
    CHECK_EQ_STR(err, want);
    cap_file_close(f);
}

static void test_not_a_capture(void)
{
    static const uint8_t text[] = "GET / HTTP/1.1\r\n";
    expect_open_error("empty.pcap", text, 0, "file is empty");
    expect_open_error("text.pcap", text, sizeof text - 1, "not a pcap or pcapng file");
    expect_open_error("tiny.pcap", text, 2, "not a pcap or pcapng file");
    /* pcap magic, then the file header stops */
    static const uint8_t short_hdr[] = { 0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00 };
    expect_open_error("short.pcap", short_hdr, sizeof short_hdr,
                      "cut off (file ends inside the pcap file header)");
    char err[160] = "";
    CHECK(cap_file_open("/nonexistent/x.pcap", err, sizeof err) == NULL);
    CHECK(strstr(err, "No such file") != NULL);
}

/* A little-endian pcap header for Ethernet, then the caller's records. */
static void pcap_le_header(struct img *m)
{
    put32(m, 0xa1b2c3d4);           /* magic */
    put16(m, 2);                    /* version major */
    put16(m, 4);                    /* version minor */
    put32(m, 0);                    /* thiszone */
    put32(m, 0);                    /* sigfigs */
    put32(m, 65535);                /* snaplen */
    put32(m, 1);                    /* linktype */
}

static void pcap_record(struct img *m, uint32_t caplen, uint32_t present)
{
    put32(m, 10);                   /* ts seconds */
    put32(m, 0);                    /* ts microseconds */
    put32(m, caplen);               /* caplen */
    put32(m, caplen);               /* wirelen */
    for (uint32_t i = 0; i < present; i++)
        put8(m, (uint8_t)i);        /* data */
}

static void expect_records_then_error(const struct img *m, const char *name, int good, const char *want)
{
    char path[256], err[160] = "";
    struct cap_file *f = cap_file_open(write_file(name, m->b, m->n, path, sizeof path), err, sizeof err);
    CHECK(f != NULL);
    if (!f)
        return;
    struct cap_record r;
    for (int i = 0; i < good; i++)
        CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), 1);
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), -1);
    CHECK_EQ_STR(err, want);
    err[0] = 0;
    CHECK_EQ_INT(cap_file_next(f, &r, err, sizeof err), -1);   /* stays failed */
    CHECK_EQ_STR(err, want);
    cap_file_close(f);
}

static void test_pcap_record_cut_off(void)
{
    struct img m = { .be = false };
    pcap_le_header(&m);
    pcap_record(&m, 8, 8);
    pcap_record(&m, 8, 8);
    pcap_record(&m, 60, 10);        /* file ends 50 bytes early */
    expect_records_then_error(&m, "cut.pcap", 2, "record 3: cut off (file ends inside a packet)");

    struct img h = { .be = false };
    pcap_le_header(&h);
    pcap_record(&h, 4, 4);
    put32(&h, 10);                  /* record 2 header: only 4 of 16 bytes */
    expect_records_then_error(&h, "cuthdr.pcap", 1,
                              "record 2: cut off (file ends inside a record header)");
}

static void test_pcap_hostile_caplen(void)
{
    struct img m = { .be = false };
    pcap_le_header(&m);
    pcap_record(&m, 4325376, 16);   /* 0x420000: over LIM_MAX_RECORD */
    expect_records_then_error(&m, "huge.pcap", 0, "record 1: length 4325376 exceeds 262144");
}

static void test_pcapng_damaged_blocks(void)
{
    struct img m = { .be = false };
    ng_shb(&m);
    ng_idb(&m, CAP_LT_ETHERNET, -1);
    ng_epb(&m, 0, 1, "ok", 2);
    ng_epb(&m, 5, 1, "no interface 5", 14);
    expect_records_then_error(&m, "noif.pcapng", 1, "record 2: interface 5 was not described");

    struct img t = { .be = false };
    ng_shb(&t);
    ng_idb(&t, CAP_LT_ETHERNET, -1);
    ng_epb(&t, 0, 1, "ok", 2);
    t.b[t.n - 4] ^= 0x40;           /* corrupt the trailing length */
    expect_records_then_error(&t, "tail.pcapng", 0, "block at offset 48: trailing length does not match");

    struct img big = { .be = false };
    ng_shb(&big);
    ng_idb(&big, CAP_LT_ETHERNET, -1);
    put32(&big, 6);                 /* enhanced packet block */
    put32(&big, 0x10000000);        /* block length 256 MiB: over LIM_MAX_BLOCK */
    expect_records_then_error(&big, "bigblock.pcapng", 0, "record 1: block length 268435456 is invalid");

    struct img cap = { .be = true };
    ng_shb(&cap);
    ng_idb(&cap, CAP_LT_ETHERNET, -1);
    ng_epb(&cap, 0, 1, "abcd", 4);
    cap.b[48 + 20] = 0x7f;          /* captured length high byte: far past the block */
    expect_records_then_error(&cap, "caplen.pcapng", 0, "record 1: length 2130706436 exceeds 262144");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_pcapfile.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_pcap_le_usec);
    RUN(test_pcap_be_nsec_and_frame_numbering);
    RUN(test_pcapng_multi_interface_sections);
    RUN(test_not_a_capture);
    RUN(test_pcap_record_cut_off);
    RUN(test_pcap_hostile_caplen);
    RUN(test_pcapng_damaged_blocks);
    for (size_t i = 0; i < n_made; i++)
        unlink(made[i]);
    if (rmdir(tmpdir) != 0)
        perror(tmpdir);
    return check_summary();
}
