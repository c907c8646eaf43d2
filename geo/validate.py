"""Validation: raw rows -> facilities, collecting *every* problem with its row number.

Nothing is raised per problem: :func:`validate_rows` returns all of them at once
so a person can fix a spreadsheet in one pass. Values may be given as the
vocabulary key (``microwave``) or as its Chinese or English label (``微波炉``).
Text is stored as text: HTML in a name is kept verbatim and escaped where shown.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from geo import datum, hours
from geo.geography import Districts
from geo.model import ACCESS, AMENITIES, ENTRY, KINDS, STATUS, Facility, Label, in_city_bounds
from geo.regions import active_region
from geo.tabular import RawRow

__all__ = ["MAX_LEN", "Problem", "ValidationResult", "validate_facilities", "validate_rows"]

#: Longest accepted text per field (characters).
MAX_LEN = {
    "id": 64,
    "name": 100,
    "name_en": 150,
    "township": 50,
    "address": 200,
    "opening_hours": 255,
    "phone": 40,
    "host": 100,
    "district": 20,
}
_SPLIT = re.compile(r"[;；,，、|/]\s*")


@dataclass(frozen=True)
class Problem:
    row: int
    field: str
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.message}"


@dataclass
class ValidationResult:
    facilities: list[Facility] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def _vocab_lookup(table: dict[str, Label]) -> dict[str, str]:
    out = {}
    for key, label in table.items():
        for alias in (key, label.zh, label.en):
            out[alias.strip().lower()] = key
    return out


_KIND = _vocab_lookup(KINDS)
_AMENITY = _vocab_lookup(AMENITIES)
_ACCESS = _vocab_lookup(ACCESS)
_ENTRY = _vocab_lookup(ENTRY)
_STATUS = _vocab_lookup(STATUS)
_TRUE = {"true", "1", "yes", "y", "是"}
_FALSE = {"false", "0", "no", "n", "否", ""}


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _text(v: Any) -> str:
    if _blank(v):
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _number(v: Any) -> float | None:
    """Parse a coordinate; None if missing or not a finite number."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        try:
            return float(v)
        except OverflowError:  # an int beyond float range (a GeoJSON coordinate of 400 digits)
            return math.inf if v > 0 else -math.inf
    try:
        return float(str(v).strip().replace("，", "."))
    except ValueError:
        return None


def _list(v: Any) -> list[str]:
    if isinstance(v, list | tuple):
        return [_text(x) for x in v if not _blank(x)]
    return [p for p in (s.strip() for s in _SPLIT.split(_text(v))) if p]


def _stable_id(kind: str, name: str, lon: float, lat: float) -> str:
    digest = hashlib.sha1(f"{kind}|{name}|{lon:.6f}|{lat:.6f}".encode()).hexdigest()[:10]
    return f"imp-{digest}"


class _RowChecker:
    def __init__(self, row: int, problems: list[Problem]):
        self.row = row
        self.problems = problems
        self.failed = False

    def error(self, fld: str, msg: str) -> None:
        self.problems.append(Problem(self.row, fld, msg))
        self.failed = True

    def warn(self, fld: str, msg: str) -> None:
        self.problems.append(Problem(self.row, fld, msg, "warning"))


def _near() -> str:
    """Where the region served lies, for a swapped-coordinates message ("Qingdao is near lon 120.4, lat 36.3")."""
    r = active_region()
    return f"{r.name_en} is near lon {r.center[0]:.1f}, lat {r.center[1]:.1f}"


