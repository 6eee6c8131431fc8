"""Schemathesis hooks: sign every request the way docs/request-signing.md describes.

Load it by path, `SCHEMATHESIS_HOOKS=tests/schemathesis/hooks.py`; the client comes from the
environment:

    ESIGN_CLIENT_ID      the client id
    ESIGN_CLIENT_SECRET  its secret, as configured or as printed by `esign clients add`

The signature is computed by a `requests` auth object, which runs on the prepared request: after
schemathesis has serialised the body and encoded the query, so it covers exactly the method, path,
query and body bytes that go on the wire. Each send (retries included) gets a fresh nonce and
timestamp, so no request is refused as a replay.
"""

import hashlib
import hmac
import os
import time
import uuid
from urllib.parse import quote_from_bytes, unquote_to_bytes, urlsplit

import requests
import schemathesis

# RFC 3986 unreserved characters other than letters and digits, which `quote` keeps anyway.
UNRESERVED_PUNCTUATION = "-._~"


def canonical_query(raw_query: str) -> str:
    """The query as the service canonicalises it: split on `&` and the first `=`, decode (`+` is a
    space, `%XX` a byte), re-encode with uppercase hex, sort by name then value."""
    pairs = []
    for segment in raw_query.split("&"):
        if not segment:
            continue
        name, _, value = segment.partition("=")
        pairs.append((reencode(name), reencode(value)))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def reencode(component: str) -> str:
    # Decoded to bytes, not text: a `%XX` sequence that is not UTF-8 must survive unchanged.
    raw = unquote_to_bytes(component.replace("+", " "))
    return quote_from_bytes(raw, safe=UNRESERVED_PUNCTUATION)


def body_bytes(body) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    # A streamed body cannot be hashed before it is sent; the schema has no such operation.
    raise TypeError(f"cannot sign a request body of type {type(body).__name__}")


def signature(secret: str, method: str, path: str, raw_query: str, body: bytes, timestamp: str,
              nonce: str) -> str:
    canonical = "\n".join([
        method.upper(),
        path,
        canonical_query(raw_query),
        timestamp,
        nonce,
        hashlib.sha256(body).hexdigest(),
    ])
    return hmac.new(secret.encode("utf-8"), canonical.encode("utf-8"), hashlib.sha256).hexdigest()


class SignRequest(requests.auth.AuthBase):
    """Adds X-Client-Id, X-Timestamp, X-Nonce and X-Signature to the request as prepared."""

    def __init__(self, client_id: str, secret: str):
        self.client_id = client_id
        self.secret = secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        # `path_url` is the request line's target: the path as encoded, then `?query` if any.
        target = urlsplit(request.path_url)
        timestamp = str(int(time.time()))
        nonce = uuid.uuid4().hex
        request.headers["X-Client-Id"] = self.client_id
        request.headers["X-Timestamp"] = timestamp
        request.headers["X-Nonce"] = nonce
        request.headers["X-Signature"] = signature(
            self.secret, request.method, target.path, target.query, body_bytes(request.body),
            timestamp, nonce)
        return request


def signer_from_environment() -> SignRequest:
    client_id = os.environ.get("ESIGN_CLIENT_ID")
    secret = os.environ.get("ESIGN_CLIENT_SECRET")
    if not client_id or not secret:
        raise RuntimeError("set ESIGN_CLIENT_ID and ESIGN_CLIENT_SECRET to sign requests")
    return SignRequest(client_id, secret)


SIGNER = signer_from_environment()


@schemathesis.hook
def before_call(context, case, kwargs):
    # The transport passes `auth` on to `requests`, which calls it once the request is final.
    kwargs["auth"] = SIGNER
