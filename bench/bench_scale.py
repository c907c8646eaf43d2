"""Benchmark: the national registry (186,100 stations) on PostGIS — nearest from the resident index every worker
shares (geo/store/resident.py), OGC items and tiles queried there (geo/store/knn.py) — against the Qingdao deployment
as it is, in one run.

    python bench/bench_scale.py [--seconds 8] [--all-kinds] [--no-embedded] [--no-browser] [--no-knn]

Servers (each `workermap serve --prod`, gunicorn 2 gevent workers, on a free 127.0.0.1 port):

* **national / PostGIS**: ``WORKERMAP_REGION=100000`` on a throwaway PostgreSQL + PostGIS (tests/pgserver.py) holding
  the 186,100 stations of the national synthetic sample (``geo.sample.national_sample``; ``--all-kinds``: every kind,
  397,837 records): the region makes ``query_mode=auto`` answer OGC items and tiles from the database, nearest
  from the resident index read from it once in the gunicorn master;
* **national / PostGIS KNN** (``--no-knn`` to skip): the same database, nearest answered by a KNN query per
  request (``WORKERMAP_NEAREST_ENGINE=knn``) instead of the resident index every worker shares (geo/store/resident.py);
* **Qingdao** (the baseline): the default configuration, the shipped 1,676-record sample in the GeoPackage, the whole
  registry in each worker;
* **national / GeoPackage** (the embedded store on the same registry, the second baseline, ``--no-embedded`` to
  skip): every worker holds all 186,100 records (``WORKERMAP_QUERY_MODE=memory``).

Measured with Debian's `wrk` on loopback (configurations in interleaved rounds, the median round shown):
GET /api/v1/nearest (k=5, open now, and bench_nearest.py's filtered query) at points near random facilities of the
server's registry, 1 and 32 connections; map tiles ``/tiles/facilities/{z}/{x}/{y}.mvt`` of random facilities at
zoom 12-14 (points) and 5-11 (clusters); the worker page's first load in Chromium (bytes on the wire until the list
and the markers are shown; Playwright); each gunicorn worker's resident memory (VmRSS) after the load. Then one
table against the issue's targets.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_nearest import free_port, parse_wrk, table  # noqa: E402
from tests.pgserver import PostgresServer, available  # noqa: E402

TARGETS = {"p50_1conn_ms": 3.0, "rps_ratio": 0.8, "tile_p50_ms": 20.0, "page_kb": 300.0, "rss_mb": 300.0}
PLAIN = "k=5"
FILTERED = "k=5&kind=station&amenity=microwave&worker=outdoor_worker&open_at=2026-11-24T23:40"
CHROMIUM = "/usr/bin/chromium"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- registries ------------------------------------------------------------------------------------------------
def national(all_kinds: bool, count: int | None = None):
    from geo.regions import activate, load_region
    from geo.sample import national_sample

    region = activate(load_region("100000"))
    facilities = national_sample(region, count=count)
    if not all_kinds:
        facilities = [f for f in facilities if f.kind == "station"]
    return region, facilities


def fill(data_dir: Path, database_url: str, region, facilities) -> float:
    """Write ``facilities`` as the registry of a fresh store (one validated write); seconds taken."""
    from geo.registry import Registry
    from geo.settings import Settings
    from geo.store import open_store

    t = time.perf_counter()
    store = open_store(Settings.from_env({}, data_dir=data_dir, database_url=database_url), region.districts())
    store.initialise()
    store.update(lambda _: Registry(tuple(facilities), {"sample": True, "synthetic": True}), actor="bench",
                 action="import_replace")
    store.close()
    return time.perf_counter() - t


# -- servers ---------------------------------------------------------------------------------------------------
class Server:
    def __init__(self, label: str, data_dir: Path, work: Path, env: dict[str, str]):
        self.label, self.data_dir, self.port = label, data_dir, free_port()
        self.log = work / f"server-{len(list(work.glob('server-*')))}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WORKERMAP_")}
        self.env.update(env)
        self.proc: subprocess.Popen | None = None
        self.start_s = 0.0

    def start(self, timeout: float = 900) -> Server:
        import urllib.request

        t = time.perf_counter()
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "web", "--data-dir", str(self.data_dir), "serve",
                                          "--prod", "--port", str(self.port), "--no-access-log"], cwd=ROOT,
                                         env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=out, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited: {self.log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(self.url + "/healthz", timeout=5) as r:
                if r.status == 200:
                    self.health = json.loads(r.read())
                    self.start_s = time.perf_counter() - t
                    return self
            time.sleep(0.5)
        raise RuntimeError(f"{self.label} not ready after {timeout:.0f} s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        out = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    out.append(int(stat.parent.name))
        return out

    def rss_mb(self) -> list[float]:
        """VmRSS of each gunicorn worker (MB)."""
        out = []
        for pid in self.workers():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out.append(int(line.split()[1]) / 1024)
        return out

    def pss_mb(self) -> list[float]:
        """Each gunicorn worker's proportional share of its resident memory (Pss: shared pages divided among the
        processes that map them), MB."""
        out = []
        for pid in self.workers():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        out.append(int(line.split()[1]) / 1024)
        return out

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


# -- wrk scripts -----------------------------------------------------------------------------------------------
def points_near(facilities, n: int, seed: int, jitter_deg: float = 0.01) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    picks = [facilities[rng.randrange(len(facilities))] for _ in range(n)]
    return [(round(f.lon + rng.uniform(-jitter_deg, jitter_deg), 5),
             round(f.lat + rng.uniform(-jitter_deg, jitter_deg), 5)) for f in picks]


def nearest_lua(work: Path, name: str, points, query: str) -> Path:
    rows = ",".join(f"{{{lon},{lat}}}" for lon, lat in points)
    path = work / f"{name}.lua"
    path.write_text(f"""
