"""The facility registry: an immutable snapshot, and the store that persists it.

Storage is one GeoJSON file in the data directory, replaced atomically (write a
temporary file, fsync, rename over) with the previous version kept as ``.bak``
and in ``history/``. Why a file and not a database: the registry is small
(~2,000 records, < 2 MB), every reader wants all of it in memory anyway, and a
GeoJSON file is what QGIS, GDAL and a person can open and diff directly. A
writer holds a file lock, so writers in different processes are serialised.

A registry is loaded whole and validated whole: a file that fails validation is
refused (never half-loaded); if a backup exists it is used with a loud warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

from geo.audit import AuditLog
from geo.export import dumps_geojson, feature_collection
from geo.geography import Districts
from geo.model import Facility
from geo.tabular import ReadError, geojson_rows, read_rows
from geo.validate import Problem, validate_facilities, validate_rows

__all__ = ["ImportReport", "Registry", "RegistryError", "RegistryStore"]

log = logging.getLogger(__name__)


class RegistryError(Exception):
    """The registry (or a file for it) cannot be used; ``problems`` says why, per row."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()):
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class Registry:
    facilities: tuple[Facility, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    version: str = ""  # sha256 of the file it was read from

    def __post_init__(self):
        object.__setattr__(self, "_by_id", {f.id: f for f in self.facilities})
        object.__setattr__(self, "_is_sample", any(f.sample for f in self.facilities))

    def __len__(self) -> int:
        return len(self.facilities)

    def get(self, facility_id: str) -> Facility | None:
        return self._by_id.get(facility_id)  # type: ignore[attr-defined]

    @property
    def is_sample(self) -> bool:
        """Whether any record is generated sample data (worked out once; the registry is immutable)."""
        return self._is_sample  # type: ignore[attr-defined]

    def counts(self) -> dict[str, Any]:
        """Counts by kind, status and district, and the 24/7 station count."""
        live = [f for f in self.facilities if f.status != "removed"]
        return {
            "total": len(self.facilities),
            "by_kind": dict(sorted(Counter(f.kind for f in self.facilities).items())),
            "by_status": dict(sorted(Counter(f.status for f in self.facilities).items())),
            "by_district": dict(sorted(Counter(f.district for f in self.facilities).items())),
            "stations_24_7": sum(1 for f in live if f.kind == "station" and f.opening_hours == "24/7"),
            "sample_records": sum(1 for f in self.facilities if f.sample),
        }

    def merged(self, facilities: Iterable[Facility], *, replace: bool = False) -> Registry:
        """A new registry with ``facilities`` added or (same id) updated; or replacing all."""
        incoming = list(facilities)
        if replace:
            return Registry(tuple(incoming), dict(self.meta))
        new_ids = {f.id: f for f in incoming}
        kept = [new_ids.pop(f.id, f) for f in self.facilities]
        return Registry(tuple(kept + list(new_ids.values())), dict(self.meta))


@dataclass
class ImportReport:
    file: str
    rows: int
    added: int = 0
    updated: int = 0
    written: bool = False
    problems: list[Problem] = field(default_factory=list)
    registry: Registry | None = None  # what was written (None unless written)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class RegistryStore:
    """Reads and writes the working registry file; the only place that touches it."""

    def __init__(self, path: str | Path, districts: Districts, *, seed_from: str | Path | None = None):
        self.path = Path(path)
        self.districts = districts
        self.seed_from = Path(seed_from) if seed_from else None
        self.backup_path = self.path.with_name(self.path.name + ".bak")
        self.history_dir = self.path.parent / "history"
        self.audit = AuditLog(self.path.parent / "audit.jsonl")
        self._lock = FileLock(str(self.path) + ".lock")

    # -- reading ---------------------------------------------------------
    def ensure_initialised(self) -> None:
        """Create the working registry from the shipped sample on first use."""
        if self.path.exists() or self.seed_from is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if not self.path.exists():
                self._atomic_write(self.seed_from.read_bytes())
                log.info("initialised registry %s from %s", self.path, self.seed_from)

    def _parse(self, data: bytes, origin: Path) -> Registry:
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RegistryError(f"registry file {origin.name} is not valid JSON: {exc}") from None
        meta = doc.get("metadata", {}) if isinstance(doc, dict) else {}
        try:
            rows = geojson_rows(doc if isinstance(doc, dict) else data)
        except ReadError as exc:
            raise RegistryError(f"registry file {origin.name} cannot be read: {exc}") from None
        result = validate_rows(rows, self.districts)
        if not result.ok:
            raise RegistryError(
                f"registry file {origin.name} has {len(result.errors)} invalid records", result.errors
            )
        return Registry(tuple(result.facilities), meta, _sha256(data))

    def load(self, *, use_backup: bool = True) -> Registry:
        """Load and validate the whole registry; if unusable, fall back to the backup, loudly."""
        self.ensure_initialised()
        try:
            data = self.path.read_bytes()
            return self._parse(data, self.path)
        except (OSError, RegistryError) as exc:
            primary = exc if isinstance(exc, RegistryError) else RegistryError(
                f"registry file {self.path} cannot be read: {exc.strerror}")
            if use_backup and self.backup_path.exists():
                try:
                    reg = self._parse(self.backup_path.read_bytes(), self.backup_path)
                except RegistryError:
                    raise primary from None
                log.warning("REGISTRY %s IS UNUSABLE (%s); STARTED FROM BACKUP %s", self.path, primary,
                            self.backup_path)
                return reg
            raise primary from None

    # -- writing ---------------------------------------------------------
    def _atomic_write(self, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".facilities-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def serialise(self, registry: Registry) -> bytes:
        meta = dict(registry.meta)
        meta["sample"] = registry.is_sample
        meta["count"] = len(registry)
        return (dumps_geojson(feature_collection(registry.facilities, meta), indent=1) + "\n").encode("utf-8")

    def save(self, registry: Registry) -> Registry:
        """Validate, then atomically replace the file, keeping the old one as backup."""
        result = validate_facilities(registry.facilities, self.districts)
        if not result.ok:
            raise RegistryError(f"refusing to save: {len(result.errors)} invalid records", result.errors)
        data = self.serialise(registry)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            for stale in self.path.parent.glob(".facilities-*.tmp"):  # left by a writer that was killed
                stale.unlink(missing_ok=True)
            if self.path.exists():
                self.history_dir.mkdir(exist_ok=True)
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                shutil.copy2(self.path, self.history_dir / f"facilities-{stamp}.geojson")
                shutil.copy2(self.path, self.backup_path)
            self._atomic_write(data)
        return Registry(registry.facilities, registry.meta, _sha256(data))

    def update(self, change: Callable[[Registry], Registry], *, actor: str, action: str,
               facility_id: str | None = None, **audit_extra) -> tuple[Registry, Registry]:
        """Apply ``change`` to the current registry and save, holding the write lock throughout.

        Writers in other processes are serialised by the lock, so no write is lost;
        the change is recorded in the audit log with the record before and after, and
        ``audit_extra`` (a callable value is called after ``change``, e.g. for counts it made).
        Returns ``(before, after)``.
        """
        with self._lock:
            before = self.load(use_backup=False)
            after = self.save(change(before))
            extra = {k: v() if callable(v) else v for k, v in audit_extra.items()}
            self.audit.append(
                actor=actor, action=action, facility_id=facility_id,
                before=_record(before, facility_id), after=_record(after, facility_id),
                version_before=before.version, version_after=after.version, **extra,
            )
        return before, after

    def versions(self) -> list[Path]:
        """Earlier versions kept in ``history/``, oldest first."""
        return sorted(self.history_dir.glob("facilities-*.geojson")) if self.history_dir.exists() else []

    def restore(self, version: str, *, actor: str) -> Registry:
        """Make an earlier version (a file name from :meth:`versions`) current again."""
        candidates = {p.name: p for p in self.versions()}
        if version not in candidates:
            raise RegistryError(f"unknown version {version!r}; known: {', '.join(list(candidates)[-5:]) or 'none'}")
        old = self._parse(candidates[version].read_bytes(), candidates[version])
        _, after = self.update(lambda _: Registry(old.facilities, old.meta), actor=actor, action="restore",
                               restored=version)
        return after

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
            count(reg)  # against the registry as it is under the lock
            return reg.merged(result.facilities, replace=replace)

        _, report.registry = self.update(merge, actor=actor, action="import_replace" if replace else "import",
                                         file=file.name, added=lambda: report.added, updated=lambda: report.updated)
        report.written = True
        return report


def _record(registry: Registry, facility_id: str | None) -> dict | None:
    if facility_id is None:
        return None
    f = registry.get(facility_id)
    return None if f is None else f.properties()
