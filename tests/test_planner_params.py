"""The planner's parameters are declared once (geo.planner_params): the API parses with them, the OpenAPI document
and the CLI options are made from them, and the CLI and the API give the same answer for the same options."""

from __future__ import annotations

import io
import json
import zipfile

import click
import pytest

from geo import planner_params as pp
from geo.errors import ParameterError
from geo.params import Params

#: Each planner operation of the API and the declarations it parses with.
GET_OPERATIONS = {
    "/api/v1/coverage": pp.COVERAGE, "/api/v1/coverage/grid.png": pp.COVERAGE,
    "/api/v1/coverage/facilities": pp.COVERAGE, "/api/v1/coverage/hours": pp.HOURS, "/api/v1/gaps": pp.GAPS,
    "/api/v1/whatif": pp.WHATIF_QUERY, "/api/v1/report.zip": pp.REPORT_QUERY,
}
BODIES = {"PlanRequest": pp.PLAN, "WhatIfRequest": pp.WHATIF, "ReportRequest": pp.REPORT}


@pytest.fixture
def spec(client) -> dict:
    return client.get("/api/openapi.json").get_json(force=True)


def _districts(app) -> list[str]:
    frame = app.extensions["workermap"].districts.frame
    return [pp.CITY_ADCODE, pp.CITY_NAME, *dict.fromkeys([*frame["adcode"], *frame["name"]])]


def _check_schema(schema: dict, p, districts: list[str], where: str) -> None:
    """The documented schema of one parameter says what the declaration says: range, allowed values, default."""
    if p.name == "district":
        assert schema["enum"] == districts, where
        return
    declared = p.schema()
    for key in ("type", "minimum", "maximum", "enum", "default", "maxItems", "minItems", "format"):
        assert schema.get(key) == declared.get(key), (where, key)
    if p.type in ("integer", "number"):
        assert (schema.get("minimum"), schema.get("maximum")) == (p.lo, p.hi), where
    if p.type == "enum":
        assert schema["enum"] == list(p.allowed_values()), where
    if p.type == "enum_list":
        assert schema["items"]["enum"] == list(p.allowed_values()), where
    if "items" in declared:
        assert schema["items"] == declared["items"], where


def test_documented_planner_parameters_are_the_declarations(app, spec):
    districts = _districts(app)
    for path, params in GET_OPERATIONS.items():
        op = spec["paths"][path]["get"]
        documented = {p["name"]: p for p in op["parameters"]}
        assert list(documented) == list(params.names), path  # names, in the declared order
        for p in params:
            _check_schema(documented[p.name]["schema"], p, districts, f"GET {path} {p.name}")
            assert documented[p.name]["description"].startswith(p.description), (path, p.name)
    for name, params in BODIES.items():
        body = spec["components"]["schemas"][name]
        assert body["additionalProperties"] is False
        assert list(body["properties"]) == list(params.names), name
        for p in params:
            prop = body["properties"][p.name]
            assert prop["nullable"] is True and prop["description"].startswith(p.description), (name, p.name)
            _check_schema(prop, p, districts, f"{name} {p.name}")
    for path, method, body in [("/api/v1/plan", "post", "PlanRequest"), ("/api/v1/whatif", "post", "WhatIfRequest"),
                               ("/api/v1/report.zip", "post", "ReportRequest")]:
        schema = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{body}"}, path


def test_the_limits_hold_where_they_are_used(client, runner, data_dir):
    """The limits that had drifted (candidates 50,000 in geo vs 20,000 in the view, the exact solve's 60 s vs
    30 s) now have one value: each is enforced at its edge by the API and the CLI, and the solver takes it."""
    from cli import main
    from geo import siting

    def refused(body, path="/api/v1/plan"):
        r = client.post(path, json=body)
        assert r.status_code == 400, (path, r.get_json())
        return r.get_json()["error"]["parameter"]

    assert refused({"add": pp.MAX_ADD + 1}) == "add"
    assert refused({"add": 1, "min_spacing_m": pp.MAX_SPACING_M + 1}) == "min_spacing_m"
    point = [120.38, 36.06]
    assert refused({"add": 1, "candidates": [point] * (pp.MAX_CANDIDATES + 1)}) == "candidates"
    assert client.post("/api/v1/plan", json={"add": 1, "candidates": [point] * 3}).status_code == 200
    assert refused({"add": [point] * (pp.MAX_WHATIF_SITES + 1)}, "/api/v1/whatif") == "add"
    r = runner.invoke(main, ["--data-dir", str(data_dir), "plan", "--add", str(pp.MAX_ADD + 1)])
    assert r.exit_code == 2 and "--add" in r.output
    with pytest.raises(ParameterError) as err:
        siting._check_args(1, "workers", pp.MAX_SPACING_M + 1, "greedy")
    assert str(pp.MAX_SPACING_M) in str(err.value)


