/* json.c: the --json document of verdicts.md, built with jansson; every string goes through a path that makes it valid, printable UTF-8 first. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "analysis/analysis.h"
#include "analysis/clientlog.h"
#include "analysis/wirestr.h"

/* A JSON string from text the wire may have shaped; NULL only when memory
 * is exhausted.  */
static json_t *safe_string(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    char *buf = malloc(n * 4 + 1);
    json_t *j;

    if (!buf)
        return NULL;
    n = an_wire_copy(buf, s, n);
    j = json_stringn(buf, n);
    free(buf);
    return j;
}

/* The remedy's text, measured (buf NULL: 4 bytes a byte, the most
 * an_wire_copy writes) and then written.  */
struct remedy_buf {
    char *buf;
    size_t len;
};

static void remedy_piece(void *ctx, const char *s, size_t n, bool from_wire)
{
    struct remedy_buf *b = ctx;
    (void)from_wire;
    b->len += b->buf ? an_wire_copy(b->buf + b->len, s, n) : n * 4;
}

/* The remedy with the endpoint's name and port filled in. */
static json_t *remedy_string(enum an_verdict v, const char *name, size_t max, unsigned port)
{
    struct remedy_buf b = { NULL, 0 };
    an_remedy_write(v, name, max, port, remedy_piece, &b);
    b.buf = malloc(b.len + 1);
    if (!b.buf)
        return NULL;
    b.len = 0;
    an_remedy_write(v, name, max, port, remedy_piece, &b);
    json_t *j = json_stringn(b.buf, b.len);
    free(b.buf);
    return j;
}

/* Sets obj[key] = v, taking v; a failure (v NULL from an exhausted
 * allocation) clears *ok instead of crashing or dropping silently.  */
static void set(json_t *obj, const char *key, json_t *v, bool *ok)
{
    if (json_object_set_new(obj, key, v) != 0)
        *ok = false;
}

static void append(json_t *arr, json_t *v, bool *ok)
{
    if (json_array_append_new(arr, v) != 0)
        *ok = false;
}

static json_t *address(const struct cap_addr *a)
{
    char buf[64];

    cap_addr_str(a, buf, sizeof buf);
    return safe_string(buf, sizeof buf);
}

static json_t *findings(uint32_t bits, bool *ok)
{
    json_t *arr = json_array();

    for (unsigned f = 0; f < AN_FINDING_COUNT; f++)
        if (bits & (1u << f))
            append(arr, json_string(an_finding_name((enum an_finding)f)), ok);
    return arr;
}

/* ISO 8601 UTC with nanoseconds: "2026-11-27T20:49:30.123456789Z". */
static json_t *iso_time(int64_t ns)
{
    int64_t secs = ns / 1000000000, frac = ns % 1000000000;
    time_t t;
    struct tm tm;
    char date[32], buf[48];

    if (frac < 0) {
        secs--;
        frac += 1000000000;
    }
    t = (time_t)secs;
    if (!gmtime_r(&t, &tm) || !strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm))
        return json_null();
    snprintf(buf, sizeof buf, "%s.%09" PRId64 "Z", date, frac);
    return json_string(buf);
}

static json_t *flow(const struct an_flow_line *f, bool *ok)
{
    json_t *o = json_object();

    set(o, "first_frame", json_integer((json_int_t)f->first_frame), ok);
    set(o, "client", address(&f->client), ok);
    set(o, "client_port", json_integer(f->client_port), ok);
    set(o, "conn_state", safe_string(f->conn_state, sizeof f->conn_state), ok);
    set(o, "history", safe_string(f->history, sizeof f->history), ok);
    set(o, "outcome", json_string(an_verdict_name(f->outcome)), ok);
    return o;
}

/* [{"kind": "...", "frame": N, "file": "...", "frame_in_file": N, "ts": "...",
 * "what": "..."}]: kind always (docs/verdicts.md "Evidence kinds"; an item
 * added without one, a bug, says "unknown", which the schema refuses), frame
 * only for packets of the capture, file and frame_in_file when the file is
 * known, ts when the frame's time is.  */
