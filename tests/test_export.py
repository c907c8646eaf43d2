"""Exports read back by GDAL's own ogrinfo (an independent reader) and by our importer."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess

import pytest

from geo.export import facilities_csv, facilities_export
from tests.conftest import SMALL, make_facility, open_test_store, write_registry
from tests.tools import need_tool


def write_export(facilities, path, fmt):
    path.write_bytes(facilities_export(facilities, fmt))
    return path


def ogrinfo(*args: str, summary: bool = True) -> str:
    """GDAL's ``ogrinfo -ro -al`` (``-so``: the summary only); the test needs gdal-bin (skipped or failed without)."""
    cmd = [need_tool("ogrinfo"), "-ro", "-al", *(["-so"] if summary else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def feature_count(text: str) -> int:
    return int(re.search(r"Feature Count: (\d+)", text).group(1))


@pytest.mark.parametrize("fmt,suffix", [("geojson", "geojson"), ("csv", "csv"), ("gpkg", "gpkg")])
def test_ogrinfo_reads_every_export(tmp_path, fmt, suffix):
    path = write_export(SMALL, tmp_path / f"out.{suffix}", fmt)
    args = [str(path)]
    if fmt == "csv":
        args = ["-oo", "X_POSSIBLE_NAMES=lon", "-oo", "Y_POSSIBLE_NAMES=lat", str(path)]
    info = ogrinfo(*args)
    assert feature_count(info) == len(SMALL)
    if fmt != "csv":
        assert "WGS 84" in info or "4326" in info


def test_geojson_is_rfc7946(tmp_path):
    path = write_export([make_facility(1, lon=120.123456789123, lat=36.1)], tmp_path / "o.geojson", "geojson")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert "crs" not in doc
    lon, lat = doc["features"][0]["geometry"]["coordinates"]
    assert len(repr(lon).split(".")[1]) <= 7 and 119 < lon < 122 and 35 < lat < 38  # lon first, ≤ 7 decimals


def test_csv_has_bom_and_chinese_and_neutralises_formulas():
    text = facilities_csv([make_facility(1, name="=CMD('calc')", address="+1 路", phone="@SUM(A1)")])
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert rows[0]["name"] == "'=CMD('calc')" and rows[0]["address"] == "'+1 路" and rows[0]["phone"] == "'@SUM(A1)"
    assert rows[0]["district"] == "市南区"


def test_gpkg_keeps_chinese_text(tmp_path):
    path = write_export(SMALL, tmp_path / "o.gpkg", "gpkg")
    assert "台东工会驿站" in ogrinfo("-q", str(path), summary=False)


@pytest.mark.parametrize("fmt,suffix", [("geojson", "geojson"), ("csv", "csv")])
def test_export_then_import_gives_the_same_registry(tmp_path, districts, data_dir, fmt, suffix):
    before = open_test_store(data_dir).load()
    path = write_export(before.facilities, tmp_path / f"rt.{suffix}", fmt)
    write_registry(tmp_path / "other" / "facilities.geojson", [])
    other = open_test_store(tmp_path / "other")
    report = other.import_file(path, replace=True)
    assert report.written, [str(p) for p in report.problems]
    assert other.load().facilities == before.facilities
