"""Faults: kill -9 a writer at random moments; the registry always loads as the state before or after."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from geo.registry import RegistryStore
from tests.conftest import write_registry

WRITER = """
import sys
from geo.geography import load_districts
from geo.registry import RegistryStore
store = RegistryStore(sys.argv[1], load_districts())
reg = store.load(use_backup=False)
names = ("状态A驿站", "状态B驿站")
i = 0
print("ready", flush=True)
while True:
    i += 1
    new = reg.merged([reg.get("t-001").replace(name=names[i % 2])])
    store.update(lambda _r, new=new: new, actor="fault-test", action="update", facility_id="t-001")
"""


def test_kill_9_during_writes_never_corrupts(tmp_path, districts):
    path = tmp_path / "facilities.geojson"
    write_registry(path)
    expected_others = [f for f in RegistryStore(path, districts).load().facilities if f.id != "t-001"]
    root = Path(__file__).resolve().parent.parent
    rng = random.Random(20261124)
    seen = set()
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=root, stdout=subprocess.PIPE,
                                env=dict(os.environ, PYTHONPATH=str(root)))
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        reg = RegistryStore(path, districts).load(use_backup=False)  # must load: never half-written
        name = reg.get("t-001").name
        assert name in ("测试工会驿站1", "状态A驿站", "状态B驿站")
        others = [f for f in reg.facilities if f.id != "t-001"]
        assert others == expected_others
        seen.add(name)
    assert len(seen) >= 2  # the writer really was interrupted at different points
