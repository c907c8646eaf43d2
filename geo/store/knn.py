"""Queries on the store without loading the registry: nearest (KNN), bbox pages and map tiles on PostGIS.

A city's registry (Qingdao: 1,676 records) is held whole by every worker process
(``geo.nearest.FacilityIndex``). A province's or the nation's (186,100 stations) is not: with
``query_mode`` ``database`` — or ``auto`` on PostGIS once the registry has more than
:data:`LARGE_REGISTRY` facilities — the app reads the current version as a :class:`DbRegistry`
(its number, meta, counts; never the records) and answers the busy reads from the database:

* **nearest** (:class:`DbNearest`, with ``WORKERMAP_NEAREST_ENGINE=knn``; by default nearest is answered from the
  resident index, ``geo.store.resident``): ``ORDER BY geom <-> point`` walks the GiST index nearest
  first, with the filters SQL can say (kind, amenities, worker access, status) in the query; the
  opening hours (``open_at``, ``open_24h``) are evaluated here, each distinct expression once per
  minute, on a candidate set that grows (×4) until ``k`` eligible facilities are found **and** no
  unread row can be geodesically nearer than the k-th (the rows come in order of distance in
  degrees; a lower bound turns that into metres, see :func:`_min_metres`). The candidates are
  re-ranked by exact geodesic distance (``geo.crs.GEOD``), ties by registry order (``fid``):
  the answer equals ``FacilityIndex.query`` on the same registry, hits, flags and ``eligible``
  count included (``tests/test_scale.py`` checks it on thousands of random points).
* **bbox pages** (:meth:`DbRegistry.page`): the OGC API's filters as SQL, ``LIMIT limit + 1``:
  whether a next page exists is known without counting the table.
* **vector tiles** (:meth:`DbRegistry.tile`): ``ST_AsMVT`` of the facilities in a Web Mercator tile.
* **place search** (:meth:`DbRegistry.search_facilities`): the live facilities whose name, English name or
  address holds the query (``ILIKE``, the query's wildcards literal), exact names first; ranked with the places
  by ``geo.search.QueriedGazetteer``.

Whatever needs every record (coverage, siting, exports) still reads the whole registry
(:attr:`DbRegistry.facilities`, loaded on first use in the process that needs it).
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

from geo.crs import geodesic_inverse_point
from geo.errors import ParameterError
from geo.hours import Hours
from geo.model import AMENITIES, KINDS, WORKER_TYPES, Facility
from geo.nearest import Hit, NearestResult, Travel, check_query, query_minute, within
from geo.store.backends import StoreUnavailable
from geo.store.registry_store import RegistryStore, decode_row, select_list
from geo.vector_tiles import (
    EXTENT,
    GRID,
    POINT_ZOOM,
    TileFilter,
    check_tile,
    encode_mvt,
    mercator_bounds,
    point_feature,
    tile_bounds,
)

__all__ = ["LARGE_REGISTRY", "QUERY_MODES", "BoundedDict", "DbNearest", "DbRegistry", "SqlFilter", "uses_database"]

log = logging.getLogger(__name__)

#: Above this many facilities on PostGIS, ``query_mode=auto`` answers from the database.
LARGE_REGISTRY = 20_000
#: Cluster tiles (below ``POINT_ZOOM``) kept per registry version and process: China's z5-11 tiles with stations.
CLUSTER_TILE_CACHE = 4096
#: ``WORKERMAP_QUERY_MODE``: auto (the database for a large registry on PostGIS), memory, database.
QUERY_MODES = ("auto", "memory", "database")
_SLACK_ROWS = 8  # rows read beyond k: the geodesic re-rank's margin (one read is then almost always enough)
_GROWTH = 4
_RECORD_CACHE = 5_000  # facilities kept decoded per process (hits' records)
_MINUTE_CACHE = 64


def uses_database(query_mode: str, store: RegistryStore, *, region_level: str = "prefecture") -> bool:
    """Whether the app answers from the database instead of holding the registry (see the module docstring):
    ``auto`` on PostGIS does for a registry over :data:`LARGE_REGISTRY` or a province's or the nation's region."""
    if query_mode not in QUERY_MODES:
        raise ParameterError("WORKERMAP_QUERY_MODE", query_mode, " or ".join(QUERY_MODES))
    postgis = store.backend.name == "postgis"
    if query_mode == "database" and not postgis:
        raise ParameterError("WORKERMAP_QUERY_MODE", query_mode, "auto or memory on the GeoPackage",
                             "WORKERMAP_QUERY_MODE=database needs PostGIS (WORKERMAP_DATABASE_URL=postgresql://…)")
    if query_mode == "memory" or not postgis:
        return False
    store.initialise()
    _ensure_statistics(store)
    if query_mode == "database" or region_level in ("province", "country"):
        return True
    with store.reading() as conn:
        return _count(store, conn, "") > LARGE_REGISTRY


def _ensure_statistics(store: RegistryStore) -> None:
    """ANALYZE the facilities table if it never was (a bulk import just before the start): without statistics
    the planner scans the whole table instead of walking the GiST index nearest first (autovacuum would analyze
    it, but only a minute or more later)."""
    never = _run(store, "SELECT coalesce(last_analyze, last_autoanalyze) IS NULL FROM pg_stat_user_tables "
                        "WHERE relid = 'facilities'::regclass")
    if never and never[0][0]:
        _run(store, "ANALYZE facilities", fetch=False)


def _count(store: RegistryStore, conn, where: str, params: tuple = ()) -> int:
    return int(store._q(conn, f"SELECT count(*) FROM facilities {where}", params).fetchone()[0])


class BoundedDict(OrderedDict):
    """A dict that forgets its oldest entries beyond ``size`` (records and encoded hits of a large registry)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        while len(self) > self.size:
            try:
                self.popitem(last=False)
            except KeyError:  # another thread evicted it first
                break


