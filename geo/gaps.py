"""Uncovered areas and demand hot spots: the cells beyond the threshold, grouped into polygons and ranked.

Two answers from the same machinery:

* :func:`hot_spots` — what ``GET /api/v1/gaps``, ``workermap gaps``, the planner layer and the report show: areas
  a planner can act on. An uncovered cell takes part when its uncovered demand per km² is at least a floor
  (``min_density_km2``; by default :data:`~geo.planner_params.DEFAULT_DENSITY_FLOOR_KM2`: 100 workers or 1,500
  residents per km²). Edge-connected dense cells of one district form a group; a group larger than
  ``max_area_km2`` (default 4 km²) is split into compact parts — recursive bisection across its longer side,
  k = ⌈cells ÷ cap⌉ shares, ⌊k/2⌋ of them on one side — and every part into its connected pieces, so no area
  exceeds the cap. Each area is called after the nearest place (township or town, :class:`Places`) that lies
  in its district, and carries its centroid in WGS84 and GCJ-02. Thinner demand is not drawn: it is summed per
  district (``below_floor``).
* :func:`uncovered_areas` — every uncovered cell, in whole connected areas (the coverage benchmark's polygons).

How (fast, and exact on the cell geometry):

1. cells are split into connected areas: the connected components (``scipy.sparse.csgraph``) of the graph
   joining raster neighbours that share an edge and a district (or a part of a split group), so an area lies
   in one district;
2. areas are ranked by uncovered workers (or residents) from per-cell sums — no geometry yet;
3. only the areas asked for are turned into polygons, from their boundaries: the cell edges
   where the label changes, merged into runs along each grid line, noded and assembled with
   ``shapely.build_area`` (holes included). Unioning the ~1 M raw cells instead takes > 10 s and
   ~1 GB, unioning row strips ~0.3 s; this takes about 0.1 s for the whole city at 100 m.

Polygons are built in EPSG:4549, so an area's polygon area equals its cell count × cell area, and areas,
centroids and distances to places are measured there; the WGS84 copy (edges densified to ≤ 2 km before
reprojecting) is what GeoJSON carries.

>>> import numpy as np
>>> from geo.coverage import PreparedGrid, Threshold, compute_coverage
>>> from geo.crs import to_lonlat
>>> from geo.demand import DemandGrid
>>> from geo.nearest import FacilityIndex
>>> i, j = np.meshgrid(np.arange(5), np.arange(5))  # 5 x 5 cells of 100 m, no facility at all
>>> x, y = 500_050.0 + 100 * i.ravel(), 4_000_050.0 + 100 * j.ravel()
>>> lon, lat = to_lonlat(x, y)
>>> grid = DemandGrid(x, y, lon, lat, np.full(25, "370202"), np.ones(25), np.full(25, 0.5), cell_m=100)
>>> cov = compute_coverage(PreparedGrid(grid), FacilityIndex([]), Threshold.metres(300))
>>> [(g.rank, g.cells, g.area_km2, g.uncovered_workers) for g in uncovered_areas(cov)]
[(1, 25, 0.25, 12.5)]
>>> spots = hot_spots(cov, min_density_km2=40)  # 50 workers per km² in every cell: all dense
>>> [(g.rank, g.cells, g.area_km2) for g in spots.areas], spots.below_floor[0]["cells"]
([(1, 25, 0.25)], 0)
>>> [(g.cells, g.area_km2) for g in hot_spots(cov, min_density_km2=60).areas]  # all below the floor
[]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely

from geo.coverage import Coverage, ParameterError
from geo.crs import to_lonlat, to_metric
from geo.datum import wgs84_to_gcj02
from geo.planner_params import (
    CITY_NAME,
    DEFAULT_DENSITY_FLOOR_KM2,
    DEFAULT_MAX_AREA_KM2,
    DEMANDS,
    MAX_AREA_KM2,
    MAX_DENSITY_KM2,
    MAX_GAPS,
    MIN_AREA_KM2,
)

__all__ = ["MAX_GAPS", "UNCOVERED_TITLE", "Gap", "HotSpots", "Places", "gaps_feature_collection", "hot_spots",
           "town_places", "uncovered_areas", "uncovered_title"]

_DENSIFY_M = 2000.0
#: Names that are the city, not a place in it (the GeoNames seat "Qingdao" lies in 市南区).
_CITY_NAMES = (CITY_NAME, CITY_NAME.removesuffix("市"))


# --------------------------------------------------------------------------- places


@dataclass(frozen=True, eq=False)
class Places:
    """Named places — townships and towns — each lying in its district (EPSG:4549): what an area is called by."""

    names: tuple[str, ...]
    adcode: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @classmethod
    def from_points(cls, points: Iterable[tuple[str, str, float, float]], districts) -> Places:
        """``points``: (name, district adcode or name, lon, lat). A point is kept only if it lies in that district's
        polygon (shapely, edges count: ``Districts.locate``), so a place is always in its district."""
        rows = [(name, districts.lookup.get(d, ""), float(lon), float(lat)) for name, d, lon, lat in points]
        names = np.array([r[0] for r in rows], dtype=object)
        codes = np.array([r[1] for r in rows], dtype=object)
        lon = np.array([r[2] for r in rows], dtype="float64")
        lat = np.array([r[3] for r in rows], dtype="float64")
        keep = (codes != "") & (districts.locate(lon, lat) == codes) if rows else np.zeros(0, dtype=bool)
        x, y = to_metric(lon[keep], lat[keep]) if keep.any() else (np.empty(0), np.empty(0))
        return cls(tuple(names[keep]), codes[keep], np.atleast_1d(x), np.atleast_1d(y))

    def __len__(self) -> int:
        return len(self.names)

    def nearest(self, adcode: str, x: float, y: float) -> tuple[str | None, float | None]:
        """The place of district ``adcode`` nearest to (x, y) and its distance in metres (None if it has none)."""
        among = np.flatnonzero(self.adcode == adcode)
        if len(among) == 0:
            return None, None
        d = np.hypot(self.x[among] - x, self.y[among] - y)
        k = int(np.argmin(d))  # ties: the first listed
        return self.names[among[k]], float(round(d[k]))


def town_places(facilities, districts) -> Places:
    """The townships and towns of the place search (``geo.search.place_entries``: a township at its GeoNames
    seat, else at the mean position of the registry's facilities in it), without the city's own name."""
    from geo.search import place_entries

    return Places.from_points(((e.name, e.district or "", e.lon, e.lat) for e in place_entries(facilities)
                               if e.type in ("township", "place") and e.name not in _CITY_NAMES), districts)


# --------------------------------------------------------------------------- areas


@dataclass(frozen=True, eq=False)
class Gap:
    """One uncovered area: a connected set of uncovered cells within one district."""

    rank: int
    adcode: str
    district: str
    cells: int
    area_km2: float
    uncovered_workers: float
    uncovered_residents: float
    geometry_m: shapely.Geometry  # EPSG:4549
    geometry: shapely.Geometry  # WGS84 lon/lat
    place: str | None = None  # the nearest place in the district (None: no places given)
    place_distance_m: float | None = None  # from the centroid

    def properties(self) -> dict:
        point = self.geometry.representative_point()
        c = shapely.centroid(self.geometry_m)
        lon, lat = (float(v) for v in to_lonlat(c.x, c.y))
        glon, glat = wgs84_to_gcj02(lon, lat)
        return {"rank": self.rank, "district": self.district, "adcode": self.adcode, "place": self.place,
                "place_distance_m": self.place_distance_m, "cells": self.cells, "area_km2": self.area_km2,
                "uncovered_workers": self.uncovered_workers, "uncovered_residents": self.uncovered_residents,
                "lon": round(point.x, 6), "lat": round(point.y, 6), "centroid_lon": round(lon, 6),
                "centroid_lat": round(lat, 6), "centroid_gcj02_lon": round(glon, 6),
                "centroid_gcj02_lat": round(glat, 6)}


def _label(prepared, cells: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, int]:
    """Area label (1..n) of each cell in ``cells``: edge-connected cells with the same ``group`` value (the
    connected components of the graph joining each cell to its east and north neighbours of its group)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(cells)
    if n == 0:
        return np.zeros(0, dtype=np.int32), 0
    rows, cols = prepared.row[cells], prepared.col[cells]
    at = np.full((prepared.shape[0] + 1, prepared.shape[1] + 1), -1, dtype=np.int64)  # a spare row and column
    at[rows, cols] = np.arange(n)
    links = []
    for nb in (at[rows, cols + 1], at[rows + 1, cols]):
        ok = nb >= 0
        ok[ok] = group[nb[ok]] == group[ok]
        links.append((np.flatnonzero(ok), nb[ok]))
    a = np.concatenate([k[0] for k in links])
    b = np.concatenate([k[1] for k in links])
    m, labels = connected_components(coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)),
                                     directed=False)
    return (labels + 1).astype(np.int32), int(m)


