"""folium maps with locally served Leaflet assets (no CDN).

folium's defaults link Leaflet, jQuery, Bootstrap and Font Awesome from CDNs;
every map built here replaces those links with files under ``web/static/vendor``
so pages work on an intranet and in tests with no internet. Tiles still come
from their providers; the page works (markers, list) when they fail.
"""

from __future__ import annotations

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
