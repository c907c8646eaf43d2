"""The registry store at start-up: corrupt or missing files give a clear error, or the backup with a warning."""

from __future__ import annotations

import http.client
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geo.registry import RegistryError, RegistryStore
from tests.conftest import write_registry
from web.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_corrupt_without_backup_is_a_clear_error(tmp_path, districts):
    p = tmp_path / "facilities.geojson"
    p.write_bytes(b'{"type": "FeatureCollection", "features": [{"type": "Feat')
    with pytest.raises(RegistryError, match="not valid JSON"):
        RegistryStore(p, districts).load()


def test_invalid_record_refuses_the_whole_file(tmp_path, districts):
    p = tmp_path / "facilities.geojson"
    data = write_registry(p).replace(b'"Mo-Su 08:00-20:00"', b'"whenever"', 1)
    p.write_bytes(data)
    with pytest.raises(RegistryError) as exc:
        RegistryStore(p, districts).load()
    assert exc.value.problems and exc.value.problems[0].field == "opening_hours"


def test_corrupt_with_backup_starts_from_backup_loudly(tmp_path, districts, caplog):
    p = tmp_path / "facilities.geojson"
    write_registry(p)
    store = RegistryStore(p, districts)
    good = store.load()
    store.save(good)  # creates the .bak
    p.write_bytes(p.read_bytes()[:100])  # truncated, as after a disk fault
    with caplog.at_level(logging.WARNING):
        reg = store.load()
    assert reg.facilities == good.facilities
    assert "STARTED FROM BACKUP" in caplog.text
    with pytest.raises(RegistryError):
        store.load(use_backup=False)


def test_missing_registry_is_initialised_from_the_sample_once(tmp_path, districts, shipped_dir):
    store = RegistryStore(tmp_path / "new" / "facilities.geojson", districts,
                          seed_from=shipped_dir / "sample_facilities.geojson")
    reg = store.load()
    assert len(reg) == 1676 and reg.is_sample
    assert (shipped_dir / "sample_facilities.geojson").read_bytes() == store.path.read_bytes()


def test_missing_registry_without_sample_is_an_error(tmp_path, districts):
    with pytest.raises(RegistryError, match="cannot be read"):
        RegistryStore(tmp_path / "none.geojson", districts).load()


def test_serve_refuses_a_corrupt_registry_with_exit_2(runner, data_dir):
    (data_dir / "facilities.geojson").write_text("{oops", encoding="utf-8")
    r = runner.invoke(main, ["--data-dir", str(data_dir), "serve", "--port", "1"])
    assert r.exit_code == 2 and "cannot start" in r.output and "not valid JSON" in r.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("worker_class", ["gevent", "sync"])
def test_prod_server_healthz_and_json_error_logs(data_dir, worker_class):
    import urllib.request

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "web", "--data-dir", str(data_dir), "serve", "--prod",
                             "--workers", "2", "--port", str(port), "--worker-class", worker_class], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        body = None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    body = r.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert body and '"status":"ok"' in body and '"facilities":5' in body
        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/nearest?lon=1&lat=2", timeout=2)
        bad.value.close()
        assert bad.value.code == 400
        # keep-alive: several requests, good and bad, over one connection
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        for path, status in [("/api/v1/nearest?lon=120.38&lat=36.06&open_at=any", 200),
                             ("/api/v1/nearest?lon=120.38", 400), ("/healthz", 200)]:
            conn.request("GET", path)
            r = conn.getresponse()
            assert r.status == status
            assert (r.getheader("Connection", "").lower() == "close") == (worker_class == "sync")
            r.read()
            if worker_class == "sync":  # closed after each request
                conn.close()
        conn.close()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert '"GET /healthz HTTP/1.1" 200' in out + err  # access log
    assert '"logger": "web"' in err  # structured app log
    assert "Booting worker" in err and err.count("Booting worker") == 2
    assert ("FairGeventWorker" if worker_class == "gevent" else "Using worker: sync") in err
    assert "Warning" not in err and "Traceback" not in err
