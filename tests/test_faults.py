"""Faults: kill -9 a writer at random moments; the store always opens, equals the state before or after
each write, the audit matches the versions exactly, and nothing is left behind. On both backends."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import open_test_store, write_registry

ROOT = Path(__file__).resolve().parent.parent

WRITER = """
import sys
from pathlib import Path
from tests.conftest import open_test_store
store = open_test_store(Path(sys.argv[1]), sys.argv[2])
reg = store.load()
names = ("状态A驿站", "状态B驿站")
i = 0
print("ready", flush=True)
while True:
    i += 1
    new = reg.get("t-001").replace(name=names[i % 2])
    _, after = store.update(lambda r, new=new: r.merged([new]), actor="fault-test", action="update",
                            facility_id="t-001")
    print(after.version, flush=True)
"""


def test_kill_9_during_writes_never_corrupts(tmp_path, database_url):
    write_registry(tmp_path / "facilities.geojson")
    store = open_test_store(tmp_path, database_url)
    expected_others = [f for f in store.load().facilities if f.id != "t-001"]
    rng = random.Random(20261127)
    reported = 0
    seen = set()
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), database_url], cwd=ROOT,
                                stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.02, 0.25))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        committed = [int(line) for line in proc.stdout.read().split()]
        proc.stdout.close()
        reported += len(committed)

        fresh = open_test_store(tmp_path, database_url)  # a new process's view: must open and load
        reg = fresh.load()
        head = int(reg.version)
        assert not committed or committed[-1] <= head <= committed[-1] + 1  # at most the in-flight write more
        name = reg.get("t-001").name
        assert name in ("测试工会驿站1", "状态A驿站", "状态B驿站")
        assert [f for f in reg.facilities if f.id != "t-001"] == expected_others
        writes = [e for e in fresh.audit_entries(limit=100_000) if e["action"] == "update"]
        assert [e["version_after"] for e in writes] == list(range(2, head + 1))  # one audit row per version
        assert writes[-1]["after"]["name"] == name if writes else name == "测试工会驿站1"
        assert [v["version"] for v in fresh.versions(limit=100_000)] == list(range(1, head + 1))
        seen.add(name)
        fresh.close()
    assert reported >= 50  # at least 50 writes were committed between the kills
    assert len(seen) >= 2  # the writer really was interrupted at different points
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    allowed = {"facilities.geojson", "workermap.gpkg", "workermap.gpkg-wal", "workermap.gpkg-shm"}
    assert set(leftovers) <= allowed, leftovers
    store.close()
