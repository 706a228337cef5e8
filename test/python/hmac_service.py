"""A service that knows nothing about keyrotor: it signs HS256 JWTs with the key file `current`
in its key directory, reloads that file on SIGHUP, and verifies tokens with any v{n}.key file
still there. Debian's /usr/bin/python3, standard library only.

    hmac_service.py KEY_DIR KEY_NAME PORT   (prints "listening" once it serves)
"""
import base64
import hashlib
import hmac
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

KEY_DIR, KEY_NAME, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
loaded = {"kid": None, "key": None}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def current_kid():
    try:
        target = os.readlink(os.path.join(KEY_DIR, "current"))
    except OSError:
        return None, None
    return f"{KEY_NAME}.{target.split('.')[0]}", target


def reload(*_):
    kid, target = current_kid()
    if kid is None:
        loaded.update(kid=None, key=None)
        return
    with open(os.path.join(KEY_DIR, target), "rb") as f:
        loaded.update(kid=kid, key=f.read())


def sign(claims):
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": loaded["kid"]}).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(loaded["key"], f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(mac)}"


def verify(token):
    header, body, mac = token.split(".")
    kid = json.loads(unb64(header))["kid"]
    version = kid[len(KEY_NAME) + 1 :]
    with open(os.path.join(KEY_DIR, f"{version}.key"), "rb") as f:
        key = f.read()
    expected = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(expected, unb64(mac))


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/health":
            # healthy once the key it signs with is the one `current` points at
            healthy = loaded["kid"] == current_kid()[0] and not os.path.exists(os.path.join(KEY_DIR, "..", "broken"))
            return self.answer(200 if healthy else 503, loaded["kid"] or "none")
        if url.path == "/sign":
            if loaded["key"] is None:
                return self.answer(503, "no key")
            return self.answer(200, sign({"sub": query.get("sub", [""])[0]}))
        if url.path == "/verify":
            try:
                ok = verify(query["token"][0])
            except Exception as error:
                return self.answer(401, f"{type(error).__name__}: {error}")
            return self.answer(200 if ok else 401, "ok" if ok else "bad signature")
        self.answer(404, "not found")


signal.signal(signal.SIGHUP, reload)
reload()
server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print("listening", flush=True)
server.serve_forever()
