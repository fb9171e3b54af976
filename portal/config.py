"""Configuration: defaults here, production values from ``PORTAL_``-prefixed environment variables.

Tests pass a mapping to ``create_app`` instead of using the environment.
"""

import copy
import json
import os
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def N_(message: str) -> str:
    """Mark a string in configuration for translation; templates translate it when shown."""
    return message


# Every locale the portal has a catalogue for, in the switcher's order. Babel's identifiers
# ("pt_BR", "zh_Hans"); pages and headers show them as language tags ("pt-BR", "zh-Hans"). Only
# those whose catalogue is complete are offered (portal.i18n.offered_locales).
SUPPORTED_LOCALES = ("en", "fr", "de", "es", "it", "pl", "pt_BR", "ar", "zh_Hans", "hi")
RTL_LOCALES = frozenset({"ar", "he", "fa", "ur"})

MiB = 1024 * 1024


class DefaultConfig:
    """Defaults for every setting. Read through :func:`default_config`, which copies them."""

    # "production" unless said otherwise: a deployment that forgets to configure itself must
    # refuse to start without a secret rather than run with a guessable one.
    PORTAL_ENV = "production"
    SECRET_KEY = None

    SQLALCHEMY_DATABASE_URI = "sqlite:///redress.sqlite3"  # relative: inside the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict] = {}

    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    BABEL_TRANSLATION_DIRECTORIES = str(PROJECT_ROOT / "translations")
    # Offer the pseudo-locale (accented, bracketed English; portal.i18n.PSEUDO_LOCALE) whose
    # catalogue the tests write, to find text that skipped translation. Never in production.
    PORTAL_PSEUDO_LOCALE = False

    # A report can take an hour to write: the CSRF token lives as long as the session.
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"

    # Where people reach the portal, e.g. "https://redress.example.org". Links in e-mails are
    # built on it, never on the request's Host header (which a client chooses).
    PORTAL_BASE_URL = None
    # Argon2id cost for staff passwords (argon2-cffi's defaults, RFC 9106's low-memory choice).
    PORTAL_ARGON2_TIME_COST = 3
    PORTAL_ARGON2_MEMORY_COST = 65536  # KiB
    PORTAL_ARGON2_PARALLELISM = 4
    # A staff session ends this long after signing in, or after this long without a request.
    PORTAL_STAFF_SESSION_HOURS = 12
    PORTAL_STAFF_IDLE_MINUTES = 60
    PORTAL_RATELIMIT_SIGN_IN_ADDRESS = "20 per hour;10 per minute"
    PORTAL_RATELIMIT_SIGN_IN_ACCOUNT = "10 per hour;5 per minute"
    # A second factor (a code from an authenticator app) is open to all staff; administrators
    # must set one up at their first sign-in unless this is turned off.
    PORTAL_TOTP_REQUIRED_FOR_ADMINS = True
    # The name authenticator apps show beside the account.
    PORTAL_TOTP_ISSUER = "Redress"
    # How long the code step may take after a correct password, before signing in again.
    PORTAL_TOTP_PENDING_SECONDS = 5 * 60

    # How many reverse proxies in front of the app set X-Forwarded-For/-Proto (0: none).
    PORTAL_PROXY_HOPS = 0

    # Five files of 10 MB each plus the text fields, with room to spare: the per-file check,
    # with its clear message, is what a person meets, not a bare 413.
    MAX_CONTENT_LENGTH = 80 * MiB
    MAX_FORM_MEMORY_SIZE = 2 * MiB

    PORTAL_HTTPS = False
    PORTAL_UPLOAD_DIR = None  # default: <instance>/uploads
    PORTAL_EXPORT_DIR = None  # default: <instance>/exports
    # The licence the dataset card of a Hugging Face export declares (a Hub licence identifier).
    PORTAL_EXPORT_DATASET_LICENSE = "other"
    PORTAL_DEFAULT_TIMEZONE = "UTC"
    PORTAL_DEFAULT_COUNTRY = "default"

    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    PORTAL_RATELIMIT_SUBMIT = "10 per hour;3 per minute"
    PORTAL_RATELIMIT_TRACK = "60 per hour;20 per minute"
    PORTAL_RATELIMIT_LOST_LINK = "5 per hour"
    # Per API token.
    PORTAL_RATELIMIT_API = "600 per hour"

    PORTAL_MAIL_FROM = "Redress <no-reply@redress.invalid>"
    PORTAL_SMTP_HOST = "127.0.0.1"
    PORTAL_SMTP_PORT = 25
    PORTAL_SMTP_USERNAME = None
    PORTAL_SMTP_PASSWORD = None
    PORTAL_SMTP_STARTTLS = False
    PORTAL_SMTP_TIMEOUT = 10

    # The clock process (`flask scheduler run`): how often it sends the outbox; the longest the
    # SLA sweep sleeps when no deadline is nearer; how long it may stay silent before /healthz
    # and staff pages say so (more than the longest interval, or every pause would be an alarm).
    PORTAL_OUTBOX_INTERVAL_SECONDS = 30
    PORTAL_SLA_SWEEP_MAX_INTERVAL_SECONDS = 60
    PORTAL_CLOCK_SILENT_AFTER_SECONDS = 300
    # How often the clock asks the follow-up question and closes decided reports, and how
    # often it applies the retention periods (both also catch up on anything missed).
    PORTAL_FOLLOW_UP_INTERVAL_SECONDS = 300
    PORTAL_RETENTION_INTERVAL_SECONDS = 3600
    # How often the clock looks for a requested feedback export to run, and for reports whose
    # export-ready text must be redacted again under new rules.
    PORTAL_EXPORT_INTERVAL_SECONDS = 10
    PORTAL_REDACTION_INTERVAL_SECONDS = 3600

    # Redress: how long a reporter may appeal a decision (from the day they were told of it),
    # and the route outside this portal that every decision names beside the appeal here (an
    # out-of-court dispute settlement body, a regulator): a name and an address.
    PORTAL_APPEAL_WINDOW_DAYS = 183
    # Days after a decision when the reporter is asked "Did this resolve your concern?", and
    # after which a decided report is closed (an appeal inside the window reopens it).
    PORTAL_FOLLOW_UP_DAYS = 14
    PORTAL_CLOSE_DECIDED_AFTER_DAYS = 28
    # How long the links e-mailed for the follow-up and to confirm an erasure work.
    PORTAL_FOLLOW_UP_LINK_DAYS = 30
    PORTAL_ERASURE_LINK_HOURS = 72
    # Retention, counted from when work on a report ended (closed, withdrawn or merged): its
    # evidence files are deleted after the first period, its personal data and free text
    # erased after the second (portal.services.retention).
    PORTAL_RETENTION_ATTACHMENTS_DAYS = 365
    PORTAL_RETENTION_ANONYMISE_DAYS = 730
    PORTAL_OUTSIDE_REDRESS: ClassVar[dict] = {
        "name": N_("the national consumer protection authority"),
        "url": "https://commission.europa.eu/live-work-travel-eu/consumer-rights-and-complaints_en",
    }

    # Where to report illegal images instead of here (shown on the evidence question).
    PORTAL_ILLEGAL_CONTENT_REPORTING: ClassVar[dict] = {
        "name": "INHOPE",
        "url": "https://www.inhope.org/EN#hotlineReferral",
    }
    # Crisis resources, looked up by "<country>/<language>", "<country>", "default/<language>"
    # and "default", in that order (country codes as in Accept-Language: FR, GB, US...).
    PORTAL_CRISIS_RESOURCES: ClassVar[dict] = {
        "default": [
            {"name": N_("Emergency services"), "phone": "112", "url": None},
            {
                "name": N_("Find a helpline in your country"),
                "phone": None,
                "url": "https://findahelpline.com",
            },
        ],
        "FR": [
            {"name": "SAMU", "phone": "15", "url": None},
            {
                "name": "3114 — Numéro national de prévention du suicide",
                "phone": "3114",
                "url": "https://3114.fr",
            },
        ],
        "GB": [
            {"name": N_("Emergency services"), "phone": "999", "url": None},
            {"name": "Samaritans", "phone": "116 123", "url": "https://www.samaritans.org"},
        ],
        "US": [
            {"name": N_("Emergency services"), "phone": "911", "url": None},
            {
                "name": "988 Suicide & Crisis Lifeline",
                "phone": "988",
                "url": "https://988lifeline.org",
            },
        ],
    }


