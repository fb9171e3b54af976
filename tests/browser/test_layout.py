"""Layout: every page reflows at 320 CSS pixels, and Arabic pages are mirrored."""

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import TOURS

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


@pytest.mark.parametrize("tour", TOURS)
@pytest.mark.parametrize("locale", ["en", "ar"])
def test_every_page_fits_320_css_pixels_without_horizontal_scrolling(page, locale, tour):
    page.set_viewport_size(NARROW)
    problems = []
    for name in TOURS[tour](page):
        overflow = horizontal_overflow(page)
        if overflow is not None:
            problems.append(f"{name} ({locale}, {page.url}): {overflow}")

    assert not problems, "pages scroll sideways at 320 CSS pixels:\n" + "\n".join(problems)


def box(page: Page, selector: str) -> dict:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not displayed"
    return found


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_header_is_mirrored_in_right_to_left_languages(page, locale):
    page.goto("/")

    name = box(page, ".site-header__name")
    languages = box(page, ".language-switcher")

    if locale == "ar":
        assert name["x"] >= languages["x"] + languages["width"], "site name not at the right"
    else:
        assert name["x"] + name["width"] <= languages["x"], "site name not at the left"


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