local pts = {{{rows}}}
local i = 0
request = function()
  i = i % #pts + 1
  return wrk.format("GET", string.format("/api/v1/nearest?lon=%.5f&lat=%.5f&{query}", pts[i][1], pts[i][2]))
end
""")
    return path


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * n)
    return x, y


def tiles_lua(work: Path, name: str, points, zooms: range, seed: int) -> Path:
    rng = random.Random(seed)
    urls = []
    for lon, lat in points:
        z = rng.choice(list(zooms))
        x, y = tile_of(lon, lat, z)
        urls.append(f'"/tiles/facilities/{z}/{x}/{y}.mvt"')
    path = work / f"{name}.lua"
    path.write_text(f"""
local urls = {{{",".join(urls)}}}
local i = 0
request = function()
  i = i % #urls + 1
  return wrk.format("GET", urls[i])
end
""")
    return path


def wrk(url: str, script: Path, conns: int, seconds: int) -> dict:
    out = subprocess.run(["wrk", f"-t{1 if conns == 1 else 2}", f"-c{conns}", f"-d{seconds}s", "--latency", "-s",
                          str(script), url], capture_output=True, text=True, timeout=seconds + 120, check=True).stdout
    return parse_wrk(out)


def median(runs: list[dict]) -> dict:
    mid = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
    return {**mid, "errors": sum(r["errors"] for r in runs)}


# -- the worker page in a browser ------------------------------------------------------------------------------
def page_bytes(base: str, at: tuple[float, float]) -> dict:
    """Bytes on the wire (headers + encoded bodies) of the worker page's first load at ``at``, until the list and
    the markers are shown and the network is quiet; the requests' paths by size."""
    from playwright.sync_api import sync_playwright

    seen: list[tuple[str, int]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu",
                                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="zh-CN", timezone_id="Asia/Shanghai", geolocation={"latitude": at[1],
                                  "longitude": at[0]}, permissions=["geolocation"])
        ctx.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url else route.abort())
        page = ctx.new_page()

        def done(request):
            if "127.0.0.1" in request.url:
                s = request.sizes()
                seen.append((request.url.split("127.0.0.1", 1)[1].split("/", 1)[1][:60],
                             s["responseBodySize"] + s["responseHeadersSize"]))

        page.on("requestfinished", done)
        t = time.perf_counter()
        page.goto(base + "/")
        page.wait_for_selector("body[data-state=ready]", state="attached", timeout=120_000)
        page.wait_for_function("() => document.querySelectorAll('#list li.hit').length > 0", timeout=60_000)
        page.wait_for_function("() => document.querySelectorAll('.leaflet-marker-pane .wm-marker, "
                               ".leaflet-marker-pane .wm-cluster-icon').length > 0", timeout=60_000)
        ready_s = time.perf_counter() - t
        quiet, last = time.monotonic(), len(seen)
        while time.monotonic() - quiet < 1.5:
            page.wait_for_timeout(250)
            if len(seen) != last:
                quiet, last = time.monotonic(), len(seen)
        markers = page.evaluate("() => WM.worker.features.length")
        browser.close()
    return {"bytes": sum(n for _, n in seen), "requests": len(seen), "ready_s": ready_s, "markers": markers,
            "largest": sorted(seen, key=lambda s: -s[1])[:5]}


