"""`workermap serve --prod` as a service runs it: two servers of one user side by side, and data files the
service's group can read."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.conftest import write_registry
from tests.servers import free_port, start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent


def _healthz(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return json.loads(r.read())
    except OSError:
        return None


def _start(data_dir: Path, port: int, env: dict) -> subprocess.Popen:
    return start_server(data_dir, port, "--workers", "1", "--no-access-log", env=env,
                        umask=0o027)  # a service's usual umask: the group may read


def _stop(proc: subprocess.Popen) -> str:
    return stop_server(proc)[1]


def test_two_prod_servers_side_by_side_and_group_readable_data(tmp_path):
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    runtime.mkdir()
    # where gunicorn >= 25.1 puts its one control socket per user unless told otherwise
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    dirs = [tmp_path / "a", tmp_path / "b"]
    for d in dirs:
        write_registry(d / "facilities.geojson")
    ports = [free_port(), free_port()]
    procs = [_start(d, p, env) for d, p in zip(dirs, ports, strict=True)]
    errs = ["", ""]
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not all(_healthz(p) for p in ports):
            assert all(proc.poll() is None for proc in procs), [_stop(proc)[-2000:] for proc in procs]
            time.sleep(0.2)
        assert all(_healthz(p) for p in ports), "servers did not start"
        errs[0] = _stop(procs[0])
        time.sleep(0.5)
        body = _healthz(ports[1])
        assert body and body["status"] == "ok"  # the other one still answers
    finally:
        for i, proc in enumerate(procs):
            if proc.poll() is None:
                errs[i] = _stop(proc)
    for err in errs:
        assert "Traceback" not in err and "Control socket listening" not in err, err[-2000:]
    assert not (runtime / "gunicorn.ctl").exists() and not (home / ".gunicorn").exists()
    assert list(runtime.iterdir()) == []
    for d in dirs:  # the registry database (and any WAL files) the servers created: readable by the group
        made = [p for p in d.iterdir() if p.is_file() and p.name != "facilities.geojson"]
        assert any(p.name == "workermap.gpkg" for p in made)
        for p in made:
            assert p.stat().st_mode & stat.S_IRGRP, f"{p.name} is {stat.filemode(p.stat().st_mode)}"
