"""A reporter who uses only a keyboard can file a report, read the errors and follow the case.

No clicks: focus moves with Tab and Shift+Tab, radios are chosen with Space and the arrow keys,
a <select> changes with ArrowDown, forms are sent and links followed with Enter. Where the test
needs to know where focus is, it asks the page (``document.activeElement``).
"""

import re

import pytest
from playwright.sync_api import Page

from portal.i18n import language_tag
from tests.browser.conftest import (
    LOCALES,
    REFERENCE_PATTERN,
    STAFF_EMAIL,
    STAFF_PASSWORD,
)

pytestmark = pytest.mark.browser

KINDS = ("harm_report", "output_dispute")

DESCRIBE_FOCUS = """() => {
    const element = document.activeElement;
    if (!element || element === document.body) return "the page itself";
    const id = element.id ? "#" + element.id : "";
    const text = (element.innerText || element.value || "").trim().slice(0, 40);
    const type = element.type ? ` type="${element.type}"` : "";
    return `<${element.tagName.toLowerCase()}${id}${type} class="${element.className}"> ${text}`;
}"""


def focused_id(page: Page) -> str:
    return page.evaluate("document.activeElement.id")


def focus_matches(page: Page, selector: str) -> bool:
    return page.evaluate("selector => document.activeElement.matches(selector)", selector)


def press_until_focused(page: Page, selector: str, key: str = "Tab", limit: int = 120) -> None:
    """Press ``key`` until the focused element matches ``selector``; fail after ``limit``.

    The limit is enough to go round the longest page, so the order of the questions may change.
    """
    for _ in range(limit):
        page.keyboard.press(key)
        if focus_matches(page, selector):
            return
    raise AssertionError(
        f"{key} pressed {limit} times never reached {selector}; "
        f"focus is on {page.evaluate(DESCRIBE_FOCUS)}"
    )


def press_enter_and_wait(page: Page) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")


def checked_value(page: Page, name: str) -> str | None:
    return page.evaluate(
        "name => document.querySelector(`input[name='${name}']:checked`)?.value ?? null", name
    )


def assert_error_summary_has_focus(page: Page) -> None:
    assert page.locator(".error-summary").is_visible(), "no error summary after a failed submit"
    assert focus_matches(page, ".error-summary"), (
        f"focus is on {page.evaluate(DESCRIBE_FOCUS)}, not on the error summary"
    )


def file_report_by_keyboard(page: Page, kind: str) -> None:
    """From the report form's first question to pressing Enter on "Send report"."""
    press_until_focused(page, "#reporter_role-0")
    page.keyboard.press("Space")
    assert checked_value(page, "reporter_role") == "self"

    press_until_focused(page, "#model_choice")
    page.keyboard.press("ArrowDown")  # the first model, version not known
    page.keyboard.press("ArrowDown")  # its newest version
    assert page.input_value("#model_choice").startswith("version:")

    press_until_focused(page, "#output_text")
    page.keyboard.type("Mix bleach and ammonia.")
    if kind == "output_dispute":
        press_until_focused(page, "#expected_output")
        page.keyboard.type("Never mix them.")

    press_until_focused(page, "#category-0")
    page.keyboard.press("ArrowDown")  # moves to and chooses the second kind of problem
    assert focused_id(page) == "category-1"
    assert checked_value(page, "category") == "hate_harassment"
    # Out of the group and back: Shift+Tab returns to the chosen radio, not to the first.
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    assert focused_id(page) == "category-1"

    press_until_focused(page, "#description")
    page.keyboard.type("A toxic gas.")

    press_until_focused(page, "#reporter_severity-0")
    page.keyboard.press("Space")  # low
    page.keyboard.press("ArrowDown")  # medium
    assert checked_value(page, "reporter_severity") == "medium"

    press_until_focused(page, "#immediate_danger-0")
    page.keyboard.press("ArrowDown")  # "No"
    assert checked_value(page, "immediate_danger") == "no"

    press_until_focused(page, "main form button[type='submit']")
    press_enter_and_wait(page)


@pytest.mark.parametrize("locale", LOCALES)
def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(page, locale):
    page.goto("/")

    page.keyboard.press("Tab")
    assert focus_matches(page, "a.skip-link"), page.evaluate(DESCRIBE_FOCUS)
    box = page.locator("a.skip-link").bounding_box()
    assert box is not None
    assert box["x"] >= 0, "the focused skip link must be on screen"
    assert box["x"] + box["width"] <= page.viewport_size["width"]
    page.keyboard.press("Enter")

    assert focused_id(page) == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")


