"""Who may call each route: one table, checked before every request.

A route missing from the table is refused (and a test fails), so a new route cannot be published
without someone deciding who it is for.
"""

from enum import StrEnum

from flask import Flask, abort, request
from flask_login import current_user

from portal.extensions import login_manager
from portal.models.enums import Role


class Audience(StrEnum):
    # Anyone at all, with or without a tracking link.
    ANYONE = "anyone"
    # Whoever holds the ticket's tracking link (checked by ``reports.load_tracked_ticket``).
    TRACKING_LINK_HOLDER = "tracking_link_holder"
    # Any signed-in member of staff, whatever their roles.
    STAFF = "staff"
    # Whoever presents a personal API token that may read exports (checked by the api views,
    # which answer 401 without one: an API client has no sign-in page to go to).
    API_TOKEN = "api_token"


# Staff who work on cases. Routes for staff name the roles that may call them.
CASEWORK = frozenset({Role.AGENT, Role.OWNER, Role.ADMIN})
AUDIT_READERS = frozenset({Role.AUDITOR, Role.ADMIN})
# Who manages teams, routing rules and saved replies; owners only for their own teams (the
# views narrow it with portal.services.scope).
TEAM_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
ADMINS = frozenset({Role.ADMIN})
# Who exports feedback for product teams.
ANALYSTS = frozenset({Role.ANALYST, Role.ADMIN})

