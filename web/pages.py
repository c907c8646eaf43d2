"""HTML pages: the worker finder (``/``), the planner (``/planner``) and the overview map (``/map``).

Pages are Jinja templates (``web/templates/pages/``). folium renders each page's map
skeleton once (``web.maps.map_skeleton``: the ``L.map`` call, the three basemaps and the
layer switcher); the template embeds it with the request's CSP nonce, and the page's own
script (``web/static/js``) loads the data as GeoJSON and does everything interactive.
folium cannot do the interactive part (filters shared by map and list, GCJ-02 shifting
when the basemap changes, geolocation, search), so that part is hand-written JavaScript.

All JavaScript and CSS come from ``web/static``; no CDN.
"""

from __future__ import annotations

import os
from functools import cache, lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request, url_for

from geo.export import dumps_geojson
from geo.hours import local_time, now_local
from geo.hours import states as hours_states
from geo.model import KINDS, VOCABULARIES, WORKER_TYPES
from geo.osm import credit as osm_credit
from geo.registry_params import NO_PARAMETERS, WORKER_HOURS
from geo.report_params import MAX_TEXT, REPORT_KINDS
from web import state
from web.api import geojson_response
from web.hitjson import iso_minutes
from web.maps import (
    QINGDAO_CENTER,
    local_assets,
    map_feature_collection,
    map_skeleton,
    regional_ui,
)
from web.security import add_nonce
from web.tiles import page_config as streets_config
from web.tiles_mvt import viewport_config

bp = Blueprint("pages", __name__)

#: Kind colours (Okabe-Ito, distinguishable with the common colour-vision deficiencies).
KIND_COLOURS = {"station": "#D55E00", "shared_home": "#0072B2", "mother_room": "#CC79A7",
                "childcare": "#009E73", "apartment": "#B07800"}

#: Amenity pictograms (Unicode emoji: no icon font; the label is always given as text for screen readers).
AMENITY_ICONS = {
    "rest": "🛋️", "drinking_water": "🚰", "hot_water": "♨️", "microwave": "🍱", "fridge": "🧊",
    "phone_charging": "📱", "ebike_charging": "🔌", "battery_swap": "🔋", "toilet": "🚻",
    "air_conditioning": "❄️", "heating": "🔥", "rain_gear": "☂️", "first_aid": "⛑️", "aed": "💓",
    "repair_tools": "🔧", "reading": "📖", "wifi": "📶", "legal_aid": "⚖️", "health_check": "🩺",
    "counselling": "💬", "nursing_room": "🍼", "childcare": "🧸", "fitness": "🏋️", "beds": "🛏️",
}
#: The amenities offered as filters on the phone (the ones riders ask for); the card shows all.
FILTER_AMENITIES = ("drinking_water", "hot_water", "microwave", "phone_charging", "ebike_charging",
                    "battery_swap", "toilet", "rest", "air_conditioning", "heating", "wifi", "first_aid")

