"""folium maps with locally served Leaflet assets (no CDN), the basemaps and the map data of the pages.

folium's defaults link Leaflet, jQuery, Bootstrap and Font Awesome from CDNs;
every map built here replaces those links with files under ``web/static/vendor``
so pages work on an intranet and in tests with no internet. Tiles come from their
providers; when they fail (or ``WORKERMAP_TILES=off``) the pages draw the offline
basemap, vector layers from shipped data (``Settings.basemap_path``, served by
``web.basemap``), in the browser (``WM.Basemaps`` in ``web/static/js/common.js``).
"""

from __future__ import annotations

from dataclasses import dataclass

import folium

from web.assets import asset_name

QINGDAO_CENTER = (36.30, 120.38)
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTR = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


_REGIONAL_UI: dict[tuple[int, str], dict] = {}


def regional_ui(ui: dict[str, dict[str, str]], region) -> dict[str, dict[str, str]]:
    """A page's strings for the region served (``geo.regions.Region``): Qingdao's as written; for any other
    region 青岛/Qingdao become its short name (山东, 全国 …) and English name, in titles and everywhere else."""
    if region.districts_path is not None:  # Qingdao, shipped
        return ui
    key = (id(ui), region.adcode)
    if key not in _REGIONAL_UI:
        zh = "全国" if region.level == "country" else region.name.removesuffix("市").removesuffix("省")
        _REGIONAL_UI[key] = {lang: {k: v.replace("青岛市", zh).replace("青岛", zh).replace("Qingdao", region.name_en)
                                    if isinstance(v, str) else v for k, v in strings.items()}
                             for lang, strings in ui.items()}
    return _REGIONAL_UI[key]


def local_assets(static_base: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """folium's ``default_js``/``default_css``: the vendored Leaflet files under their content-hashed names."""
    base = static_base.rstrip("/")
    js = [
        ("leaflet", "vendor/leaflet/leaflet.js"),
        ("markercluster", "vendor/markercluster/leaflet.markercluster.js"),
    ]
    css = [
        ("leaflet_css", "vendor/leaflet/leaflet.css"),
        ("markercluster_css", "vendor/markercluster/MarkerCluster.css"),
        ("markercluster_default_css", "vendor/markercluster/MarkerCluster.Default.css"),
    ]
    return ([(name, f"{base}/{asset_name(path)}") for name, path in js],
            [(name, f"{base}/{asset_name(path)}") for name, path in css])


def base_map(static_base: str, **kwargs) -> folium.Map:
    """A folium Map of Qingdao whose assets all come from ``static_base``."""
    m = folium.Map(location=QINGDAO_CENTER, zoom_start=9, tiles=None, control_scale=True, **kwargs)
    js, css = local_assets(static_base)
    m.default_js = js  # instance lists: folium's class lists must stay untouched
    m.default_css = css
    folium.TileLayer(OSM_TILES, attr=OSM_ATTR, name="OpenStreetMap", max_zoom=19).add_to(m)
    return m


# -- basemaps in three datums and the page skeleton ------------------------------------------------

@dataclass(frozen=True)
class Basemap:
    """A tile basemap and the datum its tiles are drawn in (markers must be shifted to match)."""

    id: str
    name: str  # shown in the layer switcher (both languages: the switcher is built once)
    datum: str  # "wgs84" or "gcj02"
    url: str
    attribution: str
    subdomains: str = "abc"
    max_zoom: int = 18
    labels_url: str | None = None  # a second, transparent tile layer drawn on top (TianDiTu's labels)
    needs_key: bool = False


AMAP_TILES = ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
              "&x={x}&y={y}&z={z}")
_TDT = ("https://t{s}.tianditu.gov.cn/%s_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=%s"
        "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=%s")

BASEMAPS: tuple[Basemap, ...] = (
    Basemap("osm", "OpenStreetMap", "wgs84", OSM_TILES, OSM_ATTR, max_zoom=19),
    # CGCS2000 differs from WGS84 by centimetres: no shift needed.
    Basemap("tianditu", "天地图 TianDiTu", "wgs84", _TDT % ("vec", "vec", "{key}"),
            '&copy; <a href="https://www.tianditu.gov.cn/">天地图</a> GS(2024)0568号', subdomains="01234567",
            labels_url=_TDT % ("cva", "cva", "{key}"), needs_key=True),
    Basemap("amap", "高德地图 AMap (GCJ-02)", "gcj02", AMAP_TILES, "&copy; 高德地图 AutoNavi", subdomains="1234"),
)


