"""A live portal and a real Chromium for the browser tests, and the ways to reach each page.

One server and one browser per xdist worker; every test gets a fresh browser context (its own
cookies, so its own session) and a database holding only the demo model registry. The registry
is loaded per test rather than once, because other tests in the same worker empty every table
after themselves, and their ``registry`` fixture expects to find the tables empty.
"""

import io
import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import ConsoleMessage, Page, sync_playwright
from werkzeug.serving import make_server

from portal import create_app
from portal.clock import utcnow
from portal.config import SUPPORTED_LOCALES
from portal.extensions import db
from portal.i18n import LOCALE_COOKIE, PSEUDO_LOCALE, language_tag
from portal.models import (
    AutomatedMeans,
    ModelVersion,
    OutboxMessage,
    OutboxStatus,
    Outcome,
    ReasonTemplate,
    Remedy,
    SavedReply,
    Severity,
    SlaPolicy,
    StaffUser,
    Status,
    Team,
    Ticket,
)
from portal.models.enums import Role
from portal.models.routing import TeamMembership
from portal.models.sla import DurationUnit
from portal.services import decisions, exports, follow_up
from portal.services.accounts import create_user, hasher_from_config
from portal.services.attachments import store_evidence
from portal.services.tickets import add_information
from tests.conftest import base_config, empty_all_tables, skip_or_fail
from tests.factories import make_registry, make_ticket, route_everything_to

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPOSITORY_ROOT / "test-output" / "screenshots"

# Every page in every state: English, Arabic (right to left) and the pseudo-locale (which finds
# text that skipped translation); every page in its first state in the other languages.
LOCALES = ("en", "ar", PSEUDO_LOCALE)
OTHER_LOCALES = tuple(code for code in SUPPORTED_LOCALES if code not in LOCALES)

STAFF_EMAIL = "agent@example.org"
STAFF_PASSWORD = "correct horse battery staple"
# An administrator must set up an authenticator app at the first sign-in.
ADMIN_EMAIL = "admin@example.org"
ANALYST_EMAIL = "analyst@example.org"

REFERENCE_PATTERN = re.compile(r"^RP-[2-9A-Z]{4}-[2-9A-Z]{4}$")


# -- the server and the browser -----------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    return str(CHROMIUM)


# The live app, for tours that read what it has queued (the tours see only a browser page).
LIVE_APP: dict = {}