static json_t *evidence_list(const struct an_evidence *list, unsigned n, unsigned max, bool *ok)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < n && i < max; i++) {
        const struct an_evidence *e = &list[i];
        json_t *item = json_object();

        set(item, "kind", json_string(e->kind && *e->kind ? e->kind : "unknown"), ok);
        if (e->frame) {
            set(item, "frame", json_integer((json_int_t)e->frame), ok);
            if (e->file) {
                set(item, "file", safe_string(e->file, 4096), ok);
                set(item, "frame_in_file", json_integer((json_int_t)e->frame_in_file), ok);
            }
            if (e->has_ts)
                set(item, "ts", iso_time(e->ts_ns), ok);
        }
        set(item, "what", safe_string(e->what, sizeof e->what), ok);
        append(a, item, ok);
    }
    return a;
}

/* port: the registry's (--port), which the advice names. */
static json_t *endpoint(const struct an_endpoint *ep, unsigned port, bool *ok)
{
    unsigned n_det = ep->n_detail < AN_MAX_DETAIL ? ep->n_detail : AN_MAX_DETAIL;
    unsigned n_fl = ep->n_flows_listed < AN_MAX_FLOWS_LISTED ? ep->n_flows_listed
                                                              : AN_MAX_FLOWS_LISTED;
    json_t *o = json_object(), *cands = json_array(), *flows = json_array();
    json_t *ev = evidence_list(ep->evidence, ep->n_evidence, AN_MAX_EVIDENCE, ok);

    set(o, "name", safe_string(ep->name, sizeof ep->name), ok);
    set(o, "ip", ep->has_ip ? address(&ep->ip) : json_null(), ok);
    set(o, "port", json_integer(ep->port), ok);
    set(o, "data_endpoint", json_boolean(ep->is_data_endpoint), ok);
    set(o, "verdict", json_string(an_verdict_name(ep->verdict)), ok);
    for (unsigned v = 0; v < AN_VERDICT_COUNT; v++)
        if (ep->candidates & (1u << v))
            append(cands, json_string(an_verdict_name((enum an_verdict)v)), ok);
    set(o, "candidates", cands, ok);
    set(o, "confidence", json_string(an_confidence_name(ep->confidence)), ok);
    set(o, "reason", safe_string(ep->reason, sizeof ep->reason), ok);
    set(o, "evidence", ev, ok);
    set(o, "rule", ep->rule ? json_string(ep->rule) : json_null(), ok);
    set(o, "contradictions", evidence_list(ep->contradictions, ep->n_contradictions, AN_MAX_CONTRADICTIONS, ok), ok);
    set(o, "findings", findings(ep->findings, ok), ok);
    set(o, "remedy", remedy_string(ep->verdict, ep->name, sizeof ep->name, port), ok);
    if (n_det) {
        json_t *detail = json_object();

        for (unsigned i = 0; i < n_det; i++) {
            const struct an_detail *d = &ep->detail[i];
            char key[sizeof d->key * 4 + 1];
            size_t k = an_wire_copy(key, d->key, sizeof d->key);

            key[k] = '\0';
            set(detail, key, safe_string(d->value, sizeof d->value), ok);
        }
        set(o, "detail", detail, ok);
    }
    for (unsigned i = 0; i < n_fl; i++)
        append(flows, flow(&ep->flows[i], ok), ok);
    set(o, "flows", flows, ok);
    set(o, "flow_count", json_integer(ep->n_flows), ok);
    return o;
}

/* Every input file's name, in the order read. */
static json_t *file_list(const struct an_capture_info *c, bool *ok)
{
    json_t *files = json_array();

    for (unsigned i = 0; i < c->n_files; i++) {
        const char *name = an_capture_file(c, i);
        append(files, name ? safe_string(name, 4096) : json_null(), ok);
    }
    return files;
}

/* The options that shaped the result: {"host", "port", "private_nets"};
 * private_nets empty means the default address space.  */
