"""Periods imagery is composited over: a calendar year, a quarter (2025Q2) or a date range.

One definition of what a period is, how it is written (its key: "2023", "2025Q2",
"2024-03-01_2024-06-30", the same names Trends uses for the published layers), which dates it
covers (``start`` inclusive, ``end`` exclusive, as Earth Engine's ``filterDate`` takes them) and
how lists of periods are written on the command line ("2019-2024,2025Q2-2025Q3"). Years keep the
key they always had, so stores and run records made before periods existed still open.
"""
from __future__ import annotations

import datetime as _dt
import itertools
import re
from collections.abc import Iterable

from .errors import DetectorError

_YEAR = re.compile(r"^\d{4}$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_DATE = r"\d{4}-\d{2}-\d{2}"
_RANGE = re.compile(rf"^({_DATE})(?:\.\.|_|/)({_DATE})$")


class Period:
    """A span of days [start, end). Equal (and hashed) like its year when it is a whole calendar year."""

    __slots__ = ("end", "start")

    def __init__(self, start: _dt.date, end: _dt.date):
        if not end > start:
            raise DetectorError("A period must end after it starts ({start} to {end}); give the later date as the end.", start=start, end=end)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def __setattr__(self, name, value):
        raise AttributeError("a Period does not change")

    def __reduce__(self):
        return (Period, (self.start, self.end))

    @property
    def kind(self) -> str:
        """"year", "quarter" or "range"."""
        s, e = self.start, self.end
        if s.month == 1 and s.day == 1 and e == _dt.date(s.year + 1, 1, 1):
            return "year"
        if s.day == 1 and s.month in (1, 4, 7, 10) and e == _next_quarter(s):
            return "quarter"
        return "range"

    @property
    def year(self) -> int:
        """The year it starts in (a year's own number)."""
        return self.start.year

    @property
    def last_day(self) -> _dt.date:
        return self.end - _dt.timedelta(days=1)

    @property
    def key(self) -> str:
        """How stores, caches, run records, URLs and file names write it."""
        kind = self.kind
        if kind == "year":
            return str(self.start.year)
        if kind == "quarter":
            return f"{self.start.year}Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.isoformat()}_{self.last_day.isoformat()}"

    @property
    def label(self) -> str:
        """How it reads on a page: "2023", "2025 Q2", "2024-03-01 – 2024-06-30"."""
        kind = self.kind
        if kind == "quarter":
            return f"{self.key[:4]} {self.key[4:]}"
        if kind == "range":
            return f"{self.start.isoformat()} – {self.last_day.isoformat()}"
        return self.key

    def ending(self, day: _dt.date) -> Period:
        """The period cut at ``day`` (exclusive), for a running one."""
        return self if day >= self.end else Period(self.start, max(day, self.start + _dt.timedelta(days=1)))

    def __str__(self) -> str:
        return self.key

    def __repr__(self) -> str:
        return f"Period({self.key!r})"

    def __int__(self) -> int:
        if self.kind != "year":
            raise TypeError(f"{self.key} is not a calendar year")
        return self.start.year

    def __index__(self) -> int:
        return int(self)

    def __eq__(self, other) -> bool:
        if isinstance(other, Period):
            return (self.start, self.end) == (other.start, other.end)
        if isinstance(other, int) and not isinstance(other, bool):
            return self.kind == "year" and self.start.year == other
        if isinstance(other, str):
            try:
                return self == parse(other)
            except DetectorError:
                return False
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.start.year) if self.kind == "year" else hash((self.start, self.end))

    def __lt__(self, other: Period) -> bool:
        return (self.start, self.end) < (of(other).start, of(other).end)


def _next_quarter(d: _dt.date) -> _dt.date:
    return _dt.date(d.year + 1, 1, 1) if d.month == 10 else _dt.date(d.year, d.month + 3, 1)


