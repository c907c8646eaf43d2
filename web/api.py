"""The JSON API, /api/v1. Views parse, call geo, serialise; nothing more."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache

from flask import Blueprint, Response, request

from geo.export import dumps_geojson, feature_collection
from geo.model import VOCABULARIES
from geo.query import FacilityFilter
from geo.registry_params import FACILITIES, NO_PARAMETERS
from web import params, state

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@lru_cache(maxsize=16)
def content_etag(body: bytes) -> str:
    """A strong ETag of ``body`` (once per bytes object: the cached layers are the same object every time)."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def geojson_response(body: bytes, *, max_age: int = 60) -> Response:
    """GeoJSON, cacheable for ``max_age`` seconds then revalidated by its ETag (304 if unchanged);
    compressed by ``web.compress`` (once per ETag)."""
    resp = Response(body, mimetype="application/geo+json")
    resp.headers["ETag"] = content_etag(body)
    resp.headers["Cache-Control"] = f"public, max-age={max_age}"
    return resp.make_conditional(request)


@bp.get("/facilities")
def facilities():
    """Live facilities as GeoJSON, of some kinds and districts (an empty value: all)."""
    st = state()
    values = FACILITIES.parse(request.args, lookups=params.lookups(st))
    if not values["kind"] and not values["district"]:
        return geojson_response(st.facilities_geojson)
    selected = st.facility_table.select(FacilityFilter.of(values)).facilities
    meta = {"sample": st.registry.is_sample, "count": len(selected), "version": st.registry.version}
    return geojson_response(dumps_geojson(feature_collection(selected, meta)).encode("utf-8"))


@bp.get("/districts")
def districts():
    """The district polygons (RFC 7946)."""
    NO_PARAMETERS.reject_unknown(request.args)
    return geojson_response(state().districts_geojson, max_age=3600)


@bp.get("/meta")
def meta():
    """Vocabularies with labels, counts, and whether the registry is sample data."""
    NO_PARAMETERS.reject_unknown(request.args)
    st = state()
    return {
        "sample": st.registry.is_sample,
        "registry_version": st.registry.version,
        "counts": st.counts,
        **VOCABULARIES,
        "assumptions": {
            "detour_factor": st.settings.detour_factor,
            "walk_kmh": st.settings.walk_kmh,
            "ebike_kmh": st.settings.ebike_kmh,
        },
        "region": st.region.metadata(),  # WORKERMAP_REGION: what the service covers, whence its boundaries
    }


health_bp = Blueprint("health", __name__)


@health_bp.get("/healthz")
def healthz():
    """Liveness and what is being served (for load balancers and monitoring)."""
    st = state()
    return {"status": "ok", "facilities": len(st.registry), "registry_version": st.registry.version,
            "sample": st.registry.is_sample, "pid": os.getpid()}
