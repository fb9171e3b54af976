"""The case page: everything about one ticket, and the actions staff take on it."""

from flask import Blueprint

from portal.security import never_cache

bp = Blueprint("cases", __name__, url_prefix="/staff/tickets")
bp.after_request(never_cache)
