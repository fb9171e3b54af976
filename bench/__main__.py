"""Benchmarks of the reporter's pages, as ratios against a baseline measured in the same run.

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

from flask_migrate import upgrade

from portal import create_app
from portal.extensions import db
from tests.factories import make_registry, make_ticket

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
FORM_KEY = re.compile(r'name="form_key" type="hidden" value="([^"]+)"')


def build_app(folder: Path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "benchmark",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}",
            "PORTAL_UPLOAD_DIR": str(folder / "uploads"),
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
        make_registry()
        db.session.commit()
    return app


def timed(action, rounds: int) -> float:
    """Median seconds per call over ``rounds`` calls, after a few warm-up calls."""
    for _ in range(min(5, rounds)):
        action()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def scenarios(app):
    client = app.test_client()
    with app.app_context():
        ticket, token = make_ticket(app)
        db.session.commit()
        case_url = f"/reports/case/{ticket.reference}"
    tracked = app.test_client()
    tracked.get(f"/reports/track/{token}")

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

    return {
        "GET /healthz (baseline)": lambda: client.get("/healthz"),
        "GET / (home)": lambda: client.get("/"),
        "GET report form": lambda: client.get("/reports/new?kind=harm_report"),
        "GET case page": lambda: tracked.get(case_url),
        "form GET + valid POST (new ticket)": submit,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Path(folder))
        results = {name: timed(action, arguments.rounds) for name, action in scenarios(app).items()}
        with app.app_context():
            db.engine.dispose()
    baseline = next(iter(results.values()))
    print(f"{'scenario':40} {'median ms':>10} {'x baseline':>11}")
    for name, seconds in results.items():
        print(f"{name:40} {seconds * 1000:10.2f} {seconds / baseline:11.1f}")


if __name__ == "__main__":
    main()
