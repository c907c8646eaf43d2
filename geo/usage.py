"""Facility usage: visits per facility and day (or hour), imported from the union's operations spreadsheets,
stored with the registry, and read as utilisation against capacity, busiest hours and night use.

File (``workermap usage import FILE``; CSV in UTF-8, UTF-8 with BOM or GBK/GB18030, or XLSX, first sheet)
    One row per facility and date, or per facility, date and hour. Headers in Chinese or English
    (:data:`HEADER_ALIASES`): 设施编号/facility_id, 日期/date (YYYY-MM-DD; a date-time gives the hour too),
    小时/hour (0–23, ``14``, ``14:00`` or ``14:00-15:00``; empty = the day's total), 人次/visits (a whole number),
    样例/sample (true on generated rows). When a file gives hours for a facility and date, hours it leaves out had
    no visits. Validated like a registry import: every problem is reported with its row, and if there is any error
    nothing is written. A stored row is replaced by a later import of the same facility and date.

Readings (:func:`usage_payload`)
    A visit holds a place for :data:`VISIT_HOURS` hour. Utilisation = visits × that ÷ place-hours, where
    place-hours = capacity × the hours the facility was open on the days with data (its opening_hours on China's
    calendar, :mod:`geo.hours`, in quarter hours). Peak utilisation = the busiest hour's mean visits ÷ capacity.
    Night = 22:00–06:00 (:data:`NIGHT_HOURS`); the night share counts rows with hours only.

Sample
    ``geo/shipped/sample_usage.csv`` (made by ``data/build_sample_usage.py``) is **synthetic**: every row says
    ``样例 = true``. While nothing was imported and the registry is the generated sample, the answers read it,
    and every answer that uses synthetic rows says so (``usage.synthetic``, a note).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from geo.errors import ParameterError, Unprocessable
from geo.hours import Hours, now_local
from geo.planner_params import DISTRICT, MAX_VISITS
from geo.regions import whole_region
from geo.registry import Registry
from geo.tabular import MAX_FILE_BYTES, RawRow, ReadError, decode_text, read_limited
from geo.validate import _FALSE, _TRUE, Problem, _blank, _text

__all__ = ["HEADER_ALIASES", "NIGHT_HOURS", "SAMPLE_FILE", "VISIT_HOURS", "UsageData", "UsageImportError",
           "UsageImportReport", "UsageStore", "read_usage_rows", "usage_payload", "validate_usage"]

#: Canonical column -> accepted headers (compared case-insensitively, spaces stripped).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "facility_id": ("facility_id", "facilityid", "facility", "id", "设施编号", "编号", "站点编号", "驿站编号"),
    "date": ("date", "day", "日期", "统计日期"),
    "hour": ("hour", "小时", "时段", "时"),
    "visits": ("visits", "count", "人次", "到访人次", "服务人次", "访问人次"),
    "sample": ("sample", "synthetic", "样例", "合成数据"),
}
REQUIRED = ("facility_id", "date", "visits")
_LOOKUP = {alias.lower(): canon for canon, aliases in HEADER_ALIASES.items() for alias in aliases}
#: A visit holds a place for this many hours (utilisation = visits × VISIT_HOURS ÷ place-hours).
VISIT_HOURS = 1.0
#: Hours of the night (22:00–06:00).
NIGHT_HOURS = (22, 23, 0, 1, 2, 3, 4, 5)
#: The shipped synthetic usage, in the shipped data folder.
SAMPLE_FILE = "sample_usage.csv"
#: Earliest date a usage row may have.
FIRST_DATE = date(2000, 1, 1)
_HOUR = re.compile(r"^\s*(\d{1,2})(?::00)?(?:\s*[-–~至]\s*(\d{1,2})(?::00)?)?\s*(?:时|点)?\s*$")
_DATE = re.compile(r"^\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[T\s]+(\d{1,2}):(\d{2})(?::\d{2})?)?\s*$")
_COLUMNS = ("facility_id", "day", "hour", "visits", "synthetic", "import_id")


class UsageImportError(Unprocessable):
    """A usage file (or a row of it) cannot be used; ``problems`` says why, per row (a 422; the CLI's exit 2)."""

    code = "validation_failed"

    def __init__(self, message: str, problems: Sequence[Problem] = ()):
        self.problems = list(problems)
        super().__init__(message, details=[{"row": p.row, "field": p.field, "message": p.message,
                                            "severity": p.severity} for p in self.problems] or None)


# --------------------------------------------------------------------------- reading


def _canonical(header: Any) -> str | None:
    return _LOOKUP.get(str(header or "").strip().replace(" ", "").lower())


def _table(path: Path, data: bytes) -> list[list[Any]]:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        text, _ = decode_text(data)
        if "\x00" in text:
            raise ReadError("file contains NUL bytes: it is not a text CSV")
        try:
            return list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise ReadError(f"CSV cannot be parsed: {exc}") from None
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
            finally:
                wb.close()
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
            raise ReadError(f"XLSX file cannot be read (truncated, damaged or not an Excel file): {exc}") from None
    raise ReadError(f"file type {suffix or '(none)'} not supported; use .csv or .xlsx")


def read_usage_rows(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> list[RawRow]:
    """The rows of a usage file keyed by canonical column (row numbers as a spreadsheet shows them)."""
    path = Path(path)
    table = _table(path, read_limited(path, max_bytes))
    if not table:
        raise ReadError("file is empty: no header row")
    canon = [_canonical(h) for h in table[0]]
    missing = [c for c in REQUIRED if c not in canon]
    if missing:
        wanted = ", ".join(f"{next(a for a in HEADER_ALIASES[c] if not a.isascii())}/{c}" for c in missing)
        raise ReadError(f"no column for {wanted} (got {', '.join(str(h) for h in table[0][:10])})")
    dup = sorted({c for c in canon if c and canon.count(c) > 1})
    if dup:
        raise ReadError(f"columns given twice: {', '.join(dup)}")
    unknown = tuple(str(h) for h, c in zip(table[0], canon, strict=True) if not c and str(h or "").strip())
    out = []
    for n, cells in enumerate(table[1:], start=2):
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        out.append(RawRow(n, {c: cells[i] if i < len(cells) else None for i, c in enumerate(canon) if c}, unknown))
    return out


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class UsageRow:
    facility_id: str
    day: date
    hour: int | None  # None: the day's total
    visits: int
    synthetic: bool


def _day_and_hour(v: Any) -> tuple[date | None, int | None, str | None]:
    """(date, hour from a date-time or None, problem)."""
    if isinstance(v, datetime):
        return v.date(), (v.hour if (v.hour, v.minute) != (0, 0) else None), None
    if isinstance(v, date):
        return v, None, None
    m = _DATE.match(_text(v))
    if m is None:
        return None, None, f"date must be YYYY-MM-DD (a date-time gives the hour too), got {_text(v)[:30]!r}"
    try:
        day = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None, None, f"{_text(v)[:30]!r} is not a calendar date"
    hour = None if m[4] is None else int(m[4])
    if hour is not None and (hour > 23 or m[5] != "00"):
        return None, None, f"the time of {_text(v)[:30]!r} must be a full hour 00:00–23:00"
    return day, hour, None


def _hour(v: Any) -> tuple[int | None, str | None]:
    if isinstance(v, time):
        return (v.hour, None) if v.minute == 0 else (None, f"hour must be a full hour, got {v.isoformat()}")
    if isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer() and 0 <= v <= 23:
        return int(v), None
    m = _HOUR.match(_text(v))
    if m is not None and int(m[1]) <= 23 and (m[2] is None or int(m[2]) == int(m[1]) + 1 or
                                               (int(m[1]) == 23 and int(m[2]) in (0, 24))):
        return int(m[1]), None
    return None, f"hour must be 0–23 (or 14:00, 14:00-15:00; empty for the day's total), got {_text(v)[:30]!r}"


def _visits(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    try:
        num = float(v) if isinstance(v, int | float) else float(_text(v).replace(",", ""))
    except (ValueError, OverflowError):
        return None
    return int(num) if num.is_integer() and 0 <= num <= MAX_VISITS else None


def validate_usage(rows: Sequence[RawRow], registry: Registry, *, today: date | None = None
                   ) -> tuple[list[UsageRow], list[Problem]]:
    """Check every row against the registry; return the rows that passed and every problem found."""
    today = today or now_local().date()
    problems: list[Problem] = []
    out: list[UsageRow] = []
    first: dict[tuple, int] = {}
    kinds: dict[tuple[str, date], tuple[str, int]] = {}  # (facility, day) -> ("hours" | "total", first row)
    if rows and rows[0].unknown_columns:
        problems.append(Problem(1, "columns", f"columns not read: {', '.join(rows[0].unknown_columns)[:200]}",
                                "warning"))
    for raw in rows:
        v, errors = raw.values, len(problems)

        def error(fld: str, msg: str, row: int = raw.row) -> None:
            problems.append(Problem(row, fld, msg))

        fid = _text(v.get("facility_id"))
        f = registry.get(fid) if fid else None
        if not fid:
            error("facility_id", "facility id is empty (设施编号 is required)")
        elif f is None:
            error("facility_id", f"no facility with id {fid[:64]!r} in the registry")
        elif f.status == "removed":
            problems.append(Problem(raw.row, "facility_id", f"facility {fid!r} is removed: stored, but not shown "
                                                            "while it stays removed", "warning"))
        day, hour_of_date, problem = (None, None, "date is empty (日期 is required)") if _blank(v.get("date")) \
            else _day_and_hour(v.get("date"))
        if problem:
            error("date", problem)
        elif day < FIRST_DATE or day > today:
            error("date", f"date {day.isoformat()} must be between {FIRST_DATE.isoformat()} and today "
                          f"({today.isoformat()})")
        hour = hour_of_date
        if not _blank(v.get("hour")):
            hour, problem = _hour(v.get("hour"))
            if problem:
                error("hour", problem)
            elif hour_of_date is not None and hour != hour_of_date:
                error("hour", f"hour {hour} differs from the time of the date ({hour_of_date}:00)")
        visits = None if _blank(v.get("visits")) else _visits(v.get("visits"))
        if visits is None:
            error("visits", f"visits must be a whole number 0–{MAX_VISITS}, got {_text(v.get('visits'))[:30]!r}")
        flag = _text(v.get("sample")).lower()
        if flag not in _TRUE | _FALSE:
            error("sample", f"sample must be true or false, got {flag[:20]!r}")
        if len([p for p in problems[errors:] if p.severity == "error"]):
            continue
        key = (fid, day, hour)
        if key in first:
            when = day.isoformat() + ("" if hour is None else f" {hour:02d}:00")
            error("date", f"{fid} on {when} is given twice (first in row {first[key]})")
            continue
        first[key] = raw.row
        kind = "total" if hour is None else "hours"
        seen = kinds.setdefault((fid, day), (kind, raw.row))
        if seen[0] != kind:
            error("hour", f"{fid} on {day.isoformat()} has a day total and hourly rows (row {seen[1]}); give one "
                          "or the other")
            continue
        out.append(UsageRow(fid, day, hour, visits, flag in _TRUE))
    if not rows:
        problems.append(Problem(0, "file", "file has a header but no data rows"))
    return out, problems


# --------------------------------------------------------------------------- the data


@dataclass(frozen=True, eq=False)
class UsageData:
    """Usage rows as columns. ``hour`` −1 = a day's total; ``source``: imported, the shipped sample, or none."""

    facility_id: np.ndarray
    day: np.ndarray  # datetime64[D]
    hour: np.ndarray
    visits: np.ndarray
    synthetic: np.ndarray
    source: str = "imported"
    version: int = 0
    imports: tuple[dict, ...] = ()

    @classmethod
    def from_rows(cls, rows: Iterable[tuple], **kw) -> UsageData:
        """From (facility_id, day ISO text or date, hour or None, visits, synthetic) tuples."""
        rows = list(rows)
        return cls(np.array([r[0] for r in rows], dtype=object),
                   np.array([str(r[1]) for r in rows], dtype="datetime64[D]"),
                   np.array([-1 if r[2] is None else int(r[2]) for r in rows], dtype=np.int16),
                   np.array([int(r[3]) for r in rows], dtype=np.int64),
                   np.array([bool(r[4]) for r in rows], dtype=bool), **kw)

    def __len__(self) -> int:
        return len(self.visits)

    @property
    def synthetic_any(self) -> bool:
        return bool(self.synthetic.any())


_SAMPLES: dict[tuple[str, str], UsageData] = {}


def sample_usage(shipped_dir: str | Path, registry: Registry) -> UsageData:
    """The shipped synthetic usage (its rows of facilities in ``registry``), read once per registry version."""
    key = (str(Path(shipped_dir) / SAMPLE_FILE), registry.version)
    if key not in _SAMPLES:
        import pandas as pd

        # the shipped file is read as it is (tests/test_usage.py validates it whole with validate_usage)
        frame = pd.read_csv(key[0], dtype=str, keep_default_na=False, encoding="utf-8")
        frame.columns = [_canonical(c) for c in frame.columns]
        frame = frame[frame["facility_id"].isin({f.id for f in registry.facilities})]
        if len(_SAMPLES) > 4:
            _SAMPLES.clear()
        _SAMPLES[key] = UsageData(frame["facility_id"].to_numpy(dtype=object),
                                  frame["date"].to_numpy(dtype="datetime64[D]"),
                                  pd.to_numeric(frame["hour"].replace("", "-1")).to_numpy(dtype=np.int16),
                                  frame["visits"].astype(np.int64).to_numpy(),
                                  frame["sample"].str.lower().isin(_TRUE).to_numpy(), source="shipped sample")
    return _SAMPLES[key]


@dataclass
class UsageImportReport:
    file: str
    rows: int
    problems: list[Problem] = field(default_factory=list)
    stored: int = 0
    facilities: int = 0
    first_day: str | None = None
    last_day: str | None = None
    synthetic: bool = False
    written: bool = False
    import_id: int | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


class UsageStore:
    """Usage in the registry's database (tables ``usage_visits``, ``usage_imports``: migration 0004)."""

    def __init__(self, store):
        self.store = store

    def import_file(self, path: str | Path, *, actor: str, replace: bool = False, dry_run: bool = False,
                    today: date | None = None) -> UsageImportReport:
        """Read, validate and (unless any error or ``dry_run``) store a usage file in one transaction: its rows
        replace the stored rows of the same facilities and dates (``replace``: every stored row). Any error: a
        :class:`UsageImportError` listing every problem, and nothing is written."""
        path = Path(path)
        registry = self.store.load()
        try:
            raw = read_usage_rows(path)
        except ReadError as exc:
            raise UsageImportError(f"{path.name}: {exc}", [Problem(0, "file", str(exc))]) from None
        rows, problems = validate_usage(raw, registry, today=today)
        report = UsageImportReport(path.name, len(raw), problems)
        if report.errors:
            n = len(report.errors)
            raise UsageImportError(f"refused: {n} problem{'' if n == 1 else 's'} in {path.name}; nothing was "
                                   "written", problems)
        days = sorted({r.day for r in rows})
        report.stored, report.facilities = len(rows), len({r.facility_id for r in rows})
        report.first_day, report.last_day = days[0].isoformat(), days[-1].isoformat()
        report.synthetic = any(r.synthetic for r in rows)
        if dry_run:
            return report
        from geo.store.registry_store import now_iso

        q = self.store._q
        with self.store.writing() as conn:
            if replace:
                q(conn, "DELETE FROM usage_visits")
            else:
                self.store._many(conn, "DELETE FROM usage_visits WHERE facility_id = ? AND day = ?",
                                 sorted({(r.facility_id, r.day.isoformat()) for r in rows}))
            q(conn, "INSERT INTO usage_imports (time, actor, file, row_count, first_day, last_day, synthetic, "
                    "replaced) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
              (now_iso(), actor, path.name[:200], len(rows),
               report.first_day, report.last_day, report.synthetic, replace))
            report.import_id = int(q(conn, "SELECT max(import_id) FROM usage_imports").fetchone()[0])
            self.store._many(conn, "INSERT INTO usage_visits (facility_id, day, hour, visits, synthetic, import_id) "
                                   "VALUES (?, ?, ?, ?, ?, ?)",
                             [(r.facility_id, r.day.isoformat(), r.hour, r.visits, r.synthetic, report.import_id)
                              for r in rows])
            self.store._audit(conn, actor=actor, action="usage_import", extra={
                "file": path.name[:200], "rows": len(rows), "facilities": report.facilities,
                "first_day": report.first_day, "last_day": report.last_day, "synthetic": report.synthetic,
                "replace": replace, "import_id": report.import_id})
        report.written = True
        return report

    def version(self) -> int:
        """The latest import's number (0: none): what a cache of :meth:`load` is keyed by."""
        with self.store.reading() as conn:
            return int(self.store._q(conn, "SELECT coalesce(max(import_id), 0) FROM usage_imports").fetchone()[0])

    def load(self) -> UsageData:
        """Every stored row, and the imports' record."""
        with self.store.reading() as conn:
            q = self.store._q
            rows = q(conn, f"SELECT {', '.join(_COLUMNS[:5])} FROM usage_visits").fetchall()
            imports = q(conn, "SELECT import_id, time, actor, file, row_count, first_day, last_day, synthetic, "
                              "replaced FROM usage_imports ORDER BY import_id").fetchall()
        keys = ("import_id", "time", "actor", "file", "rows", "first_day", "last_day", "synthetic", "replaced")
        record = tuple({k: (bool(v) if k in ("synthetic", "replaced") else v) for k, v in zip(keys, r, strict=True)}
                       for r in imports)
        return UsageData.from_rows(rows, source="imported", version=record[-1]["import_id"] if record else 0,
                                   imports=record)


def current_usage(store, registry: Registry, shipped_dir: str | Path, cached=None) -> UsageData:
    """What the answers read: the stored usage; while none was imported and the registry is the generated
    sample, the shipped synthetic sample. ``cached(key, compute)``: a cache (``PlannerData.cached``) for the
    stored rows, keyed by the latest import."""
    usage = UsageStore(store)
    version = usage.version()
    if version == 0 and registry.is_sample:
        return sample_usage(shipped_dir, registry)
    return usage.load() if cached is None else cached(("usage-rows", version), usage.load)


# --------------------------------------------------------------------------- readings


@lru_cache(maxsize=8192)
def open_hours(expr: str, workday_calendar: bool, day: date) -> float:
    """Hours ``expr`` is open on ``day`` (Qingdao), counted in quarter hours.

    >>> open_hours("Mo-Su 08:00-20:00", False, date(2026, 11, 9)), open_hours("Mo-Fr 08:30-17:30", False,
    ...                                                                        date(2026, 11, 15))
    (12.0, 0.0)
    """
    h = Hours.parse(expr, workday_calendar)
    if h.always_open:
        return 24.0
    start = datetime.combine(day, time())
    return sum(h.is_open(start + timedelta(minutes=7.5 + 15 * k)) for k in range(96)) / 4


def resolve_district(districts, value: str | None, scope: tuple[str, str] | None = None) -> str | None:
    """The adcode of a district given by adcode or name (None: the whole area, ``scope``: ``(adcode, name)``,
    default the region served)."""
    if value in (None, "", *(scope or whole_region())):
        return None
    code = districts.lookup.get(value)
    if code is None:
        raise ParameterError("district", value, DISTRICT.allowed())
    return code


@dataclass(frozen=True)
class UsageFilter:
    district: str | None = None  # adcode
    kinds: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None

    def as_dict(self) -> dict:
        return {"district": self.district, "kind": list(self.kinds) or "any",
                "since": None if self.since is None else self.since.isoformat(),
                "until": None if self.until is None else self.until.isoformat()}


def usage_filter(districts, values: dict, scope: tuple[str, str] | None = None) -> UsageFilter:
    """From the parsed values of ``geo.planner_params.USAGE`` (or a set holding its parameters); ``scope``: the
    whole area's ``(adcode, name)`` (default the region served; a city of a province: the city)."""
    since, until = values.get("since"), values.get("until")
    if since is not None and until is not None and until < since:
        raise ParameterError("until", until.isoformat(), f"a date on or after since ({since.isoformat()})")
    return UsageFilter(resolve_district(districts, values.get("district"), scope), tuple(values.get("kind") or ()),
                       since, until)


def _pct(part: float, whole: float) -> float | None:
    return None if whole <= 0 else round(100.0 * part / whole, 2)


def facility_usage(usage: UsageData, facilities: Sequence, flt: UsageFilter = UsageFilter()) -> list[dict]:
    """One row per live facility with usage in the period (and the filter's district and kinds)."""
    by_id = {f.id: f for f in facilities if f.status != "removed"}
    keep = np.array([fid in by_id for fid in usage.facility_id], dtype=bool) if len(usage) else np.zeros(0, bool)
    if flt.since is not None:
        keep &= usage.day >= np.datetime64(flt.since)
    if flt.until is not None:
        keep &= usage.day <= np.datetime64(flt.until)
    ids, day, hour, visits = usage.facility_id[keep], usage.day[keep], usage.hour[keep], usage.visits[keep]
    synthetic = usage.synthetic[keep]
    order = np.argsort(ids.astype(str), kind="stable")
    ids, day, hour, visits, synthetic = ids[order], day[order], hour[order], visits[order], synthetic[order]
    if len(ids) == 0:
        return []
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    rows = []
    for a, b in zip(starts, np.r_[starts[1:], len(ids)], strict=True):
        f = by_id[ids[a]]
        if (flt.district and f.district_adcode != flt.district) or (flt.kinds and f.kind not in flt.kinds):
            continue
        rows.append(_facility_row(f, day[a:b], hour[a:b], visits[a:b], bool(synthetic[a:b].any())))
    return rows


def _facility_row(f, day: np.ndarray, hour: np.ndarray, visits: np.ndarray, synthetic: bool) -> dict:
    days = np.unique(day)
    hourly = hour >= 0
    hourly_days = len(np.unique(day[hourly]))
    total = int(visits.sum())
    by_hour = np.bincount(hour[hourly], weights=visits[hourly], minlength=24) if hourly.any() else None
    profile = None if by_hour is None else by_hour / hourly_days
    hours_open = None
    if f.opening_hours is not None:
        hours_open = sum(open_hours(f.opening_hours, f.workday_calendar, d.item()) for d in days)
    cap = f.capacity
    place_hours = None if not cap or hours_open is None else cap * hours_open
    night = None if by_hour is None else float(by_hour[list(NIGHT_HOURS)].sum())
    hourly_total = None if by_hour is None else float(by_hour.sum())
    peak = None if profile is None or profile.max() <= 0 else int(np.argmax(profile))
    busiest = [] if profile is None else [f"{h:02d}:00" for h in np.argsort(-profile, kind="stable")[:3]
                                          if profile[h] > 0]
    return {
        "id": f.id, "name": f.name, "kind": f.kind, "district": f.district, "adcode": f.district_adcode,
        "lon": round(f.lon, 6), "lat": round(f.lat, 6), "capacity": cap, "opening_hours": f.opening_hours,
        "open_24h": f.opening_hours is not None and Hours.parse(f.opening_hours, f.workday_calendar).always_open,
        "days": len(days), "hourly_days": hourly_days, "visits": total,
        "visits_per_day": round(total / len(days), 2),
        "open_hours_per_day": None if hours_open is None else round(hours_open / len(days), 2),
        "utilisation": None if not place_hours else round(total * VISIT_HOURS / place_hours, 4),
        "peak_hour": None if peak is None else f"{peak:02d}:00",
        "peak_hour_visits": None if peak is None else round(float(profile[peak]), 2),
        "peak_utilisation": None if peak is None or not cap else round(float(profile[peak]) * VISIT_HOURS / cap, 4),
        "busiest_hours": busiest,
        "night_visits_per_day": None if night is None else round(night / hourly_days, 2),
        "night_share": None if not hourly_total else round(night / hourly_total, 4),
        "profile": None if profile is None else [round(float(v), 2) for v in profile],
        "synthetic": synthetic,
    }


def _summary(adcode: str, name: str, rows: list[dict]) -> dict:
    visits = sum(r["visits"] for r in rows)
    with_ph = [r for r in rows if r["utilisation"] is not None]
    place_hours = sum(r["visits"] * VISIT_HOURS / r["utilisation"] for r in with_ph if r["utilisation"] > 0)
    used = sum(r["visits"] for r in with_ph if r["utilisation"] > 0)
    hourly = [r for r in rows if r["profile"] is not None]
    per_hour = np.sum([r["profile"] for r in hourly], axis=0) if hourly else np.zeros(24)
    night = float(per_hour[list(NIGHT_HOURS)].sum())
    return {"adcode": adcode, "name": name, "facilities": len(rows), "visits": visits,
            "visits_per_day": round(sum(r["visits_per_day"] for r in rows), 1),
            "utilisation": None if place_hours <= 0 else round(used * VISIT_HOURS / place_hours, 4),
            "night_share": None if per_hour.sum() <= 0 else round(night / float(per_hour.sum()), 4),
            "peak_hour": None if per_hour.max() <= 0 else f"{int(np.argmax(per_hour)):02d}:00"}


def describe_source(usage: UsageData) -> dict:
    """Where the usage comes from, and whether it is synthetic (every answer that uses it carries this)."""
    days = np.unique(usage.day) if len(usage) else []
    synthetic = usage.synthetic_any
    if usage.source == "shipped sample":
        note = (f"SYNTHETIC sample usage ({SAMPLE_FILE}, generated for the demo): not observed visits. Import the "
                "union's own records with `workermap usage import FILE`.")
    elif len(usage) == 0:
        note = "no usage imported yet: `workermap usage import FILE` (CSV/XLSX: 设施编号, 日期, 小时, 人次)"
    else:
        note = "imported usage" + ("; SYNTHETIC rows included (样例 = true): not observed visits" if synthetic else "")
    return {"source": usage.source, "synthetic": synthetic, "rows": len(usage), "imports": len(usage.imports),
            "first_day": str(days[0]) if len(days) else None, "last_day": str(days[-1]) if len(days) else None,
            "note": note}


def usage_assumptions(flt: UsageFilter) -> dict:
    return {**flt.as_dict(), "visit_hours": VISIT_HOURS, "night": "22:00–06:00",
            "utilisation_rule": "visits × visit_hours ÷ (capacity × hours open on the days with data); null without "
                                "a capacity or opening hours",
            "peak_rule": "the hour with the most visits on average over the days with hourly rows; peak_utilisation "
                         "= its mean visits × visit_hours ÷ capacity",
            "open_hours_rule": "opening_hours on China's calendar, counted in quarter hours",
            "missing_hours_rule": "hours a file leaves out for a facility and date it gives hours for had no visits"}


def usage_payload(usage: UsageData, facilities: Sequence, districts, flt: UsageFilter, *, sample: bool,
                  scope: tuple[str, str] | None = None) -> dict[str, Any]:
    """``GET /api/v1/usage``: utilisation vs capacity, busiest hours and night use, per facility, district, city
    (``sample``: the registry is the generated sample; ``scope``: the whole area's ``(adcode, name)``, default the
    region served; a city of a province: the city)."""
    rows = facility_usage(usage, facilities, flt)
    by_district: dict[str, list[dict]] = {}
    for r in rows:
        by_district.setdefault(r["adcode"], []).append(r)
    codes = [flt.district] if flt.district else sorted(districts.names)
    city_hours = np.sum([r["profile"] for r in rows if r["profile"] is not None], axis=0) \
        if any(r["profile"] is not None for r in rows) else np.zeros(24)
    total = float(city_hours.sum())
    return {"usage": describe_source(usage), "assumptions": usage_assumptions(flt), "sample": sample,
            "city": _summary(*(scope or whole_region()), rows),
            "districts": [_summary(c, districts.names.get(c, c), by_district.get(c, [])) for c in codes],
            "hours": [{"hour": f"{h:02d}:00", "visits_per_day": round(float(city_hours[h]), 1),
                       "share": None if total <= 0 else round(float(city_hours[h]) / total, 4)} for h in range(24)],
            "facilities": sorted(rows, key=lambda r: (r["utilisation"] is None, -(r["utilisation"] or 0), r["id"]))}
