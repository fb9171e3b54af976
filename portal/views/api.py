"""The JSON API for analysts: consented, redacted feedback records, read with a personal token.

The routes, their parameters and answers are described in ``docs/openapi.yaml``.

Every route needs ``Authorization: Bearer rdx_…`` (portal.services.api_tokens) and answers 401
without a valid token, with ``WWW-Authenticate: Bearer``: an API client has no sign-in page to
be sent to. Errors are JSON objects, ``{"error": message}``, plus ``"parameter"`` when one
query parameter is to blame; they are in English, for the developers who read them. A model
or version that the registry does not have is a bad parameter (400), not a missing page: the
route exists, the filter is wrong. Unknown, repeated and empty parameters are refused too, so
that a misspelt filter never widens an export silently.

Pages are by key. A page holds the records after the cursor ``after``, in report order, at
most ``limit`` of them. When more follow, the next page's cursor comes in the ``Link`` header
(``rel="next"``) and in ``X-Next-Cursor``. Headers go out before the first line, so the page's
last report is found first, by a query of ids alone; the records are then read once, a batch
at a time, as they are sent (memory stays flat whatever the limit), and the stream stops at
that report. A cursor is that report's id, encrypted and authenticated (Fernet, with a key
derived from ``SECRET_KEY`` for this purpose alone): report ids never leave the portal, and a
cursor cannot be forged or edited. Rotating ``SECRET_KEY`` invalidates cursors (start again).
"""

import base64
import json
from contextlib import contextmanager
from datetime import UTC, date, datetime

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_limiter.util import get_remote_address
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from portal.clock import utcnow
from portal.config import SUPPORTED_LOCALES
from portal.extensions import db, limiter
from portal.models import Category, Outcome, Severity
from portal.models.enums import AI_OUTPUT_KINDS
from portal.models.feedback import ApiToken, ExportFormat, ExportStatus, FeedbackExport
from portal.models.types import MAX_DATABASE_ID
from portal.security import never_cache
from portal.services import api_tokens, exports, feedback
from portal.services.audit import derive_key
from portal.services.feedback import FeedbackFilters, UnknownModel

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.after_request(never_cache)  # records of people's reports: no cache may keep them

JSON_LINES = "application/x-ndjson"
DEFAULT_LIMIT = 1_000
MAX_LIMIT = 10_000
# As long as the registry's model slugs and version names may be.
MAX_NAME_LENGTH = 64
WWW_AUTHENTICATE = 'Bearer realm="Redress API"'

_CURSOR_PURPOSE = "redress.api.cursor"

CHOICES = {
    "kind": [member.value for member in AI_OUTPUT_KINDS],
    "category": [member.value for member in Category],
    "severity": [member.value for member in Severity],
    "outcome": [member.value for member in Outcome],
    "language": list(SUPPORTED_LOCALES),
}
FILTER_PARAMETERS = frozenset(
    {"model", "version_from", "version_to", "created_from", "created_to", "since", *CHOICES}
)
PAGE_PARAMETERS = frozenset({"after", "limit"})
DOWNLOAD_CSP = "sandbox; default-src 'none'"
# The newest finished exports listed (older ones stay downloadable by their id).
EXPORTS_LISTED = 50


class BadParameter(Exception):
    """A query parameter the API cannot use: answered 400, naming it."""

    def __init__(self, parameter: str, message: str):
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


# -- errors -------------------------------------------------------------------------------------


def _error(status: int, message: str, **fields) -> Response:
    response = jsonify(error=message, **fields)
    response.status_code = status
    return response


@bp.errorhandler(BadParameter)
def bad_parameter(error: BadParameter):
    return _error(400, str(error), parameter=error.parameter)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    """JSON, not the HTML error pages, for whatever else stops a request here (429 above all)."""
    return _error(error.code or 500, f"{error.name}: {error.description}")


def _unauthorized() -> Response:
    presented = request.headers.get("Authorization", "").lower().startswith("bearer ")
    response = _error(
        401,
        "a valid API token is required: send it as Authorization: Bearer <token>"
        if not presented
        else "this API token is not valid: it is unknown or revoked, or its owner may not "
        "read exports any more",
    )
    # RFC 6750: name the scheme and, when a bearer token was sent, say that it was refused.
    response.headers["WWW-Authenticate"] = (
        f'{WWW_AUTHENTICATE}, error="invalid_token"' if presented else WWW_AUTHENTICATE
    )
    return response


# -- the token ----------------------------------------------------------------------------------


def _token() -> ApiToken | None:
    """The request's valid token, or None. Checked once per request (the rate limit's key
    needs it before the view does) and kept on ``g``; the view commits its use."""
    if "api_token" not in g:
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        secret = secret.strip()
        valid = scheme.lower() == "bearer" and secret
        g.api_token = api_tokens.authenticate(secret, now=utcnow()) if valid else None
    return g.api_token


def _rate_limit_key() -> str:
    token = _token()
    return f"api-token:{token.id}" if token is not None else get_remote_address()


