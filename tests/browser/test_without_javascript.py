"""With JavaScript switched off, every journey through Redress still works.

The portal's scripts (static/js/portal.js and exports.js) only enhance pages that work without
them: they move focus to the error summary, guess the reporter's time zone, refuse a file over
the limit as soon as it is chosen, stop a second click on "Send", and update an export's progress
in place. Here a Chromium whose JavaScript is disabled walks each journey as a person would:
it follows links, ticks radios and boxes, types, and sends forms, and every step is a whole page
answered by the server. At each step the tests check what the person sees: the page they land
on, the error summary and where its links lead, the reference, the status, the decision.

Selectors name attributes and ids, never translated words, so the journeys run in English and
in Arabic (right to left). Playwright still drives and reads the page through its own protocol:
only the page's scripts are off.
"""

import re
from collections.abc import Iterator
from datetime import datetime

import pyotp
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from portal.clock import utcnow
from portal.extensions import db
from portal.i18n import language_tag
from portal.models import OutboxMessage, Status, Ticket
from portal.services import exports
from tests.browser.conftest import (
    ADMIN_EMAIL,
    ANALYST_EMAIL,
    LIVE_APP,
    REFERENCE_PATTERN,
    REPORT_ASKED,
    REPORT_TO_DECIDE,
    STAFF_EMAIL,
    decide_for_tour,
    erasure_link_token,
    fill_required_answers,
    sign_in_as,
    submit_form,
)

pytestmark = pytest.mark.browser

BOTH_DIRECTIONS = ("en", "ar")
# A zone other than the portal's default: portal.js would preselect it on the report form, so
# finding the default there shows that the page's scripts really are off.
BROWSER_ZONE = "Pacific/Auckland"
PORTAL_ZONE = "Europe/London"  # PORTAL_DEFAULT_TIMEZONE in the tests' configuration
# The export page reloads itself every 5 seconds without JavaScript; wait for two reloads.
SELF_RELOAD_MS = 12_000


@pytest.fixture
def no_js_page(browser, live_server, demo_registry, locale) -> Iterator[Page]:
    """Like conftest's ``page``, in a fresh context whose page runs no script at all."""
    tag = language_tag(locale)
    context = browser.new_context(
        base_url=live_server,
        locale=tag,
        extra_http_headers={"Accept-Language": tag},
        viewport={"width": 1280, "height": 800},
        timezone_id=BROWSER_ZONE,
        java_script_enabled=False,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


# -- what the person sees -----------------------------------------------------------------------


def assert_language(page: Page, locale: str) -> None:
    html = page.locator("html")
    assert html.get_attribute("lang") == language_tag(locale)
    assert html.get_attribute("dir") == ("rtl" if locale == "ar" else "ltr")


def error_targets(page: Page) -> set[str]:
    """The ids the error summary's links lead to; the summary must be on screen."""
    expect(page.locator(".error-summary")).to_be_visible()
    hrefs = [link.get_attribute("href") for link in page.locator(".error-summary a").all()]
    assert hrefs, "the error summary links to no field"
    return {href.removeprefix("#") for href in hrefs}


def assert_errors_at(page: Page, *fields: str) -> None:
    """The error summary lists exactly ``fields``; each has its message next to it, and
    following the summary's first link puts the person at its field (the browser does this
    itself: no script is involved)."""
    targets = error_targets(page)
    assert targets == set(fields)
    for target in targets:
        expect(page.locator(f"#{target}")).to_have_count(1)
        # A group of radios is linked at its first radio ("kind-0"); its message is "kind-error".
        expect(page.locator(f"#{target.removesuffix('-0')}-error")).to_be_visible()
    # Nothing moved focus to the summary (portal.js would): proof that scripts are off.
    expect(page.locator(".error-summary")).not_to_be_focused()
    first = page.locator(".error-summary a").first
    target = first.get_attribute("href").removeprefix("#")
    first.click()
    assert page.url.endswith(f"#{target}")
    expect(page.locator(f"#{target}")).to_be_focused()


def follow(page: Page, selector: str) -> None:
    """Follow the first link, or press the first button, matching ``selector``."""
    with page.expect_navigation():
        page.locator(selector).first.click()


def notification(page: Page, kind: str = "success"):
    return page.locator(f"main .notification--{kind}")


# -- what the server holds ----------------------------------------------------------------------


def ticket_count() -> int:
    with LIVE_APP["app"].app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Ticket))
        db.session.remove()
    return count


