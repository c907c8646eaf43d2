"""New-site planning: where to add k facilities, keeping today's, to cover the most uncovered demand.

The problem is the maximal covering location problem (MCLP) with the existing facilities fixed:
choose k candidate sites, at least ``min_spacing_m`` from every existing and every other new
site and outside the exclusion polygons, maximising the demand (workers or residents) newly
brought within the threshold. Distances are planar EPSG:4549 metres, centre to centre (a cell
exactly ``threshold_m`` from a site is covered, as in :mod:`geo.coverage`).

Greedy + swap (default)
    Repeatedly take the candidate adding the most still-uncovered demand (the coverage function
    is submodular, so greedy alone is within 1 − 1/e of the optimum), then improve by 1-swaps
    (Teitz–Bart interchange): drop one new site, put back the best candidate anywhere, keep the
    change if it covers more; repeat until no swap helps. Sites are then ranked by marginal gain
    (greedy order within the chosen set), which gives the cumulative curve.
    ``bench/bench_coverage.py`` measures the result against the exact optimum.

    * Candidates = land cells of the grid (default): the gain of every cell is the uncovered
      demand raster convolved with a disk (one FFT for the whole city); every add or drop
      recomputes only the window within two radii of the site. 20 sites over a million cells
      take about a second.
    * Candidates = a list of points: a sparse candidate × cell incidence from a cKDTree; an add
      or drop recomputes only the gains of candidates sharing a changed cell.

    Ties go to the lower candidate index (grid: the southernmost, then westernmost cell).

By route (``land``/``network`` thresholds)
    A candidate's catchment is the cells whose route to it is within the threshold (bounded searches:
    ``geo.coverage.route_pairs``) instead of a disc; greedy + swap runs on those lists over the
    :data:`MAX_ROUTED_CANDIDATES` candidates whose straight-line reach holds the most uncovered demand (an
    upper bound of their routes' gain: a route is never shorter than the straight line), the exact solve on
    every candidate (at most as many). Spacing stays a straight-line distance.

Exact (district scale)
    The MCLP as a mixed-integer program built directly as ``scipy.sparse`` matrices and solved by HiGHS
    (``scipy.optimize.milp``, relative gap 0): a binary x_j per candidate, a continuous y_g ≤ 1 per demand
    group, maximise Σ w_g·y_g subject to y_g ≤ Σ x_j over the candidates within reach of g, Σ x_j = k, and
    x_a + x_b ≤ 1 for candidates closer than the spacing (:func:`mclp_instance`, :func:`solve_mclp`). Only
    uncovered demand enters (what the existing sites cover stays covered whatever is chosen). Before solving,
    demand cells reached by the same set of candidates are merged into one group — an aggregation with no
    error (every choice of sites covers the same demand) — and, without a spacing rule, a candidate reaching
    a subset of another's demand (or the same) is dropped (the other is as good in every plan). Coarser,
    lossy aggregation is not used: 2 × 2 blocks of 250 m cells made 城阳区 +10 solve 9× faster but chose
    sites covering 2.2 % less than the optimum (an aggregation error of 5.6 %, more than greedy's). On the
    shipped 250 m grid 李沧区 +5 (all 1,575 cells as candidates) solves in about a second; a model with more
    than :data:`MAX_EXACT_NONZEROS` non-zeros or :data:`MAX_EXACT_CANDIDATES` candidates is refused
    (:class:`SitingError` ``too_large``), an impossible spacing is ``infeasible``. If the solver stops at the
    time limit the better of its best plan and greedy's is returned, with the proven bound. PySAL spopt is a
    test-only reference (``tests/test_siting_exact.py``: the same optimum on small instances).

>>> import numpy as np
>>> from geo.coverage import PreparedGrid, Threshold, compute_coverage
>>> from geo.crs import to_lonlat
>>> from geo.demand import DemandGrid
>>> from geo.nearest import FacilityIndex
>>> i, j = np.meshgrid(np.arange(9), np.arange(3))  # a 900 m x 300 m strip, one worker per cell
>>> x, y = 500_050.0 + 100 * i.ravel(), 4_000_050.0 + 100 * j.ravel()
>>> lon, lat = to_lonlat(x, y)
>>> grid = DemandGrid(x, y, lon, lat, np.full(27, "370202"), np.ones(27), np.ones(27), cell_m=100)
>>> cov = compute_coverage(PreparedGrid(grid), FacilityIndex([]), Threshold.metres(150))
>>> plan = plan_sites(cov, add=2)
>>> [(s["rank"], s["marginal_gain"]) for s in plan.sites], plan.curve[-1]["pct"]
([(1, 9.0), (2, 9.0)], 66.667)
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import shapely

from geo.coverage import EDGE_TOLERANCE_M, Coverage, ParameterError, route_pairs
from geo.crs import to_lonlat, to_metric
from geo.errors import Unprocessable
from geo.planner_params import (  # declared with the parameters (light to import)
    DEMANDS,
    EXACT_TIME_LIMIT_S,
    MAX_ADD,
    MAX_CANDIDATES,
    MAX_SPACING_M,
    METHODS,
)

__all__ = ["EXACT_TIME_LIMIT_S", "MAX_ADD", "MAX_CANDIDATES", "MAX_EXACT_CANDIDATES", "MAX_EXACT_NONZEROS", "METHODS",
           "MclpInstance", "Plan", "SitingError", "mclp_instance", "plan_sites", "solve_mclp"]

#: Largest exact model: non-zeros of its sparse constraint matrix (cover + spacing pairs), after merging and
#: dropping dominated candidates. 城阳区 +10 on the 250 m grid (about 280,000) solves in 30-45 s here; the
#: larger districts (黄岛区, 即墨区, 胶州市, 平度市, 莱西市: 0.7-2 M) and the city are refused.
MAX_EXACT_NONZEROS = 400_000
#: Most candidate sites the exact solve looks at (the largest district has about 51,000 cells).
MAX_EXACT_CANDIDATES = 60_000
#: Randomised greedy restarts: many on small instances (cheap, and where greedy errs most), few on
#: city-wide ones (each costs about as much as the first run).
#: ``land``/``network`` plans: each candidate's catchment is a bounded route search, so greedy looks at this many
#: candidates at most — those whose straight-line reach (an upper bound: a route is never shorter) holds the most
#: uncovered demand.
MAX_ROUTED_CANDIDATES = 1500
#: ``land``/``network`` exact solves refuse more candidates than this (``too_large``): their catchments are built
#: in about 1.2 ms each (a district's 1,575 cells: 1.9 s), so the limit keeps the model under about 10 s.
MAX_ROUTED_EXACT_CANDIDATES = 5000
RESTARTS_SMALL = 10
RESTARTS_LARGE = 2
SMALL_INSTANCE = 20_000


class SitingError(Unprocessable, ValueError):
    """The plan cannot be made as asked (too large for the exact solver, infeasible, nothing to place): a 422.

    ``reason`` is a short code (``too_large``, ``infeasible``, ``no_candidates``, ``solver``); the error
    code is ``plan_<reason>``. The message names other parameters as ``{name}`` or ``{name=value}``: the API
    shows its field names, the CLI its flags (:meth:`geo.errors.DomainError.spelled`).
    """

    def __init__(self, reason: str, message: str, parameter: str | None = None):
        super().__init__(message, parameter=parameter, code=f"plan_{reason}", spelled=True)
        self.reason = reason


@dataclass
class Plan:
    """A ranked list of new sites with each one's marginal gain and the cumulative coverage curve."""

    sites: list[dict]
    curve: list[dict]
    demand: str
    total_demand: float
    covered_before: float
    requested: int
    method: str
    candidates: int
    threshold_m: float
    min_spacing_m: float
    district: str | None
    notes: list[str] = field(default_factory=list)
    exact: dict | None = None
    swaps: int = 0  # improvements made by the 1-swap phase after greedy

    @property
    def added_gain(self) -> float:
        return round(sum(s["marginal_gain"] for s in self.sites), 1)

    def as_dict(self) -> dict:
        return asdict(self) | {"added_gain": self.added_gain}


