/* explain_tls.c: the verdict, reason and evidence of the flow outcomes the
 * TLS handshake decides (a foreign certificate, alerts, a ClientHello
 * dropped or unanswered, the client giving up), of healthy and incomplete
 * flows, of a CONNECT through an explicit proxy, and of a decrypted answer
 * (rules.c holds the table).  */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"

void an_explain_foreign_cert(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    an_ev_synack(ep, d);
    an_ev_client_hello(ep, d);
    an_ev_at(ep, "certificate_issuer", AN_AT(d->certificate), "Certificate CN=%s issued by CN=%s, O=%s", d->cert_subject, d->cert_issuer_cn,
             d->cert_issuer_o[0] ? d->cert_issuer_o : "(none)");
    if (d->alert_ref.frame)
        an_ev_at(ep, "tls_alert", AN_AT(d->alert_ref), "TLS alert fatal %s (%u) from the %s", an_alert_name(d->alert_desc),
                 d->alert_desc, d->alert_from_server ? "server" : "client");
    ep->verdict = AN_PROXY_INTERCEPTION;
    ep->confidence = AN_CONF_HIGH;
    an_detail_add(ep, "issuer", "CN=%s, O=%s", d->cert_issuer_cn, d->cert_issuer_o);
    an_reason_set(ep, "the certificate presented for %s was issued by \"%s\"%s%s%s, not by the registry's Microsoft CAs: something between the client and the registry terminates TLS",
                  d->sni[0] ? d->sni : "the registry", d->cert_issuer_cn, d->cert_issuer_o[0] ? " (" : "",
                  d->cert_issuer_o, d->cert_issuer_o[0] ? ")" : "");
}

/* Alerts a client sends when it does not accept the server's certificate. */
static bool certificate_alert(uint8_t d)
{
    return d == 42 || d == 43 || d == 44 || d == 45 || d == 46 || d == 48;
}

void an_explain_alert(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    an_ev_synack(ep, d);
    an_ev_client_hello(ep, d);
    const char *who = d->alert_from_server ? "server" : "client";
    an_ev_at(ep, "tls_alert", AN_AT(d->alert_ref), "TLS alert fatal %s (%u) from the %s", an_alert_name(d->alert_desc), d->alert_desc, who);
    ep->verdict = AN_TLS_FAILURE;
    ep->confidence = AN_CONF_HIGH;
    an_detail_add(ep, "alert", "%s", an_alert_name(d->alert_desc));
    an_detail_add(ep, "alert_from", "%s", who);
    /* The client rejected the certificate; a handshake answered from nearer
     * than the address's other answers is a second signal that something on
     * the path presented it.  */
    const struct an_answer *other = an_other_answer(an_host_find(e, &d->server), d->server_port);
    if (!d->alert_from_server && certificate_alert(d->alert_desc) && d->has_synack && other &&
        cap_hop_distance(other->ttl) > cap_hop_distance(d->synack.ttl)) {
        an_ev_at(ep, "other_port_farther", AN_AT(*other), "port %u of the same address answered ttl=%u (hop distance %u), farther than this handshake's SYN-ACK",
                 other->port, other->ttl, cap_hop_distance(other->ttl));
        ep->verdict = AN_PROXY_INTERCEPTION;
        ep->confidence = AN_CONF_MEDIUM;
        an_reason_set(ep, "the client rejected the certificate (%s) of a handshake answered from hop distance %u while the address answers other ports from hop distance %u: something nearer than the registry terminated TLS",
                      an_alert_name(d->alert_desc), cap_hop_distance(d->synack.ttl), cap_hop_distance(other->ttl));
        return;
    }
    if (!d->alert_from_server && certificate_alert(d->alert_desc))
        an_reason_set(ep, "the client rejected the certificate it was shown (fatal alert %s): TLS inspection by a proxy, or a trust store without the registry's CAs. Run `acrdiag probe` to see the issuer",
                      an_alert_name(d->alert_desc));
    else
        an_reason_set(ep, "the %s ended the handshake with the fatal alert %s (%u)", who, an_alert_name(d->alert_desc),
                      d->alert_desc);
}

