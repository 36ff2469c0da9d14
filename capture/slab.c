/* slab.c: large zeroed blocks in huge pages (slab.h). */
#include <stdint.h>
#include <sys/mman.h>

#include "slab.h"

#define SLAB_ALIGN (2u << 20)

void *cap_slab_map(struct cap_slab *s, size_t bytes)
{
    size_t total = bytes + SLAB_ALIGN;
    void *map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return NULL;
    s->map = map;
    s->bytes = total;
    uintptr_t at = ((uintptr_t)map + SLAB_ALIGN - 1) & ~(uintptr_t)(SLAB_ALIGN - 1);
    /* Only advice: without transparent huge pages the block is as mmap gave it. */
    madvise((void *)at, total - (at - (uintptr_t)map), MADV_HUGEPAGE);
    return (void *)at;
}

void cap_slab_unmap(struct cap_slab *s)
{
    if (s->map)
        munmap(s->map, s->bytes);
    s->map = NULL;
}
