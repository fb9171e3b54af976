"""``make_*`` factories with sensible defaults and keyword overrides. Callers commit."""

import random
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    AIModel,
    Category,
    ModelVersion,
    ReporterRole,
    Severity,
    StaffUser,
    Status,
    Team,
    Ticket,
    TicketKind,
)
from portal.models.enums import AI_OUTPUT_KINDS, Role
from portal.models.routing import RoutingRule, StaffLanguage, TeamMembership
from portal.models.tickets import SEVERITY_PRIORITY
from portal.services.accounts import create_user, hasher_from_config
from portal.services.tickets import ReportSubmission, submit_report
from portal.services.tokens import new_form_key


def make_registry() -> dict[str, AIModel]:
    team = Team(slug="trust-safety", name="Trust and Safety", timezone="Europe/Paris")
    aurora = AIModel(
        slug="aurora-chat",
        display_name="Aurora Chat",
        provider="Example AI Labs",
        owning_team=team,
        versions=[
            ModelVersion(version="3.0", released_on=date(2026, 9, 1)),
            ModelVersion(version="2.5", released_on=date(2026, 3, 15)),
        ],
    )
    quill = AIModel(
        slug="quill-writer",
        display_name="Quill Writer",
        provider="Northwind Models",
        versions=[ModelVersion(version="5.1", released_on=date(2026, 10, 2))],
    )
    db.session.add_all([team, aurora, quill])
    db.session.flush()
    return {"aurora-chat": aurora, "quill-writer": quill}


def make_submission(**overrides) -> ReportSubmission:
    values = {
        "kind": "harm_report",
        "reporter_role": "self",
        "output_text": "The assistant told me to mix bleach and ammonia to clean the bathroom.",
        "description": "These chemicals make a toxic gas.",
        "category": "dangerous_instructions",
        "reporter_severity": "high",
        "locale": "en",
        "timezone": "Europe/London",
    }
    values.update(overrides)
    values["kind"] = TicketKind(values["kind"])
    values["reporter_role"] = ReporterRole(values["reporter_role"])
    values["category"] = Category(values["category"])
    values["reporter_severity"] = Severity(values["reporter_severity"])
    return ReportSubmission(**values)


def make_ticket(app, *, form_key=None, now=None, **overrides):
    """Submit a report through the service; returns (ticket, tracking token). Flushes only."""
    result = submit_report(
        make_submission(**overrides),
        form_key=form_key or new_form_key(),
        secret_key=app.config["SECRET_KEY"],
        now=now or utcnow(),
        tracking_link=lambda token: f"https://redress.test/reports/track/{token}",
    )
    return result.ticket, result.tracking_token


STAFF_PASSWORD = "correct horse battery staple"


def make_staff(
    app,
    email="agent@example.org",
    roles=(Role.AGENT,),
    *,
    name="Ada Agent",
    team_slugs=(),
    languages=(),
) -> int:
    """A staff account with ``STAFF_PASSWORD``, committed (it is signed in to over HTTP next),
    member of the teams named by slug and speaking ``languages`` (locale codes)."""
    with app.app_context():
        user = create_user(
            email, name, STAFF_PASSWORD, roles, hasher=hasher_from_config(app.config)
        )
        for slug in team_slugs:
            team = db.session.scalar(sa.select(Team).where(Team.slug == slug))
            db.session.add(TeamMembership(team=team, user=user))
        db.session.add_all(StaffLanguage(user_id=user.id, locale=code) for code in languages)
        db.session.commit()
        return user.id


def make_team(slug="second-line", name="Second line", **fields) -> Team:
    """A team with no members. Flushes only."""
    team = Team(slug=slug, name=name, **fields)
    db.session.add(team)
    db.session.flush()
    return team


def route_everything_to(team_slug="trust-safety") -> RoutingRule:
    """A catch-all routing rule, so that new tickets land in that team. Flushes only."""
    team = db.session.scalar(sa.select(Team).where(Team.slug == team_slug))
    rule = RoutingRule(position=1000, name="Everything", team=team)
    db.session.add(rule)
    db.session.flush()
    return rule


# Roughly the built-in resolution times, by priority, on calendar days (for ticket_rows).
RESOLUTION = {
    4: timedelta(days=1),
    3: timedelta(days=7),
    2: timedelta(days=21),
    1: timedelta(days=42),
}
RUNNING_STATUSES = (Status.NEW, Status.TRIAGED, Status.INVESTIGATING, Status.APPEALED)


