"""The administration pages: staff accounts, teams, routing rules and saved replies, each
open only to those who may use it, each change in the audit log (service levels and team
calendars: tests/test_sla_admin.py; reason templates: tests/test_reason_templates.py)."""

import json
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    AuditEntry,
    EventKind,
    Role,
    RoutingRule,
    SavedReply,
    StaffUser,
    Status,
    Team,
    Ticket,
)
from portal.models.enums import Category
from portal.models.routing import StaffLanguage, TeamMembership
from portal.services import totp
from portal.services.casework import assign
from tests.conftest import CSRF_PATTERN, hidden_value
from tests.factories import make_registry, make_staff, make_team, make_ticket
from tests.signing_in import sign_in

ADMIN_EMAIL = "admin@example.org"
# Every signed-in page carries a form token (the sign-out button).
ANY_PAGE = "/auth/two-step-verification"


# -- who is who ---------------------------------------------------------------------------------


@pytest.fixture
def teams(app):
    """Two teams, each with a rule, then a catch-all: {slug: id} and {"rules": {name: id}}."""
    with app.app_context():
        make_registry()  # Trust and Safety
        make_team("second-line", "Second line")
        ids = {team.slug: team.id for team in db.session.scalars(sa.select(Team))}
        rules = [
            RoutingRule(
                position=1,
                name="Self-harm",
                team_id=ids["trust-safety"],
                category=Category.SELF_HARM,
            ),
            RoutingRule(
                position=2, name="Privacy", team_id=ids["second-line"], category=Category.PRIVACY
            ),
            RoutingRule(
                position=3, name="Bias", team_id=ids["trust-safety"], category=Category.BIAS
            ),
            RoutingRule(position=4, name="Everything else", team_id=ids["second-line"]),
        ]
        db.session.add_all(rules)
        db.session.commit()
        return {**ids, "rules": {rule.name: rule.id for rule in rules}}


def signed_in_admin(app, email=ADMIN_EMAIL):
    """A client signed in as an administrator, with the second factor they must have."""
    user_id = make_staff(app, email=email, roles=(Role.ADMIN,), name="Ann Admin")
    secret = totp.new_secret()
    set_up_at = utcnow() - timedelta(minutes=2)
    with app.app_context():
        totp.enrol(
            db.session.get(StaffUser, user_id),
            secret,
            pyotp.TOTP(secret).at(set_up_at),
            now=set_up_at,
            secret_key=app.config["SECRET_KEY"],
        )
        db.session.commit()
    client = app.test_client()
    assert sign_in(client, email=email).headers["Location"] == "/auth/code"
    response = client.post(
        "/auth/code",
        data={"csrf_token": token(client, "/auth/code"), "code": pyotp.TOTP(secret).now()},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    client.user_id = user_id
    return client


def signed_in(app, email, roles, **staff):
    client = app.test_client()
    client.user_id = make_staff(app, email=email, roles=roles, **staff)
    assert sign_in(client, email=email).status_code == 303
    return client


@pytest.fixture
def admin(app, teams):
    return signed_in_admin(app)


@pytest.fixture
def owner(app, teams):
    """The owner of Trust and Safety."""
    return signed_in(
        app, "owner@example.org", (Role.OWNER, Role.AGENT), team_slugs=["trust-safety"]
    )


@pytest.fixture
def agent(app, teams):
    return signed_in(app, "agent@example.org", (Role.AGENT,), team_slugs=["trust-safety"])


# -- helpers ------------------------------------------------------------------------------------


def token(client, path: str) -> str:
    return hidden_value(client.get(path).get_data(as_text=True), CSRF_PATTERN)


def is_signed_in(client) -> bool:
    response = client.get(ANY_PAGE)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def submit(client, path: str, data: dict, *, form_page: str | None = None):
    """Send ``data`` with a token from the page the form is on (``path`` unless given)."""
    return client.post(path, data={"csrf_token": token(client, form_page or path), **data})


def audit(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
            )
        )


