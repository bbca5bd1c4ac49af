"""``Gate``: WSGI middleware that lets a request reach the site only when the user's subscription
has the feature its path needs.

One request (the hot path):

1. the bridge's own endpoints (``/_billing/...``) are answered here;
2. the path is canonicalised (400 if it cannot be) and matched against the rules; no rule → the
   site answers, untouched (apart from HTML injection, when on);
3. the user is identified by the adapter (memoised per credential);
4. the customer's snapshot comes from the entitlement cache (no billing call when warm);
5. allowed → the site answers with ``Cache-Control: private`` and ``Vary: Cookie`` forced on;
   denied → the paywall (402), JSON 402 for API clients, the rule's redirect or 404.

The decision goes to ``environ["bridge.decision"]`` and to the ``bridge.gate`` log.

Security defaults: a billing outage denies (``on_outage = "deny"``) with a 503 page, never a 500 and
never "no subscription"; a request that is let through during an outage without a snapshot has its
conditional and Range headers removed, so it cannot turn into a 304 or a 206 of member bytes.
"""

from __future__ import annotations

import io
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.config import Config, RuleConfig
from bridge.entitlements import CustomerState, Reason
from bridge.errors import BillingError
from bridge.service import Bridge
from bridge.sync import Sync
from cms_adapters.base import Adapter, MemoisedIdentity
from middleware.endpoints import Endpoints
from middleware.http import (
    CONDITIONAL_HEADERS,
    PRIVATE_HEADERS,
    header_index,
    private_headers,
    request_target,
    wants_json,
    without_headers,
)
from middleware.inject import (
    CACHE_HEADER,
    CONTENT_LENGTH,
    CONTENT_TYPE,
    HEADER_KINDS,
    OTHER_HEADER,
    Marker,
    Notices,
    header_kind,
    inject_into,
    inject_page,
    notices_for,
)
from middleware.paths import BadPath, path_forms
from middleware.paywall import DenyResponse, Paywall, plain, redirect
from middleware.registration import COOKIE, OfferChoice
from middleware.rules import Rule, RuleSet, request_methods

log = logging.getLogger("bridge.gate")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
StartResponse = Callable[..., Any]

#: Bounds of the hot-path memos (request shape → rule, snapshot → decision, snapshot → notices).
MAX_MEMO_ENTRIES = 4096
MAX_MEMO_TARGET = 1024  # longer paths + queries are matched every time, never memoised
#: Pages up to this declared length are injected whole and keep a (corrected) Content-Length.
MAX_HELD_BODY = 1024 * 1024
#: "Not memoised yet" (the memos also hold None). Variables that may hold it are typed ``Any``:
#: compiled with mypyc, a narrower annotation is checked at run time.
_UNKNOWN: Any = object()


@dataclass(frozen=True, slots=True)
class Decision:
    """What the gate decided for a request, and why. Immutable: one is shared by every request
    of the same user under the same rule while the user's snapshot lasts."""

    allowed: bool
    reason: Reason | None = None
    feature: str | None = None
    rule: str | None = None
    user: str | None = None
    customer: str | None = None
    stale: bool = False
    outage_pass: bool = False

    def describe(self) -> str:
        verdict = "allow" if self.allowed else f"deny {self.reason}"
        parts = [verdict, f"rule={self.rule}", f"user={self.user}", f"feature={self.feature}"]
        if self.stale:
            parts.append("stale")
        if self.outage_pass:
            parts.append("outage-pass")
        return " ".join(parts)


