/* flow_table.c: the flow table: hashing, slots, the activity (LRU) lists,
 * and folding flows that closed, idled or must make room.  */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "flow_table.h"

/* No slot: the end of a hash chain or of an activity list. */
#define NIL UINT32_MAX
/* Hash buckets: twice LIM_FLOWS, a power of two so a mask picks one. */
#define FLOW_BUCKETS (LIM_FLOWS * 2u)

/* ---- hashing -------------------------------------------------------------- */

/* MurmurHash3's 64-bit finalizer: every input bit reaches every output bit. */
static uint64_t fmix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Seeded per run so crafted captures cannot aim every flow at one bucket.
 * Word-wise rather than byte-wise, and only the bytes in use: an IPv4
 * address is one 32-bit word (reading past it into the rest of the array
 * would also stall on the decoder's just-stored bytes).  */
static uint64_t hash_side(uint64_t seed, const struct cap_addr *a, uint16_t port)
{
    if (a->family == 4) {
        uint32_t v4;
        memcpy(&v4, a->a, sizeof(v4));
        return fmix(seed ^ ((uint64_t)port << 32 | v4));
    }
    uint64_t lo, hi;
    memcpy(&lo, a->a, sizeof(lo));
    memcpy(&hi, a->a + sizeof(lo), sizeof(hi));
    return fmix(lo ^ seed) ^ fmix(hi ^ (seed + port + 1));
}

/* The same value for both directions of a flow. */
static uint32_t key_hash(const struct cap_flow_table *t, const struct cap_addr *a, uint16_t ap,
                         const struct cap_addr *b, uint16_t bp)
{
    return (uint32_t)(hash_side(t->seed, a, ap) ^ hash_side(t->seed, b, bp));
}

/* ---- table ---------------------------------------------------------------- */

struct cap_flow_table *cap_flows_new(cap_flow_done_fn done, void *ctx)
{
    struct cap_flow_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->server_port = 443;
    /* 54 MB, touched as slots are first used. */
    t->flows = cap_slab_map(&t->slab, LIM_FLOWS * sizeof(struct cap_flow));
    t->nodes = malloc(LIM_FLOWS * sizeof(*t->nodes));
    t->free_slots = malloc(LIM_FLOWS * sizeof(*t->free_slots));
    t->buckets = malloc(FLOW_BUCKETS * sizeof(*t->buckets));
    bool pool = reasm_pool_init(&t->pool);
    if (!t->flows || !t->nodes || !t->free_slots || !t->buckets || !pool) {
        reasm_pool_free(&t->pool);
        cap_slab_unmap(&t->slab);
        free(t->nodes);
        free(t->free_slots);
        free(t->buckets);
        free(t);
        return NULL;
    }
    for (size_t b = 0; b < FLOW_BUCKETS; b++)
        t->buckets[b].head = NIL;
    t->open.head = t->open.tail = NIL;
    t->closed.head = t->closed.tail = NIL;
    t->prefetched = NIL;
    if (getrandom(&t->seed, sizeof(t->seed), 0) != (ssize_t)sizeof(t->seed))
        t->seed = 0xcbf29ce484222325ull;
    t->done = done;
    t->ctx = ctx;
    return t;
}

void cap_flows_set_server_port(struct cap_flow_table *t, uint16_t port)
{
    if (port)
        t->server_port = port;
}

static struct flow_list *list_of(struct cap_flow_table *t, const struct cap_flow *f)
{
    return f->closed ? &t->closed : &t->open;
}

static uint32_t slot_of(const struct cap_flow_table *t, const struct cap_flow *f)
{
    return (uint32_t)(f - t->flows);
}

static void lru_unlink(struct cap_flow_table *t, struct cap_flow *f)
{
    struct flow_list *l = list_of(t, f);
    struct flow_node *n = &t->nodes[slot_of(t, f)];
    if (n->prev != NIL)
        t->nodes[n->prev].next = n->next;
    else
        l->head = n->next;
    if (n->next != NIL)
        t->nodes[n->next].prev = n->prev;
    else
        l->tail = n->prev;
    n->prev = n->next = NIL;
}

static void lru_append(struct cap_flow_table *t, struct cap_flow *f)
{
    struct flow_list *l = list_of(t, f);
    uint32_t i = slot_of(t, f);
    t->nodes[i].prev = l->tail;
    t->nodes[i].next = NIL;
    if (l->tail != NIL)
        t->nodes[l->tail].next = i;
    else
        l->head = i;
    l->tail = i;
}

static void flow_release(struct cap_flow_table *t, uint32_t i)
{
    struct cap_flow *f = &t->flows[i];
    struct flow_bucket *b = &t->buckets[t->nodes[i].hash & (FLOW_BUCKETS - 1)];
    if (b->head == i) {
        b->head = t->nodes[i].chain;
        if (b->head != NIL)
            b->head_hash = t->nodes[b->head].hash;
    } else {
        uint32_t *pp = &b->head;
        while (*pp != NIL && *pp != i)
            pp = &t->nodes[*pp].chain;
        if (*pp != NIL)
            *pp = t->nodes[i].chain;
    }
    lru_unlink(t, f);
    t->n_flows--;
    for (int d = 0; d < 2; d++)
        reasm_finish(&t->pool, f, d);
    if (t->done)
        t->done(t->ctx, f);
    reasm_release(&t->pool, f);
    t->free_slots[t->n_free++] = i;
    if (i == t->prefetched)
        t->prefetched = NIL;    /* the slot's next flow is another */
}

/* Folds what is finished: closed flows that lingered, and long-idle ones. */
static void sweep(struct cap_flow_table *t, int64_t now)
{
    while (t->closed.head != NIL && now - t->nodes[t->closed.head].last_ts > LIM_CLOSED_LINGER_NS)
        flow_release(t, t->closed.head);
    while (t->open.head != NIL && now - t->nodes[t->open.head].last_ts > LIM_IDLE_NS)
        flow_release(t, t->open.head);
}

void cap_flows_free(struct cap_flow_table *t)
{
    if (!t)
        return;
    while (t->closed.head != NIL)
        flow_release(t, t->closed.head);
    while (t->open.head != NIL)
        flow_release(t, t->open.head);
    reasm_pool_free(&t->pool);
    cap_slab_unmap(&t->slab);
    free(t->nodes);
    free(t->free_slots);
    free(t->buckets);
    free(t);
}

void cap_flows_set_keylog(struct cap_flow_table *t, const struct cap_keylog *k)
{
    t->pool.keylog = k;
}

uint64_t cap_flows_evicted(const struct cap_flow_table *t)
{
    return t->evicted;
}

uint64_t cap_flows_streams_denied(const struct cap_flow_table *t)
{
    return t->pool.streams_denied;
}

/* Whether f is the flow of a packet src:sport -> dst:dport; *dir is then
 * that packet's direction in it.  */
static bool flow_is(const struct cap_flow *f, const struct cap_addr *src, uint16_t sport, const struct cap_addr *dst,
                    uint16_t dport, int *dir)
{
    if (f->client_port == sport && f->server_port == dport && cap_addr_eq(&f->client, src) &&
        cap_addr_eq(&f->server, dst)) {
        *dir = CAP_C2S;
        return true;
    }
    if (f->client_port == dport && f->server_port == sport && cap_addr_eq(&f->client, dst) &&
        cap_addr_eq(&f->server, src)) {
        *dir = CAP_S2C;
        return true;
    }
    return false;
}

struct cap_flow *flow_table_find(struct cap_flow_table *t, const struct cap_addr *src, uint16_t sport,
                                 const struct cap_addr *dst, uint16_t dport, int *dir)
{
    uint32_t h = key_hash(t, src, sport, dst, dport);
    const struct flow_bucket *b = &t->buckets[h & (FLOW_BUCKETS - 1)];
    uint32_t i = b->head, ih = b->head_hash;
    while (i != NIL) {
        if (ih == h) {
            /* The per-packet fields of both directions are asked for
             * while the key's line is read: their misses overlap.  */
            const struct cap_flow *f = &t->flows[i];
            for (int d = 0; d < 2; d++) {
                __builtin_prefetch(&f->dir[d]);
                __builtin_prefetch((const char *)&f->dir[d] + 64);
            }
            if (flow_is(f, src, sport, dst, dport, dir))
                return &t->flows[i];
        }
        i = t->nodes[i].chain;
        ih = i != NIL ? t->nodes[i].hash : 0;
    }
    return NULL;
}

/* Decides who is the client of a flow first seen with packet p: the sender
 * of a SYN, the receiver of a SYN-ACK, else the side not on the registry's
 * port or 80, else the side not on the lower port.  Returns p's direction. */
static int choose_roles(const struct cap_flow_table *t, const struct cap_pkt *p, char *by)
{
    uint8_t fl = p->tcp_flags;
    if ((fl & CAP_TH_SYN) && !(fl & CAP_TH_ACK)) {
        *by = 's';
        return CAP_C2S;
    }
    if ((fl & CAP_TH_SYN) && (fl & CAP_TH_ACK)) {
        *by = 'h';
        return CAP_S2C;
    }
    *by = 'p';
    if (p->dport == t->server_port || p->dport == 80)
        return CAP_C2S;
    if (p->sport == t->server_port || p->sport == 80)
        return CAP_S2C;
    if (p->dport != p->sport)
        return p->dport < p->sport ? CAP_C2S : CAP_S2C;
    *by = 'f';
    return CAP_C2S;
}

static struct cap_flow *flow_create(struct cap_flow_table *t, const struct cap_pkt *p, int *dir)
{
    if (t->n_flows >= LIM_FLOWS) {
        t->evicted++;
        flow_release(t, t->closed.head != NIL ? t->closed.head : t->open.head);
    }
    uint32_t i = t->n_free ? t->free_slots[--t->n_free] : (uint32_t)t->n_used++;
    struct cap_flow *f = &t->flows[i];
    memset(f, 0, sizeof(*f));
    *dir = choose_roles(t, p, &f->client_by);
    if (*dir == CAP_C2S) {
        f->client = p->src;
        f->client_port = p->sport;
        f->server = p->dst;
        f->server_port = p->dport;
    } else {
        f->client = p->dst;
        f->client_port = p->dport;
        f->server = p->src;
        f->server_port = p->sport;
    }
    f->first_frame = p->frame;
    f->first_ts = p->ts_ns;
    struct flow_node *n = &t->nodes[i];
    n->last_ts = p->ts_ns;
    n->hash = key_hash(t, &f->client, f->client_port, &f->server, f->server_port);
    struct flow_bucket *b = &t->buckets[n->hash & (FLOW_BUCKETS - 1)];
    n->chain = b->head;
    b->head = i;
    b->head_hash = n->hash;
    lru_append(t, f);
    t->n_flows++;
    return f;
}

/* The next flow folded is nearly always the closed list's head (lingered
 * out, or folded for room): it closed thousands of flows ago, and its
 * lines and TLS facts are far from the CPU by then.  Asking for them a
 * packet or two before the fold hides most of that wait (the first touches
 * in lru_unlink and an_classify_flow were 16% of analyze's time): the
 * flow's lines now, its TLS facts (their address is in the flow) with the
 * next packet.  */
static void prefetch_next_fold(struct cap_flow_table *t)
{
    uint32_t h = t->closed.head;
    if (h == NIL || (h == t->prefetched && t->prefetched_tls))
        return;
    const struct cap_flow *f = &t->flows[h];
    if (h != t->prefetched) {
        t->prefetched = h;
        t->prefetched_tls = false;
        for (size_t off = 0; off < sizeof(*f); off += 64)
            __builtin_prefetch((const char *)f + off);
        return;
    }
    t->prefetched_tls = true;
    for (int d = 0; d < 2; d++) {
        const char *tls = (const char *)f->dir[d].tls;
        if (!tls)
            continue;
        /* What classification reads: the hello and alert facts, the
         * certificate's names, and the frames at the end.  */
        for (size_t off = 0; off < offsetof(struct cap_tls_dir, cert) + 128; off += 64)
            __builtin_prefetch(tls + off);
        for (size_t off = offsetof(struct cap_tls_facts, client_hello); off < sizeof(struct cap_tls_facts); off += 64)
            __builtin_prefetch(tls + off);
    }
}

struct cap_flow *flow_table_packet(struct cap_flow_table *t, const struct cap_pkt *p, int *dir)
{
    prefetch_next_fold(t);
    sweep(t, p->ts_ns);
    struct cap_flow *f = flow_table_find(t, &p->src, p->sport, &p->dst, p->dport, dir);
    if (!f) {
        f = flow_create(t, p, dir);
    } else {
        lru_unlink(t, f);
        lru_append(t, f);
    }
    t->nodes[slot_of(t, f)].last_ts = p->ts_ns;
    return f;
}

void flow_table_touch(struct cap_flow_table *t, const struct cap_flow *f, int64_t ts_ns)
{
    t->nodes[slot_of(t, f)].last_ts = ts_ns;
}

void flow_table_close(struct cap_flow_table *t, struct cap_flow *f)
{
    lru_unlink(t, f);
    f->closed = true;
    lru_append(t, f);
}

bool flow_table_release_oldest_closed(struct cap_flow_table *t, const struct cap_flow *keep)
{
    if (t->closed.head == NIL || t->closed.head == slot_of(t, keep))
        return false;
    flow_release(t, t->closed.head);
    return true;
}
