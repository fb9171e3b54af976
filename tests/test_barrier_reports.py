"""Telling us about a barrier to using the portal, as the accessibility statement invites: a
report like any other (reference, tracking link, queue, timers), without the AI questions."""

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Category, OutboxMessage, Ticket, TicketKind
from portal.services import feedback
from tests.reporting import open_form, read_page, send

BARRIER = TicketKind.ACCESSIBILITY_BARRIER.value
WHAT_STOPPED_ME = (
    "On the report form I could not reach the Send button with my keyboard; "
    "I use a screen reader (NVDA)."
)


def test_the_accessibility_statement_leads_to_the_barrier_form(client, registry):
    statement = client.get("/accessibility").get_data(as_text=True)

    assert 'href="/reports/new?kind=accessibility_barrier"' in statement
    form = read_page(open_form(client, BARRIER))
    assert form.labels["description"] == "What stopped you, or made this portal hard to use?"
    # Nothing about an AI output, and no consent to improve models with it.
    for question in ("output_text", "model_choice", "category", "consent_training"):
        assert question not in form.ids


def test_the_start_page_offers_the_barrier_form(client):
    start = read_page(client.get("/reports/").get_data(as_text=True))

    assert start.offered("kind")["Tell us about a barrier to using this portal"] == BARRIER


def test_a_barrier_report_without_a_description_says_what_is_missing_and_stores_nothing(
    app, client, registry
):
    response = send(client, open_form(client, BARRIER), {"timezone": "Europe/London"})

    assert response.status_code == 200
    assert read_page(response.get_data(as_text=True)).summary_links == ["#description"]
    assert "Tell us what stopped you" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 0


def test_a_barrier_report_is_a_ticket_with_a_reference_a_link_and_no_ai_output(
    app, client, registry
):
    answers = {
        "description": WHAT_STOPPED_ME,
        "requested_outcome": "Make the button reachable.",
        "contact_email": "reader@example.org",
        "consent_contact": "y",
        "timezone": "Europe/Paris",
        # A forged answer to a question this form does not ask changes nothing.
        "consent_training": "y",
    }

    response = send(client, open_form(client, BARRIER), answers)

    assert response.status_code == 303
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket)).one()
        assert ticket.kind is TicketKind.ACCESSIBILITY_BARRIER
        assert (ticket.description, ticket.output_text) == (WHAT_STOPPED_ME, "")
        assert (ticket.category, ticket.consent_training) == (Category.OTHER, False)
        assert ticket.first_response_due_at is not None
        assert (
            db.session.scalars(sa.select(feedback.exportable()).select_from(Ticket)).one() is False
        )
        confirmation = db.session.scalars(sa.select(OutboxMessage)).one()
        assert confirmation.to_address == "reader@example.org"
        reference = ticket.reference
    page = client.get(f"/reports/case/{reference}").get_data(as_text=True)
    assert "Tell us about a barrier to using this portal" in page
    assert "AI model" not in page
    assert "What did the AI output say?" not in page
    # The copy of their data holds what they were asked, not the routing defaults.
    copy = client.get(f"/reports/case/{reference}/your-data.json").get_json()
    assert copy["answers"] == {
        "description": WHAT_STOPPED_ME,
        "requested_outcome": "Make the button reachable.",
    }
    kept = client.get(f"/reports/case/{reference}/your-data").get_data(as_text=True)
    assert "What stopped you, or made this portal hard to use?" in kept
    for not_asked in ("Who are you reporting for?", "How serious is it?", "Kind of problem"):
        assert not_asked not in kept
