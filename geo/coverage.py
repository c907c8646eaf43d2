"""Service-area coverage on the demand grid: who is within a threshold of an eligible facility.

A *threshold* is minutes by mode (walk / e-bike, converted to a straight-line radius with the
nearest engine's speeds and detour factor: ``Travel.radius_m``) or plain metres. For every cell
of the demand grid (:mod:`geo.demand`) we find the distance from the cell centre to the nearest
eligible facility (``FacilityIndex.batch_distances`` on EPSG:4549 metres, a cKDTree) and call the
cell *covered* when that distance is at most the threshold.

Edge rule
    A cell whose centre lies **exactly** ``threshold_m`` from a facility is covered
    (``distance_m <= threshold_m``, with :data:`EDGE_TOLERANCE_M` = 1 µm for floating-point
    rounding). Planar EPSG:4549 distances differ from geodesic ones by at most ~0.012 % over
    Qingdao, so cells whose planar distance is within :data:`GEODESIC_BAND` of the threshold are
    re-measured on the WGS84 ellipsoid (``pyproj.Geod``) against every facility that could be
    within reach: coverage is exactly the geodesic answer, while 99.9 % of cells keep the fast
    planar distance.

Travel models (``Threshold.model``, the ``travel`` parameter)
    ``straight`` is the above. ``land`` and ``network`` measure the route from each cell centre to its nearest
    site (``geo.travel.route_distances``: one multi-source search, bounded at twice the threshold); a cell is
    covered when the route's minutes are within the threshold's minutes (with ``threshold_m``: its metres), and
    ``distance_m`` is the route's metres. Pairs of cells and sites within reach (the 24-hour table, siting,
    access) come from bounded searches, sites whose reaches cannot overlap searched together (:func:`route_pairs`).

Demand
    residents and outdoor workers per cell; every table says whether the grid is modelled or
    imported (``DemandGrid.source``). District sums of a table equal the grid's district totals
    (for the shipped grid: the census 2020 figures).

>>> import numpy as np
>>> from geo.demand import DemandGrid
>>> from geo.crs import to_lonlat
>>> from geo.nearest import FacilityIndex
>>> from geo.model import Facility
>>> x = np.array([500_050.0, 500_150.0, 500_250.0]); y = np.full(3, 4_000_050.0)
>>> lon, lat = to_lonlat(x, y)
>>> grid = DemandGrid(x, y, np.asarray(lon), np.asarray(lat), np.array(["370202"] * 3),
...                   np.array([10.0, 20.0, 30.0]), np.array([1.0, 2.0, 3.0]), cell_m=100)
>>> f = Facility("a", "station", "A", float(lon[0]), float(lat[0]), "370202", "市南区")
>>> cov = compute_coverage(PreparedGrid(grid), FacilityIndex([f]), Threshold.metres(150))
>>> cov.covered.tolist(), cov.city_row()["workers_covered_pct"]
([True, True, False], 50.0)
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from functools import cache, cached_property
from typing import Any

import numpy as np

from geo.crs import GEOD, to_metric
from geo.demand import DemandGrid
from geo.errors import ParameterError  # the core's one argument error, re-exported for callers of this module
from geo.hours import local_time
from geo.model import AMENITIES, KINDS, WORKER_TYPES, bounds_text, in_city_bounds, region_name
from geo.nearest import FacilityIndex, Travel
from geo.planner_params import (  # the limits and vocabularies are declared with the parameters (light to import)
    CITY_ADCODE,
    CITY_NAME,
    DEMANDS,
    MAX_MINUTES,
    MAX_THRESHOLD_M,
    MODES,
)
from geo.regions import whole_region

__all__ = [
    "CITY_ADCODE",
    "CITY_NAME",
    "DEMANDS",
    "EDGE_RULE",
    "EDGE_TOLERANCE_M",
    "MODES",
    "Coverage",
    "FacilityFilter",
    "LruCache",
    "ParameterError",
    "PreparedGrid",
    "Sites",
    "Threshold",
    "WhatIf",
    "compute_coverage",
    "hourly_coverage",
    "disc_pairs",
    "reach_pairs",
    "route_pairs",
    "threshold_pairs",
    "whatif",
]

#: Floating-point slack for "exactly on the threshold counts as covered".
EDGE_TOLERANCE_M = 1e-6
#: Relative band around the threshold in which planar distances are replaced by geodesic ones.
GEODESIC_BAND = 2.5e-4
EDGE_RULE = ("a cell is covered when the distance from its centre to the nearest eligible facility is at most "
             "threshold_m; exactly on the threshold counts as covered")
DISTANCE_NOTE = ("straight-line distance from the cell centre, EPSG:4549 metres; geodesic (WGS84) where within "
                 "0.025 % of the threshold, so coverage equals the geodesic answer")
#: How distances are measured by the routed models (``geo.travel``), and what a threshold then compares.
ROUTE_NOTES = {
    "land": "metres of the shortest path over land (never across the sea) from the cell centre to the facility",
    "network": "metres along the imported roads from the cell centre to the facility, the snap legs included",
}
#: Floating-point slack for "exactly on a minutes threshold counts" (routed models compare minutes).
EDGE_TOLERANCE_MIN = 1e-9


# --------------------------------------------------------------------------- assumptions


@dataclass(frozen=True)
class Threshold:
    """A coverage threshold: ``radius_m`` straight-line metres, from minutes by mode or given directly.

    >>> t = Threshold.minutes_by(15, "walk")
    >>> round(t.radius_m, 1), t.label
    (923.1, '15 min walk (923 m)')
    >>> Threshold.metres(500).label
    '500 m'
    """

    radius_m: float
    mode: str | None = None
    minutes: float | None = None
    travel: Travel = field(default_factory=Travel)
    #: The travel model (``geo.travel.TRAVEL_MODELS``): ``straight`` circles, or routes ``land`` / ``network``.
    model: str = "straight"
    #: The routed models' data (``geo.travel.TravelContext``); one per process, so not part of equality.
    context: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def minutes_by(cls, minutes: float, mode: str, travel: Travel | None = None, *, model: str = "straight",
                   context: Any = None) -> Threshold:
        travel = travel or Travel()
        if mode not in MODES:
            raise ParameterError("mode", mode, f"one of {', '.join(MODES)}")
        if isinstance(minutes, bool) or not (isinstance(minutes, int | float) and math.isfinite(minutes)
                                             and 0 < minutes <= MAX_MINUTES):
            raise ParameterError("minutes", minutes, f"a number of minutes greater than 0 and at most {MAX_MINUTES}")
        return cls(travel.radius_m(float(minutes), mode), mode, float(minutes), travel, model, context)._checked()

    @classmethod
    def metres(cls, threshold_m: float, travel: Travel | None = None, *, model: str = "straight",
               context: Any = None) -> Threshold:
        if isinstance(threshold_m, bool) or not (isinstance(threshold_m, int | float) and math.isfinite(threshold_m)
                                                 and 0 < threshold_m <= MAX_THRESHOLD_M):
            raise ParameterError("threshold_m", threshold_m, f"a distance in metres greater than 0 and at most "
                                 f"{MAX_THRESHOLD_M:.0f}")
        return cls(float(threshold_m), None, None, travel or Travel(), model, context)._checked()

    def _checked(self) -> Threshold:
        """This threshold, once its model can answer (``network`` without an import: a 400 naming travel)."""
        if self.routed:
            self.travel_context.require(self.model, self.route_mode)
        return self

    @property
    def routed(self) -> bool:
        """Whether distances are routes (``land``, ``network``) rather than straight lines."""
        return self.model != "straight"

    @property
    def route_mode(self) -> str:
        """The mode routes are taken by (a threshold in metres: walking)."""
        return self.mode or "walk"

    @property
    def travel_context(self):
        """The context the models are measured with (a bare one, enough for ``straight``, when none was given)."""
        return self.context if self.context is not None else _bare_context()

    def limit_minutes(self, factor: float = 1.0) -> float:
        """Route minutes within which every route of at most ``factor`` × the threshold lies (a threshold in metres:
        its metres at the slowest speed a route may go, walking; over land × the detour factor)."""
        if self.minutes is not None:
            return factor * self.minutes
        t = self.travel
        slowest = min(t.walk_kmh, t.ebike_kmh if self.route_mode == "ebike" else t.walk_kmh) * 1000.0 / 60.0
        return factor * self.radius_m * (t.detour_factor if self.model == "land" else 1.0) / slowest

    def straight_reach_m(self, limit_minutes: float) -> float:
        """The farthest straight line a route of at most ``limit_minutes`` can span (a route is never shorter than
        the straight line; over land it goes at the mode's speed ÷ the detour factor, on the roads at most at the
        faster of the mode's and the walking speed)."""
        t = self.travel
        speed = {"walk": t.walk_kmh, "ebike": t.ebike_kmh}[self.route_mode]
        if self.model == "land":
            reach = limit_minutes * speed * 1000.0 / 60.0 / t.detour_factor
        else:
            reach = limit_minutes * max(speed, t.walk_kmh) * 1000.0 / 60.0
        return reach * (1 + GEODESIC_BAND) + 1.0  # road lengths are geodesic: planar may exceed them by 0.012 %

    def within(self, path_m: np.ndarray, minutes: np.ndarray) -> np.ndarray:
        """Which routes are within this (routed) threshold: their minutes, or with ``threshold_m`` their metres
        (exactly on it counts)."""
        if self.minutes is not None:
            return np.asarray(minutes) <= self.minutes + EDGE_TOLERANCE_MIN
        return np.asarray(path_m) <= self.radius_m + EDGE_TOLERANCE_M

    def describe(self) -> dict:
        """The travel model as every answer states it (``geo.travel.TravelContext.describe``)."""
        return self.travel_context.describe(self.model, self.route_mode, self.travel)

    @property
    def label(self) -> str:
        how = {"land": " over land", "network": " by road"}.get(self.model, "")
        if self.mode is None:
            return f"{self.radius_m:g} m{how}"
        if self.routed:
            return f"{self.minutes:g} min {self.mode}{how}"
        return f"{self.minutes:g} min {self.mode} ({self.radius_m:.0f} m)"

    def as_dict(self) -> dict:
        speed = None if self.mode is None else {"walk": self.travel.walk_kmh, "ebike": self.travel.ebike_kmh}[self.mode]
        if not self.routed:
            rule = ("threshold_m = minutes × speed ÷ detour_factor (straight line)" if self.mode else
                    "threshold_m given directly (straight line)")
        elif self.mode:
            rule = (f"a cell is covered when its route ({self.model}) takes at most minutes; threshold_m = minutes × "
                    "speed ÷ detour_factor is the straight line of that time, for reference")
        else:
            rule = f"a cell is covered when its route ({self.model}) is at most threshold_m metres long"
        return {
            "mode": self.mode,
            "minutes": self.minutes,
            "threshold_m": round(self.radius_m, 2),
            "speed_kmh": speed,
            **self.travel.as_dict(),
            "radius_rule": rule,
            "distance": ROUTE_NOTES.get(self.model, DISTANCE_NOTE),
            "edge_rule": EDGE_RULE,
            "travel": self.describe(),
        }


@cache
def _bare_context():
    """A travel context with no data: enough for ``straight`` (thresholds built without one, doctests)."""
    from geo.travel import TravelContext

    return TravelContext()


@dataclass(frozen=True)
class FacilityFilter:
    """Which facilities count: kinds (any of), amenities (all of), worker access, open at a time, 24/7 only.

    ``open_at=None`` ignores opening hours. A facility whose hours are unknown never counts as open at a time
    or round the clock unless ``include_unknown_hours``. Temporarily closed / maintenance facilities count
    only with ``include_closed``; removed ones never.
    """

    kinds: tuple[str, ...] = ("station",)
    amenities: tuple[str, ...] = ()
    worker: str | None = None
    open_at: datetime | None = None
    include_closed: bool = False
    open_24h: bool = False  # only facilities open round the clock (opening_hours "24/7")
    include_unknown_hours: bool = False  # the hours filters keep facilities whose hours are unknown

    def __post_init__(self):
        for name, values, allowed in (("kind", self.kinds, KINDS), ("amenity", self.amenities, AMENITIES)):
            for v in values:
                if v not in allowed:
                    raise ParameterError(name, v, f"one or more of {', '.join(allowed)}")
        if self.worker is not None and self.worker not in WORKER_TYPES:
            raise ParameterError("worker", self.worker, f"one of {', '.join(WORKER_TYPES)}")
        if self.open_at is not None:
            object.__setattr__(self, "open_at", local_time(self.open_at).replace(second=0))

    def indices(self, index: FacilityIndex) -> np.ndarray:
        """Indices into ``index.facilities`` of the facilities passing the filter (sorted)."""
        extra = {"open_24h": True} if self.open_24h else {}
        if self.include_unknown_hours:
            extra["include_unknown_hours"] = True
        return index.eligible(kinds=self.kinds, amenities=self.amenities, worker=self.worker,
                              open_at=self.open_at, include_closed=self.include_closed, **extra)

    def at(self, when: datetime | None) -> FacilityFilter:
        return replace(self, open_at=when)

    def as_dict(self) -> dict:
        return {
            "kind": list(self.kinds) or "any",
            "amenity": list(self.amenities),
            "worker": self.worker,
            "open_at": "any" if self.open_at is None else self.open_at.isoformat(timespec="minutes") + "+08:00",
            "include_closed": self.include_closed,
            "open_24h": self.open_24h,
            "include_unknown_hours": self.include_unknown_hours,
        }


# --------------------------------------------------------------------------- grid


class PreparedGrid:
    """A demand grid with what coverage needs precomputed: district codes, totals, raster positions.

    ``row``/``col``: each cell's position on the ``shape`` raster (row 0 = southernmost), whose
    lower-left corner is ``(origin_x, origin_y)`` in EPSG:4549. ``scope``: ``(adcode, name)`` of the area the
    grid covers, its whole-area rows' name (default: the region served, ``geo.regions.whole_region``; a city
    of a province: the city, ``geo.city_planner``).
    """

    def __init__(self, grid: DemandGrid, names: Mapping[str, str] | None = None, *,
                 scope: tuple[str, str] | None = None):
        if len(grid) == 0:
            raise ValueError("the demand grid has no cells")
        self.grid = grid
        self._scope = scope
        names = dict(names or {})
        raw = np.asarray(grid.adcode, dtype=str)
        # rows come in runs of one district: unique over the run starts, then a binary search
        # (10x faster than np.unique over a million strings)
        adcodes = np.unique(raw[np.r_[True, raw[1:] != raw[:-1]]])
        self.adcodes: list[str] = [str(a) for a in adcodes]
        self.names: list[str] = [names.get(a, a) for a in self.adcodes]
        self.code = np.searchsorted(adcodes, raw).astype(np.int16)
        cell = float(grid.cell_m)
        i = np.floor(grid.x / cell).astype(np.int64)
        j = np.floor(grid.y / cell).astype(np.int64)
        self.i0, self.j0 = int(i.min()), int(j.min())
        self.col = (i - self.i0).astype(np.int32)
        self.row = (j - self.j0).astype(np.int32)
        self.shape = (int(self.row.max()) + 1, int(self.col.max()) + 1)
        self.origin_x, self.origin_y = self.i0 * cell, self.j0 * cell
        k = len(self.adcodes)
        self.cells_by_district = np.bincount(self.code, minlength=k)
        self.residents_by_district = np.bincount(self.code, weights=grid.residents, minlength=k)
        self.workers_by_district = np.bincount(self.code, weights=grid.workers, minlength=k)
        self._memo = LruCache(16)

    def memo(self, key: Hashable, compute: Callable[[], object]):
        """A value computed from this grid alone, the same for every parameter set (e.g. which cell lies
        under each pixel of the overlay image), computed once and kept with the grid (16 at most)."""
        return self._memo.get_or_compute(key, compute)

    def __len__(self) -> int:
        return len(self.grid)

    @property
    def cell_m(self) -> int:
        return self.grid.cell_m

    @property
    def source(self) -> str:
        return self.grid.source

    @cached_property
    def pixel_cell(self) -> np.ndarray:
        """``shape`` raster of cell indices (-1 where there is no land cell)."""
        out = np.full(self.shape, -1, dtype=np.int32)
        out[self.row, self.col] = np.arange(len(self.grid), dtype=np.int32)
        return out

    def demand(self, which: str) -> np.ndarray:
        if which not in DEMANDS:
            raise ParameterError("demand", which, f"one of {', '.join(DEMANDS)}")
        return self.grid.workers if which == "workers" else self.grid.residents

    @property
    def scope(self) -> tuple[str, str]:
        """``(adcode, name)`` of the whole area (Qingdao: 370200, 青岛市)."""
        return self._scope or whole_region()

    def district_code(self, district: str | None) -> int | None:
        """The code of a district given by adcode or name (None for the whole area, :attr:`scope`)."""
        if district is None or district in ("", *self.scope):
            return None
        if district in self.adcodes:
            return self.adcodes.index(district)
        if district in self.names:
            return self.names.index(district)
        raise ParameterError("district", district, "a Qingdao district adcode or name, e.g. 370202 or 市南区")

    def cell_mask(self, district: str | None) -> np.ndarray | None:
        code = self.district_code(district)
        return None if code is None else self.code == code

    def locate_cells(self, x, y) -> np.ndarray:
        """Index of the land cell containing each EPSG:4549 point (-1 outside every cell)."""
        x, y = np.atleast_1d(np.asarray(x, dtype="float64")), np.atleast_1d(np.asarray(y, dtype="float64"))
        c = np.floor(x / self.cell_m).astype(np.int64) - self.i0
        r = np.floor(y / self.cell_m).astype(np.int64) - self.j0
        inside = (r >= 0) & (r < self.shape[0]) & (c >= 0) & (c < self.shape[1])
        out = np.full(len(x), -1, dtype=np.int64)
        out[inside] = self.pixel_cell[r[inside], c[inside]]
        return out


# --------------------------------------------------------------------------- sites


@dataclass(frozen=True, eq=False)
class Sites:
    """The facility set a coverage is computed for: registry facilities (``idx`` into ``index``)
    plus optional added points (what-if, planned sites) given in WGS84."""

    index: FacilityIndex
    idx: np.ndarray
    extra_lon: np.ndarray = field(default_factory=lambda: np.empty(0))
    extra_lat: np.ndarray = field(default_factory=lambda: np.empty(0))
    extra_names: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "idx", np.asarray(self.idx, dtype=np.int64))
        object.__setattr__(self, "extra_lon", np.atleast_1d(np.asarray(self.extra_lon, dtype="float64")))
        object.__setattr__(self, "extra_lat", np.atleast_1d(np.asarray(self.extra_lat, dtype="float64")))
        if len(self.extra_names) != len(self.extra_lon):
            names = tuple(f"new-{k + 1}" for k in range(len(self.extra_lon)))
            object.__setattr__(self, "extra_names", names)

    def __len__(self) -> int:
        return len(self.idx) + len(self.extra_lon)

    @cached_property
    def extra_xy(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self.extra_lon) == 0:
            return np.empty(0), np.empty(0)
        x, y = to_metric(self.extra_lon, self.extra_lat)
        return np.atleast_1d(np.asarray(x, dtype="float64")), np.atleast_1d(np.asarray(y, dtype="float64"))

    @cached_property
    def x(self) -> np.ndarray:
        return np.concatenate([self.index.x[self.idx], self.extra_xy[0]])

    @cached_property
    def y(self) -> np.ndarray:
        return np.concatenate([self.index.y[self.idx], self.extra_xy[1]])

    @cached_property
    def lon(self) -> np.ndarray:
        return np.concatenate([self.index.lon[self.idx], self.extra_lon])

    @cached_property
    def lat(self) -> np.ndarray:
        return np.concatenate([self.index.lat[self.idx], self.extra_lat])

    def describe(self, k: int) -> dict:
        """id, name, kind, district of site ``k`` (added sites: id ``new-N``, kind ``planned``)."""
        if k < len(self.idx):
            f = self.index.facilities[int(self.idx[k])]
            return {"id": f.id, "name": f.name, "kind": f.kind, "district": f.district, "added": False}
        j = k - len(self.idx)
        return {"id": f"new-{j + 1}", "name": self.extra_names[j], "kind": "planned", "district": "", "added": True}


