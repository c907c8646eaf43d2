"""The facility registry: an immutable snapshot of every record, and its GeoJSON form.

The store that persists it (GeoPackage or PostGIS, versions, audit) is ``geo.store``;
GeoJSON stays the import/export and shipped-sample format (:func:`read_registry_file`).
A registry is validated whole: a file that fails validation is refused, never half-loaded.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo.errors import Unprocessable
from geo.export import dumps_geojson, feature_collection
from geo.geography import Districts
from geo.model import Facility
from geo.tabular import ReadError, geojson_rows
from geo.validate import Problem, validate_rows

__all__ = ["ImportReport", "Registry", "RegistryError", "read_registry_file", "registry_from_geojson",
           "registry_geojson"]


class RegistryError(Unprocessable):
    """The registry (or a file or change for it) cannot be used; ``problems`` says why, per row (a 422)."""

    code = "validation_failed"

    def __init__(self, message: str, problems: Sequence[Problem] = ()):
        self.problems = list(problems)
        super().__init__(message, details=[{"row": p.row, "field": p.field, "message": p.message,
                                            "severity": p.severity} for p in self.problems] or None)


@dataclass(frozen=True)
class Registry:
    facilities: tuple[Facility, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    version: str = ""  # the store version number, or the sha256 of the GeoJSON it was read from

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


def registry_from_geojson(data: bytes, districts: Districts, *, origin: str = "registry file") -> Registry:
    """Parse and validate a whole GeoJSON registry (the shipped sample, a legacy data directory).

    Refused whole (``RegistryError`` with every problem) if any record is invalid; the
    version is the sha256 of the bytes.
    """
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad bytes or JSON, an integer of 4,300+ digits, deep nesting
        raise RegistryError(f"{origin} is not valid JSON: {exc}") from None
    meta = doc.get("metadata", {}) if isinstance(doc, dict) else {}
    try:
        rows = geojson_rows(doc if isinstance(doc, dict) else data)
    except ReadError as exc:
        raise RegistryError(f"{origin} cannot be read: {exc}") from None
    result = validate_rows(rows, districts)
    if not result.ok:
        raise RegistryError(f"{origin} has {len(result.errors)} invalid records", result.errors)
    return Registry(tuple(result.facilities), meta if isinstance(meta, dict) else {}, _sha256(data))


def read_registry_file(path: str | Path, districts: Districts) -> Registry:
    """:func:`registry_from_geojson` of a file; an unreadable file is a ``RegistryError`` too."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RegistryError(f"registry file {path} cannot be read: {exc.strerror}") from None
    return registry_from_geojson(data, districts, origin=f"registry file {path.name}")


def registry_geojson(registry: Registry) -> bytes:
    """The registry as an indented GeoJSON file (the shipped-sample format)."""
    meta = dict(registry.meta)
    meta["sample"] = registry.is_sample
    meta["count"] = len(registry)
    return (dumps_geojson(feature_collection(registry.facilities, meta), indent=1) + "\n").encode("utf-8")
