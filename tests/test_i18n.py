"""Each visitor reads the portal in their language and their time zone.

The expected French and Arabic texts are taken from translations/*/LC_MESSAGES/messages.po.
"""

import html
import re
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from babel.dates import format_date
from flask import abort

from portal.access import ACCESS_POLICY, Audience
from portal.errors import ERROR_PAGES
from portal.extensions import db
from portal.models import Ticket
from tests.reporting import complete_answers, open_form, send

SKIP_LINK = {
    "en": "Skip to main content",
    "fr": "Aller au contenu principal",
    "ar": "الانتقال إلى المحتوى الرئيسي",
}
TRACK_A_REPORT = {"en": "Track a report", "fr": "Suivre un signalement", "ar": "متابعة بلاغ"}


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def html_tag(page: str) -> str:
    return re.search(r"<html[^>]*>", page).group(0)


def assert_page_in(language: str, direction: str, page: str) -> None:
    assert html_tag(page) == f'<html lang="{language}" dir="{direction}">'
    assert SKIP_LINK[language] in page
    assert TRACK_A_REPORT[language] in page


@pytest.mark.parametrize(
    ("accept_language", "language", "direction"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.5", "fr", "ltr"),
        ("ar", "ar", "rtl"),
        ("ar-EG,ar;q=0.9", "ar", "rtl"),
        ("de-DE,de;q=0.9", "en", "ltr"),
        (None, "en", "ltr"),
    ],
)
def test_the_browsers_language_is_used_when_supported(client, accept_language, language, direction):
    headers = {"Accept-Language": accept_language} if accept_language else {}

    response = client.get("/", headers=headers)

    assert_page_in(language, direction, page_text(response))


def test_a_language_chosen_in_the_switcher_wins_over_the_browsers(client):
    client.get("/language/fr?next=/")

    response = client.get("/privacy", headers={"Accept-Language": "ar"})

    assert_page_in("fr", "ltr", page_text(response))


def test_the_switcher_can_choose_arabic_for_a_french_browser(client):
    client.get("/language/ar")

    response = client.get("/reports/lost-link", headers={"Accept-Language": "fr"})

    assert_page_in("ar", "rtl", page_text(response))
    assert "الحصول على رابط متابعة جديد" in page_text(response)


def test_an_unknown_language_in_the_switcher_changes_nothing(client):
    response = client.get("/language/xx?next=/")

    assert response.status_code == 302
    assert client.get_cookie("portal_locale", domain="redress.test") is None
    assert_page_in("fr", "ltr", page_text(client.get("/", headers={"Accept-Language": "fr"})))


# -- error pages --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept_language", "title"),
    [("fr", "Page introuvable"), ("ar", "الصفحة غير موجودة"), ("en", "Page not found")],
)
def test_the_not_found_page_is_in_the_visitors_language(client, accept_language, title):
    response = client.get("/no-such-page", headers={"Accept-Language": accept_language})

    assert response.status_code == 404
    assert f'<h1 class="heading-xl">{title}</h1>' in page_text(response)


def test_the_too_many_attempts_page_is_in_the_visitors_language(rate_limits, request):
    rate_limits(PORTAL_RATELIMIT_TRACK="1 per minute")
    client = request.getfixturevalue("app").test_client()
    french = {"Accept-Language": "fr"}

    client.get("/reports/track/first-guess", headers=french)
    response = client.get("/reports/track/second-guess", headers=french)

    assert response.status_code == 429
    page = page_text(response)
    assert html_tag(page) == '<html lang="fr" dir="ltr">'
    assert '<h1 class="heading-xl">Trop de tentatives</h1>' in page


def test_the_service_problem_page_is_in_the_visitors_language(app, monkeypatch):
    def broken_view():
        raise RuntimeError("boom")

    app.add_url_rule("/broken", "broken", broken_view)
    monkeypatch.setitem(ACCESS_POLICY, "broken", Audience.ANYONE)

    response = app.test_client().get("/broken", headers={"Accept-Language": "fr"})

    assert response.status_code == 500
    assert '<h1 class="heading-xl">Désolé, le service rencontre un problème</h1>' in page_text(
        response
    )


@pytest.mark.parametrize(("code", "locale"), [(400, "fr"), (400, "ar"), (403, "fr"), (403, "ar")])
def test_refused_requests_get_a_page_in_the_visitors_language(app, monkeypatch, code, locale):
    app.add_url_rule("/refuse", "refuse", lambda: abort(code))
    monkeypatch.setitem(ACCESS_POLICY, "refuse", Audience.ANYONE)
    with app.test_request_context(headers={"Accept-Language": locale}):
        title = str(ERROR_PAGES[code][0])

    response = app.test_client().get("/refuse", headers={"Accept-Language": locale})
    page = page_text(response)

    assert response.status_code == code
    assert f'<h1 class="heading-xl">{title}</h1>' in page
    assert title != str(ERROR_PAGES[code][0])  # outside a request: the English original
    assert f'<html lang="{locale}"' in page


# -- a report in French -------------------------------------------------------------------------


def test_a_report_sent_in_french_is_followed_in_french_in_the_chosen_time_zone(
    app, client, registry
):
    french = {"Accept-Language": "fr"}

    form = open_form(client, headers=french)
    answers = complete_answers(registry, timezone="Asia/Tokyo")
    response = send(client, form, answers, headers=french)

    assert response.status_code == 303
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket)).one()
        assert (ticket.locale, ticket.timezone) == ("fr", "Asia/Tokyo")
        reference = ticket.reference
        sent = ticket.created_at.astimezone(ZoneInfo("Asia/Tokyo"))
        first_response = ticket.first_response_due_at.astimezone(ZoneInfo("Asia/Tokyo"))

    page = page_text(client.get(f"/reports/case/{reference}", headers=french))

    assert f"Votre signalement {reference}" in page
    assert '<strong class="tag tag--new">Reçu</strong>' in page
    for when in (sent, first_response):
        assert format_date(when, "long", locale="fr") in page  # e.g. "28 novembre 2026"
        assert f"{when:%H:%M} (Asia/Tokyo)" in page
