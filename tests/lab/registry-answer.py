#!/usr/bin/env python3
"""registry-answer.py: a TLS server answering every request as the registry
does in one failure, for recording decryptable captures with a key log.
  registry-answer.py ADDR PORT CERT KEY MODE
MODE: denied (403 DENIED naming the client's address), throttled (429
TOOMANYREQUESTS), disallowed (405 UNSUPPORTED, operation is disallowed),
challenge (401 with the Bearer challenge).  HTTP/1.1 only.

  registry-answer.py token PORT GRANT
The lab's token endpoint (/oauth2/token behind the lab's nginx, plain HTTP
on 127.0.0.1:PORT): the one lab user (labuser / labpass, or the ACR refresh
token user 00000000-0000-0000-0000-000000000000 with lab-refresh-token, by
Basic auth or a POST grant_type=refresh_token) gets a JWT whose "access"
claim grants the scope asked (GRANT push) or only pull of it (GRANT pull),
as ACR's does; any other credentials get ACR's 401.  Bad answers, for the
push check's bounds (lab scenario push_bad_answers, where nginx sends these
paths here): a token asked for repository htmltoken is an HTML page; the
upload of repository bigbody is a 500 with a 10 MB body; the upload of
repository elsewhere is a 202 whose Location is on a host outside Azure.
"""
import base64
import http.server
import json
import ssl
import sys
import time
import urllib.parse

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


LAB_USERS = {"labuser": "labpass", "00000000-0000-0000-0000-000000000000": "lab-refresh-token"}
REFRESH_TOKEN = "lab-refresh-token"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    grant = "push"

    def reply(self, status, doc):
        body = json.dumps(doc).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def token(self, params, authorized):
        if any(":htmltoken:" in sc for sc in params.get("scope", [])):
            body = b"<html><body><h1>Sign in to continue</h1></body></html>\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if not authorized:
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message":
                              "authentication required, visit https://aka.ms/acr/authorization for more information."}]})
        access = []
        for scope in params.get("scope", []):
            parts = scope.split(":")
            if len(parts) == 3 and parts[0] == "repository":
                asked = parts[2].split(",")
                given = [a for a in asked if a == "pull" or self.grant == "push"]
                access.append({"type": "repository", "name": parts[1], "actions": given})
        now = int(time.time())
        claims = {"iss": "labreg.azurecr.io", "aud": "labreg.azurecr.io", "iat": now, "exp": now + 3600,
                  "access": access}
        jwt = ".".join([b64url(b'{"alg":"none","typ":"JWT"}'), b64url(json.dumps(claims).encode()), b64url(b"lab")])
        self.reply(200, {"access_token": jwt, "refresh_token": REFRESH_TOKEN})

    def basic_ok(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Basic "):
            return False
        try:
            user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
        except ValueError:
            return False
        return LAB_USERS.get(user) == pw

    def bad_upload(self):
        if self.path.startswith("/v2/bigbody/"):
            chunk = b'{"errors":[{"code":"UNKNOWN","message":"' + b"x" * 65000 + b'"}]}\n'
            n = 10 * 1024 * 1024 // len(chunk)
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(n * len(chunk)))
            self.end_headers()
            try:
                for _ in range(n):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return True
        if self.path.startswith("/v2/elsewhere/"):
            self.send_response(202 if self.command == "POST" else 404)
            self.send_header("Location", "https://uploads.elsewhere.example/v2/elsewhere/blobs/uploads/x")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        return False

    def do_DELETE(self):
        self.bad_upload()

    def do_GET(self):
        if self.bad_upload():
            return
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        self.token(params, self.basic_ok())

    def do_POST(self):
        if self.bad_upload():
            return
        n = min(int(self.headers.get("Content-Length") or 0), 65536)
        params = urllib.parse.parse_qs(self.rfile.read(n).decode(errors="replace"))
        ok = self.basic_ok() or (params.get("grant_type") == ["refresh_token"] and
                                 params.get("refresh_token") == [REFRESH_TOKEN])
        self.token(params, ok)

    def log_message(self, *args):
        pass


def main():
    if sys.argv[1] == "token":
        TokenHandler.grant = sys.argv[3]
        http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), TokenHandler).serve_forever()
        return
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
