"""The two databases the store runs on, and what differs between them.

Everything else (tables, queries, transactions) is shared: SQL is written once with
``?`` placeholders and the backend says how to connect, how to take the writer's lock,
how to write and read a point, and which placeholder its driver wants.

- :class:`GeoPackage` (the embedded default): one SQLite file in the data directory,
  WAL mode, that is also a valid GeoPackage (QGIS and GDAL open its ``facilities`` layer).
  ``BEGIN IMMEDIATE`` serialises writers across processes; readers never wait.
- :class:`PostGIS`: PostgreSQL with PostGIS for deployments with several app servers
  (``WORKERMAP_DATABASE_URL=postgresql://…``); writers lock the one ``registry_state`` row.

Connections are never shared between processes: each process (each gunicorn worker
after the fork) and each thread opens its own on first use (see ``Connections``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
import threading
import weakref
from pathlib import Path
from typing import Any

from geo.errors import Unavailable

__all__ = ["Backend", "GeoPackage", "PostGIS", "StoreUnavailable", "backend_for"]

#: GeoPackage binary header for a little-endian point in EPSG:4326 with no envelope ("GP", version 0, flags 1).
_GPKG_HEADER = b"GP\x00\x01" + struct.pack("<i", 4326)
_WKB_POINT = struct.Struct("<BIdd")


class StoreUnavailable(Unavailable):
    """The database cannot be opened or reached (message says which and why): a 503."""

    code = "store_unavailable"


class Backend:
    """What differs between the databases (see the module docstring)."""

    name: str
    #: The SQL expression that writes a point from the parameters of :meth:`point_params`.
    point_sql: str
    #: The select-list expression(s) that read a point back (decoded by :meth:`decode_point`).
    select_point_sql: str
    #: How many columns :attr:`select_point_sql` yields.
    point_columns: int

    def connect(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def sql(self, text: str) -> str:
        """``text`` with this driver's placeholder."""
        return text

    def begin_write(self, conn) -> None:
        """Start a transaction that holds the single-writer lock until COMMIT or ROLLBACK."""
        raise NotImplementedError  # pragma: no cover

    def begin_read(self, conn) -> None:
        """Start a read transaction that sees one committed state throughout."""
        raise NotImplementedError  # pragma: no cover

    def point_params(self, lon: float, lat: float) -> tuple:
        raise NotImplementedError  # pragma: no cover

    def decode_point(self, values: tuple) -> tuple[float, float]:
        raise NotImplementedError  # pragma: no cover

    def table_exists(self, conn, table: str) -> bool:
        raise NotImplementedError  # pragma: no cover

    def lock_migrations(self, conn) -> None:
        """Inside an open transaction: keep other processes out of the migrations until it ends."""

    def is_connection_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the database is unreachable or stayed locked (a 503, not a bug)."""
        return False

    def after_migrations(self, conn) -> None:
        """Once migrations were applied (outside any transaction)."""


class GeoPackage(Backend):
    name = "geopackage"
    point_sql = "?"
    select_point_sql = "geom"
    point_columns = 1

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0):
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s

    def __repr__(self) -> str:
        return f"GeoPackage({str(self.path)!r})"

    @property
    def where(self) -> str:
        return str(self.path)

    def connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed write survives a power cut, not only a killed process.
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailable(f"registry database {self.path} cannot be opened: {exc}") from None
        return conn

    def begin_write(self, conn) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def is_connection_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError)

    def after_migrations(self, conn) -> None:
        # The GeoPackage header (application_id) is on page 1, which stays in the WAL until a
        # checkpoint; GDAL reads the header from the file itself before opening it.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def begin_read(self, conn) -> None:
        conn.execute("BEGIN")

    def point_params(self, lon: float, lat: float) -> tuple:
        return (_GPKG_HEADER + _WKB_POINT.pack(1, 1, lon, lat),)

    def decode_point(self, values: tuple) -> tuple[float, float]:
        blob = bytes(values[0])
        envelope_bytes = (0, 32, 48, 48, 64, 0, 0, 0)[(blob[3] >> 1) & 7]
        wkb = blob[8 + envelope_bytes:]
        kind, x, y = struct.unpack_from("<Idd" if wkb[0] == 1 else ">Idd", wkb, 1)
        if blob[:2] != b"GP" or kind % 1000 != 1:
            raise ValueError("geometry is not a GeoPackage point")
        return x, y

    def table_exists(self, conn, table: str) -> bool:
        row = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()
        return row is not None


class PostGIS(Backend):
    name = "postgis"
    point_sql = "ST_SetSRID(ST_MakePoint(%s, %s), 4326)"
    select_point_sql = "ST_X(geom), ST_Y(geom)"
    point_columns = 2

    def __init__(self, url: str, *, connect_timeout_s: int = 10):
        self.url = url
        self.connect_timeout_s = connect_timeout_s

    def __repr__(self) -> str:
        return f"PostGIS({self.where!r})"

    @property
    def where(self) -> str:
        """The URL without its password."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.url)
        if parts.password:
            host = parts.hostname or ""
            netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
            parts = parts._replace(netloc=netloc)
        return urlunsplit(parts)

    def connect(self):
        try:
            import psycopg
        except ImportError:
            raise StoreUnavailable("WORKERMAP_DATABASE_URL names PostgreSQL, but psycopg is not installed: "
                                   "pip install 'workermap[postgres]'") from None
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout_s)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"registry database {self.where} cannot be reached: "
                                   f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from None

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def begin_write(self, conn) -> None:
        conn.execute("BEGIN")
        conn.execute("SELECT version FROM registry_state WHERE id = 1 FOR UPDATE")

    def begin_read(self, conn) -> None:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def point_params(self, lon: float, lat: float) -> tuple:
        return (lon, lat)

    def decode_point(self, values: tuple) -> tuple[float, float]:
        return float(values[0]), float(values[1])

    def table_exists(self, conn, table: str) -> bool:
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]

    def lock_migrations(self, conn) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(370200)")

    def is_connection_error(self, exc: BaseException) -> bool:
        import psycopg

        return isinstance(exc, psycopg.OperationalError)


