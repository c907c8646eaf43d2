"""Nearest eligible facilities: filtered k-nearest, travel minutes, open-now state.

How it works (index once, query in two steps):

1. At build time every live facility is projected once to EPSG:4549 (metres) and
   boolean masks are made per kind, amenity, worker type and status.
2. A query ANDs the masks it needs (the combined index list is cached per filter
   and per minute, since opening hours change only on the minute), computes planar
   squared distances to that subset (a masked brute force: with ~2,000 facilities
   this beats over-fetching from one big tree), and takes the k smallest.
3. The candidates are re-ranked by exact geodesic distance (pyproj.Geod): every
   facility whose planar distance is within 0.05 % of the k-th is a candidate, so
   the answer equals the geodesic k-nearest (EPSG:4549's scale error over Qingdao
   is ≤ 101 ppm). Reported ``distance_m`` and ``bearing_deg`` are geodesic.

Opening hours are evaluated in Asia/Shanghai on China's calendar (:mod:`geo.hours`). A facility
whose hours are unknown (``opening_hours`` None) is never open now or at a time: an hours filter
(``open_at``, ``open_24h``) leaves it out unless ``include_unknown_hours``, and its hit says
``open_now=None``. A point exactly ``radius_m`` away is within the radius. Removed facilities are never returned;
temporarily closed / maintenance ones only with ``include_closed`` (flagged).

Travel models (``travel``, :mod:`geo.travel`): ``straight`` (the default) is the above, minutes = geodesic metres
× detour factor ÷ speed. ``land`` and ``network`` take more candidates by straight distance than asked for,
measure the trip from the point to each (``geo.travel.pair_distances``, one bounded search per mode) and rank
by it; a route is never shorter than the straight line, so candidates are added until the k-th route is no
longer than the straight distance of the first one left out (then the answer is the k nearest by route).
``distance_m`` is then the route's metres (along the roads for ``network``), walk/e-bike minutes the model's;
a facility the model cannot reach is left out. The straight path costs nothing more.

The index is immutable; when the registry changes the caller builds a new one
(≈ milliseconds for the whole city, see ``bench/bench_nearest.py``) and swaps it.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, NamedTuple

import numpy as np

from geo.crs import geodesic_inverse_point, metric_transformer, to_metric
from geo.hours import Hours, local_time, now_local
from geo.model import AMENITIES, KINDS, WORKER_TYPES, Facility
from geo.params import MAX_K, TRAVEL_LIMITS  # the limits are declared with the parameters

__all__ = ["MAX_K", "FacilityIndex", "Hit", "NearestResult", "Travel", "check_query", "query_minute", "within"]

_RERANK_SLACK = 1.0005  # planar vs geodesic distance differ by < 0.0101 % over Qingdao
_CACHE_SIZE = 512
#: Routed re-rank: straight-line candidates taken first (at least, and per facility asked for), rounds of
#: doubling them at most, and the search limit: the walk of this many times the farthest candidate, plus a bit.
_ROUTE_MIN_CANDIDATES, _ROUTE_PER_K, _ROUTE_ROUNDS = 16, 4, 4
_ROUTE_LIMIT_FACTOR, _ROUTE_LIMIT_EXTRA_M = 4.0, 2000.0


@dataclass(frozen=True)
class Travel:
    """Travel-time assumptions: straight line × detour factor at a constant speed."""

    detour_factor: float = 1.3
    walk_kmh: float = 4.8
    ebike_kmh: float = 15.0

    #: The allowed range of each assumption.
    LIMITS: ClassVar[dict[str, tuple[float, float]]] = TRAVEL_LIMITS

    def __post_init__(self):
        for name, (lo, hi) in self.LIMITS.items():
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"{name} must be a number between {lo} and {hi}, got {v!r}")

    @classmethod
    def from_settings(cls, settings) -> Travel:
        """The assumptions configured in :class:`geo.settings.Settings` (``WORKERMAP_WALK_KMH`` …)."""
        return cls(**{name: getattr(settings, name) for name in cls.LIMITS})

    def minutes(self, distance_m, speed_kmh: float):
        """Minutes to cover ``distance_m`` straight-line metres (arrays welcome)."""
        return np.asarray(distance_m) * self.detour_factor / (speed_kmh * 1000.0 / 60.0)

    def per_metre(self) -> tuple[float, float]:
        """(walking, e-bike) minutes per straight-line metre: a hit's minutes are its metres times these."""
        return (self.detour_factor * 60.0 / (self.walk_kmh * 1000.0),
                self.detour_factor * 60.0 / (self.ebike_kmh * 1000.0))

    def radius_m(self, minutes: float, mode: str) -> float:
        """Straight-line radius reachable in ``minutes`` by ``mode`` (walk|ebike)."""
        speed = {"walk": self.walk_kmh, "ebike": self.ebike_kmh}[mode]
        return minutes * speed * 1000.0 / 60.0 / self.detour_factor

    def as_dict(self) -> dict[str, float]:
        return {"detour_factor": self.detour_factor, "walk_kmh": self.walk_kmh, "ebike_kmh": self.ebike_kmh}


