"""Benchmark: the nearest engine against baselines, in one run, on the shipped registry.

    python bench/bench_nearest.py [--queries 5000] [--http-seconds 10] [--no-http]

Prints tables with our figures, the baselines' and the ratio:
1. in-process k=5 filtered queries: FacilityIndex.query (filters applied per query, exact geodesic
   distances) against the fair baseline, a scipy cKDTree over the EPSG:4549-projected eligible
   facilities built once outside the timed loop (filters applied in advance; the query point is
   projected per query, as ours is), k=5 — the ratio column is against it; also shapely's STRtree
   ``query_nearest`` (prebuilt, k=1: it has no k), a brute-force numpy haversine + argsort over the
   eligible facilities, and geopandas.sjoin_nearest per query (k=1, a GeoDataFrame built per query:
   how a web view would call it, not a fair index comparison);
2. keeping the index current when one facility changes: full rebuild vs rtree delete+insert;
   one request as an in-process WSGI call: the fast path (web/fastpath.py) vs the Flask view;
3. HTTP /api/v1/nearest under `workermap serve --prod` (gunicorn, 2 workers) driven by
   Debian's `wrk` on 127.0.0.1 (bounded: fixed duration), 1 and 32 connections: our
   production worker (gevent, keep-alive) against gunicorn's sync workers as the baseline,
   and /healthz on the same server (the floor: Flask and the server with no work), asked with the same
   wrk-generated query strings (so the load generator, on the same cores, works as hard) and, for
   reference, as one fixed URL. Configurations run in interleaved rounds; the median round is shown.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo.geography import load_districts  # noqa: E402
from geo.nearest import FacilityIndex  # noqa: E402
from geo.registry import read_registry_file  # noqa: E402
from geo.settings import SHIPPED_DATA  # noqa: E402

WHEN = datetime(2026, 11, 24, 23, 40)
FILTER = {"kinds": ("station",), "amenities": ("microwave",), "worker": "outdoor_worker", "open_at": WHEN}


def pct(values_s, q):
    return float(np.percentile(np.asarray(values_s) * 1e6, q))


def table(title, header, rows):
    print(f"\n{title}")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).rjust(w) if i else str(c).ljust(w)
              for i, (c, w) in enumerate(zip(r, widths, strict=True))))


def random_points(n, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(120.0, 120.6, n), rng.uniform(35.95, 36.45, n)


def bench_in_process(registry, n, rounds: int = 5):
    """Our query (filtered, unfiltered), the prebuilt cKDTree and STRtree and the numpy brute force, timed in
    interleaved rounds so that a slow spell of a shared machine falls on all of them alike."""
    import shapely
    from scipy.spatial import cKDTree

    from geo.crs import metric_transformer

    index = FacilityIndex(registry.facilities)
    lons, lats = random_points(n)
    index.query(lons[0], lats[0], k=5, **FILTER)  # warm the per-minute caches
    # brute force: numpy haversine over the eligible facilities, full argsort
    elig = index.eligible(kinds=FILTER["kinds"], amenities=FILTER["amenities"], worker=FILTER["worker"],
                          open_at=WHEN)
    flon, flat = np.radians(index.lon[elig]), np.radians(index.lat[elig])
    # the fair baselines: built once, outside the timed loop, over the eligible facilities in EPSG:4549
    project = metric_transformer().transform
    kdtree = cKDTree(np.column_stack([index.x[elig], index.y[elig]]))
    strtree = shapely.STRtree(shapely.points(index.x[elig], index.y[elig]))
    ours, unfiltered, brute, kd, st = [], [], [], [], []
    same = 0
    for chunk in np.array_split(np.arange(n), rounds):
        points = list(zip(lons[chunk], lats[chunk], strict=True))
        for lon, lat in points:
            t = time.perf_counter()
            index.query(lon, lat, k=5, **FILTER)
            ours.append(time.perf_counter() - t)
        for lon, lat in points:
            t = time.perf_counter()
            x, y = project(lon, lat)
            kdtree.query((x, y), k=5)
            kd.append(time.perf_counter() - t)
        for lon, lat in points:
            t = time.perf_counter()
            x, y = project(lon, lat)
            strtree.query_nearest(shapely.Point(x, y))
            st.append(time.perf_counter() - t)
        for lon, lat in points:
            t = time.perf_counter()
            index.query(lon, lat, k=5, open_at=None)
            unfiltered.append(time.perf_counter() - t)
        for lon, lat in points:
            t = time.perf_counter()
            la, lo = np.radians(lat), np.radians(lon)
            a = np.sin((flat - la) / 2) ** 2 + np.cos(la) * np.cos(flat) * np.sin((flon - lo) / 2) ** 2
            d = 2 * 6371008.8 * np.arcsin(np.sqrt(a))
            np.argsort(d)[:5]
            brute.append(time.perf_counter() - t)
    for lon, lat in zip(lons, lats, strict=True):  # the same answer? (ours ranks by geodesic distance)
        ours_ids = {h.index for h in index.query(lon, lat, k=5, **FILTER).hits}
        same += ours_ids == set(elig[kdtree.query(project(lon, lat), k=5)[1]].tolist())

    # geopandas.sjoin_nearest, one query at a time (as a web request would), eligible subset in EPSG:4549
    import geopandas as gpd
    import shapely

    fac = gpd.GeoDataFrame({"i": elig}, geometry=shapely.points(index.x[elig], index.y[elig]), crs="EPSG:4549")
    from geo.crs import to_metric

    m = min(n, 500)
    sj = []
    for lon, lat in zip(lons[:m], lats[:m], strict=True):
        t = time.perf_counter()
        x, y = to_metric(lon, lat)
        q = gpd.GeoDataFrame(geometry=[shapely.Point(x, y)], crs="EPSG:4549")
        gpd.sjoin_nearest(q, fac, distance_col="d")  # k=1 only: sjoin_nearest has no k
        sj.append(time.perf_counter() - t)

    fair = pct(kd, 50)

    def line(label, times, count):
        return [label, f"{pct(times, 50):.1f}", f"{pct(times, 99):.1f}", f"{pct(times, 50) / fair:.2f}", count]

    rows = [
        line("ours: FacilityIndex.query, k=5, filtered", ours, n),
        line("ours: FacilityIndex.query, k=5, no filter", unfiltered, n),
        line("fair baseline: cKDTree prebuilt on the eligible, k=5", kd, n),
        line("baseline: shapely STRtree.query_nearest prebuilt (k=1)", st, n),
        line("baseline: numpy haversine + argsort, k=5", brute, n),
        line("baseline: geopandas.sjoin_nearest, frame per query (k=1)", sj, m),
    ]
    table(f"In-process nearest, {len(index)} live facilities, {len(elig)} eligible "
          "(station + microwave + outdoor worker, open at 23:40)",
          ["method", "p50 µs", "p99 µs", "÷ cKDTree (p50)", "queries"], rows)
    print(f"ours ÷ the prebuilt cKDTree (filters applied in advance, planar): {pct(ours, 50) / fair:.2f} at p50, "
          f"{pct(ours, 99) / pct(kd, 99):.2f} at p99; the same 5 facilities in {same / n:.1%} of the queries "
          "(ours ranks by geodesic distance)")
    print("targets: ours p50 ≤ 15 µs, p99 ≤ 50 µs")
    return index


def bench_updates(registry, index):
    import rtree

    facilities = list(registry.facilities)
    reps = 30
    t = time.perf_counter()
    for _ in range(reps):
        FacilityIndex(facilities)
    rebuild_ms = (time.perf_counter() - t) / reps * 1e3

    idx = rtree.index.Index()
    for i in range(len(index.facilities)):
        idx.insert(i, (index.x[i], index.y[i], index.x[i], index.y[i]))
    t = time.perf_counter()
    for i in range(reps):
        idx.delete(i, (index.x[i], index.y[i], index.x[i], index.y[i]))
        idx.insert(i, (index.x[i] + 10, index.y[i], index.x[i] + 10, index.y[i]))
    rtree_ms = (time.perf_counter() - t) / reps * 1e3
    t = time.perf_counter()
    for _ in range(reps):
        list(idx.nearest((500_000, 4_000_000, 500_000, 4_000_000), 5))
    rtree_q = (time.perf_counter() - t) / reps * 1e6
    table("Reflecting one change (a station closes or moves)",
          ["method", "ms per change", "note"],
          [["ours: rebuild FacilityIndex (all masks)", f"{rebuild_ms:.2f}", "immutable, swapped atomically"],
           ["rtree: delete + insert one entry", f"{rtree_ms:.3f}",
            f"but unfiltered only; k=5 nearest query {rtree_q:.0f} µs"]])
    print(f"target: rebuild < 50 ms → we rebuild ({rebuild_ms:.1f} ms) instead of mutating an rtree in place")


def bench_wsgi(n: int):
    """One request as a WSGI call (no network): the fast path vs the Flask view behind it."""
    from werkzeug.test import EnvironBuilder

    from web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"WORKERMAP_DATA_DIR": tmp})
        lons, lats = random_points(n, seed=3)
        envs = [EnvironBuilder(path="/api/v1/nearest", query_string=(
            f"lon={lo:.5f}&lat={la:.5f}&k=5&kind=station&amenity=microwave&worker=outdoor_worker"
            "&open_at=2026-11-24T23:40")).get_environ() for lo, la in zip(lons, lats, strict=True)]
        health = [EnvironBuilder(path="/healthz").get_environ() for _ in range(n)]

        def timed(wsgi, environs):
            out = []
            for env in environs:
                t = time.perf_counter()
                body = b"".join(wsgi(dict(env), lambda status, headers, exc_info=None: None))
                out.append(time.perf_counter() - t)
                assert body
            return out

        for wsgi in (app.wsgi_app, app.wsgi_app.app):
            timed(wsgi, envs[:200])  # warm-up
        fast, flask_only, healthz = timed(app.wsgi_app, envs), timed(app.wsgi_app.app, envs), timed(app, health)
    base = pct(flask_only, 50)
    table("One GET /api/v1/nearest as a WSGI call in-process (parse, search, 5 hits as JSON, headers)",
          ["path", "p50 µs", "p99 µs", "× Flask view (p50)"],
          [["ours: web.fastpath (no Flask machinery)", f"{pct(fast, 50):.1f}", f"{pct(fast, 99):.1f}",
            f"{pct(fast, 50) / base:.2f}"],
           ["baseline: the Flask view", f"{base:.1f}", f"{pct(flask_only, 99):.1f}", "1.00"],
           ["for scale: GET /healthz through Flask", f"{pct(healthz, 50):.1f}", f"{pct(healthz, 99):.1f}",
            f"{pct(healthz, 50) / base:.2f}"]])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def prod_server(data_dir: str, *, workers: int = 2, extra: tuple[str, ...] = ()):
    """`workermap serve --prod` on a free loopback port; yields its base URL and Popen, stops it after."""
    port = free_port()
    env = dict(os.environ, WORKERMAP_DATA_DIR=data_dir)
    server = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--prod", "--workers", str(workers), "--port",
                               str(port), *extra], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.terminate()
        server.wait(20)


def lua_script(path: str) -> str:
    """wrk's request generator: random points in Qingdao on ``path`` with the filtered nearest's query."""
    return r"""
