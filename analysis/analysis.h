/* analysis.h: the public interface of analysis/: packet summaries in,
 * verdicts with evidence out, and the writers that print them.
 *
 * The engine never looks at raw bytes: it is fed struct cap_pkt summaries
 * (capture/capture.h), keeps per-flow facts, folds finished flows into
 * per-endpoint results, and decides verdicts from those.  */
#ifndef ACRDIAG_ANALYSIS_H
#define ACRDIAG_ANALYSIS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "analysis/fact.h"
#include "capture/capture.h"

/* The verdict vocabulary of docs/verdicts.md, in its order. */
enum an_verdict {
    AN_OK = 0,
    AN_DNS_FAILURE,
    AN_SILENT_DROP,
    AN_NSG_DROP,
    AN_ROUTE_BLACKHOLE,
    AN_CONNECTION_RESET,
    AN_FIREWALL_RESET,
    AN_SERVER_RESET,
    AN_ICMP_UNREACHABLE,
    AN_PROXY_INTERCEPTION,
    AN_PROXY_REFUSED,
    AN_TLS_FAILURE,
    AN_MTU_BLACKHOLE,
    AN_REGISTRY_DENIED,
    AN_REGISTRY_WRITE_DISABLED,
    AN_REGISTRY_AUTH_FAILED,
    AN_REGISTRY_PUSH_FORBIDDEN,
    AN_REGISTRY_ERROR,
    AN_LOCAL_NO_ROUTE,
    AN_INCOMPLETE,
    AN_VERDICT_COUNT
};

enum an_confidence { AN_CONF_LOW, AN_CONF_MEDIUM, AN_CONF_HIGH };

/* Observations that are not verdicts (verdicts.md "findings"). */
enum an_finding {
    AN_F_PRIVATELINK_RESOLVES_PUBLIC,
    AN_F_SYN_ACK_HOP_DISTANCE_SHORT,
    AN_F_MSS_CLAMPED,
    AN_F_DATA_AFTER_RESET,
    AN_F_RST_FASTER_THAN_RTT,
    AN_F_TLS12_CERTIFICATE_VISIBLE,
    AN_F_SNI_MISSING,
    AN_F_UPPERCASE_REGISTRY_NAME,
    AN_F_FLOW_TABLE_FULL,
    AN_F_CAPTURE_TRUNCATED,
    AN_F_MIDSTREAM_START,
    AN_F_CERTIFICATE_NAME_MISMATCH,
    AN_F_CLIENT_RETRIED_AND_SUCCEEDED,
    AN_F_KERNEL_DROPS,
    AN_F_DNS_ANSWERS_DIFFER,
    AN_F_PROXY_SETTINGS_DIFFER,
    AN_FINDING_COUNT
};

const char *an_verdict_name(enum an_verdict v);
const char *an_confidence_name(enum an_confidence c);
const char *an_finding_name(enum an_finding f);
/* Exit status for a top-level verdict (verdicts.md "Exit status"). */
int an_exit_status(enum an_verdict v);

#define AN_MAX_EVIDENCE 12
#define AN_MAX_FLOWS_LISTED 16
#define AN_MAX_DETAIL 6
#define AN_MAX_CONTRADICTIONS 4

struct an_evidence {
    uint64_t frame;                 /* 1-based frame; 0 for a non-packet step */
    /* Which fact this is, for machines: a stable snake_case name, one per
     * sentence template (docs/verdicts.md "Evidence kinds"); a static
     * string, never NULL or empty once added.  Tests match it, not `what`. */
    const char *kind;
    char what[224];
    /* Where the frame lies, filled in after the engine by whoever knows the
     * input files (an_report_locate); file NULL: not known.  */
    const char *file;               /* the capture file holding it (borrowed) */
    uint64_t frame_in_file;         /* 1-based within that file */
    bool has_ts;
    int64_t ts_ns;                  /* the frame's timestamp, when has_ts */
};

/* One key/value of the JSON "detail" object (client_ip, icmp code, ...). */
struct an_detail {
    char key[32];
    char value[160];
};

/* A flow as listed in the report, with Zeek-compatible state. */
struct an_flow_line {
    uint64_t first_frame;
    struct cap_addr client;
    uint16_t client_port;
    char conn_state[8];
    char history[LIM_HISTORY + 1];
    enum an_verdict outcome;
};

struct an_endpoint {
    char name[LIM_DNS_NAME];        /* "" when only the address is known */
    bool has_ip;
    struct cap_addr ip;
    uint16_t port;
    bool is_data_endpoint;

    enum an_verdict verdict;
    uint32_t candidates;            /* bit (1u << verdict) per candidate class */
    enum an_confidence confidence;
    char reason[768];              /* the wire's reason plus what probe facts add */
    struct an_evidence evidence[AN_MAX_EVIDENCE];
    unsigned n_evidence;
    const char *rule;               /* the rule that decided (static string), or NULL */
    /* Facts that speak against the verdict's rule (named, never hidden). */
    struct an_evidence contradictions[AN_MAX_CONTRADICTIONS];
    unsigned n_contradictions;
    uint32_t findings;              /* bit (1u << an_finding) */
    struct an_detail detail[AN_MAX_DETAIL];
    unsigned n_detail;

    unsigned n_flows;               /* all flows folded into this endpoint */
    struct an_flow_line flows[AN_MAX_FLOWS_LISTED];
    unsigned n_flows_listed;
};

