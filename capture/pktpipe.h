/* pktpipe.h: a capture file read, decompressed and decoded on a thread of
 * its own, into a bounded ring (ring.h) of batches of packet summaries:
 * the first half of analyze's two-thread pipeline; the engine's thread
 * takes the batches in order (analysis/feed.c).  Each summary's payload
 * is copied into its batch (the record it points into is gone by then);
 * nothing else of a record is kept.  The key log text of a pcapng
 * Decryption Secrets Block travels in its place among the packets, so the
 * taker adds it to the key log exactly where a one-thread read would.  */
#ifndef ACRDIAG_PKTPIPE_H
#define ACRDIAG_PKTPIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "source.h"

/* Summaries a batch holds, and its bytes for their payloads: more than
 * the longest record (LIM_MAX_RECORD) and the longest block's secrets
 * (LIM_MAX_BLOCK), so anything fits an empty batch.  */
#define CAP_PIPE_ITEMS 1024u
#define CAP_PIPE_ARENA (512u << 10)
/* Batches in the ring: the reader runs at most this far ahead. */
#define CAP_PIPE_SLOTS 8u

enum cap_pipe_kind { CAP_PIPE_PACKET, CAP_PIPE_SECRETS };

struct cap_pipe_item {
    struct cap_pkt pkt;         /* PACKET: decoded, payload in the batch;
                                 * SECRETS: payload and payload_len are the text */
    uint32_t linktype;
    uint8_t kind;               /* enum cap_pipe_kind */
    bool undecodable;           /* no IP packet in a link type not decoded */
};

struct cap_pipe_batch {
    unsigned n;                 /* items */
    bool last;                  /* the file ended with this batch: `end` says how */
    enum cap_source_status end; /* CAP_SOURCE_END or CAP_SOURCE_ERROR */
    char err[256];              /* after CAP_SOURCE_ERROR */
    uint64_t position;          /* cap_file_position after the batch's last record */
    size_t used;                /* arena bytes taken */
    struct cap_pipe_item items[CAP_PIPE_ITEMS];
    uint8_t arena[CAP_PIPE_ARENA];
};

struct cap_pipe;

/* Starts reading f on a new thread (signals blocked there); records are
 * numbered from first_frame.  NULL (nothing started, f untouched) when a
 * thread or the ring cannot be had.  f belongs to the thread until
 * cap_pipe_stop.  */
struct cap_pipe *cap_pipe_start(struct cap_file *f, uint64_t first_frame);

/* The next batch in order, waiting for it; NULL only after cap_pipe_stop
 * began or when the reader could not go on.  The batch is the caller's
 * until cap_pipe_done.  */
const struct cap_pipe_batch *cap_pipe_take(struct cap_pipe *p);
void cap_pipe_done(struct cap_pipe *p);

/* Stops the reader wherever it is, waits for it and frees p (NULL:
 * nothing).  f is the caller's again.  */
void cap_pipe_stop(struct cap_pipe *p);

#endif
