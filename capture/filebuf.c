/* filebuf.c: a capture file's bytes into the readers' input buffer, by
 * read(2) or through a gzip, zstd or xz decoder.  A stream cut short,
 * corrupt, or decompressing to more than LIM_INFLATE_RATIO times its size
 * is a read error, never a clean end (a cut at a record boundary must not
 * look like a whole file); concatenated streams are read on.  */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "filebuf.h"

/* Compressed input read ahead, before decompression.  */
#define ZIN_BUF (64u << 10)
/* Longest magic looked for: xz's six bytes.  */
#define MAGIC_PEEK 6u

/* ---- source: plain or decompressed bytes -------------------------------- */

static const char *const codec_name[] = { "", "gzip", "zstd", "xz" };

/* Records a read failure: errno e and one line saying what happened.  */
static void src_fail(struct file_buf *b, int e, const char *what)
{
    b->in_errno = e ? e : EIO;
    if (b->codec != CODEC_NONE)
        snprintf(b->in_errmsg, sizeof b->in_errmsg, "%s: %s", codec_name[b->codec], what);
    else
        snprintf(b->in_errmsg, sizeof b->in_errmsg, "read error: %s", what);
}

/* read(2) of the raw source into zin, when it is empty; false at the end
 * of the source or on an error (then in_errno is set).  */
static bool zin_refill(struct file_buf *b)
{
    if (b->zin_pos < b->zin_end)
        return true;
    b->zin_pos = b->zin_end = 0;
    while (!b->zin_eof) {
        ssize_t got = read(b->fd, b->zin, ZIN_BUF);
        if (got > 0) {
            b->zin_end = (size_t)got;
            b->z_in_total += (uint64_t)got;
            return true;
        }
        if (got == 0)
            b->zin_eof = true;
        else if (errno != EINTR) {
            int e = errno;
            src_fail(b, e, strerror(e));
            return false;
        }
    }
    return false;
}

/* One decoder step from zin into dst[0, room); returns the bytes made, or
 * -1 after src_fail.  Sets z_ended when a stream (or frame) ended here.  */
static ssize_t z_step(struct file_buf *b, uint8_t *dst, size_t room)
{
    const uint8_t *in = b->zin + b->zin_pos;
    size_t avail = b->zin_end - b->zin_pos;
    size_t used = 0, made = 0;
    switch (b->codec) {
    case CODEC_GZIP: {
        if (b->z_ended) {
            /* Another gzip member follows (as `cat a.gz b.gz` makes). */
            if (inflateReset(&b->gz) != Z_OK) {
                src_fail(b, EIO, "cannot restart the decoder");
                return -1;
            }
        }
        b->gz.next_in = (Bytef *)(uintptr_t)in;
        b->gz.avail_in = (uInt)avail;
        b->gz.next_out = dst;
        b->gz.avail_out = (uInt)room;
        int zr = inflate(&b->gz, Z_NO_FLUSH);
        used = avail - b->gz.avail_in;
        made = room - b->gz.avail_out;
        if (zr == Z_STREAM_END)
            b->z_ended = true;
        else if (zr == Z_OK || zr == Z_BUF_ERROR)
            b->z_ended = false;
        else {
            src_fail(b, EIO, zr == Z_MEM_ERROR ? "out of memory"
                             : b->gz.msg ? b->gz.msg : "corrupt data");
            return -1;
        }
        break;
    }
    case CODEC_ZSTD: {
        ZSTD_inBuffer ib = { in, avail, 0 };
        ZSTD_outBuffer ob = { dst, room, 0 };
        size_t zr = ZSTD_decompressStream(b->zs, &ob, &ib);
        if (ZSTD_isError(zr)) {
            src_fail(b, EIO, ZSTD_getErrorName(zr));
            return -1;
        }
        used = ib.pos;
        made = ob.pos;
        b->z_ended = zr == 0;   /* a frame is complete and flushed */
        break;
    }
    case CODEC_XZ: {
        b->xz.next_in = in;
        b->xz.avail_in = avail;
        b->xz.next_out = dst;
        b->xz.avail_out = room;
        lzma_ret lr = lzma_code(&b->xz, b->zin_eof && avail == 0 ? LZMA_FINISH : LZMA_RUN);
        used = avail - b->xz.avail_in;
        made = room - b->xz.avail_out;
        if (lr == LZMA_STREAM_END)
            b->z_ended = true;
        else if (lr == LZMA_MEMLIMIT_ERROR) {
            src_fail(b, EIO, "the stream needs more memory than the bound in capture/limits.h");
            return -1;
        } else if (lr != LZMA_OK && !(lr == LZMA_BUF_ERROR && made == 0 && !b->zin_eof)) {
            src_fail(b, EIO, lr == LZMA_BUF_ERROR ? "cut off (compressed data ends early)"
                             : lr == LZMA_FORMAT_ERROR ? "not an xz stream"
                             : lr == LZMA_MEM_ERROR ? "out of memory" : "corrupt data");
            return -1;
        }
        break;
    }
    case CODEC_NONE:
        break;
    }
    if (avail > 0 && used == 0 && made == 0 && !b->z_ended) {
        /* No decoder may stall with input and room: never loop on it. */
        src_fail(b, EIO, "corrupt data (the decoder made no progress)");
        return -1;
    }
    b->zin_pos += used;
    return (ssize_t)made;
}

/* Up to room decompressed bytes into dst; 0 at a clean end of the data,
 * or on an error (in_errno set).  */
