"""The ``travel`` parameter (straight | land | network) on every nearest and planner endpoint and command.

Each endpoint and command takes it (declared once: ``geo.params.TRAVEL_MODEL``, the planner's default in
``geo.planner_params.PLANNER_TRAVEL``) and states the model it used (a ``travel`` object); ``network`` without an
imported OpenStreetMap extract is a 400 naming ``travel`` (the CLI: one line, exit 2). With a road graph written
by the test into the data folder in the import's format (``<data_dir>/osm/graph_{mode}.npz``) a facility 200 m
away across a river, 4.2 km by road, ranks below one 600 m away on the same bank, and its ``distance_m`` is the
route's. ``land`` coverage of the shipped data never crosses Jiaozhou Bay where the straight circle does.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from cli import main
from geo.crs import to_lonlat, to_metric
from tests.conftest import make_facility, write_registry

NETWORK = "network needs an imported OpenStreetMap extract"
#: (method, path, query or body, where the answer states the model): every endpoint taking ``travel``.
ENDPOINTS = [
    ("get", "/api/v1/nearest", "lon=120.3843&lat=36.062&k=2", ("travel",)),
    ("post", "/api/v1/nearest", {"points": [[120.3843, 36.062]], "k": 1}, ("travel",)),
    ("get", "/api/v1/coverage", "district=370202", ("assumptions", "travel")),
    ("get", "/api/v1/coverage/facilities", "district=370202", ("assumptions", "travel")),
    ("get", "/api/v1/coverage/hours", "district=370202", ("assumptions", "travel")),
    ("get", "/api/v1/gaps", "district=370202&limit=2", ("assumptions", "travel")),
    ("post", "/api/v1/plan", {"add": 1, "district": "370202"}, ("assumptions", "travel")),
    ("get", "/api/v1/whatif", "add=120.38,36.07&district=370202", ("assumptions", "travel")),
    ("post", "/api/v1/whatif", {"add": [[120.38, 36.07]], "district": "370202"}, ("assumptions", "travel")),
    ("get", "/api/v1/access", "district=370202&limit=2", ("assumptions", "travel")),
]
#: The commands taking ``--travel`` and a short valid command line each.
COMMANDS = [
    ["nearest", "--lon", "120.3843", "--lat", "36.062"],
    ["gaps", "--district", "370202", "--limit", "2"],
    ["plan", "--add", "1", "--district", "370202"],
    ["whatif", "--add", "120.38,36.07", "--district", "370202"],
    ["access", "--district", "370202", "--limit", "2"],
]


def _ask(client, method, path, args, travel):
    if method == "get":
        return client.get(f"{path}?{args}&travel={travel}")
    return client.post(path, json={**args, "travel": travel})


def _stated(body: dict, where: tuple[str, ...]) -> dict:
    for key in where:
        body = body[key]
    return body


@pytest.mark.parametrize(("method", "path", "args", "where"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
def test_every_endpoint_takes_travel_and_states_the_model(client, method, path, args, where):
    default = client.get(f"{path}?{args}") if method == "get" else client.post(path, json=args)
    straight = _ask(client, method, path, args, "straight")
    assert default.status_code == straight.status_code == 200, straight.json
    stated = _stated(straight.json, where)
    assert stated["model"] == "straight" and stated["detour_factor"] == 1.3 and stated["rule"]
    # the shipped defaults (see the README): straight for nearest, land for every planner answer
    assert _stated(default.json, where)["model"] == ("straight" if path.endswith("/nearest") else "land")
    refused = _ask(client, method, path, args, "network")
    assert refused.status_code == 400
    error = refused.json["error"]
    assert error["parameter"] == "travel" and NETWORK in error["message"] and "workermap osm import" in error["allowed"]
    bad = _ask(client, method, path, args, "teleport")
    assert bad.status_code == 400 and bad.json["error"]["parameter"] == "travel"


def test_default_answers_are_those_of_the_declared_default(client):
    """Without ``travel`` an answer is that of the declared default: nearest's and the planner's."""
    from geo.params import TRAVEL_MODEL
    from geo.planner_params import PLANNER_TRAVEL

    for path, model in (("/api/v1/coverage?district=370203", PLANNER_TRAVEL.default),
                        ("/api/v1/nearest?lon=120.3843&lat=36.062&open_at=any", TRAVEL_MODEL.default)):
        a, b = client.get(path).json, client.get(f"{path}&travel={model}").json
        for body in (a, b):
            body.pop("evaluated_at", None), body.get("grid", {}).pop("png", None)  # the time; the URL echoes the query
        assert a == b


def test_report_takes_travel_and_states_it(client):
    assert client.get("/api/v1/report.zip?travel=network&add=0").status_code == 400
    r = client.get("/api/v1/report.zip?travel=straight&add=0&district=370202&limit=2")
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
        a = json.loads(zf.read("workermap-report/assumptions.json"))
        html = zf.read("workermap-report/index.html").decode()
        readme = zf.read("workermap-report/README.txt").decode()
    assert a["travel"]["model"] == "straight"
    assert "直线距离估算" in html and "straight-line estimate" in readme


def test_openapi_documents_travel_on_every_endpoint(client):
    doc = client.get("/api/openapi.json").json
    for method, path, _, _ in ENDPOINTS + [("get", "/api/v1/report.zip", "", ())]:
        op = doc["paths"][path][method]
        if method == "get":
            params = {p["name"]: p for p in op["parameters"]}
            schema = params["travel"]["schema"]
        else:
            body = op["requestBody"]["content"]["application/json"]["schema"]
            body = doc["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]] if "$ref" in body else body
            schema = body["properties"]["travel"]
        assert schema["enum"] == ["straight", "land", "network"], path
    assert set(doc["components"]["schemas"]["TravelModel"]["properties"]) >= {"model", "rule", "osm"}


@pytest.mark.parametrize("argv", COMMANDS, ids=[a[0] for a in COMMANDS])
def test_every_command_takes_travel(runner, data_dir, argv):
    base = ["--data-dir", str(data_dir), *argv]
    r = runner.invoke(main, [*base, "--travel", "network"])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "--travel" in lines[0] and NETWORK in lines[0]
    r = runner.invoke(main, [*base, "--travel", "straight"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "straight" in r.output.lower()


# --------------------------------------------------------------------------- an imported road graph

#: The synthetic town (EPSG:4549 metres from the origin O, north of 五四广场): a road along the south bank
#: O - B (600 m) - S (2000 m), a bridge S - N (200 m) over the river between y=0 and y=200, a road along the
#: north bank N - A; A is 200 m from O in a straight line and 4,200 m by road.
NODES = {"O": (0.0, 0.0), "B": (600.0, 0.0), "S": (2000.0, 0.0), "N": (2000.0, 200.0), "A": (0.0, 200.0)}
ROADS = [("O", "B"), ("B", "S"), ("S", "N"), ("N", "A")]


def _install_graph(data_dir, origin_lonlat) -> dict[str, tuple[float, float]]:
    """Write the town's graph for walking and e-bikes in the import's format; the nodes' WGS84 positions."""
    ox, oy = (float(v) for v in to_metric(*origin_lonlat))
    names = list(NODES)
    lon, lat = to_lonlat(np.array([ox + NODES[n][0] for n in names]), np.array([oy + NODES[n][1] for n in names]))
    lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
    src, dst, length = [], [], []
    for a, b in ROADS:
        d = float(np.hypot(*np.subtract(NODES[a], NODES[b])))
        for s_, t_ in ((a, b), (b, a)):
            src.append(names.index(s_)), dst.append(names.index(t_)), length.append(d)
    osm = data_dir / "osm"
    osm.mkdir(parents=True, exist_ok=True)
    for mode in ("walk", "ebike"):
        np.savez(osm / f"graph_{mode}.npz", node_lon=lon, node_lat=lat, src=np.array(src, dtype=np.int32),
                 dst=np.array(dst, dtype=np.int32), length_m=np.array(length, dtype="float64"))
    (osm / "provenance.json").write_text(json.dumps({
        "file": "town.osm.pbf", "sha256": "0" * 64, "size_bytes": 1, "osm_timestamp": "2026-11-01T00:00:00Z",
        "imported_at": "2026-11-27T00:00:00Z", "clip_to_city": False, "bbox_wgs84": [120.38, 36.06, 120.41, 36.07],
        "attribution": "© OpenStreetMap contributors (ODbL 1.0)", "licence_url": "https://www.openstreetmap.org/copyright",
        "modes": {"walk": {"nodes": 5, "edges": 8}, "ebike": {"nodes": 5, "edges": 8}}, "landmarks": 0,
        "tiles": None, "reader": "test"}))
    return {n: (float(lon[i]), float(lat[i])) for i, n in enumerate(names)}


