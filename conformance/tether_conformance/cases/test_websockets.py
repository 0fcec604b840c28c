"""WebSockets on every engine: the same semantics, limits and exceptions (tether frames with wsproto;
the engine only upgrades). Servers: `servers/websocket.py` (behaviours on demand) and hypercorn."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import Any

import tether.sync
from tether import HttpClientConfig, ProtocolError, ResponseException
from tether.engine import Http2Capability, WebSocketCapability
from tether.events import WebSocketClosed, WebSocketOpened
from tether.exceptions import ConnectTimeoutException, SocketTimeoutException
from tether.plugins import Auth, DefaultRequest, HttpTimeout
from tether.plugins.auth import BearerTokens
from tether.websockets import (
    FrameTooBigException,
    JsonWebSocketConverter,
    MessageType,
    WebSocketClosedException,
    WebSocketConnectionLostException,
    WebSocketHandshakeException,
    WebSocketOverHttp2Capability,
    WebSocketPingTimeoutException,
    WebSocketProtocolException,
    WebSockets,
)
from tether_conformance.registry import CaseContext, case

WS = [WebSocketCapability]


def websockets(**fields: Any) -> Any:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(WebSockets, **fields)

    return configure


async def wait_until_closed_on_server(t: CaseContext) -> int:
    """The behaviour server's open connections once they drained (bounded: 10 s at most)."""
    for _ in range(200):
        if t.env.websocket.open_connections == 0:
            break
        await asyncio.sleep(0.05)
    return t.env.websocket.open_connections


@case("websockets", "text-binary-and-empty-messages-echo", requires=WS)
async def echo(t: CaseContext) -> None:
    async with t.client(websockets()) as client, client.websocket(t.env.ws("echo")) as ws:
        sent: list[str | bytes] = ["héllo ☃", b"\x00\xff\x10", "", b""]
        for message in sent:
            await ws.send(message)
        received = [await ws.receive() for _ in sent]
    t.equal([m.data for m in received], sent, "echoed messages")
    t.equal([m.type for m in received], [MessageType.TEXT, MessageType.BINARY] * 2, "message types")


@case("websockets", "16-mib-message-echoes-byte-exact", requires=WS)
async def big(t: CaseContext) -> None:
    payload = bytes(range(256)) * (16 * 1024 * 4)  # 16 MiB
    async with t.client(websockets()) as client, client.websocket(t.env.ws("echo")) as ws:
        await ws.send_bytes(payload)
        echoed = await ws.receive_bytes()
    t.check(echoed == payload, f"16 MiB echo differs (got {len(echoed)} bytes)")


@case("websockets", "fragmented-message-is-joined", requires=WS)
async def fragments(t: CaseContext) -> None:
    async with t.client(websockets()) as client, client.websocket(t.env.ws("fragments?count=5&size=1000")) as ws:
        message = await ws.receive_bytes()
    t.equal(message, b"".join(bytes([i]) * 1000 for i in range(5)), "joined fragments")


@case("websockets", "invalid-utf8-closes-with-1007", requires=WS)
async def invalid_utf8(t: CaseContext) -> None:
    async with t.client(websockets()) as client, client.websocket(t.env.ws("invalid-utf8")) as ws:
        exc = await t.raises(WebSocketProtocolException, ws.receive())
        t.equal((exc.close_code, ws.close_code), (1007, 1007), "close codes")


@case("websockets", "server-close-code-and-reason-end-iteration", requires=WS)
async def server_close(t: CaseContext) -> None:
    async with t.client(websockets()) as client, client.websocket(t.env.ws("close?code=4001&reason=bye")) as ws:
        messages = [message async for message in ws]
        exc = await t.raises(WebSocketClosedException, ws.receive())
    t.equal((messages, ws.close_code, ws.close_reason), ([], 4001, "bye"), "messages, code, reason")
    t.equal((exc.close_code, exc.close_reason), (4001, "bye"), "exception's code and reason")


@case("websockets", "client-close-1000-with-reason", requires=WS)
async def client_close(t: CaseContext) -> None:
    async with t.client(websockets()) as client:
        ws = await client.websocket_session(t.env.ws("echo"))
        await ws.close(1000, "done")
        await t.raises(WebSocketClosedException, ws.send_text("late"))
    t.equal((ws.close_code, ws.close_reason), (1000, "done"), "code and reason (the server echoes them)")


