"""Bearer tokens for endpoints: made at deploy time, shown once, stored only as a SHA-256 hash.

A token is 32 random bytes, so a plain SHA-256 (no salt, no slow KDF) is enough to make the
stored hash useless to whoever reads the registry, and cheap enough to check on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "tsk_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_matches(authorization: str | None, expected_hash: str) -> bool:
    """True when an `Authorization: Bearer <token>` header carries the token behind `expected_hash`."""
    if not authorization or not expected_hash:
        return False
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token_hash(token.strip()), expected_hash)
