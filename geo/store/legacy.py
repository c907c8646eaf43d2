"""Migrating a data directory of the earlier file store (``facilities.geojson``, ``audit.jsonl``,
``admin_tokens.json``) into the database on first start.

The registry is read and validated whole (an invalid file refuses the start, with its
problems, as before); the audit lines and token hashes are copied as they are. The old
files are left where they were (``history/`` keeps the earlier GeoJSON versions) but are
no longer read.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

__all__ = ["import_side_files", "registry_file"]

log = logging.getLogger(__name__)


def registry_file(data_dir: Path) -> Path | None:
    path = Path(data_dir) / "facilities.geojson"
    return path if path.is_file() else None


def _audit_lines(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # a torn last line of a killed writer
            continue
        if isinstance(entry, dict) and "action" in entry:
            out.append(entry)
    return out


def _tokens(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [e for e in data if isinstance(e, dict) and "name" in e and "sha256" in e]


def import_side_files(store, conn, data_dir: Path) -> None:
    """Inside the migration's transaction: copy the old audit log and tokens into ``store``."""
    data_dir = Path(data_dir)
    core = {"time", "actor", "action", "id", "before", "after", "version_before", "version_after"}
    for e in _audit_lines(data_dir / "audit.jsonl"):
        store._audit(conn, actor=str(e.get("actor", "")), action=str(e["action"]), facility_id=e.get("id"),
                     before=e.get("before"), after=e.get("after"), time=str(e.get("time", "")),
                     extra={"legacy_version_before": e.get("version_before"),
                            "legacy_version_after": e.get("version_after"),
                            **{k: v for k, v in e.items() if k not in core}})
    for e in _tokens(data_dir / "admin_tokens.json"):
        store._q(conn, "INSERT INTO admin_tokens (sha256, name, created, revoked, revoked_at) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT (sha256) DO NOTHING",
                 (e["sha256"], e["name"], e.get("created", ""), bool(e.get("revoked")), e.get("revoked_at")))
    log.info("migrated the audit log and admin tokens of %s", data_dir)
