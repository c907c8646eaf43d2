"""The pages and their data endpoints over the test client (no browser): assets, CSP, compact data, hours."""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime

import pytest
import shapely
from shapely.geometry import shape

from geo.hours import QINGDAO_TZ


@pytest.fixture(scope="module")
def client(sample_app):
    return sample_app.test_client()


@pytest.mark.parametrize("path", ["/", "/planner"])
def test_pages_use_only_local_assets_and_the_csp_nonce(client, path):
    r = client.get(path)
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert [u for u in urls if u.startswith(("http:", "https:", "//"))] == []
    assert "cdn" not in html.lower()
    nonce = re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"])[1]
    scripts = re.findall(r"<script([^>]*)>", html)
    inline = [a for a in scripts if "src=" not in a and 'type="application/json"' not in a]
    assert inline and all(f'nonce="{nonce}"' in a for a in inline)
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    for u in urls:
        if u.startswith("/static/"):
            resp = client.get(u)
            assert resp.status_code == 200, u
            resp.close()
    assert 'name="viewport"' in html and 'lang="zh-CN"' in html


def test_tianditu_is_offered_only_with_a_key(tmp_path, monkeypatch):
    from web import create_app

    monkeypatch.delenv("WORKERMAP_TIANDITU_KEY", raising=False)
    without = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp_path / "a"}).test_client().get("/")
    assert "tianditu" not in without.get_data(as_text=True)
    with_key = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp_path / "b", "TIANDITU_KEY": "k123"})
    html = with_key.test_client().get("/").get_data(as_text=True)
    assert "tianditu.gov.cn/vec_w" in html and "tk=k123" in html and "tianditu.gov.cn/cva_w" in html
    monkeypatch.setenv("WORKERMAP_TIANDITU_KEY", "envkey")
    html = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp_path / "c"}).test_client().get("/").get_data(
        as_text=True)
    assert "tk=envkey" in html


def test_compact_facilities_are_the_same_features_under_100_kb_gzip(client):
    full = client.get("/api/v1/facilities").get_json(force=True)
    r = client.get("/worker/facilities.geojson", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip" and r.mimetype == "application/geo+json"
    assert len(r.data) < 100 * 1024
    compact = json.loads(gzip.decompress(r.data))
    assert [f["id"] for f in compact["features"]] == [f["id"] for f in full["features"]]
    for a, b in zip(compact["features"], full["features"], strict=True):
        assert abs(a["geometry"]["coordinates"][0] - b["geometry"]["coordinates"][0]) < 1e-6
        for k, v in a["properties"].items():
            assert b["properties"][k] == v, k
        assert a["properties"]["opening_hours"] == b["properties"]["opening_hours"]
    assert compact["metadata"]["sample"] is True


def test_hours_state_is_the_nearest_engines(client, sample_app):
    at = "2026-11-24T23:40"
    body = client.get(f"/worker/hours?at={at}").get_json()
    assert body["at"] == "2026-11-24T23:40+08:00"
    import opening_hours  # the OSM parser itself, not our index's reading of it

    when = datetime(2026, 11, 24, 23, 40)
    for f in sample_app.extensions["workermap"].registry.facilities:
        assert body["hours"][f.opening_hours]["open"] == opening_hours.OpeningHours(f.opening_hours).is_open(when)
    assert body["hours"]["24/7"] == {"open": True, "next_change": None}
    assert body["hours"]["Mo-Su 08:00-20:00"] == {"open": False, "next_change": "2026-11-25T08:00+08:00"}
    now = client.get("/worker/hours?at=now").get_json()
    assert datetime.fromisoformat(now["at"]).tzinfo is not None
    assert abs((datetime.now(QINGDAO_TZ) - datetime.fromisoformat(now["at"])).total_seconds()) < 120


@pytest.mark.parametrize("query", ["at=any", "at=yesterday", "when=now"])
def test_hours_errors_use_the_one_error_shape(client, query):
    r = client.get(f"/worker/hours?{query}")
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["status"] == 400 and err["parameter"] in ("at", "when")


def test_light_districts_stay_within_100_m_of_the_real_ones(client, sample_app):
    r = client.get("/worker/districts.geojson", headers={"Accept-Encoding": "gzip"})
    assert len(r.data) < 40 * 1024
    light = json.loads(gzip.decompress(r.data))
    frame = sample_app.extensions["workermap"].districts.frame
    assert [f["properties"]["adcode"] for f in light["features"]] == list(frame["adcode"])
    for feat, geom in zip(light["features"], frame.geometry, strict=True):
        g = shape(feat["geometry"])
        assert g.is_valid
        assert shapely.hausdorff_distance(g, geom) < 0.001  # degrees: within ~100 m