class Gate:
    """Gate ``app`` by the configured rules. See the module docstring for the request path."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        adapter: Adapter,
        config: Config | None = None,
        bridge: Bridge | None = None,
        rules: Iterable[RuleConfig] | None = None,
        sync: Sync | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if bridge is None:
            if config is None:
                raise TypeError("Gate needs config= or bridge=")
            bridge = Bridge(config, clock=clock)
        self.app = app
        self.bridge = bridge
        self.config = config = bridge.config
        self.adapter = adapter
        self.clock = clock
        self.sync = sync
        self.identity = MemoisedIdentity(
            adapter,
            ttl=config.cache.identity_ttl,
            on_identified=sync.observe if sync is not None else None,
        )
        self.rules = RuleSet(config.rules if rules is None else rules)
        self.mount = config.site.mount
        self.inject = config.inject.enabled
        self.marker = Marker(config.inject.links_marker.encode())
        self.paywall = Paywall(
            base_url=config.site.base_url,
            login_url=config.site.login_url,
            mount=self.mount,
            templates=config.site.paywall_templates,
        )
        self.offers = (
            OfferChoice(
                secret_key=config.site.secret_key,
                register_url=config.registration.register_url,
                offer_param=config.registration.offer_param,
                mount=self.mount,
                secure=config.site.base_url.startswith("https://"),
            )
            if config.site.secret_key
            else None
        )
        self.endpoints = Endpoints(self)
        self._routes: dict[tuple[Any, ...], Rule | str | None] = {}

    def add_rule(self, rule: RuleConfig) -> None:
        """Add a rule from Python (precedence is recomputed)."""
        self.rules = RuleSet(
            [r.config for r in sorted(self.rules.rules, key=lambda r: r.index)] + [rule]
        )

    # --- the request path -----------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path_info = environ.get("PATH_INFO") or "/"
        if path_info.startswith(self.mount) and (
            len(path_info) == len(self.mount) or path_info[len(self.mount)] == "/"
        ):
            return self.endpoints(environ, start_response)
        try:
            rule = self._route(environ, path_info)
        except BadPath as exc:
            return self.send(
                plain("400 Bad Request", f"Bad request path: {exc}.\n"), environ, start_response
            )
        if self.offers is not None and (
            path_info == self.offers.register_path or COOKIE in environ.get("HTTP_COOKIE", "")
        ):
            detour = self._offer_workflow(environ, start_response)
            if detour is not None:
                return detour
        if rule is None:
            if not self.inject:
                return self.app(environ, start_response)
            return self._respond(environ, start_response, None, False)
        decision, state = self.decide(environ, rule)
        environ["bridge.decision"] = decision
        environ["bridge.user"] = decision.user
        environ["bridge.state"] = state
        if log.isEnabledFor(logging.INFO):
            log.info("%s %s: %s", environ.get("REQUEST_METHOD"), path_info, decision.describe())
        if not decision.allowed:
            return self.send(self.denial(environ, rule, decision), environ, start_response)
        if decision.outage_pass:
            for name in CONDITIONAL_HEADERS:
                environ.pop(name, None)
        return self._respond(environ, start_response, state, True)

    def _route(self, environ: dict[str, Any], path_info: str) -> Rule | None:
        """The rule governing this request (None: no rule), memoised per request shape; raises
        ``BadPath`` for a path that cannot be canonicalised."""
        rules = self.rules
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")  # a gated raw form counts
        if rules.path_only:  # the method and query cannot change the rule
            if len(path_info) > MAX_MEMO_TARGET:
                return self._match(environ, rules, "")
            key: tuple[Any, ...] = (rules, path_info, raw)
        else:
            method = environ.get("REQUEST_METHOD") or "GET"
            query = environ.get("QUERY_STRING") or ""
            if (
                (rules.needs_query and method not in ("GET", "HEAD"))  # form bodies count as query
                or "HTTP_X_HTTP_METHOD_OVERRIDE" in environ
                or "HTTP_X_HTTP_METHOD" in environ
                or "HTTP_X_METHOD_OVERRIDE" in environ
                or len(path_info) + len(query) > MAX_MEMO_TARGET
            ):
                return self._match(environ, rules, query)
            key = (rules, method, path_info, query, raw)
        found: Any = self._routes.get(key, _UNKNOWN)  # Rule | str (a BadPath) | None
        if found is _UNKNOWN:
            try:
                found = self._match(environ, rules, environ.get("QUERY_STRING") or "")
            except BadPath as exc:
                found = str(exc)
            routes = self._routes
            if len(routes) >= MAX_MEMO_ENTRIES:
                routes.clear()  # a flood of distinct URLs costs the memo, never memory
            routes[key] = found
        if isinstance(found, str):
            raise BadPath(found)
        return found  # type: ignore[no-any-return]

    @staticmethod
    def _match(environ: dict[str, Any], rules: RuleSet, query: str) -> Rule | None:
        forms = path_forms(environ)
        if rules.needs_query and environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            query = with_form_body(environ, query)
        return rules.match(request_methods(environ), forms, query)

    def identify(self, environ: Mapping[str, Any]) -> str | None:
        return self.identity.identify(environ)

    def _offer_workflow(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes] | None:
        """Offer chosen before registering: remember it at ``/register?offer=``; once the user
        is known, send them to subscribe to it (see ``middleware.registration``)."""
        offers = self.offers
        assert offers is not None
        chosen = offers.chosen(environ)
        if chosen is not None:
            cookie = offers.remember(chosen)

            def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                return start_response(status, [*headers, cookie], exc_info)

            return self.app(environ, start)
        offer = offers.pending(environ)
        if offer is None or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return None
        try:
            user = None if wants_json(environ) else self.identify(environ)
        except Exception:  # the user store is down: keep the choice for a later request
            log.exception("identifying the user failed")
            return None
        if user is None:
            return None  # not signed in yet (still registering): keep the choice for later
        if self.sync is not None:
            self.sync.decline_welcome(self.bridge.reference_for(user))
        response = redirect(offers.subscribe_url(offer, request_target(environ)))
        response = DenyResponse(response.status, [*response.headers, offers.forget()], b"")
        return self.send(response, environ, start_response)

    def decide(
        self, environ: Mapping[str, Any], rule: Rule
    ) -> tuple[Decision, CustomerState | None]:
        try:
            user = self.identity.identify(environ)
        except Exception:  # an adapter's store being down must not become a 500
            log.exception("identifying the user failed")
            return Decision(False, Reason.BILLING_UNAVAILABLE, rule=rule.label), None
        if user is None:
            return Decision(False, Reason.LOGIN_REQUIRED, rule=rule.label), None
        customer = self.bridge.reference_for(user)
        try:
            state = self.bridge.store.get(customer)
        except Exception as exc:  # a BillingError, or an answer we could not read: never a 500
            if not isinstance(exc, BillingError):
                log.exception("reading the rights of %s failed", customer)
            label = rule.label
            if rule.config.on_outage == "allow":
                return Decision(
                    True, rule=label, user=user, customer=customer, outage_pass=True
                ), None
            return Decision(
                False, Reason.BILLING_UNAVAILABLE, rule=label, user=user, customer=customer
            ), None
        # A snapshot never changes: its decision for a rule is computed once, and kept with it.
        decision = state.memo.get(rule)
        if decision is not None:
            return decision, state
        verdict = state.check(
            rule.config.features,
            require_all=rule.config.require == "all",
            min_remaining=rule.config.min_remaining,
        )
        decision = state.memo[rule] = Decision(
            verdict.allowed,
            verdict.reason,
            verdict.feature,
            rule=rule.label,
            user=user,
            customer=customer,
            stale=state.stale,
        )
        return decision, state

    # --- responses ------------------------------------------------------------------------

    def denial(self, environ: Mapping[str, Any], rule: Rule, decision: Decision) -> DenyResponse:
        assert decision.reason is not None
        deny = rule.config.deny
        if deny == "404" and decision.reason is not Reason.BILLING_UNAVAILABLE:
            return plain("404 Not Found", "Not Found\n")
        target_url = rule.config.redirect_to
        if target_url is not None and decision.reason is not Reason.BILLING_UNAVAILABLE:
            return redirect(target_url)
        return self.paywall.deny(
            decision.reason,
            decision.feature,
            request_target(environ),
            json_client=wants_json(environ),
        )

    @staticmethod
    def send(
        response: DenyResponse, environ: Mapping[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        start_response(response.status, response.headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return []
        return [response.body]

    def _respond(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        state: CustomerState | None,
        private: bool,
    ) -> Iterable[bytes]:
        """Call the site; force private caching on gated paths; inject into HTML pages.

        A page to inject into whose ``Content-Length`` the site declared (so the site has it whole
        already) is rewritten at once and keeps a correct ``Content-Length``: the start of the
        response is held until the body is read. Other pages are rewritten as they stream, and
        lose their ``Content-Length``.
        """
        if not self.inject:
            if not private:
                return self.app(environ, start_response)

            def start_private(
                status: str, headers: list[tuple[str, str]], exc_info: Any = None
            ) -> Any:
                return start_response(status, private_headers(headers), exc_info)

            return self.app(environ, start_private)

        response = _PageResponse(self, environ, start_response, state, private)
        return response.finish(self.app(environ, response.start))

    def _known_state(self, environ: Mapping[str, Any]) -> CustomerState | None:
        """The user's snapshot for the notices of a page no rule gates: only one already cached
        (a fill is started in the background otherwise): an ungated page never waits on billing."""
        try:
            user = self.identify(environ)
            if user is None:
                return None
            reference = self.bridge.reference_for(user)
            state = self.bridge.store.peek(reference)
            if state is None:
                self.bridge.store.prefetch(reference)
            return state
        except Exception:  # no banner is better than no page
            log.debug("no notices: state unavailable", exc_info=True)
            return None

    def _notices(self, state: CustomerState) -> Notices | None:
        """What to inject for this snapshot (None: nothing), kept with it unless it speaks of a
        trial's end (which depends on the time). Callers look in ``state.memo`` first."""
        rendered = notices_for(
            state,
            mount=self.mount,
            now=self.clock(),
            trial_warning=self.config.inject.trial_warning,
        )
        notices = None if rendered.empty else rendered
        sub = state.subscription
        if sub is None or not sub.is_trial:
            state.memo[self] = notices  # this gate's notices (its mount, its wording)
        return notices


