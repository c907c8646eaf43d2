"""Opening hours in OSM ``opening_hours`` syntax, always evaluated in Asia/Shanghai.

The parser is ``opening-hours-py`` (a real implementation of the OSM spec,
overnight ranges and ``24/7`` included). Whatever time zone the server runs in,
an aware datetime is converted to Qingdao local time and a naive one is taken
to be Qingdao local time already.

>>> from datetime import datetime
>>> h = Hours.parse("Mo-Su 22:00-06:00")
>>> h.is_open(datetime(2026, 11, 24, 23, 40))
True
>>> h.next_change(datetime(2026, 11, 24, 23, 40)).strftime("%H:%M")
'06:00'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import opening_hours as _oh

__all__ = ["QINGDAO_TZ", "Hours", "is_valid", "local_time", "now_local"]

QINGDAO_TZ = ZoneInfo("Asia/Shanghai")


def local_time(when: datetime) -> datetime:
    """Naive Qingdao wall-clock time for ``when`` (aware -> converted; naive -> as is)."""
    if when.tzinfo is not None:
        when = when.astimezone(QINGDAO_TZ)
    return when.replace(tzinfo=None, microsecond=0)


def now_local() -> datetime:
    return local_time(datetime.now(tz=QINGDAO_TZ))


#: What :func:`parse_when` accepts, for error messages.
from geo.params import WHEN_ALLOWED  # noqa: E402,F401 - declared with the open_at parameter


def parse_when(raw: str) -> datetime | str | None:
    """``'now'`` -> ``"now"``; ``'any'`` -> ``None`` (no hours filter); an ISO 8601 date-time ->
    naive Qingdao time (one without an offset already is). Else ``ValueError`` (see WHEN_ALLOWED).

    >>> parse_when("2026-11-24T15:40Z"), parse_when("any"), parse_when("now")
    (datetime.datetime(2026, 11, 24, 23, 40), None, 'now')
    """
    if raw in ("now", "any"):
        return "now" if raw == "now" else None
    try:
        return local_time(datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "T")))
    except (ValueError, OverflowError):  # OverflowError: e.g. 0001-01-01T00:00+14:00 has no Qingdao time
        raise ValueError(f"{raw!r} is not {WHEN_ALLOWED}") from None


def is_valid(expr: str) -> bool:
    """Whether ``expr`` is valid OSM opening_hours syntax."""
    return isinstance(expr, str) and bool(expr.strip()) and _oh.validate(expr)


@dataclass(frozen=True)
class Hours:
    expr: str
    _parsed: _oh.OpeningHours

    @staticmethod
    def parse(expr: str) -> Hours:
        return _parse(expr)

    @property
    def always_open(self) -> bool:
        return self.expr.strip() == "24/7"

    def is_open(self, when: datetime) -> bool:
        return self.always_open or bool(self._parsed.is_open(local_time(when)))

    def next_change(self, when: datetime) -> datetime | None:
        """The next opening or closing time (local, naive), or None if it never changes."""
        if self.always_open:
            return None
        nxt = self._parsed.next_change(local_time(when))
        return None if nxt is None else local_time(nxt)


@lru_cache(maxsize=4096)
def _parse(expr: str) -> Hours:
    if not is_valid(expr):
        raise ValueError(f"opening_hours is not valid OSM opening_hours syntax: {expr!r}")
    return Hours(expr.strip(), _oh.OpeningHours(expr.strip(), max_interval_days=8))