def _command(name: str) -> click.Command:
    from cli import main

    return main.commands[name]


@pytest.mark.parametrize(("command", "params"), [("gaps", pp.GAPS), ("plan", pp.PLAN), ("whatif", pp.COVERAGE),
                                                 ("report", pp.REPORT)])
def test_cli_options_are_the_declarations(command, params):
    options = {p.name: p for p in _command(command).params}
    for p in params:
        if p.type == "json":  # files (plan/report) or repeated values (whatif): read, then parsed as declared
            assert p.name in options, (command, p.name)
            continue
        opt = options[p.name]
        if p.type in ("integer", "number"):
            assert (opt.type.min, opt.type.max) == (p.lo, p.hi), (command, p.name)
        elif p.type in ("enum", "enum_list"):
            assert tuple(opt.type.choices) == p.allowed_values(), (command, p.name)
            assert opt.multiple == (p.type == "enum_list")
        if p.default not in (None, (), False):
            assert opt.default == p.default, (command, p.name)
    if command == "gaps":
        assert options["demand"].opts == ["--demand", "--rank-by"]  # the old flag still works


def test_planner_declarations_parse_what_the_views_did():
    v = pp.REPORT_QUERY.parse({"add": "0", "limit": "7", "date": "2026-11-25", "kind": "any"})
    assert (v["add"], v["limit"], v["date"].isoformat(), v["kind"]) == (0, 7, "2026-11-25", ("any",))
    assert pp.PLAN.parse({})["add"] == 20 and pp.REPORT.parse({})["limit"] == 50 and pp.GAPS.parse({})["limit"] == 20
    for params, args, name in [(pp.PLAN, {"add": "0"}, "add"), (pp.GAPS, {"minutes": "0.5"}, "minutes"),
                               (pp.COVERAGE, {"minutes": "15", "threshold_m": "900"}, "threshold_m"),
                               (pp.HOURS, {"date": "tomorrow"}, "date"),
                               (pp.PLAN, {"exclude": {"type": "Point", "coordinates": [120.4, 36.1]}}, "exclude"),
                               (pp.PLAN, {"candidates": [[120.4, 36.1], [10, 50]]}, "candidates[1]"),
                               (pp.WHATIF, {"add": "120.4"}, "add"), (pp.WHATIF, {"add": [[10, 50]]}, "add[0]"),
                               (pp.WHATIF, {"remove": ",".join(f"x{i}" for i in range(501))}, "remove")]:
        with pytest.raises(ParameterError) as err:
            params.parse(args)
        assert err.value.parameter == name, (args, err.value)
    assert Params(pp.COVERAGE).without("threshold_m").rules == ()  # the rule goes with its parameters


# --------------------------------------------------------------------------- the CLI and the API agree