HAS_FOCUS_INDICATOR = """() => {
    const style = getComputedStyle(document.activeElement);
    const outlined = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
    return outlined || style.boxShadow !== "none";
}"""


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("locale", LOCALES)
def test_report_journey_by_keyboard_alone(page, locale, kind):
    page.goto("/")
    press_until_focused(page, f"main a[href$='/reports/new?kind={kind}']")
    press_enter_and_wait(page)
    assert page.locator("html").get_attribute("lang") == language_tag(locale)
    assert page.url.endswith(f"/reports/new?kind={kind}")
    assert page.locator("#expected_output").count() == (1 if kind == "output_dispute" else 0)

    file_report_by_keyboard(page, kind)

    page.wait_for_url("**/reports/confirmation")
    reference = page.locator(".reference").inner_text().strip()
    assert REFERENCE_PATTERN.match(reference), reference
    press_until_focused(page, ".tracking-link a")
    press_enter_and_wait(page)
    page.wait_for_url(f"**/reports/case/{reference}")
    assert reference in page.locator("h1").inner_text()
    assert page.locator("html").get_attribute("lang") == language_tag(locale)


def follow_each_error_summary_link(page: Page) -> list[str]:
    """Follow each link of the focused error summary with Enter; return the problems met."""
    links = page.locator(".error-summary a")
    count = links.count()
    assert count > 0, "the error summary links to no field"
    problems = []
    for index in range(count):
        target = links.nth(index).get_attribute("href").removeprefix("#")
        # Start again from the summary, where the page's script put focus after the submit.
        page.evaluate("document.querySelector('.error-summary').focus()")
        for _ in range(index + 1):
            page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        if focused_id(page) != target:
            problems.append(f"#{target}: focus went to {page.evaluate(DESCRIBE_FOCUS)}")
    return problems


def submit_by_keyboard(page: Page) -> None:
    press_until_focused(page, "main form button[type='submit']")
    press_enter_and_wait(page)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("locale", ["en", "ar"])
def test_report_form_errors_take_focus_and_lead_to_each_field(page, locale, kind):
    page.goto(f"/reports/new?kind={kind}")

    submit_by_keyboard(page)

    assert_error_summary_has_focus(page)
    assert follow_each_error_summary_link(page) == []
    expected = {
        "reporter_role-0",
        "model_choice",
        "output_text",
        "category-0",
        "description",
        "reporter_severity-0",
        "immediate_danger-0",
    } | ({"expected_output"} if kind == "output_dispute" else set())
    targets = {
        href.removeprefix("#")
        for href in page.locator(".error-summary a").evaluate_all(
            "links => links.map(link => link.getAttribute('href'))"
        )
    }
    assert targets == expected


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_start_page_without_a_choice_shows_the_error_and_focuses_it(page, locale):
    page.goto("/reports/")

    submit_by_keyboard(page)

    assert_error_summary_has_focus(page)
    assert follow_each_error_summary_link(page) == []


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_lost_link_errors_take_focus_and_lead_to_each_field(page, locale):
    page.goto("/reports/lost-link")

    submit_by_keyboard(page)

    assert_error_summary_has_focus(page)
    assert follow_each_error_summary_link(page) == []


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_case_and_withdraw_errors_take_focus_and_lead_to_each_field(page, locale):
    page.goto("/reports/new?kind=harm_report")
    file_report_by_keyboard(page, "harm_report")
    page.wait_for_url("**/reports/confirmation")
    press_until_focused(page, ".tracking-link a")
    press_enter_and_wait(page)
    page.wait_for_url(re.compile(r"/reports/case/[^/]+$"))

    # "Add to my report" with nothing to add.
    submit_by_keyboard(page)
    assert_error_summary_has_focus(page)
    assert follow_each_error_summary_link(page) == []

    press_until_focused(page, "main a[href$='/withdraw']")
    press_enter_and_wait(page)
    submit_by_keyboard(page)  # "Withdraw report" without ticking the confirmation
    assert_error_summary_has_focus(page)
    assert follow_each_error_summary_link(page) == []


# -- staff: the triage journey, and every control of the busiest pages ------------------------

# Whether the focused element can be seen (WCAG 2.4.11): at least partly in the window, and not
# covered by anything (a sticky header, a banner) in the middle of the part in the window.
FOCUS_IS_VISIBLE = """() => {
    const element = document.activeElement;
    const box = element.getBoundingClientRect();
    const top = Math.max(box.top, 0), bottom = Math.min(box.bottom, window.innerHeight);
    const left = Math.max(box.left, 0), right = Math.min(box.right, window.innerWidth);
    if (bottom <= top || right <= left) return false;
    const hit = document.elementFromPoint((left + right) / 2, (top + bottom) / 2);
    if (!hit) return false;
    const labels = element.labels ? [...element.labels] : [];
    return hit === element || element.contains(hit) || hit.contains(element)
        || labels.some(label => label.contains(hit));
}"""

