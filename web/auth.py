"""Admin authentication for the write API: ``Authorization: Bearer <token>``.

Tokens live in the store (``geo.store.tokens``: hashed, compared in constant time,
revocable); this module only turns the answer into the HTTP errors.
"""

from __future__ import annotations

from geo.store.tokens import TokenStore
from web.errors import ApiError

__all__ = ["check_token"]


def check_token(tokens: TokenStore, authorization: str | None) -> str:
    """The token's name for a valid ``Authorization: Bearer …`` header; else an ApiError (401/403)."""
    if not authorization or not authorization.startswith("Bearer ") or len(authorization) > 200:
        raise ApiError(401, "an admin token is required: send 'Authorization: Bearer <token>'", code="unauthorized")
    if not tokens.any():
        raise ApiError(403, "writes are disabled: no admin token is configured (workermap token add NAME)",
                       code="writes_disabled")
    found = tokens.verify(authorization[len("Bearer "):].strip())
    if found is None:
        raise ApiError(403, "the admin token is not valid", code="forbidden")
    name, revoked = found
    if revoked:
        raise ApiError(403, f"the admin token {name!r} has been revoked", code="forbidden")
    return name