# --------------------------------------------------------------------------- helpers


def _disk(radius_m: float, cell_m: float, *, strict: bool = False) -> np.ndarray:
    """Boolean (2R+1)² kernel of the cell offsets within ``radius_m`` (``strict``: closer than)."""
    reach = int(math.floor(radius_m / cell_m + 1e-9))
    d = np.arange(-reach, reach + 1) * float(cell_m)
    dist = np.hypot(d[:, None], d[None, :])
    return dist < radius_m - EDGE_TOLERANCE_M if strict else dist <= radius_m + EDGE_TOLERANCE_M


def _covered_by(xy_sites: np.ndarray, x: np.ndarray, y: np.ndarray, distance_m: float) -> np.ndarray:
    """Which points lie closer than ``distance_m`` to any site (for spacing)."""
    if len(xy_sites) == 0 or distance_m <= 0 or len(x) == 0:
        return np.zeros(len(x), dtype=bool)
    from scipy.spatial import cKDTree

    d, _ = cKDTree(xy_sites).query(np.column_stack([x, y]), k=1, distance_upper_bound=distance_m, workers=-1)
    return d < distance_m - EDGE_TOLERANCE_M


def _in_exclusion(exclude, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    if exclude is None or shapely.is_empty(exclude):
        return np.zeros(len(lon), dtype=bool)
    shapely.prepare(exclude)
    return shapely.intersects_xy(exclude, lon, lat)  # on the edge counts as inside the excluded area


def _check_args(add, demand, min_spacing_m, method):
    if isinstance(add, bool) or not isinstance(add, int) or not 1 <= add <= MAX_ADD:
        raise ParameterError("add", add, f"a whole number of new sites between 1 and {MAX_ADD}")
    if demand not in DEMANDS:
        raise ParameterError("demand", demand, f"one of {', '.join(DEMANDS)}")
    if not (isinstance(min_spacing_m, int | float) and math.isfinite(min_spacing_m)
            and 0 <= min_spacing_m <= MAX_SPACING_M):
        raise ParameterError("min_spacing_m", min_spacing_m, f"a distance in metres between 0 and {MAX_SPACING_M}")
    if method not in METHODS:
        raise ParameterError("method", method, f"one of {', '.join(METHODS)}")


def _incidence(cand_xy: np.ndarray, cell_xy: np.ndarray, radius_m: float):
    """CSR incidence (candidates × cells): 1 where the cell centre is within ``radius_m`` of the candidate."""
    from scipy import sparse
    from scipy.spatial import cKDTree

    if len(cell_xy) == 0 or len(cand_xy) == 0:
        return sparse.csr_matrix((len(cand_xy), len(cell_xy)))
    lists = cKDTree(cell_xy).query_ball_point(cand_xy, radius_m + EDGE_TOLERANCE_M, workers=-1)
    counts = np.fromiter((len(v) for v in lists), dtype=np.int64, count=len(lists))
    indptr = np.r_[0, np.cumsum(counts)]
    indices = (np.concatenate([np.sort(np.asarray(v, dtype=np.int64)) for v in lists]) if counts.sum()
               else np.empty(0, dtype=np.int64))
    return sparse.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(cand_xy), len(cell_xy)))


