"""Demand: where residents and outdoor workers are, on a square grid in EPSG:4549.

No open population grid of Qingdao exists, so the product ships a *modelled* grid
(``geo/shipped/demand_grid_250m.csv.gz``, built by ``data/build_demand.py``) and can import a real
one (a points CSV or a population GeoTIFF) in its place.

Grid
    Square cells of ``cell_m`` metres in EPSG:4549 (:mod:`geo.crs`), aligned on multiples of
    ``cell_m`` so grids of one size always line up. A cell exists only on land: its centre
    lies inside a district polygon (edges count, first district by adcode wins, exactly as
    :meth:`geo.geography.Districts.locate`), and it belongs to that district.

District totals (census 2020, ``geo/shipped/reference/qingdao_district_census2020.csv``)
    residents = ``census2020_resident_pop`` (城阳区 370214 uses ``pop_for_polygon``, which folds
    in the High-tech Zone statistical unit 370271 that lies inside it); the 10 districts sum
    to 10,071,722. Outdoor workers = residents × ``employment_ratio_16plus_sample`` ×
    (``share_transport_storage_post`` + ``share_accommodation_catering`` +
    ``share_water_env_public_facilities``) -- riders and couriers, catering staff, sanitation
    workers. For 城阳区 the High-tech Zone adds its own figure computed with its own ratios.

Settlement model (within a district)
    weight(cell) = rural floor + Σ_c M_c · exp(−d_c / λ_c) / (2π λ_c²)   [persons per km²]

    * the rural floor is :data:`RURAL_FLOOR_PER_KM2` on every land cell;
    * each of the 11 urban centres (``qingdao_urban_centres_approx.csv``) has mass
      :data:`URBAN_MASS` and length :data:`URBAN_LAMBDA_KM` (strong and wide);
    * each of the 38 GeoNames town seats has mass :data:`TOWN_SEAT_SHARE` × its population
      and length :data:`TOWN_LAMBDA_KM`. GeoNames gives a county-level city its whole
      population (Qingdao 7.2 M, Jiaozhou 0.62 M), so populations are capped at
      :data:`TOWN_POP_CAP`; places without a population count as :data:`TOWN_POP_MISSING`.

    The kernel integrates to M_c over the plane, so M_c reads as "people around this centre".
    Every centre contributes to every cell (urban areas run across district borders); each
    district is then scaled to its census total, so only the shape within a district matters.
    Workers use a more urban weight: the floor × :data:`WORKER_FLOOR_FACTOR` and the urban
    centres × :data:`WORKER_URBAN_FACTOR` (delivery, catering and sanitation work follows shops
    and dense housing more than homes do).

    Values are rounded to 0.1 person by largest remainder within each district, so district
    sums equal the census totals exactly (workers: the census figure rounded to 0.1).

File format (``save_demand`` / ``load_demand``)
    gzip-compressed UTF-8 CSV. First line a comment
    ``# workermap demand grid; crs=EPSG:4549; cell_m=250; source=modelled``, then the header
    ``x,y,adcode,residents,workers``: cell centre in EPSG:4549 metres, 6-digit district adcode,
    residents and outdoor workers in the cell (one decimal). Rows sorted by y then x. The
    decompressed text is byte-identical for the same grid, and the gzip header carries no
    time or name, so the file is byte-identical too (given the same zlib).
"""

from __future__ import annotations

import gzip
import io
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo.atomic import atomic_write
from geo.crs import METRIC_CRS, to_lonlat, to_metric
from geo.geography import Districts

__all__ = [
    "DemandGrid",
    "build_demand_grid",
    "census_targets",
    "demand_from_points_csv",
    "demand_from_raster",
    "district_totals",
    "land_cells",
    "load_demand",
    "save_demand",
]

CENSUS_CSV = "qingdao_district_census2020.csv"  # in the shipped data's reference/ folder
CENTRES_CSV = "qingdao_urban_centres_approx.csv"
PLACES_GEOJSON = "qingdao_geonames_places_wgs84.geojson"


def _reference(name: str) -> Path:
    """A shipped reference table (``geo/shipped/reference/``), looked up on use."""
    from geo.settings import shipped_data_dir

    return shipped_data_dir() / "reference" / name


