"""Staff's second factor: a code from an authenticator app after the password, set up at an
administrator's first sign-in, refused when wrong or used twice."""

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.forms.auth import code_digits
from portal.models import AuditEntry
from portal.models.enums import Role
from portal.models.registry import StaffRole, StaffUser
from portal.services import totp
from portal.services.accounts import hasher_from_config, set_password
from tests.conftest import CSRF_PATTERN, hidden_value
from tests.factories import make_staff
from tests.signing_in import PASSWORD, sign_in, sign_out

ADMIN_EMAIL = "admin@example.org"
QR_IMAGE = re.compile(r'<img class="two-step__qr" src="(data:image/svg\+xml[^"]+)"')
KEY_TEXT = re.compile(r'<p class="two-step__key"[^>]*>([A-Z2-7 ]+)</p>')
WRONG = "The code is not right"
REPLAYED = "That code has already been used"
FIXED_TIME = datetime(2026, 11, 28, 12, 0, 15, tzinfo=UTC)


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def current_code(secret: str) -> str:
    # The server accepts the step before its own too, so a code made just before a 30-second
    # boundary is still good just after it: no retry needed.
    return code_at(secret, utcnow())


def a_wrong_code(secret: str) -> str:
    """A code that matches none of the steps the server accepts now."""
    now = utcnow()
    accepted = {code_at(secret, now + timedelta(seconds=s)) for s in (-60, -30, 0, 30, 60)}
    return next(code for n in range(10) if (code := f"{n}" * 6) not in accepted)


def form_token(client, path: str) -> str:
    return hidden_value(client.get(path).get_data(as_text=True), CSRF_PATTERN)


def send_code(client, path: str, code: str, token: str | None = None, password: str | None = None):
    """Send ``code`` (and ``password``, where the page asks for it) on the page at ``path``, with
    a token from that page unless one is given."""
    token = token or form_token(client, path)
    data = {"csrf_token": token, "code": code}
    if password is not None:
        data["password"] = password
    return client.post(path, data=data)


def make_enrolled_staff(app, email="agent@example.org", roles=(Role.AGENT,)) -> tuple[int, str]:
    """An account whose app was set up two minutes ago; returns its id and the app's secret."""
    user_id = make_staff(app, email=email, roles=roles)
    secret = totp.new_secret()
    set_up_at = utcnow() - timedelta(minutes=2)
    with app.app_context():
        totp.enrol(
            db.session.get(StaffUser, user_id),
            secret,
            code_at(secret, set_up_at),
            now=set_up_at,
            secret_key=app.config["SECRET_KEY"],
        )
        db.session.commit()
    return user_id, secret


def audit_actions(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (entry.action, entry.payload)
            for entry in db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq))
        ]


def signed_in(client) -> bool:
    return client.get("/staff/queue").status_code == 200


# -- an administrator's first sign-in -----------------------------------------------------------


def test_an_admins_first_sign_in_sets_up_the_app_with_a_qr_code_and_the_key_as_text(app, client):
    make_staff(app, email=ADMIN_EMAIL, roles=(Role.ADMIN,))

    password_step = sign_in(client, email=ADMIN_EMAIL, next_page="/staff/")
    set_up = client.get(password_step.headers["Location"])
    page = set_up.get_data(as_text=True)
    key = KEY_TEXT.search(page).group(1)
    secret = key.replace(" ", "")
    confirmed = send_code(client, "/auth/set-up-two-step", current_code(secret))

    assert password_step.status_code == 303
    assert password_step.headers["Location"] == "/auth/set-up-two-step"
    assert "Set up two-step verification" in page
    assert QR_IMAGE.search(page), "the QR code is an <img> with an SVG data: URI"
    assert "style=" not in page
    assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", key), "the key is grouped for reading"
    assert set_up.headers["Cache-Control"] == "no-store"
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == "/staff/"
    assert signed_in(client)
    with app.app_context():
        admin = db.session.scalar(sa.select(StaffUser).where(StaffUser.email == ADMIN_EMAIL))
        assert admin.totp_enabled
        assert secret not in admin.totp_secret_encrypted, "the secret is encrypted at rest"
        stored = totp.decrypt_secret(admin.totp_secret_encrypted, app.config["SECRET_KEY"])
        assert stored == secret


