"""Benchmark: the worker page on a weak phone (bytes, time to the nearest list, repeat visit) against folium's markers.

    python bench/bench_pages.py [--runs 5]

Serves the app on 127.0.0.1 from a process of its own (shipped sample registry, a temporary data folder;
in this process the server's threads would wait for the GIL while Playwright handles the browser's events)
and loads pages in headless Debian Chromium as a phone: viewport 390x844, zh-CN, Asia/Shanghai, geolocation granted at
五四广场 (市南区), and through the Chrome DevTools Protocol

* slow-4G network emulation (``Network.emulateNetworkConditions``: 1.6 Mbit/s down, 750 kbit/s up,
  150 ms latency on every request),
* a 4x CPU slowdown (``Emulation.setCPUThrottlingRate``).

Map tiles are answered with a blank PNG by the DevTools ``Fetch`` domain (tile hosts only; Playwright's
``route`` would switch the HTTP cache off, and a repeat visit is measured); every other non-local host
is unresolvable. Tiles are left out of every figure: the figures are "without tiles".

* ours: ``/``. Each run is a new browser context (cold cache). **List visible** = from navigation
  start until the first entry of the nearest list is on screen (the page locates the phone on its own
  when geolocation is already allowed). **Repeat visit** = a second tab in the same context (warm
  cache) to the same list. The page's marks say when its map layer arrived (``workermap-data``) and
  when every marker is on the map (``workermap-interactive``); each visit waits for that too.
* baseline: the same facilities the folium way — one ``folium.Marker`` (name, address and hours in
  its tooltip) per facility inside ``folium.plugins.MarkerCluster``, inline in the HTML (local
  Leaflet assets), served by the same server (so compressed the same way). It has no list:
  its figure is the load event (folium's script has built every marker by then).

**Bytes** are what went over the wire (DevTools ``encodedDataLength``: compressed bodies and headers),
tiles excluded.
"""

from __future__ import annotations

import argparse
import base64
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
        "--disable-sync", "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
