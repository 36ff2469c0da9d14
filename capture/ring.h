/* ring.h: a bounded ring of fixed-size slots between two threads, one that
 * fills slots (the putter) and one that empties them (the taker), in
 * order.  Whole slots change hands, so a slot holds a batch of records and
 * the lock is taken once per batch, not per record.  The memory is the
 * slots allocated at the start: a putter faster than its taker waits.  */
#ifndef ACRDIAG_RING_H
#define ACRDIAG_RING_H

#include <stddef.h>

struct cap_ring;

/* `slots` slots (at least 2) of `slot_bytes` each, 64-byte aligned.
 * NULL when out of memory or a lock cannot be made.  */
struct cap_ring *cap_ring_new(unsigned slots, size_t slot_bytes);

/* The putter: an empty slot to fill; when every slot is full it waits
 * until half of them are empty again (fewer wake-ups); NULL once the ring
 * is shut down.  Then cap_ring_put_end hands it over.  */
void *cap_ring_put_begin(struct cap_ring *r);
void cap_ring_put_end(struct cap_ring *r);

/* The taker: the oldest full slot, waiting while there is none; NULL once
 * the ring is shut down and no full slot is left.  Then cap_ring_take_end
 * makes it empty again.  */
void *cap_ring_take_begin(struct cap_ring *r);
void cap_ring_take_end(struct cap_ring *r);

/* Either side: no slot is put any more; both sides stop waiting.  */
void cap_ring_shutdown(struct cap_ring *r);

/* After both sides are done with it.  NULL: nothing.  */
void cap_ring_free(struct cap_ring *r);

#endif
