"""Service levels: each ticket's deadlines follow its policy on its team's calendar, move when
what they depend on changes, and stand still while the ticket awaits the reporter."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    Actor,
    Category,
    DurationUnit,
    Severity,
    SlaPolicy,
    StaffUser,
    Status,
    Team,
)
from portal.services import casework
from portal.services.status import transition
from portal.services.tickets import add_information
from tests.factories import make_staff, make_ticket, route_everything_to

PARIS = ZoneInfo("Europe/Paris")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture
def team(app, registry):
    """Every report goes to Trust and Safety (Europe/Paris, Monday to Friday 09:00-17:00, French
    public holidays); returns the agent's id."""
    with app.app_context():
        route_everything_to("trust-safety")
        team = db.session.scalar(sa.select(Team).where(Team.slug == "trust-safety"))
        team.holidays_country = "FR"
        db.session.commit()
    return make_staff(app, team_slugs=("trust-safety",))


def file(app, when: datetime, **fields):
    ticket, _token = make_ticket(app, now=when.astimezone(UTC), **fields)
    db.session.flush()
    return ticket


def agent(user_id: int) -> StaffUser:
    return db.session.get(StaffUser, user_id)


def test_a_high_report_on_friday_afternoon_is_due_in_working_hours(app, team):
    with app.app_context():
        ticket = file(app, paris(2026, 11, 27, 16, 0), reporter_severity="high")

        # 8 working hours: Friday 16:00-17:00, then Monday 09:00-16:00.
        assert ticket.first_response_due_at == paris(2026, 11, 30, 16, 0)
        # 5 business days of 8 hours: the next Friday at the same time.
        assert ticket.resolve_due_at == paris(2026, 12, 4, 16, 0)
        assert ticket.next_due_at == ticket.first_response_due_at


def test_a_critical_report_runs_round_the_clock(app, team):
    with app.app_context():
        ticket = file(app, paris(2026, 11, 28, 23, 30), reporter_severity="critical")

        assert ticket.first_response_due_at == paris(2026, 11, 29, 0, 30)
        assert ticket.resolve_due_at == paris(2026, 11, 29, 23, 30)


def test_french_public_holidays_are_skipped(app, team):
    with app.app_context():
        # Thursday 24 December, 16:00: Christmas Day is a holiday in France.
        ticket = file(app, paris(2026, 12, 24, 16, 0), reporter_severity="high")

        assert ticket.first_response_due_at == paris(2026, 12, 28, 16, 0)


def test_raising_the_severity_brings_the_deadlines_forward(app, team):
    with app.app_context():
        created = paris(2026, 11, 27, 16, 0)
        ticket = file(app, created, reporter_severity="low")
        before = ticket.first_response_due_at

        casework.set_severity(
            ticket, Severity.CRITICAL, staff=agent(team), now=created + timedelta(minutes=5)
        )

        assert before > created + timedelta(days=5)
        assert ticket.first_response_due_at == created + timedelta(hours=1)
        assert ticket.next_due_at == ticket.first_response_due_at


def test_a_policy_for_the_category_beats_the_severitys_default(app, team):
    with app.app_context():
        db.session.add(
            SlaPolicy(
                severity=Severity.HIGH,
                category=Category.PRIVACY,
                business_hours=False,
                first_response_amount=2,
                first_response_unit=DurationUnit.HOURS,
                next_update_amount=1,
                next_update_unit=DurationUnit.BUSINESS_DAYS,
                resolution_amount=3,
                resolution_unit=DurationUnit.BUSINESS_DAYS,
            )
        )
        created = paris(2026, 11, 27, 16, 0)
        privacy = file(app, created, reporter_severity="high", category="privacy")
        other = file(app, created, reporter_severity="high", category="bias")

        assert privacy.first_response_due_at == created + timedelta(hours=2)
        assert other.first_response_due_at == paris(2026, 11, 30, 16, 0)


def test_a_reply_meets_the_first_response_and_starts_the_next_update_timer(app, team):
    with app.app_context():
        created = paris(2026, 11, 30, 9, 0)  # a Monday
        ticket = file(app, created, reporter_severity="high")

        casework.reply(
            ticket,
            "We are looking into it.",
            staff=agent(team),
            now=paris(2026, 11, 30, 11, 0),
            lost_link_url=lambda: "https://redress.test/reports/lost-link",
        )

        assert ticket.first_response_at == paris(2026, 11, 30, 11, 0)
        # Next update within 2 business days of the reply.
        assert ticket.next_update_due_at == paris(2026, 12, 2, 11, 0)
        assert ticket.next_due_at == ticket.next_update_due_at


def test_awaiting_the_reporter_stops_the_clocks_and_their_answer_restarts_them(app, team):
    with app.app_context():
        created = paris(2026, 11, 30, 9, 0)  # a Monday
        ticket = file(app, created, reporter_severity="high")
        # Five business days of 8 hours: Friday at closing time.
        assert ticket.resolve_due_at == paris(2026, 12, 4, 17, 0)

        casework.request_information(
            ticket,
            "Which app were you using?",
            staff=agent(team),
            now=paris(2026, 11, 30, 10, 0),
            lost_link_url=lambda: "https://redress.test/reports/lost-link",
        )
        assert ticket.status is Status.AWAITING_REPORTER
        assert ticket.next_due_at is None  # nothing is running while we wait

        # The reporter answers on Wednesday at 10:00: two working days (16 h) later.
        add_information(ticket, text="The mobile app.", files=[], now=paris(2026, 12, 2, 10, 0))

        assert ticket.status is Status.INVESTIGATING
        assert ticket.sla_paused_at is None
        # 16 working hours later than before: Friday 17:00 becomes Tuesday 17:00.
        assert ticket.resolve_due_at == paris(2026, 12, 8, 17, 0)
        # The next update is owed two business days after the answer, not after the question.
        assert ticket.next_update_due_at == paris(2026, 12, 4, 10, 0)
        assert ticket.next_due_at == ticket.next_update_due_at


@pytest.mark.parametrize("end", [Status.WITHDRAWN, Status.MERGED])
def test_no_clock_runs_once_a_report_is_withdrawn_or_merged(app, team, end):
    with app.app_context():
        ticket = file(app, paris(2026, 11, 30, 9, 0), reporter_severity="medium")

        transition(ticket, end, now=paris(2026, 11, 30, 10, 0), actor=Actor.REPORTER)

        assert ticket.next_due_at is None


def test_a_report_sent_to_another_team_runs_on_that_teams_calendar(app, team):
    with app.app_context():
        new_york = Team(slug="new-york", name="New York", timezone="America/New_York")
        db.session.add(new_york)
        created = paris(2026, 11, 30, 16, 0)  # 10:00 in New York
        ticket = file(app, created, reporter_severity="high")

        casework.move_to_team(ticket, new_york, staff=agent(team), now=created)

        new_york_time = ZoneInfo("America/New_York")
        # 8 working hours from 10:00 in New York: 7 on Monday, 1 on Tuesday.
        assert ticket.first_response_due_at == datetime(2026, 12, 1, 10, 0, tzinfo=new_york_time)