@pytest.fixture
def town(tmp_path):
    """A data folder with facilities A (across the river) and B (same bank) and the town's road graph."""
    d = tmp_path / "town"
    where = _install_graph(d, (120.3843, 36.0625))
    write_registry(d / "facilities.geojson", [
        make_facility(1, id="t-across", lon=where["A"][0], lat=where["A"][1], opening_hours="24/7"),
        make_facility(2, id="t-bank", lon=where["B"][0], lat=where["B"][1], opening_hours="24/7")])
    return d, where["O"]


def test_network_ranks_by_route_and_reports_the_route_distance(town):
    from web import create_app

    d, (lon, lat) = town
    client = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": d}).test_client()
    q = f"/api/v1/nearest?lon={lon}&lat={lat}&k=2&open_at=any"
    straight = client.get(q).json["hits"]
    assert [h["id"] for h in straight] == ["t-across", "t-bank"]
    assert straight[0]["distance_m"] == pytest.approx(200.0, abs=0.5)
    r = client.get(q + "&travel=network")
    assert r.status_code == 200, r.json
    hits = r.json["hits"]
    assert [h["id"] for h in hits] == ["t-bank", "t-across"]
    assert hits[0]["distance_m"] == pytest.approx(600.0, abs=0.1)
    assert hits[1]["distance_m"] == pytest.approx(4200.0, abs=0.1)
    assert hits[1]["walk_min"] == pytest.approx(4200 / (4.8 * 1000 / 60), abs=0.05)  # no detour factor on roads
    assert hits[1]["ebike_min"] == pytest.approx(4200 / (15.0 * 1000 / 60), abs=0.05)
    travel = r.json["travel"]
    assert travel["model"] == "network" and "detour_factor" not in travel
    assert travel["osm"]["file"] == "town.osm.pbf" and "OpenStreetMap" in travel["osm"]["attribution"]
    batch = client.post("/api/v1/nearest", json={"points": [[lon, lat]], "k": 2, "open_at": "any",
                                                 "travel": "network"}).json
    assert [(h["id"], h["distance_m"]) for h in batch["results"][0]] == [("t-bank", 600.0), ("t-across", 4200.0)]


