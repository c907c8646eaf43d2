"""Nearest hits as JSON, fast: each facility's fixed fields are serialised once.

A hit is the facility's fixed fields (name, address, amenities …, its position in the
requested datum) plus the per-query ones (distance, minutes, open state, navigation from
the query point). The fixed part is serialised on first use, per registry version
(one :class:`HitEncoder` per :class:`~geo.nearest.FacilityIndex`) and output datum, and
joined with the per-query part (formatted directly: :func:`query_fields`); the hits of an answer go
into it as one ``orjson.Fragment``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from geo import datum
from geo.hours import QINGDAO_TZ
from geo.model import Facility
from geo.navigation import BAIDU_DIRECTION, baidu_origin, destination_links
from geo.nearest import FacilityIndex, Hit
from geo.store.resident import ResidentIndex

__all__ = ["HitEncoder", "encode_record", "fixed_parts", "iso_minutes"]


@lru_cache(maxsize=4096)
def iso_minutes(dt) -> str | None:
    """A local Qingdao time as ISO 8601 with its offset, to the minute (``None`` stays ``None``)."""
    return None if dt is None else dt.replace(tzinfo=QINGDAO_TZ).isoformat(timespec="minutes")


def fixed_fields(f: Facility, crs: str) -> dict[str, Any]:
    """The fields of a hit on ``f`` that do not depend on the query."""
    lon, lat = (f.lon, f.lat) if crs == "wgs84" else datum.convert(f.lon, f.lat, src="wgs84", dst=crs)
    return {
        "id": f.id, "name": f.name, "name_en": f.name_en, "kind": f.kind,
        "lon": round(lon, 7), "lat": round(lat, 7),
        "district": f.district, "township": f.township, "address": f.address,
        "status": f.status, "available": f.status == "open", "opening_hours": f.opening_hours,
        "hours_known": f.opening_hours is not None,
        "amenities": list(f.amenities), "access": f.access, "entry": list(f.entry),
        "capacity": f.capacity, "phone": f.phone, "host": f.host, "verified_at": f.verified_at,
        "sample": f.sample,
    }


def fixed_parts(f: Facility, crs: str) -> tuple[bytes, bytes, bytes]:
    """A hit on ``f``'s fixed JSON: (``{"id":…,`` up to the per-query fields, the navigation object up to
    the Baidu origin, the rest of the Baidu link and the closing braces)."""
    amap, baidu_tail, geo = destination_links(f.lon, f.lat, f.name)
    nav = orjson.dumps({"amap": amap, "geo": geo, "baidu": BAIDU_DIRECTION + "\0" + baidu_tail})
    head, tail = nav.split(b"\\u0000")  # the origin goes where the NUL marker is
    return orjson.dumps(fixed_fields(f, crs))[:-1] + b",", b',"navigation":' + head, tail + b"}"


def encode_record(f: Facility) -> bytes:
    """``f``'s WGS84 fixed parts as one string (NUL-separated: JSON never holds a raw NUL), what a
    ``geo.store.resident.ResidentIndex`` keeps of each facility."""
    return b"\0".join(fixed_parts(f, "wgs84"))


class HitEncoder:
    """Serialises hits from one index (so one registry version): ``encoder.index.query(...)`` then
    :meth:`hits`."""

    def __init__(self, index: FacilityIndex):
        self.index = index
        self._fixed: dict[tuple[int, str], tuple[bytes, bytes, bytes]] = {}  # (position, datum) -> parts
        self._resident = isinstance(index, ResidentIndex)

    def fixed_fields(self, i: int, crs: str) -> dict[str, Any]:
        """The fields of facility ``i``'s hit that do not depend on the query."""
        return fixed_fields(self.index.facilities[i], crs)

    def _fixed_parts(self, i: int, crs: str) -> tuple[bytes, bytes, bytes]:
        """Facility ``i``'s fixed JSON (:func:`fixed_parts`), kept; a resident index's WGS84 ones are its records."""
        if self._resident and crs == "wgs84":  # reading the record (~0.7 µs) costs less than keeping it
            return tuple(self.index.record(i).split(b"\0"))
        key = (i, crs)
        parts = self._fixed.get(key)
        if parts is None:
            parts = fixed_parts(self.index.facilities[i], crs)
            self._fixed[key] = parts  # a racing thread may store the same bytes again: harmless
        return parts

    def hit(self, h: Hit, crs: str, origin: bytes) -> bytes:
        """One hit as a JSON object: the fixed fields, then the per-query ones (``origin``: the
        Baidu link's ``origin=…&`` part, see :meth:`hits`)."""
        prefix, nav_head, nav_tail = self._fixed_parts(h.index, crs)
        return b"".join((prefix, query_fields(h), nav_head, origin, nav_tail))

    def hits(self, hits: list[Hit], crs: str, origin: tuple[float, float]) -> orjson.Fragment:
        """The hits as one JSON array; navigation links start from WGS84 ``origin`` (the query point)."""
        start = baidu_origin(origin).encode()  # ASCII: digits and percent-escapes, nothing to escape in JSON
        return orjson.Fragment(b"[" + b",".join([self.hit(h, crs, start) for h in hits]) + b"]")


#: JSON of a hit's ``open_now`` (None: the hours are unknown).
_JSON = {True: "true", False: "false", None: "null"}

#: Below this a float's ``{:.1f}`` is the JSON orjson writes for it rounded to 0.1 (both the shortest
#: correctly rounded decimal); from 1e16 on orjson would switch to an exponent.
_PLAIN_LIMIT = 1e15


def _minutes_json(dt) -> str:
    return "null" if dt is None else f'"{iso_minutes(dt)}"'  # ASCII digits, "-", ":" and "+": nothing to escape


def query_fields(h: Hit) -> bytes:
    """A hit's per-query fields as the members of a JSON object (no braces), as :func:`orjson.dumps` writes the
    dict of them with the numbers rounded to 0.1 — formatted directly, the busiest route's cost (a non-finite or
    huge number falls back to orjson, which writes ``null`` for infinity)."""
    d, b, w, e = h.distance_m, h.bearing_deg, h.walk_min, h.ebike_min
    if not (-_PLAIN_LIMIT < d < _PLAIN_LIMIT and -_PLAIN_LIMIT < b < _PLAIN_LIMIT
            and -_PLAIN_LIMIT < w < _PLAIN_LIMIT and -_PLAIN_LIMIT < e < _PLAIN_LIMIT):
        return orjson.dumps(query_fields_dict(h))[1:-1]
    is_open = h.open_now
    return (f'"distance_m":{d:.1f},"bearing_deg":{b:.1f},"walk_min":{w:.1f},"ebike_min":{e:.1f},'
            f'"within_radius":{_JSON[h.within_radius]},"open_now":{_JSON[is_open]},'
            f'"closes_at":{_minutes_json(h.next_change) if is_open else "null"},'
            f'"opens_at":{"null" if is_open else _minutes_json(h.next_change)}').encode()


def query_fields_dict(h: Hit) -> dict[str, Any]:
    """A hit's per-query fields (the reference :func:`query_fields` writes as JSON)."""
    return {
        "distance_m": round(h.distance_m, 1),
        "bearing_deg": round(h.bearing_deg, 1),
        "walk_min": round(h.walk_min, 1),
        "ebike_min": round(h.ebike_min, 1),
        "within_radius": h.within_radius,
        "open_now": h.open_now,  # None: the hours are unknown (next_change is None too)
        "closes_at": iso_minutes(h.next_change) if h.open_now else None,
        "opens_at": None if h.open_now else iso_minutes(h.next_change),
    }