def rule_order(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(RoutingRule.name).order_by(RoutingRule.position)))


def rule_form(team_id: int, **overrides) -> dict:
    return {
        "name": "Aurora privacy",
        "team": team_id,
        "kind": "",
        "category": "privacy",
        "model": "",
        "model_version": "",
        "locale": "",
        "severity": "",
        "is_active": "y",
        **overrides,
    }


def staff_form(**overrides) -> dict:
    return {
        "display_name": "Bo Agent",
        "roles": ["agent"],
        "teams": [],
        "languages": ["en"],
        "status": "active",
        **overrides,
    }


# -- who may open what --------------------------------------------------------------------------

ADMIN_PAGES = [
    "/staff/admin/",
    "/staff/admin/staff",
    "/staff/admin/staff/new",
    "/staff/admin/teams",
    "/staff/admin/teams/new",
    "/staff/admin/routing",
    "/staff/admin/routing/new",
]


def test_an_agent_is_refused_every_administration_page(app, teams, agent):
    rule = teams["rules"]["Self-harm"]
    pages = [
        *ADMIN_PAGES,
        f"/staff/admin/staff/{agent.user_id}",
        f"/staff/admin/teams/{teams['trust-safety']}",
        f"/staff/admin/teams/{teams['trust-safety']}/replies",
        f"/staff/admin/teams/{teams['trust-safety']}/reason-templates",
        f"/staff/admin/routing/{rule}",
    ]

    assert {page: agent.get(page).status_code for page in pages} == dict.fromkeys(pages, 403)
    moved = agent.post(
        f"/staff/admin/routing/{rule}/move",
        data={"csrf_token": token(agent, ANY_PAGE), "direction": "down"},
    )
    assert moved.status_code == 403
    assert rule_order(app)[0] == "Self-harm"


def test_the_staff_navigation_links_administration_for_owners_and_admins_only(
    app, admin, owner, agent
):
    assert "/staff/admin/" in admin.get("/staff/audit").get_data(as_text=True)
    assert "/staff/admin/" in owner.get("/staff/admin/teams").get_data(as_text=True)
    assert 'href="/staff/admin/"' not in agent.get(ANY_PAGE).get_data(as_text=True)


def test_an_owner_manages_their_teams_but_not_staff_or_new_teams(app, teams, owner):
    landing = owner.get("/staff/admin/").get_data(as_text=True)
    team_list = owner.get("/staff/admin/teams").get_data(as_text=True)

    assert "/staff/admin/staff" not in landing
    assert "Trust and Safety" in team_list
    assert "Second line" not in team_list
    for page in ("/staff/admin/staff", "/staff/admin/staff/new", "/staff/admin/teams/new"):
        assert owner.get(page).status_code == 403
    assert owner.get(f"/staff/admin/teams/{teams['second-line']}").status_code == 403
    assert owner.get(f"/staff/admin/teams/{teams['second-line']}/replies").status_code == 403
    assert owner.get("/staff/admin/teams/9999").status_code == 404


def test_a_post_without_the_form_token_is_refused_and_changes_nothing(app, teams, admin):
    response = admin.post(
        f"/staff/admin/teams/{teams['trust-safety']}",
        data={"name": "Renamed", "timezone": "UTC", "members": []},
    )
    moved = admin.post(
        f"/staff/admin/routing/{teams['rules']['Privacy']}/move", data={"direction": "up"}
    )

    assert response.status_code == 400
    assert moved.status_code == 400
    assert rule_order(app)[:2] == ["Self-harm", "Privacy"]
    with app.app_context():
        assert db.session.get(Team, teams["trust-safety"]).name == "Trust and Safety"


# -- routing rules ------------------------------------------------------------------------------


def test_the_rules_page_shows_every_condition_and_the_default_team(app, teams, admin):
    page = admin.get("/staff/admin/routing").get_data(as_text=True)

    rows = [page.index(f'id="rule-{teams["rules"][name]}"') for name in ("Self-harm", "Privacy")]
    assert rows == sorted(rows)
    assert "Self-harm or suicide" in page
    assert "Any" in page
    assert "default team, <strong>Second line</strong>" in page
    assert "There is no default team" not in page


