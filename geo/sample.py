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

__all__ = ["APARTMENTS", "COUNTS", "SEED", "generate_sample", "largest_remainder", "sample_geojson"]

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