static json_t *options(const struct an_options *opt, bool *ok)
{
    json_t *o = json_object(), *nets = json_array();

    set(o, "host", opt->host ? safe_string(opt->host, LIM_DNS_NAME) : json_null(), ok);
    set(o, "port", json_integer(opt->port), ok);
    for (unsigned i = 0; i < opt->n_private_nets && i < AN_MAX_PRIVATE_NETS; i++) {
        char buf[80];
        size_t n;

        cap_addr_str(&opt->private_nets[i].addr, buf, sizeof buf);
        n = strlen(buf);
        snprintf(buf + n, sizeof buf - n, "/%u", opt->private_nets[i].len);
        append(nets, safe_string(buf, sizeof buf), ok);
    }
    set(o, "private_nets", nets, ok);
    return o;
}

static json_t *capture(const struct an_capture_info *c, bool *ok)
{
    unsigned n_lt = c->n_linktypes < 8 ? c->n_linktypes : 8;
    json_t *o = json_object(), *lts = json_array();

    set(o, "files", file_list(c, ok), ok);
    set(o, "packets", json_integer((json_int_t)c->packets), ok);
    set(o, "packets_undecoded", json_integer((json_int_t)c->packets_undecoded), ok);
    set(o, "packets_snapped", json_integer((json_int_t)c->packets_snapped), ok);
    set(o, "first_ts", c->packets ? iso_time(c->first_ts_ns) : json_null(), ok);
    set(o, "last_ts", c->packets ? iso_time(c->last_ts_ns) : json_null(), ok);
    for (unsigned i = 0; i < n_lt; i++)
        append(lts, json_integer(c->linktypes[i]), ok);
    set(o, "linktypes", lts, ok);
    if (c->damaged) {
        set(o, "damaged", json_true(), ok);
        set(o, "damage", safe_string(c->damage, sizeof c->damage), ok);
    }
    return o;
}

/* The probe's control destinations: what each showed, never a verdict. */
static json_t *controls(const struct an_report *r, bool *ok)
{
    unsigned n = r->n_controls < AN_MAX_CONTROLS ? r->n_controls : AN_MAX_CONTROLS;
    json_t *arr = json_array();

    for (unsigned i = 0; i < n; i++) {
        const struct an_control *c = &r->controls[i];
        json_t *o = json_object();

        set(o, "given", safe_string(c->given, sizeof c->given), ok);
        set(o, "ip", c->has_ip ? address(&c->ip) : json_null(), ok);
        set(o, "probed", json_boolean(c->probed), ok);
        set(o, "answered", json_boolean(c->answered), ok);
        set(o, "result", safe_string(c->result, sizeof c->result), ok);
        append(arr, o, ok);
    }
    return arr;
}

/* "client": the client's own words (analyze --client-log, watch -- COMMAND). */
static json_t *client(const struct an_client *c, bool *ok)
{
    json_t *o = json_object(), *arr = json_array();

    set(o, "source", safe_string(c->source, sizeof c->source), ok);
    set(o, "from_command", json_boolean(c->from_command), ok);
    set(o, "exit_status", c->has_exit ? json_integer(c->exit_status) : json_null(), ok);
    set(o, "still_running", json_boolean(c->still_running), ok);
    set(o, "lines_read", json_integer((json_int_t)c->lines_read), ok);
    set(o, "truncated", json_boolean(c->truncated), ok);
    set(o, "decided", c->decided < AN_VERDICT_COUNT ? json_string(an_verdict_name(c->decided)) : json_null(), ok);
    for (unsigned i = 0; i < c->n_lines && i < CL_KIND_COUNT; i++) {
        const struct cl_line *l = &c->lines[i];
        json_t *m = json_object();

        set(m, "line", json_integer((json_int_t)l->lineno), ok);
        set(m, "kind", json_string(cl_kind_name(l->kind)), ok);
        set(m, "text", safe_string(l->text, sizeof l->text), ok);
        set(m, "repeats", json_integer((json_int_t)l->repeats), ok);
        set(m, "agreement", json_string(cl_agreement_name(l->agreement)), ok);
        set(m, "explanation", safe_string(l->explanation, sizeof l->explanation), ok);
        if (l->client_ip[0])
            set(m, "client_ip", safe_string(l->client_ip, sizeof l->client_ip), ok);
        append(arr, m, ok);
    }
    set(o, "matched", arr, ok);
    return o;
}

