"""OpenStreetMap extracts: ``workermap osm import FILE.osm.pbf [--clip-to-city]`` reads a user's extract
offline and installs, in ``<data_dir>/osm/``, a routable graph per mode, a landmark gazetteer for place
search, the street basemap (``geo.osm_tiles``, when its tool is there) and the extract's provenance.

**Reader: pyosmium** (``osmium`` on PyPI: the Python bindings of libosmium). Chosen over pyrosm and
quackosm because it streams the file (a province extract never sits in memory as a table), keeps node
locations in its own compact C++ cache (``with_locations``) so a way arrives with its coordinates,
filters by key in C++ before Python sees an object, needs neither GDAL nor DuckDB, and **writes** PBF
too (``osmium.SimpleWriter``), so the tests write their own extracts (``tests/osm_fixtures.py``).
The file is read in at most three passes: the multipolygon relations (landmark areas), the nodes and
ways, and, when such relations exist, the ways they are made of. A usable way's geometry is made in C++
(libosmium's WKB factory) and read in bulk with shapely: Python touches a way's tags, not its nodes.

**What a mode may use** (:func:`way_modes`, from the way's tags; a way none may use is left out):

* walking: ``highway`` in :data:`WALK_HIGHWAYS` (every road and path but motorways, trunk roads and their
  links); e-bikes: ``highway`` in :data:`EBIKE_HIGHWAYS` (every road but motorways and their links, plus
  cycleways, paths and tracks); ``footway``, ``pedestrian`` and ``steps`` only with ``bicycle=yes``
  (or ``designated``, ``permissive``);
* ``access=no`` or ``private`` shuts a way to both, unless the mode's own tag (``foot`` for walking,
  ``bicycle`` for e-bikes) is ``yes``, ``designated`` or ``permissive``; ``foot=no|private`` shuts it to
  walking, ``bicycle=no|private|dismount`` to e-bikes; ``motorroad=yes`` (motor vehicles only) to both;
* ``oneway`` is honoured for e-bikes only (``yes``/``1``/``true`` along the way, ``-1``/``reverse``
  against it; ``junction=roundabout`` or ``circular`` is one-way along the way unless ``oneway=no``;
  ``oneway:bicycle=no`` opens it both ways); people walk both ways;
* ferries (``route=ferry``) are left out unless asked for (``ferries=True``, ``--ferries``); then their
  length counts at the mode's speed like any other edge (the graph holds metres, not the timetable).

Each way is cut into segments between consecutive nodes (and where a node is missing from the extract);
a segment is an edge in each direction the mode may use it, of its **geodesic** length on the WGS84 ellipsoid
(``geo.crs.GEOD``). Ways meet where their nodes are at the same place (:func:`location_key`); of two edges
between the same nodes the shorter is kept. Speeds are not in the
graph: the travel engine (``geo.travel``) divides metres by the configured speeds of
``geo.nearest.Travel`` — walking ``walk_kmh`` (4.8 km/h), e-bike ``ebike_kmh`` (15 km/h), settings
``WORKERMAP_WALK_KMH`` / ``WORKERMAP_EBIKE_KMH``.

**Landmarks** (:func:`landmark_kind`): named squares (``place=square``, ``highway=pedestrian`` areas),
railway stations and halts, subway and metro stations (``station=subway``, ``public_transport=station``),
bus stations (``amenity=bus_station``), hospitals, schools, colleges and universities, malls
(``shop=mall``), parks, named industrial areas (``landuse=industrial``), ``tourism=attraction`` and
``historic=*``; as nodes, closed ways and multipolygon relations (their outer rings' centroid, computed in
EPSG:4549). One of the same name within :data:`DUPLICATE_M` of one already kept is dropped (nodes first).

**Where.** ``clip_to_city=True`` keeps what lies inside the region's polygons (Qingdao's districts:
``geo.regions``): edges with both ends inside, landmarks inside. Otherwise the whole extent of the file is
kept, but an extract that does not reach the region's bounds at all is refused. So is a file that is
not a PBF, a truncated or damaged one, and one with no way usable on foot or by e-bike. A refused or
failed import leaves ``<data_dir>/osm/`` as it was: the new folder is built beside it and swapped in
(two renames) only when complete.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from geo.errors import NotFound, Unprocessable

__all__ = ["ATTRIBUTION", "DUPLICATE_M", "EBIKE_HIGHWAYS", "LANDMARKS_FILE", "LICENCE_URL", "MODES", "OSM_DIR",
           "PROVENANCE_FILE", "WALK_HIGHWAYS", "Extract", "build_graph", "credit", "graph_path", "import_extract",
           "landmark_entries", "landmark_kind", "landmarks_path", "load_provenance", "location_key", "osm_dir",
           "read_extract", "require_provenance", "way_modes"]

OSM_DIR = "osm"
PROVENANCE_FILE = "provenance.json"
LANDMARKS_FILE = "landmarks.csv"
TILES_FILE = "streets.pmtiles"
MODES = ("walk", "ebike")
ATTRIBUTION = "© OpenStreetMap contributors (ODbL 1.0)"
LICENCE_URL = "https://www.openstreetmap.org/copyright"

#: ``highway=*`` values usable on foot (motorways, trunk roads and their links are not).
WALK_HIGHWAYS = frozenset({
    "primary", "primary_link", "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified",
    "residential", "living_street", "service", "road", "track", "pedestrian", "footway", "path", "steps",
    "cycleway", "bridleway", "corridor"})
#: ``highway=*`` values usable by e-bike; those in :data:`EBIKE_IF_ALLOWED` only with ``bicycle=yes``.
EBIKE_HIGHWAYS = frozenset({
    "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link", "tertiary", "tertiary_link",
    "unclassified", "residential", "living_street", "service", "road", "track", "path", "cycleway"})
EBIKE_IF_ALLOWED = frozenset({"footway", "pedestrian", "steps"})
#: A mode's own tag (``foot``, ``bicycle``) with these values overrides ``access=no|private``.
GRANTED = frozenset({"yes", "designated", "permissive"})
DENIED = frozenset({"no", "private"})
ONEWAY_ALONG = frozenset({"yes", "1", "true"})
ONEWAY_AGAINST = frozenset({"-1", "reverse"})

#: Landmark tags: (key, value) -> kind; a key alone (``historic``) takes any value.
LANDMARK_TAGS = {
    ("place", "square"): "square", ("railway", "station"): "railway_station", ("railway", "halt"): "railway_station",
    ("public_transport", "station"): "station", ("amenity", "bus_station"): "bus_station",
    ("amenity", "hospital"): "hospital", ("amenity", "school"): "school", ("amenity", "college"): "school",
    ("amenity", "university"): "university", ("shop", "mall"): "mall", ("leisure", "park"): "park",
    ("landuse", "industrial"): "industrial", ("tourism", "attraction"): "attraction",
}
LANDMARK_KEYS = ("place", "railway", "public_transport", "amenity", "shop", "leisure", "landuse", "tourism",
                 "historic")
#: Other names of a landmark, searched too.
ALIAS_TAGS = ("name:zh", "name:zh-Hans", "alt_name", "short_name", "official_name", "old_name")
#: A landmark of the same name this close (metres) to one already kept is the same place.
DUPLICATE_M = 500.0
_UNDEFINED = 2147483647  # libosmium's undefined coordinate (a node missing from the extract)


def _get(tags, key: str) -> str:
    return tags.get(key) or ""


def way_modes(tags, *, ferries: bool = False) -> tuple[bool, bool, bool]:
    """Whether a way with ``tags`` may be walked (either way), ridden by e-bike along it, and against it.

    >>> way_modes({"highway": "residential"}), way_modes({"highway": "residential", "oneway": "yes"})
    ((True, True, True), (True, True, False))
    >>> way_modes({"highway": "footway"}), way_modes({"highway": "footway", "bicycle": "yes"})
    ((True, False, False), (True, True, True))
    >>> way_modes({"highway": "motorway"}), way_modes({"highway": "service", "access": "private", "foot": "yes"})
    ((False, False, False), (True, False, False))
    """
    highway = _get(tags, "highway")
    if not highway:
        if ferries and _get(tags, "route") == "ferry":
            return True, True, True
        return False, False, False
    if _get(tags, "area") == "yes" and highway != "pedestrian" or _get(tags, "motorroad") == "yes":
        return False, False, False
    access, foot, bicycle = _get(tags, "access"), _get(tags, "foot"), _get(tags, "bicycle")
    closed = access in DENIED
    walk = highway in WALK_HIGHWAYS and foot not in DENIED and (not closed or foot in GRANTED)
    ebike = ((highway in EBIKE_HIGHWAYS or highway in EBIKE_IF_ALLOWED and bicycle in GRANTED)
             and bicycle not in DENIED and bicycle != "dismount" and (not closed or bicycle in GRANTED))
    if not ebike:
        return walk, False, False
    oneway = _get(tags, "oneway")
    if _get(tags, "oneway:bicycle") == "no" or oneway == "no":
        return walk, True, True
    if oneway in ONEWAY_AGAINST:
        return walk, False, True
    if oneway in ONEWAY_ALONG or _get(tags, "junction") in ("roundabout", "circular"):
        return walk, True, False
    return walk, True, True


def landmark_kind(tags) -> str | None:
    """What kind of landmark an object with ``tags`` is (None: not one; a landmark needs a name).

    >>> landmark_kind({"place": "square", "name": "五四广场"}), landmark_kind({"place": "square"})
    ('square', None)
    >>> landmark_kind({"railway": "station", "station": "subway", "name": "五四广场"})
    'subway_station'
    """
    if not _get(tags, "name"):
        return None
    if _get(tags, "railway") == "station" and _get(tags, "station") in ("subway", "light_rail") \
            or _get(tags, "public_transport") == "station" and _get(tags, "subway") == "yes":
        return "subway_station"
    for key in LANDMARK_KEYS:
        value = _get(tags, key)
        if value and (kind := LANDMARK_TAGS.get((key, value))):
            return kind
    if _get(tags, "historic") not in ("", "no"):
        return "historic"
    if _get(tags, "highway") == "pedestrian":  # a pedestrian area (a square), when it came as an area
        return "square"
    return None


# -- reading ------------------------------------------------------------------------------------------------

@dataclass
class Extract:
    """What an extract holds for us: the usable ways (their node locations concatenated, ``way_start`` where
    each way begins; a way with nodes missing from the extract is cut there) with the modes that may use them,
    and the landmarks (dicts: kind, code, name, name_en, aliases, lon, lat)."""

    lon: np.ndarray
    lat: np.ndarray
    way_start: np.ndarray
    walk: np.ndarray
    ebike_along: np.ndarray
    ebike_against: np.ndarray
    landmarks: list[dict] = field(default_factory=list)
    osm_timestamp: str | None = None
    ways_read: int = 0
    segments: tuple | None = field(default=None, repr=False)  # :func:`_all_segments`, once


def _check_pbf(path: Path) -> None:
    """Refuse a file that does not start like a PBF (a blob header of type ``OSMHeader``)."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
    except OSError as exc:
        raise Unprocessable(f"cannot read {path.name}: {exc.strerror or exc}", parameter="file",
                            value=path.name) from None
    size = int.from_bytes(head[:4], "big") if len(head) >= 4 else 0
    if not (0 < size < 64 * 1024 and head[4:6] == b"\x0a\x09" and head[6:15] == b"OSMHeader"):
        raise Unprocessable(f"{path.name} is not an OpenStreetMap PBF file (.osm.pbf)", parameter="file",
                            value=path.name)