static size_t z_read(struct file_buf *b, uint8_t *dst, size_t room)
{
    for (;;) {
        bool more = zin_refill(b);
        if (b->in_errno)
            return 0;
        if (!more) {
            if (b->codec == CODEC_XZ && !b->z_ended) {
                /* LZMA_FINISH on no input: the decoder says whether the
                 * stream was whole. */
                ssize_t made = z_step(b, dst, room);
                if (made < 0)
                    return 0;
                if (made > 0)
                    return (size_t)made;
            }
            if (!b->z_ended) {
                src_fail(b, EIO, b->z_out_total == 0 && b->z_in_total <= MAGIC_PEEK
                                 ? "cut off (no compressed data after the magic)"
                                 : "cut off (compressed data ends early)");
                return 0;
            }
            return 0;
        }
        ssize_t made = z_step(b, dst, room);
        if (made < 0)
            return 0;
        if (made == 0)
            continue;   /* the decoder took input without output yet */
        b->z_out_total += (uint64_t)made;
        if (b->z_out_total > LIM_INFLATE_FREE && b->z_out_total / LIM_INFLATE_RATIO > b->z_in_total) {
            char msg[128];
            snprintf(msg, sizeof msg, "decompresses to more than %u times its size (a decompression bomb?)",
                     LIM_INFLATE_RATIO);
            src_fail(b, EFBIG, msg);
            return 0;
        }
        return (size_t)made;
    }
}

/* Up to room bytes of the capture itself into dst: 0 at its end or on an
 * error (in_errno set).  */
static size_t src_read(struct file_buf *b, uint8_t *dst, size_t room)
{
    if (b->codec != CODEC_NONE)
        return z_read(b, dst, room);
    if (b->zin_pos < b->zin_end) {      /* the bytes read to look for a magic */
        size_t n = b->zin_end - b->zin_pos;
        if (n > room)
            n = room;
        memcpy(dst, b->zin + b->zin_pos, n);
        b->zin_pos += n;
        return n;
    }
    for (;;) {
        ssize_t got = read(b->fd, dst, room);
        if (got >= 0)
            return (size_t)got;
        if (errno != EINTR) {
            int e = errno;
            src_fail(b, e, strerror(e));
            return 0;
        }
    }
}

int fb_open(struct file_buf *b, int fd, char *errbuf, size_t errlen)
{
    *b = (struct file_buf){ .fd = fd, .codec = CODEC_NONE };
    b->zin = malloc(ZIN_BUF);
    b->in = malloc(READ_BUF);
    if (!b->in || !b->zin) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    while (b->zin_end < MAGIC_PEEK && !b->zin_eof) {
        ssize_t got = read(b->fd, b->zin + b->zin_end, MAGIC_PEEK - b->zin_end);
        if (got > 0)
            b->zin_end += (size_t)got;
        else if (got == 0)
            b->zin_eof = true;
        else if (errno != EINTR) {
            snprintf(errbuf, errlen, "%s", strerror(errno));
            return -1;
        }
    }
    b->z_in_total = b->zin_end;
    const uint8_t *m = b->zin;
    size_t n = b->zin_end;
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
        b->codec = CODEC_GZIP;
    else if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
        b->codec = CODEC_ZSTD;
    else if (n >= 6 && memcmp(m, "\xfd" "7zXZ\0", 6) == 0)
        b->codec = CODEC_XZ;
    else
        return 0;
    bool ok = false;
    switch (b->codec) {
    case CODEC_GZIP:
        /* 15 + 16: a 32 KiB window, gzip header and trailer checked. */
        ok = inflateInit2(&b->gz, 15 + 16) == Z_OK;
        break;
    case CODEC_ZSTD:
        b->zs = ZSTD_createDStream();
        ok = b->zs && !ZSTD_isError(ZSTD_initDStream(b->zs)) &&
             !ZSTD_isError(ZSTD_DCtx_setParameter(b->zs, ZSTD_d_windowLogMax, LIM_INFLATE_WINDOW_LOG));
        break;
    case CODEC_XZ: {
        lzma_stream init = LZMA_STREAM_INIT;
        b->xz = init;
        ok = lzma_stream_decoder(&b->xz, (uint64_t)1 << LIM_INFLATE_WINDOW_LOG, LZMA_CONCATENATED) == LZMA_OK;
        break;
    }
    case CODEC_NONE:
        break;
    }
    b->z_ready = true;
    if (!ok) {
        snprintf(errbuf, errlen, "%s: cannot start the decoder", codec_name[b->codec]);
        return -1;
    }
    return 0;
}

void fb_close(struct file_buf *b)
{
    if (b->z_ready) {
        if (b->codec == CODEC_GZIP)
            inflateEnd(&b->gz);
        else if (b->codec == CODEC_ZSTD)
            ZSTD_freeDStream(b->zs);
        else if (b->codec == CODEC_XZ)
            lzma_end(&b->xz);
    }
    free(b->zin);
    close(b->fd);
    free(b->in);
}

size_t fb_fill(struct file_buf *b, size_t n)
{
    size_t have = b->in_end - b->in_pos;
    if (have >= n)
        return n;
    memmove(b->in, b->in + b->in_pos, have);
    b->in_pos = 0;
    b->in_end = have;
    while (b->in_end < n && !b->in_eof && !b->in_errno) {
        size_t room = READ_BUF - b->in_end;
        size_t got = src_read(b, b->in + b->in_end, room < READ_CHUNK ? room : READ_CHUNK);
        if (got > 0)
            b->in_end += got;
        else if (!b->in_errno)
            b->in_eof = true;
    }
    return b->in_end < n ? b->in_end : n;
}

const char *fb_codec_name(const struct file_buf *b)
{
    return b->codec != CODEC_NONE ? codec_name[b->codec] : NULL;
}

uint64_t fb_position(const struct file_buf *b)
{
    return b->codec != CODEC_NONE ? b->z_in_total : b->offset;
}
