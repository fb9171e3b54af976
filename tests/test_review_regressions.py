"""Problems a review found in the staff workspace, kept from coming back."""

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from werkzeug.security import generate_password_hash

from portal import create_app
from portal.clock import utcnow
from portal.extensions import db
from portal.models import AuditEntry, Role, StaffUser, Ticket
from portal.services.accounts import set_roles
from portal.services.tickets import add_information
from tests.conftest import base_config, postgres_database_for_worker
from tests.factories import make_staff, make_ticket
from tests.signing_in import PASSWORD, sign_in


def test_nul_characters_do_not_give_an_account_a_fresh_sign_in_allowance(throttled_sign_in, app):
    make_staff(app)

    codes = [
        sign_in(
            app.test_client(), email="agent@example.org" + "\x00" * n, password=f"guess {n:04d}"
        ).status_code
        for n in range(4)
    ]

    assert codes == [200, 200, 200, 429]


def test_gaining_a_role_ends_the_accounts_sessions(app, client):
    user_id = make_staff(app)
    sign_in(client)
    assert client.get("/staff/queue").status_code == 200

    with app.app_context():
        set_roles(db.session.get(StaffUser, user_id), [Role.AGENT, Role.ADMIN])
        db.session.commit()

    assert client.get("/staff/queue").status_code == 302


def test_an_account_from_before_argon2_signs_in_and_is_upgraded(app, client):
    user_id = make_staff(app)
    with app.app_context():
        db.session.get(StaffUser, user_id).password_hash = generate_password_hash(PASSWORD)
        db.session.commit()

    assert sign_in(client).status_code == 303
    with app.app_context():
        assert db.session.get(StaffUser, user_id).password_hash.startswith("$argon2id$")


def test_staff_pages_are_never_cached(app, client):
    make_staff(app)
    sign_in(client)

    assert client.get("/staff/queue").headers["Cache-Control"] == "no-store"


def test_a_rolled_back_savepoint_does_not_lose_the_outer_events_audit_entries(app):
    with app.app_context():
        ticket, _ = make_ticket(app)
        db.session.flush()
        nested = db.session.begin_nested()
        add_information(ticket, text="Undone.", files=[], now=utcnow())
        db.session.flush()
        nested.rollback()
        db.session.commit()

        actions = list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.seq)))

    assert actions == ["ticket.submitted", "ticket.routed"]


def test_migrations_upgrade_and_downgrade_a_database_that_holds_reports(
    database_url, tmp_path, worker_id
):
    if database_url.startswith("postgresql"):
        url = postgres_database_for_worker(database_url.rsplit("_", 1)[0], f"{worker_id}_data")
    else:
        url = f"sqlite:///{tmp_path / 'with-data.sqlite3'}"
    app = create_app(base_config(url, tmp_path))
    with app.app_context():
        upgrade()
        make_ticket(app, contact_email="someone@example.org")
        ticket = db.session.scalar(sa.select(Ticket))
        add_information(ticket, text="More.", files=[], now=utcnow())
        db.session.commit()

        downgrade(revision="785331d50f1f")
        upgrade()

        assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 1
        db.session.remove()
        db.engine.dispose()
