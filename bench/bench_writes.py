"""Benchmark: admin writes on the registry store (GeoPackage and PostGIS side by side) against the old file store.

    python bench/bench_writes.py [--quick]

Every server is `workermap serve --prod` (gunicorn, 2 workers, the default gevent worker class) on a free
127.0.0.1 port and a fresh data directory seeded from the shipped sample (1,676 facilities); the PostGIS one on a
throwaway PostgreSQL cluster (tests/pgserver.py); the baseline is the old one-GeoJSON-file store of commit
d8936e0, run from a temporary git worktree (its own geo/ and web/ on PYTHONPATH), in the same run. Prints:

1. reads unaffected: GET /api/v1/nearest at 32 connections with Debian's `wrk`, the three servers in interleaved
   rounds on identical freshly seeded registries (before any write): req/s, the ratio new/old (median over rounds
   of the ratio within a round), and the servers' CPU time per request (/proc; steadier on a shared machine);
2. single admin write latency: sequential PATCH /api/v1/admin/facilities/<id> over one keep-alive connection,
   and ``store.update`` timed in-process (the old store's too: under gunicorn its writes do not run, see 4);
3. contention: 200 creates from 8 threads (a connection each) while 4 threads read /api/v1/nearest and /healthz,
   then checked through the API and the store: every write 201, every id exactly once, the audit complete with
   ``version_after`` +1 at every entry;
4. the old store's writes under gunicorn: with filelock 4.x every one answers 500 (its lock was created in the
   master and "inherited across fork"): counted and reported, not hidden;

then one summary table against the targets. Every loop is bounded in time; every server, the PostgreSQL cluster,
the worktree and the temporary directories are removed at the end, also after an error.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path
from urllib.parse import quote

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_nearest import free_port, parse_wrk, table  # noqa: E402
from geo.geography import load_districts  # noqa: E402
from geo.settings import Settings  # noqa: E402
from geo.store import open_store  # noqa: E402
from tests.pgserver import PostgresServer, available  # noqa: E402

OLD_COMMIT = "d8936e0"
NEAREST = "/api/v1/nearest?lon=120.38&lat=36.07&open_at=any"
GPKG, PG, OLD = "GeoPackage", "PostGIS", "old file store"
NEW = (GPKG, PG)
TARGET_P50_MS, TARGET_P99_MS, TARGET_WALL_S, TARGET_READ_RATIO = 20.0, 100.0, 10.0, 0.95
WRITERS, READERS, CREATES = 8, 4, 200
OLD_WRITE_ATTEMPTS = 20
NET_ERRORS = (OSError, http.client.HTTPException)

#: store.update timed in-process, run with the store's own code on sys.path (the old one's or ours):
#: argv = data_dir, database_url ('' = none), writes, warm-up writes, time budget (s); prints JSON.
IN_PROCESS = r"""
import json, sys, time
from pathlib import Path
from geo.geography import load_districts
from geo.settings import Settings
data_dir, url, n, warmup, budget = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    float(sys.argv[5])
settings = Settings.from_env({}, data_dir=data_dir, **({"database_url": url} if url else {}))
districts = load_districts(settings.districts_path)
try:
    from geo.store import open_store
except ImportError:  # the old file store (one GeoJSON file + filelock)
    from geo.registry import RegistryStore
    store = RegistryStore(settings.registry_path, districts, seed_from=settings.sample_path)
else:
    store = open_store(settings, districts)
ids = [f.id for f in store.load().facilities[:10]]
times, stop_at = [], time.monotonic() + budget
for i in range(warmup + n):
    if time.monotonic() > stop_at:
        break
    fid, name = ids[i % len(ids)], f"bench write {i // len(ids) % 2}"
    t = time.perf_counter()
    store.update(lambda r, fid=fid, name=name: r.merged([r.get(fid).replace(name=name)]), actor="bench",
                 action="update", facility_id=fid)
    if i >= warmup:
        times.append(time.perf_counter() - t)
