"""Redaction of free text before consented feedback leaves the portal as training data.

``redact`` replaces each value that identifies someone with a typed placeholder, so that the next
model still learns what kind of thing was there ("the model printed my [PHONE]") without learning
the value. The rules run in a fixed order, each on the text the previous ones left:

1. URLs carrying credentials or tokens become ``[URL]`` whole. They go first because such a URL
   can hold an e-mail-shaped ``user:password@host`` or digits that later rules would only half
   remove. Plain URLs survive untouched.
2. E-mail addresses, and the reporter's own address exactly as given, become ``[EMAIL]``.
3. IBANs (mod-97 checked) become ``[IBAN]``; before cards and phones, whose rules would
   otherwise take the digits out of the middle of one.
4. Payment card numbers (Luhn checked) become ``[CARD]``; before phones, because a card number
   in groups of four can also read as a phone number somewhere in the world.
5. IPv6 and IPv4 addresses become ``[IP]``; before phones, which would take 192.168.100.200.
6. Phone numbers, found by the ``phonenumbers`` library, become ``[PHONE]``.
7. The reporter's own name (and the user part of their e-mail address) becomes ``[NAME]``.

Nothing inside a placeholder is ever matched again, so redacting redacted text changes nothing.
Names of other people are not looked for: docs/redaction.md gives the measured share that
survives. ``RULES_VERSION`` changes whenever a rule does: stored rows redacted under an older
version are redacted again from their original text.
"""

import functools
import ipaddress
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from phonenumbers import Leniency, PhoneNumberMatcher

RULES_VERSION = 1

# Kind (the key in ``Redacted.counts``) -> the placeholder put in the text.
PLACEHOLDERS = {
    "url": "[URL]",
    "email": "[EMAIL]",
    "iban": "[IBAN]",
    "card": "[CARD]",
    "ip": "[IP]",
    "phone": "[PHONE]",
    "name": "[NAME]",
}

_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))

Span = tuple[int, int]


@dataclass(frozen=True)
class Redacted:
    """Redacted text and how many values of each kind were replaced.

    ``counts`` holds only the kinds that were found (an empty dict: nothing was redacted).
    """

    text: str
    counts: dict[str, int]


def redact(
    text: str | None, *, reporter_name: str | None = None, reporter_email: str | None = None
) -> Redacted:
    """``text`` with identifying values replaced by placeholders (see the module docstring).

    Pure and deterministic: the same arguments always give the same result. ``None`` gives
    empty text.
    """
    if not text:
        return Redacted(text="", counts={})
    rules: list[tuple[str, Callable[[str], list[Span]]]] = [
        ("url", _secret_urls),
        ("email", functools.partial(_emails, reporter_email=reporter_email)),
        ("iban", _ibans),
        ("card", _cards),
        ("ip", _ip_addresses),
        ("phone", _phone_numbers),
        (
            "name",
            functools.partial(_reporter_name, name=reporter_name, email=reporter_email),
        ),
    ]
    counts: dict[str, int] = {}
    for kind, find in rules:
        text, replaced = _replace(text, find(text), PLACEHOLDERS[kind])
        if replaced:
            counts[kind] = replaced
    return Redacted(text=text, counts=counts)


def add_counts(*counts: dict[str, int]) -> dict[str, int]:
    """The sum of several ``Redacted.counts``, kind by kind (for totals over many texts)."""
    total: dict[str, int] = {}
    for one in counts:
        for kind, number in one.items():
            total[kind] = total.get(kind, 0) + number
    return total


def _replace(text: str, spans: Iterable[Span], placeholder: str) -> tuple[str, int]:
    """``text`` with each span replaced by ``placeholder``, and how many were.

    Spans are taken in the order given, so a finder lists the ones it prefers first; a span
    that overlaps one already taken, or a placeholder already in the text, is dropped.
    """
    taken = [match.span() for match in _PLACEHOLDER.finditer(text)]
    accepted = []
    for start, end in spans:
        if start < end and not any(start < t_end and t_start < end for t_start, t_end in taken):
            taken.append((start, end))
            accepted.append((start, end))
    pieces, position = [], 0
    for start, end in sorted(accepted):
        pieces += [text[position:start], placeholder]
        position = end
    pieces.append(text[position:])
    return "".join(pieces), len(accepted)


