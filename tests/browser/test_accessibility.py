"""Every page, in every language, passes axe-core's WCAG 2.2 AA rules and breaks no CSP rule;
in the pseudo-locale, no text on any page skipped translation."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from portal.extensions import db
from portal.i18n import PSEUDO_LOCALE, language_tag, text_direction
from tests.browser.conftest import (
    LIVE_APP,
    LOCALES,
    OTHER_LOCALES,
    SCREENSHOT_LOCALES,
    TOURS,
    csp_violations,
    save_screenshot,
)
from tests.pseudo_locale import data_strings, untranslated_on_page

pytestmark = pytest.mark.browser

AXE_OPTIONS = {
    # wcag22aa is what switches on target-size (2.5.8).
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}

axe = Axe()


def describe_violations(violations: list[dict]) -> str:
    """Each rule broken: its id, impact and help, then every offending element's selector."""
    lines = []
    for violation in violations:
        lines.append(f"  {violation['id']} ({violation['impact']}): {violation['help']}")
        lines.append(f"    {violation['helpUrl']}")
        for node in violation["nodes"]:
            lines.append(f"    - {' '.join(map(str, node['target']))}")
            lines.append(f"      {' '.join(node['failureSummary'].split())}")
    return "\n".join(lines)


def stored_data() -> list[str]:
    with LIVE_APP["app"].app_context():
        data = data_strings(db.session)
        db.session.remove()
    return data


def check_page(page, name: str, locale: str) -> list[str]:
    """What is wrong with the page the browser shows: axe's violations, an error state without
    its error summary, and in the pseudo-locale any text that skipped translation."""
    where = f"{name} ({locale}, {page.url})"
    problems = []
    if "error" in name and not page.locator(".error-summary").is_visible():
        problems.append(f"{where}: no error summary, so the error state could not be checked")
    violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
    if violations:
        problems.append(f"{where}:\n{describe_violations(violations)}")
    if locale == PSEUDO_LOCALE:
        untranslated = untranslated_on_page(page, stored_data())
        if untranslated:
            problems.append(f"{where}: not translated:\n    " + "\n    ".join(untranslated))
    return problems


@pytest.mark.parametrize("tour", TOURS)
@pytest.mark.parametrize("locale", LOCALES)
def test_every_page_in_every_state_passes_axe_and_breaks_no_csp_rule(
    page, locale, tour, console_messages
):
    problems = []
    pages_seen = []
    for name in TOURS[tour](page):
        pages_seen.append(name)
        problems += check_page(page, name, locale)
        if locale in SCREENSHOT_LOCALES:
            save_screenshot(page, f"{name}-{locale}")

    assert pages_seen, "the tour visited no page"
    assert not problems, "problems found:\n" + "\n".join(problems)
    assert csp_violations(console_messages) == []
    assert [message for message in console_messages if message.startswith("pageerror")] == []


@pytest.mark.parametrize("tour", TOURS)
@pytest.mark.parametrize("locale", OTHER_LOCALES)
def test_every_page_in_its_first_state_passes_axe_in_the_other_languages(
    page, locale, tour, console_messages
):
    problems = []
    for name in TOURS[tour](page):
        if "error" not in name:
            problems += check_page(page, name, locale)
        if locale in SCREENSHOT_LOCALES:
            save_screenshot(page, f"{name}-{locale}")

    assert not problems, "problems found:\n" + "\n".join(problems)
    assert csp_violations(console_messages) == []


@pytest.mark.parametrize("locale", [*LOCALES, *OTHER_LOCALES])
def test_pages_declare_their_language_and_direction(page, locale):
    for name in TOURS["site-pages"](page):
        html = page.locator("html")
        assert html.get_attribute("lang") == language_tag(locale), name
        assert html.get_attribute("dir") == text_direction(locale), name
