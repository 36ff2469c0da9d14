/* pcapfile.c: streaming pcap and pcapng reader that treats every header as hostile input.
 *
 * Formats: pcap (draft-ietf-opsawg-pcap) in both byte orders with the
 * microsecond (a1b2c3d4), nanosecond (a1b23c4d) and Kuznetzov (a1b2cd34)
 * magics, read here; pcapng in pcapng.c.  The bytes come through
 * filebuf.c: read(2) into one READ_BUF buffer, reused, or decompressed into
 * it (gzip, zstd, xz), and a record is handed out where it lies in that
 * buffer (no copy per record); the file is never loaded whole.  Decisions
 * on damaged record headers:
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
 * no seek).  */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcapfile_int.h"
#include "source.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_MAGIC_KUZ 0xa1b2cd34u   /* Kuznetzov's patched libpcap: 24-byte records */
#define PCAP_FILE_HDR 24u
#define PCAP_REC_HDR 16u
#define PCAP_KUZ_REC_HDR 24u

static void set_err(char *errbuf, size_t errlen, const char *msg)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s", msg);
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
    size_t got = fb_read_full(&f->buf, hdr, f->rec_hdr_len, &ioerr);
    if (got == 0 && !ioerr)
        return 0;
    if (got < f->rec_hdr_len) {
        if (ioerr)
            snprintf(msg, sizeof msg, "record %" PRIu64 ": %s", recno, f->buf.in_errmsg);
        else
            snprintf(msg, sizeof msg, "record %" PRIu64 ": cut off (file ends inside a record header)", recno);
        return pcapfile_fail(f, errbuf, errlen, msg);
    }
    struct rd r = rd_make(hdr, f->rec_hdr_len);
    uint32_t sec = get32(&r, f->be);
    uint32_t frac = get32(&r, f->be);
    uint32_t caplen = get32(&r, f->be);
    uint32_t wirelen = get32(&r, f->be);
    if (caplen > LIM_MAX_RECORD) {
        snprintf(msg, sizeof msg, "record %" PRIu64 ": length %" PRIu32 " exceeds %u",
                 recno, caplen, LIM_MAX_RECORD);
        return pcapfile_fail(f, errbuf, errlen, msg);
    }
    const uint8_t *data;
    if (fb_take(&f->buf, caplen, &data, &ioerr) < caplen) {
        if (ioerr)
            snprintf(msg, sizeof msg, "record %" PRIu64 ": %s", recno, f->buf.in_errmsg);
        else
            snprintf(msg, sizeof msg, "record %" PRIu64 ": cut off (file ends inside a packet)", recno);
        return pcapfile_fail(f, errbuf, errlen, msg);
    }
    /* 2^32-1 seconds in ns is below 2^63: no overflow. */
    rec->ts_ns = (int64_t)sec * NS_PER_SEC + (int64_t)frac * (f->nsec ? 1 : 1000);
    rec->linktype = f->linktype;
    rec->caplen = caplen;
    rec->wirelen = wirelen < caplen ? caplen : wirelen;
    rec->data = data;
    return 1;
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
    const char *codec = fb_codec_name(&f->buf);
    if (codec && !f->buf.in_errno)
        snprintf(errbuf, errlen, "%s (after %s decompression)", what, codec);
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
    if (!f) {
        close(fd);
        set_err(errbuf, errlen, "out of memory");
        return NULL;
    }
    f->next_frame = 1;
    if (fb_open(&f->buf, fd, errbuf, errlen) < 0)
        goto bad;

    uint8_t hdr[PCAP_FILE_HDR];
    bool ioerr;
    size_t got = fb_read_full(&f->buf, hdr, 4, &ioerr);
    if (got < 4) {
        open_err(f, errbuf, errlen, ioerr ? f->buf.in_errmsg : got == 0 ? "file is empty" : "not a pcap or pcapng file");
        goto bad;
    }
    struct rd r = rd_make(hdr, 4);
    uint32_t magic = rd_le32(&r);
    uint32_t swapped = (magic >> 24) | (magic >> 8 & 0xff00u) | (magic << 8 & 0xff0000u) | magic << 24;
    if (magic == NG_SHB) {
        /* Hand the magic back (it is still at the start of the buffer) so
         * pcapng_next reads the section header like any other; pipes need no seek. */
        fb_unread(&f->buf, 4);
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
    if (fb_read_full(&f->buf, hdr + 4, PCAP_FILE_HDR - 4, &ioerr) < PCAP_FILE_HDR - 4) {
        open_err(f, errbuf, errlen, ioerr ? f->buf.in_errmsg : "cut off (file ends inside the pcap file header)");
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
    int rc = f->fmt == FMT_PCAP ? pcap_next(f, rec, errbuf, errlen) : pcapng_next(f, rec, errbuf, errlen);
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
    return fb_position(&f->buf);
}

void cap_file_close(struct cap_file *f)
{
    if (!f)
        return;
    for (unsigned i = 0; i < f->n_comments; i++)
        free(f->comments[i]);
    fb_close(&f->buf);
    free(f);
}

/* ---- as a record source (source.h) ---------------------------------------- */

static enum cap_source_status file_source_next(void *impl, struct cap_record *rec, char *errbuf, size_t errlen)
{
    int rc = cap_file_next(impl, rec, errbuf, errlen);
    return rc == 1 ? CAP_SOURCE_RECORD : rc == 0 ? CAP_SOURCE_END : CAP_SOURCE_ERROR;
}

static int file_source_fd(const void *impl)
{
    (void)impl;
    return -1;
}

static void file_source_stats(void *impl, struct cap_source_stats *out)
{
    const struct cap_file *f = impl;
    *out = (struct cap_source_stats){ .records = f->records, .position = fb_position(&f->buf) };
}

static void file_source_close(void *impl)
{
    cap_file_close(impl);
}

struct cap_source cap_file_source(struct cap_file *f)
{
    static const struct cap_source_ops ops = {
        file_source_next, file_source_fd, file_source_stats, file_source_close,
    };
    return (struct cap_source){ .ops = &ops, .impl = f };
}
