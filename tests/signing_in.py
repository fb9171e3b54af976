"""A member of staff's moves, shared by the HTTP tests: sign in and sign out."""

from tests.conftest import CSRF_PATTERN, hidden_value
from tests.factories import STAFF_PASSWORD

PASSWORD = STAFF_PASSWORD


def sign_in(client, email="agent@example.org", password=PASSWORD, next_page=None, address=None):
    """Fill in and send the sign-in form, from ``address`` when given."""
    query = {"next": next_page} if next_page else {}
    environ = {"REMOTE_ADDR": address} if address else {}
    page = client.get("/auth/sign-in", query_string=query, environ_base=environ)
    data = {"email": email, "password": password}
    if CSRF_PATTERN.search(page.get_data(as_text=True)):  # absent when a test turns CSRF off
        data["csrf_token"] = hidden_value(page.get_data(as_text=True), CSRF_PATTERN)
    return client.post("/auth/sign-in", query_string=query, data=data, environ_base=environ)


def sign_out(client):
    page = client.get("/staff/", follow_redirects=True).get_data(as_text=True)
    return client.post("/auth/sign-out", data={"csrf_token": hidden_value(page, CSRF_PATTERN)})
