"""WTForms forms. Labels, hints and messages are lazily translated strings."""

from wtforms.fields.choices import SelectChoice


def enum_choices(enum_class) -> list[SelectChoice]:
    return [SelectChoice(member.value, member.label) for member in enum_class]
