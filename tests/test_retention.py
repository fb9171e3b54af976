"""Retention: once work on a report has ended, its evidence files go after a year and its
personal data and free text after two (both configurable); a dry run announces exactly what the
real run then does, and a report still being worked on is never touched."""

import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Actor, Attachment, EventKind, Status, Ticket, TicketEvent
from portal.scheduler import Clock, default_jobs
from portal.services import retention
from portal.services.attachments import store_evidence
from portal.services.status import transition
from portal.services.tickets import add_information
from tests.factories import make_ticket
from tests.reporting import files_on_disk
from tests.test_decision_page import ticket_of

DESCRIPTION = "The assistant told my son to take twice the dose."
PATH_TO_DECIDED = (Status.TRIAGED, Status.INVESTIGATING, Status.DECIDED)


@dataclass(frozen=True)
class Kept:
    """What a test needs to know of a report it made."""

    reference: str
    files: tuple[str, ...]  # storage names


def report(app, *, sent: datetime, files: int = 1, email="ana@example.org") -> Ticket:
    """A report sent at ``sent`` with ``files`` evidence files added at once. Flushes."""
    ticket, _token = make_ticket(
        app, now=sent, description=DESCRIPTION, contact_email=email, reporter_name="Ana"
    )
    folder = Path(app.config["PORTAL_UPLOAD_DIR"])
    stored = [
        store_evidence(io.BytesIO(b"chat log %d\n" % n), "chat.txt", folder) for n in range(files)
    ]
    if stored:
        add_information(ticket, text="The whole chat.", files=stored, now=sent)
    db.session.flush()
    return ticket


def closed(app, *, days_ago: int, files: int = 1, ending=Status.CLOSED) -> Kept:
    """A report whose work ended (closed after a decision, withdrawn or merged) ``days_ago``
    days ago. Commits."""
    ended_at = utcnow() - timedelta(days=days_ago)
    with app.app_context():
        ticket = report(app, sent=ended_at - timedelta(days=30), files=files)
        steps = (*PATH_TO_DECIDED, Status.CLOSED) if ending is Status.CLOSED else (ending,)
        for status in steps:
            transition(ticket, status, now=ended_at, actor=Actor.STAFF)
        db.session.commit()
        return Kept(ticket.reference, tuple(a.storage_name for a in ticket.attachments))


def still_open(app, *, days_ago: int) -> Kept:
    with app.app_context():
        ticket = report(app, sent=utcnow() - timedelta(days=days_ago))
        db.session.commit()
        return Kept(ticket.reference, tuple(a.storage_name for a in ticket.attachments))


def appealed_after_closing(app, *, days_ago: int) -> Kept:
    """Decided and closed ``days_ago`` days ago, then appealed the next day: being worked on
    again, though its ``closed_at`` is that old."""
    ended_at = utcnow() - timedelta(days=days_ago)
    with app.app_context():
        ticket = report(app, sent=ended_at - timedelta(days=10))
        for status in (*PATH_TO_DECIDED, Status.CLOSED):
            transition(ticket, status, now=ended_at, actor=Actor.STAFF)
        transition(ticket, Status.APPEALED, now=ended_at + timedelta(days=1), actor=Actor.REPORTER)
        db.session.commit()
        assert ticket.closed_at == ended_at
        return Kept(ticket.reference, tuple(a.storage_name for a in ticket.attachments))


def run_retention(app, *options: str) -> dict[str, int]:
    result = app.test_cli_runner().invoke(args=["retention", "run", *options])
    assert result.exit_code == 0, result.output
    return {
        label: int(number) for label, number in re.findall(r"^(.+): (\d+)$", result.output, re.M)
    }


def attachment_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Attachment.id)))


def stored_text(app, kept: Kept) -> tuple:
    with app.app_context():
        ticket = ticket_of(kept.reference)
        return ticket.description, ticket.contact_email, ticket.erased_at


@pytest.fixture
def portal_with_history(app):
    """Reports of every age and state, as a portal holds them after some years."""
    return {
        "closed_400_days_ago": closed(app, days_ago=400, files=2),
        "withdrawn_800_days_ago": closed(app, days_ago=800, ending=Status.WITHDRAWN),
        "merged_800_days_ago": closed(app, days_ago=800, files=0, ending=Status.MERGED),
        "closed_100_days_ago": closed(app, days_ago=100),
        "open_for_3_years": still_open(app, days_ago=3 * 365),
        "appealed_after_closing": appealed_after_closing(app, days_ago=800),
    }


# -- what goes, and when ------------------------------------------------------------------------


def test_reports_closed_a_year_ago_lose_their_files_but_keep_their_text(app, portal_with_history):
    kept = portal_with_history["closed_400_days_ago"]

    run_retention(app)

    assert not set(kept.files) & set(files_on_disk(app))
    description, email, erased_at = stored_text(app, kept)
    assert (description, email, erased_at) == (DESCRIPTION, "ana@example.org", None)
    with app.app_context():
        ticket = ticket_of(kept.reference)
        assert ticket.attachments == []
        deleted = ticket.events[-1]
        assert (deleted.kind, deleted.actor, deleted.detail) == (
            EventKind.ATTACHMENTS_DELETED,
            Actor.SYSTEM,
            {"files": 2},
        )