@pytest.fixture(scope="session")
def live_app(database_url, tmp_path_factory):
    config = base_config(database_url, tmp_path_factory.mktemp("live-server"))
    config.update(
        {
            "RATELIMIT_ENABLED": False,
            # A real browser sends the token it was given, so the real check stays on.
            "WTF_CSRF_ENABLED": True,
            # Links must point at the address the browser uses, not at "redress.test".
            "SERVER_NAME": None,
            # The browser keeps the site's files instead of asking again: Werkzeug's "304 Not
            # Modified" answer drops the opened file unclosed, and the ResourceWarning that
            # follows would fail whichever test is running when it is collected.
            "SEND_FILE_MAX_AGE_DEFAULT": 3600,
        }
    )
    app = create_app(config)
    LIVE_APP["app"] = app
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app):
    """The portal served on a free port of 127.0.0.1; yields its base URL (no trailing slash)."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_port}"
    # Tracking links are built on the configured base URL: the one the browser uses.
    live_app.config["PORTAL_BASE_URL"] = base_url
    yield base_url
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def tiny_png() -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 40, 40)).save(image, format="PNG")
    return image.getvalue()


# The reference and tracking token of the report the redress tour decides (load_casework).
REPORT_TO_DECIDE: dict[str, str] = {}
# The same of a report decided 15 days ago, whose reporter the clock has asked the follow-up
# question; its reporter gave an e-mail address (so an erasure is confirmed by e-mail).
REPORT_ASKED: dict[str, str] = {}
# A report's tracking token in each status the other tours do not reach, for its tracking page.
TRACKING_BY_STATUS: dict[Status, str] = {}
STATUSES_SET_DIRECTLY = (
    Status.TRIAGED,
    Status.INVESTIGATING,
    Status.AWAITING_REPORTER,
    Status.CLOSED,
    Status.WITHDRAWN,
    Status.MERGED,
)


def load_casework(app) -> None:
    """Reports for the staff pages: every new report goes to Trust and Safety, where the agent
    works; two related reports (one from a French speaker, with an image), a saved reply."""
    route_everything_to("trust-safety")
    version = db.session.scalar(sa.select(ModelVersion).where(ModelVersion.version == "3.0"))
    about_aurora = {"model_id": version.model_id, "model_version_id": version.id}
    first, _token = make_ticket(
        app,
        locale="fr",
        contact_email="reporter@example.org",
        consent_contact=True,
        description="Il m'a conseillé de mélanger de la Javel et de l'ammoniaque.",
        **about_aurora,
    )
    evidence = store_evidence(
        io.BytesIO(tiny_png()), "screenshot.png", Path(app.config["PORTAL_UPLOAD_DIR"])
    )
    add_information(first, text="A screenshot of the answer.", files=[evidence], now=utcnow())
    make_ticket(app, **about_aurora)
    make_ticket(app, category="privacy", reporter_severity="critical")
    # Reports whose reporters agreed they may improve models: the analysts' exports.
    for output in (
        "It told me to write to help@example.org for a refund that does not exist.",
        "Il a inventé une loi qui n'existe pas.",
    ):
        make_ticket(app, consent_training=True, output_text=output, **about_aurora)
    # The report the redress tour decides, and its reporter then appeals.
    to_decide, token = make_ticket(app, description="The assistant told me to stop my medicine.")
    REPORT_TO_DECIDE.update(reference=to_decide.reference, token=token)
    decided_at = utcnow() - timedelta(days=15)
    asked, token = make_ticket(
        app,
        contact_email="asked@example.org",
        description="The assistant gave me a wrong dosage.",
        now=decided_at - timedelta(days=2),
    )
    decide_for_tour(asked, now=decided_at)
    follow_up.run_due(now=utcnow())
    REPORT_ASKED.update(reference=asked.reference, token=token)
    # Past its critical deadlines (the dashboard's "breached", the queue's tag), and an e-mail
    # about it the outbox gave up on.
    overdue, _token = make_ticket(
        app, reporter_severity="critical", now=utcnow() - timedelta(hours=30)
    )
    db.session.add(
        OutboxMessage(
            to_address="reporter@example.org",
            subject=f"About your report {overdue.reference}",
            body="We have news about your report.",
            locale="en",
            ticket=overdue,
            status=OutboxStatus.FAILED,
            attempts=12,
            last_error="SMTPRecipientsRefused",
            created_at=overdue.created_at,
            next_attempt_at=overdue.created_at,
        )
    )
    team = db.session.scalar(sa.select(Team).where(Team.slug == "trust-safety"))
    db.session.add(
        SavedReply(
            team=team,
            locale="fr",
            title="Accusé de réception",
            body="Merci pour votre signalement : nous l'examinons.",
        )
    )
    # The tracking page in each status (set directly: the services' own tests walk the ways
    # there); a merged report names the one it was merged into.
    for status in STATUSES_SET_DIRECTLY:
        ticket, token = make_ticket(app, **about_aurora)
        ticket.status = status
        if status is Status.MERGED:
            ticket.merged_into = first
        TRACKING_BY_STATUS[status] = token
    # For the administration's edit pages.
    db.session.add(
        ReasonTemplate(
            team=team,
            outcome=Outcome.NOT_UPHELD,
            locale="en",
            title="Within policy",
            facts="The output followed the published policy.",
            measure="No change to the model.",
            policy_clause="Usage policy, section 2",
        )
    )
    db.session.add(
        SlaPolicy(
            severity=Severity.HIGH,
            team=team,
            business_hours=True,
            first_response_amount=4,
            first_response_unit=DurationUnit.HOURS,
            next_update_amount=1,
            next_update_unit=DurationUnit.BUSINESS_DAYS,
            resolution_amount=3,
            resolution_unit=DurationUnit.BUSINESS_DAYS,
        )
    )


def decide_for_tour(ticket, *, now, **answers) -> None:
    """The agent decides ``ticket`` through the decision service."""
    agent = db.session.scalar(sa.select(StaffUser).where(StaffUser.email == STAFF_EMAIL))
    values = {
        "outcome": Outcome.NOT_UPHELD,
        "remedies": [Remedy.NONE],
        "remedy_details": None,
        "fixed_in_version_id": None,
        "facts": "The dosage shown matched the leaflet of the medicine.",
        "measure": "No change to the model.",
        "automated_means": AutomatedMeans.NONE,
        "policy_clause": "Usage policy 4.2: medical advice",
        "language": "en",
    }
    values.update(answers)
    decisions.decide(
        ticket, staff=agent, now=now, lost_link_url=lambda: "/reports/lost-link", **values
    )


@pytest.fixture
def demo_registry(live_app):
    """The demo models, an agent's account and an administrator's, and reports for the staff
    pages, for the duration of one test; every table is emptied afterwards."""
    load_demo(live_app)
    yield
    with live_app.app_context():
        db.session.remove()
        empty_all_tables()


def load_demo(live_app) -> None:
    """Empty every table, then load what the demo_registry fixture describes."""
    with live_app.app_context():
        empty_all_tables()
        make_registry()
        for email, name, roles in (
            (STAFF_EMAIL, "Ada Agent", [Role.AGENT]),
            (ADMIN_EMAIL, "Ali Admin", [Role.ADMIN]),
            (ANALYST_EMAIL, "Ana Analyst", [Role.ANALYST]),
        ):
            user = create_user(
                email, name, STAFF_PASSWORD, roles, hasher=hasher_from_config(live_app.config)
            )
            team = db.session.scalar(sa.select(Team).where(Team.slug == "trust-safety"))
            db.session.add(TeamMembership(team=team, user=user))
        load_casework(live_app)
        db.session.commit()
        db.session.remove()


@pytest.fixture(scope="session")
def browser(chromium_path):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def locale() -> str:
    """The language the browser asks for; tests parametrize it."""
    return "en"


@pytest.fixture
def console_messages() -> list[str]:
    return []


@pytest.fixture
def page(browser, live_server, demo_registry, locale, console_messages) -> Page:
    """A page in a fresh context whose browser asks for ``locale``; console output is recorded.
    No browser asks for the pseudo-locale: it is chosen as in the switcher, by its cookie."""
    tag = "en" if locale == PSEUDO_LOCALE else language_tag(locale)
    context = browser.new_context(
        base_url=live_server,
        locale=tag,
        extra_http_headers={"Accept-Language": tag},
        viewport={"width": 1280, "height": 800},
    )
    if locale == PSEUDO_LOCALE:
        host = live_server.split("://")[1].split(":")[0]
        context.add_cookies([{"name": LOCALE_COOKIE, "value": locale, "domain": host, "path": "/"}])
    context.set_default_timeout(10_000)
    page = context.new_page()

    def record(message: ConsoleMessage) -> None:
        console_messages.append(f"{message.type}: {message.text}")

    page.on("console", record)
    page.on("pageerror", lambda error: console_messages.append(f"pageerror: {error}"))
    yield page
    context.close()


def csp_violations(console_messages: list[str]) -> list[str]:
    return [message for message in console_messages if "Content Security Policy" in message]


def save_screenshot(page: Page, name: str) -> None:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True)


# -- reaching each page -------------------------------------------------------------------------


def fill_required_answers(page: Page, kind: str) -> None:
    """Answer the required questions with Playwright's form helpers (see the keyboard tests)."""
    page.check("#reporter_role-0")
    models = page.locator("#model_choice option[value^='version:']")
    page.select_option("#model_choice", value=models.first.get_attribute("value"))
    page.fill("#output_text", "The assistant told me to mix bleach and ammonia.")
    if kind == "output_dispute":
        page.fill("#expected_output", "It should have said never to mix them.")
    page.check("#category-0")
    page.fill("#description", "These chemicals make a toxic gas.")
    page.check("input[name='reporter_severity'][value='medium']")
    page.check("input[name='immediate_danger'][value='no']")


