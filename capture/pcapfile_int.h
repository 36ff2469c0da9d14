/* pcapfile_int.h: inside capture/ only: an open capture file, shared by
 * the classic pcap reader with the public calls (pcapfile.c) and the pcapng
 * reader (pcapng.c); its bytes come through filebuf.h.  */
#ifndef ACRDIAG_PCAPFILE_INT_H
#define ACRDIAG_PCAPFILE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capture.h"
#include "filebuf.h"
#include "rd.h"

/* A pcapng file's first four bytes: a Section Header Block's type. */
#define NG_SHB 0x0A0D0D0Au

#define NS_PER_SEC 1000000000ll

enum cap_format { FMT_PCAP, FMT_PCAPNG };

struct ng_iface {
    uint32_t linktype;
    uint32_t snaplen;
    uint8_t tsresol;            /* raw if_tsresol byte; 6 (microseconds) by default */
    int64_t tsoffset;           /* seconds added to every timestamp */
};

struct cap_file {
    struct file_buf buf;
    enum cap_format fmt;
    bool be;                    /* file (pcap) or current section (pcapng) is big-endian */
    bool failed;                /* a damaged record was seen: every later call fails */
    char err[160];              /* the message of that failure */

    /* pcap */
    bool nsec;
    uint32_t rec_hdr_len;
    uint32_t linktype;
    uint32_t snaplen;

    /* pcapng: interfaces of the current section */
    struct ng_iface ifaces[LIM_MAX_INTERFACES];
    uint32_t n_ifaces;

    char *comments[LIM_FILE_COMMENTS];  /* pcapng section comments, in order */
    unsigned n_comments;
    struct cap_keylog *keylog;  /* where Decryption Secrets Blocks go, or NULL */
    void (*secrets)(void *arg, const uint8_t *text, size_t len);   /* or there, first */
    void *secrets_arg;

    uint64_t records;           /* packet records returned from this file */
    uint64_t next_frame;
};

/* Records a damaged-file error: kept in f->err and copied to errbuf;
 * returns -1.  Inline: both readers call it, and pcapng.c calls nothing
 * else of pcapfile.c.  */
static inline int pcapfile_fail(struct cap_file *f, char *errbuf, size_t errlen, const char *msg)
{
    f->failed = true;
    snprintf(f->err, sizeof f->err, "%s", msg);
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s", f->err);
    return -1;
}

/* The next pcapng packet record: 1, 0 at a clean end, -1 after
 * pcapfile_fail.  */
int pcapng_next(struct cap_file *f, struct cap_record *rec, char *errbuf, size_t errlen);

static inline uint16_t get16(struct rd *r, bool be)
{
    return be ? rd_be16(r) : rd_le16(r);
}

static inline uint32_t get32(struct rd *r, bool be)
{
    return be ? rd_be32(r) : rd_le32(r);
}

#endif
