"""What the app loads once and keeps: settings, districts, the registry and its derived data."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import InitVar, dataclass, field
from functools import cached_property
from pathlib import Path

from flask import g, has_request_context

from geo.export import districts_feature_collection, dumps_geojson, feature_collection
from geo.geography import Districts
from geo.nearest import FacilityIndex, Travel
from geo.query import FacilityTable
from geo.regions import Region, outline_geojson, region_for, search_entries
from geo.registry import Registry, RegistryError
from geo.search import Gazetteer, QueriedGazetteer, search_index
from geo.settings import Settings
from geo.store import RegistryStore, StoreUnavailable
from geo.store.knn import BoundedDict, DbNearest, DbRegistry
from geo.store.resident import ResidentIndex
from web.hitjson import HitEncoder, encode_record
from web.maps import MAP_FIELDS, OVERVIEW_FIELDS, map_feature_collection

log = logging.getLogger(__name__)


def _geojson_bytes(doc: dict) -> bytes:
    """GeoJSON as UTF-8 bytes (``web.compress`` encodes them once per version, by their ETag)."""
    return dumps_geojson(doc).encode("utf-8")


def _version_number(version: str) -> int:
    """A store version as a number (a registry not from the store, e.g. a test's, counts as oldest)."""
    return int(version) if version.isdigit() else -1


#: How often (seconds) a worker asks the store whether a newer registry version was committed.
RELOAD_CHECK_S = 0.5


class Snapshot:
    """One registry version and everything derived from it (index, GeoJSON, caches), built lazily.

    Immutable once published: :meth:`AppState.swap` publishes a new one with one
    assignment, so a derived value can never be cached for the wrong version.
    """

    def __init__(self, registry: Registry, shared: AppState):
        self.registry = registry
        self._shared = shared
        self.travel = shared.travel  # read on every nearest request: a plain attribute, not __getattr__
        self.travel_context = shared.travel_context  # so is this (built lazily: the land raster on first use)

    def __getattr__(self, name: str):
        """What does not depend on the version (settings, districts, store, travel, demand …) is shared."""
        if name.startswith("_"):
            raise AttributeError(name)
        return object.__getattribute__(self._shared, name)  # not AppState.__getattr__: that asks us back

    @cached_property
    def index(self) -> FacilityIndex:
        """The nearest-facility index for this registry version (built once)."""
        return FacilityIndex(self.registry.facilities, travel=self._shared.travel)

    @cached_property
    def hit_encoder(self) -> HitEncoder:
        """Serialises nearest hits from :attr:`nearest_engine` (keeps each facility's fixed JSON once)."""
        engine = self.nearest_engine
        encoder = HitEncoder(engine)
        if not isinstance(engine, FacilityIndex):  # a large registry: keep the recently answered facilities' JSON
            encoder._fixed = BoundedDict(5_000)
        return encoder

    @cached_property
    def nearest_engine(self) -> FacilityIndex | ResidentIndex | DbNearest:
        """What answers /api/v1/nearest: :attr:`index`; for a registry read as a ``DbRegistry``, the resident
        index of its live facilities (``geo.store.resident``), or PostGIS KNN per query
        (``WORKERMAP_NEAREST_ENGINE=knn``, ``geo.store.knn.DbNearest``)."""
        if isinstance(self.registry, DbRegistry):
            if self._shared.settings.nearest_engine == "knn":
                return DbNearest(self.registry, travel=self._shared.travel)
            return self._shared.resident_index(int(self.registry.version))
        return self.index

    @property
    def batch_engine(self) -> FacilityIndex | ResidentIndex:
        """What answers the batch form of /api/v1/nearest (PostGIS KNN has none: then the whole registry)."""
        engine = self.nearest_engine
        return engine if isinstance(engine, ResidentIndex) else self.index

    @cached_property
    def hours_in_use(self) -> frozenset:
        """The distinct ``(opening_hours, workday_calendar)`` pairs of the live facilities."""
        if isinstance(self.registry, DbRegistry):
            return self.registry.hours_in_use
        return frozenset((f.opening_hours, f.workday_calendar) for f in self.registry.facilities
                         if f.status != "removed")

    @cached_property
    def gazetteer(self) -> Gazetteer | QueriedGazetteer:
        """The place search index of this version (its live facilities and their townships, the landmarks of an
        imported OpenStreetMap extract; built on first use); a ``DbRegistry``'s facilities are queried, not held."""
        return search_index(self.registry, [*self._shared.region_entries, *self._shared.osm_landmarks])

    @cached_property
    def counts(self) -> dict:
        return self.registry.counts()

    @cached_property
    def facilities_geojson(self) -> bytes:
        """Every live facility as compact GeoJSON; built once per registry version."""
        meta = {"sample": self.registry.is_sample, "count": len(self.registry), "version": self.registry.version}
        return _geojson_bytes(feature_collection(self.index.facilities, meta))

    @cached_property
    def map_geojson(self) -> bytes:
        """Every live facility with the few properties the worker page's map uses (``web.maps.MAP_FIELDS``)."""
        return self._map_layer(MAP_FIELDS)

    @cached_property
    def overview_geojson(self) -> bytes:
        """The same with what the overview map's popups show too (``web.maps.OVERVIEW_FIELDS``)."""
        return self._map_layer(OVERVIEW_FIELDS)

    def _map_layer(self, fields: tuple[str, ...]) -> bytes:
        live = self.index.facilities
        return _geojson_bytes(map_feature_collection(live, {"sample": self.registry.is_sample, "count": len(live),
                                                            "version": self.registry.version}, fields))

    @cached_property
    def facility_table(self) -> FacilityTable:
        """Column arrays over every facility (removed ones too) for OGC API and export queries."""
        return FacilityTable(self.registry.facilities)

    @cached_property
    def export_cache(self) -> dict[tuple, bytes]:
        """Unfiltered /api/v1/export downloads, filled on first request."""
        return {}

    @cached_property
    def planner_cache(self):
        """Coverage results, overlays, gaps, plans and reports by parameters (``geo.coverage.LruCache``)."""
        from geo.coverage import LruCache

        return LruCache(48)

    @cached_property
    def city_planners(self):
        """The planner data of the last few cities asked for where the region is a province or the nation
        (``geo.city_planner.CityPlanners``; this version's: a new version recomputes)."""
        from geo.city_planner import CityPlanners

        return CityPlanners()


@dataclass
class AppState:
    """Settings, districts and the store, shared by every version; the current :class:`Snapshot`.

    A request reads one snapshot throughout (``web.state()`` pins it on first use); code
    outside a request (the WSGI fast path, tests) takes :attr:`snapshot` once. Attributes of
    the current snapshot (``registry``, ``index`` …) can also be read here directly.
    """

    settings: Settings
    districts: Districts
    store: RegistryStore
    registry_at_start: InitVar[Registry]
    snapshot: Snapshot = field(init=False)
    #: The region served (``geo.regions``; default: the one the settings name).
    region: Region | None = None
    _checked_at: float = field(default=0.0, repr=False)
    _swap_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _resident: ResidentIndex | None = field(default=None, repr=False)
    _resident_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self, registry_at_start: Registry):
        self.snapshot = Snapshot(registry_at_start, self)
        if self.region is None:
            self.region = region_for(self.settings)

    def __getattr__(self, name: str):
        if name.startswith("_") or name == "snapshot":
            raise AttributeError(name)
        return getattr(self.snapshot, name)

    def swap(self, registry: Registry) -> Snapshot:
        """Serve ``registry`` from now on (one assignment; its derived data is built on first use)."""
        snap = self.snapshot = Snapshot(registry, self)
        return snap

    def _swap_if_newer(self, registry: Registry) -> Snapshot | None:
        """Serve ``registry`` unless this process already serves a newer version (threads of one worker
        adopting their own write and reloading must never go back)."""
        with self._swap_lock:
            if _version_number(registry.version) <= _version_number(self.snapshot.registry.version):
                return None
            return self.swap(registry)

    def adopt(self, registry: Registry) -> None:
        """Serve a registry this process has just written (the writing request reads it from now on)."""
        if isinstance(self.snapshot.registry, DbRegistry):  # queried, not held: serve the new version's number
            registry = DbRegistry.at_head(self.store)
        snap = self._swap_if_newer(registry)
        if snap is not None and has_request_context():
            g.workermap_snapshot = snap

    def reload_if_changed(self, *, force: bool = False) -> bool:
        """Pick up a version committed by another process (CLI, another worker, another server).

        Asks the store at most every RELOAD_CHECK_S seconds (one small query); reads only the
        records changed since. A version that fails validation is not taken (the current one
        stays) and the problem is logged; so is a database that cannot be reached.
        """
        now = time.monotonic()
        if not force and now - self._checked_at < RELOAD_CHECK_S:
            return False
        self._checked_at = now
        current = self.snapshot.registry
        try:
            if str(self.store.head()) == current.version and not force:
                return False
            # a registry read as a DbRegistry (geo/store/knn.py) stays one: the new version's number, not its records
            registry = DbRegistry.at_head(self.store) if isinstance(current, DbRegistry) else self.store.load()
        except (RegistryError, StoreUnavailable) as exc:
            log.error("registry changed but cannot be taken; keeping version %s: %s", current.version, exc)
            return False
        if self._swap_if_newer(registry) is not None:
            log.info("registry reloaded: %d facilities, version %s", len(registry), registry.version)
            return True
        return False

    def resident_index(self, version: int) -> ResidentIndex:
        """The resident nearest index (``geo.store.resident``) at ``version`` or later: read whole once (in the
        gunicorn master, before the fork: ``web.prod``), then brought up to date by reading what changed."""
        with self._resident_lock:
            held = self._resident
            if held is None:
                held = ResidentIndex.from_store(self.store, encode_record, travel=self.travel)
            elif held.version < version:
                held = held.updated(version)
            self._resident = held
            return held

    @cached_property
    def travel(self) -> Travel:
        s = self.settings
        return Travel.from_settings(s)

    @cached_property
    def travel_context(self):
        """What the ``land`` and ``network`` travel models measure with (``geo.travel``; built lazily, once)."""
        from geo.travel import TravelContext

        return TravelContext.for_settings(self.settings)

    @cached_property
    def district_outlines(self) -> bytes:
        """District outlines simplified for drawing on the pages (``geo.regions.outline_geojson``: Qingdao's
        ``Districts.outline_frame``; another region's computed once, kept in ``<data_dir>/cache``), as GeoJSON."""
        return outline_geojson(self.region, self.districts, Path(self.settings.data_dir) / "cache")

    @cached_property
    def districts_geojson(self) -> bytes:
        """The district polygons as RFC 7946 GeoJSON (the same features as the OGC API and exports)."""
        return dumps_geojson({"type": "FeatureCollection", "features": self.district_features}).encode("utf-8")

    @cached_property
    def district_features(self) -> list[dict]:
        """The district polygons as RFC 7946 GeoJSON features (CCW exteriors, 7 decimals), by adcode."""
        return districts_feature_collection(self.districts.frame)["features"]

    @cached_property
    def demand(self):
        """The demand grid (``Settings.demand_path``: the imported one if any, else the shipped modelled
        one), prepared for coverage (``geo.coverage.PreparedGrid``). Loaded on first use."""
        from geo.coverage import PreparedGrid
        from geo.demand import load_demand

        names = self.districts.names
        if not self.region.modelled_demand and not self.settings.imported_demand_path.exists():
            from geo.errors import Conflict

            raise Conflict(f"no demand is loaded for {self.region.name_en} ({self.region.adcode}): the modelled "
                           "census grid covers Qingdao only; import one with `workermap import-demand FILE` and "
                           "restart the server", code="no_demand")
        return PreparedGrid(load_demand(self.settings.demand_path), names)

    @cached_property
    def region_entries(self) -> list:
        """The region's units as place-search entries (``geo.regions.search_entries``)."""
        return search_entries(self.region, self.districts)

    @cached_property
    def osm_landmarks(self) -> list:
        """The imported OpenStreetMap extract's landmarks as place-search entries (``geo.osm``; none without one)."""
        from geo.osm import landmark_entries

        return landmark_entries(self.settings)

