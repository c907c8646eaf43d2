"""Place search: districts, townships, GeoNames places, facilities (and landmarks, when given) by Chinese,
pinyin (with or without tones, with or without spaces) or English name, tolerant of small typos.

>>> g = gazetteer()
>>> [(r.type, r.name, r.district) for r in g.search("Shìnán", limit=1)]
[('district', '市南区', '市南区')]
>>> [r.name for r in g.search("shi nan", limit=1)], [r.name for r in g.search("Shinna", limit=1)]
(['市南区'], ['市南区'])
>>> [r.name for r in g.search("李仓", limit=1)]  # 仓 for 沧: the same sound, the commonest typing slip
['李沧区']

**What is searched.** The shipped gazetteer (:data:`GAZETTEER_FILE`, made by ``data/build_gazetteer.py``;
provenance in ``data/README.md``): the 10 districts, the 141 townships and the GeoNames town seats, each with
its Chinese name and short form (市南区, 市南), their pinyin (made with pypinyin's phrase dictionary at build
time: 长江路 is chang, 大场 chang) and English names. Then the registry's live facilities (name, English name,
address) and its townships (:func:`gazetteer`). Other entries — the landmarks of an OpenStreetMap extract —
are passed as ``extra`` :class:`Entry` objects: their pinyin is spelled here (:func:`spell`). A registry
queried in a database, not held (a province's or the nation's: ``geo.store.knn.DbRegistry``), is searched by
:class:`QueriedGazetteer`: places indexed here, facilities found by the database (a literal part of the name,
English name or address) and scored and ranked here with the places.

**Where a township is.** No township geometry exists openly. A township is at its GeoNames town seat when
GeoNames has one of the same name in the same district (南村镇 at Nancun; ``position`` ``geonames:<id>`` in
the file), else at the mean position of the registry's facilities in that township; a township with neither
is left out. A district is at its GeoNames seat (胶州市 at Jiaozhou), else at the pole of inaccessibility of
its largest part (a point well inside it).

**How results are ranked.** Each name, short form, pinyin and English name of an entry is a *name*, an
address is *text*; query and keys are compared compacted (:func:`compact`: lower case, no tone marks, spaces
or punctuation, ü as v). A match scores:

* 1.0 when the query is a name (0.8 a text); 0.75 + 0.2 × the share of the name it covers when it begins a
  name; 0.55 + 0.25 × the share when it is inside a name, 0.45 + 0.3 × the share inside a text (2+ letters);
* a typo, for queries of 4+ letters or 3+ Chinese characters: 0.7 × (1 − distance / length) when the
  restricted Damerau-Levenshtein (OSA) distance to a name is at most 1 (2 from 8 characters up), 0.6 × when
  to the beginning of a longer name (``xianggangzhonlu``);
* Chinese: 0.6 × the share (at least 60 %) of the query's pairs of Chinese characters found in a name, in any
  order (0.5 × in a text or a full address): 香港中路工会驿站 finds 香港中路街道丰盛社区工会驿站, 市南区延安路
  an address on 延安路 in 市南区; a full address matches literally only when the query is half of it or more;
* Chinese spelled in pinyin (:func:`spell`) that equals, begins or is inside a pinyin name or text: 0.9 × the
  score above; the same sound written with another character (李仓 finds 李沧区, Licang).

An entry scores its best match times its type's weight (:data:`TYPE_WEIGHT`: matching alike, a district comes
before a township, a place, a facility); entries below :data:`MIN_SCORE` or below half the best score are
dropped (the neighbours of a typo do not follow an exact hit); ties go by type, then the shorter name.
Typos are measured with rapidfuzz (C++; a search over the shipped places and the 1,676 sample facilities
took 1-3 ms here, building the index 0.1-0.2 s).
"""

from __future__ import annotations

import csv
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from geo.params import DEFAULT_SEARCH_LIMIT

__all__ = ["CANDIDATES_PER_RESULT", "DISTRICT_SUFFIXES", "GAZETTEER_COLUMNS", "GAZETTEER_FILE", "MIN_SCORE",
           "PINYIN_FILE", "TOWNSHIP_SUFFIXES", "TYPES", "TYPE_WEIGHT", "Entry", "Gazetteer", "QueriedGazetteer",
           "Result", "compact", "csv_entries", "facility_entries", "gazetteer", "place_entries", "ranked",
           "search_index", "short_name", "shipped_rows", "spell", "street"]

