"""Who may call each route: one table, checked before every request.

A route missing from the table is refused (and a test fails), so a new route cannot be published
without someone deciding who it is for.
"""

from enum import StrEnum

from flask import Flask, abort, request


class Audience(StrEnum):
    # Anyone at all, with or without a tracking link.
    ANYONE = "anyone"
    # Whoever holds the ticket's tracking link (checked by ``reports.load_tracked_ticket``).
    TRACKING_LINK_HOLDER = "tracking_link_holder"


ACCESS_POLICY: dict[str, Audience] = {
    "static": Audience.ANYONE,
    "public.home": Audience.ANYONE,
    "public.privacy": Audience.ANYONE,
    "public.choose_language": Audience.ANYONE,
    "public.health": Audience.ANYONE,
    "reports.start": Audience.ANYONE,
    "reports.new": Audience.ANYONE,
    "reports.confirmation": Audience.ANYONE,
    "reports.open_tracking_link": Audience.ANYONE,
    "reports.lost_link": Audience.ANYONE,
    "reports.case": Audience.TRACKING_LINK_HOLDER,
    "reports.add_information": Audience.TRACKING_LINK_HOLDER,
    "reports.withdraw": Audience.TRACKING_LINK_HOLDER,
}


def enforce_access_policy() -> None:
    # No endpoint means no route matched: let the 404/405 handlers answer.
    if request.endpoint is not None and request.endpoint not in ACCESS_POLICY:
        abort(403)


def register_access_policy(app: Flask) -> None:
    app.before_request(enforce_access_policy)