def test_the_rules_page_warns_when_nothing_catches_the_rest(app, teams, admin):
    with app.app_context():
        db.session.get(RoutingRule, teams["rules"]["Everything else"]).is_active = False
        db.session.commit()

    assert "There is no default team" in admin.get("/staff/admin/routing").get_data(as_text=True)


def test_an_admin_adds_a_rule_above_the_default_and_it_routes_reports(app, teams, admin):
    response = submit(
        admin, "/staff/admin/routing/new", rule_form(teams["trust-safety"], category="bias")
    )

    assert response.status_code == 303
    assert rule_order(app) == ["Self-harm", "Privacy", "Bias", "Aurora privacy", "Everything else"]
    [entry] = audit(app, "routing_rule.created")
    assert entry.actor_id == f"staff:{admin.user_id}"
    assert json.loads(entry.payload)["category"] == "bias"
    assert "Aurora privacy" not in entry.payload  # values and ids, not free text
    with app.app_context():
        ticket, _ = make_ticket(app, category="privacy")
        assert ticket.team.slug == "second-line"  # the earlier Privacy rule still wins


def test_an_owner_edits_their_teams_rules_and_cannot_touch_anothers(app, teams, owner):
    own, other = teams["rules"]["Bias"], teams["rules"]["Privacy"]

    edited = submit(
        owner,
        f"/staff/admin/routing/{own}",
        rule_form(teams["trust-safety"], name="Bias v2", category="bias", locale="fr"),
    )
    refused_page = owner.get(f"/staff/admin/routing/{other}")
    refused_post = owner.post(
        f"/staff/admin/routing/{other}",
        data={
            "csrf_token": token(owner, f"/staff/admin/routing/{own}"),
            **rule_form(teams["trust-safety"]),
        },
    )
    refused_delete = owner.post(
        f"/staff/admin/routing/{other}/delete",
        data={"csrf_token": token(owner, f"/staff/admin/routing/{own}")},
    )

    assert edited.status_code == 303
    assert refused_page.status_code == 403
    assert refused_post.status_code == 403
    assert refused_delete.status_code == 403
    assert rule_order(app) == ["Self-harm", "Privacy", "Bias v2", "Everything else"]
    with app.app_context():
        assert db.session.get(RoutingRule, other).team_id == teams["second-line"]
    [entry] = audit(app, "routing_rule.updated")
    assert entry.actor_id == f"staff:{owner.user_id}"
    assert json.loads(entry.payload)["changed"] == ["name", "locale"]


@pytest.mark.parametrize(
    "widening",
    [
        {"category": "privacy"},  # another condition: takes Privacy's reports
        {"category": "", "kind": "harm_report"},  # a condition traded for a wider one
        {"category": "", "locale": "fr"},
    ],
)
def test_an_owner_cannot_widen_a_rule_to_take_other_teams_reports(app, teams, owner, widening):
    rule = teams["rules"]["Bias"]

    response = submit(
        owner,
        f"/staff/admin/routing/{rule}",
        rule_form(teams["trust-safety"], name="Bias", **{"category": "bias", **widening}),
    )

    assert response.status_code == 200
    assert "you can only narrow this rule" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(RoutingRule, rule).category is Category.BIAS
        privacy_report, _ = make_ticket(app, category="privacy")
        assert privacy_report.team.slug == "second-line"
    assert audit(app, "routing_rule.updated") == []


def test_an_owner_can_switch_a_rule_off_but_not_back_on(app, teams, owner):
    rule = teams["rules"]["Bias"]
    page = f"/staff/admin/routing/{rule}"
    off = rule_form(teams["trust-safety"], name="Bias", category="bias", is_active="")

    switched_off = submit(owner, page, off)
    switched_on = submit(
        owner, page, rule_form(teams["trust-safety"], name="Bias", category="bias")
    )

    assert switched_off.status_code == 303
    assert switched_on.status_code == 200
    with app.app_context():
        assert db.session.get(RoutingRule, rule).is_active is False


