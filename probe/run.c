/* run.c: one probe run after the privilege drop: resolve, then every step
 * for every address concurrently on one poll() loop, with the live capture
 * read into the same engine `analyze` uses and into the -w file.  */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe_int.h"
#include "push.h"

#define MS (1000000LL)
/* A registry step waits long enough to see the kernel's first SYN
 * retransmission (initial RTO 1 s, RFC 6298 2.1): two SYNs prove a drop. */
#define PRIMARY_WAIT_NS (1400 * MS)
/* Differential steps: an open path answers in milliseconds. */
#define DIFF_WAIT_NS (1000 * MS)
/* No SYN-ACK this long after the SYN: start the differential probes. */
#define SILENT_AFTER_NS (250 * MS)
#define ECHO_GAP_NS (200 * MS)
/* After the last step, late packets (RSTs, FINs) still reach the capture. */
#define DRAIN_NS (60 * MS)

static void endpoint_str(const struct cap_addr *a, uint16_t port, char *out, size_t len)
{
    char ip[64];
    cap_addr_str(a, ip, sizeof(ip));
    if (a->family == 6)
        snprintf(out, len, "[%s]:%u", ip, port);
    else
        snprintf(out, len, "%s:%u", ip, port);
}

static const char *errno_name(int e)
{
    const char *n = e ? strerrorname_np(e) : "ok";
    return n ? n : "error";
}

static void dns_facts(struct probe_ctx *p)
{
    for (unsigned i = 0; i < p->n_dns; i++) {
        const struct probe_dns *d = &p->dns[i];
        if (d->control)
            continue;               /* said in the control facts */
        char chain[512] = "", addrs[512] = "", esc_chain[700], esc_addrs[700];
        size_t o = 0;
        for (unsigned j = 0; j < d->chain_len; j++) {
            int n = snprintf(chain + o, sizeof(chain) - o, "%s%s", j ? "," : "", d->chain[j]);
            if (n < 0 || (size_t)n >= sizeof(chain) - o)
                break;
            o += (size_t)n;
        }
        o = 0;
        for (unsigned j = 0; j < d->n_addrs; j++) {
            char ip[64];
            cap_addr_str(&d->addrs[j], ip, sizeof(ip));
            int n = snprintf(addrs + o, sizeof(addrs) - o, "%s%s", j ? "," : "", ip);
            if (n < 0 || (size_t)n >= sizeof(addrs) - o)
                break;
            o += (size_t)n;
        }
        an_fact_escape(esc_chain, sizeof(esc_chain), chain);
        an_fact_escape(esc_addrs, sizeof(esc_addrs), addrs);
        char resolver[64];
        an_fact_escape(resolver, sizeof(resolver), d->custom ? p->cfg.dns_server : "system");
        probe_fact(p, "fact=dns name=%s resolver=%s result=%s chain=%s addrs=%s ms=%lld", p->cfg.names[d->name_idx],
             resolver, probe_dns_status_name(d->status), esc_chain, esc_addrs, (long long)(d->took_ns / MS));
    }
}

/* How many targets stand for control i. */
static unsigned control_targets(const struct probe_ctx *p, unsigned i)
{
    unsigned n = 0;
    for (unsigned t = 0; t < p->n_targets; t++)
        n += p->targets[t].is_control && p->targets[t].name_idx == i;
    return n;
}

/* The registry's addresses, then each --control: its address, or the first
 * PROBE_CONTROL_ADDRS addresses its name resolved to through any resolver.
 * A control that is one of the registry's own addresses is not a control. */
static void plan_targets(struct probe_ctx *p)
{
    for (unsigned i = 0; i < p->n_dns; i++)
        for (unsigned j = 0; !p->dns[i].control && j < p->dns[i].n_addrs && p->n_targets < PROBE_MAX_TARGETS; j++)
            probe_add_target(p, &p->dns[i].addrs[j], p->dns[i].name_idx, false);
    for (unsigned c = 0; c < p->cfg.n_controls; c++) {
        struct cap_addr a;
        if (!p->cfg.control_is_name[c]) {
            if (cap_addr_parse(p->cfg.controls[c], &a))
                probe_add_target(p, &a, c, true);
            continue;
        }
        for (unsigned i = 0; i < p->n_dns; i++) {
            const struct probe_dns *d = &p->dns[i];
            if (!d->control || d->name_idx != c)
                continue;
            for (unsigned j = 0; j < d->n_addrs && control_targets(p, c) < PROBE_CONTROL_ADDRS; j++)
                probe_add_target(p, &d->addrs[j], c, true);
        }
    }
}

