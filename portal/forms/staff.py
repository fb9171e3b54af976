"""Forms of the staff workspace."""

import re

from flask_babel import format_number, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, Field, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional, ValidationError

from portal.forms import ANY, MaxChars, PortalForm, any_or, enum_choices
from portal.models import (
    AIModel,
    Category,
    Severity,
    SlaState,
    StaffUser,
    Status,
    Team,
    TicketKind,
)
from portal.models.tickets import SEVERITY_PRIORITY
from portal.services.queue import (
    BULK_STATUSES,
    DEFAULT_STATUSES,
    MAX_BULK_TICKETS,
    BulkAction,
    BulkKind,
    QueueFilters,
    QueueSort,
)


class AuditFilterForm(PortalForm):
    """Filters for the audit log: a GET form, so that a view can be bookmarked and shared."""

    actor = StringField(
        _l("Actor"),
        description=_l("For example staff:12, or a pseudonym such as email:3f9c…"),
        validators=[Optional(), MaxChars(100)],
    )
    object_id = StringField(
        _l("Object"),
        description=_l("A ticket reference such as RP-7K3M-Q9P2, or an account number."),
        validators=[Optional(), MaxChars(100)],
    )
    since = DateField(_l("From (optional)"), validators=[Optional()])
    until = DateField(_l("Until (optional)"), validators=[Optional()])


# The assignee filter's and the bulk assignment's two choices that are not a person.
ME, UNASSIGNED = "me", "unassigned"
# The status filter's two choices that are not one status.
OPEN, ANY_STATUS = "open", "any"


class ListChoiceField(SelectField):
    """A select whose value must be one of its choices: a value edited into the address gets a
    plain message instead of WTForms' "Not a valid choice"."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("invalid_choice_message", _l("Choose an option from the list"))
        super().__init__(*args, **kwargs)


def staff_choices(members: list[StaffUser]) -> list[SelectChoice]:
    return [SelectChoice(str(member.id), member.display_name) for member in members]


class QueueFilterForm(PortalForm):
    """Filters and order of the queue: a GET form, so that a view can be bookmarked and shared.

    The view gives the choices that come from the database (``offer``); a value outside them,
    such as a team the viewer is not in, is an error and shows no reports.
    """

    q = StringField(
        _l("Reference or words"),
        description=_l(
            "A reference such as RP-7K3M-Q9P2 finds that report whatever its status. Other "
            "words are looked for in the description and the AI output."
        ),
        validators=[Optional(), MaxChars(200)],
    )
    status = ListChoiceField(_l("Status"), default=OPEN)
    sla = ListChoiceField(_l("Service level"), choices=any_or(enum_choices(SlaState)), default=ANY)
    team = ListChoiceField(_l("Team"), default=ANY)
    assignee = ListChoiceField(_l("Assigned to"), default=ANY)
    kind = ListChoiceField(
        _l("Kind of report"), choices=any_or(enum_choices(TicketKind)), default=ANY
    )
    category = ListChoiceField(
        _l("Kind of problem"), choices=any_or(enum_choices(Category)), default=ANY
    )
    model = ListChoiceField(_l("Model"), default=ANY)
    version = ListChoiceField(_l("Model version"), default=ANY)
    language = ListChoiceField(_l("Language of the report"), default=ANY)
    severity = ListChoiceField(
        _l("How serious"), choices=any_or(enum_choices(Severity)), default=ANY
    )
    sort = ListChoiceField(_l("Order"), choices=enum_choices(QueueSort), default=QueueSort.DUE)

    # The filters (not the order) a view can narrow by, in the form's order.
    FILTERS = (
        "q",
        "status",
        "sla",
        "team",
        "assignee",
        "kind",
        "category",
        "model",
        "version",
        "language",
        "severity",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = [
            SelectChoice(OPEN, _l("Open: not yet decided, or appealed")),
            SelectChoice(ANY_STATUS, _l("Any status")),
            *(SelectChoice(status.value, status.staff_label) for status in Status),
        ]

    def offer(
        self,
        *,
        teams: list[Team],
        members: list[StaffUser],
        models: list[AIModel],
        languages: list[tuple[str, str]],
    ) -> None:
        """The choices that depend on who is looking: their teams and their teams' members."""
        self.team.choices = any_or([SelectChoice(str(team.id), team.name) for team in teams])
        self.assignee.choices = any_or(
            [
                SelectChoice(ME, _l("Me")),
                SelectChoice(UNASSIGNED, _l("Nobody: waiting in the team's queue")),
                *staff_choices(members),
            ]
        )
        self.model.choices = any_or(
            [SelectChoice(str(model.id), model.display_name) for model in models]
        )
        self.version.choices = any_or(
            [
                SelectChoice(str(version.id), version.version, optgroup=model.display_name)
                for model in models
                for version in model.versions
            ]
        )
        self.language.choices = any_or([SelectChoice(code, name) for code, name in languages])

    @property
    def active_filters(self) -> int:
        """How many filters narrow the view (the default status filter is not counted)."""
        return sum(
            1 for name in self.FILTERS if self[name].data and self[name].data != self[name].default
        )

    def to_filters(self, viewer_id: int) -> QueueFilters:
        """The validated answers as the queue service's filters."""
        assignee, status = self.assignee.data, self.status.data
        if status in (OPEN, ANY_STATUS):
            statuses = DEFAULT_STATUSES if status == OPEN else None
        else:
            statuses = frozenset({Status(status)})
        return QueueFilters(
            statuses=statuses,
            team_id=_number(self.team.data),
            assignee_id=viewer_id if assignee == ME else _number(assignee),
            unassigned=assignee == UNASSIGNED,
            kind=TicketKind(self.kind.data) if self.kind.data else None,
            category=Category(self.category.data) if self.category.data else None,
            model_id=_number(self.model.data),
            model_version_id=_number(self.version.data),
            locale=self.language.data or None,
            priority=(
                SEVERITY_PRIORITY[Severity(self.severity.data)] if self.severity.data else None
            ),
            sla_state=SlaState(self.sla.data) if self.sla.data else None,
            search=(self.q.data or "").strip() or None,
        )


