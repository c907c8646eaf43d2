"""Admin writes, /api/v1/admin: token-protected, validated like an import, atomic, audited.

Every write goes through ``RegistryStore.update`` (one database transaction: the
writer's lock → the committed registry → change → validate the changed records →
rows, version and audit row → commit) and is then served by this worker at once;
other workers and servers pick it up within ``RELOAD_CHECK_S`` (see web/state.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, g, request

from geo import datum
from geo.edits import EDITABLE, facility_from_values, patched
from geo.errors import Conflict, NotFound
from geo.registry import Registry, RegistryError
from geo.store.tokens import TokenStore
from web import params, state
from web.auth import check_token
from web.errors import ApiError

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")

UPLOAD_SUFFIXES = (".csv", ".xlsx", ".geojson", ".json")
#: The largest version number a database INTEGER holds (SQLite and PostgreSQL bigint): beyond it, a 400.
MAX_VERSION = 2**63 - 1


@bp.before_request
def _authenticate():
    g.actor = check_token(TokenStore(state().store), request.headers.get("Authorization"))


def _json_body() -> tuple[dict, str]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object of facility fields", code="invalid_body")
    unknown = sorted(set(body) - EDITABLE - {"crs"})
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}; editable: {', '.join(sorted(EDITABLE))}",
                       code="unknown_field", parameter=unknown[0], allowed=sorted(EDITABLE))
    body = dict(body)
    crs = body.pop("crs", "wgs84")
    if crs not in datum.DATUMS:
        raise params.bad_param("crs", crs, f"one of {', '.join(datum.DATUMS)}")
    return body, crs


def _commit(change, *, action: str, facility_id: str | None = None, **extra) -> Registry:
    """One store transaction (a RegistryError is a 422 with every problem, by the one error handler)."""
    st = state()
    _, after = st.store.update(change, actor=g.actor, action=action, facility_id=facility_id, **extra)
    st.adopt(after)
    return after


def _existing(reg: Registry, facility_id: str):
    f = reg.get(facility_id)
    if f is None:
        raise NotFound(f"no facility with id {facility_id!r}", parameter="id", value=facility_id)
    return f


# The checks that need the current registry run inside the write (under its lock, on the file as it is).

@bp.post("/facilities")
def create():
    body, crs = _json_body()
    facility = facility_from_values(body, state().districts, crs=crs)

    def add(reg: Registry) -> Registry:
        if reg.get(facility.id) is not None:
            raise Conflict(f"a facility with id {facility.id!r} exists; use PATCH to change it", parameter="id",
                           value=facility.id)
        return reg.merged([facility])

    _commit(add, action="create", facility_id=facility.id)
    return {"facility": facility.properties()}, 201


@bp.patch("/facilities/<facility_id>")
def update(facility_id: str):
    body, crs = _json_body()

    def patch(reg: Registry) -> Registry:
        facility = patched(_existing(reg, facility_id), body, state().districts, crs=crs)
        return reg.merged([facility])

    after = _commit(patch, action="update", facility_id=facility_id)
    return {"facility": after.get(facility_id).properties()}


@bp.delete("/facilities/<facility_id>")
def remove(facility_id: str):
    """Soft delete: status 'removed' (kept for history, never shown)."""
    _commit(lambda reg: reg.merged([_existing(reg, facility_id).replace(status="removed")]), action="remove",
            facility_id=facility_id)
    return {"id": facility_id, "status": "removed"}


@bp.post("/import")
def bulk_import():
    """Multipart upload ``file`` (CSV/XLSX/GeoJSON) with form fields crs, replace, dry_run."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, "send the file as multipart form field 'file'", parameter="file")
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise params.bad_param("file", upload.filename[:60], f"a file ending in {', '.join(UPLOAD_SUFFIXES)}")
    form = params.QueryArgs.of(request.form)
    params.reject_unknown(form, ("crs", "replace", "dry_run"))
    crs = params.choice(form, "crs", datum.DATUMS, "wgs84")
    replace = params.boolean(form, "replace")
    dry_run = params.boolean(form, "dry_run")
    st = state()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        upload.save(path)
        report = st.store.import_file(path, crs=crs, replace=replace, dry_run=dry_run, actor=g.actor)
    if report.errors:
        raise RegistryError(f"refused: {len(report.errors)} problems in {upload.filename[:60]}; nothing was written",
                            report.problems)
    if report.written:
        st.adopt(report.registry)
    return {"file": upload.filename[:100], "rows": report.rows, "added": report.added, "updated": report.updated,
            "written": report.written,
            "warnings": [{"row": p.row, "field": p.field, "message": p.message} for p in report.problems]}


@bp.get("/versions")
def versions():
    args = params.QueryArgs.from_request()
    params.reject_unknown(args, ("limit",))
    limit = params.number(args, "limit", 1000, lo=1, hi=100_000, integer=True)
    return {"versions": state().store.versions(limit=limit)}


@bp.post("/restore")
def restore():
    body = request.get_json(silent=True)
    value = body.get("version") if isinstance(body, dict) else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= len(str(MAX_VERSION)):
        value = int(value)  # ASCII digits only: "²".isdigit() is true, int("²") fails
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VERSION:
        raise ApiError(400, "body must be {\"version\": N}, N a version number from GET /api/v1/admin/versions",
                       parameter="version", value=str(value)[:40], allowed="a version number (1, 2, …)")
    st = state()
    after = st.store.restore(value, actor=g.actor)  # NotFound (404) for a version that never was
    st.adopt(after)
    return {"restored": value, "count": len(after), "version": after.version}


@bp.get("/audit")
def audit():
    args = params.QueryArgs.from_request()
    params.reject_unknown(args, ("limit",))
    limit = params.number(args, "limit", 100, lo=1, hi=10_000, integer=True)
    return {"entries": state().store.audit_entries(limit=limit)}
