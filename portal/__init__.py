"""Redress: report harm from AI outputs, track the case, get a reasoned decision."""

import sqlite3

import sqlalchemy as sa
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from portal.config import (
    MINIMUM_SECRET_KEY_LENGTH,
    PROJECT_ROOT,
    ConfigurationError,
    config_from_environment,
    configuration_problems,
    default_config,
    normalise_database_url,
)
from portal.extensions import babel, csrf, db, limiter, login_manager, migrate
from portal.models.types import MAX_DATABASE_ID
from portal.services.attachments import register_file_lifecycle
from portal.services.ticket_audit import register_ticket_auditing

DEVELOPMENT_SECRET_KEY = "development-only-not-secret"
DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app. No side effects: no database writes, no scheduler, no network."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    load_configuration(app, test_config)
    register_logging(app)
    register_extensions(app)
    register_i18n(app)
    register_template_globals(app)
    register_security_and_access(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_cli(app)
    return app


def load_configuration(app: Flask, test_config: dict | None) -> None:
    """Defaults, then the environment (or the test's mapping); refuse to start when unsafe."""
    app.config.from_mapping(default_config())
    app.config.update(config_from_environment() if test_config is None else test_config)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    relaxed = app.testing or app.config["PORTAL_ENV"] == "development"
    problems = configuration_problems(app.config)
    if not app.config["SECRET_KEY"]:
        if not relaxed:
            problems.append(
                "PORTAL_SECRET_KEY is not set. Set it to a long random value, for example the "
                "output of: python -c 'import secrets; print(secrets.token_urlsafe(48))'. "
                "(PORTAL_ENV=development runs locally with an insecure built-in key.)"
            )
        app.config["SECRET_KEY"] = DEVELOPMENT_SECRET_KEY
    elif len(app.config["SECRET_KEY"]) < MINIMUM_SECRET_KEY_LENGTH and not relaxed:
        problems.append(
            f"PORTAL_SECRET_KEY must be at least {MINIMUM_SECRET_KEY_LENGTH} characters"
        )
    if not app.config["PORTAL_BASE_URL"]:
        if not relaxed:
            problems.append(
                "PORTAL_BASE_URL is not set: the address people use to reach the portal, "
                "such as https://redress.example.org (links in e-mails are built on it)"
            )
        app.config["PORTAL_BASE_URL"] = DEVELOPMENT_BASE_URL
    if problems:
        raise ConfigurationError("; ".join(problems))
    app.config["SESSION_COOKIE_SECURE"] = app.config["PORTAL_HTTPS"]
    app.config["PREFERRED_URL_SCHEME"] = "https" if app.config["PORTAL_HTTPS"] else "http"


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = None  # the sign-in page explains itself
    with app.app_context():
        sa.event.listen(db.engine, "connect", _configure_sqlite)
    register_file_lifecycle(db.session)
    register_ticket_auditing(db.session)
    if app.config["PORTAL_PROXY_HOPS"]:
        hops = app.config["PORTAL_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def _configure_sqlite(dbapi_connection, _record) -> None:
    """WAL lets readers work while a report is written; SQLite enforces foreign keys on request."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        # Erased text must not linger in the file's free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()


def register_logging(app: Flask) -> None:
    from portal.logs import redact_tracking_links

    redact_tracking_links()


def register_i18n(app: Flask) -> None:
    from flask_babel import format_number

    from portal.i18n import (
        LANGUAGE_NAMES,
        current_locale_code,
        format_local_datetime,
        language_name,
        language_tag,
        offered_locales,
        register_locales,
        select_locale,
        suggested_locale,
        text_direction,
    )

    babel.init_app(app, locale_selector=select_locale)
    register_locales(app)
    app.jinja_env.globals.update(
        format_number=format_number,
        current_locale=current_locale_code,
        language_tag=language_tag,
        language_name=language_name,
        text_direction=text_direction,
        offered_locales=offered_locales,
        suggested_locale=suggested_locale,
        language_names=LANGUAGE_NAMES,
    )
    app.jinja_env.filters["local_datetime"] = format_local_datetime
    app.jinja_env.policies["ext.i18n.trimmed"] = True


def register_template_globals(app: Flask) -> None:
    """Enums that templates compare against (never against string literals), and limits."""
    from flask_babel import lazy_gettext as _l

    from portal.models import EventKind, FollowUpAnswer, Status, TicketKind
    from portal.services import sla
    from portal.services.attachments import MAX_FILE_BYTES
    from portal.services.status import OPEN_STATES
    from portal.views.public import clock_status

    app.context_processor(clock_status)  # the staff pages' warning when the clock is not working
    app.jinja_env.globals.update(
        describe_span=sla.describe,
        # The staff workspace's sections; each shows only to those the access policy admits.
        staff_navigation=(
            ("staff.queue", _l("Queue")),
            ("dashboard.sla", _l("Service levels")),
            ("admin.index", _l("Administration")),
            ("staff.audit_log", _l("Audit log")),
            ("exports.index", _l("Feedback exports")),
        ),
        TicketKind=TicketKind,
        EventKind=EventKind,
        FollowUpAnswer=FollowUpAnswer,
        Status=Status,
        open_statuses=OPEN_STATES,
        max_file_bytes=MAX_FILE_BYTES,
    )


def register_security_and_access(app: Flask) -> None:
    from portal.access import register_access_policy
    from portal.security import register_security

    register_security(app)
    register_access_policy(app)


class DatabaseIdConverter(IntegerConverter):
    """``<int:…>`` in every route, bounded to what a database id can be: a larger number is
    "not found" rather than an overflow in the database driver."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_DATABASE_ID)
        super().__init__(url_map, *args, **kwargs)


def register_blueprints(app: Flask) -> None:
    from portal.views import (
        admin,
        api,
        auth,
        cases,
        dashboard,
        exports,
        outbox,
        public,
        reports,
        staff,
    )

    # Before any rule is added: the rules look their converters up when they are created.
    app.url_map.converters["int"] = DatabaseIdConverter
    app.register_blueprint(public.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(outbox.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(api.bp)


def register_error_handlers(app: Flask) -> None:
    from portal.errors import register_error_handlers as register

    register(app)


def register_cli(app: Flask) -> None:
    from portal.cli import register_commands

    register_commands(app)
