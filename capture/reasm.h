/* reasm.h: inside capture/ only: the reassembly of each direction's first
 * LIM_TLS_STREAM_BYTES (reasm.c), fed by tcp_track.c and ended by
 * flow_table.c when a flow leaves the table.  */
#ifndef ACRDIAG_REASM_H
#define ACRDIAG_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "slab.h"

/* Handshake buffers and TLS facts, each kind from a slab of room for its
 * limit (slab.h), which hands a given-back one out before a new one (a
 * malloc and free of each per flow was 9% of analyze; a malloc of each new
 * one, 8% more in page faults).  At most LIM_LIVE_STREAMS and LIM_LIVE_TLS
 * are alive at once.  */
struct reasm_pool {
    size_t live_streams, live_tls;
    struct cap_slab stream_slab, tls_slab;
    uint64_t streams_denied;
    const struct cap_keylog *keylog;    /* secrets to open streams with (borrowed; NULL: none) */
};

/* Payload bytes at offset rel (below LIM_TLS_STREAM_BYTES) of direction
 * dir's stream, delivered by the frame ref: the first ones get a buffer
 * and TLS facts from the pool (or mark the direction tls_missing when it
 * is exhausted); the facts are taken once a record completes them.  */
void reasm_segment(struct reasm_pool *pool, struct cap_flow *f, int dir, uint32_t rel, const uint8_t *data,
                   uint32_t len, const struct cap_ref *ref);
/* The direction's stream ended (its flow closed or leaves the table): takes
 * its facts from what was kept and gives the buffer back.  */
void reasm_finish(struct reasm_pool *pool, struct cap_flow *f, int dir);
/* Gives back what a flow leaving the table holds (its TLS facts, tunnel and
 * decrypted answer), once its done callback has read them.  */
void reasm_release(struct reasm_pool *pool, struct cap_flow *f);
/* Sets up an empty pool (its slabs are mapped at their first use); false
 * when memory is exhausted (reasm_pool_free then frees what was had).  */
bool reasm_pool_init(struct reasm_pool *pool);
/* Unmaps the slabs, at the table's end. */
void reasm_pool_free(struct reasm_pool *pool);

#endif
