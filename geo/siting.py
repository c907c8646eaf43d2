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

Exact (small instances)
    PySAL spopt's ``MCLP.from_cost_matrix`` with the existing facilities as
    ``predefined_facilities_arr``, pairwise spacing constraints added to its PuLP model, solved by
    HiGHS (``highspy``) or CBC. Demand cells covered by the same set of sites are merged first, and
    all cells the existing sites already cover form one group (same optimum, smaller model). Too
    large an instance or an infeasible one raises :class:`SitingError` saying why.

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

import contextlib
import math
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import shapely

from geo.coverage import EDGE_TOLERANCE_M, Coverage, ParameterError
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

__all__ = ["EXACT_TIME_LIMIT_S", "MAX_ADD", "MAX_CANDIDATES", "MAX_EXACT_TERMS", "METHODS", "Plan", "SitingError",
           "plan_sites"]

#: Largest exact model: merged demand groups × sites (spopt builds a dense PuLP model).
MAX_EXACT_TERMS = 400_000
MAX_EXACT_CANDIDATES = 3_000
#: Randomised greedy restarts: many on small instances (cheap, and where greedy errs most), few on
#: city-wide ones (each costs about as much as the first run).
RESTARTS_SMALL = 10
RESTARTS_LARGE = 2
SMALL_INSTANCE = 20_000


class SitingError(Unprocessable, ValueError):
    """The plan cannot be made as asked (too large for the exact solver, infeasible, nothing to place): a 422.

    ``reason`` is a short code (``too_large``, ``infeasible``, ``no_candidates``, ``solver``); the error
    code is ``plan_<reason>``.
    """

    def __init__(self, reason: str, message: str, parameter: str | None = None):
        super().__init__(message, parameter=parameter, code=f"plan_{reason}")
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
                 min_spacing_m: float):
        from scipy.spatial import cKDTree

        self.inc = _incidence(cand_xy, cell_xy, radius_m)
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


_BANNER_LOCK = threading.Lock()
_banner_done = False


def _silence_highs_banner() -> None:
    """HiGHS prints a copyright banner on stdout (from C, ignoring msg=False) when the first solver
    object of the process is made: make that one with stdout pointed at /dev/null."""
    global _banner_done
    with _BANNER_LOCK:
        if _banner_done:
            return
        import highspy

        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 1)
                highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _banner_done = True


def _solver(time_limit_s: float):
    import pulp

    highs = pulp.HiGHS(msg=False, timeLimit=time_limit_s)
    if highs.available():
        with contextlib.suppress(ImportError, OSError):  # cosmetic only
            _silence_highs_banner()
        return highs, "HiGHS (highspy) via PuLP"
    cbc = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s)
    if cbc.available():
        return cbc, "CBC via PuLP"
    raise SitingError("solver", "no MILP solver available: pip install highspy (or pulp with its bundled CBC)")


