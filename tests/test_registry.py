"""The registry store at start-up: migration from a GeoJSON data directory, seeding, refusals with reasons."""

from __future__ import annotations

import http.client
import time
from pathlib import Path

import pytest

from cli import main
from geo.registry import RegistryError, read_registry_file
from geo.store import StoreUnavailable
from tests.conftest import SMALL, open_test_store, write_registry
from tests.servers import free_port, start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent


def test_invalid_record_in_a_legacy_file_refuses_the_start(tmp_path, database_url):
    p = tmp_path / "facilities.geojson"
    data = write_registry(p).replace(b'"Mo-Su 08:00-20:00"', b'"whenever"', 1)
    p.write_bytes(data)
    with pytest.raises(RegistryError) as exc:
        open_test_store(tmp_path, database_url).load()
    assert exc.value.problems and exc.value.problems[0].field == "opening_hours"
    # nothing half-done: the next start refuses the same way (the database stayed empty)
    with pytest.raises(RegistryError):
        open_test_store(tmp_path, database_url).load()


def test_corrupt_legacy_file_is_a_clear_error(tmp_path):
    (tmp_path / "facilities.geojson").write_bytes(b'{"type": "FeatureCollection", "features": [{"type": "Feat')
    with pytest.raises(RegistryError, match="not valid JSON"):
        open_test_store(tmp_path).load()


def test_legacy_data_directory_is_migrated_losslessly(tmp_path, database_url, districts):
    """Every field of every record of the shipped sample survives the migration, in order."""
    from geo.settings import SHIPPED_DATA

    (tmp_path / "facilities.geojson").write_bytes((SHIPPED_DATA / "sample_facilities.geojson").read_bytes())
    (tmp_path / "audit.jsonl").write_text('{"time":"2026-01-02T03:04:05.000+00:00","actor":"alice","action":"create",'
                                          '"id":"x-1","before":null,"after":{"name":"甲"},"file":"a.csv"}\n{"torn',
                                          encoding="utf-8")
    (tmp_path / "admin_tokens.json").write_text('[{"name": "bob", "sha256": "' + "ab" * 32 + '", "created": '
                                                '"2026-01-01T00:00:00+00:00", "revoked": false}]', encoding="utf-8")
    expected = read_registry_file(SHIPPED_DATA / "sample_facilities.geojson", districts)
    store = open_test_store(tmp_path, database_url)
    got = store.load()
    assert len(got) == len(expected) == 1676
    assert [f.properties() for f in got.facilities] == [f.properties() for f in expected.facilities]
    assert got.facilities == expected.facilities and got.is_sample and got.meta["seed"] == expected.meta["seed"]
    # and a second process reads the same from the database alone
    again = open_test_store(tmp_path, database_url).load()
    assert [f.properties() for f in again.facilities] == [f.properties() for f in expected.facilities]
    audit = store.audit_entries()
    assert audit[0]["actor"] == "alice" and audit[0]["after"] == {"name": "甲"} and audit[0]["file"] == "a.csv"
    assert audit[-1]["action"] == "migrate"
    from geo.store.tokens import TokenStore

    assert [(e["name"], e["revoked"]) for e in TokenStore(store).entries()] == [("bob", False)]


def test_empty_data_directory_is_seeded_from_the_sample_once(tmp_path, shipped_dir, database_url, districts):
    from geo.settings import Settings
    from geo.store import open_store

    settings = Settings.from_env(data_dir=tmp_path / "new", shipped_dir=shipped_dir, database_url=database_url)
    store = open_store(settings, districts)
    reg = store.load()
    assert len(reg) == 1676 and reg.is_sample and reg.version == "1"
    assert open_store(settings, districts).load().version == "1"  # a second start does not seed again
    assert [v["action"] for v in store.versions()] == ["seed"]


def test_missing_sample_and_no_data_is_an_error(tmp_path, districts):
    from geo.settings import Settings
    from geo.store import open_store

    settings = Settings.from_env(data_dir=tmp_path / "d", shipped_dir=tmp_path / "nothing")
    with pytest.raises(RegistryError, match="cannot be read"):
        open_store(settings, districts).load()


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    (tmp_path / "workermap.gpkg").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreUnavailable, match="workermap.gpkg"):
        open_test_store(tmp_path).load()


def test_unreachable_postgres_is_one_line_from_the_cli(runner, tmp_path):
    r = runner.invoke(main, ["--data-dir", str(tmp_path), "--database-url", "postgresql://nobody@127.0.0.1:1/none",
                             "validate"])
    assert r.exit_code == 2 and r.output.startswith("error: registry database postgresql://nobody@127.0.0.1:1/none")
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_serve_refuses_a_corrupt_registry_with_exit_2(runner, data_dir):
    (data_dir / "facilities.geojson").write_text("{oops", encoding="utf-8")
    r = runner.invoke(main, ["--data-dir", str(data_dir), "serve", "--port", "1"])
    assert r.exit_code == 2 and "cannot start" in r.output and "not valid JSON" in r.output


def test_an_invalid_record_written_behind_our_back_is_refused_at_load(tmp_path):
    """Someone edits the GeoPackage in QGIS and breaks a record: a new process refuses it, naming it."""
    import sqlite3

    write_registry(tmp_path / "facilities.geojson", SMALL)
    store = open_test_store(tmp_path)
    store.load()
    with sqlite3.connect(tmp_path / "workermap.gpkg") as conn:
        conn.execute("UPDATE facilities SET opening_hours = 'whenever' WHERE id = 't-002'")
    conn.close()
    with pytest.raises(RegistryError) as exc:
        open_test_store(tmp_path).load()
    assert "t-002" in exc.value.problems[0].message and exc.value.problems[0].field == "opening_hours"


@pytest.mark.parametrize("worker_class", ["gevent", "sync"])
def test_prod_server_healthz_and_json_error_logs(data_dir, worker_class):
    import urllib.request

    port = free_port()
    proc = start_server(data_dir, port, "--workers", "2", "--worker-class", worker_class)
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
        out, err = stop_server(proc)
    assert '"GET /healthz HTTP/1.1" 200' in out + err  # access log
    assert '"logger": "web"' in err  # structured app log
    assert "Booting worker" in err and err.count("Booting worker") == 2
    assert ("FairGeventWorker" if worker_class == "gevent" else "Using worker: sync") in err
    assert "Warning" not in err and "Traceback" not in err
