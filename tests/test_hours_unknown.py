"""Unknown opening hours stay unknown: an empty cell is stored as null, the import warns naming the row, and
such a place never counts as open (nearest, coverage, the 24-hour table, siting) unless the caller asks."""

from __future__ import annotations

import io
import sqlite3
from datetime import datetime

import pytest

from cli import main
from geo.coverage import FacilityFilter
from geo.nearest import FacilityIndex
from geo.store.backends import GeoPackage
from geo.store.migrate import _statements, migrations
from geo.store.tokens import TokenStore
from tests.conftest import brute_eligible, make_facility, open_test_store, write_registry

NIGHT = datetime(2026, 11, 25, 3, 0)  # a Wednesday, 03:00: only round-the-clock places are open
KNOWN = make_facility(1, opening_hours="24/7")
UNKNOWN = make_facility(2, opening_hours=None, name="时间未知驿站")
DAYTIME = make_facility(3, opening_hours="Mo-Su 08:00-20:00")
FACILITIES = [KNOWN, UNKNOWN, DAYTIME]
HEADER = "编号,类型,名称,经度,纬度,开放时间,设施\n"
ROWS = ("u-1,工会驿站,空白时间驿站,120.3843,36.0620,,微波炉\n"
        "u-2,工会驿站,全天驿站,120.3853,36.0625,24/7,微波炉\n")


# -- import ------------------------------------------------------------------------------------------------

def test_an_empty_cell_is_stored_as_unknown_with_a_warning_naming_the_row(store, tmp_path):
    f = tmp_path / "blank.csv"
    f.write_text(HEADER + ROWS, encoding="utf-8")
    report = store.import_file(f)
    assert report.written and report.added == 2 and not report.errors
    assert [(p.row, p.field, p.severity) for p in report.problems] == [(2, "opening_hours", "warning")]
    assert "unknown" in report.problems[0].message
    reg = store.load()
    assert reg.get("u-1").opening_hours is None and reg.get("u-1").properties()["hours_known"] is False
    assert reg.get("u-2").opening_hours == "24/7" and reg.get("u-2").hours_known


def test_both_backends_round_trip_null_hours_and_the_working_calendar(store, data_dir, database_url):
    f = make_facility(40, opening_hours=None, workday_calendar=True)
    store.update(lambda reg: reg.merged([f]), actor="t", action="create", facility_id=f.id)
    fresh = open_test_store(data_dir, database_url)  # another process: reads the rows back
    got = fresh.load().get(f.id)
    assert got == f and got.opening_hours is None and got.workday_calendar is True
    fresh.close()


def test_cli_import_prints_the_warning(runner, data_dir, tmp_path):
    f = tmp_path / "blank.csv"
    f.write_text(HEADER + ROWS, encoding="utf-8")
    r = runner.invoke(main, ["--data-dir", str(data_dir), "import", str(f)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "WARNING row 2: opening_hours: opening hours are empty" in r.output
    assert "added 2" in r.output
    shown = runner.invoke(main, ["--data-dir", str(data_dir), "nearest", "--lon", "120.3843", "--lat", "36.062",
                                 "--open-at", "any", "-k", "10"], catch_exceptions=False)
    assert "空白时间驿站" in shown.output and "hours unknown" in shown.output


def test_admin_api_import_warns_naming_the_row(client, data_dir):
    token = TokenStore(open_test_store(data_dir)).add("alice")
    data = {"file": (io.BytesIO((HEADER + ROWS).encode("utf-8")), "blank.csv")}
    r = client.post("/api/v1/admin/import", data=data, headers={"Authorization": f"Bearer {token}"},
                    content_type="multipart/form-data")
    assert r.status_code == 200 and r.get_json()["added"] == 2, r.get_json()
    [warning] = r.get_json()["warnings"]
    assert (warning["row"], warning["field"]) == (2, "opening_hours") and "empty" in warning["message"]
    hit = client.get("/api/v1/nearest?lon=120.3843&lat=36.062&k=1&open_at=any").get_json()["hits"][0]
    assert (hit["id"], hit["hours_known"], hit["open_now"]) == ("u-1", False, None)


def test_a_blank_value_in_a_geojson_or_an_edit_is_unknown_too(districts):
    from geo.edits import facility_from_values, patched
    from geo.tabular import geojson_rows
    from geo.validate import validate_rows

    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [120.3843, 36.062]},
         "properties": {"id": f"g-{i}", "kind": "station", "name": "驿站", "opening_hours": v}}
        for i, v in enumerate([None, "", "  "])]}
    result = validate_rows(geojson_rows(doc), districts)
    assert result.ok and [f.opening_hours for f in result.facilities] == [None, None, None]
    assert [p.row for p in result.warnings] == [1, 2, 3]
    edited = patched(KNOWN, {"opening_hours": ""}, districts)
    assert edited.opening_hours is None
    assert facility_from_values({"kind": "station", "name": "x", "lon": 120.3843, "lat": 36.062,
                                 "workday_calendar": "是"}, districts).workday_calendar is True


