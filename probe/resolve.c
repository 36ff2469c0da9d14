/* resolve.c: the full CNAME chain and every A/AAAA of each name, through
 * c-ares, from the system resolver and from --dns-server, concurrently.  */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "probe_int.h"

/* Per try and tries: the whole resolution must fit in the run's budget,
 * and a resolver that does not answer in a second is the finding itself. */
#define DNS_TRIES 2

static int init_channel(ares_channel *ch, int timeout_ms)
{
    struct ares_options o;
    memset(&o, 0, sizeof(o));
    /* DNS only (never /etc/hosts), names as given (no search list). */
    static char lookups[] = "b";
    o.lookups = lookups;
    o.timeout = timeout_ms;
    o.tries = DNS_TRIES;
    o.flags = ARES_FLAG_NOSEARCH;
    return ares_init_options(ch, &o, ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS);
}

/* Appends a to the n addresses in list unless it is there already; the
 * caller has checked that there is room.  */
static void add_addr_once(struct cap_addr *list, unsigned *n, const struct cap_addr *a)
{
    for (unsigned j = 0; j < *n; j++)
        if (cap_addr_eq(&list[j], a))
            return;
    list[(*n)++] = *a;
}

bool probe_dns_open(struct probe_ctx *p, char *err, size_t errlen)
{
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    /* Two tries must end well before the run's deadline. */
    int per_try = (int)(p->cfg.timeout_s * 1000.0 / 4.0);
    if (per_try < 100)
        per_try = 100;
    if (rc == ARES_SUCCESS)
        rc = init_channel(&p->dns_sys, per_try);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "resolver: %s", ares_strerror(rc));
        return false;
    }
    if (p->cfg.dns_server) {
        rc = init_channel(&p->dns_custom, per_try);
        if (rc == ARES_SUCCESS)
            rc = ares_set_servers_csv(p->dns_custom, p->cfg.dns_server);
        if (rc != ARES_SUCCESS) {
            snprintf(err, errlen, "--dns-server %s: %s", p->cfg.dns_server, ares_strerror(rc));
            return false;
        }
    }
    /* The resolvers double as control destinations (TCP 53): the probe
     * talks to them anyway, and they lie outside the registry's prefix. */
    struct ares_addr_node *servers = NULL;
    for (int i = 0; i < 2; i++) {
        ares_channel ch = i ? p->dns_custom : p->dns_sys;
        if (!ch || ares_get_servers(ch, &servers) != ARES_SUCCESS)
            continue;
        for (struct ares_addr_node *s = servers; s && p->n_resolvers < 4; s = s->next) {
            struct cap_addr a = { 0 };
            if (s->family == AF_INET) {
                a.family = 4;
                memcpy(a.a, &s->addr.addr4, 4);
            } else if (s->family == AF_INET6) {
                a.family = 6;
                memcpy(a.a, &s->addr.addr6, 16);
            } else {
                continue;
            }
            add_addr_once(p->resolvers, &p->n_resolvers, &a);
        }
        ares_free_data(servers);
        servers = NULL;
    }
    return true;
}

void probe_dns_close(struct probe_ctx *p)
{
    if (p->dns_sys)
        ares_destroy(p->dns_sys);
    if (p->dns_custom)
        ares_destroy(p->dns_custom);
    p->dns_sys = p->dns_custom = NULL;
    ares_library_cleanup();
}

const char *probe_dns_status_name(int status)
{
    switch (status) {
    case ARES_SUCCESS: return "ok";
    case ARES_ENODATA: return "no_address";
    case ARES_ENOTFOUND: return "NXDOMAIN";
    case ARES_ESERVFAIL: return "SERVFAIL";
    case ARES_EREFUSED: return "REFUSED";
    case ARES_ETIMEOUT: return "timeout";
    case ARES_ECONNREFUSED: return "unreachable";
    }
    return "error";
}

struct dns_job {
    struct probe_dns *d;
    const char *name;
    int64_t started;
};

/* Follows the chain from the query name: c-ares lists each CNAME as
 * alias -> name, not necessarily in order.  */
static void take_chain(struct probe_dns *d, const char *qname, const struct ares_addrinfo_cname *cn)
{
    char cur[LIM_DNS_NAME];
    snprintf(cur, sizeof(cur), "%s", qname);
    for (unsigned hop = 0; hop < 4; hop++) {
        const struct ares_addrinfo_cname *next = NULL;
        for (const struct ares_addrinfo_cname *c = cn; c && !next; c = c->next)
            if (c->alias && c->name && strcasecmp(c->alias, cur) == 0)
                next = c;
        if (!next)
            break;
        cap_safe_copy(d->chain[d->chain_len++], LIM_DNS_NAME, (const uint8_t *)next->name, strlen(next->name));
        snprintf(cur, sizeof(cur), "%s", next->name);
    }
}

static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    struct dns_job *job = arg;
    struct probe_dns *d = job->d;
    d->done = true;
    /* ares_cancel at the deadline: to the user that is a timeout. */
    d->status = status == ARES_ECANCELLED ? ARES_ETIMEOUT : status;
    d->took_ns = probe_now_ns() - job->started;
    if (d->status != ARES_SUCCESS || !res) {
        if (res)
            ares_freeaddrinfo(res);
        return;
    }
    take_chain(d, job->name, res->cnames);
    for (const struct ares_addrinfo_node *n = res->nodes; n && d->n_addrs < PROBE_MAX_ADDRS; n = n->ai_next) {
        struct cap_addr a = { 0 };
        if (n->ai_family == AF_INET && n->ai_addrlen >= sizeof(struct sockaddr_in)) {
            a.family = 4;
            memcpy(a.a, &((const struct sockaddr_in *)(const void *)n->ai_addr)->sin_addr, 4);
        } else if (n->ai_family == AF_INET6 && n->ai_addrlen >= sizeof(struct sockaddr_in6)) {
            a.family = 6;
            memcpy(a.a, &((const struct sockaddr_in6 *)(const void *)n->ai_addr)->sin6_addr, 16);
        } else {
            continue;
        }
        add_addr_once(d->addrs, &d->n_addrs, &a);
    }
    if (d->n_addrs == 0)
        d->status = ARES_ENODATA;
    ares_freeaddrinfo(res);
}

