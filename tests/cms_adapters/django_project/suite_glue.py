"""``middleware.django``: the test project behind the gate (``wrap`` in wsgi.py, or
``GateMiddleware`` in MIDDLEWARE), configured from
``settings.PROABONO_BRIDGE``, users logging in through Django's own views, billing answered by
``responses`` at the transport seam. Run by ``tests/middleware/test_django_glue.py`` in a child
process (see ``harness``)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import pytest
import responses

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.cms_adapters.django_project.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import override_settings  # noqa: E402
from werkzeug.test import Client, TestResponse  # noqa: E402

from bridge.errors import ConfigError  # noqa: E402
from cms_adapters.django import InProcessDjangoAdapter  # noqa: E402
from cms_adapters.header import HeaderAdapter  # noqa: E402
from middleware.django import wrap  # noqa: E402
from tests.middleware.billing_double import BASE, BillingDouble  # noqa: E402

PASSWORD = "correct horse battery staple"
TMP = Path(os.environ.get("BRIDGE_TEST_TMP") or tempfile.mkdtemp())


def bridge_settings(**sections: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "billing": {"url": BASE, "agent_key": "agent", "api_key": "key", "retries": 0},
        "site": {
            "base_url": "https://site.example",
            "login_url": "/accounts/login/",
            "secret_key": "s" * 32,
        },
        "rule": [{"path": "/premium/**", "feature": "premium-articles"}],
        "inject": {"enabled": False},
        "cache": {"identity_ttl": 0},
        "state": {"path": str(TMP / "state.db")},
    }
    data.update(sections)
    return data


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


@pytest.fixture
def billing() -> Iterator[BillingDouble]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield BillingDouble(mock)


@pytest.fixture(params=["wrap", "middleware", "middleware-inject"])
def site(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The project as deployed: ``wsgi.py`` wrapped, or ``GateMiddleware`` first in MIDDLEWARE
    (with HTML injection on, every page is re-streamed: Django's cookies must survive that)."""
    inject = {"enabled": request.param.endswith("inject")}
    with override_settings(PROABONO_BRIDGE=bridge_settings(inject=inject)):
        if request.param == "wrap":
            yield wrap(get_wsgi_application())
            return
        chain = ["middleware.django.GateMiddleware", *settings.MIDDLEWARE]
        with override_settings(MIDDLEWARE=chain):
            yield get_wsgi_application()


def member(username: str, **fields: Any) -> str:
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.com", **fields
    )
    return str(user.pk)


def csrf_token(client: Client, path: str = "/accounts/login/") -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def log_in(client: Client, username: str) -> None:
    """Through the gate and Django's LoginView, as a browser does."""
    form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf_token(client)}
    response = client.post("/accounts/login/", data=form)
    assert response.status_code == 302, response.text
    assert client.get_cookie("sessionid") is not None


def premium(client: Client, **headers: str) -> TestResponse:
    return client.get("/premium/article-1", headers=headers)


def test_anonymous_gets_the_paywall(site: Any, billing: BillingDouble) -> None:
    response = premium(Client(site))
    assert response.status_code == 402
    assert b"member-only" not in response.data
    assert "no-store" in response.headers["Cache-Control"]
    assert "/accounts/login/?next=" in response.text
    assert billing.billing_calls() == 0


def test_logged_in_member_reads_premium_content(site: Any, billing: BillingDouble) -> None:
    user = member("ada", first_name="Ada", last_name="Lovelace")
    billing.member(f"user-{user}", "premium-articles")
    client = Client(site)
    log_in(client, "ada")
    response = premium(client)
    assert response.status_code == 200, response.text
    assert b"member-only content" in response.data
    cache_control = response.headers["Cache-Control"]
    assert "private" in cache_control
    assert "public" not in cache_control
    assert "Cookie" in response.headers.get("Vary", "")


