/* writer.c: pcapng output that appears only when complete (temporary file,
 * fsync, rename), mode 0600.  Block layout per the pcapng specification
 * (draft-ietf-opsawg-pcapng): SHB, one IDB per link type, EPBs; the notes
 * become comments of a closing section.  A Decryption Secrets Block, when
 * reserved, follows the SHB: readers apply secrets to the packets after
 * them, so its room is written first and filled when the file is done.  */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"

#define WR_MAX_NOTES LIM_FILE_COMMENTS  /* as many as the reader keeps */
#define WR_MAX_NOTE 512
#define WR_MAX_IFACES 8

struct cap_writer {
    FILE *f;
    int fd;
    char *path, *tmp;
    uint32_t ifaces[WR_MAX_IFACES];
    unsigned n_ifaces;
    char *notes[WR_MAX_NOTES];
    unsigned n_notes;
    bool failed;
    off_t secrets_at;               /* the reserved DSB's data, or 0 */
    size_t secrets_room;
    char *secrets;                  /* the key log to put there (cap_writer_secrets) */
    size_t secrets_len;
};

/* A growable byte buffer for one block, little-endian like the host that
 * writes it (the SHB's byte-order magic says so).  */
struct blk {
    uint8_t *b;
    size_t n, cap;
    bool oom;
};

static void put(struct blk *k, const void *p, size_t n)
{
    if (k->oom)
        return;
    if (k->n + n > k->cap) {
        size_t cap = (k->cap ? k->cap * 2 : 256) + n;
        uint8_t *nb = realloc(k->b, cap);
        if (!nb) {
            k->oom = true;
            return;
        }
        k->b = nb;
        k->cap = cap;
    }
    memcpy(k->b + k->n, p, n);
    k->n += n;
}

static void put16(struct blk *k, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    put(k, b, 2);
}

static void put32(struct blk *k, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    put(k, b, 4);
}

static void pad4(struct blk *k)
{
    static const uint8_t zero[4] = { 0 };
    put(k, zero, (4 - k->n % 4) % 4);
}

static void put_option(struct blk *k, uint16_t code, const void *v, size_t len)
{
    if (len > 0xfffc)
        len = 0xfffc;
    put16(k, code);
    put16(k, (uint16_t)len);
    put(k, v, len);
    pad4(k);
}

/* Starts a block of `type`; end_block() fills in the two lengths. */
static void begin_block(struct blk *k, uint32_t type)
{
    k->n = 0;
    put32(k, type);
    put32(k, 0);
}

static int end_block(struct cap_writer *w, struct blk *k)
{
    put32(k, 0);
    if (k->oom || k->n > UINT32_MAX)
        return -1;
    uint32_t len = (uint32_t)k->n;
    uint8_t l[4] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24) };
    memcpy(k->b + 4, l, 4);
    memcpy(k->b + k->n - 4, l, 4);
    if (fwrite(k->b, 1, k->n, w->f) != k->n) {
        w->failed = true;
        return -1;
    }
    return 0;
}

static int write_shb(struct cap_writer *w, char *const *comments, unsigned n_comments)
{
    struct blk k = { 0 };
    begin_block(&k, 0x0A0D0D0Au);
    put32(&k, 0x1A2B3C4Du);
    put16(&k, 1);
    put16(&k, 0);
    put32(&k, 0xffffffffu);         /* section length unknown */
    put32(&k, 0xffffffffu);
    for (unsigned i = 0; i < n_comments; i++)
        put_option(&k, 1, comments[i], strlen(comments[i]));
    static const char appl[] = "acrdiag " ACRDIAG_VERSION;
    put_option(&k, 4, appl, sizeof(appl) - 1);
    put32(&k, 0);                   /* opt_endofopt */
    int rc = end_block(w, &k);
    free(k.b);
    return rc;
}

struct cap_writer *cap_writer_open(const char *path, char *errbuf, size_t errlen)
{
    struct cap_writer *w = calloc(1, sizeof(*w));
    size_t n = strlen(path) + sizeof(".tmp.XXXXXX");
    if (!w || !(w->path = strdup(path)) || !(w->tmp = malloc(n))) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    snprintf(w->tmp, n, "%s.tmp.XXXXXX", path);
    w->fd = mkstemp(w->tmp);
    if (w->fd < 0) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    fchmod(w->fd, 0600);
    w->f = fdopen(w->fd, "wb");
    /* Flushed at once, so a process forked after this holds no buffered copy. */
    if (!w->f || write_shb(w, NULL, 0) != 0 || fflush(w->f) != 0) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        if (!w->f)
            close(w->fd);
        unlink(w->tmp);
        goto fail;
    }
    return w;
fail:
    if (w && w->f)
        fclose(w->f);
    if (w) {
        free(w->path);
        free(w->tmp);
    }
    free(w);
    return NULL;
}