math.randomseed(7)
request = function()
  local lon = 120.0 + math.random() * 0.6
  local lat = 35.95 + math.random() * 0.5
  local path = string.format("PATH?lon=%.5f&lat=%.5f&k=5&kind=station&amenity=microwave" ..
    "&worker=outdoor_worker&open_at=2026-11-24T23:40", lon, lat)
  return wrk.format("GET", path)
end
""".replace("PATH", path)


def parse_wrk(out: str) -> dict:
    def ms(text):
        v, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
        return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    res = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for q in ("50", "99"):
        res[f"p{q}"] = ms(re.search(rf"\s{q}(?:\.000)?%\s+(\S+)", out).group(1))
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["errors"] = (sum(map(int, errs.groups())) if errs else 0) + (int(non2xx.group(1)) if non2xx else 0)
    res["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    return res


#: Rounds per configuration (interleaved); each result is the round with the median req/s.
ROUNDS = 5


def median_run(runs: list[dict]) -> dict:
    """The run with the median req/s, its request count the sum of all rounds."""
    mid = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
    return {**mid, "requests": sum(r["requests"] for r in runs), "errors": sum(r["errors"] for r in runs)}


def run_wrk(url: str, lua: Path | None, conns: int, seconds: int) -> dict:
    threads = 1 if conns == 1 else 2
    script = ["-s", str(lua)] if lua else []
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency", *script, url],
                         capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def bench_http(seconds: int, access_log: bool):
    if not shutil.which("wrk"):
        print("\nHTTP: skipped (Debian's wrk is not installed)")
        return
    rows = []
    log = () if access_log else ("--no-access-log",)
    with tempfile.TemporaryDirectory() as tmp:
        lua, floor_lua = Path(tmp) / "nearest.lua", Path(tmp) / "healthz.lua"
        lua.write_text(lua_script("/api/v1/nearest"))
        floor_lua.write_text(lua_script("/healthz"))  # the same generated requests: the client's cost is equal
        results = {}
        for worker in ("gevent", "sync"):
            with prod_server(tmp, extra=("--worker-class", worker, *log)) as (url, _):
                run_wrk(url, lua, 4, 2)  # warm-up
                runs = [((worker, lua), url)]
                if worker == "gevent":
                    runs += [(("healthz", floor_lua), url), (("healthz-fixed", None), url + "/healthz")]
                for conns in (1, 32):
                    # interleaved rounds, the median kept: a slow spell of a shared machine falls on all alike
                    rounds = {name: [] for (name, _), _ in runs}
                    for _ in range(ROUNDS):
                        for (name, script), target in runs:
                            rounds[name].append(run_wrk(target, script, conns, seconds))
                    for name, got in rounds.items():
                        results[name, conns] = median_run(got)
        for conns in (1, 32):
            base = results["sync", conns]["rps"]
            for key, label in ((("gevent", conns), "ours: gevent workers (keep-alive)"),
                               (("sync", conns), "baseline: sync workers"),
                               (("healthz", conns), "floor: GET /healthz, gevent, same generated query"),
                               (("healthz-fixed", conns), "floor: GET /healthz, gevent, one fixed URL")):
                r = results[key]
                rows.append([f"{label}, {conns} conn", f"{r['rps']:.0f}", f"{r['rps'] / base:.2f}",
                             f"{r['p50']:.2f}", f"{r['p99']:.2f}", r["errors"], r["requests"]])
            ours = results["gevent", conns]["rps"]
            print(f"{conns} conn: nearest / floor = {ours / results['healthz', conns]['rps']:.2f} "
                  f"(same generated query), {ours / results['healthz-fixed', conns]['rps']:.2f} (fixed URL)")
    table(f"HTTP GET /api/v1/nearest (filtered, k=5, random points), gunicorn 2 workers, wrk {seconds} s × "
          f"{ROUNDS} interleaved rounds (median), "
          f"access log {'on' if access_log else 'off'}",
          ["server, load", "req/s", "× sync", "p50 ms", "p99 ms", "errors", "requests"], rows)
    print("targets: 1 connection p50 ≤ 0.5 ms; 32 connections ≥ 5,000 req/s, p99 ≤ 15 ms, 0 errors, "
          "≥ 0.95× the /healthz floor (same generated query)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=5000)
    ap.add_argument("--http-seconds", type=int, default=5)
    ap.add_argument("--no-http", action="store_true")
    ap.add_argument("--no-access-log", action="store_true",
                    help="serve without the access log (default: on, as `serve --prod` runs; written to /dev/null)")
    args = ap.parse_args()
    registry = read_registry_file(SHIPPED_DATA / "sample_facilities.geojson", load_districts())
    index = bench_in_process(registry, args.queries)
    bench_updates(registry, index)
    bench_wsgi(min(args.queries, 3000))
    if not args.no_http:
        bench_http(args.http_seconds, not args.no_access_log)


if __name__ == "__main__":
    main()
