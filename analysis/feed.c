/* feed.c: records from a source into the engine and the -w file (feed.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "feed.h"

/* an_feed_pump on two threads: the summaries of the reader's batches. */
static enum an_feed_status pump_batches(struct an_feed *f, unsigned max)
{
    for (unsigned i = 0; i < max;) {
        const struct cap_pipe_batch *b = f->batch;
        if (!b) {
            b = f->batch = cap_pipe_take(f->pipe);
            f->at = 0;
            if (!b) {
                snprintf(f->err, sizeof(f->err), "the reading thread stopped");
                return AN_FEED_ERROR;
            }
            f->position = b->position;
        }
        if (f->at == b->n) {
            bool last = b->last;
            enum cap_source_status end = b->end;
            if (last && end != CAP_SOURCE_END)
                snprintf(f->err, sizeof(f->err), "%s", b->err);
            f->batch = NULL;
            cap_pipe_done(f->pipe);
            if (last)
                return end == CAP_SOURCE_END ? AN_FEED_END : AN_FEED_ERROR;
            continue;
        }
        const struct cap_pipe_item *it = &b->items[f->at++];
        if (it->kind == CAP_PIPE_SECRETS) {
            if (f->keylog)
                cap_keylog_add(f->keylog, it->pkt.payload, it->pkt.payload_len);
            continue;
        }
        i++;
        f->records++;
        if (it->undecodable) {
            f->undecodable++;
            f->undecodable_linktype = it->linktype;
        }
        f->next_frame++;
        f->kept++;
        an_engine_packet(f->engine, &it->pkt, it->linktype);
    }
    return AN_FEED_MORE;
}

bool an_feed_thread_start(struct an_feed *f, struct cap_file *file, struct cap_keylog *keylog)
{
    if (f->keep || f->writer || f->pipe)
        return false;
    if (f->next_frame == 0)
        f->next_frame = 1;
    f->pipe = cap_pipe_start(file, f->next_frame);
    f->keylog = keylog;
    f->batch = NULL;
    return f->pipe != NULL;
}

uint64_t an_feed_position(struct an_feed *f)
{
    return f->pipe ? f->position : cap_source_stats(f->src).position;
}

void an_feed_thread_stop(struct an_feed *f)
{
    cap_pipe_stop(f->pipe);
    f->pipe = NULL;
    f->batch = NULL;
}

enum an_feed_status an_feed_pump(struct an_feed *f, unsigned max)
{
    if (f->next_frame == 0)
        f->next_frame = 1;
    if (f->pipe)
        return pump_batches(f, max);
    for (unsigned i = 0; i < max; i++) {
        struct cap_record rec;
        enum cap_source_status st = cap_source_next(f->src, &rec, f->err, sizeof(f->err));
        if (st == CAP_SOURCE_IDLE)
            return AN_FEED_IDLE;
        if (st == CAP_SOURCE_END)
            return AN_FEED_END;
        if (st == CAP_SOURCE_ERROR)
            return AN_FEED_ERROR;
        f->records++;
        /* Frames are numbered as the written file numbers them: only the
         * packets kept count.  */
        rec.frame = f->next_frame;
        struct cap_pkt pkt;
        if (cap_decode(&rec, &pkt) == CAP_UNSUPPORTED && pkt.ipver == 0) {
            f->undecodable++;
            f->undecodable_linktype = rec.linktype;
        }
        if (f->keep && !f->keep(f->keep_arg, &pkt))
            continue;
        f->next_frame++;
        f->kept++;
        an_engine_packet(f->engine, &pkt, rec.linktype);
        if (!f->writer || f->write_failed)
            continue;
        errno = 0;
        if (cap_writer_packet(f->writer, &rec, NULL) != 0) {
            f->write_failed = true;
            fprintf(stderr, "%s: %s: write failed%s%s; the capture is not kept\n", f->who, f->write_path,
                    errno ? ": " : "", errno ? strerror(errno) : "");
            return AN_FEED_WRITE_FAILED;
        }
    }
    return AN_FEED_MORE;
}

void an_feed_drops(struct an_feed *f, struct an_report *r)
{
    if (!f->src || !f->src->impl)
        return;
    uint64_t dropped = cap_source_stats(f->src).dropped;
    if (!dropped)
        return;
    r->findings |= 1u << AN_F_KERNEL_DROPS;
    /* The count, not only the finding: how much evidence is missing. */
    fprintf(stderr, "%s: the kernel dropped %llu packets (capture buffer full), %llu were read: "
            "the report may miss evidence\n", f->who, (unsigned long long)dropped, (unsigned long long)f->records);
}

int an_feed_detach(struct an_feed *f, int status)
{
    if (!f->writer)
        return status;
    char err[300];
    int rc = cap_writer_detach(f->writer, err, sizeof(err));
    f->writer = NULL;
    if (f->write_failed)
        return 2;
    if (rc != 0) {
        f->write_failed = true;
        fprintf(stderr, "%s: %s; the capture is not kept\n", f->who, err);
        return 2;
    }
    return status;
}

bool an_feed_keeps_file(int status)
{
    return status == 0 || status == 1 || status == 3;
}

int an_feed_commit(struct cap_writer *w, int status, const char *who)
{
    if (!w)
        return status;
    if (!an_feed_keeps_file(status)) {
        cap_writer_abort(w);
        return status;
    }
    char err[300];
    if (cap_writer_commit(w, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", who, err);
        return 2;
    }
    return status;
}
