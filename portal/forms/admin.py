"""Forms of the administration pages: staff accounts, teams, routing rules, saved replies.

Choices that come from the database (teams, staff, models) are given by the view when it builds
the form; each form only reads and checks what was sent, and the views hand the values to a
service (never ``populate_obj``).
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Email, InputRequired, Regexp, ValidationError

from portal.forms import MaxChars, MultiCheckboxField, PortalForm, any_or, enum_choices
from portal.i18n import timezone_names, valid_timezone
from portal.models import Category, Role, Severity, TicketKind
from portal.models.casework import SAVED_REPLY_MAX_CHARS
from portal.services.routing import DOWN, UP

ACTIVE, DISABLED = "active", "disabled"


class StaffForm(PortalForm):
    """A staff account. ``teams`` and ``languages`` choices are set by the view."""

    email = EmailField(
        _l("E-mail address"),
        description=_l("They sign in with it. It cannot be changed later."),
        validators=[
            DataRequired(_l("Enter their e-mail address")),
            Email(_l("Enter an e-mail address like name@example.org"), check_deliverability=False),
            MaxChars(320),
        ],
    )
    display_name = StringField(
        _l("Name"),
        description=_l("As colleagues know them; reporters never see it."),
        validators=[DataRequired(_l("Enter their name")), MaxChars(200)],
    )
    roles = MultiCheckboxField(_l("Roles"), choices=enum_choices(Role))
    teams = MultiCheckboxField(_l("Teams"), coerce=int)
    languages = MultiCheckboxField(_l("Languages they work in"))
    status = RadioField(
        _l("Account"),
        description=_l(
            "Disabling an account signs it out everywhere and returns its open reports to "
            "their teams' queues."
        ),
        choices=[
            SelectChoice(ACTIVE, _l("Active: can sign in")),
            SelectChoice(DISABLED, _l("Disabled: cannot sign in")),
        ],
        validators=[InputRequired(_l("Choose whether the account is active"))],
    )


class NewStaffForm(StaffForm):
    status = None  # a new account is active


class EditStaffForm(StaffForm):
    email = None  # the account's identity: a new address is a new account


SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class TeamForm(PortalForm):
    """A team as an administrator edits it. ``members`` choices are set by the view."""

    name = StringField(
        _l("Name"), validators=[DataRequired(_l("Enter the team's name")), MaxChars(200)]
    )
    slug = StringField(
        _l("Short name"),
        description=_l(
            "Lower-case letters, digits and hyphens, such as trust-safety. It cannot be changed "
            "later."
        ),
        validators=[
            DataRequired(_l("Enter a short name")),
            MaxChars(64),
            Regexp(SLUG_PATTERN, message=_l("Use only lower-case letters, digits and hyphens")),
        ],
    )
    timezone = SelectField(
        _l("Time zone"),
        description=_l("Where the team works: its working hours and dates are in this zone."),
        validate_choice=False,  # checked against the zone database below
    )
    auto_assign = BooleanField(
        _l("Assign new reports automatically to the member with the fewest open reports")
    )
    members = MultiCheckboxField(_l("Members"), coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [SelectChoice(name, name) for name in timezone_names()]

    def validate_timezone(self, field):
        if valid_timezone(field.data) is None:
            raise ValidationError(_("Choose a time zone from the list"))


class NewTeamForm(TeamForm):
    pass


class EditTeamForm(TeamForm):
    slug = None


class TeamSettingsForm(TeamForm):
    """What a team's owners may change."""

    name = None
    slug = None
    members = None


class RoutingRuleForm(PortalForm):
    """A routing rule. ``team``, ``model`` and ``model_version`` choices are set by the view;
    with ``require_condition`` (owners), a rule must match on something."""

    name = StringField(
        _l("Name"),
        description=_l("Shown in the list of rules and in each report's history."),
        validators=[DataRequired(_l("Enter a name for the rule")), MaxChars(200)],
    )
    team = SelectField(
        _l("Send matching reports to"),
        validators=[InputRequired(_l("Choose a team"))],
        coerce=int,
    )
    kind = SelectField(_l("Kind of report"), choices=any_or(enum_choices(TicketKind)))
    category = SelectField(_l("Kind of problem"), choices=any_or(enum_choices(Category)))
    model = SelectField(_l("Model"))
    model_version = SelectField(
        _l("Model version"), description=_l("Choose a version only for a rule about one version.")
    )
    locale = SelectField(_l("Language of the report"))
    severity = SelectField(_l("How serious"), choices=any_or(enum_choices(Severity)))
    is_active = BooleanField(_l("Active: use this rule for new reports"))

    CONDITIONS = ("kind", "category", "model", "model_version", "locale", "severity")

    def __init__(self, *args, require_condition: bool = False, version_models=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.require_condition = require_condition
        # model version id (as sent) -> its model's id (as sent)
        self.version_models = version_models or {}

    def validate_kind(self, field):
        if self.require_condition and not any(self[name].data for name in self.CONDITIONS):
            raise ValidationError(
                _(
                    "Choose at least one condition. Only an administrator can add a rule that "
                    "takes every report."
                )
            )

    def validate_model_version(self, field):
        if (
            field.data
            and self.model.data
            and self.version_models.get(field.data) != self.model.data
        ):
            raise ValidationError(_("Choose a version of the model chosen above, or any version"))


class SavedReplyForm(PortalForm):
    locale = SelectField(_l("Language"))
    title = StringField(
        _l("Title"),
        description=_l("Agents pick the reply by its title."),
        validators=[DataRequired(_l("Enter a title")), MaxChars(200)],
    )
    body = TextAreaField(
        _l("Reply"),
        description=_l("Agents start from this text and adapt it to the report."),
        validators=[DataRequired(_l("Enter the reply")), MaxChars(SAVED_REPLY_MAX_CHARS)],
    )


class MoveRuleForm(PortalForm):
    """Move a rule one place up or down (the button sends the direction)."""

    direction = StringField(validators=[AnyOf([UP, DOWN])])


class ConfirmForm(PortalForm):
    """A button that changes something: only the CSRF token."""
