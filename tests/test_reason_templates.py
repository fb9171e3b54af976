"""Reason templates: each team's owners keep starting points for statements of reasons, per
outcome, kind of problem and language; every change leaves an audit entry that says where a
template applies, never what it says; agents deciding a report are offered their team's
templates for its kind of problem or for any."""

import json
import re

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AuditEntry,
    Category,
    Outcome,
    ReasonTemplate,
    Role,
    RoutingRule,
    Team,
    Ticket,
)
from portal.services.reason_templates import available_for
from tests.factories import make_registry, make_team, make_ticket
from tests.test_admin import signed_in, signed_in_admin, submit, token

FIELDS = {
    "title": "Erreur corrigée",
    "outcome": "not_upheld",
    "category": "privacy",
    "locale": "fr",
    "facts": "La réponse citait une adresse publique, pas une donnée privée.",
    "measure": "Aucune mesure : la réponse reste disponible.",
    "policy_clause": "Politique d'utilisation, article 4",
}

CHECKED_OUTCOME = re.compile(r'<input checked [^>]*name="outcome" [^>]*value="(\w+)"')


@pytest.fixture
def teams(app):
    """Trust and Safety takes every report but privacy ones, which go to Second line:
    {slug: id}."""
    with app.app_context():
        make_registry()
        make_team("second-line", "Second line")
        ids = {team.slug: team.id for team in db.session.scalars(sa.select(Team))}
        db.session.add_all(
            [
                RoutingRule(
                    position=1,
                    name="Privacy",
                    team_id=ids["second-line"],
                    category=Category.PRIVACY,
                ),
                RoutingRule(position=2, name="Everything else", team_id=ids["trust-safety"]),
            ]
        )
        db.session.commit()
        return ids


@pytest.fixture
def owner(app, teams):
    """The owner of Trust and Safety."""
    return signed_in(
        app, "owner@example.org", (Role.OWNER, Role.AGENT), team_slugs=["trust-safety"]
    )


def add_template(app, team_id: int, **fields) -> int:
    """A template as an owner left it: not upheld, any kind of problem, in English, unless
    told; its id."""
    values = {
        "outcome": Outcome.NOT_UPHELD,
        "category": None,
        "locale": "en",
        "title": "Within policy",
        "facts": "The output followed the published policy.",
        "measure": "No change to the model.",
        "policy_clause": "Usage policy, section 2",
        **fields,
    }
    with app.app_context():
        template = ReasonTemplate(team_id=team_id, **values)
        db.session.add(template)
        db.session.commit()
        return template.id


def stored_templates(app) -> list[tuple]:
    with app.app_context():
        return [
            (t.team_id, t.title, t.outcome, t.category, t.locale, t.facts)
            for t in db.session.scalars(sa.select(ReasonTemplate).order_by(ReasonTemplate.id))
        ]


def audit_entries(app) -> list[AuditEntry]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEntry)
                .where(AuditEntry.object_type == "reason_template")
                .order_by(AuditEntry.seq)
            )
        )


# -- owners keep their team's templates ---------------------------------------------------------