def backend_for(database_url: str, data_dir: str | Path) -> Backend:
    """The backend a setting names: empty = the GeoPackage in ``data_dir``; ``postgresql://…``;
    or a path ending in ``.gpkg``."""
    url = (database_url or "").strip()
    if not url:
        return GeoPackage(Path(data_dir) / "workermap.gpkg")
    if url.startswith(("postgresql://", "postgres://")):
        return PostGIS(url)
    if url.endswith(".gpkg"):
        return GeoPackage(Path(url.removeprefix("gpkg:")))
    raise StoreUnavailable(f"database_url must be postgresql://… or a path ending in .gpkg, got {url[:80]!r}")


class Connections:
    """One connection per (process, thread), opened on first use.

    A connection opened before a fork is never used (nor closed) by the child:
    the child sees a different pid and opens its own. When the owner is garbage
    collected (or the process exits), this process's connections are closed.
    """

    def __init__(self, backend: Backend):
        self.backend = backend
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[tuple[int, Any]] = []
        weakref.finalize(self, _close_mine, self._all)

    def get(self):
        pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == pid:
            return conn
        conn = self.backend.connect()
        self._local.conn, self._local.pid = conn, pid
        with self._lock:
            self._all.append((pid, conn))
        return conn

    def discard(self) -> None:
        """Forget this thread's connection (after an error that may have broken it)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            _close_quietly(conn)
            with self._lock:
                self._all[:] = [(p, c) for p, c in self._all if c is not conn]
        self._local.conn = None

    def close(self) -> None:
        """Close every connection this process opened (call before forking workers)."""
        with self._lock:
            _close_mine(self._all)
        self._local = threading.local()


def _close_mine(conns: list[tuple[int, Any]]) -> None:
    pid = os.getpid()
    mine = [c for p, c in conns if p == pid]
    conns[:] = [(p, c) for p, c in conns if p != pid]
    for conn in mine:
        _close_quietly(conn)


def _close_quietly(conn) -> None:
    with contextlib.suppress(Exception):  # closing a broken connection must not mask the real error
        conn.close()
