/* slab.h: inside capture/ only: one block of zeroed memory from the kernel
 * for many objects of one kind, in 2 MiB pages where the kernel grants them.
 * Pages are touched only as objects are first used; with 4 KiB pages each
 * first touch was a page fault (6-9% of analyze's time for the flow slots
 * and the TLS facts), and each later visit could cost a TLB miss.  */
#ifndef ACRDIAG_SLAB_H
#define ACRDIAG_SLAB_H

#include <stdbool.h>
#include <stddef.h>

struct cap_slab {
    void *map;                  /* the mapping, NULL when none */
    size_t bytes;
    /* Objects handed out one by one (cap_slab_take): */
    unsigned char *base;        /* the first, NULL until the first take */
    size_t size, stride, count; /* an object's bytes, their spacing, how many */
    size_t carved;              /* handed out at least once */
    void **given_back;          /* a stack of count, reused before a new one */
    size_t n_given_back;
};

/* Maps room for `bytes` (2 MiB aligned inside the mapping), for an array
 * indexed directly; the start, or NULL when the kernel refuses.  */
void *cap_slab_map(struct cap_slab *s, size_t bytes);
/* Unmaps it and frees the stack (nothing when never mapped). */
void cap_slab_unmap(struct cap_slab *s);

/* A slab of `count` objects of `size` bytes, mapped at the first take;
 * false when its stack of given-back objects cannot be had.  Under
 * AddressSanitizer each object has a poisoned red zone after it and stays
 * poisoned while given back, so an overflow into a neighbour or a use after
 * cap_slab_give is reported as it would be with malloc and free.  */
bool cap_slab_init(struct cap_slab *s, size_t size, size_t count);
/* The object given back last (as it was left: the caller resets it), else
 * a new one (zeroed); NULL when all `count` are out or the mapping failed. */
void *cap_slab_take(struct cap_slab *s);
void cap_slab_give(struct cap_slab *s, void *obj);

#endif
