#!/usr/bin/env python3
"""keyrotor exec provider for HashiCorp Vault / OpenBao Transit, over its HTTP API.

UNTESTED HERE: no Vault or OpenBao server runs in keyrotor's test environment. This is an
example to adapt and test against your own server before you rely on it.

    providers:
      vault: { type: exec, command: ["/opt/keyrotor/vault-transit-hook.py"], timeout: 30s }

Environment (the hook inherits keyrotor's environment minus KEYROTOR_* variables):
    VAULT_ADDR            https://vault.example:8200 (required)
    VAULT_TOKEN           a token allowed the paths below (required)
    VAULT_NAMESPACE       Vault Enterprise / OpenBao namespace (optional)
    VAULT_TRANSIT_MOUNT   the Transit mount (default: transit)
    VAULT_KV_MOUNT        a KV v2 mount where aliases are kept (default: secret)
    VAULT_CACERT          CA bundle for the server's certificate (optional)

Model. One Transit key per keyrotor key, named like it; keyrotor version n is Transit key
version n. create-version n rotates the key when its latest version is n-1 (creates it for n=1).
Transit's states are prefix-based: versions below min_decryption_version are "disabled",
versions below min_available_version (trimmed) are "destroyed". So disabling or destroying
version n also disables or destroys every older version, which is what keyrotor's revoke does
anyway (it revokes the oldest live version). Transit has no aliases: they are KV v2 secrets at
{VAULT_KV_MOUNT}/keyrotor-aliases/{alias} = {"key", "version"}. Key material never leaves
Vault: export-material answers MATERIAL_UNAVAILABLE.

Concurrency: Transit's rotate is not conditional, so two hooks rotating the same key at once
could make two versions. keyrotor runs one rotation per key at a time (a fenced lease), so this
happens only if something else rotates the key; keyrotor's verify then reports the extra version.

Protocol (docs/providers.md): `vault-transit-hook.py OPERATION`, one JSON request on stdin, one
JSON answer on stdout; exit 75 for a temporary failure (throttled, sealed, unreachable), exit 1
with {"error": {code, message}} for a refusal, exit 2 with a message on stderr otherwise.
"""
import base64
import json
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

TRANSIT_TYPES = {
    "aes-256-gcm": "aes256-gcm96",
    "hmac-sha256": "hmac",
    "rsa-2048": "rsa-2048",
    "rsa-3072": "rsa-3072",
    "ec-p256": "ecdsa-p256",
    "ed25519": "ed25519",
}
JOSE = {"aes-256-gcm": "A256GCM", "hmac-sha256": "HS256", "rsa-2048": "RS256",
        "rsa-3072": "RS256", "ec-p256": "ES256", "ed25519": "EdDSA"}


class Refusal(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class TempFail(Exception):
    pass


def vault(method, path, body=None):
    """One Vault API call; None for 404. 429, 5xx and network errors are temporary."""
    url = os.environ["VAULT_ADDR"].rstrip("/") + "/v1/" + path
    headers = {"X-Vault-Token": os.environ["VAULT_TOKEN"], "Content-Type": "application/json"}
    if os.environ.get("VAULT_NAMESPACE"):
        headers["X-Vault-Namespace"] = os.environ["VAULT_NAMESPACE"]
    data = None if body is None else json.dumps(body).encode()
    context = ssl.create_default_context(cafile=os.environ.get("VAULT_CACERT") or None)
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20, context=context) as response:
            text = response.read().decode()
            return json.loads(text) if text else {}
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        detail = error.read().decode(errors="replace")[:300]
        if error.code == 429 or error.code >= 500:
            raise TempFail(f"vault {method} {path}: HTTP {error.code} {detail}")
        raise RuntimeError(f"vault {method} {path}: HTTP {error.code} {detail}")
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise TempFail(f"vault {method} {path}: {error}")


def transit(path):
    return os.environ.get("VAULT_TRANSIT_MOUNT", "transit") + "/" + path


def key_name(req):
    return urllib.parse.quote(req["key"], safe="")


