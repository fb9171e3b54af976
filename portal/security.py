"""Response headers every page carries, and the same-site check for redirect targets."""

from urllib.parse import urlsplit

from flask import Flask, Response, current_app

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def set_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    # Tracking links carry secrets in their URL: never let a URL leave in a Referer header.
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_app.config["PORTAL_HTTPS"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def never_cache(response: Response) -> Response:
    """For blueprints whose pages hold secrets or personal data (tracking links, reports, form
    keys, second-factor secrets): keep them out of shared computers' disk caches and out of any
    cache in between. Register with ``bp.after_request(never_cache)``."""
    response.headers["Cache-Control"] = "no-store"
    return response


def is_safe_redirect_target(target: str | None) -> bool:
    """True for a path on this site ("/reports/new"), False for anything that leaves it."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and "\\" not in target


def register_security(app: Flask) -> None:
    app.after_request(set_security_headers)
