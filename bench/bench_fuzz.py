"""Fuzz every route with ≥ 20,000 generated requests (in-process WSGI client) and report status classes and speed.

    python bench/bench_fuzz.py [--requests 20000] [--schemathesis-examples 40] [--seed 11]

Two generators, on the shipped sample registry (tests/fuzzing.py):

* the route-aware fuzzer: every method + route of the app's URL map, known and random parameter names with
  hostile values, random JSON bodies; ``--requests`` of them, half with an admin token;
* schemathesis: every operation of /api/openapi.json, schema-valid and schema-invalid data
  (``--schemathesis-examples`` per operation and mode), with hooks that put 400-digit integers, NaN,
  2**63 or 5,000 characters into one parameter or body field of about half the cases; anonymous, then the
  admin operations again with the token.

Baseline in the same run: well-formed requests (the app's own happy paths), as many as the route-aware
fuzzer sends, so the table shows what hostile input costs relative to normal use. Exit status 1 if any
request got a 5xx or an /api error outside the one JSON error shape.
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
from tests.fuzzing import fuzz, routes, schemathesis_fuzz, schemathesis_schema  # noqa: E402
from web import create_app  # noqa: E402

HAPPY = ["/api/v1/nearest?lon=120.38&lat=36.06&k=5", "/api/v1/facilities?kind=station", "/api/v1/meta",
         "/healthz", "/ogc/collections/station/items?limit=10"]
TARGET_REQUESTS = 20_000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=TARGET_REQUESTS, help="route-aware fuzzer requests")
    ap.add_argument("--schemathesis-examples", type=int, default=40,
                    help="schemathesis cases per operation and generation mode (0: none)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    n = args.requests
    runs = []  # (label, counts, failures, seconds)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(SHIPPED_DATA / "sample_facilities.geojson", Path(tmp) / "facilities.geojson")
        app = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp})
        client = app.test_client()
        token = TokenStore(app.extensions["workermap"].store).add("fuzz")
        admin = {"Authorization": f"Bearer {token}"}
        for label, count, seed, headers in (("route fuzzer, anonymous", n // 2, args.seed, None),
                                            ("route fuzzer, admin token", n - n // 2, args.seed + 1, admin)):
            t = time.perf_counter()
            counts, failures = fuzz(client, app, count, seed=seed, headers=headers)
            runs.append((label, counts, failures, time.perf_counter() - t))
        if args.schemathesis_examples:
            schema = schemathesis_schema(app, max_examples=args.schemathesis_examples, seed=args.seed)
            operations = sum(1 for _ in schema.get_all_operations())
            for label, headers, admin_only in ((f"schemathesis, {operations} operations", None, False),
                                               ("schemathesis, admin ops + token", admin, True)):
                t = time.perf_counter()
                counts, failures = schemathesis_fuzz(schema, headers=headers, admin_only=admin_only)
                runs.append((label, counts, failures, time.perf_counter() - t))
        t = time.perf_counter()
        for i in range(n):
            client.get(HAPPY[i % len(HAPPY)]).close()
        happy_s = time.perf_counter() - t

    failures = [f for _, _, fails, _ in runs for f in fails]
    total = sum(sum(c.values()) for _, c, _, _ in runs)
    server_errors = sum(c.get("5xx", 0) for _, c, _, _ in runs)
    print(f"\nFuzzing {len(routes(app))} method+route pairs of the app, shipped sample registry "
          f"({total:,} generated requests)")
    header = f"{'run':34} {'requests':>8} {'2xx':>6} {'3xx':>5} {'4xx':>6} {'5xx':>5} {'bad shape':>9} {'req/s':>7} " \
             f"{'ms/req':>7} {'× baseline':>10}"
    print(header)
    print("-" * len(header))
    happy_ms = happy_s / n * 1e3
    for label, c, fails, took in runs:
        count = sum(c.values())
        ms = took / count * 1e3
        print(f"{label:34} {count:8,} {c.get('2xx', 0):6} {c.get('3xx', 0):5} {c.get('4xx', 0):6} "
              f"{c.get('5xx', 0):5} {sum(1 for f in fails if f[0] != '5xx'):9} {count / took:7.0f} {ms:7.2f} "
              f"{ms / happy_ms:10.1f}")
    print(f"{'all generated requests':34} {total:8,} {'':6} {'':5} {'':6} {server_errors:5} "
          f"{sum(1 for f in failures if f[0] != '5xx'):9}")
    print(f"{'baseline: well-formed requests':34} {n:8,} {'':6} {'':5} {'':6} {'':5} {'':9} {n / happy_s:7.0f} "
          f"{happy_ms:7.2f} {1:10.1f}")
    print(f"targets: ≥ {TARGET_REQUESTS:,} requests -> {'MET' if total >= TARGET_REQUESTS else 'NOT MET'}; "
          f"0 server errors and one error shape -> {'MET' if not failures else 'FAILED'} "
          f"({server_errors} × 5xx)")
    for f in failures[:10]:
        print("  ", f)
    return 1 if failures or total < TARGET_REQUESTS else 0


if __name__ == "__main__":
    sys.exit(main())