def test_logged_in_non_member_is_asked_to_subscribe(site: Any, billing: BillingDouble) -> None:
    member("bob")
    client = Client(site)
    log_in(client, "bob")
    response = premium(client, Accept="application/json")
    assert response.status_code == 402
    assert response.json is not None
    assert response.json["error"] == "no_subscription"


def test_logout_through_django_closes_the_door(site: Any, billing: BillingDouble) -> None:
    user = member("ada")
    billing.member(f"user-{user}", "premium-articles")
    client = Client(site)
    log_in(client, "ada")
    session = client.get_cookie("sessionid")
    assert session is not None
    stolen = session.value
    assert premium(client).status_code == 200
    response = client.post("/accounts/logout/", data={"csrfmiddlewaretoken": csrf_token(client)})
    assert response.status_code == 302
    assert premium(client).status_code == 402
    replay = Client(site)
    replay.set_cookie("sessionid", stolen)
    assert premium(replay).status_code == 402  # the old cookie is revoked, not just forgotten


def test_free_pages_pass_untouched(site: Any, billing: BillingDouble) -> None:
    response = Client(site).get("/")
    assert response.status_code == 200
    assert "free page for anonymous" in response.text
    assert billing.billing_calls() == 0


def test_views_read_the_decision(site: Any, billing: BillingDouble) -> None:
    user = member("ada")
    billing.member(f"user-{user}", "premium-articles")
    client = Client(site)
    log_in(client, "ada")
    response = client.get("/premium/decision")
    assert response.status_code == 200
    assert response.text.startswith("allow")
    assert f"user={user}" in response.text


def test_profile_reaches_billing_from_django(site: Any, billing: BillingDouble) -> None:
    member("ada", first_name="Ada", last_name="Lovelace")
    client = Client(site)
    log_in(client, "ada")
    response = client.get("/_billing/subscribe/premium")
    assert response.status_code in (302, 303), response.text
    assert billing.upserts
    assert billing.upserts[-1]["Email"] == "ada@example.com"
    assert billing.upserts[-1]["Name"] == "Ada Lovelace"


def test_adapter_defaults_to_django_in_process_with_its_options() -> None:
    with override_settings(PROABONO_BRIDGE=bridge_settings(adapter={"language_field": "language"})):
        gate = wrap(get_wsgi_application())
    assert isinstance(gate.adapter, InProcessDjangoAdapter)
    assert gate.adapter.language_field == "language"


def test_a_named_adapter_kind_goes_through_the_registry() -> None:
    adapter = {"kind": "header", "trusted_proxies": ["10.0.0.1"]}
    with override_settings(PROABONO_BRIDGE=bridge_settings(adapter=adapter)):
        gate = wrap(get_wsgi_application())
    assert isinstance(gate.adapter, HeaderAdapter)


def test_a_config_file_instead_of_the_dict(tmp_path: Path) -> None:
    file = tmp_path / "bridge.toml"
    file.write_text(
        f'[billing]\nurl = "{BASE}"\nagent_key = "a"\napi_key = "k"\n'
        '[[rule]]\npath = "/docs/**"\nfeature = "docs"\n'
        '[site]\nsecret_key = "ssssssssssssssssssssssss"\n[adapter]\nkind = "header"\n'
    )
    with override_settings(PROABONO_BRIDGE_CONFIG=str(file)):
        gate = wrap(get_wsgi_application())
    assert [r.config.path for r in gate.rules.rules] == ["/docs/**"]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (["not", "a", "dict"], ImproperlyConfigured),
        ({"adapter": {"no_such_option": 1}}, ConfigError),
        ({"billing": {"retries": "many"}}, ConfigError),
    ],
    ids=["not-a-dict", "unknown-adapter-option", "bad-value"],
)
def test_bad_settings_say_what_is_wrong(value: Any, error: type[Exception]) -> None:
    with override_settings(PROABONO_BRIDGE=value), pytest.raises(error):
        wrap(get_wsgi_application())