# --- 1. URLs carrying credentials or tokens -------------------------------------------------

# A URL ends at white space, quotes, angle brackets, or the CJK and Arabic punctuation that
# follows it without a space in those languages.
_URL = re.compile(
    r"(?<![A-Za-z0-9@.+-])(?:(?:https?|ftp|wss?)://|www\.)"
    r"[^\s<>\"'`\u3000-\u303f\uff00-\uffef\u060c\u061b]+",
    re.IGNORECASE,
)
_URL_TRAILING = ".,;:!?"

# Parameter names (split into words: access_token, X-Amz-Signature, apiKey) that carry a secret.
# ``code`` and ``key`` also hide harmless URLs (?country_code=FR, ?sort_key=date): a needlessly
# hidden URL costs little, a leaked key a great deal.
_SECRET_WORDS = frozenset(
    {
        "token", "key", "apikey", "secret", "password", "passwd", "pwd", "pass", "sig",
        "signature", "auth", "authorization", "session", "sessionid", "sessid", "phpsessid",
        "jsessionid", "sid", "code", "jwt", "credential", "credentials", "otp",
    }
)  # fmt: skip
_NAME_WORDS = re.compile(r"[-_.\s]+|(?<=[a-z])(?=[A-Z])")

# A machine-made secret (a hex digest, base64url, a JWT) is long, and its letters and digits
# change case or class at about every other character; a readable slug or a model name changes
# rarely (Mistral-7B-Instruct-v0-2). Hex counts whatever its shape, UUIDs included: the share
# link of a conversation is often one, and a commit hash cannot be told from a hex key.
_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_.\-~]{24,}={0,2}")
_HEX = re.compile(r"[0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_MIN_CLASS_CHANGES = 0.25  # per character; random base64url has about 0.6, hex about 0.45


def _secret_urls(text: str) -> list[Span]:
    spans = []
    for match in _URL.finditer(text):
        url = _trim_url(match.group())
        if _carries_secret(url):
            spans.append((match.start(), match.start() + len(url)))
    return spans


def _trim_url(url: str) -> str:
    """The URL without the sentence punctuation or closing bracket that follows it."""
    while url and (
        url[-1] in _URL_TRAILING or (url[-1] == ")" and url.count(")") > url.count("("))
    ):
        url = url[:-1]
    return url


def _carries_secret(url: str) -> bool:
    if "://" not in url:
        url = "http://" + url  # www.example.com/... parses with a scheme only
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed [IPv6] host: nothing to tell apart, leave it
        return False
    if "@" in parts.netloc:  # user:password@host, or a user name that is often an e-mail
        return True
    parameters = parse_qsl(parts.query, keep_blank_values=True)
    parameters += parse_qsl(parts.fragment, keep_blank_values=True)  # OAuth #access_token=
    for name, value in parameters:
        if value and (_is_secret_name(name) or _looks_like_secret(value)):
            return True
    return any(_looks_like_secret(segment) for segment in parts.path.split("/"))


def _is_secret_name(name: str) -> bool:
    words = [word.lower() for word in _NAME_WORDS.split(name) if word]
    return "".join(words) in _SECRET_WORDS or any(word in _SECRET_WORDS for word in words)


def _looks_like_secret(value: str) -> bool:
    if not _SECRET_SHAPE.fullmatch(value):
        return False
    if _HEX.fullmatch(value):
        return True
    changes = sum(
        _char_class(a) != _char_class(b)
        for run in _ALNUM_RUN.findall(value)
        for a, b in itertools.pairwise(run)
    )
    return changes >= _MIN_CLASS_CHANGES * len(value)


def _char_class(char: str) -> str:
    return "digit" if char.isdigit() else "upper" if char.isupper() else "lower"


# --- 2. E-mail addresses ------------------------------------------------------------------

# Letters of any alphabet (josé@exemple.fr, почта@пример.рф) except the Chinese, Japanese and
# Korean ones: those languages write an address with no space around it ("邮箱是a@b.com的"), and
# the neighbouring words must not be taken as part of it. Lengths are bounded, as in the
# standard, so that a long run of word characters cannot make the search quadratic.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_EMAIL_WORD = rf"[^\W{_CJK}]"
_EMAIL = re.compile(
    rf"(?:{_EMAIL_WORD}|[.%+\-]){{1,64}}@(?:{_EMAIL_WORD}|-){{1,63}}"
    rf"(?:\.(?:{_EMAIL_WORD}|-){{1,63}}){{0,8}}\.[^\W\d_{_CJK}]{{2,63}}"
)


def _emails(text: str, *, reporter_email: str | None) -> list[Span]:
    spans = []
    if reporter_email and "@" in reporter_email:
        # The reporter's own address exactly as given, even in a form the pattern would miss.
        own = re.compile(re.escape(reporter_email.strip()), re.IGNORECASE)
        spans += [match.span() for match in own.finditer(text)]
    if "@" in text:
        spans += [match.span() for match in _EMAIL.finditer(text)]
    return spans


# --- 3. IBANs -----------------------------------------------------------------------------

# Country code, two check digits, then 11 to 30 letters or digits, in groups or not. The
# pattern may run on into the next word ("... 0130 00 EUR"), so the IBAN is the longest prefix
# that ends at a word boundary and passes the mod-97 check.
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}")