def test_only_admins_add_rules(app, teams, owner):
    assert owner.get("/staff/admin/routing/new").status_code == 403
    assert "Add a rule" not in owner.get("/staff/admin/routing").get_data(as_text=True)


def test_an_owner_cannot_send_reports_to_a_team_they_do_not_manage(app, teams, owner):
    moved_away = submit(
        owner,
        f"/staff/admin/routing/{teams['rules']['Bias']}",
        rule_form(teams["second-line"], name="Bias", category="bias"),
    )

    assert moved_away.status_code == 200
    assert "Not a valid choice" in moved_away.get_data(as_text=True)
    assert len(rule_order(app)) == 4
    with app.app_context():
        assert db.session.get(RoutingRule, teams["rules"]["Bias"]).team_id == teams["trust-safety"]
    assert audit(app, "routing_rule.created") == audit(app, "routing_rule.updated") == []


def test_only_an_admin_sets_the_default_team(app, teams, owner, admin):
    page = submit(
        owner,
        f"/staff/admin/routing/{teams['rules']['Bias']}",
        rule_form(teams["trust-safety"], name="Bias", category=""),
    ).get_data(as_text=True)
    catch_all = f"/staff/admin/routing/{teams['rules']['Everything else']}"

    assert "<title>Error:" in page
    assert "Choose at least one condition" in page
    assert owner.get(catch_all).status_code == 403
    added = submit(admin, "/staff/admin/routing/new", rule_form(teams["trust-safety"], category=""))
    assert added.status_code == 303


def test_rules_move_up_and_down_with_positions_kept_unique(app, teams, admin):
    bias = teams["rules"]["Bias"]
    page = f"/staff/admin/routing/{bias}/move"

    up = submit(admin, page, {"direction": "up"}, form_page="/staff/admin/routing")
    assert rule_order(app) == ["Self-harm", "Bias", "Privacy", "Everything else"]
    submit(admin, page, {"direction": "up"}, form_page="/staff/admin/routing")
    submit(admin, page, {"direction": "up"}, form_page="/staff/admin/routing")  # already first
    assert rule_order(app) == ["Bias", "Self-harm", "Privacy", "Everything else"]
    submit(admin, page, {"direction": "down"}, form_page="/staff/admin/routing")

    assert up.status_code == 303
    assert up.headers["Location"].endswith(f"#rule-{bias}")
    assert rule_order(app) == ["Self-harm", "Bias", "Privacy", "Everything else"]
    with app.app_context():
        positions = list(db.session.scalars(sa.select(RoutingRule.position)))
    assert len(set(positions)) == len(positions) == 4
    assert min(positions) > 0
    assert len(audit(app, "routing_rule.moved")) == 3


def test_an_owner_moves_a_rule_only_past_another_rule_they_manage(app, teams, owner):
    bias = teams["rules"]["Bias"]
    with app.app_context():
        db.session.get(RoutingRule, teams["rules"]["Privacy"]).position = 10
        db.session.get(RoutingRule, teams["rules"]["Everything else"]).position = 11
        db.session.commit()
    # Now: Self-harm (theirs), Bias (theirs), Privacy (not theirs), Everything else.

    page = owner.get("/staff/admin/routing").get_data(as_text=True)
    past_another = submit(
        owner, f"/staff/admin/routing/{bias}/move", {"direction": "down"}, form_page=ANY_PAGE
    )
    up = submit(owner, f"/staff/admin/routing/{bias}/move", {"direction": "up"}, form_page=ANY_PAGE)

    assert "(move “Bias” up)" in page
    assert "(move “Bias” down)" not in page
    assert "(move “Privacy”" not in page
    assert past_another.status_code == 303
    assert up.status_code == 303
    assert rule_order(app) == ["Bias", "Self-harm", "Privacy", "Everything else"]


