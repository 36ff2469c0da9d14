/* test_writers.c: names, exit statuses and the text, Markdown and JSON writers on hand-built reports, hostile strings included. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "analysis/analysis.h"
#include "tests/unit/check.h"

enum writer { W_TEXT, W_TEXT_COLOR, W_MARKDOWN, W_JSON };

/* A wire name that tries a terminal title escape, table and HTML injection,
 * and carries bytes that are not UTF-8.  */
static const char hostile[] = "evil\x1b]0;pwned\x07|x|<script>\xff\xc3.azurecr.io";

/* Runs one writer into memory; returns the NUL-terminated output (caller
 * frees) and its writer status in *rc.  */
static char *render(enum writer w, const struct an_report *r, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct an_write_options o = { .color = w == W_TEXT_COLOR };

    if (!f)
        return NULL;
    switch (w) {
    case W_TEXT:
    case W_TEXT_COLOR: *rc = an_write_text(f, r, &o); break;
    case W_MARKDOWN: *rc = an_write_markdown(f, r, "0.1.0"); break;
    case W_JSON: *rc = an_write_json(f, r, "0.1.0"); break;
    }
    fclose(f);
    return buf;
}

static json_t *render_json(const struct an_report *r)
{
    int rc = -1;
    char *buf = render(W_JSON, r, &rc);
    json_error_t err;
    json_t *j;

    if (!buf || rc != 0) {
        free(buf);
        return NULL;
    }
    j = json_loads(buf, 0, &err);
    if (!j)
        fprintf(stderr, "  JSON does not parse: %s at line %d\n", err.text, err.line);
    free(buf);
    return j;
}

static const char *jstr(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? s : "(missing)";
}

static struct cap_addr addr(const char *s)
{
    struct cap_addr a;

    if (!cap_addr_parse(s, &a))
        memset(&a, 0, sizeof a);
    return a;
}

static void add_evidence(struct an_endpoint *ep, const char *kind, uint64_t frame, const char *what)
{
    struct an_evidence *e = &ep->evidence[ep->n_evidence++];

    e->kind = kind;
    e->frame = frame;
    snprintf(e->what, sizeof e->what, "%s", what);
}

static struct an_endpoint *new_endpoints(struct an_report *r, unsigned n)
{
    r->endpoints = calloc(n, sizeof *r->endpoints);
    r->n_endpoints = r->endpoints ? n : 0;
    return r->endpoints;
}

static void base_report(struct an_report *r, enum an_verdict v, const char *summary)
{
    static const char *files[] = { "push.pcapng" };

    memset(r, 0, sizeof *r);
    r->mode = "analyze";
    r->verdict = v;
    snprintf(r->summary, sizeof r->summary, "%s", summary);
    r->capture.n_files = 1;
    r->capture.files[0] = files[0];
    r->capture.packets = 7;
    r->capture.first_ts_ns = INT64_C(1795812570) * 1000000000 + 123456789;
    r->capture.last_ts_ns = r->capture.first_ts_ns + 1500000000;
    r->capture.linktypes[0] = CAP_LT_ETHERNET;
    r->capture.n_linktypes = 1;
}

