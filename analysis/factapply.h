/* factapply.h: what the files that apply probe facts to a report share
 * (facts.c, factsilent.c, pushfacts.c, proxyfacts.c): the endpoint edits a
 * fact makes (factep.c: evidence at frame 0, details, verdicts decided by
 * the probe rather than a wire rule, new endpoints) and the controls and
 * differential probes of a silent endpoint (factsilent.c).  */
#ifndef ACRDIAG_FACTAPPLY_H
#define ACRDIAG_FACTAPPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis/engine.h"

/* ---- factep.c ------------------------------------------------------------------ */

/* Adds the probe's evidence (frame 0); kind: its stable name
 * (docs/verdicts.md "Evidence kinds").  Nothing when the list is full. */
void an_fact_ev(struct an_endpoint *ep, const char *kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets a detail; one already there is replaced, or kept when !replace. */
void an_fact_detail(struct an_endpoint *ep, const char *key, const char *value, bool replace);
/* The probe's facts decide the endpoint (no wire rule). */
void an_fact_verdict(struct an_endpoint *ep, enum an_verdict v, enum an_confidence c, uint32_t candidates,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A new endpoint at the end of r's list, incomplete and otherwise empty;
 * NULL when memory is exhausted.  It may move the list: pointers into it
 * taken before are stale.  */
struct an_endpoint *an_fact_new_endpoint(struct an_report *r);
/* The endpoint with this address and port, or NULL. */
struct an_endpoint *an_fact_find_endpoint(struct an_report *r, const struct cap_addr *a, uint16_t port);
/* "198.19.10.10:443" or "[2001:db8::1]:443" (a fact's endpoint value). */
bool an_fact_endpoint_parse(const char *s, struct cap_addr *a, uint16_t *port);
/* The registry's certificates come from Microsoft CAs (acr-network-facts.md
 * section 4).  */
bool an_fact_microsoft_issuer(const char *cn, const char *o);

/* ---- factsilent.c -------------------------------------------------------------- */

/* The probe's --control destinations (fact=control) into r->controls; the
 * control's own connections and lookups leave the endpoint list.  port:
 * the registry port, for a control fact that names none.  */
void an_fact_controls(struct an_report *r, const struct an_fact *const *facts, size_t n, uint16_t port);
/* A silent endpoint (silent_drop, nsg_drop, route_blackhole): the
 * differential probes and the controls decide between an NSG rule and a
 * route, or the reason says what was tried.  */
void an_fact_silent(struct an_report *r, struct an_endpoint *ep, const struct an_fact *const *facts, size_t n);
/* An http fact's status, headers and errors[] into a (its request kept). */
void an_http_answer_read(const struct an_fact *f, struct an_http_answer *a);

#endif
