/* probe_int.h: what the probe's modules share (cli.c, plan.c, resolve.c,
 * conn.c, run.c); not part of the public interface (probe.h).  */
#ifndef ACRDIAG_PROBE_INT_H
#define ACRDIAG_PROBE_INT_H

#include <ares.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "analysis/analysis.h"
#include "analysis/fact.h"
#include "analysis/feed.h"
#include "capture/capture.h"
#include "proxy.h"

/* Every count the probe can send is bounded here. */
#define PROBE_MAX_NAMES 8u          /* login server plus data endpoints */
#define PROBE_MAX_ADDRS 8u          /* addresses kept per name and resolver */
#define PROBE_MAX_TARGETS 16u       /* addresses probed in all */
#define PROBE_MAX_CONTROLS 4u       /* --control hosts */
#define PROBE_CONTROL_ADDRS 2u      /* addresses probed per --control name */
#define PROBE_MAX_CONNS 160u        /* sockets opened in one run */
#define PROBE_MAX_FACTS AN_MAX_FACTS /* facts kept: as many as the engine and the writer keep */
#define PROBE_ECHO_COUNT 2u         /* ICMP echo requests per address */
#define PROBE_TTL_MAX 8u            /* TTL-limited SYNs per address: 1..8 */
#define PROBE_HTTP_MAX (LIM_HTTP_HEAD + LIM_HTTP_BODY)

/* Ports of the differential probes: a port a web front end usually
 * answers on, and one it usually does not (closed: RST, filtered: silence). */
#define PROBE_PORT_TLS 443
#define PROBE_PORT_OTHER AN_FACT_PORT_OTHER       /* 80 */
#define PROBE_PORT_UNUSED AN_FACT_PORT_UNUSED     /* 8080 */
#define PROBE_CONTROL_SNI "control.invalid"

struct push_creds;

enum probe_format { PROBE_FMT_TEXT, PROBE_FMT_JSON, PROBE_FMT_MARKDOWN };

struct probe_cfg {
    char names[PROBE_MAX_NAMES][LIM_DNS_NAME];   /* [0] is the login server */
    unsigned n_names;
    bool uppercase;                 /* the name was given with upper case */
    const char *dns_server;
    /* --control as given: an address, or a name resolved like the registry's */
    char controls[PROBE_MAX_CONTROLS][LIM_DNS_NAME];
    bool control_is_name[PROBE_MAX_CONTROLS];
    unsigned n_controls;
    const char *cacert;
    /* explicit proxies (proxy.h): the settings read, and each name's route */
    const char *config_root;        /* --config-root: the Docker daemon's files under it */
    struct proxy_cfg proxy;
    struct proxy_route routes[PROBE_MAX_NAMES];
    double timeout_s;
    const char *write_path;
    bool no_keys;                   /* --no-keys: no key log in the -w file */
    size_t buffer_bytes;            /* -B: the capture's kernel ring; 0: live.c's default */
    enum probe_format format;
    struct an_options an;
    bool dry_run;
    /* --push-check REPO (push.c): the repository and the credentials */
    const char *push_repo;
    struct push_creds *creds;
};

/* One resolution of one name by one resolver. */
struct probe_dns {
    unsigned name_idx;              /* into cfg.names, or cfg.controls when control */
    bool control;                   /* a --control name, not a registry name */
    bool custom;                    /* --dns-server rather than the system's */
    bool done;
    int status;                     /* ARES_SUCCESS, ARES_ENOTFOUND, ... */
    int64_t took_ns;
    char chain[4][LIM_DNS_NAME];    /* CNAME targets in order */
    unsigned chain_len;
    struct cap_addr addrs[PROBE_MAX_ADDRS];
    unsigned n_addrs;
};

enum probe_kind {
    PK_REGISTRY,                    /* TLS with the registry SNI, then GET /v2/ */
    PK_TLS12,                       /* TLS 1.2 at most: the certificate in clear */
    PK_CONTROL_SNI,                 /* TLS with a name no filter allows or denies */
    PK_TCP,                         /* a handshake only (differential, control) */
    PK_MTU,                         /* a full-size ClientHello with DF set */
    PK_TTL,                         /* a SYN with a small TTL */
};

