"""Every page, in every language, passes axe-core's WCAG 2.2 AA rules, declares its language
and direction, breaks no CSP rule and reflows; in the pseudo-locale, no text on any page skipped
translation (tests/pseudo_locale.py); and the walks reach every page of the portal.

Every page in every state in English, Arabic and the pseudo-locale; every page in its first
state in the other seven languages (tested first: the longest tests). Reflow (320 CSS pixels,
text at 200 %) with a screenshot of every page in English, Arabic, Chinese and Hindi.
"""

import pytest
from flask import request, request_finished
from werkzeug.exceptions import HTTPException

from portal.access import ACCESS_POLICY
from portal.i18n import LOCALE_COOKIE
from tests.browser.conftest import (
    LIVE_APP,
    LOCALES,
    OTHER_LOCALES,
    TOURS,
    csp_violations,
    load_demo,
)
from tests.browser.page_checks import (
    axe_problems,
    error_state_problems,
    language_problems,
    reflow_problems,
    translation_problems,
)

pytestmark = pytest.mark.browser

# Latin, Arabic (right to left), Han and Devanagari text, which CI renders with Debian's Noto
# fonts; their screenshots are kept in test-output/screenshots.
REFLOW_LOCALES = ("en", "ar", "zh_Hans", "hi")

# GET routes that answer with something other than an HTML page, or only redirect.
NOT_PAGES = {
    "static": "files of the site itself",
    "public.health": "JSON for monitoring",
    "public.choose_language": "sets a cookie and redirects",
    "reports.open_tracking_link": "signs the browser in to a report and redirects",
    "reports.open_follow_up_link": "opens the report at its question and redirects",
    "reports.your_data": "a standalone HTML file to keep, downloaded as an attachment",
    "reports.your_data_json": "a JSON file",
    "cases.download": "evidence files",
    "exports.download": "export files",
    "exports.download_archive": "a ZIP file",
    "exports.progress": "JSON for the progress bar",
    "staff.home": "redirects to the first section the person may visit",
    "api.feedback": "the API (JSON)",
    "api.feedback_count": "the API (JSON)",
    "api.exports": "the API (JSON)",
    "api.export_file": "the API (files)",
    "api.export_archive": "the API (a ZIP file)",
}


def endpoint_of(url: str) -> str | None:
    """The portal's endpoint that answered ``url`` (None for an address it does not know)."""
    path = "/" + url.split("://", 1)[1].split("/", 1)[1].split("?")[0].split("#")[0]
    try:
        endpoint, _arguments = LIVE_APP["app"].url_map.bind("localhost").match(path, "GET")
    except HTTPException:
        return None
    return endpoint


# The other languages in two groups, one test each: the walks run once a group, in English, and
# each page they show for the first time is opened again in every language of the group.
LANGUAGE_GROUPS = {
    "fr-de-es-zh": ("fr", "de", "es", "zh_Hans"),
    "it-pl-pt-hi": ("it", "pl", "pt_BR", "hi"),
}


def choose_language(page, locale: str) -> None:
    """As the switcher does: the language cookie."""
    host = page.url.split("://", 1)[1].split("/", 1)[0].split(":")[0]
    cookie = {"name": LOCALE_COOKIE, "value": locale, "domain": host, "path": "/"}
    page.context.add_cookies([cookie])


def test_the_groups_hold_each_other_language_once():
    assert sorted(sum(LANGUAGE_GROUPS.values(), ())) == sorted(OTHER_LOCALES)


@pytest.mark.parametrize("group", LANGUAGE_GROUPS)
def test_every_page_in_its_first_state_passes_axe_in_the_other_languages(
    page, group, console_messages
):
    """Each page the walks show, the first time they show it, in each language of the group:
    axe, its language and direction, and its reflow in Chinese and Hindi. The walks must show
    every page of the portal."""
    app = LIVE_APP["app"]
    shown, problems, checked = set(), [], set()

    def record(_sender, response, **_extra):
        if request.method == "GET" and response.mimetype == "text/html":
            shown.add(request.endpoint)

    request_finished.connect(record, app)
    try:
        for tour_name, tour in TOURS.items():
            page.context.clear_cookies()
            load_demo(app)  # each walk starts from the demo data, as in its own test
            for name in tour(page):
                endpoint = endpoint_of(page.url)
                if "error" in name or endpoint in checked:
                    continue
                checked.add(endpoint)
                url = page.url
                for locale in LANGUAGE_GROUPS[group]:
                    choose_language(page, locale)
                    page.goto(url)
                    where = f"{name} ({locale}, {url})"
                    problems += language_problems(page, where, locale)
                    problems += axe_problems(page, where)
                    if locale in REFLOW_LOCALES:
                        problems += reflow_problems(page, f"{tour_name}-{name}", locale)
                choose_language(page, "en")
                page.goto(url)  # back where the walk was, for its next step
    finally:
        request_finished.disconnect(record, app)

    pages = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and rule.endpoint not in NOT_PAGES
    }
    assert pages <= set(ACCESS_POLICY)
    assert not pages - shown, "no walk shows: " + ", ".join(sorted(pages - shown))
    assert not problems, "problems found:\n" + "\n".join(problems)
    assert csp_violations(console_messages) == []


@pytest.mark.parametrize("tour", TOURS)
@pytest.mark.parametrize("locale", LOCALES)
def test_every_page_in_every_state_passes_axe_and_breaks_no_csp_rule(
    page, locale, tour, console_messages
):
    problems = []
    pages_seen = []
    for name in TOURS[tour](page):
        pages_seen.append(name)
        where = f"{name} ({locale}, {page.url})"
        problems += language_problems(page, where, locale)
        problems += error_state_problems(page, name, where)
        problems += axe_problems(page, where)
        problems += translation_problems(page, where, locale)
        if locale in REFLOW_LOCALES:
            problems += reflow_problems(page, f"{tour}-{name}", locale)

    assert pages_seen, "the tour visited no page"
    assert not problems, "problems found:\n" + "\n".join(problems)
    assert csp_violations(console_messages) == []
    assert [message for message in console_messages if message.startswith("pageerror")] == []
