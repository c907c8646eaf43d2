"""Worker reports ("report a problem"): what can be reported, the limits, and the parameters of the report
endpoints and commands, declared once (:class:`geo.params.Param`).

``POST /api/v1/reports`` (:data:`REPORT_BODY`), ``GET /api/v1/reports/summary`` (:data:`SUMMARY`), the
admin queue ``GET /api/v1/admin/reports`` (:data:`QUEUE`) and ``POST …/{id}/resolve`` (:data:`RESOLVE`):
the views parse with these sets, ``web.openapi`` documents them, and ``workermap reports list|resolve``
builds its options from them. Light to import (no numpy): the command line reads it for ``--help``.

>>> REPORT_BODY.parse({"kind": "closed", "facility_id": "st-370202-0001"})["text"]
''
>>> REPORT_BODY.parse({"kind": "sauna"})
Traceback (most recent call last):
...
geo.errors.ParameterError: kind must be one of closed, amenity_broken, wrong_location, full, other, new_site, \
got 'sauna'
>>> QUEUE.parse({})
{'status': 'open', 'limit': 100}
"""

from __future__ import annotations

from dataclasses import replace

from geo.params import LAT, LON, Param, Params
from geo.vocab import Label

__all__ = ["MAX_BODY_BYTES", "MAX_LISTED", "MAX_TEXT", "QUEUE", "QUEUE_STATUSES", "RATE_LIMIT", "REPORT_BODY",
           "REPORT_KINDS", "REPORT_STATUSES", "RESOLVE", "SUMMARY"]

#: What a worker can report. ``new_site`` suggests a place (lon/lat) instead of naming a facility.
REPORT_KINDS: dict[str, Label] = {
    "closed": Label("该开门时关着", "Closed when it should be open"),
    "amenity_broken": Label("设施损坏", "An amenity is broken"),
    "wrong_location": Label("位置不对", "Wrong location"),
    "full": Label("满了", "Full"),
    "other": Label("其他问题", "Other problem"),
    "new_site": Label("这里需要驿站", "A station is needed here"),
}
#: A report is open until an admin resolves it.
REPORT_STATUSES = ("open", "resolved")
#: What the admin queue lists.
QUEUE_STATUSES = (*REPORT_STATUSES, "all")

#: Longest report text and resolution note, characters.
MAX_TEXT = 500
#: Largest report request body, bytes: room for MAX_TEXT characters even written as JSON \\u escapes.
MAX_BODY_BYTES = 8 * 1024
#: Reports one client may send: (how many, in how many seconds). Counted in the store, so the limit holds
#: across the server's workers (and servers sharing a PostGIS database).
RATE_LIMIT = (5, 600)
#: Most reports one queue request lists.
MAX_LISTED = 1000



def _object(value):
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


FACILITY_ID = Param("facility_id", "text", "The facility reported (an id from the API). Required unless kind is "
                    "new_site.", max_len=64, example="st-370202-0001")
#: POST /api/v1/reports: the JSON body. lon/lat: the nearest endpoint's declarations (the same bounds check).
REPORT_BODY = Params(
    Param("kind", "enum", "What is wrong: " + "; ".join(f"{k}: {v.en}" for k, v in REPORT_KINDS.items()) + ".",
          values=tuple(REPORT_KINDS), required=True, example="closed"),
    FACILITY_ID,
    replace(LON, required=False, description="Longitude (WGS84) of the place: required for new_site (inside a "
                                             "Qingdao district), optional otherwise."),
    replace(LAT, required=False, description="Latitude (WGS84) of the place (see lon)."),
    Param("text", "text", f"What the worker says, at most {MAX_TEXT} characters (optional; kept as written and "
          "shown as text, never as HTML).", default="", max_len=MAX_TEXT, example="到了门是锁的"),
)
#: GET /api/v1/reports/summary.
SUMMARY = Params(replace(FACILITY_ID, description="The facility (an id from the API).", required=True))
#: GET /api/v1/admin/reports and ``workermap reports list``.
QUEUE = Params(
    Param("status", "enum", "Which reports: open (the queue), resolved, or all.", default="open",
          values=QUEUE_STATUSES),
    Param("limit", "integer", "How many: the newest first.", default=100, lo=1, hi=MAX_LISTED),
)
#: POST /api/v1/admin/reports/{id}/resolve (with ``edit``, a JSON object) and ``workermap reports resolve``.
RESOLVE = Params(
    Param("note", "text", f"What was done, at most {MAX_TEXT} characters.", default="", max_len=MAX_TEXT,
          example="hours corrected"),
    Param("edit", "json", "Optional change to the reported facility, as PATCH /api/v1/admin/facilities/{id} takes "
          "it (e.g. {\"status\": \"temporarily_closed\"} or {\"opening_hours\": \"Mo-Fr 08:00-18:00\"}); for a "
          "new_site report, a new facility as POST /api/v1/admin/facilities takes it (lon/lat default to the "
          "suggested place). Written in the same transaction as the resolution, and audited.",
          convert=_object, allowed_text="a JSON object of facility fields",
          schema_extra={"type": "object", "nullable": True}),
)