def submit_form(page: Page) -> None:
    """Press the form's submit button and wait for the page the server answers with."""
    with page.expect_navigation():
        page.locator("main form button[type='submit']").click()


def tour_site_pages(page: Page) -> Iterator[str]:
    page.goto("/")
    yield "home"
    page.goto("/privacy")
    yield "privacy"
    page.goto("/accessibility")
    yield "accessibility-statement"
    page.goto("/reports/track/this-link-was-never-issued")
    yield "invalid-tracking-link"
    page.goto("/no-such-page")
    yield "not-found"


def tour_start(page: Page) -> Iterator[str]:
    page.goto("/reports/")
    yield "start"
    submit_form(page)  # nothing chosen
    yield "start-error"
    page.goto("/reports/?kind=unknown")  # a link naming a kind that does not exist
    yield "start-error-unknown-kind"


def tour_harm_report(page: Page) -> Iterator[str]:
    page.goto("/reports/new?kind=harm_report")
    yield "harm-report-form"
    submit_form(page)  # every answer missing
    yield "harm-report-form-error"
    fill_required_answers(page, "harm_report")
    submit_form(page)
    page.wait_for_url("**/reports/confirmation")
    yield "confirmation"
    with page.expect_navigation():
        page.locator(".tracking-link a").click()
    page.wait_for_url("**/reports/case/*")
    yield "case"
    submit_form(page)  # "Add to my report" with nothing added
    yield "case-error"
    with page.expect_navigation():
        page.locator("main a[href$='/withdraw']").click()
    yield "withdraw"
    submit_form(page)  # not confirmed
    yield "withdraw-error"


