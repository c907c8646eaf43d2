"""The demand grid: census totals, land-only cells, determinism, settlement shape, importers."""

from __future__ import annotations

import csv
import gzip
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from geo import demand
from geo.crs import to_lonlat, to_metric
from geo.demand import (
    DemandGrid,
    build_demand_grid,
    census_targets,
    demand_from_points_csv,
    demand_from_raster,
    district_totals,
    load_demand,
    save_demand,
)
from geo.geography import load_districts
from geo.settings import SHIPPED_DATA
from tests.tools import need_module

DATA = SHIPPED_DATA  # the shipped data folder (geo/shipped/)
CENSUS = DATA / "reference" / "qingdao_district_census2020.csv"
CENTRES = DATA / "reference" / "qingdao_urban_centres_approx.csv"
SHIPPED_GRID = DATA / "demand_grid_250m.csv.gz"
TOTAL_RESIDENTS = 10_071_722


@pytest.fixture(scope="module")
def districts():
    return load_districts(DATA / "qingdao_districts_wgs84.geojson")


@pytest.fixture(scope="module")
def grid(districts):
    return build_demand_grid(districts)


@pytest.fixture(scope="module")
def expected():
    """Census targets computed here, independently of geo.demand, with the csv module."""
    with open(CENSUS, encoding="utf-8", newline="") as fh:
        rows = {r["adcode"]: r for r in csv.DictReader(fh)}

    def outdoor(r):
        share = (
            float(r["share_transport_storage_post"])
            + float(r["share_accommodation_catering"])
            + float(r["share_water_env_public_facilities"])
        )
        return int(r["census2020_resident_pop"]) * float(r["employment_ratio_16plus_sample"]) * share

    out = {}
    for adcode, r in rows.items():
        if adcode == "370271":  # the High-tech Zone is folded into 城阳区
            continue
        residents = (
            int(float(r["pop_for_polygon"])) if adcode == "370214" else int(r["census2020_resident_pop"])
        )
        workers = outdoor(r) + (outdoor(rows["370271"]) if adcode == "370214" else 0.0)
        out[adcode] = (residents, workers)
    return out


def _sums(grid: DemandGrid, values: np.ndarray) -> dict[str, float]:
    return pd.Series(values).groupby(pd.Series(grid.adcode)).sum().to_dict()


# ------------------------------------------------------------------ totals


def test_district_residents_equal_the_census(grid, expected):
    sums = _sums(grid, grid.residents)
    assert sorted(sums) == sorted(expected)
    for adcode, (residents, _) in expected.items():
        assert sums[adcode] == pytest.approx(residents, rel=0.005)
        assert abs(sums[adcode] - residents) < 0.05  # exact to the 0.1 rounding
    assert sum(r for r, _ in expected.values()) == TOTAL_RESIDENTS
    assert round(grid.residents.sum()) == TOTAL_RESIDENTS


def test_district_workers_follow_the_census_formula(grid, expected):
    sums = _sums(grid, grid.workers)
    for adcode, (_, workers) in expected.items():
        assert sums[adcode] == pytest.approx(workers, rel=0.005)
        assert abs(sums[adcode] - workers) <= 0.05 + 1e-6
    # 城阳区 with the High-tech Zone's own ratios, spelled out
    chengyang = 1_067_783 * 0.6161 * (0.0747 + 0.0464 + 0.0093) + 41_823 * 0.8075 * (0.0303 + 0.0178 + 0.0053)
    assert sums["370214"] == pytest.approx(chengyang, abs=0.05)


def test_census_targets_function(expected):
    targets = census_targets(CENSUS)
    assert list(targets.index) == sorted(expected)
    for adcode, (residents, workers) in expected.items():
        assert targets.loc[adcode, "residents"] == residents
        assert targets.loc[adcode, "workers"] == pytest.approx(workers, rel=1e-12)
    assert targets.loc["370214", "name"] == "城阳区"


