"""Unit tests of the httpx adapter's request/response and exception mapping (respx mocks httpx)."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest
import respx
from tether_httpx import Httpx, HttpxConfig

from tether import (
    ConnectError,
    ConnectTimeoutException,
    HttpClient,
    HttpClientConfig,
    HttpProtocolVersion,
    ProtocolError,
    SocketTimeoutException,
    TlsError,
)
from tether.plugins import HttpTimeout


def timeouts(config: HttpClientConfig[HttpxConfig]) -> None:
    config.install(HttpTimeout, connect_timeout=1.5, socket_timeout=2.5)


async def test_request_is_mapped_without_library_defaults() -> None:
    with respx.mock(assert_all_called=True) as router:
        route = router.post("https://api.test/items?a=%2F").mock(return_value=httpx.Response(201, text="made"))
        async with HttpClient(Httpx, timeouts) as client:
            response = await client.post(
                "https://api.test/items?a=%2F", content=b"payload", headers=[("X-One", "1"), ("X-One", "2")]
            )
    sent = route.calls.last.request
    assert sent.method == "POST"
    assert sent.url.raw_path == b"/items?a=%2F"
    assert sent.content == b"payload"
    assert sent.headers.get_list("x-one") == ["1", "2"]
    assert "user-agent" not in sent.headers and "accept-encoding" not in sent.headers
    assert sent.extensions["timeout"] == {"connect": 1.5, "read": 2.5, "write": 2.5, "pool": None}
    assert response.status == 201
    assert await response.body_as_text() == "made"


async def test_response_is_mapped_with_raw_headers_version_and_reason() -> None:
    with respx.mock() as router:
        router.get("https://api.test/").mock(
            return_value=httpx.Response(
                299,
                headers=[("X-Multi", "a"), ("x-multi", "b")],
                content=b"body",
                extensions={"http_version": b"HTTP/2", "reason_phrase": b"Custom"},
            )
        )
        async with HttpClient(Httpx) as client:
            response = await client.get("https://api.test/")
    assert response.version is HttpProtocolVersion.HTTP_2_0
    assert (int(response.status), response.status.description) == (299, "Custom")
    assert response.headers.get_all("X-MULTI") == ["a", "b"]
    assert await response.body_as_bytes() == b"body"


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (httpx.ConnectTimeout("slow connect"), ConnectTimeoutException),
        (httpx.ReadTimeout("slow read"), SocketTimeoutException),
        (httpx.WriteTimeout("slow write"), SocketTimeoutException),
        (httpx.ConnectError("refused"), ConnectError),
        (httpx.RemoteProtocolError("peer closed connection"), ProtocolError),
        (httpx.ReadError("reset"), ProtocolError),
    ],
)
async def test_each_httpx_exception_maps_to_one_tether_class(raised: Exception, expected: type) -> None:
    with respx.mock() as router:
        router.get("https://api.test/").mock(side_effect=raised)
        async with HttpClient(Httpx, timeouts) as client:
            with pytest.raises(expected) as caught:
                await client.get("https://api.test/")
    assert type(caught.value) is expected
    assert caught.value.__cause__ is raised


async def test_a_tls_failure_inside_a_connect_error_is_a_tls_error() -> None:
    cause = ssl.SSLCertVerificationError("certificate verify failed")
    error = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]")
    error.__cause__ = cause
    with respx.mock() as router:
        router.get("https://api.test/").mock(side_effect=error)
        async with HttpClient(Httpx) as client:
            with pytest.raises(TlsError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get("https://api.test/")


async def test_customize_client_sees_the_client_arguments() -> None:
    seen: dict[str, Any] = {}

    def configure(config: HttpClientConfig[HttpxConfig]) -> None:
        config.engine.customize_client = seen.update

    with respx.mock() as router:
        router.get("https://api.test/").mock(return_value=httpx.Response(200))
        async with HttpClient(Httpx, configure) as client:
            await client.get("https://api.test/")
    assert seen["follow_redirects"] is False and seen["trust_env"] is False


async def test_http1_requests_spread_over_small_pools_within_max_connections() -> None:
    limits: list[httpx.Limits] = []

    def configure(config: HttpClientConfig[HttpxConfig]) -> None:
        config.engine.max_connections = 10
        config.engine.customize_client = lambda kwargs: limits.append(kwargs["limits"])

    with respx.mock() as router:
        router.get("https://api.test/").mock(return_value=httpx.Response(200, content=b"x" * 10))
        async with HttpClient(Httpx, configure) as client:
            statements = [client.prepare_get("https://api.test/") for _ in range(3)]
            async with statements[0].execute() as first, statements[1].execute() as second:
                shards = client.engine._pools["default"]  # type: ignore[attr-defined]
                # Two streaming responses in flight: each went to a different (least busy) pool.
                assert sorted(shard.active for shard in shards) == [0, 1, 1]
                assert await first.body_as_bytes() == b"x" * 10
                await second.body_as_bytes()
            assert [shard.active for shard in shards] == [0, 0, 0]
            await statements[2].execute()
    # 10 connections in pools of at most SHARD_CONNECTIONS (4): 4 + 3 + 3.
    assert sorted(limit.max_connections for limit in limits) == [3, 3, 4]
    assert all(limit.max_keepalive_connections for limit in limits)


async def test_http2_keeps_one_pool() -> None:
    seen: list[dict[str, Any]] = []

    def configure(config: HttpClientConfig[HttpxConfig]) -> None:
        config.engine.http2 = True
        config.engine.customize_client = seen.append

    with respx.mock() as router:
        router.get("https://api.test/").mock(return_value=httpx.Response(200))
        async with HttpClient(Httpx, configure) as client:
            await client.get("https://api.test/")
    assert len(seen) == 1 and seen[0]["limits"].max_connections == client.engine.config.max_connections
