"""Client configuration: default_request merge vs replace, header merging, client.config(...),
engine sharing, expect_success, engine discovery."""

from __future__ import annotations

from typing import Any

import pytest

from tether import (
    ClientRequestException,
    EngineNotFoundError,
    HttpClient,
    HttpClientConfig,
    RedirectResponseException,
    ServerResponseException,
)
from tether.engine import factory as engine_factory_module
from tether.plugins import HttpCallValidator, PluginBuilder, create_client_plugin
from tether.request import HttpRequestData
from tether.testing import MockEngine, MockEngineConfig, MockEngineFactory, respond


def echo_engine() -> MockEngine:
    return MockEngine(lambda r: respond(str(r.url)))


async def sent(configure: Any, url: str = "", **kwargs: Any) -> HttpRequestData:
    engine = echo_engine()
    async with HttpClient(engine, configure) as client:
        await client.get(url, **kwargs)
    return engine.requests[0]


async def test_default_request_sets_a_base_url_headers_params_and_cookies() -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.default_request(
            url="https://api.test/v1/", headers={"X-Api": "2"}, params={"key": "k"}, cookies={"sid": "1"}
        )

    request = await sent(configure, "users", params={"page": 2}, cookies={"theme": "dark"})
    assert str(request.url) == "https://api.test/v1/users?page=2&key=k"
    assert request.headers["X-Api"] == "2"
    assert request.headers.get_all("Cookie") == ["theme=dark; sid=1"]


async def test_default_request_calls_merge_unless_replace_is_given() -> None:
    def merging(config: HttpClientConfig[Any]) -> None:
        config.default_request(url="https://one.test/", headers={"A": "1", "B": "1"})
        config.default_request(headers={"B": "2", "C": "2"})

    request = await sent(merging, "x")
    assert str(request.url) == "https://one.test/x"
    assert dict(request.headers.items()) == {"A": "1", "B": "2", "C": "2"}

    def replacing(config: HttpClientConfig[Any]) -> None:
        config.default_request(url="https://one.test/", headers={"A": "1"})
        config.default_request(url="https://two.test/", headers={"C": "2"}, replace=True)

    request = await sent(replacing, "x")
    assert str(request.url) == "https://two.test/x"
    assert "A" not in request.headers and request.headers["C"] == "2"


async def test_default_request_accepts_a_block() -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.default_request(lambda d: (setattr(d, "url", "http://block.test/api/"), d.headers.add("X", "1")))

    request = await sent(configure, "/root")
    assert str(request.url) == "http://block.test/root"
    assert request.headers["X"] == "1"


async def test_header_merge_puts_request_values_first_then_defaults_not_present() -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.default_request(
            url="http://h/",
            headers=[("Accept", "text/html"), ("Accept", "application/json"), ("X-Only-Default", "d")],
        )

    request = await sent(configure, "p", headers={"Accept": "application/json"})
    assert request.headers.get_all("Accept") == ["application/json", "text/html"]
    assert request.headers["X-Only-Default"] == "d"


async def test_single_valued_headers_keep_the_request_value_alone() -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.default_request(url="http://h/", headers={"Authorization": "Bearer default", "User-Agent": "d"})

    request = await sent(configure, "p", headers={"authorization": "Basic mine"})
    assert request.headers.get_all("Authorization") == ["Basic mine"]
    assert request.headers.get_all("User-Agent") == ["d"]


async def test_default_params_never_reach_an_absolute_url() -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.default_request(url="https://api.test/", params={"api_key": "secret"})

    request = await sent(configure, "https://elsewhere.test/x?y=1")
    assert str(request.url) == "https://elsewhere.test/x?y=1"


async def test_client_config_adds_configuration_without_applying_any_block_twice() -> None:
    applied: list[str] = []
    installs: list[str] = []

    @create_client_plugin("Counting")
    def counting(p: PluginBuilder[Any]) -> None:
        installs.append("installed")

    def parent_configure(config: HttpClientConfig[Any]) -> None:
        applied.append("parent")
        config.install(counting, lambda c: applied.append("plugin block"))
        config.default_request(url="https://parent.test/", headers={"X-Parent": "1"})

    engine = echo_engine()
    async with HttpClient(engine, parent_configure) as parent:
        child = parent.config(lambda c: c.default_request(url="https://child.test/", replace=True))
        async with child:
            await child.get("x")
            await parent.get("x")
    assert applied == ["parent", "plugin block", "plugin block"]  # once per client, never twice per client
    assert installs == ["installed", "installed"]
    assert [str(r.url) for r in engine.requests] == ["https://child.test/x", "https://parent.test/x"]
    assert "X-Parent" not in engine.requests[0].headers  # replace=True dropped the parent's defaults


