"""Staff sign in, see the workspace, and sign out; sessions end when they should."""

import re
import threading
from datetime import UTC, datetime

import pytest

from portal.extensions import db
from portal.models.enums import Role
from portal.models.registry import StaffUser
from portal.services.accounts import disable
from tests.conftest import CSRF_PATTERN, hidden_value
from tests.factories import make_staff, make_ticket, route_everything_to
from tests.signing_in import PASSWORD, sign_in, sign_out

REFUSED = "The e-mail address or password is not right"


def without_tokens(page: str) -> str:
    return CSRF_PATTERN.sub("", page)


def test_the_workspace_asks_for_sign_in_and_returns_there_afterwards(app, client):
    make_staff(app)

    anonymous = client.get("/staff/")
    signed_in = sign_in(client, next_page="/staff/")

    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/auth/sign-in?next=%2Fstaff%2F")
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/staff/"


def test_a_signed_in_agent_lands_on_their_teams_queue(app, client, registry):
    make_staff(app, team_slugs=("trust-safety",))
    with app.app_context():
        route_everything_to("trust-safety")
        ticket, _ = make_ticket(app)
        db.session.commit()
        reference = ticket.reference

    sign_in(client)
    page = client.get("/staff/", follow_redirects=True).get_data(as_text=True)

    assert '<h1 class="heading-xl">Queue</h1>' in page
    assert reference in page
    assert "Signed in as Ada Agent" in page


@pytest.mark.parametrize("case", ["unknown address", "wrong password", "disabled account"])
def test_every_refused_sign_in_looks_the_same(app, client, case):
    user_id = make_staff(app)
    if case == "disabled account":
        with app.app_context():
            disable(db.session.get(StaffUser, user_id))
            db.session.commit()
    reference = sign_in(app.test_client(), password="not the password at all")
    email = "nobody@example.org" if case == "unknown address" else "agent@example.org"
    password = "not the password at all" if case == "wrong password" else PASSWORD

    response = sign_in(client, email=email, password=password)

    assert response.status_code == 200
    assert REFUSED in response.get_data(as_text=True)
    assert without_tokens(response.get_data(as_text=True)) == without_tokens(
        reference.get_data(as_text=True)
    ).replace('value="agent@example.org"', f'value="{email}"')
    assert client.get("/staff/queue").status_code == 302


def test_staff_without_casework_roles_cannot_open_the_workspace(app, client):
    make_staff(app, email="analyst@example.org", roles=(Role.ANALYST,))

    sign_in(client, email="analyst@example.org")

    assert client.get("/staff/queue").status_code == 403


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_after_sign_in_next_never_leaves_the_site(app, client, target):
    make_staff(app)

    response = sign_in(client, next_page=target)

    assert response.headers["Location"] == "/staff/"


def test_a_cookie_copied_before_sign_out_does_not_work_after_it(app, client):
    make_staff(app)
    sign_in(client)
    copied = client.get_cookie("session", domain="redress.test").value

    sign_out(client)
    thief = app.test_client()
    thief.set_cookie("session", copied, domain="redress.test")

    assert thief.get("/staff/queue").status_code == 302
    assert client.get("/staff/queue").status_code == 302


def test_signing_out_on_one_device_signs_out_the_others(app):
    make_staff(app)
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop)
    sign_in(phone)

    sign_out(laptop)

    assert phone.get("/staff/queue").status_code == 302


def test_sign_out_needs_the_pages_token(app, client):
    make_staff(app)
    sign_in(client)

    forged = client.post("/auth/sign-out", headers={"Accept-Language": "fr"})

    assert forged.status_code == 400
    assert '<html lang="fr"' in forged.get_data(as_text=True)
    assert client.get("/staff/queue").status_code == 200


def test_guessing_one_accounts_password_is_throttled_from_any_address(throttled_sign_in, app):
    make_staff(app)

    codes = [
        sign_in(
            app.test_client(), password=f"guess number {n:04d}", address=f"198.51.100.{n}"
        ).status_code
        for n in range(1, 5)
    ]
    # Even the right password is refused once the account is throttled.
    after = sign_in(app.test_client(), address="198.51.100.99").status_code

    assert codes == [200, 200, 200, 429]
    assert after == 429


def test_guesses_sent_all_at_once_cannot_slip_past_the_throttle(throttled_sign_in, app):
    make_staff(app)
    pages = [app.test_client() for _ in range(8)]
    forms = [
        (client, hidden_value(client.get("/auth/sign-in").get_data(as_text=True), CSRF_PATTERN))
        for client in pages
    ]
    start = threading.Barrier(len(forms))
    codes = []

    def guess(client, token, number):
        start.wait()
        response = client.post(
            "/auth/sign-in",
            data={"csrf_token": token, "email": "agent@example.org", "password": f"guess {number}"},
        )
        codes.append(response.status_code)

    threads = [
        threading.Thread(target=guess, args=(client, token, n))
        for n, (client, token) in enumerate(forms)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(codes) == [200, 200, 200, 429, 429, 429, 429, 429]


def test_the_sign_in_page_has_no_field_errors_before_anything_is_sent(client):
    page = client.get("/auth/sign-in").get_data(as_text=True)

    assert not re.search(r"<title>\s*Error:", page)
    assert 'autocomplete="current-password"' in page


def age_staff_session(client, *, since_minutes: float, seen_minutes: float) -> None:
    now = datetime.now(UTC).timestamp()
    with client.session_transaction() as session:
        session["staff_session"] = {
            "since": now - since_minutes * 60,
            "seen": now - seen_minutes * 60,
        }


def test_a_session_left_idle_for_an_hour_ends(app, client):
    make_staff(app)
    sign_in(client)

    age_staff_session(client, since_minutes=90, seen_minutes=61)

    assert client.get("/staff/queue").status_code == 302


def test_a_session_ends_twelve_hours_after_signing_in_however_busy(app, client):
    make_staff(app)
    sign_in(client)

    age_staff_session(client, since_minutes=12 * 60 + 1, seen_minutes=1)

    assert client.get("/staff/queue").status_code == 302


def test_a_busy_session_stays_open_and_its_idle_clock_restarts(app, client):
    make_staff(app)
    sign_in(client)
    age_staff_session(client, since_minutes=120, seen_minutes=50)

    assert client.get("/staff/queue").status_code == 200
    with client.session_transaction() as session:
        seen_minutes_ago = (datetime.now(UTC).timestamp() - session["staff_session"]["seen"]) / 60
    assert seen_minutes_ago < 1
