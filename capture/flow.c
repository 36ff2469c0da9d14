/* flow.c: TCP flow table and per-flow facts, built from packet summaries. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "capture.h"

/* Bytes of one direction written so far, as (start, end) runs with the
 * frame that delivered them, so a TLS message offset maps back to a frame.
 * The first copy of a byte wins, as most TCP stacks keep it.  */
struct cap_stream {
    uint8_t buf[LIM_TLS_STREAM_BYTES];
    uint32_t filled;                /* contiguous bytes from offset 0 */
    uint32_t need;                  /* bytes the next parse needs: the end of
                                       the first incomplete TLS record */
    uint32_t base;                  /* where TLS starts: after a CONNECT head
                                       (client) or the proxy's reply head */
    bool base_known;
    uint32_t scanned;               /* bytes searched for a head's end so far */
    unsigned n_runs;
    struct {
        uint32_t start, end;
        struct cap_ref ref;
    } runs[LIM_SEGMENTS];
};

/* No slot: the end of a hash chain or of an activity list. */
#define NIL UINT32_MAX
/* Hash buckets: twice LIM_FLOWS, a power of two so a mask picks one. */
#define FLOW_BUCKETS (LIM_FLOWS * 2u)

/* The table's bookkeeping for one flow slot, kept apart from the flows (24
 * bytes against 1.7 KB) because it is what every packet walks: a lookup
 * compares hashes here and reads a flow only when its hash matches, and an
 * LRU move relinks neighbours here without touching their flows.  */
struct flow_node {
    int64_t last_ts;            /* capture time of the flow's last packet */
    uint32_t hash;              /* key_hash() of the flow */
    uint32_t chain;             /* next slot in the same bucket */
    uint32_t prev, next;        /* activity list neighbours */
};

/* Slots in order of last activity; head: least recently active. */
struct flow_list {
    uint32_t head, tail;
};

struct cap_flow_table {
    /* LIM_FLOWS slots allocated once (pages are only touched when used)
     * instead of a calloc and free per flow; a released slot is reused
     * first, while its cache lines are still warm from the release.  */
    struct cap_flow *flows;
    struct flow_node *nodes;
    uint32_t *buckets;          /* FLOW_BUCKETS chain heads */
    uint32_t *free_slots;       /* released slots, a stack */
    size_t n_free;
    size_t n_used;              /* slots handed out at least once */
    size_t n_flows;
    uint64_t evicted;
    size_t live_streams, live_tls;
    /* Handshake buffers and TLS facts given back, reused before any new
     * allocation (a malloc and free of each per flow was 9% of analyze).
     * At most LIM_LIVE_STREAMS and LIM_LIVE_TLS exist at once, so the
     * stacks never overflow.  */
    struct cap_stream *spare_streams[LIM_LIVE_STREAMS];
    size_t n_spare_streams;
    struct cap_tls_facts *spare_tls[LIM_LIVE_TLS];
    size_t n_spare_tls;
    uint64_t streams_denied;
    uint64_t seed;
    struct flow_list open, closed;
    const struct cap_keylog *keylog;
    cap_flow_done_fn done;
    void *ctx;
};

/* ---- small helpers -------------------------------------------------------- */

unsigned cap_hop_distance(uint8_t ttl)
{
    /* Initial TTLs in use are 32, 64, 128 and 255 (p0f fp_tcp.c guess_dist). */
    if (ttl <= 32)
        return 32u - ttl;
    if (ttl <= 64)
        return 64u - ttl;
    if (ttl <= 128)
        return 128u - ttl;
    return 255u - ttl;
}

const char *cap_stage_name(enum cap_stage s)
{
    switch (s) {
    case CAP_STAGE_SYN_SENT: return "SYN_SENT";
    case CAP_STAGE_SYNACK_RCVD: return "SYNACK_RCVD";
    case CAP_STAGE_ESTABLISHED: return "ESTABLISHED";
    case CAP_STAGE_CLIENT_DATA: return "CLIENT_DATA";
    case CAP_STAGE_SERVER_DATA: return "SERVER_DATA";
    case CAP_STAGE_MIDSTREAM: return "MIDSTREAM";
    }
    return "?";
}

enum cap_stage cap_flow_stage(const struct cap_flow *f)
{
    if (f->n_syn == 0 && f->n_synack == 0)
        return CAP_STAGE_MIDSTREAM;
    if (f->dir[CAP_S2C].payload_bytes)
        return CAP_STAGE_SERVER_DATA;
    if (f->dir[CAP_C2S].payload_bytes)
        return CAP_STAGE_CLIENT_DATA;
    if (f->hs_ack)
        return CAP_STAGE_ESTABLISHED;
    if (f->n_synack)
        return CAP_STAGE_SYNACK_RCVD;
    return CAP_STAGE_SYN_SENT;
}

/* Zeek's conn_state, from base/protocols/conn/main.zeek's definitions. */
const char *cap_flow_conn_state(const struct cap_flow *f)
{
    bool syn = f->n_syn > 0, synack = f->n_synack > 0;
    bool rst_o = f->dir[CAP_C2S].n_rst > 0, rst_r = f->dir[CAP_S2C].n_rst > 0;
    bool fin_o = f->dir[CAP_C2S].fin, fin_r = f->dir[CAP_S2C].fin;
    bool established = syn && synack;

    if (!syn && !synack)
        return "OTH";
    if (syn && !synack) {
        if (rst_r)
            return "REJ";
        if (rst_o)
            return "RSTOS0";
        if (fin_o)
            return "SH";
        return f->dir[CAP_S2C].pkts ? "OTH" : "S0";
    }
    if (!syn) {
        if (rst_r)
            return "RSTRH";
        if (fin_r)
            return "SHR";
        return "OTH";
    }
    (void)established;
    if (rst_o)
        return "RSTO";
    if (rst_r)
        return "RSTR";
    if (fin_o && fin_r)
        return "SF";
    if (fin_o)
        return "S2";
    if (fin_r)
        return "S3";
    return "S1";
}