@case("websockets", "abrupt-drop-gives-1006-and-a-typed-error", requires=WS)
async def drop(t: CaseContext) -> None:
    async with t.client(websockets()) as client, client.websocket(t.env.ws("drop")) as ws:
        pending = asyncio.ensure_future(ws.receive())
        await ws.send_text("bye")
        exc = await t.raises(WebSocketConnectionLostException, pending)
    t.equal((exc.close_code, ws.close_code), (1006, 1006), "close codes")


@case("websockets", "close-wakes-every-pending-receive", requires=WS)
async def close_wakes(t: CaseContext) -> None:
    async with t.client(websockets()) as client:
        ws = await client.websocket_session(t.env.ws("echo"))
        pending = [asyncio.ensure_future(ws.receive()) for _ in range(3)]
        iterating = asyncio.ensure_future(_collect(ws))
        await asyncio.sleep(0)  # all four are waiting now
        await ws.close()
        for task in pending:
            await t.raises(WebSocketClosedException, task)
        t.equal(await iterating, [], "iteration ended without messages")


async def _collect(ws: Any) -> list[Any]:
    return [message async for message in ws]


async def seen_by_server(t: CaseContext, tag: str) -> tuple[bool, tuple[int, str] | None]:
    """(whether the behaviour server's connection of session `tag` ended, the close frame it got),
    once it ended (bounded: 10 s at most)."""
    server = t.env.websocket
    for _ in range(200):
        if tag in server.ended:
            break
        await asyncio.sleep(0.05)
    return tag in server.ended, server.close_frames.get(tag)


@case("websockets", "closing-the-client-closes-its-sessions-with-1001", requires=WS)
async def client_closes_sessions(t: CaseContext) -> None:
    # Ktor cancels a client's sessions with it; tether closes them ("going away", then the drop).
    tag = uuid.uuid4().hex
    async with t.client(websockets()) as client:
        ws = await client.websocket_session(t.env.ws(f"echo?tag={tag}"))
        await ws.send_text("hi")
        t.equal(await ws.receive_text(), "hi", "echo")
        pending = asyncio.ensure_future(ws.receive())
        await asyncio.sleep(0)
    # Bounded: a session the client left open would keep this receive() waiting.
    await t.raises(WebSocketClosedException, asyncio.wait_for(pending, 15))
    await t.raises(WebSocketClosedException, asyncio.wait_for(ws.receive(), 15))
    await t.raises(WebSocketClosedException, asyncio.wait_for(ws.send_text("late"), 15))
    await asyncio.wait_for(ws.close(), 15)  # still safe to call
    t.equal(ws.close_code, 1001, "close code")
    t.equal(await seen_by_server(t, tag), (True, (1001, "going away")), "the server's connection ended, close frame")


@case("websockets", "closing-the-sync-client-closes-its-sessions", requires=WS)
async def sync_client_closes_sessions(t: CaseContext) -> None:
    tag = uuid.uuid4().hex
    outcomes, code = await asyncio.to_thread(_sync_session_after_client_close, t, t.env.ws(f"echo?tag={tag}"))
    t.equal(outcomes, ["WebSocketClosedException"] * 3 + ["returned"], "receive, send, ping, close after the close")
    t.equal(code, 1001, "close code")
    t.equal(await seen_by_server(t, tag), (True, (1001, "going away")), "the server's connection ended, close frame")


def _sync_session_after_client_close(t: CaseContext, url: str) -> tuple[list[str], int | None]:
    with tether.sync.HttpClient(t.factory, websockets()) as client:
        ws = client.websocket_session(url)
        ws.send_text("hi")
        t.equal(ws.receive_text(), "hi", "echo")
    outcomes: list[str] = []
    for call in (ws.receive, lambda: ws.send_text("late"), ws.ping, ws.close):
        try:
            call()
        except Exception as exc:
            outcomes.append(type(exc).__name__)
        else:
            outcomes.append("returned")
    return outcomes, ws.close_code


