"""References, tracking tokens and their hashes."""

import re

from hypothesis import given
from hypothesis import strategies as st

from portal.services import tokens

REFERENCE_SHAPE = re.compile(
    r"^RP-[23456789ABCDEFGHJKMNPQRSTWXYZ]{4}-[23456789ABCDEFGHJKMNPQRSTWXYZ]{4}$"
)


def test_references_are_short_unambiguous_and_distinct():
    references = {tokens.new_reference() for _ in range(2000)}

    assert len(references) == 2000
    assert all(REFERENCE_SHAPE.match(reference) for reference in references)
    assert not any(ch in "".join(references) for ch in "01OILUV")


def test_a_reference_typed_loosely_is_understood():
    assert tokens.normalise_reference(" rp 7k3m q9p2 ") == "RP-7K3M-Q9P2"
    assert tokens.normalise_reference("7K3MQ9P2") == "RP-7K3M-Q9P2"


def test_tracking_tokens_carry_at_least_128_bits():
    token = tokens.tracking_token_for_form("secret", tokens.new_form_key())
    reissued = tokens.new_tracking_token()

    # URL-safe base64: six bits per character.
    assert len(token) * 6 >= 128
    assert len(reissued) * 6 >= 128
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)


def test_the_same_form_gives_the_same_token_and_another_form_another():
    key = tokens.new_form_key()

    assert tokens.tracking_token_for_form("s", key) == tokens.tracking_token_for_form("s", key)
    assert tokens.tracking_token_for_form("s", key) != tokens.tracking_token_for_form("s", "x")
    assert tokens.tracking_token_for_form("s", key) != tokens.tracking_token_for_form("t", key)


def test_only_the_hash_of_a_token_is_kept_and_it_checks_the_token():
    token = tokens.new_tracking_token()
    stored = tokens.sha256_hex(token)

    assert token not in stored
    assert tokens.token_matches(token, stored)
    assert not tokens.token_matches(token[:-1] + ("A" if token[-1] != "A" else "B"), stored)


@given(st.text(max_size=200))
def test_no_other_text_matches_a_tokens_hash(candidate):
    token = "fixed-token-for-the-property"
    stored = tokens.sha256_hex(token)

    assert tokens.token_matches(candidate, stored) == (candidate == token)