def _ibans(text: str) -> list[Span]:
    spans = []
    for match in _IBAN.finditer(text):
        candidate = match.group()
        for end in range(len(candidate), 14, -1):
            at_boundary = end == len(candidate) or not candidate[end].isalnum()
            if at_boundary and candidate[end - 1] != " " and _iban_checks(candidate[:end]):
                spans.append((match.start(), match.start() + end))
                break
    return spans


def _iban_checks(iban: str) -> bool:
    """ISO 13616: the IBAN with its first four characters moved to the end, letters read as
    10 to 35, leaves 1 when divided by 97."""
    compact = iban.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


# --- 4. Payment card numbers --------------------------------------------------------------

# 13 to 19 digits, grouped by spaces or dashes, starting with 2 to 6: the first digit of every
# card network that takes payments (Mastercard 2 and 5, Amex, Diners and JCB 3, Visa 4,
# Discover and UnionPay 6). That keeps ISBNs (978...) and long identifiers out. Not after a "+"
# or a digit, so the tail of an international phone number is not mistaken for a card, nor
# after "DE89 ", so that an IBAN that failed its check is not half taken for one.
_CARD = re.compile(
    r"(?<![\w+])(?<![A-Z]{2}[0-9]{2} )[2-6][0-9]{3}(?:[ -]?[0-9]){9,15}(?!\w)", re.ASCII
)


def _cards(text: str) -> list[Span]:
    return [match.span() for match in _CARD.finditer(text) if _luhn_checks(match.group())]


def _luhn_checks(number: str) -> bool:
    """The Luhn check digit: double every second digit from the right; the sum ends in 0."""
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


# --- 5. IP addresses ----------------------------------------------------------------------

# Candidates are checked by ``ipaddress``. A four-part dotted number is taken for an IPv4 address
# even when it was meant as a version (10.0.0.1 is both); three-part versions (2.3.1) never match.
# IPv6 may end in an IPv4 address (::ffff:192.0.2.128), which must not be cut at its first dot.
_IPV4 = re.compile(r"(?<![\w.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?!\.?[0-9])(?!\w)", re.ASCII)
_IPV6 = re.compile(
    r"(?<![\w:.])[0-9A-Fa-f:]{2,39}(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3})?(?![\w:]|\.[0-9])", re.ASCII
)


def _ip_addresses(text: str) -> list[Span]:
    spans = []
    if "::" in text or text.count(":") >= 7:
        for match in _IPV6.finditer(text):
            address = match.group()
            if address.endswith(":") and not address.endswith("::"):
                address = address[:-1]  # "from 2001:db8::1: refused"
            if _is_ipv6(address):
                spans.append((match.start(), match.start() + len(address)))
    for match in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(match.group())
        except ValueError:  # 300.1.2.3, or an octet with a leading zero
            continue
        spans.append(match.span())
    return spans