# --------------------------------------------------------------------------- models
#
# Both candidate models keep the same state: how many chosen sites cover each demand cell
# (``count``), how many chosen sites lie closer than the spacing to each candidate (``blocked``)
# and every candidate's gain = uncovered demand within reach. ``add``/``remove`` update the state
# and refresh only the gains that can change; ``best`` returns the best allowed candidate.


class _GridModel:
    """Candidates are grid cells: gains = uncovered-demand raster convolved with a disk (FFT)."""

    def __init__(self, prepared, weight: np.ndarray, cand_cells: np.ndarray, radius_m: float, min_spacing_m: float):
        from scipy.signal import fftconvolve

        self._conv = fftconvolve
        p = self.p = prepared
        h, w = self.shape = p.shape
        self.kernel = _disk(radius_m, p.cell_m)
        self.reach = r = self.kernel.shape[0] // 2
        self.kf = self.kernel.astype("float64")
        self.demand = np.zeros((h + 2 * r, w + 2 * r))  # padded by the reach: windows never clip
        self.demand[p.row + r, p.col + r] = weight
        self.count = np.zeros(self.demand.shape, dtype=np.int16)
        self.base = np.zeros((h, w), dtype=bool)
        self.base[p.row[cand_cells], p.col[cand_cells]] = True
        self.blocked = np.zeros((h, w), dtype=np.int16)
        self.spacing = _disk(min_spacing_m, p.cell_m, strict=True) if min_spacing_m > 0 else np.ones((1, 1), bool)
        self.s = self.spacing.shape[0] // 2
        self.gains = fftconvolve(self.demand, self.kf, mode="valid")
        self.gains[~self.base] = -np.inf

    def _remaining(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Uncovered demand of padded rows r0:r1, cols c0:c1."""
        return np.where(self.count[r0:r1, c0:c1] == 0, self.demand[r0:r1, c0:c1], 0.0)

    def gain(self, site: tuple[int, int]) -> float:
        r, c = site
        n = 2 * self.reach + 1
        return float((self._remaining(r, r + n, c, c + n) * self.kf).sum())

    def _refresh(self, r: int, c: int) -> None:
        h, w = self.shape
        m = max(2 * self.reach, self.s)
        r0, r1, c0, c1 = max(r - m, 0), min(r + m + 1, h), max(c - m, 0), min(c + m + 1, w)
        win = self._conv(self._remaining(r0, r1 + 2 * self.reach, c0, c1 + 2 * self.reach), self.kf, mode="valid")
        allowed = self.base[r0:r1, c0:c1] & (self.blocked[r0:r1, c0:c1] == 0)
        self.gains[r0:r1, c0:c1] = np.where(allowed, win, -np.inf)

    def _apply(self, r: int, c: int, sign: int) -> None:
        n, s = 2 * self.reach + 1, self.s
        self.count[r:r + n, c:c + n] += sign * self.kernel
        h, w = self.shape
        r0, r1, c0, c1 = max(r - s, 0), min(r + s + 1, h), max(c - s, 0), min(c + s + 1, w)
        self.blocked[r0:r1, c0:c1] += sign * self.spacing[r0 - r + s:r1 - r + s, c0 - c + s:c1 - c + s]
        self._refresh(r, c)

    def add(self, site: tuple[int, int]) -> None:
        self._apply(*site, +1)

    def remove(self, site: tuple[int, int]) -> None:
        self._apply(*site, -1)

    def best(self) -> tuple[float, tuple[int, int] | None]:
        top = float(self.gains.max())
        if not np.isfinite(top):
            return -np.inf, None
        ties = np.flatnonzero(self.gains.ravel() >= top - 1e-7 * max(1.0, abs(top)))[:64]
        w = self.shape[1]
        # FFT sums carry rounding noise: settle near-ties with exact sums, lowest raster index first
        exact = [(self.gain(divmod(int(f), w)), -int(f)) for f in ties]
        gain, neg = max(exact, key=lambda t: (round(t[0], 6), t[1]))
        r, c = divmod(-neg, w)
        return gain, (int(r), int(c))

    def top(self, n: int) -> list[tuple[float, tuple[int, int]]]:
        """The ``n`` best allowed candidates (exact gains), best first."""
        flat = self.gains.ravel()
        part = np.argpartition(-flat, min(n, flat.size - 1))[:n]
        w = self.shape[1]
        out = [(self.gain(divmod(int(f), w)), divmod(int(f), w)) for f in part if np.isfinite(flat[f])]
        return sorted(((g, (int(r), int(c))) for g, (r, c) in out), key=lambda t: -t[0])

    def covered_total(self) -> float:
        return float(self.demand[self.count > 0].sum())

    def cell(self, site: tuple[int, int]) -> int:
        return int(self.p.pixel_cell[site])


class _ListModel:
    """Candidates are listed points: candidate × cell incidence from a cKDTree, exact sparse gains."""

    def __init__(self, cand_xy: np.ndarray, cell_xy: np.ndarray, weight: np.ndarray, radius_m: float,
                 min_spacing_m: float, *, incidence=None):
        from scipy.spatial import cKDTree

        self.inc = _incidence(cand_xy, cell_xy, radius_m) if incidence is None else incidence
        self.cells_to_cand = self.inc.T.tocsr()
        self.weight = np.asarray(weight, dtype="float64")
        self.count = np.zeros(len(cell_xy), dtype=np.int32)
        self.blocked = np.zeros(len(cand_xy), dtype=np.int32)
        self.xy = cand_xy
        self.min_spacing_m = min_spacing_m
        self.tree = cKDTree(cand_xy) if len(cand_xy) else None
        self.gains = self.inc @ self.weight

    def _row(self, i: int) -> np.ndarray:
        return self.inc.indices[self.inc.indptr[i]:self.inc.indptr[i + 1]]

    def gain(self, i: int) -> float:
        row = self._row(i)
        return float(self.weight[row][self.count[row] == 0].sum())

    def _near(self, i: int) -> np.ndarray:
        near = [i]
        if self.min_spacing_m > 0 and self.tree is not None:
            cand = np.asarray(self.tree.query_ball_point(self.xy[i], self.min_spacing_m), dtype=np.int64)
            d = np.hypot(*(self.xy[cand] - self.xy[i]).T)
            near = np.union1d(cand[d < self.min_spacing_m - EDGE_TOLERANCE_M], [i])
        return np.asarray(near, dtype=np.int64)

    def _apply(self, i: int, sign: int) -> None:
        row = self._row(i)
        before = self.count[row] == 0
        self.count[row] += sign
        changed = row[before != (self.count[row] == 0)]
        self.blocked[self._near(i)] += sign
        if len(changed):
            t = self.cells_to_cand
            affected = np.unique(np.concatenate([t.indices[t.indptr[k]:t.indptr[k + 1]] for k in changed]))
            remaining = np.where(self.count == 0, self.weight, 0.0)
            self.gains[affected] = self.inc[affected] @ remaining

    def add(self, i: int) -> None:
        self._apply(i, +1)

    def remove(self, i: int) -> None:
        self._apply(i, -1)

    def best(self) -> tuple[float, int | None]:
        g = np.where(self.blocked == 0, self.gains, -np.inf)
        if len(g) == 0 or not np.isfinite(g.max()):
            return -np.inf, None
        top = float(g.max())
        i = int(np.flatnonzero(g >= top - 1e-7 * max(1.0, abs(top)))[0])  # ties: lowest index
        return self.gain(i), i

    def top(self, n: int) -> list[tuple[float, int]]:
        """The ``n`` best allowed candidates (exact gains), best first."""
        g = np.where(self.blocked == 0, self.gains, -np.inf)
        part = np.argpartition(-g, min(n, len(g) - 1))[:n] if len(g) else []
        return sorted(((self.gain(int(i)), int(i)) for i in part if np.isfinite(g[i])), key=lambda t: -t[0])

    def covered_total(self) -> float:
        return float(self.weight[self.count > 0].sum())


def _construct(model, add: int, rng: np.random.Generator | None = None, alpha: int = 3) -> tuple[list, str]:
    """Greedy picks; with ``rng``, each pick is drawn from the ``alpha`` best (a GRASP restart)."""
    picks: list = []
    note = ""
    for _ in range(add):
        if rng is None:
            gain, site = model.best()
        else:
            options = [(g, site) for g, site in model.top(alpha) if g > 1e-9]
            gain, site = options[int(rng.integers(len(options)))] if options else model.best()
        if site is None:
            note = "no candidate left (spacing and exclusions leave none)"
            break
        if gain <= 1e-9:
            note = "no candidate adds any uncovered demand"
            break
        model.add(site)
        picks.append(site)
    return picks, note


def _improve(model, picks: list, max_passes: int = 5) -> int:
    """1-swap improvement (Teitz–Bart) in place: replace a site by the best other candidate while
    that covers more. Returns the number of swaps made."""
    swaps = 0
    for _ in range(max_passes):
        improved = False
        for k, site in enumerate(picks):
            model.remove(site)
            own = model.gain(site)
            gain, other = model.best()
            if other is not None and other != site and gain > own + 1e-6 * max(1.0, own):
                model.add(other)
                picks[k] = other
                swaps += 1
                improved = True
            else:
                model.add(site)
        if not improved:
            break
    return swaps


def _greedy(model, add: int, *, improve: bool = True, restarts: int = 0, seed: int = 0) -> tuple[list, str, int]:
    """Greedy (+ 1-swap), then ``restarts`` randomised greedy runs (+ 1-swap) from a fixed seed; the
    best run wins and stays placed in ``model``. Returns (sites, stop note, swaps of the best run)."""
    picks, note = _construct(model, add)
    swaps = _improve(model, picks) if improve else 0
    best = (model.covered_total(), list(picks), note, swaps)
    rng = np.random.default_rng(seed)
    for _ in range(restarts):
        for site in picks:
            model.remove(site)
        picks, note = _construct(model, add, rng)
        swaps = _improve(model, picks) if improve else 0
        total = model.covered_total()
        if total > best[0] * (1 + 1e-9) + 1e-9:
            best = (total, list(picks), note, swaps)
    if picks != best[1]:
        for site in picks:
            model.remove(site)
        for site in best[1]:
            model.add(site)
    return best[1], best[2], best[3]


def _rank_with(model, picks: list, *, placed: bool = True) -> list[tuple]:
    """Order chosen sites by marginal gain (greedy order within the set): [(site, gain)].

    ``placed``: the sites are currently added to ``model`` (they are taken out first).
    """
    for site in picks if placed else ():
        model.remove(site)
    left, out = list(picks), []
    while left:
        gains = [model.gain(site) for site in left]
        k = int(np.argmax(gains))  # ties: earlier pick first
        model.add(left[k])
        out.append((left.pop(k), gains[k]))
    return out


# --------------------------------------------------------------------------- exact

#: How to narrow an exact solve that is too large, in the interface's own names (``{name}``: geo.errors).
_NARROW = "use {method=greedy}, or fewer candidate sites: one {district} or a {candidates} list"


def _too_large(what: str) -> SitingError:
    return SitingError("too_large", f"{what}; {_NARROW}", parameter="method")


@dataclass(frozen=True, eq=False)
class MclpInstance:
    """The MCLP over the candidates that can add uncovered demand, as sparse matrices.

    ``cover``: demand groups × columns (CSR), 1 where the column's candidate reaches the group; ``weight``: each
    group's uncovered demand; ``columns``: the candidate index of each column; ``pairs``: column pairs closer than
    the spacing (at most one of each may open); ``cells``: demand cells with uncovered demand within reach;
    ``reaching``: candidates reaching any of them, ``dominated`` of which were dropped.
    """

    cover: Any
    weight: np.ndarray
    columns: np.ndarray
    pairs: np.ndarray
    cells: int
    reaching: int
    dominated: int

    @property
    def nonzeros(self) -> int:
        return int(self.cover.nnz + 2 * len(self.pairs))

    def gain(self, columns) -> float:
        """Demand the sites of ``columns`` reach (exactly, from the groups)."""
        reached = np.asarray(self.cover[:, np.asarray(columns, dtype=np.int64)].sum(axis=1)).ravel() > 0
        return float(self.weight[reached].sum())


def _groups(reach, weight: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Rows of ``reach`` (cells × candidates, CSR) with the same candidates merged: (a row of each group, the
    group's summed weight); rows reaching no candidate are left out."""
    first: list[int] = []
    total: list[float] = []
    seen: dict[bytes, int] = {}
    for i in range(reach.shape[0]):
        row = reach.indices[reach.indptr[i]:reach.indptr[i + 1]]
        if len(row) == 0:
            continue
        g = seen.setdefault(row.tobytes(), len(first))
        if g == len(first):
            first.append(i)
            total.append(0.0)
        total[g] += float(weight[i])
    return first, np.asarray(total, dtype="float64")


def _undominated(cover) -> np.ndarray:
    """Columns of ``cover`` whose groups are not a subset of another column's (of equal sets, the first)."""
    c = cover.T.tocsr().astype(np.int32)
    size = np.diff(c.indptr)
    both = (c @ c.T).tocoo()  # groups shared by each pair of columns
    a, b, shared = both.row, both.col, both.data
    dominated = (a != b) & (shared == size[a]) & ((size[b] > size[a]) | (b < a))
    return np.setdiff1d(np.arange(c.shape[0]), a[dominated])


def _spacing_pairs(xy: np.ndarray, min_spacing_m: float) -> np.ndarray:
    """Index pairs of points closer than ``min_spacing_m`` (EPSG:4549 metres; exactly that far apart is allowed)."""
    if min_spacing_m <= 0 or len(xy) < 2:
        return np.empty((0, 2), dtype=np.int64)
    from scipy.spatial import cKDTree

    limit = max(min_spacing_m - EDGE_TOLERANCE_M, 0.0)
    pairs = cKDTree(xy).query_pairs(limit, output_type="ndarray")
    d = np.hypot(*(xy[pairs[:, 0]] - xy[pairs[:, 1]]).T)
    return pairs[d < limit].astype(np.int64)


def mclp_instance(cand_xy: np.ndarray, cell_xy: np.ndarray, weight: np.ndarray, radius_m: float,
                  min_spacing_m: float = 0.0, *, max_nonzeros: int | None = None, incidence=None) -> MclpInstance:
    """The MCLP of choosing among ``cand_xy`` to reach the most ``weight`` at ``cell_xy`` within ``radius_m``.

    Cells reached by the same candidates are one group (no aggregation error); without a spacing rule
    dominated candidates are dropped. ``max_nonzeros``: refuse (``too_large``) a larger model, checked before
    the dominance test too (which is quadratic in the overlap of candidates). ``incidence``: candidates × cells
    (CSR over ``cell_xy``) instead of the straight-line discs of ``radius_m`` (the routes of land/network).
    """
    from scipy import sparse

    live = np.flatnonzero(np.asarray(weight) > 0)
    inc = _incidence(cand_xy, cell_xy[live], radius_m) if incidence is None else incidence[:, live]
    reach = inc.T.tocsr()  # cells × candidates
    first, total = _groups(reach, np.asarray(weight, dtype="float64")[live])
    cover = reach[first] if first else sparse.csr_matrix((0, len(cand_xy)))
    columns = np.flatnonzero(np.diff(cover.tocsc().indptr) > 0)
    cover = cover[:, columns]
    if max_nonzeros is not None and cover.nnz > 2 * max_nonzeros:
        raise _too_large(f"the exact model would have {len(first):,} demand groups × {len(columns):,} candidate "
                         f"sites, {cover.nnz:,} non-zeros (the limit is {max_nonzeros:,})")
    reaching, dominated = len(columns), 0
    if min_spacing_m <= 0 and len(columns) > 1:
        keep = _undominated(cover)
        dominated = len(columns) - len(keep)
        cover, columns = cover[:, keep], columns[keep]
    pairs = _spacing_pairs(cand_xy[columns], min_spacing_m)
    cells = int(np.count_nonzero(np.diff(reach.indptr)))
    return MclpInstance(cover.tocsr(), total, columns, pairs, cells, reaching, dominated)


def solve_mclp(inst: MclpInstance, add: int, *, time_limit_s: float = EXACT_TIME_LIMIT_S) -> dict:
    """Open exactly min(``add``, columns) of ``inst``'s candidates to reach the most demand: HiGHS through
    ``scipy.optimize.milp`` on the sparse model (relative gap 0).

    Returns ``chosen`` (candidate indices, None if the solver found no plan), ``status`` (``optimal``,
    ``time_limit``, ``infeasible`` or the solver's message), ``objective`` (None without a plan), ``bound`` (the
    proven upper bound on the demand reached) and ``solve_s``.
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    n_g, n_c = inst.cover.shape
    k = min(add, n_c)
    link = sparse.hstack([-inst.cover, sparse.identity(n_g, format="csr")], format="csr")  # y_g - Σ x_j ≤ 0
    count = sparse.csr_matrix(np.r_[np.ones(n_c), np.zeros(n_g)][None, :])  # Σ x_j = k
    rows = [LinearConstraint(link, -np.inf, 0.0), LinearConstraint(count, k, k)]
    m = len(inst.pairs)
    if m:  # x_a + x_b ≤ 1
        apart = sparse.csr_matrix((np.ones(2 * m), (np.repeat(np.arange(m), 2), inst.pairs.ravel())),
                                  shape=(m, n_c + n_g))
        rows.append(LinearConstraint(apart, -np.inf, 1.0))
    started = time.perf_counter()
    res = milp(np.r_[np.zeros(n_c), -inst.weight], constraints=rows, integrality=np.r_[np.ones(n_c), np.zeros(n_g)],
               bounds=Bounds(0.0, 1.0), options={"time_limit": float(time_limit_s), "mip_rel_gap": 0.0})
    solve_s = time.perf_counter() - started
    status = {0: "optimal", 1: "time_limit", 2: "infeasible"}.get(res.status, str(res.message))
    chosen = None if res.x is None else inst.columns[np.flatnonzero(res.x[:n_c] > 0.5)]
    bound = getattr(res, "mip_dual_bound", None)
    return {"chosen": chosen, "status": status, "objective": None if res.x is None else float(-res.fun),
            "bound": None if bound is None or not np.isfinite(bound) else float(-bound), "solve_s": solve_s}


def _route_incidence(cov: Coverage, cand_xy: np.ndarray, live: np.ndarray):
    """CSR candidates × ``live`` cells: 1 where the cell's route to the candidate (the threshold's land or network
    model) is within the threshold (bounded searches, one per candidate: ``geo.coverage.route_pairs``)."""
    from scipy import sparse

    t = cov.threshold
    site, cell, path_m, minutes = route_pairs(cov.prepared, cand_xy[:, 0], cand_xy[:, 1], t, cells=live)
    keep = t.within(path_m, minutes)
    col = np.searchsorted(live, cell[keep])
    return sparse.csr_matrix((np.ones(len(col)), (site[keep], col)), shape=(len(cand_xy), len(live)))


def _screen_routed(cov: Coverage, cand_xy: np.ndarray, cand_cells: np.ndarray | None, weight: np.ndarray,
                   limit: int = MAX_ROUTED_CANDIDATES) -> np.ndarray:
    """The candidates a routed greedy looks at (indices, sorted): all, or the ``limit`` whose straight-line reach of
    the threshold's time holds the most uncovered demand (an upper bound of what their routes reach)."""
    if len(cand_xy) <= limit:
        return np.arange(len(cand_xy))
    t = cov.threshold
    reach_m = t.straight_reach_m(t.limit_minutes())
    if cand_cells is not None:  # grid cells: the demand raster convolved with the reach's disc (one FFT)
        p = cov.prepared
        bound = _GridModel(p, weight, cand_cells, reach_m, 0.0).gains[p.row[cand_cells], p.col[cand_cells]]
    else:
        g = cov.prepared.grid
        live = np.flatnonzero(weight > 0)
        bound = _incidence(cand_xy, np.column_stack([g.x[live], g.y[live]]), reach_m) @ weight[live]
    best = np.argsort(-np.asarray(bound), kind="stable")[:limit]
    return np.sort(best)


