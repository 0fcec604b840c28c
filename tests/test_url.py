"""URL parsing without rewriting, and DefaultRequest's merge rules (Ktor + RFC 3986)."""

from __future__ import annotations

from typing import Any

import pytest

from tether.exceptions import InvalidUrlError
from tether.url import merge_query, merge_urls, parse_url, resolve_reference, with_params


def _all_cases(cases: dict[str, Any]) -> list[tuple[str, str]]:
    return [tuple(case) for case in cases["normal"] + cases["abnormal"]]  # type: ignore[misc]


def test_every_rfc3986_example_resolves_as_the_rfc_says(rfc3986_cases: dict[str, Any]) -> None:
    failures = [
        (ref, str(resolve_reference(rfc3986_cases["base"], ref)), expected)
        for ref, expected in _all_cases(rfc3986_cases)
        if resolve_reference(rfc3986_cases["base"], ref) != parse_url(expected)
    ]
    assert failures == []
    assert len(_all_cases(rfc3986_cases)) == 42


def test_merge_urls_agrees_with_rfc3986_except_for_the_documented_query_merge(
    rfc3986_cases: dict[str, Any],
) -> None:
    base = rfc3986_cases["base"]
    base_query = parse_url(base).raw_query_string
    for ref, expected in _all_cases(rfc3986_cases):
        merged = merge_urls(base, ref)
        expected_url = parse_url(expected)
        if expected_url.raw_host == parse_url(base).raw_host and not parse_url(ref).scheme:
            # Ktor's rule: the request's parameters, then default parameters it does not name.
            ref_query = parse_url(ref).raw_query_string if "?" in ref.split("#")[0] else ""
            expected_query = merge_query(ref_query, base_query)
        else:
            expected_query = expected_url.raw_query_string
        assert merged.with_query(None) == expected_url.with_query(None), ref
        assert merged.raw_query_string == expected_query, ref


@pytest.mark.parametrize(
    ("base", "request_url", "expected"),
    [
        ("http://base.url/path/", "", "http://base.url/path/"),
        ("http://base.url/path/", "/", "http://base.url/"),
        ("http://base.url/path/", "file", "http://base.url/path/file"),
        ("http://base.url/path/", "/other_path", "http://base.url/other_path"),
        ("http://base.url/path/", "//other.host/other_path", "http://other.host/other_path"),
        ("http://base.url/path/default_file", "file", "http://base.url/path/file"),
        ("http://base.url/path", "file", "http://base.url/file"),
        ("http://base.url", "file", "http://base.url/file"),
        ("https://base.url:8443/api/", "v1/users", "https://base.url:8443/api/v1/users"),
        ("http://base.url/path/", "https://absolute.test/x?y=1", "https://absolute.test/x?y=1"),
        ("http://base.url/path/?key=1&lang=en", "q?lang=de", "http://base.url/path/q?lang=de&key=1"),
        ("http://base.url/path/?key=1", "", "http://base.url/path/?key=1"),
        ("http://base.url/path/#top", "file", "http://base.url/path/file#top"),
        ("http://base.url/path/#top", "file#end", "http://base.url/path/file#end"),
    ],
)
def test_ktor_default_request_url_examples(base: str, request_url: str, expected: str) -> None:
    assert str(merge_urls(base, request_url)) == expected


def test_parse_url_never_rewrites_existing_escapes_or_plus_signs() -> None:
    url = parse_url("http://h/a%2Fb?x=%2F&y=a+b&z=%41")
    assert str(url) == "http://h/a%2Fb?x=%2F&y=a+b&z=%41"


def test_parse_url_quotes_only_what_may_not_appear_raw() -> None:
    assert str(parse_url("http://h/a b?q=ü")) == "http://h/a%20b?q=%C3%BC"
    assert parse_url("http://bücher.de/").raw_host == "xn--bcher-kva.de"


def test_parse_url_rejects_non_strings() -> None:
    with pytest.raises(InvalidUrlError, match="str or yarl.URL"):
        parse_url(42)  # type: ignore[arg-type]


def test_with_params_appends_and_encodes() -> None:
    url = parse_url("http://h/p?a=1")
    assert str(with_params(url, {"b": "x y", "c": [1, 2], "d": True})) == "http://h/p?a=1&b=x%20y&c=1&c=2&d=true"
    assert str(with_params(url, [("a", "2")])) == "http://h/p?a=1&a=2"
    assert with_params(url, None) is url
    assert str(with_params(parse_url("http://h/p#f"), {"k": "v"})) == "http://h/p?k=v#f"


def test_merge_query_keeps_repeated_request_parameters_and_skips_named_defaults() -> None:
    assert merge_query("a=1&a=2", "a=9&b=3") == "a=1&a=2&b=3"
    assert merge_query("", "b=3") == "b=3"
    assert merge_query("flag", "flag=1&x") == "flag&x"