@case("websockets", "cancellation-leaves-no-socket-open", requires=WS)
async def cancellation(t: CaseContext) -> None:
    async with t.client(websockets()) as client:
        entered = asyncio.Event()

        async def session() -> None:
            async with client.websocket(t.env.ws("silent")) as ws:
                entered.set()
                await ws.receive()

        task = asyncio.ensure_future(session())
        waiting = asyncio.ensure_future(entered.wait())
        await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if task.done():  # it failed before entering (UnsupportedCapabilityError, a refused handshake): say so
            task.result()
            raise AssertionError("the session ended before it was entered")
        task.cancel()
        await t.raises(asyncio.CancelledError, task)
        t.equal(await wait_until_closed_on_server(t), 0, "connections the server still has open")


@case("websockets", "cancelled-handshake-leaves-no-socket-open", requires=WS)
async def cancelled_handshake(t: CaseContext) -> None:
    async with t.client(websockets()) as client:
        opening = asyncio.ensure_future(client.websocket_session(t.env.ws("hang")))
        for _ in range(200):  # until the server holds the connection (10 s at most)
            if t.env.websocket.open_connections:
                break
            if opening.done():  # it failed before reaching the server (UnsupportedCapabilityError): say so
                await opening
                raise AssertionError("the handshake ended although the server holds it")
            await asyncio.sleep(0.05)
        t.check(t.env.websocket.open_connections > 0, "the server never saw the upgrade request")
        opening.cancel()
        await t.raises(asyncio.CancelledError, opening)
        t.equal(await wait_until_closed_on_server(t), 0, "connections the server still has open")


@case("websockets", "a-held-handshake-ends-at-the-response-head-timeout", requires=WS)
async def held_handshake(t: CaseContext) -> None:
    # No timeout configured: the engine's default response_head_timeout bounds the upgrade as it
    # bounds any request, and the connection is closed.
    def configure(config: HttpClientConfig[Any]) -> None:
        websockets()(config)
        config.engine.response_head_timeout = 0.5

    async with t.client(configure) as client:
        exc = await t.raises(SocketTimeoutException, asyncio.wait_for(client.websocket_session(t.env.ws("hang")), 30))
        t.equal(exc.timeout, 0.5, "timeout")
        t.equal(await wait_until_closed_on_server(t), 0, "connections the server still has open")


@case("websockets", "missed-pong-raises-in-pending-receive", requires=WS)
async def ping_timeout(t: CaseContext) -> None:
    async with (
        t.client(websockets(ping_interval=0.2, ping_timeout=1.0)) as client,
        client.websocket(t.env.ws("silent")) as ws,
    ):
        await t.raises(WebSocketPingTimeoutException, ws.receive())
    t.equal(ws.close_code, 1011, "close code")


@case("websockets", "server-pings-are-answered", requires=WS)
async def server_ping(t: CaseContext) -> None:
    async with t.client(websockets()) as client, client.websocket(t.env.ws("ping")) as ws:
        t.equal(await ws.receive_text(), "pong:are you there", "the server saw our pong")


@case("websockets", "frame-over-max-frame-size-closes-with-1009", requires=WS)
async def frame_limit(t: CaseContext) -> None:
    async with t.client(websockets(max_frame_size=1024)) as client, client.websocket(t.env.ws("frame?size=2048")) as ws:
        exc = await t.raises(FrameTooBigException, ws.receive())
    t.equal((exc.limit_name, exc.limit, exc.close_code, ws.close_code), ("max_frame_size", 1024, 1009, 1009))


@case("websockets", "message-over-max-message-size-closes-with-1009", requires=WS)
async def message_limit(t: CaseContext) -> None:
    async with (
        t.client(websockets(max_message_size=4000)) as client,
        client.websocket(t.env.ws("fragments?count=8&size=1000")) as ws,
    ):
        exc = await t.raises(FrameTooBigException, ws.receive())
    t.equal((exc.limit_name, exc.limit, ws.close_code), ("max_message_size", 4000, 1009))


@case("websockets", "refusal-raises-with-readable-body", requires=WS)
async def refusal(t: CaseContext) -> None:
    async with t.client(websockets()) as client:
        exc = await t.raises(WebSocketHandshakeException, client.websocket_session(t.env.ws("refuse")))
    t.check(isinstance(exc, ResponseException), "a ResponseException")
    t.equal((int(exc.response.status), await exc.response.body_as_text()), (403, "go away"))


@case("websockets", "bad-accept-raises-protocol-error", requires=WS)
async def bad_accept(t: CaseContext) -> None:
    async with t.client(websockets()) as client:
        await t.raises(WebSocketProtocolException, client.websocket_session(t.env.ws("bad-accept")))