def exact_mclp(cand_xy: np.ndarray, cell_xy: np.ndarray, weight: np.ndarray, existing_site: np.ndarray,
               radius_m: float, add: int, min_spacing_m: float = 0.0, *,
               time_limit_s: float = EXACT_TIME_LIMIT_S) -> dict:
    """Solve the MCLP exactly with spopt: choose ``add`` of ``cand_xy`` on top of the existing sites.

    ``weight``: demand at ``cell_xy``; ``existing_site``: for each cell, an existing site covering
    it (any id ≥ 0) or -1. The existing sites are predefined (always open) columns of the model,
    so the cells they cover stay covered. Returns ``{"chosen": candidate indices, "gain": newly
    covered demand, ...}``.
    """
    try:
        import pulp
        from spopt.locate import MCLP
    except ImportError as exc:  # pragma: no cover - both are dependencies
        raise SitingError("solver", f"the exact solve needs spopt and pulp: pip install spopt pulp highspy "
                          f"({exc})") from None
    with contextlib.suppress(ImportError):  # spopt builds its models with the PuLP 3 API, which PuLP >= 3.3
        from pulp.v4_migration import set_v4_migration_warnings  # flags on every variable: not ours to fix

        set_v4_migration_warnings(False)
    from scipy.spatial import cKDTree

    started = time.perf_counter()
    n_c = len(cand_xy)
    site_ids, site_col = np.unique(existing_site[existing_site >= 0], return_inverse=True)
    n_e = len(site_ids)
    existing_col = np.full(len(cell_xy), -1, dtype=np.int64)
    existing_col[existing_site >= 0] = site_col
    inc = _incidence(cand_xy, cell_xy, radius_m).T.tocsr()  # cells × candidates
    # demand groups: cells covered by the same sites merge (same optimum, far fewer rows). Cells the
    # fixed existing sites cover are covered whatever is chosen: they form one group, covered by all
    # existing columns.
    groups: dict[tuple, float] = {}
    fixed = tuple(range(n_e))
    for i in np.flatnonzero(weight > 0):
        row = inc.indices[inc.indptr[i]:inc.indptr[i + 1]] + n_e
        key = fixed if existing_col[i] >= 0 else tuple(row.tolist())
        if key:
            groups[key] = groups.get(key, 0.0) + float(weight[i])
    n_cols = n_e + n_c
    terms = len(groups) * n_cols
    if n_c > MAX_EXACT_CANDIDATES or terms > MAX_EXACT_TERMS:
        raise SitingError("too_large", f"the exact model would have {len(groups)} demand groups × {n_cols} sites = "
                          f"{terms:,} terms ({n_c} candidates); the limit is {MAX_EXACT_TERMS:,} terms and "
                          f"{MAX_EXACT_CANDIDATES} candidates. Use method=greedy, or fewer candidates (a candidate "
                          "list, a district, a larger min_spacing_m)", parameter="method")
    k = min(add, n_c)
    if k < 1:
        raise SitingError("no_candidates", "no candidate site is left after spacing and exclusions",
                          parameter="candidates")
    keys = list(groups)
    w = np.array([groups[key] for key in keys])
    cost = np.full((len(keys), n_cols), 2.0)  # 0 = covered, 2 = not (service radius 1)
    for r, key in enumerate(keys):
        cost[r, list(key)] = 0.0
    predefined = np.r_[np.ones(n_e, dtype=int), np.zeros(n_c, dtype=int)]
    model = MCLP.from_cost_matrix(cost, w, service_radius=1.0, p_facilities=n_e + k,
                                  predefined_facilities_arr=predefined if n_e else None, name="workermap_mclp")
    if min_spacing_m > 0 and n_c > 1:
        for a, b in cKDTree(cand_xy).query_pairs(max(min_spacing_m - EDGE_TOLERANCE_M, 0.0)):
            if np.hypot(*(cand_xy[a] - cand_xy[b])) < min_spacing_m - EDGE_TOLERANCE_M:
                model.problem += model.fac_vars[n_e + a] + model.fac_vars[n_e + b] <= 1
    solver, solver_name = _solver(time_limit_s)
    built = time.perf_counter()
    model.problem.solve(solver)
    status = pulp.LpStatus[model.problem.status]
    values = np.array([v.value() if v.value() is not None else 0.0 for v in model.fac_vars])
    if status == "Infeasible":
        raise SitingError("infeasible", f"no way to place {k} new sites at least {min_spacing_m:g} m apart "
                          f"among the {n_c} candidates (the exact model is infeasible); lower add or "
                          "min_spacing_m", parameter="add")
    if status != "Optimal" and not (values[n_e:] > 0.5).any():
        raise SitingError("solver", f"the solver stopped without a solution (status {status}, time limit "
                          f"{time_limit_s:g} s); use method=greedy or a smaller instance", parameter="method")
    chosen = np.flatnonzero(values[n_e:] > 0.5)
    base = groups.get(fixed, 0.0) if n_e else 0.0
    objective = float(pulp.value(model.problem.objective) or 0.0)
    return {"chosen": chosen.tolist(), "gain": objective - base, "objective": objective, "status": status,
            "optimal": status == "Optimal", "solver": solver_name, "demand_groups": len(keys),
            "existing_sites": n_e, "candidates": n_c, "build_s": round(built - started, 3),
            "solve_s": round(time.perf_counter() - built, 3)}


