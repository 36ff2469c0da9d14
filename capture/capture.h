/* capture.h: the public interface of capture/: bytes to facts.
 *
 * Readers hand out records; the decoder turns one record into a host-order
 * packet summary (struct cap_pkt); the protocol parsers (DNS, TLS, HTTP) turn
 * payload bytes into small fact structs.  Nothing in here keeps a pointer
 * into a record after the call that received it returns, except
 * cap_pkt.payload, which is valid until the next record is read.  */
#ifndef ACRDIAG_CAPTURE_H
#define ACRDIAG_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "limits.h"

/* ---- capture records (pcapfile.c) ---------------------------------------- */

/* Link types we decode (LINKTYPE_* values from tcpdump.org/linktypes.html). */
enum {
    CAP_LT_NULL = 0,      /* BSD loopback, host-order 4-byte family */
    CAP_LT_ETHERNET = 1,
    CAP_LT_RAW = 101,     /* raw IPv4 or IPv6 */
    CAP_LT_LOOP = 108,    /* OpenBSD loopback, network-order family */
    CAP_LT_LINUX_SLL = 113,
    CAP_LT_IPV4 = 228,
    CAP_LT_IPV6 = 229,
    CAP_LT_LINUX_SLL2 = 276,
};

struct cap_record {
    uint64_t frame;         /* 1-based, counted across all files read */
    int64_t ts_ns;          /* nanoseconds since the epoch */
    uint32_t linktype;
    uint32_t caplen;        /* bytes present in data */
    uint32_t wirelen;       /* bytes the packet had on the wire */
    const uint8_t *data;    /* valid until the next cap_file_next() */
};

struct cap_file;

/* Opens a pcap or pcapng file (format told by the magic number, not the
 * name).  Returns NULL and fills errbuf with one line on failure.  */
struct cap_file *cap_file_open(const char *path, char *errbuf, size_t errlen);

/* Next packet record.  Returns 1 with *rec filled, 0 at a clean end of file,
 * -1 on a damaged file (errbuf says what; records before it stay valid).  */
int cap_file_next(struct cap_file *f, struct cap_record *rec, char *errbuf, size_t errlen);

/* Frame number the next record will get: lets several files be numbered as
 * one stream (ring buffers read in order).  */
void cap_file_set_next_frame(struct cap_file *f, uint64_t frame);

/* The pcapng section comments read so far (all of them once the file has
 * been read to its end), NUL-terminated, owned by f.  */
unsigned cap_file_comments(const struct cap_file *f, const char *const **out);

/* Bytes of the source consumed so far (compressed bytes for a compressed
 * file), to tell how far a reader has come in it.  */
uint64_t cap_file_position(const struct cap_file *f);

void cap_file_close(struct cap_file *f);

/* Secrets of pcapng Decryption Secrets Blocks (a TLS key log) are added to
 * k as they are read (NULL: ignored).  */
struct cap_keylog;
void cap_file_set_keylog(struct cap_file *f, struct cap_keylog *k);

/* ---- packet summaries (decode.c) ----------------------------------------- */

struct cap_addr {
    uint8_t family;         /* 4 or 6; 0 when absent */
    uint8_t a[16];          /* IPv4 in the first 4 bytes */
};

enum cap_status {
    CAP_OK = 0,
    CAP_TRUNCATED,          /* the capture ran out before the headers did */
    CAP_INVALID,            /* fields contradict each other */
    CAP_UNSUPPORTED,        /* a link type or protocol we do not decode */
};

/* IP protocol numbers (IANA "Assigned Internet Protocol Numbers") of
 * cap_pkt.proto and cap_icmp_err.q_proto.  */
enum {
    CAP_IPPROTO_ICMP = 1,
    CAP_IPPROTO_TCP = 6,
    CAP_IPPROTO_UDP = 17,
    CAP_IPPROTO_ICMPV6 = 58,
};

/* TCP flags as on the wire (RFC 9293 3.1). */
enum {
    CAP_TH_FIN = 0x01, CAP_TH_SYN = 0x02, CAP_TH_RST = 0x04,
    CAP_TH_PSH = 0x08, CAP_TH_ACK = 0x10, CAP_TH_URG = 0x20,
};

