"""The HTTP plumbing of the API: auth, case-insensitive paths and names, arguments, JSON, errors.

* Basic auth with the configured agent key (user) and API key (password); 401 in the reference's
  error shape otherwise.
* Paths under ``/v1/`` and ``/_sandbox/`` are matched case-insensitively (``CaseInsensitivePaths``)
  and so are query and body names (``Args``): real clients send ``/v1/customers``,
  ``referenceCustomer``, ``tryStart``...
* ``Args`` reads a parameter from the query **or** the JSON body (clients differ on where
  ``TryStart``, ``Immediate``, ``NextTerm``... go), checks its type and collects every problem, so
  one 422 answer lists them all (an array, as the reference sends it).
* Answers are JSON without null members; empty lists that the reference answers with 204 do so.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from bridge.models import format_datetime, parse_datetime, reference_problem
from bridge.sandbox.catalog import Segment
from bridge.sandbox.errors import ApiError, ValidationFailed, invalid
from bridge.sandbox.links import LinkMaker
from bridge.sandbox.service import Sandbox
from bridge.sandbox.views import Json, clean

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 10


class CaseInsensitivePaths:
    """WSGI wrapper: lower-case API paths before routing (hosted-page tokens keep their case)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.lower().startswith(("/v1/", "/_sandbox/")):
            environ["PATH_INFO"] = path.lower()
        return self.app(environ, start_response)


def sandbox() -> Sandbox:
    found: Sandbox = current_app.extensions["proabono_sandbox"]
    return found


def link_maker() -> LinkMaker:
    base = current_app.config.get("SANDBOX_PUBLIC_URL") or request.host_url
    return LinkMaker(sandbox().links, str(base))


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(clean(body), ensure_ascii=False), status=status, mimetype="application/json"
    )


def no_content() -> Response:
    return Response(b"", status=204)