def _number(value: str | None) -> int | None:
    return int(value) if value and value.isdecimal() else None


class TicketSelectionField(Field):
    """The reports ticked in the queue, each sent as "<id>:<row version>" as the page showed
    it, so that a report someone changed since is left alone. Rendered by the queue template
    (one checkbox per table row, each labelled with its reference)."""

    _PATTERN = re.compile(r"[0-9]{1,18}:[0-9]{1,9}")

    def process_formdata(self, valuelist):
        self.data = {}
        for value in valuelist:
            if not self._PATTERN.fullmatch(value):
                raise ValueError(_("Select reports from the list"))
            ticket_id, version = value.split(":")
            self.data[int(ticket_id)] = int(version)

    def process_data(self, value):
        self.data = dict(value or {})


class BulkActionForm(PortalForm):
    """One action on the reports ticked in the queue. The choice of action is one select
    (assign to someone, move to a status, or close as spam), so that only what was chosen is
    done; the view gives the people to assign to (``offer``)."""

    tickets = TicketSelectionField(_l("Reports"))
    action = ListChoiceField(
        _l("What to do with the selected reports"),
        validators=[InputRequired(_l("Choose what to do with the selected reports"))],
    )
    next = HiddenField()

    ASSIGN_PREFIX = "assign:"
    STATUS_PREFIX = "status:"
    SPAM = "spam"

    def offer(self, *, members: list[StaffUser]) -> None:
        assign, status = _l("Assign to"), _l("Change the status to")
        self.action.choices = [
            SelectChoice(ANY, _l("Choose an action")),
            SelectChoice(self.ASSIGN_PREFIX + ME, _l("Me"), optgroup=assign),
            SelectChoice(
                self.ASSIGN_PREFIX + UNASSIGNED,
                _l("Nobody: back to the team's queue"),
                optgroup=assign,
            ),
            *(
                SelectChoice(self.ASSIGN_PREFIX + choice.value, choice.label, optgroup=assign)
                for choice in staff_choices(members)
            ),
            *(
                SelectChoice(self.STATUS_PREFIX + value.value, value.staff_label, optgroup=status)
                for value in BULK_STATUSES
            ),
            SelectChoice(
                self.SPAM,
                _l("Close as spam, without a reply"),
                optgroup=_l("Other"),
            ),
        ]

    def validate_tickets(self, field):
        if field.process_errors:
            return  # already explained
        if not field.data:
            raise ValidationError(_("Select at least one report"))
        if len(field.data) > MAX_BULK_TICKETS:
            raise ValidationError(
                ngettext(
                    "Select %(limit)s report or fewer at a time",
                    "Select %(limit)s reports or fewer at a time",
                    MAX_BULK_TICKETS,
                    limit=format_number(MAX_BULK_TICKETS),
                )
            )

    def to_action(self, *, viewer: StaffUser, members: list[StaffUser]) -> BulkAction:
        """The chosen action; ``members`` are the people offered (an id outside them has
        already failed validation)."""
        value = self.action.data
        if value == self.SPAM:
            return BulkAction(BulkKind.SPAM)
        if value.startswith(self.STATUS_PREFIX):
            status = Status(value.removeprefix(self.STATUS_PREFIX))
            return BulkAction(BulkKind.STATUS, status=status)
        who = value.removeprefix(self.ASSIGN_PREFIX)
        if who == ME:
            return BulkAction(BulkKind.ASSIGN, assignee=viewer)
        if who == UNASSIGNED:
            return BulkAction(BulkKind.ASSIGN, assignee=None)
        assignee = next(member for member in members if str(member.id) == who)
        return BulkAction(BulkKind.ASSIGN, assignee=assignee)
