"""The HTTP core of the ProAbono client: one pooled session, one ``request()``, typed errors.

What this module owns: the ``requests.Session`` (authentication, headers, the URL schemes
``https://``, ``http://`` and ``sandbox://`` through ``bridge.sandbox.transport``), ``request()``
with its timeouts and retries (the policy itself is ``bridge.retry``), decoding answers, mapping
failures onto ``bridge.errors``, paging (``_page``/``_iterate``) and the small helpers every
resource uses to build queries and bodies (``_query``, ``_body``, ``_require``).

What it does not do: know any endpoint (the ``bridge.api_*`` mixins do; ``bridge.client`` puts
them together), cache (``bridge.cache``), or log link values (they are bearer credentials; errors
and logs carry the path, never the query).
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Self, TypeVar
from urllib.parse import urlencode, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from bridge import __version__
from bridge.errors import (
    ApiErrorItem,
    BillingError,
    BillingUnavailable,
    ConfigError,
    ConfigProblem,
    error_class_for,
)
from bridge.models import Model, Page, format_datetime
from bridge.retry import Failure, RetryPolicy, next_delay, parse_retry_after

# The logger keeps the name users already configure: the client's public name, not this module's.
log = logging.getLogger("bridge.client")

M = TypeVar("M", bound=Model)

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_PAGES = 10_000  # a service that always says "next" must not hang a request thread
_URL_FIX = "use https://api-<IdBusiness>.proabono.com, http://HOST:PORT or sandbox://FILE"


def basic_auth(agent_key: str, api_key: str) -> str:
    """``Authorization`` for the reference's Basic auth: agent key as user, API key as password."""
    token = base64.b64encode(f"{agent_key}:{api_key}".encode()).decode("ascii")
    return f"Basic {token}"


def _body(**fields: Any) -> dict[str, Any]:
    """A JSON body without the None values (the service reads absent as "leave unchanged")."""
    return {key: value for key, value in fields.items() if value is not None}


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value)
    return str(value)


def _query(**params: Any) -> dict[str, str]:
    return {key: _query_value(value) for key, value in params.items() if value is not None}