BLANK_PNG = base64.b64encode(base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC")).decode()
TILE_HOSTS = ("tile.openstreetmap.org", "autonavi.com", "tianditu.gov.cn")
TILE_PATTERNS = [{"urlPattern": f"*{h}*", "requestStage": "Request"} for h in TILE_HOSTS]
BASELINE_PATH = "/bench-baseline-folium-inline"
WAIT_PATH = "/bench-wait-for-encodings"
#: Slow 4G as issue #11 states it: 1.6 Mbit/s down, 750 kbit/s up, 150 ms round trip.
NETWORK = {"offline": False, "latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8}
CPU_SLOWDOWN = 4
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN", "timezone_id": "Asia/Shanghai", "permissions": ["geolocation"],
         "geolocation": {"latitude": 36.0620, "longitude": 120.3843}}  # 五四广场, 市南区
TARGET_LOAD_KB = 150
TARGET_LIST_MS = 2500
TARGET_REPEAT_MS = 1000
TODAY = {"first load": "406 KB", "list visible": "5.2-5.9 s"}  # issue #11, before this work
#: Set by the page's first nearest entry on screen: ms from navigation start. The observer stops once it has
#: seen it (watching every marker the page adds afterwards would slow the page down).
LIST_WATCH = """
(() => {
  const watch = new MutationObserver(() => {
    const li = document.querySelector("#panel li.hit");
    if (li && li.getClientRects().length && !window.__listVisibleAt) {
      window.__listVisibleAt = performance.now();
      watch.disconnect();
    }
  });
  watch.observe(document, { childList: true, subtree: true, attributes: true });
})();
"""


def serve():
    """The app in a process of its own; returns (the process, its base URL, the number of live facilities)."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=_server, args=(theirs,), daemon=True)
    proc.start()
    port, n_fac = ours.recv()
    return proc, f"http://127.0.0.1:{port}", n_fac


def _server(conn) -> None:
    """The server process: the app on a free port (threads), with the baseline page added as one more route,
    and ``WAIT_PATH``, which answers once every best-level encoding in the making is done."""
    from flask import Response
    from werkzeug.serving import make_server

    from web import create_app

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    app = create_app({"WORKERMAP_DATA_DIR": data_dir})
    html = baseline_html(app)

    def baseline():
        resp = Response(html, mimetype="text/html")
        # folium's inline scripts have no nonce: the baseline gets a policy that lets them run
        resp.headers["Content-Security-Policy"] = "default-src 'self' 'unsafe-inline' data: blob:"
        resp.headers["Cache-Control"] = "no-cache"
        return resp

    def encoded():
        app.wsgi_app.compression.cache.wait()
        return Response(status=204)

    app.add_url_rule(BASELINE_PATH, "bench_baseline", baseline)
    app.add_url_rule(WAIT_PATH, "bench_encoded", encoded)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    n_fac = sum(1 for f in app.extensions["workermap"].registry.facilities if f.status != "removed")
    conn.send((server.server_port, n_fac))
    server.serve_forever()


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


class Wire:
    """What one tab fetched, from DevTools: url -> (encoded bytes incl. headers, coding, from cache)."""

    def __init__(self, ctx, page):
        self.rows: dict[str, dict] = {}
        self.cdp = cdp = ctx.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", NETWORK)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        cdp.send("Fetch.enable", {"patterns": TILE_PATTERNS})
        cdp.on("Fetch.requestPaused", self._tile)
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.responseReceived", self._received)
        cdp.on("Network.requestServedFromCache", self._cached)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.loadingFailed", self._failed)
        self.last_event = time.monotonic()

    def _tile(self, ev):
        self.cdp.send("Fetch.fulfillRequest", {"requestId": ev["requestId"], "responseCode": 200,
                                               "responseHeaders": [{"name": "Content-Type", "value": "image/png"}],
                                               "body": BLANK_PNG})

    def _sent(self, ev):
        url = ev["request"]["url"]
        if url.startswith("data:") or (urlsplit(url).hostname or "").endswith(TILE_HOSTS):
            return
        self.rows[ev["requestId"]] = {"url": url, "bytes": 0, "coding": "", "cache": False, "status": 0, "done": False,
                                      "start": ev["timestamp"], "end": ev["timestamp"]}
        self.last_event = time.monotonic()

    def _received(self, ev):
        row = self.rows.get(ev["requestId"])
        if row is not None:
            resp = ev["response"]
            headers = {k.lower(): v for k, v in resp.get("headers", {}).items()}
            row.update(status=resp["status"], coding=headers.get("content-encoding", ""),
                       cache=row["cache"] or resp.get("fromDiskCache", False) or resp.get("fromPrefetchCache", False))

    def _cached(self, ev):
        if ev["requestId"] in self.rows:
            self.rows[ev["requestId"]]["cache"] = True

    def _finished(self, ev):
        row = self.rows.get(ev["requestId"])
        if row is not None:
            row["bytes"] = 0 if row["cache"] else int(ev["encodedDataLength"])
            row["done"] = True
            row["end"] = ev["timestamp"]
            self.last_event = time.monotonic()

    def _failed(self, ev):
        row = self.rows.get(ev["requestId"])
        if row is not None:
            row["done"] = True
            row["status"] = row["status"] or "failed"
            self.last_event = time.monotonic()

    def settle(self, page, quiet_s: float = 1.0, timeout_s: float = 60.0) -> None:
        """Until every request of the tab has finished and nothing new started for ``quiet_s``."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            page.wait_for_timeout(100)
            if all(r["done"] for r in self.rows.values()) and time.monotonic() - self.last_event > quiet_s:
                return
        pending = [r["url"] for r in self.rows.values() if not r["done"]]
        print(f"warning: still loading after {timeout_s:.0f} s: {pending}", file=sys.stderr)

    @property
    def total(self) -> int:
        return sum(r["bytes"] for r in self.rows.values())


#: The worker page's own marks (ms from navigation start): its data arrived, its markers are built.
MARKS = ("workermap-data", "workermap-interactive")


def visit(ctx, path: str, *, baseline: bool) -> tuple[float, int, Wire, int, dict]:
    """(ms to the list or the load event, markers, wire record, transferred bytes, page marks) for one tab."""
    page = ctx.new_page()
    wire = Wire(ctx, page)
    page.goto(path, wait_until="commit")
    if baseline:
        page.wait_for_function("() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0",
                               timeout=120_000)
        ms = page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
        markers = page.evaluate("() => Object.keys(window).filter(k => k.startsWith('marker_cluster_'))"
                                ".reduce((n, k) => n + window[k].getLayers().length, 0)")
    else:
        page.wait_for_function("() => window.__listVisibleAt > 0", timeout=120_000)
        ms = page.evaluate("() => window.__listVisibleAt")
        # the list comes first; the markers are built after it
        page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=120_000)
        markers = page.evaluate("() => Number(document.body.dataset.facilities || 0)")
    marks = page.evaluate("names => Object.fromEntries(names.map(n => [n, (performance.getEntriesByName(n)[0] || {})"
                          ".startTime || null]))", list(MARKS))
    wire.settle(page)
    return ms, markers, wire, wire.total, marks


