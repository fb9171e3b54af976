"""The staff workspace."""

import sqlalchemy as sa
from flask import Blueprint, render_template

from portal.extensions import db
from portal.models import Ticket

bp = Blueprint("staff", __name__, url_prefix="/staff")

NEWEST_TICKETS = 50


@bp.get("/")
def home():
    """The newest reports, newest first (the filtered queue replaces this page)."""
    tickets = db.session.scalars(
        sa.select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(NEWEST_TICKETS)
    ).all()
    return render_template("staff/home.html", tickets=tickets)
