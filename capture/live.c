/* live.c: live packets through libpcap, handed out as capture records. */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "source.h"

/* DLT_RAW is 12 on Linux while the file format calls raw IP 101. */
#define DLT_RAW_LINUX 12

struct cap_live {
    pcap_t *p;
    uint32_t linktype;
    uint64_t next_frame;
    bool nano;
};

bool cap_live_buffer_parse(const char *s, size_t *bytes)
{
    char *end;
    errno = 0;
    unsigned long long kib = strtoull(s, &end, 10);
    /* strtoull takes a sign: "-1" would be its largest value. */
    if (*s < '0' || *s > '9' || *end || errno || kib < CAP_LIVE_BUFFER_KIB_MIN || kib > CAP_LIVE_BUFFER_KIB_MAX)
        return false;
    *bytes = (size_t)kib << 10;
    return true;
}

struct cap_live *cap_live_open(const struct cap_live_opts *o, char *errbuf, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    const char *iface = o->iface;
    struct cap_live *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    l->next_frame = 1;
    l->p = pcap_create(iface ? iface : "any", perr);
    if (!l->p) {
        snprintf(errbuf, errlen, "%s", perr);
        free(l);
        return NULL;
    }
    /* The kernel's ring holds buffer/snaplen packets in immediate mode
     * (TPACKET_V2 frames are sized by the snap length when the interface
     * has offloads on: 32 MiB hold about 500); buffered mode's blocks hold
     * them back to back.  A whole IP packet fits 65535 bytes (a cut packet
     * is reported as cut).  */
    pcap_set_snaplen(l->p, 65535);
    pcap_set_promisc(l->p, 0);
    size_t buffer = o->buffer_bytes;
    if (!buffer)
        buffer = o->buffered ? CAP_LIVE_BUFFER_BUFFERED : CAP_LIVE_BUFFER_IMMEDIATE;
    pcap_set_buffer_size(l->p, (int)buffer);
    if (o->buffered)
        pcap_set_timeout(l->p, CAP_LIVE_TIMEOUT_MS);
    else
        pcap_set_immediate_mode(l->p, 1);
    l->nano = pcap_set_tstamp_precision(l->p, PCAP_TSTAMP_PRECISION_NANO) == 0;
    int rc = pcap_activate(l->p);
    if (rc < 0) {
        snprintf(errbuf, errlen, "%s: %s", iface ? iface : "any", pcap_geterr(l->p));
        goto fail;
    }
    if (o->bpf) {
        struct bpf_program prog;
        if (pcap_compile(l->p, &prog, o->bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            snprintf(errbuf, errlen, "capture filter: %s", pcap_geterr(l->p));
            goto fail;
        }
        rc = pcap_setfilter(l->p, &prog);
        pcap_freecode(&prog);
        if (rc != 0) {
            snprintf(errbuf, errlen, "capture filter: %s", pcap_geterr(l->p));
            goto fail;
        }
    }
    if (pcap_setnonblock(l->p, 1, perr) != 0) {
        snprintf(errbuf, errlen, "%s", perr);
        goto fail;
    }
    int dlt = pcap_datalink(l->p);
    l->linktype = dlt == DLT_RAW_LINUX ? CAP_LT_RAW : (uint32_t)dlt;
    return l;
fail:
    pcap_close(l->p);
    free(l);
    return NULL;
}

int cap_live_fd(const struct cap_live *l)
{
    return pcap_get_selectable_fd(l->p);
}

static int cap_live_next(struct cap_live *l, struct cap_record *rec, char *errbuf, size_t errlen)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(l->p, &h, &data);
    if (rc == 0)
        return 0;
    if (rc < 0) {
        snprintf(errbuf, errlen, "capture: %s", rc == PCAP_ERROR ? pcap_geterr(l->p) : "ended");
        return -1;
    }
    rec->frame = l->next_frame++;
    rec->ts_ns = (int64_t)h->ts.tv_sec * 1000000000LL + (int64_t)h->ts.tv_usec * (l->nano ? 1 : 1000);
    rec->linktype = l->linktype;
    rec->caplen = h->caplen;
    rec->wirelen = h->len < h->caplen ? h->caplen : h->len;
    rec->data = data;
    return 1;
}

static uint64_t cap_live_dropped(struct cap_live *l)
{
    struct pcap_stat st;
    if (pcap_stats(l->p, &st) != 0)
        return 0;
    /* ps_ifdrop is the interface's own drop counter (on Linux, rx_dropped
     * from /proc/net/dev, which counts unknown protocols too): not ours.  */
    return st.ps_drop;
}

void cap_live_close(struct cap_live *l)
{
    if (!l)
        return;
    pcap_close(l->p);
    free(l);
}

/* ---- as a record source (source.h) ---------------------------------------- */

static enum cap_source_status live_source_next(void *impl, struct cap_record *rec, char *errbuf, size_t errlen)
{
    int rc = cap_live_next(impl, rec, errbuf, errlen);
    return rc == 1 ? CAP_SOURCE_RECORD : rc == 0 ? CAP_SOURCE_IDLE : CAP_SOURCE_ERROR;
}

static int live_source_fd(const void *impl)
{
    return cap_live_fd(impl);
}

static void live_source_stats(void *impl, struct cap_source_stats *out)
{
    struct cap_live *l = impl;
    *out = (struct cap_source_stats){ .records = l->next_frame - 1, .dropped = cap_live_dropped(l) };
}

static void live_source_close(void *impl)
{
    cap_live_close(impl);
}

struct cap_source cap_live_source(struct cap_live *l)
{
    static const struct cap_source_ops ops = {
        live_source_next, live_source_fd, live_source_stats, live_source_close,
    };
    return (struct cap_source){ .ops = &ops, .impl = l };
}
