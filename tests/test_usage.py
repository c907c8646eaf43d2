"""Usage (geo/usage.py): import validated like the registry (every problem with its row, nothing written on error)
on both backends; the readings (utilisation against capacity, busiest hours, night use) against hand-computed
values; the shipped synthetic sample; the API and CLI; and the recommendations (geo/recommend.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod

from geo.settings import SHIPPED_DATA
from geo.usage import (
    SAMPLE_FILE,
    UsageData,
    UsageFilter,
    UsageImportError,
    UsageStore,
    facility_usage,
    read_usage_rows,
    validate_usage,
)
from tests.conftest import brute_eligible, make_facility, open_test_store, shipped_sample, write_registry

REPO = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 27)
FACILITIES = [
    make_facility(1, capacity=10),  # Mo-Su 08:00-20:00: 12 hours a day
    make_facility(2, capacity=4, opening_hours="24/7"),
    make_facility(3, kind="mother_room", name="测试爱心妈妈小屋", access="employees", amenities=("nursing_room",),
                  capacity=2, opening_hours="Mo-Fr 08:30-17:30"),
    make_facility(4),  # no capacity
    make_facility(5, status="removed", capacity=3),
]
HEADER = "设施编号,日期,小时,人次\n"


@pytest.fixture
def usage_store(tmp_path, database_url):
    d = tmp_path / "instance"
    write_registry(d / "facilities.geojson", FACILITIES)
    store = open_test_store(d, database_url)
    yield store
    store.close()


def _csv(tmp_path: Path, text: str, name: str = "usage.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _state(store) -> tuple:
    """What "nothing was written" compares: the usage rows, the imports and the audit log's length."""
    data = UsageStore(store).load()
    rows = sorted(zip(data.facility_id.tolist(), data.day.astype(str).tolist(), data.hour.tolist(),
                      data.visits.tolist(), strict=True))
    return rows, data.imports, len(store.audit_entries(limit=10_000))


# ----------------------------------------------------------------------------- import


def test_a_bad_file_reports_every_problem_with_its_row_and_writes_nothing(usage_store, tmp_path):
    UsageStore(usage_store).import_file(_csv(tmp_path, HEADER + "t-001,2026-11-02,,7\n", "first.csv"), actor="t",
                                        today=TODAY)
    before = _state(usage_store)
    bad = _csv(tmp_path, HEADER + "\n".join([
        "t-001,2026-11-10,9,5",        # row 2: fine
        "t-999,2026-11-10,9,5",        # row 3: unknown facility
        "t-001,2026-02-30,9,5",        # row 4: no such date
        "t-001,2026-12-01,9,5",        # row 5: after today
        "t-001,2026-11-10,24,5",       # row 6: hour out of range
        "t-001,2026-11-11,9,-3",       # row 7: negative visits
        "t-001,2026-11-11,10,1.5",     # row 8: not a whole number
        "t-001,2026-11-10,9:00,6",     # row 9: the same facility, date and hour as row 2
        "t-001,2026-11-10,,40",        # row 10: a day total where row 2 gives hours
        ",2026-11-10,9,5",             # row 11: no facility id
        "t-005,2026-11-10,9,5",        # row 12: removed: a warning, not an error
    ]) + "\n")
    with pytest.raises(UsageImportError) as caught:
        UsageStore(usage_store).import_file(bad, actor="t", today=TODAY)
    err = caught.value
    assert [(p.row, p.field) for p in err.problems if p.severity == "error"] == [
        (3, "facility_id"), (4, "date"), (5, "date"), (6, "hour"), (7, "visits"), (8, "visits"), (9, "date"),
        (10, "hour"), (11, "facility_id")]
    assert [(p.row, p.field) for p in err.problems if p.severity == "warning"] == [(12, "facility_id")]
    assert "row 2" in next(p.message for p in err.problems if p.row == 9)
    assert err.status == 422 and len(err.body()["error"]["details"]) == 10
    assert _state(usage_store) == before
    for text, needle in [("date,visits\n2026-11-10,5\n", "facility_id"), ("", "empty")]:
        with pytest.raises(UsageImportError, match=needle):
            UsageStore(usage_store).import_file(_csv(tmp_path, text, "odd.csv"), actor="t", today=TODAY)
    with pytest.raises(UsageImportError, match="refused: 1 problem in header.csv") as caught:
        UsageStore(usage_store).import_file(_csv(tmp_path, HEADER, "header.csv"), actor="t", today=TODAY)
    assert "no data rows" in caught.value.problems[0].message
    assert _state(usage_store) == before