def read_key(req):
    found = vault("GET", transit("keys/" + key_name(req)))
    return None if found is None else found["data"]


def state_of(data, version):
    if data is None or version > data["latest_version"]:
        return None
    if version < data.get("min_available_version", 0):
        return "destroyed"
    if version < data["min_decryption_version"]:
        return "disabled"
    return "enabled"


def version_answer(req, data, version):
    state = state_of(data, version)
    if state is None:
        return None
    return {"version": version, "state": state,
            "providerRef": f"vault-transit:{os.environ.get('VAULT_TRANSIT_MOUNT', 'transit')}/{req['key']}#{version}"}


def need(req):
    data = read_key(req)
    if state_of(data, req["version"]) is None:
        raise Refusal("NOT_FOUND", f"{req['key']}.v{req['version']} does not exist in Transit")
    return data


def create_version(req):
    n = req["version"]
    data = read_key(req)
    if data is None:
        if n != 1:
            raise Refusal("CONFLICT", f"Transit has no key {req['key']}; cannot create v{n} before v1")
        vault("POST", transit("keys/" + key_name(req)), {"type": TRANSIT_TYPES[req["algorithm"]]})
        data = read_key(req)
    elif data["type"] != TRANSIT_TYPES[req["algorithm"]]:
        raise Refusal("CONFLICT", f"Transit key {req['key']} is {data['type']}, not {req['algorithm']}")
    if data["latest_version"] == n - 1:
        vault("POST", transit("keys/" + key_name(req) + "/rotate"), {})
        data = read_key(req)
    answer = version_answer(req, data, n)
    if answer is None:
        raise Refusal("CONFLICT", f"Transit key {req['key']} is at v{data['latest_version']}; cannot create v{n}")
    return answer


def list_versions(req):
    data = read_key(req)
    if data is None:
        return {"versions": []}
    return {"versions": [version_answer(req, data, n) for n in range(1, data["latest_version"] + 1)]}


def set_version_state(req):
    n, target = req["version"], req["state"]
    data = need(req)
    current = state_of(data, n)
    if current == target:
        return version_answer(req, data, n)
    if current == "destroyed":
        raise Refusal("ILLEGAL_TRANSITION", f"{req['key']}.v{n} is destroyed (trimmed)")
    path = transit("keys/" + key_name(req) + "/config")
    if target == "enabled":
        vault("POST", path, {"min_decryption_version": n})
    else:
        # revoking min_decryption_version past n: n and every older version stop decrypting
        vault("POST", path, {"min_decryption_version": max(n + 1, data["min_decryption_version"]),
                             "min_encryption_version": max(n + 1, data.get("min_encryption_version", 0))})
        if target == "destroyed":
            vault("POST", path, {"deletion_allowed": False})
            vault("POST", transit("keys/" + key_name(req) + "/trim"), {"min_available_version": n + 1})
    return version_answer(req, read_key(req), n)


def alias_path(alias):
    return os.environ.get("VAULT_KV_MOUNT", "secret") + "/data/keyrotor-aliases/" + urllib.parse.quote(alias, safe="")


def get_alias(req):
    found = vault("GET", alias_path(req["alias"]))
    held = None if found is None else found["data"]["data"]
    return {"alias": req["alias"], "version": held["version"] if held and held["key"] == req["key"] else None}


def set_alias(req):
    data = need(req)
    if state_of(data, req["version"]) != "enabled":
        raise Refusal("ILLEGAL_TRANSITION", f"{req['key']}.v{req['version']} is not enabled")
    found = vault("GET", alias_path(req["alias"]))
    if found is not None and found["data"]["data"]["key"] != req["key"]:
        raise Refusal("CONFLICT", f"{req['alias']} belongs to key {found['data']['data']['key']}")
    vault("POST", alias_path(req["alias"]), {"data": {"key": req["key"], "version": req["version"]}})
    return {"alias": req["alias"], "version": req["version"]}


