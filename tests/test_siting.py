"""New-site planning: greedy against the exact MCLP optimum (HiGHS; checked against spopt in
tests/test_siting_exact.py), and the plan's promises checked independently."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely

from geo.coverage import FacilityFilter, ParameterError, PreparedGrid, Sites, Threshold, compute_coverage, whatif
from geo.crs import to_lonlat, to_metric
from geo.nearest import FacilityIndex
from geo.siting import SitingError, plan_sites
from tests.conftest import make_facility
from tests.test_coverage import NAMES, _shipped, small_grid


def instance(seed: int, nx: int = 16, ny: int = 16, existing: int = 3):
    """A small planning instance: grid, prepared grid, index with ``existing`` stations, coverage."""
    grid = small_grid(nx, ny, seed=seed)
    rng = np.random.default_rng(seed)
    cells = rng.choice(len(grid), existing, replace=False)
    index = FacilityIndex([make_facility(k, lon=float(grid.lon[c]), lat=float(grid.lat[c]))
                           for k, c in enumerate(cells)])
    prepared = PreparedGrid(grid, NAMES)
    radius = float(rng.choice([230.0, 300.0, 360.0]))
    return grid, prepared, index, compute_coverage(prepared, index, Threshold.metres(radius))


def newly_covered(cov, sites: list[dict], demand: str = "workers") -> float:
    """Independent check: coverage recomputed with the planned sites added (the what-if engine)."""
    pts = [(s["lon"], s["lat"]) for s in sites]
    w = whatif(cov.prepared, cov.sites.index, cov.threshold, FacilityFilter(), add=pts, today=cov)
    key = "covered_workers" if demand == "workers" else "covered_residents"
    return w.scenario.city_row()[key] - w.today.city_row()[key]


# --------------------------------------------------------------------------- quality vs the exact optimum


@pytest.mark.parametrize("seed, add, spacing", [(1, 3, 0.0), (2, 5, 0.0), (3, 4, 250.0), (4, 6, 0.0), (5, 5, 300.0)])
def test_greedy_is_within_2_percent_of_the_exact_optimum_and_never_above(seed, add, spacing):
    _, _, _, cov = instance(seed)
    exact = plan_sites(cov, add=add, min_spacing_m=spacing, method="exact")
    greedy = plan_sites(cov, add=add, min_spacing_m=spacing)
    assert exact.exact["optimal"] and exact.exact["solver"]
    opt = exact.exact["gain"]
    assert exact.added_gain == pytest.approx(opt, abs=0.05)  # the ranked sites add up to the optimum
    assert greedy.added_gain <= opt + 1e-6, "greedy above the optimum: a bug"
    assert greedy.added_gain >= 0.98 * opt
    assert exact.exact["greedy_gain"] <= opt + 1e-6


@pytest.mark.parametrize("add", [3, 5])
def test_greedy_vs_exact_on_the_shipped_grid(add):
    prepared, index = _shipped()
    cov = compute_coverage(prepared, index, Threshold.minutes_by(15, "walk"))
    exact = plan_sites(cov, add=add, district="市南区", method="exact")
    greedy = plan_sites(cov, add=add, district="市南区")
    assert 0.98 * exact.exact["gain"] <= greedy.added_gain <= exact.exact["gain"] + 1e-6


# --------------------------------------------------------------------------- what a plan promises


def test_marginal_gains_are_real_ranked_and_cumulative():
    _, prepared, _, cov = instance(7, 20, 20)
    plan = plan_sites(cov, add=6, demand="workers", min_spacing_m=200)
    gains = [s["marginal_gain"] for s in plan.sites]
    assert gains == sorted(gains, reverse=True) and gains[-1] > 0
    assert plan.covered_before == pytest.approx(cov.city_row()["covered_workers"], abs=0.05)
    running = plan.covered_before + np.cumsum(gains)
    assert [s["cumulative_covered"] for s in plan.sites] == pytest.approx(list(running), abs=0.2)
    assert plan.curve[0]["covered"] == plan.covered_before and len(plan.curve) == 7
    assert plan.sites[-1]["cumulative_pct"] == pytest.approx(100 * running[-1] / plan.total_demand, abs=0.001)
    assert newly_covered(cov, plan.sites) == pytest.approx(plan.added_gain, abs=0.2)
    # each site's own gain, recomputed one at a time in rank order
    for k in range(1, len(plan.sites) + 1):
        assert newly_covered(cov, plan.sites[:k]) == pytest.approx(sum(gains[:k]), abs=0.2)


def test_spacing_to_existing_and_new_sites_is_respected():
    _, _, index, cov = instance(8, 20, 20, existing=4)
    plan = plan_sites(cov, add=8, min_spacing_m=400)
    xy = np.array([[s["x_m"], s["y_m"]] for s in plan.sites])
    for a, b in itertools.combinations(range(len(xy)), 2):
        assert np.hypot(*(xy[a] - xy[b])) >= 400 - 1e-6
    for x, y in xy:
        assert np.hypot(index.x - x, index.y - y).min() >= 400 - 1e-6


def test_exclusion_polygon_and_residents_demand():
    grid, _, _, cov = instance(9)
    free = plan_sites(cov, add=3, demand="residents")
    first = free.sites[0]
    zone = shapely.Point(first["lon"], first["lat"]).buffer(0.004)  # ~400 m around the best free site
    plan = plan_sites(cov, add=3, demand="residents", exclude=zone)
    assert not any(zone.intersects(shapely.Point(s["lon"], s["lat"])) for s in plan.sites)
    assert plan.added_gain <= free.added_gain + 1e-6
    assert newly_covered(cov, plan.sites, "residents") == pytest.approx(plan.added_gain, abs=0.2)


def test_grid_candidates_and_the_same_cells_as_a_list_agree():
    grid, _, _, cov = instance(10, 18, 18)
    on_grid = plan_sites(cov, add=5, min_spacing_m=200, restarts=0)
    listed = plan_sites(cov, add=5, min_spacing_m=200, restarts=0, candidates=np.column_stack([grid.lon, grid.lat]))
    assert [s["marginal_gain"] for s in on_grid.sites] == pytest.approx([s["marginal_gain"] for s in listed.sites],
                                                                        abs=1e-6)
    a = np.array([(s["x_m"], s["y_m"]) for s in on_grid.sites])
    b = np.array([(s["x_m"], s["y_m"]) for s in listed.sites])
    assert np.allclose(a, b, atol=0.01)


def test_listed_candidates_only_and_the_exact_solve_on_them():
    grid, _, index, cov = instance(11)
    rng = np.random.default_rng(11)
    x = rng.uniform(grid.x.min(), grid.x.max(), 60)
    y = rng.uniform(grid.y.min(), grid.y.max(), 60)
    lon, lat = to_lonlat(x, y)
    cands = np.column_stack([lon, lat])
    plan = plan_sites(cov, add=4, candidates=cands)
    exact = plan_sites(cov, add=4, candidates=cands, method="exact")
    chosen = {(round(s["lon"], 6), round(s["lat"], 6)) for s in plan.sites}
    assert chosen <= {(round(a, 6), round(b, 6)) for a, b in cands}
    assert plan.added_gain <= exact.exact["gain"] + 1e-6
    assert plan.added_gain >= 0.98 * exact.exact["gain"]


def test_fewer_sites_than_asked_are_explained():
    grid = small_grid(6, 6)
    prepared = PreparedGrid(grid, NAMES)
    index = FacilityIndex([make_facility(1, lon=float(grid.lon[14]), lat=float(grid.lat[14]))])
    cov = compute_coverage(prepared, index, Threshold.metres(250))
    plan = plan_sites(cov, add=50)
    assert 0 < len(plan.sites) < 50
    assert plan.notes and "no candidate adds any uncovered demand" in plan.notes[0]
    assert plan.sites[-1]["cumulative_pct"] == pytest.approx(100.0, abs=0.001)


def test_exact_says_why_when_it_cannot_solve():
    prepared, index = _shipped()
    cov = compute_coverage(prepared, index, Threshold.minutes_by(15, "walk"))
    with pytest.raises(SitingError) as e:
        plan_sites(cov, add=3, method="exact")
    assert e.value.reason == "too_large" and "method=greedy" in str(e.value)
    _, _, _, small = instance(12)
    with pytest.raises(SitingError) as e:
        plan_sites(small, add=30, min_spacing_m=900, method="exact")
    assert e.value.reason == "infeasible" and "900 m" in str(e.value)


def test_bad_arguments_name_the_parameter():
    _, _, _, cov = instance(13, 6, 6)
    for kwargs, name in (({"add": 0}, "add"), ({"add": 2, "demand": "cats"}, "demand"),
                         ({"add": 2, "method": "magic"}, "method"), ({"add": 2, "min_spacing_m": -1}, "min_spacing_m"),
                         ({"add": 2, "district": "Atlantis"}, "district")):
        with pytest.raises(ParameterError) as e:
            plan_sites(cov, **kwargs)
        assert e.value.parameter == name


def test_sites_helper_keeps_added_points_after_registry_sites():
    grid, _, index, _ = instance(14, 6, 6)
    s = Sites(index, np.arange(len(index)), np.array([120.38]), np.array([36.06]), ("新址",))
    assert len(s) == len(index) + 1
    assert s.describe(len(index)) == {"id": "new-1", "name": "新址", "kind": "planned", "district": "",
                                      "added": True}
    x, _ = to_metric(120.38, 36.06)
    assert s.x[-1] == pytest.approx(x)
