"""Qingdao's district polygons (WGS84) and point-in-district look-ups."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["Districts", "load_districts"]


@dataclass(frozen=True)
class Districts:
    """The 10 county-level units, in WGS84, with prepared geometries for look-ups."""

    frame: gpd.GeoDataFrame  # columns adcode, name, name_en, geometry

    def __post_init__(self):  # look-up tables, built once (validation asks for every row)
        adcodes, names, names_en = (self.frame[c].astype(str).tolist() for c in ("adcode", "name", "name_en"))
        object.__setattr__(self, "names", dict(zip(adcodes, names, strict=True)))
        by_name = dict(zip(names_en, adcodes, strict=True)) | dict(zip(names, adcodes, strict=True))
        by_name.pop("", None)
        object.__setattr__(self, "_adcode_by_name", by_name)
        #: Every way a request may name a district (adcode, Chinese or English name) -> its adcode.
        lookup = {**{a: a for a in adcodes}, **dict(zip(names, adcodes, strict=True)),
                  **dict(zip(names_en, adcodes, strict=True))}
        lookup.pop("", None)
        object.__setattr__(self, "lookup", lookup)

    @property
    def adcodes(self) -> list[str]:
        return list(self.names)

    def name_of(self, adcode: str) -> str:
        try:
            return self.names[adcode]
        except KeyError:
            raise KeyError(f"unknown district adcode {adcode!r}; known: {', '.join(self.adcodes)}") from None

    def adcode_of_name(self, name: str) -> str | None:
        """The adcode of a Chinese or English district name (``None`` if unknown).

        >>> d = load_districts()
        >>> d.adcode_of_name("Shinan"), d.lookup["市南区"], d.lookup["370202"]
        ('370202', '370202', '370202')
        """
        return self._adcode_by_name.get(name)

    def locate(self, lon, lat) -> np.ndarray:
        """Adcode of the district containing each point ('' where none; edges count).

        >>> d = load_districts()
        >>> list(d.locate([120.3843, 122.0], [36.0620, 36.0]))
        ['370202', '']
        """
        lon = np.atleast_1d(np.asarray(lon, dtype="float64"))
        lat = np.atleast_1d(np.asarray(lat, dtype="float64"))
        out = np.full(lon.shape, "", dtype=object)
        for adcode, geom in zip(self.frame["adcode"], self.frame.geometry, strict=True):
            todo = out == ""
            if not todo.any():
                break
            hit = shapely.intersects_xy(geom, lon[todo], lat[todo])
            idx = np.flatnonzero(todo)[hit]
            out[idx] = adcode
        return out


def load_districts(path: str | Path | None = None) -> Districts:
    """Read the shipped district layer (or ``path``) and prepare it for look-ups."""
    if path is None:
        from geo.settings import Settings

        path = Settings().districts_path
    frame = gpd.read_file(path)
    frame["adcode"] = frame["adcode"].astype(str)
    if "name_en" not in frame:
        frame["name_en"] = ""
    frame = frame.sort_values("adcode").reset_index(drop=True)
    shapely.prepare(frame.geometry.values)
    return Districts(frame)
