"""What protects every visitor: security headers, no inline code, a required secret, same-site
redirects, rate limits, and error pages that never show a traceback."""

import html
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa

from portal import create_app
from portal.access import ACCESS_POLICY, Audience
from portal.config import ConfigurationError
from portal.extensions import db
from portal.models import OutboxMessage
from tests.conftest import CSRF_PATTERN, hidden_value
from tests.factories import make_ticket

PUBLIC_PAGES = [
    "/",
    "/privacy",
    "/reports/",
    "/reports/new?kind=harm_report",
    "/reports/new?kind=output_dispute",
    "/reports/lost-link",
    "/reports/track/not-a-real-link",
    "/no-such-page",
]


def app_with(request, **settings):
    """The ``app`` fixture, built with ``settings`` added to its configuration."""
    assert "app" not in request.fixturenames, "the app would already have been built"
    request.getfixturevalue("app_config").update(settings)
    return request.getfixturevalue("app")


@pytest.fixture
def rate_limited_app(rate_limits, request):
    """Low rate limits switched on; the in-memory counts are cleared afterwards."""
    rate_limits(PORTAL_RATELIMIT_LOST_LINK="2 per minute", PORTAL_RATELIMIT_TRACK="2 per minute")
    return request.getfixturevalue("app")


@pytest.fixture
def tracked_case(app, client):
    """A browser that has opened a report's tracking link: the case page's path."""
    with app.app_context():
        ticket, token = make_ticket(app, contact_email="reporter@example.org")
        db.session.commit()
        reference = ticket.reference
    client.get(f"/reports/track/{token}")
    return f"/reports/case/{reference}"


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = (part.split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in directives}