def test_a_rule_is_deleted_with_an_audit_entry(app, teams, admin):
    rule = teams["rules"]["Privacy"]

    response = submit(admin, f"/staff/admin/routing/{rule}/delete", {}, form_page=ANY_PAGE)

    assert response.status_code == 303
    assert "Privacy" not in rule_order(app)
    [entry] = audit(app, "routing_rule.deleted")
    assert entry.object_id == str(rule)


# -- teams --------------------------------------------------------------------------------------


def test_an_admin_creates_a_team_and_a_taken_short_name_is_explained(app, teams, admin):
    fields = {"name": "Appeals", "slug": "appeals", "timezone": "Europe/Berlin", "members": []}

    created = submit(admin, "/staff/admin/teams/new", {**fields, "auto_assign": "y"})
    again = submit(admin, "/staff/admin/teams/new", {**fields, "name": "Appeals again"})

    assert created.status_code == 303
    assert again.status_code == 200
    assert "There is already a team with this short name" in again.get_data(as_text=True)
    with app.app_context():
        team = db.session.scalar(sa.select(Team).where(Team.slug == "appeals"))
        assert (team.name, team.timezone, team.auto_assign) == ("Appeals", "Europe/Berlin", True)
    [entry] = audit(app, "team.created")
    assert entry.actor_id == f"staff:{admin.user_id}"


def test_an_owner_changes_only_auto_assignment_on_the_team_page(app, teams, owner):
    page = f"/staff/admin/teams/{teams['trust-safety']}"

    saved = submit(
        owner,
        page,
        {"timezone": "Asia/Tokyo", "auto_assign": "y", "name": "Mine", "members": [owner.user_id]},
    )

    assert saved.status_code == 303
    with app.app_context():
        team = db.session.get(Team, teams["trust-safety"])
        assert (team.name, team.timezone, team.auto_assign) == (
            "Trust and Safety",
            "Europe/Paris",  # changed on the team's calendar page, with its working hours
            True,
        )
    [entry] = audit(app, "team.updated")
    assert json.loads(entry.payload) == {"auto_assign": True}


def test_a_member_who_leaves_a_team_hands_back_its_reports(app, teams, admin):
    leaving = make_staff(app, "leaving@example.org", team_slugs=["trust-safety"])
    with app.app_context():
        ticket, _ = make_ticket(app, category="self_harm")
        assign(ticket, db.session.get(StaffUser, leaving), staff=None, now=utcnow())
        db.session.commit()
        ticket_id = ticket.id

    response = submit(
        admin,
        f"/staff/admin/teams/{teams['trust-safety']}",
        {"name": "Trust and Safety", "timezone": "Europe/Paris", "members": []},
    )

    assert response.status_code == 303
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        assert ticket.assignee_id is None
        assert ticket.events[-1].detail == {"from": leaving, "to": None, "reason": "left_team"}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TeamMembership)) == 0
    [entry] = audit(app, "team.members_changed")
    assert json.loads(entry.payload) == {"added": [], "removed": [leaving], "tickets_returned": 1}


# -- staff accounts -----------------------------------------------------------------------------


def test_an_admin_creates_an_account_and_sees_its_password_once(app, teams, admin):
    response = submit(
        admin,
        "/staff/admin/staff/new",
        staff_form(email="Bo@Example.org", teams=[teams["trust-safety"]], languages=["en", "fr"]),
    )
    first_view = admin.get(response.headers["Location"]).get_data(as_text=True)
    second_view = admin.get(response.headers["Location"]).get_data(as_text=True)

    assert response.status_code == 303
    password = first_view.split('<p class="admin-password__value" translate="no">')[1].split("<")[0]
    assert "admin-password__value" not in second_view
    assert sign_in(app.test_client(), email="bo@example.org", password=password).status_code == 303
    with app.app_context():
        user = db.session.scalar(sa.select(StaffUser).where(StaffUser.email == "bo@example.org"))
        languages = db.session.scalars(
            sa.select(StaffLanguage.locale).where(StaffLanguage.user_id == user.id)
        )
        assert sorted(languages) == ["en", "fr"]
        assert user.roles == {Role.AGENT}
    [entry] = audit(app, "staff.account_created")
    assert entry.actor_id == f"staff:{admin.user_id}"
    assert "example.org" not in entry.payload
    assert "Bo Agent" not in entry.payload


