/* pcapfile.c: streaming pcap and pcapng reader that treats every header as hostile input.
 *
 * Formats: pcap (draft-ietf-opsawg-pcap) in both byte orders with the
 * microsecond (a1b2c3d4), nanosecond (a1b23c4d) and Kuznetzov (a1b2cd34)
 * magics; pcapng (draft-ietf-opsawg-pcapng) with any number of sections in
 * either byte order, interfaces of different link types, if_tsresol and
 * if_tsoffset, and the EPB, SPB and obsolete PB packet blocks.
 *
 * The file is read with read(2) into one READ_BUF buffer, reused, and a
 * record is handed out where it lies in that buffer (no copy per record);
 * the file is never loaded whole.  Decisions on damaged
 * record headers:
 *   - caplen above LIM_MAX_RECORD is a damaged file (libpcap's own cap);
 *   - caplen above the header's snaplen but within LIM_MAX_RECORD is kept:
 *     writers get snaplen wrong (0, or smaller than what they wrote);
 *   - caplen above wirelen is kept and wirelen is raised to caplen, so a
 *     record always satisfies caplen <= wirelen;
 *   - a timestamp fraction out of range (>= 1 s) is carried into the
 *     seconds rather than rejected; a Simple Packet Block has no timestamp
 *     and gets ts_ns 0;
 *   - the first damaged record ends the file: cap_file_next returns -1 now
 *     and on every later call, with the same message.
 *
 * Sources: a path, or "-" for standard input (read as a stream: pipes need
 * no seek).  A gzip, zstd or xz stream (told by its magic bytes, never by
 * the name) is decompressed on the fly into the same input buffer, so the
 * readers above never know; concatenated streams are read on.  A stream cut
 * short, corrupt, or decompressing to more than LIM_INFLATE_RATIO times its
 * size is a read error, never a clean end (a cut at a record boundary must
 * not look like a whole file).  */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "capture.h"
#include "rd.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_MAGIC_KUZ 0xa1b2cd34u   /* Kuznetzov's patched libpcap: 24-byte records */
#define PCAP_FILE_HDR 24u
#define PCAP_REC_HDR 16u
#define PCAP_KUZ_REC_HDR 24u

#define NG_SHB 0x0A0D0D0Au
#define NG_IDB 1u
#define NG_PB 2u                      /* obsolete Packet Block */
#define NG_SPB 3u
#define NG_EPB 6u
#define NG_DSB 10u                    /* Decryption Secrets Block */
#define NG_DSB_TLS_KEYLOG 0x544c534bu /* 'TLSK': an NSS key log */
#define NG_BOM 0x1A2B3C4Du
#define NG_BLOCK_MIN 12u              /* type, length, trailing length */
#define NG_OPT_ENDOFOPT 0u
#define NG_OPT_COMMENT 1u
#define NG_OPT_IF_TSRESOL 9u
#define NG_OPT_IF_TSOFFSET 14u

#define NS_PER_SEC 1000000000ll

/* Input buffer: any block up to LIM_MAX_BLOCK fits whole so it can be
 * handed out in place.  It is refilled READ_CHUNK bytes at a time: few
 * syscalls, yet what the kernel copies in is still in the CPU's cache when
 * the decoder reads it (1 MiB reads left it to be fetched again).  */
#define READ_BUF (1u << 20)
#define READ_CHUNK (64u << 10)
_Static_assert(READ_BUF >= LIM_MAX_BLOCK, "a whole block must fit in the input buffer");

/* Compressed input read ahead, before decompression.  */
#define ZIN_BUF (64u << 10)
/* Longest magic looked for: xz's six bytes.  */
#define MAGIC_PEEK 6u

enum cap_format { FMT_PCAP, FMT_PCAPNG };
enum cap_codec { CODEC_NONE, CODEC_GZIP, CODEC_ZSTD, CODEC_XZ };

struct ng_iface {
    uint32_t linktype;
    uint32_t snaplen;
    uint8_t tsresol;            /* raw if_tsresol byte; 6 (microseconds) by default */
    int64_t tsoffset;           /* seconds added to every timestamp */
};

struct cap_file {
    int fd;
    enum cap_format fmt;
    bool be;                    /* file (pcap) or current section (pcapng) is big-endian */
    bool failed;                /* a damaged record was seen: every later call fails */
    char err[160];              /* the message of that failure */

    /* pcap */
    bool nsec;
    uint32_t rec_hdr_len;
    uint32_t linktype;
    uint32_t snaplen;

    /* pcapng: interfaces of the current section */
    struct ng_iface ifaces[LIM_MAX_INTERFACES];
    uint32_t n_ifaces;

