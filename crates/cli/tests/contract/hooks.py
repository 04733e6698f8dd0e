"""Schemathesis hooks of the contract test."""

import schemathesis


# A compact JWS (`POST /v1/requests`) travels as `application/jose` text, which schemathesis has
# no serializer for.
@schemathesis.serializer("application/jose")
def jose(ctx, value):
    if isinstance(value, bytes):
        return {"data": value}
    return {"data": str(value).encode("utf-8")}