def cli_json(runner, data_dir, *args) -> dict:
    from cli import main

    r = runner.invoke(main, ["--data-dir", str(data_dir), *args, "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_cli_gaps_json_is_the_api(client, runner, data_dir):
    query = "mode=ebike&minutes=10&district=市南区&limit=5&demand=residents&kind=station,mother_room"
    args = ["--mode", "ebike", "--minutes", "10", "--district", "市南区", "--limit", "5", "--rank-by", "residents",
            "--kind", "station", "--kind", "mother_room", "--hours", "--date", "2026-11-25"]
    out = cli_json(runner, data_dir, "gaps", *args)
    fc = client.get(f"/api/v1/gaps?{query}").get_json(force=True)
    cov = client.get(f"/api/v1/coverage?{query.replace('&limit=5&demand=residents', '')}").get_json()
    hours = client.get(f"/api/v1/coverage/hours?{query.replace('&limit=5&demand=residents', '')}"
                       "&date=2026-11-25").get_json()
    assert out["gaps"] == [f["properties"] for f in fc["features"]] and out["gaps"]
    assert out["assumptions"] == fc["assumptions"] and out["assumptions"]["ranked_by"] == "uncovered residents"
    assert (out["city"], out["districts"], out["demand_source"], out["sample"]) == (
        cov["city"], cov["districts"], cov["demand_source"], cov["sample"])
    assert out["hours"] == hours["hours"]


def test_cli_plan_and_whatif_json_are_the_api(client, runner, data_dir):
    body = {"add": 2, "district": "市南区", "min_spacing_m": 300, "demand": "residents", "threshold_m": 600,
            "amenity": ["microwave"]}
    api = client.post("/api/v1/plan", json=body).get_json()
    cli = cli_json(runner, data_dir, "plan", "--add", "2", "--district", "市南区", "--min-spacing-m", "300",
                   "--demand", "residents", "--threshold-m", "600", "--amenity", "microwave")
    assert cli == api and len(api["sites"]) == 2
    api = client.get("/api/v1/whatif?minutes=15&add=120.45,36.16;120.40,36.30&remove=t-001&close=t-003").get_json()
    cli = cli_json(runner, data_dir, "whatif", "--add", "120.45,36.16", "--add", "120.40,36.30", "--remove", "t-001",
                   "--close", "t-003")
    assert cli == api and api["scenario"]["notes"]


def test_cli_checks_what_the_api_checks(runner, data_dir, tmp_path):
    """The CLI's copies of the checks skipped the type and bounds of exclusion polygons and candidates."""
    from cli import main

    point = tmp_path / "point.geojson"
    point.write_text(json.dumps({"type": "Point", "coordinates": [120.4, 36.1]}), encoding="utf-8")
    far = tmp_path / "far.geojson"
    far.write_text(json.dumps({"type": "Polygon", "coordinates": [[[10, 50], [11, 50], [11, 51], [10, 50]]]}),
                   encoding="utf-8")
    sea = tmp_path / "sea.csv"
    sea.write_text("lon,lat\n120.4,36.1\n120.9,35.9\n", encoding="utf-8")
    for args, flag in [(["--exclude", str(point)], "--exclude"), (["--exclude", str(far)], "--exclude"),
                       (["--candidates", str(sea)], "--candidates"), (["--minutes", "0.5"], "--minutes")]:
        r = runner.invoke(main, ["--data-dir", str(data_dir), "plan", "--add", "1", *args])
        assert r.exit_code == 2 and flag in r.output and "Traceback" not in r.output, (args, r.output)
    r = runner.invoke(main, ["--data-dir", str(data_dir), "whatif"])
    assert r.exit_code == 2 and "give at least one of add" in r.output


# --------------------------------------------------------------------------- the report shows the plan


def _zip_sites(response) -> list[dict]:
    z = zipfile.ZipFile(io.BytesIO(response.data))
    return json.loads(z.read("workermap-report/sites.geojson"))["features"]


def test_report_takes_the_plans_parameters_and_shows_its_plan(client, runner, data_dir, tmp_path):
    query = "minutes=12&district=市南区&add=3&min_spacing_m=400&demand=residents&amenity=microwave&limit=5"
    plan = client.post("/api/v1/plan", json={"minutes": 12, "district": "市南区", "add": 3, "min_spacing_m": 400,
                                             "demand": "residents", "amenity": ["microwave"]}).get_json()
    expected = [[s["lon"], s["lat"]] for s in plan["sites"]]
    got = client.get(f"/api/v1/report.zip?{query}")
    assert got.status_code == 200 and [f["geometry"]["coordinates"] for f in _zip_sites(got)] == expected
    zone = {"type": "Polygon", "coordinates": [[[120.33, 36.05], [120.39, 36.05], [120.39, 36.08], [120.33, 36.08],
                                                [120.33, 36.05]]]}
    body = {"minutes": 12, "district": "市南区", "add": 3, "exclude": zone, "limit": 5}
    posted = client.post("/api/v1/report.zip", json=body)
    assert posted.status_code == 200, posted.get_data(as_text=True)[:300]
    excluded = client.post("/api/v1/plan", json={k: v for k, v in body.items() if k != "limit"}).get_json()
    assert [f["geometry"]["coordinates"] for f in _zip_sites(posted)] == [[s["lon"], s["lat"]]
                                                                          for s in excluded["sites"]]
    assert all(not (120.33 <= s["lon"] <= 120.39 and 36.05 <= s["lat"] <= 36.08) for s in excluded["sites"])
    assert client.get("/api/v1/report.zip?exclude=x").get_json()["error"]["parameter"] == "exclude"  # POST only
    assert client.post("/api/v1/report.zip", json={"add": -1}).get_json()["error"]["parameter"] == "add"
    zone_file = tmp_path / "zone.geojson"
    zone_file.write_text(json.dumps(zone), encoding="utf-8")
    out = tmp_path / "r"
    cli_json(runner, data_dir, "report", "--out", str(out), "--minutes", "12", "--district", "市南区", "--add", "3",
             "--exclude", str(zone_file), "--limit", "5")
    cli_sites = json.loads((out / "sites.geojson").read_text(encoding="utf-8"))["features"]
    assert [f["geometry"]["coordinates"] for f in cli_sites] == [[s["lon"], s["lat"]] for s in excluded["sites"]]


def test_planner_page_sends_the_same_parameters_to_plan_and_report(client):
    """(The page's script builds both from one function, planParams; its form ranges are the declared ones.)"""
    html = client.get("/planner").get_data(as_text=True)
    assert f'max="{pp.MAX_ADD}"' in html and f'max="{pp.MAX_SPACING_M}"' in html and f'max="{pp.MAX_MINUTES}"' in html
    r = client.get("/static/js/planner.js")
    js = r.get_data(as_text=True)
    r.close()
    assert 'urls.report + "?" + planParams()' in js and "planParams().forEach" in js

