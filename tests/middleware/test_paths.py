"""Every spelling of a gated path reaches the same canonical form; the unspellable are refused."""

from __future__ import annotations

import pytest

from middleware.paths import BadPath, canonical_path, path_forms, raw_request_path

SAME_AS_PREMIUM_X = [
    "/premium/x",
    "//premium/x",
    "/./premium/x",
    "/free/../premium/x",
    "/%70remium/x",
    "/premium%2Fx",
    "/premium%2fx",
    "/premium/x;jsessionid=1",
    "/premium;a=b/x",
    "/premium/./x",
    "/premium//x",
    "/\\premium\\x",
    "/premium/%2E/x",
    "/premium/y/%2E%2E/x",
]


@pytest.mark.parametrize("path", SAME_AS_PREMIUM_X, ids=SAME_AS_PREMIUM_X)
def test_spellings_of_one_path(path: str) -> None:
    assert canonical_path(path) == "/premium/x"


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/premium/%00x", "control"),
        ("/premium/\x00x", "control"),
        ("/premium/%0ax", "control"),
        ("/premium/%ff", "UTF-8"),
        ("/%c0%af", "UTF-8"),
        ("/../etc/passwd", "above the root"),
        ("/premium/../../x", "above the root"),
        ("/%2e%2e/x", "above the root"),
    ],
    ids=[
        "nul",
        "raw-nul",
        "newline",
        "bad-utf8",
        "overlong-slash",
        "dotdot",
        "deep-dotdot",
        "enc-dotdot",
    ],
)
def test_paths_without_a_canonical_form_are_refused(path: str, why: str) -> None:
    with pytest.raises(BadPath, match=why):
        canonical_path(path)


def test_decoded_once_only() -> None:
    assert canonical_path("/%2570remium") == "/%70remium"
    # PATH_INFO was decoded by the server already: not decoded again
    assert canonical_path("/%70remium", decode=False) == "/%70remium"


def test_plain_paths_are_returned_as_they_are() -> None:
    for path in ["/", "/premium/x", "/a-b_c.d/e~f", "/premium/"]:
        assert canonical_path(path) == path


def test_unicode_and_trailing_slash_are_kept() -> None:
    assert canonical_path("/caf%C3%A9/") == "/café/"
    assert canonical_path("/a/b/..") == "/a/"


def environ(path_info: str, **extra: str) -> dict[str, str]:
    return {"PATH_INFO": path_info, **extra}


def test_path_forms_include_what_the_app_sees_and_the_canonical_form() -> None:
    forms = path_forms(environ("/free/../premium/x"))
    assert forms[0] == "/free/../premium/x"
    assert "/premium/x" in forms


def test_path_forms_use_the_raw_request_uri_when_the_server_gives_it() -> None:
    # The server decoded %2F into PATH_INFO; the raw URI shows the client's spelling too.
    forms = path_forms(environ("/premium/x", REQUEST_URI="/premium%2Fx?a=1"))
    assert forms == ("/premium/x",)
    forms = path_forms(environ("/%70remium/x", RAW_URI="/%2570remium/x"))
    assert "/%70remium/x" in forms


def test_wsgi_latin1_path_info_is_read_as_utf8() -> None:
    latin1 = "/café".encode().decode("latin-1")
    assert path_forms(environ(latin1))[0] == "/café"
    with pytest.raises(BadPath):
        path_forms(environ(b"/\xff".decode("latin-1")))


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("/a/b?x=1", "/a/b"),
        ("http://example.com/a/b?x", "/a/b"),
        ("http://example.com", "/"),
        ("/a#frag", "/a"),
    ],
)
def test_raw_request_path(uri: str, path: str) -> None:
    assert raw_request_path({"REQUEST_URI": uri}) == path