#: Every user-interface string, Chinese first. The template renders ``zh``; the script switches.
UI: dict[str, dict[str, str]] = {
    "zh": {
        "title": "青岛职工驿站 · 找最近", "skip": "跳到附近列表", "search": "搜索",
        "search_ph": "搜索地点、街道/镇或设施", "search_none": "没有找到", "locate": "定位我",
        "filters": "筛选", "lang_switch": "English", "lang_short": "EN",
        "sample": "示例数据：按真实区划生成，并非真实驿站名单。",
        "f_kind": "类型", "f_amenity": "设施", "f_open": "现在营业", "f_24h": "24小时",
        "f_worker": "我能进入", "f_worker_any": "不限", "f_reset": "清除筛选", "f_close": "完成",
        "list_title": "离我最近", "list_hint": "点“定位我”，或长按地图、搜索地点，查看最近的驿站。",
        "list_loading": "正在查找…", "list_empty": "附近没有符合条件的设施。", "list_error": "查询失败：",
        "list_from_gps": "按我的位置", "list_from_tap": "按地图上选的位置", "list_from_search": "按搜索的位置",
        "geo_denied": "无法定位（未授权或不可用）。请长按地图选位置，或搜索地点。",
        "geo_unsupported": "此浏览器不能定位。请长按地图选位置，或搜索地点。",
        "locating": "正在定位…",
        "shown": "地图显示 {n} / {total} 处", "m": "{n} 米", "km": "{n} 公里",
        "walk": "步行 {n} 分钟", "ebike": "电动车 {n} 分钟",
        "est_straight": "直线距离估算", "est_land": "陆路估算", "est_network": "步行路线",
        "open_24": "24小时营业", "closes_at": "营业至{t}", "opens_at": "{t}开门", "closed": "已关门",
        "open": "营业中", "tomorrow": "明天", "nav": "导航", "nav_amap": "高德", "nav_baidu": "百度",
        "nav_apple": "Apple 地图", "nav_geo": "其他地图", "details": "详情", "close": "关闭",
        "c_address": "地址", "c_hours": "开放时间", "c_amenities": "设施", "c_capacity": "容量",
        "c_capacity_n": "{n} 人", "c_entry": "进入方式", "c_access": "开放对象", "c_phone": "电话",
        "c_verified": "最近核实", "c_district": "位置", "c_status": "状态", "c_sample": "示例数据",
        "tiles_failed": "底图加载失败；设施、列表和筛选仍可使用。", "you": "我的位置",
        "days": "周一,周二,周三,周四,周五,周六,周日", "h24": "24小时",
        "r_district": "区市", "r_township": "街道/镇", "r_facility": "设施",
        "load_error": "数据加载失败：", "legend": "图例",
        "dismiss": "关闭提示", "undo": "撤销", "pos_changed": "位置已更改", "point_menu": "地图上的这个位置",
        "set_here": "设为我的位置", "suggest_here": "在这里建议新站点",
        "sec_now": "现在营业 · {worker}可进入", "sec_now_empty": "附近没有现在营业、可进入的地方。",
        "sec_later": "已关门或限制进入", "hours_unknown": "营业时间未知", "ph": "法定节假日", "off": "休息",
        "cal_beyond": "节假日日历只到 {d}，之后的节假日未计入。",
        "r_place": "地点", "r_landmark": "地标", "search_error": "搜索失败：",
        "c_never": "未核实", "c_reports": "问题报告", "c_reports_n": "{n} 条待处理",
        "report": "报告问题", "r_kind": "什么问题？", "r_text": "补充说明（选填，最多 {n} 字）", "r_send": "提交",
        "r_sending": "正在提交…", "r_thanks": "已收到，谢谢！工作人员会核实。", "r_pick": "请选择问题类型。",
        "r_rate": "太频繁，请稍后再试（{wait}后）。", "r_seconds": "{n} 秒", "r_minutes": "{n} 分钟",
        "r_error": "提交失败：", "suggest_title": "建议新站点", "suggest_where": "位置：东经 {lon}，北纬 {lat}",
        "suggest_hint": "这里需要一个驿站吗？可以写下原因（选填），我们会转给工会。",
    },
    "en": {
        "title": "Qingdao worker stations · nearest", "skip": "Skip to the nearest list", "search": "Search",
        "search_ph": "Search a place, township or facility", "search_none": "Nothing found",
        "locate": "Locate me", "filters": "Filters", "lang_switch": "中文", "lang_short": "中文",
        "sample": "Sample data: generated on real districts, not the real list.",
        "f_kind": "Kind", "f_amenity": "Amenities", "f_open": "Open now", "f_24h": "24 hours",
        "f_worker": "I can enter as", "f_worker_any": "Anyone", "f_reset": "Clear filters", "f_close": "Done",
        "list_title": "Nearest to me",
        "list_hint": "Tap “Locate me”, long-press the map or search a place to see the nearest stations.",
        "list_loading": "Searching…", "list_empty": "Nothing nearby matches the filters.",
        "list_error": "Search failed: ", "list_from_gps": "From my position", "list_from_tap": "From the tapped point",
        "list_from_search": "From the searched place",
        "geo_denied": "Cannot get your position (refused or unavailable). Long-press the map or search a place.",
        "geo_unsupported": "This browser cannot locate you. Long-press the map or search a place.",
        "locating": "Locating…",
        "shown": "Map shows {n} of {total}", "m": "{n} m", "km": "{n} km",
        "walk": "{n} min walk", "ebike": "{n} min by e-bike",
        "est_straight": "straight-line estimate", "est_land": "over land", "est_network": "by road",
        "open_24": "Open 24 hours", "closes_at": "Closes at {t}", "opens_at": "Opens at {t}", "closed": "Closed",
        "open": "Open", "tomorrow": "tomorrow", "nav": "Navigate", "nav_amap": "AMap", "nav_baidu": "Baidu",
        "nav_apple": "Apple Maps", "nav_geo": "Other app", "details": "Details", "close": "Close",
        "c_address": "Address", "c_hours": "Hours", "c_amenities": "Amenities", "c_capacity": "Capacity",
        "c_capacity_n": "{n} people", "c_entry": "Entry", "c_access": "Who may use it", "c_phone": "Phone",
        "c_verified": "Last verified", "c_district": "Where", "c_status": "Status", "c_sample": "Sample record",
        "tiles_failed": "Map tiles failed to load; facilities, list and filters still work.", "you": "My position",
        "days": "Mon,Tue,Wed,Thu,Fri,Sat,Sun", "h24": "24 hours",
        "r_district": "District", "r_township": "Township", "r_facility": "Facility",
        "load_error": "Could not load data: ", "legend": "Legend",
        "dismiss": "Dismiss", "undo": "Undo", "pos_changed": "Position changed", "point_menu": "This point on the map",
        "set_here": "Set my position here", "suggest_here": "Suggest a site here",
        "sec_now": "Open now · {worker} may enter", "sec_now_empty": "Nothing nearby is open now for you.",
        "sec_later": "Closed or restricted", "hours_unknown": "Hours unknown", "ph": "public holidays", "off": "closed",
        "cal_beyond": "The holiday calendar ends on {d}; later holidays are not counted.",
        "r_place": "Place", "r_landmark": "Landmark", "search_error": "Search failed: ",
        "c_never": "not yet", "c_reports": "Reports", "c_reports_n": "{n} open",
        "report": "Report a problem", "r_kind": "What is wrong?", "r_text": "Details (optional, up to {n} characters)",
        "r_send": "Send", "r_sending": "Sending…", "r_thanks": "Received, thank you! Staff will check it.",
        "r_pick": "Choose what is wrong.", "r_rate": "Too many reports; please try again in {wait}.",
        "r_seconds": "{n} s", "r_minutes": "{n} min", "r_error": "Could not send: ",
        "suggest_title": "Suggest a new site", "suggest_where": "Position: {lon} E, {lat} N",
        "suggest_hint": "Does this place need a station? Say why if you like (optional); we pass it to the union.",
    },
}

