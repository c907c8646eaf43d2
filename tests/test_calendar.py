"""China's calendar in opening hours: PH = statutory holidays, make-up working days (调休), Qingdao's sun.

References independent of our code: the State Council's published holiday arrangements for 2025 and 2026
(国务院办公厅关于2025年/2026年部分节假日安排的通知), written out below by hand; ``astral`` for sunrise and
sunset at Qingdao's coordinates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from geo import cn_calendar
from geo.hours import QINGDAO_LATLON, QINGDAO_TZ, Hours, with_holidays
from tests.conftest import make_facility, write_registry
from tests.tools import need_module


def _days(first: str, last: str | None = None) -> set[date]:
    a = date.fromisoformat(first)
    b = date.fromisoformat(last or first)
    return {a + timedelta(days=i) for i in range((b - a).days + 1)}


# The published arrangements: every day off of each holiday block, and the make-up working days.
PUBLISHED_HOLIDAYS = {
    2025: (_days("2025-01-01")  # 元旦
           | _days("2025-01-28", "2025-02-04")  # 春节
           | _days("2025-04-04", "2025-04-06")  # 清明节
           | _days("2025-05-01", "2025-05-05")  # 劳动节
           | _days("2025-05-31", "2025-06-02")  # 端午节
           | _days("2025-10-01", "2025-10-08")),  # 国庆节、中秋节
    2026: (_days("2026-01-01", "2026-01-03")  # 元旦
           | _days("2026-02-15", "2026-02-23")  # 春节
           | _days("2026-04-04", "2026-04-06")  # 清明节
           | _days("2026-05-01", "2026-05-05")  # 劳动节
           | _days("2026-06-19", "2026-06-21")  # 端午节
           | _days("2026-09-25", "2026-09-27")  # 中秋节
           | _days("2026-10-01", "2026-10-07")),  # 国庆节
}
PUBLISHED_MAKEUP = {
    2025: {date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28), date(2025, 10, 11)},
    2026: {date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20),
           date(2026, 10, 10)},
}
OFFICE = "Mo-Fr 08:00-18:00; PH off"


@pytest.mark.parametrize("year", [2025, 2026])
def test_every_day_of_the_year_matches_the_published_arrangement(year):
    days = _days(f"{year}-01-01", f"{year}-12-31")
    assert {d for d in days if cn_calendar.is_holiday(d)} == PUBLISHED_HOLIDAYS[year]
    assert {d for d in days if cn_calendar.is_makeup_workday(d)} == PUBLISHED_MAKEUP[year]
    assert all(cn_calendar.covers(d) for d in days)


def test_the_calendar_ends_where_the_library_data_ends():
    first, until = cn_calendar.CALENDAR_FIRST, cn_calendar.CALENDAR_UNTIL
    assert (first, until) == (date(2004, 1, 1), date(2026, 12, 31))
    beyond = date(2027, 10, 1)  # National Day, but not yet published in the calendar's data
    assert not cn_calendar.covers(beyond) and not cn_calendar.is_holiday(beyond)


def test_ph_off_is_closed_on_national_day_and_open_after_it():
    h = Hours.parse(OFFICE)
    assert not h.is_open(datetime(2026, 10, 1, 10, 0))
    assert h.is_open(datetime(2026, 10, 13, 10, 0))
    assert h.next_change(datetime(2026, 10, 1, 10, 0)) == datetime(2026, 10, 8, 8, 0)  # first working day after
    assert h.next_change(datetime(2026, 9, 30, 17, 0)) == datetime(2026, 9, 30, 18, 0)
    # an aware time is converted to Qingdao time first: 02:00 UTC = 10:00 in Qingdao
    assert not h.is_open(datetime(2026, 10, 1, 2, 0, tzinfo=UTC))
    assert h.is_open(datetime(2026, 10, 13, 2, 0, tzinfo=UTC))


@pytest.mark.parametrize("year", [2025, 2026])
def test_ph_off_follows_every_published_day(year):
    h = Hours.parse(OFFICE)
    for day in sorted(_days(f"{year}-01-01", f"{year}-12-31")):
        expected = day.weekday() < 5 and day not in PUBLISHED_HOLIDAYS[year]
        assert h.is_open(datetime.combine(day, datetime.min.time()) + timedelta(hours=10)) is expected, day


def test_ph_in_a_list_and_as_its_own_rule():
    weekend_and_holidays = Hours.parse("Sa,Su,PH 09:00-12:00")
    assert weekend_and_holidays.is_open(datetime(2026, 10, 5, 10))  # Monday of National Day
    assert not weekend_and_holidays.is_open(datetime(2026, 10, 12, 10))  # an ordinary Monday
    short = Hours.parse("Mo-Su 08:00-20:00; PH 10:00-14:00")
    assert not short.is_open(datetime(2026, 5, 1, 9)) and short.is_open(datetime(2026, 5, 1, 13))
    assert not short.is_open(datetime(2026, 5, 1, 15)) and short.is_open(datetime(2026, 5, 6, 15))
    assert short.next_change(datetime(2026, 5, 5, 15)) == datetime(2026, 5, 6, 8)
    after = Hours.parse("Mo-Fr 08:00-18:00; PH +1 day off")  # closed the day after a holiday
    assert not after.is_open(datetime(2026, 10, 8, 10)) and after.is_open(datetime(2026, 10, 9, 10))


def test_rewrites_keep_comments_and_other_selectors():
    assert with_holidays('Mo-Fr 09:00-17:00; PH off "PH: call ahead"', {0: True}) == \
        'Mo-Fr 09:00-17:00; Mo-Su off "PH: call ahead"'
    assert with_holidays("Mo-Fr 08:00-18:00; PH Sa,Su off", {0: True}) == "Mo-Fr 08:00-18:00; Sa,Su off"
    assert with_holidays("Mo-Fr 08:00-18:00; PH Sa,Su off", {0: False}) == "Mo-Fr 08:00-18:00; SH Sa,Su off"


def test_without_ph_rules_a_holiday_is_an_ordinary_day():
    """OSM semantics: hours that do not mention PH apply on holidays too (unless the facility follows the
    working calendar)."""
    plain = Hours.parse("Mo-Fr 08:00-18:00")
    assert plain.is_open(datetime(2026, 10, 5, 10))
    assert not plain.is_open(datetime(2026, 10, 10, 10))  # a make-up Saturday is a Saturday
    assert Hours.parse("24/7").always_open and Hours.parse("24/7").is_open(datetime(2026, 10, 1, 3))


def test_working_calendar_closes_on_holidays_and_works_make_up_days():
    h = Hours.parse("Mo-Fr 08:00-18:00", workday_calendar=True)
    assert not h.is_open(datetime(2026, 10, 5, 10))  # a statutory holiday (Monday)
    assert h.is_open(datetime(2026, 10, 10, 10))  # make-up Saturday
    assert h.is_open(datetime(2026, 9, 20, 10))  # make-up Sunday
    assert not h.is_open(datetime(2026, 10, 17, 10))  # an ordinary Saturday
    assert h.next_change(datetime(2026, 10, 9, 19)) == datetime(2026, 10, 10, 8)
    assert h.next_change(datetime(2026, 10, 10, 9)) == datetime(2026, 10, 10, 18)
    assert not h.always_open and not Hours.parse("24/7", workday_calendar=True).is_open(datetime(2026, 10, 1, 3))
    # its own PH rule wins over the implied "PH off"
    ph_morning = Hours.parse("Mo-Fr 08:00-18:00; PH 09:00-12:00", workday_calendar=True)
    assert ph_morning.is_open(datetime(2026, 10, 5, 10)) and not ph_morning.is_open(datetime(2026, 10, 5, 13))


def test_a_make_up_day_runs_the_hours_of_the_weekday_it_replaces():
    """2026 National Day: Sunday 20 September is worked for Tuesday 6 October, Saturday 10 October for
    Wednesday 7 October (the in-lieu days paired in date order)."""
    assert cn_calendar.replaced_weekday(date(2026, 9, 20)) == 1
    assert cn_calendar.replaced_weekday(date(2026, 10, 10)) == 2
    assert cn_calendar.replaced_weekday(date(2026, 10, 9)) is None
    h = Hours.parse("Mo,We-Fr 08:00-12:00; Tu 14:00-18:00", workday_calendar=True)
    assert not h.is_open(datetime(2026, 9, 20, 10)) and h.is_open(datetime(2026, 9, 20, 15))  # Tuesday's
    assert h.is_open(datetime(2026, 10, 10, 10)) and not h.is_open(datetime(2026, 10, 10, 15))  # Wednesday's
    assert h.next_change(datetime(2026, 9, 20, 9)) == datetime(2026, 9, 20, 14)
    not_following = Hours.parse("Mo,We-Fr 08:00-12:00; Tu 14:00-18:00")
    assert not not_following.is_open(datetime(2026, 9, 20, 15))


def _sun(day: date) -> tuple[datetime, datetime]:
    astral_sun = need_module("astral.sun")
    from astral import Observer

    s = astral_sun.sun(Observer(latitude=QINGDAO_LATLON[0], longitude=QINGDAO_LATLON[1]), date=day,
                       tzinfo=QINGDAO_TZ)
    return s["sunrise"].replace(tzinfo=None), s["sunset"].replace(tzinfo=None)


@pytest.mark.parametrize("day", [date(2026, 6, 21), date(2026, 12, 21), date(2026, 3, 20), date(2026, 9, 23)])
def test_sunrise_and_sunset_are_qingdaos(day):
    """Against astral (an independent implementation of the NOAA formulas), within 2 minutes; never the
    parser's default 07:00/19:00."""
    h = Hours.parse("sunrise-sunset")
    rise, sets = _sun(day)
    got_rise = h.next_change(datetime.combine(day, datetime.min.time()))
    got_set = h.next_change(got_rise)
    assert abs(got_rise - rise) <= timedelta(minutes=2), (got_rise, rise)
    assert abs(got_set - sets) <= timedelta(minutes=2), (got_set, sets)
    assert (got_rise.time(), got_set.time()) != (datetime(1, 1, 1, 7).time(), datetime(1, 1, 1, 19).time())
    assert h.is_open(rise + timedelta(minutes=5)) and not h.is_open(sets + timedelta(minutes=5))


