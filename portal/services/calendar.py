"""SLA calendars: when an SLA clock runs, and the due time it reaches after so much of it.

A calendar runs round the clock, or only in working hours: wall-clock ranges per weekday in the
calendar's time zone, on days that are not public holidays (whole local days, from the
``holidays`` package). Everything here is pure: the same inputs give the same answer, whatever
the date today (the holiday tables are cached, which callers cannot observe).

Choices that a reader might otherwise have to guess:

- **Daylight saving.** Working hours are wall-clock times: 09:00-17:00 in Paris opens at 09:00
  local in winter and in summer. A range that a clock change makes shorter or longer counts the
  real time that passes: 01:00-05:00 is 3 hours on the night the clocks go forward and 5 hours on
  the night they go back. A range opens (closes) the first moment the local clock reads its start
  (end); if the clock skips that reading, at the moment it jumps past it. Round the clock, a
  duration is real elapsed time too, so 12 hours across a clock change show 11 or 13 on the wall.
- **Closing time.** A deadline that lands exactly at a closing time stays at that closing time;
  it does not move to the next opening.
- **Zero.** Adding no working time returns the start itself (in UTC), even outside working time:
  with nothing to count, no time passes.
- **Midnight.** A range cannot run past midnight, but it may end *at* midnight: an end of 00:00
  means the end of the day (so 00:00-00:00 is the whole day). A night shift is two ranges.
- **Holidays** apply to working hours only; a round-the-clock calendar never stops, and
  ``validate_calendar`` reports a holiday country given to one.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from math import ceil, floor
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

MIDNIGHT = time(0)
DAY = timedelta(days=1)
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# How far ahead add_working_time looks for working time before giving up on a calendar.
HORIZON_YEARS = 20

Period = tuple[datetime, datetime]


@dataclass(frozen=True)
class Calendar:
    """When the clock runs: always (no working_hours), or only in working hours on working days,
    in ``timezone``, skipping the public holidays of ``holidays_country`` (and subdivision).

    ``working_hours`` holds ``(weekday, start, end)`` ranges, weekday 0 being Monday, as naive
    wall-clock times; a day may have several ranges (a lunch break), and an end of 00:00 means
    midnight at the end of the day.
    """

    timezone: str = "UTC"
    working_hours: tuple[tuple[int, time, time], ...] = ()
    holidays_country: str | None = None
    holidays_subdivision: str | None = None

    @classmethod
    def round_the_clock(cls, timezone: str = "UTC") -> "Calendar":
        return cls(timezone=timezone)

    @classmethod
    def office_hours(
        cls,
        timezone: str,
        start: time,
        end: time,
        weekdays: Iterable[int] = range(5),
        holidays_country: str | None = None,
        holidays_subdivision: str | None = None,
    ) -> "Calendar":
        """The same hours on each of ``weekdays`` (Monday to Friday unless told)."""
        return cls(
            timezone=timezone,
            working_hours=tuple((weekday, start, end) for weekday in weekdays),
            holidays_country=holidays_country,
            holidays_subdivision=holidays_subdivision,
        )

    @property
    def is_round_the_clock(self) -> bool:
        return not self.working_hours

    @property
    def business_day(self) -> timedelta:
        """One day's working hours: 24 hours round the clock, else the longest weekday's total
        (as the wall clock shows it, whatever daylight saving does to one particular day)."""
        if self.is_round_the_clock:
            return DAY
        totals: dict[int, timedelta] = defaultdict(timedelta)
        for weekday, start, end in self.working_hours:
            totals[weekday] += _wall_length(start, end)
        return max(totals.values())


def add_working_time(start: datetime, amount: timedelta, calendar: Calendar) -> datetime:
    """The moment ``amount`` of working time after ``start``, as an aware UTC datetime.

    Counting begins at ``start`` if it is working time, else at the next opening; a result that
    lands exactly at a closing time stays there. Adding nothing returns ``start`` (in UTC).

    Raises ValueError for a naive ``start``, a negative ``amount``, a calendar that
    ``validate_calendar`` finds fault with, or an amount that does not fit in
    ``HORIZON_YEARS`` years of the calendar.
    """
    start = _as_utc(start)
    if amount < timedelta(0):
        raise ValueError(f"cannot add a negative amount of working time ({amount})")
    _require_usable(calendar)
    if not amount or calendar.is_round_the_clock:
        return start + amount
    last_day = start.date() + timedelta(days=366 * HORIZON_YEARS)
    remaining = amount
    for opens, closes in _periods_from(calendar, start, last_day):
        if remaining <= closes - opens:
            return opens + remaining
        remaining -= closes - opens
    raise ValueError(
        f"{amount} of working time is more than {HORIZON_YEARS} years of this calendar"
    )


def working_time_between(start: datetime, end: datetime, calendar: Calendar) -> timedelta:
    """The working time in ``[start, end)``: zero if ``end`` is not after ``start``.

    The inverse of ``add_working_time``: ``working_time_between(s, add_working_time(s, d, c), c)``
    is ``d``, and ``add_working_time(s, working_time_between(s, e, c), c)`` is no later than
    ``e``. Raises ValueError for naive datetimes or a calendar that ``validate_calendar`` finds
    fault with.
    """
    start, end = _as_utc(start), _as_utc(end)
    _require_usable(calendar)
    if end <= start:
        return timedelta(0)
    if calendar.is_round_the_clock:
        return end - start
    last_day = end.astimezone(ZoneInfo(calendar.timezone)).date() + DAY
    total = timedelta(0)
    for opens, closes in _periods_from(calendar, start, last_day):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return total


def validate_calendar(calendar: Calendar) -> list[str]:
    """What is wrong with a calendar, in words an operator can act on (empty when fine)."""
    problems = []
    try:
        ZoneInfo(calendar.timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems.append(
            f"{calendar.timezone!r} is not a time zone (use a name such as 'Europe/Paris')"
        )
    problems.extend(_holiday_problems(calendar))
    ranges_by_weekday: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for entry in calendar.working_hours:
        problem = _range_problem(entry)
        if problem:
            problems.append(problem)
        else:
            weekday, start, end = entry
            ranges_by_weekday[weekday].append((start, end))
    for weekday, ranges in sorted(ranges_by_weekday.items()):
        for earlier, later in pairwise(sorted(ranges)):
            if earlier[1] == MIDNIGHT or later[0] < earlier[1]:
                problems.append(
                    f"working hours {_describe(weekday, *earlier)} and "
                    f"{_describe(weekday, *later)} overlap"
                )
    if calendar.working_hours and not ranges_by_weekday:
        problems.append("the working hours leave no working time at all")
    return problems


def _holiday_problems(calendar: Calendar) -> list[str]:
    country, subdivision = calendar.holidays_country, calendar.holidays_subdivision
    if country is None:
        if subdivision is not None:
            return [f"holiday subdivision {subdivision!r} needs a holiday country"]
        return []
    if calendar.is_round_the_clock:
        return [
            f"a round-the-clock calendar never stops, so the holidays of {country!r} would be "
            "ignored: give it working hours, or no holiday country"
        ]
    try:
        holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError:  # the holidays package's answer for an unknown country or region
        if subdivision is None:
            return [f"{country!r} is not a country with known holidays (use a code such as 'FR')"]
        return [f"{subdivision!r} is not a subdivision of {country!r} with known holidays"]
    return []


def _range_problem(entry: object) -> str | None:
    if not isinstance(entry, tuple) or len(entry) != 3:
        return f"working hours {entry!r} should be (weekday, start, end)"
    weekday, start, end = entry
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
        return f"weekday {weekday!r} should be 0 (Monday) to 6 (Sunday)"
    if not isinstance(start, time) or not isinstance(end, time):
        return f"working hours on {WEEKDAY_NAMES[weekday]} should be times of day"
    if start.tzinfo is not None or end.tzinfo is not None:
        return (
            f"working hours on {WEEKDAY_NAMES[weekday]} should be wall-clock times without a "
            "time zone (the calendar's time zone applies)"
        )
    if end != MIDNIGHT and start >= end:
        return (
            f"working hours {_describe(weekday, start, end)} should start before they end "
            "(a range cannot run past midnight; end at 00:00 for midnight)"
        )
    return None


def _describe(weekday: int, start: time, end: time) -> str:
    return f"{WEEKDAY_NAMES[weekday]} {start:%H:%M}-{end:%H:%M}"


@lru_cache(maxsize=256)
def _problems(calendar: Calendar) -> tuple[str, ...]:
    return tuple(validate_calendar(calendar))


def _require_usable(calendar: Calendar) -> None:
    problems = _problems(calendar)
    if problems:
        raise ValueError(f"unusable calendar: {'; '.join(problems)}")


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone")
    return moment.astimezone(UTC)


def _wall_length(start: time, end: time) -> timedelta:
    day = date(2000, 1, 1)
    closes = datetime.combine(day + DAY if end == MIDNIGHT else day, end)
    return closes - datetime.combine(day, start)


def _periods_from(calendar: Calendar, since: datetime, last_day: date) -> Iterator[Period]:
    """The working periods that end after ``since``, in order, cut to begin no earlier than
    ``since``, for local days up to ``last_day``; a whole day at a time, never minute by minute.
    """
    # A range of an earlier day closes by the first moment the clock reads this day's 00:00,
    # which is no later than ``since``: starting from ``since``'s own day misses nothing.
    day = since.astimezone(ZoneInfo(calendar.timezone)).date()
    while day <= last_day:
        for opens, closes in _periods_on(calendar, day):
            if closes > since:
                yield max(opens, since), closes
        day += DAY


@lru_cache(maxsize=8192)
def _periods_on(calendar: Calendar, day: date) -> tuple[Period, ...]:
    """The working periods of one local day as UTC instants, in order (none on a holiday)."""
    if day in _holidays(calendar.holidays_country, calendar.holidays_subdivision, day.year):
        return ()
    zone = ZoneInfo(calendar.timezone)
    periods = []
    for weekday, start, end in sorted(calendar.working_hours):
        if weekday != day.weekday():
            continue
        opens = _first_reading(day, start, zone)
        if end == MIDNIGHT:
            closes = _first_reading(day + DAY, MIDNIGHT, zone)
        else:
            closes = _first_reading(day, end, zone)
        if opens < closes:  # a range inside a skipped hour is empty
            periods.append((opens, closes))
    return tuple(periods)


@lru_cache(maxsize=256)
def _holidays(country: str | None, subdivision: str | None, year: int) -> frozenset[date]:
    if country is None:
        return frozenset()
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def _first_reading(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The first moment (in UTC) the clock in ``zone`` reads ``day wall`` or later.

    Usually the one moment it reads exactly that; of two (the clocks went back), the first; of
    none (the clocks went forward past it), the moment of the jump.
    """
    local = datetime.combine(day, wall.replace(fold=0), tzinfo=zone)
    moment = local.astimezone(UTC)  # fold=0: the first of two readings
    if moment.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return moment
    # A skipped reading: fold=1 maps it to a moment before the jump, fold=0 to one after.
    return _jump_between(local.replace(fold=1).astimezone(UTC), moment, zone)


def _jump_between(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The moment between ``before`` and ``after`` when ``zone`` changed its UTC offset (time
    zone transitions fall on whole seconds)."""
    offset_after = after.astimezone(zone).utcoffset()
    low, high = floor(before.timestamp()), ceil(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)