#: The shipped gazetteer (in the shipped data folder) and its columns.
GAZETTEER_FILE = "gazetteer_qingdao.csv"
GAZETTEER_COLUMNS = ("type", "code", "name", "short", "pinyin", "short_pinyin", "name_en", "district_adcode",
                     "district", "lon", "lat", "position", "aliases")
#: Pinyin of each CJK character (syllable TAB characters), to spell queries and extra entries.
PINYIN_FILE = "pinyin_chars.tsv"
#: What a result may be, in the order ties are broken.
TYPES = ("district", "township", "place", "landmark", "facility")
#: A match's score is multiplied by its entry's type weight (matching alike: district first).
TYPE_WEIGHT = {"district": 1.0, "township": 0.98, "place": 0.97, "landmark": 0.97, "facility": 0.95}
#: Results scoring less, or less than this share of the best result's score, are dropped.
MIN_SCORE = 0.3
RELATIVE_SCORE = 0.5
#: The suffixes of a district's and of a township's name that its short form drops.
DISTRICT_SUFFIXES = ("区", "市")
TOWNSHIP_SUFFIXES = ("街道", "镇", "乡")
#: A Chinese query spelled in pinyin matches at this share of its score (the sound matched, not the characters).
HOMOPHONE = 0.9


def _shipped(name: str) -> Path:
    from geo.settings import shipped_data_dir

    return shipped_data_dir() / name


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def compact(text: str) -> str:
    """``text`` as compared: NFKC, lower case, ü as v, tone marks dropped, only letters, digits and CJK kept.

    >>> compact("Shìnán Qū"), compact("shi-nan"), compact("Lǚ"), compact("市南 区"), compact("ＳＨＩＮＡＮ")
    ('shinanqu', 'shinan', 'lv', '市南区', 'shinan')
    """
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).lower())
    text = text.replace("u\u0308", "v").replace("u:", "v")  # ü (its tone marks follow the diaeresis)
    return "".join(ch for ch in text if ch.isalnum() and not unicodedata.combining(ch))


@cache
def _char_pinyin() -> dict[str, str]:
    table: dict[str, str] = {}
    with open(_shipped(PINYIN_FILE), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or "\t" not in line:
                continue
            syllable, chars = line.rstrip("\n").split("\t")
            table.update(dict.fromkeys(chars, syllable))
    return table


def spell(text: str) -> str:
    """``text`` compacted, each Chinese character replaced by its most common pinyin reading.

    >>> spell("李仓 Road 1号")
    'licangroad1hao'
    """
    table = _char_pinyin()
    return "".join(table.get(ch, ch) for ch in compact(text))


def short_name(name: str, suffixes: Sequence[str] = TOWNSHIP_SUFFIXES) -> str:
    """A township's (or, with :data:`DISTRICT_SUFFIXES`, a district's) name without its suffix, keeping at
    least two characters.

    >>> short_name("南村镇"), short_name("香港中路街道"), short_name("惜福镇街道"), short_name("青岛高新技术产业开发区")
    ('南村', '香港中路', '惜福镇', '青岛高新技术产业开发区')
    >>> short_name("市南区", DISTRICT_SUFFIXES), short_name("胶州市", DISTRICT_SUFFIXES)
    ('市南', '胶州')
    """
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) >= len(suffix) + 2:
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True)
class Entry:
    """One thing search can find. ``names`` (with ``name`` and ``name_en``) are matched whole, by their
    beginning or with a typo; ``text`` (a street address) by its parts; ``context`` (the full address, with
    its district) only by most of its pairs of Chinese characters, so that 市南区延安路 finds an address in
    市南区 on 延安路 but 市南 does not find 莱西市南墅镇. Chinese names and text are also matched by their
    pinyin (spelled here); give a better pinyin (a polyphone's reading) in ``names``."""

    type: str
    name: str
    lon: float
    lat: float
    name_en: str | None = None
    district: str | None = None
    id: str | None = None
    names: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    context: tuple[str, ...] = ()

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"type must be one of {', '.join(TYPES)}, got {self.type!r}")


@dataclass(frozen=True)
class Result:
    """A search result (WGS84); ``score`` from 0 to 1, best 1."""

    type: str
    name: str
    name_en: str | None
    district: str | None
    lon: float
    lat: float
    id: str | None
    score: float

    def as_dict(self) -> dict:
        return {"type": self.type, "name": self.name, "name_en": self.name_en, "district": self.district,
                "lon": self.lon, "lat": self.lat, "id": self.id, "score": self.score}


