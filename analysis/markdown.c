/* markdown.c: a ticket-ready Markdown report: capture metadata, endpoint table, per-endpoint evidence with tshark filters, remedies and flows; every string is escaped so it cannot inject markup. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "analysis/analysis.h"
#include "analysis/clientlog.h"
#include "analysis/wirestr.h"

static bool is_space(int c)
{
    return c == 0 || c == ' ' || c == '\t';
}

static bool is_punct(int c)
{
    return c > 0x20 && c < 0x7f && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

static bool is_alnum(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Whether the ASCII character c, between prev and next (0: the field's
 * edge, taken as a space), must be escaped so it cannot start or end
 * Markdown markup (CommonMark 0.30 and GFM), and nothing else is escaped:
 *   `  a code span, and | a table cell's end: always;
 *   \  only before punctuation (elsewhere it is a literal backslash);
 *   *  ~  only where it can close emphasis or strikethrough (right-flanking,
 *         6.2): an opener that nothing closes stays text, so "*.azurecr.io"
 *         after a space needs no backslash;
 *   _  the same, and never inside a word (unknown_ca);
 *   ]  only before ( or [ (no link can form without it: no line of a
 *         report starts with a field, so no link definition exists);
 *   <  only before a letter, /, ! or ? (an HTML tag or an autolink);
 *   &  only before a letter or # (an entity reference).  */
static bool md_escape(int c, int prev, int next)
{
    bool right_flanking = !is_space(prev) && (!is_punct(prev) || is_space(next) || is_punct(next));
    bool left_flanking = !is_space(next) && (!is_punct(next) || is_space(prev) || is_punct(prev));
    switch (c) {
    case '`':
    case '|':
        return true;
    case '\\':
        return is_punct(next);
    case '*':
    case '~':
        return right_flanking;
    case '_':
        return right_flanking && (!left_flanking || is_punct(next)) && !(is_alnum(prev) && is_alnum(next));
    case ']':
        return next == '(' || next == '[';
    case '<':
        return is_alnum(next) || next == '/' || next == '!' || next == '?';
    case '&':
        return is_alnum(next) || next == '#';
    }
    return false;
}

/* Writes at most max bytes of s (stopping at a NUL) as Markdown text:
 * printable UTF-8 as it is, a backslash only before an ASCII character that
 * could start or end markup here (md_escape), every byte that is not
 * printable UTF-8 as \xHH.  Never used inside code spans, where
 * backslashes are literal.  */
static void put_md(FILE *out, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    int prev = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c >= 0x80 || c < 0x20 || c == 0x7f) {
            /* Not plain ASCII: the shared check shows or escapes it. */
            size_t j = i + 1;
            while (j < n && (unsigned char)s[j] >= 0x80)
                j++;
            an_put_wire(out, s + i, j - i, NULL);
            i = j - 1;
            prev = 'a';     /* a letter or an escape: not a space, not punctuation */
            continue;
        }
        int next = i + 1 < n ? (unsigned char)s[i + 1] : 0;
        if (md_escape(c, prev, next))
            fputc('\\', out);
        fputc(c, out);
        prev = c;
    }
}

/* A piece of a remedy (an_remedy_write), Markdown-escaped. */
static void put_remedy_piece(void *ctx, const char *s, size_t n, bool from_wire)
{
    (void)from_wire;
    put_md(ctx, s, n);
}

static void put_addr(FILE *out, const struct cap_addr *a)
{
    char buf[64];

    cap_addr_str(a, buf, sizeof buf);
    put_md(out, buf, sizeof buf);
}

/* "20.62.128.38:443" or "[2001:db8::1]:443". */
static void put_addr_port(FILE *out, const struct cap_addr *a, uint16_t port)
{
    if (a->family == 6)
        fputc('[', out);
    put_addr(out, a);
    if (a->family == 6)
        fputc(']', out);
    fprintf(out, ":%u", (unsigned)port);
}

static void put_endpoint_label(FILE *out, const struct an_endpoint *ep)
{
    if (ep->name[0]) {
        put_md(out, ep->name, sizeof ep->name);
        fputs(" (", out);
    }
    if (ep->has_ip)
        put_addr_port(out, &ep->ip, ep->port);
    else
        fputs("no address", out);
    if (ep->name[0])
        fputc(')', out);
}

static void put_findings(FILE *out, uint32_t findings)
{
    const char *sep = "";

    for (unsigned f = 0; f < AN_FINDING_COUNT; f++) {
        if (findings & (1u << f)) {
            fprintf(out, "%s`%s`", sep, an_finding_name((enum an_finding)f));
            sep = ", ";
        }
    }
}

