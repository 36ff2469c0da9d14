/* source.h: one interface for everything that hands out capture records,
 * the way libpcap keeps one read_op per pcap-*.c: the file reader (pcap,
 * pcapng, any compression: pcapfile.c) and the live capture (live.c) each
 * fill the same four operations, and the loop that feeds the engine
 * (analysis/feed.h) reads either without knowing which.  */
#ifndef ACRDIAG_SOURCE_H
#define ACRDIAG_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "capture.h"

/* What next() returns. */
enum cap_source_status {
    CAP_SOURCE_ERROR = -1,      /* errbuf says why; a file: records before it stay valid */
    CAP_SOURCE_IDLE = 0,        /* live: no record waiting now (poll fd() for more) */
    CAP_SOURCE_RECORD = 1,      /* *rec filled; rec->data valid until the next call */
    CAP_SOURCE_END = 2,         /* a file's clean end */
};

/* What a source can tell about itself so far. */
struct cap_source_stats {
    uint64_t records;           /* records handed out */
    uint64_t dropped;           /* live: packets the kernel dropped for lack of buffer space */
    uint64_t position;          /* a file: bytes of it consumed (compressed bytes when compressed) */
};

struct cap_source_ops {
    enum cap_source_status (*next)(void *impl, struct cap_record *rec, char *errbuf, size_t errlen);
    /* A descriptor to poll() for readability; -1 when there is nothing to
     * wait for (a file is read at its own pace).  */
    int (*fd)(const void *impl);
    /* Not const: a live capture asks the kernel (pcap_stats). */
    void (*stats)(void *impl, struct cap_source_stats *out);
    void (*close)(void *impl);
};

struct cap_source {
    const struct cap_source_ops *ops;
    void *impl;                 /* the struct cap_file or cap_live behind it */
};

/* The two implementations.  The source reads the file or capture it is
 * made from, which stays open for the calls of its own (comments of a
 * file); cap_source_close closes it.  */
struct cap_source cap_file_source(struct cap_file *f);
struct cap_source cap_live_source(struct cap_live *l);

static inline enum cap_source_status cap_source_next(struct cap_source *s, struct cap_record *rec, char *errbuf,
                                                     size_t errlen)
{
    return s->ops->next(s->impl, rec, errbuf, errlen);
}

static inline int cap_source_fd(const struct cap_source *s)
{
    return s->ops->fd(s->impl);
}

static inline struct cap_source_stats cap_source_stats(struct cap_source *s)
{
    struct cap_source_stats st = { 0 };
    s->ops->stats(s->impl, &st);
    return st;
}

static inline void cap_source_close(struct cap_source *s)
{
    if (s->impl)
        s->ops->close(s->impl);
    s->impl = NULL;
}

#endif