#: What a key of an entry is (see :class:`Entry`).
NAME, TEXT, CONTEXT = 0, 1, 2


class _Keys:
    """Compacted keys of one script (Chinese or Latin): the key, its entry and what it is (NAME, TEXT …)."""

    def __init__(self):
        self.keys: list[str] = []
        self.entry: list[int] = []
        self.kind: list[int] = []
        self._seen: set[tuple[str, int, int]] = set()

    def add(self, key: str, entry: int, kind: int) -> None:
        if key and (key, entry, kind) not in self._seen:
            self._seen.add((key, entry, kind))
            self.keys.append(key)
            self.entry.append(entry)
            self.kind.append(kind)

    def freeze(self) -> None:
        del self._seen
        self.names = [i for i, kind in enumerate(self.kind) if kind == NAME]  # keys that are whole names
        self.name_keys = [self.keys[i] for i in self.names]
        self.literal = [(k, key, self.kind[k]) for k, key in enumerate(self.keys)]


class Gazetteer:
    """Entries indexed for :meth:`search` (build once: per registry version)."""

    def __init__(self, entries: Iterable[Entry]):
        self.entries: tuple[Entry, ...] = tuple(entries)
        self._cjk, self._latin = _Keys(), _Keys()
        for i, e in enumerate(self.entries):
            for kind, texts in ((NAME, (e.name, e.name_en, *e.names)), (TEXT, e.text), (CONTEXT, e.context)):
                for text in texts:
                    self._add(text, i, kind)
        self._cjk.freeze()
        self._latin.freeze()
        self._pairs: dict[str, list[int]] = defaultdict(list)  # character pair -> Chinese keys holding it
        for k, key in enumerate(self._cjk.keys):
            for pair in {key[j:j + 2] for j in range(len(key) - 1) if _is_cjk(key[j]) and _is_cjk(key[j + 1])}:
                self._pairs[pair].append(k)

    def _add(self, text: str | None, entry: int, kind: int) -> None:
        key = compact(text or "")
        if any(_is_cjk(ch) for ch in key):
            self._cjk.add(key, entry, kind)
            if kind != CONTEXT:
                self._latin.add(spell(key), entry, kind)
        elif kind != CONTEXT:
            self._latin.add(key, entry, kind)

    def __len__(self) -> int:
        return len(self.entries)

    def search(self, query: str, limit: int = DEFAULT_SEARCH_LIMIT) -> list[Result]:
        """The ``limit`` best entries for ``query``, best first (none for a query with nothing to compare)."""
        return ranked(self.scores(query), limit)

    def scores(self, query: str) -> list[tuple[float, Entry, int]]:
        """``(score, entry, position)`` of every entry matching ``query`` (unweighted, in no order)."""
        q = compact(query)
        best: dict[int, float] = {}
        if not q:
            return []

        def offer(keys: _Keys, k: int, score: float) -> None:
            e = keys.entry[k]
            if score > best.get(e, 0.0):
                best[e] = score

        if any(_is_cjk(ch) for ch in q):
            _literal(q, self._cjk, offer, 1.0)
            self._pairs_shared(q, offer)
            if len(q) >= 3:
                _typos(q, self._cjk, offer)
            _literal(spell(q), self._latin, offer, HOMOPHONE)
        else:
            _literal(q, self._latin, offer, 1.0)
            if len(q) >= 4:
                _typos(q, self._latin, offer)
        return [(score, self.entries[e], e) for e, score in best.items()]

    def _pairs_shared(self, q: str, offer) -> None:
        """Chinese keys holding most (≥ 60 %) of the query's pairs of Chinese characters, in any order."""
        pairs = {q[j:j + 2] for j in range(len(q) - 1) if _is_cjk(q[j]) and _is_cjk(q[j + 1])}
        if len(q) < 3 or not pairs:
            return
        hits: dict[int, int] = defaultdict(int)
        for pair in pairs:
            for k in self._pairs.get(pair, ()):
                hits[k] += 1
        for k, n in hits.items():
            share = n / len(pairs)
            if share >= 0.6:
                offer(self._cjk, k, (0.6 if self._cjk.kind[k] == NAME else 0.5) * share)


