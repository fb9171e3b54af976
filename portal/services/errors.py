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
