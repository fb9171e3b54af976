"""Administration: staff accounts, teams and their calendars, routing rules, saved replies,
reason templates and service-level policies.

The access policy admits administrators everywhere here and team owners to the team pages,
routing rules, saved replies, reason templates and service levels; the loaders below narrow
owners to the teams they manage (a team's existence is no secret among staff, so the answer
outside them is 403).
Each POST is: a validated form, one service call, its audit entries, one commit, a redirect.
"""

import unicodedata
from functools import partial

import sqlalchemy as sa
from babel import Locale
from cryptography.fernet import InvalidToken
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from portal.access import may_visit
from portal.clock import utcnow
from portal.config import SUPPORTED_LOCALES
from portal.extensions import db
from portal.forms.admin import (
    ACTIVE,
    APPEALS,
    BUSINESS_HOURS,
    DISABLED,
    ROUND_THE_CLOCK,
    ConfirmForm,
    EditStaffForm,
    EditTeamForm,
    MoveRuleForm,
    NewStaffForm,
    NewTeamForm,
    ReasonTemplateForm,
    RoutingRuleForm,
    SavedReplyForm,
    SlaPolicyForm,
    TeamCalendarForm,
    TeamSettingsForm,
    any_or,
    day_span,
    holiday_regions,
)
from portal.i18n import current_locale_code, language_name
from portal.models import (
    AIModel,
    Category,
    DurationUnit,
    Outcome,
    ReasonTemplate,
    Role,
    RoutingRule,
    SavedReply,
    Severity,
    SlaPolicy,
    StaffUser,
    Team,
    TeamMembership,
    TicketKind,
)
from portal.security import never_cache
from portal.services import audit, reason_templates, routing, scope, sla_admin, staff_admin, totp
from portal.services.accounts import generate_password, hasher_from_config
from portal.services.routing import RuleConditions
from portal.services.sla import Span, Terms
from portal.services.sla_admin import PolicyScope, UnusableCalendar
from portal.services.staff_admin import AdminRefused, Change

bp = Blueprint("admin", __name__, url_prefix="/staff/admin")
bp.after_request(never_cache)

# The password of an account just created, encrypted, until its page has shown it once.
NEW_PASSWORD = "admin_new_password"


def _actor() -> StaffUser:
    return current_user._get_current_object()


def _record(changes, *, object_type: str, object_id: int) -> None:
    """Append the audit entries of ``changes`` (the last writes before the commit)."""
    for change in changes:
        audit.append_by_staff(
            change.action,
            staff_id=_actor().id,
            object_type=object_type,
            object_id=object_id,
            now=utcnow(),
            secret_key=current_app.config["SECRET_KEY"],
            **change.payload,
        )


def _done(message: str, endpoint: str, **values):
    """Commit, say so, and go to ``endpoint`` (POST-redirect-GET)."""
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values), code=303)


def _done_moving_deadlines(message: str, changes: list[Change], endpoint: str, **values):
    """As ``_done``, then say how many open reports ``changes`` gave new deadlines. Two
    messages, each translated whole: joined, they would get a space between sentences that
    Chinese or Japanese does not put there."""
    response = _done(message, endpoint, **values)
    flash(deadlines_moved(changes), "success")
    return response


def deadlines_moved(changes: list[Change]) -> str:
    """How many open reports the changes gave new deadlines, in words."""
    count = sum(change.payload.get("deadlines_moved", 0) for change in changes)
    if not count:
        return _("No open report got new deadlines.")
    return ngettext(
        "%(num)d open report got new deadlines.", "%(num)d open reports got new deadlines.", count
    )


# -- loaders ------------------------------------------------------------------------------------


def managed_teams() -> list[Team]:
    """The teams the viewer manages (every team for administrators), by name."""
    query = sa.select(Team).order_by(Team.name, Team.id)
    managed = scope.managed_team_ids(_actor())
    if managed is not None:
        query = query.where(Team.id.in_(managed))
    return list(db.session.scalars(query))


def load_team(team_id: int) -> Team:
    """The team, for someone who manages it. 404 if there is none, 403 for anyone else."""
    team = db.session.get(Team, team_id) or abort(404)
    if not scope.can_manage_team(_actor(), team):
        abort(403)
    return team


def can_manage_rule(rule: RoutingRule) -> bool:
    """Administrators manage every rule; owners the rules that send to a team they manage,
    except a rule without conditions: that one sets the default team, which is theirs to
    decide only as administrators."""
    if scope.is_admin(_actor()):
        return True
    return not routing.is_catch_all(rule) and scope.can_manage_team(_actor(), rule.team)