def test_an_address_that_has_an_account_is_explained_on_the_field(app, teams, admin):
    response = submit(admin, "/staff/admin/staff/new", staff_form(email="ADMIN@example.org"))
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "<title>Error:" in page
    assert 'href="#email"' in page
    assert "There is already an account with this address" in page


def test_an_admin_changes_roles_teams_and_languages_with_audit_entries(app, teams, admin):
    user_id = make_staff(app, "bo@example.org", name="Bo Agent")

    response = submit(
        admin,
        f"/staff/admin/staff/{user_id}",
        staff_form(roles=["agent", "owner"], teams=[teams["second-line"]], languages=["ar"]),
    )

    assert response.status_code == 303
    with app.app_context():
        user = db.session.get(StaffUser, user_id)
        assert user.roles == {Role.AGENT, Role.OWNER}
    [roles] = audit(app, "staff.roles_changed")
    [updated] = audit(app, "staff.updated")
    assert json.loads(roles.payload) == {"from": ["agent"], "to": ["agent", "owner"]}
    assert json.loads(updated.payload) == {
        "languages": ["ar"],
        "teams_added": [teams["second-line"]],
        "teams_removed": [],
        "tickets_returned": 0,
    }
    assert roles.actor_id == updated.actor_id == f"staff:{admin.user_id}"


def test_an_admin_cannot_lock_themselves_out(app, teams, admin):
    page = f"/staff/admin/staff/{admin.user_id}"

    demoted = submit(admin, page, staff_form(display_name="Ann Admin", roles=["agent"]))
    disabled = submit(
        admin, page, staff_form(display_name="Ann Admin", roles=["admin"], status="disabled")
    )

    assert "You cannot remove your own administrator role" in demoted.get_data(as_text=True)
    assert "You cannot disable your own account" in disabled.get_data(as_text=True)
    assert admin.get("/staff/admin/staff").status_code == 200
    with app.app_context():
        user = db.session.get(StaffUser, admin.user_id)
        assert user.is_active
        assert Role.ADMIN in user.roles
    assert audit(app, "staff.roles_changed") == audit(app, "staff.account_disabled") == []


def test_disabling_an_account_returns_its_reports_and_ends_its_sessions(app, teams, admin, agent):
    with app.app_context():
        held, _ = make_ticket(app, category="self_harm")
        assign(held, db.session.get(StaffUser, agent.user_id), staff=None, now=utcnow())
        decided, _ = make_ticket(app, category="self_harm")
        assign(decided, db.session.get(StaffUser, agent.user_id), staff=None, now=utcnow())
        decided.status = Status.DECIDED
        db.session.commit()
        held_id, decided_id = held.id, decided.id
    copied = app.test_client()
    copied.set_cookie(
        "session", agent.get_cookie("session", domain="redress.test").value, domain="redress.test"
    )
    assert is_signed_in(copied)

    response = submit(
        admin,
        f"/staff/admin/staff/{agent.user_id}",
        staff_form(display_name="Ada Agent", teams=[teams["trust-safety"]], status="disabled"),
    )

    assert response.status_code == 303
    assert not is_signed_in(copied)
    assert not is_signed_in(agent)
    with app.app_context():
        held = db.session.get(Ticket, held_id)
        assert held.assignee_id is None
        assert held.events[-1].kind is EventKind.ASSIGNED
        assert held.events[-1].detail["reason"] == "account_disabled"
        assert db.session.get(Ticket, decided_id).assignee_id == agent.user_id
    [entry] = audit(app, "staff.account_disabled")
    assert json.loads(entry.payload) == {"tickets_returned": 1}
    assert entry.actor_id == f"staff:{admin.user_id}"
    with app.app_context():
        ticket_entries = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "ticket.assigned")
        ).all()
        assert ticket_entries[-1].object_id == held.reference


