"""The coverage grid as a PNG image overlay for web maps (numpy + zlib; no imaging library).

The demand grid lives in EPSG:4549, a web map in Web Mercator. Leaflet's ``L.imageOverlay(url,
[[south, west], [north, east]])`` stretches an image linearly in Web Mercator between those
bounds, so the image is resampled on a raster whose columns are equally spaced in longitude and
whose rows are equally spaced in Mercator y (not in latitude: over Qingdao's 1.6° of latitude a
latitude-linear image would sit up to ~0.4 km off in the middle). Each pixel centre is mapped to
EPSG:4549 — exactly on a lattice of every 16th pixel, bilinearly in between (error < 1 mm) — and
takes the class of the demand cell it falls in (nearest neighbour); pixels on no cell are
transparent.

>>> import numpy as np
>>> png = encode_png(np.array([[0, 1], [2, 1]], dtype=np.uint8), [(0, 0, 0, 0), (255, 0, 0, 255), (0, 0, 255, 128)])
>>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", len(png) > 50
(True, True)
"""

from __future__ import annotations

import hashlib
import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from geo.coverage import EDGE_TOLERANCE_M, Coverage
from geo.crs import to_lonlat, to_metric

__all__ = ["CLASSES", "Overlay", "coverage_overlay", "distance_classes", "encode_png", "legend", "overlay_bounds"]

#: (key, label, RGBA) per class; class 0 is "no cell" (transparent).
CLASSES: tuple[tuple[str, str, tuple[int, int, int, int]], ...] = (
    ("none", "no land cell", (0, 0, 0, 0)),
    ("covered_half", "covered, within half the threshold", (26, 152, 80, 170)),
    ("covered", "covered, half to the full threshold", (145, 207, 96, 170)),
    ("near", "uncovered, 1–1.5 × the threshold", (254, 224, 139, 170)),
    ("far", "uncovered, 1.5–2 × the threshold", (252, 141, 89, 170)),
    ("very_far", "uncovered, beyond 2 × the threshold (or no facility)", (215, 48, 39, 170)),
)
_LATTICE = 16
MAX_PX = 2048


@dataclass(frozen=True)
class Overlay:
    png: bytes
    bounds: tuple[tuple[float, float], tuple[float, float]]  # ((south, west), (north, east))
    width: int
    height: int


def legend(radius_m: float) -> list[dict]:
    """Class, label, colour and distance range (m) of each overlay class for a threshold.

    >>> [row["to_m"] for row in legend(1000.0)]
    [500.0, 1000.0, 1500.0, 2000.0, None]
    """
    edges = [0.0, 0.5, 1.0, 1.5, 2.0, math.inf]
    out = []
    for k, (key, label, rgba) in enumerate(CLASSES[1:], start=1):
        hi = edges[k] * radius_m
        out.append({"class": k, "key": key, "label": label, "color": "#{:02x}{:02x}{:02x}".format(*rgba[:3]),
                    "opacity": round(rgba[3] / 255, 2), "from_m": round(edges[k - 1] * radius_m, 1),
                    "to_m": None if math.isinf(hi) else round(hi, 1)})
    return out


def distance_classes(distance_m: np.ndarray, radius_m: float) -> np.ndarray:
    """Class 1–5 of each cell (see :data:`CLASSES`); classes 1–2 are exactly the covered cells.

    >>> distance_classes(np.array([0.0, 500.0, 1000.0, 1000.1, 2500.0, np.inf]), 1000.0).tolist()
    [1, 1, 2, 3, 5, 5]
    """
    d = np.asarray(distance_m, dtype="float64")
    r = radius_m + EDGE_TOLERANCE_M
    out = np.full(d.shape, 5, dtype=np.uint8)
    out[d <= 2 * radius_m] = 4
    out[d <= 1.5 * radius_m] = 3
    out[d <= r] = 2
    out[d <= 0.5 * radius_m] = 1
    return out


def _merc_y(lat_deg):
    return np.log(np.tan(np.pi / 4 + np.radians(lat_deg) / 2))


def _merc_lat(y):
    return np.degrees(2 * np.arctan(np.exp(y)) - np.pi / 2)


def overlay_bounds(prepared, cells: np.ndarray | None = None) -> tuple[tuple[float, float], tuple[float, float]]:
    """((south, west), (north, east)) WGS84 of the cells' outer edges (all cells by default)."""
    row = prepared.row if cells is None else prepared.row[cells]
    col = prepared.col if cells is None else prepared.col[cells]
    cell = float(prepared.cell_m)
    x0, x1 = prepared.origin_x + col.min() * cell, prepared.origin_x + (col.max() + 1) * cell
    y0, y1 = prepared.origin_y + row.min() * cell, prepared.origin_y + (row.max() + 1) * cell
    t = np.linspace(0.0, 1.0, 65)  # the box's edges bend in lon/lat: sample them
    xs = np.concatenate([x0 + (x1 - x0) * t, np.full(65, x1), x0 + (x1 - x0) * t, np.full(65, x0)])
    ys = np.concatenate([np.full(65, y0), y0 + (y1 - y0) * t, np.full(65, y1), y0 + (y1 - y0) * t])
    lon, lat = to_lonlat(xs, ys)
    return (round(float(np.min(lat)), 6), round(float(np.min(lon)), 6)), \
        (round(float(np.max(lat)), 6), round(float(np.max(lon)), 6))


