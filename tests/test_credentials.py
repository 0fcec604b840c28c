"""Credentials stay with their origin: userinfo, cookies for public suffixes, sensitive headers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from yarl import URL

from tether import HttpClient, HttpClientConfig, HttpRequestData, HttpResponseData
from tether.plugins import HttpCookies, HttpRedirect, PluginBuilder, create_client_plugin
from tether.plugins.cookies import AcceptAllCookiesStorage, is_public_suffix, parse_set_cookie
from tether.testing import MockEngine, respond
from tether.url import parse_url, redact_userinfo, take_userinfo


# -- the Public Suffix List ------------------------------------------------------------------------
@pytest.mark.parametrize("domain", ["com", "co.uk", "github.io", "COM", "com.", "uk", "localhost"])
def test_public_suffixes_are_known(domain: str) -> None:
    assert is_public_suffix(domain)


@pytest.mark.parametrize("domain", ["example.com", "example.co.uk", "someone.github.io", "api.test"])
def test_registrable_domains_are_not_public_suffixes(domain: str) -> None:
    assert not is_public_suffix(domain)


@pytest.mark.parametrize(
    ("url", "header"),
    [
        ("https://www.example.com/", "a=1; Domain=.com"),
        ("https://www.example.com/", "a=1; Domain=com"),
        ("https://shop.example.co.uk/", "a=1; Domain=co.uk"),
        ("https://someone.github.io/", "a=1; Domain=github.io"),
    ],
)
def test_a_cookie_for_a_public_suffix_is_refused(url: str, header: str) -> None:
    assert parse_set_cookie(header, URL(url)) is None


def test_a_cookie_for_a_registrable_domain_is_a_domain_cookie() -> None:
    cookie = parse_set_cookie("a=1; Domain=example.co.uk", URL("https://shop.example.co.uk/"))
    assert cookie is not None
    assert (cookie.domain, cookie.host_only) == ("example.co.uk", False)


def test_a_public_suffix_host_naming_itself_gets_a_host_only_cookie() -> None:
    # RFC 6265 5.3 step 5: Domain equal to the request host, which is a public suffix.
    cookie = parse_set_cookie("a=1; Domain=github.io", URL("https://github.io/"))
    assert cookie is not None
    assert (cookie.domain, cookie.host_only) == ("github.io", True)


def test_a_refused_cookie_reaches_no_other_site_under_the_suffix() -> None:
    storage = AcceptAllCookiesStorage()
    for url, header in [("https://a.github.io/", "a=1; Domain=github.io"), ("https://a.github.io/", "b=2")]:
        cookie = parse_set_cookie(header, URL(url))
        if cookie is not None:
            storage.add(URL(url), cookie)
    assert [c.name for c in storage.get(URL("https://b.github.io/"))] == []
    assert [c.name for c in storage.get(URL("https://a.github.io/"))] == ["b"]


async def test_the_cookie_plugin_sends_no_public_suffix_cookie_to_another_site() -> None:
    seen: list[str | None] = []

    def handler(request: HttpRequestData) -> HttpResponseData:
        seen.append(request.headers.get("Cookie"))
        if request.url.host == "a.example.com":
            return respond(headers={"Set-Cookie": "sid=1; Domain=.com; Path=/"})
        return respond()

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(HttpCookies)

    async with HttpClient(MockEngine(handler), configure) as client:
        await client.get("https://a.example.com/")
        await client.get("https://evil.com/")
        await client.get("https://a.example.com/")
    assert seen == [None, None, None]


# -- userinfo ----------------------------------------------------------------------------------------
def test_userinfo_leaves_the_url_and_becomes_basic() -> None:
    url, authorization = take_userinfo(parse_url("http://alice:p%40ss@api.test:8080/x?q=1"))
    assert str(url) == "http://api.test:8080/x?q=1"
    assert authorization == "Basic YWxpY2U6cEBzcw=="  # alice:p@ss


def test_a_user_without_password_is_basic_with_an_empty_password() -> None:
    assert take_userinfo(URL("http://alice@api.test/")) == (URL("http://api.test/"), "Basic YWxpY2U6")


def test_a_url_without_userinfo_is_kept() -> None:
    url = URL("http://api.test/")
    assert take_userinfo(url) == (url, None)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://alice:s3cret@api.test/x", "http://alice:***@api.test/x"),
        ("see http://a:b@h/ and https://c:d@e/", "see http://a:***@h/ and https://c:***@e/"),
        ("http://alice@api.test/", "http://alice@api.test/"),
        ("http://api.test/x?mail=a:b@c", "http://api.test/x?mail=a:b@c"),
    ],
)
def test_redaction_hides_only_the_password(text: str, shown: str) -> None:
    assert redact_userinfo(text) == shown


async def test_the_engine_never_sees_userinfo() -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: HttpRequestData) -> HttpResponseData:
        seen.append((str(request.url), request.headers.get("Authorization")))
        return respond()

    async with HttpClient(MockEngine(handler)) as client:
        response = await client.get("http://alice:pw@api.test/x")
    assert seen == [("http://api.test/x", "Basic YWxpY2U6cHc=")]
    assert "pw" not in response.url


# -- sensitive headers on redirects --------------------------------------------------------------------
def test_sensitive_headers_must_be_a_collection_of_names() -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(HttpRedirect, sensitive_headers="X-Key")

    with pytest.raises(TypeError, match="collection of header names"):
        HttpClient(MockEngine(lambda request: respond()), configure)


async def test_a_builder_and_a_statement_show_no_password() -> None:
    async with HttpClient(MockEngine(lambda request: respond())) as client:
        statement = client.prepare_get("http://alice:s3cret@api.test/x")
    assert "s3cret" not in repr(statement.builder)
    assert "s3cret" not in repr(statement)


def test_a_sync_statement_shows_no_password() -> None:
    from tether import sync

    with sync.HttpClient(MockEngine(lambda request: respond())) as client:
        statement = client.prepare_get("http://alice:s3cret@api.test/x")
        assert "s3cret" not in repr(statement) and "alice:***@" in repr(statement)


async def test_plugins_see_no_userinfo_and_a_default_url_with_userinfo_gives_basic() -> None:
    seen_by_plugin: list[str] = []

    @dataclass
    class Nothing:
        pass

    @create_client_plugin("SeesUrl", Nothing)
    def sees_url(plugin: PluginBuilder[Nothing]) -> None:
        plugin.on_request(lambda request, content: seen_by_plugin.append(str(request.url)))

    engine = MockEngine(lambda request: respond())

    def configure(config: HttpClientConfig[Any]) -> None:
        config.default_request(url="https://bob:hunter2@api.test/v1/")
        config.install(sees_url)

    async with HttpClient(engine, configure) as client:
        await client.get("users")
    assert seen_by_plugin == ["https://api.test/v1/users"]
    assert str(engine.requests[0].url) == "https://api.test/v1/users"
    assert engine.requests[0].headers.get("Authorization") == "Basic Ym9iOmh1bnRlcjI="