def _require(name: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


class ApiTransport:
    """The plumbing every resource mixin builds on; :class:`bridge.client.ProAbonoClient`
    is the class to use (its docstring describes the arguments)."""

    def __init__(
        self,
        url: str,
        agent_key: str,
        api_key: str,
        *,
        segment: str | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 3.05,
        retries: int = 2,
        retry_budget: float = 15.0,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeouts must be positive: a billing call may never wait forever")
        self.segment = segment
        self.timeout = (connect_timeout, timeout)
        self.policy = RetryPolicy(retries=retries, budget=retry_budget)
        self.clock = clock
        self.sleep = sleep
        self.jitter = jitter
        self.session = session or requests.Session()
        #: True for ``sandbox://``: calls run in this process, under its GIL, not over a network.
        self.in_process = False
        self.session.headers.update(
            {
                "Accept": "application/json",
                "User-Agent": f"proabono-bridge/{__version__}",
                # Basic auth computed once, not on every call (redirects are never followed).
                "Authorization": basic_auth(agent_key, api_key),
            }
        )
        try:
            self.base_url = self._resolve_base_url(url)
        except ConfigError:
            if session is None:
                self.session.close()
            raise
        if session is None:
            self._freeze_environment()

    def _freeze_environment(self) -> None:
        """Read proxy / CA settings from the environment once, not on every call (requests scans
        ``os.environ`` per request otherwise: about a millisecond each on a busy host)."""
        settings = self.session.merge_environment_settings(self.base_url, {}, None, None, None)
        self.session.proxies.update(settings.get("proxies") or {})
        self.session.verify = settings.get("verify", True)
        if settings.get("cert") is not None:
            self.session.cert = settings["cert"]
        self.session.trust_env = False

    # --- plumbing -------------------------------------------------------------------------

    def _resolve_base_url(self, url: str) -> str:
        try:
            parts = urlsplit(url)
        except ValueError as exc:  # "http://[::1" and the like
            raise ConfigError(
                [ConfigProblem("billing.url", f"invalid billing URL {url!r}: {exc}", _URL_FIX)]
            ) from exc
        if parts.scheme in ("http", "https") and parts.netloc:
            # Normalised (IDNA host, quoting) once, as requests would on every call.
            prepared = requests.PreparedRequest()
            try:
                prepared.prepare_url(url.rstrip("/"), None)
            except requests.RequestException as exc:
                raise ConfigError(
                    [ConfigProblem("billing.url", f"invalid billing URL {url!r}: {exc}", _URL_FIX)]
                ) from exc
            return str(prepared.url).rstrip("/")
        if parts.scheme == "sandbox":
            path = url[len("sandbox://") :]
            try:
                transport = importlib.import_module("bridge.sandbox.transport")
            except ImportError as exc:
                raise ConfigError(
                    [
                        ConfigProblem(
                            "billing.url",
                            f"{url!r} needs the embedded sandbox, which is not installed ({exc})",
                            "reinstall proabono-bridge, or point billing.url at an http(s) server",
                        )
                    ]
                ) from exc
            self.in_process = True
            return str(transport.mount(self.session, path))
        raise ConfigError(
            [
                ConfigProblem(
                    "billing.url",
                    f"unsupported billing URL {url!r}",
                    _URL_FIX,
                )
            ]
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        idempotent: bool,
    ) -> tuple[int, Any]:
        """Send one API call with retries; return ``(status, json)`` (``None`` json for 204).

        Raises a ``BillingError`` subclass for every failure; the message names the method and the
        path, never the query (it may carry references) nor the credentials.
        """
        url = self.base_url + path
        payload = None if body is None else json.dumps(body).encode("utf-8")
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.send(
                    self._prepare(method, url, params, payload),
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure = (
                    Failure.READ_TIMEOUT
                    if isinstance(exc, requests.ReadTimeout)
                    else Failure.CONNECT
                )
                delay = next_delay(
                    attempt=attempt,
                    policy=self.policy,
                    waited=waited,
                    idempotent=idempotent,
                    failure=failure,
                    jitter=self.jitter,
                )
                if delay is None:
                    raise BillingUnavailable(
                        f"billing service unreachable ({type(exc).__name__}) "
                        f"after {attempt} attempt(s)",
                        method=method,
                        path=path,
                    ) from exc
                log.warning(
                    "billing %s %s: %s, retrying in %.2fs", method, path, failure.value, delay
                )
            except requests.RequestException as exc:
                raise BillingUnavailable(
                    f"billing request failed: {type(exc).__name__}", method=method, path=path
                ) from exc
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return status, self._decode(response, method, path)
                retry_after = parse_retry_after(response.headers.get("Retry-After"), self.clock())
                delay = next_delay(
                    attempt=attempt,
                    policy=self.policy,
                    waited=waited,
                    idempotent=idempotent,
                    status=status,
                    retry_after=retry_after,
                    jitter=self.jitter,
                )
                if delay is None:
                    raise self._error(response, method, path, retry_after)
                log.warning(
                    "billing %s %s: HTTP %s, retrying in %.2fs", method, path, status, delay
                )
                response.close()
            self.sleep(delay)
            waited += delay

    def _prepare(
        self, method: str, url: str, params: Mapping[str, str] | None, body: bytes | None
    ) -> requests.PreparedRequest:
        """The request ``Session.request`` would build, without its per-call merging work.

        ``Session.request`` re-merges the session's settings and re-parses the URL on every call
        (over 100 µs each, a third of a bulk sync). Here the base URL was validated once, paths are
        our own constants (integers at most) and the query is url-encoded like requests does; the
        session's headers (authentication included) and hooks still apply. No cookies: the API is
        stateless.
        """
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = f"{url}?{urlencode(params)}" if params else url
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(
            {
                name: value.decode("latin-1") if isinstance(value, bytes) else value
                for name, value in self.session.headers.items()
                if value is not None  # None unsets a header, as in Session.request
            }
        )
        if body is not None:
            headers["Content-Type"] = "application/json"
        if body is not None or method not in ("GET", "HEAD"):
            headers["Content-Length"] = str(len(body or b""))
        prepared.headers = headers
        prepared.body = body
        prepared.prepare_hooks(self.session.hooks)
        return prepared

    @staticmethod
    def _decode(response: requests.Response, method: str, path: str) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            # A 2xx that is not JSON is a proxy or captive page, not the billing service.
            raise BillingUnavailable(
                "billing service answered with a body that is not JSON",
                status=response.status_code,
                method=method,
                path=path,
            ) from exc

    @staticmethod
    def _error(
        response: requests.Response, method: str, path: str, retry_after: float | None
    ) -> BillingError:
        status = response.status_code
        try:
            payload = response.json() if response.content else None
        except ValueError:
            payload = None
        raw_items = payload if isinstance(payload, list) else [payload] if payload else []
        items = [ApiErrorItem.from_json(item) for item in raw_items]
        first = items[0] if items else ApiErrorItem(code=None, message=None)
        message = first.message or response.reason or f"HTTP {status}"
        if len(items) > 1:
            message = "; ".join(i.message or i.code or "?" for i in items)
        cls = error_class_for(status, first.code)
        return cls(
            message,
            status=status,
            code=first.code,
            method=method,
            path=path,
            errors=items,
            retry_after=retry_after,
        )

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return self.request("GET", path, params=params, idempotent=True)[1]

    def _post(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        idempotent: bool,
    ) -> Any:
        return self.request("POST", path, params=params, body=body, idempotent=idempotent)[1]

    def _one(self, model: type[M], data: Any, method: str, path: str) -> M:
        if data is None:
            raise BillingUnavailable(
                "empty answer where an object was expected", method=method, path=path
            )
        try:
            return model.from_json(data)
        except (TypeError, ValueError) as exc:  # a shape, or a date or number, we cannot read
            raise BillingUnavailable(
                f"unexpected answer shape: {exc}", method=method, path=path
            ) from exc

    def _page(self, model: type[M], path: str, params: Mapping[str, str]) -> Page[M]:
        data = self._get(path, params)
        if data is None:
            return Page.empty()
        try:
            return Page.from_json(data, model)
        except (TypeError, ValueError) as exc:  # a shape, or a date or number, we cannot read
            raise BillingUnavailable(
                f"unexpected list shape: {exc}", method="GET", path=path
            ) from exc

    def _iterate(
        self, model: type[M], path: str, params: Mapping[str, str], size_page: int
    ) -> Iterator[M]:
        """Every item of a list, page after page, while ``TotalItems`` or a ``next`` link says
        more follow; an empty page always ends it."""
        seen = 0
        for page_number in range(1, MAX_PAGES + 1):
            page = self._page(
                model, path, {**params, "Page": str(page_number), "SizePage": str(size_page)}
            )
            yield from page.items
            seen += len(page.items)
            more = seen < page.total_items or page.links.get("next") is not None
            if not page.items or not more:
                return
        raise BillingUnavailable(f"pagination did not end after {MAX_PAGES} pages", path=path)

    @staticmethod
    def _size(size_page: int) -> int:
        if not 1 <= size_page <= MAX_PAGE_SIZE:
            raise ValueError(f"size_page must be between 1 and {MAX_PAGE_SIZE}")
        return size_page
