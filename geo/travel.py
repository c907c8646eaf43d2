"""Travel models: straight line, over land, over the imported roads (issue #13).

Three models answer "how far, in minutes, is the nearest source from each target":

``straight``
    Today's rule: the straight line in EPSG:4549 metres (nearest source by a cKDTree), minutes =
    ``path_m × detour_factor ÷ speed`` (:meth:`geo.nearest.Travel.minutes`, the same numbers).
``land``
    A grid cost-distance that never crosses the sea: a land raster of :data:`LAND_CELL_M` cells
    (a cell is land when its centre lies in one of the shipped district polygons), 16 moves per cell
    (the 8 neighbours and the 8 knight moves; a move is allowed only through land: a diagonal needs
    one of the two cells it passes between, a knight move both cells it crosses). In open land the
    raster path between two cell centres is at most :data:`LAND_OVERESTIMATE` (2.75 %) longer than the
    straight line, never shorter. A point is routed from its cell centre (plus the straight metres to
    it, at most half a cell's diagonal: so between any two points never shorter either); a point in the
    sea within one cell of land snaps to the nearest land cell, any other point in the sea is unreachable.
    Islands are separate land: nothing on the mainland reaches them by ``land`` (no bridge, no ferry) and
    they reach nothing on the mainland. Minutes = ``path_m × detour_factor ÷ speed``.
``network``
    Shortest paths over the imported OpenStreetMap road graph of the mode
    (``<data_dir>/osm/graph_{mode}.npz``): sources and targets snap to the nearest graph node (EPSG:4549;
    only nodes of components with at least :data:`MIN_COMPONENT_NODES` nodes, or the largest), the snap
    legs are walked (walking speed, even for e-bikes) and capped at :data:`SNAP_CAP_M` (beyond: not
    reachable). Minutes = road metres ÷ mode speed + snap metres ÷ walking speed; no detour factor.
    ``oneway`` is honoured: the graph is directed.

Direction: every answer is the trip a worker makes TO a facility — :func:`route_distances` gives, for each
target (a demand cell), the trip from the target to its nearest source (a facility); :func:`pair_distances`
the trip from the origin (the worker) to each target (a candidate facility). On a directed graph
(e-bike oneways) :func:`route_distances` therefore searches the reversed graph from the sources.

Engine: one multi-source Dijkstra (``scipy.sparse.csgraph.dijkstra(min_only=True, limit=…)``) gives
every target's nearest source; each source enters through a virtual node whose one edge carries its own
leg (its offset to the cell centre, or its snap leg), so the nearest source is chosen with its leg
counted. ``pair_distances`` is one bounded single-source search on the subgraph within the limit's straight
distance of the origin (a path is never shorter). Graphs (CSR) are built once per process and kept on the
:class:`TravelContext` (``TravelContext.for_settings`` caches one per settings); a large point set (the demand
grid) is located on them once (:class:`_Memo`).

Figures (``bench/bench_travel.py``, this 2-core machine): a 500,833-node synthetic city network, 755 stations and
1,124,010 cells of 100 m: every cell's minutes and nearest station in 0.36 s (1.9 s on the first call, which snaps
the cells), networkx.multi_source_dijkstra 5.0 s for the nodes alone; the city's land raster (1.12 M cells, 17.9 M
moves; built in about 4 s once per process, 215 MB) with no limit 0.44 s, a 15-minute walk's coverage 0.09 s.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geo.errors import ParameterError

if TYPE_CHECKING:  # geo.nearest imports this module's callers; the class is only needed for annotations
    from geo.nearest import Travel

__all__ = [
    "LAND_CELL_M",
    "LAND_OVERESTIMATE",
    "MIN_COMPONENT_NODES",
    "NETWORK_HINT",
    "SNAP_CAP_M",
    "TRAVEL_MODELS",
    "LandGrid",
    "RoadGraph",
    "Routes",
    "TravelContext",
    "pair_distances",
    "route_distances",
]

#: The travel models, in the order the API lists them.
TRAVEL_MODELS = ("straight", "land", "network")
#: The land raster's cell size (metres, EPSG:4549; cells aligned on multiples of it, like the demand grid).
LAND_CELL_M = 100
#: How much longer than the straight line a 16-neighbour raster path between two cell centres may be in
#: open land: 1 / cos(atan(1/2) / 2) - 1 = 2.75 % (halfway between the move directions 0° and 26.57°).
LAND_OVERESTIMATE = 1.0 / math.cos(math.atan(0.5) / 2.0) - 1.0
#: ``network``: the longest snap leg (metres, straight, walked) from a point to its graph node; farther: unreachable.
SNAP_CAP_M = 500.0
#: ``network``: points snap only to nodes of weakly connected components at least this large (or the
#: largest one): stray fragments of an extract (an unconnected service road) would strand a facility.
MIN_COMPONENT_NODES = 100
#: What a request for ``network`` without an imported extract is told.
NETWORK_HINT = ("straight or land (network needs an imported OpenStreetMap extract: run "
                "`workermap osm import FILE.osm.pbf`)")


@dataclass(frozen=True, eq=False)
class Routes:
    """Per target: ``path_m`` (metres of the route: straight line / over land / along the road incl. the
    snap legs), ``minutes``, ``source`` (the nearest source's position in the sources given, -1 when none
    is reachable); ``inf`` for unreachable or beyond the limit."""

    path_m: np.ndarray
    minutes: np.ndarray
    source: np.ndarray

    @property
    def reached(self) -> np.ndarray:
        """Which targets have a source within reach (and within the limit, if one was given)."""
        return self.source >= 0


# --------------------------------------------------------------------------- the two entry points


def route_distances(model: str, mode: str, sources_x, sources_y, targets_x, targets_y, *, travel: Travel,
                    context: TravelContext, limit_minutes: float | None = None) -> Routes:
    """The nearest source of every target and the trip from the target to it, by ``model`` and ``mode``.

    x/y are EPSG:4549 metres. ``limit_minutes``: targets farther than this (by minutes) get ``inf`` and
    source -1 (exactly on the limit counts as within); the search stops there, which is what makes
    coverage fast. Raises :class:`ParameterError` (``travel``) for an unknown model or for ``network``
    without an imported extract, (``mode``) for an unknown mode. In every model ``path_m`` is at least the
    straight line between the two points (``network``: to within EPSG:4549's 0.012 % scale error, its road
    lengths being geodesic), so a straight-line prefilter with that slack never drops an answer.

    >>> t = __import__("geo.nearest", fromlist=["Travel"]).Travel()
    >>> r = route_distances("straight", "walk", [0.0, 1000.0], [0.0, 0.0], [100.0, 900.0, 5000.0], [0.0] * 3,
    ...                     travel=t, context=TravelContext(), limit_minutes=15)
    >>> r.path_m.tolist(), r.source.tolist(), round(float(r.minutes[0]), 3)
    ([100.0, 100.0, inf], [0, 1, -1], 1.625)
    """
    context.require(model, mode)
    speed_kmh = _speed_kmh(travel, mode)
    limit = _check_limit(limit_minutes)
    sx, sy, tx, ty = (_floats(v) for v in (sources_x, sources_y, targets_x, targets_y))
    n = len(tx)
    if model == "straight":
        bound = np.inf if limit is None else limit * _per_min(speed_kmh) / travel.detour_factor * _SLACK + 1e-6
        path, src = _straight_nearest(sx, sy, tx, ty, bound)
        minutes = travel.minutes(path, speed_kmh)
    elif model == "land":
        grid = context.land()
        s_node, s_leg = grid.locate(sx, sy)
        t_node, t_leg = grid.locate(tx, ty)
        limit_m = np.inf if limit is None else limit * _per_min(speed_kmh) / travel.detour_factor * _SLACK
        dist, which = grid.nearest_source(s_node, s_leg, limit=limit_m, reverse=True)
        path, src = _at(dist, which, t_node)
        path = path + t_leg
        minutes = travel.minutes(path, speed_kmh)
    else:
        graph = context.graph(mode)
        v, v_walk = _per_min(speed_kmh), _per_min(travel.walk_kmh)
        ratio = v / v_walk  # a walked snap leg in road metres of the mode's speed
        s_node, s_snap = graph.snap(sx, sy)
        t_node, t_snap = graph.snap(tx, ty)
        limit_eq = np.inf if limit is None else limit * v * _SLACK
        dist, which = graph.nearest_source(s_node, s_snap * ratio, limit=limit_eq, reverse=True)
        eq, src = _at(dist, which, t_node)
        leg = np.where(src >= 0, s_snap[np.maximum(src, 0)], 0.0) if len(s_snap) else np.zeros(n)
        road = eq - leg * ratio
        path = road + leg + t_snap
        minutes = road / v + (leg + t_snap) / v_walk
    return _finish(path, minutes, src, limit)


def pair_distances(model: str, mode: str, origin_x: float, origin_y: float, targets_x, targets_y, *,
                   travel: Travel, context: TravelContext, limit_minutes: float | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``(path_m, minutes)`` of the trip from one origin to each of a few targets (EPSG:4549 metres):
    the re-ranking of a nearest query's candidates. One bounded single-source search (``limit_minutes``:
    give it: without it the search may cover the whole graph); ``inf`` for unreachable or beyond the limit.

    >>> t = __import__("geo.nearest", fromlist=["Travel"]).Travel()
    >>> path, minutes = pair_distances("straight", "ebike", 0.0, 0.0, [300.0], [400.0], travel=t,
    ...                                context=TravelContext())
    >>> path.tolist(), round(float(minutes[0]), 2)
    ([500.0], 2.6)
    """
    context.require(model, mode)
    speed_kmh = _speed_kmh(travel, mode)
    limit = _check_limit(limit_minutes)
    tx, ty = _floats(targets_x), _floats(targets_y)
    ox, oy = _floats(origin_x), _floats(origin_y)
    if len(ox) != 1:
        raise ValueError("pair_distances takes one origin")
    n = len(tx)
    if model == "straight":
        path = np.hypot(tx - ox[0], ty - oy[0])
        minutes = travel.minutes(path, speed_kmh)
    elif model == "land":
        grid = context.land()
        (o_node,), (o_leg,) = grid.locate(ox, oy)
        t_node, t_leg = grid.locate(tx, ty)
        limit_m = np.inf if limit is None else limit * _per_min(speed_kmh) / travel.detour_factor * _SLACK
        path = np.full(n, np.inf)
        if o_node >= 0 and o_leg <= limit_m:
            path = o_leg + grid.distances_from(int(o_node), t_node, limit=limit_m - o_leg) + t_leg
        minutes = travel.minutes(path, speed_kmh)
    else:
        graph = context.graph(mode)
        v, v_walk = _per_min(speed_kmh), _per_min(travel.walk_kmh)
        (o_node,), (o_snap,) = graph.snap(ox, oy)
        t_node, t_snap = graph.snap(tx, ty)
        limit_eq = np.inf if limit is None else limit * v * _SLACK
        road = np.full(n, np.inf)
        if o_node >= 0 and o_snap * v / v_walk <= limit_eq:
            road = graph.distances_from(int(o_node), t_node, limit=limit_eq - o_snap * v / v_walk)
        path = o_snap + road + t_snap
        minutes = road / v + (o_snap + t_snap) / v_walk
    routes = _finish(path, minutes, np.zeros(n, dtype=np.int64), limit)
    return routes.path_m, routes.minutes