    char *comments[LIM_FILE_COMMENTS];  /* pcapng section comments, in order */
    unsigned n_comments;
    struct cap_keylog *keylog;  /* where Decryption Secrets Blocks go, or NULL */

    uint8_t *in;                /* READ_BUF bytes read ahead; */
    size_t in_pos, in_end;      /* in[in_pos, in_end) are not consumed yet */
    bool in_eof;                /* read(2) returned 0 */
    int in_errno;               /* reading failed with this; 0: no error */
    char in_errmsg[128];        /* and this says how, errno text kept */

    /* compressed source (codec != CODEC_NONE); zin also holds the bytes
     * read to look for a magic, which a plain file gets back first */
    enum cap_codec codec;
    uint8_t *zin;               /* ZIN_BUF bytes of raw input */
    size_t zin_pos, zin_end;
    bool zin_eof;               /* read(2) on the source returned 0 */
    bool z_ended;               /* the last stream ended cleanly (at a frame end) */
    bool z_ready;               /* decoder state initialised: must be freed */
    uint64_t z_in_total, z_out_total;
    z_stream gz;
    ZSTD_DStream *zs;
    lzma_stream xz;
    uint64_t offset;            /* file offset of the next unread byte */
    uint64_t records;           /* packet records returned from this file */
    uint64_t next_frame;
};

static void set_err(char *errbuf, size_t errlen, const char *msg)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s", msg);
}

/* Records a damaged-file error: kept in f->err and copied to errbuf.  */
static int fail(struct cap_file *f, char *errbuf, size_t errlen, const char *msg)
{
    f->failed = true;
    snprintf(f->err, sizeof f->err, "%s", msg);
    set_err(errbuf, errlen, f->err);
    return -1;
}

static uint16_t get16(struct rd *r, bool be)
{
    return be ? rd_be16(r) : rd_le16(r);
}

static uint32_t get32(struct rd *r, bool be)
{
    return be ? rd_be32(r) : rd_le32(r);
}

/* ---- source: plain or decompressed bytes -------------------------------- */

static const char *const codec_name[] = { "", "gzip", "zstd", "xz" };

/* Records a read failure: errno e and one line saying what happened.  */
static void src_fail(struct cap_file *f, int e, const char *what)
{
    f->in_errno = e ? e : EIO;
    if (f->codec != CODEC_NONE)
        snprintf(f->in_errmsg, sizeof f->in_errmsg, "%s: %s", codec_name[f->codec], what);
    else
        snprintf(f->in_errmsg, sizeof f->in_errmsg, "read error: %s", what);
}

/* read(2) of the raw source into zin, when it is empty; false at the end
 * of the source or on an error (then in_errno is set).  */
static bool zin_refill(struct cap_file *f)
{
    if (f->zin_pos < f->zin_end)
        return true;
    f->zin_pos = f->zin_end = 0;
    while (!f->zin_eof) {
        ssize_t got = read(f->fd, f->zin, ZIN_BUF);
        if (got > 0) {
            f->zin_end = (size_t)got;
            f->z_in_total += (uint64_t)got;
            return true;
        }
        if (got == 0)
            f->zin_eof = true;
        else if (errno != EINTR) {
            int e = errno;
            src_fail(f, e, strerror(e));
            return false;
        }
    }
    return false;
}

/* One decoder step from zin into dst[0, room); returns the bytes made, or
 * -1 after src_fail.  Sets z_ended when a stream (or frame) ended here.  */