# -- filters as SQL ------------------------------------------------------------------------------

class SqlFilter:
    """A WHERE clause (``?`` placeholders) and its parameters, built from the engine's filters."""

    def __init__(self):
        self.parts: list[str] = []
        self.params: list[Any] = []

    def add(self, sql: str, *params) -> SqlFilter:
        self.parts.append(sql)
        self.params.extend(params)
        return self

    @property
    def where(self) -> str:
        return ("WHERE " + " AND ".join(self.parts)) if self.parts else ""

    @classmethod
    def facilities(cls, *, kinds: Sequence[str] = (), amenities: Sequence[str] = (), worker: str | None = None,
                   statuses: Sequence[str] = (), include_closed: bool = True, districts: Sequence[str] = (),
                   bbox: tuple[float, float, float, float] | None = None, verified=None) -> SqlFilter:
        """The SQL form of ``geo.query.FacilityFilter`` / ``FacilityIndex`` filters (hours excepted)."""
        out = cls()
        if statuses:
            out.add("status IN (" + ", ".join("?" for _ in statuses) + ")", *statuses)
        elif include_closed:
            out.add("status <> 'removed'")
        else:
            out.add("status = 'open'")
        if kinds:
            out.add("kind IN (" + ", ".join("?" for _ in kinds) + ")", *kinds)
        for a in amenities:  # stored joined with ';': match a whole item
            out.add("(';' || amenities || ';') LIKE ?", f"%;{a};%")
        if worker is not None:
            allowed = sorted(WORKER_TYPES[worker])
            out.add("access IN (" + ", ".join("?" for _ in allowed) + ")", *allowed)
        if districts:
            marks = ", ".join("?" for _ in districts)
            out.add(f"(district_adcode IN ({marks}) OR district IN ({marks}))", *districts, *districts)
        if bbox is not None:
            lon_min, lat_min, lon_max, lat_max = bbox
            if lon_min <= lon_max:
                out.add("geom && ST_MakeEnvelope(?, ?, ?, ?, 4326)", lon_min, lat_min, lon_max, lat_max)
            else:  # crosses the antimeridian
                out.add("(geom && ST_MakeEnvelope(?, ?, 180, ?, 4326) OR geom && ST_MakeEnvelope(-180, ?, ?, ?, 4326))",
                        lon_min, lat_min, lat_max, lat_min, lon_max, lat_max)
        if verified is not None:
            out.add("verified_at <> ''")
            if verified.start is not None:
                out.add("verified_at >= ?", verified.start.isoformat())
            if verified.end is not None:
                out.add("verified_at <= ?", verified.end.isoformat())
        return out


