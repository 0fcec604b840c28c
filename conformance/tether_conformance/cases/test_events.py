"""Client events on real servers: the same events, in the same order, on every engine."""

from __future__ import annotations

from typing import Any

from tether import ConnectError, HttpClient, HttpClientConfig
from tether.engine import SSECapability
from tether.events import (
    ClientEvent,
    HttpRequestCreated,
    HttpRequestIsReadyForSending,
    HttpResponseReceived,
    HttpResponseReceiveFailed,
    SSEReconnected,
    SSEReconnecting,
)
from tether.plugins import SSE
from tether_conformance.registry import CaseContext, case


def recorder(client: HttpClient) -> list[str]:
    seen: list[str] = []

    def note(event: ClientEvent) -> None:
        if isinstance(event, HttpRequestCreated):
            seen.append(f"created {event.request.url.path}")
        elif isinstance(event, HttpRequestIsReadyForSending):
            seen.append(f"ready#{event.send_count} {event.request.url.path}")
        elif isinstance(event, HttpResponseReceived):
            seen.append(f"received {int(event.response.status)} {event.response.request.url.path}")
        elif isinstance(event, HttpResponseReceiveFailed):
            seen.append(f"failed {type(event.cause).__name__}")

    for kind in (HttpRequestCreated, HttpRequestIsReadyForSending, HttpResponseReceived, HttpResponseReceiveFailed):
        client.monitor.subscribe(kind, note)
    return seen


@case("events", "one-call-across-redirect-hops")
async def redirect_hops(t: CaseContext) -> None:
    async with t.client() as client:
        seen = recorder(client)
        response = await client.get(t.env.http("/redirect/chain/2"))
        t.equal(int(response.status), 200)
    t.equal(
        seen,
        [
            "created /redirect/chain/2",
            "ready#1 /redirect/chain/2",
            "received 302 /redirect/chain/2",
            "ready#2 /redirect/chain/1",
            "received 302 /redirect/chain/1",
            "ready#3 /echo",
            "received 200 /echo",
        ],
        "events",
    )


@case("events", "a-refused-connection-ends-with-receive-failed")
async def refused(t: CaseContext) -> None:
    async with t.client() as client:
        seen = recorder(client)
        await t.raises(ConnectError, client.get("http://127.0.0.1:1/"))
    t.equal(seen, ["created /", "ready#1 /", "failed ConnectError"], "events")


@case("events", "sse-reconnection-is-observable", requires=[SSECapability])
async def sse_reconnection(t: CaseContext) -> None:
    def install(config: HttpClientConfig[Any]) -> None:
        config.install(SSE, max_reconnection_attempts=3, reconnection_time=0.05)

    seen: list[str] = []
    async with t.client(install) as client:
        client.monitor.subscribe(
            SSEReconnecting, lambda e: seen.append(f"reconnecting #{e.attempt} id={e.last_event_id}")
        )
        client.monitor.subscribe(SSEReconnected, lambda e: seen.append(f"reconnected {int(e.response.status)}"))
        async with client.sse(t.env.http("/sse/reconnect")) as session:
            data = [event.data async for event in session.incoming]
    t.equal(data, ["one", "two"], "events across reconnections")
    # The stream ends after "one" (retry: 50 ms) and after "two"; the last reconnection gets a 204.
    t.equal(seen, ["reconnecting #1 id=1", "reconnected 200", "reconnecting #1 id=2", "reconnected 204"], "events")
