"""Every string the code can show is in the catalogues, and French and Arabic translate it all."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from portal.config import SUPPORTED_LOCALES

ROOT = Path(__file__).resolve().parent.parent
TRANSLATED = [locale for locale in SUPPORTED_LOCALES if locale != "en"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def read_catalogue(locale: str):
    with open(ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po", "rb") as file:
        return read_po(file, locale=locale)


def strings(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


@pytest.fixture(scope="module")
def extracted_ids(tmp_path_factory) -> set[str]:
    output = tmp_path_factory.mktemp("pot") / "messages.pot"
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
    with open(output, "rb") as file:
        return {
            message.id if isinstance(message.id, str) else message.id[0]
            for message in read_po(file)
            if message.id
        }


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_string_in_the_code_is_in_the_catalogue(locale, extracted_ids):
    catalogue_ids = {
        message.id if isinstance(message.id, str) else message.id[0]
        for message in read_catalogue(locale)
        if message.id
    }

    assert extracted_ids - catalogue_ids == set(), "run `make messages` and translate"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_is_translated_with_its_placeholders(locale):
    problems = []
    for message in read_catalogue(locale):
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        if message.fuzzy or not all(strings(message)):
            problems.append(f"untranslated: {source!r}")
            continue
        expected = set(PLACEHOLDER.findall(source))
        if isinstance(message.string, str):
            if set(PLACEHOLDER.findall(message.string)) != expected:
                problems.append(f"placeholders differ: {source!r}")
            continue
        # A plural form may spell out its count ("one file", "two files") instead of %(num)d,
        # but every other placeholder must come through.
        for translation in message.string:
            if not expected - {"num"} <= set(PLACEHOLDER.findall(translation)):
                problems.append(f"placeholders lost: {source!r} -> {translation!r}")

    assert problems == []
