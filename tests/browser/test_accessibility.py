"""Every page, in every language, passes axe-core's WCAG 2.2 AA rules and breaks no CSP rule."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import (
    LOCALES,
    SCREENSHOT_LOCALES,
    TOURS,
    csp_violations,
    save_screenshot,
)

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


@pytest.mark.parametrize("tour", TOURS)
@pytest.mark.parametrize("locale", LOCALES)
def test_every_page_passes_axe_and_breaks_no_csp_rule(page, locale, tour, console_messages):
    problems = []
    pages_seen = []
    for name in TOURS[tour](page):
        pages_seen.append(name)
        if "error" in name and not page.locator(".error-summary").is_visible():
            problems.append(
                f"{name} ({locale}, {page.url}): no error summary is shown, "
                "so the page's error state could not be checked"
            )
        violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
        if violations:
            problems.append(f"{name} ({locale}, {page.url}):\n{describe_violations(violations)}")
        if locale in SCREENSHOT_LOCALES:
            save_screenshot(page, f"{name}-{locale}")

    assert pages_seen, "the tour visited no page"
    assert not problems, "problems found:\n" + "\n".join(problems)
    assert csp_violations(console_messages) == []
    assert [message for message in console_messages if message.startswith("pageerror")] == []


@pytest.mark.parametrize(("locale", "direction"), [("en", "ltr"), ("fr", "ltr"), ("ar", "rtl")])
def test_pages_declare_their_language_and_direction(page, locale, direction):
    for name in TOURS["site-pages"](page):
        html = page.locator("html")
        assert html.get_attribute("lang") == locale, name
        assert html.get_attribute("dir") == direction, name