def test_the_set_up_page_offers_the_same_key_until_it_is_confirmed(app, client):
    make_staff(app, email=ADMIN_EMAIL, roles=(Role.ADMIN,))
    sign_in(client, email=ADMIN_EMAIL)

    first = KEY_TEXT.search(client.get("/auth/set-up-two-step").get_data(as_text=True))
    again = KEY_TEXT.search(client.get("/auth/set-up-two-step").get_data(as_text=True))

    assert first.group(1) == again.group(1)


def test_a_wrong_code_at_set_up_is_refused_and_the_admin_stays_signed_out(app, client):
    make_staff(app, email=ADMIN_EMAIL, roles=(Role.ADMIN,))
    sign_in(client, email=ADMIN_EMAIL)
    page = client.get("/auth/set-up-two-step").get_data(as_text=True)
    secret = KEY_TEXT.search(page).group(1).replace(" ", "")

    refused = send_code(client, "/auth/set-up-two-step", a_wrong_code(secret))
    text = refused.get_data(as_text=True)

    assert refused.status_code == 200
    assert WRONG in text
    assert re.search(r"<title>\s*Error:", text)
    assert 'class="error-summary"' in text
    assert not signed_in(client)
    with app.app_context():
        assert not db.session.scalar(sa.select(StaffUser)).totp_enabled


def test_an_admin_cannot_skip_the_set_up_to_reach_the_workspace(app, client):
    make_staff(app, email=ADMIN_EMAIL, roles=(Role.ADMIN,))

    sign_in(client, email=ADMIN_EMAIL)
    workspace = client.get("/staff/queue")

    assert workspace.status_code == 302
    assert workspace.headers["Location"].startswith("/auth/sign-in")


@pytest.fixture
def not_required_for_admins(app_config):
    app_config["PORTAL_TOTP_REQUIRED_FOR_ADMINS"] = False


def test_admins_sign_in_with_a_password_alone_when_the_requirement_is_off(
    not_required_for_admins, app, client
):
    make_staff(app, email=ADMIN_EMAIL, roles=(Role.ADMIN,))

    response = sign_in(client, email=ADMIN_EMAIL)

    assert response.headers["Location"] == "/staff/"
    assert signed_in(client)


# -- the code step ------------------------------------------------------------------------------


def test_an_agent_without_the_app_signs_in_with_the_password_alone(app, client):
    make_staff(app)

    response = sign_in(client)

    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/"
    assert signed_in(client)


def test_an_agent_who_set_up_the_app_must_give_a_code(app, client):
    _user_id, secret = make_enrolled_staff(app)

    password_step = sign_in(client, next_page="/staff/")
    page = client.get("/auth/code").get_data(as_text=True)
    before_code = signed_in(client)
    code_step = send_code(client, "/auth/code", current_code(secret))

    assert password_step.headers["Location"] == "/auth/code"
    assert "Enter the 6-digit code from your authenticator app" in page
    assert 'autocomplete="one-time-code"' in page
    assert 'inputmode="numeric"' in page
    assert not before_code
    assert code_step.status_code == 303
    assert code_step.headers["Location"] == "/staff/"
    assert signed_in(client)


def test_a_wrong_code_is_refused_with_a_message_and_the_account_stays_signed_out(app, client):
    _user_id, secret = make_enrolled_staff(app)
    sign_in(client)

    refused = send_code(client, "/auth/code", a_wrong_code(secret))

    assert refused.status_code == 200
    assert WRONG in refused.get_data(as_text=True)
    assert re.search(r"<title>\s*Error:", refused.get_data(as_text=True))
    assert not signed_in(client)


def test_a_code_that_is_not_six_digits_is_explained(app, client):
    make_enrolled_staff(app)
    sign_in(client)

    refused = send_code(client, "/auth/code", "12345")

    assert "Enter the code as 6 digits, like 123456" in refused.get_data(as_text=True)


def test_a_code_used_once_is_refused_the_second_time(app, client):
    _user_id, secret = make_enrolled_staff(app)
    code = current_code(secret)
    sign_in(client)
    first = send_code(client, "/auth/code", code)
    sign_out(client)

    sign_in(client)
    second = send_code(client, "/auth/code", code)

    assert first.status_code == 303
    assert second.status_code == 200
    assert REPLAYED in second.get_data(as_text=True)
    assert not signed_in(client)


