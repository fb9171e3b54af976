"""The reporter's journey: choose, report or dispute, confirmation, tracking, lost link.

The reporter's forms check their CSRF token through the form itself rather than through the
global ``CSRFProtect`` (they are exempt from it), so that a token that no longer matches shows the
form again with every answer kept instead of a bare 400 page.
"""

from pathlib import Path

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from portal.clock import utcnow
from portal.extensions import csrf, db, limiter
from portal.forms.reports import (
    NOT_LISTED,
    YES,
    AddInformationForm,
    LostLinkForm,
    ReportForm,
    WithdrawForm,
)
from portal.i18n import current_locale_code, request_country, timezone_names, valid_timezone
from portal.models import (
    AIModel,
    Category,
    ModelVersion,
    ReporterRole,
    Severity,
    Status,
    Ticket,
    TicketKind,
)
from portal.services import tokens
from portal.services.attachments import StoredFile, delete_stored_file, store_evidence
from portal.services.errors import AttachmentRejected, InvalidTransition
from portal.services.status import can_transition
from portal.services.tickets import (
    ReportSubmission,
    add_draft_attachments,
    add_information,
    can_add_information,
    draft_attachments,
    find_ticket_by_reference,
    find_ticket_by_token,
    reissue_tracking_link,
    submit_report,
    withdraw,
)

bp = Blueprint("reports", __name__, url_prefix="/reports")

TRACKED_SESSION_KEY = "tracked"
CONFIRMATION_SESSION_KEY = "confirmation"


def _limit(config_key: str):
    return limiter.limit(lambda: current_app.config[config_key], methods=["POST"])


# -- helpers ------------------------------------------------------------------------------------


def upload_dir() -> Path:
    configured = current_app.config["PORTAL_UPLOAD_DIR"]
    return Path(configured) if configured else Path(current_app.instance_path) / "uploads"


def tracking_link(token: str) -> str:
    return url_for("reports.open_tracking_link", token=token, _external=True)


def model_choices() -> list[SelectChoice]:
    """Every model, each with a "version not known" option and its versions, newest first."""
    choices = [SelectChoice("", _("Choose a model"))]
    models = db.session.scalars(sa.select(AIModel).order_by(AIModel.display_name)).all()
    for model in models:
        group = f"{model.display_name} ({model.provider})"
        choices.append(
            SelectChoice(
                f"model:{model.id}",
                _("%(model)s, version not known", model=model.display_name),
                optgroup=group,
            )
        )
        choices.extend(
            SelectChoice(
                f"version:{version.id}", f"{model.display_name} {version.version}", optgroup=group
            )
            for version in model.versions
        )
    choices.append(SelectChoice(NOT_LISTED, _("My model is not listed")))
    return choices


def timezone_choices() -> list[SelectChoice]:
    return [SelectChoice(name, name.replace("_", " ")) for name in timezone_names()]


def resolve_model_choice(value: str) -> tuple[int | None, int | None]:
    """(model id, version id) for a ``model_choice`` value; ids were checked by the form."""
    kind, _sep, identifier = value.partition(":")
    if kind == "version":
        version = db.session.get(ModelVersion, int(identifier))
        return version.model_id, version.id
    if kind == "model":
        return int(identifier), None
    return None, None


def prefilled_model_choice(slug: str | None, version: str | None) -> tuple[str, bool]:
    """The ``model_choice`` value named by a "Report this output" link, and whether it matched."""
    if not slug:
        return "", True
    model = db.session.scalar(sa.select(AIModel).where(AIModel.slug == slug))
    if model is None:
        return "", False
    if not version:
        return f"model:{model.id}", True
    found = db.session.scalar(
        sa.select(ModelVersion).where(
            ModelVersion.model_id == model.id, ModelVersion.version == version
        )
    )
    return (f"version:{found.id}", True) if found else (f"model:{model.id}", False)


