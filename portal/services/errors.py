"""Domain errors raised by services and turned into user-facing messages by the callers."""


class DomainError(Exception):
    """Base class for every error a service raises on purpose."""


class InvalidTransition(DomainError):
    def __init__(self, current, requested):
        super().__init__(f"cannot move a ticket from {current} to {requested}")
        self.current = current
        self.requested = requested


class AttachmentRejected(DomainError):
    """An uploaded file was refused; ``reason`` is one of the codes below."""

    TOO_LARGE = "too_large"
    WRONG_TYPE = "wrong_type"
    EMPTY = "empty"
    TOO_MANY = "too_many"
    UNREADABLE = "unreadable"

    def __init__(self, reason: str, filename: str):
        super().__init__(f"{filename}: {reason}")
        self.reason = reason
        self.filename = filename


class StaleTicket(DomainError):
    """Someone else changed the ticket since the form was shown: nothing was saved."""


class CaseworkRefused(DomainError):
    """A casework action that the ticket's state or the people involved do not allow.

    ``reason`` is one of the codes below; views turn it into a translated message.
    """

    NOT_A_MEMBER = "not_a_member"  # assignee outside the ticket's team
    NOT_OPEN = "not_open"  # the ticket is no longer open for this action
    NO_CONTACT = "no_contact"  # a reply or a question for a reporter who left no address
    SAME_TICKET = "same_ticket"  # merging a ticket into itself
    MERGE_TARGET = "merge_target"  # the other ticket is closed or merged
    UNKNOWN_TARGET = "unknown_target"  # no such ticket, or one the viewer may not see
    ALREADY_FLAGGED = "already_flagged"
    SAME_TEAM = "same_team"  # moving a report to the team it is in
    # Under appeal, the person whose decision is appealed may neither take it nor answer it.
    ORIGINAL_DECIDER = "original_decider"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
