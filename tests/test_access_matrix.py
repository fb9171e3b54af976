"""Every route, for every kind of visitor, gets what the access-policy table says; nothing leaks.

Each route has a probe here (a test fails for a route without one). The world holds two teams,
A and B, each with one report carrying a unique canary string. A visitor must never see the
canary of a report they are not entitled to, whatever the route answers; and where the table
admits a member of staff but the report belongs to another team, the answer is exactly "not
found", as for a reference that does not exist.
"""

import hashlib
import io
import re
import secrets
import uuid
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer

from portal.access import ACCESS_POLICY, Audience
from portal.extensions import db
from portal.models import (
    DurationUnit,
    OutboxMessage,
    OutboxStatus,
    Outcome,
    ReasonTemplate,
    RoutingRule,
    SavedReply,
    Severity,
    SlaPolicy,
    StaffUser,
    Team,
)
from portal.models.enums import Role
from portal.models.feedback import ExportFormat, ExportStatus, FeedbackExport
from portal.services import api_tokens
from portal.services.attachments import store_evidence
from portal.services.exports import export_dir
from portal.services.links import LinkPurpose, signed_token
from portal.services.tickets import add_information
from tests.factories import make_staff, make_ticket
from tests.signing_in import sign_in

# endpoint -> (method, path); {a} is report A's reference, {token_b} report B's tracking token,
# {file_a} an evidence file of report A, {team_a}, {rule_a}, {reply_a}, {policy_a} and
# {colleague} objects of team A ({template_a}: a reason template), {message_a} an e-mail about
# report A that could not be sent, {export} a finished feedback export (a dataset folder) and
# {other_token} an API token of another analyst.
PROBES = {
    "static": ("GET", "/static/css/portal.css"),
    "public.home": ("GET", "/"),
    "public.privacy": ("GET", "/privacy"),
    "public.choose_language": ("GET", "/language/fr"),
    "public.accessibility": ("GET", "/accessibility"),
    "public.health": ("GET", "/healthz"),
    "reports.start": ("GET", "/reports/"),
    "reports.new": ("GET", "/reports/new?kind=harm_report"),
    "reports.confirmation": ("GET", "/reports/confirmation"),
    "reports.open_tracking_link": ("GET", "/reports/track/{token_b}"),
    "reports.lost_link": ("GET", "/reports/lost-link"),
    "reports.case": ("GET", "/reports/case/{a}"),
    "reports.add_information": ("POST", "/reports/case/{a}/information"),
    "reports.withdraw": ("GET", "/reports/case/{a}/withdraw"),
    "reports.decision": ("GET", "/reports/case/{a}/decision"),
    "reports.appeal": ("GET", "/reports/case/{a}/appeal"),
    "reports.follow_up": ("POST", "/reports/case/{a}/follow-up"),
    "reports.your_data": ("GET", "/reports/case/{a}/your-data"),
    "reports.your_data_json": ("GET", "/reports/case/{a}/your-data.json"),
    "reports.erase": ("GET", "/reports/case/{a}/erase"),
    "reports.withdraw_consent": ("POST", "/reports/case/{a}/consent"),
    "reports.erasure_requested": ("GET", "/reports/case/{a}/erase/requested"),
    "reports.open_follow_up_link": ("GET", "/reports/follow-up/{follow_up_b}"),
    "reports.confirm_erasure": ("GET", "/reports/erase/{erasure_b}"),
    "reports.erased_page": ("GET", "/reports/erased"),
    "auth.sign_in": ("GET", "/auth/sign-in"),
    "auth.sign_out": ("POST", "/auth/sign-out"),
    "auth.enter_code": ("GET", "/auth/code"),
    "auth.set_up_two_step": ("GET", "/auth/set-up-two-step"),
    "auth.two_step_verification": ("GET", "/auth/two-step-verification"),
    "staff.home": ("GET", "/staff/"),
    "api.feedback": ("GET", "/api/v1/feedback"),
    "api.feedback_count": ("GET", "/api/v1/feedback/count"),
    "api.exports": ("GET", "/api/v1/exports"),
    "api.export_file": ("GET", "/api/v1/exports/{export}/files/manifest.json"),
    "api.export_archive": ("GET", "/api/v1/exports/{export}/dataset.zip"),
    "staff.queue": ("GET", "/staff/queue?status=any"),
    "staff.bulk_action": ("POST", "/staff/queue/bulk"),
    "staff.audit_log": ("GET", "/staff/audit"),
    "cases.show": ("GET", "/staff/tickets/{a}"),
    "cases.download": ("GET", "/staff/tickets/{a}/files/{file_a}"),
    "cases.assign": ("POST", "/staff/tickets/{a}/assign"),
    "cases.change_status": ("POST", "/staff/tickets/{a}/status"),
    "cases.classify": ("POST", "/staff/tickets/{a}/classification"),
    "cases.reply": ("POST", "/staff/tickets/{a}/reply"),
    "cases.request_information": ("POST", "/staff/tickets/{a}/request-information"),
    "cases.add_note": ("POST", "/staff/tickets/{a}/notes"),
    "cases.merge": ("POST", "/staff/tickets/{a}/merge"),
    "cases.flag_serious_incident": ("POST", "/staff/tickets/{a}/serious-incident"),
    "cases.move_to_team": ("POST", "/staff/tickets/{a}/team"),
    "cases.decide": ("POST", "/staff/tickets/{a}/decision"),
    "admin.index": ("GET", "/staff/admin/"),
    "admin.staff_list": ("GET", "/staff/admin/staff"),
    "admin.new_staff": ("GET", "/staff/admin/staff/new"),
    "admin.edit_staff": ("GET", "/staff/admin/staff/{colleague}"),
    "admin.teams": ("GET", "/staff/admin/teams"),
    "admin.new_team": ("GET", "/staff/admin/teams/new"),
    "admin.edit_team": ("GET", "/staff/admin/teams/{team_a}"),
    "admin.routing_rules": ("GET", "/staff/admin/routing"),
    "admin.new_rule": ("GET", "/staff/admin/routing/new"),
    "admin.edit_rule": ("GET", "/staff/admin/routing/{rule_a}"),
    "admin.move_rule": ("POST", "/staff/admin/routing/{rule_a}/move"),
    "admin.delete_rule": ("POST", "/staff/admin/routing/{rule_a}/delete"),
    "admin.saved_replies": ("GET", "/staff/admin/teams/{team_a}/replies"),
    "admin.new_saved_reply": ("GET", "/staff/admin/teams/{team_a}/replies/new"),
    "admin.edit_saved_reply": ("GET", "/staff/admin/replies/{reply_a}"),
    "admin.delete_saved_reply": ("POST", "/staff/admin/replies/{reply_a}/delete"),
    "admin.sla_policies": ("GET", "/staff/admin/sla-policies"),
    "admin.new_sla_policy": ("GET", "/staff/admin/sla-policies/new"),
    "admin.edit_sla_policy": ("GET", "/staff/admin/sla-policies/{policy_a}"),
    "admin.delete_sla_policy": ("POST", "/staff/admin/sla-policies/{policy_a}/delete"),
    "admin.team_calendar": ("GET", "/staff/admin/teams/{team_a}/calendar"),
    "admin.reason_templates": ("GET", "/staff/admin/teams/{team_a}/reason-templates"),
    "admin.new_reason_template": ("GET", "/staff/admin/teams/{team_a}/reason-templates/new"),
    "admin.edit_reason_template": ("GET", "/staff/admin/reason-templates/{template_a}"),
    "admin.delete_reason_template": ("POST", "/staff/admin/reason-templates/{template_a}/delete"),
    "dashboard.sla": ("GET", "/staff/sla"),
    "outbox.failed_messages": ("GET", "/staff/admin/outbox"),
    "outbox.retry": ("POST", "/staff/admin/outbox/{message_a}/retry"),
    "exports.index": ("GET", "/exports/"),
    "exports.preview": ("GET", "/exports/preview"),
    "exports.request_export": ("POST", "/exports/"),
    "exports.show": ("GET", "/exports/{export}"),
    "exports.progress": ("GET", "/exports/{export}/progress"),
    "exports.download": ("GET", "/exports/{export}/files/README.md"),
    "exports.download_archive": ("GET", "/exports/{export}/dataset.zip"),
    "exports.tokens": ("GET", "/exports/tokens"),
    "exports.revoke_token": ("POST", "/exports/tokens/{other_token}/revoke"),
}

