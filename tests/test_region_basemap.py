"""The offline basemap follows the region (WORKERMAP_REGION): Qingdao keeps its shipped file; Shandong's is made
from its own units — land, the 16 cities and their names — and says it knows nothing beyond them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import shape

from geo.regions import QINGDAO, activate, load_region
from geo.settings import Settings
from tests.test_regions import SHANDONG_CITIES, _app

GEOD = Geod(ellps="WGS84")


@pytest.fixture(autouse=True)
def _qingdao_after():
    yield
    activate(load_region(QINGDAO))


def test_qingdao_serves_its_shipped_basemap(tmp_path):
    from web import create_app

    app = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp_path})
    got = app.test_client().get("/worker/basemap.geojson")
    assert got.status_code == 200
    assert got.data == Path(Settings().basemap_path).read_bytes()
    assert "beyond" not in got.get_json()


@pytest.fixture(scope="module")
def shandong(tmp_path_factory):
    app = _app(tmp_path_factory.mktemp("shandong"), "370000")
    client = app.test_client()
    doc = client.get("/worker/basemap.geojson").get_json()
    outlines = client.get("/worker/districts.geojson").get_json()
    activate(load_region(QINGDAO))
    return doc, outlines


def test_shandong_basemap_has_its_cities_their_names_and_its_land(shandong):
    doc, outlines = shandong
    layers = [f["properties"]["layer"] for f in doc["features"]]
    assert layers.count("land") == 1 and doc["beyond"] == "unknown"
    units = {f["properties"]["adcode"]: f for f in doc["features"] if f["properties"]["layer"] == "district"}
    labels = {f["properties"]["adcode"]: f for f in doc["features"] if f["properties"]["layer"] == "district_label"}
    assert {a: f["properties"]["name"] for a, f in units.items()} == SHANDONG_CITIES
    assert labels.keys() == units.keys()
    region = load_region("370000")
    for adcode, label in labels.items():
        unit = shape(units[adcode]["geometry"])
        point = shapely.Point(label["geometry"]["coordinates"])
        assert unit.contains(point), adcode  # each name inside its own city
        assert label["properties"]["name"] == SHANDONG_CITIES[adcode]
        assert label["properties"]["min_zoom"] == region.zoom  # shown where the region's map opens
    # the land is the cities together: the same area (geodesic, independent of any projection) within 0.5 %
    land = shape(next(f for f in doc["features"] if f["properties"]["layer"] == "land")["geometry"])
    cities = sum(abs(GEOD.geometry_area_perimeter(shape(f["geometry"]))[0]) for f in outlines["features"])
    assert abs(abs(GEOD.geometry_area_perimeter(land)[0]) / cities - 1) < 0.005
    assert 150_000e6 < cities < 165_000e6  # Shandong: 155,800 km²


def test_shandong_page_draws_it_as_land_not_sea(shandong):
    """The document the page reads: valid JSON a browser parses, every coordinate within the region's box."""
    doc, _ = shandong
    box = load_region("370000").bounds
    xs = [c for f in doc["features"] for c in shapely.get_coordinates(shape(f["geometry"]))[:, 0]]
    ys = [c for f in doc["features"] for c in shapely.get_coordinates(shape(f["geometry"]))[:, 1]]
    assert box["lon_min"] <= min(xs) and max(xs) <= box["lon_max"]
    assert box["lat_min"] <= min(ys) and max(ys) <= box["lat_max"]
    assert len(json.dumps(doc)) < 2_000_000
