"""Logging that never writes a secret link.

The development server and access logs write each request line, and a tracking link carries its
secret in the path, as do the signed links e-mailed for the follow-up question and to confirm
an erasure. The filter rewrites ``/reports/track/<token>``, ``/reports/follow-up/<token>`` and
``/reports/erase/<token>`` before any handler sees them.
"""

import logging
import re

TRACKING_PATH = re.compile(r"(/reports/(?:track|follow-up|erase)/)[^\s\"?]+")
# Loggers that write request lines: Werkzeug's development server and gunicorn's access log.
REQUEST_LOGGERS = ("werkzeug", "gunicorn.access")


class RedactTrackingTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = TRACKING_PATH.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def redact_tracking_links() -> None:
    """Install the filter once on each request logger (idempotent across app instances)."""
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactTrackingTokens) for existing in logger.filters):
            logger.addFilter(RedactTrackingTokens())
