"""Admin writes: auth, validation, audit, restore, hot reload across workers, serialised writers.

Every test runs on both stores: the GeoPackage and PostGIS (``database_url``).
"""

from __future__ import annotations

import io
import multiprocessing
import time

import pytest

from geo.store.tokens import TokenStore
from tests.conftest import open_test_store, store_state

NEW = {"id": "n-1", "kind": "station", "name": "新建工会驿站", "lon": 120.39, "lat": 36.07,
       "opening_hours": "Mo-Su 07:00-21:00", "amenities": ["rest", "microwave"]}


@pytest.fixture
def store(data_dir, database_url):
    return open_test_store(data_dir, database_url)


@pytest.fixture
def app(data_dir, database_url):
    from web import create_app

    return create_app({"TESTING": True, "WORKERMAP_DATA_DIR": data_dir, "WORKERMAP_DATABASE_URL": database_url})


@pytest.fixture
def token(store):
    return TokenStore(store).add("alice")


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def writes(store) -> list[dict]:
    """Audit entries of registry writes after the migration of the test's data directory."""
    return [e for e in store.audit_entries(limit=1000) if e["action"] not in ("migrate", "token_add", "token_revoke")]


# ---- auth -------------------------------------------------------------------------------------

def test_writes_disabled_without_any_token(client, store):
    before = store_state(store)
    r = client.post("/api/v1/admin/facilities", json=NEW, headers=auth("anything"))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "writes_disabled"
    assert client.post("/api/v1/admin/facilities", json=NEW).status_code == 401
    assert store_state(store) == before


@pytest.mark.parametrize("header,status", [
    (None, 401), ("Basic abc", 401), ("Bearer wrong-token", 403), ("Bearer ", 403),
])
def test_missing_or_wrong_token_is_refused_and_changes_nothing(client, store, token, header, status):
    before = store_state(store)
    headers = {"Authorization": header} if header else {}
    for method, url in [("post", "/api/v1/admin/facilities"), ("patch", "/api/v1/admin/facilities/t-001"),
                        ("delete", "/api/v1/admin/facilities/t-001"), ("post", "/api/v1/admin/restore"),
                        ("get", "/api/v1/admin/audit")]:
        r = getattr(client, method)(url, json=NEW, headers=headers)
        assert r.status_code == status, (method, url, r.get_json())
        assert set(r.get_json()["error"]) >= {"status", "code", "message"}
    assert store_state(store) == before
    assert writes(store) == []


def test_revoked_token_is_refused(client, store, token):
    TokenStore(store).revoke("alice")
    before = store_state(store)
    r = client.post("/api/v1/admin/facilities", json=NEW, headers=auth(token))
    assert r.status_code == 403 and "revoked" in r.get_json()["error"]["message"]
    assert store_state(store) == before


