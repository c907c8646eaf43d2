"""The registry store: the current registry, every earlier version, and the audit log, in one database.

One write = one transaction: take the writer's lock, bring the cached registry up to
the committed version, apply the change, validate the records it changed, write
those rows (and their history rows), the version row and the audit row, bump the
version, commit. A process killed at any moment leaves the database before or after
the write, with its audit row, never in between. Writers in all processes are
serialised by the database; readers never wait for them.

Readers hold the whole registry in memory (``Registry``, immutable). A process that
did not write notices a new version with one cheap query (:meth:`RegistryStore.head`)
and reads only the rows changed since its version (:meth:`RegistryStore.load`).
The order of records is the database's insertion order (``fid``) everywhere.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from geo.errors import NotFound
from geo.geography import Districts
from geo.model import FIELDS, LIST_FIELDS, Facility
from geo.registry import ImportReport, Registry, RegistryError, read_registry_file
from geo.store.backends import Backend, Connections, StoreUnavailable
from geo.store.migrate import migrate
from geo.tabular import ReadError, read_rows
from geo.validate import Problem, validate_facilities, validate_rows

__all__ = ["RegistryStore"]

log = logging.getLogger(__name__)

#: Facility fields stored as columns (lon/lat live in the point geometry).
COLUMNS: tuple[str, ...] = tuple(f for f in FIELDS if f not in ("lon", "lat"))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def facility_from_properties(props: dict[str, Any]) -> Facility:
    """The inverse of ``Facility.properties()``."""
    values = {k: props[k] for k in FIELDS if k in props}
    for key in LIST_FIELDS:
        values[key] = tuple(values.get(key) or ())
    return Facility(**values)


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class _Cached:
    registry: Registry
    fids: dict[str, int]

    @property
    def number(self) -> int:
        return int(self.registry.version)


class RegistryStore:
    """The registry in a GeoPackage or PostGIS database (``backend``).

    ``seed_from``: the GeoJSON an empty database starts from (the shipped sample);
    ``legacy_dir``: a data directory of the earlier file store, migrated losslessly on
    first start if it holds a ``facilities.geojson`` (see ``geo.store.legacy``).
    """

    def __init__(self, backend: Backend, districts: Districts, *, seed_from: str | Path | None = None,
                 legacy_dir: str | Path | None = None):
        self.backend = backend
        self.districts = districts
        self.seed_from = Path(seed_from) if seed_from else None
        self.legacy_dir = Path(legacy_dir) if legacy_dir else None
        self.connections = Connections(backend)
        self._cached: _Cached | None = None
        self._cache_lock = threading.Lock()
        self._migrated = False
        self._ready = False
        self._ready_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RegistryStore({self.backend!r})"

    @property
    def where(self) -> str:
        """Where the registry lives (a path, or the database URL without its password)."""
        return self.backend.where

    # -- connections and transactions -------------------------------------------------------
    def _conn(self):
        if not self._migrated:
            self._migrate()
        return self.connections.get()

    def close(self) -> None:
        """Close this process's connections (the gunicorn master calls it before forking)."""
        self.connections.close()

    def _q(self, conn, sql: str, params: tuple = ()):
        return conn.execute(self.backend.sql(sql), params)

    def _many(self, conn, sql: str, rows: list[tuple]) -> None:
        if rows:
            conn.cursor().executemany(self.backend.sql(sql), rows)

    @contextmanager
    def _transaction(self, begin: Callable, *, prepared: bool = True) -> Iterator[Any]:
        if prepared and not self._ready:
            self.initialise()
        conn = self._conn()
        try:
            begin(conn)
        except Exception as exc:
            self.connections.discard()
            raise StoreUnavailable(f"registry database {self.where}: {exc}") from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            try:
                conn.execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - a broken connection: drop it, report the first error
                self.connections.discard()
            if self.backend.is_connection_error(exc):  # the database went away or stayed locked: a 503
                self.connections.discard()
                raise StoreUnavailable(f"registry database {self.where}: {exc}") from exc
            raise

    def writing(self):
        """A transaction holding the writer's lock (one writer at a time, in every process)."""
        return self._transaction(self.backend.begin_write)

    def reading(self):
        """A read transaction that sees one committed state."""
        return self._transaction(self.backend.begin_read)

    # -- start-up ------------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._ready_lock:
            if self._migrated:
                return
            conn = self.connections.get()
            try:
                applied = migrate(self.backend, conn)
            except StoreUnavailable:
                raise
            except Exception as exc:
                self.connections.discard()
                raise StoreUnavailable(f"registry database {self.where} cannot be prepared: {exc}") from None
            if applied:
                log.info("registry database %s: applied migrations %s", self.where, applied)
            self._migrated = True

    def initialise(self) -> None:
        """Create or migrate the schema; fill an empty registry (legacy directory, else the sample).

        Ready only once both succeeded: a failed fill is raised again by the next use, never
        served as an empty registry.
        """
        if self._ready:
            return
        if self._version(self._conn()) == 0:
            self._fill_empty()
        self._ready = True

    def _fill_empty(self) -> None:
        from geo.store import legacy

        source = legacy.registry_file(self.legacy_dir) if self.legacy_dir else None
        seed = source or self.seed_from
        if seed is None:
            raise RegistryError(f"registry database {self.where} is empty and there is nothing to start from")
        registry = read_registry_file(seed, self.districts)  # validated whole, refused whole
        with self._transaction(self.backend.begin_write, prepared=False) as conn:
            if self._version(conn) != 0:  # another process was first
                return
            if source:  # the old audit lines first: the migration is the latest entry
                legacy.import_side_files(self, conn, self.legacy_dir)
            self._write(conn, 0, Registry(()), registry, actor="workermap", action="migrate" if source else "seed",
                        facility_id=None, extra={"file": str(seed)})
        log.info("registry database %s: %s %d facilities from %s", self.where,
                 "migrated" if source else "seeded", len(registry), seed)

    # -- reading -------------------------------------------------------------------------------
    def _version(self, conn) -> int:
        return int(self._q(conn, "SELECT version FROM registry_state WHERE id = 1").fetchone()[0])

    def head(self) -> int:
        """The committed registry version (one cheap query; readers poll it)."""
        if not self._ready:
            self.initialise()
        try:
            return self._version(self._conn())
        except StoreUnavailable:
            raise
        except Exception as exc:
            self.connections.discard()
            raise StoreUnavailable(f"registry database {self.where}: {exc}") from exc

    def _select(self, conn, where: str = "", params: tuple = ()) -> list[tuple[int, Facility]]:
        sql = f"SELECT {select_list(self.backend)} FROM facilities {where} ORDER BY fid"
        return [(int(row[0]), decode_row(self.backend, row)) for row in self._q(conn, sql, params).fetchall()]

    def _meta(self, conn, version: int) -> dict:
        row = self._q(conn, "SELECT meta FROM registry_versions WHERE version = ?", (version,)).fetchone()
        return json.loads(row[0]) if row else {}

    def _checked(self, facilities: list[Facility], what: str) -> None:
        result = validate_facilities(facilities, self.districts)
        if not result.ok:
            bad = [Problem(p.row, p.field, f"{facilities[p.row - 1].id}: {p.message}") if p.row else p
                   for p in result.errors]
            raise RegistryError(f"registry database {self.where} has {len(result.errors)} invalid {what}", bad)

    def _full(self, conn, version: int) -> _Cached:
        rows = self._select(conn)
        facilities = [f for _, f in rows]
        self._checked(facilities, "records")
        return _Cached(Registry(tuple(facilities), self._meta(conn, version), str(version)),
                       {f.id: fid for fid, f in rows})

    def _changes(self, conn, number: int) -> tuple[list[tuple[int, Facility]], set[str]]:
        """(the rows written after version ``number``, the ids whose earlier record ended after it: changed or
        deleted)."""
        changed = self._select(conn, "WHERE version > ?", (number,))
        closed = {r[0] for r in self._q(conn, "SELECT DISTINCT facility_id FROM facility_history WHERE valid_to > ?",
                                        (number,)).fetchall()}
        return changed, closed

    def changes_since(self, number: int) -> tuple[int, list[tuple[int, Facility]], set[str]]:
        """(the committed version, the ``(fid, record)`` rows written after version ``number``, the ids whose
        earlier record ended after it) — what a reader holding ``number`` needs to catch up
        (``geo.store.resident``), validated."""
        with self.reading() as conn:
            version = self._version(conn)
            if version == number:
                return version, [], set()
            changed, closed = self._changes(conn, number)
        self._checked([f for _, f in changed], "changed records")
        return version, changed, closed

    def live_records(self, chunk: int = 5_000) -> Iterator[tuple[int, list[tuple[int, Facility]]]]:
        """The committed version's live records as ``(fid, record)`` in registry order, in chunks ``(version,
        rows)`` (at least one), read in one pass without building a :class:`Registry` and without holding more
        than a chunk decoded (``geo.store.resident``; PostGIS: a server-side cursor). Exhaust it: it holds a
        read transaction open."""
        sql = self.backend.sql(f"SELECT {select_list(self.backend)} FROM facilities WHERE status <> 'removed' "
                               "ORDER BY fid")
        with self.reading() as conn:
            version = self._version(conn)
            cur = conn.cursor(name="live_records") if self.backend.name == "postgis" else conn.cursor()
            cur.execute(sql)
            rows = cur.fetchmany(chunk)
            yield version, [(int(r[0]), decode_row(self.backend, r)) for r in rows]
            while rows := cur.fetchmany(chunk):
                yield version, [(int(r[0]), decode_row(self.backend, r)) for r in rows]
            cur.close()

    def record_by_fid(self, fid: int) -> Facility | None:
        """The record in row ``fid`` now (one small query)."""
        with self.reading() as conn:
            rows = self._select(conn, "WHERE fid = ?", (fid,))
        return rows[0][1] if rows else None

    def _since(self, conn, base: _Cached, version: int, *, check: bool = True) -> _Cached:
        """``base`` brought up to ``version`` by reading only what changed after it (validated unless
        this transaction wrote it)."""
        changed, closed = self._changes(conn, base.number)
        if check:
            self._checked([f for _, f in changed], "changed records")
        fids = dict(base.fids)
        by_id = dict(base.registry._by_id)  # type: ignore[attr-defined]
        for gone in closed:
            fids.pop(gone, None)
            by_id.pop(gone, None)
        for fid, f in changed:
            fids[f.id], by_id[f.id] = fid, f
        order = sorted(fids, key=fids.__getitem__)
        meta = self._meta(conn, version) if version != base.number else base.registry.meta
        return _Cached(Registry(tuple(by_id[i] for i in order), meta, str(version)), fids)

    def _at(self, conn, version: int) -> _Cached:
        cached = self._cached
        if cached is not None and cached.number == version:
            return cached
        if cached is not None and cached.number < version:
            fresh = self._since(conn, cached, version)
        else:
            fresh = self._full(conn, version)
        self._remember(fresh)
        return fresh

    def _remember(self, fresh: _Cached) -> None:
        with self._cache_lock:  # never replace a newer version by an older one (threads of one worker)
            cached = self._cached
            if cached is None or fresh.number >= cached.number:
                self._cached = fresh

    def load(self) -> Registry:
        """The committed registry (validated whole on a process's first load; then only changes are read)."""
        cached = self._cached
        if cached is not None and cached.number == self.head():
            return cached.registry
        with self.reading() as conn:
            return self._at(conn, self._version(conn)).registry

    # -- writing -------------------------------------------------------------------------------
    def update(self, change: Callable[[Registry], Registry], *, actor: str, action: str,
               facility_id: str | None = None, then: Callable[[Any], None] | None = None,
               **audit_extra) -> tuple[Registry, Registry]:
        """Apply ``change`` to the committed registry in one transaction; returns ``(before, after)``.

        Only the records ``change`` altered are validated and written. An exception from
        ``change`` (or a validation error) rolls everything back. ``audit_extra`` goes in
        the audit row (a callable value is called after ``change``). ``then(conn)`` runs in the
        same transaction after the write (a worker report resolved with its edit); it may refuse too.
        """
        with self.writing() as conn:
            version = self._version(conn)
            before = self._at(conn, version)
            proposed = change(before.registry)
            extra = {k: v() if callable(v) else v for k, v in audit_extra.items()}
            after = self._write(conn, version, before.registry, proposed, actor=actor, action=action,
                                facility_id=facility_id, extra=extra, base=before)
            if then is not None:
                then(conn)
        self._remember(after)
        return before.registry, after.registry

    def _write(self, conn, version: int, before: Registry, proposed: Registry, *, actor: str, action: str,
               facility_id: str | None, extra: dict, base: _Cached | None = None) -> _Cached:
        ids = [f.id for f in proposed.facilities]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise RegistryError(f"refusing to save: duplicate id {dup!r}",
                                [Problem(0, "id", f"duplicate id {dup!r}")])
        old = before._by_id  # type: ignore[attr-defined]
        changed = [f for f in proposed.facilities if old.get(f.id) is not f and old.get(f.id) != f]  # `is` first: cheap
        removed = sorted(set(old) - set(ids))
        if changed:
            result = validate_facilities(changed, self.districts)
            if not result.ok:
                raise RegistryError(f"refusing to save: {len(result.errors)} invalid records", result.errors)
        new = version + 1
        self._many(conn, "UPDATE facility_history SET valid_to = ? WHERE facility_id = ? AND valid_to IS NULL",
                   [(new, i) for i in [f.id for f in changed if f.id in old] + removed])
        self._many(conn, "INSERT INTO facility_history (facility_id, valid_from, record) VALUES (?, ?, ?)",
                   [(f.id, new, _dumps(f.properties())) for f in changed])
        self._many(conn, "DELETE FROM facilities WHERE id = ?", [(i,) for i in removed])
        b = self.backend
        columns = ", ".join(COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
        upsert = (f"INSERT INTO facilities (geom, {columns}, version) VALUES ({b.point_sql}, "
                  f"{', '.join('?' for _ in COLUMNS)}, ?) ON CONFLICT (id) DO UPDATE SET geom = excluded.geom, "
                  f"{updates}, version = excluded.version")
        self._many(conn, upsert, [(*b.point_params(f.lon, f.lat), *_row(f), new) for f in changed])
        meta = dict(proposed.meta)
        self._q(conn, "INSERT INTO registry_versions (version, time, actor, action, facility_id, count, meta) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (new, now_iso(), actor, action, facility_id, len(proposed), _dumps(meta)))
        self._audit(conn, actor=actor, action=action, facility_id=facility_id,
                    before=_record(before, facility_id), after=_record(proposed, facility_id),
                    version_before=version, version_after=new, extra=extra)
        self._q(conn, "UPDATE registry_state SET version = ? WHERE id = 1", (new,))
        if b.name == "geopackage":
            self._q(conn, "UPDATE gpkg_contents SET last_change = ? WHERE table_name = 'facilities'",
                    (datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",))
        # what every other process will read for this version (same order, same values)
        start = base if base is not None else _Cached(Registry((), {}, "0"), {})
        return self._since(conn, start, new, check=False) if start.number == version else self._full(conn, new)

    def _audit(self, conn, *, actor: str, action: str, facility_id: str | None = None, before: Any = None,
               after: Any = None, version_before: int | None = None, version_after: int | None = None,
               extra: dict | None = None, time: str | None = None) -> None:
        self._q(conn, "INSERT INTO audit (time, actor, action, facility_id, version_before, version_after, before, "
                      "after, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time or now_iso(), actor, action, facility_id, version_before, version_after, _dumps(before),
                 _dumps(after), _dumps(extra or {})))

    # -- imports -------------------------------------------------------------------------------
    def import_file(self, file: str | Path, *, crs: str = "wgs84", replace: bool = False,
                    dry_run: bool = False, actor: str = "cli") -> ImportReport:
        """Read, validate and (unless any error or ``dry_run``) merge a file into the registry."""
        file = Path(file)
        try:
            rows = read_rows(file)
        except ReadError as exc:
            return ImportReport(file.name, 0, problems=[Problem(0, "file", str(exc))])
        result = validate_rows(rows, self.districts, crs=crs)
        report = ImportReport(file.name, len(rows), problems=result.problems)
        if not rows:
            report.problems.append(Problem(0, "file", "file has a header but no data rows"))
        if report.errors:
            return report

        def count(reg: Registry) -> None:
            report.updated = 0 if replace else sum(1 for f in result.facilities if reg.get(f.id) is not None)
            report.added = len(result.facilities) - report.updated

        if dry_run:
            count(self.load())
            return report

        def merge(reg: Registry) -> Registry:
            count(reg)  # against the registry as committed, under the writer's lock
            return reg.merged(result.facilities, replace=replace)

        _, report.registry = self.update(merge, actor=actor, action="import_replace" if replace else "import",
                                         file=file.name, added=lambda: report.added, updated=lambda: report.updated)
        report.written = True
        return report

    # -- versions ------------------------------------------------------------------------------
    def versions(self, *, limit: int = 1000) -> list[dict]:
        """The latest ``limit`` registry versions, oldest first: number, time, actor, action, count."""
        with self.reading() as conn:
            rows = self._q(conn, "SELECT version, time, actor, action, facility_id, count FROM registry_versions "
                                 "ORDER BY version DESC LIMIT ?", (limit,)).fetchall()
        return [{"version": int(v), "time": t, "actor": a, "action": act, "id": fid, "count": int(n)}
                for v, t, a, act, fid, n in reversed(rows)]

    def registry_at(self, version: int) -> Registry:
        """The registry as it was at ``version``."""
        with self.reading() as conn:
            if self._q(conn, "SELECT 1 FROM registry_versions WHERE version = ?", (version,)).fetchone() is None:
                head = self._version(conn)
                raise NotFound(f"unknown version {version!r}; versions are 1 to {head}", parameter="version",
                               value=version, allowed=f"1 to {head}")
            rows = self._q(conn, "SELECT record FROM facility_history h WHERE valid_from <= ? AND "
                                 "(valid_to IS NULL OR valid_to > ?) ORDER BY (SELECT min(f.seq) FROM "
                                 "facility_history f WHERE f.facility_id = h.facility_id)",
                           (version, version)).fetchall()
            meta = self._meta(conn, version)
        return Registry(tuple(facility_from_properties(json.loads(r[0])) for r in rows), meta, str(version))

    def restore(self, version: int, *, actor: str) -> Registry:
        """Make an earlier version current again (as a new version; nothing is lost)."""
        old = self.registry_at(version)
        _, after = self.update(lambda _: Registry(old.facilities, old.meta), actor=actor, action="restore",
                               restored=version)
        return after

    # -- audit ---------------------------------------------------------------------------------
    def audit_entries(self, *, limit: int = 100) -> list[dict]:
        """The last ``limit`` audit entries, oldest first."""
        with self.reading() as conn:
            rows = self._q(conn, "SELECT time, actor, action, facility_id, before, after, version_before, "
                                 "version_after, extra FROM audit ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        out = []
        for time, actor, action, fid, before, after, vb, va, extra in reversed(rows):
            entry = {"time": time, "actor": actor, "action": action, "id": fid,
                     "before": json.loads(before) if before else None,
                     "after": json.loads(after) if after else None}
            if vb is not None or va is not None:
                entry["version_before"], entry["version_after"] = vb, va
            entry.update(json.loads(extra))
            out.append(entry)
        return out

    def audit(self, *, actor: str, action: str, **extra) -> None:
        """Record an action that is not a registry write (tokens, reports) in its own transaction."""
        with self.writing() as conn:
            self._audit(conn, actor=actor, action=action, extra=extra)


def select_list(backend: Backend) -> str:
    """The select list :func:`decode_row` reads: ``fid``, the columns, the point."""
    return f"fid, {', '.join(COLUMNS)}, {backend.select_point_sql}"


def decode_row(backend: Backend, row: tuple) -> Facility:
    """The facility in a row selected with :func:`select_list` (columns after those are ignored)."""
    n = len(COLUMNS)
    values = dict(zip(COLUMNS, row[1:n + 1], strict=True))
    lon, lat = backend.decode_point(tuple(row[n + 1:n + 1 + backend.point_columns]))
    for key in LIST_FIELDS:
        values[key] = tuple(x for x in values[key].split(";") if x)
    values["sample"] = bool(values["sample"])
    values["workday_calendar"] = bool(values["workday_calendar"])
    return Facility(lon=lon, lat=lat, **values)


def _row(f: Facility) -> tuple:
    values = []
    for c in COLUMNS:
        v = getattr(f, c)
        values.append(";".join(v) if c in LIST_FIELDS else v)
    return tuple(values)


def _record(registry: Registry, facility_id: str | None) -> dict | None:
    if facility_id is None:
        return None
    f = registry.get(facility_id)
    return None if f is None else f.properties()