def test_network_from_the_command_line(runner, town):
    d, (lon, lat) = town
    r = runner.invoke(main, ["--data-dir", str(d), "nearest", "--lon", str(lon), "--lat", str(lat), "-k", "2",
                             "--open-at", "any", "--travel", "network", "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert [h["id"] for h in out["hits"]] == ["t-bank", "t-across"] and out["travel"]["model"] == "network"
    assert out["hits"][1]["distance_m"] == pytest.approx(4200.0, abs=0.1)


# --------------------------------------------------------------------------- land on the shipped data


def test_land_coverage_does_not_cross_jiaozhou_bay():
    """A site on 薛家岛 (黄岛区), 5 km across the bay's mouth from 团岛 (市南区): its straight circle of 8 km covers
    cells of 市南区; over land the way round the bay is some 60 km, so none."""
    from geo.coverage import PreparedGrid, Sites, Threshold, compute_coverage
    from geo.demand import load_demand
    from geo.nearest import FacilityIndex
    from geo.settings import Settings
    from geo.travel import TravelContext

    settings = Settings.from_env()
    prepared = PreparedGrid(load_demand(settings.demand_path))
    site = Sites(FacilityIndex([]), [], [120.2475], [36.0125])
    shinan = prepared.cell_mask("370202")
    context = TravelContext.for_settings(settings)
    straight = compute_coverage(prepared, FacilityIndex([]), Threshold.metres(8000), sites=site)
    land = compute_coverage(prepared, FacilityIndex([]), Threshold.metres(8000, model="land", context=context),
                            sites=site)
    assert straight.covered[shinan].sum() > 50
    assert land.covered[shinan].sum() == 0
    assert land.covered.sum() > 0  # the site's own shore is reached
    assert (land.covered <= straight.covered | (land.distance_m <= 8000)).all()
    assert land.assumptions()["travel"]["model"] == "land" and land.threshold.label == "8000 m over land"


def test_planner_answers_by_road(town):
    """Coverage, a plan and access along the imported roads: each states the network and its extract."""
    from web import create_app

    d, _ = town
    client = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": d}).test_client()
    q = "travel=network&threshold_m=700&district=370202&kind=any"
    straight = client.get("/api/v1/coverage?threshold_m=700&district=370202&kind=any").json["city"]
    cov = client.get(f"/api/v1/coverage?{q}").json
    assert cov["assumptions"]["travel"]["model"] == "network"
    assert cov["assumptions"]["travel"]["osm"]["file"] == "town.osm.pbf"
    assert 0 < cov["city"]["covered_workers"] < straight["covered_workers"]  # roads reach less than circles
    plan = client.post("/api/v1/plan", json={"travel": "network", "threshold_m": 700, "district": "370202",
                                             "kind": ["any"], "add": 1})
    assert plan.status_code == 200, plan.json
    assert plan.json["assumptions"]["travel"]["model"] == "network"
    acc = client.get(f"/api/v1/access?{q}&limit=2")
    assert acc.status_code == 200 and acc.json["assumptions"]["travel"]["model"] == "network"
