"""Worker reports as the API and the command line use them: submit (validated, rate-limited per client), the
facility card's summary, the planner's layer, and the admin queue with its resolution (optionally editing the
registry in the same transaction). Storage is :class:`geo.store.reports.ReportStore`; the parameters and limits
are declared in :mod:`geo.report_params`.

What is public and what is not: a submitted report is answered with what was stored (no client hash); the
summary gives counts and the facility's last verification; the layer gives kinds, counts and times, never a
text; the admin queue adds the texts and resolutions, never the client hash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from geo.edits import EDITABLE, facility_from_values, patched
from geo.errors import Conflict, DomainError, NotFound, ParameterError
from geo.geography import Districts
from geo.params import Params, UnknownParameter
from geo.registry import Registry
from geo.registry_params import FACILITY_BODY, MAX_VERSION
from geo.report_params import RATE_LIMIT, REPORT_BODY
from geo.store.registry_store import RegistryStore
from geo.store.reports import MAX_OPEN_READ, ReportStore, check_text

__all__ = ["Reports", "json_values"]

#: Suggested sites closer than this (degrees of lon and lat, about 90 × 110 m in Qingdao) are one point of
#: the planner layer, counted together.
SITE_GRID_DEG = 0.001
_JSON_TYPES: dict[str, tuple[type, ...]] = {"text": (str,), "enum": (str,), "number": (int, float),
                                            "integer": (int,), "boolean": (bool,)}


def json_values(params: Params, body: Any) -> dict[str, Any]:
    """The declared members of a JSON object body, each of its declared JSON type (a number is not a string, a
    string not a number; ``null`` = not given), then parsed and checked by the declarations."""
    if not isinstance(body, dict):
        raise DomainError("the body must be a JSON object", code="invalid_body", allowed="a JSON object")
    params.reject_unknown(body)
    for name, value in body.items():
        p = params[name]
        types = _JSON_TYPES.get(p.type)
        if value is not None and types and (not isinstance(value, types) or (bool not in types and
                                                                           isinstance(value, bool))):
            raise ParameterError(name, value if isinstance(value, str | int | float) else type(value).__name__,
                                 f"{p.allowed()} (JSON {'string' if str in types else p.type})")
    return params.parse(body, check_unknown=False)


def public(report: dict) -> dict[str, Any]:
    """A stored report as a worker may see it."""
    return {"id": report["report_id"], "kind": report["kind"], "facility_id": report["facility_id"],
            "lon": report["lon"], "lat": report["lat"], "text": report["message"], "created_at": report["time"],
            "status": report["status"]}


class Reports:
    """The reports of one registry store. ``clock``: the current UTC time (tests fix it)."""

    def __init__(self, store: RegistryStore, *, clock: Callable[[], datetime] | None = None):
        self.store = store
        self.reports = ReportStore(store, clock=clock)

    # -- workers ---------------------------------------------------------------------------------
    def submit(self, body: Any, *, client: str) -> dict[str, Any]:
        """Store a report from a JSON body (:data:`~geo.report_params.REPORT_BODY`) sent by ``client`` (its
        address: only its salted hash is kept); at most :data:`~geo.report_params.RATE_LIMIT` per client."""
        v = json_values(REPORT_BODY, body)
        check_text("text", v["text"])
        report = self.reports.add(v["kind"], facility_id=v["facility_id"], lon=v["lon"], lat=v["lat"],
                                  message=v["text"], client_hash=self.reports.client_hash(client), limit=RATE_LIMIT)
        return public(report)

    def summary(self, registry: Registry, facility_id: str) -> dict[str, Any]:
        """What the facility card shows: open reports and the facility's last verification."""
        f = _live(registry, facility_id)
        return {"facility_id": f.id, "open_reports": self.reports.open_count(f.id),
                "verified_at": f.verified_at or None}

    def layer(self, registry: Registry) -> dict[str, Any]:
        """Open reports and suggested sites as a GeoJSON FeatureCollection for the planner map (no texts).

        A facility's open reports are one point per kind at the facility; suggested sites within
        :data:`SITE_GRID_DEG` of one another one point at their mean position. ``count``: reports in the point,
        ``created_at``: the latest.
        """
        groups: dict[tuple, list[dict]] = {}
        for r in self.reports.list(status="open", limit=MAX_OPEN_READ):
            if r["kind"] == "new_site":
                key = ("new_site", round(r["lon"] / SITE_GRID_DEG), round(r["lat"] / SITE_GRID_DEG))
            else:
                key = (r["kind"], r["facility_id"])
            groups.setdefault(key, []).append(r)
        features = []
        for (kind, *where), members in groups.items():
            if kind == "new_site":
                f, lon, lat = None, *(round(sum(m[c] for m in members) / len(members), 6) for c in ("lon", "lat"))
            else:
                f = registry.get(where[0])
                if f is None or f.status == "removed":
                    continue
                lon, lat = f.lon, f.lat
            features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                             "properties": {"kind": kind, "facility_id": f.id if f else None,
                                            "name": f.name if f else None, "count": len(members),
                                            "created_at": max(m["time"] for m in members)}})
        features.sort(key=lambda x: x["properties"]["created_at"], reverse=True)  # the latest first
        total = sum(x["properties"]["count"] for x in features)
        return {"type": "FeatureCollection", "open_reports": total, "features": features}

    # -- admins ----------------------------------------------------------------------------------
    def queue(self, registry: Registry, *, status: str, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` reports of a status (``all``: every one), with texts and resolutions."""
        rows = self.reports.list(status=None if status == "all" else status, limit=limit)
        return [self._admin(r, registry) for r in rows]

    def resolve(self, report_id: int, *, actor: str, note: str = "", edit: Mapping | None = None,
                districts: Districts) -> tuple[dict[str, Any], dict | None, Registry | None]:
        """Resolve an open report, applying ``edit`` (facility fields, as the admin edit API takes them) to its
        facility, or for a ``new_site`` report creating a facility at the suggested place (unless ``edit``
        gives lon/lat): one transaction, audited. Returns the report, the facility written (or None) and the
        registry after the edit (or None)."""
        report = self._stored(report_id)
        if report["status"] != "open":
            raise Conflict(f"report {report_id} is already resolved", parameter="report_id", value=report_id)
        edit = dict(edit or {})
        if not edit:
            done = self.reports.resolve(report_id, actor=actor, resolution=note)
            return self._admin(done, self.store.load()), None, None
        unknown = sorted(set(edit) - EDITABLE - set(FACILITY_BODY.names))
        if unknown:
            raise UnknownParameter(f"edit.{unknown[0]}", sorted(EDITABLE | set(FACILITY_BODY.names)))
        crs = json_values(FACILITY_BODY, {k: v for k, v in edit.items() if k in FACILITY_BODY.names})["crs"]
        changes = {k: v for k, v in edit.items() if k not in FACILITY_BODY.names}
        if report["kind"] == "new_site":
            moved = "lon" in changes or "lat" in changes
            facility = facility_from_values({"lon": report["lon"], "lat": report["lat"], **changes}, districts,
                                            crs=crs if moved else "wgs84")

            def change(reg: Registry) -> Registry:
                if reg.get(facility.id) is not None:
                    raise Conflict(f"a facility with id {facility.id!r} exists", parameter="edit.id",
                                   value=facility.id)
                return reg.merged([facility])

            action, fid = "create", facility.id
        else:
            fid, action = report["facility_id"], "update"

            def change(reg: Registry) -> Registry:
                return reg.merged([patched(_live(reg, fid), changes, districts, crs=crs)])

        done = self.reports.resolve(report_id, actor=actor, resolution=note, change=change, action=action,
                                    facility_id=fid)
        after = self.store.load()  # this process's cache: the version just written (or a newer one)
        return self._admin(done, after), after.get(fid).properties(), after

    def _stored(self, report_id: int) -> dict:
        if not 1 <= report_id <= MAX_VERSION:
            raise NotFound(f"no report {report_id}", parameter="report_id", value=report_id)
        try:
            return self.reports.get(report_id)
        except ParameterError:
            raise NotFound(f"no report {report_id}", parameter="report_id", value=report_id) from None

    @staticmethod
    def _admin(report: dict, registry: Registry | None) -> dict[str, Any]:
        f = registry.get(report["facility_id"]) if registry is not None and report["facility_id"] else None
        return {**public(report), "facility_name": f.name if f else None, "resolved_at": report["resolved_at"],
                "resolved_by": report["resolved_by"], "note": report["resolution"]}


def _live(registry: Registry, facility_id: str):
    f = registry.get(facility_id)
    if f is None or f.status == "removed":
        raise NotFound(f"no facility with id {facility_id!r}", parameter="facility_id", value=facility_id)
    return f