def test_an_owner_adds_edits_and_deletes_a_template_of_their_team(app, teams, owner):
    team = teams["trust-safety"]
    listing = f"/staff/admin/teams/{team}/reason-templates"
    empty = owner.get(listing).get_data(as_text=True)

    added = submit(owner, f"{listing}/new", FIELDS)
    listed = owner.get(listing).get_data(as_text=True)
    with app.app_context():
        template_id = db.session.scalar(sa.select(ReasonTemplate.id))
    form_page = owner.get(f"/staff/admin/reason-templates/{template_id}").get_data(as_text=True)
    edited = submit(
        owner,
        f"/staff/admin/reason-templates/{template_id}",
        {**FIELDS, "outcome": "upheld", "category": "", "measure": "La réponse est corrigée.\n"},
    )
    with app.app_context():
        template = db.session.get(ReasonTemplate, template_id)
        after_edit = (template.outcome, template.category, template.measure, template.facts)
    deleted = submit(
        owner,
        f"/staff/admin/reason-templates/{template_id}/delete",
        {},
        form_page=f"/staff/admin/reason-templates/{template_id}",
    )

    assert "The team has no reason templates yet." in empty
    assert added.status_code == 303
    assert added.headers["Location"] == listing
    assert 'lang="fr" dir="ltr">Erreur corrigée</a>' in listed
    assert 'id="outcome-not_upheld">Not upheld</h2>' in listed
    assert "Privacy or personal data exposure" in listed
    assert "French" in listed
    assert FIELDS["facts"] in form_page
    assert CHECKED_OUTCOME.findall(form_page) == ["not_upheld"]
    assert edited.status_code == 303
    assert after_edit == (Outcome.UPHELD, None, "La réponse est corrigée.", FIELDS["facts"])
    assert deleted.status_code == 303
    assert "Reason template deleted." in owner.get(listing).get_data(as_text=True)
    assert stored_templates(app) == []
    created, updated, gone = audit_entries(app)
    assert [entry.action for entry in (created, updated, gone)] == [
        "reason_template.created",
        "reason_template.updated",
        "reason_template.deleted",
    ]
    assert {entry.actor_id for entry in (created, updated, gone)} == {f"staff:{owner.user_id}"}
    assert {entry.object_id for entry in (created, updated, gone)} == {str(template_id)}
    assert json.loads(created.payload) == {
        "team_id": team,
        "outcome": "not_upheld",
        "category": "privacy",
        "locale": "fr",
    }
    assert json.loads(updated.payload)["changed"] == ["outcome", "category", "measure"]
    # Where a template applies, never what it says.
    for entry in (created, updated, gone):
        for text in (FIELDS["title"], FIELDS["facts"], "corrigée", "article 4"):
            assert text not in entry.payload


def test_saving_a_template_unchanged_writes_no_audit_entry(app, teams, owner):
    template_id = add_template(app, teams["trust-safety"])
    page = f"/staff/admin/reason-templates/{template_id}"
    unchanged = {
        "title": "Within policy",
        "outcome": "not_upheld",
        "category": "",
        "locale": "en",
        "facts": "The output followed the published policy.",
        "measure": "No change to the model.",
        "policy_clause": "Usage policy, section 2",
    }

    assert submit(owner, page, unchanged).status_code == 303
    assert audit_entries(app) == []


def test_the_team_page_and_the_administration_index_link_the_templates(app, teams, owner):
    team = teams["trust-safety"]
    listing = f"/staff/admin/teams/{team}/reason-templates"

    assert f'href="{listing}"' in owner.get(f"/staff/admin/teams/{team}").get_data(as_text=True)
    index = owner.get("/staff/admin/").get_data(as_text=True)
    assert f'href="{listing}">Reason templates of Trust and Safety</a>' in index
    assert f"/staff/admin/teams/{teams['second-line']}/reason-templates" not in index


def test_an_administrator_keeps_any_teams_templates(app, teams):
    admin = signed_in_admin(app)
    listing = f"/staff/admin/teams/{teams['second-line']}/reason-templates"

    assert submit(admin, f"{listing}/new", FIELDS).status_code == 303
    assert [row[:2] for row in stored_templates(app)] == [(teams["second-line"], FIELDS["title"])]


# -- nobody else's ------------------------------------------------------------------------------


def test_an_owner_of_another_team_is_refused_each_page(app, teams, owner):
    other_team = teams["second-line"]
    template_id = add_template(app, other_team)
    before = stored_templates(app)
    any_token = token(owner, f"/staff/admin/teams/{teams['trust-safety']}/reason-templates/new")

    answers = [
        owner.get(f"/staff/admin/teams/{other_team}/reason-templates"),
        owner.get(f"/staff/admin/teams/{other_team}/reason-templates/new"),
        owner.post(
            f"/staff/admin/teams/{other_team}/reason-templates/new",
            data={"csrf_token": any_token, **FIELDS},
        ),
        owner.get(f"/staff/admin/reason-templates/{template_id}"),
        owner.post(
            f"/staff/admin/reason-templates/{template_id}",
            data={"csrf_token": any_token, **FIELDS},
        ),
        owner.post(
            f"/staff/admin/reason-templates/{template_id}/delete",
            data={"csrf_token": any_token},
        ),
    ]

    assert [answer.status_code for answer in answers] == [403] * 6
    assert stored_templates(app) == before
    assert audit_entries(app) == []


def test_an_agent_is_refused_and_a_missing_template_is_not_found(app, teams, owner):
    agent = signed_in(app, "agent@example.org", (Role.AGENT,), team_slugs=["trust-safety"])
    listing = f"/staff/admin/teams/{teams['trust-safety']}/reason-templates"

    assert agent.get(listing).status_code == 403
    assert owner.get("/staff/admin/reason-templates/9999").status_code == 404
    assert owner.get("/staff/admin/teams/9999/reason-templates").status_code == 404


