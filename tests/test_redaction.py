"""Redaction of free text: what goes, what stays, and how well, measured on a synthetic corpus.

The corpus measurements print their figures (run with ``-s``); docs/redaction.md quotes them.
"""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.services.redaction import PLACEHOLDERS, RULES_VERSION, add_counts, redact
from tests.redaction_corpus import STRUCTURED_KINDS, clean_reports, planted_reports

REPORTER = {"reporter_name": "Jane Doe", "reporter_email": "jane.doe87@example.com"}


@pytest.fixture(scope="module")
def planted_corpus():
    """(report, redacted text) for each synthetic report with planted values."""
    return [
        (
            report,
            redact(
                report.text,
                reporter_name=report.reporter_name,
                reporter_email=report.reporter_email,
            ).text,
        )
        for report in planted_reports()
    ]


@pytest.fixture(scope="module")
def clean_corpus():
    """(report, redacted text) for each synthetic report made only of clean tokens."""
    return [
        (
            report,
            redact(
                report.text,
                reporter_name=report.reporter_name,
                reporter_email=report.reporter_email,
            ).text,
        )
        for report in clean_reports()
    ]


def alphanumerics(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())


def survives(planted, redacted: str) -> bool:
    """Whether a planted value, or enough of it to matter, is still in the redacted text.

    For numbers (phone, card, IBAN) any eight consecutive characters of the value, separators
    ignored, count as a survivor: a number redacted only in part is still a leak.
    """
    if planted.value in redacted or planted.secret in redacted:
        return True
    if planted.kind not in {"phone", "card", "iban"}:
        return False
    value, text = alphanumerics(planted.value), alphanumerics(redacted)
    width = min(len(value), 8)
    return any(value[i : i + width] in text for i in range(len(value) - width + 1))


# --- Measured on the corpus -----------------------------------------------------------------


def test_the_planted_corpus_is_large_varied_and_plants_every_kind(planted_corpus):
    kinds = Counter(planted.kind for report, _ in planted_corpus for planted in report.planted)

    assert len(planted_corpus) >= 300
    assert len({report.language for report, _ in planted_corpus}) >= 5
    assert set(kinds) == set(STRUCTURED_KINDS)
    assert min(kinds.values()) >= 300


def test_no_planted_structured_value_survives(planted_corpus):
    survivors = [
        (report.language, planted.kind, planted.value)
        for report, redacted in planted_corpus
        for planted in report.planted
        if survives(planted, redacted)
    ]
    planted_count = sum(len(report.planted) for report, _ in planted_corpus)
    print(f"\nplanted structured values: {planted_count}, survivors: {len(survivors)}")

    assert survivors == [], f"{len(survivors)} of {planted_count} survived: {survivors[:20]}"


def test_none_of_the_reporters_own_details_survive(planted_corpus):
    survivors = [
        (report.language, detail)
        for report, redacted in planted_corpus
        for detail in report.own_details
        if detail.casefold() in redacted.casefold()
    ]
    detail_count = sum(len(report.own_details) for report, _ in planted_corpus)
    print(f"\nreporter's own details: {detail_count}, survivors: {len(survivors)}")

    assert survivors == [], f"{len(survivors)} of {detail_count} survived: {survivors[:20]}"


def test_at_least_99_percent_of_clean_tokens_survive_untouched(clean_corpus):
    total, kept, lost = 0, 0, Counter()
    for report, redacted in clean_corpus:
        for token in set(report.tokens):
            planted = report.text.count(token)
            surviving = min(planted, redacted.count(token))
            total += planted
            kept += surviving
            lost[token] += planted - surviving
    share = kept / total
    lost = +lost  # drop the tokens that always survived
    print(f"\nclean tokens: {total}, untouched: {kept} ({share:.2%}), lost: {dict(lost)}")

    assert total >= 1000
    assert share >= 0.99, f"only {share:.2%} of {total} clean tokens survived; lost: {lost}"