def tour_output_dispute(page: Page) -> Iterator[str]:
    page.goto("/reports/new?kind=output_dispute")
    yield "output-dispute-form"
    submit_form(page)
    yield "output-dispute-form-error"
    # The accessibility statement's way to tell us about a barrier.
    page.goto("/accessibility")
    with page.expect_navigation():
        page.locator("main a[href*='kind=accessibility_barrier']").click()
    yield "barrier-form"
    submit_form(page)
    yield "barrier-form-error"
    page.fill("#description", "The date field did not accept my screen reader's input.")
    submit_form(page)
    page.wait_for_url("**/reports/confirmation")
    yield "barrier-confirmation"


def tour_tracking_statuses(page: Page) -> Iterator[str]:
    """The reporter's tracking page in the statuses the other walks do not reach."""
    for status, token in TRACKING_BY_STATUS.items():
        page.goto(f"/reports/track/{token}")
        yield f"tracking-{status.value}"


def tour_lost_link(page: Page) -> Iterator[str]:
    page.goto("/reports/lost-link")
    yield "lost-link"
    submit_form(page)
    yield "lost-link-error"
    page.fill("#reference", "RP-7K3M-Q9P2")
    page.fill("#email", "someone@example.com")
    submit_form(page)
    yield "lost-link-sent"


def sign_in_as(page: Page, email: str) -> None:
    """From the sign-in page, give the account's password."""
    page.fill("#email", email)
    page.fill("#password", STAFF_PASSWORD)
    submit_form(page)


def sign_out(page: Page) -> None:
    with page.expect_navigation():
        page.locator(".site-header__sign-out button").click()


