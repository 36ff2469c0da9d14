/* filebuf.h: inside capture/ only: the bytes of a capture file, read(2)
 * into one buffer, or decompressed into it when the file is a gzip, zstd or
 * xz stream (told by its magic bytes), for the pcap and pcapng readers
 * (pcapfile.c, pcapng.c), which never know which.  */
#ifndef ACRDIAG_FILEBUF_H
#define ACRDIAG_FILEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "limits.h"

/* Input buffer: any block up to LIM_MAX_BLOCK fits whole so it can be
 * handed out in place.  It is refilled READ_CHUNK bytes at a time: few
 * syscalls, yet what the kernel copies in is still in the CPU's cache when
 * the decoder reads it (1 MiB reads left it to be fetched again).  */
#define READ_BUF (1u << 20)
#define READ_CHUNK (64u << 10)
_Static_assert(READ_BUF >= LIM_MAX_BLOCK, "a whole block must fit in the input buffer");

enum fb_codec { CODEC_NONE, CODEC_GZIP, CODEC_ZSTD, CODEC_XZ };

struct file_buf {
    int fd;
    uint8_t *in;                /* READ_BUF bytes read ahead; */
    size_t in_pos, in_end;      /* in[in_pos, in_end) are not consumed yet */
    bool in_eof;                /* read(2) returned 0 */
    int in_errno;               /* reading failed with this; 0: no error */
    char in_errmsg[128];        /* and this says how, errno text kept */
    uint64_t offset;            /* file offset of the next unread byte */

    /* compressed source (codec != CODEC_NONE); zin also holds the bytes
     * read to look for a magic, which a plain file gets back first */
    enum fb_codec codec;
    uint8_t *zin;               /* ZIN_BUF bytes of raw input */
    size_t zin_pos, zin_end;
    bool zin_eof;               /* read(2) on the source returned 0 */
    bool z_ended;               /* the last stream ended cleanly (at a frame end) */
    bool z_ready;               /* decoder state initialised: must be freed */
    uint64_t z_in_total, z_out_total;
    z_stream gz;
    ZSTD_DStream *zs;
    lzma_stream xz;
};

/* Sets up every field of b and takes over fd (fb_close closes it, even
 * after a failure here); reads the first bytes and chooses the codec by
 * magic.  Returns 0, or -1 with errbuf filled.  */
int fb_open(struct file_buf *b, int fd, char *errbuf, size_t errlen);
void fb_close(struct file_buf *b);
/* Makes n bytes (at most READ_BUF) contiguous from in + in_pos, reading
 * on as needed; returns how many are there, fewer than n only at the end
 * of the file or after a read error.  Moves the unconsumed bytes to the
 * front, so pointers into the buffer die here.  */
size_t fb_fill(struct file_buf *b, size_t n);
/* The codec's name ("gzip", ...), NULL for a plain file. */
const char *fb_codec_name(const struct file_buf *b);
/* Bytes of the file consumed so far (compressed bytes when compressed). */
uint64_t fb_position(const struct file_buf *b);

/* Consumes up to n bytes (at most READ_BUF); *at points at them in the
 * input buffer, valid until the next read.  Returns n, or how many were
 * read before the end of the file; *ioerr is set on a read error.  Inline:
 * once per record, and the bytes are mostly there already.  */
static inline size_t fb_take(struct file_buf *b, size_t n, const uint8_t **at, bool *ioerr)
{
    size_t got = b->in_end - b->in_pos >= n ? n : fb_fill(b, n);
    *at = b->in + b->in_pos;
    b->in_pos += got;
    b->offset += got;
    *ioerr = got < n && b->in_errno;
    return got;
}

/* fb_take() into a caller's buffer, for headers read in several steps. */
static inline size_t fb_read_full(struct file_buf *b, uint8_t *dst, size_t n, bool *ioerr)
{
    const uint8_t *at;
    size_t got = fb_take(b, n, &at, ioerr);
    memcpy(dst, at, got);
    return got;
}

/* Hands back the last n bytes taken (no read came since: they are still
 * in the buffer), to be read again.  */
static inline void fb_unread(struct file_buf *b, size_t n)
{
    b->in_pos -= n;
    b->offset -= n;
}

#endif
