"""Static files under content-hashed URLs (cached a year), and district outlines simplified for display.

Hashes are checked against ``hashlib`` on the files themselves; the outlines against the full district
polygons in EPSG:4549 through pyproj and shapely directly (not ``geo.crs``), Hausdorff distance in metres.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import brotli
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from geo.geography import OUTLINE_GRID_DEG, OUTLINE_TOLERANCE_M
from web import assets
from web.assets import HASH_LEN, IMMUTABLE, StaticFiles

STATIC = Path(assets.__file__).parent / "static"
HASHED = re.compile(rf"^/static/(?P<stem>.+)\.(?P<hash>[0-9a-f]{{{HASH_LEN}}})(?P<ext>\.[a-z]+)$")


@pytest.fixture(scope="module")
def client(sample_app):
    return sample_app.test_client()


@pytest.mark.parametrize("page", ["/", "/planner", "/map", "/api/docs", "/ogc/collections/station?f=html",
                                  "/ogc/collections/station/items?f=html"])
def test_pages_link_static_files_by_content_hash(client, page):
    html = client.get(page).get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert urls, page
    for url in urls:
        m = HASHED.match(url)
        assert m, f"{page}: {url} has no content hash"
        data = (STATIC / (m["stem"] + m["ext"])).read_bytes()
        assert hashlib.sha256(data).hexdigest().startswith(m["hash"]), url
        resp = client.get(url)
        assert resp.status_code == 200 and resp.data == data
        assert resp.headers["Cache-Control"] == IMMUTABLE
        etag = resp.headers["ETag"]
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_plain_and_outdated_names_are_revalidated(client):
    """Leaflet's CSS asks for images by their plain names; a page from before a deploy for an old hash."""
    png = client.get("/static/vendor/leaflet/images/layers.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.headers["Cache-Control"] == "no-cache" and png.headers["ETag"]
    assert client.get("/static/vendor/leaflet/images/layers.png",
                      headers={"If-None-Match": png.headers["ETag"]}).status_code == 304
    old = client.get("/static/js/common.0123456789.js")
    assert old.status_code == 200 and old.data == (STATIC / "js/common.js").read_bytes()
    assert old.headers["Cache-Control"] == "no-cache"
    for missing in ("/static/js/nothing.js", "/static/js/nothing.0123456789.js", "/static/../pyproject.toml",
                    "/static/js"):
        assert client.get(missing).status_code == 404, missing


def test_hashed_url_changes_when_the_file_changes(tmp_path, sample_app, monkeypatch):
    (tmp_path / "js").mkdir()
    f = tmp_path / "js" / "app.js"
    v1, v2 = b"var a = 1;\n", b"var a = 22;\n"
    f.write_bytes(v1)
    files = StaticFiles(tmp_path)
    monkeypatch.setattr(assets, "STATIC", files)
    client = sample_app.test_client()
    with sample_app.test_request_context():
        from flask import url_for

        first = url_for("static", filename="js/app.js")
    assert first == f"/static/js/app.{hashlib.sha256(v1).hexdigest()[:HASH_LEN]}.js"
    assert client.get(first).headers["Cache-Control"] == IMMUTABLE
    f.write_bytes(v2)
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    with sample_app.test_request_context():
        second = url_for("static", filename="js/app.js")
    assert second != first and second == f"/static/js/app.{hashlib.sha256(v2).hexdigest()[:HASH_LEN]}.js"
    new = client.get(second)
    assert new.data == v2 and new.headers["Cache-Control"] == IMMUTABLE
    stale = client.get(first)  # the old URL: today's file, not to be kept
    assert stale.data == v2 and stale.headers["Cache-Control"] == "no-cache"
    assert files.name("js/none.js") == "js/none.js"


def test_folium_pages_use_the_same_helper():
    from web.maps import local_assets

    js, css = local_assets("/static/")
    for _, url in [*js, *css]:
        assert HASHED.match(url), url


# -- district outlines for display --------------------------------------------------------------------

def _metric(geom):
    to_4549 = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(to_4549.transform(xy[:, 0], xy[:, 1])))


@pytest.fixture(scope="module")
def outlines(client):
    full = client.get("/api/v1/districts").get_json(force=True)
    light = client.get("/worker/districts.geojson").get_json(force=True)
    return full, light


def test_outlines_keep_every_district_and_stay_within_the_tolerance(outlines):
    full, light = outlines
    assert light["metadata"]["tolerance_m"] == OUTLINE_TOLERANCE_M
    assert [f["id"] for f in light["features"]] == [f["id"] for f in full["features"]] and len(full["features"]) == 10
    # the grid the outlines are rounded to moves a vertex by at most half its diagonal (~0.7 m)
    slack = 0.5 * np.hypot(OUTLINE_GRID_DEG * 111_320 * np.cos(np.radians(36.5)), OUTLINE_GRID_DEG * 110_950)
    for a, b in zip(light["features"], full["features"], strict=True):
        assert a["properties"] == b["properties"]
        simple, real = _metric(shape(a["geometry"])), _metric(shape(b["geometry"]))
        assert simple.is_valid and not simple.is_empty
        assert shapely.get_num_geometries(simple) == shapely.get_num_geometries(real)  # every island kept
        assert shapely.get_num_coordinates(simple) < shapely.get_num_coordinates(real) / 2
        d = shapely.hausdorff_distance(simple, real, densify=0.1)  # each segment checked at 10 points
        assert d <= OUTLINE_TOLERANCE_M + slack, (a["id"], d)


def test_outlines_keep_shared_borders(outlines):
    """Neighbours share one border: no overlap, and no gap (no hole the full districts do not have)."""
    full, light = outlines
    simple = [_metric(shape(f["geometry"])) for f in light["features"]]
    real = [_metric(shape(f["geometry"])) for f in full["features"]]
    for i in range(len(simple)):
        for j in range(i + 1, len(simple)):
            assert shapely.area(shapely.intersection(simple[i], simple[j])) < 1.0  # m²
            if shapely.length(shapely.intersection(real[i].boundary, real[j].boundary)) > 0:
                assert shapely.length(shapely.intersection(simple[i].boundary, simple[j].boundary)) > 0

    def holes(geoms):
        union = shapely.union_all(geoms, grid_size=0.01)
        return sum(len(p.interiors) for p in shapely.get_parts(union))

    assert holes(simple) == holes(real)


def test_outlines_are_light_and_the_full_geometry_stays_for_analysis(client, outlines, sample_app):
    full, light = outlines
    frame = sample_app.extensions["workermap"].districts.frame
    assert sum(shapely.get_num_coordinates(shape(f["geometry"])) for f in full["features"]) == \
        shapely.get_num_coordinates(frame.geometry.values).sum()
    export = client.get("/api/v1/export?format=geojson&layer=districts").get_json(force=True)
    assert [f["geometry"] for f in export["features"]] == [f["geometry"] for f in full["features"]]
    raw = client.get("/worker/districts.geojson").data
    full_br = brotli.compress(json.dumps(full).encode(), quality=11)
    assert len(brotli.compress(raw, quality=11)) < 25 * 1024 < len(full_br)
