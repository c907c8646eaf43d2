"""Writes through the production server (real gunicorn workers forked from a preloaded master), on both
stores; two app servers sharing one PostGIS database see each other's writes within a second."""

from __future__ import annotations

import http.client
import json
import time
from contextlib import contextmanager
from pathlib import Path

from geo.store.tokens import TokenStore
from tests.conftest import open_test_store, write_registry
from tests.servers import free_port, start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
NEW = {"id": "prod-1", "kind": "station", "name": "生产服务器驿站", "lon": 120.391, "lat": 36.071,
       "opening_hours": "24/7", "amenities": ["rest"]}


def _request(port: int, method: str, path: str, body: dict | None = None, token: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # a new connection: any worker may answer
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        conn.close()


@contextmanager
def prod_server(data_dir: Path, database_url: str, *, workers: int = 2):
    port = free_port()
    proc = start_server(data_dir, port, "--workers", str(workers), "--no-access-log", database_url=database_url)
    log = {}
    try:
        deadline = time.time() + 40
        while time.time() < deadline:
            try:
                if _request(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("server did not start")
        yield port, log
    finally:
        _, err = stop_server(proc)
        log["stderr"] = err
    assert "Traceback" not in log["stderr"], log["stderr"][-3000:]


def _versions_seen(port: int, n: int = 16, *, workers: int = 1) -> tuple[set[str], set[int]]:
    """Registry versions served over ``n`` new connections (more, up to 100, until ``workers`` pids answered)."""
    seen, pids = set(), set()
    for i in range(100):
        if i >= n and len(pids) >= workers:
            break
        status, body = _request(port, "GET", "/healthz")
        assert status == 200
        seen.add(body["registry_version"])
        pids.add(body["pid"])
    return seen, pids


def test_admin_writes_through_the_production_server(data_dir, database_url):
    token = TokenStore(open_test_store(data_dir, database_url)).add("prod")
    with prod_server(data_dir, database_url) as (port, _):
        status, body = _request(port, "POST", "/api/v1/admin/facilities", NEW, token)
        assert status == 201, body  # the file store answered 500 here (a lock inherited across fork)
        wrote_at = time.monotonic()
        status, body = _request(port, "PATCH", "/api/v1/admin/facilities/t-001", {"status": "maintenance"}, token)
        assert status == 200, body
        time.sleep(max(0.0, 1.0 - (time.monotonic() - wrote_at)))
        seen, pids = _versions_seen(port, workers=2)
        assert seen == {"3"}, seen  # every worker serves the committed version within a second
        assert len(pids) == 2  # both workers answered
        status, body = _request(port, "GET", "/api/v1/nearest?lon=120.391&lat=36.071&k=1&open_at=any")
        assert status == 200 and body["hits"][0]["id"] == "prod-1"
        status, body = _request(port, "DELETE", "/api/v1/admin/facilities/prod-1", None, token)
        assert status == 200
        status, body = _request(port, "POST", "/api/v1/admin/facilities", {**NEW, "lon": "x"}, token)
        assert status == 422
    store = open_test_store(data_dir, database_url)
    reg = store.load()
    assert reg.version == "4" and reg.get("prod-1").status == "removed" and reg.get("t-001").status == "maintenance"
    assert [e["action"] for e in store.audit_entries()][-3:] == ["create", "update", "remove"]


def test_two_app_servers_sharing_postgis_see_each_others_writes(pg_server, tmp_path):
    url = pg_server.create_database()
    try:
        write_registry(tmp_path / "a" / "facilities.geojson")
        token = TokenStore(open_test_store(tmp_path / "a", url)).add("two")
        with prod_server(tmp_path / "a", url) as (port_a, _), prod_server(tmp_path / "b", url) as (port_b, _):
            assert _versions_seen(port_b, 4)[0] == {"1"}
            for writer, reader, fid in ((port_a, port_b, "from-a"), (port_b, port_a, "from-b")):
                status, body = _request(writer, "POST", "/api/v1/admin/facilities", {**NEW, "id": fid}, token)
                assert status == 201, body
                wrote_at = time.monotonic()
                while True:  # poll the other server until it serves the write; it must within a second
                    status, body = _request(reader, "GET", f"/ogc/collections/facilities/items/{fid}")
                    if status == 200:
                        break
                    assert time.monotonic() - wrote_at < 1.0, f"{fid} not seen by the other server within 1 s"
                    time.sleep(0.05)
                assert body["properties"]["name"] == NEW["name"]
    finally:
        pg_server.drop_database(url)