int an_write_json(FILE *out, const struct an_report *r, const char *version)
{
    bool ok = true;
    json_t *root = json_object(), *eps = json_array();
    int rc = -1;

    set(root, "version", safe_string(version ? version : "", 64), &ok);
    set(root, "mode", r->mode ? safe_string(r->mode, 32) : json_null(), &ok);
    set(root, "verdict", json_string(an_verdict_name(r->verdict)), &ok);
    set(root, "summary", safe_string(r->summary, sizeof r->summary), &ok);
    set(root, "remedy", remedy_string(r->verdict, "", 1, an_report_port(r)), &ok);
    for (unsigned i = 0; i < r->n_endpoints; i++)
        append(eps, endpoint(&r->endpoints[i], an_report_port(r), &ok), &ok);
    set(root, "endpoints", eps, &ok);
    set(root, "findings", findings(r->findings, &ok), &ok);
    set(root, "capture", capture(&r->capture, &ok), &ok);
    if (r->n_controls)
        set(root, "controls", controls(r, &ok), &ok);
    if (r->options)
        set(root, "options", options(r->options, &ok), &ok);
    if (r->client)
        set(root, "client", client(r->client, &ok), &ok);

    errno = 0;
    if (!ok) {
        errno = ENOMEM;
    } else if (json_dumpf(root, out, JSON_INDENT(2)) == 0 && fputc('\n', out) != EOF &&
               fflush(out) == 0 && !ferror(out)) {
        rc = 0;
    } else if (!errno) {
        errno = EIO;
    }
    json_decref(root);
    return rc;
}

/* Writes one object as one line; takes obj.  Returns 0 or -1 (errno set). */
static int put_line(FILE *out, json_t *obj, bool ok)
{
    int rc = -1;

    errno = 0;
    if (!ok)
        errno = ENOMEM;
    else if (json_dumpf(obj, out, JSON_COMPACT) == 0 && fputc('\n', out) != EOF)
        rc = 0;
    else if (!errno)
        errno = EIO;
    json_decref(obj);
    return rc;
}

int an_write_json_lines(FILE *out, const struct an_report *r, const char *version)
{
    unsigned n = r->n_endpoints ? r->n_endpoints : 1;

    for (unsigned i = 0; i < n; i++) {
        bool ok = true;
        json_t *line = json_object();

        set(line, "version", safe_string(version ? version : "", 64), &ok);
        set(line, "mode", r->mode ? safe_string(r->mode, 32) : json_null(), &ok);
        set(line, "files", file_list(&r->capture, &ok), &ok);
        set(line, "capture_verdict", json_string(an_verdict_name(r->verdict)), &ok);
        set(line, "summary", safe_string(r->summary, sizeof r->summary), &ok);
        if (r->client)
            set(line, "client", client(r->client, &ok), &ok);
        if (r->n_endpoints) {
            json_t *ep = endpoint(&r->endpoints[i], an_report_port(r), &ok);

            if (!ep || json_object_update(line, ep) != 0)
                ok = false;
            json_decref(ep);
        } else {
            /* No endpoint: the report's own verdict, with the endpoint
             * fields null, so every line has the same keys to filter on.  */
            set(line, "name", json_null(), &ok);
            set(line, "ip", json_null(), &ok);
            set(line, "port", json_null(), &ok);
            set(line, "verdict", json_string(an_verdict_name(r->verdict)), &ok);
        }
        if (put_line(out, line, ok) != 0)
            return -1;
    }
    if (fflush(out) != 0 || ferror(out)) {
        if (!errno)
            errno = EIO;
        return -1;
    }
    return 0;
}
