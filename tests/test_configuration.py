"""What an operator configures: start-up refuses an unsafe or incomplete production setup, the
environment is read as documented, and crisis resources follow the visitor's country and
language."""

import html
import re

import pytest

from portal import create_app
from portal.config import ConfigurationError, config_from_environment, default_config
from portal.extensions import db
from tests.reporting import complete_answers, open_form, send

GOOD_SECRET = "k" * 32
CRISIS_SECTION = re.compile(r'<section class="crisis".*?</section>', re.DOTALL)


def production_config(database_url: str, **changes) -> dict:
    config = {
        "PORTAL_ENV": "production",
        "TESTING": False,
        "SECRET_KEY": GOOD_SECRET,
        "PORTAL_BASE_URL": "https://redress.example.org",
        "SQLALCHEMY_DATABASE_URI": database_url,
    }
    config.update(changes)
    return config


def default_without(setting: str, key: str) -> dict:
    """The default value of ``setting`` with ``key`` left out."""
    return {name: value for name, value in default_config()[setting].items() if name != key}


# -- start-up -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"SECRET_KEY": None}, "PORTAL_SECRET_KEY is not set"),
        ({"SECRET_KEY": ""}, "PORTAL_SECRET_KEY is not set"),
        ({"SECRET_KEY": "k" * 31}, "PORTAL_SECRET_KEY must be at least 32 characters"),
        ({"PORTAL_BASE_URL": None}, "PORTAL_BASE_URL is not set"),
        (
            {"PORTAL_BASE_URL": "redress.example.org"},
            "PORTAL_BASE_URL 'redress.example.org' must start with https://",
        ),
        (
            {"PORTAL_DEFAULT_TIMEZONE": "Mars/Olympus_Mons"},
            "PORTAL_DEFAULT_TIMEZONE 'Mars/Olympus_Mons' is not a time zone",
        ),
        (
            {"PORTAL_CRISIS_RESOURCES": default_without("PORTAL_CRISIS_RESOURCES", "default")},
            'PORTAL_CRISIS_RESOURCES needs a "default" list',
        ),
        (
            {"PORTAL_RETENTION_ANONYMISE_DAYS": 90},
            "PORTAL_RETENTION_ANONYMISE_DAYS must not be shorter than PORTAL_APPEAL_WINDOW_DAYS",
        ),
    ],
    ids=[
        "no-secret",
        "empty-secret",
        "short-secret",
        "no-base-url",
        "base-url-without-scheme",
        "unknown-timezone",
        "crisis-without-default",
        "retention-shorter-than-the-appeal-window",
    ],
)
def test_production_refuses_to_start_and_names_the_setting_to_fix(database_url, changes, named):
    with pytest.raises(ConfigurationError, match=re.escape(named)):
        create_app(production_config(database_url, **changes))


def test_every_problem_is_named_at_once(database_url):
    config = production_config(
        database_url, SECRET_KEY=None, PORTAL_BASE_URL=None, PORTAL_DEFAULT_TIMEZONE="Nowhere"
    )

    with pytest.raises(ConfigurationError) as refused:
        create_app(config)

    message = str(refused.value)
    for setting in ("PORTAL_SECRET_KEY", "PORTAL_BASE_URL", "PORTAL_DEFAULT_TIMEZONE"):
        assert setting in message


def test_production_starts_when_everything_is_set(database_url):
    app = create_app(production_config(database_url))
    try:
        response = app.test_client().get("/")
    finally:
        with app.app_context():
            db.engine.dispose()

    assert response.status_code == 200
    assert app.config["SECRET_KEY"] == GOOD_SECRET
    assert app.config["PORTAL_BASE_URL"] == "https://redress.example.org"


# -- the environment ----------------------------------------------------------------------------


def test_the_environment_gives_the_address_proxies_https_and_database():
    environment = {
        "PORTAL_BASE_URL": "https://redress.example.org",
        "PORTAL_PROXY_HOPS": "2",
        "PORTAL_HTTPS": "true",
        "DATABASE_URL": "postgres://redress:secret@db.internal:5432/redress",
        "PORTAL_UNKNOWN_SETTING": "ignored",
        "HOME": "/root",
    }

    assert config_from_environment(environment) == {
        "PORTAL_BASE_URL": "https://redress.example.org",
        "PORTAL_PROXY_HOPS": 2,
        "PORTAL_HTTPS": True,
        "SQLALCHEMY_DATABASE_URI": "postgres://redress:secret@db.internal:5432/redress",
    }


