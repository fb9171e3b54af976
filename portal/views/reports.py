"""The reporter's journey: choose, report or dispute, confirmation, tracking, the decision and
its appeal, lost link.

The reporter's forms check their CSRF token through the form itself rather than through the
global ``CSRFProtect`` (they are exempt from it), so that a token that no longer matches shows the
form again with every answer kept instead of a bare 400 page.
"""

import json
from datetime import timedelta

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
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
    AppealForm,
    ConfirmErasureForm,
    ErasureForm,
    FollowUpForm,
    LostLinkForm,
    ReportForm,
    WithdrawConsentForm,
    WithdrawForm,
)
from portal.i18n import (
    current_locale_code,
    language_name,
    request_country,
    timezone_names,
    valid_timezone,
)
from portal.models import (
    Actor,
    AIModel,
    Category,
    FollowUpAnswer,
    ModelVersion,
    Remedy,
    ReporterRole,
    Severity,
    Ticket,
    TicketKind,
)
from portal.security import never_cache
from portal.services import follow_up, tokens
from portal.services.appeals import (
    AppealRefused,
    DecisionRecord,
    appeal,
    configured_window,
    decision_record,
)
from portal.services.attachments import MAX_FILES, store_uploads, upload_dir
from portal.services.data_copy import data_copy, held_data
from portal.services.erasure import erase, request_erasure
from portal.services.errors import AttachmentRejected, InvalidTransition
from portal.services.links import LinkPurpose, signed_ticket
from portal.services.status import OPEN_STATES
from portal.services.tickets import (
    ReportSubmission,
    SubmissionResult,
    add_information,
    can_add_information,
    draft_attachments,
    find_ticket_by_form_key,
    find_ticket_by_reference,
    find_ticket_by_token,
    reissue_tracking_link,
    resubmission_result,
    submit_report,
    update_draft,
    withdraw,
    withdraw_training_consent,
)
from portal.services.writing import lock_tickets

bp = Blueprint("reports", __name__, url_prefix="/reports")
# Tracking links, what people reported, one-time form keys: never cached.
bp.after_request(never_cache)

TRACKED_SESSION_KEY = "tracked"
CONFIRMATION_SESSION_KEY = "confirmation"
# The reference of the report just erased, for the page that says so.
ERASED_SESSION_KEY = "erased"
# What a "Report this output" link may carry; nothing else is passed on.
PREFILL_PARAMETERS = ("kind", "model", "version", "output_id")


def rate_limit(config_key: str):
    """Limit POSTs by the configured rate, counting only those that did something.

    A form shown again with errors is not counted (unless it stored files): a person correcting
    their answers must never be stopped, and lose them, by the limit meant for floods.
    """
    return limiter.limit(
        lambda: current_app.config[config_key],
        methods=["POST"],
        deduct_when=lambda response: (
            response.status_code in (302, 303) or g.get("rate_limit_this_request", False)
        ),
    )


# -- helpers ------------------------------------------------------------------------------------


def tracking_link(token: str) -> str:
    """The absolute tracking link, built on the configured base URL, never on the Host header:
    a forged Host must not be able to put someone else's server into an e-mail we send."""
    path = url_for("reports.open_tracking_link", token=token)
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + path


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
    if "\x00" in slug + (version or ""):
        return "", False  # never a registry value; PostgreSQL would refuse the query
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


def uploaded_files(field) -> list[tuple]:
    return [
        (upload.stream, upload.filename)
        for upload in request.files.getlist(field.name)
        if upload and upload.filename
    ]


def rejection_message(rejection: AttachmentRejected) -> str:
    name = rejection.filename
    if rejection.reason == AttachmentRejected.TOO_LARGE:
        return _("“%(name)s” is larger than 10 MB. Choose a smaller file.", name=name)
    if rejection.reason == AttachmentRejected.EMPTY:
        return _("“%(name)s” is empty. Choose another file.", name=name)
    if rejection.reason == AttachmentRejected.UNREADABLE:
        return _("“%(name)s” could not be opened as an image. Choose another file.", name=name)
    if rejection.reason == AttachmentRejected.TOO_MANY:
        return _(
            "You can add up to %(max)s files. “%(name)s” was not added.", max=MAX_FILES, name=name
        )
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
    """Let this browser follow ``ticket`` until its tracking link is replaced.

    The session cookie is signed and lasts as long as the browser session: coming back later
    takes the link again, which is the reporter's credential.
    """
    tracked = dict(session.get(TRACKED_SESSION_KEY, {}))
    tracked[ticket.reference] = ticket.tracking_version
    session[TRACKED_SESSION_KEY] = tracked