/* Records a history letter once per direction: upper case for the client
 * (Zeek's originator), lower case for the server.  */
static void history_add(struct cap_flow *f, int dir, char letter)
{
    static const char letters[] = "SHADFRT";
    const char *at = strchr(letters, letter);
    if (!at)
        return;
    uint16_t bit = (uint16_t)(1u << ((at - letters) + (dir ? 8 : 0)));
    if (f->history_seen & bit)
        return;
    f->history_seen |= bit;
    size_t n = strlen(f->history);
    if (n >= LIM_HISTORY)
        return;
    f->history[n] = dir == CAP_C2S ? letter : (char)(letter - 'A' + 'a');
    f->history[n + 1] = '\0';
}

static struct cap_ref make_ref(const struct cap_pkt *p)
{
    struct cap_ref r = {
        .frame = p->frame, .ts_ns = p->ts_ns, .ttl = p->ttl, .ip_id = p->ip_id,
        .seq = p->seq, .len = p->payload_wire_len, .flags = p->tcp_flags,
        .tcp_ts = p->has_ts, .mss = p->mss,
    };
    return r;
}

static void push_ref(struct cap_ref *arr, unsigned *n, const struct cap_ref *r)
{
    arr[*n < LIM_FRAMES_PER_KIND ? *n : LIM_FRAMES_PER_KIND - 1] = *r;
    if (*n < UINT32_MAX)
        (*n)++;
}

/* ---- hashing -------------------------------------------------------------- */