@case("websockets", "handshake-401-refreshes-the-token", requires=WS)
async def auth_refresh(t: CaseContext) -> None:
    calls: list[str] = []

    async def load() -> BearerTokens:
        calls.append("load")
        return BearerTokens("stale")

    async def refresh(*_: Any) -> BearerTokens:
        calls.append("refresh")
        return BearerTokens("valid")

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(WebSockets)
        config.install(Auth, lambda a: a.bearer(load_tokens=load, refresh_tokens=refresh))

    async with t.client(configure) as client, client.websocket(t.env.ws("auth")) as ws:
        await ws.send_text("in")
        t.equal(await ws.receive_text(), "in", "echo after the refresh")
    t.equal(calls, ["load", "refresh"], "token calls")


@case("websockets", "handshake-401-refresh-survives-the-server-dropping-that-connection", requires=WS)
async def auth_refresh_stale(t: CaseContext) -> None:
    # The refused upgrade's connection, if kept, is dropped by the server as the re-send arrives on it.
    async def load() -> BearerTokens:
        return BearerTokens("stale")

    async def refresh(*_: Any) -> BearerTokens:
        return BearerTokens("valid")

    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(WebSockets)
        config.install(Auth, lambda a: a.bearer(load_tokens=load, refresh_tokens=refresh))

    async with t.client(configure) as client, client.websocket(t.env.ws("auth?stale=1")) as ws:
        await ws.send_text("in")
        t.equal(await ws.receive_text(), "in", "echo after the refresh")


@case("websockets", "handshake-goes-through-the-pipeline", requires=WS)
async def pipeline(t: CaseContext) -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(WebSockets)
        config.install(DefaultRequest, headers={"X-Default": "yes"})

    async with (
        t.client(configure) as client,
        client.websocket(t.env.ws("echo?report=1"), cookies={"session": "abc"}) as ws,
    ):
        report = json.loads(await ws.receive_text())
    headers = report["headers"]
    t.equal((headers.get("x-default"), headers.get("cookie")), ("yes", "session=abc"), "default header, cookie")
    t.equal((headers.get("sec-websocket-version"), headers.get("upgrade")), ("13", "websocket"), "upgrade headers")


@case("websockets", "request-timeout-does-not-apply-to-the-session", requires=WS)
async def request_timeout(t: CaseContext) -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(WebSockets)
        config.install(HttpTimeout, request_timeout=0.3)

    async with t.client(configure) as client, client.websocket(t.env.ws("echo")) as ws:
        await asyncio.sleep(1.0)  # longer than the request timeout
        await ws.send_text("still here")
        t.equal(await ws.receive_text(), "still here", "echo after the request timeout passed")


@case("websockets", "connect-timeout-applies", requires=WS)
async def connect_timeout(t: CaseContext) -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.install(WebSockets)
        config.install(HttpTimeout, connect_timeout=0.5)

    async with t.client(configure) as client:
        url = f"ws://127.0.0.1:{t.env.blackhole_port}/"
        await t.raises(ConnectTimeoutException, client.websocket_session(url))


@case("websockets", "50-parallel-sessions-beside-http-requests", requires=WS)
async def parallel(t: CaseContext) -> None:
    def configure(config: HttpClientConfig[Any]) -> None:
        config.engine.max_connections = 8  # sessions hold no pool slot: 50 of them still fit
        config.install(WebSockets)

    async with t.client(configure) as client:
        sessions = await asyncio.gather(*(client.websocket_session(t.env.ws("echo")) for _ in range(50)))
        try:
            during = await client.get(t.env.http("/echo"))  # while all 50 are open
            for index, ws in enumerate(sessions):
                await ws.send_text(f"session {index}")
            replies = [await ws.receive_text() for ws in sessions]
        finally:
            for ws in sessions:
                await ws.close()
        after = await client.get(t.env.http("/echo"))
    t.equal(replies, [f"session {i}" for i in range(50)], "replies")
    t.equal((int(during.status), int(after.status)), (200, 200), "HTTP during and after")


