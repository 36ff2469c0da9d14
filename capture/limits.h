/* limits.h: every bound that hostile input could otherwise grow, in one place. */
#ifndef ACRDIAG_LIMITS_H
#define ACRDIAG_LIMITS_H

/* Largest packet record accepted from a capture file.  libpcap's own cap
 * (MAXIMUM_SNAPLEN) is 262144; a larger record header is corrupt.  */
#define LIM_MAX_RECORD 262144u

/* Largest pcapng block; big enough for a max-size packet plus options.  */
#define LIM_MAX_BLOCK (LIM_MAX_RECORD + 65536u)

/* Compressed captures (gzip, zstd, xz) are decompressed as they are read.
 * Real captures shrink 2 to 50 times (timestamps, sequence numbers and
 * payloads differ from packet to packet); a stream that gives more than
 * LIM_INFLATE_RATIO bytes per compressed byte, once past LIM_INFLATE_FREE
 * bytes, is a decompression bomb (zeros in zstd or xz give 10^4 to 10^6)
 * and ends the file as damaged.  gzip cannot pass about 1032:1 anyway.  */
#define LIM_INFLATE_RATIO 1024u
#define LIM_INFLATE_FREE (16ull << 20)
/* Largest history window a compressed stream may ask for (2^27 = 128 MiB,
 * zstd's own default limit; xz -9 needs 64 MiB): the xz memory limit and
 * the zstd windowLogMax.  */
#define LIM_INFLATE_WINDOW_LOG 27

/* Interfaces described in one pcapng section; more is a damaged file.  */
#define LIM_MAX_INTERFACES 256u

/* Section comments kept from a pcapng file (the prober's facts travel
 * there), and the bytes kept of each.  */
#define LIM_FILE_COMMENTS 128u
#define LIM_FILE_COMMENT 1024u

/* Nested encapsulations (VLAN tags, IPv6 extension headers) walked before a
 * packet is called invalid; Suricata uses 16 layers.  */
#define LIM_MAX_LAYERS 16u

/* DNS: a name is at most 255 octets (RFC 1035 2.3.4); compression pointers
 * followed per name before giving up (loops).  */
#define LIM_DNS_NAME 256u
#define LIM_DNS_POINTER_HOPS 16u
/* Answer records kept from one DNS message.  */
#define LIM_DNS_ANSWERS 16u

/* TLS: bytes of each direction's stream kept for handshake parsing.  A
 * ClientHello with a post-quantum key share is ~1.8 KB, a certificate chain
 * rarely over 12 KB.  With a key log, the same first bytes are all that is
 * decrypted (the first request and the first answer's head and body start),
 * so a decrypted body of any size, 1 GB included, costs at most this.  */
#define LIM_TLS_STREAM_BYTES 16384u
/* Handshake buffers alive at once across all flows (each about
 * LIM_TLS_STREAM_BYTES); flows beyond it get no TLS facts and the report
 * says so.  */
#define LIM_LIVE_STREAMS 2048u
/* Out-of-order segments remembered per direction while reassembling.  */
#define LIM_SEGMENTS 48u
/* Alerts recorded per direction.  */
#define LIM_TLS_ALERTS 4u
/* Certificate name fields kept (subject, issuer, each SAN).  */
#define LIM_CERT_NAME 256u
#define LIM_CERT_SANS 8u

/* Flow table: flows tracked at once (about 1.6 KB each).  When full, the
 * least recently active flow is folded into its endpoint's results and
 * freed; the report says so (flow_table_full).  */
#define LIM_FLOWS 32768u
/* A closed flow (RST, or FIN both ways) stays this long after its last
 * packet, in capture time, for late retransmissions and data after a RST
 * (2 MSL, TCP's TIME-WAIT), unless room is needed: then the oldest closed
 * flow is folded first.  Any flow idle longer than LIM_IDLE_NS is folded
 * too: longer than the largest gap between retransmitted SYNs (64 s on
 * Linux).  */
#define LIM_CLOSED_LINGER_NS (60LL * 1000000000LL)
#define LIM_IDLE_NS (120LL * 1000000000LL)
/* Frames remembered per flow for each kind of evidence (SYNs, RSTs, ...);
 * past it the last slot keeps the latest, so first and last are known.  */
#define LIM_FRAMES_PER_KIND 4u
/* Flows holding TLS facts at once (about 3.4 KB per direction); flows
 * beyond it get none and are not judged on TLS.  */
#define LIM_LIVE_TLS 8192u
/* Zeek-style history string length kept per flow.  */
#define LIM_HISTORY 16u

/* Endpoints (server address and port) reported.  */
#define LIM_ENDPOINTS 1024u
/* DNS answers remembered to name endpoints.  */
#define LIM_DNS_NAMES 4096u

/* Key logs: secrets kept (a busy client's SSLKEYLOGFILE over days holds a
 * few thousand connections) and the longest line read (a label, 64 hex
 * digits of client random, 96 of secret).  */
#define LIM_KEYLOG_ENTRIES 65536u
#define LIM_KEYLOG_LINE 512u
/* --keylog: bytes read of the file (about 300,000 lines). */
#define LIM_KEYLOG_FILE (64u << 20)
/* A key log written into a capture (probe -w, watch -w -- COMMAND): the
 * room of its Decryption Secrets Block, about 1,000 TLS 1.3 connections. */
#define LIM_WRITER_SECRETS (1u << 20)

/* HTTP: response header bytes examined, and body bytes examined.  */
#define LIM_HTTP_HEAD 16384u
#define LIM_HTTP_BODY 8192u

#endif
