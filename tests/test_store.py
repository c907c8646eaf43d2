"""The registry store itself, on both backends: contention, versions, tokens, worker reports, fork safety,
and the GeoPackage as other tools read it (GDAL's ogrinfo and pyogrio)."""

from __future__ import annotations

import multiprocessing
import re
import subprocess
import threading

import pytest

from geo.errors import NotFound, ParameterError
from geo.registry import Registry, RegistryError
from geo.store.reports import ReportStore
from geo.store.tokens import TokenStore
from tests.conftest import SMALL, make_facility, open_test_store, store_state


def test_writers_in_threads_with_readers_lose_nothing_and_audit_in_order(store, data_dir, database_url):
    """8 writer threads (each with its own store, as separate processes would be) while readers poll."""
    errors, stop = [], threading.Event()

    def write(t):
        own = open_test_store(data_dir, database_url)
        try:
            for i in range(10):
                f = make_facility(100 + t * 10 + i, id=f"th{t}-{i}")
                own.update(lambda reg, f=f: reg.merged([f]), actor=f"t{t}", action="create", facility_id=f.id)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            own.close()

    def read():
        reader = open_test_store(data_dir, database_url)
        last = 0
        try:
            while not stop.is_set():
                reg = reader.load()
                assert int(reg.version) >= last  # never goes back
                assert len({f.id for f in reg.facilities}) == len(reg)
                last = int(reg.version)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            reader.close()

    readers = [threading.Thread(target=read) for _ in range(2)]
    writers = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for th in readers + writers:
        th.start()
    for th in writers:
        th.join(120)
    stop.set()
    for th in readers:
        th.join(30)
    assert not errors, errors[:3]
    reg = store.load()
    ids = [f.id for f in reg.facilities]
    assert sorted(i for i in ids if i.startswith("th")) == sorted(f"th{t}-{i}" for t in range(8) for i in range(10))
    creates = [e for e in store.audit_entries(limit=1000) if e["action"] == "create"]
    assert len(creates) == 80 and [e["version_after"] for e in creates] == list(range(2, 82))
    assert reg.version == "81"


def test_a_failing_change_writes_nothing(store):
    before = store_state(store)

    def boom(reg):
        raise LookupError("refused by the caller")

    with pytest.raises(LookupError):
        store.update(boom, actor="t", action="update")
    bad = make_facility(9, opening_hours="whenever")
    with pytest.raises(RegistryError) as exc:
        store.update(lambda reg: reg.merged([bad]), actor="t", action="create", facility_id=bad.id)
    assert exc.value.problems[0].field == "opening_hours"
    dup = Registry((*SMALL, SMALL[0]))
    with pytest.raises(RegistryError, match="duplicate id"):
        store.update(lambda reg: dup, actor="t", action="import_replace")
    assert store_state(store) == before
    assert [e["action"] for e in store.audit_entries()] == ["migrate"]


def test_versions_restore_and_the_order_of_records(store):
    v1 = store.load()
    store.update(lambda reg: reg.merged([make_facility(50, id="n-1")]), actor="a", action="create")
    store.update(lambda reg: Registry(tuple(f for f in reg.facilities if f.id != "t-002"), reg.meta),
                 actor="a", action="import_replace")
    store.update(lambda reg: reg.merged([reg.get("t-001").replace(name="改名")]), actor="a", action="update",
                 facility_id="t-001")
    now = store.load()
    assert [f.id for f in now.facilities] == ["t-001", "t-003", "t-004", "t-005", "n-1"]
    assert now.get("t-001").name == "改名"
    assert store.registry_at(4).facilities == now.facilities  # an edited record keeps its place
    assert store.registry_at(1).facilities == v1.facilities
    assert [f.id for f in store.registry_at(2).facilities] == [f.id for f in v1.facilities] + ["n-1"]
    restored = store.restore(1, actor="a")
    # the same records; t-002, removed at version 3 and back now, is a new row: it comes last
    assert restored.version == "5" and {f.id: f for f in restored.facilities} == {f.id: f for f in v1.facilities}
    assert [f.id for f in restored.facilities] == ["t-001", "t-003", "t-004", "t-005", "t-002"]
    # a process that never saw the intermediate versions reads the same registry, in the same order
    fresh = open_test_store(store.legacy_dir, getattr(store.backend, "url", ""))
    assert fresh.load().facilities == restored.facilities
    fresh.close()
    with pytest.raises(NotFound, match="unknown version 9"):
        store.restore(9, actor="a")
    assert [v["action"] for v in store.versions()] == ["migrate", "create", "import_replace", "update", "restore"]


def test_a_process_that_did_not_write_catches_up_with_the_changes_only(store, data_dir, database_url):
    other = open_test_store(data_dir, database_url)
    first = other.load()
    store.update(lambda reg: reg.merged([reg.get("t-004").replace(status="maintenance")]), actor="a",
                 action="update", facility_id="t-004")
    store.update(lambda reg: Registry(tuple(f for f in reg.facilities if f.id != "t-003"), reg.meta),
                 actor="a", action="import_replace")
    assert other.head() == 3
    caught_up = other.load()
    assert caught_up.facilities == store.load().facilities and caught_up.version == "3"
    assert caught_up.facilities[0] is first.facilities[0]  # unchanged records are not read again
    other.close()


