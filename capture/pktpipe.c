/* pktpipe.c: the reading thread of analyze's pipeline (pktpipe.h). */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "pcapfile_int.h"
#include "pktpipe.h"
#include "ring.h"

_Static_assert(CAP_PIPE_ARENA >= LIM_MAX_BLOCK && CAP_PIPE_ARENA >= LIM_MAX_RECORD,
               "a batch's arena holds the longest record and the longest block");

struct cap_pipe {
    struct cap_ring *ring;
    pthread_t thread;
    struct cap_file *f;
    uint64_t next_frame;
    struct cap_pipe_batch *cur;     /* the reader's batch being filled, or NULL */
    bool stopped;                   /* the ring was shut down under the reader */
};

/* The reader's batch, made ready for `bytes` more payload bytes and one
 * item: the full one handed over first.  NULL when shut down.  */
static struct cap_pipe_batch *room(struct cap_pipe *p, size_t bytes)
{
    struct cap_pipe_batch *b = p->cur;
    if (b && b->n < CAP_PIPE_ITEMS && CAP_PIPE_ARENA - b->used >= bytes)
        return b;
    if (b) {
        b->position = cap_file_position(p->f);
        cap_ring_put_end(p->ring);
    }
    b = p->cur = cap_ring_put_begin(p->ring);
    if (!b) {
        p->stopped = true;
        return NULL;
    }
    b->n = 0;
    b->used = 0;
    b->last = false;
    return b;
}

/* Copies len bytes into b's arena; where they are now. */
static const uint8_t *keep_bytes(struct cap_pipe_batch *b, const uint8_t *data, size_t len)
{
    uint8_t *to = b->arena + b->used;
    if (len)
        memcpy(to, data, len);
    b->used += (len + 7) & ~(size_t)7;
    if (b->used > CAP_PIPE_ARENA)
        b->used = CAP_PIPE_ARENA;
    return to;
}

/* The file's Decryption Secrets Blocks, as the reader meets them. */
static void on_secrets(void *arg, const uint8_t *text, size_t len)
{
    struct cap_pipe *p = arg;
    if (len > CAP_PIPE_ARENA)
        return;                         /* cannot be: a block is shorter */
    struct cap_pipe_batch *b = room(p, len);
    if (!b)
        return;
    struct cap_pipe_item *it = &b->items[b->n++];
    memset(&it->pkt, 0, sizeof(it->pkt));
    it->kind = CAP_PIPE_SECRETS;
    it->undecodable = false;
    it->linktype = 0;
    it->pkt.payload = keep_bytes(b, text, len);
    it->pkt.payload_len = (uint32_t)len;
}

static void *reader(void *arg)
{
    struct cap_pipe *p = arg;
    for (;;) {
        if (!room(p, 0))
            break;
        struct cap_record rec;
        char err[256] = "";
        int rc = cap_file_next(p->f, &rec, err, sizeof(err));
        /* The secrets hook may have handed the batch over meanwhile. */
        struct cap_pipe_batch *b = p->stopped ? NULL : room(p, rc == 1 ? rec.caplen : 0);
        if (!b)
            break;
        if (rc != 1) {
            b->last = true;
            b->end = rc == 0 ? CAP_SOURCE_END : CAP_SOURCE_ERROR;
            snprintf(b->err, sizeof(b->err), "%s", err);
            b->position = cap_file_position(p->f);
            p->cur = NULL;
            cap_ring_put_end(p->ring);
            break;
        }
        rec.frame = p->next_frame++;
        struct cap_pipe_item *it = &b->items[b->n];
        it->kind = CAP_PIPE_PACKET;
        it->linktype = rec.linktype;
        it->undecodable = cap_decode(&rec, &it->pkt) == CAP_UNSUPPORTED && it->pkt.ipver == 0;
        if (it->pkt.payload) {
            /* The payload lies inside the record (caplen bytes): room()
             * made that much.  */
            size_t len = it->pkt.payload_len;
            if (len > rec.caplen)
                len = rec.caplen;
            it->pkt.payload = keep_bytes(b, it->pkt.payload, len);
        }
        b->n++;
    }
    return NULL;
}

struct cap_pipe *cap_pipe_start(struct cap_file *f, uint64_t first_frame)
{
    struct cap_pipe *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->f = f;
    p->next_frame = first_frame;
    p->ring = cap_ring_new(CAP_PIPE_SLOTS, sizeof(struct cap_pipe_batch));
    if (!p->ring) {
        free(p);
        return NULL;
    }
    f->secrets = on_secrets;
    f->secrets_arg = p;
    /* Signals go to the thread that runs the command, not the reader. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&p->thread, NULL, reader, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        f->secrets = NULL;
        f->secrets_arg = NULL;
        cap_ring_free(p->ring);
        free(p);
        return NULL;
    }
    return p;
}

const struct cap_pipe_batch *cap_pipe_take(struct cap_pipe *p)
{
    return cap_ring_take_begin(p->ring);
}

void cap_pipe_done(struct cap_pipe *p)
{
    cap_ring_take_end(p->ring);
}

void cap_pipe_stop(struct cap_pipe *p)
{
    if (!p)
        return;
    cap_ring_shutdown(p->ring);
    pthread_join(p->thread, NULL);
    p->f->secrets = NULL;
    p->f->secrets_arg = NULL;
    cap_ring_free(p->ring);
    free(p);
}