static void start_primary(struct probe_ctx *p, unsigned t, int64_t now)
{
    struct probe_target *tg = &p->targets[t];
    const char *name = p->cfg.names[tg->name_idx];
    struct probe_conn *c = probe_step_new(p, PK_REGISTRY, t, &tg->addr, PROBE_PORT_TLS, name, now, PRIMARY_WAIT_NS, 0);
    if (c) {
        tg->primary = (int)(c - p->conns);
        /* Data endpoints serve blobs, not /v2/: their answer proves nothing. */
        c->no_http = tg->name_idx > 0;
    }
    probe_step_new(p, PK_TLS12, t, &tg->addr, PROBE_PORT_TLS, name, now, PRIMARY_WAIT_NS, 0);
    probe_step_new(p, PK_CONTROL_SNI, t, &tg->addr, PROBE_PORT_TLS, PROBE_CONTROL_SNI, now, PRIMARY_WAIT_NS, 0);
}

/* Silent drop, reset or foreign certificate: the probes that tell the
 * specific class (verdicts.md nsg_drop, route_blackhole, firewall_reset):
 * another port, an unused port, ICMP echo, and the control destinations. */
static void start_differential(struct probe_ctx *p, unsigned t, int64_t now, bool *controls_started)
{
    struct probe_target *tg = &p->targets[t];
    tg->diff_started = true;
    probe_step_new(p, PK_TCP, t, &tg->addr, PROBE_PORT_OTHER, NULL, now, DIFF_WAIT_NS, 0);
    probe_step_new(p, PK_TCP, t, &tg->addr, PROBE_PORT_UNUSED, NULL, now, DIFF_WAIT_NS, 0);
    tg->echo_next_ns = now;
    if (*controls_started)
        return;
    *controls_started = true;
    for (unsigned i = 0; i < p->n_resolvers; i++)
        probe_step_new(p, PK_TCP, t, &p->resolvers[i], 53, NULL, now, DIFF_WAIT_NS, 0);
    for (unsigned i = 0; i < p->n_targets; i++) {
        if (!p->targets[i].is_control)
            continue;
        probe_step_new(p, PK_TCP, i, &p->targets[i].addr, PROBE_PORT_TLS, NULL, now, DIFF_WAIT_NS, 0);
        p->targets[i].echo_next_ns = now;
    }
}

/* TTL-limited SYNs to 443 and to the other port: the smallest TTL that
 * gets an answer is the hop distance of whatever answers (mtr's way:
 * connect() with IP_TTL, so the kernel never resets a raw SYN's answer). */
static void start_ttl(struct probe_ctx *p, unsigned t, int64_t now)
{
    struct probe_target *tg = &p->targets[t];
    tg->ttl_started = true;
    for (int ttl = 1; ttl <= (int)PROBE_TTL_MAX; ttl++) {
        for (int k = 0; k < 2; k++) {
            probe_step_new(p, PK_TTL, t, &tg->addr, k ? PROBE_PORT_OTHER : PROBE_PORT_TLS, NULL, now, DIFF_WAIT_NS / 2,
                     ttl);
        }
    }
}

static bool primary_failed(const struct probe_conn *c)
{
    if (c->state != PS_DONE)
        return false;
    return !c->connected || (c->tls_end != PT_OK) || (c->verify != 0 && c->verify != -1);
}

static void triggers(struct probe_ctx *p, int64_t now, bool *controls_started)
{
    for (unsigned t = 0; t < p->n_targets; t++) {
        struct probe_target *tg = &p->targets[t];
        if (tg->primary < 0)
            continue;
        const struct probe_conn *c = &p->conns[tg->primary];
        bool silent = c->state == PS_CONNECTING && now - c->started_ns >= SILENT_AFTER_NS;
        bool failed = primary_failed(c);
        if (!tg->diff_started && (silent || failed))
            start_differential(p, t, now, controls_started);
        bool reset = c->state == PS_DONE && !c->local_err &&
                     (c->err == ECONNREFUSED || c->tls_end == PT_EOF || c->tls_end == PT_RESET ||
                      (c->tls_end == PT_OK && c->verify != 0));
        if (!tg->ttl_started && reset)
            start_ttl(p, t, now);
        /* Once small packets pass (the registry step connected), a padded
         * ClientHello with DF tests full-size segments toward the registry:
         * an upload black hole (the server's segments fit, ours do not)
         * shows only this way; its answer tests the download direction too. */
        if (!tg->mtu_started && c->connected) {
            tg->mtu_started = true;
            probe_step_new(p, PK_MTU, t, &tg->addr, PROBE_PORT_TLS, p->cfg.names[tg->name_idx], now, DIFF_WAIT_NS, 0);
        }
    }
}

