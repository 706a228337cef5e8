"""Verifies JWTs against a JWKS with PyJWT's PyJWKClient at its default settings.

One token per line on stdin; one answer per line on stdout: "ok <sub>" or "fail <reason>".
Standard library and PyJWT only: run it with Debian's /usr/bin/python3.
"""
import sys

import jwt

client = jwt.PyJWKClient(sys.argv[1])  # defaults: JWK set cached 300 s, refetched on an unknown kid

for line in sys.stdin:
    token = line.strip()
    if not token:
        continue
    try:
        key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["ES256", "RS256", "EdDSA"])
        print("ok", claims.get("sub", ""), flush=True)
    except Exception as error:  # every failure is an answer, never a crash
        print("fail", type(error).__name__, str(error).replace("\n", " "), flush=True)