PLANNER_UI: dict[str, dict[str, str]] = {
    "zh": {
        "title": "青岛职工服务设施 · 规划", "mode": "出行方式", "walk": "步行", "ebike": "电动车",
        "minutes": "时间阈值（分钟）", "kind": "设施类型", "any": "全部", "amenity": "需要的设施",
        "open_at": "时段", "open_any": "不限时段", "worker": "开放对象", "apply": "计算覆盖",
        "districts": "各区市覆盖率", "d_name": "区市", "d_area": "面积覆盖", "d_res": "居民覆盖",
        "d_workers": "职工覆盖", "d_uncov": "未覆盖职工", "city": "全市", "layers": "图层",
        "grid": "覆盖网格", "gaps": "未覆盖区域", "boundaries": "区界", "facilities": "现有设施",
        "sites": "建议新址", "plan": "选址规划", "add": "新增数量", "spacing": "最小间距（米）",
        "demand": "需求", "d_workers_opt": "户外职工", "d_residents_opt": "居民", "run": "运行选址",
        "rank": "序号", "gain": "新增覆盖", "cum": "累计覆盖", "cum_pct": "累计覆盖率",
        "downloads": "下载", "dl_fac_geojson": "设施 GeoJSON", "dl_fac_csv": "设施 CSV",
        "dl_dist_geojson": "区界 GeoJSON", "dl_gaps": "未覆盖区域 GeoJSON", "dl_report": "报告 (ZIP)",
        "dl_sites": "建议新址 GeoJSON", "dl_sites_csv": "建议新址 CSV",
        "loading": "计算中…", "error": "出错：", "missing": "覆盖分析接口尚未部署。",
        "assumptions": "假设", "source": "需求来源", "sample": "示例数据：设施为按真实行政区生成的样例。",
        "worker_page": "职工找驿站", "lang_switch": "English", "hours": "24小时覆盖",
        "hour": "时", "none": "—", "district_filter": "区市", "legend": "图例",
        "legend_covered_half": "已覆盖（阈值一半以内）", "legend_covered": "已覆盖（一半到阈值）",
        "legend_near": "未覆盖（阈值1–1.5倍）", "legend_far": "未覆盖（阈值1.5–2倍）",
        "legend_very_far": "未覆盖（2倍以上或无设施）",
        "reports": "职工反馈的问题", "suggestions": "职工建议的新址", "n_reports": "{n} 条", "latest": "最近：{d}",
        "stale": "参数已更改，请重新运行", "d_below": "稀疏未覆盖职工", "hotspots": "需求热点（按未覆盖职工排序）",
        "hotspots_sum": "前 {n} 个热点共有未覆盖职工 {w} 人，占全部未覆盖的 {p}", "access": "可达性（人均座位）",
        "lost": "情景中新失去覆盖的区域",
        "assume": "{mode} {min} 分钟（直线×{detour}，{speed} km/h），即直线 {m} 米内算覆盖；网格 {cell} 米",
        "mode_walk": "步行", "mode_ebike": "电动车",
        "assume_route": "{mode} {min} 分钟（{speed} km/h），按路线所需时间算覆盖；网格 {cell} 米",
        "travel_straight": "出行模型：直线距离估算", "travel_land": "出行模型：陆路最短路径（不跨海）",
        "travel_network": "出行模型：沿道路的路线（OpenStreetMap）",
        "src_modelled": "需求人数为模型估算（按人口与就业分布推算，不是实地统计）",
        "src_imported": "需求人数来自导入的统计数据", "method_greedy": "逐个挑选新增覆盖最多的位置（贪心法）",
        "method_exact": "精确求解（整数规划）", "curve_x": "新增站点数（个）", "curve_y": "累计覆盖率（%）",
        "whatif": "情景推演", "whatif_hint": "打开“编辑情景”后：点设施可关闭或改为24小时，点地图空白处新增站点。",
        "whatif_edit": "编辑情景", "w_close": "关闭此设施", "w_24h": "改为24小时", "w_added": "新增站点 {n}",
        "w_closed": "关闭：{name}", "w_made24": "改为24小时：{name}", "w_undo": "撤销", "w_24h_na": "此时段已计入",
        "w_24h_hint": "先在“时段”里选一个时间", "w_workers": "覆盖职工（前→后）", "w_workers_pct": "职工覆盖率",
        "w_res": "覆盖居民（前→后）", "w_res_pct": "居民覆盖率",
        "w_lost": "新失去覆盖：{place} · {district} · 职工 {w}",
        "w_none_lost": "没有区域失去覆盖。", "usage": "运营 · 使用情况", "u_load": "载入使用情况和建议",
        "u_util": "利用率", "u_night": "夜间占比", "u_peak": "高峰时段", "u_visits": "日均到访",
        "u_synthetic": "合成样例数据（演示用，不是实际到访记录）",
        "u_city": "全市利用率 {u}，夜间（22:00–06:00）到访占 {n}，高峰 {h}",
        "u_hours": "各时段日均到访", "recs": "建议及理由", "a_extend_24h": "延长为24小时", "a_merge": "合并",
        "a_relocate": "迁址", "a_add_places": "增加座位", "travel": "路程算法",
        "travel_opt_land": "陆路（不跨海）", "travel_opt_straight": "直线 × 绕行系数", "travel_opt_network": "沿道路",
        "city_pick": "城市", "no_demand": "这个城市还没有需求数据，无法计算覆盖。",
    },
    "en": {
        "title": "Qingdao worker facilities · planner", "mode": "Travel mode", "walk": "Walk", "ebike": "E-bike",
        "minutes": "Threshold (minutes)", "kind": "Facility kind", "any": "All", "amenity": "Required amenity",
        "open_at": "Time of day", "open_any": "Any time", "worker": "Access for", "apply": "Compute coverage",
        "districts": "Coverage by district", "d_name": "District", "d_area": "Area covered",
        "d_res": "Residents covered", "d_workers": "Workers covered", "d_uncov": "Uncovered workers",
        "city": "City", "layers": "Layers", "grid": "Coverage grid", "gaps": "Uncovered areas",
        "boundaries": "District boundaries", "facilities": "Facilities", "sites": "Proposed sites",
        "plan": "Siting plan", "add": "Sites to add", "spacing": "Minimum spacing (m)", "demand": "Demand",
        "d_workers_opt": "Outdoor workers", "d_residents_opt": "Residents", "run": "Run siting",
        "rank": "#", "gain": "Marginal gain", "cum": "Cumulative covered", "cum_pct": "Cumulative %",
        "downloads": "Downloads", "dl_fac_geojson": "Facilities GeoJSON", "dl_fac_csv": "Facilities CSV",
        "dl_dist_geojson": "Districts GeoJSON", "dl_gaps": "Uncovered areas GeoJSON", "dl_report": "Report (ZIP)",
        "dl_sites": "Proposed sites GeoJSON", "dl_sites_csv": "Proposed sites CSV",
        "loading": "Computing…", "error": "Error: ", "missing": "The coverage API is not deployed yet.",
        "assumptions": "Assumptions", "source": "Demand source",
        "sample": "Sample data: facilities are generated on real districts.",
        "worker_page": "Worker finder", "lang_switch": "中文", "hours": "Coverage over 24 hours",
        "hour": "h", "none": "—", "district_filter": "District", "legend": "Legend",
        "legend_covered_half": "covered, within half the threshold",
        "legend_covered": "covered, half to full threshold",
        "legend_near": "uncovered, 1–1.5 × threshold", "legend_far": "uncovered, 1.5–2 × threshold",
        "legend_very_far": "uncovered, beyond 2 × (or no facility)",
        "reports": "Problems reported", "suggestions": "Sites workers suggest", "n_reports": "{n} ×",
        "latest": "latest: {d}",
        "stale": "Parameters changed: run again", "d_below": "Thinly spread uncovered workers",
        "hotspots": "Demand hot spots (by uncovered workers)",
        "hotspots_sum": "The top {n} hot spots hold {w} uncovered workers, {p} of all uncovered",
        "access": "Access (places per person)", "lost": "Areas the scenario leaves uncovered",
        "assume": "{min} min {mode} (straight line × {detour}, {speed} km/h): covered within {m} m in a straight "
                  "line; {cell} m grid",
        "mode_walk": "walk", "mode_ebike": "by e-bike",
        "assume_route": "{min} min {mode} ({speed} km/h) by route: covered when the route takes at most that; "
                        "{cell} m grid",
        "travel_straight": "travel model: straight-line estimate", "travel_land": "travel model: shortest path over "
        "land (never across the sea)", "travel_network": "travel model: along the roads (OpenStreetMap)",
        "src_modelled": "Demand is modelled (estimated from population and employment, not counted on the ground)",
        "src_imported": "Demand comes from imported statistics",
        "method_greedy": "sites picked one at a time, each adding the most coverage (greedy)",
        "method_exact": "solved exactly (integer programme)", "curve_x": "sites added", "curve_y": "covered (%)",
        "whatif": "What if", "whatif_hint": "Turn on “Edit scenario”, then click a facility to close it or make it "
                                             "24-hour, or click the map to add a site.",
        "whatif_edit": "Edit scenario", "w_close": "Close this facility", "w_24h": "Make it 24-hour",
        "w_added": "New site {n}", "w_closed": "Closed: {name}", "w_made24": "24-hour: {name}", "w_undo": "Undo",
        "w_24h_na": "Already counted at this time", "w_24h_hint": "Choose a time of day first",
        "w_workers": "Workers covered (before → after)", "w_workers_pct": "Workers covered %",
        "w_res": "Residents covered (before → after)", "w_res_pct": "Residents covered %",
        "w_lost": "Newly uncovered: {place} · {district} · {w} workers", "w_none_lost": "No area loses coverage.",
        "usage": "Operations · usage", "u_load": "Load usage and recommendations", "u_util": "Utilisation",
        "u_night": "Night share", "u_peak": "Busiest hour", "u_visits": "Visits a day",
        "u_synthetic": "Synthetic sample (for the demo, not observed visits)",
        "u_city": "City utilisation {u}; night (22:00–06:00) visits {n}; busiest hour {h}",
        "u_hours": "Visits a day by hour", "recs": "Recommendations and reasons", "a_extend_24h": "Open 24 hours",
        "a_merge": "Merge", "a_relocate": "Relocate", "a_add_places": "Add places", "travel": "Distances",
        "travel_opt_land": "Over land (never across the sea)", "travel_opt_straight": "Straight line × detour factor",
        "travel_opt_network": "Along the roads",
        "city_pick": "City", "no_demand": "No demand is loaded for this city, so coverage cannot be computed.",
    },
}