def test_the_code_step_lapses_after_five_minutes(app, client):
    _user_id, secret = make_enrolled_staff(app)
    sign_in(client, next_page="/staff/")
    token = form_token(client, "/auth/code")
    with client.session_transaction() as session:
        pending = session["pending_sign_in"]
        session["pending_sign_in"] = {**pending, "since": pending["since"] - 5 * 60 - 1}

    response = send_code(client, "/auth/code", current_code(secret), token)

    assert response.status_code == 303
    assert response.headers["Location"] == "/auth/sign-in?next=/staff/"
    assert "sign-in has timed out" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert not signed_in(client)


def test_a_new_password_set_between_the_steps_ends_the_pending_sign_in(app, client):
    user_id, secret = make_enrolled_staff(app)
    sign_in(client)
    token = form_token(client, "/auth/code")
    with app.app_context():
        user = db.session.get(StaffUser, user_id)
        set_password(user, "another long passphrase", hasher=hasher_from_config(app.config))
        db.session.commit()

    response = send_code(client, "/auth/code", current_code(secret), token)

    assert response.headers["Location"].startswith("/auth/sign-in")
    assert not signed_in(client)


def test_the_code_pages_need_a_pending_sign_in(client):
    assert client.get("/auth/code").headers["Location"] == "/auth/sign-in"
    assert client.get("/auth/set-up-two-step").headers["Location"] == "/auth/sign-in"


def test_a_code_needs_the_pages_token(app, client):
    _user_id, secret = make_enrolled_staff(app)
    sign_in(client)

    forged = client.post("/auth/code", data={"code": current_code(secret)})

    assert forged.status_code == 400
    assert not signed_in(client)


def test_wrong_codes_use_up_the_accounts_sign_in_allowance(throttled_sign_in, app, client):
    _user_id, secret = make_enrolled_staff(app)
    sign_in(client)

    codes = [send_code(client, "/auth/code", a_wrong_code(secret)).status_code for _ in range(4)]
    # The same allowance covers the password step, from any address.
    password = sign_in(app.test_client(), address="198.51.100.7").status_code

    # Three attempts a minute: the password, then two codes.
    assert codes == [200, 200, 429, 429]
    assert password == 429


# -- turning it on from a signed-in session -----------------------------------------------------


def test_an_agent_can_turn_on_two_step_verification(app, client):
    make_staff(app)
    sign_in(client)
    other_device = app.test_client()
    sign_in(other_device)

    page = client.get("/auth/two-step-verification").get_data(as_text=True)
    secret = KEY_TEXT.search(page).group(1).replace(" ", "")
    turned_on = send_code(
        client, "/auth/two-step-verification", current_code(secret), password=PASSWORD
    )
    status = client.get(turned_on.headers["Location"]).get_data(as_text=True)

    assert QR_IMAGE.search(page)
    assert turned_on.status_code == 303
    assert "You have turned on two-step verification" in status
    assert "Two-step verification is on" in status
    assert signed_in(client), "this session carries on"
    assert not signed_in(other_device), "sessions opened without the second factor end"
    sign_out(client)
    assert sign_in(client).headers["Location"] == "/auth/code"


def test_turning_it_on_from_a_session_needs_the_password(app, client):
    user_id = make_staff(app)
    sign_in(client)
    page = client.get("/auth/two-step-verification").get_data(as_text=True)
    secret = KEY_TEXT.search(page).group(1).replace(" ", "")

    refused = send_code(
        client, "/auth/two-step-verification", current_code(secret), password="not my password"
    )

    assert refused.status_code == 200
    assert "The password is not right" in refused.get_data(as_text=True)
    with app.app_context():
        assert not db.session.get(StaffUser, user_id).totp_enabled


def test_the_two_step_page_is_for_signed_in_staff_only(client):
    response = client.get("/auth/two-step-verification")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/sign-in")


# -- the audit log ------------------------------------------------------------------------------


