"""OpenStreetMap extracts written by the tests themselves (pyosmium's ``SimpleWriter``), for ``geo.osm``,
``geo.travel`` and ``geo.osm_tiles`` tests.

:func:`write_extract` writes any nodes, ways and relations to a ``.osm.pbf``. :func:`write_city` writes
:data:`CITY`, a small synthetic city in Qingdao (李沧区, around 120.40 E 36.15 N) laid out in EPSG:4549
metres from an origin, with known answers:

* a river runs north–south between two bank streets 200 m apart (x = −100 and x = +100, y = 0 … 2,000,
  nodes every 100 m), crossed by one bridge at the north end (y = 2,000): the ``facility`` (100, 0) is
  200 m from the ``demand`` point (−100, 0) straight across the water but 4,200 m by road
  (2,000 + 200 + 2,000); a ferry (``route=ferry``) crosses at the south end and is left out by default;
* a one-way street (``oneway=yes``) going west from the west bank at y = 1,000 to x = −1,100;
* a footway e-bikes may not use, west from the west bank at y = 500 to x = −600;
* a private service road (``access=private``) west from the west bank at y = 1,500 to x = −600;
* a motorway (x = 1,500) and a trunk road (x = 1,000) east of the river, joined to nothing;
* named landmarks: 五四广场 (``place=square``, May Fourth Square), the metro station 五四广场站
  (``railway=station`` + ``station=subway``), a hospital, a park drawn as a closed way, a university as a
  multipolygon relation.

:attr:`SyntheticCity.points` gives every named spot in WGS84; :meth:`SyntheticCity.way_ids` the OSM ids
of each street, so tests can check the graph edge by edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["CITY", "ORIGIN_LONLAT", "SyntheticCity", "write_city", "write_extract"]

#: Where the synthetic city's local (0, 0) is, WGS84 (inside 李沧区).
ORIGIN_LONLAT = (120.40, 36.15)
TIMESTAMP = "2026-11-01T00:00:00Z"


def _when(stamp: str | datetime | None) -> datetime | None:
    if stamp is None or isinstance(stamp, datetime):
        return stamp
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def write_extract(path: str | Path, nodes: Iterable[Sequence], ways: Iterable[Sequence] = (),
                  relations: Iterable[Sequence] = (), *, header_timestamp: str | None = TIMESTAMP,
                  object_timestamp: str | None = TIMESTAMP) -> Path:
    """Write an OSM PBF file at ``path`` (replaced if it exists).

    ``nodes``: ``(id, lon, lat)`` or ``(id, lon, lat, tags)``; ``ways``: ``(id, [node ids], tags)``;
    ``relations``: ``(id, [(type "n"|"w"|"r", ref, role), …], tags)``. ``header_timestamp`` goes in the
    header as ``osmosis_replication_timestamp`` (None: none); every object gets ``object_timestamp``.
    """
    import osmium
    import osmium.io
    from osmium.osm import mutable

    path = Path(path)
    path.unlink(missing_ok=True)
    header = osmium.io.Header()
    header.set("generator", "workermap tests")
    if header_timestamp:
        header.set("osmosis_replication_timestamp", header_timestamp)
    when = _when(object_timestamp)
    common = {"version": 1, "timestamp": when} if when else {"version": 1}
    writer = osmium.SimpleWriter(str(path), header=header)
    try:
        for n in nodes:
            writer.add_node(mutable.Node(id=n[0], location=(n[1], n[2]), tags=dict(n[3]) if len(n) > 3 else {},
                                         **common))
        for w in ways:
            writer.add_way(mutable.Way(id=w[0], nodes=list(w[1]), tags=dict(w[2]), **common))
        for r in relations:
            writer.add_relation(mutable.Relation(id=r[0], members=list(r[1]), tags=dict(r[2]), **common))
    finally:
        writer.close()
    return path


@dataclass
class SyntheticCity:
    """A city laid out in local metres (EPSG:4549 offsets from :data:`ORIGIN_LONLAT`), written as PBF."""

    nodes: list[tuple] = field(default_factory=list)
    ways: list[tuple] = field(default_factory=list)
    relations: list[tuple] = field(default_factory=list)
    #: name -> WGS84 (lon, lat) of named spots (``facility``, ``demand``, landmark names …).
    points: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: street name -> its OSM way ids.
    streets: dict[str, list[int]] = field(default_factory=dict)
    _at: dict[tuple[float, float], int] = field(default_factory=dict, repr=False)

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        """WGS84 of local metres (x east, y north of the origin)."""
        from geo.crs import to_lonlat, to_metric

        x0, y0 = to_metric(*ORIGIN_LONLAT)
        lon, lat = to_lonlat(x0 + x, y0 + y)
        return float(lon), float(lat)

    def node(self, x: float, y: float, tags: Mapping | None = None) -> int:
        """The node at local (x, y) (one per place, shared by the ways meeting there), made if new."""
        if tags is None and (x, y) in self._at:
            return self._at[(x, y)]
        nid = 1000 + len(self.nodes)
        self.nodes.append((nid, *self.lonlat(x, y), dict(tags or {})))
        if tags is None:
            self._at[(x, y)] = nid
        return nid

    def way(self, name: str, points: Sequence[tuple[float, float]], tags: Mapping, *, step: float = 100.0) -> int:
        """A way through the local ``points`` with a node every ``step`` metres along each straight leg."""
        refs: list[int] = []
        for (x1, y1), (x2, y2) in zip(points[:-1], points[1:], strict=True):
            n = max(1, round(max(abs(x2 - x1), abs(y2 - y1)) / step))
            for i in range(n + (1 if (x2, y2) == points[-1] else 0)):
                ref = self.node(x1 + (x2 - x1) * i / n, y1 + (y2 - y1) * i / n)
                if not refs or refs[-1] != ref:
                    refs.append(ref)
        wid = 100 + len(self.ways)
        self.ways.append((wid, refs, dict(tags)))
        self.streets.setdefault(name, []).append(wid)
        return wid

    def way_ids(self, name: str) -> list[int]:
        return self.streets[name]

    def spot(self, name: str, x: float, y: float, tags: Mapping | None = None) -> int | None:
        """Name a spot (``points[name]``); with ``tags``, an OSM node there too."""
        self.points[name] = self.lonlat(x, y)
        return self.node(x, y, tags) if tags is not None else None

    def write(self, path: str | Path, **kw) -> Path:
        return write_extract(path, self.nodes, self.ways, self.relations, **kw)


def _city() -> SyntheticCity:
    c = SyntheticCity()
    c.way("west bank", [(-100, 0), (-100, 2000)], {"highway": "residential", "name": "西岸路"})
    c.way("east bank", [(100, 0), (100, 2000)], {"highway": "residential", "name": "东岸路"})
    c.way("bridge", [(-100, 2000), (100, 2000)], {"highway": "secondary", "bridge": "yes", "name": "北桥"})
    c.way("river", [(0, -350), (0, 2350)], {"waterway": "river", "name": "李村河"})
    c.way("ferry", [(-100, 0), (100, 0)], {"route": "ferry", "name": "渡口"}, step=200)
    c.way("oneway", [(-100, 1000), (-1100, 1000)], {"highway": "residential", "oneway": "yes", "name": "单行路"})
    c.way("footway", [(-100, 500), (-600, 500)], {"highway": "footway", "name": "步行道"})
    c.way("private", [(-100, 1500), (-600, 1500)], {"highway": "service", "access": "private"})
    c.way("trunk", [(1000, 0), (1000, 2000)], {"highway": "trunk", "name": "快速路"})
    c.way("motorway", [(1500, 0), (1500, 2000)], {"highway": "motorway", "name": "高速"})
    c.spot("demand", -100, 0)
    c.spot("facility", 100, 0)
    c.spot("五四广场", 300, 300, {"place": "square", "name": "五四广场", "name:en": "May Fourth Square"})
    c.spot("五四广场站", 300, 450, {"railway": "station", "station": "subway", "public_transport": "station",
                                "name": "五四广场站", "name:en": "Wusi Square Station"})
    c.spot("市立医院", 600, 800, {"amenity": "hospital", "name": "青岛市市立医院"})
    park = c.way("park", [(300, 1200), (600, 1200), (600, 1500), (300, 1500), (300, 1200)],
                 {"leisure": "park", "name": "河东公园"}, step=1000)
    c.points["河东公园"] = c.lonlat(450, 1350)
    ring = c.way("campus ring", [(-700, 1700), (-300, 1700), (-300, 1900), (-700, 1900), (-700, 1700)], {},
                 step=1000)
    c.relations.append((1, [("w", ring, "outer")], {"type": "multipolygon", "amenity": "university",
                                                    "name": "青岛大学"}))
    c.points["青岛大学"] = c.lonlat(-500, 1800)
    assert park and ring
    return c


#: The synthetic city (see the module docstring).
CITY = _city()


def write_city(path: str | Path, **kw) -> Path:
    """Write :data:`CITY` to ``path`` (``write_extract``'s keywords: ``header_timestamp`` …)."""
    return CITY.write(path, **kw)
