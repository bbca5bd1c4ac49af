"""Banner and links injected into HTML pages, streaming, only where they belong."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from bridge.service import Bridge
from cms_adapters.header import HeaderAdapter
from middleware.gate import Gate
from middleware.inject import InjectedBody, Marker, Notices, inject_page
from tests.middleware.billing_double import BillingDouble, Clock, make_config

MARKER = b"<!-- billing:links -->"
FINDER = Marker(MARKER)
#: Bytes mapped onto a few: "M" stands for a whole marker, "!" is the byte markers are found by.
_SMALL_ALPHABET = bytes.maketrans(bytes(range(256)), (b"M!ax<-" * 43)[:256])
PAGE = [b"<html><body><nav>", MARKER, b"</nav><p>hello</p></body></html>"]


def page_app(chunks: list[bytes], content_type: str = "text/html", **extra: str):
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        headers = [("Content-Type", content_type), ("Content-Length", str(sum(map(len, chunks))))]
        headers += list(extra.items())
        start_response("200 OK", headers)
        return chunks

    return app


@pytest.fixture
def billing() -> Iterator[BillingDouble]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield BillingDouble(rsps)


def client_for(app: Any, billing: BillingDouble) -> Client:
    config = make_config(inject={"enabled": True, "trial_warning": "3d"})
    clock = Clock()
    gate = Gate(
        app,
        adapter=HeaderAdapter(trusted_proxies=["127.0.0.1"]),
        bridge=Bridge(config, clock=clock),
        clock=clock,
    )
    client = Client(gate)
    client.gate = gate  # type: ignore[attr-defined]
    return client


def get(client: Client, path: str = "/", user: str | None = "bob", *, known: bool = True) -> Any:
    """A page view; ``known``: the user's rights are already cached (they browsed before)."""
    headers = {"X-Remote-User": user} if user else {}
    if user and known:
        client.gate.bridge.state(f"user-{user}")  # type: ignore[attr-defined]
    return client.get(path, headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})


def test_an_ungated_page_never_waits_on_billing_the_banner_comes_once_rights_are_known(
    billing,
) -> None:
    import time

    billing.subscribed("user-bob", "Suspended", "SuspendedPaymentDue")
    client = client_for(page_app(PAGE), billing)
    first = get(client, known=False)
    assert b"billing-banner" not in first.data, "the first page did not wait for billing"
    store = client.gate.bridge.store  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while store.peek("user-bob") is None:  # the background fill started by that page
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert b"billing-banner" in get(client, known=False).data


def test_suspended_user_sees_a_restart_banner_and_links(billing) -> None:
    billing.subscribed("user-bob", "Suspended", "SuspendedPaymentDue")
    response = get(client_for(page_app(PAGE), billing))
    body = response.data
    assert b'class="billing-banner"' in body
    assert b'href="/_billing/restart"' in body
    assert body.index(b"billing-banner") < body.index(b"</body>")
    assert MARKER not in body
    assert b'<ul class="billing-links"><li><a href="/_billing/portal">' in body
    assert response.headers["Content-Length"] == str(len(body)), "the length is corrected"
    assert b"pay.example" not in body, "hosted links are never written into pages"


def test_missing_payment_method_banner(billing) -> None:
    billing.subscribed("user-bob", "Suspended", "SuspendedNoPaymentInfo")
    body = get(client_for(page_app(PAGE), billing)).data
    assert b'href="/_billing/payment"' in body


def test_member_in_good_standing_gets_links_and_no_banner(billing) -> None:
    billing.member("user-bob", "premium-articles")
    body = get(client_for(page_app(PAGE), billing)).data
    assert b"billing-banner" not in body
    assert b"/_billing/portal" in body


def test_anonymous_pages_are_left_alone(billing) -> None:
    response = get(client_for(page_app(PAGE), billing), user=None)
    assert response.data == b"".join(PAGE)
    assert billing.calls == []


@pytest.mark.parametrize(
    ("content_type", "extra"),
    [("application/json", {}), ("text/html", {"Content-Encoding": "gzip"})],
    ids=["json", "gzip"],
)
def test_non_html_and_compressed_answers_are_untouched(billing, content_type, extra) -> None:
    billing.subscribed("user-bob", "Suspended", "SuspendedPaymentDue")
    response = get(client_for(page_app(PAGE, content_type, **extra), billing))
    assert response.data == b"".join(PAGE)
    assert response.headers["Content-Length"] == str(len(b"".join(PAGE)))


def split_everywhere(data: bytes) -> list[list[bytes]]:
    return [[data[:i], data[i:]] for i in range(1, len(data))]


def test_marker_and_body_end_split_across_chunks_are_found() -> None:
    notices = Notices(banner=b"<div>BANNER</div>", links=b"<ul>LINKS</ul>")
    html = b"<html><body>" + MARKER + b"<p>x</p></BODY></html>"
    for chunks in split_everywhere(html):
        out = b"".join(InjectedBody(chunks, notices, FINDER))
        assert out == b"<html><body><ul>LINKS</ul><p>x</p><div>BANNER</div></BODY></html>", chunks


@pytest.mark.parametrize("filler", [0, 1013, 1017, 5000], ids=lambda n: f"{n}-bytes-after")
def test_the_banner_goes_before_the_page_s_own_closing_body_tag(filler) -> None:
    notices = Notices(banner=b"<div>BANNER</div>", links=b"")
    script = b'<script>w.document.write("<body></body>")</script>'
    page = b"<html><body>" + script + b"<p>x</p></Body>" + b" " * filler + b"</html>"

    out, done = inject_page(page, notices, FINDER)

    assert done
    assert out.count(b"BANNER") == 1
    assert out.index(b"BANNER") > out.index(b"<p>x</p>"), "not inside the script's string"
    assert out.replace(b"<div>BANNER</div>", b"") == page


