"""Chinese map datums: WGS84 <-> GCJ-02 <-> BD-09, vectorised over numpy arrays.

GCJ-02 ("Mars coordinates") is the obfuscated datum that AMap (Gaode) and Tencent
maps use; BD-09 is Baidu's further offset of GCJ-02. Neither is a real CRS, so
PROJ cannot do them: the forward transforms below are the published algorithm,
and the inverses are solved by fixed-point iteration (round trip < 1e-9 degrees).

Convert only at the edges (import, tiles in those datums, navigation links);
everything inside the project is WGS84 lon/lat.

>>> lon, lat = wgs84_to_gcj02(120.3843, 36.0620)
>>> round(float(lon - 120.3843) * 1e4, 1), round(float(lat - 36.0620) * 1e4, 1)
(51.3, 2.8)
>>> back = gcj02_to_wgs84(lon, lat)
>>> bool(abs(back[0] - 120.3843) < 1e-9 and abs(back[1] - 36.0620) < 1e-9)
True
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "DATUMS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: The datums the project accepts at its edges.
from geo.vocab import DATUMS  # noqa: E402 - the one table of datums

# Krasovsky 1940 ellipsoid, as the GCJ-02 algorithm uses it.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0


class _ScalarMath:
    """The numpy functions used below, for plain floats (20× faster than numpy on 0-d arrays)."""

    pi = math.pi
    sin = staticmethod(math.sin)
    cos = staticmethod(math.cos)
    sqrt = staticmethod(math.sqrt)
    abs = staticmethod(math.fabs)
    arctan2 = staticmethod(math.atan2)


def _xp(*values):
    return _ScalarMath if all(isinstance(v, float | int) for v in values) else np


def _transform_lat(x, y, xp=np):
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * xp.sqrt(xp.abs(x))
    ret += (20.0 * xp.sin(6.0 * x * xp.pi) + 20.0 * xp.sin(2.0 * x * xp.pi)) * 2.0 / 3.0
    ret += (20.0 * xp.sin(y * xp.pi) + 40.0 * xp.sin(y / 3.0 * xp.pi)) * 2.0 / 3.0
    ret += (160.0 * xp.sin(y / 12.0 * xp.pi) + 320.0 * xp.sin(y * xp.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x, y, xp=np):
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * xp.sqrt(xp.abs(x))
    ret += (20.0 * xp.sin(6.0 * x * xp.pi) + 20.0 * xp.sin(2.0 * x * xp.pi)) * 2.0 / 3.0
    ret += (20.0 * xp.sin(x * xp.pi) + 40.0 * xp.sin(x / 3.0 * xp.pi)) * 2.0 / 3.0
    ret += (150.0 * xp.sin(x / 12.0 * xp.pi) + 300.0 * xp.sin(x / 30.0 * xp.pi)) * 2.0 / 3.0
    return ret


def _as_arrays(lon, lat):
    lon_a = np.asarray(lon, dtype="float64")
    lat_a = np.asarray(lat, dtype="float64")
    if lon_a.shape != lat_a.shape:
        raise ValueError(f"lon and lat must have the same shape, got {lon_a.shape} and {lat_a.shape}")
    return lon_a, lat_a


def _out(lon_a, lat_a, scalar):
    if scalar:
        return float(lon_a), float(lat_a)
    return lon_a, lat_a


def _is_scalar(lon) -> bool:
    return np.ndim(lon) == 0


def _gcj_offset(lon, lat, xp):
    dlat = _transform_lat(lon - 105.0, lat - 35.0, xp)
    dlon = _transform_lon(lon - 105.0, lat - 35.0, xp)
    radlat = lat / 180.0 * xp.pi
    magic = 1 - _EE * xp.sin(radlat) ** 2
    sqrtmagic = xp.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * xp.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * xp.cos(radlat) * xp.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat):
    """WGS84 -> GCJ-02. Accepts scalars or arrays; returns the same shape."""
    if _xp(lon, lat) is _ScalarMath:
        dlon, dlat = _gcj_offset(float(lon), float(lat), _ScalarMath)
        return lon + dlon, lat + dlat
    scalar = _is_scalar(lon)
    lon_a, lat_a = _as_arrays(lon, lat)
    dlon, dlat = _gcj_offset(lon_a, lat_a, np)
    return _out(lon_a + dlon, lat_a + dlat, scalar)


def gcj02_to_wgs84(lon, lat, *, tol_deg: float = 1e-10, max_iter: int = 30):
    """GCJ-02 -> WGS84 by fixed-point iteration on the forward transform.

    The GCJ-02 offset changes by far less than a metre over its own size, so
    ``w <- w + (g - f(w))`` converges quickly (about 5 iterations to 1e-10°).
    """
    xp = _xp(lon, lat)
    scalar = xp is _ScalarMath or _is_scalar(lon)
    g_lon, g_lat = (float(lon), float(lat)) if xp is _ScalarMath else _as_arrays(lon, lat)
    w_lon, w_lat = _invert(wgs84_to_gcj02, g_lon, g_lat, g_lon, g_lat, tol_deg, max_iter)
    return _out(w_lon, w_lat, scalar)


def _invert(forward, target_lon, target_lat, lon, lat, tol_deg: float, max_iter: int):
    """Solve ``forward(x) = target`` from the start ``(lon, lat)`` by fixed-point steps x += target - f(x)."""
    small = (lambda d: abs(d) < tol_deg) if isinstance(lon, float) else (lambda d: bool(np.all(np.abs(d) < tol_deg)))
    for _ in range(max_iter):
        f_lon, f_lat = forward(lon, lat)
        d_lon, d_lat = target_lon - f_lon, target_lat - f_lat
        lon, lat = lon + d_lon, lat + d_lat
        if small(d_lon) and small(d_lat):
            break
    return lon, lat


def gcj02_to_bd09(lon, lat):
    """GCJ-02 -> BD-09 (Baidu)."""
    xp = _xp(lon, lat)
    if xp is _ScalarMath:
        return _gcj02_to_bd09_point(float(lon), float(lat))
    scalar = _is_scalar(lon)
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return _out(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006, scalar)


def _gcj02_to_bd09_point(x: float, y: float) -> tuple[float, float]:
    z = math.sqrt(x * x + y * y) + 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) + 0.000003 * math.cos(x * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _bd09_to_gcj02_approx(lon, lat, xp=np):
    x = lon - 0.0065
    y = lat - 0.006
    z = xp.sqrt(x * x + y * y) - 0.00002 * xp.sin(y * _X_PI)
    theta = xp.arctan2(y, x) - 0.000003 * xp.cos(x * _X_PI)
    return z * xp.cos(theta), z * xp.sin(theta)


def bd09_to_gcj02(lon, lat, *, tol_deg: float = 1e-10, max_iter: int = 30):
    """BD-09 -> GCJ-02: the published closed-form inverse, refined by iteration."""
    xp = _xp(lon, lat)
    scalar = xp is _ScalarMath or _is_scalar(lon)
    b_lon, b_lat = (float(lon), float(lat)) if xp is _ScalarMath else _as_arrays(lon, lat)
    g_lon, g_lat = _bd09_to_gcj02_approx(b_lon, b_lat, xp)
    g_lon, g_lat = _invert(gcj02_to_bd09, b_lon, b_lat, g_lon, g_lat, tol_deg, max_iter)
    return _out(g_lon, g_lat, scalar)


def wgs84_to_bd09(lon, lat):
    """WGS84 -> BD-09 (through GCJ-02)."""
    if type(lon) is float and type(lat) is float:  # one point (each nearest answer's Baidu origin): no dispatch
        dlon, dlat = _gcj_offset(lon, lat, _ScalarMath)
        return _gcj02_to_bd09_point(lon + dlon, lat + dlat)
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    """BD-09 -> WGS84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_CONVERTERS = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
    ("bd09", "gcj02"): bd09_to_gcj02,
}


def convert(lon, lat, *, src: str, dst: str):
    """Convert between any two of :data:`DATUMS`.

    >>> convert(120.0, 36.0, src="wgs84", dst="wgs84")
    (120.0, 36.0)
    """
    for name, value in (("src", src), ("dst", dst)):
        if value not in DATUMS:
            raise ValueError(f"{name} must be one of {', '.join(DATUMS)}, got {value!r}")
    if src == dst:
        if _is_scalar(lon):
            return float(lon), float(lat)
        return _as_arrays(lon, lat)
    return _CONVERTERS[(src, dst)](lon, lat)