void an_explain_stall(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    an_ev_synack(ep, d);
    an_ev_client_hello(ep, d);
    ep->verdict = AN_TLS_FAILURE;
    ep->confidence = AN_CONF_LOW;
    an_reason_set(ep, "TCP connected but no ServerHello ever came back after the ClientHello, which was retransmitted; a middlebox swallowing the handshake or a path MTU black hole toward the client look like this");
}

void an_explain_hello_dropped(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    an_ev_synack(ep, d);
    an_ev_at(ep, "client_hello_unacked", AN_AT(d->client_hello), "ClientHello SNI %s, %u bytes, retransmitted %u time%s, never acknowledged",
             d->sni[0] ? d->sni : "(none)", d->client_hello.len, d->ch_retransmits, d->ch_retransmits == 1 ? "" : "s");
    ep->verdict = AN_SILENT_DROP;
    ep->confidence = AN_CONF_MEDIUM;
    if (d->client_hello.len >= 1200)
        an_reason_set(ep, "TCP connected, then the client's ClientHello (%u bytes) vanished: retransmitted and never acknowledged, nothing came back. Something on the path drops it: a filter deciding on the SNI, or a path MTU black hole toward the registry (the ClientHello is near full size)",
                      d->client_hello.len);
    else
        an_reason_set(ep, "TCP connected, then the client's ClientHello (%u bytes, far below any path MTU) vanished: retransmitted and never acknowledged, nothing came back. Something on the path drops it by its content, as a firewall filtering on the SNI silently does",
                      d->client_hello.len);
}

void an_explain_tls13_abort(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    an_ev_synack(ep, d);
    an_ev_client_hello(ep, d);
    an_ev_at(ep, "server_hello", AN_AT(d->server_hello), "ServerHello %s", an_tls_version_name(d->sh_version));
    an_ev_at(ep, "client_closed_after_server_hello", AN_AT(d->trigger), "client %s %.2f ms after the ServerHello, before any application data",
             (d->trigger.flags & CAP_TH_RST) ? "reset" : "closed", an_ms_between(d->server_hello.ts_ns, d->trigger.ts_ns));
    ep->verdict = AN_TLS_FAILURE;
    ep->confidence = AN_CONF_LOW;
    an_reason_set(ep, "the client gave up right after the server's TLS 1.3 handshake, whose certificate is encrypted on the wire; a rejected certificate (TLS inspection or an outdated trust store) is the usual cause. Run `acrdiag probe` or capture a TLS 1.2 handshake to see the issuer");
}

void an_explain_client_gave_up(const struct an_engine *e, const struct an_flow_digest *d,
                                   struct an_endpoint *ep)
{
    (void)e;
    double waited = an_ms_between(d->client_hello.ts_ns, d->trigger.ts_ns) / 1000.0;
    an_ev_synack(ep, d);
    an_ev_client_hello(ep, d);
    an_ev_at(ep, "client_gave_up", AN_AT(d->trigger), "the client %s %.1f s after its ClientHello, no ServerHello came",
             (d->trigger.flags & CAP_TH_RST) ? "reset" : "closed", waited);
    if (d->reaction.frame) {
        an_ev_at(ep, "server_closed_after_client", AN_AT(d->reaction), "%s from the server side after the client's close: a reaction, not the cause",
                 (d->reaction.flags & CAP_TH_RST) ? "RST" : "FIN");
        an_contra_at(ep, "server_closed_late", AN_AT(d->reaction), "the server side closed too, but only after the client had given up");
    }
    ep->verdict = AN_TLS_FAILURE;
    ep->confidence = AN_CONF_LOW;
    an_reason_set(ep, "the client gave up %.1f s after its ClientHello (its own timeout, e.g. docker's Client.Timeout) because no ServerHello came; %s",
                  waited, d->ch_acked ? "the server side acknowledged the ClientHello but its answer never arrived: a path MTU black hole toward the client (a full-size ServerHello flight lost), a middlebox holding the handshake, or a stalled server"
                                   : "the ClientHello was never acknowledged: it did not reach the server (a filter dropping it, or a path MTU black hole toward the server)");
}