def load_rule(rule_id: int) -> RoutingRule:
    """The rule, for someone who manages it. 404 if there is none, 403 for anyone else."""
    rule = db.session.get(RoutingRule, rule_id) or abort(404)
    if not can_manage_rule(rule):
        abort(403)
    return rule


def load_saved_reply(reply_id: int) -> SavedReply:
    """The saved reply, for someone who manages its team. 404 if there is none, 403 else."""
    reply = db.session.get(SavedReply, reply_id) or abort(404)
    if not scope.can_manage_team(_actor(), reply.team):
        abort(403)
    return reply


def load_reason_template(template_id: int) -> ReasonTemplate:
    """The reason template, for someone who manages its team. 404 if there is none, 403 else."""
    template = db.session.get(ReasonTemplate, template_id) or abort(404)
    if not scope.can_manage_team(_actor(), template.team):
        abort(403)
    return template


def load_staff(user_id: int) -> StaffUser:
    """Any account (the page is for administrators only); 404 if there is none."""
    return db.session.get(StaffUser, user_id) or abort(404)


# -- choices ------------------------------------------------------------------------------------


def language_choices() -> list[SelectChoice]:
    return [SelectChoice(code, language_name(code)) for code in SUPPORTED_LOCALES]


def team_choices(teams: list[Team]) -> list[SelectChoice]:
    return [SelectChoice(team.id, team.name) for team in teams]


def staff_choices() -> list[SelectChoice]:
    users = db.session.scalars(sa.select(StaffUser).order_by(StaffUser.display_name, StaffUser.id))
    return [
        SelectChoice(
            user.id,
            user.display_name
            if user.is_active
            else _("%(name)s (disabled)", name=user.display_name),
        )
        for user in users
    ]


# -- the landing page ---------------------------------------------------------------------------


@bp.get("/")
def index():
    """The sections the viewer may use."""
    return render_template(
        "admin/index.html", is_admin=scope.is_admin(_actor()), teams=managed_teams()
    )


# -- staff accounts (administrators) ------------------------------------------------------------

STAFF_REFUSALS = {
    AdminRefused.EMAIL_TAKEN: ("email", _l("There is already an account with this address")),
    AdminRefused.OWN_ADMIN_ROLE: (
        "roles",
        _l("You cannot remove your own administrator role. Ask another administrator."),
    ),
    AdminRefused.OWN_ACCOUNT_DISABLED: ("status", _l("You cannot disable your own account")),
}


def _refused(form, refusals: dict, reason: str) -> None:
    field, message = refusals[reason]
    form[field].errors.append(message)


@bp.get("/staff")
def staff_list():
    users = db.session.scalars(sa.select(StaffUser).order_by(StaffUser.display_name, StaffUser.id))
    teams_of = {}
    for membership in db.session.scalars(
        sa.select(TeamMembership).options(joinedload(TeamMembership.team))
    ):
        teams_of.setdefault(membership.user_id, []).append(membership.team)
    return render_template(
        "admin/staff_list.html",
        users=[
            (user, sorted(teams_of.get(user.id, []), key=lambda team: team.name)) for user in users
        ],
    )


def _staff_form_choices(form) -> None:
    form.teams.choices = team_choices(managed_teams())
    form.languages.choices = language_choices()


@bp.route("/staff/new", methods=["GET", "POST"])
def new_staff():
    form = NewStaffForm()
    _staff_form_choices(form)
    if form.validate_on_submit():
        password = generate_password()
        try:
            user, change = staff_admin.create_staff(
                email=form.email.data,
                display_name=form.display_name.data,
                password=password,
                roles=[Role(value) for value in form.roles.data],
                team_ids=form.teams.data,
                languages=form.languages.data,
                hasher=hasher_from_config(current_app.config),
            )
            _record([change], object_type="staff_account", object_id=user.id)
            db.session.commit()
        except (AdminRefused, IntegrityError):
            db.session.rollback()
            _refused(form, STAFF_REFUSALS, AdminRefused.EMAIL_TAKEN)
        else:
            # Shown once, on the account's page; kept encrypted in the signed (not encrypted)
            # session cookie until then, never in a URL.
            session[NEW_PASSWORD] = {
                "user_id": user.id,
                "password": totp.encrypt_secret(password, current_app.config["SECRET_KEY"]),
            }
            flash(_("Account created."), "success")
            return redirect(url_for("admin.edit_staff", user_id=user.id), code=303)
    return render_template("admin/staff_form.html", form=form, user=None)


