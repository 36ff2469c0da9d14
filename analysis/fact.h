/* fact.h: a probe fact as data.  The prober learns what the wire cannot
 * carry (a connect() errno, OpenSSL's chain verification, the HTTP answer
 * of a step through a proxy, the push check's steps); each thing it learns
 * is one struct an_fact: a kind and typed fields, every field bounded, no
 * secret among them (no key holds a password or a token; proxy URLs are
 * the shown form with *** for the credentials).
 *
 * One table (fact.c) names the kinds and, for each kind, its keys with
 * their type and bounds.  The prober (probe/) fills facts through it and
 * hands them to its engine in memory; a pcapng section comment is one
 * serialisation of a fact, the line
 *
 *     acrdiag-fact: fact=KIND key=value key=value ...
 *
 * with values percent-encoded (any byte outside [A-Za-z0-9._:/@,+*[]-]
 * becomes %HH), and analyze turns the comments of a file back into the
 * same structs through the same table.  A line without the prefix is no
 * fact; a line whose kind the table does not name is kept as
 * AN_FK_UNKNOWN (it counts towards AN_MAX_FACTS and decides nothing); a key
 * the kind does not have is ignored; a key given twice counts once (the
 * first).  */
#ifndef ACRDIAG_FACT_H
#define ACRDIAG_FACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/limits.h"

#define AN_FACT_PREFIX "acrdiag-fact: "
/* Facts an engine keeps (a probe writes fewer; a file's comments beyond
 * this many are ignored).  */
#define AN_MAX_FACTS 128
/* A fact's serialised line, prefix and terminating NUL included: a pcapng
 * comment holds as much (the writer cuts a value rather than the line).  */
#define AN_FACT_LINE LIM_FILE_COMMENT
/* The ports of the probe's differential steps to a registry address, as
 * their facts name them: one a web front end usually answers on, and one
 * it usually does not (closed: RST, filtered: silence).  The registry's own
 * port is the analysis's --port (443).  */
#define AN_FACT_PORT_OTHER 80
#define AN_FACT_PORT_UNUSED 8080
/* The most keys of one kind (the push check's steps have 28). */
#define AN_FACT_MAX_FIELDS 32

enum an_fact_kind {
    AN_FK_UNKNOWN,          /* a fact line of a kind this version does not know */
    AN_FK_RUN,              /* the run: first name, capture, ICMP socket, timeout */
    AN_FK_DNS,              /* a name's lookup by one resolver */
    AN_FK_TTL,              /* TTL-limited SYNs to one address and port */
    AN_FK_CONNECT,          /* a step's TCP connect() */
    AN_FK_TLS,              /* a step's TLS handshake */
    AN_FK_HTTP,             /* the registry step's GET /v2/ */
    AN_FK_ECHO,             /* ICMP echo of a registry address */
    AN_FK_CONTROL,          /* a --control destination */
    AN_FK_LOCAL,            /* this host's own addresses */
    AN_FK_PUSH,             /* one step of the push check */
    AN_FK_PUSHCHECK,        /* the push check as a whole */
    AN_FK_PROXY_SETTING,    /* one proxy setting as read */
    AN_FK_PROXY_ROUTE,      /* which setting sends a name which way */
    AN_FK_PROXY_DIFFER,     /* a name the daemon and the shell send different ways */
    AN_FK_PROXY_CONNECT,    /* the CONNECT through an explicit proxy */
    AN_FK_PROXY_TLS,        /* TLS through the proxy's tunnel */
    AN_FK_PROXY_HTTP,       /* GET /v2/ through the tunnel */
    AN_FK_COUNT
};

enum an_fact_type {
    AN_FT_STR,              /* text, cut at the field's bound */
    AN_FT_INT,              /* a decimal number */
    AN_FT_FLAG              /* 0 or 1 */
};

/* Every key name, once. */
enum an_fact_key {
    AN_K_ADDR, AN_K_ADDRS, AN_K_ANSWER, AN_K_API_VERSION, AN_K_BEARER, AN_K_BODY_BYTES, AN_K_BODY_CUT,
    AN_K_CANCELLED, AN_K_CAPTURE, AN_K_CHAIN, AN_K_CODE, AN_K_CONTENT_TYPE, AN_K_CORRELATION, AN_K_CREDS,
    AN_K_CLIENT_IP, AN_K_DAEMON, AN_K_DAEMON_WHY, AN_K_DETAIL, AN_K_ECHO_REPLIES, AN_K_ECHO_REQUESTS, AN_K_ENDPOINT,
    AN_K_FIRST_ANSWER_TTL, AN_K_GIVEN, AN_K_GRANTS_PUSH, AN_K_HOST, AN_K_ICMP, AN_K_ISSUER_CN, AN_K_ISSUER_O,
    AN_K_LOCAL, AN_K_LOCATION, AN_K_MAX_TTL, AN_K_MESSAGE, AN_K_METHOD, AN_K_MS, AN_K_NAME, AN_K_NOTE,
    AN_K_NO_PROXY, AN_K_ORIGIN, AN_K_PATCH, AN_K_PATCH_BYTES, AN_K_PATH, AN_K_PORT, AN_K_PROBED, AN_K_PROBLEM,
    AN_K_PROXY, AN_K_PROXY_AUTHENTICATE, AN_K_PROXY_HOST, AN_K_REALM, AN_K_REASON, AN_K_REGISTRY_ADDRESS,
    AN_K_REGISTRY_HEADERS, AN_K_RELATIVE, AN_K_REPLIES, AN_K_REPO, AN_K_REQUESTS, AN_K_RESOLVED, AN_K_RESOLVER,
    AN_K_RESULT, AN_K_SERVER, AN_K_SHELL, AN_K_SHELL_WHY, AN_K_SNI, AN_K_SOURCE, AN_K_STATUS, AN_K_STEP,
    AN_K_SUBJECT_CN, AN_K_TIMEOUT_MS, AN_K_TLS, AN_K_UPPERCASE, AN_K_USABLE, AN_K_VALUE, AN_K_VERIFY,
    AN_K_VERIFY_ERROR, AN_K_VERSION, AN_K_VIA, AN_K_WAITED_MS, AN_K_WHY,
    AN_K_COUNT
};