@pytest.mark.parametrize("which", ["withdrawn_800_days_ago", "merged_800_days_ago"])
def test_reports_ended_two_years_ago_are_anonymised(app, portal_with_history, which):
    kept = portal_with_history[which]

    run_retention(app)

    assert not set(kept.files) & set(files_on_disk(app))
    description, email, erased_at = stored_text(app, kept)
    assert (description, email) == ("", None)
    assert erased_at is not None
    with app.app_context():
        ticket = ticket_of(kept.reference)
        erased = ticket.events[-1]
        assert (erased.kind, erased.actor) == (EventKind.ERASED, Actor.SYSTEM)
        assert all(event.body is None for event in ticket.events)


@pytest.mark.parametrize(
    "which", ["open_for_3_years", "appealed_after_closing", "closed_100_days_ago"]
)
def test_reports_being_worked_on_or_recently_ended_are_untouched(app, portal_with_history, which):
    kept = portal_with_history[which]
    with app.app_context():
        events_before = len(ticket_of(kept.reference).events)

    run_retention(app)

    assert set(kept.files) <= set(files_on_disk(app))
    assert stored_text(app, kept) == (DESCRIPTION, "ana@example.org", None)
    with app.app_context():
        assert len(ticket_of(kept.reference).events) == events_before


# -- the dry run and the real run agree ---------------------------------------------------------


def test_a_dry_run_announces_exactly_what_the_real_run_then_does(app, portal_with_history):
    files_before = files_on_disk(app)

    announced = run_retention(app, "--dry-run")

    assert files_on_disk(app) == files_before  # nothing changed
    assert announced == {
        "Evidence files that would be deleted": 3,
        "Reports that would be anonymised": 2,
    }

    done = run_retention(app)

    assert done == {"Evidence files deleted": 3, "Reports anonymised": 2}
    assert len(files_on_disk(app)) == len(files_before) - 3
    assert attachment_count(app) == len(files_before) - 3
    with app.app_context():
        erased = db.session.scalar(
            sa.select(sa.func.count(Ticket.id)).where(Ticket.erased_at.is_not(None))
        )
    assert erased == 2
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_a_second_run_finds_nothing_left_to_do(app, portal_with_history):
    run_retention(app)

    assert run_retention(app) == {"Evidence files deleted": 0, "Reports anonymised": 0}
    assert run_retention(app, "--dry-run") == {
        "Evidence files that would be deleted": 0,
        "Reports that would be anonymised": 0,
    }


def test_many_reports_are_processed_in_batches_none_missed_none_twice(app, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)
    for _ in range(5):
        closed(app, days_ago=800)
    with app.app_context():
        planned = retention.plan(now=utcnow())

        done = retention.run(now=utcnow(), dry_run=False)
        db.session.commit()

        assert planned == done == retention.RetentionCounts(5, 5)
        erasures = db.session.scalar(
            sa.select(sa.func.count(TicketEvent.id)).where(TicketEvent.kind == EventKind.ERASED)
        )
        assert erasures == 5
    assert files_on_disk(app) == []


@pytest.fixture
def short_periods(app_config):
    app_config.update(
        PORTAL_APPEAL_WINDOW_DAYS=30,
        PORTAL_RETENTION_ATTACHMENTS_DAYS=30,
        PORTAL_RETENTION_ANONYMISE_DAYS=60,
    )


@pytest.fixture
def anonymise_first(app_config):
    app_config.update(
        PORTAL_APPEAL_WINDOW_DAYS=60,
        PORTAL_RETENTION_ATTACHMENTS_DAYS=365,
        PORTAL_RETENTION_ANONYMISE_DAYS=60,
    )


def test_periods_come_from_the_configuration(short_periods, app):
    recent = closed(app, days_ago=45)

    assert run_retention(app) == {"Evidence files deleted": 1, "Reports anonymised": 0}
    assert stored_text(app, recent)[0] == DESCRIPTION


def test_files_go_with_the_anonymisation_when_that_period_is_the_shorter(anonymise_first, app):
    closed(app, days_ago=100)

    assert run_retention(app, "--dry-run") == {
        "Evidence files that would be deleted": 1,
        "Reports that would be anonymised": 1,
    }
    assert run_retention(app) == {"Evidence files deleted": 1, "Reports anonymised": 1}
    assert files_on_disk(app) == []


def test_the_clock_applies_retention_and_the_files_leave_the_disk(app, portal_with_history):
    clock = Clock(app.app_context, default_jobs(app.config))

    result = clock.run("retention")

    assert result.error is None
    remaining = set(files_on_disk(app))
    assert not set(portal_with_history["closed_400_days_ago"].files) & remaining
    assert set(portal_with_history["open_for_3_years"].files) <= remaining
    assert stored_text(app, portal_with_history["withdrawn_800_days_ago"])[1] is None