/* The firewall_reset example of verdicts.md. */
static void firewall_reset_report(struct an_report *r)
{
    struct an_endpoint *ep;

    base_report(r, AN_FIREWALL_RESET,
                "A firewall reset the connection to myregistry.azurecr.io right after the "
                "ClientHello.");
    ep = new_endpoints(r, 1);
    if (!ep)
        return;
    snprintf(ep->name, sizeof ep->name, "myregistry.azurecr.io");
    ep->has_ip = true;
    ep->ip = addr("20.62.128.38");
    ep->port = 443;
    ep->verdict = AN_FIREWALL_RESET;
    ep->confidence = AN_CONF_HIGH;
    snprintf(ep->reason, sizeof ep->reason,
             "RST arrived 0.4 ms after the ClientHello from 1 hop away; the SYN-ACK came from "
             "12 hops away");
    add_evidence(ep, "syn_ack", 2, "SYN-ACK ttl=116 (hop distance 12)");
    add_evidence(ep, "client_hello", 4, "ClientHello SNI myregistry.azurecr.io");
    add_evidence(ep, "rst_after_handshake", 5, "RST ttl=63 (hop distance 1), 0.4 ms after frame 4");
    ep->findings = 1u << AN_F_RST_FASTER_THAN_RTT;
    ep->n_flows = 1;
    ep->n_flows_listed = 1;
    ep->flows[0].first_frame = 1;
    ep->flows[0].client = addr("198.18.0.4");
    ep->flows[0].client_port = 51234;
    snprintf(ep->flows[0].conn_state, sizeof ep->flows[0].conn_state, "RSTR");
    snprintf(ep->flows[0].history, sizeof ep->flows[0].history, "ShADr");
    ep->flows[0].outcome = AN_FIREWALL_RESET;
}

/* A parent verdict with candidates, a probe step and a detail, over IPv6. */
static void silent_drop_report(struct an_report *r)
{
    struct an_endpoint *ep;

    base_report(r, AN_SILENT_DROP, "SYNs to myregistry.azurecr.io got no answer.");
    r->findings = 1u << AN_F_KERNEL_DROPS;
    ep = new_endpoints(r, 1);
    if (!ep)
        return;
    snprintf(ep->name, sizeof ep->name, "myregistry.azurecr.io");
    ep->has_ip = true;
    ep->ip = addr("2001:db8::26");
    ep->port = 443;
    ep->verdict = AN_SILENT_DROP;
    ep->candidates = 1u << AN_NSG_DROP | 1u << AN_ROUTE_BLACKHOLE;
    ep->confidence = AN_CONF_MEDIUM;
    snprintf(ep->reason, sizeof ep->reason, "3 SYNs, no SYN-ACK, RST or ICMP");
    add_evidence(ep, "syn", 1, "SYN");
    add_evidence(ep, "syn_retransmitted", 3, "SYN retransmitted after 1.0 s");
    add_evidence(ep, "probe_connect", 0, "connect() timed out after 21 s");
    snprintf(ep->detail[0].key, sizeof ep->detail[0].key, "syn_count");
    snprintf(ep->detail[0].value, sizeof ep->detail[0].value, "3");
    ep->n_detail = 1;
    ep->n_flows = 40;
    ep->n_flows_listed = 1;
    ep->flows[0].first_frame = 1;
    ep->flows[0].client = addr("2001:db8::4");
    ep->flows[0].client_port = 40000;
    snprintf(ep->flows[0].conn_state, sizeof ep->flows[0].conn_state, "S0");
    snprintf(ep->flows[0].history, sizeof ep->flows[0].history, "S");
    ep->flows[0].outcome = AN_SILENT_DROP;
}

static void ok_report(struct an_report *r)
{
    struct an_endpoint *ep;

    base_report(r, AN_OK, "myregistry.azurecr.io answered /v2/ with a Bearer challenge.");
    ep = new_endpoints(r, 1);
    if (!ep)
        return;
    snprintf(ep->name, sizeof ep->name, "myregistry.azurecr.io");
    ep->has_ip = true;
    ep->ip = addr("20.62.128.38");
    ep->port = 443;
    ep->verdict = AN_OK;
    ep->confidence = AN_CONF_HIGH;
    snprintf(ep->reason, sizeof ep->reason, "TCP and TLS 1.3 completed");
    ep->n_flows = 1;
}