# name -> (roles, team) for staff; "reporter" for link holders; None for the anonymous visitor.
PRINCIPALS = {
    "anonymous": None,
    "holder of report A": "reporter",
    "holder of report B": "reporter",
    "agent of team A": ((Role.AGENT,), "team-a"),
    "agent of team B": ((Role.AGENT,), "team-b"),
    "owner of team A": ((Role.OWNER, Role.AGENT), "team-a"),
    "owner of team B": ((Role.OWNER, Role.AGENT), "team-b"),
    "admin": ((Role.ADMIN,), None),
    "analyst": ((Role.ANALYST,), None),
    "auditor": ((Role.AUDITOR,), None),
}

# Whose canaries each visitor may see.
ENTITLED = {
    "holder of report A": {"A"},
    "holder of report B": {"B"},
    "agent of team A": {"A"},
    "owner of team A": {"A"},
    "agent of team B": {"B"},
    "owner of team B": {"B"},
    "admin": {"A", "B"},
}

# Open to anyone, but with nothing pending (a password just accepted) they send you to sign in.
SIGN_IN_STEPS = {"auth.enter_code", "auth.set_up_two_step"}
# Routes about report A that staff outside team A must not learn exists.
TEAM_SCOPED_CASES = {endpoint for endpoint in PROBES if endpoint.startswith("cases.")}
# Personal to another analyst: whoever the table admits is told it does not exist.
OTHER_ANALYSTS_OWN = {"exports.revoke_token"}
# Team A's own settings (its page, rules and saved replies): its owners and the admins.
TEAM_A_SETTINGS = {
    "admin.edit_team",
    "admin.edit_rule",
    "admin.move_rule",
    "admin.delete_rule",
    "admin.saved_replies",
    "admin.new_saved_reply",
    "admin.edit_saved_reply",
    "admin.delete_saved_reply",
    "admin.edit_sla_policy",
    "admin.delete_sla_policy",
    "admin.team_calendar",
    "admin.reason_templates",
    "admin.new_reason_template",
    "admin.edit_reason_template",
    "admin.delete_reason_template",
}


