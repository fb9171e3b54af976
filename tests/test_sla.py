"""Service levels: each ticket's deadlines follow its policy on its team's calendar, move when
what they depend on changes, and stand still while the ticket awaits the reporter."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    Actor,
    AuditEntry,
    Category,
    DurationUnit,
    EscalationLevel,
    EventKind,
    OutboxMessage,
    Role,
    Severity,
    SlaEscalation,
    SlaPolicy,
    SlaState,
    StaffUser,
    Status,
    Team,
    Ticket,
    Timer,
)
from portal.services import casework, sla
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


def add_round_the_clock_policy(*, first_response_hours: int, **scope) -> None:
    """A policy for high severity (narrowed by ``scope``: category, team_id) that runs round the
    clock, with a first response within ``first_response_hours``."""
    db.session.add(
        SlaPolicy(
            severity=Severity.HIGH,
            business_hours=False,
            first_response_amount=first_response_hours,
            first_response_unit=DurationUnit.HOURS,
            next_update_amount=1,
            next_update_unit=DurationUnit.BUSINESS_DAYS,
            resolution_amount=3,
            resolution_unit=DurationUnit.BUSINESS_DAYS,
            **scope,
        )
    )


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
        add_round_the_clock_policy(first_response_hours=2, category=Category.PRIVACY)
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


def test_a_report_is_at_risk_from_three_quarters_of_its_first_running_timer(app, team):
    with app.app_context():
        ticket = file(app, paris(2026, 11, 30, 9, 0), reporter_severity="high")  # a Monday
        # 6 of the first response's 8 working hours; the decision's would be Thursday 15:00.
        assert ticket.at_risk_at == paris(2026, 11, 30, 15, 0)

        casework.reply(
            ticket,
            "We are looking into it.",
            staff=agent(team),
            now=paris(2026, 11, 30, 11, 0),
            lost_link_url=lambda: "https://redress.test/reports/lost-link",
        )

        # The next update is due Wednesday 11:00; 12 of its 16 working hours: Tuesday 15:00.
        assert ticket.at_risk_at == paris(2026, 12, 1, 15, 0)

        ask_the_reporter(ticket, staff=agent(team), now=paris(2026, 11, 30, 12, 0))
        assert ticket.at_risk_at is None  # no clock runs while we wait


def ask_the_reporter(ticket, *, staff: StaffUser, now: datetime) -> None:
    casework.request_information(
        ticket,
        "Which app were you using?",
        staff=staff,
        now=now,
        lost_link_url=lambda: "https://redress.test/reports/lost-link",
    )


def tickets_in(state: SlaState, now: datetime) -> list[int]:
    return db.session.scalars(
        sa.select(Ticket.id).where(sla.in_state(state, now)).order_by(Ticket.id)
    ).all()


def test_a_reports_service_level_state_follows_the_time(app, team):
    with app.app_context():
        ticket = file(app, paris(2026, 11, 27, 16, 0), reporter_severity="high")  # a Friday
        waiting = file(app, paris(2026, 11, 27, 16, 0), reporter_severity="high")
        ask_the_reporter(waiting, staff=agent(team), now=paris(2026, 11, 27, 16, 5))
        db.session.flush()
        # Due Monday 16:00; at risk after 6 of its 8 working hours: Monday 14:00.
        expected = {
            paris(2026, 11, 30, 13, 59): SlaState.ON_TIME,
            paris(2026, 11, 30, 14, 0): SlaState.AT_RISK,
            paris(2026, 11, 30, 15, 59): SlaState.AT_RISK,
            paris(2026, 11, 30, 16, 0): SlaState.BREACHED,
        }

        for moment, state in expected.items():
            assert {other: tickets_in(other, moment) for other in SlaState} == {
                other: [ticket.id] if other is state else [] for other in SlaState
            }, moment


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


# -- the sweep ----------------------------------------------------------------------------------


def steps_taken(ticket) -> list[tuple[str, str]]:
    return [
        (row.timer.value, row.level.value)
        for row in db.session.scalars(
            sa.select(SlaEscalation)
            .where(SlaEscalation.ticket_id == ticket.id)
            .order_by(SlaEscalation.id)
        )
    ]


def mail_to(address: str) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(OutboxMessage.subject).where(OutboxMessage.to_address == address)
        )
    )


@pytest.fixture
def owner(app, team):
    """An owner of Trust and Safety, and an administrator."""
    make_staff(app, "admin@example.org", roles=(Role.ADMIN,), name="Ada Admin")
    return make_staff(
        app,
        "owner@example.org",
        roles=(Role.OWNER,),
        name="Olu Owner",
        team_slugs=("trust-safety",),
    )


def test_the_sweep_warns_then_escalates_each_step_once_at_its_time(app, team, owner):
    with app.app_context():
        created = paris(2026, 11, 28, 10, 0)  # a Saturday: critical runs round the clock
        ticket = file(app, created, reporter_severity="critical")
        casework.assign(ticket, agent(team), staff=agent(team), now=created)
        db.session.commit()
        # First response within 1 hour: warned at 45 minutes, breached at 60, admins at 90.
        assert ticket.next_escalation_at == created + timedelta(minutes=45)

        assert sla.sweep(now=created + timedelta(minutes=44)) == created + timedelta(minutes=45)
        assert steps_taken(ticket) == []

        sla.sweep(now=created + timedelta(minutes=46))
        sla.sweep(now=created + timedelta(minutes=46))  # again: nothing new
        db.session.commit()
        assert steps_taken(ticket) == [("first_response", "warning")]
        assert len(mail_to("agent@example.org")) == 1

        sla.sweep(now=created + timedelta(minutes=61))
        db.session.commit()
        assert ticket.breached_at == created + timedelta(minutes=61)
        assert len(mail_to("owner@example.org")) == 1

        sla.sweep(now=created + timedelta(minutes=91))
        db.session.commit()
        assert steps_taken(ticket) == [
            ("first_response", "warning"),
            ("first_response", "breach"),
            ("first_response", "admins"),
        ]
        assert len(mail_to("admin@example.org")) == 1
        kinds = [event.kind for event in ticket.events]
        assert kinds.count(EventKind.SLA_WARNING) == kinds.count(EventKind.SLA_BREACHED) == 1
        audited = db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.object_id == ticket.reference)
        ).all()
        assert "ticket.sla_breached" in audited


def test_a_clock_down_for_hours_takes_every_overdue_step_once_in_one_sweep(app, team, owner):
    with app.app_context():
        created = paris(2026, 11, 28, 10, 0)
        ticket = file(app, created, reporter_severity="critical")
        db.session.commit()

        sla.sweep(now=created + timedelta(hours=5))
        sla.sweep(now=created + timedelta(hours=5, minutes=1))
        db.session.commit()

        assert steps_taken(ticket) == [
            ("first_response", "warning"),
            ("first_response", "breach"),
            ("first_response", "admins"),
        ]
        # Nobody was assigned: the warning went to the team's owner, like the breach.
        assert len(mail_to("owner@example.org")) == 2


def test_a_step_already_taken_by_another_clock_is_not_taken_again(app, team, owner):
    with app.app_context():
        created = paris(2026, 11, 28, 10, 0)
        ticket = file(app, created, reporter_severity="critical")
        db.session.commit()
        # Another clock took the warning and crashed before moving next_escalation_at on.
        db.session.add(
            SlaEscalation(
                ticket_id=ticket.id,
                timer=Timer.FIRST_RESPONSE,
                deadline=ticket.first_response_due_at,
                level=EscalationLevel.WARNING,
            )
        )
        db.session.commit()

        assert (
            sla.take_step(
                ticket,
                (Timer.FIRST_RESPONSE, ticket.first_response_due_at, EscalationLevel.WARNING),
                now=created + timedelta(minutes=50),
            )
            is False
        )
        db.session.commit()
        assert steps_taken(ticket) == [("first_response", "warning")]
        assert mail_to("owner@example.org") == []


def test_after_a_long_wait_the_warning_comes_with_a_quarter_of_the_time_left(app, team, owner):
    with app.app_context():
        ticket = file(app, paris(2026, 11, 30, 9, 0), reporter_severity="high")  # a Monday
        ask_the_reporter(ticket, staff=agent(team), now=paris(2026, 11, 30, 9, 30))
        # Three weeks later the reporter answers: the clocks restart with the time that was left.
        add_information(ticket, text="The mobile app.", files=[], now=paris(2026, 12, 21, 10, 0))
        db.session.flush()

        # The next update had all its 16 working hours left: Wednesday 10:00.
        assert ticket.next_update_due_at == paris(2026, 12, 23, 10, 0)
        # At risk with a quarter of them left (4 hours), not at once for the time spent waiting.
        assert ticket.at_risk_at == paris(2026, 12, 22, 14, 0)
        assert ticket.next_escalation_at == ticket.at_risk_at
        assert sla.sweep(now=paris(2026, 12, 21, 10, 1)) == ticket.at_risk_at
        assert steps_taken(ticket) == []

        sla.sweep(now=paris(2026, 12, 24, 10, 0))  # the administrators: 8 working hours late

        assert steps_taken(ticket) == [
            ("next_update", "warning"),
            ("next_update", "breach"),
            ("next_update", "admins"),
        ]


def test_an_appeal_owes_a_first_response_and_a_decision_counted_from_the_appeal(app, team):
    with app.app_context():
        ticket = file(app, paris(2026, 11, 2, 9, 0), reporter_severity="high")  # a Monday
        casework.reply(
            ticket,
            "We are looking into it.",
            staff=agent(team),
            now=paris(2026, 11, 2, 10, 0),
            lost_link_url=lambda: "https://redress.test/reports/lost-link",
        )
        ticket.status = Status.DECIDED
        ticket.decided_at = paris(2026, 11, 5, 12, 0)
        sla.status_changed(ticket, Status.INVESTIGATING, now=ticket.decided_at)
        assert ticket.next_due_at is None

        appealed = paris(2026, 11, 30, 14, 0)  # a Monday, weeks later
        sla.start_appeal_clock(ticket, now=appealed)
        ticket.status = Status.APPEALED
        sla.status_changed(ticket, Status.DECIDED, now=appealed)

        # The built-in appeal terms: 2 working days to a first response, 10 to a decision.
        assert ticket.first_response_due_at == paris(2026, 12, 2, 14, 0)
        assert ticket.resolve_due_at == paris(2026, 12, 14, 14, 0)
        assert ticket.next_due_at == ticket.first_response_due_at
        assert ticket.next_update_due_at is None


def test_a_reply_rearms_the_next_update_which_warns_again_for_its_new_deadline(app, team, owner):
    with app.app_context():
        created = paris(2026, 11, 28, 10, 0)
        ticket = file(app, created, reporter_severity="critical")
        lost_link = lambda: "https://redress.test/reports/lost-link"  # noqa: E731
        casework.reply(ticket, "On it.", staff=agent(team), now=created, lost_link_url=lost_link)
        db.session.commit()
        sla.sweep(now=created + timedelta(hours=3, minutes=1))  # 75 % of the 4-hour update
        casework.reply(
            ticket,
            "Still on it.",
            staff=agent(team),
            now=created + timedelta(hours=3, minutes=5),
            lost_link_url=lost_link,
        )
        db.session.commit()

        sla.sweep(now=created + timedelta(hours=6, minutes=6))
        db.session.commit()

        assert steps_taken(ticket) == [("next_update", "warning"), ("next_update", "warning")]


def test_nothing_escalates_while_the_ticket_awaits_the_reporter(app, team, owner):
    with app.app_context():
        created = paris(2026, 11, 28, 10, 0)
        ticket = file(app, created, reporter_severity="critical")
        casework.request_information(
            ticket,
            "Which app?",
            staff=agent(team),
            now=created + timedelta(minutes=5),
            lost_link_url=lambda: "https://redress.test/reports/lost-link",
        )
        db.session.commit()

        assert ticket.next_escalation_at is None
        assert sla.sweep(now=created + timedelta(days=3)) is None
        assert steps_taken(ticket) == []


def test_a_first_response_deadline_once_met_is_not_moved_by_a_later_wait(app, team):
    with app.app_context():
        ticket = file(app, paris(2026, 11, 30, 9, 0), reporter_severity="high")  # a Monday
        due = ticket.first_response_due_at
        # Answered late, by asking the reporter a question, who answers a day later.
        ask_the_reporter(ticket, staff=agent(team), now=paris(2026, 12, 1, 10, 0))
        add_information(ticket, text="The mobile app.", files=[], now=paris(2026, 12, 2, 10, 0))

        assert ticket.first_response_due_at == due == paris(2026, 11, 30, 17, 0)
        assert ticket.first_response_at > ticket.first_response_due_at  # still missed
        # The wait (Tuesday 10:00 to Wednesday 10:00) still counts here: Friday 17:00 to Monday.
        assert ticket.resolve_due_at == paris(2026, 12, 7, 17, 0)


def test_a_reply_during_the_wait_counts_only_the_rest_of_the_wait_for_the_next_update(app, team):
    with app.app_context():
        ticket = file(app, paris(2026, 11, 30, 9, 0), reporter_severity="high")  # Monday
        lost_link = lambda: "https://redress.test/reports/lost-link"  # noqa: E731
        casework.request_information(
            ticket,
            "Which app?",
            staff=agent(team),
            now=paris(2026, 11, 30, 10, 0),
            lost_link_url=lost_link,
        )
        # Wednesday 10:00, still waiting: a reply restarts the next-update timer.
        casework.reply(
            ticket,
            "Any news?",
            staff=agent(team),
            now=paris(2026, 12, 2, 10, 0),
            lost_link_url=lost_link,
        )

        # Thursday 10:00 the reporter answers: one working day of the wait came after the reply.
        add_information(ticket, text="The mobile app.", files=[], now=paris(2026, 12, 3, 10, 0))

        assert ticket.next_update_due_at == paris(2026, 12, 7, 10, 0)


def test_a_team_policy_applies_as_soon_as_the_report_is_sent_to_that_team(app, team):
    with app.app_context():
        new_york = Team(slug="new-york", name="New York", timezone="America/New_York")
        db.session.add(new_york)
        db.session.flush()
        add_round_the_clock_policy(first_response_hours=1, team_id=new_york.id)
        created = paris(2026, 11, 30, 16, 0)
        ticket = file(app, created, reporter_severity="high")

        casework.move_to_team(ticket, new_york, staff=agent(team), now=created)

        assert ticket.first_response_due_at == created + timedelta(hours=1)


def test_a_team_calendar_that_cannot_be_used_does_not_stop_reports(app, team):
    with app.app_context():
        trust = db.session.scalar(sa.select(Team).where(Team.slug == "trust-safety"))
        trust.holidays_country = "Atlantis"
        db.session.commit()

        ticket = file(app, paris(2026, 11, 30, 9, 0), reporter_severity="high")

        assert ticket.first_response_due_at is not None


def test_flask_sla_recompute_gives_tickets_from_before_the_upgrade_their_deadlines(app, team):
    with app.app_context():
        created = paris(2026, 11, 30, 9, 0)
        ticket = file(app, created, reporter_severity="high")
        casework.reply(
            ticket,
            "Looking.",
            staff=agent(team),
            now=paris(2026, 11, 30, 11, 0),
            lost_link_url=lambda: "https://redress.test/reports/lost-link",
        )
        # As migration 0008 left a ticket that was open before it: no deadlines, no replies.
        ticket.next_due_at = ticket.next_update_due_at = ticket.first_response_at = None
        ticket.last_update_at = None
        db.session.commit()
        ticket_id = ticket.id

    result = app.test_cli_runner().invoke(args=["sla", "recompute"])

    assert result.exit_code == 0, result.output
    assert "1 open report(s)" in result.output
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        assert ticket.first_response_at == paris(2026, 11, 30, 11, 0)
        assert ticket.next_update_due_at == paris(2026, 12, 2, 11, 0)
        assert ticket.next_due_at == ticket.next_update_due_at
