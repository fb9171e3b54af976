"""Auto-assignment: a new report goes to the least busy member of its team who speaks its
language, or waits in the team's queue; disabling an account hands its reports back."""

import pytest
import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Actor, EventKind, Role, StaffUser, Status, Team, Ticket
from portal.services.accounts import disable
from portal.services.casework import assign
from tests.factories import make_staff, make_ticket, route_everything_to


@pytest.fixture
def team(app, registry):
    """Trust and Safety takes every report and assigns automatically."""
    with app.app_context():
        route_everything_to("trust-safety")
        db.session.scalar(sa.select(Team).where(Team.slug == "trust-safety")).auto_assign = True
        db.session.commit()
    return "trust-safety"


def member(app, email, *, languages=("en",), roles=(Role.AGENT,)) -> int:
    return make_staff(
        app, email=email, roles=roles, name=email, team_slugs=["trust-safety"], languages=languages
    )


def give(app, user_id: int, count: int, *, status=Status.NEW) -> None:
    """``count`` reports held by ``user_id``, in ``status``."""
    with app.app_context():
        team = db.session.scalar(sa.select(Team).where(Team.slug == "trust-safety"))
        team.auto_assign = False
        for _ in range(count):
            ticket, _token = make_ticket(app)
            assign(ticket, db.session.get(StaffUser, user_id), staff=None, now=utcnow())
            ticket.status = status
        team.auto_assign = True
        db.session.commit()


def new_report(app, **answers) -> tuple[int | None, list]:
    """Submit a report; (its assignee's id, its ASSIGNED events)."""
    with app.app_context():
        ticket, _ = make_ticket(app, **answers)
        db.session.commit()
        events = [event for event in ticket.events if event.kind is EventKind.ASSIGNED]
        return ticket.assignee_id, events


def test_the_member_with_the_fewest_open_reports_gets_the_new_one(app, team):
    busy, free = member(app, "busy@example.org"), member(app, "free@example.org")
    give(app, busy, 2)
    give(app, free, 1)
    give(app, free, 3, status=Status.CLOSED)  # finished work does not count

    assignee, [event] = new_report(app)

    assert assignee == free
    assert event.actor is Actor.SYSTEM
    assert event.detail == {"from": None, "to": free, "reason": "auto"}
    assert not event.is_public


def test_a_tie_goes_to_the_longest_standing_account(app, team):
    first, _second = member(app, "first@example.org"), member(app, "second@example.org")

    assert new_report(app)[0] == first


def test_only_members_who_speak_the_reports_language_are_chosen(app, team):
    member(app, "english@example.org", languages=("en",))
    french = member(app, "french@example.org", languages=("fr", "ar"))

    assert new_report(app, locale="fr")[0] == french


def test_disabled_members_and_members_who_do_not_work_cases_are_skipped(app, team):
    gone = member(app, "gone@example.org")
    member(app, "auditor@example.org", roles=(Role.AUDITOR,))
    owner = member(app, "owner@example.org", roles=(Role.OWNER,))
    give(app, owner, 5)
    with app.app_context():
        disable(db.session.get(StaffUser, gone), now=utcnow())
        db.session.commit()

    assert new_report(app)[0] == owner


def test_with_nobody_speaking_the_language_the_report_waits_in_the_queue(app, team):
    member(app, "english@example.org", languages=("en",))

    assert new_report(app, locale="ar") == (None, [])


def test_with_auto_assignment_switched_off_the_report_waits_in_the_queue(app, team):
    member(app, "english@example.org")
    with app.app_context():
        db.session.scalar(sa.select(Team).where(Team.slug == "trust-safety")).auto_assign = False
        db.session.commit()

    assert new_report(app) == (None, [])


def test_the_history_shows_routing_then_assignment(app, team):
    member(app, "english@example.org")

    with app.app_context():
        ticket, _ = make_ticket(app)
        db.session.commit()
        kinds = [event.kind for event in db.session.get(Ticket, ticket.id).events]

    assert kinds[-2:] == [EventKind.ROUTED, EventKind.ASSIGNED]


def test_disabling_an_account_returns_its_open_reports_to_the_queue(app, team):
    leaving = member(app, "leaving@example.org")
    give(app, leaving, 2)
    give(app, leaving, 1, status=Status.APPEALED)
    give(app, leaving, 1, status=Status.DECIDED)

    with app.app_context():
        returned = disable(db.session.get(StaffUser, leaving), now=utcnow())
        db.session.commit()
        still_held = db.session.scalars(sa.select(Ticket).where(Ticket.assignee_id == leaving))
        statuses = [ticket.status for ticket in still_held]
        events = [
            event.detail
            for ticket in returned
            for event in ticket.events
            if event.kind is EventKind.ASSIGNED and event.detail["to"] is None
        ]

    assert len(returned) == 3
    assert statuses == [Status.DECIDED]  # a decided case keeps who decided it
    assert events == [{"from": leaving, "to": None, "reason": "account_disabled"}] * 3
