"""Headers, status codes and protocol versions."""

from __future__ import annotations

import pickle

import pytest

from tether import Headers, HttpProtocolVersion, HttpStatusCode


def test_headers_are_case_insensitive_and_multi_valued() -> None:
    headers = Headers([("Set-Cookie", "a=1"), ("set-cookie", "b=2"), ("Content-Type", "text/plain")])
    assert headers["content-type"] == "text/plain"
    assert headers.get_all("SET-COOKIE") == ["a=1", "b=2"]
    assert "CONTENT-TYPE" in headers
    assert len(headers) == 2
    assert list(headers.items()) == [
        ("Set-Cookie", "a=1"),
        ("set-cookie", "b=2"),
        ("Content-Type", "text/plain"),
    ]
    assert headers.get_all("missing") == []
    assert headers.get("missing") is None


def test_get_split_values_joins_lines_and_splits_on_commas() -> None:
    headers = Headers([("X-Multi", "1, 2"), ("x-multi", "3")])
    assert headers.get_split_values("X-Multi") == ["1", "2", "3"]


def test_get_split_values_respects_quotes_unless_asked_not_to() -> None:
    headers = Headers([("X-Quoted", 'a, "b, c", d')])
    assert headers.get_split_values("X-Quoted", split_inside_quotes=True) == ["a", '"b', 'c"', "d"]
    assert headers.get_split_values("X-Quoted") == ["a", '"b, c"', "d"]


def test_get_split_values_with_another_separator_and_absent_header() -> None:
    headers = Headers({"Cookie": "a=1; b=2;c=3"})
    assert headers.get_split_values("Cookie", separator=";") == ["a=1", "b=2", "c=3"]
    assert headers.get_split_values("Nope") is None
    with pytest.raises(ValueError, match="single character"):
        headers.get_split_values("Cookie", separator=";;")


def test_headers_compare_ignoring_name_case() -> None:
    assert Headers({"A": "1"}) == Headers({"a": "1"})
    assert Headers({"A": "1"}) != Headers({"a": "2"})
    assert Headers({"A": "1"}) == {"a": "1"}


def test_status_code_is_an_int_with_a_description() -> None:
    status = HttpStatusCode(404)
    assert status == 404
    assert status.description == "Not Found"
    assert str(status) == "404 Not Found"
    assert HttpStatusCode(299).description == "Unknown Status Code"
    assert HttpStatusCode(200).is_success() and not HttpStatusCode(302).is_success()
    assert pickle.loads(pickle.dumps(status)).description == "Not Found"
    with pytest.raises(ValueError, match="three digits"):
        HttpStatusCode(42)


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("HTTP/1.1", HttpProtocolVersion.HTTP_1_1),
        ("1.0", HttpProtocolVersion.HTTP_1_0),
        ("HTTP/2", HttpProtocolVersion.HTTP_2_0),
        ("h2", HttpProtocolVersion.HTTP_2_0),
        ("HTTP/3", HttpProtocolVersion.HTTP_3_0),
    ],
)
def test_protocol_version_parses_every_spelling(text: str, version: HttpProtocolVersion) -> None:
    assert HttpProtocolVersion.parse(text) is version


def test_protocol_version_rejects_unknown_text() -> None:
    with pytest.raises(ValueError, match="unknown HTTP protocol version"):
        HttpProtocolVersion.parse("SPDY/3")