print(json.dumps({"module": type(store).__module__, "times": times}))
"""


# -- helpers ------------------------------------------------------------------------------------------------------
def ms(values_s, q) -> float:
    return float(np.percentile(np.asarray(values_s) * 1e3, q)) if len(values_s) else float("nan")


def mark(ok: bool | None) -> str:
    return "—" if ok is None else ("✓" if ok else "✗")


class Client:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1 (reopened on the next call after an error)."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 30):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.token = token

    def connect(self) -> None:
        self.conn.connect()

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        """(status, body); status 0 if the connection failed (no retry: a write is never sent twice)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            return resp.status, resp.read()
        except NET_ERRORS as exc:
            self.conn.close()
            return 0, str(exc).encode()

    def json(self, path: str) -> dict:
        status, body = self.call("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
        return json.loads(body)

    def close(self) -> None:
        self.conn.close()


class Server:
    """`python -m web --data-dir DIR serve --prod --port P` as a subprocess (its own session); stopped by stop()."""

    def __init__(self, label: str, data_dir: Path, work: Path, *, cwd: Path = ROOT, pythonpath: Path | None = None,
                 database_url: str = ""):
        self.label, self.data_dir, self.cwd = label, data_dir, cwd
        self.port = free_port()
        self.log = work / f"server-{label.split()[0].lower()}.log"
        runtime = work / f"run-{label.split()[0].lower()}"  # gunicorn's control socket: this server's own
        runtime.mkdir(exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WORKERMAP_")}
        self.env["XDG_RUNTIME_DIR"] = str(runtime)
        if pythonpath:
            self.env["PYTHONPATH"] = str(pythonpath)
        if database_url:
            self.env["WORKERMAP_DATABASE_URL"] = database_url
        self.proc: subprocess.Popen | None = None
        self.token = ""

    def cli(self, *args: str, timeout: float = 120) -> str:
        out = subprocess.run([sys.executable, "-m", "web", "--data-dir", str(self.data_dir), *args], cwd=self.cwd,
                             env=self.env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise RuntimeError(f"{self.label}: workermap {' '.join(args)} failed ({out.returncode}): "
                               f"{out.stderr.strip()[-800:]}")
        return out.stdout

    def start(self, timeout: float = 90) -> Server:
        self.token = self.cli("token", "add", "bench").strip().splitlines()[-1]  # before the server starts
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "web", "--data-dir", str(self.data_dir), "serve", "--prod", "--port",
                 str(self.port)], cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} server exited with {self.proc.returncode}:\n{self.log_tail()}")
            client = Client(self.port, timeout=2)
            status, body = client.call("GET", "/healthz")
            client.close()
            if status == 200:
                self.health = json.loads(body)
                return self
            time.sleep(0.2)
        raise RuntimeError(f"{self.label} server not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def errors_logged(self) -> list[str]:
        try:
            return [line for line in self.log.read_text(errors="replace").splitlines() if '"level": "ERROR"' in line]
        except OSError:
            return []

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is not None:  # the master is gone: no worker of its may stay behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            return
        proc.terminate()  # gunicorn: graceful shutdown of the master and its workers
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the session we started: master and workers
            proc.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# -- 1. reads -----------------------------------------------------------------------------------------------------
def server_cpu_s(master: int) -> float:
    """CPU time (user + system, s) used so far by the gunicorn master ``master`` and its workers (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == master or ppid == master:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_wrk(url: str, conns: int, seconds: int) -> dict:
    out = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", url], capture_output=True,
                         text=True, timeout=seconds + 60, check=True).stdout
    return parse_wrk(out)


def bench_reads(servers: dict[str, Server], seconds: int, rounds: int, warmup_s: int) -> dict:
    if not shutil.which("wrk"):
        print("\nReads: skipped (Debian's wrk is not installed)")
        return {}
    labels = list(servers)
    for label in labels:
        run_wrk(servers[label].url + NEAREST, 4, warmup_s)
    runs: dict[str, list[dict]] = {label: [] for label in labels}
    for r in range(rounds):  # interleaved, the order rotated: a slow spell of a shared machine falls on all alike
        for label in labels[r % len(labels):] + labels[:r % len(labels)]:
            cpu = server_cpu_s(servers[label].proc.pid)
            run = run_wrk(servers[label].url + NEAREST, 32, seconds)
            run["cpu_us"] = (server_cpu_s(servers[label].proc.pid) - cpu) / max(run["requests"], 1) * 1e6
            runs[label].append(run)
    res = {label: {"rps": float(np.mean([x["rps"] for x in rs])), "p50": float(np.mean([x["p50"] for x in rs])),
                   "p99": float(np.mean([x["p99"] for x in rs])), "errors": sum(x["errors"] for x in rs),
                   "requests": sum(x["requests"] for x in rs), "rounds": [x["rps"] for x in rs], "ratio": None,
                   "ratios": [], "cpu_us": float(np.median([x["cpu_us"] for x in rs]))}
           for label, rs in runs.items()}
    rows = []
    for label in labels:
        r = res[label]
        if OLD in res:  # paired by round (the three ran back to back), median over rounds
            r["ratios"] = [x / b for x, b in zip(r["rounds"], res[OLD]["rounds"], strict=True)]
            r["ratio"] = float(np.median(r["ratios"]))
        rows.append([label, f"{r['rps']:.0f}", " / ".join(f"{x:.0f}" for x in r["rounds"]),
                     "—" if r["ratio"] is None else f"{r['ratio']:.2f}",
                     " / ".join(f"{x:.2f}" for x in r["ratios"]) or "—", f"{r['cpu_us']:.0f}",
                     f"{r['p50']:.2f}", f"{r['p99']:.2f}", r["errors"], r["requests"]])
    table(f"1. Reads: GET {NEAREST}, wrk -t2 -c32, {rounds} interleaved round(s) of {seconds} s per server "
          "(gunicorn, 2 gevent workers; registries freshly seeded, before any write)",
          ["store", "req/s (mean)", "req/s per round", "× old (median)", "× old per round", "server CPU µs/req",
           "p50 ms", "p99 ms", "errors", "requests"], rows)
    print(f"target: new store ≥ {TARGET_READ_RATIO}× the old file store's req/s. Server CPU µs/req (gunicorn master "
          "+ workers, /proc, median of rounds) is the cost per request, less sensitive to other load on the machine")
    return res


# -- 2. single writes ---------------------------------------------------------------------------------------------
def facility_ids(server: Server, n: int = 10) -> list[str]:
    client = Client(server.port)
    try:
        doc = client.json("/api/v1/facilities")
    finally:
        client.close()
    return [f["properties"]["id"] for f in doc["features"][:n]]


def sequential_writes(server: Server, n: int, warmup: int, budget_s: float) -> dict:
    """PATCH name on 10 real ids in turn, each write a real change (the value alternates every round)."""
    ids = facility_ids(server)
    client = Client(server.port, server.token)
    times, statuses = [], Counter()
    stop_at = time.monotonic() + budget_s
    try:
        for i in range(warmup + n):
            if time.monotonic() > stop_at:
                break
            fid = ids[i % len(ids)]
            t = time.perf_counter()
            status, _ = client.call("PATCH", f"/api/v1/admin/facilities/{quote(fid)}",
                                    {"name": f"bench write {i // len(ids) % 2}"})
            if i >= warmup:
                times.append(time.perf_counter() - t)
                statuses[status] += 1
    finally:
        client.close()
    return {"times": times, "statuses": statuses, "ok": statuses.get(200, 0), "n": sum(statuses.values())}


def in_process_writes(data_dir: Path, *, cwd: Path, database_url: str = "", n: int, warmup: int,
                      budget_s: float) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKERMAP_")}
    env["PYTHONPATH"] = str(cwd)
    out = subprocess.run([sys.executable, "-c", IN_PROCESS, str(data_dir), database_url, str(n), str(warmup),
                          str(budget_s)], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=budget_s + 120, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def report_single(seq: dict, inproc: dict, n_target: int) -> None:
    rows = []
    for label in (GPKG, PG, OLD):
        s = seq.get(label)
        if s is None:
            continue
        kind = "HTTP PATCH, 1 keep-alive conn"
        if s["ok"]:
            rows.append([label, kind, f"{ms(s['times'], 50):.1f}", f"{ms(s['times'], 99):.1f}",
                         f"{max(s['times']) * 1e3:.1f}", f"{s['ok']}/{s['n']} ok",
                         ", ".join(f"{k}×{v}" for k, v in sorted(s["statuses"].items()))])
        else:
            rows.append([label, kind, "—", "—", "—", f"0/{s['n']} ok",
                         ", ".join(f"{k}×{v}" for k, v in sorted(s["statuses"].items()))])
    for label in (GPKG, PG, OLD):
        r = inproc.get(label)
        if r is None:
            continue
        if "error" in r or not r.get("times"):
            rows.append([label, "in-process store.update", "—", "—", "—", "failed", r.get("error", "no writes")])
            continue
        t = r["times"]
        rows.append([label, "in-process store.update", f"{ms(t, 50):.1f}", f"{ms(t, 99):.1f}",
                     f"{max(t) * 1e3:.1f}", f"{len(t)} writes", r["module"]])
    table(f"2. Single admin writes, sequential ({n_target} after a warm-up; the old store under gunicorn: "
          f"{OLD_WRITE_ATTEMPTS} attempts)", ["store", "how", "p50 ms", "p99 ms", "max ms", "writes", "statuses"],
          rows)
    print(f"targets (HTTP): p50 ≤ {TARGET_P50_MS:.0f} ms, p99 ≤ {TARGET_P99_MS:.0f} ms")


# -- 3. contention ------------------------------------------------------------------------------------------------
def create_points(n: int) -> list[tuple[float, float]]:
    """n points in 市南区 (120.38–120.40, 36.06–36.08), deterministic, each checked to be in the district."""
    rng = np.random.default_rng(11)
    districts = load_districts()
    out: list[tuple[float, float]] = []
    while len(out) < n:
        lon, lat = rng.uniform(120.38, 120.40, n), rng.uniform(36.06, 36.08, n)
        inside = districts.locate(lon, lat) == "370202"
        out += [(round(float(x), 6), round(float(y), 6)) for x, y in zip(lon[inside], lat[inside], strict=True)]
    return out[:n]


def contention(server: Server, points: list[tuple[float, float]], budget_s: float) -> dict:
    per_writer = CREATES // WRITERS
    barrier = threading.Barrier(WRITERS + READERS + 1)
    writers_done = threading.Event()
    stop_at = [0.0]
    writes: list[list[tuple[str, int, float]]] = [[] for _ in range(WRITERS)]
    reads: list[Counter] = [Counter() for _ in range(READERS)]

    def writer(t: int) -> None:
        client = Client(server.port, server.token)
        with contextlib.suppress(*NET_ERRORS):
            client.connect()
        barrier.wait()
        try:
            for i in range(per_writer):
                if time.monotonic() > stop_at[0]:
                    break
                fid = f"bench-{t}-{i}"
                lon, lat = points[t * per_writer + i]
                body = {"id": fid, "kind": "station", "name": f"压测驿站 {t}-{i}", "lon": lon, "lat": lat,
                        "opening_hours": "24/7"}
                t0 = time.perf_counter()
                status, _ = client.call("POST", "/api/v1/admin/facilities", body)
                writes[t].append((fid, status, time.perf_counter() - t0))
        finally:
            client.close()

    def reader(r: int) -> None:
        client = Client(server.port)
        with contextlib.suppress(*NET_ERRORS):
            client.connect()
        barrier.wait()
        try:
            i = 0
            while not writers_done.is_set() and time.monotonic() < stop_at[0]:
                status, _ = client.call("GET", NEAREST if i % 2 == 0 else "/healthz")
                reads[r]["ok" if status == 200 else "error"] += 1
                i += 1
        finally:
            client.close()

    threads = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(WRITERS)]
    readers = [threading.Thread(target=reader, args=(r,), daemon=True) for r in range(READERS)]
    for th in threads + readers:
        th.start()
    stop_at[0] = time.monotonic() + budget_s + 5  # set before the threads pass the barrier
    barrier.wait(timeout=60)
    t0 = time.perf_counter()
    for th in threads:
        th.join(budget_s + 60)
    wall = time.perf_counter() - t0
    writers_done.set()
    for th in readers:
        th.join(30)
    flat = [w for ws in writes for w in ws]
    return {"wall": wall, "writes": flat, "times": [dt for _, _, dt in flat],
            "statuses": Counter(s for _, s, _ in flat), "reads_ok": sum(c["ok"] for c in reads),
            "reads_error": sum(c["error"] for c in reads)}


def check_ids(ids: Counter, expected: set[str]) -> bool:
    return all(ids[i] == 1 for i in expected) and max(ids.values()) == 1


def check_audit(entries: list[dict], expected: set[str], head: int) -> tuple[bool, str]:
    creates = [e["id"] for e in entries if e.get("action") == "create" and e.get("id") in expected]
    versioned = [e for e in entries if e.get("version_after") is not None]
    steps_ok = all(b["version_after"] == a["version_after"] + 1 for a, b in pairwise(versioned))
    before_ok = all(e.get("version_before") == e["version_after"] - 1 for e in versioned)
    last = versioned[-1]["version_after"] if versioned else None
    ok = (len(creates) == len(expected) and set(creates) == expected and steps_ok and before_ok and last == head
          and len(entries) < 10_000)
    return ok, (f"{len(entries)} entries, {len(creates)} bench creates, versions {versioned[0]['version_after']}–"
                f"{last} {'+1 each' if steps_ok and before_ok else 'WITH GAPS/DISORDER'}, head {head}"
                if versioned else f"{len(entries)} entries, no versions")


def verify(server: Server, expected: set[str], settings: Settings, districts) -> dict:
    """Through the API (each worker seen: its registry version and GET /api/v1/facilities) and the store."""
    time.sleep(0.7)  # > RELOAD_CHECK_S: every worker takes the last version on its next request
    out: dict = {}
    workers: dict[int, tuple[int, bool]] = {}
    for _ in range(16):  # fresh connections until both workers answered (a connection stays with one worker)
        client = Client(server.port)
        try:
            hz = client.json("/healthz")
            ids = Counter(f["properties"]["id"] for f in client.json("/api/v1/facilities")["features"])
        finally:
            client.close()
        workers[hz["pid"]] = (int(hz["registry_version"]), check_ids(ids, expected))
        if len(workers) >= 2:
            break
    heads = {v for v, _ in workers.values()}
    out["api_ids"] = all(ok for _, ok in workers.values()) and len(heads) == 1
    client = Client(server.port, server.token)
    try:
        entries = client.json("/api/v1/admin/audit?limit=10000")["entries"]
    finally:
        client.close()
    head = max(heads)
    out["api_audit"], out["api_audit_note"] = check_audit(entries, expected, head)
    store = open_store(settings, districts)
    try:
        reg = store.load()
        out["store_ids"] = check_ids(Counter(f.id for f in reg.facilities), expected)
        store_head = store.head()
        out["store_audit"], out["store_audit_note"] = check_audit(store.audit_entries(limit=10_000), expected,
                                                                  store_head)
        out["store_count"] = len(reg)
    finally:
        store.close()
    out["workers_seen"], out["head"], out["store_head"] = len(workers), head, store_head
    return out


def report_contention(cont: dict, checks: dict) -> None:
    rows = []
    for label in NEW:
        c, v = cont.get(label), checks.get(label)
        if c is None:
            continue
        t = c["times"]
        rows.append([label, f"{c['wall']:.2f}", f"{len(t)}", f"{ms(t, 50):.1f}", f"{ms(t, 99):.1f}",
                     f"{max(t) * 1e3:.1f}" if t else "—",
                     ", ".join(f"{k}×{n}" for k, n in sorted(c["statuses"].items())),
                     f"{c['reads_ok'] + c['reads_error']}", f"{c['reads_error']}"])
    table(f"3. Contention: {CREATES} creates from {WRITERS} threads (a keep-alive connection each) while {READERS} "
          "threads read /api/v1/nearest and /healthz", ["store", "total s", "writes", "p50 ms", "p99 ms", "max ms",
                                                       "statuses", "reader requests", "reader errors"], rows)
    for label in NEW:
        c, v = cont.get(label), checks.get(label)
        if c is None or v is None:
            continue
        all201 = c["statuses"].get(201, 0) == CREATES
        print(f"  {label}: {mark(all201)} every write 201 ({c['statuses'].get(201, 0)}/{CREATES})"
              f"   {mark(c['wall'] <= TARGET_WALL_S)} total {c['wall']:.2f} s ≤ {TARGET_WALL_S:.0f} s")
        print(f"  {label}: {mark(v['api_ids'])} API: every id exactly once in GET /api/v1/facilities on each of "
              f"{v['workers_seen']} worker(s), all at version {v['head']}")
        print(f"  {label}: {mark(v['store_ids'])} store: every id exactly once ({v['store_count']} facilities, "
              f"head {v['store_head']})")
        print(f"  {label}: {mark(v['api_audit'])} API audit: {v['api_audit_note']}")
        print(f"  {label}: {mark(v['store_audit'])} store audit: {v['store_audit_note']}")


# -- summary ------------------------------------------------------------------------------------------------------
def summary(reads: dict, seq: dict, inproc: dict, cont: dict, checks: dict, old_note: str, labels: dict) -> None:
    def cell(label, fn):
        try:
            return fn(label)
        except (KeyError, TypeError, ValueError, IndexError):
            return "—"

    def verdict(values):
        vals = [v for v in values if v is not None]
        return mark(all(vals)) if vals else "—"

    def seq_ok(label, q, target):
        s = seq.get(label)
        return None if not s or not s["times"] else (s["ok"] == s["n"] and ms(s["times"], q) <= target)

    rows = []
    for name, q, target in (("single write p50 ms (HTTP PATCH)", 50, TARGET_P50_MS),
                            ("single write p99 ms (HTTP PATCH)", 99, TARGET_P99_MS)):
        rows.append([name, *(cell(lb, lambda lb, q=q: f"{ms(seq[lb]['times'], q):.1f}") for lb in NEW),
                     old_note, f"≤ {target:.0f}", verdict([seq_ok(lb, q, target) for lb in NEW])])
    rows.append(["single write max ms (HTTP PATCH)",
                 *(cell(lb, lambda lb: f"{max(seq[lb]['times']) * 1e3:.1f}") for lb in NEW), old_note, "—", "—"])
    rows.append(["store.update p50 ms (in-process)",
                 *(cell(lb, lambda lb: f"{ms(inproc[lb]['times'], 50):.1f}") for lb in (*NEW, OLD)), "—", "—"])
    rows.append([f"contention: {CREATES} creates, total s",
                 *(cell(lb, lambda lb: f"{cont[lb]['wall']:.2f}") for lb in NEW), "n/a (writes 500)",
                 f"≤ {TARGET_WALL_S:.0f}", verdict([cont[lb]["wall"] <= TARGET_WALL_S for lb in NEW if lb in cont])])
    rows.append(["contention: write p50 / p99 / max ms",
                 *(cell(lb, lambda lb: f"{ms(cont[lb]['times'], 50):.0f} / {ms(cont[lb]['times'], 99):.0f} / "
                                      f"{max(cont[lb]['times']) * 1e3:.0f}") for lb in NEW), "n/a", "—", "—"])
    rows.append(["contention: write errors (non-201)",
                 *(cell(lb, lambda lb: f"{len(cont[lb]['writes']) - cont[lb]['statuses'].get(201, 0)}"
                                       f" of {len(cont[lb]['writes'])}") for lb in NEW), "n/a", "0",
                 verdict([cont[lb]["statuses"].get(201, 0) == CREATES for lb in NEW if lb in cont])])
    rows.append(["contention: ids exactly once (API / store)",
                 *(cell(lb, lambda lb: f"{mark(checks[lb]['api_ids'])} / {mark(checks[lb]['store_ids'])}")
                   for lb in NEW), "n/a", "✓",
                 verdict([checks[lb]["api_ids"] and checks[lb]["store_ids"] for lb in NEW if lb in checks])])
    rows.append(["contention: audit complete, +1 (API / store)",
                 *(cell(lb, lambda lb: f"{mark(checks[lb]['api_audit'])} / {mark(checks[lb]['store_audit'])}")
                   for lb in NEW), "n/a", "✓",
                 verdict([checks[lb]["api_audit"] and checks[lb]["store_audit"] for lb in NEW if lb in checks])])
    rows.append(["contention: reader requests / errors",
                 *(cell(lb, lambda lb: f"{cont[lb]['reads_ok'] + cont[lb]['reads_error']} / "
                                       f"{cont[lb]['reads_error']}") for lb in NEW), "n/a", "0 errors",
                 verdict([cont[lb]["reads_error"] == 0 for lb in NEW if lb in cont])])
    rows.append(["nearest req/s, 32 conns (wrk)",
                 *(cell(lb, lambda lb: f"{reads[lb]['rps']:.0f}") for lb in (*NEW, OLD)), "—", "—"])
    rows.append(["nearest req/s ÷ old (median of rounds)",
                 *(cell(lb, lambda lb: f"{reads[lb]['ratio']:.2f}") for lb in NEW), "1.00",
                 f"≥ {TARGET_READ_RATIO}",
                 verdict([reads[lb]["ratio"] >= TARGET_READ_RATIO for lb in NEW
                          if reads.get(lb, {}).get("ratio") is not None])])
    rows.append(["nearest: server CPU µs per request",
                 *(cell(lb, lambda lb: f"{reads[lb]['cpu_us']:.0f}") for lb in (*NEW, OLD)), "—", "—"])
    rows.append(["nearest p50 / p99 ms, 32 conns",
                 *(cell(lb, lambda lb: f"{reads[lb]['p50']:.2f} / {reads[lb]['p99']:.2f}") for lb in (*NEW, OLD)),
                 "—", "—"])
    table("Summary (gunicorn --prod, 2 gevent workers, shipped registry; old file store = commit "
          f"{OLD_COMMIT}, same run)", ["measure", *(labels.get(lb, lb) for lb in (*NEW, OLD)), "target", "✓/✗"],
          rows)


# -- main ---------------------------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter: wrk 2 rounds of 3 s, 50 sequential writes, "
                                                         "the same 200 contention writes (< 2 minutes)")
    args = ap.parse_args()
    q = args.quick
    wrk_s, rounds, wrk_warm = (3, 2, 1) if q else (6, 6, 2)
    seq_n, seq_warm = (50, 5) if q else (300, 10)
    old_inproc_n, old_inproc_budget = (20, 20.0) if q else (50, 60.0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # cleanup runs on SIGTERM too (finally blocks)
    t_start = time.perf_counter()
    print(f"bench_writes{' --quick' if q else ''}: {os.cpu_count()} CPUs, load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")

    districts = load_districts()
    points = create_points(CREATES)
    with contextlib.ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="bench-writes-"))
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        servers: dict[str, Server] = {}
        labels: dict[str, str] = {}
        settings: dict[str, Settings] = {}
        pg_inproc_url = ""

        # the old file store, from a worktree of d8936e0
        worktree = work / "old-worktree"
        made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), OLD_COMMIT],
                              capture_output=True, text=True, timeout=120)
        if made.returncode == 0:
            stack.callback(subprocess.run, ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                           capture_output=True, timeout=120)
        else:
            labels[OLD] = f"{OLD} (skipped: {made.stderr.strip()[:60]})"

        # PostgreSQL + PostGIS
        reason = available()
        if reason is None:
            t = time.perf_counter()
            pg = PostgresServer().start()
            stack.callback(pg.stop)
            pg_url, pg_inproc_url = pg.create_database("bench_writes"), pg.create_database("bench_inprocess")
            print(f"PostgreSQL + PostGIS on 127.0.0.1:{pg.port} ({time.perf_counter() - t:.1f} s to start)")
        else:
            labels[PG] = f"{PG} (skipped)"
            print(f"PostGIS: skipped ({reason})")

        def add_server(label: str, **kw) -> None:
            data = work / f"data-{label.split()[0].lower()}"
            data.mkdir()
            server = Server(label, data, work, **kw)
            stack.callback(server.stop)
            t = time.perf_counter()
            server.start()
            servers[label] = server
            settings[label] = Settings.from_env({}, data_dir=data, database_url=kw.get("database_url", ""))
            print(f"{label}: serving on {server.url} (pid {server.proc.pid}, {server.health['facilities']} "
                  f"facilities, version {str(server.health['registry_version'])[:12]}; "
                  f"{time.perf_counter() - t:.1f} s to start)")

        add_server(GPKG)
        if reason is None:
            add_server(PG, database_url=pg_url)
        if OLD not in labels:
            add_server(OLD, cwd=worktree, pythonpath=worktree)
            if str(servers[OLD].health["registry_version"]).isdigit():
                raise RuntimeError("the old server reports an integer registry version: not the old code?")

        # 1. reads, on identical freshly seeded registries
        reads = bench_reads(servers, wrk_s, rounds, wrk_warm)

        # 2. single writes
        seq: dict[str, dict] = {}
        for label in NEW:
            if label in servers:
                seq[label] = sequential_writes(servers[label], seq_n, seq_warm, budget_s=120)
        old_note = "—"
        if OLD in servers:
            seq[OLD] = sequential_writes(servers[OLD], OLD_WRITE_ATTEMPTS, 0, budget_s=60)
            s = seq[OLD]
            errors = servers[OLD].errors_logged()
            inherited = sum("inherited across fork" in line for line in errors)
            old_note = f"{s['statuses'].get(500, 0)}/{s['n']} → 500"
            print(f"\n{OLD} under gunicorn: {s['statuses'].get(500, 0)} of {s['n']} PATCHes answered 500 "
                  f"({', '.join(f'{k}×{v}' for k, v in sorted(s['statuses'].items()))}); {inherited} server-log "
                  "errors say the file lock was 'inherited across fork' (filelock 4.x)")
        inproc: dict[str, dict] = {}
        for label in (*NEW, OLD):
            if label not in servers:
                continue
            data = work / f"inprocess-{label.split()[0].lower()}"
            data.mkdir()
            if label == OLD:
                inproc[label] = in_process_writes(data, cwd=worktree, n=old_inproc_n, warmup=2,
                                                  budget_s=old_inproc_budget)
            else:
                inproc[label] = in_process_writes(data, cwd=ROOT, database_url=pg_inproc_url if label == PG else "",
                                                  n=seq_n, warmup=seq_warm, budget_s=60)
        report_single(seq, inproc, seq_n)

        # 3. contention
        cont: dict[str, dict] = {}
        checks: dict[str, dict] = {}
        expected = {f"bench-{t}-{i}" for t in range(WRITERS) for i in range(CREATES // WRITERS)}
        for label in NEW:
            if label in servers:
                cont[label] = contention(servers[label], points, budget_s=60)
                try:
                    checks[label] = verify(servers[label], expected, settings[label], districts)
                except Exception as exc:  # noqa: BLE001 - a check that cannot run is a failed check, reported
                    note = f"could not check: {type(exc).__name__}: {str(exc)[:200]}"
                    checks[label] = {"api_ids": False, "store_ids": False, "api_audit": False, "store_audit": False,
                                     "api_audit_note": note, "store_audit_note": note, "workers_seen": 0,
                                     "head": None, "store_head": None, "store_count": None}
        report_contention(cont, checks)
        for label, server in servers.items():
            logged = server.errors_logged()
            if logged and label != OLD:
                print(f"  {label}: {len(logged)} errors in the server log, the last: {logged[-1][:300]}")

        summary(reads, seq, inproc, cont, checks, old_note, labels)
        print(f"\n(total run {time.perf_counter() - t_start:.0f} s; cleaning up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
