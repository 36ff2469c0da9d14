/* test_ring.c: the two-thread slot ring (capture/ring.h): empty, full,
 * wrap-around in order, shutdown from either side, and a putter and a
 * taker on two threads passing a million numbers.  */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "capture/ring.h"
#include "check.h"

/* A taker on another thread: takes one slot (or NULL) and says so. */
struct waiter {
    struct cap_ring *r;
    bool put;                   /* wait to put instead of to take */
    void *got;
    atomic_bool done;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    w->got = w->put ? cap_ring_put_begin(w->r) : cap_ring_take_begin(w->r);
    atomic_store(&w->done, true);
    return NULL;
}

static void pause_ms(long ms)
{
    struct timespec ts = { 0, ms * 1000000L };
    nanosleep(&ts, NULL);
}

static void empty_ring_takes_nothing_until_put(void)
{
    struct cap_ring *r = cap_ring_new(2, 16);
    CHECK(r != NULL);
    struct waiter w = { .r = r };
    pthread_t t;
    CHECK(pthread_create(&t, NULL, wait_thread, &w) == 0);
    pause_ms(20);
    CHECK(!atomic_load(&w.done));             /* nothing to take: it waits */
    uint32_t *slot = cap_ring_put_begin(r);
    CHECK(slot != NULL);
    *slot = 7;
    cap_ring_put_end(r);
    pthread_join(t, NULL);
    CHECK(atomic_load(&w.done));
    CHECK(w.got == slot);
    CHECK_EQ_INT(*(uint32_t *)w.got, 7);
    cap_ring_take_end(r);
    cap_ring_free(r);
}

static void full_ring_puts_nothing_until_half_taken(void)
{
    struct cap_ring *r = cap_ring_new(4, 8);
    for (uint32_t i = 0; i < 4; i++) {
        uint32_t *slot = cap_ring_put_begin(r);
        CHECK(slot != NULL);
        *slot = i;
        cap_ring_put_end(r);
    }
    struct waiter w = { .r = r, .put = true };
    pthread_t t;
    CHECK(pthread_create(&t, NULL, wait_thread, &w) == 0);
    pause_ms(20);
    CHECK(!atomic_load(&w.done));             /* all four full: it waits */
    uint32_t *first = cap_ring_take_begin(r);
    CHECK_EQ_INT(*first, 0);
    cap_ring_take_end(r);
    pause_ms(20);
    CHECK(!atomic_load(&w.done));             /* one free: it still waits */
    uint32_t *second = cap_ring_take_begin(r);
    CHECK_EQ_INT(*second, 1);
    cap_ring_take_end(r);
    pthread_join(t, NULL);
    CHECK(w.got == first);      /* half free: the first slot emptied */
    cap_ring_put_end(r);
    cap_ring_free(r);
}

static void slots_wrap_in_order(void)
{
    struct cap_ring *r = cap_ring_new(4, 40);   /* rounded up to 64 */
    uint32_t next_put = 0, next_take = 0;
    /* Uneven steps so head and tail pass the end at different times. */
    for (unsigned round = 0; round < 50; round++) {
        for (unsigned k = 0; k < 1 + round % 3; k++) {        /* 1 to 3, after at most 1 */
            uint32_t *slot = cap_ring_put_begin(r);
            *slot = next_put++;
            cap_ring_put_end(r);
        }
        for (unsigned k = 0; k < 1 + round % 2 && next_take < next_put; k++) {
            uint32_t *slot = cap_ring_take_begin(r);
            CHECK_EQ_INT(*slot, next_take);
            next_take++;
            cap_ring_take_end(r);
        }
        while (next_put - next_take > 1) {     /* keep room for the next round */
            uint32_t *slot = cap_ring_take_begin(r);
            CHECK_EQ_INT(*slot, next_take);
            next_take++;
            cap_ring_take_end(r);
        }
    }
    CHECK(next_put > 4 * 4);
    cap_ring_free(r);
}