@case("websockets", "wss-with-the-suite-ca", requires=WS)
async def wss(t: CaseContext) -> None:
    async with t.client(websockets()) as client, client.websocket(t.env.ws("echo", tls=True)) as ws:
        await ws.send_text("over tls")
        first = await ws.receive_text()
        hypercorn = t.env.https("/ws/echo").replace("https://", "wss://")
        async with client.websocket(hypercorn) as ws:
            await ws.send_bytes(b"hypercorn")
            second = await ws.receive_bytes()
    t.equal((first, second), ("over tls", b"hypercorn"))


@case("websockets", "hypercorn-asgi-echo", requires=WS)
async def hypercorn(t: CaseContext) -> None:
    async with (
        t.client(websockets()) as client,
        client.websocket(t.env.http("/ws/echo"), subprotocols=["chat.v1"]) as ws,
    ):
        await ws.send_text("asgi")
        t.equal((await ws.receive_text(), ws.subprotocol), ("asgi", "chat.v1"))


@case("websockets", "subprotocol-negotiation", requires=WS)
async def subprotocol(t: CaseContext) -> None:
    async with t.client(websockets()) as client:
        url = t.env.ws("echo?report=1&subprotocol=chat.v2")
        async with client.websocket(url, subprotocols=["chat.v1", "chat.v2"]) as ws:
            report = json.loads(await ws.receive_text())
        async with client.websocket(t.env.ws("echo")) as plain:
            pass
    t.equal(report["subprotocols"], ["chat.v1", "chat.v2"], "offered")
    t.equal((ws.subprotocol, plain.subprotocol), ("chat.v2", None), "chosen")


@case("websockets", "permessage-deflate-on-and-off", requires=WS)
async def compression(t: CaseContext) -> None:
    text = "compressible " * 100_000
    async with t.client(websockets()) as client, client.websocket(t.env.ws("echo")) as ws:
        await ws.send_text(text)
        t.equal(await ws.receive_text() == text, True, "compressed echo")
        on = ws.extensions
    async with t.client(websockets(compression=False)) as client, client.websocket(t.env.ws("echo?report=1")) as ws:
        report = json.loads(await ws.receive_text())
        await ws.send_text(text)
        t.equal(await ws.receive_text() == text, True, "plain echo")
    t.check(on[:1] != [] and on[0].startswith("permessage-deflate"), f"negotiated {on}")
    t.equal((report["extensions"], ws.extensions), ([], []), "nothing offered, nothing negotiated")


@case("websockets", "permessage-deflate-offer-parameters", requires=WS)
async def compression_parameters(t: CaseContext) -> None:
    text = "compressible " * 10_000
    offer = {"client_no_context_takeover": True, "client_max_window_bits": 10, "server_max_window_bits": 9}
    async with (
        t.client(websockets(**offer)) as client,
        client.websocket(t.env.ws("echo?report=1"), server_no_context_takeover=True) as ws,  # per call
    ):
        report = json.loads(await ws.receive_text())
        echoes = []
        for _ in range(3):  # every message compressed on its own, both ways
            await ws.send_text(text)
            echoes.append(await ws.receive_text() == text)
    t.equal(echoes, [True] * 3, "echoes")
    t.equal(
        report["extensions"],
        [
            "permessage-deflate; client_max_window_bits=10; server_max_window_bits=9; client_no_context_takeover;"
            " server_no_context_takeover"
        ],
        "offered",
    )
    t.equal(
        ws.extensions,
        [
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits=10;"
            " server_max_window_bits=9"
        ],
        "negotiated",
    )


@case("websockets", "content-converter", requires=WS)
async def converter(t: CaseContext) -> None:
    async with (
        t.client(websockets(content_converter=JsonWebSocketConverter())) as client,
        client.websocket(t.env.ws("echo")) as ws,
    ):
        await ws.send_serialized({"a": [1, 2]})
        t.equal(await ws.receive_deserialized(dict), {"a": [1, 2]})


@case("websockets", "over-http2-needs-its-own-capability", requires=[WebSocketCapability, WebSocketOverHttp2Capability])
async def over_http2(t: CaseContext) -> None:
    async with (
        t.client(websockets(), requires=[Http2Capability]) as client,
        client.websocket(t.env.https("/ws/echo")) as ws,
    ):
        await ws.send_text("h2")


