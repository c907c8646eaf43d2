"""``workermap reports list|resolve``: the admins' queue on the command line, on both stores (``database_url``).

The commands call what the admin API calls (``geo.reports.Reports``), so their refusals are the API's, as
one line with exit status 2.
"""

from __future__ import annotations

import json

import pytest

from cli import main
from geo.store.reports import ReportStore
from tests.conftest import store_state


@pytest.fixture
def run(runner, data_dir, database_url):
    def go(*args):
        extra = ["--database-url", database_url] if database_url else []
        return runner.invoke(main, ["--data-dir", str(data_dir), *extra, "reports", *args], catch_exceptions=False)

    return go


def one_line_error(r, *words: str) -> None:
    """Exit status 2 and the error in one line (click's usage errors add the usage line before it)."""
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = r.stderr.strip().splitlines()
    errors = [line for line in lines if line.lower().startswith("error")]
    assert len(errors) == 1 and len(lines) <= 4, r.stderr
    for w in words:
        assert w in errors[0], (w, errors[0])


def test_list_shows_the_queue_newest_first_with_texts_made_inert(run, store):
    assert run("list").output.strip() == "no open reports"
    reports = ReportStore(store)
    a = reports.add("closed", facility_id="t-001", message="门锁了\u202e\n<b>03:10</b>")["report_id"]
    b = reports.add("new_site", lon=120.41, lat=36.09, message="这里需要")["report_id"]
    r = run("list")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split() == ["id", "created_at", "kind", "facility", "status", "text"]
    assert lines[2].split()[0] == str(b) and "120.41000,36.09000" in lines[2]
    assert lines[3].split()[0] == str(a) and "门锁了  <b>03:10</b>" in lines[3]
    assert "\u202e" not in r.output  # a text cannot reorder the terminal's line
    rows = [json.loads(line) for line in run("list", "--json", "--status", "all").output.splitlines()]
    assert [x["id"] for x in rows] == [b, a] and rows[1]["text"] == "门锁了\u202e\n<b>03:10</b>"
    assert all("client_hash" not in x for x in rows)
    assert run("list", "--status", "resolved").output.strip() == "no resolved reports"
    assert len(run("list", "--limit", "1").output.splitlines()) == 3


def test_resolve_with_an_edit_then_list_it_resolved(run, store):
    rid = ReportStore(store).add("closed", facility_id="t-001")["report_id"]
    version = store.head()
    r = run("resolve", str(rid), "--note", "改了开放时间", "--set", "opening_hours=Mo-Fr 08:00-18:00",
            "--set", "status=temporarily_closed")
    assert r.exit_code == 0, r.output
    assert r.output.strip() == f"resolved report {rid}; updated t-001"
    f = store.load().get("t-001")
    assert (f.opening_hours, f.status, store.head()) == ("Mo-Fr 08:00-18:00", "temporarily_closed", version + 1)
    [done] = [json.loads(line) for line in run("list", "--status", "resolved", "--json").output.splitlines()]
    assert (done["id"], done["note"], done["resolved_by"].startswith("cli")) == (rid, "改了开放时间", True)
    assert [e["action"] for e in store.audit_entries(limit=2)] == ["update", "report_resolve"]
    one_line_error(run("resolve", str(rid)), "already resolved")


def test_resolve_a_suggested_site_creates_the_facility_there(run, store):
    rid = ReportStore(store).add("new_site", lon=120.40, lat=36.09)["report_id"]
    r = run("resolve", str(rid), "--set", "id=n-7", "--set", "kind=station", "--set", "name=新驿站",
            "--set", "opening_hours=24/7")
    assert r.exit_code == 0, r.output
    assert r.output.strip() == f"resolved report {rid}; created n-7"
    f = store.load().get("n-7")
    assert (f.lon, f.lat, f.name) == (120.40, 36.09, "新驿站")


def test_refusals_are_one_line_and_change_nothing(run, store):
    rid = ReportStore(store).add("closed", facility_id="t-001")["report_id"]
    before = store_state(store)
    one_line_error(run("resolve", "999"), "no report 999")
    one_line_error(run("resolve", str(rid), "--set", "colour=red"), "edit.colour")
    one_line_error(run("resolve", str(rid), "--set", "status=exploded"))
    one_line_error(run("resolve", str(rid), "--note", "x" * 501), "note must be at most 500")
    one_line_error(run("resolve", str(rid), "--set", "status"), "field=value")
    one_line_error(run("list", "--status", "closed"), "--status")
    one_line_error(run("list", "--limit", "0"), "--limit")
    assert store_state(store) == before
    assert ReportStore(store).get(rid)["status"] == "open"