def basemaps_for(tianditu_key: str | None) -> list[Basemap]:
    """The basemaps this deployment can show: TianDiTu only with a key."""
    return [b for b in BASEMAPS if not b.needs_key or tianditu_key]


#: The offline basemap's entry in the layer switcher (both languages: the switcher is built once).
OFFLINE_NAME = "离线底图 Offline map"


def map_skeleton(static_base: str, *, tianditu_key: str | None = None, tiles: bool = True,
                 offline_url: str | None = None, zoom: int = 11,
                 center: tuple[float, float] = QINGDAO_CENTER) -> dict:
    """folium renders the map once: the ``L.map`` call, the basemaps and the layer switcher.

    Returns ``{"map": var name, "div": html, "script": js, "basemaps": [{"id", "var", "datum"}]}``;
    a page template embeds ``div`` and ``script`` (with the request's CSP nonce) and its own
    script finds the map and the basemap layers by their global ``var`` names. No basemap is on
    the map at start: ``WM.Basemaps`` (``web/static/js/common.js``) shows the remembered or the
    default one, so no tile of another basemap is ever asked for. The last basemap is the offline
    one (``"offline": true``, an empty layer group the script fills with vector layers drawn from
    ``offline_url``); with ``tiles=False`` it is the only one and no tile URL is in the page.
    """
    m = folium.Map(location=center, zoom_start=zoom, tiles=None, control_scale=True)
    m.default_js, m.default_css = local_assets(static_base)
    layers = []
    for b in basemaps_for(tianditu_key) if tiles else []:
        url = b.url.replace("{key}", tianditu_key or "")
        grouped = b.labels_url is not None
        tile = folium.TileLayer(url, attr=b.attribution, name=b.name, max_zoom=b.max_zoom, max_native_zoom=b.max_zoom,
                                subdomains=b.subdomains, overlay=False, control=not grouped, show=grouped)
        if grouped:
            group = folium.FeatureGroup(name=b.name, overlay=False, control=True, show=False)
            tile.add_to(group)
            folium.TileLayer(b.labels_url.replace("{key}", tianditu_key or ""), attr=" ", name=b.name + " labels",
                             max_zoom=b.max_zoom, subdomains=b.subdomains, overlay=True, control=False).add_to(group)
            group.add_to(m)
            var = group.get_name()
        else:
            tile.add_to(m)
            var = tile.get_name()
        layers.append({"id": b.id, "var": var, "datum": b.datum})
    offline = folium.FeatureGroup(name=OFFLINE_NAME, overlay=False, control=True, show=False)
    offline.add_to(m)
    layers.append({"id": "offline", "var": offline.get_name(), "datum": "wgs84", "offline": True, "url": offline_url})
    folium.LayerControl(position="topright", collapsed=True).add_to(m)
    root = m.get_root()
    root.render()
    return {"map": m.get_name(), "div": root.html.render(), "script": root.script.render(), "basemaps": layers}


#: The properties the worker page's map layer needs: marker, label and filter fields only (kind, names,
#: amenities, hours, access, status). What only a detail card shows (address, phone, capacity, entry, township,
#: verified_at …) comes from the full record when a card is opened (the nearest hits carry it too).
#: No source_*, host, sample flag (the page reads it from /api/v1/meta) or district_adcode; empty values
#: and a false ``workday_calendar`` left out, ``hours_known`` added; 6 decimals (0.1 m). For the shipped
#: 1,676 facilities this is ~32 KB Brotli (41 KB gzip), against ~100 KB for the full /api/v1/facilities.
MAP_FIELDS = ("kind", "name", "name_en", "amenities", "opening_hours", "workday_calendar", "access", "status")
#: The overview map (/map) also shows where a facility is in its popups.
OVERVIEW_FIELDS = (*MAP_FIELDS, "district", "township", "address")


def map_feature_collection(facilities, meta: dict, fields: tuple[str, ...] = MAP_FIELDS) -> dict:
    """Facilities as compact GeoJSON: the structure and property names of /api/v1/facilities, ``fields`` only."""
    feats = []
    for f in facilities:
        props = {k: v for k, v in ((k, getattr(f, k)) for k in fields) if v not in ("", None, ()) and v is not False}
        props["hours_known"] = "opening_hours" in props  # no hours = unknown, never "always open"
        for k in ("amenities", "entry"):
            if k in props:
                props[k] = list(props[k])
        feats.append({"type": "Feature", "id": f.id,
                      "geometry": {"type": "Point", "coordinates": [round(f.lon, 6), round(f.lat, 6)]},
                      "properties": props})
    return {"type": "FeatureCollection", "metadata": {**meta, "fields": [*fields, "hours_known"]},
            "features": feats}
