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
from flask_babel import gettext

from portal.access import ACCESS_POLICY, Audience
from portal.config import SUPPORTED_LOCALES
from portal.errors import ERROR_PAGES
from portal.extensions import db
from portal.i18n import LANGUAGE_NAMES, language_tag, negotiate
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
        ("ja-JP,ja;q=0.9", "en", "ltr"),
        (None, "en", "ltr"),
    ],
)
def test_the_browsers_language_is_used_when_supported(client, accept_language, language, direction):
    headers = {"Accept-Language": accept_language} if accept_language else {}

    response = client.get("/", headers=headers)

    assert_page_in(language, direction, page_text(response))
    assert response.headers["Content-Language"] == language
    assert {"Accept-Language", "Cookie"} <= set(response.vary)


@pytest.mark.parametrize(
    ("accept_language", "chosen", "suggested"),
    [
        ("de-AT,de;q=0.9", "de", None),
        ("es-MX", "es", None),
        ("it-CH", "it", None),
        ("pl", "pl", None),
        ("hi-IN", "hi", None),
        # Chinese: Simplified answers zh, zh-CN and zh-SG; Traditional is not swapped for it.
        ("zh", "zh_Hans", None),
        ("zh-CN,zh;q=0.9", "zh_Hans", None),
        ("zh-SG", "zh_Hans", None),
        ("zh-Hans-HK", "zh_Hans", None),
        ("zh-TW", None, "zh_Hans"),
        ("zh-HK,zh;q=0.9", None, "zh_Hans"),
        ("zh-Hant-TW", None, "zh_Hans"),
        ("zh-TW,fr;q=0.8", "fr", "zh_Hans"),
        # Portuguese: pt and pt-BR are answered in Brazilian Portuguese.
        ("pt", "pt_BR", None),
        ("pt-BR", "pt_BR", None),
        ("pt-PT,pt;q=0.9", "pt_BR", None),
        # The browser's order of preference is kept, and nothing is invented.
        ("ja,ar;q=0.5,fr;q=0.9", "fr", None),
        ("ja", None, None),
        ("*", None, None),
        # "q=0" says "not this one".
        ("de;q=0,fr;q=0.5", "fr", None),
    ],
)
def test_accept_language_is_negotiated_with_aliases(accept_language, chosen, suggested):
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    accepted = parse_accept_header(accept_language, LanguageAccept)

    assert negotiate(accepted, SUPPORTED_LOCALES) == (chosen, suggested)


def test_a_traditional_chinese_reader_gets_english_and_is_offered_simplified_chinese(client):
    page = page_text(client.get("/", headers={"Accept-Language": "zh-TW,zh;q=0.9"}))

    assert html_tag(page) == '<html lang="en" dir="ltr">'
    switcher = re.search(r'<nav class="language-switcher".*?</nav>', page, re.DOTALL).group(0)
    # First in the switcher, set apart.
    first_link = re.search(r"<a [^>]*>[^<]*</a>", switcher).group(0)
    assert re.fullmatch(
        r'<a href="/language/zh-Hans\?next=[^"]*" lang="zh-Hans" hreflang="zh-Hans" '
        r'class="language-switcher__suggested">简体中文</a>',
        first_link,
    )
    assert switcher.count("简体中文") == 1


def test_locales_are_named_by_their_language_tags_in_pages_and_headers(client):
    response = client.get("/", headers={"Accept-Language": "pt-BR"})
    page = page_text(response)

    assert html_tag(page) == '<html lang="pt-BR" dir="ltr">'
    assert response.headers["Content-Language"] == "pt-BR"
    assert 'lang="zh-Hans" hreflang="zh-Hans">简体中文</a>' in page
    assert '<span class="language-switcher__current" lang="pt-BR" aria-current="true">' in page


@pytest.mark.parametrize("code", SUPPORTED_LOCALES)
def test_every_language_is_offered_in_the_switcher_in_its_own_name(client, code):
    page = page_text(client.get("/"))

    if code == "en":
        assert f'aria-current="true">{LANGUAGE_NAMES[code]}</span>' in page
    else:
        tag = language_tag(code)
        assert f'lang="{tag}" hreflang="{tag}">{LANGUAGE_NAMES[code]}</a>' in page


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


@pytest.mark.parametrize("locale", ["en", "fr", "hi", "zh-CN"])
def test_wtforms_own_messages_are_in_the_readers_language(client, registry, locale):
    """WTForms translates into fewer languages than the portal: its messages are ours."""
    headers = {"Accept-Language": locale}
    answers = complete_answers(registry, occurred_on="31/02/2026")

    page = page_text(send(client, open_form(client, headers=headers), answers, headers=headers))

    with client.application.test_request_context(headers=headers):
        translated = gettext("Not a valid date value.")
    assert translated in page
    assert (translated == "Not a valid date value.") == (locale == "en")


def test_the_switcher_takes_a_language_tag_in_any_case(client):
    client.get("/language/PT-br?next=/")

    assert html_tag(page_text(client.get("/"))) == '<html lang="pt-BR" dir="ltr">'
