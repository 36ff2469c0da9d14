/* facts.c: probe facts (connect errno, TLS verification, HTTP answer, DNS
 * as c-ares saw it, TTL-limited SYNs) turned into endpoint verdicts and
 * evidence on top of what the engine decided from the packets (verdicts.md
 * principle 3); then the controls and differential probes (factsilent.c),
 * the push check (pushfacts.c) and the steps through a proxy
 * (proxyfacts.c).  The caller concludes the report afterwards
 * (an_report_conclude).  */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "analysis/factapply.h"
#include "analysis/pushfacts.h"

/* An endpoint that no packet decided (no capture): the connect outcome. */
static void decide_from_connect(struct an_endpoint *ep, const struct an_fact *conn, const char *ip)
{
    char res[64];
    an_fact_copy(conn, AN_K_RESULT, res, sizeof(res));
    if (strcmp(res, "ETIMEDOUT") == 0)
        an_fact_verdict(ep, AN_SILENT_DROP, AN_CONF_LOW, 1u << AN_NSG_DROP | 1u << AN_ROUTE_BLACKHOLE,
                    "connect() to %s:%u timed out; without a capture the probe cannot tell an NSG rule from a route with next hop None",
                    ip, ep->port);
    else if (strcmp(res, "ECONNREFUSED") == 0)
        an_fact_verdict(ep, AN_CONNECTION_RESET, AN_CONF_LOW, 1u << AN_FIREWALL_RESET | 1u << AN_SERVER_RESET,
                    "connect() to %s:%u was refused (a RST answered the SYN); without a capture its origin is unknown",
                    ip, ep->port);
    else if (strcmp(res, "EHOSTUNREACH") == 0 || strcmp(res, "ENETUNREACH") == 0 || strcmp(res, "EACCES") == 0)
        an_fact_verdict(ep, AN_ICMP_UNREACHABLE, AN_CONF_MEDIUM, 0,
                    "connect() to %s:%u failed with %s after the SYN left: an ICMP destination unreachable answered it",
                    ip, ep->port, res);
    an_fact_ev(ep, "probe_connect", "connect() to %s:%u: %s", ip, ep->port, res);
}