enum probe_state { PS_CONNECTING, PS_PROXY_SEND, PS_PROXY_READ, PS_TLS, PS_HTTP_SEND, PS_HTTP_READ, PS_DONE };

/* How a TLS handshake ended, as the client saw it. */
enum probe_tls_end { PT_NONE, PT_OK, PT_EOF, PT_RESET, PT_ALERT, PT_TIMEOUT, PT_ERROR };

struct probe_conn {
    enum probe_kind kind;
    unsigned target;                /* index into run targets; controls have their own */
    struct cap_addr addr;
    uint16_t port;
    const char *sni;                /* borrowed from the config */
    int ttl;                        /* PK_TTL */
    int fd;
    SSL *ssl;
    enum probe_state state;
    int64_t started_ns, connected_ns, deadline_ns;
    int err;                        /* errno of connect() or the socket */
    bool local_err;                 /* connect() itself refused: nothing was sent */
    bool connected;
    bool no_http;                   /* PK_REGISTRY of a data endpoint */
    enum probe_tls_end tls_end;
    char tls_detail[128];
    char tls_version[16];
    long verify;                    /* X509_V_OK or the error */
    char subject_cn[128], issuer_cn[128], issuer_o[128];
    uint8_t *http;                  /* PROBE_HTTP_MAX bytes while reading */
    size_t http_len, http_sent;
    bool http_answered;
    struct cap_http_resp resp;
    struct probe_tunnel tunnel;     /* through an explicit proxy (proxy.c) */
};

struct probe_target {
    struct cap_addr addr;
    unsigned name_idx;              /* into cfg.names, or cfg.controls when is_control */
    bool is_control;
    bool is_proxy;                  /* an explicit proxy the probe tunnels through */
    int primary;                    /* conn index of the PK_REGISTRY step */
    bool diff_started, mtu_started, ttl_started;
    unsigned echo_sent;             /* turns of the echo schedule, the last only a wait */
    unsigned echo_requests;         /* echo requests that left (sendto succeeded) */
    unsigned echo_replies;          /* echo replies from it seen in the capture */
    int64_t echo_next_ns;
    uint16_t echo_id;
};

/* Everything one run holds: the handles opened while privileged, then
 * the plan's state.  Owned by cli.c; run.c drives it.  */
struct probe_ctx {
    struct probe_cfg cfg;
    /* opened before the privilege drop */
    struct cap_live *live;          /* NULL: no capture (not root) */
    char live_err[256];
    struct cap_writer *writer;      /* NULL without -w */
    int icmp4, icmp6;               /* -1 when unavailable */
    bool icmp_raw;                  /* raw sockets: the kernel adds no ID of ours */
    ares_channel dns_sys, dns_custom;
    SSL_CTX *tls, *tls_pad;
    char *keylog;                   /* the connections' TLS secrets for -w (keys.c) */
    size_t keylog_len;
    bool keylog_cut;
    /* the run */
    int64_t start_ns, deadline_ns;
    struct probe_dns dns[(PROBE_MAX_NAMES + PROBE_MAX_CONTROLS) * 2];
    unsigned n_dns;
    struct cap_addr resolvers[4];   /* control destinations on TCP 53 */
    unsigned n_resolvers;
    struct probe_target targets[PROBE_MAX_TARGETS + PROBE_MAX_CONTROLS * PROBE_CONTROL_ADDRS];
    unsigned n_targets;
    struct probe_conn conns[PROBE_MAX_CONNS];
    unsigned n_conns;
    struct an_fact facts[PROBE_MAX_FACTS];
    unsigned n_facts;
    bool facts_dropped;             /* said once on stderr */
    struct an_engine *engine;
    struct cap_source live_src;     /* live as a record source */
    struct an_feed feed;            /* the capture into the engine and the -w file */
    bool progress;                  /* a progress line on a terminal */
};

/* resolve.c */
bool probe_dns_open(struct probe_ctx *p, char *err, size_t errlen);
/* Resolves every name with every resolver, concurrently, until all are
 * answered or `until_ns`; pumps the capture meanwhile.  */
void probe_dns_resolve(struct probe_ctx *p, int64_t until_ns);
void probe_dns_close(struct probe_ctx *p);
const char *probe_dns_status_name(int status);