def straight_only(travel_model: str) -> None:
    """Only straight-line travel for a registry not held whole (no route is measured from the database)."""
    if travel_model != "straight":
        raise ParameterError("travel", travel_model, "straight",
                             f"travel={travel_model} is not available for a registry queried in the database "
                             "(a province's or the nation's): travel=straight")


def _check(kinds, amenities, worker) -> None:
    for name, values, allowed in (("kinds", kinds, KINDS), ("amenities", amenities, AMENITIES)):
        for v in values:
            if v not in allowed:
                raise ValueError(f"{name} must be among {', '.join(allowed)}, got {v!r}")
    if worker is not None and worker not in WORKER_TYPES:
        raise ValueError(f"worker must be one of {', '.join(WORKER_TYPES)}, got {worker!r}")


# -- the registry as the database holds it --------------------------------------------------------

class DbRegistry:
    """One committed registry version, read from PostGIS on demand (duck-types ``geo.registry.Registry``).

    ``version``, ``meta``, ``is_sample``, ``len()``, ``get(id)`` and ``counts()`` are small queries;
    ``facilities`` reads the whole registry (once per process, on first use: coverage, exports …).
    """

    def __init__(self, store: RegistryStore, version: int, meta: dict, count: int, is_sample: bool):
        self.store = store
        self.version = str(version)
        self.meta = meta
        self._count = count
        self.is_sample = is_sample
        self._extents: dict = {}
        #: Cluster tiles of this version (a low zoom groups a large area in SQL: 5 ms, tens under load), kept.
        self._clusters: BoundedDict = BoundedDict(CLUSTER_TILE_CACHE)

    @classmethod
    def at_head(cls, store: RegistryStore) -> DbRegistry:
        """The committed version now (its number, meta, count and sample flag: three small queries)."""
        store.initialise()
        with store.reading() as conn:
            version = store._version(conn)
            count = _count(store, conn, "")
            sample = store._q(conn, "SELECT EXISTS (SELECT 1 FROM facilities WHERE sample)").fetchone()[0]
            return cls(store, version, store._meta(conn, version), count, bool(sample))

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"DbRegistry(version={self.version}, facilities={self._count}, {self.store.where})"

    @cached_property
    def facilities(self) -> tuple[Facility, ...]:
        """Every record (read once per process, on first use: what needs them all, not the busy reads)."""
        log.info("reading the whole registry (%d facilities) from %s", self._count, self.store.where)
        return self.store.load().facilities

    def get(self, facility_id: str) -> Facility | None:
        rows = self._rows("WHERE id = ?", (facility_id,))
        return rows[0] if rows else None

    def _rows(self, where: str, params: tuple = (), tail: str = "") -> list[Facility]:
        b = self.store.backend
        sql = f"SELECT {select_list(b)} FROM facilities {where} {tail}"
        return [decode_row(b, r) for r in _run(self.store, sql, params)]

    @cached_property
    def _counts(self) -> dict[str, Any]:
        rows = _run(self.store, "SELECT kind, status, district, opening_hours = '24/7' AND status <> 'removed', "
                                "sample, count(*) FROM facilities GROUP BY 1, 2, 3, 4, 5")
        by: dict[str, dict[str, int]] = {"kind": {}, "status": {}, "district": {}}
        total = h24 = samples = 0
        for kind, status, district, is_24, sample, n in rows:
            for key, value in (("kind", kind), ("status", status), ("district", district)):
                by[key][value] = by[key].get(value, 0) + n
            total += n
            h24 += n if is_24 and kind == "station" else 0
            samples += n if sample else 0
        return {"total": total, "by_kind": dict(sorted(by["kind"].items())),
                "by_status": dict(sorted(by["status"].items())),
                "by_district": dict(sorted(by["district"].items())), "stations_24_7": h24,
                "sample_records": samples}

    def counts(self) -> dict[str, Any]:
        """As ``Registry.counts()`` (one grouped query per version)."""
        return self._counts

    @cached_property
    def hours_in_use(self) -> frozenset[tuple[str | None, bool]]:
        """The distinct ``(opening_hours, workday_calendar)`` pairs of the live facilities."""
        rows = _run(self.store, "SELECT DISTINCT opening_hours, workday_calendar FROM facilities "
                                "WHERE status <> 'removed'")
        return frozenset((h, bool(w)) for h, w in rows)

    # -- place search ----------------------------------------------------------------------------
    def search_facilities(self, query: str, limit: int) -> list[Facility]:
        """At most ``limit`` live facilities whose name, English name or address contains ``query``
        (case-insensitive: ``ILIKE``, or ``LIKE`` for a query without case such as Chinese, twice as fast; its
        ``%``, ``_`` and backslash taken literally; NFKC, whitespace collapsed; a scan: 40-140 ms on 186,100 rows):
        exact names first, then names beginning with it, names and English names holding it, addresses; then the
        shorter name, registry order. ``geo.search.QueriedGazetteer`` scores and ranks them with the places."""
        text = " ".join(unicodedata.normalize("NFKC", query).split())
        if not text or limit < 1:
            return []
        lit = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        inside = f"%{lit}%"
        like = "ILIKE" if text.lower() != text.upper() else "LIKE"  # a query without case (Chinese): half the time
        rank = (f"CASE WHEN name {like} ? THEN 0 WHEN name {like} ? THEN 1 WHEN name {like} ? THEN 2 "
                f"WHEN name_en {like} ? THEN 3 ELSE 4 END")
        chosen = (f"SELECT fid AS m_fid, {rank} AS m_rank, length(name) AS m_len FROM facilities WHERE status <> "
                  f"'removed' AND (name {like} ? OR name_en {like} ? OR address {like} ?) ORDER BY 2, 3, 1 LIMIT ?")
        # the few chosen by fid first, then their records (sorting every match's whole row took twice as long)
        return self._rows(f"JOIN ({chosen}) AS m ON fid = m_fid", (lit, f"{lit}%", *[inside] * 5, limit),
                          "ORDER BY m_rank, m_len, fid")

    @cached_property
    def _townships(self) -> dict[tuple[str, str], tuple[float, float, int, str]]:
        rows = _run(self.store, "SELECT district_adcode, township, min(district), avg(ST_X(geom)), avg(ST_Y(geom)), "
                                "count(*) FROM facilities WHERE township <> '' AND status <> 'removed' "
                                "GROUP BY 1, 2 ORDER BY 1, 2")
        return {(code, town): (float(lon), float(lat), int(n), district) for code, town, district, lon, lat, n in rows}

    def township_positions(self) -> dict[tuple[str, str], tuple[float, float, int, str]]:
        """(district adcode, township) -> mean lon, mean lat, count and district of the live facilities there (as
        ``geo.search`` computes them from a registry held whole; one grouped query per version)."""
        return self._townships

    # -- OGC API pages and tiles -----------------------------------------------------------------
    def page(self, flt, offset: int, limit: int) -> tuple[list[Facility], list[float] | None, bool]:
        """``(facilities, geodesic distances or None, more)`` of a ``geo.query.FacilityFilter``: the ``limit``
        matches after the first ``offset`` in registry order (nearest first with ``near``); ``more`` says whether
        another page follows (read as ``limit + 1`` rows: the table is never counted)."""
        sf = SqlFilter.facilities(kinds=flt.kinds, amenities=flt.amenities, statuses=flt.statuses,
                                  districts=flt.districts, bbox=flt.bbox, verified=flt.verified)
        params = list(sf.params)
        if flt.near is None:
            order = "ORDER BY fid"
        else:
            lon, lat = flt.near
            if flt.radius_m is not None:
                sf.add("ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography, ?)",
                       lon, lat, flt.radius_m * 1.001 + 1)
                params = list(sf.params)
            order = ("ORDER BY ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography), fid")
            params += [lon, lat]
        if flt.near is None or flt.radius_m is None:
            rows = self._rows(sf.where, (*params, limit + 1, offset), f"{order} LIMIT ? OFFSET ?")
            dist = None if flt.near is None else [_geodesic(flt.near, f) for f in rows]
            return rows[:limit], None if dist is None else dist[:limit], len(rows) > limit
        # within a radius: the exact geodesic test here (the database's spheroid distance differs by < 1 mm)
        rows = self._rows(sf.where, tuple(params), order)
        kept = [(d, f) for f in rows if (d := _geodesic(flt.near, f)) <= flt.radius_m]
        window = kept[offset:offset + limit + 1]
        return [f for _, f in window[:limit]], [d for d, _ in window[:limit]], len(window) > limit

    def example_id(self, kind: str | None = None) -> str | None:
        """The id of a live facility (of ``kind``), for the API documentation's examples."""
        sf = SqlFilter.facilities(kinds=(kind,) if kind else ())
        rows = _run(self.store, f"SELECT id FROM facilities {sf.where} ORDER BY fid LIMIT 1", tuple(sf.params))
        return rows[0][0] if rows else None

    def extent(self, kind: str | None = None) -> tuple[list[float] | None, str | None, str | None]:
        """(lon_min, lat_min, lon_max, lat_max) of the live facilities (of ``kind``; None if there are none), and
        their first and last ``verified_at`` days (None if none is known); read once per version."""
        got = self._extents.get(kind)
        if got is None:
            sf = SqlFilter.facilities(kinds=(kind,) if kind else ())
            (x0, y0, x1, y1, d0, d1), = _run(
                self.store, "SELECT min(ST_X(geom)), min(ST_Y(geom)), max(ST_X(geom)), max(ST_Y(geom)), "
                            f"min(NULLIF(verified_at, '')), max(NULLIF(verified_at, '')) FROM facilities {sf.where}",
                tuple(sf.params))
            got = self._extents[kind] = (None if x0 is None else [float(v) for v in (x0, y0, x1, y1)], d0, d1)
        return got

    def _tile_filter(self, z: int, x: int, y: int, flt: TileFilter) -> tuple[tuple, SqlFilter]:
        check_tile(z, x, y)
        _check(flt.kinds, flt.amenities, flt.worker)
        bounds = tile_bounds(z, x, y)
        return bounds, SqlFilter.facilities(kinds=flt.kinds, amenities=flt.amenities, worker=flt.worker,
                                            include_closed=flt.include_closed, bbox=bounds)

    def tile_features(self, z: int, x: int, y: int, flt: TileFilter) -> tuple[str, list[dict[str, Any]]]:
        """As ``geo.vector_tiles.memory_features``, from the database (the clusters grouped there)."""
        bounds, sf = self._tile_filter(z, x, y, flt)
        if z >= POINT_ZOOM:
            return "facilities", [point_feature(f) for f in self._rows(sf.where, tuple(sf.params), "ORDER BY fid")]
        key = (z, x, y, flt)
        kept = self._clusters.get(key)
        if kept is None:
            kept = self._clusters[key] = self._cluster_features(bounds, sf)
        return "clusters", kept

    def _cluster_features(self, bounds: tuple, sf: SqlFilter) -> list[dict[str, Any]]:
        west, south, east, north = bounds
        rows = _run(self.store, f"SELECT least(floor((ST_Y(geom) - ?) / ? * {GRID}), {GRID - 1}) AS r, "
                                f"least(floor((ST_X(geom) - ?) / ? * {GRID}), {GRID - 1}) AS c, avg(ST_X(geom)), "
                                f"avg(ST_Y(geom)), count(*) FROM facilities {sf.where} GROUP BY 1, 2 ORDER BY 1, 2",
                    (south, north - south, west, east - west, *sf.params))
        return [{"lon": float(lo), "lat": float(la), "properties": {"count": int(n)}} for _, _, lo, la, n in rows]

    def tile(self, z: int, x: int, y: int, flt: TileFilter) -> bytes:
        """Tile ``z/x/y`` as a Mapbox Vector Tile: points by ``ST_AsMVT``, clusters (below ``POINT_ZOOM``) as
        ``geo.vector_tiles.encode_mvt`` encodes them."""
        if z < POINT_ZOOM:
            return encode_mvt(*self.tile_features(z, x, y, flt), z, x, y)
        _, sf = self._tile_filter(z, x, y, flt)
        sql = ("SELECT ST_AsMVT(t, 'facilities', ?, 'geom') FROM (SELECT id, kind, name, name_en, district, status, "
               "access, amenities, opening_hours, workday_calendar, ST_AsMVTGeom(ST_Transform(geom, 3857), "
               f"ST_MakeEnvelope(?, ?, ?, ?, 3857), ?, 0, false) AS geom FROM facilities {sf.where} ORDER BY fid) AS t")
        rows = _run(self.store, sql, (EXTENT, *mercator_bounds(z, x, y), EXTENT, *sf.params))
        return bytes(rows[0][0] or b"")