def test_tokens_are_stored_hashed(store, token):
    import hashlib

    [entry] = TokenStore(store).entries()
    assert entry["name"] == "alice" and entry["sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(TokenStore(store).entries())
    if store.backend.name == "geopackage":  # nowhere in the database file either
        assert token.encode() not in store.backend.path.read_bytes()


# ---- writes -----------------------------------------------------------------------------------

def test_create_is_served_at_once_and_audited(client, store, token):
    r = client.post("/api/v1/admin/facilities", json=NEW, headers=auth(token))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["facility"]["district"] == "市南区"
    hits = client.get("/api/v1/nearest?lon=120.39&lat=36.07&k=1&open_at=any").get_json()["hits"]
    assert hits[0]["id"] == "n-1"
    entry = writes(store)[-1]
    assert entry["actor"] == "alice" and entry["action"] == "create" and entry["before"] is None
    assert entry["after"]["name"] == "新建工会驿站"
    assert client.post("/api/v1/admin/facilities", json=NEW, headers=auth(token)).status_code == 409


def test_patch_hours_and_status_then_delete(client, store, token):
    r = client.patch("/api/v1/admin/facilities/t-001", json={"status": "maintenance"}, headers=auth(token))
    assert r.status_code == 200 and r.get_json()["facility"]["status"] == "maintenance"
    ids = [h["id"] for h in client.get("/api/v1/nearest?lon=120.3843&lat=36.062&k=5&open_at=any").get_json()["hits"]]
    assert "t-001" not in ids
    r = client.delete("/api/v1/admin/facilities/t-002", headers=auth(token))
    assert r.status_code == 200
    fc = client.get("/api/v1/facilities").get_json(force=True)
    assert "t-002" not in {f["id"] for f in fc["features"]}
    assert [e["action"] for e in writes(store)] == ["update", "remove"]
    assert [(e["version_before"], e["version_after"]) for e in writes(store)] == [(1, 2), (2, 3)]


def test_patch_move_in_gcj02_keeps_source(client, token):
    from geo.datum import wgs84_to_gcj02

    glon, glat = wgs84_to_gcj02(120.40, 36.08)
    r = client.patch("/api/v1/admin/facilities/t-001", json={"lon": glon, "lat": glat, "crs": "gcj02"},
                     headers=auth(token))
    f = r.get_json()["facility"]
    assert abs(f["lon"] - 120.40) < 1e-6 and f["source_crs"] == "gcj02"


@pytest.mark.parametrize("body,status,field", [
    ({"name": ""}, 422, "name"),
    ({"opening_hours": "每天"}, 422, "opening_hours"),
    ({"lon": 116.4, "lat": 39.9}, 422, "lon/lat"),
    ({"amenities": ["sauna"]}, 422, "amenities"),
    ({"colour": "red"}, 400, None),
    ({"id": "other"}, 422, None),
])
def test_invalid_edits_are_refused_with_details(client, store, token, body, status, field):
    before = store_state(store)
    r = client.patch("/api/v1/admin/facilities/t-001", json=body, headers=auth(token))
    assert r.status_code == status, r.get_json()
    err = r.get_json()["error"]
    if field:
        assert any(d["field"] == field for d in err["details"])
    assert store_state(store) == before


def test_unknown_id_is_404(client, token):
    r = client.patch("/api/v1/admin/facilities/nope", json={"status": "open"}, headers=auth(token))
    assert r.status_code == 404 and r.get_json()["error"]["parameter"] == "id"


def test_bulk_import_upload(client, store, token):
    csv = "名称,类型,经度,纬度\n上传驿站,station,120.3525,36.0880\n".encode()
    r = client.post("/api/v1/admin/import", data={"file": (io.BytesIO(csv), "x.csv")}, headers=auth(token),
                    content_type="multipart/form-data")
    assert r.status_code == 200 and r.get_json()["added"] == 1
    bad = "名称,类型,经度,纬度\n上传驿站,station,36.0880,120.3525\n".encode()
    before = store_state(store)
    r = client.post("/api/v1/admin/import", data={"file": (io.BytesIO(bad), "x.csv")}, headers=auth(token),
                    content_type="multipart/form-data")
    assert r.status_code == 422 and "swapped" in r.get_json()["error"]["details"][0]["message"]
    assert store_state(store) == before


def test_restore_previous_version(client, token):
    original = client.get("/api/v1/facilities").get_json(force=True)
    client.patch("/api/v1/admin/facilities/t-001", json={"name": "改名驿站"}, headers=auth(token))
    versions = client.get("/api/v1/admin/versions", headers=auth(token)).get_json()["versions"]
    assert [(v["version"], v["action"]) for v in versions] == [(1, "migrate"), (2, "update")]
    r = client.post("/api/v1/admin/restore", json={"version": versions[-2]["version"]}, headers=auth(token))
    assert r.status_code == 200 and r.get_json()["version"] == "3"
    assert client.get("/api/v1/facilities").get_json(force=True)["features"] == original["features"]
    assert client.post("/api/v1/admin/restore", json={"version": 99}, headers=auth(token)).status_code == 404
    r = client.post("/api/v1/admin/restore", json={"version": "nope"}, headers=auth(token))
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "version"


@pytest.mark.parametrize("version", ["9" * 400, "9" * 5000, str(2**63), 2**63, 2**64 - 1, "²", "٣", "-1", 0, 1.5, True])
def test_restore_refuses_what_is_not_a_version_number(client, token, version):
    """A 400 naming version, not a 500: 2**63 and beyond overflowed the database INTEGER (found by fuzzing)."""
    r = client.post("/api/v1/admin/restore", json={"version": version}, headers=auth(token))
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.get_json()["error"]["parameter"] == "version"


def test_other_worker_sees_a_write_within_a_second(app, data_dir, database_url, token):
    from web import create_app

    other = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": data_dir,
                        "WORKERMAP_DATABASE_URL": database_url}).test_client()
    assert other.get("/api/v1/facilities?kind=station").get_json(force=True)["metadata"]["count"] == 3
    app.test_client().post("/api/v1/admin/facilities", json=NEW, headers=auth(token))
    deadline = time.monotonic() + 1.0
    seen = False
    while time.monotonic() < deadline and not seen:
        seen = other.get("/api/v1/facilities?kind=station").get_json(force=True)["metadata"]["count"] == 4
        time.sleep(0.05)
    assert seen


# ---- concurrency: writers in several processes are serialised, no write is lost ----------------

def _writer(data_dir, database_url: str, worker: int, n: int) -> None:
    from tests.conftest import make_facility

    store = open_test_store(data_dir, database_url)
    for i in range(n):
        f = make_facility(100 + worker * 10 + i, id=f"w{worker}-{i}")
        store.update(lambda reg, f=f: reg.merged([f]), actor=f"w{worker}", action="create", facility_id=f.id)


def test_concurrent_writers_lose_nothing(store, data_dir, database_url):
    store.load()  # the parent opened the store (and its connection) before forking: the children must not use it
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(data_dir, database_url, w, 4)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    reg = store.load()
    assert {f"w{w}-{i}" for w in range(3) for i in range(4)} <= {f.id for f in reg.facilities}
    assert len(writes(store)) == 12 and reg.version == "13"
    assert [e["version_after"] for e in writes(store)] == list(range(2, 14))