@case("websockets", "opened-and-closed-events", requires=WS)
async def session_events(t: CaseContext) -> None:
    async with t.client(websockets()) as client:
        seen: list[str] = []

        def opened(event: WebSocketOpened) -> None:
            seen.append(f"opened {int(event.response.status)} {event.request.url.path} {event.subprotocol}")

        def closed(event: WebSocketClosed) -> None:
            seen.append(f"closed {event.code} {event.reason!r} {type(event.cause).__name__}")

        client.monitor.subscribe(WebSocketOpened, opened)
        client.monitor.subscribe(WebSocketClosed, closed)
        async with client.websocket(t.env.ws("echo")) as ws:
            await ws.send_text("hi")
            t.equal(await ws.receive_text(), "hi", "echo")
        t.equal(seen, ["opened 101 /ws/echo None", "closed 1000 '' NoneType"], "events of a session we closed")
        seen.clear()
        async with client.websocket(t.env.ws("close?code=4001&reason=bye")) as ws:
            await t.raises(WebSocketClosedException, ws.receive())
        t.equal(seen[0].split()[:2], ["opened", "101"], "opened")
        t.equal(seen[1:], ["closed 4001 'bye' NoneType"], "events of a session the server closed")


@case("websockets", "a-reset-during-the-handshake-is-a-protocol-error", requires=WS)
async def handshake_reset(t: CaseContext) -> None:
    # The server reads the upgrade request and resets the connection: the same tether exception on
    # every engine (a bare ConnectionResetError escaped on Curl and Urllib3).
    async with t.client(websockets()) as client:
        await t.raises(ProtocolError, client.websocket_session(t.env.raw_url("faults-reset-after-request")))


async def _outcome(awaitable: Any) -> str:
    """The word "returned", or the name of what the awaitable raised (CancelledError included)."""
    try:
        await awaitable
    except (Exception, asyncio.CancelledError) as exc:
        return type(exc).__name__
    return "returned"


@case("websockets", "a-send-cancelled-under-backpressure-leaves-the-frames-whole", requires=WS)
async def cancelled_send(t: CaseContext) -> None:
    # The server reads nothing until released: a 16 MiB message fills the buffers, a second one waits
    # on backpressure and is cancelled, a third waits behind them. Every frame the stream took reaches
    # the server whole and in order: the cancelled message whole (its frame was finished in the
    # background) or not at all (never begun); then the third and the close. Nothing later raises a
    # CancelledError of the cancelled send's, and the closing handshake completes.
    tag = uuid.uuid4().hex
    size = 16 * 1024 * 1024
    first, second = b"\x01" * size, b"\x02" * size
    server = t.env.websocket
    async with t.client(websockets()) as client:
        ws = await client.websocket_session(t.env.ws(f"stall?tag={tag}&compression=off"))
        try:
            sending_first = asyncio.ensure_future(ws.send_bytes(first))
            await asyncio.wait([sending_first], timeout=2)  # taken at once, or waiting on backpressure
            sending_second = asyncio.ensure_future(ws.send_bytes(second))
            await asyncio.sleep(0.2)  # it reaches the wait
            blocked = not sending_second.done()
            sending_second.cancel()
            cancelled = await _outcome(sending_second)
            sending_third = asyncio.ensure_future(ws.send_text("hello"))
            await asyncio.sleep(0.1)
        finally:
            server.release(tag)
        third = await _outcome(asyncio.wait_for(sending_third, 30))
        closed = await _outcome(asyncio.wait_for(ws.close(), 30))
        first_sent = await _outcome(asyncio.wait_for(sending_first, 30))
    ended = await seen_by_server(t, tag)
    received = server.received.get(tag)
    whole = [_digest(2, first), _digest(2, second), _digest(1, b"hello")]
    never_begun = [whole[0], whole[2]]
    t.check(blocked, "the second send never waited on backpressure (the case tests nothing)")
    t.equal(cancelled, "CancelledError", "the cancelled send")
    t.check(received in (whole, never_begun), f"the server received {received!r}: want {whole!r} or {never_begun!r}")
    t.equal((first_sent, third, closed), ("returned",) * 3, "the first send, the send after the cancel, close()")
    t.equal((ws.close_code, ended), (1000, (True, (1000, ""))), "close code; the server's connection ended, its close")


def _digest(opcode: int, data: bytes) -> tuple[int, int, str]:
    return opcode, len(data), hashlib.sha256(data).hexdigest()[:16]
