"""Schema migrations: a small numbered SQL set per backend (``geo/store/sql/<backend>/NNNN_name.sql``).

Why not a migration tool: two backends, a handful of tables, and the SQL is the
clearest statement of the schema. Each file runs once, in a transaction together with
its row in ``schema_migrations``; concurrent starters (gunicorn master, a CLI
command) wait for one another (``BEGIN IMMEDIATE`` / an advisory lock), so each
migration is applied exactly once. Files are shipped as package data.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib import resources
from string import Template

__all__ = ["TYPES", "migrate", "migrations"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_STATEMENT_END = re.compile(r";\s*(?:\n|$)")


#: Each backend's names for the types of the shared tables (``sql/common``).
TYPES = {
    "geopackage": {"pk": "INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL", "int": "INTEGER", "bigint": "INTEGER",
                   "double": "DOUBLE", "text": "TEXT", "bool": "BOOLEAN", "point": "POINT"},
    "postgis": {"pk": "bigserial PRIMARY KEY", "int": "integer", "bigint": "bigint", "double": "double precision",
                "text": "text", "bool": "boolean", "point": "geometry(Point, 4326)"},
}
_INCLUDE = re.compile(r"^-- @include (\w+)$", re.MULTILINE)


def migrations(backend_name: str) -> list[tuple[int, str, str]]:
    """``(number, name, sql)`` for each migration of a backend, in order.

    A line ``-- @include NAME`` stands for ``sql/common/NAME.sql`` with this backend's types: the
    tables are written once, what differs (GeoPackage's core tables, PostGIS's extension and
    GiST index) stays in the backend's own file.
    """
    folder = {"geopackage": "gpkg", "postgis": "postgis"}[backend_name]
    sql = resources.files("geo.store").joinpath("sql")

    def include(m: re.Match) -> str:
        text = sql.joinpath("common", f"{m.group(1)}.sql").read_text(encoding="utf-8")
        return Template(text).substitute(TYPES[backend_name])

    out = []
    for entry in sql.joinpath(folder).iterdir():
        m = _NAME.match(entry.name)
        if m:
            out.append((int(m.group(1)), m.group(2), _INCLUDE.sub(include, entry.read_text(encoding="utf-8"))))
    return sorted(out)



def _statements(sql: str) -> list[str]:
    out = []
    for chunk in _STATEMENT_END.split(sql):
        code = "\n".join(line for line in chunk.splitlines() if not line.strip().startswith("--")).strip()
        if code:
            out.append(code)
    return out


def _applied(backend, conn) -> set[int]:
    if not backend.table_exists(conn, "schema_migrations"):
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}


def migrate(backend, conn) -> list[int]:
    """Apply the migrations ``conn``'s database lacks; returns their numbers (empty if none)."""
    pending = [m for m in migrations(backend.name) if m[0] not in _applied(backend, conn)]
    if not pending:
        return []
    conn.execute("BEGIN IMMEDIATE" if backend.name == "geopackage" else "BEGIN")
    try:
        backend.lock_migrations(conn)
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                     "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        done = _applied(backend, conn)  # again, under the lock: another process may have been first
        applied = []
        for number, name, sql in migrations(backend.name):
            if number in done:
                continue
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(backend.sql("INSERT INTO schema_migrations VALUES (?, ?, ?)"),
                         (number, name, datetime.now(UTC).isoformat(timespec="seconds")))
            applied.append(number)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    backend.after_migrations(conn)
    return applied