def test_import_stores_replaces_by_facility_and_day_and_is_audited(usage_store, tmp_path):
    store = UsageStore(usage_store)
    gbk = _csv(tmp_path, HEADER + "t-001,2026-11-10,9,5\nt-001,2026-11-10,12,8\nt-003,2026-11-10,,6\n"
               "t-001,2026-11-11,12,4\n", "gbk.csv", "gbk")
    first = store.import_file(gbk, actor="tester", today=TODAY)
    assert (first.written, first.stored, first.facilities, first.first_day, first.last_day, first.synthetic) == (
        True, 4, 2, "2026-11-10", "2026-11-11", False)
    again = _csv(tmp_path, HEADER + "t-001,2026-11-10,,30\n", "again.csv")  # a day total replaces that day's hours
    store.import_file(again, actor="tester", today=TODAY)
    rows, imports, _ = _state(usage_store)
    assert rows == [("t-001", "2026-11-10", -1, 30), ("t-001", "2026-11-11", 12, 4), ("t-003", "2026-11-10", -1, 6)]
    assert [i["file"] for i in imports] == ["gbk.csv", "again.csv"] and store.version() == imports[-1]["import_id"]
    audit = [e for e in usage_store.audit_entries() if e["action"] == "usage_import"]
    assert [(e["actor"], e["file"], e["rows"]) for e in audit] == [("tester", "gbk.csv", 4), ("tester", "again.csv", 1)]
    dry = store.import_file(gbk, actor="tester", replace=True, dry_run=True, today=TODAY)
    assert not dry.written and _state(usage_store)[0] == rows
    store.import_file(_csv(tmp_path, HEADER + "t-002,2026-11-12,3,2\n", "only.csv"), actor="t", replace=True,
                      today=TODAY)
    assert _state(usage_store)[0] == [("t-002", "2026-11-12", 3, 2)]


def test_xlsx_with_english_headers_date_times_and_a_sample_column(tmp_path, usage_store):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Facility ID", "Date", "Visits", "Synthetic", "note"])
    ws.append(["t-001", datetime(2026, 11, 10, 14, 0), 7, "true", "x"])
    ws.append(["t-001", date(2026, 11, 11), 12.0, "false", None])
    ws.append(["t-002", "2026/11/12 23:00", "3", "", None])
    wb.save(tmp_path / "usage.xlsx")
    report = UsageStore(usage_store).import_file(tmp_path / "usage.xlsx", actor="t", today=TODAY)
    assert [p.field for p in report.problems] == ["columns"]  # the unread "note" column: a warning
    assert report.synthetic
    data = UsageStore(usage_store).load()
    got = sorted(zip(data.facility_id.tolist(), data.day.astype(str).tolist(), data.hour.tolist(),
                     data.visits.tolist(), data.synthetic.tolist(), strict=True))
    assert got == [("t-001", "2026-11-10", 14, 7, True), ("t-001", "2026-11-11", -1, 12, False),
                   ("t-002", "2026-11-12", 23, 3, False)]


# ----------------------------------------------------------------------------- readings


def test_utilisation_busiest_hours_and_night_use_by_hand():
    """t-001: 10 places, open 08:00–20:00 (12 h). 10 Nov: 10 visits at 09, 15 at 12, 5 at 23 (after closing);
    11 Nov: 5 at 12. Visits 35 over 24 open hours: utilisation 35 × 1 h ÷ (10 × 24) = 0.1458; the 12:00 hour has
    (15 + 5) / 2 = 10 visits on average: peak utilisation 10 / 10 = 1.0; night (22–06) share 5 / 35 = 0.1429.
    t-003: 2 places, Mo-Fr 08:30–17:30 (9 h); Tuesday 10 Nov, 9 visits as a day total: 9 ÷ (2 × 9) = 0.5.
    t-004 has no capacity: no utilisation."""
    data = UsageData.from_rows([("t-001", "2026-11-10", 9, 10, False), ("t-001", "2026-11-10", 12, 15, False),
                                ("t-001", "2026-11-10", 23, 5, False), ("t-001", "2026-11-11", 12, 5, False),
                                ("t-003", "2026-11-10", None, 9, False), ("t-004", "2026-11-10", 10, 3, False),
                                ("t-005", "2026-11-10", 10, 3, False)])
    rows = {r["id"]: r for r in facility_usage(data, FACILITIES)}
    assert sorted(rows) == ["t-001", "t-003", "t-004"]  # removed facilities are not shown
    a = rows["t-001"]
    assert (a["days"], a["visits"], a["open_hours_per_day"], a["utilisation"]) == (2, 35, 12.0, round(35 / 240, 4))
    assert (a["peak_hour"], a["peak_hour_visits"], a["peak_utilisation"]) == ("12:00", 10.0, 1.0)
    assert a["busiest_hours"] == ["12:00", "09:00", "23:00"] and a["night_share"] == round(5 / 35, 4)
    assert a["profile"][9] == 5.0 and a["night_visits_per_day"] == 2.5
    b = rows["t-003"]
    assert (b["utilisation"], b["profile"], b["night_share"], b["open_hours_per_day"]) == (0.5, None, None, 9.0)
    assert rows["t-004"]["utilisation"] is None
    only = facility_usage(data, FACILITIES, UsageFilter(since=date(2026, 11, 11), kinds=("station",)))
    assert [(r["id"], r["visits"]) for r in only] == [("t-001", 5)]


