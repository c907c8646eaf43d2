"""Shared fixtures: tiny hand-made registries in temporary folders, the app, its client and CLI runner."""

from __future__ import annotations

import os
import shutil
from functools import cache
from pathlib import Path

import opening_hours
import pytest

from geo.export import dumps_geojson, feature_collection
from geo.geography import load_districts
from geo.model import WORKER_TYPES, Facility
from geo.settings import SHIPPED_DATA

TESTS = Path(__file__).parent
TEST_DATA = TESTS / "data"


@pytest.fixture(scope="session")
def districts():
    return load_districts()


@cache
def shipped_sample():
    """(the shipped sample registry, its FacilityIndex), loaded once per test session."""
    from geo.nearest import FacilityIndex
    from geo.registry import read_registry_file

    registry = read_registry_file(SHIPPED_DATA / "sample_facilities.geojson", load_districts())
    return registry, FacilityIndex(registry.facilities)


def brute_eligible(facilities, *, kinds=(), amenities=(), worker=None, when=None, include_closed=False,
                   open_24h=False, include_unknown_hours=False):
    """Eligibility from the raw attributes and the OSM opening-hours parser directly (not our index; no PH, no
    working calendar). Unknown hours (None) pass an hours filter only with ``include_unknown_hours``."""
    out = []
    for f in facilities:
        if f.opening_hours is None and (when is not None or open_24h):
            if include_unknown_hours and f.status != "removed" and (include_closed or f.status == "open"):
                out.extend(brute_eligible([f], kinds=kinds, amenities=amenities, worker=worker,
                                          include_closed=include_closed))
            continue
        if f.status == "removed" or (not include_closed and f.status != "open"):
            continue
        if kinds and f.kind not in kinds:
            continue
        if not set(amenities) <= set(f.amenities):
            continue
        if worker and f.access not in WORKER_TYPES[worker]:
            continue
        if when is not None and not opening_hours.OpeningHours(f.opening_hours).is_open(when):
            continue
        if open_24h and f.opening_hours != "24/7":
            continue
        out.append(f)
    return out


def make_facility(i: int, **kw) -> Facility:
    """A valid facility near 五四广场 (市南区) unless told otherwise."""
    base = dict(
        id=f"t-{i:03d}", kind="station", name=f"测试工会驿站{i}", lon=120.3843 + 0.001 * (i % 10),
        lat=36.0620 + 0.0005 * (i // 10), district_adcode="370202", district="市南区",
        amenities=("rest", "microwave"), opening_hours="Mo-Su 08:00-20:00",
    )
    base.update(kw)
    return Facility(**base)


SMALL = [
    make_facility(1),
    make_facility(2, opening_hours="24/7", amenities=("rest", "microwave", "toilet")),
    make_facility(3, kind="mother_room", name="测试爱心妈妈小屋", access="employees", amenities=("nursing_room",)),
    make_facility(4, name="台东工会驿站", lon=120.3525, lat=36.0880, district_adcode="370203", district="市北区"),
    make_facility(5, status="removed"),
]


def write_registry(path: Path, facilities=SMALL, meta=None) -> bytes:
    data = (dumps_geojson(feature_collection(facilities, meta or {"sample": False}), indent=1) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


@pytest.fixture
def data_dir(tmp_path) -> Path:
    d = tmp_path / "instance"
    write_registry(d / "facilities.geojson")
    return d


@pytest.fixture
def shipped_dir(tmp_path) -> Path:
    """A copy of the shipped data folder's small files (districts, sample)."""
    d = tmp_path / "shipped"
    d.mkdir()
    for name in ("qingdao_districts_wgs84.geojson", "sample_facilities.geojson"):
        if (SHIPPED_DATA / name).exists():
            shutil.copy(SHIPPED_DATA / name, d / name)
    return d


def require(reason: str | None) -> None:
    """Skip with ``reason`` if there is one; under CI (CI=true) fail instead: a declared test tool is missing."""
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"a declared test dependency is missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL + PostGIS cluster for the whole session (tests/pgserver.py)."""
    from tests.pgserver import PostgresServer, available

    require(available())
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["gpkg", "postgis"])
def database_url(request):
    """Each storage test runs on both backends: "" (the GeoPackage in the data dir) and a fresh PostGIS database."""
    if request.param == "gpkg":
        yield ""
        return
    server = request.getfixturevalue("pg_server")
    url = server.create_database()
    yield url
    server.drop_database(url)


def open_test_store(data_dir: Path, database_url: str = ""):
    """The store a server on ``data_dir`` / ``database_url`` would open."""
    from geo.settings import Settings
    from geo.store import open_store

    return open_store(Settings.from_env(data_dir=data_dir, database_url=database_url), load_districts())


@pytest.fixture
def store(data_dir, database_url):
    """A loaded store on the test's data dir (GeoPackage) or database (PostGIS), closed after."""
    s = open_test_store(data_dir, database_url)
    s.load()
    yield s
    s.close()


def store_state(store) -> tuple[int, list[dict]]:
    """What a test compares to say "nothing changed": the committed version and every record."""
    return store.head(), [f.properties() for f in store.load().facilities]


@pytest.fixture
def app(data_dir):
    from web import create_app

    return create_app({"TESTING": True, "WORKERMAP_DATA_DIR": data_dir})


@pytest.fixture(scope="module")
def sample_app(tmp_path_factory):
    """The app on the shipped sample registry (an empty data folder is seeded from it)."""
    from web import create_app

    return create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp_path_factory.mktemp("sample-instance")})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner():
    from click.testing import CliRunner

    return CliRunner()