def test_the_shipped_sample_keeps_explicit_hours():
    from tests.conftest import shipped_sample

    registry = shipped_sample()[0]
    assert all(f.opening_hours for f in registry.facilities)
    assert not any(f.workday_calendar for f in registry.facilities)


# -- nearest -----------------------------------------------------------------------------------------------

def test_index_never_counts_unknown_hours_as_open_unless_asked():
    index = FacilityIndex(FACILITIES)
    ids = lambda res: [h.facility.id for h in res.hits]  # noqa: E731
    at_night = index.query(120.3843, 36.062, k=10, open_at=NIGHT)
    assert ids(at_night) == ["t-001"]
    assert [f.id for f in brute_eligible(FACILITIES, when=NIGHT)] == ["t-001"]  # the independent reference
    asked = index.query(120.3843, 36.062, k=10, open_at=NIGHT, include_unknown_hours=True)
    assert set(ids(asked)) == {"t-001", "t-002"}
    unknown = next(h for h in asked.hits if h.facility.id == "t-002")
    assert unknown.open_now is None and unknown.next_change is None
    anytime = index.query(120.3843, 36.062, k=10, open_at=None)  # no hours filter: open_now reported for now
    assert {h.facility.id for h in anytime.hits} == {"t-001", "t-002", "t-003"}
    assert {h.facility.id: h.open_now for h in anytime.hits}["t-002"] is None
    assert list(index.eligible(open_at=NIGHT, open_24h=True)) == [0]
    assert list(index.eligible(open_at=NIGHT, open_24h=True, include_unknown_hours=True)) == [0, 1]
    dist, fidx, _, eligible = index.query_batch([120.3843], [36.062], k=3, open_at=NIGHT)
    assert eligible == 1 and fidx[0].tolist() == [0, -1, -1]
    _, fidx, _, eligible = index.query_batch([120.3843], [36.062], k=3, open_at=NIGHT, include_unknown_hours=True)
    assert eligible == 2 and sorted(fidx[0].tolist()) == [-1, 0, 1]


@pytest.fixture
def unknown_client(tmp_path):
    from web import create_app

    d = tmp_path / "instance"
    write_registry(d / "facilities.geojson", FACILITIES)
    return create_app({"TESTING": True, "WORKERMAP_DATA_DIR": d}).test_client()


