/* text.c: the default report for people under stress: the verdict first, then per endpoint the reason, evidence, findings and what to do; every string is made safe for a terminal. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "analysis/analysis.h"
#include "analysis/clientlog.h"
#include "analysis/wirestr.h"

/* Writes at most max bytes of s (stopping at a NUL): printable UTF-8 as it
 * is, every other byte as \xHH.  */
static void put_safe(FILE *out, const char *s, size_t max)
{
    an_put_wire(out, s, max, NULL);
}

/* A piece of a remedy (an_remedy_write): names from the wire escaped. */
static void put_remedy_piece(void *ctx, const char *s, size_t n, bool from_wire)
{
    FILE *out = ctx;
    if (from_wire)
        put_safe(out, s, n);
    else
        fwrite(s, 1, n, out);
}

static void put_verdict(FILE *out, enum an_verdict v, const struct an_write_options *o)
{
    bool color = o && o->color;

    if (color)
        fputs(v == AN_OK ? "\x1b[1;32m" : v == AN_INCOMPLETE ? "\x1b[1;33m" : "\x1b[1;31m", out);
    fputs(an_verdict_name(v), out);
    if (color)
        fputs("\x1b[0m", out);
}

/* "20.62.128.38:443" or "[2001:db8::1]:443". */
static void put_address(FILE *out, const struct cap_addr *a, uint16_t port)
{
    char buf[64];

    cap_addr_str(a, buf, sizeof buf);
    if (a->family == 6)
        fputc('[', out);
    put_safe(out, buf, sizeof buf);
    if (a->family == 6)
        fputc(']', out);
    fprintf(out, ":%u", (unsigned)port);
}

static void put_findings(FILE *out, const char *label, uint32_t findings)
{
    const char *sep = "";

    if (!findings)
        return;
    fputs(label, out);
    for (unsigned f = 0; f < AN_FINDING_COUNT; f++) {
        if (findings & (1u << f)) {
            fputs(sep, out);
            fputs(an_finding_name((enum an_finding)f), out);
            sep = ", ";
        }
    }
    fputc('\n', out);
}

/* " (ring-3.pcap frame 12)" after a frame number, when a report read
 * several files and the frame's file is known. */
static void put_where(FILE *out, const struct an_evidence *e, bool files)
{
    if (!files || !e->file)
        return;
    fputs(" (", out);
    put_safe(out, e->file, 4096);
    fprintf(out, " frame %" PRIu64 ")", e->frame_in_file);
}

/* port: the registry's (--port), which the advice names: for an endpoint
 * reached through a proxy, ep->port is the proxy's.  */
static void put_endpoint(FILE *out, const struct an_endpoint *ep, const struct an_write_options *o, bool files,
                         unsigned port)
{
    unsigned n_ev = ep->n_evidence < AN_MAX_EVIDENCE ? ep->n_evidence : AN_MAX_EVIDENCE;
    unsigned n_det = ep->n_detail < AN_MAX_DETAIL ? ep->n_detail : AN_MAX_DETAIL;
    const char *sep = "";

    fputs("endpoint ", out);
    if (ep->name[0]) {
        put_safe(out, ep->name, sizeof ep->name);
        fputs(" (", out);
    }
    if (ep->has_ip)
        put_address(out, &ep->ip, ep->port);
    else
        fputs("no address", out);
    if (ep->name[0])
        fputc(')', out);
    fputs(": ", out);
    put_verdict(out, ep->verdict, o);
    fprintf(out, ", confidence %s", an_confidence_name(ep->confidence));
    if (ep->candidates) {
        fputs(", candidates ", out);
        for (unsigned v = 0; v < AN_VERDICT_COUNT; v++) {
            if (ep->candidates & (1u << v)) {
                fputs(sep, out);
                fputs(an_verdict_name((enum an_verdict)v), out);
                sep = " ";
            }
        }
    }
    fputc('\n', out);

    if (ep->reason[0]) {
        fputs("  ", out);
        put_safe(out, ep->reason, sizeof ep->reason);
        fputc('\n', out);
    }
    for (unsigned i = 0; i < n_ev; i++) {
        const struct an_evidence *e = &ep->evidence[i];

        if (e->frame) {
            fprintf(out, "  frame %" PRIu64, e->frame);
            put_where(out, e, files);
            fputs("  ", out);
        } else {
            /* A line of the client's log (clientlog.c) is no probe step. */
            fputs(strncmp(e->what, "client log line ", 16) == 0 ? "  client  " : "  probe  ", out);
        }
        put_safe(out, e->what, sizeof e->what);
        fputc('\n', out);
    }
    for (unsigned i = 0; i < ep->n_contradictions && i < AN_MAX_CONTRADICTIONS; i++) {
        const struct an_evidence *e = &ep->contradictions[i];

        fputs("  against it: ", out);
        if (e->frame) {
            fprintf(out, "frame %" PRIu64, e->frame);
            put_where(out, e, files);
            fputs("  ", out);
        }
        put_safe(out, e->what, sizeof e->what);
        fputc('\n', out);
    }
    put_findings(out, "  findings: ", ep->findings);
    for (unsigned i = 0; i < n_det; i++) {
        fputs(i ? ", " : "  detail: ", out);
        put_safe(out, ep->detail[i].key, sizeof ep->detail[i].key);
        fputc('=', out);
        put_safe(out, ep->detail[i].value, sizeof ep->detail[i].value);
    }
    if (n_det)
        fputc('\n', out);
    fputs("  What to do: ", out);
    an_remedy_write(ep->verdict, ep->name, sizeof ep->name, port, put_remedy_piece, out);
    fputc('\n', out);
}

