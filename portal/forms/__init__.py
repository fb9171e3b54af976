"""WTForms forms. Labels, hints and messages are lazily translated strings."""

from flask_babel import format_number, get_translations, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget


def enum_choices(enum_class) -> list[SelectChoice]:
    return [SelectChoice(member.value, member.label) for member in enum_class]


# The value of an "Any" choice: a filter or a rule's condition that is not set.
ANY = ""


def any_or(choices: list[SelectChoice]) -> list[SelectChoice]:
    """``choices`` after an "Any" choice, for a filter or an optional condition."""
    return [SelectChoice(ANY, _l("Any")), *choices]


def strip_nul(value):
    """Drop NUL characters: PostgreSQL refuses them in text, and no person types one."""
    return value.replace("\x00", "") if isinstance(value, str) else value


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes (rendered by the ``checkboxes`` macro)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def N_(message: str) -> str:
    """Mark a string for extraction only."""
    return message


# WTForms' own messages that a person can meet here (a date that is not a date, a choice that
# is not offered); they go into this portal's catalogues, because WTForms translates into
# fewer languages than the portal (no Hindi) and the pseudo-locale must see them.
WTFORMS_MESSAGES = (
    N_("This field is required."),
    N_("Invalid input."),
    N_("Not a valid choice."),
    N_("Invalid Choice: could not coerce."),
    N_("Invalid choice(s): one or more data inputs could not be coerced."),
    N_("Not a valid datetime value."),
    N_("Not a valid date value."),
    N_("Not a valid time value."),
    N_("Not a valid integer value."),
    N_("Not a valid decimal value."),
    N_("Number must be at least %(min)s."),
    N_("Number must be at most %(max)s."),
    N_("Number must be between %(min)s and %(max)s."),
    N_("Invalid email address."),
)


class PortalTranslations:
    """WTForms' messages translated by the portal's catalogue (see WTFORMS_MESSAGES)."""

    # The catalogue's own lookups: Flask-Babel's helpers would fill the placeholders that
    # WTForms fills itself.
    def gettext(self, string):
        return get_translations().ugettext(string)

    def ngettext(self, singular, plural, n):
        return get_translations().ungettext(singular, plural, n)


class PortalForm(FlaskForm):
    """Base of every form: text from the outside world is cleaned before validation, and
    WTForms' own messages are in the reader's language."""

    class Meta:
        def get_translations(self, form):
            return PortalTranslations()

        def bind_field(self, form, unbound_field, options):
            filters = (*unbound_field.kwargs.get("filters", ()), strip_nul)
            return unbound_field.bind(form=form, filters=filters, **options)


class MaxChars:
    """At most ``limit`` characters, the limit written the reader's way ("20,000", "20 000").

    Unlike WTForms' ``Length`` it sets no ``maxlength`` attribute: a browser would silently cut
    a long paste short, where a message lets the reporter decide what to remove.
    """

    def __init__(self, limit: int):
        self.limit = limit

    def __call__(self, form, field):
        if field.data and len(field.data) > self.limit:
            raise ValidationError(
                # Not %(num)s: Flask-Babel fills that with the bare number, not "10,000".
                ngettext(
                    "This must be %(limit)s character or fewer",
                    "This must be %(limit)s characters or fewer",
                    self.limit,
                    limit=format_number(self.limit),
                )
            )
