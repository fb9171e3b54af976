"""Locale, text direction, time zones and the formatting of dates for people."""

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format
from flask import current_app, request
from flask_babel import get_locale

from portal.config import RTL_LOCALES, SUPPORTED_LOCALES

LOCALE_COOKIE = "portal_locale"

# Each language named in itself, for the switcher.
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "ar": "العربية"}


def select_locale() -> str:
    """An explicit choice (cookie) first, then the browser's Accept-Language, then English."""
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in SUPPORTED_LOCALES:
        return chosen
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or "en"


def current_locale_code() -> str:
    return str(get_locale() or "en")


def language_name(code: str, *, in_locale: str | None = None) -> str:
    """The language ``code`` named in ``in_locale``, by default the viewer's: "French" on an
    English page, "anglais" for "en" in French."""
    return Locale.parse(code).get_display_name(in_locale or current_locale_code()) or code


def text_direction(locale: str | None = None) -> str:
    return "rtl" if (locale or current_locale_code()).split("_")[0] in RTL_LOCALES else "ltr"


# Legacy aliases ("US/Eastern", "Etc/GMT+5") that only confuse people choosing from a list.
_LEGACY_ZONE_PREFIXES = ("Etc/", "SystemV/", "US/", "Canada/", "Brazil/", "Chile/", "Mexico/")


@cache
def timezone_names() -> tuple[str, ...]:
    """IANA zone names a reporter can choose from, plus UTC."""
    regional = sorted(
        name
        for name in available_timezones()
        if "/" in name and not name.startswith(_LEGACY_ZONE_PREFIXES)
    )
    return (*regional, "UTC")


def valid_timezone(name: str | None) -> str | None:
    if not name or name not in timezone_names():
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def format_local_datetime(value: datetime | None, timezone: str | None = None) -> str:
    """``value`` as a date and a time in the viewer's zone and locale, with the zone's name.

    For example "27 November 2026 at 19:54 (Europe/Paris)": the zone's IANA name is what people
    recognise, where an offset such as "UTC+1" is not.
    """
    if value is None:
        return ""
    zone_name = valid_timezone(timezone) or current_app.config["PORTAL_DEFAULT_TIMEZONE"]
    local = value.astimezone(ZoneInfo(zone_name))
    locale = current_locale_code()
    # The locale's own way of joining a date and a time, e.g. "{1} 'at' {0}" or "{1} {0}".
    joiner = get_datetime_format("long", locale=locale).replace("'", "")
    date_part = format_date(local, "long", locale=locale)
    time_part = format_time(local, "short", locale=locale)
    return f"{joiner.format(time_part, date_part)} ({zone_name})"


def request_country() -> str:
    """The country for crisis resources: the browser's language region, else the deployment's."""
    for language, _quality in request.accept_languages:
        _, _, region = language.replace("_", "-").partition("-")
        if len(region) == 2 and region.isalpha():
            return region.upper()
    return current_app.config["PORTAL_DEFAULT_COUNTRY"]