def test_nearest_api_answers_hours_known_false_and_open_now_null(unknown_client):
    q = "/api/v1/nearest?lon=120.3843&lat=36.062&k=10&open_at="
    night = unknown_client.get(q + NIGHT.isoformat()).get_json()
    assert [h["id"] for h in night["hits"]] == ["t-001"] and night["hits"][0]["hours_known"] is True
    asked = unknown_client.get(q + NIGHT.isoformat() + "&include_unknown_hours=true").get_json()
    hit = next(h for h in asked["hits"] if h["id"] == "t-002")
    assert (hit["hours_known"], hit["open_now"], hit["closes_at"], hit["opens_at"], hit["opening_hours"]) == \
        (False, None, None, None, None)
    assert asked["parameters"]["include_unknown_hours"] is True
    assert night["parameters"]["include_unknown_hours"] is False
    anytime = unknown_client.get(q + "any").get_json()
    assert {h["id"]: h["open_now"] for h in anytime["hits"]}["t-002"] is None
    batch = unknown_client.post("/api/v1/nearest", json={"points": [[120.3843, 36.062]], "k": 5,
                                                         "open_at": NIGHT.isoformat()}).get_json()
    assert [r["id"] for r in batch["results"][0]] == ["t-001"]
    batch = unknown_client.post("/api/v1/nearest", json={"points": [[120.3843, 36.062]], "k": 5,
                                                         "open_at": NIGHT.isoformat(),
                                                         "include_unknown_hours": True}).get_json()
    assert {r["id"] for r in batch["results"][0]} == {"t-001", "t-002"}
    bad = unknown_client.get(q + "now&include_unknown_hours=perhaps")
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "include_unknown_hours"


def test_facility_geojson_says_hours_known(unknown_client):
    features = unknown_client.get("/api/v1/facilities").get_json()["features"]
    props = {f["id"]: f["properties"] for f in features}
    assert props["t-002"]["hours_known"] is False and props["t-002"]["opening_hours"] is None
    assert props["t-001"]["hours_known"] is True and props["t-001"]["workday_calendar"] is False


def test_the_option_is_declared_once_for_api_and_cli(unknown_client, runner):
    spec = unknown_client.get("/api/openapi.json").get_json()
    names = {p["name"] for p in spec["paths"]["/api/v1/nearest"]["get"]["parameters"]}
    assert "include_unknown_hours" in names
    names = {p["name"] for p in spec["paths"]["/api/v1/coverage"]["get"]["parameters"]}
    assert "include_unknown_hours" in names
    for command in (["nearest"], ["gaps"], ["plan"]):
        assert "--include-unknown-hours" in runner.invoke(main, [*command, "--help"]).output, command


# -- coverage, the 24-hour table and siting ------------------------------------------------------------------

def test_coverage_and_siting_never_count_unknown_hours_unless_asked():
    index = FacilityIndex(FACILITIES)
    night = FacilityFilter(kinds=(), open_at=NIGHT)
    assert list(night.indices(index)) == [0]
    assert list(FacilityFilter(kinds=(), open_at=NIGHT, include_unknown_hours=True).indices(index)) == [0, 1]
    assert list(FacilityFilter(kinds=(), open_24h=True).indices(index)) == [0]
    assert list(FacilityFilter(kinds=()).indices(index)) == [0, 1, 2]  # no hours filter: hours do not matter
    assert FacilityFilter(kinds=(), include_unknown_hours=True).as_dict()["include_unknown_hours"] is True


def test_planner_answers_count_unknown_hours_only_when_asked(unknown_client):
    q = "/api/v1/coverage?kind=any&minutes=10&open_at=" + NIGHT.isoformat()
    plain = unknown_client.get(q).get_json()
    asked = unknown_client.get(q + "&include_unknown_hours=true").get_json()
    assert plain["assumptions"]["eligible_facilities"] == 1
    assert asked["assumptions"]["eligible_facilities"] == 2
    assert asked["assumptions"]["filter"]["include_unknown_hours"] is True
    q = "/api/v1/coverage/hours?kind=any&minutes=10&date=2026-11-25"
    rows = unknown_client.get(q).get_json()["hours"]
    assert (rows[3]["hour"], rows[3]["open_facilities"], rows[12]["open_facilities"]) == ("03:00", 1, 2)
    rows = unknown_client.get(q + "&include_unknown_hours=true").get_json()["hours"]
    assert (rows[3]["open_facilities"], rows[12]["open_facilities"]) == (2, 3)


