"""Read the union's spreadsheets: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030), XLSX, GeoJSON.

Returns raw rows keyed by canonical field names (Chinese or English headers are
both understood) together with the row number a person sees in the file: the
spreadsheet row (header = row 1) or the GeoJSON feature number (first = 1).
Nothing here judges values; :mod:`geo.validate` does.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "HEADER_ALIASES", "MAX_FILE_BYTES", "RawRow", "ReadError", "decode_text", "geojson_rows", "read_rows",
]

#: Largest file an import accepts (bytes).
MAX_FILE_BYTES = 20 * 1024 * 1024

#: Canonical field -> accepted headers (compared case-insensitively, spaces stripped).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "编号", "序号id", "设施编号"),
    "kind": ("kind", "type", "类型", "类别", "设施类型"),
    "name": ("name", "名称", "设施名称", "站点名称"),
    "name_en": ("name_en", "英文名称", "englishname"),
    "district": ("district", "区市", "区县", "所属区市", "所属区", "区"),
    "township": ("township", "街道", "街道/镇", "镇街", "所属街道"),
    "address": ("address", "地址", "详细地址"),
    "lon": ("lon", "lng", "longitude", "x", "经度"),
    "lat": ("lat", "latitude", "y", "纬度"),
    "opening_hours": ("opening_hours", "hours", "开放时间", "营业时间"),
    "workday_calendar": ("workday_calendar", "工作日历", "按工作日历", "调休"),
    "amenities": ("amenities", "设施", "服务设施", "服务项目"),
    "access": ("access", "开放对象", "服务对象"),
    "entry": ("entry", "进入方式", "入站方式"),
    "capacity": ("capacity", "容量", "座位数", "床位数"),
    "status": ("status", "状态", "运营状态"),
    "verified_at": ("verified_at", "核验日期", "核实日期", "更新日期"),
    "phone": ("phone", "电话", "联系电话"),
    "host": ("host", "依托单位", "所在单位", "承建单位"),
    "sample": ("sample", "样例"),
    "source_crs": ("source_crs",),
    "source_lon": ("source_lon",),
    "source_lat": ("source_lat",),
}
_LOOKUP = {alias.lower(): canon for canon, aliases in HEADER_ALIASES.items() for alias in aliases}


class ReadError(ValueError):
    """The file as a whole cannot be read (encoding, format, size)."""


@dataclass(frozen=True)
class RawRow:
    row: int  # the number a person sees: spreadsheet row, or feature number
    values: dict[str, Any]
    unknown_columns: tuple[str, ...] = ()


def _canonical(header: Any) -> str | None:
    key = str(header or "").strip().replace(" ", "").lower()
    return _LOOKUP.get(key)


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode CSV bytes: UTF-8 (with or without BOM), else GB18030 (a superset of GBK).

    >>> decode_text("名称".encode("gbk"))
    ('名称', 'gb18030')
    >>> decode_text(b"\\xef\\xbb\\xbfname")
    ('name', 'utf-8-sig')
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise ReadError(
            f"file encoding not recognised: it is neither UTF-8 nor GBK/GB18030 (bad byte at offset {exc.start})"
        ) from None


def _rows_from_table(header: list[Any], body: list[tuple[int, list[Any]]]) -> list[RawRow]:
    canon = [_canonical(h) for h in header]
    if not any(canon):
        raise ReadError(
            "no known column headers found; expected e.g. 名称/name, 类型/kind, 经度/lon, 纬度/lat "
            f"(got {', '.join(str(h) for h in header[:10])})"
        )
    seen: dict[str, int] = {}
    for c in canon:
        if c:
            seen[c] = seen.get(c, 0) + 1
    dup = [c for c, n in seen.items() if n > 1]
    if dup:
        raise ReadError(f"columns given twice: {', '.join(dup)}")
    unknown = tuple(str(h) for h, c in zip(header, canon, strict=True) if not c and str(h or "").strip())
    out = []
    for rownum, cells in body:
        if all(c is None or str(c).strip() == "" for c in cells):
            continue  # blank line
        values = {c: cells[i] if i < len(cells) else None for i, c in enumerate(canon) if c}
        out.append(RawRow(rownum, values, unknown))
    return out


def _read_csv(data: bytes) -> list[RawRow]:
    text, _ = decode_text(data)
    if "\x00" in text:
        raise ReadError("file contains NUL bytes: it is not a text CSV")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ReadError(f"CSV cannot be parsed: {exc}") from None
    if not rows:
        raise ReadError("file is empty: no header row")
    # csv line numbers == row numbers only without embedded newlines; count records instead.
    return _rows_from_table(rows[0], [(i + 2, r) for i, r in enumerate(rows[1:])])


def _read_xlsx(data: bytes) -> list[RawRow]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ReadError(f"XLSX file cannot be opened (truncated or not an Excel file): {exc}") from None
    try:
        ws = wb.worksheets[0]
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
        raise ReadError(f"XLSX file cannot be read (truncated or damaged): {exc}") from None
    finally:
        wb.close()
    if not rows:
        raise ReadError("workbook's first sheet is empty: no header row")
    return _rows_from_table(rows[0], [(i + 2, r) for i, r in enumerate(rows[1:])])


def geojson_rows(data: bytes | dict) -> list[RawRow]:
    """Rows of a GeoJSON FeatureCollection given as bytes or as the already parsed document."""
    if isinstance(data, dict):
        doc = data
    else:
        try:
            doc = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ReadError(f"GeoJSON cannot be parsed: {exc}") from None
        except ValueError:  # int() refuses more than 4300 digits (sys.get_int_max_str_digits)
            raise ReadError("GeoJSON cannot be parsed: a number has too many digits") from None
        except RecursionError:
            raise ReadError("GeoJSON cannot be parsed: arrays or objects nested too deeply") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ReadError("GeoJSON must be a FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        raise ReadError("GeoJSON FeatureCollection has no 'features' list")
    out = []
    for i, feat in enumerate(features, start=1):
        values: dict[str, Any] = {}
        unknown: list[str] = []
        if isinstance(feat, dict):
            props = feat.get("properties")
            if isinstance(props, dict):
                for k, v in props.items():
                    c = _canonical(k)
                    if c:
                        values[c] = v
                    else:
                        unknown.append(str(k))
            elif props is not None:
                values["_properties_error"] = f"properties must be a JSON object or null, got {_json_type(props)}"
            if "id" in feat and "id" not in values:
                values["id"] = feat["id"]
            geom = feat.get("geometry")
            if geom is not None:  # null: an unlocated feature (RFC 7946); lon/lat may be properties
                problem = _point_problem(geom)
                if problem:
                    values["_geometry_error"] = problem
                else:
                    values["lon"], values["lat"] = geom["coordinates"][0], geom["coordinates"][1]
        else:
            values["_geometry_error"] = f"feature is not a JSON object, got {_json_type(feat)}"
        out.append(RawRow(i, values, tuple(unknown)))
    return out


def _json_type(value: Any) -> str:
    """How a parsed JSON value reads in a message: its JSON type and (shortened) text.

    >>> _json_type("x"), _json_type([1, 2]), _json_type(None)
    ("a string ('x')", 'an array ([1, 2])', 'null')
    """
    if value is None:
        return "null"
    kind = ("a boolean" if isinstance(value, bool) else "a number" if isinstance(value, int | float)
            else "a string" if isinstance(value, str) else "an array" if isinstance(value, list)
            else "an object" if isinstance(value, dict) else type(value).__name__)
    try:
        text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):  # an int of > 4300 digits, a very deep array
        return kind
    return f"{kind} ({text[:40]}{'…' if len(text) > 40 else ''})"


def _point_problem(geom: Any) -> str | None:
    """Why ``geom`` is not a GeoJSON Point with ``[lon, lat]`` numbers (None if it is one)."""
    if not isinstance(geom, dict):
        return f"geometry must be a GeoJSON Point object, got {_json_type(geom)}"
    kind = geom.get("type")
    if kind != "Point":
        return f"geometry must be a Point, got {kind[:40] if isinstance(kind, str) else _json_type(kind)}"
    coords = geom.get("coordinates")
    if (not isinstance(coords, list) or len(coords) < 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords)):
        return f"Point coordinates must be an array of numbers [lon, lat], got {_json_type(coords)}"
    return None


def read_limited(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of an uploaded file, refused (:class:`ReadError`) when missing, empty or over ``max_bytes``."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReadError(f"cannot read {path.name}: {exc.strerror}") from None
    if size == 0:
        raise ReadError(f"{path.name} is empty (0 bytes)")
    if size > max_bytes:
        raise ReadError(f"{path.name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
    return path.read_bytes()


def read_rows(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> list[RawRow]:
    """Read ``path`` (by extension: .csv, .xlsx, .geojson/.json) into raw rows."""
    path = Path(path)
    data = read_limited(path, max_bytes)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return _read_csv(data)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(data)
    if suffix in (".geojson", ".json"):
        return geojson_rows(data)
    raise ReadError(f"file type {suffix or '(none)'} not supported; use .csv, .xlsx or .geojson")