def ticket_rows(count: int, *, teams, models, versions, staff) -> list[dict]:
    """Tickets as a portal with some history holds them: most closed (about a quarter still
    open), taken by someone unless new, skewed across teams and languages, arriving every few
    minutes over about two months (three at a time in the same second). Open ones have
    deadlines as the SLA service keeps them: the resolution due some days after arrival
    (``RESOLUTION``), at risk three quarters of the way there; none runs while a ticket awaits
    its reporter, or once it is closed.

    The shares matter to PostgreSQL's choices on a table this small: with assignees drawn at
    random for closed tickets too, an agent's "unassigned" count (about 1,100 matches, just
    over the cap, 6% of the table) is cheapest as one sequential read, and the planner rightly
    takes it; on a table of production size the same count walks an index.
    """
    chance = random.Random(20_000)
    statuses, status_weights = zip(
        *[
            (Status.CLOSED, 62),
            (Status.DECIDED, 8),
            (Status.WITHDRAWN, 4),
            (Status.MERGED, 3),
            (Status.NEW, 8),
            (Status.TRIAGED, 4),
            (Status.INVESTIGATING, 6),
            (Status.AWAITING_REPORTER, 3),
            (Status.APPEALED, 2),
        ],
        strict=True,
    )
    start = datetime(2026, 9, 1, tzinfo=UTC)
    rows = []
    for number in range(count):
        version = chance.choice(versions)
        severity = chance.choices(list(Severity), [30, 45, 20, 5])[0]
        created = start + timedelta(seconds=(number // 3) * 900)
        status = chance.choices(statuses, status_weights)[0]
        # New reports mostly wait in their team's queue; later ones were taken by someone.
        unassigned = chance.random() < (0.8 if status is Status.NEW else 0.05)
        rows.append(
            {
                "reference": f"RP-{number:08d}",
                "kind": chance.choices(AI_OUTPUT_KINDS, [70, 30])[0],
                "status": status,
                "reporter_role": ReporterRole.SELF,
                "model_id": version.model_id,
                "model_version_id": version.id,
                "team_id": chance.choices(teams, [40, 30, 15, 10, 5])[0].id,
                "assignee_id": None if unassigned else chance.choice(staff).id,
                "output_text": "The output as the reporter saw it.",
                "description": f"What went wrong, number {number}.",
                "category": chance.choice(list(Category)),
                "reporter_severity": severity,
                "priority": SEVERITY_PRIORITY[severity],
                "locale": chance.choices(["en", "fr", "ar", "de"], [60, 25, 10, 5])[0],
                "timezone": "Europe/London",
                "tracking_token_hash": f"t{number:063d}",
                "submission_key_hash": f"s{number:063d}",
                "created_at": created,
                "updated_at": created,
                **_deadlines(status, created, SEVERITY_PRIORITY[severity]),
            }
        )
    return rows


def _deadlines(status: Status, created: datetime, priority: int) -> dict:
    if status is Status.AWAITING_REPORTER:
        return {"next_due_at": None, "at_risk_at": None, "sla_paused_at": created}
    if status not in RUNNING_STATUSES:
        return {"next_due_at": None, "at_risk_at": None, "sla_paused_at": None}
    due = created + RESOLUTION[priority]
    return {
        "next_due_at": due,
        "at_risk_at": created + RESOLUTION[priority] * 0.75,
        "sla_paused_at": None,
    }


def make_busy_portal(tickets: int) -> tuple[list[Team], list[AIModel], list[StaffUser]]:
    """``tickets`` tickets (``ticket_rows``) across five teams, four models of three versions
    and twelve staff, inserted in one statement. Returns (teams, models, staff); the caller
    commits."""
    teams = [Team(slug=f"team-{n}", name=f"Team {n}") for n in range(5)]
    models = [
        AIModel(
            slug=f"model-{n}",
            display_name=f"Model {n}",
            provider="Example",
            versions=[ModelVersion(version=f"{n}.{minor}") for minor in range(3)],
        )
        for n in range(4)
    ]
    staff = [
        StaffUser(email=f"staff{n}@example.org", display_name=f"Staff {n}", password_hash="-")
        for n in range(12)
    ]
    db.session.add_all([*teams, *models, *staff])
    db.session.flush()
    versions = [version for model in models for version in model.versions]
    if tickets:  # an empty list would make SQLAlchemy insert one row of defaults
        db.session.execute(
            sa.insert(Ticket),
            ticket_rows(tickets, teams=teams, models=models, versions=versions, staff=staff),
        )
    return teams, models, staff