def _rate_limited(view):
    """``PORTAL_RATELIMIT_API``, shared by the API's routes, per token (per address for
    requests without a valid one, so that guessing is limited too)."""
    return limiter.shared_limit(
        lambda: current_app.config["PORTAL_RATELIMIT_API"],
        scope="api",
        key_func=_rate_limit_key,
    )(view)


# -- routes -------------------------------------------------------------------------------------


@bp.get("/feedback", endpoint="feedback")
@_rate_limited
def stream_feedback():
    """One page of records as JSON Lines, streamed; the next page's cursor in the headers."""
    if _token() is None:
        return _unauthorized()
    db.session.commit()  # the token's use
    args = _parameters(FILTER_PARAMETERS | PAGE_PARAMETERS)
    filters = _filters(args)
    after = _cursor_parameter(args)
    limit = _limit_parameter(args)
    with _unknown_model_is_a_bad_parameter(filters):
        last = feedback.last_of_page_if_more_follow(filters, after=after, limit=limit)
    response = Response(
        stream_with_context(_lines(filters, after=after, limit=limit, last=last)),
        mimetype=JSON_LINES,
    )
    if last is not None:
        cursor = encode_cursor(last, current_app.config["SECRET_KEY"])
        following = url_for("api.feedback", _external=True, **{**args, "after": cursor})
        response.headers["Link"] = f'<{following}>; rel="next"'
        response.headers["X-Next-Cursor"] = cursor
    return response


@bp.get("/feedback/count", endpoint="feedback_count")
@_rate_limited
def count_feedback():
    """How many records the filters select."""
    if _token() is None:
        return _unauthorized()
    db.session.commit()  # the token's use
    filters = _filters(_parameters(FILTER_PARAMETERS))
    with _unknown_model_is_a_bad_parameter(filters):
        return jsonify(count=feedback.count(filters))


@bp.get("/exports", endpoint="exports")
@_rate_limited
def list_exports():
    """The finished exports (analysts request them on their pages, or on the command line),
    newest first, each with its manifest's files and where to download them."""
    token = _token()
    if token is None:
        return _unauthorized()
    db.session.commit()  # the token's use
    _parameters(frozenset())
    finished = db.session.scalars(
        sa.select(FeedbackExport)
        .where(FeedbackExport.status == ExportStatus.DONE)
        .order_by(FeedbackExport.id.desc())
        .limit(EXPORTS_LISTED)
    )
    return jsonify(exports=[_described(export) for export in finished])


def _as_download(response: Response) -> Response:
    """A file to save, never a page: sandboxed, and its type not guessed, should a browser
    open it anyway (as the exports pages send them)."""
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _described(export: FeedbackExport) -> dict:
    files = [
        {
            "path": file["path"],
            "bytes": file.get("bytes"),
            "sha256": file.get("sha256"),
            "url": url_for(
                "api.export_file", export_id=export.id, name=file["path"], _external=True
            ),
        }
        for file in exports.manifest_files(export)
    ]
    described = {
        "id": export.id,
        "format": export.format.value,
        "filters": export.filters or {},
        "created_at": feedback.moment(export.created_at),
        "finished_at": feedback.moment(export.finished_at),
        "records": (export.manifest or {}).get("counts", {}).get("records"),
        "manifest_url": url_for(
            "api.export_file", export_id=export.id, name=exports.MANIFEST, _external=True
        ),
        "files": files,
    }
    if export.format is ExportFormat.HUGGING_FACE:
        described["archive_url"] = url_for(
            "api.export_archive", export_id=export.id, _external=True
        )
    return described


@bp.get("/exports/<int:export_id>/files/<path:name>", endpoint="export_file")
@_rate_limited
def export_file(export_id: int, name: str):
    """One file of a finished export (the names its manifest lists, and the manifest)."""
    token = _token()
    if token is None:
        return _unauthorized()
    export = db.session.get(FeedbackExport, export_id)
    path = exports.downloadable_path(export, name) if export is not None else None
    if path is None:
        return _error(404, "no such file in a finished export")
    exports.record_download(export, name, staff_id=token.user_id, now=utcnow())
    db.session.commit()
    return _as_download(send_file(path, as_attachment=True, download_name=name.replace("/", "-")))


@bp.get("/exports/<int:export_id>/dataset.zip", endpoint="export_archive")
@_rate_limited
def export_archive(export_id: int):
    """A finished Hugging Face dataset folder as one zip file."""
    token = _token()
    if token is None:
        return _unauthorized()
    export = db.session.get(FeedbackExport, export_id)
    archive = exports.dataset_archive(export) if export is not None else None
    if archive is None:
        return _error(404, "no finished Hugging Face dataset folder with this id")
    exports.record_download(export, "dataset.zip", staff_id=token.user_id, now=utcnow())
    db.session.commit()
    return _as_download(
        send_file(
            archive,
            mimetype="application/zip",
            as_attachment=True,
            download_name=f"{exports.archive_name(export)}.zip",
        )
    )


