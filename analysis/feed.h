/* feed.h: the one loop that feeds records to the engine, shared by
 * analyze, watch and probe: a record source (capture/source.h) through the
 * decoder into the engine, and into the -w file when one is kept.  One
 * policy for all three:
 *   - a write to the -w file that fails is said once (its path and errno's
 *     text), nothing more is written, and the file is never put in place:
 *     the run's exit status becomes 2 (an_feed_detach);
 *   - the file is put in place only when the run ended with a report
 *     (exit 0, 1 or 3); any other end removes it (an_feed_commit);
 *   - packets the kernel dropped are the finding kernel_drops and one line
 *     with their count (an_feed_drops).  */
#ifndef ACRDIAG_FEED_H
#define ACRDIAG_FEED_H

#include <stdbool.h>
#include <stdint.h>

#include "analysis/analysis.h"
#include "capture/capture.h"
#include "capture/pktpipe.h"
#include "capture/source.h"

struct an_feed {
    /* set by the caller */
    struct cap_source *src;
    struct an_engine *engine;
    struct cap_writer *writer;      /* the -w file, or NULL */
    const char *write_path;         /* its name in messages */
    const char *who;                /* the messages' prefix: "acrdiag", "acrdiag probe" */
    /* Sees every decoded packet first; false: not this mode's evidence,
     * neither fed nor written.  NULL keeps every packet.  */
    bool (*keep)(void *arg, const struct cap_pkt *pkt);
    void *keep_arg;
    uint64_t next_frame;            /* the number of the next packet kept: the
                                     * written file's frame (0 is taken as 1) */
    /* counted by the feed */
    uint64_t records;               /* read from the source */
    uint64_t kept;
    uint64_t undecodable;           /* records with no IP packet in a link type not decoded */
    uint32_t undecodable_linktype;
    bool write_failed;              /* said once; the file will not be kept */
    char err[256];                  /* the source's error after AN_FEED_ERROR */
    /* two threads (an_feed_thread_start) */
    struct cap_pipe *pipe;
    const struct cap_pipe_batch *batch;     /* taken, items from `at` on not yet fed */
    unsigned at;
    struct cap_keylog *keylog;      /* where a file's Decryption Secrets go */
    uint64_t position;              /* the file's bytes behind the last batch taken */
};

enum an_feed_status {
    AN_FEED_MORE,                   /* `max` records read: more may be waiting */
    AN_FEED_IDLE,                   /* a live source has none waiting now */
    AN_FEED_END,                    /* a file ended cleanly */
    AN_FEED_ERROR,                  /* the source failed: err says why */
    AN_FEED_WRITE_FAILED,           /* a write to the -w file failed (said) */
};

/* Reads at most `max` records (bounded, so a live mode's loop gets its turn). */
enum an_feed_status an_feed_pump(struct an_feed *f, unsigned max);

/* analyze: the file behind f->src (from cap_file_source) is read and
 * decoded on a second thread from now on (capture/pktpipe.h); an_feed_pump
 * feeds the engine from its batches, the same packets in the same order
 * with the same frames as one thread would, and the secrets of the file's
 * Decryption Secrets Blocks go to `keylog` in their place among them.  No
 * keep() and no -w file: analyze has neither.  false: it could not start
 * (no thread, no memory); the feed stays on one thread.  */
bool an_feed_thread_start(struct an_feed *f, struct cap_file *file, struct cap_keylog *keylog);
/* The bytes of the file read so far (for the progress line), either way. */
uint64_t an_feed_position(struct an_feed *f);
/* Stops and waits for the second thread, if any; before the source is
 * closed.  */
void an_feed_thread_stop(struct an_feed *f);

/* A live source's kernel drops: the finding on r and one line on stderr
 * with the count and the packets read.  Nothing for a file or no source. */
void an_feed_drops(struct an_feed *f, struct an_report *r);

/* In the process that wrote the file (it may have dropped the right to
 * rename): finishes it without renaming and detaches f from it.  Returns
 * `status`, or 2 when the file is not whole (a write failed, now or
 * before; said once).  */
int an_feed_detach(struct an_feed *f, int status);

/* Whether a run that ended with `status` keeps its -w file: a report's
 * exit status (0, 1 or 3).  */
bool an_feed_keeps_file(int status);

/* In the privileged parent of that process: puts the file in place when
 * `status` is a report's (0, 1 or 3), removes it otherwise; frees w.
 * Returns `status`, or 2 after one line when the file cannot be put in
 * place.  w NULL: returns status.  */
int an_feed_commit(struct cap_writer *w, int status, const char *who);

#endif