static void apply_tls(struct an_endpoint *ep, const struct an_fact *tls, const struct an_fact *ctl, bool decided_by_wire)
{
    char res[32], ver[16], vfy[64], vmsg[160], icn[128], io[128], sni[256], det[160];
    an_fact_copy(tls, AN_K_RESULT, res, sizeof(res));
    an_fact_copy(tls, AN_K_VERSION, ver, sizeof(ver));
    if (!an_fact_copy(tls, AN_K_VERIFY, vfy, sizeof(vfy)))
        snprintf(vfy, sizeof(vfy), "none");
    an_fact_copy(tls, AN_K_VERIFY_ERROR, vmsg, sizeof(vmsg));
    an_fact_copy(tls, AN_K_ISSUER_CN, icn, sizeof(icn));
    an_fact_copy(tls, AN_K_ISSUER_O, io, sizeof(io));
    an_fact_copy(tls, AN_K_SNI, sni, sizeof(sni));
    an_fact_copy(tls, AN_K_DETAIL, det, sizeof(det));
    bool ctl_ok = ctl && an_fact_eq(ctl, AN_K_RESULT, "ok");

    if (strcmp(res, "ok") == 0) {
        an_fact_ev(ep, "probe_tls_ok", "TLS %s with SNI %s completed; chain verification %s%s%s; leaf issued by CN=%s%s%s", ver,
               sni, strcmp(vfy, "ok") == 0 ? "ok" : "FAILED", vmsg[0] ? ": " : "", vmsg, icn, io[0] ? ", O=" : "",
               io);
        /* The wire's low-confidence tls_failure (a client that closed right
         * after a TLS 1.3 handshake, guessed to have rejected the chain) is
         * refuted when the probe's own handshake verified the chain: in a
         * probe run that close is one of its steps ending after its
         * handshake by design.  The HTTP answer then decides.  */
        if (strcmp(vfy, "ok") == 0 && ep->verdict == AN_TLS_FAILURE && ep->confidence == AN_CONF_LOW) {
            an_fact_ev(ep, "wire_tls_failure_overruled", "the wire alone said tls_failure (%.150s); the probe's handshake verified the chain", ep->reason);
            ep->verdict = AN_INCOMPLETE;
            ep->candidates = 0;
            snprintf(ep->reason, sizeof(ep->reason), "the probe's TLS handshake naming %.200s completed with a verified chain", sni);
            return;
        }
        /* A handshake that completed with a foreign, untrusted chain is
         * positive proof of interception; a reset or close the wire saw on
         * another of the probe's connections (e.g. its TLS 1.2 step refused
         * by a TLS 1.3-only proxy) does not outweigh it, and is named.  */
        bool foreign = !an_fact_microsoft_issuer(icn, io);
        bool wire_reset = ep->verdict == AN_FIREWALL_RESET || ep->verdict == AN_CONNECTION_RESET ||
                          ep->verdict == AN_SERVER_RESET || ep->verdict == AN_TLS_FAILURE;
        if (strcmp(vfy, "ok") == 0 ||
            (ep->verdict != AN_OK && ep->verdict != AN_INCOMPLETE && !(foreign && wire_reset)))
            return;
        if (foreign && wire_reset)
            an_fact_ev(ep, "wire_verdict_other_connection", "the wire alone said %s (%.150s), on another of the probe's connections", an_verdict_name(ep->verdict),
                   ep->reason);
        char issuer[200];
        snprintf(issuer, sizeof(issuer), "CN=%.90s, O=%.90s", icn, io);
        an_fact_detail(ep, "issuer", issuer, true);
        if (!an_fact_microsoft_issuer(icn, io))
            an_fact_verdict(ep, AN_PROXY_INTERCEPTION, AN_CONF_HIGH, 0,
                        "the certificate presented for %s was issued by \"%s\" and does not verify (%s): something between the client and the registry terminates TLS",
                        sni, icn[0] ? icn : io, vmsg[0] ? vmsg : "untrusted");
        else
            an_fact_verdict(ep, AN_TLS_FAILURE, AN_CONF_HIGH, 0,
                        "the registry's Microsoft-issued certificate does not verify against the local trust store (%s): update the CA bundle (DigiCert Global Root G2, Microsoft TLS RSA Root G2)",
                        vmsg[0] ? vmsg : "untrusted");
        return;
    }
    an_fact_ev(ep, "probe_tls_failed", "TLS with SNI %s: %s%s%s", sni, res, det[0] ? ", " : "", det);
    char ctl_sni[256] = "a control name";
    if (ctl && an_fact_copy(ctl, AN_K_SNI, ctl_sni, sizeof(ctl_sni)))
        an_fact_ev(ep, "probe_tls_control_sni", "TLS with the control SNI %s: %s", ctl_sni, ctl_ok ? "completed" : "failed too");
    bool ended = strcmp(res, "eof") == 0 || strcmp(res, "reset") == 0;
    if (ended && ctl_ok && (ep->verdict == AN_CONNECTION_RESET || !decided_by_wire)) {
        an_fact_verdict(ep, AN_FIREWALL_RESET, AN_CONF_HIGH, 0,
                    "the handshake naming %s was %s while the same address completed one naming %s: a middlebox filters on the SNI",
                    sni, strcmp(res, "eof") == 0 ? "closed" : "reset", ctl_sni);
    } else if (ended && !decided_by_wire) {
        an_fact_verdict(ep, AN_CONNECTION_RESET, AN_CONF_LOW, 1u << AN_FIREWALL_RESET | 1u << AN_SERVER_RESET,
                    "the TLS handshake naming %s was %s before it completed; without a capture its origin is unknown",
                    sni, strcmp(res, "eof") == 0 ? "closed" : "reset");
    } else if (!decided_by_wire) {
        an_fact_verdict(ep, AN_TLS_FAILURE, AN_CONF_LOW, 0, "the TLS handshake naming %s failed: %s%s%s", sni, res,
                    det[0] ? ", " : "", det);
    }
}

