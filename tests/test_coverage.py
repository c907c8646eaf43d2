"""Coverage, uncovered areas and the grid overlay against independent references.

References: coverage by plain loops over cells and facilities with pyproj.Geod distances and the
OSM hours parser; district sums against the census table; polygon areas against cell counts;
overlay pixels against the cells they should show.
"""

from __future__ import annotations

import struct
import zlib
from datetime import date, datetime
from functools import cache

import numpy as np
import pytest
import shapely
from pyproj import Geod

from geo.coverage import (
    EDGE_TOLERANCE_M,
    FacilityFilter,
    LruCache,
    ParameterError,
    PreparedGrid,
    Threshold,
    compute_coverage,
    hourly_coverage,
    whatif,
)
from geo.crs import to_lonlat, to_metric
from geo.demand import DemandGrid, census_targets, load_demand
from geo.gaps import gaps_feature_collection, uncovered_areas
from geo.nearest import FacilityIndex, Travel
from geo.overlay import coverage_overlay, distance_classes
from geo.settings import SHIPPED_DATA
from tests.conftest import brute_eligible, make_facility, shipped_sample

GEOD = Geod(ellps="WGS84")
CELL_M = 100
ORIGIN = (533_000.0, 3_990_000.0)  # EPSG:4549, near 五四广场 (市南区)


# --------------------------------------------------------------------------- fixtures