static bool echo_pending(struct probe_ctx *p, int64_t now)
{
    bool pending = false;
    for (unsigned t = 0; t < p->n_targets; t++) {
        struct probe_target *tg = &p->targets[t];
        if (!tg->echo_next_ns || tg->echo_sent >= PROBE_ECHO_COUNT + 1)
            continue;
        if (now >= tg->echo_next_ns) {
            /* The last "send" is only the wait for the last reply. */
            if (tg->echo_sent < PROBE_ECHO_COUNT &&
                probe_icmp_echo(p, &tg->addr, tg->echo_id, (uint16_t)(tg->echo_sent + 1)))
                tg->echo_requests++;
            tg->echo_sent++;
            tg->echo_next_ns = now + (tg->echo_sent < PROBE_ECHO_COUNT ? ECHO_GAP_NS : 3 * ECHO_GAP_NS);
        }
        pending = pending || tg->echo_sent < PROBE_ECHO_COUNT + 1;
    }
    return pending;
}

static void progress(struct probe_ctx *p, int64_t now, unsigned running)
{
    if (!p->progress)
        return;
    fprintf(stderr, "\racrdiag: probing %s: %u addresses, %u steps running, %.1f s ", p->cfg.names[0],
            p->n_targets, running, (double)(now - p->start_ns) / 1e9);
}

/* ---- facts of the steps ------------------------------------------------------- */

static void conn_facts(struct probe_ctx *p)
{
    /* TTL probes: one fact per address and port, the first TTL answered. */
    for (unsigned t = 0; t < p->n_targets; t++) {
        for (int k = 0; k < 2 && p->targets[t].ttl_started; k++) {
            uint16_t port = k ? PROBE_PORT_OTHER : PROBE_PORT_TLS;
            int first = 0;
            const char *how = "none";
            for (unsigned i = 0; i < p->n_conns && !first; i++) {
                const struct probe_conn *c = &p->conns[i];
                if (c->kind != PK_TTL || c->target != t || c->port != port)
                    continue;
                if (c->connected || c->err == ECONNREFUSED) {
                    first = c->ttl;
                    how = c->connected ? "synack" : "rst";
                }
            }
            char ep[80];
            endpoint_str(&p->targets[t].addr, port, ep, sizeof(ep));
            probe_fact(p, "fact=ttl endpoint=%s first_answer_ttl=%d answer=%s max_ttl=%u", ep, first, how, PROBE_TTL_MAX);
        }
    }
    for (unsigned i = 0; i < p->n_conns; i++) {
        const struct probe_conn *c = &p->conns[i];
        if (c->kind == PK_TTL || c->tunnel.via)
            continue;
        char ep[80], name[300] = "";
        endpoint_str(&c->addr, c->port, ep, sizeof(ep));
        const struct probe_target *tg = &p->targets[c->target];
        if (c->kind != PK_TCP || !tg->is_control)
            an_fact_escape(name, sizeof(name), p->cfg.names[tg->name_idx]);
        probe_fact(p, "fact=connect step=%s endpoint=%s name=%s result=%s local=%d ms=%lld", probe_kind_name(c->kind), ep,
             name, errno_name(c->err), c->local_err ? 1 : 0,
             (long long)(((c->connected ? c->connected_ns : probe_now_ns()) - c->started_ns) / MS));
        if (!c->connected || c->kind == PK_TCP)
            continue;
        char sni[300], det[300], vmsg[200], icn[300], io[300], scn[300];
        an_fact_escape(sni, sizeof(sni), c->sni);
        an_fact_escape(det, sizeof(det), c->tls_detail);
        an_fact_escape(vmsg, sizeof(vmsg), c->verify > 0 ? X509_verify_cert_error_string(c->verify) : "");
        an_fact_escape(icn, sizeof(icn), c->issuer_cn);
        an_fact_escape(io, sizeof(io), c->issuer_o);
        an_fact_escape(scn, sizeof(scn), c->subject_cn);
        char vres[24];
        if (c->verify == 0)
            snprintf(vres, sizeof(vres), "ok");
        else if (c->verify < 0)
            snprintf(vres, sizeof(vres), "none");
        else
            snprintf(vres, sizeof(vres), "%ld", c->verify);
        probe_fact(p, "fact=tls step=%s endpoint=%s sni=%s result=%s version=%s verify=%s verify_error=%s subject_cn=%s issuer_cn=%s issuer_o=%s detail=%s",
             probe_kind_name(c->kind), ep, sni, probe_tls_end_name(c->tls_end), c->tls_version[0] ? c->tls_version : "-",
             vres, vmsg, scn, icn, io, det);
        if (c->kind != PK_REGISTRY || c->no_http || c->tls_end != PT_OK)
            continue;
        const struct cap_http_resp *h = &c->resp;
        char reason[200], code[200], ip[200], msg[130];
        an_fact_escape(reason, sizeof(reason), h->reason);
        an_fact_escape(code, sizeof(code), h->error_code);
        an_fact_escape(ip, sizeof(ip), h->denied_client_ip);
        an_fact_escape(msg, sizeof(msg), h->error_message);
        probe_fact(p, "fact=http endpoint=%s status=%d reason=%s registry_headers=%d bearer=%d code=%s%s%s message=%s", ep,
             h->status, reason, h->has_docker_api_version || h->has_ms_correlation, h->bearer_challenge, code,
             h->denied_client_ip[0] ? " client_ip=" : "", ip, msg);
    }
}