def error_response(status: int, items: list[Json], *, as_array: bool) -> Response:
    body: Any = items if as_array else items[0]
    response = json_response(body, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="ProAbono sandbox"'
    return response


def check_auth(agent_key: str, api_key: str) -> Response | None:
    """None when the Basic credentials match; the 401 answer otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    ok = False
    if scheme.lower() == "basic" and encoded:
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, password = "", ""
        ok = hmac.compare_digest(user.encode(), agent_key.encode()) & hmac.compare_digest(
            password.encode(), api_key.encode()
        )
    if ok:
        return None
    return error_response(
        401,
        [
            {
                "Code": "Error.Api.Authentication.Failed",
                "Message": "Invalid credentials: use Basic auth with the agent key and API key",
            }
        ],
        as_array=False,
    )


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, [exc.item()], as_array=exc.status == 422)

    @app.errorhandler(ValidationFailed)
    def _validation(exc: ValidationFailed) -> Response:
        return error_response(422, [item.item() for item in exc.items], as_array=True)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        names = {404: "NotFound", 405: "MethodNotAllowed", 400: "Request.Malformed"}
        code = f"Error.Api.{names.get(status, 'Http')}"
        return error_response(status, [{"Code": code, "Message": exc.name}], as_array=False)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:  # pragma: no cover - a bug, logged by Flask
        current_app.logger.exception("sandbox: unexpected error")
        return error_response(
            500,
            [{"Code": "Error.Api.Internal", "Message": "Internal error", "Exception": repr(exc)}],
            as_array=False,
        )


class Args:
    """Parameters of one request, from the query or the JSON body, names case-insensitive."""

    def __init__(self, *, body_list: bool = False) -> None:
        self.problems: list[ApiError] = []
        self.query = {key.lower(): value for key, value in request.args.items()}
        self.items: list[Any] | None = None
        self.body: dict[str, Any] = {}
        raw = request.get_data(cache=True)
        if raw.strip():
            try:
                parsed = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ApiError(
                    400, "Error.Api.Request.Malformed", "The request body is not valid JSON"
                ) from exc
            if isinstance(parsed, list) and body_list:
                self.items = parsed
            elif isinstance(parsed, dict):
                self.body = lower_keys(parsed)
            else:
                raise ApiError(
                    400,
                    "Error.Api.Request.Malformed",
                    "The request body must be a JSON " + ("array" if body_list else "object"),
                )

    # raw access
    def raw(self, name: str) -> Any:
        key = name.lower()
        if key in self.query:
            return self.query[key]
        return self.body.get(key)

    def has(self, name: str) -> bool:
        key = name.lower()
        return key in self.query or self.body.get(key) is not None

    def fail(self, target: str, message: str, code: str = "Error.Api.Validation.Invalid") -> None:
        self.problems.append(invalid(target, message, code))

    def check(self) -> None:
        if self.problems:
            raise ValidationFailed(self.problems)

    # typed access
    def text(self, name: str, *, required: bool = False, max_length: int = 4000) -> str | None:
        value = self.raw(name)
        if value is None or value == "":
            if required:
                self.fail(name, f"{name} is required", "Error.Api.Validation.Required")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(name, f"{name} must be a string")
            return None
        text = str(value)
        if len(text) > max_length:
            self.fail(name, f"{name} must be at most {max_length} characters")
            return None
        return text

    def reference(self, name: str, *, required: bool = False) -> str | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        problem = reference_problem(value)
        if problem:
            self.fail(name, f"{name} {problem}", "Error.Api.Validation.Reference")
            return None
        return value

    def flag(self, name: str) -> bool | None:
        value = self.raw(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        self.fail(name, f"{name} must be true or false")
        return None

    def integer(
        self, name: str, *, required: bool = False, minimum: int | None = None
    ) -> int | None:
        value = self.raw(name)
        if value is None or value == "":
            if required:
                self.fail(name, f"{name} is required", "Error.Api.Validation.Required")
            return None
        number = to_int(value)
        if number is None:
            self.fail(name, f"{name} must be an integer")
            return None
        if minimum is not None and number < minimum:
            self.fail(name, f"{name} must be at least {minimum}")
            return None
        return number

    def when(self, name: str, *, required: bool = False) -> datetime | None:
        value = self.raw(name)
        if value is None or value == "":
            if required:
                self.fail(name, f"{name} is required", "Error.Api.Validation.Required")
            return None
        parsed = to_date(value)
        if parsed is None:
            self.fail(name, f"{name} must be an ISO 8601 date")
        return parsed

    def obj(self, name: str) -> dict[str, Any] | None:
        value = self.body.get(name.lower())
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(name, f"{name} must be an object")
            return None
        return value

    def array(self, name: str) -> list[Any] | None:
        value = self.body.get(name.lower())
        if value is None:
            return None
        if not isinstance(value, list):
            self.fail(name, f"{name} must be an array")
            return None
        return value

    def segment(self) -> Segment:
        reference = self.reference("ReferenceSegment")
        self.check()
        found = sandbox().catalog.segment(reference)
        if found is None:
            raise ApiError(404, "Error.Api.Segment.NotFound", f"No segment {reference!r}")
        return found

    def page(self) -> tuple[int, int]:
        page = self.integer("Page", minimum=1) or 1
        size = self.integer("SizePage", minimum=0)
        if size is not None and size > MAX_PAGE_SIZE:
            self.fail("SizePage", f"SizePage must be at most {MAX_PAGE_SIZE}")
        return page, DEFAULT_PAGE_SIZE if size is None else size


def lower_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key).lower(): value for key, value in data.items()}


def to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def to_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def envelope(
    items: list[Json],
    total: int,
    page: int,
    size: int,
    now: datetime,
    *,
    empty_is_204: bool = False,
    extra: Json | None = None,
) -> Response:
    """The list envelope, with a ``next`` link while items remain (204 when asked and empty)."""
    if empty_is_204 and total == 0:
        return no_content()
    links = []
    if size > 0 and page * size < total:
        params = {k: v for k, v in request.args.items() if k.lower() != "page"}
        params["Page"] = str(page + 1)
        links.append({"rel": "next", "href": f"{request.path}?{urlencode(params)}"})
    body: Json = {
        "Page": page,
        "SizePage": size,
        "Count": len(items),
        "TotalItems": total,
        "DateGenerated": format_datetime(now.astimezone(UTC)),
        "Items": items,
        "Links": links,
    }
    if extra:
        body.update(extra)
    return json_response(body)


def paginate(items: list[Any], page: int, size: int) -> list[Any]:
    if size == 0:
        return []
    return items[(page - 1) * size : page * size]
