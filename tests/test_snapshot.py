"""One snapshot per registry version, one per request: versions swapped under concurrent readers never mix."""

from __future__ import annotations

import sys
import threading

from pyproj import Geod

from geo.registry import Registry
from tests.conftest import make_facility

POINTS = [[120.38 + 0.0001 * i, 36.06 + 0.0001 * (i % 50)] for i in range(300)]
GEOD = Geod(ellps="WGS84")


def _registry(prefix: str, version: str, shift: float) -> Registry:
    """29 stations; the two versions put the same numbers at different places (``shift`` degrees east)."""
    return Registry(tuple(make_facility(i, id=f"{prefix}-{i:03d}", opening_hours="24/7",
                                        lon=120.3843 + 0.001 * (i % 10) + shift) for i in range(1, 30)),
                    {"sample": False}, version)


def test_swaps_under_concurrent_readers_never_mix_versions(app, monkeypatch):
    versions = {"a": _registry("a", "1001", 0.0), "b": _registry("b", "1002", 0.004)}
    where = {f.id: (f.lon, f.lat) for reg in versions.values() for f in reg.facilities}
    st = app.extensions["workermap"]
    monkeypatch.setattr(st, "reload_if_changed", lambda **kw: False)  # only this test's swaps change versions
    st.swap(versions["a"])
    stop = threading.Event()
    problems, answered = [], []

    def consistent(point, hit) -> bool:
        """The distance was measured to the place this id has in its own version."""
        lon, lat = where[hit["id"]]
        return abs(GEOD.inv(point[0], point[1], lon, lat)[2] - hit["distance_m"]) < 2.0

    def swapper():
        i = 0
        while not stop.is_set():
            i += 1
            st.swap(versions["ab"[i % 2]])

    def read(n):
        client = app.test_client()
        for j in range(n):
            if j % 3 == 0:
                fc = client.get("/api/v1/facilities").get_json(force=True)
                expected = {"1001": "a", "1002": "b"}[fc["metadata"]["version"]]
                ok = {f["id"][0] for f in fc["features"]} == {expected}
            elif j % 3 == 1:
                body = client.get("/api/v1/nearest?lon=120.386&lat=36.063&k=20&open_at=any").get_json()
                ok = all(consistent((120.386, 36.063), h) for h in body["hits"])
            else:
                body = client.post("/api/v1/nearest", json={"points": POINTS, "k": 5, "open_at": "any"}).get_json()
                ok = all(consistent(p, hit) for p, row in zip(POINTS, body["results"], strict=True) for hit in row)
                ok = ok and len({hit["id"][0] for row in body["results"] for hit in row}) == 1
            answered.append(1)
            if not ok:
                problems.append(j)

    def reader(n):
        try:
            read(n)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            problems.append(repr(exc))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads take turns often, so swaps land inside requests
    try:
        threads = [threading.Thread(target=swapper)] + [threading.Thread(target=reader, args=(30,)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads[1:]:
            t.join(120)
        stop.set()
        threads[0].join(10)
    finally:
        sys.setswitchinterval(interval)
    assert len(answered) == 90 and not problems, problems[:10]


def test_a_missing_attribute_is_an_attribute_error(app):
    """The snapshot reaches the shared state and back without asking in a circle."""
    st = app.extensions["workermap"]
    assert not hasattr(st, "no_such_thing") and not hasattr(st.snapshot, "no_such_thing")
    assert st.snapshot.settings is st.settings and st.index is st.snapshot.index
