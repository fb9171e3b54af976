"""Keeping tracking links to the people they belong to: links built on the portal's own address,
old form keys that open nothing, pages kept out of caches, cookies that end with the browser
session, and request logs that never show a token."""

import html
import logging
import re
import threading
import urllib.request

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from portal.extensions import db
from portal.models import OutboxMessage, Ticket
from tests.factories import make_ticket
from tests.reporting import complete_answers, open_form, read_page, send

EMAIL = "reporter@example.org"
BASE_URL = "http://redress.test"
FORGED_HOST = {"Host": "evil.example"}
ANY_LINK = re.compile(r"https?://[^\s\"'<>]+")
TRACKING_LINK = re.compile(r'class="tracking-link"><a href="([^"]+)"')
REFERENCE = re.compile(r'class="reference">(RP-[0-9A-Z]{4}-[0-9A-Z]{4})<')


@pytest.fixture
def app_config(app_config):
    # As in a deployment: no SERVER_NAME, so anything built from the request would follow the
    # Host header the client sent.
    app_config["SERVER_NAME"] = None
    return app_config


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def outbox(app) -> list[OutboxMessage]:
    with app.app_context():
        messages = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
        return messages


def everything_written(message: OutboxMessage) -> str:
    return "\n".join([message.to_address, message.subject, message.body])


def count_tickets(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Ticket))


def ask_for_a_new_link(client, reference: str, headers=None):
    page = client.get("/reports/lost-link", headers=headers).get_data(as_text=True)
    response = send(client, page, {"reference": reference, "email": EMAIL}, headers=headers)
    assert response.status_code == 200
    return response


def confirmation_of(client, headers=None) -> tuple[str, str | None]:
    """The reference and the tracking link (None when not offered) on the confirmation page."""
    response = client.get("/reports/confirmation", headers=headers)
    assert response.status_code == 200
    page = page_text(response)
    link = TRACKING_LINK.search(page)
    return REFERENCE.search(page).group(1), link.group(1) if link else None


def path_of(link: str) -> str:
    return link.removeprefix(BASE_URL)


# -- links built on the portal's own address ----------------------------------------------------


def test_a_report_sent_with_a_forged_host_gets_links_on_the_portals_own_address(
    app, client, registry
):
    page = open_form(client, headers=FORGED_HOST)

    response = send(
        client, page, complete_answers(registry, contact_email=EMAIL), headers=FORGED_HOST
    )

    assert response.status_code == 303
    confirmation = page_text(client.get("/reports/confirmation", headers=FORGED_HOST))
    assert TRACKING_LINK.search(confirmation).group(1).startswith(f"{BASE_URL}/reports/track/")
    assert "evil.example" not in confirmation
    [message] = outbox(app)
    links = ANY_LINK.findall(message.body)
    assert links
    assert all(link.startswith(f"{BASE_URL}/reports/track/") for link in links)
    assert "evil.example" not in everything_written(message)


def test_a_new_link_asked_for_with_a_forged_host_points_at_the_portals_own_address(app, client):
    with app.app_context():
        ticket, _token = make_ticket(app, contact_email=EMAIL)
        db.session.commit()
        reference = ticket.reference

    ask_for_a_new_link(client, reference, headers=FORGED_HOST)

    messages = outbox(app)
    message = messages[-1]
    assert message.subject.startswith("Your new tracking link")
    links = ANY_LINK.findall(message.body)
    assert links
    assert all(link.startswith(f"{BASE_URL}/reports/track/") for link in links)
    assert not any("evil.example" in everything_written(sent) for sent in messages)
    opened = app.test_client().get(path_of(links[0]))
    assert opened.status_code == 303
    assert opened.location == f"/reports/case/{reference}"


# -- an old form key ----------------------------------------------------------------------------


def test_an_old_form_key_opens_nothing_once_the_link_has_been_replaced(app, client, registry):
    page = open_form(client)
    old_form_key = read_page(page).hidden["form_key"]
    answers = complete_answers(registry, contact_email=EMAIL)
    assert send(client, page, answers).status_code == 303
    reference, link = confirmation_of(client)

    # Before the link is replaced, a retry from the same browser answers as the first post did.
    assert send(client, page, answers).status_code == 303
    assert confirmation_of(client) == (reference, link)

    ask_for_a_new_link(client, reference)
    someone_else = app.test_client()
    send(someone_else, open_form(someone_else), {**answers, "form_key": old_form_key})

    assert "/reports/track/" not in page_text(someone_else.get("/reports/confirmation"))
    assert someone_else.get(f"/reports/case/{reference}").status_code == 404
    assert someone_else.get(path_of(link)).status_code == 404
    assert count_tickets(app) == 1
    # The confirmation and the new link: the replay sent nothing.
    assert len(outbox(app)) == 2