static ssize_t z_step(struct cap_file *f, uint8_t *dst, size_t room)
{
    const uint8_t *in = f->zin + f->zin_pos;
    size_t avail = f->zin_end - f->zin_pos;
    size_t used = 0, made = 0;
    switch (f->codec) {
    case CODEC_GZIP: {
        if (f->z_ended) {
            /* Another gzip member follows (as `cat a.gz b.gz` makes). */
            if (inflateReset(&f->gz) != Z_OK) {
                src_fail(f, EIO, "cannot restart the decoder");
                return -1;
            }
        }
        f->gz.next_in = (Bytef *)(uintptr_t)in;
        f->gz.avail_in = (uInt)avail;
        f->gz.next_out = dst;
        f->gz.avail_out = (uInt)room;
        int zr = inflate(&f->gz, Z_NO_FLUSH);
        used = avail - f->gz.avail_in;
        made = room - f->gz.avail_out;
        if (zr == Z_STREAM_END)
            f->z_ended = true;
        else if (zr == Z_OK || zr == Z_BUF_ERROR)
            f->z_ended = false;
        else {
            src_fail(f, EIO, zr == Z_MEM_ERROR ? "out of memory"
                             : f->gz.msg ? f->gz.msg : "corrupt data");
            return -1;
        }
        break;
    }
    case CODEC_ZSTD: {
        ZSTD_inBuffer ib = { in, avail, 0 };
        ZSTD_outBuffer ob = { dst, room, 0 };
        size_t zr = ZSTD_decompressStream(f->zs, &ob, &ib);
        if (ZSTD_isError(zr)) {
            src_fail(f, EIO, ZSTD_getErrorName(zr));
            return -1;
        }
        used = ib.pos;
        made = ob.pos;
        f->z_ended = zr == 0;   /* a frame is complete and flushed */
        break;
    }
    case CODEC_XZ: {
        f->xz.next_in = in;
        f->xz.avail_in = avail;
        f->xz.next_out = dst;
        f->xz.avail_out = room;
        lzma_ret lr = lzma_code(&f->xz, f->zin_eof && avail == 0 ? LZMA_FINISH : LZMA_RUN);
        used = avail - f->xz.avail_in;
        made = room - f->xz.avail_out;
        if (lr == LZMA_STREAM_END)
            f->z_ended = true;
        else if (lr == LZMA_MEMLIMIT_ERROR) {
            src_fail(f, EIO, "the stream needs more memory than the bound in capture/limits.h");
            return -1;
        } else if (lr != LZMA_OK && !(lr == LZMA_BUF_ERROR && made == 0 && !f->zin_eof)) {
            src_fail(f, EIO, lr == LZMA_BUF_ERROR ? "cut off (compressed data ends early)"
                             : lr == LZMA_FORMAT_ERROR ? "not an xz stream"
                             : lr == LZMA_MEM_ERROR ? "out of memory" : "corrupt data");
            return -1;
        }
        break;
    }
    case CODEC_NONE:
        break;
    }
    if (avail > 0 && used == 0 && made == 0 && !f->z_ended) {
        /* No decoder may stall with input and room: never loop on it. */
        src_fail(f, EIO, "corrupt data (the decoder made no progress)");
        return -1;
    }
    f->zin_pos += used;
    return (ssize_t)made;
}

/* Up to room decompressed bytes into dst; 0 at a clean end of the data,
 * or on an error (in_errno set).  */
static size_t z_read(struct cap_file *f, uint8_t *dst, size_t room)
{
    for (;;) {
        bool more = zin_refill(f);
        if (f->in_errno)
            return 0;
        if (!more) {
            if (f->codec == CODEC_XZ && !f->z_ended) {
                /* LZMA_FINISH on no input: the decoder says whether the
                 * stream was whole. */
                ssize_t made = z_step(f, dst, room);
                if (made < 0)
                    return 0;
                if (made > 0)
                    return (size_t)made;
            }
            if (!f->z_ended) {
                src_fail(f, EIO, f->z_out_total == 0 && f->z_in_total <= MAGIC_PEEK
                                 ? "cut off (no compressed data after the magic)"
                                 : "cut off (compressed data ends early)");
                return 0;
            }
            return 0;
        }
        ssize_t made = z_step(f, dst, room);
        if (made < 0)
            return 0;
        if (made == 0)
            continue;   /* the decoder took input without output yet */
        f->z_out_total += (uint64_t)made;
        if (f->z_out_total > LIM_INFLATE_FREE && f->z_out_total / LIM_INFLATE_RATIO > f->z_in_total) {
            char msg[128];
            snprintf(msg, sizeof msg, "decompresses to more than %u times its size (a decompression bomb?)",
                     LIM_INFLATE_RATIO);
            src_fail(f, EFBIG, msg);
            return 0;
        }
        return (size_t)made;
    }
}

/* Up to room bytes of the capture itself into dst: 0 at its end or on an
 * error (in_errno set).  */
static size_t src_read(struct cap_file *f, uint8_t *dst, size_t room)
{
    if (f->codec != CODEC_NONE)
        return z_read(f, dst, room);
    if (f->zin_pos < f->zin_end) {      /* the bytes read to look for a magic */
        size_t n = f->zin_end - f->zin_pos;
        if (n > room)
            n = room;
        memcpy(dst, f->zin + f->zin_pos, n);
        f->zin_pos += n;
        return n;
    }
    for (;;) {
        ssize_t got = read(f->fd, dst, room);
        if (got >= 0)
            return (size_t)got;
        if (errno != EINTR) {
            int e = errno;
            src_fail(f, e, strerror(e));
            return 0;
        }
    }
}

/* Reads the first bytes of the source and chooses the codec by magic.
 * Returns 0, or -1 with errbuf filled.  */