def default_config() -> dict:
    """A fresh copy of the defaults: no app can change another's nested settings."""
    return copy.deepcopy(
        {key: getattr(DefaultConfig, key) for key in dir(DefaultConfig) if key.isupper()}
    )


_BOOLEAN_TRUE = {"1", "true", "yes", "on"}

# Environment variable -> (config key, parser). Only these are read from the environment.
_ENVIRONMENT_KEYS = {
    "PORTAL_ENV": ("PORTAL_ENV", str),
    "PORTAL_SECRET_KEY": ("SECRET_KEY", str),
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "PORTAL_HTTPS": ("PORTAL_HTTPS", lambda v: v.lower() in _BOOLEAN_TRUE),
    "PORTAL_BASE_URL": ("PORTAL_BASE_URL", str),
    "PORTAL_PROXY_HOPS": ("PORTAL_PROXY_HOPS", int),
    "PORTAL_TOTP_REQUIRED_FOR_ADMINS": (
        "PORTAL_TOTP_REQUIRED_FOR_ADMINS",
        lambda v: v.lower() in _BOOLEAN_TRUE,
    ),
    "PORTAL_TOTP_ISSUER": ("PORTAL_TOTP_ISSUER", str),
    "PORTAL_UPLOAD_DIR": ("PORTAL_UPLOAD_DIR", str),
    "PORTAL_EXPORT_DIR": ("PORTAL_EXPORT_DIR", str),
    "PORTAL_EXPORT_DATASET_LICENSE": ("PORTAL_EXPORT_DATASET_LICENSE", str),
    "PORTAL_RATELIMIT_API": ("PORTAL_RATELIMIT_API", str),
    "PORTAL_EXPORT_INTERVAL_SECONDS": ("PORTAL_EXPORT_INTERVAL_SECONDS", int),
    "PORTAL_REDACTION_INTERVAL_SECONDS": ("PORTAL_REDACTION_INTERVAL_SECONDS", int),
    "PORTAL_DEFAULT_TIMEZONE": ("PORTAL_DEFAULT_TIMEZONE", str),
    "PORTAL_DEFAULT_COUNTRY": ("PORTAL_DEFAULT_COUNTRY", str),
    "PORTAL_RATELIMIT_STORAGE_URI": ("RATELIMIT_STORAGE_URI", str),
    "PORTAL_RATELIMIT_SUBMIT": ("PORTAL_RATELIMIT_SUBMIT", str),
    "PORTAL_RATELIMIT_TRACK": ("PORTAL_RATELIMIT_TRACK", str),
    "PORTAL_RATELIMIT_LOST_LINK": ("PORTAL_RATELIMIT_LOST_LINK", str),
    "PORTAL_RATELIMIT_SIGN_IN_ADDRESS": ("PORTAL_RATELIMIT_SIGN_IN_ADDRESS", str),
    "PORTAL_RATELIMIT_SIGN_IN_ACCOUNT": ("PORTAL_RATELIMIT_SIGN_IN_ACCOUNT", str),
    "PORTAL_ARGON2_TIME_COST": ("PORTAL_ARGON2_TIME_COST", int),
    "PORTAL_ARGON2_MEMORY_COST": ("PORTAL_ARGON2_MEMORY_COST", int),
    "PORTAL_ARGON2_PARALLELISM": ("PORTAL_ARGON2_PARALLELISM", int),
    "PORTAL_STAFF_SESSION_HOURS": ("PORTAL_STAFF_SESSION_HOURS", int),
    "PORTAL_STAFF_IDLE_MINUTES": ("PORTAL_STAFF_IDLE_MINUTES", int),
    "PORTAL_TOTP_PENDING_SECONDS": ("PORTAL_TOTP_PENDING_SECONDS", int),
    "PORTAL_MAIL_FROM": ("PORTAL_MAIL_FROM", str),
    "PORTAL_SMTP_HOST": ("PORTAL_SMTP_HOST", str),
    "PORTAL_SMTP_PORT": ("PORTAL_SMTP_PORT", int),
    "PORTAL_SMTP_USERNAME": ("PORTAL_SMTP_USERNAME", str),
    "PORTAL_SMTP_PASSWORD": ("PORTAL_SMTP_PASSWORD", str),
    "PORTAL_SMTP_STARTTLS": ("PORTAL_SMTP_STARTTLS", lambda v: v.lower() in _BOOLEAN_TRUE),
    "PORTAL_OUTBOX_INTERVAL_SECONDS": ("PORTAL_OUTBOX_INTERVAL_SECONDS", int),
    "PORTAL_SLA_SWEEP_MAX_INTERVAL_SECONDS": ("PORTAL_SLA_SWEEP_MAX_INTERVAL_SECONDS", int),
    "PORTAL_CLOCK_SILENT_AFTER_SECONDS": ("PORTAL_CLOCK_SILENT_AFTER_SECONDS", int),
    "PORTAL_CRISIS_RESOURCES": ("PORTAL_CRISIS_RESOURCES", json.loads),
    "PORTAL_ILLEGAL_CONTENT_REPORTING": ("PORTAL_ILLEGAL_CONTENT_REPORTING", json.loads),
    "PORTAL_APPEAL_WINDOW_DAYS": ("PORTAL_APPEAL_WINDOW_DAYS", int),
    "PORTAL_FOLLOW_UP_DAYS": ("PORTAL_FOLLOW_UP_DAYS", int),
    "PORTAL_CLOSE_DECIDED_AFTER_DAYS": ("PORTAL_CLOSE_DECIDED_AFTER_DAYS", int),
    "PORTAL_FOLLOW_UP_LINK_DAYS": ("PORTAL_FOLLOW_UP_LINK_DAYS", int),
    "PORTAL_ERASURE_LINK_HOURS": ("PORTAL_ERASURE_LINK_HOURS", int),
    "PORTAL_RETENTION_ATTACHMENTS_DAYS": ("PORTAL_RETENTION_ATTACHMENTS_DAYS", int),
    "PORTAL_RETENTION_ANONYMISE_DAYS": ("PORTAL_RETENTION_ANONYMISE_DAYS", int),
    "PORTAL_FOLLOW_UP_INTERVAL_SECONDS": ("PORTAL_FOLLOW_UP_INTERVAL_SECONDS", int),
    "PORTAL_RETENTION_INTERVAL_SECONDS": ("PORTAL_RETENTION_INTERVAL_SECONDS", int),
    "PORTAL_OUTSIDE_REDRESS": ("PORTAL_OUTSIDE_REDRESS", json.loads),
}