static void apply_http(struct an_endpoint *ep, const struct an_fact *http)
{
    struct an_http_answer a = { .request = "GET /v2/" };
    an_http_answer_read(http, &a);
    if (a.status == 0) {
        an_fact_ev(ep, "probe_http_no_answer", "GET /v2/ got no HTTP answer");
        return;
    }
    an_http_answer_apply(ep, &a);
}

static bool is_private(const struct an_options *opt, const struct cap_addr *a)
{
    for (unsigned i = 0; i < opt->n_private_nets; i++)
        if (an_prefix_contains(&opt->private_nets[i], a))
            return true;
    return false;
}

/* A privatelink chain ending in a public address (acr-network-facts.md 2.4), and DNS
 * failures the capture did not show (no capture, or DNS over another path). */
static void apply_dns(struct an_report *r, const struct an_options *opt, const struct an_fact *const *facts, size_t n)
{
    uint16_t port = opt->port;
    for (size_t i = 0; i < n; i++) {
        if (facts[i]->kind != AN_FK_DNS)
            continue;
        char name[256], res[32], chain[512], addrs[512], resolver[64];
        an_fact_copy(facts[i], AN_K_NAME, name, sizeof(name));
        an_fact_copy(facts[i], AN_K_RESULT, res, sizeof(res));
        if (!an_fact_copy(facts[i], AN_K_RESOLVER, resolver, sizeof(resolver)))
            snprintf(resolver, sizeof(resolver), "system");
        an_fact_copy(facts[i], AN_K_CHAIN, chain, sizeof(chain));
        an_fact_copy(facts[i], AN_K_ADDRS, addrs, sizeof(addrs));
        if (strcmp(res, "ok") != 0) {
            bool have = false;
            for (unsigned j = 0; j < r->n_endpoints; j++)
                have = have || strcasecmp(r->endpoints[j].name, name) == 0;
            struct an_endpoint *ep = NULL;
            for (unsigned j = 0; j < r->n_endpoints && !ep; j++)
                if (r->endpoints[j].verdict == AN_DNS_FAILURE && strcasecmp(r->endpoints[j].name, name) == 0)
                    ep = &r->endpoints[j];
            if (!ep && !have && (ep = an_fact_new_endpoint(r)) != NULL) {
                snprintf(ep->name, sizeof(ep->name), "%s", name);
                ep->port = port;
                ep->is_data_endpoint = strstr(name, ".data.") != NULL;
                an_fact_detail(ep, "dns", res, true);
                an_fact_verdict(ep, AN_DNS_FAILURE, strcmp(res, "timeout") == 0 ? AN_CONF_MEDIUM : AN_CONF_HIGH, 0,
                            "the %s resolver answered %s for %s", resolver, res, name);
            }
            if (ep)
                an_fact_ev(ep, "probe_dns_lookup", "DNS lookup of %s via the %s resolver: %s", name, resolver, res);
            continue;
        }
        /* Each address of the answer, comma-separated. */
        bool privatelink = strstr(chain, ".privatelink.") != NULL;
        for (const char *tok = addrs; *tok;) {
            const char *comma = strchr(tok, ',');
            size_t len = comma ? (size_t)(comma - tok) : strlen(tok);
            char one[64];
            struct cap_addr a;
            bool ok = len > 0 && len < sizeof(one);
            if (ok) {
                memcpy(one, tok, len);
                one[len] = '\0';
                ok = cap_addr_parse(one, &a);
            }
            tok += comma ? len + 1 : len;
            if (!ok || !privatelink || is_private(opt, &a))
                continue;
            r->findings |= 1u << AN_F_PRIVATELINK_RESOLVES_PUBLIC;
            struct an_endpoint *ep = an_fact_find_endpoint(r, &a, port);
            if (ep && !(ep->findings & (1u << AN_F_PRIVATELINK_RESOLVES_PUBLIC))) {
                ep->findings |= 1u << AN_F_PRIVATELINK_RESOLVES_PUBLIC;
                an_fact_ev(ep, "probe_privatelink_public", "%s resolves through a privatelink CNAME (%s) to the public address %s", name,
                       chain, one);
            }
        }
    }
    /* The system resolver and --dns-server disagreeing is a DNS problem
     * in itself (a custom DNS server without the private zone).  */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            char ni[256], nj[256], ai[512], aj[512], ri[64], rj[64];
            if (facts[i]->kind != AN_FK_DNS || facts[j]->kind != AN_FK_DNS ||
                !an_fact_copy(facts[i], AN_K_NAME, ni, sizeof(ni)) || !an_fact_copy(facts[j], AN_K_NAME, nj, sizeof(nj)) ||
                strcmp(ni, nj) != 0)
                continue;
            an_fact_copy(facts[i], AN_K_ADDRS, ai, sizeof(ai));
            an_fact_copy(facts[j], AN_K_ADDRS, aj, sizeof(aj));
            if (strcmp(ai, aj) == 0)
                continue;
            an_fact_copy(facts[i], AN_K_RESOLVER, ri, sizeof(ri));
            an_fact_copy(facts[j], AN_K_RESOLVER, rj, sizeof(rj));
            r->findings |= 1u << AN_F_DNS_ANSWERS_DIFFER;
            for (unsigned k = 0; k < r->n_endpoints; k++) {
                if (strcasecmp(r->endpoints[k].name, ni) != 0)
                    continue;
                r->endpoints[k].findings |= 1u << AN_F_DNS_ANSWERS_DIFFER;
                an_fact_ev(&r->endpoints[k], "dns_answers_differ", "resolvers disagree on %s: %s answered %s, %s answered %s", ni, ri,
                       ai[0] ? ai : "nothing", rj, aj[0] ? aj : "nothing");
            }
        }
    }
}

