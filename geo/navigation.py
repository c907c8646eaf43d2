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

from urllib.parse import quote, urlencode

from geo.datum import wgs84_to_bd09, wgs84_to_gcj02

__all__ = ["MODES", "navigation_links"]

#: travel mode -> (AMap mode, Baidu mode)
MODES = {"walk": ("walk", "walking"), "ebike": ("ride", "riding")}


def navigation_links(lon: float, lat: float, name: str, *, mode: str = "ebike",
                     origin: tuple[float, float] | None = None) -> dict[str, str]:
    """AMap, Baidu and geo: links to WGS84 ``(lon, lat)``; ``origin`` is WGS84 too."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    amap_mode, baidu_mode = MODES[mode]
    glon, glat = wgs84_to_gcj02(lon, lat)
    amap = {"to": f"{glon:.6f},{glat:.6f},{name}", "mode": amap_mode, "coordinate": "gaode",
            "callnative": "1", "src": "qingdao-workermap"}
    if origin is not None:
        olon, olat = wgs84_to_gcj02(*origin)
        amap = {"from": f"{olon:.6f},{olat:.6f},我的位置", **amap}
    blon, blat = wgs84_to_bd09(lon, lat)
    baidu = {"destination": f"latlng:{blat:.6f},{blon:.6f}|name:{name}", "mode": baidu_mode,
             "region": "青岛", "output": "html", "coord_type": "bd09ll", "src": "qingdao.workermap"}
    if origin is not None:
        oblon, oblat = wgs84_to_bd09(*origin)
        baidu = {"origin": f"latlng:{oblat:.6f},{oblon:.6f}|name:我的位置", **baidu}
    label = quote(name, safe="")
    return {
        "amap": "https://uri.amap.com/navigation?" + urlencode(amap),
        "baidu": "https://api.map.baidu.com/direction?" + urlencode(baidu),
        "geo": f"geo:{lat:.7f},{lon:.7f}?q={lat:.7f},{lon:.7f}({label})",
    }
