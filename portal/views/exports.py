"""Feedback exports for analysts: choose filters, preview, request an export that the clock runs
in the background, follow its progress, download its files; and the personal API tokens that
read the same records (portal/views/api.py).

The access policy admits analysts and administrators. Exports are the team's: every analyst
sees every export. Tokens are personal: an analyst sees and revokes only their own, and
another's token is "not found", as one that does not exist.

The preview and the request share one form: sent with GET to the preview (a bookmarkable
address), then carried in hidden fields with a CSRF token and POSTed to request the export,
which is checked again in full. Each POST is: a validated form, one change, its audit entry,
one commit, a redirect.
"""

from datetime import date, datetime

import sqlalchemy as sa
from babel.units import format_unit
from cryptography.fernet import InvalidToken
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import format_date, format_number, format_percent, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import MultiDict

from portal.clock import utcnow
from portal.config import SUPPORTED_LOCALES
from portal.extensions import db
from portal.forms.admin import ConfirmForm
from portal.forms.exports import (
    EVERY_REPORT,
    ExportFiltersForm,
    ExportRequestForm,
    LastExport,
    ModelChoice,
    TokenForm,
)
from portal.i18n import current_locale_code, format_local_datetime, language_name
from portal.models import AIModel, Category, Outcome, Severity, StaffUser, TicketKind
from portal.models.feedback import ApiToken, ExportFormat, ExportStatus, FeedbackExport
from portal.models.types import MAX_DATABASE_ID
from portal.security import never_cache
from portal.services import api_tokens, audit, feedback, totp
from portal.services.api_tokens import InvalidTokenName
from portal.services.exports import (
    MANIFEST,
    TOMBSTONES,
    archive_name,
    dataset_archive,
    downloadable_path,
    manifest_files,
    record_download,
)
from portal.services.feedback import UnknownModel

bp = Blueprint("exports", __name__, url_prefix="/exports")
# Redacted records and token secrets: never cached.
bp.after_request(never_cache)

PAGE_SIZE = 50
PREVIEW_SIZE = 20
# While an export waits or runs, its page reloads itself this often (without JavaScript).
REFRESH_SECONDS = 5
IN_PROGRESS = frozenset({ExportStatus.QUEUED, ExportStatus.RUNNING})
# A new token's secret, encrypted, until the tokens page has shown it once.
NEW_TOKEN = "exports_new_token"
# An archive is built in memory up to this size, then in a temporary file.
# Downloads are files to save, never pages: sandboxed should a browser open one anyway.
DOWNLOAD_CSP = "sandbox; default-src 'none'"


def _actor() -> StaffUser:
    return current_user._get_current_object()


# -- loaders ------------------------------------------------------------------------------------


def load_export(export_id: int) -> FeedbackExport:
    """Any export (they are the team's, for every analyst); 404 if there is none."""
    return db.session.get(FeedbackExport, export_id) or abort(404)


