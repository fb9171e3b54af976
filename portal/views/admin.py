"""Administration: staff accounts, teams, routing rules and saved replies."""

from flask import Blueprint

from portal.security import never_cache

bp = Blueprint("admin", __name__, url_prefix="/staff/admin")
bp.after_request(never_cache)
