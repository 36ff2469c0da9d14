/* analyze.c: `acrdiag analyze FILE...`: every file through the feed into
 * one engine, the client's log beside it, the report.  */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "analysis/clientlog.h"
#include "analysis/feed.h"
#include "cli.h"

/* Files this large (on disk) or larger are read on a second thread when
 * --threads is not given (README "Benchmark", two cores).  Smaller ones
 * are done in milliseconds, and on a busy machine the second thread's
 * start and each wait for the other to be scheduled cost about as much:
 * at load 9 on two CPUs a 1.8 KB capture took 12 ms longer on two threads,
 * a 2.2 MB one (6,600 packets) either way, a 9 MB one (27,000) 30% less
 * in every run.  */
#define TWO_THREADS_MIN_BYTES (8u << 20)

/* Whether file sp is read on a second thread: --threads, else its size
 * (a pipe's is unknown: two) when this process may run on two CPUs.  */
static bool two_threads(const struct cli *c, const struct span *sp)
{
    if (c->threads)
        return c->threads == 2;
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof(cpus), &cpus) != 0 || CPU_COUNT(&cpus) < 2)
        return false;
    return !sp->regular || sp->size >= (off_t)TWO_THREADS_MIN_BYTES;
}

/* Reads every file into the engine through the feed, one open at a time
 * (a ring of any length in bounded memory), and fills spans[].  Returns 0,
 * or 2 after printing one line when a file cannot be used at all.  */
static int read_files(const struct cli *c, struct an_engine *e, struct span *spans, struct progress *pg)
{
    uint64_t next_frame = 1;
    for (unsigned i = 0; i < c->n_files; i++) {
        char err[256];
        const char *name = cli_input_name(c->files[i]);
        struct span *sp = &spans[i];
        *sp = (struct span){ .first_frame = next_frame };
        evidence_span_stat(sp, c->files[i]);
        struct cap_file *f = cap_file_open(c->files[i], err, sizeof(err));
        if (!f) {
            fprintf(stderr, "acrdiag: %s: %s\n", name, err);
            return 2;
        }
        cap_file_set_keylog(f, c->keylog);
        struct cap_source src = cap_file_source(f);
        /* Frames are counted across the files: one capture. */
        struct an_feed feed = { .src = &src, .engine = e, .who = "acrdiag", .next_frame = next_frame };
        if (two_threads(c, sp))
            an_feed_thread_start(&feed, f, c->keylog);
        enum an_feed_status st;
        while ((st = an_feed_pump(&feed, 4096)) == AN_FEED_MORE)
            progress_tick(pg, "reading", i, c->n_files, c->files[i], feed.next_frame - 1,
                          an_feed_position(&feed), sp->regular ? (uint64_t)sp->size : 0);
        an_feed_thread_stop(&feed);
        next_frame = feed.next_frame;
        sp->records = feed.records;
        /* A prober's capture carries what the wire cannot in its comments. */
        const char *const *comments;
        unsigned n_comments = cap_file_comments(f, &comments);
        for (unsigned k = 0; k < n_comments; k++)
            an_engine_fact(e, comments[k]);
        cap_source_close(&src);
        if (st == AN_FEED_ERROR) {
            progress_done(pg);
            if (feed.records == 0) {
                fprintf(stderr, "acrdiag: %s: %s\n", name, feed.err);
                return 2;
            }
            char why[200];
            snprintf(why, sizeof(why), "%.60s: %.130s", name, feed.err);
            fprintf(stderr, "acrdiag: warning: %s; the verdicts use the %llu records before it\n", why,
                    (unsigned long long)feed.records);
            an_engine_damaged(e, why);
        }
        if (feed.records > 0 && feed.undecodable == feed.records) {
            progress_done(pg);
            fprintf(stderr, "acrdiag: %s: no IP packet could be decoded (link type %u)\n", name,
                    feed.undecodable_linktype);
            return 2;
        }
    }
    return 0;
}

/* --keylog FILE: read whole (at most LIM_KEYLOG_FILE bytes) into k.
 * Returns 0, or 2 after one line on stderr.  The secrets are never
 * printed.  */
static int read_keylog(const char *path, struct cap_keylog *k)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "acrdiag: --keylog %s: %s\n", path, strerror(errno));
        return 2;
    }
    uint8_t *buf = malloc(LIM_KEYLOG_FILE);
    size_t n = buf ? fread(buf, 1, LIM_KEYLOG_FILE, fp) : 0;
    bool err = ferror(fp);
    fclose(fp);
    if (!buf || err) {
        fprintf(stderr, "acrdiag: --keylog %s: %s\n", path, buf ? "read error" : "out of memory");
        free(buf);
        return 2;
    }
    cap_keylog_add(k, buf, n);
    OPENSSL_cleanse(buf, n);
    free(buf);
    return 0;
}

int cli_analyze(int argc, char **argv)
{
    struct cli c = { .format = FMT_TEXT, .color = -1, .an = { .port = 443 } };
    int rc = cli_parse_options(argc, argv, &c);
    if (rc) {
        free(c.files);
        return rc == CLI_PARSE_DONE ? 0 : rc;
    }
    struct output out;
    rc = output_open(&out, c.output);
    if (rc) {
        free(c.files);
        return rc;
    }
    c.keylog = cap_keylog_new();
    if (c.keylog && c.keylog_path && (rc = read_keylog(c.keylog_path, c.keylog)) != 0) {
        cap_keylog_free(c.keylog);
        free(c.files);
        output_abort(&out);
        return rc;
    }
    c.an.keylog = c.keylog;
    struct an_engine *e = an_engine_new(&c.an);
    struct span *spans = calloc(c.n_files, sizeof(*spans));
    if (!e || !spans) {
        cap_keylog_free(c.keylog);
        an_engine_free(e);
        free(spans);
        free(c.files);
        output_abort(&out);
        fprintf(stderr, "acrdiag: out of memory\n");
        return 2;
    }
    struct progress pg;
    progress_init(&pg);
    rc = read_files(&c, e, spans, &pg);
    progress_done(&pg);
    if (rc) {
        an_engine_free(e);
        cap_keylog_free(c.keylog);
        free(spans);
        free(c.files);
        output_abort(&out);
        return rc;
    }
    struct an_report r;
    an_engine_finish(e, "analyze", &r);
    an_engine_free(e);
    cap_keylog_free(c.keylog);
    r.options = &c.an;
    r.capture.n_files = c.n_files;
    r.capture.all_files = c.files;
    for (unsigned i = 0; i < c.n_files && i < 16; i++)
        r.capture.files[i] = c.files[i];
    evidence_locate(&c, spans, &r);
    free(spans);
    /* The client's own words, beside (or, inside TLS, beyond) the wire's. */
    struct an_client *cl = NULL;
    if (c.client_log) {
        cl = malloc(sizeof(*cl));
        if (cl)
            cl_init(cl, c.client_log, false);
        if (!cl || !cl_read_file(cl, c.client_log)) {
            fprintf(stderr, "acrdiag: --client-log %s: %s\n", c.client_log, cl ? strerror(errno) : "out of memory");
            free(cl);
            an_report_free(&r);
            free(c.files);
            output_abort(&out);
            return 2;
        }
        cl_apply(cl, &r);
    }

    errno = 0;
    int wrc = report_write(&c, out.fp, &r);
    int status = an_exit_status(r.verdict);
    an_report_free(&r);
    free(cl);
    free(c.files);
    if (output_close(&out, wrc) != 0)
        return 2;
    return status;
}

