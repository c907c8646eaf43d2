"""Benchmark: the worker page's weight and time to interactive, against folium's inline markers, in one run.

    python bench/bench_pages.py [--runs 5]

Serves the app on 127.0.0.1 (shipped sample registry, a temporary data folder) and loads
pages in headless Debian Chromium (launch settings of shared/TESTING.md) as a phone
(390x844), each run in a fresh browser context (cold cache). Tile requests are answered
with a blank PNG: the figures are "without tiles".

* ours: ``/`` — folium map skeleton, facilities fetched as compact GeoJSON and clustered by kind.
  Interactive = the page's ``workermap-interactive`` mark (every facility in the clusters,
  list and filters live), from navigation start.
* baseline: the same facilities the folium way — one ``folium.Marker`` (name, address and
  hours in its tooltip) per facility inside ``folium.plugins.MarkerCluster``, all inline in
  the HTML (local Leaflet assets, no CDN). Interactive = the load event (folium's script has
  built every marker by then).

Sizes: every response but tiles, gzip-compressed at level 6 when the server did not
(Flask serves static files uncompressed; a production proxy would gzip them).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import logging
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
        "--disable-sync", "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
BLANK_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC")
TILE_HOSTS = ("tile.openstreetmap.org", "autonavi.com", "tianditu.gov.cn")
BASELINE_PATH = "/bench-baseline-folium-inline"
TARGET_LOAD_KB = 300
TARGET_DATA_KB = 100
TARGET_TTI_MS = 1500


def serve():
    from werkzeug.serving import make_server

    from web import create_app

    data_dir = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    app = create_app({"WORKERMAP_DATA_DIR": data_dir})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return app, server, f"http://127.0.0.1:{server.server_port}"


def baseline_html(app) -> str:
    """All facilities as inline folium markers (what folium does by default), local assets only."""
    import folium
    from folium.plugins import MarkerCluster

    from web.maps import base_map

    st = app.extensions["workermap"]
    m = base_map("/static/")
    cluster = MarkerCluster()
    cluster.default_js, cluster.default_css = [], []  # already linked locally by base_map
    cluster.add_to(m)
    for f in st.registry.facilities:
        if f.status == "removed":
            continue
        # folium's popups need jQuery (a CDN script): the same text goes in the tooltip instead.
        folium.Marker([f.lat, f.lon], tooltip=f"{f.name} · {f.address} · {f.opening_hours}").add_to(cluster)
    return m.get_root().render()


class Recorder:
    def __init__(self):
        self.rows: list[tuple[str, int, int]] = []  # url, raw bytes, gzip bytes

    def on_response(self, resp):
        url = resp.url
        host = urlsplit(url).hostname or ""
        if host.endswith(TILE_HOSTS) or url.startswith("data:"):
            return
        try:
            body = resp.body()
        except Exception:  # noqa: BLE001 - redirects and aborted responses have no body
            return
        # Playwright hands back the decoded body; compress it to know the bytes on the wire with gzip
        # (the API gzips itself at the same level; static files would be gzipped by a proxy).
        self.rows.append((url, len(body), len(gzip.compress(body, compresslevel=6)) if body else 0))

    @property
    def total_gz(self) -> int:
        return sum(r[2] for r in self.rows)

    @property
    def total_raw(self) -> int:
        return sum(r[1] for r in self.rows)


def run_once(browser, base: str, path: str, baseline: str | None):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True, locale="zh-CN", timezone_id="Asia/Shanghai", base_url=base)

    def route(r):
        url = r.request.url
        host = urlsplit(url).hostname or ""
        if host.endswith(TILE_HOSTS):
            r.fulfill(status=200, content_type="image/png", body=BLANK_PNG)
        elif host != "127.0.0.1":
            r.abort()
        elif baseline is not None and urlsplit(url).path == BASELINE_PATH:
            r.fulfill(status=200, content_type="text/html; charset=utf-8", body=baseline)
        else:
            r.continue_()

    ctx.route("**/*", route)
    page = ctx.new_page()
    rec = Recorder()
    page.on("response", rec.on_response)
    if baseline is None:
        page.goto(path)
        page.wait_for_function("() => performance.getEntriesByName('workermap-interactive').length > 0",
                               timeout=30_000)
        tti = page.evaluate("() => performance.getEntriesByName('workermap-interactive')[0].startTime")
        markers = page.evaluate("() => Object.values(WM.worker.groups).reduce((n, g) => n + g.getLayers().length, 0)")
    else:
        page.goto(path, wait_until="load")
        page.wait_for_function("() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
        tti = page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
        markers = page.evaluate("() => Object.keys(window).filter(k => k.startsWith('marker_cluster_'))"
                                ".reduce((n, k) => n + window[k].getLayers().length, 0)")
    page.wait_for_load_state("networkidle")
    ctx.close()
    return tti, markers, rec


def table(title, header, rows):
    print(f"\n{title}")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        cells = (str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        print("  ".join(cells))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="cold page loads per variant (default 5)")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found: apt-get install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app, server, base = serve()
    client = app.test_client()
    full = client.get("/api/v1/facilities", headers={"Accept-Encoding": "gzip"})
    compact = client.get("/worker/facilities.geojson", headers={"Accept-Encoding": "gzip"})
    base_html = baseline_html(app)
    n_fac = sum(1 for f in app.extensions["workermap"].registry.facilities if f.status != "removed")
    results = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for name, path, html in (("ours", "/", None), ("baseline", BASELINE_PATH, base_html)):
                run_once(browser, base, path, html)  # warm the server's caches and the OS file cache
                runs = [run_once(browser, base, path, html) for _ in range(args.runs)]
                results[name] = runs
            browser.close()
    finally:
        server.shutdown()

    def summary(name):
        runs = results[name]
        ttis = [r[0] for r in runs]
        return statistics.median(ttis), max(ttis), runs[-1][1], runs[-1][2]

    o_med, o_max, o_markers, o_rec = summary("ours")
    b_med, b_max, b_markers, b_rec = summary("baseline")
    kb = lambda b: f"{b / 1024:.1f} KB"  # noqa: E731
    print(f"{n_fac} facilities; {args.runs} cold loads each in headless Chromium (phone viewport), tiles excluded")
    table("Worker page: ours vs target vs baseline (folium, inline markers)",
          ["measure", "ours", "target", "baseline", "ours/baseline"],
          [["first load, gzip", kb(o_rec.total_gz), f"<= {TARGET_LOAD_KB} KB", kb(b_rec.total_gz),
            f"{o_rec.total_gz / b_rec.total_gz:.2f}"],
           ["first load, uncompressed", kb(o_rec.total_raw), "", kb(b_rec.total_raw),
            f"{o_rec.total_raw / b_rec.total_raw:.2f}"],
           ["facility data, gzip", kb(len(compact.data)), f"<= {TARGET_DATA_KB} KB", "(inline in the HTML)", ""],
           ["  full /api/v1/facilities, gzip", kb(len(full.data)), "", "", ""],
           ["interactive, median", f"{o_med:.0f} ms", f"<= {TARGET_TTI_MS} ms", f"{b_med:.0f} ms",
            f"{o_med / b_med:.2f}"],
           ["interactive, worst", f"{o_max:.0f} ms", "", f"{b_max:.0f} ms", ""],
           ["markers in clusters", str(o_markers), str(n_fac), str(b_markers), ""]])
    table("Worker page requests (last run, tiles excluded)", ["url", "bytes", "gzip"],
          [[urlsplit(u).path + ("?" + urlsplit(u).query if urlsplit(u).query else ""), str(raw), str(gz)]
           for u, raw, gz in o_rec.rows])
    ok = (o_rec.total_gz <= TARGET_LOAD_KB * 1024 and len(compact.data) <= TARGET_DATA_KB * 1024
          and o_med <= TARGET_TTI_MS and o_markers == n_fac)
    print("\nwithin targets" if ok else "\nOVER A TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