def accept_uploads(files, room: int) -> tuple[list[StoredFile], list[str]]:
    """Store the uploaded files that pass the checks; messages for those that do not."""
    stored, errors = [], []
    max_bytes = current_app.config["PORTAL_MAX_FILE_BYTES"]
    for upload in files:
        if not upload or not upload.filename:
            continue
        if len(stored) >= room:
            errors.append(
                _(
                    "You can add up to %(max)s files. “%(name)s” was not added.",
                    max=current_app.config["PORTAL_MAX_FILES"],
                    name=upload.filename,
                )
            )
            continue
        try:
            stored.append(store_evidence(upload.stream, upload.filename, upload_dir(), max_bytes))
        except AttachmentRejected as rejection:
            errors.append(attachment_error_message(rejection))
    return stored, errors


def attachment_error_message(rejection: AttachmentRejected) -> str:
    name = rejection.filename
    if rejection.reason == AttachmentRejected.TOO_LARGE:
        return _("“%(name)s” is larger than 10 MB. Choose a smaller file.", name=name)
    if rejection.reason == AttachmentRejected.EMPTY:
        return _("“%(name)s” is empty. Choose another file.", name=name)
    if rejection.reason == AttachmentRejected.UNREADABLE:
        return _("“%(name)s” could not be opened as an image. Choose another file.", name=name)
    return _(
        "“%(name)s” is not a PNG, JPEG, WebP, PDF or plain text file. Choose another file.",
        name=name,
    )


def explain_csrf_failure(form) -> None:
    """Replace Flask-WTF's technical CSRF message with one a person can act on."""
    if form.csrf_token.errors:
        form.csrf_token.errors = [
            _(
                "Your answers were kept, but we could not confirm that they came from this page. "
                "Check them and send the form again."
            )
        ]


def authorize_tracking(ticket: Ticket) -> None:
    """Let this browser follow ``ticket`` until its tracking link is replaced."""
    tracked = dict(session.get(TRACKED_SESSION_KEY, {}))
    tracked[ticket.reference] = ticket.tracking_version
    session[TRACKED_SESSION_KEY] = tracked
    session.permanent = True


def load_tracked_ticket(reference: str) -> Ticket:
    """The ticket named by ``reference`` if this browser opened its current tracking link.

    Aborts with 404, never 403, in every other case, so that a reference alone does not even
    tell whether the ticket exists.
    """
    ticket = find_ticket_by_reference(reference)
    tracked = session.get(TRACKED_SESSION_KEY, {})
    if ticket is None or tracked.get(ticket.reference) != ticket.tracking_version:
        abort(404)
    return ticket


# -- choosing and filing a report ---------------------------------------------------------------


@bp.get("/")
def start():
    kind = request.args.get("kind")
    if kind in {member.value for member in TicketKind}:
        return redirect(url_for("reports.new", **request.args))
    answered = "answered" in request.args or "kind" in request.args
    error = _("Select what you want to do") if answered else None
    return render_template("reports/start.html", kinds=list(TicketKind), error=error)


@bp.route("/new", methods=["GET", "POST"])
@csrf.exempt
@_limit("PORTAL_RATELIMIT_SUBMIT")
def new():
    if request.args.get("kind") not in {member.value for member in TicketKind}:
        return redirect(url_for("reports.start", **request.args))
    kind = TicketKind(request.args["kind"])

    form = ReportForm(kind=kind, model_choices=model_choices(), timezone_choices=timezone_choices())
    notices = []
    if request.method == "GET":
        form.form_key.data = tokens.new_form_key()
        form.timezone.data = current_app.config["PORTAL_DEFAULT_TIMEZONE"]
        form.model_choice.data, matched = prefilled_model_choice(
            request.args.get("model"), request.args.get("version")
        )
        if not matched:
            notices.append(
                _(
                    "We could not find the model or version named in the link you "
                    "followed. Choose it from the list."
                )
            )
        output_id = request.args.get("output_id", "")
        if len(output_id) <= 200:
            form.output_id.data = output_id
        return render_report_form(form, notices)

    if not form.form_key.data or len(form.form_key.data) > 64:
        form.form_key.data = tokens.new_form_key()
    form_key = form.form_key.data
    valid = form.validate()
    explain_csrf_failure(form)
    if form.csrf_token.errors:
        # Not trusted to come from this page: keep the answers on screen, store nothing.
        return render_report_form(form, notices)

    remove_draft_files(form_key, set(form.remove_evidence.data or []))
    room = current_app.config["PORTAL_MAX_FILES"] - len(draft_attachments(form_key))
    stored, upload_errors = accept_uploads(request.files.getlist(form.evidence.name), room)
    add_draft_attachments(form_key, stored, utcnow())
    if upload_errors or not valid:
        form.evidence.errors = list(form.evidence.errors) + upload_errors
        db.session.commit()  # keep the accepted files with the draft
        return render_report_form(form, notices)

    result = submit_with_retry(form, form_key)
    session[CONFIRMATION_SESSION_KEY] = {
        "reference": result.ticket.reference,
        "token": result.tracking_token,
    }
    authorize_tracking(result.ticket)
    return redirect(url_for("reports.confirmation"), code=303)