/* Every string field of the report carries the hostile name. */
static void hostile_report(struct an_report *r)
{
    static const char *files[] = { "cap\x1b[2J.pcap" };
    struct an_endpoint *ep;

    firewall_reset_report(r);
    if (!r->endpoints)
        return;
    ep = &r->endpoints[0];
    r->capture.files[0] = files[0];
    snprintf(r->summary, sizeof r->summary, "reset after SNI %s", hostile);
    snprintf(ep->name, sizeof ep->name, "%s", hostile);
    snprintf(ep->reason, sizeof ep->reason, "SNI %s\nline two", hostile);
    snprintf(ep->evidence[1].what, sizeof ep->evidence[1].what, "ClientHello SNI %s", hostile);
    snprintf(ep->detail[0].key, sizeof ep->detail[0].key, "sni\xff");
    snprintf(ep->detail[0].value, sizeof ep->detail[0].value, "%s", hostile);
    ep->n_detail = 1;
    snprintf(ep->flows[0].history, sizeof ep->flows[0].history, "|x\x1b");
    r->capture.damaged = true;
    snprintf(r->capture.damage, sizeof r->capture.damage, "%s", hostile);
}

/* ---- names and exit statuses --------------------------------------------- */

static bool snake_case(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static void test_verdict_names(void)
{
    static const char *const expected[AN_VERDICT_COUNT] = {
        "ok", "dns_failure", "silent_drop", "nsg_drop", "route_blackhole", "connection_reset",
        "firewall_reset", "server_reset", "icmp_unreachable", "proxy_interception", "proxy_refused", "tls_failure",
        "mtu_blackhole", "registry_denied", "registry_write_disabled", "registry_auth_failed",
        "registry_push_forbidden", "registry_error", "local_no_route",
        "incomplete",
    };

    for (unsigned v = 0; v < AN_VERDICT_COUNT; v++) {
        const char *name = an_verdict_name((enum an_verdict)v);

        CHECK(name != NULL);
        if (!name)
            continue;
        CHECK_EQ_STR(name, expected[v]);
        CHECK(snake_case(name));
        for (unsigned w = 0; w < v; w++)
            CHECK(strcmp(name, an_verdict_name((enum an_verdict)w)) != 0);
        CHECK(strlen(an_remedy((enum an_verdict)v)) > 40);
        for (const char *c = an_remedy((enum an_verdict)v); *c; c++)
            CHECK(*c >= 0x20 && *c < 0x7f);
    }
    CHECK_EQ_STR(an_verdict_name(AN_VERDICT_COUNT), "unknown");
}

static void test_finding_names(void)
{
    static const char *const expected[AN_FINDING_COUNT] = {
        "privatelink_resolves_public", "syn_ack_hop_distance_short", "mss_clamped",
        "data_after_reset", "rst_faster_than_rtt", "tls12_certificate_visible", "sni_missing",
        "uppercase_registry_name", "flow_table_full", "capture_truncated", "midstream_start",
        "certificate_name_mismatch", "client_retried_and_succeeded", "kernel_drops",
        "dns_answers_differ", "proxy_settings_differ",
    };

    for (unsigned f = 0; f < AN_FINDING_COUNT; f++) {
        const char *name = an_finding_name((enum an_finding)f);

        CHECK(name != NULL);
        if (!name)
            continue;
        CHECK_EQ_STR(name, expected[f]);
        CHECK(snake_case(name));
        for (unsigned g = 0; g < f; g++)
            CHECK(strcmp(name, an_finding_name((enum an_finding)g)) != 0);
    }
    CHECK_EQ_STR(an_confidence_name(AN_CONF_LOW), "low");
    CHECK_EQ_STR(an_confidence_name(AN_CONF_MEDIUM), "medium");
    CHECK_EQ_STR(an_confidence_name(AN_CONF_HIGH), "high");
}

static void test_exit_status(void)
{
    CHECK_EQ_INT(an_exit_status(AN_OK), 0);
    CHECK_EQ_INT(an_exit_status(AN_INCOMPLETE), 3);
    for (unsigned v = AN_DNS_FAILURE; v < AN_INCOMPLETE; v++)
        CHECK_EQ_INT(an_exit_status((enum an_verdict)v), 1);
}

static void test_report_free(void)
{
    struct an_report r;

    firewall_reset_report(&r);
    an_report_free(&r);
    CHECK(r.endpoints == NULL);
    CHECK_EQ_INT(r.n_endpoints, 0);
    an_report_free(&r);
    an_report_free(NULL);
}

/* ---- JSON ------------------------------------------------------------------ */

static void test_json_contract(void)
{
    struct an_report r;
    json_t *j, *ep, *ev, *cap;

    firewall_reset_report(&r);
    j = render_json(&r);
    CHECK(j != NULL);
    if (!j) {
        an_report_free(&r);
        return;
    }
    CHECK_EQ_STR(jstr(j, "version"), "0.1.0");
    CHECK_EQ_STR(jstr(j, "mode"), "analyze");
    CHECK_EQ_STR(jstr(j, "verdict"), "firewall_reset");
    CHECK_EQ_STR(jstr(j, "summary"), r.summary);
    CHECK(json_is_array(json_object_get(j, "findings")));
    CHECK_EQ_INT(json_array_size(json_object_get(j, "endpoints")), 1);
    ep = json_array_get(json_object_get(j, "endpoints"), 0);
    CHECK_EQ_STR(jstr(ep, "name"), "myregistry.azurecr.io");
    CHECK_EQ_STR(jstr(ep, "ip"), "20.62.128.38");
    CHECK_EQ_INT(json_integer_value(json_object_get(ep, "port")), 443);
    CHECK_EQ_STR(jstr(ep, "verdict"), "firewall_reset");
    CHECK(json_is_array(json_object_get(ep, "candidates")));
    CHECK_EQ_INT(json_array_size(json_object_get(ep, "candidates")), 0);
    CHECK_EQ_STR(jstr(ep, "confidence"), "high");
    CHECK_EQ_STR(jstr(ep, "reason"), r.endpoints[0].reason);
    ev = json_object_get(ep, "evidence");
    CHECK_EQ_INT(json_array_size(ev), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(ev, 0), "frame")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(ev, 2), "frame")), 5);
    CHECK_EQ_STR(jstr(json_array_get(ev, 2), "what"),
                 "RST ttl=63 (hop distance 1), 0.4 ms after frame 4");
    CHECK_EQ_INT(json_array_size(json_object_get(ep, "findings")), 1);
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(ep, "findings"), 0)),
                 "rst_faster_than_rtt");
    CHECK(strstr(jstr(ep, "remedy"), "allow the registry FQDN myregistry.azurecr.io") != NULL);
    CHECK(json_object_get(ep, "detail") == NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(ep, "flow_count")), 1);
    CHECK_EQ_STR(jstr(json_array_get(json_object_get(ep, "flows"), 0), "client"), "198.18.0.4");
    CHECK_EQ_STR(jstr(json_array_get(json_object_get(ep, "flows"), 0), "conn_state"), "RSTR");
    CHECK_EQ_STR(jstr(json_array_get(json_object_get(ep, "flows"), 0), "outcome"),
                 "firewall_reset");
    cap = json_object_get(j, "capture");
    CHECK_EQ_INT(json_integer_value(json_object_get(cap, "packets")), 7);
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(cap, "files"), 0)),
                 "push.pcapng");
    CHECK_EQ_STR(jstr(cap, "first_ts"), "2026-11-27T20:49:30.123456789Z");
    CHECK_EQ_STR(jstr(cap, "last_ts"), "2026-11-27T20:49:31.623456789Z");
    CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(cap, "linktypes"), 0)), 1);
    CHECK(json_object_get(cap, "damaged") == NULL);
    json_decref(j);
    an_report_free(&r);
}