def load_tracked_ticket(reference: str) -> Ticket:
    """The ticket named by ``reference`` if this browser opened its current tracking link.

    Aborts with 404, never 403, in every other case, so that a reference alone does not even
    tell whether the ticket exists.
    """
    ticket = find_ticket_by_reference(reference)
    if ticket is None or not still_tracked(ticket):
        abort(404)
    return ticket


def still_tracked(ticket: Ticket) -> bool:
    """Whether this browser opened the ticket's current tracking link (checked again after a
    write lock, since the link can be replaced in between)."""
    return session.get(TRACKED_SESSION_KEY, {}).get(ticket.reference) == ticket.tracking_version


def redirect_to_case(ticket: Ticket):
    return redirect(url_for("reports.case", reference=ticket.reference), code=303)


def other_language_name(code: str) -> str | None:
    """The name, in the page's language, of the language ``code`` when it is not the page's;
    None when it is. It introduces text shown as it was written: a reader of a French page is
    told that the reasons below are in English before they meet them."""
    page = current_locale_code()
    return None if code == page else language_name(code, in_locale=page)


def crisis_resources() -> list[dict]:
    """Crisis resources for the visitor's country and language, most specific first."""
    resources = current_app.config["PORTAL_CRISIS_RESOURCES"]
    country, language = request_country(), current_locale_code()
    for key in (f"{country}/{language}", country, f"default/{language}", "default"):
        if resources.get(key):
            return resources[key]
    return []


# -- choosing and filing a report ---------------------------------------------------------------


def prefill_arguments() -> dict:
    return {key: request.args[key] for key in PREFILL_PARAMETERS if key in request.args}


@bp.get("/")
def start():
    if request.args.get("kind") in {member.value for member in TicketKind}:
        return redirect(url_for("reports.new", **prefill_arguments()))
    answered = "answered" in request.args or "kind" in request.args
    error = _("Select what you want to do") if answered else None
    return render_template("reports/start.html", kinds=list(TicketKind), error=error)


@bp.route("/new", methods=["GET", "POST"])
@csrf.exempt
@rate_limit("PORTAL_RATELIMIT_SUBMIT")
def new():
    if request.args.get("kind") not in {member.value for member in TicketKind}:
        return redirect(url_for("reports.start", **prefill_arguments()))
    form = ReportForm(
        kind=TicketKind(request.args["kind"]),
        model_choices=model_choices(),
        timezone_choices=timezone_choices(),
    )
    if request.method == "GET":
        return render_report_form(form, prefill_form(form))

    if not form.form_key.data or len(form.form_key.data) > 64:
        form.form_key.data = tokens.new_form_key()
    valid = form.validate()
    explain_csrf_failure(form)
    if form.csrf_token.errors:
        # Not trusted to come from this page: keep the answers on screen, store nothing.
        return render_report_form(form)
    already_sent = find_ticket_by_form_key(form.form_key.data)
    if already_sent is not None:
        # A double click, a retry, or Back and send again: answer as the first time did,
        # whatever the answers say now.
        result = resubmission_result(
            already_sent,
            form_key=form.form_key.data,
            secret_key=current_app.config["SECRET_KEY"],
        )
        return confirm_submission(result)
    files = uploaded_files(form.evidence)
    rejected = update_draft(
        form.form_key.data,
        remove_ids=set(form.remove_evidence.data or []),
        uploads=files,
        upload_dir=upload_dir(),
        now=utcnow(),
    )
    if rejected or not valid:
        form.evidence.errors = [*form.evidence.errors, *map(rejection_message, rejected)]
        db.session.commit()  # the accepted files stay with the draft
        # Storing files costs disk: such a POST counts towards the limit like a submission.
        g.rate_limit_this_request = bool(files)
        return render_report_form(form)
    return confirm_submission(submit_and_commit(form))


def confirm_submission(result: SubmissionResult):
    """Remember what the confirmation page shows, let this browser follow the case, go there."""
    session[CONFIRMATION_SESSION_KEY] = {
        "reference": result.ticket.reference,
        "token": result.tracking_token,
    }
    if result.tracking_token is not None:
        authorize_tracking(result.ticket)
    return redirect(url_for("reports.confirmation"), code=303)


