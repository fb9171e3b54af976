"""Submitting a report through the service, without HTTP."""

import io
from datetime import timedelta

import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Attachment, EventKind, OutboxMessage, Severity, Ticket
from portal.services import tokens
from portal.services.tickets import (
    find_ticket_by_token,
    reissue_tracking_link,
    update_draft,
)
from tests.factories import make_ticket


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_the_same_form_submitted_twice_makes_one_ticket_with_one_link(app):
    with app.app_context():
        first, first_token = make_ticket(app, form_key="form-key-1")
        db.session.commit()
        again, again_token = make_ticket(app, form_key="form-key-1", description="changed")
        db.session.commit()

        assert again.id == first.id
        assert again_token == first_token
        assert again.description == "These chemicals make a toxic gas."
        assert count(Ticket) == 1


def test_different_forms_make_different_tickets_with_different_links(app):
    with app.app_context():
        one, one_token = make_ticket(app)
        two, two_token = make_ticket(app)
        db.session.commit()

        assert one.reference != two.reference
        assert one_token != two_token
        assert find_ticket_by_token(one_token).id == one.id
        assert find_ticket_by_token(two_token).id == two.id


def test_the_database_never_holds_the_tracking_token(app):
    with app.app_context():
        ticket, token = make_ticket(app, form_key="form-key-2")
        db.session.commit()

        assert ticket.tracking_token_hash == tokens.sha256_hex(token)
        assert ticket.submission_key_hash == tokens.sha256_hex("form-key-2")
        row = db.session.execute(sa.select(Ticket.__table__)).one()
        assert token not in repr(tuple(row))


def test_a_retried_form_does_not_bring_back_a_replaced_link(app):
    with app.app_context():
        ticket, old_token = make_ticket(app, form_key="form-key-3", contact_email="a@example.org")
        db.session.commit()
        reissue_tracking_link(
            ticket.reference, "a@example.org", now=utcnow(), tracking_link=lambda t: t
        )
        db.session.commit()

        again, token = make_ticket(app, form_key="form-key-3")

        assert again.id == ticket.id
        assert token is None
        assert find_ticket_by_token(old_token) is None


def test_files_uploaded_to_the_draft_are_attached_on_submission(app, tmp_path):
    with app.app_context():
        rejected = update_draft(
            "form-key-4",
            remove_ids=set(),
            uploads=[(io.BytesIO(b"what the chatbot said"), "transcript.txt")],
            upload_dir=tmp_path,
            now=utcnow(),
        )
        db.session.commit()

        ticket, _ = make_ticket(app, form_key="form-key-4")
        db.session.commit()

        attachment = db.session.scalar(sa.select(Attachment))
        assert rejected == []
        assert attachment.ticket_id == ticket.id
        assert attachment.draft_key_hash is None
        assert [a.original_name for a in ticket.attachments] == ["transcript.txt"]
        assert (tmp_path / attachment.storage_name).read_bytes() == b"what the chatbot said"


def test_a_draft_holds_five_files_and_removed_files_leave_the_disk_on_commit(app, tmp_path):
    def upload(name):
        return (io.BytesIO(name.encode()), name)

    with app.app_context():
        first = update_draft(
            "form-key-5",
            remove_ids=set(),
            uploads=[upload(f"note{n}.txt") for n in range(6)],
            upload_dir=tmp_path,
            now=utcnow(),
        )
        db.session.commit()
        kept = db.session.scalars(sa.select(Attachment).order_by(Attachment.id)).all()
        removed = kept[0]

        update_draft(
            "form-key-5",
            remove_ids={removed.id},
            uploads=[],
            upload_dir=tmp_path,
            now=utcnow(),
        )
        assert (tmp_path / removed.storage_name).exists()  # not before the commit
        db.session.commit()

        assert [(r.reason, r.filename) for r in first] == [("too_many", "note5.txt")]
        assert len(kept) == 5
        assert not (tmp_path / removed.storage_name).exists()
        assert len(list(tmp_path.iterdir())) == 4


