"""Admin tokens in the store: kept only as SHA-256 hashes, compared in constant time, revocable.

``workermap token add NAME`` prints a new token once. No token = writes disabled.
Tokens are read on every write request, so a revocation takes effect at once in every
worker; adding and revoking run in the store's write transaction (no change is lost
to a concurrent one) and are audited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from geo.store.registry_store import RegistryStore, now_iso

__all__ = ["TokenStore", "token_hash"]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_name(name: str) -> None:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise ValueError(f"token name must be 1-64 letters, digits, '-', '_' or '.', got {name!r}")


class TokenStore:
    def __init__(self, store: RegistryStore):
        self.store = store

    def entries(self) -> list[dict]:
        with self.store.reading() as conn:
            rows = self.store._q(conn, "SELECT name, sha256, created, revoked, revoked_at FROM admin_tokens "
                                       "ORDER BY created, name").fetchall()
        return [{"name": n, "sha256": h, "created": c, "revoked": bool(r), "revoked_at": ra} for n, h, c, r, ra in rows]

    def add(self, name: str, *, actor: str = "cli") -> str:
        """Create a token called ``name``; returns the token (shown once, stored hashed)."""
        _check_name(name)
        token = secrets.token_urlsafe(32)
        with self.store.writing() as conn:
            q = self.store._q
            if q(conn, "SELECT 1 FROM admin_tokens WHERE name = ? AND NOT revoked", (name,)).fetchone():
                raise ValueError(f"an active token named {name!r} exists; revoke it first")
            q(conn, "INSERT INTO admin_tokens (sha256, name, created, revoked) VALUES (?, ?, ?, ?)",
              (token_hash(token), name, now_iso(), False))
            self.store._audit(conn, actor=actor, action="token_add", extra={"token_name": name})
        return token

    def revoke(self, name: str, *, actor: str = "cli") -> None:
        with self.store.writing() as conn:
            q = self.store._q
            if not q(conn, "SELECT 1 FROM admin_tokens WHERE name = ? AND NOT revoked", (name,)).fetchone():
                raise ValueError(f"no active token named {name!r}")
            q(conn, "UPDATE admin_tokens SET revoked = ?, revoked_at = ? WHERE name = ? AND NOT revoked",
              (True, now_iso(), name))
            self.store._audit(conn, actor=actor, action="token_revoke", extra={"token_name": name})

    def verify(self, token: str) -> tuple[str, bool] | None:
        """``(name, revoked)`` of the token, or None if it matches no entry.

        Every entry is compared, so the time taken does not depend on which one matches.
        """
        digest = token_hash(token)
        found = None
        for e in self.entries():
            if hmac.compare_digest(e["sha256"], digest):
                found = (e["name"], e["revoked"])
        return found

    def any(self) -> bool:
        with self.store.reading() as conn:
            return self.store._q(conn, "SELECT 1 FROM admin_tokens LIMIT 1").fetchone() is not None