static void test_json_parent_and_probe_step(void)
{
    struct an_report r;
    json_t *j, *ep, *cands, *ev;

    silent_drop_report(&r);
    j = render_json(&r);
    CHECK(j != NULL);
    if (!j) {
        an_report_free(&r);
        return;
    }
    ep = json_array_get(json_object_get(j, "endpoints"), 0);
    CHECK_EQ_STR(jstr(ep, "verdict"), "silent_drop");
    CHECK_EQ_STR(jstr(ep, "ip"), "2001:db8::26");
    CHECK_EQ_STR(jstr(ep, "confidence"), "medium");
    cands = json_object_get(ep, "candidates");
    CHECK_EQ_INT(json_array_size(cands), 2);
    CHECK_EQ_STR(json_string_value(json_array_get(cands, 0)), "nsg_drop");
    CHECK_EQ_STR(json_string_value(json_array_get(cands, 1)), "route_blackhole");
    ev = json_object_get(ep, "evidence");
    CHECK_EQ_INT(json_array_size(ev), 3);
    CHECK(json_object_get(json_array_get(ev, 0), "frame") != NULL);
    CHECK(json_object_get(json_array_get(ev, 2), "frame") == NULL);
    CHECK_EQ_STR(jstr(json_array_get(ev, 2), "what"), "connect() timed out after 21 s");
    CHECK_EQ_STR(jstr(json_object_get(ep, "detail"), "syn_count"), "3");
    CHECK_EQ_INT(json_integer_value(json_object_get(ep, "flow_count")), 40);
    CHECK_EQ_INT(json_array_size(json_object_get(ep, "flows")), 1);
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(j, "findings"), 0)),
                 "kernel_drops");
    json_decref(j);
    an_report_free(&r);
}

