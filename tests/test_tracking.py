"""Following a report: the tracking link, the case page, adding information, withdrawing, and
getting a new link when the old one is lost."""

import html
import io
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Actor, OutboxMessage, Severity, Status, Ticket
from portal.services.status import transition
from portal.views import reports as reports_view
from tests.conftest import CSRF_PATTERN, hidden_value
from tests.factories import make_ticket
from tests.reporting import complete_answers, open_form, send

EMAIL = "reporter@example.org"
TRACK_LINK = re.compile(r"/reports/track/([A-Za-z0-9_-]+)")


@dataclass(frozen=True)
class Report:
    reference: str
    token: str

    @property
    def case_url(self) -> str:
        return f"/reports/case/{self.reference}"

    @property
    def tracking_url(self) -> str:
        return f"/reports/track/{self.token}"


@pytest.fixture
def report(app) -> Report:
    """A report from someone who gave an e-mail address and lives in New York."""
    with app.app_context():
        ticket, token = make_ticket(app, contact_email=EMAIL, timezone="America/New_York")
        db.session.commit()
        return Report(ticket.reference, token)


@pytest.fixture
def reporter(client, report):
    """A browser that has opened the report's tracking link."""
    response = client.get(report.tracking_url)
    assert response.status_code == 303
    return client


def move_ticket(app, reference: str, *statuses: Status, **transition_options) -> None:
    """Staff move the ticket through ``statuses``, one transition each."""
    with app.app_context():
        ticket = db.session.scalar(sa.select(Ticket).where(Ticket.reference == reference))
        for status in statuses:
            transition(ticket, status, now=utcnow(), actor=Actor.STAFF, **transition_options)
        db.session.commit()


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def shown_status(page: str) -> str:
    match = re.search(r"<dt>Status</dt>\s*<dd><strong[^>]*>([^<]+)</strong>", page)
    assert match, "no status on the page"
    return match.group(1)


def shown_row(page: str, title: str) -> str:
    match = re.search(rf"<dt>{re.escape(title)}</dt>\s*<dd>([^<]*)</dd>", page)
    assert match, f"no {title!r} row on the page"
    return match.group(1)


def history_titles(page: str) -> list[str]:
    return re.findall(r'<h3 class="timeline__title">([^<]+)</h3>', page)


def history_bodies(page: str) -> list[str]:
    return re.findall(r'<p class="timeline__body">([^<]*)</p>', page)


def csrf_token(client, path: str) -> str:
    return hidden_value(client.get(path).get_data(as_text=True), CSRF_PATTERN)


def ask_for_new_link(client, reference: str, email: str):
    token = csrf_token(client, "/reports/lost-link")
    return client.post(
        "/reports/lost-link", data={"csrf_token": token, "reference": reference, "email": email}
    )


def new_link_messages(app) -> list[OutboxMessage]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(OutboxMessage)
                .where(OutboxMessage.subject.startswith("Your new tracking link"))
                .order_by(OutboxMessage.id)
            )
        )


# -- the tracking link --------------------------------------------------------------------------


def test_a_tracking_link_sets_a_private_cookie_and_leaves_the_secret_out_of_the_address(
    client, report
):
    response = client.get(report.tracking_url)

    assert response.status_code == 303
    assert response.headers["Location"].endswith(report.case_url)
    assert report.token not in response.headers["Location"]
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert response.headers["Referrer-Policy"] == "no-referrer"

    case = client.get(response.headers["Location"])
    assert case.status_code == 200
    assert report.token not in case.get_data(as_text=True)
    assert case.headers["Referrer-Policy"] == "no-referrer"


def test_the_case_page_shows_status_public_history_and_target_dates_in_the_reporters_zone(
    app, reporter, report
):
    move_ticket(app, report.reference, Status.TRIAGED, body="Passed to the Trust and Safety team.")
    move_ticket(app, report.reference, Status.INVESTIGATING)
    with app.app_context():
        ticket = db.session.scalar(sa.select(Ticket).where(Ticket.reference == report.reference))
        new_york = ZoneInfo("America/New_York")
        first_response = ticket.first_response_due_at.astimezone(new_york)
        decision = ticket.resolve_due_at.astimezone(new_york)

    page = page_text(reporter.get(report.case_url))

    assert shown_status(page) == "Being investigated"
    assert history_titles(page) == ["Being investigated", "Assigned to a team", "Report received"]
    assert history_bodies(page) == ["Passed to the Trust and Safety team."]
    for title, due in [("First response by", first_response), ("Decision by", decision)]:
        shown = shown_row(page, title)
        assert shown.endswith("(America/New_York)")
        assert f"{due:%B} {due.day}, {due.year}" in shown