class InlineCodeFinder(HTMLParser):
    """Collects everything a strict Content-Security-Policy would block as inline code."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and not attributes.get("src"):
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        self.found.extend(
            f'<{tag} {name}="...">' for name in attributes if name == "style" or name[:2] == "on"
        )


def inline_code(response) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(response.get_data(as_text=True))
    finder.close()
    return finder.found


# -- headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_every_page_carries_the_security_headers(client, registry, path):
    response = client.get(path)

    directives = csp_directives(response)
    assert directives["frame-ancestors"] == ["'none'"]
    assert not any("'unsafe-inline'" in values for values in directives.values())
    assert directives["script-src"] == ["'self'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in response.headers


def cookie_attributes(set_cookie: str) -> set[str]:
    return {attribute.strip().split("=")[0] for attribute in set_cookie.split(";")[1:]}


@pytest.mark.parametrize("https", [True, False], ids=["https", "http"])
def test_hsts_and_secure_cookies_come_with_https_only(request, https):
    app = app_with(request, PORTAL_HTTPS=https)
    with app.app_context():
        _ticket, token = make_ticket(app)
        db.session.commit()
    client = app.test_client()

    home = client.get("/")
    tracking = client.get(f"/reports/track/{token}")
    language = client.get("/language/fr")

    assert ("Strict-Transport-Security" in home.headers) is https
    assert tracking.headers["Set-Cookie"].startswith("session=")
    assert ("Secure" in cookie_attributes(tracking.headers["Set-Cookie"])) is https
    assert language.headers["Set-Cookie"].startswith("portal_locale=")
    assert ("Secure" in cookie_attributes(language.headers["Set-Cookie"])) is https


# -- no inline code -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_contain_no_inline_script_or_style(client, registry, path):
    assert inline_code(client.get(path)) == []


def test_the_reporters_own_pages_contain_no_inline_script_or_style(client, tracked_case):
    case = client.get(tracked_case)
    withdraw = client.get(f"{tracked_case}/withdraw")

    assert case.status_code == withdraw.status_code == 200
    assert inline_code(case) == []
    assert inline_code(withdraw) == []


def test_a_form_shown_again_with_errors_contains_no_inline_script_or_style(client):
    token = hidden_value(client.get("/reports/lost-link").get_data(as_text=True), CSRF_PATTERN)

    response = client.post("/reports/lost-link", data={"csrf_token": token, "email": "nope"})

    assert "There is a problem" in response.get_data(as_text=True)
    assert inline_code(response) == []


# -- start-up -----------------------------------------------------------------------------------


def test_the_app_refuses_to_start_without_a_secret_key_in_production():
    with pytest.raises(ConfigurationError, match="PORTAL_SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "PORTAL_ENV": "production"})


def test_the_app_starts_without_a_secret_key_in_development():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "PORTAL_ENV": "development"})

    response = app.test_client().get("/privacy")  # a page that needs no tables

    assert response.status_code == 200
    assert app.config["SECRET_KEY"]


# -- redirects ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "\\\\evil.example",
        "https://redress.test.evil.example/",
        "javascript:alert(1)",
    ],
)
def test_the_language_switcher_never_sends_people_to_another_site(client, target):
    response = client.get(f"/language/fr?next={quote(target, safe='')}")

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.netloc in ("", "redress.test")
    assert location.path == "/"
    assert client.get_cookie("portal_locale", domain="redress.test").value == "fr"


def test_the_language_switcher_returns_to_the_page_the_person_was_on(client):
    response = client.get("/language/fr?next=/reports/lost-link%3Fa%3D1")

    assert response.status_code == 302
    assert response.headers["Location"] == "/reports/lost-link?a=1"


# -- rate limits --------------------------------------------------------------------------------


def test_asking_for_new_links_too_often_is_stopped_with_a_readable_page(rate_limited_app):
    client = rate_limited_app.test_client()
    token = hidden_value(client.get("/reports/lost-link").get_data(as_text=True), CSRF_PATTERN)
    data = {"csrf_token": token, "reference": "RP-2222-3333", "email": "someone@example.org"}
    french = {"Accept-Language": "fr"}

    answers = [client.post("/reports/lost-link", data=data, headers=french) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    page = html.unescape(answers[2].get_data(as_text=True))
    assert "Trop de tentatives" in page
    assert "Too many" not in page
    assert inline_code(answers[2]) == []


def test_trying_tracking_links_too_often_is_stopped(rate_limited_app):
    client = rate_limited_app.test_client()

    answers = [client.get(f"/reports/track/guess-{number}") for number in range(3)]

    assert [answer.status_code for answer in answers] == [404, 404, 429]
    assert "Too many attempts" in answers[2].get_data(as_text=True)


# -- errors -------------------------------------------------------------------------------------


def test_a_request_that_is_too_large_gets_a_readable_page(request):
    app = app_with(request, MAX_CONTENT_LENGTH=1024)

    response = app.test_client().post(
        "/reports/lost-link",
        data={"reference": "RP-2222-3333", "email": "x" * 4000},
        headers={"Accept-Language": "fr"},
    )

    assert response.status_code == 413
    page = html.unescape(response.get_data(as_text=True))
    assert "Votre envoi est trop volumineux" in page
    assert "Traceback" not in page


def test_an_unexpected_error_shows_a_readable_page_without_a_traceback(app, monkeypatch):
    def broken_view():
        raise RuntimeError("database password is hunter2")

    app.add_url_rule("/broken", "broken", broken_view)
    monkeypatch.setitem(ACCESS_POLICY, "broken", Audience.ANYONE)

    response = app.test_client().get("/broken")

    assert response.status_code == 500
    page = html.unescape(response.get_data(as_text=True))
    assert "Sorry, there is a problem with the service" in page
    assert "Traceback" not in page
    assert "RuntimeError" not in page
    assert "hunter2" not in page


# -- CSRF ---------------------------------------------------------------------------------------


def test_a_form_without_its_csrf_token_is_shown_again_with_the_answers_kept(request):
    app = app_with(request, WTF_CSRF_ENABLED=True)
    with app.app_context():
        ticket, token = make_ticket(app, contact_email="reporter@example.org")
        db.session.commit()
        reference = ticket.reference
    client = app.test_client()

    response = client.post(
        "/reports/lost-link", data={"reference": reference, "email": "reporter@example.org"}
    )

    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert f'value="{reference}"' in page
    assert "Your answers were kept" in page
    # Nothing was done with answers that may not have come from this page.
    assert client.get(f"/reports/track/{token}").status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1