static int src_open(struct cap_file *f, char *errbuf, size_t errlen)
{
    f->zin = malloc(ZIN_BUF);
    if (!f->zin) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    while (f->zin_end < MAGIC_PEEK && !f->zin_eof) {
        ssize_t got = read(f->fd, f->zin + f->zin_end, MAGIC_PEEK - f->zin_end);
        if (got > 0)
            f->zin_end += (size_t)got;
        else if (got == 0)
            f->zin_eof = true;
        else if (errno != EINTR) {
            snprintf(errbuf, errlen, "%s", strerror(errno));
            return -1;
        }
    }
    f->z_in_total = f->zin_end;
    const uint8_t *m = f->zin;
    size_t n = f->zin_end;
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
        f->codec = CODEC_GZIP;
    else if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
        f->codec = CODEC_ZSTD;
    else if (n >= 6 && memcmp(m, "\xfd" "7zXZ\0", 6) == 0)
        f->codec = CODEC_XZ;
    else
        return 0;
    bool ok = false;
    switch (f->codec) {
    case CODEC_GZIP:
        /* 15 + 16: a 32 KiB window, gzip header and trailer checked. */
        ok = inflateInit2(&f->gz, 15 + 16) == Z_OK;
        break;
    case CODEC_ZSTD:
        f->zs = ZSTD_createDStream();
        ok = f->zs && !ZSTD_isError(ZSTD_initDStream(f->zs)) &&
             !ZSTD_isError(ZSTD_DCtx_setParameter(f->zs, ZSTD_d_windowLogMax, LIM_INFLATE_WINDOW_LOG));
        break;
    case CODEC_XZ: {
        lzma_stream init = LZMA_STREAM_INIT;
        f->xz = init;
        ok = lzma_stream_decoder(&f->xz, (uint64_t)1 << LIM_INFLATE_WINDOW_LOG, LZMA_CONCATENATED) == LZMA_OK;
        break;
    }
    case CODEC_NONE:
        break;
    }
    f->z_ready = true;
    if (!ok) {
        snprintf(errbuf, errlen, "%s: cannot start the decoder", codec_name[f->codec]);
        return -1;
    }
    return 0;
}

static void src_close(struct cap_file *f)
{
    if (f->z_ready) {
        if (f->codec == CODEC_GZIP)
            inflateEnd(&f->gz);
        else if (f->codec == CODEC_ZSTD)
            ZSTD_freeDStream(f->zs);
        else if (f->codec == CODEC_XZ)
            lzma_end(&f->xz);
    }
    free(f->zin);
}

/* Makes n bytes (at most READ_BUF) contiguous from in + in_pos, reading
 * on as needed; returns how many are there, fewer than n only at the end
 * of the file or after a read error.  Moves the unconsumed bytes to the
 * front, so pointers into the buffer die here.  */
static size_t fill(struct cap_file *f, size_t n)
{
    size_t have = f->in_end - f->in_pos;
    if (have >= n)
        return n;
    memmove(f->in, f->in + f->in_pos, have);
    f->in_pos = 0;
    f->in_end = have;
    while (f->in_end < n && !f->in_eof && !f->in_errno) {
        size_t room = READ_BUF - f->in_end;
        size_t got = src_read(f, f->in + f->in_end, room < READ_CHUNK ? room : READ_CHUNK);
        if (got > 0)
            f->in_end += got;
        else if (!f->in_errno)
            f->in_eof = true;
    }
    return f->in_end < n ? f->in_end : n;
}

/* Consumes up to n bytes (at most READ_BUF); *at points at them in the
 * input buffer, valid until the next read.  Returns n, or how many were
 * read before the end of the file; *ioerr is set on a read error.  */
static size_t take(struct cap_file *f, size_t n, const uint8_t **at, bool *ioerr)
{
    size_t got = fill(f, n);
    *at = f->in + f->in_pos;
    f->in_pos += got;
    f->offset += got;
    *ioerr = got < n && f->in_errno;
    return got;
}

/* take() into a caller's buffer, for headers read in several steps. */
static size_t read_full(struct cap_file *f, uint8_t *dst, size_t n, bool *ioerr)
{
    const uint8_t *at;
    size_t got = take(f, n, &at, ioerr);
    memcpy(dst, at, got);
    return got;
}

/* ---- timestamps ----------------------------------------------------------- */

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* Converts a pcapng timestamp in units of the interface's if_tsresol to
 * nanoseconds, saturating: the high bit chooses 2^-n, else 10^-n
 * (pcapng section 4.2, if_tsresol).  */