/* The table (fact.c).  A key has one name and one type; each kind lists
 * the keys it has, each with the bounds of its value.  */
struct an_fact_keydef {
    const char *name;
    enum an_fact_type type;
};
struct an_fact_field {
    enum an_fact_key key;
    /* STR: the characters kept (the analysis's reading buffer less one);
     * a longer value is cut, when written and when read alike.  */
    uint16_t max;
    /* STR: the bytes its percent-encoded form may take on the line, as
     * the prober always cut it (0: only the line's own bound).  */
    uint16_t wire;
};
struct an_fact_kinddef {
    const char *name;                       /* the value of fact= */
    unsigned n_fields;
    const struct an_fact_field *fields;
};
extern const struct an_fact_keydef an_fact_keys[AN_K_COUNT];
extern const struct an_fact_kinddef an_fact_kinds[AN_FK_COUNT];

/* The bytes of decoded text one fact can hold: at most its line, plus a
 * terminator per field.  */
#define AN_FACT_TEXT (AN_FACT_LINE + AN_FACT_MAX_FIELDS)

struct an_fact {
    enum an_fact_kind kind;
    uint32_t has;                           /* bit i: the kind's field i is present */
    uint32_t num_ok;                        /* bit i: an INT or FLAG field read as a number */
    uint16_t line_len;                      /* its serialised length so far */
    uint16_t used;                          /* bytes of text[] in use */
    uint8_t n_order;
    uint8_t order[AN_FACT_MAX_FIELDS];      /* field indexes in the order set (or read) */
    long num[AN_FACT_MAX_FIELDS];           /* INT and FLAG fields */
    uint16_t at[AN_FACT_MAX_FIELDS];        /* STR fields: where in text[] */
    char text[AN_FACT_TEXT];                /* STR values, decoded, each terminated */
};

/* ---- writing (the prober) ---------------------------------------------------- */

/* An empty fact of `kind` (not AN_FK_UNKNOWN). */
void an_fact_init(struct an_fact *f, enum an_fact_kind kind);
/* Sets a STR key (NULL: ""): control and other non-printable bytes become
 * '?', the value is cut at its bounds and at the room left on the line
 * (a key that does not fit at all is left out).  The line names the keys
 * in the order they were set; setting a key twice, or one the kind does
 * not have, is a programming error (abort).  */
void an_fact_set(struct an_fact *f, enum an_fact_key k, const char *value);
/* Sets an INT or FLAG key. */
void an_fact_set_num(struct an_fact *f, enum an_fact_key k, long v);
/* The comment line (with the prefix) into out; returns its length, or 0
 * when out is too small (AN_FACT_LINE always suffices).  */
size_t an_fact_format(const struct an_fact *f, char *out, size_t len);

/* ---- reading (the analysis) --------------------------------------------------- */

/* One comment line to a fact; false when the line has no fact prefix.
 * At most AN_FACT_LINE - 1 bytes of it are read.  */
bool an_fact_parse(const char *line, struct an_fact *f);
bool an_fact_has(const struct an_fact *f, enum an_fact_key k);
/* A STR key's value, "" when absent. */
const char *an_fact_str(const struct an_fact *f, enum an_fact_key k);
/* The value equals s (false when absent). */
bool an_fact_eq(const struct an_fact *f, enum an_fact_key k, const char *s);
/* Copies a STR key's value into out (cut to fit; "" when absent); true
 * when the key is present.  */
bool an_fact_copy(const struct an_fact *f, enum an_fact_key k, char *out, size_t len);
/* An INT or FLAG key's value; dflt when absent or not a number. */
long an_fact_num(const struct an_fact *f, enum an_fact_key k, long dflt);
/* A FLAG key is 1. */
bool an_fact_flag(const struct an_fact *f, enum an_fact_key k);
/* The first of facts[0..n) of `kind` whose endpoint is `endpoint` and, when
 * step is not NULL, whose step is `step`; NULL when none is.  */
const struct an_fact *an_fact_find(const struct an_fact *const *facts, size_t n, enum an_fact_kind kind,
                                   const char *endpoint, const char *step);

#endif
