"""The workermap CLI, run in-process with click's runner on temporary data folders."""

from __future__ import annotations

import json

from cli import main
from tests.conftest import SMALL, open_test_store, store_state


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
        assert r.exit_code == 2 and "invalid value for --open-at" in r.output.lower(), r.output


UNREACHABLE = "postgresql://nobody@127.0.0.1:1/x"


def test_global_options_before_or_after_the_command(runner, data_dir):
    before = runner.invoke(main, ["--data-dir", str(data_dir), "validate"], catch_exceptions=False)
    after = runner.invoke(main, ["validate", "--data-dir", str(data_dir)], catch_exceptions=False)
    assert before.exit_code == after.exit_code == 0 and before.output == after.output
    assert str(data_dir / "workermap.gpkg") in after.output
    args = ["--lon", "120.3843", "--lat", "36.062", "--open-at", "any", "--json"]
    before = runner.invoke(main, ["--data-dir", str(data_dir), "nearest", *args], catch_exceptions=False)
    after = runner.invoke(main, ["nearest", *args, "--data-dir", str(data_dir)], catch_exceptions=False)
    assert before.exit_code == after.exit_code == 0
    assert json.loads(before.output)["hits"] == json.loads(after.output)["hits"]
    for argv in (["--database-url", UNREACHABLE, "history"], ["history", "--database-url", UNREACHABLE]):
        r = runner.invoke(main, ["--data-dir", str(data_dir), *argv], catch_exceptions=False)
        assert r.exit_code == 2 and r.output.startswith(f"error: registry database {UNREACHABLE}"), r.output


def test_global_options_after_a_nested_command(runner, data_dir):
    from geo.store.tokens import TokenStore

    r = runner.invoke(main, ["token", "add", "alice", "--data-dir", str(data_dir)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["token", "--data-dir", str(data_dir), "add", "bob"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert [e["name"] for e in TokenStore(open_test_store(data_dir)).entries()] == ["alice", "bob"]
    r = runner.invoke(main, ["token", "list", "--database-url", UNREACHABLE, "--data-dir", str(data_dir)],
                      catch_exceptions=False)
    assert r.exit_code == 2 and "cannot be reached" in r.output


def test_the_last_data_dir_wins_and_the_command_line_beats_the_environment(runner, data_dir, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("WORKERMAP_DATA_DIR", str(elsewhere))
    r = runner.invoke(main, ["validate", "--data-dir", str(data_dir)], catch_exceptions=False)
    assert r.exit_code == 0 and f"OK, {len(SMALL)} facilities" in r.output
    r = runner.invoke(main, ["--data-dir", str(elsewhere), "validate", "--data-dir", str(data_dir)],
                      catch_exceptions=False)
    assert r.exit_code == 0 and str(data_dir) in r.output and not elsewhere.exists()
    r = runner.invoke(main, ["validate"], catch_exceptions=False)  # the environment alone
    assert r.exit_code == 0 and str(elsewhere) in r.output and "SAMPLE DATA" in r.output


def test_commands_are_listed_by_family_in_the_order_registered(runner):
    from cli import COMMANDS

    r = runner.invoke(main, ["--help"], catch_exceptions=False)
    listed = [line.split()[0] for line in r.output.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == [c.name for c in COMMANDS]


def test_whatif_prints_absolute_changes_that_agree_with_its_json(runner, tmp_path):
    """Closing the station that serves most workers shows in covered workers, not as a rounded 0.0 % (the shipped
    sample: an empty data folder starts with it)."""
    argv = ["--data-dir", str(tmp_path), "whatif", "--close", "st-370214-0034"]
    table = runner.invoke(main, argv, catch_exceptions=False).output
    rows = json.loads(runner.invoke(main, [*argv, "--json"], catch_exceptions=False).output)["rows"]
    city = rows[0]
    lost = city["scenario_uncovered_workers"] - city["today_uncovered_workers"]
    assert lost > 100  # workers who lose their station
    line = next(t for t in table.splitlines() if t.startswith(city["name"]))
    cells = line.split()
    assert cells[1] == f"{city['workers'] - city['today_uncovered_workers']:,.0f}"
    assert cells[3] == f"{-lost:+,.0f}" and cells[4] == f"{city['delta_workers_covered_pct']:+.2f}"
    untouched = next(t for t in table.splitlines() if t.startswith("平度市")).split()
    assert untouched[3] == "0" and untouched[1] == untouched[2]