class Hit(NamedTuple):
    """One answer; ``index`` is the facility's position in :attr:`FacilityIndex.facilities`."""

    facility: Facility
    distance_m: float
    bearing_deg: float
    within_radius: bool
    open_now: bool | None  # None: the hours are unknown
    next_change: datetime | None  # closes_at if open_now else opens_at (local time); None if unknown
    walk_min: float
    ebike_min: float
    index: int

    @property
    def available(self) -> bool:
        return self.facility.status == "open"


class NearestResult(NamedTuple):
    hits: list[Hit]
    at: datetime  # local Qingdao time the hours were evaluated at
    eligible: int  # facilities passing the filters


def _check_values(name: str, values: Iterable[str], allowed) -> tuple[str, ...]:
    values = tuple(values or ())
    for v in values:
        if v not in allowed:
            raise ValueError(f"{name} must be among {', '.join(allowed)}, got {v!r}")
    return values


def within(chosen: list, radius_m: float | None) -> list:
    """Of the k nearest (each a tuple, its distance in metres first), those within ``radius_m``; all of them if
    none is (an answer is never empty while eligible facilities exist: they come flagged ``within_radius=False``)."""
    if radius_m is None:
        return chosen
    return [c for c in chosen if c[0] <= radius_m] or chosen


def check_query(k, radius_m) -> None:
    """What every nearest engine checks of ``k`` and ``radius_m`` (the API has parsed them already)."""
    if not (isinstance(k, int) and 1 <= k <= MAX_K):
        raise ValueError(f"k must be an integer between 1 and {MAX_K}, got {k!r}")
    if radius_m is not None and not (math.isfinite(radius_m) and radius_m > 0):
        raise ValueError(f"radius_m must be a positive number, got {radius_m!r}")


def query_minute(open_at: datetime | None | str) -> datetime:
    """The local minute a query's hours are evaluated at: ``open_at`` (naive = Qingdao time, or aware), else now."""
    if isinstance(open_at, datetime) and open_at.tzinfo is None:  # the common case
        return open_at.replace(second=0, microsecond=0) if open_at.second or open_at.microsecond else open_at
    return (now_local() if open_at is None or open_at == "now" else local_time(open_at)).replace(second=0)