def test_the_shipped_sample_is_valid_labelled_and_rebuilt_byte_for_byte(tmp_path):
    registry, _ = shipped_sample()
    raw = read_usage_rows(SHIPPED_DATA / SAMPLE_FILE)
    rows, problems = validate_usage(raw, registry)
    assert problems == [] and len(rows) == len(raw) > 50_000
    assert all(r.synthetic for r in rows)
    assert {r.day for r in rows} == {date(2026, 11, d) for d in range(9, 16)}
    ids = {r.facility_id for r in rows}
    assert {registry.get(i).kind for i in ids} == {"station", "shared_home", "mother_room", "childcare", "apartment"}
    out = tmp_path / "rebuilt.csv"
    subprocess.run([sys.executable, str(REPO / "data" / "build_sample_usage.py"), "--out", str(out)], check=True,
                   capture_output=True)
    assert out.read_bytes() == (SHIPPED_DATA / SAMPLE_FILE).read_bytes()


# ----------------------------------------------------------------------------- API and command line


def test_usage_api_says_the_sample_is_synthetic(sample_app):
    c = sample_app.test_client()
    body = c.get("/api/v1/usage?district=市南区").get_json()
    assert body["usage"]["synthetic"] and body["usage"]["source"] == "shipped sample"
    assert "SYNTHETIC" in body["usage"]["note"] and body["sample"]
    assert [d["adcode"] for d in body["districts"]] == ["370202"]
    assert body["facilities"] and all(f["adcode"] == "370202" and f["synthetic"] for f in body["facilities"])
    assert body["city"]["facilities"] == len(body["facilities"])
    assert sum(h["visits_per_day"] for h in body["hours"]) > 0
    one = c.get("/api/v1/usage?since=2026-11-14&until=2026-11-14&kind=station").get_json()
    assert {f["days"] for f in one["facilities"]} == {1} and {f["kind"] for f in one["facilities"]} == {"station"}
    for query, parameter in [("since=2026-11-31", "since"), ("until=2026-11-01&since=2026-11-02", "until"),
                             ("district=Atlantis", "district"), ("kind=castle", "kind"), ("limit=3", "limit")]:
        r = c.get(f"/api/v1/usage?{query}")
        assert r.status_code == 400 and r.get_json()["error"]["parameter"] == parameter, query


def test_imported_usage_is_served_at_once_and_labelled_as_imported(tmp_path):
    from web import create_app

    d = tmp_path / "instance"
    write_registry(d / "facilities.geojson", FACILITIES)
    app = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": d})
    c = app.test_client()
    empty = c.get("/api/v1/usage").get_json()
    assert empty["facilities"] == [] and "no usage imported" in empty["usage"]["note"]
    UsageStore(app.extensions["workermap"].store).import_file(
        _csv(tmp_path, HEADER + "t-001,2026-11-10,12,6\n"), actor="t", today=TODAY)
    body = c.get("/api/v1/usage").get_json()
    assert [(f["id"], f["visits"]) for f in body["facilities"]] == [("t-001", 6)]
    assert body["usage"]["source"] == "imported" and not body["usage"]["synthetic"]