def test_every_outcome_of_the_code_steps_is_in_the_audit_log(app, client):
    make_staff(app, email=ADMIN_EMAIL, roles=(Role.ADMIN,))
    sign_in(client, email=ADMIN_EMAIL)
    page = client.get("/auth/set-up-two-step").get_data(as_text=True)
    secret = KEY_TEXT.search(page).group(1).replace(" ", "")
    send_code(client, "/auth/set-up-two-step", a_wrong_code(secret))
    code = current_code(secret)
    send_code(client, "/auth/set-up-two-step", code)
    sign_out(client)
    sign_in(client, email=ADMIN_EMAIL)
    send_code(client, "/auth/code", code)

    logged = audit_actions(app)

    assert [action for action, _payload in logged] == [
        "staff.password_accepted",
        "staff.totp_refused",
        "staff.totp_enrolled",
        "staff.signed_in",
        "staff.signed_out",
        "staff.password_accepted",
        "staff.totp_refused",
    ]
    payloads = [payload for _action, payload in logged]
    assert '"wrong_code"' in payloads[1]
    assert '"totp"' in payloads[3]
    assert '"replayed_code"' in payloads[6]
    assert all(secret not in payload for payload in payloads)


# -- the service, at a fixed time ---------------------------------------------------------------


@pytest.fixture
def enrolled(app):
    """An account set up at FIXED_TIME, in an app context; yields (user, secret)."""
    user_id = make_staff(app)
    secret = totp.new_secret()
    with app.app_context():
        user = db.session.get(StaffUser, user_id)
        totp.enrol(
            user,
            secret,
            code_at(secret, FIXED_TIME),
            now=FIXED_TIME,
            secret_key=app.config["SECRET_KEY"],
        )
        db.session.commit()
        yield user, secret


def test_a_code_is_good_for_one_step_either_side_and_no_more(app, enrolled):
    user, secret = enrolled
    key = app.config["SECRET_KEY"]
    later = FIXED_TIME + timedelta(minutes=10)

    for offset, accepted in ((-60, False), (-30, True), (0, True), (30, True), (60, False)):
        code = code_at(secret, later + timedelta(seconds=offset))
        if accepted:
            user.totp_last_step = None  # each code checked as if it were the first
            totp.verify(user, code, now=later, secret_key=key)
        else:
            with pytest.raises(totp.WrongCode):
                totp.verify(user, code, now=later, secret_key=key)


def test_only_a_later_step_is_accepted_after_a_code(app, enrolled):
    user, secret = enrolled
    key = app.config["SECRET_KEY"]
    later = FIXED_TIME + timedelta(minutes=10)

    totp.verify(user, code_at(secret, later), now=later, secret_key=key)
    with pytest.raises(totp.ReplayedCode):
        totp.verify(user, code_at(secret, later), now=later, secret_key=key)
    with pytest.raises(totp.ReplayedCode):  # an older code, still inside the window
        totp.verify(user, code_at(secret, later - timedelta(seconds=30)), now=later, secret_key=key)
    totp.verify(user, code_at(secret, later + timedelta(seconds=30)), now=later, secret_key=key)


def test_the_code_that_confirmed_the_set_up_cannot_sign_in(app, enrolled):
    user, secret = enrolled

    with pytest.raises(totp.ReplayedCode):
        totp.verify(
            user, code_at(secret, FIXED_TIME), now=FIXED_TIME, secret_key=app.config["SECRET_KEY"]
        )


def test_a_secret_encrypted_under_another_key_refuses_every_code(app, enrolled):
    user, secret = enrolled
    later = FIXED_TIME + timedelta(minutes=10)

    with pytest.raises(totp.WrongCode):
        totp.verify(user, code_at(secret, later), now=later, secret_key="a-rotated-secret-key")


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("123 456", "123456"),
        (" 0 1 2345 ", "012345"),
        ("\u0661\u0662\u0663\u0664\u0665\u0666", "123456"),  # Arabic-Indic digits
        ("\uff11\uff12\uff13 \uff14\uff15\uff16", "123456"),  # full-width digits
    ],
)
def test_codes_are_read_as_digits_from_any_script_without_spaces(typed, read):
    assert code_digits(typed) == read


@pytest.mark.parametrize(
    ("roles", "required"),
    [({Role.ADMIN}, True), ({Role.ADMIN, Role.AGENT}, True), ({Role.AGENT, Role.OWNER}, False)],
)
def test_by_default_only_admins_must_have_a_second_factor(app, roles, required):
    user = StaffUser(role_grants=[StaffRole(role=role) for role in roles])

    assert totp.is_required(user, app.config) is required
    assert totp.is_required(user, {"PORTAL_TOTP_REQUIRED_FOR_ADMINS": False}) is False
