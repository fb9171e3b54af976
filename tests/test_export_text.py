"""The export-ready text of a report is redacted when the report is stored, blanked when it is
erased, and redacted again for every report when the rules change; an export only reads it."""

import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Actor, Ticket
from portal.services import export_text, redaction
from portal.services.erasure import erase
from tests.factories import make_ticket


def stored(app, ticket_id: int) -> Ticket:
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        db.session.expunge(ticket)
        return ticket


def test_a_new_report_is_redacted_as_it_is_stored(app):
    with app.app_context():
        ticket, _token = make_ticket(
            app,
            reporter_name="Amina Haddad",
            contact_email="amina@example.org",
            output_text="Write to amina@example.org or call +44 20 7946 0958, Amina Haddad.",
            input_text="My card is 4111 1111 1111 1111.",
        )
        db.session.commit()
        ticket_id = ticket.id

    ticket = stored(app, ticket_id)

    assert ticket.export_output == "Write to [EMAIL] or call [PHONE], [NAME]."
    assert ticket.export_input == "My card is [CARD]."
    assert ticket.export_expected_output is None
    assert ticket.redaction_counts == {"email": 1, "phone": 1, "name": 1, "card": 1}
    assert ticket.redaction_version == redaction.RULES_VERSION
    assert ticket.output_text.startswith("Write to amina@example.org")  # the original stays


def test_erasing_blanks_the_export_ready_text_too(app):
    with app.app_context():
        ticket, _token = make_ticket(app, output_text="Call me on +33 6 12 34 56 78.")
        erase(ticket, now=utcnow(), by=Actor.REPORTER)
        db.session.commit()
        ticket_id = ticket.id

    ticket = stored(app, ticket_id)

    assert (ticket.export_output, ticket.export_input, ticket.redaction_counts) == ("", None, {})


def test_new_rules_redact_every_report_again_without_touching_it(app, monkeypatch):
    with app.app_context():
        ticket, _token = make_ticket(app, output_text="Mail bob@example.org.")
        db.session.commit()
        ticket_id = ticket.id
        # What an older release stored: text redacted under rules it no longer has.
        db.session.execute(
            sa.update(Ticket.__table__)
            .where(Ticket.__table__.c.id == ticket_id)
            .values(export_output="Mail bob@example.org.", redaction_version=0)
        )
        db.session.commit()
    before = stored(app, ticket_id)
    updated_at, version = before.updated_at, before.row_version
    monkeypatch.setattr(redaction, "RULES_VERSION", redaction.RULES_VERSION + 1)

    result = app.test_cli_runner().invoke(args=["redaction", "recompute"])
    again = app.test_cli_runner().invoke(args=["redaction", "recompute"])

    assert result.exit_code == 0, result.output
    assert f"rules version {redaction.RULES_VERSION}: 1" in result.output
    assert again.output.strip().endswith(": 0")
    ticket = stored(app, ticket_id)
    assert ticket.export_output == "Mail [EMAIL]."
    assert ticket.redaction_version == redaction.RULES_VERSION
    # Not a change of the report: no staff form goes out of date, nothing moves in the queue.
    assert (ticket.updated_at, ticket.row_version) == (updated_at, version)


def test_the_clock_redacts_again_in_batches(app, monkeypatch):
    with app.app_context():
        for _ in range(3):
            make_ticket(app)
        db.session.commit()
    monkeypatch.setattr(redaction, "RULES_VERSION", redaction.RULES_VERSION + 1)

    with app.app_context():
        first = export_text.recompute_stale(limit=2)
        rest = export_text.recompute_stale(limit=2)
        db.session.commit()

    assert (first, rest) == (2, 1)