static void test_json_ok_and_empty(void)
{
    struct an_report r;
    json_t *j;

    ok_report(&r);
    j = render_json(&r);
    CHECK(j != NULL);
    CHECK_EQ_STR(jstr(j, "verdict"), "ok");
    CHECK_EQ_INT(json_array_size(json_object_get(json_array_get(json_object_get(j, "endpoints"), 0),
                                                 "evidence")),
                 0);
    json_decref(j);
    an_report_free(&r);

    /* No endpoints, no packets, no address: still the contract's fields. */
    base_report(&r, AN_INCOMPLETE, "");
    r.capture.packets = 0;
    j = render_json(&r);
    CHECK(j != NULL);
    CHECK_EQ_STR(jstr(j, "verdict"), "incomplete");
    CHECK(json_is_array(json_object_get(j, "endpoints")));
    CHECK(json_is_null(json_object_get(json_object_get(j, "capture"), "first_ts")));
    json_decref(j);
}

/* ---- text ------------------------------------------------------------------ */

static void test_text_layout(void)
{
    struct an_report r;
    int rc = -1;
    char *t;

    firewall_reset_report(&r);
    t = render(W_TEXT, &r, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK(t != NULL);
    if (t) {
        CHECK(strncmp(t, "VERDICT firewall_reset: A firewall reset the connection", 55) == 0);
        CHECK(strstr(t, "\nendpoint myregistry.azurecr.io (20.62.128.38:443): firewall_reset, "
                        "confidence high\n") != NULL);
        CHECK(strstr(t, "\n  RST arrived 0.4 ms after the ClientHello") != NULL);
        CHECK(strstr(t, "\n  frame 5  RST ttl=63 (hop distance 1), 0.4 ms after frame 4\n") != NULL);
        CHECK(strstr(t, "\n  findings: rst_faster_than_rtt\n") != NULL);
        CHECK(strstr(t, "\n  What to do: A firewall or proxy") != NULL);
        CHECK(strstr(t, "FQDN myregistry.azurecr.io and") != NULL);
        CHECK(strstr(t, "\ncapture: push.pcapng; 7 packets from 2026-11-27 20:49:30 UTC over "
                        "1.500 s\n") != NULL);
        CHECK(strchr(t, '\x1b') == NULL);
    }
    free(t);

    t = render(W_TEXT_COLOR, &r, &rc);
    CHECK(t != NULL);
    if (t)
        CHECK(strncmp(t, "VERDICT \x1b[1;31mfirewall_reset\x1b[0m: ", 34) == 0);
    free(t);
    an_report_free(&r);
}

static void test_text_parent_and_ok(void)
{
    struct an_report r;
    int rc = -1;
    char *t;

    silent_drop_report(&r);
    t = render(W_TEXT, &r, &rc);
    CHECK(t != NULL);
    if (t) {
        CHECK(strstr(t, "([2001:db8::26]:443): silent_drop, confidence medium, candidates "
                        "nsg_drop route_blackhole\n") != NULL);
        CHECK(strstr(t, "\n  probe  connect() timed out after 21 s\n") != NULL);
        CHECK(strstr(t, "\n  detail: syn_count=3\n") != NULL);
        CHECK(strstr(t, "\ncapture findings: kernel_drops\n") != NULL);
    }
    free(t);
    an_report_free(&r);

    ok_report(&r);
    t = render(W_TEXT_COLOR, &r, &rc);
    CHECK(t != NULL);
    if (t)
        CHECK(strncmp(t, "VERDICT \x1b[1;32mok\x1b[0m: ", 22) == 0);
    free(t);
    an_report_free(&r);
}

/* ---- Markdown ------------------------------------------------------------- */

static void test_markdown_layout(void)
{
    struct an_report r;
    int rc = -1;
    char *m;

    firewall_reset_report(&r);
    m = render(W_MARKDOWN, &r, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK(m != NULL);
    if (m) {
        CHECK(strncmp(m, "# acrdiag report: `firewall_reset`\n", 35) == 0);
        CHECK(strstr(m, "| first packet | 2026-11-27T20:49:30.123456Z |") != NULL);
        CHECK(strstr(m, "| link types | 1 (Ethernet) |") != NULL);
        CHECK(strstr(m, "| tool | acrdiag 0.1.0, mode analyze |") != NULL);
        CHECK(strstr(m, "| myregistry.azurecr.io | 20.62.128.38:443 | `firewall_reset` | high | 1 |")
              != NULL);
        CHECK(strstr(m, "`ip.addr == 20.62.128.38 && tcp.port == 443`") != NULL);
        CHECK(strstr(m, "| frame | time (UTC) | what | display filter |\n|---|---|---|---|\n") != NULL);
        CHECK(strstr(m, "| 5 |  | RST ttl=63 (hop distance 1), 0.4 ms after frame 4 | "
                        "`frame.number == 5` |") != NULL);
        CHECK(strstr(m, "## Capture\n\n| field | value |\n|---|---|\n") != NULL);
        CHECK(strstr(m, "**Findings:** `rst_faster_than_rtt`") != NULL);
        CHECK(strstr(m, "| 1 | 198.18.0.4:51234 | RSTR | ShADr | `firewall_reset` |") != NULL);
        /* "*.blob" after a space can open emphasis but nothing can close
         * it: no backslash (issue 13: no backslash noise).  */
        CHECK(strstr(m, "or *.blob.core.windows.net") != NULL);
        CHECK(strstr(m, "\\*") == NULL && strstr(m, "\\_") == NULL && strstr(m, "\\[") == NULL &&
              strstr(m, "\\!") == NULL && strstr(m, "\\#") == NULL && strstr(m, "\\&") == NULL);
        /* "<registry>" would be an HTML tag: that one keeps its backslash. */
        CHECK(strstr(m, "(\\<registry>.\\<region>.data.azurecr.io") != NULL);
    }
    free(m);
    an_report_free(&r);

    silent_drop_report(&r);
    m = render(W_MARKDOWN, &r, &rc);
    CHECK(m != NULL);
    if (m) {
        CHECK(strstr(m, "`ipv6.addr == 2001:db8::26 && tcp.port == 443`") != NULL);
        CHECK(strstr(m, "**candidates:** `nsg_drop`, `route_blackhole`") != NULL);
        CHECK(strstr(m, "| probe |  | connect() timed out after 21 s | |") != NULL);
        CHECK(strstr(m, "**Flows:** 40 (first 1 listed)") != NULL);
    }
    free(m);
    an_report_free(&r);

    /* A name-only endpoint gets a DNS filter. */
    base_report(&r, AN_DNS_FAILURE, "myregistry.azurecr.io did not resolve.");
    if (new_endpoints(&r, 1)) {
        snprintf(r.endpoints[0].name, sizeof r.endpoints[0].name, "myregistry.azurecr.io");
        r.endpoints[0].verdict = AN_DNS_FAILURE;
    }
    m = render(W_MARKDOWN, &r, &rc);
    CHECK(m != NULL);
    if (m)
        CHECK(strstr(m, "`dns.qry.name == \"myregistry.azurecr.io\"`") != NULL);
    free(m);
    an_report_free(&r);
}

/* ---- hostile strings ------------------------------------------------------ */

/* Number of '|' in a line that are not backslash-escaped. */
static unsigned bare_pipes(const char *line, const char *end)
{
    unsigned n = 0;

    for (const char *p = line; p < end; p++) {
        if (*p == '\\' && p + 1 < end)
            p++;
        else if (*p == '|')
            n++;
    }
    return n;
}

static bool has_byte(const char *s, char c)
{
    return strchr(s, c) != NULL;
}

static void test_hostile_text(void)
{
    struct an_report r;
    int rc = -1;
    char *t;

    hostile_report(&r);
    t = render(W_TEXT, &r, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK(t != NULL);
    if (t) {
        CHECK(!has_byte(t, '\x1b'));
        CHECK(!has_byte(t, '\x07'));
        CHECK(!has_byte(t, '\xff'));
        CHECK(!has_byte(t, '\xc3'));
        CHECK(strstr(t, "evil\\x1b]0;pwned\\x07|x|<script>\\xff\\xc3.azurecr.io") != NULL);
        CHECK(strstr(t, "\\x0aline two") != NULL);
        CHECK(strstr(t, "capture: cap\\x1b[2J.pcap;") != NULL);
    }
    free(t);
    /* With colour on, the only escapes are the verdict's own. */
    t = render(W_TEXT_COLOR, &r, &rc);
    CHECK(t != NULL);
    if (t) {
        unsigned esc = 0;

        for (const char *p = t; *p; p++)
            esc += *p == '\x1b';
        CHECK_EQ_INT(esc, 4);
    }
    free(t);
    an_report_free(&r);
}

static void test_hostile_markdown(void)
{
    struct an_report r;
    int rc = -1;
    char *m;

    hostile_report(&r);
    m = render(W_MARKDOWN, &r, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK(m != NULL);
    if (!m) {
        an_report_free(&r);
        return;
    }
    CHECK(!has_byte(m, '\x1b'));
    CHECK(!has_byte(m, '\x07'));
    CHECK(!has_byte(m, '\xff'));
    /* Every '<' that could open a tag has its backslash. */
    for (const char *lt = strchr(m, '<'); lt; lt = strchr(lt + 1, '<'))
        CHECK(lt > m && lt[-1] == '\\');
    CHECK(strstr(m, "\\|x\\|\\<script>\\xff\\xc3.azurecr.io") != NULL);
    /* Every table row keeps its column count. */
    for (const char *line = m; *line;) {
        const char *end = strchr(line, '\n');

        if (!end)
            end = line + strlen(line);
        if (*line == '|') {
            unsigned pipes = bare_pipes(line, end);

            CHECK(pipes == 3 || pipes == 5 || pipes == 6);
        }
        CHECK(*line != '#' || line[1] == '#' || line[1] == ' ');
        line = *end ? end + 1 : end;
    }
    free(m);
    an_report_free(&r);
}

static void test_hostile_json(void)
{
    struct an_report r;
    json_t *j, *ep;

    hostile_report(&r);
    j = render_json(&r);
    CHECK(j != NULL);
    if (!j) {
        an_report_free(&r);
        return;
    }
    ep = json_array_get(json_object_get(j, "endpoints"), 0);
    CHECK_EQ_STR(jstr(ep, "name"), "evil\\x1b]0;pwned\\x07|x|<script>\\xff\\xc3.azurecr.io");
    CHECK(strstr(jstr(ep, "reason"), "\\x0aline two") != NULL);
    CHECK(strstr(jstr(json_array_get(json_object_get(ep, "evidence"), 1), "what"), "\\xff") != NULL);
    CHECK(json_is_string(json_object_get(json_object_get(ep, "detail"), "sni\\xff")));
    CHECK(strstr(jstr(ep, "remedy"), "FQDN evil\\x1b") != NULL);
    CHECK_EQ_STR(jstr(json_array_get(json_object_get(ep, "flows"), 0), "history"), "|x\\x1b");
    CHECK(strstr(jstr(j, "summary"), "\\xc3.azurecr.io") != NULL);
    CHECK(json_is_true(json_object_get(json_object_get(j, "capture"), "damaged")));
    CHECK_EQ_STR(json_string_value(json_array_get(
                     json_object_get(json_object_get(j, "capture"), "files"), 0)),
                 "cap\\x1b[2J.pcap");
    json_decref(j);
    an_report_free(&r);
}

/* Valid UTF-8 passes untouched; a sequence cut at the end of a full field,
 * and a field with no terminating NUL, stay inside the field.  */
static void test_utf8_and_unterminated(void)
{
    struct an_report r;
    int rc = -1;
    char *t, *m;
    json_t *j, *ep;

    firewall_reset_report(&r);
    if (!r.endpoints)
        return;
    snprintf(r.endpoints[0].reason, sizeof r.endpoints[0].reason,
             "issuer Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale \xe2\x80\xae!");
    memset(r.endpoints[0].name, 'a', sizeof r.endpoints[0].name);
    r.endpoints[0].name[sizeof r.endpoints[0].name - 1] = '\xc3';
    t = render(W_TEXT, &r, &rc);
    CHECK(t != NULL);
    if (t) {
        CHECK(strstr(t, "issuer Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale \\xe2\\x80\\xae!") != NULL);
        CHECK(strstr(t, "aaaa\\xc3 (20.62.128.38:443)") != NULL);
    }
    m = render(W_MARKDOWN, &r, &rc);
    CHECK(m != NULL);
    if (m)
        CHECK(strstr(m, "G\xc3\xa9n\xc3\xa9rale \\xe2\\x80\\xae!") != NULL);
    j = render_json(&r);
    CHECK(j != NULL);
    ep = json_array_get(json_object_get(j, "endpoints"), 0);
    CHECK(strstr(jstr(ep, "reason"), "G\xc3\xa9n\xc3\xa9rale") != NULL);
    CHECK_EQ_INT(strlen(jstr(ep, "name")), sizeof r.endpoints[0].name - 1 + 4);
    json_decref(j);
    free(t);
    free(m);
    an_report_free(&r);
}

static void test_stream_failure(void)
{
    struct an_report r;
    FILE *f = fopen("/dev/full", "w");

    if (!f)
        return;
    firewall_reset_report(&r);
    CHECK_EQ_INT(an_write_text(f, &r, NULL), -1);
    clearerr(f);
    CHECK_EQ_INT(an_write_markdown(f, &r, "0.1.0"), -1);
    clearerr(f);
    CHECK_EQ_INT(an_write_json(f, &r, "0.1.0"), -1);
    fclose(f);
    an_report_free(&r);
}

int main(void)
{
    RUN(test_verdict_names);
    RUN(test_finding_names);
    RUN(test_exit_status);
    RUN(test_report_free);
    RUN(test_json_contract);
    RUN(test_json_parent_and_probe_step);
    RUN(test_json_ok_and_empty);
    RUN(test_text_layout);
    RUN(test_text_parent_and_ok);
    RUN(test_markdown_layout);
    RUN(test_hostile_text);
    RUN(test_hostile_markdown);
    RUN(test_hostile_json);
    RUN(test_utf8_and_unterminated);
    RUN(test_stream_failure);
    return check_summary();
}