def _one_time_password(user: StaffUser) -> str | None:
    """The new account's password, if it has not been shown yet; then forgotten."""
    kept = session.get(NEW_PASSWORD)
    if not isinstance(kept, dict) or kept.get("user_id") != user.id:
        return None
    session.pop(NEW_PASSWORD)
    try:
        return totp.decrypt_secret(kept["password"], current_app.config["SECRET_KEY"])
    except (InvalidToken, KeyError, TypeError):
        return None


@bp.route("/staff/<int:user_id>", methods=["GET", "POST"])
def edit_staff(user_id: int):
    user = load_staff(user_id)
    form = EditStaffForm(
        data={
            "display_name": user.display_name,
            "roles": sorted(role.value for role in user.roles),
            "teams": sorted(scope.team_ids(user)),
            "languages": sorted(staff_admin.languages_of(user)),
            "status": ACTIVE if user.is_active else DISABLED,
        }
    )
    _staff_form_choices(form)
    if form.validate_on_submit():
        try:
            changes = staff_admin.update_staff(
                user,
                actor=_actor(),
                display_name=form.display_name.data,
                roles=[Role(value) for value in form.roles.data],
                team_ids=form.teams.data,
                languages=form.languages.data,
                active=form.status.data == ACTIVE,
                now=utcnow(),
            )
        except AdminRefused as refused:
            _refused(form, STAFF_REFUSALS, refused.reason)
        else:
            _record(changes, object_type="staff_account", object_id=user.id)
            return _done(_("Account saved."), "admin.edit_staff", user_id=user.id)
    return render_template(
        "admin/staff_form.html", form=form, user=user, new_password=_one_time_password(user)
    )


# -- teams --------------------------------------------------------------------------------------

TEAM_REFUSALS = {
    AdminRefused.SLUG_TAKEN: ("slug", _l("There is already a team with this short name")),
}


@bp.get("/teams")
def teams():
    return render_template("admin/teams.html", teams=managed_teams())


@bp.route("/teams/new", methods=["GET", "POST"])
def new_team():
    form = NewTeamForm(data={"timezone": current_app.config["PORTAL_DEFAULT_TIMEZONE"]})
    form.members.choices = staff_choices()
    if form.validate_on_submit():
        try:
            team, change = staff_admin.create_team(
                slug=form.slug.data,
                name=form.name.data,
                timezone=form.timezone.data,
                auto_assign=form.auto_assign.data,
                member_ids=form.members.data,
            )
            _record([change], object_type="team", object_id=team.id)
            db.session.commit()
        except (AdminRefused, IntegrityError):
            db.session.rollback()
            _refused(form, TEAM_REFUSALS, AdminRefused.SLUG_TAKEN)
        else:
            flash(_("Team created."), "success")
            return redirect(url_for("admin.edit_team", team_id=team.id), code=303)
    return render_template("admin/team_form.html", form=form, team=None, members=[])


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
def edit_team(team_id: int):
    """Administrators change everything but the slug; the team's owners its auto-assignment
    only. The time zone is part of the team's calendar (``team_calendar``)."""
    team = load_team(team_id)
    members = staff_admin.all_members(team)
    data = {"name": team.name, "auto_assign": team.auto_assign}
    if scope.is_admin(_actor()):
        form = EditTeamForm(data={**data, "members": [user.id for user in members]})
        form.members.choices = staff_choices()
    else:
        form = TeamSettingsForm(data=data)
    if form.validate_on_submit():
        if isinstance(form, EditTeamForm):
            changes = staff_admin.update_team(
                team,
                name=form.name.data,
                auto_assign=form.auto_assign.data,
                member_ids=form.members.data,
                now=utcnow(),
            )
        else:
            changes = staff_admin.update_team_settings(team, auto_assign=form.auto_assign.data)
        _record(changes, object_type="team", object_id=team.id)
        return _done(_("Team saved."), "admin.edit_team", team_id=team.id)
    return render_template(
        "admin/team_form.html",
        form=form,
        team=team,
        members=members,
        holidays_country=country_name(team.holidays_country) if team.holidays_country else None,
    )


def country_name(code: str) -> str:
    """A country named in the viewer's language ("Germany" on an English page)."""
    return Locale.parse(current_locale_code()).territories.get(code, code)


def _sort_key(name: str) -> str:
    # Accents aside, so that "Émirats arabes unis" comes among the E's on a French page.
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def holiday_country_choices() -> list[SelectChoice]:
    """No holidays, then every country whose public holidays are known, by name."""
    countries = sorted(
        ((country_name(code), code) for code in holiday_regions()),
        key=lambda named: _sort_key(named[0]),
    )
    return [SelectChoice("", _("None")), *(SelectChoice(code, name) for name, code in countries)]


