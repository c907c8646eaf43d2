"""Admin tokens: stored hashed, compared in constant time, revocable.

Tokens live in ``<data_dir>/admin_tokens.json`` as ``[{"name", "sha256", "created",
"revoked"}]`` — never the token itself. ``workermap token add NAME`` prints a new
token once. No token configured = writes disabled. The file is read on every write
request, so a revocation takes effect at once in every worker.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from web.errors import ApiError


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def entries(self) -> list[dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"admin token file {self.path} is unreadable: {exc}") from None
        return [e for e in data if isinstance(e, dict) and "name" in e and "sha256" in e]

    def _write(self, entries: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entries, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def add(self, name: str) -> str:
        """Create a token called ``name``; returns the token (shown once, stored hashed)."""
        if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
            raise ValueError(f"token name must be 1-64 letters, digits, '-', '_' or '.', got {name!r}")
        entries = self.entries()
        if any(e["name"] == name and not e.get("revoked") for e in entries):
            raise ValueError(f"an active token named {name!r} exists; revoke it first")
        token = secrets.token_urlsafe(32)
        entries.append({"name": name, "sha256": token_hash(token),
                        "created": datetime.now(UTC).isoformat(timespec="seconds"), "revoked": False})
        self._write(entries)
        return token

    def revoke(self, name: str) -> None:
        entries = self.entries()
        hits = [e for e in entries if e["name"] == name and not e.get("revoked")]
        if not hits:
            raise ValueError(f"no active token named {name!r}")
        for e in hits:
            e["revoked"] = True
            e["revoked_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self._write(entries)

    def check(self, authorization: str | None) -> str:
        """The token's name for a valid ``Authorization: Bearer …`` header; else an ApiError (401/403)."""
        if not authorization or not authorization.startswith("Bearer ") or len(authorization) > 200:
            raise ApiError(401, "an admin token is required: send 'Authorization: Bearer <token>'",
                           code="unauthorized")
        entries = self.entries()
        if not entries:
            raise ApiError(403, "writes are disabled: no admin token is configured (workermap token add NAME)",
                           code="writes_disabled")
        digest = token_hash(authorization[len("Bearer "):].strip())
        name = None
        revoked = False
        for e in entries:  # compare against every entry: time does not depend on which one matches
            if hmac.compare_digest(e["sha256"], digest):
                name, revoked = e["name"], bool(e.get("revoked"))
        if name is None:
            raise ApiError(403, "the admin token is not valid", code="forbidden")
        if revoked:
            raise ApiError(403, f"the admin token {name!r} has been revoked", code="forbidden")
        return name