/* ISO 8601 UTC with microseconds: "2026-11-27T20:49:30.123456Z". */
static void put_iso(FILE *out, int64_t ns)
{
    int64_t secs = ns / 1000000000, frac = ns % 1000000000;
    time_t t;
    struct tm tm;
    char buf[32];

    if (frac < 0) {
        secs--;
        frac += 1000000000;
    }
    t = (time_t)secs;
    if (gmtime_r(&t, &tm) && strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm))
        fprintf(out, "%s.%06" PRId64 "Z", buf, frac / 1000);
    else
        fputs("(time out of range)", out);
}

static const char *linktype_name(uint32_t lt)
{
    switch (lt) {
    case CAP_LT_NULL: return "BSD loopback";
    case CAP_LT_ETHERNET: return "Ethernet";
    case CAP_LT_RAW: return "raw IP";
    case CAP_LT_LOOP: return "OpenBSD loopback";
    case CAP_LT_LINUX_SLL: return "Linux cooked";
    case CAP_LT_IPV4: return "raw IPv4";
    case CAP_LT_IPV6: return "raw IPv6";
    case CAP_LT_LINUX_SLL2: return "Linux cooked v2";
    }
    return "unsupported";
}

/* The options that shaped the result, as they would be typed again. */
static void put_options(FILE *out, const struct an_options *opt)
{
    fputs("| options | ", out);
    if (opt->host) {
        fputs("`--host` ", out);
        put_md(out, opt->host, LIM_DNS_NAME);
        fputs(", ", out);
    }
    fprintf(out, "`--port %d`", opt->port);
    for (unsigned i = 0; i < opt->n_private_nets && i < AN_MAX_PRIVATE_NETS; i++) {
        char buf[64];

        cap_addr_str(&opt->private_nets[i].addr, buf, sizeof buf);
        fprintf(out, ", `--private-net %s/%u`", buf, opt->private_nets[i].len);
    }
    if (!opt->n_private_nets)
        fputs(", private address space: the default (RFC 1918, 100.64.0.0/10, fc00::/7)", out);
    fputs(" |\n", out);
}

static void put_capture(FILE *out, const struct an_report *r, const char *version)
{
    const struct an_capture_info *c = &r->capture;
    unsigned n_lt = c->n_linktypes < 8 ? c->n_linktypes : 8;

    fputs("## Capture\n\n| field | value |\n|---|---|\n| files | ", out);
    if (c->n_files > 8) {
        /* A ring: its count, first and last name; the JSON lists them all. */
        const char *first = an_capture_file(c, 0), *last = an_capture_file(c, c->n_files - 1);
        fprintf(out, "%u files: ", c->n_files);
        put_md(out, first ? first : "(unnamed)", 4096);
        fputs(" to ", out);
        put_md(out, last ? last : "(unnamed)", 4096);
    }
    for (unsigned i = 0; c->n_files <= 8 && i < c->n_files; i++) {
        const char *name = an_capture_file(c, i);
        if (i)
            fputs(", ", out);
        put_md(out, name ? name : "(unnamed)", 4096);
    }
    fprintf(out, " |\n| packets | %" PRIu64 " (%" PRIu64 " not decoded, %" PRIu64
                 " cut by the snap length) |\n",
            c->packets, c->packets_undecoded, c->packets_snapped);
    if (c->packets) {
        fputs("| first packet | ", out);
        put_iso(out, c->first_ts_ns);
        fputs(" |\n| last packet | ", out);
        put_iso(out, c->last_ts_ns);
        fprintf(out, " |\n| span | %.6f s |\n", (double)(c->last_ts_ns - c->first_ts_ns) / 1e9);
    }
    fputs("| link types | ", out);
    for (unsigned i = 0; i < n_lt; i++)
        fprintf(out, "%s%" PRIu32 " (%s)", i ? ", " : "", c->linktypes[i],
                linktype_name(c->linktypes[i]));
    fputs(" |\n", out);
    if (c->damaged) {
        fputs("| damaged | ", out);
        put_md(out, c->damage, sizeof c->damage);
        fputs(" |\n", out);
    }
    if (r->findings) {
        fputs("| findings | ", out);
        put_findings(out, r->findings);
        fputs(" |\n", out);
    }
    fputs("| tool | acrdiag ", out);
    put_md(out, version ? version : "", 64);
    fputs(", mode ", out);
    put_md(out, r->mode ? r->mode : "", 32);
    fputs(" |\n", out);
    if (r->options)
        put_options(out, r->options);
    fputc('\n', out);
}

/* Whether a name can go into a display filter's quoted string as it is. */
static bool filter_safe(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '-'))
            return false;
    }
    return true;
}

