"""The adapter contract, and Django-specific revocation and bad-input cases, for both modes of the
Django adapter on the database ``BRIDGE_TEST_DJANGO_DATABASE`` names. Run by
``tests/cms_adapters/test_django.py`` in a child process (see ``harness``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import django
import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.cms_adapters.django_project.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import override_settings  # noqa: E402

from cms_adapters.base import Adapter, IdentityUnavailable  # noqa: E402
from cms_adapters.django import (  # noqa: E402
    InProcessDjangoAdapter,
    django_adapter,
    session_data,
)
from cms_adapters.django.remote import RemoteDjangoAdapter  # noqa: E402
from tests.cms_adapters.contract import AdapterContract, request  # noqa: E402
from tests.cms_adapters.django_project.world import DjangoWorld  # noqa: E402

BACKEND = "django.contrib.auth.backends.ModelBackend"
OLD_KEY = settings.SECRET_KEY
NEW_KEY = "django-insecure-rotated-key-" + "9" * 40


def sqlalchemy_url() -> str:
    url = settings.DATABASE_URL
    return "sqlite:///" + urlsplit(url).path if url.startswith("sqlite:") else url


@pytest.fixture(scope="session", autouse=True)
def migrated() -> Iterator[None]:
    call_command("migrate", verbosity=0, interactive=False)
    yield
    connections.close_all()


@pytest.fixture(autouse=True)
def empty_site() -> Iterator[None]:
    yield
    Session.objects.all().delete()
    get_user_model().objects.all().delete()


def in_process_adapter() -> Adapter:
    return django_adapter(mode="in_process", language_field="language")


def remote_adapter(**options: object) -> Adapter:
    settings_: dict[str, object] = {
        "mode": "remote",
        "database_url": sqlalchemy_url(),
        "secret_key": settings.SECRET_KEY,
        "user_table": "accounts_member",
        "language_field": "language",
        **options,
    }
    return django_adapter(**settings_)  # type: ignore[arg-type]


class DjangoCases:
    """Beyond the contract: what Django revokes, and what Django stores."""

    make_adapter = staticmethod(in_process_adapter)

    def test_password_change_revokes(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        session = world.login(user)
        member = get_user_model().objects.get(pk=user)
        member.set_password("another password")
        member.save()
        assert world.adapter.identify(request(session)) is None

    def test_inactive_user_is_nobody(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        session = world.login(user)
        get_user_model().objects.filter(pk=user).update(is_active=False)
        assert world.adapter.identify(request(session)) is None

    def test_altered_cookie_is_nobody(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        key = world.session_key(world.login(user))
        flipped = key[:-1] + ("a" if key[-1] != "a" else "b")
        assert world.adapter.identify(request({"HTTP_COOKIE": f"sessionid={flipped}"})) is None

    def test_last_session_cookie_wins_as_in_django(self, world: DjangoWorld) -> None:
        ada = world.create_user(email="ada@example.com", name="Ada")
        bob = world.create_user(email="bob@example.com", name="Bob")
        first, last = world.session_key(world.login(ada)), world.session_key(world.login(bob))
        both = {"HTTP_COOKIE": f"sessionid={first}; other=1; sessionid={last}"}
        assert world.adapter.identify(request(both)) == bob

    def test_session_signed_with_another_key_is_nobody(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        member = get_user_model().objects.get(pk=user)
        hash_ = session_data.session_auth_hash(member.password, "someone else's key")
        forged = world.stored_session(
            {"_auth_user_id": user, "_auth_user_backend": BACKEND, "_auth_user_hash": hash_},
            secret="someone else's key",
        )
        assert world.adapter.identify(request(forged)) is None

    def test_session_made_our_way_is_accepted_by_django_and_us(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        member = get_user_model().objects.get(pk=user)
        hash_ = session_data.session_auth_hash(member.password, settings.SECRET_KEY)
        assert hash_ == member.get_session_auth_hash()
        session = world.stored_session(
            {"_auth_user_id": user, "_auth_user_backend": BACKEND, "_auth_user_hash": hash_}
        )
        assert world.adapter.identify(request(session)) == user

    def test_session_without_hash_is_nobody(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        session = world.stored_session({"_auth_user_id": user, "_auth_user_backend": BACKEND})
        assert world.adapter.identify(request(session)) is None

    @pytest.mark.parametrize("bad_id", ["", "abc", "-1", "0", "9" * 30, "1 OR 1=1", "\x00"])
    def test_get_user_of_a_malformed_id_is_none(self, world: DjangoWorld, bad_id: str) -> None:
        world.create_user(email="ada@example.com", name="Ada")
        assert world.adapter.get_user(bad_id) is None

    def test_iter_users_in_small_batches(self, world: DjangoWorld) -> None:
        ids = [world.create_user(email=f"u{i}@example.com", name=f"U {i}") for i in range(23)]
        world.adapter.batch_size = 5  # type: ignore[attr-defined]
        listed = [u.id for u in world.adapter.iter_users()]
        assert listed == ids

    def test_iter_users_since_takes_naive_utc_and_aware_times(self, world: DjangoWorld) -> None:
        old = world.create_user(email="old@example.com", name="Old")
        get_user_model().objects.filter(pk=old).update(date_joined=datetime(2020, 1, 1, tzinfo=UTC))
        new = world.create_user(email="new@example.com", name="New")
        for since in (datetime(2021, 1, 1), datetime(2021, 1, 1, 1, tzinfo=UTC)):
            assert [u.id for u in world.adapter.iter_users(since=since)] == [new]
        joined = world.adapter.get_user(old)
        assert joined is not None
        assert joined.registered_at == datetime(2020, 1, 1, tzinfo=UTC)

    def test_name_falls_back_to_username(self, world: DjangoWorld) -> None:
        user = world.create_user(email="", name="")
        found = world.adapter.get_user(user)
        assert found is not None
        assert found.name == get_user_model().objects.get(pk=user).username
        assert found.email is None


class TestInProcess(AdapterContract, DjangoCases):
    @pytest.fixture
    def world(self) -> DjangoWorld:
        adapter = in_process_adapter()
        assert isinstance(adapter, InProcessDjangoAdapter)
        return DjangoWorld(adapter)

    def test_rotated_secret_key_keeps_sessions_through_fallbacks(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        session = world.login(user)
        with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
            assert world.adapter.identify(request(session)) == user
        with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
            assert world.adapter.identify(request(session)) is None

    def test_backend_removed_from_settings_revokes(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        session = world.login(user)
        with override_settings(AUTHENTICATION_BACKENDS=["tests.nowhere.Backend"]):
            assert world.adapter.identify(request(session)) is None

    def test_identify_never_writes_the_session(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        session = world.login(user)
        before = list(Session.objects.values_list("session_key", "session_data"))
        with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
            world.adapter.identify(request(session))
        with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
            world.adapter.identify(request(session))
        assert list(Session.objects.values_list("session_key", "session_data")) == before

    def test_cookie_name_follows_django_settings(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        key = world.session_key(world.login(user))
        with override_settings(SESSION_COOKIE_NAME="site_session"):
            adapter = in_process_adapter()
            assert adapter.identify(request({"HTTP_COOKIE": f"site_session={key}"})) == user
            assert adapter.identify(request({"HTTP_COOKIE": f"sessionid={key}"})) is None


class TestRemote(AdapterContract, DjangoCases):
    @pytest.fixture
    def world(self) -> Iterator[DjangoWorld]:
        adapter = remote_adapter()
        assert isinstance(adapter, RemoteDjangoAdapter)
        yield DjangoWorld(adapter)
        adapter.engine.dispose()

    def test_rotated_secret_key_keeps_sessions_through_fallbacks(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        session = world.login(user)
        rotated = remote_adapter(secret_key=NEW_KEY, fallback_secret_keys=[OLD_KEY])
        assert rotated.identify(request(session)) == user
        assert remote_adapter(secret_key=NEW_KEY).identify(request(session)) is None

    def test_expiry_follows_the_clock(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        session = world.login(user)
        assert isinstance(world.adapter, RemoteDjangoAdapter)
        expires = Session.objects.get(session_key=world.session_key(session)).expire_date
        world.adapter.clock = lambda: expires.timestamp() - 1
        assert world.adapter.identify(request(session)) == user
        world.adapter.clock = lambda: expires.timestamp() + 1
        assert world.adapter.identify(request(session)) is None

    def test_database_down_is_an_outage_not_nobody(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        session = world.login(user)
        adapter = remote_adapter(session_table="no_such_table")
        with pytest.raises(IdentityUnavailable):  # the gate answers 503, not "sign in"
            adapter.identify(request(session))

    @pytest.mark.parametrize(
        "options",
        [
            {"mode": "sideways"},
            {"mode": "remote", "secret_key": "k"},
            {"mode": "remote", "database_url": "sqlite://"},
            {
                "mode": "remote",
                "database_url": "sqlite://",
                "secret_key": "k",
                "fallback_secret_keys": "one-key",
            },
        ],
        ids=["unknown-mode", "no-database", "no-secret", "fallbacks-not-a-list"],
    )
    def test_bad_settings_are_refused(self, options: dict[str, object]) -> None:
        with pytest.raises(ValueError, match=r"mode|database_url|secret_key"):
            django_adapter(**options)  # type: ignore[arg-type]


class TestRemoteSessionFormat:
    """Our reading of Django's session format, checked against Django's own code."""

    @pytest.mark.parametrize(
        "data",
        [{}, {"_auth_user_id": "1", "note": "é" * 3}, {"big": "x" * 5000}],
        ids=["empty", "unicode", "compressed"],
    )
    def test_both_ways(self, data: dict[str, object]) -> None:
        store = SessionStore()
        assert session_data.loads(store.encode(data), [settings.SECRET_KEY]) == data
        assert store.decode(session_data.dumps(data, settings.SECRET_KEY)) == data

    def test_signature_depends_on_key_and_salt(self) -> None:
        encoded = SessionStore().encode({"a": 1})
        assert session_data.loads(encoded, [NEW_KEY]) is None
        assert session_data.loads(encoded, [settings.SECRET_KEY], salt="other") is None
        assert session_data.loads(encoded, [NEW_KEY, settings.SECRET_KEY]) == {"a": 1}

    def test_zip_bomb_is_refused(self) -> None:
        bomb = {"x": "0" * (3 << 20)}
        encoded = session_data.dumps(bomb, settings.SECRET_KEY)
        assert len(encoded) < 20_000
        assert session_data.loads(encoded, [settings.SECRET_KEY]) is None


class TestAnyEngine:
    """In process, whatever ``SESSION_ENGINE`` the site uses (``harness`` sets it per run)."""

    @pytest.fixture
    def world(self) -> DjangoWorld:
        return DjangoWorld(in_process_adapter())

    def test_login_identifies_each_user(self, world: DjangoWorld) -> None:
        ada = world.create_user(email="ada@example.com", name="Ada")
        bob = world.create_user(email="bob@example.com", name="Bob")
        assert world.adapter.identify(request(world.login(ada))) == ada
        assert world.adapter.identify(request(world.login(bob))) == bob

    def test_logout_revokes(self, world: DjangoWorld) -> None:
        if settings.SESSION_ENGINE.endswith("signed_cookies"):
            pytest.skip("Django cannot revoke a signed-cookie session at logout either")
        user = world.create_user(email="ada@example.com", name="Ada")
        session = world.login(user)
        world.logout(session)
        assert world.adapter.identify(request(session)) is None

    def test_password_change_revokes(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        session = world.login(user)
        member = get_user_model().objects.get(pk=user)
        member.set_password("another password")
        member.save()
        assert world.adapter.identify(request(session)) is None

    def test_altered_cookie_is_nobody(self, world: DjangoWorld) -> None:
        user = world.create_user(email="ada@example.com", name="Ada")
        key = world.session_key(world.login(user))
        for i in (0, len(key) // 2, len(key) - 1):
            flipped = key[:i] + ("a" if key[i] != "a" else "b") + key[i + 1 :]
            assert world.adapter.identify(request({"HTTP_COOKIE": f"sessionid={flipped}"})) is None

    def test_garbage_cookies_are_nobody(self, world: DjangoWorld) -> None:
        world.create_user(email="ada@example.com", name="Ada")
        for case in world.garbage():
            assert world.adapter.identify(request(case)) is None, case