def test_the_case_page_never_shows_internal_events(app, client):
    with app.app_context():
        # Someone in danger: the system adds an internal "marked critical" event.
        ticket, token = make_ticket(app, immediate_danger=True)
        db.session.commit()
        reference = ticket.reference
    move_ticket(app, reference, Status.TRIAGED, is_public=False, body="Internal: call legal.")
    client.get(f"/reports/track/{token}")

    page = page_text(client.get(f"/reports/case/{reference}"))

    assert history_titles(page) == ["Report received"]
    assert "Internal: call legal." not in page
    assert "Marked critical" not in page


def test_a_wrong_tracking_link_explains_itself_and_offers_a_new_one(client, report):
    wrong = report.token[:-4] + ("AAAA" if not report.token.endswith("AAAA") else "BBBB")

    response = client.get(f"/reports/track/{wrong}")

    assert response.status_code == 404
    page = page_text(response)
    assert "This tracking link does not work" in page
    assert 'href="/reports/lost-link">Get a new tracking link</a>' in page
    assert "Set-Cookie" not in response.headers


def test_a_very_long_tracking_link_is_simply_not_found(client):
    response = client.get("/reports/track/" + "A" * 1000)

    assert response.status_code == 404
    assert "This tracking link does not work" in page_text(response)


def test_a_tracking_link_opens_only_its_own_case(app, reporter):
    with app.app_context():
        other, _token = make_ticket(app)
        db.session.commit()
        other_reference = other.reference

    response = reporter.get(f"/reports/case/{other_reference}")

    assert response.status_code == 404
    assert other_reference not in page_text(response).split("<main", 1)[1]


def test_a_reference_alone_does_not_even_reveal_that_a_report_exists(app, client):
    reference = "RP-2222-3333"
    before = client.get(f"/reports/case/{reference}")
    with app.app_context():
        ticket, _token = make_ticket(app)
        ticket.reference = reference
        db.session.commit()

    after = client.get(f"/reports/case/{reference}")

    assert (after.status_code, after.data) == (before.status_code, before.data)
    assert after.status_code == 404


@pytest.mark.parametrize("reference", ["RP-2222-3333", "A" * 1000, "%00", "RP-2222-3333%00", "%FF"])
def test_an_unknown_or_malformed_reference_is_simply_not_found(client, report, reference):
    response = client.get(f"/reports/case/{reference}")

    assert response.status_code == 404
    assert "Page not found" in page_text(response)


@pytest.mark.parametrize("segment", [0, 1, 2], ids=["payload", "timestamp", "signature"])
def test_a_tampered_session_cookie_counts_as_no_cookie(reporter, report, segment):
    value = reporter.get_cookie("session", domain="redress.test").value
    parts = value.split(".")
    middle = len(parts[segment]) // 2
    replacement = "A" if parts[segment][middle] != "A" else "B"
    parts[segment] = parts[segment][:middle] + replacement + parts[segment][middle + 1 :]
    reporter.set_cookie("session", ".".join(parts), domain="redress.test")

    response = reporter.get(report.case_url)

    assert response.status_code == 404
    assert "Page not found" in page_text(response)


# -- adding information -------------------------------------------------------------------------


def save_lands_while_sending(monkeypatch, report, **values) -> None:
    """While the reporter's addition is being stored (after the page loaded the ticket, before
    it writes), someone else saves ``values`` on the ticket."""
    original_store = reports_view.store_uploads

    def save_meanwhile(*args, **kwargs):
        with db.engine.begin() as connection:
            connection.execute(
                sa.update(Ticket)
                .where(Ticket.reference == report.reference)
                .values(row_version=Ticket.row_version + 1, **values)
            )
        return original_store(*args, **kwargs)

    monkeypatch.setattr(reports_view, "store_uploads", save_meanwhile)