def remove_draft_files(form_key: str, attachment_ids: set[int]) -> None:
    for attachment in draft_attachments(form_key):
        if attachment.id in attachment_ids:
            delete_stored_file(upload_dir(), attachment.storage_name)
            db.session.delete(attachment)
    db.session.flush()


def submission_from_form(form: ReportForm) -> ReportSubmission:
    model_id, version_id = resolve_model_choice(form.model_choice.data)

    def text(field):
        return (field.data or "").strip() or None

    return ReportSubmission(
        kind=form.report_kind,
        reporter_role=ReporterRole(form.reporter_role.data),
        model_id=model_id,
        model_version_id=version_id,
        model_not_listed=text(form.model_not_listed)
        if form.model_choice.data == NOT_LISTED
        else None,
        output_id=text(form.output_id),
        output_text=form.output_text.data.strip(),
        input_text=text(form.input_text),
        occurred_on=form.occurred_on.data,
        description=form.description.data.strip(),
        impact=text(form.impact),
        requested_outcome=text(form.requested_outcome),
        expected_output=text(form.expected_output) if form.is_dispute else None,
        category=Category(form.category.data),
        reporter_severity=Severity(form.reporter_severity.data),
        immediate_danger=form.immediate_danger.data == YES,
        locale=current_locale_code(),
        timezone=valid_timezone(form.timezone.data)
        or current_app.config["PORTAL_DEFAULT_TIMEZONE"],
        consent_contact=form.consent_contact.data,
        consent_training=form.consent_training.data,
        consent_public_stats=form.consent_public_stats.data,
        reporter_name=text(form.reporter_name),
        contact_email=text(form.contact_email),
    )


def submit_with_retry(form: ReportForm, form_key: str):
    """Submit and commit; a concurrent duplicate loses the unique key and finds the first ticket."""
    submission = submission_from_form(form)
    arguments = dict(
        form_key=form_key,
        secret_key=current_app.config["SECRET_KEY"],
        sla_targets=current_app.config["PORTAL_SLA_TARGETS"],
        tracking_link=tracking_link,
    )
    try:
        result = submit_report(submission, now=utcnow(), **arguments)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        result = submit_report(submission, now=utcnow(), **arguments)
        db.session.commit()
    return result


def render_report_form(form: ReportForm, notices: list[str]):
    drafts = draft_attachments(form.form_key.data) if form.form_key.data else []
    form.remove_evidence.choices = [
        SelectChoice(str(attachment.id), attachment.original_name) for attachment in drafts
    ]
    return render_template(
        "reports/form.html",
        form=form,
        kind=form.report_kind,
        drafts=drafts,
        notices=notices,
        illegal_content=current_app.config["PORTAL_ILLEGAL_CONTENT_REPORTING"],
        max_files=current_app.config["PORTAL_MAX_FILES"],
    )


@bp.get("/confirmation")
def confirmation():
    details = session.get(CONFIRMATION_SESSION_KEY)
    ticket = find_ticket_by_reference(details["reference"]) if details else None
    if ticket is None:
        return redirect(url_for("public.home"))
    token = details.get("token")
    # After "lost your link?" the link shown here has been replaced: do not offer a dead one.
    still_valid = token is not None and tokens.token_matches(token, ticket.tracking_token_hash)
    return render_template(
        "reports/confirmation.html",
        ticket=ticket,
        tracking_url=tracking_link(token) if still_valid else None,
        crisis_resources=crisis_resources() if ticket.needs_safety_resources else None,
    )


