/* push.h: what the push check's modules share (push.c walks the protocol,
 * http1.c makes one bounded HTTPS exchange, creds.c finds the credentials).
 * Internal to probe/.  */
#ifndef ACRDIAG_PROBE_PUSH_H
#define ACRDIAG_PROBE_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe_int.h"

/* Bounds of one exchange: the head is read whole up to LIM_HTTP_HEAD, the
 * body kept up to PUSH_BODY_KEEP bytes; the rest is counted and dropped,
 * and reading stops for good at PUSH_BODY_MAX (a 10 MB error body costs
 * at most that much reading, then the connection is closed).  */
#define PUSH_BODY_KEEP (64u * 1024u)
#define PUSH_BODY_MAX (1024u * 1024u)
/* The PATCH body: far above any path MTU (64 KiB is ~45 full segments). */
#define PUSH_PATCH_BYTES (64u * 1024u)
#define PUSH_SECRET_MAX 8192u       /* a password, token or identity token */
#define PUSH_USER_MAX 256u
#define PUSH_REPO_MAX 256u
#define PUSH_URL_MAX 2048u

/* Where the credentials came from (said in the report, never the secret). */
enum push_cred_source {
    PC_NONE,                        /* anonymous: the token endpoint decides */
    PC_OPTION,                      /* --username with --password-stdin */
    PC_DOCKER_AUTH,                 /* config.json auths[host].auth */
    PC_DOCKER_IDTOKEN,              /* config.json auths[host].identitytoken */
    PC_HELPER,                      /* docker-credential-<x> get */
    PC_TOKEN_STDIN,                 /* --token-stdin (az acr login --expose-token) */
};

struct push_creds {
    enum push_cred_source source;
    char helper[64];                /* the helper's suffix, for PC_HELPER */
    char user[PUSH_USER_MAX];
    char secret[PUSH_SECRET_MAX];   /* password, or refresh token */
    bool refresh_token;             /* secret is an ACR refresh token (identitytoken) */
    char note[200];                 /* why none were found, or a helper's failure */
    /* The push check's own TLS context, made while privileged (--cacert may
     * be root's): never the probe's, whose handshakes may be logged into
     * the -w file, since these requests carry the credentials.  */
    SSL_CTX *tls;
};

const char *push_cred_source_name(enum push_cred_source s);
/* Reads the secret of --password-stdin or --token-stdin from fd 0 (at most
 * PUSH_SECRET_MAX bytes, one line; a token may be the JSON that
 * `az acr login --expose-token` prints).  False with err filled.  */
bool push_creds_stdin(struct push_creds *c, bool token, char *err, size_t errlen);
/* The invoking user's Docker configuration for `host`: auths, then
 * credHelpers/credsStore run as that user.  Never fails the run: c->note
 * says what was missing.  Call while still privileged.  */
void push_creds_docker(struct push_creds *c, const char *host, double timeout_s);
/* The credentials of --push-check into cfg->creds (allocated): --username
 * with the password on stdin, --token-stdin, else the Docker config.
 * False with err filled when stdin held nothing usable.  */
bool push_creds_load(struct probe_cfg *cfg, const char *username, bool token_stdin, char *err,
                     size_t errlen);
void push_creds_free(struct probe_cfg *cfg);
/* Overwrites the secret (OPENSSL_cleanse). */
void push_creds_wipe(struct push_creds *c);

/* One HTTPS exchange on a fresh connection (Connection: close). */
struct push_http {
    /* outcome of the transport */
    int err;                        /* errno of connect or the socket; 0 */
    bool connected, tls_ok, answered, timed_out, body_cut;
    int proxy_status;               /* through a proxy: its answer to CONNECT, 0 none */
    char tls_detail[128];
    long verify;                    /* X509_V_OK or the error, -1 without TLS */
    /* the answer */
    struct cap_http_resp resp;
    char location[PUSH_URL_MAX];
    char www_authenticate[512];
    char correlation[80];
    char api_version[40];
    char content_type[96];
    uint8_t *body;                  /* PUSH_BODY_KEEP bytes, owned */
    size_t body_len;                /* bytes kept */
    uint64_t body_total;            /* bytes of body read in all */
    int64_t ms;
};

struct push_request {
    const char *method, *host, *path_query;
    const struct cap_addr *addr;    /* the host's, or the explicit proxy's */
    uint16_t port;                  /* 443, or the proxy's */
    const struct proxy_url *proxy;  /* non-NULL: CONNECT host:443 through it first */
    const char *authorization;      /* the whole header value, or NULL */
    const char *content_type;       /* or NULL */
    const uint8_t *body;
    size_t body_len;
    int64_t deadline_ns;
};

/* Makes the exchange; false only when memory ran out.  Pumps the capture
 * while it waits.  */
bool push_http_do(struct probe_ctx *p, const struct push_request *rq, struct push_http *out);
void push_http_free(struct push_http *h);

/* Makes `a` one of the run's targets, so the capture keeps its packets
 * (run.c).  */
void probe_add_push_target(struct probe_ctx *p, const struct cap_addr *a, unsigned name_idx);

/* push.c: the push check, after the other steps (probe_run_steps). */
void probe_push_check(struct probe_ctx *p);

/* push_parse.c */
/* A repository name as the distribution spec allows it (lower case path
 * components separated by '/', at most PUSH_REPO_MAX - 1 bytes).  */
bool push_repo_valid(const char *repo);

struct challenge {
    bool bearer;
    char scheme[16];
    char realm[512], service[256];
};
/* A WWW-Authenticate value (RFC 9110 11.6.1); false when malformed or a
 * Bearer challenge without realm and service.  */
bool push_parse_challenge(const char *v, struct challenge *c);

struct url {
    char host[LIM_DNS_NAME];        /* lower case */
    unsigned port;
    char path[PUSH_URL_MAX];        /* path and query, starting with '/' */
};
/* "https://host[:port]/path?query", or "/path" relative to base_host: NULL
 * when usable, else what is wrong with it.  */
const char *push_parse_url(const char *s, const char *base_host, struct url *u);
/* The hosts the check follows: the probed names, *.azurecr.io and
 * *.blob.core.windows.net.  */
bool push_host_allowed(const char (*names)[LIM_DNS_NAME], unsigned n_names, const char *host);
/* Appends key=value to a form, the value percent-encoded; false when full. */
bool push_form_add(char *dst, size_t len, const char *key, const char *s);
/* Whether a JWT's "access" claim grants push on repo: 1, 0, -1 (not said). */
int push_token_grants_push(const char *token, const char *repo);

#endif