def _damaged(path: Path, exc: Exception) -> Unprocessable:
    return Unprocessable(f"cannot read {path.name}: truncated or damaged PBF ({exc})", parameter="file",
                         value=path.name)


def _header_timestamp(path: Path) -> str | None:
    import osmium

    stamp = osmium.FileProcessor(str(path)).header.get("osmosis_replication_timestamp")
    return stamp or None


def _names(tags) -> dict:
    name = _get(tags, "name")
    aliases = []
    for key in ALIAS_TAGS:
        for alias in _get(tags, key).split(";"):
            if alias.strip() and alias.strip() != name and alias.strip() not in aliases:
                aliases.append(alias.strip())
    return {"name": name, "name_en": _get(tags, "name:en"), "aliases": "|".join(aliases)}


def _centroid(rings: list[np.ndarray]) -> tuple[float, float] | None:
    """The centroid (EPSG:4549) of the polygons the closed rings of lon/lat ``rings`` make, in WGS84."""
    import shapely

    from geo.crs import to_lonlat, to_metric

    polys = []
    for ring in rings:
        if len(ring) >= 4 and np.isfinite(ring).all():
            x, y = to_metric(ring[:, 0], ring[:, 1])
            polys.append(shapely.make_valid(shapely.Polygon(np.column_stack([x, y]))))
    if not polys:
        return None
    c = shapely.union_all(polys).centroid
    if c.is_empty:
        return None
    lon, lat = to_lonlat(c.x, c.y)
    return float(lon), float(lat)


