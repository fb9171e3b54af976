"""``make_*`` factories with sensible defaults and keyword overrides. Callers commit."""

from datetime import date

import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import AIModel, Category, ModelVersion, ReporterRole, Severity, Team, TicketKind
from portal.models.enums import Role
from portal.models.routing import RoutingRule, StaffLanguage, TeamMembership
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
        sla_targets=app.config["PORTAL_SLA_TARGETS"],
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
