"""Shared fixtures: tiny hand-made registries in temporary folders, the app, its client and CLI runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from geo.export import dumps_geojson, feature_collection
from geo.geography import load_districts
from geo.model import Facility
from geo.settings import SHIPPED_DATA

TESTS = Path(__file__).parent
TEST_DATA = TESTS / "data"


@pytest.fixture(scope="session")
def districts():
    return load_districts()


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


@pytest.fixture
def app(data_dir):
    from web import create_app

    return create_app({"TESTING": True, "WORKERMAP_DATA_DIR": data_dir})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner():
    from click.testing import CliRunner

    return CliRunner()
