/* pushfacts.h: the probe's push check (probe/push.c) in the report. */
#ifndef ACRDIAG_PUSHFACTS_H
#define ACRDIAG_PUSHFACTS_H

#include <stddef.h>

#include "analysis/analysis.h"

/* Applies the `fact=push` and `fact=pushcheck` lines to the report's
 * endpoints (the login server, and any host the upload's Location named),
 * after an_facts_apply decided from the other facts; and compares the IP a
 * 403 DENIED names with `fact=local`'s addresses.  */
void an_push_facts_apply(struct an_report *r, const struct an_options *opt, const struct an_fact *const *facts,
                         size_t n);

#endif
