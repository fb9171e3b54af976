"""Staff accounts without HTTP: passwords, sign-in checks, roles and ending sessions."""

import pytest
from argon2 import PasswordHasher

from portal.extensions import db
from portal.models.enums import Role
from portal.models.registry import StaffUser
from portal.services.accounts import (
    AccountError,
    authenticate,
    create_user,
    disable,
    hasher_from_config,
    load_session_user,
    set_password,
    set_roles,
)

PASSWORD = "correct horse battery staple"


class CountingHasher(PasswordHasher):
    """The real Argon2 hasher, counting how many passwords it checks."""

    checks = 0

    def verify(self, hash, password):
        CountingHasher.checks += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher(app) -> PasswordHasher:
    return hasher_from_config(app.config)


@pytest.fixture
def agent(app, hasher):
    with app.app_context():
        user = create_user("Agent@Example.org ", "Ada Agent", PASSWORD, [Role.AGENT], hasher=hasher)
        db.session.commit()
        return user.id


def test_an_account_keeps_a_normalised_address_an_argon2_hash_and_its_roles(app, agent):
    with app.app_context():
        user = db.session.get(StaffUser, agent)

        assert user.email == "agent@example.org"
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert user.roles == {Role.AGENT}


def test_an_address_can_have_only_one_account_and_passwords_have_a_minimum(app, agent, hasher):
    with app.app_context():
        with pytest.raises(AccountError, match="already an account"):
            create_user("agent@example.org", "Again", PASSWORD, [], hasher=hasher)
        with pytest.raises(AccountError, match="at least 12 characters"):
            create_user("new@example.org", "New", "short", [], hasher=hasher)


def test_only_the_right_password_of_an_active_account_signs_in(app, agent, hasher):
    with app.app_context():
        assert authenticate("AGENT@example.org", PASSWORD, hasher=hasher).id == agent
        assert authenticate("agent@example.org", PASSWORD + "!", hasher=hasher) is None
        assert authenticate("nobody@example.org", PASSWORD, hasher=hasher) is None

        disable(db.session.get(StaffUser, agent))
        db.session.commit()
        assert authenticate("agent@example.org", PASSWORD, hasher=hasher) is None


def test_an_unknown_address_costs_one_password_check_like_a_known_one(app, agent):
    hasher = CountingHasher(time_cost=1, memory_cost=8, parallelism=1)
    with app.app_context():
        CountingHasher.checks = 0
        authenticate("nobody@example.org", PASSWORD, hasher=hasher)
        unknown = CountingHasher.checks

        CountingHasher.checks = 0
        authenticate("agent@example.org", "wrong password!!", hasher=hasher)
        known = CountingHasher.checks

    assert unknown == known == 1


def test_a_password_hashed_with_older_parameters_is_rehashed_at_sign_in(app, agent):
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    with app.app_context():
        user = authenticate("agent@example.org", PASSWORD, hasher=stronger)
        db.session.commit()

        assert user is not None
        assert stronger.check_needs_rehash(user.password_hash) is False
        assert "t=2" in user.password_hash


def test_a_new_password_or_disabling_ends_every_existing_session(app, agent, hasher):
    with app.app_context():
        user = db.session.get(StaffUser, agent)
        before = user.get_id()
        assert load_session_user(before).id == agent

        set_password(user, "a brand new passphrase", hasher=hasher)
        db.session.commit()
        assert load_session_user(before) is None
        after_password = user.get_id()
        assert load_session_user(after_password).id == agent

        disable(user)
        db.session.commit()
        assert load_session_user(after_password) is None
        assert load_session_user(user.get_id()) is None  # disabled: no session at all


@pytest.mark.parametrize("forged", ["", "1", "1:", "x:abc", "999:abc", "1:wrong-nonce"])
def test_a_forged_session_user_id_loads_nobody(app, agent, forged):
    with app.app_context():
        assert load_session_user(forged) is None


def test_roles_can_be_added_and_removed(app, agent):
    with app.app_context():
        user = db.session.get(StaffUser, agent)
        set_roles(user, [Role.OWNER, Role.AUDITOR])
        db.session.commit()

        assert db.session.get(StaffUser, agent).roles == {Role.OWNER, Role.AUDITOR}
        assert user.has_any_role({Role.AUDITOR, Role.ADMIN})
        assert not user.has_any_role({Role.AGENT})