def _geodesic(point: tuple[float, float], f: Facility) -> float:
    return geodesic_inverse_point(float(point[0]), float(point[1]), f.lon, f.lat)[2]


def _run(store: RegistryStore, sql: str, params: tuple = (), *, fetch: bool = True) -> list[tuple]:
    """One statement outside a transaction (autocommit: it sees one committed state); a lost connection is a 503."""
    try:
        cur = store._q(store._conn(), sql, params)
        return cur.fetchall() if fetch else []
    except StoreUnavailable:
        raise
    except Exception as exc:
        if store.backend.is_connection_error(exc):
            store.connections.discard()
            raise StoreUnavailable(f"registry database {store.where}: {exc}") from exc
        raise


# -- nearest ---------------------------------------------------------------------------------------

_EQUATOR_MERIDIAN_RADIUS_M = 6_335_439.0  # the smallest radius of curvature of the WGS84 ellipsoid


def _min_metres(lat: float, deg: float) -> float:
    """A lower bound of the geodesic distance from latitude ``lat`` to any point ``deg`` degrees (planar, in
    lon/lat) away: that point's latitude is at most ``|lat| + deg``, where a degree of longitude is shortest."""
    far = min(89.999, abs(lat) + deg)
    return 0.999 * _EQUATOR_MERIDIAN_RADIUS_M * math.radians(deg) * math.cos(math.radians(far))


