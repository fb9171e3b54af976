"""Every new ticket goes to a team by the first routing rule that matches it."""

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AIModel, EventKind, RoutingRule, Team
from portal.models.enums import Category, Severity, TicketKind
from portal.services import routing
from tests.factories import make_ticket


@pytest.fixture
def teams(app, registry):
    """Two teams and three rules: safety, then one model, then everything else."""
    with app.app_context():
        safety = Team(slug="safety", name="Safety")
        quality = Team(slug="quality", name="Quality")
        fallback = Team(slug="front-desk", name="Front desk")
        db.session.add_all(
            [
                RoutingRule(
                    position=10, name="Self-harm", team=safety, category=Category.SELF_HARM
                ),
                RoutingRule(
                    position=20, name="Quill", team=quality, model_id=registry["quill-writer"]
                ),
                RoutingRule(
                    position=25,
                    name="Switched off",
                    team=quality,
                    kind=TicketKind.HARM_REPORT,
                    is_active=False,
                ),
                RoutingRule(position=30, name="Everything else", team=fallback),
            ]
        )
        db.session.commit()
    return registry


def routed(app, **answers):
    with app.app_context():
        ticket, _ = make_ticket(app, **answers)
        db.session.commit()
        [event] = [e for e in ticket.events if e.kind is EventKind.ROUTED]
        return ticket.team.slug if ticket.team else None, event


def test_the_first_matching_rule_wins_and_the_history_says_which(app, teams):
    team, event = routed(app, category="self_harm", model_id=teams["quill-writer"])

    assert team == "safety"
    assert event.body is None  # words are the history's, in each reader's language
    assert (event.detail["rule"], event.detail["position"]) == ("Self-harm", 10)
    assert not event.is_public


def test_conditions_on_the_model_are_matched(app, teams):
    assert routed(app, model_id=teams["quill-writer"])[0] == "quality"


def test_a_switched_off_rule_is_skipped_and_the_catch_all_takes_the_rest(app, teams):
    team, event = routed(app, model_id=teams["aurora-chat"])

    assert team == "front-desk"
    assert "Everything else" in event.detail["rule"]


def test_without_a_matching_rule_the_ticket_waits_without_a_team(app):
    team, event = routed(app)

    assert team is None
    assert event.detail == {"no_rule": True}


def test_a_rule_on_severity_sees_the_safety_flag(app, teams):
    with app.app_context():
        db.session.execute(
            sa.update(RoutingRule)
            .where(RoutingRule.position == 10)
            .values(category=None, severity=Severity.CRITICAL)
        )
        db.session.commit()

    # Immediate danger marks the ticket critical before it is routed.
    assert routed(app, immediate_danger=True, reporter_severity="low")[0] == "safety"
    assert routed(app, reporter_severity="critical")[0] == "safety"
    assert routed(app, reporter_severity="high")[0] == "front-desk"


def test_the_demo_rules_send_each_report_to_its_team(app):
    app.test_cli_runner().invoke(args=["demo", "load"])
    with app.app_context():
        models = {model.slug: model.id for model in db.session.scalars(sa.select(AIModel))}

    assert routed(app, category="self_harm")[0] == "trust-safety"
    assert routed(app, model_id=models["aurora-chat"])[0] == "trust-safety"
    assert routed(app, model_id=models["quill-writer"])[0] == "model-quality"


def positions(app) -> list[tuple[str, int]]:
    with app.app_context():
        return db.session.execute(
            sa.select(RoutingRule.name, RoutingRule.position).order_by(RoutingRule.position)
        ).all()


def test_a_new_rule_goes_just_above_the_default_rule_so_that_it_can_match(app, teams):
    with app.app_context():
        db.session.add(
            RoutingRule(
                position=40,
                name="After the default",
                team=db.session.scalar(sa.select(Team).where(Team.slug == "quality")),
            )
        )
        db.session.commit()
        safety = db.session.scalar(sa.select(Team).where(Team.slug == "safety"))
        routing.create_rule(
            name="Bias",
            team=safety,
            is_active=True,
            conditions=routing.RuleConditions(category=Category.BIAS),
        )
        db.session.commit()

    assert [name for name, _ in positions(app)] == [
        "Self-harm",
        "Quill",
        "Switched off",
        "Bias",
        "Everything else",
        "After the default",
    ]
    assert routed(app, category="bias")[0] == "safety"


def test_two_rules_swap_places_without_ever_sharing_a_position(app, teams):
    with app.app_context():
        rules = routing.all_rules()
        routing.swap_positions(rules[0], rules[1])
        db.session.commit()

    assert positions(app)[:2] == [("Quill", 10), ("Self-harm", 20)]