/* A tshark display filter showing every packet of the endpoint. */
static void put_endpoint_filter(FILE *out, const struct an_endpoint *ep)
{
    char name[LIM_DNS_NAME];

    if (ep->has_ip) {
        fprintf(out, "`%s == ", ep->ip.family == 6 ? "ipv6.addr" : "ip.addr");
        put_addr(out, &ep->ip);
        fprintf(out, " && tcp.port == %u`", (unsigned)ep->port);
        return;
    }
    memcpy(name, ep->name, sizeof name);
    name[sizeof name - 1] = '\0';
    if (filter_safe(name))
        fprintf(out, "`dns.qry.name == \"%s\"`", name);
    else
        fputs("`dns`", out);
}

/* "time" cell of an evidence row: its ISO time, or empty. */
static void put_ev_time(FILE *out, const struct an_evidence *e)
{
    if (e->frame && e->has_ts)
        put_iso(out, e->ts_ns);
}

/* "file" cell: the file and the frame within it. */
static void put_ev_file(FILE *out, const struct an_evidence *e)
{
    if (!e->frame || !e->file)
        return;
    put_md(out, e->file, 4096);
    fprintf(out, " (frame %" PRIu64 ")", e->frame_in_file);
}

/* port: the registry's (--port), which the advice names. */
static void put_endpoint(FILE *out, const struct an_endpoint *ep, bool files, unsigned port)
{
    unsigned n_ev = ep->n_evidence < AN_MAX_EVIDENCE ? ep->n_evidence : AN_MAX_EVIDENCE;
    unsigned n_det = ep->n_detail < AN_MAX_DETAIL ? ep->n_detail : AN_MAX_DETAIL;
    unsigned n_fl = ep->n_flows_listed < AN_MAX_FLOWS_LISTED ? ep->n_flows_listed
                                                              : AN_MAX_FLOWS_LISTED;
    const char *sep = "";

    fputs("### ", out);
    put_endpoint_label(out, ep);
    fprintf(out, ": `%s`\n\n", an_verdict_name(ep->verdict));
    fprintf(out, "**Confidence:** %s", an_confidence_name(ep->confidence));
    if (ep->candidates) {
        fputs("; **candidates:** ", out);
        for (unsigned v = 0; v < AN_VERDICT_COUNT; v++) {
            if (ep->candidates & (1u << v)) {
                fprintf(out, "%s`%s`", sep, an_verdict_name((enum an_verdict)v));
                sep = ", ";
            }
        }
    }
    fputs("\n\n**Reason:** ", out);
    put_md(out, ep->reason, sizeof ep->reason);
    fputs("\n\n**Evidence** (all of this endpoint: ", out);
    put_endpoint_filter(out, ep);
    fputs(")\n\n", out);
    if (n_ev) {
        fprintf(out, "| frame | time (UTC) |%s what | display filter |\n|---|---|%s---|---|\n",
                files ? " file |" : "", files ? "---|" : "");
        for (unsigned i = 0; i < n_ev; i++) {
            const struct an_evidence *e = &ep->evidence[i];

            if (e->frame)
                fprintf(out, "| %" PRIu64 " | ", e->frame);
            else
                fputs("| probe | ", out);
            put_ev_time(out, e);
            fputs(" | ", out);
            if (files) {
                put_ev_file(out, e);
                fputs(" | ", out);
            }
            put_md(out, e->what, sizeof e->what);
            /* Wireshark opens one file of a ring at a time: the filter
             * names the frame within that file.  */
            if (e->frame)
                fprintf(out, " | `frame.number == %" PRIu64 "` |\n", files && e->file ? e->frame_in_file : e->frame);
            else
                fputs(" | |\n", out);
        }
        fputc('\n', out);
    }
    for (unsigned i = 0; i < ep->n_contradictions && i < AN_MAX_CONTRADICTIONS; i++) {
        const struct an_evidence *e = &ep->contradictions[i];

        fputs("**Against it:** ", out);
        if (e->frame) {
            fprintf(out, "frame %" PRIu64, e->frame);
            if (files && e->file) {
                fputs(" in ", out);
                put_ev_file(out, e);
            }
            if (e->has_ts) {
                fputs(" at ", out);
                put_iso(out, e->ts_ns);
            }
            fputs(": ", out);
        }
        put_md(out, e->what, sizeof e->what);
        fputs("\n\n", out);
    }
    if (ep->findings) {
        fputs("**Findings:** ", out);
        put_findings(out, ep->findings);
        fputs("\n\n", out);
    }
    if (n_det) {
        fputs("**Detail:**", out);
        for (unsigned i = 0; i < n_det; i++) {
            fputs(i ? ", " : " ", out);
            put_md(out, ep->detail[i].key, sizeof ep->detail[i].key);
            fputs(" = ", out);
            put_md(out, ep->detail[i].value, sizeof ep->detail[i].value);
        }
        fputs("\n\n", out);
    }
    fputs("**What to do:** ", out);
    an_remedy_write(ep->verdict, ep->name, sizeof ep->name, port, put_remedy_piece, out);
    fprintf(out, "\n\n**Flows:** %u", ep->n_flows);
    if (n_fl < ep->n_flows)
        fprintf(out, " (first %u listed)", n_fl);
    fputs("\n\n", out);
    if (!n_fl)
        return;
    fputs("| first frame | client | conn_state | history | outcome |\n|---|---|---|---|---|\n", out);
    for (unsigned i = 0; i < n_fl; i++) {
        const struct an_flow_line *f = &ep->flows[i];

        fprintf(out, "| %" PRIu64 " | ", f->first_frame);
        put_addr_port(out, &f->client, f->client_port);
        fputs(" | ", out);
        put_md(out, f->conn_state, sizeof f->conn_state);
        fputs(" | ", out);
        put_md(out, f->history, sizeof f->history);
        fprintf(out, " | `%s` |\n", an_verdict_name(f->outcome));
    }
    fputc('\n', out);
}

