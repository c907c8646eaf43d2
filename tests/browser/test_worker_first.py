"""The worker page on a weak phone puts the nearest list first (issue #11 item 8): the list is shown before the
map layer is even read, the markers are built after it, a card opened from a marker fills in what the light
map layer leaves out, and the list asked early for a fix under a minute old is used only for that very point.
Timings are measured by bench/bench_pages.py, not here."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.browser.conftest import HOME, wait_list

LIST_IDS = "() => Array.from(document.querySelectorAll('#list li.hit')).map(li => li.dataset.id)"
MOVED = {"lon": 120.3550, "lat": 36.0700}  # about 3 km west of HOME, still 市南区


def _state(flask_app):
    return flask_app.extensions["workermap"]


def _api_list(flask_app, pos: dict, at: str = "now") -> list[str]:
    """The ids the page's list must show at ``pos`` (open at minute ``at`` and enterable, then the others),
    from the API."""
    client = flask_app.test_client()
    q = {"lon": f"{pos['lon']:.7f}", "lat": f"{pos['lat']:.7f}", "k": 8}
    now = client.get("/api/v1/nearest", query_string={**q, "worker": "outdoor_worker", "open_at": at,
                                                       "include_closed": "false"}).get_json()["hits"]
    ids = [h["id"] for h in now]
    every = client.get("/api/v1/nearest", query_string={**q, "open_at": "any", "include_closed": "true"}).get_json()
    return ids + [h["id"] for h in every["hits"] if h["id"] not in ids]


def _page_list(page) -> tuple[list[str], str]:
    """The ids the page lists, and the minute its list was evaluated at."""
    return page.evaluate(LIST_IDS), page.evaluate("() => WM.worker.evaluatedAt")


def _nearest_asked(page) -> list[str]:
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if urlsplit(r.url).path == "/api/v1/nearest" else None)
    return asked


def _asked_again(asked: list[str]) -> bool:
    """Whether the page asked some nearest URL twice (the early answer not used) — unless the minute turned
    between the opening hours and the list, when the page rightly asks again at the hours' minute."""
    minute_turned = any(parse_qs(urlsplit(u).query).get("open_at", [""])[0][:2] == "20" for u in asked)
    return not minute_turned and len(asked) != len(set(asked))


def test_the_list_is_shown_before_the_map_layer_is_read_and_the_markers_come_after(
        page, page_log, traffic, flask_app, screenshots):
    held = []
    page.route("**/worker/facilities.geojson", lambda route: held.append(route))  # held until released
    asked = _nearest_asked(page)
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": HOME["lat"], "longitude": HOME["lon"]})
    page.goto("/")
    wait_list(page)
    page.locator("#list li.hit").first.wait_for(state="visible")
    ids, at = _page_list(page)
    assert ids == _api_list(flask_app, HOME, at)
    assert held, "the page did not ask for its map layer while the list was shown"
    assert page.evaluate("() => [document.body.dataset.state, WM.worker.markers.length]") == ["loading", 0]
    assert page.locator(".wm-hit").count() == len(page.evaluate(LIST_IDS))  # the hits are on the map already
    page.screenshot(path=str(screenshots / "worker-list-before-markers.png"))
    held[0].continue_()
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=15_000)
    live = sum(1 for f in _state(flask_app).registry.facilities if f.status != "removed")
    assert page.evaluate("() => WM.worker.markers.length") == live
    assert page.evaluate("() => Object.values(WM.worker.groups).reduce((n, g) => n + g.getLayers().length, 0)") == live
    assert page.evaluate(LIST_IDS) == ids
    assert not _asked_again(asked), asked
    assert page_log.errors == []


def test_a_card_from_a_marker_shows_what_the_light_map_layer_leaves_out(open_worker, page, page_log, flask_app):
    open_worker("/", position=HOME)
    hits = set(page.evaluate("() => WM.worker.hits.map(h => h.id)"))
    fac = next(f for f in _state(flask_app).index.facilities
               if f.id not in hits and f.address and f.phone and f.verified_at and f.capacity and f.township)
    layer = page.evaluate("id => WM.worker.byId[id].properties", fac.id)
    assert not {"address", "phone", "verified_at", "capacity", "township"} & set(layer)
    page.evaluate("id => WM.worker.markers.find(m => m.feature.id === id).fire('click')", fac.id)
    page.wait_for_selector("#card[data-enriched=true]", state="attached")
    text = page.locator("#card").inner_text()
    for value in (fac.address, fac.phone, fac.verified_at, fac.township, f"{fac.capacity} 人"):
        assert value in text, value
    assert "…" not in text
    assert page_log.errors == []


def test_a_fix_under_a_minute_old_is_asked_early_and_used_only_for_that_point(page, page_log, traffic, flask_app):
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": HOME["lat"], "longitude": HOME["lon"]})
    page.goto("/")
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=15_000)
    wait_list(page)
    fix = page.evaluate("() => JSON.parse(localStorage.getItem('workermap.fix'))")
    assert (fix["lon"], fix["lat"]) == (HOME["lon"], HOME["lat"])
    # the same point again: its list was asked before the map scripts ran, and not asked a second time
    asked = _nearest_asked(page)
    page.reload()
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=15_000)
    wait_list(page)
    ids, at = _page_list(page)
    assert ids == _api_list(flask_app, HOME, at)
    assert asked and not _asked_again(asked), asked
    # the phone moved: the early answer (for the old fix) is not used, the list is the new point's
    page.context.set_geolocation({"latitude": MOVED["lat"], "longitude": MOVED["lon"]})
    asked.clear()
    page.reload()
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=15_000)
    wait_list(page)
    assert page.evaluate("() => document.body.dataset.position") == f"{MOVED['lon']:.6f},{MOVED['lat']:.6f}"
    ids, at = _page_list(page)
    assert ids == _api_list(flask_app, MOVED, at) != _api_list(flask_app, HOME, at)
    old = [u for u in asked if parse_qs(urlsplit(u).query)["lon"] == [f"{HOME['lon']:.7f}"]]
    assert old, "the list for the last fix was not asked early"
    assert page_log.errors == []
