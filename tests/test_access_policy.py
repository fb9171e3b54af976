"""Every route is listed in the access-policy table, and nothing else is."""

from portal.access import ACCESS_POLICY


def test_every_route_is_listed_in_the_access_policy(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}

    assert endpoints - ACCESS_POLICY.keys() == set(), "add these routes to portal/access.py"
    assert ACCESS_POLICY.keys() - endpoints == set(), "remove these stale entries"


def test_a_route_missing_from_the_table_is_refused(app):
    app.add_url_rule("/unlisted", "unlisted", lambda: "secret")

    response = app.test_client().get("/unlisted")

    assert response.status_code == 403
    assert b"secret" not in response.data