def test_district_totals_frame(grid):
    totals = district_totals(grid)
    assert list(totals.columns) == ["adcode", "cells", "residents", "workers"]
    assert totals["cells"].sum() == len(grid)
    assert totals["residents"].sum() == pytest.approx(TOTAL_RESIDENTS)


# ------------------------------------------------------------------ cells


def test_cells_are_on_the_lattice_and_lonlat_matches(grid):
    assert grid.cell_m == 250 and grid.source == "modelled"
    for v in (grid.x, grid.y):
        k = v / grid.cell_m - 0.5
        assert np.array_equal(k, np.round(k))
    lon, lat = to_lonlat(grid.x, grid.y)
    assert np.allclose(lon, grid.lon, atol=1e-12) and np.allclose(lat, grid.lat, atol=1e-12)
    assert len(np.unique(grid.x + 1j * grid.y)) == len(grid)  # no duplicate cell
    assert np.all(grid.residents > 0) and np.all(grid.workers >= 0)


def test_every_cell_centre_is_inside_its_district(grid, districts):
    for adcode, geom in zip(districts.frame["adcode"], districts.frame.geometry, strict=True):
        mask = grid.adcode == adcode
        assert mask.sum() > 0
        assert shapely.intersects_xy(geom, grid.lon[mask], grid.lat[mask]).all(), adcode
    assert np.array_equal(districts.locate(grid.lon, grid.lat).astype(str), grid.adcode)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(120.25, 36.15), (120.22, 36.12), (120.60, 35.90), (121.00, 36.00)],
    ids=["jiaozhou-bay", "jiaozhou-bay-south", "yellow-sea", "yellow-sea-east"],
)
def test_no_cell_in_the_sea(grid, lon, lat):
    x, y = to_metric(lon, lat)
    cx = (np.floor(x / grid.cell_m) + 0.5) * grid.cell_m
    cy = (np.floor(y / grid.cell_m) + 0.5) * grid.cell_m
    assert not np.any((grid.x == cx) & (grid.y == cy))


def test_cells_cover_the_land_area(grid, districts):
    """Land only: the cells of each district add up to its polygon area (not its bounding box)."""
    cells = pd.Series(grid.adcode).value_counts()
    for adcode, area_km2 in zip(districts.frame["adcode"], districts.frame["area_km2_geodesic"], strict=True):
        assert cells[adcode] * grid.cell_area_km2 == pytest.approx(area_km2, rel=0.025), adcode


def test_density_is_highest_near_the_urban_centres(grid):
    centres = pd.read_csv(CENTRES, dtype={"adcode": str})
    cx, cy = to_metric(centres["lon"].to_numpy(), centres["lat"].to_numpy())
    dist = np.min(np.hypot(grid.x[:, None] - cx[None, :], grid.y[:, None] - cy[None, :]), axis=1)
    for x, y, adcode in zip(cx, cy, centres["adcode"], strict=True):
        in_district = grid.adcode == adcode
        near = in_district & (np.hypot(grid.x - x, grid.y - y) < 2000)
        # the three all-urban inner districts are dense throughout; elsewhere the centre stands out
        factor = 1.4 if in_district.sum() * grid.cell_area_km2 < 150 else 5.0
        assert grid.residents[near].mean() > factor * grid.residents[in_district].mean(), adcode
    # city-wide, density falls with distance from the nearest urban centre
    rings = [
        grid.residents[(dist >= lo) & (dist < hi)].mean()
        for lo, hi in [(0, 2000), (2000, 5000), (5000, 10_000), (10_000, 20_000), (20_000, np.inf)]
    ]
    assert rings == sorted(rings, reverse=True)
    # the densest cell of the city and of each district lies near an urban centre
    assert dist[np.argmax(grid.residents)] < 3000
    for adcode in np.unique(grid.adcode):
        idx = np.flatnonzero(grid.adcode == adcode)
        assert dist[idx[np.argmax(grid.residents[idx])]] < 5000, adcode
    # workers are more concentrated in the urban cores than residents
    core = dist < 5000
    assert grid.workers[core].sum() / grid.workers.sum() > grid.residents[core].sum() / grid.residents.sum()


