/* factsilent.c: an endpoint the wire (or connect()) found silent, and the
 * probe's --control destinations: the differential probes to the same
 * address (TCP 80, TCP 8080, ping) and the controls decide between an NSG
 * rule and a route with next hop None (verdicts.md nsg_drop,
 * route_blackhole), or the reason says what was tried.  */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "analysis/factapply.h"

static void strcat_f(char *dst, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Appends to dst, cut (always terminated) when it does not fit. */
static void strcat_f(char *dst, size_t len, const char *fmt, ...)
{
    size_t o = strnlen(dst, len);
    if (o + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst + o, len - o, fmt, ap);
    va_end(ap);
}

void an_fact_controls(struct an_report *r, const struct an_fact *const *facts, size_t n, uint16_t port)
{
    for (size_t i = 0; i < n && r->n_controls < AN_MAX_CONTROLS; i++) {
        if (facts[i]->kind != AN_FK_CONTROL)
            continue;
        struct an_control *c = &r->controls[r->n_controls];
        memset(c, 0, sizeof(*c));
        char addr[64], resolved[32], res[64];
        an_fact_copy(facts[i], AN_K_GIVEN, c->given, sizeof(c->given));
        an_fact_copy(facts[i], AN_K_ADDR, addr, sizeof(addr));
        an_fact_copy(facts[i], AN_K_RESOLVED, resolved, sizeof(resolved));
        an_fact_copy(facts[i], AN_K_RESULT, res, sizeof(res));
        c->has_ip = cap_addr_parse(addr, &c->ip);
        c->probed = c->has_ip && an_fact_flag(facts[i], AN_K_PROBED);
        if (!c->has_ip && an_fact_flag(facts[i], AN_K_REGISTRY_ADDRESS)) {
            snprintf(c->result, sizeof(c->result), "resolves only to the registry's own addresses: not used as a control");
        } else if (!c->has_ip) {
            snprintf(c->result, sizeof(c->result), "the name did not resolve (%s): not used as a control",
                     resolved[0] ? resolved : "no answer");
        } else if (!c->probed) {
            snprintf(c->result, sizeof(c->result), "not probed: nothing failed that a control would explain");
        } else {
            unsigned tcp = (unsigned)an_fact_num(facts[i], AN_K_PORT, port);
            bool tcp_answer = strcmp(res, "ok") == 0 || strcmp(res, "ECONNREFUSED") == 0;
            long req = an_fact_num(facts[i], AN_K_ECHO_REQUESTS, 0), rep = an_fact_num(facts[i], AN_K_ECHO_REPLIES, 0);
            bool seen = an_fact_flag(facts[i], AN_K_CAPTURE);
            c->answered = tcp_answer || (seen && rep > 0);
            if (strcmp(res, "ok") == 0)
                snprintf(c->result, sizeof(c->result), "TCP %u answered with a SYN-ACK in %ld ms", tcp,
                         an_fact_num(facts[i], AN_K_MS, 0));
            else if (strcmp(res, "ECONNREFUSED") == 0)
                snprintf(c->result, sizeof(c->result), "TCP %u answered with a RST (closed port, reachable)", tcp);
            else if (an_fact_flag(facts[i], AN_K_LOCAL))
                snprintf(c->result, sizeof(c->result), "TCP %u could not be sent (%s)", tcp, res);
            else if (strcmp(res, "ETIMEDOUT") == 0)
                snprintf(c->result, sizeof(c->result), "TCP %u got no answer", tcp);
            else
                snprintf(c->result, sizeof(c->result), "TCP %u failed (%s)", tcp, res);
            if (!seen)
                strcat_f(c->result, sizeof(c->result), "; ping replies not observed (no capture)");
            else if (req)
                strcat_f(c->result, sizeof(c->result), "; ping: %ld of %ld answered", rep, req);
        }
        r->n_controls++;
    }
    /* A control's own connection, or the DNS lookup of its name, is no
     * endpoint of the registry (unless the name is also a registry name). */
    for (unsigned c = 0; c < r->n_controls; c++) {
        const struct an_control *x = &r->controls[c];
        bool registry_name = false;
        for (size_t i = 0; i < n && !registry_name; i++)
            registry_name = facts[i]->kind == AN_FK_DNS && an_fact_eq(facts[i], AN_K_NAME, x->given);
        for (unsigned i = 0; i < r->n_endpoints;) {
            const struct an_endpoint *ep = &r->endpoints[i];
            if ((x->has_ip && ep->has_ip && cap_addr_eq(&ep->ip, &x->ip)) ||
                (!ep->has_ip && x->given[0] && !registry_name && strcasecmp(ep->name, x->given) == 0)) {
                memmove(&r->endpoints[i], &r->endpoints[i + 1], (r->n_endpoints - i - 1) * sizeof(r->endpoints[0]));
                r->n_endpoints--;
            } else {
                i++;
            }
        }
    }
}

/* What one differential step to the silent address did. */
enum diff_result { DIFF_NOT_TRIED, DIFF_SILENT, DIFF_ANSWERED, DIFF_OTHER };

static enum diff_result port_result(const struct an_fact *const *facts, size_t n, const char *ip, const struct cap_addr *a,
                                    uint16_t port, char *what, size_t len)
{
    char ep[80], res[64];
    if (a->family == 6)
        snprintf(ep, sizeof(ep), "[%s]:%u", ip, port);
    else
        snprintf(ep, sizeof(ep), "%s:%u", ip, port);
    const struct an_fact *f = an_fact_find(facts, n, AN_FK_CONNECT, ep, "tcp");
    if (!f)
        return DIFF_NOT_TRIED;
    an_fact_copy(f, AN_K_RESULT, res, sizeof(res));
    if (an_fact_flag(f, AN_K_LOCAL)) {
        snprintf(what, len, "could not be sent (%s)", res);
        return DIFF_OTHER;
    }
    if (strcmp(res, "ok") == 0) {
        snprintf(what, len, "answered with a SYN-ACK");
        return DIFF_ANSWERED;
    }
    if (strcmp(res, "ECONNREFUSED") == 0) {
        snprintf(what, len, "answered with a RST");
        return DIFF_ANSWERED;
    }
    if (strcmp(res, "ETIMEDOUT") == 0) {
        snprintf(what, len, "no SYN-ACK or RST within the wait");
        return DIFF_SILENT;
    }
    snprintf(what, len, "failed with %s", res);
    return DIFF_OTHER;
}

static enum diff_result echo_result(const struct an_fact *const *facts, size_t n, const char *ip, char *what, size_t len)
{
    const struct an_fact *f = an_fact_find(facts, n, AN_FK_ECHO, ip, NULL);
    if (!f)
        return DIFF_NOT_TRIED;
    long req = an_fact_num(f, AN_K_REQUESTS, 0), rep = an_fact_num(f, AN_K_REPLIES, 0);
    if (req == 0) {
        snprintf(what, len, "could not be sent");
        return DIFF_NOT_TRIED;
    }
    if (!an_fact_flag(f, AN_K_CAPTURE)) {
        snprintf(what, len, "%ld requests, replies not observed (no capture)", req);
        return DIFF_OTHER;
    }
    if (rep > 0) {
        snprintf(what, len, "answered (%ld of %ld requests)", rep, req);
        return DIFF_ANSWERED;
    }
    snprintf(what, len, "no reply to %ld requests", req);
    return DIFF_SILENT;
}

/* Inside the /24 (IPv4) or /64 (IPv6) of the server. */
static bool near(const struct cap_addr *a, const struct cap_addr *b)
{
    return a->family == b->family && memcmp(a->a, b->a, a->family == 4 ? 3 : 8) == 0;
}

/* The registry port silent: the differential probes (port 80, port 8080,
 * ping of the same address) and the --control destinations decide between
 * an NSG rule and a route with next hop None (verdicts.md nsg_drop,
 * route_blackhole); when they cannot, the reason says what was tried.  */
void an_fact_silent(struct an_report *r, struct an_endpoint *ep, const struct an_fact *const *facts, size_t n)
{
    if (ep->verdict != AN_SILENT_DROP && ep->verdict != AN_ROUTE_BLACKHOLE && ep->verdict != AN_NSG_DROP)
        return;
    char ip[64], w80[96] = "", w8080[96] = "", wecho[96] = "";
    cap_addr_str(&ep->ip, ip, sizeof(ip));
    enum diff_result d80 = port_result(facts, n, ip, &ep->ip, AN_FACT_PORT_OTHER, w80, sizeof(w80));
    enum diff_result d8080 = port_result(facts, n, ip, &ep->ip, AN_FACT_PORT_UNUSED, w8080, sizeof(w8080));
    enum diff_result decho = echo_result(facts, n, ip, wecho, sizeof(wecho));
    static const char *const label[3] = { "TCP 80", "TCP 8080", "ping" };    /* the two ports above */
    static const char *const kind[3] = { "probe_tcp_80", "probe_tcp_8080", "probe_ping" };
    const char *what[3] = { w80, w8080, wecho };
    enum diff_result res[3] = { d80, d8080, decho };
    for (unsigned k = 0; k < 3; k++)
        if (res[k] != DIFF_NOT_TRIED || what[k][0])
            an_fact_ev(ep, kind[k], "%s to %s: %s", label[k], ip, what[k]);
    const struct an_control *ctl = NULL;
    unsigned n_probed = 0;
    for (unsigned c = 0; c < r->n_controls; c++) {
        const struct an_control *x = &r->controls[c];
        if (!x->probed)
            continue;
        n_probed++;
        char cip[64];
        cap_addr_str(&x->ip, cip, sizeof(cip));
        bool named = strcmp(x->given, cip) != 0, same = near(&x->ip, &ep->ip);
        an_fact_ev(ep, "probe_control", "control %s%s%s%s%s: %s", x->given, named || same ? " (" : "", named ? cip : "",
               same ? (named ? ", same prefix" : "same prefix") : "", named || same ? ")" : "", x->result);
        if (x->answered && !ctl)
            ctl = x;
    }
    bool all_silent = d80 == DIFF_SILENT && d8080 == DIFF_SILENT && decho == DIFF_SILENT;
    /* The wire decided already; to its route_blackhole the probe's own
     * steps add the control as the user gave it.  */
    if (ep->verdict == AN_ROUTE_BLACKHOLE && all_silent && ctl) {
        char cip[64];
        cap_addr_str(&ctl->ip, cip, sizeof(cip));
        strcat_f(ep->reason, sizeof(ep->reason), "; the probe's control %s%s%s answered%s", ctl->given,
                 strcmp(ctl->given, cip) ? " at " : "", strcmp(ctl->given, cip) ? cip : "",
                 near(&ctl->ip, &ep->ip) ? " from the same prefix" : "");
    }
    if (ep->verdict != AN_SILENT_DROP)
        return;

    bool answered = d80 == DIFF_ANSWERED || d8080 == DIFF_ANSWERED || decho == DIFF_ANSWERED;
    if (answered) {
        const char *how = d80 == DIFF_ANSWERED ? w80 : d8080 == DIFF_ANSWERED ? w8080 : wecho;
        an_fact_verdict(ep, AN_NSG_DROP, AN_CONF_HIGH, 0,
                    "TCP %u to %s got no answer while the same address did (%s): the drop is scoped to the port, as an NSG or ACL rule does",
                    ep->port, ip, how);
        return;
    }
    if (all_silent && ctl) {
        char cip[64];
        cap_addr_str(&ctl->ip, cip, sizeof(cip));
        an_fact_verdict(ep, AN_ROUTE_BLACKHOLE, AN_CONF_MEDIUM, 0,
                    "nothing sent to %s is answered (TCP %u, TCP 80, TCP 8080, ping) while the control %s%s%s answered%s: the drop is scoped to the destination, as a route with next hop None does. An NSG rule denying every protocol to it looks the same: check the next hop and effective routes in Network Watcher",
                    ip, ep->port, ctl->given, strcmp(ctl->given, cip) ? " at " : "", strcmp(ctl->given, cip) ? cip : "",
                    near(&ctl->ip, &ep->ip) ? " from the same prefix" : "");
        return;
    }
    /* Still a silent drop: say what was tried and what would settle it. */
    char tried[320] = "";
    for (unsigned k = 0; k < 3; k++) {
        const char *state = res[k] == DIFF_SILENT ? "silent" : res[k] == DIFF_NOT_TRIED ? "not tried" : "not decisive";
        strcat_f(tried, sizeof(tried), "%s%s %s", k ? ", " : "", label[k], state);
        if (res[k] == DIFF_OTHER)
            strcat_f(tried, sizeof(tried), " (%s)", what[k]);
    }
    const char *controls = n_probed ? "and no control destination answered"
                           : r->n_controls ? "and no control destination could be probed"
                                           : "and no --control destination was given";
    an_fact_verdict(ep, AN_SILENT_DROP, ep->confidence, 1u << AN_NSG_DROP | 1u << AN_ROUTE_BLACKHOLE,
                "TCP %u to %s got no SYN-ACK, RST or ICMP answer; also tried: %s, %s: an NSG rule and a route with next hop None both fit. Probe again with --control naming a host that should answer (in any prefix), or check next hop and NSG diagnostics in Network Watcher",
                ep->port, ip, tried, controls);
}
