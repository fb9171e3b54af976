"""Enumerations with translated labels.

Templates and code compare against members, never against string literals; the database stores
``value`` and a check constraint keeps it inside the enumeration.
"""

from enum import StrEnum

from flask_babel import lazy_gettext as _l


class LabelledEnum(StrEnum):
    """A string enum whose members carry a lazily translated ``label``."""

    def __new__(cls, value: str, label):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


class TicketKind(LabelledEnum):
    HARM_REPORT = "harm_report", _l("Report harm caused by an AI output")
    OUTPUT_DISPUTE = "output_dispute", _l("Dispute an AI output that affected you")
    # Something on this portal stopped someone (the accessibility statement's way to tell us):
    # no AI output, so ``output_text`` is empty, and never in feedback exports.
    ACCESSIBILITY_BARRIER = (
        "accessibility_barrier",
        _l("Tell us about a barrier to using this portal"),
    )


# The kinds of report about an AI output: the only ones that feedback exports hold.
AI_OUTPUT_KINDS = (TicketKind.HARM_REPORT, TicketKind.OUTPUT_DISPUTE)


class ReporterRole(LabelledEnum):
    SELF = "self", _l("For myself")
    SOMEONE_ELSE = "someone_else", _l("For someone else")
    ORGANISATION = "organisation", _l("For an organisation")


class Category(LabelledEnum):
    DANGEROUS_INSTRUCTIONS = "dangerous_instructions", _l("Dangerous instructions")
    HATE_HARASSMENT = "hate_harassment", _l("Hate, harassment or discrimination")
    BIAS = "bias", _l("Bias or unfair treatment")
    PRIVACY = "privacy", _l("Privacy or personal data exposure")
    MISINFORMATION = "misinformation", _l("False or misleading information")
    IMPERSONATION = "impersonation", _l("Impersonation or deception")
    SEXUAL_CONTENT = "sexual_content", _l("Sexual content")
    SELF_HARM = "self_harm", _l("Self-harm or suicide")
    INTELLECTUAL_PROPERTY = "intellectual_property", _l("Intellectual property")
    SECURITY = "security", _l("Security or manipulation, such as prompt injection")
    WRONG_DECISION = "wrong_decision", _l("A decision about me was wrong")
    OTHER = "other", _l("Something else")


class Severity(LabelledEnum):
    LOW = "low", _l("Low: annoying or unhelpful")
    MEDIUM = "medium", _l("Medium: caused me some harm or cost")
    HIGH = "high", _l("High: serious harm to me or others")
    CRITICAL = "critical", _l("Critical: someone's safety or life is at risk")


class Status(LabelledEnum):
    NEW = "new", _l("Received")
    TRIAGED = "triaged", _l("Assigned to a team")
    INVESTIGATING = "investigating", _l("Being investigated")
    AWAITING_REPORTER = "awaiting_reporter", _l("Waiting for your reply")
    DECIDED = "decided", _l("Decided")
    CLOSED = "closed", _l("Closed")
    WITHDRAWN = "withdrawn", _l("Withdrawn")
    MERGED = "merged", _l("Merged with another report")
    APPEALED = "appealed", _l("Appeal under review")

    @property
    def staff_label(self):
        """The status in staff's words (``label`` is written for the reporter)."""
        return _STAFF_STATUS_LABELS[self]


_STAFF_STATUS_LABELS = {
    Status.NEW: _l("New"),
    Status.TRIAGED: _l("Triaged"),
    Status.INVESTIGATING: _l("Investigating"),
    Status.AWAITING_REPORTER: _l("Awaiting the reporter"),
    Status.DECIDED: _l("Decided"),
    Status.CLOSED: _l("Closed"),
    Status.WITHDRAWN: _l("Withdrawn by the reporter"),
    Status.MERGED: _l("Merged into another report"),
    Status.APPEALED: _l("Appealed"),
}


class Actor(LabelledEnum):
    REPORTER = "reporter", _l("You")
    STAFF = "staff", _l("Our team")
    SYSTEM = "system", _l("Redress")


class EventKind(LabelledEnum):
    SUBMITTED = "submitted", _l("Report received")
    STATUS_CHANGED = "status_changed", _l("Status changed")
    INFORMATION_ADDED = "information_added", _l("Information added")
    LINK_REISSUED = "link_reissued", _l("New tracking link sent")
    SAFETY_FLAGGED = "safety_flagged", _l("Marked critical: someone may be in danger")
    ROUTED = "routed", _l("Sent to a team")
    ASSIGNED = "assigned", _l("Assigned")
    REPLIED = "replied", _l("Reply from our team")
    INFORMATION_REQUESTED = "information_requested", _l("More information requested")
    NOTE_ADDED = "note_added", _l("Internal note")
    RECATEGORISED = "recategorised", _l("Kind of problem changed")
    SEVERITY_SET = "severity_set", _l("Seriousness assessed")
    MERGED = "merged", _l("Merged")
    SERIOUS_INCIDENT_FLAGGED = (
        "serious_incident_flagged",
        _l("Flagged as a possible serious incident"),
    )
    MARKED_SPAM = "marked_spam", _l("Closed as spam")
    SLA_WARNING = "sla_warning", _l("Deadline at risk")
    SLA_BREACHED = "sla_breached", _l("Deadline missed")
    SLA_ESCALATED = "sla_escalated", _l("Escalated to the administrators")
    DECIDED = "decided", _l("Decision made")
    APPEALED = "appealed", _l("Appeal received")
    FOLLOW_UP_ASKED = "follow_up_asked", _l("We asked whether the decision resolved your concern")
    FOLLOW_UP_ANSWERED = "follow_up_answered", _l("Your answer to our follow-up question")
    ERASURE_REQUESTED = "erasure_requested", _l("Erasure of your data requested")
    ERASED = "erased", _l("Personal data erased")
    ATTACHMENTS_DELETED = "attachments_deleted", _l("Evidence files deleted")
    CONSENT_WITHDRAWN = (
        "consent_withdrawn",
        _l("You withdrew your consent to use this report to improve AI models"),
    )


class Role(LabelledEnum):
    AGENT = "agent", _l("Agent")
    OWNER = "owner", _l("Team owner")
    ADMIN = "admin", _l("Administrator")
    ANALYST = "analyst", _l("Analyst")
    AUDITOR = "auditor", _l("Auditor")


class VersionStatus(LabelledEnum):
    ACTIVE = "active", _l("Active")
    DEPRECATED = "deprecated", _l("Deprecated")
    RETRACTED = "retracted", _l("Retracted")


class OutboxStatus(LabelledEnum):
    PENDING = "pending", _l("Pending")
    SENT = "sent", _l("Sent")
    FAILED = "failed", _l("Failed")
