/* test_slab.c: objects carved from a huge-page slab (capture/slab.h): each
 * zeroed, aligned and apart from the others, no more than the count, those
 * given back handed out again first, and, under AddressSanitizer, red zones
 * and given-back objects poisoned.  */
#include <stdbool.h>
#include <stdint.h>

#include <sanitizer/asan_interface.h>

#include "capture/slab.h"
#include "check.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* 128 bytes: a multiple of the objects' alignment, so without a red zone
 * the next object would begin right after it.  */
struct thing {
    uint64_t a;
    unsigned char bytes[120];
};

static void carves_count_zeroed_objects_then_nothing(void)
{
    struct cap_slab s;
    CHECK(cap_slab_init(&s, sizeof(struct thing), 3));
    struct thing *t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = cap_slab_take(&s);
        CHECK(t[i] != NULL);
        if (!t[i])
            return;
        CHECK(((uintptr_t)t[i] & 63u) == 0);
        CHECK_EQ_INT(t[i]->a, 0);
        CHECK_EQ_INT(t[i]->bytes[119], 0);
        t[i]->a = (uint64_t)i + 1;
        memset(t[i]->bytes, 0xff, sizeof(t[i]->bytes));
    }
    CHECK(cap_slab_take(&s) == NULL);
    /* Writes to one never reach another. */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(t[i]->a, i + 1);
        CHECK((unsigned char *)t[i] + sizeof(struct thing) <= (unsigned char *)t[(i + 1) % 3] ||
              (unsigned char *)t[(i + 1) % 3] + sizeof(struct thing) <= (unsigned char *)t[i]);
    }
    cap_slab_unmap(&s);
    cap_slab_unmap(&s);         /* a second time: nothing */
}

static void given_back_objects_come_back_first(void)
{
    struct cap_slab s;
    CHECK(cap_slab_init(&s, sizeof(struct thing), 2));
    struct thing *t = cap_slab_take(&s);
    CHECK(t != NULL);
    if (!t)
        return;
    t->a = 42;
    cap_slab_give(&s, t);
    struct thing *again = cap_slab_take(&s);
    CHECK(again == t);          /* the one given back first, before a new one */
    CHECK_EQ_INT(again->a, 42); /* as it was left: the caller resets it */
    struct thing *other = cap_slab_take(&s);
    CHECK(other != NULL && other != t);
    CHECK(cap_slab_take(&s) == NULL);
    cap_slab_unmap(&s);
}

static void red_zones_and_given_back_objects_are_poisoned(void)
{
#ifdef UNDER_ASAN
    struct cap_slab s;
    CHECK(cap_slab_init(&s, sizeof(struct thing), 2));
    struct thing *t = cap_slab_take(&s), *next = cap_slab_take(&s);
    CHECK(t != NULL && next != NULL);
    if (!t || !next)
        return;
    CHECK(!__asan_address_is_poisoned(&t->bytes[119]));
    CHECK(__asan_address_is_poisoned((unsigned char *)t + sizeof(struct thing)));
    CHECK(!__asan_address_is_poisoned(&next->a));
    cap_slab_give(&s, t);
    CHECK(__asan_address_is_poisoned(&t->a));
    CHECK(cap_slab_take(&s) == t);
    CHECK(!__asan_address_is_poisoned(&t->a));
    cap_slab_unmap(&s);
#endif
}

int main(void)
{
    RUN(carves_count_zeroed_objects_then_nothing);
    RUN(given_back_objects_come_back_first);
    RUN(red_zones_and_given_back_objects_are_poisoned);
    return check_summary();
}