#: Statistical units folded into the district polygon that contains them.
FOLDED_UNITS = {"370271": "370214"}  # 青岛高新技术产业开发区 -> 城阳区
OUTDOOR_SHARES = (
    "share_transport_storage_post",
    "share_accommodation_catering",
    "share_water_env_public_facilities",
)

RURAL_FLOOR_PER_KM2 = 150.0
URBAN_MASS = 400_000.0
URBAN_LAMBDA_KM = 3.0
TOWN_SEAT_SHARE = 0.5
TOWN_LAMBDA_KM = 1.5
TOWN_POP_CAP = 200_000.0
TOWN_POP_MISSING = 20_000.0
WORKER_FLOOR_FACTOR = 0.5
WORKER_URBAN_FACTOR = 1.5

_HEADER = "x,y,adcode,residents,workers"


@dataclass(frozen=True, eq=False)
class DemandGrid:
    """Residents and outdoor workers per land cell.

    ``x``, ``y``: cell centres in EPSG:4549 metres; ``lon``, ``lat``: the same in WGS84;
    ``adcode``: the district of each cell (str); ``residents``, ``workers``: people per cell
    (float); ``cell_m``: cell size in metres; ``source``: ``"modelled"`` or
    ``"imported: <file>"``.
    """

    x: np.ndarray
    y: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    adcode: np.ndarray
    residents: np.ndarray
    workers: np.ndarray
    cell_m: int = 250
    source: str = "modelled"

    def __post_init__(self):
        n = len(self.x)
        for name in ("y", "lon", "lat", "adcode", "residents", "workers"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"DemandGrid.{name} has {len(getattr(self, name))} values, x has {n}")
        _check_cell_m(self.cell_m)

    def __len__(self) -> int:
        return len(self.x)

    @property
    def cell_area_km2(self) -> float:
        """Area of one cell in km² (EPSG:4549 is near-conformal here: scale error < 0.01 %)."""
        return self.cell_m**2 / 1e6


# --------------------------------------------------------------------------- census


def census_targets(census_csv: str | Path | None = None) -> pd.DataFrame:
    """Residents and outdoor workers per district polygon, from the census 2020 table.

    Returns a DataFrame indexed by adcode (str) with columns ``name``, ``residents`` (int)
    and ``workers`` (float), one row per district polygon (folded statistical units added
    to their district, see the module docstring).

    >>> t = census_targets()
    >>> int(t["residents"].sum()), len(t)
    (10071722, 10)
    """
    path = Path(census_csv) if census_csv is not None else _reference(CENSUS_CSV)
    raw = pd.read_csv(path, dtype={"adcode": str})
    missing = {
        "adcode",
        "name",
        "census2020_resident_pop",
        "employment_ratio_16plus_sample",
        *OUTDOOR_SHARES,
    } - set(raw.columns)
    if missing:
        raise ValueError(f"{path.name}: missing columns {', '.join(sorted(missing))}")
    share = raw[list(OUTDOOR_SHARES)].sum(axis=1)
    own_workers = raw["census2020_resident_pop"] * raw["employment_ratio_16plus_sample"] * share
    target = raw["adcode"].map(lambda a: FOLDED_UNITS.get(a, a))
    residents = raw.groupby(target)["census2020_resident_pop"].sum()
    workers = own_workers.groupby(target).sum()
    names = raw.loc[~raw["adcode"].isin(list(FOLDED_UNITS))].set_index("adcode")["name"]
    out = pd.DataFrame({"name": names, "residents": residents.astype("int64"), "workers": workers})
    if "pop_for_polygon" in raw:  # the table states the folded totals: check we agree
        stated = raw.dropna(subset=["pop_for_polygon"]).set_index("adcode")["pop_for_polygon"]
        bad = [a for a, v in stated.items() if int(v) != int(out.loc[a, "residents"])]
        if bad:
            raise ValueError(f"{path.name}: pop_for_polygon disagrees with the folded totals for {bad}")
    out.index.name = "adcode"
    return out.sort_index()


# --------------------------------------------------------------------------- grid