static int64_t ng_ts_to_ns(uint64_t ts, uint8_t tsresol)
{
    unsigned n = tsresol & 0x7f;
    if (tsresol & 0x80) {
        if (n > 32) {   /* keep 32 fraction bits: frac * 1e9 stays below 2^62 */
            ts = n - 32 >= 64 ? 0 : ts >> (n - 32);
            n = 32;
        }
        uint64_t sec = ts >> n;
        uint64_t frac = ts & ((UINT64_C(1) << n) - 1);
        if (sec > (uint64_t)(INT64_MAX / NS_PER_SEC) - 1)
            return INT64_MAX;
        return (int64_t)(sec * NS_PER_SEC + ((frac * NS_PER_SEC) >> n));
    }
    if (n <= 9) {
        uint64_t mul = 1;
        for (unsigned i = n; i < 9; i++)
            mul *= 10;
        if (ts > (uint64_t)INT64_MAX / mul)
            return INT64_MAX;
        return (int64_t)(ts * mul);
    }
    if (n - 9 > 19)     /* 10^20 exceeds any 64-bit count */
        return 0;
    uint64_t div = 1;
    for (unsigned i = 9; i < n; i++)
        div *= 10;
    return (int64_t)(ts / div);
}

/* ---- pcap ----------------------------------------------------------------- */

static int pcap_open(struct cap_file *f, const uint8_t *hdr, char *errbuf, size_t errlen)
{
    struct rd r = rd_make(hdr, PCAP_FILE_HDR);
    rd_skip(&r, 4);             /* magic, already read */
    uint16_t major = get16(&r, f->be);
    rd_skip(&r, 2 + 4 + 4);     /* minor version, thiszone, sigfigs */
    f->snaplen = get32(&r, f->be);
    /* The upper bits of LinkType carry FCS information (pcap draft 4). */
    f->linktype = get32(&r, f->be) & 0xffffu;
    if (major != 2) {
        char msg[80];
        snprintf(msg, sizeof msg, "pcap version %u is not supported", major);
        set_err(errbuf, errlen, msg);
        return -1;
    }
    return 0;
}

static int pcap_next(struct cap_file *f, struct cap_record *rec, char *errbuf, size_t errlen)
{
    uint8_t hdr[PCAP_KUZ_REC_HDR];
    char msg[160];
    bool ioerr;
    uint64_t recno = f->records + 1;
    size_t got = read_full(f, hdr, f->rec_hdr_len, &ioerr);
    if (got == 0 && !ioerr)
        return 0;
    if (got < f->rec_hdr_len) {
        if (ioerr)
            snprintf(msg, sizeof msg, "record %" PRIu64 ": %s", recno, f->in_errmsg);
        else
            snprintf(msg, sizeof msg, "record %" PRIu64 ": cut off (file ends inside a record header)", recno);
        return fail(f, errbuf, errlen, msg);
    }
    struct rd r = rd_make(hdr, f->rec_hdr_len);
    uint32_t sec = get32(&r, f->be);
    uint32_t frac = get32(&r, f->be);
    uint32_t caplen = get32(&r, f->be);
    uint32_t wirelen = get32(&r, f->be);
    if (caplen > LIM_MAX_RECORD) {
        snprintf(msg, sizeof msg, "record %" PRIu64 ": length %" PRIu32 " exceeds %u",
                 recno, caplen, LIM_MAX_RECORD);
        return fail(f, errbuf, errlen, msg);
    }
    const uint8_t *data;
    if (take(f, caplen, &data, &ioerr) < caplen) {
        if (ioerr)
            snprintf(msg, sizeof msg, "record %" PRIu64 ": %s", recno, f->in_errmsg);
        else
            snprintf(msg, sizeof msg, "record %" PRIu64 ": cut off (file ends inside a packet)", recno);
        return fail(f, errbuf, errlen, msg);
    }
    /* 2^32-1 seconds in ns is below 2^63: no overflow. */
    rec->ts_ns = (int64_t)sec * NS_PER_SEC + (int64_t)frac * (f->nsec ? 1 : 1000);
    rec->linktype = f->linktype;
    rec->caplen = caplen;
    rec->wirelen = wirelen < caplen ? caplen : wirelen;
    rec->data = data;
    return 1;
}

/* ---- pcapng --------------------------------------------------------------- */

/* Next option of a block's option list: code, length, value padded to 32
 * bits (pcapng 3.5).  False at opt_endofopt, at the end of the list, or
 * when the list is damaged: the caller keeps what it had.  */
static bool ng_next_option(const struct cap_file *f, struct rd *body, uint16_t *code, struct rd *val)
{
    if (rd_left(body) < 4)
        return false;
    *code = get16(body, f->be);
    uint16_t len = get16(body, f->be);
    *val = rd_sub(body, len);
    rd_skip(body, (4 - (len & 3)) & 3);
    return !body->bad && *code != NG_OPT_ENDOFOPT;
}