def test_an_agent_made_analyst_gives_their_reports_back_to_the_queue(app, teams, admin, agent):
    with app.app_context():
        held, _ = make_ticket(app, category="self_harm")
        assign(held, db.session.get(StaffUser, agent.user_id), staff=None, now=utcnow())
        db.session.commit()
        held_id = held.id

    response = submit(
        admin,
        f"/staff/admin/staff/{agent.user_id}",
        staff_form(display_name="Ada Agent", roles=["analyst"], teams=[teams["trust-safety"]]),
    )

    assert response.status_code == 303
    with app.app_context():
        held = db.session.get(Ticket, held_id)
        assert held.assignee_id is None
        assert held.events[-1].detail["reason"] == "no_longer_casework"
    [entry] = audit(app, "staff.roles_changed")
    assert json.loads(entry.payload)["tickets_returned"] == 1


# -- saved replies ------------------------------------------------------------------------------


def test_an_owner_keeps_saved_replies_for_their_team(app, teams, owner):
    team = teams["trust-safety"]
    fields = {"locale": "fr", "title": "Accusé de réception", "body": "Merci, nous regardons."}

    added = submit(owner, f"/staff/admin/teams/{team}/replies/new", fields)
    duplicate = submit(owner, f"/staff/admin/teams/{team}/replies/new", fields)
    same_title_in_english = submit(
        owner, f"/staff/admin/teams/{team}/replies/new", {**fields, "locale": "en"}
    )
    listed = owner.get(f"/staff/admin/teams/{team}/replies").get_data(as_text=True)
    with app.app_context():
        reply_id = db.session.scalar(sa.select(SavedReply.id).where(SavedReply.locale == "fr"))
    edited = submit(
        owner, f"/staff/admin/replies/{reply_id}", {**fields, "body": "Merci beaucoup."}
    )
    deleted = submit(
        owner,
        f"/staff/admin/replies/{reply_id}/delete",
        {},
        form_page=f"/staff/admin/replies/{reply_id}",
    )

    assert added.status_code == 303
    assert "The team already has a reply with this title" in duplicate.get_data(as_text=True)
    assert same_title_in_english.status_code == 303
    assert 'lang="fr"' in listed
    assert "Accusé de réception" in listed
    assert edited.status_code == 303
    assert deleted.status_code == 303
    with app.app_context():
        assert list(db.session.scalars(sa.select(SavedReply.locale))) == ["en"]
    for action in ("saved_reply.created", "saved_reply.updated", "saved_reply.deleted"):
        assert {entry.actor_id for entry in audit(app, action)} == {f"staff:{owner.user_id}"}


def test_an_owner_cannot_touch_another_teams_saved_replies(app, teams, owner):
    with app.app_context():
        reply = SavedReply(
            team_id=teams["second-line"], locale="en", title="Thanks", body="Thank you."
        )
        db.session.add(reply)
        db.session.commit()
        reply_id = reply.id
    own_page = f"/staff/admin/teams/{teams['trust-safety']}/replies/new"

    page = owner.get(f"/staff/admin/replies/{reply_id}")
    edit = owner.post(
        f"/staff/admin/replies/{reply_id}",
        data={"csrf_token": token(owner, own_page), "locale": "en", "title": "X", "body": "Y"},
    )
    delete = owner.post(
        f"/staff/admin/replies/{reply_id}/delete", data={"csrf_token": token(owner, own_page)}
    )
    add = owner.post(
        f"/staff/admin/teams/{teams['second-line']}/replies/new",
        data={"csrf_token": token(owner, own_page), "locale": "en", "title": "X", "body": "Y"},
    )

    assert [page.status_code, edit.status_code, delete.status_code, add.status_code] == [403] * 4
    with app.app_context():
        assert [(r.title, r.body) for r in db.session.scalars(sa.select(SavedReply))] == [
            ("Thanks", "Thank you.")
        ]
