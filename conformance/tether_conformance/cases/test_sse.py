"""Server-Sent Events on every engine (and over HTTP/2 where the engine speaks it)."""

from __future__ import annotations

from typing import Any

from tether import HttpClientConfig, SSEClientException
from tether.engine import Http2Capability, SSECapability
from tether.plugins import SSE
from tether.plugins.sse import ServerSentEvent, SSEBufferPolicy
from tether_conformance.registry import CaseContext, case


def sse(**fields: Any) -> Any:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(SSE, **fields)

    return configure


async def events_of(t: CaseContext, url: str, requires: Any = (), **settings: Any) -> list[ServerSentEvent]:
    async with t.client(sse(**settings), requires=requires) as client, client.sse(url) as session:
        return [event async for event in session.incoming]


EXPECTED_BASIC = [
    ServerSentEvent("hello", "greeting", "1"),
    ServerSentEvent("multi\nline", None, "1"),
    ServerSentEvent('{"done": true}', "bye", "3"),
]


@case("sse", "basic-stream", requires=[SSECapability])
async def basic(t: CaseContext) -> None:
    t.equal(await events_of(t, t.env.http("/sse/basic")), EXPECTED_BASIC, "events")


@case("sse", "basic-stream-http2", requires=[SSECapability, Http2Capability])
async def basic_h2(t: CaseContext) -> None:
    t.equal(await events_of(t, t.env.https("/sse/basic"), requires=[Http2Capability]), EXPECTED_BASIC, "events")


@case("sse", "comment-events-on-request", requires=[SSECapability])
async def comments(t: CaseContext) -> None:
    events = await events_of(t, t.env.http("/sse/basic"), show_comment_events=True)
    t.equal(events[0], ServerSentEvent(None, None, None, None, "welcome"), "comment block")


@case("sse", "many-events", requires=[SSECapability])
async def many(t: CaseContext) -> None:
    events = await events_of(t, t.env.http("/sse/many?count=5000"))
    t.equal(len(events), 5000, "event count")
    t.equal((events[0].data, events[-1].data, events[-1].id), ("event 0", "event 4999", "4999"))


@case("sse", "reconnection-with-last-event-id", requires=[SSECapability])
async def reconnection(t: CaseContext) -> None:
    events = await events_of(t, t.env.http("/sse/reconnect"), max_reconnection_attempts=3, reconnection_time=0.05)
    t.equal([(e.id, e.data) for e in events], [("1", "one"), ("2", "two")], "events across reconnections")


@case("sse", "204-means-no-events", requires=[SSECapability])
async def no_content(t: CaseContext) -> None:
    t.equal(await events_of(t, t.env.http("/status/204"), max_reconnection_attempts=3), [], "events")


@case("sse", "wrong-content-type", requires=[SSECapability])
async def wrong_type(t: CaseContext) -> None:
    async with t.client(sse()) as client:
        exc = await t.raises(SSEClientException, client.sse_session(t.env.http("/sse/wrong-type")))
    t.check(exc.response is not None and int(exc.response.status) == 200, "the response is attached")


@case("sse", "non-2xx-status", requires=[SSECapability])
async def server_error(t: CaseContext) -> None:
    async with t.client(sse()) as client:
        exc = await t.raises(SSEClientException, client.sse_session(t.env.http("/status/500")))
    t.check(exc.response is not None, "the response is attached")
    assert exc.response is not None
    t.equal((int(exc.response.status), await exc.response.body_as_text()), (500, "status 500"))


def _policy_case(name: str, policy: SSEBufferPolicy, kept: str) -> None:
    @case("sse", f"buffer-{name}-after-mid-stream-error", requires=[SSECapability])
    async def body(t: CaseContext) -> None:
        received: list[str | None] = []
        async with t.client(sse(buffer_policy=policy)) as client:
            exc = await t.raises(SSEClientException, _read_all(client, t.env.raw_url("sse-midstream-error"), received))
        t.equal(received, ["a", "b", "c"], "events before the error")
        t.check(exc.response is not None, "the buffered response is attached")
        assert exc.response is not None
        t.equal(await exc.response.body_as_text(), kept, "what the policy kept")


async def _read_all(client: Any, url: str, sink: list[str | None]) -> None:
    async with client.sse(url) as session:
        async for event in session.incoming:
            sink.append(event.data)


for _name, _policy, _kept in [
    ("off", SSEBufferPolicy.off(), ""),
    ("last-lines-2", SSEBufferPolicy.last_lines(2), "data: c\n\n"),
    ("last-event", SSEBufferPolicy.last_event(), "id: 3\ndata: c\n\n"),
    ("last-events-2", SSEBufferPolicy.last_events(2), "data: b\n\nid: 3\ndata: c\n\n"),
    ("all", SSEBufferPolicy.all(), "data: a\n\ndata: b\n\nid: 3\ndata: c\n\n"),
]:
    _policy_case(_name, _policy, _kept)


@case("sse", "per-call-override", requires=[SSECapability])
async def per_call(t: CaseContext) -> None:
    async with t.client(sse(buffer_policy=SSEBufferPolicy.off())) as client:
        sink: list[str | None] = []

        async def read() -> None:
            async with client.sse(
                t.env.raw_url("sse-midstream-error"), buffer_policy=SSEBufferPolicy.last_event()
            ) as s:
                async for event in s.incoming:
                    sink.append(event.data)

        exc = await t.raises(SSEClientException, read())
    assert exc.response is not None
    t.equal(await exc.response.body_as_text(), "id: 3\ndata: c\n\n", "per-call policy won")
