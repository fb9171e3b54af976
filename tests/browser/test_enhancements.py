"""What JavaScript adds on top of pages that work without it."""

import pytest

pytestmark = pytest.mark.browser

ELEVEN_MEGABYTES = 11 * 1024 * 1024


@pytest.mark.parametrize(
    ("locale", "message"),
    [("en", "is larger than 10 MB"), ("fr", "10 Mo")],
)
def test_a_file_over_the_limit_is_refused_when_chosen_and_the_answers_stay(page, message):
    page.goto("/reports/new?kind=harm_report")
    page.fill("#output_text", "The assistant told me something dangerous.")

    page.set_input_files(
        "#evidence",
        files=[
            {"name": "recording.png", "mimeType": "image/png", "buffer": b"\0" * ELEVEN_MEGABYTES}
        ],
    )

    alert = page.locator("#evidence-size-error")
    assert alert.get_attribute("role") == "alert"
    assert "recording.png" in alert.inner_text()
    assert message in alert.inner_text()
    assert page.eval_on_selector("#evidence", "input => input.files.length") == 0
    assert page.input_value("#output_text") == "The assistant told me something dangerous."


def test_a_file_within_the_limit_is_kept(page):
    page.goto("/reports/new?kind=harm_report")

    page.set_input_files(
        "#evidence",
        files=[{"name": "note.txt", "mimeType": "text/plain", "buffer": b"what it said"}],
    )

    assert page.locator("#evidence-size-error").count() == 0
    assert page.eval_on_selector("#evidence", "input => input.files.length") == 1
