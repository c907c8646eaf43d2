"""The workermap CLI, run in-process with click's runner on temporary data folders."""

from __future__ import annotations

import json

from tests.conftest import SMALL, open_test_store, store_state
from web.cli import main


def run(runner, data_dir, *args):
    return runner.invoke(main, ["--data-dir", str(data_dir), *args], catch_exceptions=False)


def test_validate_reports_counts(runner, data_dir):
    r = run(runner, data_dir, "validate")
    assert r.exit_code == 0, r.output
    assert f"OK, {len(SMALL)} facilities, no errors" in r.output
    assert "24/7 stations 1" in r.output


def test_validate_fails_on_a_corrupt_registry(runner, data_dir):
    (data_dir / "facilities.geojson").write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    r = run(runner, data_dir, "validate")
    assert r.exit_code == 1 and "not valid JSON" in r.output


def test_import_refusal_exits_nonzero_and_names_rows(runner, data_dir, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("名称,类型,经度,纬度\n驿站,station,36.06,120.38\n", encoding="utf-8")
    store = open_test_store(data_dir)
    before = store_state(store)
    r = run(runner, data_dir, "import", str(f))
    assert r.exit_code == 1
    assert "row 2: lon/lat: latitude and longitude look swapped" in r.output
    assert store_state(store) == before


def test_import_gcj02_then_export_geojson(runner, data_dir, tmp_path):
    f = tmp_path / "amap.csv"
    f.write_text("name,kind,lon,lat\n五四广场驿站,station,120.389434,36.064754\n", encoding="utf-8")
    r = run(runner, data_dir, "import", str(f), "--crs", "gcj02")
    assert r.exit_code == 0, r.output
    out = tmp_path / "x.geojson"
    r = run(runner, data_dir, "export", "--format", "geojson", "--kind", "station", "--out", str(out))
    assert r.exit_code == 0, r.output
    fc = json.loads(out.read_text(encoding="utf-8"))
    hit = [f for f in fc["features"] if f["properties"]["name"] == "五四广场驿站"][0]
    assert hit["properties"]["source_crs"] == "gcj02"
    assert abs(hit["geometry"]["coordinates"][0] - 120.3843) < 0.001  # moved ~460 m west, back to WGS84


def test_export_rejects_unknown_kind(runner, data_dir, tmp_path):
    r = runner.invoke(main, ["--data-dir", str(data_dir), "export", "--kind", "spaceport", "--out",
                             str(tmp_path / "x.csv")])
    assert r.exit_code != 0 and "spaceport" in r.output


def test_open_at_that_has_no_qingdao_time_is_refused_not_a_crash(runner, data_dir):
    for command in (["nearest", "--lon", "120.38", "--lat", "36.06"], ["gaps"]):
        r = runner.invoke(main, ["--data-dir", str(data_dir), *command, "--open-at", "0001-01-01T00:00+14:00"])
        assert r.exit_code == 2 and "Invalid value for --open-at" in r.output, r.output