def test_files_stored_for_a_transaction_that_rolls_back_leave_the_disk(app, tmp_path):
    with app.app_context():
        update_draft(
            "form-key-6",
            remove_ids=set(),
            uploads=[(io.BytesIO(b"text"), "note.txt")],
            upload_dir=tmp_path,
            now=utcnow(),
        )
        assert len(list(tmp_path.iterdir())) == 1
        db.session.rollback()

        assert list(tmp_path.iterdir()) == []
        assert db.session.scalar(sa.select(Attachment)) is None


def test_target_dates_follow_the_stated_severity(app):
    now = utcnow()
    with app.app_context():
        low, _ = make_ticket(app, reporter_severity="low", now=now)
        critical, _ = make_ticket(app, reporter_severity="critical", now=now)

        # Critical runs round the clock (tests/test_sla.py has the business-hours cases).
        assert critical.first_response_due_at == now + timedelta(hours=1)
        assert critical.resolve_due_at == now + timedelta(hours=24)
        assert critical.first_response_due_at < low.first_response_due_at
        assert low.next_due_at == low.first_response_due_at


def test_self_harm_or_immediate_danger_marks_the_ticket_critical(app):
    now = utcnow()
    with app.app_context():
        self_harm, _ = make_ticket(app, category="self_harm", reporter_severity="low", now=now)
        danger, _ = make_ticket(app, immediate_danger=True, reporter_severity="medium", now=now)
        ordinary, _ = make_ticket(app, reporter_severity="medium", now=now)

        for ticket in (self_harm, danger):
            assert ticket.severity is Severity.CRITICAL
            assert ticket.needs_safety_resources
            assert ticket.first_response_due_at == now + timedelta(hours=1)
            flagged = [e for e in ticket.events if e.kind is EventKind.SAFETY_FLAGGED]
            assert len(flagged) == 1
            assert not flagged[0].is_public
        assert self_harm.reporter_severity is Severity.LOW  # kept as the reporter stated it
        assert ordinary.severity is None
        assert not ordinary.needs_safety_resources


def test_a_confirmation_email_is_queued_only_when_an_address_is_given(app):
    with app.app_context():
        with_email, token = make_ticket(app, contact_email="reporter@example.org")
        make_ticket(app)
        db.session.commit()

        messages = db.session.scalars(sa.select(OutboxMessage)).all()
        assert len(messages) == 1
        assert messages[0].to_address == "reporter@example.org"
        assert messages[0].ticket_id == with_email.id
        assert messages[0].carries_secret
        assert with_email.reference in messages[0].subject
        assert token in messages[0].body


def test_a_new_link_is_sent_only_when_reference_and_email_match(app):
    with app.app_context():
        ticket, old_token = make_ticket(app, contact_email="Reporter@Example.org")
        db.session.commit()
        before = count(OutboxMessage)

        reissue_tracking_link(
            ticket.reference, "someone@else.org", now=utcnow(), tracking_link=lambda t: t
        )
        reissue_tracking_link(
            "RP-2222-2222", "reporter@example.org", now=utcnow(), tracking_link=lambda t: t
        )
        assert count(OutboxMessage) == before
        assert find_ticket_by_token(old_token) is not None

        reissue_tracking_link(
            ticket.reference.lower(),
            " reporter@example.ORG ",
            now=utcnow(),
            tracking_link=lambda t: f"LINK:{t}",
        )
        db.session.commit()

        assert count(OutboxMessage) == before + 1
        assert find_ticket_by_token(old_token) is None
        assert ticket.tracking_version == 2
        newest = db.session.scalars(
            sa.select(OutboxMessage).order_by(OutboxMessage.id.desc())
        ).first()
        new_token = newest.body.split("LINK:")[1].split()[0]
        assert find_ticket_by_token(new_token).id == ticket.id