static int iface_for(struct cap_writer *w, uint32_t linktype, uint32_t *id)
{
    for (unsigned i = 0; i < w->n_ifaces; i++) {
        if (w->ifaces[i] == linktype) {
            *id = i;
            return 0;
        }
    }
    if (w->n_ifaces >= WR_MAX_IFACES)
        return -1;
    struct blk k = { 0 };
    begin_block(&k, 0x00000001u);
    put16(&k, (uint16_t)linktype);
    put16(&k, 0);
    put32(&k, LIM_MAX_RECORD);
    static const uint8_t nanoseconds = 9;   /* if_tsresol: 10^-9 */
    put_option(&k, 9, &nanoseconds, 1);
    put32(&k, 0);
    int rc = end_block(w, &k);
    free(k.b);
    if (rc != 0)
        return -1;
    *id = w->n_ifaces;
    w->ifaces[w->n_ifaces++] = linktype;
    return 0;
}

int cap_writer_packet(struct cap_writer *w, const struct cap_record *rec, const char *comment)
{
    uint32_t id;
    if (w->failed || iface_for(w, rec->linktype, &id) != 0) {
        w->failed = true;
        return -1;
    }
    uint64_t ts = rec->ts_ns < 0 ? 0 : (uint64_t)rec->ts_ns;
    struct blk k = { 0 };
    begin_block(&k, 0x00000006u);
    put32(&k, id);
    put32(&k, (uint32_t)(ts >> 32));
    put32(&k, (uint32_t)ts);
    put32(&k, rec->caplen);
    put32(&k, rec->wirelen);
    put(&k, rec->data, rec->caplen);
    pad4(&k);
    if (comment) {
        put_option(&k, 1, comment, strlen(comment));
        put32(&k, 0);
    }
    int rc = end_block(w, &k);
    free(k.b);
    if (rc != 0)
        w->failed = true;
    return rc;
}

int cap_writer_note(struct cap_writer *w, const char *note)
{
    if (w->n_notes >= WR_MAX_NOTES)
        return -1;
    char *c = strndup(note, WR_MAX_NOTE);
    if (!c)
        return -1;
    w->notes[w->n_notes++] = c;
    return 0;
}

int cap_writer_reserve_secrets(struct cap_writer *w, size_t room)
{
    room = (room + 3) & ~(size_t)3;
    if (w->n_ifaces || w->secrets_at || room == 0 || room > LIM_WRITER_SECRETS || fflush(w->f) != 0)
        return -1;
    off_t at = ftello(w->f);
    char *fill = malloc(room);
    if (at < 0 || !fill)
        return free(fill), -1;
    /* Newlines: an empty key log to every reader, until it is filled. */
    memset(fill, '\n', room);
    struct blk k = { 0 };
    begin_block(&k, 0x0000000Au);
    put32(&k, 0x544c534bu);         /* 'TLSK': an NSS key log */
    put32(&k, (uint32_t)room);
    put(&k, fill, room);
    int rc = end_block(w, &k);
    free(k.b);
    free(fill);
    if (rc != 0)
        return -1;
    w->secrets_at = at + 16;        /* after type, length, secrets type and length */
    w->secrets_room = room;
    return 0;
}

size_t cap_writer_secrets(struct cap_writer *w, const char *text, size_t len)
{
    if (!w->secrets_at)
        return 0;
    /* Whole lines only: a cut line is no secret to any reader. */
    if (len > w->secrets_room) {
        len = w->secrets_room;
        while (len > 0 && text[len - 1] != '\n')
            len--;
    }
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return 0;
    memcpy(copy, text, len);
    if (w->secrets) {
        explicit_bzero(w->secrets, w->secrets_len);
        free(w->secrets);
    }
    w->secrets = copy;
    w->secrets_len = len;
    return len;
}

static void writer_free(struct cap_writer *w)
{
    if (w->secrets)
        explicit_bzero(w->secrets, w->secrets_len);
    free(w->secrets);
    for (unsigned i = 0; i < w->n_notes; i++)
        free(w->notes[i]);
    free(w->path);
    free(w->tmp);
    free(w);
}

/* Writes the notes, then flushes, syncs and closes the temporary file. */
static int finish_file(struct cap_writer *w)
{
    int rc = w->failed ? -1 : 0;
    if (rc == 0 && w->n_notes)
        rc = write_shb(w, w->notes, w->n_notes);
    if (rc == 0 && fflush(w->f) != 0)
        rc = -1;
    if (rc == 0 && w->secrets_len &&
        pwrite(w->fd, w->secrets, w->secrets_len, w->secrets_at) != (ssize_t)w->secrets_len)
        rc = -1;
    if (rc == 0 && fsync(w->fd) != 0)
        rc = -1;
    if (fclose(w->f) != 0)
        rc = -1;
    return rc;
}

int cap_writer_detach(struct cap_writer *w, char *errbuf, size_t errlen)
{
    int rc = finish_file(w);
    if (rc != 0)
        snprintf(errbuf, errlen, "%s: %s", w->path, errno ? strerror(errno) : "write failed");
    writer_free(w);
    return rc;
}

int cap_writer_commit(struct cap_writer *w, char *errbuf, size_t errlen)
{
    int rc = finish_file(w);
    if (rc == 0 && rename(w->tmp, w->path) != 0)
        rc = -1;
    if (rc != 0) {
        snprintf(errbuf, errlen, "%s: %s", w->path, errno ? strerror(errno) : "write failed");
        unlink(w->tmp);
    }
    writer_free(w);
    return rc;
}

void cap_writer_abort(struct cap_writer *w)
{
    if (!w)
        return;
    fclose(w->f);
    unlink(w->tmp);
    writer_free(w);
}
