"""The WSGI fast path for GET /api/v1/nearest answers exactly as the Flask view does."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from geo.nearest import Hit
from web.fastpath import FAST_PATH, RequestPipeline
from web.hitjson import query_fields, query_fields_dict


def _both(app, url: str, method: str = "GET"):
    """(fast path response, Flask-only response) for the same request."""
    assert isinstance(app.wsgi_app, RequestPipeline)
    fast = app.test_client().open(url, method=method)
    flask_only = Client(app.wsgi_app.app).open(url, method=method)  # the Flask app behind the fast path
    return fast, flask_only


def _queries():
    rng = np.random.default_rng(2026)
    filters = ["", "&kind=station", "&kind=station,shared_home&amenity=microwave", "&amenity=nursing_room",
               "&worker=outdoor_worker&amenity=toilet,drinking_water", "&open_24h=true", "&include_closed=1",
               "&radius_m=300", "&radius_m=5&k=2", "&k=50", "&k=1&walk_kmh=4&ebike_kmh=20&detour_factor=1.5"]
    times = ["&open_at=any", "&open_at=2026-11-24T23:40", "&open_at=2026-11-29T03:05%2B08:00",
             "&open_at=2026-11-24T15:40Z"]
    for i, (lon, lat) in enumerate(zip(rng.uniform(120.0, 120.7, 44), rng.uniform(35.9, 36.5, 44), strict=True)):
        crs = ["", "&crs=wgs84", "&crs=gcj02", "&crs=bd09"][i % 4]
        yield f"{FAST_PATH}?lon={lon:.6f}&lat={lat:.6f}{filters[i % len(filters)]}{times[i % len(times)]}{crs}"


@pytest.mark.parametrize("url", list(_queries()))
def test_same_answer_as_the_flask_view(sample_app, url):
    fast, flask_only = _both(sample_app, url)
    assert fast.status_code == flask_only.status_code == 200
    assert fast.data == flask_only.data
    assert sorted(fast.headers.items()) == sorted(flask_only.headers.items())


@pytest.mark.parametrize("query", [
    "lon=120.38&lat=123.4", "lon=abc&lat=36.06", "lat=36.06", "lon=120.38&lat=36.06&k=0",
    "lon=120.38&lat=36.06&amenity=sauna", "lon=120.38&lat=36.06&zoom=3", "lon=120.38&lat=36.06&open_at=tomorrow",
    "lon=120.38&lat=36.06&crs=utm", "lon=%FF%FE&lat=36.06", "lon=120.38&lat=36.06&kind=<script>",
])
def test_bad_requests_get_the_one_error_shape_from_flask(sample_app, query):
    fast, flask_only = _both(sample_app, f"{FAST_PATH}?{query}")
    assert fast.status_code == flask_only.status_code == 400
    assert fast.data == flask_only.data
    assert fast.get_json()["error"]["parameter"]


def test_valid_requests_never_reach_flask_and_others_do(sample_app, monkeypatch):
    calls = []
    flask_app = sample_app.wsgi_app.app

    def spy(environ, start_response):
        calls.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
        return flask_app(environ, start_response)

    monkeypatch.setattr(sample_app.wsgi_app, "app", spy)
    c = sample_app.test_client()
    assert c.get(f"{FAST_PATH}?lon=120.38&lat=36.06&open_at=any").status_code == 200
    assert calls == []
    assert c.get(f"{FAST_PATH}?lon=120.38&lat=36.06").status_code == 200  # default open_at=now, also fast
    assert calls == []
    assert c.get(f"{FAST_PATH}?lon=120.38").status_code == 400
    assert c.head(f"{FAST_PATH}?lon=120.38&lat=36.06").status_code == 200
    assert c.post(FAST_PATH, json={"points": [[120.38, 36.06]]}).status_code == 200
    assert c.get("/healthz").status_code == 200
    assert calls == [("GET", FAST_PATH), ("HEAD", FAST_PATH), ("POST", FAST_PATH), ("GET", "/healthz")]


def test_a_failure_inside_the_fast_path_falls_back_to_flask(sample_app, monkeypatch):
    import web.fastpath

    def broken(args, st):
        raise RuntimeError("boom")

    monkeypatch.setattr(web.fastpath, "nearest_payload", broken)
    url = f"{FAST_PATH}?lon=120.38&lat=36.06&open_at=any"
    r = sample_app.test_client().get(url)
    assert r.status_code == 200 and r.get_json()["count"] == 5  # answered by the Flask view


def test_fast_path_sees_registry_changes_from_another_process(app, data_dir, districts, monkeypatch):
    from tests.conftest import open_test_store

    c = app.test_client()
    url = f"{FAST_PATH}?lon=120.3843&lat=36.062&k=1&open_at=any"
    first = c.get(url).get_json()["hits"][0]["id"]
    open_test_store(data_dir).update(lambda reg: reg.merged([reg.get(first).replace(status="temporarily_closed")]),
                                     actor="test", action="update", facility_id=first)
    monkeypatch.setattr(app.extensions["workermap"], "_checked_at", 0.0)  # as if 0.5 s had passed
    assert c.get(url).get_json()["hits"][0]["id"] != first


_NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1e5),
                    st.integers(0, 10**6).map(lambda i: i / 20),
                    st.sampled_from([0.05, 0.15, 2.675, 359.96, 1e15, 1e16]))


@settings(max_examples=3000, deadline=None)
@given(d=_NUMBER, b=_NUMBER, w=_NUMBER, e=_NUMBER, within=st.booleans(), is_open=st.sampled_from([True, False, None]),
       change=st.one_of(st.none(), st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31))))
def test_hit_query_fields_are_what_orjson_writes(d, b, w, e, within, is_open, change):
    """The hand-formatted per-query fields of a hit (web.hitjson.query_fields) are byte for byte orjson's JSON of
    them rounded to 0.1, for any number (non-finite and huge ones included: orjson writes those)."""
    hit = Hit(None, d, b, within, is_open, change, w, e, 0)
    assert query_fields(hit) == orjson.dumps(query_fields_dict(hit))[1:-1]
    parsed = orjson.loads(b"{" + query_fields(hit) + b"}")
    assert parsed["distance_m"] == (round(d, 1) if math.isfinite(d) else None)