# Every control a keyboard should reach: visible, enabled and not taken out of the tab order.
FOCUSABLE = """() => [...document.querySelectorAll(
        'a[href], button, input:not([type="hidden"]), select, textarea, summary, [tabindex]'
    )].filter(element => {
        const style = getComputedStyle(element);
        return !element.disabled && element.tabIndex >= 0 && style.visibility !== 'hidden'
            && element.getClientRects().length > 0
            // A group of radios is one tab stop: its checked radio, or its first.
            && !(element.type === 'radio' && element !== (
                element.form?.querySelector(`input[name="${element.name}"]:checked`)
                || element.form?.querySelector(`input[name="${element.name}"]`)));
    }).length"""


# Where focus is, whether it shows, and whether it can be seen: one round trip a tab stop.
FOCUS_REPORT = f"""() => [({DESCRIBE_FOCUS})(), ({HAS_FOCUS_INDICATOR})(), ({FOCUS_IS_VISIBLE})(),
    document.activeElement === document.body]"""


def tab_through(page: Page) -> tuple[int, list[str]]:
    """Tab from the top of the page to past its last stop; the stops, and the problems met:
    a stop with no visible focus indicator, a stop hidden or covered, or a trap."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    problems, seen, repeats = [], [], 0
    for _ in range(400):
        page.keyboard.press("Tab")
        here, indicated, visible, past_the_end = page.evaluate(FOCUS_REPORT)
        if past_the_end:
            return len(seen), problems
        # A date input takes three presses (day, month, year); more is a trap.
        repeats = repeats + 1 if seen and here == seen[-1] else 0
        if repeats > 3:
            problems.append(f"focus is stuck on {here}")
            return len(seen), problems
        if repeats:
            continue
        seen.append(here)
        if not indicated:
            problems.append(f"no focus indicator: {here}")
        if not visible:
            problems.append(f"focused but hidden or covered: {here}")
    problems.append("Tab never left the page: a keyboard trap?")
    return len(seen), problems


def sign_in_by_keyboard(page: Page, email: str) -> None:
    press_until_focused(page, "#email")
    page.keyboard.type(email)
    press_until_focused(page, "#password")
    page.keyboard.type(STAFF_PASSWORD)
    press_enter_and_wait(page)


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_triage_journey_by_keyboard_alone(page, locale):
    """An agent signs in, opens the newest report, takes it, assesses it and replies."""
    page.goto("/staff/queue")
    sign_in_by_keyboard(page, STAFF_EMAIL)
    page.wait_for_url("**/staff/queue")

    press_until_focused(page, "main table tbody a")
    reference = page.evaluate("document.activeElement.textContent.trim()")
    press_enter_and_wait(page)
    page.wait_for_url(f"**/staff/tickets/{reference}")

    press_until_focused(page, "form[action$='/assign'] button[name='claim']", limit=300)
    press_enter_and_wait(page)
    assert "Ada Agent" in page.locator("main .summary-list").first.inner_text()

    press_until_focused(page, "form[action$='/classification'] select[name='severity']", limit=300)
    page.keyboard.press("End")  # the most serious
    press_until_focused(page, "form[action$='/classification'] button[type='submit']")
    press_enter_and_wait(page)
    severity = page.locator("form[action$='/classification'] select[name='severity']")
    assert severity.input_value() == "critical"

    press_until_focused(page, "#reply", limit=300)
    page.keyboard.type("We are looking into it and will write again by Friday.")
    press_until_focused(page, "form[action$='/reply'] button[type='submit']")
    press_enter_and_wait(page)
    assert page.get_by_text("We are looking into it and will write again by Friday.").count() == 1


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_every_control_of_the_staff_pages_is_reached_with_focus_in_sight(page, locale):
    page.goto("/staff/queue")
    sign_in_by_keyboard(page, STAFF_EMAIL)
    page.wait_for_url("**/staff/queue")
    problems = []
    for path in ("/staff/queue", "/staff/queue?q=Javel"):
        page.goto(path)
        if "q=" in path:  # the French report's case page: the busiest page of all
            with page.expect_navigation():
                page.locator("main table tbody a").first.click()
        stops, found = tab_through(page)
        problems += [f"{page.url}: {problem}" for problem in found]
        assert stops >= page.evaluate(FOCUSABLE), f"{page.url}: some controls are never reached"

    assert problems == []


@pytest.mark.parametrize("path", ["/", "/reports/new?kind=output_dispute", "/accessibility"])
@pytest.mark.parametrize("locale", ["en", "ar"])
def test_every_control_of_the_public_pages_is_reached_with_focus_in_sight(page, locale, path):
    page.goto(path)

    stops, problems = tab_through(page)

    assert problems == []
    assert stops >= page.evaluate(FOCUSABLE)