/* The differential facts that are not connect steps: ICMP echo of every
 * registry address that was pinged, and what each --control did.  A control
 * answered when its TCP 443 got a SYN-ACK or RST, or it answered ping.  */
static void differential_facts(struct probe_ctx *p)
{
    int cap = p->live != NULL;
    for (unsigned t = 0; t < p->n_targets; t++) {
        const struct probe_target *tg = &p->targets[t];
        if (tg->is_control || !tg->echo_next_ns)
            continue;
        char ip[64];
        cap_addr_str(&tg->addr, ip, sizeof(ip));
        probe_fact(p, "fact=echo endpoint=%s requests=%u replies=%u capture=%d", ip, tg->echo_requests,
             tg->echo_replies, cap);
    }
    for (unsigned c = 0; c < p->cfg.n_controls; c++) {
        char given[300];
        an_fact_escape(given, sizeof(given), p->cfg.controls[c]);
        const char *resolved = "address";
        if (p->cfg.control_is_name[c]) {
            /* The best answer of any resolver: ok if one gave addresses. */
            resolved = "timeout";
            for (unsigned i = 0; i < p->n_dns; i++) {
                const struct probe_dns *d = &p->dns[i];
                if (d->control && d->name_idx == c &&
                    (d->status == ARES_SUCCESS || strcmp(resolved, "timeout") == 0))
                    resolved = probe_dns_status_name(d->status);
            }
        }
        bool any = false;
        for (unsigned t = 0; t < p->n_targets; t++) {
            const struct probe_target *tg = &p->targets[t];
            if (!tg->is_control || tg->name_idx != c)
                continue;
            any = true;
            char ip[64];
            cap_addr_str(&tg->addr, ip, sizeof(ip));
            const struct probe_conn *tcp = NULL;
            for (unsigned i = 0; i < p->n_conns && !tcp; i++)
                if (p->conns[i].kind == PK_TCP && p->conns[i].target == t && cap_addr_eq(&p->conns[i].addr, &tg->addr))
                    tcp = &p->conns[i];
            if (!tcp) {
                probe_fact(p, "fact=control given=%s resolved=%s addr=%s probed=0", given, resolved, ip);
                continue;
            }
            probe_fact(p, "fact=control given=%s resolved=%s addr=%s probed=1 port=%u result=%s local=%d ms=%lld echo_requests=%u echo_replies=%u capture=%d",
                 given, resolved, ip, PROBE_PORT_TLS, errno_name(tcp->err), tcp->local_err ? 1 : 0,
                 (long long)(((tcp->connected ? tcp->connected_ns : probe_now_ns()) - tcp->started_ns) / MS),
                 tg->echo_requests, tg->echo_replies, cap);
        }
        if (!any) {
            /* Unresolved, or its only addresses are the registry's own. */
            probe_fact(p, "fact=control given=%s resolved=%s addr= probed=0%s", given, resolved,
                 strcmp(resolved, "ok") == 0 || strcmp(resolved, "address") == 0 ? " registry_address=1" : "");
        }
    }
}