def _calendar_form(team: Team, week: dict) -> TeamCalendarForm:
    data = {
        "timezone": team.timezone,
        "holidays_country": team.holidays_country or "",
        "holidays_subdivision": team.holidays_subdivision or "",
    }
    for day, ranges in week.items():
        start, end = day_span(ranges)
        data.update(
            {f"works_{day}": True, f"start_{day}": f"{start:%H:%M}", f"end_{day}": f"{end:%H:%M}"}
        )
    form = TeamCalendarForm(data=data)
    form.holidays_country.choices = holiday_country_choices()
    return form


@bp.route("/teams/<int:team_id>/calendar", methods=["GET", "POST"])
def team_calendar(team_id: int):
    """The team's time zone, working week and public holidays, on which its business-hours
    timers run; saving moves its open reports' deadlines."""
    team = load_team(team_id)
    week = sla_admin.working_week(team)
    form = _calendar_form(team, week)
    if form.validate_on_submit():
        try:
            changes = sla_admin.set_team_calendar(
                team,
                timezone=form.timezone.data,
                working_hours=form.working_hours(week),
                holidays_country=form.holidays_country.data or None,
                holidays_subdivision=(form.holidays_subdivision.data or "").strip() or None,
            )
        except UnusableCalendar as unusable:
            # The form's own checks catch what people get wrong; this is the calendar module's
            # last word (a day's stored periods that overlap, say), put on the question at fault.
            form.show_unusable(unusable.calendar, unusable.problems)
        else:
            _record(changes, object_type="team", object_id=team.id)
            return _done_moving_deadlines(
                _("Calendar saved."), changes, "admin.team_calendar", team_id=team.id
            )
    return render_template(
        "admin/team_calendar.html",
        form=form,
        team=team,
        several_ranges={day: ranges for day, ranges in week.items() if len(ranges) > 1},
    )


# -- routing rules ------------------------------------------------------------------------------


def condition_labels(rule: RoutingRule) -> list[tuple[str, str | None]]:
    """Each condition of ``rule`` as (what, label); None for "any"."""
    return [
        (_("Kind of report"), rule.kind.label if rule.kind else None),
        (_("Kind of problem"), rule.category.label if rule.category else None),
        (_("Model"), rule.model.display_name if rule.model else None),
        (
            _("Model version"),
            f"{rule.model_version.model.display_name} {rule.model_version.version}"
            if rule.model_version
            else None,
        ),
        (_("Language"), language_name(rule.locale) if rule.locale else None),
        (_("How serious"), rule.severity.label if rule.severity else None),
    ]


@bp.get("/routing")
def routing_rules():
    """Every rule in order (routing is no secret among staff), with the actions the viewer may
    take on each; the default team; and a warning when nothing catches the rest."""
    rules = routing.all_rules()
    default = routing.default_rule(rules)
    default_index = rules.index(default) if default else len(rules)
    manageable = [can_manage_rule(rule) for rule in rules]
    rows = [
        {
            "rule": rule,
            "conditions": condition_labels(rule),
            "manageable": manageable[i],
            "can_move_up": manageable[i] and i > 0 and manageable[i - 1],
            "can_move_down": manageable[i] and i + 1 < len(rules) and manageable[i + 1],
            "unreachable": i > default_index,
        }
        for i, rule in enumerate(rules)
    ]
    return render_template(
        "admin/routing_rules.html",
        rows=rows,
        default=default,
        may_add=may_visit("admin.new_rule"),
    )


def _rule_form(rule: RoutingRule | None) -> RoutingRuleForm:
    data = {"is_active": True}
    if rule is not None:
        data = {
            "name": rule.name,
            "team": rule.team_id,
            "is_active": rule.is_active,
            "kind": rule.kind.value if rule.kind else "",
            "category": rule.category.value if rule.category else "",
            "model": str(rule.model_id or ""),
            "model_version": str(rule.model_version_id or ""),
            "locale": rule.locale or "",
            "severity": rule.severity.value if rule.severity else "",
        }
    models = list(db.session.scalars(sa.select(AIModel).order_by(AIModel.display_name)))
    form = RoutingRuleForm(
        data=data,
        require_condition=not scope.is_admin(_actor()),
        version_models={
            str(version.id): str(model.id) for model in models for version in model.versions
        },
    )
    form.team.choices = team_choices(managed_teams())
    form.model.choices = any_or([SelectChoice(str(m.id), m.display_name) for m in models])
    form.model_version.choices = any_or(
        [
            SelectChoice(str(version.id), version.version, optgroup=model.display_name)
            for model in models
            for version in model.versions
        ]
    )
    form.locale.choices = any_or(language_choices())
    return form


