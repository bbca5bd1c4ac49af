"""The paywall page: site owners' templates, escaping, and rules added from Python."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from bridge.config import RuleConfig
from bridge.entitlements import Reason
from middleware.paywall import Paywall
from tests.middleware.billing_double import SiteUnderGate


def paywall(templates: Path | None = None) -> Paywall:
    return Paywall(
        base_url="https://site.example", login_url="/login", mount="/_billing", templates=templates
    )


def test_site_owner_templates_win_per_reason_then_in_general(tmp_path: Path) -> None:
    (tmp_path / "paywall.html").write_text("<h1>$title</h1><a href='$action_url'>$action_label</a>")
    (tmp_path / "paywall-suspended.html").write_text("<p>Come back! $action_url</p>")
    pw = paywall(tmp_path)
    general = pw.deny(Reason.NO_SUBSCRIPTION, "premium", "/premium/x", json_client=False).body
    expected = b"<h1>Subscribe to continue</h1><a href='/_billing/offers?next=/premium/x'>"
    assert general == expected + b"See the offers</a>"
    specific = pw.deny(Reason.SUSPENDED, "premium", "/premium/x", json_client=False).body
    assert specific == b"<p>Come back! /_billing/restart?next=/premium/x</p>"


def test_values_are_escaped_in_pages(tmp_path: Path) -> None:
    page = paywall().deny(
        Reason.FEATURE_MISSING, '<script>"x"</script>', "/p?a=1&b=2", json_client=False
    )
    assert b"<script>" not in page.body
    assert b"&lt;script&gt;" in page.body
    assert b"/_billing/offers?next=/p%3Fa%3D1%26b%3D2" in page.body


def test_login_url_with_a_query_keeps_it() -> None:
    pw = Paywall(
        base_url="https://site.example", login_url="/wp-login.php?action=login", mount="/_billing"
    )
    assert (
        pw.action_url(Reason.LOGIN_REQUIRED, "/premium/x")
        == "/wp-login.php?action=login&next=/premium/x"
    )


def test_json_links_are_absolute_from_configuration_not_from_the_host_header() -> None:
    payload = paywall().links(Reason.SUSPENDED, "/premium/x")
    assert payload["action"] == "https://site.example/_billing/restart?next=/premium/x"
    assert payload["offers"] == "https://site.example/_billing/offers"


@pytest.fixture
def world() -> Iterator[SiteUnderGate]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield SiteUnderGate(rsps)


def test_rules_can_be_added_from_python(world) -> None:
    assert world.get("/reports/q3", user="bob").status_code == 200
    world.gate.add_rule(RuleConfig(path="/reports/**", feature="reports"))
    assert world.get("/reports/q3", user="bob").status_code == 402
    assert world.get("/premium/x", user="bob").status_code == 402, "existing rules stay"


def test_host_header_never_makes_absolute_urls(world) -> None:
    response = world.client.get(
        "/premium/x", headers={"Host": "evil.example", "Accept": "application/json"}
    )
    assert b"evil.example" not in response.data
    assert response.json["links"]["login"].startswith("https://site.example/login?next=")
