"""The opening handshake (RFC 6455 4.1): an upgrade GET through the client's whole pipeline
(DefaultRequest, Auth, cookies, Logging, HttpTimeout's connect timeout), sent by the engine's
`upgrade`; tether adds the `Sec-WebSocket-*` headers and checks the answer."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from collections.abc import Sequence
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from wsproto.extensions import Extension, PerMessageDeflate
from yarl import URL

from tether.engine.base import upgrade_with_defaults
from tether.engine.capabilities import Http2Capability, HttpClientEngineCapability, WebSocketCapability
from tether.engine.upgrade import UPGRADE_CALL, UpgradedStream
from tether.events import WebSocketOpened
from tether.exceptions import ClientClosedError, UnsupportedCapabilityError
from tether.request import HttpRequestData
from tether.response import HttpResponseData
from tether.websockets.exceptions import WebSocketHandshakeException, WebSocketProtocolException
from tether.websockets.plugin import WebSocketsConfig
from tether.websockets.session import WebSocketSession

if TYPE_CHECKING:
    from tether.client import HttpClient
    from tether.engine.base import HttpClientEngine
    from tether.response import HttpResponse

__all__ = ["WebSocketOverHttp2Capability", "WebSocketSessionContext", "connect", "open_session"]

#: WebSockets over HTTP/2 (RFC 8441, extended CONNECT). No bundled engine declares it yet: a session
#: that requires HTTP/2 fails with `UnsupportedCapabilityError` before any I/O.
WebSocketOverHttp2Capability: HttpClientEngineCapability[None] = HttpClientEngineCapability("WebSocketOverHttp2")

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_SCHEMES = {"ws": "http", "wss": "https"}
#: The per-call keywords `client.websocket(url, ...)` takes besides the request keywords.
SESSION_OPTIONS = (
    "ping_interval",
    "ping_timeout",
    "max_frame_size",
    "max_message_size",
    "compression",
    "client_no_context_takeover",
    "server_no_context_takeover",
    "client_max_window_bits",
    "server_max_window_bits",
)


def accept_token(key: str) -> str:
    """`Sec-WebSocket-Accept` for `key` (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


class _Upgrader:
    """Called by the innermost sender in place of `engine.execute`; keeps the stream of the last send."""

    def __init__(self) -> None:
        self.stream: UpgradedStream | None = None

    async def __call__(self, engine: HttpClientEngine, request: HttpRequestData) -> HttpResponseData:
        if Http2Capability in request.capabilities and WebSocketOverHttp2Capability not in engine.capabilities:
            raise UnsupportedCapabilityError(engine.name, WebSocketOverHttp2Capability, f"needed by {request.url}")
        self.discard()  # a re-send (auth refresh, redirect) replaces an earlier connection
        upgrade = await upgrade_with_defaults(engine, request, "websocket")
        self.stream = upgrade.stream
        return upgrade.response

    def discard(self) -> None:
        if self.stream is not None:
            self.stream.abort()
            self.stream = None


async def connect(
    client: HttpClient, url: str | URL, subprotocols: Sequence[str], kwargs: dict[str, Any]
) -> WebSocketSession:
    """`client.websocket_session(url)`: needs the WebSockets plugin, as in Ktor."""
    from tether.websockets.exceptions import WebSocketException
    from tether.websockets.plugin import WebSockets

    instance = client.plugin_or_none(WebSockets)
    if instance is None:
        raise WebSocketException("The WebSockets plugin is not installed: config.install(WebSockets)")
    return await open_session(client, url, instance.plugin_config, subprotocols, kwargs)


async def open_session(
    client: HttpClient,
    url: str | URL,
    defaults: WebSocketsConfig,
    subprotocols: Sequence[str],
    kwargs: dict[str, Any],
) -> WebSocketSession:
    """Connect: run the upgrade through the pipeline, check the 101, start the session."""
    overrides = {name: kwargs.pop(name) for name in SESSION_OPTIONS if name in kwargs}
    settings = replace(defaults, **overrides)
    settings.validate()
    engine = client.engine
    if WebSocketCapability not in engine.capabilities:
        raise UnsupportedCapabilityError(engine.name, WebSocketCapability, f"needed by client.websocket({url!r})")
    if isinstance(url, str):
        scheme, sep, rest = url.partition("://")
        if sep and scheme.lower() in _SCHEMES:
            url = f"{_SCHEMES[scheme.lower()]}://{rest}"
    elif url.scheme in _SCHEMES:
        url = url.with_scheme(_SCHEMES[url.scheme])
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    deflate = settings.deflate_offer()
    offered: list[Extension] = [deflate] if deflate is not None else []
    builder = client.build_request("GET", url, **kwargs)
    headers = builder.headers
    headers["Sec-WebSocket-Key"] = key
    headers["Sec-WebSocket-Version"] = "13"
    if subprotocols:
        headers["Sec-WebSocket-Protocol"] = ", ".join(subprotocols)
    if offered:
        headers["Sec-WebSocket-Extensions"] = ", ".join(map(_offer, offered))
    builder.set_capability(WebSocketCapability, None)
    upgrader = _Upgrader()
    builder.attributes[UPGRADE_CALL] = upgrader.__call__
    try:
        response = await client.execute(builder)
    except BaseException:
        upgrader.discard()
        raise
    try:
        if response.status != 101 or upgrader.stream is None:
            text = await response.body_as_text()
            raise WebSocketHandshakeException(
                response,
                text,
                f"The server refused the WebSocket upgrade of GET {response.request.url}: {response.status}",
            )
        subprotocol, extensions = _check_answer(response, key, subprotocols, offered, settings)
        session = WebSocketSession(upgrader.stream, response, subprotocol, extensions, settings, client.monitor)
        if client.is_closed:  # closed during the handshake: no session outlives its client
            session._abort()
            raise ClientClosedError("This HttpClient is closed")
        client._websocket_sessions.add(session)
        try:
            await client.monitor.emit_new(WebSocketOpened, response.request, response, subprotocol)
        except BaseException:
            session._abort()
            raise
        return session
    except BaseException:
        upgrader.discard()
        raise


def _offer(extension: Extension) -> str:
    parameters = extension.offer()
    return f"{extension.name}; {parameters}" if isinstance(parameters, str) and parameters else extension.name


def _check_answer(
    response: HttpResponse,
    key: str,
    subprotocols: Sequence[str],
    offered: list[Extension],
    settings: WebSocketsConfig,
) -> tuple[str | None, list[Extension]]:
    headers = response.headers
    if "websocket" not in (value.strip().lower() for value in headers.get_split_values("Upgrade") or ()):
        raise WebSocketProtocolException(f"the 101 has no 'Upgrade: websocket' (got {headers.get('Upgrade')!r})")
    if "upgrade" not in (value.strip().lower() for value in headers.get_split_values("Connection") or ()):
        raise WebSocketProtocolException(f"the 101 has no 'Connection: Upgrade' (got {headers.get('Connection')!r})")
    accept = headers.get("Sec-WebSocket-Accept")
    if accept != accept_token(key):
        raise WebSocketProtocolException(f"bad Sec-WebSocket-Accept {accept!r} (expected {accept_token(key)!r})")
    subprotocol = headers.get("Sec-WebSocket-Protocol")
    if subprotocol is not None and subprotocol not in subprotocols:
        raise WebSocketProtocolException(
            f"the server chose subprotocol {subprotocol!r}, not offered {list(subprotocols)}"
        )
    accepted: list[Extension] = []
    for value in headers.get_split_values("Sec-WebSocket-Extensions") or ():
        name = value.split(";", 1)[0].strip()
        extension = next((candidate for candidate in offered if candidate.name == name), None)
        if extension is None or extension in accepted:
            raise WebSocketProtocolException(f"the server accepted extension {name!r}, which was not offered")
        try:
            extension.finalize(value)
        except Exception as exc:
            raise WebSocketProtocolException(f"bad extension parameters {value!r}: {exc}") from exc
        if isinstance(extension, PerMessageDeflate):
            _check_deflate(extension, value, settings)
        accepted.append(extension)
    return subprotocol, accepted


def _check_deflate(extension: PerMessageDeflate, answer: str, settings: WebSocketsConfig) -> None:
    """Hold the server to what the client asked for (RFC 7692 7.1.1.1, 7.1.2.1); an answer that
    ignores it would make the client's decompressor fail later, on data."""
    answered = {part.split("=", 1)[0].strip().lower() for part in answer.split(";")[1:]}
    if settings.server_no_context_takeover and "server_no_context_takeover" not in answered:
        raise WebSocketProtocolException(f"the server did not confirm server_no_context_takeover: {answer!r}")
    if settings.server_max_window_bits is not None:
        window = extension.server_max_window_bits if "server_max_window_bits" in answered else 15
        if window > settings.server_max_window_bits:
            raise WebSocketProtocolException(
                f"the server's window ({window} bits) is over server_max_window_bits="
                f"{settings.server_max_window_bits}: {answer!r}"
            )
    if settings.client_max_window_bits is not None:
        # The server may allow a larger window than offered; the client keeps to its own.
        extension.client_max_window_bits = min(extension.client_max_window_bits, settings.client_max_window_bits)


class WebSocketSessionContext:
    """`async with client.websocket(url) as ws:` — connects on entry, closes on exit."""

    def __init__(self, opening: Any) -> None:
        self._opening = opening
        self._session: WebSocketSession | None = None

    async def __aenter__(self) -> WebSocketSession:
        self._session = await self._opening
        return self._session

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.__aexit__(exc_type, exc, tb)

    def __del__(self) -> None:
        if self._session is None:
            with contextlib.suppress(Exception):
                self._opening.close()  # never entered: no "coroutine was never awaited" warning