def _bisect(rows: np.ndarray, cols: np.ndarray, part: np.ndarray, max_cells: int) -> np.ndarray:
    """``part`` (an id per cell) with every part of more than ``max_cells`` cells halved across its longer side
    until none is larger, all parts at once: the new part id (0..) of each cell.

    A part of n cells is cut into shares of k = ⌈n / max_cells⌉: ⌊k/2⌋ shares on one side (cells ordered along
    the longer side of its bounding box, then across), the rest on the other, so parts end up close to the cap.
    """
    part = np.unique(part, return_inverse=True)[1].ravel()
    while True:
        size = np.bincount(part)
        sel = np.flatnonzero(size[part] > max_cells)
        if len(sel) == 0:
            return part
        p, r, c = part[sel], rows[sel], cols[sel]
        o = np.argsort(p, kind="stable")
        starts = np.flatnonzero(np.r_[True, p[o][1:] != p[o][:-1]])
        ids = p[o][starts]
        by_rows = np.zeros(len(size), dtype=bool)
        by_rows[ids] = (np.maximum.reduceat(r[o], starts) - np.minimum.reduceat(r[o], starts)
                        >= np.maximum.reduceat(c[o], starts) - np.minimum.reduceat(c[o], starts))
        along, across = np.where(by_rows[p], r, c), np.where(by_rows[p], c, r)
        o = np.lexsort((across, along, p))  # by part, the same runs as above
        pos = np.empty(len(sel), dtype=np.int64)
        pos[o] = np.arange(len(sel)) - np.repeat(starts, np.diff(np.r_[starts, len(sel)]))
        n = size[p]
        k = -(-n // max_cells)
        second = pos >= n * (k // 2) // k
        part = part.copy()
        part[sel[second]] += len(size)  # the second side: a new id
        part = np.unique(part, return_inverse=True)[1].ravel()


def _runs(label: np.ndarray, line: np.ndarray, pos: np.ndarray):
    """Unit edges (label, line, pos) merged into runs of consecutive ``pos``: (label, line, start, end)."""
    order = np.lexsort((pos, line, label))
    label, line, pos = label[order], line[order], pos[order]
    new = np.r_[True, (label[1:] != label[:-1]) | (line[1:] != line[:-1]) | (pos[1:] != pos[:-1] + 1)]
    start = np.flatnonzero(new)
    end = np.r_[start[1:], len(pos)] - 1
    return label[start], line[start], pos[start], pos[end] + 1


def _boundaries(prepared, rows: np.ndarray, cols: np.ndarray, labels: np.ndarray):
    """Boundary segments of labelled cells, in EPSG:4549: (label per segment, LineString array).

    An edge between two cells with different labels (or a labelled cell and nothing) is a
    boundary of each labelled side; unit edges on one grid line are merged into runs.
    """
    h, w = prepared.shape
    lab = np.zeros((h + 2, w + 2), dtype=np.int32)
    lab[rows + 1, cols + 1] = labels
    parts = []
    for axis in (0, 1):  # 0: horizontal edges between rows; 1: vertical edges between columns
        a = lab[:-1, :] if axis == 0 else lab[:, :-1]
        b = lab[1:, :] if axis == 0 else lab[:, 1:]
        r, c = np.nonzero(a != b)
        la, lb = a[r, c], b[r, c]
        side = np.concatenate([la[la > 0], lb[lb > 0]])
        r = np.concatenate([r[la > 0], r[lb > 0]])
        c = np.concatenate([c[la > 0], c[lb > 0]])
        # padded raster -> grid lines: a horizontal edge lies on line y = r, from x = c - 1 to c
        line, pos = (r, c - 1) if axis == 0 else (c, r - 1)
        parts.append((axis, *_runs(side, line, pos)))
    cell, ox, oy = float(prepared.cell_m), prepared.origin_x, prepared.origin_y
    seg_labels, coords = [], []
    for axis, side, line, p0, p1 in parts:
        fixed = (oy if axis == 0 else ox) + line * cell
        a, b = (ox if axis == 0 else oy) + p0 * cell, (ox if axis == 0 else oy) + p1 * cell
        start = np.column_stack([a, fixed] if axis == 0 else [fixed, a])
        end = np.column_stack([b, fixed] if axis == 0 else [fixed, b])
        coords.append(np.stack([start, end], axis=1))
        seg_labels.append(side)
    return np.concatenate(seg_labels), shapely.linestrings(np.concatenate(coords))


def _polygon(segments: np.ndarray) -> shapely.Geometry:
    """The area bounded by closed boundary segments (holes included)."""
    geom = shapely.build_area(shapely.node(shapely.multilinestrings(segments)))
    return geom if shapely.is_valid(geom) else shapely.make_valid(geom)


def _check(rank_by: str, limit: int | None) -> None:
    if rank_by not in DEMANDS:
        raise ParameterError("demand", rank_by, f"one of {', '.join(DEMANDS)}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ParameterError("limit", limit, "a whole number ≥ 1")


def _uncovered(cov: Coverage, district: str | None) -> np.ndarray:
    unc = ~cov.covered
    mask = cov.prepared.cell_mask(district)
    return unc if mask is None else unc & mask


def _ranked(cov: Coverage, cells: np.ndarray, labels: np.ndarray, n: int, *, rank_by: str, limit: int | None,
            places: Places | None) -> list[Gap]:
    """The labelled areas (1..n) of ``cells``, largest uncovered ``rank_by`` first (ties: larger area, then
    district code), the first ``limit`` of them as polygons."""
    if n == 0:
        return []
    p, g = cov.prepared, cov.prepared.grid
    wrk = np.bincount(labels, weights=g.workers[cells], minlength=n + 1)[1:]
    res = np.bincount(labels, weights=g.residents[cells], minlength=n + 1)[1:]
    count = np.bincount(labels, minlength=n + 1)[1:]
    code = np.zeros(n, dtype=np.int64)
    code[labels - 1] = p.code[cells]
    primary = wrk if rank_by == "workers" else res
    order = np.lexsort((code, -count, -np.round(primary, 6)))
    chosen = order if limit is None else order[:limit]
    keep = np.zeros(n + 1, dtype=bool)
    keep[chosen + 1] = True
    sel = keep[labels]
    seg_label, segments = _boundaries(p, p.row[cells[sel]], p.col[cells[sel]], labels[sel])
    order = np.argsort(seg_label, kind="stable")
    seg_label, segments = seg_label[order], segments[order]
    bounds = (np.searchsorted(seg_label, chosen + 1, side="left"),
              np.searchsorted(seg_label, chosen + 1, side="right"))
    out = []
    for rank, (lab0, a, b) in enumerate(zip(chosen, *bounds, strict=True), start=1):
        geom_m = _polygon(segments[a:b])
        geom = shapely.transform(shapely.segmentize(geom_m, _DENSIFY_M), _to_lonlat_coords)
        k = int(code[lab0])
        cells_n = int(count[lab0])
        place, away = (None, None)
        if places is not None:
            c = shapely.centroid(geom_m)
            place, away = places.nearest(p.adcodes[k], c.x, c.y)
        out.append(Gap(rank, p.adcodes[k], p.names[k], cells_n, round(cells_n * g.cell_area_km2, 4),
                       round(float(wrk[lab0]), 1), round(float(res[lab0]), 1), geom_m, geom, place, away))
    return out


def uncovered_areas(cov: Coverage, *, district: str | None = None, limit: int | None = None,
                    rank_by: str = "workers", places: Places | None = None) -> list[Gap]:
    """Every uncovered cell of ``cov`` (of one district if given) in whole connected areas, largest uncovered
    demand first. ``limit``: at most this many (all if None). Ties rank by area, then district code."""
    _check(rank_by, limit)
    p = cov.prepared
    cells = np.flatnonzero(_uncovered(cov, district))
    labels, n = _label(p, cells, p.code[cells])
    return _ranked(cov, cells, labels, n, rank_by=rank_by, limit=limit, places=places)


# --------------------------------------------------------------------------- hot spots


@dataclass(frozen=True, eq=False)
class HotSpots:
    """Dense uncovered areas (the first ``limit``), how they were made, and the demand they leave out."""

    areas: list[Gap]
    found: int  # areas above the floor, listed or not
    demand: str
    min_density_km2: float
    max_area_km2: float
    cell_km2: float
    below_floor: list[dict]  # per district: the uncovered cells below the floor and their demand
    uncovered: float  # uncovered ``demand`` in scope
    in_areas: float  # of which in areas above the floor

    def settings(self) -> dict:
        """How the areas were made, for the assumptions."""
        return {"demand": self.demand, "min_density_km2": self.min_density_km2,
                "min_per_cell": round(self.min_density_km2 * self.cell_km2, 4), "max_area_km2": self.max_area_km2,
                "grouping": "uncovered cells at or above the floor sharing an edge, within one district; a larger "
                            "group bisected across its longer side until no part exceeds max_area_km2; areas in "
                            "EPSG:4549",
                "place": "nearest township or town (in the area's district) to the area's centroid"}

    def summary(self) -> dict:
        """How much of the uncovered demand the areas hold (all of them, and the ones listed)."""
        listed = sum(getattr(g, f"uncovered_{self.demand}") for g in self.areas)

        def pct(v: float) -> float | None:
            return None if self.uncovered <= 0 else round(100.0 * v / self.uncovered, 2)

        return {"demand": self.demand, "areas": self.found, "listed": len(self.areas),
                "uncovered": round(self.uncovered, 1), "in_areas": round(self.in_areas, 1),
                "in_listed": round(listed, 1), "in_areas_pct": pct(self.in_areas), "in_listed_pct": pct(listed)}


def hot_spots(cov: Coverage, places: Places | None = None, *, district: str | None = None, limit: int | None = None,
              rank_by: str = "workers", max_area_km2: float = DEFAULT_MAX_AREA_KM2,
              min_density_km2: float | None = None) -> HotSpots:
    """Dense uncovered areas of ``cov`` (of one district if given), none larger than ``max_area_km2``, largest
    uncovered ``rank_by`` first, each named after the nearest of ``places`` in its district.

    A cell counts when its uncovered ``rank_by`` per km² is at least ``min_density_km2`` (default: the floor of
    that demand, :data:`~geo.planner_params.DEFAULT_DENSITY_FLOOR_KM2`). A cap below one cell's area leaves areas
    of one cell.
    """
    _check(rank_by, limit)
    if isinstance(max_area_km2, bool) or not isinstance(max_area_km2, int | float) or not (
            MIN_AREA_KM2 <= max_area_km2 <= MAX_AREA_KM2):
        raise ParameterError("max_area_km2", max_area_km2, f"an area in km² between {MIN_AREA_KM2} and {MAX_AREA_KM2}")
    floor = DEFAULT_DENSITY_FLOOR_KM2[rank_by] if min_density_km2 is None else min_density_km2
    if isinstance(floor, bool) or not isinstance(floor, int | float) or not 0 <= floor <= MAX_DENSITY_KM2:
        raise ParameterError("min_density_km2", min_density_km2, f"a density per km² between 0 and {MAX_DENSITY_KM2:g}")
    p, g = cov.prepared, cov.prepared.grid
    values = p.demand(rank_by)
    unc = _uncovered(cov, district)
    dense = unc & (values / g.cell_area_km2 >= floor)
    cells = np.flatnonzero(dense)
    groups, n = _label(p, cells, p.code[cells])
    max_cells = max(1, math.floor(max_area_km2 / g.cell_area_km2 + 1e-9))
    if n and np.bincount(groups).max() > max_cells:
        part = _bisect(p.row[cells], p.col[cells], groups, max_cells)
        groups, n = _label(p, cells, part)  # a part of a bisected group may fall apart: each piece an area
    areas = _ranked(cov, cells, groups, n, rank_by=rank_by, limit=limit, places=places)
    thin = np.flatnonzero(unc & ~dense)
    k = len(p.adcodes)
    counts = np.bincount(p.code[thin], minlength=k)
    wrk = np.bincount(p.code[thin], weights=g.workers[thin], minlength=k)
    res = np.bincount(p.code[thin], weights=g.residents[thin], minlength=k)
    code = p.district_code(district)
    below = [{"adcode": p.adcodes[i], "district": p.names[i], "cells": int(counts[i]),
              "area_km2": round(int(counts[i]) * g.cell_area_km2, 4), "uncovered_workers": round(float(wrk[i]), 1),
              "uncovered_residents": round(float(res[i]), 1)}
             for i in (range(k) if code is None else [code])]
    return HotSpots(areas, n, rank_by, float(floor), float(max_area_km2), g.cell_area_km2, below,
                    float(values[unc].sum()), float(values[cells].sum()))


def _to_lonlat_coords(xy: np.ndarray) -> np.ndarray:
    lon, lat = to_lonlat(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def _rounded(geom: shapely.Geometry, decimals: int = 6) -> dict:
    geom = shapely.orient_polygons(geom)  # RFC 7946: exterior rings counter-clockwise
    return shapely.geometry.mapping(shapely.transform(geom, lambda c: np.round(c, decimals)))


#: Title of the uncovered-areas layer in exported files (Qingdao's; another city's: :func:`uncovered_title`).
UNCOVERED_TITLE = "青岛职工服务未覆盖区域 / Qingdao worker services: uncovered areas"


def uncovered_title(city: str | None = None) -> str:
    """The uncovered-areas layer's title for the city (adcode: a gaps answer's ``assumptions.city``) it is of:
    :data:`UNCOVERED_TITLE` for Qingdao or none, else naming the city (``geo.kml.city_title``)."""
    from geo.kml import city_title

    return city_title(UNCOVERED_TITLE, city, "{zh}职工服务未覆盖区域 / ", "{en} worker services: uncovered areas",
                      "Worker services: uncovered areas")


def gap_features(gaps: list[Gap]) -> list[dict]:
    """``gaps`` as RFC 7946 features (WGS84), the rank as id."""
    return [{"type": "Feature", "id": gp.rank, "properties": gp.properties(), "geometry": _rounded(gp.geometry)}
            for gp in gaps]


def gaps_feature_collection(gaps: list[Gap], *, assumptions: dict, demand_source: str, **members) -> dict:
    """RFC 7946 FeatureCollection of ``gaps`` (WGS84), with the assumptions (and ``members``: a hot-spot
    summary, the demand below the floor) as foreign members."""
    return {
        "type": "FeatureCollection",
        "demand_source": demand_source,
        "assumptions": assumptions,
        **members,
        "features": gap_features(gaps),
    }


def lost_areas(today: Coverage, scenario: Coverage, places: Places | None = None, *, district: str | None = None,
               limit: int | None = None, rank_by: str = "workers") -> list[Gap]:
    """The cells covered ``today`` and not in ``scenario`` (a what-if; of one district if given) as connected
    areas within one district, the most ``rank_by`` they leave uncovered first."""
    _check(rank_by, limit)
    p = today.prepared
    lost = today.covered & ~scenario.covered
    mask = p.cell_mask(district)
    cells = np.flatnonzero(lost if mask is None else lost & mask)
    labels, n = _label(p, cells, p.code[cells])
    return _ranked(today, cells, labels, n, rank_by=rank_by, limit=limit, places=places)
