"""The auditor's read-only view of the audit log."""

import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Role
from portal.services import audit
from tests.factories import make_staff, make_ticket
from tests.signing_in import sign_in


def add_entries(app, count: int, object_id: str = "RP-2222-3333") -> None:
    with app.app_context():
        for number in range(count):
            audit.append(
                actor_type="system",
                actor_id="cli",
                action="test.entry",
                object_type="ticket",
                object_id=object_id,
                payload={"n": number},
                now=utcnow(),
                secret_key=app.config["SECRET_KEY"],
            )
        db.session.commit()


def test_an_auditor_reads_the_log_newest_first(app, client):
    make_staff(app, email="auditor@example.org", roles=(Role.AUDITOR,))
    with app.app_context():
        ticket, _ = make_ticket(app)
        db.session.commit()
        reference = ticket.reference
    sign_in(client, email="auditor@example.org")

    page = client.get("/staff/audit").get_data(as_text=True)

    assert "Audit log" in page
    assert (
        page.index("staff.signed_in") < page.index("ticket.routed") < page.index("ticket.submitted")
    )
    assert reference in page


def test_agents_cannot_read_the_audit_log(app, client):
    make_staff(app)
    sign_in(client)

    assert client.get("/staff/audit").status_code == 403


def test_the_log_can_be_filtered_by_object_and_by_actor(app, client):
    make_staff(app, email="auditor@example.org", roles=(Role.AUDITOR,))
    add_entries(app, 2, object_id="RP-2222-3333")
    add_entries(app, 1, object_id="RP-4444-5555")
    sign_in(client, email="auditor@example.org")

    by_object = client.get("/staff/audit?object_id=RP-4444-5555").get_data(as_text=True)
    by_actor = client.get("/staff/audit?actor=cli").get_data(as_text=True)

    assert by_object.count("RP-4444-5555") >= 1
    assert "RP-2222-3333" not in by_object
    assert "staff.signed_in" not in by_actor
    assert by_actor.count("test.entry") == 3


def test_long_logs_are_paged_by_sequence_number_keeping_the_filters(app, client):
    make_staff(app, email="auditor@example.org", roles=(Role.AUDITOR,))
    add_entries(app, 60)
    sign_in(client, email="auditor@example.org")

    first = client.get("/staff/audit?actor=cli&_external=1").get_data(as_text=True)
    older_link = first.split('href="/staff/audit?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    second = client.get(f"/staff/audit?{older_link}").get_data(as_text=True)

    assert "actor=cli" in older_link
    assert "_external" not in older_link
    assert first.count("test.entry") == 50
    assert second.count("test.entry") == 10
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(audit.AuditEntry)) > 60


def test_a_filter_that_cannot_be_read_shows_its_error_and_no_entries(app, client):
    make_staff(app, email="auditor@example.org", roles=(Role.AUDITOR,))
    add_entries(app, 3)
    sign_in(client, email="auditor@example.org")

    page = client.get("/staff/audit?since=not-a-date").get_data(as_text=True)

    assert "There is a problem" in page
    assert "test.entry" not in page