def prefill_form(form: ReportForm) -> list[str]:
    """Fill a new form from a "Report this output" link; notices for what did not match."""
    form.form_key.data = tokens.new_form_key()
    form.timezone.data = current_app.config["PORTAL_DEFAULT_TIMEZONE"]
    if not form.asks_about_an_output:
        return []
    form.model_choice.data, matched = prefilled_model_choice(
        request.args.get("model"), request.args.get("version")
    )
    output_id = request.args.get("output_id", "")
    if len(output_id) <= 200:
        form.output_id.data = output_id
    if matched:
        return []
    return [
        _(
            "We could not find the model or version named in the link you followed. "
            "Choose it from the list."
        )
    ]


def submission_from_form(form: ReportForm) -> ReportSubmission:
    def text(field):
        return (field.data or "").strip() or None

    if not form.asks_about_an_output:
        return barrier_submission(form, text)
    model_id, version_id = resolve_model_choice(form.model_choice.data)
    not_listed = form.model_choice.data == NOT_LISTED
    return ReportSubmission(
        kind=form.report_kind,
        reporter_role=ReporterRole(form.reporter_role.data),
        model_id=model_id,
        model_version_id=version_id,
        model_not_listed=text(form.model_not_listed) if not_listed else None,
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


def barrier_submission(form: ReportForm, text) -> ReportSubmission:
    """A barrier to using the portal: no AI output, so no output text; filed as "something
    else" of medium seriousness, which sets its service-level targets and its route."""
    return ReportSubmission(
        kind=form.report_kind,
        reporter_role=ReporterRole.SELF,
        output_text="",
        description=form.description.data.strip(),
        requested_outcome=text(form.requested_outcome),
        category=Category.OTHER,
        reporter_severity=Severity.MEDIUM,
        locale=current_locale_code(),
        timezone=valid_timezone(form.timezone.data)
        or current_app.config["PORTAL_DEFAULT_TIMEZONE"],
        consent_contact=form.consent_contact.data,
        consent_public_stats=form.consent_public_stats.data,
        reporter_name=text(form.reporter_name),
        contact_email=text(form.contact_email),
    )


def submit_and_commit(form: ReportForm) -> SubmissionResult:
    """Submit and commit. Two identical requests racing both pass the "already sent?" check;
    the loser fails the unique form key on commit, and trying again finds the winner's ticket."""
    submission = submission_from_form(form)
    arguments = {
        "form_key": form.form_key.data,
        "secret_key": current_app.config["SECRET_KEY"],
        "tracking_link": tracking_link,
    }
    try:
        result = submit_report(submission, now=utcnow(), **arguments)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        result = submit_report(submission, now=utcnow(), **arguments)
        db.session.commit()
    return result


def render_report_form(form: ReportForm, notices: list[str] = ()):
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


# -- following a report -------------------------------------------------------------------------


@bp.get("/track/<token>")
@limiter.limit(lambda: current_app.config["PORTAL_RATELIMIT_TRACK"])
def open_tracking_link(token: str):
    """Trade the secret link for a cookie, then leave the secret out of the address bar."""
    ticket = find_ticket_by_token(token) if len(token) <= 128 else None
    if ticket is None:
        return render_template("reports/link_not_valid.html"), 404
    authorize_tracking(ticket)
    return redirect_to_case(ticket)


@bp.get("/case/<reference>")
def case(reference: str):
    ticket = load_tracked_ticket(reference)
    return render_case(ticket, AddInformationForm())


def render_case(
    ticket: Ticket, add_form: AddInformationForm, *, follow_up_form: FollowUpForm | None = None
):
    now = utcnow()
    return render_template(
        "reports/case.html",
        ticket=ticket,
        events=[event for event in ticket.events if event.is_public],
        add_form=add_form,
        follow_up_question=follow_up.question(ticket),
        consent_form=WithdrawConsentForm(),
        follow_up_form=follow_up_form or FollowUpForm(),
        can_add=can_add_information(ticket),
        can_withdraw=ticket.status in OPEN_STATES,
        crisis_resources=crisis_resources() if ticket.needs_safety_resources else None,
        **decision_context(decision_record(ticket, now=now, window=configured_window())),
    )


def decision_context(record: DecisionRecord | None) -> dict:
    """What templates/reports/_decision.html needs besides the ticket."""
    return {
        "record": record,
        "outside_redress": current_app.config["PORTAL_OUTSIDE_REDRESS"],
        "other_language_name": other_language_name,
        "Remedy": Remedy,
        "AppealRefused": AppealRefused,
    }


@bp.post("/case/<reference>/information", endpoint="add_information")
@csrf.exempt
@rate_limit("PORTAL_RATELIMIT_SUBMIT")
def add_information_view(reference: str):
    ticket = load_tracked_ticket(reference)
    form = AddInformationForm()
    if not can_add_information(ticket):
        flash(_("This report is closed, so information can no longer be added."), "error")
        return redirect_to_case(ticket)
    valid = form.validate()
    explain_csrf_failure(form)
    files = uploaded_files(form.evidence)
    if valid and not (form.text.data or "").strip() and not files:
        form.text.errors.append(_("Enter some information or choose a file to add"))
        valid = False
    if not valid:
        return render_case(ticket, form)
    stored, rejected = store_uploads(files, MAX_FILES, upload_dir())
    if rejected:
        db.session.rollback()  # removes the files that were accepted alongside
        form.evidence.errors = [rejection_message(rejection) for rejection in rejected]
        return render_case(ticket, form)
    lock_tickets(ticket)  # a colleague's save meanwhile must not make this one fail
    if not still_tracked(ticket) or not can_add_information(ticket):
        # Closed, merged or withdrawn, or its link replaced, while this was being sent.
        db.session.rollback()  # removes the files stored above
        flash(_("This report is closed, so information can no longer be added."), "error")
        return redirect_to_case(ticket)
    add_information(ticket, text=(form.text.data or "").strip(), files=stored, now=utcnow())
    db.session.commit()
    flash(_("Thank you. We have added this to your report."), "success")
    return redirect_to_case(ticket)


@bp.route("/case/<reference>/withdraw", methods=["GET", "POST"], endpoint="withdraw")
@csrf.exempt
def withdraw_view(reference: str):
    ticket = load_tracked_ticket(reference)
    form = WithdrawForm()
    if request.method == "POST" and form.validate():
        lock_tickets(ticket)
        if not still_tracked(ticket):
            abort(404)  # its link was replaced while this was being sent
        try:
            withdraw(ticket, reason=(form.reason.data or "").strip(), now=utcnow())
        except InvalidTransition:
            flash(_("This report can no longer be withdrawn."), "error")
            return redirect_to_case(ticket)
        db.session.commit()
        flash(_("You have withdrawn your report. We will not work on it any further."), "success")
        return redirect_to_case(ticket)
    explain_csrf_failure(form)
    return render_template("reports/withdraw.html", ticket=ticket, form=form)


@bp.get("/case/<reference>/decision")
def decision(reference: str):
    """The decision as a page of its own, made to be printed or saved and shown to others."""
    ticket = load_tracked_ticket(reference)
    record = decision_record(ticket, now=utcnow(), window=configured_window())
    if record is None:
        flash(
            _("There is no decision on your report yet. We will tell you when there is."), "error"
        )
        return redirect_to_case(ticket)
    return render_template("reports/decision.html", ticket=ticket, **decision_context(record))


@bp.route("/case/<reference>/appeal", methods=["GET", "POST"], endpoint="appeal")
@csrf.exempt
@rate_limit("PORTAL_RATELIMIT_SUBMIT")
def appeal_view(reference: str):
    ticket = load_tracked_ticket(reference)
    now, window = utcnow(), configured_window()
    record = decision_record(ticket, now=now, window=window)
    if record is None:
        flash(_("There is no decision on your report yet, so there is nothing to appeal."), "error")
        return redirect_to_case(ticket)
    form = AppealForm()
    if request.method == "GET":
        return render_appeal(ticket, form, record)
    if record.refusal is not None:
        return refuse_appeal(ticket, form, record)
    valid = form.validate()
    explain_csrf_failure(form)
    if not valid:
        return render_appeal(ticket, form, record)
    stored, rejected = store_uploads(uploaded_files(form.evidence), MAX_FILES, upload_dir())
    if rejected:
        db.session.rollback()  # removes the files that were accepted alongside
        form.evidence.errors = [rejection_message(rejection) for rejection in rejected]
        return render_appeal(ticket, form, record)
    lock_tickets(ticket)  # a colleague's save meanwhile must not make this one fail
    if not still_tracked(ticket):
        db.session.rollback()  # removes the files stored above
        abort(404)  # its link was replaced while this was being sent
    try:
        appeal(ticket, reason=form.reason.data.strip(), files=stored, now=now, window=window)
        db.session.commit()
    except (AppealRefused, IntegrityError):
        # Appealed (a second click, another tab) or out of time while this was being sent;
        # the unique key on the appealed decision stops the race that no check sees.
        db.session.rollback()
        return refuse_appeal(ticket, form, decision_record(ticket, now=now, window=window))
    flash(
        _(
            "We have received your appeal. Someone who did not take the decision will review "
            "it, and we will tell you what they decide."
        ),
        "success",
    )
    return redirect_to_case(ticket)


def refuse_appeal(ticket: Ticket, form: AppealForm, record: DecisionRecord):
    """An appeal that cannot be sent. When it is one already received (a double click, Back and
    send again) the tracking page says so; otherwise the appeal page explains what else the
    reporter can do, and shows what they wrote so that it is not lost."""
    if record.refusal == AppealRefused.UNDER_REVIEW:
        flash(
            _("We already have your appeal against this decision, and it is being reviewed."),
            "success",
        )
        return redirect_to_case(ticket)
    return render_appeal(ticket, form, record, refused=True)


def render_appeal(
    ticket: Ticket, form: AppealForm, record: DecisionRecord, *, refused: bool = False
):
    return render_template(
        "reports/appeal.html",
        ticket=ticket,
        form=form,
        refused=refused,
        **decision_context(record),
    )


# -- the follow-up question ---------------------------------------------------------------------


@bp.get("/follow-up/<token>")
@limiter.limit(lambda: current_app.config["PORTAL_RATELIMIT_TRACK"])
def open_follow_up_link(token: str):
    """The link in the follow-up e-mail: it opens the report's page at the question, as the
    tracking link would (see portal.services.links)."""
    ticket = ticket_for_signed_link(
        LinkPurpose.FOLLOW_UP,
        token,
        max_age=timedelta(days=current_app.config["PORTAL_FOLLOW_UP_LINK_DAYS"]),
    )
    if ticket is None:
        return render_template("reports/link_not_valid.html"), 404
    authorize_tracking(ticket)
    return redirect(url_for("reports.case", reference=ticket.reference, _anchor="follow-up"), 303)


@bp.post("/case/<reference>/follow-up", endpoint="follow_up")
@csrf.exempt
@rate_limit("PORTAL_RATELIMIT_SUBMIT")
def follow_up_view(reference: str):
    ticket = load_tracked_ticket(reference)
    form = FollowUpForm()
    valid = form.validate()
    explain_csrf_failure(form)
    if not valid:
        return render_case(ticket, AddInformationForm(), follow_up_form=form)
    lock_tickets(ticket)
    if not still_tracked(ticket):
        abort(404)  # its link was replaced while this was being sent
    answer = FollowUpAnswer(form.answer.data)
    try:
        follow_up.answer(
            ticket, answer=answer, comment=(form.comment.data or "").strip(), now=utcnow()
        )
    except follow_up.NoQuestion as refusal:
        db.session.rollback()
        if refusal.answered:
            flash(_("We have already had your answer about this decision. Thank you."), "success")
        else:
            flash(_("There is no question to answer about this decision now."), "error")
        return redirect_to_case(ticket)
    db.session.commit()
    record = decision_record(ticket, now=utcnow(), window=configured_window())
    if answer is FollowUpAnswer.NO and record is not None and record.can_appeal:
        flash(
            _(
                "Thank you for telling us. If you think the decision is wrong, you can appeal "
                "it here: someone who did not take it will look at your report again."
            ),
            "success",
        )
        return redirect(url_for("reports.appeal", reference=ticket.reference), 303)
    flash(_("Thank you for your answer. It helps us do better."), "success")
    return redirect_to_case(ticket)


# -- the reporter's data: a copy, and erasure ---------------------------------------------------


@bp.get("/case/<reference>/your-data", endpoint="your_data")
def your_data_view(reference: str):
    """Everything held about the report, as a page to keep (downloaded, not shown)."""
    ticket = load_tracked_ticket(reference)
    # The records themselves, not the JSON copy's values: the page gives their labels in the
    # reader's language and their moments in the reporter's time zone.
    response = make_response(
        render_template(
            "reports/your_data.html",
            ticket=ticket,
            held=held_data(ticket),
            generated_at=utcnow(),
            Remedy=Remedy,
        )
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="redress-{ticket.reference}.html"'
    )
    return response


@bp.get("/case/<reference>/your-data.json", endpoint="your_data_json")
def your_data_json_view(reference: str):
    """The same as a JSON file, for a machine (or another service) to read."""
    ticket = load_tracked_ticket(reference)
    response = current_app.response_class(
        json.dumps(data_copy(ticket, now=utcnow()), ensure_ascii=False, indent=2),
        mimetype="application/json",
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="redress-{ticket.reference}.json"'
    )
    return response


@bp.post("/case/<reference>/consent", endpoint="withdraw_consent")
@csrf.exempt
@rate_limit("PORTAL_RATELIMIT_SUBMIT")
def withdraw_consent_view(reference: str):
    ticket = load_tracked_ticket(reference)
    form = WithdrawConsentForm()
    if not form.validate():
        explain_csrf_failure(form)
        return render_case(ticket, AddInformationForm())
    lock_tickets(ticket)
    if not still_tracked(ticket):
        abort(404)  # its link was replaced while this was being sent
    if withdraw_training_consent(ticket, now=utcnow()):
        db.session.commit()
    flash(
        _(
            "We will no longer use your report to improve AI models. If it was already given "
            "to a product team, they are told to delete it."
        ),
        "success",
    )
    return redirect_to_case(ticket)


@bp.route("/case/<reference>/erase", methods=["GET", "POST"], endpoint="erase")
@csrf.exempt
@rate_limit("PORTAL_RATELIMIT_SUBMIT")
def erase_view(reference: str):
    """Ask for erasure. With an e-mail address on the report, a link sent there confirms it
    (whoever holds the tracking link alone cannot erase); without one, this is the
    confirmation."""
    ticket = load_tracked_ticket(reference)
    form = ErasureForm()
    if request.method == "POST" and form.validate():
        lock_tickets(ticket)
        if not still_tracked(ticket):
            abort(404)  # its link was replaced while this was being sent
        now = utcnow()
        if request_erasure(ticket, now=now):
            db.session.commit()
            return redirect(url_for("reports.erasure_requested", reference=ticket.reference), 303)
        erase(ticket, now=now, by=Actor.REPORTER)
        db.session.commit()
        return erased(ticket)
    explain_csrf_failure(form)
    return render_template("reports/erase.html", ticket=ticket, form=form)


@bp.get("/case/<reference>/erase/requested", endpoint="erasure_requested")
def erasure_requested_view(reference: str):
    return render_template("reports/erasure_requested.html", ticket=load_tracked_ticket(reference))


@bp.route("/erase/<token>", methods=["GET", "POST"], endpoint="confirm_erasure")
@csrf.exempt
@limiter.limit(lambda: current_app.config["PORTAL_RATELIMIT_TRACK"])
def confirm_erasure_view(token: str):
    """The link in the confirmation e-mail: a page with one button (a mail scanner that opens
    the link erases nothing)."""
    max_age = timedelta(hours=current_app.config["PORTAL_ERASURE_LINK_HOURS"])
    ticket = ticket_for_signed_link(LinkPurpose.ERASURE, token, max_age=max_age)
    if ticket is None:
        return render_template("reports/erasure_link_not_valid.html"), 404
    form = ConfirmErasureForm()
    if request.method == "POST" and form.validate():
        lock_tickets(ticket)
        if ticket_for_signed_link(LinkPurpose.ERASURE, token, max_age=max_age) is None:
            abort(404)  # erased, or its link replaced, while this was being sent
        erase(ticket, now=utcnow(), by=Actor.REPORTER)
        db.session.commit()
        return erased(ticket)
    explain_csrf_failure(form)
    return render_template("reports/confirm_erasure.html", ticket=ticket, form=form, token=token)


@bp.get("/erased")
def erased_page():
    reference = session.get(ERASED_SESSION_KEY)
    if reference is None:
        return redirect(url_for("public.home"))
    return render_template("reports/erased.html", reference=reference)


def erased(ticket: Ticket):
    """After an erasure: the browser forgets the report, and a page says what was done."""
    tracked = dict(session.get(TRACKED_SESSION_KEY, {}))
    tracked.pop(ticket.reference, None)
    session[TRACKED_SESSION_KEY] = tracked
    session[ERASED_SESSION_KEY] = ticket.reference
    return redirect(url_for("reports.erased_page"), 303)


def ticket_for_signed_link(purpose: LinkPurpose, token: str, *, max_age: timedelta):
    """The ticket a signed e-mail link names, if the link is genuine, in time, and made for the
    ticket's current tracking link (a new link, or an erasure, ends it); else None."""
    signed = signed_ticket(purpose, token, max_age=max_age) if len(token) <= 256 else None
    if signed is None:
        return None
    ticket_id, version = signed
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None or ticket.tracking_version != version or ticket.erased_at is not None:
        return None
    return ticket


@bp.route("/lost-link", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(lambda: current_app.config["PORTAL_RATELIMIT_LOST_LINK"], methods=["POST"])
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
