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

from geo.edits import EDITABLE, facility_from_values, patched
from geo.errors import Conflict, NotFound
from geo.registry import Registry, RegistryError
from geo.registry_params import AUDIT, FACILITY_BODY, IMPORT_FORM, RESTORE, VERSIONS
from geo.store.tokens import TokenStore
from web import params, state
from web.auth import check_token
from web.errors import ApiError, bad_param

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")

UPLOAD_SUFFIXES = (".csv", ".xlsx", ".geojson", ".json")


@bp.before_request
def _authenticate():
    g.actor = check_token(TokenStore(state().store), request.headers.get("Authorization"))


def _json_body() -> tuple[dict, str]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object of facility fields", code="invalid_body")
    unknown = sorted(set(body) - EDITABLE - set(FACILITY_BODY.names))
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}; editable: {', '.join(sorted(EDITABLE))}",
                       code="unknown_field", parameter=unknown[0], allowed=sorted(EDITABLE))
    crs = FACILITY_BODY.parse(body, check_unknown=False)["crs"]
    return {k: v for k, v in body.items() if k not in FACILITY_BODY.names}, crs


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
        raise bad_param("file", upload.filename[:60], f"a file ending in {', '.join(UPLOAD_SUFFIXES)}")
    form = IMPORT_FORM.parse(params.QueryArgs.of(request.form))
    st = state()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        upload.save(path)
        report = st.store.import_file(path, crs=form["crs"], replace=form["replace"], dry_run=form["dry_run"],
                                      actor=g.actor)
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
    """The latest registry versions, oldest first."""
    limit = VERSIONS.parse(params.QueryArgs.from_request())["limit"]
    return {"versions": state().store.versions(limit=limit)}


@bp.post("/restore")
def restore():
    """Make an earlier version current again (as a new version)."""
    value = RESTORE.parse(params.json_object(RESTORE.names, '{"version": 3}'))["version"]
    st = state()
    after = st.store.restore(value, actor=g.actor)  # NotFound (404) for a version that never was
    st.adopt(after)
    return {"restored": value, "count": len(after), "version": after.version}


@bp.get("/audit")
def audit():
    """The latest audit entries, oldest first."""
    limit = AUDIT.parse(params.QueryArgs.from_request())["limit"]
    return {"entries": state().store.audit_entries(limit=limit)}