def test_cli_import_refuses_with_every_problem_exit_2_and_shows_what_the_api_answers(runner, tmp_path,
                                                                                     sample_app):
    from cli import main

    data_dir = tmp_path / "cli"
    bad = _csv(tmp_path, HEADER + "st-370202-0001,2026-11-10,9,5\nnope,2026-11-10,9,5\nst-370202-0001,x,9,5\n")
    r = runner.invoke(main, ["--data-dir", str(data_dir), "usage", "import", str(bad)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "refused: 2 problems" in r.output and "row 3: facility_id" in r.output and "row 4: date" in r.output
    show = runner.invoke(main, ["--data-dir", str(data_dir), "usage", "show", "--district", "370203", "--json"])
    assert show.exit_code == 0, show.output
    api = sample_app.test_client().get("/api/v1/usage?district=370203").get_json()
    assert json.loads(show.output) == api  # nothing was imported: both read the shipped synthetic sample
    good = _csv(tmp_path, HEADER + "st-370202-0001,2026-11-10,9,5\n", "good.csv")
    ok = runner.invoke(main, ["--data-dir", str(data_dir), "usage", "import", str(good)])
    assert ok.exit_code == 0 and "stored 1 rows for 1 facilities" in ok.output
    table = runner.invoke(main, ["--data-dir", str(data_dir), "usage", "show"])
    assert table.exit_code == 0 and "usage: imported, 1 rows" in table.output and "SYNTHETIC" not in table.output
    missing = runner.invoke(main, ["--data-dir", str(data_dir), "usage", "import", str(tmp_path / "none.csv")])
    assert missing.exit_code == 2 and "none.csv" in missing.output


# ----------------------------------------------------------------------------- recommendations


def test_recommendations_follow_their_rules(sample_app):
    body = sample_app.test_client().get("/api/v1/recommendations").get_json()
    items, a = body["recommendations"], body["assumptions"]
    assert body["usage"]["synthetic"] and all("synthetic" in i["reason"] for i in items if i["action"] != "add_places")
    assert [i["rank"] for i in items] == list(range(1, len(items) + 1))
    counts = body["counts"]
    assert all(counts[k] > 0 for k in ("extend_24h", "merge", "relocate")) and counts["add_places"] == 20
    registry, _ = shipped_sample()
    geod = Geod(ellps="WGS84")
    radius = a["threshold_m"]
    round_clock = brute_eligible(registry.facilities, kinds=("station",), open_24h=True)
    for i in items:
        f = None if i["facility"] is None else registry.get(i["facility"]["id"])
        figures = i["figures"]
        if i["action"] == "extend_24h":
            assert figures["night_share"] >= a["night_share"] and f.opening_hours != "24/7"
            others = [g for g in round_clock if g.id != f.id]
            d = min(geod.inv(f.lon, f.lat, g.lon, g.lat)[2] for g in others)
            assert d > radius - 1 and i["target"]["distance_m"] == pytest.approx(d, rel=2e-4)
        elif i["action"] in ("merge", "relocate"):
            assert figures["utilisation"] < a["underused"] and figures["days"] >= a["min_days"]
            if i["action"] == "merge":
                g = registry.get(i["target"]["id"])
                assert g.kind == f.kind and geod.inv(f.lon, f.lat, g.lon, g.lat)[2] <= radius + 1
                assert figures["merged_utilisation"] <= a["merge_max_utilisation"]
            elif i["target"] is not None:
                assert i["target"]["district"] == f.district
        else:
            assert figures["demand_per_place"] >= a["max_demand_per_place"] - 0.05 and figures["places_needed"] >= 1
            assert "合成" not in i["reason_zh"]
    assert np.all(np.diff([i["priority"] for i in items if i["action"] == "extend_24h"]) <= 0)


def test_recommend_cli_prints_what_the_api_answers(runner, tmp_path, sample_app):
    from cli import main

    args = ["--data-dir", str(tmp_path), "recommend", "--district", "370211", "--night-share", "0.3", "--limit", "5"]
    r = runner.invoke(main, [*args, "--json"])
    assert r.exit_code == 0, r.output
    api = sample_app.test_client().get("/api/v1/recommendations?district=370211&night_share=0.3&limit=5").get_json()
    assert json.loads(r.output) == api
    table = runner.invoke(main, args)
    assert table.exit_code == 0 and "SYNTHETIC" in table.output and "extend_24h" in table.output
    bad = runner.invoke(main, ["--data-dir", str(tmp_path), "recommend", "--underused", "2"])
    assert bad.exit_code == 2 and "--underused" in bad.output and "Traceback" not in bad.output
