"""SLA due times on working calendars: worked examples, then properties that hold for any start."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.services.calendar import (
    MIDNIGHT,
    Calendar,
    add_working_time,
    validate_calendar,
    working_time_between,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = range(5)

ROUND_THE_CLOCK = Calendar.round_the_clock()
PARIS_OFFICE = Calendar.office_hours("Europe/Paris", time(9), time(17), holidays_country="FR")
NEW_YORK_OFFICE = Calendar.office_hours(
    "America/New_York", time(9), time(17), holidays_country="US"
)
# Mornings and afternoons with a long lunch in between: 7 hours a day.
PARIS_LUNCH_BREAK = Calendar(
    timezone="Europe/Paris",
    working_hours=tuple(
        (weekday, start, end)
        for weekday in WEEKDAYS
        for start, end in ((time(9), time(12)), (time(14), time(18)))
    ),
    holidays_country="FR",
)
SYDNEY_LUNCH_BREAK = Calendar(
    timezone="Australia/Sydney",
    working_hours=tuple(
        (weekday, start, end)
        for weekday in WEEKDAYS
        for start, end in ((time(8, 30), time(12)), (time(13), time(17, 30)))
    ),
    holidays_country="AU",
    holidays_subdivision="NSW",
)
LONDON_WEEKENDS = Calendar.office_hours(
    "Europe/London", time(10), time(16), weekdays=(5, 6), holidays_country="GB"
)
# Every night 01:00-05:00: the hours that a change of clocks shortens or lengthens.
PARIS_NIGHTS = Calendar.office_hours("Europe/Paris", time(1), time(5), weekdays=range(7))


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def new_york(*args) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def hours(count: float) -> timedelta:
    return timedelta(hours=count)


# --- Worked examples ----------------------------------------------------------------------------

WORKED_EXAMPLES = [
    # One hour on Friday afternoon, the other when Monday opens.
    pytest.param(PARIS_OFFICE, paris(2027, 1, 15, 16), hours(2), paris(2027, 1, 18, 10), id="fri"),
    # A Saturday start waits for Monday's opening.
    pytest.param(PARIS_OFFICE, paris(2027, 1, 16, 11), hours(1), paris(2027, 1, 18, 10), id="sat"),
    # Landing exactly at closing time stays at closing time.
    pytest.param(
        PARIS_OFFICE, paris(2027, 1, 19, 16), hours(1), paris(2027, 1, 19, 17), id="closing"
    ),
    # Before opening, counting starts at 09:00.
    pytest.param(
        PARIS_OFFICE, paris(2027, 1, 18, 7, 30), hours(0.5), paris(2027, 1, 18, 9, 30), id="early"
    ),
    # Five business days from a Wednesday morning: the next Wednesday, same time.
    pytest.param(
        PARIS_OFFICE,
        paris(2027, 1, 20, 10),
        5 * PARIS_OFFICE.business_day,
        paris(2027, 1, 27, 10),
        id="five-days",
    ),
    # Wednesday 14 July (Bastille Day) is skipped.
    pytest.param(
        PARIS_OFFICE, paris(2027, 7, 13, 16), hours(2), paris(2027, 7, 15, 10), id="14-july"
    ),
    # Friday 1 May 2026 is skipped, and so is the weekend after it.
    pytest.param(PARIS_OFFICE, paris(2026, 4, 30, 16), hours(2), paris(2026, 5, 4, 10), id="1-may"),
    # Starting on a holiday waits for the next working day.
    pytest.param(
        PARIS_OFFICE, paris(2027, 7, 14, 10), hours(1), paris(2027, 7, 15, 10), id="on-holiday"
    ),
    # The clocks go forward on Sunday 28 March and Easter Monday is off: the office still opens
    # at 09:00 on the wall, now summer time.
    pytest.param(
        PARIS_OFFICE, paris(2027, 3, 26, 16), hours(2), paris(2027, 3, 30, 10), id="spring-easter"
    ),
    # The start may be given in any zone: 10:00 in New York is 16:00 in Paris.
    pytest.param(
        PARIS_OFFICE, new_york(2027, 1, 15, 10), hours(2), paris(2027, 1, 18, 10), id="any-zone"
    ),
    # New York falls back on Sunday 7 November: Monday opens at 09:00 standard time.
    pytest.param(
        NEW_YORK_OFFICE,
        new_york(2027, 11, 5, 16),
        hours(2),
        new_york(2027, 11, 8, 10),
        id="ny-fall-back",
    ),
    # Thanksgiving (Thursday 25 November) is skipped.
    pytest.param(
        NEW_YORK_OFFICE,
        new_york(2027, 11, 24, 16),
        hours(2),
        new_york(2027, 11, 26, 10),
        id="thanksgiving",
    ),
    # Lunch breaks: the clock stops from 12:00 to 14:00.
    pytest.param(
        PARIS_LUNCH_BREAK,
        paris(2027, 1, 18, 11, 30),
        hours(1),
        paris(2027, 1, 18, 14, 30),
        id="lunch-break",
    ),
    # Landing at the start of lunch stays there.
    pytest.param(
        PARIS_LUNCH_BREAK,
        paris(2027, 1, 18, 11),
        hours(1),
        paris(2027, 1, 18, 12),
        id="lands-at-lunch",
    ),
    # Starting during lunch waits for the afternoon.
    pytest.param(
        PARIS_LUNCH_BREAK,
        paris(2027, 1, 18, 12, 30),
        hours(1),
        paris(2027, 1, 18, 15),
        id="starts-at-lunch",
    ),
    # The last hour of Friday afternoon, then Monday morning.
    pytest.param(
        PARIS_LUNCH_BREAK,
        paris(2027, 1, 22, 17),
        hours(2),
        paris(2027, 1, 25, 10),
        id="lunch-calendar-weekend",
    ),
    # Round the clock, 12 real hours across the spring-forward night show 13 on the wall...
    pytest.param(
        Calendar.round_the_clock("Europe/Paris"),
        paris(2027, 3, 27, 22),
        hours(12),
        paris(2027, 3, 28, 11),
        id="24/7-spring-forward",
    ),
    # ... and across New York's fall-back night, 11.
    pytest.param(
        ROUND_THE_CLOCK,
        new_york(2027, 11, 6, 22),
        hours(12),
        new_york(2027, 11, 7, 9),
        id="24/7-fall-back",
    ),
    # The night the clocks go forward, 01:00-05:00 is three real hours long.
    pytest.param(
        PARIS_NIGHTS,
        paris(2027, 3, 28, 1),
        hours(3),
        paris(2027, 3, 28, 5),
        id="night-spring-forward",
    ),
    # The night they go back, five.
    pytest.param(
        PARIS_NIGHTS, paris(2027, 10, 31, 1), hours(5), paris(2027, 10, 31, 5), id="night-fall-back"
    ),
]


@pytest.mark.parametrize(("calendar", "start", "amount", "due"), WORKED_EXAMPLES)
def test_due_time_worked_examples(calendar, start, amount, due):
    result = add_working_time(start, amount, calendar)

    assert result == due
    assert result.tzinfo is UTC
    assert working_time_between(start, result, calendar) == amount


def test_adding_nothing_returns_the_start_even_outside_working_time():
    saturday = paris(2027, 1, 16, 11)

    result = add_working_time(saturday, timedelta(0), PARIS_OFFICE)

    assert result == saturday
    assert result.tzinfo is UTC


def test_a_range_may_end_at_midnight():
    evenings_and_nights = Calendar(working_hours=((0, time(20), MIDNIGHT), (1, MIDNIGHT, time(4))))
    monday_evening = datetime(2027, 1, 18, 20, tzinfo=UTC)

    assert add_working_time(monday_evening, hours(6), evenings_and_nights) == datetime(
        2027, 1, 19, 2, tzinfo=UTC
    )
    assert add_working_time(monday_evening, hours(4), evenings_and_nights) == datetime(
        2027, 1, 19, tzinfo=UTC
    )


def test_a_whole_day_calendar_skips_holidays_as_whole_local_days():
    every_day_but_holidays = Calendar.office_hours(
        "Europe/Paris", MIDNIGHT, MIDNIGHT, weekdays=range(7), holidays_country="FR"
    )

    due = add_working_time(paris(2027, 7, 13, 12), hours(24), every_day_but_holidays)

    assert due == paris(2027, 7, 15, 12)


@pytest.mark.parametrize(
    ("calendar", "day", "working_time"),
    [
        pytest.param(PARIS_NIGHTS, paris(2027, 1, 17), hours(4), id="ordinary-night"),
        pytest.param(PARIS_NIGHTS, paris(2027, 3, 28), hours(3), id="spring-forward"),
        pytest.param(PARIS_NIGHTS, paris(2027, 10, 31), hours(5), id="fall-back"),
        # Opening at 02:30, a time the clock skips, opens when it jumps to 03:00.
        pytest.param(
            Calendar.office_hours("Europe/Paris", time(2, 30), time(4), weekdays=range(7)),
            paris(2027, 3, 28),
            hours(1),
            id="opens-in-skipped-hour",
        ),
        # 02:30 and 03:00 on the wall, counted from the first 02:30 (summer time) to 03:00
        # (winter time): one and a half real hours.
        pytest.param(
            Calendar.office_hours("Europe/Paris", time(2, 30), time(3), weekdays=range(7)),
            paris(2027, 10, 31),
            hours(1.5),
            id="opens-in-repeated-hour",
        ),
        pytest.param(PARIS_OFFICE, paris(2027, 7, 14), timedelta(0), id="holiday"),
        pytest.param(
            LONDON_WEEKENDS,
            datetime(2027, 1, 18, tzinfo=UTC),
            timedelta(0),
            id="weekend-calendar-on-monday",
        ),
    ],
)
def test_working_time_in_one_day_counts_real_elapsed_time(calendar, day, working_time):
    day_after = day + timedelta(days=1)  # wall-clock arithmetic: the next local midnight

    assert working_time_between(day, day_after, calendar) == working_time


SANTIAGO = ZoneInfo("America/Santiago")
APIA = ZoneInfo("Pacific/Apia")


@pytest.mark.parametrize(
    ("calendar", "start", "end", "working_time"),
    [
        # Santiago's clocks jump from 24:00 to 01:00 on Saturday 5 September 2026: 22:00-24:00
        # closes at the jump, after two hours...
        pytest.param(
            Calendar.office_hours("America/Santiago", time(22), MIDNIGHT, weekdays=range(7)),
            datetime(2026, 9, 5, 12, tzinfo=SANTIAGO),
            datetime(2026, 9, 6, 12, tzinfo=SANTIAGO),
            hours(2),
            id="santiago-forward-at-midnight",
        ),
        # ... and 00:00-02:00 the next day opens at the jump: one hour.
        pytest.param(
            Calendar.office_hours("America/Santiago", MIDNIGHT, time(2), weekdays=range(7)),
            datetime(2026, 9, 5, 12, tzinfo=SANTIAGO),
            datetime(2026, 9, 6, 12, tzinfo=SANTIAGO),
            hours(1),
            id="santiago-opens-at-jump",
        ),
        # Going back from 24:00 to 23:00 on 4 April 2026, 22:00-24:00 lasts three hours.
        pytest.param(
            Calendar.office_hours("America/Santiago", time(22), MIDNIGHT, weekdays=range(7)),
            datetime(2026, 4, 4, 12, tzinfo=SANTIAGO),
            datetime(2026, 4, 5, 12, tzinfo=SANTIAGO),
            hours(3),
            id="santiago-back-at-midnight",
        ),
        # Samoa skipped Friday 30 December 2011 altogether: it has no working time.
        pytest.param(
            Calendar.office_hours("Pacific/Apia", time(9), time(17), weekdays=range(7)),
            datetime(2011, 12, 29, 12, tzinfo=APIA),
            datetime(2011, 12, 31, 12, tzinfo=APIA),
            hours(5 + 3),
            id="skipped-day",
        ),
    ],
)
def test_clock_changes_at_midnight_and_skipped_days_count_real_time(
    calendar, start, end, working_time
):
    assert working_time_between(start, end, calendar) == working_time
    assert add_working_time(start, working_time, calendar) <= end


def test_working_time_between_a_later_start_and_an_earlier_end_is_zero():
    assert working_time_between(paris(2027, 1, 19, 12), paris(2027, 1, 18, 12), PARIS_OFFICE) == (
        timedelta(0)
    )


@pytest.mark.parametrize(
    ("calendar", "business_day"),
    [
        (ROUND_THE_CLOCK, hours(24)),
        (PARIS_OFFICE, hours(8)),
        (PARIS_LUNCH_BREAK, hours(7)),
        # Friday is shorter: a business day is the longest day's hours.
        (
            Calendar(
                working_hours=(
                    *((weekday, time(9), time(17)) for weekday in range(4)),
                    (4, time(9), time(12)),
                )
            ),
            hours(8),
        ),
        (Calendar.office_hours("UTC", MIDNIGHT, MIDNIGHT), hours(24)),
    ],
)
def test_business_day_is_the_longest_days_working_hours(calendar, business_day):
    assert calendar.business_day == business_day


def test_negative_amounts_and_naive_starts_are_refused():
    with pytest.raises(ValueError, match="negative"):
        add_working_time(paris(2027, 1, 18, 10), -hours(1), PARIS_OFFICE)
    with pytest.raises(ValueError, match="no time zone"):
        add_working_time(datetime(2027, 1, 18, 10), hours(1), PARIS_OFFICE)  # noqa: DTZ001
    with pytest.raises(ValueError, match="no time zone"):
        working_time_between(paris(2027, 1, 18), datetime(2027, 1, 19), PARIS_OFFICE)  # noqa: DTZ001


def test_an_unusable_calendar_is_refused_rather_than_searched_for_ever():
    never_open = Calendar(working_hours=((0, time(9), time(9)),))

    with pytest.raises(ValueError, match="no working time at all"):
        add_working_time(paris(2027, 1, 18, 10), hours(1), never_open)


def test_an_amount_beyond_twenty_years_of_working_time_is_refused():
    with pytest.raises(ValueError, match="20 years"):
        add_working_time(paris(2027, 1, 18, 10), timedelta(days=366 * 20), PARIS_OFFICE)


@pytest.mark.parametrize(
    ("calendar", "problem"),
    [
        (Calendar(timezone="Mars/Olympus"), "'Mars/Olympus' is not a time zone"),
        (Calendar(timezone=""), "'' is not a time zone"),
        (
            Calendar.office_hours("UTC", time(9), time(17), holidays_country="XX"),
            "'XX' is not a country",
        ),
        (
            Calendar(
                working_hours=((0, time(9), time(17)),),
                holidays_country="FR",
                holidays_subdivision="ZZ",
            ),
            "'ZZ' is not a subdivision of 'FR'",
        ),
        (Calendar(holidays_subdivision="NSW"), "needs a holiday country"),
        (Calendar(holidays_country="FR"), "round-the-clock calendar never stops"),
        (
            Calendar(working_hours=((0, time(17), time(9)), (1, time(9), time(17)))),
            "Monday 17:00-09:00 should start before they end",
        ),
        (
            Calendar(working_hours=((2, time(9), time(13)), (2, time(12), time(17)))),
            "Wednesday 09:00-13:00 and Wednesday 12:00-17:00 overlap",
        ),
        (
            Calendar(working_hours=((2, time(20), MIDNIGHT), (2, time(22), time(23)))),
            "overlap",
        ),
        (Calendar(working_hours=((7, time(9), time(17)),)), "weekday 7 should be 0 (Monday)"),
        (
            Calendar(working_hours=((0, time(9, tzinfo=UTC), time(17)),)),
            "without a time zone",
        ),
        (Calendar(working_hours=((0, "09:00", "17:00"),)), "should be times of day"),
        (Calendar(working_hours=((0, time(9)),)), "should be (weekday, start, end)"),
        (Calendar(working_hours=((0, time(9), time(9)),)), "no working time at all"),
    ],
)
def test_validate_calendar_names_each_problem(calendar, problem):
    assert any(problem in found for found in validate_calendar(calendar)), validate_calendar(
        calendar
    )


@pytest.mark.parametrize(
    "calendar",
    [
        ROUND_THE_CLOCK,
        PARIS_OFFICE,
        NEW_YORK_OFFICE,
        PARIS_LUNCH_BREAK,
        SYDNEY_LUNCH_BREAK,
        LONDON_WEEKENDS,
        PARIS_NIGHTS,
        Calendar(working_hours=((0, time(12), time(17)), (0, time(9), time(12)))),
    ],
)
def test_validate_calendar_accepts_sound_calendars(calendar):
    assert validate_calendar(calendar) == []


# --- Properties ---------------------------------------------------------------------------------

CALENDARS = [ROUND_THE_CLOCK, PARIS_OFFICE, NEW_YORK_OFFICE, SYDNEY_LUNCH_BREAK, LONDON_WEEKENDS]
START_ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "Europe/Paris",
        "America/New_York",
        "Australia/Sydney",
        "Asia/Kolkata",
        "Pacific/Auckland",
    )
]
MOST_WORKING_TIME = 40 * 8  # hours: 40 business days of the longest calendar here

moments = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
    max_value=datetime(2028, 12, 31, 23, 59),  # noqa: DTZ001
    timezones=st.sampled_from(START_ZONES),
)
# Whole hours as well as minutes, so that starts and results often fall exactly on an opening
# or a closing time.
starts = st.one_of(
    moments.map(lambda moment: moment.replace(minute=0, second=0, microsecond=0)),
    moments.map(lambda moment: moment.replace(second=0, microsecond=0)),
)
durations = st.one_of(
    st.integers(0, MOST_WORKING_TIME).map(lambda count: timedelta(hours=count)),
    st.integers(0, MOST_WORKING_TIME * 60).map(lambda count: timedelta(minutes=count)),
)
calendars = st.sampled_from(CALENDARS)
properties = settings(deadline=None, max_examples=150)


def is_holiday(moment: datetime, calendar: Calendar) -> bool:
    day = moment.astimezone(ZoneInfo(calendar.timezone)).date()
    return calendar.holidays_country is not None and day in holidays.country_holidays(
        calendar.holidays_country, subdiv=calendar.holidays_subdivision, years=day.year
    )


def is_working_time_up_to(moment: datetime, calendar: Calendar) -> bool:
    """Whether the clock was running just before ``moment``: in working time, or at a closing
    time (these calendars' hours are all well clear of midnight and of clock changes)."""
    if calendar.is_round_the_clock:
        return True
    local = moment.astimezone(ZoneInfo(calendar.timezone))
    return not is_holiday(moment, calendar) and any(
        weekday == local.weekday() and start < local.time() <= end
        for weekday, start, end in calendar.working_hours
    )


@properties
@given(calendars, starts, durations)
def test_a_due_time_is_never_before_the_start_nor_in_a_closed_period(calendar, start, amount):
    due = add_working_time(start, amount, calendar)

    assert due >= start
    if amount:
        assert is_working_time_up_to(due, calendar)
        assert not is_holiday(due, calendar)


@properties
@given(calendars, starts, durations, durations)
def test_more_working_time_is_never_due_sooner(calendar, start, amount, other):
    shorter, longer = sorted((amount, other))

    assert add_working_time(start, shorter, calendar) <= add_working_time(start, longer, calendar)


@properties
@given(calendars, starts, durations, durations)
def test_adding_two_amounts_in_turn_equals_adding_their_sum(calendar, start, first, second):
    in_turn = add_working_time(add_working_time(start, first, calendar), second, calendar)

    assert in_turn == add_working_time(start, first + second, calendar)


@properties
@given(calendars, starts, durations)
def test_working_time_between_undoes_adding_it(calendar, start, amount):
    due = add_working_time(start, amount, calendar)

    assert working_time_between(start, due, calendar) == amount


@properties
@given(calendars, starts, st.integers(0, 90 * 24 * 60).map(lambda count: timedelta(minutes=count)))
def test_adding_the_working_time_before_an_end_is_due_by_that_end(calendar, start, elapsed):
    end = start.astimezone(UTC) + elapsed  # in UTC: wall-clock arithmetic would drop `fold`

    assert add_working_time(start, working_time_between(start, end, calendar), calendar) <= end


@properties
@given(starts, durations)
def test_round_the_clock_adds_real_elapsed_time_in_any_zone(start, amount):
    calendar = Calendar.round_the_clock("Europe/Paris")

    assert add_working_time(start, amount, calendar) - start == amount