/* Anomaly bits recorded while decoding (named events, as Suricata does). */
enum {
    CAP_ANOM_TCP_OPT_INVALID_LEN = 1u << 0,
    CAP_ANOM_TCP_RST_WITH_DATA = 1u << 1,
    CAP_ANOM_IP_BAD_LENGTH = 1u << 2,
    CAP_ANOM_IP_FRAGMENT = 1u << 3,    /* not the first fragment, or MF set */
    CAP_ANOM_TOO_MANY_LAYERS = 1u << 4,
    CAP_ANOM_ICMP_QUOTE_SHORT = 1u << 5,
};

/* What an ICMP/ICMPv6 error quoted of the packet that caused it. */
struct cap_icmp_err {
    bool present;
    uint8_t type, code;     /* as on the wire (ICMPv4 or ICMPv6 numbering) */
    uint16_t next_mtu;      /* frag-needed / packet-too-big, else 0 */
    uint8_t q_proto;        /* quoted IP protocol */
    struct cap_addr q_src, q_dst;
    uint16_t q_sport, q_dport;  /* when the quote reaches them */
    bool q_ports_valid;
    uint32_t q_seq;             /* quoted TCP sequence number */
    bool q_seq_valid;
    uint8_t q_ttl;              /* TTL of the quoted packet as it arrived there */
};

struct cap_pkt {
    uint64_t frame;
    int64_t ts_ns;
    uint32_t caplen, wirelen;
    enum cap_status status;
    uint32_t anomalies;
    bool snapped;           /* caplen < wirelen: the capture cut this packet */

    uint8_t ipver;          /* 0: no IP found */
    struct cap_addr src, dst;
    uint8_t ttl;            /* TTL or hop limit */
    uint16_t ip_id;         /* IPv4 only */
    bool df;
    uint8_t proto;          /* final upper-layer protocol: CAP_IPPROTO_* */

    /* TCP / UDP */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t tcp_flags;
    uint16_t window;
    uint16_t mss;           /* 0 when the option is absent */
    int8_t wscale;          /* -1 when absent */
    bool sack_ok, has_ts;

    /* Upper-layer payload: payload_len bytes are present at payload; the
     * IP header says the segment carried payload_wire_len bytes.  */
    const uint8_t *payload;
    uint32_t payload_len;
    uint32_t payload_wire_len;

    /* ICMP / ICMPv6 */
    uint8_t icmp_type, icmp_code;
    uint16_t icmp_echo_id, icmp_echo_seq;   /* echo request/reply */
    struct cap_icmp_err icmp_err;
};

/* Decodes one record into *pkt (zeroed first).  Returns pkt->status.  The
 * summary is filled as far as the bytes allow even when truncated.  */
enum cap_status cap_decode(const struct cap_record *rec, struct cap_pkt *pkt);

/* Formats an address for people ("198.18.0.1", "2001:db8::1").  */
void cap_addr_str(const struct cap_addr *a, char *buf, size_t len);
/* Inline: the flow table and the engine compare addresses on every packet. */
static inline bool cap_addr_eq(const struct cap_addr *x, const struct cap_addr *y)
{
    uint32_t x4, y4;
    if (x->family != y->family)
        return false;
    if (x->family == 6)
        return memcmp(x->a, y->a, 16) == 0;
    if (x->family != 4)
        return true;
    memcpy(&x4, x->a, 4);
    memcpy(&y4, y->a, 4);
    return x4 == y4;
}
/* Parses a numeric IPv4/IPv6 address; false when it is not one.  */
bool cap_addr_parse(const char *s, struct cap_addr *out);

/* ---- safe strings (strsafe.c) ------------------------------------------- */

/* Copies srclen wire bytes into dst as printable ASCII: control bytes, DEL,
 * bytes >= 0x80 and the backslash become \xHH.  dst is always terminated
 * (when dstlen > 0); output that does not fit is dropped at a character
 * boundary, never mid-escape.  */
void cap_safe_copy(char *dst, size_t dstlen, const uint8_t *src, size_t srclen);

/* ---- DNS (dns.c) --------------------------------------------------------- */

