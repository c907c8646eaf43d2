"""Build the offline gazetteer of place search: ``geo/shipped/gazetteer_qingdao.csv`` and
``geo/shipped/pinyin_chars.tsv``.

Inputs (all in the repository): the districts ``geo/shipped/qingdao_districts_wgs84.geojson``, the
townships ``geo/shipped/reference/qingdao_townships.csv`` and the GeoNames town seats
``geo/shipped/reference/qingdao_geonames_places_wgs84.geojson``; the pinyin comes from PyPI
``pypinyin==0.55.0`` (MIT), needed here only: the product reads the two files and never imports pypinyin.

* ``gazetteer_qingdao.csv``: one row per district, township and GeoNames place, with the Chinese name, its
  short form (``市南``, ``南村``), the pinyin of both (pypinyin's phrase dictionary picks the reading of
  polyphones: 长江路 chang, 泊里 bo), the English name and the WGS84 position with how it was found
  (``position``):

  - ``geonames:<id>``: the GeoNames town seat whose name is the pinyin of the short or full name, in the
    same district (胶州市 at Jiaozhou, 南村镇 at Nancun, 长江路街道 at Changjianglu Jiedao); such a place
    is not listed again as a place;
  - ``polylabel``: districts without a seat, at the pole of inaccessibility of their largest part
    (computed in EPSG:4549 metres, 10 m tolerance): a point well inside the district;
  - ``facilities``: townships without a seat have no position here (no township geometry exists openly);
    ``geo.search`` places them at the mean of the registry's facilities in that township, or leaves them
    out when there are none.

  GeoNames places that match no district or township are listed as places; the one that names the city
  (Qingdao) takes the city's Chinese name 青岛.
* ``pinyin_chars.tsv``: each syllable (tone marks removed, ü written v) with every CJK character (U+4E00 to
  U+9FFF) whose most common reading it is, so that ``geo.search`` can spell any query in pinyin and find
  李沧 from 李仓 (the commonest typing slip in Chinese is a character of the same sound).

Both are byte-identical from run to run (``tests/test_search.py`` rebuilds them when pypinyin is installed).

Usage (from the repository root)::

    pip install pypinyin==0.55.0
    python data/build_gazetteer.py          # -> geo/shipped/gazetteer_qingdao.csv, geo/shipped/pinyin_chars.tsv
    python data/build_gazetteer.py --out-dir /tmp/gaz
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make ``geo`` importable
    sys.path.insert(0, str(REPO_ROOT))

from geo.search import (  # noqa: E402
    DISTRICT_SUFFIXES,
    GAZETTEER_COLUMNS,
    GAZETTEER_FILE,
    PINYIN_FILE,
    TOWNSHIP_SUFFIXES,
    compact,
    short_name,
)

SHIPPED = REPO_ROOT / "geo" / "shipped"
PYPINYIN_VERSION = "0.55.0"
#: English words for a township's kind (the official romanisation: pinyin of the short name + the word).
TOWNSHIP_WORDS = {"街道": "Subdistrict", "镇": "Town", "乡": "Township"}
#: Other names in common use (for search only), by district adcode or township code.
ALIASES = {
    "370211": ("西海岸新区", "西海岸", "West Coast New Area"),
    "370214400": ("高新区", "青岛高新区"),
}
#: Readings pypinyin gets wrong in these names (it reads 泊 po here): the towns are Bóli and Duànbólán.
READINGS = {"泊里": "bo li", "段泊岚": "duan bo lan"}
#: The city's own name: the GeoNames place that carries it is listed as a place under this name.
CITY = ("青岛", "青岛市")
CJK_RANGE = range(0x4E00, 0xA000)


def _pinyin():
    try:
        import pypinyin
    except ImportError:
        raise SystemExit(f"building the gazetteer needs pypinyin: pip install pypinyin=={PYPINYIN_VERSION}") from None
    if pypinyin.__version__ != PYPINYIN_VERSION:
        print(f"warning: pypinyin {pypinyin.__version__}, the shipped files were made with {PYPINYIN_VERSION}",
              file=sys.stderr)
    return pypinyin


def spell(text: str) -> str:
    """The pinyin of ``text``, syllables separated by spaces (no tone marks, ü as v), polyphones by phrase
    (and by :data:`READINGS`)."""
    for phrase, reading in READINGS.items():
        if phrase in text:
            before, _, after = text.partition(phrase)
            return " ".join(part for part in (spell(before), reading, spell(after)) if part)
    pypinyin = _pinyin()
    return " ".join(s for s in pypinyin.lazy_pinyin(text, style=pypinyin.Style.NORMAL, errors="ignore") if s)


def _title(pinyin: str) -> str:
    return pinyin.replace(" ", "").capitalize()


def _polylabel(geometry) -> tuple[float, float]:
    import shapely
    from shapely.ops import polylabel

    from geo.crs import to_lonlat, to_metric

    parts = list(getattr(geometry, "geoms", [geometry]))
    largest = max(parts, key=lambda p: p.area)
    metric = shapely.transform(largest, lambda xy: list(zip(*to_metric(xy[:, 0], xy[:, 1]), strict=True)))
    point = polylabel(metric, tolerance=10.0)
    lon, lat = to_lonlat(point.x, point.y)
    return float(lon), float(lat)


def _places() -> list[dict]:
    doc = json.loads((SHIPPED / "reference" / "qingdao_geonames_places_wgs84.geojson").read_text(encoding="utf-8"))
    return [{**f["properties"], "lon": f["geometry"]["coordinates"][0], "lat": f["geometry"]["coordinates"][1]}
            for f in doc["features"]]


def _seat(places: list[dict], adcode: str, *spellings: str) -> dict | None:
    """The GeoNames place in district ``adcode`` whose name is one of ``spellings`` (pinyin, compacted)."""
    wanted = {compact(s) for s in spellings}
    found = [p for p in places if p["district_adcode"] == adcode and compact(p["name"]) in wanted]
    return max(found, key=lambda p: p["population_geonames"]) if found else None


def _row(type_, code, name, short, name_en, adcode, district, position, lon=None, lat=None, aliases=()) -> dict:
    return {"type": type_, "code": code, "name": name, "short": short if short != name else "",
            "pinyin": spell(name) if type_ != "place" or name in CITY else "",
            "short_pinyin": spell(short) if short != name else "", "name_en": name_en or "",
            "district_adcode": adcode, "district": district,
            "lon": "" if lon is None else f"{lon:.6f}", "lat": "" if lat is None else f"{lat:.6f}",
            "position": position, "aliases": "|".join(aliases)}


def gazetteer_rows() -> list[dict]:
    """The gazetteer: districts, townships, then the GeoNames places no district or township took."""
    from geo.geography import load_districts

    places = _places()
    used: set[int] = set()
    rows = []
    frame = load_districts(SHIPPED / "qingdao_districts_wgs84.geojson").frame
    districts = dict(zip(frame["adcode"], frame["name"], strict=True))
    for adcode, name, name_en, geometry in zip(frame["adcode"], frame["name"], frame["name_en"], frame.geometry,
                                               strict=True):
        short = short_name(name, DISTRICT_SUFFIXES)
        seat = _seat(places, adcode, spell(short), spell(name))
        if seat is not None:
            used.add(seat["geonameid"])
            lon, lat, position = seat["lon"], seat["lat"], f"geonames:{seat['geonameid']}"
        else:
            (lon, lat), position = _polylabel(geometry), "polylabel"
        english = f"{name_en.split('(')[0].strip()} {'City' if name.endswith('市') else 'District'}"
        rows.append(_row("district", adcode, name, short, name_en, adcode, name, position, lon, lat,
                         (english, *ALIASES.get(adcode, ()))))
    with open(SHIPPED / "reference" / "qingdao_townships.csv", encoding="utf-8", newline="") as f:
        townships = list(csv.DictReader(f))
    for t in townships:
        name, adcode = t["town_name"], t["county_code"]
        short = short_name(name, TOWNSHIP_SUFFIXES) if t["kind"] != "other" else name
        seat = _seat(places, adcode, spell(short), spell(name))
        word = TOWNSHIP_WORDS.get(name[len(short):]) if short != name else None
        name_en = f"{_title(spell(short))} {word}" if word else ""
        if seat is not None:
            used.add(seat["geonameid"])
            where = dict(lon=seat["lon"], lat=seat["lat"], position=f"geonames:{seat['geonameid']}")
        else:
            where = dict(position="facilities")
        rows.append(_row("township", t["town_code"], name, short, name_en, adcode, districts[adcode],
                         aliases=ALIASES.get(t["town_code"], ()), **where))
    city_pinyin = compact(spell(CITY[0]))
    for p in sorted(places, key=lambda p: (-p["population_geonames"], p["geonameid"])):
        if p["geonameid"] in used:
            continue
        name = CITY[0] if compact(p["name"]) == city_pinyin else p["name"]
        rows.append(_row("place", str(p["geonameid"]), name, name, p["name"], p["district_adcode"],
                         p["district_name"], f"geonames:{p['geonameid']}", p["lon"], p["lat"],
                         CITY[1:] if name == CITY[0] else ()))
    return rows


def gazetteer_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=GAZETTEER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def pinyin_chars() -> bytes:
    """Each syllable with the characters whose most common reading it is (one line each, sorted)."""
    pypinyin = _pinyin()
    by_syllable: dict[str, list[str]] = {}
    for code in CJK_RANGE:
        char = chr(code)
        spelled = pypinyin.lazy_pinyin(char, style=pypinyin.Style.NORMAL, errors="ignore")
        if spelled and spelled[0].isascii() and spelled[0].isalpha():
            by_syllable.setdefault(spelled[0], []).append(char)
    lines = [f"# pinyin of CJK U+4E00-U+9FFF from pypinyin {PYPINYIN_VERSION} (MIT): syllable TAB characters "
             "(most common reading; no tones, ü as v); made by data/build_gazetteer.py"]
    lines += [f"{s}\t{''.join(chars)}" for s, chars in sorted(by_syllable.items())]
    return ("\n".join(lines) + "\n").encode("utf-8")


def build(out_dir: Path) -> dict[str, bytes]:
    """Write the two files to ``out_dir``; returns their bytes by name."""
    rows = gazetteer_rows()
    files = {GAZETTEER_FILE: gazetteer_csv(rows), PINYIN_FILE: pinyin_chars()}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out_dir / name).write_bytes(data)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=SHIPPED, help="output folder (default geo/shipped)")
    args = parser.parse_args(argv)
    files = build(args.out_dir)
    rows = list(csv.DictReader(io.StringIO(files[GAZETTEER_FILE].decode("utf-8"))))
    counts: dict[str, int] = {}
    for r in rows:
        key = f"{r['type']} ({r['position'].split(':')[0]})"
        counts[key] = counts.get(key, 0) + 1
    print(", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    for name, data in files.items():
        rows = data.count(b"\n") - 1
        print(f"{name}: {len(data):,} bytes, {rows} rows, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
