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
};

/* Maps room for `bytes` (2 MiB aligned inside the mapping); the start, or
 * NULL when the kernel refuses.  */
void *cap_slab_map(struct cap_slab *s, size_t bytes);
/* Unmaps it (nothing when never mapped). */
void cap_slab_unmap(struct cap_slab *s);

#endif