@pytest.fixture(autouse=True)
def _admins_sign_in_with_a_password(app_config):
    # The second factor has tests of its own; here it would only add steps.
    app_config["PORTAL_TOTP_REQUIRED_FOR_ADMINS"] = False


def csrf_token_for(app, client) -> str:
    """A valid CSRF token for ``client``'s session, made the way Flask-WTF makes one, so that
    a POST probe reaches the access check and the view rather than stopping at CSRF."""
    raw = secrets.token_hex(20)
    with client.session_transaction() as session:
        session["csrf_token"] = raw
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def test_every_route_has_a_probe(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}

    assert endpoints - PROBES.keys() == set(), "add a probe for these routes"
    assert PROBES.keys() - endpoints == set(), "these probes name routes that do not exist"


def expected(endpoint: str, principal: str) -> str:
    audience = ACCESS_POLICY[endpoint]
    if endpoint in SIGN_IN_STEPS:
        return "sign in"
    if endpoint == "auth.sign_out":
        return "sign in"  # open to anyone, and it ends on the sign-in page
    who = PRINCIPALS[principal]
    staff_roles = who[0] if isinstance(who, tuple) else None
    if audience is Audience.ANYONE:
        return "allowed"
    if audience is Audience.TRACKING_LINK_HOLDER:
        return "allowed" if principal == "holder of report A" else "not found"
    if audience is Audience.API_TOKEN:
        return "no token"  # nobody here presents one: a session is not a token
    if staff_roles is None:
        return "sign in"
    if audience is not Audience.STAFF and not set(staff_roles) & audience:
        return "forbidden"
    if endpoint in TEAM_SCOPED_CASES and "A" not in ENTITLED.get(principal, set()):
        return "not found"
    if endpoint in OTHER_ANALYSTS_OWN:
        return "not found"
    if endpoint in TEAM_A_SETTINGS and principal == "owner of team B":
        return "forbidden"
    return "allowed"


