"""The region's district polygons (WGS84: Qingdao's shipped ten, or another region's units from
``geo.regions``), point-in-district look-ups and outlines simplified for display."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["OUTLINE_GRID_DEG", "OUTLINE_TOLERANCE_M", "Districts", "load_districts", "prepare_districts",
           "simplified_outlines"]

#: How far (metres, in EPSG:4549) a display outline may stray from the real boundary: Douglas-Peucker
#: tolerance. 50 m is under one screen pixel up to zoom 11 (where the worker page opens: ~62 m a pixel
#: at 36° N) and makes the ten districts 18 KB Brotli instead of 85 KB (5,100 vertices instead of 19,900).
OUTLINE_TOLERANCE_M = 50.0
#: Display outlines are rounded to this grid (1e-5°: about 1 m); so at most ~0.7 m more than the tolerance.
OUTLINE_GRID_DEG = 1e-5


@dataclass(frozen=True)
class Districts:
    """The region's units (Qingdao: its 10 county-level districts; see ``geo.regions``), in WGS84, with
    prepared geometries for look-ups."""

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

    def outline_frame(self, tolerance_m: float = OUTLINE_TOLERANCE_M) -> gpd.GeoDataFrame:
        """A copy of :attr:`frame` with outlines simplified for drawing (:func:`simplified_outlines`).

        For display only: every computation (which district a point is in, exports) uses :attr:`frame`.
        """
        out = self.frame.copy()
        out["geometry"] = simplified_outlines(self.frame.geometry.values, tolerance_m)
        return out

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


def simplified_outlines(polygons, tolerance_m: float = OUTLINE_TOLERANCE_M, *,
                        grid_deg: float = OUTLINE_GRID_DEG, crs: str | None = None,
                        min_island_m2: float = 0.0) -> np.ndarray:
    """WGS84 (multi)polygons of a coverage (no overlaps, shared edges), simplified as a whole in metres.

    Neighbours keep one shared border (no gaps or overlaps between the simplified districts), every
    part (island) and hole is kept, and each outline stays within ``tolerance_m`` of the original
    (Hausdorff distance, plus the rounding to ``grid_deg``): the borders are cut into arcs between
    the points where three districts (or two and the sea) meet, the arcs are simplified together
    in ``crs`` (metres; default EPSG:4549, Qingdao's; another region's: ``geo.regions.Region.metric_crs``)
    with GEOS's topology-preserving Douglas-Peucker (arc ends stay, no arc crosses another), and the
    faces they enclose are given back to the district they cover. ``min_island_m2`` > 0: islands (parts
    touching no other district) smaller than this (m², in ``crs``) are left out, with their outlines.
    """
    from geo.crs import to_lonlat, to_metric

    if crs is not None:
        from pyproj import Transformer

        to_metric = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform
        to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform

    def projected(fn):
        return lambda xy: np.column_stack(fn(xy[:, 0], xy[:, 1]))

    metric = shapely.transform(np.asarray(polygons, dtype=object), projected(to_metric))
    if min_island_m2 > 0:
        metric = _without_islets(metric, min_island_m2)
    arcs = shapely.line_merge(shapely.union_all(shapely.boundary(metric)))  # noded at the junctions
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(
        shapely.simplify(arcs, tolerance_m, preserve_topology=True))))
    face_idx, poly_idx = shapely.STRtree(metric).query(faces, predicate="intersects")
    shared = shapely.area(shapely.intersection(faces[face_idx], metric[poly_idx]))
    owner = {}  # face -> (area shared, polygon): a face belongs to the polygon covering most of it
    for f, p, a in zip(face_idx.tolist(), poly_idx.tolist(), shared.tolist(), strict=True):
        if a > owner.get(f, (0.0, -1))[0]:
            owner[f] = (a, p)
    parts: list[list] = [[] for _ in metric]
    taken = set()
    for f, (a, p) in owner.items():
        if a > 0.5 * faces[f].area:  # a hole or the sea between districts belongs to none
            parts[p].append(faces[f])
            taken.add(f)
    _keep_islands(metric, faces, parts, taken)
    simplified = np.array([shapely.coverage_union_all(ps) for ps in parts], dtype=object)
    return shapely.set_precision(shapely.transform(simplified, projected(to_lonlat)), grid_deg)


def _without_islets(metric: np.ndarray, min_area: float) -> np.ndarray:
    """``metric`` without the parts smaller than ``min_area`` that touch no other polygon (the largest part of
    each polygon always stays)."""
    parts, owner = shapely.get_parts(metric, return_index=True)
    area = shapely.area(parts)
    small = np.flatnonzero(area < min_area)
    near_part, near_poly = shapely.STRtree(metric).query(parts[small], predicate="intersects")
    touching = {small[i] for i, p in zip(near_part.tolist(), near_poly.tolist(), strict=True) if p != owner[small[i]]}
    out = []
    for p, geom in enumerate(metric):
        mine = np.flatnonzero(owner == p)
        keep = [i for i in mine.tolist() if area[i] >= min_area or i in touching or area[i] == area[mine].max()]
        out.append(geom if len(keep) == len(mine) else shapely.multipolygons(parts[keep]))
    return np.array(out, dtype=object)


def _keep_islands(metric, faces, parts: list[list], taken: set) -> None:
    """Give back an island whose simplified face overlaps it by half or less (a small island simplified to a
    sliver at a coarse tolerance) and so went to no polygon: each part of a polygon that no face of the polygon
    touches gets the free face that overlaps it most."""
    tree = shapely.STRtree(faces)
    for p, geom in enumerate(metric):
        mine = shapely.union_all(parts[p]) if parts[p] else None
        for island in shapely.get_parts(geom):
            if mine is not None and shapely.intersects(island, mine):
                continue
            free = [f for f in tree.query(island, predicate="intersects").tolist() if f not in taken]
            if free:
                best = max(free, key=lambda f: shapely.area(shapely.intersection(faces[f], island)))
                parts[p].append(faces[best])
                taken.add(best)


def load_districts(path: str | Path | None = None) -> Districts:
    """Read the shipped district layer (or ``path``) and prepare it for look-ups (another region's units:
    ``geo.regions.Region.districts``)."""
    if path is None:
        from geo.settings import Settings

        path = Settings().districts_path
    return prepare_districts(gpd.read_file(path))


def prepare_districts(frame: gpd.GeoDataFrame) -> Districts:
    """Units (columns adcode, name, optional name_en, geometry in WGS84) prepared for look-ups, by adcode."""
    frame = frame.copy()
    frame["adcode"] = frame["adcode"].astype(str)
    if "name_en" not in frame:
        frame["name_en"] = ""
    frame = frame.sort_values("adcode").reset_index(drop=True)
    shapely.prepare(frame.geometry.values)
    return Districts(frame)
