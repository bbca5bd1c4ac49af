"""The hot path's memos (rule per request shape; decision and notices kept with each snapshot)
never answer with an outdated rule, right or banner."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from bridge.config import RuleConfig
from tests.middleware.billing_double import (
    MEMBER_CONTENT,
    PATH_ONLY_RULES,
    RULES,
    SITE_KINDS,
    SiteUnderGate,
    environ_seen,
    site_under_gate,
)


@pytest.fixture(params=SITE_KINDS)
def world(request: pytest.FixtureRequest) -> Iterator[SiteUnderGate]:
    with site_under_gate(request.param, inject={"enabled": True}) as w:
        yield w


def test_a_new_snapshot_gets_a_new_decision(world) -> None:
    assert world.get("/premium/a", user="alice").status_code == 200
    assert world.get("/premium/a", user="alice").status_code == 200
    world.billing.subscribed("user-alice", "Suspended", "SuspendedPaymentFailed")
    world.bridge.refresh("user-alice")

    denied = world.get("/premium/a", user="alice")
    assert denied.status_code == 402
    assert MEMBER_CONTENT not in denied.data
    assert b"/_billing/restart" in denied.data


def test_a_new_snapshot_gets_a_new_banner(world) -> None:
    world.billing.member("user-alice", "premium-articles", "free-articles")
    assert b"billing-banner" not in world.get("/free/a", user="alice").data
    world.get("/premium/a", user="alice")  # fills the snapshot
    assert b"billing-banner" not in world.get("/free/a", user="alice").data
    world.billing.subscribed("user-alice", "Suspended", "SuspendedPaymentFailed")
    world.bridge.refresh("user-alice")
    world.get("/premium/a", user="alice")  # refills it

    assert b"billing-banner" in world.get("/free/a", user="alice").data


def test_a_rule_added_later_gates_a_path_already_served(world) -> None:
    assert world.get("/extra/a", user="bob").status_code == 200
    world.gate.add_rule(RuleConfig(path="/extra/**", feature="premium-articles"))

    denied = world.get("/extra/a", user="bob")
    assert denied.status_code == 402
    assert MEMBER_CONTENT not in denied.data


def test_a_bad_path_is_a_400_every_time(world) -> None:
    assert [world.get("/premium/%C0%AF").status_code for _ in range(3)] == [400, 400, 400]


@pytest.mark.parametrize("kind", SITE_KINDS)
def test_a_method_override_is_gated_after_the_plain_method_was_served(kind: str) -> None:
    rules = [{"path": "/admin/**", "feature": "premium-articles", "methods": ["DELETE"]}]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        world = SiteUnderGate(rsps, kind=kind, rule=rules)
        assert world.get("/admin/x", user="bob").status_code == 200  # the rule is DELETE-only
        overridden = world.get("/admin/x", user="bob", **{"X-HTTP-Method-Override": "DELETE"})
        world.close()

    assert overridden.status_code == 402
    assert MEMBER_CONTENT not in overridden.data


def test_the_site_sees_the_user_the_snapshot_and_the_decision(world) -> None:
    world.get("/premium/a", user="alice")

    seen = environ_seen[-1]
    assert seen["bridge.user"] == "alice"
    assert seen["bridge.state"].reference_customer == "user-alice"
    assert seen["bridge.state"].rights["premium-articles"].enabled
    assert seen["bridge.decision"].allowed
    assert seen["bridge.decision"].customer == "user-alice"


def test_rights_served_stale_in_an_outage_are_decided_and_reported_as_stale(world) -> None:
    world.get("/premium/a", user="alice")
    assert not environ_seen[-1]["bridge.decision"].stale
    world.billing.down = True
    world.clock.advance(600)  # past the ttl, within stale_ttl

    response = world.get("/premium/a", user="alice")

    assert response.status_code == 200
    assert environ_seen[-1]["bridge.decision"].stale, "not the fresh snapshot's decision"
    assert "stale" in environ_seen[-1]["bridge.decision"].describe()


@pytest.mark.parametrize("rules", ["all-rules", "path-only-rules"])
def test_a_gated_raw_request_line_is_gated_after_the_same_path_info_was_served(rules) -> None:
    with site_under_gate(rule=RULES if rules == "all-rules" else PATH_ONLY_RULES) as world:
        served = world.client.get("/free/x", environ_overrides={"RAW_URI": "/free/x"})
        smuggled = world.client.get("/free/x", environ_overrides={"RAW_URI": "/premium/x"})

    assert served.status_code == 200
    assert smuggled.status_code == 402, "the raw form of the request line is gated too"
    assert MEMBER_CONTENT not in smuggled.data