class FacilityIndex:
    """An immutable spatial index over the live facilities of one registry version."""

    #: What a batch answer's ``distance_m`` is (``/api/v1/nearest`` POST says it).
    BATCH_DISTANCE = "planar EPSG:4549 (within 0.01 % of geodesic)"

    def __init__(self, facilities: Sequence[Facility], *, travel: Travel | None = None):
        self.facilities: tuple[Facility, ...] = tuple(f for f in facilities if f.status != "removed")
        self.travel = travel or Travel()
        n = len(self.facilities)
        self.lon = np.array([f.lon for f in self.facilities], dtype="float64")
        self.lat = np.array([f.lat for f in self.facilities], dtype="float64")
        self._lon_list, self._lat_list = self.lon.tolist(), self.lat.tolist()  # fast scalar access
        self._to_metric = metric_transformer().transform
        x, y = to_metric(self.lon, self.lat) if n else (np.empty(0), np.empty(0))
        self.x, self.y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
        self.kind_mask = {k: np.array([f.kind == k for f in self.facilities], dtype=bool) for k in KINDS}
        self.amenity_mask = {a: np.array([a in f.amenities for f in self.facilities], dtype=bool)
                             for a in AMENITIES}
        self.worker_mask = {w: np.array([f.access in allowed for f in self.facilities], dtype=bool)
                            for w, allowed in WORKER_TYPES.items()}
        self.status_open = np.array([f.status == "open" for f in self.facilities], dtype=bool)
        self.hours_unknown = np.array([f.opening_hours is None for f in self.facilities], dtype=bool)
        self._unknown_list = np.flatnonzero(self.hours_unknown).tolist()
        self.all_true = np.ones(n, dtype=bool)
        groups: dict[tuple[str, bool], list[int]] = {}
        for i, f in enumerate(self.facilities):
            if f.opening_hours is not None:
                groups.setdefault((f.opening_hours, f.workday_calendar), []).append(i)
        self._hour_groups = [(Hours.parse(*key), np.array(ix)) for key, ix in groups.items()]
        self.always_open = np.zeros(n, dtype=bool)  # 24/7 every day of the year
        for hours, ix in self._hour_groups:
            self.always_open[ix] = hours.always_open
        self._open_cache: OrderedDict = OrderedDict()
        self._subset_cache: OrderedDict = OrderedDict()
        self.z = self.x + 1j * self.y  # complex x + iy: one vector op gives planar distances

    def __len__(self) -> int:
        return len(self.facilities)

    def facility_id(self, i: int) -> str:
        return self.facilities[i].id

    # -- eligibility -------------------------------------------------------
    def _hours_at(self, when: datetime) -> tuple[np.ndarray, list, list[bool | None]]:
        """(open mask, next change per facility, open as a list: None where the hours are unknown) at
        ``when``'s minute, once per minute.

        Facilities share a handful of distinct opening_hours expressions, so each
        expression is evaluated once per minute, not once per facility.
        """
        cached = self._open_cache.get(when)  # fast path: callers pass a local minute
        if cached is not None:
            return cached
        minute = local_time(when).replace(second=0)
        cached = self._open_cache.get(minute)
        if cached is None:
            mask = np.zeros(len(self.facilities), dtype=bool)
            nxt: list = [None] * len(self.facilities)
            for hours, ix in self._hour_groups:
                mask[ix] = hours.is_open(minute)
                change = hours.next_change(minute)
                for i in ix:
                    nxt[i] = change
            is_open: list[bool | None] = mask.tolist()  # the list for fast scalar access
            for i in self._unknown_list:
                is_open[i] = None
            cached = (mask, nxt, is_open)
            self._open_cache[minute] = cached
            if len(self._open_cache) > _CACHE_SIZE:
                self._open_cache.popitem(last=False)
        return cached

    def open_mask(self, when: datetime) -> np.ndarray:
        """Which facilities are open at ``when`` (Qingdao time; evaluated once per minute; unknown hours: not)."""
        return self._hours_at(when)[0]

    def eligible(self, *, kinds: Sequence[str] = (), amenities: Sequence[str] = (), worker: str | None = None,
                 open_at: datetime | None = None, include_closed: bool = False,
                 open_24h: bool = False, include_unknown_hours: bool = False) -> np.ndarray:
        """Indices of facilities passing every filter (``open_at=None``: any hours; ``include_unknown_hours``:
        the hours filters keep facilities whose hours are unknown)."""
        return self._subset(tuple(kinds), tuple(amenities), worker,
                            None if open_at is None else local_time(open_at), include_closed, open_24h,
                            include_unknown_hours)[0]

    def _subset(self, kinds: tuple, amenities: tuple, worker, at: datetime | None, include_closed: bool,
                open_24h: bool = False, include_unknown_hours: bool = False):
        """(indices, their x + iy) for one filter, cached per filter and minute."""
        key = (kinds, amenities, worker, at, include_closed, open_24h, include_unknown_hours)
        hit = self._subset_cache.get(key)
        if hit is not None:
            return hit
        if at is not None and (at.second or at.microsecond or at.tzinfo is not None):
            return self._subset(kinds, amenities, worker, local_time(at).replace(second=0), include_closed, open_24h,
                                include_unknown_hours)
        _check_values("kinds", kinds, KINDS)
        _check_values("amenities", amenities, AMENITIES)
        if worker is not None and worker not in WORKER_TYPES:
            raise ValueError(f"worker must be one of {', '.join(WORKER_TYPES)}, got {worker!r}")
        mask = self.all_true.copy()
        if kinds:
            km = np.zeros_like(mask)
            for k in kinds:
                km |= self.kind_mask[k]
            mask &= km
        for a in amenities:
            mask &= self.amenity_mask[a]
        if worker is not None:
            mask &= self.worker_mask[worker]
        if not include_closed:
            mask &= self.status_open
        if at is not None:
            mask &= (self.open_mask(at) | self.hours_unknown) if include_unknown_hours else self.open_mask(at)
        if open_24h:
            mask &= (self.always_open | self.hours_unknown) if include_unknown_hours else self.always_open
        idx = np.flatnonzero(mask)
        hit = (idx, self.z[idx])
        self._subset_cache[key] = hit
        if len(self._subset_cache) > _CACHE_SIZE:
            self._subset_cache.popitem(last=False)
        return hit

    # -- queries -----------------------------------------------------------
    def query(self, lon: float, lat: float, *, k: int = 5, radius_m: float | None = None,
              kinds: Sequence[str] = (), amenities: Sequence[str] = (), worker: str | None = None,
              open_at: datetime | None | str = "now", include_closed: bool = False,
              open_24h: bool = False, travel: Travel | None = None,
              include_unknown_hours: bool = False, travel_model: str = "straight", context=None) -> NearestResult:
        """The k nearest eligible facilities to WGS84 ``(lon, lat)``.

        ``open_at``: a datetime (aware, or naive = Qingdao time), ``"now"`` (default), or
        ``None`` for no opening-hours filter (``open_now`` is then reported for now).
        ``open_24h``: only facilities open round the clock (``24/7``). ``include_unknown_hours``: the hours
        filters keep facilities whose hours are unknown (their ``open_now`` is None).
        ``travel_model``: ``straight`` (default), ``land`` or ``network`` (measured with ``context``, a
        ``geo.travel.TravelContext``; see the module docstring).
        If ``radius_m`` is given and nothing eligible lies within it, the nearest ones
        beyond it are returned flagged ``within_radius=False`` — never an empty answer
        while eligible facilities exist.
        """
        check_query(k, radius_m)
        at = query_minute(open_at)
        idx, zs = self._subset(tuple(kinds), tuple(amenities), worker, None if open_at is None else at,
                               include_closed, open_24h, include_unknown_hours)
        hits: list[Hit] = []
        if travel_model != "straight":
            context.require(travel_model, "walk")  # network without an imported extract: a 400 naming travel
        if len(idx):
            qx, qy = self._to_metric(lon, lat)
            d = np.abs(zs - complex(qx, qy))
            if travel_model == "straight":
                hits = self._hits(lon, lat, idx, d, k, radius_m, at, travel or self.travel)
            else:
                hits = self._routed_hits(lon, lat, (qx, qy), idx, d, k, radius_m, at, travel or self.travel,
                                         travel_model, context)
        return NearestResult(hits, at, int(len(idx)))

    def _routed_hits(self, lon, lat, q: tuple[float, float], idx: np.ndarray, d: np.ndarray, k: int, radius_m,
                     at: datetime, t: Travel, model: str, context) -> list[Hit]:
        """The k nearest by route (``land``/``network``): see the module docstring."""
        from geo.travel import pair_distances

        n = len(d)
        order = d.argsort(kind="stable")
        m = min(n, max(_ROUTE_MIN_CANDIDATES, _ROUTE_PER_K * k))
        measured = 0
        path, walk = np.empty(0), np.empty(0)
        for _ in range(_ROUTE_ROUNDS):
            cand = idx[order[measured:m]]
            limit = float(t.minutes(_ROUTE_LIMIT_FACTOR * float(d[order[m - 1]]) + _ROUTE_LIMIT_EXTRA_M, t.walk_kmh))
            more, minutes = pair_distances(model, "walk", q[0], q[1], self.x[cand], self.y[cand], travel=t,
                                           context=context, limit_minutes=limit)
            path = np.r_[path, np.asarray(more, dtype="float64")]
            walk = np.r_[walk, np.asarray(minutes, dtype="float64")]
            measured = m
            reached = np.sort(path[np.isfinite(path)])
            if m >= n or (len(reached) >= k and reached[k - 1] <= d[order[m]]):
                break  # nothing left out can be nearer by route than the k-th
            m = min(n, 2 * m)
        ranked = np.argsort(path, kind="stable")
        ranked = ranked[np.isfinite(path[ranked])][:k]
        if radius_m is not None:
            inside = ranked[path[ranked] <= radius_m]
            if len(inside):
                ranked = inside
        chosen = idx[order[ranked]]
        if not len(chosen):
            return []
        walk_path, walk_min = path[ranked], walk[ranked]
        ebike_limit = float(t.minutes(float(walk_path.max()) * 2 + _ROUTE_LIMIT_EXTRA_M, t.ebike_kmh))
        _, ebike_min = pair_distances(model, "ebike", q[0], q[1], self.x[chosen], self.y[chosen], travel=t,
                                      context=context, limit_minutes=ebike_limit)
        inv = geodesic_inverse_point
        _, next_change, is_open = self._hours_at(at)
        make, lon, lat = Hit._make, float(lon), float(lat)
        out = []
        for j, i in enumerate(chosen.tolist()):
            az = inv(lon, lat, self._lon_list[i], self._lat_list[i])[0]
            dist = float(walk_path[j])
            out.append(make((self.facilities[i], dist, az % 360.0, radius_m is None or dist <= radius_m, is_open[i],
                             next_change[i], float(walk_min[j]), float(ebike_min[j]), i)))
        return out

    def _hits(self, lon, lat, idx: np.ndarray, d: np.ndarray, k: int, radius_m, at: datetime,
              t: Travel) -> list[Hit]:
        """Planar k smallest, plus every further one within the slack, re-ranked geodesically."""
        n = len(d)
        k = min(k, n)
        if n > 256:  # a partial sort of the nearest few beats sorting them all
            m = min(n, 2 * k + 8)
            part = np.argpartition(d, m - 1)[:m]
            order = part[d[part].argsort()]
        else:
            order = d.argsort()
        m = min(n, k + 4)
        head = order[:m]
        dist = d[head].tolist()
        limit = dist[k - 1] * _RERANK_SLACK + 1e-3
        take = k
        while take < m and dist[take] <= limit:
            take += 1
        cand = idx[head[:take]] if take < m or m == n else idx[np.flatnonzero(d <= limit)]
        inv = geodesic_inverse_point
        flon, flat = self._lon_list, self._lat_list
        lon, lat = float(lon), float(lat)
        ranked = []
        for i in cand.tolist():
            az, _, dist_m = inv(lon, lat, flon[i], flat[i])
            ranked.append((dist_m, i, az))
        ranked.sort()
        chosen = within(ranked[:k], radius_m)
        walk, ebike = t.per_metre()
        _, next_change, is_open = self._hours_at(at)
        facilities, make = self.facilities, Hit._make  # _make: the namedtuple's fast constructor
        return [
            make((facilities[i], dist, az % 360.0, radius_m is None or dist <= radius_m, is_open[i],
                  next_change[i], dist * walk, dist * ebike, i))
            for dist, i, az in chosen
        ]

    def query_batch(self, lon, lat, *, k: int = 1, kinds: Sequence[str] = (), amenities: Sequence[str] = (),
                    worker: str | None = None, open_at: datetime | None | str = "now",
                    include_closed: bool = False, open_24h: bool = False, include_unknown_hours: bool = False,
                    ) -> tuple[np.ndarray, np.ndarray, datetime, int]:
        """Vectorised k-nearest for many WGS84 points with the same filters as :meth:`query`.

        Returns ``(distance_m, index, evaluated_at, eligible)``; arrays of shape (n, k).
        """
        if not (isinstance(k, int) and 1 <= k <= MAX_K):
            raise ValueError(f"k must be an integer between 1 and {MAX_K}, got {k!r}")
        at = now_local() if open_at is None or open_at == "now" else local_time(open_at)
        idx, _ = self._subset(tuple(kinds), tuple(amenities), worker, None if open_at is None else at,
                              include_closed, open_24h, include_unknown_hours)
        dist, fidx = self.batch_distances(lon, lat, k=k, idx=idx)
        n = np.size(lon)
        return dist.reshape(n, k), fidx.reshape(n, k), at, int(len(idx))

    def batch_distances(self, lon, lat, *, k: int = 1, idx: np.ndarray | None = None,
                        metric_xy: tuple[np.ndarray, np.ndarray] | None = None):
        """Planar (EPSG:4549) distances in metres from many points to their k nearest.

        Returns ``(distance_m, index)`` arrays of shape (n,) for k=1 or (n, k); ``index``
        points into ``self.facilities`` (-1 and ``inf`` where fewer than k exist).
        ``idx`` restricts the candidates (e.g. from :meth:`eligible`); pass ``metric_xy``
        to skip the projection when the caller already has EPSG:4549 coordinates.
        """
        from scipy.spatial import cKDTree

        if metric_xy is None:
            qx, qy = to_metric(np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64"))
        else:
            qx, qy = metric_xy
        qx, qy = np.atleast_1d(qx), np.atleast_1d(qy)
        idx = np.arange(len(self.facilities)) if idx is None else np.asarray(idx)
        shape = (len(qx),) if k == 1 else (len(qx), k)
        if len(idx) == 0:
            return np.full(shape, np.inf), np.full(shape, -1)
        tree = cKDTree(np.column_stack([self.x[idx], self.y[idx]]))
        dist, j = tree.query(np.column_stack([qx, qy]), k=k, workers=-1)
        valid = np.isfinite(dist)
        out_idx = np.where(valid, idx[np.minimum(j, len(idx) - 1)], -1)
        return dist, out_idx