def ranked(scored: Iterable[tuple[float, Entry, int]], limit: int) -> list[Result]:
    """The ``limit`` best of ``(score, entry, position)`` (:meth:`Gazetteer.scores`; positions unique): each
    score times its type's weight, those below :data:`MIN_SCORE` or half the best dropped, ties by type, then
    the shorter name, then the position."""
    order = sorted((-round(score * TYPE_WEIGHT[e.type], 3), TYPES.index(e.type), len(e.name), e.name, pos, e)
                   for score, e, pos in scored)
    if order:
        least = max(MIN_SCORE, -order[0][0] * RELATIVE_SCORE)
        order = [r for r in order if -r[0] >= least]
    return [_result(r[-1], -r[0]) for r in order[:limit]]


def _literal(q: str, keys: _Keys, offer, factor: float) -> None:
    """The query equals, begins or is inside a key."""
    n = len(q)
    for k, key, kind in keys.literal:
        if q not in key:
            continue
        share, whole = n / len(key), kind == NAME
        if kind == CONTEXT and share < 0.5:  # 市南 is not in 莱西市南墅镇…, a whole address is
            continue
        if key == q:
            score = 1.0 if whole else 0.8
        elif whole and key.startswith(q):
            score = 0.75 + 0.2 * share
        elif n >= 2:
            score = 0.55 + 0.25 * share if whole else 0.45 + 0.3 * share
        else:
            continue
        offer(keys, k, score * factor)