async def test_a_shared_engine_stays_open_until_the_last_client_closes() -> None:
    def configure(config: HttpClientConfig[MockEngineConfig]) -> None:
        config.engine.add_handler(lambda r: respond("ok"))

    async with HttpClient(MockEngineFactory, configure) as parent:
        child = parent.config(lambda c: None)
        engine = parent.engine
        assert child.engine is engine
        await parent.close()
        assert not engine.closed  # type: ignore[attr-defined]
        assert (await child.get("http://h/")).status == 200
        await child.close()
        assert engine.closed  # type: ignore[attr-defined]


async def test_an_engine_passed_as_an_instance_is_not_closed_by_the_client() -> None:
    engine = echo_engine()
    async with HttpClient(engine):
        pass
    assert not engine.closed
    await engine.close()


async def test_the_engine_config_is_typed_and_filled_by_the_configure_block() -> None:
    def configure(config: HttpClientConfig[MockEngineConfig]) -> None:
        config.engine.threads_count = 8
        config.engine.add_handler(lambda r: respond("from config"))

    async with HttpClient(MockEngineFactory, configure) as client:
        assert client.engine_config.threads_count == 8
        assert await (await client.get("http://h/")).body_as_text() == "from config"


async def test_invalid_engine_config_is_rejected_naming_the_field() -> None:
    with pytest.raises(ValueError, match="threads_count must be >= 1"):
        HttpClient(MockEngineFactory, lambda c: setattr(c.engine, "threads_count", 0))


@pytest.mark.parametrize(
    ("status", "exception"),
    [(302, RedirectResponseException), (404, ClientRequestException), (503, ServerResponseException)],
)
async def test_expect_success_raises_with_the_response_and_its_body(status: int, exception: type) -> None:
    engine = MockEngine(lambda r: respond("x" * 5000, status=status))

    def configure(config: HttpClientConfig[Any]) -> None:
        config.expect_success = True
        config.follow_redirects = False

    async with HttpClient(engine, configure) as client:
        with pytest.raises(exception) as caught:
            await client.get("http://h/p")
        assert caught.value.response.status == status
        assert await caught.value.response.body_as_text() == "x" * 5000
        assert "(5000 chars)" in str(caught.value) and len(str(caught.value)) < 1300
        # a per-request override wins over the client's setting
        assert (await client.get("http://h/p", expect_success=False)).status == status


async def test_custom_validators_run_last_registered_first() -> None:
    order: list[str] = []

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(HttpCallValidator, lambda v: v.validate_response(lambda r: order.append("first")))
        config.install(HttpCallValidator, lambda v: v.validate_response(lambda r: order.append("second")))

    async with HttpClient(echo_engine(), configure) as client:
        await client.get("http://h/")
    assert order == ["second", "first"]


def test_discovery_follows_the_documented_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    class Point:
        def __init__(self, name: str, value: object, error: Exception | None = None) -> None:
            self.name, self.value, self._error = name, value, error

        def load(self) -> object:
            if self._error:
                raise self._error
            return self.value

    points = [
        Point("zzz", MockEngineFactory),
        Point("httpx", MockEngineFactory),
        Point("curl", None, ImportError("No module named 'pycurl'")),
        Point("aiohttp", MockEngineFactory),
    ]
    monkeypatch.setattr(engine_factory_module, "entry_points", lambda group: points)
    loaded, failed = engine_factory_module.discover_engines()
    assert list(loaded) == ["aiohttp", "httpx", "zzz"]
    assert failed == {"curl": "ImportError: No module named 'pycurl'"}


def test_no_installed_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_factory_module, "entry_points", lambda group: [])
    with pytest.raises(EngineNotFoundError, match=r"pip install 'tether\[aiohttp\]'"):
        HttpClient()