enum { CAP_DNS_A = 1, CAP_DNS_CNAME = 5, CAP_DNS_AAAA = 28 };

struct cap_dns_rr {
    char name[LIM_DNS_NAME];
    uint16_t type;
    uint32_t ttl;
    char target[LIM_DNS_NAME];      /* CNAME */
    struct cap_addr addr;           /* A / AAAA */
};

struct cap_dns_msg {
    uint16_t id;
    bool is_response;
    uint8_t rcode;                  /* 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED */
    bool truncated_flag;            /* TC bit */
    char qname[LIM_DNS_NAME];
    uint16_t qtype;
    unsigned n_answers;             /* kept, at most LIM_DNS_ANSWERS */
    unsigned n_answers_wire;        /* ANCOUNT as sent */
    struct cap_dns_rr answers[LIM_DNS_ANSWERS];
};

/* Parses one DNS message (UDP payload, or a TCP message without its length
 * prefix).  Names are lower-cased, bytes outside [a-z0-9-_*] (and a dot
 * inside a label) escaped as \DDD (RFC 1035 5.1); the root is ".".  A name
 * whose escaped form does not fit is cut at an escape boundary.
 * CAP_TRUNCATED: the message ended early, what came before is filled in;
 * CAP_INVALID: a name or record contradicts itself (bad pointer, label type,
 * length).  */
enum cap_status cap_dns_parse(const uint8_t *msg, size_t len, struct cap_dns_msg *out);

/* ---- TLS (tls.c) --------------------------------------------------------- */

/* Protocol versions as on the wire (RFC 8446 4.2.1, RFC 6101 for SSL 3.0). */
#define CAP_SSL_3_0 0x0300
#define CAP_TLS_1_0 0x0301
#define CAP_TLS_1_1 0x0302
#define CAP_TLS_1_2 0x0303
#define CAP_TLS_1_3 0x0304

/* Record content types (RFC 8446 5.1) and the handshake messages read
 * (RFC 8446 4).  */
enum {
    CAP_TLS_CT_CCS = 20, CAP_TLS_CT_ALERT = 21, CAP_TLS_CT_HANDSHAKE = 22, CAP_TLS_CT_APPDATA = 23,
};
enum { CAP_TLS_HS_CLIENT_HELLO = 1, CAP_TLS_HS_SERVER_HELLO = 2, CAP_TLS_HS_CERTIFICATE = 11 };

/* A record header: content type(1), legacy_record_version(2), length(2). */
#define CAP_TLS_RECORD_HEADER 5u

/* Where the record starting at rec ends: its bytes, header included, as its
 * header's length says (unchecked: cap_tls_parse judges it).  With fewer
 * than CAP_TLS_RECORD_HEADER bytes available, the header's own 5, the least
 * the record needs.  */
uint32_t cap_tls_record_len(const uint8_t *rec, size_t avail);

/* An alert sent after this direction's ChangeCipherSpec (or after a TLS 1.3
 * ServerHello), or in a record longer than one alert's 2 bytes, is
 * encrypted: it is counted with encrypted set and level and description 0,
 * because its content cannot be read.  */
struct cap_tls_alert {
    uint8_t level, description;
    bool encrypted;
    uint32_t stream_offset;         /* where the record starts in its direction */
};

struct cap_cert_info {
    bool present;
    bool parsed;                    /* OpenSSL could read the DER */
    char subject_cn[LIM_CERT_NAME];
    char issuer_cn[LIM_CERT_NAME];
    char issuer_o[LIM_CERT_NAME];
    char sans[LIM_CERT_SANS][LIM_CERT_NAME];
    unsigned n_sans;
    bool self_signed;               /* subject name equals issuer name */
    unsigned chain_len;             /* certificates in the message */
};

/* Facts from one direction's reassembled stream prefix. */
struct cap_tls_dir {
    bool is_tls;                    /* first bytes look like a TLS record */
    bool not_tls;                   /* first bytes are something else (e.g. HTTP) */

    bool client_hello;
    uint32_t client_hello_offset;
    char sni[LIM_DNS_NAME];
    bool sni_present;
    uint16_t ch_version;            /* legacy_version */
    uint16_t ch_max_supported;      /* highest of supported_versions, 0 if absent */

