"""HttpTimeout: each kind of timeout raises its own class on every engine."""

from __future__ import annotations

from typing import Any

from tether import (
    ConnectTimeoutException,
    HttpClientConfig,
    HttpRequestTimeoutException,
    SocketTimeoutException,
)
from tether.engine import HttpTimeoutConfig
from tether.plugins import HttpTimeout
from tether_conformance.registry import CaseContext, case


def timeouts(**values: Any) -> Any:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(HttpTimeout, **values)

    return configure


@case("timeouts", "connect")
async def connect_timeout(t: CaseContext) -> None:
    async with t.client(timeouts(connect_timeout=0.3)) as client:
        exc = await t.raises(ConnectTimeoutException, client.get(f"http://127.0.0.1:{t.env.blackhole_port}/"))
    t.equal(exc.timeout, 0.3)


@case("timeouts", "request")
async def request_timeout(t: CaseContext) -> None:
    async with t.client(timeouts(request_timeout=0.3)) as client:
        exc = await t.raises(HttpRequestTimeoutException, client.get(t.env.http("/delay?seconds=3")))
    t.equal(exc.timeout, 0.3)


@case("timeouts", "request-while-reading-body")
async def request_timeout_body(t: CaseContext) -> None:
    async with t.client(timeouts(request_timeout=0.5)) as client:
        await t.raises(HttpRequestTimeoutException, client.get(t.env.http("/stall-body?seconds=3")))


@case("timeouts", "socket-waiting-for-head")
async def socket_timeout_head(t: CaseContext) -> None:
    async with t.client(timeouts(socket_timeout=0.3)) as client:
        await t.raises(SocketTimeoutException, client.get(t.env.http("/delay?seconds=3")))


@case("timeouts", "socket-on-a-kept-alive-connection")
async def socket_timeout_reused(t: CaseContext) -> None:
    # The second request reuses the first one's connection (engines may take a faster path there).
    async with t.client(timeouts(socket_timeout=0.3)) as client:
        first = await client.get(t.env.http("/delay?seconds=0"))
        await t.raises(SocketTimeoutException, client.get(t.env.http("/delay?seconds=3")))
        after = await client.get(t.env.http("/delay?seconds=0"))
    t.equal((first.status, after.status), (200, 200))


@case("timeouts", "socket-mid-body")
async def socket_timeout_body(t: CaseContext) -> None:
    async with t.client(timeouts(socket_timeout=0.3)) as client:
        await t.raises(SocketTimeoutException, client.get(t.env.http("/stall-body?seconds=3")))


@case("timeouts", "per-request-override")
async def per_request(t: CaseContext) -> None:
    async with t.client(timeouts(request_timeout=10)) as client:
        await t.raises(HttpRequestTimeoutException, client.get(t.env.http("/delay?seconds=3"), timeout=0.3))
        response = await client.get(t.env.http("/delay?seconds=0.2"), timeout=HttpTimeoutConfig(socket_timeout=5))
    t.equal(await response.body_as_text(), "late")


@case("timeouts", "slow-but-steady-body-is-not-a-socket-timeout")
async def steady_body(t: CaseContext) -> None:
    async with t.client(timeouts(socket_timeout=0.5)) as client:
        response = await client.get(t.env.http("/chunked?size=2000&chunk=200&delay=0.1"))
    t.equal(len(await response.body_as_bytes()), 2000)


@case("timeouts", "no-timeout-by-default")
async def no_default(t: CaseContext) -> None:
    async with t.client() as client:
        response = await client.get(t.env.http("/delay?seconds=1.2"))
    t.equal(await response.body_as_text(), "late")