def status_of(reference: str) -> Status:
    with LIVE_APP["app"].app_context():
        status = db.session.scalar(sa.select(Ticket.status).where(Ticket.reference == reference))
        db.session.remove()
    return status


def erased_at(reference: str) -> datetime | None:
    with LIVE_APP["app"].app_context():
        moment = db.session.scalar(sa.select(Ticket.erased_at).where(Ticket.reference == reference))
        db.session.remove()
    return moment


def newest_link_emailed(reference: str, path: str) -> str:
    """The path of the newest link to ``path`` e-mailed about ``reference``."""
    with LIVE_APP["app"].app_context():
        body = db.session.scalar(
            sa.select(OutboxMessage.body)
            .join(Ticket, Ticket.id == OutboxMessage.ticket_id)
            .where(Ticket.reference == reference, OutboxMessage.body.contains(path))
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        db.session.remove()
    assert body, f"no {path} link was e-mailed about {reference}"
    return re.search(rf"({re.escape(path)}\S+)", body).group(1)


def run_queued_export() -> None:
    """What the clock does in the background: run the export that waits."""
    with LIVE_APP["app"].app_context():
        exports.run_next_queued(utcnow())
        db.session.remove()


# -- 1. a reporter files, follows, adds to and withdraws a report ------------------------------


@pytest.mark.parametrize("locale", BOTH_DIRECTIONS)
def test_a_reporter_files_follows_and_withdraws_a_report(no_js_page, locale):
    page = no_js_page
    page.goto("/")
    assert_language(page, locale)
    for kind in ("harm_report", "output_dispute"):
        expect(page.locator(f"main a[href$='/reports/new?kind={kind}']")).to_have_count(1)

    # A link that names no kind (an old bookmark) leads to the start page's question.
    page.goto("/reports/new")
    assert page.url.endswith("/reports/")
    submit_form(page)  # "Continue" with nothing chosen
    assert_errors_at(page, "kind-0")
    page.check("input[name='kind'][value='harm_report']")
    submit_form(page)
    assert page.url.endswith("/reports/new?kind=harm_report")
    # The server's default zone, not the browser's: no script guessed it.
    assert page.input_value("#timezone") == PORTAL_ZONE

    before = ticket_count()
    submit_form(page)  # every answer missing
    assert_errors_at(
        page,
        "reporter_role-0",
        "model_choice",
        "output_text",
        "category-0",
        "description",
        "reporter_severity-0",
        "immediate_danger-0",
    )
    assert ticket_count() == before, "a report with errors was stored"

    fill_required_answers(page, "harm_report")
    submit_form(page)
    page.wait_for_url("**/reports/confirmation")
    assert ticket_count() == before + 1
    reference = page.locator(".reference").inner_text().strip()
    assert REFERENCE_PATTERN.match(reference), reference
    tracking_link = page.locator(".tracking-link a")
    assert "/reports/track/" in tracking_link.get_attribute("href")

    follow(page, ".tracking-link a")
    page.wait_for_url(f"**/reports/case/{reference}")
    assert_language(page, locale)
    assert reference in page.locator("h1").inner_text()
    expect(page.locator(".summary-list .tag--new")).to_be_visible()

    # Add information: nothing typed is an error; then the text is added to the history.
    submit_form(page)  # the first form of the page: "Add to my report"
    assert_errors_at(page, "text")
    page.fill("#text", "The same answer came back the next day.")
    follow(page, "form[action$='/information'] button[type='submit']")
    expect(notification(page)).to_be_visible()
    expect(page.locator(".timeline__body", has_text="came back the next day")).to_have_count(1)

    # Withdraw: refused until confirmed, then the report is withdrawn.
    follow(page, "main a[href$='/withdraw']")
    submit_form(page)
    assert_errors_at(page, "confirm")
    page.check("#confirm")
    submit_form(page)
    page.wait_for_url(f"**/reports/case/{reference}")
    expect(notification(page)).to_be_visible()
    expect(page.locator(".summary-list .tag--withdrawn")).to_be_visible()
    expect(page.locator("main a[href$='/withdraw']")).to_have_count(0)
    assert status_of(reference) is Status.WITHDRAWN


# -- 2. a lost tracking link --------------------------------------------------------------------


@pytest.mark.parametrize("locale", BOTH_DIRECTIONS)
def test_a_reporter_who_lost_the_link_gets_a_new_one(no_js_page, locale):
    page = no_js_page
    reference, old_token = REPORT_ASKED["reference"], REPORT_ASKED["token"]
    page.goto("/")
    follow(page, "footer a[href$='/reports/lost-link']")
    assert_language(page, locale)

    submit_form(page)
    assert_errors_at(page, "reference", "email")
    page.fill("#reference", reference)
    page.fill("#email", "asked@example.org")
    submit_form(page)
    # The "sent" page: no form, whatever the answers (it must not tell whether they matched).
    expect(page.locator("main form")).to_have_count(0)
    expect(page.locator("main a[href='/']")).to_have_count(1)

    # The e-mailed link opens the report; the old one no longer does.
    page.goto(newest_link_emailed(reference, "/reports/track/"))
    page.wait_for_url(f"**/reports/case/{reference}")
    assert reference in page.locator("h1").inner_text()
    response = page.goto(f"/reports/track/{old_token}")
    assert response.status == 404


# -- 3. the language switcher -------------------------------------------------------------------


def test_the_language_switcher_is_links_that_keep_the_page(no_js_page):
    page = no_js_page
    path = "/reports/new?kind=output_dispute"
    page.goto(path)
    assert_language(page, "en")

    for locale in ("fr", "ar", "en"):
        follow(page, f".language-switcher a[hreflang='{language_tag(locale)}']")
        assert page.url.endswith(path), page.url
        assert_language(page, locale)
        current = page.locator(".language-switcher__current")
        assert current.get_attribute("lang") == language_tag(locale)
        # The same page: the dispute form, with its question about the expected output.
        expect(page.locator("#expected_output")).to_have_count(1)


# -- 4. staff triage, and a decision ------------------------------------------------------------


@pytest.mark.parametrize("locale", BOTH_DIRECTIONS)
def test_an_agent_triages_a_report_and_decides_another(no_js_page, locale):
    page = no_js_page
    page.goto("/staff/queue")  # signed out: the sign-in page
    submit_form(page)
    assert_errors_at(page, "email", "password")
    sign_in_as(page, STAFF_EMAIL)
    page.wait_for_url("**/staff/queue")
    assert_language(page, locale)

    # The filters are a GET form: the French report alone.
    page.select_option("#language", "fr")
    follow(page, "form.queue-filters button[type='submit']")
    assert "language=fr" in page.url
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(1)
    reference = rows.locator("a").inner_text().strip()
    follow(page, "main table tbody a")
    page.wait_for_url(f"**/staff/tickets/{reference}")
    expect(page.locator(".summary-list .tag--new")).to_be_visible()

    follow(page, "form[action$='/assign'] button[name='claim']")  # "Assign to me"
    expect(notification(page)).to_be_visible()
    assert "Ada Agent" in page.locator("main .summary-list").first.inner_text()

    page.select_option("form[action$='/classification'] select[name='severity']", "critical")
    follow(page, "form[action$='/classification'] button[type='submit']")
    expect(notification(page)).to_be_visible()
    severity = page.locator("form[action$='/classification'] select[name='severity']")
    assert severity.input_value() == "critical"

    follow(page, "form[action$='/reply'] button[type='submit']")  # an empty reply
    assert_errors_at(page, "reply")
    reply = "Nous examinons votre signalement et vous répondrons d'ici vendredi."
    page.fill("#reply", reply)
    follow(page, "form[action$='/reply'] button[type='submit']")
    expect(notification(page)).to_be_visible()
    expect(page.locator("main", has_text=reply)).to_have_count(1)

    note = "Checked with the model team: the answer is reproducible."
    page.fill("#note", note)
    follow(page, "form[action$='/notes'] button[type='submit']")
    expect(notification(page)).to_be_visible()
    expect(page.locator("main", has_text=note)).to_have_count(1)

    # The decision form (tour_redress's answers): refused when empty, then sent.
    to_decide = REPORT_TO_DECIDE["reference"]
    page.goto(f"/staff/tickets/{to_decide}")
    send_decision = "form[action$='/decision'] button[type='submit']"
    follow(page, send_decision)
    targets = error_targets(page)
    assert {"outcome-0", "facts", "measure", "policy_clause"} <= targets
    page.check("input[name='outcome'][value='partly_upheld']")
    page.check("input[name='remedies'][value='safeguard_added']")
    page.fill("#facts", "The answer advised stopping a prescribed medicine without a doctor.")
    page.fill("#measure", "A safeguard now refers such questions to a doctor, in every language.")
    page.check("input[name='automated_means'][value='detection']")
    page.fill("#policy_clause", "Usage policy 4.2: medical advice")
    follow(page, send_decision)
    expect(notification(page)).to_be_visible()
    expect(page.locator(".summary-list .tag--decided")).to_be_visible()
    expect(page.locator("#decisions-heading")).to_be_visible()
    assert status_of(to_decide) is Status.DECIDED


# -- 5. the reporter reads the decision and appeals ---------------------------------------------


@pytest.mark.parametrize("locale", BOTH_DIRECTIONS)
def test_a_reporter_reads_the_decision_and_appeals(no_js_page, locale):
    page = no_js_page
    reference, token = REPORT_TO_DECIDE["reference"], REPORT_TO_DECIDE["token"]
    with LIVE_APP["app"].app_context():  # the agent decides (journey 4 does it in a browser)
        ticket = db.session.scalar(sa.select(Ticket).where(Ticket.reference == reference))
        decide_for_tour(ticket, now=utcnow())
        db.session.commit()
        db.session.remove()

    page.goto(f"/reports/track/{token}")
    page.wait_for_url(f"**/reports/case/{reference}")
    assert_language(page, locale)
    expect(page.locator(".summary-list .tag--decided")).to_be_visible()
    expect(page.locator("#decision-heading")).to_be_visible()
    decision = page.locator(".decision-record").first.inner_text()
    assert "The dosage shown matched the leaflet of the medicine." in decision
    assert "Usage policy 4.2: medical advice" in decision

    # The printable record is a page of its own.
    follow(page, "main a[href$='/decision']")
    expect(page.locator("main", has_text="matched the leaflet")).to_have_count(1)
    page.go_back()

    follow(page, "main a.button[href$='/appeal']")
    submit_form(page)
    assert_errors_at(page, "reason")
    reason = "The leaflet is for adults: the assistant was asked about a child."
    page.fill("#reason", reason)
    submit_form(page)
    page.wait_for_url(f"**/reports/case/{reference}")
    expect(notification(page)).to_be_visible()
    expect(page.locator(".summary-list .tag--appealed")).to_be_visible()
    expect(page.locator("#appeal-heading")).to_be_visible()
    expect(page.locator("main", has_text=reason)).to_have_count(1)
    expect(page.locator("main a.button[href$='/appeal']")).to_have_count(0)
    assert status_of(reference) is Status.APPEALED


# -- 6. the follow-up question, and erasure -----------------------------------------------------


@pytest.mark.parametrize("locale", BOTH_DIRECTIONS)
def test_a_reporter_answers_the_follow_up_and_has_the_data_erased(no_js_page, locale):
    page = no_js_page
    reference, token = REPORT_ASKED["reference"], REPORT_ASKED["token"]
    page.goto(f"/reports/track/{token}")
    page.wait_for_url(f"**/reports/case/{reference}")
    assert_language(page, locale)
    expect(page.locator("#follow-up")).to_be_visible()

    # The answer is the button pressed: its name and value travel with the form. (The one error
    # a person can make here, a comment too long, is the test below.)
    page.fill("#comment", "Only on the website.")
    follow(page, "form[action$='/follow-up'] button[value='partly']")
    expect(notification(page)).to_be_visible()
    expect(page.locator("form[action$='/follow-up']")).to_have_count(0)
    expect(page.locator(".timeline__body", has_text="Only on the website.")).to_have_count(1)

    follow(page, "main a[href$='/erase']")
    submit_form(page)  # not confirmed
    assert_errors_at(page, "confirm")
    page.check("#confirm")
    submit_form(page)
    page.wait_for_url(f"**/reports/case/{reference}/erase/requested")
    expect(page.locator(f"main a[href$='/reports/case/{reference}']")).to_have_count(1)
    assert erased_at(reference) is None, "erased before the e-mailed link was opened"

    page.goto(f"/reports/erase/{erasure_link_token(reference)}")
    expect(page.locator("main form[action*='/reports/erase/']")).to_have_count(1)
    submit_form(page)
    page.wait_for_url("**/reports/erased")
    assert reference in page.locator(".panel__body").inner_text()
    assert erased_at(reference) is not None
    assert page.goto(f"/reports/track/{token}").status == 404


# Every MaxChars validator (portal/forms/__init__.py) calls flask_babel's ngettext with ``num``
# both as its third argument and as a keyword: "TypeError: Domain.ngettext() got multiple values
# for argument 'num'", so any answer over its length limit gets the 500 error page instead of
# the form again with its error summary (and the reporter loses what they typed).
def test_a_follow_up_comment_too_long_is_shown_as_an_error(no_js_page):
    page = no_js_page
    page.goto(f"/reports/track/{REPORT_ASKED['token']}")
    page.fill("#comment", "x" * 2_001)  # the limit is 2,000 characters

    with page.expect_navigation() as navigation:
        page.locator("form[action$='/follow-up'] button[value='partly']").click()

    assert navigation.value.status == 200
    assert_errors_at(page, "comment")
    assert page.input_value("#comment") == "x" * 2_001


def test_a_report_whose_description_is_too_long_is_shown_as_an_error(no_js_page):
    page = no_js_page
    page.goto("/reports/new?kind=harm_report")
    fill_required_answers(page, "harm_report")
    page.fill("#description", "x" * 10_001)  # the limit is 10,000 characters
    before = ticket_count()

    with page.expect_navigation() as navigation:
        page.locator("main form button[type='submit']").click()

    assert navigation.value.status == 200
    assert_errors_at(page, "description")
    assert ticket_count() == before


# -- 7. an analyst's exports and API tokens -----------------------------------------------------


@pytest.mark.parametrize("locale", BOTH_DIRECTIONS)
def test_an_analyst_previews_requests_and_downloads_an_export(no_js_page, locale):
    page = no_js_page
    page.goto("/exports/")
    sign_in_as(page, ANALYST_EMAIL)
    page.wait_for_url("**/exports/")
    assert_language(page, locale)

    # The filters are a GET form; versions in the wrong order are an error.
    filters = "form[action$='/exports/preview']"
    page.select_option(f"{filters} #model", "aurora-chat")
    page.select_option(f"{filters} #version_from", "3.0")
    page.select_option(f"{filters} #version_to", "2.5")
    follow(page, f"{filters} button[type='submit']")
    assert "/exports/preview?" in page.url
    assert error_targets(page)
    expect(page.locator("#count-heading")).to_have_count(0)
    page.select_option(f"{filters} #version_to", "3.0")
    follow(page, f"{filters} button[type='submit']")
    expect(page.locator("#count-heading")).to_be_visible()

    # Requested, it waits for the clock: the page says it reloads itself (a <noscript> refresh)
    # and reloads until the export has finished, then lists the files.
    page.check("input[name='format'][value='parquet']")
    follow(page, "form[action$='/exports/'] button[type='submit']")
    page.wait_for_url(re.compile(r"/exports/\d+$"))
    expect(notification(page)).to_be_visible()
    expect(page.locator("main a[href$='refresh=off']")).to_be_visible()
    expect(page.locator("#files-heading")).to_have_count(0)
    run_queued_export()
    page.locator("#files-heading").wait_for(timeout=SELF_RELOAD_MS)
    expect(page.locator("main a[href$='refresh=off']")).to_have_count(0)
    with page.expect_download() as download:
        page.locator("main a[href$='/files/records.parquet']").click()
    assert download.value.suggested_filename.endswith("records.parquet")

    # A second export, followed by hand: "Stop reloading", then "Check the progress again".
    page.goto("/exports/preview?model=aurora-chat")
    page.check("input[name='format'][value='hf']")
    follow(page, "form[action$='/exports/'] button[type='submit']")
    follow(page, "main a[href$='refresh=off']")
    expect(page.locator("meta[http-equiv='refresh']")).to_have_count(0)
    run_queued_export()
    follow(page, "main a[href$='refresh=off']")  # "Check the progress again"
    expect(page.locator("#files-heading")).to_be_visible()
    expect(page.locator("main a[href$='/dataset.zip']")).to_have_count(1)

    # API tokens: a name is required; the secret is shown once; a token is revoked.
    page.goto("/exports/")
    follow(page, "main a[href$='/exports/tokens']")
    create = "form[action$='/exports/tokens'] button[type='submit']"
    follow(page, create)
    assert_errors_at(page, "name")
    page.fill("#name", "Notebook on my laptop")
    follow(page, create)
    assert page.locator(".admin-password__value").inner_text().startswith("rdx_")
    follow(page, "form[action$='/revoke'] button[type='submit']")
    expect(notification(page)).to_be_visible()
    expect(page.locator("main table .tag--disabled")).to_have_count(1)
    expect(page.locator("form[action$='/revoke']")).to_have_count(0)


# -- 8. an administrator ------------------------------------------------------------------------


@pytest.mark.parametrize("locale", BOTH_DIRECTIONS)
def test_an_administrator_sets_up_two_steps_and_uses_the_admin_pages(no_js_page, locale):
    page = no_js_page
    page.goto("/staff/admin/")
    sign_in_as(page, ADMIN_EMAIL)
    # First sign-in: the authenticator app is set up from the key shown as text.
    page.wait_for_url("**/auth/set-up-two-step")
    submit_form(page)  # no code
    assert_errors_at(page, "code")
    secret = page.locator(".two-step__key").inner_text().replace(" ", "")
    page.fill("#code", pyotp.TOTP(secret).now())
    submit_form(page)
    page.wait_for_url("**/staff/admin/")
    assert_language(page, locale)

    follow(page, ".staff-nav a[href$='/staff/sla']")
    page.wait_for_url("**/staff/sla")
    expect(page.locator("main h1")).to_be_visible()
    expect(page.locator("main table").first).to_be_visible()

    follow(page, ".staff-nav a[href$='/staff/admin/']")
    follow(page, "main a[href$='/staff/admin/staff']")
    follow(page, "main a[href$='/staff/admin/staff/new']")
    submit_form(page)  # nothing filled in
    targets = error_targets(page)
    assert {"email", "display_name"} <= targets
    for target in targets:
        expect(page.locator(f"#{target}")).to_have_count(1)
    page.fill("#email", "new.agent@example.org")
    page.fill("#display_name", "Nia New")
    page.check("input[name='roles'][value='agent']")
    submit_form(page)
    expect(notification(page)).to_be_visible()
    # The first password is shown once, as text.
    assert page.locator(".admin-password__value").inner_text().strip()
