/* fuzz_decode.c: fuzz harness: one packet record through cap_decode and the
 * engine.  Byte 0 picks the link type (low bits) and whether the capture
 * cut the packet (high bit); the rest is the frame.  */
#include <stdint.h>

#include "analysis/analysis.h"
#include "capture/capture.h"
#include "fuzz_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t linktypes[] = {
    CAP_LT_NULL, CAP_LT_ETHERNET, CAP_LT_RAW, CAP_LT_LOOP, CAP_LT_LINUX_SLL,
    CAP_LT_IPV4, CAP_LT_IPV6, CAP_LT_LINUX_SLL2,
    147,    /* LINKTYPE_USER0: not decoded */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > LIM_MAX_RECORD)
        return 0;
    struct cap_record rec = {
        .frame = 1,
        .ts_ns = 1700000000000000000ll,
        .linktype = linktypes[(data[0] & 0x7f) % (sizeof(linktypes) / sizeof(linktypes[0]))],
        .caplen = (uint32_t)(size - 1),
        .data = data + 1,
    };
    rec.wirelen = rec.caplen + ((data[0] & 0x80) ? 1500u : 0u);
    struct cap_pkt pkt;
    enum cap_status st = cap_decode(&rec, &pkt);
    FUZZ_CHECK(st == pkt.status);
    /* Also set when the IP length claims more than was captured. */
    FUZZ_CHECK(pkt.snapped || rec.caplen == rec.wirelen);
    FUZZ_CHECK(pkt.payload_len == 0 ||
               (pkt.payload >= rec.data && pkt.payload + pkt.payload_len <= rec.data + rec.caplen));
    FUZZ_CHECK(pkt.payload_len <= pkt.payload_wire_len || pkt.status != CAP_OK);
    FUZZ_CHECK(pkt.ipver == 0 || pkt.ipver == 4 || pkt.ipver == 6);

    struct an_options opt = { .port = 443 };
    struct an_engine *e = an_engine_new(&opt);
    FUZZ_CHECK(e != NULL);
    an_engine_packet(e, &pkt, rec.linktype);
    /* The same packet again, as a retransmission would bring it. */
    pkt.frame = 2;
    an_engine_packet(e, &pkt, rec.linktype);
    fuzz_finish_and_write(e);
    return 0;
}