_SLACK = 1.0 + 1e-9  # the searches go a hair beyond the limit; the minutes decide (exactly on it counts)
#: Planar EPSG:4549 metres over Qingdao are within 0.0101 % of geodesic ones (the roads' lengths): a window of the
#: limit × this around an origin holds every node a path within the limit can reach.
_WINDOW_SLACK = 1.0 + 2e-4


def _floats(v) -> np.ndarray:
    return np.atleast_1d(np.asarray(v, dtype="float64"))


def _speed_kmh(travel: Travel, mode: str) -> float:
    from geo.planner_params import MODES

    if mode not in MODES:
        raise ParameterError("mode", mode, f"one of {', '.join(MODES)}")
    return travel.walk_kmh if mode == "walk" else travel.ebike_kmh


def _per_min(speed_kmh: float) -> float:
    """Metres a minute (as :meth:`geo.nearest.Travel.minutes` divides by)."""
    return speed_kmh * 1000.0 / 60.0


def _check_limit(limit_minutes) -> float | None:
    if limit_minutes is None:
        return None
    try:
        value = float(limit_minutes)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(limit_minutes, bool) or not value >= 0:
        raise ValueError(f"limit_minutes must be a number of minutes >= 0 or None, got {limit_minutes!r}")
    return value


def _at(dist: np.ndarray, which: np.ndarray, node: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per target node (-1: none): the search's distance and source."""
    has = node >= 0
    safe = np.maximum(node, 0)
    if len(dist) == 0:
        return np.full(len(node), np.inf), np.full(len(node), -1, dtype=np.int64)
    return np.where(has, dist[safe], np.inf), np.where(has, which[safe], -1).astype(np.int64)


def _finish(path, minutes, src, limit: float | None) -> Routes:
    """``inf`` / -1 where unreachable or beyond the limit (exactly on the limit is within)."""
    path, minutes, src = np.asarray(path, dtype="float64"), np.asarray(minutes, dtype="float64"), np.asarray(src)
    ok = (src >= 0) & np.isfinite(minutes) & np.isfinite(path)
    if limit is not None:
        ok &= minutes <= limit + 1e-9 * max(1.0, limit)
    return Routes(np.where(ok, path, np.inf), np.where(ok, minutes, np.inf), np.where(ok, src, -1).astype(np.int64))


def _straight_nearest(sx, sy, tx, ty, bound: float) -> tuple[np.ndarray, np.ndarray]:
    """Straight-line metres from each target to its nearest source (cKDTree), and that source (-1: none)."""
    if len(sx) == 0 or len(tx) == 0:
        return np.full(len(tx), np.inf), np.full(len(tx), -1, dtype=np.int64)
    from scipy.spatial import cKDTree

    dist, j = cKDTree(np.column_stack([sx, sy])).query(np.column_stack([tx, ty]), k=1, workers=-1,
                                                       distance_upper_bound=bound)
    found = np.isfinite(dist)
    return dist, np.where(found, j, -1).astype(np.int64)


# --------------------------------------------------------------------------- graphs


class _Csr:
    """One direction of a graph as CSR arrays, with spare room after the edges for the virtual source nodes of a
    multi-source search (written in place under a lock; a concurrent search copies instead)."""

    SPARE = 4096

    def __init__(self, n: int, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray):
        """``indices``/``data``: the edges sorted by source; copied unless they already are buffers from
        :meth:`buffers` (``indptr[-1]`` edges and the spare room after them)."""
        from scipy.sparse import csr_matrix

        e = int(indptr[-1])
        self.n, self.edges = int(n), e
        if len(indices) == e + self.SPARE and indices.dtype == np.int32 and data.dtype == np.float64:
            self._indices, self._data = indices, data
        else:
            self._indices, self._data = self.buffers(e)
            self._indices[:e] = indices
            self._data[:e] = data
        self._indptr = np.asarray(indptr, dtype=np.int32)
        self.matrix = csr_matrix((self._data[:e], self._indices[:e], self._indptr), shape=(self.n, self.n))
        self._lock = threading.Lock()

    @classmethod
    def buffers(cls, edges: int) -> tuple[np.ndarray, np.ndarray]:
        """Empty (indices, data) arrays for ``edges`` edges and the spare room, to be filled in place."""
        return np.empty(edges + cls.SPARE, dtype=np.int32), np.empty(edges + cls.SPARE, dtype="float64")

    def nearest_source(self, nodes: np.ndarray, legs: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
        """Multi-source Dijkstra: each source ``k`` enters at node ``nodes[k]`` (-1: skipped) after its own
        ``legs[k]``. Per node: the distance from the nearest source and its position ``k`` (-1: none)."""
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import dijkstra

        n, e = self.n, self.edges
        pos = np.flatnonzero(np.asarray(nodes) >= 0)
        k = len(pos)
        if k == 0 or n == 0:
            return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
        nodes, legs = np.asarray(nodes)[pos].astype(np.int32), np.asarray(legs, dtype="float64")[pos]
        if k == 1:  # one source (a siting catchment): a plain bounded search, its leg added
            dist = legs[0] + self.from_node(int(nodes[0]), limit - legs[0]) if legs[0] <= limit else np.full(n, np.inf)
            return dist, np.where(np.isfinite(dist), pos[0], -1).astype(np.int64)
        indptr = np.concatenate([self._indptr, e + np.arange(1, k + 1, dtype=np.int32)])
        in_place = k <= self.SPARE and self._lock.acquire(blocking=False)
        try:
            if in_place:
                self._indices[e:e + k] = nodes
                self._data[e:e + k] = legs
                indices, data = self._indices[:e + k], self._data[:e + k]
            else:
                indices = np.concatenate([self._indices[:e], nodes])
                data = np.concatenate([self._data[:e], legs])
            graph = csr_matrix((data, indices, indptr), shape=(n + k, n + k))
            dist, _, source = dijkstra(graph, directed=True, indices=np.arange(n, n + k), min_only=True,
                                       limit=limit, return_predecessors=True)
        finally:
            if in_place:
                self._lock.release()
        source = source[:n]
        which = np.where(source >= n, pos[np.clip(source - n, 0, k - 1)], -1)
        return dist[:n], which.astype(np.int64)

    def from_node(self, node: int, limit: float) -> np.ndarray:
        """Single-source Dijkstra from ``node``, bounded at ``limit``: distance per node (inf beyond)."""
        from scipy.sparse.csgraph import dijkstra

        return dijkstra(self.matrix, directed=True, indices=int(node), limit=limit)


def _csr_arrays(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray):
    """(indptr, indices, data) of edges sorted by source (stable)."""
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst[order], weight[order]


class _Routable:
    """A graph searched forwards (from an origin) or backwards (towards the sources)."""

    _forward: _Csr
    _symmetric = False

    def _direction(self, reverse: bool) -> _Csr:
        if not reverse or self._symmetric:
            return self._forward
        with self._build_lock:
            if self._backward is None:
                m = self._forward.matrix
                src = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
                self._backward = _Csr(m.shape[0], *_csr_arrays(m.shape[0], m.indices.astype(np.int64), src, m.data))
        return self._backward

    def _init_routable(self, forward: _Csr, symmetric: bool) -> None:
        self._forward, self._symmetric = forward, symmetric
        self._backward: _Csr | None = None
        self._build_lock = threading.Lock()
        self._memo = _Memo()

    @property
    def nodes(self) -> int:
        return self._forward.n

    def nearest_source(self, nodes, legs, *, limit: float = np.inf, reverse: bool = False):
        """Multi-source Dijkstra (see :meth:`_Csr.nearest_source`); ``reverse``: along the edges backwards, i.e.
        the trip from each node TO its nearest source."""
        return self._direction(reverse).nearest_source(nodes, legs, limit)

    def from_node(self, node: int, *, limit: float = np.inf, reverse: bool = False) -> np.ndarray:
        """Single-source Dijkstra over the whole graph: the distance to every node (inf beyond ``limit``)."""
        return self._direction(reverse).from_node(node, limit)

    def distances_from(self, node: int, targets, *, limit: float = np.inf) -> np.ndarray:
        """The distance from ``node`` to each target node (-1: inf), forwards, up to ``limit``. With a finite limit
        only the nodes within that straight distance of ``node`` are searched (a path is never shorter than the
        straight line): a nearest query's few candidates cost a small subgraph, not an array of the whole city."""
        from scipy.sparse.csgraph import dijkstra

        targets = np.asarray(targets, dtype=np.int64)
        out = np.full(len(targets), np.inf)
        has = np.flatnonzero(targets >= 0)
        ids = self._window(node, limit * _WINDOW_SLACK + 1.0) if math.isfinite(limit) else None
        if ids is None or len(ids) > self.nodes // 4:
            out[has] = self.from_node(node, limit=limit)[targets[has]]
            return out
        sub = self._forward.matrix[ids][:, ids]
        dist = dijkstra(sub, directed=True, indices=int(np.searchsorted(ids, node)), limit=limit)
        local = np.minimum(np.searchsorted(ids, targets[has]), len(ids) - 1)
        inside = ids[local] == targets[has]
        out[has[inside]] = dist[local[inside]]
        return out

    def _window(self, node: int, radius_m: float) -> np.ndarray:
        """The nodes (sorted) within ``radius_m`` of ``node`` along x and along y (a square around it)."""
        raise NotImplementedError


class _Memo:
    """The located points of the last few large point sets (a demand grid, located for every coverage), keyed by
    their coordinates' bytes: a coverage request pays for hashing 2 × 9 MB, not for a million look-ups. The
    results are read-only."""

    MIN_POINTS = 65_536
    SIZE = 4

    def __init__(self):
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, x: np.ndarray, y: np.ndarray, compute: Callable[[np.ndarray, np.ndarray], tuple]) -> tuple:
        if len(x) < self.MIN_POINTS:
            return compute(x, y)
        key = (len(x), hash(x.tobytes()), hash(y.tobytes()))
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
                return hit
        out = compute(x, y)
        for a in out:
            a.flags.writeable = False
        with self._lock:
            self._data[key] = out
            while len(self._data) > self.SIZE:
                self._data.popitem(last=False)
        return out


#: The 16 moves of the land raster, (row, col): the 4 edge neighbours, the 4 diagonals, the 8 knight moves.
_MOVES = ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1),
          (1, 2), (2, 1), (-1, 2), (-2, 1), (1, -2), (2, -1), (-1, -2), (-2, -1))