def nearest_sites(sites: Sites, x: np.ndarray, y: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                  radius_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Distance (m) from each point to its nearest site and that site's position in ``sites``.

    Planar EPSG:4549 via ``FacilityIndex.batch_distances`` (and a cKDTree over added points),
    then geodesic in the band around ``radius_m`` (see the module docstring). ``inf`` / -1 when
    there is no site.
    """
    n = len(x)
    if len(sites.idx):
        dist, f = sites.index.batch_distances(None, None, idx=sites.idx, metric_xy=(x, y))
        pos = np.searchsorted(sites.idx, f).astype(np.int32)  # k=1 and sites exist: every f is valid
    else:
        dist = np.full(n, np.inf)
        pos = np.full(n, -1, dtype=np.int32)
    if len(sites.extra_lon):
        from scipy.spatial import cKDTree

        ex, ey = sites.extra_xy
        d2, j2 = cKDTree(np.column_stack([ex, ey])).query(np.column_stack([x, y]), k=1, workers=-1)
        better = d2 < dist
        dist[better] = d2[better]
        pos[better] = len(sites.idx) + j2[better]
    _refine_geodesic(sites, x, y, lon, lat, radius_m, dist, pos)
    return dist, pos


def nearest_routes(sites: Sites, x: np.ndarray, y: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                   threshold: Threshold, *, factor: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(distance_m, site position, minutes)`` of each point's nearest site by the threshold's travel model:
    :func:`nearest_sites` for ``straight`` (minutes None: the straight line × detour, as ever); for ``land`` and
    ``network`` the route (``geo.travel.route_distances``: one multi-source search) up to ``factor`` × the
    threshold (farther: ``inf`` / -1), ``distance_m`` its metres."""
    if not threshold.routed:
        dist, pos = nearest_sites(sites, x, y, lon, lat, threshold.radius_m)
        return dist, pos, None
    n = len(x)
    if len(sites) == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int32), np.full(n, np.inf)
    from geo.travel import route_distances

    r = route_distances(threshold.model, threshold.route_mode, sites.x, sites.y, x, y, travel=threshold.travel,
                        context=threshold.travel_context, limit_minutes=threshold.limit_minutes(factor))
    return (np.asarray(r.path_m, dtype="float64"), np.asarray(r.source, dtype=np.int32),
            np.asarray(r.minutes, dtype="float64"))


