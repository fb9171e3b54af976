"""The command-line tools an operator uses: the model registry and demo data."""

import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    AIModel,
    AuditEntry,
    EventKind,
    SavedReply,
    StaffLanguage,
    StaffUser,
    Team,
    TeamMembership,
    Ticket,
)
from portal.services import totp
from tests.factories import make_ticket


def test_models_add_creates_a_model_with_versions_then_adds_more(app):
    runner = app.test_cli_runner()

    created = runner.invoke(
        args=[
            "models",
            "add",
            "nova",
            "--name",
            "Nova",
            "--provider",
            "Acme",
            "--version",
            "1.0@2026-01-05",
            "--version",
            "1.1",
        ]
    )
    extended = runner.invoke(args=["models", "add", "nova", "--version", "2.0", "--version", "1.0"])
    listed = runner.invoke(args=["models", "list"])

    assert created.exit_code == 0, created.output
    assert extended.exit_code == 0, extended.output
    assert "nova\tNova\tAcme" in listed.output
    with app.app_context():
        model = db.session.scalar(sa.select(AIModel).where(AIModel.slug == "nova"))
        assert sorted(v.version for v in model.versions) == ["1.0", "1.1", "2.0"]
        assert (
            str(next(v for v in model.versions if v.version == "1.0").released_on) == "2026-01-05"
        )


def test_models_add_explains_what_is_missing(app):
    runner = app.test_cli_runner()

    no_name = runner.invoke(args=["models", "add", "nova"])
    bad_date = runner.invoke(
        args=["models", "add", "nova", "--name", "N", "--provider", "P", "--version", "1@soon"]
    )
    bad_team = runner.invoke(
        args=["models", "add", "nova", "--name", "N", "--provider", "P", "--team", "nobody"]
    )

    assert no_name.exit_code != 0
    assert "--name and --provider" in no_name.output
    assert bad_date.exit_code != 0
    assert "is not a date" in bad_date.output
    assert bad_team.exit_code != 0
    assert "no team" in bad_team.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AIModel)) == 0


def test_demo_load_fills_an_empty_database_once_and_prints_the_password_once(app):
    runner = app.test_cli_runner()

    first = runner.invoke(args=["demo", "load"])
    second = runner.invoke(args=["demo", "load"])

    assert first.exit_code == 0, first.output
    assert "password:" in first.output
    assert "password:" not in second.output
    assert "already has data" in second.output
    password = first.output.split("password:")[1].split()[0]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Team)) == 2
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AIModel)) == 3
        staff = db.session.scalar(sa.select(StaffUser))
        assert password not in staff.password_hash


def test_staff_accounts_are_managed_from_the_command_line(app):
    runner = app.test_cli_runner()

    created = runner.invoke(
        args=["users", "create", "Ada@Example.org", "--name", "Ada", "--role", "agent"]
    )
    password = created.output.split("password:")[1].split()[0]
    duplicate = runner.invoke(args=["users", "create", "ada@example.org", "--name", "Again"])
    roles = runner.invoke(
        args=["users", "set-roles", "ada@example.org", "--role", "owner", "--role", "auditor"]
    )
    reset = runner.invoke(args=["users", "reset-password", "ada@example.org"])
    new_password = reset.output.split("password:")[1].split()[0]
    disabled = runner.invoke(args=["users", "disable", "ada@example.org"])
    listed = runner.invoke(args=["users", "list"])
    unknown = runner.invoke(args=["users", "disable", "nobody@example.org"])

    assert created.exit_code == 0, created.output
    assert duplicate.exit_code != 0
    assert "already an account" in duplicate.output
    assert roles.output.strip() == "ada@example.org: auditor, owner"
    assert new_password != password
    assert disabled.exit_code == 0
    assert "ada@example.org\tAda\tdisabled\tauditor, owner" in listed.output
    assert unknown.exit_code != 0
    assert "no account" in unknown.output
    with app.app_context():
        staff = db.session.scalar(sa.select(StaffUser))
        assert password not in staff.password_hash
        assert new_password not in staff.password_hash


def test_the_demo_account_can_work_on_cases(app):
    runner = app.test_cli_runner()

    runner.invoke(args=["demo", "load"])

    with app.app_context():
        staff = db.session.scalar(sa.select(StaffUser))
        assert {role.value for role in staff.roles} == {"admin", "agent"}


def test_a_lost_second_factor_is_removed_from_the_command_line(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["users", "create", "ada@example.org", "--name", "Ada", "--role", "admin"])
    with app.app_context():
        staff = db.session.scalar(sa.select(StaffUser))
        staff.totp_secret_encrypted = totp.encrypt_secret(
            totp.new_secret(), app.config["SECRET_KEY"]
        )
        db.session.commit()
        session_before = staff.get_id()

    result = runner.invoke(args=["users", "reset-two-step", "ada@example.org"])

    assert result.exit_code == 0, result.output
    assert "two-step verification removed" in result.output
    with app.app_context():
        staff = db.session.scalar(sa.select(StaffUser))
        assert not staff.totp_enabled
        assert staff.get_id() != session_before


def test_the_demo_gives_its_teams_members_languages_and_saved_replies(app):
    app.test_cli_runner().invoke(args=["demo", "load"])

    with app.app_context():
        staff = db.session.scalar(sa.select(StaffUser))
        memberships = db.session.scalars(
            sa.select(Team.slug)
            .join(TeamMembership, TeamMembership.team_id == Team.id)
            .where(TeamMembership.user_id == staff.id)
        )
        languages = db.session.scalars(
            sa.select(StaffLanguage.locale).where(StaffLanguage.user_id == staff.id)
        )
        replies = db.session.execute(
            sa.select(Team.slug, SavedReply.locale).join(Team, SavedReply.team_id == Team.id)
        ).all()
        auto = {team.slug: team.auto_assign for team in db.session.scalars(sa.select(Team))}

        assert sorted(memberships) == ["model-quality", "trust-safety"]
        assert sorted(languages) == ["en", "fr"]
        assert sorted(set(replies)) == [
            ("model-quality", "en"),
            ("model-quality", "fr"),
            ("trust-safety", "en"),
            ("trust-safety", "fr"),
        ]
        assert auto == {"trust-safety": True, "model-quality": False}


def test_disabling_an_account_at_the_console_returns_its_open_reports(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["demo", "load"])
    with app.app_context():
        # Trust and Safety assigns automatically, to the demo account.
        ticket, _ = make_ticket(app, category="self_harm")
        db.session.commit()
        assert ticket.assignee is not None
        assigned = db.session.scalar(
            sa.select(sa.func.count()).select_from(Ticket).where(Ticket.assignee_id.is_not(None))
        )

    result = runner.invoke(args=["users", "disable", "admin@redress.example"])

    assert result.exit_code == 0, result.output
    assert f"{assigned} open report(s) went back" in result.output
    with app.app_context():
        tickets = db.session.scalars(sa.select(Ticket)).all()
        assert {ticket.assignee_id for ticket in tickets} == {None}
        returned = [ticket for ticket in tickets if ticket.events[-1].kind is EventKind.ASSIGNED]
        assert len(returned) == assigned
        assert {ticket.events[-1].detail["reason"] for ticket in returned} == {"account_disabled"}
        entry = db.session.scalar(
            sa.select(AuditEntry).where(AuditEntry.action == "staff.account_disabled")
        )
        assert entry.payload == f'{{"tickets_returned":{assigned}}}'
