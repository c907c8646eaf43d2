"""The exact MCLP (sparse matrices, HiGHS through scipy.optimize.milp) against PySAL spopt on the raw instance,
its lossless reductions, district scale on the shipped data, and refusals in each interface's own names."""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import pytest

from geo.coverage import FacilityFilter, Threshold, compute_coverage, whatif
from geo.siting import SitingError, mclp_instance, plan_sites, solve_mclp
from tests.test_coverage import _shipped
from tests.test_siting import instance, newly_covered
from tests.tools import need_module


def spopt_optimum(cand_xy, cell_xy, weight, radius_m, k, min_spacing_m=0.0) -> float:
    """The reference: spopt's MCLP on the raw instance (every cell its own row, every candidate a column, the
    planar distance matrix, no merging or dominance), spacing pairs added to its PuLP model."""
    need_module("spopt.locate")
    import pulp
    from spopt.locate import MCLP

    with contextlib.suppress(ImportError):  # spopt uses the PuLP 3 API, which PuLP >= 3.3 flags on every variable
        from pulp.v4_migration import set_v4_migration_warnings

        set_v4_migration_warnings(False)
    dist = np.hypot(cell_xy[:, None, 0] - cand_xy[None, :, 0], cell_xy[:, None, 1] - cand_xy[None, :, 1])
    model = MCLP.from_cost_matrix(dist, weight, service_radius=radius_m + 1e-6, p_facilities=k, name="reference")
    for a, b in itertools.combinations(range(len(cand_xy)), 2):
        if min_spacing_m > 0 and np.hypot(*(cand_xy[a] - cand_xy[b])) < min_spacing_m - 1e-6:
            model.problem += model.fac_vars[a] + model.fac_vars[b] <= 1
    highs = pulp.HiGHS(msg=False)
    model.problem.solve(highs if highs.available() else pulp.PULP_CBC_CMD(msg=False))
    assert pulp.LpStatus[model.problem.status] == "Optimal"
    return float(pulp.value(model.problem.objective))


def _uncovered(cov):
    g = cov.prepared.grid
    weight = np.where(cov.covered, 0.0, g.workers)
    live = np.flatnonzero(weight > 0)
    return np.column_stack([g.x, g.y]), np.column_stack([g.x[live], g.y[live]]), weight[live]


@pytest.mark.parametrize(("seed", "add", "spacing"), [(21, 3, 0.0), (22, 5, 0.0), (23, 4, 250.0), (24, 6, 350.0),
                                                      (25, 2, 0.0)])
def test_the_same_optimum_as_spopt_on_the_raw_instance(seed, add, spacing):
    _, _, _, cov = instance(seed, 12, 12)
    cand_xy, cell_xy, weight = _uncovered(cov)
    ours = plan_sites(cov, add=add, min_spacing_m=spacing, method="exact")
    assert ours.exact["optimal"] and ours.exact["aggregation_error"] == 0.0
    assert ours.exact["gain"] == pytest.approx(spopt_optimum(cand_xy, cell_xy, weight, cov.radius_m, add, spacing),
                                               abs=0.05)
    assert newly_covered(cov, ours.sites) == pytest.approx(ours.exact["gain"], abs=0.2)  # the what-if engine agrees


def test_merging_cells_and_dropping_dominated_candidates_change_no_plan():
    """Aggregation error 0: for random sets of sites, the demand reached computed from the merged groups equals
    the demand reached cell by cell; every dropped candidate reaches a subset of a kept one's cells."""
    _, _, _, cov = instance(26, 14, 14)
    cand_xy, cell_xy, weight = _uncovered(cov)
    inst = mclp_instance(cand_xy, cell_xy, weight, cov.radius_m)
    assert inst.cover.shape[0] <= inst.cells <= len(cell_xy) and inst.dominated > 0
    assert inst.weight.sum() == pytest.approx(weight.sum())  # every cell has a candidate within reach here
    d = np.hypot(cell_xy[:, None, 0] - cand_xy[None, :, 0], cell_xy[:, None, 1] - cand_xy[None, :, 1])
    reach = d <= cov.radius_m + 1e-6  # cells × candidates
    rng = np.random.default_rng(26)
    for _ in range(50):
        cols = rng.choice(len(inst.columns), size=rng.integers(1, 6), replace=False)
        cells = reach[:, inst.columns[cols]].any(axis=1)
        assert inst.gain(cols) == pytest.approx(float(weight[cells].sum()), abs=1e-6)
    kept = reach[:, inst.columns]
    for j in np.setdiff1d(np.flatnonzero(reach.any(axis=0)), inst.columns):
        assert (kept[reach[:, j]].all(axis=0)).any(), j  # some kept column reaches all of j's cells


def test_infeasible_spacing_and_the_solver_status():
    _, _, _, cov = instance(27, 10, 10)
    cand_xy, cell_xy, weight = _uncovered(cov)
    inst = mclp_instance(cand_xy, cell_xy, weight, cov.radius_m, min_spacing_m=800)
    assert solve_mclp(inst, 20)["status"] == "infeasible"
    sol = solve_mclp(mclp_instance(cand_xy, cell_xy, weight, cov.radius_m), 2)
    assert sol["status"] == "optimal" and len(sol["chosen"]) == 2 and sol["bound"] == pytest.approx(sol["objective"])


