"""One planner parameter set, every output (issue #12, item 2), on the shipped sample and 250 m working grid.

The same request is built four ways — the API's JSON (typed values, the district by name), the ``workermap``
command line's ``--json``, the report.zip's CSV files and the URLs the planner page requests (built as
``web/static/js/planner.js`` builds them: strings, the district by adcode) — and the covered workers, the
per-district figures and the site list must agree. Siting stays inside the district (shapely against the
district polygon) and coverage counts only the eligible facilities: both checked against brute-force counts
made here from the raw facility attributes (``tests.conftest.brute_eligible``) and plain numpy distances.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
import shapely

from cli import main
from geo.crs import to_metric
from geo.model import Facility
from tests.conftest import brute_eligible

PLANNER_JS = Path(__file__).resolve().parent.parent / "web" / "static" / "js" / "planner.js"
CHENGYANG = ("370214", "城阳区")
DAY = "2026-11-25"  # a plain Wednesday: no holiday, no 调休 (brute_eligible knows no calendar)

#: The planner form: e-bike 10 min, stations with a microwave, 城阳区, 5 sites 300 m apart (the issue's case).
FORM = {"c-mode": "ebike", "c-travel": "land", "c-minutes": "10", "c-kind": "station", "c-amenity": "microwave",
        "c-worker": "", "c-open-at": "", "c-district": CHENGYANG[0], "p-add": "5", "p-demand": "workers",
        "p-spacing": "300"}


# --------------------------------------------------------------------------- the page's requests


def page_params(form: dict) -> dict[str, str]:
    """planner.js ``params()``: the parameters shared by coverage, grid.png, hours, gaps, plan and report."""
    q = {"mode": form["c-mode"], "travel": form["c-travel"], "minutes": form["c-minutes"] or "15",
         "kind": form["c-kind"]}
    if form.get("c-city"):  # the city select: a province or the nation only (Qingdao's page has none)
        q = {"city": form["c-city"], **q}
    if form["c-amenity"]:
        q["amenity"] = form["c-amenity"]
    if form["c-worker"]:
        q["worker"] = form["c-worker"]
    if form["c-open-at"]:
        q["open_at"] = f"{DAY}T{form['c-open-at']}"
    if form["c-district"]:
        q["district"] = form["c-district"]
    return q


def page_plan_params(form: dict) -> dict[str, str]:
    """planner.js ``planParams()``: POST /plan's body (before the numbers) and the report link's query."""
    return {**page_params(form), "add": str(int(form["p-add"] or 10)), "demand": form["p-demand"],
            "min_spacing_m": str(int(form["p-spacing"] or 0)), "method": "greedy"}


def _js_number(text: str) -> int | float:
    """JavaScript's ``Number(text)`` as JSON.stringify writes it (5, not 5.0)."""
    v = float(text)
    return int(v) if v.is_integer() else v


def page_plan_body(form: dict) -> dict:
    """planner.js ``runPlan()``: planParams as JSON, add, minutes and min_spacing_m as numbers."""
    return {k: _js_number(v) if k in ("add", "minutes", "min_spacing_m") else v
            for k, v in page_plan_params(form).items()}


def _js_function(name: str) -> str:
    text = PLANNER_JS.read_text(encoding="utf-8")
    start = text.index(f"function {name}()")
    return text[start:text.index("\n  }\n", start)]


def test_the_mirror_sets_what_planner_js_sets():
    """The functions above build the page's requests as planner.js does: the same parameter names."""
    assert set(re.findall(r'q\.set\("(\w+)"', _js_function("params"))) == set(page_params(
        {**FORM, "c-worker": "outdoor_worker", "c-open-at": "02:00", "c-city": "370200"}))
    plan_names = set(re.findall(r'q\.set\("(\w+)"', _js_function("planParams")))
    assert plan_names == set(page_plan_params(FORM)) - set(page_params(FORM)) - {"amenity", "district"}
    numbers = re.search(r"/\^\(([\w|]+)\)\$/", _js_function("runPlan")).group(1)
    assert set(numbers.split("|")) == {"add", "minutes", "min_spacing_m"}


# --------------------------------------------------------------------------- the four interfaces


@pytest.fixture(scope="module")
def client(sample_app):
    return sample_app.test_client()


@pytest.fixture(scope="module")
def data_dir(sample_app):
    return sample_app.extensions["workermap"].settings.data_dir


