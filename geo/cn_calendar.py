"""China's official working calendar: statutory public holidays and make-up working days (调休).

The source is ``chinese-calendar`` (PyPI ``chinesecalendar``, maintained at github.com/LKI/chinese-calendar),
which carries the State Council's yearly notices (国务院办公厅关于部分节假日安排的通知) as data. Version
1.11.0 covers 2004 to 2026: :data:`CALENDAR_FIRST` … :data:`CALENDAR_UNTIL`. Outside that range nothing is
known: no day is a holiday or a make-up working day (:func:`covers` says whether a date is inside), and the
nearest answer says so (``calendar_until``, ``calendar_covered``). A new release of the library with the
next year's notice extends the range without a code change.

* A **statutory holiday** is every day off of a holiday block (元旦, 春节, 清明, 劳动节, 端午, 中秋, 国庆),
  weekends inside the block included: it is what ``PH`` means in an opening_hours expression (``geo.hours``).
* A **make-up working day** (调休上班日) is a Saturday or Sunday worked in exchange for a weekday off inside
  the block (an "in lieu" day). Rule (ours; the notices do not name the weekday): it replaces the in-lieu
  day of the same holiday paired with it in date order (2026 National Day: Sunday 20 September ↔ Tuesday
  6 October, Saturday 10 October ↔ Wednesday 7 October), so a facility that follows the working calendar
  runs that weekday's hours; where the notice pairs none (never since 2019), Monday's.

>>> from datetime import date
>>> is_holiday(date(2026, 10, 1)), is_holiday(date(2026, 10, 8)), is_makeup_workday(date(2026, 10, 10))
(True, False, True)
>>> replaced_weekday(date(2026, 10, 10)), replaced_weekday(date(2026, 9, 20)), replaced_weekday(date(2026, 10, 9))
(2, 1, None)
>>> CALENDAR_UNTIL.isoformat(), covers(date(2027, 1, 1))
('2026-12-31', False)
"""

from __future__ import annotations

from datetime import date, timedelta

from chinese_calendar import constants as _cc

__all__ = ["CALENDAR_FIRST", "CALENDAR_SOURCE", "CALENDAR_UNTIL", "covers", "is_holiday", "is_makeup_workday",
           "replaced_weekday"]

#: The library and version the calendar comes from (said in the API description).
CALENDAR_SOURCE = "chinese-calendar (PyPI chinesecalendar)"

_HOLIDAYS: frozenset[date] = frozenset(_cc.holidays)
_MAKEUP: dict[date, str] = dict(_cc.workdays)  # date -> the holiday it belongs to
#: The first and last day the calendar covers (whole years of the State Council's notices).
CALENDAR_FIRST = date(min(d.year for d in _HOLIDAYS), 1, 1)
CALENDAR_UNTIL = date(max(d.year for d in _HOLIDAYS), 12, 31)
#: How far apart a make-up day and the in-lieu day it pays for may be (a holiday block and its weekends).
_PAIR_WINDOW = timedelta(days=45)


def covers(day: date) -> bool:
    """Whether the calendar knows ``day`` (between :data:`CALENDAR_FIRST` and :data:`CALENDAR_UNTIL`)."""
    return CALENDAR_FIRST <= day <= CALENDAR_UNTIL


def is_holiday(day: date) -> bool:
    """Whether ``day`` is a statutory public holiday (a day off of a holiday block); False outside the range."""
    return day in _HOLIDAYS


def is_makeup_workday(day: date) -> bool:
    """Whether ``day`` is an official make-up working day (调休上班日)."""
    return day in _MAKEUP


def _pairs() -> dict[date, int]:
    """Make-up day -> weekday (0 = Monday) of the in-lieu day it pays for (see the module docstring)."""
    in_lieu: dict[str, list[date]] = {}
    for d, name in _cc.in_lieu_days.items():
        in_lieu.setdefault(name, []).append(d)
    out: dict[date, int] = {}
    for name in set(_MAKEUP.values()):
        makeup = sorted(d for d, n in _MAKEUP.items() if n == name)
        lieu = sorted(in_lieu.get(name, ()))
        # one holiday name spans many years: pair within each block (make-up days within the window of each other)
        block: list[date] = []
        for d in [*makeup, None]:
            if d is not None and (not block or d - block[-1] <= _PAIR_WINDOW):
                block.append(d)
                continue
            days_off = [x for x in lieu if block[0] - _PAIR_WINDOW <= x <= block[-1] + _PAIR_WINDOW]
            if len(days_off) == len(block):
                out.update({m: x.weekday() for m, x in zip(block, days_off, strict=True)})
            block = [d] if d is not None else []
    return out


_REPLACED = _pairs()


def replaced_weekday(day: date) -> int | None:
    """The weekday (0 = Monday) whose hours a make-up working day runs; None if ``day`` is not one."""
    if day not in _MAKEUP:
        return None
    return _REPLACED.get(day, 0)
