"""Every route, for every kind of visitor, gets what the access-policy table says; nothing leaks.

Each route has a probe here (a test fails for a route without one). Two reports carry unique
canary strings; a visitor must never see the canary of a report they do not hold the link to,
whatever the route answers.
"""

import uuid

import pytest

from portal.access import ACCESS_POLICY, Audience
from portal.extensions import db
from portal.models import Role
from tests.factories import make_staff, make_ticket
from tests.signing_in import sign_in

# endpoint -> (method, path); {a} is report A's reference, {token_b} report B's tracking token.
PROBES = {
    "static": ("GET", "/static/css/portal.css"),
    "public.home": ("GET", "/"),
    "public.privacy": ("GET", "/privacy"),
    "public.choose_language": ("GET", "/language/fr"),
    "public.health": ("GET", "/healthz"),
    "reports.start": ("GET", "/reports/"),
    "reports.new": ("GET", "/reports/new?kind=harm_report"),
    "reports.confirmation": ("GET", "/reports/confirmation"),
    "reports.open_tracking_link": ("GET", "/reports/track/{token_b}"),
    "reports.lost_link": ("GET", "/reports/lost-link"),
    "reports.case": ("GET", "/reports/case/{a}"),
    "reports.add_information": ("POST", "/reports/case/{a}/information"),
    "reports.withdraw": ("GET", "/reports/case/{a}/withdraw"),
    "auth.sign_in": ("GET", "/auth/sign-in"),
    "auth.sign_out": ("POST", "/auth/sign-out"),
    "auth.enter_code": ("GET", "/auth/code"),
    "auth.set_up_two_step": ("GET", "/auth/set-up-two-step"),
    "auth.two_step_verification": ("GET", "/auth/two-step-verification"),
    "staff.home": ("GET", "/staff/"),
    "staff.audit_log": ("GET", "/staff/audit"),
}

PRINCIPALS = {
    "anonymous": None,
    "holder of report A": "reporter",
    "holder of report B": "reporter",
    "agent": (Role.AGENT,),
    "analyst": (Role.ANALYST,),
    "auditor": (Role.AUDITOR,),
}


def test_every_route_has_a_probe(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}

    assert endpoints - PROBES.keys() == set(), "add a probe for these routes"


# Open to anyone, but with nothing pending (a password just accepted) they send you to sign in.
SIGN_IN_STEPS = {"auth.enter_code", "auth.set_up_two_step"}


def expected(endpoint: str, principal: str) -> str:
    audience = ACCESS_POLICY[endpoint]
    if endpoint in SIGN_IN_STEPS:
        return "sign in"
    staff_roles = PRINCIPALS[principal] if isinstance(PRINCIPALS[principal], tuple) else None
    if audience is Audience.ANYONE:
        return "allowed"
    if audience is Audience.TRACKING_LINK_HOLDER:
        return "allowed" if principal == "holder of report A" else "not found"
    if staff_roles is None:
        return "sign in"
    if audience is Audience.STAFF or set(staff_roles) & audience:
        return "allowed"
    return "forbidden"


def outcome(response) -> str:
    location = response.headers.get("Location", "")
    if response.status_code in (301, 302, 303) and location.startswith("/auth/sign-in"):
        return "sign in"
    return {403: "forbidden", 404: "not found"}.get(response.status_code, "allowed")


@pytest.fixture
def world(app):
    """Two reports with canaries: (references and tokens, canaries)."""
    canaries = {name: f"CANARY-{name}-{uuid.uuid4().hex}" for name in ("A", "B")}
    with app.app_context():
        a, token_a = make_ticket(app, description=f"Report A {canaries['A']}")
        _b, token_b = make_ticket(app, description=f"Report B {canaries['B']}")
        db.session.commit()
        return {"a": a.reference, "token_a": token_a, "token_b": token_b}, canaries


def visitor(app, principal: str, tokens: dict):
    """A client for ``principal``: holding a tracking link, signed in, or neither."""
    client = app.test_client()
    if principal == "holder of report A":
        client.get(f"/reports/track/{tokens['token_a']}")
    elif principal == "holder of report B":
        client.get(f"/reports/track/{tokens['token_b']}")
    elif PRINCIPALS[principal] is not None:
        email = f"{principal}@example.org"
        make_staff(app, email=email, roles=PRINCIPALS[principal])
        assert sign_in(client, email=email).status_code == 303
    return client


@pytest.mark.parametrize("principal", sorted(PRINCIPALS))
@pytest.mark.parametrize("endpoint", sorted(PROBES))
def test_each_visitor_gets_what_the_table_says_and_sees_no_one_elses_report(
    app, world, endpoint, principal
):
    references, canaries = world
    method, path = PROBES[endpoint]

    response = visitor(app, principal, references).open(path.format(**references), method=method)
    page = response.get_data(as_text=True)
    response.close()  # a static file is sent from an open file

    assert outcome(response) == expected(endpoint, principal)
    assert response.status_code < 500
    entitled = {"holder of report A": "A", "holder of report B": "B"}.get(principal)
    if PRINCIPALS[principal] is None or principal.startswith("holder"):
        for name, canary in canaries.items():
            if name != entitled:
                assert canary not in page
