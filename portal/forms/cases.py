"""The case page's forms: one small form per action, each naming only the fields it changes.

Every form that changes the ticket carries ``version``, the ticket's ``row_version`` as the page
showed it, so that a change made by someone else in the meantime is noticed instead of being
overwritten. Choices that depend on the ticket (members of its team, the statuses it may move
to, saved replies, its model's versions) are given by the view.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional, ValidationError
from wtforms.widgets import HiddenInput

from portal.forms import MaxChars, MultiCheckboxField, PortalForm, enum_choices
from portal.forms.staff import ListChoiceField
from portal.models import (
    AppealResult,
    AutomatedMeans,
    Category,
    ModelVersion,
    Outcome,
    ReasonTemplate,
    Remedy,
    Severity,
    StaffUser,
    Status,
)
from portal.models.decisions import REASONS_MAX_CHARS
from portal.models.tickets import DESCRIPTION_MAX_CHARS, SHORT_TEXT_MAX_CHARS
from portal.services.decisions import DecisionRefused


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


# What is wrong with a decision, for each of DecisionRefused's codes: the form's own checks use
# the same words for what it catches first (a question left unanswered).
DECISION_PROBLEMS = {
    DecisionRefused.NO_FACTS: _l("Enter the facts you relied on"),
    DecisionRefused.NO_MEASURE: _l("Enter the measure taken and its scope"),
    DecisionRefused.NO_POLICY_CLAUSE: _l("Enter the policy clause the decision rests on"),
    DecisionRefused.NO_REMEDY: _l("Choose what was done, or “None”"),
    DecisionRefused.NONE_WITH_OTHERS: _l(
        "“None” cannot be chosen with another remedy: untick one or the other"
    ),
    DecisionRefused.NO_MODEL: _l(
        "This report names no model from the registry, so a fix cannot be recorded against a "
        "version: describe it in the details instead"
    ),
    DecisionRefused.NO_VERSION: _l("Choose the model version that carries the fix"),
    DecisionRefused.NOT_THIS_MODEL: _l("Choose a version of the report's own model"),
    DecisionRefused.VERSION_WITHOUT_FIX: _l(
        "A version can only be given when the model's behaviour was fixed: choose that remedy, "
        "or no version"
    ),
    DecisionRefused.UNKNOWN_LANGUAGE: _l("Choose the language you wrote in from the list"),
    DecisionRefused.NO_APPEAL_RESULT: _l("Choose whether the decision is confirmed or reversed"),
    DecisionRefused.NOT_AN_APPEAL: _l("There is no appeal to answer on this report"),
    DecisionRefused.REVERSAL_KEEPS_OUTCOME: _l(
        "A reversed decision needs a different outcome from the decision under appeal"
    ),
    DecisionRefused.CONFIRMATION_CHANGES_OUTCOME: _l(
        "A confirmed decision keeps the outcome of the decision under appeal: choose that "
        "outcome, or reverse the decision"
    ),
}


class ReasonTemplateChoiceForm(PortalForm):
    """Which reason template to start from: sent by GET, so it works without JavaScript."""

    reason_template = SelectField(
        _l("Start from a reason template"),
        description=_l(
            "Using one replaces the outcome, the facts, the measure, the policy clause and the "
            "language below. Adapt them to this report before you send the decision."
        ),
        coerce=int,
    )

    def __init__(self, *args, templates: list[ReasonTemplate] = (), language_names=None, **kwargs):
        super().__init__(*args, meta={"csrf": False}, **kwargs)
        names = language_names or {}
        self.reason_template.choices = [
            SelectChoice(
                template.id,
                _(
                    "%(title)s (%(language)s)",
                    title=template.title,
                    language=names.get(template.locale, template.locale),
                ),
                optgroup=template.outcome.label,
            )
            for template in templates
        ]


class DecideForm(CaseForm):
    """A decision with its statement of reasons, or the answer to an appeal (``appeal``: then
    it also asks whether the decision under appeal is confirmed or reversed).

    The form checks that each question is answered; the rules between the answers (remedies,
    the version with the fix, an appeal's outcome) are the decision service's, whose refusals
    the view shows on these same questions (``DECISION_PROBLEMS``)."""

    appeal_result = RadioField(
        _l("Does the decision under appeal stand?"),
        description=_l(
            "Confirming keeps its outcome; reversing gives another. Either way, the reporter "
            "receives your own reasons, below."
        ),
        choices=enum_choices(AppealResult),
        validators=[InputRequired(DECISION_PROBLEMS[DecisionRefused.NO_APPEAL_RESULT])],
    )
    outcome = RadioField(
        _l("Outcome"),
        choices=enum_choices(Outcome),
        validators=[InputRequired(_l("Choose the outcome"))],
    )
    remedies = MultiCheckboxField(
        _l("What was done"),
        description=_l("Choose all that apply, or “None”."),
        choices=enum_choices(Remedy),
        validators=[InputRequired(DECISION_PROBLEMS[DecisionRefused.NO_REMEDY])],
        # A value edited into the form: no person ticks one that is not offered.
        invalid_choice_message=_l("Choose an option from the list"),
    )
    fixed_in_version_id = ListChoiceField(_l("Model version that carries the fix"))
    remedy_details = TextAreaField(
        _l("More about what was done (optional)"),
        description=_l(
            "For example what was corrected or removed, or the body the report was referred "
            "to. The reporter sees it as you write it. Up to 5,000 characters."
        ),
        filters=[strip],
        validators=[MaxChars(REASONS_MAX_CHARS)],
    )
    facts = TextAreaField(
        _l("Facts relied on"),
        description=_l(
            "What you found and the evidence you relied on. The reporter sees it as you write "
            "it. Up to 5,000 characters."
        ),
        filters=[strip],
        validators=[
            DataRequired(DECISION_PROBLEMS[DecisionRefused.NO_FACTS]),
            MaxChars(REASONS_MAX_CHARS),
        ],
    )
    measure = TextAreaField(
        _l("Measure taken and its scope"),
        description=_l(
            "What was done, or not done, and how far it reaches: this output, this model "
            "version, every version. Up to 5,000 characters."
        ),
        filters=[strip],
        validators=[
            DataRequired(DECISION_PROBLEMS[DecisionRefused.NO_MEASURE]),
            MaxChars(REASONS_MAX_CHARS),
        ],
    )
    automated_means = RadioField(
        _l("Automated means"),
        description=_l("Whether software detected the problem or took part in deciding."),
        choices=enum_choices(AutomatedMeans),
        validators=[InputRequired(_l("Choose whether automated means were used"))],
    )
    policy_clause = StringField(
        _l("Policy clause relied on"),
        description=_l(
            "The ground for the decision: the clause of the usage policy or terms, for example "
            "“Usage policy, section 4.2”."
        ),
        filters=[strip],
        validators=[
            DataRequired(DECISION_PROBLEMS[DecisionRefused.NO_POLICY_CLAUSE]),
            MaxChars(SHORT_TEXT_MAX_CHARS),
        ],
    )
    language = SelectField(
        _l("Language you wrote in"),
        description=_l(
            "The reporter receives what you wrote as you wrote it, with a line in their own "
            "language naming this one."
        ),
        invalid_choice_message=DECISION_PROBLEMS[DecisionRefused.UNKNOWN_LANGUAGE],
    )

    def __init__(
        self,
        *args,
        appeal: bool = False,
        versions: list[ModelVersion] = (),
        model_name: str | None = None,
        languages: list[SelectChoice] = (),
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if not appeal:
            del self.appeal_result
        self.fixed_in_version_id.choices = [
            SelectChoice("", _("None: not fixed in the model")),
            *(SelectChoice(str(version.id), version.version) for version in versions),
        ]
        if model_name is None:
            self.fixed_in_version_id.description = _(
                "This report names no model from the registry, so there is no version to choose."
            )
        else:
            self.fixed_in_version_id.description = _(
                "Only with “%(remedy)s”: the version of %(model)s in which it was fixed.",
                remedy=Remedy.MODEL_FIXED.label,
                model=model_name,
            )
        self.language.choices = list(languages)

    @property
    def fixed_in_version(self) -> int | None:
        """The version chosen, as an id (None: no version)."""
        return int(self.fixed_in_version_id.data) if self.fixed_in_version_id.data else None
