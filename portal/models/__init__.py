"""The data model. Import models from here."""

from portal.models.audit import AuditEntry, AuditHead
from portal.models.casework import SavedReply
from portal.models.clock import ClockHeartbeat
from portal.models.decisions import (
    Appeal,
    AppealResult,
    AutomatedMeans,
    Decision,
    FollowUpAnswer,
    Outcome,
    ReasonTemplate,
    Remedy,
)
from portal.models.enums import (
    Actor,
    Category,
    EventKind,
    OutboxStatus,
    ReporterRole,
    Role,
    Severity,
    Status,
    TicketKind,
    VersionStatus,
)
from portal.models.feedback import ApiToken, ExportFormat, ExportStatus, FeedbackExport
from portal.models.registry import AIModel, ModelVersion, StaffRole, StaffUser, Team
from portal.models.routing import RoutingRule, StaffLanguage, TeamMembership
from portal.models.sla import (
    DurationUnit,
    EscalationLevel,
    SlaEscalation,
    SlaPolicy,
    SlaState,
    Timer,
)
from portal.models.tickets import Attachment, OutboxMessage, Ticket, TicketEvent

__all__ = [
    "AIModel",
    "Actor",
    "ApiToken",
    "Appeal",
    "AppealResult",
    "Attachment",
    "AuditEntry",
    "AuditHead",
    "AutomatedMeans",
    "Category",
    "ClockHeartbeat",
    "Decision",
    "DurationUnit",
    "EscalationLevel",
    "EventKind",
    "ExportFormat",
    "ExportStatus",
    "FeedbackExport",
    "FollowUpAnswer",
    "ModelVersion",
    "OutboxMessage",
    "OutboxStatus",
    "Outcome",
    "ReasonTemplate",
    "Remedy",
    "ReporterRole",
    "Role",
    "RoutingRule",
    "SavedReply",
    "Severity",
    "SlaEscalation",
    "SlaPolicy",
    "SlaState",
    "StaffLanguage",
    "StaffRole",
    "StaffUser",
    "Status",
    "Team",
    "TeamMembership",
    "Ticket",
    "TicketEvent",
    "TicketKind",
    "Timer",
    "VersionStatus",
]