struct an_capture_info {
    unsigned n_files;
    const char *files[16];          /* the first 16 names, borrowed from argv */
    const char *const *all_files;   /* all n_files names (borrowed), or NULL when
                                     * files[] holds them all; see an_capture_file */
    uint64_t packets;
    uint64_t packets_undecoded;     /* not IP, unsupported link type, invalid */
    uint64_t packets_snapped;       /* cut by the snap length */
    int64_t first_ts_ns, last_ts_ns;
    uint32_t linktypes[8];
    unsigned n_linktypes;
    bool damaged;                   /* a file ended in a damaged record */
    char damage[160];
};

#define AN_MAX_CONTROLS 8

/* The client's own words (analysis/clientlog.h): analyze --client-log,
 * watch -- COMMAND.  */
struct an_client;

/* A control destination of the probe (--control, in any prefix): reported
 * as what it shows (the path to somewhere else works), never as an endpoint
 * with a verdict of its own.  */
struct an_control {
    char given[LIM_DNS_NAME];       /* as the user gave it: an address or a name */
    bool has_ip;                    /* false: the name did not resolve */
    struct cap_addr ip;
    bool probed;                    /* its TCP 443 and ping were tried */
    bool answered;                  /* SYN-ACK or RST on TCP 443, or an echo reply */
    char result[224];               /* what it did, in words */
};

struct an_report {
    const char *mode;               /* "analyze", "probe", "watch" */
    const struct an_options *options;   /* what shaped the result (borrowed), or NULL */
    enum an_verdict verdict;        /* top level */
    char summary[512];
    struct an_endpoint *endpoints;  /* owned by the report */
    unsigned n_endpoints;
    uint32_t findings;              /* capture-wide findings */
    struct an_capture_info capture;
    struct an_control controls[AN_MAX_CONTROLS];    /* from the probe's facts */
    unsigned n_controls;
    const struct an_client *client; /* the client's log (borrowed), or NULL */
};

void an_report_free(struct an_report *r);
/* The name of input file i (0-based) of a capture, or NULL. */
const char *an_capture_file(const struct an_capture_info *c, unsigned i);

/* ---- the engine (engine.c) ------------------------------------------------ */

#define AN_MAX_PRIVATE_NETS 16

struct an_prefix {
    struct cap_addr addr;
    unsigned len;
};

struct an_options {
    const char *host;               /* --host NAME|IP, or NULL */
    int port;                       /* --port N, default 443 */
    /* Address space the analysis treats as private (private endpoints);
     * RFC 1918, 100.64/10 and fc00::/7 unless --private-net is given.  */
    struct an_prefix private_nets[AN_MAX_PRIVATE_NETS];
    unsigned n_private_nets;
    /* TLS secrets (--keylog, pcapng Decryption Secrets Blocks), borrowed;
     * NULL: nothing is decrypted.  */
    const struct cap_keylog *keylog;
};

struct an_engine;

/* Returns NULL only when memory is exhausted. */
struct an_engine *an_engine_new(const struct an_options *opt);
/* Feeds one decoded packet (any status). */
void an_engine_packet(struct an_engine *e, const struct cap_pkt *pkt, uint32_t linktype);
/* Facts the wire cannot carry (a connect() errno, OpenSSL's chain
 * verification, the push check's steps; analysis/fact.h): the prober hands
 * its engine the structs, and writes them as pcapng section comments;
 * analyze passes the comments of a file, each parsed through the same
 * table.  Lines without the fact prefix are ignored; at most AN_MAX_FACTS
 * are kept.  */
void an_engine_fact(struct an_engine *e, const char *line);
void an_engine_add_fact(struct an_engine *e, const struct an_fact *f);

/* Tells the engine the capture ran until ts_ns even if no packet came then
 * (a live capture stopped by the user): a lone SYN that long ago counts. */
void an_engine_set_end(struct an_engine *e, int64_t ts_ns);
/* Notes a damaged input file (the verdicts still come from what was read). */
void an_engine_damaged(struct an_engine *e, const char *why);
/* Decides and fills *out (caller frees with an_report_free). */
void an_engine_finish(struct an_engine *e, const char *mode, struct an_report *out);
void an_engine_free(struct an_engine *e);

/* prefix.c */
bool an_prefix_parse(const char *s, struct an_prefix *out);
bool an_prefix_contains(const struct an_prefix *p, const struct cap_addr *a);

/* ---- writers (text.c, markdown.c, json.c) ---------------------------------- */

struct an_write_options {
    bool color;                     /* ANSI colour (only on a terminal) */
};

/* Each returns 0, or -1 when the stream failed (errno set). */
int an_write_text(FILE *out, const struct an_report *r, const struct an_write_options *o);
int an_write_markdown(FILE *out, const struct an_report *r, const char *version);
int an_write_json(FILE *out, const struct an_report *r, const char *version);
/* --json-lines: one JSON object per line and per endpoint (a report without
 * endpoints is one line), each complete in itself: version, mode, files,
 * the report's verdict as "capture_verdict", then the endpoint's fields as in
 * the document's endpoints[] (verdict, evidence, ...).  */
int an_write_json_lines(FILE *out, const struct an_report *r, const char *version);

/* Remedy text for a verdict, in the words of the troubleshooting guide. */
const char *an_remedy(enum an_verdict v);
/* A writer's output of n bytes of s; from_wire: the bytes came from the
 * capture (a name), so the writer escapes what it must.  */
typedef void (*an_put_fn)(void *ctx, const char *s, size_t n, bool from_wire);
/* The remedy for v with "<name>" filled with name (at most max bytes;
 * "<registry>.azurecr.io" when empty) and "<port>" with port (443 when 0),
 * piece by piece through put.  */
void an_remedy_write(enum an_verdict v, const char *name, size_t max, unsigned port, an_put_fn put, void *ctx);
/* The registry's port the report was made for: --port, else 443. */
unsigned an_report_port(const struct an_report *r);

#endif