def _relation_rings(member_lines: list[np.ndarray]) -> list[np.ndarray]:
    """Closed rings made of a multipolygon's outer member ways (lon/lat lines)."""
    import shapely

    lines = [shapely.LineString(line) for line in member_lines if len(line) >= 2 and np.isfinite(line).all()]
    if not lines:
        return []
    return [np.asarray(p.exterior.coords) for p in shapely.get_parts(shapely.polygonize(lines))]


def read_extract(path: str | Path, *, ferries: bool = False) -> Extract:
    """Read the usable ways and the landmarks of the PBF at ``path`` (see the module docstring).

    Raises :class:`geo.errors.Unprocessable` for a file that is not a PBF, or is truncated or damaged."""
    import osmium
    import osmium.geom
    import shapely
    from osmium.osm import NODE, RELATION, WAY

    path = Path(path)
    _check_pbf(path)
    try:
        osm_timestamp = _header_timestamp(path)
        relations: dict[int, tuple[str, dict, list[int]]] = {}  # landmark multipolygons: kind, names, outer ways
        for rel in osmium.FileProcessor(str(path), RELATION).with_filter(osmium.filter.KeyFilter("name")):
            kind = landmark_kind(rel.tags)
            if kind and _get(rel.tags, "type") == "multipolygon":
                outer = [m.ref for m in rel.members if m.type == "w" and m.role in ("outer", "")]
                relations[rel.id] = (kind, _names(rel.tags), outer)
        members = {w for _, _, ways in relations.values() for w in ways}

        lines: list = []  # each usable way as WKB (made by libosmium from its node locations), its modes
        walk, along, against = array("b"), array("b"), array("b")
        landmarks: list[dict] = []
        newest = 0.0
        ways_read = 0
        fp = (osmium.FileProcessor(str(path), NODE | WAY).with_locations()
              .with_filter(osmium.filter.KeyFilter(*LANDMARK_KEYS).enable_for(NODE))
              .with_filter(osmium.filter.KeyFilter("name").enable_for(NODE))
              .with_filter(osmium.filter.KeyFilter("highway", "route", *LANDMARK_KEYS).enable_for(WAY)))
        wkb = osmium.geom.WKBFactory()
        member_lines: dict[int, np.ndarray] = {}
        for obj in fp:
            if osm_timestamp is None:
                newest = max(newest, obj.timestamp.timestamp())
            tags = obj.tags
            if obj.is_node():
                kind = landmark_kind(tags)
                if kind and obj.location.valid():
                    landmarks.append({"kind": kind, "code": f"osm:n{obj.id}", **_names(tags),
                                      "lon": obj.location.lon, "lat": obj.location.lat})
                continue
            ways_read += 1
            w, a, b = way_modes(tags, ferries=ferries)
            nodes = obj.nodes
            closed = len(nodes) >= 4 and nodes[0].ref == nodes[-1].ref
            kind = landmark_kind(tags) if closed and _get(tags, "area") != "no" else None
            if kind or obj.id in members:
                line = _node_lonlat(nodes)
                if obj.id in members:
                    member_lines[obj.id] = line
                if kind and (where := _centroid([line])) is not None:
                    landmarks.append({"kind": kind, "code": f"osm:w{obj.id}", **_names(tags),
                                      "lon": where[0], "lat": where[1]})
            if not (w or a or b):
                continue
            try:
                pieces = [wkb.create_linestring(obj)]
            except (osmium.InvalidLocationError, RuntimeError):  # nodes outside the extract, or one place only
                pieces = _valid_runs(_node_lonlat(nodes))
            for piece in pieces:
                lines.append(piece)
                walk.append(w)
                along.append(a)
                against.append(b)
        missing = members - member_lines.keys()
        if missing:  # untagged member ways: read them once more, their nodes from the location cache
            store = fp.node_location_storage
            for way in osmium.FileProcessor(str(path), WAY).with_filter(osmium.filter.IdFilter(missing)):
                pts = []
                for n in way.nodes:
                    try:
                        loc = store.get(n.ref)
                        pts.append((loc.lon, loc.lat))
                    except (KeyError, osmium.InvalidLocationError):
                        pts.append((np.nan, np.nan))
                member_lines[way.id] = np.array(pts, dtype="float64").reshape(-1, 2)
    except RuntimeError as exc:  # libosmium: "PBF error: unexpected EOF", "invalid BlobHeader size" …
        raise _damaged(path, exc) from None
    for rel_id, (kind, names, outer) in relations.items():
        where = _centroid(_relation_rings([member_lines[w] for w in outer if w in member_lines]))
        if where is not None:
            landmarks.append({"kind": kind, "code": f"osm:r{rel_id}", **names, "lon": where[0], "lat": where[1]})
    if osm_timestamp is None and newest > 0:
        osm_timestamp = datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    coords, which = shapely.get_coordinates(shapely.from_wkb(lines), return_index=True) if lines else \
        (np.empty((0, 2)), np.empty(0, dtype="int64"))
    way_start = np.searchsorted(which, np.arange(len(lines)))
    return Extract(coords[:, 0].copy(), coords[:, 1].copy(), way_start.astype("int64"),
                   np.frombuffer(walk, dtype="int8").astype(bool), np.frombuffer(along, dtype="int8").astype(bool),
                   np.frombuffer(against, dtype="int8").astype(bool), _dedupe(landmarks), osm_timestamp, ways_read)


