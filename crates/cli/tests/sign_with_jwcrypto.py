#!/usr/bin/env python3
"""Signs a Custos request with an outside JOSE library (jwcrypto), for service_cli.rs.

Usage: sign_with_jwcrypto.py REQUEST.json

Generates a fresh Ed25519 (OKP) key, computes its RFC 7638 thumbprint with jwcrypto's own
thumbprint(), and signs the file's bytes as a compact JWS with the protected header
{"alg": "EdDSA", "kid": <thumbprint>}. Prints one JSON object:
{"public_jwk": {...}, "thumbprint": "...", "jws": "..."}.
Exits non-zero (and the test fails) if jwcrypto is not installed.
"""

import json
import sys

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: sign_with_jwcrypto.py REQUEST.json")
    with open(sys.argv[1], "rb") as f:
        payload = f.read()
    key = jwk.JWK.generate(kty="OKP", crv="Ed25519")
    thumbprint = key.thumbprint()
    token = jws.JWS(payload)
    token.add_signature(key, None, json_encode({"alg": "EdDSA", "kid": thumbprint}))
    print(
        json.dumps(
            {
                "public_jwk": json.loads(key.export_public()),
                "thumbprint": thumbprint,
                "jws": token.serialize(compact=True),
            }
        )
    )


if __name__ == "__main__":
    main()