MAX_FORM_BODY = 1024 * 1024


def with_form_body(environ: dict[str, Any], query: str) -> str:
    """The query string plus the fields of a URL-encoded form body, which PHP sites route on too
    (``POST /`` with ``p=123`` shows post 123). The body is read once and put back for the site."""
    content_type = str(environ.get("CONTENT_TYPE", "")).lower()
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return query
    length = str(environ.get("CONTENT_LENGTH") or "")
    stream = environ.get("wsgi.input")
    if not length.isdigit() or stream is None or int(length) > MAX_FORM_BODY:
        return query
    body = stream.read(int(length))
    environ["wsgi.input"] = io.BytesIO(body)
    fields = body.decode("latin-1")
    return f"{query}&{fields}" if query else fields


class _PageResponse:
    """One response of the site while injection is on (see ``Gate._respond``).

    The site's ``start_response`` is only recorded (``start``); what to send is worked out once the
    site has returned its body (``finish``), so that a page of declared length is read, rewritten
    and started in one step. A site that writes through the legacy ``write()`` or starts its
    response while its body is iterated gets the streaming rewrite (``_send_streamed``) instead.
    """

    __slots__ = (
        "environ",
        "gate",
        "held",
        "notices",
        "private",
        "real_write",
        "sent",
        "start_response",
        "state",
    )

    def __init__(
        self,
        gate: Gate,
        environ: dict[str, Any],
        start_response: StartResponse,
        state: CustomerState | None,
        private: bool,
    ) -> None:
        self.gate = gate
        self.environ = environ
        self.start_response = start_response
        self.state = state
        self.private = private  # a gated path: cache headers made private
        self.held: tuple[str, list[tuple[str, str]], Any] | None = None
        self.sent = False
        # Set once the response has started (``notices`` only when streamed), read only after:
        self.notices: Notices | None
        self.real_write: Callable[[bytes], Any] | None

    def start(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if self.sent:  # the start already went out: the server re-raises ``exc_info``
            return self.start_response(status, headers, exc_info)
        self.held = (status, headers, exc_info)
        return self.write

    def write(self, data: bytes) -> None:
        """The legacy ``write()``: the response starts now, streamed (what is written passes
        as is; the body the site returns is injected)."""
        if not self.sent:
            self._send_streamed()
        assert self.real_write is not None
        self.real_write(data)

    def finish(self, body: Iterable[bytes]) -> Iterable[bytes]:
        if self.sent:  # started by write(): the rest streams
            notices = self.notices
            return body if notices is None else inject_into(body, notices, self.gate.marker)
        held = self.held
        if held is None:  # the site starts its response on first iteration
            return _LateInjection(body, self)
        self.sent = True
        status, headers, exc_info = held
        headers, notices, length_at = self._head(status, headers)
        if notices is None:
            self.real_write = self.start_response(status, headers, exc_info)
            return body
        if (
            length_at is not None
            and int(headers[length_at][1]) <= MAX_HELD_BODY
            and self.environ.get("REQUEST_METHOD") != "HEAD"
        ):
            # The site has the page whole (it declared its length): read, rewritten, and
            # started with its new length (``headers`` is the gate's own copy).
            try:
                page = b"".join(body)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
            page = inject_page(page, notices, self.gate.marker)[0]
            headers[length_at] = ("Content-Length", str(len(page)))
            self.real_write = self.start_response(status, headers, exc_info)
            return [page]
        # Streamed, so the length is unknown (and a HEAD's is the GET's, which notices change).
        headers = without_headers(headers, "Content-Length")
        self.real_write = self.start_response(status, headers, exc_info)
        return inject_into(body, notices, self.gate.marker)

    def _head(
        self, status: str, headers: list[tuple[str, str]]
    ) -> tuple[list[tuple[str, str]], Notices | None, int | None]:
        """The headers to send, the notices to inject (None: the page is left as it is) and,
        with notices, where a valid ``Content-Length`` is in the headers to send (None: none).

        Pages injected into are 200 ``text/html`` answers without a content coding. Headers are
        read in one pass, classified by name without case folding (``header_kind``).
        """
        html = False
        length_at: int | None = None
        cache_headers = False
        kinds = HEADER_KINDS
        index = -1
        for name, value in headers:
            index += 1
            kind = kinds.get(name)
            if kind is None:
                kind = header_kind(name)
            if kind == OTHER_HEADER:
                continue
            if kind == CONTENT_TYPE:
                html = value.startswith("text/html") or value[:9].lower() == "text/html"
            elif kind == CONTENT_LENGTH:
                length_at = index if value.isascii() and value.isdigit() else None
            elif kind == CACHE_HEADER:
                cache_headers = True
            elif value.strip().lower() not in ("identity", ""):  # a content coding: untouched
                html = False
                cache_headers = True  # not read further: private_headers looks at them all
                break
        notices: Any = None  # Notices | None
        if html and status.startswith("200"):
            state = self.state
            if state is None:  # an ungated page (or an outage let through): what is cached
                state = self.gate._known_state(self.environ)
            if state is not None:
                notices = state.memo.get(self.gate, _UNKNOWN)
                if notices is _UNKNOWN:
                    notices = self.gate._notices(state)
        if self.private or notices is not None:  # a page with notices speaks to one user
            if not cache_headers:
                return [*headers, *PRIVATE_HEADERS], notices, length_at
            headers = private_headers(headers, has_cache_headers=True)
            if notices is not None and length_at is not None:  # rebuilt: the length moved
                length_at = header_index(headers, "Content-Length")
        return headers, notices, length_at

    def _send_streamed(self) -> None:
        """Start the held response for a body rewritten as it streams (without a length)."""
        assert self.held is not None, "the site sent a body before starting its response"
        status, headers, exc_info = self.held
        self.sent = True
        headers, notices, _ = self._head(status, headers)
        self.notices = notices
        if notices is not None:
            headers = without_headers(headers, "Content-Length")
        self.real_write = self.start_response(status, headers, exc_info)


class _LateInjection:
    """For sites that call start_response only when their body is first iterated."""

    def __init__(self, body: Iterable[bytes], response: _PageResponse) -> None:
        self._body = body
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._body)
        first = next(chunks, None)  # the site starts its response here
        response = self._response
        if not response.sent:
            response._send_streamed()
        if first is None:
            return
        rest = itertools.chain([first], chunks)
        notices = response.notices
        if notices is not None:
            yield from inject_into(rest, notices, response.gate.marker)
        else:
            yield from rest

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