/* ---- the run -------------------------------------------------------------------- */

/* Runs every step to its end or the deadline; returns when all are done. */
static void step_loop(struct probe_ctx *p)
{
    bool controls_started = false;
    int64_t last_progress = 0;
    /* Bounded: each turn waits up to 20 ms and the deadline ends the loop. */
    for (unsigned turn = 0; turn < 1000000; turn++) {
        int64_t now = probe_now_ns();
        triggers(p, now, &controls_started);
        bool echoes = echo_pending(p, now);
        struct pollfd pf[PROBE_MAX_CONNS + 1];
        int map[PROBE_MAX_CONNS + 1];
        unsigned n = 0, running = 0;
        if (p->live) {
            pf[n].fd = cap_live_fd(p->live);
            pf[n].events = POLLIN;
            map[n++] = -1;
        }
        for (unsigned i = 0; i < p->n_conns; i++) {
            short ev = probe_conn_events(&p->conns[i]);
            if (!ev)
                continue;
            running++;
            pf[n].fd = p->conns[i].fd;
            pf[n].events = ev;
            map[n++] = (int)i;
        }
        if ((!running && !echoes) || now >= p->deadline_ns - PROBE_REPORT_RESERVE_NS)
            break;
        if (now - last_progress >= 200 * MS) {
            progress(p, now, running);
            last_progress = now;
        }
        for (unsigned i = 0; i < n; i++)
            pf[i].revents = 0;
        poll(pf, n, 20);
        probe_pump_capture(p);
        now = probe_now_ns();
        for (unsigned i = 0; i < n; i++) {
            if (map[i] < 0)
                continue;
            probe_conn_step(&p->conns[map[i]], pf[i].revents, now);
            /* A TLS step can take milliseconds of CPU while every handshake
             * answers at once; with a snap length of 256 KiB the kernel's
             * ring holds only ~32 packets ("any" device): read it between
             * steps so none is dropped.  */
            probe_pump_capture(p);
        }
    }
    /* Whatever is still running ends here, at its own deadline or ours. */
    int64_t now = probe_now_ns();
    for (unsigned i = 0; i < p->n_conns; i++) {
        struct probe_conn *c = &p->conns[i];
        if (c->state != PS_DONE) {
            c->deadline_ns = now;
            probe_conn_step(c, 0, now);
        }
        probe_conn_finish(c);
    }
    if (p->progress)
        fprintf(stderr, "\r\033[K");
}

static void drain(struct probe_ctx *p)
{
    if (!p->live)
        return;
    int64_t until = probe_now_ns() + DRAIN_NS;
    if (until > p->deadline_ns)
        until = p->deadline_ns;
    for (unsigned turn = 0; turn < 100; turn++) {
        int64_t now = probe_now_ns();
        if (now >= until)
            break;
        struct pollfd pf = { .fd = cap_live_fd(p->live), .events = POLLIN };
        poll(&pf, 1, (int)((until - now) / MS) + 1);
        probe_pump_capture(p);
    }
}

int probe_run_steps(struct probe_ctx *p)
{
    probe_feed_start(p);
    probe_fact(p, "fact=run name=%s uppercase=%d capture=%d icmp=%s timeout_ms=%lld", p->cfg.names[0], p->cfg.uppercase,
         p->live != NULL, p->icmp4 < 0 && p->icmp6 < 0 ? "none" : p->icmp_raw ? "raw" : "datagram",
         (long long)(p->cfg.timeout_s * 1000));
    int64_t dns_until = p->start_ns + (int64_t)(p->cfg.timeout_s * 0.6 * 1e9);
    probe_dns_resolve(p, dns_until);
    dns_facts(p);
    plan_targets(p);
    int64_t now = probe_now_ns();
    for (unsigned t = 0; t < p->n_targets; t++)
        if (!p->targets[t].is_control)
            start_primary(p, t, now);
    probe_proxy_start(p, now);
    step_loop(p);
    drain(p);
    conn_facts(p);
    probe_proxy_facts(p);
    differential_facts(p);
    if (p->cfg.push_repo) {
        /* After the steps' facts (their times are theirs, and a full fact
         * list drops the push check's, not theirs); its own time: each
         * request the probe's timeout.  */
        probe_push_check(p);
        p->deadline_ns = probe_now_ns() + DRAIN_NS + PROBE_REPORT_RESERVE_NS;
        drain(p);
    }
    return 0;
}
