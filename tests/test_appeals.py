"""A reporter appeals a decision: once, inside the window, with their reasons and new evidence;
the appeal has timers of its own and goes to someone other than the original decider."""

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    Appeal,
    AppealResult,
    AuditEntry,
    Decision,
    DurationUnit,
    EventKind,
    SlaPolicy,
    Status,
    Ticket,
)
from portal.services import sla_report
from portal.services.assignment import APPEAL_REVIEW
from portal.views import reports as reports_view
from tests.factories import make_staff, make_ticket
from tests.reporting import files_on_disk, read_page
from tests.test_decision_page import (
    OUTSIDE,
    answer_appeal,
    make_decision,
    ticket_of,
)
from tests.test_tracking import Report, csrf_token, history_bodies, history_titles, page_text

REASON = "The fix does not cover the mobile app, where I saw the same answer yesterday."


@pytest.fixture
def app_config(app_config):
    app_config["PORTAL_OUTSIDE_REDRESS"] = OUTSIDE
    return app_config


@pytest.fixture
def decider(app) -> int:
    return make_staff(app, email="decider@example.org", name="Dana Decider")


def file_report(app, client, *, days_ago: int = 0) -> Report:
    """A report sent ``days_ago`` days ago, whose tracking link ``client`` has opened."""
    with app.app_context():
        ticket, token = make_ticket(app, now=utcnow() - timedelta(days=days_ago))
        db.session.commit()
        report = Report(ticket.reference, token)
    assert client.get(report.tracking_url).status_code == 303
    return report


@pytest.fixture
def decided(app, client, decider) -> Report:
    """A report decided a moment ago by ``decider``, who held it, followed by ``client``."""
    report = file_report(app, client)
    make_decision(app, report.reference, decided_by=decider)
    with app.app_context():
        ticket_of(report.reference).assignee_id = decider
        db.session.commit()
    return report


def appeal_url(report: Report) -> str:
    return f"{report.case_url}/appeal"


