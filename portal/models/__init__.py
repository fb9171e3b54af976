"""The data model. Import models from here."""

from portal.models.audit import AuditEntry, AuditHead
from portal.models.enums import (
    Actor,
    Category,
    EventKind,
    OutboxStatus,
    ReporterRole,
    Severity,
    Status,
    TicketKind,
    VersionStatus,
)
from portal.models.registry import AIModel, ModelVersion, StaffUser, Team
from portal.models.tickets import Attachment, OutboxMessage, Ticket, TicketEvent

__all__ = [
    "AIModel",
    "Actor",
    "Attachment",
    "AuditEntry",
    "AuditHead",
    "Category",
    "EventKind",
    "ModelVersion",
    "OutboxMessage",
    "OutboxStatus",
    "ReporterRole",
    "Severity",
    "StaffUser",
    "Status",
    "Team",
    "Ticket",
    "TicketEvent",
    "TicketKind",
    "VersionStatus",
]
