"""Demand hot spots (GET /api/v1/gaps, workermap gaps, the report): compact, ranked, named, and honest about
the demand they leave out — checked on the shipped data against independent references (shapely containment
in the district polygons, the gazetteer's own places, prcoords for GCJ-02, brute-force sums)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo.coverage import PreparedGrid, Threshold, compute_coverage
from geo.crs import to_lonlat, to_metric
from geo.demand import DemandGrid
from geo.errors import ParameterError
from geo.gaps import hot_spots, town_places
from geo.nearest import FacilityIndex
from geo.planner_params import DEFAULT_DENSITY_FLOOR_KM2, DEFAULT_MAX_AREA_KM2
from tests.test_coverage import NAMES, _shipped
from tests.tools import need_module

#: What we state: at a 15-minute walk, with the default floor (100 uncovered workers per km²) and cap (4 km²), the
#: 20 largest hot spots of the shipped data hold at least this share of the city's uncovered workers (12.7 %
#: measured), and all hot spots together at least ALL_SHARE_PCT (48.2 % measured).
TOP20_SHARE_PCT = 12.0
ALL_SHARE_PCT = 45.0


@pytest.fixture(scope="module")
def city(districts):
    prepared, index = _shipped()
    cov = compute_coverage(prepared, index, Threshold.minutes_by(15, "walk"))
    return cov, index, town_places(index.facilities, districts)


def _polygon_of(districts, adcode: str):
    frame = districts.frame
    return frame.geometry[frame["adcode"] == adcode].iloc[0]


# --------------------------------------------------------------------------- the shipped data


def test_top_20_are_within_the_cap_and_hold_the_stated_share(city):
    cov, _, places = city
    spots = hot_spots(cov, places, limit=20)
    assert len(spots.areas) == 20 and spots.found > 20
    uncovered = float(cov.prepared.grid.workers[~cov.covered].sum())  # brute force, not the summary's figure
    for g in spots.areas:
        assert g.area_km2 <= DEFAULT_MAX_AREA_KM2
        assert g.geometry_m.area <= DEFAULT_MAX_AREA_KM2 * 1e6 + 1e-3  # measured in EPSG:4549
        assert g.geometry_m.area == pytest.approx(g.cells * cov.prepared.cell_m ** 2, rel=1e-9)
        assert g.geometry_m.geom_type == "Polygon" and g.geometry_m.is_valid  # one connected piece
    held = sum(g.uncovered_workers for g in spots.areas)
    assert 100 * held / uncovered >= TOP20_SHARE_PCT
    s = spots.summary()
    assert s["in_listed_pct"] == pytest.approx(100 * held / uncovered, abs=0.01)
    assert s["in_areas_pct"] >= ALL_SHARE_PCT and s["uncovered"] == pytest.approx(uncovered, abs=0.1)
    workers = [g.uncovered_workers for g in spots.areas]
    assert workers == sorted(workers, reverse=True) and [g.rank for g in spots.areas] == list(range(1, 21))


def test_every_place_lies_in_its_areas_district(city, districts):
    """The place named is a township or town of the gazetteer in the area's district, and its point lies in that
    district's polygon (shapely); it is the nearest such place to the centroid."""
    from geo.search import place_entries

    cov, index, places = city
    entries = [e for e in place_entries(index.facilities) if e.type in ("township", "place")]
    spots = hot_spots(cov, places, limit=100)
    assert len(spots.areas) == 100
    for g in spots.areas:
        polygon = _polygon_of(districts, g.adcode)
        inside = [e for e in entries if e.district == g.district and shapely.intersects(polygon,
                                                                                        shapely.Point(e.lon, e.lat))]
        assert g.place in {e.name for e in inside}, (g.rank, g.district, g.place)
        c = shapely.centroid(g.geometry_m)
        x, y = to_metric(np.array([e.lon for e in inside]), np.array([e.lat for e in inside]))
        d = np.hypot(x - c.x, y - c.y)
        assert g.place_distance_m == pytest.approx(d.min(), abs=0.6)
        assert g.place == inside[int(np.argmin(d))].name or d[[e.name for e in inside].index(g.place)] == d.min()
        assert g.place not in ("青岛", "青岛市", g.district)


