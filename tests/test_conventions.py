"""What a Python user expects: `timeout=` everywhere, misspelt settings and wrong types named, engines
by name, helpful errors for a factory called like a class, a missing library or a missing CA file."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tether_aiohttp import Aiohttp, AiohttpConfig
from tether_conformance import ServerEnvironment

from tether import EngineNotFoundError, HttpClient, HttpClientConfig, HttpRequestTimeoutException
from tether.engine import discover_engines
from tether.engine.capabilities import HttpTimeoutConfig
from tether.plugins import HttpRequestRetry, HttpTimeout
from tether.plugins.retry import RetryPolicy
from tether.testing import MockEngine, respond


@pytest.fixture(scope="module")
def env() -> Iterator[ServerEnvironment]:
    with ServerEnvironment() as environment:
        yield environment


# -- timeout= without installing HttpTimeout ----------------------------------------------------------


async def test_timeout_works_on_a_request_without_the_plugin(env: ServerEnvironment) -> None:
    async with HttpClient(Aiohttp) as client:
        started = time.monotonic()
        with pytest.raises(HttpRequestTimeoutException, match="300 ms"):
            await client.get(env.http("/delay"), params={"seconds": 5}, timeout=0.3)
        assert time.monotonic() - started < 3
        fast = await client.get(env.http("/delay"), params={"seconds": 0}, timeout=HttpTimeoutConfig(5.0, 5.0, 5.0))
        assert fast.status == 200
        assert client.plugin_or_none(HttpTimeout) is None  # nothing was installed behind the user's back


async def test_a_timeout_of_the_wrong_type_names_the_keyword() -> None:
    async with HttpClient(MockEngine(lambda request: respond("ok"))) as client:
        with pytest.raises(TypeError, match="timeout"):
            await client.get("http://h/", timeout="soon")


# -- misspelt settings and wrong types ------------------------------------------------------------------


def test_a_misspelt_client_setting_names_the_valid_ones() -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.expect_sucess = True  # type: ignore[attr-defined]

    with pytest.raises(AttributeError, match=r"expect_sucess.*Did you mean 'expect_success'.*follow_redirects"):
        HttpClient(Aiohttp, configure)


def test_a_misspelt_engine_setting_names_the_valid_ones() -> None:
    def configure(config: HttpClientConfig[AiohttpConfig]) -> None:
        config.engine.verfy = False  # type: ignore[attr-defined]

    with pytest.raises(AttributeError, match=r"AiohttpConfig has no setting 'verfy'.*'verify'.*ca_bundle"):
        HttpClient(Aiohttp, configure)


def test_an_option_the_engine_cannot_honour_says_so() -> None:
    def configure(config: HttpClientConfig[AiohttpConfig]) -> None:
        config.engine.http2 = True  # type: ignore[attr-defined]

    with pytest.raises(AttributeError, match=r"'http2'.*does not speak HTTP/2"):
        HttpClient(Aiohttp, configure)


def test_a_misspelt_field_in_a_configure_block_names_the_valid_ones() -> None:
    def retry(policy: RetryPolicy) -> None:
        policy.max_retris = 5  # type: ignore[attr-defined]

    with pytest.raises(AttributeError, match=r"HttpRequestRetry config has no setting 'max_retris'.*'max_retries'"):
        HttpClient(Aiohttp, lambda config: config.install(HttpRequestRetry, retry))


@pytest.mark.parametrize(
    ("configure", "field"),
    [
        (lambda config: config.install(HttpRequestRetry, max_retries="3"), "HttpRequestRetry.max_retries"),
        (lambda config: config.install(HttpTimeout, request_timeout="10"), "HttpTimeout.request_timeout"),
        (lambda config: setattr(config.engine, "threads_count", "8"), "AiohttpConfig.threads_count"),
        (lambda config: setattr(config, "expect_success", "yes"), "HttpClientConfig.expect_success"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_field(configure: Any, field: str) -> None:
    with pytest.raises(TypeError, match=field.replace(".", r"\.")):
        HttpClient(Aiohttp, configure)


def test_values_of_the_right_type_pass() -> None:
    def configure(config: HttpClientConfig[AiohttpConfig]) -> None:
        config.install(HttpRequestRetry, max_retries=2, base_delay=1)  # an int where a float is declared
        config.install(HttpTimeout, request_timeout=None, socket_timeout=2.5)
        config.engine.threads_count = 2
        config.expect_success = True

    HttpClient(Aiohttp, configure)


# -- picking an engine ----------------------------------------------------------------------------------


async def test_an_engine_by_its_entry_point_name(env: ServerEnvironment) -> None:
    async with HttpClient("httpx") as client:
        assert client.engine.name == "Httpx"
        assert (await client.get(env.http("/text/utf8"))).status == 200


def test_an_unknown_engine_name_lists_the_installed_ones() -> None:
    with pytest.raises(EngineNotFoundError, match=r"'requests'.*aiohttp.*HttpClient\(Aiohttp\)"):
        HttpClient("requests")


def test_calling_a_factory_explains_factory_and_instance() -> None:
    with pytest.raises(TypeError, match=r"Aiohttp is an engine factory.*HttpClient\(Aiohttp, configure\)"):
        HttpClient(Aiohttp())


def test_something_else_says_what_is_accepted() -> None:
    with pytest.raises(TypeError, match="engine factory"):
        HttpClient(42)  # type: ignore[call-overload]


def test_importing_an_engine_whose_library_is_missing_names_the_extra() -> None:
    program = "import sys; sys.modules['aiohttp'] = None; import tether_aiohttp"
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "tether_aiohttp needs aiohttp, which is not installed: pip install 'tether[aiohttp]'" in result.stderr


@pytest.mark.parametrize("engine", sorted(discover_engines()[0]))
def test_a_missing_ca_bundle_is_one_exception_naming_the_path_on_every_engine(engine: str) -> None:
    missing = "/nonexistent/tether-ca.pem"

    def configure(config: HttpClientConfig[Any]) -> None:
        config.engine.ca_bundle = missing

    with pytest.raises(FileNotFoundError, match="ca_bundle") as caught:
        HttpClient(engine, configure)
    assert caught.value.filename == missing


def test_the_conformance_suite_names_its_missing_extra_instead_of_failing_cases() -> None:
    program = "import sys; sys.modules['brotli'] = None; import runpy; runpy.run_module('tether_conformance')"
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "needs brotli, which is not installed: pip install 'tether[conformance]'" in result.stderr
    assert "FAIL" not in result.stdout


def test_a_missing_client_cert_file_names_the_path() -> None:
    def configure(config: HttpClientConfig[AiohttpConfig]) -> None:
        config.engine.client_cert = (__file__, "/nonexistent/client.key")

    with pytest.raises(FileNotFoundError, match="client_cert") as caught:
        HttpClient(Aiohttp, configure)
    assert caught.value.filename == "/nonexistent/client.key"