def test_third_party_names_are_measured_not_promised(planted_corpus):
    names = [
        (name, name in redacted)
        for report, redacted in planted_corpus
        for name in report.third_party_names
    ]
    surviving = sum(survived for _, survived in names)
    print(
        f"\nthird-party names: {len(names)}, surviving: {surviving} ({surviving / len(names):.1%})"
    )

    assert len(names) >= 100


# --- Each rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("Write to support@shop-example.com today", "Write to [EMAIL] today", "email"),
        ("Call +44 20 7946 0958 now", "Call [PHONE] now", "phone"),
        ("Call (415) 555-0132 now", "Call [PHONE] now", "phone"),
        ("Appelez le 06 12 34 56 78", "Appelez le [PHONE]", "phone"),
        ("Ruf +49 30 901820 an", "Ruf [PHONE] an", "phone"),
        ("电话13800138000。", "电话[PHONE]。", "phone"),
        ("Card 4111 1111 1111 1111.", "Card [CARD].", "card"),
        ("Amex 3782 822463 10005", "Amex [CARD]", "card"),
        ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN] please", "iban"),
        ("Send to GB82WEST12345698765432.", "Send to [IBAN].", "iban"),
        ("From 203.0.113.42:8080", "From [IP]:8080", "ip"),
        ("From 2001:db8:85a3::8a2e:370:7334.", "From [IP].", "ip"),
        ("From ::ffff:192.0.2.128 again", "From [IP] again", "ip"),
        ("See https://user:hunter2@example.com/x now", "See [URL] now", "url"),
        ("I am Jane Doe.", "I am [NAME].", "name"),
    ],
)
def test_each_kind_of_value_becomes_its_placeholder(text, expected, kind):
    result = redact(text, **REPORTER)

    assert result.text == expected
    assert result.counts == {kind: 1}
    assert PLACEHOLDERS[kind] in result.text


def test_card_numbers_failing_the_luhn_check_survive():
    text = "Not a card: 4111 1111 1111 1112, nor 5555555555554443."

    assert redact(text).text == text


def test_ibans_failing_the_mod_97_check_survive():
    text = "Not an IBAN: DE89 3704 0044 0532 0130 01, nor GB82WEST12345698765433."

    assert redact(text).text == text


def test_a_plain_url_survives_and_one_carrying_a_token_is_hidden_whole():
    plain = "Docs at https://example.org/docs/page?lang=fr#install."
    with_token = "Open https://api.example.com/v1?token=abc123 (expires soon)."

    assert redact(plain).text == plain
    assert redact(with_token).text == "Open [URL] (expires soon)."


def test_urls_carrying_keys_signatures_or_random_paths_are_hidden():
    urls = [
        "https://example.com/callback#access_token=ya29.a0AfH6SMB",
        "https://bucket.s3.amazonaws.com/a.txt?X-Amz-Signature=8f2d0c1e",
        "https://example.com/api?apiKey=k-123",
        "https://example.com/share/Yq3uQ7pVx9LmN2rT5sKd8wZb",
        "https://chat.example.com/share/550e8400-e29b-41d4-a716-446655440000",
        "ftp://backup:s3cr3t@files.example.org/dump.sql",
    ]

    for url in urls:
        assert redact(f"Link: {url} end").text == "Link: [URL] end", url


def test_versions_dates_prices_and_numbers_are_not_taken_for_phone_numbers():
    text = (
        "Version 2.3.1 (v1.12.0) on 2026-11-28, 28/11/2026 at 10:30:00; "
        "2026-11-28T10:30:00Z; €1,299.00 or 1 299,00 €; 1,000,000 users, 3.14, 15%, "
        "order #12345678, arXiv 2303.08774, ISBN 978-3-16-148410-0, Chrome 131.0.6778.86."
    )

    assert redact(text, **REPORTER).text == text


def test_a_four_part_version_is_taken_for_an_ip_address_but_three_parts_are_not():
    assert redact("build 10.0.0.1").text == "build [IP]"
    assert redact("build 3.0.1").text == "build 3.0.1"