def _rule_values(form: RoutingRuleForm) -> dict:
    """The form's answers as a service takes them; the team is one the viewer manages (the
    form's choices hold only those, and this checks again)."""
    team = db.session.get(Team, form.team.data)
    if team is None or not scope.can_manage_team(_actor(), team):
        abort(403)
    conditions = RuleConditions(
        kind=TicketKind(form.kind.data) if form.kind.data else None,
        category=Category(form.category.data) if form.category.data else None,
        model_id=int(form.model.data) if form.model.data else None,
        model_version_id=int(form.model_version.data) if form.model_version.data else None,
        locale=form.locale.data or None,
        severity=Severity(form.severity.data) if form.severity.data else None,
    )
    if conditions.is_empty and not scope.is_admin(_actor()):
        abort(403)  # the form refuses it already; a rule without conditions is for admins
    return {
        "name": form.name.data,
        "team": team,
        "is_active": form.is_active.data,
        "conditions": conditions,
    }


@bp.route("/routing/new", methods=["GET", "POST"])
def new_rule():
    """Administrators only: a new rule takes reports from the rules below it, which may be
    other teams'; team owners narrow the rules they have (see ``edit_rule``)."""
    form = _rule_form(None)
    if form.validate_on_submit():
        rule = routing.create_rule(**_rule_values(form))
        _record(
            [staff_admin.Change("routing_rule.created", routing.rule_values(rule))],
            object_type="routing_rule",
            object_id=rule.id,
        )
        return _done(_("Rule added."), "admin.routing_rules", _anchor=f"rule-{rule.id}")
    return render_template("admin/rule_form.html", form=form, rule=None)


@bp.route("/routing/<int:rule_id>", methods=["GET", "POST"])
def edit_rule(rule_id: int):
    """Owners may only narrow a rule of theirs (add conditions, switch it off, rename it, send
    it to another of their teams); widening a rule is for administrators."""
    rule = load_rule(rule_id)
    form = _rule_form(rule)
    if form.validate_on_submit():
        values = _rule_values(form)
        if not scope.is_admin(_actor()) and routing.widens(
            rule, values["conditions"], values["is_active"]
        ):
            form.kind.errors.append(
                _(
                    "As a team owner you can only narrow this rule: add conditions or switch "
                    "it off. Ask an administrator to widen it."
                )
            )
            return render_template(
                "admin/rule_form.html", form=form, rule=rule, delete_form=ConfirmForm()
            )
        changed = routing.update_rule(rule, **values)
        if changed:
            payload = {**routing.rule_values(rule), "changed": changed}
            _record(
                [staff_admin.Change("routing_rule.updated", payload)],
                object_type="routing_rule",
                object_id=rule.id,
            )
        return _done(_("Rule saved."), "admin.routing_rules", _anchor=f"rule-{rule.id}")
    return render_template("admin/rule_form.html", form=form, rule=rule, delete_form=ConfirmForm())


@bp.post("/routing/<int:rule_id>/move")
def move_rule(rule_id: int):
    """One place up or down: both rules change places, so the viewer must manage both."""
    rule = load_rule(rule_id)
    form = MoveRuleForm()
    if not form.validate():
        abort(400)
    back = url_for("admin.routing_rules", _anchor=f"rule-{rule.id}")
    other = routing.neighbour(rule, form.direction.data)
    if other is None:
        return redirect(back, code=303)
    if not can_manage_rule(other):
        flash(_("You can only move a rule past another rule that you manage."), "error")
        return redirect(back, code=303)
    try:
        routing.swap_positions(rule, other)
        _record(
            [
                staff_admin.Change(
                    "routing_rule.moved",
                    {"position": rule.position, "swapped_with": other.id},
                )
            ],
            object_type="routing_rule",
            object_id=rule.id,
        )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        flash(_("The rules changed while you were moving this one. Check the order."), "error")
        return redirect(back, code=303)
    flash(_("Rule moved."), "success")
    return redirect(back, code=303)


@bp.post("/routing/<int:rule_id>/delete")
def delete_rule(rule_id: int):
    rule = load_rule(rule_id)
    if not ConfirmForm().validate():
        abort(400)
    payload = routing.rule_values(rule)
    routing.delete_rule(rule)
    _record(
        [staff_admin.Change("routing_rule.deleted", payload)],
        object_type="routing_rule",
        object_id=rule_id,
    )
    return _done(_("Rule deleted."), "admin.routing_rules")


