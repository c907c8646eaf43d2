"""An append-only audit log of registry writes (JSON Lines).

Each line: when (UTC), who (the token's name, never the token), what action, which
facility, and the record before and after. Lines are appended with O_APPEND and
fsync'd, so concurrent writers never interleave inside a line and a crash loses at
most the line being written.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["AuditLog"]


class AuditLog:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def append(self, *, actor: str, action: str, facility_id: str | None = None, before: Any = None,
               after: Any = None, **extra: Any) -> dict:
        entry = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "actor": actor, "action": action,
                 "id": facility_id, "before": before, "after": after, **extra}
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def read(self, *, limit: int = 100) -> list[dict]:
        """The last ``limit`` entries, newest last (a torn last line is skipped)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines()[-limit:]:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out