/* conn.c */
bool probe_tls_open(struct probe_ctx *p, char *err, size_t errlen);
void probe_tls_close(struct probe_ctx *p);
/* Starts the step (socket, options, non-blocking connect). */
void probe_conn_start(struct probe_ctx *p, struct probe_conn *c, int64_t now);
/* poll() events the step waits for; 0 when done. */
short probe_conn_events(const struct probe_conn *c);
/* Advances the step after poll() said `revents`, or at its deadline. */
void probe_conn_step(struct probe_conn *c, short revents, int64_t now);
void probe_conn_finish(struct probe_conn *c);
const char *probe_kind_name(enum probe_kind k);
/* ICMP echo sockets (raw as root, else datagram "ping" sockets). */
void probe_icmp_open(struct probe_ctx *p);
bool probe_icmp_echo(struct probe_ctx *p, const struct cap_addr *a, uint16_t id, uint16_t seq);

/* keys.c: with -w (and without --no-keys) reserves the file's Decryption
 * Secrets Block and logs every handshake's secrets; close puts them in the
 * file (the unprivileged run, before cap_writer_detach) and wipes them.  */
bool probe_keys_open(struct probe_ctx *p, char *err, size_t errlen);
void probe_keys_close(struct probe_ctx *p);

/* The probe's clock: monotonic nanoseconds. */
static inline int64_t probe_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* pump.c */
bool probe_is_target(const struct probe_ctx *p, const struct cap_addr *a);
/* The feed of the run's engine: the live capture (when there is one), the
 * probe's own packets only, into the -w file too.  */
void probe_feed_start(struct probe_ctx *p);
/* Reads the waiting packets (at most 4096) into the engine and the writer
 * through the feed every mode shares (analysis/feed.h).  */
void probe_pump_capture(struct probe_ctx *p);

/* run.c */
int probe_run_steps(struct probe_ctx *p);

/* plan.c */
/* What the end of the run keeps for finishing and writing the report. */
#define PROBE_REPORT_RESERVE_NS (150 * 1000000LL)
/* A step of `kind` to a:port, started now, ending after `wait` or at the
 * run's deadline less the report's reserve; NULL when the run is full.  */
struct probe_conn *probe_step_new(struct probe_ctx *p, enum probe_kind kind, unsigned target,
                                  const struct cap_addr *a, uint16_t port, const char *sni, int64_t now,
                                  int64_t wait, int ttl);
/* A target, unless it is one already or the run is full. */
void probe_add_target(struct probe_ctx *p, const struct cap_addr *a, unsigned name_idx, bool control);
/* For proxy.c: a target (its index, or -1 when full), and a registry step
 * to it with the run's whole budget.  */
int probe_target_add(struct probe_ctx *p, const struct cap_addr *a);
struct probe_conn *probe_conn_new(struct probe_ctx *p, unsigned target, const struct cap_addr *a, uint16_t port,
                                  const char *sni, int64_t now);

/* facts.c */
/* Keeps the fact for the engine and writes it to the -w file as a comment;
 * past PROBE_MAX_FACTS it is dropped, and the first drop is said on stderr.  */
void probe_fact_add(struct probe_ctx *p, const struct an_fact *f);
/* The fields of a tls and a proxy_tls fact after the step's own (endpoint,
 * step or name): result, version, verify, verify_error, the names, detail. */
void probe_fact_tls_fields(struct an_fact *f, const struct probe_conn *c);
/* The fields of an http and a proxy_http fact from status on; client_ip
 * only when the answer named one, unless client_ip_always.  */
void probe_fact_http_fields(struct an_fact *f, const struct cap_http_resp *h, bool client_ip_always);

/* cli.c */
/* "myreg" -> "myreg.azurecr.io", lower-cased; false when it cannot be a
 * DNS name.  *upper tells whether the input had upper case.  */
bool probe_name_normalize(const char *in, char *out, size_t len, bool *upper);
/* A --control argument: an IP address as it is, or a DNS name (lower-cased,
 * no suffix added); false when it is neither.  *is_name tells which.  */
bool probe_control_parse(const char *in, char *out, size_t len, bool *is_name);

#endif