def load_own_token(token_id: int) -> ApiToken:
    """One of the viewer's own tokens. 404 for a token that does not exist and for another
    person's token alike: tokens are personal, and their existence is nobody else's business."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != _actor().id:
        abort(404)
    return token


def model_choices() -> list[ModelChoice]:
    """The registry's models by name, each with its versions in release order (the order the
    feedback service reads a version range in: undated versions last)."""
    models = db.session.scalars(
        sa.select(AIModel)
        .options(joinedload(AIModel.versions))
        .order_by(AIModel.display_name, AIModel.id)
    ).unique()
    return [
        ModelChoice(
            slug=model.slug,
            name=model.display_name,
            versions=tuple(
                version.version
                for version in sorted(
                    model.versions,
                    key=lambda v: (v.released_on is None, v.released_on or date.min, v.id),
                )
            ),
        )
        for model in models
    ]


def last_finished_export(user: StaffUser) -> LastExport | None:
    """The newest of ``user``'s finished exports, with the cursor its manifest gives the next
    incremental export."""
    exports = db.session.scalars(
        sa.select(FeedbackExport)
        .where(
            FeedbackExport.requested_by_id == user.id,
            FeedbackExport.status == ExportStatus.DONE,
        )
        .order_by(FeedbackExport.id.desc())
        .limit(1)
    )
    for export in exports:
        cursor = manifest_cursor(export)
        if cursor is not None:
            return LastExport(export_id=export.id, cursor=cursor)
    return None


def manifest_cursor(export: FeedbackExport) -> datetime | None:
    """Where an export of the changes since ``export`` starts (its manifest's cursor)."""
    text = (export.manifest or {}).get("cursor")
    return datetime.fromisoformat(text) if text else None


def filters_form(form_class=ExportFiltersForm, formdata: MultiDict | None = None, **kwargs):
    """A filters form (or the request form) with the registry's models, the languages and the
    viewer's last finished export to choose from."""
    form = form_class(formdata, **kwargs)
    form.offer(
        models=model_choices(),
        languages=[(code, language_name(code)) for code in SUPPORTED_LOCALES],
        last_export=last_finished_export(_actor()),
    )
    return form


# -- in words -----------------------------------------------------------------------------------

FILTER_LABELS = {
    "model": _l("Model"),
    "version_from": _l("From version"),
    "version_to": _l("To version"),
    "kind": _l("Kind of report"),
    "category": _l("Kind of problem"),
    "severity": _l("How serious"),
    "outcome": _l("Decision"),
    "language": _l("Language of the report"),
    "created_from": _l("Reported on or after"),
    "created_to": _l("Reported on or before"),
    "since": _l("Only reports changed after"),
}
FILTER_ENUMS = {"kind": TicketKind, "category": Category, "severity": Severity, "outcome": Outcome}
# The kinds of personal data the redaction replaces (feedback.REDACTION_KINDS), in words.
REDACTION_LABELS = {
    "email": _l("E-mail addresses"),
    "phone": _l("Phone numbers"),
    "ip": _l("IP addresses"),
    "url": _l("Web addresses carrying secrets"),
    "card": _l("Payment card numbers"),
    "iban": _l("Bank account numbers (IBAN)"),
    "name": _l("The reporter's own name"),
}
SIZE_UNITS = (
    ("digital-gigabyte", 1_000_000_000),
    ("digital-megabyte", 1_000_000),
    ("digital-kilobyte", 1_000),
)


def _label(enum_class, value: str | None):
    if value is None:
        return None
    try:
        return enum_class(value).label
    except ValueError:
        return value


def describe_filters(values: dict) -> list[tuple[str, str]]:
    """An export's filters (FeedbackFilters.to_json) as (question, answer) pairs for people,
    only those that narrow it; an empty list means every consented report."""
    filters = feedback.FeedbackFilters.from_json(values or {})
    described = []
    for name, label in FILTER_LABELS.items():
        value = getattr(filters, name)
        if value is None or value == "":
            continue
        if name in FILTER_ENUMS:
            value = _label(FILTER_ENUMS[name], value)
        elif name == "language":
            value = language_name(value)
        elif isinstance(value, datetime):
            value = format_local_datetime(value)
        elif isinstance(value, date):
            value = format_date(value, "long")
        described.append((str(label), str(value)))
    return described


def size_in_words(count: int) -> str:
    """A file's size as people read it, in their language: "1.2 MB", "1,2 Mo"."""
    locale = current_locale_code()
    for unit, factor in SIZE_UNITS:
        if count >= factor:
            return format_unit(round(count / factor, 1), unit, length="short", locale=locale)
    return format_unit(count, "digital-byte", length="short", locale=locale)


# -- choosing and previewing --------------------------------------------------------------------


@bp.get("/")
def index():
    """The filters to preview, and the exports requested so far, newest first."""
    before = request.args.get("before", type=int)
    if before is not None and not 0 < before <= MAX_DATABASE_ID:
        before = None  # an edited link: the newest exports
    query = (
        sa.select(FeedbackExport)
        .options(joinedload(FeedbackExport.requested_by))
        .order_by(FeedbackExport.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    if before is not None:
        query = query.where(FeedbackExport.id < before)
    exports = list(db.session.scalars(query))
    older_url = None
    if len(exports) > PAGE_SIZE:
        older_url = url_for("exports.index", before=exports[PAGE_SIZE - 1].id)
    return render_template(
        "exports/index.html",
        form=filters_form(meta={"csrf": False}),
        exports=exports[:PAGE_SIZE],
        older_url=older_url,
        IN_PROGRESS=IN_PROGRESS,
    )


@bp.get("/preview")
def preview():
    """How many records the filters select and the first ones, as an export would hold them;
    and the form that requests the export."""
    form = filters_form(ExportFiltersForm, request.args, meta={"csrf": False})
    form.validate()
    return _preview_page(form, filters_form(ExportRequestForm), sent=request.args)


def _preview_page(form: ExportFiltersForm, request_form: ExportRequestForm, *, sent: MultiDict):
    """The preview of ``form``'s filters (validated) when they are valid; else their errors.
    ``sent`` holds the filters as sent, carried in ``request_form``'s hidden fields."""
    count, records, described = None, [], []
    if not any(form[name].errors for name in ExportFiltersForm.FILTERS):
        filters = form.to_filters()
        try:
            count = feedback.count(filters)
            records = [record for _id, record in feedback.records(filters, limit=PREVIEW_SIZE)]
        except UnknownModel:  # removed from the registry since the form was built
            form.model.errors.append(_("This model or version is no longer in the registry"))
        else:
            described = describe_filters(filters.to_json())
    return render_template(
        "exports/preview.html",
        form=form,
        request_form=request_form,
        count=count,
        records=[_shown(record) for record in records],
        filters=described,
        redaction_labels=REDACTION_LABELS,
        carried=[
            (name, sent.get(name))
            for name in ExportFiltersForm.FILTERS
            if sent.get(name) and (name != "since" or form.changes.data != EVERY_REPORT)
        ],
    )


def _shown(record: dict) -> dict:
    """A record with its coded values in words, for people."""
    return {
        **record,
        "kind_label": _label(TicketKind, record["kind"]),
        "category_label": _label(Category, record["category"]),
        "severity_label": _label(
            Severity, record["severity_triaged"] or record["severity_reported"]
        ),
        "outcome_label": _label(Outcome, record["outcome"]),
        "language_name": language_name(record["language"]) if record["language"] else None,
        "redactions": {kind: n for kind, n in record["redaction_counts"].items() if n},
    }


@bp.post("/")
def request_export():
    """Queue an export of the filters and format sent (checked again in full: the registry or
    the analyst's last export may have changed since the preview)."""
    form = filters_form(ExportRequestForm, request.form)
    if not form.validate():
        return _preview_page(form, form, sent=request.form)
    now = utcnow()
    export = FeedbackExport(
        requested_by=_actor(),
        created_at=now,
        format=ExportFormat(form.format.data),
        filters=form.to_filters().to_json(),
        status=ExportStatus.QUEUED,
        locale=current_locale_code(),
    )
    db.session.add(export)
    db.session.flush()
    audit.append_by_staff(
        "feedback.export_requested",
        staff_id=_actor().id,
        object_type="feedback_export",
        object_id=export.id,
        now=now,
        secret_key=current_app.config["SECRET_KEY"],
        format=export.format.value,
        filters=export.filters,
    )
    db.session.commit()
    flash(_("Export requested. It starts in the background within a minute."), "success")
    return redirect(url_for("exports.show", export_id=export.id), code=303)


# -- one export ---------------------------------------------------------------------------------


@bp.get("/<int:export_id>")
def show(export_id: int):
    """The export's progress; once it is ready, its manifest and downloads. Without JavaScript
    the page reloads itself while the export waits or runs, unless asked not to."""
    export = load_export(export_id)
    in_progress = export.status in IN_PROGRESS
    return render_template(
        "exports/show.html",
        export=export,
        progress=progress_of(export),
        filters=describe_filters(export.filters),
        files=[
            {**file, "size": size_in_words(file.get("bytes", 0))} for file in manifest_files(export)
        ],
        manifest=export.manifest if export.status is ExportStatus.DONE else None,
        in_progress=in_progress,
        refresh=in_progress and request.args.get("refresh") != "off",
        refresh_seconds=REFRESH_SECONDS,
        cursor=manifest_cursor(export),
        redaction_labels=REDACTION_LABELS,
        manifest_name=MANIFEST,
        tombstones_name=TOMBSTONES,
        ExportStatus=ExportStatus,
        ExportFormat=ExportFormat,
    )


def progress_of(export: FeedbackExport) -> dict:
    """The export's progress in words and numbers, for the page and its script alike."""
    done, total = export.rows_done or 0, export.rows_total
    if export.status is ExportStatus.QUEUED:
        text = _("Waiting for the clock to start it.")
    elif export.status is ExportStatus.RUNNING and total is None:
        text = _("Counting the records.")
    elif export.status is ExportStatus.RUNNING:
        text = ngettext(
            "%(done)s of %(count)s record written (%(percent)s).",
            "%(done)s of %(count)s records written (%(percent)s).",
            total,
            count=format_number(total),
            done=format_number(done),
            percent=format_percent(done / total if total else 1),
        )
    elif export.status is ExportStatus.DONE:
        text = ngettext(
            "%(count)s record written.",
            "%(count)s records written.",
            done,
            count=format_number(done),
        )
    else:
        text = _("The export failed. No file was kept. Request it again, or tell an administrator.")
    return {
        "status": export.status.value,
        "label": str(export.status.label),
        "done": done,
        "total": total,
        "finished": export.status not in IN_PROGRESS,
        "text": text,
    }


@bp.get("/<int:export_id>/progress")
def progress(export_id: int):
    """The export's progress as JSON, for the page's script."""
    return jsonify(progress_of(load_export(export_id)))


def _audit_download(export: FeedbackExport, name: str) -> None:
    record_download(export, name, staff_id=_actor().id, now=utcnow())
    db.session.commit()


def _as_download(response):
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/<int:export_id>/files/<path:name>")
def download(export_id: int, name: str):
    """One file of a finished export, as an attachment. Only the names its manifest lists:
    anything else, a path that climbs out of the folder included, is not found. Audited."""
    export = load_export(export_id)
    path = downloadable_path(export, name) or abort(404)
    _audit_download(export, name)
    return _as_download(
        send_file(
            path,
            as_attachment=True,
            download_name=f"{archive_name(export)}-{name.replace('/', '-')}",
        )
    )


@bp.get("/<int:export_id>/dataset.zip")
def download_archive(export_id: int):
    """A finished Hugging Face dataset folder as one zip file. Audited."""
    export = load_export(export_id)
    archive = dataset_archive(export) or abort(404)
    _audit_download(export, "dataset.zip")
    return _as_download(
        send_file(
            archive,
            mimetype="application/zip",
            as_attachment=True,
            download_name=f"{archive_name(export)}.zip",
        )
    )


# -- API tokens ---------------------------------------------------------------------------------


@bp.route("/tokens", methods=["GET", "POST"])
def tokens():
    """The viewer's tokens, and a new one. A new token's secret is shown once, on the page the
    creation leads to; only its hash is kept."""
    form = TokenForm()
    if form.validate_on_submit():
        try:
            token, secret = api_tokens.create_token(_actor(), form.name.data, now=utcnow())
        except InvalidTokenName:
            db.session.rollback()
            form.name.errors.append(_("Enter a name for the token, 100 characters or fewer"))
        else:
            db.session.commit()
            # Kept encrypted in the signed (not encrypted) session cookie until the next page
            # has shown it, never in a URL.
            session[NEW_TOKEN] = {
                "token_id": token.id,
                "secret": totp.encrypt_secret(secret, current_app.config["SECRET_KEY"]),
            }
            return redirect(url_for("exports.tokens"), code=303)
    new_token = _one_time_secret() if request.method == "GET" else None
    return render_template(
        "exports/tokens.html",
        form=form,
        tokens=api_tokens.tokens_of(_actor()),
        new_token=new_token,
        revoke_form=ConfirmForm(),
    )


def _one_time_secret() -> dict | None:
    """The token just created and its secret, if not shown yet; then forgotten."""
    kept = session.pop(NEW_TOKEN, None)
    if not isinstance(kept, dict):
        return None
    token = db.session.get(ApiToken, kept.get("token_id") or 0)
    if token is None or token.user_id != _actor().id:
        return None
    try:
        secret = totp.decrypt_secret(kept["secret"], current_app.config["SECRET_KEY"])
    except (InvalidToken, KeyError, TypeError):
        return None
    return {"token": token, "secret": secret}


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    """Revoke one of the viewer's tokens: refused by the API from now on."""
    token = load_own_token(token_id)
    if not ConfirmForm().validate():
        abort(400)
    api_tokens.revoke(token, now=utcnow())
    db.session.commit()
    flash(_("Token “%(name)s” revoked: it no longer works.", name=token.name), "success")
    return redirect(url_for("exports.tokens"), code=303)
