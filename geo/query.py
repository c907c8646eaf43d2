"""Feature queries: filter facilities and districts, order by distance, page — pure, no web.

The OGC API – Features endpoints, the export endpoint and the CLI all select
with the same :class:`FacilityFilter`, so "what matches" is defined once.

* ``bbox`` is ``(lon_min, lat_min, lon_max, lat_max)`` in WGS84; a point on the
  box's edge is inside (``covers``, as OGC's "intersects" asks). ``lon_min >
  lon_max`` means the box crosses the antimeridian, as OGC API allows.
* ``amenities`` are all required (a station *with* a microwave *and* a toilet).
* ``statuses`` empty means every status but ``removed``: removed facilities are
  only returned when asked for by name.
* ``verified`` is a :class:`DateRange` over ``verified_at`` (a Qingdao calendar
  date); facilities without ``verified_at`` never match a date filter.
* ``near`` orders by geodesic distance (WGS84 ellipsoid, metres) and
  ``radius_m`` keeps only those within it (a point exactly ``radius_m`` away is
  inside).

>>> from geo.model import Facility
>>> fs = [Facility(id=f"f{i}", kind="station", name="n", lon=120.38 + i / 100, lat=36.06,
...                district_adcode="370202", district="市南区") for i in range(3)]
>>> m = FacilityTable(fs).select(FacilityFilter(near=(120.40, 36.06), radius_m=1500))
>>> [f.id for f in m.facilities], [round(d) for d in m.distances_m]
(['f2', 'f1'], [0, 901])
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import shapely

from geo.crs import geodesic_distance_m
from geo.errors import ParameterError
from geo.hours import local_time
from geo.model import AMENITIES, Facility

__all__ = [
    "DateRange",
    "FacilityFilter",
    "FacilityTable",
    "Matches",
    "bbox_mask",
    "district_mask",
    "parse_bbox",
    "parse_datetime",
]

BBox = tuple[float, float, float, float]

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)([Zz]|[+-]\d{2}:\d{2}))?$"
)


@dataclass(frozen=True)
class DateRange:
    """Inclusive range of calendar dates (Qingdao time); ``None`` is an open end."""

    start: date | None = None
    end: date | None = None

    def __post_init__(self):
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"interval start {self.start} is after its end {self.end}")


def _instant(text: str) -> date:
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"{text[:40]!r} is not an RFC 3339 date (2025-06-18) or date-time "
                         "(2025-06-18T09:30:00Z, 2025-06-18T17:30:00+08:00)")
    if m.group(2) is None:
        return date.fromisoformat(m.group(1))
    stamp = f"{m.group(1)}T{m.group(2)}{'+00:00' if m.group(3) in 'Zz' else m.group(3)}"
    try:
        return local_time(datetime.fromisoformat(stamp)).date()
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a valid date-time") from None


def parse_datetime(text: str) -> DateRange:
    """Parse OGC API's ``datetime``: an instant, or an interval with ``..`` (or nothing) as open end.

    Date-times are converted to the Qingdao calendar date they fall on, since
    ``verified_at`` is a date.

    >>> parse_datetime("2025-06-18")
    DateRange(start=datetime.date(2025, 6, 18), end=datetime.date(2025, 6, 18))
    >>> parse_datetime("../2025-01-31T20:00:00Z")   # 04:00 on 1 February in Qingdao
    DateRange(start=None, end=datetime.date(2025, 2, 1))
    >>> parse_datetime("2025-02-01/2025-01-01")
    Traceback (most recent call last):
    ValueError: interval start 2025-02-01 is after its end 2025-01-01
    """
    text = text.strip()
    if "/" not in text:
        day = _instant(text)
        return DateRange(day, day)
    parts = text.split("/")
    if len(parts) != 2:
        raise ValueError(f"an interval has exactly one '/', got {text[:40]!r}")
    start, end = (None if p in ("", "..") else _instant(p) for p in parts)
    return DateRange(start, end)


def parse_bbox(values: Sequence[float]) -> BBox:
    """Check an OGC ``bbox`` (4 numbers, or 6 with heights, which are ignored) and return 4.

    >>> parse_bbox([120.3, 36.0, 0, 120.5, 36.2, 100])
    (120.3, 36.0, 120.5, 36.2)
    >>> parse_bbox([120.3, 36.2, 120.5, 36.0])
    Traceback (most recent call last):
    ValueError: the lower-left latitude 36.2 is above the upper-right latitude 36.0
    """
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4:
        raise ValueError(f"bbox has 4 numbers (lon_min,lat_min,lon_max,lat_max) or 6, got {len(values)}")
    lon_min, lat_min, lon_max, lat_max = (float(v) for v in values)
    for name, v, lim in (("longitude", lon_min, 180), ("latitude", lat_min, 90),
                         ("longitude", lon_max, 180), ("latitude", lat_max, 90)):
        if not -lim <= v <= lim:
            raise ValueError(f"bbox {name} {v} is outside -{lim}..{lim}")
    if lat_min > lat_max:
        raise ValueError(f"the lower-left latitude {lat_min} is above the upper-right latitude {lat_max}")
    return lon_min, lat_min, lon_max, lat_max


def _boxes(bbox: BBox) -> list:
    lon_min, lat_min, lon_max, lat_max = bbox
    if lon_min <= lon_max:
        return [shapely.box(lon_min, lat_min, lon_max, lat_max)]
    return [shapely.box(lon_min, lat_min, 180, lat_max), shapely.box(-180, lat_min, lon_max, lat_max)]


def bbox_mask(geometries, bbox: BBox) -> np.ndarray:
    """Which of ``geometries`` (a shapely array) intersect ``bbox``; the edge counts."""
    geoms = np.asarray(geometries)
    hit = np.zeros(len(geoms), dtype=bool)
    for box in _boxes(bbox):
        hit |= shapely.intersects(geoms, box)
    return hit


def district_mask(frame, *, bbox: BBox | None = None, districts: Iterable[str] = ()) -> np.ndarray:
    """Which rows of a district frame (``geo.geography.Districts.frame``) intersect ``bbox`` and are in
    ``districts`` (adcodes or Chinese/English names); both optional.

    >>> from geo.geography import load_districts
    >>> frame = load_districts().frame
    >>> list(frame["adcode"][district_mask(frame, bbox=(120.38, 36.06, 120.39, 36.07), districts=["市南区"])])
    ['370202']
    """
    keep = np.ones(len(frame), dtype=bool)
    if bbox is not None:
        keep &= bbox_mask(frame.geometry.values, bbox)
    wanted = list(districts)
    if wanted:
        keep &= frame["adcode"].isin(wanted).to_numpy() | frame["name"].isin(wanted).to_numpy() | \
            frame["name_en"].isin(wanted).to_numpy()
    return keep


@dataclass(frozen=True)
class FacilityFilter:
    """What to select; every field left empty selects everything (but removed facilities).

    ``radius_m`` needs ``near`` (a :class:`~geo.errors.ParameterError` naming radius_m otherwise).
    """

    bbox: BBox | None = None
    kinds: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()  # adcodes or names
    amenities: tuple[str, ...] = ()  # all of them required
    statuses: tuple[str, ...] = ()  # () = all but "removed"
    verified: DateRange | None = None
    near: tuple[float, float] | None = None  # (lon, lat)
    radius_m: float | None = None

    def __post_init__(self):
        if self.radius_m is not None and self.near is None:
            raise ParameterError("radius_m", self.radius_m, "used together with near=lon,lat",
                                 f"radius_m={self.radius_m:g} needs near=lon,lat (the point to measure from)")
        if self.radius_m is not None and not self.radius_m > 0:
            raise ValueError(f"radius_m must be > 0, got {self.radius_m}")
        unknown = [a for a in self.amenities if a not in AMENITIES]
        if unknown:
            raise ValueError(f"amenities must be among {', '.join(AMENITIES)}, got {unknown[0]!r}")

    @classmethod
    def of(cls, values: dict, *, kind: str | None = None) -> FacilityFilter:
        """The filter the parsed parameters ask for (``geo.registry_params.FACILITY_FILTERS``, or any of
        them: a missing one selects everything); ``kind`` fixes the kind (a one-kind collection).

        >>> FacilityFilter.of({"kind": ("station",), "district": ("370202",), "bbox": None})
        FacilityFilter(bbox=None, kinds=('station',), districts=('370202',), amenities=(), statuses=(), \
verified=None, near=None, radius_m=None)
        """
        get = values.get
        return cls(bbox=get("bbox"), kinds=(kind,) if kind else tuple(get("kind") or ()),
                   districts=tuple(get("district") or ()), amenities=tuple(get("amenity") or ()),
                   statuses=tuple(get("status") or ()), verified=get("datetime"), near=get("near"),
                   radius_m=get("radius_m"))


@dataclass(frozen=True)
class Matches:
    """Selected facilities in order; ``distances_m`` (geodesic) is set when the filter had ``near``."""

    facilities: tuple[Facility, ...]
    distances_m: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.facilities)

    def page(self, offset: int = 0, limit: int | None = None) -> Matches:
        """The ``limit`` matches after the first ``offset``."""
        stop = None if limit is None else offset + limit
        dist = None if self.distances_m is None else self.distances_m[offset:stop]
        return Matches(self.facilities[offset:stop], dist)


class FacilityTable:
    """Column arrays over one registry's facilities (removed ones included) for vectorised selection.

    Build it once per registry version; selecting 2,000 facilities then costs well
    under a millisecond plus the geodesic distances when ``near`` is given.
    """

    def __init__(self, facilities: Iterable[Facility]):
        self.facilities: tuple[Facility, ...] = tuple(facilities)
        fs = self.facilities
        self.lon = np.array([f.lon for f in fs], dtype="float64")
        self.lat = np.array([f.lat for f in fs], dtype="float64")
        self.kind = np.array([f.kind for f in fs], dtype=object)
        self.status = np.array([f.status for f in fs], dtype=object)
        self.adcode = np.array([f.district_adcode for f in fs], dtype=object)
        self.district = np.array([f.district for f in fs], dtype=object)
        self.verified = np.array([f.verified_at or "NaT" for f in fs], dtype="datetime64[D]")
        self._amenity_sets = [frozenset(f.amenities) for f in fs]
        self._position = {f.id: i for i, f in enumerate(fs)}

    def __len__(self) -> int:
        return len(self.facilities)

    def get(self, facility_id: str) -> Facility | None:
        i = self._position.get(facility_id)
        return None if i is None else self.facilities[i]

    def mask(self, flt: FacilityFilter) -> np.ndarray:
        """Boolean mask of the facilities that pass every filter but ``radius_m``."""
        keep = np.ones(len(self.facilities), dtype=bool)
        if flt.statuses:
            keep &= np.isin(self.status, list(flt.statuses))
        else:
            keep &= self.status != "removed"
        if flt.kinds:
            keep &= np.isin(self.kind, list(flt.kinds))
        if flt.districts:
            wanted = list(flt.districts)
            keep &= np.isin(self.adcode, wanted) | np.isin(self.district, wanted)
        if flt.bbox is not None:
            lon_min, lat_min, lon_max, lat_max = flt.bbox
            in_lat = (self.lat >= lat_min) & (self.lat <= lat_max)
            if lon_min <= lon_max:
                in_lon = (self.lon >= lon_min) & (self.lon <= lon_max)
            else:  # crosses the antimeridian
                in_lon = (self.lon >= lon_min) | (self.lon <= lon_max)
            keep &= in_lat & in_lon
        if flt.verified is not None:
            known = ~np.isnat(self.verified)
            if flt.verified.start is not None:
                known &= self.verified >= np.datetime64(flt.verified.start, "D")
            if flt.verified.end is not None:
                known &= self.verified <= np.datetime64(flt.verified.end, "D")
            keep &= known
        if flt.amenities:
            need = frozenset(flt.amenities)
            idx = np.flatnonzero(keep)
            keep[idx] = [need <= self._amenity_sets[i] for i in idx]
        return keep

    def select(self, flt: FacilityFilter) -> Matches:
        """The matching facilities: in registry order, or nearest first when ``flt.near`` is set."""
        idx = np.flatnonzero(self.mask(flt))
        if flt.near is None:
            return Matches(tuple(self.facilities[i] for i in idx))
        lon, lat = flt.near
        dist = np.asarray(geodesic_distance_m(lon, lat, self.lon[idx], self.lat[idx]), dtype="float64")
        if flt.radius_m is not None:
            inside = dist <= flt.radius_m
            idx, dist = idx[inside], dist[inside]
        order = np.argsort(dist, kind="stable")  # ties keep registry order
        return Matches(tuple(self.facilities[i] for i in idx[order]), dist[order])
