"""Locale, text direction, time zones and the formatting of dates for people."""

from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format
from babel.messages.pofile import read_po
from flask import Flask, current_app, g, has_request_context, request
from flask_babel import get_locale

from portal.config import PROJECT_ROOT, RTL_LOCALES, SUPPORTED_LOCALES

LOCALE_COOKIE = "portal_locale"
CATALOGUES = PROJECT_ROOT / "translations"

# Each language named in itself, for the switcher.
LANGUAGE_NAMES = {
    "en": "English",
    "fr": "Français",
    "de": "Deutsch",
    "es": "Español",
    "it": "Italiano",
    "pl": "Polski",
    "pt_BR": "Português (Brasil)",
    "ar": "العربية",
    "zh_Hans": "简体中文",
    "hi": "हिन्दी",
}

# English with every translated string accented and bracketed ("⟦Ŧŕàçķ à ŕéþóŕţ⟧"), so that
# text which skipped translation stands out (tests/pseudo_locale.py writes its catalogue).
# Babel formats its dates and names as Georgian does: what Babel translates is then visibly
# not English either, and only text that bypassed both is left in plain English.
PSEUDO_LOCALE = "ka@pseudo"
LANGUAGE_NAMES[PSEUDO_LOCALE] = "Ƥšéüðó"

# Accept-Language tags (lower case) answered by a locale under another name.
LANGUAGE_ALIASES = {
    "zh": "zh_Hans",
    "zh-cn": "zh_Hans",
    "zh-sg": "zh_Hans",
    "zh-my": "zh_Hans",
    "zh-hans": "zh_Hans",
    "pt": "pt_BR",
}
# Varieties we do not translate into and must not swap silently for a near one: a reader of
# Traditional Chinese gets English, and the switcher suggests Simplified Chinese to them.
NEAR_BUT_NOT_SERVED = {
    "zh-tw": "zh_Hans",
    "zh-hk": "zh_Hans",
    "zh-mo": "zh_Hans",
    "zh-hant": "zh_Hans",
}


def language_tag(code: str) -> str:
    """A locale's BCP 47 tag for ``lang`` attributes and headers: "pt_BR" → "pt-BR"."""
    language, _, modifier = code.partition("@")
    tag = language.replace("_", "-")
    return f"{tag}-x-{modifier}" if modifier else tag


@cache
def catalogue_is_complete(po_file: Path, modified: float) -> bool:
    """Whether every message of this catalogue is translated (``modified`` keys the cache)."""
    with open(po_file, "rb") as file:
        catalogue = read_po(file)
    for message in catalogue:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            return False
    return len(catalogue) > 0


def complete_locales(directory: Path = CATALOGUES) -> tuple[str, ...]:
    """English, and every supported locale whose catalogue translates every message."""
    complete = []
    for code in SUPPORTED_LOCALES:
        po_file = directory / code / "LC_MESSAGES" / "messages.po"
        if code == "en" or (
            po_file.exists() and catalogue_is_complete(po_file, po_file.stat().st_mtime)
        ):
            complete.append(code)
    return tuple(complete)


def offered_locales(app: Flask | None = None) -> tuple[str, ...]:
    """The locales the switcher offers and negotiation may choose; fixed when the app starts."""
    return (app or current_app).extensions["portal_locales"]


def register_locales(app: Flask) -> None:
    offered = complete_locales()
    if app.config["PORTAL_PSEUDO_LOCALE"]:
        offered = (*offered, PSEUDO_LOCALE)
    app.extensions["portal_locales"] = offered
    # Each page says which language it is in, and what chose it (a cache in between must keep
    # a copy per language).
    app.after_request(declare_content_language)


def negotiate(accept_languages, offered: tuple[str, ...]) -> tuple[str | None, str | None]:
    """The offered locale that best serves a browser's Accept-Language, or None; and a locale
    to suggest when the browser prefers a variety we do not serve (e.g. zh-TW → zh_Hans).

    Tags are tried in the browser's order of preference; each from its most specific form
    ("zh-hant-tw", "zh-hant", "zh"), so that "zh-Hant-TW" is not served as plain "zh".
    """
    by_tag = {language_tag(code).lower(): code for code in offered}
    suggestion = None
    # Browsers add the bare language after a regional one ("zh-HK,zh;q=0.9"): after a variety
    # we do not serve, that bare "zh" means the same variety, not Simplified Chinese.
    declined = set()
    for tag, quality in accept_languages:
        if quality <= 0:
            continue  # "q=0": not acceptable
        subtags = tag.lower().replace("_", "-").split("-")
        if len(subtags) == 1 and subtags[0] in declined:
            continue
        for length in range(len(subtags), 0, -1):
            candidate = "-".join(subtags[:length])
            if candidate in NEAR_BUT_NOT_SERVED:
                near = NEAR_BUT_NOT_SERVED[candidate]
                if suggestion is None and near in offered:
                    suggestion = near
                declined.add(subtags[0])
                break
            code = by_tag.get(candidate) or LANGUAGE_ALIASES.get(candidate)
            if code in offered:
                return code, suggestion
    return None, suggestion


def select_locale() -> str:
    """An explicit choice (cookie) first, then the browser's Accept-Language, then English.
    Outside a request (the command line, the clock), English unless ``force_locale`` says."""
    if not has_request_context():
        return "en"
    offered = offered_locales()
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in offered:
        return chosen
    negotiated, g.suggested_locale = negotiate(request.accept_languages, offered)
    return negotiated or "en"


def suggested_locale() -> str | None:
    """A locale to suggest in the switcher to a browser whose own language we do not serve."""
    current = current_locale_code()  # negotiates, which is what sets the suggestion
    suggestion = g.get("suggested_locale")
    return suggestion if suggestion != current else None


def declare_content_language(response):
    if response.mimetype == "text/html" and "Content-Language" not in response.headers:
        response.headers["Content-Language"] = language_tag(current_locale_code())
        response.vary.update(("Accept-Language", "Cookie"))
    return response


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