def tour_staff(page: Page) -> Iterator[str]:
    page.goto("/staff/")  # signed out: the sign-in page
    yield "sign-in"
    submit_form(page)
    yield "sign-in-error"
    sign_in_as(page, STAFF_EMAIL)
    page.wait_for_url("**/staff/queue")
    yield "queue"
    page.goto("/auth/two-step-verification")
    yield "two-step-verification"
    sign_out(page)
    sign_in_as(page, ADMIN_EMAIL)  # first sign-in: set up the authenticator app
    page.wait_for_url("**/auth/set-up-two-step")
    yield "two-step-set-up"
    submit_form(page)  # no code
    yield "two-step-set-up-error"
    secret = page.locator(".two-step__key").inner_text().replace(" ", "")
    page.fill("#code", pyotp.TOTP(secret).now())
    submit_form(page)
    page.wait_for_url("**/staff/queue")
    sign_out(page)
    sign_in_as(page, ADMIN_EMAIL)  # later sign-ins ask for a code
    page.wait_for_url("**/auth/code")
    yield "two-step-code"
    submit_form(page)  # no code
    yield "two-step-code-error"


def submit_form_of(page: Page, button_text: str) -> None:
    """Press the submit button with this text (the case page has one form per action)."""
    with page.expect_navigation():
        page.locator("main form button[type='submit']", has_text=button_text).first.click()


def tour_casework(page: Page) -> Iterator[str]:
    """An agent's queue and case pages, with reports in them."""
    page.goto("/staff/queue")
    sign_in_as(page, STAFF_EMAIL)
    page.wait_for_url("**/staff/queue")
    page.goto("/staff/queue?sort=severity&status=any")
    yield "queue-by-severity"
    page.goto("/staff/queue?q=words-no-report-contains")
    yield "queue-no-match"
    page.goto("/staff/queue?q=Javel")
    with page.expect_navigation():
        page.locator("main table tbody a").first.click()  # the French report
    yield "case"
    page.locator(".case-preview__toggle").first.check()
    yield "case-image-revealed"
    page.goto(page.url.split("#")[0] + "?saved_reply=1#reply-heading")
    yield "case-saved-reply"
    page.fill("#reply", "")
    page.locator("form[action$='/reply'] button[type='submit']").click()
    page.wait_for_load_state()
    yield "case-reply-error"


def enrol_admin(page: Page) -> None:
    """Sign the administrator in for the first time, setting up their authenticator app."""
    sign_in_as(page, ADMIN_EMAIL)
    page.wait_for_url("**/auth/set-up-two-step")
    secret = page.locator(".two-step__key").inner_text().replace(" ", "")
    page.fill("#code", pyotp.TOTP(secret).now())
    submit_form(page)


def tour_administration(page: Page) -> Iterator[str]:
    page.goto("/staff/admin/")
    enrol_admin(page)
    page.wait_for_url("**/staff/admin/")
    yield "administration"
    page.goto("/staff/admin/staff")
    yield "staff-list"
    page.locator("main table a").first.click()
    page.wait_for_load_state()
    yield "edit-staff"
    page.goto("/staff/admin/staff/new")
    yield "new-staff"
    submit_form(page)
    yield "new-staff-error"
    page.goto("/staff/admin/teams")
    yield "teams"
    page.goto("/staff/admin/teams/new")
    yield "new-team"
    page.goto("/staff/admin/teams")
    page.locator("main table a").first.click()
    page.wait_for_load_state()
    yield "team"
    page.goto("/staff/admin/routing")
    yield "routing-rules"
    page.locator("main table a[href*='/routing/']").first.click()
    page.wait_for_load_state()
    yield "edit-routing-rule"
    page.goto("/staff/admin/routing/new")
    yield "new-routing-rule"
    submit_form(page)
    yield "new-routing-rule-error"
    page.goto("/staff/admin/teams")
    page.locator("main a[href$='/replies']").first.click()
    page.wait_for_load_state()
    yield "saved-replies"
    replies = page.url
    page.locator("main table a").first.click()
    page.wait_for_load_state()
    yield "edit-saved-reply"
    page.goto(replies + "/new")
    yield "new-saved-reply"
    page.goto("/staff/admin/")
    page.locator("main a[href$='/reason-templates']").first.click()
    page.wait_for_load_state()
    yield "reason-templates"
    templates = page.url
    page.locator("main table a").first.click()
    page.wait_for_load_state()
    yield "edit-reason-template"
    page.goto(templates + "/new")
    yield "new-reason-template"
    submit_form(page)
    yield "new-reason-template-error"