def test_a_fragment_without_a_body_gets_no_banner() -> None:
    notices = Notices(banner=b"<div>BANNER</div>", links=b"")
    fragment = b"<li>row</li>" * 500

    assert inject_page(fragment, notices, FINDER) == (fragment, False)


def test_output_streams_instead_of_buffering() -> None:
    notices = Notices(banner=b"<b>B</b>", links=b"L")
    chunks = [b"a" * 1000, b"b" * 1000, b"</body>"]
    out = list(InjectedBody(chunks, notices, FINDER))
    assert len(out) >= 3
    assert out[0].startswith(b"a" * 900)


def test_close_is_passed_on() -> None:
    closed = []

    class Body(list[bytes]):
        def close(self) -> None:
            closed.append(True)

    InjectedBody(Body([b"x"]), Notices(None, b""), FINDER).close()
    assert closed == [True]


def test_generator_sites_that_start_late_are_injected(billing) -> None:
    billing.subscribed("user-bob", "Suspended", "SuspendedPaymentDue")

    def late(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        yield from PAGE

    body = get(client_for(late, billing)).data
    assert b"billing-banner" in body


class ClosingBody(list[bytes]):
    closed = False

    def close(self) -> None:
        self.closed = True


def test_a_page_with_a_declared_length_is_injected_whole_and_closed(billing) -> None:
    billing.subscribed("user-bob", "Suspended", "SuspendedPaymentDue")
    page = ClosingBody(PAGE)
    response = get(client_for(page_app(page), billing))

    assert b"billing-banner" in response.data
    assert response.headers["Content-Length"] == str(len(response.data))
    assert page.closed


def test_a_head_request_keeps_no_length_it_cannot_know(billing) -> None:
    billing.subscribed("user-bob", "Suspended", "SuspendedPaymentDue")
    client = client_for(page_app(PAGE), billing)
    client.gate.bridge.state("user-bob")  # type: ignore[attr-defined]
    response = client.head(
        "/", headers={"X-Remote-User": "bob"}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    )

    assert response.status_code == 200
    assert "Content-Length" not in response.headers  # the GET's page would be longer


def test_a_page_over_the_held_size_streams_without_a_length(billing, monkeypatch) -> None:
    monkeypatch.setattr("middleware.gate.MAX_HELD_BODY", 10)
    billing.subscribed("user-bob", "Suspended", "SuspendedPaymentDue")
    response = get(client_for(page_app(PAGE), billing))

    assert b"billing-banner" in response.data
    assert "Content-Length" not in response.headers


def test_a_site_using_the_legacy_write_callable_loses_nothing(billing) -> None:
    billing.subscribed("user-bob", "Suspended", "SuspendedPaymentDue")
    whole = b"".join(PAGE)

    def legacy(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response(
            "200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(whole)))]
        )
        write(whole[:10])
        return [whole[10:]]

    response = get(client_for(legacy, billing))

    assert response.data.startswith(whole[:10])
    assert b"billing-banner" in response.data, "the rest of the page is still injected"
    assert "Content-Length" not in response.headers


def test_a_public_page_with_notices_becomes_private_and_keeps_a_correct_length(billing) -> None:
    billing.subscribed("user-bob", "Suspended", "SuspendedPaymentDue")
    app = page_app(PAGE, **{"Cache-Control": "public, s-maxage=600", "Vary": "Accept"})
    response = get(client_for(app, billing))

    assert b"billing-banner" in response.data
    assert response.headers["Content-Length"] == str(len(response.data))
    assert response.headers["Cache-Control"] == "private"
    assert response.headers["Vary"] == "Accept, Cookie"


def test_a_compressed_member_page_is_left_whole_but_never_shared(billing) -> None:
    billing.member("user-bob", "premium-articles")
    app = page_app(PAGE, **{"Content-Encoding": "gzip", "Cache-Control": "public, max-age=60"})
    response = get(client_for(app, billing), "/premium/a")

    assert response.status_code == 200
    assert response.data == b"".join(PAGE), "compressed bytes are not rewritten"
    assert response.headers["Cache-Control"] == "private, max-age=60"
    assert response.headers.get_all("Cache-Control") == ["private, max-age=60"]


@settings(max_examples=400, deadline=None)
@given(
    data=st.binary(max_size=300).map(lambda b: b.translate(_SMALL_ALPHABET)),
    marker=st.sampled_from([b"<!-- billing:links -->", b"!!", b"a!a", b"x!", b"!x", b"abc"]),
)
def test_the_marker_is_replaced_exactly_as_bytes_replace_would(data, marker) -> None:
    # Small alphabet: markers, near-misses and runs of the looked-for byte are frequent.
    page = data.replace(b"M", marker)

    assert Marker(marker, short=0).replace(page, b"LINKS") == page.replace(marker, b"LINKS")


def test_a_page_full_of_the_looked_for_byte_is_still_replaced_whole() -> None:
    page = MARKER + b"!" * 5000 + MARKER + b"!-" * 100 + MARKER

    out = Marker(MARKER, short=0).replace(page, b"LINKS")

    assert out == page.replace(MARKER, b"LINKS")
    assert out.count(b"LINKS") == 3


def test_a_site_writing_while_its_body_is_read_loses_nothing(billing) -> None:
    billing.subscribed("user-bob", "Suspended", "SuspendedPaymentDue")

    def legacy(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/html")])

        def body() -> Iterator[bytes]:
            write(b"<html><body>written ")
            yield b"yielded</body></html>"

        return body()

    response = get(client_for(legacy, billing))

    assert response.status_code == 200
    assert response.data.startswith(b"<html><body>written ")
    assert b"yielded" in response.data
    assert b"billing-banner" in response.data, "the yielded part is still injected"
