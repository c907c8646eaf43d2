"""The facility data model: one table per vocabulary, and the :class:`Facility` record.

Every vocabulary lives in exactly one table here, with its Chinese and English
labels, so a new kind or amenity is one line. Validation (``geo.validate``), the
sample generator, exports and the web pages all read these tables.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from geo.vocab import (  # noqa: F401 - re-exported: the tables live in geo.vocab (light to import)
    ACCESS,
    AMENITIES,
    CITY_BOUNDS,
    CITY_BOUNDS_TEXT,
    ENTRY,
    KINDS,
    STATUS,
    VOCABULARIES,
    WORKER_LABELS,
    WORKER_TYPES,
    Label,
)

__all__ = [
    "ACCESS",
    "AMENITIES",
    "CITY_BOUNDS",
    "CITY_BOUNDS_TEXT",
    "ENTRY",
    "FIELDS",
    "Facility",
    "KINDS",
    "STATUS",
    "VOCABULARIES",
    "WORKER_TYPES",
    "Label",
    "bounds_text",
    "in_city_bounds",
    "region_name",
]


def in_city_bounds(lon, lat):
    """Whether WGS84 points lie in the bounds of the region served (``geo.regions.active_region``; Qingdao:
    :data:`CITY_BOUNDS`); NaN and infinities do not: a bool for scalars, a boolean array for arrays.

    >>> in_city_bounds(120.38, 36.06), in_city_bounds(36.06, 120.38), in_city_bounds(float("nan"), 36.0)
    (True, False, False)
    >>> in_city_bounds([120.38, 121.5], [36.06, 36.0]).tolist()
    [True, False]
    """
    from geo.regions import active_region

    return active_region().in_bounds(lon, lat)


def bounds_text() -> str:
    """The bounds of the region served, in words (Qingdao: :data:`CITY_BOUNDS_TEXT`)."""
    from geo.regions import active_region

    return active_region().bounds_text


def region_name() -> str:
    """The English name of the region served, for messages ("outside Qingdao")."""
    from geo.regions import active_region

    return active_region().name_en


@dataclass(frozen=True)
class Facility:
    """One facility. Coordinates are WGS84; ``source_*`` keep what an import gave."""

    id: str
    kind: str
    name: str
    lon: float
    lat: float
    district_adcode: str
    district: str
    name_en: str = ""
    township: str = ""
    address: str = ""
    amenities: tuple[str, ...] = ()
    #: OSM opening_hours syntax; None = unknown (an empty cell): never counted as open unless asked.
    opening_hours: str | None = None
    #: Follows China's working calendar: closed on statutory holidays (unless its hours say otherwise) and
    #: open on official make-up working days with the hours of the weekday replaced (``geo.hours``).
    workday_calendar: bool = False
    access: str = "outdoor_workers"
    entry: tuple[str, ...] = ("staffed",)
    capacity: int | None = None
    status: str = "open"
    verified_at: str = ""
    phone: str = ""
    host: str = ""
    sample: bool = False
    source_crs: str = "wgs84"
    source_lon: float | None = None
    source_lat: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def hours_known(self) -> bool:
        """Whether the opening hours are known (``opening_hours`` is not None)."""
        return self.opening_hours is not None

    def properties(self) -> dict[str, Any]:
        """Every field (``extra`` aside) as JSON-ready values, in :data:`FIELDS` order, then ``hours_known``
        (derived: read by nobody who builds a facility from properties)."""
        d = {name: getattr(self, name) for name in FIELDS}
        d["amenities"] = list(self.amenities)
        d["entry"] = list(self.entry)
        d["hours_known"] = self.opening_hours is not None
        return d

    def replace(self, **changes: Any) -> Facility:
        return dataclasses.replace(self, **changes)


#: Field order for tables (CSV, GeoPackage); list-valued fields join with ';'.
FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Facility) if f.name != "extra")
LIST_FIELDS = ("amenities", "entry")