def _node_lonlat(nodes) -> np.ndarray:
    """A way's node locations (lon, lat; NaN where a node is missing from the extract)."""
    xy = np.array([(n.x, n.y) for n in nodes], dtype="int64").reshape(-1, 2)
    return np.where(xy == _UNDEFINED, np.nan, xy / 1e7)


def _valid_runs(line: np.ndarray) -> list[bytes]:
    """The stretches of a way between nodes missing from the extract, as WKB lines (2 places or more)."""
    import shapely

    ok = np.isfinite(line[:, 0])
    cuts = np.flatnonzero(np.diff(ok.astype("int8"))) + 1
    out = []
    for run in np.split(np.arange(len(line)), cuts):
        if len(run) >= 2 and ok[run[0]] and len(np.unique(line[run], axis=0)) >= 2:
            out.append(shapely.to_wkb(shapely.LineString(line[run])))
    return out


def _dedupe(landmarks: list[dict]) -> list[dict]:
    """Drop a landmark of the same name within :data:`DUPLICATE_M` of one kept (nodes, then ways, relations)."""
    from geo.crs import to_metric

    order = {"n": 0, "w": 1, "r": 2}
    landmarks = sorted(landmarks, key=lambda m: (order[m["code"][4]], int(m["code"][5:])))
    kept: dict[str, list[tuple[float, float]]] = {}
    out = []
    if not landmarks:
        return out
    xs, ys = to_metric(np.array([m["lon"] for m in landmarks]), np.array([m["lat"] for m in landmarks]))
    for m, x, y in zip(landmarks, np.atleast_1d(xs).tolist(), np.atleast_1d(ys).tolist(), strict=True):
        seen = kept.setdefault(m["name"], [])
        if any(math.hypot(x - a, y - b) <= DUPLICATE_M for a, b in seen):
            continue
        seen.append((x, y))
        out.append(m)
    return out