def _lattice_interp(values: np.ndarray, at: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Linear interpolation along ``axis`` from lattice positions ``at`` to 0..n-1."""
    pos = np.arange(n, dtype="float64")
    k = np.clip(np.searchsorted(at, pos, side="right") - 1, 0, len(at) - 2)
    frac = ((pos - at[k]) / (at[k + 1] - at[k]))
    if axis == 0:
        return values[k, :] * (1 - frac)[:, None] + values[k + 1, :] * frac[:, None]
    return values[:, k] * (1 - frac)[None, :] + values[:, k + 1] * frac[None, :]


def resample(prepared, cell_values: np.ndarray, *, bounds=None, cells: np.ndarray | None = None,
             max_px: int = MAX_PX) -> tuple[np.ndarray, tuple]:
    """Cell values (uint8, 0 = transparent) on a Leaflet-ready raster: (image rows north→south, bounds).

    Which cell lies under each pixel depends on the grid alone: it is worked out once per grid, bounds and
    cells (``PreparedGrid.memo``), and each image is one lookup."""
    key = ("overlay-pixels", bounds, max_px,
           None if cells is None else hashlib.blake2b(np.asarray(cells, dtype=np.int64).tobytes()).digest())
    idx, bounds = prepared.memo(key, lambda: _pixel_cells(prepared, bounds, cells, max_px))
    values = np.append(np.asarray(cell_values, dtype=np.uint8), np.uint8(0))  # index -1: no cell, transparent
    return values[idx], bounds


def _pixel_cells(prepared, bounds, cells: np.ndarray | None, max_px: int) -> tuple[np.ndarray, tuple]:
    """(the index of the cell under each pixel, -1 for none; the bounds) of the raster :func:`resample` fills."""
    bounds = bounds or overlay_bounds(prepared, cells)
    (south, west), (north, east) = bounds
    cell = float(prepared.cell_m)
    mid = math.radians((south + north) / 2)
    width_m = (east - west) * 111_320.0 * math.cos(mid)
    height_m = (north - south) * 110_574.0
    px_m = max(cell / 2, max(width_m, height_m) / max_px)
    w = max(2, min(max_px, int(math.ceil(width_m / px_m))))
    h = max(2, min(max_px, int(math.ceil(height_m / px_m))))
    lon = west + (np.arange(w) + 0.5) * (east - west) / w
    ytop, ybot = _merc_y(north), _merc_y(south)
    lat = _merc_lat(ytop + (np.arange(h) + 0.5) * (ybot - ytop) / h)
    rows_l = np.unique(np.r_[np.arange(0, h, _LATTICE), h - 1])
    cols_l = np.unique(np.r_[np.arange(0, w, _LATTICE), w - 1])
    glon, glat = np.meshgrid(lon[cols_l], lat[rows_l])
    x, y = to_metric(glon.ravel(), glat.ravel())
    x = np.asarray(x).reshape(glon.shape)
    y = np.asarray(y).reshape(glon.shape)
    fx = _lattice_interp(_lattice_interp(x, cols_l, w, 1), rows_l, h, 0)
    fy = _lattice_interp(_lattice_interp(y, cols_l, w, 1), rows_l, h, 0)
    c = np.floor((fx - prepared.origin_x) / cell).astype(np.int64)
    r = np.floor((fy - prepared.origin_y) / cell).astype(np.int64)
    inside = (r >= 0) & (r < prepared.shape[0]) & (c >= 0) & (c < prepared.shape[1])
    idx = np.full(r.shape, -1, dtype=np.int32)
    idx[inside] = prepared.pixel_cell[r[inside], c[inside]]
    if cells is not None:
        keep = np.zeros(len(prepared), dtype=bool)
        keep[cells] = True
        idx[(idx >= 0) & ~keep[np.maximum(idx, 0)]] = -1
    idx.setflags(write=False)
    return idx, bounds


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image: np.ndarray, palette: list[tuple[int, int, int, int]],
               text: dict[str, str] | None = None) -> bytes:
    """An 8-bit palette PNG (transparency via tRNS) of ``image`` (uint8 palette indices, row 0 on top);
    ``text`` becomes UTF-8 iTXt chunks."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    h, w = image.shape
    raw = np.zeros((h, w + 1), dtype=np.uint8)  # filter byte 0 (None) per row
    raw[:, 1:] = image
    out = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)),
           _chunk(b"PLTE", bytes(v for rgba in palette for v in rgba[:3])),
           _chunk(b"tRNS", bytes(rgba[3] for rgba in palette))]
    for key, value in (text or {}).items():
        out.append(_chunk(b"iTXt", key.encode("latin-1")[:79] + b"\x00\x00\x00\x00\x00" + value.encode("utf-8")))
    out.append(_chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)))
    out.append(_chunk(b"IEND", b""))
    return b"".join(out)


def coverage_overlay(cov: Coverage, *, district: str | None = None, max_px: int = MAX_PX) -> Overlay:
    """The PNG overlay of ``cov`` (the whole city, or one district with its own bounds)."""
    mask = cov.prepared.cell_mask(district)
    cells = None if mask is None else np.flatnonzero(mask)
    classes = distance_classes(cov.scaled_distance_m, cov.radius_m)  # routed minutes: in the threshold's terms
    image, bounds = resample(cov.prepared, classes, cells=cells, max_px=max_px)
    a = cov.assumptions()
    text = {"Title": "workermap coverage grid", "Software": "workermap",
            "Description": f"threshold {cov.threshold.label}; travel {a['travel']['model']}; detour factor "
                           f"{a['detour_factor']}, walk {a['walk_kmh']} km/h, e-bike {a['ebike_kmh']} km/h; "
                           f"demand {cov.prepared.source}; "
                           f"bounds S,W,N,E {bounds[0][0]},{bounds[0][1]},{bounds[1][0]},{bounds[1][1]}"}
    png = encode_png(image, [c[2] for c in CLASSES], text)
    return Overlay(png, bounds, image.shape[1], image.shape[0])