void an_explain_ok(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    an_ev_synack(ep, d);
    an_ev_client_hello(ep, d);
    if (d->has_sh)
        an_ev_at(ep, "server_hello", AN_AT(d->server_hello), "ServerHello %s", an_tls_version_name(d->sh_version));
    if (d->has_cert)
        an_ev_at(ep, "certificate", AN_AT(d->certificate), "Certificate CN=%s issued by CN=%s", d->cert_subject, d->cert_issuer_cn);
    ep->verdict = AN_OK;
    ep->confidence = AN_CONF_HIGH;
    an_reason_set(ep, "TCP connected and the TLS handshake completed%s; application data flowed both ways",
                  d->has_sh ? "" : " (or plain data)");
}

void an_explain_incomplete(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    ep->verdict = AN_INCOMPLETE;
    ep->confidence = AN_CONF_LOW;
    if (d->findings & (1u << AN_F_CAPTURE_TRUNCATED)) {
        an_ev_at(ep, "snap_length_cut", d->first_frame, d->first_ts, "packets of this connection were cut by the snap length");
        an_reason_set(ep, "packets were cut by the capture's snap length, and truncation is not evidence: capture again with -s 0");
    } else if (d->tls_unknown) {
        an_ev_at(ep, "tls_facts_dropped", d->first_frame, d->first_ts, "no TLS facts were kept for this connection (too many at once)");
        an_reason_set(ep, "too many handshakes were in progress at once for their TLS facts to be kept (flow_table_full), so this connection cannot be judged");
    } else if (d->one_sided) {
        an_ev_at(ep, "one_direction", d->first_frame, d->first_ts, "only one direction of this connection is in the capture");
        an_reason_set(ep, "the capture holds only one direction of the connection (the other was not captured, e.g. asymmetric routing or a filtered capture), which is not evidence of a drop");
    } else if (d->outcome == AN_FO_MIDSTREAM) {
        an_ev_at(ep, "midstream_start", d->first_frame, d->first_ts, "first packet of the connection is not a SYN or SYN-ACK");
        an_reason_set(ep, "the capture starts in the middle of the connection, so its handshake is missing");
    } else {
        if (d->n_syn)
            an_ev_syns(ep, d);
        an_reason_set(ep, "the capture ends before the connection's outcome is visible");
    }
}

/* The CONNECT through an explicit proxy and the proxy's reply, with the
 * proxy's address in detail (server and server_port are the proxy's).  */
void an_ev_tunnel(struct an_endpoint *ep, const struct an_flow_digest *d)
{
    const struct cap_tunnel *tn = &d->tunnel;
    char ip[64];
    cap_addr_str(&d->server, ip, sizeof(ip));
    an_ev_at(ep, "proxy_connect", AN_AT(tn->connect), "CONNECT %s:%u sent to the explicit proxy %s port %u", tn->target, tn->target_port,
             ip, d->server_port);
    if (tn->replied)
        an_ev_at(ep, "proxy_reply", AN_AT(tn->reply), "the proxy answered %d %s%s%s%s%s%s%s", tn->status, tn->reason,
                 tn->proxy_authenticate[0] ? ", Proxy-Authenticate: " : "", tn->proxy_authenticate,
                 tn->server[0] ? ", Server: " : "", tn->server, tn->via[0] ? ", Via: " : "", tn->via);
    if (d->server_port != 0 && ip[0])
        an_detail_add(ep, "proxy", d->server.family == 6 ? "[%s]:%u" : "%s:%u", ip, d->server_port);
}