def test_rural_floor_leaves_no_land_cell_empty(grid):
    density = grid.residents / grid.cell_area_km2
    assert density.min() > 50  # persons per km²


# ------------------------------------------------------------------ determinism and file


def test_build_is_deterministic(grid, districts):
    again = build_demand_grid(
        districts, CENSUS, CENTRES, DATA / "reference" / "qingdao_geonames_places_wgs84.geojson"
    )
    for name in ("x", "y", "lon", "lat", "adcode", "residents", "workers"):
        assert np.array_equal(getattr(grid, name), getattr(again, name)), name


def test_save_is_byte_identical_and_round_trips(grid, tmp_path):
    a, b = tmp_path / "a.csv.gz", tmp_path / "b.csv.gz"
    save_demand(grid, a)
    save_demand(grid, b)
    assert a.read_bytes() == b.read_bytes()
    back = load_demand(a)
    assert back.cell_m == grid.cell_m and back.source == "modelled"
    for name in ("x", "y", "adcode", "residents", "workers"):
        assert np.array_equal(getattr(back, name), getattr(grid, name)), name
    assert np.allclose(back.lon, grid.lon, atol=1e-12)


def test_shipped_grid_is_what_the_build_makes(grid, tmp_path):
    fresh = tmp_path / "fresh.csv.gz"
    save_demand(grid, fresh)
    # compare the CSV text: the gzip stream itself may differ between zlib versions
    assert gzip.decompress(SHIPPED_GRID.read_bytes()) == gzip.decompress(fresh.read_bytes())
    assert SHIPPED_GRID.stat().st_size < 3_000_000


def test_file_format_is_documented_csv():
    with gzip.open(SHIPPED_GRID, "rt", encoding="utf-8") as fh:
        first, header, row = fh.readline(), fh.readline(), fh.readline()
    assert first == "# workermap demand grid; crs=EPSG:4549; cell_m=250; source=modelled\n"
    assert header == "x,y,adcode,residents,workers\n"
    x, y, adcode, residents, workers = row.strip().split(",")
    assert x.isdigit() and y.isdigit() and len(adcode) == 6
    assert float(residents) > 0 and "." in residents and "." in workers


