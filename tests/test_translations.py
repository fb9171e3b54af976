"""The catalogues: up to date with the code, complete, faithful to each message's placeholders
and markup, and compilable; so every supported locale is offered."""

import gettext
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from portal.config import SUPPORTED_LOCALES
from portal.i18n import complete_locales

ROOT = Path(__file__).resolve().parent.parent
TRANSLATED = [locale for locale in SUPPORTED_LOCALES if locale != "en"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
MARKUP = re.compile(r"<[^>]+>")
# A plural form chosen only for these counts may spell its number out instead of using the
# placeholder ("un fichier", "ملفان").
SPELLED_OUT = {0, 1, 2}


def read_catalogue(locale: str):
    with open(ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po", "rb") as file:
        return read_po(file, locale=locale)


def key(message) -> tuple[str | None, str]:
    """A message's context and (singular) id: what gettext looks it up by."""
    return message.context, message.id if isinstance(message.id, str) else message.id[0]


def strings(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def extract(output: Path) -> None:
    """What `make messages` extracts, into ``output``."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "--mapping-file",
            "babel.cfg",
            "--keywords",
            "_l",
            "--keywords",
            "lazy_gettext",
            "--keywords",
            "N_",
            "--output-file",
            str(output),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict[str, object]:
    output = tmp_path_factory.mktemp("pot") / "messages.pot"
    extract(output)
    with open(output, "rb") as file:
        return {key(message): message.id for message in read_po(file) if message.id}


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_catalogue_holds_every_string_of_the_code_as_the_code_has_it(locale, extracted):
    catalogue = {key(message): message.id for message in read_catalogue(locale) if message.id}

    missing = set(extracted) - set(catalogue)
    # A plural whose other form changed in the code is a changed string too.
    changed = {
        msgid for msgid in set(extracted) & set(catalogue) if extracted[msgid] != catalogue[msgid]
    }

    assert missing | changed == set(), "run `make messages`, then translate what it adds"


def counts_of_each_form(catalogue) -> dict[int, set[int]]:
    """For each plural form, the counts that choose it, from 0 to 1000 and whole millions."""
    choose = gettext.c2py(catalogue.plural_expr)
    counts: dict[int, set[int]] = {}
    for count in [*range(1001), 1_000_000, 2_000_000]:
        counts.setdefault(choose(count), set()).add(count)
    return counts


def problems_of(message, counts_of_form: dict[int, set[int]]) -> list[str]:
    """What is wrong with one translated message."""
    source = key(message)[1]
    if message.fuzzy or not all(strings(message)):
        return [f"untranslated: {source!r}"]
    found = []
    expected = set(PLACEHOLDER.findall(source))
    if isinstance(message.id, tuple):
        expected |= set(PLACEHOLDER.findall(message.id[1]))
        if len(strings(message)) != len(counts_of_form):
            found.append(f"{len(strings(message))} plural forms: {source!r}")
    for form, translation in enumerate(strings(message)):
        placeholders = set(PLACEHOLDER.findall(translation))
        may_spell_out = isinstance(message.id, tuple) and counts_of_form[form] <= SPELLED_OUT
        if not (placeholders == expected or (may_spell_out and placeholders < expected)):
            found.append(f"placeholders differ: {source!r} -> {translation!r}")
        if sorted(MARKUP.findall(translation)) != sorted(MARKUP.findall(source)):
            found.append(f"markup differs: {source!r} -> {translation!r}")
        # Templates format every message (Jinja's newstyle gettext), placeholders or not.
        if "%" in PLACEHOLDER.sub("", translation).replace("%%", ""):
            found.append(f"a lone % (write %%): {source!r} -> {translation!r}")
    return found


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_is_translated_with_its_placeholders_and_markup(locale):
    catalogue = read_catalogue(locale)

    counts_of_form = counts_of_each_form(catalogue)

    problems = [
        problem
        for message in catalogue
        if message.id
        for problem in problems_of(message, counts_of_form)
    ]

    assert problems == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_catalogue_compiles_with_its_languages_plural_rule(locale):
    catalogue = read_catalogue(locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)

    translations = gettext.GNUTranslations(compiled)

    assert list(catalogue.check()) == []
    # Arabic has six forms and Polish three: the header must say what CLDR says.
    assert catalogue.plural_forms == Catalog(locale=locale).plural_forms
    plural = next(message for message in catalogue if isinstance(message.id, tuple))
    choose = gettext.c2py(catalogue.plural_expr)
    for count in (0, 1, 2, 3, 5, 11, 22, 101, 1_000_000):
        form = translations.ngettext(plural.id[0], plural.id[1], count)
        assert form == plural.string[choose(count)]


def test_every_supported_locale_is_complete_and_offered():
    assert complete_locales() == SUPPORTED_LOCALES
