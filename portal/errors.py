"""Translated error pages. No traceback ever reaches a user."""

from flask import Flask, current_app, render_template
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from portal.extensions import db

ERROR_PAGES = {
    400: (
        _l("Something was wrong with that request"),
        _l("Please go back, check what you entered and try again."),
    ),
    403: (_l("You cannot open this page"), _l("You do not have permission to see this page.")),
    404: (
        _l("Page not found"),
        _l(
            "If you typed the address, check it is correct. If you followed a tracking link, "
            "it may have been replaced by a newer one."
        ),
    ),
    405: (
        _l("Something was wrong with that request"),
        _l("Please go back, check what you entered and try again."),
    ),
    413: (
        _l("What you sent is too large"),
        _l("Each file can be up to 10 MB. Go back, choose smaller files and try again."),
    ),
    429: (
        _l("Too many attempts"),
        _l(
            "You have tried this too many times in a short period. Please wait a few minutes "
            "and try again. Nothing you already sent has been lost."
        ),
    ),
    500: (
        _l("Sorry, there is a problem with the service"),
        _l(
            "Please try again later. If you were sending a report, check your e-mail or use "
            "your tracking link before sending it again."
        ),
    ),
}


def render_error(code: int):
    title, message = ERROR_PAGES.get(code, ERROR_PAGES[500])
    return render_template("errors/error.html", code=code, title=title, message=message), code


def handle_http_exception(error: HTTPException):
    code = error.code or 500
    if code not in ERROR_PAGES:
        return error
    if code >= 500:
        db.session.rollback()
    return render_error(code)


def handle_unexpected_exception(error: Exception):
    """Anything unplanned: roll back, log the traceback for us, show a translated 500."""
    db.session.rollback()
    current_app.logger.error("unhandled %s", type(error).__name__, exc_info=error)
    return render_error(500)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected_exception)
