/* packet.h: the one packet builder of the unit tests: a TCP segment
 * between the lab client 198.18.1.2 and the login server 198.19.10.10:443,
 * as the decoder would summarise it.  */
#ifndef ACRDIAG_TEST_PACKET_H
#define ACRDIAG_TEST_PACKET_H

#include <string.h>

#include "capture/capture.h"

static const struct cap_addr test_client = { .family = 4, .a = { 198, 18, 1, 2 } };
static const struct cap_addr test_server = { .family = 4, .a = { 198, 19, 10, 10 } };

/* frame numbers the packet; ts_step_ns apart from frame 0. */
static inline struct cap_pkt test_tcp_segment(uint64_t frame, int64_t ts_step_ns, bool from_client, uint16_t client_port,
                                              uint8_t flags, uint32_t seq, uint32_t ack, const void *payload,
                                              uint32_t len, uint8_t ttl)
{
    struct cap_pkt p;
    memset(&p, 0, sizeof(p));
    p.frame = frame;
    p.ts_ns = (int64_t)frame * ts_step_ns;
    p.ipver = 4;
    p.proto = 6;
    p.src = from_client ? test_client : test_server;
    p.dst = from_client ? test_server : test_client;
    p.sport = from_client ? client_port : 443;
    p.dport = from_client ? 443 : client_port;
    p.tcp_flags = flags;
    p.seq = seq;
    p.ack = ack;
    p.ttl = ttl;
    p.payload = len ? payload : NULL;
    p.payload_len = len;
    p.payload_wire_len = len;
    return p;
}

#endif