def outcome(response) -> str:
    location = response.headers.get("Location", "")
    if response.status_code in (301, 302, 303) and location.startswith("/auth/sign-in"):
        return "sign in"
    return {401: "no token", 403: "forbidden", 404: "not found"}.get(
        response.status_code, "allowed"
    )


@pytest.fixture
def world(app):
    """Teams A and B, a report in each with a canary, and team A's objects: (ids, canaries)."""
    canaries = {name: f"CANARY-{name}-{uuid.uuid4().hex}" for name in ("A", "B")}
    with app.app_context():
        team_a = Team(slug="team-a", name="Team A")
        team_b = Team(slug="team-b", name="Team B")
        a, token_a = make_ticket(app, description=f"Report A {canaries['A']}")
        b, token_b = make_ticket(app, description=f"Report B {canaries['B']}")
        a.team, b.team = team_a, team_b
        evidence = store_evidence(
            io.BytesIO(b"%PDF-1.4 evidence"), "evidence.pdf", Path(app.config["PORTAL_UPLOAD_DIR"])
        )
        add_information(a, text=f"More {canaries['A']}", files=[evidence], now=a.created_at)
        rule = RoutingRule(position=1, name="Disputes", team=team_a, kind="output_dispute")
        reply = SavedReply(team=team_a, locale="en", title="Thanks", body="Thank you.")
        policy = SlaPolicy(
            severity=Severity.HIGH,
            team=team_a,
            business_hours=True,
            first_response_amount=4,
            first_response_unit=DurationUnit.HOURS,
            next_update_amount=1,
            next_update_unit=DurationUnit.BUSINESS_DAYS,
            resolution_amount=3,
            resolution_unit=DurationUnit.BUSINESS_DAYS,
        )
        message = OutboxMessage(
            to_address="reporter-a@example.org",
            subject=f"About report {a.reference}",
            body=f"Report A {canaries['A']}",
            locale="en",
            ticket=a,
            status=OutboxStatus.FAILED,
            attempts=12,
            last_error="SMTPRecipientsRefused",
            created_at=a.created_at,
            next_attempt_at=a.created_at,
        )
        template = ReasonTemplate(
            team=team_a,
            outcome=Outcome.NOT_UPHELD,
            locale="en",
            title="Within policy",
            facts="The output followed the published policy.",
            measure="No change to the model.",
            policy_clause="Usage policy, section 2",
        )
        db.session.add_all([team_a, team_b, rule, reply, policy, message, template])
        db.session.commit()
        ids = {
            "a": a.reference,
            "token_a": token_a,
            "token_b": token_b,
            "file_a": a.attachments[0].id,
            "team_a": team_a.id,
            "rule_a": rule.id,
            "reply_a": reply.id,
            "policy_a": policy.id,
            "message_a": message.id,
            "template_a": template.id,
            "follow_up_b": signed_token(LinkPurpose.FOLLOW_UP, b),
            "erasure_b": signed_token(LinkPurpose.ERASURE, b),
        }
    ids["colleague"] = make_staff(app, email="colleague@example.org", team_slugs=("team-a",))
    other_analyst = make_staff(app, email="other-analyst@example.org", roles=(Role.ANALYST,))
    with app.app_context():
        export = finished_export()
        token, _secret = api_tokens.create_token(
            db.session.get(StaffUser, other_analyst), "Pipeline", now=export.created_at
        )
        db.session.commit()
        ids["export"], ids["other_token"] = export.id, token.id
    return ids, canaries


