"""One typed settings object. Every setting is documented here.

Nothing is read at import time: :func:`Settings.from_env` reads the environment
when an interface (CLI, web factory) asks for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

__all__ = ["REPO_ROOT", "SHIPPED_DATA", "Settings"]

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Shipped, read-only data (the sample registry, districts, demand grid).
SHIPPED_DATA = REPO_ROOT / "data"


@dataclass(frozen=True)
class Settings:
    #: The working data directory (``WORKERMAP_DATA_DIR``): the registry database
    #: ``workermap.gpkg`` (unless ``database_url`` names another), an imported demand grid.
    #: The registry starts from the shipped sample; the shipped files are never modified.
    data_dir: Path = REPO_ROOT / "instance"
    #: The registry database (``WORKERMAP_DATABASE_URL``): empty = the GeoPackage
    #: ``<data_dir>/workermap.gpkg``; ``postgresql://user:password@host:port/db`` = PostgreSQL + PostGIS
    #: (for several app servers); or a path ending in ``.gpkg``.
    database_url: str = ""
    #: Folder with the shipped reference data (``WORKERMAP_SHIPPED_DATA``).
    shipped_dir: Path = SHIPPED_DATA
    #: Detour factor applied to straight-line distance for travel times.
    detour_factor: float = 1.3
    #: Walking speed, km/h.
    walk_kmh: float = 4.8
    #: E-bike speed, km/h.
    ebike_kmh: float = 15.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        env = os.environ if environ is None else environ
        values: dict = {}
        for f in fields(cls):
            key = "WORKERMAP_" + f.name.upper()
            if key in env:
                raw = env[key]
                values[f.name] = Path(raw) if f.name.endswith("_dir") else raw if f.type == "str" else float(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)

    @property
    def districts_path(self) -> Path:
        return Path(self.shipped_dir) / "qingdao_districts_wgs84.geojson"

    @property
    def sample_path(self) -> Path:
        return Path(self.shipped_dir) / "sample_facilities.geojson"

    @property
    def imported_demand_path(self) -> Path:
        """Where ``workermap import-demand`` puts a demand grid."""
        return Path(self.data_dir) / "demand_grid.csv.gz"

    @property
    def demand_path(self) -> Path:
        """The working demand grid (imported one if any), else the shipped modelled one."""
        imported = self.imported_demand_path
        return imported if imported.exists() else Path(self.shipped_dir) / "demand_grid_250m.csv.gz"
