"""The pseudo-locale's catalogue, and the check that finds text which skipped translation.

Every message is translated into accented, bracketed English: "Track a report" becomes
"⟦Ŧŕàçķ à ŕéƥóŕţ⟧", placeholders and markup untouched. Babel formats dates and names in
Georgian for this locale (portal.i18n.PSEUDO_LOCALE). So on a page in the pseudo-locale, plain
ASCII words can only be people's data or text that never went through gettext: the check
removes the data it is told about and reports every word left.
"""

import re
import tempfile
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from portal.i18n import PSEUDO_LOCALE

ROOT = Path(__file__).resolve().parent.parent
OPEN, CLOSE = "⟦", "⟧"
ACCENTED = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "àƀçðéƒĝĥîĵķĺɱñóƥʠŕšţüʋŵẋýžÀƁÇÐÉƑĜĤÎĴĶĹṀÑÓƤɊŔŠŦÜṼŴẊÝŽ",
)
# What must come through untouched: placeholders, markup and HTML entities.
UNTOUCHED = re.compile(r"%\(\w+\)[sd]|%%|<[^>]+>|&\w+;")


def pseudo(text: str) -> str:
    """Accented and bracketed; a placeholder is left outside the brackets, so that what fills it
    is checked in its turn (a translated value brings its own brackets)."""
    pieces, last = [], 0
    for match in UNTOUCHED.finditer(text):
        pieces.append(text[last : match.start()].translate(ACCENTED))
        placeholder = match.group(0)
        is_value = placeholder.startswith("%(")
        pieces.append(f"{CLOSE}{placeholder}{OPEN}" if is_value else placeholder)
        last = match.end()
    pieces.append(text[last:].translate(ACCENTED))
    return OPEN + "".join(pieces) + CLOSE


@cache
def pseudo_translations() -> str:
    """A translations directory holding the pseudo-locale's compiled catalogue, written once a
    process from translations/messages.pot; for BABEL_TRANSLATION_DIRECTORIES."""
    with open(ROOT / "translations" / "messages.pot", "rb") as file:
        template = read_po(file)
    catalogue = Catalog(locale=PSEUDO_LOCALE.partition("@")[0])
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            forms = (pseudo(message.id[0]), *[pseudo(message.id[1])] * (catalogue.num_plurals - 1))
            catalogue.add(message.id, forms, flags=message.flags, context=message.context)
        else:
            catalogue.add(
                message.id, pseudo(message.id), flags=message.flags, context=message.context
            )
    directory = Path(tempfile.mkdtemp(prefix="pseudo-translations-"))
    target = directory / PSEUDO_LOCALE / "LC_MESSAGES"
    target.mkdir(parents=True)
    with open(target / "messages.mo", "wb") as file:
        write_mo(file, catalogue)
    return str(directory)


# Data, not words of the interface: references, addresses, links, time zones (shown with
# spaces for underscores: "America/Port of Spain"), file names.
ZONE_WORD = r"(?:[A-Z][\w'.-]*|of|es|au)"
DATA_PATTERNS = re.compile(
    r"RP-[2-9A-Z]{4}-[2-9A-Z]{4}"
    r"|[\w.+-]+@[\w-]+(\.[\w-]+)+"
    r"|https?://\S+"
    rf"|\b[A-Z][A-Za-z]+(?:/{ZONE_WORD}(?: {ZONE_WORD})*)+|\bUTC\b"
    r"|\b[\w-]+\.(png|jpe?g|pdf|txt|jsonl|json|csv|parquet|zip|md)\b"
)
# A run of English words on one line: reported as one phrase.
WORDS = re.compile(r"[A-Za-z]{2,}(?:[ ,.:;'\u2019!?()-]+[A-Za-z]+)*")


def outside_brackets(text: str) -> str:
    """``text`` without what lies between the pseudo-locale's brackets (which nest when one
    translated string is put into another)."""
    kept, depth = [], 0
    for character in text:
        if character == OPEN:
            depth += 1
            kept.append("\n")
        elif character == CLOSE:
            depth = max(depth - 1, 0)
            kept.append("\n")
        elif depth == 0:
            kept.append(character)
    return "".join(kept)


