/* ring.c: the two-thread slot ring (ring.h): a mutex and two condition
 * variables around a head, a count and the slots.  */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "ring.h"
#include "slab.h"

#define RING_ALIGN 64u

struct cap_ring {
    pthread_mutex_t lock;
    pthread_cond_t not_full;        /* the putter waits on it */
    pthread_cond_t not_empty;       /* the taker waits on it */
    unsigned slots;
    unsigned head;                  /* the oldest full slot */
    unsigned count;                 /* full slots, from head on */
    bool putting, taking;           /* a slot is out with that side */
    bool put_waiting;               /* the putter sleeps on not_full */
    bool shut;
    size_t slot_bytes;              /* rounded up to RING_ALIGN */
    unsigned char *mem;             /* in slab: 2 MiB pages, as the batches
                                     * are written once per lap of the ring */
    struct cap_slab slab;
};

struct cap_ring *cap_ring_new(unsigned slots, size_t slot_bytes)
{
    if (slots < 2 || slot_bytes == 0 || slot_bytes > ((size_t)1 << 30))
        return NULL;
    struct cap_ring *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->slots = slots;
    r->slot_bytes = (slot_bytes + RING_ALIGN - 1) / RING_ALIGN * RING_ALIGN;
    r->mem = cap_slab_map(&r->slab, r->slot_bytes * slots);
    if (!r->mem) {
        free(r);
        return NULL;
    }
    if (pthread_mutex_init(&r->lock, NULL) != 0)
        goto fail_mem;
    if (pthread_cond_init(&r->not_full, NULL) != 0)
        goto fail_lock;
    if (pthread_cond_init(&r->not_empty, NULL) != 0)
        goto fail_cond;
    return r;
fail_cond:
    pthread_cond_destroy(&r->not_full);
fail_lock:
    pthread_mutex_destroy(&r->lock);
fail_mem:
    cap_slab_unmap(&r->slab);
    free(r);
    return NULL;
}

static void *slot_at(const struct cap_ring *r, unsigned i)
{
    return r->mem + (size_t)(i % r->slots) * r->slot_bytes;
}

void *cap_ring_put_begin(struct cap_ring *r)
{
    pthread_mutex_lock(&r->lock);
    while (!r->shut && r->count == r->slots) {
        r->put_waiting = true;
        pthread_cond_wait(&r->not_full, &r->lock);
    }
    r->put_waiting = false;
    void *slot = NULL;
    if (!r->shut && !r->putting) {
        r->putting = true;
        slot = slot_at(r, r->head + r->count);
    }
    pthread_mutex_unlock(&r->lock);
    return slot;
}

void cap_ring_put_end(struct cap_ring *r)
{
    pthread_mutex_lock(&r->lock);
    if (r->putting) {
        r->putting = false;
        /* Shut down meanwhile: the slot is dropped, the taker stops. */
        if (!r->shut) {
            r->count++;
            pthread_cond_signal(&r->not_empty);
        }
    }
    pthread_mutex_unlock(&r->lock);
}

void *cap_ring_take_begin(struct cap_ring *r)
{
    pthread_mutex_lock(&r->lock);
    while (!r->shut && r->count == 0)
        pthread_cond_wait(&r->not_empty, &r->lock);
    void *slot = NULL;
    if (r->count > 0 && !r->taking) {
        r->taking = true;
        slot = slot_at(r, r->head);
    }
    pthread_mutex_unlock(&r->lock);
    return slot;
}

void cap_ring_take_end(struct cap_ring *r)
{
    pthread_mutex_lock(&r->lock);
    if (r->taking) {
        r->taking = false;
        r->head = (r->head + 1) % r->slots;
        r->count--;
        /* A putter that found the ring full sleeps until half of it is
         * free: one wake-up per slots/2 slots, not one per slot (each is a
         * context switch, and on a busy machine a wait to be scheduled).
         * The taker empties the ring, so the count always gets there.  */
        if (r->put_waiting && r->count <= r->slots / 2)
            pthread_cond_signal(&r->not_full);
    }
    pthread_mutex_unlock(&r->lock);
}

void cap_ring_shutdown(struct cap_ring *r)
{
    pthread_mutex_lock(&r->lock);
    r->shut = true;
    pthread_cond_broadcast(&r->not_full);
    pthread_cond_broadcast(&r->not_empty);
    pthread_mutex_unlock(&r->lock);
}

void cap_ring_free(struct cap_ring *r)
{
    if (!r)
        return;
    pthread_cond_destroy(&r->not_empty);
    pthread_cond_destroy(&r->not_full);
    pthread_mutex_destroy(&r->lock);
    cap_slab_unmap(&r->slab);
    free(r);
}
