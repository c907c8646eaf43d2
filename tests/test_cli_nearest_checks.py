"""``workermap nearest`` checks the point exactly as GET /api/v1/nearest does (issue #11 item 9): one check
(``geo.params.parse_point``), the same message, a swapped lon/lat named, exit status 2 with one line."""

from __future__ import annotations

import pytest

from cli import main
from tests.conftest import write_registry

#: (--lon, --lat, what the message must say)
REFUSED = [
    ("36.07", "120.38", "lon and lat look swapped"),  # swapped
    ("36.0620", "120.3843", "lon and lat look swapped"),
    ("116.40", "39.90", "lon must be a number between 119.3 and 121.3 (Qingdao), got '116.40'"),  # Beijing
    ("120.38", "39.90", "lat must be a number between 35.4 and 37.3 (Qingdao), got '39.90'"),
    ("0", "0", "got '0'"), ("x", "36.06", "got 'x'"), ("nan", "36.06", "got 'nan'"), ("inf", "36.06", "got 'inf'"),
    ("120.38", "", "lat is required"),
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("nearest-checks") / "instance"
    write_registry(d / "facilities.geojson")
    return d


def _cli(runner, data_dir, lon: str, lat: str, *extra: str):
    return runner.invoke(main, ["nearest", "--lon", lon, "--lat", lat, *extra, "--data-dir", str(data_dir)],
                         catch_exceptions=False)


@pytest.mark.parametrize(("lon", "lat", "says"), REFUSED, ids=[f"{lon},{lat}" for lon, lat, _ in REFUSED])
def test_the_cli_refuses_with_one_line_and_the_apis_message(runner, client, data_dir, lon, lat, says):
    r = _cli(runner, data_dir, lon, lat)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], r.stderr
    assert r.stdout == ""
    api = client.get(f"/api/v1/nearest?lon={lon}&lat={lat}")
    assert api.status_code == 400
    message = api.get_json()["error"]["message"]
    assert says in message and lines[0].endswith(message), (lines[0], message)


def test_a_swapped_point_is_named_in_any_datum(runner, client, data_dir):
    r = _cli(runner, data_dir, "36.07", "120.38", "--crs", "gcj02")
    assert r.exit_code == 2 and "look swapped" in r.stderr
    api = client.get("/api/v1/nearest?lon=36.07&lat=120.38&crs=bd09")
    assert api.status_code == 400 and "look swapped" in api.get_json()["error"]["message"]
    assert api.get_json()["error"]["parameter"] == "lon"


def test_a_point_in_qingdao_is_answered(runner, data_dir):
    r = _cli(runner, data_dir, "120.3843", "36.062", "-k", "1", "--open-at", "any")
    assert r.exit_code == 0, r.output
    assert "t-00" not in r.output and "测试工会驿站" in r.output and "nan" not in r.output