def _check_coords(v: dict, c: _RowChecker, crs: str) -> tuple[float, float, float | None, float | None]:
    raw_lon, raw_lat = v.get("lon"), v.get("lat")
    if _blank(raw_lon) or _blank(raw_lat):
        missing = [n for n, r in (("lon", raw_lon), ("lat", raw_lat)) if _blank(r)]
        c.error("/".join(missing), "coordinate missing (经度/纬度 are required)")
        return math.nan, math.nan, None, None
    lon, lat = _number(raw_lon), _number(raw_lat)
    if lon is None or lat is None:
        bad = [f"{n}={_text(r)[:30]!r}" for n, r, x in (("lon", raw_lon, lon), ("lat", raw_lat, lat)) if x is None]
        c.error("lon/lat", f"coordinate is not a number: {', '.join(bad)}")
        return math.nan, math.nan, None, None
    if not (math.isfinite(lon) and math.isfinite(lat)):
        c.error("lon/lat", f"coordinate is not finite: lon={lon}, lat={lat}")
        return math.nan, math.nan, None, None
    if not in_city_bounds(lon, lat):
        if in_city_bounds(lat, lon):
            c.error(
                "lon/lat",
                f"latitude and longitude look swapped: lon={lon}, lat={lat} "
                f"({_near()}; swap the two columns)",
            )
        else:
            r = active_region()
            c.error("lon/lat", f"point lon={lon}, lat={lat} is outside {r.name_en} ({r.bounds_text})")
        return math.nan, math.nan, None, None
    if crs == "wgs84":
        return lon, lat, None, None
    wlon, wlat = datum.convert(lon, lat, src=crs, dst="wgs84")
    return wlon, wlat, lon, lat


def _check_row(raw: RawRow, districts: Districts, crs: str, problems: list[Problem]) -> dict | None:
    v = raw.values
    c = _RowChecker(raw.row, problems)
    if "_geometry_error" in v:
        c.error("geometry", v["_geometry_error"])
    if "_properties_error" in v:
        c.error("properties", v["_properties_error"])
    for fld, limit in MAX_LEN.items():
        t = _text(v.get(fld))
        if len(t) > limit:
            c.error(fld, f"text is {len(t)} characters long; at most {limit} allowed")

    name = _text(v.get("name"))
    if not name:
        c.error("name", "name is empty (名称 is required)")

    kind_raw = _text(v.get("kind"))
    kind = _KIND.get(kind_raw.lower())
    if kind is None:
        c.error("kind", f"unknown kind {kind_raw[:40]!r}; allowed: {', '.join(KINDS)} (or 工会驿站, …)")

    amenities = []
    for a in _list(v.get("amenities")):
        key = _AMENITY.get(a.lower())
        if key is None:
            c.error("amenities", f"unknown amenity {a[:40]!r}; allowed: {', '.join(AMENITIES)}")
        elif key not in amenities:
            amenities.append(key)

    oh = _text(v.get("opening_hours")) or None  # empty: unknown (warned below if the row is kept)
    if oh is not None and not hours.is_valid(oh):
        c.error("opening_hours", f"opening hours {oh[:60]!r} are not valid OSM opening_hours syntax "
                "(e.g. '24/7', 'Mo-Fr 08:00-18:00', 'Mo-Su 22:00-06:00')")

    def vocab(fld: str, table: dict, lookup: dict, default: str) -> str:
        t = _text(v.get(fld))
        if not t:
            return default
        key = lookup.get(t.lower())
        if key is None:
            c.error(fld, f"unknown {fld} {t[:40]!r}; allowed: {', '.join(table)}")
            return default
        return key

    access = vocab("access", ACCESS, _ACCESS, "outdoor_workers")
    status = vocab("status", STATUS, _STATUS, "open")
    entry = []
    for e in _list(v.get("entry")) or ["staffed"]:
        key = _ENTRY.get(e.lower())
        if key is None:
            c.error("entry", f"unknown entry {e[:40]!r}; allowed: {', '.join(ENTRY)}")
        elif key not in entry:
            entry.append(key)

    capacity = None
    if not _blank(v.get("capacity")):
        num = _number(v.get("capacity"))
        if num is None or not math.isfinite(num) or num < 0 or num != int(num) or num > 100_000:
            c.error("capacity", f"capacity must be a whole number 0–100000, got {_text(v.get('capacity'))[:30]!r}")
        else:
            capacity = int(num)

    verified = v.get("verified_at")
    verified_s = ""
    if isinstance(verified, datetime | date):
        verified_s = (verified.date() if isinstance(verified, datetime) else verified).isoformat()
    elif not _blank(verified):
        try:
            verified_s = date.fromisoformat(_text(verified)[:10]).isoformat()
        except ValueError:
            c.error("verified_at", f"date must be YYYY-MM-DD, got {_text(verified)[:30]!r}")

    flags = {}
    for fld in ("sample", "workday_calendar"):
        t = _text(v.get(fld)).lower()
        if t not in _TRUE | _FALSE:
            c.error(fld, f"{fld} must be true or false, got {t[:20]!r}")
        flags[fld] = t in _TRUE

    lon, lat, src_lon, src_lat = _check_coords(v, c, crs)
    adcode = ""
    if not math.isnan(lon):
        adcode = str(districts.locate(lon, lat)[0])
        if not adcode:
            c.error("lon/lat", f"point lon={lon:.6f}, lat={lat:.6f} is not on land inside any "
                    f"{active_region().name_en} district")
    district_name = districts.name_of(adcode) if adcode else ""
    given_district = _text(v.get("district"))
    if adcode and given_district and given_district not in (district_name, adcode):
        c.warn("district", f"the point lies in {district_name} but the district column says {given_district!r}; "
               f"{district_name} is used")

    if c.failed:
        return None
    if oh is None:
        c.warn("opening_hours", "opening hours are empty: stored as unknown (never counted as open); "
               "fill in e.g. '24/7' or 'Mo-Fr 08:00-18:00'")
    return dict(
        id=_text(v.get("id")) or _stable_id(kind, name, lon, lat),
        kind=kind,
        name=name,
        lon=round(lon, 7),
        lat=round(lat, 7),
        district_adcode=adcode,
        district=district_name,
        name_en=_text(v.get("name_en")),
        township=_text(v.get("township")),
        address=_text(v.get("address")),
        amenities=tuple(amenities),
        opening_hours=None if oh is None else hours.Hours.parse(oh).expr,
        workday_calendar=flags["workday_calendar"],
        access=access,
        entry=tuple(entry),
        capacity=capacity,
        status=status,
        verified_at=verified_s,
        phone=_text(v.get("phone")),
        host=_text(v.get("host")),
        sample=flags["sample"],
        source_crs=crs if crs != "wgs84" else _text(v.get("source_crs")).lower() or "wgs84",
        source_lon=src_lon if src_lon is not None else _number(v.get("source_lon")),
        source_lat=src_lat if src_lat is not None else _number(v.get("source_lat")),
    )


