/* reasm.c: each direction's first LIM_TLS_STREAM_BYTES put back in order
 * from its segments, an explicit proxy's heads found before them, and the
 * TLS facts (opened with a key log's secrets when it holds them) taken once
 * they are complete, each cited in the frame that completed it.  */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "reasm.h"

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

/* ---- buffers from the pool ------------------------------------------------ */

/* A handshake buffer; only its bookkeeping is reset, as only bytes
 * recorded in its runs are ever read.  */
static struct cap_stream *stream_get(struct reasm_pool *pool)
{
    struct cap_stream *s = cap_slab_take(&pool->stream_slab);
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

static void stream_put(struct reasm_pool *pool, struct cap_stream *s)
{
    if (s)
        cap_slab_give(&pool->stream_slab, s);
}

/* TLS facts as an empty stream leaves them: cap_tls_parse of no bytes
 * resets what it fills (all but the leaf certificate's 2.8 KB of names,
 * read only when a Certificate message filled them), and the frames are
 * cleared.  Zeroing the whole 3.4 KB of a reused one here was 7.7% of analyze's
 * time.  */
static struct cap_tls_facts *tls_get(struct reasm_pool *pool)
{
    struct cap_tls_facts *f = cap_slab_take(&pool->tls_slab);
    if (f) {
        cap_tls_parse(NULL, 0, &f->tls);
        memset(&f->client_hello, 0, sizeof(*f) - offsetof(struct cap_tls_facts, client_hello));
    }
    return f;
}

static void tls_put(struct reasm_pool *pool, struct cap_tls_facts *f)
{
    if (f)
        cap_slab_give(&pool->tls_slab, f);
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
    for (uint32_t at = s->base; at + CAP_TLS_RECORD_HEADER <= s->filled;) {
        uint32_t end = at + cap_tls_record_len(s->buf + at, s->filled - at);
        bool handshake = s->buf[at] == CAP_TLS_CT_HANDSHAKE;
        for (uint32_t p = at + CAP_TLS_RECORD_HEADER; handshake && p < end && p < s->filled;) {
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
static bool decrypt_wanted(const struct reasm_pool *pool, struct cap_flow *f)
{
    if (f->keys_checked)
        return f->decrypted != NULL;
    const struct cap_tls_facts *c = f->dir[CAP_C2S].tls, *s = f->dir[CAP_S2C].tls;
    if (!pool->keylog || !c || !s || !c->tls.client_hello || !s->tls.server_hello)
        return false;           /* not known yet: asked again */
    f->keys_checked = true;
    uint8_t secret[CAP_SECRET_MAX];
    size_t sl;
    bool t13 = s->tls.sh_version >= CAP_TLS_1_3;
    if (!cap_tls_suite_supported(s->tls.cipher_suite) ||
        !cap_keylog_find(pool->keylog, c->tls.random, t13 ? CAP_SECRET_SERVER_APP : CAP_SECRET_MASTER, secret, &sl))
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
static void decrypt_dir(const struct reasm_pool *pool, struct cap_flow *f, const struct cap_stream *s, int dir)
{
    struct cap_decrypted *dx = f->decrypted;
    const struct cap_tls_dir *c = &f->dir[CAP_C2S].tls->tls, *sv = &f->dir[CAP_S2C].tls->tls;
    bool t13 = sv->sh_version >= CAP_TLS_1_3, server = dir == CAP_S2C;
    struct cap_tls_keys hs, ap;
    uint8_t secret[CAP_SECRET_MAX];
    size_t sl;
    bool have_hs = false, have_ap;
    if (t13) {
        have_hs = cap_keylog_find(pool->keylog, c->random, server ? CAP_SECRET_SERVER_HS : CAP_SECRET_CLIENT_HS, secret,
                                  &sl) &&
                  cap_tls13_keys(sv->cipher_suite, secret, sl, &hs);
        have_ap = cap_keylog_find(pool->keylog, c->random, server ? CAP_SECRET_SERVER_APP : CAP_SECRET_CLIENT_APP, secret,
                                  &sl) &&
                  cap_tls13_keys(sv->cipher_suite, secret, sl, &ap);
    } else {
        have_ap = cap_keylog_find(pool->keylog, c->random, CAP_SECRET_MASTER, secret, &sl) && sl == 48 &&
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
    for (uint32_t at = s->base; have_ap && app && plain && at + CAP_TLS_RECORD_HEADER <= s->filled;) {
        uint32_t rl = cap_tls_record_len(s->buf + at, s->filled - at);
        if (rl > s->filled - at)
            break;                  /* the rest was not captured or not kept */
        const uint8_t *rec = s->buf + at;
        at += rl;
        if (rec[0] == CAP_TLS_CT_CCS) {
            ccs = true;
            continue;
        }
        if (t13 ? rec[0] != CAP_TLS_CT_APPDATA : !ccs)
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
        if (type != CAP_TLS_CT_APPDATA || got >= cap)
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
static void parse_stream(struct reasm_pool *pool, struct cap_flow *f, int dir, bool final)
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
    s->need = at + cap_tls_record_len(s->buf + at, s->filled - at);
    /* In TLS 1.3 a ChangeCipherSpec is a middlebox decoy (RFC 8446 D.4):
     * after a HelloRetryRequest the real ServerHello still follows, and a
     * client offering 1.3 may still send a fatal alert in clear.  */
    bool ccs_ends = tls->change_cipher_spec && !(tls->hello_retry && !tls->server_hello) &&
                    !(tls->client_hello && tls->ch_max_supported >= CAP_TLS_1_3);
    bool done = final || tls->not_tls || tls->n_alerts > 0 || ccs_ends ||
                s->filled >= LIM_TLS_STREAM_BYTES ||
                (tls->server_hello && (tls->sh_version >= CAP_TLS_1_3 || tls->certificate)) ||
                (tls->client_hello && tls->n_appdata > 0);
    /* With the key log's secrets for it, each direction's records are kept
     * to the end of the flow (or of the buffer) and opened then.  */
    bool opened = decrypt_wanted(pool, f);
    if (opened && !final && s->filled < LIM_TLS_STREAM_BYTES)
        done = false;
    if (!done)
        return;
    if (opened)
        decrypt_dir(pool, f, s, dir);
    /* The hellos and the certificate are cited in the frame that completes
     * their record, as Wireshark shows them: wait for it unless the stream
     * ends or is full.  */
    struct cap_ref ch = { 0 }, sh = { 0 }, cert = { 0 };
    bool ch_whole = !tls->client_hello || frame_completing(s, s->base + tls->client_hello_offset, CAP_TLS_HS_CLIENT_HELLO, &ch);
    bool sh_whole = !tls->server_hello || frame_completing(s, s->base + tls->server_hello_offset, CAP_TLS_HS_SERVER_HELLO, &sh);
    bool cert_whole = !tls->certificate || frame_completing(s, s->base + tls->certificate_offset, CAP_TLS_HS_CERTIFICATE, &cert);
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
    stream_put(pool, d->stream);
    d->stream = NULL;
    d->tls_done = true;
}

void reasm_finish(struct reasm_pool *pool, struct cap_flow *f, int dir)
{
    struct cap_flow_dir *d = &f->dir[dir];
    if (d->tls_done)
        return;
    if (d->stream)
        pool->live_streams--;
    parse_stream(pool, f, dir, true);
}

void reasm_segment(struct reasm_pool *pool, struct cap_flow *f, int dir, uint32_t rel, const uint8_t *data,
                   uint32_t len, const struct cap_ref *ref)
{
    struct cap_flow_dir *d = &f->dir[dir];
    if (!d->tls) {
        if (pool->live_streams >= LIM_LIVE_STREAMS || pool->live_tls >= LIM_LIVE_TLS) {
            pool->streams_denied++;
            d->tls_done = true;
            d->tls_missing = true;
            return;
        }
        d->tls = tls_get(pool);
        d->stream = stream_get(pool);
        if (!d->tls || !d->stream) {
            tls_put(pool, d->tls);
            stream_put(pool, d->stream);
            d->tls = NULL;
            d->stream = NULL;
            d->tls_done = true;
            d->tls_missing = true;
            return;
        }
        pool->live_streams++;
        pool->live_tls++;
    }
    bool written = stream_write(d->stream, rel, data, len, ref);
    if (!written && !d->stream->base_known) {
        fold_head_runs(d->stream);
        written = stream_write(d->stream, rel, data, len, ref);
    }
    if (!written)
        parse_stream(pool, f, dir, true);
    else if (d->stream->filled)
        parse_stream(pool, f, dir, false);
    if (!d->stream)
        pool->live_streams--;      /* parse_stream took the facts and freed it */
}

void reasm_release(struct reasm_pool *pool, struct cap_flow *f)
{
    free(f->tunnel);
    f->tunnel = NULL;
    free(f->decrypted);
    f->decrypted = NULL;
    for (int d = 0; d < 2; d++) {
        if (f->dir[d].tls)
            pool->live_tls--;
        tls_put(pool, f->dir[d].tls);
    }
}

bool reasm_pool_init(struct reasm_pool *pool)
{
    return cap_slab_init(&pool->stream_slab, sizeof(struct cap_stream), LIM_LIVE_STREAMS) &&
           cap_slab_init(&pool->tls_slab, sizeof(struct cap_tls_facts), LIM_LIVE_TLS);
}

void reasm_pool_free(struct reasm_pool *pool)
{
    cap_slab_unmap(&pool->stream_slab);
    cap_slab_unmap(&pool->tls_slab);
}