# -- the page -----------------------------------------------------------------------------------


def _lines(filters: FeedbackFilters, *, after: int | None, limit: int, last: int | None):
    """The page's records, one JSON object a line; up to ``last`` when a next page follows
    (so that a report that left the selection in the meantime shifts nothing)."""
    for ticket_id, record in feedback.records(filters, after=after, limit=limit):
        if last is not None and ticket_id > last:
            return
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


@contextmanager
def _unknown_model_is_a_bad_parameter(filters: FeedbackFilters):
    """Turns ``UnknownModel`` into ``BadParameter``, naming the model or the version."""
    try:
        yield
    except UnknownModel as error:
        if str(error) == filters.model:
            raise BadParameter("model", "no model in the registry has this slug") from error
        bound = "version_from" if str(error) == f"{filters.model} {filters.version_from}" else None
        raise BadParameter(
            bound or "version_to", f"{filters.model} has no version of this name"
        ) from error


# -- parameters ---------------------------------------------------------------------------------


def _parameters(allowed: frozenset[str]) -> dict[str, str]:
    """The query's parameters, each given once, with a value; anything else is refused."""
    args: MultiDict = request.args
    for name in args:
        if name not in allowed:
            raise BadParameter(name, "is not a parameter of this route")
    values = {}
    for name, given in args.lists():
        if len(given) > 1:
            raise BadParameter(name, "is given more than once")
        if given[0] == "":
            raise BadParameter(name, "is empty (leave it out instead)")
        values[name] = given[0]
    return values


def _filters(args: dict[str, str]) -> FeedbackFilters:
    for name in ("model", "version_from", "version_to"):
        value = args.get(name)
        if value is not None and (len(value) > MAX_NAME_LENGTH or not value.isprintable()):
            raise BadParameter(name, f"must be up to {MAX_NAME_LENGTH} printable characters")
    for name in ("version_from", "version_to"):
        if name in args and "model" not in args:
            raise BadParameter(name, "needs model: versions are versions of one model")
    for name, choices in CHOICES.items():
        if name in args and args[name] not in choices:
            raise BadParameter(name, f"must be one of {', '.join(choices)}")
    created_from = _day(args, "created_from")
    created_to = _day(args, "created_to")
    if created_from and created_to and created_from > created_to:
        raise BadParameter("created_to", "is before created_from")
    return FeedbackFilters(
        model=args.get("model"),
        version_from=args.get("version_from"),
        version_to=args.get("version_to"),
        kind=args.get("kind"),
        category=args.get("category"),
        severity=args.get("severity"),
        outcome=args.get("outcome"),
        language=args.get("language"),
        created_from=created_from,
        created_to=created_to,
        since=_moment(args, "since"),
    )


def _day(args: dict[str, str], name: str) -> date | None:
    value = args.get(name)
    if value is None:
        return None
    try:
        day = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise BadParameter(name, "must be a date written YYYY-MM-DD")
    if day == date.max:  # its end, the next day's start, cannot be written
        raise BadParameter(name, "is out of range")
    return day


def _moment(args: dict[str, str], name: str) -> datetime | None:
    value = args.get(name)
    if value is None:
        return None
    message = "must be a date and time with its offset, such as 2026-05-01T12:00:00Z"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadParameter(name, message) from None
    if moment.tzinfo is None:
        raise BadParameter(name, message)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise BadParameter(name, "is out of range") from None


def _limit_parameter(args: dict[str, str]) -> int:
    value = args.get("limit")
    if value is None:
        return DEFAULT_LIMIT
    if not (value.isascii() and value.isdigit() and len(value) <= 5) or not (
        1 <= int(value) <= MAX_LIMIT
    ):
        raise BadParameter("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def _cursor_parameter(args: dict[str, str]) -> int | None:
    value = args.get("after")
    if value is None:
        return None
    ticket_id = decode_cursor(value, current_app.config["SECRET_KEY"])
    if ticket_id is None:
        raise BadParameter("after", "is not a cursor this API gave (copy X-Next-Cursor as it is)")
    return ticket_id


# -- cursors ------------------------------------------------------------------------------------


def _fernet(secret_key: str | bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret_key, _CURSOR_PURPOSE)))


def encode_cursor(ticket_id: int, secret_key: str | bytes) -> str:
    """An opaque cursor for the position after report ``ticket_id`` (URL-safe, unpadded)."""
    return _fernet(secret_key).encrypt(str(ticket_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, secret_key: str | bytes) -> int | None:
    """The report id inside ``cursor``; None for anything this installation did not make."""
    if not cursor.isascii():
        return None
    try:
        text = _fernet(secret_key).decrypt(cursor + "=" * (-len(cursor) % 4)).decode()
    except (InvalidToken, ValueError):
        return None
    if not text.isdigit() or not 0 < int(text) <= MAX_DATABASE_ID:
        return None
    return int(text)