static void shutdown_wakes_a_waiting_taker_and_putter(void)
{
    struct cap_ring *r = cap_ring_new(2, 8);
    struct waiter w = { .r = r };
    pthread_t t;
    CHECK(pthread_create(&t, NULL, wait_thread, &w) == 0);
    pause_ms(20);
    cap_ring_shutdown(r);
    pthread_join(t, NULL);
    CHECK(w.got == NULL);
    CHECK(cap_ring_put_begin(r) == NULL);
    cap_ring_free(r);

    r = cap_ring_new(2, 8);
    for (int i = 0; i < 2; i++) {
        cap_ring_put_begin(r);
        cap_ring_put_end(r);
    }
    struct waiter p = { .r = r, .put = true };
    CHECK(pthread_create(&t, NULL, wait_thread, &p) == 0);
    pause_ms(20);
    cap_ring_shutdown(r);
    pthread_join(t, NULL);
    CHECK(p.got == NULL);
    cap_ring_free(r);
}

static void full_slots_are_taken_after_shutdown(void)
{
    struct cap_ring *r = cap_ring_new(3, 8);
    for (uint32_t i = 0; i < 2; i++) {
        uint32_t *slot = cap_ring_put_begin(r);
        *slot = i + 10;
        cap_ring_put_end(r);
    }
    uint32_t *half = cap_ring_put_begin(r);     /* being filled when shut down */
    cap_ring_shutdown(r);
    cap_ring_put_end(r);                        /* dropped */
    (void)half;
    for (uint32_t i = 0; i < 2; i++) {
        uint32_t *slot = cap_ring_take_begin(r);
        CHECK(slot != NULL);
        if (slot)
            CHECK_EQ_INT(*slot, i + 10);
        cap_ring_take_end(r);
    }
    CHECK(cap_ring_take_begin(r) == NULL);
    cap_ring_free(r);
}

#define MANY 1000000u
#define PER_SLOT 64u

static void *putter(void *arg)
{
    struct cap_ring *r = arg;
    for (uint32_t v = 0; v < MANY;) {
        uint32_t *slot = cap_ring_put_begin(r);
        if (!slot)
            return NULL;
        for (unsigned k = 0; k < PER_SLOT; k++)
            slot[k] = v < MANY ? v++ : UINT32_MAX;
        cap_ring_put_end(r);
    }
    return NULL;
}

static void two_threads_pass_everything_in_order(void)
{
    struct cap_ring *r = cap_ring_new(4, PER_SLOT * sizeof(uint32_t));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, putter, r) == 0);
    uint32_t expect = 0;
    bool ordered = true;
    while (expect < MANY) {
        const uint32_t *slot = cap_ring_take_begin(r);
        if (!slot)
            break;
        for (unsigned k = 0; k < PER_SLOT && expect < MANY; k++)
            ordered = ordered && slot[k] == expect++;
        cap_ring_take_end(r);
    }
    pthread_join(t, NULL);
    CHECK(ordered);
    CHECK_EQ_INT(expect, MANY);
    cap_ring_free(r);
}

static void taker_stops_a_running_putter(void)
{
    struct cap_ring *r = cap_ring_new(2, PER_SLOT * sizeof(uint32_t));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, putter, r) == 0);
    for (int i = 0; i < 3; i++) {
        CHECK(cap_ring_take_begin(r) != NULL);
        cap_ring_take_end(r);
    }
    cap_ring_shutdown(r);       /* the putter returns from its wait */
    pthread_join(t, NULL);
    cap_ring_free(r);
}

static void bad_sizes_refused(void)
{
    CHECK(cap_ring_new(1, 8) == NULL);
    CHECK(cap_ring_new(2, 0) == NULL);
    cap_ring_free(NULL);
}

int main(void)
{
    RUN(empty_ring_takes_nothing_until_put);
    RUN(full_ring_puts_nothing_until_half_taken);
    RUN(slots_wrap_in_order);
    RUN(shutdown_wakes_a_waiting_taker_and_putter);
    RUN(full_slots_are_taken_after_shutdown);
    RUN(two_threads_pass_everything_in_order);
    RUN(taker_stops_a_running_putter);
    RUN(bad_sizes_refused);
    return check_summary();
}
