/* facts.h: facts the wire cannot carry (a connect() errno, OpenSSL's chain
 * verification, a decrypted HTTP answer), as the probe writes them into
 * pcapng comments, and how they change a finished report.
 *
 * Meant to fold into analysis.h (or engine.h behind an an_engine_fact()
 * entry point) once the engine accepts facts; kept apart until then.  */
#ifndef ACRDIAG_FACTS_H
#define ACRDIAG_FACTS_H

#include <stddef.h>

#include "analysis.h"

/* Every fact is one line: this prefix, then space-separated key=value
 * pairs, the first being fact=KIND.  Values are percent-encoded (any byte
 * outside [A-Za-z0-9._:/@,+*[]-] becomes %HH), so a value never holds a
 * space or an '='.  */
#define AN_FACT_PREFIX "acrdiag-fact: "

/* Percent-encodes src into dst (always terminated; cut at an escape
 * boundary when it does not fit).  */
void an_fact_escape(char *dst, size_t dstlen, const char *src);

/* The value of `key` in one fact line, decoded into out; false when the
 * line is not a fact or has no such key.  */
bool an_fact_get(const char *fact, const char *key, char *out, size_t outlen);

/* Applies facts to a finished report (an_engine_finish): endpoints the
 * capture could not decide (ok at the TCP/TLS layer, or absent because
 * nothing was captured) get the verdict the facts prove; probe evidence
 * is added (frame 0); the order and top-level verdict and summary are
 * recomputed.  Lines that are not facts are ignored.  */
void an_facts_apply(struct an_report *r, const struct an_options *opt, const char *const *facts, size_t n);

#endif
