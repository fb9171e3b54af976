"""Forms of the administration pages: staff accounts, teams and their calendars, routing rules,
saved replies, reason templates and service-level policies.

Choices that come from the database (teams, staff, models) are given by the view when it builds
the form; each form only reads and checks what was sent, and the views hand the values to a
service (never ``populate_obj``).
"""

import re
from datetime import time
from functools import cache

import holidays
from babel.dates import get_day_names
from babel.lists import format_list
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Email, InputRequired, Regexp, ValidationError

from portal.forms import MaxChars, MultiCheckboxField, PortalForm, any_or, enum_choices
from portal.i18n import current_locale_code, timezone_names, valid_timezone
from portal.models import (
    Category,
    DurationUnit,
    Outcome,
    ReasonTemplate,
    Role,
    Severity,
    Team,
    TicketKind,
)
from portal.models.casework import SAVED_REPLY_MAX_CHARS
from portal.models.decisions import REASONS_MAX_CHARS
from portal.models.tickets import SHORT_TEXT_MAX_CHARS
from portal.services.calendar import MIDNIGHT, Calendar, validate_calendar
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


class ZoneForm(PortalForm):
    """A form with a team's time zone, offered from the zone database."""

    timezone = SelectField(
        _l("Time zone"),
        description=_l("Where the team works: its working hours and dates are in this zone."),
        validate_choice=False,  # checked against the zone database below
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "timezone" in self:  # not in the forms that leave it to the calendar page
            self.timezone.choices = [SelectChoice(name, name) for name in timezone_names()]

    def validate_timezone(self, field):
        if valid_timezone(field.data) is None:
            raise ValidationError(_("Choose a time zone from the list"))


class TeamForm(ZoneForm):
    """A team as an administrator creates it. ``members`` choices are set by the view. Once
    the team exists, its time zone is changed with the rest of its calendar
    (``TeamCalendarForm``), where a change moves its open reports' deadlines."""

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
    auto_assign = BooleanField(
        _l("Assign new reports automatically to the member with the fewest open reports")
    )
    members = MultiCheckboxField(_l("Members"), coerce=int)


class NewTeamForm(TeamForm):
    pass


class EditTeamForm(TeamForm):
    slug = None
    timezone = None  # on the team's calendar page


class TeamSettingsForm(TeamForm):
    """What a team's owners may change."""

    name = None
    slug = None
    timezone = None  # on the team's calendar page
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


class ReasonTemplateForm(PortalForm):
    """A team's starting point for a statement of reasons. ``locale`` choices are set by the
    view. Each text is bounded as its column (or, for the unbounded ones, as a decision's)."""

    title = StringField(
        _l("Title"),
        description=_l("Agents pick the template by its title when they decide a report."),
        validators=[
            DataRequired(_l("Enter a title")),
            MaxChars(ReasonTemplate.__table__.c.title.type.length),
        ],
    )
    outcome = RadioField(
        _l("Outcome"),
        description=_l("The decision this template explains."),
        choices=enum_choices(Outcome),
        validators=[InputRequired(_l("Choose the outcome"))],
    )
    category = SelectField(
        _l("Kind of problem"),
        description=_l("“Any”: agents are offered it for every kind of problem."),
        choices=any_or(enum_choices(Category)),
    )
    locale = SelectField(
        _l("Language"),
        description=_l(
            "The language the template is written in. Write one in each language the team "
            "decides in."
        ),
    )
    facts = TextAreaField(
        _l("Facts relied on"),
        description=_l(
            "What the decision rests on, such as what the output said and what was checked. "
            "Agents start from this text and adapt it to each case: write no names, contact "
            "details or anything else about a person."
        ),
        validators=[DataRequired(_l("Enter the facts relied on")), MaxChars(REASONS_MAX_CHARS)],
    )
    measure = TextAreaField(
        _l("Measure and its scope"),
        description=_l(
            "What was done, or why nothing was, and how far it reaches: this output, this "
            "model version, every version. Agents adapt it to each case; no personal data."
        ),
        validators=[
            DataRequired(_l("Enter the measure and its scope")),
            MaxChars(REASONS_MAX_CHARS),
        ],
    )
    policy_clause = TextAreaField(
        _l("Policy clause"),
        description=_l("The rule the decision relies on, such as “Usage policy, section 2”."),
        validators=[
            DataRequired(_l("Enter the policy clause")),
            MaxChars(SHORT_TEXT_MAX_CHARS),
        ],
    )


# -- service levels -----------------------------------------------------------------------------

# What a policy applies to: a severity's value, or this.
APPEALS = "appeals"
BUSINESS_HOURS, ROUND_THE_CLOCK = "business_hours", "round_the_clock"
MAX_AMOUNT = 999


class WholeNumber:
    """Empty (``DataRequired`` says whether that is allowed), or a whole number from 1 to
    ``MAX_AMOUNT`` typed as digits: no sign, no decimals, no spaces inside."""

    def __init__(self, message):
        self.message = message

    def __call__(self, form, field):
        text = (field.data or "").strip()
        if text and not (text.isdecimal() and len(text) <= 3 and 1 <= int(text) <= MAX_AMOUNT):
            raise ValidationError(self.message)


def applies_to_choices() -> list[SelectChoice]:
    """The most serious first, as the policies page lists them, then appeals."""
    return [
        *(SelectChoice(severity.value, severity.label) for severity in reversed(Severity)),
        SelectChoice(APPEALS, _l("Appeals")),
    ]


class SlaPolicyForm(PortalForm):
    """A service-level policy: its scope, its calendar and its three timers. ``team`` choices
    are set by the view; with ``require_team`` (owners) the policy must name one of them."""

    applies_to = SelectField(
        _l("Applies to"),
        description=_l("Reports of this severity, or appeals against decisions."),
        choices=applies_to_choices(),
        validators=[InputRequired(_l("Choose what the policy applies to"))],
    )
    category = SelectField(_l("Kind of problem"), choices=any_or(enum_choices(Category)))
    team = SelectField(_l("Team"), validate_choice=False)  # checked below, with a clear message
    calendar = RadioField(
        _l("When the timers run"),
        description=_l(
            "In business hours, an hour is a working hour and a business day is one day of the "
            "team's working hours (8 hours from 09:00 to 17:00)."
        ),
        choices=[
            SelectChoice(
                BUSINESS_HOURS,
                _l("In business hours: the working hours of the report's team, except holidays"),
            ),
            SelectChoice(ROUND_THE_CLOCK, _l("Round the clock: nights, weekends and holidays too")),
        ],
        validators=[InputRequired(_l("Choose when the timers run"))],
    )
    first_response_amount = StringField(
        _l("Number"),
        validators=[
            DataRequired(_l("Enter the time to the first response")),
            WholeNumber(_l("Enter the time to the first response as a whole number from 1 to 999")),
        ],
    )
    first_response_unit = SelectField(_l("Counted in"), choices=enum_choices(DurationUnit))
    next_update_amount = StringField(
        _l("Number"),
        description=_l("Leave empty for appeals that go straight to a decision."),
        validators=[
            WholeNumber(_l("Enter the time between updates as a whole number from 1 to 999"))
        ],
    )
    next_update_unit = SelectField(_l("Counted in"), choices=enum_choices(DurationUnit))
    resolution_amount = StringField(
        _l("Number"),
        validators=[
            DataRequired(_l("Enter the time to the decision")),
            WholeNumber(_l("Enter the time to the decision as a whole number from 1 to 999")),
        ],
    )
    resolution_unit = SelectField(_l("Counted in"), choices=enum_choices(DurationUnit))

    def __init__(self, *args, require_team: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.require_team = require_team
        self.team.description = (
            _("One of your teams. Only an administrator can set the terms for every team.")
            if require_team
            else _("“Any”: the policy holds for the reports of every team.")
        )

    def validate_team(self, field):
        if not field.data and self.require_team:
            raise ValidationError(
                _(
                    "Choose one of your teams. Only an administrator can set the terms for "
                    "every team."
                )
            )
        if (field.data or "") not in {str(choice.value) for choice in field.choices}:
            raise ValidationError(_("Choose a team from the list"))

    def validate_next_update_amount(self, field):
        if not (field.data or "").strip() and self.applies_to.data != APPEALS:
            raise ValidationError(
                _("Enter the time between updates. Only appeals can go without updates.")
            )


# The team calendar's time fields: hours and minutes on a 24-hour clock, as <input type="time">
# sends them ("9:00" typed by hand is fine too).
CLOCK_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = range(7)  # 0 is Monday, as in the calendar and in Python


def parse_clock_time(text: str | None) -> time | None:
    match = CLOCK_TIME.match((text or "").strip())
    return time(int(match[1]), int(match[2])) if match else None


def weekday_names() -> list[str]:
    """Monday to Sunday in the viewer's language, as a heading would show them."""
    names = get_day_names("wide", context="stand-alone", locale=current_locale_code())
    return [names[day] for day in WEEKDAYS]


def day_span(ranges: list[tuple[time, time]]) -> tuple[time, time]:
    """The first range's start and the latest end (an end at 00:00, midnight, is the latest)."""
    ends = [end for _start, end in ranges]
    return ranges[0][0], MIDNIGHT if MIDNIGHT in ends else max(ends)


@cache
def holiday_regions() -> dict[str, tuple[str, ...]]:
    """Country code -> the codes of its regions with holidays of their own, for the countries
    the holidays package knows; only codes that fit the team's column."""
    width = Team.holidays_subdivision.type.length
    return {
        country: tuple(code for code in regions if len(code) <= width)
        for country, regions in holidays.list_supported_countries(include_aliases=False).items()
    }


NO_WORKING_DAY = _l(
    "Choose at least one working day. Business-hours timers count working time only: without "
    "any, a report would never fall due."
)
# A calendar for checking public holidays on their own: one working day, in UTC.
_PLAIN_WEEK = ((0, time(9), time(17)),)

# Each weekday's answers, made before the holiday fields of TeamCalendarForm so that they come
# first in the form's order, which the error summary follows.
_WORKING_DAY_FIELDS = {
    name: field
    for day in WEEKDAYS
    for name, field in (
        (f"works_{day}", BooleanField(_l("Working day"))),
        (f"start_{day}", StringField(_l("Starts at"))),
        (f"end_{day}", StringField(_l("Ends at"), description=_l("For midnight, enter 00:00."))),
    )
}


def _with_working_days(form_class: type[PortalForm]) -> type[PortalForm]:
    """Add ``works_N``, ``start_N`` and ``end_N`` for each weekday N (0 = Monday)."""
    for name, field in _WORKING_DAY_FIELDS.items():
        setattr(form_class, name, field)
    return form_class


@_with_working_days
class TeamCalendarForm(ZoneForm):
    """A team's calendar: time zone, one working range on each working day, public holidays.
    ``holidays_country`` choices are set by the view."""

    holidays_country = SelectField(
        _l("Country"),
        description=_l("Business-hours timers stop on the public holidays of this country."),
    )
    holidays_subdivision = StringField(
        _l("Region (optional)"),
        description=_l(
            "For regional holidays too: the region's code, such as BY (Bavaria) in Germany."
        ),
    )

    def days(self) -> list[tuple[int, str, Field, Field, Field]]:
        """(weekday, its name, "working day", start, end) for Monday to Sunday."""
        names = weekday_names()
        return [
            (day, names[day], self[f"works_{day}"], self[f"start_{day}"], self[f"end_{day}"])
            for day in WEEKDAYS
        ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        working = [day for day in self.days() if day[2].data]
        for _day, name, _works, start, end in working:
            # Every day checked, so that one answer shows every mistake at once.
            valid = self._check_hours(name, start, end) and valid
        if not working:
            self.works_0.errors.append(NO_WORKING_DAY)
            valid = False
        return valid

    @staticmethod
    def _check_hours(day: str, start: Field, end: Field) -> bool:
        opens, closes = parse_clock_time(start.data), parse_clock_time(end.data)
        if opens is None:
            start.errors.append(
                _("Enter when work starts on %(day)s, in hours and minutes such as 09:00", day=day)
            )
        if closes is None:
            end.errors.append(
                _("Enter when work ends on %(day)s, in hours and minutes such as 17:00", day=day)
            )
        if opens is not None and closes is not None and closes != MIDNIGHT and closes <= opens:
            end.errors.append(
                _("On %(day)s, work must end after it starts. For midnight, enter 00:00.", day=day)
            )
            return False
        return opens is not None and closes is not None

    def validate_holidays_subdivision(self, field):
        code = (field.data or "").strip()
        country = self.holidays_country.data
        if not code:
            return
        if not country:
            raise ValidationError(_("Choose the country first, or leave the region empty"))
        country_name = dict(
            (str(choice.value), choice.label) for choice in self.holidays_country.choices
        ).get(country, country)
        regions = holiday_regions().get(country, ())
        if not regions:
            raise ValidationError(
                _(
                    "%(country)s has no regions with holidays of their own: leave this empty",
                    country=country_name,
                )
            )
        known = {region.casefold(): region for region in regions}
        if code.casefold() not in known:
            raise ValidationError(
                _(
                    "“%(code)s” is not a region of %(country)s. Use one of: %(codes)s",
                    code=code,
                    country=country_name,
                    codes=format_list(list(regions), style="or", locale=current_locale_code()),
                )
            )
        field.data = known[code.casefold()]  # as the holidays package spells it

    def show_unusable(self, calendar: Calendar, problems: list[str]) -> None:
        """Put what ``validate_calendar`` found wrong with ``calendar`` (these answers, which
        ``set_team_calendar`` refused) on the questions at fault, in the viewer's language.

        The calendar module names no question, and speaks English to operators: asked about one
        part of the calendar at a time (the time zone, each day's hours, the holidays on a plain
        week), it tells which parts are at fault, whatever its wording. ``problems`` that no
        single part explains are shown as they are, on the first working day: a last resort.
        """
        faults = []
        if validate_calendar(Calendar(timezone=calendar.timezone)):
            faults.append((self.timezone, _("Choose a time zone from the list")))
        names = weekday_names()
        for day in WEEKDAYS:
            hours = tuple(entry for entry in calendar.working_hours if entry[0] == day)
            if hours and validate_calendar(Calendar(working_hours=hours)):
                # Only a day kept with its stored periods gets here: one typed in is checked
                # by ``validate``.
                message = _(
                    "The working periods kept for %(day)s overlap or end before they start. "
                    "Change the start or end time to replace them with one period.",
                    day=names[day],
                )
                faults.append((self[f"start_{day}"], message))
        if not calendar.working_hours:
            faults.append((self.works_0, NO_WORKING_DAY))
        faults.extend(self._holiday_faults(calendar))
        for field, message in faults:
            field.errors.append(message)
        if not faults:
            self.works_0.errors.append(
                _(
                    "The timers could not run on this calendar: %(problems)s",
                    # The calendar module's own English, separators included.
                    problems="; ".join(problems),
                )
            )

    def _holiday_faults(self, calendar: Calendar) -> list[tuple[Field, str]]:
        country, region = calendar.holidays_country, calendar.holidays_subdivision
        if country is None:
            if region is None:
                return []
            return [
                (
                    self.holidays_subdivision,
                    _("Choose the country first, or leave the region empty"),
                )
            ]
        if validate_calendar(Calendar(working_hours=_PLAIN_WEEK, holidays_country=country)):
            return [(self.holidays_country, _("Choose a country from the list"))]
        in_region = Calendar(
            working_hours=_PLAIN_WEEK, holidays_country=country, holidays_subdivision=region
        )
        if region is not None and validate_calendar(in_region):
            message = _(
                "Public holidays are not known for this region: check its code, or leave it empty"
            )
            return [(self.holidays_subdivision, message)]
        return []

    def working_hours(
        self, stored: dict[int, list[tuple[time, time]]]
    ) -> list[tuple[int, time, time]]:
        """The week as answered. The form shows one range a day: a day stored with several
        (a lunch break) shows from its first start to its last end, and keeps its ranges as
        long as those two times are sent back unchanged."""
        hours = []
        for day, _name, works, start, end in self.days():
            if not works.data:
                continue
            answered = parse_clock_time(start.data), parse_clock_time(end.data)
            ranges = stored.get(day, [])
            if len(ranges) > 1 and answered == day_span(ranges):
                hours.extend((day, opens, closes) for opens, closes in ranges)
            else:
                hours.append((day, *answered))
        return hours


class MoveRuleForm(PortalForm):
    """Move a rule one place up or down (the button sends the direction)."""

    direction = StringField(validators=[AnyOf([UP, DOWN])])


class ConfirmForm(PortalForm):
    """A button that changes something: only the CSRF token."""