def _assign(districts: Districts, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Index (into ``districts.adcodes``) of the district containing each point, -1 if none.

    Same rule as :meth:`Districts.locate` (edges count, first adcode wins), with a
    bounding-box prefilter so a million points take well under a second.
    """
    out = np.full(lon.shape, -1, dtype="int16")
    for k, geom in enumerate(districts.frame.geometry):
        x0, y0, x1, y1 = geom.bounds
        idx = np.flatnonzero((out < 0) & (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
        hit = shapely.intersects_xy(geom, lon[idx], lat[idx])
        out[idx[hit]] = k
    return out


def _check_cell_m(cell_m) -> int:
    if isinstance(cell_m, bool) or not float(cell_m).is_integer() or not 1 <= cell_m <= 100_000:
        raise ValueError(f"cell_m must be a whole number of metres between 1 and 100000, got {cell_m!r}")
    return int(cell_m)


def land_cells(districts: Districts, *, cell_m: int = 250):
    """All land cells of a ``cell_m`` grid: ``(x, y, lon, lat, district index)`` arrays.

    Cells are aligned on multiples of ``cell_m`` in EPSG:4549 and kept where the centre is
    inside a district; the index points into ``districts.adcodes``.
    """
    cell_m = _check_cell_m(cell_m)
    coords = np.vstack([shapely.get_coordinates(g) for g in districts.frame.geometry])
    mx, my = to_metric(coords[:, 0], coords[:, 1])
    i0, i1 = math.floor(mx.min() / cell_m), math.ceil(mx.max() / cell_m)
    j0, j1 = math.floor(my.min() / cell_m), math.ceil(my.max() / cell_m)
    xs = (np.arange(i0, i1) + 0.5) * cell_m
    ys = (np.arange(j0, j1) + 0.5) * cell_m
    x = np.tile(xs, len(ys))
    y = np.repeat(ys, len(xs))
    lon, lat = to_lonlat(x, y)
    k = _assign(districts, lon, lat)
    keep = k >= 0
    return x[keep], y[keep], lon[keep], lat[keep], k[keep]


def _read_centres(centres_csv, places_geojson):
    """Kernel centres: (x, y, resident mass, worker mass, lambda_m) arrays."""
    cen = pd.read_csv(centres_csv, dtype={"adcode": str})
    with open(places_geojson, encoding="utf-8") as fh:
        places = json.load(fh)["features"]
    p_lon = np.array([f["geometry"]["coordinates"][0] for f in places], dtype="float64")
    p_lat = np.array([f["geometry"]["coordinates"][1] for f in places], dtype="float64")
    pop = np.array([f["properties"].get("population_geonames") or 0 for f in places], dtype="float64")
    pop = np.where(pop > 0, np.minimum(pop, TOWN_POP_CAP), TOWN_POP_MISSING)
    lon = np.concatenate([cen["lon"].to_numpy("float64"), p_lon])
    lat = np.concatenate([cen["lat"].to_numpy("float64"), p_lat])
    n_urban = len(cen)
    m_res = np.concatenate([np.full(n_urban, URBAN_MASS), TOWN_SEAT_SHARE * pop])
    m_wrk = np.concatenate([np.full(n_urban, URBAN_MASS * WORKER_URBAN_FACTOR), TOWN_SEAT_SHARE * pop])
    lam = np.concatenate([np.full(n_urban, URBAN_LAMBDA_KM), np.full(len(pop), TOWN_LAMBDA_KM)]) * 1000.0
    x, y = to_metric(lon, lat)
    return np.asarray(x), np.asarray(y), m_res, m_wrk, lam


def _settlement_weights(x, y, centres):
    """Resident and worker weights (persons/km² before scaling) at cell centres."""
    cx, cy, m_res, m_wrk, lam = centres
    res = np.full(x.shape, RURAL_FLOOR_PER_KM2)
    wrk = np.full(x.shape, RURAL_FLOOR_PER_KM2 * WORKER_FLOOR_FACTOR)
    for k in range(len(cx)):
        lam_km = lam[k] / 1000.0
        kern = np.exp(-np.hypot(x - cx[k], y - cy[k]) / lam[k]) / (2 * np.pi * lam_km**2)
        res += m_res[k] * kern
        wrk += m_wrk[k] * kern
    return res, wrk


def _allocate_tenths(weight: np.ndarray, group: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Split ``totals[g]`` over the cells of each group in proportion to ``weight``.

    Works in tenths with the largest-remainder rule, so each group sums exactly to its total
    rounded to 0.1 (ties go to the lower index: deterministic).
    """
    n_groups = len(totals)
    wsum = np.bincount(group, weights=weight, minlength=n_groups)
    units = np.round(np.asarray(totals, dtype="float64") * 10).astype("int64")
    share = weight / wsum[group] * units[group]
    base = np.floor(share).astype("int64")
    rem = share - base
    short = units - np.bincount(group, weights=base, minlength=n_groups).astype("int64")
    order = np.lexsort((np.arange(len(rem)), -rem, group))  # by group, largest remainder first
    sorted_group = group[order]
    starts = np.searchsorted(sorted_group, np.arange(n_groups))
    rank = np.arange(len(order)) - starts[sorted_group]
    bump = np.zeros(len(base), dtype="int64")
    bump[order[rank < short[sorted_group]]] = 1
    return (base + bump) / 10.0


def build_demand_grid(
    districts: Districts,
    census_csv: str | Path | None = None,
    centres_csv: str | Path | None = None,
    places_geojson: str | Path | None = None,
    *,
    cell_m: int = 250,
) -> DemandGrid:
    """Build the modelled demand grid (see the module docstring for the model).

    ``census_csv``, ``centres_csv`` and ``places_geojson`` default to the copies in
    ``geo/shipped/reference/``. About 0.5 s for 250 m cells (180,000) and 3 s for 100 m (1.1 M).
    """
    cell_m = _check_cell_m(cell_m)
    targets = census_targets(census_csv)
    adcodes = districts.adcodes
    unknown = sorted(set(adcodes) - set(targets.index))
    if unknown:
        raise ValueError(f"no census totals for districts {', '.join(unknown)}")
    x, y, lon, lat, k = land_cells(districts, cell_m=cell_m)
    empty = sorted(set(range(len(adcodes))) - set(np.unique(k).tolist()))
    if empty:
        raise ValueError(f"cell_m={cell_m} leaves no land cell in {[adcodes[i] for i in empty]}")
    centres = _read_centres(centres_csv or _reference(CENTRES_CSV),
                            places_geojson or _reference(PLACES_GEOJSON))
    w_res, w_wrk = _settlement_weights(x, y, centres)
    t = targets.loc[adcodes]
    residents = _allocate_tenths(w_res, k, t["residents"].to_numpy("float64"))
    workers = _allocate_tenths(w_wrk, k, t["workers"].to_numpy("float64"))
    return DemandGrid(
        x=x,
        y=y,
        lon=np.asarray(lon),
        lat=np.asarray(lat),
        adcode=np.asarray(adcodes, dtype=str)[k],
        residents=residents,
        workers=workers,
        cell_m=int(cell_m),
        source="modelled",
    )


def district_totals(grid: DemandGrid) -> pd.DataFrame:
    """Cells, residents and outdoor workers per district (columns adcode, cells, residents, workers)."""
    frame = pd.DataFrame({"adcode": grid.adcode, "residents": grid.residents, "workers": grid.workers})
    out = frame.groupby("adcode", sort=True).agg(
        cells=("residents", "size"), residents=("residents", "sum"), workers=("workers", "sum")
    )
    return out.reset_index()


# --------------------------------------------------------------------------- file


def _coord_column(v: np.ndarray) -> np.ndarray:
    """Cell centres as int64 when all are whole metres (even ``cell_m``), else float (x.5)."""
    return v.astype("int64") if np.all(v == np.round(v)) else v


def save_demand(grid: DemandGrid, path: str | Path) -> None:
    """Write ``grid`` as the gzip CSV described in the module docstring (deterministic bytes, atomically)."""
    order = np.lexsort((grid.x, grid.y))
    frame = pd.DataFrame(
        {
            "x": _coord_column(grid.x[order]),
            "y": _coord_column(grid.y[order]),
            "adcode": grid.adcode[order],
            "residents": np.round(grid.residents[order], 1),
            "workers": np.round(grid.workers[order], 1),
        }
    )
    source = str(grid.source).replace("\n", " ").replace(";", ",")
    text = io.StringIO()
    text.write(f"# workermap demand grid; crs={METRIC_CRS}; cell_m={grid.cell_m:g}; source={source}\n")
    frame.to_csv(text, index=False, float_format="%.1f", lineterminator="\n")
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
        gz.write(text.getvalue().encode("utf-8"))
    atomic_write(path, raw.getvalue())  # a running server may be reading the old grid


def load_demand(path: str | Path) -> DemandGrid:
    """Read a grid written by :func:`save_demand` (or a plain ``x,y,adcode,residents,workers`` CSV).

    Without the comment line, ``cell_m`` is the smallest spacing of the x and y values and the
    source is ``imported: <file name>``.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        first = fh.readline()
        meta = {}
        if first.startswith("#"):
            for part in first[1:].split(";"):
                key, sep, value = part.strip().partition("=")
                if sep:
                    meta[key.strip()] = value.strip()
        else:
            fh.seek(0)
        frame = pd.read_csv(fh, dtype={"adcode": str})
    missing = set(_HEADER.split(",")) - set(frame.columns)
    if missing:
        raise ValueError(f"{path.name}: missing columns {', '.join(sorted(missing))} (expected {_HEADER})")
    if meta.get("crs", METRIC_CRS) != METRIC_CRS:
        raise ValueError(f"{path.name}: crs must be {METRIC_CRS}, got {meta['crs']}")
    x = frame["x"].to_numpy("float64")
    y = frame["y"].to_numpy("float64")
    if "cell_m" in meta:
        cell_m = _check_cell_m(float(meta["cell_m"]))
    else:
        steps = np.concatenate([np.diff(np.unique(x)), np.diff(np.unique(y))])
        cell_m = int(round(steps.min())) if len(steps) else 250
    lon, lat = to_lonlat(x, y)
    return DemandGrid(
        x=x,
        y=y,
        lon=np.asarray(lon),
        lat=np.asarray(lat),
        adcode=frame["adcode"].to_numpy(dtype=str),
        residents=frame["residents"].to_numpy("float64"),
        workers=frame["workers"].to_numpy("float64"),
        cell_m=cell_m,
        source=meta.get("source", f"imported: {path.name}"),
    )


# --------------------------------------------------------------------------- importers


def _grid_from_points(
    x, y, residents, workers, districts: Districts, cell_m: int, source: str, census_csv=None
) -> DemandGrid:
    """Aggregate people at EPSG:4549 points into cells (workers NaN -> census ratio)."""
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    lon, lat = to_lonlat(x, y)
    k = _assign(districts, np.asarray(lon), np.asarray(lat))
    outside = int((k < 0).sum())
    if outside:
        warnings.warn(
            f"{source}: {outside} of {len(k)} points lie outside every district and were dropped",
            UserWarning,
            stacklevel=3,
        )
    keep = k >= 0
    frame = pd.DataFrame(
        {
            "i": np.floor(x[keep] / cell_m).astype("int64"),
            "j": np.floor(y[keep] / cell_m).astype("int64"),
            "k": k[keep],
            "residents": np.asarray(residents, dtype="float64")[keep],
            "workers": np.asarray(workers, dtype="float64")[keep],
        }
    )
    if frame["workers"].isna().any():
        targets = census_targets(census_csv)
        ratio = (targets["workers"] / targets["residents"]).reindex(districts.adcodes).to_numpy()
        frame["workers"] = frame["workers"].fillna(frame["residents"] * ratio[frame["k"]])
    cells = (
        frame.groupby(["j", "i"], sort=True)
        .agg(residents=("residents", "sum"), workers=("workers", "sum"))
        .reset_index()
    )
    # a cell's district: the one containing its centre, else (coastal cell) the one holding
    # most of its residents
    major = (
        frame.groupby(["j", "i", "k"])["residents"]
        .sum()
        .reset_index()
        .sort_values(["j", "i", "residents", "k"], ascending=[True, True, False, True])
        .drop_duplicates(["j", "i"])
    )
    cells = cells.merge(major[["j", "i", "k"]], on=["j", "i"], how="left")
    cx = (cells["i"].to_numpy() + 0.5) * cell_m
    cy = (cells["j"].to_numpy() + 0.5) * cell_m
    c_lon, c_lat = to_lonlat(cx, cy)
    ck = _assign(districts, np.asarray(c_lon), np.asarray(c_lat))
    ck = np.where(ck >= 0, ck, cells["k"].to_numpy())
    return DemandGrid(
        x=cx,
        y=cy,
        lon=np.asarray(c_lon),
        lat=np.asarray(c_lat),
        adcode=np.asarray(districts.adcodes, dtype=str)[ck],
        residents=cells["residents"].to_numpy("float64"),
        workers=cells["workers"].to_numpy("float64"),
        cell_m=cell_m,
        source=source,
    )


def demand_from_points_csv(
    path: str | Path, districts: Districts, *, cell_m: int = 250, census_csv: str | Path | None = None
) -> DemandGrid:
    """Aggregate a CSV of people at points (columns ``lon``, ``lat``, ``residents``, ``workers``,
    WGS84) into ``cell_m`` cells.

    ``workers`` may be missing or blank: it is then residents × the district's census share of
    outdoor workers. Points outside every district are dropped with a warning. A cell belongs
    to the district containing its centre (for a coastal cell whose centre is in the sea: the
    district holding most of its residents).
    """
    cell_m = _check_cell_m(cell_m)
    path = Path(path)
    frame = pd.read_csv(path)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = {"lon", "lat", "residents"} - set(frame.columns)
    if missing:
        raise ValueError(
            f"{path.name}: missing columns {', '.join(sorted(missing))}; "
            "expected lon,lat,residents,workers (WGS84 degrees, people)"
        )
    if "workers" not in frame:
        frame["workers"] = np.nan
    values = frame[["lon", "lat", "residents", "workers"]].apply(pd.to_numeric, errors="coerce")
    bad = values[["lon", "lat", "residents"]].isna().any(axis=1) | (values["residents"] < 0)
    bad |= values["workers"] < 0
    if bad.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad)[:10])
        raise ValueError(f"{path.name}: non-numeric or negative values on line(s) {rows}")
    x, y = to_metric(values["lon"].to_numpy(), values["lat"].to_numpy())
    return _grid_from_points(
        x, y, values["residents"], values["workers"], districts, cell_m, f"imported: {path.name}", census_csv
    )


def demand_from_raster(
    path: str | Path, districts: Districts, *, cell_m: int = 250, census_csv: str | Path | None = None
) -> DemandGrid:
    """Aggregate a population-count GeoTIFF (people per pixel, any CRS) into ``cell_m`` cells.

    Needs ``rasterio`` (imported only here). Pixels larger than half a cell are split into
    equal sub-pixels first, so a 1 km raster spreads evenly over 250 m cells. Workers are
    residents × the district's census share of outdoor workers.
    """
    try:
        import rasterio
    except ImportError as exc:
        raise ImportError("reading a population GeoTIFF needs rasterio: pip install rasterio") from exc
    from pyproj import Transformer

    cell_m = _check_cell_m(cell_m)
    path = Path(path)
    with rasterio.open(path) as src:
        if src.crs is None:
            raise ValueError(f"{path.name}: the raster has no CRS")
        band = src.read(1, masked=True).astype("float64")
        transform = src.transform
        crs_wkt = src.crs.to_wkt()
    values = np.ma.filled(band, 0.0)
    values[~np.isfinite(values) | (values < 0)] = 0.0
    rows, cols = np.nonzero(values > 0)
    if len(rows) == 0:
        raise ValueError(f"{path.name}: no pixel with a positive population")
    to_4549 = Transformer.from_crs(crs_wkt, METRIC_CRS, always_xy=True)

    a, b, c0_, d, e, f = (float(v) for v in tuple(transform)[:6])

    def pixel_xy(r, c):  # fractional (row, col) -> EPSG:4549 via the raster's affine transform
        r, c = np.asarray(r, dtype="float64"), np.asarray(c, dtype="float64")
        return to_4549.transform(a * c + b * r + c0_, d * c + e * r + f)

    # pixel size on the ground, at the middle of the populated pixels
    r0, c0 = int(np.median(rows)), int(np.median(cols))
    x00, y00 = pixel_xy(r0 + 0.5, c0 + 0.5)
    x01, y01 = pixel_xy(r0 + 0.5, c0 + 1.5)
    x10, y10 = pixel_xy(r0 + 1.5, c0 + 0.5)
    size_m = max(math.hypot(x01 - x00, y01 - y00), math.hypot(x10 - x00, y10 - y00))
    n = min(16, max(1, math.ceil(size_m / (cell_m / 2))))
    offsets = (np.arange(n) + 0.5) / n
    off_r, off_c = (a.ravel() for a in np.meshgrid(offsets, offsets, indexing="ij"))
    sub_r = (rows[:, None] + off_r[None, :]).ravel()
    sub_c = (cols[:, None] + off_c[None, :]).ravel()
    people = np.repeat(values[rows, cols] / (n * n), n * n)
    x, y = pixel_xy(sub_r, sub_c)
    return _grid_from_points(
        x, y, people, np.full(len(people), np.nan), districts, cell_m, f"imported: {path.name}", census_csv
    )