# -- graphs -----------------------------------------------------------------------------------------------

def location_key(lon, lat) -> np.ndarray:
    """One int64 per place on OpenStreetMap's grid of 1e-7 degrees: ways meet where their nodes are at the
    same place (two OSM nodes at one place are an error OSM's validators report; here they are one node)."""
    x = np.rint(np.asarray(lon, dtype="float64") * 1e7).astype("int64") + 1_800_000_000
    y = np.rint(np.asarray(lat, dtype="float64") * 1e7).astype("int64") + 900_000_000
    return (x << 31) | y


def _all_segments(ex: Extract):
    """Every segment of every usable way (positions of its two ends, its way, its geodesic metres) and the
    place of every position; computed once per extract, shared by the modes."""
    from geo.crs import GEOD

    if ex.segments is None:
        first = np.arange(max(len(ex.lon) - 1, 0))
        inside = np.ones(len(first), dtype=bool)
        inside[ex.way_start[1:] - 1] = False  # a way's last node and the next way's first
        key = location_key(ex.lon, ex.lat)
        a = first[inside]
        a = a[key[a] != key[a + 1]]
        b = a + 1
        way = np.searchsorted(ex.way_start, a, side="right") - 1
        _, _, length = GEOD.inv(ex.lon[a], ex.lat[a], ex.lon[b], ex.lat[b]) if len(a) else (0, 0, np.empty(0))
        ex.segments = (a, b, way, np.asarray(length, dtype="float64"), key)
    return ex.segments