_Static_assert(ARES_GETSOCK_MAXNUM * 2 <= 32, "ares_getsock() bits fit in 32");

/* Adds a channel's sockets to the poll set; returns how many. */
static unsigned add_fds(ares_channel ch, struct pollfd *pf, unsigned room)
{
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    /* Bit i: readable, bit i + ARES_GETSOCK_MAXNUM: writable.  Tested as
     * unsigned: c-ares' ARES_GETSOCK_WRITABLE shifts an int 1 into the sign
     * bit for the last socket (undefined behaviour, UBSan stops there). */
    uint32_t bits = (uint32_t)ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
    unsigned n = 0;
    for (unsigned i = 0; i < ARES_GETSOCK_MAXNUM && n < room; i++) {
        short ev = 0;
        if (bits & (UINT32_C(1) << i))
            ev |= POLLIN;
        if (bits & (UINT32_C(1) << (i + ARES_GETSOCK_MAXNUM)))
            ev |= POLLOUT;
        if (!ev)
            continue;
        pf[n].fd = socks[i];
        pf[n].events = ev;
        pf[n].revents = 0;
        n++;
    }
    return n;
}

void probe_dns_resolve(struct probe_ctx *p, int64_t until_ns)
{
    struct dns_job jobs[sizeof(p->dns) / sizeof(p->dns[0])];
    p->n_dns = 0;
    /* Registry names, then --control names, each through every resolver. */
    for (unsigned i = 0; i < p->cfg.n_names + p->cfg.n_controls; i++) {
        bool control = i >= p->cfg.n_names;
        unsigned idx = control ? i - p->cfg.n_names : i;
        if ((control && !p->cfg.control_is_name[idx]) || (!control && probe_proxy_routed(&p->cfg, idx)))
            continue;   /* an address, or a name the proxy resolves */
        const char *name = control ? p->cfg.controls[idx] : p->cfg.names[idx];
        for (int custom = 0; custom < 2; custom++) {
            ares_channel ch = custom ? p->dns_custom : p->dns_sys;
            if (!ch || p->n_dns >= sizeof(p->dns) / sizeof(p->dns[0]))
                continue;
            struct probe_dns *d = &p->dns[p->n_dns];
            memset(d, 0, sizeof(*d));
            d->name_idx = idx;
            d->control = control;
            d->custom = custom;
            struct dns_job *job = &jobs[p->n_dns++];
            job->d = d;
            job->name = name;
            job->started = probe_now_ns();
            struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_flags = ARES_AI_NOSORT };
            ares_getaddrinfo(ch, name, NULL, &hints, on_answer, job);
        }
    }
    /* Bounded: each turn waits at most 20 ms and the deadline ends it. */
    for (unsigned turn = 0; turn < 100000; turn++) {
        bool pending = false;
        for (unsigned i = 0; i < p->n_dns; i++)
            pending = pending || !p->dns[i].done;
        int64_t now = probe_now_ns();
        if (!pending || now >= until_ns)
            break;
        struct pollfd pf[2 * ARES_GETSOCK_MAXNUM + 1];
        unsigned n = 0;
        if (p->live) {
            pf[n].fd = cap_live_fd(p->live);
            pf[n].events = POLLIN;
            pf[n++].revents = 0;
        }
        unsigned first_sys = n;
        n += add_fds(p->dns_sys, pf + n, ARES_GETSOCK_MAXNUM);
        unsigned first_custom = n;
        if (p->dns_custom)
            n += add_fds(p->dns_custom, pf + n, ARES_GETSOCK_MAXNUM);
        int64_t left_ms = (until_ns - now) / 1000000 + 1;
        poll(pf, n, left_ms < 20 ? (int)left_ms : 20);
        probe_pump_capture(p);
        for (unsigned i = first_sys; i < n; i++) {
            ares_channel ch = i < first_custom ? p->dns_sys : p->dns_custom;
            ares_socket_t rfd = (pf[i].revents & (POLLIN | POLLERR | POLLHUP)) ? pf[i].fd : ARES_SOCKET_BAD;
            ares_socket_t wfd = (pf[i].revents & POLLOUT) ? pf[i].fd : ARES_SOCKET_BAD;
            if (rfd != ARES_SOCKET_BAD || wfd != ARES_SOCKET_BAD)
                ares_process_fd(ch, rfd, wfd);
        }
        /* Retransmissions and timeouts happen here. */
        ares_process_fd(p->dns_sys, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        if (p->dns_custom)
            ares_process_fd(p->dns_custom, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    }
    /* Whatever is still pending ends now, as a timeout. */
    ares_cancel(p->dns_sys);
    if (p->dns_custom)
        ares_cancel(p->dns_custom);
    for (unsigned i = 0; i < p->n_dns; i++) {
        if (!p->dns[i].done) {
            p->dns[i].done = true;
            p->dns[i].status = ARES_ETIMEOUT;
        }
    }
}
