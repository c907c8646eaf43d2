"""Worker reports ("closed when I came", "no microwave"): stored with the registry, one row each.

Reports never change the registry by themselves; an admin reads them and edits the
facility. Text is kept verbatim (pages escape it) and bounded in length.
"""

from __future__ import annotations

from geo.errors import ParameterError
from geo.store.registry_store import RegistryStore, now_iso

__all__ = ["REPORT_KINDS", "ReportStore"]

#: What a worker can report about a facility.
REPORT_KINDS = {
    "closed": "找到时关门 / closed when I arrived",
    "wrong_hours": "开放时间不对 / opening hours wrong",
    "wrong_location": "位置不对 / wrong location",
    "amenity_missing": "设施缺失 / an amenity is missing",
    "no_entry": "不让进 / not let in",
    "other": "其他 / other",
}
MAX_MESSAGE = 500


class ReportStore:
    def __init__(self, store: RegistryStore):
        self.store = store

    def add(self, facility_id: str, kind: str, message: str = "", *, reporter: str = "anonymous") -> dict:
        """Store a report about an existing facility; returns it with its ``report_id``."""
        if kind not in REPORT_KINDS:
            raise ParameterError("kind", kind, f"one of {', '.join(REPORT_KINDS)}")
        if len(message) > MAX_MESSAGE:
            raise ParameterError("message", message[:40] + "…", f"at most {MAX_MESSAGE} characters")
        if self.store.load().get(facility_id) is None:
            raise ParameterError("facility_id", facility_id, "the id of a facility in the registry")
        row = {"facility_id": facility_id, "time": now_iso(), "kind": kind, "message": message,
               "reporter": reporter[:64], "status": "new"}
        with self.store.writing() as conn:
            self.store._q(conn, "INSERT INTO worker_reports (facility_id, time, kind, message, reporter, status) "
                                "VALUES (?, ?, ?, ?, ?, ?)", tuple(row.values()))
            rid = self.store._q(conn, "SELECT max(report_id) FROM worker_reports").fetchone()[0]
        return {"report_id": int(rid), **row}

    def list(self, *, facility_id: str | None = None, limit: int = 100) -> list[dict]:
        """The latest ``limit`` reports (of one facility if given), newest first."""
        where, params = ("WHERE facility_id = ?", (facility_id,)) if facility_id else ("", ())
        with self.store.reading() as conn:
            rows = self.store._q(conn, f"SELECT report_id, facility_id, time, kind, message, reporter, status "
                                       f"FROM worker_reports {where} ORDER BY report_id DESC LIMIT ?",
                                 (*params, limit)).fetchall()
        keys = ("report_id", "facility_id", "time", "kind", "message", "reporter", "status")
        return [dict(zip(keys, r, strict=True)) for r in rows]
