"""Nearest hits as JSON, fast: each facility's fixed fields are serialised once.

A hit is the facility's fixed fields (name, address, amenities …, its position in the
requested datum) plus the per-query ones (distance, minutes, open state, navigation from
the query point). The fixed part is serialised on first use, per registry version
(one :class:`HitEncoder` per :class:`~geo.nearest.FacilityIndex`) and output datum, and
joined with the per-query part as an ``orjson.Fragment``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from geo import datum
from geo.hours import QINGDAO_TZ
from geo.navigation import BAIDU_DIRECTION, baidu_origin, destination_links
from geo.nearest import FacilityIndex, Hit

__all__ = ["HitEncoder", "iso_minutes"]


@lru_cache(maxsize=4096)
def iso_minutes(dt) -> str | None:
    """A local Qingdao time as ISO 8601 with its offset, to the minute (``None`` stays ``None``)."""
    return None if dt is None else dt.replace(tzinfo=QINGDAO_TZ).isoformat(timespec="minutes")


class HitEncoder:
    """Serialises hits from one index (so one registry version): ``encoder.index.query(...)`` then
    :meth:`hits`."""

    def __init__(self, index: FacilityIndex):
        self.index = index
        self._fixed: dict[tuple[int, str], bytes] = {}  # (position, datum) -> b'{"id":…,'

    def fixed_fields(self, i: int, crs: str) -> dict[str, Any]:
        """The fields of facility ``i``'s hit that do not depend on the query."""
        f = self.index.facilities[i]
        lon, lat = (f.lon, f.lat) if crs == "wgs84" else datum.convert(f.lon, f.lat, src="wgs84", dst=crs)
        return {
            "id": f.id, "name": f.name, "name_en": f.name_en, "kind": f.kind,
            "lon": round(lon, 7), "lat": round(lat, 7),
            "district": f.district, "township": f.township, "address": f.address,
            "status": f.status, "available": f.status == "open", "opening_hours": f.opening_hours,
            "amenities": list(f.amenities), "access": f.access, "entry": list(f.entry),
            "capacity": f.capacity, "phone": f.phone, "host": f.host, "verified_at": f.verified_at,
            "sample": f.sample,
        }

    def _prefix(self, i: int, crs: str) -> bytes:
        key = (i, crs)
        prefix = self._fixed.get(key)
        if prefix is None:
            prefix = orjson.dumps(self.fixed_fields(i, crs))[:-1] + b","
            self._fixed[key] = prefix  # a racing thread may store the same bytes again: harmless
        return prefix

    def hit(self, h: Hit, crs: str, baidu_start: str) -> orjson.Fragment:
        """One hit as a JSON object: the fixed fields, then the per-query ones
        (``baidu_start``: the Baidu link up to the destination, see :meth:`hits`)."""
        f = h.facility
        amap, baidu_tail, geo = destination_links(f.lon, f.lat, f.name)
        query_part = orjson.dumps({
            "distance_m": round(h.distance_m, 1),
            "bearing_deg": round(h.bearing_deg, 1),
            "walk_min": round(h.walk_min, 1),
            "ebike_min": round(h.ebike_min, 1),
            "within_radius": h.within_radius,
            "open_now": h.open_now,
            "closes_at": iso_minutes(h.next_change) if h.open_now else None,
            "opens_at": None if h.open_now else iso_minutes(h.next_change),
            "navigation": {"amap": amap, "baidu": baidu_start + baidu_tail, "geo": geo},
        })
        return orjson.Fragment(self._prefix(h.index, crs) + query_part[1:])

    def hits(self, hits: list[Hit], crs: str, origin: tuple[float, float]) -> list[orjson.Fragment]:
        """The hits as JSON; navigation links start from WGS84 ``origin`` (the query point)."""
        baidu_start = BAIDU_DIRECTION + baidu_origin(origin)
        return [self.hit(h, crs, baidu_start) for h in hits]
