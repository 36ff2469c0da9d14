/* evidence.c: where each evidence frame lies: the file that holds it and
 * its frame within that file.  */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

void evidence_span_stat(struct span *sp, const char *path)
{
    struct stat st;
    const char *at = strcmp(path, "-") == 0 ? "/dev/stdin" : path;
    if (stat(at, &st) == 0 && S_ISREG(st.st_mode)) {
        sp->regular = true;
        sp->size = st.st_size;
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

void evidence_locate(const struct cli *c, const struct span *spans, struct an_report *r)
{
    struct cited ci;
    if (!evidence_collect(r, &ci))
        return;
    for (size_t k = 0; k < ci.n; k++) {
        long i = span_of(spans, c->n_files, ci.ev[k]->frame);
        if (i < 0)
            continue;
        ci.ev[k]->file = c->files[i];
        ci.ev[k]->frame_in_file = ci.ev[k]->frame - spans[i].first_frame + 1;
    }
    free(ci.ev);
}