ACCESS_POLICY: dict[str, Audience | frozenset[Role]] = {
    "static": Audience.ANYONE,
    "public.home": Audience.ANYONE,
    "public.privacy": Audience.ANYONE,
    "public.accessibility": Audience.ANYONE,
    "public.choose_language": Audience.ANYONE,
    "public.health": Audience.ANYONE,
    "reports.start": Audience.ANYONE,
    "reports.new": Audience.ANYONE,
    "reports.confirmation": Audience.ANYONE,
    "reports.open_tracking_link": Audience.ANYONE,
    "reports.lost_link": Audience.ANYONE,
    "reports.case": Audience.TRACKING_LINK_HOLDER,
    "reports.add_information": Audience.TRACKING_LINK_HOLDER,
    "reports.withdraw": Audience.TRACKING_LINK_HOLDER,
    "reports.decision": Audience.TRACKING_LINK_HOLDER,
    "reports.appeal": Audience.TRACKING_LINK_HOLDER,
    "reports.follow_up": Audience.TRACKING_LINK_HOLDER,
    "reports.your_data": Audience.TRACKING_LINK_HOLDER,
    "reports.your_data_json": Audience.TRACKING_LINK_HOLDER,
    "reports.erase": Audience.TRACKING_LINK_HOLDER,
    "reports.withdraw_consent": Audience.TRACKING_LINK_HOLDER,
    "reports.erasure_requested": Audience.TRACKING_LINK_HOLDER,
    # Signed links e-mailed to the reporter (the view checks the signature and its age).
    "reports.open_follow_up_link": Audience.ANYONE,
    "reports.confirm_erasure": Audience.ANYONE,
    "reports.erased_page": Audience.ANYONE,
    "auth.sign_in": Audience.ANYONE,
    "auth.sign_out": Audience.ANYONE,
    # The code steps of a sign-in: the view checks the session's pending sign-in.
    "auth.enter_code": Audience.ANYONE,
    "auth.set_up_two_step": Audience.ANYONE,
    "auth.two_step_verification": Audience.STAFF,
    # The queue (portal/views/staff.py).
    # The workspace's front door: any member of staff, sent on to the first section they
    # may visit (the queue for casework, the exports for analysts, the audit log for auditors).
    "staff.home": Audience.STAFF,
    "staff.queue": CASEWORK,
    "staff.bulk_action": CASEWORK,
    "staff.audit_log": AUDIT_READERS,
    # The case page and its actions (portal/views/cases.py); each view also checks the team.
    "cases.show": CASEWORK,
    "cases.download": CASEWORK,
    "cases.assign": CASEWORK,
    "cases.change_status": CASEWORK,
    "cases.classify": CASEWORK,
    "cases.reply": CASEWORK,
    "cases.request_information": CASEWORK,
    "cases.add_note": CASEWORK,
    "cases.merge": CASEWORK,
    "cases.flag_serious_incident": CASEWORK,
    "cases.move_to_team": CASEWORK,
    "cases.decide": CASEWORK,
    # Administration (portal/views/admin.py); owners are narrowed to their teams in the views.
    "admin.index": TEAM_MANAGERS,
    "admin.staff_list": ADMINS,
    "admin.new_staff": ADMINS,
    "admin.edit_staff": ADMINS,
    "admin.teams": TEAM_MANAGERS,
    "admin.new_team": ADMINS,
    "admin.edit_team": TEAM_MANAGERS,
    "admin.routing_rules": TEAM_MANAGERS,
    "admin.new_rule": ADMINS,
    "admin.edit_rule": TEAM_MANAGERS,
    "admin.move_rule": TEAM_MANAGERS,
    "admin.delete_rule": TEAM_MANAGERS,
    "admin.saved_replies": TEAM_MANAGERS,
    "admin.new_saved_reply": TEAM_MANAGERS,
    "admin.edit_saved_reply": TEAM_MANAGERS,
    "admin.delete_saved_reply": TEAM_MANAGERS,
    # Service levels: the policies (owners: their teams' own) and each team's calendar.
    "admin.sla_policies": TEAM_MANAGERS,
    "admin.new_sla_policy": TEAM_MANAGERS,
    "admin.edit_sla_policy": TEAM_MANAGERS,
    "admin.delete_sla_policy": TEAM_MANAGERS,
    "admin.team_calendar": TEAM_MANAGERS,
    # Each team's starting points for statements of reasons.
    "admin.reason_templates": TEAM_MANAGERS,
    "admin.new_reason_template": TEAM_MANAGERS,
    "admin.edit_reason_template": TEAM_MANAGERS,
    "admin.delete_reason_template": TEAM_MANAGERS,
    # The SLA dashboard (portal/views/dashboard.py): owners see their teams, admins all.
    "dashboard.sla": TEAM_MANAGERS,
    # E-mail that could not be delivered (portal/views/outbox.py).
    "outbox.failed_messages": ADMINS,
    "outbox.retry": ADMINS,
    "api.feedback": Audience.API_TOKEN,
    "api.feedback_count": Audience.API_TOKEN,
    "api.exports": Audience.API_TOKEN,
    "api.export_file": Audience.API_TOKEN,
    "api.export_archive": Audience.API_TOKEN,
    # Feedback exports and personal API tokens (portal/views/exports.py): every analyst sees
    # every export; tokens only their owner (the views answer "not found" to anyone else).
    "exports.index": ANALYSTS,
    "exports.preview": ANALYSTS,
    "exports.request_export": ANALYSTS,
    "exports.show": ANALYSTS,
    "exports.progress": ANALYSTS,
    "exports.download": ANALYSTS,
    "exports.download_archive": ANALYSTS,
    "exports.tokens": ANALYSTS,
    "exports.revoke_token": ANALYSTS,
}


def may_visit(endpoint: str) -> bool:
    """Whether the current visitor passes the table for ``endpoint`` (for showing links)."""
    audience = ACCESS_POLICY.get(endpoint)
    if audience is None:
        return False
    if audience in (Audience.ANYONE, Audience.TRACKING_LINK_HOLDER):
        return True
    if audience is Audience.API_TOKEN or not current_user.is_authenticated:
        return False
    return audience is Audience.STAFF or current_user.has_any_role(audience)


def enforce_access_policy():
    # No endpoint means no route matched: let the 404/405 handlers answer.
    if request.endpoint is None:
        return None
    if request.endpoint not in ACCESS_POLICY:
        abort(403)
    audience = ACCESS_POLICY[request.endpoint]
    if audience in (Audience.ANYONE, Audience.TRACKING_LINK_HOLDER, Audience.API_TOKEN):
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()  # to the sign-in page, coming back afterwards
    if audience is not Audience.STAFF and not current_user.has_any_role(audience):
        abort(403)
    return None


def register_access_policy(app: Flask) -> None:
    app.before_request(enforce_access_policy)
    app.add_template_global(may_visit)