#: The overview map (/map).
OVERVIEW_UI: dict[str, dict[str, str]] = {
    "zh": {
        "title": "青岛职工服务设施 · 全部设施地图", "heading": "全部设施", "back": "找最近的驿站",
        "lang_switch": "English", "sample": "示例数据：按真实区划生成，并非真实驿站名单。", "legend": "图例",
        "legend_cluster": "圆圈里的数字：那里的设施数，点一下放大", "cluster": "{n} 个设施", "count": "共 {n} 处设施",
        "open_24": "24小时营业", "hours_unknown": "营业时间未知", "days": "周一,周二,周三,周四,周五,周六,周日",
        "ph": "法定节假日", "off": "休息", "c_hours": "开放时间", "c_address": "地址", "c_sample": "示例数据",
        "load_error": "数据加载失败：",
    },
    "en": {
        "title": "Qingdao worker facilities · all on one map", "heading": "All facilities", "back": "Find the nearest",
        "lang_switch": "中文", "sample": "Sample data: generated on real districts, not the real list.",
        "legend": "Legend", "legend_cluster": "Number in a circle: facilities there; tap to zoom in",
        "cluster": "{n} facilities", "count": "{n} facilities", "open_24": "Open 24 hours",
        "hours_unknown": "Hours unknown", "days": "Mon,Tue,Wed,Thu,Fri,Sat,Sun", "ph": "public holidays",
        "off": "closed", "c_hours": "Hours", "c_address": "Address", "c_sample": "Sample record",
        "load_error": "Could not load data: ",
    },
}