def send_appeal(client, report: Report, reason=REASON, files=(), token=None):
    data = {"csrf_token": token or csrf_token(client, appeal_url(report)), "reason": reason}
    if files:
        data["evidence"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(appeal_url(report), data=data, content_type="multipart/form-data")


def appeals_of(app, report: Report) -> list[Appeal]:
    with app.app_context():
        ticket = ticket_of(report.reference)
        return list(db.session.scalars(sa.select(Appeal).where(Appeal.ticket_id == ticket.id)))


# -- appealing inside the window ----------------------------------------------------------------


def test_an_appeal_is_recorded_with_its_reasons_and_evidence_and_shown_to_the_reporter(
    app, client, decided
):
    response = send_appeal(client, decided, files=[("mobile-app.txt", b"bot: mix bleach\n")])

    assert response.status_code == 303
    assert response.headers["Location"].endswith(decided.case_url)
    page = page_text(client.get(decided.case_url))
    assert "We have received your appeal." in page
    assert history_titles(page)[:2] == ["Appeal under review", "Appeal received"]
    assert history_bodies(page)[0] == REASON
    assert "<li>mobile-app.txt</li>" in page
    assert "Your appeal is being reviewed" in page
    with app.app_context():
        ticket = ticket_of(decided.reference)
        assert ticket.status is Status.APPEALED
        [appeal] = db.session.scalars(sa.select(Appeal).where(Appeal.ticket_id == ticket.id))
        assert appeal.reason == REASON
        assert appeal.answer_id is None
        assert appeal.submitted_at == ticket.appealed_at
        event = next(event for event in ticket.events if event.kind is EventKind.APPEALED)
        assert event.is_public
        assert [attachment.original_name for attachment in event.attachments] == ["mobile-app.txt"]
        actions = db.session.scalars(sa.select(AuditEntry.action)).all()
        assert "ticket.appealed" in actions


def test_an_appeal_starts_its_own_timers_on_the_appeal_terms(app, client, decided):
    with app.app_context():
        db.session.add(
            SlaPolicy(
                for_appeals=True,
                business_hours=False,
                first_response_amount=3,
                first_response_unit=DurationUnit.HOURS,
                resolution_amount=48,
                resolution_unit=DurationUnit.HOURS,
            )
        )
        db.session.commit()

    send_appeal(client, decided)

    with app.app_context():
        ticket = ticket_of(decided.reference)
        assert ticket.first_response_at is None
        assert ticket.first_response_due_at == ticket.appealed_at + timedelta(hours=3)
        assert ticket.resolve_due_at == ticket.appealed_at + timedelta(hours=48)
        assert ticket.next_due_at == ticket.first_response_due_at
        assert utcnow() - ticket.appealed_at < timedelta(minutes=1)
        # A decision is owed again: the dashboard counts the appeal's own decision target, and
        # the first decision does not meet it.
        assert ticket.decided_at is None
        later = sla_report.report_for(None, now=ticket.appealed_at + timedelta(hours=49))
        assert (later.total.resolution.met, later.total.resolution.missed) == (0, 1)


def test_the_original_decider_hands_the_appeal_back_to_the_team(app, client, decided, decider):
    send_appeal(client, decided)

    with app.app_context():
        ticket = ticket_of(decided.reference)
        assert ticket.assignee_id is None
        assigned = [event for event in ticket.events if event.kind is EventKind.ASSIGNED]
        assert assigned[-1].detail == {"from": decider, "to": None, "reason": APPEAL_REVIEW}
        assert not assigned[-1].is_public


def test_someone_other_than_the_decider_keeps_the_appeal(app, client, decider):
    report = file_report(app, client)
    colleague = make_staff(app, email="colleague@example.org", name="Cole League")
    make_decision(app, report.reference, decided_by=decider)
    with app.app_context():
        ticket_of(report.reference).assignee_id = colleague
        db.session.commit()

    send_appeal(client, report)

    with app.app_context():
        ticket = ticket_of(report.reference)
        assert ticket.status is Status.APPEALED
        assert ticket.assignee_id == colleague


def test_a_closed_report_can_be_appealed_inside_the_window(app, client, decider):
    report = file_report(app, client, days_ago=100)
    make_decision(
        app,
        report.reference,
        decided_by=decider,
        decided_at=utcnow() - timedelta(days=90),
        status=Status.CLOSED,
    )

    response = send_appeal(client, report)

    assert response.status_code == 303
    with app.app_context():
        assert ticket_of(report.reference).status is Status.APPEALED


# -- what is refused, and how -------------------------------------------------------------------


def test_sending_the_same_appeal_twice_records_it_once(app, client, decided):
    token = csrf_token(client, appeal_url(decided))

    first = send_appeal(client, decided, token=token)
    second = send_appeal(client, decided, token=token)

    assert first.status_code == second.status_code == 303
    assert second.headers["Location"].endswith(decided.case_url)
    page = page_text(client.get(decided.case_url))
    assert "We already have your appeal against this decision, and it is being reviewed." in page
    assert len(appeals_of(app, decided)) == 1
    assert history_titles(page).count("Appeal received") == 1


def test_an_appeal_landing_while_another_is_sent_is_refused_cleanly(
    app, client, decided, monkeypatch
):
    """Two tabs: the other one's appeal is stored while this one's files are being stored."""
    original_store = reports_view.store_uploads

    def other_appeal_meanwhile(*args, **kwargs):
        with db.engine.begin() as connection:
            ticket = connection.execute(
                sa.select(Ticket.id).where(Ticket.reference == decided.reference)
            ).scalar_one()
            decision_id = connection.execute(
                sa.select(Decision.id).where(Decision.ticket_id == ticket)
            ).scalar_one()
            connection.execute(
                sa.insert(Appeal).values(
                    ticket_id=ticket,
                    decision_id=decision_id,
                    reason="Other tab",
                    submitted_at=utcnow(),
                )
            )
            connection.execute(
                sa.update(Ticket)
                .where(Ticket.id == ticket)
                .values(status="appealed", row_version=Ticket.row_version + 1)
            )
        return original_store(*args, **kwargs)

    monkeypatch.setattr(reports_view, "store_uploads", other_appeal_meanwhile)

    response = send_appeal(client, decided, files=[("note.txt", b"more")])

    assert response.status_code == 303
    assert "We already have your appeal" in page_text(client.get(decided.case_url))
    assert [appeal.reason for appeal in appeals_of(app, decided)] == ["Other tab"]
    assert files_on_disk(app) == []


def test_an_answered_appeal_cannot_be_followed_by_another(app, client, decided):
    send_appeal(client, decided)
    colleague = make_staff(app, email="reviewer@example.org", name="Rae Reviewer")
    answer_appeal(app, decided.reference, decided_by=colleague, result=AppealResult.CONFIRMED)

    shown = page_text(client.get(appeal_url(decided)))
    refused = send_appeal(client, decided, reason="I still disagree.", token="no form to post")

    assert "You have already appealed, and we have answered your appeal." in shown
    assert 'name="reason"' not in shown
    assert OUTSIDE["url"] in shown
    assert refused.status_code == 200
    page = page_text(refused)
    assert "Your appeal was not sent." in page
    assert "You have already appealed, and we have answered your appeal." in page
    assert "I still disagree." in page  # kept on screen, to use elsewhere
    assert len(appeals_of(app, decided)) == 1
    with app.app_context():
        assert ticket_of(decided.reference).status is Status.DECIDED


@pytest.mark.parametrize("status", [Status.DECIDED, Status.CLOSED])
def test_after_the_window_the_appeal_gives_way_to_the_other_routes(app, client, decider, status):
    report = file_report(app, client, days_ago=200)
    make_decision(
        app,
        report.reference,
        decided_by=decider,
        decided_at=utcnow() - timedelta(days=190),
        status=status,
    )

    case = page_text(client.get(report.case_url))
    shown = page_text(client.get(appeal_url(report)))
    refused = send_appeal(client, report, reason="I was travelling.", token="no form to post")

    for page in (case, shown):
        assert "The time to appeal here ran out on" in page
        assert f'href="{appeal_url(report)}"' not in page
        assert OUTSIDE["url"] in page
    assert 'name="reason"' not in shown
    assert refused.status_code == 200
    refused_page = page_text(refused)
    assert "Your appeal was not sent." in refused_page
    assert "The time to appeal here ran out on" in refused_page
    assert "I was travelling." in refused_page
    assert appeals_of(app, report) == []
    with app.app_context():
        assert ticket_of(report.reference).status is status


def test_a_report_not_yet_decided_cannot_be_appealed(app, client):
    report = file_report(app, client)

    shown = client.get(appeal_url(report))
    sent = send_appeal(client, report, token="no form to post")

    for response in (shown, sent):
        assert response.status_code == 303
        assert response.headers["Location"].endswith(report.case_url)
    page = page_text(client.get(report.case_url))
    assert "There is no decision on your report yet, so there is nothing to appeal." in page
    assert appeals_of(app, report) == []


def test_another_browser_cannot_appeal(app, client, decided):
    stranger = app.test_client()

    assert stranger.get(appeal_url(decided)).status_code == 404
    assert send_appeal(stranger, decided, token="none").status_code == 404
    assert appeals_of(app, decided) == []


# -- the form -----------------------------------------------------------------------------------


def test_an_appeal_needs_its_reasons(app, client, decided):
    response = send_appeal(client, decided, reason="   ")

    assert response.status_code == 200
    page = page_text(response)
    assert page.count("Tell us why you disagree with the decision") == 2  # summary and field
    assert "<title>Error: " in page
    assert read_page(page).summary_links == ["#reason"]
    assert appeals_of(app, decided) == []


def test_an_appeal_too_long_is_refused_and_kept(app, client, decided):
    reason = "x" * 10_001

    response = send_appeal(client, decided, reason=reason)

    assert response.status_code == 200
    page = page_text(response)
    assert "This must be 10,000 characters or fewer" in page
    assert read_page(page).values["reason"] == reason
    assert appeals_of(app, decided) == []


def test_a_refused_file_keeps_the_typed_reasons_and_stores_nothing(app, client, decided):
    files = [("notes.txt", b"fine"), ("program.exe", b"MZ\x90\x00\x03\x00\x00\x00")]

    response = send_appeal(client, decided, files=files)

    assert response.status_code == 200
    page = page_text(response)
    assert "“program.exe” is not a PNG, JPEG, WebP, PDF or plain text file." in page
    assert read_page(page).values["reason"] == REASON
    assert appeals_of(app, decided) == []
    assert files_on_disk(app) == []
    with app.app_context():
        assert ticket_of(decided.reference).status is Status.DECIDED


def test_an_appeal_from_a_page_whose_token_no_longer_matches_is_kept_on_screen(
    app, client, decided
):
    response = send_appeal(client, decided, token="from-an-old-page")

    assert response.status_code == 200
    page = page_text(response)
    assert "Your answers were kept, but we could not confirm that they came from this page." in page
    assert read_page(page).values["reason"] == REASON
    assert appeals_of(app, decided) == []


@pytest.fixture
def one_submission_a_minute(rate_limits):
    """Request before ``app``."""
    rate_limits(PORTAL_RATELIMIT_SUBMIT="1 per minute")


def test_appeals_are_rate_limited_like_the_other_reporter_forms(
    one_submission_a_minute, app, client, decider
):
    report = file_report(app, client)
    make_decision(app, report.reference, decided_by=decider)
    token = csrf_token(client, appeal_url(report))

    sent = [send_appeal(client, report, token=token) for _attempt in range(2)]

    assert [response.status_code for response in sent] == [303, 429]
    assert len(appeals_of(app, report)) == 1


def test_the_appeal_page_says_until_when_and_posts_with_its_token(app, client, decided):
    page = page_text(client.get(appeal_url(decided)))

    form = read_page(page)
    assert form.action == appeal_url(decided)
    assert form.hidden["csrf_token"]
    assert re.search(r"You can appeal until [^<]+\(Europe/London\)\. You can appeal once\.", page)
    assert 'enctype="multipart/form-data"' in page
