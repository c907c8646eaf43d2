"""Benchmark: capacity-aware access (E2SFCA, geo/access.py) city-wide against PySAL ``access``, in one run.

    python bench/bench_access.py [--runs 3] [--quick]

The shipped 250 m demand grid (179,834 cells) and the sample's open worker stations with their capacity. Each row
is the best of ``--runs`` runs (``--quick``: one), ours and the baseline's alike, and prints our time, the
baseline's, the ratio (baseline ÷ ours) and the target (E2SFCA city-wide ≤ 1 s):

1. E2SFCA for a 15-minute walk (Gaussian decay) and 2. for a 15-minute e-bike ride (step decay), from the grid and
   the facilities to every cell's access: ``geo.access.compute_access`` vs the facility–cell pairs within the
   catchment from a ``scipy`` cKDTree (``sparse_distance_matrix``) handed to PySAL ``access``'s
   ``Access.enhanced_two_stage_fca`` with its own weight function (the pairs beyond the catchment weigh 0, so the
   instance is the same); the two must agree to 1e-9;
3. the whole ``GET /api/v1/access`` answer city-wide (E2SFCA, district and city tables, the 20 largest shortage
   areas as polygons named after their township, every facility's ratio), no baseline.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import timing  # noqa: E402
from geo import planner  # noqa: E402
from geo.access import access_options, access_payload, compute_access  # noqa: E402
from geo.coverage import FacilityFilter, PreparedGrid, Threshold  # noqa: E402
from geo.demand import load_demand  # noqa: E402
from geo.geography import load_districts  # noqa: E402
from geo.nearest import FacilityIndex  # noqa: E402
from geo.planner_params import ACCESS  # noqa: E402
from geo.registry import read_registry_file  # noqa: E402
from geo.settings import SHIPPED_DATA  # noqa: E402

RUNS = 3
ROWS: list[list[str]] = []


def best_of(fn, n=None):
    """(the shortest of ``n`` runs in seconds, the last result); ``n`` defaults to --runs for every row."""
    return timing.best_of(fn, RUNS if n is None else n)


def pysal_e2sfca(prepared: PreparedGrid, sx, sy, places, threshold: Threshold, decay: str) -> np.ndarray:
    """PySAL access on the catchment pairs (cKDTree): every cell's E2SFCA access (0 beyond every catchment)."""
    import pandas as pd
    from access import Access, weights
    from scipy.spatial import cKDTree

    g = prepared.grid
    detour = threshold.travel.detour_factor
    catchment = threshold.radius_m * detour
    pairs = cKDTree(np.column_stack([g.x, g.y])).sparse_distance_matrix(
        cKDTree(np.column_stack([sx, sy])), threshold.radius_m, output_type="ndarray")
    cost = pd.DataFrame({"o": pairs["i"], "d": pairs["j"], "c": pairs["v"] * detour})
    fn = (weights.gaussian(catchment / 2) if decay == "gaussian" else
          weights.step_fn({catchment / 3: 1, 2 * catchment / 3: 0.68, catchment: 0.22}))
    model = Access(demand_df=pd.DataFrame({"cell": np.arange(len(g.x)), "people": g.workers}), demand_index="cell",
                   demand_value="people", supply_df=pd.DataFrame({"site": np.arange(len(sx)), "places": places}),
                   supply_index="site", supply_value="places", cost_df=cost, cost_origin="o", cost_dest="d",
                   cost_name="c")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.enhanced_two_stage_fca(name="e2", max_cost=catchment, weight_fn=fn)["e2_places"]
    return np.nan_to_num(out.reindex(np.arange(len(g.x))).to_numpy())


def row(task, ours, baseline, name, ok, note=""):
    ratio = f"{baseline / ours:.1f}x" if baseline else "–"
    ROWS.append([task, f"{ours:.3f} s", "–" if baseline is None else f"{baseline:.3f} s", name, ratio,
                 "≤ 1 s", "yes" if ok else "NO", note])


def main() -> None:
    global RUNS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one run of each")
    args = parser.parse_args()
    RUNS = 1 if args.quick else args.runs
    districts = load_districts()
    registry = read_registry_file(SHIPPED_DATA / "sample_facilities.geojson", districts)
    index = FacilityIndex(registry.facilities)
    prepared = PreparedGrid(load_demand(SHIPPED_DATA / "demand_grid_250m.csv.gz"), districts.names)
    prepared.pixel_cell  # noqa: B018 - the grid's raster, built once per grid (as the server keeps it)
    print(f"grid: {len(prepared):,} cells of {prepared.cell_m} m; facilities: "
          f"{len(FacilityFilter().indices(index))} open worker stations")
    for label, threshold, decay in (("E2SFCA city-wide, 15 min walk, gaussian", Threshold.minutes_by(15, "walk"),
                                     "gaussian"),
                                    ("E2SFCA city-wide, 15 min e-bike, step", Threshold.minutes_by(15, "ebike"),
                                     "step")):
        ours, acc = best_of(lambda t=threshold, d=decay: compute_access(prepared, index, t, decay=d))
        base, ref = best_of(lambda t=threshold, d=decay, a=acc: pysal_e2sfca(prepared, a.sites.x, a.sites.y,
                                                                              a.places, t, d))
        same = np.allclose(acc.index, ref, rtol=1e-9, atol=1e-15)
        row(label, ours, base, "PySAL access 1.1 (+ cKDTree pairs)", ours <= 1.0 and same,
            f"{len(acc.pair_site):,} pairs; values {'equal' if same else 'DIFFER'}")
    data = planner.PlannerData(prepared, index, districts, sample=True)
    opts = access_options(data, ACCESS, {})
    ours, out = best_of(lambda: access_payload(planner.PlannerData(prepared, index, districts), opts))
    row("GET /api/v1/access answer, city-wide", ours, None, "–", ours <= 1.0,
        f"{len(out['shortage']['features'])} shortage areas, {len(out['facilities'])} facilities")
    print()
    header = ["task", "ours", "baseline", "baseline is", "ratio", "target", "met", "note"]
    widths = [max(len(str(r[i])) for r in [header, *ROWS]) for i in range(len(header))]
    for r in [header, *ROWS]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
