"""Large synthetic registries for the scale tests and benchmark: a seeded scatter of facilities over Qingdao.

The attributes (kind, amenities, hours, calendar, access, status) are drawn from the shipped sample's records,
so every filter of the nearest engine has something to do; a few records get unknown hours, a few are removed,
temporarily closed or under maintenance. Positions are uniform over the land of the districts.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from geo.geography import Districts
from geo.model import Facility
from geo.registry import Registry, read_registry_file
from geo.settings import shipped_data_dir

__all__ = ["fill_store", "scatter"]

_STATUSES = ("open",) * 90 + ("temporarily_closed",) * 4 + ("maintenance",) * 3 + ("removed",) * 3


def scatter(n: int, districts: Districts, *, seed: int = 16, bounds=(120.05, 35.95, 120.75, 36.45)) -> list[Facility]:
    """``n`` facilities inside the districts (uniform in ``bounds``, kept where a district is found)."""
    rng = np.random.default_rng(seed)
    models = read_registry_file(shipped_data_dir() / "sample_facilities.geojson", districts).facilities
    out: list[Facility] = []
    lon_min, lat_min, lon_max, lat_max = bounds
    while len(out) < n:
        m = 2 * (n - len(out)) + 64
        lon = np.round(rng.uniform(lon_min, lon_max, m), 6)
        lat = np.round(rng.uniform(lat_min, lat_max, m), 6)
        codes = [str(c) for c in districts.locate(lon, lat)]
        for x, y, code in zip(lon.tolist(), lat.tolist(), codes, strict=True):
            if len(out) == n:
                break
            if not code or code in ("None", "nan", ""):
                continue
            model = models[int(rng.integers(len(models)))]
            hours = None if rng.random() < 0.03 else model.opening_hours
            out.append(dataclasses.replace(
                model, id=f"sc-{len(out):06d}", lon=x, lat=y, district_adcode=code, district=districts.name_of(code),
                township="", address=f"合成地址 {len(out)}", opening_hours=hours,
                status=_STATUSES[int(rng.integers(len(_STATUSES)))], source_crs="wgs84", source_lon=None,
                source_lat=None, sample=True))
    return out


def fill_store(store, facilities: list[Facility]) -> None:
    """Replace the store's registry with ``facilities`` (one write)."""
    store.initialise()
    store.update(lambda _: Registry(tuple(facilities), {"sample": True}), actor="test", action="import_replace")