void an_explain_proxy_refused(const struct an_engine *e, const struct an_flow_digest *d, struct an_endpoint *ep)
{
    (void)e;
    const struct cap_tunnel *tn = &d->tunnel;
    char ip[64];
    cap_addr_str(&d->server, ip, sizeof(ip));
    an_ev_tunnel(ep, d);
    ep->verdict = AN_PROXY_REFUSED;
    if (tn->replied) {
        ep->confidence = AN_CONF_HIGH;
        an_detail_add(ep, "http_status", "%d", tn->status);
        if (tn->proxy_authenticate[0])
            an_detail_add(ep, "proxy_authenticate", "%s", tn->proxy_authenticate);
        const char *why = tn->status == 407 ? "it requires proxy authentication and the client sent none it accepts"
                        : tn->status == 403 ? "its policy forbids a tunnel to this name"
                        : tn->status >= 500 ? "it could not open the connection to the registry itself"
                                            : "it refused the request";
        an_reason_set(ep, "the explicit proxy %s port %u answered the CONNECT to %s:%u with %d %s: %s", ip, d->server_port,
                      tn->target, tn->target_port, tn->status, tn->reason, why);
        return;
    }
    double waited = (double)d->proxy_waited_ns / 1e9;
    an_detail_add(ep, "http_status", "none");
    ep->confidence = AN_CONF_MEDIUM;
    const char *how = (d->trigger.flags & CAP_TH_RST) ? "reset" : "closed";
    if (d->proxy_closed) {
        an_ev_at(ep, "proxy_closed_connect", AN_AT(d->trigger), "the proxy %s the connection %.2f s after the CONNECT without answering it", how,
                 waited);
        an_reason_set(ep, "the explicit proxy %s port %u %s the connection %.2f s after the CONNECT to %s:%u without answering it: it refused the tunnel, or could not reach the registry",
                      ip, d->server_port, how, waited, tn->target, tn->target_port);
        return;
    }
    if (d->trigger.frame)
        an_ev_at(ep, "client_gave_up_on_connect", AN_AT(d->trigger), "the client %s the connection %.1f s after the CONNECT, no answer came", how, waited);
    else
        an_ev_at(ep, "proxy_connect_unanswered", AN_AT(tn->connect), "no answer to the CONNECT in the %.1f s the capture ran after it", waited);
    an_reason_set(ep, "the explicit proxy %s port %u never answered the CONNECT to %s:%u (%.1f s): it could not reach the registry itself, or holds the request",
                  ip, d->server_port, tn->target, tn->target_port, waited);
}

/* The registry's answer read with a key log: the verdict it proves on a
 * connection the wire left ok (an_http_answer_apply, as the prober's), or
 * one line saying the keys did not open it.  */
void an_explain_decrypted(const struct an_flow_digest *d, struct an_endpoint *ep)
{
    if (d->dec_ok == 0) {
        an_ev_at(ep, "keylog_wrong", AN_AT(d->dec_failed_ref), "the key log holds secrets for this connection, but its records do not authenticate with them (%u tried): a wrong key log, nothing decrypted",
                 d->dec_failed);
        return;
    }
    if (!d->dec_http) {
        an_ev_add(ep, "decrypted_no_http", "%u records decrypted with the key log, no HTTP/1.x or HTTP/2 response among them",
                  d->dec_ok);
        return;
    }
    an_ev_add(ep, "decrypted_records", "%u records of the server decrypted with the key log (%s)", d->dec_ok,
              d->sh_version >= CAP_TLS_1_3 ? "TLS 1.3" : "TLS 1.2");
    /* A verdict the answer proves has no wire rule: rule null, as for the
     * prober's facts (verdicts.md).  */
    struct an_http_answer a = d->http;
    a.request = d->http_request[0] ? d->http_request : "the first request on the connection";
    an_http_answer_apply(ep, &a);
}
