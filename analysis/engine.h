/* engine.h: the engine's internal state, shared by engine.c (packets and
 * tables), classify.c (flow outcomes), dnsmap.c (DNS facts), rules.c and
 * the explain files (an endpoint's verdict, rules.h) and decide.c (the
 * report).  Not part of the public interface.  */
#ifndef ACRDIAG_ENGINE_H
#define ACRDIAG_ENGINE_H

#include <string.h>

#include "analysis.h"
#include "capture/flow.h"

/* snprintf(dst, size, "%s", src) (size > 0) without the format machinery:
 * a folded flow's names went through vfprintf (5% of analyze's time).  */
static inline void an_str_copy(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

#define AN_HOST_BUCKETS 4096u
/* Endpoint hash chains; LIM_ENDPOINTS at most, usually a few dozen. */
#define AN_EP_BUCKETS 1024u
/* Server and control hosts whose answers are remembered. */
#define LIM_HOSTS 65536u
#define AN_PORTS_PER_HOST 8u

/* What one flow came to, from its own packets alone. */
enum an_flow_outcome {
    AN_FO_OK,               /* TLS completed (or data both ways) */
    AN_FO_ICMP,             /* ICMP destination unreachable quoted it */
    AN_FO_RST_AT_SYN,       /* RST answered the SYN */
    AN_FO_CLOSED_AFTER_CH,  /* RST or FIN from the server side after the ClientHello, no ServerHello */
    AN_FO_FOREIGN_CERT,     /* certificate not issued by the registry's CAs */
    AN_FO_TLS_ALERT,        /* fatal TLS alert in clear */
    AN_FO_MTU,              /* full-size segments vanish while small ones pass */
    AN_FO_SILENT,           /* SYNs unanswered */
    AN_FO_STALL,            /* established, ClientHello unanswered */
    AN_FO_TLS13_ABORT,      /* client ended the handshake after the server's encrypted flight */
    AN_FO_RST_LATER,        /* RST from the server side after the handshake */
    AN_FO_FORGED_TO_SERVER, /* a RST in the client's name that the client did not send */
    AN_FO_CLIENT_GAVE_UP,   /* the client closed first, its ClientHello unanswered */
    AN_FO_FORGED_SYNACK,    /* the client answered a SYN-ACK forged on the path */
    AN_FO_HELLO_DROPPED,    /* the ClientHello retransmitted, never acknowledged */
    AN_FO_PROXY_REFUSED,    /* an explicit proxy refused CONNECT, closed it, or never answered */
    AN_FO_INCOMPLETE,       /* capture ended or was cut before the outcome */
    AN_FO_MIDSTREAM,        /* started before the capture */
    AN_FO_COUNT
};

/* An HTTP answer of the registry (probe fact, or decrypted from a capture). */
struct an_http_answer {
    const char *request;            /* what was answered, for people: "GET /v2/" */
    uint64_t frame;                 /* where it was seen; 0 for a probe step */
    int64_t ts_ns;                  /* ... and when */
    long status;
    bool registry_headers, bearer;
    char reason[64], code[64], message[200], client_ip[64];
};
/* A flow outcome with the facts needed to explain it. */
struct an_flow_digest {
    enum an_flow_outcome outcome;
    uint64_t first_frame;
    int64_t first_ts;
    struct cap_addr client, server;
    uint16_t client_port, server_port;
    char sni[LIM_DNS_NAME];
    bool sni_missing, sni_uppercase;
    unsigned n_syn;
    struct cap_ref syn_first, syn_last, synack, rst, fin, client_hello, server_hello,
        certificate, trigger, alert_ref;
    bool has_synack, has_rst, has_fin, has_ch, has_sh, has_cert, rst_from_server;
    uint16_t sh_version;
    uint8_t alert_level, alert_desc;
    bool alert_from_server;
    bool cert_name_mismatch;
    struct cap_icmp_ref icmp;
    bool frag_needed;               /* icmp is a fragmentation-needed / too-big */
    uint32_t full_retransmits, hole_len;
    bool lost_from_client;          /* the lost full-size data was the client's (an upload) */
    int64_t rtt_ns;                 /* SYN-ACK to handshake ACK, or SYN to SYN-ACK */
    uint16_t client_mss, server_mss;
    bool data_after_rst;
    struct cap_ref data_after_rst_ref;
    uint64_t first_rst_frame;
    bool client_went_on;            /* the client sent data or its FIN after the trigger */
    bool server_uses_ts;            /* every non-RST packet of the server carried TCP timestamps */
    bool trigger_ttl_fits;          /* a forged trigger has its claimed sender's TTL */
    struct cap_ref client_went_on_ref;
    bool ch_acked;                  /* the server side acknowledged the ClientHello */
    uint32_t ch_retransmits;        /* the client's retransmissions, the ClientHello unanswered */
    bool trigger_forged;            /* the trigger does not fit its sender's own packets */
    struct cap_ref reaction;        /* the other side's close that answered the trigger */
    bool one_sided;                 /* one direction is missing from the capture */
    bool tls_unknown;               /* no TLS facts were kept for this flow */
    uint32_t findings;
    /* Through an explicit proxy: the CONNECT and the proxy's reply (the
     * server above is then the proxy).  */
    bool via_proxy;
    bool proxy_silent;              /* no reply: the proxy closed, or never answered */
    bool proxy_closed;              /* ... and the proxy reset or closed the connection */
    int64_t proxy_waited_ns;        /* from the CONNECT to the close or the capture's end */
    /* The server's records opened with a key log (flow.h cap_decrypted). */
    bool decrypted;
    unsigned dec_ok, dec_failed;
    struct cap_ref dec_failed_ref;
    bool dec_http;
    /* Cold: written only for flows that have them (has_cert, via_proxy,
     * dec_http), left unwritten by an_classify_flow for the others, zeroed
     * by an_digest_settle when a digest is kept.  */
    char cert_subject[LIM_CERT_NAME], cert_issuer_cn[LIM_CERT_NAME], cert_issuer_o[LIM_CERT_NAME];
    struct cap_tunnel tunnel;
    struct an_http_answer http;     /* request NULL: set where it is used */
    char http_request[128];         /* the client's request, decrypted, or "" */
};

/* A flow's events in frame order (timeline.c). */
enum an_event_kind {
    AN_EV_SYN, AN_EV_SYNACK, AN_EV_CLIENT_HELLO, AN_EV_SERVER_HELLO, AN_EV_CERTIFICATE, AN_EV_ALERT,
    AN_EV_GAP,              /* data beyond bytes that never reached the receiver */
    AN_EV_FULL_RETRANSMIT,  /* full-size segments retransmitted, never acknowledged */
    AN_EV_FIN, AN_EV_RST,
    AN_EV_UNKNOWN_ACK,      /* the client acknowledged a SYN-ACK the server never sent */
};

struct an_event {
    enum an_event_kind kind;
    int side;                       /* CAP_C2S: sent as the client, CAP_S2C: as the server */
    bool abnormal;                  /* could have ended or broken the connection */
    bool forged;                    /* does not fit the packets of the side it claims */
    struct cap_ref ref;
};

#define AN_MAX_EVENTS (8 + 2 * (LIM_FRAMES_PER_KIND + 1))

struct an_timeline {
    struct an_event ev[AN_MAX_EVENTS];
    unsigned n;
};

bool an_fits_sender(const struct cap_flow *f, int side, uint8_t ttl);
/* The side sent data or its FIN after `frame`; *at is the first such packet. */
bool an_went_on_after(const struct cap_flow_dir *side, uint64_t frame, struct cap_ref *at);
/* `completed`: the TLS exchange (or plain data) went both ways, so a FIN is
 * a normal close and only a forged RST is abnormal.  */
void an_timeline_build(const struct cap_flow *f, const struct an_flow_digest *d, bool completed, bool foreign_cert,
                       struct an_timeline *t);
/* The first abnormal event, or NULL. */
const struct an_event *an_timeline_cause(const struct an_timeline *t);
const struct an_event *an_timeline_reaction(const struct an_timeline *t, const struct an_event *cause);

/* A packet kept to be cited later: its frame (0: none) and capture time. */
struct an_seen {
    uint64_t frame;
    int64_t ts_ns;
};

/* Keeps p in *s unless a packet is there already: the first one counts. */
static inline void an_seen_first(struct an_seen *s, const struct cap_pkt *p)
{
    if (!s->frame)
        *s = (struct an_seen){ p->frame, p->ts_ns };
}

struct an_answer {
    uint64_t frame;                 /* 0: none */
    int64_t ts_ns;
    uint16_t port;
    uint8_t ttl;
};

struct an_host {
    struct cap_addr addr;
    struct an_answer synack, rst;   /* first of each, any port */
    struct an_answer synack_ports[AN_PORTS_PER_HOST];
    unsigned n_synack_ports;
    struct an_seen echo_request, echo_reply;
    uint8_t echo_reply_ttl;
    unsigned echo_requests;
    /* SYNs to ports other than the analysed one that got no answer. */
    struct an_seen other_port_syn;
    uint16_t other_port;
    unsigned other_port_syns;
    bool control;                   /* a --control destination the user named */
    struct an_host *next;
};

struct an_ep_acc {
    struct cap_addr ip;
    uint16_t port;
    struct an_ep_acc *hash_next;    /* an_engine ep_buckets chain */
    char via_target[LIM_DNS_NAME];  /* reached through the proxy at ip:port: the CONNECT target */
    char sni[LIM_DNS_NAME];
    unsigned n_flows;
    unsigned outcome_count[AN_FO_COUNT];
    struct an_flow_digest *first[AN_FO_COUNT];
    uint64_t last_ok_frame;
    struct an_flow_line lines[AN_MAX_FLOWS_LISTED];
    unsigned n_lines;
};

/* One DNS name's fate: the answers and chain that named addresses. */
struct an_dns_name {
    char name[LIM_DNS_NAME];        /* the name queried */
    unsigned queries, responses;
    unsigned cut_responses;         /* responses the snap length (or a short message) cut */
    struct an_seen cut;
    struct an_seen first_query, last_query, response;
    uint8_t worst_rcode;            /* non-zero rcode seen, else 0 */
    struct an_seen rcode;
    bool got_address;
    bool chain_privatelink;
    char chain[4][LIM_DNS_NAME];    /* CNAME targets in order */
    unsigned chain_len;
    struct cap_addr addrs[4];
    unsigned n_addrs;
    struct an_seen addr;
    struct cap_addr server;         /* the resolver asked */
};

/* Explicit proxies found by a CONNECT on a port other than the analysed
 * one: their flows are tracked too.  */
#define AN_MAX_PROXIES 16u
/* SYNs and SYN-ACKs of other ports remembered, so the flow of the first
 * CONNECT to a proxy not yet known starts with its handshake.  */
#define AN_SYN_RING 64u

struct an_proxy {
    struct cap_addr addr;
    uint16_t port;
};

struct an_engine {
    struct an_options opt;
    struct an_proxy proxies[AN_MAX_PROXIES];
    unsigned n_proxies;
    struct cap_pkt syn_ring[AN_SYN_RING];   /* payload NULL */
    unsigned syn_ring_next;
    struct cap_addr host_addr;      /* --host as an address, family 0 if a name */
    struct cap_flow_table *flows;
    struct an_host *hosts[AN_HOST_BUCKETS];
    size_t n_hosts;
    struct an_ep_acc *eps[LIM_ENDPOINTS];
    unsigned n_eps;
    struct an_ep_acc *ep_buckets[AN_EP_BUCKETS];    /* by address and port: a lookup per folded flow */
    uint64_t endpoints_dropped;
    struct an_dns_name *dns;        /* LIM_DNS_NAMES entries, allocated on first use */
    unsigned n_dns;
    uint64_t icmp_cut;              /* ICMP errors cut before their quote could be matched */
    uint64_t dns_cut_unnamed;       /* DNS messages cut before their name could be read */
    int64_t last_ts_ns;
    struct an_capture_info info;
    struct an_fact *facts[AN_MAX_FACTS];
    unsigned n_facts;
};

struct an_host *an_host_get(struct an_engine *e, const struct cap_addr *a);
/* The host's facts, or NULL when nothing was seen of it. */
struct an_host *an_host_find(const struct an_engine *e, const struct cap_addr *a);
struct an_ep_acc *an_ep_get(struct an_engine *e, const struct cap_addr *a, uint16_t port);
/* The endpoint `via` reached through the proxy at a:port ("" for a direct one). */
struct an_ep_acc *an_ep_get_via(struct an_engine *e, const struct cap_addr *a, uint16_t port, const char *via);

/* A name under azurecr.io (login server, data or regional endpoint). */
bool an_registry_name(const char *name);

/* classify.c */
/* Fills *out but for the cold tail of flows that have none; whatever keeps
 * a digest calls an_digest_settle on it first.  */
void an_classify_flow(const struct an_engine *e, const struct cap_flow *f, struct an_flow_digest *out);
/* Zeroes the cold parts an_classify_flow did not write. */
void an_digest_settle(struct an_flow_digest *d);
enum an_verdict an_outcome_verdict(enum an_flow_outcome o);

/* decide.c: puts the endpoints in report order (login servers before data
 * endpoints, failures before ok) and sets the top verdict and summary.  */
void an_report_conclude(struct an_report *r, const struct an_options *opt);

/* facts.c: applies the facts to the endpoints the packets decided:
 * endpoints the capture could not decide (ok at the TCP/TLS layer, or
 * absent because nothing was captured) get the verdict the facts prove,
 * with probe evidence (frame 0).  The caller concludes the report once,
 * after this.  */
void an_facts_apply(struct an_report *r, const struct an_options *opt, const struct an_fact *const *facts,
                    size_t n);

/* factep.c: the verdict an HTTP answer proves, on an endpoint the wire left
 * ok or incomplete (registry_denied, registry_error, proxy_interception
 * without registry headers; ok for a 401 Bearer challenge), with evidence. */
void an_http_answer_apply(struct an_endpoint *ep, const struct an_http_answer *a);

/* proxyfacts.c: the probe's steps through an explicit proxy (CONNECT, the
 * tunnel's TLS and GET /v2/) and the proxy settings that differ between the
 * Docker daemon and the shell; called by an_facts_apply.  */
void an_proxy_facts_apply(struct an_report *r, const struct an_options *opt, const struct an_fact *const *facts,
                          size_t n);

/* dnsmap.c */
void an_dns_packet(struct an_engine *e, const struct cap_pkt *p, bool over_tcp);
/* The queried name whose answers gave this address, or NULL. */
const struct an_dns_name *an_dns_name_for(const struct an_engine *e, const struct cap_addr *a);

#endif
