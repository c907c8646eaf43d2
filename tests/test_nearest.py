"""Nearest engine against independent references: brute-force geodesic k-nearest, the OSM hours parser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from geo.datum import wgs84_to_gcj02
from geo.model import KINDS, WORKER_TYPES
from geo.nearest import FacilityIndex, Travel
from tests.conftest import brute_eligible, make_facility, open_test_store, shipped_sample

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def sample_registry():
    return shipped_sample()[0]


@pytest.fixture(scope="module")
def index():
    return shipped_sample()[1]


def brute_knn(elig, lon, lat):
    """All eligible facilities sorted by pyproj.Geod distance."""
    if not elig:
        return [], []
    _, _, d = GEOD.inv(np.full(len(elig), lon), np.full(len(elig), lat), np.array([f.lon for f in elig]),
                       np.array([f.lat for f in elig]))
    d = np.atleast_1d(d)
    order = np.argsort(d)
    return [elig[i] for i in order], d[order]


filters = st.fixed_dictionaries({
    "kinds": st.lists(st.sampled_from(list(KINDS)), max_size=2, unique=True),
    "amenities": st.lists(st.sampled_from(["microwave", "toilet", "drinking_water", "ebike_charging", "nursing_room",
                                           "aed", "wifi"]), max_size=2, unique=True),
    "worker": st.sampled_from([None, *WORKER_TYPES]),
    "hour": st.one_of(st.none(), st.integers(0, 23)),
    "include_closed": st.booleans(),
    "k": st.one_of(st.integers(1, 12), st.integers(13, 50)),
    "seed": st.integers(0, 2**32 - 1),
})


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filters)
def test_hits_equal_brute_force_geodesic_knn(f):
    """50 filter combinations × 200 random points = 10,000 queries in and around the city."""
    sample_registry, index = shipped_sample()
    rng = np.random.default_rng(f["seed"])
    when = None if f["hour"] is None else datetime(2026, 11, 24, f["hour"], 17)
    elig = brute_eligible(sample_registry.facilities, kinds=f["kinds"], amenities=f["amenities"],
                          worker=f["worker"], when=when, include_closed=f["include_closed"])
    for lon, lat in zip(rng.uniform(119.45, 121.1, 200), rng.uniform(35.55, 37.2, 200), strict=True):
        res = index.query(lon, lat, k=f["k"], kinds=f["kinds"], amenities=f["amenities"], worker=f["worker"],
                          open_at=when, include_closed=f["include_closed"])
        ref, ref_d = brute_knn(elig, lon, lat)
        assert res.eligible == len(ref)
        assert len(res.hits) == min(f["k"], len(ref))
        got = np.array([h.distance_m for h in res.hits])
        np.testing.assert_allclose(got, ref_d[: len(got)], atol=0.051)  # same k distances (ties allowed)
        ids = {r.id for r, d in zip(ref, ref_d, strict=True) if d <= ref_d[len(got) - 1] + 0.05} if len(got) else set()
        assert {h.facility.id for h in res.hits} <= ids


def test_distances_within_0_1_percent_of_geod(index):
    rng = np.random.default_rng(7)
    for lon, lat in zip(rng.uniform(119.6, 121.0, 300), rng.uniform(35.7, 37.1, 300), strict=True):
        for h in index.query(lon, lat, k=5, open_at=None).hits:
            az, _, d = GEOD.inv(lon, lat, h.facility.lon, h.facility.lat)
            assert abs(h.distance_m - d) <= max(0.05, d * 0.001)
            assert abs((h.bearing_deg - az % 360 + 180) % 360 - 180) < 0.06


@pytest.mark.parametrize("n", [40, 300])
def test_many_near_ties_are_all_considered(n):
    """Facilities on a 1 km ring, 0.002 mm apart in geodesic distance, the nearest ones on the east side.

    EPSG:4549's scale grows eastward from its central meridian (120°E) by more than that across the
    ring, so the planar order is roughly the reverse of the geodesic one and every facility is
    within the re-rank slack. Whatever the candidate step picks (a full sort for small sets, a
    partial one for large), the answer must still be the geodesic k nearest.
    """
    rng = np.random.default_rng(n)
    lon0, lat0 = 120.40, 36.10
    angles = rng.uniform(0, 360, n)
    rank = np.argsort(np.argsort(-np.sin(np.radians(angles))))  # 0 = furthest east
    lons, lats, _ = GEOD.fwd(np.full(n, lon0), np.full(n, lat0), angles, 1000.0 + rank * 2e-6)
    facilities = [make_facility(i, lon=float(lo), lat=float(la))
                  for i, (lo, la) in enumerate(zip(lons, lats, strict=True))]
    ix = FacilityIndex(facilities)
    for k in (1, 3, 7):
        hits = ix.query(lon0, lat0, k=k, open_at=None).hits
        _, ref_d = brute_knn(facilities, lon0, lat0)
        np.testing.assert_allclose([h.distance_m for h in hits], ref_d[:k], rtol=0, atol=1e-6)


def test_geodesic_point_fast_path_equals_geod_inv():
    from geo.crs import GEOD as OURS
    from geo.crs import geodesic_inverse_point

    if geodesic_inverse_point == OURS.inv:
        pytest.skip("this pyproj has no scalar fast path; Geod.inv itself is used")

    rng = np.random.default_rng(5)
    for lon1, lat1, lon2, lat2 in rng.uniform([119.5, 35.5, 119.5, 35.5], [121.0, 37.0, 121.0, 37.0], (200, 4)):
        assert geodesic_inverse_point(lon1, lat1, lon2, lat2) == GEOD.inv(lon1, lat1, lon2, lat2)


def test_batch_matches_single_queries(index):
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(120.0, 120.6, 500), rng.uniform(36.0, 36.5, 500)
    when = datetime(2026, 11, 24, 2, 0)
    dist, idx, _, _ = index.query_batch(lon, lat, k=3, kinds=["station"], open_at=when)
    for i in range(0, 500, 25):
        single = index.query(lon[i], lat[i], k=3, kinds=["station"], open_at=when)
        assert [h.facility.id for h in single.hits] == [index.facilities[j].id for j in idx[i]]
        np.testing.assert_allclose(dist[i], [h.distance_m for h in single.hits], rtol=2e-4, atol=0.1)


# ---- opening hours ---------------------------------------------------------------------------------

def _index(*facilities):
    return FacilityIndex(list(facilities))


def test_overnight_range_open_before_and_after_midnight():
    ix = _index(make_facility(1, opening_hours="Mo-Su 22:00-06:00"))
    for when, is_open in [(datetime(2026, 11, 24, 23, 40), True), (datetime(2026, 11, 25, 5, 59), True),
                          (datetime(2026, 11, 25, 6, 0), False), (datetime(2026, 11, 25, 14, 0), False)]:
        res = ix.query(120.3843, 36.062, open_at=None)
        assert ix.open_mask(when)[0] == is_open
        res = ix.query(120.3843, 36.062, open_at=when)
        assert len(res.hits) == (1 if is_open else 0)
    hit = ix.query(120.3843, 36.062, open_at=datetime(2026, 11, 24, 23, 40)).hits[0]
    assert hit.open_now and hit.next_change == datetime(2026, 11, 25, 6, 0)


def test_24_7_has_no_next_change_and_closed_day_gives_opens_at():
    ix = _index(make_facility(1, opening_hours="24/7"), make_facility(2, opening_hours="Mo-Fr 08:00-18:00"))
    sunday_noon = datetime(2026, 11, 29, 12, 0)
    hits = {h.facility.id: h for h in ix.query(120.3843, 36.062, open_at=None).hits}
    assert hits["t-001"].next_change is None
    res = {h.facility.id: h for h in ix.query(120.3843, 36.062, open_at=None, k=2).hits}
    assert set(res) == {"t-001", "t-002"}
    only_open = ix.query(120.3843, 36.062, open_at=sunday_noon, k=2)
    assert [h.facility.id for h in only_open.hits] == ["t-001"]
    closed = ix.query(120.3843 + 0.001, 36.062, open_at=None, k=2).hits  # any hours; state reported for now
    assert {h.facility.id for h in closed} == {"t-001", "t-002"}
    weekday = FacilityIndex([make_facility(2, opening_hours="Mo-Fr 08:00-18:00")])
    h = weekday._hours_at(sunday_noon)
    assert not h[0][0] and h[1][0] == datetime(2026, 11, 30, 8, 0)


def test_aware_times_are_converted_to_shanghai():
    ix = _index(make_facility(1, opening_hours="Mo-Su 08:00-20:00"))
    utc_1500 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 23:00 in Qingdao: closed
    utc_0100 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00 in Qingdao: open
    assert ix.query(120.3843, 36.062, open_at=utc_1500).hits == []
    assert len(ix.query(120.3843, 36.062, open_at=utc_0100).hits) == 1


SERVER_TZ_SCRIPT = """
import json, time
from datetime import datetime, timezone
from geo.nearest import FacilityIndex
from tests.conftest import brute_eligible, make_facility, shipped_sample
ix = FacilityIndex([make_facility(1, opening_hours="Mo-Su 08:00-20:00"), make_facility(2, opening_hours="24/7")])
out = {}
for label, when in [("aware", datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)),
                    ("naive", datetime(2026, 11, 24, 23, 0))]:
    r = ix.query(120.3843, 36.062, k=2, open_at=when)
    out[label] = [[h.facility.id, h.open_now] for h in r.hits] + [r.at.isoformat()]