def _exact(cov: Coverage, cand_xy, values, weight, scope, add, min_spacing_m, time_limit_s, improve, restarts):
    """The exact solve on the candidates that add any demand; also runs greedy there for comparison."""
    if len(cand_xy) > 30 * MAX_EXACT_CANDIDATES:  # hopeless: say so before building anything
        raise SitingError("too_large", f"{len(cand_xy):,} candidate sites; the exact solve takes at most "
                          f"{MAX_EXACT_CANDIDATES:,} that add demand. Use method=greedy, or pass a candidate list, a "
                          "district or a larger min_spacing_m", parameter="method")
    g = cov.prepared.grid
    live = np.flatnonzero(weight > 0)
    inc = _incidence(cand_xy, np.column_stack([g.x[live], g.y[live]]), cov.radius_m)
    useful = np.flatnonzero(inc @ weight[live] > 0)
    if len(useful) == 0:
        raise SitingError("no_candidates", "no candidate adds any uncovered demand", parameter="candidates")
    if len(useful) > MAX_EXACT_CANDIDATES:
        raise SitingError("too_large", f"{len(useful):,} candidates add some uncovered demand; the exact solve takes "
                          f"at most {MAX_EXACT_CANDIDATES:,}. Use method=greedy, or pass a candidate list, a district "
                          "or a larger min_spacing_m", parameter="method")
    cells = np.flatnonzero(scope & (values > 0))
    cell_xy = np.column_stack([g.x[cells], g.y[cells]])
    near = np.unique(_incidence(cand_xy[useful], cell_xy, cov.radius_m).indices)  # demand within reach
    existing_site = np.where(cov.covered[cells[near]], cov.site[cells[near]], -1)
    sol = exact_mclp(cand_xy[useful], cell_xy[near], values[cells[near]], existing_site, cov.radius_m, add,
                     min_spacing_m, time_limit_s=time_limit_s)
    model = _ListModel(cand_xy[useful], np.column_stack([g.x[live], g.y[live]]), weight[live], cov.radius_m,
                       min_spacing_m)
    greedy_sites, _, _ = _greedy(model, add, improve=improve, restarts=restarts)
    greedy_gain = float(np.where(model.count > 0, model.weight, 0.0).sum())
    for site in greedy_sites:
        model.remove(site)
    ranked = _rank_with(model, [int(i) for i in sol["chosen"]], placed=False)
    picks = [(int(useful[i]), gain) for i, gain in ranked]
    info = {k: v for k, v in sol.items() if k != "chosen"}
    info.update(gain=round(sol["gain"], 1), objective=round(sol["objective"], 1), greedy_gain=round(greedy_gain, 1),
                greedy_ratio=None if sol["gain"] <= 0 else round(greedy_gain / sol["gain"], 5))
    return picks, info


# --------------------------------------------------------------------------- plan


def plan_sites(cov: Coverage, *, add: int, demand: str = "workers", min_spacing_m: float = 0.0, exclude=None,
               candidates: np.ndarray | None = None, district: str | None = None, method: str = "greedy",
               improve: bool = True, restarts: int | None = None, time_limit_s: float = EXACT_TIME_LIMIT_S) -> Plan:
    """Place ``add`` new sites on top of ``cov``'s facilities, maximising newly covered ``demand``.

    ``exclude``: a shapely (multi)polygon in WGS84 where no site may go (edges excluded too).
    ``candidates``: (n, 2) WGS84 lon/lat points to choose from (default: every land cell of the
    grid, at its centre). ``district``: only that district's demand and candidate cells count.
    ``method``: ``greedy`` or ``exact`` (spopt; small instances only, else :class:`SitingError`).
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
        raise SitingError("no_candidates", "no candidate site is left after the exclusions and the "
                          f"{min_spacing_m:g} m spacing to existing sites", parameter="candidates")

    exact_info = None
    swaps = 0
    if restarts is None:
        restarts = RESTARTS_SMALL if n_cand <= SMALL_INSTANCE else RESTARTS_LARGE
    cand_xy = np.column_stack([cand_x, cand_y])
    if method == "exact":
        picks, exact_info = _exact(cov, cand_xy, values, weight, scope, add, min_spacing_m, time_limit_s, improve,
                                   restarts)
        if len(picks) < add:
            notes.append(f"only {len(picks)} candidates add uncovered demand; the exact solve placed {len(picks)}")
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
