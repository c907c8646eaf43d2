"""One-tap navigation links, each with the destination in the datum its app expects.

* AMap (Gaode) web URI: GCJ-02, stated with ``coordinate=gaode``.
* Baidu web URI: BD-09, stated with ``coord_type=bd09ll``.
* ``geo:`` URI (RFC 5870): WGS84, which Android hands to any map app.

>>> links = navigation_links(120.3843, 36.0620, "五四广场驿站", mode="ebike")
>>> links["geo"]
'geo:36.0620000,120.3843000?q=36.0620000,120.3843000(%E4%BA%94%E5%9B%9B%E5%B9%BF%E5%9C%BA%E9%A9%BF%E7%AB%99)'
>>> "coordinate=gaode" in links["amap"] and "coord_type=bd09ll" in links["baidu"]
True
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote, quote_plus, urlencode

from geo.datum import wgs84_to_bd09, wgs84_to_gcj02

__all__ = ["MODES", "navigation_links"]

#: travel mode -> (AMap mode, Baidu mode)
MODES = {"walk": ("walk", "walking"), "ebike": ("ride", "riding")}


@lru_cache(maxsize=8192)
def _destination(lon: float, lat: float, name: str, mode: str) -> tuple[str, str, str]:
    """(AMap URI, Baidu query tail, geo: URI) for one destination; built once per facility."""
    amap_mode, baidu_mode = MODES[mode]
    glon, glat = wgs84_to_gcj02(lon, lat)
    amap = {"to": f"{glon:.6f},{glat:.6f},{name}", "mode": amap_mode, "coordinate": "gaode",
            "callnative": "1", "src": "qingdao-workermap"}
    blon, blat = wgs84_to_bd09(lon, lat)
    baidu = {"destination": f"latlng:{blat:.6f},{blon:.6f}|name:{name}", "mode": baidu_mode,
             "region": "青岛", "output": "html", "coord_type": "bd09ll", "src": "qingdao.workermap"}
    label = quote(name, safe="")
    return ("https://uri.amap.com/navigation?" + urlencode(amap), urlencode(baidu),
            f"geo:{lat:.7f},{lon:.7f}?q={lat:.7f},{lon:.7f}({label})")


def navigation_links(lon: float, lat: float, name: str, *, mode: str = "ebike",
                     origin: tuple[float, float] | None = None) -> dict[str, str]:
    """AMap, Baidu and geo: links to WGS84 ``(lon, lat)``.

    AMap starts from the phone's own position (no ``from``); Baidu's web direction
    page needs an origin, the WGS84 ``origin`` (e.g. the query point) converted to BD-09.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    amap, baidu_tail, geo = _destination(float(lon), float(lat), name, mode)
    baidu = baidu_tail if origin is None else _baidu_origin(float(origin[0]), float(origin[1])) + baidu_tail
    return {"amap": amap, "baidu": "https://api.map.baidu.com/direction?" + baidu, "geo": geo}


@lru_cache(maxsize=256)
def _baidu_origin(lon: float, lat: float) -> str:
    blon, blat = wgs84_to_bd09(lon, lat)
    return "origin=" + quote_plus(f"latlng:{blat:.6f},{blon:.6f}|name:我的位置") + "&"