def test_information_sent_while_the_report_is_merged_is_refused_not_kept(
    app, reporter, report, monkeypatch
):
    save_lands_while_sending(monkeypatch, report, status="merged")
    data = {"csrf_token": csrf_token(reporter, report.case_url), "text": "Too late?"}

    response = reporter.post(f"{report.case_url}/information", data=data)

    assert response.status_code == 303
    assert "can no longer be added" in page_text(reporter.get(report.case_url))
    with app.app_context():
        ticket = db.session.scalar(sa.select(Ticket).where(Ticket.reference == report.reference))
        assert all(event.body != "Too late?" for event in ticket.events)


def test_a_staff_save_while_the_reporter_adds_information_loses_neither(
    app, reporter, report, monkeypatch
):
    """The reporter has no form to come back to: their addition takes the ticket's lock and
    goes in after a colleague's save, instead of failing on a stale version."""
    save_lands_while_sending(monkeypatch, report, severity="critical")
    data = {"csrf_token": csrf_token(reporter, report.case_url), "text": "One more thing."}

    response = reporter.post(f"{report.case_url}/information", data=data)

    assert response.status_code == 303
    with app.app_context():
        ticket = db.session.scalar(sa.select(Ticket).where(Ticket.reference == report.reference))
        assert ticket.severity is Severity.CRITICAL
        assert ticket.events[-1].body == "One more thing."


@pytest.mark.parametrize(
    ("text", "filename"),
    [
        ("I found out that others got the same answer.", None),
        (None, "chat-log.txt"),
        ("Here is the whole conversation.", "chat-log.txt"),
    ],
    ids=["text", "file", "text-and-file"],
)
def test_information_added_by_the_reporter_appears_in_the_history(reporter, report, text, filename):
    data = {"csrf_token": csrf_token(reporter, report.case_url)}
    if text:
        data["text"] = text
    if filename:
        data["evidence"] = (io.BytesIO(b"me: how do I clean?\nbot: mix bleach\n"), filename)

    response = reporter.post(f"{report.case_url}/information", data=data)

    assert response.status_code == 303
    page = page_text(reporter.get(report.case_url))
    assert "Thank you. We have added this to your report." in page
    assert history_titles(page)[0] == "Information added"
    if text:
        assert history_bodies(page) == [text]
    if filename:
        assert f"<li>{filename}</li>" in page


def test_pasted_text_with_a_nul_character_does_not_break_the_page(reporter, report):
    data = {"csrf_token": csrf_token(reporter, report.case_url), "text": "copied\x00text"}

    response = reporter.post(f"{report.case_url}/information", data=data)

    assert response.status_code in (200, 303)
    assert "Sorry, there is a problem with the service" not in page_text(response)


def test_an_empty_addition_is_refused_with_a_message(reporter, report):
    data = {"csrf_token": csrf_token(reporter, report.case_url), "text": "   "}

    response = reporter.post(f"{report.case_url}/information", data=data)

    assert response.status_code == 200
    page = page_text(response)
    assert "Enter some information or choose a file to add" in page
    assert "Information added" not in history_titles(page)


def test_a_reply_while_we_wait_for_the_reporter_resumes_the_investigation(app, reporter, report):
    move_ticket(app, report.reference, Status.TRIAGED, Status.INVESTIGATING)
    move_ticket(app, report.reference, Status.AWAITING_REPORTER, body="Which app was it?")
    assert shown_status(page_text(reporter.get(report.case_url))) == "Waiting for your reply"

    data = {"csrf_token": csrf_token(reporter, report.case_url), "text": "The mobile app."}
    reporter.post(f"{report.case_url}/information", data=data)

    page = page_text(reporter.get(report.case_url))
    assert shown_status(page) == "Being investigated"
    assert history_bodies(page)[:2] == ["The mobile app.", "Which app was it?"]
    with app.app_context():
        ticket = db.session.scalar(sa.select(Ticket).where(Ticket.reference == report.reference))
        assert ticket.status is Status.INVESTIGATING


# -- withdrawing --------------------------------------------------------------------------------


def test_withdrawing_needs_the_confirmation_box(reporter, report):
    withdraw_url = f"{report.case_url}/withdraw"
    data = {"csrf_token": csrf_token(reporter, withdraw_url), "reason": "Changed my mind"}

    response = reporter.post(withdraw_url, data=data)

    assert response.status_code == 200
    assert "Confirm that you want to withdraw this report" in page_text(response)
    assert shown_status(page_text(reporter.get(report.case_url))) == "Received"