def test_concurrent_token_adds_lose_none(data_dir, database_url, store):
    names = [f"user{i}" for i in range(12)]

    def add(name):
        own = open_test_store(data_dir, database_url)
        TokenStore(own).add(name)
        own.close()

    threads = [threading.Thread(target=add, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    tokens = TokenStore(store)
    assert sorted(e["name"] for e in tokens.entries()) == sorted(names)
    with pytest.raises(ValueError, match="active token named 'user1' exists"):
        tokens.add("user1")
    tokens.revoke("user1")
    assert tokens.add("user1")  # a revoked name may be used again
    assert [e["action"] for e in store.audit_entries(limit=100)].count("token_add") == 13


def test_worker_reports_are_kept_checked_and_resolved(store):
    reports = ReportStore(store)
    before = store_state(store)
    r = reports.add("closed", facility_id="t-001", message="到了门是锁的 <b>03:10</b>", client_hash="c" * 80)
    site = reports.add("new_site", lon=120.41, lat=36.09, message="这个路口需要驿站")
    assert r["status"] == "open" and r["client_hash"] == "c" * 64 and site["facility_id"] is None
    assert [x["report_id"] for x in reports.list()] == [site["report_id"], r["report_id"]]
    [only] = reports.list(facility_id="t-001")
    assert only["message"] == "到了门是锁的 <b>03:10</b>" and only["kind"] == "closed"
    done = reports.resolve(r["report_id"], actor="alice", resolution="fixed the hours")
    assert (done["status"], done["resolved_by"]) == ("resolved", "alice")
    assert [x["report_id"] for x in reports.list(status="open")] == [site["report_id"]]
    for call, param in [(lambda: reports.add("closed", facility_id="nope"), "facility_id"),
                        (lambda: reports.add("sauna", facility_id="t-001"), "kind"),
                        (lambda: reports.add("other", facility_id="t-001", message="x" * 501), "message"),
                        (lambda: reports.add("new_site", lon=116.4, lat=39.9), "lon/lat"),
                        (lambda: reports.resolve(r["report_id"], actor="alice"), "report_id")]:
        with pytest.raises(ParameterError) as exc:
            call()
        assert exc.value.parameter == param
    assert len(reports.list()) == 2
    assert store_state(store) == before  # reports never change the registry
    assert store.audit_entries()[-1]["action"] == "report_resolve"


def _child_writes(store, facility_id, queue):
    try:
        _, after = store.update(lambda reg: reg.merged([make_facility(70, id=facility_id)]), actor="child",
                                action="create", facility_id=facility_id)
        queue.put(after.version)
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        queue.put(f"error: {exc!r}")


def test_a_store_opened_before_fork_works_in_the_children(store):
    """What gunicorn does: the master loads, then forks; each child must use its own connection."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_child_writes, args=(store, f"fork-{i}", queue)) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    got = sorted(queue.get(timeout=5) for _ in procs)
    assert got == ["2", "3", "4"], got
    assert {"fork-0", "fork-1", "fork-2"} <= {f.id for f in store.load().facilities}  # parent's connection still fine


def test_the_geopackage_is_read_by_gdal_with_every_field(tmp_path, districts):
    """ogrinfo (Debian's GDAL) and pyogrio (its own GDAL) read our GeoPackage: same records, same values."""
    from geo.settings import SHIPPED_DATA
    from tests.tools import need_module, need_tool

    pyogrio = need_module("pyogrio")
    ogrinfo = need_tool("ogrinfo")

    (tmp_path / "facilities.geojson").write_bytes((SHIPPED_DATA / "sample_facilities.geojson").read_bytes())
    store = open_test_store(tmp_path)
    store.update(lambda reg: reg.merged([reg.facilities[0].replace(name="改名 <i>", capacity=None)]), actor="t",
                 action="update")
    reg = store.load()
    path = tmp_path / "workermap.gpkg"
    info = subprocess.run([ogrinfo, "-ro", "-so", str(path), "facilities"], capture_output=True, text=True,
                          check=True).stdout
    assert "Feature Count: 1676" in info and "Geometry: Point" in info and 'ID["EPSG",4326]' in info
    layers = dict(pyogrio.list_layers(path))
    assert layers["facilities"] == "Point" and "audit" in layers
    frame = pyogrio.read_dataframe(path, layer="facilities")
    assert list(frame["id"]) == [f.id for f in reg.facilities]
    first = frame.iloc[0]
    f = reg.facilities[0]
    assert (first["name"], first.geometry.x, first.geometry.y) == ("改名 <i>", f.lon, f.lat)
    assert first["amenities"] == ";".join(f.amenities) and first["capacity"] != first["capacity"]  # NaN: none
    assert [frame.geometry.x.tolist(), frame.geometry.y.tolist()] == [[g.lon for g in reg.facilities],
                                                                      [g.lat for g in reg.facilities]]
    counted = subprocess.run([ogrinfo, "-ro", "-q", str(path), "-sql", "SELECT COUNT(*) AS n FROM audit"],
                             capture_output=True, text=True, check=True).stdout
    assert re.search(r"\bn \(Integer\) = (\d+)", counted).group(1) == "2"  # migrate + update
    store.close()
