"""WTForms forms. Labels, hints and messages are lazily translated strings."""

from flask_babel import format_number
from flask_babel import gettext as _
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


class PortalForm(FlaskForm):
    """Base of every form: text from the outside world is cleaned before validation."""

    class Meta:
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
                _("This must be %(limit)s characters or fewer", limit=format_number(self.limit))
            )