@pytest.mark.parametrize(
    ("value", "https"),
    [("true", True), ("1", True), ("YES", True), ("on", True), ("false", False), ("0", False)],
)
def test_portal_https_reads_the_usual_spellings_of_yes_and_no(value, https):
    assert config_from_environment({"PORTAL_HTTPS": value})["PORTAL_HTTPS"] is https


def test_a_deployment_configured_from_its_environment_uses_the_postgres_url_it_was_given():
    environment = {
        "PORTAL_ENV": "production",
        "PORTAL_SECRET_KEY": GOOD_SECRET,
        "PORTAL_BASE_URL": "https://redress.example.org",
        "PORTAL_PROXY_HOPS": "1",
        "PORTAL_HTTPS": "true",
        "DATABASE_URL": "postgres://redress:secret@db.internal:5432/redress",
    }

    app = create_app(config_from_environment(environment))
    try:
        # Behind one proxy that says the visitor came over HTTPS (a page that needs no database:
        # db.internal does not exist here).
        response = app.test_client().get("/privacy", headers={"X-Forwarded-Proto": "https"})
    finally:
        with app.app_context():
            db.engine.dispose()

    assert app.config["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg://redress:secret@db.internal:5432/redress"
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert response.status_code == 200
    assert "Strict-Transport-Security" in response.headers


# -- crisis resources ---------------------------------------------------------------------------


def crisis_help_shown(client, registry, accept_language: str) -> str:
    """Send a report about self-harm from a browser in ``accept_language``; the crisis help."""
    headers = {"Accept-Language": accept_language}
    answers = complete_answers(registry, category="self_harm")
    sent = send(client, open_form(client, headers=headers), answers, headers=headers)
    assert sent.status_code == 303
    page = html.unescape(client.get(sent.location, headers=headers).get_data(as_text=True))
    section = CRISIS_SECTION.search(page)
    assert section, "no crisis help on the confirmation page"
    return section.group(0)


@pytest.mark.parametrize(
    ("accept_language", "shown", "not_shown"),
    [
        ("ar", ["خدمات الطوارئ", "ابحث عن خط مساعدة في بلدك", "112"], ["Emergency services"]),
        ("fr-FR", ["SAMU", "3114 — Numéro national de prévention du suicide"], ["Samaritans"]),
        ("en-GB", ["Emergency services", "999", "Samaritans", "116 123"], ["3114", "112"]),
    ],
)
def test_crisis_help_comes_in_the_visitors_language_and_for_their_country(
    client, registry, accept_language, shown, not_shown
):
    section = crisis_help_shown(client, registry, accept_language)

    for text in shown:
        assert text in section
    for text in not_shown:
        assert text not in section


def test_a_deployment_can_give_arabic_speakers_in_france_their_own_crisis_line(app_config, request):
    line = {"name": "خط الاستماع بالعربية", "phone": "01 23 45 67 89", "url": None}
    app_config["PORTAL_CRISIS_RESOURCES"] = {
        **default_config()["PORTAL_CRISIS_RESOURCES"],
        "FR/ar": [line],
    }
    client, registry = request.getfixturevalue("client"), request.getfixturevalue("registry")

    arabic_in_france = crisis_help_shown(client, registry, "ar-FR")
    french_in_france = crisis_help_shown(client, registry, "fr-FR")

    assert "خط الاستماع بالعربية" in arabic_in_france
    assert "01 23 45 67 89" in arabic_in_france
    assert "SAMU" not in arabic_in_france
    assert "3114" in french_in_france
    assert "خط الاستماع بالعربية" not in french_in_france


def test_staff_session_and_password_costs_can_be_set_from_the_environment():
    config = config_from_environment(
        {
            "PORTAL_STAFF_SESSION_HOURS": "8",
            "PORTAL_STAFF_IDLE_MINUTES": "20",
            "PORTAL_ARGON2_MEMORY_COST": "131072",
            "PORTAL_RATELIMIT_SIGN_IN_ACCOUNT": "3 per minute",
        }
    )

    assert config == {
        "PORTAL_STAFF_SESSION_HOURS": 8,
        "PORTAL_STAFF_IDLE_MINUTES": 20,
        "PORTAL_ARGON2_MEMORY_COST": 131072,
        "PORTAL_RATELIMIT_SIGN_IN_ACCOUNT": "3 per minute",
    }