def small_grid(nx: int = 24, ny: int = 20, *, seed: int = 0, cell_m: int = CELL_M, origin=ORIGIN) -> DemandGrid:
    """A hand-made grid: ``nx`` × ``ny`` cells, west half 市南区, east half 市北区, random people."""
    rng = np.random.default_rng(seed)
    i, j = np.meshgrid(np.arange(nx), np.arange(ny))  # rows by y, then x: the grid's own order
    x = origin[0] + (i.ravel() + 0.5) * cell_m
    y = origin[1] + (j.ravel() + 0.5) * cell_m
    lon, lat = to_lonlat(x, y)
    adcode = np.where(i.ravel() < nx // 2, "370202", "370203")
    residents = np.round(rng.gamma(2.0, 40.0, len(x)), 1)
    workers = np.round(rng.gamma(1.5, 3.0, len(x)), 1)
    return DemandGrid(x, y, np.asarray(lon), np.asarray(lat), adcode, residents, workers, cell_m=cell_m)


NAMES = {"370202": "市南区", "370203": "市北区"}


def random_facilities(grid: DemandGrid, n: int, seed: int):
    """Facilities scattered over (and a little beyond) the grid, with mixed attributes."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(grid.x.min() - 300, grid.x.max() + 300, n)
    y = rng.uniform(grid.y.min() - 300, grid.y.max() + 300, n)
    lon, lat = to_lonlat(x, y)
    hours = ["24/7", "Mo-Su 08:00-20:00", "Mo-Fr 09:00-17:00", "Mo-Su 20:00-08:00"]
    out = []
    for k in range(n):
        amen = tuple(a for a in ("microwave", "toilet", "nursing_room") if rng.random() < 0.5)
        out.append(make_facility(k, lon=float(lon[k]), lat=float(lat[k]),
                                 kind=str(rng.choice(["station", "station", "mother_room"])), amenities=amen,
                                 access=str(rng.choice(["outdoor_workers", "members", "employees"])),
                                 opening_hours=str(rng.choice(hours)),
                                 status=str(rng.choice(["open", "open", "open", "temporarily_closed", "removed"]))))
    return out


def filter_eligible(facilities, f: FacilityFilter):
    return brute_eligible(facilities, kinds=f.kinds, amenities=f.amenities, worker=f.worker, when=f.open_at,
                          include_closed=f.include_closed, open_24h=f.open_24h)


def brute_coverage(grid: DemandGrid, facilities, radius_m: float):
    """Plain loops: geodesic distance from every cell centre to every facility; covered if ≤ radius."""
    dist = np.full(len(grid), np.inf)
    for c in range(len(grid)):
        for fac in facilities:
            d = GEOD.inv(grid.lon[c], grid.lat[c], fac.lon, fac.lat)[2]
            if d < dist[c]:
                dist[c] = d
    return dist, dist <= radius_m


def brute_rows(grid: DemandGrid, covered: np.ndarray) -> dict[str, dict]:
    rows = {}
    for code in sorted(set(grid.adcode)):
        m = grid.adcode == code
        rows[code] = {"cells": int(m.sum()), "covered_cells": int((m & covered).sum()),
                      "residents": float(grid.residents[m].sum()), "workers": float(grid.workers[m].sum()),
                      "covered_res": float(grid.residents[m & covered].sum()),
                      "covered_wrk": float(grid.workers[m & covered].sum())}
    return rows


# --------------------------------------------------------------------------- coverage vs brute force


FILTERS = [
    FacilityFilter(),
    FacilityFilter(kinds=(), amenities=("microwave",)),
    FacilityFilter(kinds=("mother_room",), amenities=("nursing_room",), worker="outdoor_worker"),
    FacilityFilter(open_at=datetime(2026, 11, 25, 2, 0)),
    FacilityFilter(open_at=datetime(2026, 11, 28, 14, 0), include_closed=True, worker="member"),
    FacilityFilter(open_24h=True),
]
THRESHOLDS = [Threshold.minutes_by(5, "walk"), Threshold.minutes_by(2, "ebike"), Threshold.metres(450)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_coverage_equals_brute_force_geodesic(seed):
    grid = small_grid(seed=seed)
    prepared = PreparedGrid(grid, NAMES)
    facilities = random_facilities(grid, 40, seed)
    index = FacilityIndex(facilities)
    for k, ffilter in enumerate(FILTERS):
        threshold = THRESHOLDS[(seed + k) % len(THRESHOLDS)]
        cov = compute_coverage(prepared, index, threshold, facility_filter=ffilter)
        eligible = filter_eligible(facilities, ffilter)
        assert cov.eligible == len(eligible)
        dist, covered = brute_coverage(grid, eligible, threshold.radius_m)
        assert np.array_equal(cov.covered, covered), (ffilter, threshold)
        finite = np.isfinite(dist)
        assert np.allclose(cov.distance_m[finite], dist[finite], rtol=2e-4, atol=1e-6)
        ref = brute_rows(grid, covered)
        table = {r["adcode"]: r for r in cov.district_table()}
        for code, b in ref.items():
            r = table[code]
            assert r["name"] == NAMES[code]
            assert r["cells"] == b["cells"]
            assert r["area_covered_pct"] == pytest.approx(100 * b["covered_cells"] / b["cells"], abs=0.006)
            assert r["residents_covered_pct"] == pytest.approx(100 * b["covered_res"] / b["residents"], abs=0.006)
            assert r["workers_covered_pct"] == pytest.approx(100 * b["covered_wrk"] / b["workers"], abs=0.006)
            assert r["uncovered_workers"] == pytest.approx(b["workers"] - b["covered_wrk"], abs=0.06)
            assert r["uncovered_residents"] == pytest.approx(b["residents"] - b["covered_res"], abs=0.06)
        city = cov.city_row()
        assert city["cells"] == len(grid)
        assert city["covered_workers"] == pytest.approx(sum(b["covered_wrk"] for b in ref.values()), abs=0.06)


def test_radius_uses_the_nearest_engine_speeds_and_detour():
    t = Travel(detour_factor=1.4, walk_kmh=5.0, ebike_kmh=18.0)
    assert Threshold.minutes_by(15, "walk", t).radius_m == pytest.approx(15 * 5000 / 60 / 1.4)
    assert Threshold.minutes_by(10, "ebike", t).radius_m == t.radius_m(10, "ebike")
    a = Threshold.minutes_by(15, "walk", t).as_dict()
    assert a["detour_factor"] == 1.4 and a["walk_kmh"] == 5.0 and a["speed_kmh"] == 5.0
    assert "exactly on the threshold counts as covered" in a["edge_rule"]


def test_a_cell_exactly_on_the_threshold_is_covered():
    """The rule: distance ≤ threshold is covered. The threshold is set to the cell's geodesic distance."""
    grid = small_grid(6, 4)
    prepared = PreparedGrid(grid, NAMES)
    lon, lat, _ = GEOD.fwd(grid.lon[0], grid.lat[0], 63.0, 777.0)  # 777 m from cell 0, north-east
    index = FacilityIndex([make_facility(1, lon=float(lon), lat=float(lat))])
    exact = GEOD.inv(grid.lon[0], grid.lat[0], float(lon), float(lat))[2]
    on = compute_coverage(prepared, index, Threshold.metres(exact))
    assert on.covered[0] and on.distance_m[0] == exact
    just_inside_band = compute_coverage(prepared, index, Threshold.metres(exact - 0.001))
    assert not just_inside_band.covered[0]
    assert EDGE_TOLERANCE_M < 0.001


def test_filters_reject_unknown_values_naming_the_parameter():
    with pytest.raises(ParameterError) as e:
        FacilityFilter(amenities=("jacuzzi",))
    assert e.value.parameter == "amenity" and "jacuzzi" in str(e.value)
    with pytest.raises(ParameterError) as e:
        Threshold.minutes_by(15, "car")
    assert e.value.parameter == "mode"
    with pytest.raises(ParameterError) as e:
        Threshold.metres(-3)
    assert e.value.parameter == "threshold_m"
    with pytest.raises(ParameterError) as e:
        PreparedGrid(small_grid(4, 4), NAMES).district_code("Atlantis")
    assert e.value.parameter == "district"


def test_no_eligible_facility_means_nothing_covered():
    grid = small_grid(5, 5)
    cov = compute_coverage(PreparedGrid(grid, NAMES), FacilityIndex([]), Threshold.metres(1000))
    assert not cov.covered.any() and np.isinf(cov.distance_m).all()
    assert cov.city_row()["workers_covered_pct"] == 0.0
    assert cov.facility_table() == []


def test_per_facility_demand_served_adds_up():
    grid = small_grid(seed=5)
    prepared = PreparedGrid(grid, NAMES)
    facilities = random_facilities(grid, 25, 5)
    cov = compute_coverage(prepared, FacilityIndex(facilities), Threshold.metres(400),
                           facility_filter=FacilityFilter(kinds=()))
    rows = cov.facility_table()
    assert sum(r["cells_nearest"] for r in rows) == len(grid)
    assert sum(r["workers_served"] for r in rows) == pytest.approx(cov.city_row()["covered_workers"], abs=0.5)
    assert sum(r["cells_served"] for r in rows) == int(cov.covered.sum())
    assert {r["id"] for r in rows} <= {f.id for f in facilities}


# --------------------------------------------------------------------------- time of day, what-if


def test_hours_table_counts_only_facilities_open_then():
    grid = small_grid(seed=7)
    prepared = PreparedGrid(grid, NAMES)
    facilities = random_facilities(grid, 30, 7)
    index = FacilityIndex(facilities)
    threshold = Threshold.metres(500)
    day = date(2026, 11, 25)  # a Wednesday
    rows = hourly_coverage(prepared, index, threshold, FacilityFilter(), day=day)
    assert [r["hour"] for r in rows] == [f"{h:02d}:00" for h in range(24)]
    for hour in (2, 14):
        when = datetime(2026, 11, 25, hour)
        eligible = filter_eligible(facilities, FacilityFilter(open_at=when))
        assert rows[hour]["open_facilities"] == len(eligible)
        _, covered = brute_coverage(grid, eligible, threshold.radius_m)
        assert rows[hour]["workers_covered_pct"] == pytest.approx(
            100 * grid.workers[covered].sum() / grid.workers.sum(), abs=0.006)
    one = hourly_coverage(prepared, index, threshold, FacilityFilter(), day=day, district="市北区")
    full = compute_coverage(prepared, index, threshold, facility_filter=FacilityFilter(open_at=datetime(2026, 11, 25,
                                                                                                        14)))
    assert one[14]["workers_covered_pct"] == full.district_table("370203")[0]["workers_covered_pct"]


def test_whatif_add_remove_close_side_by_side():
    grid = small_grid(seed=9)
    prepared = PreparedGrid(grid, NAMES)
    facilities = [make_facility(k, lon=float(grid.lon[c]), lat=float(grid.lat[c]))
                  for k, c in enumerate([30, 200, 400])]
    facilities.append(make_facility(9, kind="mother_room", lon=float(grid.lon[50]), lat=float(grid.lat[50])))
    index = FacilityIndex(facilities)
    t = Threshold.metres(300)
    far = int(np.argmax(compute_coverage(prepared, index, t).distance_m))
    w = whatif(prepared, index, t, FacilityFilter(), add=[(float(grid.lon[far]), float(grid.lat[far]))],
               remove=["t-000"], close=["t-009"])
    assert w.scenario.covered[far] and not w.today.covered[far]
    assert not w.scenario.covered[30] and w.today.covered[30]
    assert any("t-009" in n and "no change" in n for n in w.notes)  # a mother room does not count as a station
    rows = w.table()
    assert rows[0]["adcode"] == "370200" and len(rows) == 3
    expected = w.scenario.city_row()["workers_covered_pct"] - w.today.city_row()["workers_covered_pct"]
    assert rows[0]["delta_workers_covered_pct"] == pytest.approx(expected, abs=0.011)
    with pytest.raises(ParameterError) as e:
        whatif(prepared, index, t, FacilityFilter(), remove=["nope"])
    assert e.value.parameter == "remove"
    with pytest.raises(ParameterError) as e:
        whatif(prepared, index, t, FacilityFilter(), add=[(10.0, 50.0)])
    assert e.value.parameter == "add[0]"


# --------------------------------------------------------------------------- shipped data


@cache
def _shipped_grid() -> PreparedGrid:
    from geo.geography import load_districts

    districts = load_districts()
    names = dict(zip(districts.frame["adcode"], districts.frame["name"], strict=True))
    return PreparedGrid(load_demand(SHIPPED_DATA / "demand_grid_250m.csv.gz"), names)


def _shipped():
    """The shipped 250 m grid and the sample registry's index (loaded once per test session)."""
    return _shipped_grid(), shipped_sample()[1]


def test_district_sums_equal_the_census():
    prepared, index = _shipped()
    cov = compute_coverage(prepared, index, Threshold.minutes_by(15, "walk"))
    census = census_targets()
    rows = cov.district_table()
    assert [r["adcode"] for r in rows] == list(census.index)
    for r in rows:
        assert r["residents"] == census.loc[r["adcode"], "residents"]
        assert r["workers"] == pytest.approx(round(census.loc[r["adcode"], "workers"], 1), abs=1e-6)
        assert r["covered_workers"] + r["uncovered_workers"] == pytest.approx(r["workers"], abs=0.11)
    city = cov.city_row()
    assert city["residents"] == census["residents"].sum() == 10_071_722
    assert cov.assumptions()["demand_source"] == "modelled"


def test_24h_stations_only_at_2am_cover_less():
    prepared, index = _shipped()
    t = Threshold.minutes_by(15, "ebike")
    night = compute_coverage(prepared, index, t, facility_filter=FacilityFilter(open_at=datetime(2026, 11, 25, 2)))
    day = compute_coverage(prepared, index, t, facility_filter=FacilityFilter(open_at=datetime(2026, 11, 25, 14)))
    assert night.eligible < day.eligible
    assert night.city_row()["workers_covered_pct"] < day.city_row()["workers_covered_pct"]


# --------------------------------------------------------------------------- uncovered areas


def test_uncovered_polygons_area_equals_uncovered_cells():
    prepared, index = _shipped()
    cov = compute_coverage(prepared, index, Threshold.minutes_by(15, "walk"))
    for district in (None, "市南区", "370214"):
        found = uncovered_areas(cov, district=district)
        mask = np.ones(len(prepared), bool) if district is None else prepared.cell_mask(district)
        n_unc = int((~cov.covered & mask).sum())
        assert sum(g.cells for g in found) == n_unc
        area = sum(g.geometry_m.area for g in found)
        assert area == pytest.approx(n_unc * prepared.cell_m ** 2, rel=1e-9)
        assert sum(g.area_km2 for g in found) == pytest.approx(n_unc * prepared.grid.cell_area_km2, rel=1e-6)
        assert all(g.geometry_m.is_valid and g.geometry.is_valid for g in found)
        workers = [g.uncovered_workers for g in found]
        assert workers == sorted(workers, reverse=True)
        assert sum(workers) == pytest.approx(float(prepared.grid.workers[~cov.covered & mask].sum()), abs=1.0)
        if district is not None:
            assert {g.adcode for g in found} == {prepared.adcodes[prepared.district_code(district)]}


def test_each_uncovered_area_is_one_district_and_holes_are_kept():
    grid = small_grid(30, 30, seed=11)
    prepared = PreparedGrid(grid, NAMES)
    centre = 15 * 30 + 7  # a facility in the west half: its covered disk is a hole in the west area
    cov = compute_coverage(prepared, FacilityIndex([make_facility(1, lon=float(grid.lon[centre]),
                                                                  lat=float(grid.lat[centre]))]),
                           Threshold.metres(350))
    found = uncovered_areas(cov)
    assert len(found) == 2 and {g.district for g in found} == {"市南区", "市北区"}
    west = next(g for g in found if g.adcode == "370202")
    assert len(west.geometry_m.interiors) == 1
    assert west.cells == int((~cov.covered & (grid.adcode == "370202")).sum())
    assert west.geometry_m.area == pytest.approx(west.cells * CELL_M ** 2)
    # every uncovered cell centre lies in its area's polygon, no covered one does
    pts = shapely.points(grid.x, grid.y)
    inside = np.zeros(len(grid), bool)
    for g in found:
        inside |= shapely.contains(g.geometry_m, pts)
    assert np.array_equal(inside, ~cov.covered)
    fc = gaps_feature_collection(found, assumptions=cov.assumptions(), demand_source=grid.source)
    assert fc["demand_source"] == "modelled" and fc["assumptions"]["threshold_m"] == 350.0
    props = fc["features"][0]["properties"]
    assert {"rank", "district", "adcode", "area_km2", "uncovered_workers", "uncovered_residents"} <= set(props)
    ring = fc["features"][0]["geometry"]["coordinates"][0]
    assert shapely.LinearRing(ring).is_ccw  # RFC 7946 exterior ring orientation
    assert all(119 < x < 122 and 35 < y < 38 for x, y in ring)


def test_uncovered_areas_limit_and_ranking_by_residents():
    grid = small_grid(seed=12)
    prepared = PreparedGrid(grid, NAMES)
    cov = compute_coverage(prepared, FacilityIndex(random_facilities(grid, 12, 12)), Threshold.metres(250),
                           facility_filter=FacilityFilter(kinds=()))
    everything = uncovered_areas(cov, rank_by="residents")
    top = uncovered_areas(cov, limit=2, rank_by="residents")
    assert [g.uncovered_residents for g in top] == [g.uncovered_residents for g in everything[:2]]
    assert [g.rank for g in everything] == list(range(1, len(everything) + 1))
    with pytest.raises(ParameterError):
        uncovered_areas(cov, limit=0)


# --------------------------------------------------------------------------- overlay


def decode_png(data: bytes) -> tuple[np.ndarray, list]:
    """Palette PNG -> (indices, palette) with the standard library only (filter type 0 rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        kind = data[pos + 4:pos + 8]
        chunks.setdefault(kind, b"")
        chunks[kind] += data[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(kind + data[pos + 8:pos + 8 + n])
        pos += 12 + n
    w, h, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 3)
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), dtype=np.uint8).reshape(h, w + 1)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:], chunks


def test_overlay_pixels_show_the_cell_under_them_in_web_mercator():
    prepared, index = _shipped()
    cov = compute_coverage(prepared, index, Threshold.minutes_by(15, "walk"))
    ov = coverage_overlay(cov)
    image, chunks = decode_png(ov.png)
    assert image.shape == (ov.height, ov.width)
    assert b"modelled" in chunks[b"iTXt"]
    (south, west), (north, east) = ov.bounds
    classes = distance_classes(cov.distance_m, cov.radius_m)
    rng = np.random.default_rng(3)
    cells = rng.choice(len(prepared), 400, replace=False)

    def merc(lat):
        return np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))

    hits = 0
    for c in cells:
        # a point well inside the cell (cell centre), placed as Leaflet places the image
        col = (prepared.grid.lon[c] - west) / (east - west) * ov.width
        row = (merc(north) - merc(prepared.grid.lat[c])) / (merc(north) - merc(south)) * ov.height
        hits += image[int(row), int(col)] == classes[c]
    assert hits >= 0.97 * len(cells)  # pixels straddling a cell edge may show the neighbour
    assert set(np.unique(image)) <= set(range(6)) and (image == 0).any()


def test_lru_cache_keeps_the_newest():
    c = LruCache(2)
    calls = []
    for key in ("a", "b", "a", "c", "b"):
        c.get_or_compute(key, lambda k=key: calls.append(k) or k.upper())
    assert calls == ["a", "b", "c", "b"] and len(c) == 2


def test_metric_helpers_round_trip():
    x, y = to_metric(120.3843, 36.0620)
    lon, lat = to_lonlat(x, y)
    assert lon == pytest.approx(120.3843, abs=1e-9) and lat == pytest.approx(36.0620, abs=1e-9)