_PAD = 2  # the node raster is padded so that every move of a cell stays inside it


class LandGrid(_Routable):
    """The land raster as a routable graph: cells of ``cell_m`` metres, row 0 southernmost, lower-left corner
    ``(origin_x, origin_y)``; one node per land cell (row-major order); 16 moves (see the module docstring).

    >>> g = LandGrid(np.ones((3, 3), dtype=bool), 0.0, 0.0, 100)
    >>> g.nodes, round(float(g.from_node(0)[-1]), 3)  # corner to corner: two diagonals
    (9, 282.843)
    """

    def __init__(self, mask: np.ndarray, origin_x: float, origin_y: float, cell_m: float):
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim != 2:
            raise ValueError("the land mask must be a 2-D array")
        self.shape = mask.shape
        self.cell_m, self.origin_x, self.origin_y = float(cell_m), float(origin_x), float(origin_y)
        rows, cols = np.nonzero(mask)
        n = len(rows)
        raster = np.full((mask.shape[0] + 2 * _PAD, mask.shape[1] + 2 * _PAD), -1, dtype=np.int32)
        raster[rows + _PAD, cols + _PAD] = np.arange(n, dtype=np.int32)
        self._raster = raster
        self.row, self.col = rows, cols
        width = raster.shape[1]
        flat = raster.ravel()
        at = (rows + _PAD) * width + (cols + _PAD)  # each land cell's position in the flat padded raster
        near = {(dr, dc): flat[at + dr * width + dc] for dr, dc in _MOVES[:8]}  # the 8 neighbours, looked up once
        land = {move: v >= 0 for move, v in near.items()}
        targets = np.empty((n, len(_MOVES)), dtype=np.int32)
        for k, (dr, dc) in enumerate(_MOVES):
            if abs(dr) + abs(dc) == 1:
                targets[:, k] = near[dr, dc]
                continue
            if abs(dr) == 1 and abs(dc) == 1:  # a diagonal passes between two cells: one of them must be land
                t, ok = near[dr, dc], land[dr, 0] | land[0, dc]
            else:  # a knight move crosses two cells (both must be land): a side and a diagonal neighbour
                t = flat[at + dr * width + dc]
                side = (dr // 2, 0) if abs(dr) == 2 else (0, dc // 2)
                ok = land[side] & land[dr // 2 if abs(dr) == 2 else dr, dc // 2 if abs(dc) == 2 else dc]
            targets[:, k] = np.where(ok, t, -1)
        valid = targets.ravel() >= 0
        del near, land
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(valid.reshape(n, len(_MOVES)).sum(axis=1), out=indptr[1:])
        e = int(indptr[-1])
        indices, data = _Csr.buffers(e)  # filled in place: the city's 18 M edges are 215 MB
        np.compress(valid, targets.ravel(), out=indices[:e])
        del targets
        move = np.compress(valid, np.tile(np.arange(len(_MOVES), dtype=np.int8), n))
        lengths = np.array([math.hypot(dr, dc) for dr, dc in _MOVES]) * self.cell_m
        np.take(lengths, move, out=data[:e])
        self._init_routable(_Csr(n, indptr, indices, data), symmetric=True)

    @classmethod
    def from_points(cls, x, y, cell_m: float) -> LandGrid:
        """The raster whose land cells hold the EPSG:4549 points (cells aligned on multiples of ``cell_m``,
        as :func:`geo.demand.land_cells` makes them)."""
        i = np.floor(_floats(x) / cell_m).astype(np.int64)
        j = np.floor(_floats(y) / cell_m).astype(np.int64)
        if len(i) == 0:
            return cls(np.zeros((1, 1), dtype=bool), 0.0, 0.0, cell_m)
        mask = np.zeros((int(j.max() - j.min()) + 1, int(i.max() - i.min()) + 1), dtype=bool)
        mask[j - j.min(), i - i.min()] = True
        return cls(mask, float(i.min() * cell_m), float(j.min() * cell_m), cell_m)

    @classmethod
    def from_districts(cls, districts=None, cell_m: int = LAND_CELL_M) -> LandGrid:
        """The land of the shipped district polygons (``geo.geography.load_districts``) at ``cell_m``: a cell is
        land when its centre lies in a district (:func:`geo.demand.land_cells`, the demand grid's rule)."""
        from geo.demand import land_cells
        from geo.geography import load_districts

        x, y, *_ = land_cells(districts if districts is not None else load_districts(), cell_m=cell_m)
        return cls.from_points(x, y, cell_m)

    def _window(self, node: int, radius_m: float) -> np.ndarray:
        k = int(math.ceil(radius_m / self.cell_m)) + 1
        r, c = int(self.row[node]) + _PAD, int(self.col[node]) + _PAD
        block = self._raster[max(r - k, 0):r + k + 1, max(c - k, 0):c + k + 1]
        return block[block >= 0].astype(np.int64)  # row-major: the node order, so sorted

    def centre(self, node) -> tuple[np.ndarray, np.ndarray]:
        """EPSG:4549 centre of each node's cell."""
        node = np.asarray(node)
        return (self.origin_x + (self.col[node] + 0.5) * self.cell_m,
                self.origin_y + (self.row[node] + 0.5) * self.cell_m)

    def locate(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """``(node, offset_m)`` of each EPSG:4549 point: its land cell (or, in the sea within one cell of
        land, the nearest land cell of the 8 around it) and the straight metres to that cell's centre; node -1
        and ``inf`` otherwise. Many points (a demand grid) are located once: :class:`_Memo`."""
        return self._memo.get(_floats(x), _floats(y), self._locate)

    def _locate(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cell = self.cell_m
        u, v = (x - self.origin_x) / cell, (y - self.origin_y) / cell  # in cells from the lower-left corner
        c, r = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
        node = np.full(len(x), -1, dtype=np.int64)
        offset = np.full(len(x), np.inf)
        idx = np.flatnonzero((r >= -1) & (r <= self.shape[0]) & (c >= -1) & (c <= self.shape[1]))
        width = self._raster.shape[1]
        flat = self._raster.ravel()
        at = (r[idx] + _PAD) * width + (c[idx] + _PAD)
        own = flat[at]  # the point's own cell, when it is land
        land = own >= 0
        hit = idx[land]
        node[hit] = own[land]
        offset[hit] = np.hypot(u[hit] - c[hit] - 0.5, v[hit] - r[hit] - 0.5) * cell
        sea, at = idx[~land], at[~land]  # a point in the sea: the nearest land cell of the 8 around it
        for dr, dc in _MOVES[:8]:
            cand = flat[at + dr * width + dc]
            d = np.hypot(u[sea] - c[sea] - dc - 0.5, v[sea] - r[sea] - dr - 0.5) * cell
            take = (cand >= 0) & (d < offset[sea])
            node[sea[take]], offset[sea[take]] = cand[take], d[take]
        return node, offset


class RoadGraph(_Routable):
    """A directed road graph of one mode: node coordinates (EPSG:4549 metres), one row per directed edge (a two-way
    segment twice); parallel edges keep the shortest, self-loops are dropped. Points snap to the nearest node of a
    component of at least :data:`MIN_COMPONENT_NODES` nodes (or the largest)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, src: np.ndarray, dst: np.ndarray, length_m: np.ndarray,
                 *, snap_cap_m: float = SNAP_CAP_M):
        from scipy.sparse.csgraph import connected_components

        x, y, w = _floats(x), _floats(y), _floats(length_m)
        src, dst = (np.asarray(v, dtype=np.int64).ravel() for v in (src, dst))
        n = len(x)
        if len(y) != n or not (len(src) == len(dst) == len(w)):
            raise ValueError("node_x/node_y and src/dst/length_m must have matching lengths")
        if len(src) and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
            raise ValueError("an edge refers to a node that does not exist")
        if not np.all(np.isfinite(w) & (w >= 0)):
            raise ValueError("edge lengths must be finite metres >= 0")
        keep = src != dst
        src, dst, w = src[keep], dst[keep], w[keep]
        order = np.lexsort((w, dst, src))
        src, dst, w = src[order], dst[order], w[order]
        first = np.r_[True, (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])] if len(src) else np.zeros(0, bool)
        src, dst, w = src[first], dst[first], w[first]
        self.x, self.y, self.snap_cap_m = x, y, float(snap_cap_m)
        self.edges = len(src)
        forward = _Csr(n, *_csr_arrays(n, src, dst, w))
        self._init_routable(forward, symmetric=False)
        if n:
            _, labels = connected_components(forward.matrix, directed=True, connection="weak")
            sizes = np.bincount(labels)
            big = (sizes >= MIN_COMPONENT_NODES) | (np.arange(len(sizes)) == sizes.argmax())
            self.snappable = np.flatnonzero(big[labels])
        else:
            self.snappable = np.empty(0, dtype=np.int64)
        self._tree = None

    def _window(self, node: int, radius_m: float) -> np.ndarray:
        return np.flatnonzero((np.abs(self.x - self.x[node]) <= radius_m) & (np.abs(self.y - self.y[node]) <= radius_m))

    @classmethod
    def from_npz(cls, path: str | Path, **kw) -> RoadGraph:
        """Read ``graph_{mode}.npz`` (``node_lon``, ``node_lat`` WGS84, ``src``, ``dst``, ``length_m``)."""
        from geo.crs import to_metric

        with np.load(path, allow_pickle=False) as z:
            lon, lat = z["node_lon"].astype("float64"), z["node_lat"].astype("float64")
            src, dst, length = z["src"], z["dst"], z["length_m"]
        x, y = to_metric(lon, lat) if len(lon) else (np.empty(0), np.empty(0))
        return cls(np.asarray(x), np.asarray(y), src, dst, length, **kw)

    def snap(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """``(node, snap_m)``: the nearest snappable node of each EPSG:4549 point and the straight metres to
        it; node -1 (snap_m inf) beyond :attr:`snap_cap_m` (exactly on it snaps). Many points (a demand grid) are
        snapped once: :class:`_Memo`."""
        return self._memo.get(_floats(x), _floats(y), self._snap)

    def _snap(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(self.snappable) == 0 or len(x) == 0:
            return np.full(len(x), -1, dtype=np.int64), np.full(len(x), np.inf)
        if self._tree is None:
            from scipy.spatial import cKDTree

            self._tree = cKDTree(np.column_stack([self.x[self.snappable], self.y[self.snappable]]))
        d, j = self._tree.query(np.column_stack([x, y]), k=1, workers=-1,
                                distance_upper_bound=self.snap_cap_m * _SLACK + 1e-9)
        ok = d <= self.snap_cap_m
        node = np.where(ok, self.snappable[np.minimum(j, len(self.snappable) - 1)], -1)
        return node.astype(np.int64), np.where(ok, d, np.inf)


# --------------------------------------------------------------------------- context

_SHARED: dict = {}  # the process's land rasters and road graphs, shared by contexts
_SHARED_LOCK = threading.Lock()


def _shared(key, stamp, build: Callable[[], object]):
    """``build()`` once per ``key`` and ``stamp`` (a new stamp replaces the old value), once even when asked
    concurrently."""
    with _SHARED_LOCK:
        entry = _SHARED.get(key)
        if entry is None or entry[0] != stamp:
            entry = _SHARED[key] = (stamp, threading.Lock(), [])
    _, lock, box = entry
    with lock:
        if not box:
            box.append(build())
    return box[0]


def _stamp(path: Path):
    st = path.stat()
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class TravelContext:
    """What the models need, built once per process: the land raster (lazily, on first use of ``land``) and
    the imported road graphs (lazily, once per mode, reloaded when the import changes).

    ``TravelContext.for_settings(settings)`` is cached per (districts file, data directory, travel settings);
    its land raster and graphs are shared by the process. Tests build one directly:
    ``TravelContext(land=LandGrid(mask, …), graphs={"walk": RoadGraph(…)})``; ``TravelContext()`` has
    ``straight`` only.
    """

    def __init__(self, *, land: LandGrid | Callable[[], LandGrid] | None = None, osm_dir: str | Path | None = None,
                 graphs: dict[str, RoadGraph] | None = None, provenance: dict | None = None,
                 travel: Travel | None = None, land_cell_m: float | None = None):
        self._land = land
        self.osm_dir = None if osm_dir is None else Path(osm_dir)
        self._graphs = None if graphs is None else dict(graphs)
        self._provenance = provenance
        self.travel = travel
        self.land_cell_m = land.cell_m if isinstance(land, LandGrid) else (land_cell_m or LAND_CELL_M)
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings) -> TravelContext:
        """The process's context for ``settings`` (one per districts file, data directory and travel settings)."""
        from geo.nearest import Travel
        from geo.osm import osm_dir

        districts = Path(settings.districts_path).resolve()
        travel = Travel.from_settings(settings)
        cell_m = float(getattr(settings, "land_cell_m", LAND_CELL_M))
        cell_m = int(cell_m) if cell_m.is_integer() else cell_m  # 100, not 100.0, in every answer
        key = ("context", str(districts), str(Path(settings.data_dir).resolve()), travel, cell_m)

        def land() -> LandGrid:
            from geo.geography import load_districts

            return _shared(("land", str(districts), cell_m), None,
                           lambda: LandGrid.from_districts(load_districts(districts), cell_m))

        return _shared(key, None, lambda: cls(land=land, osm_dir=osm_dir(settings), travel=travel,
                                              land_cell_m=cell_m))

    # -- availability ------------------------------------------------------
    def _graph_path(self, mode: str) -> Path | None:
        return None if self.osm_dir is None else self.osm_dir / f"graph_{mode}.npz"  # as geo.osm.graph_path

    def available(self, model: str, mode: str | None = None) -> bool:
        """Whether ``model`` can answer (``network``: an imported graph for ``mode``, or for any mode)."""
        from geo.planner_params import MODES

        if model == "straight":
            return True
        if model == "land":
            return self._land is not None
        if model != "network":
            return False
        modes = MODES if mode is None else (mode,)
        if self._graphs is not None:
            return any(m in self._graphs for m in modes)
        return any((p := self._graph_path(m)) is not None and p.is_file() for m in modes)

    def require(self, model: str, mode: str | None = None) -> None:
        """Raise :class:`ParameterError` (``travel``, status 400) unless :meth:`available`."""
        if model not in TRAVEL_MODELS:
            raise ParameterError("travel", model, f"one of {', '.join(TRAVEL_MODELS)}")
        if not self.available(model, mode):
            raise ParameterError("travel", model, NETWORK_HINT if model == "network" else "straight")

    # -- what the models use ---------------------------------------------
    def land(self) -> LandGrid:
        """The land raster (built on first use)."""
        self.require("land")
        if not isinstance(self._land, LandGrid):
            with self._lock:
                if not isinstance(self._land, LandGrid):
                    self._land = self._land()
        return self._land

    def graph(self, mode: str) -> RoadGraph:
        """The road graph of ``mode`` (loaded on first use, again after a new import)."""
        self.require("network", mode)
        if self._graphs is not None:
            return self._graphs[mode]
        path = self._graph_path(mode)
        return _shared(("graph", str(path.resolve())), _stamp(path), lambda: RoadGraph.from_npz(path))

    def provenance(self) -> dict | None:
        """The import's ``provenance.json`` (None without one)."""
        if self._provenance is not None or self.osm_dir is None:
            return self._provenance
        path = self.osm_dir / "provenance.json"
        if not path.is_file():
            return None
        import json

        return _shared(("provenance", str(path.resolve())), _stamp(path),
                       lambda: json.loads(path.read_text(encoding="utf-8")))

    def describe(self, model: str, mode: str | None, travel: Travel | None = None) -> dict:
        """What every response states about the model: ``model``, ``mode``, ``speed_kmh``, ``detour_factor``
        (not for network), ``land_cell_m`` and ``max_overestimate_pct`` (land), ``walk_kmh`` (the snap legs),
        ``snap_cap_m`` and ``osm`` (network: file, osm_timestamp, attribution, licence_url) and ``rule``.

        >>> TravelContext().describe("straight", "walk")["rule"]
        'minutes = straight line × detour_factor ÷ speed'
        """
        if model not in TRAVEL_MODELS:
            raise ParameterError("travel", model, f"one of {', '.join(TRAVEL_MODELS)}")
        if travel is None:
            from geo.nearest import Travel

            travel = self.travel or Travel()
        out: dict = {"model": model, "mode": mode, "speed_kmh": None if mode is None else _speed_kmh(travel, mode)}
        if model == "straight":
            out["detour_factor"] = travel.detour_factor
            out["rule"] = "minutes = straight line × detour_factor ÷ speed"
        elif model == "land":
            out["detour_factor"] = travel.detour_factor
            out["land_cell_m"] = self.land_cell_m
            out["max_overestimate_pct"] = round(100.0 * LAND_OVERESTIMATE, 2)
            out["rule"] = (f"minutes = shortest path over land (a {self.land_cell_m:g} m raster of the district "
                           "polygons, 16 moves, never across the sea; islands are not reached from the mainland) "
                           "× detour_factor ÷ speed")
        else:
            out["walk_kmh"] = travel.walk_kmh
            out["snap_cap_m"] = SNAP_CAP_M
            prov = self.provenance()
            out["osm"] = None if prov is None else {k: prov.get(k) for k in ("file", "osm_timestamp", "attribution",
                                                                             "licence_url")}
            out["rule"] = (f"minutes = road metres ÷ speed + snap metres ÷ walk_kmh (the nearest road node, at most "
                           f"{SNAP_CAP_M:g} m away)")
        return out
