"""When the database is down, people get a translated page, never a traceback."""

import pytest

from portal import create_app
from tests.conftest import base_config

UNREACHABLE = {
    "sqlite": "sqlite:////nonexistent-directory/redress.sqlite3",
    "postgresql": "postgresql://postgres@127.0.0.1:1/redress",
}


@pytest.mark.parametrize("database", sorted(UNREACHABLE))
def test_a_database_outage_shows_a_translated_error_page(database, tmp_path):
    app = create_app(base_config(UNREACHABLE[database], tmp_path))
    client = app.test_client()

    english = client.get("/reports/new?kind=harm_report")
    french = client.get("/reports/new?kind=harm_report", headers={"Accept-Language": "fr"})

    assert english.status_code == 500
    assert "Sorry, there is a problem with the service" in english.get_data(as_text=True)
    assert "Traceback" not in english.get_data(as_text=True)
    assert french.status_code == 500
    assert '<html lang="fr"' in french.get_data(as_text=True)
    assert "Sorry, there is a problem" not in french.get_data(as_text=True)
