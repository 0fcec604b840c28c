"""Client events (`client.monitor`): subscribe/unsubscribe, handler failure isolation, the order of the
events of a call across redirects and retries, and `on(MonitoringEvent(...))` in a plugin.
Pipeline logic only, so on the MockEngine."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
from typing import Any

import pytest

from tether import ConnectError, HttpClient, HttpClientConfig, ProtocolError
from tether.events import (
    ClientEvent,
    HttpClientClosed,
    HttpRequestCreated,
    HttpRequestIsReadyForSending,
    HttpRequestRetryEvent,
    HttpResponseCancelled,
    HttpResponseReceived,
    HttpResponseReceiveFailed,
    HttpResponseRedirectEvent,
)
from tether.plugins import HttpRequestRetry, MonitoringEvent, PluginBuilder, create_client_plugin
from tether.request import HttpRequestData
from tether.response import HttpResponseData
from tether.testing import MockEngine, respond

URL = "http://api.test/start"
CALL_EVENTS = (
    HttpRequestCreated,
    HttpRequestIsReadyForSending,
    HttpResponseReceived,
    HttpResponseReceiveFailed,
    HttpResponseCancelled,
    HttpResponseRedirectEvent,
    HttpRequestRetryEvent,
)


def describe(event: ClientEvent) -> str:
    """One line per event: its class and what it is about."""
    if isinstance(event, HttpRequestCreated):
        return f"created {event.request.url.path}"
    if isinstance(event, HttpRequestIsReadyForSending):
        return f"ready#{event.send_count} {event.request.url.path}"
    if isinstance(event, HttpResponseReceived):
        return f"received {int(event.response.status)} {event.response.request.url.path}"
    if isinstance(event, HttpResponseReceiveFailed):
        return f"failed {type(event.cause).__name__}"
    if isinstance(event, HttpResponseCancelled):
        return "cancelled"
    if isinstance(event, HttpResponseRedirectEvent):
        return f"redirect {int(event.response.status)} -> {event.request.url.path}"
    if isinstance(event, HttpRequestRetryEvent):
        return f"retry#{event.retry_count} after {int(event.response.status) if event.response else event.cause}"
    return type(event).__name__


def record_all(client: HttpClient) -> list[str]:
    seen: list[str] = []
    for kind in CALL_EVENTS:
        client.monitor.subscribe(kind, lambda event: seen.append(describe(event)))
    return seen


async def test_a_handler_gets_every_event_until_its_subscription_is_disposed() -> None:
    async with HttpClient(MockEngine(lambda r: respond("ok"), reuse_handlers=True)) as client:
        statuses: list[int] = []
        subscription = client.monitor.subscribe(HttpResponseReceived, lambda e: statuses.append(int(e.response.status)))
        await client.get(URL)
        await client.get(URL)
        subscription.dispose()
        subscription.dispose()  # harmless
        await client.get(URL)
        assert statuses == [200, 200]
        assert not client.monitor.has_subscribers(HttpResponseReceived)


async def test_a_subscription_is_a_context_manager_and_unsubscribe_removes_one_handler() -> None:
    async with HttpClient(MockEngine(lambda r: respond("ok"), reuse_handlers=True)) as client:
        seen: list[str] = []

        def handler(event: HttpRequestCreated) -> None:
            seen.append("h")

        with client.monitor.subscribe(HttpRequestCreated, lambda e: seen.append("scoped")):
            client.monitor.subscribe(HttpRequestCreated, handler)
            await client.get(URL)
        await client.get(URL)
        client.monitor.unsubscribe(HttpRequestCreated, handler)
        await client.get(URL)
        assert seen == ["scoped", "h", "h"]


async def test_async_handlers_are_awaited_in_subscription_order() -> None:
    async with HttpClient(MockEngine(lambda r: respond("ok"))) as client:
        seen: list[str] = []

        async def slow(event: HttpRequestCreated) -> None:
            await asyncio.sleep(0.01)
            seen.append("async")

        client.monitor.subscribe(HttpRequestCreated, slow)
        client.monitor.subscribe(HttpRequestCreated, lambda e: seen.append("sync"))
        client.monitor.subscribe(HttpResponseReceived, lambda e: seen.append("received"))
        await client.get(URL)
        assert seen == ["async", "sync", "received"]


async def test_a_failing_handler_is_logged_and_breaks_neither_the_call_nor_other_handlers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with HttpClient(MockEngine(lambda r: respond("ok"))) as client:
        seen: list[str] = []

        def broken(event: ClientEvent) -> None:
            raise RuntimeError("handler bug")

        async def broken_async(event: ClientEvent) -> None:
            raise ValueError("async handler bug")

        client.monitor.subscribe(HttpRequestCreated, broken)
        client.monitor.subscribe(HttpResponseReceived, broken_async)
        client.monitor.subscribe(HttpResponseReceived, lambda e: seen.append("after"))
        with caplog.at_level(logging.ERROR, logger="tether.events"):
            response = await client.get(URL)
        assert await response.body_as_text() == "ok"
        assert seen == ["after"]
        messages = [r.getMessage() for r in caplog.records if r.name == "tether.events"]
        assert len(messages) == 2
        assert "HttpRequestCreated" in messages[0] and "HttpResponseReceived" in messages[1]
        assert caplog.records[0].exc_info is not None


async def test_subscribing_to_something_that_is_not_an_event_class_is_a_type_error() -> None:
    async with HttpClient(MockEngine(lambda r: respond("ok"))) as client:
        with pytest.raises(TypeError, match="event class"):
            client.monitor.subscribe(HttpRequestCreated(None), print)  # type: ignore[arg-type]


async def test_events_across_a_redirect_and_a_retry_come_in_call_order() -> None:
    """start -> 302 -> /next, which fails once with 503 and then answers: one created event, one
    ready/received pair per send, the retry and the redirect hop included."""
    answers = iter([respond(status=302, headers={"Location": "/next"}), respond(status=503), respond("done")])

    def engine(request: HttpRequestData) -> HttpResponseData:
        return next(answers)

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(HttpRequestRetry, base_delay=0.0, jitter=0.0)

    async with HttpClient(MockEngine(engine, reuse_handlers=True), configure) as client:
        seen = record_all(client)
        response = await client.get(URL)
        assert await response.body_as_text() == "done"
    assert seen == [
        "created /start",
        "ready#1 /start",
        "received 302 /start",
        "redirect 302 -> /next",
        "ready#2 /next",
        "received 503 /next",
        "retry#1 after 503",
        "ready#3 /next",
        "received 200 /next",
    ]


async def test_a_call_that_fails_ends_with_receive_failed_carrying_the_cause() -> None:
    def refuse(request: HttpRequestData) -> HttpResponseData:
        raise ConnectError("refused")

    async with HttpClient(MockEngine(refuse)) as client:
        failures: list[HttpResponseReceiveFailed] = []
        client.monitor.subscribe(HttpResponseReceiveFailed, failures.append)
        seen = record_all(client)
        with pytest.raises(ConnectError):
            await client.get(URL)
    assert seen == ["created /start", "ready#1 /start", "failed ConnectError"]
    assert failures[0].response is None and str(failures[0].cause) == "refused"


async def test_a_body_that_cannot_be_read_fails_with_the_response_attached() -> None:
    async def short() -> Any:
        yield b"abc"

    def truncated(request: HttpRequestData) -> HttpResponseData:
        data = respond(short())
        data.body._expected = 10  # a Content-Length the stream does not meet
        return data

    async with HttpClient(MockEngine(truncated)) as client:
        failures: list[HttpResponseReceiveFailed] = []
        client.monitor.subscribe(HttpResponseReceiveFailed, failures.append)
        with pytest.raises(ProtocolError):
            await client.get(URL)
    assert failures[0].response is not None and int(failures[0].response.status) == 200
    assert isinstance(failures[0].cause, ProtocolError)


async def test_a_cancelled_call_raises_response_cancelled() -> None:
    started = asyncio.Event()

    async def never(request: HttpRequestData) -> HttpResponseData:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async with HttpClient(MockEngine(never)) as client:
        seen = record_all(client)
        task = asyncio.create_task(client.get(URL))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert seen == ["created /start", "ready#1 /start", "cancelled"]


async def test_closing_the_client_raises_client_closed_once() -> None:
    client = HttpClient(MockEngine(lambda r: respond("ok")))
    closed: list[HttpClientClosed] = []
    client.monitor.subscribe(HttpClientClosed, closed.append)
    await client.close()
    await client.close()
    assert [event.client for event in closed] == [client]


async def test_a_plugin_subscribes_with_on_monitoring_event() -> None:
    @create_client_plugin("Latency")
    def latency(plugin: PluginBuilder[Any]) -> None:
        def received(event: HttpResponseReceived) -> None:
            plugin.client.latencies.append(event.time - event.response.request.attributes[STARTED])  # type: ignore[attr-defined]

        plugin.on(MonitoringEvent(HttpRequestCreated), lambda e: e.request.attributes.put(STARTED, e.time))
        plugin.on(MonitoringEvent(HttpResponseReceived), received)

    from tether import AttributeKey

    STARTED: AttributeKey[float] = AttributeKey("Started")

    async def slow(request: HttpRequestData) -> HttpResponseData:
        await asyncio.sleep(0.02)
        return respond("ok")

    async with HttpClient(MockEngine(slow), lambda config: config.install(latency)) as client:
        client.latencies = []  # type: ignore[attr-defined]
        await client.get(URL)
        assert len(client.latencies) == 1 and client.latencies[0] >= 0.015  # type: ignore[attr-defined]


async def test_events_are_not_built_when_nobody_listens() -> None:
    built: list[object] = []

    @dataclasses.dataclass(frozen=True)
    class Spy(HttpRequestCreated):
        def __post_init__(self) -> None:
            built.append(self)

    async with HttpClient(MockEngine(lambda r: respond("ok"))) as client:
        await client.monitor.emit_new(Spy, None)
        assert built == []
        client.monitor.subscribe(Spy, lambda e: None)
        await client.monitor.emit_new(Spy, None)
        assert len(built) == 1


async def test_an_sse_session_reports_the_dropped_stream_and_each_reconnection_attempt() -> None:
    from tether.events import SSEReconnected, SSEReconnecting
    from tether.plugins import SSE

    async def dropped() -> Any:
        yield b"id: 7\ndata: first\n\n"
        raise ProtocolError("connection reset mid-stream")

    def refuse(request: HttpRequestData) -> HttpResponseData:
        raise ConnectError("refused")

    headers = {"Content-Type": "text/event-stream"}
    engine = MockEngine(
        lambda r: respond(dropped(), headers=headers),
        refuse,
        lambda r: respond(b"data: second\n\n", headers=headers),
        reuse_handlers=False,
    )

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(SSE, max_reconnection_attempts=3, reconnection_time=0)

    seen: list[str] = []
    async with HttpClient(engine, configure) as client:

        def reconnecting(event: SSEReconnecting) -> None:
            seen.append(f"reconnecting #{event.attempt} after {type(event.cause).__name__} id={event.last_event_id}")

        def reconnected(event: SSEReconnected) -> None:
            seen.append(f"reconnected #{event.attempt} {int(event.response.status)} {event.url}")

        client.monitor.subscribe(SSEReconnecting, reconnecting)
        client.monitor.subscribe(SSEReconnected, reconnected)
        async with client.sse(URL) as session:
            data = []
            async for event in session.incoming:
                data.append(event.data)
                if len(data) == 2:
                    break
    assert data == ["first", "second"]
    assert seen == [
        "reconnecting #1 after ProtocolError id=7",
        "reconnecting #2 after ConnectError id=7",
        f"reconnected #2 200 {URL}",
    ]


async def test_the_latency_example_measures_every_hop_and_the_failure_from_events_alone() -> None:
    import importlib.util
    from pathlib import Path

    from tether_conformance import ServerEnvironment

    from tether.engine import discover_engines

    path = Path(__file__).parent.parent / "examples" / "latency_from_events.py"
    spec = importlib.util.spec_from_file_location("latency_from_events", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = example  # its dataclasses look their module up
    try:
        spec.loader.exec_module(example)
    finally:
        del sys.modules[spec.name]
    engines, _ = discover_engines()
    with ServerEnvironment() as env:
        lines = await example.measure(engines["aiohttp"], env)
    statuses = [line.split()[2] for line in lines]
    assert statuses == ["200", "200", "302", "302", "200", "404", "ClientRequestException"]
    slow = float(lines[1].split()[3])
    assert slow >= 45.0  # the /delay answer took 50 ms: measured from the events