def crisis_resources() -> list[dict]:
    resources = current_app.config["PORTAL_CRISIS_RESOURCES"]
    return resources.get(request_country()) or resources["default"]


# -- following a report -------------------------------------------------------------------------


@bp.get("/track/<token>")
@limiter.limit(lambda: current_app.config["PORTAL_RATELIMIT_TRACK"])
def open_tracking_link(token: str):
    """Trade the secret link for a cookie, then leave the secret out of the address bar."""
    ticket = find_ticket_by_token(token) if len(token) <= 128 else None
    if ticket is None:
        return render_template("reports/link_not_valid.html"), 404
    authorize_tracking(ticket)
    return redirect(url_for("reports.case", reference=ticket.reference), code=303)


@bp.get("/case/<reference>")
def case(reference: str):
    ticket = load_tracked_ticket(reference)
    return render_case(ticket, AddInformationForm())


def render_case(ticket: Ticket, add_form: AddInformationForm):
    events = [event for event in ticket.events if event.is_public]
    return render_template(
        "reports/case.html",
        ticket=ticket,
        events=events,
        add_form=add_form,
        can_add=can_add_information(ticket),
        can_withdraw=can_transition(ticket, Status.WITHDRAWN, utcnow()),
        crisis_resources=crisis_resources() if ticket.needs_safety_resources else None,
    )


@bp.post("/case/<reference>/information", endpoint="add_information")
@csrf.exempt
@_limit("PORTAL_RATELIMIT_SUBMIT")
def add_information_view(reference: str):
    ticket = load_tracked_ticket(reference)
    form = AddInformationForm()
    if not can_add_information(ticket):
        abort(400)
    valid = form.validate()
    explain_csrf_failure(form)
    if not valid:
        return render_case(ticket, form)
    files = [upload for upload in request.files.getlist(form.evidence.name) if upload.filename]
    if not (form.text.data or "").strip() and not files:
        form.text.errors = [_("Enter some information or choose a file to add")]
        return render_case(ticket, form)
    stored, upload_errors = accept_uploads(files, current_app.config["PORTAL_MAX_FILES"])
    if upload_errors:
        for file in stored:
            delete_stored_file(upload_dir(), file.storage_name)
        form.evidence.errors = upload_errors
        return render_case(ticket, form)
    add_information(ticket, text=(form.text.data or "").strip(), files=stored, now=utcnow())
    db.session.commit()
    flash(_("Thank you. We have added this to your report."), "success")
    return redirect(url_for("reports.case", reference=ticket.reference), code=303)


@bp.route("/case/<reference>/withdraw", methods=["GET", "POST"], endpoint="withdraw")
@csrf.exempt
def withdraw_view(reference: str):
    ticket = load_tracked_ticket(reference)
    form = WithdrawForm()
    if request.method == "POST" and form.validate():
        try:
            withdraw(ticket, reason=(form.reason.data or "").strip(), now=utcnow())
        except InvalidTransition:
            flash(_("This report can no longer be withdrawn."), "error")
            return redirect(url_for("reports.case", reference=ticket.reference), code=303)
        db.session.commit()
        flash(_("You have withdrawn your report. We will not work on it any further."), "success")
        return redirect(url_for("reports.case", reference=ticket.reference), code=303)
    explain_csrf_failure(form)
    return render_template("reports/withdraw.html", ticket=ticket, form=form)


@bp.route("/lost-link", methods=["GET", "POST"])
@csrf.exempt
@_limit("PORTAL_RATELIMIT_LOST_LINK")
def lost_link():
    form = LostLinkForm()
    if request.method == "POST" and form.validate():
        reissue_tracking_link(
            form.reference.data, form.email.data, now=utcnow(), tracking_link=tracking_link
        )
        db.session.commit()
        return render_template("reports/lost_link_sent.html")
    explain_csrf_failure(form)
    return render_template("reports/lost_link.html", form=form)
