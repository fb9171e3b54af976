"""A copy of everything held about a report, for its reporter (their right of access).

The reporter downloads it from their tracking page, as a JSON file and as a page to keep
(templates/reports/your_data.html); both are made from ``held_data``, so that they show the same
facts. What is the reporter's is chosen here, once: their own answers, consents and contact
details, their evidence (described, not the files), the history they are shown, the decisions and
their appeal. What is staff's is left out: internal events, who in the team acted, the team and
the assignee, staff's own assessment, timers, and the secrets and counters behind the link.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Appeal, Attachment, Decision, Ticket, TicketEvent
from portal.services.decisions import decisions_of

FORMAT = "redress-data-copy"
# Raised when a key changes meaning or goes away; new keys may appear without it.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class HeldData:
    """What the reporter of ``ticket`` may have of it, oldest first throughout."""

    ticket: Ticket
    # The events the reporter is shown on their page: never an internal one.
    history: list[TicketEvent]
    evidence: list[Attachment]
    # The first decision, then the answer to the appeal against it, if any.
    decisions: list[Decision]
    appeals: list[Appeal]


def held_data(ticket: Ticket) -> HeldData:
    return HeldData(
        ticket=ticket,
        history=[event for event in ticket.events if event.is_public],
        evidence=list(ticket.attachments),
        decisions=decisions_of(ticket),
        appeals=list(
            db.session.scalars(
                sa.select(Appeal)
                .where(Appeal.ticket_id == ticket.id)
                .order_by(Appeal.submitted_at, Appeal.id)
            )
        ),
    )


def data_copy(ticket: Ticket, *, now: datetime) -> dict:
    """The copy as data that ``json.dumps`` writes as it is: stable English keys, enumerations
    as their values, moments as ISO 8601 in UTC, and None for an answer not given."""
    held = held_data(ticket)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generated_at": _moment(now),
        "reference": ticket.reference,
        "kind": ticket.kind.value,
        "status": ticket.status.value,
        "created_at": _moment(ticket.created_at),
        "locale": ticket.locale,
        "timezone": ticket.timezone,
        "model": _model(ticket),
        "model_not_listed": ticket.model_not_listed,
        "answers": _answers(ticket),
        "consents": {
            "contact": ticket.consent_contact,
            "training": ticket.consent_training,
            "public_stats": ticket.consent_public_stats,
        },
        "contact": {
            "reporter_name": ticket.reporter_name,
            "contact_email": ticket.contact_email,
        },
        "evidence": [_attachment(attachment) for attachment in held.evidence],
        "history": [_event(event) for event in held.history],
        "decisions": [_decision(decision) for decision in held.decisions],
        "appeals": [_appeal(appeal) for appeal in held.appeals],
    }


def _answers(ticket: Ticket) -> dict:
    """What the reporter answered: a report of a barrier to using the portal was asked only
    what stopped them and what they would like done."""
    if not ticket.is_about_an_output:
        return {"description": ticket.description, "requested_outcome": ticket.requested_outcome}
    return {
        "reporter_role": ticket.reporter_role.value,
        "output_text": ticket.output_text,
        "input_text": ticket.input_text,
        "occurred_on": ticket.occurred_on.isoformat() if ticket.occurred_on else None,
        "description": ticket.description,
        "impact": ticket.impact,
        "requested_outcome": ticket.requested_outcome,
        "expected_output": ticket.expected_output,
        "output_id": ticket.output_id,
        "category": ticket.category.value,
        "reporter_severity": ticket.reporter_severity.value,
        "immediate_danger": ticket.immediate_danger,
    }


def _moment(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _model(ticket: Ticket) -> dict | None:
    if ticket.model is None:
        return None
    return {
        "slug": ticket.model.slug,
        "name": ticket.model.display_name,
        "version": ticket.model_version.version if ticket.model_version else None,
    }


def _attachment(attachment: Attachment) -> dict:
    # The name it is stored under is ours, not the reporter's, and says nothing to them.
    return {
        "original_name": attachment.original_name,
        "content_type": attachment.content_type,
        "size_bytes": attachment.size_bytes,
        "sha256": attachment.sha256,
        "added_at": _moment(attachment.created_at),
    }


def _event(event: TicketEvent) -> dict:
    # Who acted as the reporter sees it ("our team"), never which member of staff; the event's
    # detail is left out too: it holds the ids behind the audit log, not anything said to them.
    return {
        "at": _moment(event.created_at),
        "kind": event.kind.value,
        "to_status": event.to_status.value if event.to_status else None,
        "by": event.actor.value,
        "text": event.body,
        "files": [attachment.original_name for attachment in event.attachments],
    }


def _decision(decision: Decision) -> dict:
    version = decision.fixed_in_version
    return {
        "outcome": decision.outcome.value,
        "remedies": list(decision.remedies or []),
        "remedy_details": decision.remedy_details,
        "fixed_in_version": {"model": version.model.display_name, "version": version.version}
        if version is not None
        else None,
        "facts": decision.facts,
        "measure": decision.measure,
        "automated_means": decision.automated_means.value,
        "policy_clause": decision.policy_clause,
        "language": decision.language,
        "appeal_result": decision.appeal_result.value if decision.appeal_result else None,
        "decided_at": _moment(decision.decided_at),
        "appealable_until": _moment(decision.appealable_until),
        "follow_up_answer": decision.follow_up_answer.value if decision.follow_up_answer else None,
        "follow_up_comment": decision.follow_up_comment,
        "follow_up_answered_at": _moment(decision.follow_up_answered_at),
    }


def _appeal(appeal: Appeal) -> dict:
    return {
        "reason": appeal.reason,
        "submitted_at": _moment(appeal.submitted_at),
        "answered": appeal.answer_id is not None,
    }
