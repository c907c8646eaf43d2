"""Build the shipped SYNTHETIC usage file ``geo/shipped/sample_usage.csv`` (visits per facility and hour).

No union's visit records are public, so the demo ships generated ones, labelled on every row (样例 = true) and in
every answer that reads them (``geo.usage``). Inputs (all in the repository): the sample registry
``geo/shipped/sample_facilities.geojson`` and the modelled demand grid ``geo/shipped/demand_grid_250m.csv.gz``.

Model (seeded: the output is byte-identical from run to run)
    Period: the week of Monday 9 to Sunday 15 November 2026. Every facility that is open (status ``open``) and has
    opening hours gets visits on the days it opens, in the hours it is open (its hours on China's calendar, at
    the half hour). Its utilisation u (visits × 1 hour ÷ capacity × open hours) is drawn per facility:
    lognormal around 0.22 (σ 0.5) × (outdoor workers within 1 km ÷ the median)^0.25, one in ten quiet (× 0.25),
    clipped to 0.02–1.4; weekends × 0.85. Within a day the visits follow an hourly weight: 1, + 1.2 at 11–12,
    + 0.6 at 14–16, + 0.9 at 17–19, + a night weight at 22–05 (drawn 0.4–2.0 per facility: riders and sanitation
    shifts). Counts are Poisson draws. Worker stations and apartments get one row per hour with visits (hours left
    out had none); the other kinds one row per day (the day's total).

Columns (Chinese headers, as a union's spreadsheet has them): 设施编号, 日期, 小时 (empty on a day total), 人次, 样例.

Usage (from the repository root)::

    python data/build_sample_usage.py            # -> geo/shipped/sample_usage.csv
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make ``geo`` importable
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

from geo.access import catchment_pairs  # noqa: E402
from geo.coverage import PreparedGrid  # noqa: E402
from geo.crs import to_metric  # noqa: E402
from geo.demand import load_demand  # noqa: E402
from geo.geography import load_districts  # noqa: E402
from geo.hours import Hours  # noqa: E402
from geo.registry import read_registry_file  # noqa: E402

SEED = 20261109
FIRST_DAY = date(2026, 11, 9)
DAYS = 7
HOURLY_KINDS = ("station", "apartment")
HEADER = ("设施编号", "日期", "小时", "人次", "样例")
NIGHT = (22, 23, 0, 1, 2, 3, 4, 5)


def hour_weights(night: float) -> np.ndarray:
    w = np.ones(24)
    w[11:13] += 1.2
    w[14:17] += 0.6
    w[17:20] += 0.9
    w[list(NIGHT)] += night
    return w


def build(shipped: Path) -> bytes:
    districts = load_districts(shipped / "qingdao_districts_wgs84.geojson")
    registry = read_registry_file(shipped / "sample_facilities.geojson", districts)
    grid = PreparedGrid(load_demand(shipped / "demand_grid_250m.csv.gz"))
    live = [f for f in registry.facilities if f.status == "open" and f.opening_hours is not None and f.capacity]
    x, y = (np.atleast_1d(np.asarray(v, dtype="float64")) for v in to_metric([f.lon for f in live],
                                                                               [f.lat for f in live]))
    site, cell, _ = catchment_pairs(grid, x, y, 1000.0)
    near = np.bincount(site, weights=grid.grid.workers[cell], minlength=len(live))
    scale = (np.maximum(near, 1.0) / np.median(np.maximum(near, 1.0))) ** 0.25
    rng = np.random.default_rng(SEED)
    util = rng.lognormal(np.log(0.22), 0.5, len(live)) * scale
    util = np.clip(np.where(rng.random(len(live)) < 0.1, util * 0.25, util), 0.02, 1.4)
    night = rng.uniform(0.4, 2.0, len(live))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    for n, f in enumerate(live):
        hours = Hours.parse(f.opening_hours, f.workday_calendar)
        weights = hour_weights(night[n])
        for k in range(DAYS):
            day = FIRST_DAY + timedelta(days=k)
            start = datetime.combine(day, time())
            open_at = np.array([hours.is_open(start + timedelta(minutes=60 * h + 30)) for h in range(24)])
            if not open_at.any():
                continue
            expected = util[n] * f.capacity * open_at.sum() * (0.85 if day.weekday() >= 5 else 1.0)
            share = np.where(open_at, weights, 0.0)
            visits = rng.poisson(expected * share / share.sum())
            if f.kind in HOURLY_KINDS:
                for h in np.flatnonzero(visits):
                    w.writerow((f.id, day.isoformat(), int(h), int(visits[h]), "true"))
            else:
                w.writerow((f.id, day.isoformat(), "", int(visits.sum()), "true"))
    return out.getvalue().encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shipped", type=Path, default=REPO_ROOT / "geo" / "shipped")
    parser.add_argument("--out", type=Path, help="output file (default geo/shipped/sample_usage.csv)")
    args = parser.parse_args(argv)
    out = args.out or args.shipped / "sample_usage.csv"
    data = build(args.shipped)
    out.write_bytes(data)
    rows = data.count(b"\n") - 1
    print(f"{out.name}: {rows:,} rows, {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