/* "The client said:" the client's log lines beside the wire's verdict. */
static void put_client(FILE *out, const struct an_client *c)
{
    fputs("**The client said** (", out);
    put_md(out, c->source[0] ? c->source : "client", sizeof c->source);
    if (c->has_exit)
        fprintf(out, ", exit status %d", c->exit_status);
    else if (c->still_running)
        fputs(", still running when the watch stopped", out);
    fprintf(out, ", %lu line%s%s):\n\n", c->lines_read, c->lines_read == 1 ? "" : "s",
            c->truncated ? ", only the first 64 MiB read" : "");
    if (!c->n_lines)
        fputs("- nothing acrdiag recognizes as a known failure\n", out);
    for (unsigned i = 0; i < c->n_lines && i < CL_KIND_COUNT; i++) {
        const struct cl_line *l = &c->lines[i];

        fprintf(out, "- line %lu (`%s`", l->lineno, cl_kind_name(l->kind));
        if (l->repeats > 1)
            fprintf(out, ", %lu times", l->repeats);
        fprintf(out, ", %s): ", cl_agreement_name(l->agreement));
        put_md(out, l->text, sizeof l->text);
        fputs("; ", out);
        put_md(out, l->explanation, sizeof l->explanation);
        fputc('\n', out);
    }
    fputc('\n', out);
}

int an_write_markdown(FILE *out, const struct an_report *r, const char *version)
{
    errno = 0;
    fprintf(out, "# acrdiag report: `%s`\n\n**Verdict:** `%s`: ", an_verdict_name(r->verdict),
            an_verdict_name(r->verdict));
    put_md(out, r->summary, sizeof r->summary);
    fputs("\n\n", out);
    if (r->client)
        put_client(out, r->client);
    put_capture(out, r, version);

    if (r->n_endpoints) {
        fputs("## Endpoints\n\n| name | address | verdict | confidence | flows |\n"
              "|---|---|---|---|---|\n",
              out);
        for (unsigned i = 0; i < r->n_endpoints; i++) {
            const struct an_endpoint *ep = &r->endpoints[i];

            fputs("| ", out);
            put_md(out, ep->name, sizeof ep->name);
            fputs(" | ", out);
            if (ep->has_ip)
                put_addr_port(out, &ep->ip, ep->port);
            fprintf(out, " | `%s` | %s | %u |\n", an_verdict_name(ep->verdict),
                    an_confidence_name(ep->confidence), ep->n_flows);
        }
        fputs("\n## Endpoint details\n\n", out);
        for (unsigned i = 0; i < r->n_endpoints; i++)
            put_endpoint(out, &r->endpoints[i], r->capture.n_files > 1, an_report_port(r));
    }
    if (!r->n_endpoints && r->verdict != AN_OK) {
        /* No endpoint to attach it to: the report's own advice. */
        fputs("## What to do\n\n", out);
        an_remedy_write(r->verdict, "", 1, an_report_port(r), put_remedy_piece, out);
        fputs("\n\n", out);
    }
    if (r->n_controls) {
        fputs("## Controls\n\nDestinations probed to show whether the path elsewhere works; not endpoints of the registry.\n\n"
              "| control | address | answered | result |\n|---|---|---|---|\n",
              out);
        for (unsigned i = 0; i < r->n_controls && i < AN_MAX_CONTROLS; i++) {
            const struct an_control *c = &r->controls[i];

            fputs("| ", out);
            put_md(out, c->given, sizeof c->given);
            fputs(" | ", out);
            if (c->has_ip)
                put_addr(out, &c->ip);
            fprintf(out, " | %s | ", c->answered ? "yes" : c->probed ? "no" : "not probed");
            put_md(out, c->result, sizeof c->result);
            fputs(" |\n", out);
        }
        fputc('\n', out);
    }

    if (fflush(out) != 0 || ferror(out)) {
        if (!errno)
            errno = EIO;
        return -1;
    }
    return 0;
}