/* Parses a Section Header Block body (after the byte-order magic). */
static int ng_shb(struct cap_file *f, struct rd *body, char *msg, size_t msglen)
{
    uint16_t major = get16(body, f->be);
    if (body->bad) {
        snprintf(msg, msglen, "section header at offset %" PRIu64 " is too short", f->offset);
        return -1;
    }
    if (major != 1) {
        snprintf(msg, msglen, "pcapng version %u is not supported", major);
        return -1;
    }
    f->n_ifaces = 0;    /* interfaces are numbered per section (pcapng 4.2) */
    rd_skip(body, 2 + 8);   /* minor version, section length */
    /* opt_comment values are kept (the prober's facts travel there). */
    uint16_t code;
    struct rd val;
    while (ng_next_option(f, body, &code, &val)) {
        size_t len = rd_left(&val);
        if (code != NG_OPT_COMMENT || f->n_comments >= LIM_FILE_COMMENTS)
            continue;
        size_t n = len < LIM_FILE_COMMENT ? len : LIM_FILE_COMMENT;
        char *c = strndup((const char *)val.p, n);
        if (c)
            f->comments[f->n_comments++] = c;
    }
    return 0;
}

/* Parses an Interface Description Block body. */
static int ng_idb(struct cap_file *f, struct rd *body, uint64_t at, char *msg, size_t msglen)
{
    if (f->n_ifaces >= LIM_MAX_INTERFACES) {
        snprintf(msg, msglen, "block at offset %" PRIu64 ": more than %u interfaces", at,
                 LIM_MAX_INTERFACES);
        return -1;
    }
    struct ng_iface ifc = { 0, 0, 6, 0 };
    ifc.linktype = get16(body, f->be);
    rd_skip(body, 2);
    ifc.snaplen = get32(body, f->be);
    if (body->bad) {
        snprintf(msg, msglen, "block at offset %" PRIu64 ": interface description too short", at);
        return -1;
    }
    /* A damaged option list keeps the defaults rather than failing the file. */
    uint16_t code;
    struct rd val;
    while (ng_next_option(f, body, &code, &val)) {
        size_t len = rd_left(&val);
        if (code == NG_OPT_IF_TSRESOL && len == 1)
            ifc.tsresol = rd_u8(&val);
        else if (code == NG_OPT_IF_TSOFFSET && len == 8) {
            uint64_t first = get32(&val, f->be);
            uint64_t second = get32(&val, f->be);
            ifc.tsoffset = (int64_t)(f->be ? first << 32 | second : second << 32 | first);
        }
    }
    f->ifaces[f->n_ifaces++] = ifc;
    return 0;
}

/* Fills rec from a packet block body; returns 1, or -1 with msg. */
static int ng_packet(struct cap_file *f, uint32_t type, struct rd *body, uint64_t recno,
                     struct cap_record *rec, char *msg, size_t msglen)
{
    uint32_t ifid = 0, caplen, wirelen;
    uint64_t ts = 0;
    bool has_ts = true;
    if (type == NG_SPB) {
        /* Simple Packet Block (pcapng 4.4): interface 0, no timestamp,
         * captured length implied by the block length and the snaplen. */
        wirelen = get32(body, f->be);
        caplen = (uint32_t)rd_left(body);
        if (caplen > wirelen)
            caplen = wirelen;
        if (f->n_ifaces && f->ifaces[0].snaplen && caplen > f->ifaces[0].snaplen)
            caplen = f->ifaces[0].snaplen;
        has_ts = false;
    } else {
        if (type == NG_PB) {
            ifid = get16(body, f->be);
            rd_skip(body, 2);   /* drops count */
        } else {
            ifid = get32(body, f->be);
        }
        uint32_t hi = get32(body, f->be);
        uint32_t lo = get32(body, f->be);
        ts = (uint64_t)hi << 32 | lo;
        caplen = get32(body, f->be);
        wirelen = get32(body, f->be);
    }
    if (body->bad) {
        snprintf(msg, msglen, "record %" PRIu64 ": packet block too short", recno);
        return -1;
    }
    if (ifid >= f->n_ifaces) {
        snprintf(msg, msglen, "record %" PRIu64 ": interface %" PRIu32 " was not described", recno, ifid);
        return -1;
    }
    if (caplen > LIM_MAX_RECORD) {
        snprintf(msg, msglen, "record %" PRIu64 ": length %" PRIu32 " exceeds %u", recno, caplen,
                 LIM_MAX_RECORD);
        return -1;
    }
    const uint8_t *data = rd_bytes(body, caplen);
    if (!data) {
        snprintf(msg, msglen, "record %" PRIu64 ": length %" PRIu32 " overruns its block", recno, caplen);
        return -1;
    }
    const struct ng_iface *ifc = &f->ifaces[ifid];
    rec->ts_ns = has_ts ? sat_add(ng_ts_to_ns(ts, ifc->tsresol),
                                  ifc->tsoffset > INT64_MAX / NS_PER_SEC ? INT64_MAX
                                  : ifc->tsoffset < INT64_MIN / NS_PER_SEC ? INT64_MIN
                                  : ifc->tsoffset * NS_PER_SEC)
                        : 0;
    rec->linktype = ifc->linktype;
    rec->caplen = caplen;
    rec->wirelen = wirelen < caplen ? caplen : wirelen;
    rec->data = data;
    return 1;
}