# -- saved replies ------------------------------------------------------------------------------

REPLY_REFUSALS = {
    AdminRefused.TITLE_TAKEN: (
        "title",
        _l("The team already has a reply with this title in this language"),
    ),
}


def _reply_form(reply: SavedReply | None) -> SavedReplyForm:
    data = {"locale": current_locale_code()}
    if reply is not None:
        data = {"locale": reply.locale, "title": reply.title, "body": reply.body}
    form = SavedReplyForm(data=data)
    form.locale.choices = language_choices()
    return form


@bp.get("/teams/<int:team_id>/replies")
def saved_replies(team_id: int):
    team = load_team(team_id)
    return render_template(
        "admin/saved_replies.html",
        team=team,
        replies=staff_admin.saved_replies(team),
        language_name=language_name,
    )


@bp.route("/teams/<int:team_id>/replies/new", methods=["GET", "POST"])
def new_saved_reply(team_id: int):
    team = load_team(team_id)
    form = _reply_form(None)
    if form.validate_on_submit():
        try:
            reply, change = staff_admin.create_saved_reply(
                team,
                locale=form.locale.data,
                title=form.title.data,
                body=form.body.data,
                now=utcnow(),
            )
            _record([change], object_type="saved_reply", object_id=reply.id)
            db.session.commit()
        except (AdminRefused, IntegrityError):
            db.session.rollback()
            _refused(form, REPLY_REFUSALS, AdminRefused.TITLE_TAKEN)
        else:
            flash(_("Saved reply added."), "success")
            return redirect(url_for("admin.saved_replies", team_id=team.id), code=303)
    return render_template("admin/saved_reply_form.html", form=form, team=team, reply=None)


@bp.route("/replies/<int:reply_id>", methods=["GET", "POST"])
def edit_saved_reply(reply_id: int):
    reply = load_saved_reply(reply_id)
    team = reply.team
    form = _reply_form(reply)
    if form.validate_on_submit():
        try:
            changes = staff_admin.update_saved_reply(
                reply,
                locale=form.locale.data,
                title=form.title.data,
                body=form.body.data,
                now=utcnow(),
            )
            _record(changes, object_type="saved_reply", object_id=reply.id)
            db.session.commit()
        except (AdminRefused, IntegrityError):
            db.session.rollback()
            _refused(form, REPLY_REFUSALS, AdminRefused.TITLE_TAKEN)
        else:
            flash(_("Saved reply saved."), "success")
            return redirect(url_for("admin.saved_replies", team_id=team.id), code=303)
    return render_template(
        "admin/saved_reply_form.html",
        form=form,
        team=team,
        reply=reply,
        delete_form=ConfirmForm(),
    )


@bp.post("/replies/<int:reply_id>/delete")
def delete_saved_reply(reply_id: int):
    reply = load_saved_reply(reply_id)
    if not ConfirmForm().validate():
        abort(400)
    team_id = reply.team_id
    change = staff_admin.delete_saved_reply(reply)
    _record([change], object_type="saved_reply", object_id=reply_id)
    return _done(_("Saved reply deleted."), "admin.saved_replies", team_id=team_id)


# -- reason templates ---------------------------------------------------------------------------

TEMPLATE_REFUSALS = {
    AdminRefused.TITLE_TAKEN: (
        "title",
        _l("The team already has a reason template with this title in this language"),
    ),
}


def _reason_template_form(template: ReasonTemplate | None) -> ReasonTemplateForm:
    data = {"locale": current_locale_code()}
    if template is not None:
        data = {
            "title": template.title,
            "outcome": template.outcome.value,
            "category": template.category.value if template.category else "",
            "locale": template.locale,
            "facts": template.facts,
            "measure": template.measure,
            "policy_clause": template.policy_clause,
        }
    form = ReasonTemplateForm(data=data)
    form.locale.choices = language_choices()
    return form


def _reason_template_answers(form: ReasonTemplateForm) -> dict:
    """The form's answers as the service takes them."""
    return {
        "outcome": Outcome(form.outcome.data),
        "category": Category(form.category.data) if form.category.data else None,
        "locale": form.locale.data,
        "title": form.title.data,
        "facts": form.facts.data,
        "measure": form.measure.data,
        "policy_clause": form.policy_clause.data,
    }


# The view is named apart from its endpoint: ``reason_templates`` is the service module.
@bp.get("/teams/<int:team_id>/reason-templates", endpoint="reason_templates")
def reason_templates_view(team_id: int):
    team = load_team(team_id)
    return render_template(
        "admin/reason_templates.html",
        team=team,
        groups=reason_templates.by_outcome(team),
        language_name=language_name,
    )


