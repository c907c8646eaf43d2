"""The overview map (/map) in a real browser at a phone viewport, in Chinese and English: a title, a way
back, the legend, the sample notice, pinch-zoom, localised hours in popups, clusters with names."""

from __future__ import annotations

import re

from tests.browser.conftest import XSS_ID, XSS_NAME


def _open(page, path: str = "/map"):
    page.goto(path)
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=15_000)
    return page


def _popup_text(page, facility_id: str) -> str:
    """Open the popup of one facility as a person would reach it (zoom to its marker, tap it)."""
    page.evaluate("""id => new Promise(done => {
        const c = WM.overview.cluster, m = c.getLayers().find(m => m.feature.id === id);
        c.zoomToShowLayer(m, () => { m.openPopup(); done(); });
    })""", facility_id)
    popup = page.locator(".leaflet-popup-content").last  # the one before may still be fading out
    popup.wait_for()
    return popup.inner_text()


def _first_with_hours(page, expr: str) -> str:
    return page.evaluate("e => WM.overview.cluster.getLayers().find(m => m.feature.properties.opening_hours === e)"
                         ".feature.id", expr)


def _clusters(page) -> list[tuple[str, str]]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('.wm-cluster-icon'))
        .map(e => [e.getAttribute('aria-label'), e.textContent.trim(), e.getAttribute('role')])""")


def test_overview_in_chinese(page, page_log, traffic, flask_app, screenshots):
    _open(page)
    assert page.title() == "青岛职工服务设施 · 全部设施地图"
    # pinch-zoom allowed: the viewport does not forbid scaling, and the map zooms by touch
    viewport = page.get_attribute('meta[name="viewport"]', "content")
    assert "user-scalable" not in viewport and "maximum-scale" not in viewport
    assert page.evaluate("() => WM.overview.map.touchZoom.enabled()")
    # the sample notice (the registry is sample data)
    assert page.locator("#sample-notice").is_visible()
    assert "示例数据" in page.locator("#sample-notice").inner_text()
    # the legend: folded on a phone, opened with a tap; each kind with its count
    page.click("#legend summary")
    items = page.locator("#legend li[data-kind]")
    assert items.count() == 5 and all(items.nth(i).is_visible() for i in range(5))
    assert items.first.inner_text().startswith("工会驿站")
    live = [f for f in flask_app.extensions["workermap"].registry.facilities if f.status != "removed"]
    counts = [int(re.search(r"\((\d+)\)", items.nth(i).inner_text())[1]) for i in range(5)]
    assert sum(counts) == len(live) == int(page.evaluate("() => document.body.dataset.facilities"))
    # clusters are buttons with a name: "12 个设施"
    clusters = _clusters(page)
    assert len(clusters) > 5
    assert all(label == f"{n} 个设施" and role == "button" for label, n, role in clusters), clusters[:5]
    page.screenshot(path=str(screenshots / "overview-zh.png"))
    # popups: hours in words, never the raw expression; the name is text
    assert "24小时营业" in (text := _popup_text(page, _first_with_hours(page, "24/7"))) and "24/7" not in text
    text = _popup_text(page, _first_with_hours(page, "Mo-Fr 08:30-17:30; Sa,Su 09:00-17:00"))
    assert "周一-周五 08:30-17:30；周六,周日 09:00-17:00" in text and "示例数据" in text
    assert _popup_text(page, XSS_ID).startswith(XSS_NAME)
    page.screenshot(path=str(screenshots / "overview-zh-popup.png"))
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
    # a facility whose hours are unknown
    unknown = page.evaluate("() => WM.overview.popup({name: 'n', kind: 'station', opening_hours: null, "
                            "hours_known: false}).textContent")
    assert "营业时间未知" in unknown and "24小时" not in unknown
    # the way back to the worker page
    page.click("header a.back")
    page.wait_for_url(re.compile(r"/$"))
    assert page.title().startswith("青岛职工驿站")
    assert page_log.errors == [] and page_log.dialogs == []


def test_overview_in_english(page, page_log, traffic, screenshots):
    _open(page)
    page.click("#lang")
    assert page.title() == "Qingdao worker facilities · all on one map"
    assert page.locator("header a.back").inner_text().strip().endswith("Find the nearest")
    page.click("#legend summary")
    assert page.locator("#legend li[data-kind]").first.inner_text().startswith("Worker station")
    assert "facilities" in page.locator("#total").inner_text()
    clusters = _clusters(page)
    assert clusters and all(label == f"{n} facilities" for label, n, _ in clusters), clusters[:5]
    text = _popup_text(page, _first_with_hours(page, "24/7"))
    assert "Open 24 hours" in text and "24/7" not in text and "Sample record" in text
    text = _popup_text(page, _first_with_hours(page, "Mo-Fr 08:30-17:30; Sa,Su 09:00-17:00"))
    assert "Mon-Fri 08:30-17:30; Sat,Sun 09:00-17:00" in text
    assert "Hours unknown" in page.evaluate("() => WM.overview.popup({name: 'n', opening_hours: null}).textContent")
    page.screenshot(path=str(screenshots / "overview-en.png"))
    # the language is remembered
    page.reload()
    page.wait_for_selector("body[data-state=ready]", state="attached")
    assert page.title() == "Qingdao worker facilities · all on one map"
    assert page.locator("#sample-notice").inner_text().startswith("Sample data")
    assert page_log.errors == []
