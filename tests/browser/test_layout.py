"""Layout: right-to-left pages are mirrored by the one stylesheet. (Every page's reflow, at 320
CSS pixels and with text at 200 %, is checked with its accessibility: test_accessibility.py.)"""

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.browser


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