/* TTL-limited SYNs (probe): the hop distance of whatever answers on the
 * registry port against the server's own on another port.  */
static void apply_ttl(struct an_endpoint *ep, const struct an_fact *const *facts, size_t n, const char *endpoint)
{
    char other[80];
    const char *colon = strrchr(endpoint, ':');
    if (!colon)
        return;
    snprintf(other, sizeof(other), "%.*s:%u", (int)(colon - endpoint), endpoint, AN_FACT_PORT_OTHER);
    const struct an_fact *t443 = an_fact_find(facts, n, AN_FK_TTL, endpoint, NULL);
    const struct an_fact *t80 = an_fact_find(facts, n, AN_FK_TTL, other, NULL);
    if (!t443)
        return;
    long a = an_fact_num(t443, AN_K_FIRST_ANSWER_TTL, 0), b = t80 ? an_fact_num(t80, AN_K_FIRST_ANSWER_TTL, 0) : 0;
    char how[16] = "", how80[16] = "";
    an_fact_copy(t443, AN_K_ANSWER, how, sizeof(how));
    if (t80)
        an_fact_copy(t80, AN_K_ANSWER, how80, sizeof(how80));
    if (a && b && a < b)
        an_fact_ev(ep, "probe_ttl_syns_nearer", "TTL-limited SYNs: port %u is answered (%s) from %ld hops away, port 80 of the same address (%s) from %ld: something nearer than the server answers for it",
               ep->port, how, a, how80, b);
    else if (a && b)
        an_fact_ev(ep, "probe_ttl_syns", "TTL-limited SYNs: port %u answered (%s) at TTL %ld, port 80 (%s) at TTL %ld", ep->port, how, a, how80, b);
    else if (a)
        an_fact_ev(ep, "probe_ttl_syns", "TTL-limited SYNs: port %u answered (%s) at TTL %ld", ep->port, how, a);
}

static bool silent_verdict(enum an_verdict v)
{
    return v == AN_SILENT_DROP || v == AN_NSG_DROP || v == AN_ROUTE_BLACKHOLE;
}

/* The probe's registry step connected to this address and port, yet the
 * wire calls it silent: the unanswered SYNs were the probe's own TTL-limited
 * ones (they die on the path by design).  The wire's verdict is withdrawn so
 * the TLS and HTTP facts decide.  */
