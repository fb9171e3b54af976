"""One stylesheet serves every direction: it uses logical properties only, so that Arabic needs
no second stylesheet, and every page links the same files."""

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parent.parent / "static" / "css"
PHYSICAL = re.compile(
    r"\b(?:margin|padding|border)-(?:left|right)\b"
    r"|(?<![-\w])(?:left|right)\s*:"
    r"|\b(?:text-align|float|clear)\s*:\s*(?:left|right)\b"
    r"|\bborder-(?:top|bottom)-(?:left|right)-radius\b"
)


@pytest.mark.parametrize("stylesheet", sorted(CSS.glob("*.css")), ids=lambda path: path.name)
def test_the_stylesheet_uses_logical_properties_only(stylesheet):
    text = re.sub(r"/\*.*?\*/", "", stylesheet.read_text(encoding="utf-8"), flags=re.DOTALL)

    physical = [
        f"line {text.count(chr(10), 0, match.start()) + 1}: {match.group(0)}"
        for match in PHYSICAL.finditer(text)
    ]

    assert physical == []


def test_right_to_left_pages_use_the_same_stylesheets(client):
    def stylesheets(language):
        page = client.get("/", headers={"Accept-Language": language}).get_data(as_text=True)
        return re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)

    assert stylesheets("ar") == stylesheets("en") == stylesheets("zh-CN")
    assert len(stylesheets("ar")) == 2  # the stylesheet, and its print media
