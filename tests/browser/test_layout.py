"""Layout: every page reflows at 320 CSS pixels and with text at 200 %, and right-to-left pages
are mirrored by the one stylesheet."""

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import TOURS, save_screenshot

pytestmark = pytest.mark.browser

# 320 CSS pixels: a 1280-pixel-wide window zoomed to 400% (WCAG 2.2, 1.4.10 Reflow).
NARROW = {"width": 320, "height": 640}


def horizontal_overflow(page: Page) -> dict | None:
    """None when nothing scrolls sideways; otherwise the widths and the widest offenders."""
    return page.evaluate(
        """() => {
            const root = document.documentElement;
            if (root.scrollWidth <= window.innerWidth) return null;
            const offenders = [...document.querySelectorAll("body *")]
                .filter(element => {
                    const box = element.getBoundingClientRect();
                    const outside = box.right > window.innerWidth + 0.5 || box.left < -0.5;
                    return box.width > 0 && outside;
                })
                .filter(element => !element.closest(".visually-hidden, .skip-link"))
                // A wide data table scrolls inside its own wrapper, not the page (1.4.10
                // exempts data tables); what overflows in there is not a page overflow.
                .filter(element => !element.parentElement.closest(".table-wrapper"))
                .slice(0, 5)
                .map(element => {
                    const box = element.getBoundingClientRect();
                    const id = element.id ? "#" + element.id : "";
                    const classes = element.className ? "." + [...element.classList].join(".") : "";
                    return `${element.tagName.toLowerCase()}${id}${classes} `
                        + `[${Math.round(box.left)}..${Math.round(box.right)}]`;
                });
            return {scrollWidth: root.scrollWidth, innerWidth: window.innerWidth, offenders};
        }"""
    )


# What is cut off: an element that clips its content (overflow hidden or clip) which is wider or
# taller than its box shows. Visually hidden text is clipped on purpose, and form controls
# scroll their own content (a long search typed into its box).
CLIPPED = """() => [...document.querySelectorAll("body *")]
    .filter(element => !element.closest(".visually-hidden, .skip-link"))
    .filter(element => !element.matches("input, select, textarea"))
    .filter(element => {
        const style = getComputedStyle(element);
        const clipsX = ["hidden", "clip"].includes(style.overflowX);
        const clipsY = ["hidden", "clip"].includes(style.overflowY);
        return (clipsX && element.scrollWidth > element.clientWidth + 1)
            || (clipsY && element.scrollHeight > element.clientHeight + 1)
            || (style.textOverflow === "ellipsis" && element.scrollWidth > element.clientWidth);
    })
    .slice(0, 5)
    .map(element => element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
        + (element.className ? "." + [...element.classList].join(".") : ""))"""

# The screenshots kept as test output (test-output/screenshots): Latin, Arabic (right to left),
# Han and Devanagari text, which CI renders with Debian's Noto fonts.
REFLOW_LOCALES = ("en", "ar", "zh_Hans", "hi")
DESKTOP = {"width": 1280, "height": 800}


def text_size(page: Page, percent: int) -> None:
    """The browser's text size setting (not zoom): the default font size, which the stylesheet's
    rem and em sizes follow."""
    session = page.context.new_cdp_session(page)
    session.send(
        "Page.setFontSizes",
        {"fontSizes": {"standard": 16 * percent // 100, "fixed": 13 * percent // 100}},
    )
    session.detach()


@pytest.mark.parametrize("tour", TOURS)
@pytest.mark.parametrize("locale", REFLOW_LOCALES)
def test_every_page_reflows_at_320_css_pixels_and_with_text_at_200_percent(page, locale, tour):
    """WCAG 1.4.10 and 1.4.4: at 320 CSS pixels wide, and at a desktop width with text twice
    its size, nothing scrolls sideways and nothing is cut off."""
    problems = []
    for name in TOURS[tour](page):
        page.set_viewport_size(NARROW)
        for problem in (horizontal_overflow(page), page.evaluate(CLIPPED) or None):
            if problem:
                problems.append(f"{name} ({locale}, 320 px, {page.url}): {problem}")
        save_screenshot(page, f"{name}-{locale}-320px")
        page.set_viewport_size(DESKTOP)
        text_size(page, 200)
        for problem in (horizontal_overflow(page), page.evaluate(CLIPPED) or None):
            if problem:
                problems.append(f"{name} ({locale}, text 200 %, {page.url}): {problem}")
        text_size(page, 100)

    assert not problems, "pages that do not reflow:\n" + "\n".join(problems)


def box(page: Page, selector: str) -> dict:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not displayed"
    return found


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_header_is_mirrored_in_right_to_left_languages(page, locale):
    """The site's name starts the header on the reading side; the languages follow it."""
    page.goto("/")

    header = box(page, ".site-header__inner")
    name = box(page, ".site-header__name")
    first_language = box(page, ".language-switcher li:first-child")

    # At the start of the line, within the container's padding (1rem).
    if locale == "ar":
        assert 0 <= header["x"] + header["width"] - (name["x"] + name["width"]) <= 16.5
        assert first_language["x"] + first_language["width"] > header["x"] + header["width"] / 2
    else:
        assert 0 <= name["x"] - header["x"] <= 16.5
        assert first_language["x"] < header["x"] + header["width"] / 2


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_radios_and_checkboxes_sit_on_the_reading_side_of_their_labels(page, locale):
    page.goto("/reports/new?kind=output_dispute")

    items = page.locator(".radios__item, .checkboxes__item")
    assert items.count() > 20
    misplaced = []
    for index in range(items.count()):
        item = items.nth(index)
        control = item.locator("input").bounding_box()
        label = item.locator("label").bounding_box()
        if locale == "ar":
            in_place = control["x"] >= label["x"] + label["width"] - 1
        else:
            in_place = control["x"] + control["width"] <= label["x"] + 1
        if not in_place:
            misplaced.append(item.locator("input").get_attribute("id"))

    assert misplaced == []
