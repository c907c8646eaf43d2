"""The vocabularies and the city box: plain tables, importable without numpy, shapely or pyproj.

Every vocabulary lives in exactly one table here, with its Chinese and English labels, so a
new kind or amenity is one line. ``geo.model`` re-exports them; the command line and the
parameter declarations (``geo.params``) read them from here so that ``workermap --help``
starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ACCESS", "AMENITIES", "CITY_BOUNDS", "CITY_BOUNDS_TEXT", "DATUMS", "ENTRY", "KINDS", "STATUS",
           "VOCABULARIES", "WORKER_LABELS", "WORKER_TYPES", "Label"]

#: Datums of coordinates we take and give: WGS84 (stored), GCJ-02 (AMap, Tencent), BD-09 (Baidu).
DATUMS = ("wgs84", "gcj02", "bd09")


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
#: here and are then checked against the district polygons. Qingdao's (the default region);
#: the bounds checked are the region's served (``geo.regions.Region.bounds``, ``geo.model.in_city_bounds``).
CITY_BOUNDS = {"lon_min": 119.3, "lon_max": 121.3, "lat_min": 35.4, "lat_max": 37.3}
CITY_BOUNDS_TEXT = (f"lon {CITY_BOUNDS['lon_min']}–{CITY_BOUNDS['lon_max']}, "
                    f"lat {CITY_BOUNDS['lat_min']}–{CITY_BOUNDS['lat_max']}")
