"""The planner page in a real browser: boundaries, coverage table, a siting plan, downloads."""

from __future__ import annotations

DESKTOP = {"width": 1280, "height": 900}


def _open(page, *, wait_coverage: bool = True):
    page.set_viewport_size(DESKTOP)
    page.goto("/planner")
    page.wait_for_selector("body[data-state=ready]", state="attached")
    page.wait_for_function("() => WM.planner.layers.boundaries !== null", timeout=15_000)
    if wait_coverage:
        page.wait_for_function("() => ['ready', 'error', 'missing'].includes(document.body.dataset.coverage)",
                               timeout=60_000)


def assert_coverage_ready(page) -> None:
    """The coverage API answered: "error" or "missing" (a 404, which the page reports as not deployed) fail."""
    state = page.evaluate("() => document.body.dataset.coverage")
    assert state == "ready", f"coverage {state}: {page.locator('#coverage-status').inner_text()}"


def test_planner_draws_districts_and_links_downloads(page, page_log, traffic, flask_app, screenshots):
    _open(page)
    n = page.evaluate("() => WM.planner.layers.boundaries.getLayers().length")
    assert n == len(flask_app.extensions["workermap"].districts.adcodes) == 10
    assert page.evaluate("() => WM.planner.map.hasLayer(WM.planner.layers.boundaries)")
    hrefs = page.evaluate("() => Object.fromEntries(Array.from(document.querySelectorAll('#downloads a[href]'))"
                          ".map(a => [a.id, a.getAttribute('href')]))")
    assert hrefs["dl-fac-geojson"] == "/api/v1/export?format=geojson&layer=facilities"
    assert hrefs["dl-fac-csv"] == "/api/v1/export?format=csv&layer=facilities"
    assert hrefs["dl-report"].startswith("/api/v1/report.zip?mode=walk&travel=land&minutes=15&kind=station")
    assert hrefs["dl-gaps"].startswith("/api/v1/gaps?")
    assert page.locator("#sample-notice").is_visible()
    page.screenshot(path=str(screenshots / "planner.png"), full_page=True)
    assert_coverage_ready(page)
    assert page_log.errors == []


def test_planner_shows_district_table_and_a_siting_result(page, page_log, traffic, screenshots):
    _open(page)
    assert_coverage_ready(page)
    rows = page.locator("#district-table tbody tr")
    assert rows.count() == 10
    cov = page.evaluate("() => WM.planner.coverage")
    first = cov["districts"][0]
    assert rows.first.locator("th").inner_text() == first["name"]
    assert f"{first['workers_covered_pct']:.1f}%" in rows.first.inner_text()
    assert page.locator("#district-table tfoot tr th").inner_text() == "全市"
    assert page.evaluate("() => WM.planner.map.hasLayer(WM.planner.layers.grid)")
    # run a small siting plan
    page.fill("#p-add", "3")
    page.click("#plan-form button[type=submit]")
    page.wait_for_function("() => ['ready', 'error', 'missing'].includes(document.body.dataset.plan)",
                           timeout=90_000)
    assert page.evaluate("() => document.body.dataset.plan") == "ready", page.locator("#plan-status").inner_text()
    sites = page.evaluate("() => WM.planner.plan.sites")
    assert 1 <= len(sites) <= 3
    assert page.locator("#sites-table tbody tr").count() == len(sites)
    assert page.evaluate("() => WM.planner.layers.sites.getLayers().length") == len(sites)
    gains = [s["marginal_gain"] for s in sites]
    assert gains == sorted(gains, reverse=True)
    assert page.locator("#dl-sites").get_attribute("href").startswith("blob:")
    page.screenshot(path=str(screenshots / "planner-plan.png"), full_page=True)
    assert page_log.errors == []


def test_planner_controls_are_labelled(page, page_log, traffic):
    _open(page, wait_coverage=False)
    for name in ("出行方式", "时间阈值（分钟）", "设施类型", "时段", "新增数量", "最小间距（米）"):
        assert page.get_by_label(name).count() == 1, name
    page.click("#lang")
    assert page.get_by_label("Travel mode").count() == 1
    assert page.evaluate("() => document.documentElement.lang") == "en"