def contains(period: Period, day: str) -> bool:
    """Whether an acquisition date (YYYY-MM-DD, or a year alone) falls in the period; a year alone
    falls in every period that shares a day with it."""
    try:
        return period.start <= _dt.date.fromisoformat(str(day)[:10]) < period.end
    except ValueError:  # a year alone, or a day that does not exist (2023-02-31 in a tag)
        y = int(str(day)[:4])
        return period.start < _dt.date(y + 1, 1, 1) and period.end > _dt.date(y, 1, 1)


def year(y: int) -> Period:
    return Period(_dt.date(int(y), 1, 1), _dt.date(int(y) + 1, 1, 1))


def quarter(y: int, q: int) -> Period:
    start = _dt.date(int(y), 3 * (int(q) - 1) + 1, 1)
    return Period(start, _next_quarter(start))


def between(first: _dt.date | str, last: _dt.date | str) -> Period:
    """The days from ``first`` to ``last``, both included (how people write a date range)."""
    a, b = _date(first), _date(last)
    if b < a:
        raise DetectorError("The end date {b} is before the start date {a}; give the earlier date first.", b=b, a=a)
    return Period(a, b + _dt.timedelta(days=1))


def _date(value: _dt.date | str) -> _dt.date:
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise DetectorError("{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-04-01.", value=value) from None


def parse(text: str) -> Period:
    """A period from how it is written: "2023", "2025Q2" (or "2025-Q2"), "2024-03-01..2024-06-30"."""
    t = str(text).strip()
    if _YEAR.match(t):
        return year(int(t))
    m = _QUARTER.match(t)
    if m:
        return quarter(int(m.group(1)), int(m.group(2)))
    m = _RANGE.match(t)
    if m:
        return between(m.group(1), m.group(2))
    raise DetectorError("{text!r} is not a period. Write a year (2023), a quarter (2025Q2) or a date range "
                        "(2024-03-01..2024-06-30).",
                        text=text)


def of(value: Period | int | str) -> Period:
    """Any way a period is given (a Period, a year as a number, or its written form) as a Period."""
    if isinstance(value, Period):
        return value
    if isinstance(value, bool):
        raise DetectorError("{value!r} is not a period.", value=value)
    if isinstance(value, int) or (hasattr(value, "__index__") and not isinstance(value, str)):
        return year(int(value))
    return parse(str(value))


def parse_many(text: str) -> list[Period]:
    """Periods written as a list: "2019-2024" (every year), "2025Q2-2025Q3" (every quarter), "2023", a
    date range; separated by commas, in time order, each once."""
    out: list[Period] = []
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        years = re.match(r"^(\d{4})-(\d{4})$", part)
        quarters = re.match(r"^(\d{4})-?[Qq]([1-4])-(\d{4})-?[Qq]([1-4])$", part)
        if years:
            a, b = int(years.group(1)), int(years.group(2))
            if b < a:
                raise DetectorError("{part!r}: the last year comes before the first; write {b}-{a}.", part=part, b=b, a=a)
            out += [year(y) for y in range(a, b + 1)]
        elif quarters:
            first = quarter(int(quarters.group(1)), int(quarters.group(2)))
            last = quarter(int(quarters.group(3)), int(quarters.group(4)))
            if last < first:
                raise DetectorError("{part!r}: the last quarter comes before the first.", part=part)
            p = first
            while not last < p:
                out.append(p)
                p = Period(p.end, _next_quarter(p.end))
        else:
            out.append(parse(part))
    return ordered(out)


def ordered(periods: Iterable[Period]) -> list[Period]:
    """Periods in time order, each once; overlapping periods are refused (new-since needs an order)."""
    ps = sorted({of(p).key: of(p) for p in periods}.values())
    if not ps:
        raise DetectorError("No period given. Write, e.g., 2019-2024,2025Q2-2025Q3.")
    for a, b in itertools.pairwise(ps):
        if b.start < a.end:
            raise DetectorError("The periods {a_label} and {b_label} overlap; give periods that follow each other.", a_label=a.label, b_label=b.label)
    return ps