# -- main ------------------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=8, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds per configuration")
    ap.add_argument("--all-kinds", action="store_true", help="every kind of the national sample, not its stations")
    ap.add_argument("--no-embedded", action="store_true", help="skip the national registry on the GeoPackage")
    ap.add_argument("--no-browser", action="store_true", help="skip the worker page's first load")
    ap.add_argument("--no-knn", action="store_true", help="skip the PostGIS server answering nearest by KNN")
    ap.add_argument("--count", type=int, default=None, help="stations (default all 186,100; smaller: a trial run)")
    args = ap.parse_args(argv)
    if not shutil.which("wrk"):
        print("needs Debian's wrk")
        return 2
    reason = available()
    if reason:
        print(f"needs PostgreSQL + PostGIS: {reason}")
        return 2

    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    servers: list[Server] = []
    try:
        with PostgresServer() as pg:
            log("generating the national synthetic registry")
            region, facilities = national(args.all_kinds, args.count)
            log(f"{len(facilities)} facilities")
            url = pg.create_database()
            setup = {"PostGIS fill (one validated write)": fill(work / "pg", url, region, facilities)}
            log(f"PostGIS filled in {setup['PostGIS fill (one validated write)']:.0f} s")
            if not args.no_embedded:
                setup["GeoPackage fill"] = fill(work / "gpkg", "", region, facilities)
                log(f"GeoPackage filled in {setup['GeoPackage fill']:.0f} s")
            (work / "qd").mkdir()

            pg_server = Server("national / PostGIS", work / "pg", work,
                               {"WORKERMAP_REGION": "100000", "WORKERMAP_DATABASE_URL": url}).start()
            servers.append(pg_server)
            if not args.no_knn:  # the same, nearest answered by a PostGIS KNN query per request
                servers.append(Server("national / PostGIS KNN", work / "pg", work,
                                      {"WORKERMAP_REGION": "100000", "WORKERMAP_DATABASE_URL": url,
                                       "WORKERMAP_NEAREST_ENGINE": "knn"}).start())
            qd_server = Server("Qingdao (baseline)", work / "qd", work, {}).start()
            servers.append(qd_server)
            log(f"servers up: PostGIS {pg_server.start_s:.0f} s, Qingdao {qd_server.start_s:.0f} s")
            embedded = None
            if not args.no_embedded:
                try:
                    embedded = Server("national / GeoPackage", work / "gpkg", work,
                                      {"WORKERMAP_REGION": "100000", "WORKERMAP_QUERY_MODE": "memory"}).start()
                    servers.append(embedded)
                    log(f"embedded up in {embedded.start_s:.0f} s")
                except RuntimeError as exc:
                    log(f"the embedded store did not start: {str(exc)[-300:]}")

            from geo.registry import read_registry_file
            from geo.settings import SHIPPED_DATA

            national_pts = points_near(facilities, 2000, 1)
            from geo.geography import load_districts

            qd = read_registry_file(SHIPPED_DATA / "sample_facilities.geojson", load_districts()).facilities
            qd_pts = points_near(qd, 2000, 1, jitter_deg=0.02)
            scripts = {}
            for q_name, q in (("open now", PLAIN), ("filtered", FILTERED)):
                scripts[("national", q_name)] = nearest_lua(work, f"national-{q_name[:4]}", national_pts, q)
                scripts[("qingdao", q_name)] = nearest_lua(work, f"qingdao-{q_name[:4]}", qd_pts, q)
            points_tiles = tiles_lua(work, "tiles-points", national_pts, range(12, 15), 2)
            cluster_tiles = tiles_lua(work, "tiles-clusters", national_pts, range(5, 12), 3)
            plan = [(s, "national" if s is not qd_server else "qingdao") for s in servers]
            for s, which in plan:  # warm-up: caches, prepared statements
                wrk(s.url, scripts[(which, "open now")], 4, 3)
                wrk(s.url, scripts[(which, "filtered")], 4, 2)
                if which == "national":
                    wrk(s.url, points_tiles, 4, 2)
                    wrk(s.url, cluster_tiles, 4, 2)

            results: dict[tuple, list[dict]] = {}
            log("nearest: 1 and 32 connections")
            for _ in range(args.rounds):
                for conns in (1, 32):
                    for q_name in ("open now", "filtered"):
                        for s, which in plan:
                            results.setdefault((s.label, q_name, conns), []).append(
                                wrk(s.url, scripts[(which, q_name)], conns, args.seconds))
            log("tiles")
            for _ in range(args.rounds):
                for s, which in plan:
                    if which == "national":
                        for t_name, script in (("points z12-14", points_tiles), ("clusters z5-11", cluster_tiles)):
                            for conns in (1, 32):
                                results.setdefault((s.label, t_name, conns), []).append(
                                    wrk(s.url, script, conns, args.seconds))
            rss = {s.label: s.rss_mb() for s in servers}  # after the nearest and tile load
            pss = {s.label: s.pss_mb() for s in servers}
            rss_page: dict[str, list[float]] = {}
            pages = {}
            if not args.no_browser:
                log("worker page first load")
                for s, which in plan:
                    at = national_pts[7] if which == "national" else (120.3843, 36.062)
                    try:
                        pages[s.label] = page_bytes(s.url, at)
                    except Exception as exc:  # noqa: BLE001 - report, go on with the other figures
                        pages[s.label] = {"error": str(exc)[:200]}
                rss_page = {s.label: s.rss_mb() for s in servers}  # after the pages too

            med = {k: median(v) for k, v in results.items()}
            n = len(facilities)
            table(f"Setup ({n:,} facilities)", ["step", "seconds"],
                  [[k, f"{v:.1f}"] for k, v in setup.items()]
                  + [[f"start: {s.label}", f"{s.start_s:.1f}"] for s in servers])
            rows = []
            for q_name in ("open now", "filtered"):
                for conns in (1, 32):
                    base = med[(qd_server.label, q_name, conns)]
                    for s in servers:
                        r = med[(s.label, q_name, conns)]
                        rows.append([q_name, conns, s.label, f"{r['rps']:.0f}", f"{r['p50']:.2f}", f"{r['p99']:.2f}",
                                     f"{r['rps'] / base['rps']:.2f}", r["errors"]])
            table(f"GET /api/v1/nearest, wrk {args.seconds} s × {args.rounds} rounds (median round)",
                  ["query", "conns", "server", "req/s", "p50 ms", "p99 ms", "× Qingdao", "errors"], rows)
            rows = []
            for t_name in ("points z12-14", "clusters z5-11"):
                for conns in (1, 32):
                    for s, which in plan:
                        if which == "national":
                            r = med[(s.label, t_name, conns)]
                            rows.append([t_name, conns, s.label, f"{r['rps']:.0f}", f"{r['p50']:.2f}",
                                         f"{r['p99']:.2f}", r["errors"]])
            table("GET /tiles/facilities/{z}/{x}/{y}.mvt (tiles of random facilities)",
                  ["tiles", "conns", "server", "req/s", "p50 ms", "p99 ms", "errors"], rows)
            if pages:
                table("Worker page first load (Chromium, phone viewport, list and markers shown)",
                      ["server", "KB on the wire", "requests", "ready s", "markers in view", "largest"],
                      [[k, f"{v['bytes'] / 1024:.1f}", v["requests"], f"{v['ready_s']:.2f}", v["markers"],
                        ", ".join(f"{p} {b / 1024:.0f}K" for p, b in v["largest"][:3])] if "bytes" in v
                       else [k, v["error"], "", "", "", ""] for k, v in pages.items()])
            table("Resident memory per gunicorn worker (VmRSS, MB; Pss: shared pages divided among the processes)",
                  ["server", "after nearest + tiles", "Pss then", "after the worker page too"],
                  [[k, ", ".join(f"{m:.0f}" for m in v), ", ".join(f"{m:.0f}" for m in pss.get(k, [])),
                    ", ".join(f"{m:.0f}" for m in rss_page.get(k, []))] for k, v in rss.items()])

            pgl, qdl = pg_server.label, qd_server.label
            one = med[(pgl, "open now", 1)]["p50"]
            ratio = min(med[(pgl, q, 32)]["rps"] / med[(qdl, q, 32)]["rps"] for q in ("open now", "filtered"))
            tile_p50 = max(med[(pgl, t, 1)]["p50"] for t in ("points z12-14", "clusters z5-11"))
            page_kb = pages.get(pgl, {}).get("bytes", float("nan")) / 1024
            worst_rss = max(rss_page.get(pgl) or rss[pgl] or [float("nan")])
            checks = [
                ["HTTP nearest p50, 1 connection (open now)", f"{one:.2f} ms", "≤ 3 ms",
                 one <= TARGETS["p50_1conn_ms"]],
                ["req/s at 32 connections ÷ Qingdao's (worse query)", f"{ratio:.2f}", "≥ 0.8",
                 ratio >= TARGETS["rps_ratio"]],
                ["map tile p50, 1 connection (worse kind)", f"{tile_p50:.2f} ms", "≤ 20 ms",
                 tile_p50 <= TARGETS["tile_p50_ms"]],
                ["worker page first load", f"{page_kb:.1f} KB", "≤ 300 KB", page_kb <= TARGETS["page_kb"]],
                ["resident memory per app worker", f"{worst_rss:.0f} MB", "≤ 300 MB",
                 worst_rss <= TARGETS["rss_mb"]],
            ]
            table(f"Targets (issue #16), national registry of {n:,} on PostGIS",
                  ["what", "measured", "target", "met"], [[*c[:3], "yes" if c[3] else "NO"] for c in checks])
            for s in servers:
                s.stop()
            pg.drop_database(url)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