def _is_ipv6(candidate: str) -> bool:
    # At least three groups: "::1", "fe80::1" and slices such as a[1::2] identify nobody.
    groups = [group for group in re.split(r"[:.]", candidate) if group]
    if len(groups) < 3:
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:  # a time (10:30:00), a MAC address, C++ a::b
        return False
    return True


# --- 6. Phone numbers ---------------------------------------------------------------------

# "Any region": an international number (+44 ..., +966 ...) is recognised whatever the country.
# A national number (020 7946 0958, (415) 555-0132, 06 12 34 56 78) depends on the country it
# is dialled from, so it is tried for the regions most reports come from. National formats must
# be VALID numbers (a real range in that country); a "+" is strong evidence on its own, so
# international numbers need only be POSSIBLE (a plausible length), which also takes in the
# ranges kept for fiction, such as +44 7700 900123.
_NATIONAL_REGIONS = (
    "US", "GB", "FR", "DE", "ES", "IT", "PL", "BR", "IN", "CN", "SA", "AE", "EG",
)  # fmt: skip

# Runs of digits and the separators phone numbers are written with, at most two in a row
# ("+44 (0)20"); commas, colons and tabs are not among them, so 1,000,000, 10:30:00 and the
# columns of a table never form one candidate. A run does not start inside a Latin word or in
# the middle of a number (the 000 of 1,000), but may follow Chinese or Arabic text without a
# space. Digits in other scripts (Arabic-Indic) count: phonenumbers reads them.
_PHONE_RUN = re.compile(r"(?<![A-Za-z\d_+])(?<!\d[.,])\+?\(?\d(?:[ \u00a0().\-/]{0,2}\d)*")
# Fewer digits than this is not a phone number anywhere we look (Polish metadata would otherwise
# accept a bare 3000000).
_MIN_PHONE_DIGITS = 8

# What phonenumbers accepts in some region but a reader knows is not a phone number.
_NOT_A_PHONE = re.compile(
    r"\d{4}[-./]\d{1,2}[-./]\d{1,2}"  # a date, 2026-11-28
    r"|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}"  # a date, 28/11/2026, 28.11.2026
    r"|\d+\.\d+"  # a decimal number or an identifier such as arXiv's 2303.08774
)
_CURRENCY = "$€£¥₹₩₽¢"


def _phone_numbers(text: str) -> list[Span]:
    found: list[Span] = []
    for run in _PHONE_RUN.finditer(text):
        if sum(c.isdigit() for c in run.group()) < _MIN_PHONE_DIGITS:
            continue
        for start, end in _phone_matches(run.group()):
            span = (run.start() + start, run.start() + end)
            if not _reads_as_something_else(text, *span):
                found.append(span)
    # The same digits can match in several regions, with different extents: the longest wins.
    return sorted(found, key=lambda span: span[0] - span[1])


def _phone_matches(run: str) -> list[Span]:
    """Where phone numbers are in one run of digits and separators."""
    if run.startswith("00"):
        # 00 is how most of the world dials abroad: 0033 6 ... is +33 6 ... One character
        # shorter, so positions after the "+" shift by one.
        return [
            (start and start + 1, end + 1) for start, end in _international_matches("+" + run[2:])
        ]
    if run.startswith("+"):
        return _international_matches(run)
    spans = []
    for region in _NATIONAL_REGIONS:
        spans += [
            (match.start, match.end)
            for match in PhoneNumberMatcher(run, region, leniency=Leniency.VALID)
        ]
        if (0, len(run)) in spans:  # the whole run is one number: no other region can add
            break
    return spans


def _international_matches(run: str) -> list[Span]:
    return [
        (match.start, match.end)
        for match in PhoneNumberMatcher(run, None, leniency=Leniency.POSSIBLE)
    ]


def _reads_as_something_else(text: str, start: int, end: int) -> bool:
    raw = text[start:end]
    if _NOT_A_PHONE.fullmatch(raw):
        return True
    before = text[max(0, start - 2) : start].strip()
    after = text[end : end + 2].strip()
    # A price (€ 1 299 000, 1 299 000 €) or a reference (#12345678, №1234567).
    return bool((before and before[-1] in _CURRENCY + "#№") or (after and after[0] in _CURRENCY))


