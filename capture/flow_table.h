/* flow_table.h: inside capture/ only: the flow table's slots, hash chains
 * and activity lists (flow_table.c), for the per-packet code in
 * tcp_track.c.  Public callers use flow.h.  */
#ifndef ACRDIAG_FLOW_TABLE_H
#define ACRDIAG_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "reasm.h"
#include "slab.h"

/* The table's bookkeeping for one flow slot, kept apart from the flows (24
 * bytes against 1.7 KB) because it is what every packet walks: a lookup
 * compares hashes here and reads a flow only when its hash matches, and an
 * LRU move relinks neighbours here without touching their flows.  */
struct flow_node {
    int64_t last_ts;            /* capture time of the flow's last packet */
    uint32_t hash;              /* key_hash() of the flow */
    uint32_t chain;             /* next slot in the same bucket */
    uint32_t prev, next;        /* activity list neighbours */
};

/* A hash chain's first slot with that slot's hash beside it: a lookup
 * whose flow heads its chain (most do) reads no flow_node.  */
struct flow_bucket {
    uint32_t head;
    uint32_t head_hash;
};

/* Slots in order of last activity; head: least recently active. */
struct flow_list {
    uint32_t head, tail;
};

struct cap_flow_table {
    /* LIM_FLOWS slots allocated once (pages are only touched when used)
     * instead of a calloc and free per flow; a released slot is reused
     * first, while its cache lines are still warm from the release.  */
    struct cap_flow *flows;
    struct cap_slab slab;       /* the mapping flows lies in */
    struct flow_node *nodes;
    struct flow_bucket *buckets;    /* FLOW_BUCKETS chains */
    uint32_t *free_slots;       /* released slots, a stack */
    size_t n_free;
    size_t n_used;              /* slots handed out at least once */
    size_t n_flows;
    uint64_t evicted;
    uint64_t seed;
    struct flow_list open, closed;
    uint32_t prefetched;        /* the closed head whose lines were asked for */
    bool prefetched_tls;        /* ... and its TLS facts */
    cap_flow_done_fn done;
    void *ctx;
    uint16_t server_port;       /* the registry's port (--port): a midstream flow's server */
    struct reasm_pool pool;     /* the flows' stream buffers and TLS facts */
};

/* The flow of a TCP packet, created when new (its roles chosen then), made
 * the most recently active; *dir is the packet's direction in it.  Flows
 * idle past their time are folded first.  */
struct cap_flow *flow_table_packet(struct cap_flow_table *t, const struct cap_pkt *p, int *dir);
/* The flow of (src:sport -> dst:dport) in either direction, or NULL; *dir
 * is that packet's direction within it.  Nothing moves.  */
struct cap_flow *flow_table_find(struct cap_flow_table *t, const struct cap_addr *src, uint16_t sport,
                                 const struct cap_addr *dst, uint16_t dport, int *dir);
/* Counts a packet that reached f outside flow_table_packet (an ICMP error). */
void flow_table_touch(struct cap_flow_table *t, const struct cap_flow *f, int64_t ts_ns);
/* Moves f to the closed list, where it lingers LIM_CLOSED_LINGER_NS. */
void flow_table_close(struct cap_flow_table *t, struct cap_flow *f);
/* Folds the least recently active closed flow other than keep; false when
 * there is none.  */
bool flow_table_release_oldest_closed(struct cap_flow_table *t, const struct cap_flow *keep);

#endif
