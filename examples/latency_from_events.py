"""Per-request latency from client events alone: `python examples/latency_from_events.py`.

A plugin subscribes to the client's events with `on(MonitoringEvent(...))` and measures, for every
call, the time from `HttpRequestCreated` to each response head (`HttpResponseReceived`, one per hop)
and to a failure (`HttpResponseReceiveFailed`), and for every hop the time the engine took
(`HttpRequestIsReadyForSending` -> `HttpResponseReceived`). It reads no response and wraps no send:
the events carry the request (and its attributes, where it keeps its stamps) and a `time`.
Runs against the conformance suite's embedded server on every installed engine.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from tether_conformance import ServerEnvironment

from tether import AttributeKey, HttpClient, HttpClientConfig, TetherError
from tether.engine import HttpClientEngineFactory, discover_engines
from tether.events import (
    HttpRequestCreated,
    HttpRequestIsReadyForSending,
    HttpResponseReceived,
    HttpResponseReceiveFailed,
)
from tether.plugins import MonitoringEvent, PluginBuilder, create_client_plugin

CREATED: AttributeKey[float] = AttributeKey("LatencyCreated")
HOP_STARTED: AttributeKey[float] = AttributeKey("LatencyHopStarted")


@dataclass
class Latency:
    """One line per hop: what was asked, what came back, milliseconds since the call started and
    for this hop alone."""

    lines: list[str] = field(default_factory=list)


@create_client_plugin("LatencyFromEvents", Latency)
def LatencyFromEvents(plugin: PluginBuilder[Latency]) -> None:
    lines = plugin.plugin_config.lines

    def created(event: HttpRequestCreated) -> None:
        event.request.attributes[CREATED] = event.time

    def ready(event: HttpRequestIsReadyForSending) -> None:
        event.request.attributes[HOP_STARTED] = event.time

    def received(event: HttpResponseReceived) -> None:
        request = event.response.request
        total = (event.time - request.attributes[CREATED]) * 1000
        hop = (event.time - request.attributes[HOP_STARTED]) * 1000
        status = int(event.response.status)
        lines.append(f"{request.method} {request.url.path_qs:<28} {status}  {total:7.1f} ms  (hop {hop:6.1f} ms)")

    def failed(event: HttpResponseReceiveFailed) -> None:
        total = (event.time - event.request.attributes[CREATED]) * 1000
        name = type(event.cause).__name__
        lines.append(f"{event.request.method} {event.request.url.path_qs:<28} {name}  {total:7.1f} ms")

    plugin.on(MonitoringEvent(HttpRequestCreated), created)
    plugin.on(MonitoringEvent(HttpRequestIsReadyForSending), ready)
    plugin.on(MonitoringEvent(HttpResponseReceived), received)
    plugin.on(MonitoringEvent(HttpResponseReceiveFailed), failed)


async def measure(factory: HttpClientEngineFactory[Any], env: ServerEnvironment) -> list[str]:
    """The latency lines of four calls on one engine: a small body, a slow answer, two redirects,
    and a 404 that `expect_success` turns into an exception."""
    lines: list[str] = []

    def configure(config: HttpClientConfig[Any]) -> None:
        config.engine.ca_bundle = env.ca_file
        config.default_request(url=env.http("/"))
        config.install(LatencyFromEvents, lines=lines)
        config.expect_success = True

    async with HttpClient(factory, configure) as client:
        await client.get("bytes?size=1024")
        await client.get("delay?seconds=0.05")
        await client.get("redirect/chain/2")  # three hops: one line each
        with contextlib.suppress(TetherError):  # the failure is measured by its event
            await client.get("status/404")
    return lines


async def main() -> None:
    engines, _ = discover_engines()
    with ServerEnvironment() as env:
        for name, factory in engines.items():
            print(f"-- {name}")
            print("\n".join(await measure(factory, env)))


if __name__ == "__main__":
    asyncio.run(main())