def test_areas_are_dense_uncovered_cells_and_the_rest_is_below_the_floor(city):
    cov, _, places = city
    p, grid = cov.prepared, cov.prepared.grid
    spots = hot_spots(cov, places)  # every area
    floor = DEFAULT_DENSITY_FLOOR_KM2["workers"]
    dense = ~cov.covered & (grid.workers / grid.cell_area_km2 >= floor)
    pts = shapely.points(grid.x, grid.y)
    inside = np.zeros(len(grid), dtype=int)
    for g in spots.areas:
        hit = shapely.contains(g.geometry_m, pts)
        assert (p.code[hit] == p.adcodes.index(g.adcode)).all()  # one district
        assert grid.workers[hit].sum() == pytest.approx(g.uncovered_workers, abs=0.1)
        inside += hit
    assert inside.max() == 1  # no overlaps
    assert np.array_equal(inside == 1, dense)  # exactly the dense uncovered cells
    thin = ~cov.covered & ~dense
    rows = {r["adcode"]: r for r in spots.below_floor}
    assert set(rows) == set(p.adcodes)
    for k, adcode in enumerate(p.adcodes):
        m = thin & (p.code == k)
        assert rows[adcode]["cells"] == int(m.sum())
        assert rows[adcode]["uncovered_workers"] == pytest.approx(float(grid.workers[m].sum()), abs=0.06)
        assert rows[adcode]["uncovered_residents"] == pytest.approx(float(grid.residents[m].sum()), abs=0.06)
    held = sum(g.uncovered_workers for g in spots.areas) + sum(r["uncovered_workers"] for r in spots.below_floor)
    assert held == pytest.approx(float(grid.workers[~cov.covered].sum()), abs=1.0)


def test_centroids_in_wgs84_and_gcj02(city):
    prcoords = need_module("prcoords")
    cov, _, places = city
    for g in hot_spots(cov, places, limit=10).areas:
        props = g.properties()
        c = shapely.centroid(g.geometry_m)
        lon, lat = to_lonlat(c.x, c.y)
        assert (props["centroid_lon"], props["centroid_lat"]) == pytest.approx((lon, lat), abs=1e-6)
        ref = prcoords.wgs_gcj(prcoords.Coords(props["centroid_lat"], props["centroid_lon"]))
        assert props["centroid_gcj02_lat"] == pytest.approx(ref.lat, abs=2e-6)
        assert props["centroid_gcj02_lon"] == pytest.approx(ref.lon, abs=2e-6)
        assert shapely.intersects(g.geometry, shapely.Point(props["lon"], props["lat"]))


@pytest.mark.parametrize("cap", [0.25, 1.0, 2.5])
def test_the_cap_holds_for_every_area_of_the_city(city, cap):
    cov, _, _ = city
    spots = hot_spots(cov, max_area_km2=cap, min_density_km2=0)  # every uncovered cell, every area
    assert max(g.area_km2 for g in spots.areas) <= cap
    assert sum(g.cells for g in spots.areas) == int((~cov.covered).sum())
    assert spots.below_floor and all(r["cells"] == 0 for r in spots.below_floor)


def test_residents_and_one_district(city):
    cov, _, places = city
    spots = hot_spots(cov, places, district="李沧区", rank_by="residents", limit=5)
    assert {g.district for g in spots.areas} == {"李沧区"} and [r["district"] for r in spots.below_floor] == ["李沧区"]
    res = [g.uncovered_residents for g in spots.areas]
    assert res == sorted(res, reverse=True) and spots.min_density_km2 == DEFAULT_DENSITY_FLOOR_KM2["residents"]


# --------------------------------------------------------------------------- splitting, by hand


def _block(nx: int, ny: int, workers: float = 10.0) -> DemandGrid:
    i, j = np.meshgrid(np.arange(nx), np.arange(ny))
    x, y = 533_050.0 + 100 * i.ravel(), 3_990_050.0 + 100 * j.ravel()
    lon, lat = to_lonlat(x, y)
    return DemandGrid(x, y, np.asarray(lon), np.asarray(lat), np.full(nx * ny, "370202"),
                      np.full(nx * ny, 100.0), np.full(nx * ny, workers), cell_m=100)


