"""The contract every CMS adapter with a user store must pass, whatever the CMS.

A test module for an adapter subclasses ``AdapterContract`` and provides a ``world`` fixture
returning an ``AdapterWorld``: the adapter under test plus the CMS-side operations the contract
needs (create a user, log in the way the CMS does, log out, delete...). Every test below then runs
against that adapter, so all adapters are held to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from cms_adapters.base import Adapter, SiteUser

Environ = dict[str, Any]


class AdapterWorld(Protocol):
    adapter: Adapter

    def create_user(self, *, email: str, name: str, language: str | None = None) -> str:
        """Create a user the way the CMS stores them; return its id (as the adapter reports it)."""

    def login(self, user_id: str) -> Environ:
        """A WSGI environ fragment carrying a valid, fresh session of that user (cookies...)."""

    def logout(self, session: Environ) -> None:
        """Revoke that session the way the CMS's logout does."""

    def expired(self, user_id: str) -> Environ:
        """A session credential of that user that the CMS itself would refuse as expired."""

    def tampered(self, session: Environ) -> Environ:
        """The same session with its credential altered (another user id, a flipped byte...)."""

    def garbage(self) -> list[Environ]:
        """Malformed credentials: wrong field counts, non-numeric fields, huge, invalid UTF-8."""

    def update_user(self, user_id: str, **fields: str) -> None:
        """Change email / name / language in the CMS."""

    def delete_user(self, user_id: str) -> None:
        """Delete the user the way the CMS does."""

    def missing_id(self) -> str:
        """An id no user has."""


def request(session: Environ) -> Environ:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "REMOTE_ADDR": "127.0.0.1", **session}


class AdapterContract:
    @pytest.fixture
    def world(self) -> Iterator[AdapterWorld]:  # pragma: no cover - provided by each module
        raise NotImplementedError("each adapter test module provides its own world")

    def test_valid_session_identifies_the_user(self, world: AdapterWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada Lovelace")
        assert world.adapter.identify(request(world.login(user))) == user

    def test_credential_is_what_the_memo_keys_on(self, world: AdapterWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        session = world.login(user)
        credential = world.adapter.credential(request(session))
        assert credential
        assert world.adapter.credential(request({})) is None

    def test_sessions_of_two_users_are_not_confused(self, world: AdapterWorld) -> None:
        ada = world.create_user(email="ada@example.com", name="Ada")
        bob = world.create_user(email="bob@example.com", name="Bob")
        assert world.adapter.identify(request(world.login(ada))) == ada
        assert world.adapter.identify(request(world.login(bob))) == bob

    def test_no_credential_is_anonymous(self, world: AdapterWorld) -> None:
        assert world.adapter.identify(request({})) is None

    def test_tampered_credential_is_nobody(self, world: AdapterWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        assert world.adapter.identify(request(world.tampered(world.login(user)))) is None

    def test_expired_credential_is_nobody(self, world: AdapterWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        assert world.adapter.identify(request(world.expired(user))) is None

    def test_logged_out_session_is_nobody(self, world: AdapterWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        session = world.login(user)
        world.logout(session)
        assert world.adapter.identify(request(session)) is None

    def test_deleted_user_is_nobody(self, world: AdapterWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        session = world.login(user)
        world.delete_user(user)
        assert world.adapter.identify(request(session)) is None
        assert world.adapter.get_user(user) is None

    def test_garbage_credentials_are_nobody_and_raise_nothing(self, world: AdapterWorld) -> None:
        world.create_user(email="ada@example.com", name="Ada")
        cases = world.garbage()
        assert len(cases) >= 4, "cover wrong field counts, non-numbers, huge values, bad UTF-8"
        for case in cases:
            assert world.adapter.identify(request(case)) is None, case

    def test_get_user_reads_the_profile(self, world: AdapterWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada Lovelace", language="fr")
        found = world.adapter.get_user(user)
        assert isinstance(found, SiteUser)
        assert found.id == user
        assert found.email == "ada@example.com"
        assert found.name == "Ada Lovelace"
        assert found.language in ("fr", "fr-FR", "fr_FR")

    def test_get_user_of_a_missing_id_is_none(self, world: AdapterWorld) -> None:
        assert world.adapter.get_user(world.missing_id()) is None

    def test_profile_changes_change_the_fingerprint(self, world: AdapterWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        before = world.adapter.get_user(user)
        world.update_user(user, email="ada@lovelace.example")
        after = world.adapter.get_user(user)
        assert before is not None
        assert after is not None
        assert after.email == "ada@lovelace.example"
        assert after.fingerprint != before.fingerprint

    def test_iter_users_streams_every_user_in_id_order(self, world: AdapterWorld) -> None:
        ids = [world.create_user(email=f"u{i}@example.com", name=f"User {i}") for i in range(25)]
        users = world.adapter.iter_users()
        assert isinstance(users, Iterator), "iter_users streams: an iterator, not a list"
        listed = [u.id for u in users]
        assert set(ids) <= set(listed)
        assert listed == sorted(listed, key=_id_order)

    def test_iter_users_since_returns_only_recent_changes(self, world: AdapterWorld) -> None:
        first = world.create_user(email="old@example.com", name="Old")
        everyone = list(world.adapter.iter_users())
        assert first in [u.id for u in everyone]
        far_future = max((u.registered_at for u in everyone if u.registered_at), default=None)
        if far_future is None:
            pytest.skip("this CMS keeps no registration or change dates")
        from datetime import timedelta

        later = list(world.adapter.iter_users(since=far_future + timedelta(days=1)))
        assert first not in [u.id for u in later]


def _id_order(user_id: str) -> tuple[int, str]:
    return (int(user_id), "") if user_id.isdigit() else (0, user_id)
