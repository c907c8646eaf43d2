"""Worker reports over HTTP: report a problem or suggest a site (no login), the facility card's summary, the
planner's layer, and the admins' queue with its resolution. Tests that touch the store run on both backends
(``database_url``: the GeoPackage and PostGIS).

References are independent of the code under test: the client hash is recomputed here with ``hmac`` from the
salt read straight from the database, the rate limit is counted with SQL, the layer is compared with the
reports as sent.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from geo.errors import TooManyRequests
from geo.report_params import MAX_BODY_BYTES, MAX_TEXT, RATE_LIMIT
from geo.store.reports import ReportStore
from geo.store.tokens import TokenStore
from tests.conftest import SMALL, open_test_store, store_state, write_registry

URL = "/api/v1/reports"
ADMIN = "/api/v1/admin/reports"
#: A position in 市南区 (on land), and one in the bay (inside the city's box, in no district).
LAND = {"lon": 120.3843, "lat": 36.0620}
SEA = {"lon": 120.50, "lat": 35.95}
N, WINDOW_S = RATE_LIMIT


@pytest.fixture
def app(data_dir, database_url):
    from web import create_app

    return create_app({"TESTING": True, "WORKERMAP_DATA_DIR": data_dir, "WORKERMAP_DATABASE_URL": database_url})


@pytest.fixture
def store(app):
    return app.extensions["workermap"].store


@pytest.fixture
def auth(store) -> dict:
    return {"Authorization": f"Bearer {TokenStore(store).add('alice')}"}


def rows(store) -> list[tuple]:
    """Every stored report, read with SQL (not through ReportStore)."""
    with store.reading() as conn:
        return store._q(conn, "SELECT report_id, kind, facility_id, lon, lat, message, client_hash, status "
                              "FROM worker_reports ORDER BY report_id").fetchall()


def post(client, body, *, ip: str = "127.0.0.1", **kw):
    if isinstance(body, bytes):
        return client.post(URL, data=body, content_type=kw.pop("content_type", "application/json"),
                           environ_base={"REMOTE_ADDR": ip}, **kw)
    return client.post(URL, json=body, environ_base={"REMOTE_ADDR": ip}, **kw)


def error_of(r, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    err = r.get_json()["error"]
    assert err["status"] == status and err["code"] and err["message"]
    return err


# ---- submitting ----------------------------------------------------------------------------------------

def test_a_report_is_stored_and_answered_with_no_personal_data(client, store):
    text = "到了门是锁的 <img src=x onerror=alert(1)> 03:10"
    r = post(client, {"kind": "closed", "facility_id": "t-001", "text": text}, ip="203.0.113.9")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert set(body) == {"id", "kind", "facility_id", "lon", "lat", "text", "created_at", "status"}
    assert (body["kind"], body["facility_id"], body["text"], body["status"]) == ("closed", "t-001", text, "open")
    assert body["lon"] is None and datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert r.mimetype == "application/json" and r.headers["X-Content-Type-Options"] == "nosniff"  # never HTML
    [row] = rows(store)
    with store.reading() as conn:
        salt = store._q(conn, "SELECT value FROM store_secrets").fetchone()[0]
    assert len(salt) >= 32
    assert row[6] == hmac.new(salt.encode(), b"203.0.113.9", hashlib.sha256).hexdigest()
    assert "203.0.113.9" not in repr(row)
    if store.backend.name == "geopackage":  # the address is nowhere in the database file either
        assert b"203.0.113.9" not in store.backend.path.read_bytes()


def test_the_salt_is_made_once_and_shared_by_every_process(store, data_dir, database_url):
    first = ReportStore(store).salt()
    other = open_test_store(data_dir, database_url)  # as another gunicorn worker would
    try:
        assert ReportStore(other).salt() == first
        assert ReportStore(other).client_hash("10.0.0.1") == ReportStore(store).client_hash("10.0.0.1")
    finally:
        other.close()
    assert ReportStore(store).client_hash("10.0.0.1") != ReportStore(store).client_hash("10.0.0.2")


def test_a_site_is_suggested_at_a_position_in_a_district(client, store):
    r = post(client, {"kind": "new_site", **LAND, "text": "这个路口需要驿站"})
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["facility_id"], r.get_json()["lon"], r.get_json()["lat"]) == (None, LAND["lon"], LAND["lat"])
    assert error_of(post(client, {"kind": "new_site", **SEA}), 400)["parameter"] == "lon/lat"
    assert error_of(post(client, {"kind": "new_site"}), 400)["parameter"] == "lon/lat"
    assert len(rows(store)) == 1


#: (what, body as JSON or raw bytes, status, parameter named or None)
BAD = [
    ("not JSON", b"{kind: closed", 400, None),
    ("an array", b'[{"kind": "closed", "facility_id": "t-001"}]', 400, None),
    ("deeply nested", b"[" * 5000, 400, None),
    ("no kind", {"facility_id": "t-001"}, 400, "kind"),
    ("kind null", {"kind": None, "facility_id": "t-001"}, 400, "kind"),
    ("unknown kind", {"kind": "sauna", "facility_id": "t-001"}, 400, "kind"),
    ("kind a number", {"kind": 3, "facility_id": "t-001"}, 400, "kind"),
    ("no facility", {"kind": "closed"}, 400, "facility_id"),
    ("unknown facility", {"kind": "closed", "facility_id": "nope"}, 400, "facility_id"),
    ("removed facility", {"kind": "full", "facility_id": "t-005"}, 400, "facility_id"),
    ("facility id a number", {"kind": "closed", "facility_id": 1}, 400, "facility_id"),
    ("text too long", {"kind": "other", "facility_id": "t-001", "text": "x" * (MAX_TEXT + 1)}, 400, "text"),
    ("text a number", {"kind": "other", "facility_id": "t-001", "text": 5}, 400, "text"),
    ("text with NUL", {"kind": "other", "facility_id": "t-001", "text": "a\x00b"}, 400, "text"),
    ("text with an escape sequence", {"kind": "other", "facility_id": "t-001", "text": "\x1b[2J"}, 400, "text"),
    ("a lone surrogate", b'{"kind": "other", "facility_id": "t-001", "text": "\\ud800"}', 400, "text"),
    ("lon a string", {"kind": "new_site", "lon": "120.38", "lat": 36.06}, 400, "lon"),
    ("lon true", {"kind": "new_site", "lon": True, "lat": 36.06}, 400, "lon"),
    ("lon NaN", b'{"kind": "new_site", "lon": NaN, "lat": 36.06}', 400, "lon"),
    ("lon beyond 64 bits", b'{"kind": "new_site", "lon": 1' + b"0" * 400 + b', "lat": 36.06}', 400, "lon"),
    ("lon outside Qingdao", {"kind": "new_site", "lon": 116.4, "lat": 39.9}, 400, "lon"),
    ("swapped", {"kind": "new_site", "lon": 36.06, "lat": 120.38}, 400, "lon"),
    ("lat without lon", {"kind": "closed", "facility_id": "t-001", "lat": 36.06}, 400, "lon"),
    ("unknown member", {"kind": "closed", "facility_id": "t-001", "email": "a@b.c"}, 400, "email"),
    ("too large", b'{"kind": "other", "facility_id": "t-001", "text": "' + b"x" * MAX_BODY_BYTES + b'"}', 413, None),
    ("form encoded", b"kind=closed&facility_id=t-001", 400, None),
]


def test_bad_input_is_refused_in_the_one_shape_and_stores_nothing(client, store):
    before = store_state(store)
    for what, body, status, parameter in BAD:
        kw = {"content_type": "application/x-www-form-urlencoded"} if what == "form encoded" else {}
        err = error_of(post(client, body, **kw), status)
        if parameter is not None:
            assert err["parameter"] == parameter, (what, err)
        assert rows(store) == [], what
    assert error_of(client.post(URL + "?debug=1", json={"kind": "closed", "facility_id": "t-001"}), 400)[
        "parameter"] == "debug"
    assert client.get(URL).status_code == 405
    assert rows(store) == [] and store_state(store) == before


def test_a_body_without_content_length_is_limited_too(client, store):
    big = json.dumps({"kind": "other", "facility_id": "t-001", "text": "x" * MAX_BODY_BYTES}).encode()

    r = client.post(URL, input_stream=io.BytesIO(big), content_type="application/json",  # no Content-Length
                    environ_overrides={"wsgi.input_terminated": True})  # as a server passes a chunked body
    assert error_of(r, 413)
    assert rows(store) == []


# ---- the rate limit ------------------------------------------------------------------------------------

def test_the_rate_limit_is_per_client_and_says_when_to_retry(client, store):
    for i in range(N):
        assert post(client, {"kind": "full", "facility_id": "t-001", "text": str(i)}, ip="10.0.0.1").status_code == 201
    r = post(client, {"kind": "full", "facility_id": "t-001"}, ip="10.0.0.1")
    err = error_of(r, 429)
    assert err["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= WINDOW_S
    assert error_of(post(client, {"kind": "sauna"}, ip="10.0.0.1"), 400)  # bad input is still a 400
    assert post(client, {"kind": "full", "facility_id": "t-001"}, ip="10.0.0.2").status_code == 201  # another client
    by_client: dict[str, int] = {}
    for row in rows(store):
        by_client[row[6]] = by_client.get(row[6], 0) + 1
    assert sorted(by_client.values()) == [1, N]


def test_the_window_slides_and_retry_after_is_exact(store):
    """With a fixed clock: N reports at t0..t0+4 s; at t0+100 s the next waits until the first leaves the window."""
    t0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    now = [t0]
    reports = ReportStore(store, clock=lambda: now[0])
    for i in range(N):
        now[0] = t0 + timedelta(seconds=i)
        reports.add("other", facility_id="t-001", client_hash="abc", limit=RATE_LIMIT)
    now[0] = t0 + timedelta(seconds=100)
    with pytest.raises(TooManyRequests) as exc:
        reports.add("other", facility_id="t-001", client_hash="abc", limit=RATE_LIMIT)
    assert exc.value.headers() == {"Retry-After": str(WINDOW_S - 100)}
    assert len(rows(store)) == N
    now[0] = t0 + timedelta(seconds=WINDOW_S, milliseconds=1)  # the first has left the window
    reports.add("other", facility_id="t-001", client_hash="abc", limit=RATE_LIMIT)
    with pytest.raises(TooManyRequests) as exc:
        reports.add("other", facility_id="t-001", client_hash="abc", limit=RATE_LIMIT)
    assert exc.value.retry_after_s == 1  # the second leaves at t0 + WINDOW_S + 1 s
    assert len(rows(store)) == N + 1


def test_the_limit_holds_across_processes(store, data_dir, database_url):
    """Eight writers, each with its own store (as gunicorn workers have), send 3 reports each from one client at
    the same time: exactly N are stored, the rest are refused."""
    store.load()
    stored, refused, errors = [], [], []

    def send():
        own = open_test_store(data_dir, database_url)
        try:
            for _ in range(3):
                try:
                    stored.append(ReportStore(own).add("full", facility_id="t-002", client_hash="same",
                                                       limit=RATE_LIMIT))
                except TooManyRequests:
                    refused.append(1)
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert (len(stored), len(refused), len(rows(store))) == (N, 24 - N, N)


def test_x_forwarded_for_is_read_only_from_a_configured_proxy(data_dir):
    from web import create_app

    def spam(client, forwarded: str) -> list[int]:
        return [client.post(URL, json={"kind": "full", "facility_id": "t-001"},
                            headers={"X-Forwarded-For": forwarded}).status_code for _ in range(N + 1)]

    direct = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": data_dir}).test_client()
    assert spam(direct, "198.51.100.1") == [201] * N + [429]
    assert spam(direct, "198.51.100.2")[-1] == 429  # a forged header does not make a new client

    write_registry(data_dir.parent / "proxied" / "facilities.geojson")
    proxied_app = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": data_dir.parent / "proxied",
                              "WORKERMAP_TRUSTED_PROXIES": "127.0.0.1, ::1"})
    proxied = proxied_app.test_client()
    assert spam(proxied, "198.51.100.1") == [201] * N + [429]
    assert spam(proxied, "6.6.6.6, 198.51.100.2") == [201] * N + [429]  # the proxy's own entry counts
    assert spam(proxied, "198.51.100.3, 198.51.100.2")[0] == 429  # a forged first entry changes nothing


# ---- the facility card and the planner layer -----------------------------------------------------------

def test_summary_counts_open_reports_and_gives_the_last_verification(client, store, auth):
    assert client.get("/api/v1/reports/summary?facility_id=t-001").get_json() == {
        "facility_id": "t-001", "open_reports": 0, "verified_at": None}
    ids = [post(client, {"kind": k, "facility_id": "t-001"}).get_json()["id"] for k in ("closed", "full")]
    post(client, {"kind": "closed", "facility_id": "t-002"})
    assert client.get("/api/v1/reports/summary?facility_id=t-001").get_json()["open_reports"] == 2
    assert client.post(f"{ADMIN}/{ids[0]}/resolve", json={"note": "ok"}, headers=auth).status_code == 200
    assert client.get("/api/v1/reports/summary?facility_id=t-001").get_json()["open_reports"] == 1
    client.post(f"{ADMIN}/{ids[1]}/resolve", json={"edit": {"verified_at": "2026-11-20"}}, headers=auth)
    assert client.get("/api/v1/reports/summary?facility_id=t-001").get_json() == {
        "facility_id": "t-001", "open_reports": 0, "verified_at": "2026-11-20"}
    assert error_of(client.get("/api/v1/reports/summary?facility_id=nope"), 404)["parameter"] == "facility_id"
    assert error_of(client.get("/api/v1/reports/summary?facility_id=t-005"), 404)  # removed
    assert error_of(client.get("/api/v1/reports/summary"), 400)["parameter"] == "facility_id"
    assert error_of(client.get("/api/v1/reports/summary?facility_id=t-001&x=1"), 400)["parameter"] == "x"


def test_the_layer_has_open_reports_and_suggested_sites_but_no_texts(client, store, auth):
    secret = "秘密<b>text</b>"
    for kind, ip in [("closed", "10.0.0.1"), ("closed", "10.0.0.2"), ("full", "10.0.0.3")]:
        assert post(client, {"kind": kind, "facility_id": "t-004", "text": secret}, ip=ip).status_code == 201
    sites = [(120.40, 36.09), (120.4003, 36.0902), (120.45, 36.12)]  # the first two within ~40 m
    for i, (lon, lat) in enumerate(sites):
        assert post(client, {"kind": "new_site", "lon": lon, "lat": lat, "text": secret}, ip=f"10.1.0.{i}")
    gone = post(client, {"kind": "other", "facility_id": "t-001", "text": secret}).get_json()["id"]
    client.post(f"{ADMIN}/{gone}/resolve", json={}, headers=auth)
    r = client.get("/api/v1/reports/layer")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    assert "秘密" not in r.get_data(as_text=True) and "client" not in r.get_data(as_text=True)
    fc = r.get_json(force=True)
    assert fc["type"] == "FeatureCollection" and fc["open_reports"] == 6
    t4 = next(f for f in SMALL if f.id == "t-004")
    got = sorted((f["properties"]["kind"], f["properties"]["facility_id"], f["properties"]["count"],
                  tuple(f["geometry"]["coordinates"])) for f in fc["features"])
    assert got == sorted([
        ("closed", "t-004", 2, (t4.lon, t4.lat)), ("full", "t-004", 1, (t4.lon, t4.lat)),
        ("new_site", None, 2, (round((120.40 + 120.4003) / 2, 6), round((36.09 + 36.0902) / 2, 6))),
        ("new_site", None, 1, (120.45, 36.12))])
    assert {f["properties"]["name"] for f in fc["features"]} == {t4.name, None}
    assert error_of(client.get("/api/v1/reports/layer?kind=closed"), 400)["parameter"] == "kind"


# ---- the admins' queue ---------------------------------------------------------------------------------

def test_the_queue_needs_a_token_and_lists_by_status(client, store, auth):
    a = post(client, {"kind": "closed", "facility_id": "t-001", "text": "<b>锁门</b>"}).get_json()["id"]
    b = post(client, {"kind": "new_site", **LAND}).get_json()["id"]
    assert error_of(client.get(ADMIN), 401)
    assert error_of(client.get(ADMIN, headers={"Authorization": "Bearer wrong"}), 403)
    assert error_of(client.post(f"{ADMIN}/{a}/resolve", json={}), 401)
    queue = client.get(ADMIN, headers=auth).get_json()["reports"]
    assert [q["id"] for q in queue] == [b, a]
    assert queue[1]["text"] == "<b>锁门</b>" and queue[1]["facility_name"] == SMALL[0].name
    assert all("client_hash" not in q for q in queue)
    client.post(f"{ADMIN}/{a}/resolve", json={"note": "钥匙已放门卫"}, headers=auth)
    assert [q["id"] for q in client.get(f"{ADMIN}?status=open", headers=auth).get_json()["reports"]] == [b]
    [done] = client.get(f"{ADMIN}?status=resolved", headers=auth).get_json()["reports"]
    assert (done["id"], done["status"], done["resolved_by"], done["note"]) == (a, "resolved", "alice", "钥匙已放门卫")
    assert len(client.get(f"{ADMIN}?status=all&limit=1", headers=auth).get_json()["reports"]) == 1
    for query, param in [("status=closed", "status"), ("limit=0", "limit"), ("limit=1001", "limit"), ("x=1", "x")]:
        assert error_of(client.get(f"{ADMIN}?{query}", headers=auth), 400)["parameter"] == param


def test_resolving_with_an_edit_writes_both_in_one_audited_transaction(client, store, auth):
    rid = post(client, {"kind": "closed", "facility_id": "t-001"}).get_json()["id"]
    version = store.head()
    r = client.post(f"{ADMIN}/{rid}/resolve", json={"note": "hours fixed", "edit": {
        "opening_hours": "Mo-Fr 08:00-18:00", "status": "temporarily_closed"}}, headers=auth)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["report"]["status"] == "resolved" and body["report"]["note"] == "hours fixed"
    assert (body["facility"]["id"], body["facility"]["status"]) == ("t-001", "temporarily_closed")
    assert store.head() == version + 1 and store.load().get("t-001").opening_hours == "Mo-Fr 08:00-18:00"
    served = client.get("/api/v1/facilities").get_json(force=True)  # this worker serves the edit at once
    assert next(f for f in served["features"] if f["id"] == "t-001")["properties"]["status"] == "temporarily_closed"
    update, resolved = store.audit_entries(limit=2)
    assert (update["action"], update["id"], update["actor"], update["report_id"]) == ("update", "t-001", "alice", rid)
    assert update["after"]["status"] == "temporarily_closed"
    assert (resolved["action"], resolved["report_id"], resolved["edited"]) == ("report_resolve", rid, True)
    assert error_of(client.post(f"{ADMIN}/{rid}/resolve", json={}, headers=auth), 409)  # not twice


def test_a_refused_edit_leaves_the_report_open_and_the_registry_unchanged(client, store, auth):
    rid = post(client, {"kind": "closed", "facility_id": "t-001"}).get_json()["id"]
    before, audit = store_state(store), len(store.audit_entries(limit=1000))
    for body, status, parameter in [
        ({"edit": {"status": "exploded"}}, 422, None),
        ({"edit": {"colour": "red"}}, 400, "edit.colour"),
        ({"edit": {"lon": 116.4}}, 422, None),
        ({"edit": {"id": "t-999"}}, 422, None),
        ({"edit": {"crs": "utm", "lon": 120.39}}, 400, "crs"),
        ({"edit": "status=closed"}, 400, "edit"),
        ({"edit": []}, 400, "edit"),
        ({"note": "x" * (MAX_TEXT + 1)}, 400, "note"),
        ({"note": 5}, 400, "note"),
        ({"note": "\x1b[2J"}, 400, "note"),
        ({"notes": "typo"}, 400, "notes"),
        ([], 400, None),
    ]:
        err = error_of(client.post(f"{ADMIN}/{rid}/resolve", json=body, headers=auth), status)
        if parameter:
            assert err["parameter"] == parameter, (body, err)
    for path, status in [(f"{ADMIN}/999/resolve", 404), (f"{ADMIN}/0/resolve", 404),
                         (f"{ADMIN}/{'9' * 30}/resolve", 404), (f"{ADMIN}/x/resolve", 404)]:
        assert error_of(client.post(path, json={}, headers=auth), status)
    assert store_state(store) == before and len(store.audit_entries(limit=1000)) == audit
    assert [r[7] for r in rows(store)] == ["open"]


def test_a_failure_after_the_edit_rolls_the_edit_back(store, monkeypatch):
    """The edit and the resolution are one transaction: if storing the resolution fails, the edit is undone."""
    from geo.reports import Reports

    rid = ReportStore(store).add("closed", facility_id="t-001")["report_id"]
    before = store_state(store)
    real = store._audit

    def failing(conn, **kw):
        if kw.get("action") == "report_resolve":
            raise RuntimeError("disk full")
        return real(conn, **kw)

    monkeypatch.setattr(store, "_audit", failing)
    with pytest.raises(RuntimeError):
        Reports(store).resolve(rid, actor="alice", edit={"status": "maintenance"}, districts=store.districts)
    monkeypatch.undo()
    store._cached = None  # read back from the database, not from this process's cache
    assert store_state(store) == before
    assert ReportStore(store).get(rid)["status"] == "open"


def test_resolving_a_suggested_site_can_create_the_facility_there(client, store, auth):
    rid = post(client, {"kind": "new_site", "lon": 120.40, "lat": 36.09}).get_json()["id"]
    r = client.post(f"{ADMIN}/{rid}/resolve", headers=auth, json={"note": "建成", "edit": {
        "id": "n-100", "kind": "station", "name": "新建驿站", "opening_hours": "24/7", "amenities": ["rest"]}})
    assert r.status_code == 200, r.get_json()
    f = store.load().get("n-100")
    assert (f.lon, f.lat, f.name) == (120.40, 36.09, "新建驿站") and r.get_json()["facility"]["id"] == "n-100"
    assert store.audit_entries(limit=2)[0]["action"] == "create"
    again = post(client, {"kind": "new_site", "lon": 120.41, "lat": 36.10}).get_json()["id"]
    err = error_of(client.post(f"{ADMIN}/{again}/resolve", headers=auth, json={"edit": {
        "id": "n-100", "kind": "station", "name": "重复", "opening_hours": "24/7"}}), 409)
    assert err["parameter"] == "edit.id"
    assert ReportStore(store).get(again)["status"] == "open"


def test_the_client_is_the_connecting_address_unless_a_trusted_proxy_forwarded_it():
    from web.reports_api import client_address

    env = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7, 10.0.0.3"}
    assert client_address(env, "") == "10.0.0.2"
    assert client_address(env, "10.0.0.0/8") == "203.0.113.7"  # the last hop no trusted proxy added
    assert client_address(env, "192.168.0.1") == "10.0.0.2"  # not from a proxy: the header is ignored
    assert client_address({**env, "HTTP_X_FORWARDED_FOR": "10.0.0.9"}, "10.0.0.0/8") == "10.0.0.9"  # all proxies
    assert client_address({"REMOTE_ADDR": "10.0.0.2"}, "10.0.0.0/8") == "10.0.0.2"  # no header
    six = {"REMOTE_ADDR": "::1", "HTTP_X_FORWARDED_FOR": "2001:db8::7"}
    assert client_address(six, "127.0.0.1, ::1") == "2001:db8::7"
    assert client_address({**six, "HTTP_X_FORWARDED_FOR": "garbage, 2001:db8::8"}, "::1") == "2001:db8::8"
