"""The planner for one city of a province or the nation: its data built on request, per city, and kept.

A city's deployment (Qingdao) plans for the region it serves. A province (``WORKERMAP_REGION=370000``) or the
nation (``100000``) serves prefectures or provinces as units, holds no modelled demand and may not hold the
registry at all (``geo.store.knn.DbRegistry``: queried, not loaded). There the planner (coverage, gaps, plans,
what-ifs, reports, access) answers for one prefecture-level city named by the parameter ``city``
(:data:`geo.planner_params.CITY`), and this module builds what it computes on (:class:`geo.planner.PlannerData`):

* the city's **facilities**: read from the store for the city only (PostGIS: the rows in its bounding box, by
  the GiST index; the registry held in memory: filtered there), kept where the city's counties contain them,
  and labelled with their county when the registry labels them with a province or prefecture;
* its **districts**: its counties (``geo.regions.load_region(city).districts()``; Qingdao: the shipped layer);
* its **demand**: the deployment's demand grid (an imported one, ``workermap import-demand``; Qingdao also the
  shipped modelled grid) clipped to the city's counties; none → a 409 ``no_demand`` naming the city;
* its **travel**: the straight model as everywhere; ``land`` over a raster of the city's counties (Qingdao: the
  process's shared one); ``network`` over the imported extract, as today.

:func:`planner_data` answers with the data of the city a request names; each city's data is built once per
registry version and kept in a small LRU (:class:`CityPlanners`) held by the version's snapshot (a new version,
a new snapshot, everything rebuilt). Where the region served is itself a prefecture or a county (Qingdao),
``city`` is optional and, if given, must be the region: the data are the deployment's own, as before.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from geo.coverage import LruCache, PreparedGrid
from geo.errors import Conflict, ParameterError
from geo.params import MissingParameter, Params
from geo.planner import PlannerData
from geo.planner_params import CITY
from geo.regions import QINGDAO, load_region, prefectures

__all__ = ["CITY_CACHE_SIZE", "CityPlanners", "city_choice", "city_data", "city_demand", "city_facilities",
           "city_live_facilities", "needs_city", "planner_data", "resolve_city"]

#: How many cities' planner data a snapshot keeps (each: facilities, demand grid, index, results cache).
CITY_CACHE_SIZE = 4
#: The planner's results per city (as the deployment's ``planner_cache``).
CITY_RESULTS_CACHE = 48
_CITY_ONLY = Params(CITY)


def needs_city(region) -> bool:
    """Whether the planner needs ``city`` in ``region``: its units are prefectures or provinces."""
    return region.unit_level in ("prefecture", "province")


def city_choice(region, units, *, imported_demand: bool) -> tuple[list[dict[str, str]], str | None]:
    """The cities a planner chooses from where the planner :func:`needs_city` (none elsewhere), each
    ``{adcode, name, name_en}`` (English where the region's ``units`` frame names them), and the default:
    Qingdao (the modelled demand) when it is one of them and no demand is imported, else the first."""
    if not needs_city(region):
        return [], None
    names_en = dict(zip(units["adcode"].astype(str), units["name_en"].astype(str), strict=True))
    cities = [{"adcode": a, "name": n, "name_en": names_en.get(a, "")} for a, n in prefectures(region.adcode).items()]
    qingdao = any(c["adcode"] == QINGDAO for c in cities)
    return cities, (QINGDAO if qingdao and not imported_demand else cities[0]["adcode"])


def _allowed(region) -> str:
    where = f"of {region.name_en}" if region.level == "province" else "in China"
    listed = (" (listed at /api/v1/districts)" if region.unit_level == "prefecture" else
              " (the first two digits are its province's, e.g. 370200 in 370000 Shandong)")
    return f"the adcode or Chinese name of a prefecture-level city {where}{listed}, e.g. 370200 or 青岛市"


def resolve_city(region, value: str | None) -> tuple[str, str]:
    """``(adcode, name)`` of the city the planner answers for in ``region``: the region itself where it is a
    city (``value`` empty or naming it), else the prefecture-level city ``value`` names (a
    :class:`ParameterError` naming ``city`` when it is missing, unknown or outside the region)."""
    value = (value or "").strip()
    if not needs_city(region):
        if value in ("", region.adcode, region.name):
            return region.adcode, region.name
        raise ParameterError("city", value, f"{region.adcode} or {region.name} (the region served) or nothing")
    if not value:
        raise MissingParameter("city", None, _allowed(region),
                               f"city is required where the region served is {region.name_en} "
                               f"({region.adcode}): the planner answers for one city; give {_allowed(region)}")
    cities = prefectures(region.adcode)
    if value in cities:
        return value, cities[value]
    named = [a for a, n in cities.items() if n == value]
    if len(named) == 1:
        return named[0], value
    raise ParameterError("city", value, _allowed(region))


class CityPlanners:
    """The planner data of the last :data:`CITY_CACHE_SIZE` cities asked for (one registry version's)."""

    def __init__(self, size: int = CITY_CACHE_SIZE):
        self._cache = LruCache(size)
        self._layers = LruCache(size)  # the planner page's facility layer per city (bytes: web.pages)
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        #: How many times a city's data was built (a test's proxy for "served from the cache").
        self.builds = 0

    def get(self, city: str, build) -> PlannerData:
        """The city's data, built by ``build()`` once (concurrent first requests for one city wait for it)."""
        def counted() -> PlannerData:
            self.builds += 1
            return build()

        with self._lock:
            lock = self._locks.setdefault(city, threading.Lock())
        with lock:
            return self._cache.get_or_compute(city, counted)

    def layer(self, city: str, build) -> bytes:
        """The city's facility layer for the planner page, built by ``build()`` once (this version's)."""
        return self._layers.get_or_compute(city, build)

    def __len__(self) -> int:
        return len(self._cache)


def planner_data(source: Any, args) -> PlannerData:
    """The planner data a request's arguments (query args, a JSON body's, a command line's) ask for:
    ``source`` is the served registry version (``web.state.Snapshot``: ``region``, ``registry``, ``settings``,
    ``travel``, ``travel_context``; where the region is a city also ``demand``, ``index``, ``districts``,
    ``planner_cache``; else ``city_planners``, a :class:`CityPlanners`)."""
    region = source.region
    adcode, name = resolve_city(region, _CITY_ONLY.parse(args, check_unknown=False)["city"])
    if not needs_city(region):
        return PlannerData(source.demand, source.index, source.districts, source.travel,
                           source.registry.is_sample, source.planner_cache, source.travel_context,
                           city=(adcode, name))
    settings = source.settings
    _check_demand(load_region(adcode, settings.districts_path), settings)  # before any read: a quick 409
    return source.city_planners.get(adcode, lambda: city_data(
        adcode, source.registry, settings, travel=source.travel,
        shared_context=source.travel_context if adcode == QINGDAO else None))


def city_data(adcode: str, registry, settings, *, travel=None, shared_context=None,
              cache: LruCache | None = None) -> PlannerData:
    """The planner data of the prefecture-level city ``adcode`` (see the module docstring): ``registry`` a
    ``geo.registry.Registry`` or a ``DbRegistry``; ``shared_context`` the travel context to use (else one of
    its own, whose land raster covers the city's counties, built on first use)."""
    from geo.nearest import FacilityIndex, Travel

    region = load_region(adcode, settings.districts_path)
    districts = region.districts()
    travel = travel if travel is not None else Travel.from_settings(settings)
    prepared = city_demand(region, districts, settings)
    facilities = city_facilities(registry, districts)
    context = shared_context if shared_context is not None else _travel_context(districts, settings, travel)
    return PlannerData(prepared, FacilityIndex(facilities, travel=travel), districts, travel, registry.is_sample,
                       cache if cache is not None else LruCache(CITY_RESULTS_CACHE), context,
                       city=(region.adcode, region.name))


def _travel_context(districts, settings, travel):
    from geo.osm import osm_dir
    from geo.travel import LandGrid, TravelContext

    cell_m = float(settings.land_cell_m)
    cell_m = int(cell_m) if cell_m.is_integer() else cell_m
    return TravelContext(land=lambda: LandGrid.from_districts(districts, cell_m), osm_dir=osm_dir(settings),
                         travel=travel, land_cell_m=cell_m)


# --------------------------------------------------------------------------- facilities


def _bbox(districts) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = districts.frame.total_bounds.tolist()
    return x0, y0, x1, y1


def city_facilities(registry, districts) -> list:
    """The registry's facilities (removed ones too, as the deployment's index holds them) inside the city's
    ``districts``, in registry order; read for the city only (a ``DbRegistry``: the rows in its bounding box).
    A facility labelled with another unit (its province or prefecture) gets the county it lies in."""
    from geo.store.knn import DbRegistry

    x0, y0, x1, y1 = _bbox(districts)
    if isinstance(registry, DbRegistry):  # queried, not held: the city's rows by the spatial index, not the table
        rows = registry._rows("WHERE geom && ST_MakeEnvelope(?, ?, ?, ?, 4326)", (x0, y0, x1, y1), "ORDER BY fid")
    else:
        rows = [f for f in registry.facilities if x0 <= f.lon <= x1 and y0 <= f.lat <= y1]
    if not rows:
        return []
    located = districts.locate([f.lon for f in rows], [f.lat for f in rows])
    out = []
    for f, code in zip(rows, located, strict=True):
        if code == "":
            continue
        if f.district_adcode not in districts.names:
            f = replace(f, district_adcode=str(code), district=districts.names[code])
        out.append(f)
    return out


def city_live_facilities(registry, adcode: str, settings) -> list:
    """The live facilities of the city ``adcode``: the ones its planner answers count (:func:`city_facilities`,
    read for the city only), without building its demand (the planner page's facility layer)."""
    districts = load_region(adcode, settings.districts_path).districts()
    return [f for f in city_facilities(registry, districts) if f.status != "removed"]


# --------------------------------------------------------------------------- demand


def _stamp(path: Path) -> tuple:
    st = path.stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


@lru_cache(maxsize=1)
def _grid(path: str, stamp: tuple):
    """The demand grid at ``path`` (one kept: a province's grid is read once for all its cities)."""
    from geo.demand import load_demand

    return load_demand(path)


def _check_demand(region, settings) -> None:
    """A 409 ``no_demand`` naming the city unless a demand grid may cover it (modelled or imported)."""
    if not region.modelled_demand and not settings.imported_demand_path.exists():
        raise _no_demand(region.adcode, region.name)


def _no_demand(adcode: str, name: str) -> Conflict:
    return Conflict(f"no demand is loaded for {name} ({adcode}): the modelled census grid covers Qingdao only; "
                    "import one covering the city with `workermap import-demand FILE` and restart the server",
                    code="no_demand")


def city_demand(region, districts, settings) -> PreparedGrid:
    """The deployment's demand grid (``Settings.demand_path``: the imported one, else Qingdao's modelled one)
    clipped to the city's counties: a cell is the city's when its centre lies in one of them, and keeps its
    district when that is one of them (else takes the county's). A 409 ``no_demand`` when no cell is."""
    _check_demand(region, settings)
    path = Path(settings.demand_path)
    grid = _grid(str(path), _stamp(path))
    if grid.source != "modelled":  # the modelled grid is Qingdao's own by construction
        grid = _clip(grid, districts)
    if len(grid) == 0:
        raise _no_demand(region.adcode, region.name)
    return PreparedGrid(grid, districts.names, scope=(region.adcode, region.name))  # its rows: the city's


def _clip(grid, districts):
    x0, y0, x1, y1 = _bbox(districts)
    near = np.flatnonzero((grid.lon >= x0) & (grid.lon <= x1) & (grid.lat >= y0) & (grid.lat <= y1))
    code = districts.locate(grid.lon[near], grid.lat[near]) if len(near) else np.array([], dtype=object)
    keep = code != ""
    idx, code = near[keep], code[keep]
    own = np.isin(grid.adcode[idx], list(districts.names))
    adcode = np.where(own, grid.adcode[idx], code).astype(str)
    return replace(grid, x=grid.x[idx], y=grid.y[idx], lon=grid.lon[idx], lat=grid.lat[idx], adcode=adcode,
                   residents=grid.residents[idx], workers=grid.workers[idx])
