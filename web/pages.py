"""HTML pages."""

from __future__ import annotations

from functools import cache

from flask import Blueprint, Response, url_for

from web.maps import overview_map_html
from web.security import add_nonce

bp = Blueprint("pages", __name__)


@cache
def _overview(static_base: str, facilities_url: str, districts_url: str) -> str:
    return overview_map_html(static_base, facilities_url, districts_url)


@bp.get("/map")
def overview():
    """All facilities on one clustered map (folium, rendered once and cached)."""
    html = _overview(url_for("static", filename=""), url_for("api.facilities"), url_for("api.districts"))
    return Response(add_nonce(html), mimetype="text/html")