class DbNearest:
    """``FacilityIndex.query`` answered from PostGIS (see the module docstring); ``facilities`` maps a hit's
    ``index`` (its ``fid``) to its record, so ``web.hitjson.HitEncoder`` serialises hits of either engine."""

    def __init__(self, registry: DbRegistry, *, travel: Travel | None = None):
        self.registry = registry
        self.store = registry.store
        self.travel = travel or Travel()
        self.facilities: BoundedDict = BoundedDict(_RECORD_CACHE)
        b = self.store.backend
        self._knn_sql = (f"SELECT {select_list(b)} FROM facilities {{where}} ORDER BY geom <-> "
                         f"ST_SetSRID(ST_MakePoint(?, ?), 4326) LIMIT ?")
        self._minutes: BoundedDict = BoundedDict(_MINUTE_CACHE)
        self._eligible: BoundedDict = BoundedDict(512)
        self._clauses: BoundedDict = BoundedDict(256)
        self._sql: BoundedDict = BoundedDict(256)
        self._hours_column = 1 + _column("opening_hours")
        self._calendar_column = 1 + _column("workday_calendar")
        self._status_column = 1 + _column("status")

    def __len__(self) -> int:
        return len(self.registry)

    def _states(self, at: datetime) -> dict:
        """(open, next change) per (expression, workday_calendar) at minute ``at``: filled as expressions are met."""
        states = self._minutes.get(at)
        if states is None:
            states = self._minutes[at] = {}
        return states

    def _state(self, states: dict, key: tuple[str | None, bool], at: datetime) -> tuple[bool | None, Any, bool]:
        """(open now: None if unknown, next change, always open)."""
        got = states.get(key)
        if got is None:
            if key[0] is None:
                got = (None, None, False)
            else:
                h = Hours.parse(*key)
                got = (h.is_open(at), h.next_change(at), h.always_open)
            states[key] = got
        return got

    def _passes(self, state, at_filter: bool, open_24h: bool, unknown_ok: bool) -> bool:
        is_open, _, always = state
        if is_open is None:
            return unknown_ok or not (at_filter or open_24h)
        return (not at_filter or is_open) and (not open_24h or always)

    def query(self, lon: float, lat: float, *, k: int = 5, radius_m: float | None = None,
              kinds: Sequence[str] = (), amenities: Sequence[str] = (), worker: str | None = None,
              open_at: datetime | None | str = "now", include_closed: bool = False,
              open_24h: bool = False, travel: Travel | None = None,
              include_unknown_hours: bool = False, travel_model: str = "straight", context=None) -> NearestResult:
        """As :meth:`geo.nearest.FacilityIndex.query` (same arguments, same answer); straight-line travel only."""
        straight_only(travel_model)
        check_query(k, radius_m)
        kinds, amenities = tuple(kinds), tuple(amenities)
        _check(kinds, amenities, worker)
        at = query_minute(open_at)
        at_filter = open_at is not None
        hours_sql, hours_params = self._hours_clause(at, at_filter, open_24h, include_unknown_hours)
        key = (kinds, amenities, worker, include_closed, hours_sql)
        prepared = self._sql.get(key)
        if prepared is None:  # the statement per filter (its text stays the same: the driver prepares it)
            sf = SqlFilter.facilities(kinds=kinds, amenities=amenities, worker=worker, include_closed=include_closed)
            where = sf.where + (f" AND {hours_sql}" if hours_sql else "")
            prepared = self._sql[key] = (sf, self.store.backend.sql(self._knn_sql.format(where=where)))
        sf, sql = prepared
        states = self._states(at)
        eligible = self.eligible(sf, at, at_filter, open_24h, include_unknown_hours)
        if not eligible:  # nothing passes: the index walk would read the whole table to find nothing
            return NearestResult([], at, 0)
        lon, lat = float(lon), float(lat)
        inv = geodesic_inverse_point
        hc, cc = self._hours_column, self._calendar_column
        batch = k + _SLACK_ROWS
        conn = self.store._conn()
        while True:  # each round reads the nearest `batch` rows afresh: ties never split across two reads
            try:
                rows = conn.execute(sql, (*sf.params, *hours_params, lon, lat, batch)).fetchall()
            except Exception as exc:
                if self.store.backend.is_connection_error(exc):
                    self.store.connections.discard()
                    raise StoreUnavailable(f"registry database {self.store.where}: {exc}") from exc
                raise
            found: list[tuple[float, int, float, tuple]] = []  # (distance_m, fid, azimuth, row)
            for row in rows:
                if self._passes(self._state(states, (row[hc], bool(row[cc])), at), at_filter, open_24h,
                                include_unknown_hours):
                    az, _, dist_m = inv(lon, lat, float(row[-2]), float(row[-1]))
                    found.append((dist_m, int(row[0]), az, row))
            if len(rows) < batch:
                break  # every row passing the SQL filters was read
            if len(found) >= k:
                found.sort(key=lambda c: (c[0], c[1]))
                dd = math.hypot(float(rows[-1][-2]) - lon, float(rows[-1][-1]) - lat)
                if _min_metres(lat, dd) > found[k - 1][0]:
                    break  # no unread row (each at least dd degrees away) can be nearer than the k-th
            batch *= _GROWTH
        found.sort(key=lambda c: (c[0], c[1]))
        chosen = found[:k]
        chosen = within(chosen, radius_m)
        walk, ebike = (travel or self.travel).per_metre()
        hits = []
        b = self.store.backend
        for dist, fid, az, row in chosen:
            f = self.facilities.get(fid)
            if f is None or f.status != row[self._status_column]:
                f = self.facilities[fid] = decode_row(b, row)
            is_open, nxt, _ = self._state(states, (f.opening_hours, f.workday_calendar), at)
            hits.append(Hit(f, dist, az % 360.0, radius_m is None or dist <= radius_m, is_open, nxt,
                            dist * walk, dist * ebike, fid))
        return NearestResult(hits, at, eligible)

    def _hours_clause(self, at: datetime, at_filter: bool, open_24h: bool, unknown_ok: bool) -> tuple[str, tuple]:
        """The hours filters as SQL: the expressions (per working calendar) that pass at minute ``at``, as two
        array parameters, so the index walk skips what is closed (``''``: every expression passes)."""
        if not (at_filter or open_24h):
            return "", ()
        key = (at, at_filter, open_24h, unknown_ok)
        got = self._clauses.get(key)
        if got is None:
            states = self._states(at)
            passing: dict[bool, list[str]] = {False: [], True: []}
            every = True
            for expr, calendar in sorted(self.registry.hours_in_use, key=lambda p: (p[0] is None, p)):
                if expr is None:
                    continue
                if self._passes(self._state(states, (expr, calendar), at), at_filter, open_24h, unknown_ok):
                    passing[calendar].append(expr)
                else:
                    every = False
            if every and unknown_ok:
                got = ("", ())
            else:
                clause = ("((NOT workday_calendar AND opening_hours = ANY(?)) OR "
                          "(workday_calendar AND opening_hours = ANY(?))" + (" OR opening_hours IS NULL)" if unknown_ok
                                                                               else ")"))
                got = (clause, (passing[False], passing[True]))
            self._clauses[key] = got
        return got

    def eligible(self, sf: SqlFilter, at: datetime, at_filter: bool, open_24h: bool, unknown_ok: bool) -> int:
        """How many facilities pass every filter: the SQL ones counted per hours expression (once per filter and
        version), the hours evaluated at ``at``."""
        key = (tuple(sf.parts), tuple(sf.params))
        groups = self._eligible.get(key)
        if groups is None:
            groups = self._eligible[key] = _run(
                self.store, f"SELECT opening_hours, workday_calendar, count(*) FROM facilities {sf.where} "
                            "GROUP BY 1, 2", tuple(sf.params))
        states = self._states(at)
        return sum(n for h, w, n in groups
                   if self._passes(self._state(states, (h, bool(w)), at), at_filter, open_24h, unknown_ok))


def _column(name: str) -> int:
    from geo.store.registry_store import COLUMNS

    return COLUMNS.index(name)
