"""The registry store: GeoPackage (embedded default) or PostgreSQL + PostGIS.

>>> from geo.store.backends import backend_for
>>> backend_for("", "/srv/workermap").path.name
'workermap.gpkg'
>>> backend_for("postgresql://app:secret@db:5432/workermap", ".").where
'postgresql://app:***@db:5432/workermap'
"""

from __future__ import annotations

from pathlib import Path

from geo.geography import Districts
from geo.store.backends import Backend, GeoPackage, PostGIS, StoreUnavailable, backend_for
from geo.store.registry_store import RegistryStore

__all__ = ["Backend", "GeoPackage", "PostGIS", "RegistryStore", "StoreUnavailable", "backend_for", "open_store"]


def open_store(settings, districts: Districts) -> RegistryStore:
    """The store the settings name (``database_url``, else the GeoPackage in ``data_dir``).

    Nothing is opened yet: the first use connects, migrates and (if empty) fills it
    from a legacy GeoJSON data directory or the shipped sample.
    """
    return RegistryStore(backend_for(settings.database_url, settings.data_dir), districts,
                         seed_from=settings.sample_path, legacy_dir=Path(settings.data_dir))
