"""The tours reach every page: each GET route of the access policy that answers with a page is
shown by some tour, so the accessibility suite checks every page there is."""

import pytest
from flask import request, request_finished

from portal.access import ACCESS_POLICY
from tests.browser.conftest import LIVE_APP, TOURS, load_demo

pytestmark = pytest.mark.browser

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


def test_the_tours_show_every_page_of_the_portal(page):
    shown = set()

    def record(_sender, response, **_extra):
        if request.method == "GET" and response.mimetype == "text/html":
            shown.add(request.endpoint)

    app = LIVE_APP["app"]
    request_finished.connect(record, app)
    try:
        for tour in TOURS.values():
            page.context.clear_cookies()
            load_demo(app)  # each tour starts from the demo data, as in its own test
            for _name in tour(page):
                pass
    finally:
        request_finished.disconnect(record, app)

    pages = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and rule.endpoint not in NOT_PAGES
    }
    assert pages <= set(ACCESS_POLICY) | {"static"}
    assert not pages - shown, "no tour shows: " + ", ".join(sorted(pages - shown))
