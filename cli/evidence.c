/* evidence.c: where each evidence frame lies: the file that holds it,
 * its frame within that file and, read again, its timestamp.  */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* The path that reads file i again: standard input only when it is a
 * regular file (a redirect), through /dev/stdin.  */
static const char *reread_path(const char *path)
{
    return strcmp(path, "-") == 0 ? "/dev/stdin" : path;
}

void evidence_span_stat(struct span *sp, const char *path)
{
    struct stat st;
    if (stat(reread_path(path), &st) == 0 && S_ISREG(st.st_mode)) {
        sp->regular = true;
        sp->dev = st.st_dev;
        sp->ino = st.st_ino;
        sp->size = st.st_size;
        sp->mtime = st.st_mtim;
    }
}

static int by_frame(const void *a, const void *b)
{
    const struct an_evidence *x = *(struct an_evidence *const *)a, *y = *(struct an_evidence *const *)b;
    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

bool evidence_collect(struct an_report *r, struct cited *out)
{
    size_t n = 0;
    for (unsigned i = 0; i < r->n_endpoints; i++)
        n += AN_MAX_EVIDENCE + AN_MAX_CONTRADICTIONS;
    out->n = 0;
    out->ev = malloc((n ? n : 1) * sizeof(*out->ev));
    if (!out->ev)
        return false;
    for (unsigned i = 0; i < r->n_endpoints; i++) {
        struct an_endpoint *ep = &r->endpoints[i];
        for (unsigned k = 0; k < ep->n_evidence && k < AN_MAX_EVIDENCE; k++)
            if (ep->evidence[k].frame)
                out->ev[out->n++] = &ep->evidence[k];
        for (unsigned k = 0; k < ep->n_contradictions && k < AN_MAX_CONTRADICTIONS; k++)
            if (ep->contradictions[k].frame)
                out->ev[out->n++] = &ep->contradictions[k];
    }
    qsort(out->ev, out->n, sizeof(*out->ev), by_frame);
    return true;
}

/* The file holding a global frame (spans are in frame order), or -1. */
static long span_of(const struct span *spans, unsigned n, uint64_t frame)
{
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (frame < spans[mid].first_frame)
            hi = mid;
        else if (frame >= spans[mid].first_frame + spans[mid].records)
            lo = mid + 1;
        else
            return (long)mid;
    }
    return -1;
}

/* Reads file i again up to the last cited frame in it and sets the
 * timestamps of ev[from, to) (all in that file, in frame order); the file
 * must still be the one first read (device, inode, size, mtime).  */
static void times_from_file(const struct cli *c, const struct span *sp, unsigned i, struct an_evidence **ev,
                            size_t from, size_t to, struct progress *pg)
{
    struct stat st;
    const char *path = reread_path(c->files[i]);
    if (!sp->regular || stat(path, &st) != 0 || st.st_dev != sp->dev || st.st_ino != sp->ino ||
        st.st_size != sp->size || st.st_mtim.tv_sec != sp->mtime.tv_sec || st.st_mtim.tv_nsec != sp->mtime.tv_nsec)
        return;
    char err[256];
    struct cap_file *f = cap_file_open(path, err, sizeof(err));
    if (!f)
        return;
    cap_file_set_next_frame(f, sp->first_frame);
    struct cap_record rec;
    size_t k = from;
    uint64_t n = 0;
    while (k < to && cap_file_next(f, &rec, err, sizeof(err)) == 1) {
        while (k < to && ev[k]->frame == rec.frame) {
            ev[k]->has_ts = true;
            ev[k]->ts_ns = rec.ts_ns;
            k++;
        }
        if ((++n & 4095) == 0)
            progress_tick(pg, "finding evidence times in", i, c->n_files, c->files[i], rec.frame,
                          cap_file_position(f), (uint64_t)sp->size);
    }
    cap_file_close(f);
}

void evidence_locate(const struct cli *c, const struct span *spans, struct an_report *r, bool want_ts,
                            struct progress *pg)
{
    struct cited ci;
    if (!evidence_collect(r, &ci))
        return;
    for (size_t k = 0; k < ci.n;) {
        long i = span_of(spans, c->n_files, ci.ev[k]->frame);
        if (i < 0) {
            k++;
            continue;
        }
        size_t from = k;
        for (; k < ci.n && span_of(spans, c->n_files, ci.ev[k]->frame) == i; k++) {
            ci.ev[k]->file = c->files[i];
            ci.ev[k]->frame_in_file = ci.ev[k]->frame - spans[i].first_frame + 1;
        }
        if (want_ts)
            times_from_file(c, &spans[i], (unsigned)i, ci.ev, from, k, pg);
    }
    progress_done(pg);
    free(ci.ev);
}
