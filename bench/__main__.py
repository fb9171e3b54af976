"""Benchmarks of the reporter's and staff's pages, as ratios against a baseline measured in the
same run.

    make bench            # or: .venv/bin/python -m bench [--rounds N]

Each scenario is timed in-process through Flask's test client on a fresh SQLite file, so the
figures are the app's own cost (routing, forms, templates, database), without network or server.
The baseline is GET /healthz (one ``SELECT 1``); every other figure is "times the baseline".
"""

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from portal import create_app
from portal.extensions import db
from portal.models import Team
from portal.models.routing import TeamMembership
from portal.services.accounts import create_user, hasher_from_config
from tests.factories import make_busy_portal, make_registry, make_ticket

# Tickets in the staff's database (--tickets): the queue pages through them by index, so its
# cost should not grow with their number (bench/README.md compares 20,000 with 200,000).
QUEUE_TICKETS = 20_000
STAFF_EMAIL = "agent@example.org"
ADMIN_EMAIL = "admin@example.org"
STAFF_PASSWORD = "benchmark password, long enough"

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
FORM_KEY = re.compile(r'name="form_key" type="hidden" value="([^"]+)"')
NEXT_PAGE = re.compile(r'<a href="([^"]+)" rel="next">')


def build_app(folder: Path, tickets: int = QUEUE_TICKETS):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "benchmark",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}",
            "PORTAL_UPLOAD_DIR": str(folder / "uploads"),
            "RATELIMIT_ENABLED": False,
            "PORTAL_ARGON2_TIME_COST": 1,
            "PORTAL_ARGON2_MEMORY_COST": 8,
            "PORTAL_ARGON2_PARALLELISM": 1,
            # The administrator reads the dashboard; the second factor is not what is measured.
            "PORTAL_TOTP_REQUIRED_FOR_ADMINS": False,
        }
    )
    with app.app_context():
        upgrade()
        make_registry()
        teams, _models, _staff = make_busy_portal(tickets)
        agent = create_user(
            STAFF_EMAIL,
            "Bench Agent",
            STAFF_PASSWORD,
            ["agent"],
            hasher=hasher_from_config(app.config),
        )
        db.session.add(TeamMembership(team=teams[0], user=agent))  # the busiest team: 40 %
        create_user(
            ADMIN_EMAIL,
            "Bench Admin",
            STAFF_PASSWORD,
            ["admin"],
            hasher=hasher_from_config(app.config),
        )
        db.session.commit()
        with db.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
    return app


def timed(action, rounds: int) -> float:
    """Median seconds per call over ``rounds`` calls, after a few warm-up calls (the first of
    which must succeed: a refused or failing request would be measured as a fast one)."""
    status = action().status_code
    assert status < 400, f"the scenario answered {status}"
    for _ in range(min(5, rounds)):
        action()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def signed_in(app, email: str):
    """A test client signed in as ``email``."""
    client = app.test_client()
    sign_in_page = client.get("/auth/sign-in").get_data(as_text=True)
    response = client.post(
        "/auth/sign-in",
        data={
            "csrf_token": CSRF.search(sign_in_page).group(1),
            "email": email,
            "password": STAFF_PASSWORD,
        },
    )
    assert response.status_code == 303, response.status_code
    return client


def scenarios(app):
    client = app.test_client()
    with app.app_context():
        ticket, token = make_ticket(app)
        ticket.team_id = db.session.scalar(sa.select(Team.id).where(Team.slug == "team-0"))
        db.session.commit()
        case_url = f"/reports/case/{ticket.reference}"
        staff_case_url = f"/staff/tickets/{ticket.reference}"
    tracked = app.test_client()
    tracked.get(f"/reports/track/{token}")
    staff = signed_in(app, STAFF_EMAIL)
    admin = signed_in(app, ADMIN_EMAIL)
    queue_page = staff.get("/staff/queue?status=any").get_data(as_text=True)
    next_link = NEXT_PAGE.search(queue_page)
    next_page = next_link.group(1).replace("&amp;", "&") if next_link else "/staff/queue?status=any"

    def submit():
        page = client.get("/reports/new?kind=harm_report").get_data(as_text=True)
        response = client.post(
            "/reports/new?kind=harm_report",
            data={
                "csrf_token": CSRF.search(page).group(1),
                "form_key": FORM_KEY.search(page).group(1),
                "kind": "harm_report",
                "reporter_role": "self",
                "model_choice": "not_listed",
                "model_not_listed": "Some chatbot",
                "output_text": "The output. " * 200,
                "description": "What went wrong. " * 100,
                "category": "misinformation",
                "reporter_severity": "medium",
                "immediate_danger": "no",
                "timezone": "Europe/Paris",
                "contact_email": "reporter@example.org",
            },
        )
        assert response.status_code == 303, response.status_code
        return response

    return {
        "GET /healthz (baseline)": lambda: client.get("/healthz"),
        "GET / (home)": lambda: client.get("/"),
        "GET report form": lambda: client.get("/reports/new?kind=harm_report"),
        "GET case page": lambda: tracked.get(case_url),
        "form GET + valid POST (new ticket)": submit,
        "GET staff queue (default view)": lambda: staff.get("/staff/queue"),
        "GET staff queue (any status, page 2)": lambda: staff.get(next_page),
        "GET staff queue (most severe first)": lambda: staff.get("/staff/queue?sort=severity"),
        "GET staff queue (newest first)": lambda: staff.get("/staff/queue?sort=newest"),
        "GET staff queue (at risk)": lambda: staff.get("/staff/queue?sla=at_risk"),
        "GET staff queue (breached)": lambda: staff.get("/staff/queue?sla=breached"),
        "GET SLA dashboard (admin, 5 teams)": lambda: admin.get("/staff/sla"),
        "GET staff case page": lambda: staff.get(staff_case_url),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--tickets", type=int, default=QUEUE_TICKETS)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Path(folder), arguments.tickets)
        results = {name: timed(action, arguments.rounds) for name, action in scenarios(app).items()}
        with app.app_context():
            db.engine.dispose()
    baseline = next(iter(results.values()))
    print(f"{'scenario':40} {'median ms':>10} {'x baseline':>11}")
    for name, seconds in results.items():
        print(f"{name:40} {seconds * 1000:10.2f} {seconds / baseline:11.1f}")


if __name__ == "__main__":
    main()