def tour_redress(page: Page) -> Iterator[str]:
    """An agent decides a report; its reporter reads the decision, keeps a printable record and
    appeals."""
    reference, token = REPORT_TO_DECIDE["reference"], REPORT_TO_DECIDE["token"]
    page.goto(f"/staff/tickets/{reference}")
    sign_in_as(page, STAFF_EMAIL)
    page.wait_for_url(f"**/staff/tickets/{reference}")
    yield "case-decide"
    send_decision = "form[action$='/decision'] button[type='submit']"
    with page.expect_navigation():
        page.locator(send_decision).click()
    yield "case-decide-error"
    page.locator("input[name='outcome'][value='partly_upheld']").check()
    page.locator("input[name='remedies'][value='safeguard_added']").check()
    page.fill("#facts", "The answer advised stopping a prescribed medicine without a doctor.")
    page.fill("#measure", "A safeguard now refers such questions to a doctor, in every language.")
    page.locator("input[name='automated_means'][value='detection']").check()
    page.fill("#policy_clause", "Usage policy 4.2: medical advice")
    with page.expect_navigation():
        page.locator(send_decision).click()
    yield "case-decided"
    sign_out(page)
    page.goto(f"/reports/track/{token}")
    yield "tracking-decided"
    page.goto(f"/reports/case/{reference}/decision")
    yield "decision-record"
    page.goto(f"/reports/case/{reference}/appeal")
    yield "appeal"
    submit_form(page)
    yield "appeal-error"
    page.fill("#reason", "A safeguard is not enough: the old answer is still being shown.")
    submit_form(page)
    yield "tracking-appealed"


def tour_reporter_rights(page: Page) -> Iterator[str]:
    """A reporter asked whether the decision resolved their concern answers it, downloads
    nothing (a file, not a page), and asks for their data to be erased, confirming by e-mail."""
    reference, token = REPORT_ASKED["reference"], REPORT_ASKED["token"]
    page.goto(f"/reports/track/{token}")
    yield "tracking-follow-up"
    page.fill("#comment", "x" * 2_001)
    with page.expect_navigation():
        page.locator("form[action$='/follow-up'] button[value='partly']").click()
    yield "tracking-follow-up-error"
    page.fill("#comment", "Only on the website.")
    with page.expect_navigation():
        page.locator("form[action$='/follow-up'] button[value='partly']").click()
    yield "tracking-follow-up-answered"
    page.goto(f"/reports/case/{reference}/erase")
    yield "erase"
    submit_form(page)
    yield "erase-error"
    page.locator("#confirm").check()
    submit_form(page)
    yield "erasure-requested"
    page.goto(f"/reports/erase/{erasure_link_token(reference)}")
    yield "confirm-erasure"
    submit_form(page)
    yield "erased"
    page.goto("/reports/erase/not-a-real-link")
    yield "erasure-link-not-valid"
    page.goto("/reports/follow-up/not-a-real-link")
    yield "follow-up-link-not-valid"


