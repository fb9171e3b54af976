"""A reporter who agreed that their report may improve AI models can take that back from their
page: the report leaves the exports, and later exports tell downstream to delete it."""

import sqlalchemy as sa

from portal.extensions import db
from portal.models import EventKind, Ticket
from portal.services import feedback
from tests.factories import make_ticket
from tests.test_tracking import Report, csrf_token, page_text


def consenting_report(app, **fields) -> Report:
    with app.app_context():
        ticket, token = make_ticket(app, consent_training=True, **fields)
        db.session.commit()
        return Report(ticket.reference, token)


def record_ids(app) -> set[str]:
    with app.app_context():
        return {record["record_id"] for _id, record in feedback.records(feedback.FeedbackFilters())}


def tombstone_ids(app) -> set[str]:
    with app.app_context():
        return set(feedback.tombstones())


def withdraw_consent(client, report: Report):
    token = csrf_token(client, report.case_url)
    return client.post(f"{report.case_url}/consent", data={"csrf_token": token})


def test_taking_back_consent_removes_the_report_from_exports_and_lists_it_for_deletion(app, client):
    report = consenting_report(app)
    client.get(report.tracking_url)
    [exported] = record_ids(app)

    response = withdraw_consent(client, report)
    page = page_text(client.get(response.headers["Location"]))

    assert "We will no longer use your report to improve AI models." in page
    assert "Stop using my report to improve AI models" not in page  # nothing left to stop
    assert record_ids(app) == set()
    assert tombstone_ids(app) == {exported}
    with app.app_context():
        ticket = db.session.scalar(sa.select(Ticket).where(Ticket.reference == report.reference))
        assert not ticket.consent_training
        assert ticket.training_consent_withdrawn_at is not None
        assert EventKind.CONSENT_WITHDRAWN in [event.kind for event in ticket.events]


def test_a_report_without_consent_offers_nothing_to_take_back_and_is_never_exported(app, client):
    with app.app_context():
        ticket, token = make_ticket(app, consent_training=False)
        db.session.commit()
        report = Report(ticket.reference, token)
    client.get(report.tracking_url)

    page = page_text(client.get(report.case_url))

    assert "Stop using my report to improve AI models" not in page
    assert record_ids(app) == set()
    assert tombstone_ids(app) == set()


def test_taking_back_consent_without_a_valid_form_changes_nothing(app, client):
    report = consenting_report(app)
    client.get(report.tracking_url)

    response = client.post(f"{report.case_url}/consent", data={"csrf_token": "forged"})

    assert response.status_code == 200
    assert len(record_ids(app)) == 1
