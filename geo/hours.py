"""Opening hours in OSM ``opening_hours`` syntax, evaluated in Asia/Shanghai on China's calendar.

The parser is ``opening-hours-py`` (a real implementation of the OSM spec, overnight ranges and
``24/7`` included). Whatever time zone the server runs in, an aware datetime is converted to Qingdao
local time and a naive one is taken to be Qingdao local time already.

What the library is given, and what we add:

* **Sun events** (``sunrise``, ``sunset``, ``dawn``, ``dusk``) are computed for Qingdao's coordinates
  (:data:`QINGDAO_LATLON`) in Asia/Shanghai, not the library's default 07:00/19:00.
* **PH** means China's statutory public holidays from :mod:`geo.cn_calendar` (``chinese-calendar``, the
  State Council's notices; 2004–2026 in version 1.11.0). The library's own calendar for China knows only a
  few fixed days and no 调休, so it is switched off (no country) and PH is decided here, day by day: on a
  holiday the expression is evaluated with its ``PH`` selectors made true (``PH`` alone or in a list
  becomes ``Mo-Su``; ``PH Mo-Fr`` becomes ``Mo-Fr``), on any other day they never match. ``PH +1 day``
  looks at the day before. A day's rules govern all of that day, including the early hours a range that
  began the evening before runs into. After the calendar's last day no day is a holiday (the nearest
  answer says so: ``calendar_until``).
* **Working calendar** (a facility's ``workday_calendar``): such a facility treats statutory holidays as
  PH and is closed on them unless its expression says otherwise (``; PH off`` is implied), and on an
  official make-up working day (调休上班日) it runs the hours of the weekday that day replaces
  (:func:`geo.cn_calendar.replaced_weekday`), evaluated on the nearest date with that weekday. Other
  facilities follow their expression alone: a make-up Sunday is an ordinary Sunday.

>>> from datetime import datetime
>>> h = Hours.parse("Mo-Su 22:00-06:00")
>>> h.is_open(datetime(2026, 11, 24, 23, 40))
True
>>> h.next_change(datetime(2026, 11, 24, 23, 40)).strftime("%H:%M")
'06:00'
>>> office = Hours.parse("Mo-Fr 08:00-18:00; PH off")
>>> office.is_open(datetime(2026, 10, 1, 10)), office.is_open(datetime(2026, 10, 13, 10))
(False, True)
>>> office.next_change(datetime(2026, 10, 1, 10)).isoformat()
'2026-10-08T08:00:00'
>>> works = Hours.parse("Mo-Fr 08:00-18:00", workday_calendar=True)  # Saturday 10 October 2026 is worked
>>> works.is_open(datetime(2026, 10, 10, 10)), works.is_open(datetime(2026, 10, 5, 10))
(True, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import opening_hours as _oh

from geo import cn_calendar

__all__ = ["QINGDAO_LATLON", "QINGDAO_TZ", "Hours", "is_valid", "local_time", "now_local", "states"]

QINGDAO_TZ = ZoneInfo("Asia/Shanghai")
#: Where sun events are computed: Qingdao's city centre (市南区), WGS84 (latitude, longitude).
QINGDAO_LATLON = (36.0671, 120.3826)
#: A change further away than this many days counts as none (``next_change`` returns None): long enough
#: to see a facility reopen after the longest holiday block (Spring Festival, 9 days).
HORIZON_DAYS = 14
#: What a day-by-day walk asks the library to look ahead (it needs only the rest of one day).
_DAY_HORIZON = 2


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


def _library(expr: str, horizon_days: int = HORIZON_DAYS) -> _oh.OpeningHours:
    """The library's evaluator: Qingdao's sun, no country (so no holiday calendar of its own); changes
    further than ``horizon_days`` away count as none (a day-by-day walk needs only the next day)."""
    return _oh.OpeningHours(expr, timezone=QINGDAO_TZ, coords=QINGDAO_LATLON, auto_country=False,
                            max_interval_days=horizon_days)


# -- PH selectors ------------------------------------------------------------------------------------
_DAY = r"(?:Mo|Tu|We|Th|Fr|Sa|Su)(?:\[[^\]]*\])?"
_OFFSET = r"(?: ?[+-]\d+ days?)?"
_WEEKDAY = rf"{_DAY}(?:-{_DAY})?{_OFFSET}"
_HOLIDAY = rf"(?:PH|SH){_OFFSET}"
_ITEM = rf"(?:{_HOLIDAY}|{_WEEKDAY})"
#: A weekday selector: weekdays and holidays joined by commas (an OR), e.g. ``Mo-Fr,PH``.
_SELECTOR = re.compile(rf"(?<![A-Za-z]){_ITEM}(?:,{_ITEM})*(?![A-Za-z])")
_ITEMS = re.compile(_ITEM)
_AND_WEEKDAYS = re.compile(rf" {_WEEKDAY}(?:,{_WEEKDAY})*(?![A-Za-z])")
_PH = re.compile(rf"PH({_OFFSET})")
_QUOTED = re.compile(r'("[^"]*")')


def _ph_offset(item: str) -> int:
    """The day offset of a ``PH`` item: ``PH +1 day`` holds on the day after a holiday (1)."""
    digits = re.search(r"([+-])(\d+)", item)
    return 0 if digits is None else int(digits.group(2)) * (1 if digits.group(1) == "+" else -1)


def ph_offsets(expr: str) -> tuple[int, ...]:
    """The distinct day offsets of the ``PH`` selectors in ``expr`` (outside comments), sorted.

    >>> ph_offsets("Mo-Fr 08:00-18:00; PH off"), ph_offsets('Mo-Fr 09:00-17:00 "PH by phone"')
    ((0,), ())
    """
    found = set()
    for i, part in enumerate(_QUOTED.split(expr)):
        if i % 2 == 0:
            found.update(_ph_offset(m.group(0)) for m in _PH.finditer(part))
    return tuple(sorted(found))


def with_holidays(expr: str, holds: dict[int, bool]) -> str:
    """``expr`` with each ``PH`` selector decided: ``holds[offset]`` true -> the selector matches this day
    (``Mo-Su``), false -> it never does (``SH``: the evaluator knows no school holidays).

    >>> with_holidays("Mo-Fr 08:00-18:00; PH off", {0: True})
    'Mo-Fr 08:00-18:00; Mo-Su off'
    >>> with_holidays("Sa,PH 09:00-12:00; PH Mo-Fr 10:00-11:00", {0: True})
    'Mo-Su 09:00-12:00; Mo-Fr 10:00-11:00'
    >>> with_holidays("Mo-Fr,PH +1 day 08:00-12:00", {1: False})
    'Mo-Fr,SH 08:00-12:00'
    """

    def decide(part: str) -> str:
        out, pos = [], 0
        for m in _SELECTOR.finditer(part):
            items = _ITEMS.findall(m.group(0))
            ph = [holds.get(_ph_offset(x), False) for x in items if x.startswith("PH")]
            if not ph:
                continue
            out.append(part[pos:m.start()])
            pos = m.end()
            holidays_only = all(x.startswith(("PH", "SH")) for x in items)
            if holidays_only and _AND_WEEKDAYS.match(part, m.end()):  # "PH Mo-Fr": holidays that are Mo-Fr
                if any(ph):
                    pos += 1  # the weekdays alone decide (drop "PH ")
                else:
                    out.append("SH")
                continue
            out.append("Mo-Su" if any(ph) else ",".join("SH" if x.startswith("PH") else x for x in items))
        out.append(part[pos:])
        return "".join(out)

    return "".join(part if i % 2 else decide(part) for i, part in enumerate(_QUOTED.split(expr)))


# -- the evaluator -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hours:
    """One opening_hours expression (``expr``, as stored) for a facility that follows the working calendar or
    not (``workday_calendar``). Immutable; the evaluators for holiday days are built when first needed."""

    expr: str
    workday_calendar: bool
    _effective: str = field(repr=False, compare=False)
    _base: _oh.OpeningHours = field(repr=False, compare=False)
    _offsets: tuple[int, ...] = field(repr=False, compare=False)
    _variants: dict = field(default_factory=dict, repr=False, compare=False)

    @staticmethod
    def parse(expr: str, workday_calendar: bool = False) -> Hours:
        return _parse(expr, bool(workday_calendar))

    @property
    def always_open(self) -> bool:
        """Open round the clock every day of the year (``24/7``, not closing on holidays)."""
        return self._effective == "24/7"

    @property
    def uses_calendar(self) -> bool:
        """Whether China's calendar can change this expression's answer (PH selectors, or the working calendar)."""
        return bool(self._offsets) or self.workday_calendar

    def _day(self, day: date) -> tuple[_oh.OpeningHours, timedelta]:
        """The evaluator for ``day`` and the shift to apply to its times (a make-up working day's weekday)."""
        key = tuple(cn_calendar.is_holiday(day - timedelta(days=o)) for o in self._offsets)
        shift = timedelta(0)
        if self.workday_calendar:
            weekday = cn_calendar.replaced_weekday(day)
            if weekday is not None:
                delta = (weekday - day.weekday()) % 7
                shift = timedelta(days=delta if delta <= 3 else delta - 7)
        if not any(key):
            return self._base, shift
        evaluator = self._variants.get(key)
        if evaluator is None:
            decided = with_holidays(self._effective, dict(zip(self._offsets, key, strict=True)))
            evaluator = _library(decided, _DAY_HORIZON) if _oh.validate(decided) else self._base
            self._variants[key] = evaluator  # a racing thread may build the same one: harmless
        return evaluator, shift

    def is_open(self, when: datetime) -> bool:
        if self.always_open:
            return True
        t = local_time(when)
        if not self.uses_calendar:
            return bool(self._base.is_open(t))
        evaluator, shift = self._day(t.date())
        return bool(evaluator.is_open(t + shift))

    def next_change(self, when: datetime) -> datetime | None:
        """The next opening or closing time (local, naive), or None if none within :data:`HORIZON_DAYS`."""
        if self.always_open:
            return None
        t = local_time(when)
        if not self.uses_calendar:
            nxt = self._base.next_change(t)
            return None if nxt is None else local_time(nxt)
        state, day, probe = self.is_open(t), t.date(), t
        for _ in range(HORIZON_DAYS):  # each day by its own rules: a change before its midnight, or at it
            evaluator, shift = self._day(day)
            midnight = datetime.combine(day + timedelta(days=1), time())
            nxt = evaluator.next_change(probe + shift)
            if nxt is not None and local_time(nxt) - shift < midnight:
                return local_time(nxt) - shift
            day, probe = day + timedelta(days=1), midnight
            if self.is_open(midnight) != state:
                return midnight
        return None


def states(pairs, when: datetime) -> dict[bool, dict[str, tuple[bool, datetime | None]]]:
    """Open or not at ``when``, and the next change, for each ``(expression, workday_calendar)`` pair: by
    working calendar (False, True), then expression. Unknown hours (None) are left out.

    >>> states([("24/7", False), (None, False), ("Mo-Fr 08:00-18:00", True)], datetime(2026, 10, 1, 10))
    {False: {'24/7': (True, None)}, True: {'Mo-Fr 08:00-18:00': (False, datetime.datetime(2026, 10, 8, 8, 0))}}
    """
    out: dict[bool, dict[str, tuple[bool, datetime | None]]] = {False: {}, True: {}}
    for expr, workday_calendar in sorted({p for p in pairs if p[0] is not None}):
        h = Hours.parse(expr, workday_calendar)
        out[bool(workday_calendar)][expr] = (h.is_open(when), h.next_change(when))
    return out


@lru_cache(maxsize=4096)
def _parse(expr: str, workday_calendar: bool) -> Hours:
    if not is_valid(expr):
        raise ValueError(f"opening_hours is not valid OSM opening_hours syntax: {expr!r}")
    expr = expr.strip()
    effective = expr
    if workday_calendar and not ph_offsets(expr) and _oh.validate(f"{expr}; PH off"):
        effective = f"{expr}; PH off"  # closed on statutory holidays unless the expression says otherwise
    offsets = ph_offsets(effective)
    uses_calendar = bool(offsets) or workday_calendar
    base = _library(effective, _DAY_HORIZON if uses_calendar else HORIZON_DAYS)
    return Hours(expr, workday_calendar, effective, base, offsets)
