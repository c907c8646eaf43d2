"""The facility data model: one table per vocabulary, and the :class:`Facility` record.

Every vocabulary lives in exactly one table here, with its Chinese and English
labels, so a new kind or amenity is one line. Validation (``geo.validate``), the
sample generator, exports and the web pages all read these tables.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "ACCESS",
    "AMENITIES",
    "CITY_BOUNDS",
    "CITY_BOUNDS_TEXT",
    "ENTRY",
    "FIELDS",
    "Facility",
    "KINDS",
    "STATUS",
    "VOCABULARIES",
    "WORKER_TYPES",
    "Label",
    "in_city_bounds",
]


@dataclass(frozen=True)
class Label:
    zh: str
    en: str


#: Facility kinds. Add a row to add a kind.
KINDS: dict[str, Label] = {
    "station": Label("工会驿站", "Worker station"),
    "shared_home": Label("共享职工之家", "Shared worker home"),
    "mother_room": Label("爱心妈妈小屋", "Nursing-mother room"),
    "childcare": Label("爱心托管驿站", "Childcare station"),
    "apartment": Label("惠工家职工公寓", "Worker apartment"),
}

#: The fixed amenity vocabulary.
AMENITIES: dict[str, Label] = {
    "rest": Label("休息", "Rest area"),
    "drinking_water": Label("饮用水", "Drinking water"),
    "hot_water": Label("热水", "Hot water"),
    "microwave": Label("微波炉", "Microwave"),
    "fridge": Label("冰箱", "Fridge"),
    "phone_charging": Label("手机充电", "Phone charging"),
    "ebike_charging": Label("电动车充电", "E-bike charging"),
    "battery_swap": Label("换电", "Battery swap"),
    "toilet": Label("卫生间", "Toilet"),
    "air_conditioning": Label("空调", "Air conditioning"),
    "heating": Label("暖气", "Heating"),
    "rain_gear": Label("雨具", "Rain gear"),
    "first_aid": Label("急救箱", "First-aid kit"),
    "aed": Label("AED", "AED"),
    "repair_tools": Label("维修工具", "Repair tools"),
    "reading": Label("阅读", "Reading"),
    "wifi": Label("无线网络", "Wi-Fi"),
    "legal_aid": Label("法律援助", "Legal aid"),
    "health_check": Label("健康检查", "Health check"),
    "counselling": Label("心理咨询", "Counselling"),
    "nursing_room": Label("哺乳室", "Nursing room"),
    "childcare": Label("托管", "Childcare"),
    "fitness": Label("健身", "Fitness"),
    "beds": Label("床位", "Beds"),
}

#: Who may use a facility.
ACCESS: dict[str, Label] = {
    "outdoor_workers": Label("面向所有户外劳动者", "Open to all outdoor workers"),
    "members": Label("仅限工会会员", "Union members only"),
    "employees": Label("仅限本单位职工", "Employees of the host only"),
}

#: How one gets in (a facility may have several).
ENTRY: dict[str, Label] = {
    "staffed": Label("人工值守", "Staffed"),
    "qr_code": Label("扫码进入", "QR code"),
    "face": Label("刷脸进入", "Face recognition"),
    "member_card": Label("会员卡", "Member card"),
}

STATUS: dict[str, Label] = {
    "open": Label("开放", "Open"),
    "temporarily_closed": Label("暂停开放", "Temporarily closed"),
    "maintenance": Label("维修中", "Under maintenance"),
    "removed": Label("已撤销", "Removed"),
}

#: Worker types and the access values each may enter. An outdoor worker (rider,
#: courier, sanitation) may enter what is open to all outdoor workers; a union
#: member also what is for members; an employee of the host also what is for
#: that host's employees (we cannot check which host, so the caller asserts it).
WORKER_TYPES: dict[str, frozenset[str]] = {
    "outdoor_worker": frozenset({"outdoor_workers"}),
    "member": frozenset({"outdoor_workers", "members"}),
    "employee": frozenset({"outdoor_workers", "members", "employees"}),
}

WORKER_LABELS: dict[str, Label] = {
    "outdoor_worker": Label("户外劳动者", "Outdoor worker"),
    "member": Label("工会会员", "Union member"),
    "employee": Label("本单位职工", "Employee of the host"),
}

#: Every vocabulary with its labels, JSON-ready (for the API and the pages).
VOCABULARIES: dict[str, dict[str, dict[str, str]]] = {
    name: {key: {"zh": label.zh, "en": label.en} for key, label in table.items()}
    for name, table in (("kinds", KINDS), ("amenities", AMENITIES), ("access", ACCESS), ("entry", ENTRY),
                        ("status", STATUS), ("worker_types", WORKER_LABELS))
}

#: The box a Qingdao coordinate must fall in (WGS84), a little larger than the
#: city's outline (119.51-121.06 E, 35.58-37.15 N) so that points on the coast pass
#: here and are then checked against the district polygons.
CITY_BOUNDS = {"lon_min": 119.3, "lon_max": 121.3, "lat_min": 35.4, "lat_max": 37.3}
CITY_BOUNDS_TEXT = (f"lon {CITY_BOUNDS['lon_min']}–{CITY_BOUNDS['lon_max']}, "
                    f"lat {CITY_BOUNDS['lat_min']}–{CITY_BOUNDS['lat_max']}")


def in_city_bounds(lon, lat):
    """Whether WGS84 points lie in :data:`CITY_BOUNDS` (NaN and infinities do not): a bool for
    scalars, a boolean array for arrays.

    >>> in_city_bounds(120.38, 36.06), in_city_bounds(36.06, 120.38), in_city_bounds(float("nan"), 36.0)
    (True, False, False)
    >>> in_city_bounds([120.38, 121.5], [36.06, 36.0]).tolist()
    [True, False]
    """
    b = CITY_BOUNDS
    lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
    inside = (lon >= b["lon_min"]) & (lon <= b["lon_max"]) & (lat >= b["lat_min"]) & (lat <= b["lat_max"])
    return bool(inside) if inside.ndim == 0 else inside


@dataclass(frozen=True)
class Facility:
    """One facility. Coordinates are WGS84; ``source_*`` keep what an import gave."""

    id: str
    kind: str
    name: str
    lon: float
    lat: float
    district_adcode: str
    district: str
    name_en: str = ""
    township: str = ""
    address: str = ""
    amenities: tuple[str, ...] = ()
    opening_hours: str = "24/7"
    access: str = "outdoor_workers"
    entry: tuple[str, ...] = ("staffed",)
    capacity: int | None = None
    status: str = "open"
    verified_at: str = ""
    phone: str = ""
    host: str = ""
    sample: bool = False
    source_crs: str = "wgs84"
    source_lon: float | None = None
    source_lat: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def properties(self) -> dict[str, Any]:
        """Every field (``extra`` aside) as JSON-ready values, in :data:`FIELDS` order."""
        d = {name: getattr(self, name) for name in FIELDS}
        d["amenities"] = list(self.amenities)
        d["entry"] = list(self.entry)
        return d

    def replace(self, **changes: Any) -> Facility:
        return dataclasses.replace(self, **changes)


#: Field order for tables (CSV, GeoPackage); list-valued fields join with ';'.
FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Facility) if f.name != "extra")
LIST_FIELDS = ("amenities", "entry")
