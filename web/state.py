"""What the app loads once and keeps: settings, districts, the registry and its derived data."""

from __future__ import annotations

import gzip
import logging
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property

from geo.export import districts_feature_collection, dumps_geojson, feature_collection
from geo.geography import Districts
from geo.nearest import FacilityIndex, Travel
from geo.query import FacilityTable
from geo.registry import Registry, RegistryError, RegistryStore
from geo.settings import Settings
from web.hitjson import HitEncoder
from web.maps import map_feature_collection, simplified_districts_geojson

log = logging.getLogger(__name__)


def _with_gzip(doc: dict) -> tuple[bytes, bytes]:
    body = dumps_geojson(doc).encode("utf-8")
    return body, gzip.compress(body, compresslevel=6, mtime=0)

#: How often (seconds) a worker checks whether the registry file changed.
RELOAD_CHECK_S = 0.5
#: Cached data that does not depend on the registry, kept when the registry is swapped.
REGISTRY_INDEPENDENT = frozenset({"travel", "districts_geojson", "district_features", "district_outlines", "demand"})


@dataclass
class AppState:
    settings: Settings
    districts: Districts
    store: RegistryStore
    registry: Registry
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _file_sig: tuple | None = field(default=None, repr=False)
    _checked_at: float = field(default=0.0, repr=False)

    def __post_init__(self):
        self._file_sig = self._signature()

    def _signature(self) -> tuple | None:
        try:
            st = self.store.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def swap(self, registry: Registry) -> None:
        """Serve ``registry`` from now on: every derived cache (index, GeoJSON …) is rebuilt lazily."""
        with self._lock:
            for name, attr in type(self).__dict__.items():
                if isinstance(attr, cached_property) and name not in REGISTRY_INDEPENDENT:
                    self.__dict__.pop(name, None)
            self.registry = registry

    def adopt(self, registry: Registry) -> None:
        """Serve a registry this process has just written (no re-read of the file)."""
        self.swap(registry)
        self._file_sig = self._signature()

    def reload_if_changed(self, *, force: bool = False) -> bool:
        """Pick up a registry file written by another process (CLI import, another worker).

        Checked at most every RELOAD_CHECK_S seconds; a file that fails validation is
        not taken (the current registry stays) and the problem is logged.
        """
        now = time.monotonic()
        if not force and now - self._checked_at < RELOAD_CHECK_S:
            return False
        self._checked_at = now
        sig = self._signature()
        if sig == self._file_sig and not force:
            return False
        try:
            registry = self.store.load(use_backup=False)
        except RegistryError as exc:
            log.error("registry file changed but is invalid; keeping version %s: %s", self.registry.version[:12], exc)
            self._file_sig = sig
            return False
        self._file_sig = sig
        if registry.version != self.registry.version:
            self.swap(registry)
            log.info("registry reloaded: %d facilities, version %s", len(registry), registry.version[:12])
            return True
        return False

    @cached_property
    def travel(self) -> Travel:
        s = self.settings
        return Travel.from_settings(s)

    @cached_property
    def index(self) -> FacilityIndex:
        """The nearest-facility index for this registry version (built once)."""
        return FacilityIndex(self.registry.facilities, travel=self.travel)

    @cached_property
    def hit_encoder(self) -> HitEncoder:
        """Serialises nearest hits from :attr:`index` (keeps each facility's fixed JSON once)."""
        return HitEncoder(self.index)

    @cached_property
    def counts(self) -> dict:
        return self.registry.counts()

    @cached_property
    def facilities_geojson(self) -> tuple[bytes, bytes]:
        """Every live facility as compact GeoJSON, and gzipped; built once per registry version."""
        meta = {"sample": self.registry.is_sample, "count": len(self.registry), "version": self.registry.version}
        return _with_gzip(feature_collection(self.index.facilities, meta))

    @cached_property
    def map_geojson(self) -> tuple[bytes, bytes]:
        """Every live facility with the few properties the map pages use (``web.maps``), and gzipped."""
        live = self.index.facilities
        return _with_gzip(map_feature_collection(live, {"sample": self.registry.is_sample, "count": len(live),
                                                        "version": self.registry.version}))

    @cached_property
    def district_outlines(self) -> tuple[bytes, bytes]:
        """District outlines simplified for drawing on a phone, and gzipped."""
        return _with_gzip(simplified_districts_geojson(self.districts.frame))

    @cached_property
    def districts_geojson(self) -> bytes:
        """The district polygons as RFC 7946 GeoJSON (the same features as the OGC API and exports)."""
        return dumps_geojson({"type": "FeatureCollection", "features": self.district_features}).encode("utf-8")

    @cached_property
    def facility_table(self) -> FacilityTable:
        """Column arrays over every facility (removed ones too) for OGC API and export queries."""
        return FacilityTable(self.registry.facilities)

    @cached_property
    def export_cache(self) -> dict[tuple, bytes]:
        """Unfiltered /api/v1/export downloads, filled on first request (a new dict per registry version)."""
        return {}

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
        return PreparedGrid(load_demand(self.settings.demand_path), names)

    @cached_property
    def planner_cache(self):
        """Coverage results, overlays, gaps, plans and reports by parameters (``geo.coverage.LruCache``);
        a new cache per registry version."""
        from geo.coverage import LruCache

        return LruCache(48)
