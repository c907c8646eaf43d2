"""geo.datum against the independent ``prcoords`` package and published reference values.

prcoords (CC0/GPL, test-only dependency) is a scalar, pure-Python implementation that takes
and returns ``(lat, lon)``; geo.datum is vectorised and takes ``(lon, lat)``.
"""

from __future__ import annotations

import math

import numpy as np
import prcoords
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import datum
from geo.crs import GEOD

# the city's bounding box (WGS84)
LON_MIN, LON_MAX, LAT_MIN, LAT_MAX = 119.5, 121.1, 35.5, 37.2
N = 10_000
TOL_DEG = 1e-6


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(20_261_124)
    return rng.uniform(LON_MIN, LON_MAX, N), rng.uniform(LAT_MIN, LAT_MAX, N)


def _reference(func, lon, lat):
    """Apply a prcoords function point by point, converting (lon, lat) <-> (lat, lon)."""
    out = np.array([func(prcoords.Coords(la, lo)) for lo, la in zip(lon, lat, strict=True)])
    return out[:, 1], out[:, 0]


CASES = [
    ("wgs84_to_gcj02", prcoords.wgs_gcj),
    ("gcj02_to_wgs84", prcoords.gcj_wgs_bored),
    ("gcj02_to_bd09", prcoords.gcj_bd),
    ("bd09_to_gcj02", prcoords.bd_gcj_bored),
    ("wgs84_to_bd09", prcoords.wgs_bd),
    ("bd09_to_wgs84", prcoords.bd_wgs_bored),
]


@pytest.mark.parametrize(("ours", "theirs"), CASES, ids=[c[0] for c in CASES])
def test_agrees_with_prcoords(points, ours, theirs):
    lon, lat = points
    got_lon, got_lat = getattr(datum, ours)(lon, lat)
    ref_lon, ref_lat = _reference(theirs, lon, lat)
    assert got_lon.shape == lon.shape
    assert np.max(np.abs(got_lon - ref_lon)) < TOL_DEG
    assert np.max(np.abs(got_lat - ref_lat)) < TOL_DEG


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [
        ("wgs84_to_gcj02", "gcj02_to_wgs84"),
        ("gcj02_to_bd09", "bd09_to_gcj02"),
        ("wgs84_to_bd09", "bd09_to_wgs84"),
    ],
)
def test_round_trip(points, forward, inverse):
    lon, lat = points
    back_lon, back_lat = getattr(datum, inverse)(*getattr(datum, forward)(lon, lat))
    assert np.max(np.abs(back_lon - lon)) < 1e-7
    assert np.max(np.abs(back_lat - lat)) < 1e-7


@given(
    lon=st.floats(LON_MIN, LON_MAX, allow_nan=False),
    lat=st.floats(LAT_MIN, LAT_MAX, allow_nan=False),
    src=st.sampled_from(datum.DATUMS),
    dst=st.sampled_from(datum.DATUMS),
)
@settings(max_examples=200, deadline=None)
def test_convert_round_trip_property(lon, lat, src, dst):
    there = datum.convert(lon, lat, src=src, dst=dst)
    back = datum.convert(*there, src=dst, dst=src)
    assert abs(back[0] - lon) < 1e-7 and abs(back[1] - lat) < 1e-7


# Published values: the widely used coordtransform examples at (116.404, 39.915), Beijing.
def test_published_wgs84_to_gcj02():
    lon, lat = datum.wgs84_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.41024449916938, abs=TOL_DEG)
    assert lat == pytest.approx(39.91640428150164, abs=TOL_DEG)


def test_published_gcj02_to_bd09():
    lon, lat = datum.gcj02_to_bd09(116.404, 39.915)
    assert lon == pytest.approx(116.41036949371029, abs=TOL_DEG)
    assert lat == pytest.approx(39.92133699351021, abs=TOL_DEG)


def test_published_bd09_to_gcj02():
    # the published value comes from the closed-form approximation; ours is the exact
    # inverse of gcj02_to_bd09, which differs from it by about 4e-7 degrees
    lon, lat = datum.bd09_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.39762729119315, abs=TOL_DEG)
    assert lat == pytest.approx(39.90865673957631, abs=TOL_DEG)


