"""Requests that race: the same report sent twice at the same moment, from real threads against
the real database."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Ticket
from tests.reporting import complete_answers, open_form, send

RACES = 10
REFERENCE = re.compile(r'class="reference">(RP-[0-9A-Z]{4}-[0-9A-Z]{4})<')
TRACKING_LINK = re.compile(r'class="tracking-link"><a href="([^"]+)"')


def confirmation_of(browser) -> tuple[str, str]:
    page = browser.get("/reports/confirmation").get_data(as_text=True)
    return REFERENCE.search(page).group(1), TRACKING_LINK.search(page).group(1)


def race(first_browser, second_browser, page: str, answers: dict) -> list:
    """Both browsers send the form on ``page`` at the same moment; their responses."""
    start = threading.Barrier(2)

    def send_when_both_are_ready(browser):
        start.wait(timeout=10)
        return send(browser, page, answers)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(send_when_both_are_ready, [first_browser, second_browser]))


def test_the_same_report_sent_twice_at_once_makes_one_ticket_and_both_see_it(app, registry):
    answers = complete_answers(registry)
    confirmed = []

    for _race in range(RACES):
        first_browser = app.test_client()
        page = open_form(first_browser)
        # A double click: the same page, form key, CSRF token and session cookie, sent twice.
        second_browser = app.test_client()
        cookie = first_browser.get_cookie("session", domain="redress.test")
        second_browser.set_cookie("session", cookie.value, domain="redress.test")

        responses = race(first_browser, second_browser, page, answers)

        assert [(response.status_code, response.location) for response in responses] == [
            (303, "/reports/confirmation"),
            (303, "/reports/confirmation"),
        ]
        first, second = confirmation_of(first_browser), confirmation_of(second_browser)
        assert first == second
        confirmed.append(first[0])

    with app.app_context():
        references = db.session.scalars(sa.select(Ticket.reference)).all()
    assert sorted(references) == sorted(confirmed)
    assert len(set(confirmed)) == RACES