@bp.route("/teams/<int:team_id>/reason-templates/new", methods=["GET", "POST"])
def new_reason_template(team_id: int):
    team = load_team(team_id)
    form = _reason_template_form(None)
    if form.validate_on_submit():
        try:
            template, change = reason_templates.create_template(
                team, **_reason_template_answers(form)
            )
        except AdminRefused as refused:
            _refused(form, TEMPLATE_REFUSALS, refused.reason)
        else:
            _record([change], object_type="reason_template", object_id=template.id)
            return _done(_("Reason template added."), "admin.reason_templates", team_id=team.id)
    return render_template(
        "admin/reason_template_form.html", form=form, team=team, reason_template=None
    )


@bp.route("/reason-templates/<int:template_id>", methods=["GET", "POST"])
def edit_reason_template(template_id: int):
    template = load_reason_template(template_id)
    team = template.team
    form = _reason_template_form(template)
    if form.validate_on_submit():
        try:
            changes = reason_templates.update_template(template, **_reason_template_answers(form))
        except AdminRefused as refused:
            _refused(form, TEMPLATE_REFUSALS, refused.reason)
        else:
            _record(changes, object_type="reason_template", object_id=template.id)
            return _done(_("Reason template saved."), "admin.reason_templates", team_id=team.id)
    return render_template(
        "admin/reason_template_form.html",
        form=form,
        team=team,
        reason_template=template,
        delete_form=ConfirmForm(),
    )


@bp.post("/reason-templates/<int:template_id>/delete")
def delete_reason_template(template_id: int):
    template = load_reason_template(template_id)
    if not ConfirmForm().validate():
        abort(400)
    team_id = template.team_id
    change = reason_templates.delete_template(template)
    _record([change], object_type="reason_template", object_id=template_id)
    return _done(_("Reason template deleted."), "admin.reason_templates", team_id=team_id)


# -- service levels -----------------------------------------------------------------------------

POLICY_REFUSALS = {
    AdminRefused.SCOPE_TAKEN: (
        "applies_to",
        _l(
            "There is already a policy for these reports (the same severity or appeals, kind of "
            "problem and team). Edit that policy instead."
        ),
    ),
}


def can_edit_policy(policy: SlaPolicy, managed: set[int] | None) -> bool:
    """Administrators edit every policy; owners the policies of the teams they manage
    (``managed``, from ``scope.managed_team_ids``: None for administrators). A policy that
    names no team holds for every team's reports (and one that names no category either is
    published to reporters on the home page): administrators' only."""
    if managed is None:
        return True
    return policy.team_id is not None and policy.team_id in managed


def load_sla_policy(policy_id: int) -> SlaPolicy:
    """The policy, for someone who may edit it. 404 if there is none, 403 for anyone else."""
    policy = db.session.get(SlaPolicy, policy_id) or abort(404)
    if not can_edit_policy(policy, scope.managed_team_ids(_actor())):
        abort(403)
    return policy


@bp.get("/sla-policies")
def sla_policies():
    """The terms in force: for every report of each severity and for appeals (a policy, else
    the built-in default), then the policies for a kind of problem or a team. Service levels
    are no secret among staff; each row links to its form where the viewer may edit it.
    The teams the viewer manages are read once, not once a row."""
    managed = scope.managed_team_ids(_actor())
    return render_template(
        "admin/sla_policies.html",
        listing=sla_admin.policies_in_force(),
        can_edit=partial(can_edit_policy, managed=managed),
        is_admin=managed is None,
        # Administrators may always add one (for every team, at least); owners for their teams.
        may_add=managed is None or bool(managed),
        APPEALS=APPEALS,
    )


def _suggested(applies_to: str | None) -> tuple[PolicyScope, Terms]:
    """What a new policy's form starts from: the built-in terms of the reports it is asked for
    (``?applies_to=high`` from the policies page), medium severity unless told."""
    if applies_to == APPEALS:
        suggested = PolicyScope(for_appeals=True, severity=None)
    else:
        known = {severity.value: severity for severity in Severity}
        suggested = PolicyScope(
            for_appeals=False, severity=known.get(applies_to or "", Severity.MEDIUM)
        )
    return suggested, sla_admin.default_terms(suggested)


