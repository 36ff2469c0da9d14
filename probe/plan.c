/* plan.c: what a run holds: its targets and the steps toward them (each a
 * probe_conn with its own deadline); its facts are facts.c's.  run.c,
 * proxy.c and push.c add to it; it calls only conn.c to start a step.  */
#include <string.h>
#include <unistd.h>

#include "probe_int.h"
#include "push.h"

struct probe_conn *probe_step_new(struct probe_ctx *p, enum probe_kind kind, unsigned target,
                                  const struct cap_addr *a, uint16_t port, const char *sni, int64_t now,
                                  int64_t wait, int ttl)
{
    if (p->n_conns >= PROBE_MAX_CONNS)
        return NULL;
    struct probe_conn *c = &p->conns[p->n_conns++];
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->target = target;
    c->addr = *a;
    c->port = port;
    c->sni = sni;
    c->fd = -1;
    c->ttl = ttl;
    int64_t end = p->deadline_ns - PROBE_REPORT_RESERVE_NS;
    c->deadline_ns = now + wait < end ? now + wait : end;
    probe_conn_start(p, c, now);
    return c;
}

struct probe_conn *probe_conn_new(struct probe_ctx *p, unsigned target, const struct cap_addr *a, uint16_t port,
                                  const char *sni, int64_t now)
{
    return probe_step_new(p, PK_REGISTRY, target, a, port, sni, now, p->deadline_ns - now, 0);
}

void probe_add_target(struct probe_ctx *p, const struct cap_addr *a, unsigned name_idx, bool control)
{
    if (probe_is_target(p, a) || p->n_targets >= sizeof(p->targets) / sizeof(p->targets[0]))
        return;
    struct probe_target *t = &p->targets[p->n_targets++];
    memset(t, 0, sizeof(*t));
    t->addr = *a;
    t->name_idx = name_idx;
    t->is_control = control;
    t->primary = -1;
    t->echo_id = (uint16_t)(getpid() ^ (p->n_targets << 8));
}

void probe_add_push_target(struct probe_ctx *p, const struct cap_addr *a, unsigned name_idx)
{
    probe_add_target(p, a, name_idx, false);
}

int probe_target_add(struct probe_ctx *p, const struct cap_addr *a)
{
    probe_add_target(p, a, 0, false);
    for (unsigned i = 0; i < p->n_targets; i++)
        if (cap_addr_eq(&p->targets[i].addr, a))
            return (int)i;
    return -1;
}