static int ng_next(struct cap_file *f, struct cap_record *rec, char *errbuf, size_t errlen)
{
    char msg[160];
    for (;;) {
        uint8_t hdr[12];
        bool ioerr;
        uint64_t at = f->offset;
        size_t got = read_full(f, hdr, 8, &ioerr);
        if (got == 0 && !ioerr)
            return 0;
        if (got < 8) {
            snprintf(msg, sizeof msg, "block at offset %" PRIu64 ": %s", at,
                     ioerr ? f->in_errmsg : "cut off (file ends inside a block header)");
            return fail(f, errbuf, errlen, msg);
        }
        struct rd r = rd_make(hdr, 12);
        uint32_t type = get32(&r, f->be);
        uint32_t len;
        size_t have = 8;
        if (type == NG_SHB) {
            /* The byte-order magic tells how to read this section,
             * including this block's own length (pcapng 4.1). */
            if (read_full(f, hdr + 8, 4, &ioerr) < 4) {
                snprintf(msg, sizeof msg, "block at offset %" PRIu64 ": %s", at,
                         ioerr ? f->in_errmsg : "cut off (file ends inside a section header)");
                return fail(f, errbuf, errlen, msg);
            }
            struct rd b = rd_make(hdr + 8, 4);
            uint32_t bom = rd_be32(&b);
            if (bom == NG_BOM)
                f->be = true;
            else if (bom == 0x4D3C2B1Au)
                f->be = false;
            else {
                snprintf(msg, sizeof msg, "block at offset %" PRIu64 ": bad byte-order magic in section header", at);
                return fail(f, errbuf, errlen, msg);
            }
            r = rd_make(hdr + 4, 4);
            have = 12;
        }
        len = get32(&r, f->be);
        bool is_pkt = type == NG_EPB || type == NG_SPB || type == NG_PB;
        uint64_t recno = f->records + 1;
        if (len < NG_BLOCK_MIN || len < have + 4 || len % 4 || len > LIM_MAX_BLOCK) {
            if (is_pkt)
                snprintf(msg, sizeof msg, "record %" PRIu64 ": block length %" PRIu32 " is invalid", recno, len);
            else
                snprintf(msg, sizeof msg, "block at offset %" PRIu64 ": length %" PRIu32 " is invalid", at, len);
            return fail(f, errbuf, errlen, msg);
        }
        size_t rest = len - have;      /* body and trailing length */
        const uint8_t *block;
        if (take(f, rest, &block, &ioerr) < rest) {
            if (ioerr)
                snprintf(msg, sizeof msg, "block at offset %" PRIu64 ": %s", at, f->in_errmsg);
            else if (is_pkt)
                snprintf(msg, sizeof msg, "record %" PRIu64 ": cut off (file ends inside a packet)", recno);
            else
                snprintf(msg, sizeof msg, "block at offset %" PRIu64 ": cut off (file ends inside a block)", at);
            return fail(f, errbuf, errlen, msg);
        }
        struct rd tail = rd_make(block + rest - 4, 4);
        if (get32(&tail, f->be) != len) {
            snprintf(msg, sizeof msg, "block at offset %" PRIu64 ": trailing length does not match", at);
            return fail(f, errbuf, errlen, msg);
        }
        struct rd body = rd_make(block, rest - 4);
        int rc = 0;
        switch (type) {
        case NG_SHB:
            rc = ng_shb(f, &body, msg, sizeof msg);
            break;
        case NG_IDB:
            rc = ng_idb(f, &body, at, msg, sizeof msg);
            break;
        case NG_EPB:
        case NG_SPB:
        case NG_PB:
            rc = ng_packet(f, type, &body, recno, rec, msg, sizeof msg);
            break;
        case NG_DSB: {
            /* pcapng 4.7: secrets type, length, data (padded); a TLS key
             * log is what editcap --inject-secrets writes.  */
            uint32_t stype = get32(&body, f->be), slen = get32(&body, f->be);
            const uint8_t *sdata = rd_bytes(&body, slen);
            if (f->keylog && sdata && stype == NG_DSB_TLS_KEYLOG)
                cap_keylog_add(f->keylog, sdata, slen);
            break;
        }
        default:    /* statistics, name resolution, custom: not needed */
            break;
        }
        if (rc < 0)
            return fail(f, errbuf, errlen, msg);
        if (rc == 1)
            return 1;
    }
}

/* ---- public --------------------------------------------------------------- */