def _typos(q: str, keys: _Keys, offer) -> None:
    """Names (or their beginnings) at most 1 edit away from the query (2 from 8 characters up)."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    n = len(q)
    most = 1 if n < 8 else 2
    names = keys.name_keys
    for _, distance, i in process.extract(q, names, scorer=OSA.distance, score_cutoff=most, limit=None):
        offer(keys, keys.names[i], 0.7 * (1 - distance / max(n, len(names[i]))))
    for length in (n - 1, n, n + 1):  # a typo in the beginning of a longer name
        starts = [key[:length] if len(key) > length else "" for key in names]
        for _, distance, i in process.extract(q, starts, scorer=OSA.distance, score_cutoff=most, limit=None):
            if starts[i]:
                offer(keys, keys.names[i], 0.6 * (1 - distance / n))


def _result(e: Entry, score: float) -> Result:
    return Result(e.type, e.name, e.name_en or None, e.district or None, round(e.lon, 6), round(e.lat, 6), e.id,
                  score)


# -- the entries -------------------------------------------------------------------------------------------

@cache
def shipped_rows() -> tuple[dict[str, str], ...]:
    """The rows of the shipped gazetteer (:data:`GAZETTEER_COLUMNS`), read once."""
    with open(_shipped(GAZETTEER_FILE), encoding="utf-8", newline="") as f:
        return tuple(csv.DictReader(f))


def csv_entries(path: str | Path) -> list[Entry]:
    """The entries of a CSV file with the shipped gazetteer's columns (an imported OpenStreetMap extract's
    landmarks, ``geo.osm``; their pinyin is spelled here)."""
    with open(path, encoding="utf-8", newline="") as f:
        return [_row_entry(row, float(row["lon"]), float(row["lat"])) for row in csv.DictReader(f)]


def _row_entry(row: dict[str, str], lon: float, lat: float) -> Entry:
    name_en = row["name_en"]
    names = [row["short"], row["pinyin"], row["short_pinyin"], *row["aliases"].split("|")]
    if "(" in name_en:  # "Huangdao (West Coast New Area)": each part is a name too
        head, _, rest = name_en.partition("(")
        names += [head, rest.rstrip(")")]
    return Entry(row["type"], row["name"], lon, lat, name_en=name_en or None, district=row["district"] or None,
                 names=tuple(n for n in names if n))


def _township_positions(facilities: Iterable) -> dict[tuple[str, str], tuple[float, float, int]]:
    """(district adcode, township) -> mean lon, mean lat and count of the live facilities there."""
    sums: dict[tuple[str, str], list[float]] = {}
    for f in facilities:
        if f.township and f.status != "removed":
            s = sums.setdefault((f.district_adcode, f.township), [0.0, 0.0, 0, f.district])
            s[0] += f.lon
            s[1] += f.lat
            s[2] += 1
    return {k: (lon / n, lat / n, n, district) for k, (lon, lat, n, district) in sums.items()}


def place_entries(facilities: Sequence = (), townships: dict | None = None) -> list[Entry]:
    """Districts, townships and places: the shipped gazetteer, with each township that has no GeoNames seat
    at the mean of ``facilities`` there (left out if none), and the townships of ``facilities`` the
    gazetteer does not know. ``townships``: those means given instead ((district adcode, township) -> mean
    lon, mean lat, count, district: a registry queried in a database, ``DbRegistry.township_positions``)."""
    seen = dict(townships) if townships is not None else _township_positions(facilities)
    out = []
    for row in shipped_rows():
        if row["lon"]:
            out.append(_row_entry(row, float(row["lon"]), float(row["lat"])))
            seen.pop((row["district_adcode"], row["name"]), None)
        elif (where := seen.pop((row["district_adcode"], row["name"]), None)) is not None:
            out.append(_row_entry(row, where[0], where[1]))
    for (_, township), (lon, lat, _, district) in sorted(seen.items()):
        out.append(Entry("township", township, lon, lat, district=district, names=(short_name(township),)))
    return out


def street(address: str, district: str = "", township: str = "") -> str:
    """``address`` without its leading province, city, district and township (entries of their own).

    >>> street("青岛市莱西市南墅镇青山路12号", "莱西市", "南墅镇"), street("延安路299号", "市北区")
    ('青山路12号', '延安路299号')
    """
    for part in ("山东省", "青岛市", district, township):
        if part and address.startswith(part):
            address = address[len(part):]
    return address


def facility_entries(facilities: Iterable) -> list[Entry]:
    """The live facilities: name and English name; the street address as text, the full address as context."""
    return [Entry("facility", f.name, f.lon, f.lat, name_en=f.name_en or None, district=f.district or None,
                  id=f.id, text=(street(f.address, f.district, f.township),), context=(f.address,))
            for f in facilities if f.status != "removed"]


def gazetteer(facilities: Sequence = (), extra: Iterable[Entry] = ()) -> Gazetteer:
    """The search index over the shipped places, the registry's ``facilities`` (and their townships) and
    ``extra`` entries (landmarks): build it once per registry version."""
    return Gazetteer([*place_entries(facilities), *facility_entries(facilities), *extra])


#: A registry queried in a database is asked for this many facility candidates per result wanted.
CANDIDATES_PER_RESULT = 4


class QueriedGazetteer:
    """Place search over a registry queried in a database, not held (``geo.store.knn.DbRegistry``: a province's
    or the nation's): the places (as :func:`gazetteer`, townships at the means the database computes) and
    ``extra`` entries are indexed here; the facilities come from ``registry.search_facilities(query, n)`` —
    the live ones whose name, English name or address contains the query (case-insensitive; whitespace and
    width normalised), at most :data:`CANDIDATES_PER_RESULT` × ``limit``, exact names first — scored here as
    :class:`Gazetteer` scores them and ranked with the places in one list (:func:`ranked`). Unlike the city's
    index, a facility is found only by a literal part of its name or address (not by pinyin, a typo or
    scattered pairs of characters: those would need every record)."""

    def __init__(self, registry, extra: Iterable[Entry] = ()):
        self.registry = registry
        self.places = Gazetteer([*place_entries(townships=registry.township_positions()), *extra])

    def __len__(self) -> int:
        return len(self.places) + len(self.registry)

    def search(self, query: str, limit: int = DEFAULT_SEARCH_LIMIT) -> list[Result]:
        """The ``limit`` best places and facilities for ``query``, best first (as :meth:`Gazetteer.search`)."""
        if not compact(query):
            return []
        scored = self.places.scores(query)
        found = self.registry.search_facilities(query, CANDIDATES_PER_RESULT * limit)
        if found:
            first = len(self.places)
            scored += [(score, e, first + pos) for score, e, pos in Gazetteer(facility_entries(found)).scores(query)]
        return ranked(scored, limit)


def search_index(registry, extra: Iterable[Entry] = ()) -> Gazetteer | QueriedGazetteer:
    """The search index of one registry version with ``extra`` entries (the region's units, landmarks): a registry
    queried in a database (one that can ``search_facilities``: ``geo.store.knn.DbRegistry``) keeps its facilities
    there (:class:`QueriedGazetteer`); a registry held in memory is indexed whole (:func:`gazetteer`)."""
    if hasattr(registry, "search_facilities"):
        return QueriedGazetteer(registry, extra)
    return gazetteer([f for f in registry.facilities if f.status != "removed"], extra)