def _tianditu_key() -> str | None:
    """The TianDiTu browser key: app config ``TIANDITU_KEY`` or env ``WORKERMAP_TIANDITU_KEY``; none hides it."""
    return current_app.config.get("TIANDITU_KEY") or os.environ.get("WORKERMAP_TIANDITU_KEY") or None


#: Where the worker page opens before it knows where the worker is: the urban core (市南/市北/李沧/崂山).
URBAN_CENTRE = (36.12, 120.40)


@cache
def _skeleton(static_base: str, tianditu_key: str | None, tiles: bool, offline_url: str, zoom: int,
              center: tuple[float, float]) -> dict:
    return map_skeleton(static_base, tianditu_key=tianditu_key, tiles=tiles, offline_url=offline_url, zoom=zoom,
                        center=center)


def _page(template: str, ui: dict, *, zoom: int, center: tuple[float, float], extra: dict,
          facilities: str = "pages.facilities_light") -> Response:
    static_base = url_for("static", filename="")
    region = state().region
    ui = regional_ui(ui, region)  # titles name the region served (WORKERMAP_REGION)
    if region.districts_path is None:  # a region other than Qingdao: the pages open on the whole of it
        zoom, center = region.zoom, region.center_latlon
    skeleton = _skeleton(static_base, _tianditu_key(), state().settings.tiles == "on", url_for("basemap.basemap"),
                         zoom, center)
    js, css = local_assets(static_base)
    config = {
        "map": {"map": skeleton["map"], "basemaps": skeleton["basemaps"]},
        "strings": ui, "vocab": VOCABULARIES, "kind_colours": KIND_COLOURS,
        "urls": {"meta": url_for("api.meta"), "districts": url_for("pages.districts_light"),
                 "nearest": url_for("nearest.nearest"),
                 "hours": url_for("pages.hours_state"),
                 "facilities": url_for(facilities), "facilities_full": url_for("api.facilities")},
        "streets": streets_config(),  # the imported extract's street basemap (web/tiles.py), or null
        "viewport": viewport_config(),  # a large registry (any store): facilities by map tile, or null
        "osm": osm_credit(state().settings),  # an imported extract's ODbL attribution (geo.osm), or null
        **extra,
    }
    html = render_template(template, t=ui["zh"], ui=ui, config=config, map_div=skeleton["div"],
                           map_script=skeleton["script"], vendor_js=[u for _, u in js],
                           vendor_css=[u for _, u in css], kinds=KINDS, kind_colours=KIND_COLOURS)
    resp = Response(html, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/")
def worker():
    """The worker finder: a phone-first map, the nearest list, filters, navigation links."""
    return _page("pages/worker.html", UI, zoom=11, center=URBAN_CENTRE, extra={
        "worker_access": {w: sorted(a) for w, a in WORKER_TYPES.items()},
        "amenity_icons": AMENITY_ICONS, "filter_amenities": list(FILTER_AMENITIES),
        "list_k": 8,
        "worker_urls": {"search": "/api/v1/search", "reports": "/api/v1/reports",
                        "reports_summary": "/api/v1/reports/summary",
                        "item": "/ogc/collections/facilities/items/__ID__?f=json"},
        # what a worker can report about a facility (a new site is suggested from the map instead)
        "report_kinds": [{"kind": k, "zh": v.zh, "en": v.en} for k, v in REPORT_KINDS.items() if k != "new_site"],
        "report_text_max": MAX_TEXT,
    })


@bp.get("/planner")
def planner():
    """The planner: coverage grid, uncovered areas, district table, siting plan, downloads."""
    urls = {
        "coverage": "/api/v1/coverage", "coverage_png": "/api/v1/coverage/grid.png",
        "coverage_hours": "/api/v1/coverage/hours", "gaps": "/api/v1/gaps", "plan": "/api/v1/plan",
        "report": "/api/v1/report.zip", "export": "/api/v1/export", "reports_layer": url_for("reports.layer"),
        "whatif": "/api/v1/whatif", "coverage_facilities": "/api/v1/coverage/facilities", "access": "/api/v1/access",
        "usage": "/api/v1/usage", "recommendations": "/api/v1/recommendations",
    }
    from geo.planner_params import ADD, MIN_SPACING_M, MINUTES, PLANNER_TRAVEL

    limits = {p.name: [p.lo, p.hi] for p in (MINUTES, ADD, MIN_SPACING_M)}  # the form's ranges: the API's
    snap = state().snapshot
    travel = sorted((m for m in PLANNER_TRAVEL.allowed_values() if snap.travel_context.available(m)),  # network:
                    key=lambda m: m != PLANNER_TRAVEL.default)  # once imported; the default first
    cities, default_city = _planner_cities()
    urls["city_districts"] = url_for("pages.planner_city_districts")
    if cities:  # a province or the nation: the facility layer of the city chosen (a city's page: the region's)
        urls["city_facilities"] = url_for("pages.planner_city_facilities")
    return _page("pages/planner.html", PLANNER_UI, zoom=9, center=QINGDAO_CENTER,
                 extra={"planner_urls": urls, "planner_limits": limits,
                        "travel_models": travel, "travel_default": PLANNER_TRAVEL.default,
                        "planner_cities": cities, "planner_city_default": default_city,
                        "report_kinds": {k: {"zh": v.zh, "en": v.en} for k, v in REPORT_KINDS.items()}})


def _planner_cities() -> tuple[list[dict[str, str]], str | None]:
    """The planner's city choice and its default (``geo.city_planner.city_choice``); none in a city's region."""
    from geo.city_planner import city_choice

    st = state()
    return city_choice(st.region, st.districts.frame, imported_demand=st.settings.imported_demand_path.exists())


@lru_cache(maxsize=16)  # a few cities' outlines (~100 KB each)
def _city_outlines(adcode: str, districts_path, cache_dir) -> bytes:
    from geo.regions import load_region, outline_geojson

    region = load_region(adcode, districts_path)
    return outline_geojson(region, region.districts(), cache_dir)


@bp.get("/planner/districts.geojson")
def planner_city_districts():
    """The county outlines of the planner's ``city`` (the region's own where it is a city), as
    ``/worker/districts.geojson`` draws the region's units: the planner page's boundaries, district list and
    map bounds for the city chosen."""
    from geo.city_planner import resolve_city
    from geo.params import Params
    from geo.planner_params import CITY

    st = state()
    adcode, _ = resolve_city(st.region, Params(CITY).parse(request.args)["city"])
    return geojson_response(_city_outlines(adcode, st.settings.districts_path, Path(st.settings.data_dir) / "cache"),
                            max_age=3600)


@bp.get("/planner/facilities.geojson")
def planner_city_facilities():
    """The planner map's facility layer for its ``city``: in a province or the nation the city's live facilities
    only (those its answers count, read for the city by bounding box: ``geo.city_planner.city_live_facilities``),
    built once per city and registry version; where the region is a city, ``/worker/facilities.geojson``'s bytes."""
    from geo.city_planner import city_live_facilities, needs_city, resolve_city
    from geo.params import Params
    from geo.planner_params import CITY

    st = state()
    adcode, _ = resolve_city(st.region, Params(CITY).parse(request.args)["city"])
    if not needs_city(st.region):
        return geojson_response(st.map_geojson)

    def build() -> bytes:
        live = city_live_facilities(st.registry, adcode, st.settings)
        meta = {"sample": st.registry.is_sample, "count": len(live), "version": st.registry.version, "city": adcode}
        return dumps_geojson(map_feature_collection(live, meta)).encode("utf-8")

    return geojson_response(st.city_planners.layer(adcode, build))


@bp.get("/worker/hours")
def hours_state():
    """Open or closed at ``at`` (``now`` or ISO 8601, Qingdao time) for each opening-hours expression in use.

    The map filters "open now" with this, exactly as ``/api/v1/nearest`` does: each distinct
    expression evaluated once at the minute. The page passes the returned ``at`` back to
    ``/api/v1/nearest`` as ``open_at`` so the list and the map use the same minute. ``hours`` is for the
    facilities with ``workday_calendar`` false, ``workday_calendar`` for the others (China's working
    calendar); unknown hours (``opening_hours`` null) are in neither: never open.
    """
    at = WORKER_HOURS.parse(request.args)["at"]
    when = (now_local() if at == "now" else local_time(at)).replace(second=0)
    st = state()
    found = hours_states(st.hours_in_use, when)
    out = {wc: {e: {"open": is_open, "next_change": iso_minutes(nxt)} for e, (is_open, nxt) in by_expr.items()}
           for wc, by_expr in found.items()}
    resp = current_app.json.response({"at": iso_minutes(when), "version": st.registry.version, "hours": out[False],
                                      "workday_calendar": out[True]})
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/worker/facilities.geojson")
def facilities_light():
    """Every live facility as compact GeoJSON for the worker page's map (``web.maps.map_feature_collection``).

    Same features and property names as ``/api/v1/facilities``, only what markers, labels and filters use
    (``web.maps.MAP_FIELDS``), so a phone loads ~32 KB Brotli instead of ~70 KB; a card asks for the full
    record. Built once per registry version.
    """
    NO_PARAMETERS.reject_unknown(request.args)
    return geojson_response(state().map_geojson)


@bp.get("/map/facilities.geojson")
def facilities_overview():
    """The overview map's layer: the worker page's, with district, township and address for its popups."""
    NO_PARAMETERS.reject_unknown(request.args)
    return geojson_response(state().overview_geojson)


@bp.get("/worker/districts.geojson")
def districts_light():
    """District outlines simplified for drawing on a phone (``AppState.district_outlines``)."""
    NO_PARAMETERS.reject_unknown(request.args)
    return geojson_response(state().district_outlines, max_age=3600)


@bp.get("/map")
def overview():
    """All facilities on one clustered map, with a legend of kinds and a way back to the worker page."""
    st = state()
    resp = _page("pages/overview.html", OVERVIEW_UI, zoom=9, center=QINGDAO_CENTER,
                 extra={"sample": st.registry.is_sample, "worker_url": url_for("pages.worker")},
                 facilities="pages.facilities_overview")
    resp.set_data(add_nonce(resp.get_data(as_text=True)))  # every script tag carries the nonce (one policy)
    return resp
