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
        char chain[512] = "", addrs[512] = "";
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
        struct an_fact f;
        an_fact_init(&f, AN_FK_DNS);
        an_fact_set(&f, AN_K_NAME, p->cfg.names[d->name_idx]);
        an_fact_set(&f, AN_K_RESOLVER, d->custom ? p->cfg.dns_server : "system");
        an_fact_set(&f, AN_K_RESULT, probe_dns_status_name(d->status));
        an_fact_set(&f, AN_K_CHAIN, chain);
        an_fact_set(&f, AN_K_ADDRS, addrs);
        an_fact_set_num(&f, AN_K_MS, (long)(d->took_ns / MS));
        probe_fact_add(p, &f);
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
            struct an_fact f;
            an_fact_init(&f, AN_FK_TTL);
            an_fact_set(&f, AN_K_ENDPOINT, ep);
            an_fact_set_num(&f, AN_K_FIRST_ANSWER_TTL, first);
            an_fact_set(&f, AN_K_ANSWER, how);
            an_fact_set_num(&f, AN_K_MAX_TTL, PROBE_TTL_MAX);
            probe_fact_add(p, &f);
        }
    }
    for (unsigned i = 0; i < p->n_conns; i++) {
        const struct probe_conn *c = &p->conns[i];
        if (c->kind == PK_TTL || c->tunnel.via)
            continue;
        char ep[80];
        endpoint_str(&c->addr, c->port, ep, sizeof(ep));
        const struct probe_target *tg = &p->targets[c->target];
        struct an_fact f;
        an_fact_init(&f, AN_FK_CONNECT);
        an_fact_set(&f, AN_K_STEP, probe_kind_name(c->kind));
        an_fact_set(&f, AN_K_ENDPOINT, ep);
        an_fact_set(&f, AN_K_NAME, c->kind != PK_TCP || !tg->is_control ? p->cfg.names[tg->name_idx] : "");
        an_fact_set(&f, AN_K_RESULT, errno_name(c->err));
        an_fact_set_num(&f, AN_K_LOCAL, c->local_err ? 1 : 0);
        an_fact_set_num(&f, AN_K_MS, (long)(((c->connected ? c->connected_ns : probe_now_ns()) - c->started_ns) / MS));
        probe_fact_add(p, &f);
        if (!c->connected || c->kind == PK_TCP)
            continue;
        an_fact_init(&f, AN_FK_TLS);
        an_fact_set(&f, AN_K_STEP, probe_kind_name(c->kind));
        an_fact_set(&f, AN_K_ENDPOINT, ep);
        an_fact_set(&f, AN_K_SNI, c->sni);
        probe_fact_tls_fields(&f, c);
        probe_fact_add(p, &f);
        if (c->kind != PK_REGISTRY || c->no_http || c->tls_end != PT_OK)
            continue;
        an_fact_init(&f, AN_FK_HTTP);
        an_fact_set(&f, AN_K_ENDPOINT, ep);
        probe_fact_http_fields(&f, &c->resp, false);
        probe_fact_add(p, &f);
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
        struct an_fact f;
        an_fact_init(&f, AN_FK_ECHO);
        an_fact_set(&f, AN_K_ENDPOINT, ip);
        an_fact_set_num(&f, AN_K_REQUESTS, tg->echo_requests);
        an_fact_set_num(&f, AN_K_REPLIES, tg->echo_replies);
        an_fact_set_num(&f, AN_K_CAPTURE, cap);
        probe_fact_add(p, &f);
    }
    for (unsigned c = 0; c < p->cfg.n_controls; c++) {
        const char *given = p->cfg.controls[c];
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
            struct an_fact f;
            an_fact_init(&f, AN_FK_CONTROL);
            an_fact_set(&f, AN_K_GIVEN, given);
            an_fact_set(&f, AN_K_RESOLVED, resolved);
            an_fact_set(&f, AN_K_ADDR, ip);
            an_fact_set_num(&f, AN_K_PROBED, tcp != NULL);
            if (tcp) {
                an_fact_set_num(&f, AN_K_PORT, tcp->port);
                an_fact_set(&f, AN_K_RESULT, errno_name(tcp->err));
                an_fact_set_num(&f, AN_K_LOCAL, tcp->local_err ? 1 : 0);
                an_fact_set_num(&f, AN_K_MS,
                                (long)(((tcp->connected ? tcp->connected_ns : probe_now_ns()) - tcp->started_ns) / MS));
                an_fact_set_num(&f, AN_K_ECHO_REQUESTS, tg->echo_requests);
                an_fact_set_num(&f, AN_K_ECHO_REPLIES, tg->echo_replies);
                an_fact_set_num(&f, AN_K_CAPTURE, cap);
            }
            probe_fact_add(p, &f);
        }
        if (!any) {
            /* Unresolved, or its only addresses are the registry's own. */
            struct an_fact f;
            an_fact_init(&f, AN_FK_CONTROL);
            an_fact_set(&f, AN_K_GIVEN, given);
            an_fact_set(&f, AN_K_RESOLVED, resolved);
            an_fact_set(&f, AN_K_ADDR, "");
            an_fact_set_num(&f, AN_K_PROBED, 0);
            if (strcmp(resolved, "ok") == 0 || strcmp(resolved, "address") == 0)
                an_fact_set_num(&f, AN_K_REGISTRY_ADDRESS, 1);
            probe_fact_add(p, &f);
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
    struct an_fact f;
    an_fact_init(&f, AN_FK_RUN);
    an_fact_set(&f, AN_K_NAME, p->cfg.names[0]);
    an_fact_set_num(&f, AN_K_UPPERCASE, p->cfg.uppercase);
    an_fact_set_num(&f, AN_K_CAPTURE, p->live != NULL);
    an_fact_set(&f, AN_K_ICMP, p->icmp4 < 0 && p->icmp6 < 0 ? "none" : p->icmp_raw ? "raw" : "datagram");
    an_fact_set_num(&f, AN_K_TIMEOUT_MS, (long)(p->cfg.timeout_s * 1000));
    probe_fact_add(p, &f);
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