def _cli(data_dir, *args) -> dict:
    from click.testing import CliRunner

    r = CliRunner().invoke(main, ["--data-dir", str(data_dir), *args, "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def _csv(zf: zipfile.ZipFile, name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(zf.read(f"workermap-report/{name}").decode("utf-8-sig"))))


def _figures(row: dict) -> dict:
    """A coverage row's figures as numbers (a CSV row's cells are text)."""
    keys = ("adcode", "name", "cells", "residents", "workers", "covered_workers", "covered_residents",
            "uncovered_workers", "uncovered_residents", "workers_covered_pct", "residents_covered_pct")
    return {k: row[k] if k in ("adcode", "name") else float(row[k]) for k in keys}


def _sites(sites: list[dict]) -> list[tuple]:
    return [(int(s["rank"]), s["district"], round(float(s["lon"]), 6), round(float(s["lat"]), 6),
             round(float(s["marginal_gain"]), 1), round(float(s["cumulative_covered"]), 1)) for s in sites]


@pytest.fixture(scope="module")
def four(client, data_dir):
    """The same parameter set through the API (JSON), the CLI (--json), the report.zip and the page's URLs."""
    api_body = {"mode": "ebike", "minutes": 10, "kind": ["station"], "amenity": ["microwave"],
                "district": CHENGYANG[1], "add": 5, "demand": "workers", "min_spacing_m": 300, "method": "greedy"}
    coverage_query = {k: v for k, v in api_body.items() if k in ("mode", "minutes", "district")}
    coverage_query.update(kind="station", amenity="microwave")
    api = {"coverage": client.get("/api/v1/coverage?" + urlencode(coverage_query)).get_json(),
           "plan": client.post("/api/v1/plan", json=api_body).get_json()}

    flags = ["--mode", "ebike", "--minutes", "10", "--kind", "station", "--amenity", "microwave",
             "--district", CHENGYANG[1]]
    cli = {"coverage": _cli(data_dir, "gaps", *flags),
           "plan": _cli(data_dir, "plan", *flags, "--add", "5", "--demand", "workers", "--min-spacing-m", "300")}

    page = {"coverage": client.get("/api/v1/coverage?" + urlencode(page_params(FORM))).get_json(),
            "plan": client.post("/api/v1/plan", json=page_plan_body(FORM)).get_json()}
    r = client.get("/api/v1/report.zip?" + urlencode(page_plan_params(FORM)))  # the page's report link
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
        report = {"districts": _csv(zf, "districts.csv"), "sites": _csv(zf, "sites.csv"),
                  "assumptions": json.loads(zf.read("workermap-report/assumptions.json"))}
    return api, cli, page, report


def test_covered_workers_and_district_figures_agree_across_the_four(four):
    api, cli, page, report = four
    city = [api["coverage"]["city"], cli["coverage"]["city"], page["coverage"]["city"], report["districts"][0]]
    districts = [api["coverage"]["districts"], cli["coverage"]["districts"], page["coverage"]["districts"],
                 report["districts"][1:]]
    assert len({json.dumps(_figures(c), sort_keys=True) for c in city}) == 1, city
    assert [[d["adcode"] for d in rows] for rows in districts] == [[CHENGYANG[0]]] * 4
    assert len({json.dumps([_figures(d) for d in rows], sort_keys=True) for rows in districts}) == 1
    # the same eligible facilities counted everywhere (stations with a microwave, not every station)
    eligible = {body["coverage"]["assumptions"]["eligible_facilities"] for body in (api, cli, page)}
    eligible.add(report["assumptions"]["eligible_facilities"])
    assert len(eligible) == 1
    assert report["assumptions"]["filter"]["amenity"] == ["microwave"]
    assert report["assumptions"]["plan"]["add"] == 5 and report["assumptions"]["district"] == CHENGYANG[0]


def test_the_site_list_agrees_across_the_four(four):
    api, cli, page, report = four
    lists = [_sites(api["plan"]["sites"]), _sites(cli["plan"]["sites"]), _sites(page["plan"]["sites"]),
             _sites(report["sites"])]
    assert len(lists[0]) == 5
    assert lists[1] == lists[0] and lists[2] == lists[0] and lists[3] == lists[0]
    # the plan starts from the coverage the tables show: the district's covered workers, these filters
    district = api["coverage"]["districts"][0]
    for plan in (api["plan"], cli["plan"], page["plan"]):
        assert plan["covered_before"] == pytest.approx(district["covered_workers"], abs=0.2)
        assert plan["total_demand"] == pytest.approx(district["workers"], abs=0.2)
        assert {s["district"] for s in plan["sites"]} == {CHENGYANG[1]}


# --------------------------------------------------------------------------- brute force on the shipped data


@pytest.fixture(scope="module")
def world(sample_app):
    st = sample_app.extensions["workermap"]
    return st.demand.grid, st.registry.facilities, st.districts, st.travel


def _brute_coverage(grid, facilities: list[Facility], radius_m: float, cells: np.ndarray | None = None):
    """(planar distance to the nearest of ``facilities``, per cell) by plain numpy, chunked."""
    cells = np.arange(len(grid)) if cells is None else cells
    fx, fy = to_metric(np.array([f.lon for f in facilities]), np.array([f.lat for f in facilities]))
    out = np.full(len(cells), np.inf)
    for start in range(0, len(cells), 20_000):
        c = cells[start:start + 20_000]
        d = np.hypot(grid.x[c, None] - np.asarray(fx)[None, :], grid.y[c, None] - np.asarray(fy)[None, :])
        out[start:start + 20_000] = d.min(axis=1) if len(facilities) else np.inf
    return out


def _radius(travel, minutes: float, mode: str) -> float:
    return minutes * 1000 / 60 * {"walk": travel.walk_kmh, "ebike": travel.ebike_kmh}[mode] / travel.detour_factor


FILTERS = [
    ({"kind": "station", "amenity": "microwave"}, {"kinds": ("station",), "amenities": ("microwave",)}),
    ({"kind": "any", "worker": "outdoor_worker", "open_at": f"{DAY}T02:00"},
     {"worker": "outdoor_worker", "when": datetime.fromisoformat(f"{DAY}T02:00")}),
    ({"kind": "station", "open_at": f"{DAY}T02:00", "include_unknown_hours": "true"},
     {"kinds": ("station",), "when": datetime.fromisoformat(f"{DAY}T02:00"), "include_unknown_hours": True}),
    ({"kind": "station,shared_home", "amenity": "toilet", "open_24h": "true"},
     {"kinds": ("station", "shared_home"), "amenities": ("toilet",), "open_24h": True}),
]


@pytest.mark.parametrize(("query", "brute"), FILTERS, ids=["microwave", "outdoor-02h", "unknown-hours", "24h-toilet"])
def test_coverage_counts_only_eligible_facilities(client, world, query, brute):
    grid, facilities, _, travel = world
    eligible = brute_eligible(facilities, **brute)
    circles = {"mode": "ebike", "minutes": "10", "travel": "straight"}  # straight circles, as brute force draws them
    body = client.get("/api/v1/coverage?" + urlencode({**circles, **query})).get_json()
    assert body["assumptions"]["eligible_facilities"] == len(eligible)
    r = _radius(travel, 10, "ebike")
    dist = _brute_coverage(grid, eligible, r)
    covered = dist <= r
    band = np.abs(dist - r) <= r * 1e-3  # planar vs geodesic: the only cells allowed to differ
    city = body["city"]
    assert abs(city["covered_workers"] - grid.workers[covered].sum()) <= grid.workers[band].sum() + 0.1
    assert city["covered_workers"] < grid.workers.sum()  # a filter that leaves something uncovered
    for row in body["districts"]:
        m = grid.adcode == row["adcode"]
        assert abs(row["covered_workers"] - grid.workers[covered & m].sum()) <= grid.workers[band & m].sum() + 0.1
    if "open_at" in query:  # the 24-hour table's row for that hour says the same
        hours = client.get("/api/v1/coverage/hours?" + urlencode(
            {**circles, "date": DAY, **{k: v for k, v in query.items() if k != "open_at"}}))
        row = next(h for h in hours.get_json()["hours"] if h["hour"] == "02:00")
        assert row["open_facilities"] == len(eligible)
        assert row["covered_workers"] == city["covered_workers"]


@pytest.mark.parametrize("district", ["城阳区", "李沧区", "胶州市"])
def test_sites_stay_inside_the_district_and_gain_what_brute_force_counts(client, world, district):
    grid, facilities, districts, travel = world
    body = {"mode": "walk", "minutes": 15, "kind": ["station"], "amenity": ["microwave"], "district": district,
            "add": 4, "min_spacing_m": 300, "travel": "straight"}
    plan = client.post("/api/v1/plan", json=body).get_json()
    frame = districts.frame
    polygon = frame.geometry[frame["name"] == district].iloc[0]
    sites = plan["sites"]
    assert len(sites) == 4
    assert all(polygon.covers(shapely.Point(s["lon"], s["lat"])) for s in sites)
    # the first site's gain: the district's workers newly within reach of it, with only the eligible
    # facilities (stations with a microwave) counting as covering today
    eligible = brute_eligible(facilities, kinds=("station",), amenities=("microwave",))
    r = _radius(travel, 15, "walk")
    cells = np.flatnonzero(grid.adcode == frame.adcode[frame["name"] == district].iloc[0])
    today = _brute_coverage(grid, eligible, r, cells) <= r
    assert plan["covered_before"] == pytest.approx(grid.workers[cells][today].sum(), rel=1e-3)
    sx, sy = to_metric(np.array([sites[0]["lon"]]), np.array([sites[0]["lat"]]))
    reach = np.hypot(grid.x[cells] - sx[0], grid.y[cells] - sy[0]) <= r
    assert sites[0]["marginal_gain"] == pytest.approx(grid.workers[cells][reach & ~today].sum(), rel=1e-3, abs=0.5)
    # spacing: 300 m from each other
    xy = np.column_stack(to_metric(np.array([s["lon"] for s in sites]), np.array([s["lat"] for s in sites])))
    gaps = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    assert gaps[np.triu_indices(len(sites), 1)].min() >= 300 - 1e-6
