"""E-mail the outbox gave up on, for administrators to see and send again.

The access policy admits administrators only. The list pages by message id (``before``), never
by OFFSET; a retry is one service call, its audit entry and one commit, then back to the list.
"""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.clock import utcnow
from portal.extensions import db
from portal.forms.admin import ConfirmForm
from portal.models import OutboxMessage
from portal.models.types import MAX_DATABASE_ID
from portal.security import never_cache
from portal.services import outbox
from portal.services.outbox import RetryRefused

bp = Blueprint("outbox", __name__, url_prefix="/staff/admin/outbox")
bp.after_request(never_cache)

PAGE_SIZE = 50

REFUSALS = {
    RetryRefused.SCRUBBED: _l(
        "This e-mail cannot be sent again: it held a private tracking link, which was removed "
        "when the e-mail was given up on. The reporter can ask for a new link on the “Get a new "
        "tracking link” page."
    ),
    RetryRefused.ALREADY_QUEUED: _l("This e-mail is already queued to be sent again."),
    RetryRefused.ALREADY_SENT: _l("This e-mail has already been sent."),
}


@bp.get("")
def failed_messages():
    """The e-mail given up on, newest first, and how much is waiting to be sent."""
    before = request.args.get("before", type=int)
    if before is not None and not 0 < before <= MAX_DATABASE_ID:
        before = None  # an edited link: the newest messages rather than a driver's overflow
    failed = outbox.failed_messages(before=before, limit=PAGE_SIZE + 1)
    older_url = None
    if len(failed) > PAGE_SIZE:
        older_url = url_for("outbox.failed_messages", before=failed[PAGE_SIZE - 1].message.id)
    return render_template(
        "admin/outbox.html",
        failed=failed[:PAGE_SIZE],
        counts=outbox.queue_counts(),
        older_url=older_url,
        retry_form=ConfirmForm(),
    )


@bp.post("/<int:message_id>/retry")
def retry(message_id: int):
    """Queue a failed message again. 404 if there is none; a refusal is said in a flash."""
    message = db.session.get(OutboxMessage, message_id) or abort(404)
    if not ConfirmForm().validate():
        abort(400)
    try:
        outbox.retry(
            message,
            staff=current_user._get_current_object(),
            now=utcnow(),
            secret_key=current_app.config["SECRET_KEY"],
        )
    except RetryRefused as refused:
        db.session.rollback()
        flash(str(REFUSALS[refused.reason]), "error")
    else:
        db.session.commit()
        flash(_("Queued to send again."), "success")
    return redirect(url_for("outbox.failed_messages"), code=303)
