"""Forms of the staff workspace."""

from flask_babel import lazy_gettext as _l
from wtforms import DateField, StringField
from wtforms.validators import Optional

from portal.forms import MaxChars, PortalForm


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
