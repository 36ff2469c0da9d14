/* flow.h: TCP flows from packet summaries: handshake, resets, closes,
 * retransmissions and holes, ICMP errors quoting the flow, Zeek-style
 * history, and the TLS facts of each direction's first bytes.
 *
 * Four rooms behind it: flow_table.c (hash, slots, LRU, sweep),
 * tcp_track.c (per-packet TCP state), reasm.c (stream reassembly, pooled
 * buffers), zeek.c (conn_state, history).  */
#ifndef ACRDIAG_FLOW_H
#define ACRDIAG_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "capture.h"

#define CAP_C2S 0
#define CAP_S2C 1

/* How far a connection had got when something happened to it. */
enum cap_stage {
    CAP_STAGE_SYN_SENT,     /* SYN seen, no SYN-ACK */
    CAP_STAGE_SYNACK_RCVD,  /* SYN-ACK seen, no client ACK */
    CAP_STAGE_ESTABLISHED,  /* handshake done, no payload */
    CAP_STAGE_CLIENT_DATA,  /* only the client had sent payload */
    CAP_STAGE_SERVER_DATA,  /* the server had sent payload */
    CAP_STAGE_MIDSTREAM,    /* neither SYN nor SYN-ACK captured */
};

/* One packet remembered as evidence. */
struct cap_ref {
    uint64_t frame;
    int64_t ts_ns;
    uint8_t ttl;
    uint16_t ip_id;
    uint32_t seq;
    uint32_t len;           /* payload bytes */
    uint8_t flags;
    bool tcp_ts;            /* carried the TCP timestamps option */
    uint16_t mss;
};

struct cap_icmp_ref {
    uint64_t frame;
    int64_t ts_ns;
    uint8_t type, code;
    bool v6;
    struct cap_addr reporter;
    uint8_t ttl;
    uint16_t next_mtu;
};

/* Reassembly of the first LIM_TLS_STREAM_BYTES of one direction, allocated
 * only while a handshake is being read and freed once its facts are taken. */
struct cap_stream;

/* TLS facts of one direction, with the frames that carried them. */
struct cap_tls_facts {
    struct cap_tls_dir tls;
    struct cap_ref client_hello, server_hello, certificate;
    struct cap_ref alerts[LIM_TLS_ALERTS];
};

/* An explicit proxy's tunnel (RFC 9110 9.3.6): the client's stream began
 * with a CONNECT request; the proxy's reply head, when it came, precedes
 * the tunnel's own bytes.  Allocated only for such flows.  */
struct cap_tunnel {
    char target[LIM_DNS_NAME];      /* the CONNECT target's host, lower-cased */
    uint16_t target_port;
    struct cap_ref connect;         /* the frame completing the CONNECT head */
    bool replied;                   /* the proxy's reply head ended */
    bool reply_bad;                 /* the proxy's first bytes are no HTTP reply */
    struct cap_ref reply;           /* the frame completing the reply head */
    int status;
    char reason[64];
    char proxy_authenticate[64];
    char via[96];
    char server[64];
};

/* A connection's first records opened with a key log (decrypt.c): the
 * server's first HTTP response and the client's first request line.
 * Allocated only for flows whose secrets the key log holds.  */
struct cap_decrypted {
    unsigned records_ok;            /* records that authenticated */
    unsigned records_failed;        /* ... that did not (wrong key, or handshake
                                     * records when only the traffic secret is known) */
    struct cap_ref failed;          /* the first that did not */
    bool http;                      /* an HTTP/1.x response head was read */
    struct cap_ref http_ref;        /* the frame completing its first record */
    struct cap_http_resp resp;
    char request[128];              /* the client's first request: "GET /v2/" */
};

/* Fields are grouped by how often they are touched: what every packet
 * reads or updates first, the frames kept as evidence after, so a packet's
 * update touches few cache lines of its flow.  */
struct cap_flow_dir {
    uint32_t pkts;
    uint64_t payload_bytes;
    bool ttl_set;
    uint8_t ttl_min, ttl_max;   /* over packets other than RSTs */
    uint32_t ts_pkts;           /* packets other than RSTs with TCP timestamps */
    uint32_t max_payload;

    bool seq_set;
    uint32_t seq_base;          /* first payload byte's sequence number */
    uint32_t seq_high;          /* highest seq + len sent, relative to seq_base */
    uint32_t retransmits;       /* payload segments at or below seq_high */
    uint32_t full_retransmits;  /* ... of them near full size */
    uint32_t full_retransmit_end;   /* relative end of the retransmitted data */

    bool hole;                  /* a segment arrived beyond a gap */
    bool hole_filled;
    uint32_t hole_start, hole_len;
    uint32_t small_after_hole;  /* segments that still arrived beyond it */

