"""Staff sign-in."""

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from portal.forms import PortalForm


class SignInForm(PortalForm):
    email = EmailField(
        _l("E-mail address"), validators=[DataRequired(_l("Enter your e-mail address"))]
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password"))])
