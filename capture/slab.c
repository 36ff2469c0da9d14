/* slab.c: large zeroed blocks in huge pages (slab.h). */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <sanitizer/asan_interface.h>

#include "slab.h"

#define SLAB_ALIGN (2u << 20)

#if defined(__SANITIZE_ADDRESS__)
#define RED_ZONE 64u
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RED_ZONE 64u
#endif
#endif
#ifndef RED_ZONE
#define RED_ZONE 0u
#endif

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
    if (s->map) {
        /* The addresses may come back from the kernel for another mapping. */
        ASAN_UNPOISON_MEMORY_REGION(s->map, s->bytes);
        munmap(s->map, s->bytes);
    }
    s->map = NULL;
    s->base = NULL;
    s->carved = 0;
    free(s->given_back);
    s->given_back = NULL;
    s->n_given_back = 0;
}

bool cap_slab_init(struct cap_slab *s, size_t size, size_t count)
{
    *s = (struct cap_slab){ .size = size, .count = count };
    s->stride = (size + RED_ZONE + 63u) & ~(size_t)63u;
    s->given_back = malloc(count * sizeof(*s->given_back));
    return s->given_back != NULL;
}

void *cap_slab_take(struct cap_slab *s)
{
    if (s->n_given_back) {
        void *obj = s->given_back[--s->n_given_back];
        ASAN_UNPOISON_MEMORY_REGION(obj, s->size);
        return obj;
    }
    if (!s->base) {
        s->base = cap_slab_map(s, s->stride * s->count);
        if (!s->base)
            return NULL;
        ASAN_POISON_MEMORY_REGION(s->base, s->stride * s->count);
    }
    if (s->carved >= s->count)
        return NULL;
    unsigned char *obj = s->base + s->carved++ * s->stride;
    ASAN_UNPOISON_MEMORY_REGION(obj, s->size);
    return obj;
}

void cap_slab_give(struct cap_slab *s, void *obj)
{
    /* At most `count` are out, so the stack has room. */
    ASAN_POISON_MEMORY_REGION(obj, s->size);
    s->given_back[s->n_given_back++] = obj;
}