    bool ack_set;
    uint32_t ack_high;          /* highest ACK this side sent, relative to the peer's seq_base */

    unsigned n_payload;
    bool fin;
    unsigned n_rst;

    struct cap_stream *stream;
    struct cap_tls_facts *tls; /* NULL until the first payload */
    bool tls_done;
    bool tls_missing;           /* payload came but no facts could be kept */
    bool tls_cut;               /* some of the first bytes were cut by the snap length */

    /* Evidence. */
    struct cap_ref last_payload;
    struct cap_ref payload[4];  /* first payload segments */
    struct cap_ref first_full_retransmit;
    struct cap_ref hole_after;  /* the segment that arrived beyond the gap */
    struct cap_ref fin_ref;
    struct cap_ref rst[LIM_FRAMES_PER_KIND];
};

struct cap_flow {
    /* The table's links, hashes and last timestamps live apart, in its own
     * small per-slot array (flow_table.c): a lookup or an LRU move then never
     * touches a flow other than the one it is after.  */
    bool closed;                /* on the closed list */

    struct cap_addr client, server;
    uint16_t client_port, server_port;
    char client_by;             /* 's' SYN, 'h' SYN-ACK, 'p' port, 'f' first */

    uint64_t first_frame, last_frame;
    int64_t first_ts;
    uint64_t pkts;
    bool snapped;               /* a packet of this flow was cut by the snap length */

    unsigned n_syn, n_synack;
    bool hs_ack;
    bool hs_ack_unknown;        /* the client's handshake ACK acknowledges no captured SYN-ACK */
    bool rst_seen;
    enum cap_stage rst_stage;   /* stage when the first RST arrived */
    bool data_after_rst;
    unsigned n_icmp;

    uint16_t history_seen;      /* letters already recorded, per direction */
    char history[LIM_HISTORY + 1];

    struct cap_flow_dir dir[2];
    struct cap_tunnel *tunnel;      /* NULL unless the client sent CONNECT first */
    struct cap_decrypted *decrypted;    /* NULL unless the key log held its secrets */
    bool keys_checked;              /* the key log was searched for this flow */

    /* Evidence. */
    struct cap_ref syn[LIM_FRAMES_PER_KIND];
    struct cap_ref synack[LIM_FRAMES_PER_KIND];
    struct cap_ref hs_ack_ref;
    struct cap_ref first_rst;   /* either direction */
    struct cap_ref data_after_rst_ref;
    struct cap_icmp_ref icmp[LIM_FRAMES_PER_KIND];
};

/* Called once per flow when it leaves the table (evicted or flushed); the
 * flow is freed after the call returns.  */
typedef void (*cap_flow_done_fn)(void *ctx, const struct cap_flow *f);

struct cap_flow_table;

struct cap_flow_table *cap_flows_new(cap_flow_done_fn done, void *ctx);
/* The registry's port (443 unless set): a flow first seen midstream has its
 * server on this port or on 80.  */
void cap_flows_set_server_port(struct cap_flow_table *t, uint16_t port);
/* Updates the flow of a TCP packet; returns it (NULL if not TCP). */
const struct cap_flow *cap_flows_tcp(struct cap_flow_table *t, const struct cap_pkt *p);
/* Attaches an ICMP error to the flow whose packet it quotes; returns it or
 * NULL when no tracked flow matches field by field.  */
const struct cap_flow *cap_flows_icmp(struct cap_flow_table *t, const struct cap_pkt *p);
/* Secrets to decrypt with (borrowed; NULL: none).  A flow whose server
 * stream can be opened keeps its first LIM_TLS_STREAM_BYTES until it ends. */
struct cap_keylog;
void cap_flows_set_keylog(struct cap_flow_table *t, const struct cap_keylog *k);
/* Hands every remaining flow to the done callback and frees the table. */
void cap_flows_free(struct cap_flow_table *t);
/* Number of flows evicted because the table was full. */
uint64_t cap_flows_evicted(const struct cap_flow_table *t);

/* Flows that got no TLS facts because LIM_LIVE_STREAMS buffers were busy. */
uint64_t cap_flows_streams_denied(const struct cap_flow_table *t);

/* Zeek conn_state of a flow ("S0", "REJ", "SF", ...). */
const char *cap_flow_conn_state(const struct cap_flow *f);
/* Stage the flow had reached by its last packet. */
enum cap_stage cap_flow_stage(const struct cap_flow *f);
const char *cap_stage_name(enum cap_stage s);

/* Initial TTL guess and hop distance, as p0f's guess_dist does. */
unsigned cap_hop_distance(uint8_t ttl);

#endif