def erasure_link_token(reference: str) -> str:
    """The token of the erasure confirmation link e-mailed about ``reference``."""
    with LIVE_APP["app"].app_context():
        body = db.session.scalar(
            sa.select(OutboxMessage.body)
            .join(Ticket, Ticket.id == OutboxMessage.ticket_id)
            .where(Ticket.reference == reference, OutboxMessage.body.contains("/reports/erase/"))
        )
        db.session.remove()
    assert body, f"no erasure link was e-mailed about {reference}"
    return re.search(r"/reports/erase/(\S+)", body).group(1)


def tour_exports(page: Page) -> Iterator[str]:
    """An analyst previews, requests and downloads an export, and makes an API token."""
    page.goto("/exports/")
    sign_in_as(page, ANALYST_EMAIL)
    page.wait_for_url("**/exports/")
    yield "exports"
    page.goto("/exports/preview?model=aurora-chat&version_from=3.0&version_to=2.5")
    yield "exports-preview-error"
    page.goto("/exports/preview?model=aurora-chat")
    yield "exports-preview"
    page.locator("input[name='format'][value='hf']").check()
    with page.expect_navigation():
        page.locator("form[action$='/exports/'] button[type='submit']").click()
    yield "export-queued"
    with LIVE_APP["app"].app_context():
        exports.run_next_queued(utcnow())
        db.session.remove()
    page.locator("#export-ready").wait_for()
    yield "export-finished-in-place"
    page.reload()
    yield "export-ready"
    page.goto("/exports/tokens")
    yield "tokens"
    with page.expect_navigation():
        page.locator("form[action$='/exports/tokens'] button[type='submit']").click()
    yield "tokens-error"
    page.fill("#name", "Notebook on my laptop")
    with page.expect_navigation():
        page.locator("form[action$='/exports/tokens'] button[type='submit']").click()
    yield "token-created"
    with page.expect_navigation():
        page.locator("form[action$='/revoke'] button[type='submit']").first.click()
    yield "token-revoked"


def tour_service_levels(page: Page) -> Iterator[str]:
    """An administrator's service-level pages: the dashboard, the policies, a team's calendar,
    and the e-mail that could not be delivered."""
    page.goto("/staff/sla")
    enrol_admin(page)
    page.wait_for_url("**/staff/sla")
    yield "sla-dashboard"
    page.goto("/staff/queue?sla=breached")
    yield "queue-breached"
    page.goto("/staff/admin/sla-policies")
    yield "sla-policies"
    page.locator("main table a[href*='/sla-policies/']:not([href*='/new'])").first.click()
    page.wait_for_load_state()
    yield "edit-sla-policy"
    page.goto("/staff/admin/sla-policies/new")
    yield "new-sla-policy"
    page.fill("#first_response_amount", "0")
    submit_form(page)
    yield "new-sla-policy-error"
    page.goto("/staff/admin/teams")
    page.locator("main a[href$='/calendar']").first.click()
    page.wait_for_load_state()
    yield "team-calendar"
    for day in page.locator("main input[type='checkbox'][name^='works_']").all():
        day.uncheck()
    submit_form(page)
    yield "team-calendar-error"
    page.goto("/staff/admin/outbox")
    yield "undelivered-email"
    page.goto("/staff/audit")
    yield "audit-log"


# Every page a reporter or a member of staff can meet, in walks through the site. Each walk
# starts in a fresh browser context and yields the name of each page once the browser shows it;
# the walks share their steps (one report filed serves the five pages that need one).
# A name containing "error" is a page that must show the error summary.
TOURS: dict[str, Callable[[Page], Iterator[str]]] = {
    "site-pages": tour_site_pages,
    "start": tour_start,
    "harm-report": tour_harm_report,
    "output-dispute": tour_output_dispute,
    "lost-link": tour_lost_link,
    "tracking-statuses": tour_tracking_statuses,
    "staff": tour_staff,
    "casework": tour_casework,
    "administration": tour_administration,
    "service-levels": tour_service_levels,
    "redress": tour_redress,
    "reporter-rights": tour_reporter_rights,
    "exports": tour_exports,
}
