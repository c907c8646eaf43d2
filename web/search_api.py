"""/api/v1/search: places, districts, townships and facilities by name (``geo.search``)."""

from __future__ import annotations

from flask import Blueprint

from geo.params import SEARCH
from web import params, state

bp = Blueprint("search", __name__, url_prefix="/api/v1")


@bp.get("/search")
def search():
    """Places, districts, townships and facilities matching ``q``, best first (one index per registry version:
    ``Snapshot.gazetteer``)."""
    o = SEARCH.parse(params.QueryArgs.from_request())
    results = state().gazetteer.search(o["q"], limit=o["limit"])
    return {"query": o["q"], "count": len(results), "results": [r.as_dict() for r in results]}