# --------------------------------------------------------------------------- district scale, shipped data


@pytest.fixture(scope="module")
def walk15():
    prepared, index = _shipped()
    return compute_coverage(prepared, index, Threshold.minutes_by(15, "walk"))


@pytest.mark.parametrize(("district", "add", "spacing"), [("李沧区", 5, 0.0), ("李沧区", 5, 300.0),
                                                          ("市北区", 3, 300.0)])
def test_district_scale_over_all_its_cells(walk15, district, add, spacing):
    plan = plan_sites(walk15, add=add, district=district, min_spacing_m=spacing, method="exact")
    e = plan.exact
    assert e["optimal"] and e["plan_from"] == "solver" and e["gap_pct"] == 0.0
    p = walk15.prepared
    code = p.district_code(district)
    assert e["demand_cells"] == int((~walk15.covered & (p.code == code) & (p.grid.workers > 0)).sum())
    assert all(s["district"] == district for s in plan.sites) and len(plan.sites) == add
    assert plan.added_gain == pytest.approx(e["gain"], abs=0.1)
    # the what-if engine, within the district (the sites reach over its border too)
    w = whatif(p, walk15.sites.index, walk15.threshold, FacilityFilter(),
               add=[(s["lon"], s["lat"]) for s in plan.sites], today=walk15)
    gained = (w.scenario.district_table(district)[0]["covered_workers"]
              - w.today.district_table(district)[0]["covered_workers"])
    assert gained == pytest.approx(e["gain"], abs=0.2)
    greedy = plan_sites(walk15, add=add, district=district, min_spacing_m=spacing)
    assert 0.98 * e["gain"] <= greedy.added_gain <= e["gain"] + 1e-6


def test_the_cli_solves_licang_exactly(runner, tmp_path):
    from cli import main

    r = runner.invoke(main, ["--data-dir", str(tmp_path / "instance"), "plan", "--method", "exact", "--district",
                             "李沧区", "--add", "5"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "exact: optimal by HiGHS" in r.output and "aggregation error 0" in r.output


# --------------------------------------------------------------------------- refusals in the interface's names


def test_refusals_speak_the_cli_flags_and_the_api_fields(runner, tmp_path, sample_app):
    from cli import main

    data = str(tmp_path / "instance")
    r = runner.invoke(main, ["--data-dir", data, "plan", "--method", "exact", "--add", "2"], catch_exceptions=False)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    assert "--method greedy" in r.stderr and "--district" in r.stderr and "--candidates" in r.stderr
    assert "method=greedy" not in r.stderr
    r = runner.invoke(main, ["--data-dir", data, "plan", "--method", "exact", "--district", "李沧区", "--add", "100",
                             "--min-spacing-m", "1000"], catch_exceptions=False)
    assert r.exit_code == 2 and "infeasible" in r.stderr
    assert "--add" in r.stderr and "--min-spacing-m" in r.stderr and "min_spacing_m" not in r.stderr
    r = runner.invoke(main, ["--data-dir", data, "plan", "--district", "市南区", "--min-spacing-m", "5000"],
                      catch_exceptions=False)
    assert r.exit_code == 2 and "--exclude" in r.stderr and "--min-spacing-m" in r.stderr
    client = sample_app.test_client()
    err = client.post("/api/v1/plan", json={"add": 2, "method": "exact"}).get_json()["error"]
    assert err["code"] == "plan_too_large" and "method=greedy" in err["message"] and "--" not in err["message"]
    err = client.post("/api/v1/plan", json={"add": 100, "method": "exact", "district": "李沧区",
                                            "min_spacing_m": 1000}).get_json()["error"]
    assert err["code"] == "plan_infeasible" and "min_spacing_m" in err["message"]


def test_a_siting_error_keeps_its_mentions():
    err = SitingError("too_large", "use {method=greedy} or a {district}")
    assert err.message == "use method=greedy or a district"
    assert err.spelled(lambda n, v: f"<{n}{'=' + v if v else ''}>") == "use <method=greedy> or a <district>"


def test_spopt_is_a_test_reference_not_a_runtime_dependency():
    import subprocess
    import sys
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"]).lower()
    assert not any(name in runtime for name in ("spopt", "pulp", "highspy", "matplotlib", "scikit-learn", "libpysal"))
    assert any(d.startswith("spopt") for d in project["optional-dependencies"]["test"])
    code = ("import sys\nfrom tests.test_siting import instance\nfrom geo.siting import plan_sites\n"
            "_, _, _, cov = instance(31, 8, 8)\nplan = plan_sites(cov, add=2, method='exact')\n"
            "assert plan.exact['optimal'], plan.exact\n"
            "print(sorted(m for m in ('spopt', 'pulp', 'highspy', 'sklearn', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