/* "2026-11-27 20:49:30 UTC" for a time in nanoseconds since the epoch. */
static void put_utc(FILE *out, int64_t ns)
{
    int64_t secs = ns / 1000000000;
    time_t t;
    struct tm tm;
    char buf[32];

    if (ns % 1000000000 < 0)
        secs--;
    t = (time_t)secs;
    if (gmtime_r(&t, &tm) && strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm))
        fputs(buf, out);
    else
        fputs("(time out of range)", out);
}

/* "The client said:" the lines of the client's log that name a known
 * failure, each with how it stands to the wire's verdict.  */
static void put_client(FILE *out, const struct an_client *c)
{
    fputs("\nThe client said (", out);
    put_safe(out, c->source[0] ? c->source : "client", sizeof c->source);
    if (c->has_exit)
        fprintf(out, ", exit status %d", c->exit_status);
    else if (c->still_running)
        fputs(", still running when the watch stopped", out);
    fprintf(out, ", %lu line%s%s):\n", c->lines_read, c->lines_read == 1 ? "" : "s",
            c->truncated ? ", only the first 64 MiB read" : "");
    if (!c->n_lines)
        fputs("  nothing acrdiag recognizes as a known failure\n", out);
    for (unsigned i = 0; i < c->n_lines && i < CL_KIND_COUNT; i++) {
        const struct cl_line *l = &c->lines[i];

        fprintf(out, "  line %lu: ", l->lineno);
        put_safe(out, l->text, sizeof l->text);
        fprintf(out, "  [%s", cl_kind_name(l->kind));
        if (l->repeats > 1)
            fprintf(out, ", %lu times", l->repeats);
        fprintf(out, "]\n    %s: ", cl_agreement_name(l->agreement));
        put_safe(out, l->explanation, sizeof l->explanation);
        fputc('\n', out);
    }
}

static void put_capture(FILE *out, const struct an_capture_info *c)
{
    fputs("capture: ", out);
    if (c->n_files > 8) {
        /* A ring: its count, first and last name, not a screenful of names. */
        const char *first = an_capture_file(c, 0), *last = an_capture_file(c, c->n_files - 1);
        fprintf(out, "%u files, ", c->n_files);
        put_safe(out, first ? first : "(unnamed)", 4096);
        fputs(" ... ", out);
        put_safe(out, last ? last : "(unnamed)", 4096);
    }
    for (unsigned i = 0; c->n_files <= 8 && i < c->n_files; i++) {
        const char *name = an_capture_file(c, i);
        if (i)
            fputs(", ", out);
        put_safe(out, name ? name : "(unnamed)", 4096);
    }
    if (!c->n_files)
        fputs("(no file)", out);
    fprintf(out, "; %" PRIu64 " packets", c->packets);
    if (c->packets) {
        fputs(" from ", out);
        put_utc(out, c->first_ts_ns);
        fprintf(out, " over %.3f s", (double)(c->last_ts_ns - c->first_ts_ns) / 1e9);
    }
    if (c->packets_snapped)
        fprintf(out, "; %" PRIu64 " cut by the snap length", c->packets_snapped);
    if (c->packets_undecoded)
        fprintf(out, "; %" PRIu64 " not decoded", c->packets_undecoded);
    fputc('\n', out);
    if (c->damaged) {
        fputs("capture damaged: ", out);
        put_safe(out, c->damage, sizeof c->damage);
        fputc('\n', out);
    }
}

int an_write_text(FILE *out, const struct an_report *r, const struct an_write_options *o)
{
    errno = 0;
    fputs("VERDICT ", out);
    put_verdict(out, r->verdict, o);
    if (r->summary[0]) {
        fputs(": ", out);
        put_safe(out, r->summary, sizeof r->summary);
    }
    fputc('\n', out);
    if (r->client)
        put_client(out, r->client);

    for (unsigned i = 0; i < r->n_endpoints; i++) {
        fputc('\n', out);
        put_endpoint(out, &r->endpoints[i], o, r->capture.n_files > 1, an_report_port(r));
    }
    if (!r->n_endpoints && r->verdict != AN_OK) {
        /* No endpoint to attach it to: the report's own advice. */
        fputs("\nWhat to do: ", out);
        an_remedy_write(r->verdict, "", 1, an_report_port(r), put_remedy_piece, out);
        fputc('\n', out);
    }
    for (unsigned i = 0; i < r->n_controls && i < AN_MAX_CONTROLS; i++) {
        const struct an_control *c = &r->controls[i];
        char ip[64] = "";

        fputs(i ? "" : "\ncontrols (destinations that show whether the path elsewhere works):\n", out);
        fputs("  control ", out);
        put_safe(out, c->given, sizeof c->given);
        if (c->has_ip) {
            cap_addr_str(&c->ip, ip, sizeof ip);
            if (strcmp(ip, c->given) != 0) {
                fputs(" (", out);
                put_safe(out, ip, sizeof ip);
                fputc(')', out);
            }
        }
        fputs(c->answered ? ": answered; " : c->probed ? ": did not answer; " : ": ", out);
        put_safe(out, c->result, sizeof c->result);
        fputc('\n', out);
    }
    fputc('\n', out);
    put_capture(out, &r->capture);
    put_findings(out, "capture findings: ", r->findings);

    if (fflush(out) != 0 || ferror(out)) {
        if (!errno)
            errno = EIO;
        return -1;
    }
    return 0;
}