def test_a_plan_does_not_count_unknown_hours_as_coverage(unknown_client):
    """Siting at night: with unknown hours left out, the place near 五四广场 that only might be open does not
    cover its neighbourhood, so a plan puts a site there; counted when asked, the need is smaller."""
    body = {"kind": ["any"], "minutes": 5, "open_at": NIGHT.isoformat(), "add": 1, "district": "市南区"}
    plain = unknown_client.post("/api/v1/plan", json=body).get_json()
    asked = unknown_client.post("/api/v1/plan", json={**body, "include_unknown_hours": True}).get_json()
    assert plain["assumptions"]["eligible_facilities"] == 1 and asked["assumptions"]["eligible_facilities"] == 2


# -- the GeoPackage migration -----------------------------------------------------------------------------

_OLD_COLUMNS = ("id", "kind", "name", "district_adcode", "district", "name_en", "township", "address", "amenities",
                "opening_hours", "access", "entry", "capacity", "status", "verified_at", "phone", "host", "sample",
                "source_crs", "source_lon", "source_lat")


def test_a_geopackage_of_the_earlier_schema_is_migrated_with_its_rows_and_fids(tmp_path, districts):
    """A database written before null hours existed (migrations 1-2 only, opening_hours NOT NULL) opens, keeps
    every row, fid and the fid sequence, and then stores null hours and the working calendar."""
    path = tmp_path / "instance" / "workermap.gpkg"
    backend = GeoPackage(path)
    conn = backend.connect()
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                 "applied_at TEXT NOT NULL)")
    for number, name, sql in migrations("geopackage"):
        if number < 3:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (number, name, "2026-11-01T00:00:00"))
    rows = [make_facility(i, district_adcode="370202", district="市南区") for i in (1, 2, 3)]
    for f in rows:
        values = [";".join(getattr(f, c)) if c in ("amenities", "entry") else getattr(f, c) for c in _OLD_COLUMNS]
        conn.execute(f"INSERT INTO facilities (geom, {', '.join(_OLD_COLUMNS)}, version) VALUES "
                     f"(?, {', '.join('?' for _ in _OLD_COLUMNS)}, 1)", (*backend.point_params(f.lon, f.lat), *values))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE facilities SET opening_hours = NULL WHERE id = 't-001'")
    conn.execute("DELETE FROM facilities WHERE id = 't-003'")  # fid 3 was given once: never again
    conn.execute("UPDATE registry_state SET version = 1 WHERE id = 1")
    conn.execute("INSERT INTO registry_versions VALUES (1, '2026-11-01T00:00:00', 'test', 'seed', NULL, 2, '{}')")
    conn.close()

    store = open_test_store(tmp_path / "instance")
    reg = store.load()
    assert [f.id for f in reg.facilities] == ["t-001", "t-002"]
    assert reg.get("t-001") == rows[0] and not reg.get("t-001").workday_calendar
    new = make_facility(9, opening_hours=None, workday_calendar=True)
    store.update(lambda r: r.merged([new]), actor="t", action="create", facility_id=new.id)
    store.update(lambda r: r.merged([reg.get("t-001").replace(opening_hours=None)]), actor="t", action="update",
                 facility_id="t-001")
    assert store.load().get("t-009") == new and store.load().get("t-001").opening_hours is None
    store.close()
    check = sqlite3.connect(path)
    fids = dict(check.execute("SELECT id, fid FROM facilities").fetchall())
    assert fids == {"t-001": 1, "t-002": 2, "t-009": 4}  # never the removed record's 3
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert check.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] >= 3
    assert check.execute("SELECT table_name FROM gpkg_geometry_columns").fetchall() == [("facilities",)]
    check.close()
