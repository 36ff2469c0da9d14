#!/usr/bin/env python3
"""gen_capture.py: writes the resource-bound test captures as a pcap stream.

  gen_capture.py syn-flows N OUT     N SYN-only flows to 198.18.0.1:443, each
                                     from its own client address and port
  gen_capture.py tls-bytes N OUT     one TLS 1.2 flow to 198.18.0.1:443: the
                                     handshake, N bytes of application data
                                     from the client in 16 KB records over
                                     1448-byte segments, then FIN both ways

OUT may be a FIFO: the file is written strictly in order, never sought.
Ethernet link type, microsecond timestamps, standard library only."""
import struct
import sys

MSS = 1448
SERVER = bytes([198, 18, 0, 1])
CLIENT = bytes([10, 1, 0, 2])
MAC = b'\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00'


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


class Writer:
    def __init__(self, path):
        self.f = open(path, 'wb', buffering=1 << 20)
        self.f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))
        self.us = 1_700_000_000 * 1_000_000

    def tcp(self, src, dst, sport, dport, seq, ack, flags, payload=b'', ttl=64, mss=0):
        opts = struct.pack('!BBH', 2, 4, mss) if mss else b''
        tcp = struct.pack('!HHIIBBHHH', sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                          (5 + len(opts) // 4) << 4, flags, 65535, 0, 0) + opts
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000,
                         ttl, 6, 0, src, dst)
        ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
        frame = MAC + ip + tcp
        n = len(frame) + len(payload)
        self.us += 100
        self.f.write(struct.pack('<IIII', self.us // 1_000_000, self.us % 1_000_000, n, n))
        self.f.write(frame)
        if payload:
            self.f.write(payload)

    def close(self):
        self.f.close()


def syn_flows(n, out):
    w = Writer(out)
    for i in range(n):
        client = bytes([10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff])
        w.tcp(client, SERVER, 10000 + i % 50000, 443, i * 7919, 0, 0x02, mss=1460)
    w.close()


def hs(kind, body):
    return bytes([kind]) + struct.pack('!I', len(body))[1:] + body


def record(ctype, body):
    return bytes([ctype, 3, 3]) + struct.pack('!H', len(body)) + body


def tls_bytes(total, out):
    w = Writer(out)
    c, s = 1000, 5000                       # ISNs
    cp = 40000
    w.tcp(CLIENT, SERVER, cp, 443, c, 0, 0x02, mss=1460)
    w.tcp(SERVER, CLIENT, 443, cp, s, c + 1, 0x12, ttl=52, mss=1460)
    w.tcp(CLIENT, SERVER, cp, 443, c + 1, s + 1, 0x10)
    c += 1
    s += 1
    sni = b'myregistry.azurecr.io'
    ext = struct.pack('!HHHBH', 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
    ch = b'\x03\x03' + b'\x11' * 32 + b'\x20' + b'\x55' * 32 + b'\x00\x02\xc0\x2f' + b'\x01\x00' + struct.pack('!H', len(ext)) + ext
    flight = record(22, hs(1, ch))
    w.tcp(CLIENT, SERVER, cp, 443, c, s, 0x18, flight)
    c += len(flight)
    # An abbreviated (resumed) TLS 1.2 handshake, RFC 5246 7.3: the server
    # sends ServerHello, ChangeCipherSpec and Finished, then the client.
    sh = b'\x03\x03' + b'\x22' * 32 + b'\x20' + b'\x55' * 32 + b'\xc0\x2f\x00' + b'\x00\x00'
    flight = record(22, hs(2, sh)) + record(20, b'\x01') + record(22, b'\x33' * 40)
    w.tcp(SERVER, CLIENT, 443, cp, s, c, 0x18, flight, ttl=52)
    s += len(flight)
    flight = record(20, b'\x01') + record(22, b'\x44' * 40)
    w.tcp(CLIENT, SERVER, cp, 443, c, s, 0x18, flight)
    c += len(flight)
    # Application data: 16 KB records, cut into MSS-sized segments.
    rec = record(23, b'\xab' * 16384)
    stream = rec * 2                        # any MSS-sized window of the record stream
    sent = 0
    pos = 0
    segs = 0
    while sent < total:
        n = min(MSS, total - sent)
        chunk = stream[pos:pos + n]
        pos = (pos + n) % len(rec)
        w.tcp(CLIENT, SERVER, cp, 443, c, s, 0x10, chunk)
        c += n
        sent += n
        segs += 1
        if segs % 32 == 0:
            w.tcp(SERVER, CLIENT, 443, cp, s, c, 0x10, ttl=52)
    reply = record(23, b'\xcd' * 200)     # the registry's answer
    w.tcp(SERVER, CLIENT, 443, cp, s, c, 0x18, reply, ttl=52)
    s += len(reply)
    w.tcp(CLIENT, SERVER, cp, 443, c, s, 0x11)
    w.tcp(SERVER, CLIENT, 443, cp, s, c + 1, 0x11, ttl=52)
    w.tcp(CLIENT, SERVER, cp, 443, c + 1, s + 1, 0x10)
    w.close()


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ('syn-flows', 'tls-bytes'):
        sys.exit(__doc__)
    n = int(sys.argv[2])
    (syn_flows if sys.argv[1] == 'syn-flows' else tls_bytes)(n, sys.argv[3])


if __name__ == '__main__':
    main()