def test_a_form_sent_again_with_its_answers_emptied_still_answers_as_the_first_time(
    app, client, registry
):
    page = open_form(client)
    assert send(client, page, complete_answers(registry)).status_code == 303
    reference, link = confirmation_of(client)

    # Back to the form, which the browser kept; some answers cleared; sent again.
    resent = send(client, page, complete_answers(registry, reporter_role=None, description=None))

    assert resent.status_code == 303
    assert confirmation_of(client) == (reference, link)
    assert count_tickets(app) == 1


# -- caches and cookies -------------------------------------------------------------------------


def test_the_reporters_pages_are_never_kept_in_a_cache(app, client, registry):
    form = client.get("/reports/new?kind=harm_report")
    sent = send(client, form.get_data(as_text=True), complete_answers(registry))
    confirmation = client.get("/reports/confirmation")
    reference, link = confirmation_of(client)
    opened = app.test_client().get(path_of(link))
    responses = {
        "start": client.get("/reports/"),
        "form": form,
        "form sent": sent,
        "confirmation": confirmation,
        "tracking link": client.get(path_of(link)),
        "tracking link opened elsewhere": opened,
        "case": client.get(f"/reports/case/{reference}"),
        "withdraw": client.get(f"/reports/case/{reference}/withdraw"),
        "lost link": client.get("/reports/lost-link"),
        "wrong tracking link": client.get("/reports/track/not-a-real-link"),
    }

    assert {name: response.status_code for name, response in responses.items()} == {
        "start": 200,
        "form": 200,
        "form sent": 303,
        "confirmation": 200,
        "tracking link": 303,
        "tracking link opened elsewhere": 303,
        "case": 200,
        "withdraw": 200,
        "lost link": 200,
        "wrong tracking link": 404,
    }
    cache_control = {
        name: response.headers.get("Cache-Control") for name, response in responses.items()
    }
    assert cache_control == dict.fromkeys(responses, "no-store")


def test_the_cookie_from_a_tracking_link_lasts_only_as_long_as_the_browser_session(app, client):
    with app.app_context():
        _ticket, token = make_ticket(app)
        db.session.commit()

    response = client.get(f"/reports/track/{token}")

    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert "expires" not in attributes
    assert "max-age" not in attributes


# -- request logs -------------------------------------------------------------------------------


def werkzeug_writes(request_line: str) -> None:
    logging.getLogger("werkzeug").info(
        '%s - - [%s] "%s" %s -', "127.0.0.1", "27/Nov/2026 19:44:58", request_line, "303"
    )


def gunicorn_writes(request_line: str) -> None:
    # Gunicorn's access log passes its atoms as one mapping.
    atoms = {"h": "127.0.0.1", "t": "[27/Nov/2026:19:44:58 +0000]", "r": request_line, "s": "303"}
    logging.getLogger("gunicorn.access").info('%(h)s - - %(t)s "%(r)s" %(s)s', atoms)


@pytest.mark.parametrize(
    ("logger", "write"),
    [("werkzeug", werkzeug_writes), ("gunicorn.access", gunicorn_writes)],
    ids=["werkzeug", "gunicorn"],
)
@pytest.mark.parametrize("secret_path", ["track", "follow-up", "erase"])
def test_a_request_log_line_shows_a_secret_links_path_without_its_token(
    app, caplog, logger, write, secret_path
):
    token = "kTq3vX9-secret_token_0123456789abcdefABCDEF.signed-part"
    caplog.set_level(logging.INFO, logger=logger)

    write(f"GET /reports/{secret_path}/{token} HTTP/1.1")

    assert len(caplog.records) == 1
    assert token not in caplog.text
    assert "127.0.0.1 - - " in caplog.text
    assert f'"GET /reports/{secret_path}/[redacted] HTTP/1.1" 303' in caplog.text


def test_a_real_server_logs_a_tracking_request_without_its_token(app, caplog):
    with app.app_context():
        ticket, token = make_ticket(app)
        db.session.commit()
        reference = ticket.reference
    caplog.set_level(logging.INFO, logger="werkzeug")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="log-test-server", daemon=True)
    thread.start()
    # A browser: keeps the cookie across the redirect, and talks to the server directly.
    browser = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor()
    )
    try:
        url = f"http://127.0.0.1:{server.server_port}/reports/track/{token}"
        with browser.open(url, timeout=10) as response:
            assert response.status == 200
            assert response.url.endswith(f"/reports/case/{reference}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()

    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert any("GET /reports/track/[redacted] HTTP/1.1" in line for line in lines), lines
    assert any(f"GET /reports/case/{reference} HTTP/1.1" in line for line in lines), lines
    assert token not in caplog.text
