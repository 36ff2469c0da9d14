#!/usr/bin/env python3
"""registry-answer.py: a TLS server answering every request as the registry
does in one failure, for recording decryptable captures with a key log.
  registry-answer.py ADDR PORT CERT KEY MODE
MODE: denied (403 DENIED naming the client's address), throttled (429
TOOMANYREQUESTS), disallowed (405 UNSUPPORTED, operation is disallowed),
challenge (401 with the Bearer challenge).  HTTP/1.1 only.
"""
import http.server
import json
import ssl
import sys

MODES = {
    "denied": (403, "Forbidden", "DENIED", "client with IP '{ip}' is not allowed access. Refer https://aka.ms/acr/firewall to grant access."),
    "throttled": (429, "Too Many Requests", "TOOMANYREQUESTS", "too many requests"),
    "disallowed": (405, "Method Not Allowed", "UNSUPPORTED", "The operation is disallowed on this registry, repository or image."),
    "challenge": (401, "Unauthorized", "UNAUTHORIZED", "authentication required"),
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "denied"

    def answer(self):
        status, reason, code, msg = MODES[self.mode]
        body = json.dumps({"errors": [{"code": code, "message": msg.format(ip=self.client_address[0]),
                                       "detail": None}]}).encode() + b"\n"
        self.send_response(status, reason)
        self.send_header("Server", "AzureContainerRegistry")
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        self.send_header("X-Ms-Correlation-Request-Id", "6f1b2a8e-1a2b-4c3d-9e8f-0123456789ab")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="https://labreg.azurecr.io/oauth2/token",service="labreg.azurecr.io"')
        if status == 429:
            self.send_header("Retry-After", "10")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, *args):
        pass


def main():
    addr, port, cert, key, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    Handler.mode = mode
    srv = http.server.ThreadingHTTPServer((addr, port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