def route_pairs(prepared: PreparedGrid, x: np.ndarray, y: np.ndarray, threshold: Threshold,
                max_pairs: int | None = None, *, cells: np.ndarray | None = None, factor: float = 1.0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Every (site, cell, path_m, minutes) whose route (the threshold's ``land`` or ``network`` model, from the cell
    to the site at EPSG:4549 ``x``, ``y``) takes at most ``factor`` × the threshold: the cells within the straight
    reach of that time (:func:`disc_pairs`: a route is never shorter), then one bounded search per site
    (``geo.travel.route_distances`` with one source and ``limit_minutes``). ``cells``: only these grid cells
    (sorted indices). None when the discs could hold more than ``max_pairs`` cells."""
    from geo import travel as engine

    x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
    limit = threshold.limit_minutes(factor)
    found = disc_pairs(prepared, x, y, threshold.straight_reach_m(limit),
                       max_pairs if max_pairs is not None else 1 << 62)
    if found is None:
        return None
    site, cell, _ = found
    if cells is not None:
        keep = np.isin(cell, cells)
        site, cell = site[keep], cell[keep]
    g = prepared.grid
    batch = getattr(engine, "reach_pairs", None)
    if batch is not None:  # the engine's all-pairs bounded search: every source at once
        targets = np.unique(cell)
        s_idx, t_idx, path_m, minutes = batch(threshold.model, threshold.route_mode, x, y, g.x[targets], g.y[targets],
                                              travel=threshold.travel, context=threshold.travel_context,
                                              limit_minutes=limit)
        return (np.asarray(s_idx).astype(np.int32), targets[np.asarray(t_idx, dtype=np.int64)].astype(np.int32),
                np.asarray(path_m, dtype="float64"), np.asarray(minutes, dtype="float64"))
    # sites whose reaches cannot overlap share one multi-source search: a cell within the limit of one of them is
    # beyond it of every other, so its nearest source is the only one that reaches it (exact, and far fewer searches)
    group = _apart(x, y, 2.0 * threshold.straight_reach_m(limit))
    out_site, out_cell, out_path, out_min = [], [], [], []
    for k in range(int(group.max()) + 1 if len(group) else 0):
        members = np.flatnonzero(group == k)
        c = np.unique(cell[np.isin(site, members)])
        if len(c) == 0:
            continue
        r = engine.route_distances(threshold.model, threshold.route_mode, x[members], y[members], g.x[c], g.y[c],
                                   travel=threshold.travel, context=threshold.travel_context, limit_minutes=limit)
        ok = np.asarray(r.source) >= 0
        out_site.append(members[np.asarray(r.source)[ok]].astype(np.int32))
        out_cell.append(c[ok].astype(np.int32))
        out_path.append(np.asarray(r.path_m, dtype="float64")[ok])
        out_min.append(np.asarray(r.minutes, dtype="float64")[ok])
    if not out_site:
        return np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0), np.empty(0)
    return np.concatenate(out_site), np.concatenate(out_cell), np.concatenate(out_path), np.concatenate(out_min)


def _apart(x: np.ndarray, y: np.ndarray, distance_m: float) -> np.ndarray:
    """A group number per point such that the points of one group are more than ``distance_m`` apart (greedy
    colouring of the points closer than that, in order)."""
    from scipy.spatial import cKDTree

    n = len(x)
    group = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return group
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(distance_m * (1 + 1e-9), output_type="ndarray")
    near: list[list[int]] = [[] for _ in range(n)]
    for a, b in pairs.tolist():
        near[a].append(b)
        near[b].append(a)
    for i in range(n):
        taken = {int(group[j]) for j in near[i] if group[j] >= 0}
        k = 0
        while k in taken:
            k += 1
        group[i] = k
    return group


def _refine_geodesic(sites: Sites, x, y, lon, lat, radius_m: float, dist: np.ndarray, pos: np.ndarray) -> None:
    """In place: geodesic distances for the points whose planar distance is near ``radius_m``."""
    slack = radius_m * GEODESIC_BAND + 0.01
    band = np.flatnonzero(np.abs(dist - radius_m) <= slack)
    if len(band) == 0:
        return
    from scipy.spatial import cKDTree

    tree = cKDTree(np.column_stack([sites.x, sites.y]))
    lists = tree.query_ball_point(np.column_stack([x[band], y[band]]), radius_m + slack)
    counts = np.fromiter((len(v) for v in lists), dtype=np.int64, count=len(lists))
    if counts.sum() == 0:
        return
    which = np.repeat(np.arange(len(band)), counts)
    site = np.concatenate([np.asarray(v, dtype=np.int64) for v in lists if len(v)])
    cell = band[which]
    _, _, g = GEOD.inv(lon[cell], lat[cell], sites.lon[site], sites.lat[site])
    g = np.atleast_1d(g)
    order = np.lexsort((g, which))  # per band point, smallest geodesic distance first
    first = order[np.r_[True, which[order][1:] != which[order][:-1]]]
    dist[cell[first]] = g[first]
    pos[cell[first]] = site[first]


#: Most candidate cell–site pairs :func:`reach_pairs` looks at (a few tens of MB); more, and callers measure
#: nearest distances instead (``nearest_sites``).
MAX_REACH_PAIRS = 4_000_000
_BLOCK_CANDIDATES = 2_000_000  # candidate pairs looked at in one go (memory)


def disc_pairs(prepared: PreparedGrid, x: np.ndarray, y: np.ndarray, radius_m: float, max_pairs: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Every (site, cell, planar distance m) with the cell centre at most ``radius_m`` from the site (EPSG:4549
    points ``x``, ``y``): the raster offsets of a disc around each site, looked up in the grid's raster (no
    tree, no per-cell query). None when the discs could hold more than ``max_pairs`` cells in all."""
    cell = float(prepared.cell_m)
    reach = int(math.ceil(radius_m / cell)) + 1
    d = np.arange(-reach, reach + 1)
    dr, dc = (a.ravel() for a in np.meshgrid(d, d, indexing="ij"))
    gap = lambda v: np.maximum(np.abs(v) - 1, 0) * cell  # noqa: E731 - nearest possible centre offset
    near = gap(dr) ** 2 + gap(dc) ** 2 <= (radius_m + cell) ** 2
    dr, dc = dr[near], dc[near]
    if len(x) * len(dr) > max_pairs * 1.5:  # the discs' area bounds the pairs (land only: fewer)
        return None
    g = prepared.grid
    r0 = np.floor(np.asarray(y) / cell).astype(np.int64) - prepared.j0
    c0 = np.floor(np.asarray(x) / cell).astype(np.int64) - prepared.i0
    pixel = prepared.pixel_cell
    h, w = prepared.shape
    block = max(1, _BLOCK_CANDIDATES // max(1, len(dr)))
    sites, cells, dists = [], [], []
    for start in range(0, len(x), block):
        rows = r0[start:start + block, None] + dr[None, :]
        cols = c0[start:start + block, None] + dc[None, :]
        ok = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        s = np.nonzero(ok)[0] + start
        c = pixel[rows[ok], cols[ok]]
        land = c >= 0
        s, c = s[land], c[land]
        dist = np.hypot(g.x[c] - x[s], g.y[c] - y[s])
        keep = dist <= radius_m + EDGE_TOLERANCE_M
        sites.append(s[keep].astype(np.int32))
        cells.append(c[keep].astype(np.int32))
        dists.append(dist[keep])
    if not sites:
        return np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0)
    return np.concatenate(sites), np.concatenate(cells), np.concatenate(dists)


def reach_pairs(prepared: PreparedGrid, sites: Sites, radius_m: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Every (cell, site position) pair with the site within ``radius_m`` of the cell centre by the rule of
    coverage (planar EPSG:4549, geodesic in the band around ``radius_m``, exactly on it counts), so a cell is
    covered by a subset of ``sites`` exactly when one of its pairs has a site of the subset. None for a long
    threshold (more than :data:`MAX_REACH_PAIRS` candidate pairs: :func:`disc_pairs`), for the caller to
    measure distances instead.

    >>> from geo.crs import to_lonlat
    >>> from geo.demand import DemandGrid
    >>> x = np.array([500_050.0, 500_150.0, 500_250.0]); y = np.full(3, 4_000_050.0)
    >>> lon, lat = to_lonlat(x, y)
    >>> grid = DemandGrid(x, y, lon, lat, np.array(["370202"] * 3), np.ones(3), np.ones(3), cell_m=100)
    >>> cells, site = reach_pairs(PreparedGrid(grid), Sites(FacilityIndex([]), [], [lon[0]], [lat[0]]), 150.0)
    >>> cells.tolist(), site.tolist()
    ([0, 1], [0, 0])
    """
    slack = radius_m * GEODESIC_BAND + 0.01
    found = disc_pairs(prepared, sites.x, sites.y, radius_m + slack, MAX_REACH_PAIRS)
    if found is None:
        return None
    site, cells, dist = found
    within = np.abs(dist - radius_m) > slack  # the rest: planar within the band, measured on the ellipsoid
    band = np.flatnonzero(~within)
    if len(band):
        g = prepared.grid
        _, _, geodesic = GEOD.inv(g.lon[cells[band]], g.lat[cells[band]], sites.lon[site[band]],
                                  sites.lat[site[band]])
        within[band] = np.atleast_1d(geodesic) <= radius_m + EDGE_TOLERANCE_M
    return cells[within], site[within]


def threshold_pairs(prepared: PreparedGrid, sites: Sites, threshold: Threshold) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`reach_pairs` by the threshold's travel model: every (cell, site position) with the site within the
    threshold (straight: :func:`reach_pairs`; land/network: the routes of :func:`route_pairs`)."""
    if not threshold.routed:
        return reach_pairs(prepared, sites, threshold.radius_m)
    found = route_pairs(prepared, sites.x, sites.y, threshold, MAX_REACH_PAIRS)
    if found is None:
        return None
    site, cells, path_m, minutes = found
    within = threshold.within(path_m, minutes)
    return cells[within], site[within]


# --------------------------------------------------------------------------- coverage


def _pct(part: float, whole: float) -> float | None:
    return None if whole <= 0 else round(100.0 * float(part) / float(whole), 2)


def summary_row(adcode: str, name: str, cells: int, covered_cells: int, residents: float, covered_res: float,
                workers: float, covered_wrk: float, cell_area_km2: float) -> dict:
    """One row of a coverage table (a district or the city)."""
    cells, covered_cells = int(cells), int(covered_cells)
    residents, covered_res, workers, covered_wrk = (float(v) for v in (residents, covered_res, workers, covered_wrk))
    return {
        "adcode": str(adcode),
        "name": str(name),
        "cells": cells,
        "area_km2": round(cells * float(cell_area_km2), 3),
        "residents": round(float(residents), 1),
        "workers": round(float(workers), 1),
        "area_covered_pct": _pct(covered_cells, cells),
        "residents_covered_pct": _pct(covered_res, residents),
        "workers_covered_pct": _pct(covered_wrk, workers),
        "covered_residents": round(float(covered_res), 1),
        "covered_workers": round(float(covered_wrk), 1),
        "uncovered_residents": round(float(residents - covered_res), 1),
        "uncovered_workers": round(float(workers - covered_wrk), 1),
    }


@dataclass(eq=False)
class Coverage:
    """Distances and coverage per cell for one threshold and facility set; tables on demand."""

    prepared: PreparedGrid
    threshold: Threshold
    sites: Sites
    distance_m: np.ndarray
    site: np.ndarray  # position in ``sites`` of each cell's nearest site (-1: none)
    facility_filter: FacilityFilter | None = None
    #: Route minutes to the nearest site (``land``/``network``; None for ``straight``: distance × detour ÷ speed).
    minutes: np.ndarray | None = None

    @cached_property
    def covered(self) -> np.ndarray:
        if self.minutes is not None:
            return self.threshold.within(self.distance_m, self.minutes)
        return self.distance_m <= self.threshold.radius_m + EDGE_TOLERANCE_M

    @cached_property
    def scaled_distance_m(self) -> np.ndarray:
        """Each cell's distance in the threshold's terms, as metres of ``radius_m`` (route minutes scaled by
        radius_m ÷ minutes for a routed threshold in minutes; else ``distance_m``): what the overlay classes."""
        t = self.threshold
        if self.minutes is not None and t.minutes is not None:
            return self.minutes * (t.radius_m / t.minutes)
        return self.distance_m

    @property
    def radius_m(self) -> float:
        return self.threshold.radius_m

    @property
    def eligible(self) -> int:
        return len(self.sites)

    @cached_property
    def _by_district(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p, k = self.prepared, len(self.prepared.adcodes)
        cov = self.covered
        cells = np.bincount(p.code, weights=cov, minlength=k)
        res = np.bincount(p.code, weights=np.where(cov, p.grid.residents, 0.0), minlength=k)
        wrk = np.bincount(p.code, weights=np.where(cov, p.grid.workers, 0.0), minlength=k)
        return cells, res, wrk

    def district_table(self, district: str | None = None) -> list[dict]:
        """One row per district (or only ``district``), sorted by adcode."""
        p = self.prepared
        code = p.district_code(district)
        cells, res, wrk = self._by_district
        rows = []
        for k, (adcode, name) in enumerate(zip(p.adcodes, p.names, strict=True)):
            if code is not None and k != code:
                continue
            rows.append(summary_row(adcode, name, p.cells_by_district[k], int(round(cells[k])),
                                    p.residents_by_district[k], res[k], p.workers_by_district[k], wrk[k],
                                    p.grid.cell_area_km2))
        return rows

    def city_row(self) -> dict:
        p = self.prepared
        cells, res, wrk = self._by_district
        return summary_row(*p.scope, len(p), int(round(cells.sum())), p.residents_by_district.sum(),
                           res.sum(), p.workers_by_district.sum(), wrk.sum(), p.grid.cell_area_km2)

    def facility_table(self) -> list[dict]:
        """Demand served per site: cells whose nearest site it is (``cells_nearest``) and, of those,
        the cells, residents and workers within the threshold."""
        n = len(self.sites)
        has = self.site >= 0
        s = self.site[has]
        cov = self.covered[has]
        g = self.prepared.grid
        nearest_cells = np.bincount(s, minlength=n)
        within = np.bincount(s, weights=cov, minlength=n)
        res = np.bincount(s, weights=np.where(cov, g.residents[has], 0.0), minlength=n)
        wrk = np.bincount(s, weights=np.where(cov, g.workers[has], 0.0), minlength=n)
        rows = []
        for k in range(n):
            rows.append({**self.sites.describe(k), "lon": round(float(self.sites.lon[k]), 6),
                         "lat": round(float(self.sites.lat[k]), 6), "cells_nearest": int(nearest_cells[k]),
                         "cells_served": int(round(within[k])), "residents_served": round(float(res[k]), 1),
                         "workers_served": round(float(wrk[k]), 1)})
        return rows

    def assumptions(self) -> dict:
        out = assumptions(self.threshold, self.prepared, self.facility_filter)
        out["eligible_facilities"] = self.eligible
        if len(self.sites.extra_lon):
            out["added_sites"] = len(self.sites.extra_lon)
        return out


def assumptions(threshold: Threshold, prepared: PreparedGrid, facility_filter: FacilityFilter | None) -> dict:
    """What a coverage figure rests on (threshold, grid, filter), known without computing it."""
    out = {**threshold.as_dict(), "cell_m": prepared.cell_m, "demand_source": prepared.source}
    if facility_filter is not None:
        out["filter"] = facility_filter.as_dict()
    return out


def compute_coverage(prepared: PreparedGrid, index: FacilityIndex, threshold: Threshold, *,
                     facility_filter: FacilityFilter | None = None, sites: Sites | None = None) -> Coverage:
    """Coverage of every cell of ``prepared`` by the eligible facilities (or by ``sites``).

    ``facility_filter`` defaults to open worker stations at any hour.
    """
    facility_filter = facility_filter if facility_filter is not None else FacilityFilter()
    if sites is None:
        sites = Sites(index, facility_filter.indices(index))
    g = prepared.grid
    dist, pos, minutes = nearest_routes(sites, g.x, g.y, g.lon, g.lat, threshold)
    return Coverage(prepared, threshold, sites, dist, pos, facility_filter, minutes)


# --------------------------------------------------------------------------- time of day


def hourly_coverage(prepared: PreparedGrid, index: FacilityIndex, threshold: Threshold,
                    facility_filter: FacilityFilter, *, day: date, district: str | None = None) -> list[dict]:
    """Coverage at each full hour of ``day`` (Qingdao time), counting only facilities open then.

    One row per hour (``hour`` "HH:00", ``open_facilities`` and the coverage figures of the city
    or ``district``). Hours with the same set of open facilities are computed once.
    """
    mask = prepared.cell_mask(district)
    g = prepared.grid
    sel = np.arange(len(g)) if mask is None else np.flatnonzero(mask)
    x, y, lon, lat = g.x[sel], g.y[sel], g.lon[sel], g.lat[sel]
    res, wrk = g.residents[sel], g.workers[sel]
    code = prepared.district_code(district)
    adcode, name = prepared.scope if code is None else (prepared.adcodes[code], prepared.names[code])
    # the facilities open at some hour are among those of the filter at any hour: their cell pairs, found once,
    # give each hour's coverage by a mask (the distances are measured per hour only for a long threshold)
    anytime = facility_filter.at(None).indices(index)
    pairs = threshold_pairs(prepared, Sites(index, anytime), threshold)
    if pairs is not None:
        at_sel = np.full(len(g), -1, dtype=np.int64)
        at_sel[sel] = np.arange(len(sel))
        pair_cell, pair_site = at_sel[pairs[0]], pairs[1]
        pair_site = pair_site[pair_cell >= 0]
        pair_cell = pair_cell[pair_cell >= 0]
    done: dict[bytes, dict] = {}
    rows = []
    for hour in range(24):
        when = datetime.combine(day, time(hour))
        idx = facility_filter.at(when).indices(index)
        key = idx.tobytes()
        if key not in done:
            is_open = np.isin(anytime, idx)
            if pairs is not None and int(is_open.sum()) == len(idx):  # (always so: the hour only narrows)
                cov = np.zeros(len(sel), dtype=bool)
                cov[pair_cell[is_open[pair_site]]] = True
            else:
                dist, _, minutes = nearest_routes(Sites(index, idx), x, y, lon, lat, threshold, factor=1.0)
                cov = (dist <= threshold.radius_m + EDGE_TOLERANCE_M if minutes is None
                       else threshold.within(dist, minutes))
            done[key] = summary_row(adcode, name, len(sel), int(cov.sum()), res.sum(), res[cov].sum(), wrk.sum(),
                                    wrk[cov].sum(), g.cell_area_km2)
        rows.append({"hour": f"{hour:02d}:00", "at": when.isoformat(timespec="minutes") + "+08:00",
                     "open_facilities": int(len(idx)), **done[key]})
    return rows


# --------------------------------------------------------------------------- what-if


@dataclass(eq=False)
class WhatIf:
    """Today's coverage and a scenario's, with the table comparing them."""

    today: Coverage
    scenario: Coverage
    added: list[dict]
    removed: list[str]
    closed: list[str]
    notes: list[str]

    COMPARED = ("area_covered_pct", "residents_covered_pct", "workers_covered_pct", "uncovered_residents",
                "uncovered_workers")

    def table(self, district: str | None = None) -> list[dict]:
        """City first, then districts: today's and the scenario's figures side by side, with deltas."""
        rows = []
        pairs = [(self.today.city_row(), self.scenario.city_row())]
        pairs += list(zip(self.today.district_table(district), self.scenario.district_table(district), strict=True))
        for a, b in pairs:
            row = {"adcode": a["adcode"], "name": a["name"], "cells": a["cells"], "residents": a["residents"],
                   "workers": a["workers"]}
            for key in self.COMPARED:
                row[f"today_{key}"] = a[key]
                row[f"scenario_{key}"] = b[key]
                row[f"delta_{key}"] = None if a[key] is None or b[key] is None else round(b[key] - a[key], 2)
            rows.append(row)
        return rows


def whatif(prepared: PreparedGrid, index: FacilityIndex, threshold: Threshold, facility_filter: FacilityFilter, *,
           add: Sequence[tuple[float, float]] = (), add_names: Sequence[str] = (), remove: Sequence[str] = (),
           close: Sequence[str] = (), today: Coverage | None = None) -> WhatIf:
    """Coverage with sites added (WGS84 lon/lat), removed or closed (registry ids), next to today's.

    Removing and closing both take a facility out of the scenario (closing is the temporary
    case; the table reads the same). An unknown id raises :class:`ParameterError`; an id that
    is not among the filtered facilities (another kind, say) changes nothing and is noted.
    """
    today = today or compute_coverage(prepared, index, threshold, facility_filter=facility_filter)
    pos_of = {f.id: i for i, f in enumerate(index.facilities)}
    registry_ids = {f.id for f in index.facilities}
    base = set(today.sites.idx.tolist())
    drop: set[int] = set()
    notes: list[str] = []
    for name, ids in (("remove", remove), ("close", close)):
        for fid in ids:
            if fid not in registry_ids:
                raise ParameterError(name, fid, "ids of facilities in the registry")
            i = pos_of[fid]
            if i not in base:
                notes.append(f"{name}: {fid} is not among the counted facilities ({_filter_text(facility_filter)}); "
                             "no change")
            drop.add(i)
    add = [tuple(map(float, p)) for p in add]
    for k, (lon, lat) in enumerate(add):
        if not in_city_bounds(lon, lat):
            raise ParameterError(f"add[{k}]", f"{lon},{lat}", f"WGS84 lon,lat inside {region_name()} ({bounds_text()})")
    idx = np.array(sorted(base - drop), dtype=np.int64)
    names = tuple(add_names) if len(add_names) == len(add) else tuple(f"new-{k + 1}" for k in range(len(add)))
    sites = Sites(index, idx, np.array([p[0] for p in add]), np.array([p[1] for p in add]), names)
    scenario = compute_coverage(prepared, index, threshold, facility_filter=facility_filter, sites=sites)
    added = [{"id": f"new-{k + 1}", "name": names[k], "lon": lon, "lat": lat} for k, (lon, lat) in enumerate(add)]
    return WhatIf(today, scenario, added, list(remove), list(close), notes)


def _filter_text(f: FacilityFilter) -> str:
    parts = [f"kind={','.join(f.kinds) or 'any'}"]
    if f.amenities:
        parts.append(f"amenity={','.join(f.amenities)}")
    if f.worker:
        parts.append(f"worker={f.worker}")
    if f.open_at is not None:
        parts.append(f"open_at={f.open_at:%Y-%m-%dT%H:%M}")
    return " ".join(parts)


# --------------------------------------------------------------------------- cache


class LruCache:
    """A small thread-safe least-recently-used cache for computed results.

    >>> c = LruCache(2)
    >>> c.get_or_compute("a", lambda: 1), c.get_or_compute("a", lambda: 2)
    (1, 1)
    """

    def __init__(self, maxsize: int = 32):
        self.maxsize = maxsize
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], object]):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = compute()  # outside the lock: a slow computation must not block other keys
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._data)
