#!/usr/bin/env python3
"""sni-closer.py PORT: what an Azure Firewall application rule does to a denied HTTPS
connection.  Accept the TCP connection (so the middlebox, not the server, completes the
handshake), read the ClientHello, log its SNI, then close with a FIN and no TLS alert.
Runs inside acrd_mbox behind an nft redirect; every connection is bounded in time."""
import socket, sys, threading, time

def sni_of(hello: bytes) -> str:
    try:
        p = 5 + 4 + 2 + 32                      # record hdr, handshake hdr, version, random
        p += 1 + hello[p]                         # session id
        p += 2 + int.from_bytes(hello[p:p+2], "big")   # cipher suites
        p += 1 + hello[p]                         # compression
        end = p + 2 + int.from_bytes(hello[p:p+2], "big"); p += 2
        while p + 4 <= end:
            t = int.from_bytes(hello[p:p+2], "big"); n = int.from_bytes(hello[p+2:p+4], "big")
            if t == 0:
                return hello[p+9:p+4+n].decode("ascii", "replace")
            p += 4 + n
    except (IndexError, ValueError):
        pass
    return "-"

def handle(c: socket.socket, peer) -> None:
    c.settimeout(3.0)
    buf = b""
    try:
        while len(buf) < 5 or len(buf) < 5 + int.from_bytes(buf[3:5], "big"):
            d = c.recv(16384)
            if not d:
                break
            buf += d
            if len(buf) > 65536:
                break
    except OSError:
        pass
    print(f"{time.strftime('%H:%M:%S')} {peer[0]} sni={sni_of(buf)} bytes={len(buf)} -> close",
          flush=True)
    try:
        c.shutdown(socket.SHUT_WR)               # FIN, no alert
        c.settimeout(1.0)
        while c.recv(4096):                      # drain so close() does not turn into RST
            pass
    except OSError:
        pass
    c.close()

def main() -> None:
    port = int(sys.argv[1])
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(64)
    while True:
        c, peer = s.accept()
        threading.Thread(target=handle, args=(c, peer), daemon=True).start()

if __name__ == "__main__":
    main()