# --- 7. The reporter's own name -----------------------------------------------------------

# The full name is always replaced, in any case, with any spacing, in either order ("Doe, Jane").
# A single part of it only when it has at least four letters: shorter parts (Li, Wei, Ana, Doe)
# are too often ordinary words or other people's names. A part that is also a common word (Will,
# Rose, Mark) is replaced everywhere in that reporter's text: over-redaction we accept for the
# reporter's privacy. Accents and case are ignored (José matches JOSE), and the user part of the
# reporter's e-mail address (jane.doe87) counts as their name.
_MIN_PART_LETTERS = 4

# Scripts written without spaces between words: a name there has no word boundary to look for.
_SPACELESS_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI", "LAO", "KHMER", "MYANMAR")


def _reporter_name(text: str, *, name: str | None, email: str | None) -> list[Span]:
    variants = _name_variants(name or "", email or "")
    if not variants:
        return []
    folded, positions = _fold(text)
    spans = []
    for words in variants:  # longest first, so the full name wins over its parts
        pattern = re.compile(r",?\s+".join(re.escape(word) for word in words), re.IGNORECASE)
        for match in pattern.finditer(folded):
            if _stands_alone(folded, match.start(), match.end()):
                spans.append((positions[match.start()], positions[match.end()]))
    return spans


def _name_variants(name: str, email: str) -> list[list[str]]:
    """The word sequences to look for, longest first: the full name, reversed, then its long
    parts. A "name" with fewer than two letters (a dash, an initial) is not looked for."""
    words = _fold(name)[0].split()
    variants = []
    if sum(_is_letter(c) for word in words for c in word) >= 2:
        variants += [words, words[::-1]]
    # Jean-Pierre has two parts, whether typed with a hyphen-minus or a hyphen (U+2010).
    parts = {part for word in words for part in re.split("[-\u2010]", word)}
    local_part = email.strip().rpartition("@")[0]
    if local_part:
        parts.add(_fold(local_part)[0])
    variants += [[part] for part in parts if sum(_is_letter(c) for c in part) >= _MIN_PART_LETTERS]
    unique = {" ".join(words): words for words in variants}
    return sorted(unique.values(), key=lambda words: -len(" ".join(words)))


def _fold(text: str) -> tuple[str, list[int]]:
    """``text`` without accents or other combining marks (José -> Jose, Arabic without its vowel
    marks), and for each of its characters the position of the original one. The list ends with
    ``len(text)``, so that the end of a match maps too (past any marks on its last letter)."""
    if text.isascii():
        return text, list(range(len(text) + 1))
    folded, positions = [], []
    for position, char in enumerate(text):
        base = _base_char(char)
        if base:
            folded.append(base)
            positions.append(position)
    positions.append(len(text))
    return "".join(folded), positions


@functools.cache
def _base_char(char: str) -> str:
    """The character without its marks (é -> e); "" for a combining mark on its own. Characters
    that decompose into other letters (Hangul syllables) stay whole."""
    if unicodedata.combining(char):
        return ""
    decomposed = unicodedata.normalize("NFD", char)
    if all(unicodedata.combining(mark) for mark in decomposed[1:]):
        return decomposed[0]
    return char


def _stands_alone(folded: str, start: int, end: int) -> bool:
    """A whole word: no letter, mark or digit touches the match, except in scripts written
    without spaces, where words have no visible edge."""
    before = folded[start - 1] if start else " "
    after = folded[end] if end < len(folded) else " "
    return _is_edge(folded[start], before) and _is_edge(folded[end - 1], after)


def _is_edge(inside: str, outside: str) -> bool:
    # A change of script is an edge too: 我是Jane, janedoe的账号.
    return not _is_word_char(outside) or _is_spaceless(inside) or _is_spaceless(outside)


def _is_letter(char: str) -> bool:
    return unicodedata.category(char)[0] in "LM"


def _is_word_char(char: str) -> bool:
    return char == "_" or unicodedata.category(char)[0] in "LMN"


def _is_spaceless(char: str) -> bool:
    return unicodedata.name(char, "").startswith(_SPACELESS_SCRIPTS)