r = ix.query(120.3843, 36.062, k=2, open_at="now")
out["now"] = r.at.strftime("%Y-%m-%dT%H")
print(json.dumps(out))
"""


def test_server_time_zone_does_not_matter():
    outs = []
    for tz in ("UTC", "Asia/Shanghai", "America/Los_Angeles"):
        env = dict(os.environ, TZ=tz)
        r = subprocess.run([sys.executable, "-c", SERVER_TZ_SCRIPT], capture_output=True, text=True, env=env,
                           check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
        outs.append(r.stdout)
    assert outs[0] == outs[1] == outs[2]
    # "now" is Qingdao's clock (UTC+8), whatever TZ the process had; allow the hour to roll over
    shanghai = datetime.now(UTC) + timedelta(hours=8)
    assert json.loads(outs[0])["now"] in {(shanghai - timedelta(hours=h)).strftime("%Y-%m-%dT%H") for h in (0, 1)}


# ---- filters, radius, status --------------------------------------------------------------------

def test_radius_never_empty_and_boundary_counts_as_within():
    ix = _index(make_facility(1), make_facility(2, lon=120.40, lat=36.07))
    far = ix.query(120.3843, 36.10, k=2, radius_m=10, open_at=None)
    assert len(far.hits) == 2 and not any(h.within_radius for h in far.hits)
    _, _, d = GEOD.inv(120.3843, 36.10, 120.40, 36.07)  # t-002 is the nearer one
    exact = ix.query(120.3843, 36.10, k=2, radius_m=d, open_at=None)
    assert [h.facility.id for h in exact.hits] == ["t-002"] and exact.hits[0].within_radius


def test_removed_never_closed_only_when_asked():
    ix = _index(make_facility(1, status="removed"), make_facility(2, status="maintenance"), make_facility(3))
    assert [h.facility.id for h in ix.query(120.3843, 36.062, k=5, open_at=None).hits] == ["t-003"]
    hits = ix.query(120.3843, 36.062, k=5, open_at=None, include_closed=True).hits
    assert {h.facility.id for h in hits} == {"t-002", "t-003"}
    assert [h.available for h in hits if h.facility.id == "t-002"] == [False]


def test_access_rules():
    ix = _index(make_facility(1, access="members", lon=120.3843), make_facility(2, access="employees", lon=120.3844),
                make_facility(3, access="outdoor_workers", lon=120.40))
    got = {w: [h.facility.id for h in ix.query(120.3843, 36.062, k=3, worker=w, open_at=None).hits]
           for w in WORKER_TYPES}
    assert got == {"outdoor_worker": ["t-003"], "member": ["t-001", "t-003"],
                   "employee": ["t-001", "t-002", "t-003"]}


def test_travel_minutes():
    t = Travel(detour_factor=1.3, walk_kmh=4.8, ebike_kmh=15)
    assert t.minutes(1000, 4.8) == pytest.approx(1000 * 1.3 / 80)
    assert t.radius_m(15, "ebike") == pytest.approx(15 * 250 / 1.3)
    with pytest.raises(ValueError, match="detour_factor must be"):
        Travel(detour_factor=0)


def test_bad_filter_values_are_named():
    ix = _index(make_facility(1))
    with pytest.raises(ValueError, match="amenities must be among .* got 'sauna'"):
        ix.query(120.38, 36.06, amenities=["sauna"])
    with pytest.raises(ValueError, match="k must be an integer between 1 and 50"):
        ix.query(120.38, 36.06, k=0)


def test_rebuild_reflects_a_closure(sample_registry):
    ix = FacilityIndex(sample_registry.facilities)
    first = ix.query(120.3525, 36.088, k=1, open_at=None).hits[0].facility
    closed = sample_registry.merged([first.replace(status="temporarily_closed")])
    ix2 = FacilityIndex(closed.facilities)
    assert ix2.query(120.3525, 36.088, k=1, open_at=None).hits[0].facility.id != first.id


# ---- HTTP --------------------------------------------------------------------------------------

def test_api_gcj02_query_gives_same_facilities_as_wgs84(client):
    lon, lat = 120.3850, 36.0625
    glon, glat = wgs84_to_gcj02(lon, lat)
    a = client.get(f"/api/v1/nearest?lon={lon}&lat={lat}&k=3&open_at=any").get_json()
    b = client.get(f"/api/v1/nearest?lon={glon}&lat={glat}&k=3&open_at=any&crs=gcj02").get_json()
    assert [h["id"] for h in a["hits"]] == [h["id"] for h in b["hits"]]
    assert [h["distance_m"] for h in a["hits"]] == pytest.approx([h["distance_m"] for h in b["hits"]], abs=0.2)
    # output coordinates in the requested datum
    f = a["hits"][0]
    g = b["hits"][0]
    assert (g["lon"], g["lat"]) == pytest.approx(wgs84_to_gcj02(f["lon"], f["lat"]), abs=1e-6)


def test_api_hit_fields_and_navigation_datums(client):
    r = client.get("/api/v1/nearest?lon=120.3843&lat=36.0620&k=1&open_at=2026-11-24T10:00").get_json()
    h = r["hits"][0]
    for key in ("id", "name", "kind", "lon", "lat", "distance_m", "bearing_deg", "walk_min", "ebike_min", "open_now",
                "closes_at", "opens_at", "amenities", "access", "entry", "navigation"):
        assert key in h
    assert r["parameters"]["detour_factor"] == 1.3 and r["parameters"]["walk_kmh"] == 4.8
    glon, glat = wgs84_to_gcj02(h["lon"], h["lat"])
    assert f"to={glon:.6f}%2C{glat:.6f}" in h["navigation"]["amap"] and "coordinate=gaode" in h["navigation"]["amap"]
    assert "coord_type=bd09ll" in h["navigation"]["baidu"]
    assert h["navigation"]["geo"].startswith(f"geo:{h['lat']:.7f},{h['lon']:.7f}")


def test_baidu_link_has_origin_and_destination_in_bd09(client):
    """Parsed back, the Baidu link's origin is the query point and its destination the facility,
    both in BD-09 as the independent ``prcoords`` package converts them."""
    from urllib.parse import parse_qs, urlsplit

    import prcoords

    rng = np.random.default_rng(11)
    for lon, lat in zip(rng.uniform(120.1, 120.6, 20), rng.uniform(35.9, 36.4, 20), strict=True):
        r = client.get(f"/api/v1/nearest?lon={lon:.6f}&lat={lat:.6f}&k=2&open_at=any").get_json()
        for h in r["hits"]:
            link = urlsplit(h["navigation"]["baidu"])
            assert link.netloc == "api.map.baidu.com" and link.path == "/direction"
            q = {k: v[0] for k, v in parse_qs(link.query).items()}
            assert q["coord_type"] == "bd09ll"
            o = prcoords.wgs_bd((float(f"{lat:.6f}"), float(f"{lon:.6f}")))
            assert q["origin"] == f"latlng:{o.lat:.6f},{o.lon:.6f}|name:我的位置"
            d = prcoords.wgs_bd((h["lat"], h["lon"]))
            dlat, dlon = q["destination"].removeprefix("latlng:").split("|")[0].split(",")
            assert (float(dlat), float(dlon)) == pytest.approx((d.lat, d.lon), abs=2e-6)
            assert q["destination"].endswith(f"|name:{h['name']}")


@pytest.mark.parametrize("query,param", [
    ("lon=120.38&lat=123.4", "lat"), ("lon=20&lat=36", "lon"), ("lon=120.38&lat=36.06&k=0", "k"),
    ("lon=120.38&lat=36.06&k=51", "k"), ("lon=120.38&lat=36.06&amenity=sauna", "amenity"),
    ("lon=120.38&lat=36.06&open_at=tomorrow", "open_at"), ("lon=120.38&lat=36.06&crs=utm", "crs"),
    ("lon=120.38&lat=36.06&radius_m=-5", "radius_m"), ("lon=abc&lat=36.06", "lon"), ("lat=36.06", "lon"),
    ("lon=120.38&lat=36.06&worker=boss", "worker"), ("lon=120.38&lat=36.06&zoom=3", "zoom"),
    ("lon=nan&lat=36.06", "lon"), ("lon=120.38&lat=inf", "lat"),
    ("lon=120.38&lat=36.06&open_at=9999-12-31T23:59-12:00", "open_at"),  # past year 9999 in Qingdao: was a 500
])
def test_api_bad_input_is_400_naming_the_parameter(client, query, param):
    r = client.get(f"/api/v1/nearest?{query}")
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["parameter"] == param and param in err["message"]


def test_api_batch(client):
    pts = [[120.3843, 36.062], [120.3525, 36.088]]
    r = client.post("/api/v1/nearest", json={"points": pts, "k": 2, "open_at": "any"})
    assert r.status_code == 200
    res = r.get_json()["results"]
    assert len(res) == 2 and res[1][0]["id"] == "t-004"
    for body, param in [({"points": []}, "points"), ({"points": [[1, 2]]}, "points[0]"),
                        ({"points": [[120.38, 36.06]] * 10_001}, "points"), ({"points": [["a", "b"]]}, "points"),
                        ({"points": [[120.38, 36.06]], "k": 99}, "k"),
                        ({"points": [[120.38, 36.06]], "radius_m": 500}, "radius_m")]:  # not silently ignored
        r = client.post("/api/v1/nearest", json=body)
        assert r.status_code == 400 and r.get_json()["error"]["parameter"] == param, body
    assert client.post("/api/v1/nearest", data="not json").status_code == 400


def test_server_picks_up_a_registry_written_by_another_process(app, client, data_dir, districts):
    first = client.get("/api/v1/nearest?lon=120.3843&lat=36.062&k=1&open_at=any").get_json()["hits"][0]["id"]
    open_test_store(data_dir).update(lambda reg: reg.merged([reg.get(first).replace(status="temporarily_closed")]),
                                     actor="test", action="update", facility_id=first)
    app.extensions["workermap"].reload_if_changed(force=True)
    second = client.get("/api/v1/nearest?lon=120.3843&lat=36.062&k=1&open_at=any").get_json()["hits"][0]["id"]
    assert second != first


def test_cli_nearest_table_and_json(runner, data_dir):
    from cli import main

    r = runner.invoke(main, ["--data-dir", str(data_dir), "nearest", "--lon", "120.3843", "--lat", "36.062",
                             "-k", "2", "--open-at", "any"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert "测试工会驿站1" in r.output and "distance_m" in lines[1]
    r = runner.invoke(main, ["--data-dir", str(data_dir), "nearest", "--lon", "120.3843", "--lat", "36.062",
                             "--json", "--amenity", "sauna"])
    assert r.exit_code != 0 and "sauna" in r.output


def test_open_24h_filter_is_exact(index, sample_registry):
    rng = np.random.default_rng(5)
    allday = [f for f in sample_registry.facilities if f.opening_hours == "24/7" and f.status == "open"]
    for lon, lat in zip(rng.uniform(119.6, 121.0, 50), rng.uniform(35.7, 37.1, 50), strict=True):
        hits = index.query(lon, lat, k=8, open_24h=True, open_at=None).hits
        ref, ref_d = brute_knn(allday, lon, lat)
        assert [h.facility.id for h in hits] == [f.id for f in ref[:8]]


def test_api_open_24h(client):
    r = client.get("/api/v1/nearest?lon=120.3843&lat=36.062&k=5&open_at=any&open_24h=true").get_json()
    assert [h["id"] for h in r["hits"]] == ["t-002"] and r["parameters"]["open_24h"] is True
