#!/usr/bin/env python3
"""A requesting authority's own client, written as a new requester would write one from the
README and /openapi.json alone: jwcrypto for the keys and signatures, urllib for HTTP. Nothing
of Custos's code. Used by requester_cli.rs.

Usage:
  requester.py keygen KEY.jwk            writes a fresh Ed25519 private JWK; prints
                                         {"public_jwk": {...}, "thumbprint": "..."}
  requester.py submit URL KEY.jwk REQUEST.json
                                         signs the file's bytes (compact JWS, alg EdDSA, kid =
                                         RFC 7638 thumbprint) and POSTs it to URL/v1/requests
  requester.py get URL KEY.jwk PATH      GETs URL+PATH with the proof
                                         `Authorization: Custos-JWS <JWS of {htm, htu, iat}>`

submit and get print one JSON object: {"status": <HTTP status>, "body": <the JSON answer>}.
Exits non-zero (and the test fails) if jwcrypto is not installed.
"""

import json
import sys
import time
import urllib.error
import urllib.request

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode


def sign(key: jwk.JWK, payload: bytes) -> str:
    token = jws.JWS(payload)
    token.add_signature(key, None, json_encode({"alg": "EdDSA", "kid": key.thumbprint()}))
    return token.serialize(compact=True)


def call(req: urllib.request.Request) -> None:
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    print(json.dumps({"status": status, "body": json.loads(body) if body else None}))


def load(path: str) -> jwk.JWK:
    with open(path, "rb") as f:
        return jwk.JWK.from_json(f.read())


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["keygen"] and len(args) == 2:
        key = jwk.JWK.generate(kty="OKP", crv="Ed25519")
        with open(args[1], "w") as f:
            f.write(key.export_private())
        print(json.dumps({"public_jwk": json.loads(key.export_public()), "thumbprint": key.thumbprint()}))
    elif args[:1] == ["submit"] and len(args) == 4:
        _, url, key, request = args
        with open(request, "rb") as f:
            payload = f.read()
        req = urllib.request.Request(
            url.rstrip("/") + "/v1/requests",
            data=sign(load(key), payload).encode(),
            headers={"Content-Type": "application/jose"},
            method="POST",
        )
        call(req)
    elif args[:1] == ["get"] and len(args) == 4:
        _, url, key, path = args
        claims = {"htm": "GET", "htu": path.split("?")[0], "iat": int(time.time())}
        proof = sign(load(key), json.dumps(claims).encode())
        req = urllib.request.Request(
            url.rstrip("/") + path, headers={"Authorization": "Custos-JWS " + proof}
        )
        call(req)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
