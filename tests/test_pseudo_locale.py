"""The pseudo-locale finds text that skipped translation: in every e-mail here (pages are
checked in the browser, tests/browser/test_accessibility.py), and the check itself works."""

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import template_rendered

from portal.clock import utcnow
from portal.extensions import db
from portal.i18n import PSEUDO_LOCALE
from portal.models import AutomatedMeans, OutboxMessage, Outcome, Remedy, StaffUser
from portal.models.enums import Role
from portal.services import casework, decisions, erasure, follow_up, sla
from portal.services.tickets import reissue_tracking_link
from tests.factories import make_staff, make_ticket, route_everything_to
from tests.pseudo_locale import data_strings, pseudo, untranslated_words

EMAIL_TEMPLATES = {
    f"emails/{path.name}"
    for path in (Path(__file__).resolve().parent.parent / "templates" / "emails").glob("*.txt")
}


def lost_link_url() -> str:
    return "https://redress.test/reports/lost-link"


def test_the_check_finds_english_outside_the_brackets_and_spares_data():
    sent = pseudo("Sent %(when)s") % {"when": "28"}
    page = f"{pseudo('Track a report')} RP-7K3M-Q9P2 Ada Agent {sent} Sign out"

    assert pseudo("Edit %(what)s<b>now</b> 100%%") == "⟦Éðîţ ⟧%(what)s⟦<b>ñóŵ</b> 100%%⟧"
    # What fills a placeholder is outside the brackets: checked like any other text.
    assert untranslated_words(pseudo("Sent to %(team)s") % {"team": "another team"}, []) == [
        "another team"
    ]
    assert untranslated_words(page, data=["Ada Agent"]) == ["Sign out"]
    assert untranslated_words(page, data=[]) == ["Ada Agent", "Sign out"]
    assert untranslated_words(pseudo("Sent %(by)s") % {"by": pseudo("by a robot")}, data=[]) == []


def test_the_data_columns_exist(app):
    from tests.pseudo_locale import DATA_COLUMNS

    tables = {table.name: table for table in db.metadata.sorted_tables}
    for table, columns in DATA_COLUMNS.items():
        assert set(columns) <= set(tables[table].columns.keys()), table


def test_every_email_in_the_pseudo_locale_went_through_translation(app, registry):
    """Each e-mail the portal sends, made by the services that send it, to a reporter and to a
    member of staff who both read the pseudo-locale."""
    admin_id = make_staff(
        app,
        "admin@example.org",
        (Role.ADMIN,),
        team_slugs=("trust-safety",),
        languages=(PSEUDO_LOCALE,),
    )
    rendered = set()

    def record(_sender, template, context, **_extra):
        rendered.add(template.name)

    template_rendered.connect(record, app)
    try:
        with app.app_context():
            send_every_email(app, db.session.get(StaffUser, admin_id))
            messages = db.session.scalars(sa.select(OutboxMessage)).all()
            data = data_strings(db.session)
    finally:
        template_rendered.disconnect(record, app)

    assert rendered >= EMAIL_TEMPLATES, "an e-mail template was not rendered"
    problems = [
        f"{message.subject!r}: {word}"
        for message in messages
        for word in untranslated_words(f"{message.subject}\n{message.body}", data)
    ]
    assert {message.locale for message in messages} == {PSEUDO_LOCALE}
    assert problems == []


def send_every_email(app, admin: StaffUser) -> None:
    now = utcnow() - timedelta(days=60)
    route_everything_to("trust-safety")
    reporter = {
        "locale": PSEUDO_LOCALE,
        "contact_email": "reader@example.org",
        "consent_contact": True,
    }
    ticket, _token = make_ticket(app, now=now, **reporter)  # the confirmation
    reissue_tracking_link(
        ticket.reference,
        "reader@example.org",
        now=now,
        tracking_link=lambda token: f"https://redress.test/reports/track/{token}",
    )
    casework.reply(
        ticket, "We are looking at it.", staff=admin, now=now, lost_link_url=lost_link_url
    )
    duplicate, _token = make_ticket(app, now=now, **reporter)
    casework.merge(duplicate, ticket, staff=admin, now=now, lost_link_url=lost_link_url)
    # Deadlines pass on a third report: warnings, breaches and the administrators' escalation.
    overdue, _token = make_ticket(app, now=now, **reporter)
    sla.sweep(now=now + timedelta(days=50))
    casework.request_information(
        overdue, "Which app was it?", staff=admin, now=now, lost_link_url=lost_link_url
    )
    decisions.decide(
        ticket,
        outcome=Outcome.PARTLY_UPHELD,
        remedies=[Remedy.SAFEGUARD_ADDED],
        remedy_details=None,
        fixed_in_version_id=None,
        facts="The answer gave a dangerous instruction.",
        measure="A safeguard now refuses it.",
        automated_means=AutomatedMeans.DETECTION,
        policy_clause="Usage policy 4.2",
        language="en",
        staff=admin,
        now=now + timedelta(days=1),
        lost_link_url=lost_link_url,
    )
    follow_up.run_due(now=now + timedelta(days=16))
    erasure.request_erasure(ticket, now=now + timedelta(days=17))
    db.session.flush()
