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

__all__ = ["BAIDU_DIRECTION", "MODES", "baidu_origin", "destination_links", "navigation_links"]

#: travel mode -> (AMap mode, Baidu mode)
MODES = {"walk": ("walk", "walking"), "ebike": ("ride", "riding")}
BAIDU_DIRECTION = "https://api.map.baidu.com/direction?"
_MY_POSITION = quote_plus("|name:我的位置")


@lru_cache(maxsize=8192)
def destination_links(lon: float, lat: float, name: str, mode: str = "ebike") -> tuple[str, str, str]:
    """(AMap URI, Baidu query tail, geo: URI) for one WGS84 destination; built once per facility.

    The full Baidu link is ``BAIDU_DIRECTION + baidu_origin(origin) + tail``.
    """
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
    amap, baidu_tail, geo = destination_links(float(lon), float(lat), name, mode)
    return {"amap": amap, "baidu": BAIDU_DIRECTION + baidu_origin(origin) + baidu_tail, "geo": geo}


def baidu_origin(origin: tuple[float, float] | None) -> str:
    """The ``origin=…&`` part of a Baidu link from WGS84 ``origin`` (``""`` for none).

    >>> baidu_origin(None)
    ''
    >>> baidu_origin((120.3843, 36.0620)).startswith("origin=latlng%3A36.06")
    True
    """
    if origin is None:
        return ""
    blon, blat = wgs84_to_bd09(float(origin[0]), float(origin[1]))
    # what quote_plus makes of "latlng:{lat},{lon}|name:我的位置" (the numbers need no quoting)
    return f"origin=latlng%3A{blat:.6f}%2C{blon:.6f}{_MY_POSITION}&"