def test_a_delete_without_the_form_token_is_refused(app, teams, owner):
    template_id = add_template(app, teams["trust-safety"])

    response = owner.post(f"/staff/admin/reason-templates/{template_id}/delete")

    assert response.status_code == 400
    assert len(stored_templates(app)) == 1


# -- bad answers --------------------------------------------------------------------------------


def test_missing_answers_are_explained_and_nothing_is_saved(app, teams, owner):
    new = f"/staff/admin/teams/{teams['trust-safety']}/reason-templates/new"

    response = submit(owner, new, {"category": "", "locale": "en", "facts": "  \n"})
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "<title>Error:" in page
    for message in (
        "Enter a title",
        "Choose the outcome",
        "Enter the facts relied on",
        "Enter the measure and its scope",
        "Enter the policy clause",
    ):
        assert page.count(message) == 2, message  # in the summary and on the question
    assert 'href="#outcome-0"' in page
    assert stored_templates(app) == []
    assert audit_entries(app) == []


def test_answers_out_of_bounds_are_explained_and_nothing_is_saved(app, teams, owner):
    new = f"/staff/admin/teams/{teams['trust-safety']}/reason-templates/new"
    too_long = {
        **FIELDS,
        "title": "T" * 201,
        "facts": "F" * 5_001,
        "policy_clause": "P" * 2_001,
    }
    off_the_list = {**FIELDS, "outcome": "maybe", "category": "weather", "locale": "xx"}

    long_page = submit(owner, new, too_long).get_data(as_text=True)
    listed_page = submit(owner, new, off_the_list).get_data(as_text=True)

    assert "This must be 200 characters or fewer" in long_page
    assert "This must be 5,000 characters or fewer" in long_page
    assert "This must be 2,000 characters or fewer" in long_page
    assert "T" * 201 in long_page  # the answers are kept to be shortened
    assert listed_page.count("Not a valid choice") == 2 * 3
    assert stored_templates(app) == []


def test_a_title_the_team_uses_in_that_language_is_explained(app, teams, owner):
    team = teams["trust-safety"]
    add_template(app, team, title=FIELDS["title"], locale="fr")
    other_id = add_template(app, team, title="Autre", locale="fr")
    before = stored_templates(app)

    added = submit(owner, f"/staff/admin/teams/{team}/reason-templates/new", FIELDS)
    renamed = submit(owner, f"/staff/admin/reason-templates/{other_id}", FIELDS)
    in_english = submit(
        owner, f"/staff/admin/teams/{team}/reason-templates/new", {**FIELDS, "locale": "en"}
    )

    message = "The team already has a reason template with this title in this language"
    assert message in added.get_data(as_text=True)
    assert message in renamed.get_data(as_text=True)
    assert in_english.status_code == 303
    assert stored_templates(app)[:2] == before
    assert [entry.action for entry in audit_entries(app)] == ["reason_template.created"]


# -- what agents are offered --------------------------------------------------------------------


def test_agents_are_offered_their_teams_templates_for_the_kind_of_problem_or_any(app, teams):
    trust_safety, second_line = teams["trust-safety"], teams["second-line"]
    add_template(app, trust_safety, title="Any problem, upheld", outcome=Outcome.UPHELD)
    add_template(app, trust_safety, title="Bias, not upheld", category=Category.BIAS)
    add_template(
        app, trust_safety, title="Bias, upheld", category=Category.BIAS, outcome=Outcome.UPHELD
    )
    add_template(app, trust_safety, title="Privacy only", category=Category.PRIVACY)
    add_template(app, second_line, title="Another team's", category=Category.BIAS)
    with app.app_context():
        bias_report, _token = make_ticket(app, category="bias")
        unrouted, _token = make_ticket(app, category="bias")
        unrouted.team_id = None
        db.session.commit()
        assert bias_report.team_id == trust_safety

        offered = [template.title for template in available_for(bias_report)]
        offered_without_team = available_for(db.session.get(Ticket, unrouted.id))

    assert sorted(offered) == ["Any problem, upheld", "Bias, not upheld", "Bias, upheld"]
    # By outcome in its own order (upheld first, as on the team's page), then by title.
    assert offered == ["Any problem, upheld", "Bias, upheld", "Bias, not upheld"]
    assert offered_without_team == []
