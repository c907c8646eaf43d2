"""The resident nearest index of a large registry (geo/store/resident.py).

It answers as the in-memory FacilityIndex on the same registry (every filter, hours, radius, ties), as a brute-force
geodesic scan (pyproj.Geod) on points spread over China where EPSG:4549 no longer holds, and after admin writes it
equals an index read afresh (changed, added, removed and deleted records). Over HTTP the database mode answers with
it by default and equals the memory mode; the batch form too.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
from pyproj import Geod

from geo.geography import load_districts
from geo.model import Facility
from geo.nearest import FacilityIndex
from geo.registry import Registry
from geo.store.resident import ResidentIndex
from tests.conftest import open_test_store
from tests.scale_registry import fill_store, scatter
from tests.test_scale import WORKER_HOURS
from web.hitjson import encode_record

N = 2000
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def resident_db(pg_server, tmp_path_factory):
    """(database url, data dir): N scattered facilities in their own database (the tests here write to it)."""
    url = pg_server.create_database()
    data_dir = tmp_path_factory.mktemp("resident")
    store = open_test_store(data_dir, url)
    fill_store(store, scatter(N, load_districts(), seed=7))
    store.close()
    yield url, data_dir
    pg_server.drop_database(url)


def _same(mem: FacilityIndex, res: ResidentIndex, lon: float, lat: float, kw: dict) -> None:
    a, b = mem.query(lon, lat, **kw), res.query(lon, lat, **kw)
    assert a.at == b.at and a.eligible == b.eligible, kw
    assert [(h.facility.id, h.distance_m, h.bearing_deg, h.within_radius, h.open_now, h.next_change, h.walk_min,
             h.ebike_min) for h in a.hits] == \
           [(res.facility_id(h.index), h.distance_m, h.bearing_deg, h.within_radius, h.open_now, h.next_change,
             h.walk_min, h.ebike_min) for h in b.hits], kw


def _random_query(rnd: random.Random) -> dict:
    return dict(k=rnd.choice([1, 5, 10, 50]), kinds=rnd.choice([(), ("station",), ("mother_room", "childcare")]),
                amenities=rnd.choice([(), ("microwave",), ("rest", "toilet")]),
                worker=rnd.choice([None, "outdoor_worker", "member"]), open_at=rnd.choice(WORKER_HOURS),
                include_closed=rnd.random() < 0.3, open_24h=rnd.random() < 0.1,
                include_unknown_hours=rnd.random() < 0.3, radius_m=rnd.choice([None, 300.0, 2000.0]))


def test_resident_index_equals_the_in_memory_index_with_every_filter(resident_db):
    url, data_dir = resident_db
    store = open_test_store(data_dir, url)
    try:
        registry = store.load()
        mem = FacilityIndex(registry.facilities)
        res = ResidentIndex.from_store(store, encode_record)
        assert len(res) == len(mem) and res.version == int(registry.version)
        rnd = random.Random(16)
        for _ in range(400):
            _same(mem, res, rnd.uniform(120.05, 120.75), rnd.uniform(35.95, 36.45), _random_query(rnd))
        # each record is what the hit encoder makes of it, and the full record reads back from the store
        for i in rnd.sample(range(len(res)), 20):
            assert res.record(i) == encode_record(mem.facilities[i]) and res.facilities[i] == mem.facilities[i]
    finally:
        store.close()


class _Rows:
    """A store holding ``rows`` (what ResidentIndex.from_store reads)."""

    def __init__(self, rows):
        self.rows = rows

    def live_records(self):
        for start in range(0, len(self.rows), 1000):
            yield 1, self.rows[start:start + 1000]


def test_geodesic_k_nearest_over_china_equal_a_brute_force_scan():
    """Facilities over all of China (clustered, with exact duplicates and ties): the k nearest by pyproj.Geod over
    every eligible one, ties by registry order — where a planar EPSG:4549 ranking would be wrong."""
    rng = np.random.default_rng(3)
    centres = np.column_stack([rng.uniform(75, 134, 40), rng.uniform(18, 53, 40)])
    base = Facility(id="x", kind="station", name="驿站", lon=0, lat=0, district_adcode="100000", district="中国",
                    opening_hours="Mo-Fr 08:00-18:00", amenities=("rest",))
    rows = []
    for n in range(3000):
        c = centres[n % len(centres)]
        lon, lat = (float(v) for v in np.round(c + rng.normal(0, 0.3 if n % 3 else 3.0, 2), 5))
        if n % 97 == 0 and rows:  # an exact duplicate position: a tie broken by registry order
            lon, lat = rows[-1][1].lon, rows[-1][1].lat
        rows.append((n + 1, dataclasses.replace(base, id=f"c-{n}", lon=lon, lat=lat,
                                                opening_hours=None if n % 11 == 0 else "24/7" if n % 4 == 0
                                                else base.opening_hours,
                                                amenities=("rest", "microwave") if n % 5 == 0 else ("rest",))))
    res = ResidentIndex.from_store(_Rows(rows), encode_record)
    lon_all = np.array([f.lon for _, f in rows])
    lat_all = np.array([f.lat for _, f in rows])
    rnd = random.Random(5)
    for _ in range(150):
        qlon, qlat = rnd.uniform(73, 135), rnd.uniform(18, 54)
        k = rnd.choice([1, 3, 10])
        amen = rnd.choice([(), ("microwave",)])
        at = rnd.choice([None, WORKER_HOURS[2], WORKER_HOURS[3]])
        got = res.query(qlon, qlat, k=k, amenities=amen, open_at=at)
        ok = np.array([("microwave" in f.amenities or not amen) for _, f in rows])
        if at is not None:
            ok &= np.array([f.opening_hours == "24/7" or (f.opening_hours is not None and at.weekday() < 5 and
                                                         8 <= at.hour < 18) for _, f in rows])
        idx = np.flatnonzero(ok)
        _, _, d = GEOD.inv(np.full(len(idx), qlon), np.full(len(idx), qlat), lon_all[idx], lat_all[idx])
        order = sorted(zip(d.tolist(), idx.tolist(), strict=True))[:k]
        assert got.eligible == len(idx)
        assert [h.index for h in got.hits] == [i for _, i in order], (qlon, qlat, k, amen, at)
        assert np.allclose([h.distance_m for h in got.hits], [x for x, _ in order], rtol=0, atol=1e-3)


def test_an_updated_index_equals_one_read_afresh_after_admin_writes(resident_db):
    url, data_dir = resident_db
    store = open_test_store(data_dir, url)
    try:
        res = ResidentIndex.from_store(store, encode_record)
        before = store.load()
        live = [f for f in before.facilities if f.status != "removed"]
        closed, moved, removed, deleted = live[3], live[10], live[20], live[30]

        def edit(reg: Registry) -> Registry:
            out = []
            for f in reg.facilities:
                if f.id == deleted.id:
                    continue
                if f.id == closed.id:
                    f = dataclasses.replace(f, status="temporarily_closed", name="暂停 <b>&amp;</b>")
                elif f.id == moved.id:
                    f = dataclasses.replace(f, lon=round(f.lon + 0.01, 6), opening_hours="Mo-Su 06:00-06:30")
                elif f.id == removed.id:
                    f = dataclasses.replace(f, status="removed")
                out.append(f)
            out.append(dataclasses.replace(live[0], id="sc-new-1", lon=120.4001, lat=36.1001, opening_hours="24/7"))
            return Registry(tuple(out), reg.meta)

        store.update(edit, actor="test", action="edit")
        after = store.load()
        updated, fresh = res.updated(), ResidentIndex.from_store(store, encode_record)
        assert updated.version == fresh.version == int(after.version) > res.version
        mem = FacilityIndex(after.facilities)
        assert len(updated) == len(fresh) == len(mem) == len(live) - 2 + 1
        for i in range(len(fresh)):
            assert updated.facility_id(i) == fresh.facility_id(i) and updated.record(i) == fresh.record(i)
        rnd = random.Random(9)
        points = [(f.lon, f.lat) for f in (closed, moved, removed, deleted, live[0])]
        points += [(rnd.uniform(120.05, 120.75), rnd.uniform(35.95, 36.45)) for _ in range(150)]
        for lon, lat in points:
            kw = _random_query(rnd)
            _same(mem, updated, lon, lat, kw)
        assert updated.updated() is updated  # nothing new: the same index
        assert res.query(closed.lon, closed.lat, k=1, open_at=None).hits[0].index == \
               [i for i in range(len(res)) if res.facility_id(i) == closed.id][0]  # the old version is untouched
    finally:
        store.close()


@pytest.mark.parametrize("engine", ["index", "knn"])
def test_http_nearest_in_database_mode_equals_memory_mode_single_and_batch(resident_db, engine):
    from web import create_app

    url, data_dir = resident_db
    apps = [create_app({"TESTING": True, "WORKERMAP_DATA_DIR": str(data_dir), "WORKERMAP_DATABASE_URL": url,
                        "WORKERMAP_QUERY_MODE": mode, "WORKERMAP_NEAREST_ENGINE": engine})
            for mode in ("memory", "database")]
    try:
        mem, db = (a.test_client() for a in apps)
        assert type(apps[1].extensions["workermap"].snapshot.nearest_engine).__name__ == \
               {"index": "ResidentIndex", "knn": "DbNearest"}[engine]
        for q in ("lon=120.38&lat=36.07&k=8", "lon=120.45&lat=36.2&k=3&kind=station&worker=member&open_at=any",
                  "lon=120.2&lat=36.0&amenity=microwave&radius_m=500&crs=gcj02&open_at=2026-10-01T10:00",
                  "lon=120.3&lat=36.1&crs=bd09&include_closed=true"):
            a, b = mem.get(f"/api/v1/nearest?{q}").get_json(), db.get(f"/api/v1/nearest?{q}").get_json()
            assert a["hits"] and a == b
        body = {"points": [[120.38, 36.07], [120.1, 36.3], [120.6, 35.99]], "k": 3, "open_at": "any"}
        a, b = mem.post("/api/v1/nearest", json=body).get_json(), db.post("/api/v1/nearest", json=body).get_json()
        assert [[r["id"] for r in row] for row in a["results"]] == [[r["id"] for r in row] for row in b["results"]]
        if engine == "index":  # geodesic distances: within EPSG:4549's 0.01 % of the planar ones
            assert b["distance"] == "geodesic (WGS84)"
            for ra, rb in zip(a["results"], b["results"], strict=True):
                for x, y in zip(ra, rb, strict=True):
                    assert abs(x["distance_m"] - y["distance_m"]) <= 1e-4 * x["distance_m"] + 0.1
        snap = apps[1].extensions["workermap"].snapshot
        if engine == "index":  # never read whole (the KNN engine has no batch form: that one reads it)
            assert "index" not in vars(snap) and "facilities" not in vars(snap.registry)
    finally:
        for a in apps:
            a.extensions["workermap"].store.close()
