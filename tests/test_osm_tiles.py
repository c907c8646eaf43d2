"""The offline street basemap: a synthetic OpenStreetMap extract (written here with pyosmium) becomes a
PMTiles archive (geo/osm_tiles.py, tippecanoe), read back with the independent PyPI ``pmtiles`` reader and
``mapbox-vector-tile``; the app serves it by HTTP Range (web/tiles.py) and tells the pages it exists."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from geo.errors import ParameterError, Unprocessable
from geo.osm_tiles import ATTRIBUTION, MAX_ZOOM, MIN_ZOOM, TILES_FILE, build_street_tiles, tippecanoe_path
from tests.osm_fixtures import CITY, TIMESTAMP, write_city, write_extract
from tests.tools import need_module

osmium = need_module("osmium", module_level=True)

#: The synthetic city: around 五四广场, 市南区 (WGS84).
BBOX = [120.30, 36.00, 120.50, 36.15]
PRIMARY = {"name": "香港中路", "name_en": "Hongkong Middle Road", "lat": 36.0620, "lon": (120.370, 120.400)}
#: A street far outside BBOX (烟台): never in the archive.
OUTSIDE = "烟台外面路"


def write_street_extract(path: Path) -> Path:
    """A tiny .osm.pbf: a primary road, a residential street, a footway, a proposed road, a river, a lake
    (a closed way), a park (a multipolygon relation), a named suburb, and a street outside :data:`BBOX`."""
    nodes, ways, ids = [], [], iter(range(1, 1_000_000))

    def way(wid, coords, tags, closed=False):
        refs = [next(ids) for _ in coords]
        nodes.extend((ref, lon, lat) for ref, (lon, lat) in zip(refs, coords, strict=True))
        ways.append((wid, refs + refs[:1] if closed else refs, tags))

    lat = PRIMARY["lat"]
    way(10, [(PRIMARY["lon"][0], lat), (120.385, lat), (PRIMARY["lon"][1], lat)],
        {"highway": "primary", "name": PRIMARY["name"], "name:en": PRIMARY["name_en"], "ref": "S1"})
    way(11, [(120.385, 36.055), (120.385, 36.075)], {"highway": "residential", "name": "闽江路"})
    way(12, [(120.372, 36.058), (120.398, 36.058)], {"highway": "footway", "name": "海滨步道"})
    way(13, [(120.372, 36.052), (120.398, 36.052)], {"highway": "proposed", "name": "规划路"})
    way(14, [(120.370, 36.0645), (120.400, 36.0650)], {"waterway": "river", "name": "测试河"})
    way(15, [(120.368, 36.050), (120.371, 36.050), (120.371, 36.054), (120.368, 36.054)],
        {"natural": "water", "name": "测试湖"}, closed=True)
    way(16, [(120.375, 36.064), (120.380, 36.064), (120.380, 36.068), (120.375, 36.068)], {}, closed=True)
    way(17, [(121.40, 37.50), (121.45, 37.50)], {"highway": "primary", "name": OUTSIDE})
    nodes.append((next(ids), 120.386, 36.063, {"place": "suburb", "name": "八大关"}))
    park = (1, [("w", 16, "outer")], {"type": "multipolygon", "leisure": "park", "name": "测试公园"})
    return write_extract(path, nodes, ways, [park])


def install_street_tiles(data_dir: Path, work: Path) -> dict:
    """``<data_dir>/osm/`` as ``workermap osm import`` leaves it (the parts the street basemap reads):
    the archive built from :func:`write_street_extract` and a provenance.json as in the contract."""
    pbf = write_street_extract(work / "city.osm.pbf")
    osm = data_dir / "osm"
    info = build_street_tiles(pbf, osm / TILES_FILE, BBOX)
    (osm / "provenance.json").write_text(json.dumps({
        "file": pbf.name, "sha256": hashlib.sha256(pbf.read_bytes()).hexdigest(), "size_bytes": pbf.stat().st_size,
        "osm_timestamp": TIMESTAMP, "imported_at": datetime.now(UTC).isoformat(), "clip_to_city": False,
        "bbox_wgs84": BBOX, "attribution": "© OpenStreetMap contributors (ODbL 1.0)",
        "licence_url": "https://www.openstreetmap.org/copyright", "modes": {}, "landmarks": 0, "tiles": TILES_FILE,
        "reader": info["reader"]}, ensure_ascii=False), encoding="utf-8")
    return info


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def _lat_of(z: int, y_tile: int, y_px: float, extent: int) -> float:
    """Web Mercator tile pixel -> latitude (the inverse of :func:`_tile_of`)."""
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y_tile + y_px / extent) / 2 ** z))))


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    if tippecanoe_path() is None:
        need_module("tippecanoe")  # skipped locally, a failure under CI
        pytest.fail("the tippecanoe package is installed but its executable is missing")
    work = tmp_path_factory.mktemp("osm-tiles")
    data_dir = work / "instance"
    info = install_street_tiles(data_dir, work)
    return data_dir / "osm" / TILES_FILE, info, data_dir


def _decode(path: Path, lon: float, lat: float, z: int) -> dict:
    reader = need_module("pmtiles.reader")
    mvt = need_module("mapbox_vector_tile")
    with path.open("rb") as f:
        r = reader.Reader(reader.MmapSource(f))
        data = r.get(z, *_tile_of(lon, lat, z))
    if data is None:
        return {}
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return mvt.decode(data, default_options={"y_coord_down": True})


def _names(tile: dict, layer: str) -> set[str]:
    return {f["properties"].get("name") for f in tile.get(layer, {}).get("features", [])}


def test_the_archive_has_streets_by_class_water_green_and_names(archive):
    path, info, _ = archive
    assert info["file"] == TILES_FILE and info["bytes"] == path.stat().st_size > 0
    assert info["zooms"] == [MIN_ZOOM, MAX_ZOOM] and info["tool"].startswith("tippecanoe 2.")
    assert info["reader"].startswith("pyosmium ")
    # primary, residential, footway; the proposed road and the one outside the box are left out
    assert info["layers"] == {"streets": 3, "water": 2, "green": 1, "places": 1}
    reader = need_module("pmtiles.reader")
    with path.open("rb") as f:
        r = reader.Reader(reader.MmapSource(f))
        header, meta = r.header(), r.metadata()
        everything = list(reader.all_tiles(r.get_bytes))
    assert (header["min_zoom"], header["max_zoom"]) == (MIN_ZOOM, MAX_ZOOM)
    assert meta["attribution"] == ATTRIBUTION and "OpenStreetMap contributors" in ATTRIBUTION
    assert {layer["id"] for layer in meta["vector_layers"]} == {"streets", "water", "green", "places"}
    blob = b"".join(gzip.decompress(d) if d[:2] == b"\x1f\x8b" else d for _, d in everything)
    assert OUTSIDE.encode() not in blob and "规划路".encode() not in blob

    z14 = _decode(path, 120.385, PRIMARY["lat"], 14)
    streets = {f["properties"]["name"]: f for f in z14["streets"]["features"]}
    primary = streets[PRIMARY["name"]]["properties"]
    assert primary == {"class": "primary", "name": PRIMARY["name"], "name_en": PRIMARY["name_en"], "ref": "S1"}
    assert streets["闽江路"]["properties"]["class"] == "minor"
    assert "海滨步道" not in streets  # footways from zoom 15
    assert {"测试河", "测试湖"} <= _names(z14, "water") and _names(z14, "green") == {"测试公园"}
    assert _names(z14, "places") == {"八大关"}
    # the road is where it is: its tile y back to latitude, within a tile unit (~0.6 m at zoom 14)
    extent = z14["streets"]["extent"]
    ys = {p[1] for p in streets[PRIMARY["name"]]["geometry"]["coordinates"]}
    y_tile = _tile_of(120.385, PRIMARY["lat"], 14)[1]
    assert all(abs(_lat_of(14, y_tile, y, extent) - PRIMARY["lat"]) < 1e-5 for y in ys)

    assert _names(_decode(path, 120.385, 36.058, 15), "streets") >= {"海滨步道", "闽江路"}
    z10 = _decode(path, 120.385, PRIMARY["lat"], 10)  # the city view: main roads and water, no minor streets
    assert _names(z10, "streets") == {PRIMARY["name"]} and "测试河" in _names(z10, "water")


def test_the_shared_synthetic_city_has_its_streets_by_class(archive, tmp_path):
    pbf = write_city(tmp_path / "city.osm.pbf")
    lons, lats = [n[1] for n in CITY.nodes], [n[2] for n in CITY.nodes]
    out = tmp_path / TILES_FILE
    info = build_street_tiles(pbf, out, [min(lons) - 0.01, min(lats) - 0.01, max(lons) + 0.01, max(lats) + 0.01])
    # 8 highways (the ferry is no street), the river, the park, 五四广场 (a square's name from zoom 15)
    assert info["layers"] == {"streets": 8, "water": 1, "green": 1, "places": 1}
    z15 = _decode(out, *CITY.lonlat(0, 2000), 15)  # the bridge
    classes = {f["properties"].get("name"): f["properties"]["class"] for f in z15["streets"]["features"]}
    assert classes["北桥"] == "secondary" and classes["西岸路"] == classes["东岸路"] == "minor"
    assert "渡口" not in classes and _names(z15, "water") == {"李村河"}


def test_a_box_with_nothing_inside_or_no_box_is_refused(tmp_path):
    if tippecanoe_path() is None:
        need_module("tippecanoe")
    pbf = write_street_extract(tmp_path / "city.osm.pbf")
    with pytest.raises(Unprocessable, match="no streets"):
        build_street_tiles(pbf, tmp_path / "out" / TILES_FILE, [119.0, 35.0, 119.1, 35.1])
    assert not (tmp_path / "out" / TILES_FILE).exists() and list((tmp_path / "out").iterdir()) == []
    for bad in ([120.5, 36.0, 120.3, 36.1], [1, 2, 3], ["w", 0, 1, 1], [0, 0, math.inf, 1]):
        with pytest.raises(ParameterError) as err:
            build_street_tiles(pbf, tmp_path / "out" / TILES_FILE, bad)
        assert err.value.parameter == "bbox_wgs84"


@pytest.fixture(scope="module")
def tiles_client(archive):
    from web import create_app

    return create_app({"TESTING": True, "WORKERMAP_DATA_DIR": archive[2]}).test_client()


def _get(client, url, **kwargs):
    """GET, the body read and the file it came from closed (send_file's file, also on a 304 or 416)."""
    return client.get(url, buffered=True, **kwargs)


def test_the_archive_is_served_by_byte_ranges(archive, tiles_client):
    path = archive[0]
    whole = path.read_bytes()
    size = len(whole)
    first = _get(tiles_client, "/tiles/streets.pmtiles", headers={"Range": "bytes=0-126"})  # the PMTiles header
    assert first.status_code == 206 and first.data == whole[:127]
    assert first.headers["Content-Range"] == f"bytes 0-126/{size}" and first.headers["Accept-Ranges"] == "bytes"
    assert first.headers["Content-Length"] == "127" and first.headers.get("Content-Encoding") is None
    etag = first.headers["ETag"]
    middle = _get(tiles_client, "/tiles/streets.pmtiles", headers={"Range": f"bytes=100-{size - 11}"})
    assert middle.status_code == 206 and middle.data == whole[100:size - 10]
    assert middle.headers["Content-Range"] == f"bytes 100-{size - 11}/{size}"
    tail = _get(tiles_client, "/tiles/streets.pmtiles", headers={"Range": "bytes=-10", "Accept-Encoding": "gzip, br"})
    assert tail.status_code == 206 and tail.data == whole[-10:]
    full = _get(tiles_client, "/tiles/streets.pmtiles")
    assert full.status_code == 200 and full.data == whole and full.headers["ETag"] == etag
    assert full.headers["Cache-Control"] == "no-cache"
    assert _get(tiles_client, "/tiles/streets.pmtiles", headers={"If-None-Match": etag}).status_code == 304
    # a stale If-Range (the archive was replaced by a re-import): the whole new file, not a piece of it
    stale = _get(tiles_client, "/tiles/streets.pmtiles", headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.data == whole
    beyond = _get(tiles_client, "/tiles/streets.pmtiles", headers={"Range": f"bytes={size + 5}-"})
    assert beyond.status_code == 416
    bad = tiles_client.get("/tiles/streets.pmtiles?x=1")
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "x"


def test_pages_learn_of_the_street_basemap_only_when_it_exists(archive, tiles_client, client):
    html = tiles_client.get("/").get_data(as_text=True)
    config = json.loads(html.split('<script type="application/json" id="wm-config">')[1].split("</script>")[0])
    streets = config["streets"]
    assert streets["url"] == "/tiles/streets.pmtiles" and streets["attribution"] == ATTRIBUTION
    assert [s.split("/")[-1].split(".")[0] for s in streets["scripts"]] == ["protomaps-leaflet", "streets"]
    for src in streets["scripts"]:
        assert tiles_client.get(src).status_code == 200
    assert f'src="{streets["scripts"][0]}"' not in html  # loaded on demand, by the offline basemap
    # no extract imported: the pages say null, the archive is a 404 in the one error shape
    assert '"streets":null' in client.get("/").get_data(as_text=True).replace(" ", "")
    missing = _get(client, "/tiles/streets.pmtiles", headers={"Range": "bytes=0-126"})
    assert missing.status_code == 404
    err = missing.get_json()["error"]
    assert err["status"] == 404 and err["code"] == "not_found" and "workermap osm import" in err["message"]
