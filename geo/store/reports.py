"""Worker reports ("closed when it should be open", "microwave broken", "a station is needed here"),
stored durably with the registry, one row each.

A report never changes the registry by itself: an admin works the queue and resolves a
report (possibly after editing the facility). Text is kept verbatim (pages escape it) and
bounded; nothing personal is kept beyond the caller's salted client hash.
"""

from __future__ import annotations

from geo.errors import ParameterError
from geo.model import in_city_bounds
from geo.store.registry_store import RegistryStore, now_iso

__all__ = ["REPORT_KINDS", "ReportStore"]

#: What a worker can report. ``new_site`` suggests a place (lon/lat) rather than naming a facility.
REPORT_KINDS = {
    "closed": "该开门时关着 / closed when it should be open",
    "amenity_broken": "设施损坏 / an amenity is broken",
    "wrong_location": "位置不对 / wrong location",
    "full": "满了 / full",
    "other": "其他 / other",
    "new_site": "这里需要驿站 / a station is needed here",
}
MAX_MESSAGE = 500
_COLUMNS = ("report_id", "time", "kind", "facility_id", "lon", "lat", "message", "client_hash", "status",
            "resolved_at", "resolved_by", "resolution")


class ReportStore:
    def __init__(self, store: RegistryStore):
        self.store = store

    def add(self, kind: str, *, facility_id: str | None = None, lon: float | None = None, lat: float | None = None,
            message: str = "", client_hash: str = "") -> dict:
        """Store a report about an existing facility, or (``new_site``) about a WGS84 position."""
        if kind not in REPORT_KINDS:
            raise ParameterError("kind", kind, f"one of {', '.join(REPORT_KINDS)}")
        if not isinstance(message, str) or len(message) > MAX_MESSAGE:
            raise ParameterError("message", str(message)[:40], f"text of at most {MAX_MESSAGE} characters")
        if kind == "new_site":
            if lon is None or lat is None or not in_city_bounds(lon, lat):
                raise ParameterError("lon/lat", f"{lon},{lat}", "a WGS84 position in Qingdao for a new_site report")
            facility_id = None
        elif facility_id is None or self.store.load().get(facility_id) is None:
            raise ParameterError("facility_id", facility_id, "the id of a facility in the registry")
        row = (now_iso(), kind, facility_id, lon, lat, message, client_hash[:64], "open")
        with self.store.writing() as conn:
            self.store._q(conn, "INSERT INTO worker_reports (time, kind, facility_id, lon, lat, message, client_hash, "
                                "status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
            rid = self.store._q(conn, "SELECT max(report_id) FROM worker_reports").fetchone()[0]
        return self.get(int(rid))

    def get(self, report_id: int) -> dict:
        rows = self._select("WHERE report_id = ?", (report_id,), 1)
        if not rows:
            raise ParameterError("report_id", report_id, "the id of a stored report")
        return rows[0]

    def list(self, *, facility_id: str | None = None, status: str | None = None, limit: int = 100) -> list[dict]:
        """The latest ``limit`` reports (of one facility, of one status if given), newest first."""
        clauses, params = [], []
        for column, value in (("facility_id", facility_id), ("status", status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return self._select(("WHERE " + " AND ".join(clauses)) if clauses else "", tuple(params), limit)

    def resolve(self, report_id: int, *, actor: str, resolution: str = "") -> dict:
        """Close a report (audited); resolving one twice is refused."""
        with self.store.writing() as conn:
            q = self.store._q
            row = q(conn, "SELECT status FROM worker_reports WHERE report_id = ?", (report_id,)).fetchone()
            if row is None or row[0] != "open":
                raise ParameterError("report_id", report_id, "the id of an open report")
            q(conn, "UPDATE worker_reports SET status = 'resolved', resolved_at = ?, resolved_by = ?, resolution = ? "
                    "WHERE report_id = ?", (now_iso(), actor, resolution[:MAX_MESSAGE], report_id))
            self.store._audit(conn, actor=actor, action="report_resolve", extra={"report_id": report_id})
        return self.get(report_id)

    def _select(self, where: str, params: tuple, limit: int) -> list[dict]:
        with self.store.reading() as conn:
            rows = self.store._q(conn, f"SELECT {', '.join(_COLUMNS)} FROM worker_reports {where} "
                                       f"ORDER BY report_id DESC LIMIT ?", (*params, limit)).fetchall()
        return [dict(zip(_COLUMNS, r, strict=True)) for r in rows]
