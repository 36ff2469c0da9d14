/* clientlog.h: the client's own words.  Reads what docker, podman, skopeo,
 * oras or az printed for a push (a saved log, or the output of the command
 * that `watch -- COMMAND` ran), finds the lines that name a known failure,
 * and says whether each agrees with the wire's verdict.  */
#ifndef ACRDIAG_CLIENTLOG_H
#define ACRDIAG_CLIENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "analysis/analysis.h"

/* Bounds: a line longer than LIM_CLIENT_LINE bytes is matched on its first
 * LIM_CLIENT_LINE bytes (the rest is skipped); the text kept of a matched
 * line is at most LIM_CLIENT_TEXT bytes; at most LIM_CLIENT_LOG_BYTES are
 * read (a log beyond that is marked truncated).  One line is kept per kind
 * (the first), the others counted, so the kept lines are at most
 * CL_KIND_COUNT.  */
#define LIM_CLIENT_LINE 4096u
#define LIM_CLIENT_TEXT 320u
#define LIM_CLIENT_LOG_BYTES (64ull << 20)

/* What a line says, in the order lines are tried: a line is of the first
 * kind whose pattern it holds.  */
enum cl_kind {
    CL_OPERATION_DISALLOWED,    /* "The operation is disallowed on this registry, repository or image" */
    CL_REGISTRY_IP_DENIED,      /* "denied: client with IP '…' is not allowed access" */
    CL_REGISTRY_ACCESS_DENIED,  /* "requested access to the resource is denied", insufficient_scope */
    CL_REGISTRY_FORBIDDEN,      /* "invalid status code from registry 403 (Forbidden)" (skopeo, podman) */
    CL_INVALID_CREDENTIALS,     /* "invalid username/password" (skopeo, podman: the token endpoint's 401) */
    CL_UNAUTHORIZED,            /* "unauthorized: authentication required" */
    CL_TOO_MANY_REQUESTS,       /* "toomanyrequests" */
    CL_BLOB_UPLOAD_UNKNOWN,     /* "blob upload unknown" */
    CL_CERTIFICATE_UNKNOWN_AUTHORITY,   /* "x509: certificate signed by unknown authority" */
    CL_PROXY_CONNECT,           /* "proxyconnect tcp" */
    CL_NO_SUCH_HOST,            /* "no such host" */
    CL_TLS_HANDSHAKE_TIMEOUT,   /* "TLS handshake timeout" */
    CL_TIMEOUT,                 /* Client.Timeout, request canceled while waiting for connection,
                                 * i/o timeout, context deadline exceeded */
    CL_CONNECTION_RESET,        /* "connection reset by peer" */
    CL_EOF,                     /* "EOF" as a word */
    CL_KIND_COUNT
};

/* How a client line stands to the wire's verdict. */
enum cl_agreement {
    CL_AGREES,          /* the wire shows the same cause */
    CL_ADDS,            /* the wire saw a working path: the client's line is an answer inside TLS */
    CL_DISAGREES,       /* the wire shows another cause */
    CL_UNDECIDED,       /* the wire has no verdict to compare (incomplete) */
};

struct cl_line {
    enum cl_kind kind;
    unsigned long lineno;           /* 1-based, in the log */
    unsigned long repeats;          /* lines of this kind, this one included */
    char text[LIM_CLIENT_TEXT + 1]; /* raw bytes; writers escape them */
    char client_ip[64];             /* CL_REGISTRY_IP_DENIED: the IP in the line, or "" */
    bool connecting;                /* the line names a connect (dial tcp, lookup): not inside TLS */
    enum cl_agreement agreement;    /* set by cl_compare */
    char explanation[320];          /* set by cl_compare */
};

struct an_client {
    char source[256];               /* the log's name, or the command's name */
    bool from_command;              /* watch -- COMMAND: source is argv[0] */
    bool has_exit;
    int exit_status;                /* the command's, when has_exit (128+N: killed by signal N) */
    bool still_running;             /* the watch stopped first (--duration, a signal) */
    unsigned long lines_read;
    unsigned long long bytes_read;
    bool truncated;                 /* more than LIM_CLIENT_LOG_BYTES */
    struct cl_line lines[CL_KIND_COUNT];    /* in the order first seen */
    unsigned n_lines;
    /* The verdict the client's words decided, or AN_VERDICT_COUNT when the
     * wire's stands (cl_apply).  */
    enum an_verdict decided;
    /* Partial line across cl_feed calls. */
    char pending[LIM_CLIENT_LINE + 1];
    size_t n_pending;
    bool skipping;                  /* the rest of an overlong line */
};

void cl_init(struct an_client *c, const char *source, bool from_command);
/* Feeds bytes of the log; lines end at \n or \r (progress bars). */
void cl_feed(struct an_client *c, const char *buf, size_t n);
/* Ends the log (a last line without a newline counts). */
void cl_end(struct an_client *c);
/* Reads a whole file; false with errno set when it cannot be read. */
bool cl_read_file(struct an_client *c, const char *path);

/* The stable snake_case name of a kind and of an agreement (JSON). */
const char *cl_kind_name(enum cl_kind k);
const char *cl_agreement_name(enum cl_agreement a);

/* Compares every kept line with the report's verdict, and, when the wire
 * shows no network fault (ok or incomplete), lets the client's words decide
 * the verdicts that only the registry's answer inside TLS shows:
 * registry_denied (detail client_ip), registry_write_disabled,
 * registry_error (429).  The deciding line becomes evidence without a
 * frame on the login server's endpoint (rule client_log), and the summary
 * says the verdict comes from the client's log.  Sets r->client = c.  */
void cl_apply(struct an_client *c, struct an_report *r);

#endif
