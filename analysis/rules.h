/* rules.h: inside analysis/, how an endpoint's verdict is explained from its
 * flows.  rules.c holds the rules table and folds an endpoint; each rule's
 * explanation lives in explain_tcp.c or explain_tls.c; cite.c is what they
 * share.  Not part of the public interface.  */
#ifndef ACRDIAG_RULES_H
#define ACRDIAG_RULES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "analysis/engine.h"

/* ---- cite.c ---------------------------------------------------------------- */

/* Adds one evidence (contradiction) item cited in frame, captured at ts_ns;
 * kind is its stable snake_case name (docs/verdicts.md "Evidence kinds"), a
 * static string, never NULL or empty.  AN_AT(ref) gives a cap_ref's (or any
 * struct with frame and ts_ns) both: the item carries the packet's time, so
 * no one reads the file again for it, and watch, probe and piped input have
 * it too.  Past AN_MAX_EVIDENCE (AN_MAX_CONTRADICTIONS) items it is dropped. */
#define AN_AT(ref) (ref).frame, (ref).ts_ns
void an_ev_at(struct an_endpoint *ep, const char *kind, uint64_t frame, int64_t ts_ns, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void an_contra_at(struct an_endpoint *ep, const char *kind, uint64_t frame, int64_t ts_ns, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* An item that is no packet of the capture (a probe step, a count). */
void an_ev_add(struct an_endpoint *ep, const char *kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* an_ev_add with a va_list, for the facts' own adders (factep.c). */
void an_ev_vadd(struct an_endpoint *ep, const char *kind, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void an_detail_add(struct an_endpoint *ep, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void an_reason_set(struct an_endpoint *ep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A reset the capture cannot attribute: the parent connection_reset, medium
 * confidence, firewall_reset and server_reset its candidates.  */
void an_reset_undecided(struct an_endpoint *ep);

/* The packets most rules cite: the SYNs, the SYN-ACK, the ClientHello. */
void an_ev_syns(struct an_endpoint *ep, const struct an_flow_digest *d);
void an_ev_synack(struct an_endpoint *ep, const struct an_flow_digest *d);
void an_ev_client_hello(struct an_endpoint *ep, const struct an_flow_digest *d);

const char *an_alert_name(uint8_t d);
const char *an_icmp_meaning(const struct cap_icmp_ref *r);
bool an_icmp_is_admin(const struct cap_icmp_ref *r);
const char *an_tls_version_name(uint16_t v);
double an_ms_between(int64_t from, int64_t to);

/* The hop distance of the real server as its SYN-ACKs on any port show it. */
bool an_server_hops(const struct an_host *h, unsigned *hops, const struct an_answer **from);
/* Another port or ping of this host answered: the path to it works. */
const struct an_answer *an_other_answer(const struct an_host *h, uint16_t port);
/* A control destination that answered (SYN-ACK, RST or ping), or NULL. */
const struct an_host *an_control_answered(const struct an_engine *e, const struct cap_addr *server);

/* ---- explain_tcp.c, explain_tls.c: one per flow outcome (rules.c) ---------- */

/* Each sets the endpoint's verdict, confidence, reason, evidence and what
 * contradicts it from the flow that speaks for it.  */
void an_explain_silent(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_reset_at_syn(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_closed_after_hello(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_mtu(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_icmp(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_rst_later(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_forged_to_server(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_forged_synack(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_foreign_cert(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_alert(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_stall(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_hello_dropped(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_tls13_abort(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_client_gave_up(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_ok(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_incomplete(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
void an_explain_proxy_refused(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep);
/* The CONNECT through an explicit proxy and the proxy's reply. */
void an_ev_tunnel(struct an_endpoint *ep, const struct an_flow_digest *d);
/* The registry's answer read with a key log, or why none was. */
void an_explain_decrypted(const struct an_flow_digest *d, struct an_endpoint *ep);

/* ---- rules.c --------------------------------------------------------------- */

/* One endpoint's verdict from its accumulated flows. */
void an_build_endpoint(const struct an_engine *e, const struct an_ep_acc *acc, struct an_endpoint *ep);

#endif
