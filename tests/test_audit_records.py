"""What ends up in the audit log: every ticket event and every staff action, without personal
data, in a chain that verifies."""

import json

import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import AuditEntry, Ticket
from portal.services import audit
from portal.services.ticket_audit import event_payload
from portal.services.tickets import add_information, withdraw
from tests.factories import make_staff, make_ticket
from tests.reporting import complete_answers, open_form, send
from tests.signing_in import sign_in, sign_out

EMAIL = "reporter@example.org"


def entries(app) -> list[AuditEntry]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)))


def verified(app):
    with app.app_context():
        return audit.verify(secret_key=app.config["SECRET_KEY"])


def everything_audited(app) -> str:
    return "\n".join(
        f"{e.actor_id} {e.action} {e.object_type} {e.object_id} {e.payload}" for e in entries(app)
    )


def test_each_step_of_a_report_is_in_the_log_in_order(app):
    with app.app_context():
        ticket, _ = make_ticket(app, contact_email=EMAIL)
        db.session.commit()
        add_information(ticket, text="It happened again today.", files=[], now=utcnow())
        db.session.commit()
        withdraw(ticket, reason="Sorted out", now=utcnow())
        db.session.commit()
        reference = ticket.reference

    logged = [(e.action, e.object_id) for e in entries(app)]

    assert logged == [
        ("ticket.submitted", reference),
        ("ticket.routed", reference),
        ("ticket.information_added", reference),
        ("ticket.status_changed", reference),
    ]
    assert verified(app).ok


def test_a_report_sent_through_the_form_is_logged_without_what_it_says(app, client, registry):
    answers = complete_answers(
        registry, contact_email=EMAIL, reporter_name="Jane Reporter", category="self_harm"
    )

    assert send(client, open_form(client), answers).status_code == 303

    logged = everything_audited(app)
    assert [e.action for e in entries(app)] == [
        "ticket.submitted",
        "ticket.safety_flagged",
        "ticket.routed",
    ]
    for personal in (EMAIL, "Jane Reporter", answers["output_text"], answers["description"]):
        assert personal not in logged
    assert verified(app).ok


def test_the_log_keeps_a_hash_of_each_events_text_so_an_edit_shows(app):
    with app.app_context():
        ticket, _ = make_ticket(app)
        db.session.commit()
        event = add_information(ticket, text="The first version.", files=[], now=utcnow())
        db.session.commit()
        recorded = json.loads(entries(app)[-1].payload)

        event.body = "A quietly edited version."
        db.session.commit()

        assert recorded == {**event_payload(event), "body_hmac": recorded["body_hmac"]}
        assert recorded["body_hmac"] != event_payload(event)["body_hmac"]


def test_a_transaction_that_rolls_back_leaves_nothing_in_the_log(app):
    with app.app_context():
        make_ticket(app)
        db.session.rollback()
        make_ticket(app)
        db.session.commit()

        assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 1
    assert [e.action for e in entries(app)] == ["ticket.submitted", "ticket.routed"]
    assert verified(app).ok


def test_sign_ins_refusals_and_sign_outs_are_logged_under_pseudonyms(app, client):
    user_id = make_staff(app)

    sign_in(app.test_client(), email="stranger@example.org", password="a wrong password")
    sign_in(client)
    sign_out(client)

    logged = entries(app)
    assert [e.action for e in logged] == [
        "staff.sign_in_refused",
        "staff.signed_in",
        "staff.signed_out",
    ]
    assert logged[0].actor_id.startswith("email:")
    assert logged[1].actor_id == logged[2].actor_id == f"staff:{user_id}"
    assert "stranger@example.org" not in everything_audited(app)
    assert "agent@example.org" not in everything_audited(app)
    assert verified(app).ok


def test_account_changes_at_the_console_are_logged(app):
    runner = app.test_cli_runner()

    runner.invoke(args=["users", "create", "ada@example.org", "--name", "Ada", "--role", "agent"])
    runner.invoke(args=["users", "set-roles", "ada@example.org", "--role", "owner"])
    runner.invoke(args=["users", "reset-password", "ada@example.org"])
    runner.invoke(args=["users", "disable", "ada@example.org"])

    logged = entries(app)
    assert [(e.actor_type.value, e.actor_id, e.action) for e in logged] == [
        ("system", "cli", "staff.account_created"),
        ("system", "cli", "staff.roles_set"),
        ("system", "cli", "staff.password_reset"),
        ("system", "cli", "staff.account_disabled"),
    ]
    assert json.loads(logged[1].payload) == {"roles": ["owner"]}
    assert "ada@example.org" not in everything_audited(app)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
