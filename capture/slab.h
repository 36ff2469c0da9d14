/* slab.h: inside capture/ only: one block of zeroed memory from the kernel
 * for many objects of one kind, in 2 MiB pages where the kernel grants them.
 * Pages are touched only as objects are first used; with 4 KiB pages each
 * first touch was a page fault (6-9% of analyze's time for the flow slots
 * and the TLS facts), and each later visit could cost a TLB miss.  */
#ifndef ACRDIAG_SLAB_H
#define ACRDIAG_SLAB_H

#include <stddef.h>

struct cap_slab {
    void *map;                  /* the mapping, NULL when none */
    size_t bytes;
    /* Objects carved one by one (cap_slab_carve): */
    unsigned char *base;        /* the first, NULL until the first carve */
    size_t size, stride, count; /* an object's bytes, their spacing, how many */
    size_t carved;
};

/* Maps room for `bytes` (2 MiB aligned inside the mapping), for an array
 * indexed directly; the start, or NULL when the kernel refuses.  */
void *cap_slab_map(struct cap_slab *s, size_t bytes);
/* Unmaps it (nothing when never mapped). */
void cap_slab_unmap(struct cap_slab *s);

/* A slab of `count` objects of `size` bytes, mapped at the first carve.
 * Under AddressSanitizer each object has a poisoned red zone after it and
 * stays poisoned while given back, so an overflow into a neighbour or a use
 * after cap_slab_retire is reported as it would be with malloc and free. */
void cap_slab_init(struct cap_slab *s, size_t size, size_t count);
/* The next object never handed out (zeroed), or NULL when all `count` were
 * or the mapping failed.  */
void *cap_slab_carve(struct cap_slab *s);
/* An object given back (kept by the caller for reuse), and taken again. */
void cap_slab_retire(const struct cap_slab *s, void *obj);
void cap_slab_reuse(const struct cap_slab *s, void *obj);

#endif