/* MurmurHash3's 64-bit finalizer: every input bit reaches every output bit. */
static uint64_t fmix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Seeded per run so crafted captures cannot aim every flow at one bucket.
 * Word-wise rather than byte-wise, and only the bytes in use: an IPv4
 * address is one 32-bit word (reading past it into the rest of the array
 * would also stall on the decoder's just-stored bytes).  */
static uint64_t hash_side(uint64_t seed, const struct cap_addr *a, uint16_t port)
{
    if (a->family == 4) {
        uint32_t v4;
        memcpy(&v4, a->a, sizeof(v4));
        return fmix(seed ^ ((uint64_t)port << 32 | v4));
    }
    uint64_t lo, hi;
    memcpy(&lo, a->a, sizeof(lo));
    memcpy(&hi, a->a + sizeof(lo), sizeof(hi));
    return fmix(lo ^ seed) ^ fmix(hi ^ (seed + port + 1));
}

/* The same value for both directions of a flow. */
static uint32_t key_hash(const struct cap_flow_table *t, const struct cap_addr *a, uint16_t ap,
                         const struct cap_addr *b, uint16_t bp)
{
    return (uint32_t)(hash_side(t->seed, a, ap) ^ hash_side(t->seed, b, bp));
}

/* ---- table ---------------------------------------------------------------- */

struct cap_flow_table *cap_flows_new(cap_flow_done_fn done, void *ctx)
{
    struct cap_flow_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->flows = calloc(LIM_FLOWS, sizeof(*t->flows));
    t->nodes = malloc(LIM_FLOWS * sizeof(*t->nodes));
    t->free_slots = malloc(LIM_FLOWS * sizeof(*t->free_slots));
    t->buckets = malloc(FLOW_BUCKETS * sizeof(*t->buckets));
    if (!t->flows || !t->nodes || !t->free_slots || !t->buckets) {
        free(t->flows);
        free(t->nodes);
        free(t->free_slots);
        free(t->buckets);
        free(t);
        return NULL;
    }
    for (size_t b = 0; b < FLOW_BUCKETS; b++)
        t->buckets[b] = NIL;
    t->open.head = t->open.tail = NIL;
    t->closed.head = t->closed.tail = NIL;
    if (getrandom(&t->seed, sizeof(t->seed), 0) != (ssize_t)sizeof(t->seed))
        t->seed = 0xcbf29ce484222325ull;
    t->done = done;
    t->ctx = ctx;
    return t;
}

static struct flow_list *list_of(struct cap_flow_table *t, const struct cap_flow *f)
{
    return f->closed ? &t->closed : &t->open;
}

static uint32_t slot_of(const struct cap_flow_table *t, const struct cap_flow *f)
{
    return (uint32_t)(f - t->flows);
}

static void lru_unlink(struct cap_flow_table *t, struct cap_flow *f)
{
    struct flow_list *l = list_of(t, f);
    struct flow_node *n = &t->nodes[slot_of(t, f)];
    if (n->prev != NIL)
        t->nodes[n->prev].next = n->next;
    else
        l->head = n->next;
    if (n->next != NIL)
        t->nodes[n->next].prev = n->prev;
    else
        l->tail = n->prev;
    n->prev = n->next = NIL;
}

static void lru_append(struct cap_flow_table *t, struct cap_flow *f)
{
    struct flow_list *l = list_of(t, f);
    uint32_t i = slot_of(t, f);
    t->nodes[i].prev = l->tail;
    t->nodes[i].next = NIL;
    if (l->tail != NIL)
        t->nodes[l->tail].next = i;
    else
        l->head = i;
    l->tail = i;
}

static void finish_tls(struct cap_flow_table *t, struct cap_flow *f, int dir);

/* A handshake buffer; only its bookkeeping is reset, as only bytes
 * recorded in its runs are ever read.  */
static struct cap_stream *stream_get(struct cap_flow_table *t)
{
    struct cap_stream *s = t->n_spare_streams ? t->spare_streams[--t->n_spare_streams]
                                              : malloc(sizeof(*s));
    if (s) {
        s->filled = 0;
        s->need = 0;
        s->n_runs = 0;
        s->base = 0;
        s->base_known = false;
        s->scanned = 0;
    }
    return s;
}

static void stream_put(struct cap_flow_table *t, struct cap_stream *s)
{
    if (s && t->n_spare_streams < LIM_LIVE_STREAMS)
        t->spare_streams[t->n_spare_streams++] = s;
    else
        free(s);
}

/* Zeroed TLS facts, as calloc would give them. */
static struct cap_tls_facts *tls_get(struct cap_flow_table *t)
{
    if (!t->n_spare_tls)
        return calloc(1, sizeof(struct cap_tls_facts));
    struct cap_tls_facts *f = t->spare_tls[--t->n_spare_tls];
    memset(f, 0, sizeof(*f));
    return f;
}

static void tls_put(struct cap_flow_table *t, struct cap_tls_facts *f)
{
    if (f && t->n_spare_tls < LIM_LIVE_TLS)
        t->spare_tls[t->n_spare_tls++] = f;
    else
        free(f);
}

static void flow_release(struct cap_flow_table *t, uint32_t i)
{
    struct cap_flow *f = &t->flows[i];
    uint32_t *pp = &t->buckets[t->nodes[i].hash & (FLOW_BUCKETS - 1)];
    while (*pp != NIL && *pp != i)
        pp = &t->nodes[*pp].chain;
    if (*pp != NIL)
        *pp = t->nodes[i].chain;
    lru_unlink(t, f);
    t->n_flows--;
    for (int d = 0; d < 2; d++)
        finish_tls(t, f, d);
    if (t->done)
        t->done(t->ctx, f);
    free(f->tunnel);
    f->tunnel = NULL;
    free(f->decrypted);
    f->decrypted = NULL;
    for (int d = 0; d < 2; d++) {
        if (f->dir[d].tls)
            t->live_tls--;
        tls_put(t, f->dir[d].tls);
    }
    t->free_slots[t->n_free++] = i;
}

/* Folds what is finished: closed flows that lingered, and long-idle ones. */
static void sweep(struct cap_flow_table *t, int64_t now)
{
    while (t->closed.head != NIL && now - t->nodes[t->closed.head].last_ts > LIM_CLOSED_LINGER_NS)
        flow_release(t, t->closed.head);
    while (t->open.head != NIL && now - t->nodes[t->open.head].last_ts > LIM_IDLE_NS)
        flow_release(t, t->open.head);
}

void cap_flows_free(struct cap_flow_table *t)
{
    if (!t)
        return;
    while (t->closed.head != NIL)
        flow_release(t, t->closed.head);
    while (t->open.head != NIL)
        flow_release(t, t->open.head);
    while (t->n_spare_streams)
        free(t->spare_streams[--t->n_spare_streams]);
    while (t->n_spare_tls)
        free(t->spare_tls[--t->n_spare_tls]);
    free(t->flows);
    free(t->nodes);
    free(t->free_slots);
    free(t->buckets);
    free(t);
}

void cap_flows_set_keylog(struct cap_flow_table *t, const struct cap_keylog *k)
{
    t->keylog = k;
}

uint64_t cap_flows_evicted(const struct cap_flow_table *t)
{
    return t->evicted;
}

uint64_t cap_flows_streams_denied(const struct cap_flow_table *t)
{
    return t->streams_denied;
}

/* Finds the flow of (src:sport -> dst:dport) in either direction; *dir is
 * set to the direction of that packet within the flow.  */
static struct cap_flow *lookup(struct cap_flow_table *t, const struct cap_addr *src, uint16_t sport,
                               const struct cap_addr *dst, uint16_t dport, int *dir)
{
    uint32_t h = key_hash(t, src, sport, dst, dport);
    for (uint32_t i = t->buckets[h & (FLOW_BUCKETS - 1)]; i != NIL; i = t->nodes[i].chain) {
        if (t->nodes[i].hash != h)
            continue;
        struct cap_flow *f = &t->flows[i];
        if (f->cport == sport && f->sport == dport && cap_addr_eq(&f->client, src) &&
            cap_addr_eq(&f->server, dst)) {
            *dir = CAP_C2S;
            return f;
        }
        if (f->cport == dport && f->sport == sport && cap_addr_eq(&f->client, dst) &&
            cap_addr_eq(&f->server, src)) {
            *dir = CAP_S2C;
            return f;
        }
    }
    return NULL;
}

/* Decides who is the client of a flow first seen with packet p: the sender
 * of a SYN, the receiver of a SYN-ACK, else the side not on the well-known
 * (lower) port.  Returns the direction of p.  */
static int choose_roles(const struct cap_pkt *p, char *by)
{
    uint8_t fl = p->tcp_flags;
    if ((fl & CAP_TH_SYN) && !(fl & CAP_TH_ACK)) {
        *by = 's';
        return CAP_C2S;
    }
    if ((fl & CAP_TH_SYN) && (fl & CAP_TH_ACK)) {
        *by = 'h';
        return CAP_S2C;
    }
    *by = 'p';
    if (p->dport == 443 || p->dport == 80)
        return CAP_C2S;
    if (p->sport == 443 || p->sport == 80)
        return CAP_S2C;
    if (p->dport != p->sport)
        return p->dport < p->sport ? CAP_C2S : CAP_S2C;
    *by = 'f';
    return CAP_C2S;
}

static struct cap_flow *flow_create(struct cap_flow_table *t, const struct cap_pkt *p, int *dir)
{
    if (t->n_flows >= LIM_FLOWS) {
        t->evicted++;
        flow_release(t, t->closed.head != NIL ? t->closed.head : t->open.head);
    }
    uint32_t i = t->n_free ? t->free_slots[--t->n_free] : (uint32_t)t->n_used++;
    struct cap_flow *f = &t->flows[i];
    memset(f, 0, sizeof(*f));
    *dir = choose_roles(p, &f->client_by);
    if (*dir == CAP_C2S) {
        f->client = p->src;
        f->cport = p->sport;
        f->server = p->dst;
        f->sport = p->dport;
    } else {
        f->client = p->dst;
        f->cport = p->dport;
        f->server = p->src;
        f->sport = p->sport;
    }
    f->first_frame = p->frame;
    f->first_ts = p->ts_ns;
    struct flow_node *n = &t->nodes[i];
    n->last_ts = p->ts_ns;
    n->hash = key_hash(t, &f->client, f->cport, &f->server, f->sport);
    n->chain = t->buckets[n->hash & (FLOW_BUCKETS - 1)];
    t->buckets[n->hash & (FLOW_BUCKETS - 1)] = i;
    lru_append(t, f);
    t->n_flows++;
    return f;
}

/* ---- stream reassembly ---------------------------------------------------- */

static bool run_covering(const struct cap_stream *s, uint32_t off, uint32_t *end)
{
    for (unsigned i = 0; i < s->n_runs; i++) {
        if (s->runs[i].start <= off && off < s->runs[i].end) {
            *end = s->runs[i].end;
            return true;
        }
    }
    return false;
}

/* Copies the bytes of a segment at relative offset rel that are not yet
 * present; returns false when the run list is full.  */
static bool stream_write(struct cap_stream *s, uint32_t rel, const uint8_t *data, uint32_t len,
                         const struct cap_ref *ref)
{
    if (rel >= LIM_TLS_STREAM_BYTES)
        return true;
    uint32_t end = len > LIM_TLS_STREAM_BYTES - rel ? LIM_TLS_STREAM_BYTES : rel + len;
    uint32_t pos = rel;
    while (pos < end) {
        uint32_t covered_end;
        if (run_covering(s, pos, &covered_end)) {
            pos = covered_end < end ? covered_end : end;
            continue;
        }
        uint32_t next = end;
        for (unsigned i = 0; i < s->n_runs; i++)
            if (s->runs[i].start > pos && s->runs[i].start < next)
                next = s->runs[i].start;
        if (s->n_runs >= LIM_SEGMENTS)
            return false;
        memcpy(s->buf + pos, data + (pos - rel), next - pos);
        s->runs[s->n_runs].start = pos;
        s->runs[s->n_runs].end = next;
        s->runs[s->n_runs].ref = *ref;
        s->n_runs++;
        pos = next;
    }
    uint32_t run_end;
    while (s->filled < LIM_TLS_STREAM_BYTES && run_covering(s, s->filled, &run_end))
        s->filled = run_end;
    return true;
}

static struct cap_ref frame_at(const struct cap_stream *s, uint32_t off)
{
    for (unsigned i = 0; i < s->n_runs; i++)
        if (s->runs[i].start <= off && off < s->runs[i].end)
            return s->runs[i].ref;
    struct cap_ref none = { 0 };
    return none;
}

/* The frame that made the stream whole up to `end`: the latest of those
 * that carried its bytes (a segment that arrived out of order is delivered
 * by the one that fills the gap before it, as TCP reassembly does).  */
static struct cap_ref frame_delivering(const struct cap_stream *s, uint32_t end)
{
    struct cap_ref latest = { 0 };
    for (unsigned i = 0; i < s->n_runs; i++)
        if (s->runs[i].start < end && s->runs[i].ref.frame > latest.frame)
            latest = s->runs[i].ref;
    return latest;
}

/* The frame in which Wireshark shows the first handshake message of type
 * hs_type that starts in the record at rec_off: the frame holding the last
 * byte of the record in which that message ends (Wireshark dissects a TLS
 * record once its last segment is in, and a message spread over records
 * with the record that completes it).  The handshake messages are walked
 * from the stream's start (RFC 8446 4: type(1), length(3)).  Returns false
 * when the kept bytes do not hold that record's end yet; *out is then the
 * record's own first frame.  */
static bool frame_completing(const struct cap_stream *s, uint32_t rec_off, uint8_t hs_type, struct cap_ref *out)
{
    uint8_t hdr[4];
    unsigned have = 0;              /* message header bytes seen */
    uint32_t left = 0;              /* body bytes of the current message still to come */
    uint32_t msg_rec = 0;           /* record in which the current message started */
    *out = frame_at(s, rec_off);
    for (uint32_t at = s->base; at + 5 <= s->filled;) {
        const uint8_t *h = s->buf + at;
        uint32_t end = at + 5 + ((uint32_t)h[3] << 8 | h[4]);
        for (uint32_t p = at + 5; h[0] == 22 && p < end && p < s->filled;) {
            if (have < 4) {
                if (have == 0)
                    msg_rec = at;
                hdr[have++] = s->buf[p++];
                if (have < 4)
                    continue;
                left = (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
            } else {
                uint32_t take = end - p < left ? end - p : left;
                p += take;
                left -= take;
            }
            if (left == 0) {        /* the message ends in this record */
                if (hdr[0] == hs_type && msg_rec == rec_off) {
                    if (end > s->filled)
                        return false;
                    *out = frame_delivering(s, end);
                    return true;
                }
                have = 0;
            }
        }
        at = end;
    }
    return false;
}

/* An explicit proxy's heads before the tunnel's TLS (RFC 9110 9.3.6): the
 * client's CONNECT request, then the proxy's reply.  Sets the stream's base
 * past them; returns false while a head is still incomplete (more bytes
 * may end it).  Any other first bytes leave the base at 0.  */
static bool head_ended(struct cap_stream *s)
{
    /* Each byte is searched once (a head in one-byte segments would
     * otherwise be parsed again from its start for every byte).  */
    uint32_t from = s->scanned > 3 ? s->scanned - 3 : 0;
    s->scanned = s->filled;
    return memmem(s->buf + from, s->filled - from, "\n\r\n", 3) || memmem(s->buf + from, s->filled - from, "\n\n", 2);
}

static bool tunnel_head(struct cap_flow *f, int dir, bool final)
{
    struct cap_stream *s = f->dir[dir].stream;
    bool last = final || s->filled >= LIM_TLS_STREAM_BYTES;
    if (dir == CAP_C2S) {
        if (!cap_http_is_connect(s->buf, s->filled)) {
            s->base_known = true;
            return true;
        }
        if (!head_ended(s) && !last) {
            s->need = s->filled + 1;
            return false;
        }
        struct cap_http_connect c;
        enum cap_status st = cap_http_parse_connect(s->buf, s->filled, &c);
        if (st == CAP_TRUNCATED && !last) {
            s->need = s->filled + 1;
            return false;
        }
        s->base_known = true;
        if (st != CAP_OK || f->tunnel || !(f->tunnel = calloc(1, sizeof(*f->tunnel))))
            return true;
        memcpy(f->tunnel->target, c.host, sizeof(f->tunnel->target));
        f->tunnel->target_port = c.port;
        f->tunnel->connect = frame_delivering(s, c.head_len);
        s->base = c.head_len;
        return true;
    }
    if (!f->tunnel || f->tunnel->replied) {
        s->base_known = true;
        return true;
    }
    if (!head_ended(s) && !last) {
        s->need = s->filled + 1;
        return false;
    }
    struct cap_http_resp r;
    enum cap_status st = cap_http_parse_response(s->buf, s->filled, &r);
    if (st == CAP_TRUNCATED && !last) {
        s->need = s->filled + 1;
        return false;
    }
    s->base_known = true;
    if (st != CAP_OK) {
        f->tunnel->reply_bad = st == CAP_INVALID;
        return true;
    }
    struct cap_tunnel *tn = f->tunnel;
    tn->replied = true;
    tn->reply = frame_delivering(s, r.head_len);
    tn->status = r.status;
    memcpy(tn->reason, r.reason, sizeof(tn->reason));
    memcpy(tn->proxy_authenticate, r.proxy_authenticate, sizeof(tn->proxy_authenticate));
    memcpy(tn->via, r.via, sizeof(tn->via));
    memcpy(tn->server, r.server, sizeof(tn->server));
    s->base = r.head_len;
    return true;
}

/* While a proxy's head is incomplete its bytes are cited only by the frame
 * that completes it, so the runs it fills fold into one that keeps the
 * latest frame: a reply in many small segments then fits LIM_SEGMENTS.  */
static void fold_head_runs(struct cap_stream *s)
{
    if (s->base_known || s->filled == 0)
        return;
    struct cap_ref latest = { 0 };
    unsigned k = 0;
    for (unsigned i = 0; i < s->n_runs; i++) {
        if (s->runs[i].end <= s->filled) {
            if (s->runs[i].ref.frame > latest.frame)
                latest = s->runs[i].ref;
        } else {
            s->runs[k++] = s->runs[i];
        }
    }
    s->runs[k].start = 0;
    s->runs[k].end = s->filled;
    s->runs[k].ref = latest;
    s->n_runs = k + 1;
}

/* The server's stream of a flow whose secrets the key log holds is kept
 * to its end and opened then: allocates f->decrypted when it is.  */
static bool decrypt_wanted(const struct cap_flow_table *t, struct cap_flow *f)
{
    if (f->keys_checked)
        return f->decrypted != NULL;
    const struct cap_tls_facts *c = f->dir[CAP_C2S].tls, *s = f->dir[CAP_S2C].tls;
    if (!t->keylog || !c || !s || !c->tls.client_hello || !s->tls.server_hello)
        return false;           /* not known yet: asked again */
    f->keys_checked = true;
    uint8_t secret[CAP_SECRET_MAX];
    size_t sl;
    bool t13 = s->tls.sh_version >= CAP_TLS_1_3;
    if (!cap_tls_suite_supported(s->tls.cipher_suite) ||
        !cap_keylog_find(t->keylog, c->tls.random, t13 ? CAP_SECRET_SERVER_APP : CAP_SECRET_MASTER, secret, &sl))
        return false;
    OPENSSL_cleanse(secret, sizeof(secret));
    f->decrypted = calloc(1, sizeof(*f->decrypted));
    return f->decrypted != NULL;
}

/* Opens the records of one direction kept in s: TLS 1.3 ones (outer type
 * 23) with the handshake secret while they authenticate, then with the
 * traffic secret; TLS 1.2 ones after the ChangeCipherSpec with the keys of
 * the master secret.  The server's application data's first LIM_HTTP_HEAD +
 * LIM_HTTP_BODY bytes are read as an HTTP/1.x or HTTP/2 response, the
 * client's first request line (or HTTP/2 :method and :path) is kept.  */
static void decrypt_dir(const struct cap_flow_table *t, struct cap_flow *f, const struct cap_stream *s, int dir)
{
    struct cap_decrypted *dx = f->decrypted;
    const struct cap_tls_dir *c = &f->dir[CAP_C2S].tls->tls, *sv = &f->dir[CAP_S2C].tls->tls;
    bool t13 = sv->sh_version >= CAP_TLS_1_3, server = dir == CAP_S2C;
    struct cap_tls_keys hs, ap;
    uint8_t secret[CAP_SECRET_MAX];
    size_t sl;
    bool have_hs = false, have_ap;
    if (t13) {
        have_hs = cap_keylog_find(t->keylog, c->random, server ? CAP_SECRET_SERVER_HS : CAP_SECRET_CLIENT_HS, secret,
                                  &sl) &&
                  cap_tls13_keys(sv->cipher_suite, secret, sl, &hs);
        have_ap = cap_keylog_find(t->keylog, c->random, server ? CAP_SECRET_SERVER_APP : CAP_SECRET_CLIENT_APP, secret,
                                  &sl) &&
                  cap_tls13_keys(sv->cipher_suite, secret, sl, &ap);
    } else {
        have_ap = cap_keylog_find(t->keylog, c->random, CAP_SECRET_MASTER, secret, &sl) && sl == 48 &&
                  cap_tls12_keys(sv->cipher_suite, secret, c->random, sv->random, server, &ap);
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    size_t cap = server ? LIM_HTTP_HEAD + LIM_HTTP_BODY : LIM_HTTP_HEAD, got = 0;
    uint8_t *app = malloc(cap), *plain = malloc(LIM_TLS_STREAM_BYTES);
    /* Where each application data record ends in app, and its frame: the
     * answer is cited where Wireshark shows it, in the frame that completes
     * the message (its head and Content-Length bytes of body).  */
    struct {
        size_t end;
        struct cap_ref ref;
    } recs[LIM_SEGMENTS];
    unsigned n_recs = 0;
    bool ccs = false, hs_done = !have_hs;
    for (uint32_t at = s->base; have_ap && app && plain && at + 5 <= s->filled;) {
        uint32_t rl = 5 + ((uint32_t)s->buf[at + 3] << 8 | s->buf[at + 4]);
        if (rl > s->filled - at)
            break;                  /* the rest was not captured or not kept */
        const uint8_t *rec = s->buf + at;
        at += rl;
        if (rec[0] == 20) {
            ccs = true;
            continue;
        }
        if (t13 ? rec[0] != 23 : !ccs)
            continue;
        size_t pl;
        uint8_t type;
        if (!hs_done) {
            if (cap_tls_decrypt(&hs, rec, rl, plain, LIM_TLS_STREAM_BYTES, &pl, &type) == CAP_DECRYPT_OK)
                continue;
            hs_done = true;
        }
        if (cap_tls_decrypt(&ap, rec, rl, plain, LIM_TLS_STREAM_BYTES, &pl, &type) != CAP_DECRYPT_OK) {
            if (server && dx->records_failed++ == 0)
                dx->failed = frame_delivering(s, at);
            continue;
        }
        if (server)
            dx->records_ok++;
        if (type != 23 || got >= cap)
            continue;
        size_t take = pl < cap - got ? pl : cap - got;
        memcpy(app + got, plain, take);
        got += take;
        if (n_recs < LIM_SEGMENTS) {
            recs[n_recs].end = got;
            recs[n_recs].ref = frame_delivering(s, at);
            n_recs++;
        }
    }
    if (server) {
        /* HTTP/2 when the server's first bytes are its SETTINGS preface. */
        enum cap_status hst = !got                                  ? CAP_INVALID
                              : cap_http2_server_start(app, got) ? cap_http2_parse_response(app, got, &dx->resp)
                                                                    : cap_http_parse_response(app, got, &dx->resp);
        if (hst != CAP_INVALID && dx->resp.status) {
            dx->http = true;
            const struct cap_http_resp *rp = &dx->resp;
            size_t end = rp->head_len && rp->has_content_length ? rp->head_len + rp->content_length
                         : rp->head_len                        ? rp->head_len
                                                               : got;
            for (unsigned i = 0; i < n_recs && !dx->http_ref.frame; i++)
                if (recs[i].end >= end || i + 1 == n_recs)
                    dx->http_ref = recs[i].ref;
        }
    } else if (got) {
        cap_http_request_line(app, got, dx->request, sizeof(dx->request));
    }
    if (app)
        OPENSSL_cleanse(app, cap);
    if (plain)
        OPENSSL_cleanse(plain, LIM_TLS_STREAM_BYTES);
    free(app);
    free(plain);
    if (have_hs)
        cap_tls_keys_wipe(&hs);
    if (have_ap)
        cap_tls_keys_wipe(&ap);
}

/* Parses what is contiguous and, when the handshake facts this direction
 * can give are complete, keeps them and frees the buffer.  */
static void parse_stream(struct cap_flow_table *t, struct cap_flow *f, int dir, bool final)
{
    struct cap_flow_dir *d = &f->dir[dir];
    struct cap_stream *s = d->stream;
    if (!s || !d->tls ||
        (!final && (s->filled == 0 || (s->filled < s->need && s->filled < LIM_TLS_STREAM_BYTES))))
        return;
    if (!s->base_known && !tunnel_head(f, dir, final))
        return;
    struct cap_tls_dir *tls = &d->tls->tls;
    if (s->filled > s->base)
        cap_tls_parse(s->buf + s->base, s->filled - s->base, tls);
    /* Parsing again before the next record is complete would find nothing
     * new (RFC 8446 5.1: the record header's last two bytes are its length). */
    uint32_t at = s->base + tls->bytes_parsed;
    if (at + 5 <= s->filled)
        s->need = at + 5 + ((uint32_t)s->buf[at + 3] << 8 | s->buf[at + 4]);
    else
        s->need = at + 5;
    /* In TLS 1.3 a ChangeCipherSpec is a middlebox decoy (RFC 8446 D.4):
     * after a HelloRetryRequest the real ServerHello still follows, and a
     * client offering 1.3 may still send a fatal alert in clear.  */
    bool ccs_ends = tls->change_cipher_spec && !(tls->hello_retry && !tls->server_hello) &&
                    !(tls->client_hello && tls->ch_max_supported >= CAP_TLS_1_3);
    bool done = final || tls->not_tls || tls->n_alerts > 0 || ccs_ends ||
                s->filled >= LIM_TLS_STREAM_BYTES ||
                (tls->server_hello && (tls->sh_version >= 0x0304 || tls->certificate)) ||
                (tls->client_hello && tls->n_appdata > 0);
    /* With the key log's secrets for it, each direction's records are kept
     * to the end of the flow (or of the buffer) and opened then.  */
    bool opened = decrypt_wanted(t, f);
    if (opened && !final && s->filled < LIM_TLS_STREAM_BYTES)
        done = false;
    if (!done)
        return;
    if (opened)
        decrypt_dir(t, f, s, dir);
    /* The hellos and the certificate are cited in the frame that completes
     * their record, as Wireshark shows them: wait for it unless the stream
     * ends or is full.  */
    struct cap_ref ch = { 0 }, sh = { 0 }, cert = { 0 };
    bool ch_whole = !tls->client_hello || frame_completing(s, s->base + tls->client_hello_offset, 1, &ch);
    bool sh_whole = !tls->server_hello || frame_completing(s, s->base + tls->server_hello_offset, 2, &sh);
    bool cert_whole = !tls->certificate || frame_completing(s, s->base + tls->certificate_offset, 11, &cert);
    bool whole = ch_whole && sh_whole && cert_whole;
    if (!whole && !final && s->filled < LIM_TLS_STREAM_BYTES)
        return;
    if (tls->client_hello)
        d->tls->client_hello = ch;
    if (tls->server_hello)
        d->tls->server_hello = sh;
    if (tls->certificate)
        d->tls->certificate = cert;
    for (unsigned i = 0; i < tls->n_alerts && i < LIM_TLS_ALERTS; i++)
        d->tls->alerts[i] = frame_at(s, s->base + tls->alerts[i].stream_offset);
    stream_put(t, d->stream);
    d->stream = NULL;
    d->tls_done = true;
}

static void finish_tls(struct cap_flow_table *t, struct cap_flow *f, int dir)
{
    struct cap_flow_dir *d = &f->dir[dir];
    if (d->tls_done)
        return;
    if (d->stream)
        t->live_streams--;
    parse_stream(t, f, dir, true);
}

/* ---- per-packet update ---------------------------------------------------- */

static bool is_full_size(const struct cap_flow_dir *d, uint32_t len)
{
    return len >= 1000 && (uint64_t)len * 4 >= (uint64_t)d->max_payload * 3;
}

static void track_payload(struct cap_flow_table *t, struct cap_flow *f, int dir,
                          const struct cap_pkt *p)
{
    struct cap_flow_dir *d = &f->dir[dir];
    uint32_t len = p->payload_wire_len;
    struct cap_ref ref = make_ref(p);

    if (!d->seq_set) {
        d->seq_set = true;
        /* The ISN + 1 when the SYN was seen, else this segment. */
        d->seq_base = p->seq;
        if (dir == CAP_C2S && f->n_syn)
            d->seq_base = f->syn[0].seq + 1;
        else if (dir == CAP_S2C && f->n_synack)
            d->seq_base = f->synack[0].seq + 1;
    }
    uint32_t rel = p->seq - d->seq_base;
    if (rel > 0x7fffffffu)      /* before the base: old data */
        rel = 0;
    uint32_t end = rel + len;

    if (len > d->max_payload)
        d->max_payload = len;
    if (d->n_payload < 4)
        d->payload[d->n_payload++] = ref;
    d->last_payload = ref;

    if (rel < d->seq_high) {
        d->retransmits++;
        history_add(f, dir, 'T');
        if (is_full_size(d, len)) {
            if (d->full_retransmits == 0)
                d->first_full_retransmit = ref;
            d->full_retransmits++;
            if (end > d->full_retransmit_end)
                d->full_retransmit_end = end;
        }
        if (d->hole && !d->hole_filled && rel <= d->hole_start && d->hole_start < end)
            d->hole_filled = true;
    } else if (rel > d->seq_high) {
        if (!d->hole) {
            d->hole = true;
            d->hole_start = d->seq_high;
            d->hole_len = rel - d->seq_high;
            d->hole_after = ref;
        } else if (!d->hole_filled) {
            d->small_after_hole++;
        }
    }
    if (end > d->seq_high && end - d->seq_high < 0x7fffffffu)
        d->seq_high = end;

    /* TLS facts only for the first bytes of each direction. */
    if (d->tls_done || rel >= LIM_TLS_STREAM_BYTES)
        return;
    if (p->payload_len < len)
        d->tls_cut = true;      /* the snap length cut handshake bytes */
    if (p->payload_len == 0)
        return;
    if (!d->tls) {
        /* Closed flows hold TLS facts but need them no more than for their
         * verdict: fold the oldest to make room before refusing.  */
        while (t->live_tls >= LIM_LIVE_TLS && t->closed.head != NIL && t->closed.head != slot_of(t, f))
            flow_release(t, t->closed.head);
        if (t->live_streams >= LIM_LIVE_STREAMS || t->live_tls >= LIM_LIVE_TLS) {
            t->streams_denied++;
            d->tls_done = true;
            d->tls_missing = true;
            return;
        }
        d->tls = tls_get(t);
        d->stream = stream_get(t);
        if (!d->tls || !d->stream) {
            tls_put(t, d->tls);
            stream_put(t, d->stream);
            d->tls = NULL;
            d->stream = NULL;
            d->tls_done = true;
            d->tls_missing = true;
            return;
        }
        t->live_streams++;
        t->live_tls++;
    }
    bool written = stream_write(d->stream, rel, p->payload, p->payload_len, &ref);
    if (!written && !d->stream->base_known) {
        fold_head_runs(d->stream);
        written = stream_write(d->stream, rel, p->payload, p->payload_len, &ref);
    }
    if (!written)
        parse_stream(t, f, dir, true);
    else if (d->stream->filled)
        parse_stream(t, f, dir, false);
    if (!d->stream)
        t->live_streams--;      /* parse_stream took the facts and freed it */
}

static void track_ack(struct cap_flow *f, int dir, const struct cap_pkt *p)
{
    struct cap_flow_dir *d = &f->dir[dir];
    const struct cap_flow_dir *peer = &f->dir[!dir];
    if (!(p->tcp_flags & CAP_TH_ACK) || !peer->seq_set)
        return;
    uint32_t rel = p->ack - peer->seq_base;
    if (rel > 0x7fffffffu)
        return;
    if (!d->ack_set || rel > d->ack_high) {
        d->ack_set = true;
        d->ack_high = rel;
    }
}

const struct cap_flow *cap_flows_tcp(struct cap_flow_table *t, const struct cap_pkt *p)
{
    if (p->ipver == 0 || p->proto != 6 || p->status == CAP_INVALID)
        return NULL;
    sweep(t, p->ts_ns);
    int dir;
    struct cap_flow *f = lookup(t, &p->src, p->sport, &p->dst, p->dport, &dir);
    if (!f) {
        f = flow_create(t, p, &dir);
        if (!f)
            return NULL;
    } else {
        lru_unlink(t, f);
        lru_append(t, f);
    }
    struct cap_flow_dir *d = &f->dir[dir];
    uint8_t fl = p->tcp_flags;
    struct cap_ref ref = make_ref(p);

    f->last_frame = p->frame;
    t->nodes[slot_of(t, f)].last_ts = p->ts_ns;
    f->pkts++;
    d->pkts++;
    if (p->snapped || p->status == CAP_TRUNCATED)
        f->snapped = true;
    if (!(fl & CAP_TH_RST)) {
        if (!d->ttl_set || p->ttl < d->ttl_min)
            d->ttl_min = p->ttl;
        if (!d->ttl_set || p->ttl > d->ttl_max)
            d->ttl_max = p->ttl;
        d->ttl_set = true;
        d->ts_pkts += p->has_ts;
    }

    if ((fl & CAP_TH_SYN) && !(fl & CAP_TH_ACK) && dir == CAP_C2S) {
        push_ref(f->syn, &f->n_syn, &ref);
        history_add(f, dir, 'S');
    } else if ((fl & CAP_TH_SYN) && (fl & CAP_TH_ACK) && dir == CAP_S2C) {
        push_ref(f->synack, &f->n_synack, &ref);
        history_add(f, dir, 'H');
    } else if (fl & CAP_TH_SYN) {
        /* A SYN against the roles we chose: simultaneous open or a SYN-ACK
         * from the client side.  Recorded in the history only.  */
        history_add(f, dir, dir == CAP_C2S ? 'H' : 'S');
    }

    if (fl & CAP_TH_RST) {
        if (!f->rst_seen) {
            f->rst_seen = true;
            f->first_rst = ref;
            f->rst_stage = cap_flow_stage(f);
        }
        push_ref(d->rst, &d->n_rst, &ref);
        history_add(f, dir, 'R');
    } else if (f->rst_seen && p->payload_wire_len > 0 && !f->data_after_rst) {
        f->data_after_rst = true;
        f->data_after_rst_ref = ref;
    }

    if (dir == CAP_C2S && !f->hs_ack && f->n_synack && (fl & CAP_TH_ACK) &&
        !(fl & (CAP_TH_SYN | CAP_TH_RST))) {
        f->hs_ack = true;
        f->hs_ack_ref = ref;
        /* An ACK of no SYN-ACK captured here answers one forged on the path. */
        f->hs_ack_unknown = true;
        for (unsigned i = 0; i < f->n_synack && i < LIM_FRAMES_PER_KIND; i++)
            if (p->ack == f->synack[i].seq + 1)
                f->hs_ack_unknown = false;
    }

    if (p->payload_wire_len > 0 && !(fl & CAP_TH_SYN)) {
        d->payload_bytes += p->payload_wire_len;
        history_add(f, dir, 'D');
        track_payload(t, f, dir, p);
    } else if ((fl & (CAP_TH_SYN | CAP_TH_FIN | CAP_TH_RST)) == 0 && (fl & CAP_TH_ACK)) {
        history_add(f, dir, 'A');
    }
    track_ack(f, dir, p);

    if ((fl & CAP_TH_FIN) && !d->fin) {
        d->fin = true;
        d->fin_ref = ref;
        history_add(f, dir, 'F');
    }
    if (!f->closed && (f->rst_seen || (f->dir[CAP_C2S].fin && f->dir[CAP_S2C].fin))) {
        /* The handshake is over for good: take its facts, free the buffers,
         * and let the flow linger on the closed list.  */
        for (int k = 0; k < 2; k++)
            finish_tls(t, f, k);
        lru_unlink(t, f);
        f->closed = true;
        lru_append(t, f);
    }
    return f;
}

const struct cap_flow *cap_flows_icmp(struct cap_flow_table *t, const struct cap_pkt *p)
{
    const struct cap_icmp_err *e = &p->icmp_err;
    if (!e->present || e->q_proto != 6 || !e->q_ports_valid)
        return NULL;
    int dir;
    struct cap_flow *f = lookup(t, &e->q_src, e->q_sport, &e->q_dst, e->q_dport, &dir);
    if (!f)
        return NULL;
    /* Strict matching: the quoted sequence number must be one this side
     * really sent (tcptraceroute capture.c does the same).  */
    if (e->q_seq_valid && dir == CAP_C2S) {
        bool match = false;
        for (unsigned i = 0; i < f->n_syn && i < LIM_FRAMES_PER_KIND; i++)
            match = match || f->syn[i].seq == e->q_seq;
        const struct cap_flow_dir *d = &f->dir[CAP_C2S];
        if (d->seq_set) {
            uint32_t rel = e->q_seq - d->seq_base;
            match = match || rel <= d->seq_high;
        }
        if (!match && (f->n_syn || d->seq_set))
            return NULL;
    }
    struct cap_icmp_ref r = {
        .frame = p->frame, .ts_ns = p->ts_ns, .type = e->type, .code = e->code,
        .v6 = p->ipver == 6, .reporter = p->src, .ttl = p->ttl, .next_mtu = e->next_mtu,
    };
    if (f->n_icmp < LIM_FRAMES_PER_KIND)
        f->icmp[f->n_icmp] = r;
    if (f->n_icmp < UINT32_MAX)
        f->n_icmp++;
    f->last_frame = p->frame;
    t->nodes[slot_of(t, f)].last_ts = p->ts_ns;
    return f;
}
