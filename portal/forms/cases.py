"""The case page's forms: one small form per action, each naming only the fields it changes.

Every form that changes the ticket carries ``version``, the ticket's ``row_version`` as the page
showed it, so that a change made by someone else in the meantime is noticed instead of being
overwritten. Choices that depend on the ticket (members of its team, the statuses it may move
to, saved replies) are given by the view.
"""

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional, ValidationError
from wtforms.widgets import HiddenInput

from portal.forms import MaxChars, PortalForm, enum_choices
from portal.models import Category, Severity, StaffUser, Status
from portal.models.tickets import DESCRIPTION_MAX_CHARS


def strip(value):
    return value.strip() if isinstance(value, str) else value


class CaseForm(PortalForm):
    """A form that changes the ticket. ``primary`` names the field a refusal is shown at."""

    primary: str | None = None

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class AssignForm(CaseForm):
    primary = "assignee"

    assignee = SelectField(
        _l("Assign to"),
        description=_l("Only members of the report's team can be chosen."),
        default="",  # "Assign to me" sends no assignee
    )
    claim = SubmitField(_l("Assign to me"))

    def __init__(self, *args, members: list[StaffUser] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.assignee.choices = [
            SelectChoice("", _l("Nobody: back to the team's queue")),
            *(SelectChoice(str(member.id), member.display_name) for member in members),
        ]


class StatusForm(CaseForm):
    primary = "status"

    status = SelectField(_l("New status"), validators=[InputRequired(_l("Select the new status"))])

    def __init__(self, *args, statuses: list[Status] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = [
            SelectChoice(status.value, status.staff_label) for status in statuses
        ]


class ClassifyForm(CaseForm):
    """Category and triaged severity. The reporter's own severity is never a field here."""

    primary = "category"

    category = SelectField(_l("Kind of problem"), choices=enum_choices(Category))
    # No Optional(): it would let a blank-looking value such as " " past the choices.
    severity = SelectField(_l("How serious it is, as you assess it"))

    def __init__(self, *args, assessed: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        choices = enum_choices(Severity)
        if not assessed:
            # Until someone assesses it, leaving the field alone must not assess it.
            choices.insert(0, SelectChoice("", _l("Not assessed yet")))
        self.severity.choices = choices


class SavedReplyChoiceForm(PortalForm):
    """Which saved reply to start from: sent by GET, so it works without JavaScript."""

    saved_reply = SelectField(
        _l("Start from a saved reply"),
        description=_l("Using one replaces what is in the reply box."),
        coerce=int,
    )

    def __init__(self, *args, saved_replies=(), **kwargs):
        super().__init__(*args, meta={"csrf": False}, **kwargs)
        self.saved_reply.choices = [SelectChoice(reply.id, reply.title) for reply in saved_replies]


class ReplyForm(CaseForm):
    primary = "reply"

    # The saved reply the text started from, recorded in the history; nothing is copied from it.
    saved_reply_id = IntegerField(widget=HiddenInput(), validators=[Optional()])
    reply = TextAreaField(
        _l("Your reply"),
        description=_l("The reporter sees it on their tracking page. Up to 10,000 characters."),
        filters=[strip],
        validators=[DataRequired(_l("Enter your reply")), MaxChars(DESCRIPTION_MAX_CHARS)],
    )

    def __init__(self, *args, saved_reply_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._saved_reply_ids = set(saved_reply_ids)

    def validate_saved_reply_id(self, field):
        if field.data is not None and field.data not in self._saved_reply_ids:
            raise ValidationError(_l("Choose a saved reply from the list"))


class RequestInformationForm(CaseForm):
    primary = "question"

    question = TextAreaField(
        _l("Your question for the reporter"),
        description=_l(
            "Say exactly what you need and why. The report waits for their answer. "
            "Up to 10,000 characters."
        ),
        filters=[strip],
        validators=[DataRequired(_l("Enter your question")), MaxChars(DESCRIPTION_MAX_CHARS)],
    )


class NoteForm(PortalForm):
    """Notes never conflict with other changes, so they carry no version."""

    primary = "note"

    note = TextAreaField(
        _l("Internal note"),
        description=_l("Only staff see notes: never the reporter. Up to 10,000 characters."),
        filters=[strip],
        validators=[DataRequired(_l("Enter your note")), MaxChars(DESCRIPTION_MAX_CHARS)],
    )


class MergeForm(CaseForm):
    primary = "target"

    target = StringField(
        _l("Reference of the report to merge this one into"),
        description=_l(
            "For example RP-7K3M-Q9P2. This report is then closed as merged, its reporter is "
            "told and keeps their link, and the work continues on the other report."
        ),
        filters=[strip],
        validators=[DataRequired(_l("Enter the reference of the other report")), MaxChars(40)],
    )


class SeriousIncidentForm(CaseForm):
    pass


class MoveTeamForm(CaseForm):
    """Send the report to another team (a report routed wrongly, or by no rule at all)."""

    primary = "team"

    team = SelectField(_l("Team"), validators=[InputRequired(_l("Choose a team"))])

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.team.choices = [SelectChoice(str(team.id), team.name) for team in teams]