    bool hello_retry;               /* a HelloRetryRequest (RFC 8446 4.1.3) */
    uint32_t hello_retry_offset;
    bool server_hello;              /* the real ServerHello, never an HRR */
    uint32_t server_hello_offset;
    uint16_t sh_version;            /* negotiated: supported_versions or legacy */
    uint8_t random[32];             /* the hello's random (RFC 8446 4.1.2, 4.1.3): the
                                     * client's names its secrets in a key log */
    uint16_t cipher_suite;          /* the ServerHello's choice */

    bool certificate;
    uint32_t certificate_offset;

    bool change_cipher_spec;
    unsigned n_alerts;              /* kept, at most LIM_TLS_ALERTS */
    struct cap_tls_alert alerts[LIM_TLS_ALERTS];
    unsigned n_appdata;             /* records of content type 23 seen */
    uint32_t bytes_parsed;          /* stream bytes consumed by whole records */
    bool malformed;                 /* a record or handshake length or type
                                     * contradicted its container; parsing
                                     * stopped there */

    /* Last: cap_tls_parse zeroes the members before it, but of this one
     * only the counts, flags and name terminators (its 2.8 KB are zeroed
     * when a Certificate message is parsed).  */
    struct cap_cert_info cert;      /* leaf certificate */
};

/* Parses TLS records from the start of one direction's stream.  `len` may
 * end mid-record (the rest was not captured or not kept): what is complete
 * is reported.  Certificates are parsed with OpenSSL's d2i_X509.  */
void cap_tls_parse(const uint8_t *stream, size_t len, struct cap_tls_dir *out);

/* ---- HTTP responses (http.c) --------------------------------------------- */

struct cap_http_resp {
    bool complete_head;             /* the header block ended within the input */
    int status;                     /* 0 when no status line */
    char reason[64];
    bool has_docker_api_version;    /* Docker-Distribution-Api-Version */
    bool has_ms_correlation;        /* X-Ms-Correlation-Request-Id */
    bool bearer_challenge;          /* WWW-Authenticate: Bearer realm=... */
    char realm[256];
    char content_type[96];
    char error_code[64];            /* first errors[].code of a JSON body */
    char error_message[256];
    char denied_client_ip[64];      /* from "client with IP '...'" */
    /* What an explicit proxy's reply to CONNECT carries (RFC 9110 11.7.1,
     * 7.6.3): its authentication challenge scheme, Via and Server.  */
    char proxy_authenticate[64];
    char via[96];
    char server[64];
    uint32_t head_len;              /* bytes of the head, with its empty line, when complete_head */
    bool has_content_length;
    uint64_t content_length;        /* Content-Length (RFC 9110 8.6), when has_content_length */
};

/* Parses an HTTP/1.x response head and the start of its body. */
enum cap_status cap_http_parse_response(const uint8_t *buf, size_t len, struct cap_http_resp *out);

/* The server's side of an HTTP/2 connection (RFC 9113) from its start:
 * the first response's HEADERS (HPACK through nghttp2's inflater, every
 * header block inflated in order) and up to LIM_HTTP_BODY bytes of its
 * DATA, filled as cap_http_parse_response fills an HTTP/1.x one (head_len
 * stays 0).  CAP_OK once its :status is read; CAP_TRUNCATED when the frames
 * end first; CAP_INVALID when it is not HTTP/2 or HPACK fails.  */
bool cap_http2_server_start(const uint8_t *buf, size_t len);
enum cap_status cap_http2_parse_response(const uint8_t *buf, size_t len, struct cap_http_resp *out);

/* The client's first request, HTTP/1.x request line or HTTP/2 (after the
 * connection preface, the first HEADERS block's :method and :path), as
 * "METHOD target" in safe ASCII (the target cut at 96 bytes).  */
bool cap_http_request_line(const uint8_t *buf, size_t len, char *out, size_t outlen);

/* An explicit proxy's CONNECT request (RFC 9110 9.3.6): "CONNECT host:port
 * HTTP/1.x", header fields, an empty line.  */
