"""Fixtures shared by the whole suite.

The database is real: a SQLite file by default, PostgreSQL when ``DATABASE_URL`` names one (each
xdist worker then gets a database of its own). The schema is built by the Alembic migrations,
once per worker, and emptied after each test.
"""

import os
import re
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from portal import create_app
from portal.config import PROJECT_ROOT, normalise_database_url
from portal.extensions import db, limiter
from portal.models import AuditHead
from portal.models.audit import GENESIS_HASH, HEAD_ID
from tests.factories import make_registry
from tests.pseudo_locale import pseudo_translations

# Set by .ci/run: in CI a missing service or browser is a failure, never a skip.
TRANSLATIONS = PROJECT_ROOT / "translations"
REQUIRE_SERVICES = os.environ.get("REDRESS_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str):
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (required because REDRESS_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def postgres_database_for_worker(base_url: str, worker_id: str) -> str:
    """Create (afresh) a database for this xdist worker next to the one ``base_url`` names."""
    url = sa.make_url(normalise_database_url(base_url))
    name = f"{url.database}_{worker_id}"
    admin = url.set(drivername="postgresql")
    try:
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        skip_or_fail(f"PostgreSQL at {url.host}:{url.port} is not reachable: {error}")
    return url.set(database=name).render_as_string(hide_password=False)


def base_config(database_url: str, tmp_path: Path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-for-the-suite-only",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "PORTAL_UPLOAD_DIR": str(tmp_path / "uploads"),
        "PORTAL_EXPORT_DIR": str(tmp_path / "exports"),
        "RATELIMIT_ENABLED": False,
        "PORTAL_DEFAULT_TIMEZONE": "Europe/London",
        "SERVER_NAME": "redress.test",
        "PORTAL_BASE_URL": "http://redress.test",
        # Argon2 at production cost takes about half a second a hash on this machine.
        "PORTAL_ARGON2_TIME_COST": 1,
        "PORTAL_ARGON2_MEMORY_COST": 8,
        "PORTAL_ARGON2_PARALLELISM": 1,
        # The pseudo-locale, to find text that skipped translation (tests/pseudo_locale.py).
        "PORTAL_PSEUDO_LOCALE": True,
        "BABEL_TRANSLATION_DIRECTORIES": f"{TRANSLATIONS};{pseudo_translations()}",
    }


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id) -> str:
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith(("postgres://", "postgresql")):
        url = postgres_database_for_worker(configured, worker_id)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('database') / 'redress.sqlite3'}"
    app = create_app(base_config(url, tmp_path_factory.mktemp("unused")))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


@pytest.fixture
def is_postgres(database_url) -> bool:
    return database_url.startswith("postgresql")


@contextmanager
def audit_log_unprotected():
    """Test-only: a transaction in which the audit log's append-only triggers are lifted.

    Yields the connection. The triggers come back before the commit, in the same transaction, so
    a failure inside rolls everything back, triggers included. On PostgreSQL they are disabled
    and enabled again; on SQLite (which cannot disable a trigger) they are dropped and recreated
    from the very SQL that created them, read back from ``sqlite_master``.
    """
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
            yield connection
            connection.execute(sa.text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
            return
        # pysqlite would run the DDL outside any transaction unless one is begun explicitly.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        triggers = connection.execute(
            sa.text(
                "SELECT name, sql FROM sqlite_master"
                " WHERE type = 'trigger' AND tbl_name = 'audit_entries'"
            )
        ).all()
        assert triggers, "the migrations made no triggers on audit_entries"
        for name, _sql in triggers:
            connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
        yield connection
        for _name, sql in triggers:
            connection.exec_driver_sql(sql)


def empty_all_tables() -> None:
    """Delete every row, the audit log's included, and put the audit chain back at its start."""
    tables = list(reversed(db.metadata.sorted_tables))
    with audit_log_unprotected() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())
        connection.execute(sa.insert(AuditHead).values(id=HEAD_ID, seq=0, entry_hash=GENESIS_HASH))


@pytest.fixture
def app_config(database_url, tmp_path) -> dict:
    """The configuration ``app`` is built from; a test may change it before using ``app``."""
    return base_config(database_url, tmp_path)


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    yield app
    with app.app_context():
        db.session.remove()
        empty_all_tables()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def registry(app):
    """A small model registry: returns {slug: AIModel}."""
    with app.app_context():
        models = make_registry()
        db.session.commit()
        return {slug: model.id for slug, model in models.items()}


CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
FORM_KEY_PATTERN = re.compile(r'name="form_key" type="hidden" value="([^"]+)"')


def hidden_value(html: str, pattern: re.Pattern) -> str:
    match = pattern.search(html)
    assert match, "hidden field not found in the page"
    return match.group(1)


@pytest.fixture
def rate_limits(app_config):
    """Switch rate limiting on with the given limits, for ``app`` built after this call:
    ``rate_limits(PORTAL_RATELIMIT_TRACK="2 per minute")``. Counts are cleared afterwards."""

    def switch_on(**limits) -> None:
        app_config.update(RATELIMIT_ENABLED=True, **limits)

    yield switch_on
    limiter.reset()


@pytest.fixture
def throttled_sign_in(rate_limits):
    """Sign-in limited to three attempts a minute per account (generous per address)."""
    rate_limits(
        PORTAL_RATELIMIT_SIGN_IN_ACCOUNT="3 per minute",
        PORTAL_RATELIMIT_SIGN_IN_ADDRESS="100 per minute",
    )


@pytest.fixture
def offline_datasets(monkeypatch, tmp_path):
    """datasets, with the Hub out of reach and its caches in the test's folder."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    import datasets  # a test dependency, slow to import: only where it is used
    import huggingface_hub.constants

    # The flags are read when the modules are first imported: this process may have done so.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return datasets