def _exact(cov: Coverage, cand_xy, weight, add, min_spacing_m, time_limit_s, improve, restarts):
    """The exact solve over every candidate that adds demand; greedy on the same instance beside it (and
    instead of it, if the solver stops at the time limit with less)."""
    if len(cand_xy) > MAX_EXACT_CANDIDATES:  # hopeless: say so before building anything
        raise _too_large(f"{len(cand_xy):,} candidate sites; the exact solve takes at most {MAX_EXACT_CANDIDATES:,}")
    if cov.threshold.routed and len(cand_xy) > MAX_ROUTED_EXACT_CANDIDATES:
        raise _too_large(f"{len(cand_xy):,} candidate sites; by route ({cov.threshold.model}) the exact solve takes "
                         f"at most {MAX_ROUTED_EXACT_CANDIDATES:,}")
    g = cov.prepared.grid
    live = np.flatnonzero(weight > 0)
    cell_xy = np.column_stack([g.x[live], g.y[live]])
    started = time.perf_counter()
    inc = _route_incidence(cov, cand_xy, live) if cov.threshold.routed else None
    inst = mclp_instance(cand_xy, cell_xy, weight[live], cov.radius_m, min_spacing_m, max_nonzeros=MAX_EXACT_NONZEROS,
                         incidence=inc)
    if len(inst.columns) == 0:
        raise SitingError("no_candidates", "no candidate adds any uncovered demand", parameter="candidates")
    if inst.nonzeros > MAX_EXACT_NONZEROS:
        raise _too_large(f"the exact model would have {inst.cover.shape[0]:,} demand groups × {len(inst.columns):,} "
                         f"candidate sites, {inst.nonzeros:,} non-zeros (the limit is {MAX_EXACT_NONZEROS:,})")
    built = time.perf_counter() - started
    sol = solve_mclp(inst, add, time_limit_s=time_limit_s)
    k = min(add, len(inst.columns))
    if sol["status"] == "infeasible":
        raise SitingError("infeasible", f"no way to place {k} new sites at least {min_spacing_m:g} m apart among "
                          f"the {len(inst.columns):,} candidates that add demand (the exact model is infeasible); "
                          "lower {add} or {min_spacing_m}", parameter="add")
    model = _ListModel(cand_xy, cell_xy, weight[live], cov.radius_m, min_spacing_m, incidence=inc)
    greedy_sites, _, _ = _greedy(model, add, improve=improve, restarts=restarts)
    greedy_gain = model.covered_total()
    for site in greedy_sites:
        model.remove(site)
    optimal = sol["status"] == "optimal"
    solver_gain = None if sol["chosen"] is None else inst.gain(np.searchsorted(inst.columns, sol["chosen"]))
    if solver_gain is None and not optimal and sol["status"] != "time_limit":
        raise SitingError("solver", f"the solver stopped without a plan ({sol['status']}); {_NARROW}",
                          parameter="method")
    use_greedy = solver_gain is None or (not optimal and greedy_gain > solver_gain)
    picks = list(greedy_sites) if use_greedy else [int(i) for i in sol["chosen"]]
    gain = greedy_gain if use_greedy else solver_gain
    ranked = _rank_with(model, picks, placed=False)
    bound = sol["bound"] if not optimal else solver_gain
    info = {"status": sol["status"], "optimal": optimal, "solver": "HiGHS (scipy.optimize.milp)",
            "gain": round(gain, 1), "objective": round(gain, 1), "bound": None if bound is None else round(bound, 1),
            "gap_pct": None if bound is None or bound <= 0 else round(max(bound - gain, 0.0) / bound * 100, 3),
            "plan_from": "greedy" if use_greedy else "solver", "demand_cells": inst.cells,
            "demand_groups": int(inst.cover.shape[0]), "candidates": int(len(inst.columns)),
            "dominated_candidates": inst.dominated, "spacing_pairs": int(len(inst.pairs)),
            "nonzeros": inst.nonzeros,
            "aggregation": "demand cells reached by the same candidate sites merged into one group",
            "aggregation_error": 0.0, "build_s": round(built, 3), "solve_s": round(sol["solve_s"], 3),
            "greedy_gain": round(greedy_gain, 1),
            "greedy_ratio": None if gain <= 0 else round(greedy_gain / gain, 5)}
    return ranked, info


