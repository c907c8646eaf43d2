"""folium maps with locally served Leaflet assets (no CDN).

folium's defaults link Leaflet, jQuery, Bootstrap and Font Awesome from CDNs;
every map built here replaces those links with files under ``web/static/vendor``
so pages work on an intranet and in tests with no internet. Tiles still come
from their providers; the page works (markers, list) when they fail.
"""

from __future__ import annotations

from dataclasses import dataclass

import folium
from branca.element import Element, JavascriptLink

QINGDAO_CENTER = (36.30, 120.38)
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTR = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


def local_assets(static_base: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    v = static_base.rstrip("/") + "/vendor"
    js = [
        ("leaflet", f"{v}/leaflet/leaflet.js"),
        ("markercluster", f"{v}/markercluster/leaflet.markercluster.js"),
    ]
    css = [
        ("leaflet_css", f"{v}/leaflet/leaflet.css"),
        ("markercluster_css", f"{v}/markercluster/MarkerCluster.css"),
        ("markercluster_default_css", f"{v}/markercluster/MarkerCluster.Default.css"),
    ]
    return js, css


def base_map(static_base: str, **kwargs) -> folium.Map:
    """A folium Map of Qingdao whose assets all come from ``static_base``."""
    m = folium.Map(location=QINGDAO_CENTER, zoom_start=9, tiles=None, control_scale=True, **kwargs)
    js, css = local_assets(static_base)
    m.default_js = js  # instance lists: folium's class lists must stay untouched
    m.default_css = css
    folium.TileLayer(OSM_TILES, attr=OSM_ATTR, name="OpenStreetMap", max_zoom=19).add_to(m)
    return m


def overview_map_html(static_base: str, facilities_url: str, districts_url: str) -> str:
    """The all-facilities map: data is fetched as GeoJSON and clustered in the browser."""
    m = base_map(static_base)
    root = m.get_root()
    root.header.add_child(Element('<meta name="viewport" content="width=device-width, initial-scale=1">'))
    root.html.add_child(Element(
        f'<div id="wm-config" hidden data-map="{m.get_name()}" data-facilities="{facilities_url}" '
        f'data-districts="{districts_url}"></div>'
    ))
    root.html.add_child(JavascriptLink(static_base.rstrip("/") + "/js/overview.js"))
    return m.get_root().render()


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


def map_skeleton(static_base: str, *, tianditu_key: str | None = None, zoom: int = 11,
                 center: tuple[float, float] = QINGDAO_CENTER) -> dict:
    """folium renders the map once: the ``L.map`` call, the basemaps and the layer switcher.

    Returns ``{"map": var name, "div": html, "script": js, "basemaps": [{"id", "var", "datum"}]}``;
    a page template embeds ``div`` and ``script`` (with the request's CSP nonce) and its own
    script finds the map and the basemap layers by their global ``var`` names. Only the first
    basemap is on the map at start; the page's script may switch to a remembered one.
    """
    m = folium.Map(location=center, zoom_start=zoom, tiles=None, control_scale=True)
    m.default_js, m.default_css = local_assets(static_base)
    layers = []
    for i, b in enumerate(basemaps_for(tianditu_key)):
        url = b.url.replace("{key}", tianditu_key or "")
        grouped = b.labels_url is not None
        tile = folium.TileLayer(url, attr=b.attribution, name=b.name, max_zoom=b.max_zoom, max_native_zoom=b.max_zoom,
                                subdomains=b.subdomains, overlay=False, control=not grouped, show=grouped or i == 0)
        if grouped:
            group = folium.FeatureGroup(name=b.name, overlay=False, control=True, show=(i == 0))
            tile.add_to(group)
            folium.TileLayer(b.labels_url.replace("{key}", tianditu_key or ""), attr=" ", name=b.name + " labels",
                             max_zoom=b.max_zoom, subdomains=b.subdomains, overlay=True, control=False).add_to(group)
            group.add_to(m)
            var = group.get_name()
        else:
            tile.add_to(m)
            var = tile.get_name()
        layers.append({"id": b.id, "var": var, "datum": b.datum})
    folium.LayerControl(position="topright", collapsed=True).add_to(m)
    root = m.get_root()
    root.render()
    return {"map": m.get_name(), "div": root.html.render(), "script": root.script.render(), "basemaps": layers}


def simplified_districts_geojson(frame, *, tolerance_deg: float = 0.0005, grid_deg: float = 1e-5) -> dict:
    """District outlines light enough for a phone (~30 KB gzip instead of ~155 KB).

    Douglas-Peucker at 0.0005° (~50 m, topology kept) on coordinates snapped to 1e-5° (~1 m).
    For drawing only: every computation (which district a point is in) uses the full polygons.
    """
    import shapely

    geoms = shapely.set_precision(shapely.simplify(frame.geometry.values, tolerance_deg, preserve_topology=True),
                                  grid_deg)
    feats = [{"type": "Feature", "id": str(a),
              "properties": {"adcode": str(a), "name": n, "name_en": e or ""},
              "geometry": shapely.geometry.mapping(g)}
             for a, n, e, g in zip(frame["adcode"], frame["name"], frame["name_en"], geoms, strict=True)]
    return {"type": "FeatureCollection", "features": feats}


#: The properties the map pages need: no source_*, host, sample flag (the page reads it from
#: /api/v1/meta) or district_adcode; empty values left out; 6 decimals (0.1 m). For the shipped
#: 1,676 facilities this is ~85 KB gzip, against ~100 KB for the full /api/v1/facilities.
MAP_FIELDS = ("kind", "name", "name_en", "district", "township", "address", "amenities", "opening_hours",
              "access", "entry", "capacity", "status", "verified_at", "phone")


def map_feature_collection(facilities, meta: dict) -> dict:
    """Facilities as compact GeoJSON: the structure and property names of /api/v1/facilities, fewer properties."""
    feats = []
    for f in facilities:
        props = {k: v for k, v in ((k, getattr(f, k)) for k in MAP_FIELDS) if v not in ("", None, ())}
        for k in ("amenities", "entry"):
            if k in props:
                props[k] = list(props[k])
        feats.append({"type": "Feature", "id": f.id,
                      "geometry": {"type": "Point", "coordinates": [round(f.lon, 6), round(f.lat, 6)]},
                      "properties": props})
    return {"type": "FeatureCollection", "metadata": {**meta, "fields": list(MAP_FIELDS)}, "features": feats}