def validate_rows(rows: Sequence[RawRow], districts: Districts, *, crs: str = "wgs84") -> ValidationResult:
    """Check every row; return the facilities that passed and every problem found."""
    if crs not in datum.DATUMS:
        raise ValueError(f"crs must be one of {', '.join(datum.DATUMS)}, got {crs!r}")
    result = ValidationResult()
    first_row_of: dict[str, int] = {}
    for raw in rows:
        rec = _check_row(raw, districts, crs, result.problems)
        rid = _text(raw.values.get("id")) or (rec["id"] if rec else "")
        if rid:
            if rid in first_row_of:
                result.problems.append(
                    Problem(raw.row, "id", f"duplicate id {rid[:64]!r} (first used in row {first_row_of[rid]})")
                )
                continue
            first_row_of[rid] = raw.row
        if rec is not None:
            result.facilities.append(Facility(**rec))
    return result


def validate_facilities(facilities: Iterable[Facility], districts: Districts) -> ValidationResult:
    """Re-check facilities already in a registry (``workermap validate``)."""
    rows = []
    for i, f in enumerate(facilities, start=1):
        props = f.properties()
        for flag in ("sample", "workday_calendar"):
            props[flag] = "true" if props[flag] else "false"
        if f.source_crs != "wgs84":
            props["source_crs"] = f.source_crs
        rows.append(RawRow(i, props))
    return validate_rows(rows, districts)
