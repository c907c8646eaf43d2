"""What the app loads once and keeps: settings, districts, the registry and its derived data."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from functools import cached_property

from geo.export import dumps_geojson, feature_collection
from geo.geography import Districts
from geo.nearest import FacilityIndex, Travel
from geo.registry import Registry, RegistryStore
from geo.settings import Settings


@dataclass
class AppState:
    settings: Settings
    districts: Districts
    store: RegistryStore
    registry: Registry
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def travel(self) -> Travel:
        s = self.settings
        return Travel(detour_factor=s.detour_factor, walk_kmh=s.walk_kmh, ebike_kmh=s.ebike_kmh)

    @cached_property
    def index(self) -> FacilityIndex:
        """The nearest-facility index for this registry version (built once)."""
        return FacilityIndex(self.registry.facilities, travel=self.travel)

    @cached_property
    def facilities_geojson(self) -> bytes:
        """The whole registry as compact GeoJSON, built once per registry version."""
        meta = {"sample": self.registry.is_sample, "count": len(self.registry), "version": self.registry.version}
        live = [f for f in self.registry.facilities if f.status != "removed"]
        return dumps_geojson(feature_collection(live, meta)).encode("utf-8")

    @cached_property
    def facilities_geojson_gz(self) -> bytes:
        return gzip.compress(self.facilities_geojson, compresslevel=6, mtime=0)

    @cached_property
    def districts_geojson(self) -> bytes:
        return dumps_geojson(self.districts.to_geojson()).encode("utf-8")
