"""Single-record edits (admin API and CLI): validated exactly like an import row."""

from __future__ import annotations

from typing import Any

from geo import datum
from geo.geography import Districts
from geo.model import FIELDS, Facility
from geo.registry import RegistryError
from geo.tabular import RawRow
from geo.validate import validate_rows

__all__ = ["EDITABLE", "facility_from_values", "patched"]

#: Fields a person may set; district comes from the point, source_* from the datum conversion.
EDITABLE = frozenset(FIELDS) - {"district_adcode", "district", "source_crs", "source_lon", "source_lat"}


def facility_from_values(values: dict[str, Any], districts: Districts, *, crs: str = "wgs84") -> Facility:
    """A facility from field values (``lon``/``lat`` in ``crs``); RegistryError lists every problem."""
    unknown = sorted(set(values) - EDITABLE - {"source_crs", "source_lon", "source_lat"})
    if unknown:
        raise RegistryError(f"unknown field {unknown[0]!r}; editable: {', '.join(sorted(EDITABLE))}")
    if crs not in datum.DATUMS:
        raise RegistryError(f"crs must be one of {', '.join(datum.DATUMS)}, got {crs!r}")
    values = dict(values)
    for key in ("amenities", "entry"):
        if isinstance(values.get(key), list | tuple):
            values[key] = ";".join(map(str, values[key]))
    if isinstance(values.get("sample"), bool):
        values["sample"] = "true" if values["sample"] else "false"
    result = validate_rows([RawRow(1, values)], districts, crs=crs)
    if not result.ok:
        raise RegistryError(f"{len(result.errors)} problems; nothing was written", result.errors)
    return result.facilities[0]


def patched(current: Facility, changes: dict[str, Any], districts: Districts, *, crs: str = "wgs84") -> Facility:
    """``current`` with ``changes`` applied (new ``lon``/``lat`` in ``crs``), validated as a whole."""
    if "id" in changes and changes["id"] != current.id:
        raise RegistryError("id cannot be changed")
    values = {k: v for k, v in current.properties().items() if k in EDITABLE}
    moved = "lon" in changes or "lat" in changes
    if not moved and current.source_crs != "wgs84":  # keep the import's source coordinates
        values.update(source_crs=current.source_crs, source_lon=current.source_lon, source_lat=current.source_lat)
    if moved and crs != "wgs84":
        lon = changes.get("lon", datum.convert(current.lon, current.lat, src="wgs84", dst=crs)[0])
        lat = changes.get("lat", datum.convert(current.lon, current.lat, src="wgs84", dst=crs)[1])
        changes = {**changes, "lon": lon, "lat": lat}
    values.update(changes)
    return facility_from_values(values, districts, crs=crs if moved else "wgs84")
