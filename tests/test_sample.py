"""The shipped sample registry: reproducible, the published counts, on land in its district."""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.demand import load_demand
from geo.sample import SEED, generate_sample, sample_geojson
from geo.settings import SHIPPED_DATA


@pytest.fixture(scope="module")
def generated(districts):
    grid = load_demand(SHIPPED_DATA / "demand_grid_250m.csv.gz")
    towns = pd.read_csv(SHIPPED_DATA / "reference" / "qingdao_townships.csv", dtype=str)
    return grid, towns, generate_sample(grid, districts, towns, seed=SEED)


def test_byte_identical_and_equal_to_shipped_file(generated, districts):
    grid, towns, facilities = generated
    again = generate_sample(grid, districts, towns, seed=SEED)
    assert sample_geojson(again) == sample_geojson(facilities)
    assert (SHIPPED_DATA / "sample_facilities.geojson").read_bytes() == sample_geojson(facilities)


def test_counts(generated):
    facilities = generated[2]
    # the published network (784 stations, 168 shared homes, 400+ mother rooms, ~300 childcare) + our 24 apartments
    assert Counter(f.kind for f in facilities) == {"station": 784, "shared_home": 168, "mother_room": 400,
                                                  "childcare": 300, "apartment": 24}
    stations = [f for f in facilities if f.kind == "station"]
    assert sum(f.opening_hours == "24/7" for f in stations) == 87
    assert sum(f.district == "城阳区" for f in stations) == 48
    assert all(f.sample for f in facilities)
    assert len({f.id for f in facilities}) == len(facilities)


def test_24h_stations_are_smart_and_open_to_all(generated):
    for f in generated[2]:
        if f.kind == "station" and f.opening_hours == "24/7":
            assert set(f.entry) == {"qr_code", "face"} and f.access == "outdoor_workers"


def test_every_point_on_land_in_its_own_district(generated, districts):
    """Checked with a geopandas spatial join (an independent path from Districts.locate)."""
    facilities = generated[2]
    pts = gpd.GeoDataFrame({"claimed": [f.district_adcode for f in facilities]},
                           geometry=shapely.points([(f.lon, f.lat) for f in facilities]), crs="EPSG:4326")
    joined = gpd.sjoin(pts, districts.frame[["adcode", "geometry"]], predicate="within", how="left")
    assert joined["adcode"].notna().all()
    assert (joined["adcode"] == joined["claimed"]).all()


def test_stations_follow_modelled_worker_demand(generated):
    grid, _, facilities = generated
    workers = pd.Series(grid.workers).groupby(pd.Series(grid.adcode)).sum()
    others = workers.drop("370214")
    share = others / others.sum() * (784 - 48)
    got = Counter(f.district_adcode for f in facilities if f.kind == "station")
    for adcode, expected in share.items():
        assert abs(got[adcode] - expected) <= 1, (adcode, got[adcode], expected)


def test_names_use_townships_of_the_right_district(generated):
    grid, towns, facilities = generated
    by_district = towns.groupby("county_code")["town_name"].apply(set)
    for f in facilities:
        assert f.township in by_district[f.district_adcode]
        if f.kind in ("station", "childcare"):
            assert f.name.startswith(f.township)
