"""Staff sign-in, and the code from an authenticator app."""

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Regexp

from portal.forms import PortalForm


class SignInForm(PortalForm):
    email = EmailField(
        _l("E-mail address"), validators=[DataRequired(_l("Enter your e-mail address"))]
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password"))])


def code_digits(value):
    """The code as ASCII digits: spaces dropped, and digits from any script (Arabic-Indic ones
    from an Arabic keyboard, full-width ones) read as the digits they are."""
    if not isinstance(value, str):
        return value
    return "".join(
        str(int(char)) if char.isdecimal() else char for char in value if not char.isspace()
    )


class CodeForm(PortalForm):
    code = StringField(
        _l("6-digit code"),
        description=_l("The code changes every 30 seconds: enter the one your app shows now."),
        filters=[code_digits],
        validators=[
            DataRequired(_l("Enter the 6-digit code from your authenticator app")),
            Regexp(r"^[0-9]{6}$", message=_l("Enter the code as 6 digits, like 123456")),
        ],
        render_kw={"inputmode": "numeric"},
    )


class ConfirmedCodeForm(CodeForm):
    """Turning the second factor on from a session also asks for the password, so that a stolen
    session cookie cannot tie the account to someone else's authenticator app."""

    password = PasswordField(
        _l("Your password"), validators=[DataRequired(_l("Enter your password"))]
    )
