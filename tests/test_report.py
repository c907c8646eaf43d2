"""The planner report: files, CSV with BOM, only local assets, and every user string escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from geo.nearest import FacilityIndex
from tests.conftest import SMALL, make_facility, write_registry
from tests.test_coverage import _shipped_grid

EVIL = "<img src=x onerror=alert(1)>"
TEMPLATE = "`${alert(2)}`</script><script>alert(3)</script>"
FORMULA = "=HYPERLINK(\"http://evil\")"


def evil_facilities():
    return [*SMALL,
            make_facility(20, name=EVIL, lon=120.3400, lat=36.0700, opening_hours="24/7"),
            make_facility(21, name=TEMPLATE, lon=120.4100, lat=36.0900, district_adcode="370203", district="市北区"),
            make_facility(22, name=FORMULA, lon=120.3600, lat=36.0640)]


@pytest.fixture(scope="module")
def report(tmp_path_factory, districts):
    from geo import planner
    from web.report import write_report

    data = planner.PlannerData(_shipped_grid(), FacilityIndex(evil_facilities()), districts, sample=True)
    opts = planner.options(data, planner.REPORT, {"minutes": 15, "add": 3, "district": "市南区", "limit": 10,
                                                           "travel": "straight"})
    out = tmp_path_factory.mktemp("report") / "r"
    rep = write_report(out, data, opts)
    return out, rep


EXPECTED = ["index.html", "coverage.png", "districts.csv", "hours.csv", "gaps.csv", "gaps.geojson", "sites.csv",
            "sites.geojson", "curve.csv", "facilities.csv", "assumptions.csv", "assumptions.json", "README.txt",
            "vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "vendor/leaflet/images/layers.png"]


def test_report_files_exist(report):
    out, rep = report
    for name in EXPECTED:
        assert (out / name).is_file(), name
        assert (out / name) in rep.files or name.startswith("vendor/")
    assert len(rep.plan.sites) == 3 and rep.gaps


def test_csv_files_start_with_a_bom_and_state_assumptions(report):
    out, _ = report
    for path in out.glob("*.csv"):
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf"), path.name
        assert b"\r\n" in data
    text = (out / "assumptions.csv").read_text(encoding="utf-8-sig")
    for key in ("threshold_m", "detour_factor", "walk_kmh", "ebike_kmh", "demand_source", "edge_rule"):
        assert f"\n{key}," in text.replace("\r\n", "\n")
    districts = (out / "districts.csv").read_text(encoding="utf-8-sig").splitlines()
    assert districts[0].startswith("adcode,name,cells") and districts[1].startswith("370200,青岛市")
    assert len((out / "hours.csv").read_text(encoding="utf-8-sig").splitlines()) == 25


def test_spreadsheet_formulas_are_defused(report):
    out, _ = report
    text = (out / "facilities.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


def test_html_references_only_local_files(report):
    out, _ = report
    html = (out / "index.html").read_text(encoding="utf-8")
    srcs = re.findall(r"<script[^>]*\bsrc=[\"']([^\"']+)", html, flags=re.I)
    hrefs = re.findall(r"<link[^>]*\bhref=[\"']([^\"']+)", html, flags=re.I)
    assert srcs and hrefs
    for url in srcs + hrefs:
        assert not re.match(r"^(https?:)?//", url), url
        assert (out / url).is_file(), url
    assert not re.search(r"<(script|link)[^>]+(https?:)?//", html, flags=re.I)
    assert "cdn" not in html.lower()


def test_every_user_string_is_escaped(report):
    out, _ = report
    html = (out / "index.html").read_text(encoding="utf-8")
    assert EVIL not in html
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the served-facilities table shows it as text
    assert "</script><script>alert(3)" not in html
    # the map data is JSON inside one inert <script type="application/json"> block; it gives the names back
    block = re.search(r'<script type="application/json" id="wm-report-data">(.*?)</script>', html, flags=re.S)
    data = json.loads(block.group(1))
    names = {f["properties"]["name"] for f in data["facilities"]["features"]}  # the map layers are GeoJSON
    assert {EVIL, TEMPLATE, FORMULA} <= names
    assert "<" not in block.group(1) and ">" not in block.group(1)


def test_report_states_source_and_assumptions(report):
    out, _ = report
    html = (out / "index.html").read_text(encoding="utf-8")
    for text in ("modelled", "15 min walk (923 m)", "detour_factor", "1.3", "4.8", "SAMPLE DATA"):
        assert text in html
    a = json.loads((out / "assumptions.json").read_text(encoding="utf-8"))
    assert a["demand_source"] == "modelled" and a["threshold_m"] == pytest.approx(923.08, abs=0.01)
    assert a["plan"]["add"] == 3
    gaps = json.loads((out / "gaps.geojson").read_text(encoding="utf-8"))
    assert gaps["demand_source"] == "modelled" and gaps["features"]


def test_cli_report(runner, tmp_path):
    from cli import main

    data = tmp_path / "instance"
    write_registry(data / "facilities.geojson", evil_facilities())
    out = tmp_path / "mail"
    r = runner.invoke(main, ["--data-dir", str(data), "report", "--out", str(out), "--district", "市南区",
                             "--add", "2", "--limit", "5"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "demand: modelled" in r.output and "wrote" in r.output
    for name in EXPECTED:
        assert (out / name).is_file(), name
    assert EVIL not in (out / "index.html").read_text(encoding="utf-8")


def test_cli_gaps_and_plan(runner, tmp_path):
    from cli import main

    data = tmp_path / "instance"
    write_registry(data / "facilities.geojson", SMALL)
    r = runner.invoke(main, ["--data-dir", str(data), "gaps", "--district", "市南区", "--limit", "3", "--hours",
                             "--travel", "straight", "--date", "2026-11-25", "--out", str(tmp_path / "g.geojson")],
                      catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "threshold 15 min walk (923 m)" in r.output and "demand: modelled" in r.output
    assert "02:00" in r.output and "largest uncovered areas" in r.output
    assert json.loads((tmp_path / "g.geojson").read_text(encoding="utf-8"))["features"]
    r = runner.invoke(main, ["--data-dir", str(data), "plan", "--add", "2", "--district", "370202",
                             "--min-spacing-m", "300", "--out", str(tmp_path / "s.csv")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "marginal_gain" in r.output and (tmp_path / "s.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    r = runner.invoke(main, ["--data-dir", str(data), "plan", "--add", "2", "--method", "exact"])
    assert r.exit_code == 2 and "--method greedy" in r.output  # the CLI's own flag, not the API's method=greedy
    r = runner.invoke(main, ["--data-dir", str(data), "gaps", "--minutes", "10", "--threshold-m", "500"])
    assert r.exit_code != 0 and "--threshold-m" in r.output
    r = runner.invoke(main, ["--data-dir", str(data), "whatif", "--add", "120.45,36.16", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["rows"][0]["adcode"] == "370200"


def test_vendor_copy_is_the_served_leaflet(report):
    out, _ = report
    from web.report import VENDOR

    assert (out / "vendor/leaflet/leaflet.js").read_bytes() == (VENDOR / "leaflet.js").read_bytes()
    assert Path(VENDOR).is_dir()


def test_the_report_map_works_from_disk_in_a_browser(report):
    """Opened from the folder (file://): every layer drawn, the coverage image loaded, names shown as text."""
    from tests.test_ogc import in_browser

    out, rep = report
    index = (out / "index.html").as_uri()
    seen = in_browser(index.rsplit("/", 1)[0], """
        page.goto(base + "/index.html")
        page.wait_for_selector("body[data-map=ready]")
        page.wait_for_function("() => { const i = document.querySelector('img.leaflet-image-layer');"
                               " return i && i.complete && i.naturalWidth > 0; }")
        out["layers"] = page.evaluate("() => Object.fromEntries(Object.entries(WM_REPORT.layers).map("
                                      "([k, l]) => [k, l.getLayers ? l.getLayers().length : 1]))")
        out["on_map"] = page.evaluate("() => Object.values(WM_REPORT.layers).every(l => WM_REPORT.map.hasLayer(l))")
        out["popup"] = page.evaluate('''() => {
            let hit = null;
            WM_REPORT.layers.facilities.eachLayer(l => { if (l.feature.properties.name.startsWith("<img")) hit = l; });
            hit.openPopup();
            const c = document.querySelector(".leaflet-popup-content");
            return [c.innerText, c.querySelector("img") !== null];
        }''')
        out["control"] = page.locator(".leaflet-control-layers-overlays label").count()
    """)
    assert seen["errors"] == [] and seen["dialogs"] == []
    assert seen["layers"] == {"grid": 1, "districts": 10, "gaps": len(rep.gaps), "facilities": len(
        rep.coverage.facility_table()), "sites": len(rep.plan.sites)}
    assert seen["on_map"] and seen["control"] == 5
    assert EVIL in seen["popup"][0] and seen["popup"][1] is False
    assert all(u.startswith("https://tile.openstreetmap.org/") for u in seen["outside"]), seen["outside"]