def test_gcj_offset_near_qingdao_in_metres():
    """About 462 m east and 30 m north at the city centre (May Fourth Square)."""
    lon, lat = 120.3843, 36.0620
    g_lon, g_lat = datum.wgs84_to_gcj02(lon, lat)
    az, _, dist = GEOD.inv(lon, lat, g_lon, g_lat)
    east, north = dist * math.sin(math.radians(az)), dist * math.cos(math.radians(az))
    assert east == pytest.approx(462, abs=15)
    assert north == pytest.approx(30, abs=15)


def test_gcj_offset_is_similar_across_the_city(points):
    lon, lat = points[0][:500], points[1][:500]
    g_lon, g_lat = datum.wgs84_to_gcj02(lon, lat)
    az, _, dist = GEOD.inv(lon, lat, g_lon, g_lat)
    east = dist * np.sin(np.radians(az))
    assert east.min() > 350 and east.max() < 600
    assert np.all(dist < 650)


# ------------------------------------------------------------------ shapes and errors

ALL = ["wgs84_to_gcj02", "gcj02_to_wgs84", "gcj02_to_bd09", "bd09_to_gcj02", "wgs84_to_bd09", "bd09_to_wgs84"]


@pytest.mark.parametrize("name", ALL)
def test_scalar_in_scalar_out(name):
    out = getattr(datum, name)(120.38, 36.06)
    assert isinstance(out, tuple) and len(out) == 2
    assert all(type(v) is float for v in out)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 4)])
def test_array_shape_preserved(name, shape):
    rng = np.random.default_rng(1)
    lon = rng.uniform(LON_MIN, LON_MAX, shape)
    lat = rng.uniform(LAT_MIN, LAT_MAX, shape)
    out_lon, out_lat = getattr(datum, name)(lon, lat)
    assert out_lon.shape == shape and out_lat.shape == shape
    # elementwise equal to the scalar path
    s_lon, s_lat = getattr(datum, name)(float(lon.flat[0]), float(lat.flat[0]))
    assert out_lon.flat[0] == pytest.approx(s_lon, abs=1e-12)
    assert out_lat.flat[0] == pytest.approx(s_lat, abs=1e-12)


def test_lists_are_accepted():
    lon, lat = datum.wgs84_to_gcj02([120.0, 120.5], [36.0, 36.5])
    assert isinstance(lon, np.ndarray) and lon.shape == (2,)


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        datum.wgs84_to_gcj02(np.zeros(3) + 120, np.zeros(2) + 36)


@pytest.mark.parametrize("param", ["src", "dst"])
def test_convert_bad_datum_names_the_parameter(param):
    kwargs = {"src": "wgs84", "dst": "gcj02", param: "mars"}
    with pytest.raises(ValueError) as err:
        datum.convert(120.0, 36.0, **kwargs)
    message = str(err.value)
    assert message.startswith(f"{param} must be one of")
    assert "'mars'" in message
    for name in datum.DATUMS:
        assert name in message


def test_convert_dispatches_and_identity():
    assert datum.convert(120.1, 36.2, src="gcj02", dst="gcj02") == (120.1, 36.2)
    assert datum.convert(120.1, 36.2, src="wgs84", dst="bd09") == datum.wgs84_to_bd09(120.1, 36.2)
    lon, lat = datum.convert(np.array([120.1]), np.array([36.2]), src="bd09", dst="bd09")
    assert lon.tolist() == [120.1] and lat.tolist() == [36.2]


@pytest.mark.parametrize(("ours", "theirs"), CASES, ids=[c[0] for c in CASES])
def test_one_point_agrees_with_prcoords_and_the_array_path(points, ours, theirs):
    """Plain floats take the scalar path (one point: a nearest answer's Baidu origin): the array path's numbers
    to within 1e-12° and prcoords' to within the tolerance."""
    lon, lat = points
    ref_lon, ref_lat = _reference(theirs, lon[:50], lat[:50])
    arr_lon, arr_lat = getattr(datum, ours)(lon[:50], lat[:50])
    for i, (x, y) in enumerate(zip(lon[:50].tolist(), lat[:50].tolist(), strict=True)):
        got = getattr(datum, ours)(x, y)
        assert all(type(v) is float for v in got)
        assert abs(got[0] - arr_lon[i]) < 1e-12 and abs(got[1] - arr_lat[i]) < 1e-12
        assert abs(got[0] - ref_lon[i]) < TOL_DEG and abs(got[1] - ref_lat[i]) < TOL_DEG
