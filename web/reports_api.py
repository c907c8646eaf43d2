"""Worker reports over HTTP (the core is ``geo.reports``; parameters ``geo.report_params``).

Public, no login: ``POST /api/v1/reports`` (report a problem or suggest a site; rate-limited per client,
body size-limited), ``GET /api/v1/reports/summary`` (the facility card: open reports, last verified) and
``GET /api/v1/reports/layer`` (GeoJSON for the planner map, no texts). With an admin token:
``GET /api/v1/admin/reports`` (the queue) and ``POST /api/v1/admin/reports/<id>/resolve`` (optionally with
an edit of the facility, written with the resolution in one transaction).

The client of a report is the connecting address; ``X-Forwarded-For`` is read only when the request comes
from a configured proxy (``Settings.trusted_proxies``), so a client cannot pick its own identity. Only a
salted hash of the address is stored.
"""

from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache
from typing import Any

import numpy as np
from flask import Blueprint, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from geo.errors import DomainError, TooLarge
from geo.export import dumps_geojson
from geo.registry_params import NO_PARAMETERS
from geo.report_params import MAX_BODY_BYTES, QUEUE, RESOLVE, SUMMARY
from geo.reports import Reports, json_values
from geo.store.tokens import TokenStore
from web import params, state
from web.api import geojson_response
from web.auth import check_token

__all__ = ["admin_bp", "bp", "client_address"]

bp = Blueprint("reports", __name__, url_prefix="/api/v1/reports")
admin_bp = Blueprint("reports_admin", __name__, url_prefix="/api/v1/admin/reports")

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(setting: str) -> tuple[_Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",") if part.strip())


def _is_proxy(address: str, proxies: tuple[_Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(environ: dict, trusted_proxies: str) -> str:
    """Who sent the request: the connecting address, or, when that is a trusted proxy, the last address in
    ``X-Forwarded-For`` that is not one (what the outermost trusted proxy saw; earlier entries can be forged).

    >>> env = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7, 10.0.0.3"}
    >>> client_address(env, ""), client_address(env, "10.0.0.0/8"), client_address(env, "192.168.0.1")
    ('10.0.0.2', '203.0.113.7', '10.0.0.2')
    """
    remote = environ.get("REMOTE_ADDR") or ""
    proxies = _networks(trusted_proxies)
    if not proxies or not _is_proxy(remote, proxies):
        return remote
    hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    return next((h for h in reversed(hops) if not _is_proxy(h, proxies)), hops[0] if hops else remote)


def _json_body(*, optional: bool = False) -> Any:
    """The request's JSON body, at most MAX_BODY_BYTES (else a 413); ``optional``: an empty body is ``{}``."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise TooLarge(f"the body may be at most {MAX_BODY_BYTES} bytes", allowed=f"≤ {MAX_BODY_BYTES} bytes")
    request.max_content_length = MAX_BODY_BYTES  # a body sent without Content-Length too
    try:
        data = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise TooLarge(f"the body may be at most {MAX_BODY_BYTES} bytes", allowed=f"≤ {MAX_BODY_BYTES} bytes") from None
    if optional and not data.strip():
        return {}
    if not request.is_json:
        raise DomainError("send a JSON object with Content-Type: application/json", code="invalid_body",
                          allowed="application/json")
    if _nesting(data) > MAX_NESTING:  # refused before parsing: deep recursion in the parser is a hazard of its own
        raise DomainError(f"the body nests arrays or objects more than {MAX_NESTING} deep", code="invalid_body",
                          allowed=f"a JSON object nested at most {MAX_NESTING} deep")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise DomainError("the body is not valid JSON", code="invalid_body", allowed="a JSON object") from None


#: How deep a report's body may nest (a report is one flat object; the parser recursed once per level, and a
#: garbage collection near the recursion limit could fail in a finalizer).
MAX_NESTING = 32
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _nesting(data: bytes) -> int:
    """How deep ``data``'s arrays and objects nest (brackets inside strings not counted)."""
    text = np.frombuffer(_STRINGS.sub(b'""', data), dtype=np.uint8)
    steps = np.isin(text, (0x5B, 0x7B)).astype(np.int32) - np.isin(text, (0x5D, 0x7D))
    return int(np.cumsum(steps).max(initial=0))


def _reports() -> Reports:
    return Reports(state().store)


# -- public ---------------------------------------------------------------------------------------

@bp.post("")
def submit():
    """Report a problem with a facility, or suggest a new site (201 with the stored report)."""
    NO_PARAMETERS.reject_unknown(request.args)
    client = client_address(request.environ, state().settings.trusted_proxies)
    return _reports().submit(_json_body(), client=client), 201


@bp.get("/summary")
def summary():
    """A facility's open reports and last verification (for its card)."""
    st = state()
    facility_id = SUMMARY.parse(params.QueryArgs.from_request())["facility_id"]
    return _reports().summary(st.registry, facility_id)


@bp.get("/layer")
def layer():
    """Open reports and suggested sites as GeoJSON (the planner's layers; no texts)."""
    NO_PARAMETERS.reject_unknown(request.args)
    doc = _reports().layer(state().registry)
    return geojson_response(dumps_geojson(doc).encode("utf-8"), max_age=0)


# -- admin ----------------------------------------------------------------------------------------

@admin_bp.before_request
def _authenticate():
    g.actor = check_token(TokenStore(state().store), request.headers.get("Authorization"))


@admin_bp.get("")
def queue():
    """The reports of a status, newest first."""
    values = QUEUE.parse(params.QueryArgs.from_request())
    return {"reports": _reports().queue(state().registry, status=values["status"], limit=values["limit"])}


@admin_bp.post("/<int:report_id>/resolve")
def resolve(report_id: int):
    """Resolve a report, optionally editing its facility (or creating the suggested one) in the same transaction."""
    NO_PARAMETERS.reject_unknown(request.args)
    values = json_values(RESOLVE, _json_body(optional=True))
    st = state()
    report, facility, after = _reports().resolve(report_id, actor=g.actor, note=values["note"], edit=values["edit"],
                                                 districts=st.districts)
    if after is not None:
        st.adopt(after)
    return {"report": report} if facility is None else {"report": report, "facility": facility}
