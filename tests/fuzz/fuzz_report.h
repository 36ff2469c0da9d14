/* fuzz_report.h: the end of the analysis pipeline shared by the harnesses:
 * decide, then write the report in all three formats to /dev/null.  */
#ifndef ACRDIAG_FUZZ_REPORT_H
#define ACRDIAG_FUZZ_REPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"

/* Stops the run with a crash libFuzzer and the replay driver both see. */
#define FUZZ_CHECK(cond)                                                           \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                               \
        }                                                                          \
    } while (0)

/* True when s is terminated within n bytes. */
static inline bool fuzz_terminated(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

/* Finishes e, writes the report three ways and frees both. */
static inline void fuzz_finish_and_write(struct an_engine *e)
{
    static FILE *devnull;
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    FUZZ_CHECK(devnull != NULL);
    struct an_report r;
    an_engine_finish(e, "analyze", &r);
    an_engine_free(e);
    FUZZ_CHECK(r.n_endpoints <= LIM_ENDPOINTS);
    FUZZ_CHECK(fuzz_terminated(r.summary, sizeof(r.summary)));
    struct an_write_options wo = { .color = true };
    an_write_json(devnull, &r, "fuzz");
    an_write_text(devnull, &r, &wo);
    an_write_markdown(devnull, &r, "fuzz");
    fflush(devnull);
    an_report_free(&r);
}

#endif