def untranslated_words(text: str, data: list[str]) -> list[str]:
    """The phrases of English in ``text`` that are neither translated nor people's ``data``."""
    left = outside_brackets(text)
    if data:  # longest first, so that a name is removed before a part of it; whole words only
        values = "|".join(re.escape(value) for value in data)
        left = re.sub(rf"(?<!\w)(?:{values})(?!\w)", "\n", left)
    left = DATA_PATTERNS.sub("\n", left)
    return WORDS.findall(left)


# The columns holding what people typed or named (reports, replies, names of teams, models,
# rules, tokens) and technical values shown as they are (error names): data that pages show
# as it is. Nothing the portal writes in words is listed: that must go through translation.
DATA_COLUMNS = {
    "tickets": (
        "reference",
        "model_not_listed",
        "output_id",
        "output_text",
        "input_text",
        "description",
        "impact",
        "requested_outcome",
        "expected_output",
        "reporter_name",
        "contact_email",
        "export_output",
        "export_input",
        "export_expected_output",
    ),
    "ticket_events": ("body",),
    "attachments": ("original_name",),
    "staff_users": ("email", "display_name"),
    "teams": ("slug", "name", "holidays_country", "holidays_subdivision"),
    "ai_models": ("slug", "display_name", "provider"),
    "model_versions": ("version", "model_card_url"),
    "routing_rules": ("name",),
    "saved_replies": ("title", "body"),
    "reason_templates": ("title", "facts", "measure", "policy_clause"),
    "decisions": ("remedy_details", "facts", "measure", "policy_clause", "follow_up_comment"),
    "appeals": ("reason",),
    "api_tokens": ("name", "prefix"),
    # A subject is written in its message's language, and shown with it.
    "outbox_messages": ("to_address", "subject", "last_error"),
    "feedback_exports": ("error",),
}


def data_strings(session) -> list[str]:
    """The values of DATA_COLUMNS in the database, longest first; with each line of longer
    text on its own, since pages break text into lines."""
    import sqlalchemy as sa

    from portal.extensions import db

    tables = {table.name: table for table in db.metadata.sorted_tables}
    values: set[str] = set()
    for table_name, columns in DATA_COLUMNS.items():
        for name in columns:
            column = tables[table_name].columns[name]
            for value in session.scalars(sa.select(column).where(column.is_not(None)).distinct()):
                values.add(value)
                values.update(value.splitlines())
    return sorted(
        (value.strip() for value in values if len(value.strip()) > 1), key=len, reverse=True
    )


# Run in the page: the text a person meets (every text node, and the attributes that are read
# out or shown), leaving out what is not the interface's own words: scripts, code, anything
# marked translate="no" and anything in another language than the page (the languages in the
# switcher, each named in itself). People's text is removed afterwards, as data.
VISIBLE_TEXT_SCRIPT = """() => {
    const pageLanguage = document.documentElement.lang;
    // A textarea holds what the person typed (kept after an error).
    const notWords = 'script, style, template, noscript, textarea, code, kbd, samp, '
        + '[translate="no"]';
    const skipped = element =>
        element.closest(notWords)
        || (element.closest('[lang]') && element.closest('[lang]').lang !== pageLanguage);
    const texts = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const node = walker.currentNode;
        if (!skipped(node.parentElement)) texts.push(node.textContent);
    }
    const attributes = [];
    const named = '[aria-label], [title], [alt], [placeholder], input[type="submit"], '
        + 'input[type="button"], [aria-roledescription]';
    for (const element of document.querySelectorAll(named)) {
        if (skipped(element)) continue;
        for (const name of ['aria-label', 'title', 'alt', 'placeholder', 'aria-roledescription']) {
            if (element.hasAttribute(name)) attributes.push([name, element.getAttribute(name)]);
        }
        if (element.matches('input[type="submit"], input[type="button"]')) {
            attributes.push(['value', element.value]);
        }
    }
    return {title: document.title, text: texts.join('\\n'), attributes};
}"""


def untranslated_on_page(page, data: list[str]) -> list[str]:
    """What a Playwright ``page`` in the pseudo-locale shows that skipped translation."""
    found = page.evaluate(VISIBLE_TEXT_SCRIPT)
    problems = [f"title: {word}" for word in untranslated_words(found["title"], data)]
    problems += [f"text: {word}" for word in untranslated_words(found["text"], data)]
    for name, value in found["attributes"]:
        problems += [f"{name}: {word}" for word in untranslated_words(value, data)]
    return problems