void cap_file_set_keylog(struct cap_file *f, struct cap_keylog *k)
{
    f->keylog = k;
}

/* The message for a failure to open or start reading: errno's text, and
 * for compressed input what it was compressed with.  */
static void open_err(const struct cap_file *f, char *errbuf, size_t errlen, const char *what)
{
    if (f->codec != CODEC_NONE && !f->in_errno)
        snprintf(errbuf, errlen, "%s (after %s decompression)", what, codec_name[f->codec]);
    else
        set_err(errbuf, errlen, what);
}

struct cap_file *cap_file_open(const char *path, char *errbuf, size_t errlen)
{
    /* The caller names the path: the message says only what went wrong. */
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? fcntl(0, F_DUPFD_CLOEXEC, 3) : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        set_err(errbuf, errlen, strerror(errno));
        return NULL;
    }
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (e) {
        set_err(errbuf, errlen, strerror(e));
        close(fd);
        return NULL;
    }
    if (isatty(fd)) {
        set_err(errbuf, errlen, "is a terminal, not a capture (pipe one in: tcpdump -w - | acrdiag analyze -)");
        close(fd);
        return NULL;
    }
    struct cap_file *f = calloc(1, sizeof *f);
    uint8_t *in = malloc(READ_BUF);
    if (!f || !in) {
        free(f);
        free(in);
        close(fd);
        set_err(errbuf, errlen, "out of memory");
        return NULL;
    }
    f->fd = fd;
    f->in = in;
    f->next_frame = 1;
    if (src_open(f, errbuf, errlen) < 0)
        goto bad;

    uint8_t hdr[PCAP_FILE_HDR];
    bool ioerr;
    size_t got = read_full(f, hdr, 4, &ioerr);
    if (got < 4) {
        open_err(f, errbuf, errlen, ioerr ? f->in_errmsg : got == 0 ? "file is empty" : "not a pcap or pcapng file");
        goto bad;
    }
    struct rd r = rd_make(hdr, 4);
    uint32_t magic = rd_le32(&r);
    uint32_t swapped = (magic >> 24) | (magic >> 8 & 0xff00u) | (magic << 8 & 0xff0000u) | magic << 24;
    if (magic == NG_SHB) {
        /* Hand the magic back (it is still at the start of the buffer) so
         * ng_next reads the section header like any other; pipes need no seek. */
        f->in_pos = 0;
        f->offset = 0;
        f->fmt = FMT_PCAPNG;
        return f;
    }
    uint32_t m = magic;
    if (swapped == PCAP_MAGIC_US || swapped == PCAP_MAGIC_NS || swapped == PCAP_MAGIC_KUZ) {
        f->be = true;
        m = swapped;
    } else if (magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS && magic != PCAP_MAGIC_KUZ) {
        open_err(f, errbuf, errlen, "not a pcap or pcapng file");
        goto bad;
    }
    if (read_full(f, hdr + 4, PCAP_FILE_HDR - 4, &ioerr) < PCAP_FILE_HDR - 4) {
        open_err(f, errbuf, errlen, ioerr ? f->in_errmsg : "cut off (file ends inside the pcap file header)");
        goto bad;
    }
    f->fmt = FMT_PCAP;
    f->nsec = m == PCAP_MAGIC_NS;
    f->rec_hdr_len = m == PCAP_MAGIC_KUZ ? PCAP_KUZ_REC_HDR : PCAP_REC_HDR;
    if (pcap_open(f, hdr, errbuf, errlen) < 0)
        goto bad;
    return f;
bad:
    cap_file_close(f);
    return NULL;
}

int cap_file_next(struct cap_file *f, struct cap_record *rec, char *errbuf, size_t errlen)
{
    if (f->failed) {
        set_err(errbuf, errlen, f->err);
        return -1;
    }
    int rc = f->fmt == FMT_PCAP ? pcap_next(f, rec, errbuf, errlen) : ng_next(f, rec, errbuf, errlen);
    if (rc == 1) {
        f->records++;
        rec->frame = f->next_frame++;
    }
    return rc;
}

void cap_file_set_next_frame(struct cap_file *f, uint64_t frame)
{
    f->next_frame = frame;
}

unsigned cap_file_comments(const struct cap_file *f, const char *const **out)
{
    *out = (const char *const *)f->comments;
    return f->n_comments;
}

uint64_t cap_file_position(const struct cap_file *f)
{
    return f->codec != CODEC_NONE ? f->z_in_total : f->offset;
}

void cap_file_close(struct cap_file *f)
{
    if (!f)
        return;
    for (unsigned i = 0; i < f->n_comments; i++)
        free(f->comments[i]);
    src_close(f);
    close(f->fd);
    free(f->in);
    free(f);
}
