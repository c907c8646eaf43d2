"""Worker reports ("closed when it should be open", "microwave broken", "a station is needed here"),
stored durably with the registry, one row each.

A report never changes the registry by itself: an admin works the queue and resolves a
report, possibly with an edit of the facility written in the same transaction (audited).
Text is kept verbatim (pages show it as text) and bounded; nothing personal is kept beyond
the caller's salted client hash (:meth:`ReportStore.client_hash`: HMAC-SHA256 of the client's
address with a random salt kept in the database, so every worker and server hashes alike).

A client may store :data:`geo.report_params.RATE_LIMIT` reports per window: counted in the
database inside the writing transaction, so the limit holds across processes and servers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from geo.errors import ParameterError, TooManyRequests
from geo.model import in_city_bounds, region_name
from geo.registry import Registry
from geo.report_params import MAX_TEXT, REPORT_KINDS
from geo.store.registry_store import RegistryStore

__all__ = ["MAX_MESSAGE", "REPORT_KINDS", "ReportStore", "check_text"]

MAX_MESSAGE = MAX_TEXT
_COLUMNS = ("report_id", "time", "kind", "facility_id", "lon", "lat", "message", "client_hash", "status",
            "resolved_at", "resolved_by", "resolution")
_SALT = "report_client_salt"
#: Most open reports the planner layer reads.
MAX_OPEN_READ = 100_000


def check_text(name: str, value, max_len: int = MAX_TEXT) -> str:
    """``value`` if it is text a database keeps as sent: at most ``max_len`` characters, no control characters
    but newlines and tabs, valid Unicode (a lone surrogate or a NUL would fail in PostgreSQL)."""
    allowed = f"text of at most {max_len} characters without control characters"
    if not isinstance(value, str) or len(value) > max_len:
        raise ParameterError(name, str(value)[:40], allowed)
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\r\t" for c in value):
        raise ParameterError(name, "".join(c if c.isprintable() else repr(c)[1:-1] for c in value[:40]), allowed)
    return value


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class ReportStore:
    """The reports in the registry's database. ``clock``: the current UTC time (tests pass a fixed one)."""

    def __init__(self, store: RegistryStore, *, clock: Callable[[], datetime] | None = None):
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))

    # -- the client hash -----------------------------------------------------------------------
    def salt(self) -> str:
        """The database's salt for client hashes, made on first use (by whichever process is first)."""
        q = self.store._q
        with self.store.reading() as conn:
            row = q(conn, "SELECT value FROM store_secrets WHERE name = ?", (_SALT,)).fetchone()
        if row is not None:
            return row[0]
        with self.store.writing() as conn:
            q(conn, "INSERT INTO store_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
              (_SALT, secrets.token_hex(32)))
            return q(conn, "SELECT value FROM store_secrets WHERE name = ?", (_SALT,)).fetchone()[0]

    def client_hash(self, address: str) -> str:
        """The salted hash kept instead of a client's address (64 hex digits)."""
        return hmac.new(self.salt().encode(), address.encode("utf-8", "replace"), hashlib.sha256).hexdigest()

    # -- writing -------------------------------------------------------------------------------
    def add(self, kind: str, *, facility_id: str | None = None, lon: float | None = None, lat: float | None = None,
            message: str = "", client_hash: str = "", limit: tuple[int, float] | None = None) -> dict:
        """Store a report about a live facility, or (``new_site``) about a WGS84 position in a district.

        ``limit``: at most this many reports ``(n, seconds)`` of ``client_hash`` in the window ending now,
        this one included, else :class:`TooManyRequests` saying when the next is accepted. Nothing is
        stored when anything is refused.
        """
        if kind not in REPORT_KINDS:
            raise ParameterError("kind", kind, f"one of {', '.join(REPORT_KINDS)}")
        check_text("message", message)
        if (lon is None) != (lat is None):
            raise ParameterError("lon" if lon is None else "lat", None, "given together with "
                                 f"{'lat' if lon is None else 'lon'}")
        if kind == "new_site":
            if lon is None or not in_city_bounds(lon, lat) or not self.store.districts.locate(lon, lat)[0]:
                raise ParameterError("lon/lat", f"{lon},{lat}", f"a WGS84 position inside a {region_name()} "
                                                                "district for a new_site report")
            facility_id = None
        else:
            f = None if facility_id is None else self.store.load().get(facility_id)
            if f is None or f.status == "removed":
                raise ParameterError("facility_id", facility_id, "the id of a facility in the registry")
            if lon is not None and not in_city_bounds(lon, lat):
                raise ParameterError("lon/lat", f"{lon},{lat}", f"a WGS84 position in {region_name()}")
        now = self.clock()
        row = (_iso(now), kind, facility_id, lon, lat, message, client_hash[:64], "open")
        with self.store.writing() as conn:
            q = self.store._q
            if limit is not None and client_hash:
                self._check_rate(conn, client_hash[:64], now, *limit)
            q(conn, "INSERT INTO worker_reports (time, kind, facility_id, lon, lat, message, client_hash, status) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
            rid = q(conn, "SELECT max(report_id) FROM worker_reports").fetchone()[0]
        return self.get(int(rid))

    def _check_rate(self, conn, client_hash: str, now: datetime, n: int, window_s: float) -> None:
        """Inside the writer's transaction (so two workers cannot both take the last place)."""
        recent = self.store._q(conn, "SELECT time FROM worker_reports WHERE client_hash = ? AND time > ? "
                                     "ORDER BY time DESC LIMIT ?",
                               (client_hash, _iso(now - timedelta(seconds=window_s)), n)).fetchall()
        if len(recent) >= n:
            frees = datetime.fromisoformat(recent[-1][0]) + timedelta(seconds=window_s)
            minutes = f"{window_s / 60:g} minutes"
            raise TooManyRequests(f"at most {n} reports in {minutes} from one client; try again later",
                                  retry_after_s=(frees - now).total_seconds(), allowed=f"{n} reports in {minutes}")

    def resolve(self, report_id: int, *, actor: str, resolution: str = "",
                change: Callable[[Registry], Registry] | None = None, action: str = "update",
                facility_id: str | None = None) -> dict:
        """Close an open report (audited); returns it.

        ``change`` (an edit of the registry) is written in the same transaction as the resolution, with
        its own audit row (``action`` on ``facility_id``): both happen, or neither. Resolving a report
        twice is refused.
        """
        check_text("note", resolution)
        self._open(report_id)  # refused before any edit is tried

        def close(conn) -> None:
            self._open(report_id, conn)  # again under the writer's lock: another admin may have been first
            self.store._q(conn, "UPDATE worker_reports SET status = 'resolved', resolved_at = ?, resolved_by = ?, "
                                "resolution = ? WHERE report_id = ?", (_iso(self.clock()), actor, resolution,
                                                                       report_id))
            self.store._audit(conn, actor=actor, action="report_resolve",
                              extra={"report_id": report_id, "edited": change is not None})

        if change is None:
            with self.store.writing() as conn:
                close(conn)
        else:
            self.store.update(change, actor=actor, action=action, facility_id=facility_id, then=close,
                              report_id=report_id)
        return self.get(report_id)

    def _open(self, report_id: int, conn=None) -> None:
        if conn is None:
            with self.store.reading() as c:
                return self._open(report_id, c)
        row = self.store._q(conn, "SELECT status FROM worker_reports WHERE report_id = ?", (report_id,)).fetchone()
        if row is None or row[0] != "open":
            raise ParameterError("report_id", report_id, "the id of an open report")

    # -- reading -------------------------------------------------------------------------------
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

    def open_count(self, facility_id: str) -> int:
        """How many reports about ``facility_id`` are open."""
        with self.store.reading() as conn:
            return int(self.store._q(conn, "SELECT count(*) FROM worker_reports WHERE facility_id = ? AND "
                                           "status = 'open'", (facility_id,)).fetchone()[0])

    def _select(self, where: str, params: tuple, limit: int) -> list[dict]:
        with self.store.reading() as conn:
            rows = self.store._q(conn, f"SELECT {', '.join(_COLUMNS)} FROM worker_reports {where} "
                                       f"ORDER BY report_id DESC LIMIT ?", (*params, limit)).fetchall()
        return [dict(zip(_COLUMNS, r, strict=True)) for r in rows]
