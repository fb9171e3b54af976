"""Forms of the analysts' pages: which feedback to export, in which format, and API tokens.

The filters form is sent with GET to the preview (so that a preview can be bookmarked and
shared); the request form carries the same filters, with the format and a CSRF token, in a POST
that requests the export, and checks them again. The view gives the choices that come from the
database (``offer``): the models with their versions, the languages and the analyst's last
finished export; a value outside them is an error at its question.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, DateTimeLocalField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional, ValidationError

from portal.forms import ANY, MaxChars, PortalForm, any_or, enum_choices
from portal.forms.staff import ListChoiceField
from portal.models import Category, Outcome, Severity
from portal.models.enums import AI_OUTPUT_KINDS
from portal.models.feedback import ExportFormat
from portal.services.feedback import FeedbackFilters

# Which reports of those the filters select: all of them, or only those changed since a moment.
EVERY_REPORT, SINCE_LAST_EXPORT, SINCE_MOMENT = "all", "last_export", "moment"

DATE_MESSAGE = _l("Enter a real date, such as 2026-11-27")


@dataclass(frozen=True)
class ModelChoice:
    """A model of the registry as the form offers it: its versions in release order."""

    slug: str
    name: str
    versions: tuple[str, ...]


@dataclass(frozen=True)
class LastExport:
    """The analyst's newest finished export, and the moment an export following it starts
    from (its cursor)."""

    export_id: int
    cursor: datetime


class ExportFiltersForm(PortalForm):
    """The filters of a feedback export. Every filter may be left at "Any"; a question left
    out of the address keeps its default."""

    model = ListChoiceField(
        _l("Model"),
        default=ANY,
        invalid_choice_message=_l("Choose a model from the list"),
    )
    version_from = ListChoiceField(
        _l("From version"),
        description=_l("The first version to include, in release order. Choose a model first."),
        default=ANY,
        validate_choice=False,  # checked below against the chosen model's versions
    )
    version_to = ListChoiceField(
        _l("To version"),
        description=_l("The last version to include."),
        default=ANY,
        validate_choice=False,
    )
    kind = ListChoiceField(
        _l("Kind of report"), choices=any_or(enum_choices(AI_OUTPUT_KINDS)), default=ANY
    )
    category = ListChoiceField(
        _l("Kind of problem"), choices=any_or(enum_choices(Category)), default=ANY
    )
    severity = ListChoiceField(
        _l("How serious"),
        description=_l("As triaged by staff, or as reported if not triaged yet."),
        choices=any_or(enum_choices(Severity)),
        default=ANY,
    )
    outcome = ListChoiceField(_l("Decision"), choices=any_or(enum_choices(Outcome)), default=ANY)
    language = ListChoiceField(
        _l("Language of the report"),
        default=ANY,
        invalid_choice_message=_l("Choose a language from the list"),
    )
    created_from = DateField(
        _l("Reported on or after (optional)"),
        description=_l("A day in UTC, such as 2026-11-01."),
        validators=[Optional()],
        invalid_value_message=DATE_MESSAGE,
    )
    created_to = DateField(
        _l("Reported on or before (optional)"),
        description=_l("A day in UTC, such as 2026-11-30."),
        validators=[Optional()],
        invalid_value_message=DATE_MESSAGE,
    )
    changes = RadioField(
        _l("Which of these reports"),
        description=_l(
            "An export of changes only holds the reports created or changed since then: "
            "downstream, replace each record by its record id."
        ),
        default=EVERY_REPORT,  # also when the question is left out of the address
        invalid_choice_message=_l("Choose an option from the list"),
    )
    since = DateTimeLocalField(
        _l("Changed after (for changes since a date and time)"),
        description=_l("In UTC, such as 2026-11-27 14:30."),
        tz=UTC,
        # The first is how the browser's date-and-time control sends it; people type a space.
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        validators=[Optional()],
        invalid_value_message=_l("Enter a real date and time, such as 2026-11-27 14:30"),
    )
    # The fields that narrow the records, in the form's order.
    FILTERS = (
        "model",
        "version_from",
        "version_to",
        "kind",
        "category",
        "severity",
        "outcome",
        "language",
        "created_from",
        "created_to",
        "changes",
        "since",
    )

    def offer(
        self,
        *,
        models: list[ModelChoice],
        languages: list[tuple[str, str]],
        last_export: LastExport | None,
    ) -> None:
        """The choices that come from the database and from who is asking."""
        self.models = {model.slug: model for model in models}
        self.last_export = last_export
        self.model.choices = any_or([SelectChoice(model.slug, model.name) for model in models])
        versions = [
            SelectChoice(version, version, optgroup=model.name)
            for model in models
            for version in model.versions
        ]
        self.version_from.choices = any_or(versions)
        self.version_to.choices = any_or(list(versions))
        self.language.choices = any_or([SelectChoice(code, name) for code, name in languages])
        changes = [SelectChoice(EVERY_REPORT, _l("Every report that matches"))]
        if last_export is not None:
            changes.append(
                SelectChoice(
                    SINCE_LAST_EXPORT,
                    _(
                        "Only reports changed since your last finished export (number %(number)d)",
                        number=last_export.export_id,
                    ),
                )
            )
        changes.append(SelectChoice(SINCE_MOMENT, _l("Only reports changed after a date and time")))
        self.changes.choices = changes

    # -- checks ------------------------------------------------------------------------------

    def _chosen_model(self) -> ModelChoice | None:
        return self.models.get(self.model.data or "")

    def _check_version(self, field) -> None:
        version = field.data or ""
        if not version:
            return
        model = self._chosen_model()
        if model is None:
            if not self.model.data:  # "Any": a version alone names nothing
                raise ValidationError(_("Choose a model first: each version belongs to a model"))
            return  # the model's own question says it is not known
        if version not in model.versions:
            raise ValidationError(
                _(
                    "“%(version)s” is not a version of %(model)s. Choose one from the list",
                    version=version,
                    model=model.name,
                )
            )

    def validate_version_from(self, field):
        self._check_version(field)

    def validate_version_to(self, field):
        self._check_version(field)
        model, first = self._chosen_model(), self.version_from.data
        if model is None or not field.data or not first or first not in model.versions:
            return
        if field.data in model.versions and (
            model.versions.index(field.data) < model.versions.index(first)
        ):
            raise ValidationError(
                _(
                    "Version %(last)s came out before version %(first)s: choose a last version "
                    "that is the same as the first or later",
                    last=field.data,
                    first=first,
                )
            )

    def validate_created_to(self, field):
        first = self.created_from.data
        if field.data and isinstance(first, date) and field.data < first:
            raise ValidationError(
                _(
                    "The last day must be the same as the first day or later (the first is "
                    "%(day)s)",
                    day=format_date(first, "long"),
                )
            )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Not an inline validator: ``Optional`` ends the checks of an empty field before it.
        if self.changes.data == SINCE_MOMENT and self.since.data is None and not self.since.errors:
            self.since.errors.append(_("Enter the date and time after which reports changed"))
            valid = False
        return valid

    # -- answers ------------------------------------------------------------------------------

    def since_moment(self) -> datetime | None:
        """Where an export of changes starts; None for every report."""
        if self.changes.data == SINCE_LAST_EXPORT and self.last_export is not None:
            return self.last_export.cursor
        if self.changes.data == SINCE_MOMENT and self.since.data is not None:
            return self.since.data.astimezone(UTC)
        return None

    def to_filters(self) -> FeedbackFilters:
        """The validated answers as the feedback service's filters."""
        return FeedbackFilters(
            model=self.model.data or None,
            version_from=self.version_from.data or None,
            version_to=self.version_to.data or None,
            kind=self.kind.data or None,
            category=self.category.data or None,
            severity=self.severity.data or None,
            outcome=self.outcome.data or None,
            language=self.language.data or None,
            created_from=self.created_from.data,
            created_to=self.created_to.data,
            since=self.since_moment(),
        )


class ExportRequestForm(ExportFiltersForm):
    """The filters again (carried from the preview), and the format of the files."""

    format = RadioField(
        _l("Format"),
        choices=enum_choices(ExportFormat),
        default=ExportFormat.JSONL.value,
        validators=[InputRequired(_l("Choose a format"))],
        invalid_choice_message=_l("Choose a format from the list"),
    )


class TokenForm(PortalForm):
    """A new personal API token: only its name, to tell it apart in the list."""

    name = StringField(
        _l("Name of the token"),
        description=_l("What it is for, such as “Nightly training pipeline”."),
        validators=[DataRequired(_l("Enter a name for the token")), MaxChars(100)],
    )
