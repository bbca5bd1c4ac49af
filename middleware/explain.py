"""``proabono-bridge explain``: the gate's reasoning for one path and user, as readable lines.

It runs the same steps as a request (canonical forms, the governing rule, the customer reference,
the snapshot, the verdict) and prints each one, so an admin can see why a page is or is not gated
without reading logs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from bridge.errors import BillingError
from middleware.gate import Gate
from middleware.paths import BadPath, path_forms
from middleware.rules import request_methods


def explain(gate: Gate, target: str, *, user: str | None, method: str = "GET") -> list[str]:
    parts = urlsplit(target)
    environ = {
        "REQUEST_METHOD": method.upper(),
        "PATH_INFO": parts.path or "/",
        "QUERY_STRING": parts.query,
    }
    lines = [f"request: {method.upper()} {target}"]
    try:
        forms = path_forms(environ)
    except BadPath as exc:
        return [*lines, f"path: refused with 400 ({exc})"]
    lines.append(f"path forms: {', '.join(forms)}")
    rule = gate.rules.match(request_methods(environ), forms, parts.query)
    if rule is None:
        lines.append("rule: none matches -> the site answers, ungated")
        return lines
    config = rule.config
    need = f" {config.require} of " if len(config.features) > 1 else " "
    lines.append(
        f"rule: {rule.label} needs{need}{', '.join(config.features)}"
        f" (min_remaining {config.min_remaining}, deny {config.deny}, on outage {config.on_outage})"
    )
    if user is None:
        return [*lines, "user: anonymous -> deny login_required"]
    customer = gate.bridge.reference_for(user)
    lines.append(f"user: {user} -> customer {customer}")
    try:
        state = gate.bridge.state(customer)
    except BillingError as exc:
        outcome = (
            "allow (on_outage = allow)"
            if config.on_outage == "allow"
            else "deny billing_unavailable"
        )
        return [*lines, f"billing: unavailable ({exc}) -> {outcome}"]
    sub = state.subscription
    if sub is None:
        lines.append("subscription: none")
    else:
        lines.append(f"subscription: {sub.reference_offer} {sub.status}/{sub.state}")
    for feature in config.features:
        right = state.right(feature)
        if right is None:
            lines.append(f"  {feature}: no usage -> not allowed")
        elif right.is_quantity:
            left = "unlimited" if right.remaining is None else f"{right.remaining} left"
            lines.append(f"  {feature}: {right.type_feature}, {left}")
        else:
            lines.append(f"  {feature}: OnOff, {'enabled' if right.enabled else 'disabled'}")
    verdict = state.check(
        config.features, require_all=config.require == "all", min_remaining=config.min_remaining
    )
    lines.append("decision: allow" if verdict.allowed else f"decision: deny {verdict.reason}")
    return lines
