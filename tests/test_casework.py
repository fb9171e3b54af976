"""What staff do to a ticket, at the service level: each action changes what it names, records
an event naming the member of staff (and so an audit entry), and never overwrites someone else's
change."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    Actor,
    AIModel,
    Attachment,
    AuditEntry,
    Category,
    EventKind,
    ModelVersion,
    OutboxMessage,
    SavedReply,
    Severity,
    StaffUser,
    Status,
    Team,
    Ticket,
)
from portal.services import casework
from portal.services.errors import CaseworkRefused, InvalidTransition, StaleTicket
from portal.services.status import transition
from portal.services.tickets import add_information
from tests.factories import make_staff, make_team, make_ticket, route_everything_to

EMAIL = "reporter@example.org"


def lost_link_url() -> str:
    return "http://redress.test/reports/lost-link"


@dataclass(frozen=True)
class People:
    agent: int
    colleague: int
    outsider: int


@pytest.fixture
def people(app, registry) -> People:
    """Two members of Trust and Safety (where every ticket goes) and one of another team."""
    with app.app_context():
        route_everything_to("trust-safety")
        make_team("second-line", "Second line")
        db.session.commit()
    return People(
        agent=make_staff(app, "agent@example.org", team_slugs=("trust-safety",)),
        colleague=make_staff(
            app, "colleague@example.org", name="Cy Colleague", team_slugs=("trust-safety",)
        ),
        outsider=make_staff(
            app, "outsider@example.org", name="Otto Outsider", team_slugs=("second-line",)
        ),
    )


def staff(user_id: int) -> StaffUser:
    return db.session.get(StaffUser, user_id)


def version_id(model_slug="aurora-chat", version="3.0") -> int:
    return db.session.scalar(
        sa.select(ModelVersion.id)
        .join(ModelVersion.model)
        .where(AIModel.slug == model_slug, ModelVersion.version == version)
    )


def new_ticket(app, **overrides) -> Ticket:
    ticket, _token = make_ticket(app, **overrides)
    db.session.commit()
    return ticket


def audit_trail(reference: str) -> list[tuple[str | None, str]]:
    return [
        (entry.actor_id, entry.action)
        for entry in db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.object_id == reference).order_by(AuditEntry.seq)
        )
    ]


def kinds(ticket: Ticket) -> list[EventKind]:
    return [event.kind for event in ticket.events]


# -- each action --------------------------------------------------------------------------------


def test_every_action_is_an_event_by_that_member_of_staff_and_an_audit_entry(app, people):
    with app.app_context():
        ticket = new_ticket(app, contact_email=EMAIL, consent_contact=True)
        other = new_ticket(app)
        agent, now = staff(people.agent), utcnow()

        casework.assign(ticket, agent, staff=agent, now=now)
        casework.change_status(ticket, Status.TRIAGED, staff=agent, now=now)
        casework.classify(
            ticket, category=Category.BIAS, severity=Severity.LOW, staff=agent, now=now
        )
        casework.add_note(ticket, "Looks like a duplicate.", staff=agent, now=now)
        casework.reply(ticket, "We are on it.", staff=agent, now=now, lost_link_url=lost_link_url)
        casework.flag_serious_incident(ticket, staff=agent, now=now)
        casework.request_information(
            ticket, "Which app?", staff=agent, now=now, lost_link_url=lost_link_url
        )
        casework.merge(ticket, other, staff=agent, now=now, lost_link_url=lost_link_url)
        db.session.commit()

        staff_actions = [
            action
            for actor, action in audit_trail(ticket.reference)
            if actor == f"staff:{people.agent}"
        ]
        assert staff_actions == [
            "ticket.assigned",
            "ticket.status_changed",
            "ticket.recategorised",
            "ticket.severity_set",
            "ticket.note_added",
            "ticket.replied",
            "ticket.serious_incident_flagged",
            "ticket.status_changed",  # triaged to investigating, on the way to asking
            "ticket.information_requested",
            "ticket.status_changed",  # awaiting the reporter
            "ticket.assigned",  # back to the team's queue as it is merged
            "ticket.status_changed",  # merged
        ]
        assert audit_trail(other.reference)[-1] == (f"staff:{people.agent}", "ticket.merged")
        assert all(
            event.staff_id == people.agent for event in ticket.events if event.actor is Actor.STAFF
        )


def test_assigning_gives_the_ticket_to_a_member_of_its_team_and_back_to_the_queue(app, people):
    with app.app_context():
        ticket = new_ticket(app)
        agent, colleague, now = staff(people.agent), staff(people.colleague), utcnow()

        first = casework.assign(ticket, colleague, staff=agent, now=now)
        unchanged = casework.assign(ticket, colleague, staff=agent, now=now)
        back = casework.assign(ticket, None, staff=agent, now=now)
        db.session.commit()

        assert first.detail == {"from": None, "to": people.colleague}
        assert first.is_public is False
        assert unchanged is None
        assert back.detail == {"from": people.colleague, "to": None}
        assert ticket.assignee is None


@pytest.mark.parametrize("who", ["outsider", "inactive colleague"])
def test_only_active_members_of_the_team_can_be_assigned(app, people, who):
    with app.app_context():
        ticket = new_ticket(app)
        assignee = staff(people.outsider if who == "outsider" else people.colleague)
        if who == "inactive colleague":
            assignee.is_active = False

        with pytest.raises(CaseworkRefused) as refusal:
            casework.assign(ticket, assignee, staff=staff(people.agent), now=utcnow())

        assert refusal.value.reason == CaseworkRefused.NOT_A_MEMBER
        assert ticket.assignee_id is None


def test_the_status_form_offers_only_moves_without_an_action_of_their_own(app, people):
    with app.app_context():
        ticket = new_ticket(app)
        now = utcnow()
        offered = {}
        for status in (Status.TRIAGED, Status.INVESTIGATING, Status.AWAITING_REPORTER):
            offered[ticket.status] = casework.status_choices(ticket, now)
            transition(ticket, status, now=now, actor=Actor.STAFF)
        offered[ticket.status] = casework.status_choices(ticket, now)
        transition(ticket, Status.WITHDRAWN, now=now, actor=Actor.REPORTER)
        offered[ticket.status] = casework.status_choices(ticket, now)

        assert offered == {
            Status.NEW: [Status.TRIAGED],
            Status.TRIAGED: [Status.INVESTIGATING],
            Status.INVESTIGATING: [],  # asking, deciding and merging have their own actions
            Status.AWAITING_REPORTER: [Status.INVESTIGATING],
            Status.WITHDRAWN: [],
        }


def test_an_invalid_move_is_refused_and_changes_nothing(app, people):
    with app.app_context():
        ticket = new_ticket(app)

        with pytest.raises(InvalidTransition):
            casework.change_status(ticket, Status.CLOSED, staff=staff(people.agent), now=utcnow())

        assert ticket.status is Status.NEW
        assert kinds(ticket) == [EventKind.SUBMITTED, EventKind.ROUTED]


def test_classifying_changes_only_what_differs_and_keeps_the_reporters_severity(app, people):
    with app.app_context():
        ticket = new_ticket(app, reporter_severity="medium")
        agent, now = staff(people.agent), utcnow()

        same = casework.classify(
            ticket, category=ticket.category, severity=None, staff=agent, now=now
        )
        severity_only = casework.classify(
            ticket, category=ticket.category, severity=Severity.CRITICAL, staff=agent, now=now
        )
        category_only = casework.classify(
            ticket, category=Category.PRIVACY, severity=Severity.CRITICAL, staff=agent, now=now
        )
        db.session.commit()

        assert same == []
        assert [event.kind for event in severity_only] == [EventKind.SEVERITY_SET]
        assert severity_only[0].detail == {"from": None, "to": "critical", "reported": "medium"}
        assert [event.kind for event in category_only] == [EventKind.RECATEGORISED]
        assert category_only[0].detail == {"from": "dangerous_instructions", "to": "privacy"}
        assert ticket.reporter_severity is Severity.MEDIUM
        assert ticket.severity is Severity.CRITICAL
        assert ticket.priority == 4  # most severe first in the queue


def test_a_stale_version_changes_nothing(app, people):
    with app.app_context():
        ticket = new_ticket(app)
        shown = ticket.row_version
        casework.flag_serious_incident(ticket, staff=staff(people.colleague), now=utcnow())
        db.session.commit()

        with pytest.raises(StaleTicket):
            casework.classify(
                ticket,
                category=Category.OTHER,
                severity=Severity.LOW,
                staff=staff(people.agent),
                now=utcnow(),
                expect_version=shown,
            )

        assert ticket.category is Category.DANGEROUS_INSTRUCTIONS
        assert ticket.severity is None


def test_two_people_saving_the_same_ticket_at_once_cannot_overwrite_each_other(app, people):
    with app.app_context():
        ticket_id = new_ticket(app).id
    with app.app_context():
        # I open the ticket (its history too) ...
        mine = db.session.get(Ticket, ticket_id)
        assert len(mine.events) == 2
        agent = staff(people.agent)
        # ... a colleague, who opened the same version, saves a change first ...
        with Session(db.engine) as elsewhere:
            theirs = elsewhere.get(Ticket, ticket_id)
            colleague = elsewhere.get(StaffUser, people.colleague)
            casework.set_severity(theirs, Severity.LOW, staff=colleague, now=utcnow())
            elsewhere.commit()
        # ... and my save, of another field, is stopped at the database.
        casework.recategorise(mine, Category.BIAS, staff=agent, now=utcnow())
        with pytest.raises(StaleDataError):
            db.session.commit()
        db.session.rollback()

        ticket = db.session.get(Ticket, ticket_id)
        assert ticket.category is Category.DANGEROUS_INSTRUCTIONS
        assert ticket.severity is Severity.LOW
        assert EventKind.RECATEGORISED not in kinds(ticket)


# -- talking to the reporter --------------------------------------------------------------------


def test_a_reply_is_public_and_e_mailed_in_the_reporters_language(app, people):
    with app.app_context():
        ticket = new_ticket(app, contact_email=EMAIL, consent_contact=True, locale="fr")

        event = casework.reply(
            ticket,
            "Merci, nous examinons votre signalement.",
            staff=staff(people.agent),
            now=utcnow(),
            lost_link_url=lost_link_url,
        )
        db.session.commit()

        message = db.session.scalars(
            sa.select(OutboxMessage).order_by(OutboxMessage.id.desc())
        ).first()
        assert event.is_public
        assert message.locale == "fr"
        assert "Merci, nous examinons votre signalement." in message.body
        assert lost_link_url() in message.body
        assert not message.carries_secret


@pytest.mark.parametrize(
    "contact", [{}, {"contact_email": EMAIL}], ids=["no address", "no consent to contact"]
)
def test_a_reply_to_someone_who_may_not_be_contacted_is_only_on_their_page(app, people, contact):
    with app.app_context():
        ticket = new_ticket(app, **contact)
        before = db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)))

        casework.reply(
            ticket, "Thanks.", staff=staff(people.agent), now=utcnow(), lost_link_url=lost_link_url
        )
        db.session.commit()

        assert not casework.will_email_reporter(ticket)
        assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == before
        assert ticket.events[-1].kind is EventKind.REPLIED


def test_asking_a_question_waits_for_the_reporter_whose_answer_resumes_the_work(app, people):
    with app.app_context():
        ticket = new_ticket(app, contact_email=EMAIL, consent_contact=True)

        casework.request_information(
            ticket,
            "Which app?",
            staff=staff(people.agent),
            now=utcnow(),
            lost_link_url=lost_link_url,
        )
        db.session.commit()
        waiting = ticket.status
        add_information(ticket, text="The mobile app.", files=[], now=utcnow())
        db.session.commit()

        assert waiting is Status.AWAITING_REPORTER
        assert ticket.status is Status.INVESTIGATING
        asked = next(e for e in ticket.events if e.kind is EventKind.INFORMATION_REQUESTED)
        assert asked.is_public
        assert asked.body == "Which app?"


def test_a_question_cannot_be_asked_twice_while_waiting(app, people):
    with app.app_context():
        ticket = new_ticket(app)
        agent = staff(people.agent)
        casework.request_information(
            ticket, "Which app?", staff=agent, now=utcnow(), lost_link_url=lost_link_url
        )

        with pytest.raises(CaseworkRefused):
            casework.request_information(
                ticket, "And?", staff=agent, now=utcnow(), lost_link_url=lost_link_url
            )


def test_notes_are_internal(app, people):
    with app.app_context():
        ticket = new_ticket(app)

        note = casework.add_note(ticket, "Call legal.", staff=staff(people.agent), now=utcnow())

        assert note.is_public is False


# -- merging and flagging -----------------------------------------------------------------------


def test_a_duplicate_merged_into_another_report_keeps_its_link_and_its_reporter_is_told(
    app, people
):
    with app.app_context():
        duplicate = new_ticket(app, contact_email=EMAIL, consent_contact=True)
        original = new_ticket(app)
        casework.assign(duplicate, staff(people.agent), staff=staff(people.agent), now=utcnow())

        event = casework.merge(
            duplicate,
            original,
            staff=staff(people.agent),
            now=utcnow(),
            lost_link_url=lost_link_url,
        )
        db.session.commit()

        assert duplicate.status is Status.MERGED
        assert duplicate.merged_into_id == original.id
        assert duplicate.assignee_id is None
        assert event.detail == {"into": original.reference}
        assert original.events[-1].kind is EventKind.MERGED
        assert original.events[-1].detail == {"from": duplicate.reference}
        assert original.events[-1].is_public is False
        message = db.session.scalars(
            sa.select(OutboxMessage).order_by(OutboxMessage.id.desc())
        ).first()
        assert message.subject.startswith(f"Your report {duplicate.reference} has been merged")
        assert original.reference not in message.body


@pytest.mark.parametrize(
    ("situation", "reason"),
    [
        ("itself", CaseworkRefused.SAME_TICKET),
        ("closed target", CaseworkRefused.MERGE_TARGET),
        ("withdrawn duplicate", CaseworkRefused.NOT_OPEN),
    ],
)
def test_merging_is_refused_where_it_makes_no_sense(app, people, situation, reason):
    with app.app_context():
        duplicate, target = new_ticket(app), new_ticket(app)
        if situation == "itself":
            target = duplicate
        elif situation == "closed target":
            transition(target, Status.WITHDRAWN, now=utcnow(), actor=Actor.REPORTER)
        else:
            transition(duplicate, Status.WITHDRAWN, now=utcnow(), actor=Actor.REPORTER)
        status = duplicate.status

        with pytest.raises(CaseworkRefused) as refusal:
            casework.merge(
                duplicate,
                target,
                staff=staff(people.agent),
                now=utcnow(),
                lost_link_url=lost_link_url,
            )

        assert refusal.value.reason == reason
        assert duplicate.status is status


def test_a_possible_serious_incident_is_flagged_once(app, people):
    with app.app_context():
        ticket = new_ticket(app)
        now = utcnow()

        casework.flag_serious_incident(ticket, staff=staff(people.agent), now=now)
        with pytest.raises(CaseworkRefused) as refusal:
            casework.flag_serious_incident(ticket, staff=staff(people.agent), now=utcnow())

        assert ticket.serious_incident_at == now
        assert refusal.value.reason == CaseworkRefused.ALREADY_FLAGGED


# -- what the case page reads -------------------------------------------------------------------


def test_related_tickets_share_model_version_and_category_are_recent_open_and_in_scope(app, people):
    with app.app_context():
        now = utcnow()
        aurora_3, aurora_25 = version_id(version="3.0"), version_id(version="2.5")
        model_id = db.session.get(ModelVersion, aurora_3).model_id
        same = {"model_id": model_id, "model_version_id": aurora_3}
        ticket = new_ticket(app, **same)
        related = new_ticket(app, now=now - timedelta(days=29), **same)
        new_ticket(app, now=now - timedelta(days=31), **same)  # too old
        new_ticket(app, category="privacy", **same)  # another kind of problem
        new_ticket(app, model_id=model_id, model_version_id=aurora_25)  # another version
        closed = new_ticket(app, **same)
        transition(closed, Status.WITHDRAWN, now=now, actor=Actor.REPORTER)
        elsewhere = new_ticket(app, **same)
        elsewhere.team = db.session.scalar(sa.select(Team).where(Team.slug == "second-line"))
        db.session.commit()
        agents_teams = {db.session.scalar(sa.select(Team.id).where(Team.slug == "trust-safety"))}

        for_agent = casework.related_tickets(ticket, now=now, visible_team_ids=agents_teams)
        for_admin = casework.related_tickets(ticket, now=now, visible_team_ids=None)

        assert [t.id for t in for_agent] == [related.id]
        assert {t.id for t in for_admin} == {related.id, elsewhere.id}


def test_saved_replies_are_those_of_the_tickets_team_in_the_reporters_language(app, people):
    with app.app_context():
        ticket = new_ticket(app, locale="fr")
        other_team = db.session.scalar(sa.select(Team).where(Team.slug == "second-line"))
        db.session.add_all(
            [
                SavedReply(team_id=ticket.team_id, locale="fr", title="Merci", body="Merci."),
                SavedReply(team_id=ticket.team_id, locale="en", title="Thanks", body="Thanks."),
                SavedReply(team_id=other_team.id, locale="fr", title="Autre", body="Autre."),
            ]
        )
        db.session.commit()

        assert [saved.title for saved in casework.saved_replies_for(ticket)] == ["Merci"]


def test_a_download_is_audited_without_the_file_name(app, people):
    with app.app_context():
        ticket = new_ticket(app)
        attachment = Attachment(
            ticket=ticket,
            storage_name="0" * 32,
            original_name="ana-garcia-payslip.pdf",
            content_type="application/pdf",
            size_bytes=10,
            sha256="0" * 64,
        )
        db.session.add(attachment)
        db.session.flush()

        casework.record_download(
            ticket,
            attachment,
            staff=staff(people.agent),
            now=utcnow(),
            secret_key=app.config["SECRET_KEY"],
        )
        db.session.commit()

        entry = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert (entry.actor_id, entry.action, entry.object_id) == (
            f"staff:{people.agent}",
            "attachment.downloaded",
            ticket.reference,
        )
        assert str(attachment.id) in entry.payload
        assert "payslip" not in entry.payload


def test_a_colleagues_note_does_not_make_a_form_out_of_date(app, people):
    with app.app_context():
        ticket = new_ticket(app)
        shown = ticket.row_version
        casework.add_note(ticket, "Checked the logs.", staff=staff(people.colleague), now=utcnow())
        db.session.commit()

        events = casework.classify(
            ticket,
            category=Category.OTHER,
            severity=None,
            staff=staff(people.agent),
            now=utcnow(),
            expect_version=shown,
        )
        db.session.commit()

        assert [event.kind for event in events] == [EventKind.RECATEGORISED]
        assert ticket.category is Category.OTHER