def _policy_data(policy_scope: PolicyScope, terms: Terms) -> dict:
    def amount(span: Span | None) -> str:
        return str(span.amount) if span else ""

    def unit(span: Span | None) -> str:
        return (span.unit if span else DurationUnit.BUSINESS_DAYS).value

    if policy_scope.for_appeals:
        applies_to = APPEALS
    else:
        applies_to = policy_scope.severity.value if policy_scope.severity else ""
    return {
        "applies_to": applies_to,
        "category": policy_scope.category.value if policy_scope.category else "",
        "team": str(policy_scope.team_id or ""),
        "calendar": BUSINESS_HOURS if terms.business_hours else ROUND_THE_CLOCK,
        "first_response_amount": amount(terms.first_response),
        "first_response_unit": unit(terms.first_response),
        "next_update_amount": amount(terms.next_update),
        "next_update_unit": unit(terms.next_update),
        "resolution_amount": amount(terms.resolution),
        "resolution_unit": unit(terms.resolution),
    }


def _policy_form(policy: SlaPolicy | None) -> SlaPolicyForm:
    if policy is None:
        data = _policy_data(*_suggested(request.args.get("applies_to")))
    else:
        data = _policy_data(PolicyScope.of(policy), Terms.of(policy))
    is_admin = scope.is_admin(_actor())
    form = SlaPolicyForm(data=data, require_team=not is_admin)
    teams = team_choices(managed_teams())
    form.team.choices = any_or(teams) if is_admin else teams
    return form


def _span(amount, unit) -> Span | None:
    text = (amount.data or "").strip()
    return Span(int(text), DurationUnit(unit.data)) if text else None


def _policy_answers(form: SlaPolicyForm) -> tuple[PolicyScope, Terms]:
    """The form's answers as the service takes them; the team, if any, is one the viewer
    manages, and only administrators leave it out (the form refuses both already: this checks
    again)."""
    team_id = int(form.team.data) if form.team.data else None
    if team_id is None and not scope.is_admin(_actor()):
        abort(403)
    if team_id is not None:
        team = db.session.get(Team, team_id)
        if team is None or not scope.can_manage_team(_actor(), team):
            abort(403)
    for_appeals = form.applies_to.data == APPEALS
    policy_scope = PolicyScope(
        for_appeals=for_appeals,
        severity=None if for_appeals else Severity(form.applies_to.data),
        category=Category(form.category.data) if form.category.data else None,
        team_id=team_id,
    )
    terms = Terms(
        business_hours=form.calendar.data == BUSINESS_HOURS,
        first_response=_span(form.first_response_amount, form.first_response_unit),
        next_update=_span(form.next_update_amount, form.next_update_unit),
        resolution=_span(form.resolution_amount, form.resolution_unit),
    )
    return policy_scope, terms


@bp.route("/sla-policies/new", methods=["GET", "POST"])
def new_sla_policy():
    """A policy for the reports of one severity, or for appeals, for every report or only for
    a kind of problem and/or a team; owners' policies are for one of their teams."""
    form = _policy_form(None)
    if form.validate_on_submit():
        try:
            policy, change = sla_admin.create_policy(*_policy_answers(form))
        except AdminRefused as refused:
            db.session.rollback()
            _refused(form, POLICY_REFUSALS, refused.reason)
        else:
            _record([change], object_type="sla_policy", object_id=policy.id)
            return _done_moving_deadlines(
                _("Policy added."), [change], "admin.sla_policies", _anchor=f"policy-{policy.id}"
            )
    return render_template("admin/sla_policy_form.html", form=form, policy=None)


@bp.route("/sla-policies/<int:policy_id>", methods=["GET", "POST"])
def edit_sla_policy(policy_id: int):
    policy = load_sla_policy(policy_id)
    form = _policy_form(policy)
    if form.validate_on_submit():
        try:
            changes = sla_admin.update_policy(policy, *_policy_answers(form))
        except AdminRefused as refused:
            db.session.rollback()
            _refused(form, POLICY_REFUSALS, refused.reason)
        else:
            _record(changes, object_type="sla_policy", object_id=policy.id)
            return _done_moving_deadlines(
                _("Policy saved."), changes, "admin.sla_policies", _anchor=f"policy-{policy.id}"
            )
    return render_template(
        "admin/sla_policy_form.html", form=form, policy=policy, delete_form=ConfirmForm()
    )


@bp.post("/sla-policies/<int:policy_id>/delete")
def delete_sla_policy(policy_id: int):
    """Its reports fall back on the next most specific policy, or the built-in terms."""
    policy = load_sla_policy(policy_id)
    if not ConfirmForm().validate():
        abort(400)
    change = sla_admin.delete_policy(policy)
    _record([change], object_type="sla_policy", object_id=policy_id)
    return _done_moving_deadlines(_("Policy deleted."), [change], "admin.sla_policies")
