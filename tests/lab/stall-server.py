#!/usr/bin/env python3
"""stall-server.py PORT: a registry that is too slow.  Accept the TCP connection (the
kernel acknowledges the ClientHello), never answer it, and close only when the client
closes first (its timeout), so the server's FIN merely answers the client's.  Runs inside
acrd_reg behind an nft redirect of the login server's 443; every connection is bounded."""
import socket, sys, threading, time

def handle(c: socket.socket, peer) -> None:
    c.settimeout(1.0)
    n = 0
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            try:
                d = c.recv(16384)
            except socket.timeout:
                continue
            if not d:
                break                               # the client closed first
            n += len(d)
    except OSError:
        pass
    print(f"{time.strftime('%H:%M:%S')} {peer[0]} read {n} bytes, never answered -> close",
          flush=True)
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