def build_graph(ex: Extract, mode: str, keep: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The directed graph of ``mode`` (``walk`` or ``ebike``): ``node_lon``, ``node_lat`` (WGS84), ``src``,
    ``dst`` (int32) and ``length_m`` (geodesic metres), one row per usable direction of each segment (a
    segment two ways share, once), sorted by (src, dst); ``node_key`` (:func:`location_key`). ``keep`` (a
    boolean per position of the extract): only segments with both ends kept."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    a, b, way, length, key = _all_segments(ex)
    along, against = (ex.walk, ex.walk) if mode == "walk" else (ex.ebike_along, ex.ebike_against)
    fwd, bwd = along[way], against[way]
    if keep is not None:
        both = keep[a] & keep[b]
        fwd, bwd = fwd & both, bwd & both
    src_pos = np.concatenate([a[fwd], b[bwd]])
    dst_pos = np.concatenate([b[fwd], a[bwd]])
    metres = np.concatenate([length[fwd], length[bwd]])
    m = len(src_pos)
    keys, first, inverse = np.unique(np.concatenate([key[src_pos], key[dst_pos]]), return_index=True,
                                     return_inverse=True)
    pos = np.concatenate([src_pos, dst_pos])[first]
    src, dst = inverse[:m].astype("int64"), inverse[m:].astype("int64")
    order = np.argsort(metres, kind="stable")  # one edge per (src, dst): the shortest
    _, once = np.unique(src[order] * max(len(keys), 1) + dst[order], return_index=True)
    edge = order[once]
    return {"node_lon": ex.lon[pos], "node_lat": ex.lat[pos], "src": src[edge].astype("int32"),
            "dst": dst[edge].astype("int32"), "length_m": metres[edge], "node_key": keys}


# -- the installed folder -------------------------------------------------------------------------------------

def osm_dir(settings) -> Path:
    """Where the imported extract lives: ``<data_dir>/osm``."""
    return Path(settings.data_dir) / OSM_DIR


def graph_path(settings, mode: str) -> Path:
    """The graph file of ``mode`` (``graph_walk.npz``, ``graph_ebike.npz``)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return osm_dir(settings) / f"graph_{mode}.npz"


def landmarks_path(settings) -> Path:
    return osm_dir(settings) / LANDMARKS_FILE


def load_provenance(settings) -> dict | None:
    """The installed extract's ``provenance.json`` (None when no extract is imported)."""
    try:
        return json.loads((osm_dir(settings) / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None


def credit(settings) -> dict | None:
    """What the pages show while an extract is installed (ODbL: the data's attribution, with its link), or None.
    ``html`` is the street basemap's own attribution (``geo.osm_tiles.ATTRIBUTION``), so the map's attribution
    control shows it once while the streets are drawn too."""
    from geo.osm_tiles import ATTRIBUTION as HTML

    prov = load_provenance(settings)
    if prov is None:
        return None
    return {"file": prov.get("file"), "osm_timestamp": prov.get("osm_timestamp"),
            "attribution": prov.get("attribution", ATTRIBUTION), "licence_url": prov.get("licence_url", LICENCE_URL),
            "html": HTML}


def require_provenance(settings) -> dict:
    """:func:`load_provenance`, or a :class:`geo.errors.NotFound` saying how to import one."""
    prov = load_provenance(settings)
    if prov is None:
        raise NotFound(f"no OpenStreetMap extract is imported in {Path(settings.data_dir)}: run "
                       "`workermap osm import FILE.osm.pbf`")
    return prov


def landmark_entries(settings) -> list:
    """The installed extract's landmarks as place-search entries (``geo.search``; none without an extract)."""
    from geo.search import csv_entries

    path = landmarks_path(settings)
    return csv_entries(path) if path.is_file() else []


def _landmarks_csv(landmarks: list[dict], districts) -> bytes:
    from geo.search import GAZETTEER_COLUMNS

    lon = np.array([m["lon"] for m in landmarks], dtype="float64")
    lat = np.array([m["lat"] for m in landmarks], dtype="float64")
    adcodes = districts.locate(lon, lat) if len(landmarks) else []
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=GAZETTEER_COLUMNS, lineterminator="\n")
    w.writeheader()
    for m, adcode in zip(landmarks, adcodes, strict=True):
        w.writerow({"type": "landmark", "code": m["code"], "name": m["name"], "name_en": m["name_en"],
                    "district_adcode": adcode, "district": districts.names.get(adcode, "") if adcode else "",
                    "lon": f"{m['lon']:.7f}", "lat": f"{m['lat']:.7f}", "position": "osm",
                    "aliases": m["aliases"], "short": "", "pinyin": "", "short_pinyin": ""})
    return out.getvalue().encode("utf-8")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _bbox(lons: list[np.ndarray], lats: list[np.ndarray]) -> list[float]:
    lon, lat = np.concatenate(lons), np.concatenate(lats)
    return [math.floor(lon.min() * 1e6) / 1e6, math.floor(lat.min() * 1e6) / 1e6,
            math.ceil(lon.max() * 1e6) / 1e6, math.ceil(lat.max() * 1e6) / 1e6]


def _street_tiles(pbf: Path, out: Path, bbox: list[float]) -> tuple[str | None, str | None]:
    """Build the street basemap with ``geo.osm_tiles`` when it and its tool are there: (file name, warning)."""
    try:
        from geo import osm_tiles
    except ImportError:
        return None, None
    build = getattr(osm_tiles, "build_street_tiles", None)
    available = getattr(osm_tiles, "tiles_available", lambda: build is not None)
    if build is None or not available():
        return None, "no street basemap: its tool (tippecanoe) is not installed"
    try:
        build(pbf, out, bbox)
    except Exception as exc:  # noqa: BLE001 - the tiles are optional: the import goes on without them
        with contextlib.suppress(OSError):
            out.unlink()
        return None, f"no street basemap: {exc}"
    return (out.name, None) if out.is_file() else (None, "no street basemap: nothing was written")


def _region(settings):
    from geo.regions import region_for

    return region_for(settings)


def import_extract(settings, pbf: str | Path, *, clip_to_city: bool = False, ferries: bool = False,
                   tiles: bool = True) -> dict:
    """Read the extract ``pbf`` and install it in :func:`osm_dir` (atomically); the provenance, with
    ``warnings`` (a list of strings: what was left out, e.g. the street basemap) added.

    Raises :class:`geo.errors.Unprocessable` (nothing changed) for bad input (see the module docstring)."""
    import shapely
    from osmium.version import pyosmium_release

    pbf = Path(pbf)
    if not pbf.is_file():
        raise Unprocessable(f"cannot read {pbf}: no such file", parameter="file", value=str(pbf))
    region = _region(settings)
    districts = region.districts()
    ex = read_extract(pbf, ferries=ferries)
    keep = None
    if clip_to_city:
        city = shapely.union_all(districts.frame.geometry.values)
        shapely.prepare(city)
        keep = shapely.intersects_xy(city, ex.lon, ex.lat)
        if ex.landmarks:
            inside = shapely.intersects_xy(city, [m["lon"] for m in ex.landmarks], [m["lat"] for m in ex.landmarks])
            ex.landmarks = [m for m, ok in zip(ex.landmarks, inside.tolist(), strict=True) if ok]
    graphs = {mode: build_graph(ex, mode, keep) for mode in MODES}
    where = f"{region.name} ({region.name_en})"
    if clip_to_city and not any(len(g["src"]) for g in graphs.values()) and not ex.landmarks:
        raise Unprocessable(f"nothing in {pbf.name} lies inside {where}: is it an extract of this region?",
                            parameter="file", value=pbf.name)
    if not clip_to_city:
        lon = np.concatenate([graphs["walk"]["node_lon"], graphs["ebike"]["node_lon"],
                              [m["lon"] for m in ex.landmarks]])
        lat = np.concatenate([graphs["walk"]["node_lat"], graphs["ebike"]["node_lat"],
                              [m["lat"] for m in ex.landmarks]])
        if not np.any(region.in_bounds(lon, lat)):
            raise Unprocessable(f"{pbf.name} does not reach {where} ({region.bounds_text}): is it an extract of "
                                "this region?", parameter="file", value=pbf.name)
    for mode, label in (("walk", "on foot"), ("ebike", "by e-bike")):
        if not len(graphs[mode]["src"]):
            inside = f" inside {where}" if clip_to_city else ""
            raise Unprocessable(f"{pbf.name} has no ways usable {label}{inside} ({ex.ways_read} ways read)",
                                parameter="file", value=pbf.name)
    bbox = _bbox([g["node_lon"] for g in graphs.values()] + [np.array([m["lon"] for m in ex.landmarks])],
                 [g["node_lat"] for g in graphs.values()] + [np.array([m["lat"] for m in ex.landmarks])])
    provenance = {
        "file": pbf.name, "sha256": _sha256(pbf), "size_bytes": pbf.stat().st_size,
        "osm_timestamp": ex.osm_timestamp, "imported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "clip_to_city": clip_to_city, "bbox_wgs84": bbox, "attribution": ATTRIBUTION, "licence_url": LICENCE_URL,
        "modes": {mode: {"nodes": len(g["node_lon"]), "edges": len(g["src"])} for mode, g in graphs.items()},
        "landmarks": len(ex.landmarks), "tiles": None, "reader": f"pyosmium {pyosmium_release}",
    }
    problems: list[str] = []
    target = osm_dir(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{OSM_DIR}.*"):  # left by an import that was killed
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".{OSM_DIR}.new-", dir=target.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(work, 0o777 & ~umask)  # as mkdir would make it (mkdtemp's is private)
        for mode, g in graphs.items():
            with open(work / f"graph_{mode}.npz", "wb") as f:
                np.savez(f, **{k: v for k, v in g.items() if k != "node_key"})  # uncompressed: loads fast
        (work / LANDMARKS_FILE).write_bytes(_landmarks_csv(ex.landmarks, districts))
        if tiles:
            provenance["tiles"], problem = _street_tiles(pbf, work / TILES_FILE, bbox)
            if problem:
                problems.append(problem)
        (work / PROVENANCE_FILE).write_text(json.dumps(provenance, ensure_ascii=False, indent=2) + "\n",
                                            encoding="utf-8")
        _fsync_tree(work)
        _swap_in(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return {**provenance, "warnings": problems}


def _fsync_tree(folder: Path) -> None:
    for p in folder.iterdir():
        with open(p, "rb") as f:
            os.fsync(f.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_in(work: Path, target: Path) -> None:
    """Put the complete folder ``work`` in place of ``target`` (two renames; the old one restored on failure)."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{OSM_DIR}.old-", dir=target.parent))
        os.rmdir(old)
        os.rename(target, old)
    try:
        os.rename(work, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
