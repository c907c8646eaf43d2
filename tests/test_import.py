"""Import and validation: every problem named with its row, and nothing written on error."""

from __future__ import annotations

import json

import numpy as np
import openpyxl
import prcoords
import pytest

from tests.conftest import SMALL, open_test_store, store_state

HEADER_ZH = "编号,类型,名称,地址,经度,纬度,开放时间,设施\n"
GOOD_ZH = "q-1,工会驿站,香港中路街道工会驿站,青岛市市南区香港中路1号,120.3843,36.0620,24/7,微波炉;饮用水\n"


@pytest.fixture
def store(data_dir):
    return open_test_store(data_dir)


def _import(store, tmp_path, text: str | bytes, *, name="in.csv", encoding="utf-8", **kw):
    f = tmp_path / name
    f.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    before = store_state(store)
    report = store.import_file(f, **kw)
    return report, before


def _refused(store, report, before, *, row: int, field: str, contains: str):
    assert not report.written
    assert store_state(store) == before, "registry must be unchanged after a refused import"
    hits = [p for p in report.errors if p.row == row and p.field == field]
    assert hits, f"expected a problem at row {row} field {field}, got {[str(p) for p in report.problems]}"
    assert contains in hits[0].message, hits[0].message


def test_good_csv_chinese_headers_is_added(store, tmp_path):
    report, _ = _import(store, tmp_path, HEADER_ZH + GOOD_ZH)
    assert report.written and report.added == 1 and not report.problems
    reg = store.load()
    f = reg.get("q-1")
    assert f.kind == "station" and f.amenities == ("microwave", "drinking_water") and f.district == "市南区"
    assert len(reg) == len(SMALL) + 1


def test_utf8_bom_csv(store, tmp_path):
    report, _ = _import(store, tmp_path, "\ufeff" + HEADER_ZH + GOOD_ZH)
    assert report.written, [str(p) for p in report.problems]
    assert store.load().get("q-1").name == "香港中路街道工会驿站"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_gbk_csv_is_detected(store, tmp_path, encoding):
    report, _ = _import(store, tmp_path, HEADER_ZH + GOOD_ZH, encoding=encoding)
    assert report.written, [str(p) for p in report.problems]
    assert store.load().get("q-1").address == "青岛市市南区香港中路1号"


def test_english_headers_and_geojson(store, tmp_path):
    fc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [120.3525, 36.088]},
        "properties": {"id": "g-1", "kind": "childcare", "name": "台东爱心托管驿站",
                       "opening_hours": "Mo-Fr 07:30-18:30"},
    }]}
    report, _ = _import(store, tmp_path, json.dumps(fc, ensure_ascii=False), name="in.geojson")
    assert report.written
    assert store.load().get("g-1").district == "市北区"


def test_xlsx(store, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["名称", "类型", "经度", "纬度", "开放时间", "容量", "核验日期"])
    ws.append(["李村工会驿站", "station", 120.4318, 36.1525, "Mo-Su 08:00-20:00", 12, "2025-03-01"])
    ws.append(["城阳工会驿站", "station", 120.3963, 36.3075, "24/7", 20, None])
    path = tmp_path / "in.xlsx"
    wb.save(path)
    report = store.import_file(path)
    assert report.written and report.added == 2, [str(p) for p in report.problems]
    names = {f.name: f for f in store.load().facilities}
    assert names["李村工会驿站"].district == "李沧区" and names["李村工会驿站"].capacity == 12
    assert names["城阳工会驿站"].district == "城阳区"


@pytest.mark.parametrize("crs,forward", [("gcj02", prcoords.wgs_gcj), ("bd09", prcoords.wgs_bd)])
def test_chinese_datum_input_is_converted_and_source_kept(store, tmp_path, crs, forward):
    """Input made by the independent prcoords package converts back to the true point."""
    true_lon, true_lat = 120.3843, 36.0620
    source = forward(prcoords.Coords(true_lat, true_lon))
    slon, slat = source.lon, source.lat
    text = HEADER_ZH + f"d-1,工会驿站,五四广场驿站,,{slon:.8f},{slat:.8f},24/7,\n"
    report, _ = _import(store, tmp_path, text, crs=crs)
    assert report.written
    f = store.load().get("d-1")
    assert abs(f.lon - true_lon) < 2e-7 and abs(f.lat - true_lat) < 2e-7
    assert f.source_crs == crs and abs(f.source_lon - slon) < 1e-7 and abs(f.source_lat - slat) < 1e-7


def test_gcj_input_differs_from_taking_it_as_wgs(store, tmp_path):
    """The same numbers imported as GCJ-02 and as WGS84 land hundreds of metres apart (pyproj.Geod)."""
    from pyproj import Geod

    row = "{id},工会驿站,五四广场驿站,,120.3843,36.0620,24/7,\n"
    assert _import(store, tmp_path, HEADER_ZH + row.format(id="w-1"))[0].written
    assert _import(store, tmp_path, HEADER_ZH + row.format(id="g-1"), crs="gcj02")[0].written
    reg = store.load()
    w, g = reg.get("w-1"), reg.get("g-1")
    _, _, apart_m = Geod(ellps="WGS84").inv(w.lon, w.lat, g.lon, g.lat)
    assert 400 < apart_m < 600  # GCJ-02's offset near Qingdao is ~0.5 km