def test_midsummer_sunrise_in_qingdao_is_before_five():
    """A value anyone can check in an almanac: on 21 June the sun rises in Qingdao at about 04:42 (UTC+8)."""
    got = Hours.parse("sunrise-sunset").next_change(datetime(2026, 6, 21, 0, 0))
    assert datetime(2026, 6, 21, 4, 35) <= got <= datetime(2026, 6, 21, 4, 50)


def _app(tmp_path, facilities):
    from web import create_app

    d = tmp_path / "instance"
    write_registry(d / "facilities.geojson", facilities)
    return create_app({"TESTING": True, "WORKERMAP_DATA_DIR": d}).test_client()


def test_nearest_obeys_the_calendar_and_says_how_far_it_reaches(tmp_path):
    client = _app(tmp_path, [make_facility(1, opening_hours=OFFICE),
                             make_facility(2, opening_hours="Mo-Fr 08:00-18:00", workday_calendar=True)])
    q = "/api/v1/nearest?lon=120.3843&lat=36.062&k=5&open_at="
    national_day = client.get(q + "2026-10-01T10:00").get_json()
    assert national_day["count"] == 0 and national_day["calendar_until"] == "2026-12-31"
    assert national_day["calendar_covered"] is True
    after = client.get(q + "2026-10-13T10:00").get_json()
    assert {h["id"] for h in after["hits"]} == {"t-001", "t-002"}
    makeup = client.get(q + "2026-10-10T10:00").get_json()  # Saturday, a make-up working day
    assert [h["id"] for h in makeup["hits"]] == ["t-002"] and makeup["hits"][0]["closes_at"] == "2026-10-10T18:00+08:00"
    beyond = client.get(q + "2027-10-01T10:00").get_json()  # a Friday the calendar does not know yet
    assert beyond["calendar_covered"] is False and beyond["calendar_until"] == "2026-12-31"
    assert {h["id"] for h in beyond["hits"]} == {"t-001", "t-002"}
    batch = client.post("/api/v1/nearest", json={"points": [[120.3843, 36.062]], "open_at": "2026-10-01T10:00"})
    assert batch.get_json()["results"] == [[]] and batch.get_json()["calendar_until"] == "2026-12-31"


def test_hours_state_of_the_map_splits_by_working_calendar(tmp_path):
    client = _app(tmp_path, [make_facility(1, opening_hours="Mo-Fr 08:00-18:00"),
                             make_facility(2, opening_hours="Mo-Fr 08:00-18:00", workday_calendar=True),
                             make_facility(3, opening_hours=None)])
    body = client.get("/worker/hours?at=2026-10-05T10:00").get_json()
    assert body["hours"] == {"Mo-Fr 08:00-18:00": {"open": True, "next_change": "2026-10-05T18:00+08:00"}}
    assert body["workday_calendar"] == {"Mo-Fr 08:00-18:00": {"open": False,
                                                             "next_change": "2026-10-08T08:00+08:00"}}