def config_from_environment(environ=os.environ) -> dict:
    config = {}
    for variable, (key, parse) in _ENVIRONMENT_KEYS.items():
        if environ.get(variable):
            config[key] = parse(environ[variable])
    return config


def normalise_database_url(url: str) -> str:
    """Accept the ``postgres://`` spelling that hosting providers hand out."""
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


class ConfigurationError(RuntimeError):
    """The app refuses to start: the message says what to set."""


MINIMUM_SECRET_KEY_LENGTH = 32


def configuration_problems(config) -> list[str]:
    """What is wrong with a configuration, in words an operator can act on (empty when fine)."""
    problems = []
    try:
        ZoneInfo(config["PORTAL_DEFAULT_TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            f"PORTAL_DEFAULT_TIMEZONE {config['PORTAL_DEFAULT_TIMEZONE']!r} is not a time zone"
        )
    base_url = config["PORTAL_BASE_URL"]
    if base_url and not base_url.startswith(("https://", "http://")):
        problems.append(f"PORTAL_BASE_URL {base_url!r} must start with https:// (or http://)")
    if not config["PORTAL_CRISIS_RESOURCES"].get("default"):
        problems.append('PORTAL_CRISIS_RESOURCES needs a "default" list')
    problems += _clock_problems(config)
    return problems


CLOCK_INTERVALS = ("PORTAL_OUTBOX_INTERVAL_SECONDS", "PORTAL_SLA_SWEEP_MAX_INTERVAL_SECONDS")
# The clock is silent when none of its jobs has succeeded for that long: these run seldom and
# need not be counted (the frequent jobs keep the heartbeat fresh).
SELDOM_CLOCK_INTERVALS = (
    "PORTAL_FOLLOW_UP_INTERVAL_SECONDS",
    "PORTAL_RETENTION_INTERVAL_SECONDS",
    "PORTAL_EXPORT_INTERVAL_SECONDS",
    "PORTAL_REDACTION_INTERVAL_SECONDS",
)
PERIODS_IN_DAYS = (
    "PORTAL_APPEAL_WINDOW_DAYS",
    "PORTAL_FOLLOW_UP_DAYS",
    "PORTAL_CLOSE_DECIDED_AFTER_DAYS",
    "PORTAL_FOLLOW_UP_LINK_DAYS",
    "PORTAL_RETENTION_ATTACHMENTS_DAYS",
    "PORTAL_RETENTION_ANONYMISE_DAYS",
)


def _clock_problems(config) -> list[str]:
    problems = [
        f"{key} must be a whole number of seconds, at least 1"
        for key in (*CLOCK_INTERVALS, *SELDOM_CLOCK_INTERVALS, "PORTAL_CLOCK_SILENT_AFTER_SECONDS")
        if not isinstance(config[key], int) or config[key] < 1
    ]
    problems += [
        f"{key} must be a whole number of days, at least 1"
        for key in PERIODS_IN_DAYS
        if not isinstance(config[key], int) or config[key] < 1
    ]
    if not problems:
        problems += [
            f"{key} must not be shorter than PORTAL_APPEAL_WINDOW_DAYS: a closed report that "
            "can still be appealed would lose its evidence or its tracking link"
            for key in ("PORTAL_RETENTION_ATTACHMENTS_DAYS", "PORTAL_RETENTION_ANONYMISE_DAYS")
            if config[key] < config["PORTAL_APPEAL_WINDOW_DAYS"]
        ]
    if not isinstance(config["PORTAL_ERASURE_LINK_HOURS"], int) or (
        config["PORTAL_ERASURE_LINK_HOURS"] < 1
    ):
        problems.append("PORTAL_ERASURE_LINK_HOURS must be a whole number of hours, at least 1")
    if not problems:
        longest = max(config[key] for key in CLOCK_INTERVALS)
        if config["PORTAL_CLOCK_SILENT_AFTER_SECONDS"] <= longest:
            problems.append(
                "PORTAL_CLOCK_SILENT_AFTER_SECONDS must be longer than the clock's longest "
                f"interval ({longest} s), or every pause between runs would raise the alarm"
            )
    return problems
