/* proxy.h: explicit proxies for the probe: where the settings come from
 * (proxycfg.c: the shell's environment, the Docker daemon's daemon.json and
 * systemd drop-ins, the client's config.json, --proxy/--no-proxy), which one
 * applies to a name (Go's httpproxy rules, as dockerd and the docker CLI
 * use them), and the CONNECT exchange of one probe step (proxy.c).  */
#ifndef ACRDIAG_PROBE_PROXY_H
#define ACRDIAG_PROBE_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"

#define PROXY_URL_MAX 512u          /* a proxy URL longer than this is refused */
#define PROXY_NO_PROXY_MAX 2048u    /* NO_PROXY kept (longer lists are cut, said) */
#define PROXY_FILE_MAX (256u * 1024u)   /* daemon.json, config.json, a drop-in */
#define PROXY_DROPINS_MAX 32u       /* drop-in files (docker.service.d, *.conf) read */
#define PROXY_REPLY_MAX 4096u       /* the proxy's reply head to CONNECT */

/* A proxy URL as Go's url.Parse and httpproxy read it: scheme://[user[:pass]@]host[:port];
 * no scheme means http (httpproxy does the same).  */
struct proxy_url {
    bool usable;                    /* http:// with a host: the probe can speak to it */
    char scheme[8];
    char host[LIM_DNS_NAME];        /* without brackets for IPv6 */
    uint16_t port;
    bool has_credentials;
    char credentials[256];          /* user:pass, percent-decoded, for Proxy-Authorization */
    char shown[PROXY_URL_MAX];      /* as printed: the credentials replaced by *** */
    char problem[160];              /* why it is not usable ("" when usable) */
};

/* Where a proxy setting can come from. */
enum proxy_source {
    PXS_OPTION,                     /* --proxy URL / --no-proxy */
    PXS_ENV,                        /* HTTPS_PROXY/https_proxy/ALL_PROXY, NO_PROXY: the shell's */
    PXS_DAEMON_JSON,                /* /etc/docker/daemon.json "proxies" */
    PXS_SYSTEMD,                    /* docker.service.d drop-ins, Environment= */
    PXS_CLIENT,                     /* ~/.docker/config.json proxies.default */
    PXS_COUNT
};

struct proxy_setting {
    bool present;                   /* the source names an HTTPS proxy or NO_PROXY */
    bool has_proxy;                 /* ... an HTTPS proxy (url valid or not) */
    char origin[160];               /* "HTTPS_PROXY", a file name, ... */
    struct proxy_url url;
    char no_proxy[PROXY_NO_PROXY_MAX];
    char note[200];                 /* what could not be read, or was ignored */
};

struct proxy_cfg {
    struct proxy_setting src[PXS_COUNT];
    bool no_proxy_option;           /* --no-proxy */
    bool daemon_installed;          /* a Docker daemon's configuration exists */
};

/* Which way one name goes, for the probe and for the daemon and the shell. */
struct proxy_route {
    int source;                     /* enum proxy_source used, or -1: direct */
    char why[200];                  /* "NO_PROXY entry .corp matches", ... */
};

/* ---- proxycfg.c ---------------------------------------------------------- */

/* Parses a proxy URL; false (problem filled) when it is not one. */
bool proxy_url_parse(const char *in, struct proxy_url *out);
/* Go's httpproxy useProxy: false when NO_PROXY (comma-separated: `*`, a
 * host with or without port, a leading dot or `*.` for subdomains only, a
 * name for itself and its subdomains, an IP, a CIDR) or the loopback
 * exempts host:port.  *entry receives the matching entry.  */
bool proxy_use_for(const char *no_proxy, const char *host, uint16_t port, char *entry, size_t entrylen);
/* systemd Environment= values of one docker.service.d drop-in text (the [Service] section;
 * quoted and unquoted assignments, later ones win): HTTPS_PROXY (or
 * https_proxy) and NO_PROXY (no_proxy) into s.  */
void proxy_parse_dropin(const char *text, size_t len, const char *origin, struct proxy_setting *s);
/* daemon.json "proxies" {"https-proxy", "no-proxy"}; client config.json
 * "proxies" {"default": {"httpsProxy", "noProxy"}}.  A text that is no
 * JSON object leaves a note.  */
void proxy_parse_daemon_json(const char *text, size_t len, const char *origin, struct proxy_setting *s);
void proxy_parse_client_json(const char *text, size_t len, const char *origin, struct proxy_setting *s);
/* Reads every source: the environment, the daemon's files under `root`
 * (NULL or "/" for the system's), the client config of the invoking user
 * ($DOCKER_CONFIG, else SUDO_USER's home when root, else $HOME).  Call
 * before the privileges are dropped.  */
void proxy_cfg_read(struct proxy_cfg *c, const char *root);
/* The route of host:port: --proxy/--no-proxy, else the daemon's setting
 * (daemon.json, then the drop-ins) when a daemon is installed, else the
 * shell's.  */
void proxy_route_for(const struct proxy_cfg *c, const char *host, uint16_t port, struct proxy_route *r);
/* The route one source alone gives (the daemon's two files count as one:
 * `source` PXS_DAEMON_JSON asks for the daemon's).  */
void proxy_route_by(const struct proxy_cfg *c, int source, const char *host, uint16_t port, struct proxy_route *r);
const char *proxy_source_name(int source);

/* ---- proxy.c: the probe through the proxy ------------------------------- */

/* One probe step's CONNECT (RFC 9110 9.3.6), held in its probe_conn. */
struct probe_tunnel {
    bool via;                       /* the step goes through the proxy */
    const struct proxy_url *proxy;  /* borrowed from the config */
    uint8_t *buf;                   /* the request, then the reply head (PROXY_REPLY_MAX) */
    size_t len, sent;
    bool replied;                   /* the reply head ended */
    bool reply_bad;                 /* the proxy's bytes are no HTTP reply head */
    bool closed;                    /* the proxy closed or reset before its reply */
    bool timed_out;                 /* no reply before the step's deadline */
    int close_err;                  /* ECONNRESET, or 0 for a FIN */
    int64_t connect_ns, end_ns;     /* CONNECT sent; reply, close or deadline */
    struct cap_http_resp resp;      /* the reply's status and headers */
};

struct probe_ctx;
struct probe_cfg;
struct probe_conn;

/* Reads the settings (before the privilege drop) and decides each name's
 * route; false with err when --proxy is no usable URL.  */
bool probe_proxy_setup(struct probe_cfg *cfg, char *err, size_t errlen);
/* The name at index i goes through the proxy. */
bool probe_proxy_routed(const struct probe_cfg *cfg, unsigned i);
/* Says the settings and routes as facts, resolves the proxy's address and
 * starts one step per routed name (CONNECT, then TLS and GET /v2/).  */
void probe_proxy_start(struct probe_ctx *p, int64_t now);
/* Sends the CONNECT or reads the reply; on a 2xx the step goes on to TLS. */
void probe_proxy_step(struct probe_conn *c, int64_t now);
void probe_proxy_timeout(struct probe_conn *c, int64_t now);
void probe_proxy_finish(struct probe_conn *c);
/* The facts of every step through the proxy. */
void probe_proxy_facts(struct probe_ctx *p);
/* For --dry-run: what the probe would do, one line per name. */
void probe_proxy_plan_print(const struct probe_cfg *cfg);

#endif