struct cap_http_connect {
    char host[LIM_DNS_NAME];        /* lower-cased, unsafe bytes escaped */
    uint16_t port;
    uint32_t head_len;              /* bytes of the head, with its empty line */
};

/* True when buf (len bytes, possibly fewer than 8) could be the start of a
 * CONNECT request: the cheap test before any parsing.  */
bool cap_http_is_connect(const uint8_t *buf, size_t len);
/* Parses a CONNECT request head within LIM_HTTP_HEAD bytes.  CAP_OK with
 * *out filled; CAP_TRUNCATED when the head has not ended yet (more bytes
 * may complete it); CAP_INVALID when it is not a CONNECT head or has not
 * ended within LIM_HTTP_HEAD bytes.  */
enum cap_status cap_http_parse_connect(const uint8_t *buf, size_t len, struct cap_http_connect *out);

/* ---- key logs (keylog.c) and decryption (decrypt.c) ---------------------- */

/* The secrets of an NSS key log (SSLKEYLOGFILE) we use. */
enum cap_secret {
    CAP_SECRET_MASTER,              /* CLIENT_RANDOM: TLS 1.2 master secret */
    CAP_SECRET_CLIENT_APP,          /* CLIENT_TRAFFIC_SECRET_0 */
    CAP_SECRET_SERVER_APP,          /* SERVER_TRAFFIC_SECRET_0 */
    CAP_SECRET_CLIENT_HS,           /* CLIENT_HANDSHAKE_TRAFFIC_SECRET */
    CAP_SECRET_SERVER_HS,           /* SERVER_HANDSHAKE_TRAFFIC_SECRET */
};
#define CAP_SECRET_MAX 48u

struct cap_keylog;
struct cap_keylog *cap_keylog_new(void);
/* Adds the secrets of a key log's text (any number of lines; a last line
 * without its newline counts).  Returns how many were added; other lines
 * are counted by cap_keylog_skipped.  */
size_t cap_keylog_add(struct cap_keylog *k, const uint8_t *text, size_t len);
size_t cap_keylog_count(const struct cap_keylog *k);
size_t cap_keylog_skipped(const struct cap_keylog *k);
/* The secret of `kind` for a connection's client random (the latest line
 * when several match) into out (CAP_SECRET_MAX bytes).  */
bool cap_keylog_find(const struct cap_keylog *k, const uint8_t client_random[32], enum cap_secret kind,
                     uint8_t *out, size_t *outlen);
/* Wipes the secrets and frees k (NULL is fine). */
void cap_keylog_free(struct cap_keylog *k);

/* One direction's record protection.  */
struct cap_tls_keys {
    uint16_t suite;
    bool tls13;
    uint8_t key[32];
    size_t key_len;
    uint8_t iv[12];
    size_t iv_len;
    uint64_t seq;                   /* of the next record */
};

enum cap_decrypt {
    CAP_DECRYPT_OK,
    CAP_DECRYPT_BAD_TAG,            /* did not authenticate: wrong key or sequence */
    CAP_DECRYPT_INVALID,            /* not a record these keys can open */
};

/* True for the suites decrypted: TLS 1.3's three, TLS 1.2 AES-GCM and
 * ChaCha20-Poly1305.  */
bool cap_tls_suite_supported(uint16_t suite);
/* TLS 1.3: keys of one traffic secret (RFC 8446 7.3).  */
bool cap_tls13_keys(uint16_t suite, const uint8_t *secret, size_t slen, struct cap_tls_keys *k);
/* TLS 1.2: keys of the client's (server false) or the server's direction. */
bool cap_tls12_keys(uint16_t suite, const uint8_t master[48], const uint8_t client_random[32],
                    const uint8_t server_random[32], bool server, struct cap_tls_keys *k);
void cap_tls_keys_wipe(struct cap_tls_keys *k);
/* Opens one whole record (header included, len bytes) into out (outcap
 * bytes; a record's plaintext is at most 2^14 + 256); *type is the content
 * type (TLS 1.3: the inner one).  The sequence number advances only on
 * CAP_DECRYPT_OK; on failure out holds nothing.  */
