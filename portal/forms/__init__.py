"""WTForms forms. Labels, hints and messages are lazily translated strings."""

from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice


def enum_choices(enum_class) -> list[SelectChoice]:
    return [SelectChoice(member.value, member.label) for member in enum_class]


def strip_nul(value):
    """Drop NUL characters: PostgreSQL refuses them in text, and no person types one."""
    return value.replace("\x00", "") if isinstance(value, str) else value


class PortalForm(FlaskForm):
    """Base of every form: text from the outside world is cleaned before validation."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            filters = (*unbound_field.kwargs.get("filters", ()), strip_nul)
            return unbound_field.bind(form=form, filters=filters, **options)