def test_load_plain_csv_infers_cell_size(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("x,y,adcode,residents,workers\n500050,4000050,370283,10,1\n500150,4000050,370283,5,0.5\n")
    grid = load_demand(path)
    assert grid.cell_m == 100 and grid.source == "imported: plain.csv"
    assert grid.adcode.tolist() == ["370283", "370283"]


def test_grid_lengths_must_agree():
    one = np.zeros(1)
    with pytest.raises(ValueError, match="workers"):
        DemandGrid(
            x=one, y=one, lon=one, lat=one, adcode=np.array(["370202"]), residents=one, workers=np.zeros(2)
        )


@pytest.mark.parametrize("bad", [0, -250, 12.5, True])
def test_cell_size_is_checked(districts, bad):
    with pytest.raises(ValueError, match="cell_m"):
        build_demand_grid(districts, cell_m=bad)


def test_100m_grid_is_exact(districts):
    """The 100 m grid keeps every resident (its build time is measured by bench/bench_coverage.py)."""
    fine = build_demand_grid(districts, cell_m=100)
    assert 1_080_000 < len(fine) < 1_180_000
    assert round(fine.residents.sum()) == TOTAL_RESIDENTS


# ------------------------------------------------------------------ importers


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_points_csv_aggregates_into_cells(tmp_path, districts):
    # three points in one 250 m cell at May Fourth Square (市南区), one in Pingdu
    x0, y0 = to_metric(120.3843, 36.0620)
    cell = 250
    cx, cy = (np.floor(x0 / cell) + 0.5) * cell, (np.floor(y0 / cell) + 0.5) * cell
    pts = [(cx - 100, cy - 100), (cx + 100, cy + 90), (cx, cy)]
    lonlat = [to_lonlat(x, y) for x, y in pts] + [(119.96, 36.7868)]
    rows = ["lon,lat,residents,workers"]
    for (lon, lat), (r, w) in zip(lonlat, [(10, 1), (20, 2), (30.5, 3.5), (7, 0.5)], strict=True):
        rows.append(f"{lon:.9f},{lat:.9f},{r},{w}")
    grid = demand_from_points_csv(_write(tmp_path / "pts.csv", "\n".join(rows) + "\n"), districts)
    assert len(grid) == 2 and grid.cell_m == 250 and grid.source == "imported: pts.csv"
    i = int(np.flatnonzero((grid.x == cx) & (grid.y == cy))[0])
    assert grid.adcode[i] == "370202"
    assert grid.residents[i] == pytest.approx(60.5) and grid.workers[i] == pytest.approx(6.5)
    assert sorted(grid.adcode.tolist()) == ["370202", "370283"]
    assert grid.residents.sum() == pytest.approx(67.5)
    # the imported grid saves and loads with its source
    save_demand(grid, tmp_path / "imported.csv.gz")
    assert load_demand(tmp_path / "imported.csv.gz").source == "imported: pts.csv"


def test_points_csv_drops_points_outside_the_city(tmp_path, districts):
    path = _write(tmp_path / "p.csv", "lon,lat,residents,workers\n120.3843,36.0620,5,1\n120.25,36.15,9,9\n")
    with pytest.warns(UserWarning, match="1 of 2 points lie outside every district"):
        grid = demand_from_points_csv(path, districts, cell_m=500)
    assert grid.residents.tolist() == [5.0] and grid.cell_m == 500


def test_points_csv_without_workers_uses_census_share(tmp_path, districts, expected):
    path = _write(tmp_path / "p.csv", "lon,lat,residents\n120.3843,36.0620,1000\n")
    grid = demand_from_points_csv(path, districts)
    residents, workers = expected["370202"]
    assert grid.workers[0] == pytest.approx(1000 * workers / residents)


def test_points_csv_errors_name_the_problem(tmp_path, districts):
    with pytest.raises(ValueError, match="missing columns lon"):
        demand_from_points_csv(_write(tmp_path / "a.csv", "x,lat,residents\n1,2,3\n"), districts)
    with pytest.raises(ValueError, match="line\\(s\\) 3"):
        demand_from_points_csv(
            _write(tmp_path / "b.csv", "lon,lat,residents\n120.38,36.06,3\n120.38,36.06,-1\n"), districts
        )


def test_raster_needs_rasterio_with_a_clear_message(tmp_path, districts, monkeypatch):
    monkeypatch.setitem(sys.modules, "rasterio", None)  # make the import fail
    with pytest.raises(ImportError, match="pip install rasterio"):
        demand_from_raster(tmp_path / "pop.tif", districts)


def test_raster_import_preserves_people(tmp_path, districts, expected):
    rasterio = need_module("rasterio")
    from affine import Affine

    # a 0.01° (about 0.9 x 1.1 km) population raster inland in Pingdu, 100 people per pixel
    values = np.full((5, 6), 100.0, dtype="float32")
    values[0, 0] = -9999.0  # nodata
    path = tmp_path / "pop.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=5,
        width=6,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=Affine(0.01, 0, 119.90, 0, -0.01, 36.80),
        nodata=-9999.0,
    ) as dst:
        dst.write(values, 1)
    grid = demand_from_raster(path, districts)
    assert grid.source == "imported: pop.tif" and grid.cell_m == 250
    assert set(grid.adcode.tolist()) == {"370283"}
    assert grid.residents.sum() == pytest.approx(29 * 100.0)
    residents, workers = expected["370283"]
    assert grid.workers.sum() == pytest.approx(2900 * workers / residents)
    # split evenly: about 16 cells per pixel, none holding more than a pixel's share
    assert len(grid) > 29 * 10 and grid.residents.max() < 100 / 8


def test_module_never_imports_web_packages():
    assert "rasterio" not in demand.__dict__
    source = Path(demand.__file__).read_text(encoding="utf-8")
    for name in ("flask", "folium", "jinja2"):
        assert f"import {name}" not in source