def finished_export() -> FeedbackExport:
    """A finished feedback export with one file (a dataset card) and its manifest. Flushes."""
    card = b"# A dataset card\n"
    export = FeedbackExport(
        format=ExportFormat.HUGGING_FACE, status=ExportStatus.DONE, rows_total=0, folder="probe"
    )
    export.manifest = {
        "files": [
            {"path": "README.md", "bytes": len(card), "sha256": hashlib.sha256(card).hexdigest()}
        ],
        "counts": {"records": 0, "tombstones": 0, "preference_pairs": 0},
    }
    (export_dir() / "probe").mkdir(parents=True)
    (export_dir() / "probe" / "README.md").write_bytes(card)
    (export_dir() / "probe" / "manifest.json").write_text("{}")
    db.session.add(export)
    db.session.flush()
    return export


def visitor(app, principal: str, ids: dict):
    """A client for ``principal``: holding a tracking link, signed in, or neither."""
    client = app.test_client()
    who = PRINCIPALS[principal]
    if principal == "holder of report A":
        client.get(f"/reports/track/{ids['token_a']}")
    elif principal == "holder of report B":
        client.get(f"/reports/track/{ids['token_b']}")
    elif who is not None:
        roles, team = who
        email = f"{principal.replace(' ', '-')}@example.org"
        make_staff(app, email=email, roles=roles, team_slugs=(team,) if team else ())
        assert sign_in(client, email=email).status_code == 303
    return client


@pytest.mark.parametrize("principal", sorted(PRINCIPALS))
@pytest.mark.parametrize("endpoint", sorted(PROBES))
def test_each_visitor_gets_what_the_table_says_and_sees_no_one_elses_report(
    app, world, endpoint, principal
):
    ids, canaries = world
    method, path = PROBES[endpoint]

    client = visitor(app, principal, ids)
    data = {"csrf_token": csrf_token_for(app, client)} if method == "POST" else None
    response = client.open(path.format(**ids), method=method, data=data)
    page = response.get_data().decode(errors="replace")  # a download may not be text
    response.close()  # a static file or a download is sent from an open file
    if method == "POST" and response.status_code in (302, 303):
        # An action answers with a redirect: the page it leads to must not leak either.
        page += client.get(response.headers["Location"]).get_data(as_text=True)

    assert outcome(response) == expected(endpoint, principal)
    assert response.status_code < 500
    for name, canary in canaries.items():
        if name not in ENTITLED.get(principal, set()):
            assert canary not in page


def test_a_report_of_another_team_looks_exactly_like_one_that_does_not_exist(app, world):
    ids, _canaries = world
    client = visitor(app, "agent of team B", ids)

    other_team = client.get(f"/staff/tickets/{ids['a']}")
    missing = client.get("/staff/tickets/RP-2222-2222")

    assert other_team.status_code == missing.status_code == 404
    # The page repeats its own address (in the language links), and its forms carry a CSRF
    # token that is signed with the time: compare all but those.
    page = other_team.get_data(as_text=True).replace(ids["a"], "RP-2222-2222")
    assert without_csrf_tokens(page) == without_csrf_tokens(missing.get_data(as_text=True))


def without_csrf_tokens(page: str) -> str:
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', 'name="csrf_token"', page)


@pytest.mark.parametrize(
    "path",
    [
        "/staff/tickets/{a}/files/99999999999999999999999",
        "/staff/admin/staff/99999999999999999999999",
        "/staff/admin/teams/99999999999999999999999",
        "/staff/admin/teams/99999999999999999999999/replies",
        "/staff/admin/routing/99999999999999999999999",
        "/staff/admin/replies/99999999999999999999999",
    ],
)
def test_an_id_too_large_for_the_database_is_not_found(app, world, path):
    ids, _canaries = world

    response = visitor(app, "admin", ids).get(path.format(**ids))

    assert response.status_code == 404


def test_an_audit_page_link_edited_to_a_huge_number_shows_the_newest_entries(app, world):
    ids, _canaries = world

    response = visitor(app, "admin", ids).get("/staff/audit?before=99999999999999999999999")

    assert response.status_code == 200