# --------------------------------------------------------------------------- plan


def plan_sites(cov: Coverage, *, add: int, demand: str = "workers", min_spacing_m: float = 0.0, exclude=None,
               candidates: np.ndarray | None = None, district: str | None = None, method: str = "greedy",
               improve: bool = True, restarts: int | None = None, time_limit_s: float = EXACT_TIME_LIMIT_S) -> Plan:
    """Place ``add`` new sites on top of ``cov``'s facilities, maximising newly covered ``demand``.

    ``exclude``: a shapely (multi)polygon in WGS84 where no site may go (edges excluded too).
    ``candidates``: (n, 2) WGS84 lon/lat points to choose from (default: every land cell of the
    grid, at its centre). ``district``: only that district's demand and candidate cells count.
    ``method``: ``greedy`` or ``exact`` (a MILP solved by HiGHS; up to district scale, else :class:`SitingError`).
    ``improve``: follow greedy with the 1-swap improvement (default). ``restarts``: randomised
    greedy runs after the first (fixed seed, so plans are reproducible); default
    :data:`RESTARTS_SMALL` for up to :data:`SMALL_INSTANCE` candidates, else :data:`RESTARTS_LARGE`.
    """
    _check_args(add, demand, min_spacing_m, method)
    p = cov.prepared
    g = p.grid
    mask = p.cell_mask(district)
    scope = np.ones(len(g), dtype=bool) if mask is None else mask
    values = p.demand(demand)
    total = float(values[scope].sum())
    covered_before = float(values[scope & cov.covered].sum())
    weight = np.where(scope & ~cov.covered, values, 0.0)
    existing = np.column_stack([cov.sites.x, cov.sites.y])
    notes: list[str] = []

    if candidates is None:
        cand_cells = np.flatnonzero(scope)
        lon, lat = g.lon[cand_cells], g.lat[cand_cells]
        bad = _in_exclusion(exclude, lon, lat)
        bad |= _covered_by(existing, g.x[cand_cells], g.y[cand_cells], min_spacing_m)
        cand_cells = cand_cells[~bad]
        cand_x, cand_y = g.x[cand_cells], g.y[cand_cells]
        cand_lon, cand_lat = g.lon[cand_cells], g.lat[cand_cells]
        cand_code = p.code[cand_cells]
    else:
        pts = np.asarray(candidates, dtype="float64").reshape(-1, 2)
        if len(pts) > MAX_CANDIDATES:
            raise ParameterError("candidates", f"{len(pts)} points", f"at most {MAX_CANDIDATES} points")
        x, y = to_metric(pts[:, 0], pts[:, 1])
        x, y = np.atleast_1d(np.asarray(x)), np.atleast_1d(np.asarray(y))
        excluded = _in_exclusion(exclude, pts[:, 0], pts[:, 1])
        crowded = _covered_by(existing, x, y, min_spacing_m)
        ok = ~excluded & ~crowded
        if excluded.any():
            notes.append(f"{int(excluded.sum())} candidates lie in the excluded area and were dropped")
        if crowded.any():
            notes.append(f"{int(crowded.sum())} candidates are closer than {min_spacing_m:g} m to an existing "
                         "site and were dropped")
        cand_cells = None
        cand_x, cand_y, cand_lon, cand_lat = x[ok], y[ok], pts[ok, 0], pts[ok, 1]
        cell = p.locate_cells(cand_x, cand_y)
        if (cell < 0).any():
            from scipy.spatial import cKDTree

            _, nearest = cKDTree(np.column_stack([g.x, g.y])).query(
                np.column_stack([cand_x[cell < 0], cand_y[cell < 0]]), k=1)
            cell[cell < 0] = nearest
        cand_code = p.code[cell]
    n_cand = len(cand_x)
    if n_cand == 0:
        raise SitingError("no_candidates", "no candidate site is left after the excluded area ({exclude}) and the "
                          f"{min_spacing_m:g} m spacing to existing sites ({{min_spacing_m}})", parameter="candidates")

    exact_info = None
    swaps = 0
    if restarts is None:
        restarts = RESTARTS_SMALL if n_cand <= SMALL_INSTANCE else RESTARTS_LARGE
    cand_xy = np.column_stack([cand_x, cand_y])
    if method == "exact":
        picks, exact_info = _exact(cov, cand_xy, weight, add, min_spacing_m, time_limit_s, improve, restarts)
        if len(picks) < add:
            notes.append(f"the exact solve placed {len(picks)} of {add}: more sites add no uncovered demand")
    elif cov.threshold.routed:  # catchments by route: a list model over the (screened) candidates
        screen = _screen_routed(cov, cand_xy, cand_cells, weight)
        if len(screen) < n_cand:
            notes.append(f"by route ({cov.threshold.model}): the {len(screen):,} of {n_cand:,} candidates whose "
                         "straight-line reach holds the most uncovered demand were routed")
        live = np.flatnonzero(weight > 0)
        model = _ListModel(cand_xy[screen], np.column_stack([g.x[live], g.y[live]]), weight[live], cov.radius_m,
                           min_spacing_m, incidence=_route_incidence(cov, cand_xy[screen], live))
        chosen, note, swaps = _greedy(model, add, improve=improve, restarts=restarts)
        picks = [(int(screen[i]), gain) for i, gain in _rank_with(model, chosen)]
        if note:
            notes.append(f"placed {len(picks)} of {add} sites: {note}")
    else:
        if cand_cells is not None:
            model = _GridModel(p, weight, cand_cells, cov.radius_m, min_spacing_m)
            chosen, note, swaps = _greedy(model, add, improve=improve, restarts=restarts)
            ranked = _rank_with(model, chosen)
            pos = np.searchsorted(cand_cells, [model.cell(site) for site, _ in ranked])
            picks = [(int(k), gain) for k, (_, gain) in zip(pos, ranked, strict=True)]
        else:
            live = np.flatnonzero(weight > 0)
            model = _ListModel(cand_xy, np.column_stack([g.x[live], g.y[live]]), weight[live], cov.radius_m,
                               min_spacing_m)
            chosen, note, swaps = _greedy(model, add, improve=improve, restarts=restarts)
            picks = _rank_with(model, chosen)
        if note:
            notes.append(f"placed {len(picks)} of {add} sites: {note}")

    sites, curve = [], [{"sites": 0, "gain": 0.0, "covered": round(covered_before, 1),
                         "pct": _pct(covered_before, total)}]
    running = covered_before
    for rank, (i, gain) in enumerate(picks, start=1):
        running += gain
        code = int(cand_code[i])
        lon, lat = float(cand_lon[i]), float(cand_lat[i])
        if cand_cells is not None:  # cell centres come from the grid; recompute for exactness
            lon, lat = (float(v) for v in to_lonlat(cand_x[i], cand_y[i]))
        # full precision: a site on a cell centre covers cells exactly threshold_m away, and a rounded
        # lon/lat (1e-6° ≈ 0.1 m) would move it off them when the plan is checked or re-used
        sites.append({"rank": rank, "lon": lon, "lat": lat, "adcode": p.adcodes[code],
                      "district": p.names[code], "marginal_gain": round(gain, 1),
                      "cumulative_covered": round(running, 1), "cumulative_pct": _pct(running, total),
                      "x_m": float(cand_x[i]), "y_m": float(cand_y[i])})
        curve.append({"sites": rank, "gain": round(gain, 1), "covered": round(running, 1), "pct": _pct(running, total)})
    return Plan(sites, curve, demand, round(total, 1), round(covered_before, 1), add, method, n_cand,
                round(cov.radius_m, 2), float(min_spacing_m), district, notes, exact_info, swaps)


def _pct(part: float, whole: float) -> float | None:
    return None if whole <= 0 else round(100.0 * part / whole, 3)
