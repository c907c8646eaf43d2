"""The planner HTTP API: /api/v1/coverage (+ grid.png, hours, facilities), /gaps, /plan, /whatif, /report.zip."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from geo.coverage import FacilityFilter, Threshold, compute_coverage
from tests.conftest import SMALL
from tests.test_coverage import decode_png


def test_coverage_by_district_with_assumptions_and_grid(client):
    r = client.get("/api/v1/coverage?mode=walk&minutes=15")
    assert r.status_code == 200
    body = r.get_json()
    a = body["assumptions"]
    assert a["threshold_m"] == pytest.approx(15 * 4800 / 60 / 1.3, abs=0.01)
    assert (a["mode"], a["minutes"], a["detour_factor"], a["walk_kmh"]) == ("walk", 15.0, 1.3, 4.8)
    assert "exactly on the threshold counts as covered" in a["edge_rule"]
    assert a["filter"]["kind"] == ["station"] and a["filter"]["open_at"] == "any"
    assert a["eligible_facilities"] == 3  # t-001, t-002, t-004: stations not removed
    assert body["demand_source"] == "modelled" and body["sample"] is False
    assert len(body["districts"]) == 10
    row = body["districts"][0]
    assert {"adcode", "name", "area_covered_pct", "residents_covered_pct", "workers_covered_pct",
            "uncovered_workers", "uncovered_residents", "cells"} <= set(row)
    assert body["city"]["adcode"] == "370200"
    assert sum(d["cells"] for d in body["districts"]) == body["city"]["cells"]
    shinan = next(d for d in body["districts"] if d["adcode"] == "370202")
    assert shinan["workers_covered_pct"] > 0
    grid = body["grid"]
    assert grid["png"].startswith("/api/v1/coverage/grid.png?") and "minutes=15" in grid["png"]
    (s, w), (n, e) = grid["bounds"]
    assert 35.4 < s < n < 37.3 and 119.3 < w < e < 121.3
    assert [c["class"] for c in grid["legend"]] == [1, 2, 3, 4, 5]


def test_threshold_in_metres_equals_the_same_radius_in_minutes(client):
    radius = Threshold.minutes_by(15, "walk").radius_m
    a = client.get("/api/v1/coverage?minutes=15").get_json()
    b = client.get(f"/api/v1/coverage?threshold_m={radius!r}").get_json()
    assert a["city"] == b["city"] and a["districts"] == b["districts"]
    assert b["assumptions"]["mode"] is None


def test_figures_match_the_geo_computation(client, app):
    from web import state

    with app.app_context():
        st = state()
        cov = compute_coverage(st.demand, st.index, Threshold.minutes_by(10, "ebike"),
                               facility_filter=FacilityFilter(kinds=(), amenities=("microwave",)))
        expected = cov.district_table("370203")
    body = client.get("/api/v1/coverage?mode=ebike&minutes=10&kind=any&amenity=microwave&district=市北区"
                      "&travel=straight").get_json()  # straight circles, as computed here
    assert body["districts"] == expected
    assert body["assumptions"]["district"] == "370203"


def test_grid_png_is_a_leaflet_overlay(client):
    r = client.get("/api/v1/coverage/grid.png?minutes=15&district=370202")
    assert r.status_code == 200 and r.mimetype == "image/png"
    image, chunks = decode_png(r.data)
    assert image.ndim == 2 and image.max() <= 5 and (image == 1).any()
    bounds = [float(v) for v in r.headers["X-Overlay-Bounds"].split(",")]
    cov = client.get("/api/v1/coverage?minutes=15&district=370202").get_json()
    assert bounds == [cov["grid"]["bounds"][0][0], cov["grid"]["bounds"][0][1], cov["grid"]["bounds"][1][0],
                      cov["grid"]["bounds"][1][1]]
    assert b"detour factor 1.3" in chunks[b"iTXt"]


def test_hours_table_at_2am_counts_only_the_24h_station(client):
    body = client.get("/api/v1/coverage/hours?minutes=15&date=2026-11-25").get_json()
    hours = body["hours"]
    assert [h["hour"] for h in hours] == [f"{h:02d}:00" for h in range(24)]
    assert hours[2]["open_facilities"] == 1  # t-002 is 24/7, the others Mo-Su 08:00-20:00
    assert hours[14]["open_facilities"] == 3
    assert hours[2]["workers_covered_pct"] < hours[14]["workers_covered_pct"]
    assert body["date"] == "2026-11-25" and body["demand_source"] == "modelled"
    one = client.get("/api/v1/coverage/hours?district=市南区&open_at=2026-11-25T14:00").get_json()
    assert one["scope"] == "市南区" and one["date"] == "2026-11-25"


def test_coverage_at_a_time_of_day(client):
    night = client.get("/api/v1/coverage?open_at=2026-11-25T02:00").get_json()
    day = client.get("/api/v1/coverage?open_at=2026-11-25T14:00").get_json()
    assert night["assumptions"]["eligible_facilities"] == 1 and day["assumptions"]["eligible_facilities"] == 3
    assert night["city"]["workers_covered_pct"] < day["city"]["workers_covered_pct"]
    assert night["assumptions"]["filter"]["open_at"] == "2026-11-25T02:00+08:00"
    round_the_clock = client.get("/api/v1/coverage?open_24h=true").get_json()
    assert round_the_clock["city"] == night["city"] and round_the_clock["assumptions"]["filter"]["open_24h"]


def test_facilities_served(client):
    body = client.get("/api/v1/coverage/facilities?minutes=15").get_json()
    ids = {f["id"] for f in body["facilities"]}
    assert ids == {"t-001", "t-002", "t-004"}
    assert sum(f["cells_nearest"] for f in body["facilities"]) > 0


def test_gaps_are_ranked_geojson(client):
    r = client.get("/api/v1/gaps?minutes=15&district=市南区&limit=5")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    fc = r.get_json()
    assert fc["type"] == "FeatureCollection" and 1 <= len(fc["features"]) <= 5
    props = [f["properties"] for f in fc["features"]]
    assert [p["rank"] for p in props] == list(range(1, len(props) + 1))
    assert all(p["district"] == "市南区" and p["adcode"] == "370202" for p in props)
    workers = [p["uncovered_workers"] for p in props]
    assert workers == sorted(workers, reverse=True)
    assert {"area_km2", "uncovered_residents"} <= set(props[0])
    assert fc["demand_source"] == "modelled" and fc["assumptions"]["ranked_by"] == "uncovered workers"
    assert fc["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_plan_places_sites_with_marginal_gains(client):
    r = client.post("/api/v1/plan", json={"add": 3, "mode": "walk", "minutes": 15, "demand": "workers",
                                          "kind": "station", "min_spacing_m": 500, "district": "市南区"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert len(body["sites"]) == 3
    s = body["sites"][0]
    assert {"rank", "lon", "lat", "district", "marginal_gain", "cumulative_covered", "cumulative_pct"} <= set(s)
    assert all(site["district"] == "市南区" for site in body["sites"])
    assert body["curve"][0]["sites"] == 0 and len(body["curve"]) == 4
    assert body["assumptions"]["method"] == "greedy" and body["assumptions"]["min_spacing_m"] == 500
    assert body["demand_source"] == "modelled"
    assert body["added_gain"] == pytest.approx(sum(x["marginal_gain"] for x in body["sites"]), abs=0.2)
    again = client.post("/api/v1/plan", json={"add": 3, "mode": "walk", "minutes": 15, "demand": "workers",
                                              "kind": "station", "min_spacing_m": 500, "district": "市南区"})
    assert again.get_json()["sites"] == body["sites"]


def test_plan_with_candidates_exclusion_and_exact(client):
    rng = np.random.default_rng(0)
    cands = [[float(a), float(b)] for a, b in zip(rng.uniform(120.33, 120.43, 40), rng.uniform(36.05, 36.08, 40),
                                                  strict=True)]
    from geo.geography import load_districts

    on_land = load_districts().locate([c[0] for c in cands], [c[1] for c in cands]) != ""
    cands = [c for c, ok in zip(cands, on_land, strict=True) if ok]
    zone = {"type": "Polygon", "coordinates": [[[120.33, 36.05], [120.36, 36.05], [120.36, 36.08], [120.33, 36.08],
                                                [120.33, 36.05]]]}
    body = {"add": 2, "candidates": cands, "exclude": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": zone}]}, "method": "exact", "demand": "residents"}
    r = client.post("/api/v1/plan", json=body)
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["exact"]["optimal"] and out["exact"]["greedy_gain"] <= out["exact"]["gain"] + 1e-6
    assert all(not (120.33 <= s["lon"] <= 120.36) for s in out["sites"])
    assert out["assumptions"]["candidates"] == "listed"


def test_plan_exact_too_large_says_why(client):
    r = client.post("/api/v1/plan", json={"add": 3, "method": "exact"})
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "plan_too_large" and err["parameter"] == "method" and "greedy" in err["message"]


def test_whatif_get_and_post(client):
    r = client.get("/api/v1/whatif?minutes=15&add=120.45,36.16;120.40,36.30&remove=t-001&close=t-003")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    city = body["rows"][0]
    assert city["adcode"] == "370200"
    assert {"today_workers_covered_pct", "scenario_workers_covered_pct", "delta_workers_covered_pct"} <= set(city)
    assert body["scenario"]["eligible_today"] == 3 and body["scenario"]["eligible_scenario"] == 4
    assert any("t-003" in n for n in body["scenario"]["notes"])  # a mother room is not a station
    post = client.post("/api/v1/whatif", json={"minutes": 15, "add": [[120.45, 36.16], [120.40, 36.30]],
                                               "remove": ["t-001"], "close": ["t-003"]}).get_json()
    assert post["rows"] == body["rows"]


def test_report_zip_is_the_report(client):
    r = client.get("/api/v1/report.zip?minutes=15&add=2&district=市南区&limit=5")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert "attachment" in r.headers["Content-Disposition"]
    z = zipfile.ZipFile(io.BytesIO(r.data))
    names = set(z.namelist())
    for f in ("index.html", "districts.csv", "hours.csv", "gaps.csv", "sites.csv", "gaps.geojson",
              "vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "coverage.png", "assumptions.csv"):
        assert f"workermap-report/{f}" in names
    assert z.read("workermap-report/districts.csv").startswith(b"\xef\xbb\xbf")


BAD = [
    ("/api/v1/coverage?mode=car", "mode"),
    ("/api/v1/coverage?minutes=0", "minutes"),
    ("/api/v1/coverage?minutes=abc", "minutes"),
    ("/api/v1/coverage?threshold_m=-5", "threshold_m"),
    ("/api/v1/coverage?minutes=15&threshold_m=900", "threshold_m"),
    ("/api/v1/coverage?kind=spaceport", "kind"),
    ("/api/v1/coverage?amenity=jacuzzi", "amenity"),
    ("/api/v1/coverage?worker=boss", "worker"),
    ("/api/v1/coverage?open_at=yesterday", "open_at"),
    ("/api/v1/coverage?open_at=0001-01-01T00:00%2B14:00", "open_at"),  # no such Qingdao time: was a 500
    ("/api/v1/coverage?open_at=9999-12-31T23:59-12:00", "open_at"),
    ("/api/v1/coverage?district=Atlantis", "district"),
    ("/api/v1/coverage?detour_factor=9", "detour_factor"),
    ("/api/v1/coverage?include_closed=maybe", "include_closed"),
    ("/api/v1/coverage?foo=1", "foo"),
    ("/api/v1/coverage/grid.png?mode=car", "mode"),
    ("/api/v1/coverage/hours?date=2026-13-45", "date"),
    ("/api/v1/gaps?limit=0", "limit"),
    ("/api/v1/gaps?demand=cats", "demand"),
    ("/api/v1/whatif?add=120.4", "add"),
    ("/api/v1/whatif?add=10,50", "add[0]"),
    ("/api/v1/whatif?remove=nope", "remove"),
    ("/api/v1/whatif", "add"),
    ("/api/v1/report.zip?add=999", "add"),
]


@pytest.mark.parametrize("url, parameter", BAD)
def test_bad_parameters_are_400_naming_the_parameter(client, url, parameter):
    r = client.get(url)
    assert r.status_code == 400, r.get_data(as_text=True)
    err = r.get_json()["error"]
    assert err["status"] == 400 and err["parameter"] == parameter
    assert err["code"] in ("invalid_parameter", "unknown_parameter", "missing_parameter")
    assert parameter.split("[")[0] in err["message"]
    if err["code"] == "invalid_parameter":
        assert "value" in err and "allowed" in err


BAD_PLANS = [
    ({"add": 0}, "add"),
    ({"add": 3, "demand": "cats"}, "demand"),
    ({"add": 3, "method": "magic"}, "method"),
    ({"add": 3, "min_spacing_m": -1}, "min_spacing_m"),
    ({"add": 3, "candidates": "here"}, "candidates"),
    ({"add": 3, "candidates": [[120.4, 36.1], [130.0, 36.1]]}, "candidates[1]"),
    ({"add": 3, "candidates": [[120.9, 35.9]]}, "candidates[0]"),  # in the sea
    ({"add": 3, "exclude": {"type": "Point", "coordinates": [120.4, 36.1]}}, "exclude"),
    ({"add": 3, "exclude": {"type": "FeatureCollection", "features": 5}}, "exclude"),  # was a 500
    ({"add": 3, "bogus": 1}, "bogus"),
]


@pytest.mark.parametrize("body, parameter", BAD_PLANS)
def test_bad_plan_bodies_are_400_naming_the_parameter(client, body, parameter):
    r = client.post("/api/v1/plan", json=body)
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.get_json()["error"]["parameter"] == parameter


def test_plan_needs_a_json_object(client):
    r = client.post("/api/v1/plan", data="add=3", content_type="text/plain")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_body"


def test_results_are_cached_per_registry_version(client, app):
    from geo.registry import Registry
    from web import state

    client.get("/api/v1/coverage?minutes=12")
    with app.app_context():
        st = state()
        cache = st.planner_cache
        n = len(cache)
    client.get("/api/v1/coverage?minutes=12")
    with app.app_context():
        assert state().planner_cache is cache and len(cache) == n
        assert state() is state()  # one snapshot per request / app context
        app.extensions["workermap"].swap(Registry(tuple(SMALL[:1]), {}, "other-version"))
        assert state().planner_cache is cache  # this context keeps reading the version it started with
    with app.app_context():
        assert state().planner_cache is not cache
    body = client.get("/api/v1/coverage?minutes=12").get_json()
    assert body["assumptions"]["eligible_facilities"] == 1
