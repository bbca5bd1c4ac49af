"""The transport seam of the client tests: ``responses`` in front of a real ``ProAbonoClient``.

``FakeBilling`` owns a ``responses.RequestsMock`` (every registered answer must be used), a client
whose clock, sleep and jitter are injected (no test ever waits), and the list of sleeps the client
asked for. ``Route`` is one row of the endpoint tables: the call, what must go on the wire, what
the service answers, and what the caller must get back. ``FakeBilling.check(route)`` plays a row.
"""

from __future__ import annotations

import base64
import json
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import responses

from bridge.client import ProAbonoClient, UpsertResult
from bridge.models import Customer, Model, Page

BASE_URL = "https://api-2.proabono.com"
AGENT_KEY = "agent-4b1e"
API_KEY = "apikey-S3CRET-7Zq"
#: Computed here, not by requests: ``Basic base64(agent:api)``.
BASIC_AUTH = "Basic " + base64.b64encode(f"{AGENT_KEY}:{API_KEY}".encode()).decode()

#: The injected wall clock, and how the reference writes it.
NOW = datetime(2025, 2, 12, 10, 10, 44, 120000, tzinfo=UTC)
NOW_STAMP = "2025-02-12T10:10:44.12Z"


class _NoBody:
    def __repr__(self) -> str:
        return "NO_BODY"


#: What ``Sent.body`` is when the request carried no body at all.
NO_BODY: Any = _NoBody()


@dataclass(frozen=True)
class Sent:
    """One request as it went on the wire."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Route:
    """One endpoint-table row: ``call`` must send exactly this and return ``expect(answer)``.

    ``segment`` says where a client built with ``segment=...`` adds ``ReferenceSegment``
    (``"query"``, ``"body"``), or ``None`` where the contract does not declare it.
    """

    name: str
    call: Callable[[ProAbonoClient], Any]
    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = NO_BODY
    answer: Any = None
    status: int = 200
    expect: Callable[[Any], Any] = field(default=lambda answer: answer)
    segment: str | None = None
    variant: str = "minimal"

    @property
    def id(self) -> str:
        return f"{self.name}-{self.variant}"


def model(cls: type[Model]) -> Callable[[Any], Any]:
    """The caller gets the answer parsed into ``cls``."""
    return cls.from_json


def page_of(cls: type[Model]) -> Callable[[Any], Any]:
    """The caller gets the envelope as a ``Page`` of ``cls``."""
    return lambda answer: Page.from_json(answer, cls)


def items_of(cls: type[Model]) -> Callable[[Any], Any]:
    """The caller gets the envelope's ``Items`` as a list of ``cls``."""
    return lambda answer: [cls.from_json(item) for item in answer["Items"]]


def upsert(*, created: bool) -> Callable[[Any], Any]:
    return lambda answer: UpsertResult(Customer.from_json(answer), created=created)


def ids(routes: list[Route]) -> list[str]:
    return [route.id for route in routes]


def _response(answer: Any, status: int, headers: Mapping[str, str] | None) -> Any:
    """A ``responses`` callback result: ``(status, headers, body)``, or an exception to raise."""
    if isinstance(answer, BaseException):
        return answer
    sent_headers = dict(headers or {})
    if answer is None:
        return status, sent_headers, ""
    if isinstance(answer, str):
        return status, {"Content-Type": "text/html", **sent_headers}, answer
    return status, {"Content-Type": "application/json", **sent_headers}, json.dumps(answer)


class FakeBilling:
    """A mocked ProAbono endpoint and a client pointed at it (see the module docstring).

    Each ``reply`` answers exactly one request: a request with no answer left is refused like a
    closed port (so a client that loops forever fails fast instead of hanging), and leaving the
    ``with`` block with an answer unused fails the test.
    """

    def __init__(self, **client_options: Any) -> None:
        self.api = responses.RequestsMock(assert_all_requests_are_fired=False)
        self.queues: dict[tuple[str, str], deque[Callable[[], Any]]] = {}
        self.sleeps: list[float] = []
        self.client = self.make_client(**client_options)

    def make_client(self, url: str = BASE_URL, **options: Any) -> ProAbonoClient:
        injected: dict[str, Any] = {
            "clock": lambda: NOW,
            "sleep": self.sleeps.append,
            "jitter": lambda: 0.5,
        }
        return ProAbonoClient(url, AGENT_KEY, API_KEY, **{**injected, **options})

    def __enter__(self) -> FakeBilling:
        self.api.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.client.close()
        self.api.__exit__(kind, value, traceback)
        if kind is None:
            unused = {f"{m} {p}": len(q) for (m, p), q in self.queues.items() if q}
            assert not unused, f"answers never requested: {unused}"

    def reply(
        self,
        method: str,
        path: str,
        answer: Any = None,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Queue one answer for ``method path`` (answers to the same route are used in order).

        ``answer`` is JSON, ``None`` for an empty body, a ``str`` for a non-JSON (HTML) body, or an
        exception the transport raises instead of answering.
        """
        key = (method, path)
        if key not in self.queues:
            self.queues[key] = deque()
            self.api.add_callback(method, BASE_URL + path, callback=self._answer(key))
        self.queues[key].append(lambda: _response(answer, status, headers))

    def _answer(self, key: tuple[str, str]) -> Callable[[Any], Any]:
        def answer(request: Any) -> Any:
            queue = self.queues[key]
            if not queue:
                raise requests.ConnectionError(f"no answer left for {key[0]} {key[1]}")
            return queue.popleft()()

        return answer

    def sent(self) -> list[Sent]:
        requests_sent = []
        for call in self.api.calls:
            request = call.request
            parts = urlsplit(request.url)
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            query = dict(pairs)
            assert len(query) == len(pairs), f"a query parameter was sent twice: {pairs}"
            raw = request.body
            body = NO_BODY if raw is None else json.loads(raw)
            requests_sent.append(
                Sent(request.method or "", parts.path, query, body, dict(request.headers))
            )
        return requests_sent

    def outcomes(self) -> list[int | str]:
        """Per request: the HTTP status answered, or the name of the exception raised instead."""
        return [
            call.response.status_code
            if hasattr(call.response, "status_code")
            else type(call.response).__name__
            for call in self.api.calls
        ]

    def check(self, route: Route) -> None:
        """Play one table row: one request, exactly as the contract says, and the parsed answer."""
        self.reply(route.method, route.path, route.answer, status=route.status)
        result = route.call(self.client)
        [sent] = self.sent()
        assert (sent.method, sent.path) == (route.method, route.path)
        assert sent.query == dict(route.query)
        assert sent.body == route.body
        assert sent.headers["Authorization"] == BASIC_AUTH
        assert sent.headers["Accept"] == "application/json"
        if route.body is not NO_BODY:
            assert sent.headers["Content-Type"] == "application/json"
        assert result == route.expect(route.answer)