# ---- one test per validation problem: message, row, registry unchanged ----------------------

@pytest.mark.parametrize("line,row_field,contains", [
    ("a,工会驿站,驿站,,,36.06,24/7,\n", "lon", "coordinate missing"),
    ("a,工会驿站,驿站,,东经120,36.06,24/7,\n", "lon/lat", "not a number"),
    ("a,工会驿站,驿站,,nan,36.06,24/7,\n", "lon/lat", "not finite"),
    ("a,工会驿站,驿站,,inf,36.06,24/7,\n", "lon/lat", "not finite"),
    ("a,工会驿站,驿站,,116.40,39.90,24/7,\n", "lon/lat", "outside Qingdao"),
    ("a,工会驿站,驿站,,36.0620,120.3843,24/7,\n", "lon/lat", "look swapped"),
    ("a,工会驿站,驿站,,120.50,36.00,24/7,\n", "lon/lat", "not on land"),  # in the Yellow Sea
    ("a,加油站,驿站,,120.3843,36.0620,24/7,\n", "kind", "unknown kind '加油站'"),
    ("a,工会驿站,驿站,,120.3843,36.0620,24/7,微波炉;按摩椅\n", "amenities", "unknown amenity '按摩椅'"),
    ("a,工会驿站,驿站,,120.3843,36.0620,每天八点到晚上,\n", "opening_hours", "not valid OSM opening_hours"),
    ("a,工会驿站,,,120.3843,36.0620,24/7,\n", "name", "name is empty"),
    ("a,工会驿站," + "长" * 101 + ",,120.3843,36.0620,24/7,\n", "name", "at most 100"),
])
def test_each_problem_is_reported_and_nothing_written(store, tmp_path, line, row_field, contains):
    report, before = _import(store, tmp_path, HEADER_ZH + GOOD_ZH + line)
    _refused(store, report, before, row=3, field=row_field, contains=contains)


def test_duplicate_ids_name_both_rows(store, tmp_path):
    report, before = _import(store, tmp_path, HEADER_ZH + GOOD_ZH + GOOD_ZH)
    _refused(store, report, before, row=3, field="id", contains="first used in row 2")


def test_all_problems_collected_at_once(store, tmp_path):
    bad = "a,加油站,,,abc,36.0,坏,按摩椅\n"
    report, before = _import(store, tmp_path, HEADER_ZH + bad + bad.replace("a,", "b,"))
    fields = {(p.row, p.field) for p in report.errors}
    for row in (2, 3):
        assert {(row, "kind"), (row, "name"), (row, "lon/lat"), (row, "opening_hours"), (row, "amenities")} <= fields
    assert store_state(store) == before


def test_html_in_name_is_stored_as_text(store, tmp_path):
    name = "<img src=x onerror=alert(1)>驿站"
    report, _ = _import(store, tmp_path, HEADER_ZH + f"x-1,工会驿站,{name},,120.3843,36.0620,24/7,\n")
    assert report.written
    assert store.load().get("x-1").name == name


def test_dry_run_writes_nothing(store, tmp_path):
    report, before = _import(store, tmp_path, HEADER_ZH + GOOD_ZH, dry_run=True)
    assert report.added == 1 and not report.written
    assert store_state(store) == before


@pytest.mark.parametrize("content,name,contains", [
    (b"", "empty.csv", "empty"),
    (b"name,lon\n\x80\xff\x80", "bad.csv", "encoding"),
    (b"PK\x03\x04truncated", "bad.xlsx", "XLSX"),
    (b"foo,bar\n1,2\n", "x.csv", "no known column headers"),
    (b"{not json", "x.geojson", "cannot be parsed"),
    (b"a,b", "x.pdf", "not supported"),
])
def test_unreadable_files_are_refused(store, tmp_path, content, name, contains):
    report, before = _import(store, tmp_path, content, name=name)
    assert report.errors and contains in report.errors[0].message, [str(p) for p in report.problems]
    assert store_state(store) == before


def test_merge_updates_by_id_and_keeps_versions(store, tmp_path):
    first = store.load()
    _import(store, tmp_path, HEADER_ZH + GOOD_ZH)
    report, _ = _import(store, tmp_path, HEADER_ZH + GOOD_ZH.replace("香港中路街道工会驿站", "新名称驿站"))
    assert report.updated == 1 and report.added == 0
    assert report.registry == store.load() and report.registry.get("q-1").name == "新名称驿站"
    last = store.audit_entries()[-1]
    assert (last["action"], last["added"], last["updated"]) == ("import", 0, 1)
    assert [v["action"] for v in store.versions()] == ["migrate", "import", "import"]
    assert store.registry_at(1).facilities == first.facilities  # the version before both imports


def test_random_points_roundtrip_through_csv(store, tmp_path):
    rng = np.random.default_rng(1)
    lines = [HEADER_ZH]
    for i in range(20):
        lon, lat = 120.38 + rng.uniform(-0.01, 0.01), 36.075 + rng.uniform(-0.005, 0.005)
        lines.append(f"r-{i},工会驿站,驿站{i},,{lon:.7f},{lat:.7f},24/7,\n")
    report, _ = _import(store, tmp_path, "".join(lines))
    assert report.written and report.added == 20, [str(p) for p in report.problems]