enum cap_decrypt cap_tls_decrypt(struct cap_tls_keys *k, const uint8_t *rec, size_t len, uint8_t *out, size_t outcap,
                                 size_t *outlen, uint8_t *type);

/* ---- live capture (live.c) ------------------------------------------------ */

struct cap_live;

/* How a live capture is opened.  Immediate mode (TPACKET_V2) wakes the
 * reader for every few packets: what a prober waiting on its own answers
 * wants.  Buffered mode (TPACKET_V3) hands packets over a block at a time,
 * when a block is full or at the latest CAP_LIVE_TIMEOUT_MS after it was
 * begun: a quarter of the CPU a packet under load (README "Benchmark"),
 * and the last packets come that much later (poll the descriptor that
 * long once more before the end).  */
struct cap_live_opts {
    const char *iface;          /* NULL or "any": every interface (Linux cooked SLL2) */
    const char *bpf;            /* the kernel filter; NULL: everything */
    size_t buffer_bytes;        /* the kernel's ring; 0: the mode's default below */
    bool buffered;
};
#define CAP_LIVE_TIMEOUT_MS 50
#define CAP_LIVE_BUFFER_IMMEDIATE (32u << 20)
#define CAP_LIVE_BUFFER_BUFFERED (64u << 20)
/* The range of -B (KiB, as tcpdump's -B): 1 MiB to 1 GiB.  */
#define CAP_LIVE_BUFFER_KIB_MIN 1024u
#define CAP_LIVE_BUFFER_KIB_MAX (1024u * 1024u)

/* Opens a live capture through libpcap with snap length 65535 (whole IP
 * packets) and the kernel filter `bpf`.  Needs CAP_NET_RAW; open it
 * before dropping privileges.  Its records and the kernel's drops are read
 * through its record source (source.h: cap_live_source; frames numbered
 * from 1).  */
struct cap_live *cap_live_open(const struct cap_live_opts *o, char *errbuf, size_t errlen);
/* -B's value: KiB from CAP_LIVE_BUFFER_KIB_MIN to _MAX into *bytes. */
bool cap_live_buffer_parse(const char *s, size_t *bytes);
/* A descriptor to poll() for readability. */
int cap_live_fd(const struct cap_live *l);
void cap_live_close(struct cap_live *l);

/* ---- capture writer (writer.c) ------------------------------------------- */

struct cap_writer;

/* Starts a pcapng file that appears at `path` only when committed: packets
 * go to a temporary file beside it, mode 0600 (captures are sensitive).  */
struct cap_writer *cap_writer_open(const char *path, char *errbuf, size_t errlen);
/* Appends one packet (an interface block is written per new link type),
 * with an optional comment (NULL for none).  Returns 0 or -1.  */
int cap_writer_packet(struct cap_writer *w, const struct cap_record *rec, const char *comment);
/* Remembers a fact the wire cannot carry (an errno, a verification result,
 * an HTTP status line); notes are written as comments when committing.  */
int cap_writer_note(struct cap_writer *w, const char *note);
/* Reserves a Decryption Secrets Block of `room` bytes (at most
 * LIM_WRITER_SECRETS) for a TLS key log, before any packet: readers apply
 * secrets to the packets after them.  Returns 0 or -1.  */
int cap_writer_reserve_secrets(struct cap_writer *w, size_t room);
/* The NSS key log to fill the reserved block with when the file is done
 * (whole lines that fit; the rest of the room stays blank lines).  Returns
 * the bytes kept; 0 without a reserved block.  The copy is wiped on free. */
size_t cap_writer_secrets(struct cap_writer *w, const char *text, size_t len);
/* Flushes, syncs and renames into place; frees w.  Returns 0 or -1. */
int cap_writer_commit(struct cap_writer *w, char *errbuf, size_t errlen);
/* Removes the temporary file; frees w. */
void cap_writer_abort(struct cap_writer *w);
/* For a process that may not rename (it dropped privileges): writes the
 * notes, flushes, syncs and closes without renaming; frees w.  Its
 * privileged parent, which forked after cap_writer_open, then calls
 * cap_writer_commit on its own copy to put the file in place.  */
int cap_writer_detach(struct cap_writer *w, char *errbuf, size_t errlen);

#endif
