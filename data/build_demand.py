"""Build the shipped modelled demand grid ``geo/shipped/demand_grid_250m.csv.gz``.

Inputs (all in the repository): ``geo/shipped/qingdao_districts_wgs84.geojson`` (made by
``data/build_districts.py``) and the census 2020 table, urban centres and GeoNames town seats
in ``geo/shipped/reference/``. The model and the file format are documented in :mod:`geo.demand`.
The output is byte-identical from run to run.

Usage (from the repository root)::

    python data/build_demand.py                     # 250 m -> geo/shipped/demand_grid_250m.csv.gz
    python data/build_demand.py --cell-m 100 --out /tmp/demand_grid_100m.csv.gz
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make ``geo`` importable
    sys.path.insert(0, str(REPO_ROOT))

from geo.demand import build_demand_grid, census_targets, district_totals, save_demand  # noqa: E402
from geo.geography import load_districts  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell-m", type=int, default=250, help="cell size in metres (default 250)")
    parser.add_argument(
        "--districts", type=Path, default=REPO_ROOT / "geo" / "shipped" / "qingdao_districts_wgs84.geojson"
    )
    parser.add_argument("--out", type=Path, help="output file (default geo/shipped/demand_grid_<cell>m.csv.gz)")
    args = parser.parse_args(argv)
    out = args.out or REPO_ROOT / "geo" / "shipped" / f"demand_grid_{args.cell_m}m.csv.gz"

    started = time.perf_counter()
    districts = load_districts(args.districts)
    grid = build_demand_grid(districts, cell_m=args.cell_m)
    save_demand(grid, out)
    elapsed = time.perf_counter() - started

    totals = district_totals(grid).set_index("adcode")
    census = census_targets()
    totals["name"] = census["name"]
    totals["census_residents"] = census["residents"]
    totals["census_workers"] = census["workers"].round(1)
    print(totals[["name", "cells", "residents", "census_residents", "workers", "census_workers"]].to_string())
    print(
        f"total: {len(grid):,} cells, {grid.residents.sum():,.0f} residents, "
        f"{grid.workers.sum():,.1f} outdoor workers"
    )
    data = out.read_bytes()
    print(f"{out.name}: {len(data):,} bytes sha256 {hashlib.sha256(data).hexdigest()} ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
