"""More than 20 classes of broken import files: each refused with a report naming the rows, registry unchanged."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from geo.export import facilities_csv
from tests.conftest import open_test_store, store_state

HEAD = "id,kind,name,lon,lat,opening_hours,amenities,capacity,verified_at\n"
GOOD = "g-1,station,好驿站,120.3843,36.0620,24/7,rest,10,2025-01-01\n"


def xlsx_bytes() -> bytes:
    wb = openpyxl.Workbook()
    wb.active.append(["名称", "类型", "经度", "纬度"])
    for i in range(200):
        wb.active.append([f"驿站{i}", "station", 120.38, 36.06])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


FILE_LEVEL = {  # class: (file name, bytes, words in the message)
    "empty file": ("a.csv", b"", "empty"),
    "header only": ("a.csv", HEAD.encode(), "no data rows"),
    "undecodable bytes": ("a.csv", b"name,lon\n\x80\xff\x80\xfe", "encoding"),
    "binary with NUL bytes": ("a.csv", b"name\x00lon\n\x00\x01", "NUL"),
    "truncated xlsx": ("a.xlsx", xlsx_bytes()[:3000], "XLSX"),
    "not really xlsx": ("a.xlsx", b"PK\x03\x04 this is not a workbook", "XLSX"),
    "unsupported type": ("a.pdf", b"%PDF-1.4", "not supported"),
    "broken json": ("a.geojson", b'{"type": "FeatureCollection", "features": [', "cannot be parsed"),
    "json not a collection": ("a.geojson", b'{"type": "Feature"}', "FeatureCollection"),
    "no known headers": ("a.csv", b"foo,bar\n1,2\n", "no known column headers"),
    "duplicate columns": ("a.csv", "名称,name,lon,lat\n甲,乙,120.38,36.06\n".encode(), "columns given twice"),
    "50 MB file": ("a.csv", (HEAD + GOOD * 1_000_000).encode(), "limit"),
}

ROW_LEVEL = {  # class: (bad line, field, words in the message)
    "missing coordinates": ("b-1,station,驿站,,36.06,24/7,,,\n", "lon", "missing"),
    "text coordinates": ("b-1,station,驿站,一百二十,36.06,24/7,,,\n", "lon/lat", "not a number"),
    "NaN coordinates": ("b-1,station,驿站,NaN,36.06,24/7,,,\n", "lon/lat", "not finite"),
    "infinite coordinates": ("b-1,station,驿站,120.38,-inf,24/7,,,\n", "lon/lat", "not finite"),
    "swapped coordinates": ("b-1,station,驿站,36.062,120.384,24/7,,,\n", "lon/lat", "swapped"),
    "outside Qingdao": ("b-1,station,驿站,121.47,31.23,24/7,,,\n", "lon/lat", "outside Qingdao"),
    "in the sea": ("b-1,station,驿站,120.50,36.00,24/7,,,\n", "lon/lat", "not on land"),
    "duplicate id": (GOOD, "id", "duplicate id"),
    "unknown kind": ("b-1,spa,驿站,120.38,36.06,24/7,,,\n", "kind", "unknown kind"),
    "unknown amenity": ("b-1,station,驿站,120.38,36.06,24/7,sauna,,\n", "amenities", "unknown amenity"),
    "bad opening hours": ("b-1,station,驿站,120.38,36.06,8点到18点,,,\n", "opening_hours", "not valid"),
    "empty name": ("b-1,station,,120.38,36.06,24/7,,,\n", "name", "empty"),
    "over-long name": ("b-1,station," + "驿" * 300 + ",120.38,36.06,24/7,,,\n", "name", "at most 100"),
    "wrong type capacity": ("b-1,station,驿站,120.38,36.06,24/7,,many,\n", "capacity", "whole number"),
    "negative capacity": ("b-1,station,驿站,120.38,36.06,24/7,,-3,\n", "capacity", "whole number"),
    "bad date": ("b-1,station,驿站,120.38,36.06,24/7,,,2025-13-45\n", "verified_at", "YYYY-MM-DD"),
}


@pytest.fixture
def store(data_dir):
    return open_test_store(data_dir)


def test_more_than_20_distinct_problems_are_reported(store, tmp_path):
    """Every case is refused with its own report: at least 25 different sets of (field, message)."""
    reports = set()
    for name, data, _ in FILE_LEVEL.values():
        (tmp_path / name).write_bytes(data)
        reports.add(frozenset((p.field, p.message) for p in store.import_file(tmp_path / name).errors))
    for line, _, _ in ROW_LEVEL.values():
        (tmp_path / "a.csv").write_text(HEAD + GOOD + line, encoding="utf-8")
        reports.add(frozenset((p.field, p.message) for p in store.import_file(tmp_path / "a.csv").errors))
    assert frozenset() not in reports and len(reports) >= 25


@pytest.mark.parametrize("case", sorted(FILE_LEVEL))
def test_file_level_problems(store, tmp_path, case):
    name, data, words = FILE_LEVEL[case]
    path = tmp_path / name
    path.write_bytes(data)
    before = store_state(store)
    report = store.import_file(path)
    assert not report.written and report.errors, case
    assert any(words in p.message for p in report.errors), [str(p) for p in report.errors]
    assert store_state(store) == before


@pytest.mark.parametrize("case", sorted(ROW_LEVEL))
def test_row_level_problems_name_the_row(store, tmp_path, case):
    line, field, words = ROW_LEVEL[case]
    path = tmp_path / "a.csv"
    path.write_text(HEAD + GOOD + line, encoding="utf-8")
    before = store_state(store)
    report = store.import_file(path)
    assert not report.written
    hits = [p for p in report.errors if p.row == 3 and p.field == field]
    assert hits and words in hits[0].message, [str(p) for p in report.errors]
    assert not [p for p in report.errors if p.row == 2], "the good row must not be blamed"
    assert store_state(store) == before


def test_html_in_names_is_kept_as_text_and_csv_injection_neutralised_on_export(store, tmp_path):
    """Not refused (a name may contain '<'): stored verbatim, escaped where shown, defused in CSV."""
    path = tmp_path / "a.csv"
    path.write_text(HEAD + 'x-1,station,<script>alert(1)</script>,120.38,36.06,24/7,,,\n'
                    'x-2,station,"=CMD(""calc"")",120.381,36.06,24/7,,,\n', encoding="utf-8")
    report = store.import_file(path)
    assert report.written
    reg = store.load()
    assert reg.get("x-1").name == "<script>alert(1)</script>"
    rows = list(csv.DictReader(io.StringIO(facilities_csv(reg.facilities)[1:])))
    names = {r["id"]: r["name"] for r in rows}
    assert names["x-2"] == "'=CMD(\"calc\")"
