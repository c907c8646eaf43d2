"""Load test: `workermap serve --prod` under a bounded mixed load from Debian's wrk on 127.0.0.1.

    python bench/bench_load.py [--seconds 60] [--connections 64] [--workers 2]

The mix (per request, chosen at random): 70 % nearest (random points and filters),
20 % OGC items pages, 10 % coverage tables (cached by parameters). Reports req/s,
p50/p99 latency, errors, and the resident memory of the gunicorn workers sampled
every second (growth from the first 10 s to the end). Baseline in the same run: the
same load on /healthz, the cheapest route, which measures the server stack alone.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_nearest import parse_wrk, prod_server  # noqa: E402

MIX = r"""
math.randomseed(42)
local kinds = {"station", "station", "station", "mother_room", "shared_home"}
local amen = {"", "&amenity=microwave", "&amenity=toilet", "&amenity=drinking_water,hot_water"}
local cov = {"walk", "ebike"}
request = function()
  local r = math.random()
  local path
  if r < 0.7 then
    path = string.format("/api/v1/nearest?lon=%.5f&lat=%.5f&k=5&kind=%s%s", 120.0 + math.random() * 0.6,
      35.95 + math.random() * 0.5, kinds[math.random(#kinds)], amen[math.random(#amen)])
  elseif r < 0.9 then
    path = string.format("/ogc/collections/station/items?limit=50&offset=%d", math.random(0, 700))
  else
    path = string.format("/api/v1/coverage?mode=%s&minutes=%d", cov[math.random(2)], 5 * math.random(1, 4))
  end
  return wrk.format("GET", path)
end
"""


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def run(seconds: int, connections: int, workers: int) -> int:
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)")
        return 1
    with tempfile.TemporaryDirectory() as tmp, \
            prod_server(tmp, workers=workers, extra=("--no-access-log",)) as (url, server):
        lua = Path(tmp) / "mix.lua"
        lua.write_text(MIX)
        subprocess.run(["wrk", "-t2", "-c8", "-d3s", "-s", str(lua), url], capture_output=True)  # warm caches
        pids = children(server.pid)
        samples: list[int] = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                samples.append(rss_kb(pids))
                time.sleep(1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(lua),
                              url], capture_output=True, text=True, check=True).stdout
        stop.set()
        sampler.join()
        mix = parse_wrk(out)
        base = parse_wrk(subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{max(5, seconds // 6)}s",
                                         "--latency", f"{url}/healthz"], capture_output=True, text=True,
                                        check=True).stdout)
    first = max(samples[: min(10, len(samples))])
    last = max(samples[-3:])
    growth = (last - first) / first * 100
    print(f"\nLoad: gunicorn {workers} gevent workers (serve --prod), wrk {connections} connections, {seconds} s, "
          "2 wrk threads")
    print(f"{'route mix':40} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'requests':>9}")
    print(f"{'mix: 70% nearest, 20% OGC items, 10% cov.':40} {mix['rps']:7.0f} {mix['p50']:7.2f} {mix['p99']:7.2f} "
          f"{mix['errors']:6} {mix['requests']:9}")
    print(f"{'baseline: /healthz':40} {base['rps']:7.0f} {base['p50']:7.2f} {base['p99']:7.2f} {base['errors']:6} "
          f"{base['requests']:9}")
    print(f"worker RSS: {first / 1024:.1f} MB in the first 10 s -> {last / 1024:.1f} MB at the end "
          f"({growth:+.1f} %), {len(samples)} samples")
    ok = mix["errors"] == 0 and mix["p99"] <= 50 and growth < 10
    print(f"targets: 0 errors, p99 ≤ 50 ms, memory growth < 10 % -> {'MET' if ok else 'NOT MET'}")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    sys.exit(run(a.seconds, a.connections, a.workers))


if __name__ == "__main__":
    main()
