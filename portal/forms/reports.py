"""The reporter's forms: report or dispute, add information, withdraw, appeal, the follow-up
question, erasure, lost link."""

from datetime import date
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from portal.clock import utcnow
from portal.forms import MaxChars, MultiCheckboxField, PortalForm, enum_choices
from portal.i18n import valid_timezone
from portal.models import Category, FollowUpAnswer, ReporterRole, Severity, TicketKind
from portal.models.tickets import DESCRIPTION_MAX_CHARS, OUTPUT_MAX_CHARS, SHORT_TEXT_MAX_CHARS

NOT_LISTED = "not_listed"
YES, NO = "yes", "no"


# The questions about an AI output, which a report of a barrier to using the portal does not
# ask (with the consent to use the report to improve models, which it cannot do).
AI_OUTPUT_QUESTIONS = (
    "reporter_role",
    "model_choice",
    "model_not_listed",
    "output_id",
    "output_text",
    "input_text",
    "expected_output",
    "occurred_on",
    "category",
    "impact",
    "reporter_severity",
    "immediate_danger",
    "consent_training",
)


class ReportForm(PortalForm):
    """Every kind of report; the kind (from the URL) decides which questions are asked: a
    dispute asks for ``expected_output``, a barrier to using the portal asks nothing about an
    AI output."""

    form_key = HiddenField()

    reporter_role = RadioField(
        _l("Who are you reporting for?"),
        choices=enum_choices(ReporterRole),
        validators=[InputRequired(_l("Select who you are reporting for"))],
    )
    model_choice = SelectField(
        _l("Which AI model produced the output?"),
        description=_l("If you do not know the version, choose the model on its own."),
        validators=[InputRequired(_l("Select the AI model, or choose that it is not listed"))],
        validate_choice=False,  # checked against the registry in validate_model_choice
    )
    model_not_listed = StringField(
        _l("Name of the model or product"),
        description=_l("As much as you know: the product, the company, the version."),
        validators=[Optional(), MaxChars(SHORT_TEXT_MAX_CHARS)],
    )
    output_id = StringField(
        _l("Output identifier (optional)"),
        description=_l(
            "Some products show an ID for each answer. Leave this empty if you do not have one."
        ),
        validators=[
            Optional(),
            MaxChars(200),
        ],
    )
    output_text = TextAreaField(
        _l("What did the AI output say?"),
        description=_l("Copy and paste it if you can. Up to 20,000 characters."),
        validators=[DataRequired(_l("Enter what the AI output said")), MaxChars(OUTPUT_MAX_CHARS)],
    )
    input_text = TextAreaField(
        _l("What did you ask or enter? (optional)"),
        description=_l("The prompt or input that led to the output. Up to 20,000 characters."),
        validators=[Optional(), MaxChars(OUTPUT_MAX_CHARS)],
    )
    expected_output = TextAreaField(
        _l("What should the output have said?"),
        description=_l("Tell us what a correct answer would have been. Up to 20,000 characters."),
        validators=[MaxChars(OUTPUT_MAX_CHARS)],
    )
    occurred_on = DateField(
        _l("When did it happen? (optional)"),
        description=_l("If you are not sure of the exact day, leave this empty."),
        validators=[Optional()],
    )
    category = RadioField(
        _l("What kind of problem is it?"),
        choices=enum_choices(Category),
        validators=[InputRequired(_l("Select the kind of problem"))],
    )
    description = TextAreaField(
        _l("What went wrong?"),
        description=_l("Explain why the output was harmful or wrong. Up to 10,000 characters."),
        validators=[DataRequired(_l("Describe what went wrong")), MaxChars(DESCRIPTION_MAX_CHARS)],
    )
    impact = TextAreaField(
        _l("How did it affect you or others? (optional)"),
        description=_l("Up to 2,000 characters."),
        validators=[Optional(), MaxChars(SHORT_TEXT_MAX_CHARS)],
    )
    requested_outcome = TextAreaField(
        _l("What would you like us to do? (optional)"),
        description=_l("Up to 2,000 characters."),
        validators=[Optional(), MaxChars(SHORT_TEXT_MAX_CHARS)],
    )
    reporter_severity = RadioField(
        _l("How serious is it?"),
        choices=enum_choices(Severity),
        validators=[InputRequired(_l("Select how serious it is"))],
    )
    immediate_danger = RadioField(
        _l("Is anyone in immediate danger?"),
        choices=[SelectChoice(YES, _l("Yes")), SelectChoice(NO, _l("No"))],
        validators=[InputRequired(_l("Select yes if anyone is in immediate danger"))],
    )
    evidence = MultipleFileField(
        _l("Evidence (optional)"),
        description=_l(
            "Up to 5 files: screenshots (PNG, JPEG, WebP), PDF or plain text, 10 MB each."
        ),
    )
    remove_evidence = MultiCheckboxField(
        _l("Remove files you already added"), coerce=int, validate_choice=False
    )
    reporter_name = StringField(
        _l("Your name (optional)"),
        validators=[
            Optional(),
            MaxChars(200),
        ],
    )
    contact_email = EmailField(
        _l("E-mail address (optional)"),
        description=_l("We will send you the tracking link and tell you when something changes."),
        validators=[
            Optional(),
            MaxChars(320),
            Email(
                message=_l("Enter an e-mail address in the correct format, like name@example.com"),
                check_deliverability=False,
            ),
        ],
    )
    timezone = SelectField(
        _l("Your time zone"),
        description=_l("We show dates and times in this time zone."),
        validate_choice=False,  # checked against the zone database in validate_timezone
    )

    consent_contact = BooleanField(_l("You may contact me about this report"))
    consent_training = BooleanField(
        _l("You may use this report, with personal details removed, to improve AI models")
    )
    consent_public_stats = BooleanField(_l("You may include this report in published statistics"))

    def __init__(self, *args, kind: TicketKind, model_choices=(), timezone_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.report_kind = kind
        self.model_choice.choices = list(model_choices)
        self.timezone.choices = list(timezone_choices)
        self._model_values = {choice.value for choice in self.model_choice.choices}
        self._timezone_values = {choice.value for choice in self.timezone.choices}
        if kind is TicketKind.ACCESSIBILITY_BARRIER:
            for name in AI_OUTPUT_QUESTIONS:
                del self[name]
            self.description.label.text = _l("What stopped you, or made this portal hard to use?")
            self.description.description = _l(
                "Tell us which page you were on, what you were trying to do and what happened. "
                "If you use assistive technology, such as a screen reader, a magnifier or voice "
                "control, tell us which. Up to 10,000 characters."
            )
            self.description.validators = [
                DataRequired(_l("Tell us what stopped you")),
                MaxChars(DESCRIPTION_MAX_CHARS),
            ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        occurred_on = self.occurred_on.data if self.asks_about_an_output else None
        if occurred_on and occurred_on > self.reporters_today():
            self.occurred_on.errors.append(_("The date must be today or in the past"))
            valid = False
        # Not an inline validator: Optional() on the address stops those when it is empty.
        if self.consent_contact.data and not self.contact_email.data:
            self.contact_email.errors.append(
                _("Enter an e-mail address so that we can contact you, or untick the box")
            )
            valid = False
        return valid

    def reporters_today(self) -> date:
        """Today where the reporter is: "today" in Auckland is tomorrow on a server in UTC."""
        zone = valid_timezone(self.timezone.data) or current_app.config["PORTAL_DEFAULT_TIMEZONE"]
        return utcnow().astimezone(ZoneInfo(zone)).date()

    @property
    def asks_about_an_output(self) -> bool:
        return self.report_kind is not TicketKind.ACCESSIBILITY_BARRIER

    @property
    def is_dispute(self) -> bool:
        return self.report_kind is TicketKind.OUTPUT_DISPUTE

    def validate_model_choice(self, field):
        if field.data not in self._model_values or not field.data:
            raise ValidationError(_l("Select the AI model, or choose that it is not listed"))

    def validate_model_not_listed(self, field):
        if self.model_choice.data == NOT_LISTED and not (field.data or "").strip():
            raise ValidationError(_l("Enter the name of the model or product"))

    def validate_expected_output(self, field):
        if self.is_dispute and not (field.data or "").strip():
            raise ValidationError(_l("Enter what the output should have said"))

    def validate_timezone(self, field):
        if field.data not in self._timezone_values:
            raise ValidationError(_l("Select your time zone"))


class AddInformationForm(PortalForm):
    text = TextAreaField(
        _l("What would you like to add?"),
        description=_l(
            "Anything that helps us, such as what happened next. Up to 10,000 characters."
        ),
        validators=[Optional(), MaxChars(DESCRIPTION_MAX_CHARS)],
    )
    evidence = MultipleFileField(
        _l("Add evidence (optional)"),
        description=_l(
            "Up to 5 files: screenshots (PNG, JPEG, WebP), PDF or plain text, 10 MB each."
        ),
    )


class WithdrawForm(PortalForm):
    reason = TextAreaField(
        _l("Why are you withdrawing it? (optional)"),
        validators=[Optional(), MaxChars(SHORT_TEXT_MAX_CHARS)],
    )
    confirm = BooleanField(
        _l("I want to withdraw this report"),
        validators=[DataRequired(_l("Confirm that you want to withdraw this report"))],
    )


class AppealForm(PortalForm):
    reason = TextAreaField(
        _l("Why do you disagree with the decision?"),
        description=_l(
            "Tell us what you think we got wrong and what you would like us to do instead. "
            "Up to 10,000 characters."
        ),
        validators=[
            DataRequired(_l("Tell us why you disagree with the decision")),
            MaxChars(DESCRIPTION_MAX_CHARS),
        ],
    )
    evidence = MultipleFileField(
        _l("New evidence (optional)"),
        description=_l(
            "Up to 5 files: screenshots (PNG, JPEG, WebP), PDF or plain text, 10 MB each."
        ),
    )


class FollowUpForm(PortalForm):
    """ "Did this resolve your concern?": the answer is the button pressed (one click), with an
    optional comment written first."""

    answer = StringField(
        validators=[
            AnyOf(
                [answer.value for answer in FollowUpAnswer],
                message=_l("Choose yes, partly or no"),
            )
        ]
    )
    comment = TextAreaField(
        _l("Anything you want to tell us? (optional)"),
        validators=[Optional(), MaxChars(SHORT_TEXT_MAX_CHARS)],
    )


class ErasureForm(PortalForm):
    confirm = BooleanField(
        _l("I want my personal data and what I wrote to be erased"),
        validators=[DataRequired(_l("Confirm that you want your data to be erased"))],
    )


class ConfirmErasureForm(PortalForm):
    """Only the button (and the CSRF token): opening the e-mailed link erases nothing."""


class WithdrawConsentForm(PortalForm):
    """Only the button (and the CSRF token)."""


class LostLinkForm(PortalForm):
    reference = StringField(
        _l("Reference"),
        description=_l("It looks like RP-7K3M-Q9P2 and is in your confirmation e-mail."),
        validators=[
            DataRequired(_l("Enter your reference")),
            Length(max=32, message=_l("Enter your reference, like RP-7K3M-Q9P2")),
        ],
    )
    email = EmailField(
        _l("E-mail address"),
        description=_l("The address you gave when you sent the report."),
        validators=[
            DataRequired(_l("Enter your e-mail address")),
            MaxChars(320),
            Email(
                message=_l("Enter an e-mail address in the correct format, like name@example.com"),
                check_deliverability=False,
            ),
        ],
    )
