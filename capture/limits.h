/* limits.h: every bound that hostile input could otherwise grow, in one place. */
#ifndef ACRDIAG_LIMITS_H
#define ACRDIAG_LIMITS_H

/* Largest packet record accepted from a capture file.  libpcap's own cap
 * (MAXIMUM_SNAPLEN) is 262144; a larger record header is corrupt.  */
#define LIM_MAX_RECORD 262144u

/* Largest pcapng block; big enough for a max-size packet plus options.  */
#define LIM_MAX_BLOCK (LIM_MAX_RECORD + 65536u)

/* Interfaces described in one pcapng section; more is a damaged file.  */
#define LIM_MAX_INTERFACES 256u

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
 * rarely over 12 KB.  */
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

/* Flow table: flows tracked at once.  When full, the oldest flow is folded
 * into its endpoint's results and freed; the report says so.  */
#define LIM_FLOWS 65536u
/* Frames remembered per flow for each kind of evidence (SYNs, RSTs, ...).  */
#define LIM_FRAMES_PER_KIND 8u
/* Zeek-style history string length kept per flow.  */
#define LIM_HISTORY 16u

/* Endpoints (server address and port) reported.  */
#define LIM_ENDPOINTS 1024u
/* DNS answers remembered to name endpoints.  */
#define LIM_DNS_NAMES 4096u

/* HTTP: response header bytes examined, and body bytes examined.  */
#define LIM_HTTP_HEAD 16384u
#define LIM_HTTP_BODY 8192u

#endif