def test_a_withdrawn_report_shows_withdrawn_and_offers_no_withdraw_link(reporter, report):
    withdraw_url = f"{report.case_url}/withdraw"
    assert f'href="{withdraw_url}"' in page_text(reporter.get(report.case_url))
    data = {"csrf_token": csrf_token(reporter, withdraw_url), "confirm": "y", "reason": "Sorted"}

    response = reporter.post(withdraw_url, data=data)

    assert response.status_code == 303
    page = page_text(reporter.get(report.case_url))
    assert shown_status(page) == "Withdrawn"
    assert "You have withdrawn your report." in page
    assert f'href="{withdraw_url}"' not in page
    assert 'id="add-information"' not in page
    assert "Sorted" in history_bodies(page)


def test_a_decided_report_cannot_be_withdrawn(app, reporter, report):
    move_ticket(app, report.reference, Status.TRIAGED, Status.INVESTIGATING, Status.DECIDED)
    withdraw_url = f"{report.case_url}/withdraw"
    assert f'href="{withdraw_url}"' not in page_text(reporter.get(report.case_url))
    data = {"csrf_token": csrf_token(reporter, withdraw_url), "confirm": "y"}

    response = reporter.post(withdraw_url, data=data)

    assert response.status_code == 303
    page = page_text(reporter.get(report.case_url))
    assert "This report can no longer be withdrawn." in page
    assert shown_status(page) == "Decided"


# -- a lost link --------------------------------------------------------------------------------


def test_asking_for_a_new_link_answers_the_same_whether_or_not_the_details_match(
    app, client, report
):
    matching = ask_for_new_link(client, report.reference, EMAIL)
    wrong_email = ask_for_new_link(client, report.reference, "someone.else@example.org")
    unknown_reference = ask_for_new_link(client, "RP-2222-3333", EMAIL)

    assert matching.status_code == 200
    assert "Check your e-mail" in page_text(matching)
    assert (wrong_email.status_code, wrong_email.data) == (matching.status_code, matching.data)
    assert (unknown_reference.status_code, unknown_reference.data) == (
        matching.status_code,
        matching.data,
    )
    assert len(new_link_messages(app)) == 1


@pytest.mark.parametrize(
    ("reference", "email"),
    [("\x00", EMAIL), ("RP-2222-3333\x00", EMAIL), (None, "reporter\x00@example.org")],
    ids=["nul-reference", "reference-with-nul", "email-with-nul"],
)
def test_odd_characters_in_the_lost_link_form_do_not_break_it(client, report, reference, email):
    response = ask_for_new_link(client, reference or report.reference, email)

    assert response.status_code == 200
    assert "Sorry, there is a problem with the service" not in page_text(response)


def test_a_new_link_replaces_the_old_one_everywhere(app, reporter, report):
    new_browser = app.test_client()

    ask_for_new_link(reporter, report.reference, EMAIL)

    [message] = new_link_messages(app)
    assert message.to_address == EMAIL
    new_token = TRACK_LINK.search(message.body).group(1)
    assert new_token != report.token
    assert app.test_client().get(report.tracking_url).status_code == 404
    # The browser that opened the old link has lost the case too.
    assert reporter.get(report.case_url).status_code == 404
    opened = new_browser.get(f"/reports/track/{new_token}")
    assert opened.status_code == 303
    page = page_text(new_browser.get(report.case_url))
    assert history_titles(page)[0] == "New tracking link sent"


def test_the_email_address_matches_whatever_its_case(app, client, report):
    ask_for_new_link(client, report.reference.lower(), EMAIL.upper())

    assert len(new_link_messages(app)) == 1


def test_after_a_new_link_the_confirmation_page_no_longer_offers_the_old_one(app, client, registry):
    answers = complete_answers(registry, contact_email=EMAIL)
    assert send(client, open_form(client), answers).status_code == 303
    confirmation = page_text(client.get("/reports/confirmation"))
    old_link = TRACK_LINK.search(confirmation)
    assert old_link
    reference = re.search(r'<strong class="reference">([^<]+)</strong>', confirmation).group(1)

    ask_for_new_link(client, reference, EMAIL)

    page = page_text(client.get("/reports/confirmation"))
    assert old_link.group(1) not in page
    assert "This report's tracking link has been replaced. Use the newest link we sent you." in page