def test_planner_shows_worker_reports_and_suggested_sites_as_two_layers(page, page_log, traffic, flask_app,
                                                                         screenshots):
    """Open reports (at their facility) and sites workers suggest are two layers a planner can switch; a popup
    shows names as text (the XSS-named facility) and never a report's text."""
    from geo.store.reports import ReportStore
    from tests.browser.conftest import XSS_ID, XSS_NAME

    reports = ReportStore(flask_app.extensions["workermap"].store)
    reports.add("closed", facility_id=XSS_ID, message="<script>alert(3)</script>秘密")
    reports.add("amenity_broken", facility_id=XSS_ID)
    reports.add("new_site", lon=120.40, lat=36.09, message="秘密")
    expected = flask_app.test_client().get("/api/v1/reports/layer").get_json(force=True)
    facilities = {f["properties"]["facility_id"] for f in expected["features"] if f["properties"]["kind"] != "new_site"}
    sites = [f for f in expected["features"] if f["properties"]["kind"] == "new_site"]
    mine = {f["properties"]["kind"]: f["properties"]["count"] for f in expected["features"]
            if f["properties"]["facility_id"] == XSS_ID}

    _open(page, wait_coverage=False)
    page.wait_for_function("() => ['ready', 'error'].includes(document.body.dataset.reports)", timeout=15_000)
    assert page.evaluate("() => document.body.dataset.reports") == "ready"
    counts = page.evaluate("() => [WM.planner.layers.reports.getLayers().length, "
                           "WM.planner.layers.suggestions.getLayers().length]")
    assert counts == [len(facilities), len(sites)]
    suggested = sum(f["properties"]["count"] for f in sites)
    assert page.locator("#n-reports").inner_text() == f"({expected['open_reports'] - suggested})"
    assert page.locator("#n-suggestions").inner_text() == f"({suggested})"

    on_map = "name => WM.planner.map.hasLayer(WM.planner.layers[name])"
    assert page.evaluate(on_map, "reports") and page.evaluate(on_map, "suggestions")
    page.get_by_label("职工反馈的问题").uncheck()
    assert not page.evaluate(on_map, "reports") and page.evaluate(on_map, "suggestions")
    page.get_by_label("职工建议的新址").uncheck()
    assert not page.evaluate(on_map, "suggestions")
    page.get_by_label("职工反馈的问题").check()
    assert page.evaluate(on_map, "reports")

    def click_marker() -> None:
        """Centre the XSS facility's marker, bring it to the front and click it as a person would."""
        x, y = page.evaluate("""name => {
            const m = WM.planner.layers.reports.getLayers()
                .find(l => l.getTooltip().getContent().textContent.startsWith(name));
            WM.planner.map.setView(m.getLatLng(), 16, {animate: false});
            m.bringToFront();
            const p = WM.planner.map.latLngToContainerPoint(m.getLatLng());
            const box = WM.planner.map.getContainer().getBoundingClientRect();
            return [box.left + p.x, box.top + p.y];
        }""", XSS_NAME)
        page.mouse.click(x, y)
        page.wait_for_selector(".leaflet-popup-content .wm-report")

    click_marker()
    popup = page.locator(".leaflet-popup-content .wm-report")
    assert popup.locator("b").inner_text() == XSS_NAME and popup.locator("img").count() == 0
    lines = popup.locator("li").all_inner_texts()
    assert f"该开门时关着: {mine['closed']} 条" in lines and f"设施损坏: {mine['amenity_broken']} 条" in lines
    assert "秘密" not in page.content()  # report texts never reach the planner
    page.screenshot(path=str(screenshots / "planner-reports.png"), full_page=False)

    page.click("#lang")
    click_marker()
    assert f"Closed when it should be open: {mine['closed']} ×" in page.locator(
        ".leaflet-popup-content .wm-report li").all_inner_texts()
    assert page_log.errors == [] and page_log.dialogs == []
