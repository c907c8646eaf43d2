"""Fuzz every route with ≥ 5,000 generated requests (in-process client) and report the status classes.

    python bench/bench_fuzz.py [--requests 6000]

Baseline in the same run: the same number of well-formed requests (the app's own
happy paths), so the table shows what hostile input costs relative to normal use.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo.settings import SHIPPED_DATA  # noqa: E402
from geo.store.tokens import TokenStore  # noqa: E402
from tests.fuzzing import fuzz, routes  # noqa: E402
from web import create_app  # noqa: E402

HAPPY = ["/api/v1/nearest?lon=120.38&lat=36.06&k=5", "/api/v1/facilities?kind=station", "/api/v1/meta",
         "/healthz", "/ogc/collections/station/items?limit=10"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=6000)
    n = ap.parse_args().requests
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(SHIPPED_DATA / "sample_facilities.geojson", Path(tmp) / "facilities.geojson")
        app = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp})
        client = app.test_client()
        token = TokenStore(app.extensions["workermap"].store).add("fuzz")
        t = time.perf_counter()
        anon, fail_a = fuzz(client, app, n // 2, seed=11)
        anon_s = time.perf_counter() - t
        t = time.perf_counter()
        auth, fail_b = fuzz(client, app, n - n // 2, seed=12, headers={"Authorization": f"Bearer {token}"})
        auth_s = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(n):
            client.get(HAPPY[i % len(HAPPY)]).close()
        happy_s = time.perf_counter() - t
    failures = fail_a + fail_b
    print(f"\nFuzzing {len(routes(app))} method+route pairs, {n} generated requests (half with an admin token)")
    happy_ms = happy_s / n * 1e3
    print(f"{'run':32} {'requests':>8} {'2xx':>6} {'3xx':>5} {'4xx':>6} {'5xx':>5} {'bad shape':>9} {'ms/req':>7} "
          f"{'× baseline':>10}")
    runs = (("fuzz, anonymous", anon, fail_a, anon_s), ("fuzz, admin token", auth, fail_b, auth_s))
    for label, c, fails, took in runs:
        total = sum(c.values())
        ms = took / total * 1e3
        print(f"{label:32} {total:8} {c.get('2xx', 0):6} {c.get('3xx', 0):5} {c.get('4xx', 0):6} "
              f"{c.get('5xx', 0):5} {sum(1 for f in fails if f[0] != '5xx'):9} {ms:7.2f} {ms / happy_ms:10.1f}")
    print(f"{'baseline: well-formed requests':32} {n:8} {'':6} {'':5} {'':6} {'':5} {'':9} {happy_ms:7.2f} {1:10.1f}")
    print(f"target: 0 server errors -> {'MET' if not failures else 'FAILED'}")
    for f in failures[:10]:
        print("  ", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