def self_test(req):
    n, alg = req["version"], JOSE[req["algorithm"]]
    data = read_key(req)
    if state_of(data, n) != "enabled":
        return {"passed": False, "detail": f"{req['key']}.v{n} is {state_of(data, n) or 'missing'}"}
    probe = base64.b64encode(os.urandom(32)).decode()
    name = key_name(req)
    if req["algorithm"] == "aes-256-gcm":
        sealed = vault("POST", transit("encrypt/" + name), {"plaintext": probe, "key_version": n})["data"]["ciphertext"]
        opened = vault("POST", transit("decrypt/" + name), {"ciphertext": sealed})["data"]["plaintext"]
        return {"passed": opened == probe and sealed.startswith(f"vault:v{n}:"), "detail": f"encrypt/decrypt {alg}"}
    if req["algorithm"] == "hmac-sha256":
        mac = vault("POST", transit("hmac/" + name + "/sha2-256"), {"input": probe, "key_version": n})["data"]["hmac"]
        ok = vault("POST", transit("verify/" + name + "/sha2-256"), {"input": probe, "hmac": mac})["data"]["valid"]
        return {"passed": ok, "detail": f"HMAC compute/verify {alg}"}
    signed = vault("POST", transit("sign/" + name + "/sha2-256"), {"input": probe, "key_version": n})["data"]["signature"]
    ok = vault("POST", transit("verify/" + name + "/sha2-256"), {"input": probe, "signature": signed})["data"]["valid"]
    return {"passed": ok, "detail": f"sign/verify {alg} inside Transit"}


def public_jwk(req):
    if req["algorithm"] in ("aes-256-gcm", "hmac-sha256"):
        return {"jwk": None}
    data = need(req)
    public = data["keys"][str(req["version"])]["public_key"]
    tags = {"kid": f"{req['key']}.v{req['version']}", "alg": JOSE[req["algorithm"]], "use": "sig"}
    return {"jwk": {**jwk_of(req["algorithm"], public), **tags}}


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def der_items(der):
    """The elements of one DER SEQUENCE or BIT STRING body: (tag, body) pairs."""
    items, i = [], 0
    while i < len(der):
        tag, length = der[i], der[i + 1]
        i += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(der[i:i + count], "big")
            i += count
        items.append((tag, der[i:i + length]))
        i += length
    return items


def jwk_of(algorithm, public):
    if algorithm == "ed25519":  # Transit gives the raw 32-byte key in base64
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(base64.b64decode(public))}
    body = "".join(line for line in public.strip().splitlines() if "-----" not in line)
    spki = der_items(der_items(base64.b64decode(body))[0][1])
    bits = spki[1][1][1:]  # BIT STRING minus its unused-bits byte
    if algorithm == "ec-p256":
        return {"kty": "EC", "crv": "P-256", "x": b64url(bits[1:33]), "y": b64url(bits[33:65])}
    n, e = (value.lstrip(b"\x00") for _, value in der_items(der_items(bits)[0][1]))
    return {"kty": "RSA", "n": b64url(n), "e": b64url(e)}


def export_material(req):
    need(req)
    raise Refusal("MATERIAL_UNAVAILABLE", f"{req['key']}.v{req['version']}: Transit keeps its material")


OPERATIONS = {
    "create-version": create_version,
    "describe-version": lambda req: version_answer(req, read_key(req), req["version"]),
    "list-versions": list_versions,
    "set-alias": set_alias,
    "get-alias": get_alias,
    "set-version-state": set_version_state,
    "self-test": self_test,
    "public-jwk": public_jwk,
    "export-material": export_material,
}


def main():
    operation = sys.argv[-1]
    request = json.load(sys.stdin)
    if operation not in OPERATIONS:
        print(f"unknown operation {operation}", file=sys.stderr)
        return 2
    try:
        print(json.dumps(OPERATIONS[operation](request)))
        return 0
    except Refusal as refusal:
        print(json.dumps({"error": {"code": refusal.code, "message": str(refusal)}}))
        return 1
    except TempFail as error:
        print(str(error), file=sys.stderr)
        return 75
    except (RuntimeError, KeyError) as error:
        print(f"{operation}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