def test_a_long_group_is_cut_across_into_parts_close_to_the_cap():
    grid = _block(40, 10)  # 4 km x 1 km of 100 m cells, 1,000 workers per km²: one dense group of 4 km²
    cov = compute_coverage(PreparedGrid(grid, NAMES), FacilityIndex([]), Threshold.metres(100))
    spots = hot_spots(cov, max_area_km2=1.0)
    assert [g.cells for g in spots.areas] == [100, 100, 100, 100]
    for g in spots.areas:  # cut across the long side: four 1 km x 1 km squares
        minx, miny, maxx, maxy = g.geometry_m.bounds
        assert (maxx - minx, maxy - miny) == pytest.approx((1000.0, 1000.0))
    odd = hot_spots(cov, max_area_km2=1.5)  # k = 3 shares of 133 or 134 cells
    assert sorted(g.cells for g in odd.areas) == [133, 133, 134] and max(g.area_km2 for g in odd.areas) <= 1.5
    assert hot_spots(cov, min_density_km2=1000.01).areas == []  # the floor is inclusive: 1000 passes, more not
    assert len(hot_spots(cov, min_density_km2=1000).areas) == 1


def test_bad_arguments_name_the_parameter():
    cov = compute_coverage(PreparedGrid(_block(4, 4), NAMES), FacilityIndex([]), Threshold.metres(100))
    for kwargs, name in (({"max_area_km2": 0.1}, "max_area_km2"), ({"max_area_km2": float("nan")}, "max_area_km2"),
                         ({"min_density_km2": -1}, "min_density_km2"), ({"rank_by": "cats"}, "demand"),
                         ({"limit": 0}, "limit")):
        with pytest.raises(ParameterError) as e:
            hot_spots(cov, **kwargs)
        assert e.value.parameter == name


# --------------------------------------------------------------------------- the API, the CLI, the report


def test_the_api_answers_hot_spots_with_places_and_the_rest_per_district(sample_app):
    client = sample_app.test_client()
    fc = client.get("/api/v1/gaps?minutes=15&limit=20").get_json(force=True)
    props = [f["properties"] for f in fc["features"]]
    assert len(props) == 20 and all(p["area_km2"] <= 4 for p in props)
    assert all(p["place"] and p["place"] != p["district"] for p in props)
    assert {"centroid_lon", "centroid_lat", "centroid_gcj02_lon", "centroid_gcj02_lat"} <= set(props[0])
    assert fc["assumptions"]["hot_spots"]["min_density_km2"] == 100 and fc["summary"]["in_listed_pct"] >= 12
    assert len(fc["below_floor"]) == 10
    small = client.get("/api/v1/gaps?minutes=15&limit=50&max_area_km2=1&min_density_km2=0").get_json(force=True)
    assert all(f["properties"]["area_km2"] <= 1 for f in small["features"])
    assert all(r["cells"] == 0 for r in small["below_floor"])
    bad = client.get("/api/v1/gaps?max_area_km2=0.1").get_json(force=True)
    assert bad["error"]["parameter"] == "max_area_km2"


def test_the_cli_lists_places_and_the_demand_below_the_floor(runner, tmp_path):
    from cli import main

    r = runner.invoke(main, ["--data-dir", str(tmp_path / "instance"), "gaps", "--limit", "5", "--max-area-km2", "2"],
                      catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "no area over 2 km²" in r.output and "near" in r.output and "below the floor" in r.output
    assert "平度市" in r.output.split("below the floor")[1]  # thin rural demand: summed, not drawn


def test_the_report_shows_places_and_the_demand_below_the_floor(districts):
    from geo import planner

    prepared, index = _shipped()
    data = planner.PlannerData(prepared, index, districts, sample=True)
    opts = planner.options(data, planner.REPORT, {"minutes": 15, "add": 0, "limit": 10, "max_area_km2": 3})
    rep = planner.report(data, opts)
    tables = {t.key: t for t in rep.tables()}
    assert [c for c, _ in tables["gaps"].columns][:3] == ["rank", "district", "place"]
    assert all(row["place"] and row["area_km2"] <= 3 for row in tables["gaps"].rows)
    assert "below_floor" in tables and "3 km²" in tables["gaps"].note
    files = rep.files()
    header = files["gaps.csv"].decode("utf-8-sig").splitlines()[0]
    assert "place" in header and "centroid_gcj02_lon" in header
    assert rep.gaps_fc["below_floor"] == tables["below_floor"].rows