def run_once(browser, base: str, path: str, baseline: bool):
    ctx = browser.new_context(base_url=base, **PHONE)
    ctx.add_init_script(LIST_WATCH)
    try:
        cold = visit(ctx, path, baseline=baseline)
        repeat = visit(ctx, path, baseline=baseline)
    finally:
        ctx.close()
    return cold, repeat


def table(title, header, rows):
    print(f"\n{title}")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        cells = (str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        print("  ".join(cells))


def requests_table(title: str, wire: Wire):
    rows = []
    t0 = min((r["start"] for r in wire.rows.values()), default=0.0)
    for r in sorted(wire.rows.values(), key=lambda r: r["start"]):
        u = urlsplit(r["url"])
        rows.append([u.path + ("?" + u.query if u.query else ""), r["status"], r["coding"] or "-",
                     "cache" if r["cache"] else "", r["bytes"], f"{(r['start'] - t0) * 1000:.0f}",
                     f"{(r['end'] - r['start']) * 1000:.0f}"])
    table(title, ["url (in order asked)", "status", "coding", "", "bytes", "asked at ms", "took ms"], rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="cold page loads per variant (default 5)")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found: apt-get install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    proc, base, n_fac = serve()
    results = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for name, path, baseline in (("ours", "/", False), ("baseline", BASELINE_PATH, True)):
                for _ in range(2):  # warm the server: its caches, and the best encodings (second request on)
                    run_once(browser, base, path, baseline)
                urlopen(base + WAIT_PATH, timeout=600).close()
                results[name] = [run_once(browser, base, path, baseline) for _ in range(args.runs)]
            browser.close()
    finally:
        proc.terminate()
        proc.join()

    def figures(name):
        runs = results[name]
        cold_ms = [c[0] for c, _ in runs]
        cold_kb = [c[3] / 1024 for c, _ in runs]
        rep_ms = [r[0] for _, r in runs]
        rep_kb = [r[3] / 1024 for _, r in runs]
        return cold_ms, cold_kb, rep_ms, rep_kb, runs[-1][0][1]

    o_ms, o_kb, o_rep, o_rkb, o_markers = figures("ours")
    b_ms, b_kb, b_rep, b_rkb, b_markers = figures("baseline")
    med = statistics.median
    load = os.getloadavg()
    print(f"{n_fac} facilities; {args.runs} cold loads each (new context), then a repeat visit (second tab); "
          f"headless Chromium as a phone, slow 4G ({NETWORK['downloadThroughput'] * 8 / 1e6:.1f} Mbit/s down, "
          f"{NETWORK['uploadThroughput'] * 8 / 1e3:.0f} kbit/s up, {NETWORK['latency']} ms), CPU {CPU_SLOWDOWN}x "
          f"slower; tiles excluded. Machine load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} CPUs.")
    span = lambda xs, unit="ms": f"{med(xs):.0f} ({min(xs):.0f}-{max(xs):.0f}) {unit}" if xs else "-"  # noqa: E731
    kb = lambda xs: f"{med(xs):.1f} KB"  # noqa: E731
    table("Worker page: ours vs target vs baseline (folium, inline markers); median (min-max)",
          ["measure", "ours", "target", "today (issue #11)", "baseline"],
          [["first load, transferred", kb(o_kb), f"<= {TARGET_LOAD_KB} KB", TODAY["first load"], kb(b_kb)],
           ["list visible (baseline: load event)", span(o_ms), f"<= {TARGET_LIST_MS} ms", TODAY["list visible"],
            span(b_ms)],
           ["repeat visit, list visible", span(o_rep), f"<= {TARGET_REPEAT_MS} ms", "", span(b_rep)],
           ["repeat visit, transferred", kb(o_rkb), "", "", kb(b_rkb)],
           ["markers", str(o_markers), str(n_fac), "", str(b_markers)]])
    phases = [[f"mark {m}", span([c[4][m] for c, _ in results["ours"] if c[4].get(m)]),
               span([r[4][m] for _, r in results["ours"] if r[4].get(m)])] for m in MARKS]
    table("Worker page, where the time goes (ms from navigation start)", ["", "first load", "repeat visit"],
          [*phases, ["nearest list visible", span(o_ms), span(o_rep)]])
    requests_table("Worker page, first load (last run), tiles excluded", results["ours"][-1][0][2])
    requests_table("Worker page, repeat visit (last run)", results["ours"][-1][1][2])
    requests_table("Baseline, first load (last run)", results["baseline"][-1][0][2])
    ok = (med(o_kb) <= TARGET_LOAD_KB and med(o_ms) <= TARGET_LIST_MS and med(o_rep) <= TARGET_REPEAT_MS
          and o_markers == n_fac)
    print("\nwithin targets" if ok else "\nOVER A TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