def test_the_reporters_name_is_found_in_any_case_spacing_order_and_accents():
    text = "JOSÉ GARCÍA wrote this; jose  garcia agrees; García, José signs; José too."

    result = redact(text, reporter_name="José García")

    assert result.text == "[NAME] wrote this; [NAME] agrees; [NAME] signs; [NAME] too."
    assert result.counts == {"name": 4}


def test_short_parts_of_the_reporters_name_are_left_alone_but_the_full_name_is_not():
    # "Doe" alone could be anyone's word or name; four letters or more are taken alone.
    result = redact("Jane Doe here. Doe said hi. Jane said bye.", reporter_name="Jane Doe")

    assert result.text == "[NAME] here. Doe said hi. [NAME] said bye."


def test_a_name_part_inside_another_word_is_left_alone():
    result = redact("Janet and Janeway met Jane.", reporter_name="Jane Doe")

    assert result.text == "Janet and Janeway met [NAME]."


def test_the_user_part_of_the_reporters_email_counts_as_their_name():
    result = redact("Account jane.doe87 was locked; mail jane.doe87@example.com", **REPORTER)

    assert result.text == "Account [NAME] was locked; mail [EMAIL]"
    assert result.counts == {"email": 1, "name": 1}


def test_a_name_in_chinese_is_found_without_spaces_around_it():
    text = "我是王伟，王伟的账号是wangwei88。"  # noqa: RUF001 - Chinese punctuation

    result = redact(text, reporter_name="王伟", reporter_email="wangwei88@example.cn")

    assert result.text == "我是[NAME]，[NAME]的账号是[NAME]。"  # noqa: RUF001


def test_counts_say_how_many_of_each_kind_were_replaced():
    text = (
        "Mail a@example.com and b@example.org, call +33 6 12 34 56 78, "
        "pay 4111-1111-1111-1111, from 198.51.100.7. Jane Doe."
    )

    result = redact(text, **REPORTER)

    assert result.counts == {"email": 2, "phone": 1, "card": 1, "ip": 1, "name": 1}


def test_redacting_redacted_text_changes_nothing():
    once = redact(
        "Jane Doe (jane.doe87@example.com, +44 20 7946 0958, DE89 3704 0044 0532 0130 00, "
        "4111 1111 1111 1111, 10.0.0.1, https://x.example.com/?token=abc) wrote [NAME].",
        **REPORTER,
    )

    again = redact(once.text, **REPORTER)

    assert again.text == once.text
    assert again.counts == {}


def test_a_reporter_called_like_a_placeholder_leaves_placeholders_whole():
    once = redact("Email Name wrote to me@example.com", reporter_name="Email Name")

    assert once.text == "[NAME] wrote to [EMAIL]"
    assert redact(once.text, reporter_name="Email Name").text == once.text


def test_no_text_gives_empty_text_and_no_counts():
    assert redact(None).text == ""
    assert redact(None).counts == {}
    assert redact("", **REPORTER).counts == {}


def test_counts_of_many_texts_add_up_kind_by_kind():
    first = redact("a@example.com and +44 20 7946 0958").counts
    second = redact("b@example.com").counts

    assert add_counts(first, second) == {"email": 2, "phone": 1}
    assert add_counts() == {}


def test_the_rules_version_is_a_positive_number():
    # Stored rows are redacted again when it changes; it must never go back.
    assert isinstance(RULES_VERSION, int)
    assert RULES_VERSION >= 1


# --- Properties -----------------------------------------------------------------------------


@settings(deadline=None, max_examples=300)
@given(
    before=st.text(max_size=80),
    email=st.emails(),
    after=st.text(max_size=80),
    name=st.text(max_size=30),
)
def test_the_reporters_email_never_survives_whatever_surrounds_it(before, email, after, name):
    result = redact(before + email + after, reporter_name=name, reporter_email=email)

    assert email not in result.text