static void unsilence(struct an_endpoint *ep, const struct an_fact *const *facts, size_t n, const char *endpoint)
{
    const struct an_fact *ttl = an_fact_find(facts, n, AN_FK_TTL, endpoint, NULL);
    ep->verdict = AN_INCOMPLETE;
    ep->candidates = 0;
    ep->confidence = AN_CONF_LOW;
    ep->n_evidence = 0;
    snprintf(ep->reason, sizeof(ep->reason), "the probe's connections decide this endpoint");
    an_fact_ev(ep, "probe_connected_past_syns", "the probe's registry step connected to %s; its unanswered SYNs on the wire were %s", endpoint,
           ttl ? "TTL-limited ones (TTL 1 and up), not a silent drop" : "not the whole story");
}

/* ---- the report ------------------------------------------------------------- */

void an_facts_apply(struct an_report *r, const struct an_options *opt, const struct an_fact *const *facts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (facts[i]->kind == AN_FK_RUN && an_fact_flag(facts[i], AN_K_UPPERCASE))
            r->findings |= 1u << AN_F_UPPERCASE_REGISTRY_NAME;
    an_fact_controls(r, facts, n, opt->port);

    /* The registry step of every probed address speaks for its endpoint. */
    for (size_t i = 0; i < n; i++) {
        if (facts[i]->kind != AN_FK_CONNECT || !an_fact_eq(facts[i], AN_K_STEP, "registry"))
            continue;
        char endpoint[80], name[256], ipbuf[64];
        struct cap_addr a;
        uint16_t port;
        if (!an_fact_copy(facts[i], AN_K_ENDPOINT, endpoint, sizeof(endpoint)) || !an_fact_endpoint_parse(endpoint, &a, &port))
            continue;
        an_fact_copy(facts[i], AN_K_NAME, name, sizeof(name));
        cap_addr_str(&a, ipbuf, sizeof(ipbuf));
        struct an_endpoint *ep = an_fact_find_endpoint(r, &a, port);
        if (ep && an_fact_eq(facts[i], AN_K_RESULT, "ok") && silent_verdict(ep->verdict))
            unsilence(ep, facts, n, endpoint);
        bool by_wire = ep && ep->verdict != AN_INCOMPLETE;
        if (!ep && (ep = an_fact_new_endpoint(r)) == NULL)
            continue;
        ep->has_ip = true;
        ep->ip = a;
        ep->port = port;
        if (!ep->name[0])
            snprintf(ep->name, sizeof(ep->name), "%s", name);
        ep->is_data_endpoint = strstr(ep->name, ".data.") != NULL;
        if (an_fact_flag(facts[i], AN_K_LOCAL)) {
            char res[64];
            an_fact_copy(facts[i], AN_K_RESULT, res, sizeof(res));
            an_fact_detail(ep, "errno", res, true);
            an_fact_verdict(ep, AN_LOCAL_NO_ROUTE, AN_CONF_HIGH, 0,
                        "this host refused to send: connect() to %s:%u failed with %s before any packet left (no route, or a local firewall)",
                        ipbuf, port, res);
            an_fact_ev(ep, "probe_connect_local_failure", "connect() to %s:%u failed locally: %s", ipbuf, port, res);
            continue;
        }
        apply_ttl(ep, facts, n, endpoint);
        if (!an_fact_eq(facts[i], AN_K_RESULT, "ok")) {
            if (!by_wire)
                decide_from_connect(ep, facts[i], ipbuf);
            an_fact_silent(r, ep, facts, n);
            continue;
        }
        const struct an_fact *tls = an_fact_find(facts, n, AN_FK_TLS, endpoint, "registry");
        const struct an_fact *ctl = an_fact_find(facts, n, AN_FK_TLS, endpoint, "control_sni");
        if (tls)
            apply_tls(ep, tls, ctl, by_wire);
        const struct an_fact *http = an_fact_find(facts, n, AN_FK_HTTP, endpoint, NULL);
        if (http && (!tls || an_fact_eq(tls, AN_K_RESULT, "ok")))
            apply_http(ep, http);
    }
    apply_dns(r, opt, facts, n);
    an_push_facts_apply(r, opt, facts, n);
    an_proxy_facts_apply(r, opt, facts, n);
}
